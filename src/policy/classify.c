/* SPDX-License-Identifier: MIT */
/* What a redirect knows of its visitor: a device and OS class from the
 * User-Agent (case-insensitive substring rules in the manner of ua-parser
 * and the mobile-detection libraries, docs/link-policy.md#user-agents), and
 * the preferred language of Accept-Language (RFC 9110 §12.5.4). Pure
 * functions, nothing allocated. */
#include <pthread.h>
#include <string.h>

#include "linkd/policy.h"

/* Every substring the rules look for (lower-case), scanned for in one pass. */
#define UA_TOKENS(X)                                                                               \
    X(IPHONE, "iphone")                                                                            \
    X(IPAD, "ipad")                                                                                \
    X(IPOD, "ipod")                                                                                \
    X(ANDROID, "android")                                                                          \
    X(WINDOWS, "windows")                                                                          \
    X(MACINTOSH, "macintosh")                                                                      \
    X(MAC_OS_X, "mac os x")                                                                        \
    X(LINUX, "linux")                                                                              \
    X(X11, "x11")                                                                                  \
    X(MOBILE, "mobile")                                                                            \
    /* Crawlers, link-preview fetchers, monitors and HTTP libraries. */                            \
    X(BOT, "bot")                                                                                  \
    X(CRAWL, "crawl")                                                                              \
    X(SPIDER, "spider")                                                                            \
    X(SLURP, "slurp")                                                                              \
    X(CURL, "curl/")                                                                               \
    X(WGET, "wget/")                                                                               \
    X(PY_REQUESTS, "python-requests")                                                              \
    X(PY_URLLIB, "python-urllib")                                                                  \
    X(AIOHTTP, "aiohttp")                                                                          \
    X(GO_HTTP, "go-http-client")                                                                   \
    X(JAVA, "java/")                                                                               \
    X(OKHTTP, "okhttp/")                                                                           \
    X(LIBWWW, "libwww-perl")                                                                       \
    X(HTTPCLIENT, "httpclient")                                                                    \
    X(HEADLESS, "headlesschrome")                                                                  \
    X(FB_HIT, "facebookexternalhit")                                                               \
    X(MEDIAPARTNERS, "mediapartners-google")                                                       \
    X(LIGHTHOUSE, "lighthouse")                                                                    \
    X(PREVIEW, "preview")                                                                          \
    /* Tablets (besides the iPad). */                                                              \
    X(TABLET, "tablet")                                                                            \
    X(KINDLE, "kindle")                                                                            \
    X(SILK, "silk/")                                                                               \
    X(PLAYBOOK, "playbook")                                                                        \
    /* Phones (besides iPhone, iPod and Android). */                                               \
    X(MOBI, "mobi")                                                                                \
    X(WINDOWS_PHONE, "windows phone")                                                              \
    X(BLACKBERRY, "blackberry")                                                                    \
    X(OPERA_MINI, "opera mini")

enum {
#define UA_ENUM(id, text) T_##id,
    UA_TOKENS(UA_ENUM)
#undef UA_ENUM
        T_COUNT
};
_Static_assert(T_COUNT <= 64, "the tokens fit one 64-bit mask");

#define B(id) ((uint64_t)1 << T_##id)
#define BOT_MASK                                                                                   \
    (B(BOT) | B(CRAWL) | B(SPIDER) | B(SLURP) | B(CURL) | B(WGET) | B(PY_REQUESTS) |               \
     B(PY_URLLIB) | B(AIOHTTP) | B(GO_HTTP) | B(JAVA) | B(OKHTTP) | B(LIBWWW) | B(HTTPCLIENT) |    \
     B(HEADLESS) | B(FB_HIT) | B(MEDIAPARTNERS) | B(LIGHTHOUSE) | B(PREVIEW))
/* Tablets before phones: Android tablets lack "Mobile" (Google's advice to
 * tablet makers), and an iPad names itself. */
#define TABLET_MASK (B(IPAD) | B(TABLET) | B(KINDLE) | B(SILK) | B(PLAYBOOK))
#define MOBILE_MASK                                                                                \
    (B(MOBI) | B(IPHONE) | B(IPOD) | B(ANDROID) | B(WINDOWS_PHONE) | B(BLACKBERRY) | B(OPERA_MINI))

static const struct lnk_str TOKENS[] = {
#define UA_STR(id, text) LNK_STR(text),
    UA_TOKENS(UA_STR)
#undef UA_STR
};

/* Bytes past UA_SCAN_MAX are not looked at (real user agents are well
 * below it). */
#define UA_SCAN_MAX 1024

/* Per byte, the tokens that start with it (lower-case). */
static uint64_t first_byte[256];
static pthread_once_t first_byte_once = PTHREAD_ONCE_INIT;

static void init_first_byte(void)
{
    for (unsigned k = 0; k < T_COUNT; k++)
        first_byte[(unsigned char)TOKENS[k].ptr[0]] |= (uint64_t)1 << k;
}

static char lower(char c)
{
    return c >= 'A' && c <= 'Z' ? (char)(c + 32) : c;
}

/* The tokens ua holds, ignoring case: one pass, trying at each byte only
 * the tokens that start with it. */
static uint64_t scan_tokens(struct lnk_str ua)
{
    size_t len = ua.len < UA_SCAN_MAX ? ua.len : UA_SCAN_MAX;
    uint64_t found = 0;
    pthread_once(&first_byte_once, init_first_byte);
    for (size_t i = 0; i < len; i++) {
        uint64_t m = first_byte[(unsigned char)lower(ua.ptr[i])] & ~found;
        for (; m; m &= m - 1) {
            unsigned k = (unsigned)__builtin_ctzll(m);
            struct lnk_str t = TOKENS[k];
            size_t j = 1;
            while (j < t.len && i + j < len && lower(ua.ptr[i + j]) == t.ptr[j])
                j++;
            if (j == t.len)
                found |= (uint64_t)1 << k;
        }
    }
    return found;
}

void lnk_ua_classify(struct lnk_str ua, enum lnk_ua_device *device, enum lnk_ua_os *os)
{
    uint64_t f = scan_tokens(ua);
    /* OS first: iOS says "like Mac OS X", Android says "Linux". */
    if (f & (B(IPHONE) | B(IPAD) | B(IPOD)))
        *os = LNK_UA_IOS;
    else if (f & B(ANDROID))
        *os = LNK_UA_ANDROID;
    else if (f & B(WINDOWS))
        *os = LNK_UA_WINDOWS;
    else if (f & (B(MACINTOSH) | B(MAC_OS_X)))
        *os = LNK_UA_MACOS;
    else if (f & (B(LINUX) | B(X11)))
        *os = LNK_UA_LINUX;
    else
        *os = LNK_UA_OS_OTHER;

    if (lnk_str_trim(ua).len == 0 || (f & BOT_MASK))
        *device = LNK_UA_BOT;
    else if ((f & TABLET_MASK) || (*os == LNK_UA_ANDROID && !(f & B(MOBILE))))
        *device = LNK_UA_TABLET;
    else if (f & MOBILE_MASK)
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
