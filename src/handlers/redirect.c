/* SPDX-License-Identifier: MIT */
/* GET /{code} and GET /urls/{code}/redirect (CONTRACT.md §4.14): impossible
 * codes are refused without a lookup; then the in-process cache, then (with
 * REDIS_URL) the tier the nodes share, then the store; a miss fills the
 * tiers it passed. An active link answers 302 and hands a click to the
 * events writer (never waiting for it); inactive and unknown codes answer
 * 404 and record nothing. HEAD answers the same and records nothing.
 * X-Cache: HIT only when the in-process cache answered. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "handlers/handlers_int.h"
#include "linkd/cache.h"
#include "linkd/domains.h"
#include "linkd/err.h"
#include "linkd/events.h"
#include "linkd/handlers.h"
#include "linkd/metrics.h"
#include "linkd/redis.h"
#include "linkd/shortcode.h"
#include "linkd/timefmt.h"

/* Where a visit is: its code, and the domain its Host names (0: the
 * default one, whose links are cached under their code alone). The
 * domain's row is read only on the rare paths that need it. */
struct site {
    struct lnk_str code;
    struct lnk_str key; /* the caches' key: the code, or "<domain id>:<code>" */
    int64_t domain_id;
};

/* An unknown or inactive code: 404, or the domain's not-found page. */
static void not_found(struct lnk_req *r, const struct site *s, bool cache_hit)
{
    struct lnk_domain d;
    lnk_metrics_add(lnk_req_env(r)->mw, LNK_MC_redirect_not_found_total, 1);
    if (s->domain_id &&
        lnk_domains_by_id(lnk_req_env(r)->domains, s->domain_id, lnk_h_req_alloc, r, &d) &&
        d.not_found_url) {
        lnk_resp_redirect(r, 302, d.not_found_url, strlen(d.not_found_url), cache_hit);
        return;
    }
    lnk_resp_cache_header(r, cache_hit);
    lnk_resp_error(r, 404, "url not found", NULL);
}

const struct lnk_domain *lnk_h_req_domain(struct lnk_req *r)
{
    struct lnk_worker_env *env = lnk_req_env(r);
    if (!lnk_domains_any(env->domains))
        return NULL;
    struct lnk_domain *d = lnk_req_alloc(r, sizeof(*d));
    return lnk_domains_by_host(env->domains, lnk_req_host(r), lnk_h_req_alloc, r, d) ? d : NULL;
}

void lnk_h_root(struct lnk_req *r)
{
    enum lnk_method m = lnk_req_method(r);
    const struct lnk_domain *d =
        m == LNK_METHOD_GET || m == LNK_METHOD_HEAD ? lnk_h_req_domain(r) : NULL;
    if (d && d->root_url) {
        lnk_metrics_add(lnk_req_env(r)->mw, LNK_MC_redirects_total, 1);
        lnk_resp_redirect(r, 302, d->root_url, strlen(d->root_url), false);
        return;
    }
    lnk_h_not_found(r);
}

/* A link with options goes where they decide (redirect_policy.c); a POST
 * is for a password form only. */
static void redirect(struct lnk_req *r, const struct lnk_h_target *t, struct lnk_str code, bool hit)
{
    enum lnk_method m = lnk_req_method(r);
    if (t->opts) {
        lnk_h_redirect_policy(r, t, code, hit);
        return;
    }
    if (m == LNK_METHOD_POST) {
        lnk_h_method_not_allowed(r, "GET, HEAD");
        return;
    }
    if (m == LNK_METHOD_GET)
        lnk_h_record_click(r, t, code);
    lnk_metrics_add(lnk_req_env(r)->mw, LNK_MC_redirects_total, 1);
    lnk_resp_redirect(r, 302, t->url, t->len, hit);
}

/* A lookup past the in-process cache, in request memory. */
struct miss {
    uint64_t epoch;    /* the local cache's, taken before any lookup */
    bool share;        /* the tier said it had not got the link: fill it */
    uint64_t asked_ns; /* when it said so */
    char gen[LNK_REDIS_GEN_MAX + 1];
    struct site site;
};

/* Answers with what the cache holds for code: a redirect, or 404 for a
 * known-unknown or inactive link. */
static void answer_cached(struct lnk_req *r, const struct site *s, enum lnk_cache_result res,
                          const struct lnk_cache_value *v)
{
    if (res == LNK_CACHE_NEGATIVE || !v->active) {
        not_found(r, s, true);
        return;
    }
    struct lnk_h_target t = {v->id, v->owner, v->data, v->len, NULL, s->domain_id};
    if (v->has_opts) {
        t.len = strlen(v->data);
        t.opts = v->data + t.len + 1;
    }
    redirect(r, &t, s->code, true);
}

