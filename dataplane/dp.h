/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * mfwd-dataplane internals shared by its files.
 *
 * Threads: lcore index 0 is the control lcore (the EAL main lcore): it alone changes the
 * session table, the neighbour table and the stats directory, and it sleeps when idle.
 * Lcore indexes 1..nb_workers are workers: they run to completion on bursts, read the
 * session table lock-free (liburcu QSBR) and never lock, allocate, log or make a system
 * call. Packets move between lcores only through single-producer single-consumer rings.
 */
#ifndef DP_H
#define DP_H

#include <pthread.h>
#include <stdalign.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <rte_common.h>
#include <rte_dev.h>
#include <rte_ether.h>
#include <rte_log.h>
#include <rte_mbuf.h>
#include <rte_ring.h>

#include <rte_ip_frag.h>

#include <urcu/urcu-qsbr.h>
#include <urcu/rculfhash.h>

#include "mf/mf_chan.h"
#include "mf/mf_pkt.h"
#include "mf/mf_proto.h"
#include "mf/mf_session.h"
#include "mf/mf_shm.h"
#include "mf/mf_srtp.h"
#include "mf/mf_stats.h"

#include "dp_hdr.h"

#define DP_MAX_WORKERS		16
#define DP_MAX_LCORES		(DP_MAX_WORKERS + 1)
#define DP_BURST		32
#define DP_PORT_MAX_ADDRS	64	/* per family; node info shows the first MF_NODE_MAX_ADDRS */
#define DP_MAX_RXQ		16
#define DP_RING_SIZE		1024
/* Reassembled datagrams live in one mbuf each, of this many data bytes at most. */
#define DP_FRAG_MAX_BYTES	(UINT16_MAX - RTE_PKTMBUF_HEADROOM - 256)
#define DP_BIG_MBUFS		511	/* of that size: reassembled datagrams in flight */

