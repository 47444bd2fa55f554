/* Small helpers shared by the benchmark programs: percentiles over µs
 * samples and process CPU time. */
#pragma once

#include <glib.h>
#include <sys/resource.h>

static inline int
fh_bench_compare_gint64 (gconstpointer a, gconstpointer b)
{
  gint64 x = *(const gint64 *) a, y = *(const gint64 *) b;
  return (x > y) - (x < y);
}

/* Nearest-rank percentile of @samples (µs) in ms; sorts @samples. The same
 * rule as the host's stats (src/host/session.c), so the figures compare. */
static inline double
fh_bench_percentile_ms (GArray *samples, double p)
{
  gsize i;

  if (samples->len == 0)
    return 0.0;
  g_array_sort (samples, fh_bench_compare_gint64);
  i = (gsize) (p * (samples->len - 1) + 0.5);
  return g_array_index (samples, gint64, i) / 1000.0;
}

static inline double
fh_bench_percentile_double (GArray *samples, double p)
{
  gsize i;

  if (samples->len == 0)
    return 0.0;
  i = (gsize) (p * (samples->len - 1) + 0.5);
  return g_array_index (samples, double, i);
}

static inline int
fh_bench_compare_double (gconstpointer a, gconstpointer b)
{
  double x = *(const double *) a, y = *(const double *) b;
  return (x > y) - (x < y);
}

/* User + system CPU time of this process (all threads), µs. */
static inline gint64
fh_bench_self_cpu_us (void)
{
  struct rusage ru;

  getrusage (RUSAGE_SELF, &ru);
  return (gint64) (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * G_USEC_PER_SEC +
         ru.ru_utime.tv_usec + ru.ru_stime.tv_usec;
}
