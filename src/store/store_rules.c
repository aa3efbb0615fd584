/* SPDX-License-Identifier: MIT */
/* The store's business rules, written once over the backend primitives of
 * store_int.h: generated codes from reserved sequence blocks, owner checks,
 * audit events ('created', 'updated' per changed field, 'deleted' once),
 * reuse and reactivation, click rollups, bulk rows undone alone, and the
 * list rules (a parent that must exist, the row ceiling, chunks). Reads run
 * on any thread's connection; writes run on the writer thread inside its
 * group-commit transaction, so two writes never interleave. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "linkd/err.h"
#include "linkd/json.h"
#include "linkd/shortcode.h"
#include "linkd/str.h"
#include "store/store_int.h"

/* Rows of a streamed list per chunk, unless the caller says. */
#define LIST_CHUNK_ROWS 500

struct lnk_store_rules {
    const struct lnk_store_ops *ops;
    struct lnk_store_backend *b;
    struct lnk_codegen gen;
    /* the reserved block [seq_next, seq_end); taken in this transaction
     * when seq_fresh (a rollback then forgets it) */
    int64_t seq_next, seq_end;
    bool seq_fresh;
    /* the highest id of each table, this batch's ops counted in; read once
     * per batch */
    int64_t id_top[LNK_ID__N];
    bool ids_loaded;
    /* this batch's creates sent without their answer (url_send), in order;
     * wait_creates: creates run the waiting way, for the refused ones run
     * again and for bulk rows, which need their answer in their savepoint */
    struct lnk_url_sent *sent, **sent_tail;
    bool wait_creates;
};

struct lnk_store_rules *lnk_store_rules_new(const struct lnk_store_ops *ops,
                                            struct lnk_store_backend *b)
{
    struct lnk_store_rules *r = lnk_xcalloc(1, sizeof(*r));
    uint8_t key[LNK_CODEGEN_KEY_BYTES];
    r->ops = ops;
    r->b = b;
    r->sent_tail = &r->sent;
    ops->code_key(b, key);
    lnk_codegen_init(&r->gen, key);
    return r;
}

void lnk_store_rules_free(struct lnk_store_rules *r)
{
    free(r);
}

static int64_t now_s(void)
{
    return (int64_t)time(NULL);
}

/* ---- JSON details of audit events ---------------------------------------- */

/* {"k0":"v0","k1":"v1",...} into a: the details of an event as the API
 * shows them. A NULL value is null. */
static const char *details_json(struct lnk_arena *a, const char *const *keys,
                                const char *const *vals, size_t n)
{
    size_t cap = 3;
    for (size_t i = 0; i < n; i++)
        cap += strlen(keys[i]) + 6 * strlen(vals[i] ? vals[i] : "") + 8;
    char *p = lnk_arena_alloc(a, cap);
    size_t len = 0;
    bool truncated = false; /* cap holds the longest escape */
    p[len++] = '{';
    for (size_t i = 0; i < n; i++) {
        if (i)
            p[len++] = ',';
        len += lnk_json_escape(p + len, cap - len, keys[i], strlen(keys[i]), &truncated);
        p[len++] = ':';
        if (vals[i]) {
            len += lnk_json_escape(p + len, cap - len, vals[i], strlen(vals[i]), &truncated);
        } else {
            memcpy(p + len, "null", 4);
            len += 4;
        }
    }
    p[len++] = '}';
    p[len] = '\0';
    return p;
}

static int add_event(struct lnk_store_rules *r, struct lnk_store_op *op, int64_t url_id,
                     int64_t user_id, const char *type, int64_t ts, const char *details)
{
    (void)op;
    struct lnk_event e = {0, url_id, user_id, type, ts, details};
    return r->ops->event_put(r->ops->writer(r->b), &e, NULL);
}

static int add_updated(struct lnk_store_rules *r, struct lnk_store_op *op, const struct lnk_url *u,
                       const char *field, const char *value, int64_t now)
{
    const char *keys[] = {"field", "new_value"}, *vals[] = {field, value};
    return add_event(r, op, u->id, u->user_id, "updated", now,
                     details_json(&op->arena, keys, vals, 2));
}

/* ---- reads ------------------------------------------------------------- */

static void not_found(struct lnk_store_op *op, int *rc, const char *field)
{
    if (*rc == LNK_ENOTFOUND)
        op->err_field = field;
}

/* LNK_ENOTFOUND naming "user" when no user has this id. */
static int user_exists(const struct lnk_store_ops *ops, struct lnk_store_bconn *c,
                       struct lnk_store_op *op, int64_t id)
{
    struct lnk_user u;
    int rc = ops->user_get(c, id, &op->arena, &u);
    not_found(op, &rc, "user");
    return rc;
}

static int read_ping(const struct lnk_store_ops *ops, struct lnk_store_bconn *c,
                     struct lnk_op_ping *op)
{
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int rc = ops->ping(c);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    op->latency_us =
        (int64_t)(t1.tv_sec - t0.tv_sec) * 1000000 + (int64_t)(t1.tv_nsec - t0.tv_nsec) / 1000;
    return rc;
}

/* An event; with an owner guard, one of another user's url does not exist. */
static int read_event(const struct lnk_store_ops *ops, struct lnk_store_bconn *c,
                      struct lnk_op_event *op)
{
    int64_t owner = 0;
    int rc = ops->event_get(c, op->id, &op->op.arena, &op->out);
    if (rc == LNK_OK && op->owner_guard) {
        rc = ops->url_owner(c, op->out.url_id, &owner);
        if (rc == LNK_OK && owner != op->owner_guard)
            rc = LNK_ENOTFOUND;
    }
    not_found(&op->op, &rc, "event");
    return rc;
}

static int read_url_stats(const struct lnk_store_ops *ops, struct lnk_store_bconn *c,
                          struct lnk_op_url_stats *op)
{
    int rc = ops->url_get(c, op->id, &op->op.arena, &op->url);
    not_found(&op->op, &rc, "url");
    if (rc != LNK_OK)
        return rc;
    rc = ops->url_clicks(c, op->id, &op->clicks, &op->last_click_at);
    if (rc == LNK_ENOTFOUND) { /* never clicked */
        op->clicks = op->last_click_at = 0;
        rc = LNK_OK;
    }
    if (rc == LNK_OK)
        rc = ops->url_days(c, op->id, &op->op.arena, &op->days, &op->n_days);
    return rc;
}

static int read_key_auth(const struct lnk_store_ops *ops, struct lnk_store_bconn *c,
                         struct lnk_op_key *op)
{
    int rc = ops->keys_active(c, &op->n_active);
    if (rc == LNK_OK && op->key_hash) {
        rc = ops->key_by_hash(c, op->key_hash, &op->op.arena, &op->out);
        op->found = rc == LNK_OK;
        not_found(&op->op, &rc, "key");
    }
    return rc;
}

static enum lnk_row_kind row_kind(enum lnk_op_kind k)
{
    return k == LNK_OP_USER_LIST  ? LNK_ROW_USER
           : k == LNK_OP_URL_LIST ? LNK_ROW_URL
                                  : LNK_ROW_EVENT;
}

/* A nested list (/users/{id}/urls, /urls/{id}/events) names its parent,
 * which must exist and, for a user key, be its own. */
static int check_list_parent(const struct lnk_store_ops *ops, struct lnk_store_bconn *c,
                             struct lnk_op_list *op)
{
    const struct lnk_list_query *q = &op->q;
    int64_t owner = 0;
    int rc = LNK_OK;
    if (op->op.kind == LNK_OP_URL_LIST && q->has_user_id) {
        rc = user_exists(ops, c, &op->op, q->user_id);
        if (rc == LNK_OK && q->has_owner_id && q->owner_id != q->user_id) {
            op->op.err_field = "user";
            rc = LNK_ENOTFOUND;
        }
    } else if (op->op.kind == LNK_OP_EVENT_LIST && q->has_url_id) {
        rc = ops->url_owner(c, q->url_id, &owner);
        if (rc == LNK_OK && q->has_owner_id && q->owner_id != owner)
            rc = LNK_ENOTFOUND;
        not_found(&op->op, &rc, "url");
    }
    return rc;
}

/* Collected rows grow in a heap buffer, then move to the arena. */
struct collect {
    struct lnk_op_list *op;
    size_t size, n, cap;
    char *buf;
};

static bool collect_row(void *ctx, union lnk_list_row row)
{
    struct collect *k = ctx;
    struct lnk_arena *a = &k->op->op.arena;
    if (k->n == k->cap) {
        k->cap = k->cap ? k->cap * 2 : 16;
        k->buf = lnk_xrealloc(k->buf, k->cap * k->size);
    }
    void *dst = k->buf + k->n * k->size;
    /* the row's strings die with the call: copy them */
    if (k->op->op.kind == LNK_OP_USER_LIST) {
        struct lnk_user u = *row.user;
        u.username = lnk_arena_strdup(a, u.username);
        u.email = lnk_arena_strdup(a, u.email);
        memcpy(dst, &u, sizeof(u));
    } else if (k->op->op.kind == LNK_OP_URL_LIST) {
        struct lnk_url u = *row.url;
        u.short_code = lnk_arena_strdup(a, u.short_code);
        u.original_url = lnk_arena_strdup(a, u.original_url);
        u.title = u.title ? lnk_arena_strdup(a, u.title) : NULL;
        u.opts = u.opts ? lnk_arena_strdup(a, u.opts) : NULL;
        memcpy(dst, &u, sizeof(u));
    } else {
        struct lnk_event e = *row.event;
        e.event_type = lnk_arena_strdup(a, e.event_type);
        e.details = lnk_arena_strdup(a, e.details);
        memcpy(dst, &e, sizeof(e));
    }
    k->n++;
    return true;
}

/* A streamed chunk: hand each row on, remember where it ended. */
struct chunk {
    struct lnk_op_list *op;
    size_t n;
};

static bool emit_row(void *ctx, union lnk_list_row row)
{
    struct chunk *ch = ctx;
    struct lnk_op_list *op = ch->op;
    op->after_id = op->op.kind == LNK_OP_USER_LIST  ? row.user->id
                   : op->op.kind == LNK_OP_URL_LIST ? row.url->id
                                                    : row.event->id;
    ch->n++;
    return op->emit(op->emit_ctx, row);
}

/* Retired codes collected whole: pointers in a heap buffer, the codes in
 * the arena. */
struct collect_codes {
    struct lnk_arena *a;
    const char **codes;
    size_t n, cap;
};

