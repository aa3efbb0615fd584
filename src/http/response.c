/* SPDX-License-Identifier: MIT */
/* The single way out of a request: every lnk_resp_* call ends in respond(),
 * which adds the headers every response carries, hands the body to h2o, then
 * counts the request (metrics) and writes the access line. Bodies are copied
 * into the request's pool, which h2o frees after the response is sent. */
#include <stdlib.h>
#include <string.h>

#include "http/http_int.h"
#include "linkd/config.h"
#include "linkd/json.h"
#include "linkd/log.h"
#include "linkd/metrics.h"

static h2o_generator_t generator = {NULL, NULL};

const char *lnk_http_reason(int status)
{
    switch (status) {
    case 200:
        return "OK";
    case 201:
        return "Created";
    case 204:
        return "No Content";
    case 302:
        return "Found";
    case 304:
        return "Not Modified";
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorized";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 409:
        return "Conflict";
    case 413:
        return "Payload Too Large";
    case 417:
        return "Expectation Failed";
    case 422:
        return "Unprocessable Entity";
    case 429:
        return "Too Many Requests";
    case 431:
        return "Request Header Fields Too Large";
    case 499:
        return "Client Closed Request";
    case 503:
        return "Service Unavailable";
    default:
        return status >= 500 ? "Internal Server Error" : "OK";
    }
}

static void add(h2o_req_t *h, const h2o_token_t *token, const char *v, size_t len)
{
    h2o_add_header(&h->pool, &h->res.headers, token, NULL, v, len);
}

static void add_by_name(h2o_req_t *h, const char *name, const char *v, size_t len)
{
    h2o_add_header_by_str(&h->pool, &h->res.headers, name, strlen(name), 0, NULL, v, len);
}

void lnk_resp_header(struct lnk_req *r, const char *name, const char *value)
{
    if (!r->h2o || r->answered)
        return;
    h2o_req_t *h = r->h2o;
    size_t nl = strlen(name), vl = strlen(value);
    char *n = h2o_mem_alloc_pool(&h->pool, nl + 1), *v = h2o_mem_alloc_pool(&h->pool, vl + 1);
    memcpy(n, name, nl + 1);
    memcpy(v, value, vl + 1);
    h2o_add_header_by_str(&h->pool, &h->res.headers, n, nl, 1, NULL, v, vl);
}

void lnk_resp_cache_header(struct lnk_req *r, bool hit)
{
    if (r->h2o && !r->answered)
        add_by_name(r->h2o, "x-cache", hit ? "HIT" : "MISS", hit ? 3 : 4);
}

/* With LINKD_ACCESS_LOG_REDIRECTS=N, the first of every N redirects a
 * worker answers with a 3xx keeps its line: the click row is the record of
 * each one, and its line costs about 5 % of a redirect's CPU
 * (docs/performance.md). Errors and every other route are always logged. */
static bool redirect_line_skipped(const struct lnk_req *r)
{
    unsigned every = r->w->srv->cfg.access_log_redirects;
    if (every <= 1 || !r->redirect_route || r->status < 300 || r->status >= 400)
        return false;
    return r->w->redirects_answered++ % every != 0;
}

static void access_log(const struct lnk_req *r, uint64_t dur_ns)
{
    if (!r->w->srv->cfg.access_log || redirect_line_skipped(r))
        return;
    /* /health is polled by load balancers: debug only (CONTRACT.md §4.1). */
    if (r->route == LNK_ROUTE_HEALTH && r->status < 400) {
        LNK_LOG(DEBUG, r->request_id, "http", "request", LNK_F_STR("route", "/health"));
        return;
    }
    lnk_log_request(r->request_id, lnk_method_name(r->method), r->path.ptr, r->path.len,
                    lnk_route_name(r->route), r->status, (int64_t)(dur_ns / 1000));
}

void lnk_http_req_finished(struct lnk_req *r)
{
    uint64_t dur = lnk_http_now_ns() - r->start_ns;
    lnk_metrics_observe(r->w->env.mw, r->route, r->method, r->status, dur);
    access_log(r, dur);
}

