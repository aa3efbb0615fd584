/* SPDX-License-Identifier: MIT */
/* /api/v1 jobs (v1_int.h): one create, update or delete of a link with its
 * options, for single requests and for each item of bulk and import
 * requests alike. The root API's rules for destinations, codes, titles and
 * owners apply (urls.c); the options are built by the policy module; a
 * password is hashed on a reader thread (Argon2id takes tens of
 * milliseconds), never on the loop. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "handlers/v1_int.h"
#include "linkd/config.h"
#include "linkd/domains.h"
#include "linkd/err.h"
#include "linkd/json.h"
#include "linkd/query.h"
#include "linkd/timefmt.h"

#define V1_PATCH_TRIES 3 /* reads and writes of an update racing other writers */

/* ---- the representation ----------------------------------------------------- */

json_t *lnk_v1_time_json(int64_t t)
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
    return json_is_integer(v) ? lnk_v1_time_json(json_integer_value(v)) : json_null();
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

/* A link's domain as its host, and its short URL on that host (the scheme
 * of LINKD_PUBLIC_URL, else the request's); the default domain's as the
 * root API shows it. A domain this node does not know yet (made on another
 * node moments ago) reads as the default until the table is read again. */
static void domain_view(struct lnk_req *r, const struct lnk_url *u, json_t *o)
{
    struct lnk_worker_env *env = lnk_req_env(r);
    struct lnk_domain d;
    if (!u->domain_id || !lnk_domains_by_id(env->domains, u->domain_id, lnk_h_req_alloc, r, &d)) {
        json_object_set_new(o, "domain", json_null());
        json_object_set_new(o, "short_url", lnk_h_short_url_json(r, u->short_code));
        return;
    }
    const char *pub = env->cfg->public_url;
    const char *scheme = pub && strncmp(pub, "https://", 8) == 0  ? "https"
                         : pub && strncmp(pub, "http://", 7) == 0 ? "http"
                                                                  : lnk_req_scheme(r);
    char buf[LNK_DOMAIN_HOST_MAX + LNK_CODE_MAX + 16];
    snprintf(buf, sizeof(buf), "%s://%s/%s", scheme, d.host, u->short_code);
    json_object_set_new(o, "domain", json_string(d.host));
    json_object_set_new(o, "short_url", json_string(buf));
}

json_t *lnk_v1_short_url_json(struct lnk_req *r, const struct lnk_url *u)
{
    json_t *o = json_object();
    domain_view(r, u, o);
    json_t *url = json_incref(json_object_get(o, "short_url"));
    json_decref(o);
    return url;
}

json_t *lnk_v1_link_json(struct lnk_req *r, const struct lnk_url *u)
{
    json_t *opts = u->opts ? json_loads(u->opts, 0, NULL) : NULL;
    json_t *o = json_object();
    json_object_set_new(o, "id", json_integer(u->id));
    json_object_set_new(o, "user_id", json_integer(u->user_id));
    json_object_set_new(o, "code", json_string(u->short_code));
    domain_view(r, u, o);
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
    json_object_set_new(o, "created_at", lnk_v1_time_json(u->created_at));
    json_object_set_new(o, "updated_at", lnk_v1_time_json(u->updated_at));
    json_decref(opts);
    return o;
}

const struct lnk_url *lnk_v1_read_link(struct lnk_req *r, const struct lnk_store_op *op)
{
    const struct lnk_url *u = &LNK_OP_AS(op, url)->out;
    if (op->rc != LNK_OK) {
        lnk_h_store_error(r, op);
        return NULL;
    }
    return lnk_h_url_visible(r, u->user_id) ? u : NULL;
}

bool lnk_v1_param(struct lnk_req *r, const char *name, struct lnk_str *out)
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

/* ---- finishing a job --------------------------------------------------------- */

static void fail(struct lnk_req *r, struct lnk_v1_job *j, int status, const char *slug,
                 const char *detail, const char *pointer)
{
    char full[200];
    if (pointer)
        snprintf(full, sizeof(full), "%s%s", j->prefix, pointer);
    j->done(r, j, status, lnk_h_problem_new(r, status, slug, detail, pointer ? full : NULL), NULL);
}

static void fail_store(struct lnk_req *r, struct lnk_v1_job *j, const struct lnk_store_op *op)
{
    int status;
    const char *field = op->err_field ? op->err_field : "";
    if (op->rc == LNK_ENOTFOUND && strcmp(field, "user") == 0) {
        fail(r, j, 404, "user-not-found", "user not found", "/user_id");
        return;
    }
    json_t *p = lnk_h_problem_of_store(r, op, &status);
    if (op->rc == LNK_ENOTFOUND && strcmp(field, "url") == 0)
        json_object_set_new(p, "detail", json_string("link not found"));
    j->done(r, j, status, p, NULL);
}

