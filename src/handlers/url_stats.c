/* SPDX-License-Identifier: MIT */
/* GET /urls/{id}/stats: a link's click total and clicks per UTC day, read from
 * the rollups the store keeps on every click (no scan of events). */
#include "handlers/handlers_int.h"
#include "linkd/handlers.h"
#include "linkd/timefmt.h"

static json_t *ts_or_null(int64_t t)
{
    char buf[LNK_TS_LEN + 1];
    if (t == 0)
        return json_null();
    lnk_ts_format(t, buf);
    return json_string(buf);
}

static json_t *daily_json(const struct lnk_op_url_stats *op)
{
    json_t *arr = json_array();
    char buf[LNK_TS_LEN + 1];
    for (size_t i = 0; i < op->n_days; i++) {
        lnk_ts_format(op->days[i].day * 86400, buf);
        buf[10] = '\0'; /* YYYY-MM-DD */
        json_t *d = json_object();
        json_object_set_new(d, "date", json_string(buf));
        json_object_set_new(d, "clicks", json_integer(op->days[i].clicks));
        json_array_append_new(arr, d);
    }
    return arr;
}

static void then_stats(struct lnk_req *r, struct lnk_store_op *sop, void *ctx)
{
    (void)ctx;
    const struct lnk_op_url_stats *op = LNK_OP_AS(sop, url_stats);
    if (sop->rc != 0) {
        lnk_h_store_error(r, sop);
        return;
    }
    const struct lnk_url *u = &op->url;
    if (!lnk_h_url_visible(r, u->user_id))
        return;
    json_t *o = json_object();
    json_object_set_new(o, "url_id", json_integer(u->id));
    json_object_set_new(o, "user_id", json_integer(u->user_id));
    json_object_set_new(o, "short_code", json_string(u->short_code));
    json_object_set_new(o, "clicks", json_integer(op->clicks));
    json_object_set_new(o, "last_click_at", ts_or_null(op->last_click_at));
    json_object_set_new(o, "daily", daily_json(op));
    lnk_resp_json(r, 200, o);
}

void lnk_h_url_stats(struct lnk_req *r)
{
    int64_t id;
    if (!lnk_h_path_id(r, "url", &id))
        return;
    struct lnk_op_url_stats *op = LNK_OP_AS(lnk_store_op_new(LNK_OP_URL_STATS), url_stats);
    op->id = id;
    lnk_h_submit(r, &op->op, then_stats, NULL);
}
