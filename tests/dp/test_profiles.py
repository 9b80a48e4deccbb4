#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""Every port profile shipped in drivers-config/ parses (--check, no device touched), and
those of devices that need nothing outside the process (null, ring, pcap) start a
dataplane whose ports report their addresses.
"""
import glob
import os
import re
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import DATAPLANE, Checks, Dataplane  # noqa: E402
from scapy.all import wrpcap  # noqa: E402

T = Checks("profiles")
CONF = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "drivers-config")


def main():
    files = sorted(f for f in glob.glob(os.path.join(CONF, "*.conf")) if "hugepages" not in f)
    T.check(len(files) >= 11, "profiles shipped: %d" % len(files))
    for f in files:
        r = subprocess.run([DATAPLANE, "--no-huge", "-m", "64", "--no-pci", "-l", "0,1",
                            "--file-prefix", "chk%d" % os.getpid(), "--log-level",
                            "lib.eal:error", "--", "--ports", f, "--check"], capture_output=True)
        T.check(r.returncode == 0 and b"port 0:" in r.stdout,
                "%s parses: %s" % (os.path.basename(f), r.stderr.decode()[-300:]))
    for p in ("/tmp/mfwd-in.pcap", "/tmp/mfwd-empty.pcap"):
        if not os.path.exists(p):
            wrpcap(p, [])
    f = os.path.join(CONF, "null.conf")
    r = subprocess.run([DATAPLANE, "--no-huge", "-m", "64", "--no-pci", "-l", "0,1",
                        "--file-prefix", "chk%d" % os.getpid(), "--log-level", "lib.eal:error",
                        "--", "--ports", f, "--check", "--dtls-cert", f], capture_output=True)
    T.check(r.returncode != 0 and b"go together" in r.stderr,
            "--dtls-cert without --dtls-key refused: %s" % r.stderr.decode()[-200:])
    for name in ("null", "ring", "pcap"):
        with open(os.path.join(CONF, name + ".conf")) as f:
            dpl = Dataplane("prof" + name, f.read())
        with dpl:
            rc, out = dpl.ctl("info")
            T.check(rc == 0 and out[0]["ports"][0]["up"] and
                    out[0]["ports"][0]["addrs"] == ["10.99.1.2/24"], "%s starts: %s" % (name, out))
            fp = out[0].get("dtls_fingerprint", "") if rc == 0 else ""
            T.check(re.fullmatch(r"sha-256 ([0-9A-F]{2}:){31}[0-9A-F]{2}", fp) is not None,
                    "%s: a DTLS certificate made at start, its fingerprint (%s)" % (name, fp))
        T.eq(dpl.rc, 0, "%s stops cleanly" % name)
        shutil.rmtree(dpl.dir, ignore_errors=True)
    T.done()


if __name__ == "__main__":
    main()
