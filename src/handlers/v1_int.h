/* SPDX-License-Identifier: MIT */
/* Private to the /api/v1 handlers: the link representation, and jobs. A
 * job is one create, update or delete of a link, run the same way for a
 * single request and for each item of a bulk or import request: it
 * validates, hashes a password on a reader thread, writes, and hands its
 * result (a status and a body: the link, or a problem) to `done`. A job
 * lives in request memory and holds its input as JSON text, so nothing is
 * left to free when the client leaves halfway. */
#ifndef LNK_HANDLERS_V1_INT_H
#define LNK_HANDLERS_V1_INT_H

#include "handlers/handlers_int.h"
#include "linkd/policy.h"

#define LNK_V1_BULK_MAX 1000 /* items of one bulk or import request */

/* A time as /api/v1 shows it: RFC 3339 in UTC, "2026-12-01T00:00:00Z". */
json_t *lnk_v1_time_json(int64_t t);

/* The v1 view of a link: every field, defaults spelled out, a password
 * shown only as password_protected. A new reference. */
json_t *lnk_v1_link_json(struct lnk_req *r, const struct lnk_url *u);
/* Its short URL alone, on its domain's host (as the view shows it). */
json_t *lnk_v1_short_url_json(struct lnk_req *r, const struct lnk_url *u);

enum lnk_v1_job_kind { LNK_V1_CREATE, LNK_V1_UPDATE, LNK_V1_DELETE };

struct lnk_v1_job;
/* A job's result: status, and body (taken: the link, or a problem; NULL
 * for a 204); u the link written (NULL on failure), for headers. */
typedef void (*lnk_v1_done_fn)(struct lnk_req *r, struct lnk_v1_job *j, int status, json_t *body,
                               const struct lnk_url *u);

struct lnk_v1_job {
    enum lnk_v1_job_kind kind;
    const char *input; /* CREATE, UPDATE: the link's fields as JSON object text */
    size_t input_len;
    int64_t id;         /* UPDATE, DELETE */
    const char *prefix; /* a JSON pointer prefix for its problems ("/items/3"), or "" */
    lnk_v1_done_fn done;
    void *ctx;
    size_t index; /* the caller's */
    /* UPDATE: If-Match as the client sent it ("" = none) */
    char if_match[LNK_ETAG_MAX];
    /* private */
    const char *stored; /* UPDATE: the options the update builds on; NULL: none */
    char read_etag[LNK_ETAG_MAX];
    int tries;
    char hash[LNK_POLICY_HASH_MAX]; /* "" until the password is hashed */
};

/* A job of that kind in request memory; input copied (NULL: none). */
struct lnk_v1_job *lnk_v1_job_new(struct lnk_req *r, enum lnk_v1_job_kind kind, const char *input,
                                  size_t input_len, lnk_v1_done_fn done, void *ctx);
/* Runs it: done is called exactly once while the client is there (never
 * after it left). */
void lnk_v1_job_run(struct lnk_req *r, struct lnk_v1_job *j);

/* The filters of a list or an export from the query (active, tag,
 * user_id) into q, a user key limited to its own links; false when
 * answered (400 invalid-parameter). Strings go to a. */
bool lnk_v1_list_query(struct lnk_req *r, struct lnk_list_query *q, struct lnk_arena *a);

/* The link a URL_GET read, or NULL when answered: a store error, or
 * another user's link for a user key (404). */
const struct lnk_url *lnk_v1_read_link(struct lnk_req *r, const struct lnk_store_op *op);

/* One query parameter's value (decoded, in request memory); false when
 * absent. A value too long for any parameter here reads as empty. */
bool lnk_v1_param(struct lnk_req *r, const char *name, struct lnk_str *out);

#endif
