#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""Authentication and authorisation at the broker, checked by what actually arrives:
anonymous clients are refused; a control plane with a wrong password never comes online;
over TLS, one that cannot verify the broker's certificate stays offline and one given the
CA comes online and works;
with its own credentials it does; a user allowed to command gets replies; a user whose ACL
denies the command topic gets no reply and changes nothing (mosquitto accepts the publish
and drops it, so only what arrives tells); a user denied the status topic receives none.
"""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cpharness import Broker, Checks, Client, ControlPlane, pcap_dataplane, wait_status  # noqa

T = Checks("cp_auth")
CMD = "mfwd/n1/cmd"
ACL = """user cp
topic readwrite #

user alice
topic write mfwd/n1/cmd
topic read mfwd/n1/status
topic read test/reply/#

user eve
topic read test/reply/#
"""
SPEC = {"id": "a1", "kind": "udp", "ingress": {"port": 0, "addr": "10.99.1.2", "udp_port": 5000},
        "outputs": [{"port": 1, "addr": "10.99.2.1", "udp_port": 6000}]}


def main():
    users = {"cp": "cp-secret", "alice": "alice-pw", "eve": "eve-pw"}
    dpl = pcap_dataplane("cpauth")
    with dpl, Broker(users=users, acl=ACL) as broker:
        anon = Client(broker)
        T.check(not anon.connected(), "anonymous connection refused (%s)" % anon.rc)
        anon.close()
        alice = Client(broker, username="alice", password="alice-pw")
        T.check(alice.connected(), "alice connects")

        bad = ControlPlane(broker, "n1", dpl.instance, username="cp", password="wrong")
        with bad:
            st = wait_status(alice, "n1", lambda s: s["online"], timeout=4)
            T.check(st is None, "a control plane with a wrong password stays offline")
        T.check("not authorized" in bad.tail().lower() or "bad user name or password" in
                bad.tail().lower() or "connect" in bad.tail().lower(),
                "it says why: %s" % bad.tail(3))

        cp = ControlPlane(broker, "n1", dpl.instance, username="cp", password="cp-secret")
        with cp:
            T.check(wait_status(alice, "n1", lambda s: s["online"]) is not None,
                    "with its credentials it is online")
            r = alice.request(CMD, "session.create", SPEC)
            T.check(r is not None and r["ok"], "alice may command: %s" % r)
            eve = Client(broker, username="eve", password="eve-pw")
            T.check(eve.connected(), "eve connects")
            r = eve.request(CMD, "session.create", dict(SPEC, id="e1", ingress={
                "port": 0, "addr": "10.99.1.2", "udp_port": 5002}), timeout=3)
            T.eq(r, None, "eve's command (ACL-denied topic) gets no reply")
            r = alice.request(CMD, "session.list")
            T.check(r is not None and r["ok"] and r["result"]["sessions"] == ["a1"],
                    "eve's command changed nothing: %s" % r)
            eve.subscribe("mfwd/n1/status")
            got = eve.collect("mfwd/n1/status", 3)
            T.eq(got, [], "eve, denied the status topic, receives none")
            eve.close()
        alice.close()
    T.eq(dpl.rc, 0, "dataplane exited cleanly")
    tls()
    T.done()


def tls():
    dpl = pcap_dataplane("cptls")
    with dpl, Broker(tls=True) as broker:
        url = "ssl://127.0.0.1:%d" % broker.port
        untrusting = ControlPlane(broker, "n1", dpl.instance, broker=url)
        with untrusting:
            deadline = time.time() + 30
            while "cannot connect" not in untrusting.tail() and time.time() < deadline:
                time.sleep(0.1)
        T.check("online" not in open(untrusting.log).read() and
                "cannot connect" in untrusting.tail(), "TLS: a broker it cannot verify is "
                "refused: %s" % untrusting.tail(2))
        cp = ControlPlane(broker, "n1", dpl.instance, broker=url, tls={"ca_file": broker.ca})
        with cp:
            c = TlsClient(broker)
            T.check(wait_status(c, "n1", lambda s: s["online"] and s["dataplane"]["up"])
                    is not None, "TLS: with the CA it is online")
            r = c.request(CMD, "session.create", SPEC)
            T.check(r is not None and r["ok"], "TLS: commands answered: %s" % r)
            c.close()
    T.eq(dpl.rc, 0, "dataplane exited cleanly")


class TlsClient(Client):
    def __init__(self, broker):
        import paho.mqtt.client as mqtt
        orig = mqtt.Client.connect

        def connect(c, host, port, *a, **kw):
            c.tls_set(ca_certs=broker.ca)
            return orig(c, host, port, *a, **kw)
        mqtt.Client.connect = connect
        try:
            super().__init__(broker)
        finally:
            mqtt.Client.connect = orig


if __name__ == "__main__":
    main()
