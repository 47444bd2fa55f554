/* The capture-to-wire pipeline with the synthetic backend and the real
 * libx264 encoder: frames come out at the mode, keyframes when asked, each
 * with room for a plane's header in front (the web's is written there and
 * read back), and stop() ends everything. */
#include <string.h>

#include "backends/backend.h"
#include "media/video-stream.h"
#include "planes/web/protocol.h"

typedef struct {
  GMainLoop *loop;
  guint packets;
  guint keyframes;
  guint want;
  gint64 last_frame;
  gboolean in_order;
  gboolean first_is_key;
  gboolean key_after_request;
  guint requested_at;
} Recorder;

/* Finds the SPS and checks the picture size it codes for is a macroblock
 * multiple at least as large as the mode (the exact size is in the crop). */
static gboolean
has_sps (const guint8 *d, gsize len)
{
  for (gsize i = 0; i + 4 < len; i++) {
    if (d[i] == 0 && d[i + 1] == 0 && d[i + 2] == 1 && (d[i + 3] & 0x1f) == 7)
      return TRUE;
  }
  return FALSE;
}

static void
on_packet (FhVideoStream *stream, const FhVideoPacket *packet, gpointer user_data)
{
  Recorder *r = user_data;
  FhVideoHeader header = { .keyframe = packet->keyframe, .frame = packet->frame };
  guint8 *framed = packet->data - FH_PROTO_VIDEO_HEADER_SIZE;

  /* The web plane's header fits in front of the access unit, inside the
   * packet's buffer, and reads back with the access unit after it. */
  g_assert_true (framed >= (const guint8 *) g_bytes_get_data (packet->buffer, NULL));
  g_assert_cmpuint (g_bytes_get_size (packet->buffer), ==, FH_VIDEO_HEADROOM + packet->size);
  fh_proto_write_video_header (&header, framed);
  memset (&header, 0xff, sizeof header);
  g_assert_true (fh_proto_parse_video_header (framed, FH_PROTO_VIDEO_HEADER_SIZE + packet->size,
                                              &header, NULL));
  g_assert_cmpuint (header.frame, ==, packet->frame);
  g_assert_cmpint (packet->encoded_us, >=, packet->capture_us);
  if (r->packets == 0)
    r->first_is_key = packet->keyframe && has_sps (packet->data, packet->size);
  if ((gint64) packet->frame <= r->last_frame)
    r->in_order = FALSE;
  r->last_frame = packet->frame;
  r->keyframes += packet->keyframe;
  r->packets++;
  if (r->packets == 10) {
    r->requested_at = r->packets;
    fh_video_stream_request_keyframe (stream);
  } else if (r->packets > 10 && packet->keyframe) {
    r->key_after_request = TRUE;
  }
  if (r->packets >= r->want)
    g_main_loop_quit (r->loop);
}

static void
on_failed (FhVideoStream *stream, const GError *error, gpointer user_data)
{
  g_error ("stream failed: %s", error->message);
}

static gboolean
on_timeout (gpointer user_data)
{
  g_error ("timed out waiting for frames");
  return G_SOURCE_REMOVE;
}

static gboolean
capture (gpointer source, FhFrame *frame, guint64 frame_number, gint64 deadline_us,
         gint64 *timestamp_us, GError **error)
{
  FhVirtualOutput *output = source;

  return output->ops->capture (output, frame, frame_number, deadline_us, timestamp_us, error);
}

static void
test_stream (void)
{
  FhOutputRequest request = { .mode = { 320, 240, 60 }, .session_id = "test", .serial = 1 };
  FhVideoEncoderConfig config = { 320, 240, 60, 1000, "ultrafast", 1 };
  g_autoptr (GError) error = NULL;
  Recorder r = { .want = 40, .last_frame = -1, .in_order = TRUE };
  FhVirtualOutput *output = fh_display_backend_synthetic.create_output (&request, &error);
  g_autoptr (FhVideoStream) stream = NULL;
  guint timeout;

  g_assert_no_error (error);
  r.loop = g_main_loop_new (NULL, FALSE);
  FhFrameSource source = { capture, output, "test" };

  stream = fh_video_stream_new (&source, &config, g_main_context_default (), on_packet, on_failed,
                                &r, &error);
  g_assert_no_error (error);
  fh_video_stream_set_paused (stream, FALSE);
  timeout = g_timeout_add_seconds (20, on_timeout, NULL);
  g_main_loop_run (r.loop);
  g_source_remove (timeout);

  g_assert_true (r.first_is_key);
  g_assert_true (r.in_order);
  g_assert_true (r.key_after_request);
  g_assert_cmpuint (r.keyframes, ==, 2); /* the first and the requested one, no more */

  fh_video_stream_stop (stream);
  fh_video_stream_stop (stream); /* twice is fine */
  /* Packets still queued for the loop are dropped, not delivered. */
  r.packets = 0;
  while (g_main_context_iteration (NULL, FALSE))
    ;
  g_assert_cmpuint (r.packets, ==, 0);
  g_clear_pointer (&stream, fh_video_stream_free);
  fh_virtual_output_destroy (output);
  g_main_loop_unref (r.loop);
}

static void
test_bad_encoder_settings (void)
{
  FhOutputRequest request = { .mode = { 320, 240, 60 }, .session_id = "bad", .serial = 2 };
  FhVideoEncoderConfig config = { 320, 240, 60, 1000, "no-such-preset", 1 };
  g_autoptr (GError) error = NULL;
  FhVirtualOutput *output = fh_display_backend_synthetic.create_output (&request, NULL);
  FhFrameSource source = { capture, output, "bad" };
  FhVideoStream *stream = fh_video_stream_new (&source, &config, g_main_context_default (),
                                               on_packet, on_failed, NULL, &error);

  g_assert_null (stream);
  g_assert_nonnull (error);
  g_test_message ("error as the user reads it: %s", error->message);
  fh_virtual_output_destroy (output);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/video-stream/frames-and-keyframes", test_stream);
  g_test_add_func ("/video-stream/bad-settings", test_bad_encoder_settings);
  return g_test_run ();
}
