/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The control lcore: commands from the shared-memory channel (the single writer of the
 * session table), the slow path, events, timers and deferred frees. It goes QSBR-offline
 * and sleeps whenever an iteration found nothing to do, so it does not spin when idle; a
 * command wakes it (the channel's futex).
 */

#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <rte_cycles.h>
#include <rte_mempool.h>

#include "dp.h"
#include "dp_capture.h"
#include "dp_dtls.h"
#include "dp_event.h"
#include "dp_ice.h"

#define CMDS_PER_ITER	32
#define TIMER_MS	100

/* ---- commands ---- */

static void
node_info(struct mf_msg_node_info *ni)
{
	uint16_t i, k;

	memset(ni, 0, sizeof(*ni));
	snprintf(ni->version, sizeof(ni->version), "%s", MF_VERSION);
	ni->nb_ports = dp.nb_ports;
	ni->nb_workers = dp.nb_workers;
	ni->sessions = dp_sess_count();
	ni->max_sessions = dp.cfg.max_sessions;
	ni->start_time_ns = dp.shm.hdr->start_time_ns;
	ni->generation = dp.shm.hdr->generation;
	snprintf(ni->dtls_fingerprint, sizeof(ni->dtls_fingerprint), "%s", dp_dtls_fingerprint());
	for (i = 0; i < dp.nb_ports; i++) {
		const struct dp_port *p = &dp.ports[i];
		struct mf_msg_port_info *pi = &ni->ports[i];

		pi->port = i;
		pi->up = p->up;
		pi->gw = (p->conf->has_gw4 ? MF_PORT_GW4 : 0) | (p->conf->has_gw6 ? MF_PORT_GW6 : 0);
		memcpy(pi->mac, p->mac.addr_bytes, 6);
		snprintf(pi->name, sizeof(pi->name), "%s", p->name);
		for (k = 0; k < p->conf->nb_v4 && pi->nb_addrs < MF_NODE_MAX_ADDRS; k++) {
			pi->addrs[pi->nb_addrs].family = 4;
			memcpy(pi->addrs[pi->nb_addrs].a, p->conf->v4[k].a, 4);
			pi->prefix[pi->nb_addrs++] = p->conf->v4[k].prefix;
		}
		for (k = 0; k < p->conf->nb_v6 && pi->nb_addrs < MF_NODE_MAX_ADDRS; k++) {
			pi->addrs[pi->nb_addrs].family = 6;
			memcpy(pi->addrs[pi->nb_addrs].a, p->conf->v6[k].a, 16);
			pi->prefix[pi->nb_addrs++] = p->conf->v6[k].prefix;
		}
	}
}

/* Each command: its payload has exactly @c size bytes, or @c take checks it and copies it
 * off the ring (before the handler runs); the handler sets r->status (and r->detail on
 * error) and returns the result's bytes. */
struct cmd {
	uint32_t size;
	const void *(*take)(const void *pl, uint32_t len);
	uint32_t (*run)(const void *pl, struct mf_msg_reply *r, void *out);
};

/* The ring is shared memory that outlives the command: no key stays in it, whether the
 * spec is taken or refused (a spec of one output is 936 bytes to zero). */
static void
ring_wipe(const void *pl, uint32_t len)
{
	explicit_bzero((void *)(uintptr_t)pl, len);
}

/* A session spec crosses the channel up to its last output: @p len must be what the
 * nb_outputs of the copy says (read once: the ring is shared). Copied into the lcore's
 * scratch (55 KiB at most: not the stack), the outputs past it zero. @return the copy, or
 * NULL when @p len is not the spec's size. */
static const void *
spec_take(const void *pl, uint32_t len)
{
	static struct mf_sess_spec spec;
	const size_t head = offsetof(struct mf_sess_spec, outputs);
	size_t n;

	if (len < head) {
		ring_wipe(pl, len);
		return NULL;
	}
	memcpy(&spec, pl, head);
	n = spec.nb_outputs <= MF_SESS_MAX_OUTPUTS ? mf_sess_spec_size(&spec) : 0;
	if (n != len) {
		ring_wipe(pl, len);
		explicit_bzero(&spec, head);	/* the ingress's key */
		return NULL;
	}
	memcpy(spec.outputs, (const uint8_t *)pl + head, n - head);
	memset((uint8_t *)&spec + n, 0, sizeof(spec) - n);
	spec.id[MF_SESS_ID_MAX - 1] = '\0';
	ring_wipe(pl, len);
	return &spec;
}

static uint32_t
cmd_add(const void *pl, struct mf_msg_reply *r, void *out)
{
	struct mf_sess_spec *spec = (struct mf_sess_spec *)(uintptr_t)pl;	/* spec_take's */

	(void)out;
	r->status = dp_sess_add(spec, r->detail, sizeof(r->detail));
	mf_sess_wipe_keys(spec);
	return 0;
}

static uint32_t
cmd_replace(const void *pl, struct mf_msg_reply *r, void *out)
{
	struct mf_sess_spec *spec = (struct mf_sess_spec *)(uintptr_t)pl;	/* spec_take's */

	(void)out;
	r->status = dp_sess_replace(spec, r->detail, sizeof(r->detail));
	mf_sess_wipe_keys(spec);
	return 0;
}

static void
ref_copy(const void *pl, struct mf_msg_sess_ref *ref)
{
	memcpy(ref, pl, sizeof(*ref));
	ref->id[MF_SESS_ID_MAX - 1] = '\0';
}

static uint32_t
cmd_del(const void *pl, struct mf_msg_reply *r, void *out)
{
	struct mf_msg_sess_ref ref;

	(void)out;
	ref_copy(pl, &ref);
	r->status = dp_sess_del(ref.id, MF_EV_SESSION_REMOVED, r->detail, sizeof(r->detail));
	return 0;
}

static uint32_t
cmd_get(const void *pl, struct mf_msg_reply *r, void *out)
{
	struct mf_msg_sess_ref ref;
	struct dp_sess *s;

	ref_copy(pl, &ref);
	s = dp_sess_find(ref.id);
	if (s == NULL) {
		r->status = -ENOENT;
		snprintf(r->detail, sizeof(r->detail), "id: no session \"%s\"", ref.id);
		return 0;
	}
	dp_sess_info(s, out);
	return sizeof(struct mf_msg_sess_info);
}

static uint32_t
cmd_list(const void *pl, struct mf_msg_reply *r, void *out)
{
	struct mf_msg_list_req req;

	memcpy(&req, pl, sizeof(req));
	r->status = dp_sess_list(req.offset, req.limit, out);
	return sizeof(struct mf_msg_list);
}

static uint32_t
cmd_node_info(const void *pl, struct mf_msg_reply *r, void *out)
{
	(void)pl;
	(void)r;
	node_info(out);
	return sizeof(struct mf_msg_node_info);
}

/* Timers fire here, before the reply: the events they raise are on the channel when the
 * test reads the reply. */
static uint32_t
cmd_clock(const void *pl, struct mf_msg_reply *r, void *out)
{
	struct mf_msg_clock c;

	(void)out;
	if (!dp.cfg.test_clock) {
		r->status = -EPERM;
		snprintf(r->detail, sizeof(r->detail), "clock.advance needs --test-clock");
		return 0;
	}
	memcpy(&c, pl, sizeof(c));
	if (c.advance_ms > UINT64_C(86400000) * 365) {
		r->status = -ERANGE;
		snprintf(r->detail, sizeof(r->detail), "advance_ms: at most a year");
		return 0;
	}
	/* In 128 bits: a year of ms times a TSC's Hz passes 64. */
	dp_sess_clock_advance((uint64_t)((unsigned __int128)c.advance_ms * dp.tsc_hz / 1000));
	dp_sess_timer(rte_rdtsc());
	return 0;
}

static uint32_t
cmd_capture(const void *pl, struct mf_msg_reply *r, void *out)
{
	struct mf_msg_capture c;
	struct mf_msg_capture_info *ci = out;

	memcpy(&c, pl, sizeof(c));
	c.id[MF_SESS_ID_MAX - 1] = '\0';
	c.file[MF_CAPTURE_FILE_MAX - 1] = '\0';
	memset(ci, 0, sizeof(*ci));
	r->status = dp_capture_start(&c, ci->path, r->detail, sizeof(r->detail));
	return sizeof(*ci);
}

static const struct cmd cmds[] = {
	[MF_MSG_SESSION_ADD] = { 0, spec_take, cmd_add },
	[MF_MSG_SESSION_REPLACE] = { 0, spec_take, cmd_replace },
	[MF_MSG_SESSION_DEL] = { sizeof(struct mf_msg_sess_ref), NULL, cmd_del },
	[MF_MSG_SESSION_GET] = { sizeof(struct mf_msg_sess_ref), NULL, cmd_get },
	[MF_MSG_SESSION_LIST] = { sizeof(struct mf_msg_list_req), NULL, cmd_list },
	[MF_MSG_NODE_INFO] = { 0, NULL, cmd_node_info },
	[MF_MSG_CLOCK_ADVANCE] = { sizeof(struct mf_msg_clock), NULL, cmd_clock },
	[MF_MSG_SESSION_CAPTURE] = { sizeof(struct mf_msg_capture), NULL, cmd_capture },
};

/* Run one command; its result goes after the reply header in @p out. @return result bytes. */
static uint32_t
run_command(const struct mf_chan_msg_hdr *h, uint32_t len, struct mf_msg_reply *r, void *out)
{
	const struct cmd *c = h->type < RTE_DIM(cmds) ? &cmds[h->type] : NULL;
	const void *pl;
	uint32_t n;

	if (h->version != MF_PROTO_VERSION) {
		/* Another version's spec may carry keys where this one has none. */
		if (c != NULL && c->take == spec_take)
			ring_wipe(h + 1, len);
		r->status = -EPROTO;
		snprintf(r->detail, sizeof(r->detail), "protocol version %u, this dataplane speaks %u",
			 h->version, MF_PROTO_VERSION);
		return 0;
	}
	if (c == NULL || c->run == NULL) {
		r->status = -EOPNOTSUPP;
		snprintf(r->detail, sizeof(r->detail), "unknown command type %u", h->type);
		return 0;
	}
	pl = c->take != NULL ? c->take(h + 1, len) : len == c->size ? h + 1 : NULL;
	if (pl == NULL) {
		r->status = -EBADMSG;
		snprintf(r->detail, sizeof(r->detail), "%s: payload of %u bytes is malformed",
			 mf_msg_type_str(h->type), len);
		return 0;
	}
	n = c->run(pl, r, out);
	return r->status == 0 ? n : 0;
}

/* A command is consumed only once its reply has a slot, so a full reply ring delays
 * commands and loses none. */
static unsigned int
poll_commands(void)
{
	const struct mf_chan_msg_hdr *h;
	struct mf_msg_reply *r;
	unsigned int done = 0;
	uint32_t len, n;

	while (done < CMDS_PER_ITER && (h = mf_chan_peek(&dp.cmd, &len)) != NULL) {
		r = mf_chan_reserve(&dp.reply);
		if (r == NULL)
			break;
		memset(r, 0, sizeof(*r));
		r->cmd_type = h->type;
		n = run_command(h, len, r, r + 1);
		/* Counted before the reply is visible: whoever reads the reply sees it. */
		dp.node_ctr[DP_CTR_commands]++;
		mf_chan_commit(&dp.reply, MF_MSG_REPLY, MF_PROTO_VERSION, h->seq,
			       (uint32_t)sizeof(*r) + n);
		mf_chan_consume(&dp.cmd);
		done++;
	}
	return done;
}

/* ---- rings from the workers ---- */

static unsigned int
poll_workers(void)
{
	void *objs[DP_BURST];
	unsigned int n, i, total = 0;
	uint16_t w;

	for (w = 1; w <= dp.nb_workers; w++) {
		struct dp_lcore *lc = &dp.lcores[w];

		n = rte_ring_sc_dequeue_burst(lc->punt, objs, DP_BURST, NULL);
		for (i = 0; i < n; i++)
			dp_slow_input(objs[i]);
		total += n + dp_event_drain(lc);
	}
	return total;
}

static void
timers(uint64_t now, uint64_t *next, uint64_t *next_ports)
{
	if (now < *next)
		return;
	*next = now + dp.tsc_hz * TIMER_MS / 1000;
	if (!dp.cfg.test_clock)
		dp_sess_timer(now);
	dp_ice_consent(now);
	dp_dtls_timer(now);
	dp_capture_poll();
	dp_neigh_timer(now);
	dp_ports_watch(now);
	if (now >= *next_ports) {
		*next_ports = now + dp.tsc_hz;
		dp_stats_ports_update();
	}
}

void
dp_ctrl_loop(void)
{
	uint64_t now, next = 0, next_ports = 0, t0;
	struct dp_lcore *lc = &dp.lcores[0];
	unsigned int work;

	while (!atomic_load_explicit(&dp.quit, memory_order_relaxed)) {
		t0 = rte_rdtsc();
		work = poll_commands() + poll_workers();
		now = rte_rdtsc();
		timers(now, &next, &next_ports);
		dp_sess_ctr_sync(now);
		dp_defer_reclaim();
		lc->ctr[DP_CTR_iterations]++;
		if (work > 0) {
			lc->ctr[DP_CTR_busy_iterations]++;
			lc->ctr[DP_CTR_busy_cycles] += rte_rdtsc() - t0;
			lc->ctr[DP_CTR_total_cycles] += rte_rdtsc() - t0;
			continue;
		}
		/* Asleep until a command rings or idle_sleep_us passes (the workers' rings and
		 * the timers are looked at then): a command is answered at once, an idle
		 * control lcore costs nothing. */
		urcu_qsbr_thread_offline();
		mf_chan_wait(&dp.cmd, dp.cfg.idle_sleep_us);
		urcu_qsbr_thread_online();
		lc->ctr[DP_CTR_total_cycles] += rte_rdtsc() - t0;
	}
}
