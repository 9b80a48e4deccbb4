#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""The punt budget (--punt-pps): a burst of 3,000 ICE checks at an ICE-lite port, read from a
pcap as fast as the worker takes them, beside a numbered flow of 200 RTP packets to another
session.

With the default budget (2,000 a second, bursts of 256) the worker passes the first 256 and
then about 2 a millisecond while the file is read: the rest drops as drop_stun_rate. With --punt-pps 40000 (bursts of 5,000) none drops for
the budget. Every check is counted, punted or dropped, and the numbered flow arrives whole
and in order both times.
"""
import os
import sys
from argparse import Namespace

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Checks, Dataplane  # noqa: E402
from scapy.all import IP, UDP, Ether, Raw, rdpcap, wrpcap  # noqa: E402
from stunprobe import request  # noqa: E402

T = Checks("pcap_punt")
SRC_MAC, DP_MAC = "02:00:00:00:01:01", "02:00:00:00:00:aa"
ICE = {"ufrag": "mfpt", "pwd": "puntpassword0123456789", "remote_ufrag": "peer"}
CHECKS = 3000


def build_inputs(d):
    a = Namespace(user="mfpt:peer", pwd=ICE["pwd"], role="controlling", use_candidate=False,
                  no_integrity=False, bad_fingerprint=False)
    pkts = []
    for i in range(CHECKS):
        pkts.append(Ether(src=SRC_MAC, dst=DP_MAC) / IP(src="10.99.1.1", dst="10.99.1.2") /
                    UDP(sport=10000 + i % 20000, dport=5004) /
                    Raw(request(a, i.to_bytes(12, "big"))))
        if i % 15 == 0:
            seq = i // 15
            pkts.append(Ether(src=SRC_MAC, dst=DP_MAC) / IP(src="10.99.1.1", dst="10.99.1.2") /
                        UDP(sport=4000, dport=5008) /
                        Raw(bytes([0x80, 96]) + seq.to_bytes(2, "big") + bytes(8) + bytes(40)))
    wrpcap(os.path.join(d, "in0.pcap"), pkts)
    wrpcap(os.path.join(d, "in1.pcap"), [])
    return len(pkts)


SESSIONS = [
    {"id": "ice", "kind": "rtp-mux", "ingress": {"port": 0, "addr": "10.99.1.2",
                                                  "udp_port": 5004, "ice": ICE}},
    {"id": "num", "kind": "rtp", "ingress": {"port": 0, "addr": "10.99.1.2", "udp_port": 5008},
     "outputs": [{"port": 1, "addr": "10.99.2.1", "udp_port": 6008}]},
]


def run(name, extra):
    dpl = Dataplane("pcappunt", "", sessions=SESSIONS, extra_args=extra)
    n0 = build_inputs(dpl.dir)
    with open(dpl.ports_file, "w") as f:
        f.write("""
[port 0]
vdev = net_pcap_{n}0,rx_pcap={d}/in0.pcap,tx_pcap={d}/out0.pcap
ipv4 = 10.99.1.2/24
neighbour = 10.99.1.1 02:00:00:00:01:01
[port 1]
vdev = net_pcap_{n}1,rx_pcap={d}/in1.pcap,tx_pcap={d}/out1.pcap
ipv4 = 10.99.2.2/24
neighbour = 10.99.2.1 02:00:00:00:02:01
""".format(d=dpl.dir, n=name))
    with dpl:
        st = dpl.wait_for(lambda s: s["ports"]["0"]["rx_pkts"] == n0 and
                          s["sessions"]["num"]["tx_pkts"] >= 200 and
                          s["node"]["stun_rx"] + s["node"]["drop_stun_rate"] +
                          s["node"]["punt_full"] >= CHECKS, timeout=60,
                          what="input read, every check punted or dropped")
    T.eq(dpl.rc, 0, "%s: dataplane exited cleanly" % name)
    out = rdpcap(dpl.path("out1.pcap"))
    num = [int.from_bytes(bytes(p[UDP].payload)[2:4], "big") for p in out
           if UDP in p and p[UDP].dport == 6008]
    T.eq(num, list(range(200)), "%s: the numbered flow beside the checks, whole and in order"
         % name)
    T.eq(st["sessions"]["ice"]["stun_rx"], CHECKS, "%s: every check classified" % name)
    return st["node"]


def main():
    n = run("default", ())
    # Refills at 2 a millisecond while the file is read: 200 more would take 100 ms.
    T.check(256 <= n["stun_rx"] <= 256 + 200 and
            n["stun_rx"] + n["drop_stun_rate"] + n["punt_full"] == CHECKS,
            "default budget: the burst's first 256 pass, the rest drop "
            "(stun_rx %d, drop_stun_rate %d)" % (n["stun_rx"], n["drop_stun_rate"]))
    n = run("raised", ("--punt-pps", "40000"))
    T.eq(n["drop_stun_rate"], 0, "--punt-pps 40000: nothing dropped for the budget")
    T.eq(n["stun_rx"] + n["punt_full"], CHECKS,
         "--punt-pps 40000: every check passed on (stun_rx %d, punt_full %d)" %
         (n["stun_rx"], n["punt_full"]))
    T.done()


if __name__ == "__main__":
    main()
