/* The gamescope backend: every session its own headless gamescope (needs a
 * GPU); its settings. */
#pragma once

#include "backends/backend.h"

typedef struct {
  FhBackendConfig base; /* .backend = "gamescope" */
  const char *command;  /* the gamescope command line, or NULL: gamescope */
  const char *app;      /* the session's app, or NULL: the default */
  const char *run_as;   /* the account gamescope and app run as when the host is root */
} FhGamescopeConfig;
