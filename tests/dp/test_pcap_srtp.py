#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""Exact pcap test of SRTP/SRTCP through the dataplane, with libsrtp2 (pylibsrtp, Debian's
libsrtp2) as the reference that makes and checks every packet.

Port 0 (10.99.1.2) reads in0.pcap; port 1 writes out1.pcap towards 10.99.2.1.
  "dec"   SRTP -> RTP, AES_CM_128_HMAC_SHA1_80: 20 packets across the sequence wrap (ROC
          0 -> 1), an SRTCP SR, one replayed packet, 7 packets under a wrong key and one
          with a cut tag. Output: the plaintext, byte for byte.
  "enc"   RTP -> SRTP, AEAD_AES_128_GCM: output byte-identical to libsrtp2's protect of
          the same packets (SRTP and SRTCP); a packet the tag pushes over the MTU is counted
          (its port says fragment = no).
  "relay" SRTP (AEAD_AES_256_GCM) -> r1 SRTP AES_CM_128_HMAC_SHA1_32 with an SSRC rewrite,
          r2 SRTP AES_CM_128_HMAC_SHA1_80 (byte-identical to libsrtp2), r3 plain RTP.
  "kf"    SRTP H.264 P slices to an output waiting for a key frame: the PLI mfwd sends the
          source is SRTCP under the ingress key, which libsrtp2 opens; after a restart
          with the same key, the source's libsrtp2 session opens the new PLI too (a new
          SSRC of ours: no index used before under the key).
