/* One video pipeline that funkhaus is compared with, on the very frames
 * funkhaus encodes: the synthetic backend's picture (the same drawing code)
 * or a wlroots session made by the host's own backend (a headless sway
 * with an app, captured by wlr-screencopy into I420). Paced like the host's
 * encode thread, it renders or captures each frame straight into the
 * pipeline's own input buffer and hands it on:
 *
 *   encoder   the host's FhVideoEncoder alone (libavcodec → libx264): the floor
 *   wolf      a GStreamer pipeline with x264enc set as Wolf sets it
 *   sunshine  libavcodec's libx264 opened with the options Sunshine uses for
 *             software encoding
 *
 * It prints its figures last, as "key value" lines: frames out, drops, CPU
 * time per frame of this process (and of the session's sway and app),
 * capture → encoded access unit latency, resident memory. */
#include <gio/gio.h>
#include <glib/gstdio.h>
#include <gst/app/gstappsrc.h>
#include <gst/gst.h>
#include <gst/video/video.h>
#include <libavcodec/avcodec.h>
#include <libavutil/opt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "backends/backend.h"
#include "backends/wlroots.h"
#include "core/encoder-threads.h"
#include "media/video-encoder.h"
#include "fh-bench-common.h"

/* Set by SIGINT/SIGTERM: the one thing a signal handler may touch. */
static volatile sig_atomic_t interrupted;

static void
on_signal (int sig)
{
  interrupted = 1;
}

typedef struct {
  gint width, height, fps, bitrate, threads;
  const char *preset;
} FhPipelineSettings;

/* What came out of the encoder: filled on the calling thread, or on
 * GStreamer's streaming thread for the wolf pipeline, hence the lock. */
typedef struct {
  GMutex lock;
  gint64 measure_us, end_us; /* frames captured in [measure, end) count */
  GArray *latency_us; /* capture → access unit out */
  guint64 frames, bytes, keyframes;
} FhOutputs;

static void
outputs_add (FhOutputs *o, gint64 capture_us, gsize bytes, gboolean keyframe)
{
  gint64 now = g_get_monotonic_time (), latency = now - capture_us;

  g_mutex_lock (&o->lock);
  if (capture_us >= o->measure_us && capture_us < o->end_us) {
    g_array_append_val (o->latency_us, latency);
    o->frames++;
    o->bytes += bytes;
    o->keyframes += keyframe;
  }
  g_mutex_unlock (&o->lock);
}

typedef struct _FhPipeline FhPipeline;

/* A pipeline: give out a writable input picture, take it back encoded. */
typedef struct {
  const char *name;
  gboolean (*open) (FhPipeline *self, const FhPipelineSettings *s, GError **error);
  gboolean (*get_input) (FhPipeline *self, FhFrame *frame, GError **error);
  gboolean (*submit) (FhPipeline *self, gint64 frame, gint64 capture_us, gboolean keyframe,
                      GError **error);
  /* Drains what is in flight (bounded) and releases everything. */
  void (*close) (FhPipeline *self);
  /* The exact settings, for the report. */
  char *(*describe) (FhPipeline *self);
} FhPipelineOps;

struct _FhPipeline {
  const FhPipelineOps *ops;
  FhOutputs *outputs;
  FhPipelineSettings settings;
  /* encoder */
  FhVideoEncoder *encoder;
  /* sunshine */
  AVCodecContext *ctx;
  AVFrame *frame;
  AVPacket *packet;
  /* wolf */
  GstElement *gst;
  GstElement *appsrc;
  GstBufferPool *pool;
  GstVideoInfo info;
  GstBuffer *buffer; /* handed out by get_input, mapped in @vframe */
  GstVideoFrame vframe;
  gint64 start_us;
  char *launch;
  guint64 pushed;
  guint64 untimed; /* access units that lost their capture time: must stay 0 */
  /* The capture time rides along as a reference timestamp meta of these
   * caps: x264enc rewrites the buffer's PTS (it adds 1000 hours), and
   * encoders copy untagged metas to their output. */
  GstCaps *capture_caps;
};

