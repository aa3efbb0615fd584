/* SPDX-License-Identifier: MIT */
/* Idempotency-Key on /api/v1 POSTs (docs/api-v1.md#idempotency): the first
 * request with a key runs and its answer is kept a day, per caller (API
 * key, or client address without one); the same request again gets that
 * answer back (Idempotent-Replayed: true) without running; another request
 * with the key is refused (422), as is one while the first still runs
 * (409). The answer is kept before it is sent, so a client that saw it
 * finds it on a retry. Server errors (5xx) are not kept: a retry runs. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "handlers/handlers_int.h"
#include "linkd/auth.h"
#include "linkd/err.h"
#include "linkd/json.h"

#define IDEM_KEY_MAX 255

/* A key held by this request, in request memory. */
struct held {
    const char *caller, *key;
    lnk_handler_fn next;
};

/* A kept answer's JSON text back as JSON (an object or, for none, null). */
static json_t *answer_of(const char *text)
{
    json_t *body = NULL;
    const char *why;
    if (!text || !*text)
        return NULL;
    if (lnk_json_parse(text, strlen(text), JSON_OBJECT, &body, &why) != LNK_OK)
        body = NULL;
    return body;
}

static void then_kept(struct lnk_req *r, struct lnk_store_op *op, void *ctx)
{
    (void)ctx;
    const struct lnk_op_idem *idem = LNK_OP_AS(op, idem);
    /* sent whether or not keeping it worked: a failure only means that a
     * retry runs again */
    lnk_resp_json(r, idem->status, answer_of(idem->body));
}

/* The hook on a held key's request: keeps the answer, then sends it. */
static bool keep_answer(struct lnk_req *r, int status, const json_t *body, void *ctx)
{
    const struct held *h = ctx;
    struct lnk_op_idem *op = LNK_OP_AS(lnk_store_op_new(LNK_OP_IDEM_FINISH), idem);
    size_t len = 0;
    char *text = body ? lnk_json_dump(body, &len) : NULL;
    op->caller = lnk_arena_strdup(&op->op.arena, h->caller);
    op->key = lnk_arena_strdup(&op->op.arena, h->key);
    op->status = status;
    op->body = text ? lnk_arena_strndup(&op->op.arena, text, len) : "";
    free(text);
    lnk_h_submit(r, &op->op, then_kept, NULL);
    return true;
}

static void then_begun(struct lnk_req *r, struct lnk_store_op *op, void *ctx)
{
    struct held *h = ctx;
    const struct lnk_op_idem *idem = LNK_OP_AS(op, idem);
    if (op->rc != LNK_OK) {
        lnk_h_store_error(r, op);
        return;
    }
    switch (idem->state) {
    case LNK_IDEM_NEW:
        lnk_req_set_answer_hook(r, keep_answer, h);
        h->next(r);
        return;
    case LNK_IDEM_REPLAY: {
        json_t *body = answer_of(idem->body);
        const json_t *id = json_object_get(body, "id");
        /* a new row's place is its collection's path and its id (keys are
         * never kept) */
        if (idem->status == 201 && json_is_integer(id)) {
            char loc[96];
            snprintf(loc, sizeof(loc), "%s/%lld", lnk_route_name(lnk_req_route(r)),
                     (long long)json_integer_value(id));
            lnk_resp_header(r, "location", loc);
        }
        lnk_resp_header(r, "idempotent-replayed", "true");
        lnk_resp_json(r, idem->status, body);
        return;
    }
    case LNK_IDEM_MISMATCH:
        lnk_h_problem(r, 422, "idempotency-key-reused",
                      "this Idempotency-Key was used with another request", NULL);
        return;
    case LNK_IDEM_IN_PROGRESS:
        lnk_resp_header(r, "retry-after", "1");
        lnk_h_problem(r, 409, "idempotency-key-in-use",
                      "the first request with this Idempotency-Key is still running", NULL);
        return;
    }
}

/* A digest of what makes two requests the same: method, path, query, body. */
static const char *fingerprint(struct lnk_req *r, struct lnk_arena *a)
{
    struct lnk_str path = lnk_req_path(r), query = lnk_req_query(r), body = lnk_req_body(r);
    size_t n = path.len + query.len + body.len + 3;
    char *all = lnk_req_alloc(r, n);
    size_t at = 0;
    all[at++] = (char)lnk_req_method(r);
    memcpy(all + at, path.ptr, path.len);
    at += path.len;
    all[at++] = '?';
    if (query.len)
        memcpy(all + at, query.ptr, query.len);
    at += query.len;
    all[at++] = '\n';
    if (body.len)
        memcpy(all + at, body.ptr, body.len);
    at += body.len;
    char *hex = lnk_arena_alloc(a, LNK_AUTH_HASH_LEN + 1);
    lnk_auth_key_hash(lnk_str_make(all, at), hex); /* SHA-256 */
    return hex;
}

bool lnk_h_idempotent(struct lnk_req *r, lnk_handler_fn next)
{
    struct lnk_str key = lnk_str_trim(lnk_req_header(r, "idempotency-key"));
    if (!key.ptr || lnk_req_has_answer_hook(r))
        return false;
    /* a JSON body past its limit is refused by the handler, keeping nothing */
    if (lnk_req_body(r).len > LNK_JSON_BODY_MAX && lnk_req_route(r) != LNK_ROUTE_V1_LINKS_IMPORT)
        return false;
    bool printable = key.len > 0 && key.len <= IDEM_KEY_MAX;
    for (size_t i = 0; printable && i < key.len; i++)
        printable = (unsigned char)key.ptr[i] > 0x20 && (unsigned char)key.ptr[i] < 0x7f;
    if (!printable) {
        lnk_h_problem(r, 400, "invalid-idempotency-key",
                      "Idempotency-Key must be 1 to 255 visible ASCII characters", NULL);
        return true;
    }
    char who[64];
    struct lnk_str caller = lnk_h_client_key(r, who, sizeof(who));
    /* the op's copies die with it: the held key keeps its own */
    struct held *h = lnk_req_alloc(r, sizeof(*h));
    char *c = lnk_req_alloc(r, caller.len + 1), *k = lnk_req_alloc(r, key.len + 1);
    memcpy(c, caller.ptr, caller.len);
    c[caller.len] = '\0';
    memcpy(k, key.ptr, key.len);
    k[key.len] = '\0';
    *h = (struct held){c, k, next};
    struct lnk_op_idem *op = LNK_OP_AS(lnk_store_op_new(LNK_OP_IDEM_BEGIN), idem);
    op->caller = lnk_arena_strdup(&op->op.arena, c);
    op->key = lnk_arena_strdup(&op->op.arena, k);
    op->fingerprint = fingerprint(r, &op->op.arena);
    lnk_h_submit(r, &op->op, then_begun, h);
    return true;
}
