/* SPDX-License-Identifier: BSD-3-Clause */
/* JSON views of dataplane answers (see mf_proto_json.h). */

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "mf/mf_proto_json.h"

static json_t *
addr_json(const struct mf_addr *a)
{
	char buf[64];

	return json_string(mf_addr_str(a, buf, sizeof(buf)));
}

json_t *
mf_node_info_to_json(const struct mf_msg_node_info *ni)
{
	json_t *ports = json_array();
	unsigned int i, k;
	char mac[18];

	for (i = 0; i < ni->nb_ports && i < MF_MAX_PORTS; i++) {
		const struct mf_msg_port_info *p = &ni->ports[i];
		json_t *addrs = json_array(), *gw = json_array();
		char buf[80];

		for (k = 0; k < p->nb_addrs && k < MF_NODE_MAX_ADDRS; k++) {
			char a[64];

			snprintf(buf, sizeof(buf), "%s/%u", mf_addr_str(&p->addrs[k], a, sizeof(a)),
				 p->prefix[k]);
			json_array_append_new(addrs, json_string(buf));
		}
		snprintf(mac, sizeof(mac), "%02x:%02x:%02x:%02x:%02x:%02x", p->mac[0], p->mac[1],
			 p->mac[2], p->mac[3], p->mac[4], p->mac[5]);
		if (p->gw & MF_PORT_GW4)
			json_array_append_new(gw, json_string("ipv4"));
		if (p->gw & MF_PORT_GW6)
			json_array_append_new(gw, json_string("ipv6"));
		json_array_append_new(ports, json_pack("{s:i, s:s, s:s, s:b, s:o, s:o}", "port",
						       p->port, "name", p->name, "mac", mac, "up",
						       p->up, "addrs", addrs, "gateways", gw));
	}
	return json_pack("{s:s, s:i, s:i, s:i, s:i, s:I, s:I, s:s%, s:o}", "version",
			 ni->version, "ports_count", ni->nb_ports, "workers", ni->nb_workers,
			 "sessions", ni->sessions, "max_sessions", ni->max_sessions,
			 "start_time_ns", (json_int_t)ni->start_time_ns, "generation",
			 (json_int_t)ni->generation, "dtls_fingerprint", ni->dtls_fingerprint,
			 strnlen(ni->dtls_fingerprint, MF_DTLS_FP_STR), "ports", ports);
}

json_t *
mf_sess_info_to_json(const struct mf_msg_sess_info *si)
{
	const struct mf_msg_sess_live *l = &si->live;
	json_t *live, *spec = mf_sess_to_json(&si->spec, 0);

	live = json_pack("{s:i, s:I, s:I, s:I, s:I, s:I, s:I}", "worker", l->worker,
			 "created_ns", (json_int_t)l->created_ns, "idle_ms", (json_int_t)l->idle_ms,
			 "rx_pkts", (json_int_t)l->rx_pkts, "rx_bytes", (json_int_t)l->rx_bytes,
			 "tx_pkts", (json_int_t)l->tx_pkts, "dropped", (json_int_t)l->dropped);
	if (l->src_latched)
		json_object_set_new(live, "latched_source",
				    json_pack("{s:o, s:i}", "addr", addr_json(&l->latched_src),
					      "port", l->latched_port));
	if (l->last_ssrc != 0)
		json_object_set_new(live, "ssrc", json_integer(l->last_ssrc));
	return json_pack("{s:o, s:o}", "spec", spec, "live", live);
}

json_t *
mf_list_to_json(const struct mf_msg_list *l, uint32_t offset)
{
	json_t *ids = json_array();
	unsigned int i;

	for (i = 0; i < l->count && i < MF_LIST_MAX; i++)
		json_array_append_new(ids, json_stringn(l->ids[i],
			strnlen(l->ids[i], MF_SESS_ID_MAX)));
	return json_pack("{s:i, s:i, s:o}", "total", l->total, "offset", offset, "sessions", ids);
}

json_t *
mf_event_to_json(const struct mf_msg_event *ev)
{
	json_t *o = json_pack("{s:s, s:I}", "event", mf_event_kind_str(ev->kind), "time_ns",
			      (json_int_t)ev->time_ns);

	if (ev->id[0] != '\0')
		json_object_set_new(o, "session", json_stringn(ev->id,
			strnlen(ev->id, MF_SESS_ID_MAX)));
	if (ev->src.family != 0)
		json_object_set_new(o, "source", json_pack("{s:o, s:i}", "addr",
							   addr_json(&ev->src), "port",
							   ev->src_port));
	if (ev->kind == MF_EV_ICE_CONNECTED || ev->kind == MF_EV_ICE_CONSENT_LOST ||
	    ev->kind == MF_EV_ICE_TIMEOUT || ev->kind == MF_EV_DTLS_CONNECTED ||
	    ev->kind == MF_EV_DTLS_FAILED)
		json_object_set_new(o, "endpoint", json_string(ev->output[0] ? "output" : "ingress"));
	if (ev->output[0] != '\0')
		json_object_set_new(o, "output", json_stringn(ev->output,
							      strnlen(ev->output, MF_OUT_ID_MAX)));
	if (ev->kind == MF_EV_SSRC_CHANGED)
		json_object_set_new(o, "ssrc", json_integer(ev->ssrc));
	if (ev->kind == MF_EV_CAPTURE_DONE)
		json_object_set_new(o, "packets", json_integer((json_int_t)ev->count));
	return o;
}

const char *
mf_status_code(int status)
{
	switch (status) {
	case 0: return "ok";
	case -ENOENT: return "not_found";
	case -EEXIST: return "exists";
	case -EADDRINUSE: return "address_in_use";
	case -EADDRNOTAVAIL: return "address_not_available";
	case -ENODEV: return "no_such_port";
	case -EHOSTUNREACH: return "no_route";
	case -ENOSPC: return "capacity";
	case -ENOTSUP: return "not_supported";
	case -EINVAL: return "invalid";
	case -EBUSY: return "busy";
	case -EBADMSG: return "bad_message";
	case -EPROTO: return "protocol_version";
	case -ENOMEM: return "no_memory";
	case -ETIMEDOUT: return "timeout";
	case -EOWNERDEAD: return "dataplane_gone";
	default: return "internal";
	}
}
