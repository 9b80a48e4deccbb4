#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""Placement through the pool: three nodes (pcap dataplanes, control planes n1-n3, 150
sessions each) share mfwd/pool/cmd through an MQTT shared subscription; the node the broker
gives a session.create places it on the registry's least loaded node (docs/cluster.md).

- 300 creates in flight at once: every reply names a node, the nodes hold within 20 % of
  100 each, each exactly the sessions its replies named, none twice;
- signed requests (tenant acme) placed on other nodes are accepted there, the sessions
  acme's; a wrong signature is refused wherever it lands;
- a status of garbage and a node that lies (fresh, idle, room for 100,000, but nobody
  behind it): the garbage changes nothing; requests placed on the liar are answered
  "timeout" naming it, then it is passed over: the same requests sent again, and more,
  are created, each once;
- node.info counts what was placed on other nodes and the timeouts;
- the cluster filled past its 450 sessions: exactly 450 held, the rest refused "capacity",
  nothing lost or doubled;
- a create_many is placed whole;
- a create, a create_many and an atomic one too big for n1 (its bit rate limit), placed
  on it first, are placed again whole on another node;
- a pool request sent to a node as if another had placed it, without the placing node's
  MAC (the nodes have a node tenant), is checked as sent and refused;
- n3's control plane killed: its will comes, and 12 pool creates are all answered, on n1
  (the broker gives none to the dead node's pool connection, which had no session).
"""
import json
import os
import sys
import time
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cpharness import (Broker, Checks, Client, ControlPlane, PacketTypes,  # noqa: E402
                       Properties, in_flight, keys_file, pcap_dataplane, sign, wait_online,
                       wait_status)

T = Checks("cp_pool")
NODES = ("n1", "n2", "n3")
PER_NODE = 150
N1_KBPS = 400000	# n1 alone has a bit rate limit: room for its 150 sessions of 2000
POOL = "mfwd/pool/cmd"
KEY, NODES_KEY = os.urandom(32), os.urandom(32)


def spec(i):
    return {"id": "p%d" % i, "kind": "udp",
            "ingress": {"port": 0, "addr": "10.99.1.2", "udp_port": 5000 + i},
            "outputs": [{"port": 1, "addr": "10.99.2.1", "udp_port": 6000}]}


def holdings(cl):
    held = {}
    for n in NODES:
        r = cl.request("mfwd/%s/cmd" % n, "session.list", {"limit": 1000})
        T.check(r is not None and r["ok"], "session.list on %s: %s" % (n, r))
        held[n] = sorted(r["result"]["sessions"]) if r and r["ok"] else []
    return held


def check_held(cl, took, what):
    """Each node holds exactly what its replies said, nothing twice."""
    held = holdings(cl)
    for n in NODES:
        mine = sorted(k for k, v in took.items() if v == n)
        T.check(held[n] == mine, "%s: %s holds exactly the %d sessions it said it took "
                "(holds %d)" % (what, n, len(mine), len(held[n])))
    every = [s for n in NODES for s in held[n]]
    T.eq(len(every), len(set(every)), "%s: no session on two nodes" % what)
    return held


def spread(cl, took):
    got = in_flight(cl, POOL, [spec(i) for i in range(300)])
    T.eq(len(got), 300, "300 placed creates answered")
    bad = {k: v for k, v in got.items() if not v.get("ok")}
    T.check(not bad, "every placed create succeeded: %s" % list(bad.items())[:3])
    for k, v in got.items():
        if v.get("ok"):
            took[k] = v["node"]
    count = {n: sum(1 for v in got.values() if v.get("node") == n) for n in NODES}
    print("spread of 300: %s; placement %s" % (count, placement(cl)))
    T.check(all(80 <= c <= 120 for c in count.values()),
            "300 sessions within 20 %% of even over three nodes: %s" % count)
    check_held(cl, took, "after 300")


def placement(cl):
    """node.info's placement counters, summed over the nodes."""
    tot = {}
    for n in NODES:
        r = cl.request("mfwd/%s/cmd" % n, "node.info")
        for k, v in (r["result"]["placement"] if r and r["ok"] else {}).items():
            tot[k] = tot.get(k, 0) + v
    return tot


def signed(cl, took):
    """Signed for the pool topic: valid on whichever node it is placed."""
    nodes = set()
    before = placement(cl)
    for i in range(6):
        sid = "acme%d" % i
        r = cl.signed(POOL, "acme", KEY, "session.create", dict(spec(900 + i), id=sid))
        T.check(r is not None and r["ok"], "signed create %s placed: %s" % (sid, r))
        if r and r["ok"]:
            took[sid] = r["node"]
            nodes.add(r["node"])
            g = cl.signed("mfwd/%s/cmd" % r["node"], "acme", KEY, "session.get", {"id": sid})
            T.check(g is not None and g["ok"], "%s is acme's on %s: %s" % (sid, r["node"], g))
    after = placement(cl)
    T.check(after["relayed"] > before["relayed"],
            "some signed creates were placed on another node than took them: %s" % after)
    r = cl.signed(POOL, "acme", KEY, "session.create", dict(spec(910), id="forged"),
                  sign_topic="mfwd/n1/cmd")
    T.check(r is not None and not r["ok"] and r["error"]["code"] == "bad_signature",
            "a signature for another topic refused wherever placed: %s" % r)
    # A request signed for the pool, sent to n1 as if n2 had placed it there, without n2's
    # MAC: checked as sent to n1's topic, refused; its answer is not a placed one's.
    body = json.dumps({"v": 1, "id": "claimed", "cmd": "session.create",
                       "args": dict(spec(911), id="claimed")}).encode()
    ts, nonce = int(time.time()), uuid.uuid4().hex
    props = Properties(PacketTypes.PUBLISH)
    props.ResponseTopic = "mfwd/n2/place/reply"
    props.CorrelationData = b"0123456789abcdef"
    props.UserProperty = [("mfwd-tenant", "acme"), ("mfwd-ts", str(ts)), ("mfwd-nonce", nonce),
                          ("mfwd-sig", sign(KEY, POOL, "acme", ts, nonce, body,
                                            cl.reply_topic)),
                          ("mfwd-placed", cl.reply_topic), ("mfwd-placer", "0" * 64)]
    cl.subscribe("mfwd/n2/place/reply")
    cl.c.publish("mfwd/n1/cmd", body, qos=1, properties=props)
    got = cl.collect_until("mfwd/n2/place/reply", lambda m: len(m) > 0, timeout=5)
    r = got[0][1] if got else None
    T.check(r is not None and not r["ok"] and r["error"]["code"] == "bad_signature",
            "a claimed placement without the placing node's MAC refused: %s" % r)


def again(cl, took):
    """Refused for their size by the node placed on first (n1: all are empty, and ties go by
    name), a create, a create_many and an atomic one are placed again, whole, elsewhere."""
    before = placement(cl)["again"]

    def big(i):
        return dict(spec(i), limits={"max_kbps": N1_KBPS + 1000})
    r = cl.request(POOL, "session.create", big(930), timeout=10)
    T.check(r is not None and r["ok"] and r["node"] != "n1",
            "a create too big for n1 placed on another node: %s" % r)
    if r and r["ok"]:
        took["p930"] = r["node"]
    for atomic, base in ((False, 931), (True, 934)):
        r = cl.request(POOL, "session.create_many", {"atomic": atomic, "sessions":
                       [big(base + i) for i in range(3)]}, timeout=10)
        T.check(r is not None and r["ok"] and r["result"]["created"] == 3 and
                r["node"] != "n1", "a create_many (atomic: %s) too big for n1 placed whole "
                "on another node: %s" % (atomic, r))
        if r and r["ok"]:
            for x in r["result"]["results"]:
                took[x["session"]] = r["node"]
    n = placement(cl)["again"] - before
    # n1 is tried first each time: the sessions counted on it at the refusal are taken back.
    T.eq(n, 3, "n1's three refusals were placed again")


def many(cl, took):
    """A create_many is placed whole, on one node."""
    r = cl.request(POOL, "session.create_many",
                   {"sessions": [spec(920 + i) for i in range(4)]}, timeout=10)
    T.check(r is not None and r["ok"] and r["result"]["created"] == 4 and
            {x["node"] for x in r["result"]["results"]} == {r["node"]},
            "create_many placed whole: %s" % r)
    if r and r["ok"]:
        for x in r["result"]["results"]:
            took[x["session"]] = r["node"]


def liar(cl, took):
    cl.c.publish("mfwd/bogus/status", b"\x00garbage{", qos=1, retain=True)
    st = wait_status(cl, "n1", lambda s: s["online"])
    fake = dict(st, node="liar", sessions=0, outputs=0, time_ms=int(time.time() * 1000))
    fake["capacity"] = dict(st["capacity"], max_sessions=100000, sessions_free=100000)
    cl.c.publish("mfwd/liar/status", json.dumps(fake), qos=1, retain=True)
    time.sleep(1)
    ids = list(range(300, 312))
    got = in_flight(cl, POOL, [spec(i) for i in ids], timeout=30)
    T.eq(len(got), len(ids), "creates with a liar in the registry all answered")
    late = [k for k, v in got.items() if not v.get("ok")]
    T.check(all(got[k]["error"]["code"] == "timeout" and "liar" in got[k]["error"]["message"]
                for k in late), "what the liar took is answered timeout naming it: %s"
            % [got[k] for k in late][:2])
    T.check(len(late) >= 1, "the liar was placed on (%d timeouts)" % len(late))
    T.eq(placement(cl)["timeouts"], len(late), "node.info counts the timeouts")
    for k, v in got.items():
        if v.get("ok"):
            took[k] = v["node"]
            T.check(v["node"] in NODES, "%s on a real node: %s" % (k, v["node"]))
    more = list(range(312, 324))
    again = in_flight(cl, POOL, [spec(int(k[1:])) for k in late] + [spec(i) for i in more],
                      timeout=30)
    T.check(all(v.get("ok") and v["node"] in NODES for v in again.values()) and
            len(again) == len(late) + len(more), "then the liar is passed over: the "
            "timed-out creates sent again and %d more are created: %s"
            % (len(more), [v for v in again.values() if not v.get("ok")][:2]))
    for k, v in again.items():
        if v.get("ok"):
            took[k] = v["node"]
    cl.c.publish("mfwd/liar/status", b"", qos=1, retain=True)
    cl.c.publish("mfwd/bogus/status", b"", qos=1, retain=True)
    check_held(cl, took, "after the liar")


def fill(cl, took):
    have = len(took)
    extra = len(NODES) * PER_NODE - have + 20
    got = in_flight(cl, POOL, [spec(1000 + i) for i in range(extra)])
    T.eq(len(got), extra, "%d creates past the cluster's room answered" % extra)
    ok = {k: v["node"] for k, v in got.items() if v.get("ok")}
    refused = sorted(set(v["error"]["code"] for v in got.values() if not v.get("ok")))
    T.eq(len(ok), extra - 20, "the cluster took what it had room for")
    T.eq(refused, ["capacity"], "the rest refused: capacity")
    took.update(ok)
    held = check_held(cl, took, "full")
    T.eq([len(held[n]) for n in NODES], [PER_NODE] * len(NODES), "every node full")


def dead(cl, cps, took):
    """A node killed (its control plane, SIGKILL): the broker forgets its pool connection,
    so none of the pool's requests wait for it, and none is placed on it (its will)."""
    cps[2].kill()
    T.check(wait_status(cl, "n3", lambda s: not s["online"]) is not None, "n3's will")
    mine = [k for k, v in took.items() if v == "n1"][:12]
    r = cl.request("mfwd/n1/cmd", "session.delete_many", {"ids": mine})
    T.check(r is not None and r["ok"] and r["result"]["deleted"] == 12,
            "12 sessions deleted on n1: %s" % r)
    for k in mine:
        took.pop(k, None)
    time.sleep(1)	# n1's status says so
    got = in_flight(cl, POOL, [spec(2000 + i) for i in range(12)], timeout=20)
    T.eq(len(got), 12, "with n3 dead, every pool request answered")
    T.check(all(v.get("ok") and v["node"] == "n1" for v in got.values()),
            "each created on n1, the only one with room: %s"
            % [v for v in got.values() if not v.get("ok") or v["node"] != "n1"][:2])


def main():
    dps = [pcap_dataplane("pool%d" % i, lcores="0@0,1@1") for i in range(1, 4)]
    keys = keys_file([("acme", KEY, False), ("nodes", NODES_KEY, True)])
    with dps[0], dps[1], dps[2], Broker() as broker:
        cps = [ControlPlane(broker, n, d.instance,
                            limits=dict({"max_sessions": PER_NODE},
                                        **({"max_kbps": N1_KBPS} if n == "n1" else {})),
                            reply_timeout_ms=2500,
                            auth={"keys_file": keys, "required": False, "node_tenant": "nodes"})
               for n, d in zip(NODES, dps)]
        with cps[0], cps[1], cps[2]:
            cl = Client(broker)
            T.eq(wait_online(cl, NODES), [], "every node online")
            took = {}
            again(cl, took)
            spread(cl, took)
            signed(cl, took)
            many(cl, took)
            liar(cl, took)
            fill(cl, took)
            dead(cl, cps, took)
            cl.close()
    T.eq([d.rc for d in dps], [0, 0, 0], "dataplanes exited cleanly")
    T.done()


if __name__ == "__main__":
    main()
