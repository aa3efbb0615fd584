/* SPDX-License-Identifier: MIT */
/* Request bodies: lnk_json_parse_object on arbitrary bytes, then every getter
 * on every key of an accepted object and on the fields the handlers read.
 * Checks: only objects are accepted, nesting stays within
 * LNK_JSON_DEPTH_MAX, keys and strings are UTF-8, each getter agrees with the
 * value's JSON type (string getters refuse a string holding a NUL), and
 * lnk_json_dump output parses back and dumps to the same text. */
#include <string.h>

#include "../fuzz.h"
#include "linkd/err.h"
#include "linkd/json.h"
#include "linkd/str.h"

/* Fields the handlers look up (CONTRACT.md §1), absent or not. */
static const char *const FIELDS[] = {
    "username",  "email",      "id",         "user_id", "url_id", "original_url", "title",
    "is_active", "short_code", "event_type", "details", "page",   "per_page",     "",
};

/* [ / { nesting of v: a scalar is 0, [] and {} are 1. */
static size_t depth_of(const json_t *v)
{
    size_t max = 0, d;
    const char *key;
    const json_t *child;
    size_t i;
    if (json_is_object(v)) {
        json_object_foreach((json_t *)v, key, child)
        {
            if ((d = depth_of(child)) > max)
                max = d;
        }
        return max + 1;
    }
    if (json_is_array(v)) {
        json_array_foreach(v, i, child)
        {
            if ((d = depth_of(child)) > max)
                max = d;
        }
        return max + 1;
    }
    return 0;
}

/* Every getter on obj[key], checked against the value's type (v NULL:
 * absent). */
static void check_getters(const json_t *obj, const char *key, const json_t *v)
{
    const char *s = NULL;
    size_t len = 0;
    int64_t i = 0;
    bool b = false, is_null = false;

    /* A string holding a NUL (\u0000) is refused by the string getters. */
    bool has_nul = json_is_string(v) && memchr(json_string_value(v), '\0', json_string_length(v));

    int rc = lnk_json_get_string(obj, key, &s, &len);
    if (!v) {
        FUZZ_CHECK(rc == LNK_ENOTFOUND, "get_string: absent key is ENOTFOUND");
    } else if (has_nul) {
        FUZZ_CHECK(rc == LNK_ERANGE, "get_string: a NUL inside is ERANGE");
    } else if (json_is_string(v)) {
        FUZZ_CHECK(rc == LNK_OK, "get_string takes a string");
        FUZZ_CHECK(s == json_string_value(v) && len == json_string_length(v),
                   "get_string gives the value and its length");
        FUZZ_CHECK(strlen(s) == len, "strings given out hold no NUL");
        FUZZ_CHECK(lnk_utf8_valid(s, len), "strings are UTF-8");
    } else {
        FUZZ_CHECK(rc == LNK_EINVAL, "get_string: another type is EINVAL");
    }
    FUZZ_CHECK(lnk_json_get_string(obj, key, &s, NULL) == rc, "get_string: len is optional");

    rc = lnk_json_get_int(obj, key, &i);
    if (!v)
        FUZZ_CHECK(rc == LNK_ENOTFOUND, "get_int: absent key is ENOTFOUND");
    else if (json_is_integer(v))
        FUZZ_CHECK(rc == LNK_OK && i == (int64_t)json_integer_value(v), "get_int takes integers");
    else
        FUZZ_CHECK(rc == LNK_EINVAL, "get_int refuses reals, booleans and the rest");

    rc = lnk_json_get_bool(obj, key, &b);
    if (!v)
        FUZZ_CHECK(rc == LNK_ENOTFOUND, "get_bool: absent key is ENOTFOUND");
    else if (json_is_boolean(v))
        FUZZ_CHECK(rc == LNK_OK && b == json_is_true(v), "get_bool takes booleans");
    else
        FUZZ_CHECK(rc == LNK_EINVAL, "get_bool refuses 0/1 and the rest");

    rc = lnk_json_get_string_or_null(obj, key, &s, &len, &is_null);
    if (!v) {
        FUZZ_CHECK(rc == LNK_ENOTFOUND, "get_string_or_null: absent key is ENOTFOUND");
    } else if (json_is_null(v)) {
        FUZZ_CHECK(rc == LNK_OK && is_null && s == NULL && len == 0, "null gives is_null");
    } else if (has_nul) {
        FUZZ_CHECK(rc == LNK_ERANGE, "get_string_or_null: a NUL inside is ERANGE");
    } else if (json_is_string(v)) {
        FUZZ_CHECK(rc == LNK_OK && !is_null && s == json_string_value(v) &&
                       len == json_string_length(v),
                   "a string gives the string");
    } else {
        FUZZ_CHECK(rc == LNK_EINVAL, "get_string_or_null: another type is EINVAL");
    }
}

/* Dumps v, parses the text back and dumps again: same text. */
static void check_dump_round_trip(const json_t *v)
{
    size_t len = 0, len2 = 0;
    char *text = lnk_json_dump(v, &len);
    FUZZ_CHECK(text != NULL && len > 0 && strlen(text) == len, "an object dumps to text");
    json_t *again = NULL;
    const char *why = NULL;
    FUZZ_CHECK(lnk_json_parse_object(text, len, &again, &why) == LNK_OK, "dumped JSON parses back");
    char *text2 = lnk_json_dump(again, &len2);
    FUZZ_CHECK(text2 != NULL && len2 == len && memcmp(text, text2, len) == 0,
               "dump(parse(dump(v))) == dump(v)");
    free(text2);
    json_decref(again);
    free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static bool seeded;
    if (!seeded) {
        json_object_seed(1); /* reproducible hashing, so runs replay exactly */
        seeded = true;
    }

    json_t *obj = NULL;
    const char *why = NULL;
    int rc = lnk_json_parse_object((const char *)data, size, &obj, &why);
    if (rc != LNK_OK) {
        FUZZ_CHECK(rc == LNK_EINVAL || rc == LNK_ERANGE, "only LNK_OK, LNK_EINVAL or LNK_ERANGE");
        json_t *keys = lnk_json_oversized_keys((const char *)data, size);
        FUZZ_CHECK(!keys || (rc == LNK_ERANGE && json_array_size(keys) > 0),
                   "oversized keys are listed only for a body refused for its numbers");
        json_decref(keys);
        FUZZ_CHECK(why != NULL && why[0] != '\0', "a rejection says why");
        FUZZ_CHECK(obj == NULL, "*out untouched on error");
        return 0;
    }
    FUZZ_CHECK(obj != NULL && json_is_object(obj), "only objects are accepted");
    FUZZ_CHECK(why == NULL, "why untouched on success");
    FUZZ_CHECK(depth_of(obj) <= LNK_JSON_DEPTH_MAX, "nesting within LNK_JSON_DEPTH_MAX");

    const char *key;
    json_t *v;
    json_object_foreach(obj, key, v)
    {
        FUZZ_CHECK(json_object_get(obj, key) == v, "keys hold no NUL");
        FUZZ_CHECK(lnk_utf8_valid(key, strlen(key)), "keys are UTF-8");
        check_getters(obj, key, v);
    }
    for (size_t i = 0; i < sizeof(FIELDS) / sizeof(FIELDS[0]); i++)
        check_getters(obj, FIELDS[i], json_object_get(obj, FIELDS[i]));

    check_dump_round_trip(obj);
    json_decref(obj);
    return 0;
}
