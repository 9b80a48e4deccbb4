#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""Rooms and streams with real WebRTC peers: GStreamer's webrtcbin as the publishing device
and as viewers, each signalled over MQTT by webrtc_peer.py (stream.publish,
stream.subscribe), its media in a network namespace behind the dataplane (net_af_packet).

- room.create, a stream published by a VP8 webrtcbin: the answer is mfwd's (ICE-lite, DTLS
  passive, one host candidate on the streams' port); the publisher connects;
- two webrtcbin viewers subscribe: each connects (ICE and DTLS with mfwd), decodes at
  least 60 frames, every one identical to a frame of the publisher's own decode of what it
  encoded (digests of the I420 pictures), and the two decode the same pictures;
- room.get lists the stream with its viewers and figures; ice.connected and dtls.connected
  events name the room, the stream and the viewer; stream.unsubscribe removes one;
- refusals change nothing, and another session forwards a numbered flow without a loss
  meanwhile: an offer with no codec mfwd forwards (bad_sdp naming the line),
  a stream that is not published, a room that does not exist, a second publish of a name,
  plain media mfwd could not answer for (H.264 without its profile, two media of one
  payload type or kind), a publish to a draining node;
- a plain RTP publish gets an address and a port, and an H.264 webrtcbin viewer of an
  H.264 webrtcbin publisher decodes too;
- a device that pushes on demand (device_sim.py: a retained status, ffmpeg started and
  stopped on command): device.list shows it; nothing is pulled before a viewer, nor for a
  subscribe refused (an offer that is not SDP, or takes none of its media); a viewer
  of cam-9/main gets the device asked to push and decodes; once it left and linger_s has
  passed the device is asked to stop and the stream ends; a second viewer pulls again; the
  stream unpublished, the device is asked to stop, and a third viewer pulls again; the
  control plane restarts, and when the device goes offline the stream ends; its status
  cleared, device.list forgets it;
- headless Chromium (DevTools over a pipe, in the namespace) views a camera's ffmpeg H.264
  pulled on demand and a webrtcbin VP8 device: 100 frames decoded (freezes printed);
- a viewer that subscribes and never connects (a page closed at once) is removed once its
  consent timeout (30 s) passes without a check (ice.timeout, naming it); before, it held
  its output for good;
- stream.unpublish, room.delete remove the sessions; the control plane's restart keeps the
  rooms and streams (room.list, room.get).
"""
import json
import os
import select
import shutil
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cpharness import SKIP, Broker, Checks, Client, ControlPlane, wait_status  # noqa: E402
from harness import Dataplane  # noqa: E402
from netns import Topology  # noqa: E402

T = Checks("cp_webrtc")
CMD = "mfwd/n1/cmd"
HERE = os.path.dirname(os.path.abspath(__file__))
PY = "/usr/bin/python3"
NO_CODEC = """v=0\r
o=- 1 1 IN IP4 127.0.0.1\r
s=-\r
t=0 0\r
a=group:BUNDLE 0\r
a=fingerprint:sha-256 """ + ":".join(["AB"] * 32) + """\r
m=video 9 UDP/TLS/RTP/SAVPF 100\r
c=IN IP4 0.0.0.0\r
a=mid:0\r
a=ice-ufrag:abcd\r
a=ice-pwd:abcdefghijklmnopqrstuvwx\r
a=setup:actpass\r
a=rtcp-mux\r
a=sendonly\r
a=rtpmap:100 MPV/90000\r
"""


def have_webrtcbin():
    r = subprocess.run([PY, "-c", "import gi; gi.require_version('Gst', '1.0'); "
                        "gi.require_version('GstWebRTC', '1.0'); from gi.repository import Gst;"
                        " Gst.init(None); assert Gst.ElementFactory.find('webrtcbin')"],
                       capture_output=True)
    return r.returncode == 0


def peer(topo, broker, room, stream, *args):
    env = dict(os.environ)
    if "--view" in args and os.environ.get("VIEW_GST_DEBUG"):
        env["GST_DEBUG"] = os.environ["VIEW_GST_DEBUG"]
    return subprocess.Popen([PY, os.path.join(HERE, "webrtc_peer.py"), "--broker",
                             str(broker.port), "--topic", CMD, "--room", room, "--stream",
                             stream, "--netns", topo.src] + list(args),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


def lines(p, timeout=60):
    try:
        out, err = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        p.kill()
        out, err = p.communicate()
    got = [json.loads(x) for x in out.splitlines() if x.startswith("{")]
    if p.returncode != 0:
        print("peer exited %s:\n%s\n%s" % (p.returncode, out[-2000:], err[-2000:]))
    return got


def wait_event(p, name, timeout):
    """Read @p's lines until the event @name (or @timeout s, or its end)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        ready, _, _ = select.select([p.stdout], [], [], 0.2)
        if not ready:
            continue
        line = p.stdout.readline()
        if not line:
            return False
        if line.startswith("{") and json.loads(line).get("event") == name:
            return True
    return False


