/* The wlroots backend: every session its own headless sway (pixman, no GPU)
 * with Xwayland and the session's app; its settings. */
#pragma once

#include "backends/backend.h"
#include "backends/sandbox.h"

typedef struct {
  FhBackendConfig base;    /* .backend = "wlroots" */
  const char *app;         /* the session's app, or NULL: foot */
  FhSandboxConfig sandbox; /* who compositor and app run as, and their walls */
  /* A desktop a newcomer recognises: a swaybar (a clock), Super+Return for
   * a terminal and Super+D for a launcher where one is installed. */
  gboolean panel;
} FhWlrootsConfig;

/* The refresh (mHz) the backend asks sway for when a client wants @hz, so
 * that animated content reaches @hz despite the headless backend's timer
 * (see wlroots.c). */
guint fh_wlroots_compositor_refresh_mhz (guint hz);
