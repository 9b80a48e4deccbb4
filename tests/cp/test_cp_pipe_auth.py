#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""Pipes between nodes that require signed commands (docs/cluster.md): each node signs
what it sends another (pipe.open, pipe.close) as its auth.node_tenant, an admin tenant of
the keys file every node shares.

Three control planes on pcap dataplanes, all refusing unsigned commands; n1 and n2 sign as
tenant "nodes", n3 has no node tenant:
- session.pipe from n1 to n2 opens the pipe (n2 took the signed pipe.open), session.get
  on n2 shows the piped session; session.unpipe closes it on n2 (signed pipe.close);
- session.pipe from n3 to n2 is refused with the edge's "unsigned", nothing left on n2;
- stream announcements (edge_pull on every node) are signed as the node tenant too: n2
  pulls n1's stream, and does not believe n3's unsigned announcement (not found, the
  refusal logged); n1's announcement overwritten unsigned is published again, signed;
- a node tenant that is not in the keys file stops the control plane at start.
"""
import base64
import json
import os
import subprocess
import sys
import tempfile
import time

import paho.mqtt.client as mqtt

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cpharness import (CONTROLPLANE, Broker, Checks, Client, ControlPlane,  # noqa: E402
                       pcap_dataplane, until, wait_status)

T = Checks("cp_pipe_auth")
KEYS = {"nodes": os.urandom(32), "ops": os.urandom(32)}
HERE = os.path.dirname(os.path.abspath(__file__))
with open(os.path.join(HERE, "..", "unit", "sdp", "chromium-view.sdp")) as f:
    OFFER = f.read()  # a browser's recvonly offer, recorded


def keys_file():
    d = tempfile.mkdtemp(prefix="mfwd-pipe-keys-")
    path = os.path.join(d, "tenants.json")
    with open(path, "w") as f:
        json.dump({"tenants": [{"name": n, "key": base64.b64encode(k).decode(), "admin": True}
                               for n, k in KEYS.items()]}, f)
    os.chmod(path, 0o600)
    return path


def ops(c, node, cmd, args=None, timeout=5):
    return c.signed("mfwd/%s/cmd" % node, "ops", KEYS["ops"], cmd, args, timeout=timeout)


def cam(sid, port):
    return {"id": sid, "kind": "rtp",
            "ingress": {"port": 0, "addr": "10.99.1.2", "udp_port": port},
            "outputs": [{"port": 1, "addr": "10.99.2.1", "udp_port": 7000}]}


def gone(c, node, sid, timeout=5):
    deadline = time.time() + timeout
    while time.time() < deadline:
        r = ops(c, node, "session.get", {"id": sid})
        if r is not None and not r["ok"] and r["error"]["code"] == "not_found":
            return True
        time.sleep(0.2)
    return False


def retained_sig(broker, topic):
    """The mfwd-sig user property of the message the broker retains on @topic, or None."""
    got = []
    m = mqtt.Client(client_id="sigread-" + os.urandom(3).hex(), protocol=mqtt.MQTTv5)
    m.on_message = lambda cl, u, msg: got.append(
        dict(getattr(msg.properties, "UserProperty", []) or []).get("mfwd-sig"))
    m.connect("127.0.0.1", broker.port)
    m.subscribe(topic, 1)
    m.loop_start()
    until(lambda: got, 5)
    m.loop_stop()
    m.disconnect()
    return got[0] if got else None


def overwrite(broker, topic):
    """The message retained on @topic published again as it is, without its properties."""
    ann = []
    m = mqtt.Client(client_id="annread-" + os.urandom(3).hex(), protocol=mqtt.MQTTv5)
    m.on_message = lambda cl, u, msg: ann.append(msg.payload)
    m.connect("127.0.0.1", broker.port)
    m.subscribe(topic, 1)
    m.loop_start()
    until(lambda: ann, 5)
    if ann:
        m.publish(topic, ann[0], qos=1, retain=True).wait_for_publish()
    m.loop_stop()
    m.disconnect()
    return len(ann) > 0


def pull_signed(broker, c, cps):
    """n1 (node tenant) and n3 (none) each publish a stream: n2 pulls n1's, and n3's
    announcement, unsigned, is not in its directory. n1's announcement overwritten unsigned
    is published again by n1, signed."""
    media = [{"kind": "video", "codec": "h264", "pt": 96, "profile": 66}]
    for n in ("n1", "n3"):
        r = ops(c, n, "room.create", {"room": "live"})
        T.check(r is not None and r["ok"], "%s: room live: %s" % (n, r))
        r = ops(c, n, "stream.publish", {"room": "live", "stream": "cam-" + n, "media": media})
        T.check(r is not None and r["ok"], "%s: stream cam-%s published: %s" % (n, n, r))
    # n2 has read n3's announcement (and refused it) before it is asked for the stream. It
    # logs the first refusal and one in a thousand after: this is its first.
    T.check(until(lambda: "cam-n3 not kept (not signed as a node" in cps[1].tail(400)),
            "n2 refused n3's unsigned announcement, logged")
    r = ops(c, "n2", "stream.subscribe", {"room": "live", "stream": "cam-n3", "sdp": OFFER},
            timeout=10)
    T.check(r is not None and not r["ok"] and r["error"]["code"] == "not_found",
            "n3's unsigned announcement is not believed on n2: %s" % r)
    sub, last = {"room": "live", "stream": "cam-n1", "sdp": OFFER}, []

    def pulled():
        last[:] = [ops(c, "n2", "stream.subscribe", sub, timeout=15)]
        return last[0] if last[0] is not None and last[0]["ok"] else None
    r = until(pulled) or last[0]
    T.check(r is not None and r["ok"] and r["result"].get("sdp"),
            "n1's signed announcement is: n2 pulls cam-n1 for a viewer: %s" %
            json.dumps(r)[:300])
    topic = "mfwd/n1/stream/live/cam-n1"
    T.check(retained_sig(broker, topic) is not None, "n1's announcement is signed")
    T.check(overwrite(broker, topic), "n1's announcement read off the broker, overwritten")
    T.check(until(lambda: "cam-n1: its announcement was overwritten" in cps[0].tail(400)),
            "n1 saw its announcement overwritten unsigned")
    T.check(until(lambda: retained_sig(broker, topic) is not None),
            "n1 published it again, signed")
    # Again at once: within a second of the last, n1 publishes it when the second is over.
    T.check(overwrite(broker, topic), "overwritten again")
    T.check(until(lambda: retained_sig(broker, topic) is not None),
            "n1 published it again, signed, once more")


def check_bad_tenant(broker, dpl, keys):
    d = tempfile.mkdtemp(prefix="mfwd-pipe-bad-")
    cfg = os.path.join(d, "cp.json")
    with open(cfg, "w") as f:
        json.dump({"node": "n9", "instance": dpl.instance, "journal_dir": d + "/j",
                   "broker": "tcp://127.0.0.1:%d" % broker.port,
                   "auth": {"keys_file": keys, "node_tenant": "nobody"}}, f)
    p = subprocess.run([CONTROLPLANE, "--config", cfg], capture_output=True, text=True,
                       timeout=20)
    T.check(p.returncode != 0 and "node_tenant" in p.stderr,
            "a node tenant without a key stops the start (%d: %s)"
            % (p.returncode, p.stderr.strip()))


def main():
    dps = [pcap_dataplane("pipeauth%d" % i, lcores="0@0,1@1") for i in range(1, 4)]
    keys = keys_file()
    with dps[0], dps[1], dps[2], Broker() as broker:
        check_bad_tenant(broker, dps[0], keys)
        auth = {"keys_file": keys, "required": True}
        cps = [ControlPlane(broker, "n1", dps[0].instance, edge_pull=True,
                            auth=dict(auth, node_tenant="nodes")),
               ControlPlane(broker, "n2", dps[1].instance, edge_pull=True,
                            auth=dict(auth, node_tenant="nodes")),
               ControlPlane(broker, "n3", dps[2].instance, edge_pull=True, auth=auth)]
        with cps[0], cps[1], cps[2]:
            c = Client(broker)
            for n in ("n1", "n2", "n3"):
                T.check(wait_status(c, n, lambda s: s["online"] and s["dataplane"]["up"])
                        is not None, "%s online" % n)
            r = ops(c, "n1", "session.create", cam("cam", 5000))
            T.check(r is not None and r["ok"], "cam on n1: %s" % r)
            r = ops(c, "n1", "session.pipe", {"id": "cam", "to": "n2", "srtp": True},
                    timeout=15)
            T.check(r is not None and r["ok"], "signed pipe from n1 to n2: %s" % r)
            r = ops(c, "n2", "session.get", {"id": "cam"})
            pipes = r["result"].get("pipes", []) if r and r["ok"] else []
            T.check(any(p.get("from") == "n1" for p in pipes),
                    "n2 holds cam piped from n1: %s" % (pipes or r))
            r = ops(c, "n3", "session.create", cam("cam3", 5002))
            T.check(r is not None and r["ok"], "cam3 on n3: %s" % r)
            r = ops(c, "n3", "session.pipe", {"id": "cam3", "to": "n2"}, timeout=15)
            T.check(r is not None and not r["ok"] and r["error"]["code"] == "unsigned",
                    "an unsigned pipe.open refused by the edge, said to the caller: %s" % r)
            T.check(gone(c, "n2", "cam3", 1), "nothing of cam3 on n2")
            r = ops(c, "n1", "session.unpipe", {"id": "cam", "to": "n2"})
            T.check(r is not None and r["ok"], "session.unpipe: %s" % r)
            T.check(gone(c, "n2", "cam"), "the signed pipe.close removed cam from n2")
            pull_signed(broker, c, cps)
            c.close()
    T.eq([d.rc for d in dps], [0, 0, 0], "dataplanes exited cleanly")
    T.done()


if __name__ == "__main__":
    main()
