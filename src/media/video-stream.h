/* The capture-to-wire pipeline of one session: its capture thread
 * captures from a frame source straight into one of the encoder's inputs
 * at the session's rate while its encode thread encodes the input
 * captured before (a frame whose capture and encoding fit in half a
 * period is encoded on the capture thread instead), and each access unit
 * goes to the main loop with room in front of it for a plane's own
 * framing. */
#pragma once

#include <glib.h>

#include "media/frame.h"
#include "media/video-encoder.h"

typedef struct _FhVideoStream FhVideoStream;

/* Bytes free in front of every access unit: a plane writes its framing
 * header there and sends header and access unit as one message without
 * copying the frame again. */
#define FH_VIDEO_HEADROOM 32

typedef struct {
  GBytes *buffer; /* FH_VIDEO_HEADROOM bytes, then the access unit */
  /* The access unit (H.264 Annex B), inside @buffer. The FH_VIDEO_HEADROOM
   * bytes before it belong to the one peer the packet is handed to. */
  guint8 *data;
  gsize size;
  gboolean keyframe;
  guint32 frame;
  gint64 capture_us; /* g_get_monotonic_time () when capture began */
  gint64 encoded_us; /* … and when the access unit was out */
} FhVideoPacket;

/* Capture thread: writes the source's current picture, whole, into
 * @frame (the stream's size; it may hold any older picture), waiting at
 * most until @deadline_us for one that differs from the last. Returns
 * FALSE when nothing changed by then (@frame need not have been written);
 * sets @error when capture failed.
 * @timestamp_us: when the picture was made (g_get_monotonic_time). */
typedef gboolean (*FhFrameCaptureFunc) (gpointer source, FhFrame *frame, guint64 frame_number,
                                        gint64 deadline_us, gint64 *timestamp_us,
                                        GError **error);

typedef struct {
  FhFrameCaptureFunc capture;
  gpointer source;
  const char *name; /* names the threads (fh-cap-NAME, fh-enc-NAME), or NULL */
} FhFrameSource;

/* Main thread. @packet is borrowed; its headroom may be written. */
typedef void (*FhVideoPacketFunc) (FhVideoStream *stream, const FhVideoPacket *packet,
                                   gpointer user_data);
/* The stream's thread that encoded @packet (capture or encode thread):
 * takes it at once, on that thread, instead of its going to the main loop.
 * Returns FALSE to leave it to FhVideoPacketFunc as usual. Its headroom may
 * be written. It must not wait for the main thread. */
typedef gboolean (*FhVideoDirectFunc) (const FhVideoPacket *packet, gpointer user_data);
/* Main thread, once: capture or encoding failed; the threads have ended. */
typedef void (*FhVideoFailedFunc) (FhVideoStream *stream, const GError *error,
                                   gpointer user_data);

FhVideoStream *fh_video_stream_new (const FhFrameSource *source,
                                    const FhVideoEncoderConfig *config,
                                    GMainContext *main_context, FhVideoPacketFunc on_packet,
                                    FhVideoFailedFunc on_failed, gpointer user_data,
                                    GError **error);

/* Main thread: the next frame is an IDR frame. */
void fh_video_stream_request_keyframe (FhVideoStream *stream);
/* Main thread: frames go to @func first (NULL: none), from the first one
 * encoded while none is on its way to the main loop, so frames reach
 * their peer in order. When this returns, the function set before is not
 * running and is not called again. */
void fh_video_stream_set_direct (FhVideoStream *stream, FhVideoDirectFunc func,
                                 gpointer user_data);
/* Main thread: nobody is watching; stop capturing and encoding until
 * resumed (which starts with a keyframe). */
void fh_video_stream_set_paused (FhVideoStream *stream, gboolean paused);
/* Main thread: the encoder aims at @kbps from the next frame on (a plane's
 * rate control, core/rate-control.h). */
void fh_video_stream_set_bitrate (FhVideoStream *stream, guint kbps);
/* Main thread: the encoder has @threads threads from the next frame on,
 * which is then an IDR frame (fh_video_encoder_set_threads); no change
 * when it has them already. */
void fh_video_stream_set_threads (FhVideoStream *stream, guint threads);
/* Frames the stream skipped since it started (fell behind, or the main
 * loop had not sent the previous ones yet). */
guint64 fh_video_stream_get_dropped (FhVideoStream *stream);
/* CPU seconds the capture and encode threads have used (0 before they
 * run or once they are joined). The encoder's own worker threads, if any,
 * are not in it. */
double fh_video_stream_get_thread_cpu (FhVideoStream *stream);

/* Joins the thread; no callback runs after it returns. Safe to call twice. */
void fh_video_stream_stop (FhVideoStream *stream);
void fh_video_stream_free (FhVideoStream *stream);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (FhVideoStream, fh_video_stream_free)
