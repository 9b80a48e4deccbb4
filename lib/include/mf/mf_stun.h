/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * STUN (RFC 5389) as ICE uses it (RFC 8445): a bounded parser of untrusted messages that
 * records where the attributes ICE needs are, the checks of MESSAGE-INTEGRITY (HMAC-SHA1,
 * short-term credentials) and FINGERPRINT (CRC-32 ^ 0x5354554e), and a builder for the
 * messages an ICE-lite agent sends (and the tests' requests). Pure: no I/O, no allocation.
 */
#ifndef MF_STUN_H
#define MF_STUN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MF_STUN_HDR_LEN		20
#define MF_STUN_MAGIC		0x2112A442u
#define MF_STUN_TXID_LEN	12
#define MF_STUN_MI_LEN		20	/* HMAC-SHA1 */
#define MF_STUN_FP_XOR		0x5354554eu

/* Message types (method and class). */
#define MF_STUN_BINDING_REQUEST		0x0001
#define MF_STUN_BINDING_INDICATION	0x0011
#define MF_STUN_BINDING_SUCCESS		0x0101
#define MF_STUN_BINDING_ERROR		0x0111

/* Attributes. */
#define MF_STUN_A_MAPPED_ADDRESS	0x0001
#define MF_STUN_A_USERNAME		0x0006
#define MF_STUN_A_MESSAGE_INTEGRITY	0x0008
#define MF_STUN_A_ERROR_CODE		0x0009
#define MF_STUN_A_UNKNOWN_ATTRIBUTES	0x000A
#define MF_STUN_A_XOR_MAPPED_ADDRESS	0x0020
#define MF_STUN_A_PRIORITY		0x0024
#define MF_STUN_A_USE_CANDIDATE		0x0025
#define MF_STUN_A_SOFTWARE		0x8022
#define MF_STUN_A_FINGERPRINT		0x8028
#define MF_STUN_A_ICE_CONTROLLED	0x8029
#define MF_STUN_A_ICE_CONTROLLING	0x802A

#define MF_STUN_USERNAME_MAX	513	/* RFC 5389 §15.3: less than 513 bytes */

enum mf_stun_role {
	MF_STUN_ROLE_NONE = 0,
	MF_STUN_ROLE_CONTROLLING,	/* the request carried ICE-CONTROLLING */
	MF_STUN_ROLE_CONTROLLED,	/* ICE-CONTROLLED */
};

/* What mf_stun_parse() found; offsets are from the start of the message, 0 = absent. */
struct mf_stun {
	uint16_t type;
	uint16_t len;			/* the whole message, header included */
	uint8_t txid[MF_STUN_TXID_LEN];
	uint16_t username_off;		/* the value */
	uint16_t username_len;
	uint16_t mi_off;		/* the MESSAGE-INTEGRITY attribute's header */
	uint16_t fp_off;		/* the FINGERPRINT attribute's header */
	uint16_t unknown_required;	/* the first comprehension-required attribute not known */
	bool has_unknown;		/* ... and whether there was one (0x0000 is a type) */
	uint16_t error_code;		/* ERROR-CODE: class * 100 + number, or 0 */
	bool has_priority;
	bool use_candidate;
	uint8_t role;			/* enum mf_stun_role */
	bool has_mapped;		/* XOR-MAPPED-ADDRESS */
	uint32_t priority;
	uint64_t tiebreaker;
	uint8_t mapped_family;		/* 4 or 6 */
	uint16_t mapped_port;
	uint8_t mapped_addr[16];	/* un-XORed, network order */
};

/**
 * Parse a STUN message from untrusted bytes: the header (top bits 00, the magic cookie, a
 * length that is a multiple of 4 and ends within @p len; bytes after it are ignored), then
 * every attribute, bounded. Nothing but FINGERPRINT may follow MESSAGE-INTEGRITY, nothing
 * may follow FINGERPRINT. @return 0 or -MF_PKT_E_STUN_*.
 */
int mf_stun_parse(const uint8_t *p, size_t len, struct mf_stun *s);

/** Is the FINGERPRINT present and right? */
bool mf_stun_fingerprint_ok(const uint8_t *p, const struct mf_stun *s);

/** Is MESSAGE-INTEGRITY present and right under @p key (the ICE password, short-term)? */
bool mf_stun_integrity_ok(const uint8_t *p, const struct mf_stun *s, const void *key,
			  size_t key_len);

/** Does USERNAME equal "@p local:@p remote" (RFC 8445 §7.2.2, as its receiver sees it)? */
bool mf_stun_username_is(const uint8_t *p, const struct mf_stun *s, const char *local,
			 const char *remote);

/* ---- building ---- */

/* A message being built in a caller's buffer; the first error sticks in err. */
struct mf_stun_msg {
	uint8_t *buf;
	size_t cap;
	size_t len;
	int err;			/* 0, or -ENOSPC */
};

void mf_stun_begin(struct mf_stun_msg *m, uint8_t *buf, size_t cap, uint16_t type,
		   const uint8_t txid[MF_STUN_TXID_LEN]);
void mf_stun_add(struct mf_stun_msg *m, uint16_t attr, const void *val, size_t len);
void mf_stun_add_u32(struct mf_stun_msg *m, uint16_t attr, uint32_t v);
void mf_stun_add_u64(struct mf_stun_msg *m, uint16_t attr, uint64_t v);
/** XOR-MAPPED-ADDRESS of @p family (4 or 6) @p addr (network order) and @p port. */
void mf_stun_add_xor_address(struct mf_stun_msg *m, uint8_t family, const uint8_t *addr,
			     uint16_t port);
/** ERROR-CODE @p code (300-699) with @p reason. */
void mf_stun_add_error(struct mf_stun_msg *m, uint16_t code, const char *reason);
/** MESSAGE-INTEGRITY under @p key; then only mf_stun_add_fingerprint(). */
void mf_stun_add_integrity(struct mf_stun_msg *m, const void *key, size_t key_len);
void mf_stun_add_fingerprint(struct mf_stun_msg *m);
/** @return the message's length, or -ENOSPC when it did not fit. */
int mf_stun_end(const struct mf_stun_msg *m);

#endif /* MF_STUN_H */
