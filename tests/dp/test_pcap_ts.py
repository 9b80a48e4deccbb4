#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""Exact pcap test of the MPEG-TS path.

Session "ts" (MPEG-TS over UDP, 10.99.1.2:1234) receives 20 datagrams of 7 packets: PAT,
PMT (PID 0x100), video 0x101, audio 0x200 and null packets, with two continuity errors on
the video PID, a discontinuity-flagged jump that is no error, and one datagram whose sync
byte is lost. Outputs: t1 unfiltered, t2 PIDs 0/0x100/0x101 without nulls, t3 PID 0x300
only (never present). Session "rts" (RTP/MP2T on 1236) drops nulls and rewrites SSRC.
Session "move" (1238): after ten PATs, the PMT moves to another PID and names another video
PID; an output that starts on a key frame starts at the first one on the new video PID.
Session "wander" (1240): the PMT moves eight times before that move, which comes in a PAT
of two sections; each PAT replaces the PMT PIDs the session knows (at its first section), so
the ninth is learnt too and kept past the second section. Three damaged PATs before the key
frame (one flagged with transport_error_indicator, two with section lengths no PAT has)
change nothing. Session "drop" (1242): a PAT moves the program to a PMT not seen yet; a key
frame on the old video PID does not start the output, the one the new PMT names does.
Session "crowd" (1244): a PAT with nine programs puts the video's PMT ninth, beyond the
eight PMT PIDs a session keeps; the video it named before stays known. Session "novideo"
(1246): what must not change the video, each followed by a key frame that would start the
output if it did: a PAT naming a PMT on the reserved PID 0x0005, a PAT section numbered
past its last, a PMT flagged damaged; then a PMT that names no video, after which a key
frame on the old video PID is none; the next PMT naming a video starts it. Session
"damaged" (1248) receives only a PAT flagged with transport_error_indicator, and a PMT:
neither PAT nor PMT seen.
Session "keep" (1250): programs 1 and 2 share PMT PID 0x100; program 1's names video 0x101.
What tells nothing of it must not drop it: a PMT flagged damaged, one not yet current, one
going on in the next packet, none of them naming video, program 2's PMT, which names none,
and a PMT and a PAT with a wrong CRC_32 (counted: ts_crc_err); the key frame on 0x101 after
them starts the output. Session "leave" (1252):
programs 1 and 2 share PMT PID 0x100, program 1's PMT names video 0x101; then a PAT names
program 2 alone, on the same PID: program 1's video is gone, a key frame on 0x101 is none,
and the output starts at the key frame of the video program 2's PMT names.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Checks, Dataplane  # noqa: E402
from tsbuild import (bad_crc, es, fix_crc, null, pat, pat_programs, pmt, pmt_cut,  # noqa: E402
                     video_kf)
from scapy.all import IP, UDP, Ether, Raw, rdpcap, wrpcap  # noqa: E402
from scapy.layers.rtp import RTP  # noqa: E402

T = Checks("pcap_ts")
NULL = 0x1FFF


def pid_of(p):
    return (p[1] & 0x1F) << 8 | p[2]


def datagrams():
    """20 datagrams; video CC skips at datagrams 5 and 11; a flagged jump at 15."""
    out, vcc, acc = [], 0, 0
    for d in range(20):
        pkts = [pat(d & 15), pmt(d & 15)]
        for _ in range(3):
            if (d, _) in ((5, 0), (11, 1)):
                vcc = (vcc + 1) & 15          # a lost packet: the counter jumps by two
            disc = (d, _) == (15, 0)
            if disc:
                vcc = (vcc + 7) & 15
            pkts.append(es(0x101, vcc, d, disc))
            vcc = (vcc + 1) & 15
        pkts.append(es(0x200, acc, 0xA0 + d))
        acc = (acc + 1) & 15
        pkts.append(null())
        out.append(b"".join(pkts))
    return out


