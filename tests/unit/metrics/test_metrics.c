/* SPDX-License-Identifier: MIT */
/* Metrics (metrics.h): histogram buckets, status labels, the values other
 * modules report and when they appear, then the whole text exposition's
 * shape (every family declared once, cumulative buckets, +Inf = _count).
 * promtool checks a real scrape in tests/monitoring. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "linkd/metrics.h"

static char *render(struct lnk_metrics *m)
{
    size_t len = 0;
    char *text = lnk_metrics_render_text(m, &len);
    CHECK(text && strlen(text) == len, "the exposition is one NUL-free string");
    return text;
}

static bool has_line(const char *text, const char *line)
{
    size_t n = strlen(line);
    for (const char *p = text; (p = strstr(p, line)) != NULL; p += n)
        if ((p == text || p[-1] == '\n') && (p[n] == '\n' || p[n] == '\0'))
            return true;
    return false;
}

static void test_histogram_bounds_are_inclusive(void **state)
{
    (void)state;
    static const uint64_t bounds[] = {10, 100};
    struct lnk_histo h;
    lnk_histo_init(&h, bounds, 2, 1);
    lnk_histo_observe(&h, 0);
    lnk_histo_observe(&h, 10);
    lnk_histo_observe(&h, 11);
    lnk_histo_observe(&h, 100);
    lnk_histo_observe(&h, 101);
    CHECK(atomic_load(&h.counts[0]) == 2, "0 and 10 fall in le=10");
    CHECK(atomic_load(&h.counts[1]) == 2, "11 and 100 fall in le=100");
    CHECK(atomic_load(&h.counts[2]) == 1, "101 falls in +Inf");
    CHECK(atomic_load(&h.sum) == 222, "the sum is kept");
}

static void test_latency_bounds_cover_microseconds_to_seconds(void **state)
{
    (void)state;
    CHECK(lnk_metrics_latency_bounds_ns[0] == 10000, "the first bound is 10 us");
    CHECK(lnk_metrics_latency_bounds_ns[LNK_METRICS_N_BUCKETS - 1] == 10000000000ull,
          "the last bound is 10 s");
    bool has_5ms = false;
    for (unsigned i = 1; i < LNK_METRICS_N_BUCKETS; i++) {
        CHECK(lnk_metrics_latency_bounds_ns[i] > lnk_metrics_latency_bounds_ns[i - 1],
              "bounds ascend");
        has_5ms |= lnk_metrics_latency_bounds_ns[i] == 5000000;
    }
    CHECK(has_5ms, "5 ms, the redirect SLO's threshold, is a bound");
}

static void test_requests_are_counted_by_route_status_and_class(void **state)
{
    (void)state;
    struct lnk_metrics *m = lnk_metrics_new(1, NULL, NULL);
    struct lnk_metrics_worker *w = lnk_metrics_worker(m, 0);
    lnk_metrics_observe(w, LNK_ROUTE_REDIRECT, LNK_METHOD_GET, 302, 20000);
    lnk_metrics_observe(w, LNK_ROUTE_REDIRECT, LNK_METHOD_GET, 302, 7000000);
    lnk_metrics_observe(w, LNK_ROUTE_URLS, LNK_METHOD_POST, 502, 1000);
    lnk_metrics_observe(w, LNK_ROUTE_URLS, LNK_METHOD_POST, 418, 1000);
    char *text = render(m);
    CHECK(has_line(text, "http_requests_total{method=\"GET\",route=\"/{code}\",status=\"302\"} 2"),
          "listed statuses count under their own label");
    CHECK(has_line(text, "http_requests_total{method=\"POST\",route=\"/urls\",status=\"5xx\"} 1"),
          "an unlisted 5xx counts under 5xx, so status=~\"5..\" finds it");
    CHECK(has_line(text, "http_requests_total{method=\"POST\",route=\"/urls\",status=\"4xx\"} 1"),
          "an unlisted 4xx counts under 4xx");
    CHECK(
        has_line(text, "http_request_duration_seconds_bucket{route=\"/{code}\",le=\"0.000025\"} 1"),
        "20 us falls in le=0.000025");
    CHECK(has_line(text, "http_request_duration_seconds_bucket{route=\"/{code}\",le=\"0.005\"} 1"),
          "7 ms is not under 5 ms");
    CHECK(has_line(text, "http_request_duration_seconds_bucket{route=\"/{code}\",le=\"0.01\"} 2"),
          "buckets are cumulative");
    CHECK(has_line(text, "http_request_duration_seconds_count{route=\"/{code}\"} 2"), "_count");
    CHECK(has_line(text, "http_request_duration_seconds_sum{route=\"/{code}\"} 0.00702"),
          "_sum in seconds");
    free(text);
    lnk_metrics_free(m);
}

static void test_connections_open_is_accepted_minus_closed(void **state)
{
    (void)state;
    struct lnk_metrics *m = lnk_metrics_new(2, NULL, NULL);
    lnk_metrics_add(lnk_metrics_worker(m, 0), LNK_MC_connections_accepted_total, 5);
    lnk_metrics_add(lnk_metrics_worker(m, 0), LNK_MC_connections_closed_total, 4);
    lnk_metrics_add(lnk_metrics_worker(m, 1), LNK_MC_connections_accepted_total, 3);
    char *text = render(m);
    CHECK(has_line(text, "linkd_connections_open 4"), "1 open on worker 0, 3 on worker 1");
    CHECK(has_line(text, "linkd_connections_accepted_total 8"), "accepted, summed");
    free(text);
    lnk_metrics_free(m);
}

static struct lnk_histo commit_histo;

/* A node with the SQLite store, its disk, the links cache only, and a
 * failure counted against the store. */
