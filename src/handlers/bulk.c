/* SPDX-License-Identifier: MIT */
/* The bulk routes (CONTRACT.md §4.17): POST /urls/bulk and POST /events/bulk
 * take a JSON array of rows or a multipart CSV upload; POST /users/bulk
 * (users_bulk.c) takes the same JSON array. A CSV file becomes the same JSON
 * rows (typed by column), so every row of every format meets the rules of
 * the single create. Rows are not all-or-nothing: a row that breaks a rule
 * is reported and left out, the others are written in one transaction, and
 * the answer lists what became of each row (docs/api.md, "Bulk"). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "handlers/handlers_int.h"
#include "linkd/config.h"
#include "linkd/csv.h"
#include "linkd/err.h"
#include "linkd/handlers.h"
#include "linkd/json.h"
#include "linkd/metrics.h"
#include "linkd/multipart.h"
#include "linkd/str.h"
#include "linkd/timefmt.h"

#define NOT_SENT SIZE_MAX /* a row refused before the store */

/* How a CSV column becomes a JSON value; other columns stay strings. An
 * empty cell is an absent key, except for a nullable column (null). */
enum col_type { COL_STRING, COL_INT, COL_BOOL, COL_OBJECT, COL_NULLABLE };

static enum col_type column_type(struct lnk_str name)
{
    static const struct {
        const char *name;
        enum col_type type;
    } typed[] = {
        {"id", COL_INT},         {"user_id", COL_INT}, {"url_id", COL_INT},
        {"is_active", COL_BOOL}, {"reuse", COL_BOOL},  {"details", COL_OBJECT},
        {"title", COL_NULLABLE},
    };
    for (size_t i = 0; i < sizeof(typed) / sizeof(typed[0]); i++)
        if (lnk_str_eq(name, lnk_str_from_cstr(typed[i].name)))
            return typed[i].type;
    return COL_STRING;
}

/* A cell as JSON: a value of the column's type when it reads as one, else
 * the string itself, which the row's rules then refuse with the same words
 * as a JSON body of the wrong type. */
static json_t *cell_json(enum col_type t, struct lnk_str v)
{
    long long n;
    if (t == COL_INT && v.len > 0 && v.ptr[0] != '+' && lnk_str_to_i64(v, &n) == LNK_OK)
        return json_integer(n);
    if (t == COL_BOOL && (lnk_str_eq_nocase(v, LNK_STR("true")) || lnk_str_eq(v, LNK_STR("1"))))
        return json_true();
    if (t == COL_BOOL && (lnk_str_eq_nocase(v, LNK_STR("false")) || lnk_str_eq(v, LNK_STR("0"))))
        return json_false();
    if (t == COL_OBJECT) {
        json_t *o = NULL;
        if (lnk_json_parse_object(v.ptr, v.len, &o, NULL) == LNK_OK)
            return o;
    }
    return json_stringn(v.ptr, v.len);
}

/* The data rows of a CSV file as JSON objects keyed by its header, and the
 * line each starts on. At most max_rows (else LNK_ETOOBIG). */
static int csv_rows(struct lnk_str csv, unsigned max_rows, json_t **out, size_t **lines,
                    struct lnk_arena *a, char *err, size_t errcap)
{
    struct lnk_csv c;
    struct lnk_csv_record rec;
    struct lnk_str names[LNK_CSV_FIELDS_MAX];
    enum col_type types[LNK_CSV_FIELDS_MAX];
    size_t n_cols = 0, cap = 0, n = 0;
    size_t *at = NULL;
    json_t *rows = json_array();
    int rc = LNK_OK;

