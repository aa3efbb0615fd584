/* SPDX-License-Identifier: MIT */
/* Per-worker counters summed at scrape, histograms, the values other modules
 * report through the collect callback, process metrics, and the two
 * renderings (Prometheus text, JSON). Scrapes may run on any thread; they
 * read counters with relaxed loads, so totals are eventually consistent. */
#include "linkd/metrics.h"

#include <dirent.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/sysinfo.h>
#include <time.h>
#include <unistd.h>

#include "linkd/arena.h"
#include "linkd/buf.h"

#ifndef LNK_VERSION
#define LNK_VERSION "unknown"
#endif

const uint64_t lnk_metrics_latency_bounds_ns[LNK_METRICS_N_BUCKETS] = {
    10000,     25000,      50000,      100000,     250000,     500000,    1000000,
    2500000,   5000000,    10000000,   25000000,   50000000,   100000000, 250000000,
    500000000, 1000000000, 2500000000, 5000000000, 10000000000};

const uint64_t lnk_metrics_count_bounds[LNK_METRICS_N_COUNT_BOUNDS] = {1,  2,   4,   8,   16,  32,
                                                                       64, 128, 256, 512, 1024};

static const int statuses[] = {
#define LNK_STATUS_ITEM(s) s,
    LNK_METRICS_STATUSES(LNK_STATUS_ITEM)
#undef LNK_STATUS_ITEM
};
_Static_assert(sizeof(statuses) / sizeof(statuses[0]) == LNK_METRICS_N_LISTED,
               "LNK_METRICS_N_LISTED must be the length of the status list");
_Static_assert(LNK_METRICS_N_BUCKETS <= LNK_HISTO_MAX_BOUNDS, "latency bounds fit a histogram");
_Static_assert(LNK_METRICS_N_COUNT_BOUNDS <= LNK_HISTO_MAX_BOUNDS, "count bounds fit a histogram");

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
static const char *const cache_names[] = {
#define LNK_MCACHE_NAME(name) #name,
    LNK_METRICS_CACHES(LNK_MCACHE_NAME)
#undef LNK_MCACHE_NAME
};
static const char *const dependency_names[] = {
#define LNK_MDEP_NAME(name) #name,
    LNK_METRICS_DEPENDENCIES(LNK_MDEP_NAME)
#undef LNK_MDEP_NAME
};

struct lnk_metrics {
    unsigned n_slots;
    struct lnk_metrics_worker *slots;
    lnk_metrics_collect_fn collect;
    void *udata;
    double start_time_s;      /* process start, seconds since the epoch */
    pthread_mutex_t cpu_lock; /* guards the previous CPU sample */
    double prev_cpu_s, prev_wall_s;
};

struct process_sample {
    double cpu_s;
    double rss_bytes;
    double virtual_bytes;
    double total_ram_bytes;
    double open_fds, max_fds;
    double wall_s;
};

/* ---- histograms ------------------------------------------------------------ */

void lnk_histo_init(struct lnk_histo *h, const uint64_t *bounds, unsigned n_bounds, double scale)
{
    h->bounds = bounds;
    h->n_bounds = n_bounds < LNK_HISTO_MAX_BOUNDS ? n_bounds : LNK_HISTO_MAX_BOUNDS;
    h->scale = scale;
    for (unsigned i = 0; i <= LNK_HISTO_MAX_BOUNDS; i++)
        atomic_init(&h->counts[i], 0);
    atomic_init(&h->sum, 0);
}

static void bump(_Atomic uint64_t *c, uint64_t n)
{
    atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + n,
                          memory_order_relaxed);
}

void lnk_histo_observe(struct lnk_histo *h, uint64_t v)
{
    unsigned b = 0;
    while (b < h->n_bounds && v > h->bounds[b])
        b++;
    bump(&h->counts[b], 1);
    bump(&h->sum, v);
}

