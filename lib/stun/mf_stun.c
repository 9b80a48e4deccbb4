/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * STUN messages (see mf_stun.h): the parser, the two checks and the builder. The checks
 * hash the message as its sender did: up to the attribute, with the header's length field
 * saying the message ended just after it (RFC 5389 §15.4, §15.5).
 */

#include <errno.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <zlib.h>

#include "mf/mf_bytes.h"
#include "mf/mf_pkt.h"
#include "mf/mf_stun.h"

#define ATTR_HDR	4
#define MI_ATTR_LEN	(ATTR_HDR + MF_STUN_MI_LEN)
#define FP_ATTR_LEN	(ATTR_HDR + 4)

static inline size_t
padded(size_t n)
{
	return (n + 3) & ~(size_t)3;
}

/* ---- parsing ---- */

static int
parse_xor_address(const uint8_t *p, const uint8_t *v, uint16_t len, struct mf_stun *s)
{
	unsigned int i, alen;

	if (len < 4)
		return -MF_PKT_E_STUN_VALUE;
	alen = v[1] == 1 ? 4 : v[1] == 2 ? 16 : 0;
	if (alen == 0 || len != 4 + alen)
		return -MF_PKT_E_STUN_VALUE;
	s->has_mapped = true;
	s->mapped_family = alen == 4 ? 4 : 6;
	s->mapped_port = mf_rd16(v + 2) ^ (uint16_t)(MF_STUN_MAGIC >> 16);
	/* XORed with the cookie, then (IPv6) the transaction id: bytes 4-19 of the header. */
	for (i = 0; i < alen; i++)
		s->mapped_addr[i] = v[4 + i] ^ p[4 + i];
	return 0;
}

/* One attribute's value. @return 0 or -MF_PKT_E_STUN_*. */
static int
parse_attr(const uint8_t *p, uint16_t off, uint16_t type, uint16_t len, struct mf_stun *s)
{
	const uint8_t *v = p + off + ATTR_HDR;

	switch (type) {
	case MF_STUN_A_USERNAME:
		if (s->username_off != 0)
			return -MF_PKT_E_STUN_ORDER;
		if (len == 0 || len >= MF_STUN_USERNAME_MAX)
			return -MF_PKT_E_STUN_VALUE;
		s->username_off = (uint16_t)(off + ATTR_HDR);
		s->username_len = len;
		return 0;
	case MF_STUN_A_MESSAGE_INTEGRITY:
		if (len != MF_STUN_MI_LEN)
			return -MF_PKT_E_STUN_VALUE;
		s->mi_off = off;
		return 0;
	case MF_STUN_A_FINGERPRINT:
		if (len != 4)
			return -MF_PKT_E_STUN_VALUE;
		s->fp_off = off;
		return 0;
	case MF_STUN_A_PRIORITY:
		if (s->has_priority)
			return -MF_PKT_E_STUN_ORDER;
		if (len != 4)
			return -MF_PKT_E_STUN_VALUE;
		s->has_priority = true;
		s->priority = mf_rd32(v);
		return 0;
	case MF_STUN_A_USE_CANDIDATE:
		if (len != 0)
			return -MF_PKT_E_STUN_VALUE;
		s->use_candidate = true;
		return 0;
	case MF_STUN_A_ICE_CONTROLLED:
	case MF_STUN_A_ICE_CONTROLLING:
		if (s->role != MF_STUN_ROLE_NONE)
			return -MF_PKT_E_STUN_ORDER;
		if (len != 8)
			return -MF_PKT_E_STUN_VALUE;
		s->role = type == MF_STUN_A_ICE_CONTROLLING ? MF_STUN_ROLE_CONTROLLING :
							      MF_STUN_ROLE_CONTROLLED;
		s->tiebreaker = (uint64_t)mf_rd32(v) << 32 | mf_rd32(v + 4);
		return 0;
	case MF_STUN_A_XOR_MAPPED_ADDRESS:
		if (s->has_mapped)
			return -MF_PKT_E_STUN_ORDER;
		return parse_xor_address(p, v, len, s);
	case MF_STUN_A_ERROR_CODE:
		if (len < 4 || (v[2] & 7) < 3 || (v[2] & 7) > 6 || v[3] > 99)
			return -MF_PKT_E_STUN_VALUE;
		s->error_code = (uint16_t)((v[2] & 7) * 100 + v[3]);
		return 0;
	case MF_STUN_A_MAPPED_ADDRESS:
	case MF_STUN_A_UNKNOWN_ATTRIBUTES:
		return 0;
	default:
		/* 0x0000-0x7fff must be understood (§15): the caller answers 420 or drops. */
		if (type < 0x8000 && !s->has_unknown) {
			s->has_unknown = true;
			s->unknown_required = type;
		}
		return 0;
	}
}