    lnk_csv_init(&c, csv.ptr, csv.len);
    if (memchr(csv.ptr, '\0', csv.len) || !lnk_utf8_valid(csv.ptr, csv.len)) {
        snprintf(err, errcap, "the file is not UTF-8 text");
        rc = LNK_EINVAL;
        goto out;
    }
    rc = lnk_csv_next(&c, &rec);
    if (rc == LNK_EEOF) {
        snprintf(err, errcap, "line 1: empty file, a header row is required");
        rc = LNK_EINVAL;
        goto out;
    }
    n_cols = rec.n_fields;
    for (size_t i = 0; rc == LNK_OK && i < n_cols; i++) {
        struct lnk_str h = lnk_str_trim(rec.fields[i]);
        names[i] = lnk_str_make(lnk_arena_strndup(a, h.ptr, h.len), h.len);
        types[i] = column_type(names[i]);
    }
    while (rc == LNK_OK && (rc = lnk_csv_next(&c, &rec)) == LNK_OK) {
        if (n == max_rows) {
            rc = LNK_ETOOBIG;
            break;
        }
        json_t *row = json_object();
        for (size_t i = 0; i < rec.n_fields && i < n_cols; i++) {
            struct lnk_str v = lnk_str_trim(rec.fields[i]);
            if (v.len == 0 && types[i] != COL_NULLABLE)
                continue;
            json_t *j = v.len == 0 ? json_null() : cell_json(types[i], v);
            char key[128];
            snprintf(key, sizeof(key), "%.*s", (int)names[i].len, names[i].ptr);
            json_object_set_new(row, key, j);
        }
        json_array_append_new(rows, row);
        if (n == cap) {
            cap = cap ? cap * 2 : 64;
            at = lnk_xrealloc(at, cap * sizeof(*at));
        }
        at[n++] = c.line;
    }
    if (rc == LNK_EEOF) {
        rc = LNK_OK;
    } else if (rc == LNK_EINVAL) {
        snprintf(err, errcap, "line %zu, column %zu: malformed CSV record (check the quoting)",
                 c.line, c.err_col);
    } else if (rc == LNK_ETOOBIG && n < max_rows) {
        snprintf(err, errcap, "line %zu: record too large (at most 64 fields and 1 MiB)", c.line);
        rc = LNK_EINVAL;
    }
out:
    lnk_csv_cleanup(&c);
    if (rc == LNK_OK) {
        *out = rows;
        *lines = lnk_arena_alloc(a, sizeof(**lines) * (n ? n : 1));
        if (n)
            memcpy(*lines, at, n * sizeof(**lines));
    } else {
        json_decref(rows);
    }
    free(at);
    return rc;
}

static void too_many_rows(struct lnk_req *r, unsigned max_rows)
{
    char msg[96];
    snprintf(msg, sizeof(msg), "too many rows (at most %u per request)", max_rows);
    lnk_metrics_add(lnk_req_env(r)->mw, LNK_MC_body_too_large_total, 1);
    lnk_resp_error(r, 413, msg, NULL);
}

bool lnk_h_upload_csv(struct lnk_req *r, struct lnk_str *csv)
{
    struct lnk_str boundary, body = lnk_req_body(r);
    struct lnk_multipart_part part;
    if (body.len > LNK_MULTIPART_BODY_MAX) {
        lnk_metrics_add(lnk_req_env(r)->mw, LNK_MC_body_too_large_total, 1);
        lnk_resp_error(r, 413, "upload too large (multipart bodies are limited to 16 MiB)", NULL);
        return false;
    }
    if (lnk_multipart_boundary(lnk_req_header(r, "content-type"), &boundary) != LNK_OK) {
        lnk_resp_error(r, 400, "expected multipart/form-data with a 'file' part", NULL);
        return false;
    }
    int rc = lnk_multipart_find_file(body, boundary, "file", &part);
    if (rc != LNK_OK) {
        lnk_resp_error(r, 400,
                       rc == LNK_ENOTFOUND ? "no 'file' part in the upload"
                                           : "malformed multipart body",
                       NULL);
        return false;
    }
    *csv = part.body;
    return true;
}

bool lnk_h_is_multipart(const struct lnk_req *r)
{
    struct lnk_str ct = lnk_str_trim(lnk_req_header(r, "content-type"));
    return ct.len >= 10 && lnk_str_eq_nocase(lnk_str_make(ct.ptr, 10), LNK_STR("multipart/"));
}

