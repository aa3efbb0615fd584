/* SPDX-License-Identifier: MIT */
/* Import from Shlink, YOURLS and Kutt exports (samples in the shapes those
 * projects write, docs/import-export.md) and CSV export. Bad input first
 * (unknown format, broken files, wrong shapes), then each format field by
 * field with its rejected rows, then BOM, empty files, quoted newlines, and
 * the export read back with the CSV reader. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "linkd/csv.h"
#include "linkd/err.h"
#include "linkd/portable.h"

struct result {
    int rc;
    json_t *links, *errors;
};

static struct result run(const char *format, const char *data)
{
    struct result r;
    r.rc = lnk_portable_import(format, data, strlen(data), &r.links, &r.errors);
    return r;
}

static void done(struct result *r)
{
    json_decref(r->links);
    json_decref(r->errors);
}

static bool str_is(const json_t *obj, const char *key, const char *want)
{
    json_t *v = json_object_get(obj, key);
    if (!json_is_string(v) || strcmp(json_string_value(v), want) != 0) {
        print_error("%s: got %s, want %s\n", key, v ? json_dumps(v, JSON_ENCODE_ANY) : "(absent)",
                    want);
        return false;
    }
    return true;
}

static bool json_is(const json_t *v, const char *want_json)
{
    json_t *want = json_loads(want_json, JSON_DECODE_ANY, NULL);
    bool eq = want && v && json_equal(v, want);
    if (!eq) {
        char *got = v ? json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT) : NULL;
        print_error("got %s, want %s\n", got ? got : "(absent)", want_json);
        free(got);
    }
    json_decref(want);
    return eq;
}

/* The error of data row `row`, or NULL. */
static json_t *error_of(const struct result *r, json_int_t row)
{
    size_t i;
    json_t *e;
    json_array_foreach(r->errors, i, e)
    {
        if (json_integer_value(json_object_get(e, "row")) == row)
            return e;
    }
    return NULL;
}

static bool error_names(const struct result *r, json_int_t row, const char *field)
{
    json_t *e = error_of(r, row);
    return e && str_is(e, "field", field) && json_string_length(json_object_get(e, "detail")) > 0;
}

/* ---- bad input --------------------------------------------------------- */

static void test_unknown_format_is_refused(void **state)
{
    (void)state;
    struct result r = run("bitly-csv", "a,b\n");
    CHECK(r.rc == LNK_EINVAL, "unknown format refused");
    CHECK(json_array_size(r.links) == 0 && error_names(&r, 0, "format"), "error names format");
    done(&r);
    r = run(NULL, "");
    CHECK(r.rc == LNK_EINVAL && json_array_size(r.errors) == 1, "NULL format refused");
    done(&r);
}

static void test_broken_files_are_refused_with_where(void **state)
{
    (void)state;
    struct result r = run("shlink-csv", "longUrl,shortCode\nhttps://a.example/,abc\n"
                                        "https://b.example/,\"open\n");
    CHECK(r.rc == LNK_EINVAL, "an unterminated quote fails the file");
    CHECK(json_array_size(r.links) == 0, "no links from a broken file");
    json_t *e = error_of(&r, 2);
    CHECK(e && strstr(json_string_value(json_object_get(e, "detail")), "line 3") != NULL,
          "the error says row 2, line 3");
    done(&r);

    r = run("kutt-json", "{\"data\": [");
    CHECK(r.rc == LNK_EINVAL && error_names(&r, 0, ""), "invalid JSON refused");
    done(&r);
    r = run("shlink-json", "{\"shortUrls\": {\"pagination\": {}}}");
    CHECK(r.rc == LNK_EINVAL && error_names(&r, 0, ""), "no data array: not this export");
    done(&r);
    r = run("yourls-json", "{\"statusCode\": 200}");
    CHECK(r.rc == LNK_EINVAL, "YOURLS JSON without links refused");
    done(&r);
    r = run("shlink-csv", "shortCode,title\nabc,x\n");
    CHECK(r.rc == LNK_EINVAL && error_names(&r, 0, "longurl"), "no long URL column refused");
    done(&r);
    r = run("yourls-csv", "keyword,title\nabc,x\n");
    CHECK(r.rc == LNK_EINVAL && error_names(&r, 0, "url"), "no url/target column refused");
    done(&r);
    r = run("kutt-json", "[1, {\"target\": \"https://ok.example/\"}]");
    CHECK(r.rc == LNK_OK && json_array_size(r.links) == 1 && error_names(&r, 1, ""),
          "a row that is not an object is that row's error");
    done(&r);
}

