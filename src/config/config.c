/* SPDX-License-Identifier: MIT */
/* Settings from defaults, environment and flags, driven by LNK_CONFIG_DEFS. */
#include "linkd/config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "linkd/arena.h"
#include "linkd/err.h"
#include "linkd/str.h"

enum kind { K_STR, K_UINT, K_LEVEL, K_FORMAT, K_BOOL, K_SYNC, K_CIDRS };
#define K_OF_STR    K_STR
#define K_OF_UINT   K_UINT
#define K_OF_LEVEL  K_LEVEL
#define K_OF_FORMAT K_FORMAT
#define K_OF_BOOL   K_BOOL
#define K_OF_SYNC   K_SYNC
#define K_OF_CIDRS  K_CIDRS

struct def {
    enum kind kind;
    const char *env, *flag, *dflt, *help;
    unsigned long min, max;
    size_t offset;
};

static const struct def defs[] = {
#define LNK_CFG_DEF(field, type, env, flag, dflt, min, max, help)                                  \
    {K_OF_##type, env, flag, dflt, help, min, max, offsetof(struct lnk_config, field)},
    LNK_CONFIG_DEFS(LNK_CFG_DEF)
#undef LNK_CFG_DEF
};
#define N_DEFS (sizeof(defs) / sizeof(defs[0]))

static int parse_bool(const char *v, bool *out)
{
    struct lnk_str s = lnk_str_from_cstr(v);
    static const char *const yes[] = {"1", "on", "true", "yes"};
    static const char *const no[] = {"0", "off", "false", "no"};
    for (size_t i = 0; i < 4; i++) {
        if (lnk_str_eq_nocase(s, lnk_str_from_cstr(yes[i]))) {
            *out = true;
            return LNK_OK;
        }
        if (lnk_str_eq_nocase(s, lnk_str_from_cstr(no[i]))) {
            *out = false;
            return LNK_OK;
        }
    }
    return LNK_EINVAL;
}

static int set_value(struct lnk_config *cfg, const struct def *d, const char *v, const char *src,
                     char *err, size_t errcap)
{
    void *field = (char *)cfg + d->offset;
    long long n;
    switch (d->kind) {
    case K_STR:
        free(*(char **)field);
        *(char **)field = lnk_xstrndup(v, strlen(v));
        return LNK_OK;
    case K_UINT:
        if (lnk_str_to_i64(lnk_str_from_cstr(v), &n) != LNK_OK || n < (long long)d->min ||
            n > (long long)d->max) {
            snprintf(err, errcap, "%s: '%s' is not a whole number from %lu to %lu", src, v, d->min,
                     d->max);
            return LNK_EINVAL;
        }
        *(unsigned *)field = (unsigned)n;
        return LNK_OK;
    case K_LEVEL:
        if (lnk_log_parse_level(v, (enum lnk_log_level *)field) != LNK_OK) {
            snprintf(err, errcap, "%s: '%s' is not one of debug, info, warn, error", src, v);
            return LNK_EINVAL;
        }
        return LNK_OK;
    case K_FORMAT:
        if (lnk_log_parse_format(v, (enum lnk_log_format *)field) != LNK_OK) {
            snprintf(err, errcap, "%s: '%s' is not json or text", src, v);
            return LNK_EINVAL;
        }
        return LNK_OK;
    case K_BOOL:
        if (parse_bool(v, (bool *)field) != LNK_OK) {
            snprintf(err, errcap, "%s: '%s' is not on or off", src, v);
            return LNK_EINVAL;
        }
        return LNK_OK;
    case K_CIDRS: {
        char why[128];
        if (lnk_cidr_list_parse(v, (struct lnk_cidr_list *)field, why, sizeof(why)) != LNK_OK) {
            snprintf(err, errcap, "%s: %s", src, why);
            return LNK_EINVAL;
        }
        return LNK_OK;
    }
    case K_SYNC:
        if (strcmp(v, "full") != 0 && strcmp(v, "off") != 0) {
            snprintf(err, errcap, "%s: '%s' is not full or off", src, v);
            return LNK_EINVAL;
        }
        *(bool *)field = strcmp(v, "full") == 0;
        return LNK_OK;
    }
    return LNK_EINVAL;
}

static const struct def *find_flag(const char *name, size_t len)
{
    for (size_t i = 0; i < N_DEFS; i++)
        if (strlen(defs[i].flag) == len && memcmp(defs[i].flag, name, len) == 0)
            return &defs[i];
    return NULL;
}

static int parse_listen(struct lnk_config *cfg, char *err, size_t errcap)
{
    const char *colon = strrchr(cfg->listen, ':');
    long long port;
    if (!colon || (size_t)(colon - cfg->listen) >= sizeof(cfg->listen_host) ||
        lnk_str_to_i64(lnk_str_from_cstr(colon + 1), &port) != LNK_OK || port < 0 || port > 65535) {
        snprintf(err, errcap, "listen: '%s' is not host:port", cfg->listen);
        return LNK_EINVAL;
    }
    size_t hl = (size_t)(colon - cfg->listen);
    memcpy(cfg->listen_host, cfg->listen, hl);
    cfg->listen_host[hl] = '\0';
    if (hl == 0)
        snprintf(cfg->listen_host, sizeof(cfg->listen_host), "0.0.0.0");
    cfg->listen_port = (uint16_t)port;
    return LNK_OK;
}

/* LINKD_PUBLIC_URL: empty, or an http(s) base with a host and no query or
 * fragment; its trailing '/'s are dropped so that a code can follow one. */
static int parse_public_url(struct lnk_config *cfg, char *err, size_t errcap)
{
    char *u = cfg->public_url;
    size_t len = strlen(u);
    if (len == 0)
        return LNK_OK;
    size_t scheme = strncmp(u, "https://", 8) == 0 ? 8 : strncmp(u, "http://", 7) == 0 ? 7 : 0;
    bool ok = scheme && len > scheme && u[scheme] != '/';
    for (size_t i = 0; ok && i < len; i++)
        ok = (unsigned char)u[i] > ' ' && u[i] != 0x7f && u[i] != '?' && u[i] != '#' &&
             u[i] != '"' && u[i] != '\\';
    if (!ok) {
        snprintf(err, errcap, "public-url: '%s' is not an http(s) URL such as https://sho.rt", u);
        return LNK_EINVAL;
    }
    while (len > scheme && u[len - 1] == '/')
        u[--len] = '\0';
    return LNK_OK;
}

static int load_args(struct lnk_config *cfg, int argc, char **argv, int first, bool *help,
                     const char **positional, char *err, size_t errcap)
{
    for (int i = first; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            *help = true;
            continue;
        }
        if (strncmp(a, "--", 2) != 0) {
            if (positional && !*positional && a[0] != '-') {
                *positional = a;
                continue;
            }
            snprintf(err, errcap, "unexpected argument '%s'", a);
            return LNK_EINVAL;
        }
        const char *name = a + 2, *eq = strchr(name, '=');
        size_t nl = eq ? (size_t)(eq - name) : strlen(name);
        const struct def *d = find_flag(name, nl);
        if (!d) {
            snprintf(err, errcap, "unknown flag '--%.*s' (see --help)", (int)nl, name);
            return LNK_EINVAL;
        }
        const char *v = eq ? eq + 1 : (i + 1 < argc ? argv[++i] : NULL);
        if (!v) {
            snprintf(err, errcap, "--%s needs a value", d->flag);
            return LNK_EINVAL;
        }
        char src[64];
        snprintf(src, sizeof(src), "--%s", d->flag);
        int rc = set_value(cfg, d, v, src, err, errcap);
        if (rc != LNK_OK)
            return rc;
    }
    return LNK_OK;
}

