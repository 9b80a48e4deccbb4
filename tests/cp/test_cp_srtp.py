#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""SRTP through the control plane: a session created over MQTT with SDES keys for its
ingress and its output carries SRTP between two network namespaces; session.update re-keys
both while packets flow and not one is lost; no key ever appears in a reply, an event, the
status or the log (the journal keeps them, mode 0600); after a dataplane restart the
journal's keys are replayed and media decrypts again.
"""
import base64
import json
import os
import stat
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "dp"))
from cpharness import SKIP, Broker, Checks, Client, ControlPlane, Dataplane, wait_status  # noqa
from netns import Topology  # noqa: E402

try:
    import srtpflow  # noqa: E402 (needs pylibsrtp)
except ImportError:
    print("skip: python3-pylibsrtp not installed")
    sys.exit(SKIP)

T = Checks("cp_srtp")
CMD = "mfwd/n1/cmd"
FLOW = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "dp", "srtpflow.py")
CM, GCM = "AES_CM_128_HMAC_SHA1_80", "AEAD_AES_128_GCM"
KA, KA2 = (CM, os.urandom(30)), (CM, os.urandom(30))
KB, KB2 = (GCM, os.urandom(28)), (GCM, os.urandom(28))


FP = "sha-256 " + ":".join(["AB"] * 32)
ICE = {"ufrag": "mfwd", "pwd": "mfwdpassword0123456789", "remote_ufrag": "brws"}
WEBRTC = {"id": "w", "kind": "rtp-mux",
          "ingress": {"port": 0, "addr": "10.99.1.2", "udp_port": 5050, "ice": ICE,
                      "dtls": {"fingerprint": FP}},
          "outputs": [{"id": "v", "port": 1, "src_port": 5052, "ice": ICE,
                       "dtls": {"fingerprint": FP}}]}

def sj(k):
    return {"suite": k[0], "key": base64.b64encode(k[1]).decode()}


SPEC = {"id": "sec", "kind": "rtp",
        "ingress": {"port": 0, "addr": "10.99.1.2", "udp_port": 5040, "srtp": sj(KA)},
        "outputs": [{"id": "o", "port": 1, "addr": "10.99.2.1", "udp_port": 6040,
                     "srtp": sj(KB)}]}


def flow(topo, key, next_key, count, pps, switch, during=None, stop=""):
    """Send @count packets (fewer once @stop exists), call @during while they flow; return
    (sent, datagrams got)."""
    rx = topo.popen(topo.dst, "/usr/bin/python3", FLOW, "recv", "6040", "2",
                    stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    srtpflow.wait_ready(rx)
    tx = topo.popen(topo.src, "/usr/bin/python3", FLOW, "send", "10.99.1.2", "5040", key[0],
                    key[1].hex(), next_key[1].hex(), str(count), str(pps), switch, stop,
                    stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if during:
        during()
    sent = json.loads(tx.communicate(timeout=60)[0])
    got = [bytes.fromhex(h) for h in json.loads(rx.communicate(timeout=60)[0])]
    return sent, got


def rekey_live(dpl, topo, c, d):
    """Each step waits for packets the dataplane counted: the update after 100, the
    sender's switch 50 later, the end 100 after that."""
    switch, stop = os.path.join(d, "switch"), os.path.join(d, "stop")

    def reach(n, what):
        return dpl.wait_for(lambda s: s["sessions"]["sec"]["rx_pkts"] >= n, timeout=60,
                            what=what)["sessions"]["sec"]["rx_pkts"]

    def update():
        reach(100, "100 packets under the first keys")
        r = c.request(CMD, "session.update", {"id": "sec", "srtp": sj(KA2),
                                              "output_srtp": {"o": sj(KB2)}}, timeout=15)
        T.check(r and r["ok"], "session.update re-keys ingress and output: %s" % r)
        n = reach(dpl.session("sec")["rx_pkts"] + 50, "50 packets after the update")
        open(switch, "w").close()
        reach(n + 100, "100 packets after the sender's switch")
        open(stop, "w").close()

    sent, got = flow(topo, KA, KA2, 50000, 500, switch, update, stop)
    numbers, (old, new) = srtpflow.decrypt(got, [KB, KB2])
    T.eq(len(got), sent["sent"], "re-key over MQTT: every packet arrived")
    T.eq(sorted(numbers), list(range(sent["sent"])), "re-key over MQTT: every packet decrypts")
    T.check(old > 0 and new > 0, "output key changed mid-stream (%d old, %d new)" % (old, new))
    return got


