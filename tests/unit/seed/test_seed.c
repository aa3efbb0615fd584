/* SPDX-License-Identifier: MIT */
/* Seed CSV parsers: hand-written bad input first (missing columns, bad text,
 * malformed records, every bad field, strict errors naming line and column,
 * lenient skips), then normal input, then the real seed files from
 * $LNK_SEED_DIR, compared value by value with what lnk_csv reads from the
 * same files (no seed value is written into this test). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "linkd/csv.h"
#include "linkd/err.h"
#include "linkd/json.h"
#include "linkd/seed.h"
#include "linkd/timefmt.h"

#define USERS_HDR  "id,username,email,created_at\n"
#define URLS_HDR   "id,user_id,short_code,original_url,title,is_active,created_at,updated_at\n"
#define EVENTS_HDR "id,url_id,user_id,event_type,timestamp,details\n"

struct parsed {
    struct lnk_arena arena;
    struct lnk_import_rows rows;
    int64_t skipped;
    char err[256];
};

static int users(struct parsed *p, const char *csv, enum lnk_seed_mode mode)
{
    lnk_arena_init(&p->arena);
    p->skipped = -1;
    return lnk_seed_parse_users(csv, strlen(csv), mode, &p->arena, &p->rows, &p->skipped, p->err,
                                sizeof(p->err));
}

static int urls(struct parsed *p, const char *csv)
{
    lnk_arena_init(&p->arena);
    return lnk_seed_parse_urls(csv, strlen(csv), &p->arena, &p->rows, p->err, sizeof(p->err));
}

static int events(struct parsed *p, const char *csv)
{
    lnk_arena_init(&p->arena);
    return lnk_seed_parse_events(csv, strlen(csv), &p->arena, &p->rows, p->err, sizeof(p->err));
}

static void done(struct parsed *p)
{
    lnk_arena_cleanup(&p->arena);
}

static bool err_is(const struct parsed *p, const char *want)
{
    if (strcmp(p->err, want) != 0) {
        print_error("err: \"%s\"\nwant: \"%s\"\n", p->err, want);
        return false;
    }
    return true;
}

static bool err_has(const struct parsed *p, const char *want)
{
    if (!strstr(p->err, want)) {
        print_error("err: \"%s\"\nwant substring: \"%s\"\n", p->err, want);
        return false;
    }
    return true;
}

/* ---- bad input: whole file ---- */

static void test_empty_file_has_no_header_and_is_rejected(void **state)
{
    (void)state;
    struct parsed p;
    CHECK(users(&p, "", LNK_SEED_LENIENT) == LNK_EINVAL, "empty users file rejected");
    CHECK(err_has(&p, "header"), "the error asks for a header");
    done(&p);
    CHECK(urls(&p, "\n\n") == LNK_EINVAL, "blank urls file rejected");
    done(&p);
    CHECK(events(&p, "") == LNK_EINVAL, "empty events file rejected");
    done(&p);
}

static void test_missing_required_column_is_rejected_in_both_modes(void **state)
{
    (void)state;
    struct parsed p;
    CHECK(users(&p, "id,email\n1,a@b.io\n", LNK_SEED_LENIENT) == LNK_EINVAL,
          "no username column, lenient");
    CHECK(err_has(&p, "missing required column 'username'"), "names the column");
    done(&p);
    CHECK(users(&p, "username,mail\nx,a@b.io\n", LNK_SEED_STRICT) == LNK_EINVAL,
          "no email column, strict");
    CHECK(err_has(&p, "'email'"), "names the column");
    done(&p);

    const char *url_cols[] = {"id",        "user_id",    "short_code", "original_url",
                              "is_active", "created_at", "updated_at"};
    for (size_t i = 0; i < 7; i++) {
        char hdr[256] = "";
        for (size_t j = 0; j < 7; j++) {
            if (j == i)
                continue;
            strncat(hdr, url_cols[j], sizeof(hdr) - strlen(hdr) - 2);
            strncat(hdr, ",", sizeof(hdr) - strlen(hdr) - 1);
        }
        strncat(hdr, "title\n", sizeof(hdr) - strlen(hdr) - 1);
        CHECK(urls(&p, hdr) == LNK_EINVAL, "every required urls column is required");
        CHECK(strstr(p.err, url_cols[i]) != NULL, "and named");
        done(&p);
    }
    const char *event_cols[] = {"id", "url_id", "event_type", "timestamp"};
    for (size_t i = 0; i < 4; i++) {
        char hdr[256] = "user_id,details";
        for (size_t j = 0; j < 4; j++) {
            if (j == i)
                continue;
            strncat(hdr, ",", sizeof(hdr) - strlen(hdr) - 1);
            strncat(hdr, event_cols[j], sizeof(hdr) - strlen(hdr) - 1);
        }
        strncat(hdr, "\n", sizeof(hdr) - strlen(hdr) - 1);
        CHECK(events(&p, hdr) == LNK_EINVAL, "every required events column is required");
        CHECK(strstr(p.err, event_cols[i]) != NULL, "and named");
        done(&p);
    }
}

