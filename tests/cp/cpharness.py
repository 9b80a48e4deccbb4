# SPDX-License-Identifier: BSD-3-Clause
"""Control-plane test harness: a real mosquitto on a free loopback port (its own config,
optional password file and ACL), mfwd-controlplane processes with generated configs, and an
MQTT 5 (or 3.1.1) request/response client (paho-mqtt, Debian's python3-paho-mqtt).
"""
import base64
import hashlib
import hmac
import json
import os
import queue
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "dp"))
from harness import BUILD, SKIP, Checks, Dataplane  # noqa: E402,F401

import paho.mqtt.client as mqtt  # noqa: E402
from paho.mqtt.packettypes import PacketTypes  # noqa: E402
from paho.mqtt.properties import Properties  # noqa: E402

CONTROLPLANE = os.path.join(BUILD, "controlplane", "mfwd-controlplane")
MOSQUITTO = shutil.which("mosquitto") or "/usr/sbin/mosquitto"


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def make_certs(d):
    """A CA and a server certificate for 127.0.0.1, made with the openssl command."""
    def run(*a):
        subprocess.run(["openssl"] + list(a), check=True, capture_output=True)
    run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=mfwd test CA",
        "-keyout", d + "/ca.key", "-out", d + "/ca.pem")
    run("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1", "-keyout",
        d + "/server.key", "-out", d + "/server.csr")
    with open(d + "/ext", "w") as f:
        f.write("subjectAltName=IP:127.0.0.1\n")
    run("x509", "-req", "-in", d + "/server.csr", "-CA", d + "/ca.pem", "-CAkey", d + "/ca.key",
        "-CAcreateserial", "-days", "2", "-extfile", d + "/ext", "-out", d + "/server.pem")
    return d + "/ca.pem"


class Broker:
    """mosquitto on 127.0.0.1:<free port>. users: {name: password}; acl: mosquitto ACL text.
    netns, host: run it in that network namespace, listening on its address @host (a link
    from here, Topology.link_host), with a WebSockets listener on ws_port for the pages:
    mosquitto 2.0.11 binds a WebSockets listener to every address whatever it is told, so
    it is kept inside the namespace."""

    def __init__(self, users=None, acl=None, tls=False, netns=None, host="127.0.0.1",
                 ws_port=9001):
        if not os.path.exists(MOSQUITTO):
            print("skip: no mosquitto")
            sys.exit(SKIP)
        self.port = free_port()
        self.host = host
        self.netns = netns
        self.ws_port = ws_port if netns else None
        self.dir = tempfile.mkdtemp(prefix="mfwd-broker-")
        os.chmod(self.dir, 0o755)
        # Nagle off as docs/operations.md recommends: every command would otherwise wait
        # for a delayed ACK.
        conf = ["listener %d %s" % (self.port, host), "persistence false",
                "set_tcp_nodelay true", "allow_anonymous %s" % ("false" if users else "true")]
        if tls:
            self.ca = make_certs(self.dir)
            conf += ["cafile %s/ca.pem" % self.dir, "certfile %s/server.pem" % self.dir,
                     "keyfile %s/server.key" % self.dir]
        if users:
            pw = os.path.join(self.dir, "passwd")
            open(pw, "w").close()
            for u, p in users.items():
                subprocess.run(["mosquitto_passwd", "-b", pw, u, p], check=True)
            conf.append("password_file " + pw)
        if acl:
            path = os.path.join(self.dir, "acl")
            with open(path, "w") as f:
                f.write(acl)
            conf.append("acl_file " + path)
        if self.ws_port:
            # After the TCP listener: 2.0.11 will not start with a WebSockets one alone.
            conf += ["listener %d" % self.ws_port, "protocol websockets"]
        for f in os.listdir(self.dir):
            os.chmod(os.path.join(self.dir, f), 0o644)   # mosquitto drops to its own user
        self.conf = os.path.join(self.dir, "mosquitto.conf")
        with open(self.conf, "w") as f:
            f.write("\n".join(conf) + "\n")
        self.proc = None

    def start(self):
        self.log = open(os.path.join(self.dir, "mosquitto.log"), "a")
        pre = ["ip", "netns", "exec", self.netns] if self.netns else []
        self.proc = subprocess.Popen(pre + [MOSQUITTO, "-c", self.conf], stdout=self.log,
                                     stderr=subprocess.STDOUT)
        # Generous: CI once saw 5 s go by on a loaded machine (a broker in a namespace,
        # reached over a veth that had just come up).
        deadline = time.time() + 30
        while time.time() < deadline and self.proc.poll() is None:
            try:
                socket.create_connection((self.host, self.port), timeout=0.5).close()
                return self
            except OSError:
                time.sleep(0.05)
        rc = self.proc.poll()
        self.stop()
        with open(os.path.join(self.dir, "mosquitto.log")) as f:
            log = f.read()[-2000:]
        raise RuntimeError("mosquitto did not start (exit %s): %s" % (rc, log))

    def stop(self):
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(timeout=10)
            self.proc = None
            self.log.close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
        return False


