/* Per-session speaker and microphone against a real PipeWire (a private
 * stack this test starts through the host's own code), with real pulse
 * clients (pacat, parecord) as the session's apps:
 *   - a 440 Hz tone in session A and 880 Hz in session B come out of the
 *     host's Opus stream of their own session only (frequency checked);
 *   - an app that plays to the default device, or names another session's
 *     sink, is moved into its own session;
 *   - Opus packets fed into A's microphone reach a recorder in A; recorders
 *     in B (one of them naming A's microphone) hear silence;
 *   - a speaker whose sink nothing plays into sends nothing to a browser's
 *     listener (its capture rests), sends again as soon as an app plays, and
 *     rests again when the app is gone; a listener that wants packets
 *     without gaps (Moonlight's) gets them all the time;
 *   - a 5 ms listener (a Moonlight client's packets) that joins A's speaker,
 *     which ran at a browser's PipeWire cycle, gets a cycle as short as
 *     its packets: hardly any is older than 8 ms as it leaves;
 *   - when the sessions end, no funkhaus-speaker/mic node is left. */
#include <gio/gio.h>
#include <math.h>
#include <opus.h>
#include <unistd.h>

#include "tone.h"
#include "media/mic.h"
#include "media/pipewire.h"
#include "media/speaker.h"
#include "base/account.h"
#include "base/process.h"

#define N_SESSIONS 2

typedef struct {
  const char *label;
  char *sink_name, *mic_name;
  FhSpeaker *speaker;
  FhMic *mic;
  OpusDecoder *decoder;
  GArray *samples; /* decoded, interleaved stereo float */
  guint packets;
  pid_t roots[16];
  guint n_roots;
} TestSession;

static struct {
  FhAccount *account;
  FhPipeWire *pw;
  char *dir;
  TestSession sessions[N_SESSIONS];
} T;

static const char *
route (FhAudioStreamKind kind, int pid, gpointer user_data)
{
  for (guint i = 0; i < N_SESSIONS; i++) {
    TestSession *s = &T.sessions[i];
    if (fh_process_descends_from (pid, s->roots, s->n_roots))
      return kind == FH_AUDIO_STREAM_PLAYBACK ? s->sink_name : s->mic_name;
  }
  return NULL;
}

static void
on_packet (const FhAudioPacket *packet, gpointer user_data)
{
  TestSession *s = user_data;
  float pcm[5760 * 2];
  int n = opus_decode_float (s->decoder, packet->data, (opus_int32) packet->size, pcm, 5760, 0);

  g_assert_cmpint (n, >, 0);
  g_array_append_vals (s->samples, pcm, (guint) n * 2);
  s->packets++;
}

static void
run_for (guint ms)
{
  gint64 end = g_get_monotonic_time () + ms * 1000;

  while (g_get_monotonic_time () < end)
    if (!g_main_context_iteration (NULL, FALSE))
      g_usleep (1000);
}

/* A raw s16le stereo file of @seconds of @freq at amplitude 0.3. */
static char *
write_tone (double freq, double seconds)
{
  g_autofree char *name = g_strdup_printf ("tone-%.0f.raw", freq);
  char *path = g_build_filename (T.dir, name, NULL);
  gsize frames = (gsize) (seconds * 48000);
  g_autofree gint16 *data = g_new (gint16, frames * 2);

  for (gsize i = 0; i < frames; i++)
    data[2 * i] = data[2 * i + 1] = (gint16) (0.3 * 32767 * sin (2 * G_PI * freq * i / 48000));
  g_assert_true (g_file_set_contents_full (path, (char *) data, (gssize) (frames * 4),
                                           G_FILE_SET_CONTENTS_NONE, 0644, NULL));
  return path;
}

/* Starts @argv as an app of @s: as the account apps run as, with the
 * session's environment unless @bare (then no PULSE_SINK/SOURCE). */
