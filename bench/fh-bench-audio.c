/* The host's audio cost per session, against a private PipeWire stack made
 * by the host's own code (src/audio/), with real pulse clients as apps:
 *
 *   speaker: each session's app (pacat) plays a tone into the session's
 *            sink; the host captures the monitor and encodes Opus. Latency
 *            is from the packet's first sample entering the sink (its
 *            capture time) to the moment the packet is handed to the
 *            listener, which is where the host sends it (fh_client_send_binary
 *            is called right there);
 *   mic:     each session's microphone is fed 50 Opus packets a second
 *            (20 ms, encoded before the window) and an app (parecord)
 *            records it.
 *
 * CPU is this process (the host's share: capture, Opus, the PipeWire
 * client) and the PipeWire daemons (pipewire, pipewire-pulse, wireplumber),
 * over the window, per session. The apps' own CPU is not counted.
 *
 *   fh-bench-audio [--sessions N] [--seconds S]
 * Prints "key value" lines. */
#include <dirent.h>
#include <gio/gio.h>
#include <glib/gstdio.h>
#include <math.h>
#include <opus.h>

#include "media/mic.h"
#include "media/pipewire.h"
#include "media/speaker.h"
#include "fh-bench-common.h"
#include "base/account.h"
#include "base/process.h"

#define MAX_SESSIONS 16

typedef struct {
  char *sink, *source;
  FhSpeaker *speaker;
  FhMic *mic;
  FhMicFeeder *feeder;
  pid_t roots[4];
  guint n_roots;
  GSubprocess *app;
} BenchSession;

static struct {
  FhAccount *account;
  FhPipeWire *pw;
  char *dir;
  BenchSession s[MAX_SESSIONS];
  guint n;
  gboolean measuring;
  GArray *latency_us; /* gint64 */
  guint64 packets;
  GPtrArray *mic_packets; /* GBytes, 20 ms each */
  guint mic_next;
  gint64 mic_start_us;
  guint64 mic_sent;
} B;

static const char *
route (FhAudioStreamKind kind, int pid, gpointer data)
{
  for (guint i = 0; i < B.n; i++) {
    if (fh_process_descends_from (pid, B.s[i].roots, B.s[i].n_roots))
      return kind == FH_AUDIO_STREAM_PLAYBACK ? B.s[i].sink : B.s[i].source;
  }
  return NULL;
}

static void
on_packet (const FhAudioPacket *packet, gpointer data)
{
  gint64 latency = g_get_monotonic_time () - packet->capture_us;

  if (!B.measuring)
    return;
  g_array_append_val (B.latency_us, latency);
  B.packets++;
}

static void
run_for (double seconds)
{
  gint64 end = g_get_monotonic_time () + (gint64) (seconds * G_USEC_PER_SEC);

  while (g_get_monotonic_time () < end) {
    if (!g_main_context_iteration (NULL, FALSE))
      g_usleep (500);
  }
}

static GSubprocess *
spawn_app (BenchSession *s, const char *const *argv)
{
  g_autoptr (GSubprocessLauncher) launcher =
    fh_account_new_launcher (B.account, G_SUBPROCESS_FLAGS_STDERR_SILENCE);
  g_autoptr (GError) error = NULL;
  GSubprocess *p;

  for (const char *const *kv = fh_pipewire_get_app_env (B.pw); *kv; kv++) {
    g_auto (GStrv) pair = g_strsplit (*kv, "=", 2);
    g_subprocess_launcher_setenv (launcher, pair[0], pair[1], TRUE);
  }
  g_subprocess_launcher_setenv (launcher, "PULSE_SINK", s->sink, TRUE);
  g_subprocess_launcher_setenv (launcher, "PULSE_SOURCE", s->source, TRUE);
  if (!(p = g_subprocess_launcher_spawnv (launcher, argv, &error)))
    g_error ("cannot start %s: %s", argv[0], error->message);
  s->roots[s->n_roots++] = (pid_t) atoi (g_subprocess_get_identifier (p));
  return p;
}

