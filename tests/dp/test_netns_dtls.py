#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""DTLS-SRTP with OpenSSL's own client (`openssl s_client -dtls1_2 -use_srtp`) as the peer,
network namespaces, the dataplane on net_af_packet.

An rtp-mux session "pub": its ingress is an ICE + DTLS endpoint for a publisher in "src",
its output "viewer" one for a viewer in "dst", its output "plain" a fixed plain-RTP
destination. Each peer nominates its pair with a hand-written check (stunprobe.py), then
runs s_client from that same address and port with its own certificate, whose fingerprint
the spec names; s_client prints the keying material it exported. Then:

- before a handshake the ingress drops media (drop_dtls_wait) and the viewer gets nothing;
  plain RTCP from the viewer's pair (a PLI) is consumed unread, not a key-frame request;
- mfwd's certificate, as s_client saw it, is the one configured (--dtls-cert), whose
  fingerprint node.info gives;
- a second handshake from the publisher (a peer that restarted) replaces its keys; media
  under the old keys still passes (they stay as the previous ones);
- SRTP sent under the client's exported key reaches "plain" decrypted, byte for byte, and
  reaches the viewer protected under the server's key of the viewer's handshake;
- the viewer's ICE restart (an update with new credentials) keeps its DTLS keys;
- a peer whose certificate is not the fingerprint's (session "bad") gets no keys
  (dtls.failed, drop_dtls_fingerprint), its handshake fails on its side too, and its media
  still drops;
- DTLS from an address that nominated nothing is dropped unread (drop_dtls_peer), and so is
  a ClientHello with another random during a handshake (one spoofed from the pair's
  address must not end it), unless that handshake began 5 s before or more;
- meanwhile another session forwards a numbered flow without a loss;
- deleting the session closes its associations: the viewer gets a close_notify alert.
"""
import importlib.util
import json
import os
import re
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import SKIP, Checks, Dataplane  # noqa: E402
from netns import Topology  # noqa: E402

if importlib.util.find_spec("pylibsrtp") is None:
    print("skip: python3-pylibsrtp not installed")
    sys.exit(SKIP)

T = Checks("netns_dtls")
HERE = os.path.dirname(os.path.abspath(__file__))
PY = "/usr/bin/python3"
IN = {"ufrag": "mfin", "pwd": "ingresspassword0123456", "remote_ufrag": "pubr"}
VW = {"ufrag": "mfvw", "pwd": "viewerpassword01234567", "remote_ufrag": "view"}
VW2 = {"ufrag": "mfv2", "pwd": "viewerpassword76543210", "remote_ufrag": "vie2"}
BAD = {"ufrag": "mfbd", "pwd": "badpeerpassword0123456", "remote_ufrag": "badp"}
ZERO_FP = "sha-256 " + ":".join(["00"] * 32)
N = 50
# A ClientHello's first bytes from 10.99.1.1:4099, which nominated nothing.
STRAY = """
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("10.99.1.1", 4099))
s.sendto(bytes.fromhex("16fefd00000000000000000001" "01"), ("10.99.1.2", 5004))
"""
# SRTP from BIND to DST:PORT under KEY (hex: key then salt), N packets numbered in their
# payload; or, with "recv", the datagrams to BIND for IDLE seconds after the first, as hex.
SRTP = """
import json, socket, sys, time
from pylibsrtp import Policy, Session
mode, host, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((host, port))
if mode == "send":
    tx = Session(Policy(key=bytes.fromhex(sys.argv[6]), ssrc_type=Policy.SSRC_ANY_OUTBOUND,
                        srtp_profile=Policy.SRTP_PROFILE_AES128_CM_SHA1_80))
    for i in range(int(sys.argv[7])):
        p = bytes([0x80, 96]) + i.to_bytes(2, "big") + (i * 3000).to_bytes(4, "big") + \\
            (0x5EED).to_bytes(4, "big") + i.to_bytes(4, "big") + bytes(100)
        s.sendto(tx.protect(p), (sys.argv[4], int(sys.argv[5])))
        time.sleep(0.002)
else:
    print("ready", file=sys.stderr, flush=True)
    got = []
    s.settimeout(20)
    try:
        while True:
            got.append(s.recv(2048).hex())
            s.settimeout(float(sys.argv[4]))
    except socket.timeout:
        pass
    print(json.dumps(got))
