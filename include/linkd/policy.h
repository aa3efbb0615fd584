/* SPDX-License-Identifier: MIT */
/* Link options (docs/link-policy.md, docs/adr/0023-link-policy.md): turns the
 * option fields of a v1 link into the stored OPTIONS JSON (urls.opts), and
 * decides, per redirect, where a visitor goes. A pure module above codec/: no
 * HTTP, no store. Every function is thread-safe; lnk_policy_decide reads only
 * its arguments and allocates only through the caller's alloc function. */
#ifndef LNK_POLICY_H
#define LNK_POLICY_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "linkd/str.h"

/* Limits of the v1 model. */
#define LNK_POLICY_RULES_MAX      32   /* entries in "rules" */
#define LNK_POLICY_SPLIT_MAX      10   /* entries in "split" */
#define LNK_POLICY_LIST_MAX       32   /* items in any other list or object */
#define LNK_POLICY_NOTES_MAX      4096 /* bytes */
#define LNK_POLICY_TAG_MAX        64   /* characters (code points) of one tag */
#define LNK_POLICY_WEIGHT_SUM_MAX 10000
#define LNK_POLICY_UTM_MAX        256  /* bytes of one utm value */
#define LNK_POLICY_QUERY_KEY_MAX  256  /* bytes of a rule's query parameter name */
#define LNK_POLICY_QUERY_VAL_MAX  1024 /* bytes of a rule's query parameter value */
#define LNK_POLICY_PASSWORD_MAX   256  /* bytes of a clear password */

/* Guesses at one link's password from one client: a burst, then one a
 * second (docs/security.md#link-passwords). */
#define LNK_PASSWORD_GUESS_BURST 5
#define LNK_PASSWORD_GUESS_RATE  1
/* And over all links, a client's guesses: LINKD_PASSWORD_GUESSES at once,
 * then this many a second (each costs a reader thread tens of ms). */
#define LNK_PASSWORD_CLIENT_RATE 2

/* Argon2id parameters of lnk_policy_hash_password (OWASP password storage
 * cheat sheet: m = 19 MiB, t = 2, p = 1; libsodium always uses p = 1). */
#define LNK_POLICY_PWHASH_OPS       2
#define LNK_POLICY_PWHASH_MEM_BYTES (19u * 1024 * 1024)
/* The size of an encoded hash, terminator included (crypto_pwhash_STRBYTES). */
#define LNK_POLICY_HASH_MAX 128

/* err->type: stable slugs, for the API's error body.
 * invalid-field       wrong JSON type, unknown key or enum value, number out
 *                     of range, empty or too long text, bad tag, language or
 *                     country code
 * invalid-url         a destination breaks the URL rules (include/linkd/url.h)
 * invalid-time        a time that is not RFC 3339 UTC ("...T...Z" or +00:00)
 * invalid-time-window valid_from >= valid_until, or a rule's from >= until
 * too-many-items      a list or object past its limit (see above), notes
 *                     past LNK_POLICY_NOTES_MAX
 * invalid-weights     split weights summing past LNK_POLICY_WEIGHT_SUM_MAX
 * password-not-hashed a clear "password" without "password_hash" beside it:
 *                     every other field is valid (see lnk_policy_build) */
#define LNK_POLICY_E_FIELD      "invalid-field"
#define LNK_POLICY_E_URL        "invalid-url"
#define LNK_POLICY_E_TIME       "invalid-time"
#define LNK_POLICY_E_WINDOW     "invalid-time-window"
#define LNK_POLICY_E_TOO_MANY   "too-many-items"
#define LNK_POLICY_E_WEIGHTS    "invalid-weights"
#define LNK_POLICY_E_NOT_HASHED "password-not-hashed"

struct lnk_policy_error {
    const char *type; /* one of LNK_POLICY_E_* (static) */
    char field[160];  /* JSON pointer into the input, e.g. "/rules/2/device/0" */
    char detail[200]; /* one human sentence */
};

/* Builds the canonical stored options from the option keys of input
 * (redirect_type, forward_query, utm, tags, notes, valid_from, valid_until,
 * max_clicks, fallback_url, password, rules, split; other keys are ignored)
 * over current (the stored options, or NULL for a new link).
 *
 * PATCH semantics: a key absent from input keeps current's value; null
 * resets it to the default; any other value replaces it whole (utm, rules
 * and split included). The result holds only keys that differ from their
 * defaults, in a fixed order, times as integer UTC seconds, tags trimmed,
 * lower-cased and without duplicates, countries upper-case, languages
 * lower-case: dumped with lnk_json_dump, equal options give equal text. An
 * empty object means "no options" (store NULL).
 *
 * Passwords: hashing is slow (by design), so it is the caller's, off the
 * event loop, with lnk_policy_hash_password. A "password" string is checked
 * last: when every other field is valid and input has no "password_hash",
 * the answer is LNK_EINVAL with type LNK_POLICY_E_NOT_HASHED. The caller
 * then hashes the password, sets "password_hash" in its input and builds
 * again. A "password_hash" (an Argon2id string from lnk_policy_hash_password)
 * is stored as is, with or without "password" beside it; "password": null
 * removes the stored hash.
 *
 * LNK_OK and *opts_out a new reference, or LNK_EINVAL with *err filled and
 * *opts_out NULL. input and current are only read. */
