/* SPDX-License-Identifier: MIT */
/* events.csv through lnk_seed_parse_events. Every accepted row must satisfy
 * the header's rules (positive ids, user_id positive or 0 for null, an event
 * type of 1..64 characters, a timestamp in range) and carry details that are
 * compact JSON object text: it parses as an object and dumps to itself. One
 * row per data record; errors are reported. */
#include <string.h>

#include "../fuzz.h"
#include "../seed_check.h"
#include "linkd/arena.h"
#include "linkd/csv.h"
#include "linkd/err.h"
#include "linkd/json.h"
#include "linkd/model.h"
#include "linkd/seed.h"
#include "linkd/str.h"

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
        FUZZ_CHECK(e->id <= LNK_ID_MAX && e->url_id <= LNK_ID_MAX && e->user_id <= LNK_ID_MAX,
                   "ids are at most 2^53 - 1");
        FUZZ_CHECK(text_ok(e->event_type, LNK_EVENT_TYPE_MAX),
                   "event types: 1..64 characters, trimmed");
        FUZZ_CHECK(e->timestamp >= 0 && e->timestamp <= TS_MAX, "timestamp in range");
        FUZZ_CHECK(details_ok(e->details), "details are compact JSON object text");
    }

out:
    lnk_arena_cleanup(&a);
    return 0;
}
