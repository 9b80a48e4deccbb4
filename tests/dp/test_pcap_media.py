#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""Exact pcap test of media-aware outputs: start on a key frame, gapless numbering, key-frame
requests (PLI and FIR) and receivers' feedback.

Input on port 0: real H.264 RTP from libx264 (tests/unit/kf/ffmpeg-x264.bin: a key frame
every 10 frames), from frame 3 on, renumbered 1000.., with a PT 97 packet in the same
sequence after every 4th video packet; after the first 6 packets, 64 receivers each send 10
PLIs (640) to the session's RTCP port. Session "v" (codecs {"96": "h264"}):
  all    immediate, every packet: the input's numbers as they are
  video  pt_allow [96]: the PT 97 packets leave no hole
  kf     start keyframe: nothing before frame 10's first packet, then numbered on
  kf2    start keyframe, pt_allow [96], SSRC rewritten: both at once
  r0..r58 paused outputs on port 0 whose receivers send the PLIs to the session's RTCP
  port; kf's receiver sends 3 on port 1, where kf sends from
  rn     NACK repair: its receiver's Generic NACKs get frames resent as first sent; its
         REMBs (500, then 300 kbit/s) go on to the source as one, the lower
Session "f" asks with FIR (keyframe_request "fir") and sees no key frame: the request and
its one retry only come with time (limits.keyframe_interval_ms), so exactly one FIR here.
Session "late": 1..20 then 3 again, late, to an output keeping 16 frames for NACK; its
receiver then NACKs 19, which shares a slot with 3: 19 is resent, not pushed out by 3.
"""
import os
import struct
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Checks, Dataplane  # noqa: E402
from scapy.all import IP, UDP, Ether, Raw, rdpcap, wrpcap  # noqa: E402

T = Checks("pcap_media")
SRC_MAC, DP_MAC = "02:00:00:00:01:01", "02:00:00:00:00:aa"
SRC, DST, RX = "10.99.1.1", "10.99.1.2", "10.99.1.5"
KF = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "unit", "kf")
SSRC_OUT = 0x0BADCAFE
KF_PLIS = 3
N_RX, PLI_EACH = 59, 10  # with the 5 media outputs: 64 (a session may have 128: fan128)


def capture(name):
    """(expect, RTP packet bytes) of a key-frame capture (make-kf-fixtures' format)."""
    b = open(os.path.join(KF, name), "rb").read()
    off, out = 16, []
    while off < len(b):
        e, n = b[off], struct.unpack("!H", b[off + 1:off + 3])[0]
        out.append((e, b[off + 3:off + 3 + n]))
        off += 3 + n
    return out


def udp(payload, sport, dport, src=SRC, dst_mac=DP_MAC):
    return Ether(src=SRC_MAC, dst=dst_mac) / IP(src=src, dst=DST) / UDP(sport=sport, dport=dport) \
        / Raw(payload)


def build_inputs(d):
    """@return the input pcap's length and, per input sequence number, (pt, key start,
    frame index, RTP bytes)."""
    pkts = capture("ffmpeg-x264.bin")
    ssrc = struct.unpack("!I", pkts[0][1][8:12])[0]
    frame, last_ts, media = -1, None, []
    for e, p in pkts:
        ts = struct.unpack("!I", p[4:8])[0]
        if ts != last_ts:
            frame, last_ts = frame + 1, ts
        if frame >= 3:
            media.append((e == 1, frame, p))
    seq, table, frames = 1000, {}, []
    for i, (key, fr, p) in enumerate(media):
        b = bytearray(p)
        b[2:4] = struct.pack("!H", seq)
        table[seq] = (96, key, fr, bytes(b))
        frames.append(udp(bytes(b), 4000, 5004))
        seq += 1
        if i % 4 == 3:
            a = bytearray(b[:12]) + b"\x97" * 40
            a[1] = (a[1] & 0x80) | 97
            a[2:4] = struct.pack("!H", seq)
            table[seq] = (97, False, fr, bytes(a))
            frames.append(udp(bytes(a), 4000, 5004))
            seq += 1
    plis = []
    for k in range(PLI_EACH):
        for r in range(N_RX):
            pli = bytes([0x81, 206, 0, 2]) + struct.pack("!II", 0x5000 + r, ssrc)
            plis.append(Ether(src="02:00:00:00:01:05", dst=DP_MAC) / IP(src=RX, dst=DST)
                        / UDP(sport=6101 + 2 * r, dport=5005) / Raw(pli))
    # Session "f": P frames only (no key frame in them), to 5104.
    # (Sent to the broadcast MAC: the FIR still leaves from the port's own.)
    fir_in = [udp(p, 4100, 5104, dst_mac="ff:ff:ff:ff:ff:ff") for e, p in pkts if e == 0][:12]
    # Output rn's receiver NACKs 1003 with 1004 and 1006 (BLP bits 0 and 2), the same again
    # (within rtt_ms: not resent twice), and 900 (never sent).
    def nack(pid, blp):
        return (Ether(src="02:00:00:00:01:05", dst=DP_MAC) / IP(src=RX, dst=DST)
                / UDP(sport=6301, dport=5005) / Raw(bytes([0x81, 205, 0, 3]) +
                                                    struct.pack("!IIHH", 0x99, ssrc, pid, blp)))
    # rn's receiver estimates 500 and then 300 kbit/s (REMB): the lower goes to the source.
    # The second lists another stream's SSRC first, as Chrome lists every stream it covers.
    def remb(bps, ssrcs, sport=6301):
        exp = 0
        while bps >= 1 << 18:
            bps, exp = bps >> 1, exp + 1
        body = (bytes([0x8f, 206, 0, 4 + len(ssrcs)]) + struct.pack("!II", 0x99, 0) + b"REMB" +
                bytes([len(ssrcs), exp << 2 | bps >> 16, bps >> 8 & 0xff, bps & 0xff]) +
                b"".join(struct.pack("!I", x) for x in ssrcs))
        return (Ether(src="02:00:00:00:01:05", dst=DP_MAC) / IP(src=RX, dst=DST)
                / UDP(sport=sport, dport=5005) / Raw(body))
    # Then r0's receiver estimates 3 Mbit/s: rn's 300 kbit/s still holds (not the latest,
    # the lowest); then 200 kbit/s, lower than the source was told: passed on at once.
    late = [udp(struct.pack("!BBHII", 0x80, 96, q, q * 3000, 0x7777) + bytes([q]) * 100,
                4200, 5204) for q in list(range(1, 21)) + [3]]
    late.append(Ether(src="02:00:00:00:01:05", dst=DP_MAC) / IP(src=RX, dst=DST) /
                UDP(sport=6401, dport=5205) /
                Raw(bytes([0x81, 205, 0, 3]) + struct.pack("!IIHH", 0x98, 0x7777, 19, 0)))
    allp = late + frames[:6] + plis + [remb(500000, [ssrc]), remb(300000, [0x5555, ssrc])] + \
        frames[6:10] + [remb(3000000, [ssrc], 6101)] + frames[10:14] + \
        [remb(200000, [ssrc], 6101)] + frames[14:] + fir_in + \
        [nack(1003, 0b101), nack(1003, 0b101), nack(900, 0)]
    wrpcap(os.path.join(d, "in0.pcap"), allp)
    # Port 1: kf's receiver sends its PLIs where kf sends from (10.99.2.2:5005), and a
    # stranger sends there too.
    in1 = [Ether(src="02:00:00:00:02:01", dst=DP_MAC) / IP(src="10.99.2.1", dst="10.99.2.2")
           / UDP(sport=6005, dport=5005) / Raw(bytes([0x81, 206, 0, 2]) +
                                               struct.pack("!II", 0x77, ssrc))
           for _ in range(KF_PLIS)]
    in1.append(Ether(src="02:00:00:00:02:09", dst=DP_MAC) / IP(src="10.99.2.9", dst="10.99.2.2")
               / UDP(sport=6005, dport=5005) / Raw(bytes([0x81, 206, 0, 2]) + bytes(8)))
    wrpcap(os.path.join(d, "in1.pcap"), in1)
    return len(allp), len(in1), table, ssrc


def sessions():
    rx = [{"id": "r%d" % r, "port": 0, "addr": RX, "udp_port": 6100 + 2 * r, "paused": True}
          for r in range(N_RX)]
    return [
        {"id": "v", "kind": "rtp",
         "ingress": {"port": 0, "addr": DST, "udp_port": 5004, "source": "latch",
                     "clock_rates": {"96": 90000, "97": 90000}, "codecs": {"96": "h264"}},
         "outputs": [
             {"id": "all", "port": 1, "addr": "10.99.2.1", "udp_port": 6000},
             {"id": "video", "port": 1, "addr": "10.99.2.1", "udp_port": 6002, "pt_allow": [96]},
             {"id": "kf", "port": 1, "addr": "10.99.2.1", "udp_port": 6004, "start": "keyframe"},
             {"id": "kf2", "port": 1, "addr": "10.99.2.1", "udp_port": 6006, "start": "keyframe",
              "pt_allow": [96], "ssrc": SSRC_OUT}] + rx +
            [{"id": "rn", "port": 0, "addr": RX, "udp_port": 6300, "nack": {"rtt_ms": 5000}}]},
        {"id": "late", "kind": "rtp",
         "ingress": {"port": 0, "addr": DST, "udp_port": 5204},
         "outputs": [{"id": "n", "port": 0, "addr": RX, "udp_port": 6400,
                      "nack": {"packets": 16, "rtt_ms": 5000}}]},
        {"id": "f", "kind": "rtp",
         "ingress": {"port": 0, "addr": DST, "udp_port": 5104, "source": "latch",
                     "codecs": {"96": "h264"}, "keyframe_request": "fir"},
         "outputs": [{"id": "kf", "port": 1, "addr": "10.99.2.1", "udp_port": 6010,
                      "start": "keyframe"}]},
    ]


def rtp_of(out, dport):
    return [bytes(p[UDP].payload) for p in out if UDP in p and p[UDP].dport == dport]


def seqs(rtps):
    return [struct.unpack("!H", r[2:4])[0] for r in rtps]


def contiguous(s):
    return all((b - a) & 0xffff == 1 for a, b in zip(s, s[1:]))


def check_outputs(out1, table):
    ins = sorted(table)
    first_key = min(s for s in ins if table[s][1])
    got = rtp_of(out1, 6000)
    T.eq(seqs(got), ins, "all: every packet, numbers unchanged")
    video = rtp_of(out1, 6002)
    T.eq(len(video), sum(1 for s in ins if table[s][0] == 96), "video: the PT 96 packets")
    T.check(contiguous(seqs(video)), "video: no hole where PT 97 was (%s)" % seqs(video)[:12])
    T.check(all(v[12:] == table[s][3][12:] for v, s in
                zip(video, [s for s in ins if table[s][0] == 96])), "video: payloads intact")
    kf = rtp_of(out1, 6004)
    T.check(len(kf) > 0 and kf[0][12:] == table[first_key][3][12:],
            "kf: the first packet sent is the key frame's first (frame %d)" % table[first_key][2])
    T.eq(seqs(kf), [s for s in ins if s >= first_key], "kf: from the key frame on, in order")
    kf2 = rtp_of(out1, 6006)
    T.check(len(kf2) > 0 and kf2[0][12:] == table[first_key][3][12:], "kf2: starts on the key frame")
    T.check(contiguous(seqs(kf2)), "kf2: gapless with PT 97 filtered")
    T.check(all(struct.unpack("!I", r[8:12])[0] == SSRC_OUT for r in kf2), "kf2: SSRC rewritten")


def check_nack(out0, v):
    rn = [bytes(p) for p in out0 if UDP in p and p[UDP].dport == 6300]
    sent = {}
    for b in rn[:-3]:
        sent.setdefault(struct.unpack("!H", b[42 + 2:42 + 4])[0], b)
    T.eq([struct.unpack("!H", b[44:46])[0] for b in rn[-3:]], [1003, 1004, 1006],
         "rn: 1003, 1004 and 1006 resent once each, last")
    T.check(all(b == sent.get(struct.unpack("!H", b[44:46])[0]) for b in rn[-3:]),
            "rn: each resent frame identical to the one first sent")
    o = v["outputs"]["rn"]
    T.eq((o["nack_rx"], o["nack_resent"], o["nack_rtt_skip"], o["nack_miss"]), (3, 3, 3, 1),
         "rn: NACKs received, resent, skipped within rtt_ms, missed")


def remb_bps(b):
    return (((b[17] & 3) << 16) | b[18] << 8 | b[19]) << (b[17] >> 2)


def check_requests(out0, ssrc):
    fb = [p for p in out0 if UDP in p and p[IP].dst == SRC]
    pli = [p for p in fb if p[UDP].sport == 5005 and bytes(p[UDP].payload)[0] == 0x81]
    remb = [bytes(p[UDP].payload) for p in fb if p[UDP].sport == 5005 and
            bytes(p[UDP].payload)[0] == 0x8f]
    # Port 0's own MAC: what its outputs' frames (rn's) leave from.
    port_mac = next((p[Ether].src for p in out0 if UDP in p and p[UDP].dport == 6300), None)
    # Our SSRC, new with each feedback context (random): the same in all v sends.
    ours = struct.unpack("!I", remb[0][4:8])[0] if remb else 0
    T.check(ours != 0, "v: our SSRC in feedback is not 0")
    T.eq(remb[:1], [bytes([0x8f, 206, 0, 5]) + struct.pack("!II", ours, 0) + b"REMB" +
                    bytes([1, 1 << 2 | (150000 >> 16), 150000 >> 8 & 0xff, 150000 & 0xff]) +
                    struct.pack("!I", ssrc)],
         "the first REMB to the source: the lower of rn's two, 300 kbit/s, for its SSRC")
    # (300 kbit/s again only if a second passed between r0's two: the host stalled.)
    T.eq(sorted(set(remb_bps(r) for r in remb)), [200000, 300000],
         "r0's 3 Mbit/s not passed on while rn's 300 kbit/s is fresh")
    T.eq(remb_bps(remb[-1]) if remb else None, 200000, "r0's 200 kbit/s passed on at once")
    T.eq(len(pli), 1, "one PLI for 2 waiting outputs and 640 receivers' PLIs")
    if pli:
        p = pli[0]
        T.eq(bytes(p[UDP].payload), bytes([0x81, 206, 0, 2]) +
             struct.pack("!II", ours, ssrc), "PLI bytes (RFC 4585 6.3.1), our SSRC as the REMB's")
        T.eq((p[UDP].dport, p[Ether].dst, p[Ether].src), (4001, SRC_MAC, port_mac),
             "PLI to the source's RTP port + 1, back through its MAC, from the port's")
        q = Ether(bytes(p))
        del q[IP].chksum
        del q[UDP].chksum
        q = Ether(bytes(q))
        T.eq((q[IP].chksum, q[UDP].chksum), (p[IP].chksum, p[UDP].chksum), "PLI checksums")
    fir = [p for p in fb if p[UDP].sport == 5105]
    T.eq(len(fir), 1, "session f: one FIR (its retry needs the interval to pass)")
    if fir:
        b = bytes(fir[0][UDP].payload)
        T.eq(b[:4], bytes([0x84, 206, 0, 4]), "FIR header (RFC 5104 4.3.1)")
        fir_ssrcs = struct.unpack("!III", b[4:16])
        T.check(fir_ssrcs[0] not in (0, ours) and fir_ssrcs[2] == ssrc,
                "FIR sender (ours for session f) and FCI SSRC: %s" % (fir_ssrcs,))
        T.eq(b[16:20], bytes(4), "FIR command sequence number 0")
        T.eq(fir[0][UDP].dport, 4101, "FIR to RTP port + 1")
        T.eq(fir[0][Ether].src, port_mac, "FIR from the port's MAC, though its source sent to "
             "the broadcast one")
    return len(remb)


def main():
    ports = """
[port 0]
vdev = net_pcap_m0,rx_pcap={d}/in0.pcap,tx_pcap={d}/out0.pcap
ipv4 = 10.99.1.2/24
neighbour = 10.99.1.1 02:00:00:00:01:01
neighbour = 10.99.1.5 02:00:00:00:01:05
[port 1]
vdev = net_pcap_m1,rx_pcap={d}/in1.pcap,tx_pcap={d}/out1.pcap
ipv4 = 10.99.2.2/24
neighbour = 10.99.2.1 02:00:00:00:02:01
"""
    dpl = Dataplane("pcapmedia", "", sessions=sessions())
    n0, n1, table, ssrc = build_inputs(dpl.dir)
    with open(dpl.ports_file, "w") as f:
        f.write(ports.format(d=dpl.dir))
    n_video = len(table)
    with dpl:
        st = dpl.wait_for(lambda s: s["ports"]["0"]["rx_pkts"] == n0 and
                          s["ports"]["1"]["rx_pkts"] == n1, what="all input read")
        st = dpl.wait_for(lambda s: s["sessions"]["v"]["outputs"]["all"]["tx_pkts"] == n_video
                          and s["sessions"]["f"]["rx_pkts"] == 12 and
                          s["node"]["fb_rx"] == N_RX * PLI_EACH + KF_PLIS + 8 and
                          s["sessions"]["late"]["outputs"]["n"]["nack_rx"] == 1,
                          what="all handled")
        v, f = st["sessions"]["v"], st["sessions"]["f"]
        T.eq(v["kf_req_received"], N_RX * PLI_EACH + KF_PLIS, "v: receivers' PLIs counted")
        # Port 1's PLIs race port 0's key frame: each is coalesced, or one starts a new
        # request that the interval holds back.
        T.check(N_RX * PLI_EACH + 1 + KF_PLIS - 1 <= v["kf_req_coalesced"] <=
                N_RX * PLI_EACH + 1 + KF_PLIS, "v: all but the first want coalesced (%d)" %
                v["kf_req_coalesced"])
        T.eq(v["outputs"]["kf"]["fb_pli"], KF_PLIS,
             "kf: PLIs from its receiver on port 1, where it sends from")
        T.eq(st["node"]["drop_sess_miss"], 1, "a stranger's RTCP to kf's source port dropped")
        T.eq(v["kf_req_sent"], 1, "v: one request sent")
        T.eq(sum(o["fb_pli"] for o in v["outputs"].values()), N_RX * PLI_EACH + KF_PLIS,
             "v: PLIs counted on the receivers' outputs")
        T.eq(v["outputs"]["r7"]["fb_pli"], PLI_EACH, "v: r7's receiver sent 10")
        T.check(v["keyframes"] >= 1, "v: key frames seen (%d)" % v["keyframes"])
        k = v["outputs"]["kf"]
        T.eq(k["kf_waits"], 1, "kf: waited once")
        T.eq(k["drop_kf_wait"], sum(1 for s in table if s < min(x for x in table
                                                                if table[x][1])),
             "kf: held back every packet before the key frame")
        T.eq(v["outputs"]["video"]["drop_pt"], sum(1 for x in table.values() if x[0] == 97),
             "video: PT 97 counted as filtered")
        T.eq(f["kf_req_sent"], 1, "f: one FIR")
        T.eq(st["node"]["fb_rx"], N_RX * PLI_EACH + KF_PLIS + 8, "node: feedback read")
        n = st["sessions"]["late"]["outputs"]["n"]
        T.eq((n["tx_pkts"], n["nack_resent"], n["nack_miss"]), (21, 1, 0),
             "late: 21 sent, 19 resent on its NACK though 3 came late to its slot")
        T.eq(v["remb_received"], 4, "v: REMBs received")
        T.eq(st["node"]["kf_req_tx"], 2, "node: requests sent")
        lost = [l for l in dpl.once().splitlines() if l.strip().startswith("lost:")]
        T.check(not lost or "kf_wait" not in lost[0], "waiting is not a loss: %s" % lost)
        if T.failed:
            print(dpl.tail())
    check_outputs(rdpcap(dpl.path("out1.pcap")), table)
    T.eq(check_requests(rdpcap(dpl.path("out0.pcap")), ssrc), v["remb_sent"],
         "v: each REMB to the source counted (remb_sent)")
    check_nack(rdpcap(dpl.path("out0.pcap")), v)
    late = [bytes(p[UDP].payload) for p in rdpcap(dpl.path("out0.pcap"))
            if UDP in p and p[UDP].dport == 6400]
    T.eq([struct.unpack("!H", b[2:4])[0] for b in late], list(range(1, 21)) + [3, 19],
         "late: the output sends 1..20, the late 3, then 19 again")
    T.done()


if __name__ == "__main__":
    main()
