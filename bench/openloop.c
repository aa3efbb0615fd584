/* SPDX-License-Identifier: MIT */
/* An open-loop HTTP/1.1 load generator for bench/redirect: GET /<code> for
 * codes from a file, on keep-alive connections, at a fixed rate. Request k
 * of a thread is due at start + k / (rate / threads) (the threads' schedules
 * interleave); when it is due it goes out on the connection that has been
 * idle longest, and when no connection is idle it waits for one. Its latency
 * runs from the time it was due, not from the time it was written, so a
 * stalled server cannot slow the sending down and hide the stall (no
 * coordinated omission): a request that waited counts its wait. Requests due
 * in the warm-up are sent but not counted. After the last due time, answers
 * are awaited for up to the timeout; a request without an answer by then
 * counts as a timeout, with its latency so far in the distribution.
 *
 * With -r 0 it is closed-loop instead (each connection sends as soon as it is
 * idle), and with -s it sends the codes in file order, each once (-n caps the
 * count): bench/redirect fills linkd's cache that way.
 *
 * Prints one line "@@BENCH {json}": responses, statuses, socket errors,
 * timeouts, latency percentiles (exact, from every sample), achieved rate,
 * and how late the requests went out against their due times. Built by
 * bench/redirect with cc; no library but libc and pthreads.
 *
 * usage: openloop -p PORT [-a ADDR] [-c CONNS] [-t THREADS] [-r RATE] [-d SECS]
 *                 [-w SECS] [-T SECS] [-s] [-n COUNT] CODES_FILE */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define RBUF_BYTES  16384
#define MAX_EVENTS  256
#define MAX_THREADS 16

struct opts {
    struct sockaddr_in addr;
    unsigned conns, threads;
    double rate, duration_s, warmup_s, timeout_s;
    bool sequential;
    uint64_t max_count; /* 0: no cap */
};

struct request {
    char *text;
    size_t len;
};

struct conn {
    int fd;
    bool busy, counted;
    uint64_t due_ns;
    const struct request *req;
    size_t written;
    size_t rlen;
    char rbuf[RBUF_BYTES];
};

struct samples {
    uint64_t *v;
    size_t n, cap;
};

struct worker {
    const struct opts *o;
    const struct request *reqs;
    size_t n_reqs;
    unsigned id;
    pthread_t thread;
    int epfd;
    struct conn *conns;
    unsigned n_conns;
    unsigned *idle; /* FIFO ring of idle connection indexes */
    unsigned idle_head, idle_n;
    uint64_t rng;
    /* results */
    struct samples lat, lag;
    uint64_t sent, answered, n3xx, n_err_status, n_other_status;
    uint64_t counted, counted_3xx, counted_err_status;
    uint64_t err_connect, err_read, err_write, timeouts, unsent;
    uint64_t bytes;
};

static uint64_t start_ns; /* common to every thread */

static uint64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void die(const char *what)
{
    perror(what);
    exit(2);
}

static void push(struct samples *s, uint64_t v)
{
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 65536;
        s->v = realloc(s->v, s->cap * sizeof(*s->v));
        if (!s->v)
            die("realloc");
    }
    s->v[s->n++] = v;
}

static uint64_t xorshift(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return *s = x;
}

static int open_conn(const struct opts *o)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return -1;
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (connect(fd, (const struct sockaddr *)&o->addr, sizeof(o->addr)) != 0) {
        close(fd);
        return -1;
    }
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    return fd;
}

static void idle_push(struct worker *w, unsigned i)
{
    w->idle[(w->idle_head + w->idle_n++) % w->n_conns] = i;
}

static unsigned idle_pop(struct worker *w)
{
    unsigned i = w->idle[w->idle_head];
    w->idle_head = (w->idle_head + 1) % w->n_conns;
    w->idle_n--;
    return i;
}

static void watch(struct worker *w, unsigned i, uint32_t events, int op)
{
    struct epoll_event ev = {.events = events, .data.u32 = i};
    if (epoll_ctl(w->epfd, op, w->conns[i].fd, &ev) != 0)
        die("epoll_ctl");
}

/* Replaces a broken connection by a new one; an error while connecting is
 * counted and the connection stays out of the idle ring. */
static void reconnect(struct worker *w, unsigned i)
{
    struct conn *c = &w->conns[i];
    if (c->fd >= 0)
        close(c->fd);
    c->busy = false;
    c->rlen = 0;
    c->fd = open_conn(w->o);
    if (c->fd < 0) {
        w->err_connect++;
        return;
    }
    watch(w, i, EPOLLIN, EPOLL_CTL_ADD);
    idle_push(w, i);
}

