/* SPDX-License-Identifier: MIT */
/* `linkd copy TO_URL`: copies the database the settings name (the source)
 * into TO_URL (the target): domains, users, urls (each on its domain), the
 * clicks counted against links' maximums, events, API keys and retired
 * codes, ids kept. It is how one SQLite node
 * grows into several nodes on PostgreSQL (docs/deploy.md, ADR 0013). The
 * source is read in chunks through streamed lists, the next chunk read
 * while the one before is written; the target is written through the
 * import ops, so that its own rules hold: sequences move past the copied
 * ids, click rollups come out exact, every row is an upsert by id (a
 * second run changes nothing). It ends by comparing the counts of both.
 * Runs on the main thread; the source's reader threads fill the chunks. */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "linkd/app.h"
#include "linkd/err.h"
#include "linkd/log.h"
#include "linkd/store.h"
#include "linkd/url.h"

/* Rows per chunk read from the source and per import op on the target: as
 * many as `linkd import` writes per op. */
#define COPY_CHUNK_ROWS 5000
#define SHOWN_BYTES     1024

/* The tables copied in chunks, in the order their references need. */
struct table {
    const char *name;
    enum lnk_op_kind list, import;
};

static const struct table USERS = {"users", LNK_OP_USER_LIST, LNK_OP_USER_IMPORT};
static const struct table URLS = {"urls", LNK_OP_URL_LIST, LNK_OP_URL_IMPORT};
static const struct table EVENTS = {"events", LNK_OP_EVENT_LIST, LNK_OP_EVENT_IMPORT};
static const struct table CODES = {"retired codes", LNK_OP_RETIRED_LIST, LNK_OP_RETIRED_IMPORT};

struct copy {
    struct lnk_store *src, *dst;
    char src_shown[SHOWN_BYTES], dst_shown[SHOWN_BYTES]; /* URLs without passwords */
    bool tty;                                            /* progress on stderr */
    bool mid_line;                                       /* a progress line is not ended */
};

