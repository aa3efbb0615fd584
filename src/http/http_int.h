/* SPDX-License-Identifier: MIT */
/* Private to src/http/: the server, worker, connection and request
 * structures shared by server.c (threads, loops, listeners), conn.c (a
 * connection until libh2o owns it; write timeout), request.c (h2o request ->
 * lnk_req) and response.c (lnk_resp_* -> h2o response). Each worker's fields,
 * and its connections', are touched only by its own thread, except
 * `stopping` and the exec queue. */
#ifndef LNK_HTTP_INT_H
#define LNK_HTTP_INT_H

#include <h2o.h>
#include <pthread.h>
#include <stdatomic.h>

#include "linkd/http.h"

/* Bodies up to this get linkd's own 413 (the API's limits are lower);
 * libh2o answers larger ones itself. */
#define LNK_HTTP_ENTITY_MAX_BYTES (32u * 1024 * 1024)

/* Headers every response carries, whoever writes it: respond() and the
 * rejections written before libh2o owns a connection (conn.c). */
#define LNK_HTTP_SECURITY_HEADERS(X)                                                               \
    X("x-content-type-options", "nosniff")                                                         \
    X("x-frame-options", "DENY")                                                                   \
    X("referrer-policy", "no-referrer")

struct lnk_http;

struct worker {
    struct lnk_http *srv;
    pthread_t thread;
    int listen_fd;
    h2o_evloop_t *loop;
    h2o_context_t ctx;
    h2o_accept_ctx_t accept_ctx;
    h2o_socket_t *listener;
    h2o_multithread_queue_t *queue;
    h2o_multithread_receiver_t receiver;
    struct lnk_exec exec;
    struct lnk_worker_env env;
    size_t n_live_reqs;        /* lnk_req objects not yet freed */
    struct lnk_req *free_reqs; /* recycled lnk_req objects, linked by `next_free` */
    size_t n_free_reqs;
    uint64_t rid_state;          /* request-id generator */
    uint64_t redirects_answered; /* 3xx redirects, for cfg.access_log_redirects */
    unsigned n_conns;            /* open connections of this worker */
    h2o_linklist_t conns;        /* the same connections, by struct conn's link */
    bool drain_expired;          /* the drain deadline passed and its work was cancelled */
    uint64_t conns_aborted_ns;   /* when the drain aborted the connections left; 0: not yet */
    h2o_timeout_t write_timeout; /* cfg.write_timeout_ms, for conn.write_timer */
};

struct lnk_http {
    struct lnk_http_config cfg;
    h2o_globalconf_t globalconf;
    struct worker *workers;
    unsigned n_threads; /* workers whose thread was started */
    uint16_t port;
    _Atomic bool stopping;
    pthread_mutex_t start_lock; /* start-up handshake with the workers */
    pthread_cond_t start_cond;
    unsigned n_started;
    int start_rc;
};

/* One accepted connection, from accept to close; its socket's on_close.data.
 * Until its first request head has arrived and passed lnk_http_head_check,
 * linkd reads the socket itself (conn.c); then libh2o owns it. */
struct conn {
    struct worker *w;
    h2o_linklist_t link; /* in w->conns */
    h2o_socket_t *sock;
    h2o_timeout_entry_t timer; /* the first head's deadline (read timeout) */
    /* Linked while the response to `writing` is being written. */
    h2o_timeout_entry_t write_timer;
    h2o_req_t *writing;
    uint64_t acked_bytes; /* the peer's acknowledged bytes at the last check */
    bool has_acked_mark;  /* acked_bytes was sampled for this response */
    uint64_t accepted_ns;
    size_t checked_len; /* > 0: the head libh2o parses next was checked, this long */
    bool pipelined;     /* the next request had arrived with this one */
    char *reply;        /* a rejection being written, before libh2o owns it */
};

struct lnk_req {
    h2o_req_t *h2o;    /* NULL once h2o disposed the request (client gone) */
    struct conn *conn; /* its connection; used only while h2o is not NULL */
    struct lnk_req *next_free;
    struct worker *w;
    unsigned refs;
    enum lnk_method method;
    enum lnk_route route;
    bool redirect_route; /* a public redirect route (the route table's LNK_ACCESS_REDIRECT) */
    struct lnk_str path, query, param;
    bool answered;
    int status;
    uint64_t start_ns;
    char request_id[65];
    struct lnk_principal principal;
    bool has_client;
    struct lnk_ip client;
    char client_text[48];
    struct stream *stream; /* a streamed answer (response.c), in h2o's pool */
    lnk_error_shaper shaper;
    lnk_answer_hook answer_hook;
    void *answer_ctx;
    bool answer_hooked; /* the hook ran already */
};

/* conn.c: takes over an accepted socket (counted in w->n_conns). */
void lnk_http_conn_accept(struct worker *w, h2o_socket_t *sock);
/* A response to c's request is being written: if its client acknowledges
 * none of it for the write timeout, the connection is aborted. */
void lnk_http_conn_watch_write(struct conn *c, h2o_req_t *h);
/* The response was written, or the request is gone: stop watching. */
void lnk_http_conn_unwatch_write(struct conn *c);
/* Resets every connection of w: the end of a drain that ran out of time. */
void lnk_http_conn_abort_all(struct worker *w);
/* Whether the client has reset the connection (one getsockopt). */
bool lnk_http_conn_reset_by_peer(struct conn *c);

/* request.c */
struct lnk_req *lnk_http_req_new(struct worker *w, h2o_req_t *hreq);
enum lnk_method lnk_http_method(const char *name, size_t len);
/* A new request id: 16 hex digits and a NUL. */
void lnk_http_new_request_id(struct worker *w, char out[17]);
/* Frees the worker's recycled requests (at worker exit). */
void lnk_http_req_free_cache(struct worker *w);
uint64_t lnk_http_now_ns(void);

/* response.c: counts the request and writes the access line. */
void lnk_http_req_finished(struct lnk_req *r);
/* The same for a request rejected before libh2o saw it (no lnk_req). */
void lnk_http_rejected(struct worker *w, const char *request_id, struct lnk_str method,
                       struct lnk_str path, int status, uint64_t duration_ns);
const char *lnk_http_reason(int status);
/* {"error": message} as a malloc'ed JSON text; NULL when out of memory. */
char *lnk_http_error_json(const char *message, size_t *len);
/* Makes the errors libh2o answers itself JSON (on the host's fallback path,
 * where libh2o sends them). */
void lnk_http_register_error_filter(h2o_pathconf_t *fallback);

#endif
