/* SPDX-License-Identifier: MIT */
/* The logger's lines: the access line written by lnk_log_request is the line
 * lnk_log_write writes for the same fields, byte for byte after the
 * timestamp, whatever the path holds; a path too long for a line gives the
 * generic writer's truncation marker. Every field type in both formats, JSON
 * and text (LOG_FORMAT), exactly, and how text quotes what a reader could
 * misread. Lines are caught from stdout. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "linkd/log.h"

/* Runs fn with stdout sent to a temporary file; returns what it wrote. */
static char *capture(void (*fn)(const void *), const void *arg)
{
    fflush(stdout);
    FILE *tmp = tmpfile();
    CHECK(tmp != NULL, "a temporary file");
    int saved = dup(STDOUT_FILENO);
    dup2(fileno(tmp), STDOUT_FILENO);
    fn(arg);
    dup2(saved, STDOUT_FILENO);
    close(saved);
    off_t n = lseek(fileno(tmp), 0, SEEK_END);
    char *out = calloc(1, (size_t)n + 1);
    CHECK(out != NULL, "memory for the line");
    CHECK(pread(fileno(tmp), out, (size_t)n, 0) == (ssize_t)n, "the line is read back");
    fclose(tmp);
    return out;
}

struct access {
    const char *rid, *method, *path, *route;
    size_t path_len;
    int64_t status, duration_us;
};

static void write_fast(const void *arg)
{
    const struct access *a = arg;
    lnk_log_request(a->rid, a->method, a->path, a->path_len, a->route, a->status, a->duration_us);
}

static void write_generic(const void *arg)
{
    const struct access *a = arg;
    LNK_LOG(INFO, a->rid, "http", "request", LNK_F_STR("method", a->method),
            LNK_F_SLICE("path", a->path, a->path_len), LNK_F_STR("route", a->route),
            LNK_F_INT("status", a->status), LNK_F_INT("duration_us", a->duration_us));
}

/* The line without its timestamp ("ts":"...",): the two calls differ in it. */
static const char *after_ts(const char *line)
{
    const char *p = strstr(line, "\",\"level\"");
    CHECK(p != NULL, "the line has a timestamp then a level");
    return p;
}

static void check_same_line(const struct access *a)
{
    char *fast = capture(write_fast, a), *generic = capture(write_generic, a);
    CHECK(strncmp(fast, "{\"ts\":\"", 7) == 0, "the access line starts with its timestamp");
    CHECK(strcmp(after_ts(fast), after_ts(generic)) == 0, "the same line as the generic writer");
    CHECK(fast[strlen(fast) - 1] == '\n', "one line");
    free(fast);
    free(generic);
}

static void test_access_line_escapes_a_hostile_path(void **state)
{
    (void)state;
    static const char path[] = "/a\"b\\c\n\x01\xff\xc3\xa9?q=\"x\"";
    struct access a = {"rid-1", "GET", path, "/{code}", sizeof(path) - 1, 404, 7};
    check_same_line(&a);
    char *fast = capture(write_fast, &a);
    CHECK(strstr(fast, "\"path\":\"/a\\\"b\\\\c\\u000a\\u0001") != NULL,
          "quotes, backslashes and control bytes escaped");
    free(fast);
}

static void test_access_line_too_long_is_marked_truncated(void **state)
{
    (void)state;
    size_t n = 9000;
    char *path = malloc(n);
    memset(path, 'p', n);
    struct access a = {"rid-2", "GET", path, "/{code}", n, 404, 1};
    check_same_line(&a);
    char *fast = capture(write_fast, &a);
    CHECK(strstr(fast, "\"event\":\"line_truncated\"") != NULL, "the truncation marker");
    free(fast);
    free(path);
}

static void test_access_line_matches_the_generic_line(void **state)
{
    (void)state;
    struct access a = {"0123456789abcdef", "GET", "/AbC123", "/{code}", 7, 302, 12};
    check_same_line(&a);
    struct access no_rid = {NULL, "POST", "/urls", "/urls", 5, 201, 1234567};
    check_same_line(&no_rid);
    struct access empty = {"r", "OTHER", NULL, "unmatched", 0, 400, 0};
    check_same_line(&empty);
    char *fast = capture(write_fast, &a);
    CHECK(strstr(fast,
                 ",\"level\":\"info\",\"component\":\"http\",\"event\":\"request\","
                 "\"request_id\":\"0123456789abcdef\",\"method\":\"GET\",\"path\":"
                 "\"/AbC123\",\"route\":\"/{code}\",\"status\":302,\"duration_us\":12}\n") != NULL,
          "every field, in order");
    free(fast);
}

