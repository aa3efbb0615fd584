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

static int create(struct lnk_store *s, const struct lnk_keys_cmd *cmd)
{
    char key[LNK_AUTH_KEY_LEN + 1], hash[LNK_AUTH_HASH_LEN + 1], prefix[LNK_AUTH_PREFIX_LEN + 1];
    int rc = lnk_auth_key_generate(key);
    if (rc != LNK_OK) {
        fprintf(stderr, "linkd keys create: no randomness available\n");
        return 1;
    }
    lnk_auth_key_hash(lnk_str_from_cstr(key), hash);
    memcpy(prefix, key, LNK_AUTH_PREFIX_LEN);
    prefix[LNK_AUTH_PREFIX_LEN] = '\0';
    struct lnk_op_key *op = LNK_OP_AS(lnk_store_op_new(LNK_OP_KEY_CREATE), key);
    op->in = (struct lnk_api_key){.name = cmd->name,
                                  .prefix = prefix,
                                  .admin = cmd->admin,
                                  .user_id = cmd->admin ? 0 : cmd->user_id};
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
    printf("%-6s %-20s %-14s %-10s %-20s %s\n", "id", "name", "prefix", "role", "created",
           "status");
    for (size_t i = 0; i < op->n_keys; i++) {
        const struct lnk_api_key *k = &op->keys[i];
        char created[LNK_TS_LEN + 1], role[32];
        lnk_ts_format(k->created_at, created);
        if (k->admin)
            snprintf(role, sizeof(role), "admin");
        else
            snprintf(role, sizeof(role), "user:%lld", (long long)k->user_id);
        printf("%-6lld %-20s %-14s %-10s %-20s %s\n", (long long)k->id, k->name, k->prefix, role,
               created, k->revoked_at ? "revoked" : "active");
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
