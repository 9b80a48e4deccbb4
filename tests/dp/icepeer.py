#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""A real, third-party ICE peer for the tests: libnice (the ICE agent of GStreamer's
webrtcbin and of Janus) driven through GObject introspection. A full agent in the
controlling role (RFC 5245 compatibility, regular nomination) with one UDP host candidate,
against mfwd's ICE-lite endpoint: it checks, nominates with USE-CANDIDATE, then sends RTP
through the agent and/or counts the RTP it receives.

  icepeer.py --bind ADDR[:PORT] --remote ADDR:PORT --local-ufrag U --local-pwd P
             --remote-ufrag U --remote-pwd P [--send-rtp N --pps R --ssrc S --pt PT]
             [--expect-rtp N] [--timeout S] [--consent|--no-consent]
             [--keepalive-conncheck] [--aggressive] [--stop-after-ready]

An IPv6 ADDR with a port is written [ADDR]:PORT. Prints JSON lines, flushed:
{"event": "state", "state": ...}, {"event": "selected", "local", "remote"}, {"event":
"sent", "n"} when the sending is over, {"event": "received", "n", "ssrcs"} every 100
packets, and last {"event": "done", "ready", "state" (the last), "sent", "received"}.
Exits 0 when the agent became ready (and, with --send-rtp N, sent N; with --expect-rtp N,
received at least N RTP/RTCP datagrams before --timeout), else 1.

Without --stop-after-ready it leaves as soon as there is nothing left to do; with it, it
stays, silent but for libnice's own consent checks or keepalives, until --timeout.

nice_agent_send() (its buffer is typed as a UTF-8 string) and nice_agent_attach_recv() (a
callback) cannot carry binary datagrams through GObject introspection, so those two are
called through ctypes on the same agent; everything else goes through gi.
"""
import argparse
import ctypes
import json
import struct
import sys
import time

import gi

gi.require_version("Nice", "0.1")
from gi.repository import GLib, Nice  # noqa: E402

COMPONENT = 1
RTP_PAYLOAD = 160
STATES = {Nice.ComponentState.DISCONNECTED: "disconnected",
          Nice.ComponentState.GATHERING: "gathering",
          Nice.ComponentState.CONNECTING: "connecting",
          Nice.ComponentState.CONNECTED: "connected",
          Nice.ComponentState.READY: "ready",
          Nice.ComponentState.FAILED: "failed"}
RECV_FUNC = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_uint, ctypes.c_uint,
                             ctypes.c_uint, ctypes.c_void_p, ctypes.c_void_p)


def emit(**kw):
    print(json.dumps(kw), flush=True)


def hostport(s, default_port=None):
    """ADDR, ADDR:PORT, IPv6 ADDR or [ADDR]:PORT."""
    if s.startswith("["):
        host, _, port = s[1:].partition("]")
        return host, int(port[1:]) if port else default_port
    if s.count(":") != 1:
        return s, default_port
    host, _, port = s.partition(":")
    return host, int(port)


def addr_str(cand):
    host = cand.addr.dup_string()
    return ("[%s]:%d" if ":" in host else "%s:%d") % (host, cand.addr.get_port())


class CNice:
    """The two calls gi cannot make, on the C agent behind a gi Nice.Agent."""

    def __init__(self, agent):
        lib = ctypes.CDLL("libnice.so.10")
        self.send_fn = lib.nice_agent_send
        self.send_fn.argtypes = [ctypes.c_void_p, ctypes.c_uint, ctypes.c_uint, ctypes.c_uint,
                                 ctypes.c_char_p]
        self.send_fn.restype = ctypes.c_int
        self.attach_fn = lib.nice_agent_attach_recv
        self.attach_fn.argtypes = [ctypes.c_void_p, ctypes.c_uint, ctypes.c_uint,
                                   ctypes.c_void_p, RECV_FUNC, ctypes.c_void_p]
        self.attach_fn.restype = ctypes.c_int
        glib = ctypes.CDLL("libglib-2.0.so.0")
        glib.g_main_context_default.restype = ctypes.c_void_p
        self.ctx = glib.g_main_context_default()
        self.ptr = gobject_pointer(agent)
        self.cb = None

    def send(self, sid, data):
        return self.send_fn(self.ptr, sid, COMPONENT, len(data), data)

    def attach_recv(self, sid, func):
        """Call func(bytes) for every datagram the agent delivers (not STUN)."""
        self.cb = RECV_FUNC(lambda a, s, c, n, buf, u: func(ctypes.string_at(buf, n)))
        return self.attach_fn(self.ptr, sid, COMPONENT, self.ctx, self.cb, None)

    def detach_recv(self, sid):
        self.attach_fn(self.ptr, sid, COMPONENT, self.ctx, RECV_FUNC(), None)


def gobject_pointer(obj):
    api = ctypes.pythonapi
    api.PyCapsule_GetName.restype = ctypes.c_char_p
    api.PyCapsule_GetName.argtypes = [ctypes.py_object]
    api.PyCapsule_GetPointer.restype = ctypes.c_void_p
    api.PyCapsule_GetPointer.argtypes = [ctypes.py_object, ctypes.c_char_p]
    cap = obj.__gpointer__
    return api.PyCapsule_GetPointer(cap, api.PyCapsule_GetName(cap))


def make_agent(a):
    flags = Nice.AgentOption.NONE
    if not a.aggressive:
        flags |= Nice.AgentOption.REGULAR_NOMINATION
    if a.consent:
        flags |= Nice.AgentOption.CONSENT_FRESHNESS
    agent = Nice.Agent.new_full(GLib.MainContext.default(), Nice.Compatibility.RFC5245, flags)
    agent.set_property("controlling-mode", True)
    agent.set_property("ice-tcp", False)
    agent.set_property("ice-udp", True)
    agent.set_property("upnp", False)
    agent.set_property("keepalive-conncheck", a.keepalive_conncheck)
    return agent


def rtp_packet(a, n):
    hdr = struct.pack("!BBHII", 0x80, a.pt & 0x7F, n & 0xFFFF, (n * 3000) & 0xFFFFFFFF,
                      a.ssrc)
    return hdr + struct.pack("!I", n) + bytes(RTP_PAYLOAD - 4)


def rtp_ssrc(data):
    """The SSRC of an RTP packet, the sender's of an RTCP one, or None when too short."""
    if 200 <= data[1] <= 206:
        return struct.unpack("!I", data[4:8])[0] if len(data) >= 8 else None
    return struct.unpack("!I", data[8:12])[0] if len(data) >= 12 else None