class ControlPlane:
    def __init__(self, mqtt_broker, node, instance, binary=CONTROLPLANE, **cfg):
        self.binary = binary
        self.dir = tempfile.mkdtemp(prefix="mfwd-cp-%s-" % node)
        self.node = node
        self.cfg = {"node": node, "instance": instance,
                    "broker": "tcp://%s:%d" % (mqtt_broker.host, mqtt_broker.port),
                    "journal_dir": os.path.join(self.dir, "journal"),
                    "status_interval_s": 2, "log_level": "info"}
        self.cfg.update(cfg)
        self.cfg_file = os.path.join(self.dir, "cp.json")
        with open(self.cfg_file, "w") as f:
            json.dump(self.cfg, f)
        self.proc = None
        self.log = os.path.join(self.dir, "cp.log")
        self.preexec = None	# run in the child before exec (limits)

    def start(self):
        self.logf = open(self.log, "a")
        self.proc = subprocess.Popen([self.binary, "--config", self.cfg_file],
                                     stdout=self.logf, stderr=subprocess.STDOUT,
                                     preexec_fn=self.preexec)
        return self

    def kill(self, sig=signal.SIGKILL):
        if self.proc is not None:
            self.proc.send_signal(sig)
            rc = self.proc.wait(timeout=20)
            self.proc = None
            self.logf.close()
            return rc
        return None

    def stop(self):
        return self.kill(signal.SIGTERM)

    def tail(self, n=40):
        with open(self.log) as f:
            return "".join(f.readlines()[-n:])

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
        return False


