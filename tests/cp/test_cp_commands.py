#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""Every command of the control plane and every error path, over a real mosquitto, with
MQTT 5 request/response and with an MQTT 3.1.1 client (reply_to and seqid); events; the
retained status; a repeated request id; a QoS 1 command sent while the control plane was
stopped, delivered when it returns (persistent session); a reply asked on one of the node's
own topics (its status, an event) sent to its reply topic instead.
"""
import base64
import json
import os
import queue
import subprocess
import sys
import time
import uuid

from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cpharness import BUILD, Broker, Checks, Client, ControlPlane, pcap_dataplane, wait_status  # noqa

T = Checks("cp_commands")
CTL = os.path.join(BUILD, "tools", "mfwd-ctl")
CMD = "mfwd/n1/cmd"


def spec(sid, port=None, **kw):
    s = {"id": sid, "kind": "rtp",
         "ingress": {"port": 0, "addr": "10.99.1.2", "clock_rates": {"96": 90000}},
         "outputs": [{"id": "a", "port": 1, "addr": "10.99.2.1", "udp_port": 6000}]}
    if port is not None:
        s["ingress"]["udp_port"] = port
    s.update(kw)
    return s


def ok(r, what):
    T.check(r is not None and r.get("ok") is True, "%s: %s" % (what, r))
    return r["result"] if r and r.get("ok") else {}


def err(r, code, what, path=None):
    good = r is not None and r.get("ok") is False and r["error"]["code"] == code
    if path is not None:
        good = good and r["error"].get("path") == path
    T.check(good, "%s: want %s%s, got %s" % (what, code, " at " + path if path else "", r))


def commands(c, cp):
    r = ok(c.request(CMD, "session.create", spec("s1", 5000)), "create with a port")
    T.eq(r.get("ingress", {}).get("udp_port"), 5000, "the port asked for")
    T.eq(r.get("node"), "n1", "reply says which node")
    r = ok(c.request(CMD, "session.create", spec("s2")), "create, port allocated")
    T.eq(r.get("ingress", {}).get("udp_port"), 20000, "first even port of the range")
    err(c.request(CMD, "session.create", spec("sx", 20000)), "address_in_use", "s2's port")
    err(c.request(CMD, "session.create", spec("s1", 5100)), "exists", "duplicate id")
    err(c.request(CMD, "session.create", spec("sx", 5000)), "address_in_use", "same port")
    err(c.request(CMD, "session.create", spec("sx", 5200, colour=1)), "unknown_key",
        "unknown key", "colour")
    err(c.request(CMD, "session.create", dict(spec("sx", 5200), kind=7)), "wrong_type",
        "wrong type", "kind")
    s = spec("sx", 5200)
    del s["outputs"][0]["addr"]
    err(c.request(CMD, "session.create", s), "missing", "missing field", "outputs[0].addr")
    err(c.request(CMD, "session.create", spec("sx", 70000)), "out_of_range", "port range",
        "ingress.udp_port")
    err(c.request(CMD, "session.create", spec("sx", 5202, ingress={
        "port": 0, "addr": "10.99.1.99", "udp_port": 5202})), "address_not_available",
        "address not on the port")
    journal_after_refusal(cp)
    r = ok(c.request(CMD, "session.create", spec("s3")), "create another")
    T.eq(r.get("ingress", {}).get("udp_port"), 20002, "next even port (RTCP on 20001)")
    err(c.request(CMD, "session.create", spec("s4")), "capacity", "admission: max_sessions")
    err(c.request(CMD, "session.create", [1, 2]), "bad_args", "args not an object")
    err(c.request(CMD, "session.frobnicate", {}), "unknown_command", "unknown command", "cmd")
    # A name with a newline: refused, and logged on one line (no line of the client's own).
    err(c.request(CMD, "x\nFAKE LOG LINE", {}), "unknown_command", "a name with a newline",
        "cmd")
    T.check(not any(ln.startswith("FAKE LOG LINE") for ln in cp.tail(400).splitlines()),
            "no log line of the client's own")
    err(c.request(CMD, "session.get", {"id": "nope"}), "not_found", "unknown session")
    err(c.request(CMD, "session.get", {"id": "s1", "x": 1}), "bad_args", "unknown arg")
    err(c.request(CMD, "session.delete", {}), "bad_args", "missing id")
    err(c.request(CMD, None, raw="{\"cmd\": \"node.info\", \"colour\": 1}"), "bad_request",
        "unknown envelope key")
    err(c.request(CMD, None, raw="{\"v\": 2, \"cmd\": \"node.info\"}"), "unsupported_version",
        "request version")
    err(c.request(CMD, None, raw="{not json"), "bad_json", "malformed JSON")
    err(c.request(CMD, None, raw="x" * (1024 * 1024 + 10)), "too_large", "payload over 1 MB")

    r = ok(c.request(CMD, "session.get", {"id": "s1"}), "get")
    T.eq(r.get("spec", {}).get("ingress", {}).get("udp_port"), 5000, "get: spec")
    T.check("rx_pkts" in r.get("stats", {}) and "a" in r["stats"].get("outputs", {}),
            "get: live figures of the session and its outputs")
    r = ok(c.request(CMD, "session.list", {"limit": 2}), "list")
    T.eq((r.get("total"), len(r.get("sessions", []))), (3, 2), "list pages")
    r = ok(c.request(CMD, "session.list", {"cursor": r.get("next", "?"), "limit": 2}),
           "list page 2")
    T.eq((len(r.get("sessions", [])), "next" in r), (1, False), "second page, the last")
    err(c.request(CMD, "session.list", {"cursor": "x1"}), "invalid", "bad cursor", "cursor")
    err(c.request(CMD, "session.list", {"limit": 0}), "out_of_range", "list limit", "limit")

    r = ok(c.request(CMD, "session.update", {"id": "s1", "add_outputs": [
        {"id": "b", "port": 1, "addr": "10.99.2.1", "udp_port": 6002}], "pause": ["a"]}),
        "update: add an output, pause one")
    T.eq(r.get("outputs"), 2, "two outputs")
    r = ok(c.request(CMD, "session.get", {"id": "s1"}), "get after update")
    outs = {o["id"]: o for o in r.get("spec", {}).get("outputs", [])}
    T.check(outs.get("a", {}).get("paused") is True and "b" in outs, "update applied")
    err(c.request(CMD, "session.update", {"id": "s1", "remove_outputs": ["zz"]}), "not_found",
        "remove an unknown output", "remove_outputs")
    err(c.request(CMD, "session.update", {"id": "s1", "add_outputs": [
        {"id": "b", "port": 1, "addr": "10.99.2.1", "udp_port": 6004}]}), "duplicate",
        "add an output id twice")
    ok(c.request(CMD, "session.update", {"id": "s1", "remove_outputs": ["b"], "resume": ["a"],
                                         "block": True}), "update: remove, resume, block")
    r = ok(c.request(CMD, "session.get", {"id": "s1"}), "get after block")
    T.check(r.get("spec", {}).get("blocked") is True and
            len(r["spec"]["outputs"]) == 1 and r["spec"]["outputs"][0]["paused"] is False,
            "blocked, one output, resumed")
    ok(c.request(CMD, "session.update", {"id": "s1", "block": False}), "unblock")
    most_outputs(c)

    r = ok(c.request(CMD, "node.info"), "node.info")
    T.check(r.get("node") == "n1" and len(r.get("ports", [])) == 2, "node.info content")
    r = ok(c.request(CMD, "node.stats"), "node.stats")
    T.check("node" in r and "0" in r.get("ports", {}), "node.stats content")

    # A repeated request id: the first reply again, the work done once.
    r1 = c.request(CMD, "session.delete", {"id": "s3"}, rid="del-s3")
    r2 = c.request(CMD, "session.delete", {"id": "s3"}, rid="del-s3")
    ok(r1, "delete")
    T.eq(r2, r1, "repeated request id answered with the same reply")
    err(c.request(CMD, "session.delete", {"id": "s3"}), "not_found", "delete again, new id")

    ok(c.request(CMD, "node.drain", {"drain": True}), "drain")
    err(c.request(CMD, "session.create", spec("s5")), "draining", "create while draining")
    ok(c.request(CMD, "node.drain", {"drain": False}), "undrain")

    # The refused create on s2's port did not free it in the registry (marked, then dropped
    # when the dataplane refused it, it was): allocations go on from the last (s4's, refused
    # for capacity, took 20004) and wrap in the range (20000-20005), to 20002, not to s2's
    # 20000 (freed, it was given to s5, which the dataplane refused).
    for sid, want in (("s5", 20002), ("s6", 20004), ("s7", 20002)):
        r = ok(c.request(CMD, "session.create", spec(sid)), "create %s" % sid)
        T.eq(r.get("ingress", {}).get("udp_port"), want, "%s's port" % sid)
        ok(c.request(CMD, "session.delete", {"id": sid}), "delete %s" % sid)


def most_outputs(c):
    """128 outputs (MF_SESS_MAX_OUTPUTS) cross to the dataplane and back; one more is
    refused, in a create and in an update."""
    more = [{"id": "x%d" % i, "port": 1, "addr": "10.99.2.1", "udp_port": 7000 + 2 * i}
            for i in range(127)]
    r = ok(c.request(CMD, "session.update", {"id": "s1", "add_outputs": more}),
           "update to 128 outputs")
    T.eq(r.get("outputs"), 128, "128 outputs")
    r = ok(c.request(CMD, "session.get", {"id": "s1"}), "get with 128 outputs")
    outs = r.get("spec", {}).get("outputs", [])
    T.eq([o.get("udp_port") for o in outs[1:]], [m["udp_port"] for m in more],
         "the dataplane has each of the 128 outputs")
    T.eq(len(r.get("stats", {}).get("outputs", {})), 128, "figures for each of them")
    err(c.request(CMD, "session.update", {"id": "s1", "add_outputs": [
        {"id": "y", "port": 1, "addr": "10.99.2.1", "udp_port": 6100}]}), "too_many",
        "a 129th output", "add_outputs[0]")
    err(c.request(CMD, "session.create", spec("sx", 5200, outputs=[
        dict(m, id="o%d" % i) for i, m in enumerate(more + more[:2])])), "too_many",
        "create with 129 outputs", "outputs")
    ok(c.request(CMD, "session.update", {"id": "s1", "remove_outputs": [m["id"] for m in more]}),
       "back to one output")


def mqtt311(broker):
    c = Client(broker, v5=False)
    r = c.request(CMD, "node.info")
    T.check(r is not None and r.get("ok") and r.get("seqid") == 77,
            "MQTT 3.1.1: reply_to and seqid: %s" % r)
    # A repeat (the same id) with its own seqid gets the first reply with that seqid.
    args = {"limit": 1}
    first = c.request(CMD, "session.list", args, rid="rep311")
    again = c.request(CMD, "session.list", args, rid="rep311", extra={"seqid": 78})
    T.check(first is not None and again is not None and first.get("seqid") == 77 and
            again.get("seqid") == 78 and again.get("result") == first.get("result"),
            "MQTT 3.1.1: a repeat answered with the first's reply and its own seqid: %s, %s"
            % (first, again))
    c.close()


def journal_after_refusal(cp):
    """The dataplane has just refused sx (address_not_available): its reply left only once
    the journal on disk holds no live record of it (none, or a "+" undone by a "-"), not at
    the next batch's sync."""
    with open(os.path.join(cp.cfg["journal_dir"], "sessions.log"), "rb") as f:
        lines = f.read().split(b"\n")
    sx = [ln[:1] for ln in lines
          if ln.startswith(b'-"sx"') or ln.startswith(b'+{"id":"sx"')]
    T.check(sx == [] or sx[-1] == b"-", "a refused create is undone in the journal on disk: %s"
            % sx)
    T.check(any(ln.startswith(b'+{"id":"s2"') for ln in lines), "s2's record on disk")