static void collect_sqlite_node(void *udata, struct lnk_metrics_external *out)
{
    (void)udata;
    out->backend = "sqlite";
    out->store_up = 1;
    out->store_write_failures_total = 3;
    out->has_disk = true;
    out->store_disk_free_bytes = 1024;
    out->has_cache[LNK_METRICS_CACHE_links] = true;
    out->cache_entries[LNK_METRICS_CACHE_links] = 7;
    out->has_dependency[LNK_METRICS_DEP_sqlite] = true;
    out->dependency_up[LNK_METRICS_DEP_sqlite] = 1;
    out->dependency_errors_total[LNK_METRICS_DEP_sqlite] = 2;
    out->store_commit_duration_seconds = &commit_histo;
}

static void test_reported_values_appear_with_their_labels(void **state)
{
    (void)state;
    lnk_histo_init(&commit_histo, lnk_metrics_latency_bounds_ns, LNK_METRICS_N_BUCKETS, 1e-9);
    lnk_histo_observe(&commit_histo, 3000000);
    struct lnk_metrics *m = lnk_metrics_new(1, collect_sqlite_node, NULL);
    char *text = render(m);
    CHECK(has_line(text, "linkd_store_up{backend=\"sqlite\"} 1"), "store_up by backend");
    CHECK(has_line(text, "linkd_store_write_failures_total{backend=\"sqlite\"} 3"), "failures");
    CHECK(has_line(text, "linkd_store_disk_free_bytes 1024"), "disk gauges for a file store");
    CHECK(has_line(text, "linkd_cache_entries{cache=\"links\"} 7"), "the cache in use");
    CHECK(!strstr(text, "cache=\"url_json\""), "no series for a cache not in use");
    CHECK(has_line(text, "linkd_dependency_up{dependency=\"sqlite\"} 1"), "sqlite is up");
    CHECK(has_line(text, "linkd_dependency_errors_total{dependency=\"sqlite\"} 2"), "its errors");
    CHECK(!strstr(text, "dependency=\"redis\"") && !strstr(text, "dependency=\"postgres\""),
          "no series for dependencies this node does not have");
    CHECK(has_line(text, "linkd_store_commit_duration_seconds_bucket{backend=\"sqlite\","
                         "le=\"0.0025\"} 0"),
          "3 ms is above 2.5 ms");
    CHECK(has_line(text, "linkd_store_commit_duration_seconds_bucket{backend=\"sqlite\","
                         "le=\"0.005\"} 1"),
          "and under 5 ms");
    CHECK(has_line(text, "linkd_store_commit_duration_seconds_count{backend=\"sqlite\"} 1"),
          "one batch");
    CHECK(!strstr(text, "linkd_store_batch_ops"), "a histogram not reported is absent");
    CHECK(has_line(text, "linkd_build_info{version=\"" LNK_VERSION "\",backend=\"sqlite\"} 1"),
          "build info names the version and the backend");
    free(text);
    lnk_metrics_free(m);
}

