/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Building well-formed test packets byte by byte: Ethernet/IPv4/IPv6/UDP frames with
 * correct lengths and checksums, RTP headers, MPEG-TS packets. Tests start from these
 * and break one field at a time.
 */
#ifndef MF_PKTBUILD_H
#define MF_PKTBUILD_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "mf/mf_bytes.h"
#include "mf/mf_pkt.h"

#define pb_w16 mf_wr16
#define pb_w32 mf_wr32

/* RTP header (no CSRC, no extension) + payload of @p plen bytes of a pattern. */
static inline size_t
pb_rtp(uint8_t *p, uint8_t pt, uint16_t seq, uint32_t ts, uint32_t ssrc, size_t plen)
{
	size_t i;

	p[0] = 0x80;
	p[1] = pt & 0x7f;
	pb_w16(p + 2, seq);
	pb_w32(p + 4, ts);
	pb_w32(p + 8, ssrc);
	for (i = 0; i < plen; i++)
		p[12 + i] = (uint8_t)(seq + i);
	return 12 + plen;
}

/* Ethernet + IPv4 + UDP around @p payload; returns the frame length. */
static inline size_t
pb_udp4(uint8_t *f, const uint8_t src[4], uint16_t sport, const uint8_t dst[4], uint16_t dport,
	const uint8_t *payload, size_t plen)
{
	static const uint8_t dmac[6] = { 0x02, 0, 0, 0, 0, 0x02 };
	static const uint8_t smac[6] = { 0x02, 0, 0, 0, 0, 0x01 };
	uint8_t *ip = f + 14, *udp = ip + 20;
	struct mf_ip info;

	memcpy(f, dmac, 6);
	memcpy(f + 6, smac, 6);
	pb_w16(f + 12, MF_ETHER_TYPE_IPV4);
	memset(ip, 0, 20);
	ip[0] = 0x45;
	pb_w16(ip + 2, (uint16_t)(20 + 8 + plen));
	ip[8] = 64;
	ip[9] = MF_IPPROTO_UDP;
	memcpy(ip + 12, src, 4);
	memcpy(ip + 16, dst, 4);
	pb_w16(ip + 10, mf_csum_fold(mf_csum_partial(ip, 20, 0)));
	pb_w16(udp, sport);
	pb_w16(udp + 2, dport);
	pb_w16(udp + 4, (uint16_t)(8 + plen));
	pb_w16(udp + 6, 0);
	memcpy(udp + 8, payload, plen);
	memset(&info, 0, sizeof(info));
	info.version = 4;
	memcpy(info.src, src, 4);
	memcpy(info.dst, dst, 4);
	pb_w16(udp + 6, mf_csum_udp(&info, udp, 8 + plen));
	return 14 + 20 + 8 + plen;
}

/* One 188-byte TS packet with payload only. */
static inline void
pb_ts(uint8_t *p, uint16_t pid, uint8_t cc, int pusi)
{
	size_t i;

	p[0] = 0x47;
	p[1] = (uint8_t)((pusi ? 0x40 : 0) | ((pid >> 8) & 0x1f));
	p[2] = (uint8_t)pid;
	p[3] = (uint8_t)(0x10 | (cc & 0x0f));
	for (i = 4; i < 188; i++)
		p[i] = (uint8_t)i;
}

/* CRC-32/MPEG-2 a bit at a time, as annex A of ISO/IEC 13818-1 draws it: a reference for
 * the library's (zlib's, bit-reversed). */
static inline uint32_t
pb_crc_mpeg2(const uint8_t *d, size_t n)
{
	uint32_t crc = 0xffffffff;
	size_t i;
	int b;

	for (i = 0; i < n; i++) {
		crc ^= (uint32_t)d[i] << 24;
		for (b = 0; b < 8; b++)
			crc = crc & 0x80000000 ? crc << 1 ^ 0x04c11db7 : crc << 1;
	}
	return crc;
}

/* The right CRC_32 at the end of the PSI section at @p sec (its table_id), as long as its
 * section_length says (at least the CRC's 4 bytes). */
static inline void
pb_section_crc(uint8_t *sec)
{
	size_t len = (size_t)((sec[1] & 0x0f) << 8 | sec[2]);

	if (len >= 4)
		pb_w32(sec + 3 + len - 4, pb_crc_mpeg2(sec, 3 + len - 4));
}

#endif /* MF_PKTBUILD_H */
