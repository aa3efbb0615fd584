/* SPDX-License-Identifier: MIT */
/* libh2o set-up: one shared read-only globalconf, one event loop + context +
 * SO_REUSEPORT listener per worker thread (the kernel spreads connections,
 * no accept lock), and a multithread queue per loop through which other
 * threads post completions (the worker's lnk_exec). Accepted sockets go to
 * conn.c, which hands them to h2o once their first head passed the check.
 * Stop: each worker closes its listener, asks h2o to close idle
 * connections, and leaves its loop once no request is in flight and no
 * connection is open, or the drain time is up. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "http/head.h"
#include "http/http_int.h"
#include "linkd/arena.h"
#include "linkd/err.h"
#include "linkd/log.h"
#include "linkd/metrics.h"

#define LOOP_TICK_MS             50
#define ACCEPT_PER_WAKE          64
#define DEFAULT_WRITE_TIMEOUT_MS 10000
/* After the drain deadline, how long cancelled work may take to come back
 * before a worker leaves anyway. */
#define DRAIN_GRACE_MS 2000
/* After resetting the connections left, how long their closes may take. */
#define ABORT_WAIT_MS 1000

_Static_assert(sizeof(h2o_multithread_message_t) == sizeof(((struct lnk_task *)0)->link_),
               "lnk_task reserves exactly the room of an h2o message");

/* Request line and headers as they came, roughly: names, values and the
 * separators, so the limit reads like nginx's header buffer size. */
static size_t header_bytes(const h2o_req_t *h)
{
    size_t n = h->method.len + h->path.len + 12;
    for (size_t i = 0; i < h->headers.size; i++)
        n += h->headers.entries[i].name->len + h->headers.entries[i].value.len + 4;
    return n;
}

/* libh2o has framed this request already, but by rules a proxy in front of
 * us may not share (head.h). A connection's first head was checked before
 * libh2o saw it (conn.c); a later one is still at the start of the socket's
 * input, because libh2o consumes a request's bytes only once it was
 * answered. A rejected request closes the connection, so whatever follows
 * it, framed either way, is never read as a request. */
static bool head_acceptable(struct lnk_req *r, h2o_req_t *hreq, size_t *head_len)
{
    struct conn *c = r->conn;
    if (c->checked_len) {
        *head_len = c->checked_len;
        c->checked_len = 0;
        return true;
    }
    struct lnk_http_head head;
    if (lnk_http_head_check(c->sock->input->bytes, c->sock->input->size, &head) == LNK_OK) {
        *head_len = head.len;
        return true;
    }
    lnk_metrics_add(r->w->env.mw, LNK_MC_http_bad_requests_total, 1);
    hreq->http1_is_persistent = 0;
    lnk_resp_error(r, 400, head.error ? head.error : "malformed request line or header field",
                   NULL);
    return false;
}

/* libh2o 2.2.5 ignores a failed write: on a keep-alive connection it goes
 * on to the next request it has buffered, and since a write to a reset
 * socket fails at once, it runs every pipelined request a vanished client
 * left behind in one go, its worker deaf to everyone else meanwhile (300
 * GET /events took 5 s). A request that arrived with the one before it is
 * therefore run only if the client is still there; the check is one
 * getsockopt, and only for pipelined requests. */
static bool client_gone(struct lnk_req *r, h2o_req_t *hreq)
{
    struct conn *c = r->conn;
    bool pipelined = c->pipelined;
    c->pipelined = false;
    if (!pipelined || !lnk_http_conn_reset_by_peer(c))
        return false;
    hreq->http1_is_persistent = 0;
    /* nginx's "client closed request": only the access log sees it */
    lnk_resp_empty(r, 499);
    return true;
}

/* Whether more bytes follow this request in the input: the next request,
 * which libh2o will parse as soon as this one is answered. */
static bool more_input(const h2o_req_t *hreq, const h2o_socket_t *sock, size_t head_len)
{
    size_t end = hreq->entity.base
                     ? (size_t)(hreq->entity.base + hreq->entity.len - sock->input->bytes)
                     : head_len;
    return sock->input->size > end;
}

static int on_req(h2o_handler_t *self, h2o_req_t *hreq)
{
    (void)self;
    struct worker *w = H2O_STRUCT_FROM_MEMBER(struct worker, ctx, hreq->conn->ctx);
    struct lnk_req *r = lnk_http_req_new(w, hreq);
    size_t head_len = 0;
    if (client_gone(r, hreq) || !head_acceptable(r, hreq, &head_len))
        return 0;
    r->conn->pipelined = more_input(hreq, r->conn->sock, head_len);
    if (header_bytes(hreq) > w->srv->cfg.max_header_bytes) {
        lnk_metrics_add(w->env.mw, LNK_MC_header_too_large_total, 1);
        lnk_resp_error(r, 431, "request headers too large", NULL);
        return 0;
    }
    w->srv->cfg.dispatch(r);
    return 0;
}

