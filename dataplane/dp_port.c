/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Ports: probe each profile entry (a virtual device or a PCI device), configure its queues
 * and offloads, start it; and the address questions the rest of the dataplane asks of a
 * port (is this address ours, which source address, which next hop).
 *
 * Queues: the profile's rx_queues (RSS spreads flows over them when more than one), and one
 * TX queue per worker, so no two lcores ever share a TX queue.
 *
 * A memif client connects to its server only when started and does not reconnect when the
 * server goes (DPDK 22.11): started before its server it would fail, and after the server
 * restarts it would stay down. Such a port may start without its peer, and the control
 * lcore restarts it once its link has been down a second: workers stop bursting on it
 * (active cleared, a grace period so no burst is under way), then stop and start it. See
 * drivers-config/README.md for the role to prefer.
 */

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <rte_bus_vdev.h>
#include <rte_dev.h>
#include <rte_ethdev.h>

#include "dp.h"

#define DP_PORT_RESTART_MS	1000	/* link down this long: restart (memif client) */

static int
port_probe(const struct dp_port_conf *c, uint16_t *port_id, char *name, size_t len)
{
	char devstr[512];
	const char *comma;
	int rc;

	if (c->vdev[0] != '\0') {
		comma = strchr(c->vdev, ',');
		snprintf(name, len, "%.*s", comma ? (int)(comma - c->vdev) : (int)strlen(c->vdev),
			 c->vdev);
		rc = rte_vdev_init(name, comma ? comma + 1 : NULL);
	} else {
		snprintf(name, len, "%s", c->pci);
		snprintf(devstr, sizeof(devstr), "%s%s%s", c->pci, c->devargs[0] ? "," : "",
			 c->devargs);
		rc = rte_dev_probe(devstr);
	}
	/* -EEXIST: already probed by EAL (-a or --vdev on the command line): use it. */
	if (rc != 0 && rc != -EEXIST) {
		/* Drivers' probes return -1 for any failure (not EPERM) and log why. */
		DP_LOG(ERR, "cannot probe %s: %s\n", name,
		       rc == -1 ? "the driver refused it (its reason is above)" : rte_strerror(-rc));
		/* DPDK 22.11's af_packet joins fanout group (pid ^ ifindex) & 0xffff, and the
		 * kernel refuses a group another socket of this namespace holds on another
		 * interface: a collision of two processes' numbers, gone with a new pid. */
		if (strncmp(name, "net_af_packet", 13) == 0 ||
		    strncmp(name, "eth_af_packet", 13) == 0)
			DP_LOG(ERR, "%s: if it could not set PACKET_FANOUT, another af_packet "
			       "process here holds the group its pid gives: start again\n", name);
		return rc;
	}
	rc = rte_eth_dev_get_port_by_name(name, port_id);
	if (rc != 0)
		DP_LOG(ERR, "%s probed but is not an ethdev\n", name);
	return rc;
}

static void
choose_offloads(struct dp_port *p, const struct rte_eth_dev_info *info,
		struct rte_eth_conf *conf)
{
	uint64_t capa = info->tx_offload_capa;

	if (p->conf->offloads && (capa & RTE_ETH_TX_OFFLOAD_IPV4_CKSUM)) {
		conf->txmode.offloads |= RTE_ETH_TX_OFFLOAD_IPV4_CKSUM;
		p->tx_ip_csum = true;
	}
	if (p->conf->offloads && (capa & RTE_ETH_TX_OFFLOAD_UDP_CKSUM)) {
		conf->txmode.offloads |= RTE_ETH_TX_OFFLOAD_UDP_CKSUM;
		p->tx_udp_csum = true;
	}
	if (capa & RTE_ETH_TX_OFFLOAD_MULTI_SEGS) {
		conf->txmode.offloads |= RTE_ETH_TX_OFFLOAD_MULTI_SEGS;
		p->tx_multiseg = true;
	}
	if (p->nb_rxq > 1) {
		conf->rxmode.mq_mode = RTE_ETH_MQ_RX_RSS;
		conf->rx_adv_conf.rss_conf.rss_hf = (RTE_ETH_RSS_IP | RTE_ETH_RSS_UDP) &
						    info->flow_type_rss_offloads;
	}
}

