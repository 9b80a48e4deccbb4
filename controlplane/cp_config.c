/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The control plane's JSON configuration. Every option has its default in
 * cp_config_defaults(); unknown keys are refused with their line and column (jansson
 * JSON_STRICT). docs/operations.md lists them all.
 */

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cp.h"

void
cp_config_defaults(struct cp_config *c)
{
	memset(c, 0, sizeof(*c));
	if (gethostname(c->node, sizeof(c->node)) != 0 || c->node[0] == '\0')
		snprintf(c->node, sizeof(c->node), "node");
	c->node[sizeof(c->node) - 1] = '\0';
	snprintf(c->instance, sizeof(c->instance), "mfwd");
	snprintf(c->prefix, sizeof(c->prefix), "mfwd");
	snprintf(c->broker, sizeof(c->broker), "tcp://127.0.0.1:1883");
	c->mqtt_version = 5;
	c->session_expiry_s = 3600;
	c->keepalive_s = 20;
	snprintf(c->pool_group, sizeof(c->pool_group), "mfwd");
	c->placement = true;
	snprintf(c->journal_dir, sizeof(c->journal_dir), "/var/lib/mfwd");
	c->status_interval_s = 10;
	c->stats_interval_ms = 1000;
	c->stats_max_sessions = 100;
	c->port_min = 20000;
	c->port_max = 29999;
	c->limits.max_outputs = 0;
	c->limits.default_session_kbps = 2000;
	c->reply_timeout_ms = 10000;
	c->max_payload = 1 << 20;
	snprintf(c->log_level, sizeof(c->log_level), "info");
	c->tls.verify = true;
	c->auth.required = true;
	c->auth.window_s = 30;
	c->auth.max_nonces = 1u << 20;
	c->linger_s = 30;
	c->pipe_linger_s = 10;
	c->failover_forget_s = 300;
}

static int
copy_str(char *dst, size_t cap, const char *src, const char *what)
{
	if (src == NULL)
		return 0;
	if (strlen(src) >= cap) {
		fprintf(stderr, "mfwd-controlplane: %s is longer than %zu characters\n", what,
			cap - 1);
		return -EINVAL;
	}
	strcpy(dst, src);
	return 0;
}

static bool
topic_safe(const char *s)
{
	return s[0] != '\0' && strpbrk(s, "/+#") == NULL;
}

static int
load_tls(struct cp_config *c, json_t *tls)
{
	const char *ca = NULL, *cert = NULL, *key = NULL;
	int verify = 1;
	json_error_t e;

	if (tls == NULL)
		return 0;
	if (json_unpack_ex(tls, &e, JSON_STRICT, "{s?s, s?s, s?s, s?b}", "ca_file", &ca,
			   "cert_file", &cert, "key_file", &key, "verify", &verify) != 0) {
		fprintf(stderr, "mfwd-controlplane: config tls: %s\n", e.text);
		return -EINVAL;
	}
	c->has_tls = true;
	c->tls.verify = verify;
	return copy_str(c->tls.ca_file, sizeof(c->tls.ca_file), ca, "tls.ca_file") ||
	       copy_str(c->tls.cert_file, sizeof(c->tls.cert_file), cert, "tls.cert_file") ||
	       copy_str(c->tls.key_file, sizeof(c->tls.key_file), key, "tls.key_file") ? -EINVAL : 0;
}

static int
load_limits(struct cp_config *c, json_t *l)
{
	json_int_t ms = c->limits.max_sessions, mo = c->limits.max_outputs;
	json_int_t mk = (json_int_t)c->limits.max_kbps, dk = c->limits.default_session_kbps;
	json_error_t e;

	if (l == NULL)
		return 0;
	if (json_unpack_ex(l, &e, JSON_STRICT, "{s?I, s?I, s?I, s?I}", "max_sessions", &ms,
			   "max_outputs", &mo, "max_kbps", &mk, "default_session_kbps", &dk) != 0) {
		fprintf(stderr, "mfwd-controlplane: config limits: %s\n", e.text);
		return -EINVAL;
	}
	if (ms < 0 || ms > UINT32_MAX || mo < 0 || mo > UINT32_MAX || mk < 0 || dk < 0 ||
	    dk > UINT32_MAX) {
		fprintf(stderr, "mfwd-controlplane: config limits: values must be >= 0\n");
		return -EINVAL;
	}
	c->limits.max_sessions = (uint32_t)ms;
	c->limits.max_outputs = (uint32_t)mo;
	c->limits.max_kbps = (uint64_t)mk;
	c->limits.default_session_kbps = (uint32_t)dk;
	return 0;
}