def reply_qos(c):
    """A reply goes at its request's QoS (we subscribed at QoS 1: a message comes at the
    QoS it was published at); one to a topic under the prefix, as nodes answer each other,
    at QoS 1 always."""
    node_topic = "mfwd/t-node/pipe/reply"
    c.subscribe(node_topic)
    got = {}
    for qos, topic in ((0, None), (1, None), (0, None), (0, node_topic)):
        corr = uuid.uuid4().bytes
        props = Properties(PacketTypes.PUBLISH)
        props.ResponseTopic = topic or c.reply_topic
        props.CorrelationData = corr
        # Another node's pipe command: its id says so (a node's pipe/reply takes only those).
        rid = ("pipe-" if topic else "") + uuid.uuid4().hex
        c.c.publish(CMD, json.dumps({"v": 1, "id": rid, "cmd": "node.info"}),
                    qos=qos, properties=props)
        deadline = time.time() + 5
        while time.time() < deadline:
            try:
                m = c.msgs.get(timeout=0.1)
            except queue.Empty:
                continue
            if getattr(m.properties, "CorrelationData", None) == corr:
                got.setdefault("node" if topic else qos, []).append(m.qos)
                break
    T.eq(got, {0: [0, 0], 1: [1], "node": [1]}, "each reply at its request's QoS, a node's at 1")


