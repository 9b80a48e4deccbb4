#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""Exact pcap test of IP fragments: net_pcap ports read a pcap the test builds and write what
mfwd sends.

Ingress (port 0): RTP datagrams of 3,000 bytes cut into fragments by scapy, over IPv4 in
order, reversed, and two interleaved, and over IPv6; each must be reassembled, forwarded
(session "v4": RTP to 10.99.2.1; session "v6": to fd00:2::1) and, over the port's MTU of
1,500, sent in fragments that scapy reassembles into exactly the input's UDP payload.
Hostile input: an overlapping datagram, a duplicated first fragment, a tiny first fragment,
one ending past 65,535 bytes, a datagram whose middle fragment never comes (dropped at the
timeout, 2 s here: the whole input is read by then, even on a loaded machine, so no entry
frees its place in the table early), and a flood of 1,000 first fragments that never
complete (the table holds 256 datagrams) beside a numbered flow of 200 unfragmented
packets: every one of those arrives, in order, and no mbuf runs out.
Reassembled datagrams larger than what an output rewrites in (9,088 bytes): an RTCP compound
of 9,148 bytes to an output that rewrites its SSRC (session "rtcp"), and RTP with a 68-byte
header carrying 48 TS packets to a PID-filtered output (session "rts"): each dropped and
counted (drop_rewrite_size), nothing written past the room (the ASan suite runs this too);
a small one of each beside them is sent, rewritten.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Checks, Dataplane  # noqa: E402
from scapy.all import (IP, UDP, Ether, IPv6, IPv6ExtHdrFragment, Raw,  # noqa: E402
                       defragment, fragment, fragment6, rdpcap, wrpcap)
from scapy.layers.rtp import RTP  # noqa: E402
from tsbuild import es  # noqa: E402

T = Checks("pcap_frag")
SRC_MAC, DP_MAC = "02:00:00:00:01:01", "02:00:00:00:00:aa"
SRC, DST = "10.99.1.1", "10.99.1.2"
SRC6, DST6 = "fd00:1::1", "fd00:1::2"


def eth():
    return Ether(src=SRC_MAC, dst=DP_MAC)


def rtp(seq, size=3000, dport=5004):
    body = bytes((seq * 7 + i) & 0xff for i in range(size - 12))
    return UDP(sport=4000, dport=dport) / RTP(version=2, payload_type=96, sequence=seq,
                                               timestamp=seq * 3000, sourcesync=0x1234) / Raw(body)


def v4(seq, ident, **kw):
    return IP(src=SRC, dst=DST, id=ident) / rtp(seq, **kw)


def frags4(seq, ident, size=3000):
    return [eth() / f for f in fragment(v4(seq, ident, size=size), fragsize=1480)]


def frags6(seq, ident):
    pkt = IPv6(src=SRC6, dst=DST6) / IPv6ExtHdrFragment(id=ident) / rtp(seq, dport=5006)
    return [eth() / f for f in fragment6(pkt, 1280)]


def raw_frag(ident, off, mf, payload):
    return eth() / IP(src=SRC, dst=DST, id=ident, proto=17, frag=off // 8,
                      flags="MF" if mf else 0) / Raw(payload)


def rtcp_rr(extra=b""):
    """An RR of no report block from SSRC 0x1234, then @extra (more RTCP)."""
    return bytes([0x80, 201, 0, 1]) + (0x1234).to_bytes(4, "big") + extra


