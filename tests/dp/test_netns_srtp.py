#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""SRTP interop through mfwd between real hosts (network namespaces on veth pairs, the
dataplane on net_af_packet), with two SRTP implementations that are not ours:

- GStreamer srtpenc (AES_CM_128_HMAC_SHA1_80) -> mfwd decrypts -> ffmpeg, a plain RTP
  receiver, decodes every frame bit-exact;
- ffmpeg, plain RTP -> mfwd encrypts (AEAD_AES_128_GCM) -> GStreamer srtpdec decodes every
  frame bit-exact;
- ffmpeg SRTP (AES_CM_128_HMAC_SHA1_80) -> mfwd re-keys (AES_CM_128_HMAC_SHA1_32, another
  key) -> GStreamer srtpdec decodes every frame bit-exact;
- a sender with a wrong key: nothing is forwarded, the auth-failure counter equals the
  packets sent;
- re-keying both sides through a session replace while packets flow: every packet arrives
  and decrypts (under the old output key before, the new one after); packets the sender
  still protected with the old key after the replace pass under the previous key.
"""
import base64
import hashlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import SKIP, Checks, Dataplane  # noqa: E402
from netns import Topology  # noqa: E402
from media import make_clip, rtp_receiver  # noqa: E402
from test_netns_media import receiver_frames  # noqa: E402

try:
    import srtpflow  # noqa: E402 (needs pylibsrtp)
except ImportError:
    print("skip: python3-pylibsrtp not installed")
    sys.exit(SKIP)

T = Checks("netns_srtp")
HERE = os.path.dirname(os.path.abspath(__file__))
FLOW = os.path.join(HERE, "srtpflow.py")
LEN = {"AES_CM_128_HMAC_SHA1_80": 30, "AES_CM_128_HMAC_SHA1_32": 30, "AEAD_AES_128_GCM": 28,
       "AEAD_AES_256_GCM": 44}
GST = {"AES_CM_128_HMAC_SHA1_80": ("aes-128-icm", "hmac-sha1-80", "aes-128-icm", "hmac-sha1-80"),
       "AES_CM_128_HMAC_SHA1_32": ("aes-128-icm", "hmac-sha1-32", "aes-128-icm", "hmac-sha1-80"),
       "AEAD_AES_128_GCM": ("aes-128-gcm", "null", "aes-128-gcm", "null")}
FRAME = 320 * 240 * 3 // 2


def key(suite):
    return (suite, os.urandom(LEN[suite]))


def srtp_json(k):
    return {"suite": k[0], "key": base64.b64encode(k[1]).decode()}


KA, KB, KC, KD = (key("AES_CM_128_HMAC_SHA1_80"), key("AEAD_AES_128_GCM"),
                  key("AES_CM_128_HMAC_SHA1_80"), key("AES_CM_128_HMAC_SHA1_32"))
K1, K2, K3, K4 = (key("AEAD_AES_256_GCM"), key("AEAD_AES_256_GCM"),
                  key("AES_CM_128_HMAC_SHA1_80"), key("AES_CM_128_HMAC_SHA1_80"))


def sessions():
    out = lambda port, **kw: [dict({"port": 1, "addr": "10.99.2.1", "udp_port": port}, **kw)]
    ing = lambda port, **kw: dict({"port": 0, "addr": "10.99.1.2", "udp_port": port}, **kw)
    return [
        {"id": "gdec", "kind": "rtp", "ingress": ing(5004, srtp=srtp_json(KA)),
         "outputs": out(6000)},
        {"id": "genc", "kind": "rtp", "ingress": ing(5010), "outputs": out(6010, srtp=srtp_json(KB))},
        {"id": "grelay", "kind": "rtp", "ingress": ing(5020, srtp=srtp_json(KC)),
         "outputs": out(6020, srtp=srtp_json(KD))},
        rekey_spec(K1, K3),
    ]


def rekey_spec(kin, kout):
    return {"id": "rekey", "kind": "rtp",
            "ingress": {"port": 0, "addr": "10.99.1.2", "udp_port": 5030, "srtp": srtp_json(kin)},
            "outputs": [{"id": "o", "port": 1, "addr": "10.99.2.1", "udp_port": 6030,
                         "srtp": srtp_json(kout)}]}


def gst_receiver(topo, k, port, out, ssrc, sdp):
    # srtpdec takes its key from the caps only when they name the stream (SSRC and ROC).
    cipher, auth, rtcp_cipher, rtcp_auth = GST[k[0]]
    caps = ("application/x-srtp, media=(string)video, clock-rate=(int)90000, "
            "encoding-name=(string)H264, payload=(int)96, ssrc=(uint)%d, roc=(uint)0, "
            "srtp-key=(buffer)%s, srtp-cipher=(string)%s, srtp-auth=(string)%s, "
            "srtcp-cipher=(string)%s, srtcp-auth=(string)%s, sprop-parameter-sets=(string)\"%s\""
            % (ssrc, k[1].hex(), cipher, auth, rtcp_cipher, rtcp_auth, sprop(sdp)))
    return topo.popen(topo.dst, "gst-launch-1.0", "-q", "-e", "udpsrc", "port=%d" % port,
                      "caps=" + caps, "!", "srtpdec", "!", "rtph264depay", "!", "h264parse",
                      "!", "avdec_h264", "!", "videoconvert", "!", "video/x-raw,format=I420",
                      "!", "filesink", "location=" + out,
                      stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def yuv_hashes(path):
    if not os.path.exists(path):
        return []
    with open(path, "rb") as f:
        data = f.read()
    return [hashlib.md5(data[i:i + FRAME]).hexdigest() for i in range(0, len(data), FRAME)]


def gst_finish(p, out, frames):
    """Stop the GStreamer receiver once it has written @frames frames, or once its output
    has not grown for 3 s (a shortfall the caller reports), at most 60 s."""
    deadline, last, since = time.monotonic() + 60, -1, time.monotonic()
    while time.monotonic() < deadline:
        size = os.path.getsize(out) if os.path.exists(out) else 0
        if size >= frames * FRAME:
            break
        if size != last:
            last, since = size, time.monotonic()
        elif time.monotonic() - since > 3:
            break
        time.sleep(0.1)
    p.send_signal(signal.SIGINT)
    try:
        p.wait(timeout=20)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()
    got = yuv_hashes(out)
    if not got:
        print("GStreamer receiver said: %s" % p.stderr.read().decode()[-800:])
    return got


def ffmpeg_send(topo, clip, url, *extra):
    return topo.run(topo.src, "ffmpeg", "-nostdin", "-v", "error", "-re", "-i", clip, "-c", "copy",
                    "-f", "rtp", "-payload_type", "96", *extra, url, capture_output=True,
                    timeout=60)


def sprop(sdp):
    """ffmpeg sends the H.264 parameter sets in the SDP only: the receiver's caps carry them."""
    for l in sdp.splitlines():
        for part in l.split(";"):
            if "sprop-parameter-sets=" in part:
                return part.split("=", 1)[1].strip()
    return ""



