/* The Prometheus text exposition format (version 0.0.4): a family's HELP
 * and TYPE lines, samples with escaped label values, histograms. Pure
 * string building, for the host's /metrics and for unit tests. */
#pragma once

#include <glib.h>

#include "base/stats.h"

#define FH_PROM_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

/* "# HELP @name @help" and "# TYPE @name @type" ("counter", "gauge",
 * "histogram"). */
void fh_prom_family (GString *out, const char *name, const char *type, const char *help);
/* One sample line. @labels: NULL-terminated name, value pairs (NULL for
 * none); values are escaped (\\, \", \n). */
void fh_prom_sample (GString *out, const char *name, const char *const *labels, double value);
/* @name_bucket{…,le="…"} cumulative, @name_sum, @name_count. */
void fh_prom_histogram (GString *out, const char *name, const char *const *labels,
                        const FhHistogram *histogram);
