/* What a crashed host (kill -9, no systemd to clean up after it) leaves
 * behind, found and removed by the next host at its start: the private
 * PipeWire stack (<runtime base>/funkhaus-audio-<pid> and its daemons), the
 * sessions' runtime dirs (funkhaus-session-<id> under every account's
 * runtime base), their processes, their cgroups, and the host's own
 * sessions dir. What a live host owns (two may run side by side) is never
 * touched: ownership comes from fh_process_host_marker, in FUNKHAUS_HOST=
 * of the processes and a funkhaus-host file in the dirs. */
#pragma once

#include <glib.h>

typedef struct {
  guint processes;
  guint session_dirs;
  guint audio_dirs;
  guint cgroups;
  guint host_session_dirs;
} FhLeftovers;

/* Ends and removes what dead hosts left. @host_sessions_dir: this host's
 * own sessions dir (everything in it is left over: call it only once no
 * other live host uses it), or NULL. Blocks for up to a second while
 * killed processes go. */
void fh_leftovers_sweep (const char *host_sessions_dir, FhLeftovers *found);
/* "3 processes, 1 session runtime dir, …", or NULL when nothing was found. */
char *fh_leftovers_describe (const FhLeftovers *found);
