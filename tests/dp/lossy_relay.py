#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""A lossy link in front of a receiver, run in its network namespace.

  relay RTP  LISTEN:PORT     -> 127.0.0.1:RX_PORT       dropping a seeded random fraction of
                                the first sendings of each RTP sequence number (never the
                                first 10, which the receiver could not know it missed;
                                a second sending of a number always passes)
  relay RTCP LISTEN:PORT+1   -> 127.0.0.1:RX_PORT+1     (the sender's reports)
  relay RTCP 127.0.0.1:BACK  -> SENDER:SENDER_RTCP, from LISTEN:PORT+1 (the receiver's
                                reports and NACKs, back where the sender's reports come from)

Usage: lossy_relay.py LISTEN PORT RX_PORT BACK SENDER SENDER_RTCP LOSS_PERCENT SEED STOP_FILE
Prints "ready" on stderr once bound, and at the end one JSON line of counts on stdout.
"""
import json
import os
import random
import select
import socket
import sys


def main():
    listen, port, rx_port, back = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    sender = (sys.argv[5], int(sys.argv[6]))
    loss, seed, stop = float(sys.argv[7]) / 100, int(sys.argv[8]), sys.argv[9]
    rtp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    rtp.bind((listen, port))
    rtcp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    rtcp.bind((listen, port + 1))
    fb = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    fb.bind(("127.0.0.1", back))
    out = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    n = {"rtp": 0, "dropped": 0, "again": 0, "rtcp_in": 0, "rtcp_back": 0}
    seen, first = set(), None
    print("ready", file=sys.stderr, flush=True)
    while not os.path.exists(stop):
        r, _, _ = select.select([rtp, rtcp, fb], [], [], 0.2)
        for s in r:
            data, addr = s.recvfrom(65536)
            if s is rtp:
                n["rtp"] += 1
                seq = int.from_bytes(data[2:4], "big") if len(data) >= 4 else 0
                if first is None:
                    first = seq
                if seq in seen:
                    n["again"] += 1
                else:
                    seen.add(seq)
                    # Decided by the number from the first, not by the arrival order: the
                    # same packets of the stream are lost in every run.
                    k = (seq - first) & 0xffff
                    lose = random.Random(seed * 65536 + k).random() < loss
                    if k >= 10 and lose:
                        n["dropped"] += 1
                        continue
                out.sendto(data, ("127.0.0.1", rx_port))
            elif s is rtcp:
                n["rtcp_in"] += 1
                out.sendto(data, ("127.0.0.1", rx_port + 1))
            else:
                n["rtcp_back"] += 1
                rtcp.sendto(data, sender)
    print(json.dumps(n), flush=True)


if __name__ == "__main__":
    main()