static void test_empty_files_have_no_links(void **state)
{
    (void)state;
    for (size_t i = 0; lnk_portable_formats[i]; i++) {
        struct result r = run(lnk_portable_formats[i], "");
        CHECK(r.rc == LNK_OK && json_array_size(r.links) == 0 && json_array_size(r.errors) == 0,
              "an empty file is zero links, no error");
        done(&r);
        r = run(lnk_portable_formats[i], "\xEF\xBB\xBF\r\n");
        CHECK(r.rc == LNK_OK && json_array_size(r.links) == 0, "a BOM and a newline: zero links");
        done(&r);
    }
    struct result r = run("shlink-csv", "createdAt,shortCode,longUrl\r\n");
    CHECK(r.rc == LNK_OK && json_array_size(r.links) == 0, "a header alone: zero links");
    done(&r);
}

/* ---- Shlink ------------------------------------------------------------ */

/* shlink-web-component's "Export" button: papaparse over
 * {createdAt, domain, shortCode, shortUrl, longUrl, title, tags, visits}. */
static const char SHLINK_CSV[] =
    "\xEF\xBB\xBF"
    "createdAt,domain,shortCode,shortUrl,longUrl,title,tags,visits\r\n"
    "2023-05-01T10:20:30+02:00,s.test,promo,https://s.test/promo,"
    "https://example.com/spring?x=1,Spring promo,spring| Mail |spring,12\r\n"
    "2023-06-02T08:00:00+00:00,s.test,ab,https://s.test/ab,https://example.com/a,,,0\r\n"
    "2023-06-03T08:00:00+00:00,s.test,k9x,https://s.test/k9x,\"https://example.com/q?a=1,2\","
    "\"Title, \"\"quoted\"\"\nsecond line\",,3\r\n"
    "2023-06-04T08:00:00+00:00,s.test,bad1,https://s.test/bad1,javascript:alert(1),x,,0\r\n"
    "yesterday,s.test,when,https://s.test/when,https://example.com/w,,,0\r\n";

static void test_shlink_csv_field_by_field(void **state)
{
    (void)state;
    struct result r = run("shlink-csv", SHLINK_CSV);
    CHECK(r.rc == LNK_OK, "read");
    CHECK(json_array_size(r.links) == 2, "two of five rows import");
    json_t *a = json_array_get(r.links, 0);
    CHECK(str_is(a, "url", "https://example.com/spring?x=1"), "longUrl -> url");
    CHECK(str_is(a, "code", "promo"), "shortCode -> code");
    CHECK(str_is(a, "title", "Spring promo"), "title");
    CHECK(json_is(json_object_get(a, "tags"), "[\"spring\",\"mail\"]"),
          "tags split at |, trimmed, lower-cased, once each");
    CHECK(str_is(a, "created_at", "2023-05-01T08:20:30Z"), "createdAt in UTC");
    CHECK(json_object_size(a) == 5, "nothing else (domain, shortUrl, visits dropped)");
    json_t *b = json_array_get(r.links, 1);
    CHECK(str_is(b, "url", "https://example.com/q?a=1,2") && str_is(b, "code", "k9x"),
          "a quoted URL with a comma");
    CHECK(str_is(b, "title", "Title, \"quoted\"\nsecond line"), "a quoted title over two lines");
    CHECK(json_object_get(b, "tags") == NULL, "no tags: no key");
    CHECK(json_array_size(r.errors) == 3, "three rows refused");
    CHECK(error_names(&r, 2, "shortCode"), "row 2: a 2-character code linkd cannot keep");
    CHECK(error_names(&r, 4, "longUrl"), "row 4 (after a row over two lines): javascript: URL");
    CHECK(error_names(&r, 5, "createdAt"), "row 5: not a date");
    done(&r);
}