static bool collect_code(void *ctx, union lnk_list_row row)
{
    struct collect_codes *k = ctx;
    if (k->n == k->cap) {
        k->cap = k->cap ? k->cap * 2 : 64;
        k->codes = lnk_xrealloc(k->codes, k->cap * sizeof(*k->codes));
    }
    k->codes[k->n++] = lnk_arena_strdup(k->a, row.code);
    return true;
}

/* A streamed chunk of retired codes: hand each on and keep the last one
 * (its string dies with the call). */
struct code_chunk {
    struct lnk_op_list *op;
    size_t n;
    char *last;
    size_t last_cap;
};

static bool emit_code(void *ctx, union lnk_list_row row)
{
    struct code_chunk *ch = ctx;
    size_t len = strlen(row.code);
    if (len + 1 > ch->last_cap) {
        ch->last_cap = len + 1 > 2 * ch->last_cap ? len + 1 : 2 * ch->last_cap;
        ch->last = lnk_xrealloc(ch->last, ch->last_cap);
    }
    memcpy(ch->last, row.code, len + 1);
    ch->n++;
    return ch->op->emit(ch->op->emit_ctx, row);
}

/* RETIRED_LIST: every code at once, or a chunk from the code after the
 * last one sent. Codes have no id: the chunks follow the codes' order. */
static int read_codes(const struct lnk_store_ops *ops, struct lnk_store_bconn *c,
                      struct lnk_op_list *op)
{
    int rc;
    if (!op->emit) {
        struct collect_codes col = {&op->op.arena, NULL, 0, 0};
        rc = ops->retired_list(c, "", 0, collect_code, &col);
        if (rc == LNK_OK) {
            op->codes = lnk_arena_alloc(&op->op.arena, col.n * sizeof(*op->codes) + 1);
            if (col.n)
                memcpy(op->codes, col.codes, col.n * sizeof(*op->codes));
            op->n_rows = col.n;
        }
        free(col.codes);
        return rc;
    }
    int64_t limit = (int64_t)(op->chunk_rows ? op->chunk_rows : LIST_CHUNK_ROWS);
    struct code_chunk ch = {op, 0, NULL, 0};
    rc = ops->retired_list(c, op->after_code ? op->after_code : "", limit, emit_code, &ch);
    if (ch.n)
        op->after_code = lnk_arena_strdup(&op->op.arena, ch.last);
    op->n_rows = ch.n;
    op->sent += (int64_t)ch.n;
    op->more = rc == LNK_OK && (int64_t)ch.n == limit;
    free(ch.last);
    return rc;
}

/* The first chunk checks the parent and the ceiling; each chunk then reads
 * from the row after the last one sent (paging's offset applies once). */
static int read_list(const struct lnk_store_ops *ops, struct lnk_store_bconn *c,
                     struct lnk_op_list *op)
{
    const struct lnk_list_query *q = &op->q;
    enum lnk_row_kind k = row_kind(op->op.kind);
    bool first = op->after_id == 0 && op->sent == 0;
    int64_t offset = 0, remaining = 0, n = 0;
    int rc = LNK_OK;

    if (first && q->parent_must_exist)
        rc = check_list_parent(ops, c, op);
    if (rc == LNK_OK && first && q->page == 0 && q->max_rows > 0) {
        rc = ops->list_count(c, k, q, q->max_rows + 1, &n);
        if (rc == LNK_OK && n > q->max_rows)
            rc = LNK_ETOOBIG;
    }
    if (rc != LNK_OK)
        return rc;
    if (q->page > 0) {
        if (q->per_page <= 0)
            return LNK_EINVAL;
        /* a page past any possible row reads as empty, not as an overflow */
        offset = q->page - 1 > INT64_MAX / q->per_page ? INT64_MAX : (q->page - 1) * q->per_page;
        remaining = q->per_page - op->sent;
        if (!first)
            offset = 0;
    }
    if (!op->emit) {
        struct collect col = {op, 0, 0, 0, NULL};
        col.size = k == LNK_ROW_USER  ? sizeof(struct lnk_user)
                   : k == LNK_ROW_URL ? sizeof(struct lnk_url)
                                      : sizeof(struct lnk_event);
        rc = ops->list(c, k, q, q->after_id, offset, remaining, collect_row, &col);
        if (rc == LNK_OK) {
            void *rows = lnk_arena_alloc(&op->op.arena, col.n * col.size + 1);
            if (col.n)
                memcpy(rows, col.buf, col.n * col.size);
            op->n_rows = col.n;
            op->users = k == LNK_ROW_USER ? rows : NULL;
            op->urls = k == LNK_ROW_URL ? rows : NULL;
            op->events = k == LNK_ROW_EVENT ? rows : NULL;
        }
        free(col.buf);
        return rc;
    }
    int64_t limit = (int64_t)(op->chunk_rows ? op->chunk_rows : LIST_CHUNK_ROWS);
    if (q->page > 0 && remaining < limit)
        limit = remaining;
    struct chunk ch = {op, 0};
    if (limit > 0)
        rc = ops->list(c, k, q, op->after_id ? op->after_id : q->after_id, offset, limit, emit_row,
                       &ch);
    op->n_rows = ch.n;
    op->sent += (int64_t)ch.n;
    op->more = rc == LNK_OK && limit > 0 && (int64_t)ch.n == limit &&
               (q->page == 0 || op->sent < q->per_page);
    return rc;
}

static int run_read(const struct lnk_store_ops *ops, struct lnk_store_bconn *c,
                    struct lnk_store_op *op)
{
    int rc;
    switch (op->kind) {
    case LNK_OP_PING:
        return read_ping(ops, c, LNK_OP_AS(op, ping));
    case LNK_OP_USER_GET:
        rc = ops->user_get(c, LNK_OP_AS(op, user)->id, &op->arena, &LNK_OP_AS(op, user)->out);
        not_found(op, &rc, "user");
        return rc;
    case LNK_OP_URL_GET:
        rc = ops->url_get(c, LNK_OP_AS(op, url)->id, &op->arena, &LNK_OP_AS(op, url)->out);
        not_found(op, &rc, "url");
        return rc;
    case LNK_OP_URL_BY_CODE:
        if (!LNK_OP_AS(op, url)->code)
            return LNK_EINVAL;
        rc = ops->url_by_code(c, LNK_OP_AS(op, url)->domain_id, LNK_OP_AS(op, url)->code,
                              &op->arena, &LNK_OP_AS(op, url)->out);
        not_found(op, &rc, "url");
        return rc;
    case LNK_OP_EVENT_GET:
        return read_event(ops, c, LNK_OP_AS(op, event));
    case LNK_OP_USER_LIST:
    case LNK_OP_URL_LIST:
    case LNK_OP_EVENT_LIST:
        return read_list(ops, c, LNK_OP_AS(op, list));
    case LNK_OP_RETIRED_LIST:
        return read_codes(ops, c, LNK_OP_AS(op, list));
    case LNK_OP_COUNT_ROWS:
        return ops->counts(c, LNK_OP_AS(op, counts));
    case LNK_OP_STATS:
        return ops->stats(c, LNK_OP_AS(op, stats)->owner_guard, &op->arena, LNK_OP_AS(op, stats));
    case LNK_OP_URL_STATS:
        return read_url_stats(ops, c, LNK_OP_AS(op, url_stats));
    case LNK_OP_KEY_LIST: {
        struct lnk_op_key *k = LNK_OP_AS(op, key);
        return ops->key_list(c, &op->arena, &k->keys, k->with_hashes ? &k->key_hashes : NULL,
                             &k->n_keys);
    }
    case LNK_OP_KEY_AUTH:
        return read_key_auth(ops, c, LNK_OP_AS(op, key));
    case LNK_OP_CALL:
        return LNK_OP_AS(op, call)->fn(LNK_OP_AS(op, call));
    case LNK_OP_DOMAIN_LIST: {
        struct lnk_op_domain *d = LNK_OP_AS(op, domain);
        return ops->domain_list(c, &op->arena, &d->domains, &d->n_domains);
    }
    case LNK_OP_SLOT_LIST: {
        struct lnk_op_slot *s = LNK_OP_AS(op, slot);
        return ops->slot_list(c, &op->arena, &s->slots, &s->n_slots);
    }
    default:
        return LNK_EINVAL;
    }
}

void lnk_store_rules_read(const struct lnk_store_ops *ops, struct lnk_store_bconn *c,
                          struct lnk_store_op *op)
{
    lnk_store_op_reset_outputs(op);
    op->rc = run_read(ops, c, op);
}

/* ---- writes: users -------------------------------------------------------- */

/* LNK_EEXISTS naming the field when username or email (NULL: not checked)
 * belongs to a user other than self_id. */
static int check_user_unique(struct lnk_store_rules *r, struct lnk_store_op *op,
                             const struct lnk_user *u, int64_t self_id)
{
    struct lnk_store_bconn *c = r->ops->writer(r->b);
    int64_t other = 0;
    int rc = u->username ? r->ops->user_by_name(c, u->username, &other) : LNK_ENOTFOUND;
    if (rc == LNK_OK && other != self_id) {
        op->err_field = "username";
        return LNK_EEXISTS;
    }
    if (rc != LNK_OK && rc != LNK_ENOTFOUND)
        return rc;
    rc = u->email ? r->ops->user_by_email(c, u->email, &other) : LNK_ENOTFOUND;
    if (rc == LNK_OK && other != self_id) {
        op->err_field = "email";
        return LNK_EEXISTS;
    }
    return rc == LNK_ENOTFOUND ? LNK_OK : rc;
}

static int user_create(struct lnk_store_rules *r, struct lnk_op_user *op, int64_t now)
{
    struct lnk_store_bconn *c = r->ops->writer(r->b);
    struct lnk_user u = op->in;
    int64_t id = 0;
    if (!u.username || !u.email)
        return LNK_EINVAL;
    u.id = 0;
    u.created_at = now;
    int rc = check_user_unique(r, &op->op, &u, 0);
    if (rc == LNK_OK)
        rc = r->ops->user_put(c, &u, false, &id);
    if (rc == LNK_OK)
        rc = r->ops->user_get(c, id, &op->op.arena, &op->out);
    return rc;
}

static int user_update(struct lnk_store_rules *r, struct lnk_op_user *op)
{
    struct lnk_store_bconn *c = r->ops->writer(r->b);
    int rc = user_exists(r->ops, c, &op->op, op->id);
    if (rc == LNK_OK)
        rc = check_user_unique(r, &op->op, &op->in, op->id);
    if (rc == LNK_OK && (op->in.username || op->in.email))
        rc = r->ops->user_update(c, op->id, op->in.username, op->in.email);
    if (rc == LNK_OK)
        rc = r->ops->user_get(c, op->id, &op->op.arena, &op->out);
    return rc;
}

