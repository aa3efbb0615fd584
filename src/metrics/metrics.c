/* SPDX-License-Identifier: MIT */
/* Per-worker counters summed at scrape, process CPU and memory, and the two
 * renderings (Prometheus text, JSON). Scrapes may run on any thread; they read
 * counters with relaxed loads, so totals are eventually consistent. */
#include "linkd/metrics.h"

#include <pthread.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/sysinfo.h>
#include <time.h>
#include <unistd.h>

#include "linkd/arena.h"
#include "linkd/buf.h"

static const uint64_t bucket_us[LNK_METRICS_N_BUCKETS] = {
    100, 250, 500, 1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000, 1000000};

static const int statuses[] = {
#define LNK_STATUS_ITEM(s) s,
    LNK_METRICS_STATUSES(LNK_STATUS_ITEM)
#undef LNK_STATUS_ITEM
};
_Static_assert(sizeof(statuses) / sizeof(statuses[0]) == LNK_METRICS_N_STATUS - 1,
               "LNK_METRICS_N_STATUS must be the status list plus one");

static const char *const counter_names[] = {
#define LNK_MC_NAME(name, help) #name,
    LNK_METRICS_COUNTERS(LNK_MC_NAME)
#undef LNK_MC_NAME
};
static const char *const counter_helps[] = {
#define LNK_MC_HELP(name, help) help,
    LNK_METRICS_COUNTERS(LNK_MC_HELP)
#undef LNK_MC_HELP
};

struct lnk_metrics {
    unsigned n_slots;
    struct lnk_metrics_worker *slots;
    lnk_metrics_collect_fn collect;
    void *udata;
    pthread_mutex_t cpu_lock; /* guards the previous CPU sample */
    double prev_cpu_s, prev_wall_s;
};

struct process_sample {
    double cpu_s;
    double rss_bytes;
    double total_ram_bytes;
    double wall_s;
};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double cpu_s(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

static double rss_bytes(void)
{
    long pages = 0, resident = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (f) {
        if (fscanf(f, "%ld %ld", &pages, &resident) != 2)
            resident = 0;
        fclose(f);
    }
    return (double)resident * (double)sysconf(_SC_PAGESIZE);
}

static void sample_process(struct process_sample *p)
{
    struct sysinfo si;
    p->cpu_s = cpu_s();
    p->rss_bytes = rss_bytes();
    p->total_ram_bytes = sysinfo(&si) == 0 ? (double)si.totalram * si.mem_unit : 0;
    p->wall_s = now_s();
}

struct lnk_metrics *lnk_metrics_new(unsigned n_workers, lnk_metrics_collect_fn collect, void *udata)
{
    struct lnk_metrics *m = lnk_xcalloc(1, sizeof(*m));
    m->n_slots = n_workers + 1;
    if (posix_memalign((void **)&m->slots, 64, sizeof(*m->slots) * m->n_slots) != 0)
        abort();
    for (unsigned i = 0; i < m->n_slots; i++)
        *(&m->slots[i]) = (struct lnk_metrics_worker){0};
    m->collect = collect;
    m->udata = udata;
    pthread_mutex_init(&m->cpu_lock, NULL);
    m->prev_cpu_s = cpu_s();
    m->prev_wall_s = now_s();
    return m;
}

void lnk_metrics_free(struct lnk_metrics *m)
{
    if (!m)
        return;
    pthread_mutex_destroy(&m->cpu_lock);
    free(m->slots);
    free(m);
}

struct lnk_metrics_worker *lnk_metrics_worker(struct lnk_metrics *m, unsigned i)
{
    return &m->slots[i < m->n_slots ? i : m->n_slots - 1];
}

static unsigned status_index(int status)
{
    for (unsigned i = 0; i < LNK_METRICS_N_STATUS - 1; i++)
        if (statuses[i] == status)
            return i;
    return LNK_METRICS_N_STATUS - 1;
}

static void bump(_Atomic uint64_t *c, uint64_t n)
{
    atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + n,
                          memory_order_relaxed);
}

