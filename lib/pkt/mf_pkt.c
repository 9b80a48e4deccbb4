/* SPDX-License-Identifier: BSD-3-Clause */
/* Ethernet, ARP, IPv4, IPv6, UDP and ICMP parsers over untrusted bytes (see mf_pkt.h). */

#include <string.h>

#include "mf/mf_bytes.h"
#include "mf/mf_pkt.h"

static const char *const err_names[MF_PKT_E_MAX] = {
	[MF_PKT_OK] = "ok",
#define X(name, desc) [MF_PKT_E_##name] = #name,
#include "mf/mf_pkt_err.inc"
#undef X
};

static const char *const err_descs[MF_PKT_E_MAX] = {
	[MF_PKT_OK] = "ok",
#define X(name, desc) [MF_PKT_E_##name] = desc,
#include "mf/mf_pkt_err.inc"
#undef X
};

const char *
mf_pkt_err_name(int err)
{
	if (err < 0)
		err = -err;
	return err < MF_PKT_E_MAX ? err_names[err] : "unknown";
}

const char *
mf_pkt_err_desc(int err)
{
	if (err < 0)
		err = -err;
	return err < MF_PKT_E_MAX ? err_descs[err] : "unknown reason";
}

int
mf_eth_parse(const uint8_t *p, size_t len, struct mf_eth *e)
{
	size_t off = 12;
	uint16_t type;

	if (len < MF_ETH_HDR_LEN)
		return -MF_PKT_E_ETH_TRUNC;
	memcpy(e->dst, p, 6);
	memcpy(e->src, p + 6, 6);
	e->nb_vlan = 0;
	type = mf_rd16(p + off);
	while (type == MF_ETHER_TYPE_VLAN || type == MF_ETHER_TYPE_QINQ ||
	       type == MF_ETHER_TYPE_QINQ_OLD) {
		if (e->nb_vlan == MF_ETH_MAX_VLAN)
			return -MF_PKT_E_ETH_VLAN_DEPTH;
		if (len < off + 6)
			return -MF_PKT_E_ETH_TRUNC;
		e->vlan_tci[e->nb_vlan++] = mf_rd16(p + off + 2);
		off += 4;
		type = mf_rd16(p + off);
	}
	e->ethertype = type;
	e->hdr_len = (uint16_t)(off + 2);
	return 0;
}

int
mf_arp_parse(const uint8_t *p, size_t len, struct mf_arp *a)
{
	if (len < MF_ARP_LEN)
		return -MF_PKT_E_ARP_TRUNC;
	/* htype 1 (Ethernet), ptype IPv4, hlen 6, plen 4 */
	if (mf_rd16(p) != 1 || mf_rd16(p + 2) != MF_ETHER_TYPE_IPV4 || p[4] != 6 || p[5] != 4)
		return -MF_PKT_E_ARP_FORMAT;
	a->op = mf_rd16(p + 6);
	memcpy(a->sha, p + 8, 6);
	memcpy(a->spa, p + 14, 4);
	memcpy(a->tha, p + 18, 6);
	memcpy(a->tpa, p + 24, 4);
	return 0;
}

/* Walk the option list: every option's length must stay inside the header. */
static int
ipv4_options_ok(const uint8_t *opt, size_t len)
{
	size_t i = 0;

	while (i < len) {
		uint8_t type = opt[i];

		if (type == 0)		/* end of list */
			return 0;
		if (type == 1) {	/* no-op */
			i++;
			continue;
		}
		if (i + 1 >= len || opt[i + 1] < 2 || opt[i + 1] > len - i)
			return -MF_PKT_E_IP4_OPTIONS;
		i += opt[i + 1];
	}
	return 0;
}