static void fail(struct worker *w, unsigned i, uint64_t *counter)
{
    (*counter)++;
    reconnect(w, i);
}

static void write_some(struct worker *w, unsigned i)
{
    struct conn *c = &w->conns[i];
    while (c->written < c->req->len) {
        ssize_t n = write(c->fd, c->req->text + c->written, c->req->len - c->written);
        if (n > 0) {
            c->written += (size_t)n;
        } else if (n < 0 && errno == EAGAIN) {
            watch(w, i, EPOLLIN | EPOLLOUT, EPOLL_CTL_MOD);
            return;
        } else {
            fail(w, i, &w->err_write);
            return;
        }
    }
    watch(w, i, EPOLLIN, EPOLL_CTL_MOD);
}

static void send_one(struct worker *w, uint64_t due_ns, bool counted, uint64_t k)
{
    unsigned i = idle_pop(w);
    struct conn *c = &w->conns[i];
    size_t idx = w->o->sequential ? (size_t)(k * w->o->threads + w->id) % w->n_reqs
                                  : (size_t)(xorshift(&w->rng) % w->n_reqs);
    c->req = &w->reqs[idx];
    c->written = 0;
    c->busy = true;
    c->counted = counted;
    c->due_ns = due_ns;
    w->sent++;
    if (counted)
        push(&w->lag, mono_ns() - due_ns);
    ssize_t n = write(c->fd, c->req->text, c->req->len);
    if (n == (ssize_t)c->req->len)
        return; /* the common case: no epoll_ctl */
    if (n < 0 && errno != EAGAIN) {
        fail(w, i, &w->err_write);
        return;
    }
    c->written = n > 0 ? (size_t)n : 0;
    write_some(w, i);
}

/* The value of a header in a response head, or NULL. */
static const char *header(const char *head, size_t len, const char *name)
{
    size_t nlen = strlen(name);
    for (const char *p = head; p + nlen + 2 < head + len; p++) {
        if (p[0] == '\r' && p[1] == '\n' && strncasecmp(p + 2, name, nlen) == 0)
            return p + 2 + nlen;
    }
    return NULL;
}

/* Consumes one complete response from c->rbuf if there is one: returns its
 * status, 0 when more bytes are needed, -1 when it cannot be parsed. */
static int take_response(struct conn *c, bool *closing)
{
    char *end = memmem(c->rbuf, c->rlen, "\r\n\r\n", 4);
    if (!end)
        return c->rlen == sizeof(c->rbuf) ? -1 : 0;
    size_t head_len = (size_t)(end - c->rbuf) + 4;
    if (c->rlen < 12 || memcmp(c->rbuf, "HTTP/1.", 7) != 0)
        return -1;
    int status = atoi(c->rbuf + 9);
    const char *cl = header(c->rbuf, head_len, "content-length:");
    if (!cl)
        return -1;
    size_t body = strtoul(cl, NULL, 10);
    if (c->rlen < head_len + body)
        return c->rlen == sizeof(c->rbuf) ? -1 : 0;
    const char *conn_hdr = header(c->rbuf, head_len, "connection:");
    *closing = conn_hdr && strncasecmp(conn_hdr + strspn(conn_hdr, " "), "close", 5) == 0;
    size_t used = head_len + body;
    memmove(c->rbuf, c->rbuf + used, c->rlen - used);
    c->rlen -= used;
    return status;
}

static void record(struct worker *w, struct conn *c, int status, uint64_t now)
{
    w->answered++;
    bool is3xx = status >= 300 && status < 400;
    w->n3xx += is3xx;
    w->n_err_status += status >= 400;
    w->n_other_status += !is3xx;
    if (c->counted) {
        w->counted++;
        w->counted_3xx += is3xx;
        w->counted_err_status += status >= 400;
        push(&w->lat, now - c->due_ns);
    }
}

