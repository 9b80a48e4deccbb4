/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * MQTT transport over paho.mqtt.c MQTTAsync (MQTT 5, or 3.1.1 when configured).
 *
 * A persistent session (clean start off, a session expiry) so QoS 1 commands sent while the
 * control plane was away are delivered when it returns; a retained "offline" status as the
 * will; paho's automatic reconnect once connected, and our own retry with backoff until the
 * first connection succeeds. paho's thread only copies each request (bounded) into a queue;
 * the main thread does the work.
 */

#include <errno.h>
#include <netinet/in.h>
#include <stddef.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>

#include <MQTTAsync.h>

#include "cp.h"
#include "mf/mf_time.h"

#define QUEUE_MAX	4096
/* What the node asked for (answers to its placed requests and pipes) has room beyond a
 * queue full of requests: dropped, a placed request would be answered "timeout" when its
 * node did answer. */
#define QUEUE_OWN_MAX	(QUEUE_MAX + CP_PLACE_WAITING_MAX)
/* A dead node's session records come at once (retained, on subscribing): one dropped is a
 * session not taken over, so they have room for a large node's. */
#define QUEUE_RECORDS_MAX	(QUEUE_OWN_MAX + 262144)
/* The registry's statuses and wills have room of their own, counted apart: a will lost
 * behind a big takeover's records or a flood of requests would be a death not seen. Each
 * node's status a few times over. */
#define QUEUE_REGISTRY_MAX	(4 * MF_CLUSTER_MAX_NODES)

struct cp_mqtt {
	MQTTAsync client;
	/* The pool's shared subscription on a connection of its own, without a session: a
	 * broker (mosquitto, EMQX) keeps giving a shared subscription's messages to a member
	 * whose session outlives it, so a dead node with the persistent session of `client`
	 * would swallow its share of the pool's requests until it came back. NULL: no pool. */
	MQTTAsync pool;
	_Atomic bool pool_connecting;
	_Atomic bool pool_left;		/* stopping: not connected again */
	time_t pool_next;
	const struct cp_config *cfg;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct cp_msg *head, *tail;
	unsigned int nq, nq_registry;	/* queued; of them, the registry's */
	_Atomic bool connected;
	_Atomic bool reconnected;
	_Atomic bool connecting;
	time_t next_attempt;
	unsigned int backoff;
	char t_cmd[CP_TOPIC_MAX], t_pool[CP_TOPIC_MAX], t_status[CP_TOPIC_MAX];
	char t_devices[CP_TOPIC_MAX];	/* <devices prefix>/+/status, or "" */
	char t_pipe[CP_TOPIC_MAX];	/* <prefix>/<node>/pipe/reply: other nodes' answers */
	char t_registry[CP_TOPIC_MAX];	/* <prefix>/+/status, or "" (no pool) */
	char t_place[CP_TOPIC_MAX];	/* <prefix>/<node>/place/reply */
	char t_pool_plain[CP_TOPIC_MAX];	/* <prefix>/pool/cmd */
	bool records;			/* failover: session records are read */
	char t_dir[CP_TOPIC_MAX];	/* <prefix>/+/stream/#: edge pull's directory, or "" */
	char will_payload[256];
	_Atomic bool quiet;		/* stopping: the statuses' unsubscription answered */
	MQTTAsync_willOptions will;
	MQTTAsync_SSLOptions ssl;
	MQTTProperties conn_props;
};

static void
msg_free(struct cp_msg *msg)
{
	if (msg == NULL)
		return;
	free(msg->payload);
	free(msg->corr);
	free(msg);
}

void
cp_msg_free(struct cp_msg *msg)
{
	msg_free(msg);
}

/* A signature's user property into its field; one too long, or given twice, leaves it
 * empty for good (the check refuses it). */
static void
take_sig(struct cp_sig *sig, const MQTTLenString *name, const MQTTLenString *value)
{
	static const struct {
		const char *name;
		size_t off, cap;
	} fields[] = {
		{ "mfwd-tenant", offsetof(struct cp_sig, tenant), CP_TENANT_MAX },
		{ "mfwd-ts", offsetof(struct cp_sig, ts), sizeof(sig->ts) },
		{ "mfwd-nonce", offsetof(struct cp_sig, nonce), CP_NONCE_MAX },
		{ "mfwd-sig", offsetof(struct cp_sig, sig), CP_SIG_HEX + 1 },
	};
	size_t i;

	for (i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
		char *dst = (char *)sig + fields[i].off;
		size_t n = strlen(fields[i].name);

		if (name->len < 0 || (size_t)name->len != n || memcmp(name->data, fields[i].name, n))
			continue;
		sig->present = true;
		if (!(sig->seen & 1u << i) && value->len > 0 && (size_t)value->len < fields[i].cap &&
		    memchr(value->data, '\0', (size_t)value->len) == NULL)
			memcpy(dst, value->data, (size_t)value->len);
		else
			memset(dst, 0, fields[i].cap);
		sig->seen |= (uint8_t)(1u << i);
		return;
	}
}

/* mfwd-placed: where the sender of a request another node placed here wanted the answer
 * ("" for nowhere said); mfwd-placer: the placing node's MAC. Bounded; a request with
 * either twice is not taken as placed. */
