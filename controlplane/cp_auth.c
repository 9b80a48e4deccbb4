/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Tenants and signed commands (Licode's Nuve signatures, for MQTT). With auth.keys_file set,
 * a request carries a tenant, a timestamp, a nonce and an HMAC-SHA256 under the tenant's key
 * over all of them, the topic it was published to and its exact bytes:
 *
 *   "mfwd-sig-v1\n" topic "\n" tenant "\n" ts "\n" nonce "\n" body
 *
 * either as MQTT 5 user properties (mfwd-tenant, mfwd-ts, mfwd-nonce, mfwd-sig) beside the
 * request, or as an envelope any MQTT version carries: {"auth": {"tenant", "ts", "nonce",
 * "sig"}, "body": "<the request's JSON text>"}. A timestamp more than window_s from our
 * clock, or a nonce of that tenant already seen within the window, is refused: a nonce is
 * kept for twice the window after it arrived (every timestamp it could be accepted with has
 * passed by then), in arrival order, so expiry is a walk from the oldest.
 *
 * Sessions belong to the tenant that created them (the journal keeps the owner); a tenant
 * sees and changes only its own, within its quotas; an admin tenant, or the operator's
 * unsigned request where those are allowed, sees every one.
 */

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "cp.h"

#define SIG_DOMAIN	"mfwd-sig-v1\n"
#define MAX_TENANTS	65535

static const char *const reason_code[CP_AUTH_NB] = {
#define X(name, code) code,
	CP_AUTH_REASONS(X)
#undef X
};

/* Nonces seen: a FIFO by arrival (a ring) with a hash over it. */
struct cp_nonce {
	uint8_t key[16];		/* SHA-256 of the salt, tenant and nonce, cut */
	int64_t until;			/* forgotten after this second */
	uint32_t next;			/* hash chain: slot + 1, 0 ends */
	uint16_t tenant;
};

struct cp_nonces {
	uint32_t cap, head, count;	/* cap a power of 2 */
	uint32_t *buckets;		/* slot + 1, 0 empty */
	struct cp_nonce *ring;
	uint8_t salt[16];		/* per process: nobody can aim nonces at one chain */
	int64_t started;		/* timestamps before it may be replays we forgot */
};

/* ---- tenants ---- */

static bool
name_ok(const char *s)
{
	size_t i, n = strlen(s);

	for (i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '-' && s[i] != '_' && s[i] != '.')
			return false;
	return n > 0 && n < CP_TENANT_MAX;
}

const char *
cp_auth_who(const struct cp *cp, uint16_t t, const struct cp_sig *sig, char *buf, size_t cap)
{
	if (t != CP_OPERATOR && t < cp->auth.nb)
		return cp->auth.tenants[t].name;
	if (sig == NULL || !sig->present)
		return "operator";
	/* Refused before it was verified: the name it claimed, if it is one. */
	snprintf(buf, cap, "a request claiming %s",
		 name_ok(sig->tenant) ? sig->tenant : "a malformed tenant");
	return buf;
}

static int
find(const struct cp_auth *a, const char *name)
{
	uint32_t i;

	for (i = 1; i < a->nb; i++)
		if (strcmp(a->tenants[i].name, name) == 0)
			return (int)i;
	return -1;
}

static struct cp_tenant *
add(struct cp_auth *a, const char *name)
{
	struct cp_tenant *t;

	if (a->nb == a->cap) {
		uint32_t cap = a->cap ? a->cap * 2 : 8;

		/* Not realloc: the keys must not stay behind in freed memory. */
		if (cap > MAX_TENANTS + 1 || (t = calloc(cap, sizeof(*t))) == NULL)
			return NULL;
		if (a->tenants != NULL) {
			memcpy(t, a->tenants, sizeof(*t) * a->nb);
			OPENSSL_cleanse(a->tenants, sizeof(*t) * a->cap);
			free(a->tenants);
		}
		a->tenants = t;
		a->cap = cap;
	}
	t = &a->tenants[a->nb++];
	memset(t, 0, sizeof(*t));
	snprintf(t->name, sizeof(t->name), "%s", name);
	return t;
}

int
cp_auth_find(const struct cp *cp, const char *name)
{
	int i = find(&cp->auth, name);

	return i > 0 && cp->auth.tenants[i].key_len > 0 ? i : -1;
}

uint16_t
cp_auth_tenant(struct cp *cp, const char *name)
{
	struct cp_tenant *t;
	int i;

	if (name == NULL || name[0] == '\0')
		return CP_OPERATOR;
	i = find(&cp->auth, name);
	if (i > 0)
		return (uint16_t)i;
	if (!name_ok(name) || (t = add(&cp->auth, name)) == NULL) {
		MF_LOG(ERR, main, "tenant \"%.63s\": cannot be kept; its sessions go to the operator",
		       name);
		return CP_OPERATOR;
	}
	MF_LOG(NOTICE, main, "tenant %s owns sessions but has no key: only an admin reaches them",
	       name);
	return (uint16_t)(t - cp->auth.tenants);
}

/* One entry of the keys file. */
static int
load_tenant(struct cp_auth *a, json_t *o, size_t i, const char *file)
{
	const char *name = NULL, *key = NULL;
	json_int_t ms = 0, mo = 0, mk = 0;
	int admin = 0, n;
	struct cp_tenant *t;
	json_error_t e;

	if (json_unpack_ex(o, &e, JSON_STRICT, "{s:s, s:s, s?b, s?I, s?I, s?I}", "name", &name,
			   "key", &key, "admin", &admin, "max_sessions", &ms, "max_outputs", &mo,
			   "max_kbps", &mk) != 0) {
		fprintf(stderr, "mfwd-controlplane: %s: tenants[%zu]: %s\n", file, i, e.text);
		return -EINVAL;
	}
	if (!name_ok(name) || find(a, name) > 0) {
		fprintf(stderr, "mfwd-controlplane: %s: tenants[%zu]: name: 1 to %d letters, digits, "
			"'-', '_' or '.', each name once\n", file, i, CP_TENANT_MAX - 1);
		return -EINVAL;
	}
	if (ms < 0 || ms > UINT32_MAX || mo < 0 || mo > UINT32_MAX || mk < 0) {
		fprintf(stderr, "mfwd-controlplane: %s: tenant %s: quotas are 0 (none) or more\n",
			file, name);
		return -EINVAL;
	}
	if ((t = add(a, name)) == NULL)
		return -ENOMEM;
	n = mf_base64_decode(key, strlen(key), t->key, sizeof(t->key));
	if (n < 16) {
		fprintf(stderr, "mfwd-controlplane: %s: tenant %s: key: base64 of 16 to 64 bytes\n",
			file, name);
		return -EINVAL;
	}
	t->key_len = (uint32_t)n;
	a->signers++;
	t->admin = admin;
	t->max_sessions = (uint32_t)ms;
	t->max_outputs = (uint32_t)mo;
	t->max_kbps = (uint64_t)mk;
	return 0;
}

static int
load_keys(struct cp_auth *a, const char *file)
{
	json_t *root = NULL, *list = NULL;
	struct stat st;
	json_error_t e;
	int fd, rc = -EINVAL;
	size_t i;
	FILE *f;

	fd = open(file, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) != 0) {
		fprintf(stderr, "mfwd-controlplane: auth.keys_file %s: %s\n", file, strerror(errno));
		goto out;
	}
	if ((st.st_mode & 077) != 0) {
		fprintf(stderr, "mfwd-controlplane: auth.keys_file %s: readable by others (mode "
			"%03o): chmod 600 it\n", file, st.st_mode & 0777);
		goto out;
	}
	f = fdopen(fd, "r");
	if (f == NULL)
		goto out;
	fd = -1;
	root = json_loadf(f, JSON_REJECT_DUPLICATES, &e);
	fclose(f);
	if (root == NULL || json_unpack_ex(root, &e, JSON_STRICT, "{s:o}", "tenants", &list) != 0 ||
	    !json_is_array(list)) {
		fprintf(stderr, "mfwd-controlplane: %s:%d: %s\n", file, e.line,
			root == NULL ? e.text : "{\"tenants\": [...]} expected");
		goto out;
	}
	for (i = 0; i < json_array_size(list); i++)
		if ((rc = load_tenant(a, json_array_get(list, i), i, file)) != 0)
			goto out;
	rc = 0;
out:
	if (fd >= 0)
		close(fd);
	json_decref(root);
	return rc;
}

