/* A stream's health over its last second, and percentiles of timing
 * samples: one rule for the host's stats messages and the benchmarks, so
 * their figures compare. */
#pragma once

#include <glib.h>

/* Nearest-rank percentile @p (0–1) of @samples (gint64 µs), in ms; sorts
 * @samples. 0 when there are none. */
double fh_percentile_ms (GArray *samples, double p);

/* What a session tells its client once a second. */
typedef struct {
  double fps;
  double kbps;
  guint64 frames;
  guint64 dropped;
  double encode_ms_p50;
  double encode_ms_p99;
  double capture_to_send_ms_p50;
  double capture_to_send_ms_p99;
  guint target_kbps; /* what the encoder aims at now (rate control) */
  guint64 skipped; /* frames the client's link could not take (its plane) */
  double round_trip_ms; /* the client's round trip as its plane sees it; 0: not known */
} FhStreamStats;

/* A Prometheus-style histogram of durations in seconds: fixed upper
 * bounds (fh_histogram_bounds), a count per bucket (not cumulative; the
 * last one is +Inf), the number of samples and their sum. */
#define FH_HISTOGRAM_BOUNDS 12
extern const double fh_histogram_bounds[FH_HISTOGRAM_BOUNDS];

typedef struct {
  guint64 buckets[FH_HISTOGRAM_BOUNDS + 1];
  guint64 count;
  double sum;
} FhHistogram;

void fh_histogram_observe (FhHistogram *histogram, double seconds);
