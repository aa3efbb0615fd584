/* SPDX-License-Identifier: MIT */
/* Start-up in dependency order (store -> seed -> events -> caches -> redis ->
 * metrics -> http),
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
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include "linkd/cache.h"
#include "linkd/clock.h"
#include "linkd/domains.h"
#include "linkd/err.h"
#include "linkd/events.h"
#include "linkd/http.h"
#include "linkd/inflight.h"
#include "linkd/log.h"
#include "linkd/metrics.h"
#include "linkd/pg_notify.h"
#include "linkd/policy.h"
#include "linkd/ratelimit.h"
#include "linkd/redis.h"
#include "linkd/router.h"
#include "linkd/seed.h"
#include "linkd/store.h"
#include "linkd/url.h"

struct app {
    const struct lnk_config *cfg;
    struct lnk_store *store;
    struct lnk_events *events;
    struct lnk_metrics *metrics;
    struct lnk_http *http;
    struct lnk_cache *links, *url_json;
    struct lnk_redis *redis; /* NULL: no REDIS_URL */
    /* Invalidations over LISTEN/NOTIFY: a PostgreSQL store and no Redis. */
    struct lnk_pg_notify *pg_notify;
    struct lnk_domains *domains;
    struct lnk_ratelimit *rl_read, *rl_write, *rl_redirect;
    struct lnk_ratelimit *rl_password; /* guesses at a link's password, per client and link */
    struct lnk_ratelimit *rl_guesser;  /* a client's guesses over all links */
    struct lnk_inflight *heavy;
    struct lnk_geo *geo;   /* NULL: no LINKD_GEOIP_DB */
    _Atomic bool stopped;  /* set by the shutdown thread when all is flushed */
    _Atomic bool draining; /* set on SIGTERM, before the drain: /health/ready 503 */
    /* The database's files when the store keeps them (sqlite); "" otherwise. */
    char db_path[1024], db_dir[1024], wal_path[1032];
    char db_shown[1024];    /* DATABASE_URL as logs show it: no password */
    char redis_shown[1024]; /* REDIS_URL likewise */
};

/* The SQLite backend opens DATABASE_URL without its scheme as a path. */
static void find_database_files(struct app *a)
{
    const char *url = a->cfg->database_url, *sep = strstr(url, "://");
    const char *path = sep ? sep + 3 : url;
    if (strcmp(lnk_store_backend_name(a->store), "sqlite") != 0 || strlen(path) >= 1024)
        return;
    snprintf(a->db_path, sizeof(a->db_path), "%s", path);
    snprintf(a->wal_path, sizeof(a->wal_path), "%s-wal", path);
    const char *slash = strrchr(path, '/');
    if (!slash)
        snprintf(a->db_dir, sizeof(a->db_dir), ".");
    else
        snprintf(a->db_dir, sizeof(a->db_dir), "%.*s", slash == path ? 1 : (int)(slash - path),
                 path);
}

static double file_bytes(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (double)st.st_size : 0;
}

/* Space on the database's filesystem (its directory's, when the file was
 * removed) and the sizes of the file and its WAL: one statvfs and two stat
 * calls per scrape. */
static void collect_disk(struct app *a, struct lnk_metrics_external *out)
{
    struct statvfs vfs;
    if (!a->db_path[0] || (statvfs(a->db_path, &vfs) != 0 && statvfs(a->db_dir, &vfs) != 0))
        return;
    out->has_disk = true;
    out->store_disk_free_bytes = (double)vfs.f_bavail * (double)vfs.f_frsize;
    out->store_disk_total_bytes = (double)vfs.f_blocks * (double)vfs.f_frsize;
    out->store_database_bytes = file_bytes(a->db_path);
    out->store_wal_bytes = file_bytes(a->wal_path);
}

static void collect_cache(struct lnk_cache *c, enum lnk_metrics_cache i,
                          struct lnk_metrics_external *out)
{
    struct lnk_cache_stats st;
    if (!c)
        return;
    lnk_cache_get_stats(c, &st);
    out->has_cache[i] = true;
    out->cache_entries[i] = (double)st.entries;
    out->cache_bytes[i] = (double)st.bytes;
    out->cache_capacity_bytes[i] = (double)st.max_bytes;
    out->cache_evictions_total[i] = (double)st.evictions;
    out->cache_invalidations_total[i] = (double)st.invalidations;
}

/* The store and the dependencies behind it. Today the only one is the
 * SQLite file; PostgreSQL and Redis fill their own entries (docs/monitoring.md). */