/* --- encoder: the host's own encoder, nothing around it --- */

typedef struct {
  FhPipeline *self;
  gint64 capture_us;
} FhEncodeNote;

static void
on_encoded (const guint8 *data, gsize size, gboolean keyframe, gpointer user_data)
{
  FhEncodeNote *note = user_data;

  outputs_add (note->self->outputs, note->capture_us, size, keyframe);
}

static gboolean
encoder_open (FhPipeline *self, const FhPipelineSettings *s, GError **error)
{
  FhVideoEncoderConfig config = {
    .width = (guint) s->width,
    .height = (guint) s->height,
    .fps = (guint) s->fps,
    .bitrate_kbps = (guint) s->bitrate,
    .preset = s->preset,
    .threads = (guint) s->threads,
  };

  return (self->encoder = fh_video_encoder_new (&config, error)) != NULL;
}

static gboolean
encoder_get_input (FhPipeline *self, FhFrame *frame, GError **error)
{
  return fh_video_encoder_get_input (self->encoder, 0, frame, error);
}

static gboolean
encoder_submit (FhPipeline *self, gint64 frame, gint64 capture_us, gboolean keyframe,
                GError **error)
{
  FhEncodeNote note = { self, capture_us };

  return fh_video_encoder_encode (self->encoder, 0, frame, keyframe, on_encoded, &note, error);
}

static void
encoder_close (FhPipeline *self)
{
  g_clear_pointer (&self->encoder, fh_video_encoder_free);
}

static char *
encoder_describe (FhPipeline *self)
{
  const FhPipelineSettings *s = &self->settings;

  return g_strdup_printf ("FhVideoEncoder (libavcodec libx264): preset=%s tune=zerolatency "
                          "forced-idr=1 bframes=0 b=maxrate=%d kb/s bufsize=1 frame "
                          "g=%d threads=%d",
                          s->preset, s->bitrate, s->fps * 60, s->threads);
}

static const FhPipelineOps encoder_ops = {
  "encoder", encoder_open, encoder_get_input, encoder_submit, encoder_close, encoder_describe,
};

/* --- sunshine: libx264 through libavcodec, opened as Sunshine opens its
 * "software" encoder for H.264 SDR 4:2:0 (src/video.cpp,
 * make_avcodec_encode_session; defaults from src/config.cpp) --- */

static gboolean
av_failed (int ret, const char *what, GError **error)
{
  char buf[AV_ERROR_MAX_STRING_SIZE] = { 0 };

  av_strerror (ret, buf, sizeof buf);
  g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "%s: %s", what, buf);
  return FALSE;
}

static gboolean
sunshine_open (FhPipeline *self, const FhPipelineSettings *s, GError **error)
{
  const AVCodec *codec = avcodec_find_encoder_by_name ("libx264");
  AVDictionary *opts = NULL;
  gint64 bitrate = (gint64) s->bitrate * 1000;
  int ret;

  if (!codec) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND, "libavcodec has no libx264");
    return FALSE;
  }
  self->ctx = avcodec_alloc_context3 (codec);
  self->ctx->width = s->width;
  self->ctx->height = s->height;
  self->ctx->time_base = (AVRational) { 1, s->fps };
  self->ctx->framerate = (AVRational) { s->fps, 1 };
  self->ctx->profile = FF_PROFILE_H264_HIGH;
  self->ctx->max_b_frames = 0;
  self->ctx->gop_size = G_MAXINT; /* IDR frames only on request */
  self->ctx->keyint_min = G_MAXINT;
  self->ctx->flags = AV_CODEC_FLAG_CLOSED_GOP | AV_CODEC_FLAG_LOW_DELAY;
  self->ctx->flags2 |= AV_CODEC_FLAG2_FAST;
  self->ctx->color_range = AVCOL_RANGE_MPEG;
  self->ctx->color_primaries = AVCOL_PRI_BT709;
  self->ctx->color_trc = AVCOL_TRC_BT709;
  self->ctx->colorspace = AVCOL_SPC_BT709;
  self->ctx->pix_fmt = AV_PIX_FMT_YUV420P;
  /* slices = max(client's slices per frame, min_threads = 2), one slice
   * thread per slice */
  self->ctx->slices = s->threads;
  self->ctx->thread_type = FF_THREAD_SLICE;
  self->ctx->thread_count = s->threads;
  /* CBR; a VBV of 1.5 frames when there is more than one slice */
  self->ctx->bit_rate = bitrate;
  self->ctx->rc_max_rate = bitrate;
  self->ctx->rc_min_rate = bitrate;
  self->ctx->rc_buffer_size =
    (int) (s->threads > 1 ? bitrate / ((s->fps * 10) / 15) : bitrate / s->fps);
  av_dict_set (&opts, "preset", s->preset, 0);
  av_dict_set (&opts, "tune", "zerolatency", 0);
  ret = avcodec_open2 (self->ctx, codec, &opts);
  av_dict_free (&opts);
  if (ret < 0)
    return av_failed (ret, "cannot open libx264 with Sunshine's options", error);

  self->frame = av_frame_alloc ();
  self->frame->format = AV_PIX_FMT_YUV420P;
  self->frame->width = s->width;
  self->frame->height = s->height;
  self->frame->color_range = AVCOL_RANGE_MPEG;
  if ((ret = av_frame_get_buffer (self->frame, 0)) < 0)
    return av_failed (ret, "cannot allocate a frame", error);
  self->packet = av_packet_alloc ();
  return TRUE;
}

