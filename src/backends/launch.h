/* What backends that start a desktop per session share: launching its
 * processes as the session account with their output in a log, reading that
 * log's end for an error message, and stopping every process of the
 * session. */
#pragma once

#include <gio/gio.h>

#include "base/account.h"

/* A launcher whose children run as @account (own session and process
 * group), log stdout and stderr into @log_path (appended, 0600), have no
 * stdin, and carry XDG_RUNTIME_DIR=@runtime_dir and
 * FUNKHAUS_SESSION=@session_id; they start in the cgroups whose
 * cgroup.procs files @join_fds are (fh_account_new_launcher_joining). */
GSubprocessLauncher *fh_launch_session_launcher (FhAccount *account, const char *log_path,
                                                 const char *runtime_dir,
                                                 const char *session_id, const int *join_fds,
                                                 guint n_join, GError **error);

/* Why @process (which has ended) ended, for the user: "the session's @what
 * was killed by signal N" or "… exited with status N@exit_hint". */
char *fh_launch_exit_reason (GSubprocess *process, const char *what, const char *exit_hint);

/* The last 800 bytes of @path, or "(empty)". */
char *fh_launch_log_tail (const char *path);

/* Every process of the session (carrying FUNKHAUS_SESSION=@session_id)
 * gets SIGTERM, and SIGKILL if it is still there after 2 s. */
void fh_launch_stop_session (const char *session_id, FhAccount *account);