static void fail(struct copy *cp, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* One line on stderr, "linkd copy: " first, after any progress line. */
static void fail(struct copy *cp, const char *fmt, ...)
{
    va_list ap;
    if (cp->mid_line)
        fputc('\n', stderr);
    cp->mid_line = false;
    fputs("linkd copy: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

/* Rows of one chunk, copied out of the reader's statement: arrays on the
 * heap, strings in the arena. */
struct chunk {
    struct lnk_arena arena;
    struct lnk_import_rows rows;
    const char **codes; /* rows.codes, writable */
    size_t cap;
};

static void chunk_init(struct chunk *ch)
{
    memset(ch, 0, sizeof(*ch));
    lnk_arena_init(&ch->arena);
}

static void chunk_cleanup(struct chunk *ch)
{
    free(ch->rows.users);
    free(ch->rows.urls);
    free(ch->rows.events);
    free(ch->codes);
    lnk_arena_cleanup(&ch->arena);
}

/* Empties ch for the next chunk, keeping its arrays. */
static void chunk_reset(struct chunk *ch)
{
    ch->rows.n = 0;
    lnk_arena_cleanup(&ch->arena);
    lnk_arena_init(&ch->arena);
}

static const char *dup_or_null(struct lnk_arena *a, const char *s)
{
    return s ? lnk_arena_strdup(a, s) : NULL;
}

/* Appends one row of kind `list` to ch. */
static void chunk_add(struct chunk *ch, enum lnk_op_kind list, union lnk_list_row row)
{
    struct lnk_import_rows *r = &ch->rows;
    struct lnk_arena *a = &ch->arena;
    if (r->n == ch->cap) {
        ch->cap = ch->cap ? ch->cap * 2 : COPY_CHUNK_ROWS;
        if (list == LNK_OP_USER_LIST)
            r->users = lnk_xrealloc(r->users, ch->cap * sizeof(*r->users));
        else if (list == LNK_OP_URL_LIST)
            r->urls = lnk_xrealloc(r->urls, ch->cap * sizeof(*r->urls));
        else if (list == LNK_OP_EVENT_LIST)
            r->events = lnk_xrealloc(r->events, ch->cap * sizeof(*r->events));
        else
            r->codes = ch->codes = lnk_xrealloc(ch->codes, ch->cap * sizeof(*ch->codes));
    }
    if (list == LNK_OP_USER_LIST) {
        struct lnk_user *u = &r->users[r->n];
        *u = *row.user;
        u->username = lnk_arena_strdup(a, u->username);
        u->email = lnk_arena_strdup(a, u->email);
    } else if (list == LNK_OP_URL_LIST) {
        struct lnk_url *u = &r->urls[r->n];
        *u = *row.url;
        u->short_code = lnk_arena_strdup(a, u->short_code);
        u->original_url = lnk_arena_strdup(a, u->original_url);
        u->title = dup_or_null(a, u->title);
        u->opts = dup_or_null(a, u->opts);
    } else if (list == LNK_OP_EVENT_LIST) {
        struct lnk_event *e = &r->events[r->n];
        *e = *row.event;
        e->event_type = lnk_arena_strdup(a, e->event_type);
        e->details = lnk_arena_strdup(a, e->details);
    } else {
        ch->codes[r->n] = lnk_arena_strdup(a, row.code);
    }
    r->n++;
}

/* A streamed list of the source and the two chunks it fills in turn: the
 * reader fills `fill` between a request and its completion, while the main
 * thread writes the other one to the target. */
struct pump {
    const struct table *t;
    struct lnk_op_list *op;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool chunk_read; /* the chunk requested last has completed */
    struct chunk chunks[2];
    struct chunk *fill;
};

/* On a reader thread of the source. */
static bool on_row(void *ctx, union lnk_list_row row)
{
    struct pump *p = ctx;
    chunk_add(p->fill, p->t->list, row);
    return true;
}

/* On a store thread of the source (the op has no origin). */
static void on_chunk(struct lnk_store_op *op)
{
    struct pump *p = op->udata;
    pthread_mutex_lock(&p->mu);
    p->chunk_read = true;
    pthread_cond_signal(&p->cv);
    pthread_mutex_unlock(&p->mu);
}

static void wait_chunk(struct pump *p)
{
    pthread_mutex_lock(&p->mu);
    while (!p->chunk_read)
        pthread_cond_wait(&p->cv, &p->mu);
    p->chunk_read = false;
    pthread_mutex_unlock(&p->mu);
}

/* The id of row i of a chunk of t, for messages (0 for codes). */
static int64_t row_id(const struct table *t, const struct lnk_import_rows *r, size_t i)
{
    return t == &USERS    ? r->users[i].id
           : t == &URLS   ? r->urls[i].id
           : t == &EVENTS ? r->events[i].id
                          : 0;
}

/* Writes one chunk to the target. A user the target refuses (its username
 * or email held by another user there) fails the copy, as every other
 * refusal does. */
static int write_chunk(struct copy *cp, const struct table *t, const struct chunk *ch)
{
    const struct lnk_import_rows *r = &ch->rows;
    struct lnk_op_rows *op = LNK_OP_AS(lnk_store_op_new(t->import), rows);
    op->rows = *r;
    int rc = lnk_store_run(cp->dst, &op->op);
    if (rc == LNK_OK && op->skipped > 0) {
        size_t i = 0;
        while (i + 1 < r->n && op->results[i].rc == LNK_OK)
            i++;
        const struct lnk_row_result *res = &op->results[i];
        fail(cp, "user %lld: refused by the target: %s%s%s%s", (long long)r->users[i].id,
             lnk_strerror(res->rc), res->err_field ? " (" : "",
             res->err_field ? res->err_field : "", res->err_field ? ")" : "");
        rc = LNK_EEXISTS;
    } else if (rc != LNK_OK && t == &CODES) {
        fail(cp, "retired codes from '%s' on: %s", r->codes[0], lnk_strerror(rc));
    } else if (rc != LNK_OK) {
        fail(cp, "%s with ids %lld to %lld: %s%s%s", t->name, (long long)row_id(t, r, 0),
             (long long)row_id(t, r, r->n - 1), lnk_strerror(rc), op->op.err_field ? ", in " : "",
             op->op.err_field ? op->op.err_field : "");
    }
    lnk_store_op_free(&op->op);
    return rc;
}

static void show_progress(struct copy *cp, const char *name, int64_t done, int64_t total)
{
    if (!cp->tty)
        return;
    fprintf(stderr, "\r%s: %lld/%lld", name, (long long)done, (long long)total);
    cp->mid_line = true;
}

static void end_progress(struct copy *cp)
{
    if (cp->mid_line)
        fputc('\n', stderr);
    cp->mid_line = false;
}

/* Copies every row of table t; *copied counts them. total is the source's
 * count, for the progress line. */
static int copy_table(struct copy *cp, const struct table *t, int64_t total, int64_t *copied)
{
    struct pump p = {.t = t};
    int rc = LNK_OK;
    pthread_mutex_init(&p.mu, NULL);
    pthread_cond_init(&p.cv, NULL);
    chunk_init(&p.chunks[0]);
    chunk_init(&p.chunks[1]);
    p.fill = &p.chunks[0];
    p.op = LNK_OP_AS(lnk_store_op_new(t->list), list);
    p.op->emit = on_row;
    p.op->emit_ctx = &p;
    p.op->chunk_rows = COPY_CHUNK_ROWS;
    p.op->op.done = on_chunk;
    p.op->op.udata = &p;
    show_progress(cp, t->name, 0, total);
    lnk_store_submit(cp->src, NULL, &p.op->op);
    for (bool more = true; more;) {
        wait_chunk(&p);
        if (p.op->op.rc != LNK_OK) {
            rc = p.op->op.rc;
            fail(cp, "reading %s from the source: %s", t->name, lnk_strerror(rc));
            break;
        }
        struct chunk *ready = p.fill;
        more = p.op->more;
        if (more) {
            p.fill = ready == &p.chunks[0] ? &p.chunks[1] : &p.chunks[0];
            lnk_store_list_next(cp->src, p.op);
        }
        rc = ready->rows.n ? write_chunk(cp, t, ready) : LNK_OK;
        *copied += (int64_t)ready->rows.n;
        chunk_reset(ready);
        if (rc != LNK_OK) {
            if (more) { /* the reader may be filling the other chunk: let it finish */
                atomic_store(&p.op->op.cancelled, true);
                wait_chunk(&p);
            }
            break;
        }
        show_progress(cp, t->name, *copied, total);
    }
    end_progress(cp);
    lnk_store_op_free(&p.op->op);
    chunk_cleanup(&p.chunks[0]);
    chunk_cleanup(&p.chunks[1]);
    pthread_cond_destroy(&p.cv);
    pthread_mutex_destroy(&p.mu);
    return rc;
}

/* Domains are few: read whole and written in one op before the urls that
 * name them, every field and id kept. */
static int copy_domains(struct copy *cp, int64_t *copied)
{
    struct lnk_op_domain *list = LNK_OP_AS(lnk_store_op_new(LNK_OP_DOMAIN_LIST), domain);
    struct lnk_op_rows *op = LNK_OP_AS(lnk_store_op_new(LNK_OP_DOMAIN_IMPORT), rows);
    int rc = lnk_store_run(cp->src, &list->op);
    if (rc != LNK_OK) {
        fail(cp, "reading domains from the source: %s", lnk_strerror(rc));
        goto out;
    }
    op->rows.n = list->n_domains;
    op->rows.domains = list->domains;
    rc = list->n_domains ? lnk_store_run(cp->dst, &op->op) : LNK_OK;
    if (rc != LNK_OK) {
        fail(cp, "domains: %s%s%s", lnk_strerror(rc), op->op.err_field ? ", in " : "",
             op->op.err_field ? op->op.err_field : "");
        goto out;
    }
    *copied = (int64_t)list->n_domains;
    show_progress(cp, "domains", *copied, *copied);
    end_progress(cp);
out:
    lnk_store_op_free(&op->op);
    lnk_store_op_free(&list->op);
    return rc;
}

/* API keys are few: read whole, with their hashes, and written in one op,
 * every field kept, so that each key goes on working (or stays revoked). */
static int copy_keys(struct copy *cp, int64_t *copied)
{
    struct lnk_op_key *list = LNK_OP_AS(lnk_store_op_new(LNK_OP_KEY_LIST), key);
    struct lnk_op_rows *op = LNK_OP_AS(lnk_store_op_new(LNK_OP_KEY_IMPORT), rows);
    list->with_hashes = true;
    int rc = lnk_store_run(cp->src, &list->op);
    if (rc != LNK_OK) {
        fail(cp, "reading keys from the source: %s", lnk_strerror(rc));
        goto out;
    }
    op->rows.n = list->n_keys;
    op->rows.keys = list->keys;
    op->rows.key_hashes = list->key_hashes;
    rc = list->n_keys ? lnk_store_run(cp->dst, &op->op) : LNK_OK;
    if (rc != LNK_OK) {
        fail(cp, "keys: %s%s%s", lnk_strerror(rc), op->op.err_field ? ", in " : "",
             op->op.err_field ? op->op.err_field : "");
        goto out;
    }
    *copied = (int64_t)list->n_keys;
    show_progress(cp, "keys", *copied, *copied);
    end_progress(cp);
out:
    lnk_store_op_free(&op->op);
    lnk_store_op_free(&list->op);
    return rc;
}

/* The clicks counted against links' maximums are few (a row per url with
 * a maximum that was clicked): read whole and written in one op after the
 * urls, each count set to the source's, so that a link allows no more
 * clicks on the target than were left on the source. */
static int copy_slots(struct copy *cp, int64_t *copied)
{
    struct lnk_op_slot *list = LNK_OP_AS(lnk_store_op_new(LNK_OP_SLOT_LIST), slot);
    struct lnk_op_rows *op = LNK_OP_AS(lnk_store_op_new(LNK_OP_SLOT_IMPORT), rows);
    int rc = lnk_store_run(cp->src, &list->op);
    if (rc != LNK_OK) {
        fail(cp, "reading click maximums from the source: %s", lnk_strerror(rc));
        goto out;
    }
    op->rows.n = list->n_slots;
    op->rows.slots = list->slots;
    rc = list->n_slots ? lnk_store_run(cp->dst, &op->op) : LNK_OK;
    if (rc != LNK_OK) {
        fail(cp, "click maximums: %s%s%s", lnk_strerror(rc), op->op.err_field ? ", in " : "",
             op->op.err_field ? op->op.err_field : "");
        goto out;
    }
    *copied = (int64_t)list->n_slots;
    show_progress(cp, "click maximums", *copied, *copied);
    end_progress(cp);
out:
    lnk_store_op_free(&op->op);
    lnk_store_op_free(&list->op);
    return rc;
}

static int count_rows(struct copy *cp, struct lnk_store *s, const char *which,
                      struct lnk_op_counts *out)
{
    struct lnk_op_counts *op = LNK_OP_AS(lnk_store_op_new(LNK_OP_COUNT_ROWS), counts);
    int rc = lnk_store_run(s, &op->op);
    if (rc == LNK_OK) {
        out->users = op->users;
        out->urls = op->urls;
        out->events = op->events;
        out->keys = op->keys;
        out->retired_codes = op->retired_codes;
        out->clicks = op->clicks;
        out->domains = op->domains;
        out->slots = op->slots;
        out->slots_used = op->slots_used;
    } else {
        fail(cp, "counting the rows of the %s: %s", which, lnk_strerror(rc));
    }
    lnk_store_op_free(&op->op);
    return rc;
}

/* Prints both sides' counts; 0 when they agree, else 1 with the first
 * difference on stderr. */
static int compare_counts(const struct lnk_op_counts *a, const struct lnk_op_counts *b)
{
    const char *names[] = {"domains", "users", "urls",          "slots", "slots used",
                           "events",  "keys",  "retired codes", "clicks"};
    const int64_t src[] = {a->domains, a->users, a->urls,          a->slots, a->slots_used,
                           a->events,  a->keys,  a->retired_codes, a->clicks};
    const int64_t dst[] = {b->domains, b->users, b->urls,          b->slots, b->slots_used,
                           b->events,  b->keys,  b->retired_codes, b->clicks};
    int code = 0;
    printf("%-14s %14s %14s\n", "", "source", "target");
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        printf("%-14s %14lld %14lld\n", names[i], (long long)src[i], (long long)dst[i]);
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]) && code == 0; i++) {
        if (src[i] == dst[i])
            continue;
        fprintf(stderr,
                "linkd copy: the target does not match the source: %s %lld on the source, %lld "
                "on the target (was the source written to during the copy, or did the target "
                "hold other rows?)\n",
                names[i], (long long)src[i], (long long)dst[i]);
        code = 1;
    }
    fflush(stdout);
    return code;
}