def reply_elsewhere(c):
    """Whoever may send a command does not choose a node's own topic for its reply (the
    node publishes with its rights): one asked on mfwd/n1/status goes to mfwd/n1/reply, and
    so does one asked on another node's reply topics by a request that is no pipe command
    nor placed here."""
    c.subscribe("mfwd/n1/reply")
    c.subscribe("mfwd/n1/status")
    for topic in ("mfwd/n1/status", "mfwd/n1/event/session.removed", "mfwd/n2/pipe/reply",
                  "mfwd/n2/place/reply", "mfwd/n2/reply"):
        corr = uuid.uuid4().bytes
        props = Properties(PacketTypes.PUBLISH)
        props.ResponseTopic = topic
        props.CorrelationData = corr
        c.c.publish(CMD, json.dumps({"v": 1, "id": uuid.uuid4().hex, "cmd": "node.info"}),
                    qos=1, properties=props)
        deadline, where = time.time() + 10, None
        while time.time() < deadline and where is None:
            try:
                m = c.msgs.get(timeout=0.1)
            except queue.Empty:
                continue
            if getattr(m.properties, "CorrelationData", None) == corr:
                where = m.topic
        T.eq(where, "mfwd/n1/reply", "a reply asked on %s: on the node's reply topic" % topic)