static void on_readable(struct worker *w, unsigned i)
{
    struct conn *c = &w->conns[i];
    for (;;) {
        ssize_t n = read(c->fd, c->rbuf + c->rlen, sizeof(c->rbuf) - c->rlen);
        if (n > 0) {
            c->rlen += (size_t)n;
            w->bytes += (uint64_t)n;
            bool closing = false;
            int status = take_response(c, &closing);
            if (status < 0 || (status > 0 && !c->busy)) {
                fail(w, i, &w->err_read);
                return;
            }
            if (status == 0)
                continue;
            record(w, c, status, mono_ns());
            c->busy = false;
            if (closing)
                reconnect(w, i);
            else
                idle_push(w, i);
            return;
        }
        if (n < 0 && errno == EAGAIN)
            return;
        if (c->busy || n < 0)
            w->err_read++;
        reconnect(w, i); /* closed by the server, idle or not */
        return;
    }
}

static double due_s(const struct worker *w, uint64_t k)
{
    /* Thread t sends requests t, t + T, t + 2T, ... of one schedule at `rate`. */
    return ((double)k * w->o->threads + w->id) / w->o->rate;
}

static void *run(void *arg)
{
    struct worker *w = arg;
    const struct opts *o = w->o;
    bool open_loop = o->rate > 0;
    double window_s = o->warmup_s + o->duration_s;
    uint64_t k_end = open_loop ? (uint64_t)ceil((window_s * o->rate - w->id) / o->threads) : 0;
    uint64_t cap = o->max_count ? (o->max_count + o->threads - 1 - w->id) / o->threads : 0;
    if (o->sequential) {
        uint64_t mine = (w->n_reqs + o->threads - 1 - w->id) / o->threads;
        cap = cap && cap < mine ? cap : mine;
    }
    if (cap && (!k_end || cap < k_end))
        k_end = cap;
    uint64_t send_end_ns = start_ns + (uint64_t)(window_s * 1e9);
    uint64_t warm_end_ns = start_ns + (uint64_t)(o->warmup_s * 1e9);
    uint64_t timeout_ns = (uint64_t)(o->timeout_s * 1e9);
    uint64_t deadline_ns = send_end_ns + timeout_ns;
    struct epoll_event evs[MAX_EVENTS];
    uint64_t k = 0;

    for (;;) {
        uint64_t now = mono_ns();
        bool more = k_end ? k < k_end : now < send_end_ns;
        if (open_loop) {
            for (uint64_t due; more && w->idle_n > 0 &&
                               (due = start_ns + (uint64_t)(due_s(w, k) * 1e9)) <= now;) {
                send_one(w, due, due >= warm_end_ns, k);
                more = ++k < k_end;
            }
        } else {
            /* Closed loop: answers are awaited for the timeout after the last send. */
            for (; more && w->idle_n > 0; more = k_end ? k < k_end : now < send_end_ns) {
                send_one(w, now, now >= warm_end_ns, k++);
                deadline_ns = now + timeout_ns;
            }
        }
        unsigned busy = w->n_conns - w->idle_n;
        if (!more && busy == 0)
            break;
        if (now >= deadline_ns) {
            /* What is still unanswered, or was never sent, timed out. */
            for (unsigned i = 0; i < w->n_conns; i++) {
                struct conn *c = &w->conns[i];
                if (c->busy && c->fd >= 0) {
                    w->timeouts++;
                    if (c->counted)
                        push(&w->lat, now - c->due_ns);
                }
            }
            for (; open_loop && k < k_end; k++) {
                uint64_t due = start_ns + (uint64_t)(due_s(w, k) * 1e9);
                w->unsent++;
                if (due >= warm_end_ns)
                    push(&w->lat, now - due);
            }
            break;
        }
        int64_t wait_ns = 10000000; /* 10 ms at most, to see the deadline */
        if (open_loop && more && w->idle_n > 0) {
            int64_t until = (int64_t)(start_ns + (uint64_t)(due_s(w, k) * 1e9)) - (int64_t)now;
            wait_ns = until < wait_ns ? (until > 0 ? until : 0) : wait_ns;
        } else if (!open_loop && more && w->idle_n > 0) {
            wait_ns = 0;
        }
        struct timespec ts = {wait_ns / 1000000000, wait_ns % 1000000000};
        int n = epoll_pwait2(w->epfd, evs, MAX_EVENTS, &ts, NULL);
        if (n < 0 && errno != EINTR)
            die("epoll_pwait2");
        for (int e = 0; e < n; e++) {
            unsigned i = evs[e].data.u32;
            if (w->conns[i].fd < 0)
                continue;
            if (evs[e].events & EPOLLOUT)
                write_some(w, i);
            if (evs[e].events & (EPOLLIN | EPOLLERR | EPOLLHUP))
                on_readable(w, i);
        }
    }
    return NULL;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* Percentile p (0-100) of sorted values, in microseconds. */
static double pct_us(const struct samples *s, double p)
{
    if (s->n == 0)
        return 0;
    size_t idx = (size_t)ceil(p / 100.0 * (double)s->n);
    idx = idx ? idx - 1 : 0;
    return (double)s->v[idx < s->n ? idx : s->n - 1] / 1000.0;
}

static void merge(struct samples *into, struct samples *from)
{
    for (size_t i = 0; i < from->n; i++)
        push(into, from->v[i]);
    free(from->v);
}

static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        die(path);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    if (!buf || fread(buf, 1, (size_t)n, f) != (size_t)n)
        die(path);
    fclose(f);
    buf[n] = '\0';
    *len = (size_t)n;
    return buf;
}