static bool
take_placed(struct cp_msg *msg, const MQTTLenString *name, const MQTTLenString *value)
{
	static const char key[] = "mfwd-placed", mac[] = "mfwd-placer";
	bool is_mac = name->len == (int)sizeof(mac) - 1 &&
		      memcmp(name->data, mac, sizeof(mac) - 1) == 0;
	char *dst = is_mac ? msg->placer_mac : msg->placed_response;
	size_t cap = is_mac ? sizeof(msg->placer_mac) : sizeof(msg->placed_response);

	if (!is_mac && (name->len != (int)sizeof(key) - 1 ||
			memcmp(name->data, key, sizeof(key) - 1) != 0))
		return false;
	if (is_mac)
		msg->placer_n = msg->placer_n < 2 ? msg->placer_n + 1 : 2;
	else
		msg->placed_n = msg->placed_n < 2 ? msg->placed_n + 1 : 2;
	if (value->len >= 0 && (size_t)value->len < cap &&
	    memchr(value->data, '\0', (size_t)value->len) == NULL) {
		memcpy(dst, value->data, (size_t)value->len);
		dst[value->len] = '\0';
	}
	return true;
}

/* A placed request is taken as one only with its answer going to a node's place/reply
 * topic: what the broker lets only nodes read (docs/cluster.md). */
static bool
placed_ok(const struct cp_mqtt *mq, const struct cp_msg *msg)
{
	size_t p = strlen(mq->cfg->prefix), n = strlen(msg->response_topic);
	const char *t = msg->response_topic, *slash;

	if (n < p + 14 || strncmp(t, mq->cfg->prefix, p) != 0 || t[p] != '/' ||
	    strcmp(t + n - 12, "/place/reply") != 0)
		return false;
	slash = strchr(t + p + 1, '/');
	return slash == t + n - 12 && slash > t + p + 1;
}

/* Copy the MQTT 5 request/response properties, bounded (they come from any client). */
static void
take_props(struct cp_mqtt *mq, struct cp_msg *msg, MQTTProperties *props)
{
	MQTTProperty *p;
	int i;

	for (i = 0; i < props->count; i++)
		if (props->array[i].identifier == MQTTPROPERTY_CODE_USER_PROPERTY &&
		    !take_placed(msg, &props->array[i].value.data, &props->array[i].value.value))
			take_sig(&msg->sig, &props->array[i].value.data,
				 &props->array[i].value.value);

	if (MQTTProperties_hasProperty(props, MQTTPROPERTY_CODE_RESPONSE_TOPIC)) {
		p = MQTTProperties_getProperty(props, MQTTPROPERTY_CODE_RESPONSE_TOPIC);
		if (p != NULL && p->value.data.len > 0 &&
		    (size_t)p->value.data.len < sizeof(msg->response_topic)) {
			memcpy(msg->response_topic, p->value.data.data, (size_t)p->value.data.len);
			msg->response_topic[p->value.data.len] = '\0';
		}
	}
	if (MQTTProperties_hasProperty(props, MQTTPROPERTY_CODE_CORRELATION_DATA)) {
		p = MQTTProperties_getProperty(props, MQTTPROPERTY_CODE_CORRELATION_DATA);
		if (p != NULL && p->value.data.len > 0 && p->value.data.len <= 1024) {
			msg->corr = malloc((size_t)p->value.data.len);
			if (msg->corr != NULL) {
				memcpy(msg->corr, p->value.data.data, (size_t)p->value.data.len);
				msg->corr_len = (size_t)p->value.data.len;
			}
		}
	}
	/* Placed: one mfwd-placed, at most one mfwd-placer, the answer to a node. */
	msg->placed = msg->placed_n == 1 && msg->placer_n <= 1 && placed_ok(mq, msg);
}

/* <prefix>/<one level><mid>, then nothing or "/" and more: every topic that the filters
 * <prefix>/+/sess/# (records) and <prefix>/+/stream/# (announcements) match, those with an
 * empty level too (their readers refuse them), so that none is taken for a command. */
static bool
in_tree(const char *prefix, const char *t, const char *mid)
{
	size_t p = strlen(prefix), m = strlen(mid);
	const char *rest;

	if (p == 0 || strncmp(t, prefix, p) != 0 || t[p] != '/')
		return false;
	rest = strchr(t + p + 1, '/');
	return rest != NULL && strncmp(rest, mid, m) == 0 && (rest[m] == '\0' || rest[m] == '/');
}

/* <prefix>/<one level>/event/session.move_failed */
static bool
is_move_failed(const char *prefix, const char *t)
{
	static const char ev[] = "/event/session.move_failed";
	size_t p = strlen(prefix), n = strlen(t), e = sizeof(ev) - 1;
	const char *slash;

	if (p == 0 || n < p + 2 + e || strncmp(t, prefix, p) != 0 || t[p] != '/' ||
	    strcmp(t + n - e, ev) != 0)
		return false;
	slash = strchr(t + p + 1, '/');
	return slash == t + n - e && slash > t + p + 1;
}

/* <prefix>/<one level>/status */
static bool
is_status(const char *prefix, const char *t)
{
	size_t p = strlen(prefix), n = strlen(t);
	const char *slash;

	if (p == 0 || n < p + 9 || strncmp(t, prefix, p) != 0 || t[p] != '/' ||
	    strcmp(t + n - 7, "/status") != 0)
		return false;
	slash = strchr(t + p + 1, '/');
	return slash == t + n - 7 && slash > t + p + 1;
}