/* shlink-importer's CSV source: "Long URL", "Short code", "Title", "Tags". */
static void test_shlink_importer_csv_headers(void **state)
{
    (void)state;
    struct result r = run("shlink-csv", "Long URL,Short code,Title,Domain,Tags\n"
                                        "https://example.net/x,from-csv,Hello,,a|b\n");
    CHECK(r.rc == LNK_OK && json_array_size(r.links) == 1, "read");
    json_t *a = json_array_get(r.links, 0);
    CHECK(str_is(a, "url", "https://example.net/x") && str_is(a, "code", "from-csv") &&
              str_is(a, "title", "Hello") && json_is(json_object_get(a, "tags"), "[\"a\",\"b\"]"),
          "spaced, capitalised headers map the same");
    done(&r);
}

/* GET /rest/v3/short-urls (docs/swagger/definitions/ShortUrl.json). */
static const char SHLINK_JSON[] =
    "{\"shortUrls\": {\"data\": ["
    "{\"shortCode\": \"12C18\", \"shortUrl\": \"https://s.test/12C18\","
    " \"longUrl\": \"https://store.example.com/shoes\","
    " \"deviceLongUrls\": {\"android\": \"https://play.example.com/app\", \"ios\": null,"
    "   \"desktop\": \"https://store.example.com/desk\"},"
    " \"dateCreated\": \"2016-08-21T13:12:26+00:00\","
    " \"visitsSummary\": {\"total\": 328, \"nonBots\": 328, \"bots\": 0}, \"visitsCount\": 328,"
    " \"tags\": [\"games\", \"Tech\"],"
    " \"meta\": {\"validSince\": \"2017-01-21T00:00:00+02:00\", \"validUntil\": null,"
    "   \"maxVisits\": 100},"
    " \"domain\": null, \"title\": \"Shoes\", \"crawlable\": false, \"forwardQuery\": true,"
    " \"hasRedirectRules\": false},"
    "{\"shortCode\": \"x-y_z\", \"shortUrl\": \"https://s.test/x-y_z\","
    " \"longUrl\": \"https://example.org/\", \"dateCreated\": \"2019-02-26T10:28:41+00:00\","
    " \"tags\": [], \"meta\": {\"validSince\": null, \"validUntil\": \"soon\", \"maxVisits\": "
    "null},"
    " \"domain\": null, \"title\": null, \"crawlable\": false, \"forwardQuery\": false},"
    "{\"shortCode\": \"max0\", \"longUrl\": \"https://example.org/m\","
    " \"meta\": {\"maxVisits\": 0}},"
    "{\"shortCode\": \"plain\", \"longUrl\": \"https://example.org/p\", \"forwardQuery\": false,"
    " \"meta\": {\"validUntil\": \"2030-01-01T00:00:00Z\"}}"
    "], \"pagination\": {\"currentPage\": 1, \"pagesCount\": 1, \"itemsPerPage\": 10,"
    " \"itemsInCurrentPage\": 4, \"totalItems\": 4}}}";

static void test_shlink_json_field_by_field(void **state)
{
    (void)state;
    struct result r = run("shlink-json", SHLINK_JSON);
    CHECK(r.rc == LNK_OK && json_array_size(r.links) == 2, "two of four rows import");
    json_t *a = json_array_get(r.links, 0);
    CHECK(str_is(a, "url", "https://store.example.com/shoes") && str_is(a, "code", "12C18") &&
              str_is(a, "title", "Shoes"),
          "longUrl, shortCode, title");
    CHECK(json_is(json_object_get(a, "tags"), "[\"games\",\"tech\"]"), "tags lower-cased");
    CHECK(str_is(a, "created_at", "2016-08-21T13:12:26Z"), "dateCreated");
    CHECK(str_is(a, "valid_from", "2017-01-20T22:00:00Z"), "meta.validSince in UTC");
    CHECK(json_object_get(a, "valid_until") == NULL, "validUntil null: no key");
    CHECK(json_is(json_object_get(a, "max_clicks"), "100"), "meta.maxVisits -> max_clicks");
    CHECK(json_is(json_object_get(a, "forward_query"), "true"), "forwardQuery kept");
    CHECK(json_is(json_object_get(a, "rules"),
                  "[{\"url\":\"https://play.example.com/app\",\"os\":[\"android\"]},"
                  "{\"url\":\"https://store.example.com/desk\",\"device\":[\"desktop\"]}]"),
          "deviceLongUrls -> rules by os and device");
    CHECK(json_object_size(a) == 9, "visits, domain, crawlable dropped");
    json_t *b = json_array_get(r.links, 1);
    CHECK(str_is(b, "code", "plain") && str_is(b, "valid_until", "2030-01-01T00:00:00Z") &&
              json_is(json_object_get(b, "forward_query"), "false"),
          "the fourth row");
    CHECK(error_names(&r, 2, "meta.validUntil"), "row 2: validUntil not a date");
    CHECK(error_names(&r, 3, "meta.maxVisits"), "row 3: maxVisits 0");
    CHECK(json_array_size(r.errors) == 2, "only those");
    done(&r);

    r = run("shlink-json", "[{\"longUrl\": \"https://a.example/\", \"shortCode\": \"arr\"}]");
    CHECK(r.rc == LNK_OK && json_array_size(r.links) == 1 &&
              str_is(json_array_get(r.links, 0), "code", "arr"),
          "a bare array of short URLs");
    done(&r);
}

