/* SPDX-License-Identifier: MIT */
/* Private to src/handlers/: the steps every endpoint shares, so that ids,
 * bodies, paging and store errors are read and answered one way only. Each
 * helper that returns false has already answered the request. */
#ifndef LNK_HANDLERS_INT_H
#define LNK_HANDLERS_INT_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "linkd/handlers.h"
#include "linkd/model.h"
#include "linkd/req.h"
#include "linkd/store.h"

/* The {id} path segment as an id (1..LNK_ID_MAX); otherwise answers 404
 * with "<what> not found" (CONTRACT.md §2: non-numeric ids are 404, and no
 * row has a larger id). */
bool lnk_h_path_id(struct lnk_req *r, const char *what, int64_t *id);

/* The body as a JSON object: 413 past LNK_JSON_BODY_MAX, 400 for multipart or
 * form bodies, empty or unparsable bodies and non-objects. *out is a new
 * reference on success. */
bool lnk_h_json_body(struct lnk_req *r, json_t **out);

/* Which filters a list endpoint accepts. */
enum {
    LNK_H_FILTER_USER_ID = 1,
    LNK_H_FILTER_URL_ID = 2,
    LNK_H_FILTER_IS_ACTIVE = 4,
    LNK_H_FILTER_EVENT_TYPE = 8
};
/* Paging (CONTRACT.md §2.1) and the allowed filters; 400 for bad values
 * (id filters past LNK_ID_MAX included). Strings point into request memory. */
bool lnk_h_list_query(struct lnk_req *r, unsigned filters, struct lnk_list_query *q);

/* A list endpoint: reads paging and the allowed filters, limits a user key
 * to its own rows, and answers a bare JSON array of the rows. */
void lnk_h_list(struct lnk_req *r, enum lnk_op_kind kind, unsigned filters);
struct lnk_h_invalid;

/* The same for a list under a parent named by the path's {id}: `parent`
 * "user" (kind URL_LIST) or "url" (kind EVENT_LIST). An unknown parent, or
 * one a user key may not see, is 404 "<parent> not found". */
void lnk_h_list_under(struct lnk_req *r, const char *parent, enum lnk_op_kind kind,
                      unsigned filters);

/* The fields of a new url (POST /urls, /shorten, and each row of
 * /urls/bulk), with the rules of CONTRACT.md §4.9; strings go to `a`.
 * Returns false when a user key named another user (answered as an
 * unknown user by the caller). */
bool lnk_h_read_new_url(const json_t *body, int64_t scope, struct lnk_h_invalid *v,
                        struct lnk_arena *a, struct lnk_url *u, bool *reuse);
/* The url fields one by one (urls.c), each under the given key where the
 * two APIs name it differently: a destination (http(s), LNK_URL_MAX), a
 * title (string or null, a name of at most LNK_NAME_MAX characters), a
 * boolean, the owner (user_id: required of an admin; a user key may leave
 * it out and may not name another user: *out = -1), a custom code (null
 * counts as absent; a second key must agree with the first). */
void lnk_h_read_dest(const json_t *body, const char *key, bool required, struct lnk_h_invalid *v,
                     struct lnk_arena *a, const char **out);
void lnk_h_read_title(const json_t *body, struct lnk_h_invalid *v, struct lnk_arena *a, bool *set,
                      const char **out);
void lnk_h_read_flag(const json_t *body, const char *key, struct lnk_h_invalid *v, bool *set,
                     bool *out);
void lnk_h_read_owner(const json_t *body, int64_t scope, struct lnk_h_invalid *v, int64_t *out);
void lnk_h_read_code(const json_t *body, const char *key, struct lnk_h_invalid *v,
                     struct lnk_arena *a, const char **out);
/* The absolute short link of code: LINKD_PUBLIC_URL, else the request's
 * scheme and Host. */
json_t *lnk_h_short_url_json(struct lnk_req *r, const char *code);

/* username and email with the rules of CONTRACT.md §4.6 (both required
 * when `required`); strings go to `a`. */
void lnk_h_read_user_fields(const json_t *body, bool required, struct lnk_h_invalid *v,
                            struct lnk_arena *a, struct lnk_user *u);
/* The fields of a new event (POST /events and each row of /events/bulk). */
void lnk_h_read_new_event(const json_t *body, struct lnk_h_invalid *v, struct lnk_arena *a,
                          struct lnk_event *e);

/* Continuation after a store operation, called on the worker thread only
 * while the client is still connected, with the caller's ctx. The op is
 * freed after it returns. */
typedef void (*lnk_h_then_fn)(struct lnk_req *r, struct lnk_store_op *op, void *ctx);
/* Submits op on this worker's connection; `then` runs on completion. */
void lnk_h_submit(struct lnk_req *r, struct lnk_store_op *op, lnk_h_then_fn then, void *ctx);
/* The same, and release(ctx) afterwards whether or not the client was still
 * there to run `then`. */
void lnk_h_submit_owned(struct lnk_req *r, struct lnk_store_op *op, lnk_h_then_fn then, void *ctx,
                        void (*release)(void *ctx));
