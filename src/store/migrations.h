/* SPDX-License-Identifier: MIT */
/* The SQLite schema as an ordered list of migrations compiled into the
 * binary. Migration i moves PRAGMA user_version from i to i + 1; a released
 * entry is never edited, only appended to. Included by store_sqlite.c only.
 * Timestamps are integer UTC epoch seconds. */
#ifndef LNK_STORE_MIGRATIONS_H
#define LNK_STORE_MIGRATIONS_H

#include <stddef.h>

/* Version 1.
 * - events.url_id and events.user_id are foreign keys with ON DELETE CASCADE:
 *   every event names an existing url (seed events included), and deleting a
 *   user removes its urls, their events and the events that name the user.
 *   A click for a url deleted meanwhile is dropped by its INSERT ... SELECT.
 * - retired_codes keeps the codes of hard-deleted (or re-coded) urls so that
 *   neither the generator nor a custom code ever hands them out again.
 * - meta holds code_key (16 random bytes, written once at open) and code_seq
 *   (the next generator sequence number). */
static const char LNK_SQLITE_MIGRATION_1[] =
    "CREATE TABLE users ("
    " id INTEGER PRIMARY KEY AUTOINCREMENT,"
    " username TEXT NOT NULL UNIQUE,"
    " email TEXT NOT NULL UNIQUE,"
    " created_at INTEGER NOT NULL);"
    "CREATE TABLE urls ("
    " id INTEGER PRIMARY KEY AUTOINCREMENT,"
    " user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,"
    " short_code TEXT NOT NULL UNIQUE,"
    " original_url TEXT NOT NULL,"
    " title TEXT,"
    " is_active INTEGER NOT NULL,"
    " created_at INTEGER NOT NULL,"
    " updated_at INTEGER NOT NULL);"
    "CREATE INDEX urls_user_id ON urls(user_id);"
    "CREATE TABLE events ("
    " id INTEGER PRIMARY KEY AUTOINCREMENT,"
    " url_id INTEGER NOT NULL REFERENCES urls(id) ON DELETE CASCADE,"
    " user_id INTEGER REFERENCES users(id) ON DELETE CASCADE,"
    " event_type TEXT NOT NULL,"
    " timestamp INTEGER NOT NULL,"
    " details TEXT NOT NULL DEFAULT '{}');"
    "CREATE INDEX events_url_id ON events(url_id);"
    "CREATE INDEX events_user_id ON events(user_id);"
    "CREATE INDEX events_event_type ON events(event_type);"
    "CREATE TABLE meta (key TEXT PRIMARY KEY, value) WITHOUT ROWID;"
    "INSERT INTO meta (key, value) VALUES ('code_seq', 0);"
    "CREATE TABLE retired_codes (code TEXT PRIMARY KEY) WITHOUT ROWID;"
    "CREATE TRIGGER urls_retire_deleted AFTER DELETE ON urls BEGIN"
    " INSERT OR IGNORE INTO retired_codes (code) VALUES (old.short_code); END;"
    "CREATE TRIGGER urls_retire_recoded AFTER UPDATE OF short_code ON urls"
    " WHEN old.short_code IS NOT new.short_code BEGIN"
    " INSERT OR IGNORE INTO retired_codes (code) VALUES (old.short_code); END;";

static const char *const lnk_sqlite_migrations[] = {
    LNK_SQLITE_MIGRATION_1,
};

#define LNK_SQLITE_N_MIGRATIONS (sizeof(lnk_sqlite_migrations) / sizeof(lnk_sqlite_migrations[0]))

#endif