static void test_access_line_respects_the_level(void **state)
{
    (void)state;
    struct access a = {"r", "GET", "/x", "/{code}", 2, 302, 1};
    lnk_log_min_level = LNK_LOG_WARN;
    char *fast = capture(write_fast, &a);
    lnk_log_min_level = LNK_LOG_INFO;
    CHECK(fast[0] == '\0', "no access line below info");
    free(fast);
}

/* A generic record with every field type. */
static void write_record(const void *arg)
{
    (void)arg;
    LNK_LOG(INFO, "rid-7", "store", "opened", LNK_F_STR("database", "sqlite://./x.db"),
            LNK_F_INT("n", -5), LNK_F_DBL("ratio", 0.5), LNK_F_BOOL("ok", true),
            LNK_F_BOOL("slow", false), LNK_F_STR("none", NULL), LNK_F_SLICE("empty", "", 0),
            LNK_F_SLICE("part", "abcdef", 3));
}

/* Values a text reader could misread: spaces, '=', quotes, backslashes,
 * control bytes (a terminal escape), bytes that are not UTF-8, UTF-8. */
static void write_hostile(const void *arg)
{
    (void)arg;
    LNK_LOG(WARN, NULL, "http", "odd", LNK_F_STR("sp", "a b"), LNK_F_STR("eq", "a=b"),
            LNK_F_STR("q", "say \"hi\""), LNK_F_STR("bs", "c:\\d"),
            LNK_F_STR("ctl", "x\ny\x1b[31m"), LNK_F_STR("bin", "\xff"),
            LNK_F_STR("utf", "caf\xc3\xa9"), LNK_F_STR("plain", "/a/{b}?c&d"));
}

static void write_too_long(const void *arg)
{
    const char *big = arg;
    LNK_LOG(ERROR, "r", "store", "failed", LNK_F_STR("error", big));
}

/* Runs fn with lines in format f. */
static char *capture_as(enum lnk_log_format f, void (*fn)(const void *), const void *arg)
{
    lnk_log_line_format = f;
    char *out = capture(fn, arg);
    lnk_log_line_format = LNK_LOG_JSON;
    return out;
}

/* A text line starts with "YYYY-MM-DDTHH:MM:SS.mmmZ "; returns what follows. */
static const char *after_text_time(const char *line)
{
    static const char shape[] = "dddd-dd-ddTdd:dd:dd.dddZ ";
    for (size_t i = 0; i < sizeof(shape) - 1; i++) {
        bool ok = shape[i] == 'd' ? line[i] >= '0' && line[i] <= '9' : line[i] == shape[i];
        CHECK(ok, "the text line starts with its UTC time in ms and a space");
    }
    return line + sizeof(shape) - 1;
}

static void test_json_record_has_every_field_type(void **state)
{
    (void)state;
    char *line = capture_as(LNK_LOG_JSON, write_record, NULL);
    CHECK(strcmp(after_ts(line),
                 "\",\"level\":\"info\",\"component\":\"store\",\"event\":\"opened\","
                 "\"request_id\":\"rid-7\",\"database\":\"sqlite://./x.db\",\"n\":-5,"
                 "\"ratio\":0.5,\"ok\":true,\"slow\":false,\"none\":null,\"empty\":\"\","
                 "\"part\":\"abc\"}\n") == 0,
          "the JSON line: header, then each field typed, in order");
    free(line);
}

static void test_text_record_has_every_field_type(void **state)
{
    (void)state;
    char *line = capture_as(LNK_LOG_TEXT, write_record, NULL);
    CHECK(strcmp(after_text_time(line),
                 "info store opened request_id=rid-7 database=sqlite://./x.db n=-5 ratio=0.5 "
                 "ok=true slow=false none= empty=\"\" part=abc\n") == 0,
          "the text line: time, level, component, event, then key=value in order; NULL is "
          "nothing after '=', an empty string \"\"");
    free(line);
}

