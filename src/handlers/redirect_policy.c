/* SPDX-License-Identifier: MIT */
/* The redirect of a link with options (docs/link-policy.md): the policy
 * module decides; this file does what a decision needs of the request and
 * the store. A click maximum takes a slot from the store (one durable write
 * per click, exact across nodes) before the redirect; a password is checked
 * on a reader thread (Argon2id), its guesses limited per client and link;
 * a link out of its time window or its clicks goes to its fallback or
 * answers 410. Only a redirect to a destination counts as a click. */
#include <stdio.h>
#include <string.h>
#include <sys/random.h>

#include "handlers/handlers_int.h"
#include "linkd/domains.h"
#include "linkd/err.h"
#include "linkd/metrics.h"
#include "linkd/policy.h"
#include "linkd/query.h"
#include "linkd/ratelimit.h"
#include "linkd/timefmt.h"

/* One visit while its decision may need the store or a reader thread. In
 * request memory: the target's strings are copied there. */
struct visit {
    struct lnk_h_target t;
    struct lnk_str code;
    bool hit;
    uint64_t rand;        /* the split's draw: one per visit, however often it decides */
    bool password_ok;     /* checked */
    bool slot_taken;      /* of a click maximum */
    bool exhausted;       /* no slot left */
    bool wrong_password;  /* the last guess was wrong */
    const char *password; /* the visitor's guess (header or form); NULL: none */
    size_t password_len;
};

static void decide(struct lnk_req *r, struct visit *v);

/* Uniform bits for the split: splitmix64 over a per-thread state seeded
 * from the kernel once. Not a secret; only evenly spread. */
