#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""Two nodes (two dataplanes, two control planes) share the pool topic through an MQTT
shared subscription: session.create requests sent to mfwd/pool/cmd are spread by the broker
over both nodes; each reply says which node took the session, and each session is on
exactly that node.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cpharness import Broker, Checks, Client, ControlPlane, pcap_dataplane, wait_status  # noqa

T = Checks("cp_pool")
COUNT = 12


def spec(i):
    return {"id": "p%d" % i, "kind": "udp",
            "ingress": {"port": 0, "addr": "10.99.1.2", "udp_port": 5000 + i},
            "outputs": [{"port": 1, "addr": "10.99.2.1", "udp_port": 6000 + i}]}


def main():
    d1 = pcap_dataplane("pool1", lcores="0@0,1@1")
    d2 = pcap_dataplane("pool2", lcores="0@0,1@1")
    with d1, d2, Broker() as broker:
        c1 = ControlPlane(broker, "n1", d1.instance)
        c2 = ControlPlane(broker, "n2", d2.instance)
        with c1, c2:
            cl = Client(broker)
            for n in ("n1", "n2"):
                T.check(wait_status(cl, n, lambda s: s["online"] and s["dataplane"]["up"])
                        is not None, "%s online" % n)
            took = {}
            for i in range(COUNT):
                r = cl.request("mfwd/pool/cmd", "session.create", spec(i))
                T.check(r is not None and r["ok"], "pool create p%d: %s" % (i, r))
                if r and r["ok"]:
                    took["p%d" % i] = r["result"]["node"]
            T.check(set(took.values()) == {"n1", "n2"}, "both nodes took sessions: %s" % took)
            for n in ("n1", "n2"):
                r = cl.request("mfwd/%s/cmd" % n, "session.list")
                mine = sorted(k for k, v in took.items() if v == n)
                T.check(r is not None and sorted(r["result"]["sessions"]) == mine,
                        "%s holds exactly the sessions it said it took" % n)
            cl.close()
    T.eq((d1.rc, d2.rc), (0, 0), "dataplanes exited cleanly")
    T.done()


if __name__ == "__main__":
    main()
