/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * DTLS-SRTP (RFC 5763, 5764), on the control lcore: the handshakes of the endpoints whose
 * spec has "dtls", over OpenSSL with memory BIOs (there is no socket: workers punt the
 * datagrams, dp_tx_from_ctrl() sends ours).
 *
 * mfwd is always the DTLS server (SDP a=setup:passive, as an ICE-lite answerer is): it
 * answers the ClientHello of the peer that nominated the endpoint's ICE pair, and only that
 * peer's datagrams are read. The peer must show a certificate (any issuer; self-signed is
 * the WebRTC way) whose SHA-256 is the spec's fingerprint: that, checked as the certificate
 * arrives (a wrong one ends the handshake with an alert) and again before keys are
 * installed, is what authenticates it. The keys exported under "EXTRACTOR-dtls_srtp"
 * become the endpoint's SRTP through an entry copy (dp_sess_dtls_keys()): the workers read
 * keys as they read SDES ones and never see DTLS. A new ClientHello starts another
 * handshake (a peer that restarted), whose keys replace the old (see dp_dtls_input() for
 * when one under way holds it off).
 *
 * Our certificate is the one configured (--dtls-cert, --dtls-key: its fingerprint outlives
 * restarts) or one made at start (ECDSA P-256, self-signed, a year); its fingerprint is in
 * node.info for the SDP. OpenSSL writes each flight into the write BIO at an MTU of
 * 1,200 bytes; flush() cuts that at record boundaries into datagrams no larger.
 */

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <rte_ip.h>
#include <rte_udp.h>

#include "dp.h"
#include "dp_dtls.h"
#include "dp_event.h"
#include "dp_hdr.h"
#include "dp_tx.h"

#define DTLS_MTU		1200	/* UDP payload: fits any path WebRTC runs on */
#define DTLS_REC_HDR		13	/* type, version, epoch, sequence number, length */
#define DTLS_CERT_DAYS		365
#define DTLS_LABEL		"EXTRACTOR-dtls_srtp"
#define DTLS_HELLO_HOLD_S	5	/* a handshake's peer answers our first flight in this */

/* One endpoint's handshake; where its records go is the peer's last datagram turned
 * around (no VLAN tag is carried). */
struct dp_dtls {
	SSL *ssl;
	bool done;			/* keys installed */
	bool failed;			/* refused: only a new ClientHello starts again */
	bool fp_bad;			/* the peer's certificate is not the fingerprint's */
	uint64_t begun_tsc;		/* when its ClientHello came */
	uint8_t hello_random[32];	/* of the ClientHello that began it */
	uint8_t fp[MF_DTLS_FP_LEN];	/* the spec's fingerprint of the peer's certificate */
	uint16_t port;
	uint8_t family;
	uint16_t peer_port, our_port;
	struct rte_ether_addr peer_mac;
	uint8_t peer_ip[16], our_ip[16];
};

/* A session's endpoint with DTLS: out -1 is the ingress. */
struct dtls_ep {
	struct dp_sess *s;
	int out;
	struct dp_dtls **slot;
	const struct mf_dtls_cfg *cfg;
};

static void
count(unsigned int ctr)
{
	dp.node_ctr[ctr]++;
}

static void
conn_free(struct dp_dtls *d)
{
	if (d == NULL)
		return;
	SSL_free(d->ssl);		/* and its BIOs */
	free(d);
}

/* The peer's own certificate must be the spec's fingerprint, whoever issued it (self-signed
 * is the WebRTC way). Checked as it arrives: a wrong one ends the handshake with an alert
 * the peer sees (bad_certificate), not one it takes for done. */
static int
verify_fingerprint(int ok, X509_STORE_CTX *x)
{
	SSL *ssl = X509_STORE_CTX_get_ex_data(x, SSL_get_ex_data_X509_STORE_CTX_idx());
	struct dp_dtls *d = ssl != NULL ? SSL_get_app_data(ssl) : NULL;
	X509 *cert = X509_STORE_CTX_get_current_cert(x);
	uint8_t md[EVP_MAX_MD_SIZE];
	unsigned int n = 0;

	(void)ok;
	if (X509_STORE_CTX_get_error_depth(x) > 0)
		return 1;		/* its issuers: only its own counts */
	if (d != NULL && cert != NULL && X509_digest(cert, EVP_sha256(), md, &n) == 1 &&
	    n == MF_DTLS_FP_LEN && CRYPTO_memcmp(md, d->fp, n) == 0)
		return 1;
	if (d != NULL)
		d->fp_bad = true;
	return 0;
}

