/* A speaker: a PipeWire null sink that apps play into, and the host's
 * capture of its monitor, encoded as Opus (48 kHz stereo, 10 ms frames) and
 * handed to every listener. An independent session has one speaker with one
 * listener (its client); a shared desktop has one speaker fanned out to all
 * of its clients. */
#pragma once

#include <glib.h>

#include "media/pipewire.h"

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

/* TRUE once the sink exists and the capture of its monitor is linked to
 * it. The capture runs only while it has a listener and something plays
 * into the sink (a stream linked to it), or a listener wants packets
 * without gaps: a silent session costs no wake-ups. */
gboolean fh_speaker_is_capturing (FhSpeaker *speaker);

/* What a listener takes: Opus packets of @frame_ms (5, 10 or 20), at a
 * constant bitrate (every packet one size, which Moonlight's audio FEC
 * needs) or a variable one (better for the same bits: browsers). Listeners
 * of one format share its encoder. */
typedef struct {
  guint frame_ms;
  gboolean constant_bitrate;
  /* Packets (of silence) also while nothing plays into the sink, as
   * Moonlight's audio stream expects; otherwise none come then. */
  gboolean gapless;
} FhAudioFormat;

/* FH_AUDIO_FRAME_MS, variable bitrate, packets only while something
 * plays. Returns the listener's id (> 0). */
guint fh_speaker_add_listener (FhSpeaker *speaker, FhAudioPacketFunc func, gpointer user_data);
/* 0 with @error for a length the speaker cannot make. */
guint fh_speaker_add_listener_with_format (FhSpeaker *speaker, const FhAudioFormat *format,
                                           FhAudioPacketFunc func, gpointer user_data,
                                           GError **error);
void fh_speaker_remove_listener (FhSpeaker *speaker, guint id);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (FhSpeaker, fh_speaker_free)