int
mf_ipv4_parse(const uint8_t *p, size_t len, struct mf_ip *ip)
{
	size_t ihl;
	uint16_t frag;

	if (len < 20)
		return -MF_PKT_E_IP4_TRUNC;
	if (p[0] >> 4 != 4)
		return -MF_PKT_E_IP4_VERSION;
	ihl = (size_t)(p[0] & 0x0f) * 4;
	if (ihl < 20 || ihl > len)
		return -MF_PKT_E_IP4_IHL;
	ip->total_len = mf_rd16(p + 2);
	if (ip->total_len < ihl || ip->total_len > len)
		return -MF_PKT_E_IP4_TOTLEN;
	ip->flags = 0;
	if (ihl > 20) {
		if (ipv4_options_ok(p + 20, ihl - 20) != 0)
			return -MF_PKT_E_IP4_OPTIONS;
		ip->flags |= MF_IP_F_OPTIONS;
	}
	frag = mf_rd16(p + 6);
	ip->frag_off = (uint16_t)((frag & 0x1fff) * 8);
	if (frag & 0x2000)
		ip->flags |= MF_IP_F_MORE_FRAGS;
	if (ip->frag_off != 0 || (frag & 0x2000))
		ip->flags |= MF_IP_F_FRAGMENT;
	ip->version = 4;
	ip->tos = p[1];
	ip->ttl = p[8];
	ip->proto = p[9];
	ip->hdr_len = (uint16_t)ihl;
	memset(ip->src, 0, sizeof(ip->src));
	memset(ip->dst, 0, sizeof(ip->dst));
	memcpy(ip->src, p + 12, 4);
	memcpy(ip->dst, p + 16, 4);
	return 0;
}

static bool
ipv6_is_ext(uint8_t nh)
{
	/* hop-by-hop, routing, fragment, destination options, mobility, HIP, shim6 */
	return nh == 0 || nh == 43 || nh == 44 || nh == 60 || nh == 135 || nh == 139 ||
	       nh == 140;
}

int
mf_ipv6_parse(const uint8_t *p, size_t len, struct mf_ip *ip)
{
	size_t off = 40, end;
	uint8_t nh;
	int n;

	if (len < 40)
		return -MF_PKT_E_IP6_TRUNC;
	if (p[0] >> 4 != 6)
		return -MF_PKT_E_IP6_VERSION;
	end = 40 + (size_t)mf_rd16(p + 4);
	if (end > len)
		return -MF_PKT_E_IP6_PLEN;
	ip->flags = 0;
	ip->frag_off = 0;
	nh = p[6];
	for (n = 0; ipv6_is_ext(nh); n++) {
		size_t ext_len;

		if (n == MF_IP6_MAX_EXT)
			return -MF_PKT_E_IP6_EXT_DEPTH;
		if (off + 8 > end)
			return -MF_PKT_E_IP6_EXT_TRUNC;
		if (nh == 44) {
			uint16_t fo = mf_rd16(p + off + 2);

			ip->frag_off = fo & 0xfff8;
			if (fo & 1)
				ip->flags |= MF_IP_F_MORE_FRAGS;
			if (ip->frag_off != 0 || (fo & 1))
				ip->flags |= MF_IP_F_FRAGMENT;
			ext_len = 8;
		} else {
			ext_len = ((size_t)p[off + 1] + 1) * 8;
		}
		if (off + ext_len > end)
			return -MF_PKT_E_IP6_EXT_TRUNC;
		nh = p[off];
		off += ext_len;
		ip->flags |= MF_IP_F_OPTIONS;
	}
	ip->version = 6;
	ip->tos = (uint8_t)((p[0] << 4) | (p[1] >> 4));
	ip->ttl = p[7];
	ip->proto = nh;
	ip->hdr_len = (uint16_t)off;
	ip->total_len = (uint16_t)end;
	memcpy(ip->src, p + 8, 16);
	memcpy(ip->dst, p + 24, 16);
	return 0;
}

int
mf_udp_parse(const uint8_t *p, size_t len, struct mf_udp *u)
{
	if (len < MF_UDP_HDR_LEN)
		return -MF_PKT_E_UDP_TRUNC;
	u->sport = mf_rd16(p);
	u->dport = mf_rd16(p + 2);
	u->len = mf_rd16(p + 4);
	u->csum = mf_rd16(p + 6);
	if (u->len < MF_UDP_HDR_LEN || u->len > len)
		return -MF_PKT_E_UDP_LEN;
	return 0;
}

int
mf_icmp_parse(const uint8_t *p, size_t len, bool v6, struct mf_icmp *ic)
{
	if (len < 8)
		return -MF_PKT_E_ICMP_TRUNC;
	ic->type = p[0];
	ic->code = p[1];
	ic->id = mf_rd16(p + 4);
	ic->seq = mf_rd16(p + 6);
	ic->is_echo_request = ic->code == 0 &&
		ic->type == (v6 ? MF_ICMP6_ECHO_REQUEST : MF_ICMP_ECHO_REQUEST);
	return 0;
}

