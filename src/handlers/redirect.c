/* SPDX-License-Identifier: MIT */
/* GET /{code} and GET /urls/{code}/redirect (CONTRACT.md §4.14): impossible
 * codes are refused without a lookup; then the cache, then the store. An
 * active link answers 302 and hands a click to the events writer (never
 * waiting for it); inactive and unknown codes answer 404 and record nothing.
 * HEAD answers the same and records nothing. */
#include <stdint.h>
#include <string.h>

#include "handlers/handlers_int.h"
#include "linkd/cache.h"
#include "linkd/err.h"
#include "linkd/events.h"
#include "linkd/handlers.h"
#include "linkd/metrics.h"
#include "linkd/shortcode.h"
#include "linkd/timefmt.h"

/* The link as the redirect needs it, from the cache or the store. */
struct target {
    int64_t url_id, owner;
    const char *url;
    size_t len;
};

static void not_found(struct lnk_req *r, bool cache_hit)
{
    lnk_metrics_add(lnk_req_env(r)->mw, LNK_MC_redirect_not_found_total, 1);
    lnk_resp_cache_header(r, cache_hit);
    lnk_resp_error(r, 404, "url not found", NULL);
}

static void record_click(struct lnk_req *r, const struct target *t, struct lnk_str code)
{
    struct lnk_worker_env *env = lnk_req_env(r);
    /* slices of the request: lnk_events_push copies them once, into the ring */
    struct lnk_click_src c = {t->url_id,
                              t->owner,
                              lnk_ts_now(),
                              code,
                              lnk_req_header(r, "user-agent"),
                              lnk_req_header(r, "referer")};
    lnk_events_push(env->events, env->id, &c);
    lnk_metrics_add(env->mw, LNK_MC_clicks_enqueued_total, 1);
}

static void redirect(struct lnk_req *r, const struct target *t, struct lnk_str code, bool hit)
{
    if (lnk_req_method(r) == LNK_METHOD_GET)
        record_click(r, t, code);
    lnk_metrics_add(lnk_req_env(r)->mw, LNK_MC_redirects_total, 1);
    lnk_resp_redirect(r, t->url, t->len, hit);
}

_Static_assert(sizeof(uintptr_t) >= sizeof(uint64_t), "a cache epoch fits in a pointer");

/* ctx: the cache epoch before the lookup */
static void then_lookup(struct lnk_req *r, struct lnk_store_op *op, void *ctx)
{
    struct lnk_str code = lnk_req_param(r);
    if (op->rc != 0 && op->rc != LNK_ENOTFOUND) {
        lnk_h_store_error(r, op);
        return;
    }
    const struct lnk_url *u = op->rc == 0 ? &LNK_OP_AS(op, url)->out : NULL;
    lnk_h_remember_link(r, code, u, (uint64_t)(uintptr_t)ctx);
    if (!u || !u->is_active) {
        not_found(r, false);
        return;
    }
    struct target t = {u->id, u->user_id, u->original_url, strlen(u->original_url)};
    redirect(r, &t, code, false);
}

/* Answers from the cache; false on a miss. */
static bool answer_from_cache(struct lnk_req *r, struct lnk_str code)
{
    struct lnk_worker_env *env = lnk_req_env(r);
    struct lnk_cache_value v;
    if (!env->links)
        return false;
    enum lnk_cache_result res = lnk_cache_get(env->links, code, lnk_h_req_alloc, r, &v);
    if (res == LNK_CACHE_MISS) {
        lnk_metrics_add(env->mw, LNK_MC_cache_misses_total, 1);
        return false;
    }
    lnk_metrics_add(env->mw, LNK_MC_cache_hits_total, 1);
    if (res == LNK_CACHE_NEGATIVE || !v.active) {
        not_found(r, true);
        return true;
    }
    struct target t = {v.id, v.owner, v.data, v.len};
    redirect(r, &t, code, true);
    return true;
}

void lnk_h_redirect(struct lnk_req *r)
{
    struct lnk_str code = lnk_req_param(r);
    if (!lnk_code_is_plausible(code.ptr, code.len)) {
        not_found(r, false);
        return;
    }
    if (answer_from_cache(r, code))
        return;
    struct lnk_cache *links = lnk_req_env(r)->links;
    struct lnk_op_url *op = LNK_OP_AS(lnk_store_op_new(LNK_OP_URL_BY_CODE), url);
    op->code = lnk_arena_strndup(&op->op.arena, code.ptr, code.len);
    /* the epoch rides in ctx: a 64-bit counter in a 64-bit pointer */
    uintptr_t epoch = links ? (uintptr_t)lnk_cache_epoch(links) : 0;
    lnk_h_submit(r, &op->op, then_lookup, (void *)epoch);
}