int lnk_policy_build(const json_t *input, const json_t *current, json_t **opts_out,
                     struct lnk_policy_error *err);

/* Argon2id (LNK_POLICY_PWHASH_*) of pw[0..n) with a random salt into out, a
 * NUL-terminated "$argon2id$..." string. Takes tens of milliseconds and
 * 19 MiB: never on an event loop. LNK_OK, LNK_EINVAL for n == 0 or past
 * LNK_POLICY_PASSWORD_MAX, LNK_ENOMEM when the memory is not available. */
int lnk_policy_hash_password(const char *pw, size_t n, char out[LNK_POLICY_HASH_MAX]);
/* True when pw[0..n) matches hash (NUL-terminated). As slow as hashing. */
bool lnk_policy_check_password(const char *hash, const char *pw, size_t n);

/* GeoIP country lookups on a MaxMind DB file (GeoLite2-Country or
 * GeoLite2-City layout: country.iso_code, else registered_country.iso_code).
 * The handle is read-only after open: lookups from any thread. */
struct lnk_geo;
/* LNK_OK, LNK_ENOTFOUND when the file does not exist, LNK_EINVAL when it is
 * not a readable MaxMind DB. */
int lnk_geo_open(const char *path, struct lnk_geo **out);
void lnk_geo_close(struct lnk_geo *g); /* NULL ok */
/* The upper-case ISO 3166-1 alpha-2 code of ip (IPv4 or IPv6 text,
 * NUL-terminated) into cc. False when g is NULL, ip is not an address, or
 * the database has no country for it. Never resolves names. */
bool lnk_geo_country(const struct lnk_geo *g, const char *ip, char cc[3]);

/* User-agent classes (docs/link-policy.md#user-agents): case-insensitive
 * substring rules over the first 1024 bytes of the User-Agent. */
enum lnk_ua_device { LNK_UA_DESKTOP, LNK_UA_MOBILE, LNK_UA_TABLET, LNK_UA_BOT };
enum lnk_ua_os {
    LNK_UA_OS_OTHER,
    LNK_UA_IOS,
    LNK_UA_ANDROID,
    LNK_UA_WINDOWS,
    LNK_UA_MACOS,
    LNK_UA_LINUX
};
void lnk_ua_classify(struct lnk_str ua, enum lnk_ua_device *device, enum lnk_ua_os *os);
/* "mobile", "tablet", "desktop", "bot"; "ios", ..., "other": the model's names. */
const char *lnk_ua_device_name(enum lnk_ua_device d);
const char *lnk_ua_os_name(enum lnk_ua_os os);

/* The visitor's most preferred language in an Accept-Language value: the
 * tag with the highest q (> 0; the first one on a tie; "*" and items with a
 * malformed q are skipped). False when there is none. */
bool lnk_lang_preferred(struct lnk_str accept_language, struct lnk_str *tag);

/* What is known about one visit. Slices are borrowed for the call. */
struct lnk_visit {
    int64_t now;               /* UTC seconds */
    struct lnk_str user_agent; /* empty: none sent */
    struct lnk_str accept_language;
    struct lnk_str query;      /* the raw query string, without '?' */
    const char *ip;            /* client address text, NUL-terminated; NULL: unknown */
    const struct lnk_geo *geo; /* NULL: country conditions never match */
    uint64_t rand;             /* uniform random bits for the split */
    bool password_ok;          /* the visitor gave the right password */
    bool clicks_exhausted;     /* max_clicks was reached */
};

enum lnk_decision_kind {
    LNK_DECISION_REDIRECT, /* status + location */
    LNK_DECISION_GONE,     /* outside the time window or used up: location is
                            * the fallback (status 302), or NULL (answer 410) */
    LNK_DECISION_PASSWORD, /* ask for the password; password_hash to check it */
};

struct lnk_decision {
    enum lnk_decision_kind kind;
    int status;           /* REDIRECT: 301, 302, 307 or 308; GONE: 302 or 410 */
    const char *location; /* NUL-terminated, from alloc; NULL for PASSWORD or a 410 */
    size_t location_len;
    const char *password_hash; /* PASSWORD: NUL-terminated, from alloc */
    int64_t max_clicks;        /* > 0: a REDIRECT must take a click slot first;
                                * none left: decide again with clicks_exhausted */
};

/* Decides where the visit goes (order in docs/link-policy.md#order) from
 * the stored options opts[0..opts_len) (lnk_policy_build's output, dumped)
 * and the link's destination dest[0..dest_len). Strings in *out come from
 * alloc(ud, n), which must not fail (an arena: lnk_arena_alloc); nothing
 * else is allocated. LNK_OK, or LNK_EINVAL for options that are not the
 * stored form (the caller treats the link as broken: 500). */
int lnk_policy_decide(const char *opts, size_t opts_len, const char *dest, size_t dest_len,
                      const struct lnk_visit *v, void *(*alloc)(void *ud, size_t n), void *ud,
                      struct lnk_decision *out);

#endif
