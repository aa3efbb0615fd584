/* SPDX-License-Identifier: MIT */
/* /api/v1/links and /api/v1/links/{id} (docs/api-v1.md): links with their
 * options (docs/link-policy.md), cursor pagination, entity tags, and
 * problem details for every error. The root API's rules for destinations,
 * codes, titles and owners apply unchanged (urls.c); the options are
 * built by the policy module. A password is hashed on a reader thread
 * (Argon2id takes tens of milliseconds), never on the loop. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "handlers/handlers_int.h"
#include "linkd/base62.h"
#include "linkd/err.h"
#include "linkd/json.h"
#include "linkd/policy.h"
#include "linkd/query.h"
#include "linkd/str.h"
#include "linkd/timefmt.h"

#define V1_LIMIT_DEFAULT 50
#define V1_LIMIT_MAX     1000
#define V1_PATCH_TRIES   3 /* reads and writes of a PATCH racing other writers */

/* ---- the representation ----------------------------------------------------- */

static json_t *time_json(int64_t t)
{
    char buf[LNK_TS_LEN + 2];
    lnk_ts_format(t, buf);
    strcat(buf, "Z");
    return json_string(buf);
}

/* A stored time field (integer seconds) shown as RFC 3339, or null. */
static json_t *opt_time(const json_t *o, const char *key)
{
    const json_t *v = json_object_get(o, key);
    return json_is_integer(v) ? time_json(json_integer_value(v)) : json_null();
}

static json_t *opt_or(const json_t *o, const char *key, json_t *dflt)
{
    json_t *v = json_object_get(o, key);
    if (!v)
        return dflt;
    json_decref(dflt);
    return json_incref(v);
}

/* rules as stored, their times shown as RFC 3339 */
static json_t *rules_view(const json_t *stored)
{
    json_t *out = json_array();
    size_t i;
    const json_t *rule;
    json_array_foreach(stored, i, rule)
    {
        json_t *r = json_deep_copy(rule);
        if (json_object_get(r, "from"))
            json_object_set_new(r, "from", opt_time(rule, "from"));
        if (json_object_get(r, "until"))
            json_object_set_new(r, "until", opt_time(rule, "until"));
        json_array_append_new(out, r);
    }
    return out;
}

/* The v1 link: every field, defaults spelled out; a password shows only as
 * password_protected. */
static json_t *link_json(struct lnk_req *r, const struct lnk_url *u)
{
    json_t *opts = u->opts ? json_loads(u->opts, 0, NULL) : NULL;
    json_t *o = json_object();
    json_object_set_new(o, "id", json_integer(u->id));
    json_object_set_new(o, "user_id", json_integer(u->user_id));
    json_object_set_new(o, "code", json_string(u->short_code));
    json_object_set_new(o, "short_url", lnk_h_short_url_json(r, u->short_code));
    json_object_set_new(o, "url", json_string(u->original_url));
    json_object_set_new(o, "title", u->title ? json_string(u->title) : json_null());
    json_object_set_new(o, "active", json_boolean(u->is_active));
    json_object_set_new(o, "notes", opt_or(opts, "notes", json_null()));
    json_object_set_new(o, "tags", opt_or(opts, "tags", json_array()));
    json_object_set_new(o, "redirect_type", opt_or(opts, "redirect_type", json_integer(302)));
    json_object_set_new(o, "forward_query", opt_or(opts, "forward_query", json_false()));
    json_object_set_new(o, "utm", opt_or(opts, "utm", json_object()));
    json_object_set_new(o, "valid_from", opt_time(opts, "valid_from"));
    json_object_set_new(o, "valid_until", opt_time(opts, "valid_until"));
    json_object_set_new(o, "max_clicks", opt_or(opts, "max_clicks", json_null()));
    json_object_set_new(o, "fallback_url", opt_or(opts, "fallback_url", json_null()));
    json_object_set_new(o, "password_protected",
                        json_boolean(json_object_get(opts, "password_hash") != NULL));
    json_object_set_new(o, "rules", rules_view(json_object_get(opts, "rules")));
    json_object_set_new(o, "split", opt_or(opts, "split", json_array()));
    json_object_set_new(o, "created_at", time_json(u->created_at));
    json_object_set_new(o, "updated_at", time_json(u->updated_at));
    json_decref(opts);
    return o;
}

