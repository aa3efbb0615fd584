/* SPDX-License-Identifier: MIT */
/* The domain rows of the root API (CONTRACT.md §3) as plain values. Strings
 * are NUL-terminated and owned by whoever filled the struct (usually a store
 * operation's arena). Timestamps are UTC seconds since the epoch. */
#ifndef LNK_MODEL_H
#define LNK_MODEL_H

#include <stdbool.h>
#include <stdint.h>

#define LNK_NAME_MAX       255  /* username, email, title: characters */
#define LNK_URL_MAX        2048 /* original_url: bytes */
#define LNK_CODE_LEN       6    /* generated short codes */
#define LNK_CODE_MAX       64   /* longest code we ever look up */
#define LNK_EVENT_TYPE_MAX 64

/* The largest id of a user, url, event or key: 2^53 - 1, the largest
 * integer a JSON client holding numbers as doubles (JavaScript, most JSON
 * libraries) reads exactly. Larger ids are refused at every input and never
 * handed out (docs/security.md#ids). */
#define LNK_ID_MAX INT64_C(9007199254740991)

struct lnk_user {
    int64_t id;
    const char *username;
    const char *email;
    int64_t created_at;
};

struct lnk_url {
    int64_t id;
    int64_t user_id;
    const char *short_code;
    const char *original_url;
    const char *title; /* NULL when the title is null */
    bool is_active;
    int64_t created_at;
    int64_t updated_at;
    /* The /api/v1 options (expiry, password, rules...) as compact JSON
     * text, docs/link-policy.md; NULL for a plain link. The root API
     * neither shows nor changes them. */
    const char *opts;
    /* The domain the link belongs to (docs/api-v1.md#domains); 0: the
     * default domain (every Host not listed, and the root API). */
    int64_t domain_id;
};

/* A host of its own for links (docs/api-v1.md#domains). The URLs are NULL
 * when unset. */
struct lnk_domain {
    int64_t id;
    const char *host;          /* lower-case ASCII (an IDN in its punycode form) */
    const char *root_url;      /* GET / on this host redirects here */
    const char *not_found_url; /* an unknown or inactive code redirects here (302) */
    const char *fallback_url;  /* a link out of its window or clicks, without its own */
    int64_t created_at;
};

struct lnk_event {
    int64_t id;
    int64_t url_id;
    int64_t user_id; /* 0 when null */
    const char *event_type;
    int64_t timestamp;
    const char *details; /* JSON object text, "{}" when empty */
};

/* An API key as stored: the secret itself is never kept, only its SHA-256. */
struct lnk_api_key {
    int64_t id;
    const char *name;
    const char *prefix; /* the first characters of the key, to recognise it */
    bool admin;         /* admin: everything; else a user key for user_id */
    int64_t user_id;    /* 0 for admin keys */
    int64_t created_at;
    int64_t revoked_at; /* 0 while active */
    /* What it may do within its role (auth.h: LNK_SCOPE_*), as
     * "links:read,links:write"; NULL: everything its role allows. */
    const char *scopes;
    int64_t expires_at; /* 0: never; from then on it is refused */
};

/* The clicks counted against a link's maximum (its link_slots row). */
struct lnk_slot {
    int64_t url_id;
    int64_t used;
};

/* One click, as handed from a redirect to the events writer. */
struct lnk_click {
    int64_t url_id;
    int64_t user_id;
    int64_t timestamp;
    const char *short_code;
    const char *user_agent; /* "" when absent */
    const char *referrer;   /* "" when absent */
};

#endif
