# SPDX-License-Identifier: BSD-3-Clause
"""Two network namespaces ("src" and "dst" hosts) joined to the root namespace by veth
pairs; the dataplane takes the root-side ends with net_af_packet and owns 10.99.1.2 and
10.99.2.2, which the hosts use as their gateway. Everything is removed on close.
"""
import os
import subprocess
import time


def sh(*args, check=True):
    return subprocess.run(list(args), check=check, capture_output=True)


class Topology:
    def __init__(self, tag, dst_addrs=("10.99.2.1",)):
        n = os.getpid() % 100000
        self.src, self.dst = "mfs%d" % n, "mfd%d" % n
        self.vsrc, self.vdst = "vs%d" % n, "vd%d" % n
        self.dst_addrs = dst_addrs
        self.tag = tag

    def up(self):
        self.down()
        for ns in (self.src, self.dst):
            sh("ip", "netns", "add", ns)
            sh("ip", "-n", ns, "link", "set", "lo", "up")
        for ns, veth, peer in ((self.src, self.vsrc, "s0"), (self.dst, self.vdst, "d0")):
            sh("ip", "link", "add", veth, "type", "veth", "peer", "name", peer, "netns", ns)
            for dev, netns in ((veth, None), (peer, ns)):
                pre = ["ip", "netns", "exec", netns] if netns else []
                sh(*pre, "sysctl", "-qw", "net.ipv6.conf.%s.disable_ipv6=1" % dev)
            # The kernel would send partial UDP checksums that nobody completes.
            sh("ip", "netns", "exec", ns, "ethtool", "-K", peer, "tx", "off")
            sh("ip", "link", "set", veth, "up")
            sh("ip", "-n", ns, "link", "set", peer, "up")
        sh("ip", "-n", self.src, "addr", "add", "10.99.1.1/24", "dev", "s0")
        sh("ip", "-n", self.src, "route", "add", "10.99.2.0/24", "via", "10.99.1.2")
        for a in self.dst_addrs:
            sh("ip", "-n", self.dst, "addr", "add", a + "/24", "dev", "d0")
        sh("ip", "-n", self.dst, "route", "add", "10.99.1.0/24", "via", "10.99.2.2")
        return self

    def ports_conf(self):
        return """
[port 0]
vdev = net_af_packet_{t}0,iface={vs}
ipv4 = 10.99.1.2/24
[port 1]
vdev = net_af_packet_{t}1,iface={vd}
ipv4 = 10.99.2.2/24
""".format(t=self.tag, vs=self.vsrc, vd=self.vdst)

    def run(self, ns, *args, **kw):
        return subprocess.run(["ip", "netns", "exec", ns] + list(args), **kw)

    def wait_udp(self, ns, *ports, timeout=30):
        """Wait until something in @ns listens on every UDP port of @ports: a receiver is
        ready when its socket is bound, not after a guessed delay."""
        deadline = time.monotonic() + timeout
        while True:
            r = self.run(ns, "ss", "-Hlun", capture_output=True)
            bound = {l.split()[3].rsplit(":", 1)[-1] for l in r.stdout.decode().splitlines()
                     if len(l.split()) > 3}
            if all(str(p) in bound for p in ports):
                return
            if time.monotonic() > deadline:
                raise RuntimeError("no UDP listener on %s in %s after %ss" % (ports, ns, timeout))
            time.sleep(0.05)

    def popen(self, ns, *args, **kw):
        return subprocess.Popen(["ip", "netns", "exec", ns] + list(args), **kw)

    def down(self):
        for ns in (self.src, self.dst):
            sh("ip", "netns", "del", ns, check=False)
        for veth in (self.vsrc, self.vdst):
            sh("ip", "link", "del", veth, check=False)

    def __enter__(self):
        return self.up()

    def __exit__(self, *exc):
        self.down()
        return False
