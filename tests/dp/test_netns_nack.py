#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""NACK repair over a lossy link, with a real receiver.

ffmpeg in "src" sends H.264 over RTP to mfwd; mfwd's output (nack on) goes to a relay in
"dst" that drops 5 % of the RTP (seeded) before a GStreamer receiver (rtpbin, AVPF,
rtpjitterbuffer do-retransmission) on loopback; the receiver's RTCP (its Generic NACKs) goes
back through the relay to where mfwd sends from. Every frame the receiver writes decodes
bit-exact against the local decode of the clip, and mfwd counts the NACKs and resends.
Without NACK repair (the same run's second output, through a second relay with the same
loss) frames are lost or damaged: the contrast that shows the link really loses. A third
output does the same under SRTP: the receiver decrypts with srtpdec and protects its RTCP
with srtpenc under its own key, which the output knows as receiver_srtp.
Then "moved": an output keeps 5 frames for NACK repair and is moved to another receiver (a
replace with the same NACK buffer); that receiver's NACK for one of them must not resend
the frame addressed to the first (counted nack_miss, nothing sent to either), and the frames
sent to the first earn it no resend.
Then "flood": NACKs asking 4 times for the 5 frames sent get them resent once: resends never
outnumber the frames sent (nack_rate_skip).
"""
import json
import base64
import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Checks, Dataplane  # noqa: E402
from media import decoded_hashes as frame_hashes, gst_receiver, make_clip  # noqa: E402
from netns import Topology  # noqa: E402

T = Checks("netns_nack")
HERE = os.path.dirname(os.path.abspath(__file__))
RX = "10.99.2.1"
SUITE = "AES_CM_128_HMAC_SHA1_80"
KEY_OUT, KEY_RX = bytes(range(1, 31)), bytes(range(101, 131))	# key || salt


def srtp_json(k):
    return {"suite": SUITE, "key": base64.b64encode(k).decode()}




def sessions():
    out = {"port": 1, "addr": RX}
    return [{"id": "cam", "kind": "rtp",
             "ingress": {"port": 0, "addr": "10.99.1.2", "udp_port": 5004, "source": "latch",
                         "clock_rates": {"96": 90000}},
             "outputs": [dict(out, id="nack", udp_port=7000, nack={"buffer_ms": 3000}),
                         dict(out, id="plain", udp_port=7010),
                         dict(out, id="srtp", udp_port=7020, nack={"buffer_ms": 3000},
                              srtp=srtp_json(KEY_OUT), receiver_srtp=srtp_json(KEY_RX))]}]


def relay(topo, d, port, rx_port, back, seed):
    stop = os.path.join(d, "stop")
    p = topo.popen(topo.dst, "/usr/bin/python3", os.path.join(HERE, "lossy_relay.py"), RX,
                   str(port), str(rx_port), str(back), "10.99.2.2", "5005", "5", str(seed),
                   stop, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    T.check(p.stderr.readline().decode().strip() == "ready", "relay on %d ready" % port)
    return p


SENDER = """
import socket, struct, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("", int(sys.argv[1])))
first = int(sys.argv[3]) if len(sys.argv) > 3 else 1
for q in range(first, first + (int(sys.argv[4]) if len(sys.argv) > 4 else 5)):
    s.sendto(struct.pack("!BBHII", 0x80, 96, q, q * 3000, 0x4242) + bytes([q]) * 100,
             ("10.99.1.2", int(sys.argv[2])))
"""
COUNTER = """
import socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind((sys.argv[1], int(sys.argv[2])))
s.settimeout(float(sys.argv[3]))
print("ready", flush=True)
seqs = []
try:
    while True:
        b = s.recv(2048)
        if b == b"end":
            break
        seqs.append(int.from_bytes(b[2:4], "big"))
except socket.timeout:
    pass
print(seqs, flush=True)
"""
END = """
import socket, sys
socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b"end", (sys.argv[1], int(sys.argv[2])))
"""
# From the receiver's RTCP port argv[1] to the session's, argv[2]: a Generic NACK for
# argv[3] and the bitmask argv[4] after it.
NACKER = """
import socket, struct, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("10.99.2.1", int(sys.argv[1])))
s.sendto(bytes([0x81, 205, 0, 3]) + struct.pack("!IIHH", 0x77, 0x4242, int(sys.argv[3]),
                                                  int(sys.argv[4], 0)),
         ("10.99.2.2", int(sys.argv[2])))