void lnk_http_rejected(struct worker *w, const char *request_id, struct lnk_str method,
                       struct lnk_str path, int status, uint64_t duration_ns)
{
    enum lnk_method m = lnk_http_method(method.ptr, method.len);
    lnk_metrics_observe(w->env.mw, LNK_ROUTE_UNMATCHED, m, status, duration_ns);
    if (w->srv->cfg.access_log)
        lnk_log_request(request_id, lnk_method_name(m), path.ptr, path.len,
                        lnk_route_name(LNK_ROUTE_UNMATCHED), status, (int64_t)(duration_ns / 1000));
}

char *lnk_http_error_json(const char *message, size_t *len)
{
    json_t *o = json_object();
    json_object_set_new(o, "error", json_string(message));
    char *s = lnk_json_dump(o, len);
    json_decref(o);
    return s;
}

/* The status line and the headers every response carries. */
static void head(struct lnk_req *r, int status, const char *content_type, size_t len)
{
    h2o_req_t *h = r->h2o;
    r->answered = true;
    r->status = status;
    h->res.status = status;
    h->res.reason = lnk_http_reason(status);
    h->res.content_length = len;
    add_by_name(h, "x-request-id", r->request_id, strlen(r->request_id));
#define ADD_SECURITY_HEADER(name, value) add_by_name(h, name, H2O_STRLIT(value));
    LNK_HTTP_SECURITY_HEADERS(ADD_SECURITY_HEADER)
#undef ADD_SECURITY_HEADER
    if (content_type)
        add(h, H2O_TOKEN_CONTENT_TYPE, content_type, strlen(content_type));
}

/* Sends status + body (copied). content_type NULL: no body headers. */
static void respond(struct lnk_req *r, int status, const char *content_type, const char *body,
                    size_t len)
{
    if (!r->h2o || r->answered)
        return;
    h2o_req_t *h = r->h2o;
    head(r, status, content_type, len);
    h2o_start_response(h, &generator);
    if (len == 0 || r->method == LNK_METHOD_HEAD) {
        h2o_send(h, NULL, 0, H2O_SEND_STATE_FINAL);
    } else {
        h2o_iovec_t b = h2o_iovec_init(h2o_mem_alloc_pool(&h->pool, len), len);
        memcpy(b.base, body, len);
        h2o_send(h, &b, 1, H2O_SEND_STATE_FINAL);
    }
    lnk_http_conn_watch_write(r->conn, h);
    lnk_http_req_finished(r);
}

void lnk_resp_raw(struct lnk_req *r, int status, const char *content_type, const char *buf,
                  size_t len)
{
    respond(r, status, content_type, buf, len);
}

void lnk_resp_json(struct lnk_req *r, int status, json_t *body)
{
    size_t len = 0;
    const char *content_type = "application/json";
    if (status >= 400 && r->shaper && body)
        body = r->shaper(r, status, body, &content_type);
    if (r->answer_hook && !r->answered) {
        lnk_answer_hook hook = r->answer_hook;
        r->answer_hook = NULL;
        r->answer_hooked = true;
        if (hook(r, status, body, r->answer_ctx)) {
            json_decref(body);
            return;
        }
    }
    char *s = body ? lnk_json_dump(body, &len) : NULL;
    json_decref(body);
    if (!s) {
        static const char fallback[] = "{\"error\":\"internal error\"}";
        respond(r, 500, "application/json", fallback, sizeof(fallback) - 1);
        return;
    }
    respond(r, status, content_type, s, len);
    free(s);
}

void lnk_resp_error(struct lnk_req *r, int status, const char *message, json_t *details)
{
    json_t *o = json_object();
    json_object_set_new(o, "error", json_string(message));
    if (details)
        json_object_set_new(o, "details", details);
    lnk_resp_json(r, status, o);
}

