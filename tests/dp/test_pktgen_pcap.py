#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""The pcap that perf/pktgen/make-pcap writes for Pktgen-DPDK, replayed in a loop as pktgen
replays it (net_pcap's infinite_rx stands in for pktgen): with 65,536 packets per flow each
flow's RTP sequence wraps cleanly from one pass to the next and mfwd counts no loss over
several passes; with 60,000 every pass is a jump of 5,536 that mfwd reports as loss (what
users saw before). make-pcap refuses counts that cannot replay cleanly.
"""
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Checks, Dataplane  # noqa: E402

T = Checks("pktgen_pcap")
MAKE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "perf", "pktgen",
                    "make-pcap")
PASSES = 3


def replay(packets):
    """Replay a 2-flow pcap of @packets per flow until each flow has seen PASSES passes;
    @return the two sessions' figures."""
    sessions = [{"id": "f%d" % i, "kind": "rtp",
                 "ingress": {"port": 0, "addr": "10.99.1.2", "udp_port": 10000 + 2 * i},
                 "outputs": [{"port": 1, "addr": "10.99.2.1", "udp_port": 6000 + 2 * i}]}
                for i in range(2)]
    # infinite_rx holds the whole file in mbufs.
    dpl = Dataplane("pktgenpcap", "", sessions=sessions, mbufs=2 * packets + 16383)
    pcap = dpl.path("in.pcap")
    r = subprocess.run([MAKE, pcap, "--flows", "2", "--packets", str(packets)],
                       capture_output=True)
    T.eq(r.returncode, 0, "make-pcap --packets %d: %s" % (packets, r.stderr.decode()))
    with open(dpl.ports_file, "w") as f:
        f.write("""
[port 0]
vdev = net_pcap_k0,rx_pcap={p},infinite_rx=1
ipv4 = 10.99.1.2/24
[port 1]
vdev = net_null_k1
ipv4 = 10.99.2.2/24
neighbour = 10.99.2.1 02:00:00:00:02:01
""".format(p=pcap))
    want = PASSES * packets + 1
    with dpl:
        st = dpl.wait_for(lambda s: all(s["sessions"][x["id"]]["rtp_expected"] >= want
                                        for x in sessions), timeout=120,
                          what="%d passes" % PASSES)
    T.eq(dpl.rc, 0, "dataplane exited cleanly")
    return [st["sessions"][x["id"]] for x in sessions]


def main():
    for f in replay(65536):
        T.eq((f["rtp_lost"], f["dup"], f["reorder"], f["ssrc_changes"]), (0, 0, 0, 0),
             "65,536 per flow: %d packets over %d passes, no loss, dup, reorder or new SSRC"
             % (f["rtp_expected"], PASSES))
    for f in replay(60000):
        T.check(f["rtp_lost"] >= 5536 * (PASSES - 1),
                "60,000 per flow: each replay jumps 5,536 (%d lost)" % f["rtp_lost"])
    for n in ("65537", "100000", "0"):
        r = subprocess.run([MAKE, "/dev/null", "--packets", n], capture_output=True)
        T.check(r.returncode == 2 and b"multiple" in r.stderr,
                "make-pcap --packets %s refused: %s" % (n, r.stderr.decode()[-200:]))
    T.done()


if __name__ == "__main__":
    main()
