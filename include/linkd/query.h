/* SPDX-License-Identifier: MIT */
/* Query-string parameters (the part after '?', without it): key lookup with
 * percent- and '+'-decoding, and typed getters that follow CONTRACT.md §2
 * (booleans true/false/1/0/yes/no, case-insensitive). Thread-safe. */
#ifndef LNK_QUERY_H
#define LNK_QUERY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "linkd/str.h"

/* Finds the first `key` and decodes its value into out (cap bytes, NUL
 * terminated). LNK_ENOTFOUND if absent; LNK_EINVAL for a bad %-escape;
 * LNK_ETOOBIG if the value does not fit. A key without '=' has value "". */
int lnk_query_get(struct lnk_str query, const char *key, char *out, size_t cap, size_t *out_len);

/* A decimal integer (optional sign). LNK_ENOTFOUND if absent, LNK_EINVAL if
 * malformed, empty or out of int64 range. */
int lnk_query_get_i64(struct lnk_str query, const char *key, int64_t *out);

/* A boolean. LNK_ENOTFOUND if absent, LNK_EINVAL for any other value. */
int lnk_query_get_bool(struct lnk_str query, const char *key, bool *out);

#endif