static struct request *load_requests(const char *path, const struct opts *o, size_t *n_out)
{
    size_t len;
    char *text = read_file(path, &len);
    char host[64];
    snprintf(host, sizeof(host), "%s:%u", inet_ntoa(o->addr.sin_addr), ntohs(o->addr.sin_port));
    size_t cap = 1024, n = 0;
    struct request *reqs = malloc(cap * sizeof(*reqs));
    for (char *line = strtok(text, "\r\n"); line; line = strtok(NULL, "\r\n")) {
        if (n == cap) {
            cap *= 2;
            reqs = realloc(reqs, cap * sizeof(*reqs));
        }
        if (!reqs)
            die("realloc");
        int l = asprintf(&reqs[n].text, "GET /%s HTTP/1.1\r\nHost: %s\r\n\r\n", line, host);
        if (l < 0)
            die("asprintf");
        reqs[n++].len = (size_t)l;
    }
    free(text);
    if (n == 0) {
        fprintf(stderr, "openloop: no codes in %s\n", path);
        exit(2);
    }
    *n_out = n;
    return reqs;
}

static void usage(void)
{
    fprintf(stderr, "usage: openloop -p PORT [-a ADDR] [-c CONNS] [-t THREADS] [-r RATE] "
                    "[-d SECS] [-w SECS] [-T SECS] [-s] [-n COUNT] CODES_FILE\n");
    exit(2);
}

static void parse(int argc, char **argv, struct opts *o, const char **codes)
{
    *o = (struct opts){.conns = 100, .threads = 2, .duration_s = 10, .timeout_s = 2};
    o->addr.sin_family = AF_INET;
    o->addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int opt;
    while ((opt = getopt(argc, argv, "a:p:c:t:r:d:w:T:sn:")) != -1) {
        switch (opt) {
        case 'a':
            if (inet_pton(AF_INET, optarg, &o->addr.sin_addr) != 1)
                usage();
            break;
        case 'p':
            o->addr.sin_port = htons((uint16_t)atoi(optarg));
            break;
        case 'c':
            o->conns = (unsigned)atoi(optarg);
            break;
        case 't':
            o->threads = (unsigned)atoi(optarg);
            break;
        case 'r':
            o->rate = atof(optarg);
            break;
        case 'd':
            o->duration_s = atof(optarg);
            break;
        case 'w':
            o->warmup_s = atof(optarg);
            break;
        case 'T':
            o->timeout_s = atof(optarg);
            break;
        case 's':
            o->sequential = true;
            break;
        case 'n':
            o->max_count = strtoull(optarg, NULL, 10);
            break;
        default:
            usage();
        }
    }
    if (optind != argc - 1 || !o->addr.sin_port || o->threads < 1 || o->threads > MAX_THREADS ||
        o->conns < o->threads || o->rate < 0 || o->duration_s <= 0 || o->warmup_s < 0)
        usage();
    *codes = argv[optind];
}

