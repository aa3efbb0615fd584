/* SPDX-License-Identifier: MIT */
/* How handlers use the link caches: fill after a store read, forget before
 * answering a mutation (with Redis: on every node, and in the shared tier;
 * on PostgreSQL without Redis: on every node, over LISTEN/NOTIFY). */
#include <stdio.h>
#include <string.h>

#include "handlers/handlers_int.h"
#include "linkd/cache.h"
#include "linkd/pg_notify.h"
#include "linkd/redis.h"

void *lnk_h_req_alloc(void *req, size_t len)
{
    return lnk_req_alloc(req, len);
}

void lnk_h_forget_urls(struct lnk_req *r, const struct lnk_url *urls, size_t n)
{
    struct lnk_worker_env *env = lnk_req_env(r);
    struct lnk_redis_changed *changed =
        env->redis && n ? lnk_req_alloc(r, n * sizeof(*changed)) : NULL;
    char id[24];
    for (size_t i = 0; i < n; i++) {
        const struct lnk_url *u = &urls[i];
        /* the key the redirect caches it under: "<domain id>:<code>" off the
         * default domain (NUL-terminated either way) */
        const char *key =
            u->short_code ? lnk_h_link_key(r, u->domain_id, lnk_str_from_cstr(u->short_code)).ptr
                          : NULL;
        if (env->links && key)
            lnk_cache_invalidate(env->links, lnk_str_from_cstr(key));
        if (env->url_json) {
            snprintf(id, sizeof(id), "%lld", (long long)u->id);
            lnk_cache_invalidate(env->url_json, lnk_str_from_cstr(id));
        }
        if (changed)
            changed[i] = (struct lnk_redis_changed){u->id, key};
        if (env->pg_notify)
            lnk_pg_notify_publish(env->pg_notify, u->id, key);
    }
    if (changed)
        lnk_redis_forget(env->redis, changed, n);
}

void lnk_h_forget_url(struct lnk_req *r, const struct lnk_url *u)
{
    lnk_h_forget_urls(r, u, 1);
}

void lnk_h_remember_link(struct lnk_req *r, struct lnk_str code, const struct lnk_url *u,
                         uint64_t epoch)
{
    struct lnk_cache *c = lnk_req_env(r)->links;
    if (!c)
        return;
    if (!u) {
        lnk_cache_put(c, code, NULL, epoch);
        return;
    }
    size_t url_len = strlen(u->original_url);
    struct lnk_cache_value v = {u->id, u->user_id, u->is_active, u->original_url, url_len};
    if (u->opts) {
        /* the destination, a NUL, the options: one copy in the entry */
        size_t opts_len = strlen(u->opts);
        char *data = lnk_req_alloc(r, url_len + 1 + opts_len + 1);
        memcpy(data, u->original_url, url_len + 1);
        memcpy(data + url_len + 1, u->opts, opts_len + 1);
        v.data = data;
        v.len = url_len + 1 + opts_len;
        v.has_opts = true;
    }
    lnk_cache_put(c, code, &v, epoch);
}

struct lnk_str lnk_h_link_key(struct lnk_req *r, int64_t domain_id, struct lnk_str code)
{
    if (domain_id <= 0)
        return code;
    char *buf = lnk_req_alloc(r, code.len + 24);
    int n =
        snprintf(buf, code.len + 24, "%lld:%.*s", (long long)domain_id, (int)code.len, code.ptr);
    return lnk_str_make(buf, (size_t)n);
}
