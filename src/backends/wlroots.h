/* The wlroots backend: every session its own headless sway (pixman, no GPU)
 * with Xwayland and the session's app; its settings. */
#pragma once

#include "backends/backend.h"

typedef struct {
  FhBackendConfig base; /* .backend = "wlroots" */
  const char *app;      /* the session's app, or NULL: foot */
  const char *run_as;   /* the account compositor and app run as when the host is root */
} FhWlrootsConfig;
