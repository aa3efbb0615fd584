/* SPDX-License-Identifier: MIT */
/* Inside src/policy/: a small reader for the stored OPTIONS text, so that a
 * redirect reads its options in place, without a JSON tree or malloc. It
 * reads any JSON (whitespace and escapes included) but is meant for the
 * compact text lnk_policy_build produces. */
#ifndef LNK_POLICY_INT_H
#define LNK_POLICY_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "linkd/str.h"

/* Nesting the reader accepts; the stored form uses 4. */
#define LNK_JS_DEPTH_MAX 16

/* The raw text of one value: a string keeps its quotes. */
struct lnk_js {
    const char *p;
    size_t n;
};

/* A cursor over the members of an object or the items of an array. */
struct lnk_js_iter {
    const char *p, *end;
};

/* The first value in s, which must be all of s but white space: false when
 * s is not one well-formed JSON value. Everything else assumes a value that
 * passed this check (or came out of one). */
bool lnk_js_parse(struct lnk_str s, struct lnk_js *out);

bool lnk_js_is_object(struct lnk_js v);
bool lnk_js_is_array(struct lnk_js v);
bool lnk_js_is_string(struct lnk_js v);

/* Starts iterating an object or array value; false for another type. */
bool lnk_js_iter_begin(struct lnk_js v, struct lnk_js_iter *it);
/* The next member: key (raw text inside the quotes) and value; false at the end. */
bool lnk_js_next_member(struct lnk_js_iter *it, struct lnk_str *key, struct lnk_js *val);
/* The next item of an array; false at the end. */
bool lnk_js_next_item(struct lnk_js_iter *it, struct lnk_js *val);

/* An integer (no fraction, no exponent, fits int64). */
bool lnk_js_int(struct lnk_js v, int64_t *out);
/* true or false. */
bool lnk_js_bool(struct lnk_js v, bool *out);
/* Decodes a string value into out[0..cap) with a NUL; false when v is not a
 * string, holds \u0000, or does not fit. A string never decodes to more
 * bytes than its raw text, so cap = v.n suffices. */
bool lnk_js_string(struct lnk_js v, char *out, size_t cap, size_t *len);

#endif