/* ---- YOURLS ------------------------------------------------------------ */

static void test_yourls_csv_database_rows(void **state)
{
    (void)state;
    /* The yourls_url table: keyword, url, title, timestamp, ip, clicks. */
    struct result r = run("yourls-csv", "keyword,url,title,timestamp,ip,clicks\n"
                                        "ozh,https://ozh.org/,Ozh RICHARD,2009-10-07 14:32:43,"
                                        "127.0.0.1,17\n"
                                        "a,https://example.com/,,2009-10-07 14:32:43,10.0.0.1,0\n"
                                        "ok3,https://example.com/3,,07/10/2009,10.0.0.1,0\n"
                                        "nourl,,t,2009-10-07 14:32:43,10.0.0.1,0\n");
    CHECK(r.rc == LNK_OK && json_array_size(r.links) == 1, "one of four rows imports");
    json_t *a = json_array_get(r.links, 0);
    CHECK(str_is(a, "url", "https://ozh.org/") && str_is(a, "code", "ozh") &&
              str_is(a, "title", "Ozh RICHARD") &&
              str_is(a, "created_at", "2009-10-07T14:32:43Z") && json_object_size(a) == 4,
          "keyword, url, title, timestamp; ip and clicks dropped");
    CHECK(error_names(&r, 2, "keyword"), "row 2: one-letter keyword");
    CHECK(error_names(&r, 3, "timestamp"), "row 3: not a date-time");
    CHECK(error_names(&r, 4, "url"), "row 4: no destination");
    done(&r);
}

static void test_yourls_csv_import_export_plugin(void **state)
{
    (void)state;
    /* YOURLS Import Export plugin: "source,target,hits", source "/keyword/". */
    struct result r = run("yourls-csv", "source,target,hits\r\n"
                                        "/blog/,https://blog.example.com/,3\r\n"
                                        "\"/x,y/\",https://example.com/,\r\n");
    CHECK(r.rc == LNK_OK && json_array_size(r.links) == 1, "one of two rows imports");
    json_t *a = json_array_get(r.links, 0);
    CHECK(str_is(a, "url", "https://blog.example.com/") && str_is(a, "code", "blog") &&
              json_object_size(a) == 2,
          "source -> code without slashes, target -> url, hits dropped");
    CHECK(error_names(&r, 2, "source"), "row 2: a code with a comma");
    done(&r);
}