static int
nonces_init(struct cp_auth *a, uint32_t want)
{
	struct cp_nonces *n = calloc(1, sizeof(*n));
	uint32_t cap = 1024;

	while (cap < want && cap < (1u << 30))
		cap <<= 1;
	if (n == NULL)
		return -ENOMEM;
	a->nonces = n;
	n->cap = cap;
	/* calloc: pages are touched only as nonces come. */
	n->buckets = calloc(cap, sizeof(*n->buckets));
	n->ring = calloc(cap, sizeof(*n->ring));
	n->started = (int64_t)time(NULL);
	if (RAND_bytes(n->salt, sizeof(n->salt)) != 1)
		return -EIO;
	return n->buckets != NULL && n->ring != NULL ? 0 : -ENOMEM;
}

int
cp_auth_init(struct cp *cp)
{
	struct cp_auth *a = &cp->auth;
	const struct cp_auth_cfg *c = &cp->cfg.auth;
	int rc;

	if (add(a, "") == NULL)
		return -ENOMEM;
	a->tenants[CP_OPERATOR].admin = true;
	if (c->keys_file[0] == '\0')
		return 0;
	rc = load_keys(a, c->keys_file);
	if (rc == 0 && (rc = nonces_init(a, c->max_nonces)) != 0)
		fprintf(stderr, "mfwd-controlplane: no memory for %u nonces\n", c->max_nonces);
	if (rc == 0 && c->node_tenant[0] != '\0' && cp_auth_find(cp, c->node_tenant) < 0) {
		fprintf(stderr, "mfwd-controlplane: auth.node_tenant \"%s\" has no key in %s\n",
			c->node_tenant, c->keys_file);
		rc = -EINVAL;
	}
	if (rc == 0)
		MF_LOG(NOTICE, main, "auth: %u tenants from %s, unsigned commands %s", a->nb - 1,
		       c->keys_file, c->required ? "refused" : "taken as the operator's");
	return rc;
}

