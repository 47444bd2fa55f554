/* base/process.c: reaping a child that is told to stop, bounded; a
 * snapshot of /proc finds a session's processes by descent and by their
 * FUNKHAUS_SESSION. */
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

static pid_t
pid_of (GSubprocess *p)
{
  return (pid_t) g_ascii_strtoll (g_subprocess_get_identifier (p), NULL, 10);
}

static void
stop (GSubprocess *p)
{
  kill (-pid_of (p), SIGTERM);
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

/* A shell with a child of its own counts for its pid as a root; a process
 * that only carries the session's marker counts for the session; neither
 * counts for another session or for no root. */
static void
test_table (void)
{
  g_autoptr (GSubprocess) tree = spawn ("sleep 30 & wait");
  g_autoptr (GSubprocessLauncher) launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_NONE);
  g_autofree char *marker = g_strdup_printf ("test-table-%d", (int) getpid ());
  g_autoptr (GSubprocess) marked = NULL;
  g_autoptr (FhProcessTable) table = NULL;
  g_autoptr (GError) error = NULL;
  pid_t roots[2] = { pid_of (tree), 0 };
  double cpu = -1;
  guint64 rss = 0, shell_rss = 0;

  g_subprocess_launcher_setenv (launcher, "FUNKHAUS_SESSION", marker, TRUE);
  marked = g_subprocess_launcher_spawn (launcher, &error, "sleep", "30", NULL);
  g_assert_no_error (error);
  g_usleep (100 * 1000);
  table = fh_process_table_new ();

  fh_process_table_usage (table, roots, 1, NULL, &cpu, &shell_rss);
  {
    /* The shell alone, for comparison: its child adds to it. */
    g_autofree char *path = g_strdup_printf ("/proc/%d/stat", (int) roots[0]);
    double own_cpu;
    guint64 own_rss;

    g_assert_true (fh_process_read_usage (path, &own_cpu, &own_rss));
    g_test_message ("the shell alone: %" G_GUINT64_FORMAT " bytes; with its child: %" G_GUINT64_FORMAT,
                    own_rss, shell_rss);
    g_assert_cmpuint (shell_rss, >, own_rss);
  }
  fh_process_table_usage (table, NULL, 0, marker, &cpu, &rss);
  g_assert_cmpuint (rss, >, 0);
  fh_process_table_usage (table, NULL, 0, "no-such-session", &cpu, &rss);
  g_assert_cmpuint (rss, ==, 0);
  fh_process_table_usage (table, roots + 1, 1, NULL, &cpu, &rss);
  g_assert_cmpuint (rss, ==, 0);

  stop (tree);
  g_assert_true (fh_process_reap (tree, 5000));
  g_subprocess_force_exit (marked);
  g_subprocess_wait (marked, NULL, NULL);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/process/reap-stops", test_reap_stops);
  g_test_add_func ("/process/reap-kills", test_reap_kills);
  g_test_add_func ("/process/table", test_table);
  return g_test_run ();
}