static void answer_link(struct lnk_req *r, const struct lnk_url *u, int status)
{
    char etag[LNK_ETAG_MAX];
    lnk_url_etag(u, etag);
    lnk_resp_header(r, "etag", etag);
    if (status == 201) {
        char loc[64];
        snprintf(loc, sizeof(loc), "/api/v1/links/%lld", (long long)u->id);
        lnk_resp_header(r, "location", loc);
    }
    lnk_resp_json(r, status, link_json(r, u));
}

/* ---- reading a write's body -------------------------------------------------- */

static const char *const core_keys[] = {"url", "code", "title", "active", "user_id"};
static const char *const option_keys[] = {
    "redirect_type", "forward_query", "utm",          "tags",     "notes", "valid_from",
    "valid_until",   "max_clicks",    "fallback_url", "password", "rules", "split"};

static bool known_key(const char *key, bool create)
{
    for (size_t i = 0; i < sizeof(core_keys) / sizeof(core_keys[0]); i++)
        if (strcmp(key, core_keys[i]) == 0)
            return create || strcmp(key, "user_id") != 0;
    for (size_t i = 0; i < sizeof(option_keys) / sizeof(option_keys[0]); i++)
        if (strcmp(key, option_keys[i]) == 0)
            return true;
    return false;
}

/* 422 invalid-field for the first key the model does not know (a typo
 * must not pass as an ignored field). */
static bool only_known_keys(struct lnk_req *r, const json_t *body, bool create)
{
    const char *key;
    json_t *val;
    json_object_foreach((json_t *)body, key, val)
    {
        if (known_key(key, create))
            continue;
        char pointer[80], detail[120];
        snprintf(pointer, sizeof(pointer), "/%.64s", key);
        snprintf(detail, sizeof(detail), "unknown field \"%.64s\"%s", key,
                 strcmp(key, "user_id") == 0 ? ": a link's owner does not change" : "");
        lnk_h_problem(r, 422, LNK_POLICY_E_FIELD, detail, pointer);
        return false;
    }
    return true;
}

/* A create or update in progress, in request memory (nothing to free when
 * the client leaves): the body is read again from the request at each
 * step, with the password's hash once it is known. */
struct v1_write {
    int64_t id;         /* PATCH */
    const char *stored; /* PATCH: the options the update builds on (text); NULL: none */
    char read_etag[LNK_ETAG_MAX];
    bool client_if_match; /* PATCH: the client sent If-Match */
    int tries;
    char hash[LNK_POLICY_HASH_MAX]; /* "" until the password is hashed */
};

typedef void (*v1_step_fn)(struct lnk_req *r, struct v1_write *w);

/* The request's body (checked when the request came in) with the hash. */
static json_t *write_body(struct lnk_req *r, const struct v1_write *w)
{
    struct lnk_str b = lnk_req_body(r);
    json_t *body = NULL;
    const char *why;
    if (lnk_json_parse_object(b.ptr, b.len, &body, &why) != LNK_OK)
        body = json_object(); /* cannot be: it parsed when the request came in */
    if (w->hash[0])
        json_object_set_new(body, "password_hash", json_string(w->hash));
    return body;
}

/* ---- hashing a password off the loop --------------------------------------- */

struct hash_job {
    char *pw;
    size_t len;
    char hash[LNK_POLICY_HASH_MAX];
    v1_step_fn again;
};

static int hash_on_reader(struct lnk_op_call *op)
{
    struct hash_job *j = op->arg;
    return lnk_policy_hash_password(j->pw, j->len, j->hash);
}

