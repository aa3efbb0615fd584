/* SPDX-License-Identifier: MIT */
/* Country of a client address from a MaxMind DB (libmaxminddb). The handle
 * is opened once (memory-mapped) and only read afterwards: MMDB lookups are
 * thread-safe on an opened database. */
#include <maxminddb.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "linkd/arena.h"
#include "linkd/err.h"
#include "linkd/policy.h"

struct lnk_geo {
    MMDB_s mmdb;
};

int lnk_geo_open(const char *path, struct lnk_geo **out)
{
    *out = NULL;
    if (access(path, F_OK) != 0)
        return LNK_ENOTFOUND;
    struct lnk_geo *g = lnk_xcalloc(1, sizeof(*g));
    if (MMDB_open(path, MMDB_MODE_MMAP, &g->mmdb) != MMDB_SUCCESS) {
        free(g);
        return LNK_EINVAL;
    }
    *out = g;
    return LNK_OK;
}

void lnk_geo_close(struct lnk_geo *g)
{
    if (!g)
        return;
    MMDB_close(&g->mmdb);
    free(g);
}

/* map_name.iso_code of entry as two upper-case letters. */
static bool iso_code(MMDB_entry_s *entry, const char *map_name, char cc[3])
{
    MMDB_entry_data_s d;
    if (MMDB_get_value(entry, &d, map_name, "iso_code", NULL) != MMDB_SUCCESS || !d.has_data ||
        d.type != MMDB_DATA_TYPE_UTF8_STRING || d.data_size != 2)
        return false;
    for (int i = 0; i < 2; i++) {
        char c = d.utf8_string[i];
        if (c >= 'a' && c <= 'z')
            c = (char)(c - 32);
        if (c < 'A' || c > 'Z')
            return false;
        cc[i] = c;
    }
    cc[2] = '\0';
    return true;
}

bool lnk_geo_country(const struct lnk_geo *g, const char *ip, char cc[3])
{
    int gai_error = 0, mmdb_error = 0;
    if (!g || !ip)
        return false;
    /* MMDB_lookup_string uses getaddrinfo with AI_NUMERICHOST: no resolving.
     * The lookup does not change the database; the API just is not const. */
    MMDB_lookup_result_s r = MMDB_lookup_string((MMDB_s *)&g->mmdb, ip, &gai_error, &mmdb_error);
    if (gai_error != 0 || mmdb_error != MMDB_SUCCESS || !r.found_entry)
        return false;
    return iso_code(&r.entry, "country", cc) || iso_code(&r.entry, "registered_country", cc);
}
