/* A session's own PipeWire stack (backends/audio-stack.h) with real
 * daemons, without a sandbox: two stacks, A and B, in runtime dirs of
 * their own, each started as the account apps run as, the host a client
 * of both (fh_pipewire_connect_session) with a speaker and a microphone in
 * each. Where bubblewrap can, each stack runs in a PID namespace of its
 * own, as in a sandbox: neither the host nor the apps are processes the
 * stack can see. Apps name no sink or source, only their stack:
 *   - connecting and making the nodes never waits for the stack (B's
 *     pipewire is stopped meanwhile);
 *   - a pulse app in A (paplay, 440 Hz) is heard by A's speaker only, a
 *     native one in B (pw-play, 880 Hz) by B's only: the defaults are the
 *     speakers;
 *   - Opus fed into A's microphone reaches a recorder in A (parecord, the
 *     default source); one in B hears silence;
 *   - each stack lists only its own session's sink, and its defaults are
 *     its speaker and microphone, also when an app adds a sink;
 *   - an app that starts playing before the speaker exists (the order in
 *     a session) is heard once it does;
 *   - a daemon that cannot start is an error that names its log. */
#include <gio/gio.h>
#include <glib/gstdio.h>
#include <math.h>
#include <opus.h>
#include <signal.h>
#include <unistd.h>

#include "tone.h"
#include "backends/audio-stack.h"
#include "base/account.h"
#include "base/process.h"
#include "media/mic.h"
#include "media/pipewire.h"
#include "media/speaker.h"

typedef struct {
  const char *label;
  char *dir; /* the stack's runtime dir */
  char *sink_name, *mic_name;
  GPtrArray *daemons; /* GSubprocess */
  char *remote;
  FhPipeWire *pw;
  FhSpeaker *speaker;
  FhMic *mic;
  OpusDecoder *decoder;
  GArray *samples; /* decoded, interleaved stereo float */
} TestStack;

static struct {
  FhAccount *account;
  char *log_dir; /* the daemons' logs, one folder per stack */
  char *files; /* tones and recordings */
  TestStack stacks[2];
  gboolean broken_pipewire; /* spawn: pipewire fails at once */
  gboolean pid_namespace; /* spawn: in a PID namespace of its own */
} T;

/* What fh_sandbox_spawn does, without the sandbox: the account, a clean
 * environment, the stack's runtime dir, the log. */
static GSubprocess *
spawn_daemon (const char *log_path, const char *const *env, const char *const *argv,
              gpointer user_data, GError **error)
{
  TestStack *s = user_data;
  g_autoptr (GSubprocessLauncher) launcher = fh_account_new_launcher (T.account, 0);
  const char *const broken[] = { "sh", "-c", "echo 'pipewire: broken on purpose'; exit 3",
                                  NULL };
  GSubprocess *process;

  g_subprocess_launcher_setenv (launcher, "XDG_RUNTIME_DIR", s->dir, TRUE);
  for (const char *const *kv = env; kv && *kv; kv++) {
    g_auto (GStrv) pair = g_strsplit (*kv, "=", 2);
    g_subprocess_launcher_setenv (launcher, pair[0], pair[1], TRUE);
  }
  g_subprocess_launcher_set_stdout_file_path (launcher, log_path);
  g_subprocess_launcher_set_stderr_file_path (launcher, log_path);
  g_autoptr (GStrvBuilder) full = g_strv_builder_new ();
  g_auto (GStrv) full_argv = NULL;

  if (T.pid_namespace)
    g_strv_builder_add_many (full, "bwrap", "--unshare-user", "--unshare-pid", "--dev-bind", "/",
                             "/", "--proc", "/proc", "--", NULL);
  g_strv_builder_addv (full, (const char **) (T.broken_pipewire ? broken : argv));
  full_argv = g_strv_builder_end (full);
  process = g_subprocess_launcher_spawnv (launcher, (const char *const *) full_argv, error);
  if (process)
    g_ptr_array_add (s->daemons, g_object_ref (process));
  return process;
}

static void
print_file (const char *path)
{
  g_autofree char *text = NULL;

  if (g_file_get_contents (path, &text, NULL, NULL))
    g_printerr ("---- %s ----\n%s\n", path, text);
}