"""


def fingerprint_of(pem_text):
    r = subprocess.run(["openssl", "x509", "-noout", "-fingerprint", "-sha256"],
                       input=pem_text.encode(), capture_output=True, check=True)
    return "sha-256 " + r.stdout.decode().strip().split("=", 1)[1]


def make_cert(d, name):
    key, crt = os.path.join(d, name + ".key"), os.path.join(d, name + ".pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:P-256", "-nodes", "-keyout", key, "-out", crt,
                    "-days", "2", "-subj", "/CN=" + name], check=True, capture_output=True)
    with open(crt) as f:
        return key, crt, fingerprint_of(f.read())


def pub(fp, vw=VW):
    return {"id": "pub", "kind": "rtp-mux",
            "ingress": {"port": 0, "addr": "10.99.1.2", "udp_port": 5004, "ice": IN,
                        "dtls": {"fingerprint": fp}},
            "outputs": [{"id": "viewer", "port": 1, "src_port": 5006, "ice": vw,
                         "dtls": {"fingerprint": fp}},
                        {"id": "plain", "port": 1, "addr": "10.99.2.1", "udp_port": 7000}]}


def sessions(fp):
    return [pub(fp), {"id": "bad", "kind": "rtp-mux",
             "ingress": {"port": 0, "addr": "10.99.1.2", "udp_port": 5008, "ice": BAD,
                         "dtls": {"fingerprint": ZERO_FP}}},
            {"id": "other", "kind": "rtp",
             "ingress": {"port": 0, "addr": "10.99.1.2", "udp_port": 5100},
             "outputs": [{"port": 1, "addr": "10.99.2.1", "udp_port": 7100}]}]


MID = {"ufrag": "mfmd", "pwd": "midpeerpassword0123456", "remote_ufrag": "midp"}
# The first datagram to 10.99.1.1:5999 (an s_client's ClientHello), as hex.
CATCH = """
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("10.99.1.1", 5999))
print("ready", flush=True)
s.settimeout(20)
print(s.recv(4096).hex(), flush=True)
"""
# Each argument a datagram in hex, from 10.99.1.1:4012 to mfwd's 5012.
SEND = """
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("10.99.1.1", 4012))
for h in sys.argv[1:]:
    s.sendto(bytes.fromhex(h), ("10.99.1.2", 5012))
