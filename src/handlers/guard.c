/* SPDX-License-Identifier: MIT */
/* The access step in front of every handler (DESIGN.md §6): who is asking
 * (API key, or a loopback client while no key exists), may they call this
 * route, and is their rate budget left. Keys are looked up in the store on
 * every management request (one indexed read on the worker's connection), so
 * a key created or revoked with `linkd keys` takes effect at once. */
#include <stdint.h>
#include <stdio.h>

#include "handlers/handlers_int.h"
#include "linkd/auth.h"
#include "linkd/config.h"
#include "linkd/err.h"
#include "linkd/handlers.h"
#include "linkd/metrics.h"
#include "linkd/ratelimit.h"
#include "linkd/timefmt.h"
#include "linkd/redis.h"

struct lnk_str lnk_h_client_key(struct lnk_req *r, char *buf, size_t cap)
{
    const struct lnk_principal *p = lnk_req_principal(r);
    int n = p->key_id ? snprintf(buf, cap, "key:%lld", (long long)p->key_id)
                      : snprintf(buf, cap, "ip:%s", lnk_req_client(r));
    return lnk_str_make(buf, n < 0 ? 0 : (size_t)n < cap ? (size_t)n : cap - 1);
}

/* Sets the RateLimit-* headers of a decision; false (answered 429) when it
 * refused. */
static bool answer_budget(struct lnk_req *r, int rc, const struct lnk_ratelimit_result *res)
{
    char v[16];
    snprintf(v, sizeof(v), "%u", res->limit);
    lnk_resp_header(r, "ratelimit-limit", v);
    snprintf(v, sizeof(v), "%u", res->remaining);
    lnk_resp_header(r, "ratelimit-remaining", v);
    snprintf(v, sizeof(v), "%u", res->reset_s);
    lnk_resp_header(r, "ratelimit-reset", v);
    if (rc == LNK_OK)
        return true;
    snprintf(v, sizeof(v), "%u", res->retry_after_s);
    lnk_resp_header(r, "retry-after", v);
    lnk_metrics_add(lnk_req_env(r)->mw, LNK_MC_rate_limited_total, 1);
    lnk_resp_error(r, 429, "rate limit exceeded, retry later", NULL);
    return false;
}

/* A budget: its local limiter (which also holds its rate and burst) and
 * its name in Redis. */
struct budget {
    struct lnk_ratelimit *rl;
    const char *name;
};

/* The node's own decision: without Redis, or when Redis is down or slow. */
static void decide_locally(struct lnk_req *r, struct budget b, lnk_handler_fn next)
{
    struct lnk_worker_env *env = lnk_req_env(r);
    struct lnk_ratelimit_result res;
    char key[64];
    if (env->redis)
        lnk_metrics_add(env->mw, LNK_MC_rate_limit_local_decisions_total, 1);
    int rc = lnk_ratelimit_check(b.rl, lnk_h_client_key(r, key, sizeof(key)), &res);
    if (answer_budget(r, rc, &res))
        next(r);
}

struct shared_check {
    struct budget b;
    lnk_handler_fn next;
};

/* ctx: the shared check, in request memory. */
static void then_shared(struct lnk_req *r, struct lnk_redis_op *op, void *ctx)
{
    const struct shared_check *sc = ctx;
    struct lnk_ratelimit_result res;
    if (op->rc != LNK_OK) {
        decide_locally(r, sc->b, sc->next);
        return;
    }
    lnk_ratelimit_result_of(sc->b.rl, op->allowed, op->ahead_us * 1000, &res);
    if (answer_budget(r, op->allowed ? LNK_OK : LNK_ELIMIT, &res))
        sc->next(r);
}

/* With Redis the budget is the cluster's: one round trip that every node
 * counts against (docs/adr/0014-redis-tier.md). False: not asked. */
