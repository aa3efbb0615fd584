/* SPDX-License-Identifier: MIT */
/* An RFC 4180 CSV reader over a buffer in memory: quoted fields, doubled
 * quotes, CRLF or LF, a UTF-8 BOM at the start skipped. A record may hold at
 * most LNK_CSV_FIELDS_MAX fields and LNK_CSV_RECORD_MAX bytes. Not
 * thread-safe (one reader per parse). And the one field writer. */
#ifndef LNK_CSV_H
#define LNK_CSV_H

#include <stddef.h>

#include "linkd/buf.h"
#include "linkd/str.h"

#define LNK_CSV_FIELDS_MAX 64
#define LNK_CSV_RECORD_MAX (1024 * 1024)

struct lnk_csv {
    const char *p, *end;
    size_t line; /* 1-based line of the record just read (its first line) */
    size_t next_line;
    size_t err_col; /* 1-based field number where the last error was found */
    char *scratch;  /* unquoted field bytes of the current record (owned) */
    size_t scratch_cap;
};

struct lnk_csv_record {
    size_t n_fields;
    struct lnk_str fields[LNK_CSV_FIELDS_MAX]; /* valid until the next call */
};

void lnk_csv_init(struct lnk_csv *c, const char *data, size_t len);
void lnk_csv_cleanup(struct lnk_csv *c);

/* Reads the next record. LNK_OK with rec filled; LNK_EEOF at the end of the
 * input (a final empty line is not a record); LNK_EINVAL for a malformed
 * record (unterminated quote, a quote inside an unquoted field, junk after a
 * closing quote) and LNK_ETOOBIG past the limits, with c->line and c->err_col
 * naming the place. */
int lnk_csv_next(struct lnk_csv *c, struct lnk_csv_record *rec);

/* Index of the header field named `name` (exact, after trimming), or -1. */
int lnk_csv_find_column(const struct lnk_csv_record *header, const char *name);

/* Appends s[0..len) to out as one RFC 4180 field: as it is, or quoted with
 * its quotes doubled when it holds a comma, a quote, CR or LF (what the
 * reader above reads back to the same bytes). No separator is written.
 * LNK_ETOOBIG past out's maximum, leaving out as it was. Thread-safe. */
int lnk_csv_append_field(struct lnk_buf *out, const char *s, size_t len);

#endif
