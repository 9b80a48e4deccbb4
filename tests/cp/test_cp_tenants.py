#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""Signed commands and tenants (docs/control-api.md, "Signed commands and tenants").

A control plane with a keys file of three tenants (acme with quotas, globex without, ops an
admin) that refuses unsigned commands. Each refusal is checked by its code and by the node's
sessions staying as they were (the admin's list):
- a keys file others can read is refused at start;
- unsigned, malformed, unknown tenant, wrong key, another topic's signature, an altered
  body, a timestamp 60 s old or ahead, a nonce used again (the same bytes resent);
- another tenant's session is not found for get, update, capture, delete and delete_many,
  and not listed; node.drain and node.stats are an admin's;
- quotas: sessions, outputs (an update adding one), declared kbit/s; another tenant is not
  held by them;
- the envelope form over MQTT 3.1.1, a request id reused by another tenant answered anew;
- node.info: the caller's use and quotas, and for the admin the refusals counted by code;
- after a restart the journal keeps each session's owner and the quotas hold;
- a signed request sent again is answered with its first reply; once 1,100 others have
  pushed its id out of the replies kept, its nonce refuses it (replayed); so is a retry
  signed again (a new nonce) that was answered with the first's reply; that refusal is not
  kept as the id's reply, nor taken for the reply of a retry in the same batch;
- replies asked for on another topic than the signed one, a timestamp from before a
  restart: refused;
- a tenant with a bit-rate quota: a session declaring none is limited to the default;
- a node remembering 1,024 nonces with a window of 5 s: a tenant has half of them (512 in
  a burst answered, the 513th refused as replay_cache_full), another tenant still gets the
  other half, and once the window has passed twice over (the nonces forgotten, the ring
  wrapped) 512 more are answered;
- rooms: another tenant's room is not found for room.get, room.delete, stream.publish,
  subscribe and unpublish, and not listed; the admin lists it, and a stream it publishes
  there is globex's;
- tokens: a device publishes and a browser views with a token (token.create, or made by
  the tenant as documented), holding no key; refused when its uses are spent (also after a
  restart), expired, for another room or stream, for another role or command, altered, or
  signed with another tenant's key; a token ends only the viewers it made; a token id issued
  again with a later expiry keeps the uses spent under it after the first expires;
- a tenant taken out of the keys file cannot sign; its sessions stay, the admin's;
- the log names the tenant of a refusal and never holds a key.
"""
import base64
import hashlib
import hmac
import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cpharness import (CONTROLPLANE, Broker, Checks, Client, ControlPlane,  # noqa: E402
                       pcap_dataplane, replies, sign, wait_status)

T = Checks("cp_tenants")
CMD = "mfwd/n1/cmd"
HERE = os.path.dirname(os.path.abspath(__file__))
with open(os.path.join(HERE, "..", "unit", "sdp", "chromium-view.sdp")) as f:
    OFFER = f.read()  # a browser's recvonly offer, recorded
WINDOW = 5  # seconds, in the nonce ring's phase
KEYS = {"acme": os.urandom(32), "globex": os.urandom(32), "ops": os.urandom(32)}


def spec(sid, udp_port, outputs=1, kbps=None):
    s = {"id": sid, "kind": "udp",
         "ingress": {"port": 0, "addr": "10.99.1.2", "udp_port": udp_port},
         "outputs": [{"port": 1, "addr": "10.99.2.1", "udp_port": 6000 + i}
                     for i in range(outputs)]}
    if kbps is not None:
        s["limits"] = {"max_kbps": kbps}
    return s


def keys_file(d, mode, without=()):
    path = os.path.join(d, "tenants.json")
    tenants = [{"name": "acme", "key": base64.b64encode(KEYS["acme"]).decode(),
                "max_sessions": 2, "max_outputs": 3, "max_kbps": 5000},
               {"name": "globex", "key": base64.b64encode(KEYS["globex"]).decode()},
               {"name": "ops", "key": base64.b64encode(KEYS["ops"]).decode(), "admin": True}]
    tenants = [t for t in tenants if t["name"] not in without]
    with open(path, "w") as f:
        json.dump({"tenants": tenants}, f)
    os.chmod(path, mode)
    return path


class Tenants:
    def __init__(self, c):
        self.c = c

    def run(self, who, cmd, args=None, **kw):
        return self.c.signed(CMD, who, KEYS[who], cmd, args, **kw)

    def sessions(self):
        r = self.run("ops", "session.list", {"limit": 1000})
        return sorted(r["result"]["sessions"]) if r and r.get("ok") else None


def refused(r, code, what):
    T.check(r is not None and not r.get("ok") and r["error"]["code"] == code,
            "%s: %s (%s)" % (what, code, r))


def check_start_refusals(broker, dpl, d):
    loose = keys_file(d, 0o644)
    cfg = os.path.join(d, "loose.json")
    with open(cfg, "w") as f:
        json.dump({"node": "n9", "instance": dpl.instance, "journal_dir": d + "/j9",
                   "broker": "tcp://127.0.0.1:%d" % broker.port,
                   "auth": {"keys_file": loose}}, f)
    p = subprocess.run([CONTROLPLANE, "--config", cfg], capture_output=True, text=True,
                       timeout=20)
    T.check(p.returncode == 2 and "chmod 600" in p.stderr,
            "a keys file others can read is refused (%d: %s)" % (p.returncode,
                                                                p.stderr.strip()))
    os.chmod(loose, 0o600)


def check_signatures(t, c, counts):
    before = t.sessions()
    refused(c.request(CMD, "session.create", spec("u1", 5001)), "unsigned", "unsigned")
    counts["unsigned"] += 1
    refused(c.signed(CMD, "acme", KEYS["globex"], "session.create", spec("w1", 5002)),
            "bad_signature", "acme signed with globex's key")
    refused(c.signed(CMD, "acme", KEYS["acme"], "session.create", spec("w2", 5003),
                     sign_topic="mfwd/n2/cmd"), "bad_signature", "signed for another node")
    refused(c.signed(CMD, "acme", KEYS["acme"], "session.create", spec("w3", 5004),
                     send_body=json.dumps({"v": 1, "id": "x", "cmd": "session.create",
                                           "args": spec("w3", 5005)}).encode()),
            "bad_signature", "body altered after signing")
    counts["bad_signature"] += 3
    refused(c.signed(CMD, "nobody", KEYS["acme"], "session.list"), "unknown_tenant",
            "unknown tenant")
    counts["unknown_tenant"] += 1
    refused(c.signed(CMD, "acme", KEYS["acme"], "session.list", sign_response="test/other"),
            "bad_signature", "replies asked on a topic other than the one signed")
    counts["bad_signature"] += 1
    refused(c.signed(CMD, "acme", KEYS["acme"], "session.list", nonce="short"), "bad_auth",
            "a nonce of 5 characters")
    counts["bad_auth"] += 1
    for skew in (-60, 60):
        refused(c.signed(CMD, "acme", KEYS["acme"], "session.create", spec("w4", 5006),
                         ts=int(time.time()) + skew), "stale", "timestamp %+d s" % skew)
        counts["stale"] += 1
    T.eq(t.sessions(), before, "no refusal changed the sessions")
    r = t.run("acme", "session.create", spec("a1", 5010))
    T.check(r is not None and r.get("ok"), "acme creates a1: %s" % r)
    T.eq(c.resend(CMD), r, "the same signed create sent again: its first reply")
    T.eq(t.sessions(), sorted(before + ["a1"]), "a1 once")
    # Once the request ids have moved on, only the nonce knows the request was done.
    T.eq(burst(c, 1100, "ops"), {"ok": 1100}, "1,100 other requests")
    refused(c.resend(CMD), "replayed", "the same signed create after them")
    counts["replayed"] += 1
    T.eq(t.sessions(), sorted(before + ["a1"]), "still a1 once")
    # A retry signed again (the same id, a new nonce) gets the first's reply, and its nonce
    # is spent too: its bytes, replayed once the id has moved on, do not run. Nor is that
    # refusal kept as the id's reply: a request under the id runs.
    first = t.run("acme", "session.get", {"id": "a1"}, rid="rt1")
    T.check(first is not None and first.get("ok"), "acme gets a1 (rt1): %s" % first)
    T.eq(t.run("acme", "session.get", {"id": "a1"}, rid="rt1"), first,
         "rt1 signed again: the first's reply")
    T.eq(burst(c, 1100, "ops"), {"ok": 1100}, "1,100 other requests")
    refused(c.resend(CMD), "replayed", "the retry's bytes after them")
    counts["replayed"] += 1
    r = t.run("acme", "session.get", {"id": "a1"}, rid="rt1")
    T.check(r is not None and r.get("ok"), "rt1 signed anew after the replay runs: %s" % r)


def replay_and_retry_in_a_batch(t, c, dpl, broker, counts):
    """A request's first bytes again (their id forgotten, their nonce spent: replayed) and
    its retry signed anew, in one batch (they queue while the control plane waits on a
    stopped dataplane): the retry is no repeat of that refusal, and runs."""
    r = t.run("acme", "session.get", {"id": "a1"}, rid="rt2")
    T.check(r is not None and r.get("ok"), "acme gets a1 (rt2): %s" % r)
    first = c.last
    T.eq(burst(c, 1100, "ops"), {"ok": 1100}, "1,100 other requests")
    again = signed_bytes(c, "acme", "session.get", {"id": "a1"}, "rt2")
    other, upd = Client(broker), []
    os.kill(dpl.proc.pid, signal.SIGSTOP)
    try:
        waiter = threading.Thread(target=lambda: upd.append(other.signed(
            CMD, "ops", KEYS["ops"], "session.update", {"id": "a1", "resume": ["0"]},
            timeout=30)))
        waiter.start()
        time.sleep(0.5)		# the update reaches the control plane, which waits
        corrs = [uuid.uuid4().bytes, uuid.uuid4().bytes]
        for corr, (payload, user) in zip(corrs, (first, again)):
            c.publish(CMD, payload, corr=corr, user=user)
        time.sleep(1)
    finally:
        os.kill(dpl.proc.pid, signal.SIGCONT)
    waiter.join(40)
    got = {corrs.index(k): r for k, r in replies(c, corrs, 20).items()}
    codes = [got.get(i, {}).get("error", {}).get("code", "ok" if got.get(i) else None)
             for i in range(2)]
    T.eq(codes, ["replayed", "ok"], "in one batch: the old bytes replayed, the retry run "
         "(%s)" % [got.get(i) for i in range(2)])
    counts["replayed"] += 1
    T.check(upd and upd[0] and upd[0].get("ok"), "the update answered: %s" % upd)
    other.close()
    r = t.run("acme", "session.get", {"id": "a1"})
    T.check(r is not None and r.get("ok") and
            r["result"]["spec"].get("limits", {}).get("max_kbps") == 2000,
            "acme has a bit-rate quota: a1 without a limit gets the default (%s)" % r)


def check_isolation(t, counts):
    r = t.run("globex", "session.create", spec("g1", 5020))
    T.check(r is not None and r.get("ok"), "globex creates g1: %s" % r)
    for cmd, args in (("session.get", {"id": "a1"}),
                      ("session.update", {"id": "a1", "block": True}),
                      ("session.capture", {"id": "a1", "seconds": 1}),
                      ("session.delete", {"id": "a1"})):
        refused(t.run("globex", cmd, args), "not_found", "globex %s of acme's a1" % cmd)
    r = t.run("globex", "session.delete_many", {"ids": ["a1", "g-none"]})
    T.check(r is not None and r.get("ok") and r["result"]["deleted"] == 0 and
            r["result"]["results"][0]["error"]["code"] == "not_found",
            "globex delete_many of a1: not found (%s)" % r)
    r = t.run("globex", "session.list")
    T.check(r is not None and r["result"]["sessions"] == ["g1"] and r["result"]["total"] == 1,
            "globex lists only g1: %s" % r)
    r = t.run("acme", "session.get", {"id": "a1"})
    T.check(r is not None and r.get("ok") and not r["result"]["spec"].get("blocked", False),
            "acme's a1 is there, not blocked: %s" % r)
    for cmd in ("node.drain", "node.stats"):
        refused(t.run("globex", cmd), "forbidden", "globex %s" % cmd)
        counts["forbidden"] += 1
    r = t.run("ops", "node.stats")
    T.check(r is not None and r.get("ok"), "the admin's node.stats")
    T.eq(t.sessions(), ["a1", "g1"], "the admin sees both tenants' sessions")


def check_quotas(t, counts):
    refused(t.run("acme", "session.create", spec("a2", 5011, outputs=2, kbps=4000)),
            "over_quota", "acme over 5000 kbit/s (2000 + 4000)")
    r = t.run("acme", "session.create", spec("a2", 5011, outputs=2))
    T.check(r is not None and r.get("ok"), "acme's second session (3 outputs, 4000 kbit/s)")
    refused(t.run("acme", "session.create", spec("a3", 5012)), "over_quota",
            "acme's third session over its 2")
    refused(t.run("acme", "session.update", {"id": "a1", "add_outputs": [
        {"id": "more", "port": 1, "addr": "10.99.2.1", "udp_port": 6100}]}),
        "over_quota", "acme's fourth output over its 3")
    counts["over_quota"] += 3
    for i in range(3):
        r = t.run("globex", "session.create", spec("g%d" % (i + 2), 5030 + i, outputs=2))
        T.check(r is not None and r.get("ok"), "globex is not held by acme's quota (%d)" % i)
    info = t.run("acme", "node.info")
    me = info["result"]["auth"]["caller"] if info and info.get("ok") else {}
    T.check(me.get("name") == "acme" and me.get("sessions") == 2 and me.get("outputs") == 3
            and me.get("kbps") == 4000 and me["quota"]["max_sessions"] == 2 and
            "tenants" not in info["result"]["auth"],
            "acme's node.info: its own use and quotas only (%s)" % info)


def check_envelope(broker, t, counts):
    c4 = Client(broker, v5=False)
    r = c4.signed(CMD, "globex", KEYS["globex"], "session.delete", {"id": "g4"})
    T.check(r is not None and r.get("ok"), "MQTT 3.1.1 envelope: globex deletes g4 (%s)" % r)
    refused(c4.signed(CMD, "globex", KEYS["acme"], "session.delete", {"id": "g3"}),
            "bad_signature", "MQTT 3.1.1 envelope under a wrong key")
    counts["bad_signature"] += 1
    r = t.c.signed(CMD, "ops", KEYS["ops"], "session.list", envelope=True)
    T.check(r is not None and r.get("ok"), "MQTT 5 envelope (no user properties)")
    c4.close()
    ra = t.run("acme", "session.list", rid="same-id")
    rg = t.run("globex", "session.list", rid="same-id")
    T.check(ra is not None and rg is not None and ra["result"]["sessions"] == ["a1", "a2"] and
            rg["result"]["sessions"] == ["g1", "g2", "g3"],
            "one request id, two tenants: each its own answer (%s / %s)" % (ra, rg))


def check_counts(t, counts):
    info = t.run("ops", "node.info")
    auth = info["result"]["auth"] if info and info.get("ok") else {}
    T.eq(auth.get("refused"), dict(counts, replay_cache_full=0, bad_token=0, token_expired=0,
                                   token_used_up=0, token_scope=0), "refusals counted by code")
    names = [x["name"] for x in auth.get("tenants", [])]
    T.eq(names, ["operator", "acme", "globex", "ops"], "the admin sees every tenant")


def check_rooms(t):
    r = t.run("globex", "room.create", {"room": "gx"})
    T.check(r is not None and r.get("ok"), "globex creates room gx")
    r = t.run("globex", "stream.publish", {"room": "gx", "stream": "cam/1", "media": [
        {"kind": "video", "codec": "h264", "pt": 96, "profile": 66}]})
    T.check(r is not None and r.get("ok"), "globex publishes cam/1 in gx: %s" % r)
    refused(t.run("acme", "room.get", {"room": "gx"}), "not_found", "acme room.get of gx")
    refused(t.run("acme", "stream.publish", {"room": "gx", "stream": "x", "media": [
        {"kind": "video", "codec": "h264", "pt": 96, "profile": 66}]}), "not_found",
        "acme publishes in gx")
    refused(t.run("acme", "stream.subscribe", {"room": "gx", "stream": "cam/1", "sdp": "v=0"}),
            "not_found", "acme subscribes in gx")
    refused(t.run("acme", "stream.unpublish", {"room": "gx", "stream": "cam/1"}), "not_found",
            "acme unpublishes in gx")
    refused(t.run("acme", "room.delete", {"room": "gx"}), "not_found", "acme deletes gx")
    r = t.run("acme", "room.list")
    T.check(r is not None and r.get("ok") and r["result"]["rooms"] == [],
            "acme lists no room: %s" % r)
    r = t.run("ops", "room.list")
    T.check(r is not None and [x["room"] for x in r["result"]["rooms"]] == ["gx"],
            "the admin lists gx: %s" % r)
    # The admin publishes into globex's room: the session is globex's (before, the admin's:
    # its quota, and a restart dropped the stream from the room, the session kept).
    r = t.run("ops", "stream.publish", {"room": "gx", "stream": "cam/2", "media": [
        {"kind": "video", "codec": "h264", "pt": 96, "profile": 66}]})
    T.check(r is not None and r.get("ok"), "the admin publishes cam/2 in gx: %s" % r)
    sid = (r or {}).get("result", {}).get("session")
    r = t.run("globex", "session.get", {"id": sid})
    T.check(r is not None and r.get("ok"), "its session is globex's: %s" % r)
    r = t.run("globex", "room.delete", {"room": "gx"})
    T.check(r is not None and r.get("ok") and r["result"]["streams"] == 2,
            "globex deletes gx and its streams: %s" % r)


def mint(who, payload):
    """A token made as docs/control-api.md says, without the node."""
    body = base64.b64encode(json.dumps(payload).encode()).decode()
    mac = hmac.new(KEYS[who], b"mfwd-token-v1\n" + body.encode(), hashlib.sha256).hexdigest()
    return body + "." + mac


def bearer(c, cmd, args, token):
    """An unsigned request with a token, as a browser or a device sends it."""
    return c.request(CMD, cmd, dict(args, token=token))


def check_tokens(t, c):
    """globex's backend makes tokens; a device and browsers use them, holding no key."""
    T.check(t.run("globex", "room.create", {"room": "live"})["ok"], "globex's room live")
    T.check(t.run("globex", "room.create", {"room": "other"})["ok"], "globex's room other")
    r = t.run("globex", "token.create", {"room": "live", "stream": "cam/1",
                                         "role": "publisher", "uses": 1, "ttl_s": 600})
    T.check(r is not None and r.get("ok"), "token.create: %s" % r)
    pub = r["result"]["token"] if r and r.get("ok") else ""
    plain = {"room": "live", "stream": "cam/1", "media": [{"kind": "video", "codec": "h264",
                                                           "pt": 96, "profile": 66}]}
    r = bearer(c, "stream.publish", plain, pub)
    T.check(r is not None and r.get("ok"), "a device publishes with its token: %s" % r)
    refused(bearer(c, "stream.publish", dict(plain, stream="cam/2"), pub), "token_scope",
            "a publisher's token for another stream")
    T.check(bearer(c, "stream.unpublish", {"room": "live", "stream": "cam/1"}, pub)["ok"],
            "the device unpublishes (spends nothing)")
    refused(bearer(c, "stream.publish", plain, pub), "token_used_up", "its one use spent")
    T.check(t.run("globex", "stream.publish", plain)["ok"], "globex publishes cam/1 itself")
    refused(bearer(c, "stream.unpublish", {"room": "live", "stream": "cam/1"}, pub),
            "token_scope", "the device's token cannot unpublish what it did not publish")
    view = mint("globex", {"tenant": "globex", "id": "browser-7", "room": "live",
                           "role": "viewer", "exp": int(time.time()) + 600, "uses": 2})
    sub = {"room": "live", "stream": "cam/1", "sdp": OFFER}
    viewers = []
    for i in range(2):
        r = bearer(c, "stream.subscribe", sub, view)
        T.check(r is not None and r.get("ok"), "a browser views with a minted token (%d): %s"
                % (i, r and r.get("error")))
        viewers.append(r["result"]["viewer"] if r and r.get("ok") else "")
    refused(bearer(c, "stream.subscribe", sub, view), "token_used_up", "its two uses spent")
    wall = mint("globex", {"tenant": "globex", "id": "wall-1", "room": "live",
                           "role": "viewer", "exp": int(time.time()) + 600, "uses": 2})
    r = bearer(c, "stream.subscribe", {"room": "live", "streams": [
        {"stream": "cam/1", "sdp": OFFER}] * 3}, wall)
    res = r["result"]["results"] if r and r.get("ok") else []
    T.eq([x.get("error", {}).get("code", "ok") for x in res], ["ok", "ok", "token_used_up"],
         "three streams at once with a token of two uses")
    for x in res[:2]:
        viewers.append(x.get("viewer", ""))
    refused(bearer(c, "stream.publish", plain, view), "token_scope", "a viewer's token publishing")
    other = mint("globex", {"tenant": "globex", "id": "browser-8", "room": "other",
                            "role": "viewer", "exp": int(time.time()) + 600, "uses": 5})
    refused(bearer(c, "stream.subscribe", sub, other), "token_scope",
            "a token for another room")
    refused(bearer(c, "stream.unsubscribe", {"room": "live", "stream": "cam/1",
                                             "viewer": viewers[0]}, other), "token_scope",
            "a token ending a viewer it did not make")
    old = mint("globex", {"tenant": "globex", "id": "browser-9", "room": "live",
                          "role": "viewer", "exp": int(time.time()) - 1, "uses": 5})
    refused(bearer(c, "stream.subscribe", sub, old), "token_expired", "an expired token")
    body, mac = view.split(".")
    forged = base64.b64encode(base64.b64decode(body).replace(b'"uses": 2', b'"uses": 9'))
    refused(bearer(c, "stream.subscribe", sub, forged.decode() + "." + mac), "bad_token",
            "a token whose uses were raised")
    refused(bearer(c, "stream.subscribe", sub, mint("acme", {
        "tenant": "globex", "id": "x", "room": "live", "role": "viewer",
        "exp": int(time.time()) + 60, "uses": 1})), "bad_token", "signed with another's key")
    refused(bearer(c, "session.list", {}, view), "token_scope", "a token for session.list")
    r = bearer(c, "stream.unsubscribe", {"room": "live", "stream": "cam/1",
                                         "viewer": viewers[0]}, view)
    T.check(r is not None and r.get("ok"), "the browser ends its own viewer: %s" % r)
    r = t.run("globex", "room.get", {"room": "live"})
    T.eq(sorted(r["result"]["streams"][0]["viewers"]) if r and r.get("ok") else None,
         sorted(viewers[1:]), "its viewer gone, the others left")
    reissued(c, sub)
    return view


def reissued(c, sub):
    """A token id issued again with a later expiry: the use spent under the first stays
    spent for the second once the first has expired (and the node forgot what expired)."""
    now = int(time.time())
    first = mint("globex", {"tenant": "globex", "id": "re-1", "room": "live",
                            "role": "viewer", "exp": now + 2, "uses": 1})
    again = mint("globex", {"tenant": "globex", "id": "re-1", "room": "live",
                            "role": "viewer", "exp": now + 600, "uses": 1})
    r = bearer(c, "stream.subscribe", sub, first)
    T.check(r is not None and r.get("ok"), "re-1 views once: %s" % (r and r.get("error")))
    refused(bearer(c, "stream.subscribe", sub, again), "token_used_up", "re-1 issued again")
    time.sleep(max(0, now + 3 - time.time()))
    # Another token's first use makes the node forget what has expired.
    r = bearer(c, "stream.subscribe", sub, mint("globex", {
        "tenant": "globex", "id": "re-2", "room": "live", "role": "viewer",
        "exp": now + 600, "uses": 1}))
    T.check(r is not None and r.get("ok"), "re-2 views: %s" % (r and r.get("error")))
    refused(bearer(c, "stream.subscribe", sub, again), "token_used_up",
            "re-1 issued again, once the first re-1 expired")


def signed_bytes(c, who, cmd, args, rid):
    """A request signed by @who, not sent: (payload, user properties) for c.publish."""
    body = json.dumps({"v": 1, "id": rid, "cmd": cmd, "args": args}).encode()
    ts, nonce = int(time.time()), uuid.uuid4().hex
    return body, [("mfwd-tenant", who), ("mfwd-ts", str(ts)), ("mfwd-nonce", nonce),
                  ("mfwd-sig", sign(KEYS[who], CMD, who, ts, nonce, body, c.reply_topic))]


def burst(c, n, who="globex"):
    """n signed session.list in flight at once: the codes of the replies."""
    corrs = []
    for i in range(n):
        body, user = signed_bytes(c, who, "session.list", {"limit": 1}, uuid.uuid4().hex)
        corrs.append(uuid.uuid4().bytes)
        c.publish(CMD, body, corr=corrs[-1], user=user)
    codes = {}
    for corr in corrs:
        r = c.wait_reply(corr, timeout=30)
        code = "none" if r is None else "ok" if r.get("ok") else r["error"]["code"]
        codes[code] = codes.get(code, 0) + 1
    return codes


def check_nonce_ring(c):
    t0 = time.monotonic()
    T.eq(burst(c, 512), {"ok": 512}, "512 signed commands of globex in a burst")
    took = time.monotonic() - t0
    print("burst of 512 signed commands: %.2f s" % took)
    # A nonce is kept for twice the window and a second after it came: the 513th finds
    # globex's half of the ring full if the burst took less than that.
    if took < 2 * WINDOW:
        T.eq(burst(c, 1), {"replay_cache_full": 1}, "globex's 513th within the window")
        T.eq(burst(c, 512, "ops"), {"ok": 512}, "ops is not locked out by globex's flood")
        # Only while globex's nonces are still kept (a loaded machine may take longer).
        if time.monotonic() - t0 < 2 * WINDOW:
            T.eq(burst(c, 1, "acme"), {"replay_cache_full": 1}, "the ring full: acme's")
        else:
            print("the ring full: not judged, the bursts took %.1f s"
                  % (time.monotonic() - t0))
    else:
        T.check(False, "the burst took %.1f s, longer than the window" % took)
    time.sleep(2 * WINDOW + 2)
    T.eq(burst(c, 512), {"ok": 512}, "512 more once the first are forgotten")


def main():
    dpl = pcap_dataplane("cptenants")
    with dpl, Broker() as broker:
        cp = ControlPlane(broker, "n1", dpl.instance, limits={"default_session_kbps": 2000})
        check_start_refusals(broker, dpl, cp.dir)
        cp.cfg["auth"] = {"keys_file": keys_file(cp.dir, 0o600), "required": True}
        with open(cp.cfg_file, "w") as f:
            json.dump(cp.cfg, f)
        counts = {k: 0 for k in ("unsigned", "bad_auth", "unknown_tenant", "bad_signature",
                                 "stale", "replayed", "forbidden", "over_quota")}
        with cp:
            c = Client(broker)
            st = wait_status(c, "n1", lambda s: s["online"] and s["dataplane"]["up"])
            T.check(st is not None, "control plane online")
            if st is None:
                print(cp.tail())
                T.done()
            t = Tenants(c)
            check_signatures(t, c, counts)
            replay_and_retry_in_a_batch(t, c, dpl, broker, counts)
            check_isolation(t, counts)
            check_quotas(t, counts)
            check_envelope(broker, t, counts)
            check_counts(t, counts)
            check_rooms(t)
            view = check_tokens(t, c)
            c.close()
        cp.cfg["auth"].update(window_s=WINDOW, max_nonces=1024)
        with open(cp.cfg_file, "w") as f:
            json.dump(cp.cfg, f)
        before_start = int(time.time()) - 1
        with cp:
            c = Client(broker)
            wait_status(c, "n1", lambda s: s["online"] and s["dataplane"]["up"])
            t = Tenants(c)
            refused(t.run("acme", "session.list", ts=before_start), "stale",
                    "a timestamp from before the restart (its nonce may be forgotten)")
            refused(t.run("globex", "session.get", {"id": "a1"}), "not_found",
                    "after a restart a1 is still acme's, not globex's")
            r = t.run("acme", "session.get", {"id": "a1"})
            T.check(r is not None and r.get("ok"), "after a restart acme gets a1")
            refused(t.run("acme", "session.create", spec("a3", 5012)), "over_quota",
                    "after a restart acme's quota of 2 sessions holds")
            refused(bearer(c, "stream.subscribe", {"room": "live", "stream": "cam/1",
                                                   "sdp": OFFER}, view), "token_used_up",
                    "after a restart the token's uses stay spent")
            T.check(t.run("globex", "room.delete", {"room": "live"})["ok"] and
                    t.run("globex", "room.delete", {"room": "other"})["ok"],
                    "globex's rooms deleted")
            time.sleep(2 * WINDOW + 2)
            check_nonce_ring(c)
            c.close()
        keys_file(cp.dir, 0o600, without=("acme",))
        with cp:
            c = Client(broker)
            wait_status(c, "n1", lambda s: s["online"] and s["dataplane"]["up"])
            t = Tenants(c)
            refused(t.run("acme", "session.list"), "unknown_tenant",
                    "acme, out of the keys file, cannot sign")
            T.eq(t.sessions(), ["a1", "a2", "g1", "g2", "g3"],
                 "its sessions stay, the admin sees them")
            info = t.run("ops", "node.info")
            acme = [x for x in info["result"]["auth"]["tenants"] if x["name"] == "acme"]
            T.check(acme and acme[0]["sessions"] == 2 and not acme[0]["key"],
                    "acme known from the journal, without a key: %s" % acme)
            c.close()
        with open(cp.log) as f:
            log = f.read()
        T.check("session.get" in log and "of globex refused: not_found" in log,
                "a refusal is logged with its tenant")
        T.check("of a request claiming acme refused: bad_signature" in log,
                "a refused signature is logged with the tenant it claimed")
        T.check(not any(base64.b64encode(k).decode() in log or k.hex() in log
                        for k in KEYS.values()), "no key in the log")
    T.done()


if __name__ == "__main__":
    main()
