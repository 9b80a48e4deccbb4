/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * mfwd-stat --listen: a Prometheus scrape endpoint over libmicrohttpd (Debian's
 * libmicrohttpd12), not an HTTP server of our own. Its one polling thread answers every
 * request, so the exporter's state needs no lock; a scrape copies the stats area and
 * never writes to it, like every other reader.
 */

#include <errno.h>
#include <netdb.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <microhttpd.h>

#include "stat_prom.h"

#define CONTENT_TYPE	"text/plain; version=0.0.4; charset=utf-8"

/* The exporter: the dataplane it maps, when it has one. */
struct stat_exporter {
	const char *instance;
	uint32_t max_sessions;
	struct mf_shm shm;
	struct mf_stats_reader rd;
	bool mapped;
	int last_err;		/* the last mapping error, logged once per change */
};

int
stat_prom_write(const struct mf_shm *shm, const struct mf_stats_reader *rd,
		const char *instance, uint32_t max_sessions, FILE *out)
{
	char inst[256];

	mf_stats_prom_label(inst, sizeof(inst), instance);
	fprintf(out, "# HELP mfwd_up 1 when the dataplane runs and its stats area was read\n"
		     "# TYPE mfwd_up gauge\nmfwd_up{mfwd_instance=\"%s\"} %d\n", inst, rd != NULL);
	if (rd == NULL)
		return ferror(out) ? -EIO : 0;
	fprintf(out, "# HELP mfwd_start_time_seconds when the dataplane started (Unix time)\n"
		     "# TYPE mfwd_start_time_seconds gauge\n"
		     "mfwd_start_time_seconds{mfwd_instance=\"%s\"} %.3f\n", inst,
		(double)shm->hdr->start_time_ns * 1e-9);
	fprintf(out, "# HELP mfwd_generation the dataplane's restart count on this host "
		     "(one more than the segment it replaced)\n# TYPE mfwd_generation gauge\n"
		     "mfwd_generation{mfwd_instance=\"%s\"} %llu\n", inst,
		(unsigned long long)shm->hdr->generation);
	return mf_stats_to_prometheus(rd, instance, max_sessions, out);
}

/* Map the dataplane when not mapped or when the one mapped has gone. */
static void
exporter_map(struct stat_exporter *e)
{
	uint64_t sz;
	const void *mem;
	int rc;

	if (e->mapped && mf_shm_creator_alive(&e->shm))
		return;
	if (e->mapped) {
		mf_shm_close(&e->shm);
		e->mapped = false;
	}
	rc = mf_shm_open(&e->shm, e->instance, false);
	if (rc == 0) {
		mem = mf_shm_region(&e->shm, MF_SHM_REGION_STATS, &sz);
		rc = mf_stats_reader_attach(&e->rd, mem, mem == NULL ? 0 : sz);
		if (rc != 0)
			mf_shm_close(&e->shm);
	}
	if (rc != 0 && rc != e->last_err)
		fprintf(stderr, "mfwd-stat: instance \"%s\": %s; mfwd_up is 0\n", e->instance,
			rc == -EPROTO ? "another version of the stats area" : mf_shm_strerror(rc));
	else if (rc == 0 && e->last_err != 0)
		fprintf(stderr, "mfwd-stat: instance \"%s\": dataplane generation %llu mapped\n",
			e->instance, (unsigned long long)e->shm.hdr->generation);
	e->last_err = rc;
	e->mapped = rc == 0;
}

static enum MHD_Result
reply(struct MHD_Connection *conn, unsigned int status, char *body, size_t len,
      const char *type)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(len, body,
								 MHD_RESPMEM_MUST_FREE);
	enum MHD_Result rc;

	if (r == NULL) {
		free(body);
		return MHD_NO;
	}
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
		MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
	rc = MHD_queue_response(conn, status, r);
	MHD_destroy_response(r);
	return rc;
}

static enum MHD_Result
reply_text(struct MHD_Connection *conn, unsigned int status, const char *text)
{
	char *body = strdup(text);

	return body ? reply(conn, status, body, strlen(body), "text/plain; charset=utf-8")
		    : MHD_NO;
}

static enum MHD_Result
handle(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
       const char *version, const char *upload, size_t *upload_len, void **req)
{
	struct stat_exporter *e = cls;
	char *body = NULL;
	size_t len = 0;
	FILE *f;
	int rc;

	(void)version;
	(void)upload;
	(void)upload_len;
	(void)req;
	if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
		return reply_text(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "only GET and HEAD\n");
	if (strcmp(url, "/metrics") != 0)
		return reply_text(conn, MHD_HTTP_NOT_FOUND, "not found: the figures are at /metrics\n");
	exporter_map(e);
	f = open_memstream(&body, &len);
	if (f == NULL)
		return reply_text(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory\n");
	rc = stat_prom_write(&e->shm, e->mapped ? &e->rd : NULL, e->instance, e->max_sessions, f);
	if (fclose(f) != 0 || rc != 0) {
		free(body);
		return reply_text(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "exposition failed\n");
	}
	return reply(conn, MHD_HTTP_OK, body, len, CONTENT_TYPE);
}

/* "ADDR:PORT" or "[ADDR6]:PORT", numeric, into @p ss. */
static int
parse_listen(const char *listen, struct sockaddr_storage *ss, socklen_t *sslen)
{
	struct addrinfo hints = { .ai_flags = AI_NUMERICHOST | AI_NUMERICSERV,
				  .ai_socktype = SOCK_STREAM };
	char host[128];
	const char *colon = strrchr(listen, ':');
	struct addrinfo *ai;
	size_t hl;

	if (colon == NULL || colon[1] == '\0')
		return -EINVAL;
	hl = (size_t)(colon - listen);
	if (hl >= 2 && listen[0] == '[' && listen[hl - 1] == ']') {
		listen++;
		hl -= 2;
	}
	if (hl == 0 || hl >= sizeof(host))
		return -EINVAL;
	memcpy(host, listen, hl);
	host[hl] = '\0';
	if (getaddrinfo(host, colon + 1, &hints, &ai) != 0)
		return -EINVAL;
	memcpy(ss, ai->ai_addr, ai->ai_addrlen);
	*sslen = ai->ai_addrlen;
	freeaddrinfo(ai);
	return 0;
}

int
stat_prom_serve(const char *instance, const char *listen, uint32_t max_sessions)
{
	struct stat_exporter e = { .instance = instance, .max_sessions = max_sessions,
				   .last_err = 1 };
	struct sockaddr_storage ss;
	struct MHD_Daemon *d;
	socklen_t sslen;
	sigset_t set;
	int sig;

	if (parse_listen(listen, &ss, &sslen) != 0) {
		fprintf(stderr, "mfwd-stat: --listen %s: not ADDR:PORT or [ADDR6]:PORT\n", listen);
		return 2;
	}
	/* Blocked before the server's thread starts, so only sigwait() below takes them. */
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG |
			     (ss.ss_family == AF_INET6 ? MHD_USE_IPv6 : 0), 0, NULL, NULL,
			     handle, &e, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
			     MHD_OPTION_CONNECTION_TIMEOUT, 10u, MHD_OPTION_END);
	if (d == NULL) {
		fprintf(stderr, "mfwd-stat: --listen %s: cannot serve (%s)\n", listen,
			strerror(errno));
		return 2;
	}
	fprintf(stderr, "mfwd-stat: serving http://%s/metrics for instance \"%s\"\n", listen,
		instance);
	sigwait(&set, &sig);
	MHD_stop_daemon(d);
	if (e.mapped)
		mf_shm_close(&e.shm);
	return 0;
}
