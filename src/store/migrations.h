/* SPDX-License-Identifier: MIT */
/* The SQLite schema as an ordered list of migrations compiled into the
 * binary. Migration i moves PRAGMA user_version from i to i + 1; a released
 * entry is never edited, only appended to. Included by store_sqlite.c only.
 * Timestamps are integer UTC epoch seconds. */
#ifndef LNK_STORE_MIGRATIONS_H
#define LNK_STORE_MIGRATIONS_H

#include <stddef.h>

#include "store/store_sqlite_query.h"

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

/* Version 2: click rollups, kept by a trigger on every click event (redirects,
 * POST /events with event_type "click", imported clicks), so that a link's
 * totals and daily counts never need a scan of events.
 * - link_clicks: one row per url with its total and its latest click;
 * - link_clicks_daily: one row per url and UTC day (epoch day number).
 * Both follow their url on delete. */
static const char LNK_SQLITE_MIGRATION_2[] =
    "CREATE TABLE link_clicks ("
    " url_id INTEGER PRIMARY KEY REFERENCES urls(id) ON DELETE CASCADE,"
    " clicks INTEGER NOT NULL,"
    " last_click_at INTEGER NOT NULL);"
    "CREATE TABLE link_clicks_daily ("
    " url_id INTEGER NOT NULL REFERENCES urls(id) ON DELETE CASCADE,"
    " day INTEGER NOT NULL,"
    " clicks INTEGER NOT NULL,"
    " PRIMARY KEY (url_id, day)) WITHOUT ROWID;"
    "CREATE TRIGGER events_click_rollup AFTER INSERT ON events"
    " WHEN new.event_type = 'click' BEGIN"
    " INSERT INTO link_clicks (url_id, clicks, last_click_at)"
    "  VALUES (new.url_id, 1, new.timestamp)"
    "  ON CONFLICT (url_id) DO UPDATE SET clicks = clicks + 1,"
    "  last_click_at = max(last_click_at, excluded.last_click_at);"
    " INSERT INTO link_clicks_daily (url_id, day, clicks)"
    "  VALUES (new.url_id, new.timestamp / 86400, 1)"
    "  ON CONFLICT (url_id, day) DO UPDATE SET clicks = clicks + 1;"
    " END;"
    "INSERT INTO link_clicks (url_id, clicks, last_click_at)"
    " SELECT url_id, count(*), max(timestamp) FROM events WHERE event_type = 'click'"
    " GROUP BY url_id;"
    "INSERT INTO link_clicks_daily (url_id, day, clicks)"
    " SELECT url_id, timestamp / 86400, count(*) FROM events WHERE event_type = 'click'"
    " GROUP BY url_id, timestamp / 86400;";

/* Version 3: API keys. Only the SHA-256 of a key is stored; `prefix` lets an
 * operator recognise a key in a listing. A user key goes with its user. */
static const char LNK_SQLITE_MIGRATION_3[] =
    "CREATE TABLE api_keys ("
    " id INTEGER PRIMARY KEY AUTOINCREMENT,"
    " name TEXT NOT NULL,"
    " key_hash TEXT NOT NULL UNIQUE,"
    " prefix TEXT NOT NULL,"
    " admin INTEGER NOT NULL,"
    " user_id INTEGER REFERENCES users(id) ON DELETE CASCADE,"
    " created_at INTEGER NOT NULL,"
    " revoked_at INTEGER);"
    "CREATE INDEX api_keys_active ON api_keys(revoked_at);";

/* Version 4: the click rollups are kept by the writer, not by a trigger. A
 * group commit of thousands of clicks then costs one upsert per link and per
 * link-day instead of two per click (measured: 12 -> 7 us of writer CPU per
 * click). Every path that adds click events updates them (store_sqlite.c,
 * "rollups"); the tables and their contents are unchanged. */
static const char LNK_SQLITE_MIGRATION_4[] = "DROP TRIGGER events_click_rollup;";

