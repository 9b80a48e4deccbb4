#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""DPDK telemetry: Debian's dpdk-telemetry.py shows mfwd's /mfwd/ commands beside ethdev's.

The topology of test_prometheus (net_pcap, sessions a, b, c with 30, 20, 10 packets and
one output each, plus 120 more sessions without traffic for paging). Every figure a
command shows equals mfwd-stat --json's; bad parameters are refused; the commands are in
/help and in the command list.
"""
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Checks, Dataplane  # noqa: E402
import test_prometheus as topo  # noqa: E402

T = Checks("telemetry")
EXTRA = 120


def telemetry(prefix, *cmds):
    """Each command's reply, through dpdk-telemetry.py reading them from stdin."""
    r = subprocess.run(["dpdk-telemetry.py", "-f", prefix], input="\n".join(cmds) + "\n",
                       capture_output=True, text=True, timeout=30)
    replies = [json.loads(line) for line in r.stdout.splitlines() if line.startswith("{")]
    T.eq(len(replies), len(cmds), "a reply to each command (%s)" % r.stderr[-300:])
    return [next(iter(x.values())) for x in replies]


def main():
    sessions = topo.sessions() + [
        {"id": "idle-%03d" % i, "kind": "udp",
         "ingress": {"port": 0, "addr": "10.99.1.2", "udp_port": 7000 + 2 * i},
         "outputs": [{"port": 1, "addr": "10.99.2.1", "udp_port": 9000}]} for i in range(EXTRA)]
    dpl = Dataplane("tel", "", sessions=sessions)
    n = topo.inputs(dpl.dir)
    with open(dpl.ports_file, "w") as f:
        f.write(topo.PORTS.format(d=dpl.dir))
    with dpl:
        st = dpl.wait_for(lambda s: s["ports"]["0"]["rx_pkts"] == n and
                          sum(s["sessions"][x]["tx_pkts"] for x in topo.COUNTS) == n,
                          what="all forwarded")
        info, node, lc0, lc1, port0, sa, out, p0, p1, p2 = telemetry(
            dpl.instance, "/mfwd/info", "/mfwd/node", "/mfwd/lcore,0", "/mfwd/lcore,1",
            "/mfwd/port,0", "/mfwd/session,a", "/mfwd/output,a,to-a", "/mfwd/sessions",
            "/mfwd/sessions,100", "/mfwd/sessions,1000")
        T.check(info and info["instance"] == dpl.instance and info["workers"] == 1 and
                info["ports"] == 2 and info["sessions"] == 3 + EXTRA, "/mfwd/info: %s" % info)
        T.eq(node["rx_pkts"], st["node"]["rx_pkts"], "/mfwd/node rx_pkts")
        T.eq(lc1["rx_pkts"] + lc0["rx_pkts"], node["rx_pkts"], "lcores add up to the node")
        T.eq((lc0["role"], lc1["role"]), ("control", "worker"), "lcore roles")
        T.eq({k: port0[k] for k in ("rx_pkts", "tx_pkts", "imissed")},
             {k: st["ports"]["0"][k] for k in ("rx_pkts", "tx_pkts", "imissed")},
             "/mfwd/port,0 as mfwd-stat --json")
        T.eq((sa["rx_pkts"], sa["outputs"]), (30, ["to-a"]), "/mfwd/session,a")
        T.eq(out["tx_pkts"], st["sessions"]["a"]["outputs"]["to-a"]["tx_pkts"],
             "/mfwd/output,a,to-a")
        T.check(p0["total"] == 3 + EXTRA and len(p0["ids"]) == 100 and p0["next"] == 100,
                "first page of session ids")
        all_ids = set(p0["ids"]) | set(p1["ids"])
        T.check(len(p1["ids"]) == 3 + EXTRA - 100 and "next" not in p1 and
                all_ids == {s["id"] for s in sessions}, "second page: the rest, every id once")
        T.eq((p2["total"], p2["ids"]), (3 + EXTRA, []), "a start past the end: no ids")
        bad = telemetry(dpl.instance, "/mfwd/lcore,2", "/mfwd/lcore,x", "/mfwd/port,9",
                        "/mfwd/session,nope", "/mfwd/session", "/mfwd/output,a",
                        "/mfwd/output,a,nope", "/mfwd/sessions,-1")
        T.eq(bad, [None] * 8, "bad parameters and unknown ids: null replies")
        listing, helptext = telemetry(dpl.instance, "/", "/help,/mfwd/session")
        T.check({"/mfwd/info", "/mfwd/node", "/mfwd/lcore", "/mfwd/port", "/mfwd/sessions",
                 "/mfwd/session", "/mfwd/output"} <= set(listing) and "/ethdev/stats" in listing,
                "commands listed beside ethdev's")
        T.check("Parameter: id" in str(helptext), "/help of a command: %s" % helptext)
    T.eq(dpl.rc, 0, "dataplane exited cleanly")
    T.done()


if __name__ == "__main__":
    main()
