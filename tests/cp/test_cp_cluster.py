#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""mfwd-cluster reads the cluster's registry from the broker.

Two nodes (pcap dataplanes, control planes "n1" and "n2") on one mosquitto; a retained
status of garbage on mfwd/bogus/status, and one on mfwd/liar/status that names another
node:
- --json lists n1 and n2 online with their dataplanes, capacity and load, and the two
  impostors as invalid with the reason, without crashing or hiding anything;
- --best picks the node with fewer sessions (both idle), and after that node's control
  plane stops (its status goes offline), the other; with both gone, none (exit 1);
- the table names every node and its state.
"""
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cpharness import Broker, Checks, Client, ControlPlane, pcap_dataplane, wait_status  # noqa
from harness import BUILD  # noqa: E402

T = Checks("cp_cluster")
TOOL = os.path.join(BUILD, "tools", "mfwd-cluster")


def cluster(broker, *args):
    r = subprocess.run([TOOL, "-b", "tcp://127.0.0.1:%d" % broker.port, "--wait", "1500"]
                       + list(args), capture_output=True, text=True, timeout=30)
    return r.returncode, r.stdout, r.stderr


def nodes(broker):
    rc, out, err = cluster(broker, "--json")
    T.check(rc == 0, "mfwd-cluster --json: %s" % err)
    return {n["node"]: n for n in json.loads(out or "[]")}


def create(c, node, sid, port):
    r = c.request("mfwd/%s/cmd" % node, "session.create", {
        "id": sid, "kind": "udp", "ingress": {"port": 0, "addr": "10.99.1.2", "udp_port": port},
        "outputs": [{"port": 1, "addr": "10.99.2.1", "udp_port": port + 1000}]})
    T.check(r is not None and r.get("ok"), "create %s on %s: %s" % (sid, node, r))


def main():
    d1, d2 = pcap_dataplane("cpcl1"), pcap_dataplane("cpcl2")
    with d1, d2, Broker() as broker:
        cp1 = ControlPlane(broker, "n1", d1.instance, limits={"max_sessions": 10})
        cp2 = ControlPlane(broker, "n2", d2.instance, limits={"max_sessions": 10})
        with cp1, cp2:
            c = Client(broker)
            for n in ("n1", "n2"):
                T.check(wait_status(c, n, lambda s: s["online"] and s["dataplane"]["up"])
                        is not None, "%s online" % n)
            c.c.publish("mfwd/bogus/status", b"\x00garbage{", qos=1, retain=True)
            c.c.publish("mfwd/liar/status", json.dumps(
                {"online": True, "node": "n1", "dataplane": {"up": True}, "sessions": 0,
                 "time_ms": 1, "capacity": {"max_sessions": 1000}}), qos=1, retain=True)
            create(c, "n1", "a", 5000)
            create(c, "n1", "b", 5002)
            create(c, "n2", "c", 5004)
            for n, k in (("n1", 2), ("n2", 1)):
                T.check(wait_status(c, n, lambda s: s["sessions"] == k) is not None,
                        "%s status with %d sessions" % (n, k))
            ns = nodes(broker)
            T.eq(sorted(ns), ["bogus", "liar", "n1", "n2"], "every node listed")
            for n, k in (("n1", 2), ("n2", 1)):
                x = ns.get(n, {})
                T.check(x.get("state") == "online" and x.get("dataplane_up") and
                        x.get("sessions") == k and x.get("max_sessions") == 10 and
                        x.get("sessions_free") == 10 - k and x.get("ports") == 2 and
                        "worker_busy_max" in x and "rx_pps" in x, "%s as published: %s" % (n, x))
            T.check(ns.get("bogus", {}).get("state") == "invalid" and
                    "not a JSON object" in ns["bogus"].get("why", ""),
                    "garbage: invalid, with the reason: %s" % ns.get("bogus"))
            T.check(ns.get("liar", {}).get("state") == "invalid" and
                    'node: "n1"' in ns["liar"].get("why", ""),
                    "a status naming another node: invalid: %s" % ns.get("liar"))
            rc, out, _ = cluster(broker, "--best")
            T.check(rc == 0 and out.strip() == "n2",
                    "best: the node with fewer sessions (%s)" % out)
            rc, out, _ = cluster(broker)
            T.check(rc == 0 and all(n in out for n in ("n1", "n2", "bogus", "invalid")),
                    "the table: %s" % out)
            cp2.stop()
            T.check(wait_status(c, "n2", lambda s: not s["online"], timeout=10) is not None,
                    "n2 offline")
            ns = nodes(broker)
            T.eq(ns.get("n2", {}).get("state"), "offline", "n2 shown offline")
            rc, out, _ = cluster(broker, "--best")
            T.check(rc == 0 and out.strip() == "n1", "best once n2 is gone: %s" % out)
            cp1.stop()
            wait_status(c, "n1", lambda s: not s["online"], timeout=10)
            rc, out, err = cluster(broker, "--best")
            T.check(rc == 1 and out == "", "no node can take a session: exit 1 (%s)" % err)
            c.close()
    T.done()


if __name__ == "__main__":
    main()
