#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""The control plane under many requests at once, over a real mosquitto: 64 creates in
flight with deletes interleaved (every reply matches its request; the sessions left are
exactly those acknowledged, in the control plane and in the dataplane); create_many in
partial and atomic modes; cursor paging over 10,000 sessions while sessions come and go
(each session that exists throughout is listed exactly once); a control plane SIGKILLed in
the middle of a batch (every acknowledged session comes back from the journal, none that
was refused); the journal written ahead in zeros, a record torn in them or at the end of a
log a clean stop left without them cut off on load; a delete that finds the channel full
behind its own session's refused create; commands a stopped dataplane does not answer in
time (a create undone behind it, an update and a delete carried out).
"""
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cpharness import Broker, Checks, Client, ControlPlane, pcap_dataplane, wait_status  # noqa
from harness import STAT  # noqa: E402
from paho.mqtt.packettypes import PacketTypes  # noqa: E402
from paho.mqtt.properties import Properties  # noqa: E402

T = Checks("cp_scale")
CMD = "mfwd/n1/cmd"


def spec(sid, port=None):
    s = {"id": sid, "kind": "udp", "ingress": {"port": 0, "addr": "10.99.1.2"},
         "outputs": [{"port": 1, "addr": "10.99.2.1", "udp_port": 6000}]}
    if port is not None:
        s["ingress"]["udp_port"] = port
    return s


class Pipelined:
    """Requests sent without waiting, up to @window in flight; replies matched by
    correlation data."""

    def __init__(self, broker, window):
        client = Client(broker)
        self.cl, self.window = client, window
        self.cond = threading.Condition()
        self.replies = {}
        client.c.socket().setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        client.c.on_message = self.on_message

    def on_message(self, c, u, m):
        corr = getattr(m.properties, "CorrelationData", None)
        with self.cond:
            self.replies[corr] = json.loads(m.payload)
            self.cond.notify_all()

    def run(self, bodies, timeout=120):
        """Send every body; return [(body, reply)] in the order sent."""
        corrs = []
        for b in bodies:
            with self.cond:
                if not self.cond.wait_for(lambda: len(corrs) - len(self.replies) <
                                          self.window, timeout=min(timeout, 30)):
                    break		# nobody answers: the rest unsent

            corr = uuid.uuid4().bytes
            p = Properties(PacketTypes.PUBLISH)
            p.ResponseTopic = self.cl.reply_topic
            p.CorrelationData = corr
            corrs.append(corr)
            self.cl.c.publish(CMD, json.dumps(b), qos=1, properties=p)
        with self.cond:
            self.cond.wait_for(lambda: all(c in self.replies for c in corrs), timeout=timeout)
            out = [(b, self.replies.pop(c, None)) for b, c in zip(bodies, corrs)]
        out += [(b, None) for b in bodies[len(corrs):]]
        return out


def same(got, want, what):
    """Two sets equal; a difference is shown by its first few members."""
    got, want = set(got or ()), set(want)
    T.check(got == want, "%s: %d vs %d; missing %s, extra %s" % (
        what, len(got), len(want), sorted(want - got)[:5], sorted(got - want)[:5]))


def req(cmd, args):
    return {"v": 1, "id": uuid.uuid4().hex, "cmd": cmd, "args": args}


def dp_ids(dpl):
    """The sessions the dataplane has, from its stats area (mfwd-ctl would be a second
    producer on the command ring the control plane owns)."""
    r = subprocess.run([STAT, "-i", dpl.instance, "--json"], capture_output=True, text=True)
    return set(json.loads(r.stdout).get("sessions", {}).keys()) if r.returncode == 0 else None


def list_all(c, limit, between=None):
    """Page through session.list; call between(page_no) after each page."""
    seen, cursor, n = [], None, 0
    while True:
        args = {"limit": limit}
        if cursor is not None:
            args["cursor"] = cursor
        r = c.request(CMD, "session.list", args, timeout=20)
        if not r or not r.get("ok"):
            T.check(False, "list page %d: %s" % (n, r))
            return seen
        seen += r["result"]["sessions"]
        cursor = r["result"].get("next")
        n += 1
        if cursor is None:
            return seen
        if between:
            between(n)


def pipelined(b, dpl, cp):
    c = Client(b)
    p = Pipelined(b, 64)
    # 300 creates with a delete of every third session right behind it.
    bodies = []
    for i in range(300):
        bodies.append(req("session.create", spec("p%d" % i)))
        if i % 3 == 2:
            bodies.append(req("session.delete", {"id": "p%d" % (i - 1)}))
    # Refusals in the stream: a duplicate id and a bad spec; a port the dataplane refuses
    # (the control plane does not check a port asked for) with a delete right behind.
    bodies.insert(10, req("session.create", spec("p0")))
    bodies.insert(20, req("session.create", dict(spec("bad"), kind="nope")))
    bodies[30:30] = [req("session.create", spec("dupA", 7000)),
                     req("session.create", spec("dupB", 7000)),
                     req("session.delete", {"id": "dupB"})]
    out = p.run(bodies)
    T.check(all(r is not None for _, r in out), "a reply for every request")
    T.check(all(r["id"] == b["id"] and r["cmd"] == b["cmd"] for b, r in out if r),
            "every reply carries its request's id and command")
    acked = set()
    for b, r in out:
        if r and r["ok"] and b["cmd"] == "session.create":
            acked.add(b["args"]["id"])
        elif r and r["ok"] and b["cmd"] == "session.delete":
            acked.discard(b["args"]["id"])
    T.eq(len(acked), 201, "300 created, 100 deleted, and dupA")
    refused = [(b["args"]["id"], r["error"]["code"]) for b, r in out if r and not r["ok"]]
    T.eq(refused, [("p0", "exists"), ("bad", refused[1][1] if len(refused) > 1 else None),
                   ("dupB", "address_in_use"), ("dupB", "not_found")],
         "only the bad requests refused, each with its reason")
    ports = [r["result"]["ingress"]["udp_port"] for b, r in out
             if r and r["ok"] and b["cmd"] == "session.create"]
    T.eq(len(set(ports)), len(ports), "every allocated port distinct")
    same(list_all(c, 1000), acked, "the control plane lists exactly what was acknowledged")
    same(dp_ids(dpl), acked, "the dataplane holds exactly what was acknowledged")
    c.close()
    return acked


def many(b):
    c = Client(b)
    r = c.request(CMD, "session.create_many", {"sessions": [
        spec("m1"), dict(spec("m2"), kind="nope"), spec("m3")]})
    T.check(r and r["ok"] and r["result"]["created"] == 2 and r["result"]["failed"] == 1,
            "create_many, partial: two of three: %s" % r)
    T.eq([x.get("session") or x["error"]["path"] for x in r["result"]["results"]] if r and
         r.get("ok") else None, ["m1", "sessions[1].kind", "m3"], "each result in order")
    r = c.request(CMD, "session.create_many", {"atomic": True, "sessions": [
        spec("a1"), spec("a2"), spec("m1")]})
    T.check(r and not r["ok"] and r["error"]["code"] == "exists" and
            r["error"]["path"] == "sessions[2].id", "create_many, atomic: refused: %s" % r)
    r = c.request(CMD, "session.get", {"id": "a1"})
    T.check(r and not r["ok"] and r["error"]["code"] == "not_found",
            "the atomic batch's first sessions were undone")
    r = c.request(CMD, "session.delete_many", {"ids": ["m1", "m3", "m1"]})
    T.check(r and r["ok"] and r["result"]["deleted"] == 2 and
            r["result"]["results"][2]["error"]["code"] == "not_found",
            "delete_many: each id once: %s" % r)
    c.close()


def paging(b, base):
    c = Client(b)
    p = Pipelined(b, 64)
    t0 = time.time()
    bodies = [req("session.create_many", {"sessions": [spec("g%d" % (i + k))
                                                         for k in range(500)]})
              for i in range(0, 10000, 500)]
    out = p.run(bodies)
    bad = [r for _, r in out if not (r and r["ok"] and r["result"]["created"] == 500)]
    errs = [x for r in bad if r and r.get("ok") for x in r["result"]["results"] if "error" in x]
    T.check(not bad, "10,000 sessions with create_many: %d refused, e.g. %s" % (
        len(errs), errs[:2] if errs else str(bad[:1])[:300]))
    print("10,000 creates in %.1f s" % (time.time() - t0))
    stable = set("g%d" % i for i in range(10000) if i % 7 != 0) | base
    churn = iter(list(range(10000)) * 2)

    def between(n):
        # Between pages: delete some sessions (those with i % 7 == 0) and add new ones.
        ids = [next(churn) for _ in range(500)]
        p.run([req("session.delete_many", {"ids": ["g%d" % i for i in ids if i % 7 == 0]}),
               req("session.create_many", {"sessions": [spec("new%d-%d" % (n, k))
                                                        for k in range(50)]})])
    seen = list_all(c, 500, between)
    T.eq(len(seen), len(set(seen)), "no session listed twice")
    same(stable - set(seen), (), "every session that existed throughout listed")
    c.close()


def refused_in_full_channel(b, dpl):
    """A delete sent when the channel's 64 slots are full collects the oldest answer first:
    here its own session's create, refused (an address the port does not have: the
    dataplane's answer, not the control plane's). The session must be gone, the
    delete answered, the control plane alive (under ASan: no use of the freed session).
    The 65 requests are taken as one batch: they arrive while the control plane's main
    thread waits for the dataplane, stopped, to answer a session.update."""
    c, p = Client(b), Pipelined(b, 1000)
    r = c.request(CMD, "session.create", spec("holdA"))
    T.check(r and r["ok"], "holdA created: %s" % r)
    elsewhere = spec("holdB")
    elsewhere["ingress"]["addr"] = "10.99.1.99"
    # A request sent twice in the batch (a quick retry, the same id) is done once, and
    # both copies get its reply; its first copy is the 64th command sent.
    twin = req("session.create", spec("twin"))
    # After them, a command that runs alone answers them, and a create after it must not
    # be taken for a repeat of any of theirs (their ids are freed then).
    bodies = ([req("session.create", elsewhere)] +
              [req("session.create", spec("full%d" % i)) for i in range(62)] +
              [twin, dict(twin)] + [req("session.delete", {"id": "holdB"}),
                                    req("session.get", {"id": "holdA"}),
                                    req("session.create", spec("after"))])
    got, upd = [], []
    os.kill(dpl.proc.pid, signal.SIGSTOP)
    try:
        t_upd = threading.Thread(target=lambda: upd.append(c.request(
            CMD, "session.update", {"id": "holdA", "add_outputs": [
                {"id": "v2", "port": 1, "addr": "10.99.2.1", "udp_port": 6002}]}, timeout=30)))
        t_upd.start()
        time.sleep(0.5)
        t_run = threading.Thread(target=lambda: got.extend(p.run(bodies)))
        t_run.start()
        time.sleep(1.5)
    finally:
        os.kill(dpl.proc.pid, signal.SIGCONT)
    t_upd.join(40)
    t_run.join(60)
    T.check(upd and upd[0] and upd[0]["ok"], "the update answered: %s" % upd)
    codes = [r["error"]["code"] if r and not r["ok"] else (r and "ok") for _, r in got] or [None]
    T.eq((codes[0], codes[-3], codes[1:-3].count("ok"), codes[-2:]),
         ("address_not_available", "not_found", 64, ["ok", "ok"]),
         "holdB refused, its delete not_found, the 62 and the twice sent between created; "
         "the get and the create after them done")
    T.check(len(got) == 68 and got[63][1] == got[64][1],
            "the request sent twice: one reply, twice: %s" % [r for _, r in got[63:65]])
    r = c.request(CMD, "session.get", {"id": "holdB"})
    T.check(r and not r["ok"] and r["error"]["code"] == "not_found",
            "the control plane answers, holdB unknown: %s" % r)
    ids = dp_ids(dpl)
    T.check(ids is not None and "holdB" not in ids and "holdA" in ids and "twin" in ids and
            "after" in ids and all("full%d" % i in ids for i in range(62)),
            "the dataplane holds holdA, the 62, the twice sent and the one after")
    r = c.request(CMD, "session.delete_many", {"ids": ["holdA", "twin", "after"] +
                                               ["full%d" % i for i in range(62)]})
    T.check(r and r["ok"] and r["result"]["deleted"] == 65, "cleaned up: %s" % r)
    c.close()


def timed_out(b):
    """A session the dataplane ends at its timeout_s is forgotten: not listed, its journal
    record gone (killed() below restarts the control plane and compares what comes back
    with what was acknowledged). The control plane asks the dataplane first, so an event
    read late cannot end a new session of the same id."""
    c, w = Client(b), Client(b)
    w.subscribe("mfwd/n1/event/#")
    s = spec("tmo")
    s["limits"] = {"timeout_s": 1}
    r = c.request(CMD, "session.create", s)
    T.check(r and r["ok"], "tmo created: %s" % r)
    evs = w.collect_until("mfwd/n1/event/session.timeout",
                          lambda evs: any(e.get("session") == "tmo" for _, e, _ in evs))
    T.check(evs, "session.timeout published for tmo")
    deadline, r = time.time() + 10, None
    while time.time() < deadline:
        r = c.request(CMD, "session.get", {"id": "tmo"})
        if r and not r["ok"]:
            break
        time.sleep(0.1)
    T.check(r and not r["ok"] and r["error"]["code"] == "not_found",
            "tmo forgotten after its timeout: %s" % r)
    c.close()
    w.close()


def killed(b, dpl, cp):
    """SIGKILL in the middle of a stream of creates: what was acknowledged comes back."""
    c = Client(b)
    p = Pipelined(b, 64)
    acked = []

    def kill_soon():
        while len(p.replies) < 40 and not done:
            time.sleep(0.001)
        cp.kill()
    done = False
    bodies = [req("session.create", spec("k%d" % i)) for i in range(400)]
    killer = threading.Thread(target=kill_soon)
    killer.start()
    out = p.run(bodies, timeout=10)
    done = True
    killer.join()
    acked = [b["args"]["id"] for b, r in out if r and r["ok"]]
    T.check(0 < len(acked) < 400, "killed in the middle: %d acknowledged" % len(acked))
    # The dataplane stays; a new control plane reconciles with it and the journal.
    cp.start()
    T.check(wait_status(c, "n1", lambda s: s.get("dataplane", {}).get("up"), timeout=60),
            "the control plane is back")
    ids = set(list_all(c, 1000))
    same(set(acked) - ids, (), "every acknowledged session came back")
    same(ids, dp_ids(dpl), "control plane and dataplane agree")
    # The log is written ahead in zeros to a MiB boundary, so a sync need not grow the file:
    # after a create, the file ends in them.
    log = os.path.join(cp.cfg["journal_dir"], "sessions.log")

    def create_and_look(sid):
        # A create that compacts the log (a new file, which nothing was written after)
        # is followed by another.
        for k in range(2):
            ino = os.stat(log).st_ino
            r = c.request(CMD, "session.create", spec(sid + "x" * k))
            T.check(r and r["ok"], "create %s: %s" % (sid, r))
            ids.add(sid + "x" * k)
            if os.stat(log).st_ino == ino:
                break
        with open(log, "rb") as f:
            data = f.read()
        T.check(len(data) % (1 << 20) == 0 and data.endswith(b"\0") and b"\n\0" in data,
                "after %s, the log is followed by zeros to a MiB boundary (%d bytes)" %
                (sid, len(data)))
        return data
    data = create_and_look("ahead")
    # A power cut in a record written over those zeros: on start it is cut off with them,
    # and only its own bytes are reported torn. A session in a file of its own (the
    # journal's former layout) is moved into the log then, after its last record (the
    # dataplane, which never had it, then has the control plane drop it again).
    cp.kill()
    torn = b'+{"id":"torn0","kind":"udp","ingr'
    with open(log, "r+b") as f:
        f.seek(data.find(b"\n\0") + 1 or len(data))
        f.write(torn)
    old = os.path.join(cp.cfg["journal_dir"], "mig.json")
    with open(old, "w") as f:
        json.dump(spec("mig", 59998), f)
    logged = os.path.getsize(cp.log)
    cp.start()
    T.check(wait_status(c, "n1", lambda s: s.get("dataplane", {}).get("up"), timeout=60),
            "the control plane is back after a record torn in the zeros")
    same(list_all(c, 1000), ids, "the record torn in the zeros ignored, the rest kept")
    with open(log, "rb") as f:
        T.check(not os.path.exists(old) and b'\n+{"id":"mig",' in f.read(),
                "the session of the former layout moved into the log, after its last record")
    with open(cp.log) as f:
        f.seek(logged)
        cut = re.findall(r": (\d+) bytes of a torn last record cut off", f.read())
    T.eq(cut, [str(len(torn))], "the torn record's bytes reported once, not the zeros")
    # A clean stop leaves the log alone, the zeros cut off. A power cut in the middle of a
    # write leaves a torn last record: cut off on start.
    create_and_look("ahead2")
    cp.stop()
    with open(log, "rb") as f:
        data = f.read()
    T.check(data.endswith(b"\n") and b"\0" not in data,
            "a clean stop cuts the zeros written ahead off the log")
    with open(log, "a") as f:
        f.write('+{"id":"torn","kind":"udp","ingr')
    cp.start()
    T.check(wait_status(c, "n1", lambda s: s.get("dataplane", {}).get("up"), timeout=60),
            "the control plane is back after a torn record")
    same(list_all(c, 1000), ids, "the torn record ignored, the rest kept")
    with open(log, "rb") as f:
        T.check(f.read().endswith(b"\n"), "the torn record cut off the log")
    c.close()
    return ids


def dp_sessions(dpl, want, timeout=5, every=0.1):
    """The dataplane's sessions once @want (a test of them) holds, or after @timeout s."""
    sessions, deadline = {}, time.time() + timeout
    while True:
        st = subprocess.run([STAT, "-i", dpl.instance, "--json"], capture_output=True,
                            text=True)
        sessions = json.loads(st.stdout).get("sessions", {}) if st.returncode == 0 else {}
        if want(sessions) or time.time() > deadline:
            return sessions
        time.sleep(every)


