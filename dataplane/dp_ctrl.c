/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The control lcore: commands from the shared-memory channel (the single writer of the
 * session table), the slow path, events, timers and deferred frees. It goes QSBR-offline
 * and sleeps whenever an iteration found nothing to do, so it does not spin when idle.
 */

#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <rte_cycles.h>
#include <rte_mempool.h>

#include "dp.h"
#include "dp_event.h"

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
	for (i = 0; i < dp.nb_ports; i++) {
		const struct dp_port *p = &dp.ports[i];
		struct mf_msg_port_info *pi = &ni->ports[i];

		pi->port = i;
		pi->up = p->up;
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

/* Run one command; its result goes after the reply header in @p out. @return result bytes. */
static uint32_t
run_command(const struct mf_chan_msg_hdr *h, uint32_t len, struct mf_msg_reply *r, void *out)
{
	static struct mf_sess_spec spec;	/* 13 KB: not on the stack */
	const void *pl = h + 1;
	struct mf_msg_sess_ref ref;
	struct dp_sess *s;
	uint32_t n = 0;

	switch (h->type) {
	case MF_MSG_SESSION_ADD:
	case MF_MSG_SESSION_REPLACE:
		if (len != sizeof(spec)) {
			r->status = -EBADMSG;
			break;
		}
		memcpy(&spec, pl, sizeof(spec));
		spec.id[MF_SESS_ID_MAX - 1] = '\0';
		r->status = h->type == MF_MSG_SESSION_ADD ?
			dp_sess_add(&spec, r->detail, sizeof(r->detail)) :
			dp_sess_replace(&spec, r->detail, sizeof(r->detail));
		mf_sess_wipe_keys(&spec);
		/* The ring is shared memory that outlives the command: no key stays in it. The
		 * payload is 16-byte aligned in its slot. */
		mf_sess_wipe_keys((struct mf_sess_spec *)(uintptr_t)pl);
		break;
	case MF_MSG_SESSION_DEL:
	case MF_MSG_SESSION_GET:
		if (len != sizeof(ref)) {
			r->status = -EBADMSG;
			break;
		}
		memcpy(&ref, pl, sizeof(ref));
		ref.id[MF_SESS_ID_MAX - 1] = '\0';
		if (h->type == MF_MSG_SESSION_DEL) {
			r->status = dp_sess_del(ref.id, MF_EV_SESSION_REMOVED, r->detail,
						sizeof(r->detail));
			break;
		}
		s = dp_sess_find(ref.id);
		if (s == NULL) {
			r->status = -ENOENT;
			snprintf(r->detail, sizeof(r->detail), "id: no session \"%s\"", ref.id);
			break;
		}
		dp_sess_info(s, out);
		n = sizeof(struct mf_msg_sess_info);
		break;
	case MF_MSG_SESSION_LIST: {
		struct mf_msg_list_req req;

		if (len != sizeof(req)) {
			r->status = -EBADMSG;
			break;
		}
		memcpy(&req, pl, sizeof(req));
		r->status = dp_sess_list(req.offset, req.limit, out);
		n = sizeof(struct mf_msg_list);
		break;
	}
	case MF_MSG_NODE_INFO:
		node_info(out);
		n = sizeof(struct mf_msg_node_info);
		break;
	default:
		r->status = -EOPNOTSUPP;
		snprintf(r->detail, sizeof(r->detail), "unknown command type %u", h->type);
	}
	if (r->status == -EBADMSG && r->detail[0] == '\0')
		snprintf(r->detail, sizeof(r->detail), "%s: payload of %u bytes is malformed",
			 mf_msg_type_str(h->type), len);
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
		if (h->version != MF_PROTO_VERSION) {
			r->status = -EPROTO;
			snprintf(r->detail, sizeof(r->detail),
				 "protocol version %u, this dataplane speaks %u", h->version,
				 MF_PROTO_VERSION);
			n = 0;
		} else {
			n = run_command(h, len, r, r + 1);
		}
		mf_chan_commit(&dp.reply, MF_MSG_REPLY, MF_PROTO_VERSION, h->seq,
			       (uint32_t)sizeof(*r) + n);
		mf_chan_consume(&dp.cmd);
		dp.node_ctr[DP_CTR_commands]++;
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
		total += n;
		n = rte_ring_sc_dequeue_burst(lc->neighq, objs, DP_BURST, NULL);
		for (i = 0; i < n; i++) {
			struct rte_mbuf *m = objs[i];

			dp_neigh_queue(m->hash.usr, m);
		}
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
	dp_sess_timer(now);
	dp_neigh_timer(now);
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
		dp_sess_reclaim();
		lc->ctr[DP_CTR_iterations]++;
		if (work > 0) {
			lc->ctr[DP_CTR_busy_iterations]++;
			lc->ctr[DP_CTR_busy_cycles] += rte_rdtsc() - t0;
			lc->ctr[DP_CTR_total_cycles] += rte_rdtsc() - t0;
			continue;
		}
		urcu_qsbr_thread_offline();
		usleep(dp.cfg.idle_sleep_us);
		urcu_qsbr_thread_online();
		lc->ctr[DP_CTR_total_cycles] += rte_rdtsc() - t0;
	}
}
