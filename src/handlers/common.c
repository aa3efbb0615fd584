/* SPDX-License-Identifier: MIT */
/* Shared request steps: path ids, JSON bodies, list queries, field checks,
 * store submission and the JSON representations. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "handlers/handlers_int.h"
#include "linkd/arena.h"
#include "linkd/err.h"
#include "linkd/json.h"
#include "linkd/metrics.h"
#include "linkd/model.h"
#include "linkd/name.h"
#include "linkd/query.h"
#include "linkd/timefmt.h"

#define PER_PAGE_DEFAULT 20
#define PER_PAGE_MAX     1000

bool lnk_h_path_id(struct lnk_req *r, const char *what, int64_t *id)
{
    long long v;
    struct lnk_str p = lnk_req_param(r);
    /* digits only: "+1", "-1", " 1" and "01x" are not ids */
    bool digits = p.len > 0 && p.len <= 19;
    for (size_t i = 0; digits && i < p.len; i++)
        digits = p.ptr[i] >= '0' && p.ptr[i] <= '9';
    if (digits && lnk_str_to_i64(p, &v) == LNK_OK && v > 0 && v <= LNK_ID_MAX) {
        *id = v;
        return true;
    }
    char msg[64];
    snprintf(msg, sizeof(msg), "%s not found", what);
    lnk_resp_error(r, 404, msg, NULL);
    return false;
}

static bool has_prefix_nocase(struct lnk_str s, const char *prefix)
{
    size_t n = strlen(prefix);
    return s.len >= n && lnk_str_eq_nocase(lnk_str_make(s.ptr, n), lnk_str_make(prefix, n));
}

bool lnk_h_json_body(struct lnk_req *r, json_t **out)
{
    struct lnk_str body = lnk_req_body(r);
    if (body.len > LNK_JSON_BODY_MAX) {
        lnk_metrics_add(lnk_req_env(r)->mw, LNK_MC_body_too_large_total, 1);
        lnk_resp_error(r, 413, "request body too large (JSON bodies are limited to 1 MiB)", NULL);
        return false;
    }
    struct lnk_str ct = lnk_str_trim(lnk_req_header(r, "content-type"));
    if (has_prefix_nocase(ct, "multipart/") ||
        has_prefix_nocase(ct, "application/x-www-form-urlencoded")) {
        lnk_resp_error(r, 400, "expected a JSON object body", NULL);
        return false;
    }
    const char *why = NULL;
    int rc = lnk_json_parse_object(body.ptr, body.len, out, &why);
    json_t *keys = rc == LNK_ERANGE ? lnk_json_oversized_keys(body.ptr, body.len) : NULL;
    if (keys) {
        /* {"user_id": 18446744073709551616} is a field error, as 2^53 is
         * (docs/security.md#ids): name the field rather than the body. */
        json_t *d = json_object(), *k;
        size_t i;
        json_array_foreach(keys, i, k)
            json_object_set_new(d, json_string_value(k), json_string(LNK_H_ID_TOO_LARGE));
        json_decref(keys);
        lnk_resp_error(r, 422, "validation failed", d);
        return false;
    }
    if (rc != LNK_OK) {
        json_t *d = json_object();
        json_object_set_new(d, "body", json_string(why ? why : "invalid JSON"));
        lnk_resp_error(r, 400, "expected a JSON object body", d);
        return false;
    }
    return true;
}

/* One integer query parameter; false (answered 400) when malformed. Paging
 * values must be positive; id filters at most LNK_ID_MAX, which no row can
 * exceed (an id past it would also name a row other than the one a JSON
 * client meant, docs/security.md#ids). */
static bool query_i64(struct lnk_req *r, const char *key, bool is_id, bool *has, int64_t *v)
{
    int rc = lnk_query_get_i64(lnk_req_query(r), key, v);
    *has = rc == LNK_OK;
    if (rc == LNK_ENOTFOUND)
        return true;
    if (rc == LNK_OK && (is_id ? *v <= LNK_ID_MAX : *v >= 1))
        return true;
    char msg[128];
    snprintf(msg, sizeof(msg), "query parameter '%s' must be %s", key,
             is_id ? "an integer of at most 9007199254740991 (2^53 - 1)" : "a positive integer");
    lnk_resp_error(r, 400, msg, NULL);
    return false;
}

