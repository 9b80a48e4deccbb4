#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""Session churn under traffic: creating, updating and deleting sessions must not drop or
misroute one packet of any other session, and must leak nothing.

A host in one namespace sends numbered packets to 8 stable sessions (10.99.1.2:5000 +
2i); mfwd forwards each to a host in the other namespace (10.99.2.1:6000 + i), which
checks every flow for loss, duplicates and reordering. Meanwhile the test creates and
deletes thousands of other sessions in rounds, and replaces every stable session again and
again (an output added, then removed) - copy-and-swap under traffic. Run against an ASan
build (MFWD_BUILD=build-asan) LeakSanitizer checks the dataplane's allocations at exit.
Entries beyond a small --session-hugepages-mb come from the heap: both kinds churn.
"""
import json
import os
import re
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Checks, Dataplane  # noqa: E402
from netns import Topology  # noqa: E402

T = Checks("churn")
STABLE = 8
ROUNDS = int(os.environ.get("MFWD_CHURN_ROUNDS", "5"))
PER_ROUND = int(os.environ.get("MFWD_CHURN_SESSIONS", "1000"))
FLOWS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "udpflows.py")


def stable_spec(i, extra_output=False):
    outs = [{"id": "a", "port": 1, "addr": "10.99.2.1", "udp_port": 6000 + i}]
    if extra_output:
        outs.append({"id": "b", "port": 1, "addr": "10.99.2.1", "udp_port": 7000 + i})
    return {"id": "s%d" % i, "kind": "rtp-mux",
            "ingress": {"port": 0, "addr": "10.99.1.2", "udp_port": 5000 + 2 * i,
                        "source": "latch"},
            "outputs": outs}


def churn_specs(r):
    return [{"id": "c%d-%d" % (r, k), "kind": "rtp",
             "ingress": {"port": 0, "addr": "10.99.1.2", "udp_port": 20000 + 2 * k},
             "outputs": [{"port": 1, "addr": "10.99.2.1", "udp_port": 30000 + k},
                         {"port": 1, "addr": "10.99.2.9", "udp_port": 30000 + k}]}
            for k in range(PER_ROUND)]


def churn(dpl):
    ops = 0
    for r in range(ROUNDS):
        specs = churn_specs(r)
        rc, out = dpl.ctl("add", "-", stdin=json.dumps(specs))
        T.check(rc == 0 and len(out) == PER_ROUND and all(o["ok"] for o in out),
                "round %d: %d sessions created" % (r, PER_ROUND))
        for i in range(STABLE):
            rc, out = dpl.ctl("replace", "-", stdin=json.dumps(stable_spec(i, r % 2 == 0)))
            T.check(rc == 0, "round %d: s%d replaced: %s" % (r, i, out))
        rc, out = dpl.ctl("del", *[s["id"] for s in specs])
        T.check(rc == 0 and len(out) == PER_ROUND, "round %d: sessions deleted" % r)
        ops += 2 * PER_ROUND + STABLE
    return ops


def main():
    work = tempfile.mkdtemp(prefix="mfwd-churn-")
    stop = os.path.join(work, "stop")
    with Topology("ch", ("10.99.2.1",)) as topo:
        # 1 MB of hugepages holds a few hundred of the churned sessions' entries: the rest
        # come from the heap, so creates and frees cross between the two in every round
        # (an ASan build sees any entry freed by the wrong allocator).
        dpl = Dataplane("churn", topo.ports_conf(),
                        sessions=[stable_spec(i) for i in range(STABLE)],
                        max_sessions=PER_ROUND + 64,
                        extra_args=("--session-hugepages-mb", "1"))
        with dpl:
            T.eq(topo.reach(topo.src, "10.99.1.2"), [], "the sender's host reaches mfwd")
            rx = topo.popen(topo.dst, "/usr/bin/python3", FLOWS, "recv", "10.99.2.1", "6000",
                            str(STABLE), "2", stdout=subprocess.PIPE)
            rx.stdout.readline()
            tx = topo.popen(topo.src, "/usr/bin/python3", FLOWS, "send", "10.99.1.2", "5000",
                            str(STABLE), "4000", stop, stdout=subprocess.PIPE)
            time.sleep(1)
            t0 = time.time()
            ops = churn(dpl)
            dt = time.time() - t0
            time.sleep(0.5)
            open(stop, "w").close()
            sent = json.loads(tx.communicate(timeout=30)[0])["sent"]
            got = json.loads(rx.communicate(timeout=30)[0])
            try:
                st = dpl.wait_for(lambda s: [s["sessions"].get("s%d" % i, {}).get("rx_pkts")
                                             for i in range(STABLE)] == sent, timeout=10,
                                  what="the stable sessions' counts")
            except RuntimeError:
                st = dpl.stats()
        T.eq(dpl.rc, 0, "dataplane exited cleanly")
        with open(dpl.log) as f:
            m = re.search(r"sessions: (\d+) bytes of hugepages in use \(--session-hugepages-mb\): "
                          r"entries and state beyond it come from the heap", f.read())
        T.check(m is not None and 0 < int(m.group(1)) <= 1 << 20,
                "the churned sessions filled --session-hugepages-mb 1 (%s bytes), then went "
                "onto the heap" % (m.group(1) if m else None))
    print("churn: %d creates, deletes and replaces in %.1f s (%.0f per second) while %d "
          "packets flowed" % (ops, dt, ops / dt, sum(sent)))
    T.check(sum(sent) > 4000, "traffic flowed during the churn")
    # Where a missing burst went: mfwd's ingress count and the ports' misses (RX ring full).
    T.eq(got["received"], sent, "every packet of every stable session arrived (mfwd took in "
         "%s, ports %s)" % ([st["sessions"].get("s%d" % i, {}).get("rx_pkts")
                             for i in range(STABLE)],
                            {p: {k: v for k, v in f.items() if k in ("imissed", "rx_nombuf",
                                                                     "ierrors", "oerrors")}
                             for p, f in st["ports"].items()}))
    # The ingress counts the control lcore copies into the stats area went on through every
    # replace and past the churned sessions' deletes, which move the stable ones' places in
    # its walk (dataplane/dp_sess_ctr.c).
    T.eq([st["sessions"].get("s%d" % i, {}).get("rx_pkts") for i in range(STABLE)], sent,
         "each stable session counted every packet sent to it")
    T.eq(got["dup"], [0] * STABLE, "no duplicates")
    T.eq(got["reorder"], [0] * STABLE, "no reordering")
    drops = {k: v for k, v in st["node"].items() if k.startswith("drop_") and v}
    T.eq(drops, {}, "no drop of any kind in the dataplane")
    T.eq(sorted(st["sessions"]), ["s%d" % i for i in range(STABLE)], "only stable sessions left")
    if T.failed:
        print(dpl.tail())
    T.done()


if __name__ == "__main__":
    main()
