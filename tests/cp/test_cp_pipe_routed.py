#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""A pipe between nodes in different subnets, through a router (origin and edge in two
sites): each node reaches the other through its port's gateway.

  src ns -> origin port 0 (10.99.1.2) | origin port 1 10.99.3.2/24, gateway 10.99.3.1
     -> router ns (10.99.3.1 | 10.99.4.1, the kernel forwarding) ->
  edge port 0 10.99.4.2/24, gateway 10.99.4.1 | edge port 1 (10.99.2.2) -> dst ns

1. session.pipe {"id": "cam", "to": "edge", "srtp": true}: no port of the edge shares a
   subnet with the origin's, so the edge takes its port with a gateway and the origin's
   address whose port has one (10.99.3.2, not port 0's 10.99.1.2); node.info lists each
   port's gateways.
2. A numbered RTP flow from the src host to the origin reaches a receiver behind the edge,
   every packet, in order, through the router.
3. Refused, nothing made: a pipe from the origin's port 0 only (no gateway there: the
   edge could send nothing back), code no_route, the edge's message relayed.
4. session.unpipe: the edge's session goes.
"""
import json
import os
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "dp"))
from cpharness import Broker, Checks, Client, ControlPlane, Dataplane, wait_status  # noqa
from netns import Topology, sh  # noqa: E402

T = Checks("cp_pipe_routed")


def ok(r):
    return r is not None and r.get("ok") is True


def code(r):
    return (r or {}).get("error", {}).get("code")


class Router:
    """A namespace that routes between the origin's port 1 (veth a, 10.99.3.0/24) and the
    edge's port 0 (veth b, 10.99.4.0/24): the kernel forwards, nothing else joins them."""

    def __init__(self, n):
        self.a, self.b, self.ns = "vro%d" % n, "vre%d" % n, "mfr%d" % n

    def __enter__(self):
        self.__exit__()
        sh("ip", "netns", "add", self.ns)
        sh("ip", "netns", "exec", self.ns, "sysctl", "-qw", "net.ipv4.ip_forward=1")
        for dev, peer, addr in ((self.a, "ra", "10.99.3.1/24"), (self.b, "rb", "10.99.4.1/24")):
            sh("ip", "link", "add", dev, "type", "veth", "peer", "name", peer, "netns", self.ns)
            sh("sysctl", "-qw", "net.ipv6.conf.%s.disable_ipv6=1" % dev)
            sh("ip", "netns", "exec", self.ns, "sysctl", "-qw",
               "net.ipv6.conf.%s.disable_ipv6=1" % peer)
            sh("ip", "netns", "exec", self.ns, "ethtool", "-K", peer, "tx", "off")
            sh("ip", "-n", self.ns, "addr", "add", addr, "dev", peer)
            sh("ip", "link", "set", dev, "up")
            sh("ip", "-n", self.ns, "link", "set", peer, "up")
        return self

    def __exit__(self, *exc):
        sh("ip", "netns", "del", self.ns, check=False)
        for dev in (self.a, self.b):
            sh("ip", "link", "del", dev, check=False)
        return False


def ports(tag, a, ipa, gwa, b, ipb, gwb):
    gw = lambda g: "gateway = %s\n" % g if g else ""
    return """
[port 0]
vdev = net_af_packet_{t}0,iface={a}
ipv4 = {ipa}
{ga}[port 1]
vdev = net_af_packet_{t}1,iface={b}
ipv4 = {ipb}
{gb}""".format(t=tag, a=a, ipa=ipa, ga=gw(gwa), b=b, ipb=ipb, gb=gw(gwb))


