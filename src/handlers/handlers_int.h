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

/* The {id} path segment as a positive int64; otherwise answers 404 with
 * "<what> not found" (CONTRACT.md §2: non-numeric ids are 404). */
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
/* Paging (CONTRACT.md §2.1) and the allowed filters; 400 for bad values.
 * Strings point into request memory. */
bool lnk_h_list_query(struct lnk_req *r, unsigned filters, struct lnk_list_query *q);

/* A list endpoint: reads paging and the allowed filters, limits a user key
 * to its own rows, and answers a bare JSON array of the rows. */
void lnk_h_list(struct lnk_req *r, enum lnk_op_kind kind, unsigned filters);

/* Continuation after a store operation, called on the worker thread only
 * while the client is still connected. The op is freed after it returns. */
typedef void (*lnk_h_then_fn)(struct lnk_req *r, struct lnk_store_op *op);
/* Submits op on this worker's connection; `then` runs on completion. */
void lnk_h_submit(struct lnk_req *r, struct lnk_store_op *op, lnk_h_then_fn then);
/* The same for a step that continues with a handler (the access step). */
typedef void (*lnk_h_step_fn)(struct lnk_req *r, struct lnk_store_op *op, lnk_handler_fn next);
void lnk_h_submit_step(struct lnk_req *r, struct lnk_store_op *op, lnk_h_step_fn step,
                       lnk_handler_fn next);

/* 0 for an admin; else the user whose urls and events alone the request
 * may see (a user API key). */
int64_t lnk_h_scope(const struct lnk_req *r);
/* False (answered 404 "url not found") when a scoped request names another
 * user's url. */
bool lnk_h_url_visible(struct lnk_req *r, int64_t owner);

/* Answers a failed op: maps rc and err_field to status and message
 * (errors.c holds the one table). */
void lnk_h_store_error(struct lnk_req *r, const struct lnk_store_op *op);
int lnk_h_status_of(int rc);

/* Field validation errors: collects {"field": "reason"} and answers 422. */
struct lnk_h_invalid {
    json_t *details; /* NULL until the first problem */
};
void lnk_h_invalid_add(struct lnk_h_invalid *v, const char *field, const char *reason);
/* The reason for a string getter's failure (wrong type, or a NUL inside). */
const char *lnk_h_string_problem(int rc);
/* True (and answers 422) when any problem was added; frees v either way. */
bool lnk_h_invalid_answer(struct lnk_req *r, struct lnk_h_invalid *v);

/* Cache steps (cache.h); each is a no-op when the cache is off. */
/* Drops the url's cached redirect and representation. Called by every
 * mutation of a url before it answers, so no stale redirect is served after
 * the client got its 2xx. */
void lnk_h_forget_url(struct lnk_req *r, const struct lnk_url *u);
/* Caches a looked-up url (u NULL: the code is unknown) under its code, if no
 * invalidation happened since `epoch`. */
void lnk_h_remember_link(struct lnk_req *r, struct lnk_str code, const struct lnk_url *u,
                         uint64_t epoch);
/* An allocator over request memory, for lnk_cache_get. */
void *lnk_h_req_alloc(void *req, size_t len);

/* Representations (CONTRACT.md §3), new references. */
json_t *lnk_h_user_json(const struct lnk_user *u);
json_t *lnk_h_url_json(const struct lnk_url *u);
json_t *lnk_h_event_json(const struct lnk_event *e);

/* String field rules shared by users and urls: a string, trimmed non-empty,
 * at most max code points. On success *out is the trimmed value as a
 * NUL-terminated copy in `a` (the op's arena: store inputs must not point
 * into request memory, which dies if the client leaves). Absent: *out =
 * NULL, returns true unless `required`. */
bool lnk_h_text_field(const json_t *body, const char *key, bool required, size_t max,
                      struct lnk_h_invalid *v, struct lnk_arena *a, const char **out);

#endif
