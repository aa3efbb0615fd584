/* SPDX-License-Identifier: MIT */
/* Private to the router: the route table's shape. HEAD is served by a
 * route's GET handler (the response layer sends no body for HEAD). */
#ifndef LNK_ROUTES_H
#define LNK_ROUTES_H

#include <stddef.h>

#include "linkd/handlers.h"
#include "linkd/route.h"

#define LNK_ROUTE_SEGS_MAX 5

struct lnk_route_def {
    enum lnk_route route;
    enum lnk_access access;               /* who may call it, which rate budget applies */
    const char *segs[LNK_ROUTE_SEGS_MAX]; /* NULL-terminated when shorter */
    lnk_handler_fn handlers[LNK_METHOD_COUNT];
};

extern const struct lnk_route_def lnk_route_table[];
extern const size_t lnk_route_table_len;

#endif
