#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""A browser viewer: headless Chromium (Debian's) in a network namespace, driven over the
DevTools protocol on a pipe (--remote-debugging-pipe: no port to reach across namespaces),
signalled over MQTT by this script (stream.subscribe with the page's offer, mfwd's answer
set back), as a viewer page would.

  chromium_view.py --broker PORT --topic mfwd/n1/cmd --room R --stream S --netns NS
                   [--seconds S] [--frames N]

The MQTT connection is made here, in the namespace the script starts in; Chromium runs in
NS. Prints JSON lines: {"event": "answer", ...}, then {"event": "stats", "framesDecoded",
"framesDropped", "freezeCount", "connection"} about every second, last {"event": "done"}.
Exits 0 when at least --frames frames were decoded within --seconds.
"""
import argparse
import json
import os
import queue
import shutil
import sys
import tempfile
import threading
import time
import uuid

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                                "tools", "web"))
from headless import DevTools  # noqa: E402

OFFER = """(async () => {
  window.pc = new RTCPeerConnection({bundlePolicy: 'max-bundle'});
  pc.addTransceiver('video', {direction: 'recvonly'});
  const o = await pc.createOffer();
  await pc.setLocalDescription(o);
  return o.sdp;
})()"""
ANSWER = """(async () => {
  await pc.setRemoteDescription({type: 'answer', sdp: %s});
  return 'ok';
})()"""
STATS = """(async () => {
  const r = {connection: pc.connectionState, framesDecoded: 0, framesDropped: 0,
             freezeCount: 0};
  (await pc.getStats()).forEach(s => {
    if (s.type === 'inbound-rtp' && s.kind === 'video') {
      r.framesDecoded = s.framesDecoded || 0; r.framesDropped = s.framesDropped || 0;
      r.freezeCount = s.freezeCount || 0;
    }
  });
  return JSON.stringify(r);
})()"""


def out(**kw):
    print(json.dumps(kw), flush=True)


def request(port, topic, cmd, args):
    replies = queue.Queue()
    c = mqtt.Client(client_id="chromium-" + uuid.uuid4().hex[:8], protocol=mqtt.MQTTv5)
    reply_topic = "test/reply/" + uuid.uuid4().hex
    c.on_message = lambda cl, u, m: replies.put(m)
    done = threading.Event()
    c.on_subscribe = lambda *a: done.set()
    c.connect("127.0.0.1", port)
    c.subscribe(reply_topic, qos=1)
    c.loop_start()
    done.wait(10)
    props = Properties(PacketTypes.PUBLISH)
    props.ResponseTopic = reply_topic
    props.CorrelationData = b"1"
    c.publish(topic, json.dumps({"id": uuid.uuid4().hex, "cmd": cmd, "args": args}), qos=1,
              properties=props)
    try:
        return json.loads(replies.get(timeout=20).payload), c
    except queue.Empty:
        return None, c


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--broker", type=int, required=True)
    ap.add_argument("--topic", required=True)
    ap.add_argument("--room", required=True)
    ap.add_argument("--stream", required=True)
    ap.add_argument("--netns", required=True)
    ap.add_argument("--seconds", type=float, default=30)
    ap.add_argument("--frames", type=int, default=100)
    a = ap.parse_args()
    profile = tempfile.mkdtemp(prefix="mfwd-chromium-")
    dt = DevTools(a.netns, profile)
    ok, last = False, {}
    try:
        dt.attach()
        offer = dt.eval(OFFER)
        r, c = request(a.broker, a.topic, "stream.subscribe",
                       {"room": a.room, "stream": a.stream, "sdp": offer})
        out(event="answer", ok=bool(r and r.get("ok")), error=(r or {}).get("error"))
        if r and r.get("ok"):
            dt.eval(ANSWER % json.dumps(r["result"]["sdp"]))
            deadline = time.time() + a.seconds
            while time.time() < deadline:
                time.sleep(1)
                last = json.loads(dt.eval(STATS))
                out(event="stats", **last)
                if last["framesDecoded"] >= a.frames:
                    ok = True
                    break
            c.publish(a.topic, json.dumps({"cmd": "stream.unsubscribe", "args": {
                "room": a.room, "stream": a.stream, "viewer": r["result"]["viewer"]}}),
                qos=1).wait_for_publish()
        c.loop_stop()
    finally:
        dt.close()
        shutil.rmtree(profile, ignore_errors=True)
    out(event="done", ok=ok, **last)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
