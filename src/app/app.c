/* SPDX-License-Identifier: MIT */
/* Start-up in dependency order (store -> seed -> events -> metrics -> http),
 * signal handling on the main thread, and shutdown in reverse: stop
 * accepting, drain in-flight requests, flush every queued click, close the
 * store. SIGTERM/SIGINT are blocked in every thread and taken with sigwait by
 * the main thread only. */
#include "linkd/app.h"

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "linkd/cache.h"
#include "linkd/clock.h"
#include "linkd/err.h"
#include "linkd/events.h"
#include "linkd/http.h"
#include "linkd/log.h"
#include "linkd/metrics.h"
#include "linkd/ratelimit.h"
#include "linkd/router.h"
#include "linkd/seed.h"
#include "linkd/store.h"

struct app {
    const struct lnk_config *cfg;
    struct lnk_store *store;
    struct lnk_events *events;
    struct lnk_metrics *metrics;
    struct lnk_http *http;
    struct lnk_cache *links, *url_json;
    struct lnk_ratelimit *rl_read, *rl_write, *rl_redirect;
    _Atomic bool stopped; /* set by the shutdown thread when all is flushed */
};

static void collect_metrics(void *udata, struct lnk_metrics_external *out)
{
    struct app *a = udata;
    struct lnk_events_stats st;
    lnk_events_get_stats(a->events, &st);
    out->events_queue_depth = (double)st.queued;
    out->clicks_written_total = (double)st.written;
    out->clicks_overflow_total = (double)st.overflow;
    out->clicks_dropped_total = (double)st.dropped;
    out->click_write_failures_total = (double)st.failed;
    out->store_degraded = lnk_store_is_degraded(a->store) ? 1 : 0;
    out->log_dropped_total = (double)lnk_log_dropped();
    out->workers = a->cfg->workers;
}

static int worker_init(void *udata, struct lnk_worker_env *env)
{
    struct app *a = udata;
    env->store = a->store;
    env->events = a->events;
    env->metrics = a->metrics;
    env->mw = lnk_metrics_worker(a->metrics, env->id);
    env->cfg = a->cfg;
    env->links = a->links;
    env->url_json = a->url_json;
    env->rl_read = a->rl_read;
    env->rl_write = a->rl_write;
    env->rl_redirect = a->rl_redirect;
    lnk_cache_thread_register();
    return lnk_store_conn_open(a->store, &env->conn);
}

static void worker_fini(void *udata, struct lnk_worker_env *env)
{
    (void)udata;
    lnk_store_conn_close(env->conn);
    env->conn = NULL;
    lnk_cache_thread_unregister();
}

/* Links get 7/8 of LINKD_CACHE_MB, url representations the rest. */
static int open_caches(struct app *a)
{
    size_t bytes = (size_t)a->cfg->cache_mb * 1024 * 1024;
    if (bytes == 0)
        return LNK_OK;
    int rc = lnk_cache_new(bytes / 8 * 7, a->cfg->cache_negative_ttl_ms, &a->links);
    if (rc == LNK_OK)
        rc = lnk_cache_new(bytes / 8, a->cfg->cache_negative_ttl_ms, &a->url_json);
    return rc;
}

static int open_store(struct app *a)
{
    char err[256] = "";
    struct lnk_store_config sc = {a->cfg->database_url, a->cfg->synchronous ? 1 : 0, 0};
    int rc = lnk_store_open(&sc, &a->store, err, sizeof(err));
    if (rc != LNK_OK)
        LNK_LOG(ERROR, NULL, "store", "open_failed", LNK_F_STR("database", a->cfg->database_url),
                LNK_F_STR("error", err));
    return rc;
}

static int seed(struct app *a)
{
    if (!a->cfg->seed_dir || !*a->cfg->seed_dir)
        return LNK_OK;
    char err[512] = "";
    struct lnk_seed_report rep = {0};
    int rc = lnk_seed_import_dir(a->store, a->cfg->seed_dir, true, &rep, err, sizeof(err));
    if (rc != LNK_OK)
        LNK_LOG(ERROR, NULL, "seed", "import_failed", LNK_F_STR("dir", a->cfg->seed_dir),
                LNK_F_STR("error", err));
    else
        LNK_LOG(INFO, NULL, "seed", rep.skipped_not_empty ? "import_skipped" : "imported",
                LNK_F_STR("dir", a->cfg->seed_dir), LNK_F_INT("users", rep.users),
                LNK_F_INT("urls", rep.urls), LNK_F_INT("events", rep.events));
    return rc;
}

/* One limiter per budget, shared by all workers; none when off or 0. */
static void open_limiters(struct app *a)
{
    const struct lnk_config *c = a->cfg;
    if (!c->rate_limit)
        return;
    a->rl_read = lnk_ratelimit_new(c->rate_read, c->rate_read_burst, &lnk_clock_monotonic);
    a->rl_write = lnk_ratelimit_new(c->rate_write, c->rate_write_burst, &lnk_clock_monotonic);
    a->rl_redirect =
        lnk_ratelimit_new(c->rate_redirect, c->rate_redirect_burst, &lnk_clock_monotonic);
}

static void close_limiters(struct app *a)
{
    lnk_ratelimit_free(a->rl_read);
    lnk_ratelimit_free(a->rl_write);
    lnk_ratelimit_free(a->rl_redirect);
}

static void warn_about_open_settings(const struct lnk_config *c)
{
    if (!c->auth)
        LNK_LOG(WARN, NULL, "app", "auth_off",
                LNK_F_STR("detail", "LINKD_AUTH=off: the management API is open to every client"));
    if (!c->rate_limit)
        LNK_LOG(WARN, NULL, "app", "rate_limit_off",
                LNK_F_STR("detail", "LINKD_RATE_LIMIT=off: no request is rate limited"));
}