/* Answers from the cache; false on a miss. */
static bool answer_from_cache(struct lnk_req *r, const struct site *s)
{
    struct lnk_worker_env *env = lnk_req_env(r);
    struct lnk_cache_value v;
    if (!env->links)
        return false;
    enum lnk_cache_result res = lnk_cache_get(env->links, s->key, lnk_h_req_alloc, r, &v);
    if (res == LNK_CACHE_MISS) {
        lnk_metrics_add(env->mw, LNK_MC_cache_misses_total, 1);
        return false;
    }
    lnk_metrics_add(env->mw, LNK_MC_cache_hits_total, 1);
    answer_cached(r, s, res, &v);
    return true;
}

/* The store cannot be read: a link whose cache entry expired (not one that
 * was invalidated) is still served as it was (stale-if-error). */
static bool answer_stale(struct lnk_req *r, const struct site *s)
{
    struct lnk_worker_env *env = lnk_req_env(r);
    struct lnk_cache_value v;
    if (!env->links)
        return false;
    enum lnk_cache_result res = lnk_cache_get_stale(env->links, s->key, lnk_h_req_alloc, r, &v);
    if (res == LNK_CACHE_MISS)
        return false;
    lnk_metrics_add(env->mw, LNK_MC_cache_stale_hits_total, 1);
    answer_cached(r, s, res, &v);
    return true;
}

/* ctx: the miss */
static void then_lookup(struct lnk_req *r, struct lnk_store_op *op, void *ctx)
{
    const struct miss *m = ctx;
    const struct site *s = &m->site;
    if (op->rc != 0 && op->rc != LNK_ENOTFOUND) {
        if (!answer_stale(r, s))
            lnk_h_store_error(r, op);
        return;
    }
    const struct lnk_url *u = op->rc == 0 ? &LNK_OP_AS(op, url)->out : NULL;
    lnk_h_remember_link(r, s->key, u, m->epoch);
    if (u && m->share)
        lnk_h_share_link(r, s->key, u, m->gen, m->asked_ns);
    if (!u || !u->is_active) {
        not_found(r, s, false);
        return;
    }
    struct lnk_h_target t = {u->id,   u->user_id,  u->original_url, strlen(u->original_url),
                             u->opts, s->domain_id};
    redirect(r, &t, s->code, false);
}

static void read_store(struct lnk_req *r, struct miss *m)
{
    lnk_metrics_add(lnk_req_env(r)->mw, LNK_MC_cache_store_reads_total, 1);
    struct lnk_op_url *op = LNK_OP_AS(lnk_store_op_new(LNK_OP_URL_BY_CODE), url);
    op->code = lnk_arena_strndup(&op->op.arena, m->site.code.ptr, m->site.code.len);
    op->domain_id = m->site.domain_id;
    lnk_h_submit(r, &op->op, then_lookup, m);
}

/* ctx: the miss. The tier's answer fills the local cache; its absence,
 * an error or a timeout sends the lookup on to the store. */
static void then_tier(struct lnk_req *r, struct lnk_redis_op *op, void *ctx)
{
    struct miss *m = ctx;
    const struct site *s = &m->site;
    if (op->rc != LNK_OK) {
        m->share = op->rc == LNK_ENOTFOUND;
        m->asked_ns = lnk_h_now_ns();
        memcpy(m->gen, op->gen, sizeof(m->gen));
        read_store(r, m);
        return;
    }
    const struct lnk_redis_link *l = &op->link;
    struct lnk_url u = {.id = l->id,
                        .user_id = l->owner,
                        .is_active = l->active,
                        .original_url = l->url,
                        .opts = l->opts};
    lnk_metrics_add(lnk_req_env(r)->mw, LNK_MC_cache_redis_hits_total, 1);
    lnk_h_remember_link(r, s->key, &u, m->epoch);
    if (!l->active) {
        not_found(r, s, false);
        return;
    }
    struct lnk_h_target t = {l->id, l->owner, l->url, l->url_len, l->opts, s->domain_id};
    redirect(r, &t, s->code, false);
}

void lnk_h_redirect(struct lnk_req *r)
{
    struct lnk_str code = lnk_req_param(r);
    struct site s = {code, code, lnk_domains_id_by_host(lnk_req_env(r)->domains, lnk_req_host(r))};
    if (s.domain_id)
        s.key = lnk_h_link_key(r, s.domain_id, s.code);
    if (!lnk_code_is_plausible(s.code.ptr, s.code.len)) {
        not_found(r, &s, false);
        return;
    }
    if (answer_from_cache(r, &s))
        return;
    struct lnk_worker_env *env = lnk_req_env(r);
    struct miss *m = lnk_req_alloc(r, sizeof(*m));
    *m = (struct miss){.epoch = env->links ? lnk_cache_epoch(env->links) : 0, .site = s};
    if (lnk_redis_ready(env->redis)) {
        struct lnk_redis_op *op = lnk_redis_op_new(LNK_REDIS_LINK_GET);
        lnk_redis_op_set_code(op, s.key);
        if (lnk_h_redis_submit(r, op, then_tier, m))
            return;
    }
    read_store(r, m);
}