static GSubprocess *
spawn_in (TestSession *s, gboolean bare, const char *sink, const char *source,
          const char *const *argv)
{
  g_autoptr (GSubprocessLauncher) launcher = fh_account_new_launcher (T.account, 0);
  g_autoptr (GError) error = NULL;
  GSubprocess *process;

  for (const char *const *kv = fh_pipewire_get_app_env (T.pw); *kv; kv++) {
    g_auto (GStrv) pair = g_strsplit (*kv, "=", 2);
    g_subprocess_launcher_setenv (launcher, pair[0], pair[1], TRUE);
  }
  if (!bare) {
    g_subprocess_launcher_setenv (launcher, "PULSE_SINK", sink ? sink : s->sink_name, TRUE);
    g_subprocess_launcher_setenv (launcher, "PULSE_SOURCE", source ? source : s->mic_name, TRUE);
  }
  process = g_subprocess_launcher_spawnv (launcher, argv, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (s->n_roots, <, G_N_ELEMENTS (s->roots));
  s->roots[s->n_roots++] = (pid_t) atoi (g_subprocess_get_identifier (process));
  return process;
}

static GSubprocess *
play (TestSession *s, const char *tone, gboolean bare, const char *sink)
{
  const char *argv[] = { "pacat",    "--playback", "--raw", "--format=s16le", "--rate=48000",
                         "--channels=2", "--latency-msec=20", tone, NULL };
  return spawn_in (s, bare, sink, NULL, argv);
}

/* parecord of the session's microphone (or @source) into @path. */
static GSubprocess *
record (TestSession *s, const char *source, const char *path)
{
  const char *argv[] = { "parecord", "--raw", "--format=float32le", "--rate=48000",
                         "--channels=1", "--latency-msec=20", path, NULL };
  return spawn_in (s, FALSE, NULL, source, argv);
}

static void
stop (GSubprocess *process)
{
  g_subprocess_send_signal (process, SIGINT);
  g_subprocess_wait (process, NULL, NULL);
  g_object_unref (process);
}

static void
clear_samples (void)
{
  for (guint i = 0; i < N_SESSIONS; i++)
    g_array_set_size (T.sessions[i].samples, 0);
}

/* Session @s heard @freq clearly and nothing at @other. */
static void
assert_heard (TestSession *s, double freq, double other)
{
  gsize n = s->samples->len / 2;
  const float *left = (const float *) s->samples->data;
  double want = fh_test_tone_level (left, n, 2, freq), unwanted = fh_test_tone_level (left, n, 2, other);

  g_test_message ("session %s: %zu frames, rms %.3f, %.0f Hz %.3f, %.0f Hz %.4f", s->label, n,
                  fh_test_rms (left, n, 2), freq, want, other, unwanted);
  g_assert_cmpuint (n, >=, 48000 / 2);
  g_assert_cmpfloat (fh_test_rms (left, n, 2), >, 0.1);
  g_assert_cmpfloat (want, >, 0.2);
  g_assert_cmpfloat (unwanted, <, 0.01);
}

/* Lets @a (440 Hz, in A) and @b (880 Hz, in B) play, then checks that
 * each session heard its own tone only. */
static void
assert_own_tones_heard (GSubprocess *a, GSubprocess *b)
{
  run_for (800);
  clear_samples ();
  run_for (1500);
  stop (a);
  stop (b);
  assert_heard (&T.sessions[0], 440, 880);
  assert_heard (&T.sessions[1], 880, 440);
}

static void
test_own_tones (void)
{
  g_autofree char *a440 = write_tone (440, 4), *b880 = write_tone (880, 4);

  assert_own_tones_heard (play (&T.sessions[0], a440, FALSE, NULL),
                          play (&T.sessions[1], b880, FALSE, NULL));
}

/* How old each packet's first sample is as the packet leaves: the
 * packet's length plus what came after it in the same PipeWire cycle. */
static void
on_timed_packet (const FhAudioPacket *packet, gpointer user_data)
{
  gint64 age_us = g_get_monotonic_time () - packet->capture_us;

  g_array_append_val ((GArray *) user_data, age_us);
}

static void
test_cycle_follows_listeners (void)
{
  const FhAudioFormat five = { .frame_ms = 5, .constant_bitrate = TRUE, .gapless = TRUE };
  g_autoptr (GArray) ages = g_array_new (FALSE, FALSE, sizeof (gint64));
  g_autoptr (GError) error = NULL;
  gint64 oldest = 0;
  guint id, old = 0;

  /* Nothing plays: the speaker's capture is all there is in its graph
   * (an app could ask for a shorter cycle of its own). */
  id = fh_speaker_add_listener_with_format (T.sessions[0].speaker, &five, on_timed_packet, ages,
                                            &error);
  g_assert_no_error (error);
  run_for (500);
  g_array_set_size (ages, 0);
  run_for (1000);
  fh_speaker_remove_listener (T.sessions[0].speaker, id);
  for (guint i = 0; i < ages->len; i++) {
    gint64 age = g_array_index (ages, gint64, i);
    oldest = MAX (oldest, age);
    old += age > 8000;
  }
  g_test_message ("%u packets of 5 ms in a second, %u older than 8 ms as they left, the oldest "
                  "%.1f ms", ages->len, old, oldest / 1000.0);
  g_assert_cmpuint (ages->len, >=, 100);
  /* PipeWire rounds a cycle down to a power of two: 5 ms asks for 128
   * samples (a packet at most 5 + 2.7 ms old as it leaves); a browser's
   * 10 ms, 256 (up to 10.3 ms, and over 8 ms for more than a third of
   * the packets). A packet preempted on its way out may be older. */
  g_assert_cmpuint (old, <, ages->len / 5);
}

static void
on_counted_packet (const FhAudioPacket *packet, gpointer user_data)
{
  (*(guint *) user_data)++;
}

/* Packets to A's browser listener over @ms. */
static guint
packets_in (guint ms)
{
  guint before = T.sessions[0].packets;

  run_for (ms);
  return T.sessions[0].packets - before;
}

static void
test_rests_while_nothing_plays (void)
{
  const FhAudioFormat moonlight = { .frame_ms = 5, .constant_bitrate = TRUE, .gapless = TRUE };
  g_autofree char *a440 = write_tone (440, 4);
  g_autoptr (GError) error = NULL;
  TestSession *a = &T.sessions[0];
  GSubprocess *app;
  guint gapless = 0, id, n;
  gint64 started;

  /* The apps of the tests before are gone. */
  run_for (300);
  n = packets_in (1000);
  g_test_message ("nothing plays: %u packets in a second", n);
  g_assert_cmpuint (n, ==, 0);
  g_assert_true (fh_speaker_is_capturing (a->speaker));

  /* An app plays: packets at once, with its tone. */
  g_array_set_size (a->samples, 0);
  started = g_get_monotonic_time ();
  app = play (a, a440, FALSE, NULL);
  while (a->samples->len == 0 && g_get_monotonic_time () - started < 5 * G_USEC_PER_SEC)
    run_for (1);
  g_test_message ("the first packet %.0f ms after the app started",
                  (g_get_monotonic_time () - started) / 1000.0);
  g_assert_cmpuint (a->samples->len, >, 0);
  run_for (500);
  g_array_set_size (a->samples, 0);
  n = packets_in (1000);
  /* Flowing: a second holds 100 packets of 10 ms, fewer when the machine
   * stalls the audio graph for a while (under ASan, beside other tests,
   * 89 once in the second below): over half says it flows, the tone says
   * what. */
  g_assert_cmpuint (n, >=, 50);
  assert_heard (a, 440, 880);

  /* It is gone: the capture rests again. */
  stop (app);
  run_for (300);
  n = packets_in (1000);
  g_test_message ("the app gone: %u packets in a second", n);
  g_assert_cmpuint (n, ==, 0);

  /* A listener that wants packets without gaps gets them, silence, and
   * so does the other listener meanwhile. */
  id = fh_speaker_add_listener_with_format (a->speaker, &moonlight, on_counted_packet, &gapless,
                                            &error);
  g_assert_no_error (error);
  run_for (300);
  gapless = 0;
  n = packets_in (1000);
  g_test_message ("with a gapless listener: %u and %u packets in a second", gapless, n);
  /* Both listeners take the same capture, so a stall of the machine costs
   * both alike: the gapless one gets its 5 ms packets for all of it, as
   * many as two of the other's 10 ms ones (give or take a capture cycle
   * at the second's ends). */
  g_assert_cmpuint (n, >=, 50);
  g_assert_cmpuint (gapless + 6, >=, 2 * n);
  fh_speaker_remove_listener (a->speaker, id);
  run_for (300);
  g_assert_cmpuint (packets_in (1000), ==, 0);
}

static void
test_stray_apps_are_moved (void)
{
  g_autofree char *a440 = write_tone (440, 4), *b880 = write_tone (880, 4);

  /* A plays to the default device (no PULSE_SINK); B names A's sink. */
  assert_own_tones_heard (play (&T.sessions[0], a440, TRUE, NULL),
                          play (&T.sessions[1], b880, FALSE, T.sessions[0].sink_name));
}

typedef struct {
  OpusEncoder *encoder;
  FhMicFeeder *feeder;
  guint64 sample;
  gint64 start_us;
} MicSender;

static void send_one_packet (MicSender *m);

static gboolean
send_mic_packet (gpointer data)
{
  MicSender *m = data;
  /* Paced by the clock, not by the timer: every 20 ms that passed. */
  gint64 due = (g_get_monotonic_time () - m->start_us) * 48 / 1000;

  while ((gint64) m->sample <= due)
    send_one_packet (m);
  return G_SOURCE_CONTINUE;
}

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

static void
test_mic (void)
{
  g_autofree char *rec_a = g_build_filename (T.dir, "rec-a.raw", NULL);
  g_autofree char *rec_b = g_build_filename (T.dir, "rec-b.raw", NULL);
  g_autofree char *rec_rogue = g_build_filename (T.dir, "rec-b-rogue.raw", NULL);
  MicSender sender = { 0 };
  g_autoptr (GError) error = NULL;
  GSubprocess *a, *b, *rogue;
  guint timer;
  int err;

  sender.encoder = opus_encoder_create (48000, 1, OPUS_APPLICATION_VOIP, &err);
  sender.feeder = fh_mic_add_feeder (T.sessions[0].mic, &error);
  g_assert_no_error (error);
  sender.start_us = g_get_monotonic_time ();
  timer = g_timeout_add (10, send_mic_packet, &sender);
  a = record (&T.sessions[0], NULL, rec_a);
  b = record (&T.sessions[1], NULL, rec_b);
  /* A recorder in B that names A's microphone. */
  rogue = record (&T.sessions[1], T.sessions[0].mic_name, rec_rogue);
  run_for (2500);
  stop (a);
  stop (b);
  stop (rogue);
  g_source_remove (timer);
  fh_mic_remove_feeder (T.sessions[0].mic, sender.feeder);
  opus_encoder_destroy (sender.encoder);

  {
    g_autoptr (GArray) heard_a = fh_test_read_floats (rec_a);
    g_autoptr (GArray) heard_b = fh_test_read_floats (rec_b);
    g_autoptr (GArray) heard_rogue = fh_test_read_floats (rec_rogue);
    /* The last second: past the start of every stream. */
    gsize n = MIN (heard_a->len, 48000u);
    const float *tail = (const float *) heard_a->data + heard_a->len - n;
    double amp = fh_test_tone_level (tail, n, 1, 660);

    g_test_message ("mic: A rms %.4f", fh_test_rms (tail, n, 1));
    g_test_message ("mic: A %u samples, 660 Hz %.3f; B %u samples rms %.5f; B naming A's mic "
                    "%u samples rms %.5f",
                    heard_a->len, amp, heard_b->len,
                    fh_test_rms ((float *) heard_b->data, heard_b->len, 1), heard_rogue->len,
                    fh_test_rms ((float *) heard_rogue->data, heard_rogue->len, 1));
    g_assert_cmpuint (n, >=, 24000);
    g_assert_cmpfloat (amp, >, 0.15);
    g_assert_cmpuint (heard_b->len, >=, 24000);
    g_assert_cmpfloat (fh_test_rms ((float *) heard_b->data, heard_b->len, 1), <, 0.001);
    g_assert_cmpuint (heard_rogue->len, >=, 24000);
    g_assert_cmpfloat (fh_test_rms ((float *) heard_rogue->data, heard_rogue->len, 1), <, 0.001);
  }
}

static void
test_nothing_left (void)
{
  g_autofree char *out = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (GSubprocessLauncher) launcher =
    g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE);
  g_autoptr (GSubprocess) ls = NULL;
  int found = 0;

  for (guint i = 0; i < N_SESSIONS; i++) {
    g_clear_pointer (&T.sessions[i].speaker, fh_speaker_free);
    g_clear_pointer (&T.sessions[i].mic, fh_mic_free);
  }
  run_for (500);
  for (const char *const *kv = fh_pipewire_get_app_env (T.pw); *kv; kv++) {
    g_auto (GStrv) pair = g_strsplit (*kv, "=", 2);
    g_subprocess_launcher_setenv (launcher, pair[0], pair[1], TRUE);
  }
  ls = g_subprocess_launcher_spawn (launcher, &error, "pw-cli", "ls", "Node", NULL);
  g_assert_no_error (error);
  g_assert_true (g_subprocess_communicate_utf8 (ls, NULL, NULL, &out, NULL, &error));
  g_assert_no_error (error);
  /* The listing is real: the blackhole sink is there, the sessions' nodes
   * are not. */
  g_assert_nonnull (strstr (out, "funkhaus-blackhole-sink"));
  for (const char *p = out; (p = strstr (p, "funkhaus-speaker-")); p++)
    found++;
  for (const char *p = out; (p = strstr (p, "funkhaus-mic-")); p++)
    found++;
  if (found)
    g_test_message ("left behind:\n%s", out);
  g_assert_cmpint (found, ==, 0);
}