void
cp_auth_fini(struct cp *cp)
{
	struct cp_auth *a = &cp->auth;

	if (a->tenants != NULL)
		OPENSSL_cleanse(a->tenants, sizeof(*a->tenants) * a->cap);
	free(a->tenants);
	if (a->nonces != NULL) {
		free(a->nonces->buckets);
		free(a->nonces->ring);
		free(a->nonces);
	}
	memset(a, 0, sizeof(*a));
}

bool
cp_auth_admin(const struct cp *cp, uint16_t t)
{
	return t < cp->auth.nb && cp->auth.tenants[t].admin;
}

/* ---- checking a request ---- */

int
cp_auth_refuse(struct cp *cp, int t, enum cp_auth_reason why, struct cp_err *err)
{
	cp->auth.refused[why]++;
	if (t > 0 && (uint32_t)t < cp->auth.nb)
		cp->auth.tenants[t].refused++;
	if (err != NULL && err->code[0] == '\0')
		cp_err_set(err, reason_code[why], NULL, "refused");
	return why == CP_AUTH_FORBIDDEN ? -EPERM : -EACCES;
}

static int
copy_field(char *dst, size_t cap, const char *src)
{
	if (src == NULL || strlen(src) >= cap)
		return -EINVAL;
	strcpy(dst, src);
	return 0;
}

