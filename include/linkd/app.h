/* SPDX-License-Identifier: MIT */
/* The application: wires config, store, events, metrics and the HTTP server
 * in dependency order, handles signals and the graceful drain. */
#ifndef LNK_APP_H
#define LNK_APP_H

#include "linkd/config.h"

/* `linkd serve`: runs until SIGTERM/SIGINT, then drains and returns the
 * process exit code (0 after a clean stop). A second signal exits at once. */
int lnk_app_serve(const struct lnk_config *cfg);

/* `linkd import DIR`: loads the seed CSVs; 0 on success, 1 on error (message
 * on stderr naming file, line and column). */
int lnk_app_import(const struct lnk_config *cfg, const char *dir);

#endif
