/* core/encoder-threads.h: a fair share of the cores, never below what the
 * mode needs, and the config's count when it names one. */
#include "core/encoder-threads.h"

static void
test_share (void)
{
  /* 1280x720@60 on 2 cores: all of them alone, one each from the second. */
  g_assert_cmpuint (fh_encoder_threads (0, 2, 0, 1280, 720, 60), ==, 2);
  g_assert_cmpuint (fh_encoder_threads (0, 2, 1, 1280, 720, 60), ==, 1);
  g_assert_cmpuint (fh_encoder_threads (0, 2, 8, 1280, 720, 60), ==, 1);
  /* 8 cores: 8, 4, 2, then 1. */
  g_assert_cmpuint (fh_encoder_threads (0, 8, 0, 1920, 1080, 60), ==, 8);
  g_assert_cmpuint (fh_encoder_threads (0, 8, 1, 1920, 1080, 60), ==, 4);
  g_assert_cmpuint (fh_encoder_threads (0, 8, 3, 1920, 1080, 60), ==, 2);
  g_assert_cmpuint (fh_encoder_threads (0, 8, 9, 1920, 1080, 60), ==, 1);
  /* No core count (a failed query): one thread. */
  g_assert_cmpuint (fh_encoder_threads (0, 0, 0, 1280, 720, 60), ==, 1);
}

static void
test_fast_modes (void)
{
  /* 1920x1080@144 is 2.4 × 1920x1080@60: two threads however many run. */
  g_assert_cmpuint (fh_encoder_threads (0, 8, 20, 1920, 1080, 144), ==, 2);
  /* 1920x1080@60 fits one thread; 3840x2160@60 (4×) needs three. */
  g_assert_cmpuint (fh_encoder_threads (0, 8, 20, 1920, 1080, 60), ==, 1);
  g_assert_cmpuint (fh_encoder_threads (0, 8, 20, 3840, 2160, 60), ==, 3);
  /* … but never more than the cores. */
  g_assert_cmpuint (fh_encoder_threads (0, 2, 20, 3840, 2160, 60), ==, 2);
}

static void
test_configured (void)
{
  g_assert_cmpuint (fh_encoder_threads (2, 2, 8, 1280, 720, 60), ==, 2);
  g_assert_cmpuint (fh_encoder_threads (3, 2, 0, 1280, 720, 60), ==, 3);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/encoder-threads/share", test_share);
  g_test_add_func ("/encoder-threads/fast-modes", test_fast_modes);
  g_test_add_func ("/encoder-threads/configured", test_configured);
  return g_test_run ();
}