void lnk_resp_redirect(struct lnk_req *r, int status, const char *location, size_t len,
                       bool cache_hit)
{
    if (!r->h2o || r->answered)
        return;
    h2o_req_t *h = r->h2o;
    char *loc = h2o_mem_alloc_pool(&h->pool, len);
    memcpy(loc, location, len);
    add(h, H2O_TOKEN_LOCATION, loc, len);
    add(h, H2O_TOKEN_CACHE_CONTROL, H2O_STRLIT("no-store"));
    lnk_resp_cache_header(r, cache_hit);
    respond(r, status, NULL, NULL, 0);
}

void lnk_resp_empty(struct lnk_req *r, int status)
{
    respond(r, status, NULL, NULL, 0);
}

/* ---- streamed answers ------------------------------------------------------ */

struct stream {
    h2o_generator_t gen; /* first: h2o hands it back */
    struct lnk_req *r;
    lnk_stream_fn proceed, stop;
    void *ctx;
    bool done; /* the final chunk (or an abort) was sent */
};

static struct stream *stream_of(struct lnk_req *r)
{
    return r->stream;
}

static void on_proceed(h2o_generator_t *g, h2o_req_t *h)
{
    (void)h;
    struct stream *st = (struct stream *)g;
    if (st->done)
        return;
    /* what was sent is written: no write is pending while the next chunk
     * is read from the store, however long that takes */
    lnk_http_conn_unwatch_write(st->r->conn);
    st->proceed(st->r, st->ctx);
}

/* h2o disposes a request whose stream did not end: the client went away. */
static void on_stop(h2o_generator_t *g, h2o_req_t *h)
{
    (void)h;
    struct stream *st = (struct stream *)g;
    if (st->done)
        return;
    st->done = true;
    st->r->status = 499; /* the client closed the request (nginx's code) */
    lnk_http_req_finished(st->r);
    st->stop(st->r, st->ctx);
}

void lnk_resp_stream_start(struct lnk_req *r, int status, const char *content_type,
                           lnk_stream_fn proceed, lnk_stream_fn stop, void *ctx)
{
    if (!r->h2o || r->answered)
        return;
    h2o_req_t *h = r->h2o;
    struct stream *st = h2o_mem_alloc_pool(&h->pool, sizeof(*st));
    *st = (struct stream){{on_proceed, on_stop}, r, proceed, stop, ctx, false};
    r->stream = st;
    head(r, status, content_type, SIZE_MAX); /* no length: chunked */
    h2o_start_response(h, &st->gen);
}

void lnk_resp_stream_send(struct lnk_req *r, const char *buf, size_t len, bool final)
{
    struct stream *st = stream_of(r);
    if (!r->h2o || !st || st->done)
        return;
    h2o_req_t *h = r->h2o;
    if (r->method == LNK_METHOD_HEAD)
        len = 0;
    h2o_iovec_t b = h2o_iovec_init(buf, len);
    if (!final && len == 0) {
        /* nothing goes out (HEAD): the client "took" it at once */
        st->proceed(r, st->ctx);
        return;
    }
    if (final) {
        /* h2o may write it after we return: the request's pool keeps it */
        b.base = h2o_mem_alloc_pool(&h->pool, len ? len : 1);
        memcpy(b.base, buf, len);
        st->done = true;
        h2o_send(h, &b, len ? 1 : 0, H2O_SEND_STATE_FINAL);
        lnk_http_conn_watch_write(r->conn, h);
        lnk_http_req_finished(r);
        return;
    }
    h2o_send(h, &b, len ? 1 : 0, H2O_SEND_STATE_IN_PROGRESS);
    lnk_http_conn_watch_write(r->conn, h);
}

void lnk_resp_stream_abort(struct lnk_req *r, int status)
{
    struct stream *st = stream_of(r);
    if (!r->h2o || !st || st->done)
        return;
    st->done = true;
    r->status = status;
    h2o_send(r->h2o, NULL, 0, H2O_SEND_STATE_ERROR);
    lnk_http_req_finished(r);
}

/* libh2o answers some requests itself before on_req could: a body whose
 * Content-Length or chunked framing it cannot read, a Transfer-Encoding
 * other than chunked (400), a body over LNK_HTTP_ENTITY_MAX_BYTES (413), an
 * Expect other than 100-continue (417). It sends them through
 * h2o_send_error_generic(), which binds the request to its host's fallback
 * path and starts a text/plain response through that path's filters. This
 * filter, the fallback path's only one, makes them JSON errors with the
 * headers of every other answer; libh2o still closes the connection. */