static int
load_auth(struct cp_config *c, json_t *a)
{
	json_int_t win = c->auth.window_s, max = c->auth.max_nonces;
	const char *keys = NULL, *node = NULL;
	int req = c->auth.required;
	json_error_t e;

	if (a == NULL)
		return 0;
	if (json_unpack_ex(a, &e, JSON_STRICT, "{s:s, s?b, s?I, s?I, s?s}", "keys_file", &keys,
			   "required", &req, "window_s", &win, "max_nonces", &max, "node_tenant",
			   &node) != 0) {
		fprintf(stderr, "mfwd-controlplane: config auth: %s\n", e.text);
		return -EINVAL;
	}
	if (keys[0] == '\0' || win < 1 || win > 3600 || max < 1024 || max > (1 << 30)) {
		fprintf(stderr, "mfwd-controlplane: config auth: keys_file names a file, window_s "
			"1..3600, max_nonces 1024..2^30\n");
		return -EINVAL;
	}
	c->auth.required = req;
	c->auth.window_s = (uint32_t)win;
	c->auth.max_nonces = (uint32_t)max;
	return copy_str(c->auth.keys_file, sizeof(c->auth.keys_file), keys, "auth.keys_file") ||
	       copy_str(c->auth.node_tenant, sizeof(c->auth.node_tenant), node,
			"auth.node_tenant") ? -EINVAL : 0;
}

static int
load_devices(struct cp_config *c, json_t *o)
{
	json_int_t linger = c->linger_s;
	const char *prefix = NULL;
	json_error_t e;

	if (o == NULL)
		return 0;
	if (json_unpack_ex(o, &e, JSON_STRICT, "{s:s, s?I}", "prefix", &prefix, "linger_s",
			   &linger) != 0 || !topic_safe(prefix) || linger < 0 || linger > 86400) {
		fprintf(stderr, "mfwd-controlplane: config devices: {\"prefix\": a name without "
			"/ + #, \"linger_s\": 0-86400}\n");
		return -EINVAL;
	}
	c->linger_s = (uint32_t)linger;
	return copy_str(c->devices_prefix, sizeof(c->devices_prefix), prefix, "devices.prefix");
}

static int
load_streams(struct cp_config *c, json_t *o)
{
	json_int_t port = 0;
	const char *addr = NULL;
	struct mf_addr a;
	json_error_t e;

	if (o == NULL)
		return 0;
	if (json_unpack_ex(o, &e, JSON_STRICT, "{s?I, s?s}", "port", &port, "addr", &addr) != 0 ||
	    port < 0 || port >= MF_MAX_PORTS || (addr != NULL && mf_addr_parse(addr, &a) != 0)) {
		fprintf(stderr, "mfwd-controlplane: config streams: {\"port\": 0-%d, \"addr\": "
			"an IPv4 or IPv6 address of that port}\n", MF_MAX_PORTS - 1);
		return -EINVAL;
	}
	c->stream_port = (uint16_t)port;
	return copy_str(c->stream_addr, sizeof(c->stream_addr), addr, "streams.addr");
}

static int
check(const struct cp_config *c, json_int_t ver, json_int_t pmin, json_int_t pmax)
{
	const char *bad = NULL;

	if (!topic_safe(c->node) || strcmp(c->node, "pool") == 0)
		bad = "node must be a non-empty name without / + #, not \"pool\"";
	else if (!topic_safe(c->prefix))
		bad = "prefix must be a non-empty name without / + #";
	else if (c->pool_group[0] != '\0' && !topic_safe(c->pool_group))
		bad = "pool_group must be a name without / + # (or empty)";
	else if (strcmp(c->devices_prefix, c->prefix) == 0)
		bad = "devices.prefix must differ from prefix (nodes' statuses are there)";
	else if (ver != 5 && ver != 4)
		bad = "mqtt_version must be 5 or 4 (MQTT 3.1.1)";
	else if (c->failover && (c->pool_group[0] == '\0' || ver != 5))
		bad = "failover needs a pool_group and mqtt_version 5";
	else if (c->pipe_linger_s > 86400)
		bad = "pipe_linger_s must be within 0..86400";
	else if (c->failover_forget_s < 1 || c->failover_forget_s > 86400)
		bad = "failover_forget_s must be within 1..86400";
	else if (pmin < 1 || pmax > 65534 || pmin > pmax)
		bad = "port_range must be [min, max] within 1..65534";
	else if (c->status_interval_s == 0 || c->reply_timeout_ms == 0 || c->max_payload == 0)
		bad = "status_interval_s, reply_timeout_ms and max_payload must be above 0";
	else if (c->stats_interval_ms != 0 && c->stats_interval_ms < 250)
		bad = "stats_interval_ms must be 0 (no stats messages) or at least 250";
	else if (c->stats_max_sessions < 1 || c->stats_max_sessions > 1000)
		bad = "stats_max_sessions must be within 1..1000";
	if (bad != NULL) {
		fprintf(stderr, "mfwd-controlplane: config: %s\n", bad);
		return -EINVAL;
	}
	return 0;
}