/* exec: other threads post tasks as h2o messages to this worker's loop. */
static void exec_post(struct lnk_exec *ex, struct lnk_task *t)
{
    struct worker *w = H2O_STRUCT_FROM_MEMBER(struct worker, exec, ex);
    h2o_multithread_message_t *m = (h2o_multithread_message_t *)t->link_;
    memset(m, 0, sizeof(*m));
    h2o_multithread_send_message(&w->receiver, m);
}

static void on_messages(h2o_multithread_receiver_t *receiver, h2o_linklist_t *messages)
{
    (void)receiver;
    while (!h2o_linklist_is_empty(messages)) {
        h2o_multithread_message_t *m =
            H2O_STRUCT_FROM_MEMBER(h2o_multithread_message_t, link, messages->next);
        h2o_linklist_unlink(&m->link);
        struct lnk_task *t = (struct lnk_task *)(void *)m;
        t->run(t);
    }
}

/* Past its share of max_connections a worker closes new connections at once:
 * HTTP has no polite answer for a client we cannot afford to read. */
static void on_accept(h2o_socket_t *listener, const char *err)
{
    if (err != NULL)
        return;
    struct worker *w = listener->data;
    unsigned cap = w->srv->cfg.max_connections / w->srv->cfg.n_workers;
    for (int i = 0; i < ACCEPT_PER_WAKE; i++) {
        h2o_socket_t *sock = h2o_evloop_socket_accept(listener);
        if (sock == NULL)
            return;
        if (cap && w->n_conns >= cap) {
            lnk_metrics_add(w->env.mw, LNK_MC_connections_rejected_total, 1);
            h2o_socket_close(sock);
            continue;
        }
        lnk_http_conn_accept(w, sock);
    }
}

static int make_listener(const char *host, uint16_t port, int *out, char *err, size_t errcap)
{
    struct sockaddr_storage ss;
    socklen_t sl;
    memset(&ss, 0, sizeof(ss));
    struct sockaddr_in *a4 = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&ss;
    if (inet_pton(AF_INET, host, &a4->sin_addr) == 1) {
        a4->sin_family = AF_INET;
        a4->sin_port = htons(port);
        sl = sizeof(*a4);
    } else if (inet_pton(AF_INET6, host, &a6->sin6_addr) == 1) {
        a6->sin6_family = AF_INET6;
        a6->sin6_port = htons(port);
        sl = sizeof(*a6);
    } else {
        snprintf(err, errcap, "listen: '%s' is not a numeric IPv4 or IPv6 address", host);
        return LNK_EINVAL;
    }
    int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        int e = errno;
        snprintf(err, errcap, "socket: %s", strerror(e));
        return lnk_err_from_errno(e);
    }
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (bind(fd, (struct sockaddr *)&ss, sl) != 0 || listen(fd, 4096) != 0) {
        int e = errno;
        close(fd);
        snprintf(err, errcap, "cannot listen on %s:%u: %s", host, port, strerror(e));
        return LNK_EUNAVAIL;
    }
    *out = fd;
    return LNK_OK;
}

