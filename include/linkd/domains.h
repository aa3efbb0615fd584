/* SPDX-License-Identifier: MIT */
/* The domains a node serves (docs/api-v1.md#domains, ADR 0028), as a small
 * in-process table: loaded from the store at start, changed at once by the
 * node that changes a domain, and read again from the store every
 * LNK_DOMAINS_RELOAD_MS by a thread of its own (how the other nodes learn
 * of a change). A redirect asks lnk_domains_any first, one atomic load, so
 * a node without domains pays nothing more. Thread-safe. */
#ifndef LNK_DOMAINS_H
#define LNK_DOMAINS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "linkd/model.h"
#include "linkd/str.h"

#define LNK_DOMAINS_RELOAD_MS 5000
#define LNK_DOMAIN_HOST_MAX   253 /* a DNS name */

struct lnk_domains;
struct lnk_store;

struct lnk_domains *lnk_domains_new(void);
/* Stops the reloader first. NULL ok. */
void lnk_domains_free(struct lnk_domains *t);

/* Reads the table from s now (LNK_OK or the store's error), then starts
 * the thread that reads it again every reload_ms. */
int lnk_domains_start(struct lnk_domains *t, struct lnk_store *s, unsigned reload_ms);

/* Whether any domain is listed. */
bool lnk_domains_any(const struct lnk_domains *t);
/* A change made by this node, applied before its answer: adds or replaces
 * the domain with d->id; removes domain id. */
void lnk_domains_put(struct lnk_domains *t, const struct lnk_domain *d);
void lnk_domains_remove(struct lnk_domains *t, int64_t id);
/* Replaces the whole table with n rows read from the store, unless a change
 * was applied after `gen` (lnk_domains_gen, taken before the read): the
 * read may predate it. */
void lnk_domains_replace(struct lnk_domains *t, const struct lnk_domain *d, size_t n, uint64_t gen);
uint64_t lnk_domains_gen(struct lnk_domains *t);

/* The domain of a Host header (any case, with or without a port) or of an
 * id: false when none is listed; else *out is a copy whose strings come
 * from alloc(actx, len). */
bool lnk_domains_by_host(struct lnk_domains *t, struct lnk_str host,
                         void *(*alloc)(void *actx, size_t len), void *actx,
                         struct lnk_domain *out);
bool lnk_domains_by_id(struct lnk_domains *t, int64_t id, void *(*alloc)(void *actx, size_t len),
                       void *actx, struct lnk_domain *out);

/* The id of the domain a Host header names; 0: none (the default domain).
 * Copies nothing: the redirect of every request asks it. */
int64_t lnk_domains_id_by_host(struct lnk_domains *t, struct lnk_str host);

/* A Host header as a domain's host: lower-case, without its port, into buf
 * (cap >= LNK_DOMAIN_HOST_MAX + 1). False when it cannot be one. */
bool lnk_domains_host_key(struct lnk_str host, char *buf, size_t cap);

#endif
