/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Tokens (Licode's Nuve tokens, for MQTT): a tenant signs a token that lets a browser or a
 * device publish or view in one room (one stream, or any of the room for a viewer) a number
 * of times until it expires, so that the device never holds the tenant's key:
 *
 *   token = base64(payload) "." hex(HMAC-SHA256(key, "mfwd-token-v1\n" base64(payload)))
 *   payload = {"tenant", "id", "room", "stream"?, "role": "publisher" | "viewer",
 *              "exp": Unix seconds, "uses": N}
 *
 * stream.publish and stream.subscribe take it in "token" instead of a signature (and
 * stream.unpublish, stream.unsubscribe for what it made, spending nothing). Each success
 * spends a use; the uses spent are kept in the journal directory's tokens.json (replaced
 * whole, synced, before the reply) until the token expires, so a restart gives none back.
 * A tenant mints them itself (the format above) or asks the node (token.create).
 */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "cp.h"
#include "mf/mf_array.h"

#define TOKEN_DOMAIN	"mfwd-token-v1\n"
#define TOKENS_FILE	"tokens.json"
#define TOKEN_MAX	2048		/* characters of a token */
#define TOKENS_KEPT	65536		/* tokens with uses spent, remembered at once */
#define TOKEN_TTL_MAX	(7 * 86400)
#define TOKEN_USES_MAX	1000000

static int
role_of(const char *s)
{
	return strcmp(s, "publisher") == 0 ? CP_ROLE_PUBLISHER :
	       strcmp(s, "viewer") == 0 ? CP_ROLE_VIEWER : -1;
}

/* ---- the uses spent ---- */

static struct cp_token_use *
use_of(struct cp *cp, uint16_t tenant, const char *id)
{
	uint32_t i;

	for (i = 0; i < cp->tokens.nb; i++)
		if (cp->tokens.u[i].tenant == tenant && strcmp(cp->tokens.u[i].id, id) == 0)
			return &cp->tokens.u[i];
	return NULL;
}

/* Expired tokens forgotten: they are refused by their time now. */
static void
forget_expired(struct cp *cp, int64_t now)
{
	uint32_t i, k = 0;

	for (i = 0; i < cp->tokens.nb; i++)
		if (cp->tokens.u[i].exp > now)
			cp->tokens.u[k++] = cp->tokens.u[i];
	cp->tokens.nb = k;
}

static int
save(struct cp *cp)
{
	json_t *list = json_array();
	uint32_t i;

	for (i = 0; i < cp->tokens.nb; i++) {
		const struct cp_token_use *u = &cp->tokens.u[i];

		json_array_append_new(list, json_pack("{s:s, s:s, s:i, s:I}", "tenant",
			cp->auth.tenants[u->tenant].name, "id", u->id, "used", u->used, "exp",
			(json_int_t)u->exp));
	}
	return cp_journal_save_json(cp->journal, TOKENS_FILE, list);
}

static struct cp_token_use *
use_add(struct cp *cp, uint16_t tenant, const char *id, int64_t exp)
{
	struct cp_tokens *t = &cp->tokens;
	struct cp_token_use *u;

	if ((u = mf_array_grow(t->u, &t->cap, t->nb, sizeof(*u), 64, TOKENS_KEPT)) == NULL)
		return NULL;
	t->u = u;
	u = &t->u[t->nb++];
	memset(u, 0, sizeof(*u));
	u->tenant = tenant;
	snprintf(u->id, sizeof(u->id), "%s", id);
	u->exp = exp;
	return u;
}

int
cp_tokens_load(struct cp *cp)
{
	json_t *list, *o;
	size_t i;
	int rc = cp_journal_load_json(cp->journal, TOKENS_FILE, &list);

	if (rc == -EBADMSG)
		MF_LOG(ERR, main, "journal: not starting (a token's spent uses would come back); "
		       "repair or remove %s", TOKENS_FILE);
	if (rc != 0 || list == NULL)
		return rc;
	json_array_foreach(list, i, o) {
		const char *tenant = NULL, *id = NULL;
		json_int_t used = 0, exp = 0;
		struct cp_token_use *u;
		int t;

		if (json_unpack(o, "{s:s, s:s, s:I, s:I}", "tenant", &tenant, "id", &id, "used",
				&used, "exp", &exp) != 0 || (t = cp_auth_find(cp, tenant)) < 0 ||
		    !cp_printable(id, 1, CP_TOKEN_ID_MAX - 1) || used < 0 || used > TOKEN_USES_MAX)
			continue;
		u = use_add(cp, (uint16_t)t, id, exp);
		if (u != NULL)
			u->used = (uint32_t)used;
	}
	json_decref(list);
	return 0;
}