/* The same for a step that continues with a handler (the access step). */
typedef void (*lnk_h_step_fn)(struct lnk_req *r, struct lnk_store_op *op, lnk_handler_fn next,
                              void *ctx);
void lnk_h_submit_step(struct lnk_req *r, struct lnk_store_op *op, lnk_h_step_fn step,
                       lnk_handler_fn next, void *ctx);

/* Whom a request's budgets are counted against: its API key, else its
 * client address ("key:<id>", "ip:<addr>"), written into buf. */
struct lnk_str lnk_h_client_key(struct lnk_req *r, char *buf, size_t cap);
/* An expensive read (a long list, totals) holds a slot of its client's
 * concurrency budget (LINKD_READS_PER_CLIENT) while it runs. */
struct lnk_h_heavy {
    struct lnk_inflight *budget; /* NULL: none held */
    char key[64];
    size_t len;
};
/* False when the client has no slot left (answered 429). */
bool lnk_h_heavy_acquire(struct lnk_req *r, struct lnk_h_heavy *slot);
void lnk_h_heavy_release(struct lnk_h_heavy *slot);

/* 0 for an admin; else the user whose urls and events alone the request
 * may see (a user API key). */
int64_t lnk_h_scope(const struct lnk_req *r);
/* False (answered 404 "url not found") when a scoped request names another
 * user's url. */
bool lnk_h_url_visible(struct lnk_req *r, int64_t owner);

/* Answers a failed op: maps rc and err_field to status and message
 * (errors.c holds the one table). */
void lnk_h_store_error(struct lnk_req *r, const struct lnk_store_op *op);
/* The JSON error body for rc and err_field, and its status in *status. */
json_t *lnk_h_error_body(int rc, const char *field, int *status);
int lnk_h_status_of(int rc);

/* The 422 reason for an id field past LNK_ID_MAX (docs/security.md#ids). */
#define LNK_H_ID_TOO_LARGE "must be at most 9007199254740991 (2^53 - 1)"
_Static_assert(LNK_ID_MAX == INT64_C(9007199254740991), "update LNK_H_ID_TOO_LARGE");

/* Field validation errors: collects {"field": "reason"} and answers 422. */
struct lnk_h_invalid {
    json_t *details; /* NULL until the first problem */
};
void lnk_h_invalid_add(struct lnk_h_invalid *v, const char *field, const char *reason);
/* The reason for a string getter's failure (wrong type, or a NUL inside). */
const char *lnk_h_string_problem(int rc);
/* True (and answers 422) when any problem was added; frees v either way. */
bool lnk_h_invalid_answer(struct lnk_req *r, struct lnk_h_invalid *v);

/* Bulk routes (bulk.c). */
/* The 'file' part of a multipart upload: 413 past 16 MiB, 400 otherwise. */
bool lnk_h_upload_csv(struct lnk_req *r, struct lnk_str *csv);
bool lnk_h_is_multipart(const struct lnk_req *r);
/* The rows of a bulk request as a JSON array (a new reference): a JSON
 * array, {"<key>": [...]}, or (allow_csv) a multipart CSV upload whose
 * rows become objects keyed by its header (*lines: each row's line, in
 * `a`; NULL for JSON). 400 for a malformed body, 413 past
 * LINKD_CSV_MAX_ROWS rows or 16 MiB. */
bool lnk_h_bulk_rows(struct lnk_req *r, const char *key, bool allow_csv, struct lnk_arena *a,
                     json_t **rows, size_t **lines);
/* What the handler decided of each row of a bulk request. */
struct lnk_h_bulk_row {
    size_t store_idx;    /* its index in the op's rows, or SIZE_MAX: refused here */
    int status;          /* when refused */
    const char *error;   /* when refused */
    const char *details; /* when refused: JSON text or NULL */
};
struct lnk_h_bulk {
    size_t n;      /* rows in the request */
    size_t *lines; /* CSV lines, or NULL (rows are numbered from 1) */
    struct lnk_h_bulk_row *rows;
};
/* n rows, none sent yet; memory in a. */
struct lnk_h_bulk *lnk_h_bulk_new(struct lnk_arena *a, size_t n, size_t *lines);
/* Refuses row i with `status` and `error` (NULL: "validation failed") when
 * v holds problems or error is given; false (nothing noted) otherwise.
 * Consumes v's details. */
bool lnk_h_bulk_refuse(struct lnk_h_bulk *b, size_t i, struct lnk_h_invalid *v, int status,
                       const char *error, struct lnk_arena *a);
/* The answer (201): counts and one result per row, from the notes and the
 * store's results. */
json_t *lnk_h_bulk_answer(const struct lnk_h_bulk *b, const struct lnk_row_result *results);

/* Cache steps (cache.h); each is a no-op when the cache is off. */
/* Drops the url's cached redirect and representation. Called by every
 * mutation of a url before it answers, so no stale redirect is served after
 * the client got its 2xx. With Redis, also drops it from the shared tier and
 * tells the other nodes (queued, not awaited: redis.h). */