struct error_ostream {
    h2o_ostream_t super;
    struct lnk_req *r;
};

/* linkd's words for libh2o's texts; an unknown text is passed on. */
static const char *library_error_message(h2o_req_t *h, const h2o_iovec_t *bufs, size_t n)
{
    static const struct {
        const char *theirs, *ours;
    } words[] = {
        {"broken content-length header", "invalid Content-Length"},
        {"broken chunked-encoding", "malformed chunked body"},
        {"unknown transfer-encoding", "unsupported Transfer-Encoding (only chunked is)"},
        {"request entity is too large", "request body too large (bodies are limited to 32 MiB)"},
        {"unknown expectation", "unsupported Expect (only 100-continue is)"},
    };
    if (n != 1 || bufs[0].len == 0 || bufs[0].len > 200)
        return lnk_http_reason(h->res.status);
    for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
        if (h2o_memis(bufs[0].base, bufs[0].len, words[i].theirs, strlen(words[i].theirs)))
            return words[i].ours;
    return h2o_strdup(&h->pool, bufs[0].base, bufs[0].len).base;
}

static void send_library_error(h2o_ostream_t *self, h2o_req_t *h, h2o_iovec_t *bufs, size_t n,
                               h2o_send_state_t state)
{
    struct error_ostream *os = (struct error_ostream *)self;
    struct lnk_req *r = os->r;
    if (r->answered) { /* libh2o sends its text in one piece; nothing follows */
        h2o_ostream_send_next(self, h, NULL, 0, state);
        return;
    }
    r->answered = true;
    size_t len = 0;
    char *json = lnk_http_error_json(library_error_message(h, bufs, n), &len);
    static const char fallback[] = "{\"error\":\"bad request\"}";
    h2o_iovec_t body =
        json ? h2o_strdup(&h->pool, json, len) : h2o_iovec_init(fallback, sizeof(fallback) - 1);
    free(json);
    h->res.content_length = body.len;
    lnk_http_req_finished(r);
    h2o_ostream_send_next(self, h, &body, r->method == LNK_METHOD_HEAD ? 0 : 1, state);
    lnk_http_conn_watch_write(r->conn, h);
}

static void on_setup_error_ostream(h2o_filter_t *self, h2o_req_t *h, h2o_ostream_t **slot)
{
    (void)self;
    struct worker *w = H2O_STRUCT_FROM_MEMBER(struct worker, ctx, h->conn->ctx);
    struct lnk_req *r = lnk_http_req_new(w, h);
    r->status = h->res.status;
    if (r->status == 400)
        lnk_metrics_add(w->env.mw, LNK_MC_http_bad_requests_total, 1);
    else if (r->status == 413)
        lnk_metrics_add(w->env.mw, LNK_MC_body_too_large_total, 1);
    h->res.reason = lnk_http_reason(r->status);
    h->res.headers = (h2o_headers_t){NULL, 0, 0};
    add(h, H2O_TOKEN_CONTENT_TYPE, H2O_STRLIT("application/json"));
    add_by_name(h, "x-request-id", r->request_id, strlen(r->request_id));
#define ADD_SECURITY_HEADER(name, value) add_by_name(h, name, H2O_STRLIT(value));
    LNK_HTTP_SECURITY_HEADERS(ADD_SECURITY_HEADER)
#undef ADD_SECURITY_HEADER
    struct error_ostream *os = (struct error_ostream *)h2o_add_ostream(h, sizeof(*os), slot);
    os->super.do_send = send_library_error;
    os->r = r;
    h2o_setup_next_ostream(h, &os->super.next);
}

void lnk_http_register_error_filter(h2o_pathconf_t *fallback)
{
    h2o_filter_t *f = h2o_create_filter(fallback, sizeof(*f));
    f->on_setup_ostream = on_setup_error_ostream;
}
