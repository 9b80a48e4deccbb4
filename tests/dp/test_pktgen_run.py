#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""perf/pktgen/run, the Pktgen-DPDK wrapper, without pktgen (no Debian package): it skips
with its reason when PKTGEN is not set; its dry run shows the roles and placement it gives
each side (mfwd the memif server on cpu 1, the generator the client on cpu 0, the pcap and
the Lua script handed to pktgen); and it runs end to end with mfwd-gen in pktgen's place
(same topology, start order and link wait), its figures agreeing with mfwd's.
"""
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import BUILD, Checks, hugepages_free  # noqa: E402

T = Checks("pktgen_run")
RUN = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "perf", "pktgen",
                   "run")


def run(*args, pktgen=None, timeout=120):
    env = dict(os.environ, MFWD_BUILD=BUILD)
    env.pop("PKTGEN", None)
    if pktgen is not None:
        env["PKTGEN"] = pktgen
    r = subprocess.run([RUN] + list(args), capture_output=True, env=env, timeout=timeout)
    return r.returncode, r.stdout.decode(), r.stderr.decode()


def main():
    if os.geteuid() != 0 or hugepages_free() < 64:
        print("skip: needs root and hugepages")
        sys.exit(77)
    rc, out, _ = run()
    T.check(rc == 77 and "PKTGEN" in out, "no PKTGEN: skipped, saying why (%d %s)" % (rc, out))
    rc, out, _ = run(pktgen="/nonexistent/pktgen")
    T.eq(rc, 77, "PKTGEN naming no binary: skipped")
    rc, _, err = run("--seconds", "0", "--generator", "mfwd-gen")
    T.check(rc == 2 and "--seconds" in err, "a bad argument refused")

    rc, out, _ = run("--dry-run", "--scenario", "fanout", pktgen="/bin/true")
    lines = out.splitlines()
    mfwd = next((l for l in lines if l.startswith("1. ")), "")
    gen = next((l for l in lines if l.startswith("3. ")), "")
    T.eq(rc, 0, "dry run")
    T.check(out.count("role=server") == 2 and "--lcores 0@1,1@1" in mfwd,
            "mfwd: the memif server, on cpu 1")
    T.check(gen.count("role=client") == 2 and "--lcores 0@0,1@0" in gen and
            "-m 1.[0-1]" in gen.replace("'", ""), "pktgen: the client, on cpu 0")
    T.check(" -s 0:" in gen and "mfwd.lua" in gen and "LUA_PATH=" in gen and
            "MFWD_PG_SECONDS=10" in gen, "pktgen gets the pcap, the script and Pktgen.lua's path")
    T.eq(out.count('"kind": "rtp"'), 4, "one session per flow")
    T.eq(out.count('"udp_port": 3'), 16, "fanout: four outputs each")
    T.check(lines.index(next(l for l in lines if l.startswith("2. "))) > lines.index(mfwd),
            "the generator starts once mfwd serves")

    for scenario, copies in (("rtp", 1), ("fanout", 4)):
        rc, out, err = run("--generator", "mfwd-gen", "--seconds", "2", "--scenario", scenario)
        T.eq(rc, 0, "%s with mfwd-gen in pktgen's place: %s" % (scenario, err[-300:]))
        res = [json.loads(l) for l in out.splitlines() if l.startswith("{")]
        r = res[-1] if res else {}
        T.check(r.get("received", 0) > 0 and r["mfwd_rx"] <= r["sent"] and
                r["received"] <= r["mfwd_tx"] <= copies * r["mfwd_rx"],
                "%s: figures consistent side by side: %s" % (scenario, r))
        T.check("differences:" in out and "mfwd's drops" in out, "%s: differences explained"
                % scenario)
    T.done()


if __name__ == "__main__":
    main()