"""

# A plain PLI (RFC 4585) for the publisher's SSRC, from the viewer's pair 10.99.2.1:7006.
PLI = """
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("10.99.2.1", 7006))
s.sendto(bytes.fromhex("81ce0002" "0000beef" "00005eed"), ("10.99.2.2", 5006))
"""


def hello_mid_handshake(topo, dpl, fp, key, crt):
    """A handshake under way, and a ClientHello with another random from the pair's address
    (spoofed) right after: dropped unread, not a restart that would end the handshake (the
    peer, which has our ServerHello, would never send another hello). One begun 5 s before
    gives way (a spoofed hello holds a real peer off for 5 s at most)."""
    rc, out = dpl.add({"id": "mid", "kind": "rtp-mux",
                       "ingress": {"port": 0, "addr": "10.99.1.2", "udp_port": 5012,
                                   "ice": MID, "dtls": {"fingerprint": fp}}})
    T.eq(rc, 0, "session mid: %s" % out)
    T.check(nominate(topo, topo.src, "10.99.1.2", 5012, "mfmd:midp", MID["pwd"], 4012),
            "mid's peer nominated 10.99.1.1:4012")
    catch = topo.popen(topo.src, PY, "-c", CATCH, stdout=subprocess.PIPE, text=True)
    T.eq(catch.stdout.readline().strip(), "ready", "a catcher for s_client's ClientHello")
    client = topo.popen(topo.src, "openssl", "s_client", "-dtls1_2", "-connect",
                        "10.99.1.1:5999", "-use_srtp", "SRTP_AES128_CM_SHA1_80", "-cert", crt,
                        "-key", key, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                        stderr=subprocess.DEVNULL)
    hello = catch.communicate(timeout=30)[0].strip()
    client.kill()
    client.wait(timeout=10)
    T.check(len(hello) > 120 and hello[:2] == "16", "s_client's ClientHello caught")
    # The node's DTLS counters reach the stats area within a second: from here on they
    # move only for what this sends.
    n0 = dpl.stats()["node"]
    for _ in range(20):
        time.sleep(1.2)
        n = dpl.stats()["node"]
        if all(n[k] == n0[k] for k in ("dtls_handled", "drop_dtls_peer")):
            break
        n0 = n
    other = bytearray(bytes.fromhex(hello))
    other[13 + 12 + 2 + 5] ^= 0xff		# a byte of its random
    topo.run(topo.src, PY, "-c", SEND, hello, other.hex(), timeout=20)
    n1 = dpl.wait_for(lambda s: s["node"]["dtls_handled"] > n0["dtls_handled"] and
                      s["node"]["drop_dtls_peer"] > n0["drop_dtls_peer"],
                      what="both ClientHellos read")["node"]
    T.eq((n1["dtls_handled"] - n0["dtls_handled"], n1["drop_dtls_peer"] - n0["drop_dtls_peer"]),
         (1, 1), "a ClientHello read, a new one right after it dropped, not a restart")
    # A handshake begun 5 s before (by a spoofed hello, perhaps) gives way to a new one.
    time.sleep(5.5)
    other[13 + 12 + 2 + 6] ^= 0xff
    topo.run(topo.src, PY, "-c", SEND, other.hex(), timeout=20)
    n2 = dpl.wait_for(lambda s: s["node"]["dtls_handled"] > n1["dtls_handled"] or
                      s["node"]["drop_dtls_peer"] > n1["drop_dtls_peer"],
                      what="the third ClientHello read")["node"]
    T.eq((n2["dtls_handled"] - n1["dtls_handled"], n2["drop_dtls_peer"] - n1["drop_dtls_peer"]),
         (1, 0), "a handshake begun 5 s before gives way to a new ClientHello")
    rc, _ = dpl.ctl("del", "mid")
    T.eq(rc, 0, "session mid deleted")


def nominate(topo, ns, dst, port, user, pwd, bind):
    r = topo.run(ns, PY, os.path.join(HERE, "stunprobe.py"), dst, str(port), "--user", user,
                 "--pwd", pwd, "--use-candidate", "--bind", str(bind), capture_output=True,
                 timeout=20)
    got = json.loads(r.stdout.decode() or "{}")
    return got.get("answer", True) and got.get("error") == 0


def handshake(topo, ns, me, bind, dst, port, key, crt):
    """s_client from @me:@bind: @return (the exported keying material, mfwd's certificate
    as PEM), either None if the handshake did not finish; and what s_client said on stderr
    (it prints keying material when our side refused too: an alert shows there)."""
    r = topo.run(ns, "openssl", "s_client", "-dtls1_2", "-bind", "%s:%d" % (me, bind),
                 "-connect", "%s:%d" % (dst, port), "-use_srtp", "SRTP_AES128_CM_SHA1_80",
                 "-keymatexport", "EXTRACTOR-dtls_srtp", "-keymatexportlen", "60",
                 "-cert", crt, "-key", key, "-showcerts", stdin=subprocess.DEVNULL,
                 capture_output=True, timeout=30)
    out = r.stdout.decode(errors="replace")
    km = re.search(r"Keying material: ([0-9A-Fa-f]+)", out)
    pem = re.search(r"-----BEGIN CERTIFICATE-----.*?-----END CERTIFICATE-----", out, re.S)
    if km is None:
        print("s_client said: %s\n%s" % (out[-1500:], r.stderr.decode()[-800:]))
    return ((bytes.fromhex(km.group(1)) if km else None), (pem.group(0) if pem else None),
            r.stderr.decode(errors="replace"))


def client_key(km):
    """RFC 5764 §4.2: client key, server key, client salt, server salt (16, 16, 14, 14)."""
    return km[0:16] + km[32:46]


def server_key(km):
    return km[16:32] + km[46:60]


def decrypt(hexes, key):
    from pylibsrtp import Policy, Session
    rx = Session(Policy(key=key, ssrc_type=Policy.SSRC_ANY_INBOUND,
                        srtp_profile=Policy.SRTP_PROFILE_AES128_CM_SHA1_80))
    out = []
    for h in hexes:
        try:
            out.append(rx.unprotect(bytes.fromhex(h)))
        except Exception:
            pass
    return out


def receiver(topo, addr, port):
    p = topo.popen(topo.dst, PY, "-c", SRTP, "recv", addr, str(port), "1.5",
                   stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if p.stderr.readline().strip() != b"ready":
        raise RuntimeError("receiver did not start")
    return p


def plain_feedback(topo, dpl):
    """Plain RTCP from the viewer's pair before its handshake: anyone's who can spoof that
    address. A PLI for the source's SSRC must not become a key-frame request."""
    before = dpl.stats()["sessions"]["pub"]
    topo.run(topo.dst, PY, "-c", PLI, timeout=20)
    st = dpl.wait_for(lambda s: s["sessions"]["pub"]["outputs"]["viewer"]["fb_rtcp"] >
                      before["outputs"]["viewer"]["fb_rtcp"], what="the plain PLI")
    now = st["sessions"]["pub"]
    T.eq((now["kf_req_received"] - before["kf_req_received"],
          now["outputs"]["viewer"]["fb_pli"] - before["outputs"]["viewer"]["fb_pli"]), (0, 0),
         "plain RTCP to a DTLS output before its handshake is consumed unread")


