/* H.264 through libavcodec (libx264 in software), set up for latency: no
 * B-frames, zero-latency tuning, one frame in, one access unit out. */
#pragma once

#include <glib.h>

#include "media/frame.h"

typedef struct {
  guint width;
  guint height;
  guint fps;
  guint bitrate_kbps;
  const char *preset; /* x264 preset, "ultrafast" … */
  guint threads; /* 0 = libx264 decides */
  const char *name; /* what its log lines begin with ("session 1a2b3c4d"), or NULL */
} FhVideoEncoderConfig;

typedef struct _FhVideoEncoder FhVideoEncoder;

/* Input pictures of one encoder: one can be written (captured into) while
 * another is encoded. */
#define FH_VIDEO_ENCODER_INPUTS 2

/* Called for each encoded access unit (Annex B); @data is valid only
 * during the call. */
typedef void (*FhEncodedFunc) (const guint8 *data, gsize size, gboolean keyframe,
                               gpointer user_data);

FhVideoEncoder *fh_video_encoder_new (const FhVideoEncoderConfig *config, GError **error);
void fh_video_encoder_free (FhVideoEncoder *encoder);

/* The encoder's own input picture @input (below FH_VIDEO_ENCODER_INPUTS),
 * writable: capture straight into it. Any thread, while that picture is
 * not being encoded. */
gboolean fh_video_encoder_get_input (FhVideoEncoder *encoder, guint input, FhFrame *frame,
                                     GError **error);

/* Encodes input picture @input as frame @pts (in frames); an IDR frame
 * when @keyframe. One thread encodes. */
gboolean fh_video_encoder_encode (FhVideoEncoder *encoder, guint input, gint64 pts,
                                  gboolean keyframe, FhEncodedFunc func, gpointer user_data,
                                  GError **error);

/* The average bitrate from the next frame on (libx264 reconfigures
 * itself, no new keyframe); the VBV follows it (one frame's worth), a
 * frame later when it goes down. The thread that encodes calls it. */
void fh_video_encoder_set_bitrate (FhVideoEncoder *encoder, guint kbps);

/* From the next frame on, @threads threads (0: libx264 decides): a new
 * libx264 context at the bitrate aimed at now, so the next frame is an
 * IDR frame with its SPS. On failure the encoder goes on as it was, and
 * @error says so after the encoder's name. The thread that encodes calls
 * it. */
gboolean fh_video_encoder_set_threads (FhVideoEncoder *encoder, guint threads, GError **error);
guint fh_video_encoder_get_threads (FhVideoEncoder *encoder);

/* From now on libav's log lines (libx264's among them) go through GLib, in
 * the log domain "libav", one GLib line for each of theirs: "libx264: …",
 * after the encoder's name where an encoder logs. Errors become warnings,
 * warnings messages, the rest info and debug (shown with
 * G_MESSAGES_DEBUG=libav); libav's own level (av_log_set_level) still
 * decides which are made. Once, before the first encoder. */
void fh_video_encoder_log_to_glib (void);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (FhVideoEncoder, fh_video_encoder_free)
