/* The Prometheus text writer (base/prom-text.c) and the duration
 * histogram (base/stats.c): escaping, number formats, cumulative buckets. */
#include <glib.h>
#include <string.h>

#include "base/prom-text.h"

static void
test_samples (void)
{
  g_autoptr (GString) out = g_string_new (NULL);
  const char *labels[] = { "session", "a\"b\\c\nd", "plane", "web", NULL };

  fh_prom_family (out, "funkhaus_x_total", "counter", "Things.");
  fh_prom_sample (out, "funkhaus_x_total", labels, 3);
  fh_prom_sample (out, "funkhaus_y", NULL, 0.25);
  g_assert_cmpstr (out->str, ==,
                   "# HELP funkhaus_x_total Things.\n# TYPE funkhaus_x_total counter\n"
                   "funkhaus_x_total{session=\"a\\\"b\\\\c\\nd\",plane=\"web\"} 3\n"
                   "funkhaus_y 0.25\n");
}

static void
test_histogram (void)
{
  g_autoptr (GString) out = g_string_new (NULL);
  FhHistogram h = { 0 };
  const char *labels[] = { "session", "s", NULL };

  fh_histogram_observe (&h, 0.0005); /* ≤ 1 ms */
  fh_histogram_observe (&h, 0.001);  /* on a bound: in it */
  fh_histogram_observe (&h, 0.010);  /* ≤ 16.7 ms */
  fh_histogram_observe (&h, 5.0);    /* +Inf only */
  g_assert_cmpuint (h.count, ==, 4);
  fh_prom_histogram (out, "d_seconds", labels, &h);
  g_assert_nonnull (strstr (out->str, "d_seconds_bucket{session=\"s\",le=\"0.001\"} 2\n"));
  g_assert_nonnull (strstr (out->str, "d_seconds_bucket{session=\"s\",le=\"0.0167\"} 3\n"));
  g_assert_nonnull (strstr (out->str, "d_seconds_bucket{session=\"s\",le=\"2\"} 3\n"));
  g_assert_nonnull (strstr (out->str, "d_seconds_bucket{session=\"s\",le=\"+Inf\"} 4\n"));
  g_assert_nonnull (strstr (out->str, "d_seconds_count{session=\"s\"} 4\n"));
  g_assert_nonnull (strstr (out->str, "d_seconds_sum{session=\"s\"} 5.011"));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/prom-text/samples", test_samples);
  g_test_add_func ("/prom-text/histogram", test_histogram);
  return g_test_run ();
}
