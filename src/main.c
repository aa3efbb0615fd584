/* SPDX-License-Identifier: MIT */
/* argv -> config -> lnk_app_*(); nothing else. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "linkd/app.h"
#include "linkd/config.h"
#include "linkd/model.h"
#include "linkd/str.h"

#ifndef LNK_VERSION /* CMake defines it from the project version */
#define LNK_VERSION "unknown"
#endif

static void usage(FILE *f)
{
    fprintf(f,
            "linkd %s: a URL shortener in one binary\n\n"
            "usage:\n"
            "  linkd serve [flags]         serve the API and redirects\n"
            "  linkd import DIR [flags]    load users.csv, urls.csv, events.csv from DIR\n"
            "  linkd copy TO_URL [flags]   copy the whole database into TO_URL (postgres://...)\n"
            "  linkd keys create --name NAME (--admin | --user ID) [--scopes LIST]\n"
            "                    [--expires RFC3339|90d|12h|30m]\n"
            "  linkd keys list | revoke ID API keys (docs/security.md#api-keys)\n"
            "  linkd config --markdown     print the settings as docs/configuration.md\n"
            "  linkd version               print the version\n"
            "  linkd <command> --help      settings of a command\n\n"
            "settings (flag, environment variable, meaning):\n",
            LNK_VERSION);
    lnk_config_print_help(f);
}

static bool is_help(const char *a)
{
    return strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0 || strcmp(a, "help") == 0;
}

/* Loads the settings from argv[2..] and runs `serve`, `import DIR` or
 * `copy TO_URL` (the one positional argument, anywhere among the flags). */
static int run(const char *cmd, int argc, char **argv)
{
    struct lnk_config cfg;
    bool help = false, import = strcmp(cmd, "import") == 0, copy = strcmp(cmd, "copy") == 0;
    const char *arg = NULL;
    char err[256] = "";
    int code;
    if (lnk_config_load(&cfg, argc, argv, 2, &help, import || copy ? &arg : NULL, err,
                        sizeof(err)) != 0) {
        fprintf(stderr, "linkd %s: %s\n", cmd, err);
        code = 2;
    } else if (help) {
        usage(stdout);
        code = 0;
    } else if (import && !arg) {
        fprintf(stderr, "linkd import: missing directory (usage: linkd import DIR)\n");
        code = 2;
    } else if (copy && !arg) {
        fprintf(stderr, "linkd copy: missing target (usage: linkd copy TO_URL)\n");
        code = 2;
    } else {
        code = import ? lnk_app_import(&cfg, arg)
               : copy ? lnk_app_copy(&cfg, arg)
                      : lnk_app_serve(&cfg);
    }
    lnk_config_cleanup(&cfg);
    return code;
}

/* Takes the keys-specific flags out of argv[3..] into cmd and leaves the
 * rest (settings, the revoke id) in rest. False (message printed) on misuse. */
static bool parse_keys_flags(int argc, char **argv, struct lnk_keys_cmd *cmd, char **rest,
                             int *n_rest)
{
    bool user_given = false;
    *n_rest = 0;
    for (int i = 3; i < argc; i++) {
        long long v;
        if (strcmp(argv[i], "--admin") == 0) {
            cmd->admin = true;
        } else if (strcmp(argv[i], "--name") == 0 && i + 1 < argc) {
            cmd->name = argv[++i];
        } else if (strcmp(argv[i], "--user") == 0 && i + 1 < argc) {
            if (lnk_str_to_i64(lnk_str_from_cstr(argv[++i]), &v) != 0 || v <= 0 || v > LNK_ID_MAX) {
                fprintf(stderr, "linkd keys: --user needs a user id\n");
                return false;
            }
            cmd->user_id = v;
            user_given = true;
        } else if (strcmp(argv[i], "--scopes") == 0 && i + 1 < argc) {
            cmd->scopes = argv[++i];
        } else if (strcmp(argv[i], "--expires") == 0 && i + 1 < argc) {
            cmd->expires = argv[++i];
        } else {
            rest[(*n_rest)++] = argv[i];
        }
    }
    if (cmd->action == LNK_KEYS_CREATE && (!cmd->name || !*cmd->name || cmd->admin == user_given)) {
        fprintf(stderr, "linkd keys create: needs --name NAME and one of --admin or --user ID\n");
        return false;
    }
    return true;
}

static int run_keys(int argc, char **argv)
{
    struct lnk_keys_cmd cmd = {0};
    const char *what = argc > 2 ? argv[2] : "";
    if (is_help(what)) {
        usage(stdout);
        return 0;
    }
    if (strcmp(what, "create") == 0)
        cmd.action = LNK_KEYS_CREATE;
    else if (strcmp(what, "list") == 0)
        cmd.action = LNK_KEYS_LIST;
    else if (strcmp(what, "revoke") == 0)
        cmd.action = LNK_KEYS_REVOKE;
    else {
        fprintf(stderr, "linkd keys: expected create, list or revoke (see linkd --help)\n");
        return 2;
    }
    char **rest = calloc((size_t)argc + 1, sizeof(*rest));
    int n_rest = 0, code = 2;
    struct lnk_config cfg;
    bool help = false;
    const char *id = NULL;
    char err[256] = "";
    long long v;
    if (!rest || !parse_keys_flags(argc, argv, &cmd, rest, &n_rest))
        goto out;
    if (lnk_config_load(&cfg, n_rest, rest, 0, &help, cmd.action == LNK_KEYS_REVOKE ? &id : NULL,
                        err, sizeof(err)) != 0) {
        fprintf(stderr, "linkd keys: %s\n", err);
    } else if (help) {
        usage(stdout);
        code = 0;
    } else if (cmd.action == LNK_KEYS_REVOKE &&
               (!id || lnk_str_to_i64(lnk_str_from_cstr(id), &v) != 0 || v <= 0 ||
                v > LNK_ID_MAX)) {
        fprintf(stderr, "linkd keys revoke: needs a key id (see linkd keys list)\n");
    } else {
        cmd.id = cmd.action == LNK_KEYS_REVOKE ? v : 0;
        code = lnk_app_keys(&cfg, &cmd);
    }
    lnk_config_cleanup(&cfg);
out:
    free(rest);
    return code;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (is_help(argv[1])) {
        usage(stdout);
        return 0;
    }
    if (strcmp(argv[1], "version") == 0 || strcmp(argv[1], "--version") == 0) {
        printf("linkd %s\n", LNK_VERSION);
        return 0;
    }
    if (strcmp(argv[1], "serve") == 0 || strcmp(argv[1], "import") == 0 ||
        strcmp(argv[1], "copy") == 0)
        return run(argv[1], argc, argv);
    if (strcmp(argv[1], "keys") == 0)
        return run_keys(argc, argv);
    if (strcmp(argv[1], "config") == 0) {
        if (argc == 3 && strcmp(argv[2], "--markdown") == 0) {
            lnk_config_print_markdown(stdout);
            return 0;
        }
        fprintf(stderr, "linkd config: usage: linkd config --markdown\n");
        return 2;
    }
    fprintf(stderr, "linkd: unknown command '%s' (see linkd --help)\n", argv[1]);
    return 2;
}