/* pipewire and what it started (wireplumber, pipewire-pulse): its process
 * group (the account's launcher makes it a session leader). */
static void
signal_group (GSubprocess *pipewire, int sig)
{
  const char *pid = g_subprocess_get_identifier (pipewire);

  if (pid)
    kill (-atoi (pid), sig);
}

/* When an assertion aborts the test: every child's log, and no daemon
 * left behind. */
static void
print_logs_and_abort (int sig)
{
  signal (SIGABRT, SIG_DFL);
  for (guint i = 0; i < G_N_ELEMENTS (T.stacks); i++) {
    TestStack *s = &T.stacks[i];
    g_autofree char *path = g_build_filename (T.log_dir, s->label, "pipewire.log", NULL);
    print_file (path);
    for (guint j = 0; s->daemons && j < s->daemons->len; j++)
      signal_group (s->daemons->pdata[j], SIGKILL); /* stopped ones too */
    if (s->dir)
      fh_remove_tree (s->dir);
  }
  if (T.files)
    fh_remove_tree (T.files);
  raise (SIGABRT);
}

static void
run_for (guint ms)
{
  gint64 end = g_get_monotonic_time () + ms * 1000;

  while (g_get_monotonic_time () < end)
    if (!g_main_context_iteration (NULL, FALSE))
      g_usleep (1000);
}

static gboolean
run_until_capturing (TestStack *s, guint ms)
{
  gint64 end = g_get_monotonic_time () + ms * 1000;

  while (!fh_speaker_is_capturing (s->speaker) && g_get_monotonic_time () < end)
    if (!g_main_context_iteration (NULL, FALSE))
      g_usleep (1000);
  return fh_speaker_is_capturing (s->speaker);
}

static void
on_packet (const FhAudioPacket *packet, gpointer user_data)
{
  TestStack *s = user_data;
  float pcm[5760 * 2];
  int n = opus_decode_float (s->decoder, packet->data, (opus_int32) packet->size, pcm, 5760, 0);

  g_assert_cmpint (n, >, 0);
  g_array_append_vals (s->samples, pcm, (guint) n * 2);
}

/* A WAV file (s16le, 48 kHz, stereo) of @seconds of @freq at 0.3, which
 * paplay and pw-play both read. */
static char *
write_tone (double freq, double seconds)
{
  g_autofree char *name = g_strdup_printf ("tone-%.0f.wav", freq);
  char *path = g_build_filename (T.files, name, NULL);
  guint32 frames = (guint32) (seconds * 48000), bytes = frames * 4;
  g_autoptr (GByteArray) wav = g_byte_array_new ();
  guint32 u32;
  guint16 u16;

#define PUT(bytes_, n_) g_byte_array_append (wav, (const guint8 *) (bytes_), (n_))
#define PUT32(v) (u32 = GUINT32_TO_LE (v), PUT (&u32, 4))
#define PUT16(v) (u16 = GUINT16_TO_LE (v), PUT (&u16, 2))
  PUT ("RIFF", 4), PUT32 (36 + bytes), PUT ("WAVE", 4);
  PUT ("fmt ", 4), PUT32 (16), PUT16 (1), PUT16 (2), PUT32 (48000), PUT32 (48000 * 4), PUT16 (4),
    PUT16 (16);
  PUT ("data", 4), PUT32 (bytes);
  for (guint32 i = 0; i < frames; i++) {
    gint16 v = GINT16_TO_LE ((gint16) (0.3 * 32767 * sin (2 * G_PI * freq * i / 48000)));
    PUT (&v, 2), PUT (&v, 2);
  }
#undef PUT16
#undef PUT32
#undef PUT
  g_assert_true (g_file_set_contents_full (path, (const char *) wav->data, (gssize) wav->len,
                                           G_FILE_SET_CONTENTS_NONE, 0644, NULL));
  return path;
}

/* Starts @argv as an app of stack @s: the account apps run as, a clean
 * environment that names the stack (XDG_RUNTIME_DIR, PULSE_SERVER,
 * PIPEWIRE_REMOTE) and, unless @sink, no sink or source. */