/* A field error collected the root API's way ({"field": "reason"}): the
 * first, as a problem. */
static bool fail_invalid(struct lnk_req *r, struct lnk_v1_job *j, struct lnk_h_invalid *v)
{
    if (!v->details)
        return false;
    const char *key = NULL;
    json_t *val = NULL;
    void *it = json_object_iter(v->details);
    if (it) {
        key = json_object_iter_key(it);
        val = json_object_iter_value(it);
    }
    char pointer[96], detail[160];
    snprintf(pointer, sizeof(pointer), "/%s", key ? key : "");
    snprintf(detail, sizeof(detail), "%s %s", key ? key : "input",
             json_is_string(val) ? json_string_value(val) : "is invalid");
    fail(r, j, 422, "validation-failed", detail, pointer);
    json_decref(v->details);
    v->details = NULL;
    return true;
}

/* ---- reading a job's input ---------------------------------------------------- */

static const char *const core_keys[] = {"url", "code", "title", "active", "user_id", "domain"};
static const char *const option_keys[] = {
    "redirect_type", "forward_query", "utm",          "tags",     "notes", "valid_from",
    "valid_until",   "max_clicks",    "fallback_url", "password", "rules", "split"};

static bool known_key(const char *key, bool create)
{
    for (size_t i = 0; i < sizeof(core_keys) / sizeof(core_keys[0]); i++)
        if (strcmp(key, core_keys[i]) == 0)
            return create || (strcmp(key, "user_id") != 0 && strcmp(key, "domain") != 0);
    for (size_t i = 0; i < sizeof(option_keys) / sizeof(option_keys[0]); i++)
        if (strcmp(key, option_keys[i]) == 0)
            return true;
    return false;
}

/* The input as an object with the password's hash once known; NULL
 * (failed) when it is not an object or names a key the model does not
 * know (a typo must not pass as an ignored field). */
static json_t *job_input(struct lnk_req *r, struct lnk_v1_job *j)
{
    json_t *in = NULL;
    const char *why, *key;
    json_t *val;
    if (lnk_json_parse_object(j->input, j->input_len, &in, &why) != LNK_OK) {
        fail(r, j, 422, "validation-failed", "a link must be a JSON object", "");
        return NULL;
    }
    json_object_foreach(in, key, val)
    {
        if (known_key(key, j->kind == LNK_V1_CREATE))
            continue;
        char pointer[80], detail[120];
        snprintf(pointer, sizeof(pointer), "/%.64s", key);
        snprintf(detail, sizeof(detail), "unknown field \"%.64s\"%s", key,
                 strcmp(key, "user_id") == 0  ? ": a link's owner does not change"
                 : strcmp(key, "domain") == 0 ? ": a link's domain does not change"
                                              : "");
        fail(r, j, 422, LNK_POLICY_E_FIELD, detail, pointer);
        json_decref(in);
        return NULL;
    }
    if (j->hash[0])
        json_object_set_new(in, "password_hash", json_string(j->hash));
    return in;
}

/* ---- hashing a password off the loop --------------------------------------- */

typedef void (*step_fn)(struct lnk_req *r, struct lnk_v1_job *j);

struct hash_work {
    char *pw;
    size_t len;
    char hash[LNK_POLICY_HASH_MAX];
    step_fn again;
};

static int hash_on_reader(struct lnk_op_call *op)
{
    struct hash_work *w = op->arg;
    return lnk_policy_hash_password(w->pw, w->len, w->hash);
}

static void then_hashed(struct lnk_req *r, struct lnk_store_op *op, void *ctx)
{
    struct lnk_v1_job *j = ctx;
    struct hash_work *w = LNK_OP_AS(op, call)->arg;
    if (op->rc != LNK_OK) {
        fail(r, j, 500, NULL, "the password could not be hashed", "/password");
        return;
    }
    memcpy(j->hash, w->hash, sizeof(j->hash));
    w->again(r, j);
}

static void hash_then(struct lnk_req *r, struct lnk_v1_job *j, const json_t *in, step_fn again)
{
    const char *pw = json_string_value(json_object_get(in, "password"));
    struct lnk_op_call *op = LNK_OP_AS(lnk_store_op_new(LNK_OP_CALL), call);
    struct hash_work *w = lnk_arena_alloc(&op->op.arena, sizeof(*w));
    w->len = strlen(pw);
    w->pw = lnk_arena_strndup(&op->op.arena, pw, w->len);
    w->again = again;
    op->fn = hash_on_reader;
    op->arg = w;
    lnk_h_submit(r, &op->op, then_hashed, j);
}

/* Builds the options from in over the job's stored ones into *text (NULL:
 * none). False when the job went on elsewhere: a field error (done), or the
 * password went to be hashed (then `again` runs with the hash). */
