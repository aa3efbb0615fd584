/* SPDX-License-Identifier: MIT */
/* QR codes: bad sizes and texts first, then the PNG (signature, IHDR, every
 * pixel against libqrencode's own matrix read back through libpng) and the
 * SVG (shape, determinism, dark modules), then long texts. Decoding with a
 * real reader is tests/qr/test_qr_zbar.py. */
#include <png.h>
#include <qrencode.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "linkd/buf.h"
#include "linkd/err.h"
#include "linkd/qr.h"

#define LINK "https://l.example/Ab3x9Q"

static uint32_t be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* An https URL of exactly len bytes. */
static char *long_url(size_t len)
{
    static const char head[] = "https://www.example.com/path?q=";
    char *s = malloc(len + 1);
    memcpy(s, head, sizeof(head) - 1);
    for (size_t i = sizeof(head) - 1; i < len; i++)
        s[i] = (char)('a' + i % 26);
    s[len] = '\0';
    return s;
}

static void test_sizes_outside_the_limits_are_refused(void **state)
{
    (void)state;
    struct lnk_buf b;
    lnk_buf_init(&b, 1 << 20);
    lnk_buf_append(&b, "kept", 4);
    CHECK(lnk_qr_png(LINK, strlen(LINK), LNK_QR_SIZE_MIN - 1, &b) == LNK_EINVAL, "63 px refused");
    CHECK(lnk_qr_png(LINK, strlen(LINK), LNK_QR_SIZE_MAX + 1, &b) == LNK_EINVAL, "2049 px refused");
    CHECK(lnk_qr_svg(LINK, strlen(LINK), 0, &b) == LNK_EINVAL, "0 px refused (svg)");
    CHECK(lnk_qr_svg(LINK, strlen(LINK), 100000, &b) == LNK_EINVAL, "100000 px refused (svg)");
    CHECK(b.len == 4 && strcmp(b.ptr, "kept") == 0, "a refusal leaves the buffer as it was");
    CHECK(lnk_qr_png(LINK, strlen(LINK), LNK_QR_SIZE_MIN, &b) == LNK_OK, "64 px accepted");
    CHECK(lnk_qr_svg(LINK, strlen(LINK), LNK_QR_SIZE_MAX, &b) == LNK_OK, "2048 px accepted");
    lnk_buf_cleanup(&b);
}

static void test_empty_text_is_refused(void **state)
{
    (void)state;
    struct lnk_buf b;
    struct lnk_qr_geometry geo;
    lnk_buf_init(&b, 1 << 20);
    CHECK(lnk_qr_png("", 0, 256, &b) == LNK_EINVAL, "empty text refused (png)");
    CHECK(lnk_qr_svg("", 0, 256, &b) == LNK_EINVAL, "empty text refused (svg)");
    CHECK(lnk_qr_geometry(NULL, 0, 256, &geo) == LNK_EINVAL, "NULL text refused");
    CHECK(b.len == 0, "nothing written");
    lnk_buf_cleanup(&b);
}

static void test_text_too_long_for_a_qr_code_is_out_of_range(void **state)
{
    (void)state;
    struct lnk_buf b;
    lnk_buf_init(&b, 1 << 22);
    char *s = long_url(2332);
    struct lnk_qr_geometry geo;
    CHECK(lnk_qr_png(s, 2332, 512, &b) == LNK_ERANGE, "2332 bytes do not fit at level M (png)");
    CHECK(lnk_qr_svg(s, 2332, 512, &b) == LNK_ERANGE, "2332 bytes do not fit (svg)");
    CHECK(lnk_qr_geometry(s, 2331, 512, &geo) == LNK_OK && geo.modules == 177,
          "2331 bytes fit, in version 40 (177 modules)");
    CHECK(b.len == 0, "nothing written");
    free(s);
    lnk_buf_cleanup(&b);
}

static void test_full_buffer_is_too_big_and_restored(void **state)
{
    (void)state;
    struct lnk_buf b;
    lnk_buf_init(&b, 120);
    lnk_buf_append(&b, "prefix", 6);
    CHECK(lnk_qr_png(LINK, strlen(LINK), 512, &b) == LNK_ETOOBIG, "png past the maximum");
    CHECK(b.len == 6 && strcmp(b.ptr, "prefix") == 0, "png: the buffer is as it was");
    CHECK(lnk_qr_svg(LINK, strlen(LINK), 512, &b) == LNK_ETOOBIG, "svg past the maximum");
    CHECK(b.len == 6 && strcmp(b.ptr, "prefix") == 0, "svg: the buffer is as it was");
    lnk_buf_cleanup(&b);
}

