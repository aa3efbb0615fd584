/* SPDX-License-Identifier: MIT */
/* GET /{code} and GET /urls/{code}/redirect (CONTRACT.md §4.14): impossible
 * codes are refused without a lookup; an active link answers 302 and hands a
 * click to the events writer (never waiting for it); inactive and unknown
 * codes answer 404 and record nothing. HEAD answers the same, records nothing. */
#include <string.h>

#include "handlers/handlers_int.h"
#include "linkd/err.h"
#include "linkd/events.h"
#include "linkd/handlers.h"
#include "linkd/metrics.h"
#include "linkd/shortcode.h"
#include "linkd/timefmt.h"

static const char *header_cstr(struct lnk_req *r, const char *name)
{
    struct lnk_str v = lnk_req_header(r, name);
    if (!v.ptr)
        return "";
    char *s = lnk_req_alloc(r, v.len + 1);
    memcpy(s, v.ptr, v.len);
    s[v.len] = '\0';
    return s;
}

static void record_click(struct lnk_req *r, const struct lnk_url *u)
{
    struct lnk_worker_env *env = lnk_req_env(r);
    struct lnk_click c = {u->id,
                          u->user_id,
                          lnk_ts_now(),
                          u->short_code,
                          header_cstr(r, "user-agent"),
                          header_cstr(r, "referer")};
    lnk_events_push(env->events, env->id, &c);
    lnk_metrics_add(env->mw, LNK_MC_clicks_enqueued_total, 1);
}

static void then_lookup(struct lnk_req *r, struct lnk_store_op *op)
{
    struct lnk_worker_env *env = lnk_req_env(r);
    lnk_metrics_add(env->mw, LNK_MC_cache_misses_total, 1);
    if (op->rc != 0 && op->rc != LNK_ENOTFOUND) {
        lnk_h_store_error(r, op);
        return;
    }
    if (op->rc == LNK_ENOTFOUND || !op->urls[0].is_active) {
        lnk_metrics_add(env->mw, LNK_MC_redirect_not_found_total, 1);
        lnk_resp_error(r, 404, "url not found", NULL);
        return;
    }
    const struct lnk_url *u = &op->urls[0];
    if (lnk_req_method(r) == LNK_METHOD_GET)
        record_click(r, u);
    lnk_metrics_add(env->mw, LNK_MC_redirects_total, 1);
    lnk_resp_redirect(r, u->original_url, strlen(u->original_url), false);
}

void lnk_h_redirect(struct lnk_req *r)
{
    struct lnk_str code = lnk_req_param(r);
    if (!lnk_code_is_plausible(code.ptr, code.len)) {
        lnk_metrics_add(lnk_req_env(r)->mw, LNK_MC_redirect_not_found_total, 1);
        lnk_resp_error(r, 404, "url not found", NULL);
        return;
    }
    struct lnk_store_op *op = lnk_store_op_new(LNK_OP_URL_BY_CODE);
    op->in.code = lnk_arena_strndup(&op->arena, code.ptr, code.len);
    lnk_h_submit(r, op, then_lookup);
}
