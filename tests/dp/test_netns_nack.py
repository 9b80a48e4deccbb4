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
"""
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
            if T.failed:
                print(dpl.tail())
    T.eq(dpl.rc, 0, "dataplane exited cleanly")
    T.done()


if __name__ == "__main__":
    main()