static void test_geometry_follows_the_module_count(void **state)
{
    (void)state;
    struct lnk_qr_geometry geo;
    /* 24 bytes at level M need version 2: 25 modules, 33 with the quiet zone. */
    CHECK(lnk_qr_geometry(LINK, strlen(LINK), 300, &geo) == LNK_OK, "geometry");
    CHECK(geo.modules == 25, "version 2 is 25 modules wide");
    CHECK(geo.scale_px == 300 / 33 && geo.side_px == 33 * (300 / 33), "9 px modules, 297 px");
    CHECK(lnk_qr_geometry(LINK, strlen(LINK), 64, &geo) == LNK_OK && geo.scale_px == 1 &&
              geo.side_px == 33,
          "64 px: one pixel per module");
    char *s = long_url(2048);
    CHECK(lnk_qr_geometry(s, 2048, 64, &geo) == LNK_OK && geo.scale_px == 1 &&
              geo.side_px == geo.modules + 8 && geo.side_px > 64,
          "a long text at 64 px still has one pixel per module, larger than asked");
    free(s);
}

static void test_png_has_signature_and_ihdr_of_the_geometry(void **state)
{
    (void)state;
    static const unsigned char sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    struct lnk_buf b;
    struct lnk_qr_geometry geo;
    lnk_buf_init(&b, 1 << 20);
    CHECK(lnk_qr_png(LINK, strlen(LINK), 300, &b) == LNK_OK, "png");
    CHECK(lnk_qr_geometry(LINK, strlen(LINK), 300, &geo) == LNK_OK, "geometry");
    const unsigned char *p = (const unsigned char *)b.ptr;
    CHECK(b.len > 33 && memcmp(p, sig, 8) == 0, "PNG signature");
    CHECK(be32(p + 8) == 13 && memcmp(p + 12, "IHDR", 4) == 0, "IHDR first, 13 bytes");
    CHECK(be32(p + 16) == geo.side_px && be32(p + 20) == geo.side_px, "IHDR width and height");
    CHECK(p[24] == 1 && p[25] == 0, "1-bit greyscale");
    CHECK(p[28] == 0, "not interlaced");
    CHECK(memcmp(p + b.len - 8, "IEND", 4) == 0, "ends with IEND");
    lnk_buf_cleanup(&b);
}

/* Reads the PNG back with libpng and checks every pixel against the module
 * libqrencode puts there (quiet zone light). */
static void check_pixels(const char *text, size_t len, unsigned size_px)
{
    struct lnk_buf b;
    struct lnk_qr_geometry geo;
    lnk_buf_init(&b, 1 << 22);
    CHECK(lnk_qr_png(text, len, size_px, &b) == LNK_OK, "png");
    CHECK(lnk_qr_geometry(text, len, size_px, &geo) == LNK_OK, "geometry");
    png_image img;
    memset(&img, 0, sizeof(img));
    img.version = PNG_IMAGE_VERSION;
    CHECK(png_image_begin_read_from_memory(&img, b.ptr, b.len), "libpng reads it");
    img.format = PNG_FORMAT_GRAY;
    unsigned char *px = malloc(PNG_IMAGE_SIZE(img));
    CHECK(png_image_finish_read(&img, NULL, px, 0, NULL), "libpng decodes it");
    CHECK(img.width == geo.side_px && img.height == geo.side_px, "decoded size");
    QRcode *qr = QRcode_encodeData((int)len, (const unsigned char *)text, 0, QR_ECLEVEL_M);
    CHECK(qr && (unsigned)qr->width == geo.modules, "the reference symbol");
    size_t wrong = 0;
    for (unsigned y = 0; y < geo.side_px; y++) {
        for (unsigned x = 0; x < geo.side_px; x++) {
            unsigned mx = x / geo.scale_px, my = y / geo.scale_px;
            int dark = 0;
            if (mx >= LNK_QR_QUIET && mx < LNK_QR_QUIET + geo.modules && my >= LNK_QR_QUIET &&
                my < LNK_QR_QUIET + geo.modules)
                dark = qr->data[(my - LNK_QR_QUIET) * geo.modules + (mx - LNK_QR_QUIET)] & 1;
            unsigned char want = dark ? 0 : 255;
            wrong += px[(size_t)y * geo.side_px + x] != want;
        }
    }
    if (wrong)
        print_error("%zu of %u pixels differ\n", wrong, geo.side_px * geo.side_px);
    CHECK(wrong == 0, "every pixel is its module's colour");
    QRcode_free(qr);
    free(px);
    lnk_buf_cleanup(&b);
}