static int
on_message(void *ctx, char *topic, int topic_len, MQTTAsync_message *m)
{
	struct cp_mqtt *mq = ctx;
	size_t tlen = topic_len > 0 ? (size_t)topic_len : strlen(topic);
	struct cp_msg *msg = calloc(1, sizeof(*msg));
	bool own;

	if (msg == NULL || tlen >= sizeof(msg->topic) || m->payloadlen < 0)
		goto drop;
	memcpy(msg->topic, topic, tlen);
	msg->device = is_status(mq->cfg->devices_prefix, msg->topic);
	msg->pipe_reply = strcmp(msg->topic, mq->t_pipe) == 0;
	msg->place_reply = strcmp(msg->topic, mq->t_place) == 0;
	msg->pool = mq->t_pool[0] != '\0' && strcmp(msg->topic, mq->t_pool_plain) == 0;
	msg->registry = mq->t_registry[0] != '\0' && is_status(mq->cfg->prefix, msg->topic);
	msg->record = mq->records &&
		      (in_tree(mq->cfg->prefix, msg->topic, "/sess") ||
		       is_move_failed(mq->cfg->prefix, msg->topic));
	msg->stream_dir = mq->t_dir[0] != '\0' &&
			  in_tree(mq->cfg->prefix, msg->topic, "/stream");
	/* Oversized payloads are kept only as a length: the command layer refuses them. */
	msg->len = (size_t)m->payloadlen;
	msg->qos = m->qos > 0;	/* our subscriptions are QoS 1 at most */
	msg->payload = malloc(msg->len > mq->cfg->max_payload ? 1 : msg->len + 1);
	if (msg->payload == NULL)
		goto drop;
	if (msg->len <= mq->cfg->max_payload)
		memcpy(msg->payload, m->payload, msg->len);
	msg->payload[msg->len <= mq->cfg->max_payload ? msg->len : 0] = '\0';
	take_props(mq, msg, &m->properties);
	/* ...and a request it placed on itself (it would wait for it, taken for silent). */
	own = msg->pipe_reply || msg->place_reply ||
	      (msg->placed && strcmp(msg->response_topic, mq->t_place) == 0);
	pthread_mutex_lock(&mq->lock);
	msg->arrived_ms = mf_mono_ms();	/* in queue order */
	/* The directory comes at once too (retained, on subscribing). */
	if (msg->registry ? mq->nq_registry < QUEUE_REGISTRY_MAX :
	    mq->nq < (msg->record || msg->stream_dir ? QUEUE_RECORDS_MAX :
		      own ? QUEUE_OWN_MAX : QUEUE_MAX)) {
		if (mq->tail != NULL)
			mq->tail->next = msg;
		else
			mq->head = msg;
		mq->tail = msg;
		mq->nq++;
		mq->nq_registry += msg->registry;
		msg = NULL;
		pthread_cond_signal(&mq->cond);
	}
	pthread_mutex_unlock(&mq->lock);
drop:
	if (msg != NULL)
		MF_LOG(WARNING, mqtt, "request on %.*s dropped (queue full or unreadable)",
		       (int)(tlen < 200 ? tlen : 200), topic);
	msg_free(msg);
	MQTTAsync_freeMessage(&m);
	MQTTAsync_free(topic);
	return 1;
}

unsigned int
cp_mqtt_take(struct cp_mqtt *mq, struct cp_msg **out, unsigned int max, unsigned int timeout_ms,
	     uint64_t *as_of_ms)
{
	struct timespec ts;
	unsigned int n = 0;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
	ts.tv_sec += timeout_ms / 1000 + ts.tv_nsec / 1000000000L;
	ts.tv_nsec %= 1000000000L;
	pthread_mutex_lock(&mq->lock);
	while (mq->head == NULL &&
	       pthread_cond_timedwait(&mq->cond, &mq->lock, &ts) == 0)
		;
	while (n < max && mq->head != NULL) {
		out[n] = mq->head;
		mq->head = out[n]->next;
		mq->nq_registry -= out[n]->registry;
		out[n++]->next = NULL;
		mq->nq--;
	}
	if (mq->head == NULL)
		mq->tail = NULL;
	/* Under the lock: nothing queued meanwhile is taken for earlier than it came. */
	*as_of_ms = mq->head != NULL ? out[n - 1]->arrived_ms :
		    mf_mono_ms();
	pthread_mutex_unlock(&mq->lock);
	return n;
}

/* A subscription the broker refused (its ACL, say): the node would miss what it is for. */
static void
on_suback5(void *ctx, MQTTAsync_successData5 *r)
{
	/* paho sets the count to 1 for one filter and leaves the array unset then. */
	int i, n = r != NULL && r->alt.sub.reasonCodeCount > 1 ? r->alt.sub.reasonCodeCount : 0;

	if (n == 0 && r != NULL && r->reasonCode >= MQTTREASONCODE_UNSPECIFIED_ERROR)
		MF_LOG(ERR, mqtt, "subscribe %s refused: %s", (const char *)ctx,
		       MQTTReasonCode_toString(r->reasonCode));
	/* Several filters at once: a code each (their first refusal said). */
	for (i = 0; i < n && r->alt.sub.reasonCodes != NULL; i++)
		if (r->alt.sub.reasonCodes[i] >= MQTTREASONCODE_UNSPECIFIED_ERROR) {
			MF_LOG(ERR, mqtt, "subscribe %s refused (%d of %d): %s",
			       (const char *)ctx, i + 1, n,
			       MQTTReasonCode_toString(r->alt.sub.reasonCodes[i]));
			break;
		}
}

/* paho gives a SUBACK's refusal here, with its reason code (and code 0). */
static void
on_sub_failed5(void *ctx, MQTTAsync_failureData5 *r)
{
	MF_LOG(ERR, mqtt, "subscribe %s failed: %s", (const char *)ctx,
	       r != NULL && r->reasonCode != 0 ? MQTTReasonCode_toString(r->reasonCode) :
	       MQTTAsync_strerror(r ? r->code : -1));
}

static void
on_sub_failed(void *ctx, MQTTAsync_failureData *r)
{
	MF_LOG(ERR, mqtt, "subscribe %s failed: %s", (const char *)ctx,
	       MQTTAsync_strerror(r ? r->code : -1));
}

