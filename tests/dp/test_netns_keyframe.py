#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""Media-aware outputs with real encoders and decoders, in network namespaces.

1. Mid-stream join: ffmpeg sends H.264 with a 2 s GOP; once the stream runs, two outputs are
   added: "kf" (start keyframe) and "imm" (immediate). The kf receiver (ffmpeg) prints no
   decode error, its first frame is a key frame, and every frame it decodes is identical to
   the local decode of the same frame. The imm receiver, for contrast, was sent the rest of
   the GOP under way, which its decoder can only throw away.
   Meanwhile output "base" is paused and resumed: tshark at its receiver counts 0 lost.
2. GOP cache: 1.5 s into a 2 s GOP an output is added with "start": "gop"; its receiver's
   first frame is the GOP's key frame, every frame bit-exact, no decode error: the cache
   was sent first, then the live stream, with no gap between them. A key frame whose SPS,
   PPS and IDR come in packets of their own is cached whole, from its SPS. An SRTP
   camera's cache, kept when its session is replaced without SRTP, reaches a viewer with
   checksums its kernel accepts.
3. MPEG-TS over UDP, the same clip: outputs added mid-GOP with "start": "keyframe" (the key
   frame found from the PMT's video PID and the random-access indicator) and "gop" (the
   cache, after the last PAT and PMT); each receiver decodes from a key frame, bit-exact.
   A PAT and PMT datagram kept before the first key frame reaches a viewer from the cache
   as it came, though a PID-filtered output sent the same datagram.
4. PLI reaches a real encoder: GStreamer x264enc behind rtpbin with a 10 s GOP; an output
   added in keyframe mode waits far less than the GOP, because mfwd's PLI made the encoder
   send a key frame (rtpbin turns it into a force-key-unit event). Then 64 receivers, 62 of
   them sending 10 PLIs a second for 4 s: the encoder's side sees at most one a second.
5. FIR to a camera that never sends a key frame: each request and its retry carry the same
   command sequence number, the next request the next number.
