#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""The journal cannot be written (its file may not grow: the control plane runs with a file
size limit, SIGXFSZ ignored, so a write past it fails with EFBIG as on a full disk), over a
real mosquitto and dataplane:

- creates are acknowledged until the log reaches the limit; the batch that cannot be
  synced is undone in the dataplane and each of its creates answered `internal`;
- while it cannot be written, a create is refused `internal` and is not in the dataplane;
  a delete is made in the dataplane but answered `internal` (a success promises the change
  on disk), in session.delete and in session.delete_many;
- an atomic create_many whose undoing cannot be written (its create was) is answered
  `internal`, not as the plain refusal;
- once the file may grow again, the next change writes what waited: the journal then
  holds exactly the acknowledged sessions, less those deleted (also those answered
  `internal`), and a control plane started again over a new dataplane brings back exactly
  those.
"""
import json
import os
import resource
import signal
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cpharness import Broker, Checks, Client, ControlPlane, pcap_dataplane, until  # noqa
from cpharness import wait_status  # noqa: E402
from harness import STAT  # noqa: E402

T = Checks("cp_journal_full")
CMD = "mfwd/n1/cmd"
LIMIT = 256 << 10	# bytes the control plane's files may reach


def spec(sid):
    return {"id": sid, "kind": "udp", "ingress": {"port": 0, "addr": "10.99.1.2"},
            "outputs": [{"port": 1, "addr": "10.99.2.1", "udp_port": 6000}]}


def limited():
    """In the control plane's child before exec: writes past LIMIT fail (EFBIG), no signal."""
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (LIMIT, resource.RLIM_INFINITY))


def dp_ids(dpl):
    r = subprocess.run([STAT, "-i", dpl.instance, "--json"], capture_output=True, text=True)
    return set(json.loads(r.stdout).get("sessions", {}).keys()) if r.returncode == 0 else None


def journal_ids(cp):
    """The sessions the journal's records leave, read as a restart would."""
    live = set()
    with open(os.path.join(cp.cfg["journal_dir"], "sessions.log"), "rb") as f:
        for line in f.read().split(b"\n"):
            line = line.rstrip(b"\0")
            if line.startswith(b"+"):
                live.add(json.loads(line[1:])["id"])
            elif line.startswith(b"-"):
                live.discard(json.loads(line[1:]))
    return live


def create_many(c, ids):
    r = c.request(CMD, "session.create_many", {"sessions": [spec(i) for i in ids]},
                  timeout=60)
    T.check(r is not None and r.get("ok"), "create_many answered: %s" % str(r)[:300])
    return r["result"]["results"] if r and r.get("ok") else []


def fill(c):
    """Batches of 100 creates until one cannot be journaled: @return the acknowledged ids."""
    acked, n = [], 0
    while n < 5000:
        ids = ["s%d" % (n + i) for i in range(100)]
        n += 100
        res = create_many(c, ids)
        ok = [r["session"] for r in res if "error" not in r]
        bad = [r["error"] for r in res if "error" in r]
        acked += ok
        if bad:
            print("journal full after %d creates: %s" % (len(acked), bad[0]["message"]))
            T.eq((len(ok), {e["code"] for e in bad}), (0, {"internal"}),
                 "the batch the journal could not take: all %d undone, answered internal "
                 "(%s)" % (len(bad), bad[0]["message"]))
            return acked, ids
    T.check(False, "the journal never filled")
    return acked, []


def log_bytes(cp):
    """The log's bytes, less the zeros written ahead."""
    with open(os.path.join(cp.cfg["journal_dir"], "sessions.log"), "rb") as f:
        return f.read().rstrip(b"\0")


def log_end(cp):
    return len(log_bytes(cp))


