/* SPDX-License-Identifier: MIT */
/* QR codes through libqrencode, written as PNG through libpng or as SVG
 * text. The symbol is encoded once per call; both writers walk the same
 * module matrix (bit 0 of each byte of QRcode.data is "dark"). libpng reports
 * errors by longjmp: everything it may leave behind is allocated before the
 * setjmp and released after it on both paths. */
#include "linkd/qr.h"

#include <errno.h>
#include <png.h>
#include <qrencode.h>
#include <setjmp.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "linkd/err.h"

/* 8-bit mode at level M holds at most 2331 bytes (version 40). */
#define QR_BYTES_MAX 2331

static int encode(const char *text, size_t len, unsigned size_px, QRcode **code,
                  struct lnk_qr_geometry *geo)
{
    if (!text || len == 0 || size_px < LNK_QR_SIZE_MIN || size_px > LNK_QR_SIZE_MAX)
        return LNK_EINVAL;
    if (len > QR_BYTES_MAX)
        return LNK_ERANGE;
    /* encodeData, not encodeString: any bytes, no mode guessing, and a NUL
     * inside the text is data like any other byte. */
    QRcode *qr = QRcode_encodeData((int)len, (const unsigned char *)text, 0, QR_ECLEVEL_M);
    if (!qr) {
        int err = errno;
        return err == ERANGE ? LNK_ERANGE : err == ENOMEM ? LNK_ENOMEM : LNK_EINVAL;
    }
    unsigned total = (unsigned)qr->width + 2 * LNK_QR_QUIET;
    unsigned scale = size_px / total;
    if (scale == 0)
        scale = 1;
    geo->modules = (unsigned)qr->width;
    geo->scale_px = scale;
    geo->side_px = total * scale;
    *code = qr;
    return LNK_OK;
}

int lnk_qr_geometry(const char *text, size_t len, unsigned size_px, struct lnk_qr_geometry *geo)
{
    QRcode *qr = NULL;
    int rc = encode(text, len, size_px, &qr, geo);
    QRcode_free(qr);
    return rc;
}

static bool is_dark(const QRcode *qr, unsigned x, unsigned y)
{
    return qr->data[(size_t)y * (size_t)qr->width + x] & 1;
}

struct png_sink {
    struct lnk_buf *out;
    int rc;
};

static void on_png_write(png_structp png, png_bytep data, size_t len)
{
    struct png_sink *sink = png_get_io_ptr(png);
    int rc = lnk_buf_append(sink->out, data, len);
    if (rc != LNK_OK) {
        sink->rc = rc;
        png_error(png, "output buffer full");
    }
}

static void on_png_flush(png_structp png)
{
    (void)png;
}

/* libpng's default error handler prints to stderr before its longjmp; the
 * only errors here are ours (buffer full) or out of memory. */
static void on_png_error(png_structp png, png_const_charp msg)
{
    (void)msg;
    png_longjmp(png, 1);
}

static void on_png_warning(png_structp png, png_const_charp msg)
{
    (void)png;
    (void)msg;
}

/* Fills row (1 bit per pixel, MSB first, 1 = white) for module row y of the
 * image, quiet zone included (y counts from the image's top). */
static void fill_row(const QRcode *qr, const struct lnk_qr_geometry *geo, unsigned y,
                     unsigned char *row, size_t row_bytes)
{
    memset(row, 0xff, row_bytes);
    if (y < LNK_QR_QUIET || y >= LNK_QR_QUIET + geo->modules)
        return;
    for (unsigned x = 0; x < geo->modules; x++) {
        if (!is_dark(qr, x, y - LNK_QR_QUIET))
            continue;
        size_t px = (size_t)(x + LNK_QR_QUIET) * geo->scale_px;
        for (unsigned i = 0; i < geo->scale_px; i++, px++)
            row[px / 8] &= (unsigned char)~(0x80u >> (px % 8));
    }
}

/* sink lives in the caller's frame: an automatic variable of this function,
 * changed between setjmp and longjmp, would be indeterminate after it. */