static void
stop_apps (void)
{
  for (guint i = 0; i < B.n; i++) {
    if (!B.s[i].app)
      continue;
    g_subprocess_send_signal (B.s[i].app, SIGINT);
    g_subprocess_wait (B.s[i].app, NULL, NULL);
    g_clear_object (&B.s[i].app);
  }
}

/* CPU of the private stack's daemons (found by their XDG_RUNTIME_DIR), µs. */
static gint64
daemons_cpu_us (void)
{
  const char *dir = fh_pipewire_get_private_dir (B.pw);
  DIR *proc = opendir ("/proc");
  struct dirent *e;
  gint64 sum = 0;

  while (proc && (e = readdir (proc))) {
    pid_t pid = (pid_t) atoi (e->d_name);
    g_autofree char *runtime = NULL;
    if (pid <= 0)
      continue;
    runtime = fh_process_get_env (pid, "XDG_RUNTIME_DIR");
    if (runtime && g_str_equal (runtime, dir) && fh_process_get_parent (pid) == getpid ())
      sum += MAX (0, fh_bench_process_cpu_us (pid));
  }
  if (proc)
    closedir (proc);
  return sum;
}

static gboolean
feed_mics (gpointer data)
{
  gint64 due = (g_get_monotonic_time () - B.mic_start_us) / 20000 + 1;

  while ((gint64) B.mic_sent < due) {
    GBytes *packet = B.mic_packets->pdata[B.mic_next++ % B.mic_packets->len];
    for (guint i = 0; i < B.n; i++) {
      gsize size;
      const guint8 *d = g_bytes_get_data (packet, &size);
      if (!fh_mic_feeder_push (B.s[i].feeder, d, size, NULL))
        g_error ("a microphone packet did not decode");
    }
    B.mic_sent++;
  }
  return G_SOURCE_CONTINUE;
}

static void
encode_mic_packets (void)
{
  int err;
  OpusEncoder *enc = opus_encoder_create (48000, 1, OPUS_APPLICATION_VOIP, &err);

  B.mic_packets = g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref);
  for (guint p = 0; p < 50; p++) {
    float pcm[960];
    guint8 out[1275];
    opus_int32 n;
    for (guint i = 0; i < 960; i++)
      pcm[i] = 0.3f * (float) sin (2 * G_PI * 660 * (p * 960 + i) / 48000.0);
    n = opus_encode_float (enc, pcm, 960, out, sizeof out);
    g_ptr_array_add (B.mic_packets, g_bytes_new (out, (gsize) n));
  }
  opus_encoder_destroy (enc);
}

static void
measure (const char *name, double seconds)
{
  gint64 self0, self1, d0, d1, wall0, wall1;

  B.measuring = TRUE;
  wall0 = g_get_monotonic_time ();
  self0 = fh_bench_self_cpu_us ();
  d0 = daemons_cpu_us ();
  run_for (seconds);
  wall1 = g_get_monotonic_time ();
  self1 = fh_bench_self_cpu_us ();
  d1 = daemons_cpu_us ();
  B.measuring = FALSE;
  printf ("%s_host_cores_per_session %.4f\n", name,
          (double) (self1 - self0) / (double) (wall1 - wall0) / B.n);
  printf ("%s_pipewire_cores_per_session %.4f\n", name,
          (double) (d1 - d0) / (double) (wall1 - wall0) / B.n);
}