/* @p topic lives as long as the client (a member of struct cp_mqtt). */
static void
subscribe(struct cp_mqtt *mq, MQTTAsync client, const char *topic)
{
	MQTTAsync_responseOptions ro = MQTTAsync_responseOptions_initializer;
	int rc;

	ro.context = (void *)topic;
	if (mq->cfg->mqtt_version == 5) {
		ro.onSuccess5 = on_suback5;
		ro.onFailure5 = on_sub_failed5;
	} else {
		ro.onFailure = on_sub_failed;
	}
	rc = MQTTAsync_subscribe(client, topic, 1, &ro);
	if (rc != MQTTASYNC_SUCCESS)
		MF_LOG(ERR, mqtt, "subscribe %s: %s", topic, MQTTAsync_strerror(rc));
}

/* paho.mqtt.c leaves Nagle's algorithm on and does not expose its socket. A reply written
 * right after the PUBACK of its request would wait for the broker's delayed ACK (40 ms on
 * Linux): every command would take that long. The broker connections (the node's and the
 * pool's) are this process's only TCP sockets, so every TCP socket found gets TCP_NODELAY. */
static void
no_delay(void)
{
	struct rlimit rl = { .rlim_cur = 1024 };
	int fd, type, one = 1;
	socklen_t len;

	getrlimit(RLIMIT_NOFILE, &rl);
	for (fd = 0; fd < (int)rl.rlim_cur && fd < 65536; fd++) {
		struct sockaddr_storage sa;
		socklen_t salen = sizeof(sa);

		len = sizeof(type);
		if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) != 0 || type != SOCK_STREAM ||
		    getsockname(fd, (struct sockaddr *)&sa, &salen) != 0 ||
		    (sa.ss_family != AF_INET && sa.ss_family != AF_INET6))
			continue;
		if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) != 0)
			MF_LOG(WARNING, mqtt, "TCP_NODELAY on the broker connection: %s",
			       strerror(errno));
	}
}

/* Connected, first time or again: subscribe (the broker may have kept the session, but a
 * subscription twice is harmless) and have the main thread publish status. */
static void
on_connected(void *ctx, char *cause)
{
	struct cp_mqtt *mq = ctx;
	MQTTAsync_responseOptions ro = MQTTAsync_responseOptions_initializer;

	(void)cause;
	no_delay();
	subscribe(mq, mq->client, mq->t_cmd);
	subscribe(mq, mq->client, mq->t_pipe);
	/* A session an earlier version kept may hold the pool's subscription: the pool is
	 * the pool connection's alone (a dead node's session would keep its share). */
	if (mq->t_pool[0] != '\0')
		MQTTAsync_unsubscribe(mq->client, mq->t_pool, &ro);
	if (mq->t_registry[0] != '\0') {
		subscribe(mq, mq->client, mq->t_registry);
		if (mq->cfg->placement)
			subscribe(mq, mq->client, mq->t_place);
	}
	if (mq->t_devices[0] != '\0')
		subscribe(mq, mq->client, mq->t_devices);
	if (mq->t_dir[0] != '\0')
		subscribe(mq, mq->client, mq->t_dir);
	mq->backoff = 1;
	atomic_store(&mq->connected, true);
	atomic_store(&mq->connecting, false);
	atomic_store(&mq->reconnected, true);
	MF_LOG(NOTICE, mqtt, "connected to %s", mq->cfg->broker);
}

static void
on_lost(void *ctx, char *cause)
{
	struct cp_mqtt *mq = ctx;

	atomic_store(&mq->connected, false);
	MF_LOG(WARNING, mqtt, "connection to %s lost (%s); reconnecting", mq->cfg->broker,
	       cause ? cause : "no reason given");
}

static void
on_connect_failure5(void *ctx, MQTTAsync_failureData5 *r)
{
	struct cp_mqtt *mq = ctx;

	MF_LOG(ERR, mqtt, "cannot connect to %s: %s%s%s; retry in %u s", mq->cfg->broker,
	       MQTTAsync_strerror(r ? r->code : -1), r && r->reasonCode ? ", " : "",
	       r && r->reasonCode ? MQTTReasonCode_toString(r->reasonCode) : "", mq->backoff);
	atomic_store(&mq->connecting, false);
}

static void
on_connect_failure(void *ctx, MQTTAsync_failureData *r)
{
	struct cp_mqtt *mq = ctx;

	MF_LOG(ERR, mqtt, "cannot connect to %s: %s; retry in %u s", mq->cfg->broker,
	       MQTTAsync_strerror(r ? r->code : -1), mq->backoff);
	atomic_store(&mq->connecting, false);
}

static void
pool_disconnect(struct cp_mqtt *mq)
{
	MQTTAsync_disconnectOptions d5 = MQTTAsync_disconnectOptions_initializer5;
	MQTTAsync_disconnectOptions d4 = MQTTAsync_disconnectOptions_initializer;

	MQTTAsync_disconnect(mq->pool, mq->cfg->mqtt_version == 5 ? &d5 : &d4);
}

/* The pool's connection: subscribed again on each (it has no session to keep it). */
static void
on_pool_connected(void *ctx, char *cause)
{
	struct cp_mqtt *mq = ctx;

	(void)cause;
	no_delay();
	atomic_store(&mq->pool_connecting, false);
	if (atomic_load(&mq->pool_left)) {	/* it left while this connect was on its way */
		pool_disconnect(mq);
		return;
	}
	subscribe(mq, mq->pool, mq->t_pool);
	MF_LOG(NOTICE, mqtt, "pool connection up: taking %s", mq->t_pool);
}

static void
on_pool_lost(void *ctx, char *cause)
{
	struct cp_mqtt *mq = ctx;

	MF_LOG(WARNING, mqtt, "pool connection to %s lost (%s); reconnecting", mq->cfg->broker,
	       cause ? cause : "no reason given");
}

