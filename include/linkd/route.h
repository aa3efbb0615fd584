/* SPDX-License-Identifier: MIT */
/* The fixed set of route templates and methods, shared by the router (which
 * produces them) and metrics (which labels counters with them). */
#ifndef LNK_ROUTE_H
#define LNK_ROUTE_H

#define LNK_ROUTES(X)                                                                              \
    X(HEALTH, "/health")                                                                           \
    X(HEALTH_READY, "/health/ready")                                                               \
    X(METRICS, "/metrics")                                                                         \
    X(OPENAPI, "/openapi.json")                                                                    \
    X(USERS, "/users")                                                                             \
    X(USERS_BULK, "/users/bulk")                                                                   \
    X(USER, "/users/{id}")                                                                         \
    X(USER_URLS, "/users/{id}/urls")                                                               \
    X(URLS, "/urls")                                                                               \
    X(URLS_BULK, "/urls/bulk")                                                                     \
    X(SHORTEN, "/shorten")                                                                         \
    X(URL, "/urls/{id}")                                                                           \
    X(URL_REDIRECT, "/urls/{code}/redirect")                                                       \
    X(URL_STATS, "/urls/{id}/stats")                                                               \
    X(URL_EVENTS, "/urls/{id}/events")                                                             \
    X(EVENTS, "/events")                                                                           \
    X(EVENTS_BULK, "/events/bulk")                                                                 \
    X(EVENT, "/events/{id}")                                                                       \
    X(STATS, "/stats")                                                                             \
    X(V1_OPENAPI, "/api/v1/openapi.json")                                                          \
    X(V1_LINKS, "/api/v1/links")                                                                   \
    X(V1_LINKS_BULK, "/api/v1/links/bulk")                                                         \
    X(V1_LINKS_IMPORT, "/api/v1/links/import")                                                     \
    X(V1_LINKS_EXPORT, "/api/v1/links/export")                                                     \
    X(V1_LINK, "/api/v1/links/{id}")                                                               \
    X(V1_LINK_QR, "/api/v1/links/{id}/qr")                                                         \
    X(V1_KEYS, "/api/v1/keys")                                                                     \
    X(V1_KEY, "/api/v1/keys/{id}")                                                                 \
    X(V1_DOMAINS, "/api/v1/domains")                                                               \
    X(V1_DOMAIN, "/api/v1/domains/{id}")                                                           \
    X(REDIRECT_S, "/s/{code}")                                                                     \
    X(REDIRECT_R, "/r/{code}")                                                                     \
    X(REDIRECT, "/{code}")                                                                         \
    X(UNMATCHED, "unmatched")

enum lnk_route {
#define LNK_ROUTE_ENUM(name, tmpl) LNK_ROUTE_##name,
    LNK_ROUTES(LNK_ROUTE_ENUM)
#undef LNK_ROUTE_ENUM
        LNK_ROUTE_COUNT
};

enum lnk_method {
    LNK_METHOD_GET,
    LNK_METHOD_HEAD,
    LNK_METHOD_POST,
    LNK_METHOD_PUT,
    LNK_METHOD_PATCH,
    LNK_METHOD_DELETE,
    LNK_METHOD_OPTIONS,
    LNK_METHOD_OTHER,
    LNK_METHOD_COUNT
};

const char *lnk_route_name(enum lnk_route r);
const char *lnk_method_name(enum lnk_method m);

#endif
