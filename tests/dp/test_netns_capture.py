#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""Session capture (network namespaces, the dataplane on net_af_packet): mfwd-ctl capture
writes a pcapng file while the session forwards, and tshark reads it.

Session "cap" (rtp, SSRC rewritten on its output) is captured, "other" is not; the source
host sends 200 RTP packets to "cap" and 200 numbered datagrams to "other", interleaved.
- refusals first: no such session, seconds, snaplen and file name out of bounds; then a
  second capture while one runs (busy), and a file that exists;
- the capture ends by itself at max_packets (400: 200 in, 200 out) with capture.done;
- in the file: 200 frames in on port 0's interface to 5004, 200 out on port 1's to 6004,
  nothing of "other"; the outbound frames equal, byte for byte, what the receiving host
  got (tcpdump there), and the inbound RTP payloads what was sent;
- "other" lost nothing, nor did the capture (capture_dropped 0);
- a second capture with snaplen 64 ends by its time (2 s): every frame cut to 64 bytes,
  with its length kept.
"""
import json
import os
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Checks, Dataplane  # noqa: E402
from netns import Topology  # noqa: E402

T = Checks("netns_capture")
N = 200
SENDER = r"""
import socket, struct, sys, time
n = int(sys.argv[1])
a = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
a.bind(("10.99.1.1", 4000))
b = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for i in range(n):
    a.sendto(struct.pack("!BBHII", 0x80, 96, 100 + i, 3000 * i, 0x1234) + bytes([i & 0xff]) * 160,
             ("10.99.1.2", 5004))
    b.sendto(b"other-%d" % i, ("10.99.1.2", 5010))
    time.sleep(0.002)
