/* SPDX-License-Identifier: MIT */
/* Names of the fixed route and method sets (metric labels, logs). */
#include "linkd/route.h"

static const char *const route_names[] = {
#define LNK_ROUTE_NAME(name, tmpl) tmpl,
    LNK_ROUTES(LNK_ROUTE_NAME)
#undef LNK_ROUTE_NAME
};

static const char *const method_names[] = {"GET",   "HEAD",   "POST",    "PUT",
                                           "PATCH", "DELETE", "OPTIONS", "OTHER"};
_Static_assert(sizeof(method_names) / sizeof(method_names[0]) == LNK_METHOD_COUNT,
               "one name per method");

const char *lnk_route_name(enum lnk_route r)
{
    return (unsigned)r < LNK_ROUTE_COUNT ? route_names[r] : "unmatched";
}

const char *lnk_method_name(enum lnk_method m)
{
    return (unsigned)m < LNK_METHOD_COUNT ? method_names[m] : "OTHER";
}
