/* SPDX-License-Identifier: MIT */
/* Many links per request (docs/api-v1.md#bulk): POST /api/v1/links/bulk
 * (create, update and delete, up to LNK_V1_BULK_MAX items), POST
 * /api/v1/links/import (another shortener's export, converted by the
 * portable codec) and GET /api/v1/links/export (CSV or JSON). Each item is
 * a job of its own (v1_jobs.c): items run side by side, so the store's
 * group commit writes them together, and each gets its own result; one
 * item's failure undoes no other. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "handlers/v1_int.h"
#include "linkd/buf.h"
#include "linkd/config.h"
#include "linkd/err.h"
#include "linkd/json.h"
#include "linkd/portable.h"

/* An export is built whole before it is sent: bounded by
 * LINKD_LIST_MAX_ROWS rows, and by this. */
#define EXPORT_BYTES_MAX ((size_t)1 << 30)

/* A request's items while they run; in request memory. */
struct batch {
    size_t n, pending, ok;
    json_t *results;   /* one slot per item, filled as each ends */
    json_t *converted; /* import: the converter's refused rows, or NULL */
};

static const char *const op_names[] = {
    [LNK_V1_CREATE] = "create", [LNK_V1_UPDATE] = "update", [LNK_V1_DELETE] = "delete"};

static void batch_answer(struct lnk_req *r, struct batch *b)
{
    json_t *o = json_object();
    json_object_set_new(o, "succeeded", json_integer((json_int_t)b->ok));
    json_object_set_new(o, "failed", json_integer((json_int_t)(b->n - b->ok)));
    json_object_set(o, "results", b->results);
    if (b->converted)
        json_object_set(o, "refused_rows", b->converted);
    lnk_resp_json(r, 200, o);
}

/* When the request ends, answered or not (a client that leaves halfway
 * takes no answer, and its items' results are not sent). */
static void batch_end(void *arg)
{
    struct batch *b = arg;
    json_decref(b->results);
    json_decref(b->converted);
}

static void item_done(struct lnk_req *r, struct lnk_v1_job *j, int status, json_t *body,
                      const struct lnk_url *u)
{
    struct batch *b = j->ctx;
    json_t *res = json_object();
    json_object_set_new(res, "op", json_string(op_names[j->kind]));
    json_object_set_new(res, "status", json_integer(status));
    if (u)
        json_object_set_new(res, "id", json_integer(u->id));
    else if (j->id)
        json_object_set_new(res, "id", json_integer(j->id));
    if (body)
        json_object_set_new(res, status < 400 ? "link" : "problem", body);
    json_array_set_new(b->results, j->index, res);
    b->ok += status < 400;
    if (--b->pending == 0)
        batch_answer(r, b);
}

static struct batch *batch_new(struct lnk_req *r, size_t n)
{
    struct batch *b = lnk_req_alloc(r, sizeof(*b));
    memset(b, 0, sizeof(*b));
    b->n = b->pending = n;
    b->results = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(b->results, json_null());
    lnk_req_on_end(r, batch_end, b);
    return b;
}

/* Adds the job of one item, its input dumped to text. */
static struct lnk_v1_job *add_item(struct lnk_req *r, struct batch *b, size_t index,
                                   enum lnk_v1_job_kind kind, const json_t *input,
                                   const char *prefix)
{
    size_t len = 0;
    char *text = input ? lnk_json_dump(input, &len) : NULL;
    struct lnk_v1_job *j = lnk_v1_job_new(r, kind, text, len, item_done, b);
    free(text);
    j->index = index;
    j->prefix = prefix;
    return j;
}

static void run_all(struct lnk_req *r, struct lnk_v1_job **jobs, size_t n, struct batch *b)
{
    if (n == 0) {
        batch_answer(r, b);
        return;
    }
    for (size_t i = 0; i < n; i++)
        lnk_v1_job_run(r, jobs[i]);
}

/* ---- POST /api/v1/links/bulk -------------------------------------------------- */

/* The id of an update or delete item: a positive id, else NULL (with why). */
static bool item_id(const json_t *item, int64_t *id)
{
    const json_t *v = json_is_object(item) ? json_object_get(item, "id") : item;
    *id = json_is_integer(v) ? json_integer_value(v) : 0;
    return *id > 0 && *id <= LNK_ID_MAX;
}

static bool seen_before(struct lnk_v1_job **jobs, size_t n, int64_t id)
{
    for (size_t i = 0; i < n; i++)
        if (jobs[i]->kind != LNK_V1_CREATE && jobs[i]->id == id)
            return true;
    return false;
}