static void test_yourls_json_stats_and_plugin(void **state)
{
    (void)state;
    /* yourls-api.php?action=stats&format=json */
    struct result r =
        run("yourls-json",
            "{\"links\": {"
            "\"link_1\": {\"shorturl\": \"https://sho.rt/ozh\", \"url\": \"https://ozh.org/\","
            " \"title\": \"Ozh\", \"timestamp\": \"2009-10-07 14:32:43\", \"ip\": \"127.0.0.1\","
            " \"clicks\": \"17\"},"
            "\"link_2\": {\"shorturl\": \"https://sho.rt/yourls/\", \"url\": \"ftp://x.example/\","
            " \"title\": \"\", \"timestamp\": \"2009-10-07 14:32:43\", \"ip\": \"127.0.0.1\","
            " \"clicks\": \"3\"}},"
            "\"stats\": {\"total_links\": \"2\", \"total_clicks\": \"20\"},"
            " \"statusCode\": 200, \"message\": \"success\"}");
    CHECK(r.rc == LNK_OK && json_array_size(r.links) == 1, "one of two links imports");
    json_t *a = json_array_get(r.links, 0);
    CHECK(str_is(a, "code", "ozh") && str_is(a, "url", "https://ozh.org/") &&
              str_is(a, "title", "Ozh") && str_is(a, "created_at", "2009-10-07T14:32:43Z") &&
              json_object_size(a) == 4,
          "the code is shorturl's last segment");
    CHECK(error_names(&r, 2, "url"), "link_2: ftp is not a destination");
    done(&r);

    /* the shlink-list plugin (shlink-importer): {"result": [rows]} */
    r = run("yourls-json", "{\"result\": [{\"keyword\": \"abc\", \"url\": \"https://a.example/\","
                           " \"title\": \"A\", \"timestamp\": \"2020-01-01 00:00:00\","
                           " \"ip\": \"::1\", \"clicks\": 5}]}");
    CHECK(r.rc == LNK_OK && json_array_size(r.links) == 1 &&
              str_is(json_array_get(r.links, 0), "code", "abc"),
          "keyword rows of the plugin");
    done(&r);
}

/* ---- Kutt -------------------------------------------------------------- */

/* GET /api/v2/links: {"limit", "skip", "total", "data": [sanitised links]}. */
static const char KUTT_JSON[] =
    "{\"limit\": 10, \"skip\": 0, \"total\": 4, \"data\": ["
    "{\"id\": \"7a4f9a5e-0000-4000-8000-000000000001\", \"address\": \"sale\","
    " \"banned\": false, \"created_at\": \"2024-01-02T03:04:05.678Z\","
    " \"updated_at\": \"2024-01-03T00:00:00.000Z\", \"description\": \"Winter sale\","
    " \"expire_in\": \"2024-12-31T23:59:59.000Z\", \"password\": false,"
    " \"target\": \"https://shop.example.com/sale\", \"visit_count\": 42, \"domain\": null,"
    " \"link\": \"https://kutt.it/sale\"},"
    "{\"id\": \"7a4f9a5e-0000-4000-8000-000000000002\", \"address\": \"secret\","
    " \"banned\": false, \"created_at\": \"2024-01-02T03:04:05.678Z\", \"password\": true,"
    " \"target\": \"https://example.com/private\", \"visit_count\": 1},"
    "{\"id\": \"7a4f9a5e-0000-4000-8000-000000000003\", \"address\": \"gone\","
    " \"banned\": true, \"created_at\": \"2024-02-02T00:00:00.000Z\", \"password\": false,"
    " \"description\": null, \"expire_in\": null,"
    " \"target\": \"https://example.com/banned\", \"visit_count\": 0},"
    "{\"address\": \"nodest\", \"password\": false, \"target\": null}"
    "]}";

static void test_kutt_json_field_by_field(void **state)
{
    (void)state;
    struct result r = run("kutt-json", KUTT_JSON);
    CHECK(r.rc == LNK_OK && json_array_size(r.links) == 2, "two of four rows import");
    json_t *a = json_array_get(r.links, 0);
    CHECK(str_is(a, "url", "https://shop.example.com/sale") && str_is(a, "code", "sale"),
          "target -> url, address -> code");
    CHECK(str_is(a, "title", "Winter sale"), "description -> title");
    CHECK(str_is(a, "valid_until", "2024-12-31T23:59:59Z"), "expire_in -> valid_until");
    CHECK(str_is(a, "created_at", "2024-01-02T03:04:05Z"), "created_at, fraction dropped");
    CHECK(json_object_size(a) == 5, "id, link, visit_count, updated_at dropped; active default");
    json_t *b = json_array_get(r.links, 1);
    CHECK(str_is(b, "code", "gone") && json_is(json_object_get(b, "active"), "false"),
          "banned -> inactive");
    CHECK(error_names(&r, 2, "password"), "row 2: password-protected, not imported open");
    CHECK(error_names(&r, 4, "target"), "row 4: no target");
    done(&r);
}

