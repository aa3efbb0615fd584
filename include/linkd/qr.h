/* SPDX-License-Identifier: MIT */
/* QR codes of a text (a short link) as PNG or SVG (docs/adr/0024): encoded
 * by libqrencode in 8-bit mode at error correction level M, the smallest
 * version that holds the text, with a quiet zone of LNK_QR_QUIET modules on
 * every side. A codec: no I/O, no state; thread-safe (libqrencode is built
 * with pthread support on Debian). */
#ifndef LNK_QR_H
#define LNK_QR_H

#include <stddef.h>

#include "linkd/buf.h"

#define LNK_QR_SIZE_MIN 64   /* px */
#define LNK_QR_SIZE_MAX 2048 /* px */
#define LNK_QR_QUIET    4    /* modules of light border on each side */

/* The geometry of the code of text[0..len): `modules` is the symbol's width
 * in modules (21 for version 1 .. 177 for version 40), `scale_px` the side of
 * one module, floor(size_px / (modules + 2 * LNK_QR_QUIET)) and at least 1,
 * `side_px` the image's side, (modules + 2 * LNK_QR_QUIET) * scale_px. The
 * image is never larger than size_px unless one pixel per module already
 * exceeds it (a long text at a small size). Readers need about 2 px per
 * module: zbarimg reads none of the 1 px codes it was given. */
struct lnk_qr_geometry {
    unsigned modules, scale_px, side_px;
};

/* Appends the PNG (1-bit greyscale, non-interlaced, dark modules black) of
 * the QR code of text[0..len) to out. Errors leave out as it was:
 * LNK_EINVAL for an empty text or size_px outside
 * LNK_QR_SIZE_MIN..LNK_QR_SIZE_MAX; LNK_ERANGE when the text does not fit in
 * a QR code (more than 2331 bytes at level M); LNK_ETOOBIG when out's
 * maximum is reached; LNK_ENOMEM. */
int lnk_qr_png(const char *text, size_t len, unsigned size_px, struct lnk_buf *out);

/* Appends an SVG document of the same code to out: width and height of
 * side_px, a viewBox in modules (quiet zone included), a white background
 * rect and one black <path> of the dark modules, each row's runs as
 * rectangles, shape-rendering="crispEdges". The same input always gives the
 * same bytes. Errors as lnk_qr_png. */
int lnk_qr_svg(const char *text, size_t len, unsigned size_px, struct lnk_buf *out);

/* The geometry lnk_qr_png and lnk_qr_svg use for text[0..len) and size_px.
 * Errors as lnk_qr_png (without LNK_ETOOBIG). */
int lnk_qr_geometry(const char *text, size_t len, unsigned size_px, struct lnk_qr_geometry *geo);

#endif