/* Returns the deleted user's urls so that callers can drop their codes
 * from caches. */
static int user_delete(struct lnk_store_rules *r, struct lnk_op_user *op)
{
    struct lnk_store_bconn *c = r->ops->writer(r->b);
    int rc = user_exists(r->ops, c, &op->op, op->id);
    if (rc == LNK_OK)
        rc = r->ops->urls_of_user(c, op->id, &op->op.arena, &op->urls, &op->n_urls);
    if (rc == LNK_OK)
        rc = r->ops->user_delete(c, op->id);
    return rc;
}

/* ---- imports in one set ----------------------------------------------------
 * An import op goes to the backend as one set (import_set; on PostgreSQL a
 * COPY into a staging table and one upsert, ADR 0020) when every row passes
 * the checks made before the database is asked and no id, username, email or
 * code is there twice. The backend refuses the whole set, writing nothing,
 * when the database would refuse a row: then, as for a set that does not
 * qualify, the op runs row by row and reports exactly what it always did. */

/* Below this many rows, the rows' own statements cost fewer round trips
 * than staging them (a bulk row's upsert is an import of one row). */
#define IMPORT_SET_MIN_ROWS 16

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* True when a value of v (n of them, sorted here) is there twice. */
static bool i64_repeats(int64_t *v, size_t n)
{
    qsort(v, n, sizeof(*v), cmp_i64);
    for (size_t i = 1; i < n; i++)
        if (v[i] == v[i - 1])
            return true;
    return false;
}

static bool str_repeats(const char **v, size_t n)
{
    qsort(v, n, sizeof(*v), cmp_str);
    for (size_t i = 1; i < n; i++)
        if (strcmp(v[i], v[i - 1]) == 0)
            return true;
    return false;
}

static int cmp_url_code(const void *a, const void *b)
{
    const struct lnk_url *x = *(const struct lnk_url *const *)a;
    const struct lnk_url *y = *(const struct lnk_url *const *)b;
    if (x->domain_id != y->domain_id)
        return x->domain_id < y->domain_id ? -1 : 1;
    return strcmp(x->short_code, y->short_code);
}

/* True when two of the n urls have one code on one domain. */
static bool codes_repeat(const struct lnk_url *urls, size_t n)
{
    const struct lnk_url **v = lnk_xcalloc(n, sizeof(*v));
    bool repeats = false;
    for (size_t i = 0; i < n; i++)
        v[i] = &urls[i];
    qsort(v, n, sizeof(*v), cmp_url_code);
    for (size_t i = 1; i < n && !repeats; i++)
        repeats = cmp_url_code(&v[i], &v[i - 1]) == 0;
    free(v);
    return repeats;
}

/* Whether row i passes what the per-row path checks before it reads: an
 * id, the fields that must be there, and (users) a creation time. */
static bool set_row_ok(const struct lnk_op_rows *op, size_t i)
{
    const struct lnk_import_rows *rows = &op->rows;
    if (op->op.kind == LNK_OP_USER_IMPORT) {
        const struct lnk_user *u = &rows->users[i];
        bool has_id = rows->has_id ? rows->has_id[i] : u->id > 0;
        return has_id && u->id > 0 && u->username && u->email && u->created_at > 0;
    }
    if (op->op.kind == LNK_OP_URL_IMPORT) {
        const struct lnk_url *u = &rows->urls[i];
        return u->id > 0 && u->short_code && u->original_url;
    }
    const struct lnk_event *e = &rows->events[i];
    return e->id > 0 && e->event_type;
}

/* Whether op's rows may go in as one set. */
static bool set_qualifies(const struct lnk_op_rows *op)
{
    const struct lnk_import_rows *rows = &op->rows;
    enum lnk_op_kind kind = op->op.kind;
    size_t n = rows->n;
    if (n < IMPORT_SET_MIN_ROWS)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!set_row_ok(op, i))
            return false;
    int64_t *ids = lnk_xcalloc(n, sizeof(*ids));
    const char **names = lnk_xcalloc(n, sizeof(*names)), **mails = lnk_xcalloc(n, sizeof(*mails));
    for (size_t i = 0; i < n; i++) {
        ids[i] = kind == LNK_OP_USER_IMPORT  ? rows->users[i].id
                 : kind == LNK_OP_URL_IMPORT ? rows->urls[i].id
                                             : rows->events[i].id;
        names[i] = kind == LNK_OP_USER_IMPORT ? rows->users[i].username : "";
        mails[i] = kind == LNK_OP_USER_IMPORT ? rows->users[i].email : "";
    }
    bool ok = !i64_repeats(ids, n) &&
              (kind != LNK_OP_USER_IMPORT || (!str_repeats(names, n) && !str_repeats(mails, n))) &&
              (kind != LNK_OP_URL_IMPORT || !codes_repeat(rows->urls, n));
    free(ids);
    free(names);
    free(mails);
    return ok;
}

/* Writes op's rows as one set, prior[i] what row i replaced; *done false,
 * and nothing written, when they must go row by row instead. */
static int import_as_set(struct lnk_store_rules *r, struct lnk_op_rows *op,
                         struct lnk_import_prior *prior, bool *done)
{
    const struct lnk_import_rows *rows = &op->rows;
    enum lnk_op_kind kind = op->op.kind;
    struct lnk_import_set set = {.n = rows->n, .users = rows->users, .urls = rows->urls};
    struct lnk_event *events = NULL;
    *done = false;
    if (!set_qualifies(op))
        return LNK_OK;
    set.kind = kind == LNK_OP_USER_IMPORT  ? LNK_ROW_USER
               : kind == LNK_OP_URL_IMPORT ? LNK_ROW_URL
                                           : LNK_ROW_EVENT;
    if (kind == LNK_OP_EVENT_IMPORT) {
        events = lnk_xcalloc(rows->n, sizeof(*events));
        for (size_t i = 0; i < rows->n; i++) {
            events[i] = rows->events[i];
            events[i].details = events[i].details ? events[i].details : "{}";
        }
        set.events = events;
    }
    int rc = r->ops->import_set(r->ops->writer(r->b), &set, prior);
    free(events);
    *done = rc == LNK_OK;
    return rc == LNK_EEXISTS ? LNK_OK : rc;
}

/* One users row: upsert by id, insert without. A conflict on username or
 * email (LNK_EEXISTS) changes nothing. */
static int import_user(struct lnk_store_rules *r, struct lnk_op_rows *op, size_t i, int64_t now,
                       struct lnk_row_result *res)
{
    struct lnk_store_bconn *c = r->ops->writer(r->b);
    const struct lnk_import_rows *rows = &op->rows;
    struct lnk_user u = rows->users[i];
    bool has_id = rows->has_id ? rows->has_id[i] : u.id > 0;
    struct lnk_user cur;
    if (!u.username || !u.email || (has_id && u.id <= 0)) {
        res->err_field = !u.username ? "username" : !u.email ? "email" : "id";
        return LNK_EINVAL;
    }
    int rc = LNK_OK;
    if (has_id) {
        rc = r->ops->user_get(c, u.id, &op->op.arena, &cur);
        res->existed = rc == LNK_OK;
        rc = rc == LNK_ENOTFOUND ? LNK_OK : rc;
    } else {
        u.id = 0;
    }
    if (u.created_at <= 0)
        u.created_at = res->existed ? 0 : now;
    struct lnk_store_op scratch = {.kind = op->op.kind};
    if (rc == LNK_OK)
        rc = check_user_unique(r, &scratch, &u, has_id ? u.id : 0);
    if (rc == LNK_EEXISTS)
        res->err_field = scratch.err_field;
    if (rc == LNK_OK)
        rc = r->ops->user_put(c, &u, has_id, &res->id);
    return rc;
}

/* Every row on its own: a row that breaks a rule (an empty name, a taken
 * username or email) is skipped and reported in results; any other failure
 * fails the op. */
static int user_import(struct lnk_store_rules *r, struct lnk_op_rows *op, int64_t now)
{
    size_t n = op->rows.n;
    int64_t imported = 0, skipped = 0;
    int rc = LNK_OK;
    struct lnk_import_prior *prior = lnk_xcalloc(n ? n : 1, sizeof(*prior));
    bool done = false;
    op->results = lnk_arena_alloc(&op->op.arena, sizeof(*op->results) * (n ? n : 1));
    memset(op->results, 0, sizeof(*op->results) * n);
    rc = import_as_set(r, op, prior, &done);
    for (size_t i = 0; done && i < n; i++) {
        op->results[i].id = op->rows.users[i].id;
        op->results[i].existed = prior[i].existed;
        imported++;
    }
    free(prior);
    for (size_t i = 0; !done && i < n && rc == LNK_OK; i++) {
        struct lnk_row_result *res = &op->results[i];
        res->rc = import_user(r, op, i, now, res);
        if (res->rc == LNK_OK)
            imported++;
        else if (res->rc == LNK_EEXISTS || res->rc == LNK_EINVAL)
            skipped++;
        else
            rc = res->rc;
    }
    if (rc == LNK_OK) {
        op->imported += imported;
        op->skipped += skipped;
    }
    return rc;
}

/* ---- writes: urls --------------------------------------------------------- */

/* The next generated code: sequence numbers from the reserved block through
 * the keyed permutation, skipping reserved words (url_put refuses codes in
 * use or retired). A number is never reused; one skipped stays unused. */
static int next_code(struct lnk_store_rules *r, char code[LNK_CODE_LEN + 1])
{
    struct lnk_store_bconn *c = r->ops->writer(r->b);
    int rc = LNK_OK;
    for (;;) {
        if (r->seq_next == r->seq_end) {
            rc = r->ops->seq_reserve(c, LNK_CODE_BLOCK, &r->seq_next);
            if (rc != LNK_OK)
                return rc;
            r->seq_end = r->seq_next + LNK_CODE_BLOCK;
            r->seq_fresh = true;
        }
        if (lnk_codegen_code(&r->gen, (uint64_t)r->seq_next++, code) != LNK_OK)
            return LNK_EUNAVAIL; /* all 62^6 codes handed out */
        if (!lnk_code_is_reserved(code, LNK_CODE_LEN))
            return LNK_OK;
    }
}

/* Reuse: the owner's url to the same destination in op->out; an inactive
 * one is reactivated, which its 'updated' event records. LNK_ENOTFOUND when
 * the owner has none. */