static void test_text_quotes_what_could_be_misread(void **state)
{
    (void)state;
    char *line = capture_as(LNK_LOG_TEXT, write_hostile, NULL);
    CHECK(strcmp(after_text_time(line),
                 "warn http odd sp=\"a b\" eq=\"a=b\" q=\"say \\\"hi\\\"\" bs=\"c:\\\\d\" "
                 "ctl=\"x\\u000ay\\u001b[31m\" bin=\"\xef\xbf\xbd\" utf=\"caf\xc3\xa9\" "
                 "plain=/a/{b}?c&d\n") == 0,
          "spaces, '=', quotes, backslashes, control and non-ASCII bytes put the value in a JSON "
          "string; other values stay bare");
    CHECK(strchr(line, '\x1b') == NULL && strchr(line, '\n') == line + strlen(line) - 1,
          "no terminal escape and no line break gets through");
    free(line);
}

static void test_text_access_line_is_the_generic_line(void **state)
{
    (void)state;
    struct access a = {"0123456789abcdef", "GET", "/AbC123", "/{code}", 7, 302, 12};
    char *fast = capture_as(LNK_LOG_TEXT, write_fast, &a);
    char *generic = capture_as(LNK_LOG_TEXT, write_generic, &a);
    CHECK(strcmp(after_text_time(fast),
                 "info http request request_id=0123456789abcdef method=GET path=/AbC123 "
                 "route=/{code} status=302 duration_us=12\n") == 0,
          "the access line in text");
    CHECK(strcmp(after_text_time(fast), after_text_time(generic)) == 0,
          "the same text line as the generic writer");
    free(fast);
    free(generic);
    static const char path[] = "/a b\"\n";
    struct access h = {NULL, "GET", path, "unmatched", sizeof(path) - 1, 404, 3};
    fast = capture_as(LNK_LOG_TEXT, write_fast, &h);
    CHECK(strcmp(after_text_time(fast), "info http request method=GET path=\"/a b\\\"\\u000a\" "
                                        "route=unmatched status=404 duration_us=3\n") == 0,
          "a client's path quoted and escaped, no request_id when there is none");
    free(fast);
}

static void test_text_line_too_long_is_marked_truncated(void **state)
{
    (void)state;
    size_t n = 9000;
    char *big = malloc(n + 1);
    memset(big, 'e', n);
    big[n] = '\0';
    char *line = capture_as(LNK_LOG_TEXT, write_too_long, big);
    CHECK(strcmp(after_text_time(line), "warn log line_truncated\n") == 0,
          "the truncation marker, as a text line");
    free(line);
    line = capture_as(LNK_LOG_JSON, write_too_long, big);
    CHECK(strcmp(after_ts(line),
                 "\",\"level\":\"warn\",\"component\":\"log\",\"event\":\"line_truncated\"}\n") ==
              0,
          "the truncation marker, as a JSON line");
    free(line);
    free(big);
}

static void test_format_names(void **state)
{
    (void)state;
    enum lnk_log_format f = LNK_LOG_JSON;
    CHECK(lnk_log_parse_format("TEXT", &f) == 0 && f == LNK_LOG_TEXT, "text, any case");
    CHECK(lnk_log_parse_format("json", &f) == 0 && f == LNK_LOG_JSON, "json");
    CHECK(lnk_log_parse_format("logfmt", &f) != 0 && f == LNK_LOG_JSON, "anything else refused");
    CHECK(lnk_log_parse_format("", &f) != 0, "empty refused");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_access_line_escapes_a_hostile_path),
        cmocka_unit_test(test_access_line_too_long_is_marked_truncated),
        cmocka_unit_test(test_access_line_matches_the_generic_line),
        cmocka_unit_test(test_access_line_respects_the_level),
        cmocka_unit_test(test_json_record_has_every_field_type),
        cmocka_unit_test(test_text_record_has_every_field_type),
        cmocka_unit_test(test_text_quotes_what_could_be_misread),
        cmocka_unit_test(test_text_access_line_is_the_generic_line),
        cmocka_unit_test(test_text_line_too_long_is_marked_truncated),
        cmocka_unit_test(test_format_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