int
mf_stun_parse(const uint8_t *p, size_t len, struct mf_stun *s)
{
	uint16_t mlen, off, end, type, alen;
	int rc;

	memset(s, 0, sizeof(*s));
	if (len < MF_STUN_HDR_LEN)
		return -MF_PKT_E_STUN_TRUNC;
	mlen = mf_rd16(p + 2);
	if ((p[0] & 0xc0) != 0 || mf_rd32(p + 4) != MF_STUN_MAGIC || (mlen & 3) != 0 ||
	    mlen > UINT16_MAX - MF_STUN_HDR_LEN)
		return -MF_PKT_E_STUN_HDR;
	if (len < (size_t)MF_STUN_HDR_LEN + mlen)
		return -MF_PKT_E_STUN_TRUNC;
	s->type = mf_rd16(p);
	s->len = (uint16_t)(MF_STUN_HDR_LEN + mlen);
	memcpy(s->txid, p + 8, MF_STUN_TXID_LEN);
	end = s->len;
	for (off = MF_STUN_HDR_LEN; off < end; off = (uint16_t)(off + ATTR_HDR + padded(alen))) {
		if (end - off < ATTR_HDR)
			return -MF_PKT_E_STUN_ATTR;
		type = mf_rd16(p + off);
		alen = mf_rd16(p + off + 2);
		if (padded(alen) > (size_t)(end - off - ATTR_HDR))
			return -MF_PKT_E_STUN_ATTR;
		/* Only FINGERPRINT may follow MESSAGE-INTEGRITY; nothing follows FINGERPRINT. */
		if (s->fp_off != 0 || (s->mi_off != 0 && type != MF_STUN_A_FINGERPRINT))
			return -MF_PKT_E_STUN_ORDER;
		rc = parse_attr(p, off, type, alen, s);
		if (rc != 0)
			return rc;
	}
	return 0;
}

/* ---- checks ---- */

/* The header as the sender hashed it: its length field ending the message at @p end. */
static void
header_until(const uint8_t *p, size_t end, uint8_t hdr[MF_STUN_HDR_LEN])
{
	memcpy(hdr, p, MF_STUN_HDR_LEN);
	mf_wr16(hdr + 2, (uint16_t)(end - MF_STUN_HDR_LEN));
}

static uint32_t
fingerprint(const uint8_t *p, size_t fp_off)
{
	uint8_t hdr[MF_STUN_HDR_LEN];
	uLong crc = crc32(0L, Z_NULL, 0);

	header_until(p, fp_off + FP_ATTR_LEN, hdr);
	crc = crc32(crc, hdr, MF_STUN_HDR_LEN);
	crc = crc32(crc, p + MF_STUN_HDR_LEN, (uInt)(fp_off - MF_STUN_HDR_LEN));
	return (uint32_t)crc ^ MF_STUN_FP_XOR;
}

bool
mf_stun_fingerprint_ok(const uint8_t *p, const struct mf_stun *s)
{
	if (s->fp_off == 0)
		return false;
	return fingerprint(p, s->fp_off) == mf_rd32(p + s->fp_off + ATTR_HDR);
}

/* HMAC-SHA1 of the message up to @p mi_off, its header ending it after MESSAGE-INTEGRITY. */
static int
integrity(const uint8_t *p, size_t mi_off, const void *key, size_t key_len,
	  uint8_t mac[MF_STUN_MI_LEN])
{
	uint8_t hdr[MF_STUN_HDR_LEN];
	EVP_MAC *alg;
	EVP_MAC_CTX *ctx = NULL;
	OSSL_PARAM params[2];
	size_t out = 0;
	int rc = -EINVAL;

	header_until(p, mi_off + MI_ATTR_LEN, hdr);
	alg = EVP_MAC_fetch(NULL, "HMAC", NULL);
	if (alg == NULL)
		return -ENOMEM;
	ctx = EVP_MAC_CTX_new(alg);
	params[0] = OSSL_PARAM_construct_utf8_string("digest", (char *)"SHA1", 0);
	params[1] = OSSL_PARAM_construct_end();
	if (ctx != NULL && EVP_MAC_init(ctx, key, key_len, params) == 1 &&
	    EVP_MAC_update(ctx, hdr, sizeof(hdr)) == 1 &&
	    EVP_MAC_update(ctx, p + MF_STUN_HDR_LEN, mi_off - MF_STUN_HDR_LEN) == 1 &&
	    EVP_MAC_final(ctx, mac, &out, MF_STUN_MI_LEN) == 1 && out == MF_STUN_MI_LEN)
		rc = 0;
	EVP_MAC_CTX_free(ctx);
	EVP_MAC_free(alg);
	return rc;
}

bool
mf_stun_integrity_ok(const uint8_t *p, const struct mf_stun *s, const void *key, size_t key_len)
{
	uint8_t mac[MF_STUN_MI_LEN];

	if (s->mi_off == 0 || key_len == 0 || integrity(p, s->mi_off, key, key_len, mac) != 0)
		return false;
	return CRYPTO_memcmp(mac, p + s->mi_off + ATTR_HDR, MF_STUN_MI_LEN) == 0;
}