void lnk_h_forget_url(struct lnk_req *r, const struct lnk_url *u);
/* The same for n urls at once (a user's, a bulk request's): one message
 * per few hundred links. Only id, short_code and domain_id of each
 * are read. */
void lnk_h_forget_urls(struct lnk_req *r, const struct lnk_url *urls, size_t n);
/* Caches a looked-up url (u NULL: the code is unknown) under its code, if no
 * invalidation happened since `epoch`. */
void lnk_h_remember_link(struct lnk_req *r, struct lnk_str code, const struct lnk_url *u,
                         uint64_t epoch);
/* An allocator over request memory, for lnk_cache_get. */
void *lnk_h_req_alloc(void *req, size_t len);

/* Redis steps (redis.h); without Redis they do nothing. */
struct lnk_redis_op;
/* Continuation after a Redis operation, on the worker thread, only while
 * the client is still connected; the op is freed after it returns. */
typedef void (*lnk_h_redis_fn)(struct lnk_req *r, struct lnk_redis_op *op, void *ctx);
/* Submits op (taking it) when Redis is ready; `then` runs by the deadline
 * at the latest. False (op freed) when it was not submitted: the caller
 * goes on without Redis at once. */
bool lnk_h_redis_submit(struct lnk_req *r, struct lnk_redis_op *op, lnk_h_redis_fn then, void *ctx);
/* Puts a link read from the store into the shared tier, unless another
 * node changed it since the tier said it had not got it (gen, at asked_ns).
 * Fire and forget. */
void lnk_h_share_link(struct lnk_req *r, struct lnk_str code, const struct lnk_url *u,
                      const char *gen, uint64_t asked_ns);
/* CLOCK_MONOTONIC in ns. */
uint64_t lnk_h_now_ns(void);

/* /api/v1 errors (problem.c): RFC 9457 problem details whose type is
 * LNK_H_PROBLEM_PREFIX and a stable slug (docs/api-v1.md#errors). */
#define LNK_H_PROBLEM_PREFIX "urn:linkd:problem:"
/* A problem of a specific type (slug NULL: the status's generic one);
 * pointer (a JSON pointer into the request) or NULL. A new reference. */
json_t *lnk_h_problem_new(struct lnk_req *r, int status, const char *slug, const char *detail,
                          const char *pointer);
/* Answers with lnk_h_problem_new's problem. */
void lnk_h_problem(struct lnk_req *r, int status, const char *slug, const char *detail,
                   const char *pointer);
/* The problem of a failed store op, and its status. */
json_t *lnk_h_problem_of_store(struct lnk_req *r, const struct lnk_store_op *op, int *status);

/* The link as a redirect needs it, from a cache tier or the store. */
struct lnk_h_target {
    int64_t url_id, owner;
    const char *url; /* the destination */
    size_t len;
    const char *opts;  /* the link's /api/v1 options (JSON text); NULL: none */
    int64_t domain_id; /* whose fallback_url serves when the link has none; 0: none */
};
/* Domains (redirect.c, ADR 0028). The domain the request's Host names, in
 * request memory; NULL: the default domain. */
const struct lnk_domain *lnk_h_req_domain(struct lnk_req *r);
/* The caches' key of a link: its code on the default domain (domain_id 0),
 * "<domain id>:<code>" on another (in request memory). */
struct lnk_str lnk_h_link_key(struct lnk_req *r, int64_t domain_id, struct lnk_str code);

/* Hands a click to the events writer (never waits). */
void lnk_h_record_click(struct lnk_req *r, const struct lnk_h_target *t, struct lnk_str code);
/* Answers a link with options (redirect_policy.c): expiry, click maximum,
 * password, rules, split, redirect type, query forwarding, UTM. */
void lnk_h_redirect_policy(struct lnk_req *r, const struct lnk_h_target *t, struct lnk_str code,
                           bool hit);

/* If-None-Match: "*" or a list naming etag, compared weakly (RFC 9110
 * §13.1.2: a W/ prefix still matches). */
bool lnk_h_etag_matches(struct lnk_str inm, const char *etag);

/* Idempotency-Key (idempotency.c): true when the request is taken care of
 * (answered, or next runs once its key is held); false when it sent no key
 * (or its key is held already): the caller goes on. */
bool lnk_h_idempotent(struct lnk_req *r, lnk_handler_fn next);

/* Representations (CONTRACT.md §3), new references. */
json_t *lnk_h_user_json(const struct lnk_user *u);
json_t *lnk_h_url_json(const struct lnk_url *u);
json_t *lnk_h_event_json(const struct lnk_event *e);

/* Name field rules (username, email): a string, trimmed non-empty, at most
 * max code points, and only characters lnk_name_check allows. On success *out is the trimmed value
 * as a NUL-terminated copy in `a` (the op's arena: store inputs must not point into request memory,
 * which dies if the client leaves). Absent: *out = NULL, returns true unless `required`. */
bool lnk_h_text_field(const json_t *body, const char *key, bool required, size_t max,
                      struct lnk_h_invalid *v, struct lnk_arena *a, const char **out);

#endif
