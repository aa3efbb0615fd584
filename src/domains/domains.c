/* SPDX-License-Identifier: MIT */
/* The in-process table of domains (include/linkd/domains.h): a few rows
 * behind one mutex, with their strings owned here. Lookups copy a row out,
 * so no reader holds the lock past its call. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "linkd/arena.h"
#include "linkd/domains.h"
#include "linkd/err.h"
#include "linkd/log.h"
#include "linkd/store.h"

struct lnk_domains {
    pthread_mutex_t mu;
    struct lnk_domain *rows; /* owned, strings too */
    size_t n, cap;
    uint64_t gen;          /* local changes applied */
    atomic_size_t n_shown; /* n, for lnk_domains_any */

    /* the reloader */
    struct lnk_store *store;
    unsigned reload_ms;
    pthread_t thread;
    bool running, stopping;
    pthread_cond_t wake;
};

static char *xstrdup(const char *s)
{
    size_t len = strlen(s);
    char *p = lnk_xmalloc(len + 1);
    memcpy(p, s, len + 1);
    return p;
}

static char *dup_or_null(const char *s)
{
    return s ? xstrdup(s) : NULL;
}

static void row_clear(struct lnk_domain *d)
{
    free((char *)d->host);
    free((char *)d->root_url);
    free((char *)d->not_found_url);
    free((char *)d->fallback_url);
}

static void row_copy(struct lnk_domain *dst, const struct lnk_domain *src)
{
    *dst = (struct lnk_domain){src->id,
                               xstrdup(src->host ? src->host : ""),
                               dup_or_null(src->root_url),
                               dup_or_null(src->not_found_url),
                               dup_or_null(src->fallback_url),
                               src->created_at};
}

struct lnk_domains *lnk_domains_new(void)
{
    struct lnk_domains *t = lnk_xcalloc(1, sizeof(*t));
    pthread_mutex_init(&t->mu, NULL);
    pthread_cond_init(&t->wake, NULL);
    return t;
}

static void clear_rows(struct lnk_domains *t)
{
    for (size_t i = 0; i < t->n; i++)
        row_clear(&t->rows[i]);
    t->n = 0;
}

void lnk_domains_free(struct lnk_domains *t)
{
    if (!t)
        return;
    pthread_mutex_lock(&t->mu);
    bool running = t->running;
    t->stopping = true;
    pthread_cond_signal(&t->wake);
    pthread_mutex_unlock(&t->mu);
    if (running)
        pthread_join(t->thread, NULL);
    clear_rows(t);
    free(t->rows);
    pthread_cond_destroy(&t->wake);
    pthread_mutex_destroy(&t->mu);
    free(t);
}

bool lnk_domains_any(const struct lnk_domains *t)
{
    return t && atomic_load_explicit(&t->n_shown, memory_order_relaxed) > 0;
}

static void append(struct lnk_domains *t, const struct lnk_domain *d)
{
    if (t->n == t->cap) {
        t->cap = t->cap ? t->cap * 2 : 8;
        t->rows = lnk_xrealloc(t->rows, t->cap * sizeof(*t->rows));
    }
    row_copy(&t->rows[t->n++], d);
}

static struct lnk_domain *find_id(struct lnk_domains *t, int64_t id)
{
    for (size_t i = 0; i < t->n; i++)
        if (t->rows[i].id == id)
            return &t->rows[i];
    return NULL;
}

void lnk_domains_put(struct lnk_domains *t, const struct lnk_domain *d)
{
    pthread_mutex_lock(&t->mu);
    struct lnk_domain *cur = find_id(t, d->id);
    if (cur) {
        row_clear(cur);
        row_copy(cur, d);
    } else {
        append(t, d);
    }
    t->gen++;
    atomic_store(&t->n_shown, t->n);
    pthread_mutex_unlock(&t->mu);
}

void lnk_domains_remove(struct lnk_domains *t, int64_t id)
{
    pthread_mutex_lock(&t->mu);
    struct lnk_domain *cur = find_id(t, id);
    if (cur) {
        row_clear(cur);
        *cur = t->rows[--t->n];
    }
    t->gen++;
    atomic_store(&t->n_shown, t->n);
    pthread_mutex_unlock(&t->mu);
}

uint64_t lnk_domains_gen(struct lnk_domains *t)
{
    pthread_mutex_lock(&t->mu);
    uint64_t gen = t->gen;
    pthread_mutex_unlock(&t->mu);
    return gen;
}

void lnk_domains_replace(struct lnk_domains *t, const struct lnk_domain *d, size_t n, uint64_t gen)
{
    pthread_mutex_lock(&t->mu);
    if (t->gen == gen) {
        clear_rows(t);
        for (size_t i = 0; i < n; i++)
            append(t, &d[i]);
        atomic_store(&t->n_shown, t->n);
    }
    pthread_mutex_unlock(&t->mu);
}

static const char *copy_out(const char *s, void *(*alloc)(void *, size_t), void *actx)
{
    if (!s)
        return NULL;
    size_t len = strlen(s);
    char *p = alloc(actx, len + 1);
    memcpy(p, s, len + 1);
    return p;
}