static int reuse_url(struct lnk_store_rules *r, struct lnk_op_url *op, int64_t now)
{
    struct lnk_store_bconn *c = r->ops->writer(r->b);
    int rc = LNK_OK;
    if (r->ops->lock_key) {
        /* another node's writer may reuse the same destination meanwhile */
        char key[64];
        snprintf(key, sizeof(key), "reuse:%lld:", (long long)op->in.user_id);
        char *full = lnk_arena_alloc(&op->op.arena, strlen(key) + strlen(op->in.original_url) + 1);
        snprintf(full, strlen(key) + strlen(op->in.original_url) + 1, "%s%s", key,
                 op->in.original_url);
        rc = r->ops->lock_key(c, full);
        if (rc != LNK_OK)
            goto out;
    }
    rc = r->ops->url_by_dest(c, op->in.user_id, op->in.original_url, &op->op.arena, &op->out);
    if (rc != LNK_OK || op->out.is_active)
        goto out;
    struct lnk_url u = op->out;
    u.is_active = true;
    u.updated_at = now;
    rc = r->ops->url_set(c, &u);
    if (rc == LNK_OK)
        rc = add_updated(r, &op->op, &u, "is_active", "true", now);
    if (rc == LNK_OK)
        op->out = u;
out:
    op->reused = rc == LNK_OK;
    return rc;
}

/* A create on a backend that pipelines: the url and its 'created' event go
 * in one statement whose answer is read before the commit
 * (lnk_store_rules_flush). One refused then runs again the waiting way,
 * which tells why or takes the next code. */
static int send_create(struct lnk_store_rules *r, struct lnk_op_url *op, struct lnk_url *u)
{
    char generated[LNK_CODE_LEN + 1];
    int rc = LNK_OK;
    if (!u->short_code) {
        rc = next_code(r, generated);
        u->short_code = generated;
    }
    const char *keys[] = {"short_code", "original_url"};
    const char *vals[] = {u->short_code, u->original_url};
    struct lnk_url_sent *s = lnk_arena_alloc(&op->op.arena, sizeof(*s));
    *s = (struct lnk_url_sent){&op->op.arena, &op->out, LNK_URL_SENT_WAITING, &op->op, NULL};
    if (rc == LNK_OK)
        rc = r->ops->url_send(r->ops->writer(r->b), u, details_json(&op->op.arena, keys, vals, 2),
                              s);
    if (rc == LNK_OK) {
        *r->sent_tail = s;
        r->sent_tail = &s->next;
    }
    return rc;
}

static int url_create(struct lnk_store_rules *r, struct lnk_op_url *op, int64_t now)
{
    struct lnk_store_bconn *c = r->ops->writer(r->b);
    struct lnk_url u = op->in;
    char generated[LNK_CODE_LEN + 1];
    if (!u.original_url)
        return LNK_EINVAL;
    int rc = LNK_OK;
    if (op->reuse) {
        /* the owner's url to this destination, if any, instead of a new one */
        rc = user_exists(r->ops, c, &op->op, u.user_id);
        if (rc != LNK_OK)
            return rc;
        rc = reuse_url(r, op, now);
        if (rc != LNK_ENOTFOUND)
            return rc;
        rc = LNK_OK;
    }
    u.id = 0;
    u.created_at = u.updated_at = now;
    if (rc == LNK_OK && r->ops->url_send && !r->wait_creates)
        return send_create(r, op, &u);
    if (rc == LNK_OK && u.short_code) {
        rc = r->ops->url_put(c, &u, &op->op.arena, &op->out);
        if (rc == LNK_EEXISTS)
            op->op.err_field = "short_code";
    } else if (rc == LNK_OK) {
        /* a generated code may meet a custom or imported one: take the next */
        u.short_code = generated;
        do {
            rc = next_code(r, generated);
            if (rc == LNK_OK)
                rc = r->ops->url_put(c, &u, &op->op.arena, &op->out);
        } while (rc == LNK_EEXISTS);
    }
    not_found(&op->op, &rc, "user"); /* url_put checks the owner */
    if (rc == LNK_OK) {
        const char *keys[] = {"short_code", "original_url"};
        const char *vals[] = {op->out.short_code, op->out.original_url};
        rc = add_event(r, &op->op, op->out.id, op->out.user_id, "created", now,
                       details_json(&op->op.arena, keys, vals, 2));
    }
    return rc;
}

static bool str_eq_nullable(const char *a, const char *b)
{
    return a == b || (a && b && strcmp(a, b) == 0);
}

/* Adds a field to an entity-tag digest: its length (or -1 for null), then
 * its bytes, so that no two different sets of fields read alike. */
static uint64_t etag_mix(uint64_t h, const char *field)
{
    char len[24];
    int n = snprintf(len, sizeof(len), "%lld:", field ? (long long)strlen(field) : -1LL);
    h ^= lnk_str_hash((struct lnk_str){len, (size_t)n});
    h *= UINT64_C(0x100000001b3);
    if (field)
        h ^= lnk_str_hash((struct lnk_str){field, strlen(field)});
    return h * UINT64_C(0x9e3779b97f4a7c15);
}

void lnk_url_etag(const struct lnk_url *u, char out[LNK_ETAG_MAX])
{
    uint64_t h = UINT64_C(0xcbf29ce484222325);
    h = etag_mix(h, u->short_code);
    h = etag_mix(h, u->original_url);
    h = etag_mix(h, u->title);
    h = etag_mix(h, u->is_active ? "1" : "0");
    h = etag_mix(h, u->opts);
    snprintf(out, LNK_ETAG_MAX, "\"%016llx\"", (unsigned long long)h);
}

/* The url an update or delete names; with an owner guard, a url of another
 * user does not exist for this caller (a user API key). */
static int load_guarded_url(struct lnk_store_rules *r, struct lnk_op_url *op)
{
    int rc = r->ops->url_get(r->ops->writer(r->b), op->id, &op->op.arena, &op->out);
    if (rc == LNK_OK && op->owner_guard && op->out.user_id != op->owner_guard)
        rc = LNK_ENOTFOUND;
    not_found(&op->op, &rc, "url");
    return rc;
}

/* One 'updated' event per field whose value changes; nothing changed means
 * no event and an unchanged updated_at. */
static int url_update(struct lnk_store_rules *r, struct lnk_op_url *op, int64_t now)
{
    const struct lnk_url_patch *p = &op->patch;
    int rc = load_guarded_url(r, op);
    if (rc != LNK_OK)
        return rc;
    const struct lnk_url cur = op->out;
    if (p->if_match) {
        char etag[LNK_ETAG_MAX];
        lnk_url_etag(&cur, etag);
        if (strcmp(etag, p->if_match) != 0) {
            op->op.err_field = "etag";
            return LNK_EEXPIRED;
        }
    }
    bool title_changed = p->set_title && !str_eq_nullable(cur.title, p->title);
    bool active_changed = p->set_is_active && p->is_active != cur.is_active;
    bool url_changed = p->original_url && strcmp(p->original_url, cur.original_url) != 0;
    bool opts_changed = p->set_opts && !str_eq_nullable(cur.opts, p->opts);
    if (!title_changed && !active_changed && !url_changed && !opts_changed)
        return LNK_OK;
    struct lnk_url u = cur;
    u.title = title_changed ? p->title : cur.title;
    u.is_active = active_changed ? p->is_active : cur.is_active;
    u.original_url = url_changed ? p->original_url : cur.original_url;
    u.opts = opts_changed ? p->opts : cur.opts;
    u.updated_at = now;
    rc = r->ops->url_set(r->ops->writer(r->b), &u);
    if (rc == LNK_OK && title_changed)
        rc = add_updated(r, &op->op, &u, "title", u.title, now);
    if (rc == LNK_OK && active_changed)
        rc = add_updated(r, &op->op, &u, "is_active", u.is_active ? "true" : "false", now);
    if (rc == LNK_OK && url_changed)
        rc = add_updated(r, &op->op, &u, "original_url", u.original_url, now);
    /* the options may hold a password's hash: the event says only that
     * they changed */
    if (rc == LNK_OK && opts_changed)
        rc = add_updated(r, &op->op, &u, "options", "changed", now);
    if (rc == LNK_OK)
        op->out = u;
    return rc;
}

/* Soft delete, idempotent: the 'deleted' event is written once. Returns the
 * row so that callers can invalidate its code. */
static int url_delete(struct lnk_store_rules *r, struct lnk_op_url *op, int64_t now)
{
    int rc = load_guarded_url(r, op);
    if (rc != LNK_OK || !op->out.is_active)
        return rc;
    struct lnk_url u = op->out;
    u.is_active = false;
    u.updated_at = now;
    rc = r->ops->url_set(r->ops->writer(r->b), &u);
    if (rc == LNK_OK) {
        const char *keys[] = {"reason"}, *vals[] = {"user_requested"};
        rc = add_event(r, &op->op, u.id, u.user_id, "deleted", now,
                       details_json(&op->op.arena, keys, vals, 1));
    }
    if (rc == LNK_OK)
        op->out = u;
    return rc;
}

/* Strict upsert by id of one url: an unknown owner or domain is
 * LNK_EINVAL ("user", "domain"), a code held by another url on its domain
 * LNK_EEXISTS ("short_code"). The generator's sequence is not touched; it
 * skips imported codes when it reaches them. */
static int import_url(struct lnk_store_rules *r, struct lnk_store_op *op, const struct lnk_url *u)
{
    struct lnk_store_bconn *c = r->ops->writer(r->b);
    struct lnk_url out;
    if (!u->short_code || !u->original_url || u->id <= 0) {
        op->err_field = !u->short_code ? "short_code" : "url";
        return LNK_EINVAL;
    }
    int rc = user_exists(r->ops, c, op, u->user_id);
    if (rc == LNK_OK && u->domain_id > 0) {
        struct lnk_domain d;
        rc = r->ops->domain_get(c, u->domain_id, &op->arena, &d);
        not_found(op, &rc, "domain");
    }
    if (rc == LNK_ENOTFOUND)
        rc = LNK_EINVAL;
    if (rc == LNK_OK)
        rc = r->ops->url_put(c, u, &op->arena, &out);
    if (rc == LNK_EEXISTS)
        op->err_field = "short_code";
    return rc;
}

static int url_import(struct lnk_store_rules *r, struct lnk_op_rows *op)
{
    int64_t imported = 0;
    struct lnk_import_prior *prior = lnk_xcalloc(op->rows.n ? op->rows.n : 1, sizeof(*prior));
    bool done = false;
    int rc = import_as_set(r, op, prior, &done);
    free(prior);
    if (done)
        imported = (int64_t)op->rows.n;
    for (size_t i = 0; !done && i < op->rows.n && rc == LNK_OK; i++) {
        rc = import_url(r, &op->op, &op->rows.urls[i]);
        imported += rc == LNK_OK;
    }
    if (rc == LNK_OK)
        op->imported += imported;
    return rc;
}

