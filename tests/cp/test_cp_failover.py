#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""Failover through the broker: three nodes (control planes n1-n3 with "failover": true;
n1's and n2's dataplanes on af_packet veths to hosts in namespaces of their own, n3's on
pcap ports) share the pool (docs/cluster.md, Failover).

- 150 creates through the pool, and 3 signed by tenant acme: each session's record is
  retained on mfwd/<node>/sess/<bucket>/<id>, on the node its reply named, with its spec
  (<bucket>: mf_cluster_bucket(), computed here too); a session
  deleted has its record cleared; a session created on a node's own topic has none;
- n3 killed (dataplane and control plane, SIGKILL): its will comes; every session of its
  records is taken over by exactly one of n1 and n2 (session.moved from each, with the new
  ingress), within 3 s of the kill; n1 has room for 30 sessions, fewer than it is the heir
  of: it refuses the rest (session.move_failed, capacity) and n2, next in rank, takes them;
  each survivor read only the records of the buckets it is the heir of (node.info's
  others: 0); each is then on the node its event named and nowhere
  else, acme's still acme's; n3's records are marks naming the takers; the one deleted
  before and the one not pooled are not taken over; a numbered flow re-pointed at a moved
  session's new ingress (one on n1, one on n2) arrives whole at its output;
- n3 started again (its journal still holds them): it deletes the sessions taken over
  (session.gone; their marks cleared), keeps the one not pooled, and no session is on two
  nodes;
- the broker restarted, its retained messages lost: no node deletes a session, each
  publishes its records again;
- a takeover slower than a node's return: an heir's mark for one of n1's sessions
  published after n1's lookup ended (by the test, as n2 would) has n1 delete it at once
  (session.gone, the mark cleared), not at its next connection;
