/* SPDX-License-Identifier: MIT */
/* /api/v1/links and /api/v1/links/{id} (docs/api-v1.md): a job per write
 * (v1_jobs.c), cursor pages with filters, entity tags (ETag, If-Match,
 * If-None-Match), and problem details for every error. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "handlers/v1_int.h"
#include "linkd/base62.h"
#include "linkd/err.h"
#include "linkd/json.h"
#include "linkd/policy.h"
#include "linkd/query.h"
#include "linkd/str.h"
#include "linkd/timefmt.h"

#define V1_LIMIT_DEFAULT 50
#define V1_LIMIT_MAX     1000

/* A single request's job is answered as it ends: the link with its ETag
 * (and Location for a new one), a problem, or 204. */
static void answer(struct lnk_req *r, struct lnk_v1_job *j, int status, json_t *body,
                   const struct lnk_url *u)
{
    (void)j;
    if (u && body) {
        char etag[LNK_ETAG_MAX];
        lnk_url_etag(u, etag);
        lnk_resp_header(r, "etag", etag);
    }
    if (status == 201) {
        char loc[64];
        snprintf(loc, sizeof(loc), "/api/v1/links/%lld", (long long)u->id);
        lnk_resp_header(r, "location", loc);
    }
    if (body)
        lnk_resp_json(r, status, body);
    else
        lnk_resp_empty(r, status);
}

/* ---- POST /api/v1/links ------------------------------------------------------ */

void lnk_h_v1_links_create(struct lnk_req *r)
{
    json_t *body;
    if (lnk_h_idempotent(r, lnk_h_v1_links_create) || !lnk_h_json_body(r, &body))
        return;
    json_decref(body);
    struct lnk_str b = lnk_req_body(r);
    lnk_v1_job_run(r, lnk_v1_job_new(r, LNK_V1_CREATE, b.ptr, b.len, answer, NULL));
}

/* ---- GET /api/v1/links/{id} ------------------------------------------------- */

static void then_got(struct lnk_req *r, struct lnk_store_op *op, void *ctx)
{
    (void)ctx;
    const struct lnk_url *u = lnk_v1_read_link(r, op);
    if (!u)
        return;
    char etag[LNK_ETAG_MAX];
    lnk_url_etag(u, etag);
    if (lnk_h_etag_matches(lnk_req_header(r, "if-none-match"), etag)) {
        lnk_resp_header(r, "etag", etag);
        lnk_resp_empty(r, 304);
        return;
    }
    answer(r, NULL, 200, lnk_v1_link_json(r, u), u);
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

void lnk_h_v1_link_update(struct lnk_req *r)
{
    int64_t id;
    json_t *body;
    if (!lnk_h_path_id(r, "link", &id) || !lnk_h_json_body(r, &body))
        return;
    json_decref(body);
    struct lnk_str b = lnk_req_body(r);
    struct lnk_v1_job *j = lnk_v1_job_new(r, LNK_V1_UPDATE, b.ptr, b.len, answer, NULL);
    j->id = id;
    struct lnk_str im = lnk_str_trim(lnk_req_header(r, "if-match"));
    if (im.ptr && !lnk_str_eq_cstr(im, "*")) { /* "*": any version of a link that exists */
        if (im.len == 0 || im.len >= sizeof(j->if_match)) {
            lnk_h_problem(r, 412, "etag-mismatch", "If-Match names no version of this link", NULL);
            return;
        }
        memcpy(j->if_match, im.ptr, im.len);
    }
    lnk_v1_job_run(r, j);
}

/* ---- DELETE /api/v1/links/{id} ---------------------------------------------- */

void lnk_h_v1_link_delete(struct lnk_req *r)
{
    int64_t id;
    if (!lnk_h_path_id(r, "link", &id))
        return;
    struct lnk_v1_job *j = lnk_v1_job_new(r, LNK_V1_DELETE, NULL, 0, answer, NULL);
    j->id = id;
    lnk_v1_job_run(r, j);
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
        json_array_append_new(data, lnk_v1_link_json(r, &l->urls[i]));
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

/* One bad parameter: 400 invalid-parameter naming it. */
static bool bad_param(struct lnk_req *r, const char *name, const char *detail)
{
    char ptr[32];
    snprintf(ptr, sizeof(ptr), "/query/%s", name);
    lnk_h_problem(r, 400, "invalid-parameter", detail, ptr);
    return false;
}

bool lnk_v1_list_query(struct lnk_req *r, struct lnk_list_query *q, struct lnk_arena *a)
{
    struct lnk_str s;
    long long n;
    if (lnk_v1_param(r, "active", &s)) {
        q->is_active = lnk_str_eq_cstr(s, "true") ? 1 : lnk_str_eq_cstr(s, "false") ? 0 : -2;
        if (q->is_active == -2)
            return bad_param(r, "active", "active must be true or false");
    }
    if (lnk_v1_param(r, "tag", &s)) {
        if (s.len == 0 || s.len > 4 * LNK_POLICY_TAG_MAX)
            return bad_param(r, "tag", "tag must be a non-empty tag");
        char *t = lnk_arena_strndup(a, s.ptr, s.len);
        q->tag = t;
        for (; *t; t++) /* tags are stored lower-cased */
            *t = (char)(*t >= 'A' && *t <= 'Z' ? *t + 32 : *t);
    }
    if (lnk_v1_param(r, "user_id", &s)) {
        if (lnk_str_to_i64(s, &n) != LNK_OK || n < 1 || n > LNK_ID_MAX)
            return bad_param(r, "user_id", "user_id must be a positive id");
        q->has_user_id = true;
        q->user_id = n;
    }
    if (lnk_h_scope(r)) {
        q->has_owner_id = true;
        q->owner_id = lnk_h_scope(r);
    }
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
    bool ok = true;
    if (lnk_v1_param(r, "limit", &s)) {
        if (lnk_str_to_i64(s, &n) != LNK_OK || n < 1 || n > V1_LIMIT_MAX)
            ok = bad_param(r, "limit", "limit must be an integer from 1 to 1000");
        ask->limit = n;
    }
    if (ok && lnk_v1_param(r, "cursor", &s) && !cursor_read(s, &q->after_id))
        ok = bad_param(r, "cursor", "cursor is not one this API gave");
    /* ids follow creation: newest first is descending ids */
    if (ok && lnk_v1_param(r, "sort", &s)) {
        q->newest_first = lnk_str_eq_cstr(s, "-created_at") || lnk_str_eq_cstr(s, "-id");
        if (!q->newest_first && !lnk_str_eq_cstr(s, "created_at") && !lnk_str_eq_cstr(s, "id"))
            ok = bad_param(r, "sort", "sort is created_at, -created_at, id or -id");
    }
    if (!ok || !lnk_v1_list_query(r, q, &op->op.arena)) {
        lnk_store_op_free(&op->op);
        return;
    }
    q->page = 1;
    q->per_page = ask->limit + 1; /* one more tells whether a next page exists */
    lnk_h_submit(r, &op->op, then_listed, ask);
}
