/* SPDX-License-Identifier: MIT */
/* The whole route table. A segment "{}" matches any one non-empty segment,
 * which becomes the request's param. Literal routes are listed before the
 * catch-all redirect so that /users is never read as a short code. */
#include "router/routes.h"

#include "linkd/handlers.h"

const struct lnk_route_def lnk_route_table[] = {
    {LNK_ROUTE_HEALTH, {"health"}, {[LNK_METHOD_GET] = lnk_h_health}},
    {LNK_ROUTE_METRICS, {"metrics"}, {[LNK_METHOD_GET] = lnk_h_metrics}},
    {LNK_ROUTE_USERS,
     {"users"},
     {[LNK_METHOD_GET] = lnk_h_users_list, [LNK_METHOD_POST] = lnk_h_users_create}},
    {LNK_ROUTE_USERS_BULK, {"users", "bulk"}, {[LNK_METHOD_POST] = lnk_h_users_bulk}},
    {LNK_ROUTE_USER,
     {"users", "{}"},
     {[LNK_METHOD_GET] = lnk_h_user_get,
      [LNK_METHOD_PUT] = lnk_h_user_update,
      [LNK_METHOD_DELETE] = lnk_h_user_delete}},
    {LNK_ROUTE_URLS,
     {"urls"},
     {[LNK_METHOD_GET] = lnk_h_urls_list, [LNK_METHOD_POST] = lnk_h_urls_create}},
    {LNK_ROUTE_URL,
     {"urls", "{}"},
     {[LNK_METHOD_GET] = lnk_h_url_get,
      [LNK_METHOD_PUT] = lnk_h_url_update,
      [LNK_METHOD_DELETE] = lnk_h_url_delete}},
    {LNK_ROUTE_URL_REDIRECT, {"urls", "{}", "redirect"}, {[LNK_METHOD_GET] = lnk_h_redirect}},
    {LNK_ROUTE_URL_STATS, {"urls", "{}", "stats"}, {[LNK_METHOD_GET] = lnk_h_url_stats}},
    {LNK_ROUTE_EVENTS,
     {"events"},
     {[LNK_METHOD_GET] = lnk_h_events_list, [LNK_METHOD_POST] = lnk_h_events_create}},
    {LNK_ROUTE_REDIRECT, {"{}"}, {[LNK_METHOD_GET] = lnk_h_redirect}},
};

const size_t lnk_route_table_len = sizeof(lnk_route_table) / sizeof(lnk_route_table[0]);
