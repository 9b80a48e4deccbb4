#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""Every example of docs/control-api.md runs exactly as written: each ```sh block followed
by a ```json block is run with bash against a real broker on localhost:1883, node "node1"
and a dataplane with the addresses the document names, and its output is compared with the
reply shown: "ok", error code and path, and every value the document shows ({} and []
stand for any object or list; lists of names compare in any order).
Skips (77) when port 1883 is taken.
"""
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cpharness import (SKIP, Broker, Checks, Client, ControlPlane,  # noqa: E402
                       pcap_dataplane, wait_status)

T = Checks("cp_docs")
DOCS_KEY = "bWZ3ZC1kb2NzLWV4YW1wbGUta2V5LTMyLWJ5dGVzISE="
DOC = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "docs",
                   "control-api.md")


def examples():
    text = open(DOC).read()
    # A block's body holds no fence: a ```sh block with no reply after it (mfwd-ctl's) is
    # not an example, and not run as the start of the next one.
    return re.findall(r"```sh\n((?:(?!```).)*?)\n```\n```json\n(.*?)\n```", text, re.S)


def matches(want, got, path="$"):
    if isinstance(want, dict):
        if not isinstance(got, dict):
            return "%s: not an object" % path
        for k, v in want.items():
            if k not in got:
                return "%s.%s missing" % (path, k)
            bad = matches(v, got[k], path + "." + k)
            if bad:
                return bad
        return None
    if isinstance(want, list):
        if not isinstance(got, list):
            return "%s: not a list" % path
        if want and sorted(map(json.dumps, want)) != sorted(map(json.dumps, got)):
            return "%s: %s != %s" % (path, want, got)
        return None
    return None if want == got else "%s: %r != %r" % (path, want, got)


def main():
    s = socket.socket()
    # As mosquitto binds: connections of an earlier run in TIME-WAIT do not hold the port.
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        s.bind(("127.0.0.1", 1883))
    except OSError:
        print("skip: port 1883 is taken")
        sys.exit(SKIP)
    finally:
        s.close()
    # The session.capture example writes into a directory of the test's own, not the
    # default the docs show (/var/lib/mfwd/capture): replies name it in their place.
    capdir = tempfile.mkdtemp(prefix="mfwd-cpdocs-capture-")
    capture = os.path.join(capdir, "cam-1-docs.pcapng")
    exs = [(cmd, reply.replace("/var/lib/mfwd/capture/", capdir + "/"))
           for cmd, reply in examples()]
    T.check(len(exs) >= 12, "examples found: %d" % len(exs))
    T.check(any(capdir in reply for _, reply in exs), "the capture example names its file")
    dpl = pcap_dataplane("cpdocs", max_sessions=65536, extra_args=("--capture-dir", capdir))
    broker = Broker()
    broker.port = 1883
    with open(broker.conf) as f:
        conf = f.read()
    with open(broker.conf, "w") as f:
        f.write(re.sub(r"listener \d+", "listener 1883", conf))
    # Signed commands are on but not required: the unsigned examples are the operator's,
    # the signed one is tenant acme's with the key docs/operations.md shows.
    keys = os.path.join(dpl.dir, "tenants.json")
    with open(keys, "w") as f:
        json.dump({"tenants": [{"name": "acme", "key": DOCS_KEY, "max_sessions": 100}]}, f)
    os.chmod(keys, 0o600)
    with dpl, broker:
        with ControlPlane(broker, "node1", dpl.instance,
                          auth={"keys_file": keys, "required": False}) as cp:
            c = Client(broker)
            T.check(wait_status(c, "node1", lambda st: st["online"] and st["dataplane"]["up"])
                    is not None, "node1 online")
            c.close()
            for cmd, reply in exs:
                # The retained status follows a change within half a second (documented):
                # a status example may read the one before and is read again.
                for attempt in range(8 if "/status" in cmd else 1):
                    if attempt:
                        time.sleep(0.25)
                    r = subprocess.run(["bash", "-c", cmd], capture_output=True, timeout=20)
                    out = r.stdout.decode().strip().splitlines()
                    try:
                        got = json.loads(out[0]) if out else None
                    except ValueError:
                        got = None
                    bad = matches(json.loads(reply), got) if got is not None else "no reply"
                    if bad is None:
                        break
                T.check(r.returncode == 0 and bad is None,
                        "example %s...: %s (%s)" % (cmd[:70], bad, r.stderr.decode()[-200:]))
            if T.failed:
                print(cp.tail())
    T.eq(dpl.rc, 0, "dataplane exited cleanly")
    T.check(os.path.exists(capture), "the capture example wrote its file")
    shutil.rmtree(capdir, ignore_errors=True)
    T.done()


if __name__ == "__main__":
    main()
