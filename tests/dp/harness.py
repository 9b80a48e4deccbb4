# SPDX-License-Identifier: BSD-3-Clause
"""Test harness for mfwd-dataplane: start the real process on DPDK virtual devices, drive
it with mfwd-ctl, read mfwd-stat --json, stop it, and collect checks.

Needs root (hugepages, /dev/shm, namespaces). Exits 77 (skip) when hugepages are missing.
"""
import json
import os
import signal
import subprocess
import sys
import tempfile
import time

BUILD = os.environ.get("MFWD_BUILD") or os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..", "..", "build")
DATAPLANE = os.path.join(BUILD, "dataplane", "mfwd-dataplane")
CTL = os.path.join(BUILD, "tools", "mfwd-ctl")
STAT = os.path.join(BUILD, "tools", "mfwd-stat")
SKIP = 77


def hugepages_free():
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("HugePages_Free:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


class Checks:
    """Collects failures instead of stopping at the first, and prints a summary line."""

    def __init__(self, name):
        self.name = name
        self.passed = 0
        self.failed = 0

    def check(self, cond, what):
        if cond:
            self.passed += 1
        else:
            self.failed += 1
            print("FAIL %s: %s" % (self.name, what), flush=True)
        return cond

    def eq(self, got, want, what):
        return self.check(got == want, "%s: got %r, want %r" % (what, got, want))

    def done(self):
        print("%s: %d passed, %d failed" % (self.name, self.passed, self.failed))
        sys.exit(1 if self.failed or not self.passed else 0)


class Dataplane:
    def __init__(self, name, ports_conf, sessions=None, lcores=None, max_sessions=1024,
                 mbufs=8191, extra_args=()):
        if os.geteuid() != 0:
            print("skip: needs root")
            sys.exit(SKIP)
        if hugepages_free() < 64:
            print("skip: needs hugepages (tools/setup-host)")
            sys.exit(SKIP)
        self.name = name
        # MFWD_LCORES="0@0,1@1,2@1" runs two workers (on one cpu) to exercise handoff.
        lcores = lcores or os.environ.get("MFWD_LCORES", "0,1")
        self.instance = "%s-%d" % (name, os.getpid())
        self.dir = tempfile.mkdtemp(prefix="mfwd-%s-" % name)
        self.ports_file = os.path.join(self.dir, "ports.conf")
        with open(self.ports_file, "w") as f:
            f.write(ports_conf)
        self.args = [DATAPLANE, "--lcores", lcores, "--file-prefix", self.instance, "--no-pci",
                     "--huge-unlink", "--log-level", "user.mf.dp:info", "--",
                     "--ports", self.ports_file, "--instance", self.instance,
                     "--max-sessions", str(max_sessions), "--mbufs", str(mbufs)]
        if sessions is not None:
            path = os.path.join(self.dir, "sessions.json")
            with open(path, "w") as f:
                json.dump(sessions, f)
            self.args += ["--sessions", path]
        self.args += list(extra_args)
        self.proc = None
        self.rc = None
        self.log = os.path.join(self.dir, "dataplane.log")

    def path(self, name):
        return os.path.join(self.dir, name)

    def start(self, timeout=20, tries=2):
        self.logf = open(self.log, "w")
        self.proc = subprocess.Popen(self.args, stdout=self.logf, stderr=subprocess.STDOUT)
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                rc = self.stop()
                # DPDK's af_packet takes fanout group (pid ^ ifindex) & 0xffff; another
                # dataplane of this test may hold that number on another veth (the kernel
                # says EINVAL). Another process has another pid: the one retry it needs.
                if tries > 1 and "could not set PACKET_FANOUT" in self.tail(200):
                    print("note: %s: af_packet fanout group taken, starting again" %
                          self.name, flush=True)
                    return self.start(timeout, tries - 1)
                raise RuntimeError("dataplane exited (%s): %s" % (rc, self.tail()))
            # The stats area comes first; the control loop (which answers commands) starts
            # once the workers run and dataplane.up is sent: ready means it has gone round.
            # Read in the stats, not asked over the channel: a control plane may have
            # claimed the channel already (a second client is refused).
            r = subprocess.run([STAT, "-i", self.instance, "--json"], capture_output=True)
            if r.returncode == 0 and self.control_ran(json.loads(r.stdout)):
                return self
            time.sleep(0.1)
        self.stop()
        raise RuntimeError("dataplane did not come up: %s" % self.tail())

    @staticmethod
    def control_ran(stats):
        return any(l.get("role") == "control" and l.get("iterations", 0) > 0
                   for l in stats.get("lcores", []))

    # EAL's start-up lines, the same in every run: left out of tail() so that what went
    # wrong comes first in a shortened CI log.
    ROUTINE = ("EAL: Detected ", "EAL: Multi-process socket", "EAL: Selected IOVA",
               "TELEMETRY: No legacy")

    def tail(self, n=30):
        try:
            with open(self.log) as f:
                lines = [l for l in f.readlines() if not l.startswith(self.ROUTINE)]
                return "".join(lines[-n:])
        except OSError:
            return ""

    def ctl(self, *args, stdin=None):
        r = subprocess.run([CTL, "-i", self.instance] + list(args), capture_output=True,
                           input=stdin.encode() if stdin is not None else None)
        lines = [json.loads(l) for l in r.stdout.decode().splitlines() if l.strip()]
        return r.returncode, lines

    def add(self, spec):
        return self.ctl("add", "-", stdin=json.dumps(spec))

    def stats(self):
        r = subprocess.run([STAT, "-i", self.instance, "--json"], capture_output=True,
                           check=True)
        return json.loads(r.stdout)

    def once(self, interval="0.1"):
        """mfwd-stat's text view (--once), as a user reads it."""
        r = subprocess.run([STAT, "-i", self.instance, "--once", "--interval", interval],
                           capture_output=True, check=True)
        return r.stdout.decode()

    def session(self, sid):
        return self.stats()["sessions"].get(sid, {})

    def wait_for(self, pred, timeout=10, what="condition"):
        deadline = time.time() + timeout
        last = None
        while time.time() < deadline:
            last = self.stats()
            if pred(last):
                return last
            time.sleep(0.05)
        raise RuntimeError("timed out waiting for %s; last stats node %s" %
                           (what, json.dumps(last.get("node", {}) if last else {})[:2000]))

    def stop(self):
        if self.proc is None:
            return None
        self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rc = self.proc.wait()
        self.logf.close()
        self.proc = None
        self.rc = rc
        return rc

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
        return False