static bool query_paging(struct lnk_req *r, struct lnk_list_query *q)
{
    bool has_page, has_per;
    int64_t page = 0, per = 0;
    if (!query_i64(r, "page", false, &has_page, &page) ||
        !query_i64(r, "per_page", false, &has_per, &per))
        return false;
    if (!has_page && !has_per)
        return true; /* every row (CONTRACT.md §2.1) */
    q->page = has_page ? page : 1;
    q->per_page = has_per ? (per > PER_PAGE_MAX ? PER_PAGE_MAX : per) : PER_PAGE_DEFAULT;
    return true;
}

bool lnk_h_list_query(struct lnk_req *r, unsigned filters, struct lnk_list_query *q)
{
    memset(q, 0, sizeof(*q));
    q->is_active = -1;
    if (!query_paging(r, q))
        return false;
    if ((filters & LNK_H_FILTER_USER_ID) &&
        !query_i64(r, "user_id", true, &q->has_user_id, &q->user_id))
        return false;
    if ((filters & LNK_H_FILTER_URL_ID) &&
        !query_i64(r, "url_id", true, &q->has_url_id, &q->url_id))
        return false;
    if (filters & LNK_H_FILTER_IS_ACTIVE) {
        bool b;
        int rc = lnk_query_get_bool(lnk_req_query(r), "is_active", &b);
        if (rc == LNK_OK) {
            q->is_active = b;
        } else if (rc != LNK_ENOTFOUND) {
            lnk_resp_error(r, 400, "query parameter 'is_active' must be true or false", NULL);
            return false;
        }
    }
    if (filters & LNK_H_FILTER_EVENT_TYPE) {
        char *buf = lnk_req_alloc(r, LNK_EVENT_TYPE_MAX * 4 + 1);
        size_t len;
        int rc =
            lnk_query_get(lnk_req_query(r), "event_type", buf, LNK_EVENT_TYPE_MAX * 4 + 1, &len);
        if (rc == LNK_OK) {
            q->event_type = buf;
        } else if (rc != LNK_ENOTFOUND) {
            lnk_resp_error(r, 400, "query parameter 'event_type' is malformed", NULL);
            return false;
        }
    }
    return true;
}

int64_t lnk_h_scope(const struct lnk_req *r)
{
    const struct lnk_principal *p = lnk_req_principal(r);
    return p->admin ? 0 : p->user_id;
}

bool lnk_h_url_visible(struct lnk_req *r, int64_t owner)
{
    int64_t scope = lnk_h_scope(r);
    if (!scope || scope == owner)
        return true;
    lnk_resp_error(r, 404, "url not found", NULL);
    return false;
}

/* What to do when an op completes: `then`, or `step` followed by `next`. */
struct pending {
    struct lnk_req *r;
    lnk_h_then_fn then;
    lnk_h_step_fn step;
    lnk_handler_fn next;
    void *ctx;
    void (*release)(void *ctx); /* always, after then (or instead of it) */
};

static void on_done(struct lnk_store_op *op)
{
    struct pending *p = op->udata;
    if (lnk_req_alive(p->r)) {
        if (p->then)
            p->then(p->r, op, p->ctx);
        else
            p->step(p->r, op, p->next, p->ctx);
    }
    if (p->release)
        p->release(p->ctx);
    lnk_req_release(p->r);
    lnk_store_op_free(op);
    free(p);
}

static void submit(struct lnk_req *r, struct lnk_store_op *op, const struct pending *how)
{
    struct lnk_worker_env *env = lnk_req_env(r);
    struct pending *p = lnk_xmalloc(sizeof(*p));
    *p = *how;
    p->r = lnk_req_retain(r);
    op->udata = p;
    op->done = on_done;
    op->origin = env->exec;
    lnk_store_submit(env->store, env->conn, op);
}

void lnk_h_submit(struct lnk_req *r, struct lnk_store_op *op, lnk_h_then_fn then, void *ctx)
{
    submit(r, op, &(struct pending){NULL, then, NULL, NULL, ctx, NULL});
}

void lnk_h_submit_owned(struct lnk_req *r, struct lnk_store_op *op, lnk_h_then_fn then, void *ctx,
                        void (*release)(void *ctx))
{
    submit(r, op, &(struct pending){NULL, then, NULL, NULL, ctx, release});
}

void lnk_h_submit_step(struct lnk_req *r, struct lnk_store_op *op, lnk_h_step_fn step,
                       lnk_handler_fn next, void *ctx)
{
    submit(r, op, &(struct pending){NULL, NULL, step, next, ctx, NULL});
}

void lnk_h_invalid_add(struct lnk_h_invalid *v, const char *field, const char *reason)
{
    if (!v->details)
        v->details = json_object();
    if (!json_object_get(v->details, field))
        json_object_set_new(v->details, field, json_string(reason));
}

