#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""mfwd-stat --listen: the Prometheus endpoint scraped with curl and checked with promtool.

net_pcap port 0 reads UDP for three sessions (a: 30 packets, b: 20, c: 10), each with one
output on port 1. The endpoint starts before the dataplane, serves --max-sessions 2, and
outlives a dataplane restart:
  no dataplane: mfwd_up 0; running: mfwd_up 1, the two busiest sessions and their outputs
  (not c), values equal to mfwd-stat --json, HELP/TYPE once per family and its samples
  together (promtool's lint too); 404 and 405 elsewhere; stopped: mfwd_up 0 again;
  a new dataplane of the same instance: mfwd_up 1 with its own start time.
"""
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import STAT, Checks, Dataplane  # noqa: E402
from scapy.all import IP, UDP, Ether, Raw, wrpcap  # noqa: E402

T = Checks("prometheus")
DASHBOARD = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "dist",
                         "grafana", "mfwd.json")
SRC_MAC, DP_MAC = "02:00:00:00:01:01", "02:00:00:00:00:aa"
COUNTS = {"a": 30, "b": 20, "c": 10}
PORTS = """
[port 0]
vdev = net_pcap_p0,rx_pcap={d}/in0.pcap,tx_pcap={d}/out0.pcap
ipv4 = 10.99.1.2/24
neighbour = 10.99.1.1 02:00:00:00:01:01
[port 1]
vdev = net_pcap_p1,rx_pcap={d}/in1.pcap,tx_pcap={d}/out1.pcap
ipv4 = 10.99.2.2/24
neighbour = 10.99.2.1 02:00:00:00:02:01
"""


def sessions():
    return [{"id": sid, "kind": "udp",
             "ingress": {"port": 0, "addr": "10.99.1.2", "udp_port": 5000 + 2 * k},
             "outputs": [{"id": "to-" + sid, "port": 1, "addr": "10.99.2.1",
                          "udp_port": 6000 + 2 * k}]}
            for k, sid in enumerate(sorted(COUNTS))]


def inputs(d):
    pkts = []
    for k, sid in enumerate(sorted(COUNTS)):
        pkts += [Ether(src=SRC_MAC, dst=DP_MAC) / IP(src="10.99.1.1", dst="10.99.1.2") /
                 UDP(sport=4000, dport=5000 + 2 * k) / Raw(b"%s-%d" % (sid.encode(), i) * 10)
                 for i in range(COUNTS[sid])]
    wrpcap(os.path.join(d, "in0.pcap"), pkts)
    # Port 1 reads one datagram for no session (a pcap port needs something to read).
    wrpcap(os.path.join(d, "in1.pcap"), [
        Ether(src="02:00:00:00:02:01", dst=DP_MAC) / IP(src="10.99.2.1", dst="10.99.2.2") /
        UDP(sport=1, dport=9) / Raw(b"x")])
    return len(pkts)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def curl(url, *args):
    r = subprocess.run(["curl", "-sS", "-o", "-", "-w", "\n%{http_code}", "-D", "-", *args,
                        url], capture_output=True, timeout=10)
    out = r.stdout.decode()
    body, code = out.rsplit("\n", 1)
    return int(code) if code.isdigit() else 0, body


def scrape(url):
    code, text = curl(url)
    head, _, body = text.partition("\r\n\r\n")
    return code, head, body


def samples(body):
    """{(name, frozenset(labels)): value} and the families in order of appearance."""
    out, order = {}, []
    for line in body.splitlines():
        if line.startswith("#"):
            m = re.match(r"# (HELP|TYPE) (\S+)", line)
            order.append((m.group(1), m.group(2)))
            continue
        m = re.match(r'([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$', line)
        labels = frozenset(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', m.group(3) or ""))
        out[(m.group(1), labels)] = float(m.group(4))
        order.append(("SAMPLE", m.group(1)))
    return out, order


def value(s, name, **labels):
    for (n, ls), v in s.items():
        if n == name and all((k, str(x)) in ls for k, x in labels.items()):
            return v
    return None


def promtool(body, what):
    if shutil.which("promtool") is None:
        T.check(False, "promtool installed (tools/setup-host installs prometheus)")
        return
    r = subprocess.run(["promtool", "check", "metrics"], input=body.encode(),
                       capture_output=True)
    T.check(r.returncode == 0, "promtool check metrics (%s): %s" %
            (what, (r.stdout + r.stderr).decode()[-600:]))


def check_families(order):
    """HELP and TYPE once per family, before its samples, and its samples together."""
    seen, current = {}, None
    for kind, name in order:
        if kind != "SAMPLE":
            seen.setdefault(name, set()).add(kind)
            current = name
            continue
        if name != current:
            T.check(False, "sample %s outside its family (after %s)" % (name, current))
            return
    T.check(all(k == {"HELP", "TYPE"} for k in seen.values()), "HELP and TYPE on every family")
    T.eq(len([1 for k, _ in order if k == "TYPE"]), len(seen), "each family declared once")


def check_dashboard(s):
    """Every metric the Grafana dashboard queries is in the exposition: names, and every
    name a __name__ regex stands for matches at least one family."""
    with open(DASHBOARD) as f:
        dash = json.load(f)
    exprs = [t["expr"] for p in dash["panels"] for t in p.get("targets", [])]
    exprs.append(dash["templating"]["list"][1]["query"])
    names = {n for (n, _) in s}
    used = set()
    for e in exprs:
        for rx in re.findall(r'__name__=~"([^"]+)"', e):
            T.check(any(re.fullmatch(rx, n) for n in names),
                    "dashboard: __name__=~%s matches a family" % rx)
        e = re.sub(r'__name__=~"[^"]+"', "", e)
        used |= set(re.findall(r"\b(mfwd_[a-z0-9_]+)\b", e)) - {"mfwd_instance"}
    missing = sorted(used - names)
    T.check(len(used) >= 15 and not missing,
            "dashboard: its %d metrics are exported (missing: %s)" % (len(used), missing))
    labels = {k for (_, ls) in s for k, _ in ls}
    legends = [t.get("legendFormat", "") for p in dash["panels"] for t in p.get("targets", [])]
    used_labels = {x for e in exprs + legends
                   for m in re.findall(r"\{\{(\w+)\}\}|by \((\w+)\)", e)
                   for x in m if x and x != "__name__"}
    T.check(used_labels <= labels, "dashboard: its labels exist: %s" % sorted(used_labels))


def check_running(url, dpl, instance):
    code, head, body = scrape(url)
    T.eq(code, 200, "scrape while running")
    T.check("text/plain; version=0.0.4" in head, "exposition content type")
    promtool(body, "running")
    s, order = samples(body)
    check_families(order)
    st = dpl.stats()
    lab = {"mfwd_instance": instance}
    T.eq(value(s, "mfwd_up", **lab), 1, "mfwd_up 1")
    T.eq(value(s, "mfwd_sessions", **lab), 3, "mfwd_sessions")
    T.eq(value(s, "mfwd_sessions_exported", **lab), 2, "mfwd_sessions_exported (limit 2)")
    for sid in ("a", "b"):
        T.eq(value(s, "mfwd_session_rx_pkts_total", session=sid), COUNTS[sid],
             "session %s rx_pkts" % sid)
        T.eq(value(s, "mfwd_output_tx_pkts_total", session=sid, output="to-" + sid),
             st["sessions"][sid]["outputs"]["to-" + sid]["tx_pkts"], "output of %s" % sid)
    T.eq(value(s, "mfwd_session_last_rx_seconds", session="a"),
         st["sessions"]["a"]["last_rx_ms"] / 1000, "a field in ms is exported in seconds")
    T.check(value(s, "mfwd_session_rx_pkts_total", session="c") is None and
            value(s, "mfwd_output_tx_pkts_total", session="c") is None,
            "the quietest session (c) is not exported, nor its output")
    for f in ("rx_pkts", "rx_bytes", "tx_pkts"):
        T.eq(value(s, "mfwd_port_%s_total" % f, port=0), st["ports"]["0"][f],
             "port 0 %s as mfwd-stat --json" % f)
    T.eq(value(s, "mfwd_port_imissed", port=0), st["ports"]["0"]["imissed"],
         "an ethdev figure is a gauge without _total")
    lc = [ls for (n, ls) in s if n == "mfwd_node_iterations_total"]
    T.check(("role", "control") in lc[0] | lc[-1] and len(lc) == 2,
            "node figures per lcore, with their role: %s" % lc)
    T.check("# HELP mfwd_session_rx_pkts_total ingress packets accepted" in body,
            "HELP is the dataplane's description of the field")
    T.check(all(ls >= {("mfwd_instance", instance)} for (_, ls) in s), "every sample labelled")
    check_dashboard(s)
    code, _ = curl(url.replace("/metrics", "/other"))
    T.eq(code, 404, "another path: 404")
    code, text = curl(url, "-X", "POST", "-d", "x")
    T.check(code == 405 and "Allow: GET, HEAD" in text, "POST: 405 with Allow (%d)" % code)
    one = subprocess.run([STAT, "-i", instance, "--prometheus", "--max-sessions", "1"],
                         capture_output=True, check=True).stdout.decode()
    promtool(one, "mfwd-stat --prometheus")
    s1, _ = samples(one)
    T.eq(value(s1, "mfwd_sessions_exported"), 1, "--prometheus with --max-sessions 1")
    T.eq(value(s1, "mfwd_session_rx_pkts_total", session="a"), 30, "the busiest session")
    return value(s, "mfwd_start_time_seconds", **lab)


def start(instance_name):
    dpl = Dataplane(instance_name, "", sessions=sessions())
    n = inputs(dpl.dir)
    with open(dpl.ports_file, "w") as f:
        f.write(PORTS.format(d=dpl.dir))
    dpl.start()
    dpl.wait_for(lambda st: st["ports"]["0"]["rx_pkts"] == n and
                 sum(st["sessions"][x]["tx_pkts"] for x in COUNTS) == n, what="all forwarded")
    return dpl


def main():
    dpl = Dataplane("prom", "")      # only for its instance name; started below
    instance = dpl.instance
    url = "http://127.0.0.1:%d/metrics" % free_port()
    srv = subprocess.Popen([STAT, "-i", instance, "--listen", url[7:-8], "--max-sessions",
                            "2"], stderr=subprocess.PIPE)
    try:
        code = 0
        for _ in range(100):
            code, _, body = scrape(url) if srv.poll() is None else (0, "", "")
            if code == 200:
                break
            time.sleep(0.05)
        T.eq(code, 200, "the endpoint serves before any dataplane runs")
        T.eq(value(samples(body)[0], "mfwd_up"), 0, "no dataplane: mfwd_up 0")
        promtool(body, "no dataplane")
        dpl = start("prom")
        t1 = check_running(url, dpl, instance)
        dpl.stop()
        T.eq(dpl.rc, 0, "dataplane exited cleanly")
        code, _, body = scrape(url)
        s, _ = samples(body)
        T.check(code == 200 and value(s, "mfwd_up") == 0 and
                value(s, "mfwd_sessions") is None, "dataplane stopped: mfwd_up 0, no figures")
        time.sleep(0.01)
        dpl = start("prom")
        code, _, body = scrape(url)
        s, _ = samples(body)
        T.check(value(s, "mfwd_up") == 1 and value(s, "mfwd_start_time_seconds") != t1 and
                value(s, "mfwd_session_rx_pkts_total", session="a") == 30,
                "a new dataplane of the instance is scraped again")
        dpl.stop()
        T.eq(srv.poll(), None, "the endpoint outlived both dataplanes")
    finally:
        srv.terminate()
        err = srv.communicate(timeout=10)[1].decode()
    T.eq(srv.returncode, 0, "mfwd-stat --listen ends on SIGTERM: %s" % err[-400:])
    T.check("mapped" in err, "it logged the dataplane's mapping: %s" % err[-400:])
    T.done()


if __name__ == "__main__":
    main()