def event(got, name):
    return [x for x in got if x.get("event") == name]


def ok(r):
    return r is not None and r.get("ok")


def published(c, name, wait=20):
    """Wait until @name is listed in the lobby (its publisher signalled)."""
    deadline = time.time() + wait
    while True:
        r = c.request(CMD, "room.get", {"room": "lobby"})
        st = [x for x in r["result"]["streams"] if x["stream"] == name] if ok(r) else []
        if st:
            return st[0]
        if time.time() >= deadline:
            return None
        time.sleep(0.2)


def ghost_subscribe(broker, c):
    """A viewer that subscribes and never connects. @return it and a watcher of events."""
    with open(os.path.join(HERE, "..", "unit", "sdp", "chromium-view.sdp")) as f:
        offer = f.read()  # a browser's recvonly offer, recorded
    evc = Client(broker)
    evc.subscribe("mfwd/n1/event/ice.timeout")
    r = c.request(CMD, "stream.subscribe", {"room": "lobby", "stream": "cam-1/main",
                                            "sdp": offer, "viewer": "ghost"})
    T.check(ok(r), "a viewer that will never connect subscribes: %s" % r)
    return evc


def ghost_gone(c, evc):
    """Its consent timeout passed without a check: removed, and told."""
    deadline = time.time() + 45
    while time.time() < deadline and "ghost" in (published(c, "cam-1/main") or {}).get(
            "viewers", ["ghost"]):
        time.sleep(0.5)
    T.check("ghost" not in (published(c, "cam-1/main") or {}).get("viewers", ["ghost"]),
            "the viewer that never connected removed after its consent timeout")
    evs = [e for _, e, _ in evc.collect("mfwd/n1/event/", 0.5)]
    T.check(any(e.get("viewer") == "ghost" and e.get("stream") == "cam-1/main" for e in evs),
            "ice.timeout names it: %s" % evs)
    evc.close()


