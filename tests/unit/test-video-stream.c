/* The capture-to-wire pipeline with the synthetic backend and the real
 * libx264 encoder: frames come out at the mode, keyframes when asked, each
 * with room for a plane's header in front (the web's is written there and
 * read back), a frame's capture overlaps the last one's encoding when
 * the two do not fit in a period one after the other, a frame that fits
 * is encoded without waking the encode thread, stop() ends everything,
 * the encoder follows a bitrate that goes down and up without libx264
 * warning of it, and a change of its threads starts a new IDR frame. */
#include <string.h>

#include <libavcodec/avcodec.h>
#include <libavutil/log.h>

#include "backends/backend.h"
#include "media/video-encoder.h"
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

/* How often thread @name of this process went to sleep and woke (its
 * voluntary context switches), or -1 when there is no such thread. */
static gint64
thread_wake_ups (const char *name)
{
  g_autoptr (GDir) dir = g_dir_open ("/proc/self/task", 0, NULL);
  const char *tid;

  g_assert_nonnull (dir);
  while ((tid = g_dir_read_name (dir))) {
    g_autofree char *comm_path = g_strdup_printf ("/proc/self/task/%s/comm", tid);
    g_autofree char *status_path = g_strdup_printf ("/proc/self/task/%s/status", tid);
    g_autofree char *comm = NULL, *status = NULL;
    const char *line;

    if (!g_file_get_contents (comm_path, &comm, NULL, NULL) ||
        !g_str_equal (g_strchomp (comm), name) ||
        !g_file_get_contents (status_path, &status, NULL, NULL))
      continue;
    line = strstr (status, "voluntary_ctxt_switches:");
    g_assert_nonnull (line);
    return g_ascii_strtoll (line + strlen ("voluntary_ctxt_switches:"), NULL, 10);
  }
  return -1;
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
  gint64 wake_ups;
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
  /* A small picture at 60 Hz fits in half a period: the capture thread
   * encoded the frames, and the encode thread did not wake for them (a
   * loaded machine may send it one now and then). */
  wake_ups = thread_wake_ups ("fh-enc-test");
  g_test_message ("the encode thread woke %" G_GINT64_FORMAT " times in %u frames", wake_ups,
                  r.packets);
  g_assert_cmpint (wake_ups, >=, 0);
  g_assert_cmpint (wake_ups, <, r.packets / 4);

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

#define OVERLAP_FRAMES 30

typedef struct {
  GMainLoop *loop;
  FhVirtualOutput *output;
  guint packets;
  guint overlapped;
  gint64 last_encoded_us;
  /* The luma the capture wrote at a few places of each frame, and what
   * the decoder reads there. */
  guint8 written[OVERLAP_FRAMES * 2][4];
  AVCodecContext *decoder;
  AVPacket *packet;
  AVFrame *picture;
  guint decoded;
} Overlap;

/* The synthetic picture's counter (top left) and moving square change
 * with every frame. */
static const guint probe[4][2] = { { 20, 20 }, { 44, 20 }, { 68, 20 }, { 92, 20 } };

/* A source that takes 8 ms for every picture (a compositor's copy, a
 * conversion), stamped when it begins. */
static gboolean
slow_capture (gpointer source, FhFrame *frame, guint64 frame_number, gint64 deadline_us,
              gint64 *timestamp_us, GError **error)
{
  Overlap *o = source;
  gint64 began = g_get_monotonic_time ();
  gboolean changed;

  changed = o->output->ops->capture (o->output, frame, frame_number, deadline_us, timestamp_us,
                                     error);
  if (frame_number < G_N_ELEMENTS (o->written)) {
    for (guint i = 0; i < G_N_ELEMENTS (probe); i++)
      o->written[frame_number][i] = frame->data[0][probe[i][1] * frame->stride[0] + probe[i][0]];
  }
  g_usleep (8000);
  *timestamp_us = began;
  return changed;
}

static void
on_overlap_packet (FhVideoStream *stream, const FhVideoPacket *packet, gpointer user_data)
{
  Overlap *o = user_data;

  /* This frame's capture began before the last one was encoded. */
  if (o->packets > 0 && packet->capture_us < o->last_encoded_us)
    o->overlapped++;
  o->last_encoded_us = packet->encoded_us;
  /* Each access unit is the picture captured as its frame: the one
   * written while the other input was encoded is not mixed up with it. */
  g_assert_cmpint (av_new_packet (o->packet, (int) packet->size), ==, 0);
  memcpy (o->packet->data, packet->data, packet->size);
  g_assert_cmpint (avcodec_send_packet (o->decoder, o->packet), ==, 0);
  av_packet_unref (o->packet);
  while (avcodec_receive_frame (o->decoder, o->picture) == 0) {
    g_assert_cmpuint (packet->frame, <, G_N_ELEMENTS (o->written));
    for (guint i = 0; i < G_N_ELEMENTS (probe); i++) {
      guint8 y = o->picture->data[0][probe[i][1] * o->picture->linesize[0] + probe[i][0]];
      g_assert_cmpint (ABS ((int) y - (int) o->written[packet->frame][i]), <=, 12);
    }
    o->decoded++;
    av_frame_unref (o->picture);
  }
  if (++o->packets == OVERLAP_FRAMES)
    g_main_loop_quit (o->loop);
}

/* Asked for more frames than capture and encoding one after the other
 * could make: the next capture runs while the last frame is encoded. One
 * after the other, no capture would begin before the last frame was out. */
static void
test_capture_overlaps_encoding (void)
{
  FhOutputRequest request = { .mode = { 1280, 720, 240 }, .session_id = "overlap", .serial = 3 };
  FhVideoEncoderConfig config = { 1280, 720, 240, 50000, "ultrafast", 1 };
  g_autoptr (GError) error = NULL;
  Overlap o = { .loop = g_main_loop_new (NULL, FALSE) };
  g_autoptr (FhVideoStream) stream = NULL;
  FhFrameSource source = { slow_capture, &o, "overlap" };
  gint64 wake_ups;
  guint timeout;

  o.output = fh_display_backend_synthetic.create_output (&request, &error);
  g_assert_no_error (error);
  o.decoder = avcodec_alloc_context3 (avcodec_find_decoder (AV_CODEC_ID_H264));
  g_assert_cmpint (avcodec_open2 (o.decoder, NULL, NULL), ==, 0);
  o.packet = av_packet_alloc ();
  o.picture = av_frame_alloc ();
  stream = fh_video_stream_new (&source, &config, g_main_context_default (), on_overlap_packet,
                                on_failed, &o, &error);
  g_assert_no_error (error);
  fh_video_stream_set_paused (stream, FALSE);
  timeout = g_timeout_add_seconds (20, on_timeout, NULL);
  g_main_loop_run (o.loop);
  g_source_remove (timeout);
  /* The encode thread took the frames: it woke for them. */
  wake_ups = thread_wake_ups ("fh-enc-overlap");
  fh_video_stream_stop (stream);
  g_test_message ("the encode thread woke %" G_GINT64_FORMAT " times in %u frames", wake_ups,
                  o.packets);
  g_assert_cmpint (wake_ups, >=, (o.packets - 1) / 2);
  g_test_message ("%u of %u frames captured while the one before was encoded", o.overlapped,
                  o.packets - 1);
  g_assert_cmpuint (o.overlapped, >=, (o.packets - 1) / 2);
  g_assert_cmpuint (o.decoded, ==, o.packets);
  avcodec_free_context (&o.decoder);
  av_packet_free (&o.packet);
  av_frame_free (&o.picture);
  g_clear_pointer (&stream, fh_video_stream_free);
  fh_virtual_output_destroy (o.output);
  g_main_loop_unref (o.loop);
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

/* libx264 logs through av_log: what it warned of, while the callback is
 * ours. */
static GPtrArray *av_warnings;

static void
on_av_log (void *avcl, int level, const char *fmt, va_list args)
{
  char line[512];

  if (level > AV_LOG_WARNING || !av_warnings)
    return;
  g_vsnprintf (line, sizeof line, fmt, args);
  g_ptr_array_add (av_warnings, g_strchomp (g_strdup (line)));
}

static void
count_bytes (const guint8 *data, gsize size, gboolean keyframe, gpointer user_data)
{
  *(gsize *) user_data += size;
}

/* Encodes @n frames of noise from @pts on; returns their bytes. */
static gsize
encode_noise (FhVideoEncoder *encoder, GRand *rand, gint64 pts, guint n)
{
  gsize bytes = 0;

  for (guint i = 0; i < n; i++) {
    g_autoptr (GError) error = NULL;
    guint input = i % FH_VIDEO_ENCODER_INPUTS;
    FhFrame frame;

    g_assert_true (fh_video_encoder_get_input (encoder, input, &frame, &error));
    for (guint p = 0; p < 3; p++) {
      guint rows = p ? frame.height / 2 : frame.height;

      for (guint y = 0; y < rows; y++)
        for (int x = 0; x < frame.stride[p]; x++)
          frame.data[p][y * frame.stride[p] + x] = (guint8) g_rand_int (rand);
    }
    g_assert_true (fh_video_encoder_encode (encoder, input, pts + i, pts + i == 0, count_bytes,
                                            &bytes, &error));
  }
  return bytes;
}

/* The bitrate goes down and up while frames are encoded (the rate
 * control): the frames follow it, and libx264 warns of nothing (it did at
 * every drop, "max bitrate less than average bitrate, assuming CBR", when
 * the VBV's maximum went down before the average). */
static void
test_bitrate_changes_quietly (void)
{
  FhVideoEncoderConfig config = { 320, 240, 30, 2000, "ultrafast", 1 };
  g_autoptr (GError) error = NULL;
  g_autoptr (GRand) rand = g_rand_new_with_seed (17);
  FhVideoEncoder *encoder = fh_video_encoder_new (&config, &error);
  gsize high, low;

  g_assert_no_error (error);
  av_warnings = g_ptr_array_new_with_free_func (g_free);
  av_log_set_callback (on_av_log);
  encode_noise (encoder, rand, 0, 10);
  high = encode_noise (encoder, rand, 10, 30);
  fh_video_encoder_set_bitrate (encoder, 500);
  encode_noise (encoder, rand, 40, 10);
  low = encode_noise (encoder, rand, 50, 30);
  fh_video_encoder_set_bitrate (encoder, 1500);
  encode_noise (encoder, rand, 80, 10);
  fh_video_encoder_set_bitrate (encoder, 300);
  fh_video_encoder_set_bitrate (encoder, 800); /* before a frame: the last one counts */
  encode_noise (encoder, rand, 90, 10);
  av_log_set_callback (av_log_default_callback);
  g_test_message ("30 frames at 2000 kb/s: %" G_GSIZE_FORMAT " bytes; at 500 kb/s: %"
                  G_GSIZE_FORMAT, high, low);
  for (guint i = 0; i < av_warnings->len; i++)
    g_test_message ("libav warned: %s", (char *) av_warnings->pdata[i]);
  g_assert_cmpuint (av_warnings->len, ==, 0);
  /* About 250 and 62 kB a second: the lower rate took. */
  g_assert_cmpuint (low * 2, <, high);
  g_clear_pointer (&av_warnings, g_ptr_array_unref);
  fh_video_encoder_free (encoder);
}

typedef struct {
  guint frames;
  guint keyframes;
  gboolean last_key;
  gboolean last_has_sps;
} KeyCount;

static void
count_keyframes (const guint8 *data, gsize size, gboolean keyframe, gpointer user_data)
{
  KeyCount *k = user_data;

  k->frames++;
  k->keyframes += keyframe;
  k->last_key = keyframe;
  k->last_has_sps = has_sps (data, size);
}

/* Encodes frame @pts of a still grey picture (no keyframe asked for). */
static void
encode_still (FhVideoEncoder *encoder, gint64 pts, KeyCount *k)
{
  g_autoptr (GError) error = NULL;
  guint input = (guint) pts % FH_VIDEO_ENCODER_INPUTS;
  FhFrame frame;

  g_assert_true (fh_video_encoder_get_input (encoder, input, &frame, &error));
  for (guint p = 0; p < 3; p++)
    memset (frame.data[p], 128, (gsize) frame.stride[p] * (p ? frame.height / 2 : frame.height));
  g_assert_true (fh_video_encoder_encode (encoder, input, pts, FALSE, count_keyframes, k, &error));
  g_assert_no_error (error);
}

/* The encoder's threads change between frames (the host's share of the
 * cores, core/encoder-threads.h): the next frame is an IDR frame with its
 * SPS, though nobody asked for one, and the frames go on after it; the
 * same number again changes nothing. */
static void
test_threads_change (void)
{
  FhVideoEncoderConfig config = { 320, 240, 30, 1000, "ultrafast", 1 };
  g_autoptr (GError) error = NULL;
  g_autoptr (FhVideoEncoder) encoder = fh_video_encoder_new (&config, &error);
  KeyCount k = { 0 };
  gint64 pts = 0;

  g_assert_no_error (error);
  for (; pts < 5; pts++)
    encode_still (encoder, pts, &k);
  g_assert_cmpuint (k.keyframes, ==, 1); /* the first frame's */

  g_assert_true (fh_video_encoder_set_threads (encoder, 2, &error));
  g_assert_cmpuint (fh_video_encoder_get_threads (encoder), ==, 2);
  encode_still (encoder, pts++, &k);
  g_assert_true (k.last_key);
  g_assert_true (k.last_has_sps);
  for (guint i = 0; i < 5; i++)
    encode_still (encoder, pts++, &k);
  g_assert_cmpuint (k.keyframes, ==, 2);
  g_assert_false (k.last_key);

  g_assert_true (fh_video_encoder_set_threads (encoder, 2, &error));
  encode_still (encoder, pts++, &k);
  g_assert_cmpuint (k.keyframes, ==, 2);
  g_assert_cmpuint (k.frames, ==, (guint) pts);
}

typedef struct {
  GLogLevelFlags level;
  char *message;
} FhLoggedLine;

static void
logged_line_free (gpointer data)
{
  FhLoggedLine *l = data;

  g_free (l->message);
  g_free (l);
}

static void
on_glib_log (const char *domain, GLogLevelFlags level, const char *message, gpointer data)
{
  FhLoggedLine *l = g_new0 (FhLoggedLine, 1);

  l->level = level & G_LOG_LEVEL_MASK;
  l->message = g_strdup (message);
  g_ptr_array_add (data, l);
}

/* Whether @lines has one at @level that begins with @prefix. */
static gboolean
logged (GPtrArray *lines, GLogLevelFlags level, const char *prefix)
{
  for (guint i = 0; i < lines->len; i++) {
    FhLoggedLine *l = lines->pdata[i];
    if (l->level == level && g_str_has_prefix (l->message, prefix))
      return TRUE;
  }
  return FALSE;
}

/* libav's lines go through GLib (fh_video_encoder_log_to_glib), as the
 * host's do, in the domain "libav": libx264's begin with the encoder's
 * name, so a session's reach its journal field; a line written in pieces
 * is one line; errors are warnings, warnings messages, information info;
 * what libav's level leaves out stays out. */
static void
test_libav_logs_through_glib (void)
{
  FhVideoEncoderConfig config = { 320, 240, 30, 1000, "ultrafast", 1, "session 0123abcd" };
  g_autoptr (GPtrArray) lines = g_ptr_array_new_with_free_func (logged_line_free);
  g_autoptr (GError) error = NULL;
  g_autoptr (GRand) rand = g_rand_new_with_seed (5);
  FhVideoEncoder *encoder;
  GLogLevelFlags fatal;
  guint handler;

  /* g_test_init () makes every warning fatal; here they are expected. */
  fatal = g_log_set_always_fatal (G_LOG_FATAL_MASK);
  handler = g_log_set_handler ("libav", G_LOG_LEVEL_MASK | G_LOG_FLAG_FATAL, on_glib_log, lines);
  fh_video_encoder_log_to_glib ();
  encoder = fh_video_encoder_new (&config, &error);
  g_assert_no_error (error);
  encode_noise (encoder, rand, 0, 10);
  fh_video_encoder_free (encoder); /* libx264's statistics */
  av_log (NULL, AV_LOG_ERROR, "written in %s ", "pieces");
  av_log (NULL, AV_LOG_ERROR, "and ended\n");
  av_log (NULL, AV_LOG_WARNING, "a warning\n");
  av_log (NULL, AV_LOG_DEBUG, "left out at libav's level\n");
  av_log_set_callback (av_log_default_callback);
  g_log_remove_handler ("libav", handler);
  g_log_set_always_fatal (fatal);

  for (guint i = 0; i < lines->len; i++)
    g_test_message ("%d %s", ((FhLoggedLine *) lines->pdata[i])->level,
                    ((FhLoggedLine *) lines->pdata[i])->message);
  g_assert_true (logged (lines, G_LOG_LEVEL_INFO, "session 0123abcd: libx264: frame I:1 "));
  g_assert_true (logged (lines, G_LOG_LEVEL_WARNING, "libav: written in pieces and ended"));
  g_assert_true (logged (lines, G_LOG_LEVEL_MESSAGE, "libav: a warning"));
  g_assert_false (logged (lines, G_LOG_LEVEL_DEBUG, "libav: left out"));
  for (guint i = 0; i < lines->len; i++)
    g_assert_null (strchr (((FhLoggedLine *) lines->pdata[i])->message, '\n'));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/video-stream/frames-and-keyframes", test_stream);
  g_test_add_func ("/video-stream/capture-overlaps-encoding", test_capture_overlaps_encoding);
  g_test_add_func ("/video-stream/bad-settings", test_bad_encoder_settings);
  g_test_add_func ("/video-stream/bitrate-changes-quietly", test_bitrate_changes_quietly);
  g_test_add_func ("/video-stream/threads-change", test_threads_change);
  g_test_add_func ("/video-stream/libav-logs-through-glib", test_libav_logs_through_glib);
  return g_test_run ();
}