static bool copy_row(const struct lnk_domain *d, void *(*alloc)(void *, size_t), void *actx,
                     struct lnk_domain *out)
{
    if (!d)
        return false;
    *out = (struct lnk_domain){d->id,
                               copy_out(d->host, alloc, actx),
                               copy_out(d->root_url, alloc, actx),
                               copy_out(d->not_found_url, alloc, actx),
                               copy_out(d->fallback_url, alloc, actx),
                               d->created_at};
    return true;
}

bool lnk_domains_host_key(struct lnk_str host, char *buf, size_t cap)
{
    size_t len = host.len;
    /* the port: after the last ':' unless it is inside an IPv6 literal */
    for (size_t i = host.len; i > 0; i--) {
        char ch = host.ptr[i - 1];
        if (ch == ']')
            break;
        if (ch == ':') {
            len = i - 1;
            break;
        }
    }
    while (len > 0 && host.ptr[len - 1] == '.') /* "example.com." names example.com */
        len--;
    if (len == 0 || len > LNK_DOMAIN_HOST_MAX || len + 1 > cap)
        return false;
    for (size_t i = 0; i < len; i++) {
        char ch = host.ptr[i];
        buf[i] = ch >= 'A' && ch <= 'Z' ? (char)(ch - 'A' + 'a') : ch;
    }
    buf[len] = '\0';
    return true;
}

/* The row of host key; the caller holds the lock. */
static const struct lnk_domain *find_host(const struct lnk_domains *t, const char *key)
{
    for (size_t i = 0; i < t->n; i++)
        if (strcmp(t->rows[i].host, key) == 0)
            return &t->rows[i];
    return NULL;
}

bool lnk_domains_by_host(struct lnk_domains *t, struct lnk_str host,
                         void *(*alloc)(void *actx, size_t len), void *actx, struct lnk_domain *out)
{
    char key[LNK_DOMAIN_HOST_MAX + 1];
    if (!lnk_domains_any(t) || !lnk_domains_host_key(host, key, sizeof(key)))
        return false;
    pthread_mutex_lock(&t->mu);
    bool found = copy_row(find_host(t, key), alloc, actx, out);
    pthread_mutex_unlock(&t->mu);
    return found;
}

int64_t lnk_domains_id_by_host(struct lnk_domains *t, struct lnk_str host)
{
    char key[LNK_DOMAIN_HOST_MAX + 1];
    if (!lnk_domains_any(t) || !lnk_domains_host_key(host, key, sizeof(key)))
        return 0;
    pthread_mutex_lock(&t->mu);
    const struct lnk_domain *d = find_host(t, key);
    int64_t id = d ? d->id : 0;
    pthread_mutex_unlock(&t->mu);
    return id;
}

bool lnk_domains_by_id(struct lnk_domains *t, int64_t id, void *(*alloc)(void *actx, size_t len),
                       void *actx, struct lnk_domain *out)
{
    if (!t || id <= 0)
        return false;
    pthread_mutex_lock(&t->mu);
    bool found = copy_row(find_id(t, id), alloc, actx, out);
    pthread_mutex_unlock(&t->mu);
    return found;
}

/* One read of the table from the store. */
static int reload(struct lnk_domains *t)
{
    uint64_t gen = lnk_domains_gen(t);
    struct lnk_store_op *op = lnk_store_op_new(LNK_OP_DOMAIN_LIST);
    int rc = lnk_store_run(t->store, op);
    if (rc == LNK_OK) {
        const struct lnk_op_domain *d = LNK_OP_AS(op, domain);
        lnk_domains_replace(t, d->domains, d->n_domains, gen);
    }
    lnk_store_op_free(op);
    return rc;
}

static void *reloader_main(void *arg)
{
    struct lnk_domains *t = arg;
    pthread_mutex_lock(&t->mu);
    while (!t->stopping) {
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += t->reload_ms / 1000;
        until.tv_nsec += (long)(t->reload_ms % 1000) * 1000000L;
        if (until.tv_nsec >= 1000000000L) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000L;
        }
        while (!t->stopping && pthread_cond_timedwait(&t->wake, &t->mu, &until) == 0) {
        }
        if (t->stopping)
            break;
        pthread_mutex_unlock(&t->mu);
        int rc = reload(t);
        if (rc != LNK_OK)
            LNK_LOG(WARN, NULL, "domains", "reload_failed", LNK_F_STR("error", lnk_strerror(rc)));
        pthread_mutex_lock(&t->mu);
    }
    pthread_mutex_unlock(&t->mu);
    return NULL;
}

int lnk_domains_start(struct lnk_domains *t, struct lnk_store *s, unsigned reload_ms)
{
    t->store = s;
    t->reload_ms = reload_ms ? reload_ms : LNK_DOMAINS_RELOAD_MS;
    int rc = reload(t);
    if (rc != LNK_OK)
        return rc;
    if (pthread_create(&t->thread, NULL, reloader_main, t) != 0)
        return LNK_ENOMEM;
    t->running = true;
    return LNK_OK;
}
