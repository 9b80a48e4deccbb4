/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libFuzzer target for the reassembly path (fuzz_frag): the fuzzer's bytes are a sequence of
 * frames ([length: 2 bytes][frame] ...), each taken as the dataplane takes a frame: parsed
 * (mf_pkt_parse_udp), a fragment checked alone (mf_frag_check), then given to DPDK's
 * reassembly table exactly as dataplane/dp_frag.c does. A datagram that comes out whole must
 * be one a parser accepts, within bounds, no larger than the configured maximum; every mbuf
 * goes back to its pool (the table is flushed after each input, so inputs are independent).
 * EAL runs without hugepages or shared config.
 */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_ip.h>
#include <rte_ip_frag.h>
#include <rte_mbuf.h>

#include "mf/mf_pkt.h"

#define MAX_FRAMES	24
#define MAX_DATAGRAM	9216
#define NB_MBUFS	1023

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond) \
	do { \
		if (!(cond)) \
			abort(); \
	} while (0)

static struct rte_mempool *pool;
static struct rte_ip_frag_tbl *tbl;
static struct rte_ip_frag_death_row dr;

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char *eal[] = { "fuzz_frag", "--no-huge", "-m", "256", "--no-pci", "--no-shconf",
			"--no-telemetry", "--file-prefix", "mfwd-fuzz-frag",
			"--log-level=lib.eal:crit", NULL };

	(void)argc;
	(void)argv;
	if (rte_eal_init((int)(sizeof(eal) / sizeof(eal[0])) - 1, eal) < 0)
		abort();
	pool = rte_pktmbuf_pool_create("fuzz", NB_MBUFS, 0, 0, RTE_MBUF_DEFAULT_BUF_SIZE, 0);
	tbl = rte_ip_frag_table_create(64, 16, 64, rte_get_tsc_hz(), 0);
	if (pool == NULL || tbl == NULL)
		abort();
	return 0;
}

/* One frame as dp_frag_in takes it. */
static void
one(const uint8_t *d, uint16_t n, uint64_t tms)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(pool), *whole;
	struct mf_pkt_l4 l4;
	uint8_t *p, flat[65536];
	uint32_t len = 0;
	int rc;

	CHECK(m != NULL);
	if (n > rte_pktmbuf_tailroom(m))
		n = (uint16_t)rte_pktmbuf_tailroom(m);
	p = (uint8_t *)rte_pktmbuf_append(m, n);
	memcpy(p, d, n);
	rc = mf_pkt_parse_udp(p, n, &l4);
	if (rc != MF_PKT_FRAGMENT || mf_frag_check(&l4.ip, p + l4.l3_off, MAX_DATAGRAM) != 0 ||
	    l4.ip.proto != MF_IPPROTO_UDP) {
		rte_pktmbuf_free(m);
		return;
	}
	m->l2_len = l4.l3_off;
	if (l4.ip.version == 4) {
		m->l3_len = l4.ip.hdr_len;
		whole = rte_ipv4_frag_reassemble_packet(tbl, &dr, m, tms,
			(struct rte_ipv4_hdr *)(p + l4.l3_off));
	} else {
		struct rte_ipv6_hdr *ip6 = (struct rte_ipv6_hdr *)(p + l4.l3_off);

		m->l3_len = sizeof(*ip6) + sizeof(struct rte_ipv6_fragment_ext);
		whole = rte_ipv6_frag_reassemble_packet(tbl, &dr, m, tms, ip6,
			rte_ipv6_frag_get_ipv6_fragment_header(ip6));
	}
	if (whole == NULL)
		return;
	/* What the dataplane does next: one flat copy, parsed again. */
	CHECK(whole->pkt_len <= sizeof(flat));
	for (m = whole; m != NULL; m = m->next) {
		memcpy(flat + len, rte_pktmbuf_mtod(m, void *), m->data_len);
		len += m->data_len;
	}
	CHECK(len == whole->pkt_len);
	rte_pktmbuf_free(whole);
	if (mf_pkt_parse_udp(flat, len, &l4) == 0)
		CHECK(l4.payload_off + (uint32_t)l4.payload_len <= len);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint64_t tms = 1000;
	size_t off = 0;
	int frames = 0;

	while (off + 2 <= size && frames++ < MAX_FRAMES) {
		uint16_t n = (uint16_t)(data[off] << 8 | data[off + 1]);

		off += 2;
		if (n > size - off)
			n = (uint16_t)(size - off);
		one(data + off, n, tms++);
		off += n;
		rte_ip_frag_free_death_row(&dr, 0);
	}
	/* Flush: every datagram left is expired and freed, so no input leaks into the next. */
	rte_ip_frag_table_del_expired_entries(tbl, &dr, UINT64_MAX / 2);
	rte_ip_frag_free_death_row(&dr, 0);
	CHECK(rte_mempool_avail_count(pool) == NB_MBUFS);
	return 0;
}