/* ---- writes: events ------------------------------------------------------- */

static int event_create(struct lnk_store_rules *r, struct lnk_op_event *op, int64_t now)
{
    struct lnk_store_bconn *c = r->ops->writer(r->b);
    struct lnk_event e = op->in;
    int64_t owner = 0, id = 0;
    if (!e.event_type)
        return LNK_EINVAL;
    int rc = r->ops->url_owner(c, e.url_id, &owner);
    if (rc == LNK_OK && op->owner_guard && owner != op->owner_guard)
        rc = LNK_ENOTFOUND;
    not_found(&op->op, &rc, "url");
    if (rc == LNK_OK && e.user_id)
        rc = user_exists(r->ops, c, &op->op, e.user_id);
    e.id = 0;
    e.user_id = e.user_id ? e.user_id : owner;
    e.timestamp = e.timestamp > 0 ? e.timestamp : now;
    e.details = e.details ? e.details : "{}";
    if (rc == LNK_OK)
        rc = r->ops->event_put(c, &e, &id);
    if (rc == LNK_OK && strcmp(e.event_type, "click") == 0) {
        struct lnk_rollup_delta d = {e.url_id, e.timestamp / 86400, 1, e.timestamp};
        rc = r->ops->rollups_add(c, &d, 1);
    }
    if (rc == LNK_OK)
        rc = r->ops->event_get(c, id, &op->op.arena, &op->out);
    return rc;
}

/* The click rollup changes of one import op: one delta per (url, day),
 * added once when the op ends (a recount adds them first, since it reads
 * the rows they stand for). */
struct import_deltas {
    struct lnk_rollup_delta *d;
    size_t n, cap;
};

static void note_click(struct import_deltas *k, int64_t url_id, int64_t ts)
{
    if (k->n == k->cap) {
        k->cap = k->cap ? k->cap * 2 : 64;
        k->d = lnk_xrealloc(k->d, k->cap * sizeof(*k->d));
    }
    k->d[k->n++] = (struct lnk_rollup_delta){url_id, ts / 86400, 1, ts};
}

static int cmp_delta(const void *a, const void *b)
{
    const struct lnk_rollup_delta *x = a, *y = b;
    if (x->url_id != y->url_id)
        return x->url_id < y->url_id ? -1 : 1;
    return x->day < y->day ? -1 : x->day > y->day;
}

/* Adds the noted clicks to the rollups, merged per (url, day) in url order
 * (as rollups_add wants them), and forgets them. */
static int flush_deltas(struct lnk_store_rules *r, struct import_deltas *k)
{
    size_t m = 0;
    if (k->n == 0)
        return LNK_OK;
    qsort(k->d, k->n, sizeof(*k->d), cmp_delta);
    for (size_t i = 0; i < k->n; i++) {
        struct lnk_rollup_delta *last = m ? &k->d[m - 1] : NULL;
        if (last && last->url_id == k->d[i].url_id && last->day == k->d[i].day) {
            last->clicks += k->d[i].clicks;
            if (k->d[i].last_click_at > last->last_click_at)
                last->last_click_at = k->d[i].last_click_at;
        } else {
            k->d[m++] = k->d[i];
        }
    }
    k->n = 0;
    return r->ops->rollups_add(r->ops->writer(r->b), k->d, m);
}

/* Strict upsert by id of one event: a missing url or user is LNK_EINVAL
 * naming it. The rollups stay exact without a recount for what imports
 * mostly hold: a new click (or another event turned into one) adds one to
 * its url and day, noted in k, and a click written again with its url and
 * timestamp unchanged adds nothing. Only a change to an existing click
 * (another url or timestamp, or no longer a click) recounts the urls
 * involved: taking a click away may take the latest click time with it. */
static int import_event(struct lnk_store_rules *r, struct lnk_store_op *op,
                        const struct lnk_event *e, struct import_deltas *k)
{
    struct lnk_store_bconn *c = r->ops->writer(r->b);
    int64_t owner = 0, id = 0, was_url = 0, was_ts = 0;
    if (!e->event_type || e->id <= 0)
        return LNK_EINVAL;
    int rc = r->ops->url_owner(c, e->url_id, &owner);
    not_found(op, &rc, "url");
    if (rc == LNK_OK && e->user_id)
        rc = user_exists(r->ops, c, op, e->user_id);
    if (rc == LNK_ENOTFOUND)
        return LNK_EINVAL;
    if (rc == LNK_OK)
        rc = r->ops->click_of(c, e->id, &was_url, &was_ts);
    bool was_click = rc == LNK_OK, now_click = strcmp(e->event_type, "click") == 0;
    if (rc == LNK_ENOTFOUND)
        rc = LNK_OK;
    struct lnk_event row = *e;
    row.details = row.details ? row.details : "{}";
    if (rc == LNK_OK)
        rc = r->ops->event_put(c, &row, &id);
    if (rc != LNK_OK || (was_click && now_click && was_url == e->url_id && was_ts == e->timestamp))
        return rc;
    if (!was_click) {
        if (now_click)
            note_click(k, e->url_id, e->timestamp);
        return LNK_OK;
    }
    rc = flush_deltas(r, k);
    if (rc == LNK_OK)
        rc = r->ops->rollups_recount(c, was_url);
    if (rc == LNK_OK && now_click && e->url_id != was_url)
        rc = r->ops->rollups_recount(c, e->url_id);
    return rc;
}

/* The rollup changes of an event set written at once, from what its rows
 * replaced: what import_event decides for each row, every recount after
 * the deltas (a recount reads the rows, all of them written already). */
static int set_rollups(struct lnk_store_rules *r, const struct lnk_op_rows *op,
                       const struct lnk_import_prior *prior, struct import_deltas *k)
{
    size_t n = op->rows.n, m = 0;
    int64_t *recount = lnk_xcalloc(2 * n, sizeof(*recount));
    for (size_t i = 0; i < n; i++) {
        const struct lnk_event *e = &op->rows.events[i];
        const struct lnk_import_prior *p = &prior[i];
        bool now_click = strcmp(e->event_type, "click") == 0;
        if (!p->was_click && now_click)
            note_click(k, e->url_id, e->timestamp);
        if (!p->was_click || (now_click && p->url_id == e->url_id && p->timestamp == e->timestamp))
            continue;
        recount[m++] = p->url_id;
        if (now_click && e->url_id != p->url_id)
            recount[m++] = e->url_id;
    }
    int rc = flush_deltas(r, k);
    qsort(recount, m, sizeof(*recount), cmp_i64);
    for (size_t i = 0; i < m && rc == LNK_OK; i++)
        if (i == 0 || recount[i] != recount[i - 1])
            rc = r->ops->rollups_recount(r->ops->writer(r->b), recount[i]);
    free(recount);
    return rc;
}

/* One rollup change for the whole op, not a recount per row: importing n
 * clicks of a url used to read its clicks n times over. */
static int event_import(struct lnk_store_rules *r, struct lnk_op_rows *op)
{
    struct import_deltas k = {NULL, 0, 0};
    int64_t imported = 0;
    struct lnk_import_prior *prior = lnk_xcalloc(op->rows.n ? op->rows.n : 1, sizeof(*prior));
    bool done = false;
    int rc = import_as_set(r, op, prior, &done);
    if (rc == LNK_OK && done) {
        rc = set_rollups(r, op, prior, &k);
        imported = (int64_t)op->rows.n;
    }
    free(prior);
    for (size_t i = 0; !done && i < op->rows.n && rc == LNK_OK; i++) {
        rc = import_event(r, &op->op, &op->rows.events[i], &k);
        imported += rc == LNK_OK;
    }
    if (rc == LNK_OK)
        rc = flush_deltas(r, &k);
    if (rc == LNK_OK)
        op->imported += imported;
    free(k.d);
    return rc;
}

/* ---- writes: clicks --------------------------------------------------------
 * A batch of clicks: the owner of each distinct url is looked up once, the
 * clicks of urls deleted meanwhile are dropped, the rows go in by time, then
 * owner, then url (within a batch ids follow time to the second, and an
 * index led by owner or url is walked forward: bench/click-floor, 3.7 -> 2.2
 * us of CPU per row on SQLite), and the rollups get one delta per url-day. */

struct counted_click {
    int64_t url_id, day, ts;
    size_t idx; /* of the click in its op */
};

static int cmp_counted(const void *a, const void *b)
{
    const struct counted_click *x = a, *y = b;
    if (x->url_id != y->url_id)
        return x->url_id < y->url_id ? -1 : 1;
    return x->day < y->day ? -1 : x->day > y->day;
}

struct timed_click {
    int64_t ts, owner, url_id;
    size_t idx;
};

static int cmp_timed(const void *a, const void *b)
{
    const struct timed_click *x = a, *y = b;
    if (x->ts != y->ts)
        return x->ts < y->ts ? -1 : 1;
    if (x->owner != y->owner)
        return x->owner < y->owner ? -1 : 1;
    if (x->url_id != y->url_id)
        return x->url_id < y->url_id ? -1 : 1;
    return x->idx < y->idx ? -1 : x->idx > y->idx;
}

/* owners[] by click: the owner of each url of counted[0..n) (sorted by
 * url), 0 for a url that no longer exists. Keeps in counted only the clicks
 * of urls that exist, in order; *kept says how many. */
static int resolve_owners(struct lnk_store_rules *r, struct counted_click *counted, size_t n,
                          int64_t *owners, size_t *kept)
{
    struct lnk_store_bconn *c = r->ops->writer(r->b);
    size_t out = 0;
    int rc = LNK_OK;
    for (size_t i = 0; i < n && rc == LNK_OK;) {
        int64_t owner = 0;
        rc = r->ops->url_owner(c, counted[i].url_id, &owner);
        if (rc == LNK_ENOTFOUND) {
            rc = LNK_OK;
            owner = 0;
        }
        size_t j = i;
        for (; j < n && counted[j].url_id == counted[i].url_id; j++) {
            owners[counted[j].idx] = owner;
            if (owner)
                counted[out++] = counted[j];
        }
        i = j;
    }
    *kept = out;
    return rc;
}

/* {"short_code":...,"user_agent":...,"referrer":...}: a click's details,
 * whose three values are always strings ("" when absent). */
