/* SPDX-License-Identifier: MIT */
/* The store contract (include/linkd/store.h, CONTRACT.md §3-§4), checked
 * through the public header: every op kind through its typed context,
 * error cases first, then group commit, concurrency, completion (inline,
 * on the reader pool, on the origin executor) and reopening.
 *
 * The database under test is named by LNK_TEST_DATABASE_URL; unset, each
 * test gets a SQLite file in a fresh temporary directory. Every test starts
 * on an empty database (test_db_empty; PostgreSQL: pg_empty.h). The tests
 * of SQLite itself (file
 * paths, inline reads) are a group of their own, skipped with a message on
 * any other backend. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "check.h"
#include "pg_empty.h"
#include "tmp_db.h"
#include "linkd/err.h"
#include "linkd/model.h"
#include "linkd/shortcode.h"
#include "linkd/store.h"

/* ---- the database under test --------------------------------------------- */

#define TEST_DB_ENV "LNK_TEST_DATABASE_URL"

/* The URL in LNK_TEST_DATABASE_URL, or NULL for a temporary SQLite file. */
static const char *test_db_env_url(void)
{
    const char *url = getenv(TEST_DB_ENV);
    return url && *url ? url : NULL;
}

/* The scheme of url ("sqlite" for a bare path), for messages: a URL may
 * hold a password, so it is never printed whole. */
static void test_db_scheme(const char *url, char *out, size_t cap)
{
    const char *sep = strstr(url, "://");
    if (!sep)
        snprintf(out, cap, "sqlite");
    else
        snprintf(out, cap, "%.*s", (int)(sep - url), url);
}

/* True when url names a SQLite database (as the store reads it: a bare path
 * or the sqlite scheme). */
static bool test_db_is_sqlite(const char *url)
{
    return !strstr(url, "://") || strncasecmp(url, "sqlite://", 9) == 0;
}

/* Opens the store on url, as the server would (fsync on every commit). */
static int test_db_open(const char *url, struct lnk_store **out)
{
    char err[256] = "", scheme[32];
    struct lnk_store_config cfg = {.url = url, .synchronous_full = 1, .max_batch = 0};
    int rc = lnk_store_open(&cfg, out, err, sizeof(err));
    if (rc != LNK_OK) {
        test_db_scheme(url, scheme, sizeof(scheme));
        print_error("lnk_store_open (%s): %s\n", scheme, err);
    }
    return rc;
}

/* True when url names a PostgreSQL database. */
static bool test_db_is_pg(const char *url)
{
    return strncasecmp(url, "postgres://", 11) == 0 || strncasecmp(url, "postgresql://", 13) == 0;
}

/* Empties the database at url, with no store open on it, so that a test
 * starts from no rows and ids from 1. SQLite: the file and its WAL are
 * removed, and the store makes them anew. PostgreSQL: every table but the
 * schema version is truncated and the sequences restart (pg_empty.h). Any
 * other scheme fails with a message. 0, or -1. */
static int test_db_empty(const char *url)
{
    char scheme[32], err[512];
    if (test_db_is_sqlite(url)) {
        const char *path = strstr(url, "://") ? url + 9 : url;
        if (strlen(path) > 150) { /* tmp_db_remove_files adds suffixes in 160 bytes */
            print_error("%s: a SQLite path longer than 150 bytes\n", TEST_DB_ENV);
            return -1;
        }
        tmp_db_remove_files(path);
        return 0;
    }
    if (test_db_is_pg(url)) {
        if (pg_empty_database(url, err, sizeof(err)) != 0) {
            print_error("%s: PostgreSQL %s\n", TEST_DB_ENV, err);
            return -1;
        }
        return 0;
    }
    test_db_scheme(url, scheme, sizeof(scheme));
    print_error("%s names a %s database, which these tests cannot empty between tests "
                "(sqlite and postgres only); unset it to use a temporary SQLite file\n",
                TEST_DB_ENV, scheme);
    return -1;
}

struct fixture {
    struct tmp_db t; /* a fresh directory per test, for SQLite files */
    char url[512];   /* the database under test */
    struct lnk_store *s;
};

static int open_store(struct fixture *f)
{
    return test_db_open(f->url, &f->s);
}

/* The fixture without a store: the directory and the URL. */
static struct fixture *fixture_new(void)
{
    struct fixture *f = calloc(1, sizeof(*f));
    if (!f)
        return NULL;
    if (tmp_db_make(&f->t, "test.db") != 0) {
        free(f);
        return NULL;
    }
    const char *env = test_db_env_url();
    int n = env ? snprintf(f->url, sizeof(f->url), "%s", env)
                : snprintf(f->url, sizeof(f->url), "sqlite://%s", f->t.path);
    if (n < 0 || (size_t)n >= sizeof(f->url)) {
        print_error("%s is longer than %zu bytes\n", TEST_DB_ENV, sizeof(f->url) - 1);
        tmp_db_remove(&f->t);
        free(f);
        return NULL;
    }
    return f;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    if (!f)
        return 0;
    lnk_store_close(f->s);
    tmp_db_remove(&f->t);
    free(f);
    return 0;
}

/* An empty database under test, open. */
static int setup(void **state)
{
    struct fixture *f = fixture_new();
    *state = f;
    if (!f)
        return -1;
    if (test_db_empty(f->url) != 0 || open_store(f) != LNK_OK) {
        teardown(state);
        *state = NULL;
        return -1;
    }
    return 0;
}

/* For the SQLite group: the same on SQLite; on another backend a fixture
 * without a store, which the test skips (sqlite_only). */
static int setup_sqlite(void **state)
{
    const char *env = test_db_env_url();
    if (!env || test_db_is_sqlite(env))
        return setup(state);
    *state = fixture_new();
    return *state ? 0 : -1;
}

/* Skips the calling test, visibly, unless the database under test is
 * SQLite. */
static struct fixture *sqlite_only(void **state)
{
    struct fixture *f = *state;
    if (!test_db_is_sqlite(f->url)) {
        char scheme[32];
        test_db_scheme(f->url, scheme, sizeof(scheme));
        print_message("[   INFO   ] SQLite only, and the database under test is %s: "
                      "not run\n",
                      scheme);
        skip();
    }
    return f;
}

/* ---- helpers -------------------------------------------------------------- */

/* A new op of kind as its typed context; lnk_store_run and free take its
 * head. */
#define OP_NEW(kind, family) LNK_OP_AS(lnk_store_op_new(kind), family)
#define OP_RUN(s, typed)     lnk_store_run((s), &(typed)->op)
#define OP_FREE(typed)       lnk_store_op_free(&(typed)->op)

static bool str_is(const char *s, const char *want)
{
    return s && strcmp(s, want) == 0;
}

static int64_t add_user(struct lnk_store *s, const char *name)
{
    char email[128];
    snprintf(email, sizeof(email), "%s@example.com", name);
    struct lnk_op_user *op = OP_NEW(LNK_OP_USER_CREATE, user);
    op->in.username = name;
    op->in.email = email;
    int64_t id = OP_RUN(s, op) == LNK_OK ? op->out.id : -1;
    OP_FREE(op);
    return id;
}

/* A URL_CREATE op already run; the caller frees it. */
static struct lnk_op_url *create_url(struct lnk_store *s, int64_t user_id, const char *target,
                                     const char *code)
{
    struct lnk_op_url *op = OP_NEW(LNK_OP_URL_CREATE, url);
    op->in.user_id = user_id;
    op->in.original_url = target;
    op->in.title = "t";
    op->in.is_active = true;
    op->in.short_code = code;
    OP_RUN(s, op);
    return op;
}

static int64_t add_url(struct lnk_store *s, int64_t user_id, const char *target)
{
    struct lnk_op_url *op = create_url(s, user_id, target, NULL);
    int64_t id = op->op.rc == LNK_OK ? op->out.id : -1;
    OP_FREE(op);
    return id;
}

/* An EVENT_LIST op already run with these filters (0/NULL: any). */
static struct lnk_op_list *list_events(struct lnk_store *s, int64_t url_id, int64_t user_id,
                                       const char *type)
{
    struct lnk_op_list *op = OP_NEW(LNK_OP_EVENT_LIST, list);
    op->q.has_url_id = url_id != 0;
    op->q.url_id = url_id;
    op->q.has_user_id = user_id != 0;
    op->q.user_id = user_id;
    op->q.event_type = type;
    OP_RUN(s, op);
    return op;
}

/* Appends n clicks as one batch; returns how many were written, -1 when the
 * append failed. */
static int64_t append_clicks(struct lnk_store *s, const struct lnk_click *clicks, size_t n)
{
    struct lnk_op_clicks *op = OP_NEW(LNK_OP_CLICKS_APPEND, clicks);
    op->clicks = clicks;
    op->n = n;
    int64_t written = OP_RUN(s, op) == LNK_OK ? op->written : -1;
    OP_FREE(op);
    return written;
}

static size_t count_events(struct lnk_store *s, int64_t url_id, const char *type)
{
    struct lnk_op_list *op = list_events(s, url_id, 0, type);
    size_t n = op->op.rc == LNK_OK ? op->n_rows : (size_t)-1;
    OP_FREE(op);
    return n;
}

struct row_counts {
    int64_t users, urls, events, keys, retired_codes, clicks, domains, slots, slots_used;
};

static struct row_counts count_rows(struct lnk_store *s)
{
    struct lnk_op_counts *op = OP_NEW(LNK_OP_COUNT_ROWS, counts);
    CHECK(OP_RUN(s, op) == LNK_OK, "COUNT_ROWS succeeds");
    struct row_counts c = {op->users,  op->urls,    op->events, op->keys,      op->retired_codes,
                           op->clicks, op->domains, op->slots,  op->slots_used};
    OP_FREE(op);
    return c;
}

/* The rc of an op that takes only an id. */
static int op_rc(struct lnk_store *s, enum lnk_op_kind kind, int64_t id)
{
    struct lnk_store_op *op = lnk_store_op_new(kind);
    int64_t *in = NULL;
    switch (kind) {
    case LNK_OP_USER_GET:
    case LNK_OP_USER_DELETE:
        in = &LNK_OP_AS(op, user)->id;
        break;
    case LNK_OP_URL_GET:
    case LNK_OP_URL_DELETE:
        in = &LNK_OP_AS(op, url)->id;
        break;
    case LNK_OP_EVENT_GET:
        in = &LNK_OP_AS(op, event)->id;
        break;
    case LNK_OP_URL_STATS:
        in = &LNK_OP_AS(op, url_stats)->id;
        break;
    default:
        break;
    }
    if (!in) {
        lnk_store_op_free(op);
        fail_msg("op_rc: kind %d takes more than an id", (int)kind);
        return LNK_EINVAL;
    }
    *in = id;
    int rc = lnk_store_run(s, op);
    lnk_store_op_free(op);
    return rc;
}

/* Submits ops together (so they can share a batch) and waits for all. */
struct waitgroup {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    size_t pending;
};

static void on_done_waitgroup(struct lnk_store_op *op)
{
    struct waitgroup *wg = op->udata;
    pthread_mutex_lock(&wg->mu);
    wg->pending--;
    pthread_cond_signal(&wg->cv);
    pthread_mutex_unlock(&wg->mu);
}

static void submit_all(struct lnk_store *s, struct lnk_store_op **ops, size_t n)
{
    struct waitgroup wg = {.pending = n};
    pthread_mutex_init(&wg.mu, NULL);
    pthread_cond_init(&wg.cv, NULL);
    for (size_t i = 0; i < n; i++) {
        ops[i]->done = on_done_waitgroup;
        ops[i]->udata = &wg;
        lnk_store_submit(s, NULL, ops[i]);
    }
    pthread_mutex_lock(&wg.mu);
    while (wg.pending)
        pthread_cond_wait(&wg.cv, &wg.mu);
    pthread_mutex_unlock(&wg.mu);
    pthread_cond_destroy(&wg.cv);
    pthread_mutex_destroy(&wg.mu);
}

/* Where and how often an op's done ran. */
struct done_probe {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int calls;
    pthread_t thread;
    int calls_at_return; /* calls when lnk_store_submit returned */
};

static void probe_init(struct done_probe *p)
{
    memset(p, 0, sizeof(*p));
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, NULL);
}

static void probe_destroy(struct done_probe *p)
{
    pthread_cond_destroy(&p->cv);
    pthread_mutex_destroy(&p->mu);
}

static int probe_calls(struct done_probe *p)
{
    pthread_mutex_lock(&p->mu);
    int n = p->calls;
    pthread_mutex_unlock(&p->mu);
    return n;
}

static void record_done(struct lnk_store_op *op)
{
    struct done_probe *p = op->udata;
    pthread_mutex_lock(&p->mu);
    p->calls++;
    p->thread = pthread_self();
    pthread_cond_signal(&p->cv);
    pthread_mutex_unlock(&p->mu);
}

/* Submits op on conn (NULL: none) with p as its done, notes whether done had
 * run when submit returned, and waits for it. Returns op->rc. */
static int submit_probed(struct lnk_store *s, struct lnk_store_conn *conn, struct lnk_store_op *op,
                         struct done_probe *p)
{
    op->done = record_done;
    op->udata = p;
    lnk_store_submit(s, conn, op);
    p->calls_at_return = probe_calls(p);
    pthread_mutex_lock(&p->mu);
    while (p->calls == 0)
        pthread_cond_wait(&p->cv, &p->mu);
    pthread_mutex_unlock(&p->mu);
    return op->rc;
}

