/* SPDX-License-Identifier: MIT */
/* Seed CSVs (CONTRACT.md §4.3, §6): users.csv, urls.csv and events.csv parsed
 * into store import rows, and a seed directory loaded through the store in
 * chunks. Sits above codec (csv, timefmt, url, json, shortcode) and store;
 * every import path (CLI, --seed, POST /users/bulk) goes through these
 * parsers. Parsers are reentrant; lnk_seed_import_dir blocks on the store. */
#include "linkd/seed.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "linkd/csv.h"
#include "linkd/err.h"
#include "linkd/json.h"
#include "linkd/model.h"
#include "linkd/name.h"
#include "linkd/shortcode.h"
#include "linkd/str.h"
#include "linkd/timefmt.h"
#include "linkd/url.h"

#define IMPORT_CHUNK_ROWS 5000
#define READ_CHUNK_BYTES  (64 * 1024)
#define REASON_BYTES      256
#define NAME_TOO_LONG     "longer than 255 characters"
#define ID_TOO_LARGE                                                                               \
    "greater than 9007199254740991 (2^53 - 1, the largest id JSON clients read exactly)"

_Static_assert(LNK_NAME_MAX == 255 && LNK_EVENT_TYPE_MAX == 64 &&
                   LNK_ID_MAX == INT64_C(9007199254740991),
               "update the reasons");

/* One column the parser knows: its header name and, once the header is
 * read, its 0-based index in the file (-1 when absent). */
struct column {
    const char *name;
    bool required;
    int idx;
};

/* A parse in progress: the CSV reader, the current record and where errors
 * go. */
struct reader {
    struct lnk_csv csv;
    struct lnk_csv_record rec;
    struct column *cols;
    size_t n_cols;
    char *err;
    size_t errcap;
};

enum { U_ID, U_USERNAME, U_EMAIL, U_CREATED_AT, U_N };
enum { L_ID, L_USER_ID, L_CODE, L_URL, L_TITLE, L_ACTIVE, L_CREATED_AT, L_UPDATED_AT, L_N };
enum { E_ID, E_URL_ID, E_USER_ID, E_TYPE, E_TIMESTAMP, E_DETAILS, E_N };