def gst_to_plain(topo, d, clip, ref_md5, sdp):
    out, rx = rtp_receiver(topo, d, sdp, "10.99.2.1", 6000, "rtp9")
    topo.wait_udp(topo.dst, 6000)
    cipher, auth, rc_, ra = GST[KA[0]]
    r = topo.run(topo.src, "gst-launch-1.0", "-q", "filesrc", "location=" + clip, "!", "qtdemux",
                 "!", "h264parse", "!", "rtph264pay", "pt=96", "config-interval=-1", "!",
                 "application/x-rtp,ssrc=(uint)4660", "!", "srtpenc", "key=" + KA[1].hex(),
                 "rtp-cipher=" + cipher, "rtp-auth=" + auth, "rtcp-cipher=" + rc_,
                 "rtcp-auth=" + ra, "!", "udpsink", "host=10.99.1.2", "port=5004",
                 capture_output=True, timeout=60)
    T.eq(r.returncode, 0, "GStreamer srtpenc sender ran: %s" % r.stderr.decode()[-300:])
    got = receiver_frames(out, rx, "10.99.2.1")
    T.eq(len(got), len(ref_md5), "GStreamer SRTP -> mfwd decrypts -> ffmpeg: frames")
    T.check(got == ref_md5, "GStreamer SRTP -> mfwd decrypts -> ffmpeg: every frame bit-exact")


