/* SPDX-License-Identifier: MIT */
/* What one access line costs: the CPU of the process (the calling thread
 * and the log thread that writes the lines to a file) per line, for a
 * redirect's line written by the generic field writer (LNK_LOG) and by
 * lnk_log_request. Lines go in bursts of 10,000 with a pause after each, so
 * that the log thread keeps up and no line is dropped (a dropped line
 * costs less). Prints figures, not pass/fail.
 *
 * cc -O2 -Iinclude -Isrc bench/access_line.c build-bench/liblnk_core.a \
 *    -lpthread $(pkg-config --libs jansson) -o /tmp/access_line
 * /tmp/access_line /tmp/access.log */
#include <fcntl.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

#include "linkd/log.h"

#define LINES 200000
#define BURST 10000

static double cpu_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return (double)t.tv_sec * 1e9 + (double)t.tv_nsec;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: access_line FILE\n");
        return 2;
    }
    int fd = open(argv[1], O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0 || dup2(fd, STDOUT_FILENO) < 0) {
        perror(argv[1]);
        return 1;
    }
    lnk_log_start();
    for (int round = 0; round < 5; round++) {
        double a = cpu_ns();
        for (int i = 0; i < LINES; i++) {
            if (i % BURST == 0)
                usleep(40000);
            LNK_LOG(INFO, "0123456789abcdef", "http", "request", LNK_F_STR("method", "GET"),
                    LNK_F_SLICE("path", "/AbC1234", 8), LNK_F_STR("route", "/{code}"),
                    LNK_F_INT("status", 302), LNK_F_INT("duration_us", i & 127));
        }
        double b = cpu_ns();
        for (int i = 0; i < LINES; i++) {
            if (i % BURST == 0)
                usleep(40000);
            lnk_log_request("0123456789abcdef", "GET", "/AbC1234", 8, "/{code}", 302, i & 127);
        }
        double c = cpu_ns();
        fprintf(stderr, "round %d: LNK_LOG %.0f ns/line, lnk_log_request %.0f ns/line\n", round,
                (b - a) / LINES, (c - b) / LINES);
        if (ftruncate(STDOUT_FILENO, 0) != 0)
            perror("ftruncate");
    }
    lnk_log_stop();
    fprintf(stderr, "lines dropped: %llu\n", (unsigned long long)lnk_log_dropped());
    return 0;
}
