/* SPDX-License-Identifier: MIT */
/* The per-client concurrency budget (inflight.h): an open-addressing table
 * of keys with a count each, linear probing, and backward-shift deletion so
 * that a key whose count falls to zero leaves no tombstone. */
#include "linkd/inflight.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "linkd/arena.h"

#define N_SLOTS 4096 /* keys with a request in progress, at most */
#define KEY_MAX 63

struct slot {
    unsigned count; /* 0: empty */
    uint8_t len;
    char key[KEY_MAX];
};

struct lnk_inflight {
    unsigned max_per_key;
    pthread_mutex_t mu;
    struct slot slots[N_SLOTS];
};

struct lnk_inflight *lnk_inflight_new(unsigned max_per_key)
{
    if (max_per_key == 0)
        return NULL;
    struct lnk_inflight *f = lnk_xcalloc(1, sizeof(*f));
    f->max_per_key = max_per_key;
    pthread_mutex_init(&f->mu, NULL);
    return f;
}

void lnk_inflight_free(struct lnk_inflight *f)
{
    if (!f)
        return;
    pthread_mutex_destroy(&f->mu);
    free(f);
}

/* FNV-1a */
static size_t home_of(struct lnk_str key)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < key.len; i++)
        h = (h ^ (unsigned char)key.ptr[i]) * 16777619u;
    return h % N_SLOTS;
}

/* The slot holding key, or the empty slot where it would go; NULL when the
 * table is full and key is not in it. Caller holds f->mu. */
static struct slot *find_locked(struct lnk_inflight *f, struct lnk_str key)
{
    size_t i = home_of(key);
    for (size_t n = 0; n < N_SLOTS; n++, i = (i + 1) % N_SLOTS) {
        struct slot *s = &f->slots[i];
        if (s->count == 0 || (s->len == key.len && memcmp(s->key, key.ptr, key.len) == 0))
            return s;
    }
    return NULL;
}

bool lnk_inflight_acquire(struct lnk_inflight *f, struct lnk_str key)
{
    if (!f)
        return true;
    if (key.len > KEY_MAX)
        key.len = KEY_MAX;
    pthread_mutex_lock(&f->mu);
    struct slot *s = find_locked(f, key);
    bool ok = s && s->count < f->max_per_key;
    if (ok && s->count++ == 0) {
        s->len = (uint8_t)key.len;
        memcpy(s->key, key.ptr, key.len);
    }
    pthread_mutex_unlock(&f->mu);
    return ok;
}

/* Empties slot i and shifts back the entries that probed past it, so that
 * every key stays reachable from its home slot. Caller holds f->mu. */
static void remove_locked(struct lnk_inflight *f, size_t i)
{
    size_t j = i;
    f->slots[i].count = 0;
    for (;;) {
        j = (j + 1) % N_SLOTS;
        struct slot *s = &f->slots[j];
        if (s->count == 0)
            return;
        size_t home = home_of(lnk_str_make(s->key, s->len));
        /* s may move to i when its home is not cyclically within (i, j] */
        bool stays = i <= j ? (home > i && home <= j) : (home > i || home <= j);
        if (!stays) {
            f->slots[i] = *s;
            s->count = 0;
            i = j;
        }
    }
}

void lnk_inflight_release(struct lnk_inflight *f, struct lnk_str key)
{
    if (!f)
        return;
    if (key.len > KEY_MAX)
        key.len = KEY_MAX;
    pthread_mutex_lock(&f->mu);
    struct slot *s = find_locked(f, key);
    if (s && s->count > 0 && --s->count == 0)
        remove_locked(f, (size_t)(s - f->slots));
    pthread_mutex_unlock(&f->mu);
}