/* ---- where a datagram belongs ---- */

static bool
find_endpoint(const struct mf_pkt_l4 *l4, uint16_t port, struct dtls_ep *ep)
{
	struct dp_sess *s = dp_sess_at(l4, port);
	unsigned int i;

	if (s == NULL || !s->dtls)
		return false;
	ep->s = s;
	if (s->ingress.dtls.on && s->ingress.port == port &&
	    s->ingress.udp_port == l4->udp.dport &&
	    dp_l4_dst_is(s->ingress.local.family, s->ingress.local.a, l4) &&
	    dp_l4_src_is(&s->ingress.src, s->ingress.src_port, l4)) {
		ep->out = -1;
		ep->slot = &s->st->dtls;
		ep->cfg = &s->ingress.dtls;
		return true;
	}
	for (i = 0; i < s->nb_out; i++) {
		struct dp_out *o = &s->out[i];

		if (o->cfg.dtls.on && o->cfg.port == port && o->src_port == l4->udp.dport &&
		    dp_l4_dst_is(o->family, o->src_ip, l4) &&
		    dp_l4_src_is(&o->cfg.dst, o->cfg.dst_port, l4)) {
			ep->out = (int)i;
			ep->slot = &o->ost->dtls;
			ep->cfg = &o->cfg.dtls;
			return true;
		}
	}
	return false;
}

/* Record type 22 (handshake), epoch 0, message type 1, its first fragment: the handshake
 * header (12 bytes) and client_version (2), then the client's random. */
#define HELLO_RANDOM	(DTLS_REC_HDR + 12 + 2)

static bool
is_client_hello(const uint8_t *b, uint16_t n)
{
	const uint8_t *h = b + DTLS_REC_HDR;	/* type, length, seq, frag offset, frag length */

	return n >= HELLO_RANDOM + 32 && b[0] == 22 && b[3] == 0 && b[4] == 0 && h[0] == 1 &&
	       h[6] == 0 && h[7] == 0 && h[8] == 0 &&
	       (h[9] << 16 | h[10] << 8 | h[11]) >= 2 + 32;
}

/* A ClientHello with another random than the one that began @p d: the peer starts again
 * (it restarted, or re-keys). The same random is a retransmission or a duplicate, which
 * must not tear down the keys it led to. */
static bool
is_new_hello(const struct dp_dtls *d, const uint8_t *b, uint16_t n)
{
	return is_client_hello(b, n) && memcmp(d->hello_random, b + HELLO_RANDOM, 32) != 0;
}

static struct dp_dtls *
conn_new(void)
{
	struct dp_dtls *d = calloc(1, sizeof(*d));
	BIO *rb = BIO_new(BIO_s_mem()), *wb = BIO_new(BIO_s_mem());

	if (d == NULL || rb == NULL || wb == NULL || (d->ssl = SSL_new(dp.dtls.ctx)) == NULL) {
		BIO_free(rb);
		BIO_free(wb);
		free(d);
		return NULL;
	}
	BIO_set_mem_eof_return(rb, -1);	/* empty means "more to come", not EOF */
	SSL_set_bio(d->ssl, rb, wb);
	/* No renegotiation (a new ClientHello is a new handshake, see dp_dtls_input()), no
	 * tickets: nothing resumes. */
	SSL_set_options(d->ssl, SSL_OP_NO_QUERY_MTU | SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_TICKET);
	SSL_set_mtu(d->ssl, DTLS_MTU);
	SSL_set_accept_state(d->ssl);
	return d;
}

static void
remember_peer(struct dp_dtls *d, const struct dp_port *p, const struct rte_mbuf *m,
	      const struct mf_pkt_l4 *l4)
{
	const struct rte_ether_hdr *eth = rte_pktmbuf_mtod(m, const struct rte_ether_hdr *);
	size_t alen = l4->ip.version == 4 ? 4 : 16;

	d->port = p->index;
	d->family = l4->ip.version;
	rte_ether_addr_copy(&eth->src_addr, &d->peer_mac);
	memcpy(d->peer_ip, l4->ip.src, alen);
	memcpy(d->our_ip, l4->ip.dst, alen);
	d->peer_port = l4->udp.sport;
	d->our_port = l4->udp.dport;
}

