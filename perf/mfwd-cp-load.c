/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * mfwd-cp-load: a load client for the control plane's MQTT API, in C so that the client is
 * not what is measured (perf/cp-bench's Python client spends ~250 us a request). It sends
 * N session.create (or session.delete) requests, at most W in flight, each with a response
 * topic and its number as correlation data, and counts the replies.
 *
 *   mfwd-cp-load BROKER TOPIC create|delete PREFIX N W [QOS]
 *
 * QOS (1, or 0) is the requests' (the control plane answers each at its request's QoS).
 *
 * Prints one JSON line: {"n", "seconds", "per_s", "refused", "lost", "late"}: requests
 * answered, by their first answer, refused; never answered; and answers after a request's
 * first (a pool request answered "timeout" whose node answered later), not counted again.
 */

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <MQTTAsync.h>

#include "mf/mf_args.h"
#include "mf/mf_time.h"

struct load {
	MQTTAsync client;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	uint32_t replies, refused, late;	/* requests answered, refused; answers again */
	uint32_t n;
	uint8_t *answered;			/* per request: it has had its answer */
	int qos;				/* the requests' */
	bool ready, failed;
	char reply_topic[64];
};

static int
on_message(void *ctx, char *topic, int tlen, MQTTAsync_message *m)
{
	struct load *l = ctx;
	bool ok = m->payloadlen > 9 && memmem(m->payload, (size_t)m->payloadlen, "\"ok\":true",
					      9) != NULL;
	MQTTProperty *cd = MQTTProperties_getProperty(&m->properties,
						      MQTTPROPERTY_CODE_CORRELATION_DATA);
	uint32_t i = UINT32_MAX;

	(void)tlen;
	if (cd != NULL && cd->value.data.len == (int)sizeof(i))
		memcpy(&i, cd->value.data.data, sizeof(i));
	pthread_mutex_lock(&l->lock);
	if (i >= l->n || l->answered[i]) {
		l->late++;	/* a request's second answer, or none of ours */
	} else {
		if (!ok && l->refused == 0)
			fprintf(stderr, "mfwd-cp-load: first refusal: %.*s\n", m->payloadlen,
				(const char *)m->payload);
		l->answered[i] = 1;
		l->replies++;
		l->refused += !ok;
	}
	pthread_cond_signal(&l->cond);
	pthread_mutex_unlock(&l->lock);
	MQTTAsync_freeMessage(&m);
	MQTTAsync_free(topic);
	return 1;
}

static void
set_state(struct load *l, bool ready, bool failed)
{
	pthread_mutex_lock(&l->lock);
	l->ready = ready;
	l->failed = failed;
	pthread_cond_signal(&l->cond);
	pthread_mutex_unlock(&l->lock);
}

/* paho.mqtt.c leaves Nagle on and hides its socket: a request written right after the
 * PUBACK of a reply would wait for a delayed ACK. The broker connection is our only TCP
 * socket. */
static void
no_delay(void)
{
	int fd, type, one = 1;
	socklen_t len;

	for (fd = 0; fd < 1024; fd++) {
		struct sockaddr_storage sa;
		socklen_t salen = sizeof(sa);

		len = sizeof(type);
		if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) == 0 && type == SOCK_STREAM &&
		    getsockname(fd, (struct sockaddr *)&sa, &salen) == 0 &&
		    (sa.ss_family == AF_INET || sa.ss_family == AF_INET6))
			setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	}
}

static void
on_subscribed(void *ctx, MQTTAsync_successData5 *r)
{
	(void)r;
	set_state(ctx, true, false);
}

static void
on_failure(void *ctx, MQTTAsync_failureData5 *r)
{
	(void)r;
	set_state(ctx, false, true);
}

static void
on_connected(void *ctx, MQTTAsync_successData5 *r)
{
	struct load *l = ctx;
	MQTTAsync_responseOptions ro = MQTTAsync_responseOptions_initializer;

	(void)r;
	no_delay();
	ro.onSuccess5 = on_subscribed;
	ro.onFailure5 = on_failure;
	ro.context = l;
	if (MQTTAsync_subscribe(l->client, l->reply_topic, 1, &ro) != MQTTASYNC_SUCCESS)
		set_state(l, false, true);
}

