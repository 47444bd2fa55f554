/* What capturing one frame of a wlroots session costs: a headless sway made
 * by the wlroots backend, exactly as the host makes a session's, captured
 * through the backend's capture op (wlr-screencopy into shm, then one
 * conversion into the encoder's input) at the session's rate, with nothing
 * else around it: no encoding, no network. Once with an app that changes
 * the whole picture every frame (full damage) and once with one that never
 * changes it (no damage). */
#include <gio/gio.h>
#include <glib/gstdio.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "backends/wlroots.h"
#include "media/video-encoder.h"
#include "fh-bench-common.h"

/* Set by SIGINT/SIGTERM: the one thing a signal handler may touch. */
static volatile sig_atomic_t interrupted;

static void
on_signal (int sig)
{
  interrupted = 1;
}

typedef struct {
  const char *name; /* "full", "none" */
  const char *app;
  gboolean expect_frames;
} FhCaptureCase;

typedef struct {
  gint width, height, fps, rounds;
  double seconds, warmup;
  const char *run_as;
} FhCaptureSettings;

/* CPU time of the session's compositor (sway) and of its other processes
 * (the app, Xwayland if an X11 client started it), found by
 * FUNKHAUS_SESSION, µs. */
static void
session_cpu_us (const char *session_id, gint64 *compositor, gint64 *others)
{
  g_autoptr (GDir) proc = g_dir_open ("/proc", 0, NULL);
  const char *name;

  *compositor = *others = 0;
  while (proc && (name = g_dir_read_name (proc))) {
    pid_t pid = (pid_t) g_ascii_strtoll (name, NULL, 10);
    g_autofree char *id = NULL, *dir = NULL, *comm = NULL;
    gint64 cpu;

    if (pid <= 0 || !(id = fh_bench_process_session (pid)) || !g_str_equal (id, session_id) ||
        (cpu = fh_bench_process_runtime_us (pid)) < 0)
      continue;
    dir = g_strdup_printf ("/proc/%d", (int) pid);
    comm = fh_bench_comm (dir);
    if (g_str_equal (comm, "sway"))
      *compositor += cpu;
    else
      *others += cpu;
  }
}

static gint64
thread_cpu_us (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_THREAD_CPUTIME_ID, &ts);
  return (gint64) ts.tv_sec * G_USEC_PER_SEC + ts.tv_nsec / 1000;
}

static void
sleep_until (gint64 deadline_us)
{
  /* g_get_monotonic_time () is CLOCK_MONOTONIC on Linux. */
  struct timespec ts = { .tv_sec = deadline_us / G_USEC_PER_SEC,
                         .tv_nsec = (deadline_us % G_USEC_PER_SEC) * 1000 };

  while (!interrupted && clock_nanosleep (CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) != 0)
    ;
}

typedef struct {
  GArray *frame_cpu_us; /* thread CPU of a capture that returned a picture */
  GArray *frame_latency_us; /* compositor's ready stamp → picture in the encoder's input */
  GArray *idle_cpu_us; /* thread CPU of a capture that found nothing new */
  GArray *idle_wall_us; /* … and its wall time (it waits for the deadline) */
  guint64 calls, frames, skipped;
  gint64 window_us; /* capturing, all rounds */
  gint64 compositor_capturing_us, others_capturing_us;
  gint64 compositor_idle_us, others_idle_us; /* the same length of time, not capturing */
} FhCaptureResult;

/* The host's encode thread without the encoder: wait for the frame's time,
 * capture with the next frame's time as deadline, as the host does; fall
 * behind by whole periods and those frames are skipped. Measures only
 * after @measure_us. */
