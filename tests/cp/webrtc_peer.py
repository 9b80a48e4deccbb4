#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""A WebRTC device or viewer signalled over MQTT, as a camera or a browser of a fleet would
be: GStreamer's webrtcbin for the media, paho-mqtt for stream.publish / stream.subscribe.

  webrtc_peer.py --broker PORT --topic mfwd/n1/cmd --room R --stream S
                 (--publish CODEC | --view) [--netns NS] [--seconds S] [--frames N]

The MQTT connection is made first, in the namespace the script starts in (where the
broker is); then, with --netns, the script enters NS for the media (the namespace's
network is where mfwd's streams port is). A publisher sends a moving test pattern (vp8 or
h264) until --seconds; a viewer decodes what it gets and stops after --frames decoded
frames or --seconds (or SIGTERM). Prints JSON lines: {"event": "answer", "reply": ...} for
the signalling, {"event": "state", ...} for ICE and the connection, and last {"event":
"done", "frames": decoded frames, "digests": [sha1 of each decoded I420 frame]}: a
publisher decodes what it encodes (its local decode, the reference for its viewers'), a
viewer what it receives.
Exits 0 when signalling succeeded (and, viewing, at least one frame was decoded).
"""
import argparse
import ctypes
import hashlib
import json
import os
import queue
import signal
import sys
import time
import uuid

import gi
gi.require_version("Gst", "1.0")
gi.require_version("GstWebRTC", "1.0")
gi.require_version("GstSdp", "1.0")
from gi.repository import GLib, Gst, GstSdp, GstWebRTC  # noqa: E402
import paho.mqtt.client as mqtt  # noqa: E402
from paho.mqtt.packettypes import PacketTypes  # noqa: E402
from paho.mqtt.properties import Properties  # noqa: E402

CLONE_NEWNET = 0x40000000
# Encoder, then payloader: a publisher's tee between them feeds its local decode.
ENCODE = {
    "vp8": ("vp8enc deadline=1 keyframe-max-dist=30",
            "rtpvp8pay pt=96 ! application/x-rtp,media=video,encoding-name=VP8,payload=96,"
            "clock-rate=90000"),
    "h264": ("x264enc tune=zerolatency speed-preset=ultrafast key-int-max=30 ! "
             "video/x-h264,profile=constrained-baseline",
             "rtph264pay pt=102 config-interval=-1 aggregate-mode=zero-latency ! "
             "application/x-rtp,media=video,encoding-name=H264,payload=102,clock-rate=90000"),
}
LOCAL_DECODE = {"vp8": "vp8dec", "h264": "avdec_h264"}
SINK = "videoconvert ! video/x-raw,format=I420 ! fakesink name=%s signal-handoffs=true sync=false"

# After a loss the depayloader waits for a key frame (and asks for one) rather than hand the
# decoder frames whose references it lacks: a viewer decodes only pictures that are right.
DECODE = {"VP8": "rtpvp8depay wait-for-keyframe=true request-keyframe=true ! vp8dec",
          "H264": "rtph264depay wait-for-keyframe=true request-keyframe=true ! avdec_h264"}


def out(**kw):
    print(json.dumps(kw), flush=True)


def enter_netns(name):
    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    fd = os.open("/run/netns/" + name, os.O_RDONLY)
    if libc.setns(fd, CLONE_NEWNET) != 0:
        raise OSError(ctypes.get_errno(), "setns " + name)
    os.close(fd)


class Signal:
    """One request at a time over MQTT 5 (response topic, correlation data)."""

    def __init__(self, port, topic):
        self.topic = topic
        self.replies = queue.Queue()
        cid = "peer-" + uuid.uuid4().hex[:8]
        self.reply_topic = "test/reply/" + cid
        self.c = mqtt.Client(client_id=cid, protocol=mqtt.MQTTv5)
        self.c.on_message = lambda c, u, m: self.replies.put(m)
        self.c.connect("127.0.0.1", port)
        self.c.subscribe(self.reply_topic, qos=1)
        self.c.loop_start()
        time.sleep(0.3)

    def request(self, cmd, args, timeout=20):
        corr = uuid.uuid4().bytes
        props = Properties(PacketTypes.PUBLISH)
        props.ResponseTopic = self.reply_topic
        props.CorrelationData = corr
        self.c.publish(self.topic, json.dumps({"id": uuid.uuid4().hex, "cmd": cmd,
                                               "args": args}), qos=1, properties=props)
        deadline = time.time() + timeout
        while time.time() < deadline:
            try:
                m = self.replies.get(timeout=0.2)
            except queue.Empty:
                continue
            if getattr(m.properties, "CorrelationData", None) == corr:
                return json.loads(m.payload)
        return None


class Peer:
    def __init__(self, a, sig):
        self.a, self.sig = a, sig
        self.frames, self.digests = 0, []
        self.ok = False
        self.viewer = None
        self.loop = GLib.MainLoop()
        desc = "webrtcbin name=w bundle-policy=max-bundle"
        if a.publish:
            enc, pay = ENCODE[a.publish]
            desc = ("videotestsrc is-live=true pattern=ball ! video/x-raw,width=320,height=240,"
                    "framerate=30/1 ! videoconvert ! queue ! %s ! tee name=t ! queue ! %s ! "
                    % (enc, pay)) + desc + (" t. ! queue ! %s ! " % LOCAL_DECODE[a.publish] +
                                            SINK % "local")
        self.pipe = Gst.Pipeline.new("peer")
        self.pipe.add(Gst.parse_bin_from_description(desc, False))
        self.w = self.pipe.get_by_name("w")
        if a.publish:
            self.pipe.get_by_name("local").connect("handoff", self.on_frame)
        if not a.publish:
            caps = Gst.Caps.from_string("application/x-rtp,media=video,encoding-name=VP8,"
                                        "payload=96,clock-rate=90000;application/x-rtp,"
                                        "media=video,encoding-name=H264,payload=102,"
                                        "clock-rate=90000,packetization-mode=(string)1,"
                                        "profile-level-id=(string)42e01f")
            self.w.emit("add-transceiver", GstWebRTC.WebRTCRTPTransceiverDirection.RECVONLY,
                        caps)
            self.w.connect("pad-added", self.on_pad)
        self.w.connect("on-negotiation-needed", self.on_negotiation)
        self.w.connect("notify::ice-connection-state", self.on_state, "ice")
        self.w.connect("notify::connection-state", self.on_state, "connection")

    def on_state(self, w, pspec, what):
        out(event="state", what=what, state=w.get_property(pspec.name).value_nick)

    def on_negotiation(self, w):
        p = Gst.Promise.new_with_change_func(self.on_offer, None)
        w.emit("create-offer", None, p)

    def on_offer(self, promise, _):
        # The reply held while its offer is used: PyGObject frees a temporary's copy.
        reply = promise.get_reply()
        offer = reply.get_value("offer")
        self.w.emit("set-local-description", offer, Gst.Promise.new())
        # mfwd is ICE-lite: the offer needs no candidates of ours, its answer gives its one.
        sdp = offer.sdp.as_text()
        a = self.a
        if a.publish:
            r = self.sig.request("stream.publish", {"room": a.room, "stream": a.stream,
                                                    "sdp": sdp})
        else:
            r = self.sig.request("stream.subscribe", {"room": a.room, "stream": a.stream,
                                                      "sdp": sdp})
        out(event="answer", reply={k: v for k, v in (r or {}).items() if k != "result"},
            result={k: v for k, v in ((r or {}).get("result") or {}).items()
                    if k != "sdp" or os.environ.get("MFWD_DEBUG")})
        if not r or not r.get("ok"):
            GLib.idle_add(self.loop.quit)
            return
        self.ok = True
        self.viewer = r["result"].get("viewer")
        res, msg = GstSdp.SDPMessage.new_from_text(r["result"]["sdp"])
        answer = GstWebRTC.WebRTCSessionDescription.new(GstWebRTC.WebRTCSDPType.ANSWER, msg)
        self.w.emit("set-remote-description", answer, Gst.Promise.new())

    def on_pad(self, w, pad):
        if pad.get_direction() != Gst.PadDirection.SRC:
            return
        caps = pad.get_current_caps() or pad.query_caps(None)
        name = caps.get_structure(0).get_string("encoding-name") or ""
        out(event="pad", caps=caps.to_string())
        dec = DECODE.get(name.upper())
        if dec is None:
            return
        bin_ = Gst.parse_bin_from_description("queue ! %s ! " % dec + SINK % "sink", True)
        self.w.get_parent().add(bin_)  # beside webrtcbin: a link stays within a bin
        bin_.get_by_name("sink").connect("handoff", self.on_frame)
        bin_.sync_state_with_parent()
        pad.link(bin_.get_static_pad("sink"))

    def on_frame(self, sink, buf, pad):
        ok, info = buf.map(Gst.MapFlags.READ)
        if ok:
            self.digests.append(hashlib.sha1(info.data).hexdigest())
            buf.unmap(info)
        self.frames += 1
        if self.a.frames and self.frames == self.a.frames:
            if self.a.linger:
                out(event="frames", frames=self.frames)
                GLib.timeout_add(int(self.a.linger * 1000), self.loop.quit)
            else:
                GLib.idle_add(self.loop.quit)

    def on_bus(self, bus, msg):
        if msg.type in (Gst.MessageType.ERROR, Gst.MessageType.WARNING):
            err, dbg = msg.parse_error() if msg.type == Gst.MessageType.ERROR else \
                msg.parse_warning()
            out(event="bus", type=msg.type.first_value_nick, src=msg.src.get_name(),
                message=err.message)

    def run(self):
        bus = self.pipe.get_bus()
        bus.add_signal_watch()
        bus.connect("message", self.on_bus)
        self.pipe.set_state(Gst.State.PLAYING)
        GLib.timeout_add(int(self.a.seconds * 1000), self.loop.quit)
        # Stopped by the test: still say what was decoded.
        GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signal.SIGTERM, self.loop.quit)
        self.loop.run()
        self.pipe.set_state(Gst.State.NULL)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--broker", type=int, required=True)
    ap.add_argument("--topic", required=True)
    ap.add_argument("--room", required=True)
    ap.add_argument("--stream", required=True)
    ap.add_argument("--publish", choices=sorted(ENCODE))
    ap.add_argument("--view", action="store_true")
    ap.add_argument("--netns")
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--frames", type=int, default=0)
    ap.add_argument("--linger", type=float, default=0,
                    help="after the frames, seconds before leaving (the test's next step)")
    a = ap.parse_args()
    Gst.init(None)
    sig = Signal(a.broker, a.topic)
    if a.netns:
        enter_netns(a.netns)
    peer = Peer(a, sig)
    peer.run()
    if peer.viewer:
        # A viewer that leaves says so: its output goes at once, not when ICE consent
        # runs out.
        r = sig.request("stream.unsubscribe", {"room": a.room, "stream": a.stream,
                                               "viewer": peer.viewer})
        out(event="unsubscribed", ok=bool(r and r.get("ok")))
    out(event="done", frames=peer.frames, digests=peer.digests)
    sig.c.loop_stop()
    sys.exit(0 if peer.ok and (a.publish or peer.frames > 0) else 1)


if __name__ == "__main__":
    main()