Counters: auth and replay failures per session and node; keys never in replies, stats or
the log; SRTP on a non-RTP kind is refused.
"""
import base64
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import SKIP, Checks, Dataplane  # noqa: E402
from scapy.all import IP, UDP, Ether, Raw, rdpcap, wrpcap  # noqa: E402

try:
    from pylibsrtp import Error as SrtpError, Policy, Session
except ImportError:
    print("skip: python3-pylibsrtp (libsrtp2 for Python) not installed")
    sys.exit(SKIP)

T = Checks("pcap_srtp")
SRC_MAC, DP_MAC = "02:00:00:00:01:01", "02:00:00:00:00:aa"
SRC, DST, OUT = "10.99.1.1", "10.99.1.2", "10.99.2.1"
PROFILES = {
    "AES_CM_128_HMAC_SHA1_80": (Policy.SRTP_PROFILE_AES128_CM_SHA1_80, 30),
    "AES_CM_128_HMAC_SHA1_32": (Policy.SRTP_PROFILE_AES128_CM_SHA1_32, 30),
    "AEAD_AES_128_GCM": (Policy.SRTP_PROFILE_AEAD_AES_128_GCM, 28),
    "AEAD_AES_256_GCM": (Policy.SRTP_PROFILE_AEAD_AES_256_GCM, 44),
}
KEYS = {name: os.urandom(PROFILES[suite][1]) for name, suite in (
    ("A", "AES_CM_128_HMAC_SHA1_80"), ("B", "AEAD_AES_128_GCM"), ("C", "AEAD_AES_256_GCM"),
    ("D", "AES_CM_128_HMAC_SHA1_32"), ("E", "AES_CM_128_HMAC_SHA1_80"),
    ("W", "AES_CM_128_HMAC_SHA1_80"), ("K", "AES_CM_128_HMAC_SHA1_80"))}
SUITE = {"A": "AES_CM_128_HMAC_SHA1_80", "B": "AEAD_AES_128_GCM", "C": "AEAD_AES_256_GCM",
         "D": "AES_CM_128_HMAC_SHA1_32", "E": "AES_CM_128_HMAC_SHA1_80",
         "W": "AES_CM_128_HMAC_SHA1_80", "K": "AES_CM_128_HMAC_SHA1_80"}

PORTS = """
[port 0]
vdev = net_pcap_s0,rx_pcap={d}/in0.pcap,tx_pcap={d}/out0.pcap
ipv4 = 10.99.1.2/24
neighbour = 10.99.1.1 02:00:00:00:01:01
[port 1]
vdev = net_pcap_s1,rx_pcap={d}/in1.pcap,tx_pcap={d}/out1.pcap
ipv4 = 10.99.2.2/24
neighbour = 10.99.2.1 02:00:00:00:02:01
# A network that must never see fragments: over the MTU is dropped (drop_mtu).
fragment = no
"""


def srtp_json(k):
    return {"suite": SUITE[k], "key": base64.b64encode(KEYS[k]).decode()}


def session(k, outbound):
    kind = Policy.SSRC_ANY_OUTBOUND if outbound else Policy.SSRC_ANY_INBOUND
    return Session(Policy(key=KEYS[k], ssrc_type=kind, srtp_profile=PROFILES[SUITE[k]][0]))


def rtp(seq, ssrc, n=160):
    return (bytes([0x80, 96]) + seq.to_bytes(2, "big") + (seq * 3000 & 0xffffffff).to_bytes(4, "big")
            + ssrc.to_bytes(4, "big") + bytes([(seq * 7 + i) & 0xff for i in range(n)]))


def sr(ssrc):
    return (bytes([0x80, 200, 0, 6]) + ssrc.to_bytes(4, "big") + bytes(8)
            + (123456).to_bytes(4, "big") + (25).to_bytes(4, "big") + (4000).to_bytes(4, "big"))


def frame(dport, payload):
    return Ether(src=SRC_MAC, dst=DP_MAC) / IP(src=SRC, dst=DST) / UDP(sport=4000, dport=dport) / Raw(payload)


def build_inputs(d):
    """The input pcap, and what each output must carry."""
    pkts, want = [], {}
    # dec: across the wrap, SRTCP, a replay, wrong key, cut tag
    tx = session("A", True)
    plain = [rtp((65526 + i) & 0xffff, 0x1111) for i in range(20)]
    prot = [tx.protect(p) for p in plain]
    pkts += [frame(5004, p) for p in prot[:10]]
    pkts.append(frame(5004, prot[4]))                               # replay
    pkts += [frame(5004, p) for p in prot[10:]]
    pkts.append(frame(5005, tx.protect_rtcp(sr(0x1111))))
    wrong = session("W", True)
    pkts += [frame(5004, wrong.protect(rtp(10 + i, 0x1111))) for i in range(7)]
    cut = tx.protect(rtp(30, 0x1111))
    pkts.append(frame(5004, cut[:-5]))
    want["dec"] = plain
    want["dec_rtcp"] = sr(0x1111)
    # enc: plain in, libsrtp2's GCM out
    plain = [rtp(100 + i, 0x2222) for i in range(10)]
    ref = session("B", True)
    pkts += [frame(5010, p) for p in plain]
    pkts.append(frame(5011, sr(0x2222)))
    pkts.append(frame(5010, rtp(200, 0x2222, n=1458)))      # IP 1498 B; with the tag, 1514
    want["enc"] = [ref.protect(p) for p in plain]
    want["enc_rtcp"] = ref.protect_rtcp(sr(0x2222))
    # relay: GCM-256 in, three outputs
    tx = session("C", True)
    plain = [rtp(4000 + i, 0x3333, n=1000 if i % 3 == 0 else 160) for i in range(10)]
    pkts += [frame(5020, tx.protect(p)) for p in plain]
    pkts.append(frame(5021, tx.protect_rtcp(sr(0x3333))))
    ref = session("E", True)
    want["relay_plain"] = plain
    want["r2"] = [ref.protect(p) for p in plain]
    want["r2_rtcp"] = ref.protect_rtcp(sr(0x3333))
    # kf: H.264 P slices (NAL header 0x41), none a key frame
    tx = session("K", True)
    for i in range(5):
        p = bytearray(rtp(300 + i, 0x4444))
        p[12] = 0x41
        pkts.append(frame(5040, tx.protect(bytes(p))))
    wrpcap(os.path.join(d, "in0.pcap"), pkts)
    wrpcap(os.path.join(d, "in1.pcap"), [])
    return len(pkts), want


def the_pli(out0):
    """The one packet to the kf source (from 5041), checked as its PLI: @return its bytes."""
    got = [p for p in out0 if UDP in p and p[UDP].sport == 5041]
    T.eq(len(got), 1, "kf: one PLI to the source")
    if not got:
        return b""
    T.eq((got[0][IP].dst, got[0][UDP].dport), (SRC, 4001), "kf: to its RTP port + 1")
    return bytes(got[0][UDP].payload)


def check_pli(rx, pli, what):
    """The PLI opens with the source's libsrtp2 session @rx (ingress key): @return our SSRC."""
    try:
        plain = rx.unprotect_rtcp(pli)
    except SrtpError as e:
        plain = repr(e)
    T.eq((plain[:4], plain[8:]), (bytes([0x81, 206, 0, 2]), (0x4444).to_bytes(4, "big")),
         "kf: libsrtp2 opens the PLI %s (SRTCP, ingress key): %r" % (what, plain))
    return plain[4:8]