static int start_http(struct app *a)
{
    char err[256] = "";
    struct lnk_http_config hc = {
        .host = a->cfg->listen_host,
        .port = a->cfg->listen_port,
        .n_workers = a->cfg->workers,
        .drain_s = a->cfg->drain_s,
        .access_log = a->cfg->access_log,
        .trusted_proxies = &a->cfg->trusted_proxies,
        .max_header_bytes = a->cfg->max_header_bytes,
        .max_connections = a->cfg->max_connections,
        .read_timeout_ms = a->cfg->read_timeout_s * 1000,
        .write_timeout_ms = a->cfg->write_timeout_s * 1000,
        .metrics = a->metrics,
        .dispatch = lnk_router_dispatch,
        .worker_init = worker_init,
        .worker_fini = worker_fini,
        .udata = a,
    };
    int rc = lnk_http_start(&hc, &a->http, err, sizeof(err));
    if (rc != LNK_OK) {
        LNK_LOG(ERROR, NULL, "http", "listen_failed", LNK_F_STR("listen", a->cfg->listen),
                LNK_F_STR("error", err));
        return rc;
    }
    LNK_LOG(INFO, NULL, "http", "listening", LNK_F_STR("host", a->cfg->listen_host),
            LNK_F_INT("port", lnk_http_port(a->http)), LNK_F_INT("workers", a->cfg->workers),
            LNK_F_STR("backend", lnk_store_backend_name(a->store)));
    return LNK_OK;
}

/* Runs the slow half of shutdown so that the main thread stays free to
 * notice a second signal. */
static void *shutdown_main(void *arg)
{
    struct app *a = arg;
    lnk_http_join(a->http);
    a->http = NULL;
    struct lnk_events_stats st;
    lnk_events_get_stats(a->events, &st);
    LNK_LOG(INFO, NULL, "app", "flushing_clicks", LNK_F_INT("queued", (int64_t)st.queued));
    lnk_events_free(a->events);
    a->events = NULL;
    atomic_store(&a->stopped, true);
    return NULL;
}

static int wait_for_stop(struct app *a, const sigset_t *set)
{
    int sig = 0;
    sigwait(set, &sig);
    LNK_LOG(INFO, NULL, "app", "stopping", LNK_F_INT("signal", sig),
            LNK_F_INT("drain_s", a->cfg->drain_s));
    lnk_http_stop(a->http);
    pthread_t t;
    if (pthread_create(&t, NULL, shutdown_main, a) != 0)
        return 1;
    struct timespec tick = {0, 100 * 1000 * 1000};
    while (!atomic_load(&a->stopped)) {
        if (sigtimedwait(set, NULL, &tick) > 0) {
            LNK_LOG(WARN, NULL, "app", "forced_exit");
            _exit(1);
        }
    }
    pthread_join(t, NULL);
    return 0;
}

static void block_signals(sigset_t *set)
{
    signal(SIGPIPE, SIG_IGN);
    sigemptyset(set);
    sigaddset(set, SIGTERM);
    sigaddset(set, SIGINT);
    pthread_sigmask(SIG_BLOCK, set, NULL);
}

int lnk_app_serve(const struct lnk_config *cfg)
{
    struct app a = {.cfg = cfg};
    sigset_t set;
    int code = 1;
    lnk_log_min_level = cfg->log_level;
    block_signals(&set); /* before any thread starts, so all inherit it */
    lnk_log_start();
    LNK_LOG(INFO, NULL, "app", "starting", LNK_F_STR("listen", cfg->listen),
            LNK_F_STR("database", cfg->database_url), LNK_F_INT("workers", cfg->workers),
            LNK_F_STR("synchronous", cfg->synchronous ? "full" : "off"),
            LNK_F_INT("click_flush_ms", cfg->click_flush_ms), LNK_F_INT("cache_mb", cfg->cache_mb));
    if (open_store(&a) != LNK_OK || seed(&a) != LNK_OK)
        goto out;
    warn_about_open_settings(cfg);
    open_limiters(&a);
    if (lnk_events_new(a.store, cfg->workers, cfg->click_flush_ms, cfg->click_backlog, &a.events) !=
            LNK_OK ||
        open_caches(&a) != LNK_OK)
        goto out;
    a.metrics = lnk_metrics_new(cfg->workers, collect_metrics, &a);
    if (start_http(&a) != LNK_OK)
        goto out;
    code = wait_for_stop(&a, &set);
out:
    lnk_http_stop(a.http);
    lnk_http_join(a.http);
    lnk_events_free(a.events);
    close_limiters(&a);
    lnk_cache_free(a.links);
    lnk_cache_free(a.url_json);
    lnk_metrics_free(a.metrics);
    lnk_store_close(a.store);
    LNK_LOG(INFO, NULL, "app", "stopped", LNK_F_INT("exit_code", code));
    lnk_log_stop();
    return code;
}

int lnk_app_import(const struct lnk_config *cfg, const char *dir)
{
    struct app a = {.cfg = cfg};
    char err[512] = "";
    struct lnk_seed_report rep = {0};
    lnk_log_min_level = cfg->log_level;
    if (open_store(&a) != LNK_OK) {
        fprintf(stderr, "linkd import: cannot open %s\n", cfg->database_url);
        return 1;
    }
    int rc = lnk_seed_import_dir(a.store, dir, false, &rep, err, sizeof(err));
    lnk_store_close(a.store);
    if (rc != LNK_OK) {
        fprintf(stderr, "linkd import: %s\n", err[0] ? err : lnk_strerror(rc));
        return 1;
    }
    printf("imported %lld users, %lld urls, %lld events from %s\n", (long long)rep.users,
           (long long)rep.urls, (long long)rep.events, dir);
    return 0;
}
