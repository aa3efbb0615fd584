/* SPDX-License-Identifier: MIT */
/* The request-head check (head.h). The rules are RFC 9112's for a server
 * that must not be desynchronised from a proxy in front of it: one framing
 * header at most (§6.1, §6.3), no line folding (§5.2), exactly one Host on
 * HTTP/1.1 (§3.2). Everything else libh2o checks itself. */
#include "http/head.h"

#include <stdbool.h>

#include "linkd/err.h"

/* picohttpparser is built into libh2o 2.2.5 and exported from it, but
 * Debian ships no header for it: its interface is declared here. A field
 * whose name is NULL is an obs-fold continuation of the previous line. */
struct phr_header {
    const char *name;
    size_t name_len;
    const char *value;
    size_t value_len;
};
int phr_parse_request(const char *buf, size_t len, const char **method, size_t *method_len,
                      const char **path, size_t *path_len, int *minor_version,
                      struct phr_header *headers, size_t *num_headers, size_t last_len);

/* The parser reports too many fields like any other syntax error; counting
 * the lines before the blank one tells the client which it was. Runs only on
 * heads that failed to parse. */
static bool has_too_many_fields(const char *buf, size_t len)
{
    size_t fields = 0;
    for (size_t i = 0; i + 1 < len; i++) {
        if (buf[i] != '\n')
            continue;
        bool blank_next =
            buf[i + 1] == '\n' || (buf[i + 1] == '\r' && i + 2 < len && buf[i + 2] == '\n');
        if (blank_next)
            break;
        fields++;
    }
    return fields > LNK_HTTP_MAX_HEADERS;
}

static int reject(struct lnk_http_head *head, const char *error)
{
    head->error = error;
    return LNK_EINVAL;
}

int lnk_http_head_check(const char *buf, size_t len, struct lnk_http_head *head)
{
    struct phr_header fields[LNK_HTTP_MAX_HEADERS];
    size_t n_fields = LNK_HTTP_MAX_HEADERS, method_len = 0, path_len = 0;
    const char *method = NULL, *path = NULL;
    int minor = -1;
    *head = (struct lnk_http_head){0};
    int ret = phr_parse_request(buf, len, &method, &method_len, &path, &path_len, &minor, fields,
                                &n_fields, 0);
    if (ret == -2)
        return LNK_EEOF;
    /* The parser lets a request line start with its space (no method), or
     * carry two (no target); RFC 9112 §3 wants one of each. */
    if (ret < 0 || (ret > 0 && (method_len == 0 || path_len == 0)))
        return reject(head, ret < 0 && has_too_many_fields(buf, len)
                                ? "more than 100 header fields"
                                : "malformed request line or header field");
    head->len = (size_t)ret;
    head->method = lnk_str_make(method, method_len);
    head->path = lnk_str_make(path, path_len);
    head->minor_version = minor;

    unsigned n_length = 0, n_coding = 0, n_host = 0;
    for (size_t i = 0; i < n_fields; i++) {
        if (fields[i].name == NULL)
            return reject(head, "obsolete line folding: a header line starts with a space or tab");
        /* By length first: this runs for every field of every request. */
        struct lnk_str name = lnk_str_make(fields[i].name, fields[i].name_len);
        switch (name.len) {
        case sizeof("host") - 1:
            n_host += lnk_str_eq_nocase(name, LNK_STR("host"));
            break;
        case sizeof("content-length") - 1:
            n_length += lnk_str_eq_nocase(name, LNK_STR("content-length"));
            break;
        case sizeof("transfer-encoding") - 1:
            n_coding += lnk_str_eq_nocase(name, LNK_STR("transfer-encoding"));
            break;
        }
    }
    /* libh2o would frame these by the chunked body, or by the first length:
     * a proxy that picks the other one sees a different next request. */
    if (n_length && n_coding)
        return reject(head, "both Content-Length and Transfer-Encoding");
    if (n_length > 1)
        return reject(head, "more than one Content-Length");
    if (n_coding > 1)
        return reject(head, "more than one Transfer-Encoding");
    if (n_host > 1)
        return reject(head, "more than one Host");
    if (n_host == 0 && minor >= 1)
        return reject(head, "missing Host header");
    return LNK_OK;
}