const char *lnk_h_string_problem(int rc)
{
    return rc == LNK_ERANGE ? "must not contain NUL characters" : "must be a string";
}

bool lnk_h_invalid_answer(struct lnk_req *r, struct lnk_h_invalid *v)
{
    if (!v->details)
        return false;
    json_t *d = v->details;
    v->details = NULL;
    lnk_resp_error(r, 422, "validation failed", d);
    return true;
}

bool lnk_h_text_field(const json_t *body, const char *key, bool required, size_t max,
                      struct lnk_h_invalid *v, struct lnk_arena *a, const char **out)
{
    const char *s;
    size_t len;
    *out = NULL;
    int rc = lnk_json_get_string(body, key, &s, &len);
    if (rc == LNK_ENOTFOUND) {
        if (required)
            lnk_h_invalid_add(v, key, "is required");
        return !required;
    }
    if (rc != LNK_OK) {
        lnk_h_invalid_add(v, key, lnk_h_string_problem(rc));
        return false;
    }
    struct lnk_str t = lnk_str_trim(lnk_str_make(s, len));
    if (t.len == 0) {
        lnk_h_invalid_add(v, key, "must not be empty");
        return false;
    }
    if (lnk_utf8_len(t.ptr, t.len) > max) {
        lnk_h_invalid_add(v, key, "is too long");
        return false;
    }
    const char *why = NULL;
    if (lnk_name_check(t.ptr, t.len, &why) != LNK_OK) {
        lnk_h_invalid_add(v, key, why);
        return false;
    }
    *out = lnk_arena_strndup(a, t.ptr, t.len);
    return true;
}

static json_t *ts_json(int64_t t)
{
    char buf[LNK_TS_LEN + 1];
    lnk_ts_format(t, buf);
    return json_string(buf);
}

json_t *lnk_h_user_json(const struct lnk_user *u)
{
    json_t *o = json_object();
    json_object_set_new(o, "id", json_integer(u->id));
    json_object_set_new(o, "username", json_string(u->username));
    json_object_set_new(o, "email", json_string(u->email));
    json_object_set_new(o, "created_at", ts_json(u->created_at));
    return o;
}

json_t *lnk_h_url_json(const struct lnk_url *u)
{
    json_t *o = json_object();
    json_object_set_new(o, "id", json_integer(u->id));
    json_object_set_new(o, "user_id", json_integer(u->user_id));
    json_object_set_new(o, "short_code", json_string(u->short_code));
    json_object_set_new(o, "original_url", json_string(u->original_url));
    json_object_set_new(o, "title", u->title ? json_string(u->title) : json_null());
    json_object_set_new(o, "is_active", json_boolean(u->is_active));
    json_object_set_new(o, "created_at", ts_json(u->created_at));
    json_object_set_new(o, "updated_at", ts_json(u->updated_at));
    return o;
}

json_t *lnk_h_event_json(const struct lnk_event *e)
{
    json_t *o = json_object();
    json_object_set_new(o, "id", json_integer(e->id));
    json_object_set_new(o, "url_id", json_integer(e->url_id));
    json_object_set_new(o, "user_id", e->user_id ? json_integer(e->user_id) : json_null());
    json_object_set_new(o, "event_type", json_string(e->event_type));
    json_object_set_new(o, "timestamp", ts_json(e->timestamp));
    /* details is stored as JSON object text; anything else reads as {} */
    json_t *d = e->details ? json_loads(e->details, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL) : NULL;
    if (!json_is_object(d)) {
        json_decref(d);
        d = json_object();
    }
    json_object_set_new(o, "details", d);
    return o;
}

/* True when If-None-Match is "*" or a list naming etag. Weak comparison
 * (RFC 9110 §13.1.2): a W/ prefix still matches. */
bool lnk_h_etag_matches(struct lnk_str inm, const char *etag)
{
    size_t etag_len = strlen(etag);
    if (!inm.ptr)
        return false;
    const char *p = inm.ptr, *end = inm.ptr + inm.len;
    while (p < end) {
        const char *comma = memchr(p, ',', (size_t)(end - p));
        struct lnk_str t = lnk_str_trim(lnk_str_make(p, (size_t)((comma ? comma : end) - p)));
        if (t.len > 2 && t.ptr[0] == 'W' && t.ptr[1] == '/')
            t = lnk_str_make(t.ptr + 2, t.len - 2);
        if (lnk_str_eq_cstr(t, "*") || (t.len == etag_len && memcmp(t.ptr, etag, etag_len) == 0))
            return true;
        p = comma ? comma + 1 : end;
    }
    return false;
}
