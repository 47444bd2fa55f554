/* One libswscale pass from packed RGB into I420. */
#include "media/convert.h"

#include <libavutil/pixfmt.h>
#include <libswscale/swscale.h>

struct _FhConverter {
  struct SwsContext *sws;
  int format;
  guint width, height;
};

FhConverter *
fh_converter_new (void)
{
  FhConverter *self = g_new0 (FhConverter, 1);

  self->format = AV_PIX_FMT_NONE;
  return self;
}

void
fh_converter_free (FhConverter *self)
{
  if (!self)
    return;
  sws_freeContext (self->sws);
  g_free (self);
}

gboolean
fh_converter_run (FhConverter *self, int av_format, const guint8 *data, int stride, guint width,
                  guint height, FhFrame *frame, GError **error)
{
  const guint8 *src[4] = { data };
  int src_stride[4] = { stride };

  /* The session runs at exactly the client's mode: never scale. */
  if (width != frame->width || height != frame->height) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED,
                 "the desktop's picture is %ux%u, not the session's %ux%u", width, height,
                 frame->width, frame->height);
    return FALSE;
  }
  if (!self->sws || self->format != av_format || self->width != width || self->height != height) {
    const int *coefficients = sws_getCoefficients (SWS_CS_ITU709);
    sws_freeContext (self->sws);
    self->sws = sws_getContext ((int) width, (int) height, av_format, (int) frame->width,
                                (int) frame->height, AV_PIX_FMT_YUV420P, SWS_POINT, NULL, NULL,
                                NULL);
    if (!self->sws) {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "cannot set up the colour conversion");
      return FALSE;
    }
    /* BT.709 limited range, what the encoder signals. */
    sws_setColorspaceDetails (self->sws, coefficients, 1, coefficients, 0, 0, 1 << 16, 1 << 16);
    self->format = av_format;
    self->width = width;
    self->height = height;
  }
  sws_scale (self->sws, src, src_stride, 0, (int) height, frame->data, frame->stride);
  return TRUE;
}
