/* SPDX-License-Identifier: BSD-3-Clause */
/* MPEG-TS parser over untrusted bytes (see mf_ts.h). */

#include <zlib.h>

#include "mf/mf_ts.h"

static int
parse_af(const uint8_t *p, struct mf_ts_pkt *k)
{
	uint8_t af_len = p[4];

	/* AF only: it fills the packet; AF and payload: at most 182 bytes. */
	if ((k->afc == 2 && af_len != 183) || (k->afc == 3 && af_len > 182))
		return -MF_PKT_E_TS_AF_LEN;
	k->payload_off = (uint8_t)(k->afc == 2 ? MF_TS_PKT_LEN : 5 + af_len);
	if (af_len == 0)
		return 0;
	k->discontinuity = (p[5] & 0x80) != 0;
	if (p[5] & 0x10) {
		uint64_t base;

		if (af_len < 7)
			return -MF_PKT_E_TS_AF_LEN;
		base = (uint64_t)p[6] << 25 | (uint64_t)p[7] << 17 | (uint64_t)p[8] << 9 |
		       (uint64_t)p[9] << 1 | p[10] >> 7;
		k->pcr = base * 300 + ((uint64_t)(p[10] & 1) << 8 | p[11]);
		k->has_pcr = true;
	}
	return 0;
}

static int
parse_one(const uint8_t *p, struct mf_ts_pkt *k)
{
	if (p[0] != MF_TS_SYNC)
		return -MF_PKT_E_TS_SYNC;
	k->tei = (p[1] & 0x80) != 0;
	k->pusi = (p[1] & 0x40) != 0;
	k->pid = (uint16_t)((p[1] & 0x1f) << 8 | p[2]);
	k->afc = (p[3] >> 4) & 3;
	k->cc = p[3] & 0x0f;
	k->discontinuity = false;
	k->has_pcr = false;
	k->pcr = 0;
	k->payload_off = 4;
	if (k->afc == 0)
		return -MF_PKT_E_TS_AFC;
	if (k->afc & 2)
		return parse_af(p, k);
	return 0;
}

int
mf_ts_parse(const uint8_t *p, size_t len, struct mf_ts *t)
{
	size_t i, n;
	int rc;

	t->nb = 0;
	if (len == 0 || len % MF_TS_PKT_LEN != 0 || len / MF_TS_PKT_LEN > MF_TS_MAX_PKTS)
		return -MF_PKT_E_TS_SIZE;
	n = len / MF_TS_PKT_LEN;
	for (i = 0; i < n; i++) {
		rc = parse_one(p + i * MF_TS_PKT_LEN, &t->pkts[i]);
		if (rc != 0)
			return rc;
		t->nb++;
	}
	return 0;
}

static inline uint8_t
bit_reversed(uint8_t b)
{
	b = (uint8_t)((b & 0xf0) >> 4 | (b & 0x0f) << 4);
	b = (uint8_t)((b & 0xcc) >> 2 | (b & 0x33) << 2);
	return (uint8_t)((b & 0xaa) >> 1 | (b & 0x55) << 1);
}

/* CRC-32/MPEG-2 is zlib's CRC-32 (the same polynomial and initial value) with the bit
 * order reversed: it takes each byte's most significant bit first and leaves the result
 * uncomplemented. So zlib's CRC of the bytes each bit-reversed is the MPEG-2 CRC reversed
 * and complemented; over a section with its CRC_32 that CRC is 0, and zlib's all ones. A
 * library's CRC, not one of our own, at the price of a copy: sections checked here fit a
 * TS packet, and PSI comes a few times a second. */
bool
mf_ts_section_crc_ok(const uint8_t *sec, size_t len)
{
	uint8_t rev[MF_TS_PKT_LEN];
	size_t i;

	if (len < 4 || len > sizeof(rev))
		return false;
	for (i = 0; i < len; i++)
		rev[i] = bit_reversed(sec[i]);
	return crc32(0L, rev, (uInt)len) == 0xffffffffUL;
}
