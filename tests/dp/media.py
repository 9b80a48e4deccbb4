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


def make_clip(d, seconds, gop, *x264):
    """A testsrc clip in H.264 (320x240, 25 fps, no B-frames, a key frame every @gop frames
    exactly): its path, the hashes of its local decode, and the SDP a receiver needs (with
    the parameter sets), from a send to nowhere. Exits 77 (skip) without libx264."""
    clip = os.path.join(d, "clip.mp4")
    r = ffmpeg("-f", "lavfi", "-i", "testsrc=size=320x240:rate=25", "-t", str(seconds),
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
