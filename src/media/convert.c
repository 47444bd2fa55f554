/* One libswscale pass from packed RGB into I420, in slices on several
 * threads (libswscale's own). */
#include "media/convert.h"

#include <libavutil/frame.h>
#include <libavutil/opt.h>
#include <libavutil/pixfmt.h>
#include <libswscale/swscale.h>

/* Slices of one picture converted at once: at 1080p two threads take the
 * conversion from about 3 ms to 1.5 ms on this project's machines. */
#define MAX_THREADS 4

struct _FhConverter {
  struct SwsContext *sws;
  int format;
  guint width, height;
  /* The capture's picture and the encoder's input, borrowed for each
   * call: sws_scale_frame() takes frames, and copies a frame that has no
   * buffer of its own, so both carry a reference to @borrowed (which owns
   * nothing) instead. */
  AVFrame *src, *dst;
  AVBufferRef *borrowed;
};

static void
free_nothing (void *opaque, uint8_t *data)
{
}

FhConverter *
fh_converter_new (void)
{
  FhConverter *self = g_new0 (FhConverter, 1);

  self->format = AV_PIX_FMT_NONE;
  self->src = av_frame_alloc ();
  self->dst = av_frame_alloc ();
  self->borrowed = av_buffer_create ((uint8_t *) self, 1, free_nothing, NULL, 0);
  return self;
}

void
fh_converter_free (FhConverter *self)
{
  if (!self)
    return;
  sws_freeContext (self->sws);
  av_frame_free (&self->src);
  av_frame_free (&self->dst);
  av_buffer_unref (&self->borrowed);
  g_free (self);
}

static gboolean
set_up (FhConverter *self, int av_format, guint width, guint height, GError **error)
{
  const int *coefficients = sws_getCoefficients (SWS_CS_ITU709);
  int threads = (int) CLAMP (g_get_num_processors (), 1u, MAX_THREADS);

  sws_freeContext (self->sws);
  self->sws = sws_alloc_context ();
  /* The session runs at exactly the client's mode: never scale. */
  if (!self->sws || av_opt_set_int (self->sws, "srcw", width, 0) < 0 ||
      av_opt_set_int (self->sws, "srch", height, 0) < 0 ||
      av_opt_set_int (self->sws, "src_format", av_format, 0) < 0 ||
      av_opt_set_int (self->sws, "dstw", width, 0) < 0 ||
      av_opt_set_int (self->sws, "dsth", height, 0) < 0 ||
      av_opt_set_int (self->sws, "dst_format", AV_PIX_FMT_YUV420P, 0) < 0 ||
      av_opt_set_int (self->sws, "sws_flags", SWS_POINT, 0) < 0 ||
      av_opt_set_int (self->sws, "threads", threads, 0) < 0 ||
      sws_init_context (self->sws, NULL, NULL) < 0) {
    g_clear_pointer (&self->sws, sws_freeContext);
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "cannot set up the colour conversion");
    return FALSE;
  }
  /* BT.709 limited range, what the encoder signals. */
  sws_setColorspaceDetails (self->sws, coefficients, 1, coefficients, 0, 0, 1 << 16, 1 << 16);
  self->format = av_format;
  self->width = width;
  self->height = height;
  return TRUE;
}

gboolean
fh_converter_run (FhConverter *self, int av_format, const guint8 *data, int stride, guint width,
                  guint height, FhFrame *frame, GError **error)
{
  int ret;

  if (width != frame->width || height != frame->height) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED,
                 "the desktop's picture is %ux%u, not the session's %ux%u", width, height,
                 frame->width, frame->height);
    return FALSE;
  }
  if ((!self->sws || self->format != av_format || self->width != width ||
       self->height != height) &&
      !set_up (self, av_format, width, height, error))
    return FALSE;

  self->src->format = av_format;
  self->src->width = (int) width;
  self->src->height = (int) height;
  self->src->data[0] = (uint8_t *) data;
  self->src->linesize[0] = stride;
  self->src->buf[0] = av_buffer_ref (self->borrowed);
  self->dst->format = AV_PIX_FMT_YUV420P;
  self->dst->width = (int) width;
  self->dst->height = (int) height;
  for (int i = 0; i < 3; i++) {
    self->dst->data[i] = frame->data[i];
    self->dst->linesize[i] = frame->stride[i];
  }
  self->dst->buf[0] = av_buffer_ref (self->borrowed);
  ret = sws_scale_frame (self->sws, self->dst, self->src);
  av_frame_unref (self->src);
  av_frame_unref (self->dst);
  if (ret < 0) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "the colour conversion failed (%d)", ret);
    return FALSE;
  }
  return TRUE;
}