static const char *click_details(struct lnk_arena *a, const struct lnk_click *k)
{
    static const char *const keys[] = {"short_code", "user_agent", "referrer"};
    const char *vals[] = {k->short_code ? k->short_code : "", k->user_agent ? k->user_agent : "",
                          k->referrer ? k->referrer : ""};
    return details_json(a, keys, vals, 3);
}

/* One delta per (url, day) of the sorted kept clicks. */
static struct lnk_rollup_delta *rollup_deltas(struct lnk_arena *a, const struct counted_click *k,
                                              size_t n, size_t *n_out)
{
    struct lnk_rollup_delta *d = lnk_arena_alloc(a, sizeof(*d) * (n ? n : 1));
    size_t m = 0;
    for (size_t i = 0; i < n;) {
        size_t j = i;
        int64_t last = 0;
        while (j < n && k[j].url_id == k[i].url_id && k[j].day == k[i].day) {
            last = k[j].ts > last ? k[j].ts : last;
            j++;
        }
        d[m++] = (struct lnk_rollup_delta){k[i].url_id, k[i].day, (int64_t)(j - i), last};
        i = j;
    }
    *n_out = m;
    return d;
}

static int clicks_append(struct lnk_store_rules *r, struct lnk_op_clicks *op, int64_t now)
{
    struct lnk_arena *a = &op->op.arena;
    size_t n = op->n, kept = 0, n_deltas = 0;
    struct counted_click *counted = lnk_arena_alloc(a, sizeof(*counted) * (n ? n : 1));
    int64_t *owners = lnk_arena_alloc(a, sizeof(*owners) * (n ? n : 1));
    for (size_t i = 0; i < n; i++) {
        int64_t ts = op->clicks[i].timestamp > 0 ? op->clicks[i].timestamp : now;
        counted[i] = (struct counted_click){op->clicks[i].url_id, ts / 86400, ts, i};
    }
    qsort(counted, n, sizeof(*counted), cmp_counted);
    int rc = resolve_owners(r, counted, n, owners, &kept);
    if (rc != LNK_OK || kept == 0)
        return rc;
    struct timed_click *t = lnk_arena_alloc(a, sizeof(*t) * kept);
    for (size_t i = 0; i < kept; i++)
        t[i] = (struct timed_click){counted[i].ts, owners[counted[i].idx], counted[i].url_id,
                                    counted[i].idx};
    qsort(t, kept, sizeof(*t), cmp_timed);
    struct lnk_click_row *rows = lnk_arena_alloc(a, sizeof(*rows) * kept);
    for (size_t i = 0; i < kept; i++)
        rows[i] = (struct lnk_click_row){t[i].url_id, t[i].owner, t[i].ts,
                                         click_details(a, &op->clicks[t[i].idx])};
    struct lnk_store_bconn *c = r->ops->writer(r->b);
    struct lnk_rollup_delta *deltas = rollup_deltas(a, counted, kept, &n_deltas);
    rc = r->ops->clicks_insert(c, rows, kept);
    if (rc == LNK_OK)
        rc = r->ops->rollups_add(c, deltas, n_deltas);
    if (rc == LNK_OK)
        op->written += (int64_t)kept;
    return rc;
}

/* ---- writes: API keys ------------------------------------------------------- */

static int key_create(struct lnk_store_rules *r, struct lnk_op_key *op, int64_t now)
{
    struct lnk_store_bconn *c = r->ops->writer(r->b);
    struct lnk_api_key k = op->in;
    int64_t id = 0;
    if (!k.name || !k.prefix || !op->key_hash || (!k.admin && k.user_id <= 0))
        return LNK_EINVAL;
    int rc = k.admin ? LNK_OK : user_exists(r->ops, c, &op->op, k.user_id);
    k.user_id = k.admin ? 0 : k.user_id;
    k.created_at = now;
    if (rc == LNK_OK)
        rc = r->ops->key_insert(c, &k, op->key_hash, &id);
    if (rc == LNK_OK)
        rc = r->ops->key_get(c, id, &op->op.arena, &op->out);
    return rc;
}

static int key_revoke(struct lnk_store_rules *r, struct lnk_op_key *op, int64_t now)
{
    struct lnk_store_bconn *c = r->ops->writer(r->b);
    int rc = r->ops->key_revoke(c, op->id, now);
    if (rc == LNK_OK)
        rc = r->ops->key_get(c, op->id, &op->op.arena, &op->out);
    not_found(&op->op, &rc, "key");
    return rc;
}

/* Strict upsert by id of one key with its hash, every field kept (so a
 * copied key still authenticates, or stays revoked): a user key of an
 * unknown user is LNK_EINVAL ("user"), a hash another key holds LNK_EEXISTS
 * ("key"). */
static int import_key(struct lnk_store_rules *r, struct lnk_store_op *op,
                      const struct lnk_api_key *in, const char *hash, int64_t now)
{
    struct lnk_store_bconn *c = r->ops->writer(r->b);
    struct lnk_api_key k = *in;
    if (k.id <= 0 || !k.name || !k.prefix || !hash || !*hash || (!k.admin && k.user_id <= 0) ||
        k.revoked_at < 0) {
        op->err_field = "key";
        return LNK_EINVAL;
    }
    int rc = k.admin ? LNK_OK : user_exists(r->ops, c, op, k.user_id);
    if (rc == LNK_ENOTFOUND)
        rc = LNK_EINVAL;
    k.user_id = k.admin ? 0 : k.user_id;
    k.created_at = k.created_at > 0 ? k.created_at : now;
    if (rc == LNK_OK)
        rc = r->ops->key_put(c, &k, hash);
    if (rc == LNK_EEXISTS)
        op->err_field = "key";
    return rc;
}

static int key_import(struct lnk_store_rules *r, struct lnk_op_rows *op, int64_t now)
{
    const struct lnk_import_rows *rows = &op->rows;
    int64_t imported = 0;
    int rc = rows->n && (!rows->keys || !rows->key_hashes) ? LNK_EINVAL : LNK_OK;
    for (size_t i = 0; i < rows->n && rc == LNK_OK; i++) {
        rc = import_key(r, &op->op, &rows->keys[i], rows->key_hashes[i], now);
        imported += rc == LNK_OK;
    }
    if (rc == LNK_OK)
        op->imported += imported;
    return rc;
}

/* ---- writes: retired codes -------------------------------------------------- */

/* Codes that must never name a new url: those another database retired
 * (`linkd copy`), as a deletion here would have. */
static int retired_import(struct lnk_store_rules *r, struct lnk_op_rows *op)
{
    struct lnk_store_bconn *c = r->ops->writer(r->b);
    int64_t imported = 0;
    int rc = op->rows.n && !op->rows.codes ? LNK_EINVAL : LNK_OK;
    for (size_t i = 0; i < op->rows.n && rc == LNK_OK; i++) {
        const char *code = op->rows.codes[i];
        rc = code && *code ? r->ops->retired_add(c, code) : LNK_EINVAL;
        imported += rc == LNK_OK;
    }
    if (rc == LNK_EINVAL)
        op->op.err_field = "short_code";
    if (rc == LNK_OK)
        op->imported += imported;
    return rc;
}

/* ---- writes: click maximums ------------------------------------------------- */

/* Each url's clicks counted against its maximum, as another database
 * counted them (`linkd copy`): set, not added to, so a second copy leaves
 * them as they are. A url that is not there refuses the op. */
static int slot_import(struct lnk_store_rules *r, struct lnk_op_rows *op)
{
    struct lnk_store_bconn *c = r->ops->writer(r->b);
    const struct lnk_import_rows *rows = &op->rows;
    int64_t imported = 0;
    int rc = rows->n && !rows->slots ? LNK_EINVAL : LNK_OK;
    for (size_t i = 0; i < rows->n && rc == LNK_OK; i++) {
        const struct lnk_slot *sl = &rows->slots[i];
        rc = sl->url_id > 0 && sl->used >= 0 ? r->ops->slot_put(c, sl) : LNK_EINVAL;
        imported += rc == LNK_OK;
    }
    if (rc == LNK_EINVAL || rc == LNK_ENOTFOUND) {
        op->op.err_field = "url";
        rc = LNK_EINVAL;
    }
    if (rc == LNK_OK)
        op->imported += imported;
    return rc;
}

/* ---- bulk -----------------------------------------------------------------
 * A bulk op runs each row as the single op it stands for (a create, or an
 * upsert by id), inside a savepoint of its own: a row that fails is undone
 * alone and reported in results; only a failure that lost the transaction
 * fails the whole op (and its batch). */

static int run_write(struct lnk_store_rules *r, struct lnk_store_op *op);

/* The single op for row i of a bulk op. */
static struct lnk_store_op *row_op(const struct lnk_op_rows *op, size_t i)
{
    const struct lnk_import_rows *rows = &op->rows;
    bool has_id = rows->has_id ? rows->has_id[i] : false;
    bool urls = op->op.kind == LNK_OP_URL_BULK;
    if (has_id) {
        struct lnk_store_op *sub = lnk_store_op_new(urls ? LNK_OP_URL_IMPORT : LNK_OP_EVENT_IMPORT);
        struct lnk_op_rows *one = LNK_OP_AS(sub, rows);
        one->rows.n = 1;
        one->rows.urls = urls ? &rows->urls[i] : NULL;
        one->rows.events = urls ? NULL : &rows->events[i];
        return sub;
    }
    if (urls) {
        struct lnk_op_url *u = LNK_OP_AS(lnk_store_op_new(LNK_OP_URL_CREATE), url);
        u->in = rows->urls[i];
        u->reuse = rows->reuse && rows->reuse[i];
        return &u->op;
    }
    struct lnk_op_event *e = LNK_OP_AS(lnk_store_op_new(LNK_OP_EVENT_CREATE), event);
    e->in = rows->events[i];
    e->owner_guard = op->owner_guard;
    return &e->op;
}

/* What row i became, once its op ran. */
static void note_row(struct lnk_op_rows *op, size_t i, struct lnk_store_op *sub,
                     struct lnk_row_result *res)
{
    res->rc = sub->rc;
    res->err_field = sub->err_field; /* static strings */
    if (sub->rc != LNK_OK)
        return;
    if (sub->kind == LNK_OP_URL_IMPORT || sub->kind == LNK_OP_URL_CREATE) {
        const struct lnk_url *u =
            sub->kind == LNK_OP_URL_IMPORT ? &op->rows.urls[i] : &LNK_OP_AS(sub, url)->out;
        res->id = u->id;
        res->short_code = lnk_arena_strdup(&op->op.arena, u->short_code);
        res->existed |= sub->kind == LNK_OP_URL_CREATE && LNK_OP_AS(sub, url)->reused;
    } else {
        res->id = sub->kind == LNK_OP_EVENT_IMPORT ? op->rows.events[i].id
                                                   : LNK_OP_AS(sub, event)->out.id;
    }
}