static void then_hashed(struct lnk_req *r, struct lnk_store_op *op, void *ctx)
{
    struct v1_write *w = ctx;
    struct hash_job *j = LNK_OP_AS(op, call)->arg;
    if (op->rc != LNK_OK) {
        lnk_h_problem(r, 500, NULL, "the password could not be hashed", "/password");
        return;
    }
    memcpy(w->hash, j->hash, sizeof(w->hash));
    j->again(r, w);
}

static void hash_then(struct lnk_req *r, struct v1_write *w, const json_t *body, v1_step_fn again)
{
    const char *pw = json_string_value(json_object_get(body, "password"));
    struct lnk_op_call *op = LNK_OP_AS(lnk_store_op_new(LNK_OP_CALL), call);
    struct hash_job *j = lnk_arena_alloc(&op->op.arena, sizeof(*j));
    j->len = strlen(pw);
    j->pw = lnk_arena_strndup(&op->op.arena, pw, j->len);
    j->again = again;
    op->fn = hash_on_reader;
    op->arg = j;
    lnk_h_submit(r, &op->op, then_hashed, w);
}

/* Builds the options from body over w's stored ones into *text (NULL: none).
 * False when answered: a field error, or the password went to be hashed
 * (then `again` runs with the hash). */
static bool build_options(struct lnk_req *r, struct v1_write *w, const json_t *body,
                          struct lnk_arena *a, const char **text, v1_step_fn again)
{
    json_t *opts = NULL;
    json_t *current = w->stored ? json_loads(w->stored, 0, NULL) : NULL;
    struct lnk_policy_error err;
    int rc = lnk_policy_build(body, current, &opts, &err);
    json_decref(current);
    if (rc != LNK_OK) {
        if (strcmp(err.type, LNK_POLICY_E_NOT_HASHED) == 0)
            hash_then(r, w, body, again);
        else
            lnk_h_problem(r, 422, err.type, err.detail, err.field);
        return false;
    }
    *text = NULL;
    if (json_object_size(opts) > 0) {
        size_t len;
        char *s = lnk_json_dump(opts, &len);
        *text = lnk_arena_strndup(a, s, len);
        free(s);
    }
    json_decref(opts);
    return true;
}

/* ---- POST /api/v1/links ------------------------------------------------------ */

static void then_created(struct lnk_req *r, struct lnk_store_op *op, void *ctx)
{
    (void)ctx;
    if (op->rc == LNK_EEXISTS) {
        lnk_h_problem(r, 409, "code-taken", "the code is taken or was used before", "/code");
        return;
    }
    if (op->rc != LNK_OK) {
        lnk_h_store_error(r, op);
        return;
    }
    lnk_h_forget_url(r, &LNK_OP_AS(op, url)->out);
    answer_link(r, &LNK_OP_AS(op, url)->out, 201);
}

static void create_finish(struct lnk_req *r, struct v1_write *w)
{
    struct lnk_op_url *op = LNK_OP_AS(lnk_store_op_new(LNK_OP_URL_CREATE), url);
    struct lnk_h_invalid v = {0};
    bool set;
    struct lnk_url *u = &op->in;
    json_t *body = write_body(r, w);
    lnk_h_read_owner(body, lnk_h_scope(r), &v, &u->user_id);
    lnk_h_read_dest(body, "url", true, &v, &op->op.arena, &u->original_url);
    lnk_h_read_title(body, &v, &op->op.arena, &set, &u->title);
    u->is_active = true;
    lnk_h_read_flag(body, "active", &v, &set, &u->is_active);
    lnk_h_read_code(body, "code", &v, &op->op.arena, &u->short_code);
    bool ok = !lnk_h_invalid_answer(r, &v);
    if (ok && u->user_id == -1) {
        lnk_h_problem(r, 404, "user-not-found", "user not found", "/user_id");
        ok = false;
    }
    ok = ok && build_options(r, w, body, &op->op.arena, &u->opts, create_finish);
    json_decref(body);
    if (!ok) {
        lnk_store_op_free(&op->op);
        return;
    }
    lnk_h_submit(r, &op->op, then_created, NULL);
}