static void set_err(char *err, size_t errcap, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void set_err(char *err, size_t errcap, const char *fmt, ...)
{
    if (!err || errcap == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errcap, fmt, ap);
    va_end(ap);
}

/* The file must be UTF-8 text without NUL bytes (a NUL would silently cut
 * every C string built from it). '\n' never occurs inside a multi-byte
 * sequence, so checking line by line finds the first bad line. */
static int check_text(const char *data, size_t len, char *err, size_t errcap)
{
    size_t line = 1, start = 0;
    while (start <= len) {
        const char *nl = memchr(data + start, '\n', len - start);
        size_t end = nl ? (size_t)(nl - data) : len;
        if (memchr(data + start, '\0', end - start)) {
            set_err(err, errcap, "line %zu: contains a NUL byte", line);
            return LNK_EINVAL;
        }
        if (!lnk_utf8_valid(data + start, end - start)) {
            set_err(err, errcap, "line %zu: not valid UTF-8", line);
            return LNK_EINVAL;
        }
        if (!nl)
            break;
        start = end + 1;
        line++;
    }
    return LNK_OK;
}

/* Name of the known column at file index idx, or NULL. */
static const char *column_name_at(const struct reader *r, size_t idx)
{
    for (size_t i = 0; i < r->n_cols; i++)
        if (r->cols[i].idx >= 0 && (size_t)r->cols[i].idx == idx)
            return r->cols[i].name;
    return NULL;
}

/* Reports the CSV reader's error at its line and field. */
static int csv_error(struct reader *r, int rc)
{
    const char *what = rc == LNK_ETOOBIG ? "record too large (at most 64 fields and 1 MiB)"
                                         : "malformed CSV record (check the quoting)";
    const char *name = r->csv.err_col > 0 ? column_name_at(r, r->csv.err_col - 1) : NULL;
    if (name)
        set_err(r->err, r->errcap, "line %zu, column %zu (%s): %s", r->csv.line, r->csv.err_col,
                name, what);
    else
        set_err(r->err, r->errcap, "line %zu, column %zu: %s", r->csv.line, r->csv.err_col, what);
    return LNK_EINVAL;
}

/* Checks the text, reads the header and resolves the columns. */
static int open_reader(struct reader *r, const char *data, size_t len)
{
    int rc = check_text(data, len, r->err, r->errcap);
    if (rc != LNK_OK)
        return rc;
    rc = lnk_csv_next(&r->csv, &r->rec);
    if (rc == LNK_EEOF) {
        set_err(r->err, r->errcap, "line 1: empty file, a header row is required");
        return LNK_EINVAL;
    }
    if (rc != LNK_OK)
        return csv_error(r, rc);
    for (size_t i = 0; i < r->n_cols; i++) {
        r->cols[i].idx = lnk_csv_find_column(&r->rec, r->cols[i].name);
        if (r->cols[i].idx < 0 && r->cols[i].required) {
            set_err(r->err, r->errcap, "line %zu (header): missing required column '%s'",
                    r->csv.line, r->cols[i].name);
            return LNK_EINVAL;
        }
    }
    return LNK_OK;
}

/* Reads the next data record: LNK_OK, LNK_EEOF, or LNK_EINVAL (reported). */
static int next_row(struct reader *r)
{
    int rc = lnk_csv_next(&r->csv, &r->rec);
    if (rc == LNK_OK || rc == LNK_EEOF)
        return rc;
    return csv_error(r, rc);
}

/* The trimmed value of column c in the current record; empty when the
 * column is absent or the record is short. */
static struct lnk_str field(const struct reader *r, int c)
{
    int idx = r->cols[c].idx;
    if (idx < 0 || (size_t)idx >= r->rec.n_fields)
        return LNK_STR("");
    return lnk_str_trim(r->rec.fields[idx]);
}

static int row_error(struct reader *r, int c, const char *reason)
{
    set_err(r->err, r->errcap, "line %zu, column %d (%s): %s", r->csv.line, r->cols[c].idx + 1,
            r->cols[c].name, reason);
    return LNK_EINVAL;
}

/* Ids are 1..LNK_ID_MAX. A run of digits past it (past int64 included) is
 * named as too large, and *refuse (if not NULL) is set: a bulk upload
 * refuses the file for it rather than skip the row, since the row is not
 * incomplete but hazardous (docs/security.md#ids). */
static const char *parse_positive_id(struct lnk_str s, int64_t *out, bool *refuse)
{
    long long v;
    size_t digits = 0;
    if (s.len == 0)
        return "missing value";
    while (digits < s.len && s.ptr[digits] >= '0' && s.ptr[digits] <= '9')
        digits++;
    int rc = lnk_str_to_i64(s, &v);
    if (digits == s.len && (rc != LNK_OK || v > LNK_ID_MAX)) {
        if (refuse)
            *refuse = true;
        return ID_TOO_LARGE;
    }
    if (rc != LNK_OK || v <= 0)
        return "not a positive integer";
    *out = (int64_t)v;
    return NULL;
}

static const char *parse_ts(struct lnk_str s, int64_t *out)
{
    if (s.len == 0)
        return "missing value";
    if (lnk_ts_parse(s.ptr, s.len, out) != LNK_OK)
        return "not a timestamp (YYYY-MM-DD HH:MM:SS)";
    return NULL;
}

/* CSV booleans (CONTRACT.md §2): True/False in any case, also 1/0. */
static const char *parse_bool(struct lnk_str s, bool *out)
{
    if (lnk_str_eq_nocase(s, LNK_STR("true")) || lnk_str_eq(s, LNK_STR("1")))
        *out = true;
    else if (lnk_str_eq_nocase(s, LNK_STR("false")) || lnk_str_eq(s, LNK_STR("0")))
        *out = false;
    else
        return "not a boolean (True/False)";
    return NULL;
}

/* A non-empty string of at most max_chars characters, copied into a;
 * too_long is the reason when it is longer. */
static const char *parse_text(struct lnk_str s, size_t max_chars, const char *too_long,
                              struct lnk_arena *a, const char **out)
{
    if (s.len == 0)
        return "empty";
    if (lnk_utf8_len(s.ptr, s.len) > max_chars)
        return too_long;
    *out = lnk_arena_strndup(a, s.ptr, s.len);
    return NULL;
}

/* A name (username, email, title): parse_text's rules, and no character
 * that hides or rewrites text (docs/security.md#names). When the characters
 * are the problem *refuse (if not NULL) is set: a bulk upload refuses the
 * file for them instead of skipping the row. */
static const char *parse_name(struct lnk_str s, struct lnk_arena *a, const char **out, bool *refuse)
{
    const char *why = NULL;
    if (lnk_name_check(s.ptr, s.len, &why) != LNK_OK) {
        if (refuse)
            *refuse = true;
        return why;
    }
    return parse_text(s, LNK_NAME_MAX, NAME_TOO_LONG, a, out);
}

/* Grows a heap array of elem-byte items so that index n fits. */
static void *grow(void *arr, size_t *cap, size_t n, size_t elem)
{
    if (n < *cap)
        return arr;
    *cap = *cap ? *cap * 2 : 256;
    return lnk_xrealloc(arr, *cap * elem);
}

/* Copies n elem-byte items into the arena (rows outlive the heap scratch). */
static void *to_arena(struct lnk_arena *a, const void *arr, size_t n, size_t elem)
{
    void *p = lnk_arena_alloc(a, n * elem);
    if (n)
        memcpy(p, arr, n * elem);
    return p;
}

static void reader_init(struct reader *r, const char *data, size_t len, struct column *cols,
                        size_t n_cols, char *err, size_t errcap)
{
    lnk_csv_init(&r->csv, data, len);
    r->rec.n_fields = 0;
    r->cols = cols;
    r->n_cols = n_cols;
    r->err = err;
    r->errcap = errcap;
    set_err(err, errcap, "%s", "");
}

/* One users row. Returns the failing column (and *why) or -1 when valid;
 * *refuse says that the problem must fail a lenient parse too. */
static int user_row(const struct reader *r, struct lnk_arena *a, int64_t now, struct lnk_user *u,
                    bool *has_id, const char **why, bool *refuse)
{
    struct lnk_str id = field(r, U_ID);
    *has_id = id.len > 0;
    *refuse = false;
    u->id = 0;
    if (*has_id && (*why = parse_positive_id(id, &u->id, refuse)))
        return U_ID;
    if ((*why = parse_name(field(r, U_USERNAME), a, &u->username, refuse)))
        return U_USERNAME;
    if ((*why = parse_name(field(r, U_EMAIL), a, &u->email, refuse)))
        return U_EMAIL;
    if (!strchr(u->email, '@')) {
        *why = "e-mail has no '@'";
        return U_EMAIL;
    }
    struct lnk_str created = field(r, U_CREATED_AT);
    u->created_at = now;
    if (created.len > 0 && (*why = parse_ts(created, &u->created_at)))
        return U_CREATED_AT;
    return -1;
}

int lnk_seed_parse_users(const char *data, size_t len, enum lnk_seed_mode mode, struct lnk_arena *a,
                         struct lnk_import_rows *rows, int64_t *skipped, char *err, size_t errcap)
{
    struct column cols[U_N] = {
        [U_ID] = {"id", false, -1},
        [U_USERNAME] = {"username", true, -1},
        [U_EMAIL] = {"email", true, -1},
        [U_CREATED_AT] = {"created_at", false, -1},
    };
    struct reader r;
    struct lnk_user *users = NULL;
    bool *has_id = NULL;
    size_t *lines = NULL;
    struct lnk_import_skip *skips = NULL;
    size_t n = 0, cap_users = 0, cap_flags = 0, cap_lines = 0, cap_skips = 0;
    int64_t n_skipped = 0;
    int64_t now = lnk_ts_now();
    int rc;

    memset(rows, 0, sizeof(*rows));
    reader_init(&r, data, len, cols, U_N, err, errcap);
    rc = open_reader(&r, data, len);
    if (rc != LNK_OK)
        goto out;
    while ((rc = next_row(&r)) == LNK_OK) {
        users = grow(users, &cap_users, n, sizeof(*users));
        has_id = grow(has_id, &cap_flags, n, sizeof(*has_id));
        lines = grow(lines, &cap_lines, n, sizeof(*lines));
        const char *why = NULL;
        bool refuse = false;
        int bad = user_row(&r, a, now, &users[n], &has_id[n], &why, &refuse);
        if (bad < 0) {
            lines[n++] = r.csv.line;
        } else if (mode == LNK_SEED_LENIENT && !refuse) {
            /* CONTRACT.md §4.3: bulk upload skips and counts bad rows, and
             * says which and why. */
            skips = grow(skips, &cap_skips, (size_t)n_skipped, sizeof(*skips));
            skips[n_skipped] = (struct lnk_import_skip){r.csv.line, r.cols[bad].name, why};
            n_skipped++;
        } else {
            rc = row_error(&r, bad, why);
            goto out;
        }
    }
    if (rc != LNK_EEOF)
        goto out;
    rc = LNK_OK;
    rows->n = n;
    rows->users = to_arena(a, users, n, sizeof(*users));
    rows->has_id = to_arena(a, has_id, n, sizeof(*has_id));
    rows->lines = to_arena(a, lines, n, sizeof(*lines));
    rows->n_skips = (size_t)n_skipped;
    rows->skips = to_arena(a, skips, (size_t)n_skipped, sizeof(*skips));
    if (skipped)
        *skipped = n_skipped;

out:
    free(skips);
    free(lines);
    free(has_id);
    free(users);
    lnk_csv_cleanup(&r.csv);
    return rc;
}

static int url_row(const struct reader *r, struct lnk_arena *a, void *row, const char **why)
{
    struct lnk_url *u = row;
    if ((*why = parse_positive_id(field(r, L_ID), &u->id, NULL)))
        return L_ID;
    if ((*why = parse_positive_id(field(r, L_USER_ID), &u->user_id, NULL)))
        return L_USER_ID;
    struct lnk_str code = field(r, L_CODE);
    if (code.len == 0) {
        *why = "missing value";
        return L_CODE;
    }
    if (!lnk_code_is_plausible(code.ptr, code.len)) {
        *why = "not a short code (1 to 64 of A-Z a-z 0-9 _ -)";
        return L_CODE;
    }
    u->short_code = lnk_arena_strndup(a, code.ptr, code.len);
    struct lnk_str url = field(r, L_URL);
    if (lnk_url_validate(url.ptr, url.len, why) != LNK_OK)
        return L_URL;
    u->original_url = lnk_arena_strndup(a, url.ptr, url.len);
    struct lnk_str title = field(r, L_TITLE);
    u->title = NULL; /* an empty or absent title is null */
    if (title.len > 0 && (*why = parse_name(title, a, &u->title, NULL)))
        return L_TITLE;
    if ((*why = parse_bool(field(r, L_ACTIVE), &u->is_active)))
        return L_ACTIVE;
    if ((*why = parse_ts(field(r, L_CREATED_AT), &u->created_at)))
        return L_CREATED_AT;
    if ((*why = parse_ts(field(r, L_UPDATED_AT), &u->updated_at)))
        return L_UPDATED_AT;
    return -1;
}

/* Reads every data row of a file whose rows must all be valid (urls,
 * events): `row` fills one element of row_size bytes or names the bad column.
 * On success *out points to the n rows, copied into `a`. */
typedef int (*row_fn)(const struct reader *r, struct lnk_arena *a, void *row, const char **why);

static int parse_all_rows(const char *data, size_t len, struct column *cols, size_t n_cols,
                          size_t row_size, row_fn row, struct lnk_arena *a, void **out,
                          size_t *n_out, char *err, size_t errcap)
{
    struct reader r;
    char *rows = NULL;
    size_t n = 0, cap = 0;
    int rc;

    reader_init(&r, data, len, cols, n_cols, err, errcap);
    rc = open_reader(&r, data, len);
    if (rc != LNK_OK)
        goto out;
    while ((rc = next_row(&r)) == LNK_OK) {
        rows = grow(rows, &cap, n, row_size);
        const char *why = NULL;
        memset(rows + n * row_size, 0, row_size); /* fields a CSV has not got stay unset */
        int bad = row(&r, a, rows + n * row_size, &why);
        if (bad >= 0) {
            rc = row_error(&r, bad, why);
            goto out;
        }
        n++;
    }
    if (rc != LNK_EEOF)
        goto out;
    rc = LNK_OK;
    *n_out = n;
    *out = to_arena(a, rows, n, row_size);

out:
    free(rows);
    lnk_csv_cleanup(&r.csv);
    return rc;
}

int lnk_seed_parse_urls(const char *data, size_t len, struct lnk_arena *a,
                        struct lnk_import_rows *rows, char *err, size_t errcap)
{
    struct column cols[L_N] = {
        [L_ID] = {"id", true, -1},
        [L_USER_ID] = {"user_id", true, -1},
        [L_CODE] = {"short_code", true, -1},
        [L_URL] = {"original_url", true, -1},
        [L_TITLE] = {"title", false, -1},
        [L_ACTIVE] = {"is_active", true, -1},
        [L_CREATED_AT] = {"created_at", true, -1},
        [L_UPDATED_AT] = {"updated_at", true, -1},
    };
    void *urls = NULL;
    memset(rows, 0, sizeof(*rows));
    int rc = parse_all_rows(data, len, cols, L_N, sizeof(struct lnk_url), url_row, a, &urls,
                            &rows->n, err, errcap);
    rows->urls = urls;
    return rc;
}

/* details: JSON object text, stored compact; empty means {}. */
static const char *parse_details(struct lnk_str s, struct lnk_arena *a, const char **out)
{
    if (s.len == 0) {
        *out = "{}";
        return NULL;
    }
    json_t *v = NULL;
    const char *why = NULL;
    if (lnk_json_parse_object(s.ptr, s.len, &v, &why) != LNK_OK)
        return why;
    size_t len;
    char *text = lnk_json_dump(v, &len);
    json_decref(v);
    if (!text)
        return "cannot be serialised";
    *out = lnk_arena_strndup(a, text, len);
    free(text);
    return NULL;
}

static int event_row(const struct reader *r, struct lnk_arena *a, void *row, const char **why)
{
    struct lnk_event *e = row;
    if ((*why = parse_positive_id(field(r, E_ID), &e->id, NULL)))
        return E_ID;
    if ((*why = parse_positive_id(field(r, E_URL_ID), &e->url_id, NULL)))
        return E_URL_ID;
    struct lnk_str user = field(r, E_USER_ID);
    e->user_id = 0; /* empty: null */
    if (user.len > 0 && (*why = parse_positive_id(user, &e->user_id, NULL)))
        return E_USER_ID;
    if ((*why = parse_text(field(r, E_TYPE), LNK_EVENT_TYPE_MAX, "longer than 64 characters", a,
                           &e->event_type)))
        return E_TYPE;
    if ((*why = parse_ts(field(r, E_TIMESTAMP), &e->timestamp)))
        return E_TIMESTAMP;
    if ((*why = parse_details(field(r, E_DETAILS), a, &e->details)))
        return E_DETAILS;
    return -1;
}

int lnk_seed_parse_events(const char *data, size_t len, struct lnk_arena *a,
                          struct lnk_import_rows *rows, char *err, size_t errcap)
{
    struct column cols[E_N] = {
        [E_ID] = {"id", true, -1},
        [E_URL_ID] = {"url_id", true, -1},
        [E_USER_ID] = {"user_id", false, -1},
        [E_TYPE] = {"event_type", true, -1},
        [E_TIMESTAMP] = {"timestamp", true, -1},
        [E_DETAILS] = {"details", false, -1},
    };
    void *events = NULL;
    memset(rows, 0, sizeof(*rows));
    int rc = parse_all_rows(data, len, cols, E_N, sizeof(struct lnk_event), event_row, a, &events,
                            &rows->n, err, errcap);
    rows->events = events;
    return rc;
}

/* Reads a whole file into a malloc'ed buffer. LNK_ENOTFOUND if it does not
 * exist. */
static int read_file(const char *path, char **data, size_t *len)
{
    int rc = LNK_OK;
    char *buf = NULL;
    size_t n = 0, cap = 0;
    FILE *f = fopen(path, "rb");
    if (!f) {
        int e = errno;
        rc = e == ENOENT ? LNK_ENOTFOUND : lnk_err_from_errno(e);
        goto out;
    }
    for (;;) {
        if (cap - n < READ_CHUNK_BYTES) {
            cap = cap ? cap * 2 : READ_CHUNK_BYTES * 2;
            buf = lnk_xrealloc(buf, cap);
        }
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (got == 0) {
            if (ferror(f))
                rc = lnk_err_from_errno(errno ? errno : EIO);
            break;
        }
    }
    if (rc == LNK_OK) {
        *data = buf;
        *len = n;
        buf = NULL;
    }

out:
    free(buf);
    if (f)
        fclose(f);
    return rc;
}

struct seed_file {
    const char *name;
    enum lnk_op_kind kind;
};

static int parse_file(const struct seed_file *sf, const char *data, size_t len, struct lnk_arena *a,
                      struct lnk_import_rows *rows, char *err, size_t errcap)
{
    switch (sf->kind) {
    case LNK_OP_USER_IMPORT:
        return lnk_seed_parse_users(data, len, LNK_SEED_STRICT, a, rows, NULL, err, errcap);
    case LNK_OP_URL_IMPORT:
        return lnk_seed_parse_urls(data, len, a, rows, err, errcap);
    default:
        return lnk_seed_parse_events(data, len, a, rows, err, errcap);
    }
}

/* Rows [from, from + n) of all as their own import set. */
static struct lnk_import_rows slice_rows(const struct lnk_import_rows *all, size_t from, size_t n)
{
    struct lnk_import_rows s = {.n = n};
    if (all->users)
        s.users = all->users + from;
    if (all->urls)
        s.urls = all->urls + from;
    if (all->events)
        s.events = all->events + from;
    if (all->has_id)
        s.has_id = all->has_id + from;
    return s;
}

#define N_SEED_FILES 3

/* One seed file, parsed: its bytes and rows live until the import ends. */
struct loaded_file {
    char *data;
    struct lnk_arena arena;
    struct lnk_import_rows rows;
};

/* Reads and parses DIR/NAME into lf (which the caller cleans up). */
static int load_file(const char *dir, const struct seed_file *sf, struct loaded_file *lf, char *err,
                     size_t errcap)
{
    char path[4096];
    char why[REASON_BYTES];
    size_t len = 0;
    int rc;

    if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, sf->name) >= sizeof(path)) {
        set_err(err, errcap, "%s: path too long", sf->name);
        return LNK_EINVAL;
    }
    rc = read_file(path, &lf->data, &len);
    if (rc != LNK_OK) {
        set_err(err, errcap, "%s: cannot read %s: %s", sf->name, path,
                rc == LNK_ENOTFOUND ? "no such file" : lnk_strerror(rc));
        return rc;
    }
    rc = parse_file(sf, lf->data, len, &lf->arena, &lf->rows, why, sizeof(why));
    if (rc != LNK_OK)
        set_err(err, errcap, "%s: %s", sf->name, why);
    return rc;
}

