/* Which session a process belongs to, from /proc: by ancestry (it descends
 * from one of the session's root processes, which the host started), or,
 * for a process that left its parent (double-forked daemons), by the
 * FUNKHAUS_SESSION marker in its environment or an ancestor's. */
#pragma once

#include <gio/gio.h>
#include <sys/types.h>

/* The parent of @pid, or -1 when it is gone. */
pid_t fh_process_get_parent (pid_t pid);

/* The value of @key in the environment of @pid (NULL when absent or
 * unreadable). */
char *fh_process_get_env (pid_t pid, const char *key);

/* TRUE when @pid is one of @roots or descends from one. */
gboolean fh_process_descends_from (pid_t pid, const pid_t *roots, guint n_roots);

/* The value of @key in the environment of @pid or of its nearest ancestor
 * that has it (FUNKHAUS_SESSION, SWAYSOCK). */
char *fh_process_find_env (pid_t pid, const char *key);
#define fh_process_find_session_marker(pid) fh_process_find_env ((pid), "FUNKHAUS_SESSION")

/* Sends @sig to every live process of @uid whose environment carries
 * FUNKHAUS_SESSION=@session_id (the session's double-forked children too,
 * which no process group catches); 0 only counts them. Returns how many. */
guint fh_process_signal_session (const char *session_id, uid_t uid, int sig);

/* Removes @path and everything below it (symlinks are not followed).
 * TRUE when it is gone. */
gboolean fh_remove_tree (const char *path);

/* Reaps @process, already told to stop (SIGTERM to its process group):
 * waits up to @timeout_ms for it to exit, then kills its process group
 * and waits for that. FALSE when it had to be killed. A stop that waits
 * on a child that never exits would hold its session's teardown (and the
 * host's stop) for ever. */
gboolean fh_process_reap (GSubprocess *process, guint timeout_ms);

/* CPU time (user + system, seconds) and resident memory (bytes) from a
 * /proc stat file: /proc/PID/stat for a process, /proc/self/task/TID/stat
 * for one thread (its memory is the process's). FALSE when it is gone. */
gboolean fh_process_read_usage (const char *stat_path, double *cpu_seconds, guint64 *rss_bytes);
/* A snapshot of /proc (each process's parent, CPU time, memory and
 * FUNKHAUS_SESSION), taken in one walk, so that the usage of many sessions
 * costs one walk, not one each. */
typedef struct _FhProcessTable FhProcessTable;
FhProcessTable *fh_process_table_new (void);
void fh_process_table_free (FhProcessTable *table);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (FhProcessTable, fh_process_table_free)
/* The CPU time and memory of every process in @table that descends from
 * one of @roots or carries FUNKHAUS_SESSION=@session_id (either may be
 * empty). Children that already exited are not counted. */
void fh_process_table_usage (FhProcessTable *table, const pid_t *roots, guint n_roots,
                             const char *session_id, double *cpu_seconds, guint64 *rss_bytes);

/* "PID:STARTTIME" of this process (its start in clock ticks since boot,
 * /proc/PID/stat field 22): what marks the things a host leaves in the
 * world (FUNKHAUS_HOST= in its sessions' environment, a funkhaus-host file
 * in their runtime dirs), so that a later host can tell a crashed owner
 * from a live one even when its pid was reused. */
char *fh_process_host_marker (void);
/* TRUE while the process that @marker names runs; FALSE when it is gone
 * or the pid now belongs to another process. A malformed marker counts as
 * alive (nothing of it is touched). */
gboolean fh_process_host_marker_alive (const char *marker);