/* ---- sending ---- */

static void
send_datagram(const struct dp_dtls *d, const uint8_t *b, uint16_t n)
{
	const struct dp_port *p = dp_port_by_index(d->port);
	uint16_t l3 = d->family == 4 ? sizeof(struct rte_ipv4_hdr) : sizeof(struct rte_ipv6_hdr);
	struct rte_mbuf *m = rte_pktmbuf_alloc(dp.pool);
	struct rte_ether_hdr *eth;
	struct rte_udp_hdr *udp;
	uint8_t *h;

	h = m != NULL ? (uint8_t *)rte_pktmbuf_append(m, (uint16_t)(RTE_ETHER_HDR_LEN + l3 +
							  MF_UDP_HDR_LEN + n)) : NULL;
	if (h == NULL || p == NULL) {
		rte_pktmbuf_free(m);
		count(DP_CTR_drop_no_mbuf);
		return;
	}
	eth = (struct rte_ether_hdr *)h;
	rte_ether_addr_copy(&d->peer_mac, &eth->dst_addr);
	rte_ether_addr_copy(&p->mac, &eth->src_addr);
	eth->ether_type = rte_cpu_to_be_16(d->family == 4 ? RTE_ETHER_TYPE_IPV4 :
							     RTE_ETHER_TYPE_IPV6);
	udp = dp_hdr_ip_udp(h + RTE_ETHER_HDR_LEN, d->family, d->our_ip, d->peer_ip,
			    d->our_port, d->peer_port, (uint16_t)(MF_UDP_HDR_LEN + n));
	memcpy(udp + 1, b, n);
	if (d->family == 4) {
		struct rte_ipv4_hdr *ip = (struct rte_ipv4_hdr *)(h + RTE_ETHER_HDR_LEN);

		ip->hdr_checksum = rte_ipv4_cksum(ip);
		udp->dgram_cksum = rte_ipv4_udptcp_cksum(ip, udp);
	} else {
		udp->dgram_cksum = rte_ipv6_udptcp_cksum(
			(struct rte_ipv6_hdr *)(h + RTE_ETHER_HDR_LEN), udp);
	}
	count(DP_CTR_dtls_tx);
	dp_tx_from_ctrl(d->port, m);
}

/* What OpenSSL wrote, in datagrams of whole records up to DTLS_MTU. */
static void
flush(struct dp_dtls *d)
{
	BIO *wb = SSL_get_wbio(d->ssl);
	const uint8_t *b;
	char *data;
	long n = BIO_get_mem_data(wb, &data);
	long off = 0, start;

	b = (const uint8_t *)data;
	while (off < n) {
		start = off;
		while (off < n) {
			long rec = off + DTLS_REC_HDR <= n ?
				   DTLS_REC_HDR + (b[off + 11] << 8 | b[off + 12]) : n - off;

			if (off > start && off - start + rec > DTLS_MTU)
				break;
			off += rec < n - off ? rec : n - off;
		}
		send_datagram(d, b + start, (uint16_t)(off - start));
	}
	(void)BIO_reset(wb);
}

/* An endpoint going away: its association is closed (close_notify), so the peer knows at
 * once, not when its consent checks go unanswered. */
static void
conn_close(struct dp_dtls *d)
{
	if (d != NULL && d->done) {
		ERR_clear_error();
		(void)SSL_shutdown(d->ssl);
		ERR_clear_error();
		flush(d);
	}
	conn_free(d);
}

/* ---- the handshake's end ---- */

static void
event(enum mf_event_kind kind, const char *id, const char *out)
{
	dp_event_output(kind, id, out, NULL, 0);
}

static void
fail(struct dp_dtls *d, const struct dtls_ep *ep, unsigned int ctr)
{
	d->failed = true;
	count(ctr);
	event(MF_EV_DTLS_FAILED, ep->s->id, ep->out >= 0 ? ep->s->out[ep->out].cfg.id : NULL);
}