def check_stream(topo, broker, c, name, codec, viewers):
    """A webrtcbin publisher of @codec and @viewers webrtcbin viewers of it."""
    pub = peer(topo, broker, "lobby", name, "--publish", codec, "--seconds", "25")
    T.check(published(c, name) is not None, "%s published" % name)
    views = [peer(topo, broker, "lobby", name, "--view", "--frames", "90", "--seconds", "20")
             for i in range(viewers)]
    deadline, st = time.time() + 20, {}
    while time.time() < deadline and len(st.get("viewers", [])) < viewers:
        st = published(c, name) or {}
        time.sleep(0.1)
    T.eq(len(st.get("viewers", [])), viewers, "room.get lists the viewers of %s" % name)
    seen = [lines(v) for v in views]
    T.check(all(event(got, "unsubscribed") and event(got, "unsubscribed")[0]["ok"]
                for got in seen), "each viewer unsubscribed as it left")
    T.eq((published(c, name) or {}).get("viewers"), [], "no viewer of %s left" % name)
    T.check((st.get("stats") or {}).get("rx_pkts", 0) > 0, "room.get has the stream's figures")
    if os.environ.get("MFWD_DEBUG"):
        print(json.dumps(st, indent=1))
        print(json.dumps(c.request(CMD, "session.get", {"id": st.get("session")}), indent=1))
    pub.terminate()
    pg = lines(pub)
    ans = event(pg, "answer")
    T.check(ans and ans[0]["reply"].get("ok"), "stream.publish answered: %s" % ans)
    T.check(any(x.get("state") == "connected" and x.get("what") == "connection" for x in pg),
            "the %s publisher connected (ICE and DTLS)" % codec)
    done = event(pg, "done")
    local = set(done[0]["digests"]) if done else set()
    T.check(len(local) > 0, "the %s publisher decoded what it sent (%d pictures)" %
            (codec, len(local)))
    digests = []
    for i, got in enumerate(seen):
        done = event(got, "done")
        frames = done[0]["frames"] if done else 0
        T.check(frames >= 60, "%s viewer %d decoded %d frames" % (codec, i, frames))
        digests.append(done[0]["digests"] if done else [])
        alien = [k for k, d in enumerate(digests[-1]) if d not in local]
        T.check(frames and not alien, "every frame %s viewer %d decoded is one of the "
                "sender's local decode (%d of %d are not, frames %s)" %
                (codec, i, len(alien), frames, alien[:3] + alien[-2:]))
    if viewers > 1:
        common = set(digests[0]) & set(digests[1])
        T.check(len(common) >= 30, "the two viewers decoded the same pictures (%d in "
                "common)" % len(common))
    return st


