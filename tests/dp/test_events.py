#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""Timers, events and refused commands, through the channel (mfwd-ctl), on idle ports.

The dataplane runs with --test-clock: its session timers run only when the test says
(mfwd-ctl clock MS, which also ages the sessions by MS), so no timer fires between two
checks. The limits are a minute and two, far beyond the wall-clock time the test takes, and
the clock jumps past them.

- a session with idle_timeout_ms raises session.idle once; one with timeout_s is removed
  and raises session.timeout; session.removed follows a delete;
- every refusal has its stable code and changes nothing: duplicate id, ingress address and
  port in use (RTCP port included), address not on the port, unknown port, no route, SRTP
  on a kind without RTP, an SRTP key of the wrong length, capacity, unknown session, an ingress change on replace;
- NACK buffers beyond half of the mbufs refused as capacity, in an add and a replace.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Checks, Dataplane  # noqa: E402
from scapy.all import wrpcap  # noqa: E402

T = Checks("events")


def spec(sid, port=5000, kind="udp", **kw):
    s = {"id": sid, "kind": kind,
         "ingress": {"port": 0, "addr": "10.99.1.2", "udp_port": port},
         "outputs": [{"port": 0, "addr": "10.99.1.1", "udp_port": 6000}]}
    s.update(kw)
    return s


def refused(dpl, s, code, what, cmd="add"):
    rc, out = dpl.ctl(cmd, "-", stdin=__import__("json").dumps(s))
    T.check(rc == 1 and out and out[-1].get("error", {}).get("code") == code,
            "%s refused with %s: %s" % (what, code, out))


def idle_dataplane(name, **kw):
    """A dataplane on one pcap port that reads nothing."""
    dpl = Dataplane(name, "", **kw)
    wrpcap(dpl.path("empty.pcap"), [])
    with open(dpl.ports_file, "w") as f:
        f.write("""
[port 0]
vdev = net_pcap_e0,rx_pcap={d}/empty.pcap,tx_pcap={d}/out.pcap
ipv4 = 10.99.1.2/24
neighbour = 10.99.1.1 02:00:00:00:01:01
""".format(d=dpl.dir))
    return dpl