static GSubprocess *
spawn_app_with_sink (TestStack *s, const char *sink, GSubprocessFlags flags,
                     const char *const *argv)
{
  g_autoptr (GSubprocessLauncher) launcher = fh_account_new_launcher (T.account, flags);
  g_autofree char *pulse = g_strdup_printf ("unix:%s/pulse/native", s->dir);
  g_autoptr (GError) error = NULL;
  GSubprocess *process;

  g_subprocess_launcher_setenv (launcher, "XDG_RUNTIME_DIR", s->dir, TRUE);
  g_subprocess_launcher_setenv (launcher, "PULSE_SERVER", pulse, TRUE);
  g_subprocess_launcher_setenv (launcher, "PIPEWIRE_REMOTE", s->remote, TRUE);
  if (sink)
    g_subprocess_launcher_setenv (launcher, "PULSE_SINK", sink, TRUE);
  process = g_subprocess_launcher_spawnv (launcher, argv, &error);
  g_assert_no_error (error);
  return process;
}

static GSubprocess *
spawn_app (TestStack *s, GSubprocessFlags flags, const char *const *argv)
{
  return spawn_app_with_sink (s, NULL, flags, argv);
}

/* The stdout of @argv run as an app of @s. */
static char *
app_output (TestStack *s, const char *const *argv)
{
  g_autoptr (GSubprocess) process = spawn_app (s, G_SUBPROCESS_FLAGS_STDOUT_PIPE, argv);
  g_autoptr (GError) error = NULL;
  char *out = NULL;

  g_assert_true (g_subprocess_communicate_utf8 (process, NULL, NULL, &out, NULL, &error));
  g_assert_no_error (error);
  g_assert_true (g_subprocess_get_successful (process));
  return out;
}

static void
stop_app (GSubprocess *process)
{
  g_subprocess_send_signal (process, SIGINT);
  g_subprocess_wait (process, NULL, NULL);
  g_object_unref (process);
}

static void
test_start (void)
{
  for (guint i = 0; i < G_N_ELEMENTS (T.stacks); i++) {
    TestStack *s = &T.stacks[i];
    g_autofree char *log_dir = g_build_filename (T.log_dir, s->label, NULL);
    g_autofree char *pulse = g_build_filename (s->dir, "pulse", "native", NULL);
    g_autofree char *want = g_build_filename (s->dir, "pipewire-0", NULL);
    g_autoptr (GError) error = NULL;

    g_assert_cmpint (g_mkdir (log_dir, 0700), ==, 0);
    g_assert_true (
      fh_audio_stack_start_with (T.account, s->dir, log_dir, spawn_daemon, s, &s->remote, &error));
    g_assert_no_error (error);
    g_assert_cmpstr (s->remote, ==, want);
    g_assert_true (g_file_test (pulse, G_FILE_TEST_EXISTS));
    g_assert_cmpuint (s->daemons->len, ==, 1); /* pipewire starts the others */
  }
}

/* The host's side never waits for a stack: B's pipewire is stopped while
 * the host connects and makes its nodes there. */
static void
test_connect_does_not_wait (void)
{
  for (guint i = 0; i < G_N_ELEMENTS (T.stacks); i++) {
    TestStack *s = &T.stacks[i];
    GSubprocess *pipewire = s->daemons->pdata[0];
    g_autoptr (GError) error = NULL;
    gint64 start;
    int err;

    if (i == 1)
      signal_group (pipewire, SIGSTOP);
    start = g_get_monotonic_time ();
    s->pw = fh_pipewire_connect_session (s->remote, s->sink_name, s->mic_name, &error);
    g_assert_no_error (error);
    s->speaker = fh_speaker_new (s->pw, s->sink_name, &error);
    g_assert_no_error (error);
    s->mic = fh_mic_new (s->pw, s->mic_name, &error);
    g_assert_no_error (error);
    run_for (20); /* the main loop turns meanwhile, and returns */
    g_test_message ("stack %s: connected and made the nodes in %" G_GINT64_FORMAT " ms%s",
                    s->label, (g_get_monotonic_time () - start) / 1000,
                    i == 1 ? " (its pipewire stopped)" : "");
    g_assert_cmpint (g_get_monotonic_time () - start, <, G_USEC_PER_SEC / 2);
    if (i == 1) {
      g_assert_false (fh_speaker_is_capturing (s->speaker));
      signal_group (pipewire, SIGCONT);
    }
    s->decoder = opus_decoder_create (48000, 2, &err);
    fh_speaker_add_listener (s->speaker, on_packet, s);
  }
  for (guint i = 0; i < G_N_ELEMENTS (T.stacks); i++)
    g_assert_true (run_until_capturing (&T.stacks[i], 5000));
}

