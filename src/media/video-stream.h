/* The capture-to-wire pipeline of one session: its own encode thread
 * captures from the virtual output straight into the encoder's input at the
 * session's rate, encodes, and hands each access unit, already framed as a
 * protocol message, to the main loop. */
#pragma once

#include <glib.h>

#include "backends/backend.h"
#include "media/video-encoder.h"

typedef struct _FhVideoStream FhVideoStream;

typedef struct {
  GBytes *message; /* video header + access unit, ready for the WebSocket */
  gboolean keyframe;
  guint32 frame;
  gint64 capture_us; /* g_get_monotonic_time () when capture began */
  gint64 encoded_us; /* … and when the access unit was out */
} FhVideoPacket;

/* Main thread. @packet is borrowed. */
typedef void (*FhVideoPacketFunc) (FhVideoStream *stream, const FhVideoPacket *packet,
                                   gpointer user_data);
/* Main thread, once: capture or encoding failed; the thread has ended. */
typedef void (*FhVideoFailedFunc) (FhVideoStream *stream, const GError *error,
                                   gpointer user_data);

FhVideoStream *fh_video_stream_new (FhVirtualOutput *output, const FhVideoEncoderConfig *config,
                                    GMainContext *main_context, FhVideoPacketFunc on_packet,
                                    FhVideoFailedFunc on_failed, gpointer user_data,
                                    GError **error);

/* Main thread: the next frame is an IDR frame. */
void fh_video_stream_request_keyframe (FhVideoStream *stream);
/* Main thread: nobody is watching; stop capturing and encoding until
 * resumed (which starts with a keyframe). */
void fh_video_stream_set_paused (FhVideoStream *stream, gboolean paused);
/* Frames the stream skipped since it started (fell behind, or the main
 * loop had not sent the previous ones yet). */
guint64 fh_video_stream_get_dropped (FhVideoStream *stream);

/* Joins the thread; no callback runs after it returns. Safe to call twice. */
void fh_video_stream_stop (FhVideoStream *stream);
void fh_video_stream_free (FhVideoStream *stream);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (FhVideoStream, fh_video_stream_free)
