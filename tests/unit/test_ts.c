/* SPDX-License-Identifier: BSD-3-Clause */
/* Unit tests of the MPEG-TS parser. */

#include <stdint.h>

#include "mf/mf_ts.h"
#include "mf_pktbuild.h"
#include "mf_test.h"

/* PCR 27 MHz value = base * 300 + ext; write it into an adaptation field. */
static void
put_pcr(uint8_t *p, uint64_t base, uint16_t ext)
{
	p[0] = (uint8_t)(base >> 25);
	p[1] = (uint8_t)(base >> 17);
	p[2] = (uint8_t)(base >> 9);
	p[3] = (uint8_t)(base >> 1);
	p[4] = (uint8_t)((base & 1) << 7 | 0x7e | (ext >> 8));
	p[5] = (uint8_t)ext;
}

static int
test_ts_valid(void)
{
	uint8_t d[7 * 188];
	struct mf_ts t;
	int i, rc = 0;

	for (i = 0; i < 7; i++)
		pb_ts(d + i * 188, (uint16_t)(i == 0 ? 0 : 0x100), (uint8_t)i, i == 0);
	/* Packet 2: adaptation field with PCR and discontinuity, then payload. */
	d[2 * 188 + 3] = 0x30 | 2;
	d[2 * 188 + 4] = 7;
	d[2 * 188 + 5] = 0x80 | 0x10;
	put_pcr(d + 2 * 188 + 6, 0x1ffffffffull, 299);
	/* Packet 3: adaptation field only (stuffing), a null packet on PID 0x1fff. */
	d[3 * 188 + 1] = 0x1f;
	d[3 * 188 + 2] = 0xff;
	d[3 * 188 + 3] = 0x20 | 3;
	d[3 * 188 + 4] = 183;
	d[3 * 188 + 5] = 0;
	MF_TEST_EQ(mf_ts_parse(d, sizeof(d), &t), 0);
	MF_TEST_EQ(t.nb, 7);
	MF_TEST_EQ(t.pkts[0].pid, MF_TS_PID_PAT);
	MF_TEST_ASSERT(t.pkts[0].pusi, "PUSI on the PAT");
	MF_TEST_EQ(t.pkts[1].pid, 0x100);
	MF_TEST_EQ(t.pkts[1].cc, 1);
	MF_TEST_EQ(t.pkts[1].payload_off, 4);
	MF_TEST_ASSERT(t.pkts[2].has_pcr, "PCR flag");
	MF_TEST_ASSERT(t.pkts[2].discontinuity, "discontinuity flag");
	MF_TEST_EQ(t.pkts[2].pcr, 0x1ffffffffull * 300 + 299);
	MF_TEST_EQ(t.pkts[2].payload_off, 12);
	MF_TEST_EQ(t.pkts[3].pid, MF_TS_PID_NULL);
	MF_TEST_EQ(t.pkts[3].payload_off, 188);
	MF_TEST_ASSERT(!mf_ts_has_payload(&t.pkts[3]), "AF-only has no payload");
	MF_TEST_ASSERT(mf_ts_has_payload(&t.pkts[2]), "AF + payload");
	MF_TEST_EQ(mf_ts_parse(d, 188, &t), 0);
	MF_TEST_EQ(t.nb, 1);
out:
	return rc;
}

static int
test_ts_malformed(void)
{
	uint8_t d[(MF_TS_MAX_PKTS + 1) * 188];
	struct mf_ts t;
	unsigned char *c = NULL;
	size_t n;
	int i, rc = 0;

	for (i = 0; i < MF_TS_MAX_PKTS + 1; i++)
		pb_ts(d + i * 188, 0x100, (uint8_t)(i & 15), 0);
	MF_TEST_EQ(mf_ts_parse(d, (MF_TS_MAX_PKTS + 1) * 188, &t), -MF_PKT_E_TS_SIZE);
	MF_TEST_EQ(mf_ts_parse(d, MF_TS_MAX_PKTS * 188, &t), 0);	/* 48: 9,024 bytes */
	MF_TEST_EQ(t.nb, MF_TS_MAX_PKTS);
	MF_TEST_EQ(mf_ts_parse(d, 0, &t), -MF_PKT_E_TS_SIZE);
	for (n = 1; n < 7 * 188; n++) {
		if (n % 188 == 0)
			continue;
		c = mf_test_dup(d, n);
		MF_TEST_EQ(mf_ts_parse(c, n, &t), -MF_PKT_E_TS_SIZE);
		free(c);
		c = NULL;
	}
	d[3 * 188] = 0x48;
	MF_TEST_EQ(mf_ts_parse(d, 7 * 188, &t), -MF_PKT_E_TS_SYNC);
	MF_TEST_EQ(t.nb, 3);
	d[3 * 188] = 0x47;
	d[188 + 3] = 0x00;	/* adaptation_field_control 00 */
	MF_TEST_EQ(mf_ts_parse(d, 7 * 188, &t), -MF_PKT_E_TS_AFC);
	d[188 + 3] = 0x20;	/* AF only, but its length does not fill the packet */
	d[188 + 4] = 100;
	MF_TEST_EQ(mf_ts_parse(d, 7 * 188, &t), -MF_PKT_E_TS_AF_LEN);
	d[188 + 3] = 0x30;
	d[188 + 4] = 183;	/* AF and payload, AF too long */
	MF_TEST_EQ(mf_ts_parse(d, 7 * 188, &t), -MF_PKT_E_TS_AF_LEN);
	d[188 + 4] = 3;		/* PCR flag with too short a field */
	d[188 + 5] = 0x10;
	MF_TEST_EQ(mf_ts_parse(d, 7 * 188, &t), -MF_PKT_E_TS_AF_LEN);
	d[188 + 4] = 182;	/* longest AF that leaves a payload byte */
	MF_TEST_EQ(mf_ts_parse(d, 7 * 188, &t), 0);
	MF_TEST_EQ(t.pkts[1].payload_off, 187);
out:
	free(c);
	return rc;
}

static const struct mf_test_case cases[] = {
	{ "ts_valid", test_ts_valid },
	{ "ts_malformed", test_ts_malformed },
};

MF_TEST_MAIN("ts", cases)