"""
import base64
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Checks, Dataplane  # noqa: E402
from media import frame_hashes, make_clip, rtp_receiver  # noqa: E402
from netns import Topology  # noqa: E402
from tsbuild import es, fix_crc, pat, pmt, video_kf  # noqa: E402

T = Checks("netns_keyframe")
RECEIVERS = ("10.99.2.1", "10.99.2.3", "10.99.2.4")
BASE, KF, IMM = 6000, 6010, 6020
GOP = 50  # frames, at make_clip's 25 fps: 2 s
GST_SSRC = 0x5151
HERE = os.path.dirname(os.path.abspath(__file__))




def finish(out, p):
    """Frame hashes and what ffmpeg said, less how it ends (its input times out)."""
    try:
        p.wait(timeout=60)
    except subprocess.TimeoutExpired:
        p.kill()
    said = [l for l in p.stderr.read().decode().splitlines()
            if "Connection timed out" not in l and "Last message repeated" not in l and
            "Input/output error" not in l]
    return (frame_hashes(out) if os.path.exists(out) else []), "\n".join(said)


def cam_session():
    return {"id": "cam", "kind": "rtp",
            "ingress": {"port": 0, "addr": "10.99.1.2", "udp_port": 5004, "source": "latch",
                        "clock_rates": {"96": 90000}, "codecs": {"96": "h264"}},
            "outputs": [{"id": "base", "port": 1, "addr": RECEIVERS[0], "udp_port": BASE}]}


def update(dpl, spec):
    rc, out = dpl.ctl("replace", "-", stdin=json.dumps(spec))
    T.eq(rc, 0, "session update accepted: %s" % out)



def mid_stream_join(topo, dpl, d, clip, ref, sdp):
    spec = cam_session()
    cap = os.path.join(d, "base.pcap")
    tshark = topo.popen(topo.dst, "tshark", "-q", "-i", "d0", "-f", "udp dst port %d" % BASE,
                        "-w", cap, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    kf_out, kf_p = rtp_receiver(topo, d, sdp, RECEIVERS[1], KF, "kf")
    imm_out, imm_p = rtp_receiver(topo, d, sdp, RECEIVERS[2], IMM, "imm")
    topo.wait_udp(topo.dst, KF, IMM)
    time.sleep(1)			# tshark has no "listening" signal on a pcap file
    # The sending host resolves mfwd's address before the stream: a kernel that resolves
    # while it sends may let a new packet pass the ones it queued, and this test counts
    # what mfwd sends.
    r = topo.run(topo.src, "ping", "-c", "1", "-W", "5", "10.99.1.2", capture_output=True)
    T.eq(r.returncode, 0, "the sender's host reaches mfwd")
    sender = topo.popen(topo.src, "ffmpeg", "-nostdin", "-v", "error", "-re", "-i", clip, "-c",
                        "copy", "-f", "rtp", "-payload_type", "96", "-ssrc", "4660",
                        "rtp://10.99.1.2:5004?localport=4000", stdout=subprocess.DEVNULL,
                        stderr=subprocess.PIPE)
    # 0.7 s into the stream (mid-GOP): a viewer joins twice, once waiting for a key frame.
    dpl.wait_for(lambda s: s["sessions"]["cam"]["rx_pkts"] >= 1, timeout=20, what="stream")
    t0 = time.time()
    time.sleep(0.7)
    spec["outputs"] += [
        {"id": "kf", "port": 1, "addr": RECEIVERS[1], "udp_port": KF, "start": "keyframe"},
        {"id": "imm", "port": 1, "addr": RECEIVERS[2], "udp_port": IMM}]
    spec["outputs"][0]["paused"] = True
    update(dpl, spec)
    time.sleep(0.5)
    spec["outputs"][0]["paused"] = False
    update(dpl, spec)
    joined = time.time() - t0
    sender.wait(timeout=60)
    kf, kf_err = finish(kf_out, kf_p)
    imm, imm_err = finish(imm_out, imm_p)
    tshark.terminate()
    tshark.wait(timeout=10)
    T.check(kf_err.strip() == "", "kf: no decode error (%r)" % kf_err[-300:])
    first = ref.index(kf[0]) if kf and kf[0] in ref else -1
    T.check(first > 0 and first % GOP == 0,
            "kf: first frame decoded is a key frame (frame %d of %d)" % (first, len(ref)))
    T.check(first > 0 and kf == ref[first:first + len(kf)] and len(kf) >= len(ref) - first - 1,
            "kf: every frame after it identical to the local decode (%d frames)" % len(kf))
    imm_first = ref.index(imm[0]) if imm and imm[0] in ref else -1
    print("imm (contrast): first frame %d, %d frames, stderr %r" %
          (imm_first, len(imm), imm_err[-200:]))
    st = dpl.stats()["sessions"]["cam"]
    k = st["outputs"]["kf"]
    # Added by one update, both saw the same packets: imm sent what kf held back, the rest
    # of a GOP its decoder had to throw away.
    T.check(k["drop_kf_wait"] > 0 and
            st["outputs"]["imm"]["tx_pkts"] - k["tx_pkts"] == k["drop_kf_wait"],
            "imm: sent the %d packets before the key frame that kf held back" %
            k["drop_kf_wait"])
    T.check(k["kf_waits"] == 1 and k["drop_kf_wait"] > 0,
            "kf: waited once, held back %d packets, %d ms (joined at %.1f s)" %
            (k["drop_kf_wait"], k["kf_wait_ms"], joined))
    T.check(st["kf_req_sent"] >= 1, "cam: a PLI went to ffmpeg (it ignores it): %d" %
            st["kf_req_sent"])
    r = subprocess.run(["tshark", "-r", cap, "-q", "-d", "udp.port==%d,rtp" % BASE, "-z",
                        "rtp,streams"], capture_output=True, text=True)
    rows = [l for l in r.stdout.splitlines() if "0x00001234" in l]
    T.check(len(rows) == 1, "base: tshark sees one RTP stream:\n%s" % r.stdout)
    if rows:
        # Columns from the right: ... Pkts Lost (pct) Min Delta ...; "Lost" follows Pkts.
        f = rows[0].split()
        i = next(i for i, x in enumerate(f) if x.startswith("0x"))
        pkts, lost = int(f[i + 2]), int(f[i + 3])
        T.check(pkts > 0 and lost == 0, "base: paused and resumed, tshark counts %d lost of %d "
                "(mfwd saw %d out of order, %d duplicates, arriving)" %
                (lost, pkts, st["reorder"], st["dup"]))
        T.check(st["outputs"]["base"]["drop_paused"] > 0, "base: was paused (%d)" %
                st["outputs"]["base"]["drop_paused"])


def gop_join(topo, dpl, d, clip, ref, sdp):
    spec = {"id": "gopcam", "kind": "rtp",
            "ingress": {"port": 0, "addr": "10.99.1.2", "udp_port": 5204, "source": "latch",
                        "clock_rates": {"96": 90000}, "codecs": {"96": "h264"},
                        "gop_cache": {"max_ms": 5000}},
            "outputs": [{"id": "base", "port": 1, "addr": RECEIVERS[0], "udp_port": 6200}]}
    rc, out = dpl.add(spec)
    T.eq(rc, 0, "gopcam session: %s" % out)
    g_out, g_p = rtp_receiver(topo, d, sdp, RECEIVERS[1], 6210, "gop")
    topo.wait_udp(topo.dst, 6210)
    sender = topo.popen(topo.src, "ffmpeg", "-nostdin", "-v", "error", "-re", "-i", clip, "-c",
                        "copy", "-f", "rtp", "-payload_type", "96", "-ssrc", "4661",
                        "rtp://10.99.1.2:5204?localport=4010", stdout=subprocess.DEVNULL,
                        stderr=subprocess.PIPE)
    dpl.wait_for(lambda s: s["sessions"]["gopcam"]["rx_pkts"] >= 1, timeout=20, what="stream")
    time.sleep(1.5)
    spec["outputs"].append({"id": "g", "port": 1, "addr": RECEIVERS[1], "udp_port": 6210,
                            "start": "gop"})
    update(dpl, spec)
    sender.wait(timeout=60)
    got, err = finish(g_out, g_p)
    st = dpl.stats()["sessions"]["gopcam"]
    g = st["outputs"]["g"]
    print("gop: replayed %d packets; cache now %d packets %d bytes; %d frames decoded" %
          (g["gop_replayed"], st["gop_pkts"], st["gop_bytes"], len(got)))
    T.check(err.strip() == "", "gop: no decode error (%r)" % err[-300:])
    first = ref.index(got[0]) if got and got[0] in ref else -1
    T.check(first >= 0 and first % GOP == 0, "gop: first frame is a key frame (%d)" % first)
    T.check(first >= 0 and got == ref[first:first + len(got)] and
            first + len(got) >= len(ref) - 1,
            "gop: every frame from it to the end identical to the local decode (%d)" % len(got))
    T.check(g["gop_replays"] == 1 and g["gop_replayed"] > 0 and g["kf_waits"] == 0,
            "gop: started from the cache, not by waiting (%s)" % g)
    T.eq(g["drop_kf_wait"], 0, "gop: nothing held back")


# VP8 over RTP from the src host, a command per line on stdin: "kf N" a key frame and "delta
# N" an interframe, each of N packets (one timestamp, the marker on the last); "ok" after.
VP8_SENDER = """
import socket, struct, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("10.99.1.1", 4020))
seq, ts = 100, 0
for line in sys.stdin:
    what, n = line.split()
    for i in range(int(n)):
        first = bytes([0x10, 0x00 if what == "kf" else 0x01, 0, 0, 0x9d, 0x01, 0x2a])
        pl = first if i == 0 else bytes([0x00])
        m = 0x80 if i == int(n) - 1 else 0
        s.sendto(struct.pack("!BBHII", 0x80, m | 96, seq, ts, 0x7788) + pl + bytes(200),
                 ("10.99.1.2", 5304))
        seq += 1
    ts += 3000
    print("ok", flush=True)