static void collect_store(struct app *a, struct lnk_metrics_external *out)
{
    struct lnk_store_writer_stats ws;
    struct lnk_store_status st;
    bool up = !lnk_store_is_degraded(a->store);
    lnk_store_get_writer_stats(a->store, &ws);
    lnk_store_get_status(a->store, &st);
    out->backend = lnk_store_backend_name(a->store);
    out->store_degraded = up ? 0 : 1;
    out->store_up = up ? 1 : 0;
    out->store_writer_queue_depth = (double)ws.queue_depth;
    out->store_read_queue_depth = (double)ws.read_queue_depth;
    out->store_list_chunks_total = (double)ws.list_chunks;
    out->store_reads_cancelled_total = (double)ws.reads_cancelled;
    out->store_reads_refused_total = (double)ws.reads_refused;
    out->store_write_failures_total = (double)ws.write_failures;
    out->store_recoveries_total = (double)st.recoveries;
    out->store_commit_duration_seconds = ws.commit_ns;
    out->store_sync_duration_seconds = ws.sync_ns;
    out->store_batch_ops = ws.batch_ops;
    /* the store's backend is the dependency it reports on */
    int dep =
        strcmp(out->backend, "postgres") == 0 ? LNK_METRICS_DEP_postgres : LNK_METRICS_DEP_sqlite;
    out->has_dependency[dep] = true;
    out->dependency_up[dep] = up ? 1 : 0;
    out->dependency_errors_total[dep] = (double)ws.errors;
    collect_disk(a, out);
}

/* The Redis client's view: its connection, subscription and calls. */
static void collect_redis(struct app *a, struct lnk_metrics_external *out)
{
    struct lnk_redis_status st;
    if (!a->redis)
        return;
    lnk_redis_get_status(a->redis, &st);
    out->has_redis = true;
    out->has_dependency[LNK_METRICS_DEP_redis] = true;
    out->dependency_up[LNK_METRICS_DEP_redis] = st.connected && st.subscribed ? 1 : 0;
    out->dependency_errors_total[LNK_METRICS_DEP_redis] = (double)st.errors;
    out->redis_subscribed = st.subscribed ? 1 : 0;
    out->redis_timeouts_total = (double)st.timeouts;
    out->redis_reconnects_total = (double)st.reconnects;
    out->redis_invalidations_published_total = (double)st.published;
    out->redis_invalidations_received_total = (double)st.received;
    out->redis_invalidations_dropped_total = (double)st.dropped;
    out->redis_queue_depth = (double)st.queue_depth;
    out->redis_command_duration_seconds = st.latency;
}

/* The LISTEN/NOTIFY channel's view, like Redis's invalidations. */
static void collect_pg_notify(struct app *a, struct lnk_metrics_external *out)
{
    struct lnk_pg_notify_status st;
    if (!a->pg_notify)
        return;
    lnk_pg_notify_get_status(a->pg_notify, &st);
    out->has_pg_notify = true;
    out->pg_notify_subscribed = st.subscribed ? 1 : 0;
    out->pg_notify_reconnects_total = (double)st.reconnects;
    out->pg_notify_invalidations_published_total = (double)st.published;
    out->pg_notify_invalidations_received_total = (double)st.received;
    out->pg_notify_invalidations_dropped_total = (double)st.dropped;
    out->pg_notify_queue_depth = (double)st.queue_depth;
}