def rollback(c, cp):
    """An atomic create_many whose second spec is refused: its first, created and synced,
    is undone, and the undoing cannot be written (the file may grow by the first's record
    and not by its deletion's): the answer is not the plain refusal."""
    e0 = log_end(cp)
    r = c.request(CMD, "session.create", spec("pa"))
    T.check(r and r.get("ok"), "probe created: %s" % r)
    plus = log_end(cp) - e0
    r = c.request(CMD, "session.delete", {"id": "pa"})
    T.check(r and r.get("ok"), "probe deleted: %s" % r)
    e1 = log_end(cp)
    resource.prlimit(cp.proc.pid, resource.RLIMIT_FSIZE, (e1 + plus + 2, resource.RLIM_INFINITY))
    bad = spec("pc")
    bad["outputs"][0]["udp_port"] = 70000
    r = c.request(CMD, "session.create_many", {"sessions": [spec("pb"), bad], "atomic": True},
                  timeout=30)
    e = (r or {}).get("error", {})
    T.eq((e.get("code"), e.get("path")), ("internal", "sessions[1].outputs[0].udp_port"),
         "atomic rollback not journaled: not answered as a plain refusal (%s)" % r)
    T.check("out_of_range" in e.get("message", ""), "its refusal's code in the message")
    tail = log_bytes(cp)[e1:]
    T.check(tail.startswith(b'+{"id":"pb"') and tail.count(b"\n") == 1,
            "the batch's create written, its undoing not (the log ends %r)" % tail[-40:])


def main():
    with Broker() as b:
        dpl = pcap_dataplane("cpjfull")
        with dpl:
            cp = ControlPlane(b, "n1", dpl.instance, port_range=[10000, 60000])
            cp.preexec = limited
            with cp:
                c = Client(b)
                T.check(wait_status(c, "n1", lambda s: s.get("dataplane", {}).get("up")),
                        "the control plane is up")
                acked, undone = fill(c)
                T.check(len(acked) >= 100, "%d creates acknowledged before the limit" %
                        len(acked))
                T.check(until(lambda: dp_ids(dpl) == set(acked), 10),
                        "the dataplane holds exactly the acknowledged sessions")
                r = c.request(CMD, "session.create", spec("late"))
                T.eq((r or {}).get("error", {}).get("code"), "internal",
                     "a create while the journal cannot be written: refused (%s)" % r)
                gone = acked[0]
                r = c.request(CMD, "session.delete", {"id": gone})
                T.eq((r or {}).get("error", {}).get("code"), "internal",
                     "a delete while the journal cannot be written: not a success (%s)" % r)
                r = c.request(CMD, "session.delete_many", {"ids": acked[1:3]})
                res = (r or {}).get("result", {})
                T.eq((res.get("deleted"), [x.get("error", {}).get("code")
                                           for x in res.get("results", [])]),
                     (0, ["internal", "internal"]),
                     "delete_many while the journal cannot be written: each not a success "
                     "(%s)" % str(r)[:300])
                T.check(until(lambda: dp_ids(dpl) == set(acked[3:]), 10),
                        "deleted from the dataplane; the late create is not there")
                # The file may grow again: the next change writes what waited.
                resource.prlimit(cp.proc.pid, resource.RLIMIT_FSIZE,
                                 (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
                r = c.request(CMD, "session.delete", {"id": acked[3]})
                T.check(r and r.get("ok"), "a delete once the journal can grow: %s" % r)
                rollback(c, cp)
                resource.prlimit(cp.proc.pid, resource.RLIMIT_FSIZE,
                                 (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
                r = c.request(CMD, "session.delete", {"id": acked[4]})
                T.check(r and r.get("ok"), "a delete once the journal can grow again: %s" % r)
                c.close()
            T.eq(journal_ids(cp), set(acked[5:]),
                 "the journal: the acknowledged sessions, less every one deleted")
        # A new dataplane, the same journal: exactly those come back.
        dpl2 = pcap_dataplane("cpjfull2")
        with dpl2:
            cp2 = ControlPlane(b, "n1", dpl2.instance, port_range=[10000, 60000],
                               journal_dir=cp.cfg["journal_dir"])
            with cp2:
                T.check(until(lambda: dp_ids(dpl2) == set(acked[5:]), 60),
                        "replayed into a new dataplane: the acknowledged sessions, none "
                        "deleted, none undone (%d)" % len(acked[5:]))
    T.check(not (set(undone) | {"late", "pa", "pb"}) & journal_ids(cp),
            "no undone create in the journal")
    if T.failed:
        print(cp.tail())
    T.done()


if __name__ == "__main__":
    main()
