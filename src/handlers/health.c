/* SPDX-License-Identifier: MIT */
/* GET /health (CONTRACT.md §4.1), liveness: 200 {"status":"ok"} with
 * per-dependency checks, 503 {"status":"error"} when the store cannot be
 * read or refuses writes; the store check then says why
 * (docs/durability.md#health). GET /health/ready, readiness for a load
 * balancer: 200 while the node is not draining and the store answers a
 * read, else 503 with the reason (docs/deploy.md#readiness). */
#include "handlers/handlers_int.h"
#include "linkd/handlers.h"
#include "linkd/timefmt.h"

static void add_write_health(json_t *store, const struct lnk_store_status *st, bool readable)
{
    if (st->fault != LNK_STORE_OK) {
        char since[LNK_TS_LEN + 1];
        lnk_ts_format(st->since_ms / 1000, since);
        json_object_set_new(store, "reason", json_string(lnk_store_fault_name(st->fault)));
        json_object_set_new(store, "error", json_string(st->reason));
        json_object_set_new(store, "since", json_string(since));
        json_object_set_new(store, "failed_probes", json_integer((json_int_t)st->failed_probes));
    } else if (!readable) {
        json_object_set_new(store, "reason", json_string("unreadable"));
        json_object_set_new(store, "error", json_string("the database cannot be read"));
    }
    if (st->detail_key[0])
        json_object_set_new(store, st->detail_key, json_string(st->detail));
    json_object_set_new(store, "recoveries", json_integer((json_int_t)st->recoveries));
}

static void then_ping(struct lnk_req *r, struct lnk_store_op *op, void *ctx)
{
    (void)ctx;
    struct lnk_worker_env *env = lnk_req_env(r);
    struct lnk_store_status st;
    lnk_store_get_status(env->store, &st);
    bool readable = op->rc == 0;
    bool writable = st.fault == LNK_STORE_OK;
    bool ok = readable && writable;
    json_t *store = json_object();
    json_object_set_new(store, "status", json_string(ok ? "ok" : "error"));
    json_object_set_new(store, "backend", json_string(lnk_store_backend_name(env->store)));
    json_object_set_new(store, "readable", json_boolean(readable));
    json_object_set_new(store, "writable", json_boolean(writable));
    json_object_set_new(store, "latency_ms",
                        json_real((double)LNK_OP_AS(op, ping)->latency_us / 1000.0));
    add_write_health(store, &st, readable);
    json_t *checks = json_object();
    json_object_set_new(checks, "store", store);
    json_t *o = json_object();
    json_object_set_new(o, "status", json_string(ok ? "ok" : "error"));
    json_object_set_new(o, "db", json_string(ok ? "ok" : "error"));
    json_object_set_new(o, "checks", checks);
    lnk_resp_json(r, ok ? 200 : 503, o);
}

void lnk_h_health(struct lnk_req *r)
{
    lnk_h_submit(r, lnk_store_op_new(LNK_OP_PING), then_ping, NULL);
}

/* reason NULL: ready. */
static void answer_ready(struct lnk_req *r, const char *reason)
{
    json_t *o = json_object();
    json_object_set_new(o, "status", json_string(reason ? "not_ready" : "ready"));
    if (reason)
        json_object_set_new(o, "reason", json_string(reason));
    lnk_resp_json(r, reason ? 503 : 200, o);
}

static bool draining(struct lnk_req *r)
{
    const struct lnk_worker_env *env = lnk_req_env(r);
    return env->draining && atomic_load(env->draining);
}

static void then_ready(struct lnk_req *r, struct lnk_store_op *op, void *ctx)
{
    (void)ctx;
    /* a drain may have begun while the read ran */
    answer_ready(r, draining(r) ? "draining" : op->rc != 0 ? "store_unreachable" : NULL);
}

void lnk_h_health_ready(struct lnk_req *r)
{
    if (draining(r))
        answer_ready(r, "draining");
    else
        lnk_h_submit(r, lnk_store_op_new(LNK_OP_PING), then_ready, NULL);
}