static void test_kutt_csv_with_password_hash(void **state)
{
    (void)state;
    struct result r =
        run("kutt-csv", "id,address,target,description,expire_in,password,banned,"
                        "visit_count,created_at\n"
                        "1,guide,https://docs.example.com/,Docs,,,f,9,"
                        "2024-03-01 12:00:00\n"
                        "2,locked,https://example.com/l,,,$2a$12$abcdefghijklmnopqr,"
                        "f,0,2024-03-01 12:00:00\n"
                        "3,odd,https://example.com/o,,,,maybe,0,2024-03-01 12:00:00\n");
    CHECK(r.rc == LNK_OK && json_array_size(r.links) == 1, "one of three rows imports");
    json_t *a = json_array_get(r.links, 0);
    CHECK(str_is(a, "code", "guide") && str_is(a, "url", "https://docs.example.com/") &&
              str_is(a, "title", "Docs") && str_is(a, "created_at", "2024-03-01T12:00:00Z") &&
              json_object_get(a, "active") == NULL && json_object_get(a, "valid_until") == NULL,
          "database columns as CSV");
    CHECK(error_names(&r, 2, "password"), "row 2: a password hash");
    CHECK(error_names(&r, 3, "banned"), "row 3: banned is not a boolean");
    done(&r);
}

static void test_time_offsets(void **state)
{
    (void)state;
    struct result r = run("shlink-json", "[{\"longUrl\": \"https://a.example/\", \"dateCreated\": "
                                         "\"2024-01-01T01:30:00+0230\"},"
                                         "{\"longUrl\": \"https://a.example/\", \"dateCreated\": "
                                         "\"2023-12-31T20:00:00-05:00\"},"
                                         "{\"longUrl\": \"https://a.example/\", \"dateCreated\": "
                                         "\"2024-01-01T00:00:00+25:00\"}]");
    CHECK(r.rc == LNK_OK && json_array_size(r.links) == 2, "two of three");
    CHECK(str_is(json_array_get(r.links, 0), "created_at", "2023-12-31T23:00:00Z"),
          "+0230 without a colon");
    CHECK(str_is(json_array_get(r.links, 1), "created_at", "2024-01-01T01:00:00Z"),
          "a negative offset");
    CHECK(error_names(&r, 3, "dateCreated"), "an offset of 25 hours is refused");
    done(&r);
}

static void test_tags_limits(void **state)
{
    (void)state;
    char data[4096];
    int n = snprintf(data, sizeof(data), "longUrl,tags\nhttps://a.example/,");
    for (int i = 0; i < 33; i++)
        n += snprintf(data + n, sizeof(data) - (size_t)n, "%st%d", i ? "|" : "", i);
    n += snprintf(data + n, sizeof(data) - (size_t)n, "\nhttps://b.example/,");
    for (int i = 0; i < 65; i++)
        data[n++] = 'x';
    data[n++] = '\n';
    data[n] = '\0';
    struct result r = run("shlink-csv", data);
    CHECK(r.rc == LNK_OK && json_array_size(r.links) == 0, "neither row imports");
    CHECK(error_names(&r, 1, "tags") && error_names(&r, 2, "tags"),
          "33 tags, and a tag of 65 characters");
    done(&r);
}

static void test_text_that_is_not_text_is_refused(void **state)
{
    (void)state;
    struct result r = run("shlink-csv", "longUrl,title,tags\n"
                                        "https://a.example/,caf\xe9,\n"
                                        "https://b.example/,ok,a\x01"
                                        "b\n"
                                        "https://c.example/,fine,x\n");
    CHECK(r.rc == LNK_OK && json_array_size(r.links) == 1, "one of three rows imports");
    CHECK(error_names(&r, 1, "title"), "row 1: Latin-1, not UTF-8");
    CHECK(error_names(&r, 2, "tags"), "row 2: a control character in a tag");
    done(&r);
    r = run("kutt-json", "[{\"target\": \"https://a.example/\", \"description\": \"a\\u0000b\"}]");
    CHECK(r.rc == LNK_OK && json_array_size(r.links) == 0 && error_names(&r, 1, "description"),
          "a NUL inside a JSON string");
    done(&r);
    r = run("yourls-csv", "u\xffrl\nhttps://a.example/\n");
    CHECK(r.rc == LNK_EINVAL && error_names(&r, 0, ""), "a header that is not UTF-8");
    done(&r);
}

