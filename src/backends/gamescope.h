/* The gamescope backend: every session its own headless gamescope (needs a
 * GPU); its settings. */
#pragma once

#include "backends/backend.h"
#include "backends/sandbox.h"

typedef struct {
  FhBackendConfig base; /* .backend = "gamescope" */
  const char *command;  /* the gamescope command line, or NULL: gamescope */
  const char *app;      /* the session's app, or NULL: the default */
  FhSandboxConfig sandbox; /* who gamescope and its app run as, and their walls */
} FhGamescopeConfig;
