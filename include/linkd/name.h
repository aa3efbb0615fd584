/* SPDX-License-Identifier: MIT */
/* The characters a stored name may hold: usernames, e-mail addresses and url
 * titles, whether they come from a JSON body or a CSV file, pass this one
 * check (docs/security.md#names). Thread-safe. */
#ifndef LNK_NAME_H
#define LNK_NAME_H

#include <stddef.h>

/* LNK_OK when s[0..len) is UTF-8 without characters that hide or rewrite
 * what a reader sees: control characters (C0 U+0000-U+001F, DEL U+007F, C1
 * U+0080-U+009F), bidirectional formatting characters (U+061C, U+200E,
 * U+200F, U+202A-U+202E, U+2066-U+2069), noncharacters (U+FDD0-U+FDEF and
 * the last two code points of every plane, U+xxFFFE and U+xxFFFF) and
 * U+FEFF (the byte order mark, a zero-width no-break space inside text).
 * Otherwise LNK_EINVAL and *reason (if reason is not NULL) points to a
 * static explanation that names the character. Length and emptiness are the
 * caller's rules. */
int lnk_name_check(const char *s, size_t len, const char **reason);

#endif