static bool
peer_matches(SSL *ssl, const struct mf_dtls_cfg *cfg)
{
	X509 *peer = SSL_get1_peer_certificate(ssl);
	uint8_t md[EVP_MAX_MD_SIZE];
	unsigned int n = 0;
	bool ok;

	ok = peer != NULL && X509_digest(peer, EVP_sha256(), md, &n) == 1 &&
	     n == MF_DTLS_FP_LEN && CRYPTO_memcmp(md, cfg->fingerprint, n) == 0;
	X509_free(peer);
	return ok;
}

static unsigned int
suite_of(SSL *ssl)
{
	const SRTP_PROTECTION_PROFILE *pr = SSL_get_selected_srtp_profile(ssl);

	switch (pr != NULL ? pr->id : 0) {
	case SRTP_AES128_CM_SHA1_80: return MF_SRTP_AES_CM_128_HMAC_SHA1_80;
	case SRTP_AES128_CM_SHA1_32: return MF_SRTP_AES_CM_128_HMAC_SHA1_32;
	case SRTP_AEAD_AES_128_GCM: return MF_SRTP_AEAD_AES_128_GCM;
	case SRTP_AEAD_AES_256_GCM: return MF_SRTP_AEAD_AES_256_GCM;
	default: return MF_SRTP_NONE;
	}
}

/* RFC 5764 §4.2: client key, server key, client salt, server salt. We are the server: we
 * send under the server's, and read the client's. @return 0, -EIO. */
static int
export_keys(SSL *ssl, struct mf_srtp_params *local, struct mf_srtp_params *remote)
{
	uint8_t km[2 * (MF_SRTP_MAX_KEY + MF_SRTP_MAX_SALT)];
	unsigned int suite = suite_of(ssl);
	uint8_t kl, sl;
	int rc = -EIO;

	memset(local, 0, sizeof(*local));
	memset(remote, 0, sizeof(*remote));
	if (suite == MF_SRTP_NONE || !mf_srtp_suite_lens(suite, &kl, &sl) ||
	    SSL_export_keying_material(ssl, km, 2u * (kl + sl), DTLS_LABEL,
				       sizeof(DTLS_LABEL) - 1, NULL, 0, 0) != 1)
		goto out;
	local->suite = remote->suite = (uint8_t)suite;
	local->key_len = remote->key_len = kl;
	local->salt_len = remote->salt_len = sl;
	memcpy(remote->key, km, kl);
	memcpy(local->key, km + kl, kl);
	memcpy(remote->salt, km + 2 * kl, sl);
	memcpy(local->salt, km + 2 * kl + sl, sl);
	rc = 0;
out:
	explicit_bzero(km, sizeof(km));
	return rc;
}

static void
finish(struct dp_dtls *d, const struct dtls_ep *ep)
{
	char id[MF_SESS_ID_MAX], out[MF_OUT_ID_MAX] = "";
	struct mf_srtp_params local, remote;

	if (!peer_matches(d->ssl, ep->cfg)) {
		fail(d, ep, DP_CTR_drop_dtls_fingerprint);
		return;
	}
	if (export_keys(d->ssl, &local, &remote) != 0) {
		fail(d, ep, DP_CTR_drop_dtls_handshake);
		return;
	}
	snprintf(id, sizeof(id), "%s", ep->s->id);
	if (ep->out >= 0)
		snprintf(out, sizeof(out), "%s", ep->s->out[ep->out].cfg.id);
	/* Wipes both; the entry is replaced (ep->s is gone). */
	if (dp_sess_dtls_keys(ep->s, ep->out, &local, &remote) != 0) {
		d->failed = true;
		count(DP_CTR_drop_dtls_handshake);
		event(MF_EV_DTLS_FAILED, id, ep->out >= 0 ? out : NULL);
		return;
	}
	d->done = true;
	count(DP_CTR_dtls_connected);
	event(MF_EV_DTLS_CONNECTED, id, ep->out >= 0 ? out : NULL);
}

static void
step(struct dp_dtls *d, const struct dtls_ep *ep)
{
	uint8_t buf[256];
	int rc;

	if (d->done) {
		/* Alerts (close_notify): keys stay until consent or the session ends. No
		 * application data is expected; what comes is read and dropped. */
		ERR_clear_error();
		while (SSL_read(d->ssl, buf, sizeof(buf)) > 0)
			;
		ERR_clear_error();
		return;
	}
	/* SSL_get_error() reads the thread's error queue: nothing of another handshake's. */
	ERR_clear_error();
	rc = SSL_do_handshake(d->ssl);
	if (rc == 1) {
		finish(d, ep);
		return;
	}
	rc = SSL_get_error(d->ssl, rc);
	ERR_clear_error();
	if (rc != SSL_ERROR_WANT_READ && rc != SSL_ERROR_WANT_WRITE)
		fail(d, ep, d->fp_bad ? DP_CTR_drop_dtls_fingerprint : DP_CTR_drop_dtls_handshake);
}