"""


def sessions():
    return [
        {"id": "cap", "kind": "rtp",
         "ingress": {"port": 0, "addr": "10.99.1.2", "udp_port": 5004, "source": "latch"},
         "outputs": [{"id": "o", "port": 1, "addr": "10.99.2.1", "udp_port": 6004,
                      "ssrc": 0xABCDEF}]},
        {"id": "other", "kind": "udp",
         "ingress": {"port": 0, "addr": "10.99.1.2", "udp_port": 5010},
         "outputs": [{"port": 1, "addr": "10.99.2.1", "udp_port": 6010}]},
    ]


def tshark(path, *fields, filt=None):
    args = ["tshark", "-r", path, "-T", "fields"] + sum((["-e", f] for f in fields), [])
    if filt:
        args += ["-Y", filt]
    r = subprocess.run(args, capture_output=True, text=True)
    T.check(r.returncode == 0, "tshark reads %s: %s" % (os.path.basename(path), r.stderr[-300:]))
    return [line.split("\t") for line in r.stdout.splitlines()]


def refusals(dpl):
    for args, code, what in [(("nope",), "not_found", "no such session"),
                             (("cap", "0"), "invalid", "seconds 0"),
                             (("cap", "10", "100", "10"), "invalid", "snaplen 10"),
                             (("cap", "10", "100", "0", "../x.pcapng"), "invalid",
                              "a file name with a path"),
                             (("cap", "10", "100", "0", "x.pcap"), "invalid",
                              "a file name not .pcapng")]:
        rc, out = dpl.ctl("capture", *args)
        T.check(rc == 1 and out and out[0]["error"]["code"] == code,
                "refused (%s): %s" % (what, out))


def wait_event(dpl, kind, timeout=30):
    deadline = time.time() + timeout
    while time.time() < deadline:
        for e in dpl.ctl("events", "0.3")[1]:
            if e.get("event") == kind:
                return e
    return None


def first_capture(topo, dpl, capdir, work):
    rc, out = dpl.ctl("capture", "cap", "60", str(2 * N), "0", "cap.pcapng")
    path = os.path.join(capdir, "cap.pcapng")
    T.check(rc == 0 and out[0]["file"] == path, "capture started: %s" % out)
    rc, out = dpl.ctl("capture", "other")
    T.check(rc == 1 and out[0]["error"]["code"] == "busy", "a second capture: busy (%s)" % out)
    recv = os.path.join(work, "recv.pcap")
    dump = topo.popen(topo.dst, "tcpdump", "-i", "d0", "-U", "-w", recv, "udp and dst port 6004",
                      stderr=subprocess.PIPE)
    dump.stderr.readline()                      # "listening on d0": it captures from now
    T.eq(topo.reach(topo.src, "10.99.1.2"), [], "the source host resolves mfwd")
    topo.run(topo.src, sys.executable, "-c", SENDER, str(N), check=True)
    done = wait_event(dpl, "capture.done")
    T.check(done is not None and done.get("session") == "cap" and done.get("packets") == 2 * N,
            "capture.done with %d packets: %s" % (2 * N, done))
    st = dpl.wait_for(lambda s: s["sessions"]["other"]["tx_pkts"] >= N and
                      s["sessions"]["cap"]["tx_pkts"] >= N, what="everything forwarded")
    T.eq(st["sessions"]["other"]["tx_pkts"], N, "other: nothing lost")
    T.eq(st["node"]["capture_dropped"], 0, "no capture copy lost")
    T.eq(st["node"]["capture_pkts"], 2 * N, "capture copies made")
    time.sleep(0.5)
    dump.send_signal(signal.SIGINT)
    dump.wait(timeout=10)
    rc, out = dpl.ctl("capture", "cap", "10", "100", "0", "cap.pcapng")
    T.check(rc == 1 and out[0]["error"]["code"] == "exists", "the same file again: %s" % out)
    return path, recv


def check_file(path, recv):
    rows = tshark(path, "frame.interface_id", "frame.packet_flags_direction", "udp.dstport",
                  "udp.payload")
    ins = [r for r in rows if r[2] == "5004"]
    outs = [r for r in rows if r[2] == "6004"]
    T.eq((len(rows), len(ins), len(outs)), (2 * N, N, N),
         "the file: every frame of cap, in and out, nothing else")
    T.check(all(r[0] == "0" and r[1] in ("1", "0x1", "0x00000001") for r in ins),
            "inbound frames: port 0's interface, direction in (%s)" % (ins[:1],))
    T.check(all(r[0] == "1" and r[1] in ("2", "0x2", "0x00000002") for r in outs),
            "outbound frames: port 1's interface, direction out (%s)" % (outs[:1],))
    sent = [bytes.fromhex(r[3]) for r in ins]
    T.check(all(p[2:4] == (100 + i).to_bytes(2, "big") and p[12:] == bytes([i & 0xff]) * 160
                for i, p in enumerate(sent)), "inbound payloads: what was sent, in order")
    got = [r[0] for r in tshark(recv, "udp.payload")]
    T.eq([r[3] for r in outs], got, "outbound frames: what the receiving host got, byte for byte")


def snaplen_capture(topo, dpl, capdir):
    rc, out = dpl.ctl("capture", "cap", "2", "1000", "64", "short.pcapng")
    T.check(rc == 0, "a capture with snaplen 64: %s" % out)
    topo.run(topo.src, sys.executable, "-c", SENDER, "20", check=True)
    done = wait_event(dpl, "capture.done")
    T.check(done is not None and done.get("packets") == 40,
            "ended by its time with 40 packets: %s" % done)
    rows = tshark(os.path.join(capdir, "short.pcapng"), "frame.cap_len", "frame.len")
    T.check(len(rows) == 40 and all(r[0] == "64" and int(r[1]) > 200 for r in rows),
            "every frame cut to 64 bytes, its length kept (%s)" % rows[:2])


def main():
    work = tempfile.mkdtemp(prefix="mfwd-cap-")
    capdir = os.path.join(work, "capture")
    with Topology("cp") as topo:
        with Dataplane("netnscap", topo.ports_conf(), sessions=sessions(),
                       extra_args=("--capture-dir", capdir)) as dpl:
            refusals(dpl)
            path, recv = first_capture(topo, dpl, capdir, work)
            snaplen_capture(topo, dpl, capdir)
        T.eq(dpl.rc, 0, "dataplane exited cleanly")
        T.eq(oct(os.stat(capdir).st_mode & 0o777), "0o700", "the capture directory is 0700")
        T.eq(oct(os.stat(path).st_mode & 0o777), "0o600", "the file is 0600")
        check_file(path, recv)
    print(json.dumps({"work": work}))
    T.done()


if __name__ == "__main__":
    main()
