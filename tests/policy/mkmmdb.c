/* SPDX-License-Identifier: MIT */
/* mkmmdb OUT NET/LEN=CC...: writes a small MaxMind DB (the unit tests'
 * writer, tests/unit/policy/mmdb_writer.h) in which each network has that
 * country, so that the API tests can run country rules against a real
 * database (LINKD_GEOIP_DB). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy/mmdb_writer.h"

static struct mmdb_w w;

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: mkmmdb OUT NET/LEN=CC...\n");
        return 2;
    }
    mmdb_w_init(&w);
    for (int i = 2; i < argc; i++) {
        char net[64];
        unsigned len = 0;
        char cc[3] = "";
        if (sscanf(argv[i], "%63[^/]/%u=%2s", net, &len, cc) != 3 || strlen(cc) != 2) {
            fprintf(stderr, "mkmmdb: %s is not NET/LEN=CC\n", argv[i]);
            return 2;
        }
        mmdb_w_insert_text(&w, net, len, "country", cc);
    }
    return mmdb_w_write(&w, argv[1]) ? 0 : 1;
}
