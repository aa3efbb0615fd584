/* SPDX-License-Identifier: MIT */
/* Links in from other shorteners' exports, and out as CSV
 * (docs/import-export.md, docs/adr/0024). Import turns an export of Shlink,
 * YOURLS or Kutt into /api/v1 link input objects (the v1 model); export
 * writes a v1 link object as one CSV line. A codec above csv, json, url,
 * timefmt and shortcode: no I/O, no store. Thread-safe. */
#ifndef LNK_PORTABLE_H
#define LNK_PORTABLE_H

#include <jansson.h>
#include <stddef.h>

#include "linkd/buf.h"

#define LNK_PORTABLE_ROWS_MAX 100000

/* The format names lnk_portable_import knows, NULL-terminated. */
extern const char *const lnk_portable_formats[];

/* Reads buf[0..len), an export in `format` ("shlink-csv", "shlink-json",
 * "yourls-csv", "yourls-json", "kutt-csv", "kutt-json"; docs/import-export.md
 * gives each one's shapes and field mapping), a UTF-8 BOM allowed. On return
 * *links is a new array of v1 link input objects (url, and where the source
 * had them code, title, tags, active, forward_query, valid_from,
 * valid_until, max_clicks, rules, created_at; times as RFC 3339 UTC
 * "YYYY-MM-DDTHH:MM:SSZ") and *errors a new array of
 * {"row": n, "field": "...", "detail": "..."}, both owned by the caller.
 * A row with a problem (no destination, an invalid URL, code or date, a
 * password that cannot be carried over) is left out and named in *errors
 * with its first problem; row n counts the data rows from 1 (a CSV header
 * is not a row; a CSV row with quoted newlines is one row). Returns LNK_OK
 * when the input could be read, even if every row failed (an empty input
 * is zero links); LNK_EINVAL when it cannot: an unknown format, invalid
 * JSON or CSV syntax, not the shape of that export, a required column
 * missing (then *links is empty and *errors says why, with row 0 or the row
 * where the syntax broke); LNK_ETOOBIG past LNK_PORTABLE_ROWS_MAX rows. */
int lnk_portable_import(const char *format, const char *buf, size_t len, json_t **links,
                        json_t **errors);

/* Appends the CSV header of lnk_portable_export_csv_row, CRLF-terminated:
 * id,code,url,title,tags,notes,active,redirect_type,valid_from,valid_until,
 * max_clicks,created_at,updated_at. LNK_ETOOBIG past out's maximum. */
int lnk_portable_export_csv_header(struct lnk_buf *out);

/* Appends a v1 link object as it is shown by the API as one RFC 4180 line,
 * CRLF-terminated, the columns of the header: strings as they are, numbers
 * in decimal, booleans as true/false, null or absent as an empty cell, tags
 * joined with '|'. A title, notes or tags cell that a spreadsheet would run
 * as a formula (one starting with = + - @, a tab or CR) gets a leading
 * apostrophe (OWASP's CSV injection advice); the other columns hold values
 * of closed alphabets and are written as they are. LNK_EINVAL when link is not an object or a field
 * has a type the model does not give it (nothing appended); LNK_ETOOBIG past
 * out's maximum, leaving out as it was. */
int lnk_portable_export_csv_row(const json_t *link, struct lnk_buf *out);

#endif
