/* Prometheus text format: label escaping and number formatting in one place. */
#include "base/prom-text.h"

#include <math.h>

void
fh_prom_family (GString *out, const char *name, const char *type, const char *help)
{
  g_string_append_printf (out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void
append_value (GString *out, double value)
{
  char buf[G_ASCII_DTOSTR_BUF_SIZE];

  if (isinf (value))
    g_string_append (out, value > 0 ? "+Inf" : "-Inf");
  else if (isnan (value))
    g_string_append (out, "NaN");
  else if (value == (double) (gint64) value && fabs (value) < 1e15)
    g_string_append_printf (out, "%" G_GINT64_FORMAT, (gint64) value);
  else
    g_string_append (out, g_ascii_dtostr (buf, sizeof buf, value));
}

static void
append_labels (GString *out, const char *const *labels, const char *le)
{
  gboolean any = FALSE;

  for (gsize i = 0; labels && labels[i] && labels[i + 1]; i += 2) {
    g_string_append_printf (out, "%s%s=\"", any ? "," : "{", labels[i]);
    for (const char *p = labels[i + 1]; *p; p++) {
      if (*p == '\\' || *p == '"')
        g_string_append_c (out, '\\'), g_string_append_c (out, *p);
      else if (*p == '\n')
        g_string_append (out, "\\n");
      else
        g_string_append_c (out, *p);
    }
    g_string_append_c (out, '"');
    any = TRUE;
  }
  if (le)
    g_string_append_printf (out, "%sle=\"%s\"", any ? "," : "{", le), any = TRUE;
  if (any)
    g_string_append_c (out, '}');
}

void
fh_prom_sample (GString *out, const char *name, const char *const *labels, double value)
{
  g_string_append (out, name);
  append_labels (out, labels, NULL);
  g_string_append_c (out, ' ');
  append_value (out, value);
  g_string_append_c (out, '\n');
}

void
fh_prom_histogram (GString *out, const char *name, const char *const *labels,
                   const FhHistogram *histogram)
{
  guint64 cumulative = 0;

  for (guint i = 0; i <= FH_HISTOGRAM_BOUNDS; i++) {
    char le[G_ASCII_DTOSTR_BUF_SIZE];

    cumulative += histogram->buckets[i];
    if (i < FH_HISTOGRAM_BOUNDS)
      g_ascii_dtostr (le, sizeof le, fh_histogram_bounds[i]);
    else
      g_strlcpy (le, "+Inf", sizeof le);
    g_string_append_printf (out, "%s_bucket", name);
    append_labels (out, labels, le);
    g_string_append_printf (out, " %" G_GUINT64_FORMAT "\n", cumulative);
  }
  g_string_append_printf (out, "%s_sum", name);
  append_labels (out, labels, NULL);
  g_string_append_c (out, ' ');
  append_value (out, histogram->sum);
  g_string_append_printf (out, "\n%s_count", name);
  append_labels (out, labels, NULL);
  g_string_append_printf (out, " %" G_GUINT64_FORMAT "\n", histogram->count);
}