static uint16_t bound_port(int fd)
{
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    if (getsockname(fd, (struct sockaddr *)&ss, &sl) != 0)
        return 0;
    if (ss.ss_family == AF_INET6)
        return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    return ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

static void report_started(struct lnk_http *h, int rc)
{
    pthread_mutex_lock(&h->start_lock);
    h->n_started++;
    if (rc != LNK_OK)
        h->start_rc = rc;
    pthread_cond_broadcast(&h->start_cond);
    pthread_mutex_unlock(&h->start_lock);
}

/* Past the drain deadline: in-flight work is cancelled (its completions end
 * the requests on this loop within moments). Once it came back, or
 * DRAIN_GRACE_MS later, the connections left are reset: a client that reads
 * nothing would hold its response, and the worker, for ever. True when the
 * worker may leave: its connections closed, or ABORT_WAIT_MS went by. */
static bool drain_expired_step(struct worker *w, uint64_t now, uint64_t deadline_ns)
{
    struct lnk_http *h = w->srv;
    if (!w->drain_expired) {
        w->drain_expired = true;
        LNK_LOG(WARN, NULL, "http", "drain_timeout", LNK_F_INT("worker", w->env.id),
                LNK_F_INT("in_flight", (int64_t)w->n_live_reqs),
                LNK_F_INT("connections", (int64_t)w->n_conns));
        if (h->cfg.on_drain_timeout)
            h->cfg.on_drain_timeout(h->cfg.udata);
    }
    if (w->n_live_reqs && now < deadline_ns + (uint64_t)DRAIN_GRACE_MS * 1000000ull)
        return false;
    if (!w->conns_aborted_ns) {
        w->conns_aborted_ns = now;
        lnk_http_conn_abort_all(w);
        return false;
    }
    if (now < w->conns_aborted_ns + (uint64_t)ABORT_WAIT_MS * 1000000ull)
        return false;
    LNK_LOG(WARN, NULL, "http", "drain_abandoned", LNK_F_INT("worker", w->env.id),
            LNK_F_INT("in_flight", (int64_t)w->n_live_reqs),
            LNK_F_INT("connections", (int64_t)w->n_conns));
    return true;
}

/* Runs the loop until a stop was requested and the worker drained. */
static void serve(struct worker *w)
{
    struct lnk_http *h = w->srv;
    uint64_t deadline_ns = 0;
    for (;;) {
        h2o_evloop_run(w->loop, LOOP_TICK_MS);
        if (!atomic_load_explicit(&h->stopping, memory_order_acquire))
            continue;
        if (deadline_ns == 0) {
            deadline_ns = lnk_http_now_ns() + (uint64_t)h->cfg.drain_s * 1000000000ull;
            h2o_socket_read_stop(w->listener);
            h2o_socket_close(w->listener);
            w->listener = NULL;
            h2o_context_request_shutdown(&w->ctx);
            /* h2o 2.2 closes idle HTTP/1 keep-alive connections only when
             * their request timeout fires: make every armed one due now.
             * Requests being handled have no such timer armed. */
            w->ctx.http1.req_timeout.timeout = 0;
        }
        bool drained = w->n_live_reqs == 0 && w->n_conns == 0;
        uint64_t now = lnk_http_now_ns();
        if (drained)
            return;
        if (now >= deadline_ns && drain_expired_step(w, now, deadline_ns))
            return;
    }
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    struct lnk_http *h = w->srv;
    w->loop = h2o_evloop_create();
    h2o_context_init(&w->ctx, w->loop, &h->globalconf);
    w->accept_ctx.ctx = &w->ctx;
    w->accept_ctx.hosts = h->globalconf.hosts;
    h2o_timeout_init(w->loop, &w->write_timeout,
                     h->cfg.write_timeout_ms ? h->cfg.write_timeout_ms : DEFAULT_WRITE_TIMEOUT_MS);
    w->queue = h2o_multithread_create_queue(w->loop);
    h2o_multithread_register_receiver(w->queue, &w->receiver, on_messages);
    w->exec.post = exec_post;
    w->env.exec = &w->exec;
    w->rid_state = lnk_http_now_ns() ^ (uint64_t)(uintptr_t)w;
    int rc = h->cfg.worker_init ? h->cfg.worker_init(h->cfg.udata, &w->env) : LNK_OK;
    if (rc == LNK_OK) {
        w->listener = h2o_evloop_socket_create(w->loop, w->listen_fd, H2O_SOCKET_FLAG_DONT_READ);
        w->listen_fd = -1; /* owned by the socket now */
        w->listener->data = w;
        h2o_socket_read_start(w->listener, on_accept);
    }
    report_started(h, rc);
    if (rc == LNK_OK)
        serve(w);
    /* Nothing posts to a drained worker any more. One that left requests
     * behind keeps its queue: a late completion may still post to it, and
     * the process exits right after. */
    if (w->n_live_reqs == 0) {
        h2o_multithread_unregister_receiver(w->queue, &w->receiver);
        h2o_multithread_destroy_queue(w->queue);
        w->queue = NULL;
    }
    h2o_evloop_run(w->loop, 0); /* socket closes complete on the next turn */
    if (h->cfg.worker_fini)
        h->cfg.worker_fini(h->cfg.udata, &w->env);
    return NULL;
}

static void init_globalconf(struct lnk_http *h)
{
    h2o_config_init(&h->globalconf);
    h->globalconf.server_name = h2o_iovec_init(H2O_STRLIT("linkd"));
    h->globalconf.max_request_entity_size = LNK_HTTP_ENTITY_MAX_BYTES;
    h->globalconf.http1.upgrade_to_http2 = 0; /* HTTP/1.1 only (DESIGN.md §2) */
    if (h->cfg.read_timeout_ms)
        h->globalconf.http1.req_timeout = h->cfg.read_timeout_ms;
    h2o_hostconf_t *host =
        h2o_config_register_host(&h->globalconf, h2o_iovec_init(H2O_STRLIT("default")), 65535);
    h2o_pathconf_t *pc = h2o_config_register_path(host, "/", 0);
    h2o_handler_t *handler = h2o_create_handler(pc, sizeof(*handler));
    handler->on_req = on_req;
    lnk_http_register_error_filter(&host->fallback_path);
}

static int bind_all(struct lnk_http *h, char *err, size_t errcap)
{
    uint16_t port = h->cfg.port;
    for (unsigned i = 0; i < h->cfg.n_workers; i++) {
        int rc = make_listener(h->cfg.host, port, &h->workers[i].listen_fd, err, errcap);
        if (rc != LNK_OK)
            return rc;
        if (i == 0)
            port = h->port = bound_port(h->workers[0].listen_fd);
    }
    return LNK_OK;
}

static void wait_started(struct lnk_http *h, unsigned n)
{
    pthread_mutex_lock(&h->start_lock);
    while (h->n_started < n)
        pthread_cond_wait(&h->start_cond, &h->start_lock);
    pthread_mutex_unlock(&h->start_lock);
}

int lnk_http_start(const struct lnk_http_config *cfg, struct lnk_http **out, char *err,
                   size_t errcap)
{
    struct lnk_http *h = lnk_xcalloc(1, sizeof(*h));
    h->cfg = *cfg;
    if (h->cfg.n_workers == 0)
        h->cfg.n_workers = 1;
    h->workers = lnk_xcalloc(h->cfg.n_workers, sizeof(*h->workers));
    pthread_mutex_init(&h->start_lock, NULL);
    pthread_cond_init(&h->start_cond, NULL);
    init_globalconf(h);
    for (unsigned i = 0; i < h->cfg.n_workers; i++) {
        h->workers[i].srv = h;
        h->workers[i].listen_fd = -1;
        h2o_linklist_init_anchor(&h->workers[i].conns);
        h->workers[i].env.id = i;
    }
    int rc = bind_all(h, err, errcap);
    unsigned n = 0;
    for (; rc == LNK_OK && n < h->cfg.n_workers; n++)
        if (pthread_create(&h->workers[n].thread, NULL, worker_main, &h->workers[n]) != 0)
            rc = LNK_ENOMEM;
    wait_started(h, n);
    if (rc == LNK_OK && h->start_rc != LNK_OK) {
        rc = h->start_rc;
        snprintf(err, errcap, "a worker failed to start: %s", lnk_strerror(rc));
    }
    h->n_threads = n;
    if (rc != LNK_OK) {
        lnk_http_stop(h);
        lnk_http_join(h);
        return rc;
    }
    *out = h;
    return LNK_OK;
}

uint16_t lnk_http_port(const struct lnk_http *h)
{
    return h->port;
}

void lnk_http_stop(struct lnk_http *h)
{
    if (h)
        atomic_store_explicit(&h->stopping, true, memory_order_release);
}

static void dispose_worker(struct worker *w)
{
    lnk_http_req_free_cache(w);
    if (w->listen_fd >= 0)
        close(w->listen_fd);
    if (!w->loop)
        return;
    /* Connections still open after a drain timeout keep the loop and context
     * alive; freeing them under those connections would be unsafe, and the
     * process exits right after. */
    if (w->n_live_reqs == 0 && w->n_conns == 0) {
        /* request_shutdown arms HTTP/2's graceful-shutdown timer even though
         * we serve HTTP/1.1 only; dispose asserts that no timer is armed. */
        if (h2o_timeout_is_linked(&w->ctx.http2._graceful_shutdown_timeout))
            h2o_timeout_unlink(&w->ctx.http2._graceful_shutdown_timeout);
        h2o_timeout_dispose(w->loop, &w->write_timeout);
        h2o_context_dispose(&w->ctx);
        h2o_evloop_destroy(w->loop);
    }
}

void lnk_http_join(struct lnk_http *h)
{
    if (!h)
        return;
    for (unsigned i = 0; i < h->n_threads; i++)
        pthread_join(h->workers[i].thread, NULL);
    for (unsigned i = 0; i < h->cfg.n_workers; i++)
        dispose_worker(&h->workers[i]);
    h2o_config_dispose(&h->globalconf);
    pthread_cond_destroy(&h->start_cond);
    pthread_mutex_destroy(&h->start_lock);
    free(h->workers);
    free(h);
}
