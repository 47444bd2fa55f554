/* A speaker: a PipeWire null sink that apps play into, and the host's
 * capture of its monitor, encoded as Opus (48 kHz stereo, 10 ms frames) and
 * handed to every listener. An independent session has one speaker with one
 * listener (its client); a shared desktop has one speaker fanned out to all
 * of its clients. */
#pragma once

#include <glib.h>

#include "audio/pipewire.h"

#define FH_AUDIO_RATE 48000
#define FH_AUDIO_FRAME_MS 10

typedef struct _FhSpeaker FhSpeaker;

typedef struct {
  guint32 sequence; /* per speaker, from 0; a gap is a lost packet */
  gint64 capture_us; /* when its first sample entered the sink (monotonic) */
  const guint8 *data; /* one Opus packet */
  gsize size;
} FhAudioPacket;

/* Main thread, once per packet. */
typedef void (*FhAudioPacketFunc) (const FhAudioPacket *packet, gpointer user_data);

/* Makes the sink @name (node.name) at once; capture starts as soon as
 * PipeWire has set the sink up. */
FhSpeaker *fh_speaker_new (FhPipeWire *pw, const char *name, GError **error);
void fh_speaker_free (FhSpeaker *speaker);

const char *fh_speaker_get_sink_name (FhSpeaker *speaker);
/* Packets of 5, 10 (the default) or 20 ms: Moonlight asks for 5. FALSE for
 * any other length. Call it before the first listener. */
gboolean fh_speaker_set_frame_ms (FhSpeaker *speaker, guint frame_ms);
/* Constant-bitrate Opus: every packet the same size, which Moonlight's
 * audio FEC needs (a browser does better with the default, variable). */
void fh_speaker_set_constant_bitrate (FhSpeaker *speaker, gboolean constant);
/* TRUE once the sink exists and its monitor is being captured. */
gboolean fh_speaker_is_capturing (FhSpeaker *speaker);

guint fh_speaker_add_listener (FhSpeaker *speaker, FhAudioPacketFunc func, gpointer user_data);
void fh_speaker_remove_listener (FhSpeaker *speaker, guint id);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (FhSpeaker, fh_speaker_free)