void lnk_h_v1_links_create(struct lnk_req *r)
{
    json_t *body;
    if (!lnk_h_json_body(r, &body))
        return;
    bool known = only_known_keys(r, body, true);
    json_decref(body);
    if (!known)
        return;
    struct v1_write *w = lnk_req_alloc(r, sizeof(*w));
    memset(w, 0, sizeof(*w));
    create_finish(r, w);
}

/* ---- GET /api/v1/links/{id} ------------------------------------------------- */

static void then_got(struct lnk_req *r, struct lnk_store_op *op, void *ctx)
{
    (void)ctx;
    const struct lnk_url *u = &LNK_OP_AS(op, url)->out;
    if (op->rc != LNK_OK) {
        lnk_h_store_error(r, op);
        return;
    }
    if (!lnk_h_url_visible(r, u->user_id))
        return;
    char etag[LNK_ETAG_MAX];
    lnk_url_etag(u, etag);
    struct lnk_str inm = lnk_str_trim(lnk_req_header(r, "if-none-match"));
    if (inm.ptr && (lnk_str_eq_cstr(inm, etag) || lnk_str_eq_cstr(inm, "*"))) {
        lnk_resp_header(r, "etag", etag);
        lnk_resp_empty(r, 304);
        return;
    }
    answer_link(r, u, 200);
}

void lnk_h_v1_link_get(struct lnk_req *r)
{
    int64_t id;
    if (!lnk_h_path_id(r, "link", &id))
        return;
    struct lnk_op_url *op = LNK_OP_AS(lnk_store_op_new(LNK_OP_URL_GET), url);
    op->id = id;
    lnk_h_submit(r, &op->op, then_got, NULL);
}

/* ---- PATCH /api/v1/links/{id} ----------------------------------------------- */

static void patch_read(struct lnk_req *r, struct v1_write *w);

static void then_patched(struct lnk_req *r, struct lnk_store_op *op, void *ctx)
{
    struct v1_write *w = ctx;
    if (op->rc == LNK_EEXPIRED && !w->client_if_match && w->tries < V1_PATCH_TRIES) {
        patch_read(r, w); /* another writer came between our read and write */
        return;
    }
    if (op->rc == LNK_EEXPIRED)
        lnk_h_problem(r, 412, "etag-mismatch",
                      w->client_if_match ? "the link changed since the ETag given in If-Match"
                                         : "the link kept changing under other writers",
                      NULL);
    else if (op->rc != LNK_OK)
        lnk_h_store_error(r, op);
    else {
        lnk_h_forget_url(r, &LNK_OP_AS(op, url)->out);
        answer_link(r, &LNK_OP_AS(op, url)->out, 200);
    }
}

static void patch_finish(struct lnk_req *r, struct v1_write *w)
{
    struct lnk_op_url *op = LNK_OP_AS(lnk_store_op_new(LNK_OP_URL_UPDATE), url);
    struct lnk_url_patch *p = &op->patch;
    struct lnk_h_invalid v = {0};
    op->id = w->id;
    op->owner_guard = lnk_h_scope(r);
    json_t *body = write_body(r, w);
    lnk_h_read_dest(body, "url", false, &v, &op->op.arena, &p->original_url);
    lnk_h_read_title(body, &v, &op->op.arena, &p->set_title, &p->title);
    lnk_h_read_flag(body, "active", &v, &p->set_is_active, &p->is_active);
    if (json_object_get(body, "code"))
        lnk_h_invalid_add(&v, "code", "cannot change: a code is never reissued");
    bool ok = !lnk_h_invalid_answer(r, &v) &&
              build_options(r, w, body, &op->op.arena, &p->opts, patch_finish);
    json_decref(body);
    if (!ok) {
        lnk_store_op_free(&op->op);
        return;
    }
    p->set_opts = true;
    p->if_match = lnk_arena_strdup(&op->op.arena, w->read_etag);
    lnk_h_submit(r, &op->op, then_patched, w);
}