int
cp_auth_unwrap(json_t *root, struct cp_sig *sig, const char **body, size_t *len,
	       struct cp_err *err)
{
	const char *tenant = NULL, *nonce = NULL, *hex = NULL;
	json_t *auth = json_object_get(root, "auth"), *b = NULL;
	json_int_t ts = 0;
	json_error_t je;

	if (auth == NULL)
		return 0;
	if (json_unpack_ex(root, &je, JSON_STRICT, "{s:o, s:o}", "auth", &auth, "body", &b) != 0 ||
	    !json_is_string(b) ||
	    json_unpack_ex(auth, &je, JSON_STRICT, "{s:s, s:I, s:s, s:s}", "tenant", &tenant,
			   "ts", &ts, "nonce", &nonce, "sig", &hex) != 0) {
		cp_err_set(err, "bad_auth", "auth", "a signed envelope is {\"auth\": {\"tenant\", "
			   "\"ts\", \"nonce\", \"sig\"}, \"body\": \"<request>\"}");
		return -EINVAL;
	}
	memset(sig, 0, sizeof(*sig));
	sig->present = true;
	/* A field too long stays empty: the check refuses it as malformed. */
	copy_field(sig->tenant, sizeof(sig->tenant), tenant);
	copy_field(sig->nonce, sizeof(sig->nonce), nonce);
	copy_field(sig->sig, sizeof(sig->sig), hex);
	snprintf(sig->ts, sizeof(sig->ts), "%lld", (long long)ts);
	*body = json_string_value(b);
	*len = json_string_length(b);
	return 1;
}

bool
cp_printable(const char *s, size_t min, size_t max)
{
	size_t i, n = strlen(s);

	for (i = 0; i < n; i++)
		if (s[i] <= ' ' || s[i] > '~')
			return false;
	return n >= min && n <= max;
}

/* The timestamp as the decimal it must be (no sign, no leading zero). */
static int
parse_ts(const char *s, int64_t *ts)
{
	size_t i, n = strlen(s);
	int64_t v = 0;

	if (n == 0 || n > 12 || (s[0] == '0' && n > 1))
		return -EINVAL;
	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -EINVAL;
		v = v * 10 + (s[i] - '0');
	}
	*ts = v;
	return 0;
}

int
cp_unhex(const char *s, uint8_t *out, size_t n)
{
	size_t i;

	if (strlen(s) != 2 * n)
		return -EINVAL;
	for (i = 0; i < 2 * n; i++) {
		int c = s[i], v = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ?
			c - 'a' + 10 : -1;

		if (v < 0)
			return -EINVAL;
		out[i / 2] = (uint8_t)(i % 2 ? out[i / 2] | v : v << 4);
	}
	return 0;
}

int
cp_auth_hmac(const struct cp_tenant *t, const void *head, size_t hlen, const void *body,
	     size_t blen, uint8_t out[32])
{
	char digest[] = "SHA256";
	OSSL_PARAM params[] = {
		OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
		OSSL_PARAM_construct_end(),
	};
	EVP_MAC *m = EVP_MAC_fetch(NULL, "HMAC", NULL);
	EVP_MAC_CTX *c = m != NULL ? EVP_MAC_CTX_new(m) : NULL;
	size_t outl = 0;
	int rc = -EIO;

	if (c != NULL && t->key_len > 0 && EVP_MAC_init(c, t->key, t->key_len, params) == 1 &&
	    EVP_MAC_update(c, head, hlen) == 1 && EVP_MAC_update(c, body, blen) == 1 &&
	    EVP_MAC_final(c, out, &outl, 32) == 1 && outl == 32)
		rc = 0;
	EVP_MAC_CTX_free(c);
	EVP_MAC_free(m);
	return rc;
}

