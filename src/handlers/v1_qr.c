/* SPDX-License-Identifier: MIT */
/* GET /api/v1/links/{id}/qr?format=png|svg&size=N (docs/api-v1.md#qr): the
 * QR code of the link's short URL. Cacheable: the image depends only on
 * the short URL, the format and the size, which its ETag digests, so a
 * client revalidates with If-None-Match and gets 304. A size whose modules
 * would be a single pixel is refused: readers cannot scan those. */
#include <stdio.h>
#include <string.h>

#include "handlers/v1_int.h"
#include "linkd/buf.h"
#include "linkd/err.h"
#include "linkd/qr.h"
#include "linkd/str.h"

#define QR_SIZE_DEFAULT 256
#define QR_BYTES_MAX    (4 * 1024 * 1024)

struct qr_ask {
    bool svg;
    unsigned size;
};

static void then_link(struct lnk_req *r, struct lnk_store_op *op, void *ctx)
{
    const struct qr_ask *ask = ctx;
    const struct lnk_url *u = lnk_v1_read_link(r, op);
    if (!u)
        return;
    json_t *short_url = lnk_v1_short_url_json(r, u); /* on the link's domain */
    const char *text = json_string_value(short_url);
    size_t len = strlen(text);
    struct lnk_qr_geometry geo;
    int rc = lnk_qr_geometry(text, len, ask->size, &geo);
    if (rc == LNK_OK && geo.scale_px < 2) {
        char detail[96];
        snprintf(detail, sizeof(detail), "size must be at least %u for this link",
                 2 * (geo.modules + 2 * LNK_QR_QUIET));
        lnk_h_problem(r, 400, "invalid-parameter", detail, "/query/size");
        json_decref(short_url);
        return;
    }
    char etag[40];
    uint64_t h = lnk_str_hash(lnk_str_make(text, len)) ^ ((uint64_t)ask->size << 1) ^ ask->svg;
    snprintf(etag, sizeof(etag), "\"qr%016llx\"", (unsigned long long)h);
    lnk_resp_header(r, "etag", etag);
    lnk_resp_header(r, "cache-control", "private, max-age=86400");
    if (lnk_h_etag_matches(lnk_req_header(r, "if-none-match"), etag)) {
        json_decref(short_url);
        lnk_resp_empty(r, 304);
        return;
    }
    struct lnk_buf out;
    lnk_buf_init(&out, QR_BYTES_MAX);
    rc = rc == LNK_OK ? (ask->svg ? lnk_qr_svg(text, len, ask->size, &out)
                                  : lnk_qr_png(text, len, ask->size, &out))
                      : rc;
    json_decref(short_url);
    if (rc != LNK_OK)
        lnk_h_problem(r, 500, NULL, "the QR code could not be drawn", NULL);
    else
        lnk_resp_raw(r, 200, ask->svg ? "image/svg+xml" : "image/png", out.ptr, out.len);
    lnk_buf_cleanup(&out);
}

void lnk_h_v1_link_qr(struct lnk_req *r)
{
    int64_t id;
    struct lnk_str s;
    long long size = QR_SIZE_DEFAULT;
    if (!lnk_h_path_id(r, "link", &id))
        return;
    struct qr_ask *ask = lnk_req_alloc(r, sizeof(*ask));
    ask->svg = false;
    if (lnk_v1_param(r, "format", &s) && !lnk_str_eq_cstr(s, "png")) {
        if (!lnk_str_eq_cstr(s, "svg")) {
            lnk_h_problem(r, 400, "invalid-parameter", "format must be png or svg",
                          "/query/format");
            return;
        }
        ask->svg = true;
    }
    if (lnk_v1_param(r, "size", &s) &&
        (lnk_str_to_i64(s, &size) != LNK_OK || size < LNK_QR_SIZE_MIN || size > LNK_QR_SIZE_MAX)) {
        lnk_h_problem(r, 400, "invalid-parameter", "size must be an integer from 64 to 2048",
                      "/query/size");
        return;
    }
    ask->size = (unsigned)size;
    struct lnk_op_url *op = LNK_OP_AS(lnk_store_op_new(LNK_OP_URL_GET), url);
    op->id = id;
    lnk_h_submit(r, &op->op, then_link, ask);
}
