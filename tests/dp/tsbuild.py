# SPDX-License-Identifier: BSD-3-Clause
"""MPEG-TS packets made by hand for the tests: a PAT naming program 1's PMT on PID 0x100, a
PMT with H.264 video on 0x101, elementary-stream and null packets, a video packet that
starts a key frame (PUSI and the random-access indicator)."""


def crc32_mpeg(data):
    crc = 0xFFFFFFFF
    for b in data:
        crc ^= b << 24
        for _ in range(8):
            crc = ((crc << 1) ^ 0x04C11DB7) if crc & 0x80000000 else crc << 1
            crc &= 0xFFFFFFFF
    return crc


def psi(pid, cc, table):
    sec = table + crc32_mpeg(table).to_bytes(4, "big")
    body = b"\x00" + sec
    return (bytes([0x47, 0x40 | pid >> 8, pid & 0xFF, 0x10 | cc]) + body +
            b"\xff" * (184 - len(body)))


def fix_crc(pkt):
    """@pkt (a TS packet whose section starts after a pointer_field of 0) with its section's
    CRC_32 made right again after a test changed the section, when it ends in the packet."""
    b = bytearray(pkt)
    n = 3 + ((b[6] & 0x0F) << 8 | b[7]) - 4
    if 5 + n + 4 <= len(b):
        b[5 + n:5 + n + 4] = crc32_mpeg(bytes(b[5:5 + n])).to_bytes(4, "big")
    return bytes(b)


def bad_crc(pkt):
    """@pkt with its section's CRC_32 wrong by one bit."""
    b = bytearray(pkt)
    n = 3 + ((b[6] & 0x0F) << 8 | b[7]) - 4
    b[5 + n + 3] ^= 1
    return bytes(b)


def pat(cc, pmt_pid=0x100, section=0, last=0, program=1, current=True):
    # table_id 0, section_length 13, tsid 1, version 0 current (or the next, not yet
    # current: version 1), section @section of 0..@last, @program -> its PMT
    return psi(0, cc, bytes([0x00, 0xB0, 13, 0, 1, 0xC1 if current else 0xC2, section, last,
                             0, program, 0xE0 | pmt_pid >> 8, pmt_pid & 0xFF]))


def pat_programs(cc, pmt_pids):
    """One section naming programs 1, 2, ... with the PMTs on @pmt_pids in turn."""
    progs = b"".join(bytes([0, n + 1, 0xE0 | p >> 8, p & 0xFF]) for n, p in enumerate(pmt_pids))
    n = 9 + len(progs)
    return psi(0, cc, bytes([0x00, 0xB0 | n >> 8, n & 0xFF, 0, 1, 0xC1, 0, 0]) + progs)


def pmt(cc, pid=0x100, video=0x101, stream_type=0x1B, program=1, current=True):
    # @program, PCR PID and @stream_type (0x1b: H.264, 0x0f: AAC) on the video PID; version
    # 0 current, or the next (version 1) not yet current
    v = [0xE0 | video >> 8, video & 0xFF]
    return psi(pid, cc, bytes([0x02, 0xB0, 18, program >> 8, program & 0xFF,
                               0xC1 if current else 0xC2, 0, 0] + v +
                              [0xF0, 0, stream_type] + v + [0xF0, 0]))


def pmt_cut(cc, pid=0x100, audio=0x200):
    """A PMT section of 200 bytes, so going on in the next TS packet, whose first stream is
    AAC on @audio with descriptors to this packet's end: no video in this packet."""
    sec = bytes([0x02, 0xB0, 200, 0, 1, 0xC1, 0, 0, 0xE0 | audio >> 8, audio & 0xFF, 0xF0, 0,
                 0x0F, 0xE0 | audio >> 8, audio & 0xFF, 0xF0, 166]) + b"\xff" * 166
    return bytes([0x47, 0x40 | pid >> 8, pid & 0xFF, 0x10 | cc, 0]) + sec


def es(pid, cc, fill, disc=False):
    if disc:
        af = bytes([1, 0x80])
        return bytes([0x47, pid >> 8, pid & 0xFF, 0x30 | cc]) + af + bytes([fill]) * (184 - len(af))
    return bytes([0x47, pid >> 8, pid & 0xFF, 0x10 | cc]) + bytes([fill]) * 184


def null():
    return bytes([0x47, 0x1F, 0xFF, 0x10]) + b"\xff" * 184


def video_kf(cc, pid=0x101):
    """A PES start on the video PID with the adaptation field's random_access_indicator."""
    body = bytes([1, 0x40]) + b"\x00\x00\x01\xe0"
    return bytes([0x47, 0x40 | pid >> 8, pid & 0xFF, 0x30 | cc]) + body + bytes(184 - len(body))
