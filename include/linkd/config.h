/* SPDX-License-Identifier: MIT */
/* Configuration: environment variables (12-factor) with matching flags that
 * override them. LNK_CONFIG_DEFS is the single list of settings; it drives
 * parsing, validation, --help and docs/configuration.md. Not thread-safe; filled once
 * at start-up and read-only afterwards. */
#ifndef LNK_CONFIG_H
#define LNK_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "linkd/cidr.h"
#include "linkd/log.h"

/* X(field, type, env, flag, default, min, max, help); min/max bound numbers. */
#define LNK_CONFIG_DEFS(X)                                                                         \
    X(listen, STR, "LINKD_LISTEN", "listen", "0.0.0.0:8080", 0, 0,                                 \
      "address:port to listen on (port 0 picks a free port)")                                      \
    X(database_url, STR, "DATABASE_URL", "database", "sqlite://./linkd.db", 0, 0,                  \
      "store location: sqlite:///abs/path.db, sqlite://./relative.db or "                          \
      "postgres://user:password@host:port/db?options (libpq's URI: every libpq option works); "    \
      "logs show it without the password")                                                         \
    X(workers, UINT, "LINKD_WORKERS", "workers", "0", 0, 256,                                      \
      "HTTP worker threads, each with its own event loop (0 = number of cores)")                   \
    X(log_level, LEVEL, "LOG_LEVEL", "log-level", "info", 0, 0,                                    \
      "the lowest level written: debug, info, warn or error")                                      \
    X(log_format, FORMAT, "LOG_FORMAT", "log-format", "json", 0, 0,                                \
      "json: one JSON object per log line, for collectors; text: one human-readable line per "     \
      "record, for a terminal (the same records)")                                                 \
    X(access_log, BOOL, "LINKD_ACCESS_LOG", "access-log", "on", 0, 0,                              \
      "one log line per request at info level (on/off)")                                           \
    X(access_log_redirects, UINT, "LINKD_ACCESS_LOG_REDIRECTS", "access-log-redirects", "1", 1,    \
      1000000,                                                                                     \
      "with the access log on, one line per this many 3xx redirects of a worker (its 1st, N+1st, " \
      "...); every other request keeps its line, and every redirect its click row")                \
    X(seed_dir, STR, "LINKD_SEED_DIR", "seed", "", 0, 0,                                           \
      "directory with users.csv, urls.csv, events.csv, loaded at start when the tables are "       \
      "empty")                                                                                     \
    X(synchronous, SYNC, "LINKD_SYNCHRONOUS", "synchronous", "full", 0, 0,                         \
      "full: a 2xx means the write reached the disk (fsync per group commit); off: relaxed")       \
    X(click_flush_ms, UINT, "LINKD_CLICK_FLUSH_MS", "click-flush-ms", "100", 1, 1000,              \
      "how often queued click events are written, in ms (bounds what a crash can lose)")           \
    X(click_backlog, UINT, "LINKD_CLICK_BACKLOG", "click-backlog", "1000000", 1000, 100000000,     \
      "clicks held in memory beyond the per-worker rings while the store is behind; past it "      \
      "clicks are dropped and counted")                                                            \
    X(drain_s, UINT, "LINKD_DRAIN_S", "drain-s", "10", 0, 3600,                                    \
      "on SIGTERM, how long in-flight requests may take before the process exits, in seconds")     \
    X(drain_delay_ms, UINT, "LINKD_DRAIN_DELAY_MS", "drain-delay-ms", "0", 0, 600000,              \
      "on SIGTERM, how long /health/ready answers 503 while the node still serves, before the "    \
      "drain starts: time for a load balancer to take it out, in ms")                              \
    X(auth, BOOL, "LINKD_AUTH", "auth", "on", 0, 0,                                                \
      "off opens the management API to every client (logged as a warning at start)")               \
    X(metrics_public, BOOL, "LINKD_METRICS_PUBLIC", "metrics-public", "on", 0, 0,                  \
      "off puts /metrics behind the same access rules as the management API")                      \
    X(trusted_proxies, CIDRS, "LINKD_TRUSTED_PROXIES", "trusted-proxies", "", 0, 0,                \
      "comma-separated addresses or CIDRs whose X-Forwarded-For is believed")                      \
    X(rate_limit, BOOL, "LINKD_RATE_LIMIT", "rate-limit", "on", 0, 0,                              \
      "off turns every rate limit off (benchmarks)")                                               \
    X(rate_read, UINT, "LINKD_RATE_READ", "rate-read", "1000", 0, 10000000,                        \
      "management reads per second per client or key (0 = unlimited)")                             \
    X(rate_read_burst, UINT, "LINKD_RATE_READ_BURST", "rate-read-burst", "2000", 1, 10000000,      \
      "management reads allowed at once")                                                          \
    X(rate_write, UINT, "LINKD_RATE_WRITE", "rate-write", "500", 0, 10000000,                      \
      "management writes per second per client or key (0 = unlimited)")                            \
    X(rate_write_burst, UINT, "LINKD_RATE_WRITE_BURST", "rate-write-burst", "1000", 1, 10000000,   \
      "management writes allowed at once")                                                         \
    X(rate_redirect, UINT, "LINKD_RATE_REDIRECT", "rate-redirect", "0", 0, 10000000,               \
      "redirects per second per client (0 = unlimited, the default)")                              \
    X(rate_redirect_burst, UINT, "LINKD_RATE_REDIRECT_BURST", "rate-redirect-burst", "100", 1,     \
      10000000, "redirects allowed at once")                                                       \
    X(password_guesses, UINT, "LINKD_PASSWORD_GUESSES", "password-guesses", "20", 1, 100000,       \
      "password-link guesses one client may make at once, over all links; then 2 a second "        \
      "(docs/security.md#link-passwords)")                                                         \
    X(max_header_bytes, UINT, "LINKD_MAX_HEADER_BYTES", "max-header-bytes", "16384", 1024, 400000, \
      "request line and headers; larger requests get 431")                                         \
    X(max_connections, UINT, "LINKD_MAX_CONNECTIONS", "max-connections", "10000", 0, 10000000,     \
      "open connections; more are closed at once (0 = unlimited)")                                 \
    X(read_timeout_s, UINT, "LINKD_READ_TIMEOUT_S", "read-timeout-s", "10", 1, 3600,               \
      "time to receive a whole request, and to keep an idle connection, in seconds")               \
    X(write_timeout_s, UINT, "LINKD_WRITE_TIMEOUT_S", "write-timeout-s", "10", 1, 3600,            \
      "time a client may leave a response unread (nothing acknowledged) before its connection "    \
      "is closed, in seconds")                                                                     \
    X(csv_max_rows, UINT, "LINKD_CSV_MAX_ROWS", "csv-max-rows", "100000", 1, 100000000,            \
      "rows accepted in one bulk request (users, urls, events); more get 413")                     \
    X(cache_mb, UINT, "LINKD_CACHE_MB", "cache-mb", "192", 0, 1048576,                             \
      "memory for cached links, in MiB (0 turns the cache off)")                                   \
    X(cache_negative_ttl_ms, UINT, "LINKD_CACHE_NEGATIVE_TTL_MS", "cache-negative-ttl-ms", "5000", \
      0, 3600000, "how long an unknown code is remembered as unknown, in ms")                      \
    X(cache_ttl_ms, UINT, "LINKD_CACHE_TTL_MS", "cache-ttl-ms", "1000", 0, 3600000,                \
      "with REDIS_URL or a PostgreSQL store: how long a node answers from a cached link before "   \
      "it asks again (Redis: the backstop for a lost invalidation; without Redis: how long "       \
      "another node's change may take to show), in ms; 0 = until invalidated. Unused on SQLite "   \
      "without Redis")                                                                             \
    X(redis_url, STR, "REDIS_URL", "redis", "", 0, 0,                                              \
      "Redis shared by several nodes (cache tier, invalidations, rate limits): "                   \
      "redis://[[user]:password@]host[:port][/db], no TLS (docs/deploy.md); empty: no Redis; "     \
      "logs show it without the password")                                                         \
    X(redis_timeout_ms, UINT, "LINKD_REDIS_TIMEOUT_MS", "redis-timeout-ms", "50", 1, 10000,        \
      "the longest a request waits for Redis before it goes on without it, in ms")                 \
    X(redis_ttl_s, UINT, "LINKD_REDIS_TTL_S", "redis-ttl-s", "60", 1, 86400,                       \
      "how long Redis keeps a link in the shared cache, in seconds")                               \
    X(public_url, STR, "LINKD_PUBLIC_URL", "public-url", "", 0, 0,                                 \
      "base of the short links POST /shorten answers (https://sho.rt); empty: the request's "      \
      "scheme and Host")                                                                           \
    X(db_pool, UINT, "LINKD_DB_POOL", "db-pool", "4", 1, 256,                                      \
      "read connections, each with a thread: lists, totals and (PostgreSQL) every read")           \
    X(list_max_rows, UINT, "LINKD_LIST_MAX_ROWS", "list-max-rows", "100000", 0, 100000000,         \
      "rows an unpaginated list may return; more get 400 asking for pages (0 = no limit)")         \
    X(reads_per_client, UINT, "LINKD_READS_PER_CLIENT", "reads-per-client", "4", 0, 10000,         \
      "lists and totals one client or key may have in progress at once; more get 429 "             \
      "(0 = no limit)")                                                                            \
    X(geoip_db, STR, "LINKD_GEOIP_DB", "geoip-db", "", 0, 0,                                       \
      "a MaxMind DB file (GeoLite2-Country or -City) for the country conditions of link rules "    \
      "(docs/link-policy.md); empty: country conditions never match")

