/* libavcodec H.264 encoder wrapper. */
#include "media/video-encoder.h"

#include <string.h>

#include <gio/gio.h>
#include <libavcodec/avcodec.h>
#include <libavutil/imgutils.h>
#include <libavutil/log.h>
#include <libavutil/opt.h>

struct _FhVideoEncoder {
  char *name; /* its log lines begin with it, or NULL */
  char *preset;
  guint threads;
  AVCodecContext *ctx;
  AVFrame *frames[FH_VIDEO_ENCODER_INPUTS];
  AVPacket *packet;
  gint64 pending_max_rate; /* a lower VBV maximum for the next frame; 0: none */
};

/* The VBV: a maximum of @bitrate and about one frame of buffer. */
static void
set_vbv (AVCodecContext *ctx, gint64 bitrate)
{
  int fps = ctx->framerate.num > 0 ? ctx->framerate.num : 30;

  ctx->rc_max_rate = bitrate;
  ctx->rc_buffer_size = (int) MAX (bitrate / fps, 1);
}

static gboolean
av_failed (int ret, const char *what, GError **error)
{
  char buf[AV_ERROR_MAX_STRING_SIZE] = { 0 };

  av_strerror (ret, buf, sizeof buf);
  g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "%s: %s", what, buf);
  return FALSE;
}

/* An open libx264 context for @self's pictures at @bitrate (bit/s) with
 * @threads threads, or NULL. */
static AVCodecContext *
open_context (FhVideoEncoder *self, guint width, guint height, guint fps, gint64 bitrate,
              guint threads, GError **error)
{
  const AVCodec *codec = avcodec_find_encoder_by_name ("libx264");
  AVCodecContext *ctx;
  AVDictionary *opts = NULL;
  int ret;

  if (!codec) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND,
                 "libavcodec has no libx264 encoder: install Debian's libavcodec59 "
                 "(it is built with libx264)");
    return NULL;
  }
  ctx = avcodec_alloc_context3 (codec);
  ctx->opaque = self; /* whose lines libx264 logs (log_to_glib) */
  ctx->width = (int) width;
  ctx->height = (int) height;
  ctx->pix_fmt = AV_PIX_FMT_YUV420P;
  ctx->time_base = (AVRational) { 1, (int) fps };
  ctx->framerate = (AVRational) { (int) fps, 1 };
  ctx->bit_rate = bitrate;
  /* A VBV of about one frame keeps every frame close to the average size,
   * which is what keeps a constant-rate stream's latency flat. */
  set_vbv (ctx, bitrate);
  ctx->max_b_frames = 0;
  ctx->gop_size = (int) fps * 60; /* IDR on join and on request */
  ctx->thread_count = (int) threads;
  ctx->colorspace = AVCOL_SPC_BT709;
  ctx->color_primaries = AVCOL_PRI_BT709;
  ctx->color_trc = AVCOL_TRC_BT709;
  ctx->color_range = AVCOL_RANGE_MPEG;

  av_dict_set (&opts, "preset", self->preset, 0);
  av_dict_set (&opts, "tune", "zerolatency", 0);
  av_dict_set (&opts, "forced-idr", "1", 0);
  ret = avcodec_open2 (ctx, codec, &opts);
  av_dict_free (&opts);
  if (ret < 0) {
    avcodec_free_context (&ctx);
    av_failed (ret, "cannot open the libx264 encoder", error);
    return NULL;
  }
  return ctx;
}

FhVideoEncoder *
fh_video_encoder_new (const FhVideoEncoderConfig *config, GError **error)
{
  g_autoptr (FhVideoEncoder) self = g_new0 (FhVideoEncoder, 1);
  int ret;

  self->name = g_strdup (config->name);
  self->preset = g_strdup (config->preset ? config->preset : "ultrafast");
  self->threads = config->threads;
  self->ctx = open_context (self, config->width, config->height, config->fps,
                            (gint64) config->bitrate_kbps * 1000, config->threads, error);
  if (!self->ctx)
    return NULL;

  for (guint i = 0; i < FH_VIDEO_ENCODER_INPUTS; i++) {
    AVFrame *frame = self->frames[i] = av_frame_alloc ();
    frame->format = AV_PIX_FMT_YUV420P;
    frame->width = (int) config->width;
    frame->height = (int) config->height;
    if ((ret = av_frame_get_buffer (frame, 0)) < 0) {
      av_failed (ret, "cannot allocate an encoder frame", error);
      return NULL;
    }
  }
  self->packet = av_packet_alloc ();
  return g_steal_pointer (&self);
}

gboolean
fh_video_encoder_set_threads (FhVideoEncoder *self, guint threads, GError **error)
{
  AVCodecContext *ctx;

  if (threads == self->threads)
    return TRUE;
  /* At the bitrate it aims at now; a lower maximum still pending for the
   * next frame (fh_video_encoder_set_bitrate) is the new context's from
   * the start. The input pictures are the encoder's, not the context's:
   * they stay. */
  ctx = open_context (self, (guint) self->ctx->width, (guint) self->ctx->height,
                      (guint) self->ctx->framerate.num, self->ctx->bit_rate, threads, error);
  if (!ctx) {
    g_prefix_error (error, "%s%sthe encoder keeps its %u thread(s): ", self->name ? self->name : "",
                    self->name ? ": " : "", self->threads);
    return FALSE;
  }
  self->pending_max_rate = 0;
  avcodec_free_context (&self->ctx); /* libx264 logs its statistics here */
  self->ctx = ctx;
  self->threads = threads;
  return TRUE;
}