int
main (int argc, char **argv)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *base = NULL;
  int result;

  g_test_init (&argc, &argv, NULL);
  T.account = fh_account_resolve ("funkhaus", &error);
  g_assert_no_error (error);
  base = fh_account_runtime_base (T.account, &error);
  g_assert_no_error (error);
  T.dir = g_strdup_printf ("%s/funkhaus-test-audio-%d", base, (int) getpid ());
  g_assert_true (fh_account_make_dir (T.account, T.dir, &error));
  g_assert_no_error (error);

  T.pw = fh_pipewire_new (T.account, base, TRUE, &error);
  g_assert_no_error (error);
  fh_pipewire_set_router (T.pw, route, NULL);
  for (guint i = 0; i < N_SESSIONS; i++) {
    TestSession *s = &T.sessions[i];
    int err;
    s->label = i == 0 ? "A" : "B";
    s->sink_name = g_strdup_printf ("funkhaus-speaker-test%s", s->label);
    s->mic_name = g_strdup_printf ("funkhaus-mic-test%s", s->label);
    s->speaker = fh_speaker_new (T.pw, s->sink_name, &error);
    g_assert_no_error (error);
    s->mic = fh_mic_new (T.pw, s->mic_name, &error);
    g_assert_no_error (error);
    s->decoder = opus_decoder_create (48000, 2, &err);
    s->samples = g_array_new (FALSE, FALSE, sizeof (float));
    fh_speaker_add_listener (s->speaker, on_packet, s);
  }
  run_for (1000);
  for (guint i = 0; i < N_SESSIONS; i++)
    g_assert_true (fh_speaker_is_capturing (T.sessions[i].speaker));

  g_test_add_func ("/audio/own-tones", test_own_tones);
  g_test_add_func ("/audio/stray-apps-are-moved", test_stray_apps_are_moved);
  g_test_add_func ("/audio/rests-while-nothing-plays", test_rests_while_nothing_plays);
  g_test_add_func ("/audio/cycle-follows-listeners", test_cycle_follows_listeners);
  g_test_add_func ("/audio/mic", test_mic);
  g_test_add_func ("/audio/nothing-left", test_nothing_left);
  result = g_test_run ();

  for (guint i = 0; i < N_SESSIONS; i++) {
    TestSession *s = &T.sessions[i];
    g_clear_pointer (&s->speaker, fh_speaker_free);
    g_clear_pointer (&s->mic, fh_mic_free);
    g_clear_pointer (&s->decoder, opus_decoder_destroy);
    g_array_unref (s->samples);
    g_free (s->sink_name);
    g_free (s->mic_name);
  }
  g_clear_pointer (&T.pw, fh_pipewire_free);
  {
    g_autoptr (GFile) dir = g_file_new_for_path (T.dir);
    g_autoptr (GFileEnumerator) e = g_file_enumerate_children (dir, "standard::name", 0, NULL,
                                                               NULL);
    GFileInfo *info;
    while (e && (info = g_file_enumerator_next_file (e, NULL, NULL))) {
      g_autoptr (GFile) child = g_file_get_child (dir, g_file_info_get_name (info));
      g_file_delete (child, NULL, NULL);
      g_object_unref (info);
    }
    g_file_delete (dir, NULL, NULL);
  }
  fh_account_free (T.account);
  g_free (T.dir);
  return result;
}