void
cp_tokens_fini(struct cp *cp)
{
	free(cp->tokens.u);
	memset(&cp->tokens, 0, sizeof(cp->tokens));
}

/* ---- checking a token ---- */

static int
bad(struct cp *cp, int t, enum cp_auth_reason why, struct cp_err *err, const char *msg)
{
	cp_err_set(err, why == CP_AUTH_BAD_TOKEN ? "bad_token" : why == CP_AUTH_TOKEN_EXPIRED ?
		   "token_expired" : why == CP_AUTH_TOKEN_USED ? "token_used_up" :
		   why == CP_AUTH_TOKEN_SCOPE ? "token_scope" : "replay_cache_full", "token",
		   "%s", msg);
	return cp_auth_refuse(cp, t, why, err);
}

/* The payload of @p tok, its signature checked, into @p g. */
static int
verify(struct cp *cp, const char *tok, json_t **payload, struct cp_grant *g,
       struct cp_err *err)
{
	const char *dot = strchr(tok, '.'), *tenant = NULL;
	uint8_t want[32], got[32], raw[TOKEN_MAX];
	size_t plen = dot ? (size_t)(dot - tok) : 0;
	int n, t;

	if (strlen(tok) > TOKEN_MAX || dot == NULL || cp_unhex(dot + 1, got, sizeof(got)) != 0 ||
	    (n = mf_base64_decode(tok, plen, raw, sizeof(raw))) <= 0)
		return bad(cp, -1, CP_AUTH_BAD_TOKEN, err, "not a token");
	*payload = json_loadb((const char *)raw, (size_t)n, JSON_REJECT_DUPLICATES, NULL);
	tenant = json_string_value(json_object_get(*payload, "tenant"));
	t = tenant != NULL ? cp_auth_find(cp, tenant) : -1;
	if (t < 0 || cp_auth_hmac(&cp->auth.tenants[t], TOKEN_DOMAIN, strlen(TOKEN_DOMAIN), tok,
				  plen, want) != 0 || CRYPTO_memcmp(want, got, 32) != 0)
		return bad(cp, -1, CP_AUTH_BAD_TOKEN, err, "a token no tenant here signed");
	g->tenant = (uint16_t)t;
	return 0;
}

/* What the token allows, from its (verified) payload. */
static int
scope(struct cp *cp, json_t *payload, struct cp_grant *g, int64_t *exp, uint32_t *uses,
      struct cp_err *err)
{
	const char *tenant = NULL, *id = NULL, *room = NULL, *stream = "", *role = NULL;
	json_int_t e = 0, n = 0;
	uint8_t md[32];

	if (json_unpack(payload, "{s:s, s:s, s:s, s?s, s:s, s:I, s:I}", "tenant", &tenant, "id",
			&id, "room", &room, "stream", &stream, "role", &role, "exp", &e, "uses",
			&n) != 0 || !cp_printable(id, 1, CP_TOKEN_ID_MAX - 1) || !cp_room_name_ok(room, false) ||
	    (stream[0] != '\0' && !cp_room_name_ok(stream, true)) || role_of(role) < 0 ||
	    n < 1 || n > TOKEN_USES_MAX || (role_of(role) == CP_ROLE_PUBLISHER && !stream[0]))
		return bad(cp, g->tenant, CP_AUTH_BAD_TOKEN, err, "a token's payload is "
			   "{tenant, id, room, stream (a publisher's), role, exp, uses}");
	g->role = (uint8_t)role_of(role);
	snprintf(g->id, sizeof(g->id), "%s", id);
	snprintf(g->room, sizeof(g->room), "%s", room);
	snprintf(g->stream, sizeof(g->stream), "%s", stream);
	/* What it makes is named with a tag of it (keyed: nobody can aim at another token's):
	 * it may end that, nothing else. */
	if (cp_auth_hmac(&cp->auth.tenants[g->tenant], "mfwd-token-tag\n", 15, id, strlen(id),
			 md) != 0)
		return bad(cp, g->tenant, CP_AUTH_BAD_TOKEN, err, "no tag for the token");
	snprintf(g->tag, sizeof(g->tag), "k%02x%02x%02x%02x", md[0], md[1], md[2], md[3]);
	*exp = e;
	*uses = (uint32_t)n;
	g->uses = (uint32_t)n;
	return 0;
}

int
cp_token_check(struct cp *cp, const char *cmd, json_t *args, struct cp_grant *g,
	       struct cp_err *err)
{
	const char *tok = json_string_value(json_object_get(args, "token")), *room, *stream;
	int64_t exp = 0, now = (int64_t)time(NULL);
	json_t *payload = NULL;
	uint32_t uses = 0;
	int rc, want;

