/* SPDX-License-Identifier: MIT */
/* RFC 4180 CSV reader over an in-memory buffer. Field bytes (unquoted, with
 * doubled quotes collapsed) are copied into one scratch buffer per reader, so
 * a record's slices stay valid until the next call; scratch never grows past
 * LNK_CSV_RECORD_MAX. Blank lines between records are skipped. Line numbers
 * count physical lines, including newlines inside quoted fields. One reader
 * per parse, not thread-safe. */
#include "linkd/csv.h"

#include <stdbool.h>
#include <stdlib.h>

#include "linkd/arena.h"
#include "linkd/err.h"

#define SCRATCH_MIN 256

void lnk_csv_init(struct lnk_csv *c, const char *data, size_t len)
{
    c->p = data;
    c->end = data + len;
    if (len >= 3 && (unsigned char)data[0] == 0xEF && (unsigned char)data[1] == 0xBB &&
        (unsigned char)data[2] == 0xBF)
        c->p += 3;
    c->line = 0;
    c->next_line = 1;
    c->err_col = 0;
    c->scratch = NULL;
    c->scratch_cap = 0;
}

void lnk_csv_cleanup(struct lnk_csv *c)
{
    free(c->scratch);
    c->scratch = NULL;
    c->scratch_cap = 0;
}

/* Length of the line terminator at p (LF, CRLF, or a CR that ends the
 * input), 0 if p does not start one. */
static size_t eol_len(const char *p, const char *end)
{
    if (p == end)
        return 0;
    if (*p == '\n')
        return 1;
    if (*p == '\r') {
        if (p + 1 == end)
            return 1;
        if (p[1] == '\n')
            return 2;
    }
    return 0;
}

/* Appends byte b to the record's scratch, keeping it within the limit. */
static int put_byte(struct lnk_csv *c, size_t *used, char b)
{
    if (*used == c->scratch_cap) {
        if (c->scratch_cap >= LNK_CSV_RECORD_MAX)
            return LNK_ETOOBIG;
        size_t cap = c->scratch_cap * 2;
        if (cap > LNK_CSV_RECORD_MAX)
            cap = LNK_CSV_RECORD_MAX;
        c->scratch = lnk_xrealloc(c->scratch, cap);
        c->scratch_cap = cap;
    }
    c->scratch[(*used)++] = b;
    return LNK_OK;
}

/* Reads a quoted field starting at the opening quote. *cur_line follows the
 * newlines inside it. */
static int read_quoted(struct lnk_csv *c, size_t *used, size_t *cur_line)
{
    int rc;
    size_t open_line = *cur_line;
    c->p++;
    for (;;) {
        if (c->p == c->end) {
            *cur_line = open_line; /* name the line where the quote opened */
            return LNK_EINVAL;
        }
        char ch = *c->p;
        if (ch == '"') {
            if (c->p + 1 < c->end && c->p[1] == '"') {
                c->p += 2;
                if ((rc = put_byte(c, used, '"')) != LNK_OK)
                    return rc;
                continue;
            }
            c->p++;
            break;
        }
        if (ch == '\n')
            (*cur_line)++;
        c->p++;
        if ((rc = put_byte(c, used, ch)) != LNK_OK)
            return rc;
    }
    /* After the closing quote only a separator or the end of the record. */
    if (c->p != c->end && *c->p != ',' && eol_len(c->p, c->end) == 0)
        return LNK_EINVAL;
    return LNK_OK;
}

static int read_unquoted(struct lnk_csv *c, size_t *used)
{
    while (c->p != c->end && *c->p != ',' && eol_len(c->p, c->end) == 0) {
        if (*c->p == '"')
            return LNK_EINVAL;
        int rc = put_byte(c, used, *c->p++);
        if (rc != LNK_OK)
            return rc;
    }
    return LNK_OK;
}

int lnk_csv_next(struct lnk_csv *c, struct lnk_csv_record *rec)
{
    int rc = LNK_OK;
    size_t off[LNK_CSV_FIELDS_MAX];
    size_t used = 0, n = 0;

    size_t skip;
    while ((skip = eol_len(c->p, c->end)) > 0) {
        c->p += skip;
        c->next_line++;
    }
    if (c->p == c->end)
        return LNK_EEOF;
    if (!c->scratch) {
        c->scratch = lnk_xmalloc(SCRATCH_MIN);
        c->scratch_cap = SCRATCH_MIN;
    }
    c->line = c->next_line;
    size_t cur_line = c->line;
    const char *rec_start = c->p;

    for (;;) {
        c->err_col = n + 1;
        if (n == LNK_CSV_FIELDS_MAX) {
            rc = LNK_ETOOBIG;
            break;
        }
        off[n] = used;
        rc = c->p != c->end && *c->p == '"' ? read_quoted(c, &used, &cur_line)
                                            : read_unquoted(c, &used);
        rec->fields[n].len = used - off[n];
        n++;
        if (rc == LNK_OK && (size_t)(c->p - rec_start) > LNK_CSV_RECORD_MAX)
            rc = LNK_ETOOBIG;
        if (rc != LNK_OK)
            break;
        if (c->p != c->end && *c->p == ',') {
            c->p++;
            continue;
        }
        size_t e = eol_len(c->p, c->end);
        c->p += e;
        if (e > 0)
            cur_line++;
        break;
    }

    if (rc != LNK_OK) {
        /* c->err_col names the failing field; the reader stops here. */
        c->line = cur_line;
        c->p = c->end;
        return rc;
    }
    c->err_col = 0;
    c->next_line = cur_line;
    rec->n_fields = n;
    for (size_t i = 0; i < n; i++)
        rec->fields[i].ptr = c->scratch + off[i];
    return LNK_OK;
}

int lnk_csv_find_column(const struct lnk_csv_record *header, const char *name)
{
    for (size_t i = 0; i < header->n_fields; i++)
        if (lnk_str_eq_cstr(lnk_str_trim(header->fields[i]), name))
            return (int)i;
    return -1;
}

static bool needs_quotes(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (s[i] == ',' || s[i] == '"' || s[i] == '\r' || s[i] == '\n')
            return true;
    return false;
}

int lnk_csv_append_field(struct lnk_buf *out, const char *s, size_t len)
{
    if (!needs_quotes(s, len))
        return lnk_buf_append(out, s, len);
    size_t mark = out->len;
    int rc = lnk_buf_append(out, "\"", 1);
    size_t from = 0;
    for (size_t i = 0; i < len && rc == LNK_OK; i++) {
        if (s[i] != '"')
            continue;
        /* the run up to and including the quote, then the quote again */
        rc = lnk_buf_append(out, s + from, i + 1 - from);
        if (rc == LNK_OK)
            rc = lnk_buf_append(out, "\"", 1);
        from = i + 1;
    }
    if (rc == LNK_OK)
        rc = lnk_buf_append(out, s + from, len - from);
    if (rc == LNK_OK)
        rc = lnk_buf_append(out, "\"", 1);
    if (rc != LNK_OK && out->ptr) {
        out->len = mark;
        out->ptr[mark] = '\0';
    }
    return rc;
}