static void test_more_rows_than_the_limit_are_too_big(void **state)
{
    (void)state;
    size_t n = LNK_PORTABLE_ROWS_MAX + 1;
    char *json = malloc(3 * n + 2), *csv = malloc(8 + 2 * n + 1);
    size_t j = 0, k = 0;
    json[j++] = '[';
    memcpy(csv, "longUrl\n", 8);
    k = 8;
    for (size_t i = 0; i < n; i++) {
        memcpy(json + j, i ? ",{}" : "{}", i ? 3 : 2);
        j += i ? 3 : 2;
        memcpy(csv + k, "x\n", 2);
        k += 2;
    }
    json[j++] = ']';
    json[j] = '\0';
    csv[k] = '\0';
    struct result r = run("kutt-json", json);
    CHECK(r.rc == LNK_ETOOBIG && json_array_size(r.links) == 0 &&
              error_names(&r, (json_int_t)n, ""),
          "JSON: 100001 rows are too big, named at row 100001");
    done(&r);
    r = run("shlink-csv", csv);
    CHECK(r.rc == LNK_ETOOBIG && json_array_size(r.links) == 0 &&
              error_names(&r, (json_int_t)n, ""),
          "CSV: the same");
    done(&r);
    free(json);
    free(csv);
}

/* ---- export ------------------------------------------------------------ */

static void test_export_round_trips_through_the_csv_reader(void **state)
{
    (void)state;
    json_t *link = json_loads(
        "{\"id\": 42, \"code\": \"promo\", \"url\": \"https://example.com/a,b?q=\\\"x\\\"\","
        " \"title\": \"=HYPERLINK(\\\"http://evil.example\\\")\", \"tags\": [\"spring\", \"mail\"],"
        " \"notes\": \"line1\\nline2\", \"active\": true, \"redirect_type\": 302,"
        " \"valid_from\": null, \"valid_until\": \"2027-01-01T00:00:00Z\", \"max_clicks\": 100,"
        " \"created_at\": \"2026-01-01T00:00:00Z\", \"updated_at\": \"2026-01-02T00:00:00Z\","
        " \"utm\": {\"source\": \"news\"}, \"forward_query\": false}",
        0, NULL);
    json_t *plain = json_loads("{\"id\": 7, \"code\": \"-1-1\", \"url\": \"https://a.example/\","
                               " \"title\": \"-50% @home +1\", \"tags\": [], \"notes\": \"\\tx\","
                               " \"active\": false}",
                               0, NULL);
    struct lnk_buf b;
    lnk_buf_init(&b, 1 << 20);
    CHECK(lnk_portable_export_csv_header(&b) == LNK_OK, "header");
    CHECK(lnk_portable_export_csv_row(link, &b) == LNK_OK, "row");
    CHECK(lnk_portable_export_csv_row(plain, &b) == LNK_OK, "second row");
    CHECK(strncmp(b.ptr,
                  "id,code,url,title,tags,notes,active,redirect_type,valid_from,valid_until,"
                  "max_clicks,created_at,updated_at\r\n",
                  107) == 0,
          "the header line");
    CHECK(b.len > 2 && memcmp(b.ptr + b.len - 2, "\r\n", 2) == 0, "CRLF line ends");

    struct lnk_csv c;
    struct lnk_csv_record r;
    lnk_csv_init(&c, b.ptr, b.len);
    CHECK(lnk_csv_next(&c, &r) == LNK_OK && r.n_fields == 13, "13 columns");
    CHECK(lnk_csv_next(&c, &r) == LNK_OK && r.n_fields == 13, "row of 13 cells");
    static const char *want[] = {"42",
                                 "promo",
                                 "https://example.com/a,b?q=\"x\"",
                                 "'=HYPERLINK(\"http://evil.example\")",
                                 "spring|mail",
                                 "line1\nline2",
                                 "true",
                                 "302",
                                 "",
                                 "2027-01-01T00:00:00Z",
                                 "100",
                                 "2026-01-01T00:00:00Z",
                                 "2026-01-02T00:00:00Z"};
    for (size_t i = 0; i < 13; i++) {
        if (!lnk_str_eq_cstr(r.fields[i], want[i]))
            print_error("column %zu: got %.*s\n", i, (int)r.fields[i].len, r.fields[i].ptr);
        CHECK(lnk_str_eq_cstr(r.fields[i], want[i]), "each cell reads back");
    }
    CHECK(lnk_csv_next(&c, &r) == LNK_OK && r.n_fields == 13, "second row");
    CHECK(lnk_str_eq_cstr(r.fields[3], "'-50% @home +1"), "a leading - defused");
    CHECK(lnk_str_eq_cstr(r.fields[1], "-1-1"),
          "a code is exported exactly, even with a leading -");
    CHECK(lnk_str_eq_cstr(r.fields[4], ""), "no tags: empty");
    CHECK(lnk_str_eq_cstr(r.fields[5], "'\tx"), "a leading tab defused");
    CHECK(lnk_str_eq_cstr(r.fields[6], "false"), "inactive");
    CHECK(lnk_str_eq_cstr(r.fields[7], "") && lnk_str_eq_cstr(r.fields[12], ""),
          "absent fields are empty cells");
    CHECK(lnk_csv_next(&c, &r) == LNK_EEOF, "nothing else");
    lnk_csv_cleanup(&c);
    json_decref(link);
    json_decref(plain);
    lnk_buf_cleanup(&b);
}

