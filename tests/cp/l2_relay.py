#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""A lossy Ethernet link between two interfaces, run in their network namespace: every
frame from A goes out of B and back, as it is (ARP included), except that while the file
LOSS_FILE exists a seeded random fraction of the first sendings of each RTP sequence number
from A to B is dropped (never a second sending of a number, so NACK repair can always
succeed; never RTCP). The kernel's tc cannot do this here (no netem in these VMs).

Usage: l2_relay.py IFACE_A IFACE_B LOSS_PERCENT SEED LOSS_FILE STOP_FILE
Prints "ready" on stderr once bound, and at the end one JSON line of counts on stdout.
"""
import json
import os
import random
import select
import socket
import sys

ETH_P_ALL = 0x0003
PACKET_OUTGOING = 4


def rtp_seq(frame):
    """(SSRC, sequence number) of an RTP packet in an IPv4 UDP frame, else None (RTCP's
    payload types 200-207 and anything else pass)."""
    if len(frame) < 14 + 20 + 8 + 12 or frame[12:14] != b"\x08\x00" or frame[23] != 17:
        return None
    ihl = (frame[14] & 0x0F) * 4
    rtp = frame[14 + ihl + 8:]
    if len(rtp) < 12 or rtp[0] >> 6 != 2 or 200 <= rtp[1] <= 207:
        return None
    return rtp[8:12], int.from_bytes(rtp[2:4], "big")


def main():
    a_if, b_if, loss = sys.argv[1], sys.argv[2], float(sys.argv[3]) / 100
    rnd, loss_file, stop = random.Random(int(sys.argv[4])), sys.argv[5], sys.argv[6]
    socks = {}
    for name in (a_if, b_if):
        s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        s.bind((name, 0))
        socks[name] = s
    a, b = socks[a_if], socks[b_if]
    n = {"a_to_b": 0, "b_to_a": 0, "rtp": 0, "dropped": 0, "again": 0}
    seen = set()
    print("ready", file=sys.stderr, flush=True)
    while not os.path.exists(stop):
        r, _, _ = select.select([a, b], [], [], 0.2)
        for s in r:
            frame, addr = s.recvfrom(65535)
            if addr[2] == PACKET_OUTGOING:
                continue		# what we sent ourselves
            if s is b:
                n["b_to_a"] += 1
                a.send(frame)
                continue
            key = rtp_seq(frame)
            if key is not None:
                n["rtp"] += 1
                if key in seen:
                    n["again"] += 1
                else:
                    seen.add(key)
                    if os.path.exists(loss_file) and rnd.random() < loss:
                        n["dropped"] += 1
                        continue
            n["a_to_b"] += 1
            b.send(frame)
    print(json.dumps(n), flush=True)


if __name__ == "__main__":
    main()
