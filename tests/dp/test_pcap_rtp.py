#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""Exact pcap test of the RTP path: net_pcap ports read a pcap the test builds and write
what mfwd sends; every output packet and every counter is compared with what must be.

Input on port 0 (10.99.1.2/24), session "cam" (kind rtp, source latch) on 5004/5005:
  SSRC A seq 1000..1019 without 1005 and 1006, 1010 after 1011, 1012 twice;
  SSRC B seq 500..504 (a source switch); RTCP SR; an RTP packet from another host;
  malformed and stray packets; an ARP request and an ICMP echo request for 10.99.1.2.
Input on port 1 (IPv4 10.99.2.2/24, IPv6 fd00:2::2/64): UDP over IPv6 for session "v6".
Outputs of "cam": o1 rewrites SSRC and maps PT 96 to 97; o2 forwards PT 0 only; o3 is
paused; o4 goes out over IPv6.
Session "reo" (5020): PT 96 and 97 reordered, 1, 2 (97), 4 (97), 3, 5, 7, 6; its output
allows PT 96 only: a late packet takes back the skips after it, so the output numbers are
1, 2, 3, 5, 4, each once, none missing.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Checks, Dataplane  # noqa: E402
from scapy.all import (ARP, ICMP, IP, UDP, Ether, ICMPv6EchoReply,  # noqa: E402
                       ICMPv6EchoRequest, ICMPv6ND_NA, ICMPv6ND_NS, ICMPv6NDOptDstLLAddr,
                       ICMPv6NDOptSrcLLAddr, IPv6, Raw, rdpcap, wrpcap)
from scapy.layers.rtp import RTP  # noqa: E402

T = Checks("pcap_rtp")
SRC_MAC, DP_MAC = "02:00:00:00:01:01", "02:00:00:00:00:aa"
SRC, DST = "10.99.1.1", "10.99.1.2"
SSRC_A, SSRC_B, SSRC_OUT = 0x11111111, 0x22222222, 0xABCDEF


REORDERED = [(1, 96), (2, 97), (4, 97), (3, 96), (5, 96), (7, 96), (6, 96)]


def rtp(seq, ts, ssrc, src=SRC, pt=96, payload=None, dport=5004):
    return (Ether(src=SRC_MAC, dst=DP_MAC) / IP(src=src, dst=DST) / UDP(sport=4000, dport=dport)
            / RTP(version=2, payload_type=pt, sequence=seq, timestamp=ts, sourcesync=ssrc)
            / Raw(payload if payload is not None else bytes([seq & 0xff]) * 160))


def rtcp_sr(ssrc):
    body = (bytes([0x80, 200, 0, 6]) + ssrc.to_bytes(4, "big") + bytes(8)
            + (123456).to_bytes(4, "big") + (25).to_bytes(4, "big") + (4000).to_bytes(4, "big"))
    return Ether(src=SRC_MAC, dst=DP_MAC) / IP(src=SRC, dst=DST) / UDP(sport=4001, dport=5005) / Raw(body)


