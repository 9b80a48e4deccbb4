#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""A memif peer that dies must not take mfwd with it, in either role, and mfwd must forward
again once a new peer is there: 20 times per role, mfwd-gen (the peer, on cpu 0) sends at
200 kpps and is killed with SIGKILL while it sends; after each restart of the peer mfwd
receives and forwards again. As a memif client mfwd also starts before its server.
"""
import json
import os
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import BUILD, Checks, Dataplane  # noqa: E402

T = Checks("memif_peer")
GEN = os.path.join(BUILD, "perf", "mfwd-gen")
KILLS = int(os.environ.get("MFWD_MEMIF_KILLS", "20"))
FLOWS = 4


def sessions():
    return [{"id": "m%d" % i, "kind": "rtp",
             "ingress": {"port": 0, "addr": "10.99.1.2", "udp_port": 10000 + 2 * i},
             "outputs": [{"port": 1, "addr": "10.99.2.1", "udp_port": 30000 + 2 * i}]}
            for i in range(FLOWS)]


def memif(role, sock):
    return ["--vdev", "net_memif0,role=%s,id=0,socket=%s" % (role, sock),
            "--vdev", "net_memif1,role=%s,id=1,socket=%s" % (role, sock)]


def peer(role, sock, n):
    cmd = ["taskset", "-c", "0", GEN, "-l", "0", "--file-prefix", "mgen%d-%d" % (os.getpid(), n),
           "--no-pci", "--huge-unlink", "--log-level=pmd.net.memif:error"] + memif(role, sock) + \
        ["--", "--duration", "60", "--flows", str(FLOWS), "--flows-per-ip", "64",
         "--rate", "200000"]
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def forwarding_again(dpl, p, rx0, tx0, timeout=60):
    """Wait until mfwd received and sent 2,000 more packets; a peer that gave up (its links
    never came up) or could not start ends the wait with what it said."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        st = dpl.stats()
        if st["ports"]["0"]["rx_pkts"] >= rx0 + 2000 and st["ports"]["1"]["tx_pkts"] >= tx0 + 2000:
            return None
        if p.poll() is not None:
            return "the peer exited (rc %d): %s" % (p.returncode, p.stderr.read().decode()[-300:])
        time.sleep(0.05)
    return "not forwarding after %d s" % timeout


def figures(dpl):
    st = dpl.stats()
    return st["ports"]["0"]["rx_pkts"], st["ports"]["1"]["tx_pkts"]


def run(role):
    peer_role = "client" if role == "server" else "server"
    sock = "/run/mfwd-memif-%s-%d.sock" % (role, os.getpid())
    dpl = Dataplane("memif" + role, """
[port 0]
vdev = net_memif_{r}0,role={r},id=0,socket={s}
ipv4 = 10.99.1.2/24
neighbour = 10.99.1.1 02:00:00:00:01:01
[port 1]
vdev = net_memif_{r}1,role={r},id=1,socket={s}
ipv4 = 10.99.2.2/24
neighbour = 10.99.2.1 02:00:00:00:00:aa
""".format(r=role, s=sock), sessions=sessions(), extra_args=())
    forwarded = 0
    with dpl:
        for n in range(KILLS + 1):
            rx0, tx0 = figures(dpl)
            p = peer(peer_role, sock, n)
            why = forwarding_again(dpl, p, rx0, tx0)
            if why is None:
                forwarded += 1
            else:
                print("peer %d (%s): %s" % (n, peer_role, why))
            p.send_signal(signal.SIGKILL)
            p.wait()
            if not T.check(dpl.proc.poll() is None, "%s: mfwd alive after the peer's kill %d"
                           % (role, n)):
                print(dpl.tail())
                break
        restarts = dpl.tail(400).count("restarted")
        lost = dpl.stats()["node"]
    T.eq(forwarded, KILLS + 1, "%s: forwarded with each of %d peers" % (role, KILLS + 1))
    T.eq(dpl.rc, 0, "%s: dataplane exited cleanly" % role)
    if role == "client":
        T.check(restarts >= KILLS, "client: the port was restarted after each loss of its "
                "server (%d)" % restarts)
    print(json.dumps({"role": role, "peers": KILLS + 1, "restarts": restarts,
                      "tx_full": lost.get("tx_full")}))


def main():
    if not os.path.exists(GEN):
        print("skip: mfwd-gen not built")
        sys.exit(77)
    for role in ("server", "client"):
        run(role)
    T.done()


if __name__ == "__main__":
    main()