class Peer:
    def __init__(self, a):
        self.a = a
        self.loop = GLib.MainLoop()
        self.ready = False
        self.state = "disconnected"
        self.tried = self.sent = self.received = 0
        self.ssrcs = set()
        self.sending_done = a.send_rtp == 0
        self.t0 = 0.0
        self.agent = make_agent(a)
        self.c = CNice(self.agent)
        self.sid = self.add_stream()
        self.agent.connect("component-state-changed", self.on_state)
        self.agent.connect("new-selected-pair-full", self.on_pair)
        self.agent.connect("candidate-gathering-done", self.on_gathered)
        self.c.attach_recv(self.sid, self.on_recv)

    def add_stream(self):
        host, port = hostport(self.a.bind, 0)
        addr = Nice.Address.new()
        if not addr.set_from_string(host):
            sys.exit("bad --bind address %r" % host)
        self.agent.add_local_address(addr)
        sid = self.agent.add_stream(1)
        if port:
            self.agent.set_port_range(sid, COMPONENT, port, port)
        self.agent.set_local_credentials(sid, self.a.local_ufrag, self.a.local_pwd)
        self.agent.set_remote_credentials(sid, self.a.remote_ufrag, self.a.remote_pwd)
        return sid

    def run(self):
        if not self.agent.gather_candidates(self.sid):
            emit(event="state", state="failed", why="gather_candidates")
            return 1
        GLib.timeout_add(int(self.a.timeout * 1000), self.loop.quit)
        self.loop.run()
        self.c.detach_recv(self.sid)
        if self.received % 100:
            self.emit_received()
        emit(event="done", ready=self.ready, state=self.state, sent=self.sent,
             received=self.received)
        ok = (self.ready and self.sent >= self.a.send_rtp and
              self.received >= self.a.expect_rtp)
        return 0 if ok else 1

    def on_gathered(self, agent, sid):
        host, port = hostport(self.a.remote)
        line = "a=candidate:1 %d UDP %d %s %d typ host" % (COMPONENT, self.a.remote_priority,
                                                           host, port)
        cand = agent.parse_remote_candidate_sdp(sid, line)
        if cand is None or agent.set_remote_candidates(sid, COMPONENT, [cand]) != 1:
            emit(event="state", state="failed", why="remote candidate %r" % line)
            self.loop.quit()

    def on_state(self, agent, sid, cid, state):
        self.state = STATES.get(state, str(state))
        emit(event="state", state=self.state)
        if state == Nice.ComponentState.READY and not self.ready:
            self.ready = True
            self.start_sending()
            self.maybe_quit()
        elif state == Nice.ComponentState.FAILED:
            self.loop.quit()

    def on_pair(self, agent, sid, cid, local, remote):
        emit(event="selected", local=addr_str(local), remote=addr_str(remote))

    def start_sending(self):
        if self.sending_done:
            return
        self.t0 = time.monotonic()
        GLib.timeout_add(max(1, int(1000 / self.a.pps)), self.send_tick)

    def send_tick(self):
        """Send what is due at --pps since the first: GLib's timer drifts, the count won't."""
        due = min(self.a.send_rtp, int((time.monotonic() - self.t0) * self.a.pps) + 1)
        while self.tried < due:
            if self.c.send(self.sid, rtp_packet(self.a, self.tried)) > 0:
                self.sent += 1
            self.tried += 1
        if self.tried < self.a.send_rtp:
            return True
        emit(event="sent", n=self.sent)
        self.sending_done = True
        self.maybe_quit()
        return False

    def on_recv(self, data):
        if not data or not 0x80 <= data[0] <= 0xBF:
            return
        self.received += 1
        ssrc = rtp_ssrc(data)
        if ssrc is not None:
            self.ssrcs.add(ssrc)
        if self.received % 100 == 0:
            self.emit_received()
        self.maybe_quit()

    def emit_received(self):
        emit(event="received", n=self.received, ssrcs=sorted(self.ssrcs))

    def maybe_quit(self):
        if (self.ready and self.sending_done and self.received >= self.a.expect_rtp and
                not self.a.stop_after_ready):
            self.loop.quit()


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--bind", required=True, help="host candidate ADDR[:PORT]")
    p.add_argument("--remote", required=True, help="lite peer's ADDR:PORT")
    p.add_argument("--local-ufrag", required=True)
    p.add_argument("--local-pwd", required=True, help="22 characters or more (RFC 8445)")
    p.add_argument("--remote-ufrag", required=True)
    p.add_argument("--remote-pwd", required=True)
    p.add_argument("--remote-priority", type=int, default=2130706431,
                   help="the remote host candidate's priority (type 126, local 65535)")
    p.add_argument("--send-rtp", type=int, default=0, metavar="N")
    p.add_argument("--pps", type=float, default=200)
    p.add_argument("--ssrc", type=lambda s: int(s, 0), default=0x1234)
    p.add_argument("--pt", type=int, default=96)
    p.add_argument("--expect-rtp", type=int, default=0, metavar="N")
    p.add_argument("--timeout", type=float, default=20, help="seconds, in all")
    p.add_argument("--consent", action=argparse.BooleanOptionalAction, default=True,
                   help="RFC 7675 consent checks after ready (libnice consent-freshness)")
    p.add_argument("--keepalive-conncheck", action="store_true",
                   help="without --consent, keepalives as Binding requests (every 4-6 s, "
                   "FAILED after 50 s unanswered), not indications every 25 s")
    p.add_argument("--aggressive", action="store_true",
                   help="aggressive nomination (USE-CANDIDATE on every check)")
    p.add_argument("--stop-after-ready", action="store_true",
                   help="once ready and sent, stay silent until --timeout")
    return p.parse_args(argv)


def main():
    sys.exit(Peer(parse_args()).run())


if __name__ == "__main__":
    main()
