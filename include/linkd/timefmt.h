/* SPDX-License-Identifier: MIT */
/* Timestamps: UTC seconds since the epoch <-> text. Output is exactly
 * "YYYY-MM-DDTHH:MM:SS" (CONTRACT.md §2). Thread-safe, no locale, no TZ. */
#ifndef LNK_TIMEFMT_H
#define LNK_TIMEFMT_H

#include <stddef.h>
#include <stdint.h>

#define LNK_TS_LEN 19

/* Writes 19 characters and a NUL. Years outside 0000..9999 are clamped. */
void lnk_ts_format(int64_t epoch_s, char out[LNK_TS_LEN + 1]);

/* Parses "YYYY-MM-DD HH:MM:SS" or "YYYY-MM-DDTHH:MM:SS", optionally followed
 * by a fraction ".ddd", and "Z" or "+00:00". Fields are range-checked (month
 * lengths, leap years). LNK_EINVAL otherwise. */
int lnk_ts_parse(const char *s, size_t len, int64_t *out);

/* RFC 3339 in UTC only, as /api/v1 takes times: "YYYY-MM-DDTHH:MM:SS",
 * an optional fraction, then "Z" or "+00:00" (other offsets are refused,
 * not converted). LNK_EINVAL otherwise. */
int lnk_ts_parse_utc(const char *s, size_t len, int64_t *out);

/* Current UTC seconds. */
int64_t lnk_ts_now(void);

#endif
