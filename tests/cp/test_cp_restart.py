#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""Restarts while media flows, with media counted end to end (numbered RTP between two
network namespaces through mfwd on af_packet):

(a) the control plane is killed with SIGKILL and started again: not one packet is lost;
    its will marks the node offline; it re-reads the sessions from the dataplane and is
    online again with all of them;
(c) the broker is restarted: the control plane reconnects, resubscribes and publishes its
    status again, and answers commands; not one packet is lost;
(b) the dataplane is restarted: the control plane notices, publishes dataplane.down and
    dataplane.up, replays its journal, and media flows again through every session.
"""
import json
import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "dp"))
from cpharness import Broker, Checks, Client, ControlPlane, Dataplane, wait_status  # noqa
from netns import Topology  # noqa: E402

T = Checks("cp_restart")
CMD = "mfwd/n1/cmd"
FLOWS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "dp", "udpflows.py")
N = 4


def spec(i):
    return {"id": "f%d" % i, "kind": "rtp-mux",
            "ingress": {"port": 0, "addr": "10.99.1.2", "udp_port": 5000 + 2 * i,
                        "source": "latch", "clock_rates": {"96": 90000}},
            "outputs": [{"port": 1, "addr": "10.99.2.1", "udp_port": 6000 + i}]}


class Traffic:
    def __init__(self, topo, pps=2000):
        self.stop_file = tempfile.mktemp(prefix="mfwd-stop-")
        self.rx = topo.popen(topo.dst, "/usr/bin/python3", FLOWS, "recv", "10.99.2.1", "6000",
                             str(N), "2", stdout=subprocess.PIPE)
        self.rx.stdout.readline()
        self.tx = topo.popen(topo.src, "/usr/bin/python3", FLOWS, "send", "10.99.1.2", "5000",
                             str(N), str(pps), self.stop_file, stdout=subprocess.PIPE)

    def finish(self):
        open(self.stop_file, "w").close()
        sent = json.loads(self.tx.communicate(timeout=30)[0])["sent"]
        got = json.loads(self.rx.communicate(timeout=30)[0])
        os.unlink(self.stop_file)
        return sent, got


def restart_cp(cp, c):
    cp.kill()
    st = wait_status(c, "n1", lambda s: not s["online"], timeout=60)
    T.check(st is not None and st.get("reason") == "connection lost",
            "(a) the will marks the node offline: %s" % st)
    cp.start()
    st = wait_status(c, "n1", lambda s: s["online"] and s["sessions"] == N)
    T.check(st is not None, "(a) online again with its %d sessions, re-read" % N)
    r = c.request(CMD, "session.list")
    T.check(r and r["ok"] and sorted(r["result"]["sessions"]) == ["f%d" % i for i in range(N)],
            "(a) sessions listed after the restart")


def restart_broker(broker, cp):
    broker.stop()
    time.sleep(1)
    broker.start()
    c = Client(broker)
    st = wait_status(c, "n1", lambda s: s["online"], timeout=40)
    T.check(st is not None, "(c) status published again after the broker restart")
    r = c.request(CMD, "node.info", timeout=10)
    T.check(r is not None and r["ok"], "(c) commands answered after the reconnection")
    return c


def restart_dataplane(dpl, broker):
    watcher = Client(broker)
    watcher.subscribe("mfwd/n1/event/#")
    dpl.stop()
    T.eq(dpl.rc, 0, "(b) dataplane stopped cleanly")
    dpl.start()
    evs = watcher.collect_until(
        "mfwd/n1/event/dataplane",
        lambda evs: any(e["event"] == "dataplane.up" and e["sessions"] == N for _, e, _ in evs))
    kinds = [e["event"] for _, e, _ in evs]
    T.check("dataplane.down" in kinds and "dataplane.up" in kinds,
            "(b) dataplane.down and dataplane.up published: %s" % kinds)
    up = [e for _, e, _ in evs if e["event"] == "dataplane.up"]
    T.check(up and up[-1]["sessions"] == N, "(b) the journal replayed: %s" % up)
    watcher.close()


def main():
    with Topology("cr", ("10.99.2.1",)) as topo, Broker() as broker:
        dpl = Dataplane("cprestart", topo.ports_conf())
        with dpl:
            cp = ControlPlane(broker, "n1", dpl.instance)
            cp.start()
            try:
                phases(topo, broker, dpl, cp)
            finally:
                cp.stop()
            if T.failed:
                print(cp.tail())
        T.eq(dpl.rc, 0, "dataplane exited cleanly")
    T.done()


def phases(topo, broker, dpl, cp):
    c = Client(broker)
    T.check(wait_status(c, "n1", lambda s: s["online"] and s["dataplane"]["up"]),
            "control plane online")
    for i in range(N):
        r = c.request(CMD, "session.create", spec(i))
        T.check(r and r["ok"], "create f%d: %s" % (i, r))
    tr = Traffic(topo)
    time.sleep(1)
    restart_cp(cp, c)
    c.close()
    time.sleep(0.5)
    c = restart_broker(broker, cp)
    time.sleep(0.5)
    sent, got = tr.finish()
    T.check(sum(sent) > 1000, "traffic flowed: %d packets" % sum(sent))
    T.eq(got["received"], sent, "(a)(c) not one packet lost across both restarts")
    T.eq(got["dup"], [0] * N, "(a)(c) no duplicates")

    restart_dataplane(dpl, broker)
    tr = Traffic(topo)
    time.sleep(2)
    sent, got = tr.finish()
    T.check(sum(sent) > 1000, "(b) traffic after the dataplane restart")
    T.eq(got["received"], sent, "(b) every session forwards again, nothing lost")
    c.close()


if __name__ == "__main__":
    main()
