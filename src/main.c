/* SPDX-License-Identifier: MIT */
/* argv -> config -> lnk_app_*(); nothing else. */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "linkd/app.h"
#include "linkd/config.h"

#define LNK_VERSION "0.1.0"

static void usage(FILE *f)
{
    fprintf(f,
            "linkd %s: a URL shortener in one binary\n\n"
            "usage:\n"
            "  linkd serve [flags]         serve the API and redirects\n"
            "  linkd import DIR [flags]    load users.csv, urls.csv, events.csv from DIR\n"
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

/* Loads the settings from argv[2..] and runs `serve`, or `import DIR` (the
 * one positional argument, anywhere among the flags). */
static int run(const char *cmd, int argc, char **argv)
{
    struct lnk_config cfg;
    bool help = false, import = strcmp(cmd, "import") == 0;
    const char *dir = NULL;
    char err[256] = "";
    int code;
    if (lnk_config_load(&cfg, argc, argv, 2, &help, import ? &dir : NULL, err, sizeof(err)) != 0) {
        fprintf(stderr, "linkd %s: %s\n", cmd, err);
        code = 2;
    } else if (help) {
        usage(stdout);
        code = 0;
    } else if (import && !dir) {
        fprintf(stderr, "linkd import: missing directory (usage: linkd import DIR)\n");
        code = 2;
    } else {
        code = import ? lnk_app_import(&cfg, dir) : lnk_app_serve(&cfg);
    }
    lnk_config_cleanup(&cfg);
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
    if (strcmp(argv[1], "serve") == 0 || strcmp(argv[1], "import") == 0)
        return run(argv[1], argc, argv);
    fprintf(stderr, "linkd: unknown command '%s' (see linkd --help)\n", argv[1]);
    return 2;
}
