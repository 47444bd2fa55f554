/* Capture of a PipeWire video node (gamescope's, say) into the encoder's
 * input. The stream asks for exactly the session's size. PipeWire hands
 * frames over on the main thread (its loop is a GSource there); each one is
 * copied once into a free slot of three (shared memory that PipeWire may
 * reuse the moment it is queued back). The encode thread takes the newest
 * slot and converts it (one libswscale pass), so neither thread ever waits
 * on the other's work. */
#pragma once

#include <gio/gio.h>

#include "media/pipewire.h"
#include "media/frame.h"

typedef struct _FhPwVideo FhPwVideo;

/* Main thread: connects to node @node_id (its global id). */
FhPwVideo *fh_pw_video_new (FhPipeWire *pw, guint32 node_id, guint width, guint height,
                            GError **error);
/* Main thread. */
void fh_pw_video_free (FhPwVideo *video);

/* Encode thread: waits until @deadline_us for a frame newer than the last
 * one and converts it into @frame. FALSE without an error when none came;
 * FALSE with an error when the stream failed. */
gboolean fh_pw_video_capture (FhPwVideo *video, FhFrame *frame, gint64 deadline_us,
                              gint64 *timestamp_us, GError **error);

/* Encode thread: the same for a capture the main thread has not made yet
 * (*@video is NULL until it publishes one atomically): then waits out
 * @deadline_us and returns FALSE. */
gboolean fh_pw_video_capture_pending (FhPwVideo **video, FhFrame *frame, gint64 deadline_us,
                                      gint64 *timestamp_us, GError **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (FhPwVideo, fh_pw_video_free)