bool
mf_stun_username_is(const uint8_t *p, const struct mf_stun *s, const char *local,
		    const char *remote)
{
	size_t l = strlen(local), r = strlen(remote);
	const uint8_t *u = p + s->username_off;

	return s->username_off != 0 && s->username_len == l + 1 + r &&
	       memcmp(u, local, l) == 0 && u[l] == ':' && memcmp(u + l + 1, remote, r) == 0;
}

/* ---- building ---- */

static uint8_t *
room(struct mf_stun_msg *m, size_t n)
{
	uint8_t *at;

	if (m->err != 0 || m->cap - m->len < n || m->len + n > UINT16_MAX) {
		m->err = -ENOSPC;
		return NULL;
	}
	at = m->buf + m->len;
	m->len += n;
	mf_wr16(m->buf + 2, (uint16_t)(m->len - MF_STUN_HDR_LEN));
	return at;
}

void
mf_stun_begin(struct mf_stun_msg *m, uint8_t *buf, size_t cap, uint16_t type,
	      const uint8_t txid[MF_STUN_TXID_LEN])
{
	m->buf = buf;
	m->cap = cap;
	m->len = 0;
	m->err = cap < MF_STUN_HDR_LEN ? -ENOSPC : 0;
	if (m->err != 0)
		return;
	mf_wr16(buf, type);
	mf_wr16(buf + 2, 0);
	mf_wr32(buf + 4, MF_STUN_MAGIC);
	memcpy(buf + 8, txid, MF_STUN_TXID_LEN);
	m->len = MF_STUN_HDR_LEN;
}

void
mf_stun_add(struct mf_stun_msg *m, uint16_t attr, const void *val, size_t len)
{
	uint8_t *at;

	if (len > UINT16_MAX || (at = room(m, ATTR_HDR + padded(len))) == NULL)
		return;
	mf_wr16(at, attr);
	mf_wr16(at + 2, (uint16_t)len);
	if (len > 0)
		memcpy(at + ATTR_HDR, val, len);
	memset(at + ATTR_HDR + len, 0, padded(len) - len);
}

void
mf_stun_add_u32(struct mf_stun_msg *m, uint16_t attr, uint32_t v)
{
	uint8_t b[4];

	mf_wr32(b, v);
	mf_stun_add(m, attr, b, sizeof(b));
}

void
mf_stun_add_u64(struct mf_stun_msg *m, uint16_t attr, uint64_t v)
{
	uint8_t b[8];

	mf_wr32(b, (uint32_t)(v >> 32));
	mf_wr32(b + 4, (uint32_t)v);
	mf_stun_add(m, attr, b, sizeof(b));
}

void
mf_stun_add_xor_address(struct mf_stun_msg *m, uint8_t family, const uint8_t *addr,
			uint16_t port)
{
	uint8_t v[20];
	unsigned int i, alen = family == 4 ? 4 : 16;

	if (m->err != 0)
		return;
	v[0] = 0;
	v[1] = family == 4 ? 1 : 2;
	mf_wr16(v + 2, port ^ (uint16_t)(MF_STUN_MAGIC >> 16));
	for (i = 0; i < alen; i++)
		v[4 + i] = addr[i] ^ m->buf[4 + i];
	mf_stun_add(m, MF_STUN_A_XOR_MAPPED_ADDRESS, v, 4 + alen);
}

void
mf_stun_add_error(struct mf_stun_msg *m, uint16_t code, const char *reason)
{
	uint8_t v[4 + 128];
	size_t n = strnlen(reason, 128);

	v[0] = 0;
	v[1] = 0;
	v[2] = (uint8_t)(code / 100);
	v[3] = (uint8_t)(code % 100);
	memcpy(v + 4, reason, n);
	mf_stun_add(m, MF_STUN_A_ERROR_CODE, v, 4 + n);
}

void
mf_stun_add_integrity(struct mf_stun_msg *m, const void *key, size_t key_len)
{
	size_t off = m->len;
	uint8_t *at = room(m, MI_ATTR_LEN);

	if (at == NULL)
		return;
	mf_wr16(at, MF_STUN_A_MESSAGE_INTEGRITY);
	mf_wr16(at + 2, MF_STUN_MI_LEN);
	if (integrity(m->buf, off, key, key_len, at + ATTR_HDR) != 0)
		m->err = -EINVAL;
}

void
mf_stun_add_fingerprint(struct mf_stun_msg *m)
{
	size_t off = m->len;
	uint8_t *at = room(m, FP_ATTR_LEN);

	if (at == NULL)
		return;
	mf_wr16(at, MF_STUN_A_FINGERPRINT);
	mf_wr16(at + 2, 4);
	mf_wr32(at + ATTR_HDR, fingerprint(m->buf, off));
}

int
mf_stun_end(const struct mf_stun_msg *m)
{
	return m->err != 0 ? m->err : (int)m->len;
}