static int
mac(const struct cp_tenant *t, const struct cp_sig *sig, const char *topic,
    const char *response, const char *body, size_t len, uint8_t out[32])
{
	char head[2 * CP_TOPIC_MAX + CP_TENANT_MAX + 24 + CP_NONCE_MAX + 32];
	int n = snprintf(head, sizeof(head), SIG_DOMAIN "%s\n%s\n%s\n%s\n%s\n", topic, response,
			 sig->tenant, sig->ts, sig->nonce);

	if (n <= 0 || (size_t)n >= sizeof(head))
		return -EINVAL;
	return cp_auth_hmac(t, head, (size_t)n, body, len, out);
}

static void
nonce_key(const struct cp_nonces *ns, uint16_t t, const char *nonce, uint8_t key[16])
{
	uint8_t md[32];
	EVP_MD_CTX *c = EVP_MD_CTX_new();
	unsigned int n = 0;

	memset(md, 0, sizeof(md));
	if (c != NULL && EVP_DigestInit_ex(c, EVP_sha256(), NULL) == 1 &&
	    EVP_DigestUpdate(c, ns->salt, sizeof(ns->salt)) == 1 &&
	    EVP_DigestUpdate(c, &t, sizeof(t)) == 1 &&
	    EVP_DigestUpdate(c, nonce, strlen(nonce)) == 1)
		EVP_DigestFinal_ex(c, md, &n);
	EVP_MD_CTX_free(c);
	memcpy(key, md, 16);
}

static uint32_t
bucket_of(const struct cp_nonces *n, const uint8_t key[16])
{
	uint32_t h;

	memcpy(&h, key, sizeof(h));
	return h & (n->cap - 1);
}

/* Forget the oldest nonces whose time has passed. */
static void
nonces_expire(struct cp_auth *a, struct cp_nonces *n, int64_t now)
{
	while (n->count > 0) {
		struct cp_nonce *e = &n->ring[n->head];
		uint32_t *p = &n->buckets[bucket_of(n, e->key)];

		if (e->until > now)
			break;
		while (*p != 0 && *p != n->head + 1)
			p = &n->ring[*p - 1].next;
		if (*p != 0)
			*p = e->next;
		if (e->tenant < a->nb)
			a->tenants[e->tenant].nonces--;
		n->head = (n->head + 1) & (n->cap - 1);
		n->count--;
	}
}

/* Remember tenant @p t's nonce. @return 0, -EEXIST when seen, -ENOSPC when the ring is
 * full or the tenant holds its share (half of it, when another tenant holds a key: one
 * tenant's flood cannot lock the others out). */
static int
nonces_add(struct cp_auth *a, uint16_t t, const uint8_t key[16], int64_t now, int64_t keep)
{
	struct cp_nonces *n = a->nonces;
	uint32_t b = bucket_of(n, key), i, share = a->signers > 1 ? n->cap / 2 : n->cap;
	struct cp_nonce *e;

	nonces_expire(a, n, now);
	for (i = n->buckets[b]; i != 0; i = n->ring[i - 1].next)
		if (CRYPTO_memcmp(n->ring[i - 1].key, key, 16) == 0)
			return -EEXIST;
	if (n->count == n->cap || a->tenants[t].nonces >= share)
		return -ENOSPC;
	a->tenants[t].nonces++;
	i = (n->head + n->count) & (n->cap - 1);
	e = &n->ring[i];
	memcpy(e->key, key, 16);
	e->tenant = t;
	e->until = now + keep;
	e->next = n->buckets[b];
	n->buckets[b] = i + 1;
	n->count++;
	return 0;
}

int
cp_auth_check(struct cp *cp, const struct cp_sig *sig, const char *topic,
	      const char *response, const char *body, size_t len, uint16_t *tenant,
	      struct cp_err *err)
{
	const struct cp_auth_cfg *c = &cp->cfg.auth;
	int64_t ts, now = (int64_t)time(NULL), w = c->window_s;
	uint8_t want[32], got[32];
	const struct cp_tenant *t;
	int i;