static gboolean
sunshine_get_input (FhPipeline *self, FhFrame *frame, GError **error)
{
  int ret;

  if ((ret = av_frame_make_writable (self->frame)) < 0)
    return av_failed (ret, "frame not writable", error);
  for (int i = 0; i < 3; i++) {
    frame->data[i] = self->frame->data[i];
    frame->stride[i] = self->frame->linesize[i];
  }
  frame->width = (guint) self->frame->width;
  frame->height = (guint) self->frame->height;
  return TRUE;
}

static gboolean
sunshine_submit (FhPipeline *self, gint64 frame, gint64 capture_us, gboolean keyframe,
                 GError **error)
{
  int ret;

  self->frame->pts = frame;
  self->frame->pict_type = keyframe ? AV_PICTURE_TYPE_I : AV_PICTURE_TYPE_NONE;
  if ((ret = avcodec_send_frame (self->ctx, self->frame)) < 0)
    return av_failed (ret, "encoding failed", error);
  for (;;) {
    ret = avcodec_receive_packet (self->ctx, self->packet);
    if (ret == AVERROR (EAGAIN) || ret == AVERROR_EOF)
      return TRUE;
    if (ret < 0)
      return av_failed (ret, "receiving a packet failed", error);
    outputs_add (self->outputs, capture_us, (gsize) self->packet->size,
                 (self->packet->flags & AV_PKT_FLAG_KEY) != 0);
    av_packet_unref (self->packet);
  }
}

static void
sunshine_close (FhPipeline *self)
{
  av_packet_free (&self->packet);
  av_frame_free (&self->frame);
  avcodec_free_context (&self->ctx);
}

static char *
sunshine_describe (FhPipeline *self)
{
  const FhPipelineSettings *s = &self->settings;
  gint64 bitrate = (gint64) s->bitrate * 1000;

  return g_strdup_printf (
    "libavcodec libx264: preset=%s tune=zerolatency profile=high bframes=0 g=keyint_min=INT_MAX "
    "flags=+cgop+low_delay flags2=+fast slices=%d thread_type=slice threads=%d "
    "b=minrate=maxrate=%d kb/s bufsize=%" G_GINT64_FORMAT " bits",
    s->preset, s->threads, s->threads, s->bitrate,
    s->threads > 1 ? bitrate / ((s->fps * 10) / 15) : bitrate / s->fps);
}

static const FhPipelineOps sunshine_ops = {
  "sunshine", sunshine_open, sunshine_get_input, sunshine_submit, sunshine_close,
  sunshine_describe,
};

