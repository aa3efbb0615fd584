/* SPDX-License-Identifier: MIT */
/* Name characters (docs/security.md#names): a pass over the code points of a
 * UTF-8 string, refusing those that let a name look like something else
 * (bidi overrides reverse the text around them, CR/LF split log and
 * header lines, a BOM or noncharacter is invisible or undefined). Codec
 * layer: shared by the JSON handlers and the CSV seed parser. Thread-safe. */
#include "linkd/name.h"

#include <stdbool.h>
#include <stdint.h>

#include "linkd/err.h"
#include "linkd/str.h"

/* The code point at s[*i], which must start a well-formed sequence (the
 * caller checked the whole string); *i moves past it. */
static uint32_t next_code_point(const unsigned char *s, size_t *i)
{
    unsigned char c = s[*i];
    size_t n = c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
    uint32_t cp = n == 1 ? c : n == 2 ? c & 0x1Fu : n == 3 ? c & 0x0Fu : c & 0x07u;
    for (size_t k = 1; k < n; k++)
        cp = (cp << 6) | (s[*i + k] & 0x3Fu);
    *i += n;
    return cp;
}

static bool is_control(uint32_t cp)
{
    return cp < 0x20 || (cp >= 0x7F && cp < 0xA0);
}

/* Unicode's bidirectional formatting characters (UAX #9 §2): the marks,
 * embeddings, overrides and isolates. */
static bool is_bidi_control(uint32_t cp)
{
    return cp == 0x061C || cp == 0x200E || cp == 0x200F || (cp >= 0x202A && cp <= 0x202E) ||
           (cp >= 0x2066 && cp <= 0x2069);
}

/* The 66 noncharacters (Unicode §23.7). */
static bool is_noncharacter(uint32_t cp)
{
    return (cp >= 0xFDD0 && cp <= 0xFDEF) || (cp & 0xFFFEu) == 0xFFFEu;
}

int lnk_name_check(const char *s, size_t len, const char **reason)
{
    const char *why = NULL;
    const unsigned char *p = (const unsigned char *)s;

    if (!lnk_utf8_valid(s, len)) {
        why = "must be valid UTF-8";
        goto out;
    }
    for (size_t i = 0; i < len && !why;) {
        uint32_t cp = next_code_point(p, &i);
        if (is_control(cp))
            why = "must not contain control characters (U+0000-U+001F, U+007F-U+009F)";
        else if (is_bidi_control(cp))
            why = "must not contain bidirectional formatting characters (such as U+202E)";
        else if (is_noncharacter(cp))
            why = "must not contain Unicode noncharacters (such as U+FFFF)";
        else if (cp == 0xFEFF)
            why = "must not contain U+FEFF (byte order mark)";
    }

out:
    if (why && reason)
        *reason = why;
    return why ? LNK_EINVAL : LNK_OK;
}
