/* SPDX-License-Identifier: MIT */
/* How handlers use Redis (docs/adr/0014-redis-tier.md): submit an operation
 * and continue on the worker when it completes, and share a link read from
 * the store with the other nodes. Each step does nothing without Redis, and
 * a handler never waits for Redis longer than LINKD_REDIS_TIMEOUT_MS. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "handlers/handlers_int.h"
#include "linkd/clock.h"
#include "linkd/config.h"
#include "linkd/err.h"
#include "linkd/redis.h"

struct pending {
    struct lnk_req *r;
    lnk_h_redis_fn then;
    void *ctx;
};

/* On the worker: continue while the client is still there; free either way. */
static void on_done(struct lnk_redis_op *op)
{
    struct pending *p = op->udata;
    if (lnk_req_alive(p->r))
        p->then(p->r, op, p->ctx);
    lnk_req_release(p->r);
    lnk_redis_op_free(op);
    free(p);
}

bool lnk_h_redis_submit(struct lnk_req *r, struct lnk_redis_op *op, lnk_h_redis_fn then, void *ctx)
{
    struct lnk_worker_env *env = lnk_req_env(r);
    if (!lnk_redis_ready(env->redis)) {
        lnk_redis_op_free(op);
        return false;
    }
    struct pending *p = lnk_xmalloc(sizeof(*p));
    *p = (struct pending){lnk_req_retain(r), then, ctx};
    op->done = on_done;
    op->udata = p;
    op->origin = env->exec;
    if (lnk_redis_submit(env->redis, op) != LNK_OK) {
        lnk_req_release(r);
        free(p);
        lnk_redis_op_free(op);
        return false;
    }
    return true;
}

uint64_t lnk_h_now_ns(void)
{
    return lnk_clock_now_ns(&lnk_clock_monotonic);
}

void lnk_h_share_link(struct lnk_req *r, struct lnk_str code, const struct lnk_url *u,
                      const char *gen, uint64_t asked_ns)
{
    struct lnk_worker_env *env = lnk_req_env(r);
    /* The link's invalidation count outlives a change by the tier's TTL; a
     * fill that old could put a stale value back, so it is skipped. */
    uint64_t max_age_ns = (uint64_t)env->cfg->redis_ttl_s * 1000000000ull / 2;
    if (!lnk_redis_ready(env->redis) || lnk_h_now_ns() - asked_ns > max_age_ns)
        return;
    struct lnk_redis_op *op = lnk_redis_op_new(LNK_REDIS_LINK_PUT);
    lnk_redis_op_set_code(op, code);
    size_t len = strlen(u->original_url);
    size_t opts_len = u->opts ? strlen(u->opts) : 0;
    op->link = (struct lnk_redis_link){
        u->id,        u->user_id,
        u->is_active, lnk_arena_strndup(&op->arena, u->original_url, len),
        len,          u->opts ? lnk_arena_strndup(&op->arena, u->opts, opts_len) : NULL,
        opts_len};
    snprintf(op->gen, sizeof(op->gen), "%s", gen);
    if (lnk_redis_submit(env->redis, op) != LNK_OK)
        lnk_redis_op_free(op);
}