/* Submits parsed rows in chunks; *imported adds up the rows the store
 * inserted or updated. */
static int submit_rows(struct lnk_store *s, const struct seed_file *sf,
                       const struct lnk_import_rows *rows, int64_t *imported, char *err,
                       size_t errcap)
{
    bool tty = isatty(STDERR_FILENO) == 1;
    int rc = LNK_OK;

    for (size_t done = 0; done < rows->n;) {
        size_t n = rows->n - done < IMPORT_CHUNK_ROWS ? rows->n - done : IMPORT_CHUNK_ROWS;
        struct lnk_op_rows *op = LNK_OP_AS(lnk_store_op_new(sf->kind), rows);
        op->rows = slice_rows(rows, done, n);
        rc = lnk_store_run(s, &op->op);
        if (rc == LNK_OK)
            *imported += op->imported;
        else
            set_err(err, errcap, "%s: rows %zu-%zu: %s%s%s", sf->name, done + 1, done + n,
                    lnk_strerror(rc), op->op.err_field ? " in " : "",
                    op->op.err_field ? op->op.err_field : "");
        lnk_store_op_free(&op->op);
        if (rc != LNK_OK)
            break;
        done += n;
        if (tty)
            fprintf(stderr, "\r%s: %zu/%zu", sf->name, done, rows->n);
    }
    if (tty && rows->n > 0)
        fputc('\n', stderr);
    return rc;
}

