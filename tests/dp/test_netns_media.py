#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""Real hosts and real media through mfwd: two network namespaces on veth pairs, the
dataplane on net_af_packet owning 10.99.1.2 and 10.99.2.2.

- ping to both of mfwd's addresses is answered (ARP and ICMP by the dataplane);
- ffmpeg in "src" sends H.264 over RTP; mfwd fans it out to three receivers in "dst"
  (three addresses, each resolved by ARP), and each receiver's every decoded frame is
  identical (framemd5) to a local decode of the clip;
- ffmpeg sends the clip as MPEG-TS over UDP; the receiver's frames are identical too.
"""
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Checks, Dataplane  # noqa: E402
from media import frame_hashes, make_clip, rtp_receiver  # noqa: E402
from netns import Topology  # noqa: E402

T = Checks("netns_media")
RECEIVERS = ("10.99.2.1", "10.99.2.3", "10.99.2.4")
# ffmpeg binds its RTP port on every address, so each receiver has its own port too.
RX_PORT = {a: 6000 + 10 * i for i, a in enumerate(RECEIVERS)}




def receiver_frames(out, p, who):
    """The frame hashes a receiver wrote, once it ended (input timeout)."""
    try:
        p.wait(timeout=30)
    except subprocess.TimeoutExpired:
        p.kill()
    got = frame_hashes(out) if os.path.exists(out) else []
    if not got:
        print("receiver %s said: %s" % (who, p.stderr.read().decode()[-500:]))
    return got


def rtp_fanout(topo, d, clip, ref, sdp):
    procs = [rtp_receiver(topo, d, sdp, addr, RX_PORT[addr], "rtp%d" % i)
             for i, addr in enumerate(RECEIVERS)]
    topo.wait_udp(topo.dst, *(RX_PORT[a] for a in RECEIVERS))
    r = topo.run(topo.src, "ffmpeg", "-nostdin", "-v", "error", "-re", "-i", clip, "-c",
                 "copy", "-f", "rtp", "-payload_type", "96", "-ssrc", "4660",
                 "rtp://10.99.1.2:5004?localport=4000", capture_output=True, timeout=60)
    T.eq(r.returncode, 0, "RTP sender ran: %s" % r.stderr.decode()[-300:])
    for i, (out, p) in enumerate(procs):
        got = receiver_frames(out, p, RECEIVERS[i])
        T.eq(len(got), len(ref), "receiver %s: frames" % RECEIVERS[i])
        T.check(got == ref, "receiver %s: every frame bit-exact" % RECEIVERS[i])


def ts_relay(topo, d, clip, ref, pkt_size=1316, what="TS receiver"):
    """ffmpeg sends the clip as MPEG-TS over UDP in datagrams of @pkt_size bytes to port
    1234; a receiver in "dst" on 2000 decodes every frame bit-exact."""
    out = os.path.join(d, "ts%d.md5" % pkt_size)
    p = topo.popen(topo.dst, "ffmpeg", "-nostdin", "-v", "error", "-y", "-probesize",
                   "500000", "-analyzeduration", "1000000", "-i",
                   "udp://10.99.2.1:2000?timeout=5000000&fifo_size=100000", "-f", "framemd5",
                   out, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    topo.wait_udp(topo.dst, 2000)
    r = topo.run(topo.src, "ffmpeg", "-nostdin", "-v", "error", "-re", "-i", clip, "-c", "copy",
                 "-f", "mpegts", "udp://10.99.1.2:1234?pkt_size=%d&localport=4002" % pkt_size,
                 capture_output=True, timeout=60)
    T.eq(r.returncode, 0, "%s: sender ran: %s" % (what, r.stderr.decode()[-300:]))
    got = receiver_frames(out, p, what)
    T.eq(len(got), len(ref), "%s: frames" % what)
    T.check(got == ref, "%s: every frame bit-exact" % what)


def sessions():
    return [
        {"id": "cam", "kind": "rtp",
         "ingress": {"port": 0, "addr": "10.99.1.2", "udp_port": 5004, "source": "latch",
                     "clock_rates": {"96": 90000}},
         "outputs": [{"port": 1, "addr": a, "udp_port": RX_PORT[a]} for a in RECEIVERS]},
        {"id": "ts", "kind": "mpegts",
         "ingress": {"port": 0, "addr": "10.99.1.2", "udp_port": 1234},
         "outputs": [{"port": 1, "addr": "10.99.2.1", "udp_port": 2000}]},
    ]


def main():
    d = tempfile.mkdtemp(prefix="mfwd-netns-")
    clip, ref, sdp = make_clip(d, 3, 25)
    with Topology("nm", RECEIVERS) as topo:
        dpl = Dataplane("netns", topo.ports_conf(), sessions=sessions())
        with dpl:
            for ns, addr in ((topo.src, "10.99.1.2"), (topo.dst, "10.99.2.2")):
                r = topo.run(ns, "ping", "-c", "3", "-i", "0.2", "-W", "2", addr,
                             capture_output=True)
                T.eq(r.returncode, 0, "ping %s answered" % addr)
            rtp_fanout(topo, d, clip, ref, sdp)
            ts_relay(topo, d, clip, ref)
            st = dpl.stats()
            cam = st["sessions"]["cam"]
            T.check(cam["rx_pkts"] > 0 and cam["rtp_lost"] == 0, "cam: no loss (%s)" % cam)
            T.check(all(o["tx_pkts"] == cam["rx_pkts"] for o in cam["outputs"].values()),
                    "cam: each output sent every packet")
            T.check(st["node"]["arp_reply_tx"] >= 2, "ARP answered")
            T.check(st["node"]["icmp_echo_tx"] >= 6, "echo answered")
            if T.failed:
                print(dpl.tail())
    T.eq(dpl.rc, 0, "dataplane exited cleanly")
    T.done()


if __name__ == "__main__":
    main()
