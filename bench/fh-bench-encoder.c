/* The bare encoder alone: the synthetic backend's picture rendered straight
 * into FhVideoEncoder's input and encoded at a paced rate, with no session,
 * no main loop, no TLS and no socket. It is the baseline the host's figures
 * (fh-bench-client) are divided by. */
#include <gio/gio.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "backends/backend.h"
#include "core/encoder-threads.h"
#include "media/video-encoder.h"
#include "fh-bench-common.h"

typedef struct {
  gint64 encoded_us;
  gsize bytes;
  guint units;
} FhEncodedNote;

static void
on_encoded (const guint8 *data, gsize size, gboolean keyframe, gpointer user_data)
{
  FhEncodedNote *note = user_data;

  note->encoded_us = g_get_monotonic_time ();
  note->bytes += size;
  note->units++;
}

static void
sleep_until (gint64 deadline_us)
{
  /* g_get_monotonic_time () is CLOCK_MONOTONIC on Linux. */
  struct timespec ts = { .tv_sec = deadline_us / G_USEC_PER_SEC,
                         .tv_nsec = (deadline_us % G_USEC_PER_SEC) * 1000 };

  while (clock_nanosleep (CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) != 0)
    ;
}

int
main (int argc, char **argv)
{
  gint width = 1920, height = 1080, fps = 60, bitrate = 8000, threads = 0;
  gint serial = 1;
  double seconds = 10.0, warmup = 2.0;
  g_autofree char *preset = NULL;
  GOptionEntry entries[] = {
    { "width", 'W', 0, G_OPTION_ARG_INT, &width, "frame width (default 1920)", "PX" },
    { "height", 'H', 0, G_OPTION_ARG_INT, &height, "frame height (default 1080)", "PX" },
    { "fps", 'r', 0, G_OPTION_ARG_INT, &fps, "frame rate, paced (default 60)", "HZ" },
    { "bitrate", 'b', 0, G_OPTION_ARG_INT, &bitrate, "kb/s (default 8000, the host's)", "KBPS" },
    { "encoder-preset", 0, 0, G_OPTION_ARG_STRING, &preset, "x264 preset (default ultrafast)",
      "PRESET" },
    { "threads", 0, 0, G_OPTION_ARG_INT, &threads,
      "encoder threads (default 0: what the host gives a lone session)", "N" },
    { "serial", 0, 0, G_OPTION_ARG_INT, &serial,
      "synthetic session serial, picks the background (default 1: the host's first session)",
      "N" },
    { "seconds", 's', 0, G_OPTION_ARG_DOUBLE, &seconds, "measured time (default 10)", "S" },
    { "warmup", 'w', 0, G_OPTION_ARG_DOUBLE, &warmup, "unmeasured time first (default 2)", "S" },
    { NULL },
  };
  g_autoptr (GOptionContext) options =
    g_option_context_new ("- the bare encoder on the synthetic picture, paced");
  g_autoptr (GError) error = NULL;
  g_autoptr (FhVideoEncoder) encoder = NULL;
  g_autoptr (GArray) latency = g_array_new (FALSE, FALSE, sizeof (gint64));
  g_autoptr (GArray) render = g_array_new (FALSE, FALSE, sizeof (gint64));
  g_autoptr (GArray) encode = g_array_new (FALSE, FALSE, sizeof (gint64));
  FhVirtualOutput *output;
  FhOutputRequest request = { 0 };
  FhVideoEncoderConfig config;
  gint64 period_us, start_us, measure_us, end_us, next, cpu0 = 0, cpu1, wall0 = 0, wall1;
  guint64 frame = 0, measured = 0, skipped = 0, bytes = 0;
  gboolean measuring = FALSE;

  g_option_context_add_main_entries (options, entries, NULL);
  if (!g_option_context_parse (options, &argc, &argv, &error)) {
    fprintf (stderr, "fh-bench-encoder: %s\n", error->message);
    return 2;
  }
  if (width < 64 || height < 64 || fps < 1 || seconds <= 0 || warmup < 0 || bitrate < 100) {
    fprintf (stderr, "fh-bench-encoder: a setting is out of range\n");
    return 2;
  }

  request.mode = (FhMode) { (guint) width, (guint) height, (guint) fps };
  request.session_id = "bench-encoder";
  request.serial = (guint) serial;
  request.session_dir = NULL; /* no input record */
  output = fh_display_backend_synthetic.create_output (&request, &error);
  if (!output) {
    fprintf (stderr, "fh-bench-encoder: %s\n", error->message);
    return 1;
  }
  /* The host's encoder-threads=0: its fair share for the first session. */
  if (threads <= 0)
    threads = (gint) fh_encoder_threads (0, g_get_num_processors (), 0, (guint) width,
                                         (guint) height, (guint) fps);
  config = (FhVideoEncoderConfig) {
    .width = (guint) width,
    .height = (guint) height,
    .fps = (guint) fps,
    .bitrate_kbps = (guint) bitrate,
    .preset = preset ? preset : "ultrafast",
    .threads = (guint) threads,
  };
  if (!(encoder = fh_video_encoder_new (&config, &error))) {
    fprintf (stderr, "fh-bench-encoder: %s\n", error->message);
    fh_virtual_output_destroy (output);
    return 1;
  }

  printf ("encoder alone: %dx%d@%d, %d kb/s, preset %s, threads %d, %.0f s warm-up + %.0f s "
          "measured\n",
          width, height, fps, bitrate, config.preset, threads, warmup, seconds);
  fflush (stdout);

  /* The host's encode thread, minus the hand-off: wait for the frame's
   * time, render the picture straight into the encoder's input (as the
   * host does), encode, next. Falling behind by whole periods skips those
   * frames, as the host does. */
  period_us = G_USEC_PER_SEC / fps;
  start_us = g_get_monotonic_time ();
  measure_us = start_us + (gint64) (warmup * G_USEC_PER_SEC);
  end_us = measure_us + (gint64) (seconds * G_USEC_PER_SEC);
  next = start_us;
  for (;;) {
    FhFrame input;
    FhEncodedNote note = { 0 };
    gint64 now, capture_us = 0, rendered_us;

    sleep_until (next);
    now = g_get_monotonic_time ();
    if (!measuring && now >= measure_us) {
      measuring = TRUE;
      cpu0 = fh_bench_self_cpu_us ();
      wall0 = now;
    }
    if (now >= end_us)
      break;
    if (now - next >= period_us) {
      if (measuring)
        skipped += (guint64) ((now - next) / period_us);
      next = now;
    }
    next += period_us;

    if (!fh_video_encoder_get_input (encoder, 0, &input, &error) ||
        (!output->ops->capture (output, &input, frame, next, &capture_us, &error) && error)) {
      fprintf (stderr, "fh-bench-encoder: %s\n", error->message);
      return 1;
    }
    rendered_us = g_get_monotonic_time ();
    if (!fh_video_encoder_encode (encoder, 0, (gint64) frame, frame == 0, on_encoded, &note,
                                  &error)) {
      fprintf (stderr, "fh-bench-encoder: %s\n", error->message);
      return 1;
    }
    frame++;
    if (measuring && note.units > 0) {
      gint64 lat = note.encoded_us - capture_us, r = rendered_us - capture_us,
             e = note.encoded_us - rendered_us;
      g_array_append_val (latency, lat);
      g_array_append_val (render, r);
      g_array_append_val (encode, e);
      bytes += note.bytes;
      measured++;
    }
  }
  cpu1 = fh_bench_self_cpu_us ();
  wall1 = g_get_monotonic_time ();
  fh_virtual_output_destroy (output);
  /* libx264 prints its summary when closed: before our figures, not after. */
  g_clear_pointer (&encoder, fh_video_encoder_free);
  fflush (stderr);

  if (measured == 0) {
    fprintf (stderr, "fh-bench-encoder: no frame was encoded in the measured window\n");
    return 1;
  }
  {
    double window_s = (wall1 - wall0) / (double) G_USEC_PER_SEC;
    double cpu_ms = (cpu1 - cpu0) / 1000.0;

    printf ("\n");
    printf ("frames             %" G_GUINT64_FORMAT "\n", measured);
    printf ("fps                %.2f\n", measured / window_s);
    printf ("skipped            %" G_GUINT64_FORMAT "\n", skipped);
    printf ("kbps               %.0f\n", bytes * 8.0 / 1000.0 / window_s);
    printf ("cpu_ms_per_frame   %.3f\n", cpu_ms / measured);
    printf ("cpu_cores          %.3f\n", cpu_ms / 1000.0 / window_s);
    printf ("render_ms_p50      %.3f\n", fh_percentile_ms (render, 0.50));
    printf ("render_ms_p99      %.3f\n", fh_percentile_ms (render, 0.99));
    printf ("encode_ms_p50      %.3f\n", fh_percentile_ms (encode, 0.50));
    printf ("encode_ms_p99      %.3f\n", fh_percentile_ms (encode, 0.99));
    printf ("capture_to_encoded_ms_p50 %.3f\n", fh_percentile_ms (latency, 0.50));
    printf ("capture_to_encoded_ms_p99 %.3f\n", fh_percentile_ms (latency, 0.99));
    printf ("capture_to_encoded_ms_max %.3f\n", fh_percentile_ms (latency, 1.0));
  }
  return 0;
}
