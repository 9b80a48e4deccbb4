/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * mfwd-dtls-load: WebRTC peers setting up as fast as a node lets them. Each of --sessions
 * slots, again and again: a new UDP socket (a new source port), an ICE check with
 * USE-CANDIDATE to the session's port (--port-base + 2 i), then a DTLS 1.2 handshake
 * offering SRTP_AEAD_AES_128_GCM under --cert, then close_notify. Prints one JSON line:
 * handshakes done, a second, the set-up time (check sent to handshake done) p50/p99, and
 * how many attempts failed (no answer, alert, or 5 s).
 *
 *   mfwd-dtls-load --dst A --port-base P --sessions N --bind A2 --user "ours:theirs"
 *                  --pwd PWD --cert F --key F [--seconds S]
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>

#include "mf/mf_args.h"
#include "mf/mf_stun.h"
#include "mf/mf_time.h"

#define MAX_SLOTS	256
#define MAX_DONE	(1u << 20)
#define STUN_RETRY_NS	200000000ull
#define GIVE_UP_NS	5000000000ull

enum { S_STUN, S_DTLS };

struct slot {
	int fd;
	int state;
	SSL *ssl;
	uint64_t start, sent;
	uint8_t txid[MF_STUN_TXID_LEN];
};

struct load {
	struct sockaddr_in dst, bind;
	uint16_t port_base;
	uint32_t nb;
	double seconds;
	const char *user, *pwd, *cert, *key;
	SSL_CTX *ctx;
	BIO_ADDR *peer[MAX_SLOTS];	/* each slot's session, for its DTLS BIO */
	struct slot slot[MAX_SLOTS];
	uint64_t done, failed, stun_resent;
	double *ms;			/* set-up times of the first MAX_DONE, ms */
};

static uint64_t
now_ns(void)
{
	return mf_time_ns(CLOCK_MONOTONIC);
}

static int
send_check(struct load *l, struct slot *s)
{
	uint8_t buf[512];
	struct mf_stun_msg m;
	int n;

	mf_stun_begin(&m, buf, sizeof(buf), MF_STUN_BINDING_REQUEST, s->txid);
	mf_stun_add(&m, MF_STUN_A_USERNAME, l->user, strlen(l->user));
	mf_stun_add_u32(&m, MF_STUN_A_PRIORITY, 0x6e0001ff);
	mf_stun_add_u64(&m, MF_STUN_A_ICE_CONTROLLING, 0x1122334455667788ull);
	mf_stun_add(&m, MF_STUN_A_USE_CANDIDATE, NULL, 0);
	mf_stun_add_integrity(&m, l->pwd, strlen(l->pwd));
	mf_stun_add_fingerprint(&m);
	n = mf_stun_end(&m);
	s->sent = now_ns();
	return n < 0 || send(s->fd, buf, (size_t)n, 0) != n ? -EIO : 0;
}

static void
slot_end(struct slot *s)
{
	if (s->ssl != NULL) {
		/* close_notify, so mfwd frees the association; a handshake cut short has
		 * none to send (and would leave an error in the thread's queue). */
		if (SSL_is_init_finished(s->ssl))
			SSL_shutdown(s->ssl);
		SSL_free(s->ssl);
		ERR_clear_error();
	}
	if (s->fd >= 0)
		close(s->fd);
	s->ssl = NULL;
	s->fd = -1;
}

/* A new peer for slot @p i: a socket of its own and the ICE check. */
static int
slot_start(struct load *l, uint32_t i)
{
	struct slot *s = &l->slot[i];
	struct sockaddr_in to = l->dst;

	s->ssl = NULL;
	s->fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
	to.sin_port = htons((uint16_t)(l->port_base + 2 * i));
	if (l->peer[i] == NULL && ((l->peer[i] = BIO_ADDR_new()) == NULL ||
				   BIO_ADDR_rawmake(l->peer[i], AF_INET, &to.sin_addr,
						    sizeof(to.sin_addr), to.sin_port) != 1))
		return -ENOMEM;
	if (s->fd < 0 || bind(s->fd, (struct sockaddr *)&l->bind, sizeof(l->bind)) != 0 ||
	    connect(s->fd, (struct sockaddr *)&to, sizeof(to)) != 0 ||
	    RAND_bytes(s->txid, sizeof(s->txid)) != 1) {
		perror("mfwd-dtls-load: socket");
		return -EIO;
	}
	s->state = S_STUN;
	s->start = now_ns();
	return send_check(l, s);
}

