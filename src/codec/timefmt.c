/* SPDX-License-Identifier: MIT */
/* UTC timestamps <-> "YYYY-MM-DDTHH:MM:SS" text (CONTRACT.md §2) with
 * proleptic-Gregorian civil/day arithmetic (H. Hinnant, "chrono-compatible
 * low-level date algorithms"), so neither TZ nor the locale can change the
 * result. Pure functions apart from lnk_ts_now; thread-safe. */
#include "linkd/timefmt.h"

#include <stdbool.h>
#include <string.h>
#include <time.h>

#include "linkd/err.h"

#define SECS_PER_DAY   86400
#define PARSE_YEAR_MIN 1970
#define PARSE_YEAR_MAX 9999

/* Days since 1970-01-01 of y-m-d (m 1..12, d 1..31). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);                       /* [0, 399] */
    unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1; /* [0, 365] */
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;           /* [0, 146096] */
    return era * 146097 + (int64_t)doe - 719468;
}

/* Inverse of days_from_civil. */
static void civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    unsigned doe = (unsigned)(z - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = (int64_t)yoe + era * 400 + (*m <= 2);
}

static bool is_leap(int64_t y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static unsigned days_in_month(int64_t y, unsigned m)
{
    static const unsigned char DAYS[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && is_leap(y) ? 29 : DAYS[m - 1];
}

static void put_digits(char *out, unsigned v, int n)
{
    for (int i = n - 1; i >= 0; i--) {
        out[i] = (char)('0' + v % 10);
        v /= 10;
    }
}

void lnk_ts_format(int64_t epoch_s, char out[LNK_TS_LEN + 1])
{
    /* Clamp to 0000-01-01T00:00:00 .. 9999-12-31T23:59:59 so the width is
     * always 19 and the day arithmetic cannot overflow. */
    const int64_t lo = days_from_civil(0, 1, 1) * SECS_PER_DAY;
    const int64_t hi = days_from_civil(10000, 1, 1) * SECS_PER_DAY - 1;
    if (epoch_s < lo)
        epoch_s = lo;
    if (epoch_s > hi)
        epoch_s = hi;
    int64_t days = epoch_s / SECS_PER_DAY;
    int64_t secs = epoch_s % SECS_PER_DAY;
    if (secs < 0) {
        secs += SECS_PER_DAY;
        days--;
    }
    int64_t y;
    unsigned m, d;
    civil_from_days(days, &y, &m, &d);
    put_digits(out, (unsigned)y, 4);
    out[4] = '-';
    put_digits(out + 5, m, 2);
    out[7] = '-';
    put_digits(out + 8, d, 2);
    out[10] = 'T';
    put_digits(out + 11, (unsigned)(secs / 3600), 2);
    out[13] = ':';
    put_digits(out + 14, (unsigned)(secs / 60 % 60), 2);
    out[16] = ':';
    put_digits(out + 17, (unsigned)(secs % 60), 2);
    out[LNK_TS_LEN] = '\0';
}

/* Reads exactly n ASCII digits at s into *v. */
static bool get_digits(const char *s, int n, unsigned *v)
{
    unsigned r = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        r = r * 10 + (unsigned)(s[i] - '0');
    }
    *v = r;
    return true;
}

int lnk_ts_parse(const char *s, size_t len, int64_t *out)
{
    unsigned y, mo, d, h, mi, sec;
    if (len < LNK_TS_LEN)
        return LNK_EINVAL;
    if (!get_digits(s, 4, &y) || s[4] != '-' || !get_digits(s + 5, 2, &mo) || s[7] != '-' ||
        !get_digits(s + 8, 2, &d) || (s[10] != ' ' && s[10] != 'T') || !get_digits(s + 11, 2, &h) ||
        s[13] != ':' || !get_digits(s + 14, 2, &mi) || s[16] != ':' || !get_digits(s + 17, 2, &sec))
        return LNK_EINVAL;

    /* Optional fraction (truncated: we keep whole seconds), then an optional
     * UTC designator. Other offsets are refused rather than converted. */
    size_t i = LNK_TS_LEN;
    if (i < len && s[i] == '.') {
        size_t start = ++i;
        while (i < len && s[i] >= '0' && s[i] <= '9')
            i++;
        if (i == start || i - start > 9)
            return LNK_EINVAL;
    }
    if (i < len && s[i] == 'Z')
        i++;
    else if (len - i == 6 && s[i] == '+' && s[i + 1] == '0' && s[i + 2] == '0' && s[i + 3] == ':' &&
             s[i + 4] == '0' && s[i + 5] == '0')
        i += 6;
    if (i != len)
        return LNK_EINVAL;

    if (y < PARSE_YEAR_MIN || y > PARSE_YEAR_MAX || mo < 1 || mo > 12 || d < 1 ||
        d > days_in_month(y, mo) || h > 23 || mi > 59 || sec > 59)
        return LNK_EINVAL;
    *out = days_from_civil(y, mo, d) * SECS_PER_DAY + h * 3600 + mi * 60 + sec;
    return LNK_OK;
}

int64_t lnk_ts_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec;
}

int lnk_ts_parse_utc(const char *s, size_t len, int64_t *out)
{
    bool zoned =
        (len > 0 && s[len - 1] == 'Z') || (len > 6 && memcmp(s + len - 6, "+00:00", 6) == 0);
    if (len <= LNK_TS_LEN || s[10] != 'T' || !zoned)
        return LNK_EINVAL;
    return lnk_ts_parse(s, len, out);
}