"""


def five_sent(topo, dpl, sid, in_port, out_port):
    """Session @sid from 10.99.1.2:@in_port to RX:@out_port, its output keeping 16 frames for
    NACK (rtt_ms 1), and its receiver once the source's 5 frames went out: @return (spec,
    receiver, its stats)."""
    spec = {"id": sid, "kind": "rtp",
            "ingress": {"port": 0, "addr": "10.99.1.2", "udp_port": in_port},
            "outputs": [{"id": "n", "port": 1, "addr": RX, "udp_port": out_port,
                         "nack": {"packets": 16, "buffer_ms": 10000, "rtt_ms": 1}}]}
    rc, out = dpl.add(spec)
    T.eq(rc, 0, "%s session: %s" % (sid, out))
    rx = topo.popen(topo.dst, sys.executable, "-c", COUNTER, RX, str(out_port), "30",
                    stdout=subprocess.PIPE, text=True)
    T.eq(rx.stdout.readline().strip(), "ready", "%s: the receiver listens" % sid)
    topo.run(topo.src, sys.executable, "-c", SENDER, str(in_port - 1000), str(in_port),
             timeout=20)
    dpl.wait_for(lambda st: st["sessions"][sid]["outputs"]["n"]["tx_pkts"] >= 5,
                 what="%s: 5 frames sent" % sid)
    return spec, rx


def nacked(topo, dpl, sid, rtcp_port, dst_port, pid, blp, times):
    """NACKER's NACK @times, each once mfwd has read the one before (after rtt_ms, 1 ms,
    so none is skipped for it): @return @sid's output's stats once it has read them."""
    base = dpl.stats()["sessions"][sid]["outputs"]["n"]["nack_rx"]
    for i in range(times):
        topo.run(topo.dst, sys.executable, "-c", NACKER, str(rtcp_port), str(dst_port),
                 str(pid), blp, timeout=20)
        st = dpl.wait_for(lambda st: st["sessions"][sid]["outputs"]["n"]["nack_rx"] > base + i,
                          what="%s: NACK %d read" % (sid, i + 1))
    return st["sessions"][sid]["outputs"]["n"]


def received(topo, dpl, rx, port):
    """What receiver @rx on @port got, its sequence numbers, once a stats round has passed
    (mfwd's resends have left)."""
    dpl.wait_for(lambda st: st["ports"]["1"]["tx_pkts"] >= 0, what="a stats round")
    topo.run(topo.dst, sys.executable, "-c", END, RX, str(port), timeout=20)
    return json.loads(rx.communicate(timeout=20)[0].strip().replace("'", '"'))


def moved(topo, dpl):
    spec, first = five_sent(topo, dpl, "move", 5008, 7300)
    spec["outputs"][0]["udp_port"] = 7310
    rc, out = dpl.ctl("replace", "-", stdin=json.dumps(spec))
    T.eq(rc, 0, "the output moved: %s" % out)
    o = nacked(topo, dpl, "move", 7311, 5009, 3, "0", 1)
    T.eq((o["nack_resent"], o["nack_miss"]), (0, 1),
         "moved: a frame kept for the first receiver not resent on the second's NACK")
    # The 5 frames sent to the first earn the second nothing: one frame, one resend.
    topo.run(topo.src, sys.executable, "-c", SENDER, "4008", "5008", "6", "1", timeout=20)
    dpl.wait_for(lambda st: st["sessions"]["move"]["outputs"]["n"]["tx_pkts"] >= 6,
                 what="a frame sent to the second receiver")
    o = nacked(topo, dpl, "move", 7311, 5009, 6, "0", 3)
    T.eq((o["nack_resent"], o["nack_rate_skip"]), (1, 2),
         "moved: the second receiver's 3 NACKs for its one frame: 1 resend")
    T.eq(received(topo, dpl, first, 7300), [1, 2, 3, 4, 5],
         "moved: the first receiver got its 5 frames, nothing after")


def flood(topo, dpl):
    """An output's receiver (or anyone forging its address) NACKs the same 5 frames 4 times,
    each time after rtt_ms has passed: only as many resends as frames sent go out."""
    _, rx = five_sent(topo, dpl, "flood", 5012, 7320)
    o = nacked(topo, dpl, "flood", 7321, 5013, 1, "0xf", 4)
    T.eq((o["nack_resent"], o["nack_rate_skip"], o["nack_rtt_skip"], o["nack_miss"]),
         (5, 15, 0, 0), "flood: 5 resent on the first NACK, the 15 asked for after not")
    T.eq(received(topo, dpl, rx, 7320), [1, 2, 3, 4, 5] * 2,
         "flood: the receiver got the 5 frames and one resend of each")


def first_bad(got, ref):
    """Where a receiver's frames first differ from the reference (for the log)."""
    return next((i for i, (a, b) in enumerate(zip(got, ref)) if a != b), min(len(got),
                                                                           len(ref)))


def main():
    d = tempfile.mkdtemp(prefix="mfwd-nack-")
    # SPS/PPS in band: the receiver has no SDP.
    clip, ref, _ = make_clip(d, 6, 50, "-x264-params", "repeat-headers=1")
    with Topology("nk", (RX,)) as topo:
        dpl = Dataplane("netnsnack", topo.ports_conf(), sessions=sessions())
        with dpl:
            relays = [relay(topo, d, 7000 + 10 * i, 7100 + 10 * i, 7200 + 10 * i, 1)
                      for i in range(3)]
            rxs = [gst_receiver(topo, d, "nack", 7100, 7200),
                   gst_receiver(topo, d, "plain", 7110, 7210),
                   gst_receiver(topo, d, "srtp", 7120, 7220, srtp=(KEY_OUT, KEY_RX))]
            topo.wait_udp(topo.dst, 7100, 7110, 7120)
            T.eq(topo.reach(topo.src, "10.99.1.2"), [], "the sender's host reaches mfwd")
            r = topo.run(topo.src, "ffmpeg", "-nostdin", "-v", "error", "-re", "-i", clip, "-c",
                         "copy", "-f", "rtp", "-payload_type", "96", "-ssrc", "4660",
                         "rtp://10.99.1.2:5004?localport=4000", capture_output=True, timeout=60)
            T.eq(r.returncode, 0, "sender ran: %s" % r.stderr.decode()[-300:])
            time.sleep(3)		# the jitter buffer's latency: the last resends
            for _, p in rxs:
                p.send_signal(2)	# -e: end of stream, the file is complete
            for _, p in rxs:
                try:
                    p.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    p.kill()
            open(os.path.join(d, "stop"), "w").close()
            counts = [p.communicate(timeout=10)[0].decode().strip() for p in relays]
            print("relays: %s" % counts)
            st = dpl.stats()["sessions"]["cam"]["outputs"]
            print("nack output: %s" % {k: v for k, v in st["nack"].items() if "nack" in k})
            # A loss among the last packets cannot be seen (nothing follows it): the clip's
            # last second is not judged.
            judged = len(ref) - 25
            for name, rx in (("nack", rxs[0]), ("srtp", rxs[2])):
                got = frame_hashes(rx[0])
                if not T.check(len(got) >= judged, "%s: every frame decoded (%d)" %
                               (name, len(got))):
                    print("receiver %s said: %s" % (name, rx[1].stderr.read().decode()[-800:]))
                T.check(got[:judged] == ref[:judged], "%s: every frame bit-exact (first "
                        "difference at frame %d)" % (name, first_bad(got, ref)))
                T.check(st[name]["nack_rx"] > 0 and st[name]["nack_resent"] > 0,
                        "%s: NACKs read (%d), packets resent (%d)" %
                        (name, st[name]["nack_rx"], st[name]["nack_resent"]))
            plain = frame_hashes(rxs[1][0])
            T.check(plain[:judged] != ref[:judged], "plain (no NACK), same loss: %d of %d "
                    "frames, not all bit-exact" % (len(plain), len(ref)))
            T.eq(st["plain"]["nack_rx"], 0, "plain: its NACKs are not acted on")
            moved(topo, dpl)
            flood(topo, dpl)
            if T.failed:
                print(dpl.tail())
    T.eq(dpl.rc, 0, "dataplane exited cleanly")
    T.done()


if __name__ == "__main__":
    main()