static gboolean
capture_for (FhVirtualOutput *output, FhVideoEncoder *encoder, gint64 period_us,
             gint64 measure_us, gint64 end_us, FhCaptureResult *r, GError **error)
{
  gint64 next = g_get_monotonic_time ();

  while (!interrupted) {
    FhFrame input;
    gint64 now, wall0, cpu0, wall, cpu, stamp = 0;
    gboolean changed;

    sleep_until (next);
    now = g_get_monotonic_time ();
    if (now >= end_us)
      break;
    if (now - next >= period_us) {
      if (now >= measure_us)
        r->skipped += (guint64) ((now - next) / period_us);
      next = now;
    }
    next += period_us;

    if (!fh_video_encoder_get_input (encoder, 0, &input, error))
      return FALSE;
    wall0 = g_get_monotonic_time ();
    cpu0 = thread_cpu_us ();
    changed = output->ops->capture (output, &input, 0, next, &stamp, error);
    cpu = thread_cpu_us () - cpu0;
    wall = g_get_monotonic_time ();
    if (!changed && error && *error)
      return FALSE;
    if (wall0 < measure_us)
      continue;
    r->calls++;
    if (changed) {
      gint64 latency = wall - stamp;
      r->frames++;
      g_array_append_val (r->frame_cpu_us, cpu);
      g_array_append_val (r->frame_latency_us, latency);
    } else {
      gint64 w = wall - wall0;
      g_array_append_val (r->idle_cpu_us, cpu);
      g_array_append_val (r->idle_wall_us, w);
    }
  }
  return TRUE;
}

static char *
random_session_id (void)
{
  return g_strdup_printf ("%08x%08x%08x%08x", g_random_int (), g_random_int (), g_random_int (),
                          g_random_int ());
}

