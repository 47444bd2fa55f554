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
} FhVideoEncoderConfig;

typedef struct _FhVideoEncoder FhVideoEncoder;

/* Called for each encoded access unit (Annex B); @data is valid only
 * during the call. */
typedef void (*FhEncodedFunc) (const guint8 *data, gsize size, gboolean keyframe,
                               gpointer user_data);

FhVideoEncoder *fh_video_encoder_new (const FhVideoEncoderConfig *config, GError **error);
void fh_video_encoder_free (FhVideoEncoder *encoder);

/* The encoder's own input picture, writable: capture straight into it. */
gboolean fh_video_encoder_get_input (FhVideoEncoder *encoder, FhFrame *frame, GError **error);

/* Encodes the input picture as frame @pts (in frames); an IDR frame when
 * @keyframe. */
gboolean fh_video_encoder_encode (FhVideoEncoder *encoder, gint64 pts, gboolean keyframe,
                                  FhEncodedFunc func, gpointer user_data, GError **error);

/* The average bitrate from the next frame on (libx264 reconfigures
 * itself, no new keyframe); the VBV follows it (one frame's worth). The
 * thread that encodes calls it. */
void fh_video_encoder_set_bitrate (FhVideoEncoder *encoder, guint kbps);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (FhVideoEncoder, fh_video_encoder_free)
