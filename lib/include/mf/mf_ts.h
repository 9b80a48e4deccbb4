/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * MPEG-TS over UDP: up to seven 188-byte packets per datagram. Same contract as mf_pkt.h.
 */
#ifndef MF_TS_H
#define MF_TS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mf/mf_pkt.h"

#define MF_TS_PKT_LEN		188
/* TS packets in one datagram: 7 fit an Ethernet frame; senders that leave it to IP
 * fragmentation send more (21 is common: 3,948 bytes), up to a 9,216-byte datagram. */
#define MF_TS_MAX_PKTS		48
#define MF_TS_SYNC		0x47
#define MF_TS_PID_PAT		0x0000
#define MF_TS_PID_NULL		0x1fff

struct mf_ts_pkt {
	uint16_t pid;
	uint8_t cc;		/* continuity counter */
	uint8_t afc;		/* adaptation_field_control: 1 payload, 2 AF only, 3 both */
	bool pusi;		/* payload_unit_start_indicator */
	bool tei;		/* transport_error_indicator */
	bool discontinuity;	/* AF discontinuity_indicator */
	bool has_pcr;
	uint8_t payload_off;	/* within the 188 bytes; 188 when there is no payload */
	uint64_t pcr;		/* 27 MHz: base * 300 + extension */
};

struct mf_ts {
	uint8_t nb;		/* packets parsed */
	struct mf_ts_pkt pkts[MF_TS_MAX_PKTS];
};

/**
 * @return 0, or -MF_PKT_E_TS_*; on error nb counts the packets that parsed before it.
 */
int mf_ts_parse(const uint8_t *p, size_t len, struct mf_ts *t);

/**
 * Does the PSI section of @p len bytes at @p sec (table_id to CRC_32 inclusive) carry the
 * right CRC_32 (ISO/IEC 13818-1 annex A: CRC-32/MPEG-2)? A section of fewer than 4 bytes or
 * more than MF_TS_PKT_LEN carries none.
 */
bool mf_ts_section_crc_ok(const uint8_t *sec, size_t len);

/** true when @p pkt carries a payload, so its continuity counter advances. */
static inline bool
mf_ts_has_payload(const struct mf_ts_pkt *pkt)
{
	return (pkt->afc & 1) != 0;
}

#endif /* MF_TS_H */