void lnk_metrics_observe(struct lnk_metrics_worker *w, enum lnk_route route, enum lnk_method method,
                         int status, uint64_t duration_ns)
{
    bump(&w->requests[route][method][status_index(status)], 1);
    uint64_t us = duration_ns / 1000;
    unsigned b = 0;
    while (b < LNK_METRICS_N_BUCKETS && us > bucket_us[b])
        b++;
    bump(&w->latency[route][b], 1);
    bump(&w->latency_sum_ns[route], duration_ns);
}

static uint64_t load(const _Atomic uint64_t *c)
{
    return atomic_load_explicit(c, memory_order_relaxed);
}

/* The sum over all worker slots of the counter at byte offset `off`. */
static uint64_t sum_at(const struct lnk_metrics *m, size_t off)
{
    uint64_t total = 0;
    for (unsigned i = 0; i < m->n_slots; i++)
        total += load((const _Atomic uint64_t *)((const char *)&m->slots[i] + off));
    return total;
}

#define SUM(m, field) sum_at((m), offsetof(struct lnk_metrics_worker, field))

static const char *status_label(unsigned i, char tmp[8])
{
    if (i == LNK_METRICS_N_STATUS - 1)
        return "other";
    snprintf(tmp, 8, "%d", statuses[i]);
    return tmp;
}

static void collect_external(struct lnk_metrics *m, struct lnk_metrics_external *ext)
{
    *ext = (struct lnk_metrics_external){0};
    if (m->collect)
        m->collect(m->udata, ext);
}

static void render_requests_text(struct lnk_metrics *m, struct lnk_buf *b)
{
    char tmp[8];
    lnk_buf_printf(b, "# HELP http_requests_total HTTP requests by method, route and status.\n"
                      "# TYPE http_requests_total counter\n");
    for (int r = 0; r < LNK_ROUTE_COUNT; r++)
        for (int meth = 0; meth < LNK_METHOD_COUNT; meth++)
            for (unsigned s = 0; s < LNK_METRICS_N_STATUS; s++) {
                uint64_t v = SUM(m, requests[r][meth][s]);
                if (v)
                    lnk_buf_printf(b,
                                   "http_requests_total{method=\"%s\",route=\"%s\","
                                   "status=\"%s\"} %llu\n",
                                   lnk_method_name(meth), lnk_route_name(r), status_label(s, tmp),
                                   (unsigned long long)v);
            }
    lnk_buf_printf(b, "# HELP http_request_duration_seconds Request latency by route.\n"
                      "# TYPE http_request_duration_seconds histogram\n");
    for (int r = 0; r < LNK_ROUTE_COUNT; r++) {
        uint64_t cum = 0;
        for (unsigned k = 0; k <= LNK_METRICS_N_BUCKETS; k++) {
            cum += SUM(m, latency[r][k]);
            if (k < LNK_METRICS_N_BUCKETS)
                lnk_buf_printf(b,
                               "http_request_duration_seconds_bucket{route=\"%s\",le=\"%g\"} "
                               "%llu\n",
                               lnk_route_name(r), (double)bucket_us[k] / 1e6,
                               (unsigned long long)cum);
            else
                lnk_buf_printf(b,
                               "http_request_duration_seconds_bucket{route=\"%s\",le=\"+Inf\"} "
                               "%llu\n",
                               lnk_route_name(r), (unsigned long long)cum);
        }
        lnk_buf_printf(b, "http_request_duration_seconds_sum{route=\"%s\"} %.6f\n",
                       lnk_route_name(r), (double)SUM(m, latency_sum_ns[r]) / 1e9);
        lnk_buf_printf(b, "http_request_duration_seconds_count{route=\"%s\"} %llu\n",
                       lnk_route_name(r), (unsigned long long)cum);
    }
}