static bool is_generated_code(const char *c)
{
    if (strlen(c) != 6)
        return false;
    for (size_t i = 0; i < 6; i++) {
        char ch = c[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9')))
            return false;
    }
    return true;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* ---- errors first ------------------------------------------------------- */

/* A scheme no backend serves; postgres:// is one the store documents, so
 * it no longer stands for an unknown scheme. */
static void test_open_rejects_unsupported_scheme(void **state)
{
    (void)state;
    struct lnk_store *s = NULL;
    char err[256] = "";
    struct lnk_store_config cfg = {.url = "mysql://db/linkd", .synchronous_full = 1};
    CHECK(lnk_store_open(&cfg, &s, err, sizeof(err)) == LNK_EINVAL, "mysql:// is EINVAL");
    CHECK(s == NULL, "no store on failure");
    CHECK(strstr(err, "unsupported DATABASE_URL scheme") != NULL, "the message names the cause");
    cfg.url = "";
    CHECK(lnk_store_open(&cfg, &s, err, sizeof(err)) == LNK_EINVAL, "an empty url is EINVAL");
    CHECK(s == NULL, "no store on failure");
}

static void test_unknown_ids_return_not_found(void **state)
{
    struct fixture *f = *state;
    struct lnk_store *s = f->s;
    CHECK(op_rc(s, LNK_OP_USER_GET, 999) == LNK_ENOTFOUND, "USER_GET unknown");
    CHECK(op_rc(s, LNK_OP_USER_DELETE, 999) == LNK_ENOTFOUND, "USER_DELETE unknown");
    CHECK(op_rc(s, LNK_OP_URL_GET, 999) == LNK_ENOTFOUND, "URL_GET unknown");
    CHECK(op_rc(s, LNK_OP_URL_DELETE, 999) == LNK_ENOTFOUND, "URL_DELETE unknown");
    CHECK(op_rc(s, LNK_OP_EVENT_GET, 999) == LNK_ENOTFOUND, "EVENT_GET unknown");

    struct lnk_op_user *user = OP_NEW(LNK_OP_USER_UPDATE, user);
    user->id = 999;
    user->in.username = "x";
    CHECK(OP_RUN(s, user) == LNK_ENOTFOUND, "USER_UPDATE unknown");
    CHECK(str_is(user->op.err_field, "user"), "err_field user");
    OP_FREE(user);

    struct lnk_op_url *url = OP_NEW(LNK_OP_URL_UPDATE, url);
    url->id = 999;
    url->patch.set_title = true;
    CHECK(OP_RUN(s, url) == LNK_ENOTFOUND, "URL_UPDATE unknown");
    CHECK(str_is(url->op.err_field, "url"), "err_field url");
    OP_FREE(url);

    url = OP_NEW(LNK_OP_URL_BY_CODE, url);
    url->code = "nope42";
    CHECK(OP_RUN(s, url) == LNK_ENOTFOUND, "URL_BY_CODE unknown");
    OP_FREE(url);

    url = create_url(s, 999, "https://example.com/", NULL);
    CHECK(url->op.rc == LNK_ENOTFOUND, "URL_CREATE for an unknown user");
    CHECK(str_is(url->op.err_field, "user"), "err_field user");
    CHECK(url->out.id == 0 && url->out.short_code == NULL, "no row on failure");
    OP_FREE(url);

    struct lnk_op_event *ev = OP_NEW(LNK_OP_EVENT_CREATE, event);
    ev->in.url_id = 999;
    ev->in.event_type = "share";
    CHECK(OP_RUN(s, ev) == LNK_ENOTFOUND, "EVENT_CREATE for an unknown url");
    CHECK(str_is(ev->op.err_field, "url"), "err_field url");
    OP_FREE(ev);

    int64_t uid = add_user(s, "alice");
    int64_t url_id = add_url(s, uid, "https://example.com/a");
    ev = OP_NEW(LNK_OP_EVENT_CREATE, event);
    ev->in.url_id = url_id;
    ev->in.user_id = 999;
    ev->in.event_type = "share";
    CHECK(OP_RUN(s, ev) == LNK_ENOTFOUND, "EVENT_CREATE for an unknown user");
    CHECK(str_is(ev->op.err_field, "user"), "err_field user");
    OP_FREE(ev);

    struct row_counts c = count_rows(s);
    CHECK(c.users == 1 && c.urls == 1 && c.events == 1, "failed ops left no rows behind");
}

static void test_user_conflicts_name_the_field(void **state)
{
    struct fixture *f = *state;
    struct lnk_store *s = f->s;
    int64_t alice = add_user(s, "alice");
    int64_t bob = add_user(s, "bob");
    CHECK(alice > 0 && bob > 0 && alice != bob, "two users created");

    struct lnk_op_user *op = OP_NEW(LNK_OP_USER_CREATE, user);
    op->in.username = "alice";
    op->in.email = "other@example.com";
    CHECK(OP_RUN(s, op) == LNK_EEXISTS, "duplicate username is EEXISTS");
    CHECK(str_is(op->op.err_field, "username"), "err_field username");
    OP_FREE(op);

    op = OP_NEW(LNK_OP_USER_CREATE, user);
    op->in.username = "carol";
    op->in.email = "bob@example.com";
    CHECK(OP_RUN(s, op) == LNK_EEXISTS, "duplicate email is EEXISTS");
    CHECK(str_is(op->op.err_field, "email"), "err_field email");
    OP_FREE(op);

    op = OP_NEW(LNK_OP_USER_UPDATE, user);
    op->id = bob;
    op->in.email = "alice@example.com";
    CHECK(OP_RUN(s, op) == LNK_EEXISTS, "updating to a taken email is EEXISTS");
    CHECK(str_is(op->op.err_field, "email"), "err_field email");
    OP_FREE(op);

    op = OP_NEW(LNK_OP_USER_UPDATE, user);
    op->id = bob;
    op->in.username = "bob"; /* its own name is not a conflict */
    op->in.email = "robert@example.com";
    CHECK(OP_RUN(s, op) == LNK_OK, "update to own name and a new email");
    CHECK(op->out.id == bob && str_is(op->out.email, "robert@example.com"),
          "returns the updated row");
    CHECK(str_is(op->out.username, "bob"), "username unchanged");
    OP_FREE(op);

    op = OP_NEW(LNK_OP_USER_UPDATE, user);
    op->id = alice;
    CHECK(OP_RUN(s, op) == LNK_OK, "an empty update succeeds");
    CHECK(op->out.id == alice && str_is(op->out.username, "alice"), "unchanged row");
    OP_FREE(op);
}

static void test_custom_code_taken_is_exists(void **state)
{
    struct fixture *f = *state;
    int64_t uid = add_user(f->s, "alice");
    struct lnk_op_url *op = create_url(f->s, uid, "https://example.com/1", "my-code");
    CHECK(op->op.rc == LNK_OK, "custom code accepted");
    CHECK(str_is(op->out.short_code, "my-code"), "custom code kept");
    OP_FREE(op);

    op = create_url(f->s, uid, "https://example.com/2", "my-code");
    CHECK(op->op.rc == LNK_EEXISTS, "taken custom code is EEXISTS");
    CHECK(str_is(op->op.err_field, "short_code"), "err_field short_code");
    CHECK(op->out.id == 0, "no row on failure");
    OP_FREE(op);

    op = create_url(f->s, uid, "https://example.com/3", "My-Code");
    CHECK(op->op.rc == LNK_OK, "codes are case-sensitive");
    OP_FREE(op);

    op = OP_NEW(LNK_OP_URL_BY_CODE, url);
    op->code = "MY-CODE";
    CHECK(OP_RUN(f->s, op) == LNK_ENOTFOUND, "lookup is case-sensitive");
    OP_FREE(op);
}

static void test_url_delete_twice_is_idempotent(void **state)
{
    struct fixture *f = *state;
    int64_t uid = add_user(f->s, "alice");
    int64_t id = add_url(f->s, uid, "https://example.com/");
    struct lnk_op_url *op = OP_NEW(LNK_OP_URL_DELETE, url);
    op->id = id;
    CHECK(OP_RUN(f->s, op) == LNK_OK, "first delete");
    CHECK(op->out.id == id && !op->out.is_active, "returns the now inactive row");
    CHECK(OP_RUN(f->s, op) == LNK_OK, "second delete is OK too");
    OP_FREE(op);
    CHECK(count_events(f->s, id, "deleted") == 1, "exactly one deleted event");

    struct lnk_op_list *ev = list_events(f->s, id, 0, "deleted");
    CHECK(ev->n_rows == 1 && str_is(ev->events[0].details, "{\"reason\":\"user_requested\"}"),
          "reason");
    CHECK(ev->events[0].user_id == uid, "the event names the owner");
    OP_FREE(ev);

    op = OP_NEW(LNK_OP_URL_GET, url);
    op->id = id;
    CHECK(OP_RUN(f->s, op) == LNK_OK, "a soft-deleted url is still readable");
    CHECK(!op->out.is_active, "is_active false");
    OP_FREE(op);
}

static void test_user_delete_cascades_to_urls_and_events(void **state)
{
    struct fixture *f = *state;
    struct lnk_store *s = f->s;
    int64_t alice = add_user(s, "alice"), bob = add_user(s, "bob");
    int64_t a1 = add_url(s, alice, "https://a.example/1");
    add_url(s, alice, "https://a.example/2");
    int64_t b1 = add_url(s, bob, "https://b.example/1");

    /* an event by alice on bob's url goes too */
    struct lnk_op_event *ev = OP_NEW(LNK_OP_EVENT_CREATE, event);
    ev->in.url_id = b1;
    ev->in.user_id = alice;
    ev->in.event_type = "share";
    CHECK(OP_RUN(s, ev) == LNK_OK, "event by alice on bob's url");
    OP_FREE(ev);

    struct lnk_op_user *op = OP_NEW(LNK_OP_USER_DELETE, user);
    op->id = alice;
    CHECK(OP_RUN(s, op) == LNK_OK, "delete alice");
    CHECK(op->n_urls == 2 && op->urls[0].id == a1, "returns the urls it removed");
    OP_FREE(op);

    struct row_counts c = count_rows(s);
    CHECK(c.users == 1, "one user left");
    CHECK(c.urls == 1, "alice's urls are gone");
    CHECK(c.events == 1, "only bob's created event is left");
    CHECK(op_rc(s, LNK_OP_URL_GET, a1) == LNK_ENOTFOUND, "alice's url is gone");
    CHECK(op_rc(s, LNK_OP_USER_DELETE, alice) == LNK_ENOTFOUND, "deleting again is ENOTFOUND");
}

static void test_user_import_upserts_and_skips_conflicts(void **state)
{
    struct fixture *f = *state;
    struct lnk_store *s = f->s;
    int64_t existing = add_user(s, "taken");
    struct lnk_user users[] = {
        {.id = 10, .username = "u10", .email = "u10@x.io", .created_at = 1700000000},
        {.id = 11, .username = "taken", .email = "u11@x.io"}, /* name of another row */
        {.username = "fresh", .email = "fresh@x.io"},
        {.username = "dupmail", .email = "taken@example.com"}, /* email of another row */
        {.id = 10, .username = "u10b", .email = "u10@x.io"},   /* updates row 10 */
    };
    bool has_id[] = {true, true, false, false, true};
    struct lnk_op_rows *op = OP_NEW(LNK_OP_USER_IMPORT, rows);
    op->rows.n = 5;
    op->rows.users = users;
    op->rows.has_id = has_id;
    op->skipped = 4; /* rows the CSV parser already dropped */
    CHECK(OP_RUN(s, op) == LNK_OK, "import succeeds");
    CHECK(op->imported == 3, "three rows inserted or updated");
    CHECK(op->skipped == 4 + 2, "two conflicting rows added to the preset count");
    CHECK(op->results != NULL, "a result per row");
    CHECK(op->results[0].rc == LNK_OK && op->results[0].id == 10 && !op->results[0].existed,
          "row 10 inserted");
    CHECK(op->results[1].rc == LNK_EEXISTS && str_is(op->results[1].err_field, "username"),
          "a taken username names the field");
    CHECK(op->results[2].rc == LNK_OK && op->results[2].id > 0, "a row without an id gets one");
    CHECK(op->results[3].rc == LNK_EEXISTS && str_is(op->results[3].err_field, "email"),
          "a taken email names the field");
    CHECK(op->results[4].rc == LNK_OK && op->results[4].id == 10 && op->results[4].existed,
          "row 10 updated");
    OP_FREE(op);

    struct lnk_op_user *get = OP_NEW(LNK_OP_USER_GET, user);
    get->id = 10;
    CHECK(OP_RUN(s, get) == LNK_OK, "row 10 exists");
    CHECK(str_is(get->out.username, "u10b"), "upsert updated the name");
    CHECK(get->out.created_at == 1700000000, "created_at kept when the row has none");
    OP_FREE(get);

    get = OP_NEW(LNK_OP_USER_GET, user);
    get->id = existing;
    CHECK(OP_RUN(s, get) == LNK_OK && str_is(get->out.username, "taken"),
          "the conflicting row did not overwrite the other user");
    OP_FREE(get);
}

static void test_imports_are_strict_about_references(void **state)
{
    struct fixture *f = *state;
    struct lnk_url urls[] = {{.id = 5,
                              .user_id = 77,
                              .short_code = "abcDEF",
                              .original_url = "https://x.io",
                              .is_active = true}};
    struct lnk_op_rows *op = OP_NEW(LNK_OP_URL_IMPORT, rows);
    op->rows.n = 1;
    op->rows.urls = urls;
    CHECK(OP_RUN(f->s, op) == LNK_EINVAL, "url of an unknown user is EINVAL");
    CHECK(str_is(op->op.err_field, "user"), "err_field user");
    OP_FREE(op);

    struct lnk_event events[] = {{.id = 1, .url_id = 5, .event_type = "created"}};
    op = OP_NEW(LNK_OP_EVENT_IMPORT, rows);
    op->rows.n = 1;
    op->rows.events = events;
    CHECK(OP_RUN(f->s, op) == LNK_EINVAL, "event of an unknown url is EINVAL");
    CHECK(str_is(op->op.err_field, "url"), "err_field url");
    OP_FREE(op);

    struct row_counts c = count_rows(f->s);
    CHECK(c.urls == 0 && c.events == 0, "nothing was imported");
}

/* ---- normal paths ------------------------------------------------------- */

static void test_url_create_writes_created_event(void **state)
{
    struct fixture *f = *state;
    int64_t uid = add_user(f->s, "alice");
    struct lnk_op_url *a = create_url(f->s, uid, "https://example.com/same", NULL);
    struct lnk_op_url *b = create_url(f->s, uid, "https://example.com/same", NULL);
    CHECK(a->op.rc == LNK_OK && b->op.rc == LNK_OK, "two creates of one url succeed");
    CHECK(!a->reused && !b->reused, "nothing reused without reuse");
    const struct lnk_url *u = &a->out;
    CHECK(a->out.id != b->out.id, "two rows");
    CHECK(strcmp(a->out.short_code, b->out.short_code) != 0, "two codes");
    CHECK(u->created_at == u->updated_at && u->created_at > 0, "created_at == updated_at");
    CHECK(u->is_active && u->user_id == uid && str_is(u->title, "t"), "fields stored");

    struct lnk_op_list *ev = list_events(f->s, u->id, 0, NULL);
    CHECK(ev->op.rc == LNK_OK && ev->n_rows == 1, "one event for the url");
    char want[256];
    snprintf(want, sizeof(want), "{\"short_code\":\"%s\",\"original_url\":\"%s\"}", u->short_code,
             u->original_url);
    CHECK(str_is(ev->events[0].event_type, "created"), "a created event");
    CHECK(str_is(ev->events[0].details, want), "details hold short_code and original_url");
    CHECK(ev->events[0].user_id == uid, "event user is the owner");
    CHECK(ev->events[0].timestamp == u->created_at, "timestamp is created_at");
    OP_FREE(ev);

    struct lnk_op_url *op = OP_NEW(LNK_OP_URL_BY_CODE, url);
    op->code = b->out.short_code;
    CHECK(OP_RUN(f->s, op) == LNK_OK && op->out.id == b->out.id, "lookup by code");
    OP_FREE(op);
    OP_FREE(a);
    OP_FREE(b);
}

static void test_url_update_records_only_changed_fields(void **state)
{
    struct fixture *f = *state;
    struct lnk_store *s = f->s;
    int64_t uid = add_user(s, "alice");
    struct lnk_op_url *c = create_url(s, uid, "https://example.com/", NULL);
    int64_t id = c->out.id, updated_at = c->out.updated_at;
    OP_FREE(c);

    struct lnk_op_url *op = OP_NEW(LNK_OP_URL_UPDATE, url);
    op->id = id;
    op->patch.set_title = true;
    op->patch.title = "t"; /* same as before */
    op->patch.set_is_active = true;
    op->patch.is_active = true; /* same */
    op->patch.original_url = "https://example.com/";
    CHECK(OP_RUN(s, op) == LNK_OK, "no-op update succeeds");
    CHECK(op->out.id == id && op->out.updated_at == updated_at, "updated_at unchanged");
    CHECK(count_events(s, id, "updated") == 0, "no updated event");
    OP_FREE(op);

    op = OP_NEW(LNK_OP_URL_UPDATE, url);
    op->id = id;
    op->patch.set_title = true;
    op->patch.title = NULL;
    op->patch.set_is_active = true;
    op->patch.is_active = false;
    op->patch.original_url = "https://example.org/new";
    CHECK(OP_RUN(s, op) == LNK_OK, "update of three fields");
    CHECK(op->out.title == NULL, "title is null");
    CHECK(!op->out.is_active, "inactive");
    CHECK(str_is(op->out.original_url, "https://example.org/new"), "new target");
    CHECK(op->out.updated_at >= updated_at, "updated_at moved");
    OP_FREE(op);

    struct lnk_op_list *ev = list_events(s, id, 0, "updated");
    CHECK(ev->n_rows == 3, "one updated event per changed field");
    CHECK(str_is(ev->events[0].details, "{\"field\":\"title\",\"new_value\":null}"), "title null");
    CHECK(str_is(ev->events[1].details, "{\"field\":\"is_active\",\"new_value\":\"false\"}"),
          "is_active as a string");
    CHECK(str_is(ev->events[2].details,
                 "{\"field\":\"original_url\",\"new_value\":\"https://example.org/new\"}"),
          "original_url");
    OP_FREE(ev);
}

static void test_event_create_defaults(void **state)
{
    struct fixture *f = *state;
    int64_t uid = add_user(f->s, "alice"), other = add_user(f->s, "bob");
    int64_t url_id = add_url(f->s, uid, "https://example.com/");
    struct lnk_op_event *op = OP_NEW(LNK_OP_EVENT_CREATE, event);
    op->in.url_id = url_id;
    op->in.event_type = "share";
    CHECK(OP_RUN(f->s, op) == LNK_OK, "event created");
    CHECK(op->out.id > 0 && op->out.user_id == uid, "user defaults to the owner");
    CHECK(str_is(op->out.details, "{}"), "details default to {}");
    CHECK(op->out.timestamp > 0, "timestamp is now");
    OP_FREE(op);

    op = OP_NEW(LNK_OP_EVENT_CREATE, event);
    op->in.url_id = url_id;
    op->in.user_id = other;
    op->in.event_type = "share";
    op->in.details = "{\"via\":\"mail\"}";
    CHECK(OP_RUN(f->s, op) == LNK_OK, "event with a user and details");
    CHECK(op->out.user_id == other, "given user kept");
    CHECK(str_is(op->out.details, "{\"via\":\"mail\"}"), "details kept");
    OP_FREE(op);
}

static void test_clicks_append_drops_vanished_urls(void **state)
{
    struct fixture *f = *state;
    int64_t alice = add_user(f->s, "alice"), bob = add_user(f->s, "bob");
    int64_t keep = add_url(f->s, alice, "https://a.example/");
    int64_t gone = add_url(f->s, bob, "https://b.example/");
    CHECK(op_rc(f->s, LNK_OP_USER_DELETE, bob) == LNK_OK, "bob deleted");

    struct lnk_click clicks[] = {
        {.url_id = keep,
         .user_id = alice,
         .timestamp = 1700000000,
         .short_code = "aaaaaa",
         .user_agent = "curl/8",
         .referrer = ""},
        {.url_id = gone,
         .user_id = bob,
         .timestamp = 1700000001,
         .short_code = "bbbbbb",
         .user_agent = "curl/8",
         .referrer = "https://r.example/"},
    };
    int64_t written = append_clicks(f->s, clicks, 2);
    CHECK(written >= 0, "append succeeds");
    CHECK(written == 1, "one click written, one dropped");

    struct lnk_op_list *ev = list_events(f->s, keep, 0, "click");
    CHECK(ev->n_rows == 1, "the click is listed");
    CHECK(str_is(ev->events[0].details,
                 "{\"short_code\":\"aaaaaa\",\"user_agent\":\"curl/8\",\"referrer\":\"\"}"),
          "click details");
    CHECK(ev->events[0].user_id == alice && ev->events[0].timestamp == 1700000000,
          "owner and timestamp");
    OP_FREE(ev);
}

/* A batch larger than one INSERT (256 rows), urls interleaved, one of them
 * gone: the clicks of the others are written in the order they came (their
 * timestamps rise with it), each with its url's owner whatever the record
 * says, and counted once. */
static void test_clicks_append_keeps_order_across_chunks(void **state)
{
    struct fixture *f = *state;
    int64_t alice = add_user(f->s, "alice"), bob = add_user(f->s, "bob");
    int64_t carol = add_user(f->s, "carol");
    int64_t a = add_url(f->s, alice, "https://a.example/");
    int64_t gone = add_url(f->s, bob, "https://g.example/");
    int64_t b = add_url(f->s, carol, "https://b.example/");
    CHECK(op_rc(f->s, LNK_OP_USER_DELETE, bob) == LNK_OK, "bob and his url deleted");

    enum { N = 600 };
    static struct lnk_click clicks[N];
    const int64_t urls[3] = {a, gone, b};
    for (int i = 0; i < N; i++)
        clicks[i] = (struct lnk_click){.url_id = urls[i % 3],
                                       .user_id = 0, /* the owner comes from the url */
                                       .timestamp = 1700000000 + i,
                                       .short_code = "c"};
    CHECK(append_clicks(f->s, clicks, N) == 2 * N / 3,
          "the clicks of the two urls left are written");

    struct lnk_op_list *ev = list_events(f->s, 0, 0, "click");
    CHECK(ev->op.rc == LNK_OK && ev->n_rows == 2 * N / 3, "and listed");
    static const char want[] = "{\"short_code\":\"c\",\"user_agent\":\"\",\"referrer\":\"\"}";
    bool in_order = true, owners = true, details = true;
    for (size_t i = 0; i < ev->n_rows; i++) {
        const struct lnk_event *e = &ev->events[i];
        int src = (int)(i / 2) * 3 + (i % 2 ? 2 : 0); /* skipping every url `gone` */
        in_order = in_order && e->timestamp == 1700000000 + src && e->url_id == urls[src % 3];
        owners = owners && e->user_id == (e->url_id == a ? alice : carol);
        if (details && !str_is(e->details, want))
            print_error("details of event %lld: %s\n", (long long)e->id, e->details);
        details = details && str_is(e->details, want);
    }
    OP_FREE(ev);

    struct lnk_op_url_stats *op = OP_NEW(LNK_OP_URL_STATS, url_stats);
    op->id = b;
    int rc = OP_RUN(f->s, op);
    int64_t b_clicks = op->clicks;
    OP_FREE(op);
    CHECK(in_order, "in the order they came");
    CHECK(owners, "each with its url's owner");
    CHECK(rc == LNK_OK && b_clicks == N / 3, "b's rollup counts its own");
    CHECK(details, "and its details (absent user agent and referrer as \"\")");
}

/* Within a batch, clicks go in by timestamp, then owner, then url, then
 * arrival: event ids follow time even when the workers' queues hand clicks
 * over out of time order, and the clicks of one second are grouped by the
 * keys of the events indexes. A click without a timestamp gets the write's
 * time, later than all of these. */
static void test_clicks_append_orders_by_time_owner_url(void **state)
{
    struct fixture *f = *state;
    int64_t alice = add_user(f->s, "alice"), bob = add_user(f->s, "bob");
    int64_t b1 = add_url(f->s, bob, "https://b1.example/");
    int64_t a1 = add_url(f->s, alice, "https://a1.example/");
    int64_t a2 = add_url(f->s, alice, "https://a2.example/");
    CHECK(alice < bob && b1 < a1 && a1 < a2, "ids in creation order");
    /* in arrival order; the short code names the arrival */
    struct lnk_click clicks[] = {
        {.url_id = b1, .timestamp = 1700000001, .short_code = "c0"},
        {.url_id = a2, .timestamp = 1700000001, .short_code = "c1"},
        {.url_id = a1, .timestamp = 0, .short_code = "c2"},
        {.url_id = a1, .timestamp = 1700000001, .short_code = "c3"},
        {.url_id = a2, .timestamp = 1700000001, .short_code = "c4"},
        {.url_id = b1, .timestamp = 1700000000, .short_code = "c5"},
        {.url_id = a2, .timestamp = 1700000001, .short_code = "c6"},
        {.url_id = a2, .timestamp = 1700000000, .short_code = "c7"},
        {.url_id = a2, .timestamp = 1700000001, .short_code = "c8"},
    };
    enum { N = sizeof(clicks) / sizeof(clicks[0]) };
    CHECK(append_clicks(f->s, clicks, N) == N, "every click written");

    static const char *const want[N] = {"c7", "c5", "c3", "c1", "c4", "c6", "c8", "c0", "c2"};
    struct lnk_op_list *ev = list_events(f->s, 0, 0, "click");
    CHECK(ev->op.rc == LNK_OK && ev->n_rows == N, "every click listed");
    bool ordered = true;
    for (size_t i = 0; i < ev->n_rows; i++) {
        char code[48];
        snprintf(code, sizeof(code), "{\"short_code\":\"%s\",", want[i]);
        ordered = ordered && strncmp(ev->events[i].details, code, strlen(code)) == 0;
        ordered = ordered && (i == 0 || ev->events[i - 1].id < ev->events[i].id);
    }
    CHECK(ordered, "by id: time, then owner, then url, then arrival");
    CHECK(ev->events[N - 1].timestamp > 1700000001, "the click without a time got the write's");
    OP_FREE(ev);
}

/* The same order over a batch of several INSERTs, timestamps running
 * backwards in blocks and four urls of two owners interleaved: listed by id,
 * every pair of neighbours is in (time, owner, url, arrival) order. */
static void test_clicks_append_orders_across_chunks(void **state)
{
    struct fixture *f = *state;
    int64_t owners[2] = {add_user(f->s, "alice"), add_user(f->s, "bob")};
    int64_t urls[4];
    for (int i = 0; i < 4; i++)
        urls[i] = add_url(f->s, owners[i % 2], "https://example.com/");
    enum { N = 700 };
    static struct lnk_click clicks[N];
    static char codes[N][8];
    for (int i = 0; i < N; i++) {
        snprintf(codes[i], sizeof(codes[i]), "c%03d", i);
        clicks[i] = (struct lnk_click){.url_id = urls[(i * 7) % 4],
                                       .timestamp = 1700000000 + (N - i) / 50,
                                       .short_code = codes[i]};
    }
    CHECK(append_clicks(f->s, clicks, N) == N, "every click written");

    struct lnk_op_list *ev = list_events(f->s, 0, 0, "click");
    CHECK(ev->op.rc == LNK_OK && ev->n_rows == N, "every click listed");
    bool ordered = true;
    for (size_t i = 1; i < ev->n_rows && ordered; i++) {
        const struct lnk_event *x = &ev->events[i - 1], *y = &ev->events[i];
        int ax = atoi(strstr(x->details, "\"c") + 2), ay = atoi(strstr(y->details, "\"c") + 2);
        ordered =
            x->id < y->id && (x->timestamp < y->timestamp ||
                              (x->timestamp == y->timestamp &&
                               (x->user_id < y->user_id ||
                                (x->user_id == y->user_id &&
                                 (x->url_id < y->url_id || (x->url_id == y->url_id && ax < ay))))));
    }
    CHECK(ordered, "neighbours in (time, owner, url, arrival) order");
    OP_FREE(ev);
}

static void test_url_stats_of_an_unknown_url_is_not_found(void **state)
{
    struct fixture *f = *state;
    struct lnk_op_url_stats *op = OP_NEW(LNK_OP_URL_STATS, url_stats);
    op->id = 999;
    int rc = OP_RUN(f->s, op);
    bool named = str_is(op->op.err_field, "url");
    int64_t url_id = op->url.id;
    OP_FREE(op);
    if (rc != LNK_ENOTFOUND)
        print_error("URL_STATS of id 999: rc %d (%s), err_field url: %d, url.id %lld\n", rc,
                    lnk_strerror(rc), named, (long long)url_id);
    CHECK(rc == LNK_ENOTFOUND, "stats of an unknown url are not found");
    CHECK(named, "err_field url");
}

static void test_clicks_roll_up_per_link_and_day(void **state)
{
    struct fixture *f = *state;
    int64_t alice = add_user(f->s, "alice");
    int64_t a = add_url(f->s, alice, "https://a.example/");
    int64_t b = add_url(f->s, alice, "https://b.example/");
    /* day 19675 = 2023-11-14; two clicks that day and one the next for a */
    struct lnk_click clicks[] = {
        {.url_id = a, .user_id = alice, .timestamp = 19675 * 86400 + 10, .short_code = "x"},
        {.url_id = a, .user_id = alice, .timestamp = 19675 * 86400 + 86399, .short_code = "x"},
        {.url_id = a, .user_id = alice, .timestamp = 19676 * 86400, .short_code = "x"},
    };
    CHECK(append_clicks(f->s, clicks, 3) >= 0, "clicks appended");

    struct lnk_op_url_stats *op = OP_NEW(LNK_OP_URL_STATS, url_stats);
    op->id = a;
    CHECK(OP_RUN(f->s, op) == LNK_OK, "stats read");
    CHECK(op->url.id == a && str_is(op->url.original_url, "https://a.example/"),
          "with the url itself");
    CHECK(op->clicks == 3, "three clicks in total");
    CHECK(op->last_click_at == 19676 * 86400, "the latest click time");
    CHECK(op->n_days == 2 && op->days[0].day == 19675 && op->days[0].clicks == 2 &&
              op->days[1].day == 19676 && op->days[1].clicks == 1,
          "clicks per UTC day, oldest first");
    OP_FREE(op);

    op = OP_NEW(LNK_OP_URL_STATS, url_stats);
    op->id = b;
    CHECK(OP_RUN(f->s, op) == LNK_OK && op->clicks == 0 && op->n_days == 0 &&
              op->last_click_at == 0,
          "a link never clicked has zero clicks and no days");
    OP_FREE(op);
}

/* Imports event rows (upserts by id); the op's rc. */
static int import_events(struct lnk_store *s, struct lnk_event *events, size_t n)
{
    struct lnk_op_rows *op = OP_NEW(LNK_OP_EVENT_IMPORT, rows);
    op->rows.n = n;
    op->rows.events = events;
    int rc = OP_RUN(s, op);
    if (rc != LNK_OK)
        print_error("EVENT_IMPORT of %zu rows: %s (%s)\n", n, lnk_strerror(rc),
                    op->op.err_field ? op->op.err_field : "-");
    OP_FREE(op);
    return rc;
}

/* True when URL_STATS of url_id agree with its click events counted here:
 * the total, the latest click, and the clicks of each UTC day. */
static bool rollups_match_events(struct lnk_store *s, int64_t url_id)
{
    struct lnk_op_list *ev = list_events(s, url_id, 0, "click");
    struct lnk_op_url_stats *st = OP_NEW(LNK_OP_URL_STATS, url_stats);
    st->id = url_id;
    bool ok = ev->op.rc == LNK_OK && OP_RUN(s, st) == LNK_OK;
    int64_t last = 0;
    for (size_t i = 0; ok && i < ev->n_rows; i++)
        last = ev->events[i].timestamp > last ? ev->events[i].timestamp : last;
    ok = ok && st->clicks == (int64_t)ev->n_rows && st->last_click_at == last;
    int64_t in_days = 0;
    for (size_t d = 0; ok && d < st->n_days; d++) {
        int64_t n = 0;
        for (size_t i = 0; i < ev->n_rows; i++)
            n += ev->events[i].timestamp / 86400 == st->days[d].day;
        ok = n == st->days[d].clicks && n > 0 && (d == 0 || st->days[d - 1].day < st->days[d].day);
        in_days += n;
    }
    ok = ok && in_days == (int64_t)ev->n_rows;
    if (!ok)
        print_error("url %lld: rollups say %lld clicks (last %lld, %zu days), events %zu\n",
                    (long long)url_id, (long long)st->clicks, (long long)st->last_click_at,
                    st->n_days, ev->n_rows);
    OP_FREE(st);
    OP_FREE(ev);
    return ok;
}

/* The clicks of url_id from its rollups (URL_STATS), and its days. */
static int64_t rollup_clicks(struct lnk_store *s, int64_t url_id, size_t *n_days, int64_t *last)
{
    struct lnk_op_url_stats *st = OP_NEW(LNK_OP_URL_STATS, url_stats);
    st->id = url_id;
    int64_t clicks = OP_RUN(s, st) == LNK_OK ? st->clicks : -1;
    if (n_days)
        *n_days = st->n_days;
    if (last)
        *last = st->last_click_at;
    OP_FREE(st);
    return clicks;
}

/* The clicks STATS counts, from the rollups of every url. */
static int64_t total_clicks(struct lnk_store *s)
{
    struct lnk_op_stats *op = OP_NEW(LNK_OP_STATS, stats);
    int64_t n = -1;
    if (OP_RUN(s, op) == LNK_OK)
        for (size_t i = 0; i < op->n_types; i++)
            if (str_is(op->types[i].event_type, "click"))
                n = op->types[i].n;
    OP_FREE(op);
    return n;
}

#define DAY(d, s) ((int64_t)(d)*86400 + (s))

static void test_event_import_keeps_click_rollups_exact(void **state)
{
    struct fixture *f = *state;
    struct lnk_store *s = f->s;
    int64_t alice = add_user(s, "alice");
    int64_t a = add_url(s, alice, "https://a.example/"),
            b = add_url(s, alice, "https://b.example/");
    size_t days = 0;
    int64_t last = 0;
    /* a fresh import: three clicks on a (two days), one on b, a share on a;
     * row 101 twice in the same op */
    struct lnk_event rows[] = {
        {.id = 100, .url_id = a, .event_type = "click", .timestamp = DAY(19675, 10)},
        {.id = 101, .url_id = a, .event_type = "click", .timestamp = DAY(19675, 20)},
        {.id = 102, .url_id = a, .event_type = "click", .timestamp = DAY(19676, 30)},
        {.id = 103, .url_id = b, .event_type = "click", .timestamp = DAY(19675, 40)},
        {.id = 104, .url_id = a, .user_id = alice, .event_type = "share", .timestamp = 50},
        {.id = 101, .url_id = a, .event_type = "click", .timestamp = DAY(19675, 20)},
    };
    CHECK(import_events(s, rows, 6) == LNK_OK, "a fresh import of clicks");
    CHECK(rollup_clicks(s, a, &days, &last) == 3 && days == 2 && last == DAY(19676, 30),
          "three clicks of a on two days, the latest one last");
    CHECK(rollup_clicks(s, b, &days, NULL) == 1 && days == 1, "one click of b");
    CHECK(rollups_match_events(s, a) && rollups_match_events(s, b), "rollups match the events");
    CHECK(total_clicks(s) == 4, "STATS counts four clicks");

    CHECK(import_events(s, rows, 6) == LNK_OK && import_events(s, rows, 6) == LNK_OK,
          "the same rows imported twice more");
    CHECK(rollup_clicks(s, a, NULL, NULL) == 3 && rollup_clicks(s, b, NULL, NULL) == 1,
          "re-importing the same rows changes no count");
    CHECK(total_clicks(s) == 4 && count_rows(s).events == 2 + 5, "nor the rows");

    struct lnk_event moved = rows[1];
    moved.url_id = b;
    CHECK(import_events(s, &moved, 1) == LNK_OK, "click 101 moved to b");
    CHECK(rollup_clicks(s, a, NULL, NULL) == 2 && rollup_clicks(s, b, &days, NULL) == 2 &&
              days == 1,
          "a lost the click and b gained it, on its day");
    CHECK(rollups_match_events(s, a) && rollups_match_events(s, b), "rollups match after a move");

    struct lnk_event later = rows[0];
    later.timestamp = DAY(19680, 5);
    CHECK(import_events(s, &later, 1) == LNK_OK, "click 100 moved four days on");
    CHECK(rollup_clicks(s, a, &days, &last) == 2 && days == 2 && last == DAY(19680, 5),
          "a's clicks on days 19676 and 19680, the latest the moved one");
    later.timestamp = DAY(19670, 5);
    CHECK(import_events(s, &later, 1) == LNK_OK, "click 100 moved back before the others");
    CHECK(rollup_clicks(s, a, &days, &last) == 2 && days == 2 && last == DAY(19676, 30),
          "the latest click time falls back to click 102");
    CHECK(rollups_match_events(s, a), "rollups match after a change of day");

    struct lnk_event retyped[] = {rows[2], rows[4]};
    retyped[0].event_type = "share"; /* click 102 is no click any more */
    retyped[1].event_type = "click"; /* share 104 becomes one */
    retyped[1].timestamp = DAY(19677, 0);
    CHECK(import_events(s, retyped, 2) == LNK_OK, "a click and a share swap types");
    CHECK(rollup_clicks(s, a, &days, &last) == 2 && last == DAY(19677, 0),
          "a lost click 102 and gained click 104");
    CHECK(rollups_match_events(s, a) && rollups_match_events(s, b), "rollups match after types");

    /* several changes to the same rows within one op */
    struct lnk_event mixed[] = {
        {.id = 200, .url_id = b, .event_type = "click", .timestamp = DAY(19690, 1)},
        {.id = 200, .url_id = a, .event_type = "click", .timestamp = DAY(19691, 1)},
        {.id = 201, .url_id = a, .event_type = "click", .timestamp = DAY(19691, 2)},
        {.id = 103, .url_id = b, .event_type = "view", .timestamp = DAY(19675, 40)},
        {.id = 202, .url_id = b, .event_type = "click", .timestamp = DAY(19692, 1)},
    };
    CHECK(import_events(s, mixed, 5) == LNK_OK, "moves, new clicks and a retype in one op");
    CHECK(rollups_match_events(s, a) && rollups_match_events(s, b), "rollups match after all");
    CHECK(rollup_clicks(s, a, NULL, NULL) + rollup_clicks(s, b, NULL, NULL) == total_clicks(s) &&
              total_clicks(s) == 6,
          "six clicks in all");
}

/* ---- imports in sets of many rows (ADR 0020) ------------------------------ */

#define SET_USERS  40 /* two ops of 20 rows: each goes in as one set */
#define SET_URLS   40
#define SET_EVENTS 300 /* three ops of 100 rows */

struct set_rows {
    struct lnk_user users[SET_USERS];
    struct lnk_url urls[SET_URLS];
    struct lnk_event events[SET_EVENTS];
    char names[SET_USERS][16], mails[SET_USERS][32], codes[SET_URLS][8], dests[SET_URLS][32];
};

/* Users 1001.., urls 2001.. (of user 1001 + i % 7, half of them with no
 * title), events 3001..: clicks of url 2001 + i % 9 over three days, every
 * tenth a share by a user; every third details with a backslash and a tab. */
static void make_set_rows(struct set_rows *r)
{
    memset(r, 0, sizeof(*r));
    for (int i = 0; i < SET_USERS; i++) {
        snprintf(r->names[i], sizeof(r->names[i]), "set%02d", i);
        snprintf(r->mails[i], sizeof(r->mails[i]), "set%02d@x.io", i);
        r->users[i] = (struct lnk_user){1001 + i, r->names[i], r->mails[i], 1700000000 + i};
    }
    for (int i = 0; i < SET_URLS; i++) {
        snprintf(r->codes[i], sizeof(r->codes[i]), "St%04d", i);
        snprintf(r->dests[i], sizeof(r->dests[i]), "https://set.example/%d", i);
        r->urls[i] = (struct lnk_url){.id = 2001 + i,
                                      .user_id = 1001 + i % 7,
                                      .short_code = r->codes[i],
                                      .original_url = r->dests[i],
                                      .title = i % 2 ? "Set \\ title" : NULL,
                                      .is_active = i % 3 != 0,
                                      .created_at = 1700000100 + i,
                                      .updated_at = 1700000200 + i};
    }
    for (int i = 0; i < SET_EVENTS; i++) {
        bool share = i % 10 == 9;
        r->events[i] = (struct lnk_event){.id = 3001 + i,
                                          .url_id = 2001 + i % 9,
                                          .user_id = share ? 1001 + (i % 9) % 7 : 0,
                                          .event_type = share ? "share" : "click",
                                          .timestamp = DAY(19700 + i % 3, i),
                                          .details = i % 3 == 1 ? "{\"r\":\"a\\\\b\tc\"}" : NULL};
    }
}

/* Runs an import op of kind over rows [from, from + n); its rc. */
static int import_chunk(struct lnk_store *s, enum lnk_op_kind kind, struct set_rows *r, size_t from,
                        size_t n, struct lnk_op_rows **keep)
{
    struct lnk_op_rows *op = OP_NEW(kind, rows);
    op->rows.n = n;
    op->rows.users = kind == LNK_OP_USER_IMPORT ? r->users + from : NULL;
    op->rows.urls = kind == LNK_OP_URL_IMPORT ? r->urls + from : NULL;
    op->rows.events = kind == LNK_OP_EVENT_IMPORT ? r->events + from : NULL;
    int rc = OP_RUN(s, op);
    if (keep)
        *keep = op;
    else
        OP_FREE(op);
    return rc;
}

/* Every row of r in chunks: users and urls in two, events in three. */
static bool import_set_rows(struct lnk_store *s, struct set_rows *r)
{
    bool ok = true;
    for (size_t i = 0; i < 2; i++)
        ok = ok && import_chunk(s, LNK_OP_USER_IMPORT, r, i * 20, 20, NULL) == LNK_OK;
    for (size_t i = 0; i < 2; i++)
        ok = ok && import_chunk(s, LNK_OP_URL_IMPORT, r, i * 20, 20, NULL) == LNK_OK;
    for (size_t i = 0; i < 3; i++)
        ok = ok && import_chunk(s, LNK_OP_EVENT_IMPORT, r, i * 100, 100, NULL) == LNK_OK;
    return ok;
}

static bool all_rollups_match(struct lnk_store *s)
{
    bool ok = true;
    for (int64_t u = 2001; u < 2001 + SET_URLS; u++)
        ok = ok && rollups_match_events(s, u);
    return ok;
}

static void test_import_sets_upsert_and_keep_rollups_exact(void **state)
{
    struct fixture *f = *state;
    struct lnk_store *s = f->s;
    static struct set_rows r;
    make_set_rows(&r);
    int64_t clicks = SET_EVENTS - SET_EVENTS / 10;
    CHECK(import_set_rows(s, &r), "users, urls and events imported in several chunks");
    struct row_counts c = count_rows(s);
    CHECK(c.users == SET_USERS && c.urls == SET_URLS && c.events == SET_EVENTS,
          "every row is there");
    CHECK(total_clicks(s) == clicks && all_rollups_match(s), "rollups match the clicks");

    struct lnk_op_url *u = OP_NEW(LNK_OP_URL_GET, url);
    u->id = 2002;
    CHECK(OP_RUN(s, u) == LNK_OK && str_is(u->out.short_code, "St0001") &&
              str_is(u->out.title, "Set \\ title") && u->out.is_active && u->out.user_id == 1002 &&
              u->out.created_at == 1700000101 && u->out.updated_at == 1700000201,
          "an imported url keeps every field");
    OP_FREE(u);
    u = OP_NEW(LNK_OP_URL_GET, url);
    u->id = 2001;
    CHECK(OP_RUN(s, u) == LNK_OK && u->out.title == NULL && !u->out.is_active,
          "no title stays none");
    OP_FREE(u);
    struct lnk_op_event *e = OP_NEW(LNK_OP_EVENT_GET, event);
    e->id = 3002;
    CHECK(OP_RUN(s, e) == LNK_OK && str_is(e->out.details, "{\"r\":\"a\\\\b\tc\"}") &&
              e->out.user_id == 0 && e->out.timestamp == DAY(19701, 1),
          "an event keeps its details byte for byte");
    OP_FREE(e);
    e = OP_NEW(LNK_OP_EVENT_GET, event);
    e->id = 3010;
    CHECK(OP_RUN(s, e) == LNK_OK && str_is(e->out.details, "{}") && e->out.user_id == 1001 &&
              str_is(e->out.event_type, "share"),
          "no details is {}, a user is kept");
    OP_FREE(e);

    /* sequences moved past the imported ids */
    int64_t next_user = add_user(s, "after-set");
    int64_t next_url = add_url(s, next_user, "https://after.example/");
    CHECK(next_user > 1000 + SET_USERS && next_url > 2000 + SET_URLS,
          "new ids come after the imported ones");
    c = count_rows(s);

    /* the same rows again: no count moves; users report they existed */
    struct lnk_op_rows *op = NULL;
    CHECK(import_set_rows(s, &r), "the same chunks imported again");
    CHECK(import_chunk(s, LNK_OP_USER_IMPORT, &r, 0, 20, &op) == LNK_OK && op->imported == 20 &&
              op->skipped == 0,
          "a users chunk again");
    bool existed = true;
    for (size_t i = 0; i < 20; i++)
        existed = existed && op->results[i].rc == LNK_OK && op->results[i].existed &&
                  op->results[i].id == 1001 + (int64_t)i;
    CHECK(existed, "every row of it existed, with its id");
    OP_FREE(op);
    struct row_counts again = count_rows(s);
    CHECK(again.users == c.users && again.urls == c.urls && again.events == c.events &&
              total_clicks(s) == clicks,
          "re-importing changes no count");
    CHECK(all_rollups_match(s), "rollups still match");

    /* a chunk that moves clicks between urls and days, retypes one, adds one */
    static struct lnk_event moved[100];
    memcpy(moved, r.events + 100, sizeof(moved));
    moved[0].url_id = 2030;             /* click 3101: another url */
    moved[1].timestamp = DAY(19710, 0); /* click 3102: another day */
    moved[2].event_type = "view";       /* click 3103: no click any more */
    moved[9].event_type = "click";      /* share 3110 becomes a click */
    struct lnk_op_rows *mv = OP_NEW(LNK_OP_EVENT_IMPORT, rows);
    mv->rows.n = 100;
    mv->rows.events = moved;
    CHECK(OP_RUN(s, mv) == LNK_OK && mv->imported == 100, "a chunk of changed events");
    OP_FREE(mv);
    CHECK(total_clicks(s) == clicks && all_rollups_match(s),
          "rollups exact after clicks moved between urls and days");
    CHECK(rollup_clicks(s, 2030, NULL, NULL) == 1, "the moved click counts on its new url");
}

static void test_import_sets_refuse_as_rows_do(void **state)
{
    struct fixture *f = *state;
    struct lnk_store *s = f->s;
    static struct set_rows r;
    make_set_rows(&r);
    CHECK(import_set_rows(s, &r), "the rows imported");
    struct row_counts c = count_rows(s);

    /* one event of a chunk names a url that does not exist */
    static struct lnk_event bad[100];
    memcpy(bad, r.events, sizeof(bad));
    for (size_t i = 0; i < 100; i++)
        bad[i].id += 10000;
    bad[57].url_id = 999999;
    struct lnk_op_rows *op = OP_NEW(LNK_OP_EVENT_IMPORT, rows);
    op->rows.n = 100;
    op->rows.events = bad;
    CHECK(OP_RUN(s, op) == LNK_EINVAL && str_is(op->op.err_field, "url"),
          "an event of an unknown url fails the chunk, naming the url");
    OP_FREE(op);
    CHECK(count_rows(s).events == c.events && total_clicks(s) == c.clicks,
          "nothing of that chunk was written");

    /* one url of a chunk takes a code another url holds */
    static struct lnk_url urls[20];
    static char codes[20][8];
    for (size_t i = 0; i < 20; i++) {
        urls[i] = r.urls[i];
        urls[i].id = 5001 + (int64_t)i;
        snprintf(codes[i], sizeof(codes[i]), "Nw%04zu", i);
        urls[i].short_code = codes[i];
    }
    urls[11].short_code = "St0003"; /* url 2004's */
    op = OP_NEW(LNK_OP_URL_IMPORT, rows);
    op->rows.n = 20;
    op->rows.urls = urls;
    CHECK(OP_RUN(s, op) == LNK_EEXISTS && str_is(op->op.err_field, "short_code"),
          "a code of another url fails the chunk, naming the code");
    OP_FREE(op);
    urls[11].short_code = codes[11];
    urls[12].user_id = 424242;
    op = OP_NEW(LNK_OP_URL_IMPORT, rows);
    op->rows.n = 20;
    op->rows.urls = urls;
    CHECK(OP_RUN(s, op) == LNK_EINVAL && str_is(op->op.err_field, "user"),
          "a url of an unknown user fails the chunk, naming the user");
    OP_FREE(op);
    CHECK(count_rows(s).urls == c.urls, "nothing of those chunks was written");

    /* one user of a chunk takes the username of another, one the email */
    static struct lnk_user users[20];
    static char names[20][16], mails[20][32];
    for (size_t i = 0; i < 20; i++) {
        snprintf(names[i], sizeof(names[i]), "new%02zu", i);
        snprintf(mails[i], sizeof(mails[i]), "new%02zu@x.io", i);
        users[i] = (struct lnk_user){4001 + (int64_t)i, names[i], mails[i], 1700000000};
    }
    users[4].username = "set07";
    users[9].email = "set08@x.io";
    op = OP_NEW(LNK_OP_USER_IMPORT, rows);
    op->rows.n = 20;
    op->rows.users = users;
    CHECK(OP_RUN(s, op) == LNK_OK && op->imported == 18 && op->skipped == 2,
          "the chunk imports every other row");
    bool others = true;
    for (size_t i = 0; i < 20; i++)
        others = others && (i == 4 || i == 9 ||
                            (op->results[i].rc == LNK_OK &&
                             op->results[i].id == 4001 + (int64_t)i && !op->results[i].existed));
    CHECK(others, "every other row inserted with its id");
    CHECK(op->results[4].rc == LNK_EEXISTS && str_is(op->results[4].err_field, "username"),
          "the taken username is reported on its row");
    CHECK(op->results[9].rc == LNK_EEXISTS && str_is(op->results[9].err_field, "email"),
          "the taken email is reported on its row");
    OP_FREE(op);
    CHECK(count_rows(s).users == c.users + 18, "eighteen users more");

    /* an imported url changes its code: the old one is retired */
    static struct lnk_url recoded[20];
    static char recodes[20][8];
    for (size_t i = 0; i < 20; i++) {
        recoded[i] = r.urls[i];
        snprintf(recodes[i], sizeof(recodes[i]), "Rc%04zu", i);
        recoded[i].short_code = recodes[i];
    }
    op = OP_NEW(LNK_OP_URL_IMPORT, rows);
    op->rows.n = 20;
    op->rows.urls = recoded;
    CHECK(OP_RUN(s, op) == LNK_OK, "twenty urls get new codes");
    OP_FREE(op);
    CHECK(count_rows(s).retired_codes == c.retired_codes + 20, "their old codes are retired");
    struct lnk_op_url *u = create_url(s, 1001, "https://reuse.example/", "St0000");
    CHECK(u->op.rc == LNK_EEXISTS, "a retired code is not handed out again");
    OP_FREE(u);
}

/* ---- what `linkd copy` moves: keys with their hashes, retired codes ----- */

#define HASH_A "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define HASH_B "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
#define HASH_C "cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc"

static const char KEY_HASH[] = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";

static int create_key(struct lnk_store *s, const char *name, int64_t user_id, const char *hash)
{
    struct lnk_op_key *op = OP_NEW(LNK_OP_KEY_CREATE, key);
    op->in = (struct lnk_api_key){
        .name = name, .prefix = "lnk_new0", .admin = user_id == 0, .user_id = user_id};
    op->key_hash = hash;
    int rc = OP_RUN(s, op);
    int64_t id = rc == LNK_OK ? op->out.id : -1;
    OP_FREE(op);
    return (int)id;
}

static int import_keys(struct lnk_store *s, struct lnk_api_key *keys, const char *const *hashes,
                       size_t n, const char **err_field)
{
    struct lnk_op_rows *op = OP_NEW(LNK_OP_KEY_IMPORT, rows);
    op->rows.n = n;
    op->rows.keys = keys;
    op->rows.key_hashes = hashes;
    int rc = OP_RUN(s, op);
    if (err_field)
        *err_field = op->op.err_field;
    CHECK(rc != LNK_OK || op->imported == (int64_t)n, "every key counted");
    OP_FREE(op);
    return rc;
}

/* The key whose hash is hash, if active (KEY_AUTH): its id, or 0. */
static int64_t auth_key(struct lnk_store *s, const char *hash)
{
    struct lnk_op_key *op = OP_NEW(LNK_OP_KEY_AUTH, key);
    op->key_hash = hash;
    int64_t id = OP_RUN(s, op) == LNK_OK && op->found ? op->out.id : 0;
    OP_FREE(op);
    return id;
}

static void test_key_import_keeps_every_field_and_the_hash(void **state)
{
    struct fixture *f = *state;
    struct lnk_store *s = f->s;
    int64_t alice = add_user(s, "alice");
    CHECK(create_key(s, "made here", 0, HASH_A) == 1, "a key made here is key 1");
    const char *field = NULL;

    struct lnk_api_key orphan = {.id = 7, .name = "o", .prefix = "lnk_o", .user_id = 999};
    const char *orphan_hash[] = {HASH_B};
    CHECK(import_keys(s, &orphan, orphan_hash, 1, &field) == LNK_EINVAL && str_is(field, "user"),
          "a user key of an unknown user is EINVAL naming the user");
    struct lnk_api_key twin = {.id = 7, .name = "twin", .prefix = "lnk_t", .admin = true};
    const char *twin_hash[] = {HASH_A};
    CHECK(import_keys(s, &twin, twin_hash, 1, &field) == LNK_EEXISTS && str_is(field, "key"),
          "a hash another key holds is EEXISTS naming the key");
    struct lnk_api_key no_name = {.id = 7, .prefix = "lnk_n", .admin = true};
    CHECK(import_keys(s, &no_name, orphan_hash, 1, &field) == LNK_EINVAL, "a key without a name");
    CHECK(count_rows(s).keys == 1, "none of them was written");

    struct lnk_api_key keys[] = {
        {.id = 10, .name = "ops", .prefix = "lnk_ops1", .admin = true, .created_at = 1700000000},
        {.id = 11,
         .name = "alice's",
         .prefix = "lnk_al1c",
         .user_id = alice,
         .created_at = 1700000001,
         .revoked_at = 1700000100},
    };
    const char *hashes[] = {HASH_B, HASH_C};
    CHECK(import_keys(s, keys, hashes, 2, NULL) == LNK_OK, "an admin key and a revoked user key");
    CHECK(import_keys(s, keys, hashes, 2, NULL) == LNK_OK && count_rows(s).keys == 3,
          "importing them again is an upsert");

    struct lnk_op_key *list = OP_NEW(LNK_OP_KEY_LIST, key);
    list->with_hashes = true;
    CHECK(OP_RUN(s, list) == LNK_OK && list->n_keys == 3 && list->key_hashes, "three keys");
    for (size_t i = 1; i < 3; i++) {
        const struct lnk_api_key *k = &list->keys[i], *want = &keys[i - 1];
        CHECK(k->id == want->id && str_is(k->name, want->name) && str_is(k->prefix, want->prefix) &&
                  k->admin == want->admin && k->user_id == want->user_id &&
                  k->created_at == want->created_at && k->revoked_at == want->revoked_at,
              "every field as imported");
        CHECK(str_is(list->key_hashes[i], hashes[i - 1]), "and its hash");
    }
    CHECK(str_is(list->key_hashes[0], HASH_A), "the hash of the key made here too");
    OP_FREE(list);
    list = OP_NEW(LNK_OP_KEY_LIST, key);
    CHECK(OP_RUN(s, list) == LNK_OK && list->n_keys == 3 && !list->key_hashes,
          "a plain list reads no hashes");
    OP_FREE(list);

    CHECK(auth_key(s, HASH_B) == 10, "the imported admin key authenticates");
    CHECK(auth_key(s, HASH_C) == 0, "the imported revoked key does not");
    CHECK(create_key(s, "after", alice, "dddd") == 12, "a new key's id follows the imported ones");

    keys[0].revoked_at = 1700000200;
    CHECK(import_keys(s, keys, hashes, 1, NULL) == LNK_OK && auth_key(s, HASH_B) == 0,
          "an upsert that revokes a key revokes it");
}

/* A streamed list read chunk by chunk on the store's threads, as a handler
 * reads one: the codes it emitted, in order, and how many chunks. */
struct code_stream {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool chunk_done;
    char codes[16][LNK_CODE_MAX + 1];
    size_t n, chunks;
};

static bool stream_code(void *ctx, union lnk_list_row row)
{
    struct code_stream *cs = ctx;
    if (cs->n < 16)
        snprintf(cs->codes[cs->n], sizeof(cs->codes[cs->n]), "%s", row.code);
    cs->n++;
    return true;
}

static void stream_chunk_done(struct lnk_store_op *op)
{
    struct code_stream *cs = op->udata;
    pthread_mutex_lock(&cs->mu);
    cs->chunk_done = true;
    pthread_cond_signal(&cs->cv);
    pthread_mutex_unlock(&cs->mu);
}

static int stream_retired(struct lnk_store *s, size_t chunk_rows, struct code_stream *cs)
{
    struct lnk_op_list *op = OP_NEW(LNK_OP_RETIRED_LIST, list);
    int rc = LNK_OK;
    memset(cs, 0, sizeof(*cs));
    pthread_mutex_init(&cs->mu, NULL);
    pthread_cond_init(&cs->cv, NULL);
    op->emit = stream_code;
    op->emit_ctx = cs;
    op->chunk_rows = chunk_rows;
    op->op.done = stream_chunk_done;
    op->op.udata = cs;
    for (bool first = true; rc == LNK_OK; first = false) {
        if (first)
            lnk_store_submit(s, NULL, &op->op);
        else
            lnk_store_list_next(s, op);
        pthread_mutex_lock(&cs->mu);
        while (!cs->chunk_done)
            pthread_cond_wait(&cs->cv, &cs->mu);
        cs->chunk_done = false;
        pthread_mutex_unlock(&cs->mu);
        cs->chunks++;
        rc = op->op.rc;
        if (!op->more)
            break;
    }
    OP_FREE(op);
    pthread_cond_destroy(&cs->cv);
    pthread_mutex_destroy(&cs->mu);
    return rc;
}

static int import_codes(struct lnk_store *s, const char *const *codes, size_t n)
{
    struct lnk_op_rows *op = OP_NEW(LNK_OP_RETIRED_IMPORT, rows);
    op->rows.n = n;
    op->rows.codes = codes;
    int rc = OP_RUN(s, op);
    CHECK(rc != LNK_OK || op->imported == (int64_t)n, "every code counted");
    CHECK(rc != LNK_EINVAL || str_is(op->op.err_field, "short_code"), "a bad code names the field");
    OP_FREE(op);
    return rc;
}

/* ---- the clicks counted against maximums (`linkd copy`) ------------------ */

/* A SLOT_IMPORT of n rows run; its rc, the field it names. */
static int import_slots(struct lnk_store *s, struct lnk_slot *rows, size_t n, const char **field)
{
    struct lnk_op_rows *op = OP_NEW(LNK_OP_SLOT_IMPORT, rows);
    op->rows.n = n;
    op->rows.slots = rows;
    int rc = OP_RUN(s, op);
    CHECK(rc != LNK_OK || op->imported == (int64_t)n, "every row counted");
    *field = op->op.err_field; /* a literal of the rules */
    OP_FREE(op);
    return rc;
}

/* Whether SLOT_LIST holds exactly these rows, in this order. */
static bool slots_are(struct lnk_store *s, const struct lnk_slot *want, size_t n)
{
    struct lnk_op_slot *op = OP_NEW(LNK_OP_SLOT_LIST, slot);
    bool same = OP_RUN(s, op) == LNK_OK && op->n_slots == n;
    for (size_t i = 0; same && i < n; i++)
        same = op->slots[i].url_id == want[i].url_id && op->slots[i].used == want[i].used;
    OP_FREE(op);
    return same;
}

static bool slot_taken(struct lnk_store *s, int64_t url_id, int64_t max)
{
    struct lnk_op_slot *op = OP_NEW(LNK_OP_CLICK_SLOT, slot);
    op->url_id = url_id;
    op->max = max;
    bool taken = OP_RUN(s, op) == LNK_OK && op->taken;
    OP_FREE(op);
    return taken;
}

static void test_slot_import_sets_each_count(void **state)
{
    struct fixture *f = *state;
    struct lnk_store *s = f->s;
    const char *field = NULL;
    int64_t alice = add_user(s, "alice");
    int64_t u1 = add_url(s, alice, "https://example.com/1");
    int64_t u2 = add_url(s, alice, "https://example.com/2");
    CHECK(slots_are(s, NULL, 0), "no url has a slot taken");
    CHECK(slot_taken(s, u1, 5) && slot_taken(s, u1, 5), "two of u1's five taken here");

    struct lnk_slot rows[] = {{u1, 3}, {u2, 1}};
    CHECK(import_slots(s, rows, 2, &field) == LNK_OK, "SLOT_IMPORT");
    CHECK(slots_are(s, rows, 2), "each count is the imported one, not added to the one here");
    CHECK(import_slots(s, rows, 2, &field) == LNK_OK && slots_are(s, rows, 2),
          "importing again changes nothing");
    struct row_counts c = count_rows(s);
    CHECK(c.slots == 2 && c.slots_used == 4, "COUNT_ROWS counts the slots and the clicks in them");
    CHECK(slot_taken(s, u1, 4) && !slot_taken(s, u1, 4), "u1 has one of four left");

    struct lnk_slot gone[] = {{u2, 0}, {u2 + 1000, 2}};
    CHECK(import_slots(s, gone, 2, &field) == LNK_EINVAL && str_is(field, "url"),
          "a url that is not there is EINVAL (url)");
    struct lnk_slot negative = {u2, -1};
    CHECK(import_slots(s, &negative, 1, &field) == LNK_EINVAL && str_is(field, "url"),
          "a negative count is EINVAL (url)");
    struct lnk_slot after[] = {{u1, 4}, {u2, 1}};
    CHECK(slots_are(s, after, 2), "nothing of those ops was written");
}

static void test_retired_codes_list_and_import(void **state)
{
    struct fixture *f = *state;
    struct lnk_store *s = f->s;
    int64_t alice = add_user(s, "alice"), bob = add_user(s, "bob");
    OP_FREE(create_url(s, alice, "https://a.example/", "keep01"));
    OP_FREE(create_url(s, bob, "https://b.example/1", "gone02"));
    OP_FREE(create_url(s, bob, "https://b.example/2", "gone01"));
    CHECK(op_rc(s, LNK_OP_USER_DELETE, bob) == LNK_OK, "bob and his urls deleted");

    struct lnk_op_list *list = OP_NEW(LNK_OP_RETIRED_LIST, list);
    CHECK(OP_RUN(s, list) == LNK_OK && list->n_rows == 2, "the codes of bob's urls are retired");
    CHECK(str_is(list->codes[0], "gone01") && str_is(list->codes[1], "gone02"), "in code order");
    OP_FREE(list);

    const char *bad[] = {"imp001", ""};
    CHECK(import_codes(s, bad, 2) == LNK_EINVAL, "an empty code is EINVAL");
    CHECK(count_rows(s).retired_codes == 2, "and the op wrote nothing");
    const char *codes[] = {"zz9999", "imp001", "gone01", "A-b_c"};
    CHECK(import_codes(s, codes, 4) == LNK_OK, "codes retired, one of them already");
    CHECK(import_codes(s, codes, 4) == LNK_OK, "retiring them again is no error");
    CHECK(count_rows(s).retired_codes == 5, "five retired codes, each once");

    struct lnk_op_url *taken = create_url(s, alice, "https://c.example/", "imp001");
    CHECK(taken->op.rc == LNK_EEXISTS && str_is(taken->op.err_field, "short_code"),
          "an imported retired code is refused as a custom code");
    OP_FREE(taken);

    struct code_stream cs;
    CHECK(stream_retired(s, 2, &cs) == LNK_OK, "streamed two codes a chunk");
    CHECK(cs.n == 5 && cs.chunks == 3, "five codes in three chunks");
    bool ordered = cs.n == 5;
    for (size_t i = 1; ordered && i < cs.n; i++)
        ordered = strcmp(cs.codes[i - 1], cs.codes[i]) < 0;
    CHECK(ordered, "each code once, in order, across the chunks");
    CHECK(stream_retired(s, 5, &cs) == LNK_OK && cs.n == 5 && cs.chunks == 2,
          "a last chunk that comes out full is followed by an empty one");
}

static void test_list_filters_and_paging(void **state)
{
    struct fixture *f = *state;
    struct lnk_store *s = f->s;
    int64_t alice = add_user(s, "alice"), bob = add_user(s, "bob");
    int64_t ids[25];
    for (int i = 0; i < 25; i++)
        ids[i] = add_url(s, i < 20 ? alice : bob, "https://example.com/");
    for (int i = 0; i < 5; i++)
        CHECK(op_rc(s, LNK_OP_URL_DELETE, ids[i]) == LNK_OK, "deactivate");

    struct lnk_op_list *op = OP_NEW(LNK_OP_URL_LIST, list);
    CHECK(op->q.is_active == -1 && !op->q.has_user_id && op->q.page == 0,
          "a new list matches everything");
    op->q.page = 1;
    op->q.per_page = 0;
    CHECK(OP_RUN(s, op) == LNK_EINVAL, "per_page 0 with a page is EINVAL");
    op->q.page = 0;
    CHECK(OP_RUN(s, op) == LNK_OK && op->n_rows == 25, "page 0 returns every row");
    CHECK(op->urls != NULL && op->users == NULL && op->events == NULL, "collected as urls");
    for (size_t i = 1; i < op->n_rows; i++)
        CHECK(op->urls[i - 1].id < op->urls[i].id, "ordered by id");
    op->q.page = 3;
    op->q.per_page = 10;
    CHECK(OP_RUN(s, op) == LNK_OK && op->n_rows == 5, "third page holds the last 5");
    CHECK(op->urls[0].id == ids[20], "page 3 starts at row 21");
    op->q.page = 4;
    CHECK(OP_RUN(s, op) == LNK_OK && op->n_rows == 0, "past the end is empty");
    op->q.page = INT64_MAX;
    CHECK(OP_RUN(s, op) == LNK_OK && op->n_rows == 0, "a huge page is empty, not an error");

    op->q.page = 0;
    op->q.max_rows = 24;
    CHECK(OP_RUN(s, op) == LNK_ETOOBIG && op->n_rows == 0, "more rows than max_rows is ETOOBIG");
    op->q.max_rows = 25;
    CHECK(OP_RUN(s, op) == LNK_OK && op->n_rows == 25, "as many as max_rows is fine");
    op->q.max_rows = 0;

    op->q.is_active = 0;
    CHECK(OP_RUN(s, op) == LNK_OK && op->n_rows == 5, "is_active=false filter");
    op->q.is_active = 1;
    op->q.has_user_id = true;
    op->q.user_id = alice;
    CHECK(OP_RUN(s, op) == LNK_OK && op->n_rows == 15, "user_id AND is_active");
    op->q.user_id = 999;
    CHECK(OP_RUN(s, op) == LNK_OK && op->n_rows == 0, "unknown user lists nothing");
    op->q.parent_must_exist = true;
    CHECK(OP_RUN(s, op) == LNK_ENOTFOUND && str_is(op->op.err_field, "user"),
          "unless the user must exist");
    OP_FREE(op);

    struct lnk_op_list *ev = list_events(s, 0, bob, "created");
    CHECK(ev->op.rc == LNK_OK && ev->n_rows == 5, "events by user and type");
    OP_FREE(ev);
    ev = list_events(s, ids[0], 0, NULL);
    CHECK(ev->n_rows == 2, "events by url: created + deleted");
    OP_FREE(ev);
    ev = list_events(s, ids[0], bob, NULL);
    CHECK(ev->n_rows == 0, "url AND user can exclude everything");
    OP_FREE(ev);

    op = OP_NEW(LNK_OP_USER_LIST, list);
    op->q.page = 2;
    op->q.per_page = 1;
    CHECK(OP_RUN(s, op) == LNK_OK && op->n_rows == 1 && op->users[0].id == bob, "user paging");
    OP_FREE(op);
}

/* Events are indexed per bucket of 2^18 ids (migration 5): lists by url,
 * user and owner must cross buckets in id order, page across them, and
 * deletes must find the events in every bucket. */
static void test_event_lists_cross_id_buckets(void **state)
{
    struct fixture *f = *state;
    struct lnk_store *s = f->s;
    int64_t alice = add_user(s, "alice"), bob = add_user(s, "bob");
    int64_t a1 = add_url(s, alice, "https://a.example/1"); /* created event id 1 */
    int64_t b1 = add_url(s, bob, "https://b.example/1");   /* created event id 2 */
    enum { B = 1 << 18 };
    /* a1's events by id: 1, B-1, B, B+1, 2B, 4B+7 (one per bucket edge) */
    struct lnk_event events[] = {
        {.id = 4 * B + 7, .url_id = a1, .user_id = alice, .event_type = "click", .timestamp = 9},
        {.id = B, .url_id = a1, .user_id = bob, .event_type = "share", .timestamp = 9},
        {.id = B - 1, .url_id = a1, .user_id = alice, .event_type = "click", .timestamp = 9},
        {.id = B + 2, .url_id = b1, .user_id = alice, .event_type = "share", .timestamp = 9},
        {.id = 2 * B, .url_id = a1, .user_id = alice, .event_type = "click", .timestamp = 9},
        {.id = B + 1, .url_id = a1, .user_id = alice, .event_type = "click", .timestamp = 9},
    };
    struct lnk_op_rows *imp = OP_NEW(LNK_OP_EVENT_IMPORT, rows);
    imp->rows = (struct lnk_import_rows){.n = 6, .events = events};
    CHECK(OP_RUN(s, imp) == LNK_OK && imp->imported == 6, "events imported across buckets");
    OP_FREE(imp);

    const int64_t want_url[] = {1, B - 1, B, B + 1, 2 * B, 4 * B + 7};
    struct lnk_op_list *ev = list_events(s, a1, 0, NULL);
    CHECK(ev->op.rc == LNK_OK && ev->n_rows == 6, "every event of the url, from every bucket");
    for (size_t i = 0; i < ev->n_rows && i < 6; i++)
        CHECK(ev->events[i].id == want_url[i], "url list ordered by id across buckets");
    OP_FREE(ev);

    const int64_t want_user[] = {1, B - 1, B + 1, B + 2, 2 * B, 4 * B + 7};
    ev = list_events(s, 0, alice, NULL);
    CHECK(ev->op.rc == LNK_OK && ev->n_rows == 6, "every event naming the user");
    for (size_t i = 0; i < ev->n_rows && i < 6; i++)
        CHECK(ev->events[i].id == want_user[i], "user list ordered by id across buckets");
    OP_FREE(ev);

    ev = list_events(s, a1, alice, "click");
    CHECK(ev->op.rc == LNK_OK && ev->n_rows == 4 && ev->events[0].id == B - 1 &&
              ev->events[3].id == 4 * B + 7,
          "url AND user AND type across buckets");
    OP_FREE(ev);

    /* clicks are read in id order from the table, other types through a
     * partial index */
    ev = list_events(s, 0, 0, "click");
    CHECK(ev->op.rc == LNK_OK && ev->n_rows == 4 && ev->events[0].id == B - 1 &&
              ev->events[1].id == B + 1 && ev->events[3].id == 4 * B + 7,
          "every click, in id order");
    OP_FREE(ev);
    ev = list_events(s, 0, 0, "share");
    CHECK(ev->op.rc == LNK_OK && ev->n_rows == 2 && ev->events[0].id == B &&
              ev->events[1].id == B + 2,
          "every share, in id order");
    OP_FREE(ev);
    ev = list_events(s, 0, 0, "created");
    CHECK(ev->op.rc == LNK_OK && ev->n_rows == 2 && ev->events[0].id == 1 && ev->events[1].id == 2,
          "every created event");
    OP_FREE(ev);

    ev = OP_NEW(LNK_OP_EVENT_LIST, list);
    ev->q = (struct lnk_list_query){
        .is_active = -1, .has_url_id = true, .url_id = a1, .page = 2, .per_page = 2};
    CHECK(OP_RUN(s, ev) == LNK_OK && ev->n_rows == 2 && ev->events[0].id == B &&
              ev->events[1].id == B + 1,
          "page 2 of the url's events straddles a bucket edge");
    OP_FREE(ev);

    ev = OP_NEW(LNK_OP_EVENT_LIST, list);
    ev->q = (struct lnk_list_query){.is_active = -1, .has_owner_id = true, .owner_id = bob};
    CHECK(OP_RUN(s, ev) == LNK_OK && ev->n_rows == 2 && ev->events[0].id == 2 &&
              ev->events[1].id == B + 2,
          "owner list: the events of bob's urls, in id order");
    OP_FREE(ev);

    /* alice's url goes with her, and with it bob's event on it (id B);
     * her event on bob's url (id B+2) goes because it names her */
    struct lnk_op_user *del = OP_NEW(LNK_OP_USER_DELETE, user);
    del->id = alice;
    CHECK(OP_RUN(s, del) == LNK_OK, "delete alice");
    OP_FREE(del);
    struct row_counts c = count_rows(s);
    ev = list_events(s, 0, alice, NULL);
    CHECK(ev->op.rc == LNK_OK && ev->n_rows == 0, "no event names the deleted user, in any bucket");
    OP_FREE(ev);
    ev = list_events(s, a1, 0, NULL);
    CHECK(ev->op.rc == LNK_OK && ev->n_rows == 0, "no event of her url is left, in any bucket");
    OP_FREE(ev);
    CHECK(c.events == 1, "only bob's created event is left");
}

/* A batch of clicks whose ids straddle a bucket edge (2^16 on SQLite) is
 * listed whole by url and by user: the store lists every bucket a batch
 * fills, not only its first (migration 8). */
static void test_click_batch_across_a_bucket_edge_is_listed_whole(void **state)
{
    struct fixture *f = *state;
    struct lnk_store *s = f->s;
    int64_t alice = add_user(s, "alice");
    int64_t a1 = add_url(s, alice, "https://a.example/1");
    enum { EDGE = 1 << 18, N = 700 };
    struct lnk_event before = {
        .id = EDGE - 300, .url_id = a1, .user_id = alice, .event_type = "share", .timestamp = 9};
    struct lnk_op_rows *imp = OP_NEW(LNK_OP_EVENT_IMPORT, rows);
    imp->rows = (struct lnk_import_rows){.n = 1, .events = &before};
    CHECK(OP_RUN(s, imp) == LNK_OK && imp->imported == 1, "an event just below the edge");
    OP_FREE(imp);
    static struct lnk_click clicks[N];
    for (int i = 0; i < N; i++)
        clicks[i] = (struct lnk_click){.url_id = a1,
                                       .user_id = alice,
                                       .timestamp = 1700000000,
                                       .short_code = "c",
                                       .user_agent = "",
                                       .referrer = ""};
    CHECK(append_clicks(s, clicks, N) == N, "the batch is written");
    CHECK(count_events(s, a1, "click") == N, "every click of the url, on both sides of the edge");
    struct lnk_op_list *ev = list_events(s, 0, alice, "click");
    CHECK(ev->op.rc == LNK_OK && ev->n_rows == N, "every click of the user");
    CHECK(ev->n_rows == N && ev->events[0].id < EDGE && ev->events[N - 1].id >= EDGE,
          "the batch straddles the edge, in id order");
    OP_FREE(ev);
}

static void test_generated_codes_are_distinct_and_six_alnum(void **state)
{
    struct fixture *f = *state;
    enum { N = 1000 };
    int64_t uid = add_user(f->s, "alice");
    struct lnk_store_op **ops = calloc(N, sizeof(*ops));
    const char **codes = calloc(N, sizeof(*codes));
    for (size_t i = 0; i < N; i++) {
        struct lnk_op_url *u = OP_NEW(LNK_OP_URL_CREATE, url);
        u->in.user_id = uid;
        u->in.original_url = "https://example.com/";
        u->in.is_active = true;
        ops[i] = &u->op;
    }
    submit_all(f->s, ops, N);
    size_t ok = 0;
    for (size_t i = 0; i < N; i++) {
        const struct lnk_url *u = &LNK_OP_AS(ops[i], url)->out;
        if (ops[i]->rc == LNK_OK && is_generated_code(u->short_code) &&
            !lnk_code_is_reserved(u->short_code, 6))
            ok++;
        codes[i] = ops[i]->rc == LNK_OK ? u->short_code : "";
    }
    CHECK(ok == N, "every create gives a 6-character [A-Za-z0-9] code");
    qsort(codes, N, sizeof(*codes), cmp_str);
    size_t dups = 0;
    for (size_t i = 1; i < N; i++)
        dups += strcmp(codes[i - 1], codes[i]) == 0;
    CHECK(dups == 0, "all 1000 codes are distinct");
    for (size_t i = 0; i < N; i++)
        lnk_store_op_free(ops[i]);
    free(codes);
    free(ops);
}

static void test_sequences_continue_past_imported_ids(void **state)
{
    struct fixture *f = *state;
    struct lnk_user users[] = {
        {.id = 1, .username = "a", .email = "a@x.io", .created_at = 1},
        {.id = 50, .username = "b", .email = "b@x.io", .created_at = 2},
    };
    bool has_id[] = {true, true};
    struct lnk_op_rows *op = OP_NEW(LNK_OP_USER_IMPORT, rows);
    op->rows = (struct lnk_import_rows){.n = 2, .users = users, .has_id = has_id};
    CHECK(OP_RUN(f->s, op) == LNK_OK && op->imported == 2, "users imported");
    OP_FREE(op);

    struct lnk_url urls[] = {{.id = 100,
                              .user_id = 50,
                              .short_code = "Seed01",
                              .original_url = "https://s.example/",
                              .title = "seed",
                              .is_active = false,
                              .created_at = 3,
                              .updated_at = 4}};
    op = OP_NEW(LNK_OP_URL_IMPORT, rows);
    op->rows = (struct lnk_import_rows){.n = 1, .urls = urls};
    CHECK(OP_RUN(f->s, op) == LNK_OK && op->imported == 1, "url imported");
    /* imported is added to, so running the same op again counts on */
    CHECK(OP_RUN(f->s, op) == LNK_OK && op->imported == 2, "importing again is an upsert");
    OP_FREE(op);

    struct lnk_event events[] = {{.id = 700,
                                  .url_id = 100,
                                  .user_id = 50,
                                  .event_type = "created",
                                  .timestamp = 3,
                                  .details = "{\"short_code\":\"Seed01\"}"}};
    op = OP_NEW(LNK_OP_EVENT_IMPORT, rows);
    op->rows = (struct lnk_import_rows){.n = 1, .events = events};
    CHECK(OP_RUN(f->s, op) == LNK_OK && op->imported == 1, "event imported");
    OP_FREE(op);

    int64_t uid = add_user(f->s, "c");
    CHECK(uid == 51, "the next user id follows max(id)");
    struct lnk_op_url *u = create_url(f->s, uid, "https://n.example/", NULL);
    CHECK(u->op.rc == LNK_OK && u->out.id == 101, "the next url id follows max(id)");
    struct lnk_op_list *ev = list_events(f->s, u->out.id, 0, NULL);
    CHECK(ev->n_rows == 1 && ev->events[0].id == 701, "the next event id follows max(id)");
    OP_FREE(ev);
    OP_FREE(u);

    struct lnk_op_url *get = OP_NEW(LNK_OP_URL_BY_CODE, url);
    get->code = "Seed01";
    CHECK(OP_RUN(f->s, get) == LNK_OK, "imported code found");
    CHECK(get->out.created_at == 3 && get->out.updated_at == 4 && !get->out.is_active,
          "imported timestamps and flags kept");
    OP_FREE(get);
}

static void test_failed_op_does_not_spoil_its_batch(void **state)
{
    struct fixture *f = *state;
    int64_t uid = add_user(f->s, "alice");
    struct lnk_op_url *taken = create_url(f->s, uid, "https://example.com/", "taken1");
    CHECK(taken->op.rc == LNK_OK, "custom code created");
    OP_FREE(taken);

    /* A large import first keeps the writer busy while the rest queue up
     * behind it and are then taken as one batch. */
    enum { N_IMPORT = 2000, N = 8 };
    struct lnk_user *users = calloc(N_IMPORT, sizeof(*users));
    char(*names)[16] = calloc(N_IMPORT, sizeof(*names));
    char(*mails)[24] = calloc(N_IMPORT, sizeof(*mails));
    for (size_t i = 0; i < N_IMPORT; i++) {
        snprintf(names[i], sizeof(names[i]), "bulk%zu", i);
        snprintf(mails[i], sizeof(mails[i]), "bulk%zu@x.io", i);
        users[i] = (struct lnk_user){.username = names[i], .email = mails[i]};
    }
    struct lnk_store_op *ops[N];
    struct lnk_op_rows *import = OP_NEW(LNK_OP_USER_IMPORT, rows);
    import->rows = (struct lnk_import_rows){.n = N_IMPORT, .users = users};
    ops[0] = &import->op;
    struct lnk_op_url *creates[N] = {NULL};
    for (size_t i = 1; i < N; i++) {
        creates[i] = OP_NEW(LNK_OP_URL_CREATE, url);
        creates[i]->in.user_id = uid;
        creates[i]->in.original_url = "https://example.com/b";
        creates[i]->in.is_active = true;
        ops[i] = &creates[i]->op;
    }
    creates[3]->in.short_code = "taken1"; /* fails */
    creates[4]->in.user_id = 999999;      /* fails */
    creates[6]->in.short_code = "fresh1"; /* free before the batch */
    creates[7]->in.short_code = "fresh1"; /* fails: taken earlier in the same batch */
    submit_all(f->s, ops, N);

    CHECK(import->op.rc == LNK_OK && import->imported == N_IMPORT, "import committed");
    CHECK(creates[3]->op.rc == LNK_EEXISTS, "taken code fails alone");
    CHECK(creates[4]->op.rc == LNK_ENOTFOUND, "unknown user fails alone");
    CHECK(creates[7]->op.rc == LNK_EEXISTS && str_is(creates[7]->op.err_field, "short_code"),
          "a code taken earlier in the same batch fails alone, naming the field");
    CHECK(creates[3]->out.id == 0 && creates[4]->out.id == 0 && creates[7]->out.id == 0,
          "no row on failure");
    for (size_t i = 1; i < N; i++) {
        if (i == 3 || i == 4 || i == 7)
            continue;
        CHECK(creates[i]->op.rc == LNK_OK, "the other creates commit");
        CHECK(creates[i]->out.id > 0 && creates[i]->out.user_id == uid, "id and owner returned");
        CHECK(str_is(creates[i]->out.original_url, "https://example.com/b"), "url returned");
        CHECK(creates[i]->out.is_active && creates[i]->out.created_at > 0, "fields returned");
        CHECK(creates[i]->out.short_code && strlen(creates[i]->out.short_code) >= 6,
              "a code returned");
        CHECK(op_rc(f->s, LNK_OP_URL_GET, creates[i]->out.id) == LNK_OK, "and are durable");
    }
    CHECK(str_is(creates[6]->out.short_code, "fresh1"), "the first holder keeps the code");
    CHECK(creates[1]->out.id != creates[2]->out.id &&
              !str_is(creates[1]->out.short_code, creates[2]->out.short_code),
          "generated creates get rows and codes of their own");
    struct row_counts c = count_rows(f->s);
    CHECK(c.users == 1 + N_IMPORT && c.urls == 1 + 4 && c.events == 1 + 4, "no partial rows");
    CHECK(!lnk_store_is_degraded(f->s), "not degraded after good batches");
    for (size_t i = 0; i < N; i++)
        lnk_store_op_free(ops[i]);
    free(users);
    free(names);
    free(mails);
}

struct creator {
    struct lnk_store *s;
    int64_t user_id;
    int64_t ids[500];
    char codes[500][8];
    int failures;
};

static void *create_many(void *arg)
{
    struct creator *c = arg;
    for (size_t i = 0; i < 500; i++) {
        struct lnk_op_url *op = create_url(c->s, c->user_id, "https://example.com/c", NULL);
        if (op->op.rc == LNK_OK) {
            c->ids[i] = op->out.id;
            snprintf(c->codes[i], sizeof(c->codes[i]), "%s", op->out.short_code);
        } else {
            c->failures++;
        }
        OP_FREE(op);
    }
    return NULL;
}

static void test_concurrent_creates_get_distinct_ids_and_codes(void **state)
{
    struct fixture *f = *state;
    enum { T = 4, PER = 500 };
    struct creator *cs = calloc(T, sizeof(*cs));
    pthread_t th[T];
    for (size_t t = 0; t < T; t++) {
        char name[16];
        snprintf(name, sizeof(name), "thread%zu", t);
        cs[t].s = f->s;
        cs[t].user_id = add_user(f->s, name);
        CHECK(pthread_create(&th[t], NULL, create_many, &cs[t]) == 0, "thread starts");
    }
    int64_t *ids = calloc(T * PER, sizeof(*ids));
    const char **codes = calloc(T * PER, sizeof(*codes));
    int failures = 0;
    for (size_t t = 0; t < T; t++) {
        pthread_join(th[t], NULL);
        failures += cs[t].failures;
        for (size_t i = 0; i < PER; i++) {
            ids[t * PER + i] = cs[t].ids[i];
            codes[t * PER + i] = cs[t].codes[i];
        }
    }
    CHECK(failures == 0, "all 2000 creates succeed");
    qsort(ids, T * PER, sizeof(*ids), cmp_i64);
    qsort(codes, T * PER, sizeof(*codes), cmp_str);
    size_t dup_ids = 0, dup_codes = 0;
    for (size_t i = 1; i < T * PER; i++) {
        dup_ids += ids[i - 1] == ids[i];
        dup_codes += strcmp(codes[i - 1], codes[i]) == 0;
    }
    CHECK(dup_ids == 0 && dup_codes == 0, "ids and codes are distinct");
    struct row_counts c = count_rows(f->s);
    CHECK(c.urls == T * PER && c.events == T * PER, "one url and one created event each");
    free(codes);
    free(ids);
    free(cs);
}

/* Reopened from its URL: generated codes come from a block the reopened
 * store reserves anew, so none of the first store's is handed out again. */
static void test_reopen_keeps_data_and_never_reissues_codes(void **state)
{
    struct fixture *f = *state;
    int64_t uid = add_user(f->s, "alice");
    struct lnk_op_url *a = create_url(f->s, uid, "https://example.com/", NULL);
    CHECK(a->op.rc == LNK_OK, "created before close");
    lnk_store_close(f->s);
    f->s = NULL;
    CHECK(open_store(f) == LNK_OK, "reopen");

    struct lnk_op_url *op = OP_NEW(LNK_OP_URL_BY_CODE, url);
    op->code = a->out.short_code;
    CHECK(OP_RUN(f->s, op) == LNK_OK && op->out.id == a->out.id, "data survived");
    OP_FREE(op);

    struct lnk_op_url *b = create_url(f->s, uid, "https://example.com/", NULL);
    CHECK(b->op.rc == LNK_OK, "create after reopen");
    CHECK(strcmp(a->out.short_code, b->out.short_code) != 0, "a fresh code");

    /* a hard-deleted url's code is not handed out again, even as custom */
    int64_t bob = add_user(f->s, "bob");
    struct lnk_op_url *c = create_url(f->s, bob, "https://b.example/", "bobcode");
    CHECK(c->op.rc == LNK_OK, "custom code for bob");
    CHECK(op_rc(f->s, LNK_OP_USER_DELETE, bob) == LNK_OK, "bob deleted");
    OP_FREE(c);
    c = create_url(f->s, uid, "https://a.example/", "bobcode");
    CHECK(c->op.rc == LNK_EEXISTS, "a retired code is not reissued");
    OP_FREE(c);
    OP_FREE(a);
    OP_FREE(b);
}

/* ---- the id space ------------------------------------------------------- */

/* Imports one user with this id (store imports take any positive id; the
 * parsers above them refuse ids past LNK_ID_MAX). */
static void import_user(struct lnk_store *s, int64_t id, const char *name)
{
    char email[64];
    snprintf(email, sizeof(email), "%s@x.io", name);
    struct lnk_user u = {.id = id, .username = name, .email = email, .created_at = 1};
    bool has_id = true;
    struct lnk_op_rows *op = OP_NEW(LNK_OP_USER_IMPORT, rows);
    op->rows = (struct lnk_import_rows){.n = 1, .users = &u, .has_id = &has_id};
    CHECK(OP_RUN(s, op) == LNK_OK && op->imported == 1, "user imported");
    OP_FREE(op);
}

static void check_healthy(struct lnk_store *s)
{
    struct lnk_store_status st;
    lnk_store_get_status(s, &st);
    CHECK(!lnk_store_is_degraded(s) && st.fault == LNK_STORE_OK,
          "an exhausted id space is no storage fault: the store stays writable");
}

/* Ids past LNK_ID_MAX would reach JSON clients rounded, and SQLite runs out
 * of rowids only at 2^63 - 1, with SQLITE_FULL, which reads as a full disk.
 * An op that needs an id the table cannot give fails alone with
 * LNK_EIDSPACE naming what it would have created; ops beside it in the
 * batch commit and the store never degrades. */
static void test_an_exhausted_user_id_space_fails_its_op_alone(void **state)
{
    struct fixture *f = *state;
    import_user(f->s, 1, "first");
    import_user(f->s, LNK_ID_MAX, "last");

    enum { N = 4 };
    struct lnk_store_op *ops[N];
    for (size_t i = 0; i < N; i++) {
        if (i % 2) {
            struct lnk_op_url *u = OP_NEW(LNK_OP_URL_CREATE, url);
            u->in = (struct lnk_url){
                .user_id = 1, .original_url = "https://example.com/", .is_active = true};
            ops[i] = &u->op;
        } else {
            struct lnk_op_user *u = OP_NEW(LNK_OP_USER_CREATE, user);
            u->in.username = i ? "two" : "one";
            u->in.email = i ? "two@x.io" : "one@x.io";
            ops[i] = &u->op;
        }
    }
    submit_all(f->s, ops, N);
    for (size_t i = 0; i < N; i += 2) {
        CHECK(ops[i]->rc == LNK_EIDSPACE, "a user create past 2^53 - 1 fails");
        CHECK(str_is(ops[i]->err_field, "user"), "naming what it would have created");
    }
    for (size_t i = 1; i < N; i += 2)
        CHECK(ops[i]->rc == LNK_OK && LNK_OP_AS(ops[i], url)->out.id > 0,
              "url creates beside it commit");
    for (size_t i = 0; i < N; i++)
        lnk_store_op_free(ops[i]);
    check_healthy(f->s);

    /* Rows without an id in an import need new ids too. */
    struct lnk_user fresh = {.username = "fresh", .email = "fresh@x.io"};
    bool no_id = false;
    struct lnk_op_rows *op = OP_NEW(LNK_OP_USER_IMPORT, rows);
    op->rows = (struct lnk_import_rows){.n = 1, .users = &fresh, .has_id = &no_id};
    CHECK(OP_RUN(f->s, op) == LNK_EIDSPACE, "an import row without an id fails too");
    OP_FREE(op);
    CHECK(count_rows(f->s).users == 2, "no user was added");
    check_healthy(f->s);

    /* A database that already holds id 2^63 - 1 (written before ids were
     * limited): SQLite would answer SQLITE_FULL. */
    import_user(f->s, INT64_MAX, "legacy");
    struct lnk_op_user *after = OP_NEW(LNK_OP_USER_CREATE, user);
    after->in.username = "after";
    after->in.email = "after@x.io";
    CHECK(OP_RUN(f->s, after) == LNK_EIDSPACE,
          "a create fails with LNK_EIDSPACE, not as a full disk");
    OP_FREE(after);
    check_healthy(f->s);
    CHECK(add_url(f->s, 1, "https://example.com/after") > 0, "other writes go on");
}

static void test_an_exhausted_event_id_space_fails_each_op_that_adds_events(void **state)
{
    struct fixture *f = *state;
    int64_t uid = add_user(f->s, "owner");
    int64_t url_id = add_url(f->s, uid, "https://example.com/");
    struct lnk_event last = {.id = LNK_ID_MAX,
                             .url_id = url_id,
                             .user_id = uid,
                             .event_type = "note",
                             .timestamp = 1,
                             .details = "{}"};
    struct lnk_op_rows *imp = OP_NEW(LNK_OP_EVENT_IMPORT, rows);
    imp->rows = (struct lnk_import_rows){.n = 1, .events = &last};
    CHECK(OP_RUN(f->s, imp) == LNK_OK, "an event with id 2^53 - 1 is imported");
    OP_FREE(imp);

    struct lnk_click click = {.url_id = url_id,
                              .user_id = uid,
                              .timestamp = 100,
                              .short_code = "x",
                              .user_agent = "",
                              .referrer = ""};
    struct lnk_op_clicks *ck = OP_NEW(LNK_OP_CLICKS_APPEND, clicks);
    ck->clicks = &click;
    ck->n = 1;
    CHECK(OP_RUN(f->s, ck) == LNK_EIDSPACE, "a click batch fails");
    CHECK(str_is(ck->op.err_field, "event"), "naming events");
    OP_FREE(ck);

    struct lnk_op_event *ev = OP_NEW(LNK_OP_EVENT_CREATE, event);
    ev->in.url_id = url_id;
    ev->in.event_type = "note";
    CHECK(OP_RUN(f->s, ev) == LNK_EIDSPACE, "an event create fails");
    OP_FREE(ev);

    struct lnk_op_url *u = create_url(f->s, uid, "https://example.com/2", NULL);
    CHECK(u->op.rc == LNK_EIDSPACE, "a url create (and its 'created' event) fails");
    OP_FREE(u);

    u = OP_NEW(LNK_OP_URL_UPDATE, url);
    u->id = url_id;
    u->patch.set_title = true;
    u->patch.title = "changed";
    CHECK(OP_RUN(f->s, u) == LNK_EIDSPACE, "an update that records an event fails");
    OP_FREE(u);
    u = OP_NEW(LNK_OP_URL_GET, url);
    u->id = url_id;
    CHECK(OP_RUN(f->s, u) == LNK_OK && str_is(u->out.title, "t"), "and changes nothing");
    OP_FREE(u);

    CHECK(count_events(f->s, url_id, NULL) == 2, "no event was added");
    check_healthy(f->s);
    CHECK(add_user(f->s, "still") > 0, "user creates go on");
}

/* With one id left, creates racing for it in one batch or several: one
 * gets 2^53 - 1, the others fail alone. */
static void test_the_last_id_is_handed_out_once(void **state)
{
    struct fixture *f = *state;
    import_user(f->s, LNK_ID_MAX - 1, "second_to_last");
    enum { N = 6 };
    struct lnk_store_op *ops[N];
    char names[N][16], mails[N][24];
    for (size_t i = 0; i < N; i++) {
        snprintf(names[i], sizeof(names[i]), "racer%zu", i);
        snprintf(mails[i], sizeof(mails[i]), "racer%zu@x.io", i);
        struct lnk_op_user *u = OP_NEW(LNK_OP_USER_CREATE, user);
        u->in.username = names[i];
        u->in.email = mails[i];
        ops[i] = &u->op;
    }
    submit_all(f->s, ops, N);
    size_t won = 0, refused = 0;
    for (size_t i = 0; i < N; i++) {
        if (ops[i]->rc == LNK_OK && LNK_OP_AS(ops[i], user)->out.id == LNK_ID_MAX)
            won++;
        else if (ops[i]->rc == LNK_EIDSPACE)
            refused++;
        lnk_store_op_free(ops[i]);
    }
    CHECK(won == 1 && refused == N - 1, "one create gets the last id, the rest fail alone");
    check_healthy(f->s);
}

static void test_ping_and_count_rows(void **state)
{
    struct fixture *f = *state;
    struct lnk_op_ping *op = OP_NEW(LNK_OP_PING, ping);
    CHECK(OP_RUN(f->s, op) == LNK_OK && op->latency_us >= 0, "PING succeeds");
    OP_FREE(op);
    struct row_counts c = count_rows(f->s);
    CHECK(c.users == 0 && c.urls == 0 && c.events == 0 && c.keys == 0 && c.retired_codes == 0 &&
              c.clicks == 0,
          "an empty database counts zero");
    int64_t alice = add_user(f->s, "alice");
    int64_t url = add_url(f->s, alice, "https://example.com/");
    c = count_rows(f->s);
    CHECK(c.users == 1 && c.urls == 1 && c.events == 1, "user, url and created event counted");
    struct lnk_click clicks[] = {{.url_id = url, .user_id = alice, .timestamp = 1700000000},
                                 {.url_id = url, .user_id = alice, .timestamp = 1700090000}};
    CHECK(append_clicks(f->s, clicks, 2) == 2, "two clicks");
    CHECK(create_key(f->s, "k", 0, KEY_HASH) > 0, "a key");
    OP_FREE(create_url(f->s, alice, "https://example.com/gone", "gone01"));
    CHECK(op_rc(f->s, LNK_OP_USER_DELETE, add_user(f->s, "bob")) == LNK_OK, "bob, with no url");
    struct lnk_op_url *del = OP_NEW(LNK_OP_URL_DELETE, url);
    del->id = url;
    CHECK(OP_RUN(f->s, del) == LNK_OK, "a soft delete retires no code");
    OP_FREE(del);
    c = count_rows(f->s);
    CHECK(c.events == 1 + 2 + 1 + 1 && c.clicks == 2 && c.keys == 1 && c.retired_codes == 0,
          "clicks (from the rollups) and keys counted");
    CHECK(op_rc(f->s, LNK_OP_USER_DELETE, alice) == LNK_OK, "alice deleted with her urls");
    c = count_rows(f->s);
    CHECK(c.users == 0 && c.urls == 0 && c.events == 0 && c.clicks == 0 && c.keys == 1 &&
              c.retired_codes == 2,
          "the codes of her two urls retired; the admin key stays");
}

/* ---- threads and completion --------------------------------------------- */

/* Whether a pooled read (below) holds what the fixture of
 * test_reads_through_a_worker_connection wrote: one user, one url with its
 * created event, one key. */
static bool holds_the_rows(struct lnk_store_op *op)
{
    switch (op->kind) {
    case LNK_OP_USER_LIST:
        return LNK_OP_AS(op, list)->n_rows == 1 &&
               str_is(LNK_OP_AS(op, list)->users[0].username, "alice");
    case LNK_OP_URL_LIST:
        return LNK_OP_AS(op, list)->n_rows == 1 && LNK_OP_AS(op, list)->urls[0].id > 0;
    case LNK_OP_EVENT_LIST:
        return LNK_OP_AS(op, list)->n_rows == 1 &&
               str_is(LNK_OP_AS(op, list)->events[0].event_type, "created");
    case LNK_OP_COUNT_ROWS: {
        const struct lnk_op_counts *c = LNK_OP_AS(op, counts);
        return c->users == 1 && c->urls == 1 && c->events == 1;
    }
    case LNK_OP_STATS: { /* types ordered by type; 'click' is there at zero */
        const struct lnk_op_stats *t = LNK_OP_AS(op, stats);
        int64_t created = 0, others = 0;
        for (size_t i = 0; i < t->n_types; i++) {
            if (str_is(t->types[i].event_type, "created"))
                created += t->types[i].n;
            else
                others += t->types[i].n;
            if (i > 0 && strcmp(t->types[i - 1].event_type, t->types[i].event_type) >= 0)
                return false;
        }
        return t->users == 1 && t->urls == 1 && t->active_urls == 1 && t->events == 1 &&
               created == 1 && others == 0;
    }
    case LNK_OP_KEY_LIST:
        return LNK_OP_AS(op, key)->n_keys == 1 && str_is(LNK_OP_AS(op, key)->keys[0].name, "ops");
    default:
        return false;
    }
}

/* Through a worker connection, a write still goes to the writer, and a
 * point read sees it once it is done (inline on SQLite: see the SQLite
 * group). Lists, COUNT_ROWS, STATS and KEY_LIST are not point reads: they
 * go to the reader pool and complete on a reader thread even when a
 * connection is given, as does a point read submitted without one. */
static void test_reads_through_a_worker_connection(void **state)
{
    struct fixture *f = *state;
    struct lnk_store *s = f->s;
    struct lnk_store_conn *conn = NULL;
    struct done_probe p;
    CHECK(lnk_store_conn_open(s, &conn) == LNK_OK, "read connection opens");

    struct lnk_op_user *user = OP_NEW(LNK_OP_USER_CREATE, user);
    user->in.username = "alice";
    user->in.email = "alice@x.io";
    probe_init(&p);
    CHECK(submit_probed(s, conn, &user->op, &p) == LNK_OK && user->out.id > 0,
          "a write submitted with a connection is done");
    CHECK(!pthread_equal(p.thread, pthread_self()), "by the store, not on the calling thread");
    int64_t uid = user->out.id;
    probe_destroy(&p);
    OP_FREE(user);

    user = OP_NEW(LNK_OP_USER_GET, user);
    user->id = uid;
    probe_init(&p);
    CHECK(submit_probed(s, conn, &user->op, &p) == LNK_OK && str_is(user->out.username, "alice"),
          "a point read on the connection sees the committed write");
    CHECK(probe_calls(&p) == 1, "its done ran once");
    probe_destroy(&p);
    OP_FREE(user);

    struct lnk_op_url *url = create_url(s, uid, "https://example.com/", NULL);
    struct lnk_op_url *get = OP_NEW(LNK_OP_URL_BY_CODE, url);
    get->code = url->out.short_code;
    probe_init(&p);
    CHECK(submit_probed(s, conn, &get->op, &p) == LNK_OK && get->out.id == url->out.id,
          "committed write visible to readers");
    probe_destroy(&p);
    OP_FREE(get);
    OP_FREE(url);

    struct lnk_op_key *key = OP_NEW(LNK_OP_KEY_CREATE, key);
    key->in = (struct lnk_api_key){.name = "ops", .prefix = "lnk_0011", .admin = true};
    key->key_hash = KEY_HASH;
    CHECK(OP_RUN(s, key) == LNK_OK && key->out.id > 0, "a key");
    OP_FREE(key);

    static const enum lnk_op_kind pooled[] = {LNK_OP_USER_LIST,  LNK_OP_URL_LIST, LNK_OP_EVENT_LIST,
                                              LNK_OP_COUNT_ROWS, LNK_OP_STATS,    LNK_OP_KEY_LIST};
    for (size_t i = 0; i < sizeof(pooled) / sizeof(pooled[0]); i++) {
        struct lnk_store_op *op = lnk_store_op_new(pooled[i]);
        probe_init(&p);
        int rc = submit_probed(s, conn, op, &p);
        if (rc != LNK_OK || pthread_equal(p.thread, pthread_self()) || !holds_the_rows(op))
            print_error("kind %d: rc %d (%s)\n", (int)pooled[i], rc, lnk_strerror(rc));
        CHECK(rc == LNK_OK, "a read that is not a point read succeeds on a connection");
        CHECK(!pthread_equal(p.thread, pthread_self()), "on a reader thread, not inline");
        CHECK(probe_calls(&p) == 1, "its done ran once");
        CHECK(holds_the_rows(op), "with its rows");
        probe_destroy(&p);
        lnk_store_op_free(op);
    }

    user = OP_NEW(LNK_OP_USER_GET, user);
    user->id = uid;
    probe_init(&p);
    CHECK(submit_probed(s, NULL, &user->op, &p) == LNK_OK && str_is(user->out.username, "alice"),
          "a point read without a connection succeeds");
    CHECK(!pthread_equal(p.thread, pthread_self()), "on a reader thread");
    probe_destroy(&p);
    OP_FREE(user);
    lnk_store_conn_close(conn);
}

/* An executor that queues posted tasks for the test thread to run. */
struct test_exec {
    struct lnk_exec ex;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct lnk_task *tasks[8];
    size_t n;
};

static void test_exec_post(struct lnk_exec *ex, struct lnk_task *t)
{
    struct test_exec *te = (struct test_exec *)ex;
    pthread_mutex_lock(&te->mu);
    if (te->n < 8)
        te->tasks[te->n++] = t;
    pthread_cond_signal(&te->cv);
    pthread_mutex_unlock(&te->mu);
}

static void test_exec_wait(struct test_exec *te, size_t n)
{
    pthread_mutex_lock(&te->mu);
    while (te->n < n)
        pthread_cond_wait(&te->cv, &te->mu);
    pthread_mutex_unlock(&te->mu);
}

static void test_completion_is_posted_to_origin(void **state)
{
    struct fixture *f = *state;
    struct test_exec te = {.ex = {.post = test_exec_post}};
    pthread_mutex_init(&te.mu, NULL);
    pthread_cond_init(&te.cv, NULL);
    struct done_probe probe;
    probe_init(&probe);

    struct lnk_op_user *op = OP_NEW(LNK_OP_USER_CREATE, user);
    op->in.username = "alice";
    op->in.email = "alice@x.io";
    op->op.done = record_done;
    op->op.udata = &probe;
    op->op.origin = &te.ex;
    lnk_store_submit(f->s, NULL, &op->op);

    test_exec_wait(&te, 1);
    CHECK(probe_calls(&probe) == 0, "done has not run on the store thread");
    CHECK(te.n == 1, "one task posted");
    te.tasks[0]->run(te.tasks[0]);
    CHECK(probe_calls(&probe) == 1, "done ran once, from the origin's task");
    CHECK(pthread_equal(probe.thread, pthread_self()), "on the origin's thread");
    CHECK(op->op.rc == LNK_OK && op->out.id > 0, "with the result");
    OP_FREE(op);
    probe_destroy(&probe);

    /* a read of the reader pool is posted to its origin too */
    probe_init(&probe);
    struct lnk_op_counts *c = OP_NEW(LNK_OP_COUNT_ROWS, counts);
    c->op.done = record_done;
    c->op.udata = &probe;
    c->op.origin = &te.ex;
    lnk_store_submit(f->s, NULL, &c->op);
    test_exec_wait(&te, 2);
    CHECK(probe_calls(&probe) == 0, "a pooled read's done has not run on the reader");
    CHECK(te.n == 2, "one more task posted");
    te.tasks[1]->run(te.tasks[1]);
    CHECK(probe_calls(&probe) == 1 && pthread_equal(probe.thread, pthread_self()),
          "done ran once, on the origin's thread");
    CHECK(c->op.rc == LNK_OK && c->users == 1, "with the result");
    OP_FREE(c);
    probe_destroy(&probe);
    pthread_cond_destroy(&te.cv);
    pthread_mutex_destroy(&te.mu);
}

/* Close completes every op submitted before it exactly once: the writes
 * after they are durable, the reads with their answer or LNK_ECANCELED
 * (store.h: queued reads are dropped at close). */
static void test_close_completes_every_queued_op(void **state)
{
    struct fixture *f = *state;
    enum { N = 250, EVERY = 5 }; /* 200 writes, 50 reads */
    struct done_probe probes[N];
    struct lnk_store_op *ops[N];
    size_t writes = 0;
    for (size_t i = 0; i < N; i++) {
        probe_init(&probes[i]);
        if (i % EVERY == EVERY - 1) {
            ops[i] = lnk_store_op_new(LNK_OP_COUNT_ROWS);
        } else {
            char name[16];
            snprintf(name, sizeof(name), "u%zu", i);
            struct lnk_op_user *u = OP_NEW(LNK_OP_USER_CREATE, user);
            u->in.username = lnk_arena_strdup(&u->op.arena, name);
            u->in.email = lnk_arena_strdup(&u->op.arena, name);
            ops[i] = &u->op;
            writes++;
        }
        ops[i]->done = record_done;
        ops[i]->udata = &probes[i];
        lnk_store_submit(f->s, NULL, ops[i]);
    }
    lnk_store_close(f->s);
    f->s = NULL;
    size_t ok_writes = 0, ok_reads = 0;
    for (size_t i = 0; i < N; i++) {
        bool once = probe_calls(&probes[i]) == 1;
        if (ops[i]->kind == LNK_OP_USER_CREATE)
            ok_writes += once && ops[i]->rc == LNK_OK;
        else
            ok_reads += once && (ops[i]->rc == LNK_OK || ops[i]->rc == LNK_ECANCELED);
        lnk_store_op_free(ops[i]);
        probe_destroy(&probes[i]);
    }
    CHECK(ok_writes == writes, "every queued write completed once, successfully");
    CHECK(ok_reads == N - writes, "every queued read completed once, answered or cancelled");
    CHECK(open_store(f) == LNK_OK, "reopen");
    struct row_counts c = count_rows(f->s);
    CHECK(c.users == (int64_t)writes, "and all of the writes are on disk");
}

/* ---- SQLite only --------------------------------------------------------- */

static void test_open_sqlite_rejects_empty_and_uncreatable_paths(void **state)
{
    (void)sqlite_only(state);
    struct lnk_store *s = NULL;
    char err[256] = "";
    struct lnk_store_config cfg = {.url = "sqlite://", .synchronous_full = 1};
    CHECK(lnk_store_open(&cfg, &s, err, sizeof(err)) == LNK_EINVAL, "an empty path is EINVAL");
    CHECK(s == NULL, "no store on failure");
    cfg.url = "/nonexistent-dir-linkd/x.db";
    int rc = lnk_store_open(&cfg, &s, err, sizeof(err));
    CHECK(rc == LNK_EUNAVAIL || rc == LNK_EBACKEND, "a path that cannot be created fails");
    CHECK(s == NULL, "no store on failure");
}

static void test_open_accepts_bare_and_relative_paths(void **state)
{
    struct fixture *f = sqlite_only(state);
    char path[160], err[256] = "";
    struct lnk_store *s = NULL;
    snprintf(path, sizeof(path), "%s/bare.db", f->t.dir);
    struct lnk_store_config cfg = {.url = path, .synchronous_full = 0};
    CHECK(lnk_store_open(&cfg, &s, err, sizeof(err)) == LNK_OK, "a bare path opens SQLite");
    CHECK(str_is(lnk_store_backend_name(s), "sqlite"), "the backend is sqlite");
    lnk_store_close(s);
    tmp_db_remove_files(path);

    char cwd[512];
    CHECK(getcwd(cwd, sizeof(cwd)) != NULL, "getcwd");
    CHECK(chdir(f->t.dir) == 0, "chdir into the temp dir");
    cfg.url = "sqlite://./rel.db";
    int rc = lnk_store_open(&cfg, &s, err, sizeof(err));
    if (rc == LNK_OK)
        lnk_store_close(s);
    tmp_db_remove_files("rel.db");
    CHECK(chdir(cwd) == 0, "chdir back");
    CHECK(rc == LNK_OK, "sqlite://./rel.db opens a relative path");
}

/* SQLite reads inline: each point read submitted with a worker connection
 * is done, on the calling thread, before lnk_store_submit returns. */
static void test_point_reads_run_inline_on_a_worker_connection(void **state)
{
    struct fixture *f = sqlite_only(state);
    struct lnk_store *s = f->s;
    CHECK(str_is(lnk_store_backend_name(s), "sqlite"), "the store is SQLite");
    int64_t uid = add_user(s, "alice");
    struct lnk_op_url *url = create_url(s, uid, "https://example.com/", NULL);
    CHECK(url->op.rc == LNK_OK, "a url");
    struct lnk_op_list *ev = list_events(s, url->out.id, 0, "created");
    CHECK(ev->op.rc == LNK_OK && ev->n_rows == 1, "its created event");
    struct lnk_store_conn *conn = NULL;
    CHECK(lnk_store_conn_open(s, &conn) == LNK_OK, "read connection opens");

    static const enum lnk_op_kind point[] = {LNK_OP_PING,        LNK_OP_USER_GET,  LNK_OP_URL_GET,
                                             LNK_OP_URL_BY_CODE, LNK_OP_EVENT_GET, LNK_OP_URL_STATS,
                                             LNK_OP_KEY_AUTH};
    for (size_t i = 0; i < sizeof(point) / sizeof(point[0]); i++) {
        struct lnk_store_op *op = lnk_store_op_new(point[i]);
        switch (point[i]) {
        case LNK_OP_USER_GET:
            LNK_OP_AS(op, user)->id = uid;
            break;
        case LNK_OP_URL_GET:
            LNK_OP_AS(op, url)->id = url->out.id;
            break;
        case LNK_OP_URL_BY_CODE:
            LNK_OP_AS(op, url)->code = url->out.short_code;
            break;
        case LNK_OP_EVENT_GET:
            LNK_OP_AS(op, event)->id = ev->events[0].id;
            break;
        case LNK_OP_URL_STATS:
            LNK_OP_AS(op, url_stats)->id = url->out.id;
            break;
        default: /* PING; KEY_AUTH without a key: the number of active keys */
            break;
        }
        struct done_probe p;
        probe_init(&p);
        int rc = submit_probed(s, conn, op, &p);
        if (rc != LNK_OK || p.calls_at_return != 1)
            print_error("kind %d: rc %d (%s)\n", (int)point[i], rc, lnk_strerror(rc));
        CHECK(p.calls_at_return == 1, "done ran before submit returned");
        CHECK(pthread_equal(p.thread, pthread_self()), "on the calling thread");
        CHECK(rc == LNK_OK, "with the row");
        probe_destroy(&p);
        lnk_store_op_free(op);
    }
    lnk_store_conn_close(conn);
    OP_FREE(ev);
    OP_FREE(url);
}

#define T(fn)  cmocka_unit_test_setup_teardown(fn, setup, teardown)
#define TS(fn) cmocka_unit_test_setup_teardown(fn, setup_sqlite, teardown)

/* ---- domains: codes per domain (ADR 0028) --------------------------------- */

static int64_t add_domain(struct lnk_store *s, const char *host)
{
    struct lnk_op_domain *op = OP_NEW(LNK_OP_DOMAIN_CREATE, domain);
    op->in.host = host;
    op->in.not_found_url = "https://example.com/nf";
    CHECK(OP_RUN(s, op) == LNK_OK, "DOMAIN_CREATE");
    CHECK(str_is(op->out.host, host) && op->out.created_at > 0, "the stored row");
    CHECK(str_is(op->out.not_found_url, "https://example.com/nf") && !op->out.root_url &&
              !op->out.fallback_url,
          "its URLs");
    int64_t id = op->out.id;
    OP_FREE(op);
    return id;
}

static struct lnk_op_url *create_on(struct lnk_store *s, int64_t user_id, int64_t domain_id,
                                    const char *code)
{
    struct lnk_op_url *op = OP_NEW(LNK_OP_URL_CREATE, url);
    op->in.user_id = user_id;
    op->in.original_url = "https://example.com/d";
    op->in.is_active = true;
    op->in.short_code = code;
    op->in.domain_id = domain_id;
    OP_RUN(s, op);
    return op;
}

static int64_t by_code(struct lnk_store *s, int64_t domain_id, const char *code)
{
    struct lnk_op_url *op = OP_NEW(LNK_OP_URL_BY_CODE, url);
    op->code = code;
    op->domain_id = domain_id;
    int64_t id = OP_RUN(s, op) == LNK_OK ? op->out.id : 0;
    CHECK(!id || op->out.domain_id == domain_id, "the url names its domain");
    OP_FREE(op);
    return id;
}

static int domain_rc(struct lnk_store *s, enum lnk_op_kind kind, int64_t id, const char **field)
{
    struct lnk_op_domain *op = OP_NEW(kind, domain);
    op->id = id;
    op->patch.set_fallback_url = true;
    op->patch.fallback_url = "https://example.com/fb";
    int rc = OP_RUN(s, op);
    *field = op->op.err_field ? (strcmp(op->op.err_field, "links") == 0 ? "links" : "other") : NULL;
    CHECK(rc != LNK_OK || kind != LNK_OP_DOMAIN_UPDATE ||
              str_is(op->out.fallback_url, "https://example.com/fb"),
          "DOMAIN_UPDATE writes the patch");
    OP_FREE(op);
    return rc;
}

static void test_codes_are_unique_per_domain(void **state)
{
    struct fixture *f = *state;
    const char *field = NULL;
    int64_t alice = add_user(f->s, "alice"), bob = add_user(f->s, "bob");
    int64_t a = add_domain(f->s, "a.example"), b = add_domain(f->s, "b.example");
    struct lnk_op_domain *dup = OP_NEW(LNK_OP_DOMAIN_CREATE, domain);
    dup->in.host = "a.example";
    CHECK(OP_RUN(f->s, dup) == LNK_EEXISTS && str_is(dup->op.err_field, "host"),
          "a listed host is EEXISTS (host)");
    OP_FREE(dup);

    struct lnk_op_url *d0 = create_on(f->s, alice, 0, "same");
    struct lnk_op_url *da = create_on(f->s, alice, a, "same");
    struct lnk_op_url *again = create_on(f->s, alice, a, "same");
    struct lnk_op_url *nowhere = create_on(f->s, alice, 999, "elsewhere");
    CHECK(d0->op.rc == LNK_OK && da->op.rc == LNK_OK, "one code on two domains");
    CHECK(da->out.domain_id == a && d0->out.domain_id == 0, "each names its domain");
    CHECK(again->op.rc == LNK_EEXISTS && str_is(again->op.err_field, "short_code"),
          "twice on one domain is EEXISTS");
    CHECK(nowhere->op.rc != LNK_OK, "a url on an unknown domain is refused");
    CHECK(by_code(f->s, 0, "same") == d0->out.id, "the default domain's");
    CHECK(by_code(f->s, a, "same") == da->out.id, "domain a's");
    CHECK(by_code(f->s, b, "same") == 0, "not on domain b");
    OP_FREE(d0);
    OP_FREE(again);
    OP_FREE(nowhere);

    CHECK(domain_rc(f->s, LNK_OP_DOMAIN_UPDATE, a, &field) == LNK_OK, "DOMAIN_UPDATE");
    CHECK(domain_rc(f->s, LNK_OP_DOMAIN_UPDATE, 999, &field) == LNK_ENOTFOUND, "unknown");
    CHECK(domain_rc(f->s, LNK_OP_DOMAIN_DELETE, a, &field) == LNK_EEXISTS && str_is(field, "links"),
          "a domain in use is not deleted");
    struct lnk_op_domain *list = OP_NEW(LNK_OP_DOMAIN_LIST, domain);
    CHECK(OP_RUN(f->s, list) == LNK_OK && list->n_domains == 2, "DOMAIN_LIST");
    CHECK(list->domains[0].id == a &&
              str_is(list->domains[0].fallback_url, "https://example.com/fb"),
          "in id order, as changed");
    OP_FREE(list);

    /* a deleted owner retires its codes on their domain only */
    struct lnk_op_user *del = OP_NEW(LNK_OP_USER_DELETE, user);
    del->id = alice;
    CHECK(OP_RUN(f->s, del) == LNK_OK, "USER_DELETE");
    OP_FREE(del);
    OP_FREE(da);
    struct lnk_op_url *re_a = create_on(f->s, bob, a, "same");
    struct lnk_op_url *re_0 = create_on(f->s, bob, 0, "same");
    struct lnk_op_url *on_b = create_on(f->s, bob, b, "same");
    CHECK(re_a->op.rc == LNK_EEXISTS && re_0->op.rc == LNK_EEXISTS, "retired where they were");
    CHECK(on_b->op.rc == LNK_OK, "free on another domain");
    OP_FREE(re_a);
    OP_FREE(re_0);
    OP_FREE(on_b);
    CHECK(domain_rc(f->s, LNK_OP_DOMAIN_DELETE, a, &field) == LNK_OK, "an unused domain goes");
    CHECK(domain_rc(f->s, LNK_OP_DOMAIN_DELETE, a, &field) == LNK_ENOTFOUND, "once");
}

/* ---- imports of domains and of urls on them (`linkd copy`) --------------- */

/* An import op of n domains or urls run; its rc, the field it names. */
static int import_rows(struct lnk_store *s, enum lnk_op_kind kind, void *rows, size_t n,
                       const char **field)
{
    struct lnk_op_rows *op = OP_NEW(kind, rows);
    op->rows.n = n;
    op->rows.domains = kind == LNK_OP_DOMAIN_IMPORT ? rows : NULL;
    op->rows.urls = kind == LNK_OP_URL_IMPORT ? rows : NULL;
    int rc = OP_RUN(s, op);
    CHECK(rc != LNK_OK || op->imported == (int64_t)n, "every row counted");
    *field = op->op.err_field; /* a literal of the rules */
    OP_FREE(op);
    return rc;
}

/* Whether url id is on domain_id with that code and those options. */
static bool url_is(struct lnk_store *s, int64_t id, int64_t domain_id, const char *code,
                   const char *opts)
{
    struct lnk_op_url *op = OP_NEW(LNK_OP_URL_GET, url);
    op->id = id;
    bool is = OP_RUN(s, op) == LNK_OK && op->out.domain_id == domain_id &&
              str_is(op->out.short_code, code) &&
              (opts ? str_is(op->out.opts, opts) : op->out.opts == NULL);
    OP_FREE(op);
    return is;
}

#define DM_URLS 18

static void test_imports_carry_domains_and_urls_on_them(void **state)
{
    struct fixture *f = *state;
    struct lnk_store *s = f->s;
    const char *field = NULL;
    int64_t alice = add_user(s, "alice");
    struct lnk_domain doms[] = {{.id = 7,
                                 .host = "a.example",
                                 .root_url = "https://example.com/a",
                                 .fallback_url = "https://example.com/fb",
                                 .created_at = 1700000001},
                                {.id = 9,
                                 .host = "b.example",
                                 .not_found_url = "https://example.com/nf",
                                 .created_at = 1700000002}};
    CHECK(import_rows(s, LNK_OP_DOMAIN_IMPORT, doms, 2, &field) == LNK_OK, "DOMAIN_IMPORT");
    CHECK(import_rows(s, LNK_OP_DOMAIN_IMPORT, doms, 2, &field) == LNK_OK, "and again");
    struct lnk_op_domain *list = OP_NEW(LNK_OP_DOMAIN_LIST, domain);
    CHECK(OP_RUN(s, list) == LNK_OK && list->n_domains == 2, "two domains");
    const struct lnk_domain *a = &list->domains[0], *b = &list->domains[1];
    CHECK(a->id == 7 && str_is(a->host, "a.example") &&
              str_is(a->root_url, "https://example.com/a") && !a->not_found_url &&
              str_is(a->fallback_url, "https://example.com/fb") && a->created_at == 1700000001,
          "the first keeps its id and every field");
    CHECK(b->id == 9 && str_is(b->host, "b.example") && !b->root_url &&
              str_is(b->not_found_url, "https://example.com/nf") && !b->fallback_url &&
              b->created_at == 1700000002,
          "the second too");
    OP_FREE(list);
    struct lnk_domain clash = {.id = 10, .host = "a.example", .created_at = 1};
    CHECK(import_rows(s, LNK_OP_DOMAIN_IMPORT, &clash, 1, &field) == LNK_EEXISTS &&
              str_is(field, "host"),
          "a host another domain holds is EEXISTS (host)");
    struct lnk_domain no_id = {.host = "c.example", .created_at = 1};
    CHECK(import_rows(s, LNK_OP_DOMAIN_IMPORT, &no_id, 1, &field) == LNK_EINVAL &&
              str_is(field, "domain"),
          "a domain without an id is EINVAL (domain)");
    CHECK(count_rows(s).domains == 2, "neither was written");
    CHECK(add_domain(s, "after.example") > 9, "a new domain's id comes after the imported ones");

    /* one code on the default domain and on both domains, options on every
     * other url: a chunk that goes in as one set, then a url alone */
    static struct lnk_url urls[DM_URLS];
    static char codes[DM_URLS][8];
    for (size_t i = 0; i < DM_URLS; i++) {
        snprintf(codes[i], sizeof(codes[i]), "Dm%04zu", i);
        urls[i] = (struct lnk_url){.id = 100 + (int64_t)i,
                                   .user_id = alice,
                                   .short_code = i < 3 ? "same" : codes[i],
                                   .original_url = "https://example.com/d",
                                   .is_active = i != 4,
                                   .created_at = 1700000100,
                                   .updated_at = 1700000200,
                                   .opts = i % 2 ? "{\"tags\":[\"x\"]}" : NULL,
                                   .domain_id = i % 3 == 0   ? 0
                                                : i % 3 == 1 ? 7
                                                             : 9};
    }
    CHECK(import_rows(s, LNK_OP_URL_IMPORT, urls, DM_URLS, &field) == LNK_OK,
          "a chunk of urls on three domains");
    CHECK(by_code(s, 0, "same") == 100 && by_code(s, 7, "same") == 101 &&
              by_code(s, 9, "same") == 102,
          "one code on each domain");
    CHECK(url_is(s, 101, 7, "same", "{\"tags\":[\"x\"]}") && url_is(s, 100, 0, "same", NULL) &&
              url_is(s, 105, 9, "Dm0005", "{\"tags\":[\"x\"]}"),
          "each url on its domain, with its options");
    struct lnk_url one = urls[4];
    one.id = 200;
    one.short_code = "solo";
    one.domain_id = 9;
    CHECK(import_rows(s, LNK_OP_URL_IMPORT, &one, 1, &field) == LNK_OK &&
              url_is(s, 200, 9, "solo", NULL),
          "a url alone, on its domain");
    struct row_counts c = count_rows(s);
    CHECK(import_rows(s, LNK_OP_URL_IMPORT, urls, DM_URLS, &field) == LNK_OK &&
              count_rows(s).urls == c.urls && by_code(s, 7, "same") == 101,
          "the same chunk again changes nothing");

    /* no domain (as CSV imports and the root API write urls) keeps a url's */
    static struct lnk_url plain[DM_URLS];
    memcpy(plain, urls, sizeof(plain));
    for (size_t i = 0; i < DM_URLS; i++) {
        plain[i].domain_id = 0;
        plain[i].short_code = i < 3 ? codes[i] : urls[i].short_code; /* no code twice */
    }
    CHECK(import_rows(s, LNK_OP_URL_IMPORT, plain + 1, DM_URLS - 1, &field) == LNK_OK,
          "a chunk of urls without their domain");
    CHECK(url_is(s, 101, 7, "Dm0001", "{\"tags\":[\"x\"]}") && url_is(s, 102, 9, "Dm0002", NULL) &&
              url_is(s, 107, 7, "Dm0007", "{\"tags\":[\"x\"]}"),
          "each keeps its domain (a code changed on it)");
    one.domain_id = 0;
    CHECK(import_rows(s, LNK_OP_URL_IMPORT, &one, 1, &field) == LNK_OK &&
              url_is(s, 200, 9, "solo", NULL),
          "a url alone too");

    /* refusals, alone and in a set; a retired code of a domain */
    struct lnk_url bad = one;
    bad.id = 300;
    bad.short_code = "nodom";
    bad.domain_id = 999;
    CHECK(import_rows(s, LNK_OP_URL_IMPORT, &bad, 1, &field) == LNK_EINVAL &&
              str_is(field, "domain"),
          "a url of an unknown domain is EINVAL (domain)");
    bad.domain_id = 9;
    bad.short_code = "solo";
    CHECK(import_rows(s, LNK_OP_URL_IMPORT, &bad, 1, &field) == LNK_EEXISTS &&
              str_is(field, "short_code"),
          "a code another url holds on the domain is EEXISTS (short_code)");
    static struct lnk_url set[DM_URLS];
    static char set_codes[DM_URLS][8];
    for (size_t i = 0; i < DM_URLS; i++) {
        snprintf(set_codes[i], sizeof(set_codes[i]), "Ns%04zu", i);
        set[i] = urls[i];
        set[i].id = 400 + (int64_t)i;
        set[i].short_code = set_codes[i];
    }
    set[5].short_code = "Dm0005"; /* url 105's, on domain 9 */
    CHECK(import_rows(s, LNK_OP_URL_IMPORT, set, DM_URLS, &field) == LNK_EEXISTS &&
              str_is(field, "short_code"),
          "in a set too");
    set[5].short_code = set_codes[5];
    set[6].domain_id = 999;
    CHECK(import_rows(s, LNK_OP_URL_IMPORT, set, DM_URLS, &field) == LNK_EINVAL &&
              str_is(field, "domain"),
          "an unknown domain in a set too");
    CHECK(count_rows(s).urls == c.urls, "nothing of those was written");
    const char *retired[] = {"7:gone"};
    CHECK(import_codes(s, retired, 1) == LNK_OK, "a retired code of domain 7");
    struct lnk_op_url *on_a = create_on(s, alice, 7, "gone");
    struct lnk_op_url *on_b = create_on(s, alice, 9, "gone");
    CHECK(on_a->op.rc == LNK_EEXISTS && on_b->op.rc == LNK_OK,
          "it stays retired on its domain only");
    OP_FREE(on_a);
    OP_FREE(on_b);
}

int main(void)
{
    const struct CMUnitTest contract[] = {
        T(test_open_rejects_unsupported_scheme),
        T(test_unknown_ids_return_not_found),
        T(test_user_conflicts_name_the_field),
        T(test_custom_code_taken_is_exists),
        T(test_codes_are_unique_per_domain),
        T(test_imports_carry_domains_and_urls_on_them),
        T(test_url_delete_twice_is_idempotent),
        T(test_user_delete_cascades_to_urls_and_events),
        T(test_user_import_upserts_and_skips_conflicts),
        T(test_imports_are_strict_about_references),
        T(test_url_create_writes_created_event),
        T(test_url_update_records_only_changed_fields),
        T(test_event_create_defaults),
        T(test_clicks_append_drops_vanished_urls),
        T(test_clicks_append_keeps_order_across_chunks),
        T(test_clicks_append_orders_by_time_owner_url),
        T(test_clicks_append_orders_across_chunks),
        T(test_url_stats_of_an_unknown_url_is_not_found),
        T(test_clicks_roll_up_per_link_and_day),
        T(test_event_import_keeps_click_rollups_exact),
        T(test_import_sets_upsert_and_keep_rollups_exact),
        T(test_import_sets_refuse_as_rows_do),
        T(test_key_import_keeps_every_field_and_the_hash),
        T(test_slot_import_sets_each_count),
        T(test_retired_codes_list_and_import),
        T(test_list_filters_and_paging),
        T(test_event_lists_cross_id_buckets),
        T(test_click_batch_across_a_bucket_edge_is_listed_whole),
        T(test_generated_codes_are_distinct_and_six_alnum),
        T(test_sequences_continue_past_imported_ids),
        T(test_failed_op_does_not_spoil_its_batch),
        T(test_concurrent_creates_get_distinct_ids_and_codes),
        T(test_reopen_keeps_data_and_never_reissues_codes),
        T(test_an_exhausted_user_id_space_fails_its_op_alone),
        T(test_an_exhausted_event_id_space_fails_each_op_that_adds_events),
        T(test_the_last_id_is_handed_out_once),
        T(test_ping_and_count_rows),
        T(test_reads_through_a_worker_connection),
        T(test_completion_is_posted_to_origin),
        T(test_close_completes_every_queued_op),
    };
    /* file paths and inline reads: skipped, with a message, on other backends */
    const struct CMUnitTest sqlite_only_tests[] = {
        TS(test_open_sqlite_rejects_empty_and_uncreatable_paths),
        TS(test_open_accepts_bare_and_relative_paths),
        TS(test_point_reads_run_inline_on_a_worker_connection),
    };
    const char *env = test_db_env_url();
    char scheme[32];
    if (env) {
        test_db_scheme(env, scheme, sizeof(scheme));
        print_message("[   INFO   ] database under test: %s (from %s)\n", scheme, TEST_DB_ENV);
    } else {
        print_message("[   INFO   ] database under test: a SQLite file per test (%s unset)\n",
                      TEST_DB_ENV);
    }
    int failed = cmocka_run_group_tests_name("store_contract", contract, NULL, NULL);
    failed += cmocka_run_group_tests_name("store_contract_sqlite", sqlite_only_tests, NULL, NULL);
    return failed != 0;
}
