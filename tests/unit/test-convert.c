/* The colour conversion (media/convert.c): packed RGB into I420, BT.709
 * limited range, the same on its slice threads as in one pass, bottom-up
 * pictures the right way up, and a picture of the wrong size refused. */
#include <math.h>

#include <libavutil/pixfmt.h>

#include "media/convert.h"

#define W 1920
#define H 1080

/* BT.709 limited range, as the encoder signals it. */
static void
expected_yuv (const guint8 rgb[3], guint8 yuv[3])
{
  double r = rgb[0] / 255.0, g = rgb[1] / 255.0, b = rgb[2] / 255.0;
  double y = 0.2126 * r + 0.7152 * g + 0.0722 * b;

  yuv[0] = (guint8) lround (16.0 + 219.0 * y);
  yuv[1] = (guint8) lround (128.0 + 224.0 * (b - y) / 1.8556);
  yuv[2] = (guint8) lround (128.0 + 224.0 * (r - y) / 1.5748);
}

/* Top half @top, bottom half @bottom, as BGRx. */
static guint8 *
make_picture (const guint8 top[3], const guint8 bottom[3])
{
  guint8 *p = g_malloc ((gsize) W * H * 4);

  for (guint y = 0; y < H; y++) {
    const guint8 *c = y < H / 2 ? top : bottom;
    for (guint x = 0; x < W; x++) {
      guint8 *px = p + ((gsize) y * W + x) * 4;
      px[0] = c[2], px[1] = c[1], px[2] = c[0], px[3] = 0xff;
    }
  }
  return p;
}

static void
assert_colour (const FhFrame *f, guint x, guint y, const guint8 rgb[3])
{
  guint8 want[3];

  expected_yuv (rgb, want);
  g_assert_cmpint (ABS (f->data[0][y * f->stride[0] + x] - want[0]), <=, 2);
  g_assert_cmpint (ABS (f->data[1][y / 2 * f->stride[1] + x / 2] - want[1]), <=, 2);
  g_assert_cmpint (ABS (f->data[2][y / 2 * f->stride[2] + x / 2] - want[2]), <=, 2);
}

static void
test_colours (void)
{
  static const guint8 green[3] = { 65, 217, 160 }, red[3] = { 200, 30, 40 };
  g_autoptr (FhConverter) converter = fh_converter_new ();
  g_autoptr (GError) error = NULL;
  g_autofree guint8 *rgb = make_picture (green, red);
  g_autofree guint8 *planes = g_malloc0 ((gsize) W * H * 3 / 2);
  FhFrame f = { { planes, planes + W * H, planes + W * H + W * H / 4 },
                { W, W / 2, W / 2 }, W, H };

  /* Top-down, twice (the second reuses the context and its threads). */
  for (int i = 0; i < 2; i++) {
    g_assert_true (fh_converter_run (converter, AV_PIX_FMT_BGR0, rgb, W * 4, W, H, &f, &error));
    g_assert_no_error (error);
    for (guint y = 0; y < H; y += 37) {
      assert_colour (&f, 5, y, y < H / 2 ? green : red);
      assert_colour (&f, W - 7, y, y < H / 2 ? green : red);
    }
  }
  /* Bottom-up: the last row first. */
  g_assert_true (fh_converter_run (converter, AV_PIX_FMT_BGR0, rgb + (gsize) W * 4 * (H - 1),
                                   -W * 4, W, H, &f, &error));
  assert_colour (&f, 100, 10, red);
  assert_colour (&f, 100, H - 10, green);
  /* Not the session's size. */
  g_assert_false (fh_converter_run (converter, AV_PIX_FMT_BGR0, rgb, W * 4, W, H / 2, &f, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_FAILED);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/convert/colours", test_colours);
  return g_test_run ();
}