/* Session @s heard @freq clearly and nothing at @other. */
static void
assert_heard (TestStack *s, double freq, double other)
{
  gsize n = s->samples->len / 2;
  const float *left = (const float *) s->samples->data;
  double want = fh_test_tone_level (left, n, 2, freq), unwanted = fh_test_tone_level (left, n, 2, other);

  g_test_message ("stack %s: %zu frames, rms %.3f, %.0f Hz %.3f, %.0f Hz %.4f", s->label, n,
                  fh_test_rms (left, n, 2), freq, want, other, unwanted);
  g_assert_cmpuint (n, >=, 48000 / 2);
  /* 0.3 played; a busy machine's late packets cost a few windows. */
  g_assert_cmpfloat (want, >, 0.15);
  g_assert_cmpfloat (unwanted, <, 0.01);
}

static void
test_speaker_is_default (void)
{
  g_autofree char *a440 = write_tone (440, 4), *b880 = write_tone (880, 4);
  /* A pulse app and a native one, neither naming a sink. */
  const char *paplay[] = { "paplay", "--latency-msec=20", a440, NULL };
  const char *pw_play[] = { "pw-play", b880, NULL };
  GSubprocess *a = spawn_app (&T.stacks[0], 0, paplay);
  GSubprocess *b = spawn_app (&T.stacks[1], 0, pw_play);

  run_for (800);
  for (guint i = 0; i < G_N_ELEMENTS (T.stacks); i++)
    g_array_set_size (T.stacks[i].samples, 0);
  run_for (1500);
  stop_app (a);
  stop_app (b);
  assert_heard (&T.stacks[0], 440, 880);
  assert_heard (&T.stacks[1], 880, 440);
}

typedef struct {
  OpusEncoder *encoder;
  FhMicFeeder *feeder;
  guint64 sample;
  gint64 start_us;
} MicSender;

static void
send_one_packet (MicSender *m)
{
  float pcm[960];
  guint8 packet[FH_MIC_MAX_PACKET];
  opus_int32 size;
  g_autoptr (GError) error = NULL;

  for (guint i = 0; i < 960; i++, m->sample++)
    pcm[i] = (float) (0.3 * sin (2 * G_PI * 660 * (double) m->sample / 48000));
  size = opus_encode_float (m->encoder, pcm, 960, packet, sizeof packet);
  g_assert_cmpint (size, >, 0);
  g_assert_true (fh_mic_feeder_push (m->feeder, packet, (gsize) size, &error));
  g_assert_no_error (error);
}

static gboolean
send_mic_packets (gpointer data)
{
  MicSender *m = data;
  /* Paced by the clock, not by the timer: every 20 ms that passed. */
  gint64 due = (g_get_monotonic_time () - m->start_us) * 48 / 1000;

  while ((gint64) m->sample <= due)
    send_one_packet (m);
  return G_SOURCE_CONTINUE;
}