- the nodes have auth.node_tenant: every record and mark is signed (the takeovers above
  read only signed records); a mark the test publishes unsigned is not believed (n1 keeps
  the session, node.info counts it, n1's record is published again over it), the same
  mark signed with the node tenant's key is; a signed mark and a signed record of another
  incarnation of the session (a replay) are not (n1 keeps the session, counts them as
  stale, and publishes its record again over them);
- heirs that change while a death is read (gained()): with n1 stopped (SIGSTOP) and n2
  draining as n3 dies, n2 undrained takes the sessions of the buckets it gains at once;
- n1 and n2 drain, two pool creates go to n3, n3 is killed again: no node can take its
  sessions (nothing moves); n1, undrained, takes what it has room for, n2 undrained the
  rest (n2 hears of n1's refusal after a new broker session), none on both; then n3 is
  left dead: n1 and
  n2 read its records, and stop after failover_forget_s with nothing of them (node.info's
  reading and forgotten).
"""
import contextlib
import hashlib
import hmac
import json
import os
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cpharness import (Broker, Checks, Client, ControlPlane, Dataplane,  # noqa: E402
                       in_flight, keys_file, pcap_dataplane, until, wait_online,
                       wait_status)
from netns import Topology  # noqa: E402
from paho.mqtt.packettypes import PacketTypes  # noqa: E402
from paho.mqtt.properties import Properties  # noqa: E402

T = Checks("cp_failover")
NODES = ("n1", "n2", "n3")
POOL = "mfwd/pool/cmd"
KEY = os.urandom(32)
NODE_KEY = os.urandom(32)	# auth.node_tenant "nodes": records and marks signed with it
N1_MAX = 30	# n1 has room for fewer than it is the heir of
FORGET_S = 20	# failover_forget_s: long enough for the takeover, short for the test


def spec(i, sid=None):
    return {"id": sid or "f%d" % i, "kind": "udp",
            "ingress": {"port": 0, "addr": "10.99.1.2", "udp_port": 5000 + i},
            "outputs": [{"port": 1, "addr": "10.99.2.1", "udp_port": 6000}]}


def bucket(sid):
    """mf_cluster_bucket(): the low byte of FNV-1a 64 of the id, mixed by splitmix64's
    finisher (tests/unit/test_cluster.c checks the same values)."""
    m = (1 << 64) - 1
    h = 14695981039346656037
    for c in sid.encode():
        h = ((h ^ c) * 1099511628211) & m
    h = ((h ^ (h >> 30)) * 0xbf58476d1ce4e5b9) & m
    h = ((h ^ (h >> 27)) * 0x94d049bb133111eb) & m
    return (h ^ (h >> 31)) & 0xff


def outranks(a, b, sid, dead="n3"):
    """Whether node @a comes before @b as the heir of @dead's session @sid: mf_cluster.c's
    heir_weight(), FNV-1a 64 over "node\\0dead\\0" and the bucket's byte, mixed."""
    m, prime = (1 << 64) - 1, 1099511628211

    def weight(node):
        h = 14695981039346656037
        for part in (node, dead):
            for c in part.encode():
                h = ((h ^ c) * prime) & m
            h = (h * prime) & m
        h = ((h ^ bucket(sid)) * prime) & m
        h = ((h ^ (h >> 30)) * 0xbf58476d1ce4e5b9) & m
        h = ((h ^ (h >> 27)) * 0x94d049bb133111eb) & m
        return h ^ (h >> 31)
    return (weight(a), b) > (weight(b), a)


def rtopic(node, sid):
    return "mfwd/%s/sess/%02x/%s" % (node, bucket(sid), sid)


def records(broker, topic="mfwd/+/sess/#", want=None, timeout=10):
    """The retained records a new subscriber gets: {(node, id): record}; one not on its
    bucket's topic as (node, "misfiled: " + topic)."""
    cl = Client(broker)
    cl.subscribe(topic)
    got = cl.collect_until("mfwd/", lambda m: want is not None and len(m) >= want,
                           timeout=timeout if want is not None else 2)
    cl.close()
    out = {}
    for t, r, retained in got:
        p = t.split("/")
        if retained and isinstance(r, dict):
            ok = len(p) == 5 and t == rtopic(p[1], p[4])
            out[(p[1], p[-1] if ok else "misfiled: " + t)] = r
    return out


def holdings(cl, nodes):
    held = {}
    for n in nodes:
        r = cl.request("mfwd/%s/cmd" % n, "session.list", {"limit": 1000})
        T.check(r is not None and r["ok"], "session.list on %s: %s" % (n, r))
        held[n] = set(r["result"]["sessions"]) if r and r["ok"] else set()
    return held


def populate(cl, broker):
    """150 pool creates and 3 of acme's; one deleted; one on n3's own topic."""
    got = in_flight(cl, POOL, [spec(i) for i in range(150)])
    took = {k: v["node"] for k, v in got.items() if v.get("ok")}
    T.eq(len(took), 150, "150 pool creates placed")
    for i in range(3):
        r = cl.signed(POOL, "acme", KEY, "session.create", spec(200 + i, "acme%d" % i))
        T.check(r is not None and r["ok"], "acme's create %d: %s" % (i, r))
        if r and r["ok"]:
            took["acme%d" % i] = r["node"]
    gone = sorted(k for k, v in took.items() if v == "n3" and k.startswith("f"))[0]
    r = cl.request("mfwd/n3/cmd", "session.delete", {"id": gone})
    T.check(r is not None and r["ok"], "%s deleted on n3: %s" % (gone, r))
    del took[gone]
    r = cl.request("mfwd/n3/cmd", "session.create", spec(300, "mine"))
    T.check(r is not None and r["ok"], "a session on n3's own topic: %s" % r)
    recs = records(broker, want=len(took))
    T.eq(sorted(recs), sorted((v, k) for k, v in took.items()),
         "a record for each pool session, on its node's topic (%d), none for the one "
         "deleted nor the one not pooled" % len(recs))
    rec = recs.get(("n3", "acme0")) or recs.get(("n1", "acme0")) or recs.get(("n2", "acme0"))
    T.check(rec is not None and rec.get("tenant") == "acme" and
            rec["spec"]["ingress"]["udp_port"] == 5200, "a record holds the spec and its "
            "owner: %s" % rec)
    return took, gone


def flows(topos, moved, dps_dir):
    """A numbered flow to one moved session on each survivor, at the ingress its
    session.moved said: every packet reaches the session's output (10.99.2.1:6000)."""
    for k, (n, topo) in enumerate(zip(("n1", "n2"), topos)):
        e = [e for e in moved if e["to"] == n][0]
        T.eq(topo.reach(topo.src, e["ingress"]["addr"]) + topo.reach(topo.dst, "10.99.2.2"), [],
             "%s's hosts reach its ports" % n)
        flow = topo.flow_start(os.path.join(dps_dir, "stop%d" % k),
                               port=e["ingress"]["udp_port"], to=6000, src_port=4100 + k)
        sent, got = topo.flow_end(flow, at_least_s=1.0)
        print("flow to %s on %s: sent %d, %s" % (e["session"], n, sent, got))
        T.check(sent > 100 and got.get("received") == [sent] and got.get("lost") == [0],
                "a flow re-pointed at %s, moved to %s, arrives whole: sent %d, %s" %
                (e["session"], n, sent, got))


def kill_node(dp, cp):
    """SIGKILL a node's control plane, then its dataplane: its will comes."""
    cp.kill()
    dp.proc.send_signal(signal.SIGKILL)
    dp.proc.wait()
    dp.logf.close()
    dp.proc = None


def kill_n3(broker, cl, dps, cps, took, topos):
    """n3 dies; n1 and n2 take its sessions over, each once."""
    mine = sorted(k for k, v in took.items() if v == "n3")
    watcher = Client(broker)
    watcher.subscribe("mfwd/+/event/session.moved")
    watcher.subscribe("mfwd/+/event/session.move_failed")
    t0 = time.time()
    kill_node(dps[2], cps[2])
    evs = watcher.collect_until(
        "mfwd/", lambda m: sum(1 for _, e, _ in m if e["event"] == "session.moved") >= len(mine),
        timeout=15)
    t = time.time() - t0
    evs += watcher.collect("mfwd/", 1)		# nothing more may come
    moved = [e for _, e, _ in evs if e and e.get("event") == "session.moved"]
    failed = [e for _, e, _ in evs if e and e.get("event") == "session.move_failed"]
    print("failover: %d of n3's sessions moved in %.2f s: %s; %d refused by a full heir" % (
        len(moved), t, {n: sum(1 for e in moved if e["to"] == n) for n in NODES},
        len(failed)))
    T.check(wait_status(cl, "n3", lambda s: not s["online"]) is not None,
            "the registry shows n3 offline (its will)")
    ids = [e["session"] for e in moved]
    T.eq(sorted(ids), mine, "each of n3's %d sessions moved exactly once" % len(mine))
    # n1 is small: what it is the heir of beyond its room goes to the next in rank, n2.
    T.check(failed and all(e["node"] == "n1" and e["from"] == "n3" and
                           e["code"] == "capacity" for e in failed),
            "n1, full, refused some (capacity): %d %s" % (len(failed), failed[:1]))
    T.check(all([m["to"] for m in moved if m["session"] == e["session"]] == ["n2"]
                for e in failed), "each refused by n1 was taken by n2")
    T.check(t <= 3.0, "moved within 3 s of the kill (%.2f s)" % t)
    T.check(all(e["from"] == "n3" and e["to"] in ("n1", "n2") and e["node"] == e["to"] and
                e["ingress"]["addr"] == "10.99.1.2" and e["ingress"]["port"] == 0
                for e in moved), "session.moved says from, to and the new ingress: %s"
            % moved[:1])
    T.check(len({e["to"] for e in moved}) == 2, "spread over both survivors")
    info = {n: cl.request("mfwd/%s/cmd" % n, "node.info") for n in ("n1", "n2")}
    fo = {n: r["result"]["failover"] if r and r["ok"] else {} for n, r in info.items()}
    T.check(all(f.get("on") and f.get("reading") == 1 for f in fo.values()) and
            fo["n1"].get("failed") == len(failed) and fo["n2"].get("failed") == 0 and
            sum(f.get("moved", 0) for f in fo.values()) == len(moved),
            "node.info counts the sessions taken over: %s" % fo)
    T.eq([fo[n].get("others") for n in ("n1", "n2")], [0, 0], "each survivor read only the "
         "records of the buckets it is the heir of (none of the other's)")
    for e in moved:
        took[e["session"]] = e["to"]
    held = holdings(cl, ("n1", "n2"))
    for n in ("n1", "n2"):
        T.eq(sorted(held[n]), sorted(k for k, v in took.items() if v == n),
             "%s holds what it had and what it took over, nothing else" % n)
    T.check(not (held["n1"] & held["n2"]), "no session on two nodes")
    T.eq(len(held["n1"]), N1_MAX, "n1 full")
    flows(topos, moved, dps[0].dir)
    acme = [k for k in mine if k.startswith("acme")]
    for sid in acme:
        r = cl.signed("mfwd/%s/cmd" % took[sid], "acme", KEY, "session.get", {"id": sid})
        T.check(r is not None and r["ok"], "%s moved is still acme's: %s" % (sid, r))
    recs = records(broker, want=len(took) + len(mine))
    marks = {k[1]: r.get("moved_to") for k, r in recs.items() if k[0] == "n3"}
    T.eq(marks, {k: took[k] for k in mine},
         "each of n3's records replaced by a mark naming the node that took it")
    T.eq(sorted(k for k in recs if k[0] != "n3"), sorted((v, k) for k, v in took.items()),
         "every record on the node that holds the session")
    watcher.close()
    return mine


def n3_back(broker, cl, dps, cps, moved):
    """n3 started again with its journal: the sessions of @moved that it deletes."""
    watcher = Client(broker)
    watcher.subscribe("mfwd/n3/event/session.gone")
    dps[2].start()
    cps[2].start()
    T.check(wait_status(cl, "n3", lambda s: s["online"] and s["dataplane"]["up"])
            is not None, "n3 back")
    evs = watcher.collect_until("mfwd/", lambda m: len(m) >= len(moved), timeout=20)
    watcher.collect("mfwd/", 1)
    watcher.close()
    return sorted(e["session"] for _, e, _ in evs if e)


def back(broker, cl, dps, cps, moved, took):
    """n3 again, with its journal: what was taken over goes, what was its own stays."""
    gone = n3_back(broker, cl, dps, cps, moved)
    T.eq(gone, moved, "n3 deleted each session taken over while it was away")
    held = holdings(cl, NODES)
    T.eq(sorted(held["n3"]), ["mine"], "n3 keeps only its session not pooled")
    every = [s for n in NODES for s in held[n]]
    T.eq(len(every), len(set(every)), "no session on two nodes")
    T.eq(len(every), len(took) + 1, "every session somewhere")
    r = cl.request("mfwd/n3/cmd", "node.info")
    T.check(r is not None and r["ok"] and r["result"]["failover"]["gone"] == len(moved),
            "n3's node.info counts them: %s" % (r and r.get("result", {}).get("failover")))
    r = cl.request("mfwd/n1/cmd", "node.info")
    T.check(r is not None and r["ok"] and r["result"]["failover"]["reading"] == 0,
            "n1 stopped reading n3's records once it came back")
    T.eq(records(broker, "mfwd/n3/sess/#"), {}, "n3's marks cleared as it deleted them")


def lost(broker, cl, took):
    """The broker restarted without its retained messages: no record, no mark. Only a
    mark deletes a session, so every node keeps what it holds and publishes its records
    again."""
    before = holdings(cl, NODES)
    cl.close()
    broker.stop()
    broker.start()
    cl = Client(broker)
    T.eq(wait_online(cl, NODES), [], "every node online on the restarted broker")
    deadline, fo = time.time() + 30, {}
    while time.time() < deadline:		# each node looks its records up 2 s after
        for n in NODES:
            r = cl.request("mfwd/%s/cmd" % n, "node.info")
            fo[n] = r["result"]["failover"] if r and r["ok"] else {}
        if sum(f.get("republished", 0) for f in fo.values()) >= len(took):
            break
        time.sleep(0.5)
    T.eq(sum(f.get("republished", 0) for f in fo.values()), len(took),
         "node.info counts the records published again: %s" % fo)
    T.eq(sum(f.get("gone", 0) for n, f in fo.items() if n != "n3"), 0,
         "n1 and n2 deleted nothing: %s" % fo)
    recs = records(broker, want=len(took))
    T.eq(sorted(recs), sorted((v, k) for k, v in took.items()),
         "every pool session's record published again by the node that holds it")
    T.eq(holdings(cl, NODES), before, "no node deleted anything")
    return cl


def failover_info(cl, nodes):
    fo = {}
    for n in nodes:
        r = cl.request("mfwd/%s/cmd" % n, "node.info")
        fo[n] = r["result"]["failover"] if r and r["ok"] else {}
    return fo


def wait_failover(cl, pred, timeout):
    deadline, fo = time.time() + timeout, {}
    while time.time() < deadline:
        fo = failover_info(cl, ("n1", "n2"))
        if pred(fo):
            return fo, True
        time.sleep(0.5)
    return fo, False


def drain(cl, node, on):
    r = cl.request("mfwd/%s/cmd" % node, "node.drain", {"drain": on})
    T.check(r is not None and r["ok"], "%s: node.drain %s: %s" % (node, on, r))
    T.check(wait_status(cl, node, lambda s: s.get("draining") == on) is not None,
            "%s's status says draining %s" % (node, on))


def session_lost(broker, cp):
    """The broker forgets @cp's node's MQTT session, and its subscriptions with it (as a
    broker restarted without its sessions, or a session expired): a client of the node's id
    connects with a clean start and leaves. The node connects again, to a new session."""
    def connections():
        with open(cp.log) as f:
            return f.read().count("connected to ")
    before = connections()
    impostor = Client(broker, client_id="mfwd-cp-%s" % cp.node)
    T.check(impostor.connected(), "%s's session taken over" % cp.node)
    impostor.close()
    T.check(until(lambda: connections() > before, timeout=30),
            "%s connected again to a new session" % cp.node)


def orphans(broker, cl, dps, cps):
    """n1 and n2 drain, so two pool creates go to n3; n3 dies: no node can take its
    sessions then (nothing moves, its records wait, not forgotten); the broker loses n2's
    session (session_lost()), n2 connects again; n1 undrained takes
    them, or those it has room for (it is small), and n2 undrained the others: each once.
    (They stayed untaken until another death before.) n1 is the heir of both and has room
    for one: n2 can learn of the other only from n1's refusal."""
    ids = [sid for sid in ("o%d" % i for i in range(64)) if outranks("n1", "n2", sid)][:2]
    fill = ["fill%d" % i for i in range(N1_MAX - 1 - len(holdings(cl, ("n1",))["n1"]))]
    for i, sid in enumerate(fill):
        r = cl.request("mfwd/n1/cmd", "session.create", spec(500 + i, sid))
        T.check(r is not None and r["ok"], "%s on n1's own topic: %s" % (sid, r))
    for n in ("n1", "n2"):
        drain(cl, n, True)
    got = in_flight(cl, POOL, [spec(200 + i, sid) for i, sid in enumerate(ids)])
    T.eq(sorted((k, v.get("node")) for k, v in got.items()), [(sid, "n3") for sid in ids],
         "placed on n3, the only node not draining")
    watcher = Client(broker)
    watcher.subscribe("mfwd/+/event/session.moved")
    kill_node(dps[2], cps[2])
    fo, ok = wait_failover(cl, lambda f: all(x.get("reading") == 1 for x in f.values()), 15)
    T.check(ok, "n3 dead again: n1 and n2 read its records: %s" % fo)
    T.eq([e for _, e, _ in watcher.collect("mfwd/", 2)], [],
         "every other node draining: nothing moved")
    # n2 must still hear of what n1 refuses (before, its subscriptions were gone).
    session_lost(broker, cps[1])
    fo, ok = wait_failover(cl, lambda f: all(x.get("reading") == 1 for x in f.values()), 15)
    T.check(ok, "n2 back, both still read n3's records: %s" % fo)
    drain(cl, "n1", False)
    evs = watcher.collect_until("mfwd/", lambda m: len(m) >= 1, timeout=10)
    T.check([e["to"] for _, e, _ in evs if e][:1] == ["n1"], "n1, undrained, took one over "
            "at least: %s" % [e for _, e, _ in evs])
    evs += watcher.collect("mfwd/", 2)
    drain(cl, "n2", False)
    evs += watcher.collect_until("mfwd/", lambda m: len(evs) + len(m) >= 2, timeout=10)
    evs += watcher.collect("mfwd/", 1)		# nothing more may come
    moved = sorted((e["session"], e["to"]) for _, e, _ in evs if e)
    print("orphans moved: %s" % moved)
    T.check([s for s, _ in moved] == sorted(ids) and
            sorted(n for _, n in moved) == ["n1", "n2"], "both taken over once they could "
            "be, each once, n2 the one n1 had no room for: %s" % moved)
    held = holdings(cl, ("n1", "n2"))
    T.eq(sorted(s for s in ids for n in ("n1", "n2") if s in held[n]), sorted(ids),
         "each held by one node")
    for sid in fill:
        r = cl.request("mfwd/n1/cmd", "session.delete", {"id": sid})
        T.check(r is not None and r["ok"], "%s deleted: %s" % (sid, r))
    watcher.close()


def gained(broker, cl, dps, cps):
    """Heirs that change while a death is read: n1 and n2 drain, eight pool creates go to
    n3, n1 undrains; n1's control plane is stopped (SIGSTOP: online still, reading
    nothing) and n3 dies. n2, draining, is the heir of no bucket then; undrained, it gains
    the buckets where it outranks n1 and takes their sessions while n1 is still stopped
    (before, it took nothing: a bucket's records reached only the node that was its heir
    when the death was read). n1 let go takes the rest (one: it has room for one; the next
    in rank, n2, what it refuses): each of the eight once. n2 holds sessions of its own on
    the eight's UDP ports: it takes them on ports of its range (a second round of creates).
    Then the eight are deleted and n3 started again, as before this phase."""
    ids = ["g%d" % i for i in range(8)]
    mine = ["p%d" % i for i in range(8)]
    for i, sid in enumerate(mine):
        r = cl.request("mfwd/n2/cmd", "session.create", spec(400 + i, sid))
        T.check(r is not None and r["ok"], "%s on n2's own topic: %s" % (sid, r))
    for n in ("n1", "n2"):
        drain(cl, n, True)
    got = in_flight(cl, POOL, [spec(400 + i, sid) for i, sid in enumerate(ids)])
    T.eq(sorted(v.get("node") for v in got.values()), ["n3"] * 8, "eight placed on n3")
    drain(cl, "n1", False)
    watcher = Client(broker)
    watcher.subscribe("mfwd/+/event/session.moved")
    cps[0].proc.send_signal(signal.SIGSTOP)
    try:
        kill_node(dps[2], cps[2])
        T.check(until(lambda: failover_info(cl, ("n2",))["n2"].get("reading") == 1),
                "n2 reads n3's records")
        T.eq([e for _, e, _ in watcher.collect("mfwd/", 1)], [],
             "n1 stopped, n2 draining: nothing moved")
        drain(cl, "n2", False)
        evs = watcher.collect_until("mfwd/", lambda m: len(m) >= 1, timeout=10)
        evs += watcher.collect("mfwd/", 1)
        early = sorted(e["session"] for _, e, _ in evs if e and e["to"] == "n2")
        T.check(early and len(early) == len(evs), "n2, undrained, took the sessions of the "
                "buckets it gained while n1 was stopped: %s" % [e for _, e, _ in evs])
    finally:
        cps[0].proc.send_signal(signal.SIGCONT)
    evs += watcher.collect_until("mfwd/", lambda m: len(evs) + len(m) >= 8, timeout=15)
    evs += watcher.collect("mfwd/", 1)		# nothing more may come
    moved = sorted((e["session"], e["to"]) for _, e, _ in evs if e)
    print("gained: n2 took %s while n1 was stopped; all: %s" % (early, moved))
    T.eq([sid for sid, _ in moved], ids, "each of the eight taken over once")
    ports = [e["ingress"]["udp_port"] for _, e, _ in evs if e and e["to"] == "n2"]
    T.check(ports and not set(ports) & set(range(5400, 5408)) and
            len(set(ports)) == len(ports), "n2 took its share on UDP ports of its range, "
            "its own sessions holding theirs: %s" % ports)
    held = holdings(cl, ("n1", "n2"))
    T.eq(sorted(sid for sid in ids for n in ("n1", "n2") if sid in held[n]), ids,
         "each held by one node")
    for sid, n in moved + [(sid, "n2") for sid in mine]:
        r = cl.request("mfwd/%s/cmd" % n, "session.delete", {"id": sid})
        T.check(r is not None and r["ok"], "%s deleted on %s: %s" % (sid, n, r))
    watcher.close()
    T.eq(n3_back(broker, cl, dps, cps, ids), ids, "n3 back deletes the eight it lost")


def forgotten(broker, cl, dps, cps):
    """n3 dies again, for good (orphans()): its records are read until failover_forget_s
    passes with nothing of them, then no longer (64 dead nodes read at once would leave no
    room)."""
    before = {n: f.get("forgotten") for n, f in failover_info(cl, ("n1", "n2")).items()}
    t0 = time.time()
    orphans(broker, cl, dps, cps)
    fo, ok = wait_failover(cl, lambda f: all(x.get("reading") == 0 and
                                             x.get("forgotten") == before[n] + 1
                                             for n, x in f.items()), FORGET_S + 20)
    t = time.time() - t0
    T.check(ok and t >= FORGET_S - 1, "after failover_forget_s (%d s) with nothing of n3, "
            "n1 and n2 no longer read its records (%.1f s): %s" % (FORGET_S, t, fo))
    T.check(wait_status(cl, "n3", lambda s: not s["online"]) is not None,
            "the registry still shows n3 offline")


def signed(topic, text):
    props = Properties(PacketTypes.PUBLISH)
    props.UserProperty = [("mfwd-sig", hmac.new(NODE_KEY, ("mfwd-record-v1\n%s\n" % topic)
                                                .encode() + text.encode(),
                                                hashlib.sha256).hexdigest())]
    return props


def replayed(broker, cl, cp, sid, topic, rec):
    """Signed as a node, but of an earlier session of the id (a replay of what a node once
    published): a mark deletes nothing, a record is replaced; n1 counts both (stale). n1's
    control plane restarts first: the incarnation comes back from its journal (with none,
    the mark would delete the session). Stopped, it says so: its will is not published
    (others took a node stopped on purpose for dead, when its socket closed under the
    broker's last messages), and nobody takes its sessions."""
    moved = [cl.request("mfwd/%s/cmd" % n, "node.info")["result"]["failover"]["moved"]
             for n in ("n2", "n3")]
    watcher = Client(broker)
    watcher.subscribe("mfwd/n1/status")
    watcher.collect_until("mfwd/", lambda m: False, timeout=1)	# the retained one
    T.eq(cp.stop(), 0, "n1's control plane stops")
    said = [r.get("reason") for _, r, _ in watcher.collect_until("mfwd/", lambda m: False,
                                                                 timeout=2)
            if isinstance(r, dict) and not r.get("online")]
    watcher.close()
    T.eq(said, ["stopped"], "n1's status says stopped, and no will follows")
    cp.start()
    T.eq(wait_online(cl, ("n1",)), [], "n1 back")
    T.eq([cl.request("mfwd/%s/cmd" % n, "node.info")["result"]["failover"]["moved"]
          for n in ("n2", "n3")], moved, "nobody took a session of n1, stopped")
    fo = cl.request("mfwd/n1/cmd", "node.info")["result"]["failover"]
    inc = rec.get("inc", "")
    T.check(len(inc) == 16, "n1's record names its session's incarnation: %r" % inc)
    other = "%016x" % (int(inc or "0", 16) ^ 1)
    old = json.dumps(dict(rec, inc=other), separators=(",", ":"))
    for i, text in enumerate(('{"v":1,"moved_to":"n2","inc":"%s"}' % other, old)):
        cl.c.publish(topic, text, qos=1, retain=True, properties=signed(topic, text))
        T.check(until(lambda: cl.request("mfwd/n1/cmd", "node.info")["result"]["failover"]
                      ["stale"] == fo["stale"] + i + 1), "n1 counts the %s of another "
                "incarnation (stale)" % ("mark", "record")[i])
        now = until(lambda: records(broker, topic).get(("n1", sid), {}).get("inc") == inc)
        T.check(now, "n1 published its own record again over the %s" % ("mark", "record")[i])
    T.check(sid in holdings(cl, NODES)["n1"], "n1 still holds %s" % sid)
    T.eq(cl.request("mfwd/n1/cmd", "node.info")["result"]["failover"]["gone"], fo["gone"],
         "a replayed mark deleted nothing")
    ghost = rtopic("n1", "ghost")
    text = json.dumps(dict(rec, spec=dict(rec.get("spec", {}), id="ghost")),
                      separators=(",", ":"))
    cl.c.publish(ghost, text, qos=1, retain=True, properties=signed(ghost, text))
    T.check(until(lambda: records(broker, ghost) == {}), "a signed record of a session n1 "
            "does not hold, published on its records, cleared (else taken over at its death)")


def late_mark(broker, cl, cp, took):
    """n1's lookup is over (lost() saw every node publish its records again); n2, say,
    took one of n1's sessions over only now: its mark reaches n1, which deletes the
    session then. Before, what n1 must not believe: a mark not signed, and signed ones of
    another incarnation (replayed())."""
    sid = sorted(k for k, v in took.items() if v == "n1")[0]
    topic = rtopic("n1", sid)
    rec = records(broker, topic).get(("n1", sid), {})
    mark = '{"v":1,"moved_to":"n2","inc":"%s"}' % rec.get("inc", "")
    watcher = Client(broker)
    watcher.subscribe("mfwd/n1/event/session.gone")
    time.sleep(1)		# n1's watch of its records, asked for as its lookup ended
    fo = cl.request("mfwd/n1/cmd", "node.info")["result"]["failover"]
    cl.c.publish(topic, mark, qos=1, retain=True)
    evs = watcher.collect_until("mfwd/", lambda m: len(m) >= 1, timeout=3)
    T.eq(evs, [], "an unsigned mark deletes nothing")
    T.check(sid in holdings(cl, NODES)["n1"], "n1 still holds %s" % sid)
    r = cl.request("mfwd/n1/cmd", "node.info")
    T.eq(r["result"]["failover"]["unsigned"], fo["unsigned"] + 1,
         "n1's node.info counts the mark it did not believe")
    rec = records(broker, topic).get(("n1", sid), {})
    T.check("spec" in rec, "n1 published its record again over it: %s" % str(rec)[:120])
    replayed(broker, cl, cp, sid, topic, rec)
    before = fo["gone"]
    cl.c.publish(topic, mark, qos=1, retain=True, properties=signed(topic, mark))
    evs = watcher.collect_until("mfwd/", lambda m: len(m) >= 1, timeout=10)
    T.eq([e["session"] for _, e, _ in evs if e], [sid],
         "n1 deleted %s when an heir's mark came after its lookup" % sid)
    T.check(sid not in holdings(cl, NODES)["n1"], "n1 no longer holds it")
    r = cl.request("mfwd/n1/cmd", "node.info")
    T.eq(r["result"]["failover"]["gone"], before + 1, "n1's node.info counts it")
    T.eq(records(broker, topic), {}, "its mark cleared as n1 deleted it")
    del took[sid]
    watcher.close()


def oversized(cl, topic, nodes, cps):
    """A message over max_payload (1 MiB) where failover reads refusals while a dead node is
    read: kept as its length alone, ignored, and nothing written past it (the wipe of a
    record's keys overran it: every reader crashed)."""
    cl.publish(topic, b"x" * ((1 << 20) + 4096), qos=1).wait_for_publish(10)
    for n in nodes:
        r = cl.request("mfwd/%s/cmd" % n, "node.info")
        T.check(r is not None and r["ok"], "%s answers after %s over max_payload" % (n, topic))
    T.check(all("over max_payload, not read" in c.tail(400) for c in cps),
            "and each says it did not read it")


def main():
    keys = keys_file([("acme", KEY, False), ("nodes", NODE_KEY, True)])
    with contextlib.ExitStack() as stack:
        topos = tuple(stack.enter_context(Topology("fo%d" % i, index=i)) for i in (1, 2))
        broker = stack.enter_context(Broker())
        dps = [stack.enter_context(Dataplane("fo%d" % (i + 1), t.ports_conf(),
                                             lcores="0@0,1@1"))
               for i, t in enumerate(topos)]
        dps.append(stack.enter_context(pcap_dataplane("fo3", lcores="0@0,1@1")))
        cps = [ControlPlane(broker, n, d.instance, failover=True, reply_timeout_ms=2500,
                            failover_forget_s=FORGET_S,
                            limits={"max_sessions": N1_MAX if n == "n1" else 300},
                            auth={"keys_file": keys, "required": False,
                                  "node_tenant": "nodes"})
               for n, d in zip(NODES, dps)]
        with cps[0], cps[1], cps[2]:
            cl = Client(broker)
            T.eq(wait_online(cl, NODES), [], "every node online")
            took, _ = populate(cl, broker)
            moved = kill_n3(broker, cl, dps, cps, took, topos)
            oversized(cl, "mfwd/n1/event/session.move_failed", ("n1", "n2"), cps[:2])
            back(broker, cl, dps, cps, moved, took)
            cl = lost(broker, cl, took)
            late_mark(broker, cl, cps[0], took)
            gained(broker, cl, dps, cps)
            forgotten(broker, cl, dps, cps)
            cl.close()
            if T.failed:
                for c in cps:
                    print("--- %s\n%s" % (c.node, c.tail(30)))
    T.done()


if __name__ == "__main__":
    main()