/* --- wolf: GStreamer, x264enc as Wolf's default config sets it
 * (src/moonlight-server/state/configTOML.cpp and
 * state/default/config.include.toml), fed by an appsrc that keeps one
 * frame and drops the older one, as Wolf's interpipesrc does
 * (max-buffers=1 leaky-type=downstream) --- */

static void
on_handoff (GstElement *sink, GstBuffer *buffer, GstPad *pad, gpointer user_data)
{
  FhPipeline *self = user_data;
  GstReferenceTimestampMeta *meta =
    gst_buffer_get_reference_timestamp_meta (buffer, self->capture_caps);

  if (!meta) {
    self->untimed++;
    return;
  }
  outputs_add (self->outputs, (gint64) (meta->timestamp / GST_USECOND),
               gst_buffer_get_size (buffer),
               !GST_BUFFER_FLAG_IS_SET (buffer, GST_BUFFER_FLAG_DELTA_UNIT));
}

static gboolean
wolf_open (FhPipeline *self, const FhPipelineSettings *s, GError **error)
{
  g_autoptr (GstCaps) caps = NULL;
  g_autoptr (GstElement) sink = NULL;
  GstStructure *config;

  if (!gst_init_check (NULL, NULL, error))
    return FALSE;
  self->launch = g_strdup_printf (
    "appsrc name=src is-live=true format=time max-buffers=1 leaky-type=downstream ! "
    "videoconvertscale ! videorate ! "
    "video/x-raw, width=%d, height=%d, framerate=%d/1, format=I420, colorimetry=bt709 ! "
    "x264enc pass=qual tune=zerolatency speed-preset=%s b-adapt=false bframes=0 ref=1 "
    "sliced-threads=true threads=%d option-string=\"slices=%d:keyint=infinite:open-gop=0\" "
    "bitrate=%d aud=false ! "
    "video/x-h264, profile=high, stream-format=byte-stream ! "
    "fakesink name=sink sync=false signal-handoffs=true",
    s->width, s->height, s->fps, s->preset, s->threads, s->threads, s->bitrate);
  if (!(self->gst = gst_parse_launch (self->launch, error))) {
    g_prefix_error (error, "GStreamer: install gstreamer1.0-plugins-base, -good and -ugly "
                           "(x264enc): ");
    return FALSE;
  }
  self->capture_caps = gst_caps_new_empty_simple ("timestamp/x-fh-capture");
  self->appsrc = gst_bin_get_by_name (GST_BIN (self->gst), "src");
  sink = gst_bin_get_by_name (GST_BIN (self->gst), "sink");
  g_signal_connect (sink, "handoff", G_CALLBACK (on_handoff), self);

  gst_video_info_set_format (&self->info, GST_VIDEO_FORMAT_I420, (guint) s->width,
                             (guint) s->height);
  self->info.fps_n = s->fps;
  self->info.fps_d = 1;
  gst_video_colorimetry_from_string (&self->info.colorimetry, "bt709");
  caps = gst_video_info_to_caps (&self->info);
  gst_app_src_set_caps (GST_APP_SRC (self->appsrc), caps);

  self->pool = gst_video_buffer_pool_new ();
  config = gst_buffer_pool_get_config (self->pool);
  gst_buffer_pool_config_set_params (config, caps, (guint) self->info.size, 2, 0);
  if (!gst_buffer_pool_set_config (self->pool, config) ||
      !gst_buffer_pool_set_active (self->pool, TRUE)) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "cannot set up a GStreamer buffer pool");
    return FALSE;
  }
  if (gst_element_set_state (self->gst, GST_STATE_PLAYING) == GST_STATE_CHANGE_FAILURE) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "the GStreamer pipeline does not start");
    return FALSE;
  }
  self->start_us = g_get_monotonic_time ();
  return TRUE;
}