/* Runs row i in its savepoint and records its result. */
static int apply_row(struct lnk_store_rules *r, struct lnk_op_rows *op, size_t i)
{
    struct lnk_store_bconn *c = r->ops->writer(r->b);
    struct lnk_store_op *sub = row_op(op, i);
    struct lnk_row_result *res = &op->results[i];
    int rc = r->ops->savepoint(r->b, LNK_SP_ROW, LNK_SP_BEGIN);
    if (rc != LNK_OK)
        goto out;
    if (sub->kind == LNK_OP_URL_IMPORT) {
        struct lnk_url prev; /* the code it had, which caches may hold */
        rc = r->ops->url_get(c, op->rows.urls[i].id, &op->op.arena, &prev);
        if (rc == LNK_OK) {
            res->prev_short_code = prev.short_code;
            res->domain_id = prev.domain_id; /* an upsert keeps the url's domain */
            res->existed = true;
        }
    } else if (sub->kind == LNK_OP_EVENT_IMPORT) {
        struct lnk_event prev;
        rc = r->ops->event_get(c, op->rows.events[i].id, &op->op.arena, &prev);
        res->existed = rc == LNK_OK;
    }
    if (rc != LNK_OK && rc != LNK_ENOTFOUND)
        goto out;
    rc = LNK_OK;
    lnk_store_op_reset_outputs(sub);
    r->wait_creates = true;
    sub->rc = run_write(r, sub);
    r->wait_creates = false;
    note_row(op, i, sub, res);
    if (sub->rc == LNK_OK) {
        rc = r->ops->savepoint(r->b, LNK_SP_ROW, LNK_SP_RELEASE);
    } else if (r->ops->tx_lost(r->b)) {
        rc = sub->rc; /* the transaction is gone: the batch fails */
    } else {
        res->existed = false;
        res->prev_short_code = NULL;
        rc = r->ops->savepoint(r->b, LNK_SP_ROW, LNK_SP_ROLLBACK);
        if (rc == LNK_OK)
            rc = r->ops->savepoint(r->b, LNK_SP_ROW, LNK_SP_RELEASE);
    }
out:
    lnk_store_op_free(sub);
    return rc;
}

static int bulk(struct lnk_store_rules *r, struct lnk_op_rows *op)
{
    size_t n = op->rows.n;
    int rc = LNK_OK;
    op->results = lnk_arena_alloc(&op->op.arena, sizeof(*op->results) * (n ? n : 1));
    memset(op->results, 0, sizeof(*op->results) * n);
    for (size_t i = 0; i < n && rc == LNK_OK; i++) {
        rc = apply_row(r, op, i);
        if (rc == LNK_OK && op->results[i].rc == LNK_OK)
            op->imported++;
        else if (rc == LNK_OK)
            op->skipped++;
    }
    return rc;
}

/* ---- writes: click slots ------------------------------------------------------ */

/* One of a url's max clicks, counted; or (peek) whether one is left. */
static int click_slot(struct lnk_store_rules *r, struct lnk_op_slot *s)
{
    struct lnk_store_bconn *c = r->ops->writer(r->b);
    int64_t used = 0;
    if (s->max <= 0)
        return LNK_EINVAL;
    if (!s->peek)
        return r->ops->slot_take(c, s->url_id, s->max, &s->taken);
    int rc = r->ops->slot_used(c, s->url_id, &used);
    s->taken = rc == LNK_OK && used < s->max;
    return rc;
}

/* ---- writes: idempotency keys ------------------------------------------------ */

/* A key's first use holds it (status 0) until its answer is kept; the same
 * request again gets that answer, another request an error. Answers older
 * than a day are forgotten (here, so no timer is needed), and a key held
 * longer than LNK_IDEM_ABANDONED_S without an answer (its server stopped
 * meanwhile) runs again. */
static int idem_begin(struct lnk_store_rules *r, struct lnk_op_idem *op, int64_t now)
{
    struct lnk_store_bconn *c = r->ops->writer(r->b);
    struct lnk_idem_row row;
    if (!op->caller || !op->key || !op->fingerprint)
        return LNK_EINVAL;
    int rc = r->ops->idem_expire(c, now - LNK_IDEM_TTL_S);
    if (rc == LNK_OK)
        rc = r->ops->idem_get(c, op->caller, op->key, &op->op.arena, &row);
    if (rc == LNK_OK && !(row.status == 0 && row.created_at < now - LNK_IDEM_ABANDONED_S)) {
        if (strcmp(row.fingerprint, op->fingerprint) != 0)
            op->state = LNK_IDEM_MISMATCH;
        else if (row.status == 0)
            op->state = LNK_IDEM_IN_PROGRESS;
        else {
            op->state = LNK_IDEM_REPLAY;
            op->status = row.status;
            op->body = row.body;
        }
        return LNK_OK;
    }
    if (rc != LNK_OK && rc != LNK_ENOTFOUND)
        return rc;
    op->state = LNK_IDEM_NEW;
    row = (struct lnk_idem_row){op->fingerprint, 0, "", now};
    return r->ops->idem_put(c, op->caller, op->key, &row);
}

static int idem_finish(struct lnk_store_rules *r, struct lnk_op_idem *op, int64_t now)
{
    struct lnk_store_bconn *c = r->ops->writer(r->b);
    struct lnk_idem_row row;
    if (!op->caller || !op->key)
        return LNK_EINVAL;
    if (op->status <= 0 || op->status >= 500)
        return r->ops->idem_delete(c, op->caller, op->key);
    int rc = r->ops->idem_get(c, op->caller, op->key, &op->op.arena, &row);
    if (rc != LNK_OK)
        return rc == LNK_ENOTFOUND ? LNK_OK : rc; /* forgotten meanwhile: nothing to keep */
    row.status = op->status;
    row.body = op->body ? op->body : "";
    row.created_at = now;
    return r->ops->idem_put(c, op->caller, op->key, &row);
}

/* ---- writes: domains ------------------------------------------------------ */

static int domain_create(struct lnk_store_rules *r, struct lnk_op_domain *op, int64_t now)
{
    struct lnk_domain d = op->in;
    if (!d.host || !*d.host)
        return LNK_EINVAL;
    d.created_at = now;
    int rc = r->ops->domain_insert(r->ops->writer(r->b), &d, &op->op.arena, &op->out);
    if (rc == LNK_EEXISTS)
        op->op.err_field = "host";
    return rc;
}

/* Strict upserts by id of domains, every field kept (`linkd copy`), so
 * that the urls that name them keep their domain: a row without an id or
 * a host is LNK_EINVAL ("domain"), a host another domain holds
 * LNK_EEXISTS ("host"). */
static int domain_import(struct lnk_store_rules *r, struct lnk_op_rows *op, int64_t now)
{
    struct lnk_store_bconn *c = r->ops->writer(r->b);
    const struct lnk_import_rows *rows = &op->rows;
    int64_t imported = 0;
    int rc = rows->n && !rows->domains ? LNK_EINVAL : LNK_OK;
    for (size_t i = 0; i < rows->n && rc == LNK_OK; i++) {
        struct lnk_domain d = rows->domains[i];
        d.created_at = d.created_at > 0 ? d.created_at : now;
        rc = d.id > 0 && d.host && *d.host ? r->ops->domain_put(c, &d) : LNK_EINVAL;
        imported += rc == LNK_OK;
    }
    if (rc == LNK_EINVAL || rc == LNK_EEXISTS)
        op->op.err_field = rc == LNK_EINVAL ? "domain" : "host";
    if (rc == LNK_OK)
        op->imported += imported;
    return rc;
}

static int domain_update(struct lnk_store_rules *r, struct lnk_op_domain *op)
{
    struct lnk_store_bconn *c = r->ops->writer(r->b);
    const struct lnk_domain_patch *p = &op->patch;
    struct lnk_domain d;
    int rc = r->ops->domain_get(c, op->id, &op->op.arena, &d);
    not_found(&op->op, &rc, "domain");
    if (rc != LNK_OK)
        return rc;
    d.root_url = p->set_root_url ? p->root_url : d.root_url;
    d.not_found_url = p->set_not_found_url ? p->not_found_url : d.not_found_url;
    d.fallback_url = p->set_fallback_url ? p->fallback_url : d.fallback_url;
    rc = r->ops->domain_set(c, &d);
    if (rc == LNK_OK)
        op->out = d;
    return rc;
}

static int domain_delete(struct lnk_store_rules *r, struct lnk_op_domain *op)
{
    struct lnk_store_bconn *c = r->ops->writer(r->b);
    bool in_use = false;
    int rc = r->ops->domain_get(c, op->id, &op->op.arena, &op->out);
    not_found(&op->op, &rc, "domain");
    if (rc == LNK_OK)
        rc = r->ops->domain_delete(c, op->id, &in_use);
    if (rc == LNK_OK && in_use) {
        op->op.err_field = "links";
        rc = LNK_EEXISTS;
    }
    return rc;
}

static int run_write(struct lnk_store_rules *r, struct lnk_store_op *op)
{
    int64_t now = now_s();
    switch (op->kind) {
    case LNK_OP_USER_CREATE:
        return user_create(r, LNK_OP_AS(op, user), now);
    case LNK_OP_USER_UPDATE:
        return user_update(r, LNK_OP_AS(op, user));
    case LNK_OP_USER_DELETE:
        return user_delete(r, LNK_OP_AS(op, user));
    case LNK_OP_USER_IMPORT:
        return user_import(r, LNK_OP_AS(op, rows), now);
    case LNK_OP_URL_CREATE:
        return url_create(r, LNK_OP_AS(op, url), now);
    case LNK_OP_URL_UPDATE:
        return url_update(r, LNK_OP_AS(op, url), now);
    case LNK_OP_URL_DELETE:
        return url_delete(r, LNK_OP_AS(op, url), now);
    case LNK_OP_URL_IMPORT:
        return url_import(r, LNK_OP_AS(op, rows));
    case LNK_OP_EVENT_CREATE:
        return event_create(r, LNK_OP_AS(op, event), now);
    case LNK_OP_EVENT_IMPORT:
        return event_import(r, LNK_OP_AS(op, rows));
    case LNK_OP_URL_BULK:
    case LNK_OP_EVENT_BULK:
        return bulk(r, LNK_OP_AS(op, rows));
    case LNK_OP_CLICKS_APPEND:
        return clicks_append(r, LNK_OP_AS(op, clicks), now);
    case LNK_OP_KEY_CREATE:
        return key_create(r, LNK_OP_AS(op, key), now);
    case LNK_OP_KEY_REVOKE:
        return key_revoke(r, LNK_OP_AS(op, key), now);
    case LNK_OP_KEY_IMPORT:
        return key_import(r, LNK_OP_AS(op, rows), now);
    case LNK_OP_RETIRED_IMPORT:
        return retired_import(r, LNK_OP_AS(op, rows));
    case LNK_OP_IDEM_BEGIN:
        return idem_begin(r, LNK_OP_AS(op, idem), now);
    case LNK_OP_IDEM_FINISH:
        return idem_finish(r, LNK_OP_AS(op, idem), now);
    case LNK_OP_DOMAIN_CREATE:
        return domain_create(r, LNK_OP_AS(op, domain), now);
    case LNK_OP_DOMAIN_UPDATE:
        return domain_update(r, LNK_OP_AS(op, domain));
    case LNK_OP_DOMAIN_DELETE:
        return domain_delete(r, LNK_OP_AS(op, domain));
    case LNK_OP_DOMAIN_IMPORT:
        return domain_import(r, LNK_OP_AS(op, rows), now);
    case LNK_OP_CLICK_SLOT:
        return click_slot(r, LNK_OP_AS(op, slot));
    case LNK_OP_SLOT_IMPORT:
        return slot_import(r, LNK_OP_AS(op, rows));
    default:
        return LNK_EINVAL;
    }
}