char *lnk_metrics_render_text(struct lnk_metrics *m, size_t *len)
{
    struct lnk_buf b;
    struct process_sample p;
    struct lnk_metrics_external ext;
    lnk_buf_init(&b, 16 * 1024 * 1024);
    sample_process(&p);
    collect_external(m, &ext);

    render_requests_text(m, &b);
    for (int c = 0; c < LNK_MC_COUNT; c++)
        lnk_buf_printf(&b, "# HELP linkd_%s %s.\n# TYPE linkd_%s counter\nlinkd_%s %llu\n",
                       counter_names[c], counter_helps[c], counter_names[c], counter_names[c],
                       (unsigned long long)SUM(m, counters[c]));
#define LNK_ME_TEXT(kind, name, help)                                                              \
    lnk_buf_printf(&b,                                                                             \
                   "# HELP linkd_" #name " " help ".\n# TYPE linkd_" #name " " #kind               \
                   "\nlinkd_" #name " %.17g\n",                                                    \
                   ext.name);
    LNK_METRICS_EXTERNAL(LNK_ME_TEXT)
#undef LNK_ME_TEXT
    lnk_buf_printf(&b,
                   "# HELP process_cpu_seconds_total User and system CPU time.\n"
                   "# TYPE process_cpu_seconds_total counter\nprocess_cpu_seconds_total %.6f\n"
                   "# HELP process_resident_memory_bytes Resident memory size.\n"
                   "# TYPE process_resident_memory_bytes gauge\n"
                   "process_resident_memory_bytes %.0f\n",
                   p.cpu_s, p.rss_bytes);
    return lnk_buf_steal(&b, len);
}

/* CPU use since the previous JSON scrape, in percent of one core. */
static double cpu_percent_since_last(struct lnk_metrics *m, const struct process_sample *p)
{
    pthread_mutex_lock(&m->cpu_lock);
    double dw = p->wall_s - m->prev_wall_s, dc = p->cpu_s - m->prev_cpu_s;
    m->prev_wall_s = p->wall_s;
    m->prev_cpu_s = p->cpu_s;
    pthread_mutex_unlock(&m->cpu_lock);
    return dw > 0 ? 100.0 * dc / dw : 0.0;
}

static json_t *requests_json(struct lnk_metrics *m)
{
    json_t *arr = json_array();
    char tmp[8];
    for (int r = 0; r < LNK_ROUTE_COUNT; r++)
        for (int meth = 0; meth < LNK_METHOD_COUNT; meth++)
            for (unsigned s = 0; s < LNK_METRICS_N_STATUS; s++) {
                uint64_t v = SUM(m, requests[r][meth][s]);
                if (v)
                    json_array_append_new(
                        arr, json_pack("{s:s,s:s,s:s,s:I}", "method", lnk_method_name(meth),
                                       "route", lnk_route_name(r), "status", status_label(s, tmp),
                                       "count", (json_int_t)v));
            }
    return arr;
}

json_t *lnk_metrics_render_json(struct lnk_metrics *m)
{
    struct process_sample p;
    struct lnk_metrics_external ext;
    sample_process(&p);
    collect_external(m, &ext);
    json_t *o = json_object();
    json_object_set_new(o, "cpu_percent", json_real(cpu_percent_since_last(m, &p)));
    json_object_set_new(o, "process_cpu_seconds_total", json_real(p.cpu_s));
    json_object_set_new(o, "memory_rss_bytes", json_integer((json_int_t)p.rss_bytes));
    json_object_set_new(
        o, "ram_percent",
        json_real(p.total_ram_bytes > 0 ? 100.0 * p.rss_bytes / p.total_ram_bytes : 0.0));
    uint64_t total = 0;
    for (int r = 0; r < LNK_ROUTE_COUNT; r++)
        for (unsigned k = 0; k <= LNK_METRICS_N_BUCKETS; k++)
            total += SUM(m, latency[r][k]);
    json_object_set_new(o, "http_requests_total", json_integer((json_int_t)total));
    json_object_set_new(o, "http_requests", requests_json(m));
    for (int c = 0; c < LNK_MC_COUNT; c++)
        json_object_set_new(o, counter_names[c], json_integer((json_int_t)SUM(m, counters[c])));
#define LNK_ME_JSON(kind, name, help) json_object_set_new(o, #name, json_real(ext.name));
    LNK_METRICS_EXTERNAL(LNK_ME_JSON)
#undef LNK_ME_JSON
    return o;
}