def main():
    dpl = idle_dataplane("events", max_sessions=4, extra_args=("--test-clock",))
    with dpl:
        dpl.ctl("events")                       # drop dataplane.up
        base = dpl.stats()["node"]["commands"]  # the harness's own
        T.eq(dpl.add(spec("idle", limits={"idle_timeout_ms": 60000}))[0], 0, "idle added")
        T.eq(dpl.add(spec("tmo", 5002, limits={"timeout_s": 120}))[0], 0, "tmo added")
        T.eq(dpl.add(spec("rtp", 5004, "rtp"))[0], 0, "rtp added")
        refused(dpl, spec("idle", 5010), "exists", "duplicate id")
        refused(dpl, spec("x", 5000), "address_in_use", "same ingress")
        refused(dpl, spec("x", 5005), "address_in_use", "the RTCP port of session rtp")
        refused(dpl, spec("x", 5010, ingress={"port": 0, "addr": "10.99.1.3", "udp_port": 1}),
                "address_not_available", "address not on the port")
        refused(dpl, spec("x", 5010, ingress={"port": 3, "addr": "10.99.1.2", "udp_port": 1}),
                "no_such_port", "unknown port")
        refused(dpl, spec("x", 5010, outputs=[{"port": 0, "addr": "10.1.1.1", "udp_port": 1}]),
                "no_route", "destination without a gateway")
        key = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwd"
        refused(dpl, spec("x", 5010, "mpegts", ingress={
            "port": 0, "addr": "10.99.1.2", "udp_port": 5010,
            "srtp": {"suite": "AES_CM_128_HMAC_SHA1_80", "key": key}}),
                "bad_value", "SRTP on an MPEG-TS session")
        refused(dpl, spec("x", 5010, "rtp", ingress={
            "port": 0, "addr": "10.99.1.2", "udp_port": 5010,
            "srtp": {"suite": "AEAD_AES_128_GCM", "key": key}}),
                "bad_value", "a 30-byte key for AEAD_AES_128_GCM (28)")
        refused(dpl, spec("x", 5010, colour=1), "unknown_key", "an unknown key")
        refused(dpl, spec("idle", 5012), "invalid", "changing the ingress", "replace")
        refused(dpl, spec("nobody"), "not_found", "replacing an unknown session", "replace")
        T.eq(dpl.add(spec("fourth", 5020))[0], 0, "fourth session fills the capacity")
        refused(dpl, spec("fifth", 5030), "capacity", "a fifth session")
        rc, out = dpl.ctl("del", "nobody")
        T.check(rc == 1 and out[0]["error"]["code"] == "not_found", "deleting an unknown one")
        T.eq(dpl.ctl("del", "fourth")[0], 0, "delete")
        rc, out = dpl.ctl("clock", "30000")
        T.eq(rc, 0, "clock advanced 30 s")
        rc, out = dpl.ctl("list")
        T.eq(sorted(out[0]["sessions"]), ["idle", "rtp", "tmo"], "nothing expired at 30 s")
        T.eq([e["event"] for e in dpl.ctl("events")[1]], ["session.removed"],
             "only the delete's event before the timers are due")
        rc, out = dpl.ctl("clock", "100000")
        rc, out = dpl.ctl("list")
        T.eq(sorted(out[0]["sessions"]), ["idle", "rtp"], "tmo expired at 130 s")
        rc, out = dpl.ctl("get", "idle")
        T.check(rc == 0 and out[0]["session"]["live"]["idle_ms"] >= 130000, "idle time shown")
        T.eq(out[0]["session"]["spec"]["limits"]["idle_timeout_ms"], 60000, "spec returned")
        rc, events = dpl.ctl("events")
        got = [(e["event"], e.get("session")) for e in events]
        T.eq(sorted(got), sorted([("session.idle", "idle"), ("session.timeout", "tmo")]),
             "the timers' events, once each")
        rc, out = dpl.ctl("clock", "x")
        T.check(rc == 1 and out[0]["error"]["code"] == "invalid", "clock refuses a non-number")
        T.eq(dpl.stats()["node"]["commands"] - base, 20, "every command answered once")
    refuse_clock()
    nack_budget()
    T.eq(dpl.rc, 0, "dataplane exited cleanly")
    T.done()


def refuse_clock():
    """Without --test-clock the clock cannot be moved: timers belong to the wall clock."""
    dpl = idle_dataplane("events-clock")
    with dpl:
        rc, out = dpl.ctl("clock", "1000")
        T.check(rc == 1 and "test-clock" in out[0]["error"].get("message", str(out)),
                "clock.advance refused without --test-clock: %s" % out)
    T.eq(dpl.rc, 0, "second dataplane exited cleanly")


def nack_spec(sid, port, n):
    return spec(sid, port, "rtp", outputs=[{"id": "o%d" % i, "port": 0, "addr": "10.99.1.1",
                                            "udp_port": 6000 + 2 * i, "nack": {}}
                                           for i in range(n)])


def nack_budget():
    """NACK rings hold the frames they sent: all of them together at most half of a pool's
    mbufs (8,191 here: 4,095 frames, 15 outputs of 256), in an add and in a replace, and a
    deleted session's rings count no more at once."""
    dpl = idle_dataplane("events-nack")
    with dpl:
        T.eq(dpl.add(nack_spec("n15", 5000, 15))[0], 0, "15 outputs with NACK buffers")
        rc, out = dpl.ctl("add", "-", stdin=__import__("json").dumps(nack_spec("n1", 5010, 1)))
        T.check(rc == 1 and out[-1]["error"]["code"] == "capacity" and
                "NACK" in out[-1]["error"].get("message", ""),
                "one more NACK buffer refused, capacity, saying why: %s" % out)
        refused(dpl, nack_spec("n15", 5000, 16), "capacity", "a 16th output by replace",
                "replace")
        T.eq(len(dpl.ctl("get", "n15")[1][0]["session"]["spec"]["outputs"]), 15,
             "the refused replace changed nothing")
        T.eq(dpl.ctl("del", "n15")[0], 0, "delete")
        T.eq(dpl.add(nack_spec("n1", 5010, 1))[0], 0, "its buffers free at once for another")
    T.eq(dpl.rc, 0, "NACK budget dataplane exited cleanly")


if __name__ == "__main__":
    main()