def run(topo, c, d):
    for node in ("origin", "edge"):
        T.check(wait_status(c, node, lambda s: s["online"] and s["dataplane"]["up"])
                is not None, "%s online" % node)
    r = c.request("mfwd/origin/cmd", "node.info")
    gws = [p.get("gateways") for p in (r or {}).get("result", {}).get("ports", [])]
    T.eq(gws, [[], ["ipv4"]], "node.info: the origin's port 1 has an IPv4 gateway")
    for sid, udp in (("cam", 5100), ("cam2", 5102)):
        r = c.request("mfwd/origin/cmd", "session.create", {
            "id": sid, "kind": "rtp",
            "ingress": {"port": 0, "addr": "10.99.1.2", "udp_port": udp, "source": "latch"}})
        T.check(ok(r), "origin: session %s: %s" % (sid, r))

    r = c.request("mfwd/origin/cmd", "session.pipe", {"id": "cam", "to": "edge", "srtp": True},
                  timeout=15)
    res = (r or {}).get("result", {})
    T.check(ok(r) and res.get("addr") == "10.99.4.2" and res.get("srtp") == "AEAD_AES_256_GCM",
            "piped through the gateways, to the edge's 10.99.4.2: %s" % r)
    e = c.request("mfwd/edge/cmd", "session.get", {"id": "cam"})
    ing = (e or {}).get("result", {}).get("spec", {}).get("ingress", {})
    T.check(ing.get("port") == 0 and ing.get("addr") == "10.99.4.2" and
            "10.99.3.2" in json.dumps(ing) and "10.99.1.2" not in json.dumps(ing),
            "the edge's cam: on its routed port, its source the origin's routed address "
            "10.99.3.2: %s" % json.dumps(ing)[:400])
    r = c.request("mfwd/edge/cmd", "session.update", {"id": "cam", "add_outputs": [
        {"id": "v1", "port": 1, "addr": "10.99.2.1", "udp_port": 7100}]})
    T.check(ok(r), "edge: a viewer added: %s" % r)

    flow = topo.flow_start(os.path.join(d, "stop"), port=5100, to=7100)
    sent, got = topo.flow_end(flow, at_least_s=1.0)
    print("routed flow: sent %d, %s" % (sent, got))
    T.check(sent > 100 and got.get("received") == [sent] and got.get("lost") == [0] and
            got.get("reorder") == [0], "every packet through origin, router and edge, in "
            "order: sent %d, %s" % (sent, got))

    r = c.request("mfwd/origin/cmd", "session.pipe", {"id": "cam2", "to": "edge", "port": 0},
                  timeout=15)
    T.check(code(r) == "no_route" and "gateway" in r["error"].get("message", ""),
            "from port 0 only (no gateway): no_route, the edge's message: %s" % r)
    T.eq(code(c.request("mfwd/edge/cmd", "session.get", {"id": "cam2"})), "not_found",
         "refused: nothing on the edge")
    o = c.request("mfwd/origin/cmd", "session.get", {"id": "cam2"})
    T.check(ok(o) and "pipes" not in o["result"] and o["result"]["spec"].get("outputs", []) == [],
            "refused: the origin's cam2 has no pipe, no output: %s" % json.dumps(o)[:300])

    r = c.request("mfwd/origin/cmd", "session.unpipe", {"id": "cam", "to": "edge"})
    T.check(ok(r), "session.unpipe: %s" % r)
    gone = False
    for _ in range(50):
        if code(c.request("mfwd/edge/cmd", "session.get", {"id": "cam"})) == "not_found":
            gone = True
            break
        time.sleep(0.1)
    T.check(gone, "unpiped: the edge's session is gone")


def main():
    d = tempfile.mkdtemp(prefix="mfwd-piperouted-")
    n = os.getpid() % 100000
    with Topology("cpr", ("10.99.2.1",)) as topo, Router(n) as rt, Broker() as broker:
        dpo = Dataplane("cpro", ports("cpro", topo.vsrc, "10.99.1.2/24", None, rt.a,
                                      "10.99.3.2/24", "10.99.3.1"))
        dpe = Dataplane("cpre", ports("cpre", rt.b, "10.99.4.2/24", "10.99.4.1", topo.vdst,
                                      "10.99.2.2/24", None))
        with dpo, dpe:
            cpo = ControlPlane(broker, "origin", dpo.instance, reply_timeout_ms=3000)
            cpe = ControlPlane(broker, "edge", dpe.instance)
            with cpo, cpe:
                c = Client(broker)
                run(topo, c, d)
                c.close()
                for cp in (cpo, cpe):
                    T.eq(cp.stop(), 0, "%s's control plane exits cleanly" % cp.node)
                if T.failed:
                    print(cpo.tail(30))
                    print(cpe.tail(30))
    T.done()


if __name__ == "__main__":
    main()
