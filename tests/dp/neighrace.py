#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""A receiving host that answers ARP only when told, and a sender, in one process so the
answer lands at a known point of the stream.

  ip netns exec DST neighrace.py --src-netns SRC --iface d0 --gw 10.99.2.2 \\
      --gw-mac MAC --to 10.99.1.2 --rx 10.99.2.1:6000 [--rx ADDR:PORT ...]

Run in the receiving namespace: it opens a raw socket on --iface and a UDP socket for
each --rx there, then moves into --src-netns (setns) and opens the sending socket.
Commands on stdin, one JSON line back each:
  send PORT A B GAP_US  RTP sequence numbers A..B-1 to --to:PORT, one every GAP_US us
  arp IP                an ARP reply from IP (the interface's MAC) to the gateway
  race PORT IP A B      A..A+99 every 50 us, the ARP reply from IP, A+100..A+299 back to
                        back, the rest every 100 us: the answer lands in a dense stream
                        (and the rest is slow enough for an ASan dataplane on a loaded
                        machine to drain: at 20 us one lost hundreds before its RX)
  recv PORT             the sequence numbers received on PORT, in arrival order, once
                        0.5 s passed with nothing new
  nack PORT SEQ DPORT   an RTCP Generic NACK for SEQ of the stream, from the --rx socket
                        on PORT to the gateway's DPORT
"""
import argparse
import ctypes
import json
import os
import select
import socket
import struct
import sys
import time

CLONE_NEWNET = 0x40000000


def setns(path):
    libc = ctypes.CDLL(None, use_errno=True)
    fd = os.open(path, os.O_RDONLY)
    if libc.setns(fd, CLONE_NEWNET) != 0:
        raise OSError(ctypes.get_errno(), "setns %s" % path)
    os.close(fd)


def mac_bytes(s):
    return bytes(int(x, 16) for x in s.split(":"))


def arp_reply(me_mac, me_ip, gw_mac, gw_ip):
    """The reply a host sends to the gateway's request for @me_ip."""
    eth = gw_mac + me_mac + struct.pack("!H", 0x0806)
    arp = struct.pack("!HHBBH", 1, 0x0800, 6, 4, 2) + me_mac + socket.inet_aton(me_ip) + \
        gw_mac + socket.inet_aton(gw_ip)
    return eth + arp


def nack(seq):
    """RTCP RTPFB FMT 1 (RFC 4585): sender 1, media SSRC 0x4E1D, PID seq, BLP 0."""
    return struct.pack("!BBHIIHH", 0x81, 205, 3, 1, 0x4E1D, seq & 0xFFFF, 0)


def rtp(seq):
    return struct.pack("!BBHII", 0x80, 96, seq & 0xFFFF, seq * 160, 0x4E1D) + bytes(160)


class Peer:
    def __init__(self, a):
        self.raw = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
        self.raw.bind((a.iface, 0))
        with open("/sys/class/net/%s/address" % a.iface) as f:
            self.mac = mac_bytes(f.read().strip())
        self.gw, self.gw_mac = a.gw, mac_bytes(a.gw_mac)
        self.rx = {}
        for r in a.rx:
            host, port = r.rsplit(":", 1)
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            # SO_RCVBUFFORCE (root): a stream is drained only after it was sent.
            s.setsockopt(socket.SOL_SOCKET, 33, 16 << 20)
            s.bind((host, int(port)))
            self.rx[int(port)] = s
        setns("/run/netns/" + a.src_netns)
        self.tx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.to = a.to

    def send(self, port, a, b, gap_us):
        t = time.perf_counter()
        for seq in range(a, b):
            if gap_us:
                t += gap_us / 1e6
                while time.perf_counter() < t:
                    pass
            self.tx.sendto(rtp(seq), (self.to, port))

    def arp(self, ip):
        self.raw.send(arp_reply(self.mac, ip, self.gw_mac, self.gw))

    def race(self, port, ip, a, b):
        self.send(port, a, a + 100, 50)
        self.arp(ip)
        self.send(port, a + 100, a + 300, 0)
        self.send(port, a + 300, b, 100)

    def recv(self, port):
        got = []
        while select.select([self.rx[port]], [], [], 0.5)[0]:
            d = self.rx[port].recv(2048)
            if len(d) >= 4:
                got.append(struct.unpack("!H", d[2:4])[0])
        return got


def main():
    ap = argparse.ArgumentParser()
    for o in ("--src-netns", "--iface", "--gw", "--gw-mac", "--to"):
        ap.add_argument(o, required=True)
    ap.add_argument("--rx", action="append", required=True)
    a = ap.parse_args()
    p = Peer(a)
    print(json.dumps({"ready": True}), flush=True)
    for line in sys.stdin:
        w = line.split()
        if not w:
            continue
        if w[0] == "send":
            p.send(int(w[1]), int(w[2]), int(w[3]), int(w[4]))
            out = {"sent": int(w[3]) - int(w[2])}
        elif w[0] == "arp":
            p.arp(w[1])
            out = {"arp": True}
        elif w[0] == "race":
            p.race(int(w[1]), w[2], int(w[3]), int(w[4]))
            out = {"sent": int(w[4]) - int(w[3])}
        elif w[0] == "nack":
            p.rx[int(w[1])].sendto(nack(int(w[2])), (a.gw, int(w[3])))
            out = {"nack": int(w[2])}
        elif w[0] == "recv":
            out = {"seqs": p.recv(int(w[1]))}
        else:
            out = {"error": "unknown command %s" % w[0]}
        print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
