/* When the wlroots capture asks for its copies ahead
 * (fh_screencopy_decide_ahead): at a tick while the compositor's wait and
 * the conversion leave most of the period free, ahead once they take more
 * than 70 % of it, back only under 40 % (a copy asked for ahead waits
 * less, which must not bring it back at once), never without a period. */
#include "media/screencopy.h"

/* 144 Hz. */
#define PERIOD 6944

static void
test_ahead (void)
{
  /* At the tick, and staying there: 69 %, and just under 70 %. */
  g_assert_false (fh_screencopy_decide_ahead (FALSE, 4000, 791, PERIOD));
  g_assert_false (fh_screencopy_decide_ahead (FALSE, 4000, 860, PERIOD));
  /* Ahead at 71 % (1920x1080 at 144 Hz on the 2-core test machine
   * measured a wait of 3.5-4.1 ms and a conversion of 0.9). */
  g_assert_true (fh_screencopy_decide_ahead (FALSE, 4000, 931, PERIOD));
  /* Once ahead, the wait is shorter (2.3-3.0 ms there): it stays ahead
   * down to 40 % of the period. */
  g_assert_true (fh_screencopy_decide_ahead (TRUE, 2319, 1387, PERIOD));
  g_assert_true (fh_screencopy_decide_ahead (TRUE, 2000, 778, PERIOD));
  /* Under 40 %: back to the tick. */
  g_assert_false (fh_screencopy_decide_ahead (TRUE, 2000, 700, PERIOD));
  g_assert_false (fh_screencopy_decide_ahead (TRUE, 0, 0, PERIOD));
  /* Without a period (a rate of 0): never ahead, whatever it measured. */
  g_assert_false (fh_screencopy_decide_ahead (FALSE, 100000, 100000, 0));
  g_assert_false (fh_screencopy_decide_ahead (TRUE, 100000, 100000, 0));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/screencopy/ahead", test_ahead);
  return g_test_run ();
}
