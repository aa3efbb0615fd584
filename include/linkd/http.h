/* SPDX-License-Identifier: MIT */
/* The HTTP server: libh2o (HTTP/1.1 only), N worker threads, each with its own
 * event loop and SO_REUSEPORT listener. Requests are handed to `dispatch`
 * wrapped in struct lnk_req (req.h). Graceful stop: listeners close, idle
 * connections close, in-flight requests finish (up to drain_s); at the
 * deadline what is left is cancelled (on_drain_timeout), then the workers
 * exit. */
#ifndef LNK_HTTP_H
#define LNK_HTTP_H

#include <stdbool.h>
#include <stdint.h>

#include "linkd/cidr.h"
#include "linkd/req.h"

struct lnk_http;

struct lnk_http_config {
    const char *host; /* numeric IPv4 or IPv6 address */
    uint16_t port;    /* 0 = any free port (see lnk_http_port) */
    unsigned n_workers;
    unsigned drain_s;
    bool access_log;
    unsigned access_log_redirects; /* one 3xx redirect line in this many; 0 or 1: every one */
    const struct lnk_cidr_list *trusted_proxies; /* whose X-Forwarded-For is believed */
    size_t max_header_bytes;                     /* request line + headers; 431 past it */
    unsigned max_connections;                    /* open connections, all workers */
    unsigned read_timeout_ms;                    /* to receive a request; idle keep-alive */
    unsigned write_timeout_ms;                   /* a response left unread; 0: 10 s */
    struct lnk_metrics *metrics;                 /* for connection-level counters */
    void (*dispatch)(struct lnk_req *r);
    /* Called on each worker thread before it serves: fill env (id, exec and
     * mw are set by the server). Non-zero fails the start. */
    int (*worker_init)(void *udata, struct lnk_worker_env *env);
    void (*worker_fini)(void *udata, struct lnk_worker_env *env);
    /* Called (on a worker thread, once per worker) when the drain time is
     * up with requests still in flight: the caller cancels their work, whose
     * completions then end them; a worker leaves its loop once its requests
     * are gone, or DRAIN_GRACE_MS later whatever remains. */
    void (*on_drain_timeout)(void *udata);
    void *udata;
};

/* Binds the listeners and starts the workers. LNK_EUNAVAIL (err says why)
 * when the address cannot be bound. */
int lnk_http_start(const struct lnk_http_config *cfg, struct lnk_http **out, char *err,
                   size_t errcap);
/* The bound port (useful with port 0). */
uint16_t lnk_http_port(const struct lnk_http *h);
/* Begins a graceful stop. Async-signal-unsafe; thread-safe; NULL ok. */
void lnk_http_stop(struct lnk_http *h);
/* Waits for the workers to exit, then frees. NULL ok. */
void lnk_http_join(struct lnk_http *h);

#endif
