/* SPDX-License-Identifier: MIT */
/* The PostgreSQL schema as an ordered list of migrations compiled into the
 * binary. Migration i moves linkd_schema.version from i to i + 1; a released
 * entry is never edited, only appended to. They run under an advisory lock,
 * so nodes starting together migrate once (store_pg.c). The semantics match
 * the SQLite schema (migrations.h): ids never reused, timestamps as UTC epoch
 * seconds, a deleted url's code retired, the rows of a deleted user or url
 * deleted with it, click rollups per url and per url-day. Included by
 * store_pg.c only. */
#ifndef LNK_STORE_PG_SCHEMA_H
#define LNK_STORE_PG_SCHEMA_H

#include <stddef.h>

/* Version 1. Foreign keys cascade deletes (a user takes its urls, their
 * events and rollups, and its keys); indexes lead with the owner or url
 * then id, so a list by owner or url reads in id order without a sort.
 * code_seq hands out blocks of LNK_CODE_BLOCK sequence numbers: nextval is
 * atomic across nodes and never rolled back. */
static const char LNK_PG_MIGRATION_1[] =
    "CREATE TABLE users ("
    " id bigserial PRIMARY KEY,"
    " username text NOT NULL UNIQUE,"
    " email text NOT NULL UNIQUE,"
    " created_at bigint NOT NULL);"
    "CREATE TABLE urls ("
    " id bigserial PRIMARY KEY,"
    " user_id bigint NOT NULL REFERENCES users(id) ON DELETE CASCADE,"
    " short_code text NOT NULL UNIQUE,"
    " original_url text NOT NULL,"
    " title text,"
    " is_active boolean NOT NULL,"
    " created_at bigint NOT NULL,"
    " updated_at bigint NOT NULL);"
    "CREATE INDEX urls_user ON urls (user_id, id);"
    "CREATE INDEX urls_user_dest ON urls (user_id, md5(original_url));"
    "CREATE TABLE events ("
    " id bigserial PRIMARY KEY,"
    " url_id bigint NOT NULL REFERENCES urls(id) ON DELETE CASCADE,"
    " user_id bigint REFERENCES users(id) ON DELETE CASCADE,"
    " event_type text NOT NULL,"
    " timestamp bigint NOT NULL,"
    " details text NOT NULL DEFAULT '{}');"
    "CREATE INDEX events_url ON events (url_id, id);"
    "CREATE INDEX events_user ON events (user_id, id);"
    "CREATE INDEX events_rare_type ON events (event_type, id) WHERE event_type <> 'click';"
    "CREATE TABLE link_clicks ("
    " url_id bigint PRIMARY KEY REFERENCES urls(id) ON DELETE CASCADE,"
    " clicks bigint NOT NULL,"
    " last_click_at bigint NOT NULL);"
    "CREATE TABLE link_clicks_daily ("
    " url_id bigint NOT NULL REFERENCES urls(id) ON DELETE CASCADE,"
    " day bigint NOT NULL,"
    " clicks bigint NOT NULL,"
    " PRIMARY KEY (url_id, day));"
    "CREATE TABLE api_keys ("
    " id bigserial PRIMARY KEY,"
    " name text NOT NULL,"
    " key_hash text NOT NULL UNIQUE,"
    " prefix text NOT NULL,"
    " admin boolean NOT NULL,"
    " user_id bigint REFERENCES users(id) ON DELETE CASCADE,"
    " created_at bigint NOT NULL,"
    " revoked_at bigint);"
    "CREATE INDEX api_keys_active ON api_keys (revoked_at);"
    "CREATE TABLE retired_codes (code text PRIMARY KEY);"
    "CREATE TABLE meta (key text PRIMARY KEY, value bytea);"
    "CREATE SEQUENCE code_seq INCREMENT BY 1024 MINVALUE 0 START WITH 0;"
    "CREATE FUNCTION linkd_retire_code() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN"
    " INSERT INTO retired_codes (code) VALUES (OLD.short_code) ON CONFLICT DO NOTHING;"
    " RETURN NULL; END $$;"
    "CREATE TRIGGER urls_retire_deleted AFTER DELETE ON urls"
    " FOR EACH ROW EXECUTE FUNCTION linkd_retire_code();"
    "CREATE TRIGGER urls_retire_recoded AFTER UPDATE OF short_code ON urls"
    " FOR EACH ROW WHEN (OLD.short_code IS DISTINCT FROM NEW.short_code)"
    " EXECUTE FUNCTION linkd_retire_code();";

/* Version 2, for /api/v1 (ADR 0022), as SQLite's version 9: a url's
 * options, click slots, key scopes and expiry, idempotent answers. */
static const char LNK_PG_MIGRATION_2[] =
    "ALTER TABLE urls ADD COLUMN opts text;"
    "CREATE TABLE link_slots ("
    " url_id bigint PRIMARY KEY REFERENCES urls(id) ON DELETE CASCADE,"
    " used bigint NOT NULL);"
    "ALTER TABLE api_keys ADD COLUMN scopes text;"
    "ALTER TABLE api_keys ADD COLUMN expires_at bigint;"
    "CREATE TABLE idempotency ("
    " caller text NOT NULL,"
    " idem_key text NOT NULL,"
    " fingerprint text NOT NULL,"
    " status integer NOT NULL,"
    " body text NOT NULL,"
    " created_at bigint NOT NULL,"
    " PRIMARY KEY (caller, idem_key));"
    "CREATE INDEX idempotency_age ON idempotency (created_at);";

/* Version 3: domains (ADR 0028), as SQLite's version 10. A url belongs to
 * a domain (domain_id NULL: the default one) and codes are unique per
 * domain; a retired code of a domain is kept as "<domain id>:<code>". */
static const char LNK_PG_MIGRATION_3[] =
    "CREATE TABLE domains ("
    " id bigserial PRIMARY KEY,"
    " host text NOT NULL UNIQUE,"
    " root_url text,"
    " not_found_url text,"
    " fallback_url text,"
    " created_at bigint NOT NULL);"
    "ALTER TABLE urls ADD COLUMN domain_id bigint REFERENCES domains(id);"
    "ALTER TABLE urls DROP CONSTRAINT urls_short_code_key;"
    "CREATE UNIQUE INDEX urls_domain_code ON urls ((coalesce(domain_id, 0)), short_code);"
    "CREATE INDEX urls_domain ON urls (domain_id) WHERE domain_id IS NOT NULL;"
    "CREATE OR REPLACE FUNCTION linkd_retire_code() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN"
    " INSERT INTO retired_codes (code) VALUES (CASE WHEN OLD.domain_id IS NULL"
    " THEN OLD.short_code ELSE OLD.domain_id::text || ':' || OLD.short_code END)"
    " ON CONFLICT DO NOTHING;"
    " RETURN NULL; END $$;";

static const char *const lnk_pg_migrations[] = {LNK_PG_MIGRATION_1, LNK_PG_MIGRATION_2,
                                                LNK_PG_MIGRATION_3};

#define LNK_PG_N_MIGRATIONS (sizeof(lnk_pg_migrations) / sizeof(lnk_pg_migrations[0]))

#endif
