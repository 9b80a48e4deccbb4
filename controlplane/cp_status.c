/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The node's retained status (its size does not grow with the sessions: counts only) and
 * its events, both published on MQTT.
 */

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cp.h"
#include "mf/mf_proto_json.h"

json_t *
cp_status_json(struct cp *cp)
{
	struct cp_err err;
	json_t *o, *ports = json_array();
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	if (cp->dp_up && cp_dp_call(cp, MF_MSG_NODE_INFO, NULL, 0, cp->res, sizeof(cp->res),
				    &err) >= 0) {
		json_t *ni = mf_node_info_to_json((struct mf_msg_node_info *)cp->res);

		json_decref(ports);
		ports = json_incref(json_object_get(ni, "ports"));
		json_decref(ni);
	}
	o = json_pack("{s:b, s:s, s:s, s:I, s:{s:b, s:s, s:I}, s:o, s:i, s:i, s:I, s:b,"
		      " s:{s:i, s:i, s:I}}",
		      "online", 1, "node", cp->cfg.node, "version", MF_VERSION, "time_ms",
		      (json_int_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000, "dataplane", "up",
		      cp->dp_up, "instance", cp->cfg.instance, "generation",
		      (json_int_t)cp->dp_generation, "ports", ports, "sessions", cp->reg.count,
		      "outputs", cp->nb_outputs, "kbps", (json_int_t)cp->kbps, "draining",
		      cp->draining, "capacity", "max_sessions",
		      cp->cfg.limits.max_sessions ? cp->cfg.limits.max_sessions : cp->dp_max_sessions,
		      "max_outputs", cp->cfg.limits.max_outputs, "max_kbps",
		      (json_int_t)cp->cfg.limits.max_kbps);
	return o;
}

void
cp_status_publish(struct cp *cp, bool online)
{
	json_t *o = online ? cp_status_json(cp) :
		json_pack("{s:b, s:s, s:s}", "online", 0, "node", cp->cfg.node, "reason",
			  "stopped");
	char *text = json_dumps(o, JSON_COMPACT);

	if (text != NULL)
		cp_mqtt_publish(cp->mqtt, cp->t_status, text, 1, true, NULL, 0);
	free(text);
	json_decref(o);
}

void
cp_event_publish(struct cp *cp, json_t *ev)
{
	char topic[CP_TOPIC_MAX], *text;
	const char *kind = json_string_value(json_object_get(ev, "event"));

	json_object_set_new(ev, "node", json_string(cp->cfg.node));
	snprintf(topic, sizeof(topic), "%s/%s/event/%s", cp->cfg.prefix, cp->cfg.node,
		 kind ? kind : "unknown");
	text = json_dumps(ev, JSON_COMPACT);
	if (text != NULL)
		cp_mqtt_publish(cp->mqtt, topic, text, 0, false, NULL, 0);
	free(text);
	json_decref(ev);
}
