/* SPDX-License-Identifier: MIT */
/* The store contract (include/linkd/store.h, CONTRACT.md §3-§4), checked
 * through the public header against a SQLite file in a fresh temporary
 * directory per test: every op kind, error cases first, then group commit,
 * concurrency, completion on the origin executor and reopening. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "tmp_db.h"
#include "linkd/err.h"
#include "linkd/shortcode.h"
#include "linkd/store.h"

struct fixture {
    struct tmp_db t;
    struct lnk_store *s;
};

static int open_store(struct fixture *f)
{
    char url[160], err[256] = "";
    snprintf(url, sizeof(url), "sqlite://%s", f->t.path);
    struct lnk_store_config cfg = {.url = url, .synchronous_full = 1, .max_batch = 0};
    int rc = lnk_store_open(&cfg, &f->s, err, sizeof(err));
    if (rc != LNK_OK)
        print_error("lnk_store_open: %s\n", err);
    return rc;
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    if (!f)
        return -1;
    if (tmp_db_make(&f->t, "test.db") != 0) {
        free(f);
        return -1;
    }
    *state = f;
    return open_store(f) == LNK_OK ? 0 : -1;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    lnk_store_close(f->s);
    tmp_db_remove(&f->t);
    free(f);
    return 0;
}

/* ---- helpers -------------------------------------------------------------- */

static struct lnk_store_op *run(struct lnk_store *s, struct lnk_store_op *op)
{
    lnk_store_run(s, op);
    return op;
}

static int64_t add_user(struct lnk_store *s, const char *name)
{
    char email[128];
    snprintf(email, sizeof(email), "%s@example.com", name);
    struct lnk_store_op *op = lnk_store_op_new(LNK_OP_USER_CREATE);
    op->user.username = name;
    op->user.email = email;
    int64_t id = run(s, op)->rc == LNK_OK ? op->users[0].id : -1;
    lnk_store_op_free(op);
    return id;
}

/* A URL_CREATE op already run; the caller frees it. */
static struct lnk_store_op *create_url(struct lnk_store *s, int64_t user_id, const char *target,
                                       const char *code)
{
    struct lnk_store_op *op = lnk_store_op_new(LNK_OP_URL_CREATE);
    op->url.user_id = user_id;
    op->url.original_url = target;
    op->url.title = "t";
    op->url.is_active = true;
    op->url.short_code = code;
    return run(s, op);
}

static int64_t add_url(struct lnk_store *s, int64_t user_id, const char *target)
{
    struct lnk_store_op *op = create_url(s, user_id, target, NULL);
    int64_t id = op->rc == LNK_OK ? op->urls[0].id : -1;
    lnk_store_op_free(op);
    return id;
}

/* An EVENT_LIST op already run with these filters (0/NULL: any). */
static struct lnk_store_op *list_events(struct lnk_store *s, int64_t url_id, int64_t user_id,
                                        const char *type)
{
    struct lnk_store_op *op = lnk_store_op_new(LNK_OP_EVENT_LIST);
    op->in.list.is_active = -1;
    op->in.list.has_url_id = url_id != 0;
    op->in.list.url_id = url_id;
    op->in.list.has_user_id = user_id != 0;
    op->in.list.user_id = user_id;
    op->in.list.event_type = type;
    return run(s, op);
}

/* Appends n clicks as one batch; returns how many were written, -1 when the
 * append failed. */
static int64_t append_clicks(struct lnk_store *s, const struct lnk_click *clicks, size_t n)
{
    struct lnk_store_op *op = lnk_store_op_new(LNK_OP_CLICKS_APPEND);
    op->clicks = clicks;
    op->n_clicks = n;
    int64_t written = run(s, op)->rc == LNK_OK ? op->imported : -1;
    lnk_store_op_free(op);
    return written;
}

static size_t count_events(struct lnk_store *s, int64_t url_id, const char *type)
{
    struct lnk_store_op *op = list_events(s, url_id, 0, type);
    size_t n = op->rc == LNK_OK ? op->n_rows : (size_t)-1;
    lnk_store_op_free(op);
    return n;
}

static void counts(struct lnk_store *s, int64_t out[3])
{
    struct lnk_store_op *op = run(s, lnk_store_op_new(LNK_OP_COUNT_ROWS));
    CHECK(op->rc == LNK_OK, "COUNT_ROWS succeeds");
    memcpy(out, op->counts, sizeof(op->counts));
    lnk_store_op_free(op);
}