"""

# RTP packets received on a port of the dst host, in order, once 2 s (or argv[3]) pass
# quiet: each its sequence number and its payload's first two bytes (RAW_RECEIVER: each
# datagram, in hex).
SEQ_RECEIVER = """
import json, socket, struct, sys
RAW = False
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind((sys.argv[1], int(sys.argv[2])))
s.settimeout(30)
got = []
while True:
    try:
        d = s.recv(2048)
    except socket.timeout:
        break
    got.append(d.hex() if RAW else [struct.unpack("!H", d[2:4])[0], d[12], d[13]])
    s.settimeout(float(sys.argv[3]) if len(sys.argv) > 3 else 2)
print(json.dumps(got))
"""
RAW_RECEIVER = SEQ_RECEIVER.replace("RAW = False", "RAW = True")

# Each line a datagram in hex to send ("<hex> 1", as feed's send writes it).
HEX_SENDER = """
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("10.99.1.1", 4023))
for line in sys.stdin:
    s.sendto(bytes.fromhex(line.split()[0]), ("10.99.1.2", 5310))
    print("ok", flush=True)
"""


def vp8_kf(g):
    """A received packet (SEQ_RECEIVER's) that starts a VP8 key frame."""
    return g[1] == 0x10 and g[2] == 0


def feed(topo, dpl, sid, receiver, port, sender, kf_pkts, quiet=2):
    """@receiver on RECEIVERS[1]:@port (ending @quiet s after its last packet) and @sender
    of session @sid's input, driven a line at a time ("kf N" or "delta N"; a key frame line
    sends @kf_pkts packets per N): @return (receiver, sender, send(what, n)), send
    returning once mfwd has them all."""
    rx = topo.popen(topo.dst, sys.executable, "-c", receiver, RECEIVERS[1], str(port),
                    str(quiet), stdout=subprocess.PIPE)
    topo.wait_udp(topo.dst, port)
    tx = topo.popen(topo.src, sys.executable, "-c", sender, stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE, text=True)
    sent = [0]

    def send(what, n):
        tx.stdin.write("%s %d\n" % (what, n))
        tx.stdin.flush()
        tx.stdout.readline()
        sent[0] += n * (kf_pkts if what == "kf" else 1)
        dpl.wait_for(lambda st: st["sessions"][sid]["rx_pkts"] >= sent[0], timeout=10,
                     what="%d packets received" % sent[0])
    return rx, tx, send


def gop_viewer(dpl, spec, port):
    """Output "v" added to @spec's session, to RECEIVERS[1]:@port, starting from the cache."""
    spec["outputs"].append({"id": "v", "port": 1, "addr": RECEIVERS[1], "udp_port": port,
                            "start": "gop"})
    update(dpl, spec)


def received(rx, tx):
    """The sender told to end, what the receiver got (SEQ_RECEIVER's list)."""
    tx.stdin.close()
    return json.loads(rx.communicate(timeout=60)[0] or "[]")


def gop_cut(topo, dpl):
    """A viewer joins with "start": "gop" while the cache holds more than one live packet
    replays, and the next key frame comes before the replay ends: what was not replayed
    is never sent, and the output's numbers must not show it as lost (its receiver would
    count the hole and ask for packets no ring has)."""
    spec = {"id": "cut", "kind": "rtp",
            "ingress": {"port": 0, "addr": "10.99.1.2", "udp_port": 5304, "source": "latch",
                        "clock_rates": {"96": 90000}, "codecs": {"96": "vp8"},
                        "gop_cache": {"max_ms": 60000}},
            "outputs": [{"id": "base", "port": 1, "addr": RECEIVERS[0], "udp_port": 6300}]}
    rc, out = dpl.add(spec)
    T.eq(rc, 0, "cut session: %s" % out)
    rx, tx, send = feed(topo, dpl, "cut", SEQ_RECEIVER, 6310, VP8_SENDER, 1)
    send("kf", 4)
    for _ in range(20):
        send("delta", 4)		# the cache: 84 packets, 32 replayed per live packet
    gop_viewer(dpl, spec, 6310)
    send("delta", 1)			# 32 of 85 replayed
    send("kf", 4)			# the cache starts again: the rest of the old GOP is gone
    for _ in range(5):
        send("delta", 4)
    got = received(rx, tx)
    o = dpl.stats()["sessions"]["cut"]["outputs"]["v"]
    seqs = [g[0] for g in got]
    holes = sum((b - a - 1) & 0xffff for a, b in zip(seqs, seqs[1:]))
    print("gop cut: %d packets received, %d missing between them; output %s" %
          (len(got), holes, {k: v for k, v in o.items() if v and isinstance(v, int)}))
    T.check(got and vp8_kf(got[0]) and o["gop_replayed"] >= 32,
            "gop cut: the viewer starts at the cached key frame, replayed in part")
    T.check(sum(1 for g in got if vp8_kf(g)) == 2 and got[-1][0] == (seqs[0] + len(got) - 1) & 0xffff,
            "gop cut: the viewer's numbers run on without a hole into the next key frame "
            "(%d missing)" % holes)


def gop_resumed(topo, dpl):
    """An output with "start": "gop" paused and resumed is sent the cache from its key
    frame, numbered on from its last packet (as they came, the cache's numbers were ones it
    had used, or the same number for every packet replayed); paused again while a new GOP
    starts, the new GOP. Its receiver's numbers run on, each once."""
    spec = {"id": "res", "kind": "rtp",
            "ingress": {"port": 0, "addr": "10.99.1.2", "udp_port": 5320, "source": "latch",
                        "clock_rates": {"96": 90000}, "codecs": {"96": "vp8"},
                        "gop_cache": {"max_ms": 60000}},
            "outputs": [{"id": "v", "port": 1, "addr": RECEIVERS[1], "udp_port": 6320,
                         "start": "gop"}]}
    rc, out = dpl.add(spec)
    T.eq(rc, 0, "res session: %s" % out)
    sender = VP8_SENDER.replace("4020", "4024").replace("5304", "5320")
    rx, tx, send = feed(topo, dpl, "res", SEQ_RECEIVER, 6320, sender, 1)

    def paused(on):
        spec["outputs"][0]["paused"] = on
        update(dpl, spec)
    send("kf", 2)
    send("delta", 2)			# 4 sent
    paused(True)
    send("delta", 2)			# cached, not sent
    paused(False)
    send("delta", 1)			# the cache's 6 from its key frame, then this one
    paused(True)
    send("kf", 2)			# a new GOP while paused
    send("delta", 1)
    paused(False)
    send("delta", 1)			# the new GOP's 3, then this one
    got = received(rx, tx)
    seqs = [g[0] for g in got]
    T.eq([(s - seqs[0]) & 0xffff for s in seqs] if seqs else None, list(range(15)),
         "gop resumed: 15 packets, numbered on, each once")
    T.eq([i for i, g in enumerate(got) if vp8_kf(g)], [0, 4, 11],
         "gop resumed: a key frame first, and first of each replay")


# H.264 as webrtcbin's and ffmpeg's payloaders send a key frame: SPS, PPS and the IDR in
# packets of their own, one timestamp; a delta frame is one P slice.
H264_SENDER = """
import socket, struct, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("10.99.1.1", 4021))
seq, ts = 500, 0
for line in sys.stdin:
    what, n = line.split()
    for k in range(int(n)):
        nals = [0x67, 0x68, 0x65] if what == "kf" else [0x41]
        for i, nal in enumerate(nals):
            m = 0x80 if i == len(nals) - 1 else 0
            s.sendto(struct.pack("!BBHII", 0x80, m | 96, seq, ts, 0x7789) + bytes([nal]) +
                     bytes(100), ("10.99.1.2", 5306))
            seq += 1
        ts += 3000
    print("ok", flush=True)
"""


def gop_params(topo, dpl):
    """H.264's SPS and IDR each start a key frame: the cache keeps a key frame's packets
    whole, its parameter sets first, or a viewer starting from it could not decode the
    IDR with the stream's own (a webrtcbin viewer decoded the first GOP with others)."""
    spec = {"id": "par", "kind": "rtp",
            "ingress": {"port": 0, "addr": "10.99.1.2", "udp_port": 5306, "source": "latch",
                        "clock_rates": {"96": 90000}, "codecs": {"96": "h264"},
                        "gop_cache": {"max_ms": 60000}},
            "outputs": [{"id": "base", "port": 1, "addr": RECEIVERS[0], "udp_port": 6400}]}
    rc, out = dpl.add(spec)
    T.eq(rc, 0, "par session: %s" % out)
    rx, tx, send = feed(topo, dpl, "par", SEQ_RECEIVER, 6410, H264_SENDER, 3)
    send("kf", 1)
    send("delta", 3)
    gop_viewer(dpl, spec, 6410)
    send("delta", 2)
    got = received(rx, tx)
    T.eq([g[1] & 0x1f for g in got], [7, 8, 5, 1, 1, 1, 1, 1],
         "gop params: the viewer gets the cached key frame from its SPS, then the GOP")


# VP8_SENDER's packets under SRTP (pylibsrtp, Debian's libsrtp2) until told "plain 0".
SRTP_SENDER = """
import base64, socket, struct, sys
from pylibsrtp import Policy, Session
key = base64.b64decode("KEY")
tx = Session(Policy(key=key, ssrc_type=Policy.SSRC_ANY_OUTBOUND,
                    srtp_profile=Policy.SRTP_PROFILE_AES128_CM_SHA1_80))
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("10.99.1.1", 4022))
seq, ts, srtp = 700, 0, True
for line in sys.stdin:
    what, n = line.split()
    srtp = srtp and what != "plain"
    for i in range(int(n)):
        first = bytes([0x10, 0x00 if what == "kf" else 0x01, 0, 0, 0x9d, 0x01, 0x2a])
        pl = first if i == 0 else bytes([0x00])
        m = 0x80 if i == int(n) - 1 else 0
        p = struct.pack("!BBHII", 0x80, m | 96, seq, ts, 0x778a) + pl + bytes(200)
        s.sendto(tx.protect(p) if srtp else p, ("10.99.1.2", 5308))
        seq += 1
    ts += 3000
    print("ok", flush=True)
"""


def gop_srtp_dropped(topo, dpl):
    """The GOP cache holds an SRTP camera's packets decrypted; the session is replaced
    without SRTP (the cache stays: its limits are the same), and a viewer joins with
    "start": "gop". The cached packets still carry the ciphertext's UDP checksum: they must
    leave with checksums their receiver's kernel accepts (it drops the others unseen)."""
    if importlib.util.find_spec("pylibsrtp") is None:
        print("gop srtp: skipped, python3-pylibsrtp not installed")
        return
    key = base64.b64encode(os.urandom(30)).decode()
    spec = {"id": "sec", "kind": "rtp",
            "ingress": {"port": 0, "addr": "10.99.1.2", "udp_port": 5308, "source": "latch",
                        "clock_rates": {"96": 90000}, "codecs": {"96": "vp8"},
                        "srtp": {"suite": "AES_CM_128_HMAC_SHA1_80", "key": key},
                        "gop_cache": {"max_ms": 60000}},
            "outputs": [{"id": "base", "port": 1, "addr": RECEIVERS[0], "udp_port": 6500}]}
    rc, out = dpl.add(spec)
    T.eq(rc, 0, "sec session: %s" % out)
    rx, tx, send = feed(topo, dpl, "sec", SEQ_RECEIVER, 6510,
                        SRTP_SENDER.replace("KEY", key), 1)
    send("kf", 4)
    send("delta", 2)
    send("delta", 2)
    del spec["ingress"]["srtp"]
    update(dpl, spec)
    send("plain", 0)
    gop_viewer(dpl, spec, 6510)
    send("delta", 2)
    got = received(rx, tx)
    T.check(got and vp8_kf(got[0]) and [g[0] for g in got] == list(range(700, 710)),
            "gop srtp: the viewer gets the cached key frame and GOP, decrypted, then the "
            "live packets: %s" % [g[0] for g in got])


# VP8_SENDER's packets from port @sport to @dport, and on "idr N" a frame of N packets
# whose first is an H.264 IDR.
def switch_sender(sport, dport):
    return VP8_SENDER.replace("4020", str(sport)).replace("5304", str(dport)).replace(
        "        first = bytes(", """        if what == "idr":
            first = bytes([0x65])
        else:
            first = bytes(""")


def vp8_camera(topo, dpl, sid, n, quiet=2):
    """Session @sid of a VP8 camera with a GOP cache, sending from port 4024 + n to
    5312 + 2n, its viewer's receiver on port 6710 + 100n (as feed's, @quiet): @return
    (spec, rx, tx, send), the spec for switch_codec to change to H.264."""
    spec = {"id": sid, "kind": "rtp",
            "ingress": {"port": 0, "addr": "10.99.1.2", "udp_port": 5312 + 2 * n,
                        "source": "latch", "clock_rates": {"96": 90000},
                        "codecs": {"96": "vp8"}, "gop_cache": {"max_ms": 60000}},
            "outputs": [{"id": "base", "port": 1, "addr": RECEIVERS[0],
                         "udp_port": 6700 + 100 * n}]}
    rc, out = dpl.add(spec)
    T.eq(rc, 0, "%s session: %s" % (sid, out))
    return (spec,) + feed(topo, dpl, sid, SEQ_RECEIVER, 6710 + 100 * n,
                          switch_sender(4024 + n, 5312 + 2 * n), 1, quiet)


def switch_codec(dpl, spec):
    """The session replaced with H.264 on the same payload type, the cache's limits the
    same (the source renegotiated)."""
    spec["ingress"]["codecs"] = {"96": "h264"}
    update(dpl, spec)


def gop_codec_changed(topo, dpl):
    """A camera's VP8 GOP is cached; the session is replaced with H.264; a viewer joins
    with "start": "gop". It must start at the first H.264 key frame: VP8 frames sent as
    H.264 cannot be decoded, and the cache's key frames were found under the old codec."""
    spec, rx, tx, send = vp8_camera(topo, dpl, "cc", 0)
    send("kf", 4)
    send("delta", 2)
    switch_codec(dpl, spec)
    gop_viewer(dpl, spec, 6710)
    send("delta", 1)			# what the viewer starts on: not a key frame
    send("idr", 1)
    send("delta", 1)
    got = received(rx, tx)
    T.eq([g[0] for g in got], [107, 108],
         "gop codec: the viewer starts at the first key frame of the new codec")


def gop_swapped_mid_replay(topo, dpl):
    """A viewer is partway through a replay of a session's first GOP when the session is
    replaced with another codec, and the new codec's key frame comes next: its new cache
    holds that key frame alone. The viewer must go on live from it (the old GOP's rest is
    gone), not take the new cache for the one it was replaying (both first GOPs)."""
    # The replace comes between two packets the viewer receives: time for it on a slow host.
    spec, rx, tx, send = vp8_camera(topo, dpl, "sw", 1, quiet=8)
    send("kf", 4)
    for _ in range(20):
        send("delta", 2)		# the cache: 44 packets, 32 replayed per live packet
    gop_viewer(dpl, spec, 6810)
    send("delta", 1)			# 32 of 45 replayed
    switch_codec(dpl, spec)
    send("idr", 1)
    send("delta", 1)
    got = received(rx, tx)
    seqs = [g[0] for g in got]
    T.check(len(got) == 34 and got[32][1] == 0x65 and seqs == list(range(100, 134)),
            "gop swapped: the viewer gets 32 replayed, then the new codec's key frame and "
            "what follows, numbered on: %s" % [(g[0], g[1]) for g in got[30:]])


def ts_psi_kept(topo, dpl):
    """The GOP cache keeps an MPEG-TS stream's last PAT and PMT datagram, before the first
    key frame too. An output that PID-filters the same datagram must not write its own
    frame into the kept one, or a viewer starting from the cache is sent that output's
    bytes for its PAT and PMT. Tables that do not apply yet (current_next_indicator 0) or
    that the dataplane could not read (a PMT section too short) come after it: the cache
    must keep the one that applies, or the viewer starts with a table its decoder sets
    aside."""
    spec = {"id": "tspsi", "kind": "mpegts",
            "ingress": {"port": 0, "addr": "10.99.1.2", "udp_port": 5310, "source": "latch",
                        "gop_cache": {"max_ms": 60000}},
            "outputs": [{"id": "aud", "port": 1, "addr": RECEIVERS[0], "udp_port": 6600,
                         "pids": [0x200]}]}
    rc, out = dpl.add(spec)
    T.eq(rc, 0, "tspsi session: %s" % out)
    psi = pat(0) + pmt(0)
    short = bytearray(pmt(1))
    short[7] = 12                       # section_length 12: no PMT is that short
    unread = [pat(1, current=False) + es(0x200, 2, 0xA2),
              fix_crc(short) + es(0x200, 3, 0xA3),
              pmt(2, video=0x111, current=False) + es(0x200, 4, 0xA4)]
    dgrams = [psi + es(0x200, 0, 0xA0) + es(0x200, 1, 0xA1),
              video_kf(0) + es(0x101, 1, 1), es(0x101, 2, 2) + es(0x101, 3, 3),
              es(0x101, 4, 4)]
    rx, tx, send = feed(topo, dpl, "tspsi", RAW_RECEIVER, 6610, HEX_SENDER, 1)
    for g in dgrams[:1] + unread + dgrams[1:3]:
        send(g.hex(), 1)
    gop_viewer(dpl, spec, 6610)
    send(dgrams[3].hex(), 1)
    got = received(rx, tx)
    T.eq(got, [psi.hex()] + [g.hex() for g in dgrams[1:]],
         "ts psi: the viewer gets the PAT and PMT that apply as they came, then the GOP "
         "and live")


def ts_receiver(topo, d, addr, port, name):
    out = os.path.join(d, name + ".md5")
    return out, topo.popen(
        topo.dst, "ffmpeg", "-nostdin", "-v", "error", "-y", "-probesize", "500000",
        "-analyzeduration", "1000000", "-i",
        # The cache comes in bursts of 32 datagrams: a socket buffer to take them.
        "udp://%s:%d?timeout=5000000&fifo_size=100000&buffer_size=4000000" % (addr, port),
        "-f", "framemd5", out,
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def ts_join(topo, dpl, d, clip, ref):
    spec = {"id": "tscam", "kind": "mpegts",
            "ingress": {"port": 0, "addr": "10.99.1.2", "udp_port": 1300,
                        "gop_cache": {"max_ms": 5000}},
            "outputs": [{"id": "base", "port": 1, "addr": RECEIVERS[0], "udp_port": 2300}]}
    rc, out = dpl.add(spec)
    T.eq(rc, 0, "tscam session: %s" % out)
    rx = {n: ts_receiver(topo, d, a, p, "ts_" + n)
          for n, a, p in (("kf", RECEIVERS[1], 2310), ("gop", RECEIVERS[2], 2320))}
    topo.wait_udp(topo.dst, 2310, 2320)
    sender = topo.popen(topo.src, "ffmpeg", "-nostdin", "-v", "error", "-re", "-i", clip, "-c",
                        "copy", "-f", "mpegts",
                        "udp://10.99.1.2:1300?pkt_size=1316&localport=4020",
                        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    dpl.wait_for(lambda s: s["sessions"]["tscam"]["rx_pkts"] >= 1, timeout=20, what="TS")
    time.sleep(1.2)
    spec["outputs"] += [
        {"id": "kf", "port": 1, "addr": RECEIVERS[1], "udp_port": 2310, "start": "keyframe"},
        {"id": "gop", "port": 1, "addr": RECEIVERS[2], "udp_port": 2320, "start": "gop"}]
    update(dpl, spec)
    sender.wait(timeout=60)
    st = dpl.stats()["sessions"]["tscam"]
    for n, (out, p) in rx.items():
        got, err = finish(out, p)
        first = ref.index(got[0]) if got and got[0] in ref else -1
        o = st["outputs"][n]
        print("ts %s: first frame %d, %d frames; waits %d, held %d, replayed %d" %
              (n, first, len(got), o["kf_waits"], o["drop_kf_wait"], o["gop_replayed"]))
        T.check(err.strip() == "", "ts %s: no decode error (%r)" % (n, err[-300:]))
        T.check(first >= 0 and first % GOP == 0, "ts %s: first frame a key frame" % n)
        T.check(first >= 0 and got == ref[first:first + len(got)] and
                first + len(got) >= len(ref) - 1, "ts %s: every frame bit-exact" % n)
    T.check(st["outputs"]["kf"]["drop_kf_wait"] > 0, "ts kf: held back until a key frame")
    T.check(st["outputs"]["gop"]["gop_replays"] == 1 and
            st["outputs"]["gop"]["gop_replayed"] > 0, "ts gop: started from the cache")


# A camera that sends no key frame: an H.264 non-IDR slice every 10 ms from 4030, until it
# has as many FIRs on 4031 as a line on its stdin says (or 30 s more pass); then, as JSON,
# their command sequence numbers in order.
FIR_CAMERA = """
import json, select, socket, struct, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("10.99.1.1", 4030))
r = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
r.bind(("10.99.1.1", 4031))
print("ready", flush=True)
seq, firs, want, end, ins = 0, [], None, None, [sys.stdin, r]
while want is None or (len(firs) < want and time.time() < end):
    rd, _, _ = select.select(ins, [], [], 0.01)
    if sys.stdin in rd:
        want, end, ins = int(sys.stdin.readline()), time.time() + 30, [r]
    if r in rd:
        b = r.recv(2048)
        if len(b) >= 20 and b[0] == 0x84 and b[1] == 206:
            firs.append(b[16])
    s.sendto(struct.pack("!BBHII", 0x80, 0x80 | 96, seq, seq * 3600, 0x3030) + bytes([0x41]) +
             bytes(100), ("10.99.1.2", 5330))
    seq = (seq + 1) & 0xffff
print(json.dumps(firs), flush=True)
"""
# PLIs for the camera's SSRC from a receiver's RTCP port, every 150 ms until stdin closes;
# then how many it sent.
PLIER = """
import select, socket, struct, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("10.99.2.3", 6331))
n = 0
while not select.select([sys.stdin], [], [], 0.15)[0]:
    s.sendto(bytes([0x81, 206, 0, 2]) + struct.pack("!II", 0x99, 0x3030), ("10.99.2.2", 5331))
    n += 1
print(n, flush=True)
"""


def fir_retry(topo, dpl):
    """A source that answers no FIR: each request goes twice (the retry after
    keyframe_interval_ms) with the same command sequence number, and the next request, on a
    later PLI, with the next one (RFC 5104 4.3.1.2: a repetition shall not increase it)."""
    spec = {"id": "fir", "kind": "rtp",
            "ingress": {"port": 0, "addr": "10.99.1.2", "udp_port": 5330, "source": "latch",
                        "clock_rates": {"96": 90000}, "codecs": {"96": "h264"},
                        "keyframe_request": "fir"},
            "limits": {"keyframe_interval_ms": 100},
            "outputs": [{"id": "v", "port": 1, "addr": RECEIVERS[1], "udp_port": 6330}]}
    rc, out = dpl.add(spec)
    T.eq(rc, 0, "fir session: %s" % out)
    cam = topo.popen(topo.src, sys.executable, "-c", FIR_CAMERA, stdin=subprocess.PIPE,
                     stdout=subprocess.PIPE, text=True)
    T.eq(cam.stdout.readline().strip(), "ready", "fir: the camera listens")
    dpl.wait_for(lambda st: st["sessions"]["fir"]["rx_pkts"] >= 5, what="the camera's stream")
    plier = topo.popen(topo.dst, sys.executable, "-c", PLIER, stdin=subprocess.PIPE,
                       stdout=subprocess.PIPE, text=True)
    try:
        dpl.wait_for(lambda st: st["sessions"]["fir"]["kf_req_sent"] >= 5, timeout=30,
                     what="three requests begun")
    finally:
        plis = int(plier.communicate(input="", timeout=10)[0].strip() or 0)
    # Every PLI read, so no request starts after; each one begun (a PLI not coalesced)
    # sent and retried.
    st = dpl.wait_for(lambda st: st["sessions"]["fir"]["kf_req_received"] == plis and
                      st["sessions"]["fir"]["kf_req_sent"] ==
                      2 * (plis - st["sessions"]["fir"]["kf_req_coalesced"]), timeout=10,
                      what="every PLI read, every request retried")["sessions"]["fir"]
    firs = json.loads(cam.communicate(input="%d\n" % st["kf_req_sent"], timeout=60)[0])
    print("fir: %d PLIs, %d FIRs sent; the camera got sequence numbers %s" %
          (plis, st["kf_req_sent"], firs))
    T.check(len(firs) == st["kf_req_sent"] and
            firs == [(i // 2) & 0xff for i in range(len(firs))],
            "fir: each request and its retry with the same number, the next request the next")
    rc, out = dpl.ctl("del", "fir")
    T.eq(rc, 0, "fir session deleted: %s" % out)


def pli_storm(topo, dpl, d, spec):
    """62 more receivers (64 outputs) each send 10 PLIs a second for 4 s; the sender, where
    tshark counts them, gets at most one a second."""
    n, secs = 62, 4
    spec["outputs"] += [{"id": "r%d" % i, "port": 1, "addr": RECEIVERS[2],
                         "udp_port": 6300 + 2 * i} for i in range(n)]
    rc, out = dpl.ctl("replace", "-", stdin=json.dumps(spec))
    T.eq(rc, 0, "gst: %d more outputs: %s" % (n, out))
    before = dpl.stats()["sessions"]["gst"]
    cap = os.path.join(d, "pli.pcap")
    tshark = topo.popen(topo.src, "tshark", "-q", "-i", "s0", "-f", "udp dst port 4101",
                        "-w", cap, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    time.sleep(1)			# tshark has no "listening" signal on a pcap file
    t0 = time.time()
    r = topo.run(topo.dst, "/usr/bin/python3", os.path.join(HERE, "pli_storm.py"), RECEIVERS[2],
                 "6300", str(n), "10.99.2.2", "5105", str(GST_SSRC), "10", str(secs),
                 capture_output=True, timeout=60)
    took = time.time() - t0
    sent = int(r.stdout.decode().strip() or 0)
    time.sleep(0.5)
    tshark.terminate()
    tshark.wait(timeout=10)
    after = dpl.stats()["sessions"]["gst"]
    rd = subprocess.run(["tshark", "-r", cap, "-Y", "rtcp.pt == 206 && rtcp.psfb.fmt == 1"],
                        capture_output=True, text=True)
    at_sender = len([l for l in rd.stdout.splitlines() if l.strip()])
    got = after["kf_req_received"] - before["kf_req_received"]
    print("storm: %d PLIs from %d receivers in %.1f s; mfwd read %d, coalesced %d, sent %d; "
          "the sender got %d" % (sent, n, took, got, after["kf_req_coalesced"] -
                                 before["kf_req_coalesced"], after["kf_req_sent"] -
                                 before["kf_req_sent"], at_sender))
    T.eq(got, sent, "storm: every PLI read")
    T.check(1 <= at_sender <= int(took) + 2,
            "storm: the sender got at most one PLI a second (%d in %.1f s)" % (at_sender, took))


def pli_to_encoder(topo, dpl, d):
    spec = {"id": "gst", "kind": "rtp",
            "ingress": {"port": 0, "addr": "10.99.1.2", "udp_port": 5104, "source": "latch",
                        "clock_rates": {"96": 90000}, "codecs": {"96": "h264"}},
            "outputs": [{"id": "a", "port": 1, "addr": RECEIVERS[0], "udp_port": 6100}]}
    rc, out = dpl.add(spec)
    T.eq(rc, 0, "gst session: %s" % out)
    # No sender reports: the PLI then goes to RTP port + 1, where rtpbin listens.
    gst = topo.popen(
        topo.src, "gst-launch-1.0", "-q", "rtpbin", "name=rb", "videotestsrc", "is-live=true",
        "pattern=ball", "!", "video/x-raw,width=320,height=240,framerate=25/1", "!",
        "x264enc", "key-int-max=250", "tune=zerolatency", "bitrate=500", "!",
        "rtph264pay", "config-interval=-1", "pt=96", "ssrc=%d" % GST_SSRC, "!",
        "rb.send_rtp_sink_0",
        "rb.send_rtp_src_0", "!", "udpsink", "host=10.99.1.2", "port=5104", "bind-port=4100",
        "udpsrc", "port=4101", "!", "rb.recv_rtcp_sink_0",
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        dpl.wait_for(lambda s: s["sessions"]["gst"]["rx_pkts"] >= 50, timeout=30,
                     what="GStreamer stream")
        spec["outputs"].append({"id": "kf", "port": 1, "addr": RECEIVERS[1], "udp_port": 6110,
                                "start": "keyframe"})
        rc, out = dpl.ctl("replace", "-", stdin=json.dumps(spec))
        T.eq(rc, 0, "gst: keyframe output added")
        st = dpl.wait_for(lambda s: s["sessions"]["gst"]["outputs"]["kf"]["tx_pkts"] > 0,
                          timeout=20, what="a key frame for the new output")
        g = st["sessions"]["gst"]
        k = g["outputs"]["kf"]
        print("gst: waited %d ms for a key frame (GOP 10 s); requests sent %d" %
              (k["kf_wait_ms"], g["kf_req_sent"]))
        T.check(g["kf_req_sent"] >= 1 and g["keyframes"] >= 1, "gst: PLI sent, key frame seen")
        T.check(k["kf_wait_ms"] < 5000, "gst: the encoder answered the PLI (%d ms, GOP 10 s)"
                % k["kf_wait_ms"])
        pli_storm(topo, dpl, d, spec)
    finally:
        gst.terminate()
        gst.wait(timeout=10)


def main():
    d = tempfile.mkdtemp(prefix="mfwd-kf-")
    clip, ref, sdp = make_clip(d, 8, GOP)
    with Topology("kf", RECEIVERS) as topo:
        dpl = Dataplane("netnskf", topo.ports_conf(), sessions=[cam_session()])
        with dpl:
            mid_stream_join(topo, dpl, d, clip, ref, sdp)
            gop_join(topo, dpl, d, clip, ref, sdp)
            gop_cut(topo, dpl)
            gop_resumed(topo, dpl)
            gop_params(topo, dpl)
            gop_srtp_dropped(topo, dpl)
            gop_codec_changed(topo, dpl)
            gop_swapped_mid_replay(topo, dpl)
            ts_psi_kept(topo, dpl)
            fir_retry(topo, dpl)
            ts_join(topo, dpl, d, clip, ref)
            pli_to_encoder(topo, dpl, d)
            if T.failed:
                print(dpl.tail())
    T.eq(dpl.rc, 0, "dataplane exited cleanly")
    T.done()


if __name__ == "__main__":
    main()
