/* SPDX-License-Identifier: MIT */
/* A connection's life before libh2o owns it. libh2o 2.2.5 answers a head its
 * parser refuses with a text/plain 400 written straight to the socket, with
 * no hook on the way. So linkd reads a new connection's first request head
 * itself, checks it (head.h), and only then hands the socket, bytes already
 * read included, to libh2o, which parses them as if it had read them (as it
 * does after a PROXY line). A head that fails gets linkd's own 400 or 431
 * JSON and the connection is closed. Later requests on a keep-alive
 * connection are read by libh2o directly (docs/security.md says what that
 * leaves). Once a response is being written, a client that acknowledges
 * none of it for the write timeout has its connection aborted: libh2o 2.2.5
 * has no send timeout, and would keep such a connection open for ever.
 * Runs on the connection's worker thread only. */
#include <linux/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "http/head.h"
#include "http/http_int.h"
#include "linkd/arena.h"
#include "linkd/err.h"
#include "linkd/log.h"
#include "linkd/metrics.h"

static void on_close(void *data)
{
    struct conn *c = data;
    if (h2o_timeout_is_linked(&c->timer))
        h2o_timeout_unlink(&c->timer);
    if (h2o_timeout_is_linked(&c->write_timer))
        h2o_timeout_unlink(&c->write_timer);
    c->w->n_conns--;
    h2o_linklist_unlink(&c->link);
    lnk_metrics_add(c->w->env.mw, LNK_MC_connections_closed_total, 1);
    free(c->reply);
    free(c);
}

/* Also the deadline of a rejection being written: a client that reads
 * nothing does not keep its socket. */
static void on_head_timeout(h2o_timeout_entry_t *entry)
{
    struct conn *c = H2O_STRUCT_FROM_MEMBER(struct conn, timer, entry);
    h2o_socket_close(c->sock);
}

/* tcp_info's state once the connection is gone (Linux's TCP_CLOSE, which
 * <netinet/tcp.h> has but cannot be included beside <linux/tcp.h>). */
#define TCP_STATE_CLOSE 7

/* The kernel's view of the connection: tcpi_bytes_acked (bytes of ours the
 * peer acknowledged) advances only while the client reads, since an unread
 * receive buffer closes its TCP window; tcpi_state says whether it reset. */
static int tcp_info_of(h2o_socket_t *sock, struct tcp_info *ti)
{
    socklen_t len = sizeof(*ti);
    memset(ti, 0, sizeof(*ti));
    if (getsockopt(h2o_socket_get_fd(sock), IPPROTO_TCP, TCP_INFO, ti, &len) != 0)
        return lnk_err_from_errno(errno);
    return LNK_OK;
}

/* libh2o owns the socket and has no call to abort it: shut it down, so
 * that its pending read or write fails at once and libh2o closes it. With
 * no linger, the close resets the connection instead of keeping the unsent
 * bytes. */
static void abort_conn(struct conn *c)
{
    int fd = h2o_socket_get_fd(c->sock);
    struct linger no_linger = {1, 0};
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &no_linger, sizeof(no_linger));
    shutdown(fd, SHUT_RDWR);
}

/* Checked every write timeout while a response is being written, so a
 * client that stopped reading goes after one to two of them. The first
 * check only samples: sampling when the response starts would put a
 * system call on every request. */
static void on_write_timeout(h2o_timeout_entry_t *entry)
{
    struct conn *c = H2O_STRUCT_FROM_MEMBER(struct conn, write_timer, entry);
    struct tcp_info ti;
    if (tcp_info_of(c->sock, &ti) == LNK_OK &&
        (!c->has_acked_mark || ti.tcpi_bytes_acked != c->acked_bytes)) {
        c->acked_bytes = ti.tcpi_bytes_acked;
        c->has_acked_mark = true;
        h2o_timeout_link(c->w->loop, &c->w->write_timeout, &c->write_timer);
        return;
    }
    lnk_metrics_add(c->w->env.mw, LNK_MC_http_write_timeouts_total, 1);
    LNK_LOG(INFO, NULL, "http", "write_timeout", LNK_F_INT("worker", c->w->env.id),
            LNK_F_INT("timeout_ms", (int64_t)c->w->write_timeout.timeout));
    /* libh2o 2.2.5 ignores a failed write and goes on to the next
     * pipelined request unless the response was the connection's last, so
     * it is made the last. */
    c->writing->http1_is_persistent = 0;
    abort_conn(c);
}

void lnk_http_conn_abort_all(struct worker *w)
{
    for (h2o_linklist_t *l = w->conns.next; l != &w->conns; l = l->next)
        abort_conn(H2O_STRUCT_FROM_MEMBER(struct conn, link, l));
}