static void then_patch_read(struct lnk_req *r, struct lnk_store_op *op, void *ctx)
{
    struct v1_write *w = ctx;
    const struct lnk_url *u = &LNK_OP_AS(op, url)->out;
    if (op->rc != LNK_OK) {
        lnk_h_store_error(r, op);
        return;
    }
    if (!lnk_h_url_visible(r, u->user_id))
        return;
    char etag[LNK_ETAG_MAX];
    lnk_url_etag(u, etag);
    if (w->client_if_match && strcmp(etag, w->read_etag) != 0) {
        lnk_h_problem(r, 412, "etag-mismatch", "the link changed since the ETag given in If-Match",
                      NULL);
        return;
    }
    memcpy(w->read_etag, etag, sizeof(etag));
    w->stored = NULL;
    if (u->opts) {
        size_t n = strlen(u->opts);
        char *copy = lnk_req_alloc(r, n + 1);
        memcpy(copy, u->opts, n + 1);
        w->stored = copy;
    }
    w->tries++;
    patch_finish(r, w);
}

static void patch_read(struct lnk_req *r, struct v1_write *w)
{
    struct lnk_op_url *op = LNK_OP_AS(lnk_store_op_new(LNK_OP_URL_GET), url);
    op->id = w->id;
    lnk_h_submit(r, &op->op, then_patch_read, w);
}

void lnk_h_v1_link_update(struct lnk_req *r)
{
    int64_t id;
    json_t *body;
    if (!lnk_h_path_id(r, "link", &id) || !lnk_h_json_body(r, &body))
        return;
    bool known = only_known_keys(r, body, false);
    json_decref(body);
    if (!known)
        return;
    struct v1_write *w = lnk_req_alloc(r, sizeof(*w));
    memset(w, 0, sizeof(*w));
    w->id = id;
    struct lnk_str im = lnk_str_trim(lnk_req_header(r, "if-match"));
    if (im.ptr) {
        if (im.len >= sizeof(w->read_etag)) {
            lnk_h_problem(r, 412, "etag-mismatch", "If-Match names no version of this link", NULL);
            return;
        }
        memcpy(w->read_etag, im.ptr, im.len);
        w->client_if_match = true;
    }
    patch_read(r, w);
}

/* ---- DELETE /api/v1/links/{id} ---------------------------------------------- */

static void then_deleted(struct lnk_req *r, struct lnk_store_op *op, void *ctx)
{
    (void)ctx;
    if (op->rc != LNK_OK) {
        lnk_h_store_error(r, op);
        return;
    }
    lnk_h_forget_url(r, &LNK_OP_AS(op, url)->out);
    lnk_resp_empty(r, 204);
}

/* A soft delete, as the root API's: the link stops redirecting and its
 * code is never handed out again. */
void lnk_h_v1_link_delete(struct lnk_req *r)
{
    int64_t id;
    if (!lnk_h_path_id(r, "link", &id))
        return;
    struct lnk_op_url *op = LNK_OP_AS(lnk_store_op_new(LNK_OP_URL_DELETE), url);
    op->id = id;
    op->owner_guard = lnk_h_scope(r);
    lnk_h_submit(r, &op->op, then_deleted, NULL);
}

/* ---- GET /api/v1/links ------------------------------------------------------ */

/* The cursor: the last id of a page in base62 behind a version letter, so
 * that its form can change without breaking clients that keep one. */
static void cursor_of(int64_t id, char out[16])
{
    out[0] = 'a';
    lnk_base62_encode((uint64_t)id, 9, out + 1);
}

static bool cursor_read(struct lnk_str s, int64_t *id)
{
    uint64_t v;
    if (s.len != 10 || s.ptr[0] != 'a' || lnk_base62_decode(s.ptr + 1, 9, &v) != LNK_OK ||
        v > (uint64_t)LNK_ID_MAX)
        return false;
    *id = (int64_t)v;
    return true;
}

struct list_ask {
    int64_t limit;
};