static void
restart(struct load *l, uint32_t i, bool ok)
{
	struct slot *s = &l->slot[i];

	if (ok) {
		if (l->done < MAX_DONE)
			l->ms[l->done] = (double)(now_ns() - s->start) / 1e6;
		l->done++;
	} else {
		l->failed++;
	}
	slot_end(s);
	if (slot_start(l, i) != 0)
		exit(1);
}

static void
on_dtls(struct load *l, uint32_t i)
{
	struct slot *s = &l->slot[i];
	int rc, e;

	ERR_clear_error();	/* SSL_get_error reads the queue: only this call's */
	rc = SSL_do_handshake(s->ssl);

	if (rc == 1) {
		restart(l, i, true);
		return;
	}
	e = SSL_get_error(s->ssl, rc);
	if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) {
		ERR_clear_error();
		restart(l, i, false);
	}
}

/* The check's answer: then the handshake, from the same socket. */
static void
on_stun(struct load *l, uint32_t i)
{
	struct slot *s = &l->slot[i];
	uint8_t buf[1500];
	struct mf_stun st;
	ssize_t n = recv(s->fd, buf, sizeof(buf), 0);
	BIO *bio;

	if (n <= 0 || mf_stun_parse(buf, (size_t)n, &st) != 0 || st.type !=
	    MF_STUN_BINDING_SUCCESS || memcmp(st.txid, s->txid, sizeof(s->txid)) != 0)
		return;
	s->ssl = SSL_new(l->ctx);
	bio = BIO_new_dgram(s->fd, BIO_NOCLOSE);
	if (s->ssl == NULL || bio == NULL) {
		BIO_free(bio);
		restart(l, i, false);
		return;
	}
	/* The socket is connected: the BIO sends with send(), to the peer it is told. */
	BIO_ctrl_set_connected(bio, l->peer[i]);
	SSL_set_bio(s->ssl, bio, bio);
	SSL_set_connect_state(s->ssl);
	s->state = S_DTLS;
	on_dtls(l, i);
}

