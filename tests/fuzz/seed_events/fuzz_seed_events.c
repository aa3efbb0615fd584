/* SPDX-License-Identifier: MIT */
/* events.csv through lnk_seed_parse_events. Every accepted row must satisfy
 * the header's rules (positive ids, user_id positive or 0 for null, an event
 * type of 1..64 characters, a timestamp in range) and carry details that are
 * compact JSON object text: it parses as an object and dumps to itself. One
 * row per data record; errors are reported. */
#include <string.h>

#include "../fuzz.h"
#include "linkd/arena.h"
#include "linkd/csv.h"
#include "linkd/err.h"
#include "linkd/json.h"
#include "linkd/model.h"
#include "linkd/seed.h"
#include "linkd/str.h"

#define ERR_BYTES 256
#define TS_MAX    INT64_C(253402300799) /* 9999-12-31T23:59:59 */

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f';
}

static bool text_ok(const char *s, size_t max)
{
    if (!s)
        return false;
    size_t len = strlen(s);
    return len > 0 && !is_space(s[0]) && !is_space(s[len - 1]) && lnk_utf8_valid(s, len) &&
           lnk_utf8_len(s, len) <= max;
}

static long data_records(const uint8_t *data, size_t size)
{
    struct lnk_csv c;
    struct lnk_csv_record rec;
    long n = -1;
    int rc;
    lnk_csv_init(&c, (const char *)data, size);
    while ((rc = lnk_csv_next(&c, &rec)) == LNK_OK)
        n++;
    lnk_csv_cleanup(&c);
    return rc == LNK_EEOF ? n : -1;
}

/* details is an object that lnk_json_dump writes back unchanged. */
static bool details_ok(const char *details)
{
    if (!details)
        return false;
    size_t len = strlen(details), dumped_len = 0;
    json_t *v = NULL;
    if (lnk_json_parse_object(details, len, &v, NULL) != LNK_OK)
        return false;
    char *dumped = lnk_json_dump(v, &dumped_len);
    bool same = dumped && dumped_len == len && memcmp(dumped, details, len) == 0;
    free(dumped);
    json_decref(v);
    return same;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static bool seeded;
    if (!seeded) {
        json_object_seed(1); /* reproducible hashing, so runs replay exactly */
        seeded = true;
    }

    struct lnk_arena a;
    struct lnk_import_rows rows;
    char err[ERR_BYTES];

    lnk_arena_init(&a);
    int rc = lnk_seed_parse_events((const char *)data, size, &a, &rows, err, sizeof(err));
    if (rc != LNK_OK) {
        FUZZ_CHECK(rc == LNK_EINVAL, "only LNK_OK or LNK_EINVAL");
        FUZZ_CHECK(err[0] != '\0' && strlen(err) < ERR_BYTES, "an error says what and where");
        goto out;
    }
    FUZZ_CHECK(rows.events != NULL, "the row array is set");
    FUZZ_CHECK((long)rows.n == data_records(data, size), "one row per data record");
    for (size_t i = 0; i < rows.n; i++) {
        const struct lnk_event *e = &rows.events[i];
        FUZZ_CHECK(e->id > 0 && e->url_id > 0 && e->user_id >= 0, "ids are positive (or null)");
        FUZZ_CHECK(text_ok(e->event_type, LNK_EVENT_TYPE_MAX),
                   "event types: 1..64 characters, trimmed");
        FUZZ_CHECK(e->timestamp >= 0 && e->timestamp <= TS_MAX, "timestamp in range");
        FUZZ_CHECK(details_ok(e->details), "details are compact JSON object text");
    }

out:
    lnk_arena_cleanup(&a);
    return 0;
}