/* ---- the id space ----------------------------------------------------------
 * Ids stop at LNK_ID_MAX, the largest a JSON client holds exactly
 * (docs/security.md#ids). SQLite would hand out AUTOINCREMENT ids up to
 * 2^63 - 1 and then fail with SQLITE_FULL, which cannot be told from a full
 * disk and would degrade the whole store. Instead an op that takes new ids
 * is refused before it writes when a table it takes them from has too few
 * left: it fails alone with LNK_EIDSPACE. The batch reads the tables' tops
 * once and counts each op as taking all the ids it may, so the check costs
 * no statement per op and errs only towards refusing within a batch of the
 * limit. */

static const char *const id_table_row[LNK_ID__N] = {"user", "url", "event", "key"};

static void max_into(int64_t *top, int64_t v)
{
    *top = v > *top ? v : *top;
}

/* Rows of a bulk or import op: new ids (no id) or the largest id written. */
static void rows_need(const struct lnk_op_rows *op, int64_t need[LNK_ID__N], int64_t top[LNK_ID__N])
{
    const struct lnk_import_rows *r = &op->rows;
    if (op->op.kind == LNK_OP_RETIRED_IMPORT || (op->op.kind == LNK_OP_KEY_IMPORT && !r->keys))
        return; /* codes take no id; no keys is refused when the op runs */
    for (size_t i = 0; i < r->n; i++) {
        bool users = op->op.kind == LNK_OP_USER_IMPORT;
        bool urls = op->op.kind == LNK_OP_URL_IMPORT || op->op.kind == LNK_OP_URL_BULK;
        bool keys = op->op.kind == LNK_OP_KEY_IMPORT;
        int64_t id = users  ? r->users[i].id
                     : urls ? r->urls[i].id
                     : keys ? r->keys[i].id
                            : r->events[i].id;
        bool has_id = r->has_id ? r->has_id[i] : id > 0;
        enum lnk_id_table t = users  ? LNK_ID_USERS
                              : urls ? LNK_ID_URLS
                              : keys ? LNK_ID_KEYS
                                     : LNK_ID_EVENTS;
        if (has_id) {
            max_into(&top[t], id);
        } else {
            need[t]++;
            need[LNK_ID_EVENTS] += urls; /* a created url's 'created' event */
        }
    }
}

/* At most how many new ids op takes from each table, and the largest id it
 * writes itself. */
static void ids_needed(const struct lnk_store_op *op, int64_t need[LNK_ID__N],
                       int64_t top[LNK_ID__N])
{
    switch (op->kind) {
    case LNK_OP_USER_CREATE:
        need[LNK_ID_USERS] = 1;
        break;
    case LNK_OP_URL_CREATE:
        need[LNK_ID_URLS] = need[LNK_ID_EVENTS] = 1; /* and its 'created' event */
        break;
    case LNK_OP_URL_UPDATE:
        need[LNK_ID_EVENTS] = 4; /* an 'updated' event per field that changes */
        break;
    case LNK_OP_URL_DELETE:
    case LNK_OP_EVENT_CREATE:
        need[LNK_ID_EVENTS] = 1;
        break;
    case LNK_OP_CLICKS_APPEND:
        need[LNK_ID_EVENTS] = (int64_t)LNK_OP_AS(op, clicks)->n;
        break;
    case LNK_OP_KEY_CREATE:
        need[LNK_ID_KEYS] = 1;
        break;
    case LNK_OP_USER_IMPORT:
    case LNK_OP_URL_IMPORT:
    case LNK_OP_EVENT_IMPORT:
    case LNK_OP_URL_BULK:
    case LNK_OP_EVENT_BULK:
    case LNK_OP_KEY_IMPORT:
    case LNK_OP_RETIRED_IMPORT:
        rows_need(LNK_OP_AS(op, rows), need, top);
        break;
    default:
        break;
    }
}

static int check_id_room(struct lnk_store_rules *r, struct lnk_store_op *op)
{
    int64_t need[LNK_ID__N] = {0}, top[LNK_ID__N] = {0};
    bool any = false;
    ids_needed(op, need, top);
    for (size_t t = 0; t < LNK_ID__N; t++)
        any |= need[t] || top[t];
    if (!any)
        return LNK_OK;
    if (!r->ids_loaded) {
        int rc = r->ops->id_tops(r->ops->writer(r->b), r->id_top);
        if (rc != LNK_OK)
            return rc;
        r->ids_loaded = true;
    }
    for (size_t t = 0; t < LNK_ID__N; t++) {
        max_into(&top[t], r->id_top[t]);
        if (need[t] && top[t] > LNK_ID_MAX - need[t]) {
            op->err_field = id_table_row[t];
            return LNK_EIDSPACE;
        }
    }
    for (size_t t = 0; t < LNK_ID__N; t++)
        r->id_top[t] = top[t] + need[t];
    return LNK_OK;
}

/* ---- one op of a batch ------------------------------------------------------ */

/* Kinds that refuse (bad input, a missing user or url, a taken code) before
 * their first write, and after it fail only when the storage or memory does.
 * They run without a savepoint: SQLite journals every page an op touches
 * inside one, which cost a fifth of the writer's CPU per click (7.6 -> 6.1
 * us), and each is a subtransaction on PostgreSQL. */
static bool refuses_before_writing(enum lnk_op_kind kind)
{
    return kind == LNK_OP_URL_CREATE || kind == LNK_OP_USER_CREATE || kind == LNK_OP_EVENT_CREATE ||
           kind == LNK_OP_CLICKS_APPEND;
}

/* A storage failure, or a failure after a change that cannot be undone
 * alone, loses the transaction; never report that as a client error. */
static int lost(int rc)
{
    return rc == LNK_EUNAVAIL || rc == LNK_ENOMEM ? rc : LNK_EBACKEND;
}

static int apply_unguarded(struct lnk_store_rules *r, struct lnk_store_op *op)
{
    uint64_t before = r->ops->changes(r->b);
    op->rc = run_write(r, op);
    if (op->rc == LNK_OK)
        return LNK_OK;
    bool refused = !r->ops->tx_lost(r->b) && r->ops->changes(r->b) == before;
    return refused ? LNK_OK : lost(op->rc);
}

/* Each other write runs inside a savepoint, so that its failure undoes only
 * its own changes. */
static int apply_guarded(struct lnk_store_rules *r, struct lnk_store_op *op)
{
    int rc = r->ops->savepoint(r->b, LNK_SP_OP, LNK_SP_BEGIN);
    if (rc != LNK_OK)
        return rc;
    op->rc = run_write(r, op);
    if (op->rc != LNK_OK) {
        if (r->ops->tx_lost(r->b))
            return lost(op->rc);
        rc = r->ops->savepoint(r->b, LNK_SP_OP, LNK_SP_ROLLBACK);
    }
    if (rc == LNK_OK)
        rc = r->ops->savepoint(r->b, LNK_SP_OP, LNK_SP_RELEASE);
    return rc;
}

int lnk_store_rules_apply(struct lnk_store_rules *r, struct lnk_store_op *op)
{
    if (!r->ops->writer(r->b))
        return LNK_EUNAVAIL;
    if (lnk_store_op_is_read(op->kind)) {
        lnk_store_rules_read(r->ops, r->ops->writer(r->b), op);
        return LNK_OK;
    }
    lnk_store_op_reset_outputs(op);
    int rc = check_id_room(r, op);
    if (rc == LNK_EIDSPACE) {
        op->rc = rc; /* refused before it writes: the op alone */
        return LNK_OK;
    }
    if (rc != LNK_OK)
        return rc;
    return refuses_before_writing(op->kind) ? apply_unguarded(r, op) : apply_guarded(r, op);
}

static void forget_sent(struct lnk_store_rules *r)
{
    r->sent = NULL;
    r->sent_tail = &r->sent;
}

/* Reads the answers of the creates sent in this batch; runs the refused
 * ones again. Before the commit; a failure loses the batch. */
int lnk_store_rules_flush(struct lnk_store_rules *r)
{
    if (!r->sent)
        return LNK_OK;
    int rc = r->ops->flush(r->b);
    r->wait_creates = true;
    for (struct lnk_url_sent *s = r->sent; s && rc == LNK_OK; s = s->next) {
        if (s->state == LNK_URL_SENT_NONE) {
            lnk_store_op_reset_outputs(s->op);
            rc = apply_unguarded(r, s->op);
        } else if (s->state != LNK_URL_SENT_ROW) {
            rc = LNK_EBACKEND; /* the flush reported no failure: cannot be */
        }
    }
    r->wait_creates = false;
    forget_sent(r);
    return rc;
}

void lnk_store_rules_committed(struct lnk_store_rules *r)
{
    forget_sent(r);
    r->seq_fresh = false;
    r->ids_loaded = false;
}

void lnk_store_rules_abort(struct lnk_store_rules *r)
{
    forget_sent(r);
    /* The database forgets a block reserved in a rolled-back transaction
     * (SQLite), so this process must too, or another could get it again. */
    if (r->seq_fresh) {
        r->seq_next = r->seq_end = 0;
        r->seq_fresh = false;
    }
    r->ids_loaded = false;
}