	memset(g, 0, sizeof(*g));
	if (tok == NULL)
		return bad(cp, -1, CP_AUTH_BAD_TOKEN, err, "a token is a string");
	rc = verify(cp, tok, &payload, g, err);
	if (rc == 0)
		rc = scope(cp, payload, g, &exp, &uses, err);
	json_decref(payload);
	if (rc != 0)
		return rc;
	want = strcmp(cmd, "stream.publish") == 0 || strcmp(cmd, "stream.unpublish") == 0 ?
	       CP_ROLE_PUBLISHER : strcmp(cmd, "stream.subscribe") == 0 ||
	       strcmp(cmd, "stream.unsubscribe") == 0 ? CP_ROLE_VIEWER : 0;
	if (want != g->role)
		return bad(cp, g->tenant, CP_AUTH_TOKEN_SCOPE, err, g->role == CP_ROLE_PUBLISHER ?
			   "a publisher's token does not do this" :
			   "a viewer's token does not do this");
	if (exp <= now)
		return bad(cp, g->tenant, CP_AUTH_TOKEN_EXPIRED, err, "the token has expired");
	/* Its uses are remembered until it expires: not for ever. */
	if (exp > now + TOKEN_TTL_MAX)
		return bad(cp, g->tenant, CP_AUTH_BAD_TOKEN, err,
			   "a token expires within 7 days");
	/* What it is for before whether uses are left: a wrong room is said as such. */
	room = json_string_value(json_object_get(args, "room"));
	stream = json_string_value(json_object_get(args, "stream"));
	if ((room != NULL && strcmp(room, g->room) != 0) ||
	    (stream != NULL && g->stream[0] != '\0' && strcmp(stream, g->stream) != 0))
		return bad(cp, g->tenant, CP_AUTH_TOKEN_SCOPE, err,
			   "the token is for another room or stream");
	g->spends = strcmp(cmd, "stream.publish") == 0 || strcmp(cmd, "stream.subscribe") == 0;
	g->exp = exp;
	g->on = true;
	if (g->spends && (rc = cp_token_use(cp, g, err)) != 0) {
		g->on = false;
		return rc;
	}
	json_object_del(args, "token");
	return 0;
}

/* The tokens one tenant has in the table: when another tenant holds a key, at most half of
 * it, so one tenant's tokens cannot lock the others out. */
static uint32_t
held(const struct cp *cp, uint16_t tenant)
{
	uint32_t i, n = 0;

	for (i = 0; i < cp->tokens.nb; i++)
		n += cp->tokens.u[i].tenant == tenant;
	return n;
}

int
cp_token_use(struct cp *cp, const struct cp_grant *g, struct cp_err *err)
{
	struct cp_token_use *u;
	int64_t now = (int64_t)time(NULL);

	if (g == NULL || !g->on || !g->spends)
		return 0;
	u = use_of(cp, g->tenant, g->id);
	/* An id issued again with a later expiry: the uses spent under it are kept until that
	 * one expires too, or forgetting them with the first would give the second's back
	 * (also after a restart: written now, though nothing may be spent). */
	if (u != NULL && u->exp < g->exp) {
		u->exp = g->exp;
		if (save(cp) != 0)
			MF_LOG(ERR, main, "journal: %s could not be written: a restart would give "
			       "back the uses of token %.64s", TOKENS_FILE, g->id);
	}
	if (u != NULL && u->used >= g->uses)
		return bad(cp, g->tenant, CP_AUTH_TOKEN_USED, err, "the token's uses are spent");
	if (u == NULL) {
		uint32_t share = cp->auth.signers > 1 ? TOKENS_KEPT / 2 : TOKENS_KEPT;

		forget_expired(cp, now);
		if (cp->tokens.nb >= TOKENS_KEPT || held(cp, g->tenant) >= share)
			return bad(cp, g->tenant, CP_AUTH_NONCES_FULL, err,
				   "too many tokens in use: try again");
	}
	return 0;
}

int
cp_token_spend(struct cp *cp, const struct cp_grant *g)
{
	struct cp_token_use *u;
	int rc;

	if (g == NULL || !g->on || !g->spends)
		return 0;
	u = use_of(cp, g->tenant, g->id);
	if (u == NULL && (u = use_add(cp, g->tenant, g->id, g->exp)) == NULL)
		return -ENOMEM;
	if (u->exp < g->exp)
		u->exp = g->exp;	/* as in cp_token_use() */
	u->used++;
	forget_expired(cp, (int64_t)time(NULL));
	rc = save(cp);
	if (rc != 0)
		MF_LOG(ERR, main, "journal: %s could not be written: a restart would give back "
		       "a use of token %.64s of %s", TOKENS_FILE, g->id,
		       cp->auth.tenants[g->tenant].name);
	return rc;
}