static gboolean
wolf_get_input (FhPipeline *self, FhFrame *frame, GError **error)
{
  if (gst_buffer_pool_acquire_buffer (self->pool, &self->buffer, NULL) != GST_FLOW_OK ||
      !gst_video_frame_map (&self->vframe, &self->info, self->buffer, GST_MAP_WRITE)) {
    g_clear_pointer (&self->buffer, gst_buffer_unref);
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "no GStreamer buffer to capture into");
    return FALSE;
  }
  for (int i = 0; i < 3; i++) {
    frame->data[i] = GST_VIDEO_FRAME_PLANE_DATA (&self->vframe, i);
    frame->stride[i] = GST_VIDEO_FRAME_PLANE_STRIDE (&self->vframe, i);
  }
  frame->width = (guint) self->settings.width;
  frame->height = (guint) self->settings.height;
  return TRUE;
}

static gboolean
wolf_submit (FhPipeline *self, gint64 frame, gint64 capture_us, gboolean keyframe,
             GError **error)
{
  GstBuffer *buffer = g_steal_pointer (&self->buffer);

  gst_video_frame_unmap (&self->vframe);
  GST_BUFFER_PTS (buffer) = (GstClockTime) (MAX (capture_us - self->start_us, 0)) * GST_USECOND;
  gst_buffer_add_reference_timestamp_meta (buffer, self->capture_caps,
                                           (GstClockTime) capture_us * GST_USECOND,
                                           GST_CLOCK_TIME_NONE);
  GST_BUFFER_DURATION (buffer) = GST_SECOND / (GstClockTime) self->settings.fps;
  /* Wolf asks x264enc for an IDR frame with a force-key-unit event when a
   * client wants one; the first frame is one anyway. */
  if (gst_app_src_push_buffer (GST_APP_SRC (self->appsrc), buffer) != GST_FLOW_OK) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "the GStreamer pipeline stopped");
    return FALSE;
  }
  self->pushed++;
  return TRUE;
}

static void
wolf_close (FhPipeline *self)
{
  if (self->buffer) {
    gst_video_frame_unmap (&self->vframe);
    g_clear_pointer (&self->buffer, gst_buffer_unref);
  }
  if (self->gst) {
    g_autoptr (GstBus) bus = gst_element_get_bus (self->gst);
    g_autoptr (GstMessage) msg = NULL;

    gst_app_src_end_of_stream (GST_APP_SRC (self->appsrc));
    msg = gst_bus_timed_pop_filtered (bus, 2 * GST_SECOND, GST_MESSAGE_EOS | GST_MESSAGE_ERROR);
    gst_element_set_state (self->gst, GST_STATE_NULL);
  }
  if (self->pool)
    gst_buffer_pool_set_active (self->pool, FALSE);
  g_clear_object (&self->pool);
  g_clear_object (&self->appsrc);
  g_clear_object (&self->gst);
  g_clear_pointer (&self->capture_caps, gst_caps_unref);
}

static char *
wolf_describe (FhPipeline *self)
{
  return g_strdup_printf ("%s: %s", gst_version_string (), self->launch);
}

static const FhPipelineOps wolf_ops = {
  "wolf", wolf_open, wolf_get_input, wolf_submit, wolf_close, wolf_describe,
};

/* --- the loop --- */

static void
sleep_until (gint64 deadline_us)
{
  /* g_get_monotonic_time () is CLOCK_MONOTONIC on Linux. */
  struct timespec ts = { .tv_sec = deadline_us / G_USEC_PER_SEC,
                         .tv_nsec = (deadline_us % G_USEC_PER_SEC) * 1000 };

  while (!interrupted && clock_nanosleep (CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) != 0)
    ;
}

/* CPU time of every process of the wlroots session (sway, the app), found
 * by FUNKHAUS_SESSION, µs. */
static gint64
session_cpu_us (const char *session_id)
{
  g_autoptr (GDir) proc = g_dir_open ("/proc", 0, NULL);
  const char *name;
  gint64 sum = 0, cpu;

  while (session_id && proc && (name = g_dir_read_name (proc))) {
    pid_t pid = (pid_t) g_ascii_strtoll (name, NULL, 10);
    g_autofree char *id = NULL;

    if (pid > 0 && (id = fh_bench_process_session (pid)) && g_str_equal (id, session_id) &&
        (cpu = fh_bench_process_runtime_us (pid)) >= 0)
      sum += cpu;
  }
  return sum;
}

