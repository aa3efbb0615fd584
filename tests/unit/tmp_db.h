/* SPDX-License-Identifier: MIT */
/* A database file in a fresh temporary directory, for tests that open one:
 * make it in setup, remove it (with its WAL and shm) in teardown. */
#ifndef LNK_TEST_TMP_DB_H
#define LNK_TEST_TMP_DB_H

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

struct tmp_db {
    char dir[64];
    char path[128];
};

/* 0, or -1 when the directory cannot be made. */
static inline int tmp_db_make(struct tmp_db *t, const char *file)
{
    snprintf(t->dir, sizeof(t->dir), "/tmp/linkd-test-XXXXXX");
    if (!mkdtemp(t->dir))
        return -1;
    snprintf(t->path, sizeof(t->path), "%s/%s", t->dir, file);
    return 0;
}

static inline void tmp_db_remove_files(const char *path)
{
    static const char *const suffixes[] = {"", "-wal", "-shm"};
    char p[160];
    for (size_t i = 0; i < 3; i++) {
        snprintf(p, sizeof(p), "%s%s", path, suffixes[i]);
        unlink(p);
    }
}

static inline void tmp_db_remove(const struct tmp_db *t)
{
    tmp_db_remove_files(t->path);
    rmdir(t->dir);
}

#endif
