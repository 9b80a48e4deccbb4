#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""The counters every packet moves, kept by the worker beside each session's state and copied
into the stats area by the control lcore (dataplane/dp_sess_ctr.c): every session's figures
reach the area, each once, and stay across an update.

3,000 RTP sessions (more than the copy's slice of 1,024, so a pass spans calls), each with
one output. A pcap sends each session sequence numbers 1, 2 and 4 (3 is lost) with a
payload of its own length. Each session's and output's rx/tx packets and bytes, its RFC 3550
expected and lost, and its last packet's time must then read exactly in mfwd-stat; and
session.get must show the worker's own counts. An update that adds an output keeps the
counts; the new output starts at zero.
"""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Checks, Dataplane  # noqa: E402
from scapy.all import IP, UDP, Ether, Raw, wrpcap  # noqa: E402

T = Checks("pcap_counters")
SRC_MAC, DP_MAC = "02:00:00:00:01:01", "02:00:00:00:00:aa"
N = 3000
SEQS = (1, 2, 4)


def payload_len(k):
    return 12 + 20 + k % 100


def spec(k, extra=False):
    outs = [{"id": "a", "port": 1, "addr": "10.99.2.1", "udp_port": 30000 + k}]
    if extra:
        outs.append({"id": "b", "port": 1, "addr": "10.99.2.1", "udp_port": 40000 + k})
    return {"id": "s%d" % k, "kind": "rtp",
            "ingress": {"port": 0, "addr": "10.99.1.2", "udp_port": 10000 + 2 * k},
            "outputs": outs}


def build_inputs(d):
    raw = []
    for seq in SEQS:
        for k in range(N):
            body = (bytes([0x80, 96]) + seq.to_bytes(2, "big") + (seq * 3000).to_bytes(4, "big")
                    + (0x1000 + k).to_bytes(4, "big") + bytes(payload_len(k) - 12))
            raw.append(Ether(src=SRC_MAC, dst=DP_MAC) / IP(src="10.99.1.1", dst="10.99.1.2") /
                       UDP(sport=4000, dport=10000 + 2 * k) / Raw(body))
    wrpcap(os.path.join(d, "in0.pcap"), raw)
    wrpcap(os.path.join(d, "in1.pcap"), [])
    return len(raw)


def wrong(st, ks=range(N)):
    """Sessions whose copied figures are not exactly what the pcap sent them."""
    bad = []
    for k in ks:
        s = st["sessions"].get("s%d" % k, {})
        want = {"rx_pkts": 3, "rx_bytes": 3 * payload_len(k), "tx_pkts": 3,
                "tx_bytes": 3 * payload_len(k), "rtp_expected": 4, "rtp_lost": 1}
        got = {f: s.get(f) for f in want}
        out = s.get("outputs", {}).get("a", {})
        if got != want or out.get("tx_pkts") != 3 or out.get("tx_bytes") != 3 * payload_len(k) \
                or not s.get("last_rx_ms"):
            bad.append((k, got, out.get("tx_pkts"), s.get("last_rx_ms")))
    return bad


def main():
    dpl = Dataplane("pcapctr", "", sessions=[spec(k) for k in range(N)], max_sessions=N + 16)
    n0 = build_inputs(dpl.dir)
    with open(dpl.ports_file, "w") as f:
        f.write("""
[port 0]
vdev = net_pcap_ctr0,rx_pcap={d}/in0.pcap,tx_pcap={d}/out0.pcap
ipv4 = 10.99.1.2/24
neighbour = 10.99.1.1 02:00:00:00:01:01
[port 1]
vdev = net_pcap_ctr1,rx_pcap={d}/in1.pcap,tx_pcap={d}/out1.pcap
ipv4 = 10.99.2.2/24
neighbour = 10.99.2.1 02:00:00:00:02:01
""".format(d=dpl.dir))
    with dpl:
        st = dpl.wait_for(lambda s: s["node"]["tx_pkts"] >= n0, timeout=60,
                          what="every packet forwarded (node counters, written at once)")
        # The copy runs every millisecond; a pass of 3,000 sessions takes three.
        try:
            st = dpl.wait_for(lambda s: not wrong(s), timeout=10, what="the copy")
        except RuntimeError:
            st = dpl.stats()
        bad = wrong(st)
        T.eq(len(bad), 0, "all %d sessions' and outputs' counters copied exactly (first "
             "wrong: %s)" % (N, bad[:3]))
        rc, out = dpl.ctl("get", "s7")
        live = out[0]["session"]["live"] if rc == 0 else {}
        T.eq((live.get("rx_pkts"), live.get("rx_bytes"), live.get("tx_pkts")),
             (3, 3 * payload_len(7), 3), "session.get: the worker's own counts")
        rc, out = dpl.ctl("replace", "-", stdin=json.dumps(spec(7, extra=True)))
        T.check(rc == 0 and out[0].get("ok"), "s7 updated with a second output: %s" % out)
        dpl.ctl("info")
        st = dpl.stats()
        s7 = st["sessions"]["s7"]
        T.eq((s7["rx_pkts"], s7["tx_pkts"], s7["rtp_expected"], s7["rtp_lost"],
              s7["outputs"]["a"]["tx_pkts"], s7["outputs"]["b"]["tx_pkts"]),
             (3, 3, 4, 1, 3, 0), "after the update: the counts kept, the new output at zero")
        # Deletes move the list's last sessions into the places freed: the rest still read.
        gone = [k for k in range(0, N, 2) if k != 7]
        rc, out = dpl.ctl("del", *["s%d" % k for k in gone])
        T.check(rc == 0 and len(out) == len(gone) and all(o["ok"] for o in out),
                "%d sessions deleted" % len(gone))
        dpl.ctl("info")
        st2 = dpl.stats()
        left = [k for k in range(N) if k not in set(gone)]
        T.eq((sorted(st2["sessions"]) == sorted("s%d" % k for k in left),
              wrong(st2, left)[:3]), (True, []),
             "after the deletes: the others' counters as they were")
        T.eq((sum(st["sessions"]["s%d" % k]["rx_pkts"] for k in range(N)),
              sum(st["sessions"]["s%d" % k]["tx_pkts"] for k in range(N))), (n0, n0),
             "the sessions' rx_pkts and tx_pkts sum to what came in (none counted twice)")
    T.eq(dpl.rc, 0, "dataplane exited cleanly")
    if T.failed:
        print(dpl.tail())
    T.done()


if __name__ == "__main__":
    main()