bool lnk_http_conn_reset_by_peer(struct conn *c)
{
    struct tcp_info ti;
    return tcp_info_of(c->sock, &ti) != LNK_OK || ti.tcpi_state == TCP_STATE_CLOSE;
}

void lnk_http_conn_watch_write(struct conn *c, h2o_req_t *h)
{
    if (h2o_timeout_is_linked(&c->write_timer))
        return;
    c->writing = h;
    c->has_acked_mark = false;
    h2o_timeout_link(c->w->loop, &c->w->write_timeout, &c->write_timer);
}

void lnk_http_conn_unwatch_write(struct conn *c)
{
    if (h2o_timeout_is_linked(&c->write_timer))
        h2o_timeout_unlink(&c->write_timer);
    c->writing = NULL;
}

static void on_reply_written(h2o_socket_t *sock, const char *err)
{
    (void)err;
    h2o_socket_close(sock);
}

/* Writes status + {"error": message} and closes. The response is built here
 * because there is no h2o request to answer through yet. */
static void reject(struct conn *c, int status, const char *message,
                   const struct lnk_http_head *head)
{
    struct worker *w = c->w;
    char rid[17], date[64];
    size_t body_len = 0;
    char *body = lnk_http_error_json(message, &body_len);
    lnk_http_new_request_id(w, rid);
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S GMT", &tm);
#define SECURITY_HEADER_LINE(name, value) name ": " value "\r\n"
    static const char security[] = LNK_HTTP_SECURITY_HEADERS(SECURITY_HEADER_LINE);
#undef SECURITY_HEADER_LINE
    size_t cap = body_len + sizeof(security) + 512;
    c->reply = lnk_xmalloc(cap);
    int n =
        snprintf(c->reply, cap,
                 "HTTP/1.1 %d %s\r\nDate: %s\r\nServer: linkd\r\nConnection: close\r\n"
                 "Content-Type: application/json\r\nContent-Length: %zu\r\n"
                 "X-Request-ID: %s\r\n%s\r\n%s",
                 status, lnk_http_reason(status), date, body_len, rid, security, body ? body : "");
    free(body);
    if (status == 431)
        lnk_metrics_add(w->env.mw, LNK_MC_header_too_large_total, 1);
    else
        lnk_metrics_add(w->env.mw, LNK_MC_http_bad_requests_total, 1);
    lnk_http_rejected(w, rid, head->method, head->path, status, lnk_http_now_ns() - c->accepted_ns);
    h2o_socket_read_stop(c->sock);
    h2o_iovec_t buf = h2o_iovec_init(c->reply, n > 0 && (size_t)n < cap ? (size_t)n : 0);
    h2o_socket_write(c->sock, &buf, 1, on_reply_written);
}

static void on_head_read(h2o_socket_t *sock, const char *err)
{
    struct conn *c = sock->on_close.data;
    if (err != NULL) {
        h2o_socket_close(sock);
        return;
    }
    struct lnk_http_head head;
    int rc = lnk_http_head_check(sock->input->bytes, sock->input->size, &head);
    if (rc == LNK_EEOF) {
        /* Refused as soon as it is too large, not once it is whole. */
        if (sock->input->size > c->w->srv->cfg.max_header_bytes)
            reject(c, 431, "request headers too large", &head);
        return;
    }
    if (rc != LNK_OK) {
        reject(c, 400, head.error, &head);
        return;
    }
    h2o_timeout_unlink(&c->timer);
    h2o_socket_read_stop(sock);
    c->checked_len = head.len;
    /* libh2o parses what sock->input holds at once, as if it had read it
     * itself, and reads the rest (a body) as usual. */
    h2o_accept(&c->w->accept_ctx, sock);
}

void lnk_http_conn_accept(struct worker *w, h2o_socket_t *sock)
{
    struct conn *c = lnk_xcalloc(1, sizeof(*c));
    c->w = w;
    c->sock = sock;
    c->accepted_ns = lnk_http_now_ns();
    c->timer.cb = on_head_timeout;
    c->write_timer.cb = on_write_timeout;
    w->n_conns++;
    h2o_linklist_insert(&w->conns, &c->link);
    lnk_metrics_add(w->env.mw, LNK_MC_connections_accepted_total, 1);
    sock->on_close.cb = on_close;
    sock->on_close.data = c;
    /* libh2o's own request timer: the same deadline for the first head as
     * for every later one, and a drain makes it due at once. */
    h2o_timeout_link(w->loop, &w->ctx.http1.req_timeout, &c->timer);
    h2o_socket_read_start(sock, on_head_read);
}