class Client:
    """A request/response client. v5: response topic + correlation data; v4: reply_to/seqid."""

    def __init__(self, broker, v5=True, username=None, password=None, client_id=None):
        self.v5 = v5
        self.msgs = queue.Queue()
        cid = client_id or "t-" + uuid.uuid4().hex[:8]
        self.c = mqtt.Client(client_id=cid, protocol=mqtt.MQTTv5 if v5 else mqtt.MQTTv311)
        if username:
            self.c.username_pw_set(username, password)
        self.c.on_message = lambda c, u, m: self.msgs.put(m)
        self.rc = None
        self.subacks = set()
        self.suback = threading.Condition()

        def on_connect(c, u, flags, rc, props=None):
            self.rc = rc

        def on_subscribe(c, u, mid, *rest):
            with self.suback:
                self.subacks.add(mid)
                self.suback.notify_all()
        self.c.on_connect = on_connect
        self.c.on_subscribe = on_subscribe
        self.c.connect(broker.host, broker.port)
        self.c.loop_start()
        # The broker's answer, however slow the machine; a refusal comes at once.
        deadline = time.time() + 20
        while self.rc is None and time.time() < deadline:
            time.sleep(0.02)
        self.reply_topic = "test/reply/" + cid
        if self.connected():
            self.subscribe(self.reply_topic)

    def connected(self):
        # paho gives v5 reason codes as objects, v3 return codes as ints.
        rc = getattr(self.rc, "value", self.rc)
        return rc is not None and int(rc) == 0

    def subscribe(self, topic):
        """Subscribe and wait for the broker's acknowledgement: what is published after
        this returns reaches us."""
        rc, mid = self.c.subscribe(topic, qos=1)
        with self.suback:
            self.suback.wait_for(lambda: mid in self.subacks, timeout=20)

    def publish(self, topic, payload, corr=None, qos=1, user=None):
        props = None
        if self.v5 and (corr is not None or user):
            props = Properties(PacketTypes.PUBLISH)
        if self.v5 and corr is not None:
            props.ResponseTopic = self.reply_topic
            props.CorrelationData = corr
        if self.v5 and user:
            props.UserProperty = list(user)
        data = payload if isinstance(payload, (bytes, str)) else json.dumps(payload)
        return self.c.publish(topic, data, qos=qos, properties=props)

    def signed(self, topic, tenant, key, cmd, args=None, rid=None, ts=None, nonce=None,
               envelope=None, sign_topic=None, send_body=None, sign_response=None,
               timeout=5):
        """A command signed as docs/control-api.md says: MQTT 5 user properties, or (always
        with MQTT 3.1.1) the envelope. sign_topic and send_body make it wrong on purpose.
        Returns the reply; self.last is (payload, user properties) to send again."""
        body = {"v": 1, "id": rid or uuid.uuid4().hex, "cmd": cmd}
        if args is not None:
            body["args"] = args
        if not self.v5:
            body["reply_to"] = self.reply_topic
        text = json.dumps(body).encode()
        ts = int(time.time()) if ts is None else ts
        nonce = nonce or uuid.uuid4().hex
        response = self.reply_topic if self.v5 else ""
        sig = sign(key, sign_topic or topic, tenant, ts, nonce, text,
                   response if sign_response is None else sign_response)
        sent = send_body if send_body is not None else text
        if envelope or (envelope is None and not self.v5):
            payload = json.dumps({"auth": {"tenant": tenant, "ts": ts, "nonce": nonce,
                                           "sig": sig}, "body": sent.decode()})
            user = None
        else:
            payload = sent
            user = [("mfwd-tenant", tenant), ("mfwd-ts", str(ts)), ("mfwd-nonce", nonce),
                    ("mfwd-sig", sig)]
        self.last = (payload, user)
        return self.resend(topic, timeout)

    def resend(self, topic, timeout=5):
        """The last signed command again, byte for byte (a new correlation: it is not
        signed)."""
        corr = uuid.uuid4().bytes
        self.publish(topic, self.last[0], corr=corr, user=self.last[1])
        return self.wait_reply(corr, timeout)

    def request(self, topic, cmd, args=None, rid=None, timeout=5, raw=None, extra=None):
        """Send one command; return (reply dict or None, correlation data seen)."""
        corr = uuid.uuid4().bytes
        body = {"v": 1, "id": rid or uuid.uuid4().hex, "cmd": cmd}
        if args is not None:
            body["args"] = args
        if not self.v5:
            body["reply_to"] = self.reply_topic
            body["seqid"] = 77
        if extra:
            body.update(extra)
        self.publish(topic, raw if raw is not None else body, corr=corr)
        return self.wait_reply(corr, timeout)

    def wait_reply(self, corr, timeout=5):
        deadline = time.time() + timeout
        while time.time() < deadline:
            try:
                m = self.msgs.get(timeout=0.1)
            except queue.Empty:
                continue
            if m.topic != self.reply_topic:
                continue
            got = getattr(m.properties, "CorrelationData", None) if self.v5 else None
            if self.v5 and got != corr:
                continue
            return json.loads(m.payload)
        return None

    def collect(self, topic_prefix, seconds):
        """Messages on topics starting with topic_prefix for a while (to show that nothing
        comes: waits for what must come use collect_until)."""
        return self.collect_until(topic_prefix, lambda out: False, seconds)

    def collect_until(self, topic_prefix, done, timeout=30):
        """Messages on topics starting with topic_prefix until done(messages) holds (or
        @timeout s): a wait for what must come, not for a guessed time."""
        out, deadline = [], time.time() + timeout
        while time.time() < deadline and not done(out):
            try:
                m = self.msgs.get(timeout=0.05)
            except queue.Empty:
                continue
            if m.topic.startswith(topic_prefix):
                out.append((m.topic, _json_or_bytes(m.payload), m.retain))
        return out

    def close(self):
        self.c.loop_stop()
        self.c.disconnect()