int lnk_config_load(struct lnk_config *cfg, int argc, char **argv, int first, bool *help,
                    const char **positional, char *err, size_t errcap)
{
    if (positional)
        *positional = NULL;
    memset(cfg, 0, sizeof(*cfg));
    *help = false;
    for (size_t i = 0; i < N_DEFS; i++) {
        int rc = set_value(cfg, &defs[i], defs[i].dflt, defs[i].flag, err, errcap);
        if (rc != LNK_OK)
            return rc;
    }
    for (size_t i = 0; i < N_DEFS; i++) {
        const char *v = getenv(defs[i].env);
        if (v && *v) {
            int rc = set_value(cfg, &defs[i], v, defs[i].env, err, errcap);
            if (rc != LNK_OK)
                return rc;
        }
    }
    int rc = load_args(cfg, argc, argv, first, help, positional, err, errcap);
    if (rc != LNK_OK)
        return rc;
    if (cfg->workers == 0) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        cfg->workers = n > 0 ? (unsigned)(n < 256 ? n : 256) : 1;
    }
    rc = parse_listen(cfg, err, errcap);
    if (rc == LNK_OK)
        rc = parse_public_url(cfg, err, errcap);
    return rc;
}

void lnk_config_cleanup(struct lnk_config *cfg)
{
    free(cfg->listen);
    free(cfg->database_url);
    free(cfg->seed_dir);
    free(cfg->public_url);
    free(cfg->redis_url);
    free(cfg->geoip_db);
    memset(cfg, 0, sizeof(*cfg));
}