static int op_rc(struct lnk_store *s, enum lnk_op_kind kind, int64_t id)
{
    struct lnk_store_op *op = lnk_store_op_new(kind);
    op->in.id = id;
    int rc = run(s, op)->rc;
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

static void test_open_rejects_unsupported_scheme(void **state)
{
    (void)state;
    struct lnk_store *s = NULL;
    char err[256] = "";
    struct lnk_store_config cfg = {.url = "postgres://db/linkd", .synchronous_full = 1};
    CHECK(lnk_store_open(&cfg, &s, err, sizeof(err)) == LNK_EINVAL, "postgres:// is EINVAL");
    CHECK(s == NULL, "no store on failure");
    CHECK(strstr(err, "unsupported DATABASE_URL scheme") != NULL, "the message names the cause");
    cfg.url = "sqlite://";
    CHECK(lnk_store_open(&cfg, &s, err, sizeof(err)) == LNK_EINVAL, "an empty path is EINVAL");
    cfg.url = "";
    CHECK(lnk_store_open(&cfg, &s, err, sizeof(err)) == LNK_EINVAL, "an empty url is EINVAL");
    cfg.url = "/nonexistent-dir-linkd/x.db";
    int rc = lnk_store_open(&cfg, &s, err, sizeof(err));
    CHECK(rc == LNK_EUNAVAIL || rc == LNK_EBACKEND, "a path that cannot be created fails");
    CHECK(s == NULL, "no store on failure");
}

static void test_open_accepts_bare_and_relative_paths(void **state)
{
    struct fixture *f = *state;
    char path[160], err[256] = "";
    struct lnk_store *s = NULL;
    snprintf(path, sizeof(path), "%s/bare.db", f->t.dir);
    struct lnk_store_config cfg = {.url = path, .synchronous_full = 0};
    CHECK(lnk_store_open(&cfg, &s, err, sizeof(err)) == LNK_OK, "a bare path opens SQLite");
    CHECK(strcmp(lnk_store_backend_name(s), "sqlite") == 0, "the backend is sqlite");
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

static void test_unknown_ids_return_not_found(void **state)
{
    struct fixture *f = *state;
    struct lnk_store *s = f->s;
    CHECK(op_rc(s, LNK_OP_USER_GET, 999) == LNK_ENOTFOUND, "USER_GET unknown");
    CHECK(op_rc(s, LNK_OP_USER_DELETE, 999) == LNK_ENOTFOUND, "USER_DELETE unknown");
    CHECK(op_rc(s, LNK_OP_URL_GET, 999) == LNK_ENOTFOUND, "URL_GET unknown");
    CHECK(op_rc(s, LNK_OP_URL_DELETE, 999) == LNK_ENOTFOUND, "URL_DELETE unknown");

    struct lnk_store_op *op = lnk_store_op_new(LNK_OP_USER_UPDATE);
    op->in.id = 999;
    op->user.username = "x";
    CHECK(run(s, op)->rc == LNK_ENOTFOUND, "USER_UPDATE unknown");
    CHECK(op->err_field && strcmp(op->err_field, "user") == 0, "err_field user");
    lnk_store_op_free(op);

    op = lnk_store_op_new(LNK_OP_URL_UPDATE);
    op->in.id = 999;
    op->url_patch.set_title = true;
    CHECK(run(s, op)->rc == LNK_ENOTFOUND, "URL_UPDATE unknown");
    CHECK(op->err_field && strcmp(op->err_field, "url") == 0, "err_field url");
    lnk_store_op_free(op);

    op = lnk_store_op_new(LNK_OP_URL_BY_CODE);
    op->in.code = "nope42";
    CHECK(run(s, op)->rc == LNK_ENOTFOUND, "URL_BY_CODE unknown");
    lnk_store_op_free(op);

    op = create_url(s, 999, "https://example.com/", NULL);
    CHECK(op->rc == LNK_ENOTFOUND, "URL_CREATE for an unknown user");
    CHECK(op->err_field && strcmp(op->err_field, "user") == 0, "err_field user");
    CHECK(op->n_rows == 0, "no row on failure");
    lnk_store_op_free(op);

    op = lnk_store_op_new(LNK_OP_EVENT_CREATE);
    op->event.url_id = 999;
    op->event.event_type = "share";
    CHECK(run(s, op)->rc == LNK_ENOTFOUND, "EVENT_CREATE for an unknown url");
    CHECK(op->err_field && strcmp(op->err_field, "url") == 0, "err_field url");
    lnk_store_op_free(op);

    int64_t uid = add_user(s, "alice");
    int64_t url_id = add_url(s, uid, "https://example.com/a");
    op = lnk_store_op_new(LNK_OP_EVENT_CREATE);
    op->event.url_id = url_id;
    op->event.user_id = 999;
    op->event.event_type = "share";
    CHECK(run(s, op)->rc == LNK_ENOTFOUND, "EVENT_CREATE for an unknown user");
    CHECK(op->err_field && strcmp(op->err_field, "user") == 0, "err_field user");
    lnk_store_op_free(op);

    int64_t c[3];
    counts(s, c);
    CHECK(c[0] == 1 && c[1] == 1 && c[2] == 1, "failed ops left no rows behind");
}

static void test_user_conflicts_name_the_field(void **state)
{
    struct fixture *f = *state;
    struct lnk_store *s = f->s;
    int64_t alice = add_user(s, "alice");
    int64_t bob = add_user(s, "bob");
    CHECK(alice > 0 && bob > 0 && alice != bob, "two users created");

    struct lnk_store_op *op = lnk_store_op_new(LNK_OP_USER_CREATE);
    op->user.username = "alice";
    op->user.email = "other@example.com";
    CHECK(run(s, op)->rc == LNK_EEXISTS, "duplicate username is EEXISTS");
    CHECK(strcmp(op->err_field, "username") == 0, "err_field username");
    lnk_store_op_free(op);

    op = lnk_store_op_new(LNK_OP_USER_CREATE);
    op->user.username = "carol";
    op->user.email = "bob@example.com";
    CHECK(run(s, op)->rc == LNK_EEXISTS, "duplicate email is EEXISTS");
    CHECK(strcmp(op->err_field, "email") == 0, "err_field email");
    lnk_store_op_free(op);

    op = lnk_store_op_new(LNK_OP_USER_UPDATE);
    op->in.id = bob;
    op->user.email = "alice@example.com";
    CHECK(run(s, op)->rc == LNK_EEXISTS, "updating to a taken email is EEXISTS");
    CHECK(strcmp(op->err_field, "email") == 0, "err_field email");
    lnk_store_op_free(op);

    op = lnk_store_op_new(LNK_OP_USER_UPDATE);
    op->in.id = bob;
    op->user.username = "bob"; /* its own name is not a conflict */
    op->user.email = "robert@example.com";
    CHECK(run(s, op)->rc == LNK_OK, "update to own name and a new email");
    CHECK(op->n_rows == 1 && strcmp(op->users[0].email, "robert@example.com") == 0,
          "returns the updated row");
    CHECK(strcmp(op->users[0].username, "bob") == 0, "username unchanged");
    lnk_store_op_free(op);

    op = lnk_store_op_new(LNK_OP_USER_UPDATE);
    op->in.id = alice;
    CHECK(run(s, op)->rc == LNK_OK, "an empty update succeeds");
    CHECK(op->n_rows == 1 && strcmp(op->users[0].username, "alice") == 0, "unchanged row");
    lnk_store_op_free(op);
}

static void test_custom_code_taken_is_exists(void **state)
{
    struct fixture *f = *state;
    int64_t uid = add_user(f->s, "alice");
    struct lnk_store_op *op = create_url(f->s, uid, "https://example.com/1", "my-code");
    CHECK(op->rc == LNK_OK, "custom code accepted");
    CHECK(strcmp(op->urls[0].short_code, "my-code") == 0, "custom code kept");
    lnk_store_op_free(op);

    op = create_url(f->s, uid, "https://example.com/2", "my-code");
    CHECK(op->rc == LNK_EEXISTS, "taken custom code is EEXISTS");
    CHECK(strcmp(op->err_field, "short_code") == 0, "err_field short_code");
    lnk_store_op_free(op);

    op = create_url(f->s, uid, "https://example.com/3", "My-Code");
    CHECK(op->rc == LNK_OK, "codes are case-sensitive");
    lnk_store_op_free(op);

    op = lnk_store_op_new(LNK_OP_URL_CREATE); /* store.h also names in.code */
    op->url.user_id = uid;
    op->url.original_url = "https://example.com/4";
    op->in.code = "via-in";
    CHECK(run(f->s, op)->rc == LNK_OK && strcmp(op->urls[0].short_code, "via-in") == 0,
          "in.code is taken as the custom code too");
    lnk_store_op_free(op);

    op = lnk_store_op_new(LNK_OP_URL_BY_CODE);
    op->in.code = "MY-CODE";
    CHECK(run(f->s, op)->rc == LNK_ENOTFOUND, "lookup is case-sensitive");
    lnk_store_op_free(op);
}

static void test_url_delete_twice_is_idempotent(void **state)
{
    struct fixture *f = *state;
    int64_t uid = add_user(f->s, "alice");
    int64_t id = add_url(f->s, uid, "https://example.com/");
    struct lnk_store_op *op = lnk_store_op_new(LNK_OP_URL_DELETE);
    op->in.id = id;
    CHECK(run(f->s, op)->rc == LNK_OK, "first delete");
    CHECK(op->n_rows == 1 && !op->urls[0].is_active, "returns the now inactive row");
    CHECK(run(f->s, op)->rc == LNK_OK, "second delete is OK too");
    lnk_store_op_free(op);
    CHECK(count_events(f->s, id, "deleted") == 1, "exactly one deleted event");

    struct lnk_store_op *ev = list_events(f->s, id, 0, "deleted");
    CHECK(strcmp(ev->events[0].details, "{\"reason\":\"user_requested\"}") == 0, "reason");
    CHECK(ev->events[0].user_id == uid, "the event names the owner");
    lnk_store_op_free(ev);

    op = lnk_store_op_new(LNK_OP_URL_GET);
    op->in.id = id;
    CHECK(run(f->s, op)->rc == LNK_OK, "a soft-deleted url is still readable");
    CHECK(!op->urls[0].is_active, "is_active false");
    lnk_store_op_free(op);
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
    struct lnk_store_op *op = lnk_store_op_new(LNK_OP_EVENT_CREATE);
    op->event.url_id = b1;
    op->event.user_id = alice;
    op->event.event_type = "share";
    CHECK(run(s, op)->rc == LNK_OK, "event by alice on bob's url");
    lnk_store_op_free(op);

    op = lnk_store_op_new(LNK_OP_USER_DELETE);
    op->in.id = alice;
    CHECK(run(s, op)->rc == LNK_OK, "delete alice");
    CHECK(op->n_rows == 2 && op->urls[0].id == a1, "returns the urls it removed");
    lnk_store_op_free(op);

    int64_t c[3];
    counts(s, c);
    CHECK(c[0] == 1, "one user left");
    CHECK(c[1] == 1, "alice's urls are gone");
    CHECK(c[2] == 1, "only bob's created event is left");
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
    struct lnk_store_op *op = lnk_store_op_new(LNK_OP_USER_IMPORT);
    op->rows.n = 5;
    op->rows.users = users;
    op->rows.has_id = has_id;
    op->skipped = 4; /* rows the CSV parser already dropped */
    CHECK(run(s, op)->rc == LNK_OK, "import succeeds");
    CHECK(op->imported == 3, "three rows inserted or updated");
    CHECK(op->skipped == 4 + 2, "two conflicting rows added to the preset count");
    lnk_store_op_free(op);

    op = lnk_store_op_new(LNK_OP_USER_GET);
    op->in.id = 10;
    CHECK(run(s, op)->rc == LNK_OK, "row 10 exists");
    CHECK(strcmp(op->users[0].username, "u10b") == 0, "upsert updated the name");
    CHECK(op->users[0].created_at == 1700000000, "created_at kept when the row has none");
    lnk_store_op_free(op);

    op = lnk_store_op_new(LNK_OP_USER_GET);
    op->in.id = existing;
    CHECK(run(s, op)->rc == LNK_OK && strcmp(op->users[0].username, "taken") == 0,
          "the conflicting row did not overwrite the other user");
    lnk_store_op_free(op);
}

static void test_imports_are_strict_about_references(void **state)
{
    struct fixture *f = *state;
    struct lnk_url urls[] = {{.id = 5,
                              .user_id = 77,
                              .short_code = "abcDEF",
                              .original_url = "https://x.io",
                              .is_active = true}};
    struct lnk_store_op *op = lnk_store_op_new(LNK_OP_URL_IMPORT);
    op->rows.n = 1;
    op->rows.urls = urls;
    CHECK(run(f->s, op)->rc == LNK_EINVAL, "url of an unknown user is EINVAL");
    CHECK(strcmp(op->err_field, "user") == 0, "err_field user");
    lnk_store_op_free(op);

    struct lnk_event events[] = {{.id = 1, .url_id = 5, .event_type = "created"}};
    op = lnk_store_op_new(LNK_OP_EVENT_IMPORT);
    op->rows.n = 1;
    op->rows.events = events;
    CHECK(run(f->s, op)->rc == LNK_EINVAL, "event of an unknown url is EINVAL");
    CHECK(strcmp(op->err_field, "url") == 0, "err_field url");
    lnk_store_op_free(op);

    int64_t c[3];
    counts(f->s, c);
    CHECK(c[1] == 0 && c[2] == 0, "nothing was imported");
}

/* ---- normal paths ------------------------------------------------------- */

static void test_url_create_writes_created_event(void **state)
{
    struct fixture *f = *state;
    int64_t uid = add_user(f->s, "alice");
    struct lnk_store_op *a = create_url(f->s, uid, "https://example.com/same", NULL);
    struct lnk_store_op *b = create_url(f->s, uid, "https://example.com/same", NULL);
    CHECK(a->rc == LNK_OK && b->rc == LNK_OK, "two creates of one url succeed");
    const struct lnk_url *u = &a->urls[0];
    CHECK(a->urls[0].id != b->urls[0].id, "two rows");
    CHECK(strcmp(a->urls[0].short_code, b->urls[0].short_code) != 0, "two codes");
    CHECK(u->created_at == u->updated_at && u->created_at > 0, "created_at == updated_at");
    CHECK(u->is_active && u->user_id == uid && strcmp(u->title, "t") == 0, "fields stored");

    struct lnk_store_op *ev = list_events(f->s, u->id, 0, NULL);
    CHECK(ev->rc == LNK_OK && ev->n_rows == 1, "one event for the url");
    char want[256];
    snprintf(want, sizeof(want), "{\"short_code\":\"%s\",\"original_url\":\"%s\"}", u->short_code,
             u->original_url);
    CHECK(strcmp(ev->events[0].event_type, "created") == 0, "a created event");
    CHECK(strcmp(ev->events[0].details, want) == 0, "details hold short_code and original_url");
    CHECK(ev->events[0].user_id == uid, "event user is the owner");
    CHECK(ev->events[0].timestamp == u->created_at, "timestamp is created_at");
    lnk_store_op_free(ev);

    struct lnk_store_op *op = lnk_store_op_new(LNK_OP_URL_BY_CODE);
    op->in.code = b->urls[0].short_code;
    CHECK(run(f->s, op)->rc == LNK_OK && op->urls[0].id == b->urls[0].id, "lookup by code");
    lnk_store_op_free(op);
    lnk_store_op_free(a);
    lnk_store_op_free(b);
}

static void test_url_update_records_only_changed_fields(void **state)
{
    struct fixture *f = *state;
    struct lnk_store *s = f->s;
    int64_t uid = add_user(s, "alice");
    struct lnk_store_op *c = create_url(s, uid, "https://example.com/", NULL);
    int64_t id = c->urls[0].id, updated_at = c->urls[0].updated_at;
    lnk_store_op_free(c);

    struct lnk_store_op *op = lnk_store_op_new(LNK_OP_URL_UPDATE);
    op->in.id = id;
    op->url_patch.set_title = true;
    op->url_patch.title = "t"; /* same as before */
    op->url_patch.set_is_active = true;
    op->url_patch.is_active = true; /* same */
    op->url_patch.original_url = "https://example.com/";
    CHECK(run(s, op)->rc == LNK_OK, "no-op update succeeds");
    CHECK(op->urls[0].updated_at == updated_at, "updated_at unchanged");
    CHECK(count_events(s, id, "updated") == 0, "no updated event");
    lnk_store_op_free(op);

    op = lnk_store_op_new(LNK_OP_URL_UPDATE);
    op->in.id = id;
    op->url_patch.set_title = true;
    op->url_patch.title = NULL;
    op->url_patch.set_is_active = true;
    op->url_patch.is_active = false;
    op->url_patch.original_url = "https://example.org/new";
    CHECK(run(s, op)->rc == LNK_OK, "update of three fields");
    CHECK(op->urls[0].title == NULL, "title is null");
    CHECK(!op->urls[0].is_active, "inactive");
    CHECK(strcmp(op->urls[0].original_url, "https://example.org/new") == 0, "new target");
    CHECK(op->urls[0].updated_at >= updated_at, "updated_at moved");
    lnk_store_op_free(op);

    struct lnk_store_op *ev = list_events(s, id, 0, "updated");
    CHECK(ev->n_rows == 3, "one updated event per changed field");
    CHECK(strcmp(ev->events[0].details, "{\"field\":\"title\",\"new_value\":null}") == 0,
          "title null");
    CHECK(strcmp(ev->events[1].details, "{\"field\":\"is_active\",\"new_value\":\"false\"}") == 0,
          "is_active as a string");
    CHECK(strcmp(ev->events[2].details,
                 "{\"field\":\"original_url\",\"new_value\":\"https://example.org/new\"}") == 0,
          "original_url");
    lnk_store_op_free(ev);
}

static void test_event_create_defaults(void **state)
{
    struct fixture *f = *state;
    int64_t uid = add_user(f->s, "alice"), other = add_user(f->s, "bob");
    int64_t url_id = add_url(f->s, uid, "https://example.com/");
    struct lnk_store_op *op = lnk_store_op_new(LNK_OP_EVENT_CREATE);
    op->event.url_id = url_id;
    op->event.event_type = "share";
    CHECK(run(f->s, op)->rc == LNK_OK, "event created");
    CHECK(op->n_rows == 1 && op->events[0].user_id == uid, "user defaults to the owner");
    CHECK(strcmp(op->events[0].details, "{}") == 0, "details default to {}");
    CHECK(op->events[0].timestamp > 0, "timestamp is now");
    lnk_store_op_free(op);

    op = lnk_store_op_new(LNK_OP_EVENT_CREATE);
    op->event.url_id = url_id;
    op->event.user_id = other;
    op->event.event_type = "share";
    op->event.details = "{\"via\":\"mail\"}";
    CHECK(run(f->s, op)->rc == LNK_OK, "event with a user and details");
    CHECK(op->events[0].user_id == other, "given user kept");
    CHECK(strcmp(op->events[0].details, "{\"via\":\"mail\"}") == 0, "details kept");
    lnk_store_op_free(op);
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

    struct lnk_store_op *ev = list_events(f->s, keep, 0, "click");
    CHECK(ev->n_rows == 1, "the click is listed");
    CHECK(strcmp(ev->events[0].details,
                 "{\"short_code\":\"aaaaaa\",\"user_agent\":\"curl/8\",\"referrer\":\"\"}") == 0,
          "click details");
    CHECK(ev->events[0].user_id == alice && ev->events[0].timestamp == 1700000000,
          "owner and timestamp");
    lnk_store_op_free(ev);
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

    struct lnk_store_op *ev = list_events(f->s, 0, 0, "click");
    CHECK(ev->rc == LNK_OK && ev->n_rows == 2 * N / 3, "and listed");
    bool in_order = true, owners = true, details = true;
    for (size_t i = 0; i < ev->n_rows; i++) {
        const struct lnk_event *e = &ev->events[i];
        int src = (int)(i / 2) * 3 + (i % 2 ? 2 : 0); /* skipping every url `gone` */
        in_order = in_order && e->timestamp == 1700000000 + src && e->url_id == urls[src % 3];
        owners = owners && e->user_id == (e->url_id == a ? alice : carol);
        details =
            details &&
            strcmp(e->details, "{\"short_code\":\"c\",\"user_agent\":\"\",\"referrer\":\"\"}") == 0;
    }
    CHECK(in_order, "in the order they came");
    CHECK(owners, "each with its url's owner");
    CHECK(details, "and its details");
    lnk_store_op_free(ev);

    struct lnk_store_op *op = lnk_store_op_new(LNK_OP_URL_STATS);
    op->in.id = b;
    CHECK(run(f->s, op)->rc == LNK_OK && op->click_total == N / 3, "b's rollup counts its own");
    lnk_store_op_free(op);
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
    struct lnk_store_op *ev = list_events(f->s, 0, 0, "click");
    CHECK(ev->rc == LNK_OK && ev->n_rows == N, "every click listed");
    bool ordered = true;
    for (size_t i = 0; i < ev->n_rows; i++) {
        char code[48];
        snprintf(code, sizeof(code), "{\"short_code\":\"%s\",", want[i]);
        ordered = ordered && strncmp(ev->events[i].details, code, strlen(code)) == 0;
        ordered = ordered && (i == 0 || ev->events[i - 1].id < ev->events[i].id);
    }
    CHECK(ordered, "by id: time, then owner, then url, then arrival");
    CHECK(ev->events[N - 1].timestamp > 1700000001, "the click without a time got the write's");
    lnk_store_op_free(ev);
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

    struct lnk_store_op *ev = list_events(f->s, 0, 0, "click");
    CHECK(ev->rc == LNK_OK && ev->n_rows == N, "every click listed");
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
    lnk_store_op_free(ev);
}

static void test_clicks_roll_up_per_link_and_day(void **state)
{
    struct fixture *f = *state;
    int64_t alice = add_user(f->s, "alice");
    int64_t a = add_url(f->s, alice, "https://a.example/");
    int64_t b = add_url(f->s, alice, "https://b.example/");
    struct lnk_store_op *op = lnk_store_op_new(LNK_OP_URL_STATS);
    op->in.id = 999;
    CHECK(run(f->s, op)->rc == LNK_ENOTFOUND, "stats of an unknown url are not found");
    lnk_store_op_free(op);

    /* day 19675 = 2023-11-14; two clicks that day and one the next for a */
    struct lnk_click clicks[] = {
        {.url_id = a, .user_id = alice, .timestamp = 19675 * 86400 + 10, .short_code = "x"},
        {.url_id = a, .user_id = alice, .timestamp = 19675 * 86400 + 86399, .short_code = "x"},
        {.url_id = a, .user_id = alice, .timestamp = 19676 * 86400, .short_code = "x"},
    };
    CHECK(append_clicks(f->s, clicks, 3) >= 0, "clicks appended");

    op = lnk_store_op_new(LNK_OP_URL_STATS);
    op->in.id = a;
    CHECK(run(f->s, op)->rc == LNK_OK, "stats read");
    CHECK(op->click_total == 3, "three clicks in total");
    CHECK(op->last_click_at == 19676 * 86400, "the latest click time");
    CHECK(op->n_days == 2 && op->days[0].day == 19675 && op->days[0].clicks == 2 &&
              op->days[1].day == 19676 && op->days[1].clicks == 1,
          "clicks per UTC day, oldest first");
    lnk_store_op_free(op);

    op = lnk_store_op_new(LNK_OP_URL_STATS);
    op->in.id = b;
    CHECK(run(f->s, op)->rc == LNK_OK && op->click_total == 0 && op->n_days == 0 &&
              op->last_click_at == 0,
          "a link never clicked has zero clicks and no days");
    lnk_store_op_free(op);
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

    struct lnk_store_op *op = lnk_store_op_new(LNK_OP_URL_LIST);
    op->in.list.is_active = -1;
    op->in.list.page = 1;
    op->in.list.per_page = 0;
    CHECK(run(s, op)->rc == LNK_EINVAL, "per_page 0 with a page is EINVAL");
    op->in.list.page = 0;
    CHECK(run(s, op)->rc == LNK_OK && op->n_rows == 25, "page 0 returns every row");
    for (size_t i = 1; i < op->n_rows; i++)
        CHECK(op->urls[i - 1].id < op->urls[i].id, "ordered by id");
    op->in.list.page = 3;
    op->in.list.per_page = 10;
    CHECK(run(s, op)->rc == LNK_OK && op->n_rows == 5, "third page holds the last 5");
    CHECK(op->urls[0].id == ids[20], "page 3 starts at row 21");
    op->in.list.page = 4;
    CHECK(run(s, op)->rc == LNK_OK && op->n_rows == 0, "past the end is empty");
    op->in.list.page = INT64_MAX;
    CHECK(run(s, op)->rc == LNK_OK && op->n_rows == 0, "a huge page is empty, not an error");

    op->in.list.page = 0;
    op->in.list.is_active = 0;
    CHECK(run(s, op)->rc == LNK_OK && op->n_rows == 5, "is_active=false filter");
    op->in.list.is_active = 1;
    op->in.list.has_user_id = true;
    op->in.list.user_id = alice;
    CHECK(run(s, op)->rc == LNK_OK && op->n_rows == 15, "user_id AND is_active");
    op->in.list.user_id = 999;
    CHECK(run(s, op)->rc == LNK_OK && op->n_rows == 0, "unknown user lists nothing");
    lnk_store_op_free(op);

    struct lnk_store_op *ev = list_events(s, 0, bob, "created");
    CHECK(ev->rc == LNK_OK && ev->n_rows == 5, "events by user and type");
    lnk_store_op_free(ev);
    ev = list_events(s, ids[0], 0, NULL);
    CHECK(ev->n_rows == 2, "events by url: created + deleted");
    lnk_store_op_free(ev);
    ev = list_events(s, ids[0], bob, NULL);
    CHECK(ev->n_rows == 0, "url AND user can exclude everything");
    lnk_store_op_free(ev);

    op = lnk_store_op_new(LNK_OP_USER_LIST);
    op->in.list.page = 2;
    op->in.list.per_page = 1;
    CHECK(run(s, op)->rc == LNK_OK && op->n_rows == 1 && op->users[0].id == bob, "user paging");
    lnk_store_op_free(op);
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
    struct lnk_store_op *op = lnk_store_op_new(LNK_OP_EVENT_IMPORT);
    op->rows = (struct lnk_import_rows){.n = 6, .events = events};
    CHECK(run(s, op)->rc == LNK_OK && op->imported == 6, "events imported across buckets");
    lnk_store_op_free(op);

    const int64_t want_url[] = {1, B - 1, B, B + 1, 2 * B, 4 * B + 7};
    struct lnk_store_op *ev = list_events(s, a1, 0, NULL);
    CHECK(ev->rc == LNK_OK && ev->n_rows == 6, "every event of the url, from every bucket");
    for (size_t i = 0; i < ev->n_rows && i < 6; i++)
        CHECK(ev->events[i].id == want_url[i], "url list ordered by id across buckets");
    lnk_store_op_free(ev);

    const int64_t want_user[] = {1, B - 1, B + 1, B + 2, 2 * B, 4 * B + 7};
    ev = list_events(s, 0, alice, NULL);
    CHECK(ev->rc == LNK_OK && ev->n_rows == 6, "every event naming the user");
    for (size_t i = 0; i < ev->n_rows && i < 6; i++)
        CHECK(ev->events[i].id == want_user[i], "user list ordered by id across buckets");
    lnk_store_op_free(ev);

    ev = list_events(s, a1, alice, "click");
    CHECK(ev->rc == LNK_OK && ev->n_rows == 4 && ev->events[0].id == B - 1 &&
              ev->events[3].id == 4 * B + 7,
          "url AND user AND type across buckets");
    lnk_store_op_free(ev);

    /* clicks are read in id order from the table, other types through a
     * partial index */
    ev = list_events(s, 0, 0, "click");
    CHECK(ev->rc == LNK_OK && ev->n_rows == 4 && ev->events[0].id == B - 1 &&
              ev->events[1].id == B + 1 && ev->events[3].id == 4 * B + 7,
          "every click, in id order");
    lnk_store_op_free(ev);
    ev = list_events(s, 0, 0, "share");
    CHECK(ev->rc == LNK_OK && ev->n_rows == 2 && ev->events[0].id == B && ev->events[1].id == B + 2,
          "every share, in id order");
    lnk_store_op_free(ev);
    ev = list_events(s, 0, 0, "created");
    CHECK(ev->rc == LNK_OK && ev->n_rows == 2 && ev->events[0].id == 1 && ev->events[1].id == 2,
          "every created event");
    lnk_store_op_free(ev);

    op = lnk_store_op_new(LNK_OP_EVENT_LIST);
    op->in.list = (struct lnk_list_query){
        .is_active = -1, .has_url_id = true, .url_id = a1, .page = 2, .per_page = 2};
    CHECK(run(s, op)->rc == LNK_OK && op->n_rows == 2 && op->events[0].id == B &&
              op->events[1].id == B + 1,
          "page 2 of the url's events straddles a bucket edge");
    lnk_store_op_free(op);

    op = lnk_store_op_new(LNK_OP_EVENT_LIST);
    op->in.list = (struct lnk_list_query){.is_active = -1, .has_owner_id = true, .owner_id = bob};
    CHECK(run(s, op)->rc == LNK_OK && op->n_rows == 2 && op->events[0].id == 2 &&
              op->events[1].id == B + 2,
          "owner list: the events of bob's urls, in id order");
    lnk_store_op_free(op);

    /* alice's url goes with her, and with it bob's event on it (id B);
     * her event on bob's url (id B+2) goes because it names her */
    op = lnk_store_op_new(LNK_OP_USER_DELETE);
    op->in.id = alice;
    CHECK(run(s, op)->rc == LNK_OK, "delete alice");
    lnk_store_op_free(op);
    int64_t c[3];
    counts(s, c);
    ev = list_events(s, 0, alice, NULL);
    CHECK(ev->rc == LNK_OK && ev->n_rows == 0, "no event names the deleted user, in any bucket");
    lnk_store_op_free(ev);
    ev = list_events(s, a1, 0, NULL);
    CHECK(ev->rc == LNK_OK && ev->n_rows == 0, "no event of her url is left, in any bucket");
    lnk_store_op_free(ev);
    CHECK(c[2] == 1, "only bob's created event is left");
}

static void test_generated_codes_are_distinct_and_six_alnum(void **state)
{
    struct fixture *f = *state;
    enum { N = 1000 };
    int64_t uid = add_user(f->s, "alice");
    struct lnk_store_op **ops = calloc(N, sizeof(*ops));
    const char **codes = calloc(N, sizeof(*codes));
    for (size_t i = 0; i < N; i++) {
        ops[i] = lnk_store_op_new(LNK_OP_URL_CREATE);
        ops[i]->url.user_id = uid;
        ops[i]->url.original_url = "https://example.com/";
        ops[i]->url.is_active = true;
    }
    submit_all(f->s, ops, N);
    size_t ok = 0;
    for (size_t i = 0; i < N; i++) {
        if (ops[i]->rc == LNK_OK && is_generated_code(ops[i]->urls[0].short_code) &&
            !lnk_code_is_reserved(ops[i]->urls[0].short_code, 6))
            ok++;
        codes[i] = ops[i]->rc == LNK_OK ? ops[i]->urls[0].short_code : "";
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
    struct lnk_store_op *op = lnk_store_op_new(LNK_OP_USER_IMPORT);
    op->rows = (struct lnk_import_rows){.n = 2, .users = users, .has_id = has_id};
    CHECK(run(f->s, op)->rc == LNK_OK && op->imported == 2, "users imported");
    lnk_store_op_free(op);

    struct lnk_url urls[] = {{.id = 100,
                              .user_id = 50,
                              .short_code = "Seed01",
                              .original_url = "https://s.example/",
                              .title = "seed",
                              .is_active = false,
                              .created_at = 3,
                              .updated_at = 4}};
    op = lnk_store_op_new(LNK_OP_URL_IMPORT);
    op->rows = (struct lnk_import_rows){.n = 1, .urls = urls};
    CHECK(run(f->s, op)->rc == LNK_OK && op->imported == 1, "url imported");
    /* imported is added to, so running the same op again counts on */
    CHECK(run(f->s, op)->rc == LNK_OK && op->imported == 2, "importing again is an upsert");
    lnk_store_op_free(op);

    struct lnk_event events[] = {{.id = 700,
                                  .url_id = 100,
                                  .user_id = 50,
                                  .event_type = "created",
                                  .timestamp = 3,
                                  .details = "{\"short_code\":\"Seed01\"}"}};
    op = lnk_store_op_new(LNK_OP_EVENT_IMPORT);
    op->rows = (struct lnk_import_rows){.n = 1, .events = events};
    CHECK(run(f->s, op)->rc == LNK_OK && op->imported == 1, "event imported");
    lnk_store_op_free(op);

    int64_t uid = add_user(f->s, "c");
    CHECK(uid == 51, "the next user id follows max(id)");
    struct lnk_store_op *u = create_url(f->s, uid, "https://n.example/", NULL);
    CHECK(u->rc == LNK_OK && u->urls[0].id == 101, "the next url id follows max(id)");
    struct lnk_store_op *ev = list_events(f->s, u->urls[0].id, 0, NULL);
    CHECK(ev->n_rows == 1 && ev->events[0].id == 701, "the next event id follows max(id)");
    lnk_store_op_free(ev);
    lnk_store_op_free(u);

    op = lnk_store_op_new(LNK_OP_URL_BY_CODE);
    op->in.code = "Seed01";
    CHECK(run(f->s, op)->rc == LNK_OK, "imported code found");
    CHECK(op->urls[0].created_at == 3 && op->urls[0].updated_at == 4 && !op->urls[0].is_active,
          "imported timestamps and flags kept");
    lnk_store_op_free(op);
}

static void test_failed_op_does_not_spoil_its_batch(void **state)
{
    struct fixture *f = *state;
    int64_t uid = add_user(f->s, "alice");
    struct lnk_store_op *taken = create_url(f->s, uid, "https://example.com/", "taken1");
    CHECK(taken->rc == LNK_OK, "custom code created");
    lnk_store_op_free(taken);

    /* A large import first keeps the writer busy while the rest queue up
     * behind it and are then taken as one batch. */
    enum { N_IMPORT = 2000, N = 7 };
    struct lnk_user *rows = calloc(N_IMPORT, sizeof(*rows));
    char(*names)[16] = calloc(N_IMPORT, sizeof(*names));
    char(*mails)[24] = calloc(N_IMPORT, sizeof(*mails));
    for (size_t i = 0; i < N_IMPORT; i++) {
        snprintf(names[i], sizeof(names[i]), "bulk%zu", i);
        snprintf(mails[i], sizeof(mails[i]), "bulk%zu@x.io", i);
        rows[i] = (struct lnk_user){.username = names[i], .email = mails[i]};
    }
    struct lnk_store_op *ops[N];
    ops[0] = lnk_store_op_new(LNK_OP_USER_IMPORT);
    ops[0]->rows = (struct lnk_import_rows){.n = N_IMPORT, .users = rows};
    for (size_t i = 1; i < N; i++) {
        ops[i] = lnk_store_op_new(LNK_OP_URL_CREATE);
        ops[i]->url.user_id = uid;
        ops[i]->url.original_url = "https://example.com/b";
        ops[i]->url.is_active = true;
    }
    ops[3]->url.short_code = "taken1"; /* fails */
    ops[4]->url.user_id = 999999;      /* fails */
    submit_all(f->s, ops, N);

    CHECK(ops[0]->rc == LNK_OK && ops[0]->imported == N_IMPORT, "import committed");
    CHECK(ops[3]->rc == LNK_EEXISTS, "taken code fails alone");
    CHECK(ops[4]->rc == LNK_ENOTFOUND, "unknown user fails alone");
    for (size_t i = 1; i < N; i++) {
        if (i == 3 || i == 4)
            continue;
        CHECK(ops[i]->rc == LNK_OK, "the other creates commit");
        CHECK(op_rc(f->s, LNK_OP_URL_GET, ops[i]->urls[0].id) == LNK_OK, "and are durable");
    }
    int64_t c[3];
    counts(f->s, c);
    CHECK(c[0] == 1 + N_IMPORT && c[1] == 1 + 4 && c[2] == 1 + 4, "no partial rows");
    CHECK(!lnk_store_is_degraded(f->s), "not degraded after good batches");
    for (size_t i = 0; i < N; i++)
        lnk_store_op_free(ops[i]);
    free(rows);
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
        struct lnk_store_op *op = create_url(c->s, c->user_id, "https://example.com/c", NULL);
        if (op->rc == LNK_OK) {
            c->ids[i] = op->urls[0].id;
            snprintf(c->codes[i], sizeof(c->codes[i]), "%s", op->urls[0].short_code);
        } else {
            c->failures++;
        }
        lnk_store_op_free(op);
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
    int64_t c[3];
    counts(f->s, c);
    CHECK(c[1] == T * PER && c[2] == T * PER, "one url and one created event each");
    free(codes);
    free(ids);
    free(cs);
}

static void test_reopen_keeps_data_and_never_reissues_codes(void **state)
{
    struct fixture *f = *state;
    int64_t uid = add_user(f->s, "alice");
    struct lnk_store_op *a = create_url(f->s, uid, "https://example.com/", NULL);
    CHECK(a->rc == LNK_OK, "created before close");
    lnk_store_close(f->s);
    f->s = NULL;
    CHECK(open_store(f) == LNK_OK, "reopen");

    struct lnk_store_op *op = lnk_store_op_new(LNK_OP_URL_BY_CODE);
    op->in.code = a->urls[0].short_code;
    CHECK(run(f->s, op)->rc == LNK_OK && op->urls[0].id == a->urls[0].id, "data survived");
    lnk_store_op_free(op);

    struct lnk_store_op *b = create_url(f->s, uid, "https://example.com/", NULL);
    CHECK(b->rc == LNK_OK, "create after reopen");
    CHECK(strcmp(a->urls[0].short_code, b->urls[0].short_code) != 0, "a fresh code");

    /* a hard-deleted url's code is not handed out again, even as custom */
    int64_t bob = add_user(f->s, "bob");
    struct lnk_store_op *c = create_url(f->s, bob, "https://b.example/", "bobcode");
    CHECK(c->rc == LNK_OK, "custom code for bob");
    CHECK(op_rc(f->s, LNK_OP_USER_DELETE, bob) == LNK_OK, "bob deleted");
    lnk_store_op_free(c);
    c = create_url(f->s, uid, "https://a.example/", "bobcode");
    CHECK(c->rc == LNK_EEXISTS, "a retired code is not reissued");
    lnk_store_op_free(c);
    lnk_store_op_free(a);
    lnk_store_op_free(b);
}

static void test_ping_and_count_rows(void **state)
{
    struct fixture *f = *state;
    struct lnk_store_op *op = run(f->s, lnk_store_op_new(LNK_OP_PING));
    CHECK(op->rc == LNK_OK && op->latency_us >= 0, "PING succeeds");
    lnk_store_op_free(op);
    int64_t c[3];
    counts(f->s, c);
    CHECK(c[0] == 0 && c[1] == 0 && c[2] == 0, "an empty database counts zero");
    add_url(f->s, add_user(f->s, "alice"), "https://example.com/");
    counts(f->s, c);
    CHECK(c[0] == 1 && c[1] == 1 && c[2] == 1, "user, url and created event counted");
}

/* ---- threads and completion --------------------------------------------- */

struct done_probe {
    int calls;
    pthread_t thread;
};

static void record_done(struct lnk_store_op *op)
{
    struct done_probe *p = op->udata;
    p->calls++;
    p->thread = pthread_self();
}

static void test_reads_run_inline_on_a_worker_connection(void **state)
{
    struct fixture *f = *state;
    int64_t uid = add_user(f->s, "alice");
    struct lnk_store_conn *conn = NULL;
    CHECK(lnk_store_conn_open(f->s, &conn) == LNK_OK, "read connection opens");

    struct done_probe probe = {0};
    struct lnk_store_op *op = lnk_store_op_new(LNK_OP_USER_GET);
    op->in.id = uid;
    op->done = record_done;
    op->udata = &probe;
    lnk_store_submit(f->s, conn, op);
    CHECK(probe.calls == 1, "done ran before submit returned");
    CHECK(pthread_equal(probe.thread, pthread_self()), "on the calling thread");
    CHECK(op->rc == LNK_OK && strcmp(op->users[0].username, "alice") == 0, "the row");
    lnk_store_op_free(op);

    /* a write submitted with a connection still goes to the writer, and the
     * worker connection sees it once it is done */
    op = create_url(f->s, uid, "https://example.com/", NULL);
    struct lnk_store_op *get = lnk_store_op_new(LNK_OP_URL_BY_CODE);
    get->in.code = op->urls[0].short_code;
    probe = (struct done_probe){0};
    get->done = record_done;
    get->udata = &probe;
    lnk_store_submit(f->s, conn, get);
    CHECK(probe.calls == 1 && get->rc == LNK_OK, "committed write visible to readers");
    lnk_store_op_free(get);
    lnk_store_op_free(op);

    op = lnk_store_op_new(LNK_OP_USER_CREATE);
    op->user.username = "x";
    op->user.email = "x@x.io";
    struct lnk_store_op *ops[] = {op};
    submit_all(f->s, ops, 1);
    CHECK(op->rc == LNK_OK, "queued write done");
    lnk_store_op_free(op);
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

static void test_completion_is_posted_to_origin(void **state)
{
    struct fixture *f = *state;
    struct test_exec te = {.ex = {.post = test_exec_post}};
    pthread_mutex_init(&te.mu, NULL);
    pthread_cond_init(&te.cv, NULL);
    struct done_probe probe = {0};

    struct lnk_store_op *op = lnk_store_op_new(LNK_OP_USER_CREATE);
    op->user.username = "alice";
    op->user.email = "alice@x.io";
    op->done = record_done;
    op->udata = &probe;
    op->origin = &te.ex;
    lnk_store_submit(f->s, NULL, op);

    pthread_mutex_lock(&te.mu);
    while (te.n == 0)
        pthread_cond_wait(&te.cv, &te.mu);
    pthread_mutex_unlock(&te.mu);
    CHECK(probe.calls == 0, "done has not run on the store thread");
    CHECK(te.n == 1, "one task posted");
    te.tasks[0]->run(te.tasks[0]);
    CHECK(probe.calls == 1, "done ran once, from the origin's task");
    CHECK(pthread_equal(probe.thread, pthread_self()), "on the origin's thread");
    CHECK(op->rc == LNK_OK && op->users[0].id > 0, "with the result");
    lnk_store_op_free(op);
    pthread_cond_destroy(&te.cv);
    pthread_mutex_destroy(&te.mu);
}

static void test_close_completes_every_queued_op(void **state)
{
    struct fixture *f = *state;
    enum { N = 200 };
    struct done_probe probes[N];
    struct lnk_store_op *ops[N];
    memset(probes, 0, sizeof(probes));
    for (size_t i = 0; i < N; i++) {
        char name[16];
        snprintf(name, sizeof(name), "u%zu", i);
        ops[i] = lnk_store_op_new(LNK_OP_USER_CREATE);
        ops[i]->user.username = lnk_arena_strdup(&ops[i]->arena, name);
        ops[i]->user.email = lnk_arena_strdup(&ops[i]->arena, name);
        ops[i]->done = record_done;
        ops[i]->udata = &probes[i];
        lnk_store_submit(f->s, NULL, ops[i]);
    }
    lnk_store_close(f->s);
    f->s = NULL;
    size_t ok = 0;
    for (size_t i = 0; i < N; i++) {
        ok += probes[i].calls == 1 && ops[i]->rc == LNK_OK;
        lnk_store_op_free(ops[i]);
    }
    CHECK(ok == N, "every queued op completed once, successfully");
    CHECK(open_store(f) == LNK_OK, "reopen");
    int64_t c[3];
    counts(f->s, c);
    CHECK(c[0] == N, "and all of them are on disk");
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_open_rejects_unsupported_scheme),
        T(test_open_accepts_bare_and_relative_paths),
        T(test_unknown_ids_return_not_found),
        T(test_user_conflicts_name_the_field),
        T(test_custom_code_taken_is_exists),
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
        T(test_clicks_roll_up_per_link_and_day),
        T(test_list_filters_and_paging),
        T(test_event_lists_cross_id_buckets),
        T(test_generated_codes_are_distinct_and_six_alnum),
        T(test_sequences_continue_past_imported_ids),
        T(test_failed_op_does_not_spoil_its_batch),
        T(test_concurrent_creates_get_distinct_ids_and_codes),
        T(test_reopen_keeps_data_and_never_reissues_codes),
        T(test_ping_and_count_rows),
        T(test_reads_run_inline_on_a_worker_connection),
        T(test_completion_is_posted_to_origin),
        T(test_close_completes_every_queued_op),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