void
dp_dtls_input(struct dp_port *p, struct rte_mbuf *m, const struct mf_pkt_l4 *l4, uint64_t now)
{
	const uint8_t *pl = rte_pktmbuf_mtod_offset(m, uint8_t *, l4->payload_off);
	unsigned int drop = DP_CTR_drop_dtls_peer;
	struct dtls_ep ep;
	struct dp_dtls *d;

	if (dp.dtls.ctx == NULL || !find_endpoint(l4, p->index, &ep))
		goto drop;
	d = *ep.slot;
	/* A new ClientHello: the peer starts again (the keys of the old stay until the new is
	 * done), unless a handshake is under way that began less than DTLS_HELLO_HOLD_S ago
	 * (its peer's next flight may be on the way). That hello is dropped (OpenSSL would
	 * ignore it too): a datagram spoofed from the pair's address must not end a handshake
	 * whose peer has our ServerHello and would never send another hello. One older gives
	 * way, so a spoofed hello holds a restarted peer off for 5 s, not for OpenSSL's 12
	 * tries (only a spoofer that sends one every 5 s keeps it off: DTLS 1.2 over a path
	 * anyone can send on has no better answer here). */
	if (d != NULL && is_new_hello(d, pl, l4->payload_len)) {
		if (!d->done && !d->failed && now - d->begun_tsc < DTLS_HELLO_HOLD_S * dp.tsc_hz)
			goto drop;
		conn_free(d);
		*ep.slot = d = NULL;
	}
	if (d == NULL) {
		if (!is_client_hello(pl, l4->payload_len))
			goto drop;
		drop = DP_CTR_drop_dtls_handshake;
		d = conn_new();
		if (d == NULL)
			goto drop;
		memcpy(d->hello_random, pl + HELLO_RANDOM, sizeof(d->hello_random));
		d->begun_tsc = now;
		memcpy(d->fp, ep.cfg->fingerprint, sizeof(d->fp));
		SSL_set_app_data(d->ssl, d);
		*ep.slot = d;
	}
	if (d->failed)
		goto drop;
	remember_peer(d, p, m, l4);
	drop = DP_CTR_drop_dtls_handshake;
	if (BIO_write(SSL_get_rbio(d->ssl), pl, l4->payload_len) != (int)l4->payload_len)
		goto drop;
	rte_pktmbuf_free(m);
	count(DP_CTR_dtls_handled);
	step(d, &ep);
	flush(d);
	return;
drop:
	count(drop);
	rte_pktmbuf_free(m);
}

/* A flight whose answer is late goes again (OpenSSL keeps the clock and the back-off, and
 * gives up after 12 tries). */
static void
retransmit(struct dp_sess *s, int out)
{
	struct dp_dtls *d = out < 0 ? s->st->dtls : s->out[out].ost->dtls;
	struct dtls_ep ep = { .s = s, .out = out };
	int rc;

	if (d == NULL || d->done || d->failed)
		return;
	/* Its ICE pair ended (consent lost): no consent to send to it (RFC 7675). */
	if ((out < 0 ? s->ingress.src.family : s->out[out].family) == 0)
		return;
	ERR_clear_error();
	rc = DTLSv1_handle_timeout(d->ssl);
	ERR_clear_error();
	if (rc > 0)
		flush(d);
	else if (rc < 0)
		fail(d, &ep, DP_CTR_drop_dtls_handshake);
}

void
dp_dtls_timer(uint64_t now)
{
	uint32_t k;
	int i;

	(void)now;
	/* DTLS endpoints are ICE ones, which are in the timed list. */
	for (k = 0; k < dp.sess.nb_timed; k++) {
		struct dp_sess *s = dp.sess.timed[k];

		if (!s->dtls)
			continue;
		for (i = -1; i < (int)s->nb_out; i++)
			retransmit(s, i);
	}
}

/* ---- our certificate, the context ---- */

