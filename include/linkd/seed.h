/* SPDX-License-Identifier: MIT */
/* CSV seed data (CONTRACT.md §4.3, §6): parsing users.csv, urls.csv and
 * events.csv into store import rows, and loading a seed directory. Shared by
 * `linkd import`, `linkd serve --seed` and POST /users/bulk, so that every
 * path accepts and rejects exactly the same input. */
#ifndef LNK_SEED_H
#define LNK_SEED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "linkd/arena.h"
#include "linkd/store.h"

/* How to treat a row that breaks a rule. */
enum lnk_seed_mode {
    LNK_SEED_STRICT, /* `linkd import`: the first bad row is an error naming line and column */
    LNK_SEED_LENIENT /* POST /users/bulk: rows with an empty username/email or an e-mail
                        without '@' are skipped and counted; a name with a character
                        docs/security.md#names refuses is an error as in strict mode */
};

/* Parses a whole CSV file held in memory. The header row is required; column
 * order is free and extra columns are ignored. Row strings are copied into
 * `a`; *rows points into `a`. Errors (LNK_EINVAL) are written to err as
 * "line L, column C (name): reason":
 *   users:  required username,email (names: lnk_name_check); optional id, created_at;
 *   urls:   required id,user_id,short_code,original_url,is_active,created_at,updated_at;
 *           optional title (a name: lnk_name_check);
 *   events: required id,url_id,event_type,timestamp; optional user_id, details
 *           (JSON object text, validated).
 * A missing required column, non-UTF-8 input or a malformed CSV record is an
 * error in both modes. */
int lnk_seed_parse_users(const char *data, size_t len, enum lnk_seed_mode mode, struct lnk_arena *a,
                         struct lnk_import_rows *rows, int64_t *skipped, char *err, size_t errcap);
int lnk_seed_parse_urls(const char *data, size_t len, struct lnk_arena *a,
                        struct lnk_import_rows *rows, char *err, size_t errcap);
int lnk_seed_parse_events(const char *data, size_t len, struct lnk_arena *a,
                          struct lnk_import_rows *rows, char *err, size_t errcap);

struct lnk_seed_report {
    int64_t users, urls, events; /* rows inserted or updated */
    bool skipped_not_empty;      /* only_if_empty and the tables held rows */
};

/* Loads DIR/users.csv, DIR/urls.csv, DIR/events.csv in that order through
 * lnk_store_run in chunks, upserting by id (idempotent). With only_if_empty,
 * does nothing when any table already has rows. Shows progress on stderr when
 * stderr is a terminal. Errors name the file; LNK_ENOTFOUND if a file is
 * missing. Must not run on a worker loop thread. */
int lnk_seed_import_dir(struct lnk_store *s, const char *dir, bool only_if_empty,
                        struct lnk_seed_report *rep, char *err, size_t errcap);

#endif
