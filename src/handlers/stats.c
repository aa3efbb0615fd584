/* SPDX-License-Identifier: MIT */
/* GET /stats (CONTRACT.md §4.17): totals of users, urls, active urls and
 * events by type; a user key gets the totals of its own rows. */
#include "handlers/handlers_int.h"
#include "linkd/handlers.h"

static void then_stats(struct lnk_req *r, struct lnk_store_op *op)
{
    if (op->rc != 0) {
        lnk_h_store_error(r, op);
        return;
    }
    const struct lnk_store_stats *t = &op->stats;
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
    struct lnk_store_op *op = lnk_store_op_new(LNK_OP_STATS);
    op->owner_guard = lnk_h_scope(r);
    lnk_h_submit(r, op, then_stats);
}