def main():
    d = tempfile.mkdtemp(prefix="mfwd-dtls-")
    key, crt, fp = make_cert(d, "peer")
    bkey, bcrt, _ = make_cert(d, "other")
    nkey, ncrt, nfp = make_cert(d, "node")
    with Topology("dl", ("10.99.2.1",)) as topo:
        with Dataplane("netnsdtls", topo.ports_conf(), sessions=sessions(fp),
                       extra_args=("--dtls-cert", ncrt, "--dtls-key", nkey)) as dpl:
            ours = dpl.ctl("info")[1][0].get("dtls_fingerprint", "")
            T.eq(ours, nfp, "node.info gives the configured certificate's fingerprint")
            T.check(nominate(topo, topo.src, "10.99.1.2", 5004, "mfin:pubr", IN["pwd"], 4000),
                    "publisher nominated 10.99.1.1:4000")
            topo.run(topo.src, PY, "-c", SRTP, "send", "10.99.1.1", "4000", "10.99.1.2",
                     "5004", "00" * 30, "5", timeout=20)
            st = dpl.wait_for(lambda s: s["sessions"]["pub"]["drop_dtls_wait"] >= 5,
                              what="media before the handshake dropped")
            T.eq(st["sessions"]["pub"]["drop_dtls_wait"], 5,
                 "before its handshake the ingress drops media")

            km_old, pem, _ = handshake(topo, topo.src, "10.99.1.1", 4000, "10.99.1.2", 5004, key,
                                    crt)
            T.check(km_old is not None and len(km_old) == 60, "publisher's handshake done")
            # The peer starts again (a new ClientHello): the new keys replace the old.
            km_in, _, _ = handshake(topo, topo.src, "10.99.1.1", 4000, "10.99.1.2", 5004, key, crt)
            T.check(km_in is not None and km_in != km_old, "a second handshake, new keys")
            # Media still under the old keys (sent before the peer had our last flight)
            # passes: the old keys stay as the previous ones, as after an SDES re-key.
            if km_old is not None:
                topo.run(topo.src, PY, "-c", SRTP, "send", "10.99.1.1", "4000", "10.99.1.2",
                         "5004", client_key(km_old).hex(), "3", timeout=20)
                st = dpl.wait_for(lambda s: s["sessions"]["pub"]["outputs"]["plain"]["tx_pkts"]
                                  >= 3 or s["sessions"]["pub"]["drop_srtp_auth"] > 0,
                                  what="media under the old keys read")
                T.eq((st["sessions"]["pub"]["outputs"]["plain"]["tx_pkts"],
                      st["sessions"]["pub"]["drop_srtp_auth"]), (3, 0),
                     "media under the first handshake's keys still passes after the second")
            T.eq(fingerprint_of(pem) if pem else None, ours,
                 "the certificate s_client saw is node.info's")
            T.check(nominate(topo, topo.dst, "10.99.2.2", 5006, "mfvw:view", VW["pwd"], 7006),
                    "viewer nominated 10.99.2.1:7006")
            plain_feedback(topo, dpl)
            km_vw, _, _ = handshake(topo, topo.dst, "10.99.2.1", 7006, "10.99.2.2", 5006, key,
                                 crt)
            T.check(km_vw is not None, "viewer's handshake done")
            st = dpl.wait_for(lambda s: s["node"]["dtls_connected"] >= 3,
                              what="three handshakes")
            T.eq(st["node"]["dtls_connected"], 3, "node: keys given three times")

            # The wrong certificate, and DTLS from nowhere, while another session forwards.
            flow = topo.flow_start(os.path.join(d, "stop"))
            T.check(nominate(topo, topo.src, "10.99.1.2", 5008, "mfbd:badp", BAD["pwd"], 4008),
                    "bad peer nominated 10.99.1.1:4008")
            said = handshake(topo, topo.src, "10.99.1.1", 4008, "10.99.1.2", 5008, bkey, bcrt)[2]
            T.check("SSL alert number" in said, "the peer with the wrong certificate is told: "
                    "an alert, not a handshake it takes for done (%s)" % said[-300:])
            topo.run(topo.src, PY, "-c", STRAY, timeout=20)
            hello_mid_handshake(topo, dpl, fp, key, crt)
            st = dpl.wait_for(lambda s: s["node"]["drop_dtls_fingerprint"] >= 1,
                              what="the wrong certificate refused")
            T.eq(st["node"]["drop_dtls_fingerprint"], 1, "the wrong certificate is refused")
            T.check(st["node"]["drop_dtls_peer"] >= 1,
                    "DTLS from a pair nobody nominated dropped (%d)" % st["node"]["drop_dtls_peer"])
            T.eq(st["node"]["dtls_connected"], 3, "and neither got keys")
            sent, got = topo.flow_end(flow)
            T.check(sent > 50 and got["received"][0] == sent and got["lost"][0] == 0,
                    "another session forwarded its %d numbered packets meanwhile (%s)" %
                    (sent, got))

            # An ICE restart of the viewer (new credentials, the same fingerprint): its pair
            # goes until it nominates again, its DTLS keys stay (no new ClientHello comes).
            rc, _ = dpl.ctl("replace", "-", stdin=json.dumps(pub(fp, VW2)))
            T.eq(rc, 0, "the viewer's ICE restarted by an update")
            T.check(nominate(topo, topo.dst, "10.99.2.2", 5006, "mfv2:vie2", VW2["pwd"], 7006),
                    "viewer nominated again under its new credentials")

            if km_in is not None and km_vw is not None:
                plain = receiver(topo, "10.99.2.1", 7000)
                viewer = receiver(topo, "10.99.2.1", 7006)
                topo.run(topo.src, PY, "-c", SRTP, "send", "10.99.1.1", "4000", "10.99.1.2",
                         "5004", client_key(km_in).hex(), str(N), timeout=30)
                topo.run(topo.src, PY, "-c", SRTP, "send", "10.99.1.1", "4008", "10.99.1.2",
                         "5008", client_key(km_in).hex(), "3", timeout=30)
                got_plain = json.loads(plain.communicate(timeout=30)[0] or "[]")
                got_view = json.loads(viewer.communicate(timeout=30)[0] or "[]")
                nums = [int.from_bytes(bytes.fromhex(h)[12:16], "big") for h in got_plain]
                T.eq(nums, list(range(N)), "plain output: the publisher's SRTP, decrypted")
                clear = decrypt(got_view, server_key(km_vw))
                T.eq([int.from_bytes(p[12:16], "big") for p in clear], list(range(N)),
                     "viewer, after its ICE restart: every packet, under its handshake's "
                     "server key")
                st = dpl.stats()
                T.eq(st["sessions"]["pub"]["drop_srtp_auth"], 0, "no SRTP refused")
                T.eq(st["sessions"]["bad"]["drop_dtls_wait"], 3,
                     "the refused peer's media still drops")
                # The session goes: each finished association is closed (close_notify).
                viewer = receiver(topo, "10.99.2.1", 7006)
                rc, _ = dpl.ctl("del", "pub")
                T.eq(rc, 0, "session pub deleted")
                got = json.loads(viewer.communicate(timeout=30)[0] or "[]")
                T.check(len(got) == 1 and got[0][:2] == "15",
                        "the viewer got one DTLS alert, the close_notify (%s)" % got[:2])
            if T.failed:
                print(dpl.tail())
    T.eq(dpl.rc, 0, "dataplane exited cleanly")
    T.done()


if __name__ == "__main__":
    main()
