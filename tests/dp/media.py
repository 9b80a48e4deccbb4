# SPDX-License-Identifier: BSD-3-Clause
"""What the media tests share: ffmpeg quietly, and the per-frame hashes (framemd5) that
compare a receiver's decode with the local decode of the clip."""
import os
import subprocess
import sys


def ffmpeg(*args, **kw):
    return subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y"] + list(args),
                          capture_output=True, **kw)


def frame_hashes(path):
    """The hashes of a framemd5 file."""
    with open(path) as f:
        return [l.strip().split(",")[-1].strip() for l in f if not l.startswith("#")]


def decoded_hashes(media):
    """Decode a media file: the hash of each frame."""
    r = ffmpeg("-i", media, "-f", "framemd5", "-")
    return [l.strip().split(",")[-1].strip() for l in r.stdout.decode().splitlines()
            if l and not l.startswith("#")]


def make_clip(d, seconds, gop, *x264, size="320x240"):
    """A testsrc clip in H.264 (@size, 25 fps, no B-frames, a key frame every @gop frames
    exactly): its path, the hashes of its local decode, and the SDP a receiver needs (with
    the parameter sets), from a send to nowhere. Exits 77 (skip) without libx264."""
    clip = os.path.join(d, "clip.mp4")
    r = ffmpeg("-f", "lavfi", "-i", "testsrc=size=%s:rate=25" % size, "-t", str(seconds),
               "-c:v", "libx264", "-g", str(gop), "-keyint_min", str(gop), "-sc_threshold",
               "0", "-bf", "0", "-pix_fmt", "yuv420p", *x264, clip)
    if r.returncode != 0:
        print(r.stderr.decode())
        sys.exit(77)
    ref = os.path.join(d, "ref.md5")
    ffmpeg("-i", clip, "-f", "framemd5", ref, check=True)
    sdp = os.path.join(d, "send.sdp")
    ffmpeg("-i", clip, "-t", "0.1", "-c", "copy", "-f", "rtp", "-payload_type", "96",
           "rtp://127.0.0.1:9", "-sdp_file", sdp, check=True)
    return clip, frame_hashes(ref), open(sdp).read()


def receiver_sdp(d, sdp, addr, port, name, family=4):
    """The sender's SDP readdressed to a receiver on @addr:@port. @return its path."""
    lines = []
    for l in sdp.splitlines():
        if l.startswith("c="):
            l = "c=IN IP%d %s" % (family, addr)
        elif l.startswith("m=video"):
            l = "m=video %d RTP/AVP 96" % port
        lines.append(l)
    path = os.path.join(d, name + ".sdp")
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    return path


def rtp_receiver(topo, d, sdp, addr, port, name):
    """ffmpeg in "dst" receiving H.264 over RTP on @addr:@port (the sender's SDP, readdressed),
    frame hashes to a file. @return that file and the process."""
    out = os.path.join(d, name + ".md5")
    return out, topo.popen(
        topo.dst, "ffmpeg", "-nostdin", "-v", "error", "-y", "-protocol_whitelist",
        "file,udp,rtp", "-probesize", "300000", "-analyzeduration", "1000000",
        "-listen_timeout", "5", "-i", receiver_sdp(d, sdp, addr, port, name), "-f",
        "framemd5", out, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


CAPS = "application/x-rtp,media=video,clock-rate=90000,encoding-name=H264,payload=96"
GST_SRTP = ("srtp-cipher=(string)aes-128-icm, srtp-auth=(string)hmac-sha1-80, "
            "srtcp-cipher=(string)aes-128-icm, srtcp-auth=(string)hmac-sha1-80")


def gst_receiver(topo, d, name, rtp_port, rtcp_back, srtp=None, ssrc=4660):
    """GStreamer in "dst" that asks for what it misses (rtpbin, AVPF, rtpjitterbuffer
    do-retransmission): RTP on 127.0.0.1:rtp_port (behind a relay, lossy_relay.py), its RTCP
    to the relay's back port; the H.264 it depayloads (in-band parameter sets), in a file.
    With @srtp (the sender's key, the receiver's own key; each key || salt, AES_CM_128_
    HMAC_SHA1_80): srtpdec in front of rtpbin, srtpenc behind it. @return the file, the
    process."""
    out = os.path.join(d, name + ".h264")
    if srtp:
        key = "ssrc=(uint)%d, roc=(uint)0, srtp-key=(buffer)%s, %s" % (ssrc, srtp[0].hex(),
                                                                        GST_SRTP)
        rx = ["udpsrc", "address=127.0.0.1", "port=%d" % rtp_port,
              "caps=application/x-srtp, media=(string)video, clock-rate=(int)90000, "
              "encoding-name=(string)H264, payload=(int)96, " + key, "!", "srtpdec", "name=dec",
              "!", "rb.recv_rtp_sink_0",
              "udpsrc", "address=127.0.0.1", "port=%d" % (rtp_port + 1),
              "caps=application/x-srtcp, " + key, "!", "dec.rtcp_sink",
              "dec.rtcp_src", "!", "rb.recv_rtcp_sink_0"]
        tx = ["rb.send_rtcp_src_0", "!", "enc.rtcp_sink_0", "srtpenc", "name=enc",
              "key=" + srtp[1].hex(), "rtp-cipher=aes-128-icm", "rtp-auth=hmac-sha1-80",
              "rtcp-cipher=aes-128-icm", "rtcp-auth=hmac-sha1-80", "enc.rtcp_src_0", "!"]
    else:
        rx = ["udpsrc", "address=127.0.0.1", "port=%d" % rtp_port, "caps=" + CAPS, "!",
              "rb.recv_rtp_sink_0",
              "udpsrc", "address=127.0.0.1", "port=%d" % (rtp_port + 1), "!",
              "rb.recv_rtcp_sink_0"]
        tx = ["rb.send_rtcp_src_0", "!"]
    p = topo.popen(
        topo.dst, "gst-launch-1.0", "-e", "-q", "rtpbin", "name=rb", "rtp-profile=avpf",
        "do-retransmission=true", "latency=2000", *rx,
        "rb.", "!", "rtph264depay", "!", "h264parse", "!",
        "video/x-h264,stream-format=byte-stream", "!", "filesink", "location=" + out,
        *tx, "udpsink", "host=127.0.0.1", "port=%d" % rtcp_back, "sync=false", "async=false",
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    return out, p