int
mf_frag_check(const struct mf_ip *ip, const uint8_t *l3, uint32_t max_datagram)
{
	uint32_t plen, end;

	if (ip->total_len <= ip->hdr_len)
		return -MF_PKT_E_FRAG_EMPTY;
	plen = (uint32_t)ip->total_len - ip->hdr_len;
	/* IPv6: the fixed header's next header must be the fragment header itself. */
	if (ip->version == 6 && l3[6] != 44)
		return -MF_PKT_E_FRAG_EXT;
	if (ip->frag_off == 0 && ip->proto == MF_IPPROTO_UDP && plen < MF_UDP_HDR_LEN)
		return -MF_PKT_E_FRAG_TINY;
	if ((ip->flags & MF_IP_F_MORE_FRAGS) && (plen & 7) != 0)
		return -MF_PKT_E_FRAG_ALIGN;
	end = (uint32_t)ip->frag_off + plen;
	/* The unfragmentable part: IPv4's header, IPv6's fixed one (the fragment header goes). */
	if (end > 65535u || end + (ip->version == 4 ? ip->hdr_len : 40u) > max_datagram)
		return -MF_PKT_E_FRAG_SIZE;
	return 0;
}

int
mf_pkt_parse_udp(const uint8_t *p, size_t len, struct mf_pkt_l4 *out)
{
	const uint8_t *l3;
	int rc;

	rc = mf_eth_parse(p, len, &out->eth);
	if (rc != 0)
		return rc;
	out->l3_off = out->eth.hdr_len;
	l3 = p + out->l3_off;
	if (out->eth.ethertype == MF_ETHER_TYPE_IPV4)
		rc = mf_ipv4_parse(l3, len - out->l3_off, &out->ip);
	else if (out->eth.ethertype == MF_ETHER_TYPE_IPV6)
		rc = mf_ipv6_parse(l3, len - out->l3_off, &out->ip);
	else
		return MF_PKT_NON_IP;
	if (rc != 0)
		return rc;
	/* Even a first fragment holds only part of the datagram: nothing to forward whole. */
	if (out->ip.flags & MF_IP_F_FRAGMENT)
		return MF_PKT_FRAGMENT;
	if (out->ip.proto != MF_IPPROTO_UDP)
		return MF_PKT_NON_UDP;
	out->l4_off = (uint16_t)(out->l3_off + out->ip.hdr_len);
	rc = mf_udp_parse(p + out->l4_off, out->ip.total_len - out->ip.hdr_len, &out->udp);
	if (rc != 0)
		return rc;
	out->payload_off = (uint16_t)(out->l4_off + MF_UDP_HDR_LEN);
	out->payload_len = (uint16_t)(out->udp.len - MF_UDP_HDR_LEN);
	return 0;
}

uint32_t
mf_csum_partial(const void *data, size_t len, uint32_t sum)
{
	uint16_t h = mf_csum_host(data, len);
	uint64_t s = sum;

	/* The sum is the same in either byte order but for its two bytes (RFC 1071, 2.B). */
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	h = (uint16_t)(h << 8 | h >> 8);
#endif
	s += h;
	return (uint32_t)((s & 0xffffffff) + (s >> 32));
}

uint16_t
mf_csum_fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

uint16_t
mf_csum_udp(const struct mf_ip *ip, const uint8_t *udp, size_t udp_len)
{
	size_t alen = ip->version == 6 ? 16 : 4;
	uint32_t s = 0;
	uint16_t c;

	s = mf_csum_partial(ip->src, alen, s);
	s = mf_csum_partial(ip->dst, alen, s);
	s += MF_IPPROTO_UDP;
	s += (uint32_t)udp_len;
	/* Sum the datagram with its checksum field taken as zero. */
	s = mf_csum_partial(udp, 6, s);
	if (udp_len > 8)
		s = mf_csum_partial(udp + 8, udp_len - 8, s);
	c = mf_csum_fold(s);
	return c == 0 ? 0xffff : c;
}
