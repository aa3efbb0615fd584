/* SPDX-License-Identifier: MIT */
/* GET /stats (CONTRACT.md §4.17): totals of users, urls, active urls and
 * events by type; a user key gets the totals of its own rows. */
#include <stdlib.h>

#include "handlers/handlers_int.h"
#include "linkd/handlers.h"

static void release_slot(void *slot)
{
    lnk_h_heavy_release(slot);
    free(slot);
}

static void then_stats(struct lnk_req *r, struct lnk_store_op *op, void *ctx)
{
    (void)ctx;
    if (op->rc != 0) {
        lnk_h_store_error(r, op);
        return;
    }
    const struct lnk_op_stats *t = LNK_OP_AS(op, stats);
    json_t *types = json_object();
    for (size_t i = 0; i < t->n_types; i++)
        json_object_set_new(types, t->types[i].event_type, json_integer(t->types[i].n));
    json_t *o = json_object();
    json_object_set_new(o, "users", json_integer(t->users));
    json_object_set_new(o, "urls", json_integer(t->urls));
    json_object_set_new(o, "active_urls", json_integer(t->active_urls));
    json_object_set_new(o, "inactive_urls", json_integer(t->urls - t->active_urls));
    json_object_set_new(o, "events", json_integer(t->events));
    json_object_set_new(o, "events_by_type", types);
    lnk_resp_json(r, 200, o);
}

void lnk_h_stats(struct lnk_req *r)
{
    struct lnk_h_heavy *slot = lnk_xcalloc(1, sizeof(*slot));
    if (!lnk_h_heavy_acquire(r, slot)) {
        free(slot);
        return;
    }
    struct lnk_op_stats *op = LNK_OP_AS(lnk_store_op_new(LNK_OP_STATS), stats);
    op->owner_guard = lnk_h_scope(r);
    op->op.client_fd = lnk_req_fd(r);
    lnk_h_submit_owned(r, &op->op, then_stats, slot, release_slot);
}