	*tenant = CP_OPERATOR;
	if (sig == NULL || !sig->present) {
		if (c->keys_file[0] == '\0' || !c->required)
			return 0;
		cp_err_set(err, "unsigned", NULL, "this node takes signed commands only");
		return cp_auth_refuse(cp, -1, CP_AUTH_UNSIGNED, err);
	}
	if (c->keys_file[0] == '\0') {
		cp_err_set(err, "bad_auth", NULL, "this node has no tenants: send commands unsigned");
		return cp_auth_refuse(cp, -1, CP_AUTH_BAD_AUTH, err);
	}
	if (!name_ok(sig->tenant) || !cp_printable(sig->nonce, 8, CP_NONCE_MAX - 1) ||
	    parse_ts(sig->ts, &ts) != 0 || cp_unhex(sig->sig, got, sizeof(got)) != 0) {
		cp_err_set(err, "bad_auth", NULL, "tenant (1-63 of A-Z a-z 0-9 - _ .), ts (Unix "
			   "seconds), nonce (8-64 printable characters) and sig (64 hex digits), "
			   "each once");
		return cp_auth_refuse(cp, -1, CP_AUTH_BAD_AUTH, err);
	}
	i = find(&cp->auth, sig->tenant);
	t = i > 0 ? &cp->auth.tenants[i] : NULL;
	if (t == NULL || t->key_len == 0) {
		cp_err_set(err, "unknown_tenant", NULL, "no tenant \"%s\" holds a key here",
			   sig->tenant);
		return cp_auth_refuse(cp, -1, CP_AUTH_UNKNOWN, err);
	}
	/* Before our start, a nonce may have been used with a node that forgot it. */
	if (ts < now - w || ts > now + w || ts < cp->auth.nonces->started) {
		cp_err_set(err, "stale", NULL, "timestamp %lld is %llds from this node's clock "
			   "(at most %u)%s", (long long)ts,
			   (long long)(ts > now ? ts - now : now - ts), c->window_s,
			   ts < cp->auth.nonces->started ? ", or before its start" : "");
		return cp_auth_refuse(cp, -1, CP_AUTH_STALE, err);
	}
	if (mac(t, sig, topic, response, body, len, want) != 0 ||
	    CRYPTO_memcmp(want, got, 32) != 0) {
		cp_err_set(err, "bad_signature", NULL, "the signature does not match (tenant %s, "
			   "topic %s)", t->name, topic);
		return cp_auth_refuse(cp, -1, CP_AUTH_BAD_SIG, err);
	}
	*tenant = (uint16_t)i;
	return 0;
}

/* Keep @p sig's nonce (a verified request's: no one else can burn a tenant's). @return 0,
 * -EEXIST when kept already, or -ENOSPC. */
static int
spend(struct cp *cp, const struct cp_sig *sig, uint16_t tenant)
{
	int64_t now = (int64_t)time(NULL), w = cp->cfg.auth.window_s;
	uint8_t key[16];

	if (sig == NULL || !sig->present || tenant == CP_OPERATOR)
		return 0;
	nonce_key(cp->auth.nonces, tenant, sig->nonce, key);
	return nonces_add(&cp->auth, tenant, key, now, 2 * w + 1);
}

void
cp_auth_note(struct cp *cp, const struct cp_sig *sig, uint16_t tenant)
{
	(void)spend(cp, sig, tenant);
}

int
cp_auth_spend(struct cp *cp, const struct cp_sig *sig, uint16_t tenant, struct cp_err *err)
{
	int64_t w = cp->cfg.auth.window_s;
	int rc = spend(cp, sig, tenant);

	if (rc == -EEXIST) {
		cp_err_set(err, "replayed", NULL, "nonce already used within the last %llds",
			   (long long)(2 * w));
		return cp_auth_refuse(cp, tenant, CP_AUTH_REPLAYED, err);
	}
	if (rc != 0) {
		cp_err_set(err, "replay_cache_full", NULL, "too many signed commands within %llds: "
			   "try again", (long long)(2 * w));
		return cp_auth_refuse(cp, tenant, CP_AUTH_NONCES_FULL, err);
	}
	return 0;
}

