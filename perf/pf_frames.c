/* SPDX-License-Identifier: BSD-3-Clause */
/* The benchmarks' frames: headers built once per flow, a packet copies them and writes what
 * advances. */

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <rte_byteorder.h>
#include <rte_ip.h>
#include <rte_udp.h>

#include <jansson.h>

#include "mf/mf_bytes.h"
#include "mf/mf_pkt.h"
#include "mf/mf_session.h"
#include "pf_frames.h"

static void
write_headers(const struct pf_frames *f, uint8_t *p, uint32_t flow)
{
	struct rte_ether_hdr *eth = (struct rte_ether_hdr *)p;
	struct rte_ipv4_hdr *ip = (struct rte_ipv4_hdr *)(eth + 1);
	struct rte_udp_hdr *udp = (struct rte_udp_hdr *)(ip + 1);
	uint16_t len = (uint16_t)f->size;

	memset(eth, 0, sizeof(*eth));
	eth->dst_addr.addr_bytes[0] = 0x02;
	eth->dst_addr.addr_bytes[5] = 0xaa;
	eth->src_addr = f->src_mac;
	eth->ether_type = rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4);
	memset(ip, 0, sizeof(*ip));
	ip->version_ihl = RTE_IPV4_VHL_DEF;
	ip->total_length = rte_cpu_to_be_16((uint16_t)(len - sizeof(*eth)));
	ip->time_to_live = 64;
	ip->next_proto_id = IPPROTO_UDP;
	memcpy(&ip->src_addr, f->src_ip, 4);
	memcpy(&ip->dst_addr, f->dst_ip, 4);
	/* Flows beyond flows_per_ip go to the next addresses: one address has 64k ports. */
	((uint8_t *)&ip->dst_addr)[3] = (uint8_t)(f->dst_ip[3] + flow / f->flows_per_ip);
	ip->hdr_checksum = rte_ipv4_cksum(ip);
	udp->src_port = rte_cpu_to_be_16(4000);
	udp->dst_port = rte_cpu_to_be_16((uint16_t)(f->dst_port_base +
						      2 * (flow % f->flows_per_ip)));
	udp->dgram_len = rte_cpu_to_be_16((uint16_t)(len - sizeof(*eth) - sizeof(*ip)));
	udp->dgram_cksum = 0;
}

static uint32_t
add(uint32_t a, uint32_t b)
{
	a += b;
	return a + (a < b);
}

/* The UDP checksum from a host-order sum of the datagram (checksum field 0). */
static void
write_csum(uint8_t *p, uint32_t sum)
{
	uint16_t c;

	sum = (sum & 0xffff) + (sum >> 16);
	c = (uint16_t)~((sum & 0xffff) + (sum >> 16));
	c = c == 0 ? 0xffff : c;
	memcpy(p + PF_L4_OFF - 2, &c, 2);
}

static uint32_t
datagram_sum(const struct pf_frames *f, const uint8_t *p)
{
	const struct rte_ipv4_hdr *ip = (const struct rte_ipv4_hdr *)(p + RTE_ETHER_HDR_LEN);

	return add(add(rte_ipv4_phdr_cksum(ip, 0), mf_csum_host(p + PF_L4_OFF - 8, 6)),
		   mf_csum_host(p + PF_L4_OFF, f->size - PF_L4_OFF));
}

void
pf_frames_udp_csum(const struct pf_frames *f, uint8_t *p)
{
	write_csum(p, datagram_sum(f, p));
}

int
pf_frames_build(struct pf_frames *f)
{
	uint8_t frame[1536];
	uint32_t i, plen = f->size - PF_L4_OFF - 12;

	f->flow = calloc(f->flows, sizeof(*f->flow));
	f->payload = calloc(1, plen);
	if (f->flow == NULL || f->payload == NULL || f->size > sizeof(frame)) {
		pf_frames_free(f);
		return -ENOMEM;
	}
	memset(f->payload + 8, 0xa5, plen - 8);
	for (i = 0; i < f->flows; i++) {
		uint8_t *rtp = f->flow[i].hdr + PF_L4_OFF;

		write_headers(f, f->flow[i].hdr, i);
		rtp[0] = 0x80;
		rtp[1] = 96;
		mf_wr32(rtp + 8, i + 1);
		memcpy(frame, f->flow[i].hdr, sizeof(f->flow[i].hdr));
		memcpy(frame + sizeof(f->flow[i].hdr), f->payload, plen);
		f->flow[i].csum_base = datagram_sum(f, frame);
	}
	return 0;
}

void
pf_frames_free(struct pf_frames *f)
{
	free(f->flow);
	free(f->payload);
	f->flow = NULL;
	f->payload = NULL;
}

void
pf_frames_rtp_hdr(struct pf_frames *f, uint8_t *p, uint32_t flow)
{
	struct pf_flow *fl = &f->flow[flow];

	memcpy(p, fl->hdr, sizeof(fl->hdr));
	mf_wr16(p + PF_L4_OFF + 2, (uint16_t)fl->seq);
	mf_wr32(p + PF_L4_OFF + 4, fl->seq * 3000u);
	fl->seq++;
}

void
pf_frames_fill(struct pf_frames *f, uint8_t *p, uint32_t flow, uint64_t now)
{
	struct pf_flow *fl = &f->flow[flow];
	uint8_t *pl = p + PF_L4_OFF;
	int k;

	if (!f->ts) {
		uint32_t base = fl->csum_base;

		pf_frames_rtp_hdr(f, p, flow);
		memcpy(pl + 12, f->payload, f->size - PF_L4_OFF - 12);
		memcpy(pl + 12, &now, 8);
		/* Only the sequence number, timestamp and clock differ from the flow's sum. */
		write_csum(p, add(add(base, mf_csum_host(pl + 2, 6)), mf_csum_host(pl + 12, 8)));
		return;
	}
	memcpy(p, fl->hdr, PF_L4_OFF);
	for (k = 0; k < 7; k++) {
		uint8_t *t = pl + k * 188;

		t[0] = 0x47;
		t[1] = k == 6 ? 0x1f : 0x01;	/* the last one a null packet */
		t[2] = k == 6 ? 0xff : 0x00;
		t[3] = (uint8_t)(0x10 | (k == 6 ? 0 : fl->cc++ & 0x0f));
		memset(t + 4, 0xa5, 184);
	}
	memcpy(pl + 4, &flow, 4);
	memcpy(pl + 8, &fl->seq, 4);
	memcpy(pl + 12, &now, 8);
	fl->seq++;
	pf_frames_udp_csum(f, p);
}

int
pf_srtp_arg(const char *arg, struct mf_srtp_params *p)
{
	const char *colon = strchr(arg, ':');
	struct mf_sess_err err;
	json_t *obj;
	int rc;

	if (colon == NULL)
		return -EINVAL;
	obj = json_pack("{s:s%, s:s}", "suite", arg, (size_t)(colon - arg), "key", colon + 1);
	rc = obj == NULL ? -EINVAL : mf_srtp_params_from_json(obj, MF_SESS_RTP, p, &err);
	json_decref(obj);
	return rc;
}
