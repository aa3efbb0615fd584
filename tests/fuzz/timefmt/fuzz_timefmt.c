/* SPDX-License-Identifier: MIT */
/* Timestamps. The input is parsed as text; an accepted timestamp lies in
 * 1970..9999 and formats back to its own date and time (with 'T'). The first
 * 8 bytes are also taken as epoch seconds: the output is always 19 bytes of
 * the fixed pattern, and parses back to the (clamped) value. */
#include <string.h>

#include "../fuzz.h"
#include "linkd/err.h"
#include "linkd/timefmt.h"

#define TS_MAX INT64_C(253402300799) /* 9999-12-31T23:59:59 */
#define TS_MIN INT64_C(-62167219200) /* 0000-01-01T00:00:00 */

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* "DDDD-DD-DDTDD:DD:DD" exactly, NUL at 19. */
static bool has_shape(const char *s)
{
    static const char PATTERN[] = "DDDD-DD-DDTDD:DD:DD";
    for (size_t i = 0; i < LNK_TS_LEN; i++)
        if (PATTERN[i] == 'D' ? !is_digit(s[i]) : s[i] != PATTERN[i])
            return false;
    return s[LNK_TS_LEN] == '\0';
}

static void check_parse(const char *s, size_t len)
{
    int64_t t = INT64_MIN;
    int rc = lnk_ts_parse(s, len, &t);
    FUZZ_CHECK(rc == LNK_OK || rc == LNK_EINVAL, "only LNK_OK or LNK_EINVAL");
    if (rc != LNK_OK)
        return;
    FUZZ_CHECK(len >= LNK_TS_LEN, "at least 19 bytes");
    FUZZ_CHECK(t >= 0 && t <= TS_MAX, "years 1970..9999");
    char out[LNK_TS_LEN + 1];
    lnk_ts_format(t, out);
    FUZZ_CHECK(has_shape(out), "formatted shape");
    FUZZ_CHECK(memcmp(out, s, 10) == 0 && memcmp(out + 11, s + 11, 8) == 0,
               "format(parse(s)) repeats the date and time of s");
}

static void check_format(int64_t t)
{
    char out[LNK_TS_LEN + 2];
    out[LNK_TS_LEN + 1] = 'X';
    lnk_ts_format(t, out);
    FUZZ_CHECK(has_shape(out) && out[LNK_TS_LEN + 1] == 'X', "19 bytes and a NUL, no more");
    int64_t clamped = t < TS_MIN ? TS_MIN : t > TS_MAX ? TS_MAX : t, back = INT64_MIN;
    int rc = lnk_ts_parse(out, LNK_TS_LEN, &back);
    if (clamped >= 0)
        FUZZ_CHECK(rc == LNK_OK && back == clamped, "parse(format(t)) == t from 1970 on");
    else
        FUZZ_CHECK(rc == LNK_EINVAL, "years before 1970 are refused");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    check_parse((const char *)data, size);
    if (size >= 8) {
        uint64_t v = 0;
        for (int i = 7; i >= 0; i--)
            v = (v << 8) | data[i];
        check_format((int64_t)v);
        check_format((int64_t)(v % (uint64_t)(TS_MAX + 1)));
    }
    return 0;
}