def pmt_moves():
    """Session "move": ten PATs naming PMT 0x100 (video 0x101), then one naming 0x110, whose
    PMT puts the video on 0x111; a key frame on 0x111, then more video. Its output waits
    for a key frame: it starts at that one only if the moved PMT was read."""
    first = [pat(i) + pmt(i) + es(0x101, i, i) for i in range(10)]
    moved = pat(10, 0x110) + pmt(0, 0x110, 0x111)
    return first + [moved, video_kf(0, 0x111) + es(0x111, 1, 1), es(0x111, 2, 2)]


def pmt_wanders():
    """Session "wander": PATs naming PMT 0x100, 0x101, ... 0x107 in turn (video 0x120), then
    the move of pmt_moves() in the first section of a PAT whose second names program 2's PMT
    on 0x140. Were the PMT PIDs a list that only grew, it would be full and the ninth never
    read; were it replaced at each section, the second would drop the ninth. Either way the
    output would wait for a key frame on 0x120 forever."""
    first = [pat(i, 0x100 + i) + pmt(i, 0x100 + i, 0x120) + es(0x120, i, i) for i in range(8)]
    moved = (pat(8, 0x110, section=0, last=1) + pat(9, 0x140, section=1, last=1, program=2) +
             pmt(0, 0x110, 0x111))
    # Taken, any would leave PMT 0x110 unnamed: its update, which moves the video to 0x112,
    # would go unread, and the key frame on 0x112 unseen.
    tei, len14, len1025 = (bytearray(pat(10 + i, 0x150)) for i in range(3))
    tei[1] |= 0x80
    len14[6:8] = b"\xb0\x0e"          # not 9 + 4 per program
    len1025[6:8] = b"\xb4\x01"        # 9 + 4 * 254, above the 1,021 a PAT may have
    damaged = bytes(tei) + fix_crc(len14) + bytes(len1025) + pmt(1, 0x110, 0x112)
    return first + [moved, damaged + video_kf(0, 0x112) + es(0x112, 1, 1), es(0x112, 2, 2)]


def pmt_dropped():
    """Session "drop": the program moves to PMT 0x110 a datagram before that PMT comes; a
    key frame on the old video PID 0x101 in between must not start the output."""
    return [pat(0) + pmt(0) + es(0x101, 0, 0), pat(1, 0x110), video_kf(1) + es(0x101, 2, 2),
            pmt(0, 0x110, 0x111), video_kf(0, 0x111) + es(0x111, 1, 1), es(0x111, 2, 2)]


def pmt_crowded():
    """Session "crowd": PMT 0x100 names video 0x101; then a PAT of nine programs, 0x100 the
    ninth PMT; the key frame on 0x101 starts the output (the list was cut short: nothing
    is known to have dropped the video)."""
    crowd = pat_programs(1, [0x200 + i for i in range(8)] + [0x100])
    return [pat(0) + pmt(0) + es(0x101, 0, 0), crowd, video_kf(1) + es(0x101, 2, 2),
            es(0x101, 3, 3)]


def pmt_no_video():
    """Session "novideo": PMT 0x100 names video 0x101. None of a PMT on PID 5 (a PAT names
    it with 0x100), one on 0x150 (named in section 2 of 0..1), one on 0x100 flagged damaged
    may name a video, nor may 0x101 stay video once the PMT calls it AAC; each key frame
    after them is no start. The PMT then names video 0x106, whose key frame starts."""
    tei = bytearray(pmt(2, 0x100, 0x105))
    tei[1] |= 0x80
    return [pat(0) + pmt(0) + es(0x101, 0, 0),
            pat_programs(1, [0x0005, 0x100]) + pmt(0, 0x0005, 0x104) + video_kf(0, 0x104),
            pat(2, 0x150, section=2, last=1) + pmt(0, 0x150, 0x151) + video_kf(0, 0x151),
            bytes(tei) + video_kf(0, 0x105),
            pmt(3, 0x100, 0x101, stream_type=0x0F) + video_kf(1, 0x101),
            pmt(4, 0x100, 0x106) + video_kf(0, 0x106) + es(0x106, 1, 1), es(0x106, 2, 2)]