static void
pool_failed(struct cp_mqtt *mq, int code)
{
	MF_LOG(ERR, mqtt, "pool connection to %s: %s", mq->cfg->broker, MQTTAsync_strerror(code));
	atomic_store(&mq->pool_connecting, false);
}

static void
on_pool_failure5(void *ctx, MQTTAsync_failureData5 *r)
{
	pool_failed(ctx, r ? r->code : -1);
}

static void
on_pool_failure(void *ctx, MQTTAsync_failureData *r)
{
	pool_failed(ctx, r ? r->code : -1);
}

static void
setup_connect(struct cp_mqtt *mq, MQTTAsync_connectOptions *co)
{
	const struct cp_config *c = mq->cfg;

	co->keepAliveInterval = (int)c->keepalive_s;
	co->automaticReconnect = 1;
	co->minRetryInterval = 1;
	co->maxRetryInterval = 30;
	co->context = mq;
	co->username = c->username[0] ? c->username : NULL;
	co->password = c->password[0] ? c->password : NULL;
	mq->will = (MQTTAsync_willOptions)MQTTAsync_willOptions_initializer;
	mq->will.topicName = mq->t_status;
	mq->will.message = mq->will_payload;
	mq->will.retained = 1;
	mq->will.qos = 1;
	co->will = &mq->will;
	/* ssl:// means TLS even without a tls section: the system's CAs verify the broker. */
	if (c->has_tls || strncmp(c->broker, "ssl://", 6) == 0 ||
	    strncmp(c->broker, "mqtts://", 8) == 0) {
		mq->ssl = (MQTTAsync_SSLOptions)MQTTAsync_SSLOptions_initializer;
		mq->ssl.trustStore = c->tls.ca_file[0] ? c->tls.ca_file : NULL;
		mq->ssl.keyStore = c->tls.cert_file[0] ? c->tls.cert_file : NULL;
		mq->ssl.privateKey = c->tls.key_file[0] ? c->tls.key_file : NULL;
		mq->ssl.enableServerCertAuth = c->tls.verify;
		mq->ssl.verify = c->tls.verify;
		co->ssl = &mq->ssl;
	}
}

/* Connect the main client (a persistent session, the will) or, @p pool, the pool's: a clean
 * start and no session expiry (the broker forgets it, and its share of the pool, as soon as
 * it is gone), no will (the node's status has it). Tried again until up (the main one with
 * a backoff), then reconnected by paho. @return 0 or -EIO. */
static int
connect_client(struct cp_mqtt *mq, bool pool)
{
	MQTTAsync_connectOptions v5 = MQTTAsync_connectOptions_initializer5;
	MQTTAsync_connectOptions v4 = MQTTAsync_connectOptions_initializer;
	MQTTAsync_connectOptions *co = mq->cfg->mqtt_version == 5 ? &v5 : &v4;
	_Atomic bool *busy = pool ? &mq->pool_connecting : &mq->connecting;
	int rc;

	setup_connect(mq, co);
	if (pool) {
		co->will = NULL;
		co->automaticReconnect = 0;	/* again from the loop, with the main one up */
	}
	if (mq->cfg->mqtt_version == 5) {
		co->cleanstart = pool;
		co->connectProperties = pool ? NULL : &mq->conn_props;
		co->onFailure5 = pool ? on_pool_failure5 : on_connect_failure5;
	} else {
		co->cleansession = pool;
		co->onFailure = pool ? on_pool_failure : on_connect_failure;
	}
	atomic_store(busy, true);
	rc = MQTTAsync_connect(pool ? mq->pool : mq->client, co);
	if (rc != MQTTASYNC_SUCCESS) {
		atomic_store(busy, false);
		MF_LOG(ERR, mqtt, "%sconnect to %s: %s", pool ? "pool " : "", mq->cfg->broker,
		       MQTTAsync_strerror(rc));
	}
	if (pool) {
		mq->pool_next = time(NULL) + 5;
	} else {
		mq->next_attempt = time(NULL) + mq->backoff;
		mq->backoff = mq->backoff < 30 ? mq->backoff * 2 : 30;
	}
	return rc == MQTTASYNC_SUCCESS ? 0 : -EIO;
}

void
cp_mqtt_leave_pool(struct cp_mqtt *mq)
{
	if (mq->pool == NULL || atomic_load(&mq->pool_left))
		return;
	atomic_store(&mq->pool_left, true);
	if (MQTTAsync_isConnected(mq->pool))
		pool_disconnect(mq);
	MF_LOG(NOTICE, mqtt, "left the pool");
}

unsigned int
cp_mqtt_queued(struct cp_mqtt *mq)
{
	unsigned int n;

	pthread_mutex_lock(&mq->lock);
	n = mq->nq;
	pthread_mutex_unlock(&mq->lock);
	return n;
}

bool
cp_mqtt_take_reconnected(struct cp_mqtt *mq)
{
	/* Until the first connection, the main thread's calls here also retry it. */
	if (!atomic_load(&mq->connected) && !atomic_load(&mq->connecting) &&
	    !MQTTAsync_isConnected(mq->client) && time(NULL) >= mq->next_attempt)
		connect_client(mq, false);
	/* The pool only while the node's own connection is up: without it the node could
	 * neither answer nor place what it takes (and its will said it is offline). */
	if (mq->pool != NULL && !atomic_load(&mq->pool_left) &&
	    !atomic_load(&mq->pool_connecting)) {
		if (!MQTTAsync_isConnected(mq->client) && MQTTAsync_isConnected(mq->pool))
			pool_disconnect(mq);
		else if (MQTTAsync_isConnected(mq->client) && !MQTTAsync_isConnected(mq->pool) &&
			 time(NULL) >= mq->pool_next)
			connect_client(mq, true);
	}
	return atomic_exchange(&mq->reconnected, false);
}

