/* Packed RGB into I420. The 32-bit layouts compositors hand out, at even
 * sizes (every session's), go through our own loop: libswscale (5.1, in
 * Debian 12) has no SIMD path from them into BT.709 and took 2.9 ms of
 * CPU for a 1920x1080 picture, this loop under 1 ms, on one thread. Any
 * other picture takes one libswscale pass, in slices on several threads
 * (libswscale's own). */
#include "media/convert.h"

#include <libavutil/frame.h>
#include <libavutil/opt.h>
#include <libavutil/pixfmt.h>
#include <libswscale/swscale.h>

/* Vectorised for the CPU it runs on: AVX2 where there is one (GCC picks
 * the version at load time), the baseline otherwise. */
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__)
#define FH_VECTORISED __attribute__ ((target_clones ("avx2", "default"), optimize ("O3")))
#else
#define FH_VECTORISED
#endif

/* BT.709 limited range in fixed point: Y = 16 + 219/255 (0.2126 R +
 * 0.7152 G + 0.0722 B), U and V likewise from (B - Y) / 1.8556 and
 * (R - Y) / 1.5748, times 2^16. Y is taken from one pixel; U and V from
 * the sum of a 2x2 block, so they shift by 2 more. */
#define Y_R 11966
#define Y_G 40254
#define Y_B 4064
#define U_R (-6596)
#define U_G (-22189)
#define U_B 28785
#define V_R 28784
#define V_G (-26145)
#define V_B (-2639)

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

/* Two rows of 32-bit pixels, red in bits @r_shift, green in 8-15, blue in
 * @b_shift, into two rows of Y and one of U and V. Inlined with constant
 * shifts, so each loop vectorises on 32-bit lanes without unpacking
 * bytes. */
static inline __attribute__ ((always_inline)) void
rows (const guint32 *restrict top, const guint32 *restrict bottom, guint8 *restrict y_top,
      guint8 *restrict y_bottom, guint8 *restrict u, guint8 *restrict v, guint width,
      int r_shift, int b_shift)
{
  for (guint x = 0; x < width; x++) {
    guint32 p = top[x], q = bottom[x];

    y_top[x] = (guint8) ((Y_R * (int) ((p >> r_shift) & 0xff) + Y_G * (int) ((p >> 8) & 0xff) +
                          Y_B * (int) ((p >> b_shift) & 0xff) + (16 << 16) + (1 << 15)) >> 16);
    y_bottom[x] = (guint8) ((Y_R * (int) ((q >> r_shift) & 0xff) +
                             Y_G * (int) ((q >> 8) & 0xff) + Y_B * (int) ((q >> b_shift) & 0xff) +
                             (16 << 16) + (1 << 15)) >> 16);
  }
  for (guint x = 0; x < width / 2; x++) {
    guint32 a = top[2 * x], b = top[2 * x + 1], c = bottom[2 * x], d = bottom[2 * x + 1];
    /* The four pixels' bytes summed in 16-bit fields: bytes 0 and 2 in
     * even, green (byte 1) in odd. */
    guint32 even = (a & 0x00ff00ff) + (b & 0x00ff00ff) + (c & 0x00ff00ff) + (d & 0x00ff00ff);
    guint32 odd = ((a >> 8) & 0xff) + ((b >> 8) & 0xff) + ((c >> 8) & 0xff) + ((d >> 8) & 0xff);
    int r = (int) ((even >> r_shift) & 0xffff), g = (int) odd;
    int bl = (int) ((even >> b_shift) & 0xffff);

    u[x] = (guint8) ((U_R * r + U_G * g + U_B * bl + (128 << 18) + (1 << 17)) >> 18);
    v[x] = (guint8) ((V_R * r + V_G * g + V_B * bl + (128 << 18) + (1 << 17)) >> 18);
  }
}

FH_VECTORISED static void
rows_bgrx (const guint32 *top, const guint32 *bottom, guint8 *y_top, guint8 *y_bottom,
           guint8 *u, guint8 *v, guint width)
{
  rows (top, bottom, y_top, y_bottom, u, v, width, 16, 0);
}

FH_VECTORISED static void
rows_rgbx (const guint32 *top, const guint32 *bottom, guint8 *y_top, guint8 *y_bottom,
           guint8 *u, guint8 *v, guint width)
{
  rows (top, bottom, y_top, y_bottom, u, v, width, 0, 16);
}

/* Our own loop, for the layouts it knows at even sizes. */
static gboolean
convert_packed (int av_format, const guint8 *data, int stride, guint width, guint height,
                FhFrame *frame)
{
  void (*two_rows) (const guint32 *, const guint32 *, guint8 *, guint8 *, guint8 *, guint8 *,
                    guint);

  if (width % 2 || height % 2)
    return FALSE;
  if (av_format == AV_PIX_FMT_BGR0 || av_format == AV_PIX_FMT_BGRA)
    two_rows = rows_bgrx;
  else if (av_format == AV_PIX_FMT_RGB0 || av_format == AV_PIX_FMT_RGBA)
    two_rows = rows_rgbx;
  else
    return FALSE;
  for (guint y = 0; y < height; y += 2) {
    const guint8 *top = data + (gssize) y * stride;

    two_rows ((const guint32 *) top, (const guint32 *) (top + stride),
              frame->data[0] + (gsize) y * frame->stride[0],
              frame->data[0] + (gsize) (y + 1) * frame->stride[0],
              frame->data[1] + (gsize) y / 2 * frame->stride[1],
              frame->data[2] + (gsize) y / 2 * frame->stride[2], width);
  }
  return TRUE;
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
  if (convert_packed (av_format, data, stride, width, height, frame))
    return TRUE;
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
