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