def restarted(first):
    """The dataplane restarted with the kf session as its journal gives it back, the same
    key: its PLI is new to the source's SRTCP session that opened the first (@first): a
    new SSRC of ours, so neither a keystream used before nor an index its replay window
    refuses."""
    dpl = Dataplane("pcapsrtp2", "", sessions=[x for x in sessions() if x["id"] == "kf"])
    tx = session("K", True)
    pkts = []
    for i in range(5, 10):
        p = bytearray(rtp(300 + i, 0x4444))
        p[12] = 0x41
        pkts.append(frame(5040, tx.protect(bytes(p))))
    wrpcap(os.path.join(dpl.dir, "in0.pcap"), pkts)
    wrpcap(os.path.join(dpl.dir, "in1.pcap"), [])
    with open(dpl.ports_file, "w") as f:
        f.write(PORTS.format(d=dpl.dir))
    with dpl:
        dpl.wait_for(lambda s: s["sessions"]["kf"]["rx_pkts"] == 5 and
                     s["sessions"]["kf"]["kf_req_sent"] == 1, what="kf read again")
    T.eq(dpl.rc, 0, "restarted dataplane exited cleanly")
    rx = session("K", False)
    ours = check_pli(rx, first, "before the restart")
    T.check(check_pli(rx, the_pli(rdpcap(dpl.path("out0.pcap"))), "after it") != ours,
            "kf: our SSRC is new after the restart")


def sessions():
    out = lambda oid, port, **kw: dict({"id": oid, "port": 1, "addr": OUT, "udp_port": port}, **kw)
    return [
        {"id": "dec", "kind": "rtp",
         "ingress": {"port": 0, "addr": DST, "udp_port": 5004, "srtp": srtp_json("A")},
         "outputs": [out("o1", 6000)]},
        {"id": "enc", "kind": "rtp",
         "ingress": {"port": 0, "addr": DST, "udp_port": 5010},
         "outputs": [out("o1", 6010, srtp=srtp_json("B"))]},
        {"id": "relay", "kind": "rtp",
         "ingress": {"port": 0, "addr": DST, "udp_port": 5020, "srtp": srtp_json("C")},
         "outputs": [out("r1", 6020, srtp=srtp_json("D"), ssrc=0xABCDEF),
                     out("r2", 6030, srtp=srtp_json("E")),
                     out("r3", 6040)]},
        {"id": "kf", "kind": "rtp",
         "ingress": {"port": 0, "addr": DST, "udp_port": 5040, "srtp": srtp_json("K"),
                     "codecs": {"96": "h264"}},
         "outputs": [out("late", 6050, start="keyframe")]},
    ]


def payloads(pkts, dport):
    return [bytes(p[UDP].payload) for p in pkts if UDP in p and p[UDP].dport == dport]


def check_outputs(out, want):
    got = payloads(out, 6000)
    T.eq(len(got), 20, "dec: 20 packets decrypted (replay, wrong key, cut tag dropped)")
    T.check(got == want["dec"], "dec: plaintext byte-identical, across the ROC rollover")
    T.eq(payloads(out, 6001), [want["dec_rtcp"]], "dec: SRTCP decrypted to the SR")
    T.check(payloads(out, 6010) == want["enc"], "enc: SRTP byte-identical to libsrtp2 (GCM)")
    T.eq(payloads(out, 6011), [want["enc_rtcp"]], "enc: SRTCP byte-identical to libsrtp2")
    T.check(payloads(out, 6030) == want["r2"], "relay r2: SRTP byte-identical to libsrtp2")
    T.eq(payloads(out, 6031), [want["r2_rtcp"]], "relay r2: SRTCP byte-identical to libsrtp2")
    T.check(payloads(out, 6040) == want["relay_plain"], "relay r3: plaintext")
    rx = session("D", False)
    r1, ok = payloads(out, 6020), True
    for p, orig in zip(r1, want["relay_plain"]):
        try:
            q = rx.unprotect(p)
        except SrtpError:
            ok = False
            continue
        ok = ok and q[8:12] == (0xABCDEF).to_bytes(4, "big") and q[2:4] == orig[2:4] \
            and q[12:] == orig[12:]
    T.check(len(r1) == 10 and ok, "relay r1: libsrtp2 decrypts all 10 (SHA1_32), SSRC rewritten")
    r1c = payloads(out, 6021)
    try:
        q = rx.unprotect_rtcp(r1c[0]) if r1c else b""
    except SrtpError:
        q = b""
    T.check(q[4:8] == (0xABCDEF).to_bytes(4, "big") and q[8:] == sr(0x3333)[8:],
            "relay r1: SRTCP decrypts, sender SSRC rewritten")
    T.check(all(p[UDP].chksum != 0 for p in out if UDP in p), "UDP checksums present")