/* ---- process --------------------------------------------------------------- */

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double wall_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double cpu_s(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

static void memory_bytes(double *virtual_bytes, double *rss)
{
    long pages = 0, resident = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (f) {
        if (fscanf(f, "%ld %ld", &pages, &resident) != 2)
            pages = resident = 0;
        fclose(f);
    }
    double page = (double)sysconf(_SC_PAGESIZE);
    *virtual_bytes = (double)pages * page;
    *rss = (double)resident * page;
}

static double open_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    if (!d)
        return 0;
    double n = 0;
    for (struct dirent *e; (e = readdir(d)) != NULL;)
        n += e->d_name[0] != '.';
    closedir(d);
    return n - 1; /* the directory's own descriptor */
}

/* When the process started, from /proc (the kernel's boot time plus the
 * process's start in clock ticks after it); now, if /proc cannot tell. */
static double process_start_s(void)
{
    char buf[1024];
    unsigned long long start_ticks = 0, btime = 0;
    FILE *f = fopen("/proc/self/stat", "r");
    size_t n = f ? fread(buf, 1, sizeof(buf) - 1, f) : 0;
    if (f)
        fclose(f);
    buf[n] = '\0';
    /* The command name may hold spaces and parentheses: count from its end. */
    char *p = strrchr(buf, ')');
    for (int field = 2; p && field < 22; field++)
        p = strchr(p + 1, ' ');
    if (p)
        start_ticks = strtoull(p + 1, NULL, 10);
    f = fopen("/proc/stat", "r");
    while (f && fgets(buf, sizeof(buf), f))
        if (sscanf(buf, "btime %llu", &btime) == 1)
            break;
    if (f)
        fclose(f);
    long hz = sysconf(_SC_CLK_TCK);
    if (btime == 0 || start_ticks == 0 || hz <= 0)
        return wall_s();
    return (double)btime + (double)start_ticks / (double)hz;
}

static void sample_process(struct process_sample *p)
{
    struct sysinfo si;
    struct rlimit rl;
    p->cpu_s = cpu_s();
    memory_bytes(&p->virtual_bytes, &p->rss_bytes);
    p->total_ram_bytes = sysinfo(&si) == 0 ? (double)si.totalram * si.mem_unit : 0;
    p->open_fds = open_fds();
    p->max_fds = getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY
                     ? (double)rl.rlim_cur
                     : 0;
    p->wall_s = now_s();
}

/* ---- lifecycle and counting ------------------------------------------------ */

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
    m->start_time_s = process_start_s();
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
    for (unsigned i = 0; i < LNK_METRICS_N_LISTED; i++)
        if (statuses[i] == status)
            return i;
    int cls = status / 100;
    return LNK_METRICS_N_LISTED + (unsigned)(cls >= 1 && cls <= 5 ? cls - 1 : 4);
}