bool lnk_h_bulk_rows(struct lnk_req *r, const char *key, bool allow_csv, struct lnk_arena *a,
                     json_t **rows, size_t **lines)
{
    unsigned max_rows = lnk_req_env(r)->cfg->csv_max_rows;
    char err[160];
    *lines = NULL;
    if (allow_csv && lnk_h_is_multipart(r)) {
        struct lnk_str csv;
        if (!lnk_h_upload_csv(r, &csv))
            return false;
        int rc = csv_rows(csv, max_rows, rows, lines, a, err, sizeof(err));
        if (rc == LNK_ETOOBIG)
            too_many_rows(r, max_rows);
        else if (rc != LNK_OK)
            lnk_resp_error(r, 400, err, NULL);
        return rc == LNK_OK;
    }
    struct lnk_str body = lnk_req_body(r);
    if (body.len > LNK_MULTIPART_BODY_MAX) {
        lnk_metrics_add(lnk_req_env(r)->mw, LNK_MC_body_too_large_total, 1);
        lnk_resp_error(r, 413, "request body too large (bulk bodies are limited to 16 MiB)", NULL);
        return false;
    }
    const char *why = NULL;
    json_t *v = NULL;
    /* a bare array, or {"<key>": [...]} */
    int rc = lnk_json_parse(body.ptr, body.len, JSON_ARRAY, &v, &why);
    if (rc != LNK_OK && lnk_json_parse_object(body.ptr, body.len, &v, NULL) == LNK_OK) {
        json_t *inner = json_incref(json_object_get(v, key));
        json_decref(v);
        v = inner;
        rc = json_is_array(v) ? LNK_OK : LNK_EINVAL;
        if (rc != LNK_OK) {
            json_decref(v);
            snprintf(err, sizeof(err), "expected a JSON array of rows, or {\"%s\": [...]}", key);
            why = err;
        }
    }
    if (rc != LNK_OK) {
        json_t *d = json_object();
        json_object_set_new(d, "body", json_string(why ? why : "invalid JSON"));
        lnk_resp_error(r, 400, "expected a JSON array of rows", d);
        return false;
    }
    if (json_array_size(v) > max_rows) {
        json_decref(v);
        too_many_rows(r, max_rows);
        return false;
    }
    *rows = v;
    return true;
}

/* ---- per-row notes and the answer --------------------------------------- */

struct lnk_h_bulk *lnk_h_bulk_new(struct lnk_arena *a, size_t n, size_t *lines)
{
    struct lnk_h_bulk *b = lnk_arena_alloc(a, sizeof(*b));
    b->n = n;
    b->lines = lines;
    b->rows = lnk_arena_alloc(a, sizeof(*b->rows) * (n ? n : 1));
    for (size_t i = 0; i < n; i++)
        b->rows[i] = (struct lnk_h_bulk_row){NOT_SENT, 0, NULL, NULL};
    return b;
}

bool lnk_h_bulk_refuse(struct lnk_h_bulk *b, size_t i, struct lnk_h_invalid *v, int status,
                       const char *error, struct lnk_arena *a)
{
    if (!v->details && !error)
        return false;
    b->rows[i].status = status;
    b->rows[i].error = error ? error : "validation failed";
    if (v->details) {
        size_t len;
        char *text = lnk_json_dump(v->details, &len);
        b->rows[i].details = lnk_arena_strndup(a, text, len);
        free(text);
        json_decref(v->details);
        v->details = NULL;
    }
    return true;
}

/* One entry of "results": where the row was, and what became of it. */
static json_t *row_json(const struct lnk_h_bulk *b, size_t i, int status)
{
    json_t *o = json_object();
    if (b->lines)
        json_object_set_new(o, "line", json_integer((json_int_t)b->lines[i]));
    else
        json_object_set_new(o, "row", json_integer((json_int_t)i + 1));
    json_object_set_new(o, "status", json_integer(status));
    return o;
}

/* What the store said of row i (sent to it as store row k). */
static json_t *stored_row_json(const struct lnk_h_bulk *b, size_t i,
                               const struct lnk_row_result *res, int *status)
{
    if (res->rc != LNK_OK) {
        json_t *err = lnk_h_error_body(res->rc, res->err_field, status);
        json_t *o = row_json(b, i, *status);
        json_object_update(o, err);
        json_decref(err);
        return o;
    }
    *status = res->existed ? 200 : 201;
    json_t *o = row_json(b, i, *status);
    json_object_set_new(o, "id", json_integer(res->id));
    if (res->short_code)
        json_object_set_new(o, "short_code", json_string(res->short_code));
    return o;
}

