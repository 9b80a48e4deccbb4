#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""The retained status carries what placement needs: capacity left and the load.

A dataplane whose port 0 replays a pcap of UDP datagrams for no session without end
(net_pcap infinite_rx), a control plane publishing its status every second:
- the first status of the dataplane has load figures of 0 over an interval of 0;
- then rx_pps and rx_kbps are those of the dataplane's own node counters over the same
  time (within a factor of two: the status samples them at its own moment), tx_pps is 0
  (nothing is forwarded), the busiest worker is busy and the mean is no more than it;
- capacity.sessions_free is max_sessions less the sessions, and follows a create.
"""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cpharness import Broker, Checks, Client, ControlPlane, wait_status  # noqa: E402
from harness import Dataplane  # noqa: E402
from scapy.all import IP, UDP, Ether, Raw, wrpcap  # noqa: E402

T = Checks("cp_status")
CMD = "mfwd/n1/cmd"


def dataplane():
    dpl = Dataplane("cpstatus", "")
    wrpcap(dpl.path("flood.pcap"), [
        Ether(src="02:00:00:00:01:01", dst="02:00:00:00:00:aa") /
        IP(src="10.99.1.1", dst="10.99.1.2") / UDP(sport=4000, dport=9000 + i) /
        Raw(b"x" * 100) for i in range(16)])
    wrpcap(dpl.path("empty.pcap"), [])
    with open(dpl.ports_file, "w") as f:
        f.write("""
[port 0]
vdev = net_pcap_st0,rx_pcap={d}/flood.pcap,tx_pcap={d}/out0.pcap,infinite_rx=1
ipv4 = 10.99.1.2/24
neighbour = 10.99.1.1 02:00:00:00:01:01
[port 1]
vdev = net_pcap_st1,rx_pcap={d}/empty.pcap,tx_pcap={d}/out1.pcap
ipv4 = 10.99.2.2/24
neighbour = 10.99.2.1 02:00:00:00:02:01
""".format(d=dpl.dir))
    return dpl


def main():
    dpl = dataplane()
    with dpl, Broker() as broker:
        cp = ControlPlane(broker, "n1", dpl.instance, status_interval_s=1,
                          limits={"max_sessions": 10})
        with cp:
            c = Client(broker)
            first = wait_status(c, "n1", lambda s: s["online"] and s["dataplane"]["up"])
            T.check(first is not None and "load" in first, "status with load: %s" % first)
            if first is None:
                print(cp.tail())
                T.done()
            T.check(first["capacity"]["sessions_free"] == 10, "sessions_free of an empty node")
            st0, t0 = dpl.stats()["node"], time.monotonic()
            load = wait_status(c, "n1", lambda s: s["load"]["interval_ms"] > 500)
            st1, t1 = dpl.stats()["node"], time.monotonic()
            T.check(load is not None, "a status with rates over an interval")
            if load is not None:
                ld = load["load"]
                pps = (st1["rx_pkts"] - st0["rx_pkts"]) / (t1 - t0)
                kbps = (st1["rx_bytes"] - st0["rx_bytes"]) * 8e-3 / (t1 - t0)
                T.check(pps / 2 < ld["rx_pps"] < pps * 2,
                        "rx_pps %.0f, the counters say %.0f" % (ld["rx_pps"], pps))
                T.check(kbps / 2 < ld["rx_kbps"] < kbps * 2,
                        "rx_kbps %.0f, the counters say %.0f" % (ld["rx_kbps"], kbps))
                T.eq(ld["tx_pps"], 0, "tx_pps: nothing forwarded")
                T.check(0 < ld["worker_busy_max"] <= 1 and
                        ld["worker_busy_mean"] <= ld["worker_busy_max"],
                        "worker busy share: %s" % ld)
            r = c.request(CMD, "session.create", {
                "id": "s1", "kind": "udp",
                "ingress": {"port": 0, "addr": "10.99.1.2", "udp_port": 5000},
                "outputs": [{"port": 1, "addr": "10.99.2.1", "udp_port": 6000}]})
            T.check(r is not None and r.get("ok"), "create: %s" % r)
            T.check(wait_status(c, "n1", lambda s: s["capacity"]["sessions_free"] == 9)
                    is not None, "sessions_free follows a create")
            c.close()
    T.done()


if __name__ == "__main__":
    main()