guint
fh_video_encoder_get_threads (FhVideoEncoder *self)
{
  return self->threads;
}

void
fh_video_encoder_set_bitrate (FhVideoEncoder *self, guint kbps)
{
  gint64 bitrate = (gint64) kbps * 1000;

  /* libavcodec's libx264 wrapper compares these with its parameters
   * before each frame and calls x264_encoder_reconfig when they differ:
   * the VBV first, then the average. A lower maximum before the lower
   * average is a maximum under the average, which x264 logs ("max bitrate
   * less than average bitrate, assuming CBR") at every drop: going down,
   * the maximum follows a frame later. */
  self->ctx->bit_rate = bitrate;
  self->pending_max_rate = 0;
  if (bitrate < self->ctx->rc_max_rate)
    self->pending_max_rate = bitrate;
  else
    set_vbv (self->ctx, bitrate);
}

void
fh_video_encoder_free (FhVideoEncoder *self)
{
  if (!self)
    return;
  av_packet_free (&self->packet);
  for (guint i = 0; i < FH_VIDEO_ENCODER_INPUTS; i++)
    av_frame_free (&self->frames[i]);
  avcodec_free_context (&self->ctx); /* libx264 logs its statistics here */
  g_free (self->name);
  g_free (self->preset);
  g_free (self);
}

gboolean
fh_video_encoder_get_input (FhVideoEncoder *self, guint input, FhFrame *frame, GError **error)
{
  AVFrame *av;
  int ret;

  g_return_val_if_fail (input < FH_VIDEO_ENCODER_INPUTS, FALSE);
  av = self->frames[input];
  /* libx264 copies the picture inside avcodec_send_frame(), so the buffer
   * is ours again once encode() returned: this is normally a no-op. */
  if ((ret = av_frame_make_writable (av)) < 0)
    return av_failed (ret, "encoder frame not writable", error);
  for (int i = 0; i < 3; i++) {
    frame->data[i] = av->data[i];
    frame->stride[i] = av->linesize[i];
  }
  frame->width = (guint) av->width;
  frame->height = (guint) av->height;
  return TRUE;
}

gboolean
fh_video_encoder_encode (FhVideoEncoder *self, guint input, gint64 pts, gboolean keyframe,
                         FhEncodedFunc func, gpointer user_data, GError **error)
{
  AVFrame *av;
  int ret;

  g_return_val_if_fail (input < FH_VIDEO_ENCODER_INPUTS, FALSE);
  av = self->frames[input];
  av->pts = pts;
  av->pict_type = keyframe ? AV_PICTURE_TYPE_I : AV_PICTURE_TYPE_NONE;
  if ((ret = avcodec_send_frame (self->ctx, av)) < 0)
    return av_failed (ret, "encoding a frame failed", error);
  if (self->pending_max_rate) {
    /* This frame took the lower average: the next one takes the maximum
     * (see fh_video_encoder_set_bitrate). */
    set_vbv (self->ctx, self->pending_max_rate);
    self->pending_max_rate = 0;
  }

  for (;;) {
    ret = avcodec_receive_packet (self->ctx, self->packet);
    if (ret == AVERROR (EAGAIN) || ret == AVERROR_EOF)
      return TRUE;
    if (ret < 0)
      return av_failed (ret, "receiving an encoded frame failed", error);
    func (self->packet->data, (gsize) self->packet->size,
          (self->packet->flags & AV_PKT_FLAG_KEY) != 0, user_data);
    av_packet_unref (self->packet);
  }
}

static void
free_line (gpointer line)
{
  g_string_free (line, TRUE);
}

/* The line a thread's libav calls are writing: a line may come in pieces. */
static GPrivate log_line = G_PRIVATE_INIT (free_line);

static GLogLevelFlags
glib_level (int level)
{
  if (level <= AV_LOG_ERROR)
    return G_LOG_LEVEL_WARNING;
  if (level <= AV_LOG_WARNING)
    return G_LOG_LEVEL_MESSAGE;
  if (level <= AV_LOG_INFO)
    return G_LOG_LEVEL_INFO;
  return G_LOG_LEVEL_DEBUG;
}

static void
log_to_glib (void *avcl, int level, const char *fmt, va_list args)
{
  const AVClass *av_class = avcl ? *(const AVClass **) avcl : NULL;
  const FhVideoEncoder *encoder = NULL;
  GString *line = g_private_get (&log_line);
  char *end;

  if (level > av_log_get_level ())
    return;
  if (!line) {
    line = g_string_new (NULL);
    g_private_set (&log_line, line);
  }
  g_string_append_vprintf (line, fmt, args);
  if (!line->len || line->str[line->len - 1] != '\n')
    return;
  if (av_class && g_strcmp0 (av_class->class_name, "AVCodecContext") == 0)
    encoder = ((const AVCodecContext *) avcl)->opaque;
  /* One GLib line for each of libav's. */
  for (char *start = line->str; (end = strchr (start, '\n')); start = end + 1) {
    *end = '\0';
    if (*start)
      g_log ("libav", glib_level (level), "%s%s%s: %s",
             encoder && encoder->name ? encoder->name : "", encoder && encoder->name ? ": " : "",
             av_class ? av_class->item_name (avcl) : "libav", start);
  }
  g_string_truncate (line, 0);
}

void
fh_video_encoder_log_to_glib (void)
{
  av_log_set_callback (log_to_glib);
}