bool
cp_mqtt_connected(struct cp_mqtt *mq)
{
	return MQTTAsync_isConnected(mq->client);
}

/* The pool's client, as client id @p cid with "-pool". @return 0 or -EIO. */
static int
pool_client(struct cp_mqtt *mq, const char *cid, MQTTAsync_createOptions *opts)
{
	char pid[180];
	int rc;

	snprintf(pid, sizeof(pid), "%s-pool", cid);
	rc = MQTTAsync_createWithOptions(&mq->pool, mq->cfg->broker, pid,
					 MQTTCLIENT_PERSISTENCE_NONE, NULL, opts);
	if (rc != MQTTASYNC_SUCCESS) {
		MF_LOG(ERR, mqtt, "pool client for %s: %s", mq->cfg->broker,
		       MQTTAsync_strerror(rc));
		mq->pool = NULL;
		return -EIO;
	}
	MQTTAsync_setCallbacks(mq->pool, mq, on_pool_lost, on_message, NULL);
	MQTTAsync_setConnected(mq->pool, mq, on_pool_connected);
	return 0;			/* connected once the node's own connection is up */
}

struct cp_mqtt *
cp_mqtt_start(const struct cp_config *c)
{
	MQTTAsync_createOptions opts = MQTTAsync_createOptions_initializer5;
	MQTTProperty p = { .identifier = MQTTPROPERTY_CODE_SESSION_EXPIRY_INTERVAL };
	struct cp_mqtt *mq = calloc(1, sizeof(*mq));
	char cid[160];
	int rc;

	if (mq == NULL)
		return NULL;
	mq->cfg = c;
	mq->backoff = 1;
	pthread_mutex_init(&mq->lock, NULL);
	pthread_cond_init(&mq->cond, NULL);
	snprintf(mq->t_cmd, sizeof(mq->t_cmd), "%s/%s/cmd", c->prefix, c->node);
	snprintf(mq->t_status, sizeof(mq->t_status), "%s/%s/status", c->prefix, c->node);
	snprintf(mq->t_pipe, sizeof(mq->t_pipe), "%s/%s/pipe/reply", c->prefix, c->node);
	snprintf(mq->t_place, sizeof(mq->t_place), "%s/%s/place/reply", c->prefix, c->node);
	snprintf(mq->t_pool_plain, sizeof(mq->t_pool_plain), "%s/pool/cmd", c->prefix);
	if (c->pool_group[0] != '\0')
		snprintf(mq->t_pool, sizeof(mq->t_pool), "$share/%s/%s/pool/cmd", c->pool_group,
			 c->prefix);
	/* Placing pool requests needs the registry, and MQTT 5's properties to forward; a node
	 * that does not place keeps it too, to check a request placed on it (cp_cmd.c). */
	if (c->pool_group[0] != '\0' && c->mqtt_version == 5)
		snprintf(mq->t_registry, sizeof(mq->t_registry), "%s/+/status", c->prefix);
	mq->records = c->failover && mq->t_registry[0] != '\0';
	if (c->devices_prefix[0] != '\0')
		snprintf(mq->t_devices, sizeof(mq->t_devices), "%s/+/status", c->devices_prefix);
	if (c->edge_pull)
		snprintf(mq->t_dir, sizeof(mq->t_dir), "%s/+/stream/#", c->prefix);
	/* The pool it was in: nodes of that pool take its sessions over (failover). */
	snprintf(mq->will_payload, sizeof(mq->will_payload),
		 "{\"online\":false,\"node\":\"%s\",\"reason\":\"connection lost\",\"pool\":"
		 "\"%s\"}", c->node, c->pool_group);
	snprintf(cid, sizeof(cid), "%s", c->client_id[0] ? c->client_id : "");
	if (cid[0] == '\0')
		snprintf(cid, sizeof(cid), "mfwd-cp-%s", c->node);
	opts.MQTTVersion = c->mqtt_version == 5 ? MQTTVERSION_5 : MQTTVERSION_3_1_1;
	opts.sendWhileDisconnected = 1;
	/* Every reply of a batch (up to 1024 requests) and its events may be queued at once
	 * behind the broker's in-flight window: paho refuses what exceeds this. */
	opts.maxBufferedMessages = 100000;
	rc = MQTTAsync_createWithOptions(&mq->client, c->broker, cid, MQTTCLIENT_PERSISTENCE_NONE,
					 NULL, &opts);
	if (rc != MQTTASYNC_SUCCESS) {
		MF_LOG(ERR, mqtt, "client for %s: %s", c->broker, MQTTAsync_strerror(rc));
		free(mq);
		return NULL;
	}
	MQTTAsync_setCallbacks(mq->client, mq, on_lost, on_message, NULL);
	MQTTAsync_setConnected(mq->client, mq, on_connected);
	p.value.integer4 = c->session_expiry_s;
	MQTTProperties_add(&mq->conn_props, &p);
	if (mq->t_pool[0] != '\0' && pool_client(mq, cid, &opts) != 0) {
		MQTTAsync_destroy(&mq->client);
		MQTTProperties_free(&mq->conn_props);
		free(mq);
		return NULL;
	}
	connect_client(mq, false);
	return mq;
}

static void
add_user(MQTTProperties *props, const char *name, const char *value)
{
	MQTTProperty p = { .identifier = MQTTPROPERTY_CODE_USER_PROPERTY };

	p.value.data.data = (char *)name;
	p.value.data.len = (int)strlen(name);
	p.value.value.data = (char *)value;
	p.value.value.len = (int)strlen(value);
	MQTTProperties_add(props, &p);
}

