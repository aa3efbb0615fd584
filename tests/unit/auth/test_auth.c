/* SPDX-License-Identifier: MIT */
/* Keys (shape, uniqueness, hashing), the headers that carry them, and every
 * row of the access decision. */
#include "check.h"

#include <string.h>

#include "linkd/auth.h"
#include "linkd/err.h"

static void test_headers_without_a_key_give_none(void **state)
{
    (void)state;
    CHECK(lnk_auth_key_of(LNK_STR_NULL, LNK_STR_NULL).ptr == NULL, "no headers, no key");
    CHECK(lnk_auth_key_of(LNK_STR("  "), LNK_STR("")).ptr == NULL, "blank headers, no key");
    CHECK(lnk_str_eq_cstr(lnk_auth_key_of(LNK_STR("Basic abc"), LNK_STR_NULL), "Basic abc"),
          "another scheme is presented as is, so it fails the lookup");
}

static void test_bearer_and_x_api_key(void **state)
{
    (void)state;
    CHECK(lnk_str_eq_cstr(lnk_auth_key_of(LNK_STR("Bearer lnk_x"), LNK_STR_NULL), "lnk_x"),
          "Bearer key");
    CHECK(lnk_str_eq_cstr(lnk_auth_key_of(LNK_STR("bearer  lnk_y "), LNK_STR("z")), "lnk_y"),
          "scheme in any case, Authorization wins");
    CHECK(lnk_str_eq_cstr(lnk_auth_key_of(LNK_STR_NULL, LNK_STR("lnk_z")), "lnk_z"), "X-API-Key");
}

static void test_keys_are_random_base62_and_hash_stably(void **state)
{
    (void)state;
    char a[LNK_AUTH_KEY_LEN + 1], b[LNK_AUTH_KEY_LEN + 1];
    char ha[LNK_AUTH_HASH_LEN + 1], hb[LNK_AUTH_HASH_LEN + 1];
    CHECK(lnk_auth_key_generate(a) == LNK_OK && lnk_auth_key_generate(b) == LNK_OK, "generated");
    CHECK(strlen(a) == LNK_AUTH_KEY_LEN && strncmp(a, "lnk_", 4) == 0, "lnk_ + 40 characters");
    CHECK(strspn(a + 4, "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz") == 40,
          "base62 body");
    CHECK(strcmp(a, b) != 0, "two keys differ");
    lnk_auth_key_hash(lnk_str_from_cstr(a), ha);
    lnk_auth_key_hash(lnk_str_from_cstr(a), hb);
    CHECK(strcmp(ha, hb) == 0 && strlen(ha) == 64, "the hash is stable hex SHA-256");
    lnk_auth_key_hash(LNK_STR("abc"), ha);
    CHECK(strcmp(ha, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad") == 0,
          "SHA-256 test vector");
}

static void test_decision_matrix(void **state)
{
    (void)state;
    struct {
        struct lnk_auth_facts f;
        enum lnk_auth_verdict want;
        const char *what;
    } rows[] = {
        {{.auth_off = true}, LNK_AUTH_ADMIN, "auth off opens everything"},
        {{.auth_off = true, .key_presented = true}, LNK_AUTH_ADMIN, "auth off ignores keys"},
        {{.client_loopback = true}, LNK_AUTH_ADMIN, "no keys yet: loopback is served"},
        {{.client_loopback = false}, LNK_AUTH_PROTECTED, "no keys yet: remote gets 403"},
        {{.client_loopback = true, .active_keys = 1},
         LNK_AUTH_NEED_KEY,
         "keys exist: loopback needs one too"},
        {{.active_keys = 1}, LNK_AUTH_NEED_KEY, "keys exist: remote needs one"},
        {{.key_presented = true, .active_keys = 1}, LNK_AUTH_BAD_KEY, "unknown or revoked key"},
        {{.key_presented = true, .client_loopback = true},
         LNK_AUTH_BAD_KEY,
         "a bad key is refused even from loopback"},
        {{.key_presented = true, .key_valid = true, .key_admin = true, .active_keys = 1},
         LNK_AUTH_ADMIN,
         "admin key"},
        {{.key_presented = true, .key_valid = true, .active_keys = 2}, LNK_AUTH_USER, "user key"},
        {{.key_presented = true, .key_valid = true, .key_admin = true, .key_expired = true},
         LNK_AUTH_EXPIRED,
         "an expired key is refused, admin or not"},
        {{.key_presented = true,
          .key_valid = true,
          .key_scopes = LNK_SCOPE_LINKS_READ,
          .need_scope = LNK_SCOPE_LINKS_WRITE},
         LNK_AUTH_SCOPE,
         "a key without the scope a request needs is refused"},
        {{.key_presented = true,
          .key_valid = true,
          .key_admin = true,
          .key_scopes = LNK_SCOPE_LINKS_READ,
          .need_scope = LNK_SCOPE_ADMIN},
         LNK_AUTH_SCOPE,
         "scopes narrow an admin key too"},
        {{.key_presented = true,
          .key_valid = true,
          .key_scopes = LNK_SCOPE_ALL,
          .need_scope = LNK_SCOPE_ANALYTICS_READ},
         LNK_AUTH_USER,
         "a key without scopes keeps every right of its role"},
        {{.key_presented = true, .key_valid = true, .key_scopes = 0, .need_scope = 0},
         LNK_AUTH_USER,
         "a request that needs no scope"},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
        CHECK(lnk_auth_decide(&rows[i].f) == rows[i].want, rows[i].what);
}

static void test_scopes_parse_and_format(void **state)
{
    (void)state;
    unsigned bits = 0;
    char text[LNK_SCOPES_TEXT_MAX];
    CHECK(lnk_auth_scopes_parse(lnk_str_from_cstr(" admin ,links:read"), &bits) == LNK_OK &&
              bits == (LNK_SCOPE_ADMIN | LNK_SCOPE_LINKS_READ),
          "names with spaces around them");
    lnk_auth_scopes_format(bits, text);
    CHECK(strcmp(text, "links:read,admin") == 0, "the canonical order");
    lnk_auth_scopes_format(LNK_SCOPE_ALL, text);
    CHECK(strcmp(text, "links:read,links:write,analytics:read,admin") == 0 &&
              strlen(text) < LNK_SCOPES_TEXT_MAX,
          "every scope fits");
    const char *bad[] = {"", "links", "links:read,", ",admin", "links:read,,admin", "ADMIN"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        CHECK(lnk_auth_scopes_parse(lnk_str_from_cstr(bad[i]), &bits) == LNK_EINVAL,
              "an empty or unknown name is refused");
    CHECK(lnk_auth_scopes_check(LNK_SCOPE_ADMIN, false) == LNK_EINVAL &&
              lnk_auth_scopes_check(LNK_SCOPE_ADMIN, true) == LNK_OK &&
              lnk_auth_scopes_check(LNK_SCOPE_LINKS_WRITE, false) == LNK_OK,
          "the admin scope is an admin key's only");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_headers_without_a_key_give_none),
        cmocka_unit_test(test_bearer_and_x_api_key),
        cmocka_unit_test(test_keys_are_random_base62_and_hash_stably),
        cmocka_unit_test(test_decision_matrix),
        cmocka_unit_test(test_scopes_parse_and_format),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
