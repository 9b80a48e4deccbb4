#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""Numbered UDP flows for exact end-to-end accounting.

  udpflows.py send DST_ADDR BASE_PORT FLOWS PPS STOP_FILE [SRC_PORT]
      sends RTP from SRC_PORT (4000 by default) to BASE_PORT + 2*i, i < FLOWS, round
      robin, PPS packets per second in total (SSRC = flow + 1, RTP sequence = seq), the
      payload starting with "flow seq" as two 32-bit numbers, until STOP_FILE exists; then
      prints {"sent": [per flow]} as JSON.
  udpflows.py recv ADDR BASE_PORT FLOWS QUIET_S [first]
      receives on BASE_PORT + i and checks each flow's sequence; prints "ready" once bound
      (and, with "first", a line "first" at the first packet); after QUIET_S seconds
      without a packet (or 30 s with none at all) prints {"received": [...], "lost": [...],
      "dup": [...], "reorder": [...], "last": [...]} as JSON.
"""
import json
import os
import select
import socket
import struct
import sys
import time


def send(dst, base, flows, pps, stop_file, src_port=4000):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("0.0.0.0", src_port))
    sent = [0] * flows
    pad = bytes(152)
    t0 = time.monotonic()
    n = 0
    while not os.path.exists(stop_file):
        f = n % flows
        rtp = struct.pack("!BBHII", 0x80, 96, sent[f] & 0xFFFF, sent[f] * 3000, f + 1)
        s.sendto(rtp + struct.pack("!II", f, sent[f]) + pad, (dst, base + 2 * f))
        sent[f] += 1
        n += 1
        ahead = n / pps - (time.monotonic() - t0)
        if ahead > 0:
            time.sleep(ahead)
    print(json.dumps({"sent": sent}))


def recv(addr, base, flows, quiet, say_first=False):
    socks = []
    for i in range(flows):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        s.bind((addr, base + i))
        socks.append(s)
    got = [0] * flows
    nxt = [0] * flows
    lost = [0] * flows
    dup = [0] * flows
    reorder = [0] * flows
    seen = [set() for _ in range(flows)]
    print("ready", flush=True)
    last = time.monotonic()
    started = False
    while True:
        r, _, _ = select.select(socks, [], [], 0.2)
        if not r:
            if time.monotonic() - last > (quiet if started else 30):
                break
            continue
        if not started and say_first:
            print("first", flush=True)
        started = True
        last = time.monotonic()
        for s in r:
            data = s.recv(2048)
            f, seq = struct.unpack("!II", data[12:20])
            if seq in seen[f]:
                dup[f] += 1
                continue
            seen[f].add(seq)
            got[f] += 1
            if seq < nxt[f]:
                reorder[f] += 1
            elif seq > nxt[f]:
                lost[f] += seq - nxt[f]
            nxt[f] = max(nxt[f], seq + 1)
    print(json.dumps({"received": got, "lost": [nxt[i] - got[i] for i in range(flows)],
                      "gaps": lost, "dup": dup, "reorder": reorder, "last": nxt}))


if __name__ == "__main__":
    if sys.argv[1] == "send":
        send(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5]), sys.argv[6],
             int(sys.argv[7]) if len(sys.argv) > 7 else 4000)
    else:
        recv(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5]),
             len(sys.argv) > 6 and sys.argv[6] == "first")
