/* SPDX-License-Identifier: MIT */
/* POST /users/bulk (CONTRACT.md §4.3): a multipart CSV upload, parsed by the
 * same code as `linkd import` (seed.c), or a JSON array of users checked as
 * POST /users checks one; upserted through the writer. The answer (bulk.c)
 * says what became of every row. */
#include <stdint.h>
#include <stdio.h>

#include "handlers/handlers_int.h"
#include "linkd/config.h"
#include "linkd/err.h"
#include "linkd/handlers.h"
#include "linkd/json.h"
#include "linkd/metrics.h"
#include "linkd/seed.h"
#include "linkd/timefmt.h"

/* ctx: the notes (struct lnk_h_bulk) */
static void then_imported(struct lnk_req *r, struct lnk_store_op *op, void *ctx)
{
    if (op->rc != 0)
        lnk_h_store_error(r, op);
    else
        lnk_resp_json(r, 201, lnk_h_bulk_answer(ctx, LNK_OP_AS(op, rows)->results));
}

/* The parsed rows and the rows the parser left out, in line order. */
static struct lnk_h_bulk *csv_notes(struct lnk_op_rows *op)
{
    const struct lnk_import_rows *ir = &op->rows;
    size_t n = ir->n + ir->n_skips, k = 0, s = 0;
    size_t *lines = lnk_arena_alloc(&op->op.arena, sizeof(*lines) * (n ? n : 1));
    struct lnk_h_bulk *b = lnk_h_bulk_new(&op->op.arena, n, lines);
    for (size_t i = 0; i < n; i++) {
        if (s == ir->n_skips || (k < ir->n && ir->lines[k] < ir->skips[s].line)) {
            lines[i] = ir->lines[k];
            b->rows[i].store_idx = k++;
            continue;
        }
        const struct lnk_import_skip *skip = &ir->skips[s++];
        struct lnk_h_invalid v = {0};
        lnk_h_invalid_add(&v, skip->column ? skip->column : "row", skip->reason);
        lines[i] = skip->line;
        lnk_h_bulk_refuse(b, i, &v, 422, NULL, &op->op.arena);
    }
    return b;
}

static bool parse_csv(struct lnk_req *r, struct lnk_op_rows *op, struct lnk_h_bulk **notes)
{
    struct lnk_str csv;
    char err[256];
    int64_t skipped = 0;
    if (!lnk_h_upload_csv(r, &csv))
        return false;
    int rc = lnk_seed_parse_users(csv.ptr, csv.len, LNK_SEED_LENIENT, &op->op.arena, &op->rows,
                                  &skipped, err, sizeof(err));
    if (rc != LNK_OK) {
        lnk_resp_error(r, 400, err, NULL);
        return false;
    }
    unsigned max_rows = lnk_req_env(r)->cfg->csv_max_rows;
    if (op->rows.n + (size_t)skipped > max_rows) {
        char msg[96];
        snprintf(msg, sizeof(msg), "too many rows (at most %u per upload)", max_rows);
        lnk_metrics_add(lnk_req_env(r)->mw, LNK_MC_body_too_large_total, 1);
        lnk_resp_error(r, 413, msg, NULL);
        return false;
    }
    *notes = csv_notes(op);
    return true;
}

/* One JSON row: the fields of POST /users, plus an optional id (upsert)
 * and created_at. */
static void read_user_row(const json_t *row, struct lnk_op_rows *op, size_t k,
                          struct lnk_h_invalid *v)
{
    struct lnk_user *u = &op->rows.users[k];
    const char *ts;
    size_t len;
    int64_t id = 0;
    *u = (struct lnk_user){0};
    lnk_h_read_user_fields(row, true, v, &op->op.arena, u);
    int rc = lnk_json_get_int(row, "id", &id);
    op->rows.has_id[k] = rc == LNK_OK;
    if (rc != LNK_OK && rc != LNK_ENOTFOUND)
        lnk_h_invalid_add(v, "id", "must be a positive integer");
    else if (rc == LNK_OK && id <= 0)
        lnk_h_invalid_add(v, "id", "must be a positive integer");
    u->id = id;
    rc = lnk_json_get_string(row, "created_at", &ts, &len);
    if (rc == LNK_OK && lnk_ts_parse(ts, len, &u->created_at) != LNK_OK)
        rc = LNK_EINVAL;
    if (rc != LNK_OK && rc != LNK_ENOTFOUND)
        lnk_h_invalid_add(v, "created_at", "must be a timestamp (YYYY-MM-DD HH:MM:SS, UTC)");
}

static bool parse_json(struct lnk_req *r, struct lnk_op_rows *op, struct lnk_h_bulk **notes)
{
    struct lnk_arena *a = &op->op.arena;
    json_t *rows;
    size_t *lines;
    if (!lnk_h_bulk_rows(r, "users", false, a, &rows, &lines))
        return false;
    size_t n = json_array_size(rows);
    struct lnk_h_bulk *b = lnk_h_bulk_new(a, n, NULL);
    struct lnk_import_rows *ir = &op->rows;
    ir->users = lnk_arena_alloc(a, sizeof(*ir->users) * (n ? n : 1));
    ir->has_id = lnk_arena_alloc(a, sizeof(*ir->has_id) * (n ? n : 1));
    for (size_t i = 0; i < n; i++) {
        const json_t *row = json_array_get(rows, i);
        struct lnk_h_invalid v = {0};
        if (!json_is_object(row)) {
            lnk_h_bulk_refuse(b, i, &v, 400, "a row must be a JSON object", a);
            continue;
        }
        read_user_row(row, op, ir->n, &v);
        if (!lnk_h_bulk_refuse(b, i, &v, 422, NULL, a))
            b->rows[i].store_idx = ir->n++;
    }
    json_decref(rows);
    *notes = b;
    return true;
}

void lnk_h_users_bulk(struct lnk_req *r)
{
    struct lnk_op_rows *op = LNK_OP_AS(lnk_store_op_new(LNK_OP_USER_IMPORT), rows);
    struct lnk_h_bulk *notes = NULL;
    bool ok = lnk_h_is_multipart(r) ? parse_csv(r, op, &notes) : parse_json(r, op, &notes);
    if (!ok) {
        lnk_store_op_free(&op->op);
        return;
    }
    lnk_h_submit(r, &op->op, then_imported, notes);
}
