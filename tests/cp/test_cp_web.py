#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""The pages of tools/web in headless Chromium, against a real mfwd and a real mosquitto
(its WebSockets listener; broker and browser in a network namespace, the control plane
reaching the broker over a link of its own).

The viewer page (viewer.html), loaded as a user would (broker, node and room in its
address), all it does its own code:
- lists the room's streams: one a plain RTP camera publishes (ffmpeg, VP8) and one of a
  device that pushes on demand (device_sim.py: ffmpeg, H.264), marked as such;
- a click on the device's stream subscribes (the device is asked to push), plays it:
  getStats() gives at least 100 frames decoded and no more packets lost than
  mfwd's ingress never received (a second after, for a loss NACK repairs); room.get lists
  the page's viewer; stop unsubscribes it;
- the same for the VP8 camera;
- a stream that is not there: the page shows not_found and plays nothing;
- with a viewer token (tenant acme's room, token.create) in its address the page plays
  acme's stream; the token's one use spent, the page shows token_used_up.

The dashboard page (dashboard.html), fed by the control plane's stats topic:
- lists the node from its retained status (online, dataplane up);
- while an RTP sender with gaps in its sequence (loss) and stray datagrams to a port with
  no session (drop_sess_miss) run, it charts the sessions' rates, loss and jitter;
- once the traffic stopped, every session's rx_pkts, tx_pkts, rtp_lost, jitter and outputs
  and every drop reason it shows equal mfwd-stat --json's taken at that moment;
- a config with stats_interval_ms under 250 is refused.
"""
import base64
import json
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
WEB = os.path.join(HERE, "..", "..", "tools", "web")
sys.path.insert(0, HERE)
sys.path.insert(0, WEB)
from cpharness import SKIP, Broker, Checks, Client, ControlPlane, free_port  # noqa: E402
from cpharness import CONTROLPLANE, wait_status  # noqa: E402
from harness import Dataplane  # noqa: E402
from headless import DevTools  # noqa: E402
from netns import Topology  # noqa: E402

T = Checks("cp_web")
CMD = "mfwd/n1/cmd"
PY = "/usr/bin/python3"
ACME = os.urandom(32)


def ok(r):
    return r is not None and r.get("ok")


def until(dt, expr, seconds):
    """Evaluate @expr in the page every 0.25 s until it is true; @return its last value."""
    deadline = time.time() + seconds
    while True:
        v = dt.eval(expr)
        if v or time.time() >= deadline:
            return v
        time.sleep(0.25)


def viewers(c, name):
    r = c.request(CMD, "room.get", {"room": "lobby"})
    st = [x for x in r["result"]["streams"] if x["stream"] == name] if ok(r) else []
    return st[0]["viewers"] if st else None


def ingress(c, dpl, name):
    """The session of stream @name as mfwd-stat shows it ({} if none)."""
    r = c.request(CMD, "room.get", {"room": "lobby"})
    sid = [x["session"] for x in r["result"]["streams"] if x["stream"] == name] if ok(r) else []
    return dpl.stats()["sessions"].get(sid[0], {}) if sid else {}


def out_figures(sess):
    """Each output's non-zero start, NACK and drop counters: what a failure is read by."""
    return {o: {k: v for k, v in st.items() if v and isinstance(v, int) and
                k.startswith(("gop_", "kf_", "nack_", "drop_", "tx_pkts"))}
            for o, st in sess.get("outputs", {}).items()}


def udp_drops(topo):
    """UDP datagrams the page's host dropped on receive (a socket's buffer full: Chromium
    starved of CPU on a loaded machine), from /proc/net/snmp in its namespace."""
    r = topo.run(topo.src, "cat", "/proc/net/snmp", capture_output=True, text=True)
    rows = [ln.split()[1:] for ln in r.stdout.splitlines() if ln.startswith("Udp:")]
    return int(dict(zip(rows[0], rows[1])).get("RcvbufErrors", 0)) if len(rows) == 2 else 0


def watch(dt, c, dpl, topo, name, what):
    """Click @name in the page's list; it plays 100 frames; stop."""
    dropped = udp_drops(topo)
    T.check(dt.eval("(() => { const b = document.querySelector('button[data-stream=\"%s\"]');"
                    " if (b) b.click(); return !!b; })()" % name), "the page lists %s" % name)
    t0 = time.time()
    until(dt, "mfwdView.state === 'playing' || mfwdView.state === 'refused'", 20)
    st = until(dt, "mfwdView.stats.framesDecoded >= 100 && mfwdView.stats", 40) or \
        dt.eval("mfwdView.stats")
    # A packet lost near the end may still be on its way back (NACK, resent from the
    # output's ring): the page's figures of a second later.
    time.sleep(1.2)
    st = dict(st, packetsLost=dt.eval("mfwdView.stats.packetsLost"))
    sess = ingress(c, dpl, name)
    before = sess.get("rtp_lost")
    dropped = udp_drops(topo) - dropped
    print("viewer page, %s: %s after %.1f s; mfwd's ingress lost %s, the page's host "
          "dropped %d UDP datagrams on receive; outputs %s" % (
              name, st, time.time() - t0, before, dropped, out_figures(sess)))
    # What mfwd answers for: every packet it received delivered (what its ingress never
    # got, it cannot, nor what the page's own host dropped on receive).
    # Chromium's framesDropped also counts frames that missed their display deadline,
    # which a loaded 2-core machine running ASan binaries makes happen (CI saw 12 of 118),
    # and its freezeCount a frame that came late (CI saw one, nothing lost, with the
    # dataplane's worker polling one core and Chromium, ffmpeg and the broker on the
    # other): printed, not judged.
    T.check(st.get("framesDecoded", 0) >= 100 and
            st.get("packetsLost") is not None and before is not None and
            st["packetsLost"] <= before + dropped,
            "the page plays %s, losing nothing mfwd received: %s" % (what, {
                k: st.get(k) for k in ("framesDecoded", "packetsLost", "framesDropped",
                                       "freezeCount", "connection")}))
    me = dt.eval("mfwdView.viewer")
    T.check(me and me in (viewers(c, name) or []), "room.get lists the page's viewer %s" % me)
    dt.eval("document.getElementById('stop').click()")
    until(dt, "mfwdView.state === 'idle'", 10)
    deadline = time.time() + 10
    while time.time() < deadline and me in (viewers(c, name) or []):
        time.sleep(0.2)
    T.check(me not in (viewers(c, name) or []), "stop unsubscribed the page's viewer")


def camera(topo, r, name):
    """A plain RTP camera publishing VP8 (ffmpeg on the src host), @r its publish reply."""
    T.check(ok(r), "stream.publish %s: %s" % (name, r))
    to = r["result"]["ingress"]
    return topo.popen(topo.src, "ffmpeg", "-hide_banner", "-loglevel", "error", "-re", "-f",
                      "lavfi", "-i", "testsrc=size=320x240:rate=30", "-pix_fmt", "yuv420p",
                      "-c:v", "libvpx", "-deadline", "realtime", "-cpu-used", "8", "-b:v",
                      "600k", "-g", "30", "-f", "rtp", "-payload_type", "96",
                      "rtp://%s:%d" % (to["addr"], to["udp_port"]),
                      stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)


# RTP from the src host: 300 packets at 100/s, every 10th sequence number skipped (30 lost),
# then 20 datagrams to a port with no session.
SENDER = """
import socket, struct, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("10.99.1.1", 4000))
for i in range(330):
    if i % 11 != 5:
        s.sendto(struct.pack("!BBHII", 0x80, 96, i, i * 900, 0x1234) + bytes(160),
                 ("10.99.1.2", 5004))
    time.sleep(0.01)
for i in range(20):
    s.sendto(b"stray", ("10.99.1.2", 7777))
"""

SHOWN = """JSON.stringify((() => {
  const out = {sessions: {}, drops: {}, nodes: [], charts: {}};
  document.querySelectorAll('#sessions td[data-session]').forEach(td => {
    (out.sessions[td.dataset.session] = out.sessions[td.dataset.session] || {})[
      td.dataset.field] = td.textContent;
  });
  document.querySelectorAll('#drops td[data-reason]').forEach(td => {
    out.drops[td.dataset.where + ' ' + td.dataset.reason] = td.textContent;
  });
  document.querySelectorAll('#nodes tbody tr').forEach(tr => out.nodes.push(
    Array.from(tr.cells).map(c => c.textContent)));
  document.querySelectorAll('canvas').forEach(c => {
    out.charts[c.id] = {series: c.dataset.series || '', points: Number(c.dataset.points || 0),
                        above: Number(c.dataset.above || 0)};
  });
  out.messages = mfwdDash.messages;
  return out;
})())"""


def dashboard(topo, broker, c, http, dpl):
    r = c.request(CMD, "session.create", {"id": "dash-1", "kind": "rtp", "ingress": {
        "port": 0, "addr": "10.99.1.2", "udp_port": 5004, "source": "latch",
        "clock_rates": {"96": 90000}}, "outputs": [
            {"id": "o1", "port": 1, "addr": "10.99.2.1", "udp_port": 6000}]})
    T.check(ok(r), "session.create dash-1: %s" % r)
    url = "http://127.0.0.1:%d/dashboard.html?broker=ws://127.0.0.1:%d&node=n1" % (
        http, broker.ws_port)
    dt = DevTools(topo.src, os.path.join(broker.dir, "chromium-dash"), url)
    try:
        dt.attach()
        T.check(until(dt, "typeof mfwdDash !== 'undefined' && mfwdDash.messages >= 2", 20),
                "the dashboard gets the node's stats messages")
        sender = topo.popen(topo.src, PY, "-c", SENDER)
        mid = {}
        while sender.poll() is None:
            time.sleep(1)
            mid = json.loads(dt.eval(SHOWN))
        sender.wait()
        rx = float(mid.get("sessions", {}).get("dash-1", {}).get("rx_pps", 0))
        T.check(rx > 0, "while it streams the page shows dash-1's rate: %s pps" % rx)
        # Two messages after the last packet: the figures stand still.
        n = dt.eval("mfwdDash.messages")
        until(dt, "mfwdDash.messages >= %d" % (n + 2), 10)
        shown = json.loads(dt.eval(SHOWN))
        st = dpl.stats()
    finally:
        dt.close()
    T.check(any(row[0] == "n1" and row[1] == "yes" and row[2] == "up"
                for row in shown["nodes"]), "the page lists node n1 online: %s" % shown["nodes"])
    want = {sid: {"rx_pkts": str(s.get("rx_pkts", 0)), "tx_pkts": str(s.get("tx_pkts", 0)),
                  "rtp_lost": str(s.get("rtp_lost", 0)),
                  "jitter_ms": "%.3f" % (s.get("jitter_us", 0) / 1000),
                  "outputs": str(len(s.get("outputs", {})))}
            for sid, s in st["sessions"].items()}
    got = {sid: {k: v for k, v in f.items() if k in want.get(sid, {})}
           for sid, f in shown["sessions"].items()}
    T.eq(got, want, "every session's figures on the page are mfwd-stat --json's")
    d1 = st["sessions"].get("dash-1", {})
    T.check(d1.get("rx_pkts") == 300 and d1.get("rtp_lost") == 30 and d1.get("jitter_us", 0) > 0,
            "dash-1 received 300, lost 30, with jitter: %s" % {
                k: d1.get(k) for k in ("rx_pkts", "rtp_lost", "jitter_us")})
    # Every reason the page shows is the dataplane's figure; every drop of the node counted.
    def figure(key):
        where, reason = key.split(" ", 1)
        src = st["node"] if where == "node" else st["ports"].get(where[5:], {})
        return str(src.get(reason))
    T.eq({k: v for k, v in shown["drops"].items()},
         {k: figure(k) for k in shown["drops"]},
         "the drops by reason on the page are mfwd-stat --json's")
    node = st["node"]
    missing = [k for k, v in node.items() if k.startswith("drop_") and v and
               "node " + k not in shown["drops"]]
    T.check(not missing, "every drop the node counted is on the page (missing: %s)" % missing)
    T.check(node.get("drop_sess_miss", 0) >= 20 and "node drop_sess_miss" in shown["drops"],
            "the stray datagrams were counted: %s" % node.get("drop_sess_miss"))
    ch = shown["charts"]
    T.check("dash-1" in ch.get("chart-kbps", {}).get("series", "").split() and
            all(ch.get(k, {}).get("above", 0) > 0 for k in ("chart-kbps", "chart-loss",
                                                           "chart-jitter", "chart-drops")),
            "the charts show dash-1's rate, its loss and jitter, and the drops: %s" % ch)


def config_refusals(broker):
    """stats_interval_ms and stats_max_sessions out of range: the control plane says so."""
    for key, val, word in (("stats_interval_ms", 100, "at least 250"),
                           ("stats_interval_ms", -1, "at least 250"),
                           ("stats_max_sessions", 0, "1..1000")):
        cfg = os.path.join(broker.dir, "bad.json")
        with open(cfg, "w") as f:
            json.dump({"node": "n9", "journal_dir": broker.dir + "/j9", key: val}, f)
        p = subprocess.run([CONTROLPLANE, "--config", cfg], capture_output=True, text=True,
                           timeout=20)
        T.check(p.returncode == 2 and key in p.stderr and word in p.stderr,
                "%s %s is refused (%d: %s)" % (key, val, p.returncode, p.stderr.strip()))


def pages(topo, broker, c, http, dpl):
    base = "http://127.0.0.1:%d/viewer.html?broker=ws://127.0.0.1:%d&node=n1&room=lobby" % (
        http, broker.ws_port)
    profile = os.path.join(broker.dir, "chromium")
    dt = DevTools(topo.src, profile, base)
    try:
        dt.attach()
        got = until(dt, "typeof mfwdView !== 'undefined' && mfwdView.streams.length >= 2 && "
                    "JSON.stringify(mfwdView.streams)", 30)
        streams = {s["stream"]: s for s in json.loads(got or "[]")}
        T.check(set(streams) == {"cam-5/vp8", "cam-8/main"} and
                streams["cam-8/main"].get("demand") and not streams["cam-5/vp8"].get("demand"),
                "the page lists the room's streams, the device's on demand: %s" % streams)
        watch(dt, c, dpl, topo, "cam-8/main", "a device's H.264 pulled on demand")
        watch(dt, c, dpl, topo, "cam-5/vp8", "a plain RTP camera's VP8")
        dt.call("Page.navigate", {"url": base + "&stream=nope"})
        time.sleep(1)
        err = until(dt, "typeof mfwdView !== 'undefined' && mfwdView.state === 'refused' && "
                    "document.getElementById('status').textContent", 20)
        T.check(err and "not_found" in err, "a stream that is not there: the page says %s" % err)
    finally:
        dt.close()


def with_token(topo, broker, c, http):
    """With signed commands required: tenant acme's room and stream, a viewer token for it
    after the # of the page's address. The page's own listing is refused (unsigned); it
    plays with the token; its stop unsubscribes with the token (unsigned, it would be
    refused and the viewer stay); the token's one use spent, it says token_used_up."""
    T.check(ok(c.signed(CMD, "acme", ACME, "room.create", {"room": "acme"})), "acme's room")
    r = c.signed(CMD, "acme", ACME, "stream.publish", {"room": "acme", "stream": "door",
                                                       "media": [{"kind": "video",
                                                                  "codec": "vp8", "pt": 96}]})
    cam = camera(topo, r, "acme's door")
    r = c.signed(CMD, "acme", ACME, "token.create", {"room": "acme", "stream": "door",
                                                     "role": "viewer", "uses": 1,
                                                     "ttl_s": 600})
    T.check(ok(r), "token.create: %s" % r)
    url = ("http://127.0.0.1:%d/viewer.html?broker=ws://127.0.0.1:%d&node=n1&room=acme"
           "&stream=door#token=%s" % (http, broker.ws_port, r["result"]["token"] if ok(r)
                                      else ""))
    dt = DevTools(topo.src, os.path.join(broker.dir, "chromium-token"), url)
    try:
        dt.attach()
        st = until(dt, "typeof mfwdView !== 'undefined' && (mfwdView.state === 'refused' || "
                   "mfwdView.stats.framesDecoded >= 30) && mfwdView.stats", 30) or {}
        T.check(st.get("framesDecoded", 0) >= 30, "with a viewer token the page plays acme's "
                "stream: %s (%s)" % (st, dt.eval("mfwdView.error")))
        got = c.signed(CMD, "acme", ACME, "room.get", {"room": "acme"})
        me = dt.eval("mfwdView.viewer")
        T.check(ok(got) and me in got["result"]["streams"][0]["viewers"],
                "acme's room lists the page's viewer %s" % me)
        dt.eval("document.getElementById('stop').click()")
        until(dt, "mfwdView.state === 'idle'", 10)
        deadline, left = time.time() + 10, [me]
        while time.time() < deadline and me in left:
            got = c.signed(CMD, "acme", ACME, "room.get", {"room": "acme"})
            left = got["result"]["streams"][0]["viewers"] if ok(got) else [me]
            time.sleep(0.2)
        T.check(me not in left, "stop unsubscribed with the token (%s left)" % left)
        dt.call("Page.navigate", {"url": url.replace("#", "&again=1#")})
        time.sleep(1)
        err = until(dt, "typeof mfwdView !== 'undefined' && mfwdView.state === 'refused' && "
                    "document.getElementById('status').textContent", 20)
        T.check(err and "token_used_up" in err, "the token's use spent: the page says %s" % err)
    finally:
        dt.close()
        cam.terminate()
        cam.wait(timeout=20)


def lobby(topo, broker, host, dpl, http, keys):
    """The viewer page and the dashboard, unsigned commands taken as the operator's.
    @return the control plane's journal directory."""
    dev = cam = None
    cp = ControlPlane(broker, "n1", dpl.instance, streams={"port": 0},
                      devices={"prefix": "devices", "linger_s": 1},
                      auth={"keys_file": keys, "required": False})
    try:
        with cp:
            c = Client(broker)
            T.check(wait_status(c, "n1", lambda s: s["online"] and s["dataplane"]["up"])
                    is not None, "control plane online")
            T.check(ok(c.request(CMD, "room.create", {"room": "lobby"})), "room.create")
            dev = subprocess.Popen([PY, os.path.join(HERE, "device_sim.py"), "--broker",
                                    str(broker.port), "--host", host, "--name", "cam-8",
                                    "--room", "lobby", "--netns", topo.src],
                                   stdout=subprocess.PIPE, text=True)
            cam = camera(topo, c.request(CMD, "stream.publish", {
                "room": "lobby", "stream": "cam-5/vp8", "media": [
                    {"kind": "video", "codec": "vp8", "pt": 96}]}), "cam-5/vp8")
            deadline = time.time() + 20
            while time.time() < deadline:
                r = c.request(CMD, "device.list")
                if ok(r) and any(d["device"] == "cam-8" and d["online"]
                                 for d in r["result"]["devices"]):
                    break
                time.sleep(0.1)
            pages(topo, broker, c, http, dpl)
            for p in (cam, dev):
                p.terminate()
                p.wait(timeout=20)
            cam = dev = None
            dashboard(topo, broker, c, http, dpl)
            config_refusals(broker)
            c.close()
            if T.failed:
                print(cp.tail(60))
    finally:
        for p in (cam, dev):
            if p is not None:
                p.terminate()
                p.wait(timeout=20)
    return cp.cfg["journal_dir"]


def main():
    if not os.path.exists("/usr/bin/chromium"):
        print("skip: no chromium")
        sys.exit(SKIP)
    if not os.path.exists(os.path.join(WEB, "mqtt.min.js")):
        T.check(False, "tools/web/mqtt.min.js is missing: run tools/setup-host")
        T.done()
    with Topology("cpweb") as topo:
        host = topo.link_host(topo.src)
        with Broker(netns=topo.src, host=host) as broker:
            keys = os.path.join(broker.dir, "tenants.json")
            with open(keys, "w") as f:
                json.dump({"tenants": [{"name": "acme",
                                        "key": base64.b64encode(ACME).decode()}]}, f)
            os.chmod(keys, 0o600)
            dpl = Dataplane("cpweb", topo.ports_conf())
            http = free_port()
            web = topo.popen(topo.src, PY, "-m", "http.server", str(http), "--bind",
                             "127.0.0.1", "--directory", WEB, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
            try:
                with dpl:
                    journal = lobby(topo, broker, host, dpl, http, keys)
                    # The same node, its journal kept, now refusing unsigned commands.
                    signed = ControlPlane(broker, "n1", dpl.instance, streams={"port": 0},
                                          journal_dir=journal,
                                          auth={"keys_file": keys, "required": True})
                    with signed:
                        c = Client(broker)
                        T.check(wait_status(c, "n1", lambda s: s["online"] and
                                            s["dataplane"]["up"]) is not None,
                                "control plane online, signatures required")
                        with_token(topo, broker, c, http)
                        c.close()
                        if T.failed:
                            print(signed.tail(60))
            finally:
                web.terminate()
                web.wait(timeout=20)
    T.done()


if __name__ == "__main__":
    main()
