/* SPDX-License-Identifier: MIT */
/* What a handler sees of an HTTP request and how it answers (DESIGN.md §2:
 * the rest of the code never sees h2o types). A request is answered exactly
 * once, by one lnk_resp_* call, on the worker thread that received it. A
 * handler that answers later (after a store operation) retains the request
 * and releases it afterwards; when the client went away meanwhile the answer
 * is silently discarded. Every response carries the request id and the
 * security headers; every non-redirect body is JSON. */
#ifndef LNK_REQ_H
#define LNK_REQ_H

#include <jansson.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "linkd/cidr.h"
#include "linkd/exec.h"
#include "linkd/route.h"
#include "linkd/str.h"

#define LNK_JSON_BODY_MAX      (1024 * 1024)      /* CONTRACT.md §2 */
#define LNK_MULTIPART_BODY_MAX (16 * 1024 * 1024) /* CONTRACT.md §2 */

struct lnk_req;
struct lnk_store;
struct lnk_store_conn;
struct lnk_events;
struct lnk_metrics;
struct lnk_metrics_worker;
struct lnk_config;
struct lnk_cache;
struct lnk_ratelimit;
struct lnk_inflight;
struct lnk_redis;
struct lnk_geo;
struct lnk_domains;

/* Per-worker dependencies, filled once when the worker starts. */
struct lnk_worker_env {
    unsigned id;
    struct lnk_store *store;
    struct lnk_store_conn *conn;
    struct lnk_events *events;
    struct lnk_metrics *metrics;
    struct lnk_metrics_worker *mw;
    struct lnk_exec *exec;      /* this worker's loop */
    struct lnk_cache *links;    /* short code -> redirect target; NULL: no cache */
    struct lnk_cache *url_json; /* url id -> its JSON representation; NULL: no cache */
    struct lnk_ratelimit *rl_read, *rl_write, *rl_redirect; /* NULL: unlimited */
    struct lnk_ratelimit *rl_password; /* guesses at link passwords; NULL: unlimited */
    struct lnk_ratelimit *rl_guesser;  /* a client's guesses over all links; NULL: unlimited */
    const struct lnk_geo *geo;         /* country lookups for link rules; NULL: none */
    struct lnk_inflight *heavy; /* lists and totals in progress per client; NULL: unlimited */
    struct lnk_redis *redis;    /* shared tier, invalidations, shared budgets; NULL: no Redis */
    struct lnk_pg_notify *pg_notify; /* invalidations without Redis on PostgreSQL; NULL: none */
    struct lnk_domains *domains;     /* the domains this node serves (domains.h) */
    const struct lnk_config *cfg;
    const _Atomic bool *draining; /* set on SIGTERM: /health/ready answers 503 */
};

/* Who a request acts as, set by the access step (handlers/guard.c). */
struct lnk_principal {
    bool admin;      /* everything; else only user_id's urls and events */
    int64_t user_id; /* user keys */
    int64_t key_id;  /* 0: no key (loopback in protected mode, or auth off) */
};

enum lnk_method lnk_req_method(const struct lnk_req *r);
/* Raw path without the query string, and the query without '?'. */
struct lnk_str lnk_req_path(const struct lnk_req *r);
struct lnk_str lnk_req_query(const struct lnk_req *r);
/* The whole request body (already bounded by the server). */
struct lnk_str lnk_req_body(const struct lnk_req *r);
/* First value of a header; name in lower case. LNK_STR_NULL when absent. */
struct lnk_str lnk_req_header(const struct lnk_req *r, const char *name);
const char *lnk_req_id(const struct lnk_req *r);
/* The client's address: the peer, or what a trusted proxy forwarded. */
const struct lnk_ip *lnk_req_client_ip(struct lnk_req *r);
/* Its text form (for rate-limit keys and logs), valid as long as r. */
const char *lnk_req_client(struct lnk_req *r);
/* The Host the client named (HTTP/1.1 Host header); LNK_STR_NULL if none. */
struct lnk_str lnk_req_host(const struct lnk_req *r);
/* "https" when a trusted proxy says so (X-Forwarded-Proto), else "http":
 * linkd itself serves plain HTTP. */
const char *lnk_req_scheme(struct lnk_req *r);

void lnk_req_set_principal(struct lnk_req *r, const struct lnk_principal *p);
/* Admin until the access step says otherwise. */
const struct lnk_principal *lnk_req_principal(const struct lnk_req *r);
struct lnk_worker_env *lnk_req_env(const struct lnk_req *r);

