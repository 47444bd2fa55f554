/* The synthetic backend: no compositor, a generated picture at exactly the
 * session's mode (a background colour of its own, a moving square, a frame
 * counter) and a record of the input that reaches it. It exists for tests
 * and benchmarks, and runs anywhere. With FUNKHAUS_SYNTHETIC_NOISE=1 in the
 * host's environment the lower quarter of the picture is new noise every
 * frame: a picture that takes all the bits the encoder is given, for
 * benchmarks of a link (bench/latency.sh). */
#include "backends/backend.h"

#include <errno.h>
#include <gio/gio.h>
#include <glib/gstdio.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

typedef struct {
  FhVirtualOutput base;
  guint8 yuv[3]; /* background in BT.709 limited range */
  guint32 noise; /* xorshift state; 0: no noise */
  char *record_path;
  FILE *record; /* input.log of the session */
} FhSyntheticOutput;

/* Golden-angle hues: consecutive sessions differ by ~137°, so any two
 * sessions made one after the other look clearly different. */
static void
background_for_serial (guint serial, guint8 rgb[3])
{
  double h = fmod (serial * 137.508 + 20.0, 360.0) / 60.0;
  double s = 0.7, v = 0.85;
  double c = v * s, x = c * (1.0 - fabs (fmod (h, 2.0) - 1.0)), m = v - c;
  double r, g, b;

  switch ((int) h) {
  case 0: r = c, g = x, b = 0; break;
  case 1: r = x, g = c, b = 0; break;
  case 2: r = 0, g = c, b = x; break;
  case 3: r = 0, g = x, b = c; break;
  case 4: r = x, g = 0, b = c; break;
  default: r = c, g = 0, b = x; break;
  }
  rgb[0] = (guint8) lround ((r + m) * 255.0);
  rgb[1] = (guint8) lround ((g + m) * 255.0);
  rgb[2] = (guint8) lround ((b + m) * 255.0);
}

/* BT.709, limited range: what the encoder signals in the stream's VUI. */
static void
rgb_to_yuv709 (const guint8 rgb[3], guint8 yuv[3])
{
  double r = rgb[0] / 255.0, g = rgb[1] / 255.0, b = rgb[2] / 255.0;
  double y = 0.2126 * r + 0.7152 * g + 0.0722 * b;

  yuv[0] = (guint8) lround (16.0 + 219.0 * y);
  yuv[1] = (guint8) lround (128.0 + 224.0 * (b - y) / 1.8556);
  yuv[2] = (guint8) lround (128.0 + 224.0 * (r - y) / 1.5748);
}

static void
fill_rect (FhFrame *f, guint x, guint y, guint w, guint h, const guint8 yuv[3])
{
  x &= ~1u, y &= ~1u, w = (w + 1) & ~1u, h = (h + 1) & ~1u;
  if (x >= f->width || y >= f->height)
    return;
  w = MIN (w, f->width - x);
  h = MIN (h, f->height - y);
  for (guint row = y; row < y + h; row++)
    memset (f->data[0] + (gsize) row * f->stride[0] + x, yuv[0], w);
  for (guint row = y / 2; row < (y + h) / 2; row++) {
    memset (f->data[1] + (gsize) row * f->stride[1] + x / 2, yuv[1], w / 2);
    memset (f->data[2] + (gsize) row * f->stride[2] + x / 2, yuv[2], w / 2);
  }
}

/* Seven-segment digits: bits a b c d e f g. */
static const guint8 segments[10] = { 0x3f, 0x06, 0x5b, 0x4f, 0x66, 0x6d, 0x7d, 0x07, 0x7f, 0x6f };

static void
draw_digit (FhFrame *f, guint x, guint y, guint w, guint h, guint t, int digit)
{
  static const guint8 white[3] = { 235, 128, 128 };
  guint8 s = segments[digit];
  guint half = h / 2;

  if (s & 0x01) fill_rect (f, x, y, w, t, white);                 /* a */
  if (s & 0x02) fill_rect (f, x + w - t, y, t, half, white);      /* b */
  if (s & 0x04) fill_rect (f, x + w - t, y + half, t, half, white); /* c */
  if (s & 0x08) fill_rect (f, x, y + h - t, w, t, white);         /* d */
  if (s & 0x10) fill_rect (f, x, y + half, t, half, white);       /* e */
  if (s & 0x20) fill_rect (f, x, y, t, half, white);              /* f */
  if (s & 0x40) fill_rect (f, x, y + half - t / 2, w, t, white);  /* g */
}