int
main (int argc, char **argv)
{
  FhPipelineSettings s = { .width = 1920, .height = 1080, .fps = 60, .bitrate = 8000,
                           .threads = 2 };
  gint serial = 1, instances = 1;
  double seconds = 5.0, warmup = 1.0;
  g_autofree char *pipeline_name = NULL, *source = NULL, *preset = NULL, *app = NULL;
  g_autofree char *run_as = NULL;
  GOptionEntry entries[] = {
    { "pipeline", 'p', 0, G_OPTION_ARG_STRING, &pipeline_name,
      "encoder (the host's encoder alone), wolf or sunshine", "NAME" },
    { "source", 0, 0, G_OPTION_ARG_STRING, &source,
      "synthetic (default) or wlroots (a headless sway made by the host's backend)", "NAME" },
    { "width", 'W', 0, G_OPTION_ARG_INT, &s.width, "frame width (default 1920)", "PX" },
    { "height", 'H', 0, G_OPTION_ARG_INT, &s.height, "frame height (default 1080)", "PX" },
    { "fps", 'r', 0, G_OPTION_ARG_INT, &s.fps, "frame rate, paced (default 60)", "HZ" },
    { "bitrate", 'b', 0, G_OPTION_ARG_INT, &s.bitrate, "kb/s (default 8000)", "KBPS" },
    { "encoder-preset", 0, 0, G_OPTION_ARG_STRING, &preset, "x264 preset (default superfast)",
      "PRESET" },
    { "threads", 0, 0, G_OPTION_ARG_INT, &s.threads,
      "encoder threads, and slices for wolf and sunshine (default 2); 0 (encoder only): what "
      "the host gives each of --instances sessions when its config leaves them to it", "N" },
    { "instances", 0, 0, G_OPTION_ARG_INT, &instances,
      "with --threads 0: the sessions that encode at once (default 1)", "N" },
    { "serial", 0, 0, G_OPTION_ARG_INT, &serial,
      "synthetic session serial, picks the background (default 1: the host's first)", "N" },
    { "app", 0, 0, G_OPTION_ARG_STRING, &app, "the wlroots session's app (command line)",
      "CMD" },
    { "run-as", 0, 0, G_OPTION_ARG_STRING, &run_as,
      "account for sway and the app when run as root (default funkhaus)", "USER" },
    { "seconds", 's', 0, G_OPTION_ARG_DOUBLE, &seconds, "measured time (default 5)", "S" },
    { "warmup", 'w', 0, G_OPTION_ARG_DOUBLE, &warmup, "unmeasured time first (default 1)", "S" },
    { NULL },
  };
  static const FhPipelineOps *const pipelines[] = { &encoder_ops, &wolf_ops, &sunshine_ops };
  g_autoptr (GOptionContext) options =
    g_option_context_new ("- one reference video pipeline on funkhaus's own frames, paced");
  g_autoptr (GError) error = NULL;
  g_autofree char *session_id = NULL, *session_dir = NULL, *describe = NULL;
  struct sigaction sa = { .sa_handler = on_signal };
  FhOutputs outputs = { 0 };
  FhPipeline self = { 0 };
  FhVirtualOutput *output = NULL;
  FhOutputRequest request = { 0 };
  FhWlrootsConfig wlroots_config;
  gint64 period_us, start_us, next, cpu0 = 0, cpu1, wall0 = 0, wall1, sess0 = 0, sess1;
  guint64 frame = 0, captured = 0, skipped = 0, unchanged = 0, rss = 0, pss = 0;
  gboolean measuring = FALSE, wlroots;
  int status = 1;

  g_option_context_add_main_entries (options, entries, NULL);
  if (!g_option_context_parse (options, &argc, &argv, &error)) {
    fprintf (stderr, "fh-bench-pipeline: %s\n", error->message);
    return 2;
  }
  for (gsize i = 0; i < G_N_ELEMENTS (pipelines); i++)
    if (pipeline_name && g_str_equal (pipeline_name, pipelines[i]->name))
      self.ops = pipelines[i];
  wlroots = g_strcmp0 (source, "wlroots") == 0;
  if (!self.ops || (source && !wlroots && !g_str_equal (source, "synthetic"))) {
    fprintf (stderr, "fh-bench-pipeline: --pipeline encoder|wolf|sunshine and --source "
                     "synthetic|wlroots\n");
    return 2;
  }
  if (s.width < 64 || s.height < 64 || s.fps < 1 || s.bitrate < 100 ||
      s.threads < (self.ops == &encoder_ops ? 0 : 1) || seconds <= 0 ||
      warmup < 0 || (wlroots && !app)) {
    fprintf (stderr, "fh-bench-pipeline: a setting is out of range (wlroots needs --app)\n");
    return 2;
  }
  s.preset = preset ? preset : "superfast";
  /* The host's encoder-threads=0: the share every session settles on
   * with instances - 1 others encoding (src/core/encoder-threads.h). */
  if (s.threads == 0)
    s.threads = (gint) fh_encoder_threads (0, g_get_num_processors (),
                                           (guint) MAX (instances - 1, 0), (guint) s.width,
                                           (guint) s.height, (guint) s.fps);
  self.settings = s;
  sigemptyset (&sa.sa_mask);
  sigaction (SIGINT, &sa, NULL);
  sigaction (SIGTERM, &sa, NULL);

  g_mutex_init (&outputs.lock);
  outputs.latency_us = g_array_new (FALSE, FALSE, sizeof (gint64));
  outputs.measure_us = outputs.end_us = G_MAXINT64;
  self.outputs = &outputs;

  session_id = g_strdup_printf ("%08x%08x%08x%08x", g_random_int (), g_random_int (),
                                g_random_int (), g_random_int ());
  request.mode = (FhMode) { (guint) s.width, (guint) s.height, (guint) s.fps };
  request.session_id = session_id;
  request.serial = (guint) serial;
  if (wlroots) {
    if (!(session_dir = g_dir_make_tmp ("fh-bench-pipeline-XXXXXX", &error)))
      goto out;
    request.session_dir = session_dir;
    wlroots_config = (FhWlrootsConfig) { { "wlroots" }, app,
                                         { .run_as = run_as ? run_as : "funkhaus" } };
    request.config = &wlroots_config.base;
    /* The script that runs us stops this session's processes by its id
     * should we die. */
    printf ("session %s\n", session_id);
    fflush (stdout);
    output = fh_display_backend_wlroots.create_output (&request, &error);
  } else {
    output = fh_display_backend_synthetic.create_output (&request, &error);
  }
  if (!output || !self.ops->open (&self, &s, &error))
    goto out;
  describe = self.ops->describe (&self);
  printf ("pipeline %s on %s %dx%d@%d, %.0f s warm-up + %.0f s measured\nsettings: %s\n",
          self.ops->name, wlroots ? "wlroots" : "synthetic", s.width, s.height, s.fps, warmup,
          seconds, describe);
  fflush (stdout);

  /* The host's encode thread, minus the hand-off to the network: wait for
   * the frame's time, capture straight into the pipeline's input, hand it
   * on, next. Falling behind by whole periods skips those frames, as the
   * host does. */
  period_us = G_USEC_PER_SEC / s.fps;
  start_us = g_get_monotonic_time ();
  g_mutex_lock (&outputs.lock);
  outputs.measure_us = start_us + (gint64) (warmup * G_USEC_PER_SEC);
  outputs.end_us = outputs.measure_us + (gint64) (seconds * G_USEC_PER_SEC);
  g_mutex_unlock (&outputs.lock);
  next = start_us;
  while (!interrupted) {
    FhFrame input;
    gint64 now, capture_us = 0;
    gboolean changed;

    sleep_until (next);
    now = g_get_monotonic_time ();
    if (!measuring && now >= outputs.measure_us) {
      measuring = TRUE;
      cpu0 = fh_bench_self_cpu_us ();
      sess0 = session_cpu_us (wlroots ? session_id : NULL);
      wall0 = now;
    }
    if (now >= outputs.end_us)
      break;
    if (now - next >= period_us) {
      if (measuring)
        skipped += (guint64) ((now - next) / period_us);
      next = now;
    }
    next += period_us;

    if (!self.ops->get_input (&self, &input, &error))
      goto out;
    changed = output->ops->capture (output, &input, frame, next, &capture_us, &error);
    if (error)
      goto out;
    if (!changed) {
      /* Nothing new on the desktop (or no first picture yet): the host
       * sends nothing either. The wolf pipeline's buffer goes back to its
       * pool. */
      if (measuring)
        unchanged++;
      if (self.buffer) {
        gst_video_frame_unmap (&self.vframe);
        g_clear_pointer (&self.buffer, gst_buffer_unref);
      }
      continue;
    }
    if (!self.ops->submit (&self, (gint64) frame, capture_us, frame == 0, &error))
      goto out;
    if (measuring && capture_us >= outputs.measure_us)
      captured++;
    frame++;
  }
  cpu1 = fh_bench_self_cpu_us ();
  sess1 = session_cpu_us (wlroots ? session_id : NULL);
  wall1 = g_get_monotonic_time ();
  fh_bench_process_memory (getpid (), &rss, &pss);
  if (interrupted) {
    g_set_error (&error, G_IO_ERROR, G_IO_ERROR_CANCELLED, "interrupted");
    goto out;
  }
  /* Drain, so that frames still in the encoder count; libx264 prints its
   * summary when closed: before our figures, not after. */
  self.ops->close (&self);
  fflush (stderr);

  if (outputs.frames == 0) {
    g_set_error (&error, G_IO_ERROR, G_IO_ERROR_FAILED,
                 "no frame was encoded in the measured window");
    goto out;
  }
  {
    double window_s = (wall1 - wall0) / (double) G_USEC_PER_SEC;
    double cpu_ms = (cpu1 - cpu0) / 1000.0;

    printf ("\n");
    printf ("frames             %" G_GUINT64_FORMAT "\n", outputs.frames);
    printf ("fps                %.2f\n", outputs.frames / window_s);
    printf ("skipped            %" G_GUINT64_FORMAT "\n", skipped);
    /* Captured but never encoded (the wolf pipeline's leaky queue), plus
     * frame periods the loop fell behind by. */
    printf ("dropped            %" G_GUINT64_FORMAT "\n",
            skipped + (captured > outputs.frames ? captured - outputs.frames : 0));
    printf ("unchanged          %" G_GUINT64_FORMAT "\n", unchanged);
    printf ("keyframes          %" G_GUINT64_FORMAT "\n", outputs.keyframes);
    printf ("kbps               %.0f\n", outputs.bytes * 8.0 / 1000.0 / window_s);
    printf ("window_s           %.3f\n", window_s);
    printf ("cpu_ms_per_frame   %.3f\n", cpu_ms / outputs.frames);
    printf ("cpu_cores          %.3f\n", cpu_ms / 1000.0 / window_s);
    printf ("session_processes_cpu_cores %.3f\n", (sess1 - sess0) / 1e6 / window_s);
    printf ("total_cpu_ms_per_frame %.3f\n", (cpu_ms + (sess1 - sess0) / 1000.0) / outputs.frames);
    printf ("capture_to_encoded_ms_p50 %.3f\n", fh_percentile_ms (outputs.latency_us, 0.50));
    printf ("capture_to_encoded_ms_p99 %.3f\n", fh_percentile_ms (outputs.latency_us, 0.99));
    printf ("capture_to_encoded_ms_max %.3f\n", fh_percentile_ms (outputs.latency_us, 1.0));
    printf ("rss_kib            %" G_GUINT64_FORMAT "\n", rss);
    printf ("pss_kib            %" G_GUINT64_FORMAT "\n", pss);
  }
  status = 0;

out:
  if (error)
    fprintf (stderr, "fh-bench-pipeline: %s\n", error->message);
  if (self.ops)
    self.ops->close (&self);
  fh_virtual_output_destroy (output);
  if (session_dir)
    g_rmdir (session_dir); /* the output removed its logs */
  g_array_unref (outputs.latency_us);
  g_mutex_clear (&outputs.lock);
  g_free (self.launch);
  return status;
}