static bool ask_shared(struct lnk_req *r, struct budget b, lnk_handler_fn next)
{
    struct lnk_worker_env *env = lnk_req_env(r);
    char key[64], full[96];
    uint64_t interval_ns, tau_ns;
    if (!lnk_redis_ready(env->redis))
        return false;
    struct lnk_str who = lnk_h_client_key(r, key, sizeof(key));
    int n = snprintf(full, sizeof(full), "%s:%.*s", b.name, (int)who.len, who.ptr);
    struct lnk_redis_op *op = lnk_redis_op_new(LNK_REDIS_RATE);
    lnk_redis_op_set_key(op, lnk_str_make(full, n < 0 ? 0 : (size_t)n));
    lnk_ratelimit_params(b.rl, &interval_ns, &tau_ns);
    op->interval_us = interval_ns / 1000 ? interval_ns / 1000 : 1;
    op->tau_us = tau_ns / 1000;
    struct shared_check *sc = lnk_req_alloc(r, sizeof(*sc));
    *sc = (struct shared_check){b, next};
    return lnk_h_redis_submit(r, op, then_shared, sc);
}

/* Applies the budget (none: nothing to check), then calls next, or
 * answers 429. */
static void check_budget(struct lnk_req *r, struct budget b, lnk_handler_fn next)
{
    if (!b.rl) {
        next(r);
        return;
    }
    if (!ask_shared(r, b, next))
        decide_locally(r, b, next);
}

static struct budget budget_of(struct lnk_req *r)
{
    struct lnk_worker_env *env = lnk_req_env(r);
    enum lnk_method m = lnk_req_method(r);
    bool read = m == LNK_METHOD_GET || m == LNK_METHOD_HEAD || m == LNK_METHOD_OPTIONS;
    return read ? (struct budget){env->rl_read, "read"} : (struct budget){env->rl_write, "write"};
}

/* The one scope a request needs: admin for an admin route, analytics:read
 * to read events and stats, links:read for other reads, else links:write. */
static unsigned scope_needed(const struct lnk_req *r, enum lnk_access access)
{
    enum lnk_method m = lnk_req_method(r);
    bool read = m == LNK_METHOD_GET || m == LNK_METHOD_HEAD || m == LNK_METHOD_OPTIONS;
    if (access != LNK_ACCESS_MANAGE)
        return LNK_SCOPE_ADMIN;
    switch (lnk_req_route(r)) {
    case LNK_ROUTE_URL_STATS:
    case LNK_ROUTE_URL_EVENTS:
    case LNK_ROUTE_EVENTS:
    case LNK_ROUTE_EVENT:
    case LNK_ROUTE_STATS:
        return read ? LNK_SCOPE_ANALYTICS_READ : LNK_SCOPE_LINKS_WRITE;
    default:
        return read ? LNK_SCOPE_LINKS_READ : LNK_SCOPE_LINKS_WRITE;
    }
}

static void refuse(struct lnk_req *r, enum lnk_auth_verdict v, unsigned scope)
{
    lnk_metrics_add(lnk_req_env(r)->mw, LNK_MC_auth_refused_total, 1);
    if (v == LNK_AUTH_SCOPE) {
        char msg[96];
        snprintf(msg, sizeof(msg), "this key lacks the scope %s", lnk_auth_scope_name(scope));
        lnk_resp_error(r, 403, msg, NULL);
        return;
    }
    if (v == LNK_AUTH_PROTECTED) {
        lnk_resp_error(r, 403,
                       "no API key exists yet, so only local clients are served: create one "
                       "on the server with `linkd keys create --name NAME --admin` and send it "
                       "as 'Authorization: Bearer <key>' (or set LINKD_AUTH=off)",
                       NULL);
        return;
    }
    lnk_resp_header(r, "www-authenticate", "Bearer realm=\"linkd\"");
    lnk_resp_error(r, 401,
                   v == LNK_AUTH_NEED_KEY
                       ? "an API key is required: send 'Authorization: Bearer <key>'"
                   : v == LNK_AUTH_EXPIRED ? "expired API key"
                                           : "invalid or revoked API key",
                   NULL);
}