def rtcp_app(size):
    """An APP packet of @size bytes (a multiple of 4)."""
    return (bytes([0x80, 204]) + (size // 4 - 1).to_bytes(2, "big") +
            (0x1234).to_bytes(4, "big") + b"mfwd" + bytes(size - 12))


def rtp_ts(seq, ext_words, nb_ts):
    """RTP (payload type 33) with a header extension of @ext_words words, then @nb_ts TS
    packets on PID 0x100."""
    ext = bytes([0xBE, 0xDE]) + ext_words.to_bytes(2, "big") + bytes(4 * ext_words)
    hdr = bytes([0x90 if ext_words else 0x80, 33]) + seq.to_bytes(2, "big") + \
        (seq * 3600).to_bytes(4, "big") + (0x5678).to_bytes(4, "big")
    return hdr + (ext if ext_words else b"") + b"".join(es(0x100, i & 15, i) for i in range(nb_ts))


def too_big():
    """The small and the large of each, the large in fragments: (frames, fragments)."""
    small = [eth() / IP(src=SRC, dst=DST) / UDP(sport=4010, dport=5011) / Raw(rtcp_rr()),
             eth() / IP(src=SRC, dst=DST) / UDP(sport=4012, dport=5012) / Raw(rtp_ts(1, 0, 1))]
    big = [IP(src=SRC, dst=DST, id=120) / UDP(sport=4010, dport=5011) /
           Raw(rtcp_rr(rtcp_app(9140))),
           IP(src=SRC, dst=DST, id=121) / UDP(sport=4012, dport=5012) / Raw(rtp_ts(2, 13, 48))]
    frags = [eth() / f for b in big for f in fragment(b, fragsize=1480)]
    return small + frags, len(frags)


def build_inputs(d):
    pkts, want = [], []
    pkts += frags4(1, 101)                                   # in order
    want.append(1)
    pkts += list(reversed(frags4(2, 102)))                   # reversed
    want.append(2)
    a, b = frags4(3, 103), frags4(4, 104)                    # interleaved
    pkts += [x for pair in zip(a, b) for x in pair]
    want += [3, 4]
    pkts += frags6(5, 105)                                   # IPv6
    big, nb_big = too_big()                                  # too big to rewrite
    pkts += big
    whole = bytes(v4(6, 106)[UDP])                           # overlap: 0-1479, 1000-2479, rest
    pkts += [raw_frag(106, 0, True, whole[:1480]), raw_frag(106, 1000, True, whole[1000:2480]),
             raw_frag(106, 1480, False, whole[1480:])]
    dup = frags4(7, 107)                                     # first fragment twice
    pkts += [dup[0], dup[0]] + dup[1:]
    pkts.append(raw_frag(108, 0, True, bytes(4)))            # tiny first fragment
    pkts.append(raw_frag(109, 65528, False, bytes(16)))      # ends past 65,535
    gap = frags4(8, 110)                                     # the middle one never comes
    pkts += [gap[0], gap[2]]
    for i in range(1000):                                    # flood beside a numbered flow
        pkts.append(raw_frag(2000 + i, 0, True, bytes(1480)))
        if i % 5 == 0:
            pkts.append(eth() / IP(src=SRC, dst=DST) / rtp(1000 + i // 5, size=200, dport=5008))
    wrpcap(os.path.join(d, "in0.pcap"), pkts)
    wrpcap(os.path.join(d, "in1.pcap"), [])
    return len(pkts), want, nb_big


def sessions():
    def s(sid, port, addr, dport):
        return {"id": sid, "kind": "rtp",
                "ingress": {"port": 0, "addr": DST6 if ":" in addr else DST, "udp_port": port},
                "outputs": [{"port": 1, "addr": addr, "udp_port": dport}]}
    rtcp, rts = s("rtcp", 5010, "10.99.2.1", 6010), s("rts", 5012, "10.99.2.1", 6012)
    rtcp["outputs"][0]["ssrc"] = 0x77
    rts["kind"] = "rtp-mpegts"
    rts["outputs"][0]["pids"] = [0x100]
    return [s("v4", 5004, "10.99.2.1", 6000), s("v6", 5006, "fd00:2::1", 6006),
            s("num", 5008, "10.99.2.1", 6008), rtcp, rts]


def check_outputs(out, want):
    got4 = [p for p in defragment([p for p in out if IP in p])
            if UDP in p and p[UDP].dport == 6000]
    T.eq([RTP(bytes(p[UDP].payload)).sequence for p in got4], want,
         "IPv4 datagrams forwarded whole, in the order completed")
    T.check(all(bytes(p[UDP].payload) == bytes(rtp(RTP(bytes(p[UDP].payload)).sequence).payload)
                for p in got4), "IPv4: every payload byte-identical to the input's")
    frags_out = [p for p in out if IP in p and p[IP].dst == "10.99.2.1" and
                 (p[IP].flags.MF or p[IP].frag)]
    T.check(frags_out and all(len(p[IP]) <= 1500 and not p[IP].flags.DF for p in frags_out),
            "output fragments fit the 1,500-byte MTU, DF clear")
    ids = {p[IP].id for p in frags_out}
    T.eq(len(ids), len(want), "one IPv4 id per fragmented datagram")
    v6 = [p for p in out if IPv6ExtHdrFragment in p]      # not the NA sent at start
    T.check(len(v6) >= 3 and all(IPv6ExtHdrFragment in p and len(p[IPv6]) <= 1500 for p in v6),
            "IPv6 output in fragments of at most 1,500 bytes (%d)" % len(v6))
    T.check(len({p[IPv6ExtHdrFragment].id for p in v6}) == 1 and v6[0][IPv6ExtHdrFragment].id,
            "one non-zero IPv6 fragment id")
    data = b"".join(bytes(p[IPv6ExtHdrFragment].payload)
                    for p in sorted(v6, key=lambda p: p[IPv6ExtHdrFragment].offset))
    T.eq(data[8:], bytes(rtp(5, dport=5006).payload), "IPv6 datagram reassembled byte-identical")
    num = [RTP(bytes(p[UDP].payload)).sequence for p in out
           if IP in p and UDP in p and p[UDP].dport == 6008]
    T.eq(num, list(range(1000, 1200)), "numbered flow beside the flood: every packet, in order")


def main():
    dpl = Dataplane("pcapfrag", "", sessions=sessions(),
                    extra_args=("--frag-timeout-ms", "2000", "--frag-max-datagrams", "256"))
    n0, want, nb_big = build_inputs(dpl.dir)
    with open(dpl.ports_file, "w") as f:
        f.write("""
[port 0]
vdev = net_pcap_f0,rx_pcap={d}/in0.pcap,tx_pcap={d}/out0.pcap
ipv4 = 10.99.1.2/24
ipv6 = fd00:1::2/64
neighbour = 10.99.1.1 02:00:00:00:01:01
[port 1]
vdev = net_pcap_f1,rx_pcap={d}/in1.pcap,tx_pcap={d}/out1.pcap
ipv4 = 10.99.2.2/24
ipv6 = fd00:2::2/64
neighbour = 10.99.2.1 02:00:00:00:02:01
neighbour = fd00:2::1 02:00:00:00:02:06
""".format(d=dpl.dir))
    with dpl:
        # Held fragments go at the timeout: the gap's two, the flood's 256 held.
        st = dpl.wait_for(lambda s: s["ports"]["0"]["rx_pkts"] == n0 and
                          s["node"]["drop_frag_timeout"] >= 2 + 256 and
                          s["sessions"]["num"]["tx_pkts"] >= 200 and
                          s["sessions"]["rts"]["rx_pkts"] >= 2 and
                          s["sessions"]["rtcp"]["rx_pkts"] >= 2, timeout=30,
                          what="input read, held fragments timed out")
    T.eq(dpl.rc, 0, "dataplane exited cleanly")
    n = st["node"]
    T.eq(n["frag_reassembled"], 7, "datagrams reassembled (4 IPv4 + 1 IPv6 + 2 too big to "
         "rewrite)")
    T.eq(n["drop_frag_tiny"], 1, "tiny first fragment")
    T.eq(n["drop_frag_size"], 1, "fragment past 65,535")
    # The table holds 256 datagrams: the gap's and the duplicate's second entry (its last two
    # fragments, after the duplicate dropped the first entry) take two; the flood gets 254.
    T.eq(n["drop_frag_invalid"], 3 + 2 + (1000 - 254),
         "refused by the table: the overlap's 3, the duplicate's 2, the flood past the table")
    T.eq(n["drop_frag_timeout"], 2 + 2 + 254, "timed out: the gap's 2, the duplicate's other "
         "2, the flood's 254")
    T.eq(n["drop_no_mbuf"], 0, "no mbuf ran out")
    T.eq(n["frag_rx"], n0 - 200 - 2, "every fragment counted in")
    T.eq(15 + nb_big + n["drop_frag_invalid"] + n["drop_frag_timeout"] + n["drop_frag_tiny"] +
         n["drop_frag_size"], n["frag_rx"], "every fragment reassembled or dropped by reason")
    s = st["sessions"]
    T.eq((s["v4"]["rx_pkts"], s["v6"]["rx_pkts"], s["num"]["rx_pkts"]), (4, 1, 200),
         "sessions received the whole datagrams")
    outs = list(s["v4"]["outputs"].values())
    T.eq([o["frag_tx"] for o in outs], [12], "v4 output: 4 datagrams in 3 fragments each")
    T.eq(n["frag_tx"], 12 + 3, "node: fragments sent (and the IPv6 datagram's 3)")
    T.eq(n["drop_rewrite_size"], 2, "node: the two copies too big to rewrite")
    for sid in ("rtcp", "rts"):
        o = list(s[sid]["outputs"].values())[0]
        T.eq((s[sid]["rx_pkts"], o["tx_pkts"], o["drop_rewrite_size"]), (2, 1, 1),
             "%s: the small one sent, the big one dropped and counted" % sid)
    out = rdpcap(dpl.path("out1.pcap"))
    check_outputs(out, want)
    sent = {p[UDP].dport: bytes(p[UDP].payload) for p in out if UDP in p and
            p[UDP].dport in (6011, 6012)}
    T.eq(sent.get(6011), rtcp_rr()[:4] + (0x77).to_bytes(4, "big"),
         "rtcp: the small compound sent, its SSRC rewritten")
    T.eq(sent.get(6012), rtp_ts(1, 0, 1), "rts: the small packet sent, its TS packet kept")
    T.done()


if __name__ == "__main__":
    main()