static X509 *
make_cert(EVP_PKEY *key)
{
	X509 *x = X509_new();
	X509_NAME *name;
	uint64_t serial;

	if (x == NULL || RAND_bytes((unsigned char *)&serial, sizeof(serial)) != 1 ||
	    !ASN1_INTEGER_set_uint64(X509_get_serialNumber(x), serial >> 1) ||
	    !X509_set_version(x, 2) ||
	    X509_gmtime_adj(X509_getm_notBefore(x), -86400) == NULL ||
	    X509_gmtime_adj(X509_getm_notAfter(x), 86400L * DTLS_CERT_DAYS) == NULL ||
	    !X509_set_pubkey(x, key) || (name = X509_get_subject_name(x)) == NULL ||
	    !X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)"mfwd",
					-1, -1, 0) ||
	    !X509_set_issuer_name(x, name) || X509_sign(x, key, EVP_sha256()) == 0) {
		X509_free(x);
		return NULL;
	}
	return x;
}

static int
ctx_setup(SSL_CTX *ctx, X509 *x, EVP_PKEY *key)
{
	uint8_t md[EVP_MAX_MD_SIZE];
	unsigned int n = 0;

	if (SSL_CTX_use_certificate(ctx, x) != 1 || SSL_CTX_use_PrivateKey(ctx, key) != 1 ||
	    SSL_CTX_check_private_key(ctx) != 1 ||
	    SSL_CTX_set_min_proto_version(ctx, DTLS1_2_VERSION) != 1 ||
	    /* 0 is success here. Chrome and Firefox offer both; GCM first. */
	    SSL_CTX_set_tlsext_use_srtp(ctx, "SRTP_AEAD_AES_128_GCM:SRTP_AES128_CM_SHA1_80:"
					"SRTP_AEAD_AES_256_GCM:SRTP_AES128_CM_SHA1_32") != 0 ||
	    X509_digest(x, EVP_sha256(), md, &n) != 1 || n != MF_DTLS_FP_LEN)
		return -EIO;
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT,
			   verify_fingerprint);
	SSL_CTX_set_read_ahead(ctx, 1);
	mf_dtls_fingerprint_str(md, dp.dtls.fingerprint);
	return 0;
}

/* The configured certificate and key (PEM files). */
static int
load_cert(X509 **x, EVP_PKEY **key)
{
	FILE *f = fopen(dp.cfg.dtls_cert, "r");

	*x = f != NULL ? PEM_read_X509(f, NULL, NULL, NULL) : NULL;
	if (f != NULL)
		fclose(f);
	f = fopen(dp.cfg.dtls_key, "r");
	*key = f != NULL ? PEM_read_PrivateKey(f, NULL, NULL, NULL) : NULL;
	if (f != NULL)
		fclose(f);
	if (*x != NULL && *key != NULL)
		return 0;
	DP_LOG(ERR, "DTLS: cannot read the certificate %s and key %s (PEM)\n", dp.cfg.dtls_cert,
	       dp.cfg.dtls_key);
	return -EINVAL;
}

int
dp_dtls_init(void)
{
	EVP_PKEY *key = NULL;
	X509 *x = NULL;
	int rc = -EIO;

	if (dp.cfg.dtls_cert[0] != '\0') {
		if (load_cert(&x, &key) != 0) {
			X509_free(x);
			EVP_PKEY_free(key);
			return -EINVAL;
		}
	} else {
		key = EVP_EC_gen("P-256");
		x = key != NULL ? make_cert(key) : NULL;
	}

	dp.dtls.ctx = x != NULL ? SSL_CTX_new(DTLS_server_method()) : NULL;
	if (dp.dtls.ctx != NULL)
		rc = ctx_setup(dp.dtls.ctx, x, key);
	X509_free(x);
	EVP_PKEY_free(key);
	if (rc != 0) {
		DP_LOG(ERR, "DTLS: no certificate or context: %s\n",
		       ERR_reason_error_string(ERR_get_error()));
		dp_dtls_fini();
		return rc;
	}
	dp.sess.dtls_free = conn_close;
	return 0;
}

void
dp_dtls_fini(void)
{
	SSL_CTX_free(dp.dtls.ctx);
	dp.dtls.ctx = NULL;
}

const char *
dp_dtls_fingerprint(void)
{
	return dp.dtls.fingerprint;
}
