/* base/process.c: reaping a child that is told to stop, bounded. */
#include <signal.h>
#include <unistd.h>

#include "base/process.h"

static GSubprocess *
spawn (const char *script)
{
  g_autoptr (GError) error = NULL;
  GSubprocess *p = g_subprocess_new (G_SUBPROCESS_FLAGS_NONE, &error, "setsid", "sh", "-c",
                                     script, NULL);

  g_assert_no_error (error);
  /* Its shell is up (and has set its trap) before it is told to stop. */
  g_usleep (200 * 1000);
  return p;
}

static void
stop (GSubprocess *p)
{
  pid_t pid = (pid_t) g_ascii_strtoll (g_subprocess_get_identifier (p), NULL, 10);

  kill (-pid, SIGTERM);
}

/* A child that stops when told: reaped, not killed. */
static void
test_reap_stops (void)
{
  g_autoptr (GSubprocess) p = spawn ("exec sleep 30");
  gint64 started = g_get_monotonic_time ();

  stop (p);
  g_assert_true (fh_process_reap (p, 5000));
  g_assert_null (g_subprocess_get_identifier (p));
  g_assert_cmpint (g_get_monotonic_time () - started, <, 2 * G_USEC_PER_SEC);
}

/* A child that ignores SIGTERM: killed once the time is up, and reaped. */
static void
test_reap_kills (void)
{
  g_autoptr (GSubprocess) p = spawn ("trap '' TERM; while :; do sleep 0.05; done");
  gint64 started = g_get_monotonic_time ();

  stop (p);
  g_assert_false (fh_process_reap (p, 300));
  g_assert_null (g_subprocess_get_identifier (p));
  g_assert_true (g_subprocess_get_if_signaled (p));
  g_assert_cmpint (g_subprocess_get_term_sig (p), ==, SIGKILL);
  g_assert_cmpint (g_get_monotonic_time () - started, >=, 300 * 1000);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/process/reap-stops", test_reap_stops);
  g_test_add_func ("/process/reap-kills", test_reap_kills);
  return g_test_run ();
}
