/* SPDX-License-Identifier: MIT */
/* Corpus replay without libFuzzer: runs LLVMFuzzerTestOneInput once on every
 * regular file named on the command line or found (not recursively) in a
 * directory named there, in name order. Linked with each harness into the
 * gcc+ASan build so that `make test` re-checks the committed corpora. Each
 * input gets its own exact-size heap copy, as libFuzzer gives, so reads past
 * the end are caught. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz.h"

#define PATH_BYTES 4096

/* Reads the whole file into a malloc'ed buffer of exactly its size (one byte
 * for an empty file, so the pointer is never NULL). */
static int read_input(const char *path, uint8_t **data, size_t *size)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return -1;
    uint8_t *buf = NULL;
    size_t n = 0, cap = 0;
    int rc = 0;
    for (;;) {
        if (n == cap) {
            cap = cap ? cap * 2 : 4096;
            uint8_t *p = realloc(buf, cap);
            if (!p) {
                rc = -1;
                break;
            }
            buf = p;
        }
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (got == 0) {
            if (ferror(f))
                rc = -1;
            break;
        }
    }
    fclose(f);
    if (rc == 0) {
        *data = malloc(n ? n : 1);
        if (*data) {
            if (n)
                memcpy(*data, buf, n);
            *size = n;
        } else {
            rc = -1;
        }
    }
    free(buf);
    return rc;
}

static int run_file(const char *path)
{
    uint8_t *data;
    size_t size;
    if (read_input(path, &data, &size) != 0) {
        fprintf(stderr, "replay: cannot read %s\n", path);
        return -1;
    }
    fprintf(stderr, "replay: %s (%zu bytes)\n", path, size);
    LLVMFuzzerTestOneInput(data, size);
    free(data);
    return 0;
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Runs every regular file in dir; returns the number of inputs run or -1. */
static int run_dir(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d) {
        fprintf(stderr, "replay: cannot open %s\n", dir);
        return -1;
    }
    char **names = NULL;
    size_t n = 0, cap = 0;
    int rc = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 64;
            char **p = realloc(names, cap * sizeof(*names));
            if (!p) {
                rc = -1;
                break;
            }
            names = p;
        }
        if (!(names[n] = strdup(e->d_name))) {
            rc = -1;
            break;
        }
        n++;
    }
    closedir(d);
    if (rc == 0)
        qsort(names, n, sizeof(*names), cmp_names);
    int runs = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        char path[PATH_BYTES];
        struct stat st;
        if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, names[i]) >= sizeof(path) ||
            stat(path, &st) != 0) {
            rc = -1;
            break;
        }
        if (!S_ISREG(st.st_mode))
            continue;
        if (run_file(path) != 0)
            rc = -1;
        else
            runs++;
    }
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
    return rc == 0 ? runs : -1;
}

int main(int argc, char **argv)
{
    int total = 0;
    if (argc < 2) {
        fprintf(stderr, "usage: %s DIR|FILE...\n", argv[0]);
        return 2;
    }
    for (int i = 1; i < argc; i++) {
        struct stat st;
        if (stat(argv[i], &st) != 0) {
            fprintf(stderr, "replay: no such file or directory: %s\n", argv[i]);
            return 1;
        }
        int runs = S_ISDIR(st.st_mode) ? run_dir(argv[i]) : run_file(argv[i]) == 0 ? 1 : -1;
        if (runs < 0)
            return 1;
        total += runs;
    }
    if (total == 0) {
        fprintf(stderr, "replay: no inputs\n");
        return 1;
    }
    fprintf(stderr, "replay: %d inputs, no failure\n", total);
    return 0;
}