def no_secrets(msgs, cp, journal_dir):
    keys = [k[1] for k in (KA, KA2, KB, KB2)]
    with open(cp.log) as f:
        # Everything the node published (the commands we sent carry keys, of course).
        text = f.read() + json.dumps([m for t, m, _ in msgs if not t.endswith("/cmd")])
    leaks = [i for i, k in enumerate(keys)
             if base64.b64encode(k).decode() in text or k.hex() in text.lower()]
    T.check(len(msgs) > 5, "messages watched: %d" % len(msgs))
    T.eq(leaks, [], "no key in replies, events, status or the log")
    path = os.path.join(journal_dir, "sessions.log")
    T.check(os.path.exists(path) and stat.S_IMODE(os.stat(path).st_mode) == 0o600,
            "journal file mode 0600")
    with open(path) as f:
        recs = [json.loads(ln[1:]) for ln in f if ln.startswith("+")]
    last = [r for r in recs if r["id"] == "sec"][-1]
    T.eq(last["ingress"]["srtp"]["key"], sj(KA2)["key"], "the journal keeps the current key")


def main():
    d = tempfile.mkdtemp(prefix="mfwd-cp-srtp-")
    with Topology("cs", ("10.99.2.1",)) as topo, Broker() as broker:
        dpl = Dataplane("cpsrtp", topo.ports_conf())
        with dpl:
            cp = ControlPlane(broker, "n1", dpl.instance)
            cp.start()
            try:
                watch = Client(broker)
                watch.subscribe("mfwd/#")
                c = Client(broker)
                watch.subscribe(c.reply_topic)
                T.check(wait_status(c, "n1", lambda s: s["online"]), "control plane online")
                r = c.request(CMD, "session.create", SPEC)
                T.check(r and r["ok"], "SRTP session created over MQTT: %s" % r)
                rekey_live(dpl, topo, c, d)
                r = c.request(CMD, "session.get", {"id": "sec"})
                spec = r["result"]["spec"] if r and r["ok"] else {}
                T.eq(spec.get("ingress", {}).get("srtp"), {"suite": CM}, "get: suite, no key")
                T.eq(spec.get("outputs", [{}])[0].get("srtp"), {"suite": GCM},
                     "get: output suite, no key")
                r = c.request(CMD, "session.update", {"id": "sec", "srtp": {"suite": GCM,
                                                      "key": sj(KA)["key"]}})
                T.check(r and not r["ok"] and r["error"]["path"] == "srtp.key",
                        "a key of the wrong length refused at srtp.key: %s" % r)
                r = c.request(CMD, "session.update", {"id": "sec", "output_srtp": {"x": None}})
                T.check(r and not r["ok"] and r["error"]["code"] == "not_found",
                        "re-keying an unknown output refused")
                r = c.request(CMD, "session.create", WEBRTC)
                T.check(r and r["ok"], "a DTLS session created: %s" % r)
                r = c.request(CMD, "session.update", {"id": "w", "srtp": sj(KA)})
                T.check(r and not r["ok"] and r["error"]["path"] == "srtp",
                        "SDES keys for a DTLS ingress refused: %s" % r)
                r = c.request(CMD, "session.update", {"id": "w", "output_srtp": {"v": sj(KB)}})
                T.check(r and not r["ok"] and r["error"]["path"] == "output_srtp",
                        "SDES keys for a DTLS output refused: %s" % r)
                r = c.request(CMD, "session.delete", {"id": "w"})
                T.check(r and r["ok"], "the DTLS session deleted")
                # A status says "up, 1 session" before the restart too: wait for the event
                # the control plane publishes once it has replayed the journal.
                c.subscribe("mfwd/n1/event/dataplane.up")
                dpl.stop()
                dpl.start()
                evs = c.collect_until("mfwd/n1/event/dataplane.up",
                                      lambda evs: any(e["sessions"] == 1 for _, e, _ in evs))
                T.check(evs and evs[-1][1]["sessions"] == 1, "dataplane back, replayed: %s" % evs)
                sent, got = flow(topo, KA2, KA2, 300, 500, os.path.join(d, "never"))
                numbers, _ = srtpflow.decrypt(got, [KB2])
                T.eq(sorted(numbers), list(range(sent["sent"])),
                     "after a dataplane restart the journal's keys carry media again")
                no_secrets(watch.collect("", 1), cp, cp.cfg["journal_dir"])
                watch.close()
                c.close()
            finally:
                cp.stop()
            if T.failed:
                print(cp.tail())
                print(dpl.tail())
        T.eq(dpl.rc, 0, "dataplane exited cleanly")
    T.done()


if __name__ == "__main__":
    main()
