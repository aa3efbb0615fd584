/* SPDX-License-Identifier: MIT */
/* A tiny MaxMind DB writer for tests (MaxMind DB File Format Specification
 * 2.0): an IPv6 search tree with 32-bit records (IPv4 networks live under
 * ::/96, as in MaxMind's own databases), a data section of small maps
 * {"<map>": {"iso_code": "XX"}}, and the metadata libmaxminddb requires.
 * Bounded: at most MMDB_W_NODES nodes and MMDB_W_DATA data bytes. */
#ifndef LNK_TEST_MMDB_WRITER_H
#define LNK_TEST_MMDB_WRITER_H

#include <arpa/inet.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define MMDB_W_NODES 1024
#define MMDB_W_DATA  4096

/* Records while building: >= 0 a node, -1 empty, <= -2 data at offset -2 - r. */
struct mmdb_w {
    int64_t rec[MMDB_W_NODES][2];
    size_t n_nodes;
    uint8_t data[MMDB_W_DATA];
    size_t data_len;
};

static void mmdb_w_init(struct mmdb_w *w)
{
    memset(w, 0, sizeof(*w));
    w->rec[0][0] = w->rec[0][1] = -1;
    w->n_nodes = 1;
}

static void put_bytes(uint8_t *buf, size_t *len, const void *p, size_t n)
{
    memcpy(buf + *len, p, n);
    *len += n;
}

/* A control byte for a type < 8 and a size < 29. */
static void put_ctrl(uint8_t *buf, size_t *len, unsigned type, size_t size)
{
    buf[(*len)++] = (uint8_t)(type << 5 | size);
}

static void put_str(uint8_t *buf, size_t *len, const char *s)
{
    put_ctrl(buf, len, 2, strlen(s));
    put_bytes(buf, len, s, strlen(s));
}

static void put_uint(uint8_t *buf, size_t *len, unsigned type, uint64_t v, size_t n_bytes)
{
    if (type < 8) {
        put_ctrl(buf, len, type, n_bytes);
    } else { /* extended: type bits 0, then the type - 7 */
        put_ctrl(buf, len, 0, n_bytes);
        buf[(*len)++] = (uint8_t)(type - 7);
    }
    for (size_t i = n_bytes; i-- > 0;)
        buf[(*len)++] = (uint8_t)(v >> (8 * i));
}

/* Maps addr/prefix_len (a 16-byte IPv6 address) to {map_name: {"iso_code": cc}}. */
static void mmdb_w_insert(struct mmdb_w *w, const uint8_t addr[16], unsigned prefix_len,
                          const char *map_name, const char *cc)
{
    int64_t data = -2 - (int64_t)w->data_len;
    put_ctrl(w->data, &w->data_len, 7, 1);
    put_str(w->data, &w->data_len, map_name);
    put_ctrl(w->data, &w->data_len, 7, 1);
    put_str(w->data, &w->data_len, "iso_code");
    put_str(w->data, &w->data_len, cc);
    size_t node = 0;
    for (unsigned i = 0; i < prefix_len; i++) {
        unsigned bit = addr[i / 8] >> (7 - i % 8) & 1;
        if (i + 1 == prefix_len) {
            w->rec[node][bit] = data;
        } else if (w->rec[node][bit] >= 0) {
            node = (size_t)w->rec[node][bit];
        } else {
            size_t n = w->n_nodes++;
            w->rec[n][0] = w->rec[n][1] = -1;
            w->rec[node][bit] = (int64_t)n;
            node = n;
        }
    }
}

/* An IPv4 network a.b.c.d/len, or an IPv6 one, in text. */
static void mmdb_w_insert_text(struct mmdb_w *w, const char *net, unsigned prefix_len,
                               const char *map_name, const char *cc)
{
    uint8_t addr[16] = {0};
    if (strchr(net, ':')) {
        inet_pton(AF_INET6, net, addr);
    } else {
        inet_pton(AF_INET, net, addr + 12);
        prefix_len += 96;
    }
    mmdb_w_insert(w, addr, prefix_len, map_name, cc);
}

static bool mmdb_w_write(const struct mmdb_w *w, const char *path)
{
    static uint8_t out[MMDB_W_NODES * 8 + 16 + MMDB_W_DATA + 512];
    size_t len = 0;
    uint32_t node_count = (uint32_t)w->n_nodes;
    for (size_t n = 0; n < w->n_nodes; n++) {
        for (int b = 0; b < 2; b++) {
            int64_t r = w->rec[n][b];
            uint32_t v = r >= 0    ? (uint32_t)r
                         : r == -1 ? node_count
                                   : node_count + 16 + (uint32_t)(-2 - r);
            for (int i = 3; i >= 0; i--)
                out[len++] = (uint8_t)(v >> (8 * i));
        }
    }
    memset(out + len, 0, 16); /* the data section separator */
    len += 16;
    put_bytes(out, &len, w->data, w->data_len);
    put_bytes(out, &len, "\xab\xcd\xefMaxMind.com", 14);
    put_ctrl(out, &len, 7, 9);
    put_str(out, &len, "node_count");
    put_uint(out, &len, 6, node_count, 4);
    put_str(out, &len, "record_size");
    put_uint(out, &len, 5, 32, 2);
    put_str(out, &len, "ip_version");
    put_uint(out, &len, 5, 6, 2);
    put_str(out, &len, "database_type");
    put_str(out, &len, "linkd-Test-Country");
    put_str(out, &len, "languages");
    put_ctrl(out, &len, 0, 1); /* an array (extended type 11) of one */
    out[len++] = 11 - 7;
    put_str(out, &len, "en");
    put_str(out, &len, "binary_format_major_version");
    put_uint(out, &len, 5, 2, 2);
    put_str(out, &len, "binary_format_minor_version");
    put_uint(out, &len, 5, 0, 2);
    put_str(out, &len, "build_epoch");
    put_uint(out, &len, 9, 1767225600, 8);
    put_str(out, &len, "description");
    put_ctrl(out, &len, 7, 1);
    put_str(out, &len, "en");
    put_str(out, &len, "linkd unit test database");
    FILE *f = fopen(path, "wb");
    if (!f)
        return false;
    bool ok = fwrite(out, 1, len, f) == len;
    return fclose(f) == 0 && ok;
}

#endif