static void test_export_refuses_what_is_not_a_link(void **state)
{
    (void)state;
    struct lnk_buf b;
    lnk_buf_init(&b, 1 << 20);
    json_t *arr = json_array();
    json_t *real = json_pack("{s:s, s:f}", "code", "abc", "max_clicks", 1.5);
    json_t *nested = json_pack("{s:s, s:{}}", "code", "abc", "title");
    json_t *bad_tags = json_pack("{s:s, s:[i]}", "code", "abc", "tags", 1);
    CHECK(lnk_portable_export_csv_row(arr, &b) == LNK_EINVAL, "an array is not a link");
    CHECK(lnk_portable_export_csv_row(real, &b) == LNK_EINVAL, "a real number refused");
    CHECK(lnk_portable_export_csv_row(nested, &b) == LNK_EINVAL, "an object cell refused");
    CHECK(lnk_portable_export_csv_row(bad_tags, &b) == LNK_EINVAL, "a tag not a string refused");
    CHECK(b.len == 0, "nothing appended");
    struct lnk_buf small;
    lnk_buf_init(&small, 20);
    lnk_buf_append(&small, "x", 1);
    json_t *ok = json_pack("{s:s, s:s}", "code", "abc", "url", "https://a.example/long/path");
    CHECK(lnk_portable_export_csv_row(ok, &small) == LNK_ETOOBIG && small.len == 1,
          "past the maximum: too big, buffer as it was");
    CHECK(lnk_portable_export_csv_header(&small) == LNK_ETOOBIG && small.len == 1,
          "header past the maximum too");
    json_decref(ok);
    json_decref(arr);
    json_decref(real);
    json_decref(nested);
    json_decref(bad_tags);
    lnk_buf_cleanup(&small);
    lnk_buf_cleanup(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_unknown_format_is_refused),
        cmocka_unit_test(test_broken_files_are_refused_with_where),
        cmocka_unit_test(test_empty_files_have_no_links),
        cmocka_unit_test(test_shlink_csv_field_by_field),
        cmocka_unit_test(test_shlink_importer_csv_headers),
        cmocka_unit_test(test_shlink_json_field_by_field),
        cmocka_unit_test(test_yourls_csv_database_rows),
        cmocka_unit_test(test_yourls_csv_import_export_plugin),
        cmocka_unit_test(test_yourls_json_stats_and_plugin),
        cmocka_unit_test(test_kutt_json_field_by_field),
        cmocka_unit_test(test_kutt_csv_with_password_hash),
        cmocka_unit_test(test_time_offsets),
        cmocka_unit_test(test_tags_limits),
        cmocka_unit_test(test_text_that_is_not_text_is_refused),
        cmocka_unit_test(test_more_rows_than_the_limit_are_too_big),
        cmocka_unit_test(test_export_round_trips_through_the_csv_reader),
        cmocka_unit_test(test_export_refuses_what_is_not_a_link),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