int main(int argc, char **argv)
{
    struct opts o;
    const char *codes;
    parse(argc, argv, &o, &codes);
    size_t n_reqs;
    struct request *reqs = load_requests(codes, &o, &n_reqs);
    struct worker ws[MAX_THREADS];
    memset(ws, 0, sizeof(ws));
    for (unsigned t = 0; t < o.threads; t++) {
        struct worker *w = &ws[t];
        *w = (struct worker){.o = &o, .reqs = reqs, .n_reqs = n_reqs, .id = t};
        w->n_conns = o.conns / o.threads + (t < o.conns % o.threads);
        w->conns = calloc(w->n_conns, sizeof(*w->conns));
        w->idle = calloc(w->n_conns, sizeof(*w->idle));
        w->rng = 0x9e3779b97f4a7c15ull ^ (mono_ns() + t * 7919u);
        w->epfd = epoll_create1(0);
        if (!w->conns || !w->idle || w->epfd < 0)
            die("setup");
        for (unsigned i = 0; i < w->n_conns; i++) {
            w->conns[i].fd = -1;
            reconnect(w, i);
            if (w->conns[i].fd < 0)
                die("connect");
        }
    }
    start_ns = mono_ns() + 20000000; /* every thread starts on one schedule */
    for (unsigned t = 0; t < o.threads; t++)
        if (pthread_create(&ws[t].thread, NULL, run, &ws[t]) != 0)
            die("pthread_create");
    struct worker all = {0};
    uint64_t t_begin = mono_ns();
    for (unsigned t = 0; t < o.threads; t++) {
        struct worker *w = &ws[t];
        pthread_join(w->thread, NULL);
        merge(&all.lat, &w->lat);
        merge(&all.lag, &w->lag);
        all.sent += w->sent;
        all.answered += w->answered;
        all.n3xx += w->n3xx;
        all.n_err_status += w->n_err_status;
        all.n_other_status += w->n_other_status;
        all.counted += w->counted;
        all.counted_3xx += w->counted_3xx;
        all.counted_err_status += w->counted_err_status;
        all.err_connect += w->err_connect;
        all.err_read += w->err_read;
        all.err_write += w->err_write;
        all.timeouts += w->timeouts;
        all.unsent += w->unsent;
        all.bytes += w->bytes;
    }
    double elapsed_us = (double)(mono_ns() - t_begin) / 1000.0;
    qsort(all.lat.v, all.lat.n, sizeof(uint64_t), cmp_u64);
    qsort(all.lag.v, all.lag.n, sizeof(uint64_t), cmp_u64);
    double mean = 0;
    for (size_t i = 0; i < all.lat.n; i++)
        mean += (double)all.lat.v[i] / 1000.0;
    mean = all.lat.n ? mean / (double)all.lat.n : 0;
    printf("@@BENCH {\"mode\":\"%s\",\"rate_target\":%.1f,\"conns\":%u,\"threads\":%u,"
           "\"duration_us\":%.0f,\"warmup_us\":%.0f,\"elapsed_us\":%.0f,"
           "\"requests\":%llu,\"rate_achieved\":%.1f,\"err_status\":%llu,\"got3xx\":%llu,"
           "\"sent_all\":%llu,\"answered_all\":%llu,\"got3xx_all\":%llu,"
           "\"err_status_all\":%llu,\"non3xx_all\":%llu,\"bytes\":%llu,"
           "\"err_connect\":%llu,\"err_read\":%llu,\"err_write\":%llu,\"err_timeout\":%llu,"
           "\"unsent\":%llu,\"samples\":%zu,"
           "\"p50_us\":%.1f,\"p90_us\":%.1f,\"p99_us\":%.1f,\"p999_us\":%.1f,\"max_us\":%.1f,"
           "\"mean_us\":%.1f,\"lag_p50_us\":%.1f,\"lag_p99_us\":%.1f,\"lag_p999_us\":%.1f,"
           "\"lag_max_us\":%.1f}\n",
           o.rate > 0 ? "open" : "closed", o.rate, o.conns, o.threads, o.duration_s * 1e6,
           o.warmup_s * 1e6, elapsed_us, (unsigned long long)all.counted,
           (double)all.counted / o.duration_s, (unsigned long long)all.counted_err_status,
           (unsigned long long)all.counted_3xx, (unsigned long long)all.sent,
           (unsigned long long)all.answered, (unsigned long long)all.n3xx,
           (unsigned long long)all.n_err_status, (unsigned long long)all.n_other_status,
           (unsigned long long)all.bytes, (unsigned long long)all.err_connect,
           (unsigned long long)all.err_read, (unsigned long long)all.err_write,
           (unsigned long long)all.timeouts, (unsigned long long)all.unsent, all.lat.n,
           pct_us(&all.lat, 50), pct_us(&all.lat, 90), pct_us(&all.lat, 99), pct_us(&all.lat, 99.9),
           pct_us(&all.lat, 100), mean, pct_us(&all.lag, 50), pct_us(&all.lag, 99),
           pct_us(&all.lag, 99.9), pct_us(&all.lag, 100));
    return 0;
}