def pmt_kept():
    """Session "keep": each datagram after the first would drop video 0x101 if taken for a
    PMT that names no video of program 1, or for a PAT that no longer names program 1 on
    0x100; the output starts at the key frame after them. Two have a wrong CRC_32."""
    tei, later = bytearray(pmt(1, 0x100, 0x101, 0x0F)), bytearray(pmt(2, 0x100, 0x101, 0x0F))
    tei[1] |= 0x80
    later[10] = 0xC0                   # current_next_indicator 0
    return [pat_programs(0, [0x100, 0x100]) + pmt(0) + es(0x101, 0, 0), bytes(tei),
            fix_crc(later), pmt_cut(3), pmt(4, 0x100, 0x201, 0x0F, program=2),
            bad_crc(pmt(5, 0x100, 0x101, 0x0F)), bad_crc(pat(1, 0x160)),
            video_kf(1) + es(0x101, 2, 2), es(0x101, 3, 3)]


def program_left():
    """Session "leave": program 1 leaves the PAT, program 2 keeps PMT PID 0x100."""
    return [pat_programs(0, [0x100, 0x100]) + pmt(0) + es(0x101, 0, 0),
            pat(1, 0x100, program=2) + video_kf(1) + es(0x101, 2, 2),
            pmt(1, 0x100, 0x102, program=2) + video_kf(0, 0x102) + es(0x102, 1, 1),
            es(0x102, 2, 2)]


def keyframe_session(sid, port, out_port):
    """A session of kind mpegts on @port whose output (its id @sid and 1) starts on a key
    frame."""
    return {"id": sid, "kind": "mpegts",
            "ingress": {"port": 0, "addr": "10.99.1.2", "udp_port": port},
            "outputs": [{"id": sid + "1", "port": 1, "addr": "10.99.2.1",
                         "udp_port": out_port, "start": "keyframe"}]}


def frame(dport, payload):
    return (Ether(src="02:00:00:00:01:01", dst="02:00:00:00:00:aa") /
            IP(src="10.99.1.1", dst="10.99.1.2") / UDP(sport=4000, dport=dport) / Raw(payload))


