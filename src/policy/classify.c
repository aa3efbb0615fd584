/* SPDX-License-Identifier: MIT */
/* What a redirect knows of its visitor: a device and OS class from the
 * User-Agent (case-insensitive substring rules in the manner of ua-parser
 * and the mobile-detection libraries, docs/link-policy.md#user-agents), and
 * the preferred language of Accept-Language (RFC 9110 §12.5.4). Pure
 * functions, nothing allocated. */
#include <string.h>

#include "linkd/policy.h"

static char lower(char c)
{
    return c >= 'A' && c <= 'Z' ? (char)(c + 32) : c;
}

/* True when s holds needle (lower-case) in any case. */
static bool has(struct lnk_str s, const char *needle)
{
    size_t n = strlen(needle);
    if (n > s.len)
        return false;
    for (size_t i = 0; i + n <= s.len; i++) {
        if (lower(s.ptr[i]) != needle[0])
            continue;
        size_t k = 1;
        while (k < n && lower(s.ptr[i + k]) == needle[k])
            k++;
        if (k == n)
            return true;
    }
    return false;
}

static bool has_any(struct lnk_str s, const char *const *needles)
{
    for (; *needles; needles++)
        if (has(s, *needles))
            return true;
    return false;
}

/* Crawlers, link-preview fetchers, monitors and HTTP libraries. */
static const char *const BOT[] = {"bot",
                                  "crawl",
                                  "spider",
                                  "slurp",
                                  "curl/",
                                  "wget/",
                                  "python-requests",
                                  "python-urllib",
                                  "aiohttp",
                                  "go-http-client",
                                  "java/",
                                  "okhttp/",
                                  "libwww-perl",
                                  "httpclient",
                                  "headlesschrome",
                                  "facebookexternalhit",
                                  "mediapartners-google",
                                  "lighthouse",
                                  "preview",
                                  NULL};
/* Tablets before phones: Android tablets lack "Mobile" (Google's advice to
 * tablet makers), and an iPad names itself. */
static const char *const TABLET[] = {"ipad", "tablet", "kindle", "silk/", "playbook", NULL};
static const char *const MOBILE[] = {"mobi",          "iphone",     "ipod",       "android",
                                     "windows phone", "blackberry", "opera mini", NULL};

void lnk_ua_classify(struct lnk_str ua, enum lnk_ua_device *device, enum lnk_ua_os *os)
{
    /* OS first: iOS says "like Mac OS X", Android says "Linux". */
    if (has(ua, "iphone") || has(ua, "ipad") || has(ua, "ipod"))
        *os = LNK_UA_IOS;
    else if (has(ua, "android"))
        *os = LNK_UA_ANDROID;
    else if (has(ua, "windows"))
        *os = LNK_UA_WINDOWS;
    else if (has(ua, "macintosh") || has(ua, "mac os x"))
        *os = LNK_UA_MACOS;
    else if (has(ua, "linux") || has(ua, "x11"))
        *os = LNK_UA_LINUX;
    else
        *os = LNK_UA_OS_OTHER;

    if (lnk_str_trim(ua).len == 0 || has_any(ua, BOT))
        *device = LNK_UA_BOT;
    else if (has_any(ua, TABLET) || (*os == LNK_UA_ANDROID && !has(ua, "mobile")))
        *device = LNK_UA_TABLET;
    else if (has_any(ua, MOBILE))
        *device = LNK_UA_MOBILE;
    else
        *device = LNK_UA_DESKTOP;
}

const char *lnk_ua_device_name(enum lnk_ua_device d)
{
    static const char *const NAMES[] = {"desktop", "mobile", "tablet", "bot"};
    return NAMES[d];
}

const char *lnk_ua_os_name(enum lnk_ua_os os)
{
    static const char *const NAMES[] = {"other", "ios", "android", "windows", "macos", "linux"};
    return NAMES[os];
}

/* q = 0 / 0.d{0,3} / 1 / 1.0{0,3} (RFC 9110 §12.4.2) in thousandths; -1 if
 * malformed. */
static int parse_q(struct lnk_str s)
{
    if (s.len == 0 || (s.ptr[0] != '0' && s.ptr[0] != '1'))
        return -1;
    int q = (s.ptr[0] - '0') * 1000;
    if (s.len == 1)
        return q;
    if (s.ptr[1] != '.' || s.len > 5)
        return -1;
    int scale = 100;
    for (size_t i = 2; i < s.len; i++, scale /= 10) {
        if (s.ptr[i] < '0' || s.ptr[i] > '9' || (q == 1000 && s.ptr[i] != '0'))
            return -1;
        q += (s.ptr[i] - '0') * scale;
    }
    return q;
}

/* The weight of one Accept-Language item (tag and parameters), and its tag. */
static int item_weight(struct lnk_str item, struct lnk_str *tag)
{
    const char *semi = memchr(item.ptr, ';', item.len);
    *tag = lnk_str_trim(lnk_str_make(item.ptr, semi ? (size_t)(semi - item.ptr) : item.len));
    if (tag->len == 0 || (tag->len == 1 && tag->ptr[0] == '*'))
        return -1;
    if (!semi)
        return 1000;
    struct lnk_str param =
        lnk_str_trim(lnk_str_make(semi + 1, item.len - (size_t)(semi + 1 - item.ptr)));
    if (param.len < 2 || (param.ptr[0] != 'q' && param.ptr[0] != 'Q') || param.ptr[1] != '=')
        return -1;
    return parse_q(lnk_str_make(param.ptr + 2, param.len - 2));
}

bool lnk_lang_preferred(struct lnk_str al, struct lnk_str *tag)
{
    int best = 0;
    size_t pos = 0;
    while (pos < al.len) {
        const char *start = al.ptr + pos;
        const char *comma = memchr(start, ',', al.len - pos);
        size_t n = comma ? (size_t)(comma - start) : al.len - pos;
        pos += n + 1;
        struct lnk_str t;
        int q = item_weight(lnk_str_make(start, n), &t);
        if (q > best) {
            best = q;
            *tag = t;
        }
    }
    return best > 0;
}