def to_gst(topo, d, clip, ref, sdp, what, key, port, ssrc, url, *extra):
    """ffmpeg sends the clip to @url; mfwd sends it on, SRTP under @key, to a GStreamer
    srtpdec receiver on @port; every frame must decode bit-exact."""
    out = os.path.join(d, "gst%d.yuv" % port)
    rx = gst_receiver(topo, key, port, out, ssrc, sdp)
    topo.wait_udp(topo.dst, port)
    r = ffmpeg_send(topo, clip, url, "-ssrc", str(ssrc), *extra)
    T.eq(r.returncode, 0, "%s: ffmpeg sender ran: %s" % (what, r.stderr.decode()[-300:]))
    got = gst_finish(rx, out, len(ref))
    T.eq(len(got), len(ref), "%s: frames" % what)
    T.check(got == ref, "%s: every frame bit-exact" % what)


def plain_to_gst(topo, d, clip, ref, sdp):
    # The sender leaves room for the 16-byte GCM tag mfwd adds (or the frames would exceed
    # the link's MTU: mfwd counts those, drop_mtu, checked below).
    to_gst(topo, d, clip, ref, sdp, "RTP -> mfwd encrypts (GCM) -> GStreamer srtpdec", KB, 6010,
           4661, "rtp://10.99.1.2:5010?localport=4000&pkt_size=1400")


def ffmpeg_to_gst(topo, d, clip, ref, sdp):
    to_gst(topo, d, clip, ref, sdp, "ffmpeg SRTP -> mfwd re-keys (SHA1_32) -> GStreamer", KD,
           6020, 4662, "srtp://10.99.1.2:5020?localport=4010", "-srtp_out_suite", KC[0],
           "-srtp_out_params", base64.b64encode(KC[1]).decode())