def build_inputs(d):
    a_seqs = [1000, 1001, 1002, 1003, 1004, 1007, 1008, 1009, 1011, 1010, 1012, 1012] + \
        list(range(1013, 1020))
    pkts = [rtp(s, (s - 1000) * 3000, SSRC_A) for s in a_seqs]
    pkts.append(rtcp_sr(SSRC_A))
    pkts += [rtp(500 + i, 777000 + 3000 * i, SSRC_B) for i in range(5)]
    pkts.append(rtp(2000, 0, 0x33333333, src="10.99.1.9"))          # not the latched source
    bad = rtp(1, 0, SSRC_B)
    raw = bytearray(bytes(bad))
    raw[42] = 0x40                                                   # RTP version 1
    pkts.append(Ether(bytes(raw)))
    pkts.append(Ether(src=SRC_MAC, dst=DP_MAC) / IP(src=SRC, dst=DST) / UDP(sport=1, dport=5010) / Raw(b"x"))
    pkts.append(Ether(src=SRC_MAC, dst=DP_MAC) / IP(src=SRC, dst="10.99.1.77") / UDP(sport=1, dport=5004) / Raw(b"x"))
    trunc = bytearray(bytes(rtp(3, 0, SSRC_B)))
    trunc[16:18] = (1400).to_bytes(2, "big")                         # IPv4 total length lies
    pkts.append(Ether(bytes(trunc)))
    pkts.append(Ether(src=SRC_MAC, dst=DP_MAC) / IP(src=SRC, dst=DST, flags="MF") / UDP(sport=1, dport=5004) / Raw(b"y" * 20))
    pkts.append(Ether(src=SRC_MAC, dst="ff:ff:ff:ff:ff:ff") /
                ARP(op=1, hwsrc=SRC_MAC, psrc=SRC, pdst=DST))
    pkts.append(Ether(src=SRC_MAC, dst=DP_MAC) / IP(src=SRC, dst=DST) / ICMP(type=8, id=7, seq=3) / Raw(b"ping"))
    pkts += [Ether(src=SRC_MAC, dst=DP_MAC) / IP(src=SRC, dst=DST) / UDP(sport=4000, dport=8000)
             / Raw(b"fan-%d" % i * 20) for i in range(3)]
    pkts += [rtp(q, q * 3000, 0x44444444, pt=pt, dport=5020) for q, pt in REORDERED]
    wrpcap(os.path.join(d, "in0.pcap"), pkts)
    v6 = [Ether(src="02:00:00:00:02:01", dst=DP_MAC) / IPv6(src="fd00:2::1", dst="fd00:2::2")
          / UDP(sport=9000, dport=7000) / Raw(b"v6-%d" % i) for i in range(3)]
    v6.append(Ether(src="02:00:00:00:02:06", dst="33:33:ff:00:00:02") /
              IPv6(src="fd00:2::1", dst="ff02::1:ff00:2", hlim=255) / ICMPv6ND_NS(tgt="fd00:2::2") /
              ICMPv6NDOptSrcLLAddr(lladdr="02:00:00:00:02:06"))
    # A unicast probe without a source link-layer option (24 bytes: the NA is longer), and
    # a solicitation routed here (hop limit 64: RFC 4861 says ignore it, and learn nothing).
    v6.append(Ether(src="02:00:00:00:02:09", dst=DP_MAC) /
              IPv6(src="fd00:2::9", dst="fd00:2::2", hlim=255) / ICMPv6ND_NS(tgt="fd00:2::2"))
    v6.append(Ether(src="02:00:00:00:02:07", dst="33:33:ff:00:00:02") /
              IPv6(src="fd00:2::7", dst="ff02::1:ff00:2", hlim=64) / ICMPv6ND_NS(tgt="fd00:2::2") /
              ICMPv6NDOptSrcLLAddr(lladdr="02:00:00:00:02:07"))
    v6.append(Ether(src="02:00:00:00:02:06", dst=DP_MAC) / IPv6(src="fd00:2::1", dst="fd00:2::2") /
              ICMPv6EchoRequest(id=9, seq=1, data=b"ping6"))
    wrpcap(os.path.join(d, "in1.pcap"), v6)
    return len(pkts), len(v6)


def sessions():
    return [
        {"id": "cam", "kind": "rtp",
         "ingress": {"port": 0, "addr": DST, "udp_port": 5004, "source": "latch",
                     "clock_rates": {"96": 90000}},
         "outputs": [
             {"id": "o1", "port": 1, "addr": "10.99.2.1", "udp_port": 6000, "src_port": 7000,
              "ssrc": SSRC_OUT, "pt_map": {"96": 97}},
             {"id": "o2", "port": 1, "addr": "10.99.2.1", "udp_port": 6002, "pt_allow": [0]},
             {"id": "o3", "port": 1, "addr": "10.99.2.1", "udp_port": 6004, "paused": True},
             {"id": "o4", "port": 1, "addr": "fd00:2::1", "udp_port": 6006}]},
        # As many outputs as a session may have (MF_SESS_MAX_OUTPUTS): their bits span
        # more than one word of the fan-out's mask.
        {"id": "fan128", "kind": "udp",
         "ingress": {"port": 0, "addr": DST, "udp_port": 8000},
         "outputs": [{"port": 1, "addr": "10.99.2.1", "udp_port": 8100 + i}
                     for i in range(128)]},
        {"id": "v6", "kind": "udp",
         "ingress": {"port": 1, "addr": "fd00:2::2", "udp_port": 7000},
         "outputs": [{"port": 0, "addr": SRC, "udp_port": 7001}]},
        {"id": "reo", "kind": "rtp",
         "ingress": {"port": 0, "addr": DST, "udp_port": 5020},
         "outputs": [{"id": "r", "port": 1, "addr": "10.99.2.1", "udp_port": 6020,
                      "pt_allow": [96]}]},
    ]


