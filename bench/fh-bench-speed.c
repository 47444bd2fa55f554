/* How fast this machine is right now, in the host's own terms: the time one
 * conversion of a 1920x1080 picture from a compositor's XRGB into the
 * encoder's I420 takes (src/media/convert.c, one thread), the median over
 * a fraction of a second. A bench prints it beside figures that depend on
 * the CPU's speed: on a virtual machine that speed moves while the machine
 * is idle, which waiting for a quiet machine cannot see.
 *
 * Usage: fh-bench-speed [--seconds S]   prints "convert_1080p_ms M". */
#include <libavutil/pixfmt.h>
#include <stdlib.h>

#include "fh-bench-common.h"
#include "media/convert.h"

#define W 1920
#define H 1080

int
main (int argc, char **argv)
{
  double seconds = 0.4;
  GOptionEntry entries[] = {
    { "seconds", 's', 0, G_OPTION_ARG_DOUBLE, &seconds, "how long to measure (default 0.4)", "S" },
    { NULL },
  };
  g_autoptr (GOptionContext) context = g_option_context_new ("- this machine's speed now");
  g_autoptr (GError) error = NULL;
  g_autoptr (FhConverter) converter = fh_converter_new ();
  g_autoptr (GArray) ms = g_array_new (FALSE, FALSE, sizeof (double));
  g_autofree guint8 *rgb = g_malloc ((gsize) W * H * 4);
  g_autofree guint8 *planes = g_malloc ((gsize) W * H * 3 / 2);
  FhFrame frame = { { planes, planes + W * H, planes + W * H + W * H / 4 },
                    { W, W / 2, W / 2 }, W, H };
  gint64 end;

  g_option_context_add_main_entries (context, entries, NULL);
  if (!g_option_context_parse (context, &argc, &argv, &error)) {
    fprintf (stderr, "fh-bench-speed: %s\n", error->message);
    return 2;
  }
  if (!(seconds > 0 && seconds <= 60)) {
    fprintf (stderr, "fh-bench-speed: --seconds must be above 0 and at most 60\n");
    return 2;
  }
  /* A picture that is not one colour, so no pass is cheaper than a
   * desktop's. */
  for (gsize i = 0; i < (gsize) W * H * 4; i++)
    rgb[i] = (guint8) (i * 7 + i / (W * 4) * 13);
  for (int i = 0; i < 3; i++) { /* warm: caches, pages */
    if (!fh_converter_run (converter, AV_PIX_FMT_BGR0, rgb, W * 4, W, H, &frame, &error)) {
      fprintf (stderr, "fh-bench-speed: %s\n", error->message);
      return 1;
    }
  }
  end = g_get_monotonic_time () + (gint64) (seconds * G_USEC_PER_SEC);
  while (g_get_monotonic_time () < end || ms->len < 5) {
    gint64 t0 = g_get_monotonic_time ();
    double took;

    fh_converter_run (converter, AV_PIX_FMT_BGR0, rgb, W * 4, W, H, &frame, NULL);
    took = (g_get_monotonic_time () - t0) / 1000.0;
    g_array_append_val (ms, took);
  }
  g_array_sort (ms, fh_bench_compare_double);
  printf ("convert_1080p_ms %.2f\n", fh_bench_percentile_double (ms, 0.5));
  return 0;
}
