/* SPDX-License-Identifier: MIT */
/* The list routes' common path (CONTRACT.md §2.1): paging and filters, the
 * caller's scope, and the answer streamed as a chunked JSON array. A reader
 * thread turns each chunk of rows into JSON text; the worker sends it and
 * asks for the next chunk only once the client took it, so one list holds
 * one chunk of memory whatever its length, and stops at once when the
 * client goes away (docs/architecture.md, "Lists"). */
#include <stdlib.h>
#include <string.h>

#include "handlers/handlers_int.h"
#include "linkd/buf.h"
#include "linkd/config.h"
#include "linkd/err.h"
#include "linkd/inflight.h"
#include "linkd/json.h"
#include "linkd/metrics.h"

/* Rows per chunk: about 100 KiB of JSON for events, a few ms of a reader. */
#define CHUNK_ROWS 500
/* A chunk's text never grows past this (rows are bounded: 2 KiB urls,
 * 255-character names, details under 1 MiB). */
#define CHUNK_MAX_BYTES (64u * 1024 * 1024)

/* One streamed list. The worker and the reader threads hand it back and
 * forth: while the op is in the store only the reader touches `text`. */
struct stream {
    struct lnk_req *r;
    struct lnk_worker_env *env;
    struct lnk_op_list *op;
    struct lnk_buf text; /* the current chunk's JSON */
    size_t rows;         /* rows sent so far */
    bool started;        /* the status and headers went out */
    bool in_store;       /* the op is queued or being read */
    bool stopped;        /* the client went away: free once the op is back */
    struct lnk_h_heavy slot;
};

bool lnk_h_heavy_acquire(struct lnk_req *r, struct lnk_h_heavy *slot)
{
    struct lnk_worker_env *env = lnk_req_env(r);
    struct lnk_str key = lnk_h_client_key(r, slot->key, sizeof(slot->key));
    slot->len = key.len;
    slot->budget = NULL;
    if (!env->heavy)
        return true;
    if (!lnk_inflight_acquire(env->heavy, key)) {
        lnk_metrics_add(env->mw, LNK_MC_rate_limited_total, 1);
        lnk_resp_header(r, "retry-after", "1");
        lnk_resp_error(r, 429,
                       "too many lists or totals in progress for this client; wait for one to "
                       "finish (LINKD_READS_PER_CLIENT)",
                       NULL);
        return false;
    }
    slot->budget = env->heavy;
    return true;
}

void lnk_h_heavy_release(struct lnk_h_heavy *slot)
{
    if (slot->budget)
        lnk_inflight_release(slot->budget, lnk_str_make(slot->key, slot->len));
    slot->budget = NULL;
}

/* On a reader thread: one row as JSON, after a '[' or a ','. */
static bool emit_row(void *ctx, union lnk_list_row row)
{
    struct stream *s = ctx;
    enum lnk_op_kind k = s->op->op.kind;
    json_t *o = k == LNK_OP_USER_LIST  ? lnk_h_user_json(row.user)
                : k == LNK_OP_URL_LIST ? lnk_h_url_json(row.url)
                                       : lnk_h_event_json(row.event);
    size_t len;
    char *text = lnk_json_dump(o, &len);
    json_decref(o);
    bool ok = text && lnk_buf_append(&s->text, s->rows++ ? "," : "[", 1) == LNK_OK &&
              lnk_buf_append(&s->text, text, len) == LNK_OK;
    free(text);
    return ok;
}

static void free_stream(struct stream *s)
{
    lnk_h_heavy_release(&s->slot);
    lnk_buf_cleanup(&s->text);
    lnk_store_op_free(&s->op->op);
    lnk_req_release(s->r);
    free(s);
}

/* The store could not read the list before anything was sent: an ordinary
 * error answer. */
static void answer_error(struct lnk_req *r, struct lnk_op_list *op)
{
    char msg[160];
    int rc = op->op.rc;
    if (rc == LNK_ETOOBIG) {
        snprintf(msg, sizeof(msg),
                 "this list has more than %lld rows: ask for it in pages with ?page=&per_page=",
                 (long long)op->q.max_rows);
        lnk_resp_error(r, 400, msg, NULL);
    } else if (rc == LNK_ECANCELED && atomic_load(&op->op.cancelled)) {
        /* the client left: nobody reads this, the log and metrics do */
        lnk_resp_error(r, 499, "the client closed the request", NULL);
    } else if (rc == LNK_EBUSY || rc == LNK_ECANCELED) {
        lnk_resp_header(r, "retry-after", "1");
        lnk_resp_error(r, 503,
                       rc == LNK_EBUSY ? "too many reads are waiting, retry later"
                                       : "the server is stopping, retry on another instance",
                       NULL);
    } else {
        lnk_h_store_error(r, &op->op);
    }
}