static void
draw_counter (FhFrame *f, guint64 n)
{
  static const guint8 black[3] = { 16, 128, 128 };
  guint dh = MAX (f->height / 12, 10u), dw = dh / 2, t = MAX (dh / 8, 2u), gap = dw / 3 + 2;
  guint pad = 8, digits = 8;
  char text[32];

  /* Keep the counter inside the top-left quarter. */
  while (digits > 1 && pad * 3 + digits * (dw + gap) > f->width / 2)
    digits--;
  if (dh + pad * 3 > f->height / 4)
    return;
  g_snprintf (text, sizeof text, "%0*" G_GUINT64_FORMAT, (int) digits,
              n % (guint64) pow (10, digits));
  fill_rect (f, pad, pad, pad + digits * (dw + gap), dh + pad * 2, black);
  for (guint i = 0; i < digits; i++)
    draw_digit (f, pad * 2 + i * (dw + gap), pad * 2, dw, dh, t, text[i] - '0');
}

/* The lower quarter's luma, new noise (xorshift32), four bytes at a time. */
static void
fill_noise (FhFrame *f, guint32 *state)
{
  guint32 s = *state;

  for (guint row = f->height - f->height / 4; row < f->height; row++) {
    guint8 *p = f->data[0] + (gsize) row * f->stride[0];
    for (guint x = 0; x + 4 <= f->width; x += 4) {
      s ^= s << 13, s ^= s >> 17, s ^= s << 5;
      memcpy (p + x, &s, 4);
    }
  }
  *state = s;
}

static gboolean
synthetic_capture (FhVirtualOutput *output, FhFrame *f, guint64 frame_number, gint64 deadline_us,
                   gint64 *timestamp_us, GError **error)
{
  FhSyntheticOutput *self = (FhSyntheticOutput *) output;
  static const guint8 white[3] = { 235, 128, 128 };
  guint side = MAX (f->height / 8, 2u);
  guint span = f->width > side ? f->width - side : 1;
  guint step = MAX (f->width / (2 * MAX (output->mode.refresh, 1u)), 1u);
  guint64 pos = (frame_number * step) % (2 * (guint64) span);
  guint x = (guint) (pos < span ? pos : 2 * span - pos);

  *timestamp_us = g_get_monotonic_time ();
  fill_rect (f, 0, 0, f->width, f->height, self->yuv);
  fill_rect (f, x, f->height / 2, side, side, white);
  draw_counter (f, frame_number);
  if (self->noise)
    fill_noise (f, &self->noise);
  return TRUE; /* every frame differs: the counter moves */
}

static void
synthetic_inject (FhVirtualOutput *output, const FhInputEvent *event)
{
  FhSyntheticOutput *self = (FhSyntheticOutput *) output;
  g_autofree char *line = fh_input_event_to_string (event);

  if (!self->record)
    return;
  fprintf (self->record, "%s\n", line);
  fflush (self->record);
}

static void
synthetic_destroy (FhVirtualOutput *output)
{
  FhSyntheticOutput *self = (FhSyntheticOutput *) output;

  g_clear_pointer (&self->record, fclose);
  if (self->record_path)
    g_unlink (self->record_path);
  g_free (self->record_path);
  fh_virtual_output_finish (output);
  g_free (self);
}

static const FhVirtualOutputOps synthetic_ops = {
  .capture = synthetic_capture,
  .inject = synthetic_inject,
  .destroy = synthetic_destroy,
};

static FhVirtualOutput *
synthetic_create_output (const FhOutputRequest *request, GError **error)
{
  g_autofree FhSyntheticOutput *self = g_new0 (FhSyntheticOutput, 1);
  FhVirtualOutput *output = &self->base;

  fh_virtual_output_init (output, &synthetic_ops, request);
  output->has_background = TRUE;
  background_for_serial (request->serial, output->background);
  rgb_to_yuv709 (output->background, self->yuv);
  if (g_strcmp0 (g_getenv ("FUNKHAUS_SYNTHETIC_NOISE"), "1") == 0)
    self->noise = 0x9e3779b9u ^ request->serial;

  if (request->session_dir) {
    self->record_path = g_build_filename (request->session_dir, "input.log", NULL);
    self->record = fopen (self->record_path, "we");
    if (!self->record) {
      int saved = errno;
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved),
                   "cannot create %s: %s", self->record_path, g_strerror (saved));
      synthetic_destroy (g_steal_pointer (&output));
      self = NULL;
      return NULL;
    }
  }
  return &((FhSyntheticOutput *) g_steal_pointer (&self))->base;
}

const FhDisplayBackend fh_display_backend_synthetic = {
  .name = "synthetic",
  .description = "a generated test picture, no compositor; records input (tests, benchmarks)",
  .create_output = synthetic_create_output,
};
