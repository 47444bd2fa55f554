/* The colour conversion (media/convert.c): packed RGB into I420, BT.709
 * limited range, from each of the four 32-bit layouts every pixel's Y and
 * every 2x2 block's U and V, bottom-up pictures the right way up, an odd
 * size (libswscale's path), and a picture of the wrong size refused. */
#include <math.h>
#include <string.h>

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

/* Y, U and V in double precision from the mean of @n pixels' RGB. */
static void
expected_exact (const double rgb[3], double yuv[3])
{
  double r = rgb[0] / 255.0, g = rgb[1] / 255.0, b = rgb[2] / 255.0;
  double y = 0.2126 * r + 0.7152 * g + 0.0722 * b;

  yuv[0] = 16.0 + 219.0 * y;
  yuv[1] = 128.0 + 224.0 * (b - y) / 1.8556;
  yuv[2] = 128.0 + 224.0 * (r - y) / 1.5748;
}

static void
test_every_pixel (void)
{
  /* Byte order in memory of each layout: where red, green and blue go. */
  static const struct {
    int format;
    int r, g, b;
  } layouts[] = {
    { AV_PIX_FMT_BGR0, 2, 1, 0 },
    { AV_PIX_FMT_BGRA, 2, 1, 0 },
    { AV_PIX_FMT_RGB0, 0, 1, 2 },
    { AV_PIX_FMT_RGBA, 0, 1, 2 },
  };
  enum { w = 70, h = 24 };
  g_autoptr (FhConverter) converter = fh_converter_new ();
  guint8 rgb[h][w][3], packed[h][w][4], planes[w * h * 3 / 2];
  FhFrame f = { { planes, planes + w * h, planes + w * h + w * h / 4 }, { w, w / 2, w / 2 }, w, h };

  for (guint y = 0; y < h; y++) {
    for (guint x = 0; x < w; x++) {
      for (int c = 0; c < 3; c++)
        rgb[y][x][c] = (guint8) g_test_rand_int_range (0, 256);
    }
  }
  /* The extremes too: black, white, and each primary at full. */
  memset (rgb[0][0], 0, 6), memset (rgb[1][0], 0, 6);
  memset (rgb[0][2], 255, 6), memset (rgb[1][2], 255, 6);
  rgb[2][0][0] = 255, rgb[2][0][1] = 0, rgb[2][0][2] = 0;
  rgb[2][1][0] = 0, rgb[2][1][1] = 255, rgb[2][1][2] = 0;
  rgb[3][0][0] = 0, rgb[3][0][1] = 0, rgb[3][0][2] = 255;

  for (gsize l = 0; l < G_N_ELEMENTS (layouts); l++) {
    g_autoptr (GError) error = NULL;

    for (guint y = 0; y < h; y++) {
      for (guint x = 0; x < w; x++) {
        packed[y][x][layouts[l].r] = rgb[y][x][0];
        packed[y][x][layouts[l].g] = rgb[y][x][1];
        packed[y][x][layouts[l].b] = rgb[y][x][2];
        packed[y][x][3] = (guint8) (x * 13); /* alpha or padding: ignored */
      }
    }
    memset (planes, 0, sizeof planes);
    g_assert_true (fh_converter_run (converter, layouts[l].format, packed[0][0], w * 4, w, h, &f,
                                     &error));
    g_assert_no_error (error);
    for (guint y = 0; y < h; y++) {
      for (guint x = 0; x < w; x++) {
        double one[3] = { rgb[y][x][0], rgb[y][x][1], rgb[y][x][2] }, yuv[3];

        expected_exact (one, yuv);
        g_assert_cmpfloat (fabs (planes[y * w + x] - yuv[0]), <=, 1.0);
      }
    }
    for (guint y = 0; y < h; y += 2) {
      for (guint x = 0; x < w; x += 2) {
        double mean[3], yuv[3];

        for (int c = 0; c < 3; c++)
          mean[c] = (rgb[y][x][c] + rgb[y][x + 1][c] + rgb[y + 1][x][c] + rgb[y + 1][x + 1][c]) /
                    4.0;
        expected_exact (mean, yuv);
        g_assert_cmpfloat (fabs (f.data[1][y / 2 * f.stride[1] + x / 2] - yuv[1]), <=, 1.0);
        g_assert_cmpfloat (fabs (f.data[2][y / 2 * f.stride[2] + x / 2] - yuv[2]), <=, 1.0);
      }
    }
  }
}

/* An odd size takes libswscale's path, with the same colours. */
static void
test_odd_size (void)
{
  static const guint8 green[3] = { 65, 217, 160 };
  enum { w = 63, h = 35, cw = (w + 1) / 2, ch = (h + 1) / 2 };
  g_autoptr (FhConverter) converter = fh_converter_new ();
  g_autoptr (GError) error = NULL;
  guint8 packed[h][w][4], planes[w * h + 2 * cw * ch];
  FhFrame f = { { planes, planes + w * h, planes + w * h + cw * ch }, { w, cw, cw }, w, h };

  for (guint y = 0; y < h; y++) {
    for (guint x = 0; x < w; x++)
      packed[y][x][0] = green[2], packed[y][x][1] = green[1], packed[y][x][2] = green[0];
  }
  g_assert_true (fh_converter_run (converter, AV_PIX_FMT_BGR0, packed[0][0], w * 4, w, h, &f,
                                   &error));
  g_assert_no_error (error);
  /* (libswscale's last chroma column and row of an odd size stray a
   * little; no session has one.) */
  assert_colour (&f, 0, 0, green);
  assert_colour (&f, w / 2, h / 2, green);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/convert/colours", test_colours);
  g_test_add_func ("/convert/every-pixel", test_every_pixel);
  g_test_add_func ("/convert/odd-size", test_odd_size);
  return g_test_run ();
}
