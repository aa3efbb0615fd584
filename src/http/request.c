/* SPDX-License-Identifier: MIT */
/* Wraps an h2o request in a reference-counted lnk_req. h2o owns one reference
 * until it disposes the request's pool; each pending asynchronous operation
 * owns another. After h2o lets go, r->h2o is NULL and answers are dropped. */
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "http/http_int.h"
#include "linkd/arena.h"

uint64_t lnk_http_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

enum lnk_method lnk_http_method(const char *name, size_t len)
{
    static const struct {
        const char *name;
        enum lnk_method method;
    } methods[] = {{"GET", LNK_METHOD_GET},        {"HEAD", LNK_METHOD_HEAD},
                   {"POST", LNK_METHOD_POST},      {"PUT", LNK_METHOD_PUT},
                   {"PATCH", LNK_METHOD_PATCH},    {"DELETE", LNK_METHOD_DELETE},
                   {"OPTIONS", LNK_METHOD_OPTIONS}};
    for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++)
        if (h2o_memis(name, len, methods[i].name, strlen(methods[i].name)))
            return methods[i].method;
    return LNK_METHOD_OTHER;
}

static bool is_id_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_' || c == '.';
}

/* Accepts a client's X-Request-ID when it is 1..64 safe characters, so it can
 * be logged and echoed without escaping; otherwise generates one. */
static void set_request_id(struct lnk_req *r, h2o_req_t *hreq)
{
    ssize_t i = h2o_find_header_by_str(&hreq->headers, H2O_STRLIT("x-request-id"), -1);
    if (i >= 0) {
        h2o_iovec_t v = hreq->headers.entries[i].value;
        bool ok = v.len > 0 && v.len < sizeof(r->request_id);
        for (size_t k = 0; ok && k < v.len; k++)
            ok = is_id_char(v.base[k]);
        if (ok) {
            memcpy(r->request_id, v.base, v.len);
            r->request_id[v.len] = '\0';
            return;
        }
    }
    lnk_http_new_request_id(r->w, r->request_id);
}