static void on_proceed(struct lnk_req *r, void *ctx);
static void on_stop(struct lnk_req *r, void *ctx);

/* On the worker: a chunk came back from the store. */
static void on_chunk(struct lnk_store_op *sop)
{
    struct stream *s = sop->udata;
    struct lnk_op_list *op = s->op;
    s->in_store = false;
    if (s->stopped || !lnk_req_alive(s->r)) {
        free_stream(s);
        return;
    }
    if (sop->rc != LNK_OK) {
        if (s->started)
            lnk_resp_stream_abort(s->r, sop->rc != LNK_ECANCELED       ? 500
                                        : atomic_load(&sop->cancelled) ? 499
                                                                       : 503);
        else
            answer_error(s->r, op);
        free_stream(s);
        return;
    }
    if (!s->started) {
        s->started = true;
        lnk_resp_stream_start(s->r, 200, "application/json", on_proceed, on_stop, s);
    }
    if (!op->more) {
        (void)lnk_buf_append(&s->text, s->rows ? "]" : "[]", s->rows ? 1 : 2);
        lnk_resp_stream_send(s->r, s->text.ptr, s->text.len, true);
        free_stream(s);
        return;
    }
    lnk_resp_stream_send(s->r, s->text.ptr, s->text.len, false);
}

/* The client took the chunk: read the next one into the same buffer. */
static void on_proceed(struct lnk_req *r, void *ctx)
{
    (void)r;
    struct stream *s = ctx;
    s->text.len = 0;
    s->in_store = true;
    lnk_store_list_next(s->env->store, s->op);
}

/* The request died while the stream was on: stop reading. */
static void on_stop(struct lnk_req *r, void *ctx)
{
    (void)r;
    struct stream *s = ctx;
    s->stopped = true;
    atomic_store(&s->op->op.cancelled, true);
    if (!s->in_store)
        free_stream(s);
}

static void stream_list(struct lnk_req *r, struct lnk_op_list *op)
{
    struct lnk_worker_env *env = lnk_req_env(r);
    struct stream *s = lnk_xcalloc(1, sizeof(*s));
    if (!lnk_h_heavy_acquire(r, &s->slot)) {
        lnk_store_op_free(&op->op);
        free(s);
        return;
    }
    s->r = lnk_req_retain(r);
    s->env = env;
    s->op = op;
    lnk_buf_init(&s->text, CHUNK_MAX_BYTES);
    op->emit = emit_row;
    op->emit_ctx = s;
    op->chunk_rows = CHUNK_ROWS;
    op->q.max_rows = op->q.page ? 0 : (int64_t)env->cfg->list_max_rows;
    op->op.client_fd = lnk_req_fd(r);
    op->op.done = on_chunk;
    op->op.udata = s;
    op->op.origin = env->exec;
    s->in_store = true;
    lnk_store_submit(env->store, env->conn, &op->op);
}

static struct lnk_op_list *list_op(struct lnk_req *r, enum lnk_op_kind kind, unsigned filters)
{
    struct lnk_op_list *op = LNK_OP_AS(lnk_store_op_new(kind), list);
    if (!lnk_h_list_query(r, filters, &op->q)) {
        lnk_store_op_free(&op->op);
        return NULL;
    }
    op->q.owner_id = lnk_h_scope(r);
    op->q.has_owner_id = op->q.owner_id != 0;
    return op;
}

void lnk_h_list(struct lnk_req *r, enum lnk_op_kind kind, unsigned filters)
{
    struct lnk_op_list *op = list_op(r, kind, filters);
    if (op)
        stream_list(r, op);
}

void lnk_h_list_under(struct lnk_req *r, const char *parent, enum lnk_op_kind kind,
                      unsigned filters)
{
    int64_t id;
    if (!lnk_h_path_id(r, parent, &id))
        return;
    struct lnk_op_list *op = list_op(r, kind, filters);
    if (!op)
        return;
    struct lnk_list_query *q = &op->q;
    q->parent_must_exist = true;
    if (kind == LNK_OP_URL_LIST) {
        q->has_user_id = true;
        q->user_id = id;
    } else {
        q->has_url_id = true;
        q->url_id = id;
    }
    stream_list(r, op);
}
