#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""A camera that pushes on demand, as a fleet's devices do: its own MQTT client announces
it with a retained status (its last will says it is gone), and on its command topic it
takes "push" (start sending to the address and port given) and "stop". The video is
ffmpeg's H.264 test pattern over RTP, sent from a network namespace.

  device_sim.py --broker PORT [--host ADDR] --name cam-9 --room lobby --netns NS [--prefix devices]
                [--seconds S]

Prints JSON lines: {"event": "online"}, then {"event": "push", "to": ...} and {"event":
"stop"} as commands come, each with "t" (seconds since start); a "stop" naming another
session than its push's is ignored (another node's pull). SIGTERM: a clean exit
(status offline); SIGKILL leaves it to the will.
"""
import argparse
import json
import signal
import subprocess
import sys
import time

import paho.mqtt.client as mqtt

T0 = time.monotonic()


def out(**kw):
    kw["t"] = round(time.monotonic() - T0, 3)
    print(json.dumps(kw), flush=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--broker", type=int, required=True)
    ap.add_argument("--host", default="127.0.0.1", help="the broker's address")
    ap.add_argument("--name", required=True)
    ap.add_argument("--room", required=True)
    ap.add_argument("--netns", required=True)
    ap.add_argument("--prefix", default="devices")
    ap.add_argument("--seconds", type=float, default=120)
    a = ap.parse_args()
    status = "%s/%s/status" % (a.prefix, a.name)
    state = {"ffmpeg": None, "quit": False}
    c = mqtt.Client(client_id="dev-" + a.name, protocol=mqtt.MQTTv5)
    c.will_set(status, json.dumps({"online": False}), qos=1, retain=True)

    def stop_ffmpeg():
        if state["ffmpeg"] is not None:
            state["ffmpeg"].terminate()
            state["ffmpeg"].wait(timeout=10)
            state["ffmpeg"] = None

    def on_message(cl, u, m):
        cmd = json.loads(m.payload)
        if cmd.get("cmd") == "push" and state["ffmpeg"] is None:
            to = cmd["to"]
            state["session"] = cmd.get("session")
            out(event="push", to=to, stream=cmd.get("stream"))
            state["ffmpeg"] = subprocess.Popen(
                ["ip", "netns", "exec", a.netns, "ffmpeg", "-hide_banner", "-loglevel",
                 "error", "-re", "-f", "lavfi", "-i", "testsrc=size=320x240:rate=30",
                 "-pix_fmt", "yuv420p", "-c:v", "libx264", "-profile:v", "baseline",
                 "-preset", "ultrafast",
                 "-tune", "zerolatency", "-g", "30",
                 # SPS and PPS before every key frame: a viewer joining later decodes.
                 "-bsf:v", "dump_extra=freq=keyframe", "-f", "rtp", "-payload_type", "96",
                 "rtp://%s:%d" % (to["addr"], to["udp_port"])],
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
        elif cmd.get("cmd") == "stop" and cmd.get("session") in (None, state.get("session")):
            out(event="stop", stream=cmd.get("stream"))
            stop_ffmpeg()

    c.on_message = on_message
    c.connect(a.host, a.broker)
    c.subscribe("%s/%s/cmd" % (a.prefix, a.name), qos=1)
    c.loop_start()
    c.publish(status, json.dumps({"online": True, "room": a.room, "streams": {
        "main": {"media": [{"kind": "video", "codec": "h264", "pt": 96, "profile": 66}]}}}), qos=1,
        retain=True).wait_for_publish()
    out(event="online")
    signal.signal(signal.SIGTERM, lambda *x: state.update(quit=True))
    deadline = time.monotonic() + a.seconds
    while not state["quit"] and time.monotonic() < deadline:
        time.sleep(0.05)
    stop_ffmpeg()
    c.publish(status, json.dumps({"online": False}), qos=1, retain=True).wait_for_publish()
    c.loop_stop()
    c.disconnect()
    out(event="offline")
    sys.exit(0)


if __name__ == "__main__":
    main()