static void
test_mic_is_default (void)
{
  g_autofree char *rec_a = g_build_filename (T.files, "rec-a.raw", NULL);
  g_autofree char *rec_b = g_build_filename (T.files, "rec-b.raw", NULL);
  /* The default source: no PULSE_SOURCE, no --device. */
  const char *record_a[] = { "parecord", "--raw", "--format=float32le", "--rate=48000",
                             "--channels=1", "--latency-msec=20", rec_a, NULL };
  const char *record_b[] = { "parecord", "--raw", "--format=float32le", "--rate=48000",
                             "--channels=1", "--latency-msec=20", rec_b, NULL };
  MicSender sender = { 0 };
  g_autoptr (GError) error = NULL;
  GSubprocess *a, *b;
  guint timer;
  int err;

  sender.encoder = opus_encoder_create (48000, 1, OPUS_APPLICATION_VOIP, &err);
  sender.feeder = fh_mic_add_feeder (T.stacks[0].mic, &error);
  g_assert_no_error (error);
  sender.start_us = g_get_monotonic_time ();
  timer = g_timeout_add (10, send_mic_packets, &sender);
  a = spawn_app (&T.stacks[0], 0, record_a);
  b = spawn_app (&T.stacks[1], 0, record_b);
  run_for (2500);
  stop_app (a);
  stop_app (b);
  g_source_remove (timer);
  fh_mic_remove_feeder (T.stacks[0].mic, sender.feeder);
  opus_encoder_destroy (sender.encoder);

  {
    g_autoptr (GArray) heard_a = fh_test_read_floats (rec_a);
    g_autoptr (GArray) heard_b = fh_test_read_floats (rec_b);
    /* The last second: past the start of every stream. */
    gsize n = MIN (heard_a->len, 48000u);
    const float *tail = (const float *) heard_a->data + heard_a->len - n;
    double amp = fh_test_tone_level (tail, n, 1, 660);

    g_test_message ("mic: A %u samples, 660 Hz %.3f; B %u samples, rms %.5f", heard_a->len, amp,
                    heard_b->len, fh_test_rms ((float *) heard_b->data, heard_b->len, 1));
    g_assert_cmpuint (n, >=, 24000);
    g_assert_cmpfloat (amp, >, 0.15);
    g_assert_cmpuint (heard_b->len, >=, 24000);
    g_assert_cmpfloat (fh_test_rms ((float *) heard_b->data, heard_b->len, 1), <, 0.001);
  }
}

/* The names in the second column of `pactl list short …`. */
static GStrv
short_list_names (TestStack *s, const char *what)
{
  const char *argv[] = { "pactl", "list", "short", what, NULL };
  g_autofree char *out = app_output (s, argv);
  g_auto (GStrv) lines = g_strsplit (out, "\n", -1);
  g_autoptr (GStrvBuilder) names = g_strv_builder_new ();

  for (char **line = lines; *line; line++) {
    g_auto (GStrv) fields = g_strsplit (*line, "\t", 3);
    if (fields[0] && fields[1])
      g_strv_builder_add (names, fields[1]);
  }
  return g_strv_builder_end (names);
}

static void
test_only_own_nodes (void)
{
  for (guint i = 0; i < G_N_ELEMENTS (T.stacks); i++) {
    TestStack *s = &T.stacks[i], *other = &T.stacks[1 - i];
    g_auto (GStrv) sinks = short_list_names (s, "sinks");
    g_auto (GStrv) sources = short_list_names (s, "sources");
    g_autofree char *sinks_text = g_strjoinv (" ", sinks);
    g_autofree char *sources_text = g_strjoinv (" ", sources);
    const char *default_sink[] = { "pactl", "get-default-sink", NULL };
    const char *default_source[] = { "pactl", "get-default-source", NULL };
    g_autofree char *sink = app_output (s, default_sink);
    g_autofree char *source = app_output (s, default_source);

    g_test_message ("stack %s: sinks %s; sources %s; defaults %s, %s", s->label, sinks_text,
                    sources_text, g_strstrip (sink), g_strstrip (source));
    /* Its speaker alone, and nothing of the other stack anywhere. */
    g_assert_cmpuint (g_strv_length (sinks), ==, 1);
    g_assert_cmpstr (sinks[0], ==, s->sink_name);
    g_assert_true (g_strv_contains ((const char *const *) sources, s->mic_name));
    g_assert_null (strstr (sinks_text, other->sink_name));
    g_assert_null (strstr (sources_text, other->sink_name));
    g_assert_null (strstr (sources_text, other->mic_name));
    g_assert_cmpstr (sink, ==, s->sink_name);
    g_assert_cmpstr (source, ==, s->mic_name);
  }
}

/* The defaults are set, not merely the only choice: a sink an app adds
 * (with a higher priority than the speaker's) does not become the default. */
