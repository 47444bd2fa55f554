/* A cgroup per independent session: its CPU weight against the other
 * sessions (and below the host's capture and encode threads) and a memory
 * limit of its own, so that one session's runaway app cannot starve the
 * others. Two ways, whichever the box offers:
 *
 * - cgroup v2 delegated to the host (a systemd service with Delegate=yes,
 *   say): the host moves itself into <its cgroup>/host, enables the cpu
 *   and memory controllers below its cgroup and makes
 *   <its cgroup>/session-<id> per session (cpu.weight, memory.max);
 * - cgroup v1 with writable cpu and memory hierarchies (root on a box that
 *   mounts them, as these machines do): <its cgroup>/funkhaus-session-<id>
 *   in each (cpu.shares, memory.limit_in_bytes).
 *
 * Elsewhere there is none, and the sessions keep only their niceness. */
#pragma once

#include <glib.h>

typedef struct _FhCgroup FhCgroup;

typedef struct {
  gboolean enabled;
  /* A session's CPU weight, cgroup v2's scale (1–10000; 100 = the
   * default; the host's own cgroup gets 10 times a session's under v2). */
  guint cpu_weight;
  /* A session's memory limit in MiB; 0: three quarters of the machine's. */
  guint64 memory_max_mib;
} FhCgroupConfig;

/* What is in force, for the start banner: "cgroup v1 per session (CPU
 * weight 100, memory at most 17 GiB)", or why there is none. */
char *fh_cgroup_describe (const FhCgroupConfig *config);

/* Makes the cgroup of session @session_id. NULL without an error when the
 * box offers none (or @config disables them); NULL with @error when it
 * offers them and making this one failed. Blocking (a few file writes). */
FhCgroup *fh_cgroup_new (const FhCgroupConfig *config, const char *session_id, GError **error);
/* Kills whatever still runs in it, waits (at most 1 s) until it is empty
 * and removes it. */
void fh_cgroup_free (FhCgroup *cgroup);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (FhCgroup, fh_cgroup_free)

/* Open cgroup.procs files of @cgroup (at most 2), for a child to write "0"
 * into before it drops privileges (fh_account_new_launcher_joining):
 * everything it starts then lives in the session's cgroup. */
guint fh_cgroup_get_join_fds (FhCgroup *cgroup, int fds[2]);
/* The number of processes in it (tests, the metrics). */
guint fh_cgroup_count_processes (FhCgroup *cgroup);
