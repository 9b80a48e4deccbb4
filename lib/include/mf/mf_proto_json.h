/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * JSON views of what the dataplane answers: node info, session info, lists, events, and
 * the stable error codes of a reply status. Shared by mfwd-ctl and the control plane, so
 * both speak the same JSON.
 */
#ifndef MF_PROTO_JSON_H
#define MF_PROTO_JSON_H

#include "mf/mf_proto.h"

struct json_t;

struct json_t *mf_node_info_to_json(const struct mf_msg_node_info *ni);
struct json_t *mf_sess_info_to_json(const struct mf_msg_sess_info *si);
struct json_t *mf_list_to_json(const struct mf_msg_list *l, uint32_t offset);
struct json_t *mf_event_to_json(const struct mf_msg_event *ev);

/** Stable code for a reply status: "not_found", "exists", "address_in_use"... */
const char *mf_status_code(int status);

#endif /* MF_PROTO_JSON_H */
