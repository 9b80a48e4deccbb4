#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""Many receivers asking for key frames: from ADDR, receiver i sends a PLI for SSRC from
port BASE + 2 i + 1 (its RTCP port) to DEST:PORT, RATE times a second each, for SECONDS.

Usage: pli_storm.py ADDR BASE RECEIVERS DEST PORT SSRC RATE SECONDS
Prints the PLIs sent."""
import socket
import struct
import sys
import time


def main():
    addr, base, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    dest, ssrc = (sys.argv[4], int(sys.argv[5])), int(sys.argv[6], 0)
    rate, seconds = float(sys.argv[7]), float(sys.argv[8])
    socks = []
    for i in range(n):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind((addr, base + 2 * i + 1))
        socks.append(s)
    sent, t0 = 0, time.monotonic()
    for k in range(int(rate * seconds)):
        for i, s in enumerate(socks):
            s.sendto(bytes([0x81, 206, 0, 2]) + struct.pack("!II", 0x7000 + i, ssrc), dest)
            sent += 1
        # Paced by the clock, so a slow machine sends fewer, never faster.
        time.sleep(max(0.0, t0 + (k + 1) / rate - time.monotonic()))
    print(sent)


if __name__ == "__main__":
    main()