def check_stats(st):
    s = st["sessions"]
    T.eq(s["dec"]["drop_srtp_auth"], 8, "dec: auth failures (7 wrong key + 1 cut tag)")
    T.eq(s["dec"]["drop_srtp_replay"], 1, "dec: replays")
    T.eq(s["dec"]["rx_pkts"], 21, "dec: accepted (20 SRTP + 1 SRTCP)")
    T.eq(s["dec"]["outputs"]["o1"]["tx_pkts"], 21, "dec o1 tx")
    T.eq(s["enc"]["outputs"]["o1"]["tx_pkts"], 11, "enc o1 tx")
    T.eq(s["enc"]["outputs"]["o1"]["drop_mtu"], 1, "enc o1: the frame the tag makes too big")
    T.eq(st["node"]["drop_mtu"], 1, "node: MTU drops")
    for o in ("r1", "r2", "r3"):
        T.eq(s["relay"]["outputs"][o]["tx_pkts"], 11, "relay %s tx" % o)
        T.eq(s["relay"]["outputs"][o]["drop_srtp_protect"], 0, "relay %s protect failures" % o)
    T.eq(s["relay"]["drop_srtp_auth"], 0, "relay: no auth failure")
    T.eq(st["node"]["drop_srtp_auth"], 8, "node: SRTP auth drops")
    T.eq(st["node"]["drop_srtp_replay"], 1, "node: SRTP replay drops")


def check_secrets(dpl, st):
    """No key, in any encoding we know, in replies, stats or the log."""
    rc, got = dpl.ctl("get", "relay")
    T.eq(rc, 0, "get relay")
    text = json.dumps(got) + json.dumps(st)
    with open(dpl.log) as f:
        text += f.read()
    leaks = [k for k, v in KEYS.items()
             if base64.b64encode(v).decode() in text or v.hex() in text.lower()]
    T.eq(leaks, [], "no key in replies, stats or the log")
    spec = got[0]["session"]["spec"] if got else {}
    T.eq(spec.get("ingress", {}).get("srtp"), {"suite": "AEAD_AES_256_GCM"},
         "get shows the ingress suite, no key")
    T.eq([o.get("srtp", {}).get("suite") for o in spec.get("outputs", [])],
         ["AES_CM_128_HMAC_SHA1_32", "AES_CM_128_HMAC_SHA1_80", None], "get shows output suites")
    rc, _ = dpl.add({"id": "bad", "kind": "udp",
                     "ingress": {"port": 0, "addr": DST, "udp_port": 5100},
                     "outputs": [{"port": 1, "addr": OUT, "udp_port": 6100,
                                  "srtp": srtp_json("A")}]})
    T.check(rc != 0, "SRTP on a udp session refused")


def main():
    dpl = Dataplane("pcapsrtp", "", sessions=sessions())
    n0, want = build_inputs(dpl.dir)
    with open(dpl.ports_file, "w") as f:
        f.write(PORTS.format(d=dpl.dir))
    with dpl:
        st = dpl.wait_for(lambda s: s["ports"]["0"]["rx_pkts"] == n0, what="all input read")
        st = dpl.wait_for(lambda s: s["sessions"]["relay"]["tx_pkts"] == 33 and
                          s["sessions"]["kf"]["rx_pkts"] == 5, what="relay sent")
        check_stats(st)
        check_secrets(dpl, st)
    T.eq(dpl.rc, 0, "dataplane exited cleanly")
    check_outputs(rdpcap(dpl.path("out1.pcap")), want)
    restarted(the_pli(rdpcap(dpl.path("out0.pcap"))))
    T.done()


if __name__ == "__main__":
    main()
