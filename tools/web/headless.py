#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""Headless Chromium (Debian's) driven over the DevTools protocol on a pipe
(--remote-debugging-pipe: no port to reach across network namespaces), for the demo and
the tests to run mfwd's pages and read what they show.

  headless.py [--netns NS] URL [--poll EXPR] [--until EXPR] [--seconds S]

Loads URL, then every second evaluates EXPR (JavaScript giving JSON-able values) and prints
it as a JSON line; exits 0 as soon as the --until expression is true, 1 when --seconds
passed first (or the page threw).
"""
import argparse
import fcntl
import json
import os
import select
import shutil
import subprocess
import sys
import tempfile
import time


class DevTools:
    """The DevTools protocol over Chromium's pipe: fd 3 takes commands, fd 4 gives results,
    each message a JSON text ended by NUL."""

    def __init__(self, netns, profile, url="about:blank"):
        cmd_r, self.to_chrome = os.pipe()
        self.from_chrome, res_w = os.pipe()
        # Its ends above 10, so that moving them to 3 and 4 in the child clobbers neither.
        theirs_in = fcntl.fcntl(cmd_r, fcntl.F_DUPFD, 10)
        theirs_out = fcntl.fcntl(res_w, fcntl.F_DUPFD, 10)
        os.close(cmd_r)
        os.close(res_w)
        chromium = shutil.which("chromium") or "/usr/bin/chromium"
        # fd 3 and 4 in the child are its ends of the pipes.
        pre = ["ip", "netns", "exec", netns] if netns else []
        self.proc = subprocess.Popen(
            pre + [chromium, "--headless=new", "--no-sandbox", "--remote-debugging-pipe",
                   "--user-data-dir=" + profile, "--no-first-run", "--disable-gpu",
                   "--mute-audio", "--autoplay-policy=no-user-gesture-required", url],
            # 3 and 4 kept too: the child closes what it does not keep after the dup2s.
            pass_fds=(3, 4, theirs_in, theirs_out), stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            preexec_fn=lambda: (os.dup2(theirs_in, 3), os.dup2(theirs_out, 4)))
        os.close(theirs_in)
        os.close(theirs_out)
        self.next_id = 0
        self.buf = b""
        self.session = None

    def call(self, method, params=None, timeout=20):
        self.next_id += 1
        msg = {"id": self.next_id, "method": method, "params": params or {}}
        if self.session:
            msg["sessionId"] = self.session
        os.write(self.to_chrome, json.dumps(msg).encode() + b"\0")
        deadline = time.time() + timeout
        while time.time() < deadline:
            while b"\0" in self.buf:
                raw, self.buf = self.buf.split(b"\0", 1)
                got = json.loads(raw)
                if got.get("id") == self.next_id:
                    return got
            ready, _, _ = select.select([self.from_chrome], [], [], 0.2)
            if ready:
                data = os.read(self.from_chrome, 65536)
                if not data:
                    raise RuntimeError("chromium went away")
                self.buf += data
        raise TimeoutError(method)

    def attach(self):
        targets = self.call("Target.getTargets")["result"]["targetInfos"]
        page = [t for t in targets if t["type"] == "page"][0]
        r = self.call("Target.attachToTarget", {"targetId": page["targetId"], "flatten": True})
        self.session = r["result"]["sessionId"]

    def eval(self, expr):
        r = self.call("Runtime.evaluate", {"expression": expr, "awaitPromise": True,
                                           "returnByValue": True})
        res = r.get("result", {})
        if "exceptionDetails" in res:
            raise RuntimeError(json.dumps(res["exceptionDetails"])[:500])
        return res.get("result", {}).get("value")

    def close(self):
        try:
            self.call("Browser.close", timeout=5)
        except Exception:
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def poll(url, netns, expr, until, seconds):
    """Load @url in Chromium; print @expr every second until @until holds."""
    profile = tempfile.mkdtemp(prefix="mfwd-chromium-")
    dt = DevTools(netns, profile, url)
    ok = False
    try:
        dt.attach()
        deadline = time.time() + seconds
        while time.time() < deadline and not ok:
            time.sleep(1)
            print(json.dumps(dt.eval(expr)), flush=True)
            ok = bool(dt.eval(until))
    finally:
        dt.close()
        shutil.rmtree(profile, ignore_errors=True)
    return ok


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("url")
    ap.add_argument("--netns")
    ap.add_argument("--poll", default="document.title")
    ap.add_argument("--until", default="false")
    ap.add_argument("--seconds", type=float, default=30)
    a = ap.parse_args()
    sys.exit(0 if poll(a.url, a.netns, a.poll, a.until, a.seconds) else 1)


if __name__ == "__main__":
    main()