json_t *lnk_h_bulk_answer(const struct lnk_h_bulk *b, const struct lnk_row_result *stored)
{
    int64_t created = 0, updated = 0, failed = 0;
    json_t *out_rows = json_array();
    for (size_t i = 0; i < b->n; i++) {
        const struct lnk_h_bulk_row *row = &b->rows[i];
        int status = row->status;
        json_t *o;
        if (row->store_idx != NOT_SENT) {
            o = stored_row_json(b, i, &stored[row->store_idx], &status);
        } else {
            o = row_json(b, i, status);
            json_object_set_new(o, "error", json_string(row->error));
            json_t *d = row->details ? json_loads(row->details, 0, NULL) : NULL;
            if (d)
                json_object_set_new(o, "details", d);
        }
        created += status == 201;
        updated += status == 200;
        failed += status >= 400;
        json_array_append_new(out_rows, o);
    }
    json_t *out = json_object();
    json_object_set_new(out, "created", json_integer(created));
    json_object_set_new(out, "updated", json_integer(updated));
    json_object_set_new(out, "failed", json_integer(failed));
    /* the keys of the users upload (CONTRACT.md §4.3) */
    json_object_set_new(out, "imported", json_integer(created + updated));
    json_object_set_new(out, "count", json_integer(created + updated));
    json_object_set_new(out, "skipped", json_integer(failed));
    json_object_set_new(out, "results", out_rows);
    return out;
}

/* ---- /urls/bulk and /events/bulk --------------------------------------- */

/* A timestamp column (created_at, updated_at, timestamp): absent is 0. */
static void read_ts(const json_t *row, const char *key, struct lnk_h_invalid *v, int64_t *out)
{
    const char *s;
    size_t len;
    int rc = lnk_json_get_string(row, key, &s, &len);
    *out = 0;
    if (rc == LNK_ENOTFOUND)
        return;
    if (rc != LNK_OK || lnk_ts_parse(s, len, out) != LNK_OK || *out <= 0)
        lnk_h_invalid_add(v, key, "must be a timestamp (YYYY-MM-DD HH:MM:SS, UTC)");
}

/* id: a row that names one is written by id (an upsert), which only an
 * admin may do. */
static bool read_row_id(const json_t *row, int64_t scope, struct lnk_h_invalid *v, int64_t *id)
{
    int rc = lnk_json_get_int(row, "id", id);
    if (rc == LNK_ENOTFOUND)
        return false;
    if (rc != LNK_OK || *id <= 0)
        lnk_h_invalid_add(v, "id", "must be a positive integer");
    else if (scope)
        lnk_h_invalid_add(v, "id", "only an admin key may write rows by id");
    return true;
}

static void read_url_row(struct lnk_req *r, const json_t *row, struct lnk_op_rows *op, size_t k,
                         struct lnk_h_invalid *v, bool *unknown_user)
{
    struct lnk_import_rows *rows = &op->rows;
    struct lnk_url *u = &rows->urls[k];
    int64_t scope = lnk_h_scope(r), id = 0;
    bool has_id = read_row_id(row, scope, v, &id);
    *unknown_user = !lnk_h_read_new_url(row, scope, v, &op->op.arena, u, &rows->reuse[k]);
    rows->has_id[k] = has_id;
    if (!has_id)
        return;
    u->id = id;
    if (!u->short_code && !json_object_get(row, "short_code"))
        lnk_h_invalid_add(v, "short_code", "is required with an id");
    read_ts(row, "created_at", v, &u->created_at);
    read_ts(row, "updated_at", v, &u->updated_at);
    int64_t now = lnk_ts_now();
    u->created_at = u->created_at ? u->created_at : now;
    u->updated_at = u->updated_at ? u->updated_at : u->created_at;
}

static void read_event_row(struct lnk_req *r, const json_t *row, struct lnk_op_rows *op, size_t k,
                           struct lnk_h_invalid *v, bool *unknown_user)
{
    struct lnk_import_rows *rows = &op->rows;
    struct lnk_event *e = &rows->events[k];
    int64_t scope = lnk_h_scope(r), id = 0;
    bool has_id = read_row_id(row, scope, v, &id);
    lnk_h_read_new_event(row, v, &op->op.arena, e);
    read_ts(row, "timestamp", v, &e->timestamp);
    rows->has_id[k] = has_id;
    *unknown_user = scope && e->user_id && e->user_id != scope;
    if (has_id) {
        e->id = id;
        e->timestamp = e->timestamp ? e->timestamp : lnk_ts_now();
    }
}

