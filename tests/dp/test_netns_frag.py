#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""IP fragments between real hosts (network namespaces on veth pairs with 1,500-byte MTUs,
the dataplane on net_af_packet), every frame checked against a local decode:

- ffmpeg sends H.264 as RTP over IPv6 with its default packet size: the sending kernel
  fragments every large packet (1,472 + 48 > 1,500); mfwd reassembles, forwards over IPv6
  and fragments again on the way out; ffmpeg in "dst" decodes every frame bit-exact;
- the same over IPv4 with pkt_size=3000 (the af_packet port hands these over reassembled by
  the kernel: its frames and RX mbufs hold 16 KB; mfwd's own IPv4 reassembly is checked
  exactly in test_pcap_frag.py);
- MPEG-TS over UDP with 21 TS packets a datagram (3,948 bytes);
- plain RTP with ffmpeg's default size to an SRTP output (AEAD_AES_128_GCM): the 16-byte tag
  pushes frames over the MTU, mfwd sends them in fragments, the receiving kernel
  reassembles and GStreamer srtpdec decodes every frame bit-exact.
"""
import json
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import SKIP, Checks, Dataplane  # noqa: E402
from netns import Topology  # noqa: E402
import test_netns_media as netns_media  # noqa: E402
from media import make_clip, receiver_sdp  # noqa: E402

try:
    import test_netns_srtp as srtp  # noqa: E402 (needs pylibsrtp)
except SystemExit:
    print("skip: python3-pylibsrtp not installed")
    sys.exit(SKIP)

T = Checks("netns_frag")
srtp.T = netns_media.T = T          # their helpers report here


def sessions():
    def s(sid, kind, addr, port, oaddr, oport, **out):
        return {"id": sid, "kind": kind,
                "ingress": {"port": 0, "addr": addr, "udp_port": port},
                "outputs": [dict({"id": "o", "port": 1, "addr": oaddr, "udp_port": oport},
                                 **out)]}
    return [s("r6", "rtp", "fd00:1::2", 5004, "fd00:2::1", 6000),
            s("r4", "rtp", "10.99.1.2", 5010, "10.99.2.1", 6010),
            s("ts", "mpegts", "10.99.1.2", 1234, "10.99.2.1", 2000),
            s("sr", "rtp", "10.99.1.2", 5020, "10.99.2.1", 6020, srtp=srtp.srtp_json(srtp.KB))]


def rtp_through(topo, dpl, sid, d, clip, ref, sdp, what, family, dst, port, url):
    out = os.path.join(d, "%s.md5" % what)
    rx = topo.popen(topo.dst, "ffmpeg", "-nostdin", "-v", "error", "-y", "-protocol_whitelist",
                    "file,udp,rtp", "-probesize", "300000", "-analyzeduration", "1000000",
                    "-listen_timeout", "5", "-i", receiver_sdp(d, sdp, dst, port, what, family),
                    "-f", "framemd5", out, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    topo.wait_udp(topo.dst, port)
    r = topo.run(topo.src, "ffmpeg", "-nostdin", "-v", "error", "-re", "-i", clip, "-c", "copy",
                 "-f", "rtp", "-payload_type", "96", "-ssrc", "4660", url,
                 capture_output=True, timeout=60)
    T.eq(r.returncode, 0, "%s: sender ran: %s" % (what, r.stderr.decode()[-300:]))
    got = netns_media.receiver_frames(out, rx, what)
    if not T.eq(len(got), len(ref), "%s: frames" % what) and got:
        print("receiver %s said: %s" % (what, rx.stderr.read().decode()[-800:]))
        st = dpl.stats()
        print("session %s: %s\nnode: %s" % (sid, json.dumps(st["sessions"][sid]),
                                           json.dumps(st["node"])))
    T.check(got == ref, "%s: every frame bit-exact" % what)


def main():
    if subprocess.run(["gst-inspect-1.0", "srtpdec"], capture_output=True).returncode != 0:
        print("skip: GStreamer srtp plugin (gstreamer1.0-plugins-bad) not installed")
        sys.exit(SKIP)
    d = tempfile.mkdtemp(prefix="mfwd-netns-frag-")
    clip, ref_md5, sdp = make_clip(d, 3, 25)
    ref_yuv = os.path.join(d, "ref.yuv")
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", "-i", clip, "-f", "rawvideo",
                    "-pix_fmt", "yuv420p", ref_yuv], check=True)
    ref = srtp.yuv_hashes(ref_yuv)
    with Topology("fg", ("10.99.2.1",), ipv6=True) as topo:
        dpl = Dataplane("netnsfrag", topo.ports_conf(big_frames=True), sessions=sessions())
        with dpl:
            # The sending host resolves mfwd's addresses first: a key frame's burst must not
            # wait in its kernel's neighbour queue, which holds only so much.
            for a in ("10.99.1.2", "fd00:1::2"):
                r = topo.run(topo.src, "ping", "-c", "1", "-W", "5", a, capture_output=True)
                T.eq(r.returncode, 0, "the sender's host reaches mfwd at %s" % a)
            rtp_through(topo, dpl, "r6", d, clip, ref_md5, sdp, "ipv6", 6, "fd00:2::1", 6000,
                        "rtp://[fd00:1::2]:5004?localport=4000")
            rtp_through(topo, dpl, "r4", d, clip, ref_md5, sdp, "ipv4-3000", 4, "10.99.2.1", 6010,
                        "rtp://10.99.1.2:5010?localport=4010&pkt_size=3000")
            netns_media.ts_relay(topo, d, clip, ref_md5, 3948, "TS, 21 packets a datagram")
            srtp.to_gst(topo, d, clip, ref, sdp, "RTP -> mfwd SRTP over the MTU -> fragments "
                        "-> GStreamer srtpdec", srtp.KB, 6020, 4661,
                        "rtp://10.99.1.2:5020?localport=4020")
            st = dpl.stats()
            n, s = st["node"], st["sessions"]
            T.check(n["frag_reassembled"] > 0 and n["frag_tx"] > 0,   # IPv6: mfwd's own
                    "fragments reassembled (%d) and sent (%d)" % (n["frag_reassembled"],
                                                                  n["frag_tx"]))
            for sid in ("r6", "r4", "ts", "sr"):
                o = s[sid]["outputs"]["o"]
                T.check(o["frag_tx"] > 0 and o["drop_mtu"] == 0,
                        "%s: output sent in fragments (%d), none dropped for the MTU"
                        % (sid, o["frag_tx"]))
            T.eq(sum(v for k, v in n.items() if k.startswith("drop_frag")), 0,
                 "no fragment dropped")
            if T.failed:
                print(dpl.tail())
    T.eq(dpl.rc, 0, "dataplane exited cleanly")
    T.done()


if __name__ == "__main__":
    main()
