/* SPDX-License-Identifier: MIT */
/* Thin helpers over jansson for request bodies and field access, so that
 * every handler validates the same way (CONTRACT.md §2: 400 for a body that is
 * not a JSON object, 422 for a field of the wrong type). Thread-safe. */
#ifndef LNK_JSON_H
#define LNK_JSON_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define LNK_JSON_DEPTH_MAX 64

/* Parses buf[0..len) as one JSON value that must be an object. LNK_EINVAL for
 * an empty body, invalid JSON (invalid UTF-8 included), nesting
 * deeper than LNK_JSON_DEPTH_MAX, or a non-object (\u0000 inside strings is
 * accepted; the string getters refuse it); LNK_ERANGE for valid JSON holding
 * a number that neither int64 nor a double holds (never rounded); *why says
 * which (static string). On LNK_OK *out is a new reference. */
int lnk_json_parse_object(const char *buf, size_t len, json_t **out, const char **why);
/* The same for a body whose top level must be of jansson type `type`
 * (JSON_OBJECT or JSON_ARRAY): "not a JSON array" otherwise. */
int lnk_json_parse(const char *buf, size_t len, int type, json_t **out, const char **why);

/* For a body lnk_json_parse_object answered LNK_ERANGE: the keys of the
 * object whose values are integers past int64, so that a handler can name
 * the field (a nested one, as in event details, is not listed). The values
 * are read as doubles, which cannot tell 2^63 - 1 from 2^63: a field at the
 * very top of int64 beside them is named too. A new array of strings, or
 * NULL when there is none. */
json_t *lnk_json_oversized_keys(const char *buf, size_t len);

/* Field getters. LNK_ENOTFOUND when the key is absent, LNK_EINVAL when it is
 * present with another type (null included, unless the getter says so).
 * String getters answer LNK_ERANGE for a string holding a NUL (\u0000). */
int lnk_json_get_string(const json_t *obj, const char *key, const char **s, size_t *len);
/* A JSON integer (not a real, not a boolean). */
int lnk_json_get_int(const json_t *obj, const char *key, int64_t *v);
int lnk_json_get_bool(const json_t *obj, const char *key, bool *v);
/* A string or null: *is_null tells which. */
int lnk_json_get_string_or_null(const json_t *obj, const char *key, const char **s, size_t *len,
                                bool *is_null);

/* Writes s[0..n) as a JSON string, quotes included, into dst[0..cap), and
 * returns the bytes written. '"' and '\\' are escaped with a backslash,
 * control characters and DEL as \u00XX, and each byte that does not belong
 * to a valid UTF-8 character becomes U+FFFD, so that the result is valid
 * JSON whatever s holds. 6 * n + 2 bytes always suffice. With less, it stops
 * at the first run of plain bytes or escape that does not fit, leaving the
 * string unclosed, and sets *truncated. */
size_t lnk_json_escape(char *dst, size_t cap, const char *s, size_t n, bool *truncated);

/* Serialises v compactly (no indentation, keys in insertion order). Returns a
 * malloc'ed string that the caller frees, and its length. */
char *lnk_json_dump(const json_t *v, size_t *len);

#endif
