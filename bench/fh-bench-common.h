/* Small helpers shared by the benchmark programs: percentiles over µs
 * samples and process CPU time. */
#pragma once

#include <glib.h>
#include <sys/resource.h>

#include "host/stats.h" /* fh_percentile_ms: the host's own rule */

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