/* The file of a SQLite DATABASE_URL (sqlite://PATH or a bare path); NULL
 * for another backend. */
static const char *sqlite_path(const char *url)
{
    const char *sep = strstr(url, "://");
    if (!sep)
        return url;
    return sep - url == 6 && strncasecmp(url, "sqlite", 6) == 0 ? sep + 3 : NULL;
}

/* Before either is opened: the same URL, or two names of one SQLite file. */
static bool same_location(const char *a, const char *b)
{
    const char *pa = sqlite_path(a), *pb = sqlite_path(b);
    struct stat sa, sb;
    if (strcmp(a, b) == 0)
        return true;
    return pa && pb && stat(pa, &sa) == 0 && stat(pb, &sb) == 0 && sa.st_dev == sb.st_dev &&
           sa.st_ino == sb.st_ino;
}

static int open_store(const struct lnk_config *cfg, const char *url, const char *shown,
                      const char *which, struct lnk_store **out)
{
    char err[256] = "";
    struct lnk_store_config sc = {.url = url, .synchronous_full = cfg->synchronous ? 1 : 0};
    int rc = lnk_store_open(&sc, out, err, sizeof(err));
    if (rc != LNK_OK)
        fprintf(stderr, "linkd copy: cannot open the %s %s: %s\n", which, shown, err);
    return rc;
}

