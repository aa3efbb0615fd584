/* SPDX-License-Identifier: MIT */
/* Destination URL validation (CONTRACT.md §4.9, hint "Deceitful Scroll"),
 * built on liburiparser. Thread-safe. */
#ifndef LNK_URL_H
#define LNK_URL_H

#include <stddef.h>

/* LNK_OK when s[0..len) is an absolute http or https URL (scheme compared
 * case-insensitively), at most LNK_URL_MAX bytes, no white space, control
 * characters or NUL, RFC 3986 syntax, no user information, a port (if any)
 * of 1-65535, and a host that is an IPv4 or IPv6 literal or an RFC 1123
 * host name: labels of 1-63 letters, digits and hyphens (not first or
 * last), at most 253 characters, not percent-encoded, the last label not a
 * number (docs/security.md#destinations). Otherwise LNK_EINVAL and *reason
 * points to a static explanation. */
int lnk_url_validate(const char *s, size_t len, const char **reason);

/* Copies the database location s into out (cap bytes, always terminated,
 * truncated if need be) with every password replaced by "***": the one in a
 * URL's user information (postgres://user:secret@host/db) and the value of
 * each password= option, in a URL's query or in key=value form (quoted or
 * not). For logs and error messages. */
void lnk_url_redact(const char *s, char *out, size_t cap);

#endif
