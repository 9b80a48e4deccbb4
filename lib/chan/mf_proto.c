/* SPDX-License-Identifier: BSD-3-Clause */
/* Names of protocol message types and event kinds (see mf_proto.h). */

#include "mf/mf_proto.h"

const char *
mf_event_kind_str(unsigned int kind)
{
	static const char *const names[] = {
		[MF_EV_SESSION_IDLE] = "session.idle",
		[MF_EV_SESSION_ACTIVE] = "session.active",
		[MF_EV_SESSION_TIMEOUT] = "session.timeout",
		[MF_EV_SESSION_REMOVED] = "session.removed",
		[MF_EV_SOURCE_LATCHED] = "source.latched",
		[MF_EV_SSRC_CHANGED] = "source.ssrc_changed",
		[MF_EV_DATAPLANE_UP] = "dataplane.up",
		[MF_EV_DATAPLANE_DOWN] = "dataplane.down",
		[MF_EV_ICE_CONNECTED] = "ice.connected",
		[MF_EV_ICE_CONSENT_LOST] = "ice.consent_lost",
		[MF_EV_DTLS_CONNECTED] = "dtls.connected",
		[MF_EV_DTLS_FAILED] = "dtls.failed",
		[MF_EV_CAPTURE_DONE] = "capture.done",
		[MF_EV_ICE_TIMEOUT] = "ice.timeout",
	};

	if (kind >= sizeof(names) / sizeof(names[0]) || names[kind] == NULL)
		return "unknown";
	return names[kind];
}

const char *
mf_msg_type_str(unsigned int type)
{
	switch (type) {
	case MF_MSG_SESSION_ADD: return "session.add";
	case MF_MSG_SESSION_REPLACE: return "session.replace";
	case MF_MSG_SESSION_DEL: return "session.del";
	case MF_MSG_SESSION_GET: return "session.get";
	case MF_MSG_SESSION_LIST: return "session.list";
	case MF_MSG_NODE_INFO: return "node.info";
	case MF_MSG_CLOCK_ADVANCE: return "clock.advance";
	case MF_MSG_SESSION_CAPTURE: return "session.capture";
	case MF_MSG_REPLY: return "reply";
	case MF_MSG_EVENT: return "event";
	default: return "unknown";
	}
}
