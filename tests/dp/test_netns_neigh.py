#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""Frames to next hops not yet resolved (network namespaces, the dataplane on
net_af_packet). The receiving host's kernel never answers ARP (`arp off`); the test answers
for it, through neighrace.py, at chosen points of RTP streams:

- five frames wait for the MAC of 10.99.2.1 and are dropped after 3 s without an answer;
- of 40 more, the newest 32 wait (8 dropped), and arrive, in order, once it answers;
- the answer for 10.99.2.3 comes in the middle of a stream of 2,000 frames, 200 of them
  back to back: frames arrive in order, none lost after the first, every other one counted
  as dropped;
- frames that waited for 10.99.2.5 are kept for NACK like frames sent: one its receiver
  asks for again is resent. (Frames that waited used to be sent back to the worker through a ring by the
  control lcore, while the worker, seeing the MAC already, sent newer ones directly: the
  first frames to a new receiver arrived out of order.)
"""
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Checks, Dataplane  # noqa: E402
from netns import Topology, sh  # noqa: E402

T = Checks("netns_neigh")
HERE = os.path.dirname(os.path.abspath(__file__))


def session(sid, port, addr, out_port, **out):
    return {"id": sid, "kind": "rtp",
            "ingress": {"port": 0, "addr": "10.99.1.2", "udp_port": port},
            "outputs": [dict({"id": "o", "port": 1, "addr": addr, "udp_port": out_port}, **out)]}


class Peer:
    def __init__(self, topo):
        with open("/sys/class/net/%s/address" % topo.vdst) as f:
            gw_mac = f.read().strip()
        self.p = topo.popen(topo.dst, sys.executable, os.path.join(HERE, "neighrace.py"),
                            "--src-netns", topo.src, "--iface", "d0", "--gw", "10.99.2.2",
                            "--gw-mac", gw_mac, "--to", "10.99.1.2", "--rx", "10.99.2.1:6000",
                            "--rx", "10.99.2.3:6002", "--rx", "10.99.2.5:6004",
                            "--rx", "10.99.2.5:6005", stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.read()

    def read(self):
        line = self.p.stdout.readline()
        if not line:
            raise RuntimeError("neighrace.py ended: %s" % self.p.stderr.read().decode())
        return json.loads(line)

    def cmd(self, c):
        self.p.stdin.write((c + "\n").encode())
        self.p.stdin.flush()
        return self.read()

    def close(self):
        self.p.stdin.close()
        self.p.wait(timeout=10)


def drops(st):
    return st["node"]["drop_neigh"]


def main():
    with Topology("nb", ("10.99.2.1", "10.99.2.3", "10.99.2.5")) as topo:
        sh("ip", "-n", topo.dst, "link", "set", "d0", "arp", "off")
        sessions = [session("a", 5000, "10.99.2.1", 6000), session("b", 5002, "10.99.2.3", 6002),
                    session("n", 5004, "10.99.2.5", 6004, src_port=7004, nack={})]
        with Dataplane("netnsneigh", topo.ports_conf(), sessions=sessions) as dpl:
            peer = Peer(topo)
            peer.cmd("send 5000 0 5 1000")
            st = dpl.wait_for(lambda s: drops(s) >= 5, timeout=15,
                              what="five waiting frames dropped")
            T.eq(drops(st), 5, "no answer in 3 s: the five waiting frames dropped")

            peer.cmd("send 5000 100 140 1000")
            st = dpl.wait_for(lambda s: drops(s) >= 13, what="the oldest 8 of 40 dropped")
            T.eq(drops(st), 13, "of 40 waiting frames the oldest 8 dropped")
            peer.cmd("arp 10.99.2.1")
            got = peer.cmd("recv 6000")["seqs"]
            T.eq(got, list(range(108, 140)), "the answer: the 32 waiting frames, in order")

            peer.cmd("send 5004 0 10 1000")
            peer.cmd("arp 10.99.2.5")
            T.eq(peer.cmd("recv 6004")["seqs"], list(range(10)), "10.99.2.5: the waiting frames")
            peer.cmd("nack 6005 3 7005")
            T.eq(peer.cmd("recv 6004")["seqs"], [3], "a frame that waited is resent on NACK")
            out = dpl.stats()["sessions"]["n"]["outputs"]["o"]
            T.eq((out["nack_rx"], out["nack_resent"], out.get("nack_miss", 0)), (1, 1, 0),
                 "the output counts the NACK and its resend")

            # A create refused for its NACK buffers (past half of --mbufs, at its second
            # output or later) gives back only the next hops it took: not one reference of
            # entry 0, 10.99.2.1's, which a's output uses (it was freed: a's frames waited
            # for a MAC no one would ask for, and were dropped).
            many = session("big", 5010, "10.99.2.3", 6010, nack={"packets": 4096})
            many["outputs"] = [dict(many["outputs"][0], id="o%d" % i) for i in range(8)]
            rc, _ = dpl.ctl("add", "-", stdin=json.dumps(many))
            T.check(rc != 0, "a create whose NACK buffers pass half of --mbufs is refused")
            before = drops(dpl.stats())
            peer.cmd("send 5000 200 220 1000")
            T.eq(peer.cmd("recv 6000")["seqs"], list(range(200, 220)),
                 "a's output still sends to 10.99.2.1 after that refusal")
            T.eq(drops(dpl.stats()), before, "and drops nothing for want of a MAC")

            peer.cmd("race 5002 10.99.2.3 0 2000")
            got = peer.cmd("recv 6002")["seqs"]
            peer.close()
            late = [(a, b) for a, b in zip(got, got[1:]) if b <= a]
            T.check(not late, "answer in a dense stream: no frame arrives after a newer one "
                    "(%d did, first %s)" % (len(late), late[:3]))
            first = got[0] if got else 2000
            missing = sorted(set(range(first, 2000)) - set(got))
            T.check(len(got) == 2000 - first and not missing,
                    "every frame from the oldest that waited on arrives, once (from %d: %d "
                    "arrived, %d missing, first %s)" % (first, len(got), len(missing),
                                                        missing[:5]))
            st = dpl.stats()
            T.eq(drops(st), 13 + first, "every frame before it counted as dropped")
            T.eq(st["sessions"]["b"]["outputs"]["o"]["tx_pkts"], 2000,
                 "the output counts every frame it handed to the port, waiting ones too")
            if T.failed:
                print("drops:", {k: v for k, v in st["node"].items()
                                 if k.startswith("drop_") and v},
                      "ports:", {p: {k: v for k, v in f.items() if v and k in (
                          "imissed", "rx_nombuf", "ierrors", "oerrors", "tx_full")}
                                 for p, f in st["ports"].items()},
                      "output b:", st["sessions"]["b"]["outputs"]["o"])
                print(dpl.tail())
    T.eq(dpl.rc, 0, "dataplane exited cleanly")
    T.done()


if __name__ == "__main__":
    main()