/* ---- quotas ---- */

int
cp_auth_admit(struct cp *cp, uint16_t tenant, int sessions, int64_t outputs, int64_t kbps,
	      struct cp_err *err)
{
	const struct cp_tenant *t = &cp->auth.tenants[tenant];
	int64_t s = (int64_t)t->sessions + sessions, o = (int64_t)t->outputs + outputs;
	int64_t k = (int64_t)t->kbps + kbps;

	if (sessions > 0 && t->max_sessions != 0 && s > t->max_sessions)
		cp_err_set(err, "over_quota", NULL, "tenant %s holds its quota of %u sessions",
			   t->name, t->max_sessions);
	else if (outputs > 0 && t->max_outputs != 0 && o > t->max_outputs)
		cp_err_set(err, "over_quota", "outputs", "%lld outputs would exceed tenant %s's "
			   "quota of %u", (long long)o, t->name, t->max_outputs);
	else if (kbps > 0 && t->max_kbps != 0 && k > (int64_t)t->max_kbps)
		cp_err_set(err, "over_quota", "limits.max_kbps", "%lld kbit/s would exceed "
			   "tenant %s's quota of %llu", (long long)k, t->name,
			   (unsigned long long)t->max_kbps);
	else
		return 0;
	cp_auth_refuse(cp, tenant, CP_AUTH_OVER_QUOTA, NULL);
	return -EDQUOT;
}

void
cp_auth_count(struct cp *cp, uint16_t tenant, int sessions, int64_t outputs, int64_t kbps)
{
	struct cp_tenant *t = &cp->auth.tenants[tenant < cp->auth.nb ? tenant : CP_OPERATOR];

	t->sessions = (uint32_t)((int64_t)t->sessions + sessions);
	t->outputs = (uint32_t)((int64_t)t->outputs + outputs);
	t->kbps = (uint64_t)((int64_t)t->kbps + kbps);
}

static json_t *
tenant_json(const struct cp_tenant *t)
{
	return json_pack("{s:s, s:b, s:b, s:i, s:i, s:I, s:{s:i, s:i, s:I}, s:I}", "name",
			 t->name[0] ? t->name : "operator", "admin", t->admin, "key",
			 t->key_len > 0, "sessions",
			 t->sessions, "outputs", t->outputs, "kbps", (json_int_t)t->kbps,
			 "quota", "max_sessions", t->max_sessions, "max_outputs", t->max_outputs,
			 "max_kbps", (json_int_t)t->max_kbps, "refused", (json_int_t)t->refused);
}

json_t *
cp_auth_json(const struct cp *cp, uint16_t caller)
{
	const struct cp_auth *a = &cp->auth;
	json_t *o = json_pack("{s:b, s:b, s:o}", "signed", cp->cfg.auth.keys_file[0] != '\0',
			      "required", cp->cfg.auth.required, "caller",
			      tenant_json(&a->tenants[caller]));
	json_t *all, *refused;
	uint32_t i;

	if (!cp_auth_admin(cp, caller))
		return o;
	all = json_array();
	refused = json_object();
	for (i = 0; i < a->nb; i++)
		json_array_append_new(all, tenant_json(&a->tenants[i]));
	for (i = 0; i < CP_AUTH_NB; i++)
		json_object_set_new(refused, reason_code[i], json_integer((json_int_t)a->refused[i]));
	json_object_set_new(o, "tenants", all);
	json_object_set_new(o, "refused", refused);
	return o;
}

/* Our own requests to other nodes (pipes), signed as auth.node_tenant in the envelope form
 * (the reply_to is in the body: no response topic is signed). */
