/* SPDX-License-Identifier: MIT */
/* urls.csv through lnk_seed_parse_urls. Every accepted row must satisfy the
 * rules the header and CONTRACT.md §6 give (positive ids, a plausible short
 * code, a URL lnk_url_validate accepts, a title null or 1..255 characters,
 * timestamps in range), one row per data record; errors are reported. */
#include <string.h>

#include "../fuzz.h"
#include "../seed_check.h"
#include "linkd/arena.h"
#include "linkd/csv.h"
#include "linkd/err.h"
#include "linkd/model.h"
#include "linkd/seed.h"
#include "linkd/shortcode.h"
#include "linkd/str.h"
#include "linkd/url.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct lnk_arena a;
    struct lnk_import_rows rows;
    char err[ERR_BYTES];

    lnk_arena_init(&a);
    int rc = lnk_seed_parse_urls((const char *)data, size, &a, &rows, err, sizeof(err));
    if (rc != LNK_OK) {
        FUZZ_CHECK(rc == LNK_EINVAL, "only LNK_OK or LNK_EINVAL");
        FUZZ_CHECK(err[0] != '\0' && strlen(err) < ERR_BYTES, "an error says what and where");
        goto out;
    }
    FUZZ_CHECK(rows.urls != NULL, "the row array is set");
    FUZZ_CHECK((long)rows.n == data_records(data, size), "one row per data record");
    for (size_t i = 0; i < rows.n; i++) {
        const struct lnk_url *u = &rows.urls[i];
        FUZZ_CHECK(u->id > 0 && u->user_id > 0, "ids are positive");
        FUZZ_CHECK(u->id <= LNK_ID_MAX && u->user_id <= LNK_ID_MAX, "ids are at most 2^53 - 1");
        FUZZ_CHECK(u->short_code && lnk_code_is_plausible(u->short_code, strlen(u->short_code)),
                   "short codes are plausible");
        FUZZ_CHECK(u->original_url &&
                       lnk_url_validate(u->original_url, strlen(u->original_url), NULL) == LNK_OK,
                   "URLs pass lnk_url_validate");
        FUZZ_CHECK(u->title == NULL || name_ok(u->title, LNK_NAME_MAX),
                   "titles: null or 1..255 characters, trimmed");
        FUZZ_CHECK(u->created_at >= 0 && u->created_at <= TS_MAX, "created_at in range");
        FUZZ_CHECK(u->updated_at >= 0 && u->updated_at <= TS_MAX, "updated_at in range");
    }

out:
    lnk_arena_cleanup(&a);
    return 0;
}