/* Version 5: events are indexed by (id >> 18, url_id) and (id >> 18, user_id),
 * so that the index entries of new events land in the bucket of the newest
 * 262,144 ids instead of anywhere in indexes as large as the table. A batch
 * of clicks then dirties at most that bucket's pages (measured with 5M
 * events: 26 -> 9 us of writer CPU per click, flat as the table grows).
 * - event_buckets lists every bucket that holds an event; a query by url or
 *   user probes each bucket, in order, so its rows come out ordered by id.
 *   The shift (18 here, 16 since version 7) is part of the index expressions
 *   and of every query that uses them (LNK_SQLITE_EVENTS_BY_URL and _BY_USER
 *   below). The "+b" makes SQLite read
 *   the bucket list first and seek each bucket; with a bare rowid column it
 *   scans the whole index and tests each entry's bucket instead.
 * - events_event_type leaves clicks out: most events are clicks, so a list
 *   of clicks reads the table in id order, and the index serves the rare
 *   types (a query must spell out "event_type <> 'click'" to use it).
 * - events loses its foreign keys: SQLite finds the children of a deleted
 *   parent through an index led by the child key, which these are not.
 *   Triggers delete the events of a deleted url or user instead, and every
 *   insert checks its url and user (store_sqlite.c). The table is rebuilt
 *   with its rows, ids and AUTOINCREMENT counter. */
static const char LNK_SQLITE_MIGRATION_5[] =
    "CREATE TABLE events_v5 ("
    " id INTEGER PRIMARY KEY AUTOINCREMENT,"
    " url_id INTEGER NOT NULL,"
    " user_id INTEGER,"
    " event_type TEXT NOT NULL,"
    " timestamp INTEGER NOT NULL,"
    " details TEXT NOT NULL DEFAULT '{}');"
    "INSERT INTO events_v5 (id, url_id, user_id, event_type, timestamp, details)"
    " SELECT id, url_id, user_id, event_type, timestamp, details FROM events ORDER BY id;"
    "UPDATE sqlite_sequence SET seq = (SELECT max(seq) FROM sqlite_sequence"
    " WHERE name IN ('events', 'events_v5')) WHERE name = 'events_v5';"
    "INSERT INTO sqlite_sequence (name, seq) SELECT 'events_v5', seq FROM sqlite_sequence"
    " WHERE name = 'events' AND NOT EXISTS"
    " (SELECT 1 FROM sqlite_sequence WHERE name = 'events_v5');"
    "DROP TABLE events;"
    "ALTER TABLE events_v5 RENAME TO events;"
    "CREATE INDEX events_url_id ON events(id >> 18, url_id);"
    "CREATE INDEX events_user_id ON events(id >> 18, user_id);"
    "CREATE INDEX events_event_type ON events(event_type) WHERE event_type <> 'click';"
    "CREATE TABLE event_buckets (b INTEGER PRIMARY KEY);"
    "INSERT INTO event_buckets (b) SELECT DISTINCT id >> 18 FROM events;"
    "CREATE TRIGGER events_bucket AFTER INSERT ON events BEGIN"
    " INSERT OR IGNORE INTO event_buckets (b) VALUES (new.id >> 18); END;"
    "CREATE TRIGGER urls_delete_events AFTER DELETE ON urls BEGIN"
    " DELETE FROM events WHERE id >> 18 IN (SELECT +b FROM event_buckets)"
    " AND url_id = old.id; END;"
    "CREATE TRIGGER users_delete_events AFTER DELETE ON users BEGIN"
    " DELETE FROM events WHERE id >> 18 IN (SELECT +b FROM event_buckets)"
    " AND user_id = old.id; END;";

