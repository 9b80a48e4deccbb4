#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""Pipes: a session's media from one node (origin) to another (edge), set up over MQTT.

Two dataplanes on af_packet veths, two control planes ("origin", "edge"), one mosquitto:

  ffmpeg (src ns) -> origin port 0 | origin port 1 <-veth-> edge port 0 | edge port 1 ->
  receivers (dst ns)

1. session.pipe {"id": "cam", "to": "edge", "srtp": true}: answered once the edge agreed;
   the edge holds session "cam" whose source is the origin's output, AEAD_AES_256_GCM under
   the pipe's key; session.get shows the pipe on both nodes; pipe.opened events.
2. ffmpeg pushes H.264 to the origin: a receiver behind the edge (an output of the edge's
   session) decodes every frame bit-exact. A second viewer added mid-stream with
   "start": "keyframe": the edge's PLI goes through the pipe (SRTCP) to the origin, which
   asks ffmpeg; that viewer's decode starts at a key frame, bit-exact.
   Then 3 % of the RTP is lost on the pipe link (l2_relay.py between the dataplanes): a
   viewer that sends NACKs (GStreamer) gets every frame bit-exact, because the edge asks the
   origin for what it never had and the origin resends it from the pipe output's buffer.
   Before that both dataplanes restart: the pipe gets a new key (its SRTP counters start
   again; the origin's key wins the tie), and that stream and its NACKs authenticate.
   Then the origin's dataplane restarts again while the edge's control plane is away and
   its MQTT session gone (session_expiry_s 1): the new key's pipe.key is lost, and the
   origin sends it again until the edge answers; the repair runs under that key.
3. A PLI storm from 8 viewers behind the edge (10 a second each, 3 s): the origin's source
   gets at most one a second.
4. Refusals, nothing changed: a pipe to this node, to a node that does not answer (timeout),
   of an unknown session, twice to the same node, from a port the edge shares no subnet
   with (the edge's error, relayed).
5. The origin's control plane restarts: the pipe is still listed (pipes.json).
6. session.unpipe: the output goes, the edge's session goes, pipe.closed events. Piped
   again, then the origin's session deleted: the edge's session goes with it. A session
   deleted and made again while its pipe opens: the pipe is refused, the new one has none.
7. Edge pull, run after 2 while the link relays (both nodes "edge_pull": true,
   "pipe_linger_s": 1): a stream published on the origin is announced; a viewer's
   stream.subscribe on the edge, which does not have it, opens a pipe from the origin (SRTP under the edge's key) and is answered with the pipe's
   address; ffmpeg's RTP to the origin arrives at the edge. A second viewer shares the pipe.
   Both unsubscribed: the edge closes the pipe after the linger (the origin's output and
   the edge's session gone, pipe.closed "linger"). Refused, nothing made: a stream nobody
   announces, one announced unreadably, one announced by a node that is not online, a
   viewer's offer that takes nothing the stream sends (no pipe opened for it). The
   stream unpublished on the origin: its announcement goes, the edge's pulled session too.
"""
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "dp"))
from cpharness import Broker, Checks, Client, ControlPlane, Dataplane, wait_status  # noqa
from media import decoded_hashes, frame_hashes, gst_receiver, make_clip, rtp_receiver  # noqa
from netns import Topology, sh  # noqa: E402

T = Checks("cp_pipe")
with open(os.path.join(HERE, "..", "unit", "sdp", "chromium-view.sdp")) as f:
    OFFER = f.read()  # a browser's recvonly offer, recorded
# The same offer without its video: it can take nothing of an H.264 stream.
AUDIO_OFFER = OFFER[:OFFER.index("m=video")].replace("a=group:BUNDLE 0 1", "a=group:BUNDLE 0")
DP = os.path.join(HERE, "..", "dp")
RECEIVERS = ("10.99.2.1", "10.99.2.3", "10.99.2.4")
GOP = 50
SSRC = 4660


def ok(r):
    return r is not None and r.get("ok") is True


def code(r):
    return (r or {}).get("error", {}).get("code")


class PipeLink:
    """The link between the origin's port 1 (veth a) and the edge's port 0 (veth b): each
    veth's peer is in namespace "mid", where l2_relay.py joins them, dropping 3 % of the
    RTP toward the edge while the file self.loss exists."""

    def __init__(self, d, n):
        self.a, self.b, self.ns = "vpo%d" % n, "vpe%d" % n, "mfm%d" % n
        self.loss, self.stop = os.path.join(d, "loss"), os.path.join(d, "stop-relay")
        self.relay = None

    def __enter__(self):
        self.__exit__()
        sh("ip", "netns", "add", self.ns)
        for dev, peer in ((self.a, "pa"), (self.b, "pb")):
            sh("ip", "link", "add", dev, "type", "veth", "peer", "name", peer, "netns", self.ns)
            sh("sysctl", "-qw", "net.ipv6.conf.%s.disable_ipv6=1" % dev)
            sh("ip", "netns", "exec", self.ns, "sysctl", "-qw",
               "net.ipv6.conf.%s.disable_ipv6=1" % peer)
            sh("ip", "link", "set", dev, "up")
            sh("ip", "-n", self.ns, "link", "set", peer, "up")
        self.relay = subprocess.Popen(
            ["ip", "netns", "exec", self.ns, "/usr/bin/python3", os.path.join(HERE, "l2_relay.py"),
             "pa", "pb", "3", "7", self.loss, self.stop], stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True)
        if self.relay.stderr.readline().strip() != "ready":
            raise RuntimeError("l2_relay.py did not start")
        return self

    def counts(self):
        """Stop the relay: @return what it counted."""
        open(self.stop, "w").close()
        out = self.relay.communicate(timeout=20)[0]
        self.relay = None
        return json.loads(out.strip().splitlines()[-1]) if out.strip() else {}

    def __exit__(self, *exc):
        if self.relay is not None:
            self.relay.kill()
            self.relay.wait()
        sh("ip", "netns", "del", self.ns, check=False)
        for dev in (self.a, self.b):
            sh("ip", "link", "del", dev, check=False)
        return False


def ports(tag, a, ipa, b, ipb):
    return """
[port 0]
vdev = net_af_packet_{t}0,iface={a}
ipv4 = {ipa}
[port 1]
vdev = net_af_packet_{t}1,iface={b}
ipv4 = {ipb}
""".format(t=tag, a=a, ipa=ipa, b=b, ipb=ipb)


class Events:
    """Every event of every node, kept: a client of its own (request() passes over what is
    not its reply)."""

    def __init__(self, broker):
        self.c = Client(broker)
        self.c.subscribe("mfwd/+/event/#")
        self.seen = []

    def wait(self, node, kind, pred, timeout=10):
        topic = "mfwd/%s/event/%s" % (node, kind)
        match = lambda: [e for t, e, _ in self.seen if t == topic and pred(e)]
        self.seen += self.c.collect_until("mfwd/", lambda got: match() or
                                          any(t == topic and pred(e) for t, e, _ in got),
                                          timeout=timeout)
        return match()


def session_gone(c, node, sid, timeout=10):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if code(c.request("mfwd/%s/cmd" % node, "session.get", {"id": sid})) == "not_found":
            return True
        time.sleep(0.1)
    return False


def open_pipe(c):
    r = c.request("mfwd/origin/cmd", "session.pipe", {"id": "cam", "to": "edge",
                                                     "srtp": True}, timeout=15)
    T.check(ok(r), "session.pipe answered once the edge agreed: %s" % r)
    res = (r or {}).get("result", {})
    T.check(res.get("addr") == "10.99.3.2" and res.get("udp_port", 0) > 0 and
            res.get("srtp") == "AEAD_AES_256_GCM" and res.get("output", "").startswith("pipe:"),
            "the pipe: to the edge's port in the origin's subnet, GCM-256: %s" % res)
    return res


def check_both_sides(c, res):
    e = c.request("mfwd/edge/cmd", "session.get", {"id": "cam"})
    T.check(ok(e), "the edge has session cam: %s" % e)
    text = json.dumps(e)
    T.check('"from": "origin"' in text and "10.99.3.1" in text and "AEAD_AES_256_GCM" in text,
            "the edge's cam: piped from origin, its source the origin's 10.99.3.1, "
            "GCM-256: %s" % text[:600])
    T.check('"key"' not in text, "session.get shows no key")
    o = c.request("mfwd/origin/cmd", "session.get", {"id": "cam"})
    pipes = (o or {}).get("result", {}).get("pipes", [])
    T.check(len(pipes) == 1 and pipes[0].get("to") == "edge" and pipes[0]["state"] == "open"
            and pipes[0].get("output") == res.get("output"),
            "the origin's cam lists the pipe: %s" % pipes)


def media(topo, c, dpo, dpe, d, clip, ref, sdp, res):
    r = c.request("mfwd/edge/cmd", "session.update", {"id": "cam", "add_outputs": [
        {"id": "v1", "port": 1, "addr": RECEIVERS[0], "udp_port": 6000}]})
    T.check(ok(r), "edge: a viewer added: %s" % r)
    v1_out, v1 = rtp_receiver(topo, d, sdp, RECEIVERS[0], 6000, "v1")
    kf_out, kf = rtp_receiver(topo, d, sdp, RECEIVERS[1], 6010, "kf")
    topo.wait_udp(topo.dst, 6000, 6010)
    T.eq(topo.reach(topo.src, "10.99.1.2"), [], "the sender's host reaches the origin")
    sender = topo.popen(topo.src, "ffmpeg", "-nostdin", "-v", "error", "-re", "-i", clip, "-c",
                        "copy", "-f", "rtp", "-payload_type", "96", "-ssrc", str(SSRC),
                        "rtp://10.99.1.2:5004?localport=4000", stdout=subprocess.DEVNULL,
                        stderr=subprocess.PIPE)
    dpe.wait_for(lambda s: s["sessions"]["cam"]["rx_pkts"] >= 1, timeout=20,
                 what="media through the pipe")
    time.sleep(0.7)
    r = c.request("mfwd/edge/cmd", "session.update", {"id": "cam", "add_outputs": [
        {"id": "kf", "port": 1, "addr": RECEIVERS[1], "udp_port": 6010, "start": "keyframe"}]})
    T.check(ok(r), "edge: a viewer added mid-stream, from a key frame: %s" % r)
    storm = pli_storm(topo, c, dpo, res["udp_port"])
    sender.wait(timeout=60)
    got = {}
    for name, out, p in (("v1", v1_out, v1), ("kf", kf_out, kf)):
        try:
            p.wait(timeout=60)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
        said = [l for l in p.stderr.read().decode().splitlines()
                if "Connection timed out" not in l and "Last message repeated" not in l and
                "Input/output error" not in l]
        got[name] = (frame_hashes(out) if os.path.exists(out) else [], "\n".join(said))
    hv, err = got["v1"]
    T.check(err.strip() == "", "v1: no decode error (%r)" % err[-300:])
    T.check(len(hv) >= len(ref) - 1 and hv == ref[:len(hv)],
            "v1 behind the edge: every frame bit-exact (%d of %d)" % (len(hv), len(ref)))
    hk, err = got["kf"]
    first = ref.index(hk[0]) if hk and hk[0] in ref else -1
    T.check(err.strip() == "" and first > 0 and first % GOP == 0,
            "kf: decodes from a key frame (frame %d), no error (%r)" % (first, err[-300:]))
    T.check(first > 0 and hk == ref[first:first + len(hk)] and len(hk) >= len(ref) - first - 1,
            "kf: every frame after it bit-exact (%d frames)" % len(hk))
    so, se = dpo.stats()["sessions"]["cam"], dpe.stats()["sessions"]["cam"]
    print("origin cam: kf_req_received %d, kf_req_sent %d; edge cam: kf_req_received %d, "
          "kf_req_sent %d, drop_srtp %s" % (so["kf_req_received"], so["kf_req_sent"],
                                            se["kf_req_received"], se["kf_req_sent"],
                                            {k: v for k, v in se.items() if "srtp" in k}))
    T.check(se["kf_req_sent"] >= 1 and so["kf_req_received"] >= 1 and so["kf_req_sent"] >= 1,
            "the edge's PLI went through the pipe, the origin asked ffmpeg")
    T.check(storm[0] <= storm[1] + 1,
            "PLI storm behind the edge (%d PLIs, %.1f s): the origin's source got %d" %
            (storm[2], storm[1], storm[0]))
    T.check(so["rx_pkts"] > 0 and se["rx_pkts"] >= so["rx_pkts"] - 5 and
            so["outputs"][res["output"]]["tx_pkts"] >= so["rx_pkts"] - 5,
            "the pipe carried what the origin received: origin rx %d, edge rx %d" %
            (so["rx_pkts"], se["rx_pkts"]))


def pli_storm(topo, c, dpo, edge_port):
    """8 viewers behind the edge, 10 PLIs a second each for 3 s. @return the PLIs the
    origin sent its source meanwhile, the seconds, the PLIs sent."""
    n, secs = 8, 3
    r = c.request("mfwd/edge/cmd", "session.update", {"id": "cam", "add_outputs": [
        {"id": "r%d" % i, "port": 1, "addr": RECEIVERS[2], "udp_port": 6300 + 2 * i}
        for i in range(n)]})
    T.check(ok(r), "edge: %d more viewers: %s" % (n, r))
    before = dpo.stats()["sessions"]["cam"]["kf_req_sent"]
    t0 = time.time()
    p = topo.run(topo.dst, "/usr/bin/python3", os.path.join(DP, "pli_storm.py"), RECEIVERS[2],
                 "6300", str(n), "10.99.2.2", str(edge_port + 1), str(SSRC), "10", str(secs),
                 capture_output=True, timeout=60)
    took = time.time() - t0
    time.sleep(0.3)
    after = dpo.stats()["sessions"]["cam"]["kf_req_sent"]
    return after - before, took, int(p.stdout.decode().strip() or 0)


def logged(cp, text, timeout=20):
    deadline = time.time() + timeout
    while time.time() < deadline:
        with open(cp.log) as f:
            if text in f.read():
                return True
        time.sleep(0.1)
    return False


def new_dataplane(dpo, dpe, cpo, cpe):
    """Both dataplanes restart: their SRTP contexts start their counters again, so under
    the same key GCM's nonces would repeat (and the edge would take the packets for
    replays). Each control plane gives the pipe a new key before its replay and tells the
    other; the higher epoch wins, the origin's on a tie, and a refused key is answered with
    the one kept. The repair below runs through it, media one way and NACKs the other."""
    for dpl in (dpo, dpe):
        dpl.stop()
    for dpl in (dpo, dpe):
        dpl.start()
    T.check(logged(cpo, "pipe of cam to edge: new key (a new dataplane)") and
            logged(cpe, "pipe of cam from origin: new key (a new dataplane)"),
            "both: a new key for the pipe, for their new dataplanes")
    # Whichever order the restarts and keys came in, both ends settle on one key: the
    # media and the NACKs of the repair below authenticate only then.
    T.check(logged(cpe, "pipe of cam from origin: new key from it") or
            logged(cpo, "pipe of cam to edge: new key from it"),
            "one end took the other's key")


def log_count(cp, text):
    with open(cp.log) as f:
        return f.read().count(text)


def lost_key(c, dpo, cpo, cpe):
    """A pipe.key lost on the way: the edge's control plane is away, its MQTT session
    expired (session_expiry_s 1: the broker keeps nothing for it), when the origin's
    dataplane restarts and the origin mints the pipe a new key. The origin sends it again
    (after its reply_timeout_ms, then doubling) until the edge answers; the repair's media
    and NACKs below authenticate only under it."""
    took = "pipe of cam from origin: new key from it"
    minted = "pipe of cam to edge: new key (a new dataplane)"
    again = "pipe of cam to edge: our key of epoch"
    before, minted_before = log_count(cpe, took), log_count(cpo, minted)
    again_before = log_count(cpo, again)
    T.eq(cpe.stop(), 0, "edge's control plane stopped")
    # Its session expired (mosquitto checks about once a second): what is sent to it now
    # is lost.
    time.sleep(3.5)
    dpo.stop()
    dpo.start()
    deadline = time.time() + 20
    while log_count(cpo, minted) == minted_before and time.time() < deadline:
        time.sleep(0.1)
    T.check(log_count(cpo, minted) > minted_before, "origin: a new key for its new dataplane")
    time.sleep(0.5)			# sent into nothing
    cpe.start()
    T.check(wait_status(c, "edge", lambda s: s["online"]) is not None,
            "edge's control plane back")
    deadline = time.time() + 40
    while log_count(cpe, took) == before and time.time() < deadline:
        time.sleep(0.1)
    T.check(log_count(cpe, took) > before and log_count(cpo, again) > again_before,
            "the lost key sent again, and the edge took it")
    T.check(wait_status(c, "origin", lambda s: s["online"] and s["dataplane"]["up"])
            is not None, "origin's dataplane up")


def repair(topo, c, dpo, dpe, link, d, res):
    """3 % of the RTP lost on the pipe: a viewer behind the edge that asks for what it
    misses (GStreamer, NACK) gets every frame; the edge asked the origin for what it never
    had, and the origin resent it from its pipe output's buffer."""
    r = c.request("mfwd/edge/cmd", "session.update", {"id": "cam", "remove_outputs": [
        "v1", "kf"] + ["r%d" % i for i in range(8)], "add_outputs": [
        {"id": "nk", "port": 1, "addr": RECEIVERS[0], "udp_port": 7000,
         "nack": {"buffer_ms": 3000}}]})
    T.check(ok(r), "edge: the viewers replaced by one that sends NACKs: %s" % r)
    d2 = os.path.join(d, "nack")
    os.mkdir(d2)
    # SPS/PPS in band: the receiver has no SDP.
    # Noise: about 1,000 packets, 30 of them lost.
    clip, ref, _ = make_clip(d2, 6, GOP, "-x264-params", "repeat-headers=1", "-vf",
                             "noise=alls=12:allf=t")
    stop = os.path.join(d2, "stop")
    relay = topo.popen(topo.dst, "/usr/bin/python3", os.path.join(DP, "lossy_relay.py"),
                       RECEIVERS[0], "7000", "7100", "7200", "10.99.2.2",
                       str(res["udp_port"] + 1), "0", "1", stop, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE)
    T.check(relay.stderr.readline().decode().strip() == "ready", "viewer's relay ready")
    out, rx = gst_receiver(topo, d2, "nk", 7100, 7200, ssrc=SSRC + 1)
    topo.wait_udp(topo.dst, 7100)
    before = dpe.stats()["sessions"]["cam"]
    sender = topo.popen(topo.src, "ffmpeg", "-nostdin", "-v", "error", "-re", "-i", clip, "-c",
                        "copy", "-f", "rtp", "-payload_type", "96", "-ssrc", str(SSRC + 1),
                        "rtp://10.99.1.2:5004?localport=4000", stdout=subprocess.DEVNULL,
                        stderr=subprocess.PIPE)
    dpe.wait_for(lambda s: s["sessions"]["cam"]["rx_pkts"] > before["rx_pkts"] + 20,
                 timeout=20, what="the second stream at the edge")
    open(link.loss, "w").close()
    sender.wait(timeout=60)
    os.unlink(link.loss)
    time.sleep(3)			# the jitter buffer's latency: the last resends
    rx.send_signal(2)			# -e: end of stream, the file is complete
    try:
        rx.wait(timeout=20)
    except subprocess.TimeoutExpired:
        rx.kill()
    open(stop, "w").close()
    relay.communicate(timeout=10)
    counts = link.counts()
    got = decoded_hashes(out)
    judged = len(ref) - 25		# a loss among the last packets cannot be seen
    print("pipe link: %s" % counts)
    T.check(counts.get("dropped", 0) > 0 and counts.get("again", 0) > 0,
            "the pipe lost RTP (%d) and carried resends (%d)" % (counts.get("dropped", 0),
                                                                 counts.get("again", 0)))
    se = dpe.stats()["sessions"]["cam"]
    T.check(se["drop_srtp_auth"] == 0 and se["drop_srtp_replay"] == 0,
            "the edge authenticated every packet under the new key: %d auth, %d replay drops" %
            (se["drop_srtp_auth"], se["drop_srtp_replay"]))
    T.check(len(got) >= judged and got[:judged] == ref[:judged],
            "nk behind the edge: every frame bit-exact despite the loss (%d decoded, first "
            "difference at %d): %s" % (len(got), next((i for i, (a, b) in enumerate(
                zip(got, ref)) if a != b), min(len(got), len(ref))),
                rx.stderr.read().decode()[-300:]))
    se, so = dpe.stats()["sessions"]["cam"], dpo.stats()["sessions"]["cam"]
    po = so["outputs"][res["output"]]
    print("edge: nack_relayed %d, nack_relay_full %d; origin pipe output: nack_rx %d, "
          "nack_resent %d, nack_miss %d, nack_rtt_skip %d" % (
              se["nack_relayed"], se["nack_relay_full"], po["nack_rx"], po["nack_resent"],
              po["nack_miss"], po["nack_rtt_skip"]))
    T.check(se["nack_relayed"] >= counts.get("dropped", 0) * 0.5 and po["nack_resent"] > 0,
            "the edge asked the origin for what it never had (%d), the origin resent (%d)" %
            (se["nack_relayed"], po["nack_resent"]))
    # The noisy clip's packets and GCM's tag pass the link's MTU: kept whole, cut again.
    T.check(po["frag_tx"] > 0 and po["nack_miss"] == 0,
            "datagrams sent in fragments (%d fragments) were resent too, none missed" %
            po["frag_tx"])


def refusals(c):
    r = c.request("mfwd/origin/cmd", "session.create", {
        "id": "other", "kind": "udp", "ingress": {"port": 0, "addr": "10.99.1.2"}})
    T.check(ok(r), "origin: session other: %s" % r)
    for args, want, what in (
            ({"id": "cam", "to": "origin"}, "bad_value", "a pipe to this node"),
            ({"id": "nope", "to": "edge"}, "not_found", "an unknown session"),
            ({"id": "cam", "to": "edge"}, "exists", "a second pipe to the same node"),
            ({"id": "cam", "to": "ghost"}, "timeout", "a node that does not answer"),
            ({"id": "other", "to": "edge", "port": 0}, "no_route",
             "from a port whose subnet the edge has none of")):
        r = c.request("mfwd/origin/cmd", "session.pipe", args, timeout=15)
        T.check(code(r) == want, "refused, %s: %s" % (what, r))
    o = c.request("mfwd/origin/cmd", "session.get", {"id": "cam"})
    T.check(ok(o) and len(o["result"].get("pipes", [])) == 1 and
            len(o["result"]["spec"]["outputs"]) == 1,
            "after the refusals: one pipe, one output: %s" % json.dumps(o)[:400])
    o = c.request("mfwd/origin/cmd", "session.get", {"id": "other"})
    T.check(ok(o) and "pipes" not in o["result"] and not o["result"]["spec"].get("outputs"),
            "other: no pipe, no output: %s" % json.dumps(o)[:400])
    e = c.request("mfwd/edge/cmd", "session.get", {"id": "other"})
    T.check(code(e) == "not_found", "the edge made nothing of the refused pipe: %s" % e)


def edge_sessions(c):
    r = c.request("mfwd/edge/cmd", "session.list", {})
    return sorted((r or {}).get("result", {}).get("sessions", []))


def origin_pipes(c, sid):
    o = c.request("mfwd/origin/cmd", "session.get", {"id": sid})
    res = (o or {}).get("result", {})
    return res.get("pipes", []), res.get("spec", {}).get("outputs", [])


def pull_refusals(c, before):
    """What the directory must not believe: nothing made on the edge."""
    bad = {"v": 1, "node": "ghost", "room": "live", "name": "cam/ghost", "session": "live:1",
           "webrtc": False, "media": [{"kind": "video", "codec": "h264", "pt": 96, "clock":
                                       90000, "h264_mode": 1, "profile": 66, "ssrc": 0}],
           "pipe": {"kind": "rtp-mux", "src_port": 5000, "ingress": {},
                    "from": [{"port": 1, "addr": "10.99.3.1"}]}}
    for topic, payload in (("mfwd/ghost/stream/live/cam/ghost", json.dumps(bad)),
                           ("mfwd/origin2/stream/live/cam/junk", "{not json")):
        c.c.publish(topic, payload, qos=1, retain=True)
    time.sleep(0.5)
    for name, what in (("cam/none", "a stream nobody announces"),
                       ("cam/ghost", "one announced by a node that is not online"),
                       ("cam/junk", "one announced unreadably")):
        r = c.request("mfwd/edge/cmd", "stream.subscribe", {"room": "live", "stream": name,
                                                            "sdp": OFFER})
        T.check(code(r) == "not_found", "edge pull refused, %s: %s" % (what, r))
    for topic in ("mfwd/ghost/stream/live/cam/ghost", "mfwd/origin2/stream/live/cam/junk"):
        c.c.publish(topic, "", qos=1, retain=True)
    T.eq(edge_sessions(c), before, "the edge made nothing of them")
    # Topics the directory's filter (<prefix>/+/stream/#) matches, though no announcement's
    # form: refused as announcements, never run as commands.
    for topic in ("mfwd/ghost/stream", "mfwd/ghost/stream/", "mfwd//stream/live/x"):
        r = c.request(topic, "session.list", {}, timeout=1)
        T.check(r is None, "a command sent on %s is not run: %s" % (topic, r))


def edge_pull(topo, c, evs, dpo, dpe, clip):
    before = edge_sessions(c)
    T.check(ok(c.request("mfwd/origin/cmd", "room.create", {"room": "live"})),
            "origin: room live")
    r = c.request("mfwd/origin/cmd", "stream.publish", {"room": "live", "stream": "cam/9",
                  "media": [{"kind": "video", "codec": "h264", "pt": 96, "profile": 66}]})
    T.check(ok(r), "origin: stream cam/9 published: %s" % r)
    sid = (r or {}).get("result", {}).get("session", "")
    ingress = (r or {}).get("result", {}).get("ingress", {})
    pull_refusals(c, before)
    r = c.request("mfwd/edge/cmd", "stream.subscribe", {"room": "live", "stream": "cam/9",
                                                        "sdp": AUDIO_OFFER}, timeout=10)
    T.check(code(r) == "bad_sdp",
            "edge pull refused, a viewer's offer without video for an H.264 stream: %s" % r)
    time.sleep(1)
    T.eq(origin_pipes(c, sid), ([], []), "no pipe was opened for it on the origin")
    T.eq(edge_sessions(c), before, "the edge made nothing of it")
    sub = {"room": "live", "stream": "cam/9", "sdp": OFFER}
    r = c.request("mfwd/edge/cmd", "stream.subscribe", sub, timeout=10)
    T.check(ok(r) and r["result"]["session"] == sid and "10.99.3.2" in r["result"]["sdp"],
            "edge: a viewer subscribes to the origin's stream, answered with the pipe's "
            "address: %s" % json.dumps(r)[:300])
    v1 = (r or {}).get("result", {}).get("viewer", "")
    ev = evs.wait("origin", "pipe.opened", lambda e: e.get("session") == sid)
    T.check(len(ev) == 1, "origin: pipe.opened toward the edge: %s" % ev)
    ev = evs.wait("edge", "pipe.opened", lambda e: e.get("session") == sid)
    T.check(len(ev) == 1 and ev[0].get("from") == "origin", "edge: pipe.opened: %s" % ev)
    pipes, outs = origin_pipes(c, sid)
    T.check(len(pipes) == 1 and pipes[0]["to"] == "edge" and pipes[0]["state"] == "open" and
            pipes[0]["srtp"] == "AEAD_AES_256_GCM" and len(outs) == 1,
            "origin: one pipe to the edge, GCM-256, its output: %s" % pipes)
    e = c.request("mfwd/edge/cmd", "session.get", {"id": sid})
    T.check(ok(e) and e["result"].get("pipes") == [{"from": "origin",
                                                    "srtp": "AEAD_AES_256_GCM"}] and
            [o["id"] for o in e["result"]["spec"]["outputs"]] == [v1],
            "edge: the pulled session, piped from the origin, the viewer its output: %s" %
            json.dumps(e)[:400])
    sender = topo.popen(topo.src, "ffmpeg", "-nostdin", "-v", "error", "-re", "-i", clip,
                        "-t", "3", "-c", "copy", "-f", "rtp", "-payload_type", "96",
                        "rtp://10.99.1.2:%d?localport=4002" % ingress.get("udp_port", 9),
                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        dpe.wait_for(lambda s: s["sessions"].get(sid, {}).get("rx_pkts", 0) >= 20,
                     timeout=20, what="the origin's stream at the edge")
    except RuntimeError:
        print("origin %s: %s" % (sid, json.dumps(dpo.stats()["sessions"].get(sid))))
        print("edge %s: %s" % (sid, json.dumps(dpe.stats()["sessions"].get(sid))))
        for n, dp in (("origin", dpo), ("edge", dpe)):
            st = dp.stats()
            print(n, {k: v for k, v in st.get("node", st).items()
                      if isinstance(v, int) and v and k.startswith("drop")})
        print(json.dumps(c.request("mfwd/edge/cmd", "session.get", {"id": sid})))
        print(json.dumps(c.request("mfwd/origin/cmd", "session.get", {"id": sid})))
    sender.wait(timeout=30)
    se = dpe.stats()["sessions"][sid]
    bad = {k: v for k, v in se.items() if k.startswith("drop_") and "srtp" in k and v}
    T.check(se["rx_pkts"] >= 20 and not bad, "the origin's RTP arrived at the edge through "
            "the pipe (%d packets), every one authenticated (%s)" % (se["rx_pkts"], bad))
    r = c.request("mfwd/edge/cmd", "stream.subscribe", sub, timeout=10)
    v2 = (r or {}).get("result", {}).get("viewer", "")
    T.check(ok(r) and len(origin_pipes(c, sid)[0]) == 1,
            "a second viewer on the edge shares the pipe: %s" % (r or {}).get("error"))
    for v in (v1, v2):
        r = c.request("mfwd/edge/cmd", "stream.unsubscribe", {"room": "live",
                                                              "stream": "cam/9", "viewer": v})
        T.check(ok(r), "viewer %s unsubscribed: %s" % (v, r))
    T.check(session_gone(c, "edge", sid), "the last viewer gone: after the linger the edge's "
            "pulled session goes")
    ev = evs.wait("edge", "pipe.closed", lambda e: e.get("session") == sid)
    T.check(len(ev) == 1 and ev[0].get("reason") == "linger", "edge: pipe.closed: %s" % ev)
    ev = evs.wait("origin", "pipe.closed", lambda e: e.get("session") == sid)
    T.check(len(ev) == 1 and ev[0].get("reason") == "unpipe", "origin: pipe.closed: %s" % ev)
    T.eq(origin_pipes(c, sid), ([], []), "origin: no pipe, no output left")
    r = c.request("mfwd/edge/cmd", "stream.subscribe", sub, timeout=10)
    T.check(ok(r), "subscribed again: the pipe opens again: %s" % (r or {}).get("error"))
    T.check(ok(c.request("mfwd/origin/cmd", "stream.unpublish", {"room": "live",
                                                                 "stream": "cam/9"})),
            "origin: cam/9 unpublished")
    T.check(session_gone(c, "edge", sid), "the edge's pulled session goes with the origin's")
    time.sleep(0.5)
    r = c.request("mfwd/edge/cmd", "stream.subscribe", sub)
    T.check(code(r) == "not_found", "unpublished, no longer announced: not_found: %s" % r)
    T.eq(edge_sessions(c), before, "the edge holds what it held before")


def main():
    d = tempfile.mkdtemp(prefix="mfwd-pipe-")
    clip, ref, sdp = make_clip(d, 6, GOP)
    n = os.getpid() % 100000
    with Topology("cpp", RECEIVERS) as topo, PipeLink(d, n) as link, Broker() as broker:
        dpo = Dataplane("cppo", ports("cppo", topo.vsrc, "10.99.1.2/24", link.a,
                                      "10.99.3.1/24"))
        dpe = Dataplane("cppe", ports("cppe", link.b, "10.99.3.2/24", topo.vdst,
                                      "10.99.2.2/24"))
        with dpo, dpe:
            cpo = ControlPlane(broker, "origin", dpo.instance, reply_timeout_ms=3000,
                               edge_pull=True, pipe_linger_s=1)
            cpe = ControlPlane(broker, "edge", dpe.instance, edge_pull=True, pipe_linger_s=1,
                               session_expiry_s=1)
            with cpo, cpe:
                run(topo, broker, dpo, dpe, cpo, cpe, link, d, clip, ref, sdp)
                for cp in (cpo, cpe):
                    T.eq(cp.stop(), 0, "%s's control plane exits cleanly (no leak under "
                         "ASan)" % cp.node)
                if T.failed:
                    print(cpo.tail(40))
                    print(cpe.tail(40))
    T.done()


def run(topo, broker, dpo, dpe, cpo, cpe, link, d, clip, ref, sdp):
    c, evs = Client(broker), Events(broker)
    for node in ("origin", "edge"):
        T.check(wait_status(c, node, lambda s: s["online"] and s["dataplane"]["up"])
                is not None, "%s online" % node)
    r = c.request("mfwd/origin/cmd", "session.create", {
        "id": "cam", "kind": "rtp",
        "ingress": {"port": 0, "addr": "10.99.1.2", "udp_port": 5004, "source": "latch",
                    "clock_rates": {"96": 90000}, "codecs": {"96": "h264"}}})
    T.check(ok(r), "origin: session cam: %s" % r)
    res = open_pipe(c)
    ev = evs.wait("origin", "pipe.opened", lambda e: e.get("to") == "edge")
    T.check(len(ev) == 1, "origin: pipe.opened: %s" % ev)
    ev = evs.wait("edge", "pipe.opened", lambda e: e.get("from") == "origin")
    T.check(len(ev) == 1, "edge: pipe.opened: %s" % ev)
    check_both_sides(c, res)
    media(topo, c, dpo, dpe, d, clip, ref, sdp, res)
    edge_pull(topo, c, evs, dpo, dpe, clip)
    new_dataplane(dpo, dpe, cpo, cpe)
    lost_key(c, dpo, cpo, cpe)
    repair(topo, c, dpo, dpe, link, d, res)
    refusals(c)

    T.eq(cpo.stop(), 0, "origin's control plane stops cleanly, a pipe open")
    cpo.start()
    T.check(wait_status(c, "origin", lambda s: s["online"] and s["dataplane"]["up"])
            is not None, "origin's control plane back")
    o = c.request("mfwd/origin/cmd", "session.get", {"id": "cam"})
    T.check(ok(o) and [p.get("to") for p in o["result"].get("pipes", [])] == ["edge"],
            "after a restart the origin still lists its pipe: %s" % (o or {}).get("result",
                                                                          {}).get("pipes"))
    r = c.request("mfwd/origin/cmd", "session.unpipe", {"id": "cam", "to": "edge"})
    T.check(ok(r), "session.unpipe: %s" % r)
    T.check(session_gone(c, "edge", "cam"), "unpiped: the edge's session is gone")
    o = c.request("mfwd/origin/cmd", "session.get", {"id": "cam"})
    T.check(ok(o) and "pipes" not in o["result"] and o["result"]["spec"].get("outputs", []) == [],
            "unpiped: the origin's cam has no pipe and no output: %s" % json.dumps(o)[:300])
    ev = evs.wait("edge", "pipe.closed", lambda e: e.get("reason") == "origin")
    T.check(len(ev) == 1, "edge: pipe.closed: %s" % ev)
    r = c.request("mfwd/origin/cmd", "session.unpipe", {"id": "cam", "to": "edge"})
    T.check(code(r) == "not_found", "unpiped twice: not_found: %s" % r)

    r = c.request("mfwd/origin/cmd", "session.pipe", {"id": "cam", "to": "edge"}, timeout=15)
    T.check(ok(r) and r["result"]["srtp"] is None, "piped again, plain: %s" % r)
    r = c.request("mfwd/origin/cmd", "session.delete", {"id": "cam"})
    T.check(ok(r), "origin: cam deleted: %s" % r)
    T.check(session_gone(c, "edge", "cam"), "the origin's session gone: the edge's goes too")
    ev = evs.wait("origin", "pipe.closed", lambda e: e.get("reason") == "session_gone")
    T.check(len(ev) == 1, "origin: pipe.closed, its session gone: %s" % ev)
    asker = Client(broker)	# its own: a client's replies are taken one waiter at a time
    made_again(c, asker, cpo, cpe)
    asker.close()
    c.close()
    evs.c.close()


def made_again(c, other, cpo, cpe):
    """A session deleted while its pipe opens (the edge slow to answer: stopped), and one
    of its name made at once (by anyone): the edge's answer does not put the pipe on it."""
    spec = {"id": "cam2", "kind": "udp", "ingress": {"port": 0, "addr": "10.99.1.2"}}
    T.check(ok(c.request("mfwd/origin/cmd", "session.create", spec)), "origin: cam2")
    got = []
    os.kill(cpe.proc.pid, signal.SIGSTOP)
    try:
        asker = threading.Thread(target=lambda: got.append(other.request(
            "mfwd/origin/cmd", "session.pipe", {"id": "cam2", "to": "edge"}, timeout=30)))
        asker.start()
        T.check(logged(cpo, "session cam2: asking node edge for a pipe"),
                "the origin asked the edge for cam2's pipe")
        T.check(ok(c.request("mfwd/origin/cmd", "session.delete", {"id": "cam2"})) and
                ok(c.request("mfwd/origin/cmd", "session.create", spec)),
                "cam2 deleted and made again while its pipe opens")
    finally:
        os.kill(cpe.proc.pid, signal.SIGCONT)
    asker.join(40)
    T.check(got and code(got[0]) == "not_found",
            "the pipe refused: its session was deleted meanwhile (%s)" % got)
    pipes, outs = origin_pipes(c, "cam2")
    T.check(pipes == [] and outs == [], "the new cam2 has no pipe and no output (%s, %s)" %
            (pipes, outs))
    T.check(session_gone(c, "edge", "cam2"), "the edge's cam2 goes too")
    T.check(ok(c.request("mfwd/origin/cmd", "session.delete", {"id": "cam2"})),
            "origin: cam2 deleted")


if __name__ == "__main__":
    main()
