# SPDX-License-Identifier: BSD-3-Clause
"""Two network namespaces ("src" and "dst" hosts) joined to the root namespace by veth
pairs; the dataplane takes the root-side ends with net_af_packet and owns 10.99.1.2 and
10.99.2.2, which the hosts use as their gateway. Everything is removed on close.
"""
import json
import os
import subprocess
import time

PY = "/usr/bin/python3"
UDPFLOWS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "udpflows.py")


def sh(*args, check=True):
    return subprocess.run(list(args), check=check, capture_output=True)


class Topology:
    """@ipv6: the hosts also have fd00:1::1/64 and fd00:2::1/64, routed through mfwd's
    fd00:1::2 and fd00:2::2 (otherwise IPv6 is off on the links, keeping counters free of
    router solicitations)."""

    def __init__(self, tag, dst_addrs=("10.99.2.1",), ipv6=False, index=0):
        # @index: one test's second (third...) topology, its own namespaces and veths.
        n = os.getpid() % 100000 + 100000 * index
        self.src, self.dst = "mfs%d" % n, "mfd%d" % n
        self.vsrc, self.vdst = "vs%d" % n, "vd%d" % n
        self.vhost = "vm%d" % n
        self.dst_addrs = dst_addrs
        self.tag = tag
        self.ipv6 = ipv6
        self.procs = []     # what popen started: ended with the namespaces

    def up(self):
        self.down()
        for ns in (self.src, self.dst):
            sh("ip", "netns", "add", ns)
            sh("ip", "-n", ns, "link", "set", "lo", "up")
        for ns, veth, peer in ((self.src, self.vsrc, "s0"), (self.dst, self.vdst, "d0")):
            sh("ip", "link", "add", veth, "type", "veth", "peer", "name", peer, "netns", ns)
            for dev, netns in ((veth, None), (peer, ns)):
                pre = ["ip", "netns", "exec", netns] if netns else []
                off = 0 if self.ipv6 and netns else 1
                sh(*pre, "sysctl", "-qw", "net.ipv6.conf.%s.disable_ipv6=%d" % (dev, off))
            # The kernel would send partial UDP checksums that nobody completes.
            sh("ip", "netns", "exec", ns, "ethtool", "-K", peer, "tx", "off")
            sh("ip", "link", "set", veth, "up")
            sh("ip", "-n", ns, "link", "set", peer, "up")
        sh("ip", "-n", self.src, "addr", "add", "10.99.1.1/24", "dev", "s0")
        sh("ip", "-n", self.src, "route", "add", "10.99.2.0/24", "via", "10.99.1.2")
        for a in self.dst_addrs:
            sh("ip", "-n", self.dst, "addr", "add", a + "/24", "dev", "d0")
        sh("ip", "-n", self.dst, "route", "add", "10.99.1.0/24", "via", "10.99.2.2")
        if self.ipv6:
            for ns, dev, me, other, gw in ((self.src, "s0", "fd00:1::1", "fd00:2::/64",
                                            "fd00:1::2"),
                                           (self.dst, "d0", "fd00:2::1", "fd00:1::/64",
                                            "fd00:2::2")):
                sh("ip", "-n", ns, "addr", "add", me + "/64", "dev", dev, "nodad")
                sh("ip", "-n", ns, "-6", "route", "add", other, "via", gw)
        return self

    def link_host(self, ns):
        """A kernel link between this namespace and @ns, beside mfwd's ports: for a broker
        in @ns that processes here reach. Its /30 is this test's own (10.98.x.y by pid): a
        fixed one met a demo's left behind (tools/demo uses 10.99.9.0/30), and connections
        went there. @return the address in @ns."""
        n = os.getpid() % 16384
        me, peer = ("10.98.%d.%d" % (n // 64, (n % 64) * 4 + k) for k in (1, 2))
        sh("ip", "link", "add", self.vhost, "type", "veth", "peer", "name", "m0", "netns", ns)
        sh("sysctl", "-qw", "net.ipv6.conf.%s.disable_ipv6=1" % self.vhost)
        sh("ip", "addr", "add", me + "/30", "dev", self.vhost)
        sh("ip", "link", "set", self.vhost, "up")
        sh("ip", "-n", ns, "addr", "add", peer + "/30", "dev", "m0")
        sh("ip", "-n", ns, "link", "set", "m0", "up")
        return peer

    def ports_conf(self, big_frames=False):
        """@big_frames: af_packet hands IPv4 datagrams over reassembled by the kernel
        (PACKET_FANOUT_FLAG_DEFRAG), so frames up to 16 KB arrive: large rings and RX
        mbufs to hold them."""
        v6 = lambda a: "ipv6 = %s/64\n" % a if self.ipv6 else ""
        big = ",blocksz=65536,framesz=16384,framecnt=512" if big_frames else ""
        rx = "rx_buf_size = 16384\n" if big_frames else ""
        return """
[port 0]
vdev = net_af_packet_{t}0,iface={vs}{big}
ipv4 = 10.99.1.2/24
{a}{rx}[port 1]
vdev = net_af_packet_{t}1,iface={vd}{big}
ipv4 = 10.99.2.2/24
{b}{rx}""".format(t=self.tag, vs=self.vsrc, vd=self.vdst, a=v6("fd00:1::2"), b=v6("fd00:2::2"),
                  big=big, rx=rx)

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

    def reach(self, ns, *addrs):
        """Ping each of @addrs from @ns once: a host that resolves mfwd's MAC while it sends
        may let a new packet pass the ones its kernel queued, and the tests count order.
        @return the addresses that did not answer."""
        return [a for a in addrs
                if self.run(ns, "ping", "-c", "1", "-W", "5", a, capture_output=True).returncode]

    def popen(self, ns, *args, **kw):
        p = subprocess.Popen(["ip", "netns", "exec", ns] + list(args), **kw)
        self.procs.append(p)
        return p

    def flow_start(self, stop, port=5100, to=7100, src_port=4100, pps=200):
        """A numbered RTP flow (udpflows.py) from the src host's @src_port to mfwd's
        10.99.1.2:@port, received on the dst host's 10.99.2.1:@to, sent until the file
        @stop exists: proof that a session kept forwarding while others were refused.
        Returns once the first packet arrived."""
        if os.path.exists(stop):
            os.unlink(stop)
        rx = self.popen(self.dst, PY, UDPFLOWS, "recv", "10.99.2.1", str(to), "1", "3",
                        "first", stdout=subprocess.PIPE, text=True)
        self.wait_udp(self.dst, to)
        tx = self.popen(self.src, PY, UDPFLOWS, "send", "10.99.1.2", str(port), "1", str(pps),
                        stop, str(src_port), stdout=subprocess.PIPE, text=True)
        flow = (rx, tx, stop, time.monotonic())
        line = None
        while line not in ("first\n", ""):
            line = rx.stdout.readline()
        if line == "":
            self.flow_end(flow, at_least_s=0)
            raise RuntimeError("the numbered flow did not get through")
        return rx, tx, stop, time.monotonic()

    @staticmethod
    def flow_end(flow, at_least_s=1.0):
        """Stop a flow_start() flow, having run at least @at_least_s seconds: @return
        (packets sent, what udpflows.py received: {"received": [n], "lost": [n], ...})."""
        rx, tx, stop, t0 = flow
        time.sleep(max(0.0, t0 + at_least_s - time.monotonic()))
        open(stop, "w").close()
        try:
            sent = json.loads(tx.communicate(timeout=20)[0])["sent"][0]
            got = json.loads(rx.communicate(timeout=40)[0].splitlines()[-1])
        except (subprocess.TimeoutExpired, ValueError, IndexError):
            for p in (rx, tx):
                p.kill()
                p.wait()
            return 0, {"received": [0], "lost": [0], "error": "no figures"}
        return sent, got

    def down(self):
        # A test that failed midway leaves its peers (ffmpeg, GStreamer, relays) running:
        # a namespace deleted does not end its processes.
        for p in getattr(self, "procs", []):
            if p.poll() is None:
                p.kill()
                p.wait()
        self.procs = []
        for ns in (self.src, self.dst):
            sh("ip", "netns", "del", ns, check=False)
        for veth in (self.vsrc, self.vdst, self.vhost):
            sh("ip", "link", "del", veth, check=False)

    def __enter__(self):
        return self.up()

    def __exit__(self, *exc):
        self.down()
        return False
