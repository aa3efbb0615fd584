/* SPDX-License-Identifier: MIT */
/* The whole route table. A segment "{}" matches any one non-empty segment,
 * which becomes the request's param. Literal routes are listed before the
 * catch-all redirect so that /users is never read as a short code. */
#include "router/routes.h"

#include "linkd/handlers.h"

const struct lnk_route_def lnk_route_table[] = {
    {LNK_ROUTE_HEALTH, LNK_ACCESS_PUBLIC, {"health"}, {[LNK_METHOD_GET] = lnk_h_health}},
    {LNK_ROUTE_METRICS, LNK_ACCESS_METRICS, {"metrics"}, {[LNK_METHOD_GET] = lnk_h_metrics}},
    {LNK_ROUTE_USERS,
     LNK_ACCESS_ADMIN,
     {"users"},
     {[LNK_METHOD_GET] = lnk_h_users_list, [LNK_METHOD_POST] = lnk_h_users_create}},
    {LNK_ROUTE_USERS_BULK,
     LNK_ACCESS_ADMIN,
     {"users", "bulk"},
     {[LNK_METHOD_POST] = lnk_h_users_bulk}},
    {LNK_ROUTE_USER,
     LNK_ACCESS_ADMIN,
     {"users", "{}"},
     {[LNK_METHOD_GET] = lnk_h_user_get,
      [LNK_METHOD_PUT] = lnk_h_user_update,
      [LNK_METHOD_DELETE] = lnk_h_user_delete}},
    {LNK_ROUTE_URLS,
     LNK_ACCESS_MANAGE,
     {"urls"},
     {[LNK_METHOD_GET] = lnk_h_urls_list, [LNK_METHOD_POST] = lnk_h_urls_create}},
    {LNK_ROUTE_URL,
     LNK_ACCESS_MANAGE,
     {"urls", "{}"},
     {[LNK_METHOD_GET] = lnk_h_url_get,
      [LNK_METHOD_PUT] = lnk_h_url_update,
      [LNK_METHOD_DELETE] = lnk_h_url_delete}},
    {LNK_ROUTE_URL_REDIRECT,
     LNK_ACCESS_REDIRECT,
     {"urls", "{}", "redirect"},
     {[LNK_METHOD_GET] = lnk_h_redirect}},
    {LNK_ROUTE_URL_STATS,
     LNK_ACCESS_MANAGE,
     {"urls", "{}", "stats"},
     {[LNK_METHOD_GET] = lnk_h_url_stats}},
    {LNK_ROUTE_EVENTS,
     LNK_ACCESS_MANAGE,
     {"events"},
     {[LNK_METHOD_GET] = lnk_h_events_list, [LNK_METHOD_POST] = lnk_h_events_create}},
    {LNK_ROUTE_REDIRECT, LNK_ACCESS_REDIRECT, {"{}"}, {[LNK_METHOD_GET] = lnk_h_redirect}},
};

const size_t lnk_route_table_len = sizeof(lnk_route_table) / sizeof(lnk_route_table[0]);