def main():
    dgs = datagrams()
    sessions = [
        {"id": "ts", "kind": "mpegts", "ingress": {"port": 0, "addr": "10.99.1.2", "udp_port": 1234},
         "outputs": [
             {"id": "t1", "port": 1, "addr": "10.99.2.1", "udp_port": 2000},
             {"id": "t2", "port": 1, "addr": "10.99.2.1", "udp_port": 2002,
              "pids": [0, 0x100, 0x101], "drop_null": True},
             {"id": "t3", "port": 1, "addr": "10.99.2.1", "udp_port": 2004, "pids": [0x300]}]},
        {"id": "rts", "kind": "rtp-mpegts",
         "ingress": {"port": 0, "addr": "10.99.1.2", "udp_port": 1236},
         "outputs": [{"id": "r1", "port": 1, "addr": "10.99.2.1", "udp_port": 2010,
                      "ssrc": 77, "drop_null": True}]},
    ] + [keyframe_session(sid, 1238 + 2 * i, 2020 + 10 * i)
         for i, sid in enumerate(("move", "wander", "drop", "crowd", "novideo", "damaged",
                                  "keep", "leave"))]
    dpl = Dataplane("pcapts", "", sessions=sessions)
    pkts = [frame(1234, d) for d in dgs]
    bad = bytearray(dgs[0])
    bad[188] = 0x48
    pkts.append(frame(1234, bytes(bad)))
    rtp_in = [frame(1236, bytes(RTP(version=2, payload_type=33, sequence=10 + i,
                                    timestamp=i * 3600, sourcesync=5)) + dgs[i]) for i in range(4)]
    pkts += rtp_in
    moves = pmt_moves()
    pkts += [frame(1238, d) for d in moves]
    wanders = pmt_wanders()
    pkts += [frame(1240, d) for d in wanders]
    dropped, crowded = pmt_dropped(), pmt_crowded()
    pkts += [frame(1242, d) for d in dropped] + [frame(1244, d) for d in crowded]
    novideo = pmt_no_video()
    pkts += [frame(1246, d) for d in novideo]
    damaged = bytearray(pat(0) + pmt(0))
    damaged[1] |= 0x80
    pkts.append(frame(1248, bytes(damaged)))
    kept, left = pmt_kept(), program_left()
    pkts += [frame(1250, d) for d in kept] + [frame(1252, d) for d in left]
    wrpcap(dpl.path("in0.pcap"), pkts)
    wrpcap(dpl.path("in1.pcap"), [])
    # One TX queue per worker, and net_pcap makes one TX queue per tx_pcap file.
    workers = len(os.environ.get("MFWD_LCORES", "0,1").split(",")) - 1
    tx = lambda p: ",".join("tx_pcap={d}/out%d-%d.pcap".format(d=dpl.dir) % (p, w)
                            for w in range(workers))
    with open(dpl.ports_file, "w") as f:
        f.write("""
[port 0]
vdev = net_pcap_t0,rx_pcap={d}/in0.pcap,{tx0}
ipv4 = 10.99.1.2/24
[port 1]
vdev = net_pcap_t1,rx_pcap={d}/in1.pcap,{tx1}
ipv4 = 10.99.2.2/24
neighbour = 10.99.2.1 02:00:00:00:02:01
""".format(d=dpl.dir, tx0=tx(0), tx1=tx(1)))
    with dpl:
        # Ports count a burst before its packets are handled, and with two workers the
        # owner of "rts" handles its packets later: wait for the figures of the last step.
        def done(s):
            ts, rts = s["sessions"]["ts"], s["sessions"]["rts"]
            lc = s["lcores"]
            return (s["ports"]["0"]["rx_pkts"] == len(pkts) and
                    ts["rx_pkts"] + ts["drop_media"] >= 21 and rts["rx_pkts"] >= 4 and
                    ts["outputs"]["t1"]["tx_pkts"] >= 20 and
                    ts["outputs"]["t3"]["drop_ts_filtered"] >= 20 and
                    rts["outputs"]["r1"]["tx_pkts"] >= 4 and
                    s["sessions"]["move"]["rx_pkts"] >= len(moves) and
                    s["sessions"]["wander"]["rx_pkts"] >= len(wanders) and
                    s["sessions"]["drop"]["rx_pkts"] >= len(dropped) and
                    s["sessions"]["crowd"]["rx_pkts"] >= len(crowded) and
                    s["sessions"]["novideo"]["rx_pkts"] >= len(novideo) and
                    s["sessions"]["damaged"]["rx_pkts"] >= 1 and
                    s["sessions"]["keep"]["rx_pkts"] >= len(kept) and
                    s["sessions"]["leave"]["rx_pkts"] >= len(left) and
                    sum(l["handoff_in"] for l in lc) >= sum(l["handoff_out"] for l in lc))
        st = dpl.wait_for(done, what="every packet handled")
    T.eq(dpl.rc, 0, "dataplane exited cleanly")
    s = st["sessions"]["ts"]
    T.eq(s["rx_pkts"], 20, "ts datagrams accepted")
    T.eq(s["ts_pkts"], 140, "ts packets")
    T.eq(s["ts_cc_err"], 2, "continuity errors (the flagged jump is none)")
    T.eq(s["ts_sync_err"], 1, "sync loss")
    T.eq(s["drop_media"], 1, "datagram with a lost sync byte dropped")
    T.eq(st["node"]["drop_media"], 1, "node counts it too")
    T.eq((s["ts_pat_seen"], s["ts_pmt_seen"]), (1, 1), "PAT and PMT seen")
    T.eq((st["sessions"]["damaged"]["ts_pat_seen"], st["sessions"]["damaged"]["ts_pmt_seen"]),
         (0, 0), "damaged: a PAT flagged damaged is no PAT seen, nor its PMT")
    T.eq([st["sessions"][n]["ts_crc_err"] for n in ("ts", "wander", "novideo", "keep")],
         [0, 0, 0, 2], "keep: a PAT and a PMT with a wrong CRC_32 counted (none elsewhere)")
    o = s["outputs"]
    T.eq(o["t1"]["tx_pkts"], 20, "t1 sent")
    T.eq(o["t3"]["drop_ts_filtered"], 20, "t3 had nothing to send")
    T.eq(o["t3"]["tx_pkts"], 0, "t3 sent nothing")
    r = st["sessions"]["rts"]
    T.eq((r["rx_pkts"], r["ts_pkts"], r["ts_cc_err"]), (4, 28, 0), "rts figures")
    if os.environ.get("MFWD_LCORES"):
        lc = st["lcores"]
        # Sessions go to the least loaded worker in turn, in file order (ts, move, drop,
        # novideo and keep to worker 1, which receives port 0; rts, wander, crowd, damaged
        # and leave to worker 2).
        moved = 4 + len(wanders) + len(crowded) + 1 + len(left)
        T.check(len(lc) == 3 and sum(l["handoff_out"] for l in lc) == moved and
                sum(l["handoff_in"] for l in lc) == moved,
                "rts, wander, crowd, damaged and leave packets handed to their worker")

    # A session's packets all leave from its worker's queue: one file, in order.
    out = [p for w in range(workers) for p in rdpcap(dpl.path("out1-%d.pcap" % w))]
    t1 = [bytes(p[UDP].payload) for p in out if UDP in p and p[UDP].dport == 2000]
    T.eq(t1, dgs, "t1 payloads identical to the input")
    t2 = [bytes(p[UDP].payload) for p in out if UDP in p and p[UDP].dport == 2002]
    want = [b"".join(d[i:i + 188] for i in range(0, len(d), 188)
                     if pid_of(d[i:i + 188]) in (0, 0x100, 0x101)) for d in dgs]
    T.eq(t2, want, "t2 keeps PAT, PMT and video, drops audio and nulls")
    T.eq(len([p for p in out if UDP in p and p[UDP].dport == 2004]), 0, "t3 sends nothing")
    to = lambda port: [bytes(p[UDP].payload) for p in out if UDP in p and p[UDP].dport == port]
    # Each output starts at the key frame of its stream's next to last datagram.
    for port, flow, what in (
            (2020, moves, "move: at the key frame on the video PID the moved PMT names"),
            (2030, wanders, "wander: the ninth PMT PID is learnt; at the key frame on the "
             "video PID it names"),
            (2040, dropped, "drop: no start on the video PID the PAT's program left; at the "
             "key frame the new PMT names"),
            (2050, crowded, "crowd: the video stays known when its PMT is beyond the eight "
             "kept; at its key frame"),
            (2060, novideo, "novideo: no video from a reserved PID's PMT, a section past the "
             "last, a damaged PMT, nor the PID the PMT took it from; at the key frame the "
             "next PMT names"),
            (2080, kept, "keep: no PMT that tells nothing of program 1's video drops it, nor "
             "program 2's on the same PID; at its key frame"),
            (2090, left, "leave: program 1's video goes with it though its PMT PID stays; "
             "at the key frame program 2's PMT names")):
        T.eq(to(port), flow[-2:], what)
    r1 = [p for p in out if UDP in p and p[UDP].dport == 2010]
    T.eq(len(r1), 4, "r1 sent")
    for i, p in enumerate(r1):
        b = bytes(p[UDP].payload)
        h = RTP(b[:12])
        T.check(h.sourcesync == 77 and h.sequence == 10 + i and h.payload_type == 33,
                "r1[%d] RTP header rewritten" % i)
        T.eq(b[12:], dgs[i][:6 * 188], "r1[%d] payload without the null packet" % i)
    T.done()


if __name__ == "__main__":
    main()