def csum_ok(p, *fields):
    """Each (layer, field) checksum mfwd wrote equals what scapy computes for the packet."""
    q = p.copy()
    for layer, field in fields:
        delattr(q[layer], field)
    q = Ether(bytes(q))
    return all(getattr(q[layer], field) == getattr(p[layer], field) for layer, field in fields)


def udp_ok(p):
    """The UDP (and IPv4 header) checksum mfwd wrote is what scapy computes."""
    return csum_ok(p, (UDP, "chksum"), *([(IP, "chksum")] if IP in p else []))


def check_o1(out):
    """SSRC rewritten, PT mapped, sequence continuous across the source switch."""
    o1 = [p for p in out if UDP in p and p[UDP].dport == 6000]
    T.eq(len(o1), 24, "o1 RTP packets (19 + dup 1 + 5 after the switch - 1 malformed)")
    rtps = [RTP(bytes(p[UDP].payload)) for p in o1]
    T.check(all(r.sourcesync == SSRC_OUT for r in rtps), "o1 SSRC rewritten")
    T.check(all(r.payload_type == 97 for r in rtps), "o1 PT 96 mapped to 97")
    T.check(all(p[UDP].sport == 7000 and p[IP].src == "10.99.2.2" for p in o1), "o1 source")
    T.check(all(p[Ether].dst == "02:00:00:00:02:01" for p in o1), "o1 next-hop MAC")
    T.check(all(udp_ok(p) for p in o1), "o1 checksums")
    seqs = [r.sequence for r in rtps]
    T.eq(seqs[:19], [1000, 1001, 1002, 1003, 1004, 1007, 1008, 1009, 1011, 1010, 1012, 1012]
         + list(range(1013, 1020)), "o1 sequence of SSRC A unchanged")
    T.eq(seqs[19:], list(range(1020, 1025)), "o1 sequence continues after the switch")
    ts = [r.timestamp for r in rtps]
    T.check(ts[19] > ts[18] and ts[20] - ts[19] == 3000, "o1 timestamps continue: %s" % ts[17:22])
    T.eq(bytes(o1[0][UDP].payload)[12:], bytes([1000 & 0xff]) * 160, "o1 payload intact")
    rtcp = [p for p in out if UDP in p and p[UDP].dport == 6001]
    T.eq(len(rtcp), 1, "o1 RTCP to port + 1")
    if rtcp:
        b = bytes(rtcp[0][UDP].payload)
        T.eq(int.from_bytes(b[4:8], "big"), SSRC_OUT, "o1 RTCP SR sender SSRC rewritten")
        T.eq(rtcp[0][UDP].sport, 7001, "o1 RTCP source port")
        T.check(udp_ok(rtcp[0]), "o1 RTCP checksum")