void lnk_config_print_help(void *file)
{
    FILE *f = file;
    for (size_t i = 0; i < N_DEFS; i++)
        fprintf(f, "  --%-16s %-22s %s (default: %s)\n", defs[i].flag, defs[i].env, defs[i].help,
                *defs[i].dflt ? defs[i].dflt : "none");
}

/* What a setting of kind d accepts, for the reference. */
static void print_values(FILE *f, const struct def *d)
{
    switch (d->kind) {
    case K_STR:
        fputs("text", f);
        return;
    case K_UINT:
        fprintf(f, "%lu to %lu", d->min, d->max);
        return;
    case K_LEVEL:
        fputs("`debug`, `info`, `warn`, `error`", f);
        return;
    case K_FORMAT:
        fputs("`json`, `text`", f);
        return;
    case K_BOOL:
        fputs("`on`, `off`", f);
        return;
    case K_SYNC:
        fputs("`full`, `off`", f);
        return;
    case K_CIDRS:
        fputs("addresses or CIDRs, comma-separated", f);
        return;
    }
}

/* s in a Markdown table cell: '|' would end the cell. */
static void print_cell(FILE *f, const char *s)
{
    for (; *s; s++) {
        if (*s == '|')
            fputc('\\', f);
        fputc(*s, f);
    }
}

void lnk_config_print_markdown(void *file)
{
    FILE *f = file;
    fputs("# Configuration reference\n\n"
          "<!-- Generated by `linkd config --markdown` from include/linkd/config.h. Do not edit: "
          "change the table there and run `linkd config --markdown > docs/configuration.md`; "
          "the test check.config_doc fails while this file differs. -->\n\n"
          "Every setting is an environment variable with a matching flag of `linkd serve`, "
          "`import`, `copy` and `keys`; the flag wins over the variable, the variable over the "
          "default. A bad value is a one-line error and exit code 2. The same list is printed "
          "by `linkd --help`.\n\n"
          "| environment | flag | default | values | meaning |\n"
          "|---|---|---|---|---|\n",
          f);
    for (size_t i = 0; i < N_DEFS; i++) {
        const struct def *d = &defs[i];
        fprintf(f, "| `%s` | `--%s` | ", d->env, d->flag);
        if (*d->dflt)
            fprintf(f, "`%s`", d->dflt);
        else
            fputs("none", f);
        fputs(" | ", f);
        print_values(f, d);
        fputs(" | ", f);
        print_cell(f, d->help);
        fputs(" |\n", f);
    }
}
