/* SPDX-License-Identifier: MIT */
/* The logger's lines: the access line written by lnk_log_request is the line
 * lnk_log_write writes for the same fields, byte for byte after the
 * timestamp, whatever the path holds; a path too long for a line gives the
 * generic writer's truncation marker. Lines are caught from stdout. */
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_access_line_escapes_a_hostile_path),
        cmocka_unit_test(test_access_line_too_long_is_marked_truncated),
        cmocka_unit_test(test_access_line_matches_the_generic_line),
        cmocka_unit_test(test_access_line_respects_the_level),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