def holds_flock(pid):
    with open("/proc/locks") as f:
        return any(ln.split()[1:5] == ["FLOCK", "ADVISORY", "WRITE", str(pid)] for ln in f)


def held_channel(c, cp, dpl):
    """A control plane started while an mfwd-ctl holds the channel waits, says why in its
    status, and attaches once the channel is free."""
    cp.stop()
    ctl = subprocess.Popen([CTL, "-i", dpl.instance, "events", "60"],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 10
    while time.time() < deadline and not holds_flock(ctl.pid):  # its claim, read quietly
        time.sleep(0.02)
    T.check(holds_flock(ctl.pid), "mfwd-ctl events claimed the channel")
    cp.start()
    st = wait_status(c, "n1", lambda s: s["online"] and not s["dataplane"]["up"], timeout=10)
    T.check(st is not None and "another client" in st["dataplane"].get("waiting", ""),
            "status: the dataplane not attached, and why: %s" % (st or {}).get("dataplane"))
    r = c.request(CMD, "session.create", spec("held"))
    T.check(r is not None and not r["ok"] and r["error"]["code"] == "dataplane_down" and
            "another client" in r["error"]["message"],
            "a create meanwhile refused, saying why: %s" % r)
    # A batch whose items the dataplane's absence refused: the reply is not kept for a
    # repeat (it would answer that repeat "created 0" for good).
    many = {"sessions": [spec("many-held")]}
    r = c.request(CMD, "session.create_many", many, rid="many-held")
    T.check(r is not None and r.get("ok") is not None and
            "dataplane_down" in json.dumps(r), "a create_many meanwhile: %s" % r)
    ctl.terminate()     # its claim ends with it
    ctl.wait(timeout=20)
    st = wait_status(c, "n1", lambda s: s["online"] and s["dataplane"]["up"], timeout=10)
    T.check(st is not None and st["sessions"] == 2 and "waiting" not in st["dataplane"],
            "attached once mfwd-ctl let go, its 2 sessions kept: %s"
            % (st or {}).get("dataplane"))
    r = c.request(CMD, "session.create_many", many, rid="many-held")
    T.check(r is not None and r.get("ok") and r["result"]["created"] == 1,
            "the same create_many again, the dataplane back: run, not answered from the "
            "first: %s" % r)


def adopted(c, cp, dpl):
    """Sessions made with mfwd-ctl while the control plane was away (as one installed just
    before a crash, its create never answered): a plain one is adopted; one with an SRTP key,
    which the dataplane does not give back, is deleted (before, it was journaled with a key
    of zeros, which an update or a replay would have sent)."""
    cp.stop()
    keyed = dict(spec("adopt-keyed", 21002))
    keyed["ingress"] = dict(keyed["ingress"], srtp={
        "suite": "AES_CM_128_HMAC_SHA1_80", "key": base64.b64encode(os.urandom(30)).decode()})
    for sp in (spec("adopt-plain", 21000), keyed):
        T.eq(dpl.add(sp)[0], 0, "%s added with mfwd-ctl" % sp["id"])
    cp.start()
    T.check(wait_status(c, "n1", lambda s: s["online"] and s["dataplane"]["up"]),
            "attached again")
    got = ok(c.request(CMD, "session.list"), "session.list").get("sessions", [])
    T.check("adopt-plain" in got and "adopt-keyed" not in got,
            "the plain one adopted, the keyed one not: %s" % got)
    err(c.request(CMD, "session.get", {"id": "adopt-keyed"}), "not_found",
        "the keyed one is gone from the dataplane")
    T.check("adopt-keyed, in the dataplane without a journal record, has keys" in cp.tail(60),
            "and the log says why")
    ok(c.request(CMD, "session.delete", {"id": "adopt-plain"}), "the adopted one deleted")


def refused_spaces(c):
    """A create refused after its port was allocated (a bad output here) leaves no port
    space behind: each (port, address) a client names held 8 KiB for good."""
    before = ok(c.request(CMD, "node.info"), "node.info").get("port_spaces")
    for i in range(20):
        bad = spec("sp%d" % i, outputs=[{"id": "a", "port": 1, "addr": "10.99.2.1",
                                         "udp_port": 6000, "colour": 1}])
        bad["ingress"]["addr"] = "2001:db8::%x" % (i + 1)
        err(c.request(CMD, "session.create", bad), "unknown_key", "a bad output, addr %d" % i)
    after = ok(c.request(CMD, "node.info"), "node.info").get("port_spaces")
    T.check(before is not None and before >= 1 and after == before,
            "20 refused creates on 20 addresses leave no port space (%s, then %s)" %
            (before, after))


def main():
    dpl = pcap_dataplane("cpcmd")
    with dpl, Broker() as broker:
        cp = ControlPlane(broker, "n1", dpl.instance, limits={"max_sessions": 3},
                          port_range=[20000, 20005])
        watcher = Client(broker)
        watcher.subscribe("mfwd/n1/event/#")
        with cp:
            c = Client(broker)
            T.check(wait_status(c, "n1", lambda s: s["online"] and s["dataplane"]["up"]),
                    "retained status online with the dataplane up")
            commands(c, cp)
            refused_spaces(c)
            reply_qos(c)
            reply_elsewhere(c)
            # One client on the channel (mf_client.h): mfwd-ctl is refused, saying why, while
            # the control plane holds it (before, the two took each other's replies).
            r = subprocess.run([os.path.join(BUILD, "tools", "mfwd-ctl"), "-i", dpl.instance,
                                "info"], capture_output=True, text=True)
            T.check(r.returncode == 2 and "another client" in r.stderr,
                    "mfwd-ctl refused while the control plane holds the channel: %s"
                    % r.stderr.strip())
            mqtt311(broker)
            evs = watcher.collect("mfwd/n1/event/", 1)
            T.check(any(t.endswith("session.removed") and e.get("session") == "s3"
                        for t, e, _ in evs), "event session.removed published")
            # Persistent session: a QoS 1 command while the control plane is away.
            cp.stop()
            st = wait_status(c, "n1", lambda s: not s["online"], timeout=5)
            T.check(st is not None, "status offline after a clean stop")
            T.eq(dpl.ctl("info")[0], 0, "mfwd-ctl served once the control plane let go")
            corr = b"while-away"
            c.publish(CMD, {"v": 1, "id": "away", "cmd": "session.list"}, corr=corr)
            time.sleep(0.5)
            cp.start()
            r = c.wait_reply(corr, timeout=15)
            T.check(r is not None and r.get("ok") and r["result"]["total"] == 2,
                    "a command sent while stopped is answered after the restart: %s" % r)
            T.check(wait_status(c, "n1", lambda s: s["online"] and s["sessions"] == 2),
                    "status online again with its 2 sessions")
            adopted(c, cp, dpl)
            held_channel(c, cp, dpl)
            c.close()
        watcher.close()
        if T.failed:
            print(cp.tail())
    T.eq(dpl.rc, 0, "dataplane exited cleanly")
    T.done()


if __name__ == "__main__":
    main()
