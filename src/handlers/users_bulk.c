/* SPDX-License-Identifier: MIT */
/* POST /users/bulk (CONTRACT.md §4.3): a multipart CSV upload, parsed by the
 * same code as `linkd import` (seed.c) and upserted through the writer. */
#include <stdio.h>

#include "handlers/handlers_int.h"
#include "linkd/config.h"
#include "linkd/err.h"
#include "linkd/handlers.h"
#include "linkd/metrics.h"
#include "linkd/multipart.h"
#include "linkd/seed.h"

static void then_imported(struct lnk_req *r, struct lnk_store_op *op)
{
    if (op->rc != 0) {
        lnk_h_store_error(r, op);
        return;
    }
    json_t *o = json_object();
    json_object_set_new(o, "imported", json_integer(op->imported));
    json_object_set_new(o, "count", json_integer(op->imported));
    json_object_set_new(o, "skipped", json_integer(op->skipped));
    lnk_resp_json(r, 201, o);
}

static bool find_csv(struct lnk_req *r, struct lnk_str *csv)
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

void lnk_h_users_bulk(struct lnk_req *r)
{
    struct lnk_str csv;
    if (!find_csv(r, &csv))
        return;
    struct lnk_store_op *op = lnk_store_op_new(LNK_OP_USER_IMPORT);
    char err[256];
    int64_t skipped = 0;
    int rc = lnk_seed_parse_users(csv.ptr, csv.len, LNK_SEED_LENIENT, &op->arena, &op->rows,
                                  &skipped, err, sizeof(err));
    if (rc != LNK_OK) {
        lnk_store_op_free(op);
        lnk_resp_error(r, 400, err, NULL);
        return;
    }
    unsigned max_rows = lnk_req_env(r)->cfg->csv_max_rows;
    if (op->rows.n + (size_t)skipped > max_rows) {
        char msg[96];
        snprintf(msg, sizeof(msg), "too many rows (at most %u per upload)", max_rows);
        lnk_store_op_free(op);
        lnk_metrics_add(lnk_req_env(r)->mw, LNK_MC_body_too_large_total, 1);
        lnk_resp_error(r, 413, msg, NULL);
        return;
    }
    op->skipped = skipped; /* the store adds the rows it skips on conflict */
    lnk_h_submit(r, op, then_imported);
}