/* {"create": [link...], "update": [{"id": N, ...fields}], "delete": [N...]} */
void lnk_h_v1_links_bulk(struct lnk_req *r)
{
    static const char *const lists[] = {"create", "update", "delete"};
    json_t *body;
    if (lnk_h_idempotent(r, lnk_h_v1_links_bulk) || !lnk_h_json_body(r, &body))
        return;
    size_t n = 0;
    const char *key;
    json_t *val;
    json_object_foreach(body, key, val)
    {
        bool known = false;
        for (size_t k = 0; k < 3; k++)
            known |= strcmp(key, lists[k]) == 0;
        if (!known || !json_is_array(val)) {
            char ptr[80];
            snprintf(ptr, sizeof(ptr), "/%.64s", key);
            lnk_h_problem(
                r, 422, "validation-failed",
                known ? "must be an array" : "a bulk request holds create, update, delete", ptr);
            json_decref(body);
            return;
        }
        n += json_array_size(val);
    }
    if (n == 0 || n > LNK_V1_BULK_MAX) {
        lnk_h_problem(
            r, n ? 413 : 422, n ? "too-many-items" : "validation-failed",
            n ? "at most 1000 items per request" : "no items: give create, update or delete", NULL);
        json_decref(body);
        return;
    }
    struct batch *b = batch_new(r, n);
    struct lnk_v1_job **jobs = lnk_req_alloc(r, n * sizeof(*jobs));
    size_t at = 0;
    for (size_t k = 0; k < 3; k++) {
        size_t i;
        json_t *item;
        json_array_foreach(json_object_get(body, lists[k]), i, item)
        {
            char *prefix = lnk_req_alloc(r, 32);
            int64_t id = 0;
            snprintf(prefix, 32, "/%s/%zu", lists[k], i);
            enum lnk_v1_job_kind kind = (enum lnk_v1_job_kind)k;
            if (kind != LNK_V1_CREATE && (!item_id(item, &id) || seen_before(jobs, at, id))) {
                char ptr[48];
                snprintf(ptr, sizeof(ptr), "%s%s", prefix, json_is_object(item) ? "/id" : "");
                lnk_h_problem(r, 422, "validation-failed",
                              id > 0 ? "names a link another item names: one item per link"
                                     : "needs the link's id",
                              ptr);
                json_decref(body); /* the results go with the request (batch_end) */
                return;
            }
            json_t *input = NULL;
            if (kind == LNK_V1_UPDATE) {
                input = json_deep_copy(item);
                json_object_del(input, "id");
            } else if (kind == LNK_V1_CREATE) {
                input = json_incref(item);
            }
            jobs[at] = add_item(r, b, at, kind, input, prefix);
            jobs[at]->id = id;
            json_decref(input);
            at++;
        }
    }
    json_decref(body);
    run_all(r, jobs, n, b);
}

/* ---- POST /api/v1/links/import ------------------------------------------------- */

/* ?format=shlink-csv|...  (docs/import-export.md), and for an admin
 * ?user_id=N, the owner of every imported link. */
