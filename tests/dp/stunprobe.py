#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""One ICE connectivity check, written from RFC 5389/8445 independently of mfwd's code, and
what came back.

  stunprobe.py DST PORT --user "theirs:ours" --pwd PWD [--role controlling|controlled|none]
      [--use-candidate] [--bad-fingerprint] [--no-integrity] [--raw HEX] [--bind PORT]
      [--timeout S] [--txid HEX]

Sends a Binding request (USERNAME, PRIORITY, the role with a tie-breaker, USE-CANDIDATE if
asked, MESSAGE-INTEGRITY under PWD, FINGERPRINT), or the bytes of --raw, from --bind, and
prints one JSON object: {"answer": false} when nothing came within --timeout, else the
answer's "type", "txid_ok", "integrity_ok" (under PWD), "fingerprint_ok", "error" (the
ERROR-CODE or 0) and "mapped" ([address, port] of XOR-MAPPED-ADDRESS).
"""
import argparse
import hashlib
import hmac
import ipaddress
import json
import os
import socket
import struct
import zlib

MAGIC = 0x2112A442


def attr(t, v):
    return struct.pack("!HH", t, len(v)) + v + bytes(-len(v) % 4)


def with_len(msg, extra):
    """The message with its header's length covering what follows plus @extra bytes."""
    return msg[:2] + struct.pack("!H", len(msg) - 20 + extra) + msg[4:]


def request(a, txid):
    body = attr(0x0006, a.user.encode()) + attr(0x0024, struct.pack("!I", 0x6E0001FF))
    if a.role != "none":
        body += attr(0x802A if a.role == "controlling" else 0x8029, os.urandom(8))
    if a.use_candidate:
        body += attr(0x0025, b"")
    msg = struct.pack("!HHI", 0x0001, 0, MAGIC) + txid + body
    if not a.no_integrity:
        msg = with_len(msg, 24)
        msg += attr(0x0008, hmac.new(a.pwd.encode(), msg, hashlib.sha1).digest())
    msg = with_len(msg, 8)
    crc = (zlib.crc32(msg) ^ 0x5354554E) & 0xFFFFFFFF
    if a.bad_fingerprint:
        crc ^= 1
    return msg + attr(0x8028, struct.pack("!I", crc))


def parse(data, txid, pwd):
    out = {"answer": True, "type": struct.unpack("!H", data[:2])[0], "txid_ok":
           data[8:20] == txid, "integrity_ok": False, "fingerprint_ok": False, "error": 0,
           "mapped": None}
    off = 20
    end = 20 + struct.unpack("!H", data[2:4])[0]
    while off + 4 <= end:
        t, n = struct.unpack("!HH", data[off:off + 4])
        v = data[off + 4:off + 4 + n]
        if t == 0x0008:
            out["integrity_ok"] = hmac.compare_digest(
                hmac.new(pwd.encode(), with_len(data[:off], 24), hashlib.sha1).digest(), v)
        elif t == 0x8028:
            crc = (zlib.crc32(with_len(data[:off], 8)) ^ 0x5354554E) & 0xFFFFFFFF
            out["fingerprint_ok"] = struct.unpack("!I", v)[0] == crc
        elif t == 0x0009:
            out["error"] = (v[2] & 7) * 100 + v[3]
        elif t == 0x0020:
            port = struct.unpack("!H", v[2:4])[0] ^ (MAGIC >> 16)
            key = struct.pack("!I", MAGIC) + txid
            raw = bytes(x ^ y for x, y in zip(v[4:], key))
            out["mapped"] = [str(ipaddress.ip_address(raw)), port]
        off += 4 + n + (-n % 4)
    return out


def main():
    p = argparse.ArgumentParser()
    p.add_argument("dst")
    p.add_argument("port", type=int)
    p.add_argument("--user", default="")
    p.add_argument("--pwd", default="")
    p.add_argument("--role", default="controlling")
    p.add_argument("--use-candidate", action="store_true")
    p.add_argument("--bad-fingerprint", action="store_true")
    p.add_argument("--no-integrity", action="store_true")
    p.add_argument("--raw", default="")
    p.add_argument("--bind", type=int, default=0)
    p.add_argument("--timeout", type=float, default=1.0)
    p.add_argument("--txid", default="", help="12 bytes in hex (a replay), else random")
    a = p.parse_args()
    txid = bytes.fromhex(a.txid) if a.txid else os.urandom(12)
    s = socket.socket(socket.AF_INET6 if ":" in a.dst else socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("", a.bind))
    s.settimeout(a.timeout)
    s.sendto(bytes.fromhex(a.raw) if a.raw else request(a, txid), (a.dst, a.port))
    try:
        data = s.recv(2048)
    except socket.timeout:
        print(json.dumps({"answer": False}))
        return
    print(json.dumps(parse(data, txid, a.pwd)))


if __name__ == "__main__":
    main()