int lnk_seed_import_dir(struct lnk_store *s, const char *dir, bool only_if_empty,
                        struct lnk_seed_report *rep, char *err, size_t errcap)
{
    static const struct seed_file FILES[N_SEED_FILES] = {
        {"users.csv", LNK_OP_USER_IMPORT},
        {"urls.csv", LNK_OP_URL_IMPORT},
        {"events.csv", LNK_OP_EVENT_IMPORT},
    };
    int64_t *counters[N_SEED_FILES] = {&rep->users, &rep->urls, &rep->events};
    struct loaded_file files[N_SEED_FILES];
    int rc = LNK_OK;

    memset(rep, 0, sizeof(*rep));
    set_err(err, errcap, "%s", "");
    for (size_t i = 0; i < N_SEED_FILES; i++) {
        files[i].data = NULL;
        lnk_arena_init(&files[i].arena);
    }
    if (only_if_empty) {
        struct lnk_op_counts *op = LNK_OP_AS(lnk_store_op_new(LNK_OP_COUNT_ROWS), counts);
        rc = lnk_store_run(s, &op->op);
        if (rc != LNK_OK)
            set_err(err, errcap, "counting rows: %s", lnk_strerror(rc));
        else if (op->users > 0 || op->urls > 0 || op->events > 0)
            rep->skipped_not_empty = true;
        lnk_store_op_free(&op->op);
        if (rc != LNK_OK || rep->skipped_not_empty)
            goto out;
    }
    /* Parse all three files before writing anything, so that a bad row in
     * events.csv does not leave users and urls half loaded. */
    for (size_t i = 0; i < N_SEED_FILES; i++) {
        rc = load_file(dir, &FILES[i], &files[i], err, errcap);
        if (rc != LNK_OK)
            goto out;
    }
    /* users -> urls -> events: each file's foreign keys name rows already
     * loaded. */
    for (size_t i = 0; i < N_SEED_FILES; i++) {
        rc = submit_rows(s, &FILES[i], &files[i].rows, counters[i], err, errcap);
        if (rc != LNK_OK)
            goto out;
    }

out:
    for (size_t i = N_SEED_FILES; i > 0; i--) {
        lnk_arena_cleanup(&files[i - 1].arena);
        free(files[i - 1].data);
    }
    return rc;
}
