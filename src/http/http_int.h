/* SPDX-License-Identifier: MIT */
/* Private to src/http/: the server, worker and request structures shared by
 * server.c (threads, loops, listeners), request.c (h2o request -> lnk_req)
 * and response.c (lnk_resp_* -> h2o response). Each worker's fields are
 * touched only by its own thread, except `stopping` and the exec queue. */
#ifndef LNK_HTTP_INT_H
#define LNK_HTTP_INT_H

#include <h2o.h>
#include <pthread.h>
#include <stdatomic.h>

#include "linkd/http.h"

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
    uint64_t rid_state; /* request-id generator */
    unsigned n_conns;   /* open connections of this worker */
    bool drain_expired; /* the drain deadline passed and its work was cancelled */
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

struct lnk_req {
    h2o_req_t *h2o; /* NULL once h2o disposed the request (client gone) */
    struct lnk_req *next_free;
    struct worker *w;
    unsigned refs;
    enum lnk_method method;
    enum lnk_route route;
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
};

/* request.c */
struct lnk_req *lnk_http_req_new(struct worker *w, h2o_req_t *hreq);
/* Frees the worker's recycled requests (at worker exit). */
void lnk_http_req_free_cache(struct worker *w);
uint64_t lnk_http_now_ns(void);

/* response.c: counts the request and writes the access line. */
void lnk_http_req_finished(struct lnk_req *r);

#endif