static int
send_one(struct load *l, const char *topic, const char *cmd, const char *prefix, uint32_t i)
{
	MQTTAsync_message m = MQTTAsync_message_initializer;
	MQTTAsync_responseOptions ro = MQTTAsync_responseOptions_initializer;
	MQTTProperty p = { .identifier = MQTTPROPERTY_CODE_RESPONSE_TOPIC };
	char body[512];
	int n, rc;

	if (strcmp(cmd, "create") == 0)
		n = snprintf(body, sizeof(body), "{\"id\":\"%s-%u\",\"cmd\":\"session.create\","
			     "\"args\":{\"id\":\"%s-%u\",\"kind\":\"rtp\",\"ingress\":{\"port\":0,"
			     "\"addr\":\"10.99.1.2\"},\"outputs\":[{\"id\":\"a\",\"port\":1,"
			     "\"addr\":\"10.99.2.1\",\"udp_port\":6000}]}}", prefix, i, prefix, i);
	else
		n = snprintf(body, sizeof(body), "{\"id\":\"%s-%u-d\",\"cmd\":\"session.delete\","
			     "\"args\":{\"id\":\"%s-%u\"}}", prefix, i, prefix, i);
	m.payload = body;
	m.payloadlen = n;
	m.qos = l->qos;
	p.value.data.data = l->reply_topic;
	p.value.data.len = (int)strlen(l->reply_topic);
	MQTTProperties_add(&m.properties, &p);
	p.identifier = MQTTPROPERTY_CODE_CORRELATION_DATA;
	p.value.data.data = (char *)&i;
	p.value.data.len = sizeof(i);
	MQTTProperties_add(&m.properties, &p);
	rc = MQTTAsync_sendMessage(l->client, topic, &m, &ro);
	MQTTProperties_free(&m.properties);
	if (rc != MQTTASYNC_SUCCESS)
		fprintf(stderr, "mfwd-cp-load: request %u: %s\n", i, MQTTAsync_strerror(rc));
	return rc == MQTTASYNC_SUCCESS ? 0 : -1;
}

static int
run(struct load *l, const char *topic, const char *cmd, const char *prefix, uint32_t n,
    uint32_t w)
{
	uint64_t t0 = mf_time_ns(CLOCK_MONOTONIC), t1;
	struct timespec until;
	uint32_t i;

	for (i = 0; i < n; i++) {
		pthread_mutex_lock(&l->lock);
		while (i - l->replies >= w) {
			clock_gettime(CLOCK_REALTIME, &until);
			until.tv_sec += 30;
			if (pthread_cond_timedwait(&l->cond, &l->lock, &until) != 0)
				break;
		}
		pthread_mutex_unlock(&l->lock);
		if (send_one(l, topic, cmd, prefix, i) != 0)
			break;
	}
	pthread_mutex_lock(&l->lock);
	while (l->replies < i) {
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += 30;
		if (pthread_cond_timedwait(&l->cond, &l->lock, &until) != 0)
			break;
	}
	pthread_mutex_unlock(&l->lock);
	t1 = mf_time_ns(CLOCK_MONOTONIC);
	printf("{\"n\":%u,\"seconds\":%.3f,\"per_s\":%.0f,\"refused\":%u,\"lost\":%u,"
	       "\"late\":%u}\n", n, (double)(t1 - t0) / 1e9,
	       (double)l->replies * 1e9 / (double)(t1 - t0), l->refused, n - l->replies, l->late);
	return l->replies == n && l->refused == 0 ? 0 : 1;
}

int
main(int argc, char **argv)
{
	MQTTAsync_createOptions co = MQTTAsync_createOptions_initializer5;
	MQTTAsync_connectOptions cn = MQTTAsync_connectOptions_initializer5;
	static struct load l = { .lock = PTHREAD_MUTEX_INITIALIZER,
				 .cond = PTHREAD_COND_INITIALIZER };
	char cid[64];
	uint32_t n, w, qos = 1;
	int rc;

	if ((argc != 7 && argc != 8) || mf_parse_u32(argv[5], 1, 10000000, &n) != 0 ||
	    mf_parse_u32(argv[6], 1, 65535, &w) != 0 ||
	    (argc == 8 && mf_parse_u32(argv[7], 0, 1, &qos) != 0)) {
		fprintf(stderr, "usage: mfwd-cp-load BROKER TOPIC create|delete PREFIX N W [QOS]\n");
		return 2;
	}
	l.qos = (int)qos;
	l.n = n;
	l.answered = calloc(n, 1);
	if (l.answered == NULL)
		return 1;
	snprintf(cid, sizeof(cid), "cp-load-%d", (int)getpid());
	snprintf(l.reply_topic, sizeof(l.reply_topic), "load/reply/%d", (int)getpid());
	co.MQTTVersion = MQTTVERSION_5;
	co.maxBufferedMessages = 100000;	/* paho refuses more queued publishes */
	if (MQTTAsync_createWithOptions(&l.client, argv[1], cid, MQTTCLIENT_PERSISTENCE_NONE,
					NULL, &co) != MQTTASYNC_SUCCESS)
		return 1;
	MQTTAsync_setCallbacks(l.client, &l, NULL, on_message, NULL);
	cn.cleanstart = 1;
	cn.keepAliveInterval = 30;
	cn.maxInflight = 65535;
	cn.onSuccess5 = on_connected;
	cn.onFailure5 = on_failure;
	cn.context = &l;
	if (MQTTAsync_connect(l.client, &cn) != MQTTASYNC_SUCCESS)
		return 1;
	pthread_mutex_lock(&l.lock);
	while (!l.ready && !l.failed)
		pthread_cond_wait(&l.cond, &l.lock);
	pthread_mutex_unlock(&l.lock);
	if (l.failed) {
		fprintf(stderr, "mfwd-cp-load: cannot connect or subscribe at %s\n", argv[1]);
		return 1;
	}
	rc = run(&l, argv[2], argv[3], argv[4], n, w);
	free(l.answered);
	MQTTAsync_destroy(&l.client);
	return rc;
}