int
cp_config_load(struct cp_config *c, const char *file)
{
	const char *node = NULL, *inst = NULL, *prefix = NULL, *broker = NULL, *cid = NULL;
	const char *user = NULL, *pass = NULL, *pool = NULL, *journal = NULL, *lvl = NULL;
	json_int_t ver = 5, expiry = -1, keepalive = -1, status = -1, pmin = -1, pmax = -1;
	json_int_t rto = -1, maxp = -1, stats = LLONG_MIN, stats_max = LLONG_MIN, plinger = -1;
	json_int_t forget = -1;
	json_t *root, *tls = NULL, *limits = NULL, *auth = NULL, *streams = NULL, *devs = NULL;
	int placement = 1, failover = 0, edge_pull = 0;
	json_error_t e;
	int rc;

	cp_config_defaults(c);
	pmin = c->port_min;
	pmax = c->port_max;
	root = json_load_file(file, JSON_REJECT_DUPLICATES, &e);
	if (root == NULL) {
		fprintf(stderr, "mfwd-controlplane: %s:%d:%d: %s\n", file, e.line, e.column, e.text);
		return -EINVAL;
	}
	rc = json_unpack_ex(root, &e, JSON_STRICT,
			    "{s?s, s?s, s?s, s?s, s?I, s?s, s?s, s?s, s?o, s?I, s?I, s?s, s?s, s?I,"
			    " s?[II], s?o, s?I, s?I, s?s, s?o, s?o, s?o, s?I, s?I, s?b, s?b, s?b, s?I,"
			    " s?I}",
			    "node", &node, "instance", &inst, "prefix", &prefix, "broker", &broker,
			    "mqtt_version", &ver, "client_id", &cid, "username", &user,
			    "password", &pass, "tls", &tls, "session_expiry_s", &expiry,
			    "keepalive_s", &keepalive, "pool_group", &pool, "journal_dir", &journal,
			    "status_interval_s", &status, "port_range", &pmin, &pmax, "limits",
			    &limits, "reply_timeout_ms", &rto, "max_payload", &maxp, "log_level",
			    &lvl, "auth", &auth, "streams", &streams, "devices", &devs,
			    "stats_interval_ms", &stats, "stats_max_sessions", &stats_max,
			    "placement", &placement, "failover", &failover, "edge_pull",
			    &edge_pull, "pipe_linger_s", &plinger, "failover_forget_s", &forget);
	if (rc != 0) {
		fprintf(stderr, "mfwd-controlplane: %s: %s (%s)\n", file, e.text, e.source);
		json_decref(root);
		return -EINVAL;
	}
	rc = copy_str(c->node, sizeof(c->node), node, "node") ||
	     copy_str(c->instance, sizeof(c->instance), inst, "instance") ||
	     copy_str(c->prefix, sizeof(c->prefix), prefix, "prefix") ||
	     copy_str(c->broker, sizeof(c->broker), broker, "broker") ||
	     copy_str(c->client_id, sizeof(c->client_id), cid, "client_id") ||
	     copy_str(c->username, sizeof(c->username), user, "username") ||
	     copy_str(c->password, sizeof(c->password), pass, "password") ||
	     copy_str(c->pool_group, sizeof(c->pool_group), pool, "pool_group") ||
	     copy_str(c->journal_dir, sizeof(c->journal_dir), journal, "journal_dir") ||
	     copy_str(c->log_level, sizeof(c->log_level), lvl, "log_level") ||
	     load_tls(c, tls) || load_limits(c, limits) || load_auth(c, auth) ||
	     load_streams(c, streams) || load_devices(c, devs) ? -EINVAL : 0;
	json_decref(root);
	if (rc != 0)
		return rc;
	c->mqtt_version = (int)ver;
	c->placement = placement != 0;
	c->failover = failover != 0;
	c->edge_pull = edge_pull != 0;
	if (plinger >= 0)
		c->pipe_linger_s = plinger > 86400 ? 86401 : (uint32_t)plinger;
	if (forget >= 0)
		c->failover_forget_s = forget > 86400 ? 0 : (uint32_t)forget;
	if (expiry >= 0)
		c->session_expiry_s = (uint32_t)expiry;
	if (keepalive >= 0)
		c->keepalive_s = (uint32_t)keepalive;
	if (status >= 0)
		c->status_interval_s = (uint32_t)status;
	if (rto >= 0)
		c->reply_timeout_ms = (uint32_t)rto;
	/* Out of range is made a value check() refuses. */
	if (stats != LLONG_MIN)
		c->stats_interval_ms = stats < 0 || stats > UINT32_MAX ? 1 : (uint32_t)stats;
	if (stats_max != LLONG_MIN)
		c->stats_max_sessions = stats_max < 0 || stats_max > UINT32_MAX ? 0 :
					(uint32_t)stats_max;
	if (maxp >= 0)
		c->max_payload = (uint32_t)maxp;
	c->port_min = (uint16_t)(pmin > 0 && pmin < 65536 ? pmin : 0);
	c->port_max = (uint16_t)(pmax > 0 && pmax < 65536 ? pmax : 0);
	if (mf_log_level_parse(c->log_level) < 0) {
		fprintf(stderr, "mfwd-controlplane: config log_level: error, warning, notice, "
				"info or debug\n");
		return -EINVAL;
	}
	return check(c, ver, pmin, pmax);
}