static void collect_metrics(void *udata, struct lnk_metrics_external *out)
{
    struct app *a = udata;
    struct lnk_events_stats st;
    lnk_events_get_stats(a->events, &st);
    out->events_queue_depth = (double)st.queued;
    out->events_overflow_depth = (double)st.overflow_queued;
    out->events_backlog_limit = (double)a->cfg->click_backlog;
    out->clicks_written_total = (double)st.written;
    out->clicks_overflow_total = (double)st.overflow;
    out->clicks_dropped_total = (double)st.dropped;
    out->click_write_failures_total = (double)st.failed;
    collect_store(a, out);
    collect_cache(a->links, LNK_METRICS_CACHE_links, out);
    collect_cache(a->url_json, LNK_METRICS_CACHE_url_json, out);
    collect_redis(a, out);
    collect_pg_notify(a, out);
    out->connections_limit = a->cfg->max_connections;
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
    env->rl_password = a->rl_password;
    env->rl_guesser = a->rl_guesser;
    env->geo = a->geo;
    env->heavy = a->heavy;
    env->draining = &a->draining;
    env->redis = a->redis;
    env->pg_notify = a->pg_notify;
    env->domains = a->domains;
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

/* Links get 7/8 of LINKD_CACHE_MB, url representations the rest. Where
 * other nodes may change links (Redis configured, or a PostgreSQL store that
 * several nodes share), entries live LINKD_CACHE_TTL_MS: the backstop for
 * an invalidation that never arrived, over Redis
 * (docs/adr/0014-redis-tier.md) or LISTEN/NOTIFY
 * (docs/adr/0011-postgresql-backend.md). */
/* Active links in the store (0 when it cannot tell): the caches start
 * sized for them. */
static size_t active_links(struct lnk_store *s)
{
    struct lnk_op_stats *op = LNK_OP_AS(lnk_store_op_new(LNK_OP_STATS), stats);
    size_t n =
        lnk_store_run(s, &op->op) == LNK_OK && op->active_urls > 0 ? (size_t)op->active_urls : 0;
    lnk_store_op_free(&op->op);
    return n;
}

static int open_caches(struct app *a)
{
    size_t bytes = (size_t)a->cfg->cache_mb * 1024 * 1024;
    if (bytes == 0)
        return LNK_OK;
    bool shared = a->cfg->redis_url[0] || strcmp(lnk_store_backend_name(a->store), "sqlite") != 0;
    uint32_t ttl_ms = shared ? a->cfg->cache_ttl_ms : 0;
    size_t expected = active_links(a->store);
    struct lnk_cache_config links = {bytes / 8 * 7, a->cfg->cache_negative_ttl_ms, ttl_ms, NULL,
                                     expected};
    struct lnk_cache_config url_json = {bytes / 8, a->cfg->cache_negative_ttl_ms, ttl_ms, NULL,
                                        expected};
    int rc = lnk_cache_new(&links, &a->links);
    if (rc == LNK_OK)
        rc = lnk_cache_new(&url_json, &a->url_json);
    return rc;
}

/* An invalidation message (on the Redis or the notification thread): this
 * node forgets the link too, whichever node changed it. */
static void forget_link(void *udata, int64_t id, struct lnk_str code)
{
    struct app *a = udata;
    char key[24];
    if (a->links && code.len)
        lnk_cache_invalidate(a->links, code);
    if (a->url_json && id > 0) {
        snprintf(key, sizeof(key), "%lld", (long long)id);
        lnk_cache_invalidate(a->url_json, lnk_str_from_cstr(key));
    }
}

static void invalidation_thread_init(void *udata)
{
    (void)udata;
    lnk_cache_thread_register();
}

static void invalidation_thread_fini(void *udata)
{
    (void)udata;
    lnk_cache_thread_unregister();
}

/* How long start-up waits for Redis's first answer: a refused password is
 * a configuration error and stops the start; an unreachable Redis does not
 * (it is an accelerator), and the client keeps trying in the background. */
#define REDIS_START_WAIT_MS 2000

static int open_redis(struct app *a)
{
    char err[256] = "";
    struct lnk_redis_config rc_cfg = {
        .timeout_ms = a->cfg->redis_timeout_ms,
        .link_ttl_ms = a->cfg->redis_ttl_s * 1000,
        .on_forget = forget_link,
        .udata = a,
        .thread_init = invalidation_thread_init,
        .thread_fini = invalidation_thread_fini,
    };
    if (!a->cfg->redis_url[0])
        return LNK_OK;
    int rc = lnk_redis_url_parse(a->cfg->redis_url, &rc_cfg.addr, err, sizeof(err));
    if (rc == LNK_OK)
        rc = lnk_redis_new(&rc_cfg, &a->redis);
    memset(rc_cfg.addr.password, 0, sizeof(rc_cfg.addr.password));
    if (rc == LNK_OK)
        rc = lnk_redis_wait_connected(a->redis, REDIS_START_WAIT_MS, err, sizeof(err));
    if (rc == LNK_EUNAVAIL) {
        LNK_LOG(WARN, NULL, "redis", "start_without_redis", LNK_F_STR("redis", a->redis_shown),
                LNK_F_STR("error", err),
                LNK_F_STR("detail", "serving from the local cache and the store; "
                                    "reconnecting in the background"));
        return LNK_OK;
    }
    if (rc != LNK_OK)
        LNK_LOG(ERROR, NULL, "redis", "open_failed", LNK_F_STR("redis", a->redis_shown),
                LNK_F_STR("error", err));
    return rc;
}

/* Nodes on one PostgreSQL database without Redis tell each other of
 * changed links over LISTEN/NOTIFY (docs/adr/0011-postgresql-backend.md);
 * the cache TTL stays the backstop while the subscription is down. */
static int open_pg_notify(struct app *a)
{
    struct lnk_pg_notify_config pc = {
        .conninfo = a->cfg->database_url,
        .on_forget = forget_link,
        .udata = a,
        .thread_init = invalidation_thread_init,
        .thread_fini = invalidation_thread_fini,
    };
    if (a->cfg->redis_url[0] || strcmp(lnk_store_backend_name(a->store), "postgres") != 0 ||
        (!a->links && !a->url_json))
        return LNK_OK;
    return lnk_pg_notify_new(&pc, &a->pg_notify);
}

static int open_store(struct app *a)
{
    char err[256] = "";
    struct lnk_store_config sc = {
        .url = a->cfg->database_url,
        .synchronous_full = a->cfg->synchronous ? 1 : 0,
        .readers = a->cfg->db_pool,
    };
    int rc = lnk_store_open(&sc, &a->store, err, sizeof(err));
    if (rc != LNK_OK)
        LNK_LOG(ERROR, NULL, "store", "open_failed", LNK_F_STR("database", a->db_shown),
                LNK_F_STR("error", err));
    return rc;
}

/* The domains this node serves, read again every LNK_DOMAINS_RELOAD_MS
 * (docs/adr/0028-domains.md). */
static int open_domains(struct app *a)
{
    a->domains = lnk_domains_new();
    int rc = lnk_domains_start(a->domains, a->store, LNK_DOMAINS_RELOAD_MS);
    if (rc != LNK_OK)
        LNK_LOG(ERROR, NULL, "domains", "load_failed", LNK_F_STR("error", lnk_strerror(rc)));
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

/* The GeoIP database of the rules' country conditions, if configured. A
 * file that cannot be read stops the start: rules would silently never
 * match. */
static int open_geo(struct app *a)
{
    const char *path = a->cfg->geoip_db;
    if (!path || !*path)
        return LNK_OK;
    int rc = lnk_geo_open(path, &a->geo);
    if (rc != LNK_OK)
        LNK_LOG(ERROR, NULL, "app", "geoip_open_failed", LNK_F_STR("path", path),
                LNK_F_STR("reason", rc == LNK_ENOTFOUND ? "no such file" : "not a MaxMind DB"));
    return rc;
}

/* One limiter per budget, shared by all workers; none when off or 0. */
static void open_limiters(struct app *a)
{
    const struct lnk_config *c = a->cfg;
    a->heavy = lnk_inflight_new(c->reads_per_client); /* a protection, not a rate limit */
    /* a protection too: a password link's guesses stay limited when the
     * rate limits are off (docs/security.md#link-passwords) */
    a->rl_password =
        lnk_ratelimit_new(LNK_PASSWORD_GUESS_RATE, LNK_PASSWORD_GUESS_BURST, &lnk_clock_monotonic);
    a->rl_guesser =
        lnk_ratelimit_new(LNK_PASSWORD_CLIENT_RATE, c->password_guesses, &lnk_clock_monotonic);
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
    lnk_ratelimit_free(a->rl_password);
    lnk_ratelimit_free(a->rl_guesser);
    lnk_inflight_free(a->heavy);
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

/* The drain time is up: reads still queued or streaming are dropped, so
 * their requests end now (writes finish: they are short and must not be
 * half done). */
static void cancel_in_flight(void *udata)
{
    struct app *a = udata;
    lnk_store_cancel_reads(a->store);
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
        .access_log_redirects = a->cfg->access_log_redirects,
        .trusted_proxies = &a->cfg->trusted_proxies,
        .max_header_bytes = a->cfg->max_header_bytes,
        .max_connections = a->cfg->max_connections,
        .read_timeout_ms = a->cfg->read_timeout_s * 1000,
        .write_timeout_ms = a->cfg->write_timeout_s * 1000,
        .metrics = a->metrics,
        .dispatch = lnk_router_dispatch,
        .worker_init = worker_init,
        .worker_fini = worker_fini,
        .on_drain_timeout = cancel_in_flight,
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

/* A second signal ends the process at once, whatever it is doing. */
static void exit_on_second_signal(const sigset_t *set, const struct timespec *wait)
{
    if (sigtimedwait(set, NULL, wait) > 0) {
        LNK_LOG(WARN, NULL, "app", "forced_exit");
        _exit(1);
    }
}

/* Readiness turns 503 first; the node goes on serving for drain_delay_ms
 * so that a load balancer stops sending to it before it stops accepting. */
static void announce_drain(struct app *a, const sigset_t *set)
{
    atomic_store(&a->draining, true);
    if (a->cfg->drain_delay_ms == 0)
        return;
    LNK_LOG(INFO, NULL, "app", "not_ready", LNK_F_INT("drain_delay_ms", a->cfg->drain_delay_ms));
    uint64_t end_ns = lnk_clock_now_ns(&lnk_clock_monotonic) + a->cfg->drain_delay_ms * 1000000ull;
    for (uint64_t now; (now = lnk_clock_now_ns(&lnk_clock_monotonic)) < end_ns;) {
        struct timespec wait = {(time_t)((end_ns - now) / 1000000000),
                                (long)((end_ns - now) % 1000000000)};
        exit_on_second_signal(set, &wait);
    }
}

static int wait_for_stop(struct app *a, const sigset_t *set)
{
    int sig = 0;
    sigwait(set, &sig);
    announce_drain(a, set);
    LNK_LOG(INFO, NULL, "app", "stopping", LNK_F_INT("signal", sig),
            LNK_F_INT("drain_s", a->cfg->drain_s));
    lnk_http_stop(a->http);
    pthread_t t;
    if (pthread_create(&t, NULL, shutdown_main, a) != 0)
        return 1;
    struct timespec tick = {0, 100 * 1000 * 1000};
    while (!atomic_load(&a->stopped))
        exit_on_second_signal(set, &tick);
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

/* REDIS_URL as logs show it: redacted once it parses (the parser and the
 * redaction agree on where a password is), or not at all. */
static void show_redis_url(const char *url, char *out, size_t cap)
{
    struct lnk_redis_addr addr;
    char err[160];
    if (!url[0] || lnk_redis_url_parse(url, &addr, err, sizeof(err)) == LNK_OK)
        lnk_url_redact(url, out, cap);
    else
        snprintf(out, cap, "(not a valid redis:// URL)");
    memset(addr.password, 0, sizeof(addr.password));
}

int lnk_app_serve(const struct lnk_config *cfg)
{
    struct app a = {.cfg = cfg};
    sigset_t set;
    int code = 1;
    lnk_log_min_level = cfg->log_level;
    lnk_log_line_format = cfg->log_format;
    block_signals(&set); /* before any thread starts, so all inherit it */
    lnk_log_start();
    lnk_url_redact(cfg->database_url, a.db_shown, sizeof(a.db_shown));
    show_redis_url(cfg->redis_url, a.redis_shown, sizeof(a.redis_shown));
    LNK_LOG(INFO, NULL, "app", "starting", LNK_F_STR("listen", cfg->listen),
            LNK_F_STR("database", a.db_shown), LNK_F_STR("redis", a.redis_shown),
            LNK_F_INT("workers", cfg->workers),
            LNK_F_STR("synchronous", cfg->synchronous ? "full" : "off"),
            LNK_F_INT("click_flush_ms", cfg->click_flush_ms), LNK_F_INT("cache_mb", cfg->cache_mb));
    if (open_geo(&a) != LNK_OK || open_store(&a) != LNK_OK || seed(&a) != LNK_OK ||
        open_domains(&a) != LNK_OK)
        goto out;
    warn_about_open_settings(cfg);
    open_limiters(&a);
    if (lnk_events_new(a.store, cfg->workers, cfg->click_flush_ms, cfg->click_backlog, &a.events) !=
            LNK_OK ||
        open_caches(&a) != LNK_OK || open_redis(&a) != LNK_OK || open_pg_notify(&a) != LNK_OK)
        goto out;
    find_database_files(&a);
    a.metrics = lnk_metrics_new(cfg->workers, collect_metrics, &a);
    if (start_http(&a) != LNK_OK)
        goto out;
    code = wait_for_stop(&a, &set);
out:
    lnk_http_stop(a.http);
    lnk_http_join(a.http);
    lnk_events_free(a.events);
    lnk_redis_free(a.redis);         /* sends the last invalidations; calls into the caches */
    lnk_pg_notify_free(a.pg_notify); /* likewise */
    close_limiters(&a);
    lnk_cache_free(a.links);
    lnk_cache_free(a.url_json);
    lnk_metrics_free(a.metrics);
    lnk_domains_free(a.domains);
    lnk_store_close(a.store);
    lnk_geo_close(a.geo);
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
    lnk_log_line_format = cfg->log_format;
    lnk_url_redact(cfg->database_url, a.db_shown, sizeof(a.db_shown));
    if (open_store(&a) != LNK_OK) {
        fprintf(stderr, "linkd import: cannot open %s\n", a.db_shown);
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
