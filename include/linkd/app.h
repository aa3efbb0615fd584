/* SPDX-License-Identifier: MIT */
/* The application: wires config, store, events, metrics and the HTTP server
 * in dependency order, handles signals and the graceful drain. */
#ifndef LNK_APP_H
#define LNK_APP_H

#include <stdbool.h>
#include <stdint.h>

#include "linkd/config.h"

/* `linkd serve`: runs until SIGTERM/SIGINT, then drains and returns the
 * process exit code (0 after a clean stop). A second signal exits at once. */
int lnk_app_serve(const struct lnk_config *cfg);

/* `linkd import DIR`: loads the seed CSVs; 0 on success, 1 on error (message
 * on stderr naming file, line and column). */
int lnk_app_import(const struct lnk_config *cfg, const char *dir);

/* `linkd copy TO_URL`: copies the database the settings name (the source)
 * into to_url (the target; its password is never printed): users, urls,
 * events, API keys and retired codes, ids kept, as upserts, so it can run
 * again. Progress on stderr when it is a terminal; at the end the counts of
 * both, which must agree. 0 on success, 1 on an error or a mismatch, 2 when
 * the target is the source (one line on stderr). */
int lnk_app_copy(const struct lnk_config *cfg, const char *to_url);

/* `linkd keys create|list|revoke`: API key management on the database the
 * settings name (works while a server runs on it). */
enum lnk_keys_action { LNK_KEYS_CREATE, LNK_KEYS_LIST, LNK_KEYS_REVOKE };

struct lnk_keys_cmd {
    enum lnk_keys_action action;
    const char *name;    /* create */
    bool admin;          /* create: an admin key; else a user key for user_id */
    int64_t user_id;     /* create */
    const char *scopes;  /* create: "links:read,..." (auth.h); NULL: all of its role */
    const char *expires; /* create: RFC 3339 UTC, or a lifetime "90d", "12h", "30m"; NULL: never */
    int64_t id;          /* revoke */
};

/* 0 on success (create prints the key once), 1 on error (stderr). */
int lnk_app_keys(const struct lnk_config *cfg, const struct lnk_keys_cmd *cmd);

#endif