/* Both stores open: every table, then the counts of both. */
static int run_copy(struct copy *cp)
{
    struct lnk_op_counts src = {0}, dst = {0};
    int64_t domains = 0, users = 0, urls = 0, slots = 0, events = 0, keys = 0, codes = 0;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    if (count_rows(cp, cp->src, "source", &src) != LNK_OK)
        return 1;
    /* domains and users, then urls, then their slots and events: each
     * names rows already copied */
    if (copy_domains(cp, &domains) != LNK_OK ||
        copy_table(cp, &USERS, src.users, &users) != LNK_OK ||
        copy_table(cp, &URLS, src.urls, &urls) != LNK_OK || copy_slots(cp, &slots) != LNK_OK ||
        copy_table(cp, &EVENTS, src.events, &events) != LNK_OK || copy_keys(cp, &keys) != LNK_OK ||
        copy_table(cp, &CODES, src.retired_codes, &codes) != LNK_OK)
        return 1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    printf("copied %lld domains, %lld users, %lld urls, %lld slots, %lld events, %lld keys and "
           "%lld retired codes from %s to %s in %.1f s\n",
           (long long)domains, (long long)users, (long long)urls, (long long)slots,
           (long long)events, (long long)keys, (long long)codes, cp->src_shown, cp->dst_shown,
           secs);
    if (count_rows(cp, cp->src, "source", &src) != LNK_OK ||
        count_rows(cp, cp->dst, "target", &dst) != LNK_OK)
        return 1;
    return compare_counts(&src, &dst);
}

