/* The wlroots backend: every session its own headless sway (pixman, no GPU)
 * with Xwayland and the session's app; its settings. */
#pragma once

#include "backends/backend.h"
#include "backends/sandbox.h"

typedef struct {
  FhBackendConfig base;    /* .backend = "wlroots" */
  const char *app;         /* the session's app, or NULL: foot */
  FhSandboxConfig sandbox; /* who compositor and app run as, and their walls */
} FhWlrootsConfig;