static void test_non_utf8_and_nul_bytes_are_rejected_in_both_modes(void **state)
{
    (void)state;
    struct parsed p;
    CHECK(users(&p, USERS_HDR "1,ok,ok@x.io,2025-01-01 00:00:00\n2,bad\xff,b@x.io,\n",
                LNK_SEED_LENIENT) == LNK_EINVAL,
          "invalid UTF-8 rejects the file even in lenient mode");
    CHECK(err_is(&p, "line 3: not valid UTF-8"), "names the line");
    done(&p);
    CHECK(users(&p, USERS_HDR "1,\xc0\xaf,a@x.io,\n", LNK_SEED_STRICT) == LNK_EINVAL,
          "overlong UTF-8 rejected");
    done(&p);
    static const char with_nul[] = "username,email\nab\0c,a@x.io\n";
    lnk_arena_init(&p.arena);
    CHECK(lnk_seed_parse_users(with_nul, sizeof(with_nul) - 1, LNK_SEED_LENIENT, &p.arena, &p.rows,
                               &p.skipped, p.err, sizeof(p.err)) == LNK_EINVAL,
          "a NUL byte rejects the file");
    CHECK(err_is(&p, "line 2: contains a NUL byte"), "names the line");
    done(&p);
}

static void test_malformed_csv_record_is_rejected_with_its_line(void **state)
{
    (void)state;
    struct parsed p;
    CHECK(users(&p, USERS_HDR "1,a,a@x.io,\n2,\"b,b@x.io,\n3,c,c@x.io,\n", LNK_SEED_LENIENT) ==
              LNK_EINVAL,
          "an unterminated quote is an error even in lenient mode");
    CHECK(err_has(&p, "line 3, column 2 (username): malformed CSV"), "names line and column");
    done(&p);
    CHECK(events(&p, EVENTS_HDR "1,1,1,created,2025-01-01 00:00:00,\"{}\"x\n") == LNK_EINVAL,
          "junk after a closing quote");
    CHECK(err_has(&p, "line 2, column 6 (details)"), "names the details column");
    done(&p);
}

/* ---- bad input: users rows ---- */

