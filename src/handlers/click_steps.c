/* SPDX-License-Identifier: MIT */
/* How a redirect records its click: handed to the events writer's ring of
 * this worker, never waited for (DESIGN.md §3). */
#include "handlers/handlers_int.h"
#include "linkd/events.h"
#include "linkd/metrics.h"
#include "linkd/timefmt.h"

void lnk_h_record_click(struct lnk_req *r, const struct lnk_h_target *t, struct lnk_str code)
{
    struct lnk_worker_env *env = lnk_req_env(r);
    /* slices of the request: lnk_events_push copies them once, into the ring */
    struct lnk_click_src c = {t->url_id,
                              t->owner,
                              lnk_ts_now(),
                              code,
                              lnk_req_header(r, "user-agent"),
                              lnk_req_header(r, "referer")};
    lnk_events_push(env->events, env->id, &c);
    lnk_metrics_add(env->mw, LNK_MC_clicks_enqueued_total, 1);
}