def flow_send(topo, port, k, next_k, count, pps, switch, stop=""):
    return topo.popen(topo.src, "/usr/bin/python3", FLOW, "send", "10.99.1.2", str(port), k[0],
                      k[1].hex(), next_k[1].hex(), str(count), str(pps), switch, stop,
                      stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def wrong_key(dpl, topo, d):
    before = dpl.session("gdec")
    wrong = ("AES_CM_128_HMAC_SHA1_80", os.urandom(30))
    p = flow_send(topo, 5004, wrong, wrong, 300, 1000, os.path.join(d, "never"))
    out, err = p.communicate(timeout=60)
    sent = json.loads(out)["sent"] if p.returncode == 0 else 0
    T.eq(sent, 300, "wrong-key sender ran %s" % err.decode()[-200:])
    st = dpl.wait_for(lambda s: s["sessions"]["gdec"]["drop_srtp_auth"] -
                      before["drop_srtp_auth"] >= sent, what="auth failures counted")
    after = st["sessions"]["gdec"]
    T.eq(after["drop_srtp_auth"] - before["drop_srtp_auth"], sent,
         "wrong key: auth failures == packets sent")
    T.eq(after["tx_pkts"] - before["tx_pkts"], 0, "wrong key: nothing forwarded")


def rekey(dpl, topo, d):
    """Each step waits for packets counted by the dataplane, not for time: the replace comes
    after 100 packets, the sender's switch 50 packets later (still under the old key: the
    previous ingress key takes them), the end 100 packets after that."""
    switch, stop = os.path.join(d, "switch"), os.path.join(d, "stop")
    rx = topo.popen(topo.dst, "/usr/bin/python3", FLOW, "recv", "6030", "2",
                    stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    srtpflow.wait_ready(rx)
    tx = flow_send(topo, 5030, K1, K2, 50000, 500, switch, stop)

    def rx_pkts_reach(n, what):
        return dpl.wait_for(lambda s: s["sessions"]["rekey"]["rx_pkts"] >= n, timeout=60,
                            what=what)["sessions"]["rekey"]["rx_pkts"]
    n = rx_pkts_reach(100, "100 packets under the first keys")
    rc, out = dpl.ctl("replace", "-", stdin=json.dumps(rekey_spec(K2, K4)))
    T.eq(rc, 0, "re-key by replace: %s" % out)
    n = rx_pkts_reach(dpl.session("rekey")["rx_pkts"] + 50, "50 packets after the replace")
    open(switch, "w").close()
    rx_pkts_reach(n + 100, "100 packets after the sender's switch")
    open(stop, "w").close()
    sent = json.loads(tx.communicate(timeout=60)[0])
    got = [bytes.fromhex(h) for h in json.loads(rx.communicate(timeout=60)[0])]
    numbers, (under_old, under_new) = srtpflow.decrypt(got, [K3, K4])
    st = dpl.session("rekey")
    T.eq(len(got), sent["sent"], "re-key: every packet arrived (%d sent)" % sent["sent"])
    T.eq(sorted(numbers), list(range(sent["sent"])), "re-key: every packet decrypts, none lost")
    T.check(0 < under_new < len(got), "re-key: the output key changed mid-stream (%d under the "
            "new key)" % under_new)
    T.eq(st["drop_srtp_auth"], 0, "re-key: no authentication failure")
    T.check(st["srtp_prev_key"] > 0, "re-key: packets under the old ingress key after the "
            "replace passed (%d)" % st["srtp_prev_key"])
    T.check(0 < sent["sent_after_switch"] < sent["sent"], "the sender switched keys mid-stream")


def main():
    if subprocess.run(["gst-inspect-1.0", "srtpdec"], capture_output=True).returncode != 0:
        print("skip: GStreamer srtp plugin (gstreamer1.0-plugins-bad) not installed")
        sys.exit(SKIP)
    d = tempfile.mkdtemp(prefix="mfwd-netns-srtp-")
    clip, ref_md5, sdp = make_clip(d, 3, 25)
    ref_yuv = os.path.join(d, "ref.yuv")
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", "-i", clip, "-f", "rawvideo",
                    "-pix_fmt", "yuv420p", ref_yuv], check=True)
    ref = yuv_hashes(ref_yuv)
    with Topology("ns", ("10.99.2.1",)) as topo:
        dpl = Dataplane("netnssrtp", topo.ports_conf(), sessions=sessions())
        with dpl:
            gst_to_plain(topo, d, clip, ref_md5, sdp)
            plain_to_gst(topo, d, clip, ref, sdp)
            ffmpeg_to_gst(topo, d, clip, ref, sdp)
            wrong_key(dpl, topo, d)
            rekey(dpl, topo, d)
            st = dpl.stats()["sessions"]
            for sid in ("gdec", "genc", "grelay"):
                T.eq(st[sid]["drop_srtp_replay"], 0, "%s: no replay drops" % sid)
            T.eq(st["grelay"]["drop_srtp_auth"], 0, "grelay: no auth failure")
            T.check(all(o["drop_mtu"] == 0 for sid in ("genc", "grelay")
                        for o in st[sid]["outputs"].values()), "no output frame over the MTU")
            if T.failed:
                print(json.dumps({k: st[k] for k in ("gdec", "genc", "grelay")})[:3000])
                print(dpl.tail())
    T.eq(dpl.rc, 0, "dataplane exited cleanly")
    T.done()


if __name__ == "__main__":
    main()
