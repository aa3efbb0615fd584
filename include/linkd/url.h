/* SPDX-License-Identifier: MIT */
/* Destination URL validation (CONTRACT.md §4.9, hint "Deceitful Scroll"),
 * built on liburiparser. Thread-safe. */
#ifndef LNK_URL_H
#define LNK_URL_H

#include <stddef.h>

/* LNK_OK when s[0..len) is an absolute http or https URL (scheme compared
 * case-insensitively) with a non-empty host, at most LNK_URL_MAX bytes, no
 * white space, control characters or NUL, and RFC 3986 syntax. Otherwise
 * LNK_EINVAL and *reason points to a static explanation. */
int lnk_url_validate(const char *s, size_t len, const char **reason);

#endif
