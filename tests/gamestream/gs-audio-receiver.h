/* The receiving end of GameStream audio in the test client: packets into
 * gs-audio's depacketizer (RS 4+2 recovery, AES-CBC decryption), each
 * Opus frame decoded (48 kHz stereo), and the loudest tone of what was
 * decoded, so a test can check the host sent the sound it played. */
#pragma once

#include <glib.h>

typedef struct {
  guint packets;  /* data and parity datagrams */
  guint frames;   /* Opus frames decoded (received or recovered) */
  guint recovered;
  guint lost;     /* frames concealed */
  guint ms;       /* decoded audio, from the frames' sample counts */
} GsAudioStats;

typedef struct _GsAudioReceiver GsAudioReceiver;

GsAudioReceiver *gs_audio_receiver_new (const guint8 key[16], guint32 rikeyid, gboolean encrypted,
                                        guint packet_ms, GError **error);
void gs_audio_receiver_free (GsAudioReceiver *a);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (GsAudioReceiver, gs_audio_receiver_free)

/* One datagram from the audio port; FALSE with @error when it does not
 * parse or an Opus frame does not decode. */
gboolean gs_audio_receiver_push (GsAudioReceiver *a, const guint8 *packet, gsize len,
                                 GError **error);
const GsAudioStats *gs_audio_receiver_stats (const GsAudioReceiver *a);
/* The strongest frequency from 100 to 2000 Hz in 10 Hz steps (Goertzel)
 * over the last second decoded, and its share of the signal's power; 0
 * for silence. */
double gs_audio_receiver_dominant_hz (const GsAudioReceiver *a, double *share);

/* Goertzel power of @hz in @n mono samples at @rate; exposed for tests. */
double gs_goertzel_power (const float *samples, gsize n, double rate, double hz);
