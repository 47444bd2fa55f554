/* What the core measures for operators: Prometheus metrics of the sessions
 * and the host, its health, and how many more sessions of a mode it can
 * take, from what sessions were measured to cost (docs/operations.md).
 * Plane-neutral: planes appear only as the names their peers carry. */
#pragma once

#include <glib.h>

#include "base/mode.h"

typedef struct _FhCore FhCore;
typedef struct _FhCoreMetrics FhCoreMetrics;

/* How often the cost of the live sessions is sampled. */
#define FH_METRICS_SAMPLE_S 5
/* Desktops that failed to start in a row before the host calls its
 * backend unhealthy. */
#define FH_METRICS_MAX_DESKTOP_FAILURES 3

FhCoreMetrics *fh_core_metrics_new (FhCore *core);
void fh_core_metrics_free (FhCoreMetrics *metrics);
/* Starts (stops) sampling the sessions' cost. */
void fh_core_metrics_start (FhCoreMetrics *metrics);
void fh_core_metrics_stop (FhCoreMetrics *metrics);
/* A session's desktop came up (@ok) or did not. */
void fh_core_metrics_note_desktop (FhCoreMetrics *metrics, gboolean ok);
/* Samples now (tests; the timer does it otherwise). */
void fh_core_metrics_sample (FhCoreMetrics *metrics);

/* The Prometheus text (FH_PROM_CONTENT_TYPE). The sessions' processes'
 * CPU and memory are those of the last sample; it reads no /proc of
 * theirs itself. */
char *fh_core_render_metrics (FhCore *core);
/* /healthz's JSON; @healthy says whether it is 200 or 503. @mode: the mode
 * capacity is asked for (NULL: 1920x1080@60). */
char *fh_core_render_health (FhCore *core, const FhMode *mode, gboolean *healthy);
/* Sessions of @mode the host can still take, from the measured cost;
 * -1 while nothing has been measured yet. */
int fh_core_capacity (FhCore *core, const FhMode *mode);
/* "WxH@Hz" → @mode; FALSE for anything else. */
gboolean fh_mode_parse (const char *text, FhMode *mode);