static int
port_setup_queues(struct dp_port *p, const struct rte_eth_conf *conf)
{
	uint16_t nb_rxd = p->conf->rx_desc, nb_txd = p->conf->tx_desc, q;
	int socket = rte_eth_dev_socket_id(p->port_id);
	struct rte_eth_dev_info info;
	struct rte_eth_txconf txconf;
	int rc;

	rc = rte_eth_dev_adjust_nb_rx_tx_desc(p->port_id, &nb_rxd, &nb_txd);
	if (rc != 0)
		return rc;
	rc = rte_eth_dev_info_get(p->port_id, &info);
	if (rc != 0)
		return rc;
	p->rx_pool = dp.pool;
	if (p->conf->rx_buf_size != 0) {
		char name[RTE_MEMPOOL_NAMESIZE];

		/* Frames larger than a packet mbuf arrive whole (af_packet hands IPv4 datagrams
		 * over reassembled by the kernel). */
		snprintf(name, sizeof(name), "mfwd_rx%u", p->index);
		p->rx_pool = rte_pktmbuf_pool_create(name, 2u * nb_rxd * p->nb_rxq + 1023, 64, 0,
			(uint16_t)(RTE_PKTMBUF_HEADROOM + p->conf->rx_buf_size), RTE_MAX(socket, 0));
		if (p->rx_pool == NULL)
			return -ENOMEM;
	}
	for (q = 0; q < p->nb_rxq; q++) {
		rc = rte_eth_rx_queue_setup(p->port_id, q, nb_rxd, socket < 0 ? 0 : socket, NULL,
					    p->rx_pool);
		if (rc != 0)
			return rc;
	}
	txconf = info.default_txconf;
	txconf.offloads = conf->txmode.offloads;
	for (q = 0; q < p->nb_txq; q++) {
		rc = rte_eth_tx_queue_setup(p->port_id, q, nb_txd, socket < 0 ? 0 : socket,
					    &txconf);
		if (rc != 0)
			return rc;
	}
	return 0;
}

static bool
is_memif_client(const struct dp_port *p)
{
	struct rte_eth_dev_info info;

	return rte_eth_dev_info_get(p->port_id, &info) == 0 &&
	       strcmp(info.driver_name, "net_memif") == 0 &&
	       (strstr(p->conf->vdev, "role=client") != NULL ||
		strstr(p->conf->devargs, "role=client") != NULL);
}

static int
port_init(struct dp_port *p)
{
	struct rte_eth_conf conf = { 0 };
	struct rte_eth_dev_info info;
	int rc;

	rc = port_probe(p->conf, &p->port_id, p->name, sizeof(p->name));
	if (rc != 0)
		return rc;
	rc = rte_eth_dev_info_get(p->port_id, &info);
	if (rc != 0)
		return rc;
	p->nb_rxq = RTE_MIN(p->conf->nb_rxq, info.max_rx_queues);
	p->nb_txq = dp.nb_workers;
	if (p->nb_txq > info.max_tx_queues) {
		DP_LOG(ERR, "port %u (%s): %u workers need %u TX queues, it has %u\n", p->index,
		       p->name, dp.nb_workers, dp.nb_workers, info.max_tx_queues);
		return -EINVAL;
	}
	choose_offloads(p, &info, &conf);
	rc = rte_eth_dev_configure(p->port_id, p->nb_rxq, p->nb_txq, &conf);
	if (rc != 0)
		goto fail;
	rc = port_setup_queues(p, &conf);
	if (rc != 0)
		goto fail;
	if (p->conf->mtu != 0 && (rc = rte_eth_dev_set_mtu(p->port_id, p->conf->mtu)) != 0)
		goto fail;
	p->restartable = is_memif_client(p);
	if (p->restartable && (strstr(p->conf->vdev, "zero-copy=yes") != NULL ||
			       strstr(p->conf->devargs, "zero-copy=yes") != NULL))
		DP_LOG(WARNING, "port %u (%s): memif zero-copy connects once and stops the heap "
		       "growing (DPDK 22.11): for benchmarks only (docs/operations.md)\n",
		       p->index, p->name);
	rc = rte_eth_dev_start(p->port_id);
	if (rc != 0 && p->restartable) {
		DP_LOG(WARNING, "port %u (%s): its memif server is not there yet: retrying\n",
		       p->index, p->name);
	} else if (rc != 0) {
		goto fail;
	}
	if (p->conf->promiscuous)
		rte_eth_promiscuous_enable(p->port_id);
	rte_eth_macaddr_get(p->port_id, &p->mac);
	if (rte_eth_dev_get_mtu(p->port_id, &p->mtu) != 0 || p->mtu == 0)
		p->mtu = RTE_ETHER_MTU;
	p->up = true;
	/* A client not yet connected is burst on once dp_ports_watch() has started it. */
	atomic_store_explicit(&p->active, rc == 0, memory_order_release);
	DP_LOG(INFO, "port %u: %s, ethdev %u, %u RX / %u TX queues, tx offloads%s%s%s\n",
	       p->index, p->name, p->port_id, p->nb_rxq, p->nb_txq,
	       p->tx_ip_csum ? " ipv4-cksum" : "", p->tx_udp_csum ? " udp-cksum" : "",
	       p->tx_multiseg ? " multi-seg" : "");
	return 0;
fail:
	DP_LOG(ERR, "port %u (%s): setup failed: %s\n", p->index, p->name, rte_strerror(-rc));
	return rc;
}