def dp_count(dpl, least, timeout=60):
    """How many sessions the dataplane has, once at least @least (its Prometheus exposition
    without sessions: quick to read, where a JSON of thousands is not)."""
    deadline, n = time.time() + timeout, 0
    while time.time() < deadline:
        r = subprocess.run([STAT, "-i", dpl.instance, "--prometheus", "--max-sessions", "0"],
                           capture_output=True, text=True)
        m = re.search(r"^mfwd_sessions\{[^}]*\} (\d+)", r.stdout, re.M)
        n = int(m.group(1)) if m else 0
        if n >= least:
            break
        time.sleep(0.02)
    return n


def unanswered(b, dpl, cp):
    """Commands the dataplane, stopped, does not answer within reply_timeout_ms: still in
    its channel, it carries them out once it runs again. A create answered "timeout" is
    undone there (a delete sent behind it: the dataplane makes it, then removes it) and runs
    when sent again (its reply not kept for repeats); an update or a delete is carried out,
    and answered so."""
    cp.stop()
    cp.cfg["reply_timeout_ms"] = 2000
    with open(cp.cfg_file, "w") as f:
        json.dump(cp.cfg, f)
    cp.start()
    c, w = Client(b), Client(b)
    w.subscribe("mfwd/n1/event/session.removed")
    T.check(wait_status(c, "n1", lambda s: s.get("dataplane", {}).get("up"), timeout=60),
            "the control plane is back with reply_timeout_ms 2000")

    def stopped(cmd, args, rid=None):
        os.kill(dpl.proc.pid, signal.SIGSTOP)
        try:
            return c.request(CMD, cmd, args, rid=rid, timeout=15)
        finally:
            os.kill(dpl.proc.pid, signal.SIGCONT)

    def dp_has(want):
        return dp_sessions(dpl, want)

    rid = uuid.uuid4().hex
    r = stopped("session.create", spec("slow"), rid)
    T.check(r and not r["ok"] and r["error"]["code"] == "timeout",
            "a create the stopped dataplane does not answer: timeout (%s)" % r)
    def removed(out):
        return any(isinstance(e, dict) and e.get("session") == "slow" for _, e, _ in out)
    T.check(removed(w.collect_until("mfwd/n1/event/session.removed", removed, timeout=10)),
            "the dataplane, running again, makes the create that timed out and removes it")
    T.check("slow" not in dp_has(lambda d: "slow" not in d), "...and does not keep it")
    r = c.request(CMD, "session.create", spec("slow"), rid=rid)
    T.check(r and r["ok"], "sent again under its id, it runs: %s" % r)
    # Ten creates in flight: the first unanswered, the nine behind it are not waited for a
    # timeout each (ten would take 20 s).
    p = Pipelined(b, 64)
    bodies = [req("session.create", spec("slow%d" % i)) for i in range(10)]
    os.kill(dpl.proc.pid, signal.SIGSTOP)
    try:
        got = p.run(bodies, timeout=12)
    finally:
        os.kill(dpl.proc.pid, signal.SIGCONT)
    T.eq([r and not r["ok"] and r["error"]["code"] for _, r in got], ["timeout"] * 10,
         "ten creates in flight, the dataplane stopped: each answered timeout, within 12 s")
    gone = dp_has(lambda d: not any("slow%d" % i in d for i in range(10)))
    T.check(not any("slow%d" % i in gone for i in range(10)), "...and each undone")
    got = p.run(bodies, timeout=30)
    T.eq([r and r["ok"] for _, r in got], [True] * 10, "sent again, each runs")
    p.cl.close()
    r = stopped("session.update", {"id": "slow", "add_outputs": [
        {"id": "late", "port": 1, "addr": "10.99.2.1", "udp_port": 6010}]})
    T.check(r and r["ok"], "an update the stopped dataplane does not answer in time is done:"
            " %s" % r)
    dp = dp_has(lambda d: "late" in d.get("slow", {}).get("outputs", {}))
    T.check("late" in dp.get("slow", {}).get("outputs", {}),
            "the update that timed out applied by the dataplane: %s" %
            sorted(dp.get("slow", {}).get("outputs", {})))
    r = c.request(CMD, "session.update", {"id": "slow", "remove_outputs": ["late"]})
    T.check(r and r["ok"] and r["result"]["outputs"] == 1,
            "the control plane kept it: its output removed by name: %s" % r)
    r = stopped("session.delete", {"id": "slow"})
    T.check(r and r["ok"], "a delete the stopped dataplane does not answer in time is done: %s"
            % r)
    T.check("slow" not in dp_has(lambda d: "slow" not in d),
            "the delete carried out in the dataplane")
    r = c.request(CMD, "session.get", {"id": "slow"})
    T.check(r and not r["ok"] and r["error"]["code"] == "not_found",
            "the control plane agrees: %s" % r)
    r = c.request(CMD, "session.delete_many", {"ids": ["slow%d" % i for i in range(10)]})
    T.check(r and r["ok"] and r["result"]["deleted"] == 10, "cleaned up: %s" % r)
    c.close()
    w.close()