void lnk_metrics_observe(struct lnk_metrics_worker *w, enum lnk_route route, enum lnk_method method,
                         int status, uint64_t duration_ns)
{
    bump(&w->requests[route][method][status_index(status)], 1);
    unsigned b = 0;
    while (b < LNK_METRICS_N_BUCKETS && duration_ns > lnk_metrics_latency_bounds_ns[b])
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

/* Accepted minus closed, per worker: each worker counts both of its own. */
static uint64_t connections_open(const struct lnk_metrics *m)
{
    uint64_t open = 0;
    for (unsigned i = 0; i < m->n_slots; i++) {
        const struct lnk_metrics_worker *w = &m->slots[i];
        uint64_t closed = load(&w->counters[LNK_MC_connections_closed_total]);
        uint64_t accepted = load(&w->counters[LNK_MC_connections_accepted_total]);
        open += accepted > closed ? accepted - closed : 0;
    }
    return open;
}

static const char *status_label(unsigned i, char tmp[16])
{
    if (i >= LNK_METRICS_N_LISTED) {
        snprintf(tmp, 16, "%uxx", i - LNK_METRICS_N_LISTED + 1);
        return tmp;
    }
    snprintf(tmp, 16, "%d", statuses[i]);
    return tmp;
}

static void collect_external(struct lnk_metrics *m, struct lnk_metrics_external *ext)
{
    *ext = (struct lnk_metrics_external){0};
    if (m->collect)
        m->collect(m->udata, ext);
}

/* ---- Prometheus text ------------------------------------------------------- */

/* A bucket bound as Prometheus writes one: plain decimal, no trailing zeros. */
static const char *format_le(double v, char tmp[32])
{
    snprintf(tmp, 32, "%.9f", v);
    char *end = tmp + strlen(tmp);
    while (end > tmp && end[-1] == '0')
        *--end = '\0';
    if (end > tmp && end[-1] == '.')
        *--end = '\0';
    return tmp;
}

static void render_help(struct lnk_buf *b, const char *name, const char *help, const char *type)
{
    lnk_buf_printf(b, "# HELP %s %s.\n# TYPE %s %s\n", name, help, name, type);
}

/* One histogram series: `labels` is "" or `k="v",` (with the comma). */
static void render_histo_series(struct lnk_buf *b, const char *name, const char *labels,
                                const uint64_t *counts, unsigned n_bounds, const uint64_t *bounds,
                                double scale, double sum)
{
    char tmp[32];
    uint64_t cum = 0;
    for (unsigned k = 0; k < n_bounds; k++) {
        cum += counts[k];
        lnk_buf_printf(b, "%s_bucket{%sle=\"%s\"} %llu\n", name, labels,
                       format_le((double)bounds[k] * scale, tmp), (unsigned long long)cum);
    }
    cum += counts[n_bounds];
    lnk_buf_printf(b, "%s_bucket{%sle=\"+Inf\"} %llu\n", name, labels, (unsigned long long)cum);
    size_t ll = strlen(labels);
    /* the label list without its trailing comma, for _sum and _count */
    lnk_buf_printf(b, "%s_sum%s%.*s%s %.9g\n", name, ll ? "{" : "", (int)(ll ? ll - 1 : 0), labels,
                   ll ? "}" : "", sum);
    lnk_buf_printf(b, "%s_count%s%.*s%s %llu\n", name, ll ? "{" : "", (int)(ll ? ll - 1 : 0),
                   labels, ll ? "}" : "", (unsigned long long)cum);
}

static void render_histo(struct lnk_buf *b, const char *name, const char *help, const char *labels,
                         const struct lnk_histo *h)
{
    uint64_t counts[LNK_HISTO_MAX_BOUNDS + 1];
    char full[96];
    if (!h)
        return;
    for (unsigned k = 0; k <= h->n_bounds; k++)
        counts[k] = load(&h->counts[k]);
    snprintf(full, sizeof(full), "linkd_%s", name);
    render_help(b, full, help, "histogram");
    render_histo_series(b, full, labels, counts, h->n_bounds, h->bounds, h->scale,
                        (double)load(&h->sum) * h->scale);
}

static void render_requests_text(struct lnk_metrics *m, struct lnk_buf *b)
{
    char tmp[16], labels[64];
    render_help(b, "http_requests_total", "HTTP requests by method, route and status", "counter");
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
    render_help(b, "http_request_duration_seconds",
                "Time from a request's arrival to its answer, by route", "histogram");
    for (int r = 0; r < LNK_ROUTE_COUNT; r++) {
        uint64_t counts[LNK_METRICS_N_BUCKETS + 1];
        for (unsigned k = 0; k <= LNK_METRICS_N_BUCKETS; k++)
            counts[k] = SUM(m, latency[r][k]);
        snprintf(labels, sizeof(labels), "route=\"%s\",", lnk_route_name(r));
        render_histo_series(b, "http_request_duration_seconds", labels, counts,
                            LNK_METRICS_N_BUCKETS, lnk_metrics_latency_bounds_ns, 1e-9,
                            (double)SUM(m, latency_sum_ns[r]) / 1e9);
    }
}

/* One family of values from the collect callback: n values, each present
 * or not, labelled label_key="label_vals[i]" (no label when key is NULL). */
struct family {
    const char *kind, *name, *help;
    unsigned n;
    const double *vals;
    const bool *present;
    const char *label_key;
    const char *const *label_vals;
};

static void render_family(struct lnk_buf *b, const struct family *f)
{
    bool any = false;
    for (unsigned i = 0; i < f->n; i++)
        any |= f->present[i];
    if (!any)
        return;
    char full[96];
    snprintf(full, sizeof(full), "linkd_%s", f->name);
    render_help(b, full, f->help, f->kind);
    for (unsigned i = 0; i < f->n; i++) {
        if (!f->present[i])
            continue;
        if (f->label_key)
            lnk_buf_printf(b, "%s{%s=\"%s\"} %.17g\n", full, f->label_key, f->label_vals[i],
                           f->vals[i]);
        else
            lnk_buf_printf(b, "%s %.17g\n", full, f->vals[i]);
    }
}

static const bool always = true;

/* The family arguments of each label set, for a local `ext` and `has_backend`. */
#define LNK_FAM_NONE(name)      1, &ext.name, &always, NULL, NULL
#define LNK_FAM_BACKEND(name)   1, &ext.name, &has_backend, "backend", &ext.backend
#define LNK_FAM_DISK(name)      1, &ext.name, &ext.has_disk, NULL, NULL
#define LNK_FAM_REDIS(name)     1, &ext.name, &ext.has_redis, NULL, NULL
#define LNK_FAM_PG_NOTIFY(name) 1, &ext.name, &ext.has_pg_notify, NULL, NULL
#define LNK_FAM_CACHE(name)     LNK_METRICS_N_CACHES, ext.name, ext.has_cache, "cache", cache_names
#define LNK_FAM_DEPENDENCY(name)                                                                   \
    LNK_METRICS_N_DEPS, ext.name, ext.has_dependency, "dependency", dependency_names

static void render_process_text(struct lnk_metrics *m, struct lnk_buf *b,
                                const struct process_sample *p)
{
    render_help(b, "process_cpu_seconds_total", "User and system CPU time spent in seconds",
                "counter");
    lnk_buf_printf(b, "process_cpu_seconds_total %.6f\n", p->cpu_s);
    render_help(b, "process_resident_memory_bytes", "Resident memory size in bytes", "gauge");
    lnk_buf_printf(b, "process_resident_memory_bytes %.0f\n", p->rss_bytes);
    render_help(b, "process_virtual_memory_bytes", "Virtual memory size in bytes", "gauge");
    lnk_buf_printf(b, "process_virtual_memory_bytes %.0f\n", p->virtual_bytes);
    render_help(b, "process_start_time_seconds",
                "Start time of the process since unix epoch in seconds", "gauge");
    lnk_buf_printf(b, "process_start_time_seconds %.2f\n", m->start_time_s);
    render_help(b, "process_open_fds", "Number of open file descriptors", "gauge");
    lnk_buf_printf(b, "process_open_fds %.0f\n", p->open_fds);
    if (p->max_fds > 0) {
        render_help(b, "process_max_fds", "Maximum number of open file descriptors", "gauge");
        lnk_buf_printf(b, "process_max_fds %.0f\n", p->max_fds);
    }
}

char *lnk_metrics_render_text(struct lnk_metrics *m, size_t *len)
{
    struct lnk_buf b;
    struct process_sample p;
    struct lnk_metrics_external ext;
    char labels[96] = "";
    lnk_buf_init(&b, 16 * 1024 * 1024);
    sample_process(&p);
    collect_external(m, &ext);
    const bool has_backend = ext.backend != NULL;
    if (has_backend)
        snprintf(labels, sizeof(labels), "backend=\"%s\",", ext.backend);

    render_help(&b, "linkd_build_info", "The version of linkd and its store backend; always 1",
                "gauge");
    lnk_buf_printf(&b, "linkd_build_info{version=\"%s\",backend=\"%s\"} 1\n", LNK_VERSION,
                   has_backend ? ext.backend : "");
    render_requests_text(m, &b);
    for (int c = 0; c < LNK_MC_COUNT; c++) {
        char full[96];
        snprintf(full, sizeof(full), "linkd_%s", counter_names[c]);
        render_help(&b, full, counter_helps[c], "counter");
        lnk_buf_printf(&b, "%s %llu\n", full, (unsigned long long)SUM(m, counters[c]));
    }
    render_help(&b, "linkd_connections_open", "Connections open now", "gauge");
    lnk_buf_printf(&b, "linkd_connections_open %llu\n", (unsigned long long)connections_open(m));
#define LNK_ME_TEXT(kind, name, help, set)                                                         \
    render_family(&b, &(struct family){#kind, #name, help, LNK_FAM_##set(name)});
    LNK_METRICS_EXTERNAL(LNK_ME_TEXT)
#undef LNK_ME_TEXT
#define LNK_HLABELS_NONE    ""
#define LNK_HLABELS_BACKEND labels
#define LNK_ME_HISTO_TEXT(name, help, set)                                                         \
    render_histo(&b, #name, help, LNK_HLABELS_##set, ext.name);
    LNK_METRICS_EXTERNAL_HISTOS(LNK_ME_HISTO_TEXT)
#undef LNK_ME_HISTO_TEXT
    render_process_text(m, &b, &p);
    return lnk_buf_steal(&b, len);
}

/* ---- JSON ------------------------------------------------------------------ */

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
    char tmp[16];
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

/* A single value as a number; a labelled family as {label value: number}. */
static void family_json(json_t *o, const struct family *f)
{
    if (!f->label_key || f->n == 1) {
        if (f->present[0])
            json_object_set_new(o, f->name, json_real(f->vals[0]));
        return;
    }
    json_t *byl = json_object();
    for (unsigned i = 0; i < f->n; i++)
        if (f->present[i])
            json_object_set_new(byl, f->label_vals[i], json_real(f->vals[i]));
    if (json_object_size(byl))
        json_object_set_new(o, f->name, byl);
    else
        json_decref(byl);
}

static void histo_json(json_t *o, const char *name, const struct lnk_histo *h)
{
    if (!h)
        return;
    uint64_t n = 0;
    for (unsigned k = 0; k <= h->n_bounds; k++)
        n += load(&h->counts[k]);
    json_object_set_new(
        o, name,
        json_pack("{s:I,s:f}", "count", (json_int_t)n, "sum", (double)load(&h->sum) * h->scale));
}

json_t *lnk_metrics_render_json(struct lnk_metrics *m)
{
    struct process_sample p;
    struct lnk_metrics_external ext;
    sample_process(&p);
    collect_external(m, &ext);
    const bool has_backend = ext.backend != NULL;
    json_t *o = json_object();
    json_object_set_new(o, "version", json_string(LNK_VERSION));
    if (has_backend)
        json_object_set_new(o, "backend", json_string(ext.backend));
    json_object_set_new(o, "cpu_percent", json_real(cpu_percent_since_last(m, &p)));
    json_object_set_new(o, "process_cpu_seconds_total", json_real(p.cpu_s));
    json_object_set_new(o, "process_start_time_seconds", json_real(m->start_time_s));
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
    json_object_set_new(o, "connections_open", json_integer((json_int_t)connections_open(m)));
#define LNK_ME_JSON(kind, name, help, set)                                                         \
    family_json(o, &(struct family){#kind, #name, help, LNK_FAM_##set(name)});
    LNK_METRICS_EXTERNAL(LNK_ME_JSON)
#undef LNK_ME_JSON
#define LNK_ME_HISTO_JSON(name, help, set) histo_json(o, #name, ext.name);
    LNK_METRICS_EXTERNAL_HISTOS(LNK_ME_HISTO_JSON)
#undef LNK_ME_HISTO_JSON
    return o;
}
