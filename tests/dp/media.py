# SPDX-License-Identifier: BSD-3-Clause
"""What the media tests share: ffmpeg quietly, and the per-frame hashes (framemd5) that
compare a receiver's decode with the local decode of the clip."""
import subprocess


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