static void then_listed(struct lnk_req *r, struct lnk_store_op *op, void *ctx)
{
    const struct list_ask *ask = ctx;
    const struct lnk_op_list *l = LNK_OP_AS(op, list);
    if (op->rc != LNK_OK) {
        lnk_h_store_error(r, op);
        return;
    }
    size_t n = l->n_rows > (size_t)ask->limit ? (size_t)ask->limit : l->n_rows;
    json_t *data = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(data, link_json(r, &l->urls[i]));
    json_t *o = json_object();
    json_object_set_new(o, "data", data);
    if (l->n_rows > n) {
        char c[16];
        cursor_of(l->urls[n - 1].id, c);
        json_object_set_new(o, "next_cursor", json_string(c));
    } else {
        json_object_set_new(o, "next_cursor", json_null());
    }
    lnk_resp_json(r, 200, o);
}

/* One query parameter's value (decoded, in request memory); false when
 * absent. A value too long for any parameter here reads as empty. */
static bool param(struct lnk_req *r, const char *name, struct lnk_str *out)
{
    enum { CAP = 4 * LNK_POLICY_TAG_MAX + 2 };
    char *buf = lnk_req_alloc(r, CAP);
    size_t len = 0;
    int rc = lnk_query_get(lnk_req_query(r), name, buf, CAP, &len);
    if (rc == LNK_ENOTFOUND)
        return false;
    *out = lnk_str_make(buf, rc == LNK_OK ? len : 0);
    return true;
}

void lnk_h_v1_links_list(struct lnk_req *r)
{
    struct lnk_str s;
    long long n;
    struct list_ask *ask = lnk_req_alloc(r, sizeof(*ask));
    ask->limit = V1_LIMIT_DEFAULT;
    struct lnk_op_list *op = LNK_OP_AS(lnk_store_op_new(LNK_OP_URL_LIST), list);
    struct lnk_list_query *q = &op->q;
    const char *bad = NULL, *pointer = NULL;
    if (param(r, "limit", &s) && (lnk_str_to_i64(s, &n) != LNK_OK || n < 1 || n > V1_LIMIT_MAX)) {
        bad = "limit must be an integer from 1 to 1000";
        pointer = "limit";
    } else if (param(r, "limit", &s)) {
        ask->limit = n;
    }
    if (!bad && param(r, "cursor", &s) && !cursor_read(s, &q->after_id)) {
        bad = "cursor is not one this API gave";
        pointer = "cursor";
    }
    if (!bad && param(r, "active", &s)) {
        q->is_active = lnk_str_eq_cstr(s, "true") ? 1 : lnk_str_eq_cstr(s, "false") ? 0 : -2;
        if (q->is_active == -2) {
            bad = "active must be true or false";
            pointer = "active";
        }
    }
    if (!bad && param(r, "tag", &s)) {
        if (s.len == 0 || s.len > 4 * LNK_POLICY_TAG_MAX) {
            bad = "tag must be a non-empty tag";
            pointer = "tag";
        } else {
            q->tag = lnk_arena_strndup(&op->op.arena, s.ptr, s.len);
            for (char *t = (char *)q->tag; *t; t++)
                *t = (char)(*t >= 'A' && *t <= 'Z' ? *t + 32 : *t);
        }
    }
    if (!bad && param(r, "user_id", &s)) {
        if (lnk_str_to_i64(s, &n) != LNK_OK || n < 1 || n > LNK_ID_MAX) {
            bad = "user_id must be a positive id";
            pointer = "user_id";
        } else {
            q->has_user_id = true;
            q->user_id = n;
        }
    }
    if (bad) {
        char ptr[32];
        snprintf(ptr, sizeof(ptr), "/query/%s", pointer);
        lnk_store_op_free(&op->op);
        lnk_h_problem(r, 400, "invalid-parameter", bad, ptr);
        return;
    }
    if (lnk_h_scope(r)) {
        q->has_owner_id = true;
        q->owner_id = lnk_h_scope(r);
    }
    q->page = 1;
    q->per_page = ask->limit + 1; /* one more tells whether a next page exists */
    lnk_h_submit(r, &op->op, then_listed, ask);
}
