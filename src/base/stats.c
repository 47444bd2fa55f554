/* Percentiles of timing samples. */
#include "base/stats.h"

static int
compare_gint64 (gconstpointer a, gconstpointer b)
{
  gint64 x = *(const gint64 *) a, y = *(const gint64 *) b;
  return (x > y) - (x < y);
}

double
fh_percentile_ms (GArray *samples, double p)
{
  gsize i;

  if (samples->len == 0)
    return 0.0;
  g_array_sort (samples, compare_gint64);
  i = (gsize) (p * (samples->len - 1) + 0.5);
  return g_array_index (samples, gint64, i) / 1000.0;
}

/* From 1 ms (an encode of a small picture) to 1 s (a stream that is
 * stuck): one frame of 60 Hz is 16.7 ms, of 30 Hz 33.3 ms. */
const double fh_histogram_bounds[FH_HISTOGRAM_BOUNDS] = {
  0.001, 0.002, 0.004, 0.008, 0.0167, 0.0333, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0,
};

void
fh_histogram_observe (FhHistogram *histogram, double seconds)
{
  guint i = 0;

  while (i < FH_HISTOGRAM_BOUNDS && seconds > fh_histogram_bounds[i])
    i++;
  histogram->buckets[i]++;
  histogram->count++;
  histogram->sum += seconds;
}
