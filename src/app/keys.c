/* SPDX-License-Identifier: MIT */
/* `linkd keys`: create (the key is printed once, only its hash is stored),
 * list, revoke. Talks to the store like any client, so it works against a
 * database that a running server uses. */
#include <stdio.h>
#include <string.h>

#include "linkd/app.h"
#include "linkd/auth.h"
#include "linkd/err.h"
#include "linkd/store.h"
#include "linkd/timefmt.h"
#include "linkd/url.h"

static int open_store(const struct lnk_config *cfg, struct lnk_store **s)
{
    char err[256] = "";
    struct lnk_store_config sc = {cfg->database_url, cfg->synchronous ? 1 : 0, 0};
    int rc = lnk_store_open(&sc, s, err, sizeof(err));
    if (rc != LNK_OK) {
        char shown[1024];
        lnk_url_redact(cfg->database_url, shown, sizeof(shown));
        fprintf(stderr, "linkd keys: cannot open %s: %s\n", shown, err);
    }
    return rc;
}

/* --expires: an RFC 3339 UTC time, or a lifetime from now ("90d", "12h",
 * "30m"). LNK_EINVAL otherwise, or for a time already past. */
static int parse_expiry(const char *text, int64_t now, int64_t *out)
{
    size_t n = strlen(text);
    long long v;
    if (n >= 2 && strchr("dhm", text[n - 1]) &&
        lnk_str_to_i64(lnk_str_make(text, n - 1), &v) == LNK_OK && v > 0 && v <= 36500LL * 24) {
        int64_t unit = text[n - 1] == 'd' ? 86400 : text[n - 1] == 'h' ? 3600 : 60;
        *out = now + (int64_t)v * unit;
        return LNK_OK;
    }
    if (lnk_ts_parse(text, n, out) != LNK_OK || *out <= now)
        return LNK_EINVAL;
    return LNK_OK;
}

/* The flags of a new key beyond its role: scopes in canonical form into
 * buf, the expiry. False (message printed) when they are wrong. */
static bool read_limits(const struct lnk_keys_cmd *cmd, char scopes[LNK_SCOPES_TEXT_MAX],
                        int64_t *expires_at)
{
    unsigned bits = 0;
    if (cmd->scopes && lnk_auth_scopes_parse(lnk_str_from_cstr(cmd->scopes), &bits) != LNK_OK) {
        fprintf(stderr, "linkd keys create: --scopes takes a comma-separated list of "
                        "links:read, links:write, analytics:read, admin\n");
        return false;
    }
    if (lnk_auth_scopes_check(bits, cmd->admin) != LNK_OK) {
        fprintf(stderr, "linkd keys create: the admin scope needs an admin key (--admin)\n");
        return false;
    }
    lnk_auth_scopes_format(bits, scopes);
    *expires_at = 0;
    if (cmd->expires && parse_expiry(cmd->expires, lnk_ts_now(), expires_at) != LNK_OK) {
        fprintf(stderr, "linkd keys create: --expires takes a future RFC 3339 UTC time "
                        "(2027-01-01T00:00:00Z) or a lifetime (90d, 12h, 30m)\n");
        return false;
    }
    return true;
}