int
cp_auth_sign(struct cp *cp, const char *topic, const char *body, char **out)
{
	const char *name = cp->cfg.auth.node_tenant;
	struct cp_sig sig = { .present = true };
	uint8_t nonce[16], mac_out[32];
	int i = name[0] != '\0' ? cp_auth_find(cp, name) : -1;
	size_t k;
	json_t *o;

	*out = NULL;
	if (i < 0)
		return -ENOENT;
	if (RAND_bytes(nonce, sizeof(nonce)) != 1)
		return -EIO;
	snprintf(sig.tenant, sizeof(sig.tenant), "%s", name);
	snprintf(sig.ts, sizeof(sig.ts), "%lld", (long long)time(NULL));
	for (k = 0; k < sizeof(nonce); k++)
		snprintf(sig.nonce + 2 * k, 3, "%02x", nonce[k]);
	if (mac(&cp->auth.tenants[i], &sig, topic, "", body, strlen(body), mac_out) != 0)
		return -EIO;
	for (k = 0; k < sizeof(mac_out); k++)
		snprintf(sig.sig + 2 * k, 3, "%02x", mac_out[k]);
	o = json_pack("{s:{s:s, s:I, s:s, s:s}, s:s}", "auth", "tenant", name, "ts",
		      (json_int_t)strtoll(sig.ts, NULL, 10), "nonce", sig.nonce, "sig", sig.sig,
		      "body", body);
	*out = o != NULL ? json_dumps(o, JSON_COMPACT) : NULL;
	json_decref(o);
	return *out != NULL ? 0 : -ENOMEM;
}

/* HMAC-SHA256 as auth.node_tenant of @p head then @p body, in hex. @return 0, -ENOENT (no
 * node tenant) or -EIO. */
static int
node_mac(struct cp *cp, const char *head, int n, const void *body, size_t len,
	 char hex[CP_SIG_HEX + 1])
{
	int i = cp->cfg.auth.node_tenant[0] != '\0' ? cp_auth_find(cp, cp->cfg.auth.node_tenant) :
		-1;
	uint8_t out[32];
	size_t k;

	if (i < 0)
		return -ENOENT;
	if (n <= 0 || cp_auth_hmac(&cp->auth.tenants[i], head, (size_t)n, body, len, out) != 0)
		return -EIO;
	for (k = 0; k < sizeof(out); k++)
		snprintf(hex + 2 * k, 3, "%02x", out[k]);
	return 0;
}

int
cp_auth_record_mac(struct cp *cp, const char *topic, const void *payload, size_t len,
		   char hex[CP_SIG_HEX + 1])
{
	char head[CP_TOPIC_MAX + 32];
	int n = snprintf(head, sizeof(head), "mfwd-record-v1\n%s\n", topic);

	/* The topic ends at its newline: one with a newline of its own could pass another's
	 * signature off as its own. */
	if (strchr(topic, '\n') != NULL)
		n = -1;
	return node_mac(cp, head, n > 0 && (size_t)n < sizeof(head) ? n : -1, payload, len, hex);
}

bool
cp_auth_record_ok(struct cp *cp, const char *topic, const void *payload, size_t len,
		  const char *sig)
{
	char want[CP_SIG_HEX + 1];

	if (cp->cfg.auth.node_tenant[0] == '\0')
		return true;
	return strlen(sig) == CP_SIG_HEX &&
	       cp_auth_record_mac(cp, topic, payload, len, want) == 0 &&
	       CRYPTO_memcmp(want, sig, CP_SIG_HEX) == 0;
}

/* What a placing node vouches for (docs/cluster.md): where it sent the request, where its
 * sender wanted the answer, where the answer goes, and the bytes. */
int
cp_auth_place_mac(struct cp *cp, const char *topic, const char *placed, const char *response,
		  const char *body, size_t len, char hex[CP_SIG_HEX + 1])
{
	char head[3 * CP_TOPIC_MAX + 32];
	int n = snprintf(head, sizeof(head), "mfwd-place-v1\n%s\n%s\n%s\n", topic, placed,
			 response);

	return node_mac(cp, head, n > 0 && (size_t)n < sizeof(head) ? n : -1, body, len, hex);
}