static bool build_options(struct lnk_req *r, struct lnk_v1_job *j, const json_t *in,
                          struct lnk_arena *a, const char **text, step_fn again)
{
    json_t *opts = NULL;
    json_t *current = j->stored ? json_loads(j->stored, 0, NULL) : NULL;
    struct lnk_policy_error err;
    int rc = lnk_policy_build(in, current, &opts, &err);
    json_decref(current);
    if (rc != LNK_OK) {
        if (strcmp(err.type, LNK_POLICY_E_NOT_HASHED) == 0)
            hash_then(r, j, in, again);
        else
            fail(r, j, 422, err.type, err.detail, err.field);
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

/* ---- create ----------------------------------------------------------------- */

static void then_created(struct lnk_req *r, struct lnk_store_op *op, void *ctx)
{
    struct lnk_v1_job *j = ctx;
    const struct lnk_url *u = &LNK_OP_AS(op, url)->out;
    if (op->rc == LNK_EEXISTS) {
        fail(r, j, 409, "code-taken", "the code is taken or was used before", "/code");
        return;
    }
    if (op->rc != LNK_OK) {
        fail_store(r, j, op);
        return;
    }
    lnk_h_forget_url(r, u);
    j->done(r, j, 201, lnk_v1_link_json(r, u), u);
}

/* "domain": a listed host (any case), or null/absent for the default
 * domain. False when the job failed (422 unknown-domain). */
static bool read_domain(struct lnk_req *r, struct lnk_v1_job *j, const json_t *in, int64_t *out)
{
    const json_t *v = json_object_get(in, "domain");
    struct lnk_domain d;
    *out = 0;
    if (!v || json_is_null(v))
        return true;
    if (!json_is_string(v)) {
        fail(r, j, 422, LNK_POLICY_E_FIELD, "must be a host name or null", "/domain");
        return false;
    }
    struct lnk_str host = lnk_str_make(json_string_value(v), json_string_length(v));
    if (memchr(host.ptr, ':', host.len) ||
        !lnk_domains_by_host(lnk_req_env(r)->domains, host, lnk_h_req_alloc, r, &d)) {
        fail(r, j, 422, "unknown-domain", "no such domain: see /api/v1/domains", "/domain");
        return false;
    }
    *out = d.id;
    return true;
}

static void create_run(struct lnk_req *r, struct lnk_v1_job *j)
{
    json_t *in = job_input(r, j);
    if (!in)
        return;
    struct lnk_op_url *op = LNK_OP_AS(lnk_store_op_new(LNK_OP_URL_CREATE), url);
    struct lnk_h_invalid v = {0};
    bool set;
    struct lnk_url *u = &op->in;
    lnk_h_read_owner(in, lnk_h_scope(r), &v, &u->user_id);
    lnk_h_read_dest(in, "url", true, &v, &op->op.arena, &u->original_url);
    lnk_h_read_title(in, &v, &op->op.arena, &set, &u->title);
    u->is_active = true;
    lnk_h_read_flag(in, "active", &v, &set, &u->is_active);
    lnk_h_read_code(in, "code", &v, &op->op.arena, &u->short_code);
    bool ok = !fail_invalid(r, j, &v);
    if (ok && u->user_id == -1) {
        fail(r, j, 404, "user-not-found", "user not found", "/user_id");
        ok = false;
    }
    ok = ok && read_domain(r, j, in, &u->domain_id);
    ok = ok && build_options(r, j, in, &op->op.arena, &u->opts, create_run);
    json_decref(in);
    if (!ok) {
        lnk_store_op_free(&op->op);
        return;
    }
    lnk_h_submit(r, &op->op, then_created, j);
}

/* ---- update ------------------------------------------------------------------ */

static void update_read(struct lnk_req *r, struct lnk_v1_job *j);

static void then_updated(struct lnk_req *r, struct lnk_store_op *op, void *ctx)
{
    struct lnk_v1_job *j = ctx;
    const struct lnk_url *u = &LNK_OP_AS(op, url)->out;
    if (op->rc == LNK_EEXPIRED && !j->if_match[0] && j->tries < V1_PATCH_TRIES) {
        update_read(r, j); /* another writer came between our read and write */
        return;
    }
    if (op->rc == LNK_EEXPIRED) {
        fail(r, j, 412, "etag-mismatch",
             j->if_match[0] ? "the link changed since the ETag given in If-Match"
                            : "the link kept changing under other writers",
             NULL);
        return;
    }
    if (op->rc != LNK_OK) {
        fail_store(r, j, op);
        return;
    }
    lnk_h_forget_url(r, u);
    j->done(r, j, 200, lnk_v1_link_json(r, u), u);
}

static void update_write(struct lnk_req *r, struct lnk_v1_job *j)
{
    json_t *in = job_input(r, j);
    if (!in)
        return;
    struct lnk_op_url *op = LNK_OP_AS(lnk_store_op_new(LNK_OP_URL_UPDATE), url);
    struct lnk_url_patch *p = &op->patch;
    struct lnk_h_invalid v = {0};
    op->id = j->id;
    op->owner_guard = lnk_h_scope(r);
    lnk_h_read_dest(in, "url", false, &v, &op->op.arena, &p->original_url);
    lnk_h_read_title(in, &v, &op->op.arena, &p->set_title, &p->title);
    lnk_h_read_flag(in, "active", &v, &p->set_is_active, &p->is_active);
    if (json_object_get(in, "code"))
        lnk_h_invalid_add(&v, "code", "cannot change: a code is never reissued");
    bool ok =
        !fail_invalid(r, j, &v) && build_options(r, j, in, &op->op.arena, &p->opts, update_write);
    json_decref(in);
    if (!ok) {
        lnk_store_op_free(&op->op);
        return;
    }
    p->set_opts = true;
    p->if_match = lnk_arena_strdup(&op->op.arena, j->read_etag);
    lnk_h_submit(r, &op->op, then_updated, j);
}

static void then_update_read(struct lnk_req *r, struct lnk_store_op *op, void *ctx)
{
    struct lnk_v1_job *j = ctx;
    const struct lnk_url *u = &LNK_OP_AS(op, url)->out;
    int64_t scope = lnk_h_scope(r);
    if (op->rc == LNK_OK && scope && u->user_id != scope)
        op->rc = LNK_ENOTFOUND; /* another user's link does not exist for this key */
    if (op->rc != LNK_OK) {
        fail_store(r, j, op);
        return;
    }
    char etag[LNK_ETAG_MAX];
    lnk_url_etag(u, etag);
    if (j->if_match[0] && strcmp(etag, j->if_match) != 0) {
        fail(r, j, 412, "etag-mismatch", "the link changed since the ETag given in If-Match", NULL);
        return;
    }
    memcpy(j->read_etag, etag, sizeof(etag));
    j->stored = NULL;
    if (u->opts) {
        size_t n = strlen(u->opts);
        char *copy = lnk_req_alloc(r, n + 1);
        memcpy(copy, u->opts, n + 1);
        j->stored = copy;
    }
    j->tries++;
    update_write(r, j);
}

/* An update reads the link first: its options are what the new ones build
 * on, and its entity tag makes the write conditional. */
static void update_read(struct lnk_req *r, struct lnk_v1_job *j)
{
    struct lnk_op_url *op = LNK_OP_AS(lnk_store_op_new(LNK_OP_URL_GET), url);
    op->id = j->id;
    lnk_h_submit(r, &op->op, then_update_read, j);
}

/* ---- delete ------------------------------------------------------------------ */

static void then_deleted(struct lnk_req *r, struct lnk_store_op *op, void *ctx)
{
    struct lnk_v1_job *j = ctx;
    if (op->rc != LNK_OK) {
        fail_store(r, j, op);
        return;
    }
    lnk_h_forget_url(r, &LNK_OP_AS(op, url)->out);
    j->done(r, j, 204, NULL, &LNK_OP_AS(op, url)->out);
}

/* A soft delete, as the root API's: the link stops redirecting and its
 * code is never handed out again. */
static void delete_run(struct lnk_req *r, struct lnk_v1_job *j)
{
    struct lnk_op_url *op = LNK_OP_AS(lnk_store_op_new(LNK_OP_URL_DELETE), url);
    op->id = j->id;
    op->owner_guard = lnk_h_scope(r);
    lnk_h_submit(r, &op->op, then_deleted, j);
}

/* ---- jobs -------------------------------------------------------------------- */

struct lnk_v1_job *lnk_v1_job_new(struct lnk_req *r, enum lnk_v1_job_kind kind, const char *input,
                                  size_t input_len, lnk_v1_done_fn done, void *ctx)
{
    struct lnk_v1_job *j = lnk_req_alloc(r, sizeof(*j));
    memset(j, 0, sizeof(*j));
    j->kind = kind;
    j->done = done;
    j->ctx = ctx;
    j->prefix = "";
    if (input) {
        char *copy = lnk_req_alloc(r, input_len + 1);
        memcpy(copy, input, input_len);
        copy[input_len] = '\0';
        j->input = copy;
        j->input_len = input_len;
    }
    return j;
}

void lnk_v1_job_run(struct lnk_req *r, struct lnk_v1_job *j)
{
    switch (j->kind) {
    case LNK_V1_CREATE:
        create_run(r, j);
        return;
    case LNK_V1_UPDATE:
        update_read(r, j);
        return;
    case LNK_V1_DELETE:
        delete_run(r, j);
        return;
    }
}