int
main (int argc, char **argv)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GOptionContext) options = g_option_context_new ("- the host's audio cost per session");
  g_autofree char *base = NULL, *tone = NULL;
  gint sessions = 1;
  double seconds = 5;
  GOptionEntry entries[] = {
    { "sessions", 0, 0, G_OPTION_ARG_INT, &sessions, "sessions at once (default 1)", "N" },
    { "seconds", 0, 0, G_OPTION_ARG_DOUBLE, &seconds, "measured seconds per part (default 5)", "S" },
    { NULL },
  };

  g_option_context_add_main_entries (options, entries, NULL);
  if (!g_option_context_parse (options, &argc, &argv, &error) || sessions < 1 ||
      sessions > MAX_SESSIONS) {
    fprintf (stderr, "fh-bench-audio: %s\n", error ? error->message : "--sessions is 1–16");
    return 2;
  }
  B.n = (guint) sessions;
  B.latency_us = g_array_new (FALSE, FALSE, sizeof (gint64));
  if (!(B.account = fh_account_resolve ("funkhaus", &error)) ||
      !(base = fh_account_runtime_base (B.account, &error)) ||
      !(B.pw = fh_pipewire_new (B.account, base, TRUE, &error))) {
    fprintf (stderr, "fh-bench-audio: %s\n", error->message);
    return 1;
  }
  fh_pipewire_set_router (B.pw, route, NULL);
  B.dir = g_strdup_printf ("%s/funkhaus-bench-audio-%d", base, (int) getpid ());
  if (!fh_account_make_dir (B.account, B.dir, &error)) {
    fprintf (stderr, "fh-bench-audio: %s\n", error->message);
    return 1;
  }
  /* A 60 s tone, s16le stereo. */
  {
    gsize frames = 48000 * 60;
    g_autofree gint16 *pcm = g_new (gint16, frames * 2);
    for (gsize i = 0; i < frames; i++)
      pcm[2 * i] = pcm[2 * i + 1] = (gint16) (9830 * sin (2 * G_PI * 440 * i / 48000.0));
    tone = g_build_filename (B.dir, "tone.raw", NULL);
    g_file_set_contents_full (tone, (char *) pcm, (gssize) (frames * 4), G_FILE_SET_CONTENTS_NONE,
                              0644, NULL);
  }
  for (guint i = 0; i < B.n; i++) {
    BenchSession *s = &B.s[i];
    s->sink = g_strdup_printf ("funkhaus-speaker-bench%u", i);
    s->source = g_strdup_printf ("funkhaus-mic-bench%u", i);
    if (!(s->speaker = fh_speaker_new (B.pw, s->sink, &error)) ||
        !(s->mic = fh_mic_new (B.pw, s->source, &error))) {
      fprintf (stderr, "fh-bench-audio: %s\n", error->message);
      return 1;
    }
    fh_speaker_add_listener (s->speaker, on_packet, s);
  }
  run_for (1);

  /* Speaker: a tone in every session. */
  for (guint i = 0; i < B.n; i++) {
    const char *argv_play[] = { "pacat", "--playback", "--raw", "--format=s16le", "--rate=48000",
                                "--channels=2", "--latency-msec=20", tone, NULL };
    B.s[i].app = spawn_app (&B.s[i], argv_play);
  }
  run_for (1.5);
  measure ("speaker", seconds);
  stop_apps ();
  printf ("speaker_packets_per_second_per_session %.1f\n", B.packets / seconds / B.n);
  printf ("speaker_latency_ms_p50 %.3f\n", fh_percentile_ms (B.latency_us, 0.50));
  printf ("speaker_latency_ms_p99 %.3f\n", fh_percentile_ms (B.latency_us, 0.99));
  /* fh_percentile_ms sorted the samples. */
  printf ("speaker_latency_ms_max %.3f\n",
          B.latency_us->len ? g_array_index (B.latency_us, gint64, B.latency_us->len - 1) / 1000.0
                            : 0.0);

  /* Microphone: every session fed, a recorder in each. */
  encode_mic_packets ();
  for (guint i = 0; i < B.n; i++) {
    const char *argv_rec[] = { "parecord", "--raw", "--format=float32le", "--rate=48000",
                               "--channels=1", "--latency-msec=20", "/dev/null", NULL };
    g_autoptr (GError) e = NULL;
    B.s[i].feeder = fh_mic_add_feeder (B.s[i].mic, &e);
    B.s[i].app = spawn_app (&B.s[i], argv_rec);
  }
  B.mic_start_us = g_get_monotonic_time ();
  g_timeout_add (5, feed_mics, NULL);
  run_for (1.5);
  measure ("mic", seconds);
  stop_apps ();
  printf ("sessions %u\nseconds %.1f\n", B.n, seconds);

  for (guint i = 0; i < B.n; i++) {
    fh_mic_remove_feeder (B.s[i].mic, B.s[i].feeder);
    fh_mic_free (B.s[i].mic);
    fh_speaker_free (B.s[i].speaker);
  }
  fh_pipewire_free (B.pw);
  g_unlink (tone);
  g_rmdir (B.dir);
  return 0;
}
