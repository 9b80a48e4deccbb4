#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""Idle power: a worker with nothing to do sleeps (--worker-nap-us) instead of spinning,
and --busy-poll keeps it spinning.

The topology of test_prometheus (net_pcap: 60 packets read at start, forwarded, then
nothing). Once the input is forwarded, the worker thread's CPU time over 2 s (from
/proc/PID/task/TID/stat) is well under what --busy-poll takes on the same machine (most
of a core, idle_naps 0), and idle_naps grows. Both forward every packet.
"""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Checks, Dataplane  # noqa: E402
import test_prometheus as topo  # noqa: E402

T = Checks("idle")
HZ = os.sysconf("SC_CLK_TCK")


def worker_tid(pid):
    for tid in os.listdir("/proc/%d/task" % pid):
        with open("/proc/%d/task/%s/comm" % (pid, tid)) as f:
            if f.read().strip().startswith("rte-worker-"):
                return int(tid)
    return None


def cpu_seconds(pid, tid):
    with open("/proc/%d/task/%d/stat" % (pid, tid)) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / HZ       # utime + stime


def run(extra):
    dpl = Dataplane("idle", "", sessions=topo.sessions(), extra_args=extra)
    n = topo.inputs(dpl.dir)
    with open(dpl.ports_file, "w") as f:
        f.write(topo.PORTS.format(d=dpl.dir))
    with dpl:
        dpl.wait_for(lambda st: sum(st["sessions"][x]["tx_pkts"] for x in topo.COUNTS) == n,
                     what="all forwarded")
        tid = worker_tid(dpl.proc.pid)
        naps0 = dpl.stats()["lcores"][1]["idle_naps"]
        c0, t0 = cpu_seconds(dpl.proc.pid, tid), time.monotonic()
        time.sleep(2)
        c1, t1 = cpu_seconds(dpl.proc.pid, tid), time.monotonic()
        naps1 = dpl.stats()["lcores"][1]["idle_naps"]
    T.eq(dpl.rc, 0, "dataplane %s exited cleanly" % " ".join(extra))
    return (c1 - c0) / (t1 - t0), naps1 - naps0


def main():
    share, naps = run(())
    busy, busy_naps = run(("--busy-poll",))
    T.check(busy > 0.5 and busy_naps == 0,
            "--busy-poll: the idle worker used %.0f %% of a core, %d naps" %
            (100 * busy, busy_naps))
    # A nap's cost is the kernel's timer (about 30 us of CPU for a 50 us sleep on a VM):
    # compared with busy polling on the same machine, not with a fixed figure.
    T.check(share < 0.6 * busy and naps > 1000,
            "napping: the idle worker used %.0f %% of a core (busy polling %.0f %%), "
            "%d naps in 2 s" % (100 * share, 100 * busy, naps))
    T.done()


if __name__ == "__main__":
    main()
