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
import fcntl
import json
import os
import queue
import select
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

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


class DevTools:
    """The DevTools protocol over Chromium's pipe: fd 3 takes commands, fd 4 gives results,
    each message a JSON text ended by NUL."""

    def __init__(self, netns, profile):
        cmd_r, self.to_chrome = os.pipe()
        self.from_chrome, res_w = os.pipe()
        # Its ends above 10, so that moving them to 3 and 4 in the child clobbers neither.
        theirs_in = fcntl.fcntl(cmd_r, fcntl.F_DUPFD, 10)
        theirs_out = fcntl.fcntl(res_w, fcntl.F_DUPFD, 10)
        os.close(cmd_r)
        os.close(res_w)
        chromium = shutil.which("chromium") or "/usr/bin/chromium"
        # fd 3 and 4 in the child are its ends of the pipes.
        self.proc = subprocess.Popen(
            ["ip", "netns", "exec", netns, chromium, "--headless=new", "--no-sandbox",
             "--remote-debugging-pipe", "--user-data-dir=" + profile, "--no-first-run",
             "--disable-gpu", "--mute-audio", "about:blank"],
            # 3 and 4 kept too: the child closes what it does not keep after the dup2s.
            pass_fds=(3, 4, theirs_in, theirs_out), stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            preexec_fn=lambda: (os.dup2(theirs_in, 3), os.dup2(theirs_out, 4)))
        os.close(theirs_in)
        os.close(theirs_out)
        self.next_id = 0
        self.buf = b""
        self.session = None

    def call(self, method, params=None, timeout=20):
        self.next_id += 1
        msg = {"id": self.next_id, "method": method, "params": params or {}}
        if self.session:
            msg["sessionId"] = self.session
        os.write(self.to_chrome, json.dumps(msg).encode() + b"\0")
        deadline = time.time() + timeout
        while time.time() < deadline:
            while b"\0" in self.buf:
                raw, self.buf = self.buf.split(b"\0", 1)
                got = json.loads(raw)
                if got.get("id") == self.next_id:
                    return got
            ready, _, _ = select.select([self.from_chrome], [], [], 0.2)
            if ready:
                data = os.read(self.from_chrome, 65536)
                if not data:
                    raise RuntimeError("chromium went away")
                self.buf += data
        raise TimeoutError(method)

    def attach(self):
        targets = self.call("Target.getTargets")["result"]["targetInfos"]
        page = [t for t in targets if t["type"] == "page"][0]
        r = self.call("Target.attachToTarget", {"targetId": page["targetId"], "flatten": True})
        self.session = r["result"]["sessionId"]

    def eval(self, expr):
        r = self.call("Runtime.evaluate", {"expression": expr, "awaitPromise": True,
                                           "returnByValue": True})
        res = r.get("result", {})
        if "exceptionDetails" in res:
            raise RuntimeError(json.dumps(res["exceptionDetails"])[:500])
        return res.get("result", {}).get("value")

    def close(self):
        try:
            self.call("Browser.close", timeout=5)
        except Exception:
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


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
