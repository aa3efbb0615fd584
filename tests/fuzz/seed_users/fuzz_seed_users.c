/* SPDX-License-Identifier: MIT */
/* users.csv as `linkd import` (STRICT) and POST /users/bulk (LENIENT) read
 * it, on the same bytes. Checks every parsed row against the header's rules
 * (trimmed non-empty names of at most 255 characters that names may hold,
 * an '@' in the e-mail, positive ids, timestamps in range), that rows +
 * skipped equals the data records, that the two modes agree, and that
 * errors are reported. */
#include <string.h>

#include "../fuzz.h"
#include "../seed_check.h"
#include "linkd/arena.h"
#include "linkd/csv.h"
#include "linkd/err.h"
#include "linkd/model.h"
#include "linkd/seed.h"
#include "linkd/str.h"

static void check_error(int rc, const char *err)
{
    FUZZ_CHECK(rc == LNK_EINVAL, "only LNK_OK or LNK_EINVAL");
    FUZZ_CHECK(err[0] != '\0' && strlen(err) < ERR_BYTES, "an error says what and where");
}

static void check_rows(const struct lnk_import_rows *rows)
{
    FUZZ_CHECK(rows->users != NULL && rows->has_id != NULL, "row arrays are set");
    for (size_t i = 0; i < rows->n; i++) {
        const struct lnk_user *u = &rows->users[i];
        FUZZ_CHECK(rows->has_id[i] ? u->id > 0 : u->id == 0, "ids are positive or absent");
        FUZZ_CHECK(u->id <= LNK_ID_MAX, "ids are at most 2^53 - 1");
        FUZZ_CHECK(name_ok(u->username, LNK_NAME_MAX), "usernames: 1..255 characters, trimmed");
        FUZZ_CHECK(name_ok(u->email, LNK_NAME_MAX), "e-mails: 1..255 characters, trimmed");
        FUZZ_CHECK(strchr(u->email, '@') != NULL, "e-mails hold an '@'");
        FUZZ_CHECK(u->created_at >= 0 && u->created_at <= TS_MAX, "created_at in range");
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *s = (const char *)data;
    struct lnk_arena strict_arena, lenient_arena;
    struct lnk_import_rows strict_rows, lenient_rows;
    char strict_err[ERR_BYTES], lenient_err[ERR_BYTES];
    int64_t strict_skipped = -1, lenient_skipped = -1;

    lnk_arena_init(&strict_arena);
    lnk_arena_init(&lenient_arena);
    int strict_rc = lnk_seed_parse_users(s, size, LNK_SEED_STRICT, &strict_arena, &strict_rows,
                                         &strict_skipped, strict_err, sizeof(strict_err));
    int lenient_rc = lnk_seed_parse_users(s, size, LNK_SEED_LENIENT, &lenient_arena, &lenient_rows,
                                          &lenient_skipped, lenient_err, sizeof(lenient_err));

    if (strict_rc == LNK_OK) {
        check_rows(&strict_rows);
        FUZZ_CHECK(strict_skipped == 0, "strict mode skips nothing");
        FUZZ_CHECK(lenient_rc == LNK_OK && lenient_skipped == 0 && lenient_rows.n == strict_rows.n,
                   "a file strict mode takes, lenient mode takes whole");
        for (size_t i = 0; i < strict_rows.n; i++) {
            const struct lnk_user *a = &strict_rows.users[i], *b = &lenient_rows.users[i];
            FUZZ_CHECK(a->id == b->id && strcmp(a->username, b->username) == 0 &&
                           strcmp(a->email, b->email) == 0,
                       "both modes read the same rows");
        }
    } else {
        check_error(strict_rc, strict_err);
    }

    if (lenient_rc == LNK_OK) {
        check_rows(&lenient_rows);
        long records = data_records(data, size);
        FUZZ_CHECK(records >= 0 && (int64_t)lenient_rows.n + lenient_skipped == records,
                   "lenient: rows + skipped == data records");
        FUZZ_CHECK(lenient_skipped > 0 || strict_rc == LNK_OK,
                   "a row strict mode refuses is one lenient mode skips");
    } else {
        check_error(lenient_rc, lenient_err);
        FUZZ_CHECK(strict_rc != LNK_OK, "a file lenient mode refuses, strict mode refuses");
    }

    lnk_arena_cleanup(&lenient_arena);
    lnk_arena_cleanup(&strict_arena);
    return 0;
}
