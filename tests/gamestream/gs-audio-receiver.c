/* GameStream audio, received and decoded: see gs-audio-receiver.h. */
#include "gs-audio-receiver.h"

#include <gio/gio.h>
#include <math.h>
#include <opus.h>
#include <string.h>

#include "planes/gamestream/protocol/audio-packet.h"

#define RATE 48000
#define CHANNELS 2
#define MAX_FRAME_SAMPLES (RATE * 120 / 1000) /* Opus' longest frame */

struct _GsAudioReceiver {
  FhGsAudioDepacketizer *depacketizer;
  OpusDecoder *decoder;
  guint packet_ms;
  GsAudioStats stats;
  GArray *mono; /* float, the last few seconds decoded */
};

GsAudioReceiver *
gs_audio_receiver_new (const guint8 key[16], guint32 rikeyid, gboolean encrypted, guint packet_ms,
                       GError **error)
{
  g_autoptr (GsAudioReceiver) a = g_new0 (GsAudioReceiver, 1);
  FhGsAudioConfig config = { .encrypt = encrypted, .rikeyid = rikeyid,
                             .packet_duration_ms = packet_ms };
  int err = 0;

  memcpy (config.key, key, 16);
  a->packet_ms = packet_ms;
  a->mono = g_array_new (FALSE, FALSE, sizeof (float));
  a->depacketizer = fh_gs_audio_depacketizer_new (&config, error);
  if (!a->depacketizer)
    return NULL;
  a->decoder = opus_decoder_create (RATE, CHANNELS, &err);
  if (!a->decoder) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "opus_decoder_create: %s",
                 opus_strerror (err));
    return NULL;
  }
  return g_steal_pointer (&a);
}

void
gs_audio_receiver_free (GsAudioReceiver *a)
{
  if (!a)
    return;
  g_clear_pointer (&a->depacketizer, fh_gs_audio_depacketizer_free);
  g_clear_pointer (&a->decoder, opus_decoder_destroy);
  g_array_unref (a->mono);
  g_free (a);
}

const GsAudioStats *
gs_audio_receiver_stats (const GsAudioReceiver *a)
{
  return &a->stats;
}

static gboolean
decode (GsAudioReceiver *a, FhGsAudioFrame *frame, GError **error)
{
  static float pcm[MAX_FRAME_SAMPLES * CHANNELS];
  const guint8 *data = NULL;
  gsize len = 0;
  int n;

  if (frame->opus)
    data = g_bytes_get_data (frame->opus, &len);
  /* A lost frame: packet loss concealment for one packet's duration. */
  n = opus_decode_float (a->decoder, data, (opus_int32) len, pcm,
                         data ? MAX_FRAME_SAMPLES : (int) (RATE / 1000 * a->packet_ms), 0);
  if (n < 0) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                 "audio frame %u (%" G_GSIZE_FORMAT " bytes) does not decode as Opus: %s",
                 frame->sequence, len, opus_strerror (n));
    return FALSE;
  }
  if (!data) {
    a->stats.lost++;
    return TRUE;
  }
  a->stats.frames++;
  a->stats.recovered += frame->recovered;
  a->stats.ms = (guint) (a->stats.ms + (guint) n * 1000u / RATE);
  for (int i = 0; i < n; i++) {
    float m = (pcm[2 * i] + pcm[2 * i + 1]) / 2;
    g_array_append_val (a->mono, m);
  }
  /* Keep the last two seconds. */
  if (a->mono->len > 4 * RATE)
    g_array_remove_range (a->mono, 0, a->mono->len - 2 * RATE);
  return TRUE;
}

gboolean
gs_audio_receiver_push (GsAudioReceiver *a, const guint8 *packet, gsize len, GError **error)
{
  FhGsAudioFrame frame;
  gboolean ok = TRUE;

  a->stats.packets++;
  if (!fh_gs_audio_depacketizer_push (a->depacketizer, packet, len, error))
    return FALSE;
  if (fh_gs_audio_depacketizer_stats (a->depacketizer)->size_mismatches > 0) {
    /* Moonlight's debug builds assert here; its release builds turn
     * audio FEC off for the rest of the session. */
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED,
                 "audio packets of one FEC block differ in size: Moonlight turns audio FEC off "
                 "(\"Audio block size mismatch\"); the host must send constant-bitrate Opus");
    return FALSE;
  }
  while (fh_gs_audio_depacketizer_pop (a->depacketizer, &frame)) {
    if (ok)
      ok = decode (a, &frame, error);
    fh_gs_audio_frame_clear (&frame);
  }
  return ok;
}

double
gs_goertzel_power (const float *x, gsize n, double rate, double hz)
{
  double coeff = 2 * cos (2 * G_PI * hz / rate), s1 = 0, s2 = 0;

  for (gsize i = 0; i < n; i++) {
    double s = x[i] + coeff * s1 - s2;
    s2 = s1;
    s1 = s;
  }
  return s1 * s1 + s2 * s2 - coeff * s1 * s2;
}

/* Over 50 ms windows, as the host's own audio tests measure: a gap or a
 * jump in phase (a late packet, a player that ran dry for a moment) costs
 * one window, not the coherence of the whole second. */
#define SHARE_WINDOW (RATE / 20)

double
gs_audio_receiver_dominant_hz (const GsAudioReceiver *a, double *share)
{
  gsize n = MIN (a->mono->len, (gsize) RATE);
  const float *x = (const float *) a->mono->data + (a->mono->len - n);
  double best = 0, best_hz = 0, energy = 0;

  for (gsize i = 0; i < n; i++)
    energy += (double) x[i] * x[i];
  if (share)
    *share = 0;
  /* Silence (below about -60 dBFS RMS) has no tone. */
  if (n < SHARE_WINDOW || energy / (double) n < 1e-6)
    return 0;
  for (double hz = 100; hz <= 2000; hz += 10) {
    /* A pure tone on a bin gives each window power (w·A/2)² with energy
     * w·A²/2: 2·power/w adds up to the energy of the windows. */
    double p = 0;
    for (gsize start = 0; start + SHARE_WINDOW <= n; start += SHARE_WINDOW)
      p += 2 * gs_goertzel_power (x + start, SHARE_WINDOW, RATE, hz) / (double) SHARE_WINDOW;
    if (p > best)
      best = p, best_hz = hz;
  }
  if (share)
    *share = best / (energy * (double) (n - n % SHARE_WINDOW) / (double) n);
  return best_hz;
}