/* Set by the router: the matched route, its {id}/{code} segment, and
 * whether it is a public redirect (the access line of its 3xx answers is
 * sampled with LINKD_ACCESS_LOG_REDIRECTS). */
void lnk_req_set_route(struct lnk_req *r, enum lnk_route route, struct lnk_str param,
                       bool redirect);
struct lnk_str lnk_req_param(const struct lnk_req *r);
enum lnk_route lnk_req_route(const struct lnk_req *r);

/* Reshapes an error body before it is sent (status >= 400): returns the
 * body to send (taking the reference to body) and may set *content_type.
 * Set by the router for a family of routes whose errors read differently
 * (/api/v1: RFC 9457 problem details). */
typedef json_t *(*lnk_error_shaper)(struct lnk_req *r, int status, json_t *body,
                                    const char **content_type);
void lnk_req_set_error_shaper(struct lnk_req *r, lnk_error_shaper shaper);

/* Takes a JSON answer over before it is sent (an answer to keep for an
 * Idempotency-Key): called by lnk_resp_json with the final status and
 * body (the reference stays the caller's), once, and then cleared. True:
 * the hook answers later itself (with lnk_resp_json); false: the answer is
 * sent as usual. */
typedef bool (*lnk_answer_hook)(struct lnk_req *r, int status, const json_t *body, void *ctx);
void lnk_req_set_answer_hook(struct lnk_req *r, lnk_answer_hook hook, void *ctx);
bool lnk_req_has_answer_hook(const struct lnk_req *r);

/* Calls fn(arg) when the request's memory goes (answered, or the client
 * left): for what a handler holds outside request memory while it waits
 * (JSON values, heap buffers). Only while the request is alive. */
void lnk_req_on_end(struct lnk_req *r, void (*fn)(void *arg), void *arg);

/* Memory that lives exactly as long as the request. Never NULL. */
void *lnk_req_alloc(struct lnk_req *r, size_t size);

/* False once the client went away: answers are dropped, and the request's
 * memory (lnk_req_alloc, body, headers) must no longer be used. */
bool lnk_req_alive(const struct lnk_req *r);

struct lnk_req *lnk_req_retain(struct lnk_req *r);
void lnk_req_release(struct lnk_req *r);

/* Adds a response header before the answer (e.g. Allow); strings are copied. */
void lnk_resp_header(struct lnk_req *r, const char *name, const char *value);
/* Answers with a JSON body; takes the reference to body. */
void lnk_resp_json(struct lnk_req *r, int status, json_t *body);
/* {"error": message, "details": details?}; takes the reference to details
 * (NULL for none). */
void lnk_resp_error(struct lnk_req *r, int status, const char *message, json_t *details);
/* A redirect (301, 302, 303, 307 or 308) with Location (copied),
 * Cache-Control: no-store, X-Cache. */
void lnk_resp_redirect(struct lnk_req *r, int status, const char *location, size_t len,
                       bool cache_hit);
/* A status with no body (204). */
void lnk_resp_empty(struct lnk_req *r, int status);
/* A non-JSON body (metrics text); buf is copied. */
void lnk_resp_raw(struct lnk_req *r, int status, const char *content_type, const char *buf,
                  size_t len);
/* Adds X-Cache to the coming response. */
void lnk_resp_cache_header(struct lnk_req *r, bool hit);

/* Streamed answers (long lists), chunked on the wire with bounded memory:
 * start with a status and content type, then send chunks. A chunk's buffer
 * must stay valid until `proceed` is called (the client took it), and the
 * next chunk is sent only then; a final chunk is copied. `stop` is called
 * instead when the request dies (the client went away, or the drain ended
 * it); nothing may be sent after it. Both run on the worker's thread. */
typedef void (*lnk_stream_fn)(struct lnk_req *r, void *ctx);
void lnk_resp_stream_start(struct lnk_req *r, int status, const char *content_type,
                           lnk_stream_fn proceed, lnk_stream_fn stop, void *ctx);
void lnk_resp_stream_send(struct lnk_req *r, const char *buf, size_t len, bool final);
/* Ends a started stream on an error: the client sees a broken chunked body
 * and the connection closes. status is what the access log and the metrics
 * record (the client already saw 200): 500 for a failed read, 499 when the
 * client left, 503 when the server is stopping. */
void lnk_resp_stream_abort(struct lnk_req *r, int status);

/* The client's socket, for a thread that must tell whether the client has
 * hung up (a peek); -1 when unknown. */
int lnk_req_fd(const struct lnk_req *r);

#endif