static void
test_defaults_hold (void)
{
  TestStack *s = &T.stacks[0];
  const char *load[] = { "pactl", "load-module", "module-null-sink", "sink_name=app-sink",
                         "sink_properties=priority.session=5000", NULL };
  const char *list[] = { "pactl", "list", "short", "sinks", NULL };
  const char *get[] = { "pactl", "get-default-sink", NULL };
  g_autofree char *module = app_output (s, load);
  g_autofree char *sinks = NULL, *sink = NULL;
  const char *unload[] = { "pactl", "unload-module", g_strstrip (module), NULL };

  run_for (300); /* WirePlumber picks the default anew */
  sinks = app_output (s, list);
  sink = app_output (s, get);
  g_free (app_output (s, unload));
  g_test_message ("stack %s with an app's sink: default %s; sinks:\n%s", s->label,
                  g_strstrip (sink), sinks);
  g_assert_nonnull (strstr (sinks, "app-sink"));
  g_assert_cmpstr (sink, ==, s->sink_name);
}

/* In a session, sway and its app start before the host makes the speaker
 * (on the main loop, once the output is up): a player that started first,
 * naming the speaker as the session's apps do, is heard once it exists. */
static void
test_app_before_speaker (void)
{
  TestStack *s = &T.stacks[0];
  g_autofree char *a440 = write_tone (440, 5);
  const char *paplay[] = { "paplay", "--latency-msec=20", a440, NULL };
  g_autoptr (GError) error = NULL;
  GSubprocess *a;

  g_clear_pointer (&s->speaker, fh_speaker_free);
  run_for (300);
  a = spawn_app_with_sink (s, s->sink_name, 0, paplay);
  run_for (500);
  s->speaker = fh_speaker_new (s->pw, s->sink_name, &error);
  g_assert_no_error (error);
  fh_speaker_add_listener (s->speaker, on_packet, s);
  g_assert_true (run_until_capturing (s, 5000));
  run_for (800);
  g_array_set_size (s->samples, 0);
  run_for (1500);
  stop_app (a);
  assert_heard (s, 440, 880);
}

static void
test_start_failure_names_log (void)
{
  TestStack broken = { .label = "broken" };
  g_autofree char *base = fh_account_runtime_base (T.account, NULL);
  g_autofree char *log_dir = g_build_filename (T.log_dir, "broken", NULL);
  g_autofree char *log_path = g_build_filename (log_dir, "pipewire.log", NULL);
  g_autofree char *remote = NULL;
  g_autoptr (GError) error = NULL;

  broken.dir = g_strdup_printf ("%s/funkhaus-test-stack-%d-broken", base, (int) getpid ());
  broken.daemons = g_ptr_array_new_with_free_func (g_object_unref);
  g_assert_true (fh_account_make_dir (T.account, broken.dir, NULL));
  g_assert_cmpint (g_mkdir (log_dir, 0700), ==, 0);
  T.broken_pipewire = TRUE;
  g_assert_false (fh_audio_stack_start_with (T.account, broken.dir, log_dir, spawn_daemon,
                                             &broken, &remote, &error));
  T.broken_pipewire = FALSE;
  g_test_message ("%s", error->message);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_FAILED);
  g_assert_nonnull (strstr (error->message, log_path));
  g_assert_nonnull (strstr (error->message, "broken on purpose"));
  g_assert_null (remote);
  g_assert_cmpuint (broken.daemons->len, ==, 1);
  g_ptr_array_unref (broken.daemons);
  fh_remove_tree (broken.dir);
  g_free (broken.dir);
}

/* As the sandbox stops a session's processes: SIGTERM to all, then
 * SIGKILL to what is left. (Their zombies stay members of the group here:
 * this machine's init may not reap them, so the group is not polled.) */
static void
stop_daemons (TestStack *s)
{
  for (guint i = 0; i < s->daemons->len; i++) {
    GSubprocess *pipewire = s->daemons->pdata[i];
    const char *pid = g_subprocess_get_identifier (pipewire);
    int group = pid ? atoi (pid) : 0;

    if (!group)
      continue;
    kill (-group, SIGCONT);
    kill (-group, SIGTERM);
    g_subprocess_wait (pipewire, NULL, NULL);
    g_usleep (200 * 1000);
    kill (-group, SIGKILL);
  }
  g_ptr_array_set_size (s->daemons, 0);
}

