/* SPDX-License-Identifier: MIT */
/* lnk_url_validate on arbitrary bytes. An accepted URL must meet the header's
 * promises (length, bytes, http(s) scheme with an authority that holds no
 * user information and no escape), the verdict must not depend on the
 * scheme's case, and a rejection must give a reason. */
#include <stdbool.h>
#include <string.h>

#include "../fuzz.h"
#include "linkd/err.h"
#include "linkd/model.h"
#include "linkd/url.h"

static bool has_prefix_nocase(const uint8_t *s, size_t len, const char *p)
{
    size_t n = strlen(p);
    if (len < n)
        return false;
    for (size_t i = 0; i < n; i++) {
        uint8_t c = s[i];
        if (c >= 'A' && c <= 'Z')
            c = (uint8_t)(c - 'A' + 'a');
        if (c != (uint8_t)p[i])
            return false;
    }
    return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *s = (const char *)data;
    const char *reason = NULL;
    int rc = lnk_url_validate(s, size, &reason);
    FUZZ_CHECK(rc == LNK_OK || rc == LNK_EINVAL, "only LNK_OK or LNK_EINVAL");
    FUZZ_CHECK(lnk_url_validate(s, size, NULL) == rc, "same verdict without a reason pointer");
    if (rc != LNK_OK) {
        FUZZ_CHECK(reason != NULL && reason[0] != '\0', "a rejection names its reason");
        return 0;
    }
    FUZZ_CHECK(reason == NULL, "an accepted URL leaves the reason alone");
    FUZZ_CHECK(size >= 1 && size <= LNK_URL_MAX, "accepted URLs are 1..2048 bytes");
    for (size_t i = 0; i < size; i++)
        FUZZ_CHECK(data[i] > 0x20 && data[i] < 0x7f, "accepted URLs are printable ASCII");
    FUZZ_CHECK(has_prefix_nocase(data, size, "http://") ||
                   has_prefix_nocase(data, size, "https://"),
               "accepted URLs are http(s) with an authority");

    /* The authority runs from "//" to the first '/', '?' or '#'. */
    size_t auth = (size_t)((const uint8_t *)memchr(data, ':', size) - data) + 3, end = auth;
    while (end < size && data[end] != '/' && data[end] != '?' && data[end] != '#')
        end++;
    FUZZ_CHECK(!memchr(data + auth, '@', end - auth), "accepted URLs hold no user information");
    FUZZ_CHECK(!memchr(data + auth, '%', end - auth), "accepted URLs have no escaped host");

    /* The scheme is compared case-insensitively: flipping its case must not
     * change the verdict. */
    char *flipped = malloc(size);
    FUZZ_CHECK(flipped != NULL, "malloc");
    memcpy(flipped, s, size);
    for (size_t i = 0; i < size && flipped[i] != ':'; i++)
        flipped[i] = (char)(flipped[i] ^ 0x20);
    FUZZ_CHECK(lnk_url_validate(flipped, size, NULL) == LNK_OK, "scheme case does not matter");
    free(flipped);

    /* Five bytes ("http:" or "https") cannot hold a scheme and a host. */
    FUZZ_CHECK(lnk_url_validate(s, 5, NULL) != LNK_OK, "a scheme alone is not a URL");
    return 0;
}
