#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""ICE-lite with real ICE agents: libnice (the ICE of GStreamer's webrtcbin and of Janus).

An rtp-mux session: its ingress is an ICE endpoint for a publisher in "src", its output
"viewer" one for a viewer in "dst" (checks to port 1's 10.99.2.2:5006), its output "plain"
a fixed destination in "dst". Before any check the ingress accepts nothing and the viewer
gets nothing. Hand-written checks (tests/dp/stunprobe.py, from the RFCs, not from mfwd's
code) see every bad or unauthenticated message dropped unanswered and counted by reason, a
check claiming the controlled role answered 487, a good one (over IPv4 and, to a second
session, IPv6) answered with the right XOR-MAPPED-ADDRESS, MESSAGE-INTEGRITY and
FINGERPRINT, its pair taken while none was nominated, and DTLS and other first bytes
counted; meanwhile a second session forwards a numbered flow without a loss. Then a libnice
publisher nominates its pair and sends RTP: mfwd forwards it to "plain"; a libnice viewer
nominates its pair and receives the stream through the viewer output. When the viewer
stops checking, its consent ends: ice.consent_lost, and the output stops sending; given an
address by an update, it sends to it (consent runs from the update). An ICE output no peer
ever checks: ice.timeout, once.
"""
import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Checks, Dataplane  # noqa: E402
from netns import Topology  # noqa: E402

T = Checks("netns_ice")
HERE = os.path.dirname(os.path.abspath(__file__))
PY = "/usr/bin/python3"
IN = {"ufrag": "mfin", "pwd": "ingresspassword0123456", "remote_ufrag": "pubr"}
VW = {"ufrag": "mfvw", "pwd": "viewerpassword01234567", "remote_ufrag": "view",
      "consent_timeout_ms": 8000}
PEER_PWD = "peerpassword0123456789"
# Datagrams to ADDR:PORT until QUIET_S seconds pass without one, after the first.
COUNT = """
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind((sys.argv[1], int(sys.argv[2])))
n = 0
s.settimeout(60)
try:
    while True:
        s.recv(2048)
        n += 1
        s.settimeout(float(sys.argv[3]))
except socket.timeout:
    pass
print(n)
"""


def sessions():
    return [{"id": "pub", "kind": "rtp-mux",
             "ingress": {"port": 0, "addr": "10.99.1.2", "udp_port": 5004, "ice": IN,
                         "clock_rates": {"96": 90000}},
             "outputs": [{"id": "viewer", "port": 1, "src_port": 5006, "ice": VW},
                         {"id": "fixed", "port": 1, "addr": "10.99.2.1", "udp_port": 7002,
                          "src_port": 5010, "ice": dict(VW, ufrag="mffx", remote_ufrag="fixd",
                                                        consent_timeout_ms=120000)},
                         {"id": "plain", "port": 1, "addr": "10.99.2.1", "udp_port": 7000}]},
            {"id": "pub6", "kind": "rtp-mux",
             "ingress": {"port": 0, "addr": "fd00:1::2", "udp_port": 5008, "ice": IN}},
            {"id": "other", "kind": "rtp",
             "ingress": {"port": 0, "addr": "10.99.1.2", "udp_port": 5100},
             "outputs": [{"port": 1, "addr": "10.99.2.1", "udp_port": 7100}]}]


def probe(topo, *args, dst="10.99.1.2", port=5004):
    r = topo.run(topo.src if dst in ("10.99.1.2", "fd00:1::2") else topo.dst, PY,
                 os.path.join(HERE, "stunprobe.py"), dst, str(port), *args,
                 capture_output=True, timeout=20)
    return json.loads(r.stdout.decode() or "{}")


def node(dpl):
    return dpl.stats()["node"]


def bad_checks(dpl, topo):
    """Every message that must not be answered, each counted by its reason."""
    good = ["--user", "mfin:pubr", "--pwd", IN["pwd"]]
    cases = [("wrong password", ["--user", "mfin:pubr", "--pwd", "x" * 22], "drop_stun_auth"),
             ("no MESSAGE-INTEGRITY", good + ["--no-integrity"], "drop_stun_auth"),
             ("wrong FINGERPRINT", good + ["--bad-fingerprint"], "drop_stun_fingerprint"),
             ("unknown ufrag", ["--user", "nope:pubr", "--pwd", IN["pwd"]], "drop_stun_user"),
             ("the viewer's ufrag on the ingress port", ["--user", "mfvw:view", "--pwd",
                                                        VW["pwd"]], "drop_stun_user"),
             ("no ICE role", good + ["--role", "none"], "drop_stun_kind"),
             ("truncated", ["--raw", "000100082112a442" + "00" * 12], "drop_stun_trunc"),
             ("bad magic", ["--raw", "0001000021120000" + "00" * 12], "drop_stun_hdr")]
    for what, args, ctr in cases:
        before = node(dpl)
        got = probe(topo, *args)
        T.eq(got.get("answer"), False, "%s: not answered" % what)
        after = dpl.wait_for(lambda s: s["node"][ctr] > before[ctr], what=ctr)["node"]
        T.eq(after[ctr] - before[ctr], 1, "%s: counted as %s" % (what, ctr))
        T.eq(after["stun_answered"], before["stun_answered"], "%s: nothing answered" % what)


def good_checks(dpl, topo):
    got = probe(topo, "--user", "mfin:pubr", "--pwd", IN["pwd"], "--role", "controlled")
    T.check(got.get("type") == 0x0111 and got.get("error") == 487 and got["integrity_ok"] and
            got["fingerprint_ok"], "controlled role: 487 Role Conflict, signed (%s)" % got)
    got = probe(topo, "--user", "mfin:pubr", "--pwd", IN["pwd"], "--bind", "4555")
    T.check(got.get("type") == 0x0101 and got["txid_ok"], "a good check answered (%s)" % got)
    T.eq(got.get("mapped"), ["10.99.1.1", 4555], "XOR-MAPPED-ADDRESS: where it came from")
    T.check(got.get("integrity_ok") and got.get("fingerprint_ok"),
            "the answer's MESSAGE-INTEGRITY and FINGERPRINT verify")
    rc, out = dpl.ctl("get", "pub")
    T.eq(out[0]["session"]["live"].get("latched_source"), {"addr": "10.99.1.1", "port": 4555},
         "the first valid check's pair taken")
    got = probe(topo, "--user", "mfin:pubr", "--pwd", IN["pwd"], "--bind", "4556")
    rc, out = dpl.ctl("get", "pub")
    T.eq(out[0]["session"]["live"].get("latched_source"), {"addr": "10.99.1.1", "port": 4555},
         "a second check without USE-CANDIDATE does not move it")
    # A nomination moves it; the same check again from elsewhere (a replay: MESSAGE-INTEGRITY
    # does not cover addresses) is answered but moves nothing.
    txid = "0102030405060708090a0b0c"
    nominate = ["--user", "mfin:pubr", "--pwd", IN["pwd"], "--use-candidate", "--txid", txid]
    got = probe(topo, *nominate, "--bind", "4559")
    rc, out = dpl.ctl("get", "pub")
    T.eq(out[0]["session"]["live"].get("latched_source"), {"addr": "10.99.1.1", "port": 4559},
         "USE-CANDIDATE moves the pair")
    before = node(dpl)
    got = probe(topo, *nominate, "--bind", "4560")
    T.eq(got.get("type"), 0x0101, "a replayed check is answered")
    rc, out = dpl.ctl("get", "pub")
    T.eq(out[0]["session"]["live"].get("latched_source"), {"addr": "10.99.1.1", "port": 4559},
         "a replayed nomination does not move the pair")
    T.eq(node(dpl)["ice_replayed"] - before["ice_replayed"], 1, "counted as ice_replayed")
    got = probe(topo, "--user", "mfin:pubr", "--pwd", IN["pwd"], "--bind", "4557",
                dst="fd00:1::2", port=5008)
    T.check(got.get("type") == 0x0101 and got.get("integrity_ok") and got.get("fingerprint_ok")
            and got.get("mapped") == ["fd00:1::1", 4557], "a check over IPv6 answered (%s)" % got)
    for first, ctr in (("16fefd", "dtls_rx"), ("50", "drop_demux")):
        before = node(dpl)[ctr]
        probe(topo, "--raw", first + "00" * 20, "--timeout", "0.2")
        dpl.wait_for(lambda s: s["node"][ctr] == before + 1, what=ctr)
        T.check(True, "first byte %s counted as %s" % (first[:2], ctr))


def peer(topo, ns, bind, remote, ufrag, cred, *extra):
    return topo.popen(ns, PY, os.path.join(HERE, "icepeer.py"), "--bind", bind, "--remote",
                      remote, "--local-ufrag", cred["remote_ufrag"], "--local-pwd", PEER_PWD,
                      "--remote-ufrag", ufrag, "--remote-pwd", cred["pwd"], *extra,
                      stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def wait_event(p, name, timeout=20):
    deadline = time.monotonic() + timeout
    for line in p.stdout:
        ev = json.loads(line)
        if ev.get("event") == name or (ev.get("event") == "state" and
                                       ev.get("state") == name):
            return ev
        if time.monotonic() > deadline or ev.get("event") == "done":
            break
    return None


def finish(p, timeout=40):
    out, err = p.communicate(timeout=timeout)
    lines = [json.loads(l) for l in out.decode().splitlines() if l.strip()]
    done = [e for e in lines if e.get("event") == "done"]
    return p.returncode, (done[-1] if done else {}), err.decode()[-500:]


def given_address(dpl, sent_then):
    """The viewer output, its pair ended, is given an address by an update (the same
    credentials): consent runs from the update, not from the check of the pair it lost, so
    it sends. Then it goes (its consent must not end later in the run)."""
    spec = sessions()[0]
    spec["outputs"][0].update(addr="10.99.2.1", udp_port=7004)
    rc, out = dpl.ctl("replace", "-", stdin=json.dumps(spec))
    T.eq(rc, 0, "the viewer output given an address (%s)" % out)
    st = dpl.wait_for(lambda s: s["sessions"]["pub"]["outputs"]["viewer"]["tx_pkts"] >=
                      sent_then + 20, what="the viewer output sending to its given address")
    T.eq(st["node"]["ice_consent_lost"], 1, "its consent runs from the update")
    spec["outputs"] = spec["outputs"][1:]
    rc, out = dpl.ctl("replace", "-", stdin=json.dumps(spec))
    T.eq(rc, 0, "the viewer output removed (%s)" % out)


def never_checked(dpl, at_loss):
    """An ICE output whose peer never checks (a viewer gone before its first check; the
    control plane removes a stream's viewer on it): ice.timeout once, consent_timeout_ms
    after its making, and not again; nor for the viewer whose consent ended before (before,
    neither was told, and a stream kept such a viewer for good)."""
    before = dpl.stats()["node"]["ice_timeout"]
    T.eq(before, at_loss, "the viewer whose consent ended not told again as a timeout")
    spec = {"id": "lone", "kind": "rtp-mux",
            "ingress": {"port": 0, "addr": "10.99.1.2", "udp_port": 5012},
            "outputs": [{"id": "never", "port": 1, "src_port": 5014,
                         "ice": dict(VW, ufrag="mfnv", remote_ufrag="nevr",
                                     consent_timeout_ms=1000)}]}
    rc, out = dpl.add(spec)
    T.eq(rc, 0, "an ICE output no peer checks (%s)" % out)
    dpl.wait_for(lambda s: s["node"]["ice_timeout"] >= before + 1, timeout=10,
                 what="ice.timeout")
    time.sleep(2.5)
    T.eq(dpl.stats()["node"]["ice_timeout"], before + 1, "told once in 3.5 timeouts")
    told = [(e.get("session"), e.get("endpoint"), e.get("output"))
            for e in dpl.ctl("events")[1] if e["event"] == "ice.timeout"]
    T.eq(told, [("lone", "output", "never")], "ice.timeout names it, once")


def main():
    with Topology("ic", ("10.99.2.1",), ipv6=True) as topo:
        dpl = Dataplane("netnsice", topo.ports_conf(), sessions=sessions())
        with dpl:
            plain = topo.popen(topo.dst, PY, "-c", COUNT, "10.99.2.1", "7000", "4",
                               stdout=subprocess.PIPE)
            topo.wait_udp(topo.dst, 7000)
            flow = topo.flow_start(os.path.join(dpl.dir, "stop"))
            # Media before any nomination: not accepted.
            probe(topo, "--raw", "8060000100000001000012340000", "--bind", "4001",
                  "--timeout", "0.2")
            dpl.wait_for(lambda s: s["sessions"]["pub"]["drop_src"] >= 1, what="drop_src")
            T.check(True, "RTP before a nomination: dropped (drop_src)")
            bad_checks(dpl, topo)
            good_checks(dpl, topo)
            sent, got = topo.flow_end(flow)
            T.check(sent > 100 and got["received"][0] == sent and got["lost"][0] == 0,
                    "the other session forwarded its %d numbered packets meanwhile (%s)" %
                    (sent, got))

            pub = peer(topo, topo.src, "10.99.1.1", "10.99.1.2:5004", "mfin", IN,
                       "--send-rtp", "1500", "--pps", "100", "--ssrc", "0x1234", "--pt",
                       "96", "--timeout", "40")
            T.check(wait_event(pub, "ready") is not None, "libnice publisher: ICE ready")
            st = dpl.wait_for(lambda s: s["sessions"]["pub"]["rx_pkts"] >= 50,
                              what="publisher media accepted")
            T.check(st["node"]["ice_selected"] >= 2, "the publisher's pair nominated")
            rc, out = dpl.ctl("get", "pub")
            live = out[0]["session"]["live"]
            T.check(live.get("latched_source", {}).get("addr") == "10.99.1.1" and
                    live["latched_source"]["port"] != 4555,
                    "session.get shows the nominated source (%s)" % live)
            T.check("pwd" not in json.dumps(out[0]["session"]["spec"]),
                    "session.get never shows an ICE password")
            # An update keeping the credentials keeps the pair: media goes on being taken.
            before = dpl.session("pub")
            rc, out = dpl.ctl("replace", "-", stdin=json.dumps(sessions()[0]))
            T.eq(rc, 0, "replaced with the same credentials (%s)" % out)
            dpl.wait_for(lambda s: s["sessions"]["pub"]["rx_pkts"] >= before["rx_pkts"] + 50,
                         what="media after the update")
            T.eq(dpl.session("pub")["drop_src"], before["drop_src"],
                 "no media refused after the update")

            vw = peer(topo, topo.dst, "10.99.2.1", "10.99.2.2:5006", "mfvw", VW,
                      "--expect-rtp", "200", "--timeout", "25")
            rc, done, err = finish(vw)
            T.check(rc == 0 and done.get("received", 0) >= 200,
                    "libnice viewer: ready and received the stream (%s %s)" % (done, err))
            o = dpl.stats()["sessions"]["pub"]["outputs"]["viewer"]
            T.check(o["tx_pkts"] >= 200, "the viewer output sent %d" % o["tx_pkts"])
            T.check(o["drop_ice_wait"] > 0, "and held packets back before the nomination")
            events = [(e["event"], e.get("endpoint"), e.get("output"))
                      for e in dpl.ctl("events")[1]]
            T.check(("ice.connected", "ingress", None) in events and
                    ("ice.connected", "output", "viewer") in events,
                    "ice.connected for both endpoints (%s)" % events)

            # The viewer is gone: no checks (libnice checks every 5 s or so); consent ends
            # 8 s after its last.
            st = dpl.wait_for(lambda s: s["node"]["ice_consent_lost"] >= 1, timeout=20,
                              what="consent lost")
            sent_then = dpl.stats()["sessions"]["pub"]["outputs"]["viewer"]["tx_pkts"]
            time.sleep(1)
            o = dpl.stats()["sessions"]["pub"]["outputs"]["viewer"]
            T.eq(o["tx_pkts"], sent_then, "the viewer output stopped sending")
            events = [(e["event"], e.get("endpoint"), e.get("output"))
                      for e in dpl.ctl("events")[1]]
            T.check(("ice.consent_lost", "output", "viewer") in events,
                    "ice.consent_lost for the viewer (%s)" % events)
            given_address(dpl, sent_then)
            never_checked(dpl, st["node"]["ice_timeout"])

            rc, done, err = finish(pub, timeout=60)
            T.check(rc == 0 and done.get("sent", 0) >= 1000, "publisher done (%s %s)" %
                    (done, err))
            plain_got = int(plain.communicate(timeout=20)[0])
            st = dpl.stats()
            T.check(plain_got >= done.get("sent", 0) - 5,
                    "the fixed output got the publisher's stream (%s of %s)" %
                    (plain_got, done.get("sent")))
            T.eq(st["node"]["ice_consent_lost"], 1,
                 "the publisher, and the ICE output with a given address, kept their consent")
            fixed = st["sessions"]["pub"]["outputs"]["fixed"]
            T.check(fixed["tx_pkts"] >= done.get("sent", 0) - 5 and fixed["drop_ice_wait"] == 0,
                    "the ICE output with a given address sent to it before any check (%s)" %
                    fixed["tx_pkts"])
        T.eq(dpl.rc, 0, "dataplane exit status")
    T.done()


if __name__ == "__main__":
    main()