int
cp_token_allows(struct cp *cp, const char *room, const char *stream, struct cp_err *err)
{
	const struct cp_grant *g = cp->grant;

	if (g == NULL)
		return 0;
	if (strcmp(g->room, room) == 0 && (g->stream[0] == '\0' || strcmp(g->stream, stream) == 0))
		return 0;
	cp_err_set(err, "token_scope", "token", "the token is for room %s%s%s", g->room,
		   g->stream[0] ? ", stream " : "", g->stream);
	return cp_auth_refuse(cp, g->tenant, CP_AUTH_TOKEN_SCOPE, err);
}

int
cp_token_owns(struct cp *cp, const char *name, const char *what, struct cp_err *err)
{
	const struct cp_grant *g = cp->grant;

	if (g == NULL || strncmp(name, g->tag, strlen(g->tag)) == 0)
		return 0;
	cp_err_set(err, "token_scope", "token", "the token did not make %s", what);
	return cp_auth_refuse(cp, g->tenant, CP_AUTH_TOKEN_SCOPE, err);
}

/* ---- token.create ---- */

json_t *
cp_token_create(struct cp *cp, json_t *args, struct cp_err *err)
{
	const char *room = NULL, *stream = NULL, *role = NULL, *id = NULL;
	const struct cp_tenant *t = &cp->auth.tenants[cp->caller];
	json_int_t ttl = 3600, uses = 1;
	char rid[33], *text = NULL, b64[TOKEN_MAX], sig[65];
	uint8_t rnd[16], mac[32];
	json_t *p, *res = NULL;
	int n, i, r;

	if (cp_args_unpack(args, err, "{s:s, s?s, s:s, s?I, s?I, s?s}", "room", &room, "stream",
			   &stream, "role", &role, "ttl_s", &ttl, "uses", &uses, "id", &id) != 0)
		return NULL;
	if (t->key_len == 0) {
		cp_err_set(err, "forbidden", NULL, "tokens are made by a tenant's signed request");
		return NULL;
	}
	r = cp_room_find(cp, room);
	if (r < 0 || cp->rooms.rooms[r].tenant != cp->caller) {
		cp_err_set(err, "not_found", "room", "no room \"%.40s\"", room);
		return NULL;
	}
	if (ttl < 1 || ttl > TOKEN_TTL_MAX || uses < 1 || uses > TOKEN_USES_MAX ||
	    role_of(role) < 0 || (stream != NULL && !cp_room_name_ok(stream, true)) ||
	    (role_of(role) == CP_ROLE_PUBLISHER && stream == NULL) ||
	    (id != NULL && !cp_printable(id, 1, CP_TOKEN_ID_MAX - 1))) {
		cp_err_set(err, "bad_value", NULL, "role publisher (with its stream) or viewer, "
			   "ttl_s 1-%d, uses 1-%d, id 1-%d printable characters", TOKEN_TTL_MAX,
			   TOKEN_USES_MAX, CP_TOKEN_ID_MAX - 1);
		return NULL;
	}
	if (id == NULL) {
		if (RAND_bytes(rnd, sizeof(rnd)) != 1)
			goto fail;
		for (i = 0; i < 16; i++)
			snprintf(rid + 2 * i, 3, "%02x", rnd[i]);
		id = rid;
	}
	p = json_pack("{s:s, s:s, s:s, s:s, s:I, s:I}", "tenant", t->name, "id", id, "room", room,
		      "role", role, "exp", (json_int_t)time(NULL) + ttl, "uses", uses);
	if (stream != NULL)
		json_object_set_new(p, "stream", json_string(stream));
	text = json_dumps(p, JSON_COMPACT | JSON_SORT_KEYS);
	if (text == NULL || (n = mf_base64_encode((const uint8_t *)text, strlen(text), b64,
						  sizeof(b64))) < 0 ||
	    cp_auth_hmac(t, TOKEN_DOMAIN, strlen(TOKEN_DOMAIN), b64, (size_t)n, mac) != 0) {
		json_decref(p);
		goto fail;
	}
	for (i = 0; i < 32; i++)
		snprintf(sig + 2 * i, 3, "%02x", mac[i]);
	res = json_pack("{s:s++, s:s, s:O}", "token", b64, ".", sig, "id", id, "exp",
			json_object_get(p, "exp"));
	json_decref(p);
	free(text);
	return res;
fail:
	free(text);
	cp_err_set(err, "internal", NULL, "the token could not be made");
	return NULL;
}
