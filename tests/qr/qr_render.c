/* SPDX-License-Identifier: MIT */
/* Test helper: writes the QR code of a text as PNG or SVG through
 * include/linkd/qr.h. Usage: qr_render png|svg SIZE_PX OUT_FILE < text.
 * The text is stdin, byte for byte (no newline is stripped). Exit 0 on
 * success, 1 with the error on stderr otherwise. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "linkd/buf.h"
#include "linkd/err.h"
#include "linkd/qr.h"

#define TEXT_MAX 8192

int main(int argc, char **argv)
{
    if (argc != 4 || (strcmp(argv[1], "png") != 0 && strcmp(argv[1], "svg") != 0)) {
        fprintf(stderr, "usage: qr_render png|svg SIZE_PX OUT_FILE < text\n");
        return 2;
    }
    static char text[TEXT_MAX];
    size_t len = fread(text, 1, sizeof(text), stdin);
    unsigned size = (unsigned)strtoul(argv[2], NULL, 10);
    struct lnk_buf out;
    lnk_buf_init(&out, 16u << 20);
    int rc =
        argv[1][0] == 'p' ? lnk_qr_png(text, len, size, &out) : lnk_qr_svg(text, len, size, &out);
    FILE *f = rc == LNK_OK ? fopen(argv[3], "wb") : NULL;
    if (f) {
        if (fwrite(out.ptr, 1, out.len, f) != out.len)
            rc = LNK_EINVAL;
        if (fclose(f) != 0)
            rc = LNK_EINVAL;
    } else if (rc == LNK_OK) {
        rc = LNK_EINVAL;
    }
    lnk_buf_cleanup(&out);
    if (rc != LNK_OK) {
        fprintf(stderr, "qr_render: %s\n", lnk_strerror(rc));
        return 1;
    }
    return 0;
}