/* Version 6: urls are indexed by (id >> 12, user_id) instead of user_id, so
 * that a create's index entry lands among the newest 4,096 urls' entries (a
 * few pages) instead of on its owner's page anywhere in an index as large as
 * the table: a group commit of creates by many owners dirtied one page per
 * owner, each written whole to the WAL (measured: +13 % durable creates at
 * 100 connections). A list by owner probes each bucket of url_buckets.
 * - urls loses its foreign key to users, which SQLite could cascade only
 *   through an index led by user_id: a trigger deletes a deleted user's
 *   urls, and every insert checks its user (store_sqlite.c). The table is
 *   rebuilt with its rows, ids and AUTOINCREMENT counter, and the triggers
 *   dropped with the old table are created again. It runs with foreign keys
 *   off, or dropping the old table would empty the click rollups that
 *   reference it (migrate() in store_sqlite.c). */
static const char LNK_SQLITE_MIGRATION_6[] =
    "CREATE TABLE urls_v6 ("
    " id INTEGER PRIMARY KEY AUTOINCREMENT,"
    " user_id INTEGER NOT NULL,"
    " short_code TEXT NOT NULL UNIQUE,"
    " original_url TEXT NOT NULL,"
    " title TEXT,"
    " is_active INTEGER NOT NULL,"
    " created_at INTEGER NOT NULL,"
    " updated_at INTEGER NOT NULL);"
    "INSERT INTO urls_v6 (id, user_id, short_code, original_url, title, is_active, created_at,"
    " updated_at) SELECT id, user_id, short_code, original_url, title, is_active, created_at,"
    " updated_at FROM urls ORDER BY id;"
    "UPDATE sqlite_sequence SET seq = (SELECT max(seq) FROM sqlite_sequence"
    " WHERE name IN ('urls', 'urls_v6')) WHERE name = 'urls_v6';"
    "INSERT INTO sqlite_sequence (name, seq) SELECT 'urls_v6', seq FROM sqlite_sequence"
    " WHERE name = 'urls' AND NOT EXISTS"
    " (SELECT 1 FROM sqlite_sequence WHERE name = 'urls_v6');"
    "DROP TABLE urls;"
    "ALTER TABLE urls_v6 RENAME TO urls;"
    "CREATE INDEX urls_user_id ON urls(id >> 12, user_id);"
    "CREATE TABLE url_buckets (b INTEGER PRIMARY KEY);"
    "INSERT INTO url_buckets (b) SELECT DISTINCT id >> 12 FROM urls;"
    "CREATE TRIGGER urls_bucket AFTER INSERT ON urls BEGIN"
    " INSERT OR IGNORE INTO url_buckets (b) VALUES (new.id >> 12); END;"
    "CREATE TRIGGER urls_retire_deleted AFTER DELETE ON urls BEGIN"
    " INSERT OR IGNORE INTO retired_codes (code) VALUES (old.short_code); END;"
    "CREATE TRIGGER urls_retire_recoded AFTER UPDATE OF short_code ON urls"
    " WHEN old.short_code IS NOT new.short_code BEGIN"
    " INSERT OR IGNORE INTO retired_codes (code) VALUES (old.short_code); END;"
    "CREATE TRIGGER urls_delete_events AFTER DELETE ON urls BEGIN"
    " DELETE FROM events WHERE id >> 18 IN (SELECT +b FROM event_buckets)"
    " AND url_id = old.id; END;"
    "CREATE TRIGGER users_delete_urls AFTER DELETE ON users BEGIN"
    " DELETE FROM urls WHERE id >> 12 IN (SELECT +b FROM url_buckets)"
    " AND user_id = old.id; END;";

/* Version 7: events buckets of 2^16 ids instead of 2^18 (ADR 0007). A batch
 * of clicks dirties the pages of the newest bucket's index entries, which
 * grow with the bucket: with a quarter of the bucket, a click row costs the
 * writer 1.8 us instead of 2.3 in batches of 12,288 and 1.9 instead of 3.2
 * in batches of 4,096 (bench/click-floor), for four times the probes per
 * list by url or user. The indexes, the bucket list and every trigger that
 * names a bucket are made again. */