extern int dp_logtype;
#define DP_LOG(level, ...) \
	rte_log(RTE_LOG_##level, dp_logtype, "mfwd: " __VA_ARGS__)

/* A command refused: @p detail (@p len bytes) says why, for the reply. @return @p rc. */
static inline int __attribute__((format(printf, 4, 5)))
dp_refuse(int rc, char *detail, size_t len, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(detail, len, fmt, ap);
	va_end(ap);
	return rc;
}

/* ---- counters ---- */

enum dp_ctr {
#define X(name, desc) DP_CTR_##name,
#include "dp_counters.inc"
#undef X
	DP_CTR_PKT_ERR_BASE,	/* then one per mf_pkt_err, from 1 */
	DP_CTR_MAX = DP_CTR_PKT_ERR_BASE + MF_PKT_E_MAX - 1
};

enum dp_sess_ctr {
#define X(name, desc) DP_SC_##name,
#define G(name, desc) DP_SC_##name,
#include "dp_sess_counters.inc"
#undef X
#undef G
	DP_SC_MAX
};

enum dp_out_ctr {
#define X(name, desc) DP_OC_##name,
#define G(name, desc) DP_OC_##name,
#include "dp_out_counters.inc"
#undef X
#undef G
	DP_OC_MAX
};

enum dp_port_ctr {
#define X(name, desc) DP_PC_##name,
#define E(name, desc) DP_PC_##name,
#include "dp_port_counters.inc"
#undef X
#undef E
	DP_PC_MAX
};

/* ---- configuration ---- */

struct dp_addr4 {
	uint8_t a[4];
	uint8_t prefix;
};

struct dp_addr6 {
	uint8_t a[16];
	uint8_t prefix;
};

struct dp_static_neigh {
	struct mf_addr ip;
	struct rte_ether_addr mac;
};

#define DP_MAX_STATIC_NEIGH 16

struct dp_port_conf {
	bool present;
	char vdev[256];		/* vdev name and args, or */
	char pci[64];		/* a PCI address, with */
	char devargs[192];	/* its devargs */
	uint16_t nb_rxq;
	uint16_t rx_desc;
	uint16_t tx_desc;
	uint16_t mtu;
	uint16_t rx_buf_size;	/* data bytes per RX mbuf: a pool of its own; 0: the shared one */
	bool promiscuous;
	bool offloads;		/* use TX checksum offloads when the port has them */
	bool fragment;		/* fragment output frames over the MTU (else drop_mtu) */
	uint8_t nb_v4, nb_v6;
	struct dp_addr4 v4[DP_PORT_MAX_ADDRS];
	struct dp_addr6 v6[DP_PORT_MAX_ADDRS];
	bool has_gw4, has_gw6;
	uint8_t gw4[4];
	uint8_t gw6[16];
	uint8_t nb_neigh;
	struct dp_static_neigh neigh[DP_MAX_STATIC_NEIGH];
};

struct dp_config {
	char instance[MF_SHM_NAME_MAX];
	char ports_file[256];
	char sessions_file[256];
	uint32_t max_sessions;
	uint32_t nb_mbufs;
	uint32_t idle_sleep_us;
	uint32_t worker_nap_us;		/* an idle worker's sleeps */
	uint32_t punt_pps;		/* STUN and DTLS a worker punts a second */
	uint32_t sess_huge_mb;		/* hugepages entries and state may take */
	bool busy_poll;			/* workers never sleep */
	bool check_only;
	bool test_clock;	/* session timers move only by MF_MSG_CLOCK_ADVANCE */
	uint32_t frag_timeout_ms;	/* reassembly: how long a datagram's fragments wait */
	uint32_t frag_max_datagrams;	/* per worker */
	uint32_t frag_max_bytes;	/* the largest datagram reassembled (IP header in) */
	char dtls_cert[256];		/* PEM certificate and key for DTLS; "": made at start */
	char capture_dir[256];		/* where session captures are written */
	char dtls_key[256];
	uint16_t nb_ports;
	struct dp_port_conf ports[MF_MAX_PORTS];
};

int dp_config_parse_args(struct dp_config *cfg, int argc, char **argv);
int dp_config_load_ports(struct dp_config *cfg);
void dp_config_print(const struct dp_config *cfg);

/* ---- ports ---- */

struct dp_port {
	uint16_t port_id;	/* ethdev */
	uint16_t index;		/* ours, as in the profile and session specs */
	bool up;		/* configured (started, or waiting to start) */
	/* Workers burst on the port only while this is set (acquire). The control lcore
	 * clears it, waits a grace period, and only then stops the device. */
	_Atomic bool active;
	/* A memif client: it connects only when started, and never again by itself, so the
	 * control lcore restarts it when its peer has been gone a while (dp_ports_watch). */
	bool restartable;
	uint64_t down_since;		/* control lcore: TSC the link was first seen down */
	bool tx_ip_csum;	/* offloaded */
	bool tx_udp_csum;
	bool tx_multiseg;
	uint16_t nb_rxq;
	uint16_t nb_txq;
	uint16_t mtu;			/* IP bytes a frame may carry */
	struct rte_ether_addr mac;
	char name[RTE_DEV_NAME_MAX_LEN];
	int stats_idx;
	uint64_t *ctr;			/* lcore 0's block of the port counters */
	struct rte_mempool *rx_pool;	/* what its RX queues fill: dp.pool, or its own */
	const struct dp_port_conf *conf;
};

/* The interrupt thread's munmap waits for a grace period (dp_intr_munmap.c). */
void dp_intr_munmap_init(void);

int dp_ports_init(void);
void dp_ports_close(void);
/** Control lcore, each timer tick: restart a restartable port whose link stayed down. */
void dp_ports_watch(uint64_t now);
struct dp_port *dp_port_by_index(uint16_t index);
/** Is @p ip (4 or 16 bytes by @p family) one of the port's addresses? */
bool dp_port_owns(const struct dp_port *p, uint8_t family, const uint8_t *ip);
/** Source address of the port for @p family, or NULL. */
const uint8_t *dp_port_src_addr(const struct dp_port *p, uint8_t family);
/** Next hop towards @p dst: dst itself when on-link, else the gateway. @return 0, -EHOSTUNREACH. */
int dp_port_next_hop(const struct dp_port *p, const struct mf_addr *dst, struct mf_addr *nh);

/* ---- neighbours ---- */

#define DP_NEIGH_VALID	(UINT64_C(1) << 63)
#define DP_NEIGH_GEN_SHIFT	48	/* bits 48..62: the entry's generation */
#define DP_NEIGH_NONE	UINT32_MAX	/* an output with no destination yet */
#define DP_MAX_NEIGH	16384

struct dp_neigh_pub {
	_Atomic uint64_t mac;	/* 48-bit MAC | generation | DP_NEIGH_VALID; read by workers */
};

extern struct dp_neigh_pub *dp_neigh_pub;

int dp_neigh_init(void);
void dp_neigh_fini(void);
/** Find or create the neighbour entry for @p ip on @p port, taking a reference. */
int dp_neigh_get(uint16_t port, const struct mf_addr *ip, uint32_t *idx);
void dp_neigh_put(uint32_t idx);
/** A MAC heard for @p ip (ARP, NA): updates an entry that exists; creates none. */
void dp_neigh_learn(uint16_t port, const struct mf_addr *ip, const uint8_t mac[6]);
/** Send an ARP request or neighbour solicitation; @p gratuitous announces @p ip (ours). */
typedef void (*dp_neigh_probe_fn)(uint16_t port, const struct mf_addr *ip, bool gratuitous);
/** Set what the table calls to resolve or announce an address (dp_slow_solicit). */
void dp_neigh_register_probe(dp_neigh_probe_fn fn);
void dp_slow_solicit(uint16_t port, const struct mf_addr *ip, bool gratuitous);
void dp_neigh_timer(uint64_t now);
void dp_neigh_announce(void);

/** Entry @p idx's word, as workers read it (acquire: a MAC seen is whole). */
static inline uint64_t
dp_neigh_word(uint32_t idx)
{
	return atomic_load_explicit(&dp_neigh_pub[idx].mac, memory_order_acquire);
}

static inline uint16_t
dp_neigh_gen(uint64_t v)
{
	return (uint16_t)(v >> DP_NEIGH_GEN_SHIFT & 0x7fff);
}

static inline bool
dp_neigh_mac(uint32_t idx, struct rte_ether_addr *mac)
{
	uint64_t v = dp_neigh_word(idx);

	memcpy(mac->addr_bytes, &v, RTE_ETHER_ADDR_LEN);
	return (v & DP_NEIGH_VALID) != 0;
}

/* ---- sessions ---- */

/* 8-byte aligned: rte_hash_crc() reads it 8 bytes at a time. */
struct dp_sess_key {
	alignas(8) uint16_t port;
	uint16_t udp_port;
	uint8_t family;
	uint8_t reserved[11];		/* zero: 32 bytes, which rte_hash compares in vectors */
	uint8_t addr[16];
};

/* The key a datagram parsed down to UDP looks up: where it arrived (port index, destination
 * address and port). The workers' lookup and the control lcore's (ICE) use this one. */
static inline void
dp_sess_key_of(const struct mf_pkt_l4 *l4, uint16_t port, struct dp_sess_key *k)
{
	k->port = port;
	k->udp_port = l4->udp.dport;
	k->family = l4->ip.version;
	memset(k->reserved, 0, sizeof(k->reserved));
	memcpy(k->addr, l4->ip.dst, sizeof(k->addr));
}

/** Is @p l4's destination address @p a (4 or 16 bytes by @p family)? */
static inline bool
dp_l4_dst_is(uint8_t family, const uint8_t *a, const struct mf_pkt_l4 *l4)
{
	return family == l4->ip.version && memcmp(a, l4->ip.dst, family == 4 ? 4 : 16) == 0;
}

/** Did @p l4 come from @p a, UDP port @p port? */
static inline bool
dp_l4_src_is(const struct mf_addr *a, uint16_t port, const struct mf_pkt_l4 *l4)
{
	return a->family == l4->ip.version && port == l4->udp.sport &&
	       memcmp(a->a, l4->ip.src, a->family == 4 ? 4 : 16) == 0;
}

/* What one output's packets need to leave, besides its config. Mutable state it keeps
 * across packets (sequence rewrite) is in *ost, shared by the entries that replace it. */
/* An ICE endpoint's peer, as the control lcore saw it: the last valid check on the pair
 * (consent), and the transaction ids of the last checks (a replayed check is answered but
 * neither nominates nor renews consent). */
#define DP_ICE_TXIDS	8
struct dp_ice_seen {
	uint64_t check_tsc;
	uint64_t told_tsc;	/* the check_tsc its silence was told at (once each) */
	uint8_t txid[DP_ICE_TXIDS][12];
	uint8_t next;
};

struct dp_dtls;

/*
 * The counters every packet moves, kept beside the state the worker writes anyway (on
 * hugepages, a line each) instead of in the stats area, whose blocks are shared memory on
 * 4 KiB pages: a line and a TLB entry more for each packet and each copy sent. The control
 * lcore copies them into the owner worker's block of the stats entry (dp_sess_ctr.c), so
 * the stats area keeps its layout and readers see these fields a pass or two late.
 * Written by the session's worker only; gen last, with release order, after a packet
 * changed any of them or its outputs' (the copier reads it first, with acquire).
 */
struct dp_sess_hot {
	alignas(64) uint64_t rx_pkts;
	uint64_t rx_bytes;
	uint64_t tx_pkts;
	uint64_t tx_bytes;
	uint64_t rtp_expected;		/* RFC 3550 figures, as the stats fields of that name */
	uint64_t rtp_lost;
	uint64_t last_rx_tsc;		/* the last packet accepted: last_rx_ms */
	uint32_t jitter_us;
	_Atomic uint32_t gen;		/* bumped for each packet that changed the above */
};

struct dp_out_hot {
	uint64_t tx_pkts;
	uint64_t tx_bytes;
};

/* An output's state: what each packet it sends reads and moves in the first line (its
 * rewrite, its start and its counters, written only by the session's worker), what only
 * a start or the control lcore needs after it. */
struct dp_out_state {
	uint64_t last_tsc;
	uint32_t last_in_ssrc;
	uint32_t ts_off;
	uint32_t last_ts;
	uint32_t wait_gen;		/* start: the entry's wait_gen this start answered */
	uint16_t seq_off;		/* added to the input's sequence numbers */
	uint16_t last_seq;
	bool started;
	/* Gapless: an RTP packet the output does not send moves seq_off back by one, so its
	 * receiver sees no hole. A packet older than the newest (reordered) takes back the
	 * skips of the input numbers after it, as far as DP_SEQ_SKIPS_SEEN back. */
	bool renumber;			/* a packet was skipped: seq_off applies from now on */
	bool sent;			/* an RTP packet went out: there is a sequence to keep */
	/* A replay after packets went out (resumed, switched, a new receiver): the cache is
	 * numbered on from last_seq. */
	bool rebase;
	uint16_t max_in_seq;		/* newest input sequence number seen */
	/* start: keyframe or gop: waiting since wait_tsc (a new wait_gen in the entry from
	 * the control lcore means start again); gop: sending the cache (of generation
	 * replay_gen) from replay_pos */
	bool waiting;
	bool replaying;
	uint64_t skips;			/* bit i: input max_in_seq - i was skipped */
	struct dp_out_hot hot;		/* what every copy sent moves */
	alignas(64) uint64_t wait_tsc;
	uint64_t replay_gen;
	uint32_t replay_pos;
	bool replay_psi;		/* MPEG-TS: the PAT and PMT go first */
	uint64_t remb_bps;		/* its receiver's last REMB (dp_kfreq.c) */
	uint64_t remb_tsc;		/* and when it came; 0 none */
	struct dp_ice_seen ice;		/* control lcore only: its receiver's checks */
	struct dp_dtls *dtls;		/* control lcore only: its receiver's handshake */
};

_Static_assert(offsetof(struct dp_out_state, hot) + sizeof(struct dp_out_hot) <= 64,
	       "an output's per-packet state in its first line");

#define DP_NACK_UP_MAX	8	/* NACK entries waiting for the source, per session */
/* Receivers' REMBs: the source is told the lowest of their last estimates no older than
 * FRESH, again at most once per INTERVAL unless it is lower than the last it was told. */
#define DP_REMB_FRESH_MS	3000
#define DP_REMB_INTERVAL_MS	1000
#define DP_SEQ_SKIPS_SEEN	64	/* input numbers an output's skips are known for */

/* The frames an output sent, by its own RTP sequence number, for NACK repair (dp_nack.c).
 * Allocated and freed by the control lcore; its slots are the session's worker's. */
struct dp_nack_slot {
	struct rte_mbuf *m;		/* the frame as sent (headers, SRTP), or NULL */
	uint64_t sent_tsc;
	uint64_t resent_tsc;		/* 0: never resent */
	uint32_t wire_gen;		/* the output's when it was kept */
	uint16_t seq;
};

struct dp_nack_ring {
	uint32_t mask;			/* slots - 1, a power of two */
	/* Resends earned: one per frame kept, at most a ring's worth saved up, on the path
	 * of credit_gen (the output's wire_gen: the frames of an old path earn a new one
	 * nothing). A receiver, or anyone who forges its address, cannot make the output send
	 * more than it sent. */
	uint32_t credit;
	uint32_t credit_gen;
	bool counted;			/* in dp.nack_slots (until retired) */
	struct dp_nack_slot slot[];
};

/* A session's GOP cache (dp_gop.c): references to the packets since the last key frame, as
 * received (decrypted). Allocated and freed by the control lcore; filled by the worker. */
struct dp_gop_pkt {
	struct rte_mbuf *m;
	uint16_t payload_len;		/* UDP payload, any SRTP trailer removed */
	/* Decrypted in place (SRTP): its UDP checksum no longer covers it. The session may
	 * have lost its SRTP since: a replay asks this, not the session. */
	bool opened;
};

struct dp_gop {
	bool valid;			/* holds a key frame and what followed it */
	uint64_t gen;			/* bumped each time it restarts or is dropped */
	uint32_t n, cap;		/* packets held, most */
	uint32_t frames;		/* RTP timestamps seen */
	uint32_t last_ts;
	uint64_t bytes;
	uint64_t start_tsc;
	uint64_t max_bytes, max_tsc;	/* the spec's limits */
	uint32_t max_frames;
	/* MPEG-TS: the last datagrams that carried the PAT and the PMT, sent before the
	 * cache so a decoder knows the programme (kind mpegts). */
	struct dp_gop_pkt psi[2];
	struct dp_gop_pkt pkt[];
};

/* In an entry's copy of an output's flags: ICE has nominated no destination yet. */
#define DP_OUT_F_NO_DST		0x80
#define DP_OUT_F_NO_KEYS	0x40	/* DTLS: no keys until its handshake */
#define DP_OUT_F_PT_FILTER	0x20	/* pt_allow passes some payload types, not all */
#define DP_OUT_F_OURS		(DP_OUT_F_NO_DST | DP_OUT_F_NO_KEYS | DP_OUT_F_PT_FILTER)

/* An output in its entry, line-aligned: what sending a packet reads comes first, cfg's own
 * first fields (ports, flags, start, destination) included, in DP_OUT_HOT_LINES lines (the
 * first output's the pipeline fetches at lookup); what the control lcore and media
 * features read comes last. */
struct dp_out {
	alignas(RTE_CACHE_LINE_SIZE) struct dp_port *port;
	struct dp_out_state *ost;	/* owned by the session's worker */
	uint64_t *ctr;			/* lcore 0's block; lcore l at ctr + l * ctr_stride */
	struct dp_nack_ring *nack;	/* NACK repair, or NULL */
	struct mf_srtp *srtp;		/* SRTP/SRTCP protect, or NULL; used by the worker only */
	uint32_t neigh;
	uint32_t wait_gen;		/* bumped when the output must start again (keyframe, gop) */
	struct dp_hdr_sums sums;	/* of the headers to cfg.dst from src_ip, ports as RTP's */
	uint32_t rtcp_ports_sum;	/* the UDP ports' sum as RTCP's */
	uint16_t src_port;		/* UDP source port, resolved */
	uint16_t rtcp_src_port;
	uint16_t rtcp_dst_port;
	uint8_t family;
	uint8_t src_ip[16];
	struct mf_sess_output cfg;
	uint64_t nack_age_tsc;		/* nack_buffer_ms, and nack_rtt_ms, in TSC cycles */
	uint64_t nack_rtt_tsc;
	/* Bumped when what its frames are built with changes (destination, ports, keys, SSRC,
	 * payload-type map): frames its NACK ring kept before are not resent. */
	uint32_t wire_gen;
	struct mf_srtp *srtp_rx;	/* the receiver's SRTCP, to read its feedback, or NULL */
	int stats_idx;
};

/* The lines of an output the pipeline reads for every packet it sends (cfg's fields up to
 * its destination: the checks and rewrites of RTP; the payload types an output filters on,
 * its payload-type map and the PIDs a TS filter keeps come after them). */
#define DP_OUT_HOT_LINES	2
_Static_assert(offsetof(struct dp_out, cfg) + offsetof(struct mf_sess_output, dst) +
	       sizeof(struct mf_addr) <= DP_OUT_HOT_LINES * RTE_CACHE_LINE_SIZE &&
	       offsetof(struct mf_sess_output, start) < offsetof(struct mf_sess_output, dst) &&
	       offsetof(struct mf_sess_output, ssrc) < offsetof(struct mf_sess_output, dst),
	       "an output's hot fields in its hot lines");

/* Wide fields first: no holes (every packet reads all of it). */
struct dp_rtp_rx {
	uint64_t prior_expected;	/* of the SSRCs before this one: figures stay cumulative */
	uint64_t prior_received;
	uint64_t received;
	uint64_t window;		/* bit i: max_seq - i received */
	uint64_t last_tsc;		/* arrival of the previous packet */
	uint64_t rtp_per_tsc_q32;	/* rate / tsc_hz, times 2^32: no division per packet */
	uint64_t us_per_q4_q32;		/* 1e6 / (16 rate), times 2^32 */
	uint64_t cycles;		/* sequence wraps, times 65536: 2^32 packets is days */
	uint32_t ssrc;
	uint32_t base_seq;
	uint32_t last_ts;		/* the previous packet's RTP timestamp */
	uint32_t jitter_q4;		/* RTP units, times 16 */
	uint32_t rate;			/* Hz of the last packet's payload type */
	uint16_t max_seq;
	uint8_t pt;			/* that payload type (rate is looked up on a change) */
	bool init;
};

#define DP_TS_TRACK	32

struct dp_ts_rx {
	uint8_t nb;
	uint8_t nb_pmt;
	bool pat_seen;
	bool pmt_seen;
	uint16_t pid[DP_TS_TRACK];
	uint8_t cc[DP_TS_TRACK];
	uint16_t pmt_pid[8];
	bool pat_cut;			/* the PAT named PMT PIDs pmt_pid does not hold */
	bool pat_video;			/* it named the video's program and PMT PID */
	bool has_video;			/* a PMT named a video stream: */
	uint8_t video_type;		/* its stream_type */
	uint16_t video_pid;
	uint16_t video_pmt;		/* the PID of the PMT that named it */
	uint16_t video_prog;		/* and its program_number */
};

/* Whether @p pid carries a PMT a PAT named. */
static inline bool
dp_ts_is_pmt(const struct dp_ts_rx *ts, uint16_t pid)
{
	unsigned int j;

	for (j = 0; j < ts->nb_pmt; j++)
		if (ts->pmt_pid[j] == pid)
			return true;
	return false;
}

/* Feedback to the media source (dp_kfreq.c): a key-frame request, one pending at a time,
 * coalesced, at most one sent per interval, retried once; a REMB. Each goes with the
 * source's next RTP packet, back to where that came from. */
struct dp_kf_req {
	/* Read for every packet (the first three) or RTCP packet (the port): first. */
	bool pending;			/* someone waits for a key frame, none came yet */
	bool remb_pending;		/* a receiver's REMB to pass on, at remb_bps */
	uint8_t nack_nb;		/* NACK entries in the state's nack_up to pass on */
	uint8_t tries;			/* requests sent for this pending one */
	uint8_t fir_seq;		/* RFC 5104 command sequence number */
	uint16_t src_rtcp_port;		/* where the source's reports come from; 0 none seen */
	uint64_t remb_bps;
	uint64_t sent_tsc;		/* the last request sent; 0 never */
};

/* Per-session mutable state: written only by the owning worker (last_rx_tsc is read by
 * the control lcore for idle detection, hot by its copy). It outlives entry replacement. */
struct dp_sess_state {
	/* Lines 0 and 1 (DP_SESS_STATE_PKT_LINES): what every packet reads or moves but
	 * its counters. */
	_Atomic uint64_t last_rx_tsc;
	struct mf_addr src;
	uint16_t src_port;
	bool latched;
	struct dp_rtp_rx rx;
	struct dp_kf_req kf;		/* its flags, first, are read for every packet */
	/* Line 2: a rate limit's bucket (prefetched for the sessions that have one); the
	 * key-frame requests' times (kf, above) */
	uint64_t rate_tokens;		/* bytes allowed now (token bucket) */
	uint64_t rate_tsc;
	uint64_t remb_sent_bps;		/* the last REMB passed on to the source */
	uint64_t remb_sent_tsc;		/* and when; 0 never */
	struct dp_sess_hot hot;		/* line 3 */
	struct dp_ts_rx ts;
	struct dp_ice_seen ice;		/* control lcore only: the ingress peer's checks */
	struct dp_dtls *dtls;		/* control lcore only: the ingress peer's handshake */
	/* Packets receivers asked for that never reached us: a Generic NACK's entries (a
	 * PID and the bitmask of the 16 after it) for the source, with its next packet. */
	struct dp_nack_fci {
		uint16_t pid, blp;
	} nack_up[DP_NACK_UP_MAX];
};

/* A session's place in the lookup table: kind rtp has two (RTP and RTCP ports). */
struct dp_sess_node {
	struct dp_sess_key key;
	bool rtcp;
};

/* Where a session's receivers send RTCP when it is not one of its ingress ports: an output's
 * port, source address and RTCP source port (dp_sess_table.c's feedback index). */
struct dp_fb_node {
	struct cds_lfht_node lfht;
	struct dp_sess_key key;
	struct dp_sess *sess;
	bool linked;			/* in the index (another session may hold the key) */
};

/* An installed session: immutable once published; replaced by copy-and-swap. Cache-line
 * aligned, what every packet reads first: the fields the pipeline reads for each packet,
 * then the ingress (its source check near its start); what only the control lcore or media
 * features read comes last (the table's keys too: a lookup compares the table's copy). */
struct dp_sess {
	uint8_t kind;
	uint8_t nb_out;
	uint8_t flags;			/* MF_SESS_F_* */
	bool ice;			/* an ICE endpoint: STUN and DTLS go to the control lcore */
	bool dtls;			/* a DTLS endpoint: DTLS goes there too, not dropped */
	bool dtls_wait;			/* the ingress's DTLS has no keys yet: media drops */
	bool capture;			/* copies of its packets go to the capture (dp_capture.c) */
	uint16_t worker;		/* lcore index of the owner, 1..nb_workers */
	struct dp_sess_state *st;
	uint64_t *ctr;			/* lcore 0's block of the session counters */
	/* Ingress SRTP/SRTCP unprotect, or NULL; and the key before the last re-key, tried when
	 * the current one fails, so packets sent under the old key still pass. Both are used by
	 * the owning worker only and carried over by entries that keep their key. */
	struct mf_srtp *srtp_in;
	struct mf_srtp *srtp_in_prev;
	/* The RTCP we send the source (key-frame requests): SDES has one key both ways
	 * (srtp_in), DTLS one each way (this, when set). */
	struct mf_srtp *srtp_src_tx;
	struct dp_gop *gop;		/* GOP cache, or NULL */
	uint64_t rate_burst;		/* max_kbps: bytes a second, the bucket's size */
	uint64_t rate_bytes_per_tsc_q32;	/* and its refill per TSC cycle, times 2^32 */
	struct mf_sess_limits limits;
	struct mf_sess_ingress ingress;
	uint32_t fb_ssrc;		/* our SSRC in feedback to the source (dp_sess_build.c) */
	uint64_t kf_interval_tsc;	/* limits.keyframe_interval_ms in TSC cycles */
	struct dp_port *port;
	struct dp_fb_node *fb;		/* distinct feedback keys of the outputs, or NULL */
	uint8_t nb_fb;
	struct dp_sess_node n[2];	/* its keys in the table */
	char id[MF_SESS_ID_MAX];
	uint64_t created_ns;
	uint64_t created_tsc;
	bool idle;			/* control lcore only */
	uint32_t timed_idx;		/* control lcore: place in the timed list, or UINT32_MAX */
	uint32_t all_idx;		/* control lcore: place in dp.sess.all */
	int stats_idx;
	struct dp_out out[];		/* nb_out */
};

/* Lines of an entry, and of its state, the pipeline reads for every packet. */
#define DP_SESS_HOT_LINES	3
#define DP_SESS_STATE_PKT_LINES	2
_Static_assert(offsetof(struct dp_sess_state, kf) + offsetof(struct dp_kf_req, remb_bps) <=
	       DP_SESS_STATE_PKT_LINES * RTE_CACHE_LINE_SIZE &&
	       offsetof(struct dp_sess_state, rate_tokens) / RTE_CACHE_LINE_SIZE ==
	       offsetof(struct dp_sess_state, rate_tsc) / RTE_CACHE_LINE_SIZE,
	       "a session's per-packet state in its first lines, its rate limit's in one");
_Static_assert(offsetof(struct dp_sess_state, hot) == 3 * RTE_CACHE_LINE_SIZE,
	       "a session's counters in its line 3, which the pipeline prefetches");

/** Context: worker, QSBR online. The entry stays valid until the next quiescent state. */
struct dp_sess *dp_sess_lookup(const struct dp_sess_key *key, bool *is_rtcp);
/** Context: worker, QSBR online. Look @p n keys up at once (n <= DP_BURST): @return a mask
 *  of those found, whose entries go to @p s and RTCP flags to @p is_rtcp (the others' are
 *  left as they were). */
uint64_t dp_sess_lookup_bulk(const struct dp_sess_key **keys, unsigned int n, struct dp_sess **s,
			     bool *is_rtcp);
/** The session whose receivers send RTCP to @p key, where no session's ingress is. */
struct dp_sess *dp_sess_lookup_fb(const struct dp_sess_key *key);
int dp_sess_table_init(void);
void dp_sess_table_fini(void);
/* Control lcore: apply a command. Each returns 0 or a negative errno with detail set. */
int dp_sess_add(const struct mf_sess_spec *spec, char *detail, size_t len);
int dp_sess_replace(const struct mf_sess_spec *spec, char *detail, size_t len);
int dp_sess_del(const char *id, enum mf_event_kind why, char *detail, size_t len);
/** ICE: endpoint @p out of @p old (-1: the ingress) now has the pair @p addr, @p port (NULL:
 * none); the entry is replaced. Context: control lcore. @return 0, -ENOMEM. */
int dp_sess_ice_select(struct dp_sess *old, int out, const struct mf_addr *addr, uint16_t port);
/** DTLS: endpoint @p out of @p old (-1: the ingress) has its keys: @p local protects what we
 * send, @p remote opens what the peer sends (both wiped here). The entry is replaced.
 * Context: control lcore. @return 0, -ENOMEM, -EINVAL. */
int dp_sess_dtls_keys(struct dp_sess *old, int out, struct mf_srtp_params *local,
		      struct mf_srtp_params *remote);
/** A capture starts (@p on) or ends for @p old; the entry is replaced. Context: control
 * lcore. @return 0, -ENOMEM. */
int dp_sess_capture(struct dp_sess *old, bool on);
/** The session whose ingress or receivers' feedback is at @p l4's destination on @p port. */
struct dp_sess *dp_sess_at(const struct mf_pkt_l4 *l4, uint16_t port);
struct dp_sess *dp_sess_find(const char *id);
uint32_t dp_sess_count(void);
int dp_sess_list(uint32_t offset, uint32_t limit, struct mf_msg_list *out);
void dp_sess_info(const struct dp_sess *s, struct mf_msg_sess_info *info);
void dp_sess_timer(uint64_t now_tsc);
/** Copy the sessions' and outputs' hot counters into the stats area, a slice of the table
 * a call; a call within a millisecond of the last does nothing. Context: control lcore. */
void dp_sess_ctr_sync(uint64_t now_tsc);
/** Control lcore: free @p fn(@p arg, @p idx) after the next grace period. */
int dp_defer(void (*fn)(void *arg, int idx), void *arg, int idx);
/** Wait one grace period and run every deferred free (once per control loop). */
void dp_defer_reclaim(void);
void dp_defer_fini(void);
/* Tests (--test-clock): make every timed session @p tsc cycles older. */
void dp_sess_clock_advance(uint64_t tsc);

/* ---- lcores ---- */

struct dp_rxq {
	uint16_t port;		/* dp port index */
	uint16_t queue;
};

struct dp_txbuf {
	uint16_t n;
	struct rte_mbuf *pkts[DP_BURST];
};

/* A worker's IP fragments (dp_frag.c). */
struct dp_frag_lcore {
	struct rte_ip_frag_tbl *tbl;	/* datagrams in reassembly */
	uint32_t held;			/* fragments the table holds */
	uint32_t budget;		/* at most */
	uint64_t next_sweep;		/* TSC of the next look for timed-out datagrams */
	uint16_t ip4_id;		/* ids of the datagrams this worker fragments */
	uint32_t ip6_id;
	struct rte_ip_frag_death_row dr;	/* freed once per burst and loop */
};

/* A worker's frames waiting for next hops' MACs (dp_hold.c). */
#define DP_HOLD_SLOTS	64	/* next hops waiting at once */
#define DP_HOLD_FRAMES	32	/* the newest frames of each */

struct dp_hold_slot {
	uint32_t neigh;			/* the entry waited for */
	uint16_t gen;			/* its generation when the wait began */
	uint8_t n;
	uint64_t since;			/* TSC the wait began */
	struct rte_mbuf *m[DP_HOLD_FRAMES];	/* oldest first */
};

struct dp_hold {
	uint16_t nb;			/* slots in use: slot[0..nb) */
	uint32_t held;			/* frames in them */
	uint32_t budget;		/* at most */
	uint8_t *slot_of;		/* by entry: its slot + 1, or 0 */
	struct dp_hold_slot slot[DP_HOLD_SLOTS];
};

/* Per-lcore state. Workers: written by their own lcore only. */
struct __rte_cache_aligned dp_lcore {
	uint16_t index;			/* 0 control, 1..N workers */
	uint16_t lcore_id;
	uint16_t nb_rxq;
	struct dp_rxq rxq[DP_MAX_RXQ];
	uint16_t txq;			/* this worker's TX queue on every port */
	uint64_t *ctr;			/* node counters block of this lcore */
	struct rte_ring *handoff[DP_MAX_LCORES];	/* to worker i (SP: us, SC: i) */
	struct rte_ring *punt;		/* to the control lcore */
	uint64_t stun_tokens;		/* STUN and DTLS punts allowed now (--punt-pps) */
	uint64_t stun_tsc;		/* their last refill */
	/* GOP caches (dp_gop.c): whether the pool of the packets they take was short when
	 * last looked at, which pool, and the packets taken since. */
	const struct rte_mempool *gop_pool;
	uint32_t gop_seen;
	bool gop_low;
	struct rte_ring *ctrl_tx;	/* frames from the control lcore to send */
	struct rte_ring *events;	/* struct mf_msg_event * to the control lcore */
	struct dp_hold hold;		/* built frames waiting for a next hop's MAC */
	uint64_t last_work_tsc;		/* the last iteration that had something to do */
	struct dp_txbuf tx[MF_MAX_PORTS];
	struct dp_frag_lcore frag;
};

/* The control lcore's session state (dp_sess_*.c). */
struct dp_sess_db {
	struct rte_hash *table;		/* by key: read by workers (lock-free mode) */
	struct cds_lfht *fb_table;	/* receivers' RTCP by key, looked in on a miss */
	struct rte_hash *by_id;		/* by id */
	uint64_t huge_bytes;		/* entries' and state's hugepage memory (sess_huge_mb) */
	bool huge_full;			/* said once: the rest come from the heap */
	uint32_t nb;
	uint32_t per_worker[DP_MAX_LCORES];
	/* Sessions with an idle timeout or a lifetime: the timer looks at these only. */
	struct dp_sess **timed;
	uint32_t nb_timed, cap_timed;
	/* Every session once, with its hot counters, dense (each entry knows its place,
	 * all_idx; kept by the id index): what the counters' copy walks (dp_sess_ctr.c),
	 * from ctr_pos, next at ctr_next_tsc. */
	struct dp_sess_ref {
		struct dp_sess *s;
		struct dp_sess_hot *hot;
		uint32_t synced;	/* hot->gen as of its last copy */
	} *all;
	uint32_t nb_all, cap_all;
	uint32_t ctr_pos;
	uint64_t ctr_next_tsc;
	/* Frees an endpoint's DTLS state (dp_dtls.c registers it). */
	void (*dtls_free)(struct dp_dtls *d);
};

struct dp_neigh_ent;

/* The neighbour table (dp_neigh.c), control lcore only: workers read dp_neigh_pub. */
struct dp_neigh_db {
	struct dp_neigh_ent *tab;	/* by index */
	uint32_t *free_idx;		/* a stack of free indices */
	uint32_t nb_free;
	struct rte_hash *index_of;	/* port, family and address: index */
	dp_neigh_probe_fn probe;	/* ARP/ND (dp_slow.c), registered at start */
};

/* DTLS-SRTP (dp_dtls.c), control lcore only. */
struct dp_dtls_db {
	struct ssl_ctx_st *ctx;		/* SSL_CTX: our certificate, the SRTP profiles */
	char fingerprint[MF_DTLS_FP_STR];	/* of our certificate */
};

struct dp_deferred {
	void (*fn)(void *arg, int idx);
	void *arg;
	int idx;
};

/* Frees waiting for a grace period (dp_defer.c). */
struct dp_defer_list {
	struct dp_deferred *list;
	uint32_t n, cap;
};

/* A session's capture (dp_capture.c): workers copy its packets into the ring, a writer
 * thread (not an lcore: it makes system calls) writes them to a pcapng file. */
struct dp_capture {
	struct rte_ring *ring;		/* MP/SC: copies from the workers to the writer */
	struct rte_mempool *pool;	/* the copies; made at the first capture */
	uint32_t snaplen;		/* bytes copied of a frame (UINT32_MAX: all) */
	bool running;			/* control lcore: a capture is on (one at a time) */
	pthread_t writer;
	struct rte_pcapng *pcapng;
	uint64_t deadline_tsc;
	uint64_t max_packets;
	_Atomic uint64_t written;	/* the writer's */
	_Atomic bool done;		/* the writer has ended */
	_Atomic bool stop;		/* the control lcore: end now */
	bool write_failed;
	char id[MF_SESS_ID_MAX];
};

/* The DPDK telemetry commands' view of the stats area (dp_telemetry.c). */
struct dp_tel {
	struct mf_stats_reader rd;
	_Atomic bool open;	/* the area may be read */
	_Atomic int users;	/* callbacks reading it */
};

struct dp_main {
	struct dp_config cfg;
	struct dp_port ports[MF_MAX_PORTS];
	uint16_t nb_ports;
	uint16_t nb_workers;
	struct dp_lcore lcores[DP_MAX_LCORES];
	struct rte_mempool *pool;	/* packets */
	struct rte_mempool *hdr_pool;	/* private headers of fan-out copies */
	struct rte_mempool *clone_pool;	/* indirect mbufs sharing a payload */
	struct rte_mempool *event_pool;	/* struct mf_msg_event for worker events */
	struct rte_mempool *frag_pool;	/* one mbuf per reassembled (or large) datagram */
	struct mf_shm shm;
	struct mf_chan cmd, reply, event;
	struct mf_stats_writer *stats;
	int schema_node, schema_sess, schema_out, schema_port;
	int node_stats_idx;
	uint64_t *node_ctr;		/* lcore 0's block */
	/* uint64_t words between the lcore blocks of an entry, by schema */
	uint32_t stride_node, stride_sess, stride_out, stride_port;
	uint64_t start_tsc;
	uint64_t tsc_hz;
	uint64_t ms_per_tsc_q32;	/* 1000 / tsc_hz, times 2^32 */
	bool rcu_registered;		/* the main lcore, with liburcu QSBR */
	struct dp_sess_db sess;
	struct dp_neigh_db neigh;
	struct dp_dtls_db dtls;
	struct dp_defer_list defer;
	struct dp_tel tel;
	struct dp_capture cap;
	/* Slots of every output's NACK ring (control lcore): each may hold a frame, so all of
	 * them together stay within half of a pool's mbufs (dp_nack_ring_new). */
	uint32_t nack_slots;
	/* The generation each new GOP cache starts from (control lcore), 2^32 apart: an
	 * output replaying a cache a session.replace swapped out does not take the new one
	 * for the same (dp_gop_new; a cache restarts fewer than 2^32 times). */
	uint64_t gop_gen_next;
	_Atomic bool quit;
};

extern struct dp_main dp;

/* TSC cycles to milliseconds, with no division. */
static inline uint64_t
dp_tsc_ms(uint64_t tsc)
{
	return ((unsigned __int128)tsc * dp.ms_per_tsc_q32) >> 32;
}

/* The block of lcore @p lcore_index in an entry whose lcore 0 block is @p base. */
static inline uint64_t *
dp_ctr_of(uint64_t *base, uint32_t stride_words, uint16_t lcore_index)
{
	return base + (size_t)lcore_index * stride_words;
}

int dp_stats_init(void);
/* DPDK telemetry's /mfwd/ commands (dp_telemetry.c): after dp_stats_init(), and the fini
 * before the stats area goes. */
int dp_telemetry_init(void);
void dp_telemetry_fini(void);
void dp_stats_fini(void);
/** Add a counters entry of @p schema named @p name; returns its index, sets lcore 0's block. */
int dp_stats_add(const char *name, int schema, uint64_t **ctr);
void dp_stats_remove(int idx);
void dp_stats_ports_update(void);
size_t dp_stats_area_bytes(uint32_t max_sessions, uint32_t nb_lcores);

int dp_chan_init(void);
void dp_chan_poll(void);

/* IP fragments (dp_frag.c), on workers. */
int dp_frag_init(struct dp_lcore *lc);
void dp_frag_fini(struct dp_lcore *lc);
/** Free what the table dropped; now and then, drop datagrams that timed out. */
void dp_frag_poll(struct dp_lcore *lc, uint64_t now);
/** Send @p m, a frame over its port's MTU, in fragments; consumes it.
 * @return the fragments sent, or a negative errno. */
int dp_frag_out(struct dp_lcore *lc, const struct dp_port *port, struct rte_mbuf *m,
		uint8_t family);

/* Frames waiting for a next hop (dp_hold.c), on workers. */
int dp_hold_init(struct dp_lcore *lc);
void dp_hold_fini(struct dp_lcore *lc);
/** Must a frame to entry @p neigh wait? Not when @p resolved: then the frames waiting for
 * it go first. Call only while lc->hold.nb > 0 or the entry is unresolved. */
bool dp_hold_wait(struct dp_lcore *lc, uint32_t neigh, bool resolved);
/** Hold @p m (to go on @p port) until @p neigh resolves. @return 0, or -ENOSPC (no slot:
 * the caller drops it). */
int dp_hold_add(struct dp_lcore *lc, uint32_t neigh, uint16_t port, struct rte_mbuf *m,
		uint64_t now);
/** Send what waited for next hops now resolved; drop what waited too long. */
void dp_hold_poll(struct dp_lcore *lc, uint64_t now);

/* The dataplane's state from its options (dp_setup.c): @return 0, 1 when only the
 * configuration was to be checked, or a negative errno (logged). dp_teardown() undoes
 * whatever part of it was done. */
int dp_setup(int argc, char **argv);
void dp_teardown(void);

int dp_worker_main(void *arg);
void dp_slow_input(struct rte_mbuf *m);
void dp_ctrl_loop(void);

/* The worker pipeline (dp_pipeline.c), on bursts of at most DP_BURST. A burst received on
 * our port @p port: packets of another worker's sessions are handed to it. */
void dp_pipeline_rx(struct dp_lcore *lc, uint16_t port, struct rte_mbuf **pkts, uint16_t n);
/* A burst handed over by other workers: each mbuf carries its arrival port in m->port. */
void dp_pipeline_handoff(struct dp_lcore *lc, struct rte_mbuf **pkts, uint16_t n);

#endif /* DP_H */
