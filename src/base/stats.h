/* Percentiles of timing samples: one rule for the host's stats messages
 * and the benchmarks, so their figures compare. */
#pragma once

#include <glib.h>

/* Nearest-rank percentile @p (0–1) of @samples (gint64 µs), in ms; sorts
 * @samples. 0 when there are none. */
double fh_percentile_ms (GArray *samples, double p);