def device(topo, broker, name):
    return subprocess.Popen([PY, os.path.join(HERE, "device_sim.py"), "--broker",
                             str(broker.port), "--name", name, "--room", "lobby", "--netns",
                             topo.src], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


def check_device(topo, broker, c, cp):
    """A camera that pushes only while watched."""
    dev = device(topo, broker, "cam-9")
    deadline, known = time.time() + 20, []
    while time.time() < deadline and not known:
        r = c.request(CMD, "device.list")
        known = [d for d in (r["result"]["devices"] if ok(r) else [])
                 if d["device"] == "cam-9" and d["online"]]
        time.sleep(0.1)
    T.check(known and known[0]["streams"] == ["main"] and known[0]["room"] == "lobby",
            "device.list: cam-9 online in lobby with its stream main (%s)" % known)
    T.check(published(c, "cam-9/main", wait=0) is None, "nothing pulled before a viewer")
    r = c.request(CMD, "stream.subscribe", {"room": "lobby", "stream": "cam-9/main",
                                            "sdp": "junk"})
    T.check(r and not r["ok"] and r["error"]["code"] == "bad_sdp",
            "a subscribe with an offer that is not SDP: refused (%s)" % r)
    T.check(published(c, "cam-9/main", wait=0) is None,
            "and nothing pulled for it (the device not asked to push)")
    with open(os.path.join(HERE, "..", "unit", "sdp", "chromium-view.sdp")) as f:
        offer = f.read()
    audio = offer[:offer.index("m=video")].replace("a=group:BUNDLE 0 1", "a=group:BUNDLE 0")
    r = c.request(CMD, "stream.subscribe", {"room": "lobby", "stream": "cam-9/main",
                                            "sdp": audio})
    T.check(r and not r["ok"] and r["error"]["code"] == "bad_sdp",
            "a subscribe whose offer takes none of the device's media: refused (%s)" % r)
    T.check(published(c, "cam-9/main", wait=0) is None,
            "and nothing pulled for it (before, the device pushed for linger_s)")
    view = peer(topo, broker, "lobby", "cam-9/main", "--view", "--frames", "60", "--seconds",
                "25")
    if os.environ.get("MFWD_DEBUG"):
        time.sleep(6)
        print(json.dumps(published(c, "cam-9/main", wait=0), indent=1))
    got = lines(view)
    done = event(got, "done")
    T.check(done and done[0]["frames"] >= 30, "a viewer of cam-9/main decoded %s frames" %
            (done[0]["frames"] if done else 0))
    deadline = time.time() + 20
    while time.time() < deadline and published(c, "cam-9/main", wait=0) is not None:
        time.sleep(0.2)
    T.check(published(c, "cam-9/main", wait=0) is None,
            "the stream stopped after the last viewer left and linger_s passed")
    # A second viewer pulls it again; then the device goes away without a word.
    view = peer(topo, broker, "lobby", "cam-9/main", "--view", "--frames", "30", "--seconds",
                "25", "--linger", "30")
    T.check(wait_event(view, "frames", 30), "the second viewer decodes")
    T.check(published(c, "cam-9/main", wait=0) is not None, "pulled again for a new viewer")
    # Unpublished while it pushes: the device is told to stop (before, it went on pushing to
    # the old port and ignored the next push: the next viewer got nothing).
    r = c.request(CMD, "stream.unpublish", {"room": "lobby", "stream": "cam-9/main"})
    T.check(ok(r), "cam-9/main unpublished while the device pushes: %s" % r)
    view.terminate()
    lines(view)
    view = peer(topo, broker, "lobby", "cam-9/main", "--view", "--frames", "30", "--seconds",
                "25", "--linger", "30")
    T.check(wait_event(view, "frames", 30), "a viewer after the unpublish decodes")
    # The stream's device is known again after a restart (before, only its first record's,
    # made before the device was named, was read: the stream outlived the device).
    cp.stop()
    cp.start()
    T.check(wait_status(c, "n1", lambda s: s["online"] and s["dataplane"]["up"]) is not None,
            "the control plane restarted while the device pushes")
    dev.terminate()
    out, err = dev.communicate(timeout=20)
    deadline = time.time() + 20
    while time.time() < deadline and published(c, "cam-9/main", wait=0) is not None:
        time.sleep(0.2)
    T.check(published(c, "cam-9/main", wait=0) is None, "a device gone offline: its stream ends")
    # Its retained status cleared (taken out of the fleet): forgotten.
    c.c.publish("devices/cam-9/status", b"", qos=1, retain=True).wait_for_publish()
    deadline, known = time.time() + 10, ["cam-9"]
    while time.time() < deadline and "cam-9" in known:
        r = c.request(CMD, "device.list")
        known = [d["device"] for d in r["result"]["devices"]] if ok(r) else known
        time.sleep(0.1)
    T.check("cam-9" not in known, "a device whose status is cleared is forgotten: %s" % known)
    view.terminate()
    lines(view)
    evs = [json.loads(x) for x in out.splitlines() if x.startswith("{")]
    kinds = [e["event"] for e in evs]
    T.eq(kinds, ["online", "push", "stop", "push", "stop", "push", "offline"],
         "the device pushed only while watched")
    push = [e for e in evs if e["event"] == "push"]
    T.check(push and push[0]["to"]["addr"] == "10.99.1.2" and push[0]["stream"] == "main",
            "push names the address, port and stream: %s" % push[:1])


def chromium(topo, broker, name):
    p = subprocess.Popen([PY, os.path.join(HERE, "chromium_view.py"), "--broker",
                          str(broker.port), "--topic", CMD, "--room", "lobby", "--stream", name,
                          "--netns", topo.src, "--frames", "100", "--seconds", "40"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    return lines(p, timeout=90)


def check_chromium(topo, broker, c):
    """Chromium as the viewer: of a camera pushing plain RTP H.264 (ffmpeg, on demand) and
    of a webrtcbin device publishing VP8."""
    dev = device(topo, broker, "cam-8")
    deadline = time.time() + 20
    while time.time() < deadline:
        r = c.request(CMD, "device.list")
        if ok(r) and any(d["device"] == "cam-8" and d["online"] for d in r["result"]["devices"]):
            break
        time.sleep(0.1)
    pub = peer(topo, broker, "lobby", "cam-4/vp8", "--publish", "vp8", "--seconds", "60")
    T.check(published(c, "cam-4/vp8") is not None, "cam-4/vp8 published")
    for name, what in (("cam-8/main", "ffmpeg's H.264 over plain RTP, pulled"),
                       ("cam-4/vp8", "webrtcbin's VP8")):
        got = chromium(topo, broker, name)
        done = event(got, "done")
        d = done[0] if done else {}
        print("Chromium, %s: %s" % (name, {k: d.get(k) for k in (
            "framesDecoded", "framesDropped", "freezeCount", "connection")}))
        # Freezes are printed, not judged: Chromium counts one when a frame comes late,
        # and with the dataplane's worker polling one of two cores, Chromium, the encoder
        # and the broker share the other (CI saw a freeze with nothing lost, in a run
        # that passed before and after). What mfwd answers for is judged: frames decoded.
        T.check(d.get("ok") and d.get("framesDecoded", 0) >= 100,
                "Chromium decodes %s: %s" % (what, {k: d.get(k) for k in (
                    "framesDecoded", "framesDropped", "freezeCount", "connection")}))
    pub.terminate()
    lines(pub)
    dev.terminate()
    dev.communicate(timeout=20)


def check_refusals(topo, broker, c):
    """Each refusal changes nothing, and another session forwards a numbered flow without a
    loss meanwhile."""
    r = c.request(CMD, "session.create", {"id": "other", "kind": "rtp", "ingress": {
        "port": 0, "addr": "10.99.1.2", "udp_port": 5100}, "outputs": [
            {"port": 1, "addr": "10.99.2.1", "udp_port": 7100}]})
    T.check(ok(r), "session other: %s" % r)
    flow = topo.flow_start(os.path.join(broker.dir, "stop-flow"))
    refusals(c)
    sent, got = topo.flow_end(flow)
    T.check(sent > 50 and got["received"][0] == sent and got["lost"][0] == 0,
            "session other forwarded its %d numbered packets during the refusals (%s)" %
            (sent, got))
    T.check(ok(c.request(CMD, "session.delete", {"id": "other"})), "session other deleted")


def refusals(c):
    before = c.request(CMD, "session.list")
    r = c.request(CMD, "stream.publish", {"room": "lobby", "stream": "bad", "sdp": NO_CODEC})
    T.check(not ok(r) and r["error"]["code"] == "bad_sdp" and "line" in r["error"]["message"],
            "an offer with no codec mfwd forwards: bad_sdp naming the line (%s)" % r)
    r = c.request(CMD, "stream.subscribe", {"room": "lobby", "stream": "nope", "sdp": "v=0"})
    T.check(not ok(r) and r["error"]["code"] == "not_found", "no such stream: %s" % r)
    r = c.request(CMD, "stream.publish", {"room": "attic", "stream": "x", "media": [
        {"kind": "video", "codec": "h264", "pt": 96, "profile": 66}]})
    T.check(not ok(r) and r["error"]["code"] == "not_found", "no such room: %s" % r)
    r = c.request(CMD, "stream.publish", {"room": "lobby", "stream": "cam-1/main", "media": [
        {"kind": "video", "codec": "h264", "pt": 96, "profile": 66}]})
    T.check(not ok(r) and r["error"]["code"] == "exists", "published twice: %s" % r)
    for media, what in (([{"kind": "video", "codec": "h264", "pt": 96}], "H.264 without its "
                         "profile"),
                        ([{"kind": "video", "codec": "vp8", "pt": 96, "ssrc": 1},
                          {"kind": "audio", "codec": "opus", "pt": 96, "ssrc": 2}],
                         "two media of one payload type"),
                        ([{"kind": "video", "codec": "vp8", "pt": 96, "ssrc": 1},
                          {"kind": "video", "codec": "vp9", "pt": 98, "ssrc": 2}],
                         "two videos")):
        r = c.request(CMD, "stream.publish", {"room": "lobby", "stream": "odd", "media": media})
        T.check(not ok(r) and r["error"]["code"] == "bad_value", "%s: %s" % (what, r))
    T.check(ok(c.request(CMD, "node.drain", {"drain": True})), "node.drain")
    r = c.request(CMD, "stream.publish", {"room": "lobby", "stream": "late", "media": [
        {"kind": "video", "codec": "vp8", "pt": 96}]})
    T.check(not ok(r) and r["error"]["code"] == "draining", "a draining node: %s" % r)
    T.check(ok(c.request(CMD, "node.drain", {"drain": False})), "node.drain off")
    T.eq(c.request(CMD, "session.list")["result"], before["result"],
         "the refusals changed nothing")


def main():
    if not have_webrtcbin():
        print("skip: no webrtcbin (gir1.2-gst-plugins-bad-1.0)")
        sys.exit(SKIP)
    with Topology("cpw") as topo, Broker() as broker:
        dpl = Dataplane("cpwebrtc", topo.ports_conf())
        with dpl:
            cp = ControlPlane(broker, "n1", dpl.instance, streams={"port": 0},
                              devices={"prefix": "devices", "linger_s": 1})
            with cp:
                c = Client(broker)
                T.check(wait_status(c, "n1", lambda s: s["online"] and s["dataplane"]["up"])
                        is not None, "control plane online")
                evc = Client(broker)
                evc.subscribe("mfwd/n1/event/#")
                r = c.request(CMD, "room.create", {"room": "lobby"})
                T.check(ok(r), "room.create: %s" % r)
                st = check_stream(topo, broker, c, "cam-1/main", "vp8", 2)
                evs = [e for t, e, rt in evc.collect("mfwd/n1/event/", 0.5)]
                for kind in ("ice.connected", "dtls.connected"):
                    got = [e for e in evs if e.get("event") == kind and
                           e.get("stream") == "cam-1/main" and e.get("room") == "lobby"]
                    T.check(sorted(e.get("viewer") for e in got if "viewer" in e) ==
                            sorted(st.get("viewers", [])) and
                            any(e.get("endpoint") == "ingress" for e in got),
                            "%s events name the room, stream and each viewer: %s" % (kind, got))
                evc.close()
                ghost = ghost_subscribe(broker, c)
                check_refusals(topo, broker, c)
                r = c.request(CMD, "stream.unsubscribe", {"room": "lobby",
                                                          "stream": "cam-1/main",
                                                          "viewer": st["viewers"][0]})
                T.check(not ok(r) and r["error"]["code"] == "not_found",
                        "a viewer gone is not found: %s" % r)
                check_stream(topo, broker, c, "cam-2/h264", "h264", 1)
                check_device(topo, broker, c, cp)
                if shutil.which("chromium"):
                    check_chromium(topo, broker, c)
                else:
                    print("no chromium: the browser viewer is not checked")
                r = c.request(CMD, "stream.publish", {"room": "lobby", "stream": "door/ip-cam",
                                                      "media": [{"kind": "video",
                                                                 "codec": "h264", "pt": 96,
                                                                 "profile": 66}]})
                T.check(ok(r) and r["result"]["ingress"]["addr"] == "10.99.1.2" and
                        r["result"]["ingress"]["udp_port"] > 0,
                        "a plain RTP camera gets an address and port: %s" % r)
                ghost_gone(c, ghost)
                c.close()
            with cp:
                c = Client(broker)
                wait_status(c, "n1", lambda s: s["online"] and s["dataplane"]["up"])
                r = c.request(CMD, "room.get", {"room": "lobby"})
                names = sorted(x["stream"] for x in r["result"]["streams"]) if ok(r) else []
                T.eq(names, sorted(["cam-1/main", "cam-2/h264", "door/ip-cam"] +
                                   (["cam-4/vp8"] if shutil.which("chromium") else [])),
                     "a restart keeps the streams")
                r = c.request(CMD, "stream.unpublish", {"room": "lobby", "stream": "door/ip-cam"})
                T.check(ok(r), "stream.unpublish: %s" % r)
                r = c.request(CMD, "room.delete", {"room": "lobby"})
                T.check(ok(r) and r["result"]["streams"] == len(names) - 1,
                        "room.delete: %s" % r)
                r = c.request(CMD, "session.list")
                T.check(ok(r) and r["result"]["total"] == 0, "no session left: %s" % r)
                r = c.request(CMD, "room.list")
                T.check(ok(r) and r["result"]["rooms"] == [], "no room left: %s" % r)
                c.close()
                if T.failed:
                    print(cp.tail(60))
    T.done()


if __name__ == "__main__":
    main()