static uint64_t next_rand(void)
{
    static _Thread_local uint64_t state;
    static _Thread_local bool seeded;
    if (!seeded) {
        if (getrandom(&state, sizeof(state), 0) != (ssize_t)sizeof(state))
            state = (uint64_t)lnk_h_now_ns();
        seeded = true;
    }
    uint64_t z = (state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static bool wants_html(struct lnk_req *r)
{
    struct lnk_str accept = lnk_req_header(r, "accept");
    return accept.ptr && memmem(accept.ptr, accept.len, "text/html", 9) != NULL;
}

static void answer_page(struct lnk_req *r, int status, const char *html)
{
    lnk_resp_header(r, "cache-control", "no-store");
    lnk_resp_raw(r, status, "text/html; charset=utf-8", html, strlen(html));
}

/* 410: the link exists but is out of its window or its clicks. */
static void answer_gone(struct lnk_req *r)
{
    lnk_metrics_add(lnk_req_env(r)->mw, LNK_MC_redirect_not_found_total, 1);
    if (wants_html(r)) {
        answer_page(r, 410,
                    "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">"
                    "<title>Link expired</title></head><body><h1>This link has expired</h1>"
                    "<p>It is no longer available.</p></body></html>\n");
        return;
    }
    lnk_resp_error(r, 410, "link expired", NULL);
}

/* The password form: plain HTML, no script, posted to /{code} (the one
 * redirect route that takes a POST, whichever route showed the form; a
 * plausible code holds only [A-Za-z0-9_-], safe in an attribute). */
static void answer_password_form(struct lnk_req *r, struct lnk_str code, bool wrong)
{
    char page[1200];
    snprintf(page, sizeof(page),
             "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">"
             "<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">"
             "<title>Password required</title></head><body>"
             "<form method=\"post\" action=\"/%.*s\"><h1>Password required</h1>%s"
             "<p><label for=\"password\">Password</label> "
             "<input id=\"password\" name=\"password\" type=\"password\" required autofocus>"
             "</p><p><button type=\"submit\">Continue</button></p></form></body></html>\n",
             (int)code.len, code.ptr, wrong ? "<p role=\"alert\">Wrong password.</p>" : "");
    answer_page(r, wrong ? 401 : 200, page);
}

static void answer_password_needed(struct lnk_req *r, struct lnk_str code, bool wrong)
{
    if (wants_html(r) || lnk_req_method(r) == LNK_METHOD_POST) {
        answer_password_form(r, code, wrong);
        return;
    }
    lnk_resp_error(
        r, 401, wrong ? "wrong password" : "password required: send it in X-Link-Password", NULL);
}

/* ---- the password, checked on a reader thread ------------------------------- */

struct check_job {
    char hash[LNK_POLICY_HASH_MAX];
    char *pw;
    size_t len;
    struct visit *v;
};

static int check_on_reader(struct lnk_op_call *op)
{
    struct check_job *j = op->arg;
    return lnk_policy_check_password(j->hash, j->pw, j->len) ? LNK_OK : LNK_ENOTFOUND;
}

static void then_checked(struct lnk_req *r, struct lnk_store_op *op, void *ctx)
{
    struct visit *v = ctx;
    if (op->rc != LNK_OK && op->rc != LNK_ENOTFOUND) {
        lnk_h_store_error(r, op);
        return;
    }
    v->password_ok = op->rc == LNK_OK;
    v->wrong_password = !v->password_ok;
    if (!v->password_ok) {
        answer_password_needed(r, v->code, true);
        return;
    }
    decide(r, v);
}

/* A guess, once the client's budgets allow it: for this link, and over all
 * links (a client cycling through many links must not keep the reader
 * threads busy hashing). */
static void check_password(struct lnk_req *r, struct visit *v, const char *hash)
{
    struct lnk_worker_env *env = lnk_req_env(r);
    char key[LNK_CODE_MAX + 340];
    struct lnk_ratelimit_result res;
    struct lnk_str host = lnk_req_host(r); /* the same code on two domains: two links */
    int n = snprintf(key, sizeof(key), "%s %.*s %.*s", lnk_req_client(r),
                     (int)(host.len > 255 ? 255 : host.len), host.ptr ? host.ptr : "",
                     (int)v->code.len, v->code.ptr);
    const char *who = lnk_req_client(r);
    if ((env->rl_password &&
         lnk_ratelimit_check(env->rl_password, lnk_str_make(key, (size_t)n), &res) != LNK_OK) ||
        (env->rl_guesser &&
         lnk_ratelimit_check(env->rl_guesser, lnk_str_from_cstr(who), &res) != LNK_OK)) {
        char after[16];
        snprintf(after, sizeof(after), "%u", res.retry_after_s ? res.retry_after_s : 1);
        lnk_resp_header(r, "retry-after", after);
        lnk_resp_error(r, 429, "too many password guesses, retry later", NULL);
        return;
    }
    struct lnk_op_call *op = LNK_OP_AS(lnk_store_op_new(LNK_OP_CALL), call);
    struct check_job *j = lnk_arena_alloc(&op->op.arena, sizeof(*j));
    snprintf(j->hash, sizeof(j->hash), "%s", hash);
    j->len = v->password_len;
    j->pw = lnk_arena_strndup(&op->op.arena, v->password, v->password_len);
    j->v = v;
    op->fn = check_on_reader;
    op->arg = j;
    lnk_h_submit(r, &op->op, then_checked, v);
}

/* The visitor's guess: X-Link-Password on any method (API clients), or the
 * form's field on a POST. */
static void read_guess(struct lnk_req *r, struct visit *v)
{
    struct lnk_str h = lnk_req_header(r, "x-link-password");
    if (h.ptr) {
        v->password = h.ptr;
        v->password_len = h.len;
        return;
    }
    if (lnk_req_method(r) != LNK_METHOD_POST)
        return;
    char *buf = lnk_req_alloc(r, LNK_POLICY_PASSWORD_MAX + 1);
    size_t len = 0;
    if (lnk_query_get(lnk_req_body(r), "password", buf, LNK_POLICY_PASSWORD_MAX + 1, &len) ==
        LNK_OK) {
        v->password = buf;
        v->password_len = len;
    }
}

/* ---- a click maximum -------------------------------------------------------- */

static void then_slot(struct lnk_req *r, struct lnk_store_op *op, void *ctx)
{
    struct visit *v = ctx;
    if (op->rc != LNK_OK) {
        lnk_h_store_error(r, op);
        return;
    }
    v->slot_taken = LNK_OP_AS(op, slot)->taken;
    v->exhausted = !v->slot_taken;
    decide(r, v);
}

/* GET and POST take a slot; HEAD only asks whether one is left. */
static void take_slot(struct lnk_req *r, struct visit *v, int64_t max)
{
    struct lnk_op_slot *op = LNK_OP_AS(lnk_store_op_new(LNK_OP_CLICK_SLOT), slot);
    op->url_id = v->t.url_id;
    op->max = max;
    op->peek = lnk_req_method(r) == LNK_METHOD_HEAD;
    lnk_h_submit(r, &op->op, then_slot, v);
}

/* ---- deciding ---------------------------------------------------------------- */

static void decide(struct lnk_req *r, struct visit *v)
{
    struct lnk_worker_env *env = lnk_req_env(r);
    enum lnk_method m = lnk_req_method(r);
    struct lnk_visit vis = {
        .now = lnk_ts_now(),
        .user_agent = lnk_req_header(r, "user-agent"),
        .accept_language = lnk_req_header(r, "accept-language"),
        .query = lnk_req_query(r),
        .ip = lnk_req_client(r),
        .geo = env->geo,
        .rand = v->rand,
        .password_ok = v->password_ok,
        .clicks_exhausted = v->exhausted,
    };
    struct lnk_decision d;
    if (!vis.user_agent.ptr)
        vis.user_agent = lnk_str_make("", 0);
    if (!vis.accept_language.ptr)
        vis.accept_language = lnk_str_make("", 0);
    if (lnk_policy_decide(v->t.opts, strlen(v->t.opts), v->t.url, v->t.len, &vis, lnk_h_req_alloc,
                          r, &d) != LNK_OK) {
        lnk_resp_error(r, 500, "the link's options cannot be read", NULL);
        return;
    }
    switch (d.kind) {
    case LNK_DECISION_GONE:
        if (!d.location && v->t.domain_id) { /* the domain's fallback */
            struct lnk_domain dom;
            if (lnk_domains_by_id(env->domains, v->t.domain_id, lnk_h_req_alloc, r, &dom) &&
                dom.fallback_url) {
                d.location = dom.fallback_url;
                d.location_len = strlen(dom.fallback_url);
                d.status = 302;
            }
        }
        if (!d.location) {
            answer_gone(r);
            return;
        }
        lnk_metrics_add(env->mw, LNK_MC_redirects_total, 1);
        lnk_resp_redirect(r, d.status, d.location, d.location_len, v->hit);
        return;
    case LNK_DECISION_PASSWORD:
        read_guess(r, v);
        if (!v->password) {
            answer_password_needed(r, v->code, false);
            return;
        }
        check_password(r, v, d.password_hash);
        return;
    case LNK_DECISION_REDIRECT:
        break;
    }
    bool counts = m == LNK_METHOD_GET || m == LNK_METHOD_POST; /* HEAD records nothing */
    if (d.max_clicks > 0 && !v->slot_taken) {
        take_slot(r, v, d.max_clicks);
        return;
    }
    if (counts)
        lnk_h_record_click(r, &v->t, v->code);
    lnk_metrics_add(env->mw, LNK_MC_redirects_total, 1);
    /* a form's POST goes on with a GET of the destination */
    lnk_resp_redirect(r, m == LNK_METHOD_POST ? 303 : d.status, d.location, d.location_len, v->hit);
}

void lnk_h_redirect_policy(struct lnk_req *r, const struct lnk_h_target *t, struct lnk_str code,
                           bool hit)
{
    struct visit *v = lnk_req_alloc(r, sizeof(*v));
    *v = (struct visit){.t = *t, .code = code, .hit = hit, .rand = next_rand()};
    /* the target may live in a store op's memory, which an async step frees */
    char *url = lnk_req_alloc(r, t->len + 1);
    memcpy(url, t->url, t->len);
    url[t->len] = '\0';
    size_t opts_len = strlen(t->opts);
    char *opts = lnk_req_alloc(r, opts_len + 1);
    memcpy(opts, t->opts, opts_len + 1);
    v->t.url = url;
    v->t.opts = opts;
    decide(r, v);
}