static void test_png_pixels_are_the_modules(void **state)
{
    (void)state;
    check_pixels(LINK, strlen(LINK), 300);
    check_pixels(LINK, strlen(LINK), 64);
    check_pixels("https://l.example/x", 19, 1000); /* side 957: rows not a multiple of 8 */
}

static void test_long_url_renders(void **state)
{
    (void)state;
    char *s = long_url(2048);
    check_pixels(s, 2048, 2048);
    struct lnk_buf b;
    lnk_buf_init(&b, 1 << 22);
    CHECK(lnk_qr_svg(s, 2048, 2048, &b) == LNK_OK && strncmp(b.ptr, "<svg", 4) == 0,
          "2 KB URL as svg");
    free(s);
    lnk_buf_cleanup(&b);
}

/* Sum of the run lengths "h<n>" (positive) of the path: the dark modules. */
static size_t dark_in_path(const char *svg)
{
    const char *d = strstr(svg, " d=\"");
    size_t n = 0;
    for (const char *p = d; p && *p && *p != '/'; p++)
        if (p[0] == 'h' && p[1] != '-')
            n += strtoul(p + 1, NULL, 10);
    return n;
}

static void test_svg_is_one_deterministic_path(void **state)
{
    (void)state;
    struct lnk_buf a, b;
    lnk_buf_init(&a, 1 << 20);
    lnk_buf_init(&b, 1 << 20);
    CHECK(lnk_qr_svg(LINK, strlen(LINK), 300, &a) == LNK_OK, "svg");
    CHECK(lnk_qr_svg(LINK, strlen(LINK), 300, &b) == LNK_OK, "svg again");
    CHECK(a.len == b.len && memcmp(a.ptr, b.ptr, a.len) == 0, "same bytes twice");
    CHECK(strncmp(a.ptr, "<svg xmlns=\"http://www.w3.org/2000/svg\"", 39) == 0, "starts with <svg");
    CHECK(strstr(a.ptr, " width=\"297\" height=\"297\"") != NULL, "pixel size of the geometry");
    CHECK(strstr(a.ptr, " viewBox=\"0 0 33 33\"") != NULL, "viewBox in modules");
    CHECK(strstr(a.ptr, "shape-rendering=\"crispEdges\"") != NULL, "crisp edges");
    const char *path = strstr(a.ptr, "<path");
    CHECK(path && strstr(path + 1, "<path") == NULL, "exactly one path");
    CHECK(strcmp(a.ptr + a.len - 7, "</svg>\n") == 0, "ends with </svg>");
    CHECK(memchr(a.ptr, '\0', a.len) == NULL, "no NUL inside");
    QRcode *qr = QRcode_encodeData((int)strlen(LINK), (const unsigned char *)LINK, 0, QR_ECLEVEL_M);
    size_t dark = 0;
    for (int i = 0; i < qr->width * qr->width; i++)
        dark += qr->data[i] & 1;
    CHECK(dark_in_path(a.ptr) == dark, "the path covers every dark module once");
    QRcode_free(qr);
    lnk_buf_cleanup(&a);
    lnk_buf_cleanup(&b);
}

static void test_binary_text_is_data(void **state)
{
    (void)state;
    static const char bytes[] = {'a', '\0', 'b', '\xff'};
    struct lnk_buf b;
    lnk_buf_init(&b, 1 << 20);
    CHECK(lnk_qr_png(bytes, sizeof(bytes), 128, &b) == LNK_OK, "NUL and 0xff are data");
    check_pixels(bytes, sizeof(bytes), 128);
    lnk_buf_cleanup(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sizes_outside_the_limits_are_refused),
        cmocka_unit_test(test_empty_text_is_refused),
        cmocka_unit_test(test_text_too_long_for_a_qr_code_is_out_of_range),
        cmocka_unit_test(test_full_buffer_is_too_big_and_restored),
        cmocka_unit_test(test_geometry_follows_the_module_count),
        cmocka_unit_test(test_png_has_signature_and_ihdr_of_the_geometry),
        cmocka_unit_test(test_png_pixels_are_the_modules),
        cmocka_unit_test(test_long_url_renders),
        cmocka_unit_test(test_svg_is_one_deterministic_path),
        cmocka_unit_test(test_binary_text_is_data),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