struct lnk_config {
    char *listen;
    char *database_url;
    unsigned workers;
    enum lnk_log_level log_level;
    enum lnk_log_format log_format;
    bool access_log;
    unsigned access_log_redirects;
    char *seed_dir;
    bool synchronous;
    unsigned click_flush_ms;
    unsigned click_backlog;
    unsigned drain_s;
    unsigned drain_delay_ms;
    bool auth;
    bool metrics_public;
    struct lnk_cidr_list trusted_proxies;
    bool rate_limit;
    unsigned rate_read, rate_read_burst;
    unsigned rate_write, rate_write_burst;
    unsigned rate_redirect, rate_redirect_burst;
    unsigned password_guesses;
    unsigned max_header_bytes;
    unsigned max_connections;
    unsigned read_timeout_s;
    unsigned write_timeout_s;
    unsigned csv_max_rows;
    unsigned cache_mb;
    unsigned cache_negative_ttl_ms;
    unsigned cache_ttl_ms;
    char *redis_url; /* "" = no Redis */
    unsigned redis_timeout_ms;
    unsigned redis_ttl_s;
    char *public_url; /* without a trailing '/' once loaded */
    unsigned db_pool;
    unsigned list_max_rows;
    unsigned reads_per_client;
    char *geoip_db; /* "" = no GeoIP database */
    /* Derived from `listen` by lnk_config_load. */
    char listen_host[64];
    uint16_t listen_port;
};

/* Fills cfg from defaults, then the environment, then argv[first..argc).
 * Unknown flags, missing values and bad values are LNK_EINVAL with a
 * one-line message in err. *help is set when --help / -h was given. With
 * positional non-NULL, one argument that is not a flag is accepted and
 * returned there (NULL if none); otherwise such an argument is an error. */
int lnk_config_load(struct lnk_config *cfg, int argc, char **argv, int first, bool *help,
                    const char **positional, char *err, size_t errcap);
void lnk_config_cleanup(struct lnk_config *cfg);

/* Writes the settings table (flag, env, default, help) to f. */
void lnk_config_print_help(void *file);

/* Writes docs/configuration.md to f: every setting with its environment
 * variable, flag, default, accepted values and help, as a Markdown page
 * (`linkd config --markdown`). */
void lnk_config_print_markdown(void *file);

#endif
