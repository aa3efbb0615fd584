#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""QR round trip: short links rendered to PNG by include/linkd/qr.h (through
tests/qr/qr_render.c) and read back by a real decoder, zbarimg from Debian's
zbar-tools; the decoded text must equal the input byte for byte. Usage:
test_qr_zbar.py QR_RENDER_BINARY. Prints N passed, N failed."""
import os
import shutil
import subprocess
import sys
import tempfile

CASES = [
    # (text, size_px)
    ("https://l.example/Ab3x9Q", 256),
    # 66 px: 2 px per module for version 2 (33 modules with the quiet zone),
    # the smallest that zbarimg reads; at 64 px (1 px per module) it reads
    # nothing (docs/adr/0024-qr-and-portability.md).
    ("https://l.example/Ab3x9Q", 66),
    ("http://127.0.0.1:8080/promo-2026_x", 512),
    ("https://links.example.org/a?utm_source=news&utm_medium=email&x=%20y", 300),
    ("https://example.com/" + "p" * 200 + "?q=" + "z" * 180, 1024),
    # The longest destination linkd accepts (2048 bytes), at the largest size.
    ("https://www.example.com/long?q=" + "abcdefghij" * 201 + "a" * 7, 2048),
]


def main():
    if len(sys.argv) != 2:
        print("usage: test_qr_zbar.py QR_RENDER_BINARY", file=sys.stderr)
        return 2
    render = sys.argv[1]
    zbarimg = shutil.which("zbarimg")
    if not zbarimg:
        print("zbarimg not found: scripts/install-deps.sh test installs zbar-tools",
              file=sys.stderr)
        return 1
    passed = failed = 0
    with tempfile.TemporaryDirectory(prefix="linkd-qr-") as tmp:
        for i, (text, size) in enumerate(CASES):
            data = text.encode()
            path = os.path.join(tmp, "code%d.png" % i)
            subprocess.run([render, "png", str(size), path], input=data, check=True)
            res = subprocess.run([zbarimg, "--raw", "-q", path], capture_output=True,
                                 timeout=60)
            got = res.stdout[:-1] if res.stdout.endswith(b"\n") else res.stdout
            ok = res.returncode == 0 and got == data
            label = "%d bytes at %d px (%d bytes of PNG)" % (len(data), size,
                                                              os.path.getsize(path))
            if ok:
                passed += 1
                print("ok   " + label)
            else:
                failed += 1
                print("FAIL %s: zbarimg exit %d, read %r" % (label, res.returncode, got[:80]))
    print("%d passed, %d failed" % (passed, failed))
    return 0 if failed == 0 and passed == len(CASES) else 1


if __name__ == "__main__":
    sys.exit(main())
