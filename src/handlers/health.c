/* SPDX-License-Identifier: MIT */
/* GET /health (CONTRACT.md §4.1): 200 {"status":"ok"} with per-dependency
 * checks, 503 {"status":"error"} when the store cannot be read or the last
 * write transaction failed. */
#include "handlers/handlers_int.h"
#include "linkd/handlers.h"

static void then_ping(struct lnk_req *r, struct lnk_store_op *op)
{
    struct lnk_worker_env *env = lnk_req_env(r);
    bool readable = op->rc == 0;
    bool writable = !lnk_store_is_degraded(env->store);
    bool ok = readable && writable;
    json_t *store = json_object();
    json_object_set_new(store, "status", json_string(ok ? "ok" : "error"));
    json_object_set_new(store, "backend", json_string(lnk_store_backend_name(env->store)));
    json_object_set_new(store, "readable", json_boolean(readable));
    json_object_set_new(store, "writable", json_boolean(writable));
    json_object_set_new(store, "latency_ms", json_real((double)op->latency_us / 1000.0));
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
    lnk_h_submit(r, lnk_store_op_new(LNK_OP_PING), then_ping);
}