static int write_png(const QRcode *qr, const struct lnk_qr_geometry *geo, struct png_sink *sink)
{
    size_t row_bytes = ((size_t)geo->side_px + 7) / 8;
    unsigned char *row = malloc(row_bytes);
    png_structp png =
        png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, on_png_error, on_png_warning);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    if (!row || !png || !info) {
        sink->rc = LNK_ENOMEM;
        goto out;
    }
    if (setjmp(png_jmpbuf(png))) {
        if (sink->rc == LNK_OK)
            sink->rc = LNK_ENOMEM;
        goto out;
    }
    png_set_write_fn(png, sink, on_png_write, on_png_flush);
    png_set_IHDR(png, info, geo->side_px, geo->side_px, 1, PNG_COLOR_TYPE_GRAY, PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    /* Rows of a QR code repeat scale_px times: "none" filtering lets deflate
     * find the repeats; the adaptive filters only cost time here. */
    png_set_filter(png, PNG_FILTER_TYPE_BASE, PNG_FILTER_NONE);
    png_write_info(png, info);
    unsigned total = geo->modules + 2 * LNK_QR_QUIET;
    for (unsigned y = 0; y < total; y++) {
        fill_row(qr, geo, y, row, row_bytes);
        for (unsigned i = 0; i < geo->scale_px; i++)
            png_write_row(png, row);
    }
    png_write_end(png, NULL);
out:
    png_destroy_write_struct(&png, &info);
    free(row);
    return sink->rc;
}

int lnk_qr_png(const char *text, size_t len, unsigned size_px, struct lnk_buf *out)
{
    QRcode *qr = NULL;
    struct lnk_qr_geometry geo;
    size_t mark = out->len;
    int rc = encode(text, len, size_px, &qr, &geo);
    if (rc == LNK_OK) {
        struct png_sink sink = {out, LNK_OK};
        rc = write_png(qr, &geo, &sink);
    }
    if (rc != LNK_OK && out->ptr) {
        out->len = mark;
        out->ptr[mark] = '\0';
    }
    QRcode_free(qr);
    return rc;
}

/* Each run of dark modules in a row becomes "M<x> <y>h<n>v1h-<n>z", in
 * module units offset by the quiet zone: a few hundred bytes for a short
 * link, and one path element whatever the version. */
static int write_svg(const QRcode *qr, const struct lnk_qr_geometry *geo, struct lnk_buf *out)
{
    unsigned total = geo->modules + 2 * LNK_QR_QUIET;
    int rc = lnk_buf_printf(out,
                            "<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" "
                            "width=\"%u\" height=\"%u\" viewBox=\"0 0 %u %u\" "
                            "shape-rendering=\"crispEdges\">"
                            "<rect width=\"%u\" height=\"%u\" fill=\"#ffffff\"/>"
                            "<path fill=\"#000000\" d=\"",
                            geo->side_px, geo->side_px, total, total, total, total);
    for (unsigned y = 0; y < geo->modules && rc == LNK_OK; y++) {
        unsigned x = 0;
        while (x < geo->modules && rc == LNK_OK) {
            if (!is_dark(qr, x, y)) {
                x++;
                continue;
            }
            unsigned start = x;
            while (x < geo->modules && is_dark(qr, x, y))
                x++;
            rc = lnk_buf_printf(out, "M%u %uh%uv1h-%uz", start + LNK_QR_QUIET, y + LNK_QR_QUIET,
                                x - start, x - start);
        }
    }
    if (rc == LNK_OK)
        rc = lnk_buf_append(out, "\"/></svg>\n", 10);
    return rc;
}

int lnk_qr_svg(const char *text, size_t len, unsigned size_px, struct lnk_buf *out)
{
    QRcode *qr = NULL;
    struct lnk_qr_geometry geo;
    size_t mark = out->len;
    int rc = encode(text, len, size_px, &qr, &geo);
    if (rc == LNK_OK)
        rc = write_svg(qr, &geo, out);
    if (rc != LNK_OK && out->ptr) {
        out->len = mark;
        out->ptr[mark] = '\0';
    }
    QRcode_free(qr);
    return rc;
}