def _json_or_bytes(payload):
    """A payload as JSON; one that is not (a node's own lookup marker) as its bytes."""
    if not payload:
        return None
    try:
        return json.loads(payload)
    except ValueError:
        return payload


def keys_file(tenants):
    """A keys file (mode 0600) of @tenants, each (name, key bytes, admin)."""
    d = tempfile.mkdtemp(prefix="mfwd-keys-")
    path = os.path.join(d, "tenants.json")
    with open(path, "w") as f:
        json.dump({"tenants": [dict({"name": n, "key": base64.b64encode(k).decode()},
                                    **({"admin": True} if admin else {}))
                               for n, k, admin in tenants]}, f)
    os.chmod(path, 0o600)
    return path


def in_flight(cl, topic, bodies, timeout=60):
    """Every session.create of @bodies published to @topic at once; their replies by
    request id (the session's)."""
    want = {}
    for b in bodies:
        corr = uuid.uuid4().bytes
        want[corr] = b["id"]
        cl.publish(topic, {"v": 1, "cmd": "session.create", "id": b["id"], "args": b},
                   corr=corr)
    return {want[corr]: r for corr, r in replies(cl, want, timeout).items()}


def replies(cl, corrs, timeout=60):
    """The replies to @cl's requests of correlation data @corrs (any container), by it,
    once all came or @timeout s passed."""
    got = {}
    deadline = time.time() + timeout
    while len(got) < len(corrs) and time.time() < deadline:
        try:
            m = cl.msgs.get(timeout=0.2)
        except queue.Empty:
            continue
        corr = getattr(m.properties, "CorrelationData", None)
        if m.topic == cl.reply_topic and corr in corrs:
            got[corr] = json.loads(m.payload)
    return got


def sign(key, topic, tenant, ts, nonce, body, response=""):
    """HMAC-SHA256 of a command, in hex (docs/control-api.md, Signed commands)."""
    head = ("mfwd-sig-v1\n%s\n%s\n%s\n%d\n%s\n" % (topic, response, tenant, ts,
                                                   nonce)).encode()
    return hmac.new(key, head + body, hashlib.sha256).hexdigest()


def until(what, timeout=10):
    """@what's value once true (polled every 0.2 s), else its last after @timeout s."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = what()
        if v:
            return v
        time.sleep(0.2)
    return what()


def wait_status(client, node, pred, timeout=15, prefix="mfwd"):
    """Wait for a status of node for which pred(status) holds; subscribe first."""
    topic = "%s/%s/status" % (prefix, node)
    client.subscribe(topic)
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            m = client.msgs.get(timeout=0.1)
        except queue.Empty:
            continue
        if m.topic == topic and m.payload:
            st = json.loads(m.payload)
            if pred(st):
                return st
    return None


def wait_online(client, nodes):
    """Wait until each of @nodes is online with its dataplane up, then a second more for
    every node to have read every status. @return the nodes that did not come."""
    missing = [n for n in nodes
               if wait_status(client, n, lambda s: s["online"] and s["dataplane"]["up"]) is None]
    time.sleep(1)
    return missing


def pcap_dataplane(name, **kw):
    """A dataplane on two pcap ports that read nothing: enough for the control API."""
    dpl = Dataplane(name, "", **kw)
    from scapy.all import wrpcap
    wrpcap(dpl.path("empty.pcap"), [])
    with open(dpl.ports_file, "w") as f:
        f.write("""
[port 0]
vdev = net_pcap_{n}0,rx_pcap={d}/empty.pcap,tx_pcap={d}/out0.pcap
ipv4 = 10.99.1.2/24
ipv6 = fd00:1::2/64
neighbour = 10.99.1.1 02:00:00:00:01:01
[port 1]
vdev = net_pcap_{n}1,rx_pcap={d}/empty.pcap,tx_pcap={d}/out1.pcap
ipv4 = 10.99.2.2/24
neighbour = 10.99.2.1 02:00:00:00:02:01
""".format(d=dpl.dir, n=name))
    return dpl