/* Retransmissions (the check every 200 ms, DTLS by its own timer) and the 5 s limit. */
static void
timers(struct load *l, uint64_t now)
{
	struct timeval tv;
	uint32_t i;

	for (i = 0; i < l->nb; i++) {
		struct slot *s = &l->slot[i];

		if (now - s->start > GIVE_UP_NS)
			restart(l, i, false);
		else if (s->state == S_STUN && now - s->sent > STUN_RETRY_NS) {
			l->stun_resent++;
			send_check(l, s);
		} else if (s->state == S_DTLS && DTLSv1_get_timeout(s->ssl, &tv) == 1 &&
			   tv.tv_sec == 0 && tv.tv_usec == 0 && DTLSv1_handle_timeout(s->ssl) < 0)
			restart(l, i, false);
	}
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static void
report(struct load *l, double secs)
{
	uint64_t n = l->done < MAX_DONE ? l->done : MAX_DONE;
	double p50 = 0, p99 = 0;

	if (n > 0) {
		qsort(l->ms, n, sizeof(double), cmp_double);
		p50 = l->ms[(size_t)((double)(n - 1) * 0.50)];
		p99 = l->ms[(size_t)((double)(n - 1) * 0.99)];
	}
	printf("{\"sessions\":%u,\"seconds\":%.3f,\"handshakes\":%" PRIu64 ",\"per_second\":%.1f,"
	       "\"failed\":%" PRIu64 ",\"stun_resent\":%" PRIu64 ",\"p50_ms\":%.2f,"
	       "\"p99_ms\":%.2f}\n", l->nb, secs, l->done, (double)l->done / secs, l->failed,
	       l->stun_resent, p50, p99);
}

static int
run(struct load *l)
{
	struct pollfd pfd[MAX_SLOTS];
	uint64_t t0 = now_ns(), end = t0 + (uint64_t)(l->seconds * 1e9);
	uint32_t i;

	for (i = 0; i < l->nb; i++)
		if (slot_start(l, i) != 0)
			return 1;
	while (now_ns() < end) {
		for (i = 0; i < l->nb; i++)
			pfd[i] = (struct pollfd){ .fd = l->slot[i].fd, .events = POLLIN };
		if (poll(pfd, l->nb, 5) < 0 && errno != EINTR)
			return 1;
		for (i = 0; i < l->nb; i++) {
			if (!(pfd[i].revents & POLLIN))
				continue;
			if (l->slot[i].state == S_STUN)
				on_stun(l, i);
			else
				on_dtls(l, i);
		}
		timers(l, now_ns());
	}
	report(l, (double)(now_ns() - t0) / 1e9);
	for (i = 0; i < l->nb; i++)
		slot_end(&l->slot[i]);
	return 0;
}

static int
setup_ctx(struct load *l)
{
	l->ctx = SSL_CTX_new(DTLS_client_method());
	if (l->ctx == NULL || SSL_CTX_use_certificate_file(l->ctx, l->cert, SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_use_PrivateKey_file(l->ctx, l->key, SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_set_min_proto_version(l->ctx, DTLS1_2_VERSION) != 1 ||
	    SSL_CTX_set_tlsext_use_srtp(l->ctx, "SRTP_AEAD_AES_128_GCM") != 0) {
		ERR_print_errors_fp(stderr);
		return -EINVAL;
	}
	/* mfwd's certificate is self-signed: a browser checks it against the SDP's
	 * fingerprint, which this load does not need. */
	SSL_CTX_set_verify(l->ctx, SSL_VERIFY_NONE, NULL);
	return 0;
}

static int
addr(const char *s, struct sockaddr_in *a)
{
	memset(a, 0, sizeof(*a));
	a->sin_family = AF_INET;
	return inet_pton(AF_INET, s, &a->sin_addr) == 1 ? 0 : -EINVAL;
}

static int
parse(int argc, char **argv, struct load *l)
{
	static const struct option opts[] = {
		{ "dst", 1, NULL, 'd' }, { "port-base", 1, NULL, 'p' },
		{ "sessions", 1, NULL, 'n' }, { "bind", 1, NULL, 'b' }, { "user", 1, NULL, 'u' },
		{ "pwd", 1, NULL, 'w' }, { "cert", 1, NULL, 'c' }, { "key", 1, NULL, 'k' },
		{ "seconds", 1, NULL, 's' }, { NULL, 0, NULL, 0 } };
	uint32_t v;
	int c, rc = 0;

	l->seconds = 5;
	while (rc == 0 && (c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'd': rc = addr(optarg, &l->dst); break;
		case 'b': rc = addr(optarg, &l->bind); break;
		case 'p': rc = mf_parse_u32(optarg, 1, 65000, &v); l->port_base = (uint16_t)v; break;
		case 'n': rc = mf_parse_u32(optarg, 1, MAX_SLOTS, &l->nb); break;
		case 'u': l->user = optarg; break;
		case 'w': l->pwd = optarg; break;
		case 'c': l->cert = optarg; break;
		case 'k': l->key = optarg; break;
		case 's': l->seconds = strtod(optarg, NULL); break;
		default: rc = -EINVAL;
		}
	}
	if (rc != 0 || l->nb == 0 || l->port_base == 0 || l->user == NULL || l->pwd == NULL ||
	    l->cert == NULL || l->key == NULL || !(l->seconds > 0 && l->seconds < 3600) ||
	    l->dst.sin_family == 0 || l->bind.sin_family == 0 ||
	    l->port_base + 2 * l->nb > 65535) {
		fprintf(stderr, "usage: mfwd-dtls-load --dst A --port-base P --sessions N "
				"--bind A2 --user U --pwd PWD --cert F --key F [--seconds S]\n");
		return -EINVAL;
	}
	return 0;
}

int
main(int argc, char **argv)
{
	static struct load l;

	if (parse(argc, argv, &l) != 0 || setup_ctx(&l) != 0)
		return 2;
	l.ms = calloc(MAX_DONE, sizeof(double));
	if (l.ms == NULL)
		return 1;
	return run(&l);
}