int lnk_app_copy(const struct lnk_config *cfg, const char *to_url)
{
    struct copy cp = {.tty = isatty(STDERR_FILENO) == 1};
    const char *from = cfg->database_url, *from_file = sqlite_path(from);
    struct stat st;
    int code = 1;
    lnk_log_min_level = cfg->log_level;
    lnk_log_line_format = cfg->log_format;
    lnk_url_redact(from, cp.src_shown, sizeof(cp.src_shown));
    lnk_url_redact(to_url, cp.dst_shown, sizeof(cp.dst_shown));
    if (same_location(from, to_url)) {
        fprintf(stderr, "linkd copy: the target %s is the source database: nothing to copy\n",
                cp.dst_shown);
        return 2;
    }
    /* opening a SQLite file that is not there would make an empty one */
    if (from_file && stat(from_file, &st) != 0) {
        int err = errno;
        fprintf(stderr, "linkd copy: the source %s cannot be read: %s\n", cp.src_shown,
                strerror(err));
        return 1;
    }
    if (open_store(cfg, from, cp.src_shown, "source", &cp.src) != LNK_OK ||
        open_store(cfg, to_url, cp.dst_shown, "target", &cp.dst) != LNK_OK)
        goto out;
    if (lnk_store_same_database(cp.src, cp.dst)) {
        fprintf(stderr, "linkd copy: the target %s is the source database: nothing to copy\n",
                cp.dst_shown);
        code = 2;
        goto out;
    }
    code = run_copy(&cp);
out:
    lnk_store_close(cp.dst);
    lnk_store_close(cp.src);
    return code;
}
