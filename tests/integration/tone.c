/* Measuring a tone in decoded samples. */
#include "tone.h"

#include <math.h>

double
fh_test_tone_amplitude (const float *samples, gsize n, guint stride, double freq)
{
  double coeff = 2 * cos (2 * G_PI * freq / 48000), s1 = 0, s2 = 0;

  for (gsize i = 0; i < n; i++) {
    double s0 = samples[i * stride] + coeff * s1 - s2;
    s2 = s1;
    s1 = s0;
  }
  return 2 * sqrt (MAX (0, s1 * s1 + s2 * s2 - coeff * s1 * s2)) / (double) n;
}

double
fh_test_tone_level (const float *samples, gsize n, guint stride, double freq)
{
  const gsize window = 2400;
  double sum = 0;
  gsize count = 0;

  for (gsize start = 0; start + window <= n; start += window, count++)
    sum += fh_test_tone_amplitude (samples + start * stride, window, stride, freq);
  return count ? sum / (double) count : 0;
}

double
fh_test_rms (const float *samples, gsize n, guint stride)
{
  double sum = 0;

  for (gsize i = 0; i < n; i++)
    sum += (double) samples[i * stride] * samples[i * stride];
  return n ? sqrt (sum / (double) n) : 0;
}

GArray *
fh_test_read_floats (const char *path)
{
  g_autofree char *data = NULL;
  gsize len;
  GArray *samples = g_array_new (FALSE, FALSE, sizeof (float));

  g_assert_true (g_file_get_contents (path, &data, &len, NULL));
  g_array_append_vals (samples, data, (guint) (len / sizeof (float)));
  return samples;
}