int
dp_ports_init(void)
{
	uint16_t i;
	int rc;

	for (i = 0; i < dp.cfg.nb_ports; i++) {
		struct dp_port *p = &dp.ports[i];

		p->index = i;
		p->conf = &dp.cfg.ports[i];
		p->stats_idx = -1;
		rc = port_init(p);
		if (rc != 0)
			return rc;
		dp.nb_ports++;
	}
	return 0;
}

void
dp_ports_close(void)
{
	uint16_t i;

	for (i = 0; i < dp.nb_ports; i++) {
		if (!dp.ports[i].up)
			continue;
		rte_eth_dev_stop(dp.ports[i].port_id);
		rte_eth_dev_close(dp.ports[i].port_id);
		dp.ports[i].up = false;
	}
}

/* Stop bursting on @p p, wait until no worker is inside a burst on it, stop and start it. A
 * client whose server is absent fails to start, and is tried again a second later. */
static void
port_restart(struct dp_port *p)
{
	int rc;

	atomic_store_explicit(&p->active, false, memory_order_release);
	/* Workers pass a quiescent state only between bursts. */
	urcu_qsbr_synchronize_rcu();
	rte_eth_dev_stop(p->port_id);
	rc = rte_eth_dev_start(p->port_id);
	DP_LOG(NOTICE, "port %u (%s): link down %u ms: restarted%s\n", p->index, p->name,
	       DP_PORT_RESTART_MS, rc == 0 ? "" : " (peer absent: retrying)");
}

void
dp_ports_watch(uint64_t now)
{
	struct rte_eth_link link;
	uint16_t i;

	for (i = 0; i < dp.nb_ports; i++) {
		struct dp_port *p = &dp.ports[i];

		if (!p->restartable || !p->up)
			continue;
		if (rte_eth_link_get_nowait(p->port_id, &link) == 0 &&
		    link.link_status == RTE_ETH_LINK_UP) {
			p->down_since = 0;
			/* Bursts resume once the new connection is complete. */
			atomic_store_explicit(&p->active, true, memory_order_release);
			continue;
		}
		if (p->down_since == 0) {
			p->down_since = now;
			continue;
		}
		if (now - p->down_since < dp.tsc_hz / 1000 * DP_PORT_RESTART_MS)
			continue;
		port_restart(p);
		p->down_since = now;
	}
}

struct dp_port *
dp_port_by_index(uint16_t index)
{
	return index < dp.nb_ports ? &dp.ports[index] : NULL;
}

bool
dp_port_owns(const struct dp_port *p, uint8_t family, const uint8_t *ip)
{
	uint8_t i;

	if (family == 4) {
		for (i = 0; i < p->conf->nb_v4; i++)
			if (memcmp(p->conf->v4[i].a, ip, 4) == 0)
				return true;
	} else {
		for (i = 0; i < p->conf->nb_v6; i++)
			if (memcmp(p->conf->v6[i].a, ip, 16) == 0)
				return true;
	}
	return false;
}

const uint8_t *
dp_port_src_addr(const struct dp_port *p, uint8_t family)
{
	if (family == 4)
		return p->conf->nb_v4 > 0 ? p->conf->v4[0].a : NULL;
	return p->conf->nb_v6 > 0 ? p->conf->v6[0].a : NULL;
}

static bool
same_prefix(const uint8_t *a, const uint8_t *b, unsigned int bits)
{
	unsigned int full = bits / 8, rest = bits % 8;

	if (memcmp(a, b, full) != 0)
		return false;
	return rest == 0 || ((a[full] ^ b[full]) & (0xff << (8 - rest))) == 0;
}

int
dp_port_next_hop(const struct dp_port *p, const struct mf_addr *dst, struct mf_addr *nh)
{
	const struct dp_port_conf *c = p->conf;
	uint8_t i;

	*nh = *dst;
	if (dst->family == 4) {
		for (i = 0; i < c->nb_v4; i++)
			if (same_prefix(c->v4[i].a, dst->a, c->v4[i].prefix))
				return 0;
		if (!c->has_gw4)
			return -EHOSTUNREACH;
		memset(nh->a, 0, sizeof(nh->a));
		memcpy(nh->a, c->gw4, 4);
		return 0;
	}
	for (i = 0; i < c->nb_v6; i++)
		if (same_prefix(c->v6[i].a, dst->a, c->v6[i].prefix))
			return 0;
	if (!c->has_gw6)
		return -EHOSTUNREACH;
	memcpy(nh->a, c->gw6, 16);
	return 0;
}