static void test_absent_values_leave_no_family(void **state)
{
    (void)state;
    struct lnk_metrics *m = lnk_metrics_new(1, NULL, NULL);
    char *text = render(m);
    CHECK(!strstr(text, "linkd_store_disk_free_bytes"), "no disk gauges without a file store");
    CHECK(!strstr(text, "linkd_cache_entries"), "no cache gauges without a cache");
    CHECK(!strstr(text, "linkd_dependency_up"), "no dependency without one");
    CHECK(!strstr(text, "linkd_store_up"), "no backend-labelled value without a backend");
    CHECK(has_line(text, "linkd_events_queue_depth 0"), "unlabelled values are always there");
    free(text);
    lnk_metrics_free(m);
}

/* Every sample's family has one HELP and one TYPE, before its samples;
 * histogram buckets never decrease and +Inf equals _count. */
static void test_exposition_declares_each_family_once(void **state)
{
    (void)state;
    lnk_histo_init(&commit_histo, lnk_metrics_latency_bounds_ns, LNK_METRICS_N_BUCKETS, 1e-9);
    struct lnk_metrics *m = lnk_metrics_new(2, collect_sqlite_node, NULL);
    lnk_metrics_observe(lnk_metrics_worker(m, 1), LNK_ROUTE_HEALTH, LNK_METHOD_GET, 200, 5000);
    char *text = render(m);
    char declared[128][96];
    unsigned n_declared = 0;
    char last_series[256] = "";
    unsigned long long last_bucket = 0;
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
        char name[96];
        if (sscanf(line, "# TYPE %95s", name) == 1) {
            for (unsigned i = 0; i < n_declared; i++)
                CHECK(strcmp(declared[i], name) != 0, "a family is declared once");
            CHECK(n_declared < 128, "fewer than 128 families");
            snprintf(declared[n_declared++], sizeof(declared[0]), "%s", name);
            continue;
        }
        if (line[0] == '#')
            continue;
        size_t nl = strcspn(line, "{ ");
        bool found = false;
        for (unsigned i = 0; i < n_declared && !found; i++) {
            size_t dl = strlen(declared[i]);
            found = strncmp(line, declared[i], dl) == 0 &&
                    (nl == dl || (nl > dl && (strncmp(line + dl, "_bucket", 7) == 0 ||
                                              strncmp(line + dl, "_sum", 4) == 0 ||
                                              strncmp(line + dl, "_count", 6) == 0)));
        }
        CHECK(found, "every sample belongs to a declared family");
        char *le = strstr(line, "le=\"");
        unsigned long long v = strtoull(strrchr(line, ' ') + 1, NULL, 10);
        if (le) {
            char series[256];
            snprintf(series, sizeof(series), "%.*s", (int)(le - line), line);
            if (strcmp(series, last_series) == 0)
                CHECK(v >= last_bucket, "buckets are cumulative");
            snprintf(last_series, sizeof(last_series), "%s", series);
            last_bucket = v;
        } else if (strstr(line, "_count")) {
            CHECK(v == last_bucket, "+Inf equals _count");
        }
    }
    free(text);
    lnk_metrics_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_histogram_bounds_are_inclusive),
        cmocka_unit_test(test_latency_bounds_cover_microseconds_to_seconds),
        cmocka_unit_test(test_requests_are_counted_by_route_status_and_class),
        cmocka_unit_test(test_connections_open_is_accepted_minus_closed),
        cmocka_unit_test(test_reported_values_appear_with_their_labels),
        cmocka_unit_test(test_absent_values_leave_no_family),
        cmocka_unit_test(test_exposition_declares_each_family_once),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
