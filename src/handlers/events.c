/* SPDX-License-Identifier: MIT */
/* /events (CONTRACT.md §4.15-§4.16). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "handlers/handlers_int.h"
#include "linkd/err.h"
#include "linkd/handlers.h"
#include "linkd/json.h"

/* ctx: the status of a success */
static void then_event(struct lnk_req *r, struct lnk_store_op *op, void *ctx)
{
    if (op->rc != 0)
        lnk_h_store_error(r, op);
    else
        lnk_resp_json(r, (int)(intptr_t)ctx, lnk_h_event_json(&LNK_OP_AS(op, event)->out));
}

void lnk_h_events_list(struct lnk_req *r)
{
    lnk_h_list(r, LNK_OP_EVENT_LIST,
               LNK_H_FILTER_URL_ID | LNK_H_FILTER_USER_ID | LNK_H_FILTER_EVENT_TYPE);
}

static void read_id(const json_t *body, const char *key, bool required, struct lnk_h_invalid *v,
                    int64_t *out)
{
    int rc = lnk_json_get_int(body, key, out);
    if (rc == LNK_ENOTFOUND) {
        if (required)
            lnk_h_invalid_add(v, key, "is required");
        *out = 0;
    } else if (rc != LNK_OK) {
        lnk_h_invalid_add(v, key, "must be an integer");
    } else if (*out <= 0) {
        lnk_h_invalid_add(v, key, "must be positive");
    } else if (*out > LNK_ID_MAX) {
        lnk_h_invalid_add(v, key, LNK_H_ID_TOO_LARGE);
    }
}

static void read_event_type(const json_t *body, struct lnk_h_invalid *v, struct lnk_arena *a,
                            const char **out)
{
    const char *s;
    size_t len;
    int rc = lnk_json_get_string(body, "event_type", &s, &len);
    if (rc == LNK_ENOTFOUND)
        lnk_h_invalid_add(v, "event_type", "is required");
    else if (rc != LNK_OK)
        lnk_h_invalid_add(v, "event_type", lnk_h_string_problem(rc));
    else if (lnk_str_trim(lnk_str_make(s, len)).len == 0)
        lnk_h_invalid_add(v, "event_type", "must not be empty");
    else if (lnk_utf8_len(s, len) > LNK_EVENT_TYPE_MAX)
        lnk_h_invalid_add(v, "event_type", "is too long");
    else
        *out = lnk_arena_strndup(a, s, len);
}

/* details: an object (default {}); stored as its compact JSON text. */
static void read_details(const json_t *body, struct lnk_h_invalid *v, struct lnk_arena *a,
                         const char **out)
{
    const json_t *d = json_object_get(body, "details");
    *out = "{}";
    if (!d)
        return;
    if (!json_is_object(d)) {
        lnk_h_invalid_add(v, "details", "must be an object");
        return;
    }
    size_t len;
    char *text = lnk_json_dump(d, &len);
    *out = lnk_arena_strndup(a, text, len);
    free(text);
}

void lnk_h_read_new_event(const json_t *body, struct lnk_h_invalid *v, struct lnk_arena *a,
                          struct lnk_event *e)
{
    memset(e, 0, sizeof(*e));
    read_id(body, "url_id", true, v, &e->url_id);
    read_id(body, "user_id", false, v, &e->user_id);
    read_event_type(body, v, a, &e->event_type);
    read_details(body, v, a, &e->details);
}

void lnk_h_events_create(struct lnk_req *r)
{
    json_t *body;
    if (!lnk_h_json_body(r, &body))
        return;
    struct lnk_op_event *op = LNK_OP_AS(lnk_store_op_new(LNK_OP_EVENT_CREATE), event);
    struct lnk_h_invalid v = {0};
    lnk_h_read_new_event(body, &v, &op->op.arena, &op->in);
    json_decref(body);
    if (lnk_h_invalid_answer(r, &v)) {
        lnk_store_op_free(&op->op);
        return;
    }
    int64_t scope = lnk_h_scope(r);
    if (scope && op->in.user_id && op->in.user_id != scope) {
        lnk_store_op_free(&op->op);
        lnk_resp_error(r, 404, "user not found", NULL);
        return;
    }
    op->owner_guard = scope;
    lnk_h_submit(r, &op->op, then_event, (void *)201);
}

void lnk_h_url_events(struct lnk_req *r)
{
    lnk_h_list_under(r, "url", LNK_OP_EVENT_LIST, LNK_H_FILTER_USER_ID | LNK_H_FILTER_EVENT_TYPE);
}

void lnk_h_event_get(struct lnk_req *r)
{
    int64_t id;
    if (!lnk_h_path_id(r, "event", &id))
        return;
    struct lnk_op_event *op = LNK_OP_AS(lnk_store_op_new(LNK_OP_EVENT_GET), event);
    op->id = id;
    op->owner_guard = lnk_h_scope(r);
    lnk_h_submit(r, &op->op, then_event, (void *)200);
}
