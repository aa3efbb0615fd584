/* SPDX-License-Identifier: MIT */
/* The CSV reader: lnk_csv_next until it stops. Checks each record (1..64
 * fields inside the reader's scratch, line numbers rising and within the
 * input, the reader always advancing), that it stays stopped after an error,
 * and a round trip: the records read so far, written back with every field
 * quoted and CRLF ends, read back as the same records. */
#include <string.h>

#include "../fuzz.h"
#include "linkd/csv.h"
#include "linkd/err.h"

/* A growable output buffer for the re-encoded CSV. */
struct out {
    char *ptr;
    size_t len, cap;
};

static void out_put(struct out *o, const char *p, size_t n)
{
    if (o->len + n > o->cap) {
        size_t cap = o->cap ? o->cap : 256;
        while (cap < o->len + n)
            cap *= 2;
        o->ptr = realloc(o->ptr, cap);
        FUZZ_CHECK(o->ptr != NULL, "realloc");
        o->cap = cap;
    }
    memcpy(o->ptr + o->len, p, n);
    o->len += n;
}

/* Writes rec as one RFC 4180 line: every field quoted, quotes doubled. */
static void encode_record(struct out *o, const struct lnk_csv_record *rec)
{
    for (size_t i = 0; i < rec->n_fields; i++) {
        if (i > 0)
            out_put(o, ",", 1);
        out_put(o, "\"", 1);
        const struct lnk_str f = rec->fields[i];
        for (size_t j = 0; j < f.len; j++)
            out_put(o, f.ptr[j] == '"' ? "\"\"" : &f.ptr[j], f.ptr[j] == '"' ? 2 : 1);
        out_put(o, "\"", 1);
    }
    out_put(o, "\r\n", 2);
}

static size_t count_byte(const uint8_t *p, size_t n, uint8_t b)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        k += p[i] == b;
    return k;
}

static void check_record(const struct lnk_csv *c, const struct lnk_csv_record *rec)
{
    FUZZ_CHECK(rec->n_fields >= 1 && rec->n_fields <= LNK_CSV_FIELDS_MAX, "1..64 fields");
    size_t total = 0;
    for (size_t i = 0; i < rec->n_fields; i++) {
        const struct lnk_str f = rec->fields[i];
        FUZZ_CHECK(f.ptr >= c->scratch && f.len <= c->scratch_cap &&
                       (size_t)(f.ptr - c->scratch) <= c->scratch_cap - f.len,
                   "fields lie in the scratch buffer");
        total += f.len;
    }
    FUZZ_CHECK(total <= LNK_CSV_RECORD_MAX, "a record holds at most LNK_CSV_RECORD_MAX bytes");
    FUZZ_CHECK(c->err_col == 0, "no error column after a good record");
}

/* Reads the n records of data again, in step with those of their
 * re-encoding enc, and compares them. */
static void check_round_trip(const uint8_t *data, size_t size, const struct out *enc, size_t n)
{
    struct lnk_csv a, b;
    struct lnk_csv_record ra, rb;
    lnk_csv_init(&a, (const char *)data, size);
    lnk_csv_init(&b, enc->ptr ? enc->ptr : "", enc->len);
    for (size_t k = 0; k < n; k++) {
        FUZZ_CHECK(lnk_csv_next(&a, &ra) == LNK_OK, "the input reads the same twice");
        FUZZ_CHECK(lnk_csv_next(&b, &rb) == LNK_OK, "re-encoded records read back");
        FUZZ_CHECK(ra.n_fields == rb.n_fields, "same field count after the round trip");
        for (size_t i = 0; i < ra.n_fields; i++)
            FUZZ_CHECK(lnk_str_eq(ra.fields[i], rb.fields[i]), "same fields after the round trip");
    }
    FUZZ_CHECK(lnk_csv_next(&b, &rb) == LNK_EEOF, "nothing after the re-encoded records");
    lnk_csv_cleanup(&b);
    lnk_csv_cleanup(&a);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct lnk_csv c;
    struct lnk_csv_record rec;
    struct out enc = {0};
    size_t n = 0, prev_line = 0;
    const size_t max_line = 2 + count_byte(data, size, '\n');
    int rc;

    lnk_csv_init(&c, (const char *)data, size);
    const char *prev_p = c.p;
    while ((rc = lnk_csv_next(&c, &rec)) == LNK_OK) {
        check_record(&c, &rec);
        if (n == 0) {
            int col = lnk_csv_find_column(&rec, "username");
            FUZZ_CHECK(col == -1 || (col >= 0 && (size_t)col < rec.n_fields &&
                                     lnk_str_eq_cstr(lnk_str_trim(rec.fields[col]), "username")),
                       "find_column names a matching header field");
        }
        FUZZ_CHECK(c.p > prev_p && c.p <= c.end, "each record consumes input");
        FUZZ_CHECK(c.line > prev_line && c.line < max_line, "line numbers rise within the input");
        prev_p = c.p;
        prev_line = c.line;
        encode_record(&enc, &rec);
        n++;
    }
    FUZZ_CHECK(rc == LNK_EEOF || rc == LNK_EINVAL || rc == LNK_ETOOBIG, "documented codes only");
    if (rc != LNK_EEOF) {
        FUZZ_CHECK(c.err_col >= 1 && c.err_col <= LNK_CSV_FIELDS_MAX + 1,
                   "the error names a field");
        FUZZ_CHECK(c.line >= 1 && c.line < max_line, "the error names a line of the input");
    }
    FUZZ_CHECK(lnk_csv_next(&c, &rec) == LNK_EEOF, "the reader stays stopped");
    lnk_csv_cleanup(&c);

    /* Doubling quotes can push a record past the byte limit; only compare
     * when the re-encoding stays well inside it. */
    if (enc.len <= LNK_CSV_RECORD_MAX)
        check_round_trip(data, size, &enc, n);
    free(enc.ptr);
    return 0;
}