void lnk_http_new_request_id(struct worker *w, char out[17])
{
    /* splitmix64 over a per-worker state seeded at start from the clock and
     * worker address: unique per process, cheap, not a secret. */
    uint64_t z = (w->rid_state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    static const char hex[] = "0123456789abcdef";
    for (int d = 15; d >= 0; d--, z >>= 4)
        out[d] = hex[z & 15];
    out[16] = '\0';
}

/* h2o disposes a request's pool once its response is written (or the
 * connection closes), which ends the write watch too. */
static void on_pool_dispose(void *p)
{
    struct lnk_req *r = *(struct lnk_req **)p;
    lnk_http_conn_unwatch_write(r->conn);
    r->h2o = NULL;
    lnk_req_release(r);
}

#define FREE_REQS_MAX 1024 /* recycled per worker, so requests allocate nothing */

static struct lnk_req *take_req(struct worker *w)
{
    struct lnk_req *r = w->free_reqs;
    if (!r)
        return lnk_xcalloc(1, sizeof(*r));
    w->free_reqs = r->next_free;
    w->n_free_reqs--;
    memset(r, 0, sizeof(*r));
    return r;
}

void lnk_http_req_free_cache(struct worker *w)
{
    while (w->free_reqs) {
        struct lnk_req *r = w->free_reqs;
        w->free_reqs = r->next_free;
        free(r);
    }
    w->n_free_reqs = 0;
}

struct lnk_req *lnk_http_req_new(struct worker *w, h2o_req_t *hreq)
{
    struct lnk_req *r = take_req(w);
    r->h2o = hreq;
    r->w = w;
    r->refs = 1; /* owned by h2o's pool, dropped in on_pool_dispose */
    r->start_ns = lnk_http_now_ns();
    r->conn = hreq->conn->callbacks->get_socket(hreq->conn)->on_close.data;
    r->method = lnk_http_method(hreq->method.base, hreq->method.len);
    r->route = LNK_ROUTE_UNMATCHED;
    r->principal.admin = true;
    const char *path = hreq->path.base;
    size_t plen = hreq->query_at != SIZE_MAX ? hreq->query_at : hreq->path.len;
    r->path = lnk_str_make(path, plen);
    if (hreq->query_at != SIZE_MAX)
        r->query = lnk_str_make(path + hreq->query_at + 1, hreq->path.len - hreq->query_at - 1);
    set_request_id(r, hreq);
    struct lnk_req **hook = h2o_mem_alloc_shared(&hreq->pool, sizeof(*hook), on_pool_dispose);
    *hook = r;
    w->n_live_reqs++;
    return r;
}

bool lnk_req_alive(const struct lnk_req *r)
{
    return r->h2o != NULL;
}

struct lnk_req *lnk_req_retain(struct lnk_req *r)
{
    r->refs++;
    return r;
}

void lnk_req_release(struct lnk_req *r)
{
    if (--r->refs > 0)
        return;
    struct worker *w = r->w;
    w->n_live_reqs--;
    if (w->n_free_reqs < FREE_REQS_MAX) {
        r->next_free = w->free_reqs;
        w->free_reqs = r;
        w->n_free_reqs++;
    } else {
        free(r);
    }
}

enum lnk_method lnk_req_method(const struct lnk_req *r)
{
    return r->method;
}

struct lnk_str lnk_req_path(const struct lnk_req *r)
{
    return r->path;
}

struct lnk_str lnk_req_query(const struct lnk_req *r)
{
    return r->query;
}

struct lnk_str lnk_req_body(const struct lnk_req *r)
{
    if (!r->h2o || !r->h2o->entity.base)
        return LNK_STR_NULL;
    return lnk_str_make(r->h2o->entity.base, r->h2o->entity.len);
}

struct lnk_str lnk_req_header(const struct lnk_req *r, const char *name)
{
    if (!r->h2o)
        return LNK_STR_NULL;
    ssize_t i = h2o_find_header_by_str(&r->h2o->headers, name, strlen(name), -1);
    if (i < 0)
        return LNK_STR_NULL;
    h2o_iovec_t v = r->h2o->headers.entries[i].value;
    return lnk_str_make(v.base, v.len);
}

const char *lnk_req_id(const struct lnk_req *r)
{
    return r->request_id;
}

static struct lnk_ip peer_ip(h2o_req_t *h)
{
    struct sockaddr_storage ss;
    struct lnk_ip ip = {{0}};
    socklen_t len = h->conn->callbacks->get_peername(h->conn, (struct sockaddr *)&ss);
    if (len > 0 && ss.ss_family == AF_INET) {
        ip.b[10] = ip.b[11] = 0xff;
        memcpy(ip.b + 12, &((struct sockaddr_in *)&ss)->sin_addr, 4);
    } else if (len > 0 && ss.ss_family == AF_INET6) {
        memcpy(ip.b, &((struct sockaddr_in6 *)&ss)->sin6_addr, 16);
    }
    return ip;
}

/* Resolved once per request, on first use. */
const struct lnk_ip *lnk_req_client_ip(struct lnk_req *r)
{
    if (!r->has_client && r->h2o) {
        struct lnk_ip peer = peer_ip(r->h2o);
        const struct lnk_cidr_list *trusted = r->w->srv->cfg.trusted_proxies;
        r->client = trusted && trusted->n
                        ? lnk_cidr_client_ip(trusted, &peer, lnk_req_header(r, "x-forwarded-for"))
                        : peer;
        lnk_ip_format(&r->client, r->client_text, sizeof(r->client_text));
        r->has_client = true;
    }
    return &r->client;
}

const char *lnk_req_client(struct lnk_req *r)
{
    lnk_req_client_ip(r);
    return r->client_text;
}

struct lnk_str lnk_req_host(const struct lnk_req *r)
{
    if (!r->h2o || !r->h2o->authority.base)
        return LNK_STR_NULL;
    return lnk_str_make(r->h2o->authority.base, r->h2o->authority.len);
}

int lnk_req_fd(const struct lnk_req *r)
{
    if (!r->h2o || !r->h2o->conn->callbacks->get_socket)
        return -1;
    h2o_socket_t *sock = r->h2o->conn->callbacks->get_socket(r->h2o->conn);
    return sock ? h2o_socket_get_fd(sock) : -1;
}

enum lnk_route lnk_req_route(const struct lnk_req *r)
{
    return r->route;
}

const char *lnk_req_scheme(struct lnk_req *r)
{
    const struct lnk_cidr_list *trusted = r->w->srv->cfg.trusted_proxies;
    if (!r->h2o || !trusted || !trusted->n)
        return "http";
    struct lnk_ip peer = peer_ip(r->h2o);
    struct lnk_str proto = lnk_str_trim(lnk_req_header(r, "x-forwarded-proto"));
    if (lnk_cidr_list_contains(trusted, &peer) && lnk_str_eq_nocase(proto, LNK_STR("https")))
        return "https";
    return "http";
}

void lnk_req_set_principal(struct lnk_req *r, const struct lnk_principal *p)
{
    r->principal = *p;
}

const struct lnk_principal *lnk_req_principal(const struct lnk_req *r)
{
    return &r->principal;
}

struct lnk_worker_env *lnk_req_env(const struct lnk_req *r)
{
    return &r->w->env;
}

void lnk_req_set_route(struct lnk_req *r, enum lnk_route route, struct lnk_str param, bool redirect)
{
    r->route = route;
    r->param = param;
    r->redirect_route = redirect;
}

void lnk_req_set_error_shaper(struct lnk_req *r, lnk_error_shaper shaper)
{
    r->shaper = shaper;
}

void lnk_req_set_answer_hook(struct lnk_req *r, lnk_answer_hook hook, void *ctx)
{
    r->answer_hook = hook;
    r->answer_ctx = ctx;
}

bool lnk_req_has_answer_hook(const struct lnk_req *r)
{
    return r->answer_hook != NULL || r->answer_hooked;
}

struct lnk_str lnk_req_param(const struct lnk_req *r)
{
    return r->param;
}

struct end_hook {
    void (*fn)(void *arg);
    void *arg;
};

static void run_end_hook(void *p)
{
    struct end_hook *h = p;
    h->fn(h->arg);
}

void lnk_req_on_end(struct lnk_req *r, void (*fn)(void *arg), void *arg)
{
    struct end_hook *h = h2o_mem_alloc_shared(&r->h2o->pool, sizeof(*h), run_end_hook);
    *h = (struct end_hook){fn, arg};
}

void *lnk_req_alloc(struct lnk_req *r, size_t size)
{
    /* Only called while h2o still holds the request (handlers run before
     * answering); the pool dies with it. */
    return h2o_mem_alloc_pool(&r->h2o->pool, size);
}