def stalled_replay(b, dpl, cp, mid=False):
    """A new dataplane that does not answer when the control plane comes to replay the
    journal into it (started while the control plane was stopped, then stopped itself), or
    (@mid) that stops once it has about a tenth of the sessions. The control plane must not
    wait a timeout (here 2 s) for each session: it takes the dataplane in hand, answers
    requests, and once the dataplane runs again gives it the rest. The new dataplane then
    has exactly the sessions the old one had, with an update made meanwhile to one it had
    not been given yet (or, mid-replay, perhaps had)."""
    c, w = Client(b), Client(b)
    r = c.request(CMD, "session.create_many",
                  {"sessions": [spec("rp%d" % i) for i in range(100)]}, timeout=30)
    T.check(r and r["ok"] and r["result"]["created"] == 100, "100 more sessions: %s"
            % (r and r.get("error")))
    before = set(dp_sessions(dpl, lambda d: True))
    T.check(len(before) > 64, "more sessions (%d) than the channel has slots" % len(before))
    w.subscribe("mfwd/n1/event/#")
    os.kill(cp.proc.pid, signal.SIGSTOP)
    try:
        dpl.stop()
        dpl.start()
        if not mid:
            os.kill(dpl.proc.pid, signal.SIGSTOP)
    finally:
        os.kill(cp.proc.pid, signal.SIGCONT)
    if mid:
        given = dp_count(dpl, len(before) // 10)
        os.kill(dpl.proc.pid, signal.SIGSTOP)
        print("note: the dataplane stopped with %d of %d sessions given%s" %
              (given, len(before), "" if given < len(before) else
               " (all: the middle of the replay was missed this time)"), flush=True)
    try:
        up = w.collect_until("mfwd/n1/event/dataplane", lambda evs: any(
            e.get("event") == "dataplane.up" for _, e, _ in evs), timeout=20)
        T.check(any(e.get("event") == "dataplane.up" for _, e, _ in up),
                "the new dataplane, stopped, taken in hand within 20 s (a wait for each of "
                "its %d sessions would take %d s)" % (len(before), 2 * len(before)))
        r = c.request(CMD, "session.create", spec("during"), timeout=10)
        T.check(r and not r["ok"] and r["error"]["code"] == "timeout",
                "a create meanwhile: answered timeout within 10 s: %s" % r)
        # Mid-replay, the rp* sessions (the last made, the last replayed) are most likely
        # not given yet; one given is sent the change, which its full channel may refuse.
        r = c.request(CMD, "session.update", {"id": "rp7", "add_outputs": [
            {"id": "late7", "port": 1, "addr": "10.99.2.1", "udp_port": 6070}]}, timeout=10)
        late = bool(r and r["ok"])
        T.check(late or (mid and r and r["error"]["code"] == "timeout"),
                "an update of a session not yet given to it: done: %s" % r)
        r = c.request(CMD, "session.delete", {"id": "rp9"}, timeout=10)
        not_made = bool(mid and r and not r["ok"] and r["error"]["code"] == "timeout")
        T.check(r and (r["ok"] or not_made), "...a delete of one: done: %s" % r)
        r = c.request(CMD, "session.get", {"id": "rp8"}, timeout=10)
        T.check(r and not r["ok"] and r["error"]["code"] in (("busy", "timeout") if mid
                                                              else ("busy",)),
                "...a get of one: busy: %s" % r)
        st = wait_status(c, "n1", lambda s: s["dataplane"].get("stalled"), timeout=10)
        T.check(st and st["dataplane"]["up"], "the status says it is stalled: %s" %
                (st and st["dataplane"]))
    finally:
        os.kill(dpl.proc.pid, signal.SIGCONT)
    if not not_made:
        before.discard("rp9")
    after = dp_sessions(dpl, lambda d: set(d) == before and
                        late == ("late7" in d.get("rp7", {}).get("outputs", {})), timeout=90,
                        every=0.5)
    T.eq(sorted(set(after) ^ before), [], "running again, the new dataplane has every "
         "session of the old one but the one deleted meanwhile, and no other")
    T.check(late == ("late7" in after.get("rp7", {}).get("outputs", {})),
            "...the update made meanwhile with them: %s" %
            sorted(after.get("rp7", {}).get("outputs", {})))
    st = wait_status(c, "n1", lambda s: "stalled" not in s["dataplane"] and s["ports"],
                     timeout=10)
    T.check(st, "...and the status no longer says it is stalled")
    r = c.request(CMD, "session.get", {"id": "rp8"})
    T.check(r and r["ok"], "a get of it once given: %s" % (r and r.get("error")))
    r = c.request(CMD, "session.delete_many", {"ids": ["rp%d" % i for i in range(100)
                                                       if i != 9 or not_made]}, timeout=30)
    r2 = c.request(CMD, "session.get", {"id": "during"})
    T.check(r2 and not r2["ok"] and r2["error"]["code"] == "not_found",
            "...and no session of the create that timed out: %s" % r2)
    T.check(r and r["ok"] and r["result"]["deleted"] == 99 + not_made, "cleaned up: %s" %
            (r and r.get("error")))
    c.close()
    w.close()


def main():
    with Broker() as b:
        with open(b.conf, "a") as f:
            f.write("max_inflight_messages 0\n")
        b.stop()
        b.start()
        dpl = pcap_dataplane("cpscale", max_sessions=32768)
        with dpl:
            cp = ControlPlane(b, "n1", dpl.instance, port_range=[10000, 60000])
            with cp:
                c = Client(b)
                T.check(wait_status(c, "n1", lambda s: s.get("dataplane", {}).get("up")),
                        "the control plane is up")
                c.close()
                acked = pipelined(b, dpl, cp)
                refused_in_full_channel(b, dpl)
                timed_out(b)
                many(b)
                paging(b, acked)
                killed(b, dpl, cp)
                unanswered(b, dpl, cp)
                stalled_replay(b, dpl, cp)
                stalled_replay(b, dpl, cp, mid=True)
    T.done()


if __name__ == "__main__":
    main()
