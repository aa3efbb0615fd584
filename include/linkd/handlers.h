/* SPDX-License-Identifier: MIT */
/* Endpoint entry points, one per route and method, named in the route table
 * (src/router/routes.c). Each answers its request exactly once, possibly
 * later from a store completion on the same worker thread. */
#ifndef LNK_HANDLERS_H
#define LNK_HANDLERS_H

#include "linkd/req.h"

typedef void (*lnk_handler_fn)(struct lnk_req *r);

/* Access classes of routes (DESIGN.md §6). */
enum lnk_access {
    LNK_ACCESS_PUBLIC,   /* /health: never authenticated, never limited */
    LNK_ACCESS_REDIRECT, /* public; the redirect rate budget (off by default) */
    LNK_ACCESS_METRICS,  /* public unless LINKD_METRICS_PUBLIC=off, then admin */
    LNK_ACCESS_MANAGE,   /* a key (or loopback in protected mode); user keys see their own */
    LNK_ACCESS_ADMIN,    /* as MANAGE, but user keys are refused (403) */
};

/* Authorises the request for `access`, applies its rate budget, then calls
 * next; or answers 401/403/429 itself. */
void lnk_h_guard(struct lnk_req *r, enum lnk_access access, lnk_handler_fn next);

void lnk_h_health(struct lnk_req *r);
void lnk_h_health_ready(struct lnk_req *r);
void lnk_h_metrics(struct lnk_req *r);
/* GET /openapi.json (the root API's document), GET /api/v1/openapi.json */
void lnk_h_openapi(struct lnk_req *r);
void lnk_h_v1_openapi(struct lnk_req *r);

void lnk_h_users_list(struct lnk_req *r);
void lnk_h_users_create(struct lnk_req *r);
void lnk_h_users_bulk(struct lnk_req *r);
void lnk_h_user_get(struct lnk_req *r);
void lnk_h_user_update(struct lnk_req *r);
void lnk_h_user_delete(struct lnk_req *r);

void lnk_h_urls_list(struct lnk_req *r);
void lnk_h_urls_create(struct lnk_req *r);
void lnk_h_url_get(struct lnk_req *r);
void lnk_h_url_update(struct lnk_req *r);
void lnk_h_url_delete(struct lnk_req *r);
void lnk_h_url_stats(struct lnk_req *r);
void lnk_h_urls_bulk(struct lnk_req *r);
void lnk_h_user_urls(struct lnk_req *r);
void lnk_h_url_events(struct lnk_req *r);
void lnk_h_stats(struct lnk_req *r);

void lnk_h_redirect(struct lnk_req *r);
/* GET / : the root redirect of the domain the Host names, else 404. */
void lnk_h_root(struct lnk_req *r);

void lnk_h_events_list(struct lnk_req *r);
void lnk_h_events_create(struct lnk_req *r);
void lnk_h_events_bulk(struct lnk_req *r);
void lnk_h_event_get(struct lnk_req *r);

/* 404 for unknown routes, 405 (with Allow, comma-separated) for a method a
 * route does not take. */
/* /api/v1 (docs/api-v1.md) */
/* The error shaper the router sets on every /api/v1 request: an error body
 * of the root API ({"error", "details"}) becomes an RFC 9457 problem of the
 * status's generic type; a problem passes as it is. */
json_t *lnk_h_problem_shape(struct lnk_req *r, int status, json_t *body, const char **content_type);
void lnk_h_v1_links_list(struct lnk_req *r);
void lnk_h_v1_links_create(struct lnk_req *r);
void lnk_h_v1_link_get(struct lnk_req *r);
void lnk_h_v1_link_update(struct lnk_req *r);
void lnk_h_v1_link_delete(struct lnk_req *r);
void lnk_h_v1_link_qr(struct lnk_req *r);
void lnk_h_v1_links_bulk(struct lnk_req *r);
void lnk_h_v1_links_import(struct lnk_req *r);
void lnk_h_v1_links_export(struct lnk_req *r);
void lnk_h_v1_keys_list(struct lnk_req *r);
void lnk_h_v1_keys_create(struct lnk_req *r);
void lnk_h_v1_key_revoke(struct lnk_req *r);
void lnk_h_v1_domains_list(struct lnk_req *r);
void lnk_h_v1_domains_create(struct lnk_req *r);
void lnk_h_v1_domain_update(struct lnk_req *r);
void lnk_h_v1_domain_delete(struct lnk_req *r);

void lnk_h_not_found(struct lnk_req *r);
void lnk_h_method_not_allowed(struct lnk_req *r, const char *allow);

#endif