typedef void (*read_row_fn)(struct lnk_req *r, const json_t *row, struct lnk_op_rows *op, size_t k,
                            struct lnk_h_invalid *v, bool *unknown_user);

/* Every url a bulk request wrote, under its code and the code it had
 * before (an upsert may change it), is forgotten in one go. */
static void forget_rows(struct lnk_req *r, const struct lnk_op_rows *op)
{
    struct lnk_url *urls = lnk_req_alloc(r, 2 * op->rows.n * sizeof(*urls) + 1);
    size_t n = 0;
    for (size_t k = 0; k < op->rows.n; k++) {
        const struct lnk_row_result *res = &op->results[k];
        if (res->rc != LNK_OK)
            continue;
        urls[n++] = (struct lnk_url){
            .id = res->id, .short_code = res->short_code, .domain_id = res->domain_id};
        if (res->prev_short_code)
            urls[n++] = (struct lnk_url){
                .id = res->id, .short_code = res->prev_short_code, .domain_id = res->domain_id};
    }
    lnk_h_forget_urls(r, urls, n);
}

/* ctx: the notes (struct lnk_h_bulk) */
static void then_bulk(struct lnk_req *r, struct lnk_store_op *sop, void *ctx)
{
    const struct lnk_op_rows *op = LNK_OP_AS(sop, rows);
    if (sop->rc != 0) {
        lnk_h_store_error(r, sop);
        return;
    }
    if (sop->kind == LNK_OP_URL_BULK)
        forget_rows(r, op);
    lnk_resp_json(r, 201, lnk_h_bulk_answer(ctx, op->results));
}

/* Reads every row; the valid ones become the op's rows, the others notes. */
static void bulk(struct lnk_req *r, enum lnk_op_kind kind, const char *key, read_row_fn read)
{
    struct lnk_op_rows *op = LNK_OP_AS(lnk_store_op_new(kind), rows);
    struct lnk_arena *a = &op->op.arena;
    json_t *rows = NULL;
    size_t *lines = NULL;
    if (!lnk_h_bulk_rows(r, key, true, a, &rows, &lines)) {
        lnk_store_op_free(&op->op);
        return;
    }
    size_t n = json_array_size(rows);
    struct lnk_h_bulk *b = lnk_h_bulk_new(a, n, lines);
    struct lnk_import_rows *ir = &op->rows;
    size_t bytes = kind == LNK_OP_URL_BULK ? sizeof(*ir->urls) : sizeof(*ir->events);
    void *arr = lnk_arena_alloc(a, bytes * (n ? n : 1));
    ir->urls = kind == LNK_OP_URL_BULK ? arr : NULL;
    ir->events = kind == LNK_OP_URL_BULK ? NULL : arr;
    ir->has_id = lnk_arena_alloc(a, sizeof(*ir->has_id) * (n ? n : 1));
    ir->reuse = lnk_arena_alloc(a, sizeof(*ir->reuse) * (n ? n : 1));
    for (size_t i = 0; i < n; i++) {
        const json_t *row = json_array_get(rows, i);
        struct lnk_h_invalid v = {0};
        bool unknown_user = false;
        if (!json_is_object(row)) {
            lnk_h_bulk_refuse(b, i, &v, 400, "a row must be a JSON object", a);
            continue;
        }
        ir->reuse[ir->n] = false;
        read(r, row, op, ir->n, &v, &unknown_user);
        if (!lnk_h_bulk_refuse(b, i, &v, 422, NULL, a) &&
            !(unknown_user && lnk_h_bulk_refuse(b, i, &v, 404, "user not found", a)))
            b->rows[i].store_idx = ir->n++;
    }
    json_decref(rows);
    op->owner_guard = lnk_h_scope(r);
    lnk_h_submit(r, &op->op, then_bulk, b);
}

void lnk_h_urls_bulk(struct lnk_req *r)
{
    bulk(r, LNK_OP_URL_BULK, "urls", read_url_row);
}

void lnk_h_events_bulk(struct lnk_req *r)
{
    bulk(r, LNK_OP_EVENT_BULK, "events", read_event_row);
}