static gboolean
run_case (const FhCaptureSettings *settings, const FhCaptureCase *c, GError **error)
{
  g_autofree char *session_id = random_session_id ();
  g_autofree char *session_dir = NULL;
  g_autoptr (FhVideoEncoder) encoder = NULL;
  FhOutputRequest request = { 0 };
  FhWlrootsConfig wlroots;
  FhVideoEncoderConfig config = {
    .width = (guint) settings->width,
    .height = (guint) settings->height,
    .fps = (guint) settings->fps,
    .bitrate_kbps = 8000,
    .preset = "ultrafast",
    .threads = 1, /* never encodes: its input buffer is all we need */
  };
  FhVirtualOutput *output;
  FhCaptureResult r = {
    .frame_cpu_us = g_array_new (FALSE, FALSE, sizeof (gint64)),
    .frame_latency_us = g_array_new (FALSE, FALSE, sizeof (gint64)),
    .idle_cpu_us = g_array_new (FALSE, FALSE, sizeof (gint64)),
    .idle_wall_us = g_array_new (FALSE, FALSE, sizeof (gint64)),
  };
  gint64 period_us = G_USEC_PER_SEC / settings->fps;
  gint64 window_us = (gint64) (settings->seconds * G_USEC_PER_SEC);
  gboolean ok = FALSE;
  const char *n = c->name;

  if (!(session_dir = g_dir_make_tmp ("fh-bench-capture-XXXXXX", error)))
    goto out;
  if (!(encoder = fh_video_encoder_new (&config, error)))
    goto out;
  request.mode = (FhMode) { (guint) settings->width, (guint) settings->height,
                            (guint) settings->fps };
  request.session_id = session_id;
  request.serial = 1;
  request.session_dir = session_dir;
  wlroots = (FhWlrootsConfig) { { "wlroots" }, c->app, { .run_as = settings->run_as } };
  request.config = &wlroots.base;
  /* The script that runs us stops this session's processes by its id
   * should we die. */
  printf ("%s: session %s, app: %s\n", n, session_id, c->app);
  fflush (stdout);
  if (!(output = fh_display_backend_wlroots.create_output (&request, error)))
    goto out;

  /* Warm up: the app's first frames, the first full copy. Then rounds of
   * capturing and of not capturing, so the compositor's own cost of a
   * capture shows as the difference. */
  {
    gint64 start = g_get_monotonic_time ();
    ok = capture_for (output, encoder, period_us, G_MAXINT64,
                      start + (gint64) (settings->warmup * G_USEC_PER_SEC), &r, error);
  }
  for (gint round = 0; ok && round < settings->rounds && !interrupted; round++) {
    gint64 comp0, others0, comp1, others1, start;

    session_cpu_us (session_id, &comp0, &others0);
    start = g_get_monotonic_time ();
    ok = capture_for (output, encoder, period_us, start, start + window_us, &r, error);
    r.window_us += g_get_monotonic_time () - start;
    session_cpu_us (session_id, &comp1, &others1);
    r.compositor_capturing_us += comp1 - comp0;
    r.others_capturing_us += others1 - others0;

    /* A copy still pending is served at most once while we look away. */
    sleep_until (g_get_monotonic_time () + period_us);
    session_cpu_us (session_id, &comp0, &others0);
    sleep_until (g_get_monotonic_time () + window_us);
    session_cpu_us (session_id, &comp1, &others1);
    r.compositor_idle_us += comp1 - comp0;
    r.others_idle_us += others1 - others0;
  }
  fh_virtual_output_destroy (output);
  if (!ok)
    goto out;
  if (interrupted) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED, "interrupted");
    ok = FALSE;
    goto out;
  }
  if (c->expect_frames && r.frames == 0) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED,
                 "%s: no frame was captured in the measured window: does '%s' animate?", n,
                 c->app);
    ok = FALSE;
    goto out;
  }

  {
    double window_s = r.window_us / (double) G_USEC_PER_SEC;
    gint64 compositor_extra = r.compositor_capturing_us - r.compositor_idle_us;

    printf ("%s_calls %" G_GUINT64_FORMAT "\n", n, r.calls);
    printf ("%s_frames %" G_GUINT64_FORMAT "\n", n, r.frames);
    printf ("%s_fps %.2f\n", n, r.frames / window_s);
    printf ("%s_unchanged_calls %u\n", n, r.idle_cpu_us->len);
    printf ("%s_skipped %" G_GUINT64_FORMAT "\n", n, r.skipped);
    printf ("%s_window_s %.3f\n", n, window_s);
    if (r.frames) {
      gint64 sum = 0;
      for (guint i = 0; i < r.frame_cpu_us->len; i++)
        sum += g_array_index (r.frame_cpu_us, gint64, i);
      printf ("%s_frame_cpu_ms_mean %.3f\n", n, sum / 1000.0 / r.frames);
      printf ("%s_frame_cpu_ms_p50 %.3f\n", n, fh_percentile_ms (r.frame_cpu_us, 0.50));
      printf ("%s_frame_cpu_ms_p99 %.3f\n", n, fh_percentile_ms (r.frame_cpu_us, 0.99));
      printf ("%s_ready_to_converted_ms_p50 %.3f\n", n,
              fh_percentile_ms (r.frame_latency_us, 0.50));
      printf ("%s_ready_to_converted_ms_p99 %.3f\n", n,
              fh_percentile_ms (r.frame_latency_us, 0.99));
      printf ("%s_compositor_extra_ms_per_frame %.3f\n", n, compositor_extra / 1000.0 / r.frames);
    }
    if (r.idle_cpu_us->len) {
      gint64 sum = 0;
      for (guint i = 0; i < r.idle_cpu_us->len; i++)
        sum += g_array_index (r.idle_cpu_us, gint64, i);
      printf ("%s_unchanged_cpu_ms_mean %.4f\n", n, sum / 1000.0 / r.idle_cpu_us->len);
      printf ("%s_unchanged_cpu_ms_p50 %.3f\n", n, fh_percentile_ms (r.idle_cpu_us, 0.50));
      printf ("%s_unchanged_cpu_ms_p99 %.3f\n", n, fh_percentile_ms (r.idle_cpu_us, 0.99));
      printf ("%s_unchanged_wall_ms_p50 %.3f\n", n, fh_percentile_ms (r.idle_wall_us, 0.50));
    }
    printf ("%s_compositor_cores_capturing %.4f\n", n, r.compositor_capturing_us / 1e6 / window_s);
    printf ("%s_compositor_cores_not_capturing %.4f\n", n, r.compositor_idle_us / 1e6 / window_s);
    printf ("%s_app_cores_capturing %.4f\n", n, r.others_capturing_us / 1e6 / window_s);
    printf ("%s_app_cores_not_capturing %.4f\n", n, r.others_idle_us / 1e6 / window_s);
    printf ("%s_compositor_extra_ms_per_call %.4f\n", n,
            r.calls ? compositor_extra / 1000.0 / r.calls : 0.0);
    fflush (stdout);
  }

