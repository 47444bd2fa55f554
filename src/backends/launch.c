/* Launching and stopping a session's processes. */
#include "backends/launch.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include "base/process.h"

#define STOP_TIMEOUT_US (2 * G_USEC_PER_SEC)

GSubprocessLauncher *
fh_launch_session_launcher (FhAccount *account, const char *log_path, const char *runtime_dir,
                            const char *session_id, const int *join_fds, guint n_join,
                            GError **error)
{
  g_autoptr (GSubprocessLauncher) launcher =
    fh_account_new_launcher_joining (account, G_SUBPROCESS_FLAGS_NONE, join_fds, n_join);
  int fd = open (log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);

  if (fd < 0) {
    int saved = errno;
    g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved), "cannot open %s: %s",
                 log_path, g_strerror (saved));
    return NULL;
  }
  g_subprocess_launcher_take_stdout_fd (launcher, dup (fd));
  g_subprocess_launcher_take_stderr_fd (launcher, fd);
  g_subprocess_launcher_setenv (launcher, "XDG_RUNTIME_DIR", runtime_dir, TRUE);
  g_subprocess_launcher_setenv (launcher, "FUNKHAUS_SESSION", session_id, TRUE);
  {
    /* Whose session it is: a host started after this one crashed finds
     * and ends it (backends/leftovers.c). */
    g_autofree char *host = fh_process_host_marker ();
    g_subprocess_launcher_setenv (launcher, "FUNKHAUS_HOST", host, TRUE);
  }
  return g_steal_pointer (&launcher);
}

char *
fh_launch_exit_reason (GSubprocess *process, const char *what, const char *exit_hint)
{
  if (g_subprocess_get_if_signaled (process))
    return g_strdup_printf ("the session's %s was killed by signal %d", what,
                            g_subprocess_get_term_sig (process));
  return g_strdup_printf ("the session's %s exited with status %d%s", what,
                          g_subprocess_get_exit_status (process), exit_hint ? exit_hint : "");
}

char *
fh_launch_log_tail (const char *path)
{
  g_autofree char *contents = NULL;
  gsize len = 0;

  if (!g_file_get_contents (path, &contents, &len, NULL) || len == 0)
    return g_strdup ("(empty)");
  return g_strdup (contents + (len > 800 ? len - 800 : 0));
}

void
fh_launch_stop_session (const char *session_id, FhAccount *account)
{
  gint64 deadline;

  fh_process_signal_session (session_id, account->uid, SIGTERM);
  deadline = g_get_monotonic_time () + STOP_TIMEOUT_US;
  while (fh_process_signal_session (session_id, account->uid, 0) > 0 &&
         g_get_monotonic_time () < deadline)
    g_usleep (10000);
  if (fh_process_signal_session (session_id, account->uid, SIGKILL) > 0)
    g_warning ("session %.8s: processes ignored SIGTERM and were killed", session_id);
}