int
main (int argc, char **argv)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *base = NULL;
  int result;

  g_test_init (&argc, &argv, NULL);
  signal (SIGABRT, print_logs_and_abort);
  /* Root runs the daemons and apps as the account a root host would. */
  T.account = fh_account_resolve ("funkhaus", &error);
  g_assert_no_error (error);
  base = fh_account_runtime_base (T.account, &error);
  g_assert_no_error (error);
  {
    /* bwrap as the account, as the sandbox runs it. */
    g_autoptr (GSubprocessLauncher) launcher = fh_account_new_launcher (T.account, 0);
    g_autoptr (GSubprocess) probe = g_subprocess_launcher_spawn (
      launcher, NULL, "bwrap", "--unshare-user", "--unshare-pid", "--dev-bind", "/", "/", "--proc",
      "/proc", "--", "true", NULL);
    T.pid_namespace = probe && g_subprocess_wait_check (probe, NULL, NULL);
    if (!T.pid_namespace)
      g_test_message ("no bubblewrap here: the stacks share the host's PID namespace");
  }
  T.log_dir = g_dir_make_tmp ("funkhaus-test-audio-stack-XXXXXX", &error);
  g_assert_no_error (error);
  T.files = g_strdup_printf ("%s/funkhaus-test-stack-%d-files", base, (int) getpid ());
  g_assert_true (fh_account_make_dir (T.account, T.files, &error));
  g_assert_no_error (error);
  for (guint i = 0; i < G_N_ELEMENTS (T.stacks); i++) {
    TestStack *s = &T.stacks[i];
    s->label = i == 0 ? "A" : "B";
    s->dir = g_strdup_printf ("%s/funkhaus-test-stack-%d-%s", base, (int) getpid (), s->label);
    g_assert_true (fh_account_make_dir (T.account, s->dir, &error));
    g_assert_no_error (error);
    /* Both sessions' nodes have the names a host gives them. */
    s->sink_name = g_strdup_printf ("funkhaus-speaker-test%s", s->label);
    s->mic_name = g_strdup_printf ("funkhaus-mic-test%s", s->label);
    s->daemons = g_ptr_array_new_with_free_func (g_object_unref);
    s->samples = g_array_new (FALSE, FALSE, sizeof (float));
  }

  g_test_add_func ("/audio-stack/start", test_start);
  g_test_add_func ("/audio-stack/connect-does-not-wait", test_connect_does_not_wait);
  g_test_add_func ("/audio-stack/speaker-is-default", test_speaker_is_default);
  g_test_add_func ("/audio-stack/mic-is-default", test_mic_is_default);
  g_test_add_func ("/audio-stack/only-own-nodes", test_only_own_nodes);
  g_test_add_func ("/audio-stack/defaults-hold", test_defaults_hold);
  g_test_add_func ("/audio-stack/app-before-speaker", test_app_before_speaker);
  g_test_add_func ("/audio-stack/start-failure-names-log", test_start_failure_names_log);
  result = g_test_run ();

  for (guint i = 0; i < G_N_ELEMENTS (T.stacks); i++) {
    TestStack *s = &T.stacks[i];
    g_clear_pointer (&s->mic, fh_mic_free);
    g_clear_pointer (&s->speaker, fh_speaker_free);
    g_clear_pointer (&s->pw, fh_pipewire_free);
    stop_daemons (s);
    g_ptr_array_unref (s->daemons);
    g_clear_pointer (&s->decoder, opus_decoder_destroy);
    g_array_unref (s->samples);
    fh_remove_tree (s->dir);
    g_free (s->dir);
    g_free (s->remote);
    g_free (s->sink_name);
    g_free (s->mic_name);
  }
  fh_remove_tree (T.files);
  fh_remove_tree (T.log_dir);
  g_free (T.files);
  g_free (T.log_dir);
  fh_account_free (T.account);
  return result;
}