static const char LNK_SQLITE_MIGRATION_7[] =
    "DROP INDEX events_url_id;"
    "DROP INDEX events_user_id;"
    "CREATE INDEX events_url_id ON events(id >> 16, url_id);"
    "CREATE INDEX events_user_id ON events(id >> 16, user_id);"
    "DELETE FROM event_buckets;"
    "INSERT INTO event_buckets (b) SELECT DISTINCT id >> 16 FROM events;"
    "DROP TRIGGER events_bucket;"
    "CREATE TRIGGER events_bucket AFTER INSERT ON events BEGIN"
    " INSERT OR IGNORE INTO event_buckets (b) VALUES (new.id >> 16); END;"
    "DROP TRIGGER urls_delete_events;"
    "CREATE TRIGGER urls_delete_events AFTER DELETE ON urls BEGIN"
    " DELETE FROM events WHERE id >> 16 IN (SELECT +b FROM event_buckets)"
    " AND url_id = old.id; END;"
    "DROP TRIGGER users_delete_events;"
    "CREATE TRIGGER users_delete_events AFTER DELETE ON users BEGIN"
    " DELETE FROM events WHERE id >> 16 IN (SELECT +b FROM event_buckets)"
    " AND user_id = old.id; END;";

/* Version 8: the bucket list is kept by the store, not by a trigger
 * (ADR 0019). The trigger ran a statement for every event row; the store
 * lists the buckets of a statement's ids once per statement (one for a
 * click batch of thousands of rows: bench/click-floor, 2.15 -> 1.87 us per
 * row). Every path that inserts events lists them (store_sqlite.c,
 * list_event_buckets); the list and its contents are unchanged. */
static const char LNK_SQLITE_MIGRATION_8[] = "DROP TRIGGER events_bucket;";

/* Version 9, for /api/v1 (ADR 0022):
 * - urls.opts: a url's options (expiry, password, rules...) as one JSON
 *   text, NULL for a plain link (docs/link-policy.md);
 * - link_slots: the clicks counted against a link's maximum;
 * - api_keys.scopes (NULL: all of its role) and expires_at (NULL: never);
 * - idempotency: the answers of POSTs sent with an Idempotency-Key, kept a
 *   day, per caller and key. */
static const char LNK_SQLITE_MIGRATION_9[] =
    "ALTER TABLE urls ADD COLUMN opts TEXT;"
    "CREATE TABLE link_slots ("
    " url_id INTEGER PRIMARY KEY REFERENCES urls(id) ON DELETE CASCADE,"
    " used INTEGER NOT NULL);"
    "ALTER TABLE api_keys ADD COLUMN scopes TEXT;"
    "ALTER TABLE api_keys ADD COLUMN expires_at INTEGER;"
    "CREATE TABLE idempotency ("
    " caller TEXT NOT NULL,"
    " idem_key TEXT NOT NULL,"
    " fingerprint TEXT NOT NULL,"
    " status INTEGER NOT NULL,"
    " body TEXT NOT NULL,"
    " created_at INTEGER NOT NULL,"
    " PRIMARY KEY (caller, idem_key));"
    "CREATE INDEX idempotency_age ON idempotency(created_at);";

/* Version 10: domains (ADR 0028). A url belongs to a domain (domain_id
 * NULL: the default one), and codes are unique per domain: the UNIQUE of
 * short_code was a column constraint, so urls is rebuilt as in version 6
 * (rows, ids, AUTOINCREMENT counter, indexes and triggers), with foreign
 * keys off. A retired code of a domain is kept as "<domain id>:<code>"
 * (a code never holds a ':'), of the default domain as the code alone. */
