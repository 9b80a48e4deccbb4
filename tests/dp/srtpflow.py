#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""SRTP over real sockets, for tests that run it inside a network namespace; libsrtp2
(pylibsrtp) protects.

  srtpflow.py send DST PORT SUITE KEY_HEX NEXT_KEY_HEX COUNT PPS SWITCH_FILE [STOP_FILE]
      COUNT RTP packets (SSRC 0x5eed, 160-byte payload carrying its number) at PPS, or
      fewer once STOP_FILE exists; from the moment SWITCH_FILE exists, under NEXT_KEY (a
      new libsrtp2 session, as a sender that re-keys). Prints {"sent": N,
      "sent_after_switch": M}.
  srtpflow.py recv PORT IDLE_S
      Says "ready" on stderr once its socket is bound (wait_ready()), then prints the hex of
      every datagram received, one JSON list, once nothing came for IDLE_S seconds after
      the first.
"""
import json
import os
import socket
import sys
import time

from pylibsrtp import Policy, Session

PROFILES = {
    "AES_CM_128_HMAC_SHA1_80": Policy.SRTP_PROFILE_AES128_CM_SHA1_80,
    "AES_CM_128_HMAC_SHA1_32": Policy.SRTP_PROFILE_AES128_CM_SHA1_32,
    "AEAD_AES_128_GCM": Policy.SRTP_PROFILE_AEAD_AES_128_GCM,
    "AEAD_AES_256_GCM": Policy.SRTP_PROFILE_AEAD_AES_256_GCM,
}
SSRC = 0x5EED


def session(suite, key_hex, outbound=True):
    kind = Policy.SSRC_ANY_OUTBOUND if outbound else Policy.SSRC_ANY_INBOUND
    return Session(Policy(key=bytes.fromhex(key_hex), ssrc_type=kind,
                          srtp_profile=PROFILES[suite]))


def rtp(i):
    return (bytes([0x80, 96]) + (i & 0xffff).to_bytes(2, "big") + (i * 3600).to_bytes(4, "big")
            + SSRC.to_bytes(4, "big") + i.to_bytes(4, "big") + bytes(156))


def decrypt(got, keys):
    """Unprotect each datagram under the first of @keys ((suite, key bytes)) that takes it.
    @return (the packet numbers decrypted, how many each key took)."""
    rx = [session(suite, k.hex(), outbound=False) for suite, k in keys]
    numbers, per_key = [], [0] * len(keys)
    for g in got:
        for i, s in enumerate(rx):
            try:
                p = s.unprotect(g)
            except Exception:
                continue
            numbers.append(int.from_bytes(p[12:16], "big"))
            per_key[i] += 1
            break
    return numbers, per_key


def wait_ready(rx):
    """Wait until the receiver process @rx (recv, stderr piped) has bound its socket."""
    line = rx.stderr.readline()
    if line.strip() != b"ready":
        raise RuntimeError("srtpflow recv did not start: %r" % line)


def send(dst, port, suite, key, next_key, count, pps, switch_file, stop_file=None):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    tx, after = session(suite, key), 0
    switched = False
    t0 = time.monotonic()
    for i in range(count):
        if stop_file and os.path.exists(stop_file):
            count = i
            break
        if not switched and os.path.exists(switch_file):
            tx, switched = session(suite, next_key), True
        s.sendto(tx.protect(rtp(i)), (dst, port))
        after += switched
        delay = t0 + (i + 1) / pps - time.monotonic()
        if delay > 0:
            time.sleep(delay)
    print(json.dumps({"sent": count, "sent_after_switch": after}))


def recv(port, idle):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("0.0.0.0", port))
    print("ready", file=sys.stderr, flush=True)
    s.settimeout(30)
    got = []
    try:
        while True:
            got.append(s.recv(4096).hex())
            s.settimeout(idle)
    except socket.timeout:
        pass
    print(json.dumps(got))


if __name__ == "__main__":
    a = sys.argv[1:]
    if a[0] == "send":
        send(a[1], int(a[2]), a[3], a[4], a[5], int(a[6]), float(a[7]), a[8],
             a[9] if len(a) > 9 else None)
    else:
        recv(int(a[1]), float(a[2]))