/* After the key lookup: decide, then budget, then the handler. The access
 * class travels in ctx. */
static void then_authorize(struct lnk_req *r, struct lnk_store_op *op, lnk_handler_fn next,
                           void *ctx)
{
    struct lnk_op_key *k = LNK_OP_AS(op, key);
    enum lnk_access access = (enum lnk_access)(uintptr_t)ctx;
    if (op->rc != 0 && op->rc != LNK_ENOTFOUND) {
        lnk_h_store_error(r, op);
        return;
    }
    const struct lnk_api_key *key = k->found ? &k->out : NULL;
    unsigned scopes = LNK_SCOPE_ALL;
    if (key && key->scopes &&
        lnk_auth_scopes_parse(lnk_str_from_cstr(key->scopes), &scopes) != LNK_OK)
        scopes = 0; /* unreadable scopes allow nothing */
    struct lnk_auth_facts f = {
        .auth_off = false,
        .client_loopback = lnk_ip_is_loopback(lnk_req_client_ip(r)),
        .key_presented = k->key_hash != NULL,
        .key_valid = key != NULL,
        .key_admin = key && key->admin,
        .key_expired = key && key->expires_at && key->expires_at <= lnk_ts_now(),
        .key_scopes = scopes,
        .need_scope = scope_needed(r, access),
        .active_keys = k->n_active,
    };
    enum lnk_auth_verdict v = lnk_auth_decide(&f);
    if (v != LNK_AUTH_ADMIN && v != LNK_AUTH_USER) {
        refuse(r, v, f.need_scope);
        return;
    }
    struct lnk_principal p = {v == LNK_AUTH_ADMIN, key ? key->user_id : 0, key ? key->id : 0};
    lnk_req_set_principal(r, &p);
    if (!p.admin && access != LNK_ACCESS_MANAGE) {
        lnk_metrics_add(lnk_req_env(r)->mw, LNK_MC_auth_refused_total, 1);
        lnk_resp_error(r, 403, "this needs an admin key: user keys manage their own urls only",
                       NULL);
        return;
    }
    check_budget(r, budget_of(r), next);
}

/* Looks the presented key up (or only counts keys when none came). */
static void authorize(struct lnk_req *r, enum lnk_access access, lnk_handler_fn next)
{
    struct lnk_str key =
        lnk_auth_key_of(lnk_req_header(r, "authorization"), lnk_req_header(r, "x-api-key"));
    struct lnk_op_key *op = LNK_OP_AS(lnk_store_op_new(LNK_OP_KEY_AUTH), key);
    if (key.ptr) {
        char *hash = lnk_arena_alloc(&op->op.arena, LNK_AUTH_HASH_LEN + 1);
        lnk_auth_key_hash(key, hash);
        op->key_hash = hash;
    }
    lnk_h_submit_step(r, &op->op, then_authorize, next, (void *)(uintptr_t)access);
}

void lnk_h_guard(struct lnk_req *r, enum lnk_access access, lnk_handler_fn next)
{
    const struct lnk_config *cfg = lnk_req_env(r)->cfg;
    if (access == LNK_ACCESS_METRICS)
        access = cfg->metrics_public ? LNK_ACCESS_PUBLIC : LNK_ACCESS_ADMIN;
    switch (access) {
    case LNK_ACCESS_PUBLIC:
        next(r);
        return;
    case LNK_ACCESS_REDIRECT:
        check_budget(r, (struct budget){lnk_req_env(r)->rl_redirect, "redirect"}, next);
        return;
    case LNK_ACCESS_MANAGE:
    case LNK_ACCESS_ADMIN:
    case LNK_ACCESS_METRICS:
        if (!cfg->auth) {
            check_budget(r, budget_of(r), next);
            return;
        }
        authorize(r, access, next);
        return;
    }
}
