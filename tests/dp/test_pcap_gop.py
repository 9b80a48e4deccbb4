#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""GOP caches and the mbuf pool: what every cache holds is bounded by its own limits only,
so a cache lets go when the pool of the packet it would hold has under an eighth of its
mbufs free (dataplane/dp_gop.c); with the pool emptied, the ports would have nothing to
receive into and no packet would come that makes a cache let go.

A dataplane with 2,047 mbufs; session "g" (H.264, a GOP cache whose own limits are far
off: 3,000 frames, 64 MiB, 60 s) gets one key frame and then 4,000 packets of 1 KB (400
frames of 10), session "o" (no cache) one packet after every fourth of g's. Then:

- no packet is lost for want of an mbuf (the port's rx_nombuf), and o forwards all of its;
- g's cache was dropped (gop_dropped), for the pool (gop_pool_low), and g forwarded all.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Checks, Dataplane  # noqa: E402
from scapy.all import IP, UDP, Ether, Raw, wrpcap  # noqa: E402

T = Checks("pcap_gop")
SRC_MAC, DP_MAC = "02:00:00:00:01:01", "02:00:00:00:00:aa"
N_G = 4000
PER_FRAME = 10
MBUFS = 2047


def rtp(seq, ts, ssrc, nal, size=1000):
    return (bytes([0x80, 96]) + seq.to_bytes(2, "big") + ts.to_bytes(4, "big") +
            ssrc.to_bytes(4, "big") + bytes([nal]) + bytes(size))


def udp(body, dport):
    return (Ether(src=SRC_MAC, dst=DP_MAC) / IP(src="10.99.1.1", dst="10.99.1.2") /
            UDP(sport=4000, dport=dport) / Raw(body))


def build_inputs(d):
    pkts, n_o = [udp(rtp(0, 0, 0x6060, 0x65), 5000)], 0     # IDR: a key frame starts
    for i in range(1, N_G + 1):
        pkts.append(udp(rtp(i, (i // PER_FRAME) * 3000, 0x6060, 0x41), 5000))
        if i % 4 == 0:
            pkts.append(udp(rtp(n_o, n_o * 3000, 0x7070, 0x41, 100), 5002))
            n_o += 1
    wrpcap(os.path.join(d, "in0.pcap"), pkts)
    wrpcap(os.path.join(d, "in1.pcap"), [])
    return len(pkts), n_o


def sessions():
    return [{"id": "g", "kind": "rtp",
             "ingress": {"port": 0, "addr": "10.99.1.2", "udp_port": 5000,
                         "codecs": {"96": "h264"},
                         "gop_cache": {"max_frames": 3000, "max_bytes": 64 << 20,
                                       "max_ms": 60000}},
             "outputs": [{"id": "a", "port": 1, "addr": "10.99.2.1", "udp_port": 6000}]},
            {"id": "o", "kind": "rtp",
             "ingress": {"port": 0, "addr": "10.99.1.2", "udp_port": 5002},
             "outputs": [{"id": "a", "port": 1, "addr": "10.99.2.1", "udp_port": 6002}]}]


def main():
    dpl = Dataplane("pcapgop", "", sessions=sessions(), mbufs=MBUFS)
    n0, n_o = build_inputs(dpl.dir)
    with open(dpl.ports_file, "w") as f:
        f.write("""
[port 0]
vdev = net_pcap_gop0,rx_pcap={d}/in0.pcap,tx_pcap={d}/out0.pcap
ipv4 = 10.99.1.2/24
neighbour = 10.99.1.1 02:00:00:00:01:01
[port 1]
vdev = net_pcap_gop1,rx_pcap={d}/in1.pcap,tx_pcap={d}/out1.pcap
ipv4 = 10.99.2.2/24
neighbour = 10.99.2.1 02:00:00:00:02:01
""".format(d=dpl.dir))
    with dpl:
        # Every packet was read or lost for want of an mbuf; then every one read is out.
        st = dpl.wait_for(lambda s: s["ports"]["0"]["rx_pkts"] + s["ports"]["0"]["rx_nombuf"]
                          >= n0, timeout=60, what="the whole pcap read")
        try:
            st = dpl.wait_for(lambda s: s["node"]["tx_pkts"] >= s["ports"]["0"]["rx_pkts"],
                              timeout=30, what="every packet read forwarded")
        except RuntimeError:
            st = dpl.stats()     # some were not (no mbuf for a copy): the checks say which
        port = st["ports"]["0"]
        T.eq((port["rx_pkts"], port["rx_nombuf"]), (n0, 0),
             "every packet received, none lost for want of an mbuf")
        g, o = st["sessions"]["g"], st["sessions"]["o"]
        T.eq((o["rx_pkts"], o["tx_pkts"]), (n_o, n_o), "o forwarded all of its packets")
        T.eq((g["rx_pkts"], g["tx_pkts"]), (N_G + 1, N_G + 1), "g forwarded all of its")
        T.check(g["gop_dropped"] >= 1 and st["node"]["gop_pool_low"] >= 1,
                "g's cache let go with the pool low (gop_dropped %d, gop_pool_low %d)" %
                (g["gop_dropped"], st["node"]["gop_pool_low"]))
        T.check(g["gop_pkts"] < MBUFS - MBUFS // 8,
                "g's cache holds less than the pool less an eighth (%d)" % g["gop_pkts"])
        if T.failed:
            print(dpl.tail())
    T.eq(dpl.rc, 0, "dataplane exited cleanly")
    T.done()


if __name__ == "__main__":
    main()