static void test_strict_users_error_names_line_column_and_reason(void **state)
{
    (void)state;
    struct parsed p;
    CHECK(users(&p, USERS_HDR "1,a,a@x.io,2025-01-01 00:00:00\n2, ,b@x.io,2025-01-01 00:00:00\n",
                LNK_SEED_STRICT) == LNK_EINVAL,
          "a blank username is an error in strict mode");
    CHECK(err_is(&p, "line 3, column 2 (username): empty"), "exact message");
    CHECK(p.rows.n == 0, "no rows on error");
    done(&p);

    struct {
        const char *csv, *err;
    } cases[] = {
        {USERS_HDR "0,a,a@x.io,\n", "line 2, column 1 (id): not a positive integer"},
        {USERS_HDR "-4,a,a@x.io,\n", "line 2, column 1 (id): not a positive integer"},
        {USERS_HDR "x1,a,a@x.io,\n", "line 2, column 1 (id): not a positive integer"},
        {USERS_HDR "99999999999999999999,a,a@x.io,\n",
         "line 2, column 1 (id): greater than 9007199254740991 (2^53 - 1, the largest id JSON "
         "clients read exactly)"},
        {USERS_HDR "1,a,,\n", "line 2, column 3 (email): empty"},
        {USERS_HDR "1,a,nobody.example.com,\n", "line 2, column 3 (email): e-mail has no '@'"},
        {USERS_HDR "1,a,a@x.io,yesterday\n",
         "line 2, column 4 (created_at): not a timestamp (YYYY-MM-DD HH:MM:SS)"},
        {USERS_HDR "1,a,a@x.io,2025-02-30 00:00:00\n",
         "line 2, column 4 (created_at): not a timestamp (YYYY-MM-DD HH:MM:SS)"},
        {"email,username\n\"a@x.io\",\n", "line 2, column 2 (username): empty"},
        {USERS_HDR "1,a\n", "line 2, column 3 (email): empty"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        CHECK(users(&p, cases[i].csv, LNK_SEED_STRICT) == LNK_EINVAL, "bad users row");
        CHECK(err_is(&p, cases[i].err), "strict error message");
        done(&p);
    }

    char csv[512];
    char name[300];
    memset(name, 'n', 256);
    name[256] = '\0';
    snprintf(csv, sizeof(csv), "username,email\n%s,a@x.io\n", name);
    CHECK(users(&p, csv, LNK_SEED_STRICT) == LNK_EINVAL, "256-character username rejected");
    CHECK(err_is(&p, "line 2, column 1 (username): longer than 255 characters"), "message");
    done(&p);
}

static void test_lenient_users_skip_and_count_bad_rows(void **state)
{
    (void)state;
    struct parsed p;
    const char *csv = USERS_HDR "1,ok1,ok1@x.io,2025-01-01 00:00:00\n"
                                "2,,e2@x.io,2025-01-01 00:00:00\n"   /* empty username */
                                "3,  ,e3@x.io,2025-01-01 00:00:00\n" /* blank username */
                                "4,u4,,2025-01-01 00:00:00\n"        /* empty email */
                                "5,u5,\t ,2025-01-01 00:00:00\n"     /* blank email */
                                "6,u6,no-at-sign,2025-01-01 00:00:00\n"
                                "zero,u7,e7@x.io,2025-01-01 00:00:00\n" /* bad id */
                                "0,u8,e8@x.io,2025-01-01 00:00:00\n"    /* id 0 */
                                "9,u9,e9@x.io,not-a-date\n"             /* bad created_at */
                                "10,ok2,ok2@x.io,2025-01-02 00:00:00\n";
    CHECK(users(&p, csv, LNK_SEED_LENIENT) == LNK_OK, "lenient parse succeeds");
    CHECK(p.skipped == 8, "eight bad rows skipped and counted");
    CHECK(p.rows.n == 2, "two good rows kept");
    CHECK(strcmp(p.rows.users[0].username, "ok1") == 0 && p.rows.users[0].id == 1,
          "first good row");
    CHECK(strcmp(p.rows.users[1].username, "ok2") == 0 && p.rows.users[1].id == 10,
          "last good row");
    done(&p);

    CHECK(users(&p, csv, LNK_SEED_STRICT) == LNK_EINVAL, "the same file fails in strict mode");
    CHECK(err_is(&p, "line 3, column 2 (username): empty"), "at the first bad row");
    done(&p);
}

/* Names that hide or rewrite characters (docs/security.md#names) are an
 * error in both modes: a bulk upload refuses the file instead of skipping
 * the row, so nobody mistakes a partial import for a clean one. */
static void test_names_with_hidden_characters_are_errors_in_both_modes(void **state)
{
    (void)state;
    struct parsed p;
    struct {
        const char *csv, *err;
    } cases[] = {
        {USERS_HDR "1,ok,ok@x.io,\n2,ad\xe2\x80\xaemin,a@x.io,\n",
         "line 3, column 2 (username): must not contain bidirectional formatting characters"},
        {USERS_HDR "1,\"a\rb\",a@x.io,\n",
         "line 2, column 2 (username): must not contain control characters"},
        {USERS_HDR "1,\"a\nb\",a@x.io,\n",
         "line 2, column 2 (username): must not contain control characters"},
        {USERS_HDR "1,a\xc2\x85,a@x.io,\n",
         "line 2, column 2 (username): must not contain control characters"},
        {USERS_HDR "1,a\xef\xbf\xbf,a@x.io,\n",
         "line 2, column 2 (username): must not contain Unicode noncharacters"},
        {USERS_HDR "1,a,\xef\xbb\xbf"
                   "a@x.io,\n",
         "line 2, column 3 (email): must not contain U+FEFF"},
        {USERS_HDR "1,a,a\x01@x.io,\n",
         "line 2, column 3 (email): must not contain control characters"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        CHECK(users(&p, cases[i].csv, LNK_SEED_STRICT) == LNK_EINVAL, "strict: an error");
        CHECK(err_has(&p, cases[i].err), "naming line, column and character");
        done(&p);
        CHECK(users(&p, cases[i].csv, LNK_SEED_LENIENT) == LNK_EINVAL,
              "lenient: the upload is refused, not the row skipped");
        CHECK(err_has(&p, cases[i].err), "with the same message");
        CHECK(p.rows.n == 0, "no rows on error");
        done(&p);
    }

    CHECK(urls(&p, URLS_HDR "1,1,abc,https://a.io/,T\xe2\x81\xa6itle,True,2025-01-01 00:00:00,"
                            "2025-01-01 00:00:00\n") == LNK_EINVAL,
          "a title with an isolate is an error");
    CHECK(err_has(&p, "line 2, column 5 (title): must not contain bidirectional"), "named");
    done(&p);
}

/* Ids past 2^53 - 1 cannot reach a JSON client exactly, and one near 2^63
 * exhausts the store's id space (docs/security.md#ids): every id column of
 * every file refuses them, and a bulk upload refuses the file rather than
 * skipping the row. 2^53 - 1 itself is an id like any other. */
static void test_ids_past_2_to_the_53_are_errors_in_every_file_and_mode(void **state)
{
    (void)state;
    struct parsed p;
    const char *big[] = {"9007199254740992", "9223372036854775807", "99999999999999999999"};
    for (size_t i = 0; i < sizeof(big) / sizeof(big[0]); i++) {
        char csv[512];
        snprintf(csv, sizeof(csv), USERS_HDR "1,ok,ok@x.io,\n%s,maxid,maxid@ex.com,\n", big[i]);
        CHECK(users(&p, csv, LNK_SEED_STRICT) == LNK_EINVAL, "strict: an error");
        CHECK(err_has(&p, "line 3, column 1 (id): greater than 9007199254740991"),
              "naming line, column and the limit");
        done(&p);
        CHECK(users(&p, csv, LNK_SEED_LENIENT) == LNK_EINVAL,
              "lenient: the upload is refused, not the row skipped");
        CHECK(err_has(&p, "line 3, column 1 (id): greater than 9007199254740991"), "same message");
        done(&p);
    }

    CHECK(users(&p, USERS_HDR "9007199254740991,maxid,maxid@ex.com,\n", LNK_SEED_LENIENT) ==
                  LNK_OK &&
              p.rows.n == 1 && p.rows.users[0].id == INT64_C(9007199254740991),
          "2^53 - 1 is a valid id");
    done(&p);

#define TS "2025-01-01 00:00:00"
    struct {
        const char *csv, *err;
        bool is_urls;
    } cases[] = {
        {URLS_HDR "9007199254740992,1,abc,https://a.io/,T,True," TS "," TS "\n",
         "line 2, column 1 (id): greater than 9007199254740991", true},
        {URLS_HDR "1,9007199254740992,abc,https://a.io/,T,True," TS "," TS "\n",
         "line 2, column 2 (user_id): greater than 9007199254740991", true},
        {EVENTS_HDR "9007199254740992,1,1,created," TS ",{}\n",
         "line 2, column 1 (id): greater than 9007199254740991", false},
        {EVENTS_HDR "1,9223372036854775807,1,created," TS ",{}\n",
         "line 2, column 2 (url_id): greater than 9007199254740991", false},
        {EVENTS_HDR "1,1,18446744073709551616,created," TS ",{}\n",
         "line 2, column 3 (user_id): greater than 9007199254740991", false},
    };
#undef TS
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int rc = cases[i].is_urls ? urls(&p, cases[i].csv) : events(&p, cases[i].csv);
        CHECK(rc == LNK_EINVAL, "an id past 2^53 - 1 fails the file");
        CHECK(err_has(&p, cases[i].err), "naming line, column and the limit");
        done(&p);
    }
}

/* ---- bad input: urls rows ---- */

static void test_strict_urls_errors_name_line_column_and_reason(void **state)
{
    (void)state;
    struct {
        const char *row, *err;
    } cases[] = {
        {"1,1,abc123,hello,T,True,2025-01-01 00:00:00,2025-01-01 00:00:00",
         "column 4 (original_url): not an http(s) URL"},
        {"1,1,abc123,example.com,T,True,2025-01-01 00:00:00,2025-01-01 00:00:00",
         "column 4 (original_url): not an http(s) URL"},
        {"1,1,abc123,javascript:alert(1),T,True,2025-01-01 00:00:00,2025-01-01 00:00:00",
         "column 4 (original_url): not an http(s) URL"},
        {"1,1,abc123,ftp://x.com,T,True,2025-01-01 00:00:00,2025-01-01 00:00:00",
         "column 4 (original_url): not an http(s) URL"},
        {"1,1,abc123,https:///p,T,True,2025-01-01 00:00:00,2025-01-01 00:00:00",
         "column 4 (original_url): URL has no host"},
        {"1,1,abc123,\"https://x.com/a b\",T,True,2025-01-01 00:00:00,2025-01-01 00:00:00",
         "column 4 (original_url): URL contains white space or control characters"},
        {"1,1,abc123,https://x.com/caf\xc3\xa9,T,True,2025-01-01 00:00:00,2025-01-01 00:00:00",
         "column 4 (original_url): URL contains non-ASCII characters"},
        {"1,1,abc123,,T,True,2025-01-01 00:00:00,2025-01-01 00:00:00",
         "column 4 (original_url): empty URL"},
        {"0,1,abc123,https://x.com,T,True,2025-01-01 00:00:00,2025-01-01 00:00:00",
         "column 1 (id): not a positive integer"},
        {",1,abc123,https://x.com,T,True,2025-01-01 00:00:00,2025-01-01 00:00:00",
         "column 1 (id): missing value"},
        {"1,-1,abc123,https://x.com,T,True,2025-01-01 00:00:00,2025-01-01 00:00:00",
         "column 2 (user_id): not a positive integer"},
        {"1,one,abc123,https://x.com,T,True,2025-01-01 00:00:00,2025-01-01 00:00:00",
         "column 2 (user_id): not a positive integer"},
        {"1,1,,https://x.com,T,True,2025-01-01 00:00:00,2025-01-01 00:00:00",
         "column 3 (short_code): missing value"},
        {"1,1,ab/c,https://x.com,T,True,2025-01-01 00:00:00,2025-01-01 00:00:00",
         "column 3 (short_code): not a short code"},
        {"1,1,abc123,https://x.com,T,maybe,2025-01-01 00:00:00,2025-01-01 00:00:00",
         "column 6 (is_active): not a boolean (True/False)"},
        {"1,1,abc123,https://x.com,T,yes,2025-01-01 00:00:00,2025-01-01 00:00:00",
         "column 6 (is_active): not a boolean (True/False)"},
        {"1,1,abc123,https://x.com,T,,2025-01-01 00:00:00,2025-01-01 00:00:00",
         "column 6 (is_active): not a boolean (True/False)"},
        {"1,1,abc123,https://x.com,T,True,2025-13-01 00:00:00,2025-01-01 00:00:00",
         "column 7 (created_at): not a timestamp"},
        {"1,1,abc123,https://x.com,T,True,2025-01-01 00:00:00,",
         "column 8 (updated_at): missing value"},
        {"1,1,abc123,https://x.com,T,True,2025-01-01 00:00:00",
         "column 8 (updated_at): missing value"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char csv[1024];
        snprintf(csv, sizeof(csv),
                 "%s1,1,ok0001,https://ok.io/,T,True,2025-01-01 00:00:00,"
                 "2025-01-01 00:00:00\n%s\n",
                 URLS_HDR, cases[i].row);
        struct parsed p;
        CHECK(urls(&p, csv) == LNK_EINVAL, "a bad urls row fails the file");
        char want[256];
        snprintf(want, sizeof(want), "line 3, %s", cases[i].err);
        CHECK(err_has(&p, want), "the error names line 3, the column and the reason");
        CHECK(p.rows.n == 0, "no rows on error");
        done(&p);
    }

    char csv[1024];
    char code[80];
    memset(code, 'a', 65);
    code[65] = '\0';
    snprintf(csv, sizeof(csv),
             "%s1,1,%s,https://x.com,T,True,2025-01-01 00:00:00,2025-01-01 "
             "00:00:00\n",
             URLS_HDR, code);
    struct parsed p;
    CHECK(urls(&p, csv) == LNK_EINVAL, "a 65-character short code is rejected");
    done(&p);
}

/* ---- bad input: events rows ---- */

static void test_strict_events_errors_name_line_column_and_reason(void **state)
{
    (void)state;
    struct {
        const char *row, *err;
    } cases[] = {
        {"1,1,1,created,2025-01-01 00:00:00,\"[1,2]\"", "column 6 (details): not a JSON object"},
        {"1,1,1,created,2025-01-01 00:00:00,\"\"\"text\"\"\"",
         "column 6 (details): not a JSON object"},
        {"1,1,1,created,2025-01-01 00:00:00,null", "column 6 (details): not a JSON object"},
        {"1,1,1,created,2025-01-01 00:00:00,\"{bad\"", "column 6 (details): invalid JSON"},
        {"1,1,1,created,2025-01-01 00:00:00,\"{\"\"a\"\":1,\"\"a\"\":2}\"",
         "column 6 (details): invalid JSON"},
        {"1,1,1,created,2025-01-01 00:00:00,[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["
         "[[[[[[[[[[[[[[[[[[[[",
         "column 6 (details): JSON nested too deeply"},
        {"1,1,1,,2025-01-01 00:00:00,{}", "column 4 (event_type): empty"},
        {"1,1,1,created,,{}", "column 5 (timestamp): missing value"},
        {"1,1,1,created,01/02/2025,{}", "column 5 (timestamp): not a timestamp"},
        {"1,0,1,created,2025-01-01 00:00:00,{}", "column 2 (url_id): not a positive integer"},
        {"1,1,x,created,2025-01-01 00:00:00,{}", "column 3 (user_id): not a positive integer"},
        {"a,1,1,created,2025-01-01 00:00:00,{}", "column 1 (id): not a positive integer"},
        {"1,1,1,eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee,2025-01-01 "
         "00:00:00,{}",
         "column 4 (event_type): longer than 64 characters"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char csv[1024];
        snprintf(csv, sizeof(csv), "%s1,1,1,created,2025-01-01 00:00:00,{}\n%s\n", EVENTS_HDR,
                 cases[i].row);
        struct parsed p;
        CHECK(events(&p, csv) == LNK_EINVAL, "a bad events row fails the file");
        char want[256];
        snprintf(want, sizeof(want), "line 3, %s", cases[i].err);
        CHECK(err_has(&p, want), "the error names line 3, the column and the reason");
        done(&p);
    }
}

static void test_error_line_counts_quoted_newlines(void **state)
{
    (void)state;
    struct parsed p;
    const char *csv = EVENTS_HDR "1,1,1,created,2025-01-01 00:00:00,\"{\n\"\"a\"\":\n1}\"\n"
                                 "2,1,1,created,2025-01-01 00:00:00,\"[\n]\"\n";
    CHECK(events(&p, csv) == LNK_EINVAL, "second record is bad");
    CHECK(err_is(&p, "line 5, column 6 (details): not a JSON object"),
          "its line counts the newlines inside the first record's quotes");
    done(&p);
}

/* ---- normal input ---- */

static void test_users_accept_free_column_order_extra_columns_and_defaults(void **state)
{
    (void)state;
    struct parsed p;
    const char *csv = "\xEF\xBB\xBF"
                      "email , extra,username,id\r\n"
                      " a@x.io ,zzz,  alice ,7\r\n"
                      "b@x.io,,bob,\r\n"
                      "\r\n";
    int64_t before = lnk_ts_now();
    CHECK(users(&p, csv, LNK_SEED_STRICT) == LNK_OK, "parses");
    int64_t after = lnk_ts_now();
    CHECK(p.rows.n == 2 && p.skipped == 0, "two rows, none skipped");
    CHECK(p.rows.has_id[0] && p.rows.users[0].id == 7, "a given id is kept");
    CHECK(!p.rows.has_id[1], "an empty id means insert");
    CHECK(strcmp(p.rows.users[0].username, "alice") == 0 &&
              strcmp(p.rows.users[0].email, "a@x.io") == 0,
          "values are trimmed, columns found by name");
    CHECK(p.rows.users[0].created_at >= before && p.rows.users[1].created_at <= after,
          "created_at defaults to now");
    CHECK(p.rows.urls == NULL && p.rows.events == NULL, "only users are filled");
    done(&p);

    CHECK(users(&p, "username,email\n", LNK_SEED_LENIENT) == LNK_OK && p.rows.n == 0 &&
              p.skipped == 0,
          "a header without rows is zero rows");
    done(&p);

    CHECK(users(&p, "created_at,username,email\n2024-02-29T23:59:59Z,u,u@x.io\n",
                LNK_SEED_STRICT) == LNK_OK,
          "ISO created_at accepted");
    CHECK(p.rows.users[0].created_at == 1709251199 && !p.rows.has_id[0],
          "leap-day timestamp; no id column means insert");
    done(&p);
}

static void test_urls_accept_boolean_spellings_and_null_titles(void **state)
{
    (void)state;
    struct parsed p;
    const char *csv = URLS_HDR
        "1,2,abcDEF,https://x.com/a?q=1#f,A title,True,2025-01-01 00:00:00,2025-01-02 00:00:00\n"
        "2,2,ab_-9,http://[::1]:8080/,,FALSE,2025-01-01 00:00:00,2025-01-02 00:00:00\n"
        "3,2,c,https://x.com,\"Hi, there\",true,2025-01-01T00:00:00,2025-01-02 00:00:00\n"
        "4,2,d,https://x.com,t,0,2025-01-01 00:00:00,2025-01-02 00:00:00\n"
        "5,2,e,https://x.com,t,1,2025-01-01 00:00:00,2025-01-02 00:00:00\n";
    CHECK(urls(&p, csv) == LNK_OK, "parses");
    CHECK(p.rows.n == 5, "five rows");
    struct lnk_url *u = p.rows.urls;
    CHECK(u[0].id == 1 && u[0].user_id == 2 && strcmp(u[0].short_code, "abcDEF") == 0 &&
              strcmp(u[0].original_url, "https://x.com/a?q=1#f") == 0 &&
              strcmp(u[0].title, "A title") == 0 && u[0].is_active,
          "first row values");
    CHECK(u[0].created_at == 1735689600 && u[0].updated_at == 1735776000, "timestamps");
    CHECK(u[1].title == NULL && !u[1].is_active, "empty title is null; FALSE");
    CHECK(strcmp(u[2].title, "Hi, there") == 0 && u[2].is_active, "quoted title; true");
    CHECK(!u[3].is_active && u[4].is_active, "0 and 1");
    done(&p);

    CHECK(urls(&p,
               "id,user_id,short_code,original_url,is_active,created_at,updated_at\n"
               "1,1,abc,https://x.com,True,2025-01-01 00:00:00,2025-01-01 00:00:00\n") == LNK_OK,
          "title column is optional");
    CHECK(p.rows.n == 1 && p.rows.urls[0].title == NULL, "absent title is null");
    done(&p);
}

static void test_events_store_compact_details_and_null_user(void **state)
{
    (void)state;
    struct parsed p;
    const char *csv = EVENTS_HDR
        "1,3,,click,2025-01-01 00:00:00,\"{ \"\"b\"\" : 1, \"\"a\"\" : \"\"caf\xc3\xa9\"\" }\"\n"
        "2,3,4,updated,2025-01-01 00:00:00,\n"
        "3,3,4,deleted,2025-01-01 00:00:00,  \n";
    CHECK(events(&p, csv) == LNK_OK, "parses");
    CHECK(p.rows.n == 3, "three rows");
    struct lnk_event *e = p.rows.events;
    CHECK(e[0].user_id == 0, "empty user_id is null (0)");
    CHECK(strcmp(e[0].details, "{\"b\":1,\"a\":\"caf\xc3\xa9\"}") == 0,
          "details stored compact, key order and UTF-8 kept");
    CHECK(strcmp(e[1].details, "{}") == 0 && strcmp(e[2].details, "{}") == 0,
          "empty details are {}");
    CHECK(e[1].user_id == 4 && strcmp(e[1].event_type, "updated") == 0, "other fields");
    done(&p);

    CHECK(events(&p, "event_type,id,url_id,timestamp\nclick,1,2,2025-01-01 00:00:00\n") == LNK_OK,
          "user_id and details columns are optional");
    CHECK(p.rows.events[0].user_id == 0 && strcmp(p.rows.events[0].details, "{}") == 0,
          "defaults: null user, {} details");
    done(&p);
}

/* ---- the real seed files ---- */

static char *read_seed(const char *name, size_t *len)
{
    const char *dir = getenv("LNK_SEED_DIR");
    if (!dir)
        return NULL;
    char path[1024];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)size + 1);
    *len = fread(buf, 1, (size_t)size, f);
    buf[*len] = '\0';
    fclose(f);
    return buf;
}

/* The oracle: the file's records as lnk_csv reads them, header first. */
struct table {
    size_t n_rows, n_cols;
    char ***cells; /* [row][col], row 0 = header */
};

static struct table read_table(const char *data, size_t len)
{
    struct table t = {0, 0, NULL};
    struct lnk_csv c;
    struct lnk_csv_record r;
    size_t cap = 0;
    lnk_csv_init(&c, data, len);
    while (lnk_csv_next(&c, &r) == LNK_OK) {
        if (t.n_rows == cap) {
            cap = cap ? cap * 2 : 64;
            t.cells = realloc(t.cells, cap * sizeof(*t.cells));
        }
        if (t.n_rows == 0)
            t.n_cols = r.n_fields;
        char **row = calloc(t.n_cols, sizeof(*row));
        for (size_t i = 0; i < t.n_cols; i++) {
            struct lnk_str f = i < r.n_fields ? r.fields[i] : LNK_STR("");
            row[i] = strndup(f.ptr, f.len);
        }
        t.cells[t.n_rows++] = row;
    }
    lnk_csv_cleanup(&c);
    return t;
}

static const char *cell(const struct table *t, size_t row, const char *col)
{
    for (size_t i = 0; i < t->n_cols; i++)
        if (strcmp(t->cells[0][i], col) == 0)
            return t->cells[row][i];
    return NULL;
}

static int64_t cell_i64(const struct table *t, size_t row, const char *col)
{
    const char *s = cell(t, row, col);
    return s && *s ? strtoll(s, NULL, 10) : 0;
}

static int64_t cell_ts(const struct table *t, size_t row, const char *col)
{
    const char *s = cell(t, row, col);
    int64_t v = -1;
    if (s)
        lnk_ts_parse(s, strlen(s), &v);
    return v;
}

static void free_table(struct table *t)
{
    for (size_t r = 0; r < t->n_rows; r++) {
        for (size_t i = 0; i < t->n_cols; i++)
            free(t->cells[r][i]);
        free(t->cells[r]);
    }
    free(t->cells);
}

static int setup_seed(void **state)
{
    (void)state;
    if (!getenv("LNK_SEED_DIR")) {
        print_error("LNK_SEED_DIR is not set\n");
        return -1;
    }
    return 0;
}

static void test_seed_users_parse_to_the_file_values(void **state)
{
    (void)state;
    size_t len;
    char *data = read_seed("users.csv", &len);
    CHECK(data != NULL, "users.csv is readable");
    struct table t = read_table(data, len);
    CHECK(t.n_rows > 1, "users.csv has rows");
    for (int m = 0; m < 2; m++) {
        struct parsed p;
        lnk_arena_init(&p.arena);
        CHECK(lnk_seed_parse_users(data, len, m ? LNK_SEED_LENIENT : LNK_SEED_STRICT, &p.arena,
                                   &p.rows, &p.skipped, p.err, sizeof(p.err)) == LNK_OK,
              "seed users parse in both modes");
        CHECK(p.rows.n == t.n_rows - 1 && p.skipped == 0, "one row per record, none skipped");
        for (size_t i = 0; i < p.rows.n; i++) {
            const struct lnk_user *u = &p.rows.users[i];
            CHECK(p.rows.has_id[i] && u->id == cell_i64(&t, i + 1, "id"), "id kept");
            CHECK(strcmp(u->username, cell(&t, i + 1, "username")) == 0, "username");
            CHECK(strcmp(u->email, cell(&t, i + 1, "email")) == 0, "email");
            CHECK(u->created_at == cell_ts(&t, i + 1, "created_at"), "created_at");
        }
        done(&p);
    }
    free_table(&t);
    free(data);
}

static void test_seed_urls_parse_to_the_file_values(void **state)
{
    (void)state;
    size_t len;
    char *data = read_seed("urls.csv", &len);
    CHECK(data != NULL, "urls.csv is readable");
    struct table t = read_table(data, len);
    struct parsed p;
    lnk_arena_init(&p.arena);
    CHECK(lnk_seed_parse_urls(data, len, &p.arena, &p.rows, p.err, sizeof(p.err)) == LNK_OK,
          "seed urls parse");
    CHECK(t.n_rows > 1 && p.rows.n == t.n_rows - 1, "one row per record");
    size_t active = 0, want_active = 0;
    for (size_t i = 0; i < p.rows.n; i++) {
        const struct lnk_url *u = &p.rows.urls[i];
        size_t r = i + 1;
        CHECK(u->id == cell_i64(&t, r, "id") && u->user_id == cell_i64(&t, r, "user_id"), "ids");
        CHECK(strcmp(u->short_code, cell(&t, r, "short_code")) == 0, "short_code");
        CHECK(strcmp(u->original_url, cell(&t, r, "original_url")) == 0, "original_url");
        CHECK(u->title && strcmp(u->title, cell(&t, r, "title")) == 0, "title");
        CHECK(u->created_at == cell_ts(&t, r, "created_at") &&
                  u->updated_at == cell_ts(&t, r, "updated_at"),
              "timestamps");
        active += u->is_active;
        want_active += strcmp(cell(&t, r, "is_active"), "True") == 0;
    }
    CHECK(active == want_active, "is_active matches the True/False column");
    done(&p);
    free_table(&t);
    free(data);
}

static void test_seed_events_parse_to_the_file_values(void **state)
{
    (void)state;
    size_t len;
    char *data = read_seed("events.csv", &len);
    CHECK(data != NULL, "events.csv is readable");
    struct table t = read_table(data, len);
    struct parsed p;
    lnk_arena_init(&p.arena);
    CHECK(lnk_seed_parse_events(data, len, &p.arena, &p.rows, p.err, sizeof(p.err)) == LNK_OK,
          "seed events parse");
    CHECK(t.n_rows > 1 && p.rows.n == t.n_rows - 1, "one row per record");
    for (size_t i = 0; i < p.rows.n; i++) {
        const struct lnk_event *e = &p.rows.events[i];
        size_t r = i + 1;
        CHECK(e->id == cell_i64(&t, r, "id") && e->url_id == cell_i64(&t, r, "url_id") &&
                  e->user_id == cell_i64(&t, r, "user_id"),
              "ids");
        CHECK(strcmp(e->event_type, cell(&t, r, "event_type")) == 0, "event_type");
        CHECK(e->timestamp == cell_ts(&t, r, "timestamp"), "timestamp");
        json_t *want = json_loads(cell(&t, r, "details"), 0, NULL);
        json_t *got = json_loads(e->details, 0, NULL);
        CHECK(json_is_object(got) && json_equal(want, got), "details hold the same object");
        CHECK(!strchr(e->details, '\n') && !strstr(e->details, "\": "), "details are compact");
        json_decref(want);
        json_decref(got);
    }
    done(&p);
    free_table(&t);
    free(data);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_empty_file_has_no_header_and_is_rejected),
        cmocka_unit_test(test_missing_required_column_is_rejected_in_both_modes),
        cmocka_unit_test(test_non_utf8_and_nul_bytes_are_rejected_in_both_modes),
        cmocka_unit_test(test_malformed_csv_record_is_rejected_with_its_line),
        cmocka_unit_test(test_strict_users_error_names_line_column_and_reason),
        cmocka_unit_test(test_lenient_users_skip_and_count_bad_rows),
        cmocka_unit_test(test_names_with_hidden_characters_are_errors_in_both_modes),
        cmocka_unit_test(test_ids_past_2_to_the_53_are_errors_in_every_file_and_mode),
        cmocka_unit_test(test_strict_urls_errors_name_line_column_and_reason),
        cmocka_unit_test(test_strict_events_errors_name_line_column_and_reason),
        cmocka_unit_test(test_error_line_counts_quoted_newlines),
        cmocka_unit_test(test_users_accept_free_column_order_extra_columns_and_defaults),
        cmocka_unit_test(test_urls_accept_boolean_spellings_and_null_titles),
        cmocka_unit_test(test_events_store_compact_details_and_null_user),
        cmocka_unit_test_setup(test_seed_users_parse_to_the_file_values, setup_seed),
        cmocka_unit_test_setup(test_seed_urls_parse_to_the_file_values, setup_seed),
        cmocka_unit_test_setup(test_seed_events_parse_to_the_file_values, setup_seed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