static int
publish(struct cp_mqtt *mq, const char *topic, const char *payload, int qos, bool retain,
	const uint8_t *corr, size_t corr_len, uint32_t expiry_s, const char *sig)
{
	MQTTAsync_message m = MQTTAsync_message_initializer;
	MQTTAsync_responseOptions ro = MQTTAsync_responseOptions_initializer;
	MQTTProperty p = { .identifier = MQTTPROPERTY_CODE_CORRELATION_DATA };
	int rc;

	m.payload = (void *)payload;
	m.payloadlen = (int)strlen(payload);
	m.qos = qos;
	m.retained = retain;
	if (corr != NULL && corr_len > 0 && mq->cfg->mqtt_version == 5) {
		p.value.data.data = (char *)corr;
		p.value.data.len = (int)corr_len;
		MQTTProperties_add(&m.properties, &p);
	}
	if (expiry_s != 0 && mq->cfg->mqtt_version == 5) {
		p.identifier = MQTTPROPERTY_CODE_MESSAGE_EXPIRY_INTERVAL;
		p.value.integer4 = expiry_s;
		MQTTProperties_add(&m.properties, &p);
	}
	if (sig != NULL && mq->cfg->mqtt_version == 5)
		add_user(&m.properties, "mfwd-sig", sig);
	rc = MQTTAsync_sendMessage(mq->client, topic, &m, &ro);
	MQTTProperties_free(&m.properties);
	if (rc != MQTTASYNC_SUCCESS) {
		MF_LOG(WARNING, mqtt, "publish to %s: %s", topic, MQTTAsync_strerror(rc));
		return -EIO;
	}
	return 0;
}

int
cp_mqtt_publish(struct cp_mqtt *mq, const char *topic, const char *payload, int qos,
		bool retain, const uint8_t *corr, size_t corr_len)
{
	return publish(mq, topic, payload, qos, retain, corr, corr_len, 0, NULL);
}

int
cp_mqtt_publish_signed(struct cp_mqtt *mq, const char *topic, const char *payload,
		       uint32_t expiry_s, const char *sig)
{
	return publish(mq, topic, payload, 1, true, NULL, 0, expiry_s, sig);
}

int
cp_mqtt_follow_many(struct cp_mqtt *mq, char *const *topics, int n, bool on)
{
	MQTTAsync_responseOptions ro = MQTTAsync_responseOptions_initializer;
	int rc, i, qos[CP_FOLLOW_MAX];

	if (n < 1 || n > CP_FOLLOW_MAX)
		return -EINVAL;
	for (i = 0; i < n; i++)
		qos[i] = 1;
	/* The callbacks say what failed by a name that outlives the call. */
	ro.context = (void *)"a session records topic";
	if (mq->cfg->mqtt_version == 5) {
		ro.onSuccess5 = on_suback5;
		ro.onFailure5 = on_sub_failed5;
	} else {
		ro.onFailure = on_sub_failed;
	}
	rc = on ? MQTTAsync_subscribeMany(mq->client, n, topics, qos, &ro) :
		  MQTTAsync_unsubscribeMany(mq->client, n, topics, &(MQTTAsync_responseOptions)
					    MQTTAsync_responseOptions_initializer);
	if (rc != MQTTASYNC_SUCCESS) {
		MF_LOG(WARNING, mqtt, "%s %s%s: %s", on ? "subscribe" : "unsubscribe", topics[0],
		       n > 1 ? " and more" : "", MQTTAsync_strerror(rc));
		return -EIO;
	}
	return 0;
}

int
cp_mqtt_follow(struct cp_mqtt *mq, const char *topic, bool on)
{
	char *t = (char *)topic;	/* paho's prototype is not const; it copies */

	return cp_mqtt_follow_many(mq, &t, 1, on);
}

int
cp_mqtt_watch(struct cp_mqtt *mq, const char *topic)
{
	MQTTAsync_responseOptions ro = MQTTAsync_responseOptions_initializer;
	int rc;

	if (mq->cfg->mqtt_version != 5)
		return -ENOTSUP;
	ro.context = (void *)"a session records topic";
	ro.onSuccess5 = on_suback5;
	ro.onFailure5 = on_sub_failed5;
	/* No Local would spare the node its own publishing back, but mosquitto 2.0 keeps a
	 * subscription's first options when the same filter is subscribed again: the caller
	 * takes its own messages back and ignores them. */
	ro.subscribeOptions.retainHandling = 2;
	rc = MQTTAsync_subscribe(mq->client, topic, 1, &ro);
	if (rc != MQTTASYNC_SUCCESS) {
		MF_LOG(WARNING, mqtt, "subscribe %s: %s", topic, MQTTAsync_strerror(rc));
		return -EIO;
	}
	return 0;
}

int
cp_mqtt_forward(struct cp_mqtt *mq, const char *topic, const struct cp_msg *msg,
		const char *response, const uint8_t *corr, size_t corr_len, const char *mac,
		uint32_t expiry_s)
{
	MQTTAsync_message m = MQTTAsync_message_initializer;
	MQTTAsync_responseOptions ro = MQTTAsync_responseOptions_initializer;
	MQTTProperty p = { .identifier = MQTTPROPERTY_CODE_RESPONSE_TOPIC };
	const struct cp_sig *s = &msg->sig;
	int rc;

	m.payload = msg->payload;
	m.payloadlen = (int)msg->len;
	m.qos = 1;
	p.value.data.data = (char *)response;
	p.value.data.len = (int)strlen(response);
	MQTTProperties_add(&m.properties, &p);
	p.identifier = MQTTPROPERTY_CODE_CORRELATION_DATA;
	p.value.data.data = (char *)corr;
	p.value.data.len = (int)corr_len;
	MQTTProperties_add(&m.properties, &p);
	/* Not run by a node that comes back after the placer answered "timeout". */
	p.identifier = MQTTPROPERTY_CODE_MESSAGE_EXPIRY_INTERVAL;
	p.value.integer4 = expiry_s;
	MQTTProperties_add(&m.properties, &p);
	add_user(&m.properties, "mfwd-placed", msg->response_topic);
	if (mac != NULL)
		add_user(&m.properties, "mfwd-placer", mac);
	/* The signature as it came (a field refused as too long goes empty: refused there). */
	if (s->present) {
		add_user(&m.properties, "mfwd-tenant", s->tenant);
		add_user(&m.properties, "mfwd-ts", s->ts);
		add_user(&m.properties, "mfwd-nonce", s->nonce);
		add_user(&m.properties, "mfwd-sig", s->sig);
	}
	rc = MQTTAsync_sendMessage(mq->client, topic, &m, &ro);
	MQTTProperties_free(&m.properties);
	if (rc != MQTTASYNC_SUCCESS) {
		MF_LOG(WARNING, mqtt, "forward to %s: %s", topic, MQTTAsync_strerror(rc));
		return -EIO;
	}
	return 0;
}