out:
  if (session_dir)
    g_rmdir (session_dir); /* the output removed its logs */
  g_array_unref (r.frame_cpu_us);
  g_array_unref (r.frame_latency_us);
  g_array_unref (r.idle_cpu_us);
  g_array_unref (r.idle_wall_us);
  return ok;
}

int
main (int argc, char **argv)
{
  FhCaptureSettings settings = {
    .width = 1280, .height = 720, .fps = 30, .rounds = 2, .seconds = 4.0, .warmup = 2.0,
  };
  g_autofree char *animated = NULL, *still = NULL, *run_as = NULL;
  GOptionEntry entries[] = {
    { "width", 'W', 0, G_OPTION_ARG_INT, &settings.width, "output width (default 1280)", "PX" },
    { "height", 'H', 0, G_OPTION_ARG_INT, &settings.height, "output height (default 720)", "PX" },
    { "fps", 'r', 0, G_OPTION_ARG_INT, &settings.fps, "output refresh and capture rate (default 30)",
      "HZ" },
    { "animated-app", 0, 0, G_OPTION_ARG_STRING, &animated,
      "command line of an app that changes the whole picture every frame", "CMD" },
    { "static-app", 0, 0, G_OPTION_ARG_STRING, &still,
      "command line of an app that never changes its picture", "CMD" },
    { "run-as", 0, 0, G_OPTION_ARG_STRING, &run_as,
      "account for sway and the apps when run as root (default funkhaus)", "USER" },
    { "rounds", 0, 0, G_OPTION_ARG_INT, &settings.rounds,
      "capturing / not capturing rounds per app (default 2)", "N" },
    { "seconds", 's', 0, G_OPTION_ARG_DOUBLE, &settings.seconds,
      "measured time per round and per half (default 4)", "S" },
    { "warmup", 'w', 0, G_OPTION_ARG_DOUBLE, &settings.warmup,
      "unmeasured capturing first (default 2)", "S" },
    { NULL },
  };
  g_autoptr (GOptionContext) options =
    g_option_context_new ("- capture cost per frame of one wlroots session, full and no damage");
  g_autoptr (GError) error = NULL;
  struct sigaction sa = { .sa_handler = on_signal };
  FhCaptureCase cases[2];

  g_option_context_add_main_entries (options, entries, NULL);
  if (!g_option_context_parse (options, &argc, &argv, &error)) {
    fprintf (stderr, "fh-bench-capture: %s\n", error->message);
    return 2;
  }
  if (!animated || !still) {
    fprintf (stderr, "fh-bench-capture: --animated-app and --static-app are needed\n");
    return 2;
  }
  if (settings.width < 64 || settings.height < 64 || settings.fps < 1 || settings.rounds < 1 ||
      settings.seconds <= 0 || settings.warmup < 0) {
    fprintf (stderr, "fh-bench-capture: a setting is out of range\n");
    return 2;
  }
  settings.run_as = run_as ? run_as : "funkhaus";
  /* Stop cleanly on SIGINT/SIGTERM, so that the session's compositor goes
   * too. */
  sigemptyset (&sa.sa_mask);
  sigaction (SIGINT, &sa, NULL);
  sigaction (SIGTERM, &sa, NULL);

  printf ("capture: %dx%d@%d, %.0f s warm-up, %d rounds of %.0f s capturing + %.0f s not\n",
          settings.width, settings.height, settings.fps, settings.warmup, settings.rounds,
          settings.seconds, settings.seconds);
  fflush (stdout);
  cases[0] = (FhCaptureCase) { "full", animated, TRUE };
  cases[1] = (FhCaptureCase) { "none", still, FALSE };
  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++) {
    if (!run_case (&settings, &cases[i], &error)) {
      fprintf (stderr, "fh-bench-capture: %s\n", error->message);
      return 1;
    }
  }
  return 0;
}