static const char LNK_SQLITE_MIGRATION_10[] =
    "CREATE TABLE domains ("
    " id INTEGER PRIMARY KEY AUTOINCREMENT,"
    " host TEXT NOT NULL UNIQUE,"
    " root_url TEXT,"
    " not_found_url TEXT,"
    " fallback_url TEXT,"
    " created_at INTEGER NOT NULL);"
    "DROP TRIGGER users_delete_urls;"
    "CREATE TABLE urls_v10 ("
    " id INTEGER PRIMARY KEY AUTOINCREMENT,"
    " user_id INTEGER NOT NULL,"
    " short_code TEXT NOT NULL,"
    " original_url TEXT NOT NULL,"
    " title TEXT,"
    " is_active INTEGER NOT NULL,"
    " created_at INTEGER NOT NULL,"
    " updated_at INTEGER NOT NULL,"
    " opts TEXT,"
    " domain_id INTEGER REFERENCES domains(id));"
    "INSERT INTO urls_v10 (id, user_id, short_code, original_url, title, is_active, created_at,"
    " updated_at, opts) SELECT id, user_id, short_code, original_url, title, is_active,"
    " created_at, updated_at, opts FROM urls ORDER BY id;"
    "UPDATE sqlite_sequence SET seq = (SELECT max(seq) FROM sqlite_sequence"
    " WHERE name IN ('urls', 'urls_v10')) WHERE name = 'urls_v10';"
    "INSERT INTO sqlite_sequence (name, seq) SELECT 'urls_v10', seq FROM sqlite_sequence"
    " WHERE name = 'urls' AND NOT EXISTS"
    " (SELECT 1 FROM sqlite_sequence WHERE name = 'urls_v10');"
    "DROP TABLE urls;"
    "ALTER TABLE urls_v10 RENAME TO urls;"
    "CREATE UNIQUE INDEX urls_domain_code ON urls(coalesce(domain_id, 0), short_code);"
    "CREATE INDEX urls_domain ON urls(domain_id) WHERE domain_id IS NOT NULL;"
    "CREATE INDEX urls_user_id ON urls(id >> 12, user_id);"
    "CREATE TRIGGER urls_bucket AFTER INSERT ON urls BEGIN"
    " INSERT OR IGNORE INTO url_buckets (b) VALUES (new.id >> 12); END;"
    "CREATE TRIGGER urls_retire_deleted AFTER DELETE ON urls BEGIN"
    " INSERT OR IGNORE INTO retired_codes (code) VALUES (CASE WHEN old.domain_id IS NULL"
    " THEN old.short_code ELSE old.domain_id || ':' || old.short_code END); END;"
    "CREATE TRIGGER urls_retire_recoded AFTER UPDATE OF short_code ON urls"
    " WHEN old.short_code IS NOT new.short_code BEGIN"
    " INSERT OR IGNORE INTO retired_codes (code) VALUES (CASE WHEN old.domain_id IS NULL"
    " THEN old.short_code ELSE old.domain_id || ':' || old.short_code END); END;"
    "CREATE TRIGGER urls_delete_events AFTER DELETE ON urls BEGIN"
    " DELETE FROM events WHERE id >> 16 IN (SELECT +b FROM event_buckets)"
    " AND url_id = old.id; END;"
    "CREATE TRIGGER users_delete_urls AFTER DELETE ON users BEGIN"
    " DELETE FROM urls WHERE id >> 12 IN (SELECT +b FROM url_buckets)"
    " AND user_id = old.id; END;";

static const char *const lnk_sqlite_migrations[] = {
    LNK_SQLITE_MIGRATION_1, LNK_SQLITE_MIGRATION_2,  LNK_SQLITE_MIGRATION_3, LNK_SQLITE_MIGRATION_4,
    LNK_SQLITE_MIGRATION_5, LNK_SQLITE_MIGRATION_6,  LNK_SQLITE_MIGRATION_7, LNK_SQLITE_MIGRATION_8,
    LNK_SQLITE_MIGRATION_9, LNK_SQLITE_MIGRATION_10,
};

#define LNK_SQLITE_N_MIGRATIONS (sizeof(lnk_sqlite_migrations) / sizeof(lnk_sqlite_migrations[0]))

#endif