def check_outputs(out0, out1):
    check_o1(out1)
    o2 = [p for p in out1 if UDP in p and p[UDP].dport in (6002, 6003)]
    T.eq([p[UDP].dport for p in o2], [6003], "o2: PT 96 filtered, RTCP passes")
    if o2:
        T.eq(int.from_bytes(bytes(o2[0][UDP].payload)[4:8], "big"), SSRC_A, "o2 RTCP as sent")
    T.eq(len([p for p in out1 if UDP in p and p[UDP].dport in (6004, 6005)]), 0, "o3 paused")
    o4 = [p for p in out1 if IPv6 in p and UDP in p and p[UDP].dport == 6006]
    T.eq(len(o4), 24, "o4 over IPv6")
    T.check(all(p[IPv6].src == "fd00:2::2" and p[Ether].dst == "02:00:00:00:02:06"
                and udp_ok(p) for p in o4), "o4 addresses, MAC, checksum")
    if o4:
        T.eq(RTP(bytes(o4[0][UDP].payload)).sourcesync, SSRC_A, "o4 keeps the SSRC")
    v6 = [p for p in out0 if UDP in p and p[UDP].dport == 7001]
    T.eq([bytes(p[UDP].payload) for p in v6], [b"v6-0", b"v6-1", b"v6-2"], "v6 session to IPv4")
    T.check(all(udp_ok(p) and p[UDP].sport == 7000 for p in v6), "v6 output headers")
    fan = [p for p in out1 if UDP in p and 8100 <= p[UDP].dport < 8228]
    T.eq(sorted(set(p[UDP].dport for p in fan)), list(range(8100, 8228)),
         "fan128: all 128 outputs")
    T.check(len(fan) == 384 and all(bytes(p[UDP].payload) == b"fan-%d" % (k // 128) * 20 and
                                    udp_ok(p) for k, p in enumerate(fan)),
            "fan128: each of 3 packets on each output, intact, in order")
    arp = [p for p in out0 if ARP in p and p[ARP].op == 2]
    T.eq(len(arp), 1, "ARP reply")
    if arp:
        T.eq((arp[0][ARP].psrc, arp[0][ARP].pdst, arp[0][Ether].dst), (DST, SRC, SRC_MAC),
             "ARP reply addresses")
    icmp = [p for p in out0 if ICMP in p and p[ICMP].type == 0]
    T.eq(len(icmp), 1, "ICMP echo reply")
    if icmp:
        T.check(csum_ok(icmp[0], (ICMP, "chksum"), (IP, "chksum")), "ICMP reply checksums")
        T.eq((icmp[0][IP].dst, icmp[0][ICMP].id, bytes(icmp[0][ICMP].payload)), (SRC, 7, b"ping"),
             "ICMP reply content")
    na = [p for p in out1 if ICMPv6ND_NA in p and p[IPv6].dst == "fd00:2::1"]
    T.eq(len(na), 1, "NA answers the NS")
    if na:
        T.check(na[0][ICMPv6ND_NA].tgt == "fd00:2::2" and na[0][ICMPv6ND_NA].S == 1 and
                na[0][ICMPv6NDOptDstLLAddr].lladdr == na[0][Ether].src and
                csum_ok(na[0], (ICMPv6ND_NA, "cksum")) and na[0][IPv6].hlim == 255,
                "NA target, flags, link-layer option, checksum")
    probe = [p for p in out1 if ICMPv6ND_NA in p and p[IPv6].dst == "fd00:2::9"]
    T.check(len(probe) == 1 and probe[0][IPv6].plen == 32 and
            len(bytes(probe[0][IPv6].payload)) == 32 and
            probe[0][ICMPv6NDOptDstLLAddr].lladdr == probe[0][Ether].src and
            csum_ok(probe[0], (ICMPv6ND_NA, "cksum")),
            "NA to a probe without options: 32 bytes, as its length says (%s)" %
            [bytes(p).hex() for p in probe])
    T.eq([p[IPv6].dst for p in out1 if ICMPv6ND_NA in p and p[IPv6].dst == "fd00:2::7"], [],
         "no NA to a solicitation with hop limit 64")
    e6 = [p for p in out1 if ICMPv6EchoReply in p]
    T.check(len(e6) == 1 and e6[0][ICMPv6EchoReply].data == b"ping6" and
            e6[0][IPv6].dst == "fd00:2::1", "ICMPv6 echo reply")
    if e6:
        T.check(csum_ok(e6[0], (ICMPv6EchoReply, "cksum")), "ICMPv6 echo checksum")
    reo = [RTP(bytes(p[UDP].payload)) for p in out1 if UDP in p and p[UDP].dport == 6020]
    T.eq([(r.sequence, bytes(r.payload)[0]) for r in reo],
         [(1, 1), (2, 3), (3, 5), (5, 7), (4, 6)],
         "reo: a late packet numbered before the skips after it, every number once")
    garp = [p for p in out0 if ARP in p and p[ARP].op == 1 and p[ARP].psrc == p[ARP].pdst == DST]
    T.eq(len(garp), 1, "gratuitous ARP at start")


def check_stats(st):
    s = st["sessions"]["cam"]
    T.eq(s["rx_pkts"], 25, "cam rx (RTP 24 + RTCP 1)")
    T.eq(s["rtcp_pkts"], 1, "cam RTCP")
    T.eq(s["dup"], 1, "cam duplicates")
    T.eq(s["reorder"], 1, "cam reordered")
    T.eq(s["ssrc_changes"], 1, "cam SSRC changes")
    T.eq(s["rtp_lost"], 2, "cam lost (cumulative over SSRCs)")
    T.eq(s["rtp_expected"], 25, "cam expected")
    T.eq(s["drop_src"], 1, "cam source drops")
    T.eq(s["drop_media"], 1, "cam malformed RTP")
    outs = s["outputs"]
    T.eq(outs["o1"]["tx_pkts"], 25, "o1 tx (24 RTP + 1 RTCP)")
    T.eq(outs["o2"]["drop_pt"], 24, "o2 PT filtered")
    T.eq(outs["o2"]["tx_pkts"], 1, "o2 tx")
    T.eq(outs["o3"]["drop_paused"], 25, "o3 paused")
    T.eq(outs["o4"]["tx_pkts"], 25, "o4 tx")
    n = st["node"]
    T.eq(n["drop_sess_miss"], 1, "node: no session on the port")
    T.eq(n["drop_not_ours"], 1, "node: not our address")
    T.eq(n["drop_ip4_totlen"], 1, "node: IPv4 total length lies")
    T.eq((n["frag_rx"], n["drop_frag_align"]), (1, 1),
         "node: a first fragment of 28 bytes followed by more (not a multiple of 8)")
    T.eq(n["drop_src"], 1, "node: source")
    T.eq(n["drop_media"], 1, "node: malformed RTP")
    T.eq(n["arp_reply_tx"], 1, "node: ARP replies")
    T.eq(n["icmp_echo_tx"], 2, "node: echo replies (ICMP and ICMPv6)")
    T.eq(n["nd_rx"], 2, "node: neighbour solicitations handled (not the routed one)")
    T.eq(st["sessions"]["v6"]["rx_pkts"], 3, "v6 rx")
    T.eq(st["sessions"]["fan128"]["tx_pkts"], 384, "fan128 tx")


LOSSES = ("_full", "_lost", "imissed", "rx_nombuf", "ierrors", "oerrors")


def check_losses_shown(dpl):
    """mfwd-stat --once lists every node and port loss that is not zero, and never says
    none while one is."""
    text, st = dpl.once(), dpl.stats()
    line = [l for l in text.splitlines() if l.strip().startswith("lost:")]
    T.eq(len(line), 1, "one lost: line in\n%s" % text)
    shown = dict(kv.split("=") for kv in line[0].split(":", 1)[1].replace(",", " ").split()
                 if "=" in kv) if line else {}
    want = {k: str(v) for k, v in st["node"].items()
            if v and (k.startswith("drop_") or k.endswith(LOSSES))}
    for p, fig in st["ports"].items():
        want.update({"port/%s.%s" % (p, k): str(v) for k, v in fig.items()
                     if v and k.endswith(LOSSES)})
    T.check(len(want) >= 6, "this input makes losses of several kinds: %s" % want)
    T.eq(shown, want, "every non-zero loss shown by mfwd-stat --once")


def main():
    ports = """
[port 0]
vdev = net_pcap_r0,rx_pcap={d}/in0.pcap,tx_pcap={d}/out0.pcap
ipv4 = 10.99.1.2/24
neighbour = 10.99.1.1 02:00:00:00:01:01
[port 1]
vdev = net_pcap_r1,rx_pcap={d}/in1.pcap,tx_pcap={d}/out1.pcap
ipv4 = 10.99.2.2/24
ipv6 = fd00:2::2/64
neighbour = 10.99.2.1 02:00:00:00:02:01
neighbour = fd00:2::1 02:00:00:00:02:06
"""
    dpl = Dataplane("pcaprtp", "", sessions=sessions())
    n0, n1 = build_inputs(dpl.dir)
    with open(dpl.ports_file, "w") as f:
        f.write(ports.format(d=dpl.dir))
    with dpl:
        st = dpl.wait_for(lambda s: s["ports"]["0"]["rx_pkts"] == n0 and
                          s["ports"]["1"]["rx_pkts"] == n1, what="all input read")
        # Ports count a burst before its packets are handled, and the control lcore answers
        # echoes while the worker still fans out: wait for the last of each.
        st = dpl.wait_for(lambda s: s["node"]["arp_reply_tx"] >= 1 and
                          s["node"]["icmp_echo_tx"] >= 2 and s["node"]["nd_rx"] >= 2 and
                          s["sessions"]["fan128"]["tx_pkts"] >= 384 and
                          s["sessions"]["v6"]["rx_pkts"] >= 3, what="slow path and fan-out done")
        check_stats(st)
        check_losses_shown(dpl)
        rc, events = dpl.ctl("events")
        kinds = [(e["event"], e.get("session")) for e in events]
        T.check(("source.latched", "cam") in kinds, "event: source latched (%s)" % kinds)
        T.check(("source.ssrc_changed", "cam") in kinds, "event: SSRC changed")
        latch = [e for e in events if e["event"] == "source.latched"]
        T.check(latch and latch[0]["source"] == {"addr": SRC, "port": 4000}, "latched source")
    T.eq(dpl.rc, 0, "dataplane exited cleanly")
    check_outputs(rdpcap(dpl.path("out0.pcap")), rdpcap(dpl.path("out1.pcap")))
    T.done()


if __name__ == "__main__":
    main()