void lnk_h_v1_links_import(struct lnk_req *r)
{
    struct lnk_str format, owner;
    char fmt[32];
    if (lnk_h_idempotent(r, lnk_h_v1_links_import))
        return;
    if (!lnk_v1_param(r, "format", &format) || format.len == 0 || format.len >= sizeof(fmt)) {
        lnk_h_problem(r, 400, "invalid-parameter",
                      "format is required: shlink-csv, shlink-json, yourls-csv, yourls-json, "
                      "kutt-csv or kutt-json",
                      "/query/format");
        return;
    }
    memcpy(fmt, format.ptr, format.len);
    fmt[format.len] = '\0';
    long long user_id = lnk_h_scope(r);
    if (!user_id &&
        (!lnk_v1_param(r, "user_id", &owner) || lnk_str_to_i64(owner, &user_id) != LNK_OK ||
         user_id < 1 || user_id > LNK_ID_MAX)) {
        lnk_h_problem(r, 400, "invalid-parameter", "user_id (the links' owner) is required",
                      "/query/user_id");
        return;
    }
    struct lnk_str body = lnk_req_body(r);
    json_t *links = NULL, *errors = NULL;
    int rc = lnk_portable_import(fmt, body.ptr, body.len, &links, &errors);
    size_t n = rc == LNK_OK ? json_array_size(links) : 0;
    if (rc == LNK_OK && n > LNK_V1_BULK_MAX)
        rc = LNK_ETOOBIG;
    if (rc != LNK_OK) {
        json_t *p =
            lnk_h_problem_new(r, rc == LNK_ETOOBIG ? 413 : 422,
                              rc == LNK_ETOOBIG ? "too-many-items" : "unreadable-import",
                              rc == LNK_ETOOBIG ? "at most 1000 links per import: split the file"
                                                : "the file is not an export of that format",
                              NULL);
        if (errors)
            json_object_set(p, "refused_rows", errors);
        lnk_resp_json(r, rc == LNK_ETOOBIG ? 413 : 422, p);
        json_decref(links);
        json_decref(errors);
        return;
    }
    struct batch *b = batch_new(r, n);
    b->converted = errors;
    struct lnk_v1_job **jobs = lnk_req_alloc(r, (n ? n : 1) * sizeof(*jobs));
    size_t i;
    json_t *link;
    json_array_foreach(links, i, link)
    {
        char *prefix = lnk_req_alloc(r, 32);
        snprintf(prefix, 32, "/links/%zu", i);
        json_object_del(link, "created_at"); /* a new link starts now */
        json_object_set_new(link, "user_id", json_integer(user_id));
        jobs[i] = add_item(r, b, i, LNK_V1_CREATE, link, prefix);
    }
    json_decref(links);
    run_all(r, jobs, n, b);
}

/* ---- GET /api/v1/links/export -------------------------------------------------- */

static void then_exported(struct lnk_req *r, struct lnk_store_op *op, void *ctx)
{
    bool csv = ctx != NULL;
    const struct lnk_op_list *l = LNK_OP_AS(op, list);
    if (op->rc == LNK_ETOOBIG) {
        lnk_h_problem(r, 400, "too-many-rows",
                      "more links than LINKD_LIST_MAX_ROWS: export by tag or owner, or page "
                      "through GET /api/v1/links",
                      NULL);
        return;
    }
    if (op->rc != LNK_OK) {
        lnk_h_store_error(r, op);
        return;
    }
    struct lnk_buf out;
    lnk_buf_init(&out, EXPORT_BYTES_MAX);
    int rc = csv ? lnk_portable_export_csv_header(&out) : lnk_buf_append(&out, "[", 1);
    for (size_t i = 0; i < l->n_rows && rc == LNK_OK; i++) {
        json_t *link = lnk_v1_link_json(r, &l->urls[i]);
        if (csv) {
            rc = lnk_portable_export_csv_row(link, &out);
        } else {
            size_t len;
            char *s = lnk_json_dump(link, &len);
            rc = i ? lnk_buf_append(&out, ",", 1) : LNK_OK;
            rc = rc == LNK_OK ? lnk_buf_append(&out, s, len) : rc;
            free(s);
        }
        json_decref(link);
    }
    if (rc == LNK_OK && !csv)
        rc = lnk_buf_append(&out, "]", 1);
    if (rc != LNK_OK) {
        lnk_buf_cleanup(&out);
        lnk_h_problem(r, 500, NULL, "the export could not be written", NULL);
        return;
    }
    lnk_resp_header(r, "content-disposition",
                    csv ? "attachment; filename=\"links.csv\""
                        : "attachment; filename=\"links.json\"");
    lnk_resp_raw(r, 200, csv ? "text/csv; charset=utf-8" : "application/json", out.ptr, out.len);
    lnk_buf_cleanup(&out);
}

/* ?format=csv|json, and the list's filters (tag, active, user_id). */
void lnk_h_v1_links_export(struct lnk_req *r)
{
    struct lnk_str s;
    bool csv = true;
    if (lnk_v1_param(r, "format", &s) && !lnk_str_eq_cstr(s, "csv")) {
        if (!lnk_str_eq_cstr(s, "json")) {
            lnk_h_problem(r, 400, "invalid-parameter", "format must be csv or json",
                          "/query/format");
            return;
        }
        csv = false;
    }
    struct lnk_op_list *op = LNK_OP_AS(lnk_store_op_new(LNK_OP_URL_LIST), list);
    if (!lnk_v1_list_query(r, &op->q, &op->op.arena)) {
        lnk_store_op_free(&op->op);
        return;
    }
    op->q.max_rows = (int64_t)lnk_req_env(r)->cfg->list_max_rows;
    lnk_h_submit(r, &op->op, then_exported, csv ? (void *)1 : NULL);
}