static void
on_quiet(void *ctx, MQTTAsync_successData *r)
{
	(void)r;
	atomic_store((_Atomic bool *)ctx, true);
}

static void
on_quiet5(void *ctx, MQTTAsync_successData5 *r)
{
	(void)r;
	atomic_store((_Atomic bool *)ctx, true);
}

static void
on_quiet_failed(void *ctx, MQTTAsync_failureData *r)
{
	(void)r;
	atomic_store((_Atomic bool *)ctx, true);
}

static void
on_quiet_failed5(void *ctx, MQTTAsync_failureData5 *r)
{
	(void)r;
	atomic_store((_Atomic bool *)ctx, true);
}

/* Up to @p ms for @p done (set by a paho callback), or for the client to be disconnected. */
static void
wait_for(struct cp_mqtt *mq, _Atomic bool *done, unsigned int ms)
{
	struct timespec ts = { 0, 10000000 };
	unsigned int i;

	for (i = 0; i < ms / 10 && MQTTAsync_isConnected(mq->client) &&
		    (done == NULL || !atomic_load(done)); i++)
		nanosleep(&ts, NULL);
}

/*
 * The statuses of every node (and devices, announcements, pipe replies; the records topics
 * went in cp_failover_stop) stop coming before the DISCONNECT, and it waits for our last
 * publishes (the status "stopped") to be acknowledged. Why: paho closes the socket right
 * after the DISCONNECT; a message the broker sends meanwhile (our own status coming back,
 * another node's) meets a closed socket, which answers with a reset, and mosquitto,
 * failing that write before it reads the DISCONNECT, publishes our will ("connection
 * lost"): every node of the pool then took a node stopped on purpose for dead and its
 * sessions over. The topics unsubscribed are subscribed again at every connection;
 * commands stay (a persistent session keeps them for the next start), so a command that
 * comes in the last milliseconds still can.
 */
static void
quiet_disconnect(struct cp_mqtt *mq)
{
	MQTTAsync_disconnectOptions d5 = MQTTAsync_disconnectOptions_initializer5;
	MQTTAsync_disconnectOptions d4 = MQTTAsync_disconnectOptions_initializer;
	MQTTAsync_responseOptions ro = MQTTAsync_responseOptions_initializer;
	char *topics[5];
	int n = 0;

	if (mq->t_registry[0] != '\0')
		topics[n++] = mq->t_registry;
	if (mq->t_registry[0] != '\0' && mq->cfg->placement)
		topics[n++] = mq->t_place;
	if (mq->t_devices[0] != '\0')
		topics[n++] = mq->t_devices;
	if (mq->t_dir[0] != '\0')
		topics[n++] = mq->t_dir;
	topics[n++] = mq->t_pipe;
	ro.context = (void *)&mq->quiet;	/* mq outlives paho's client: a late answer */
	if (mq->cfg->mqtt_version == 5) {
		ro.onSuccess5 = on_quiet5;
		ro.onFailure5 = on_quiet_failed5;
	} else {
		ro.onSuccess = on_quiet;
		ro.onFailure = on_quiet_failed;
	}
	if (MQTTAsync_unsubscribeMany(mq->client, n, topics, &ro) == MQTTASYNC_SUCCESS)
		wait_for(mq, &mq->quiet, 1000);
	d5.timeout = d4.timeout = 1000;		/* in-flight publishes acknowledged first */
	MQTTAsync_disconnect(mq->client, mq->cfg->mqtt_version == 5 ? &d5 : &d4);
	wait_for(mq, NULL, 2000);
}

void
cp_mqtt_stop(struct cp_mqtt *mq)
{
	MQTTAsync_disconnectOptions d5 = MQTTAsync_disconnectOptions_initializer5;
	MQTTAsync_disconnectOptions d4 = MQTTAsync_disconnectOptions_initializer;
	struct cp_msg *msg;

	if (mq == NULL)
		return;
	/* Out of the pool first: what the broker gives the pool now goes to another node. */
	if (mq->pool != NULL) {
		if (MQTTAsync_isConnected(mq->pool))
			MQTTAsync_disconnect(mq->pool, mq->cfg->mqtt_version == 5 ? &d5 : &d4);
		MQTTAsync_destroy(&mq->pool);
	}
	if (MQTTAsync_isConnected(mq->client))
		quiet_disconnect(mq);
	MQTTAsync_destroy(&mq->client);
	MQTTProperties_free(&mq->conn_props);
	while ((msg = mq->head) != NULL) {
		mq->head = msg->next;
		msg_free(msg);
	}
	pthread_mutex_destroy(&mq->lock);
	pthread_cond_destroy(&mq->cond);
	free(mq);
}