static int create(struct lnk_store *s, const struct lnk_keys_cmd *cmd)
{
    char key[LNK_AUTH_KEY_LEN + 1], hash[LNK_AUTH_HASH_LEN + 1], prefix[LNK_AUTH_PREFIX_LEN + 1];
    char scopes[LNK_SCOPES_TEXT_MAX];
    int64_t expires_at;
    if (!read_limits(cmd, scopes, &expires_at))
        return 1;
    int rc = lnk_auth_key_new(key, hash, prefix);
    if (rc != LNK_OK) {
        fprintf(stderr, "linkd keys create: no randomness available\n");
        return 1;
    }
    struct lnk_op_key *op = LNK_OP_AS(lnk_store_op_new(LNK_OP_KEY_CREATE), key);
    op->in = (struct lnk_api_key){.name = cmd->name,
                                  .prefix = prefix,
                                  .admin = cmd->admin,
                                  .user_id = cmd->admin ? 0 : cmd->user_id,
                                  .scopes = cmd->scopes ? scopes : NULL,
                                  .expires_at = expires_at};
    op->key_hash = hash;
    rc = lnk_store_run(s, &op->op);
    if (rc == LNK_ENOTFOUND)
        fprintf(stderr, "linkd keys create: user %lld not found\n", (long long)cmd->user_id);
    else if (rc != LNK_OK)
        fprintf(stderr, "linkd keys create: %s\n", lnk_strerror(rc));
    else
        printf("%s\n# key %lld (%s, %s): shown once, store it now; send it as "
               "'Authorization: Bearer <key>'\n",
               key, (long long)op->out.id, op->out.name, cmd->admin ? "admin" : "user key");
    lnk_store_op_free(&op->op);
    return rc == LNK_OK ? 0 : 1;
}

static int list(struct lnk_store *s)
{
    struct lnk_op_key *op = LNK_OP_AS(lnk_store_op_new(LNK_OP_KEY_LIST), key);
    int rc = lnk_store_run(s, &op->op);
    if (rc != LNK_OK) {
        fprintf(stderr, "linkd keys list: %s\n", lnk_strerror(rc));
        lnk_store_op_free(&op->op);
        return 1;
    }
    printf("%-6s %-20s %-14s %-10s %-20s %-8s %-20s %s\n", "id", "name", "prefix", "role",
           "created", "status", "expires", "scopes");
    int64_t now = lnk_ts_now();
    for (size_t i = 0; i < op->n_keys; i++) {
        const struct lnk_api_key *k = &op->keys[i];
        char created[LNK_TS_LEN + 1], expires[LNK_TS_LEN + 1], role[32];
        lnk_ts_format(k->created_at, created);
        if (k->expires_at)
            lnk_ts_format(k->expires_at, expires);
        else
            snprintf(expires, sizeof(expires), "never");
        if (k->admin)
            snprintf(role, sizeof(role), "admin");
        else
            snprintf(role, sizeof(role), "user:%lld", (long long)k->user_id);
        const char *status = k->revoked_at                           ? "revoked"
                             : k->expires_at && k->expires_at <= now ? "expired"
                                                                     : "active";
        printf("%-6lld %-20s %-14s %-10s %-20s %-8s %-20s %s\n", (long long)k->id, k->name,
               k->prefix, role, created, status, expires, k->scopes ? k->scopes : "all");
    }
    lnk_store_op_free(&op->op);
    return 0;
}

static int revoke(struct lnk_store *s, int64_t id)
{
    struct lnk_op_key *op = LNK_OP_AS(lnk_store_op_new(LNK_OP_KEY_REVOKE), key);
    op->id = id;
    int rc = lnk_store_run(s, &op->op);
    if (rc == LNK_ENOTFOUND)
        fprintf(stderr, "linkd keys revoke: key %lld not found\n", (long long)id);
    else if (rc != LNK_OK)
        fprintf(stderr, "linkd keys revoke: %s\n", lnk_strerror(rc));
    else
        printf("key %lld revoked\n", (long long)id);
    lnk_store_op_free(&op->op);
    return rc == LNK_OK ? 0 : 1;
}

int lnk_app_keys(const struct lnk_config *cfg, const struct lnk_keys_cmd *cmd)
{
    struct lnk_store *s = NULL;
    if (open_store(cfg, &s) != LNK_OK)
        return 1;
    int code = cmd->action == LNK_KEYS_CREATE ? create(s, cmd)
               : cmd->action == LNK_KEYS_LIST ? list(s)
                                              : revoke(s, cmd->id);
    lnk_store_close(s);
    return code;
}
