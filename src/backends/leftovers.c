/* Finding and removing what crashed hosts left (see leftovers.h). */
#include "backends/leftovers.h"

#include <errno.h>
#include <glib/gstdio.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "backends/sandbox.h"
#include "base/process.h"

#define CGROUP_ROOT "/sys/fs/cgroup"
#define CGROUP_MAX_DEPTH 8
#define GONE_TIMEOUT_US G_USEC_PER_SEC

typedef struct {
  GPtrArray *bases;        /* runtime bases to look in */
  GHashTable *session_ids; /* stale session ids (set) */
  GPtrArray *session_dirs; /* their runtime dirs */
  GPtrArray *audio_dirs;   /* stale funkhaus-audio-<pid> dirs */
} Sweep;

/* The marker in @dir, if a host of our account wrote it: a session's app
 * (another account when the host is root) cannot forge one that names a
 * session not its own. */
static char *
read_marker (const char *dir)
{
  g_autofree char *path = g_build_filename (dir, FH_SANDBOX_HOST_MARKER, NULL);
  char *text = NULL;
  GStatBuf st;

  if (g_lstat (path, &st) < 0 || !S_ISREG (st.st_mode) || st.st_uid != getuid () ||
      !g_file_get_contents (path, &text, NULL, NULL))
    return NULL;
  return g_strstrip (text);
}

/* TRUE when the host of a funkhaus-audio-<pid> dir is gone: its marker
 * says so, or (a dir of a host before markers) no funkhaus runs as @pid. */
static gboolean
audio_dir_stale (const char *dir, const char *pid_text)
{
  g_autofree char *marker = read_marker (dir);
  g_autofree char *comm_path = NULL, *comm = NULL;
  char *end;
  long pid = strtol (pid_text, &end, 10);

  if (*end || pid <= 0 || pid == getpid ())
    return FALSE;
  if (marker)
    return !fh_process_host_marker_alive (marker);
  comm_path = g_strdup_printf ("/proc/%ld/comm", pid);
  if (!g_file_get_contents (comm_path, &comm, NULL, NULL))
    return TRUE;
  return !g_str_has_prefix (comm, "funkhaus");
}

static void
add_base (Sweep *sweep, const char *base)
{
  for (guint i = 0; i < sweep->bases->len; i++) {
    if (g_str_equal (sweep->bases->pdata[i], base))
      return;
  }
  if (g_file_test (base, G_FILE_TEST_IS_DIR))
    g_ptr_array_add (sweep->bases, g_strdup (base));
}

/* Every account's runtime base (account.c: fh_account_runtime_base), and
 * our own $XDG_RUNTIME_DIR. */
static void
find_bases (Sweep *sweep)
{
  const char *own = g_getenv ("XDG_RUNTIME_DIR");
  const char *parents[] = { "/run/user", g_get_tmp_dir () };

  if (own && *own)
    add_base (sweep, own);
  for (gsize p = 0; p < G_N_ELEMENTS (parents); p++) {
    g_autoptr (GDir) dir = g_dir_open (parents[p], 0, NULL);
    const char *name;

    while (dir && (name = g_dir_read_name (dir))) {
      g_autofree char *path = NULL;
      /* /tmp/funkhaus-<uid> only. */
      if (p == 1 && (!g_str_has_prefix (name, "funkhaus-") || !name[strlen ("funkhaus-")] ||
                     strspn (name + strlen ("funkhaus-"), "0123456789") !=
                       strlen (name + strlen ("funkhaus-"))))
        continue;
      path = g_build_filename (parents[p], name, NULL);
      add_base (sweep, path);
    }
  }
}

static void
find_dirs (Sweep *sweep)
{
  for (guint b = 0; b < sweep->bases->len; b++) {
    g_autoptr (GDir) dir = g_dir_open (sweep->bases->pdata[b], 0, NULL);
    const char *name;

    while (dir && (name = g_dir_read_name (dir))) {
      g_autofree char *path = g_build_filename (sweep->bases->pdata[b], name, NULL);

      if (g_str_has_prefix (name, "funkhaus-session-")) {
        /* No marker: a host before markers, or one making it right now. */
        g_autofree char *marker = read_marker (path);
        if (!marker || fh_process_host_marker_alive (marker))
          continue;
        g_hash_table_add (sweep->session_ids, g_strdup (name + strlen ("funkhaus-session-")));
        g_ptr_array_add (sweep->session_dirs, g_steal_pointer (&path));
      } else if (g_str_has_prefix (name, "funkhaus-audio-") &&
                 audio_dir_stale (path, name + strlen ("funkhaus-audio-"))) {
        g_ptr_array_add (sweep->audio_dirs, g_steal_pointer (&path));
      }
    }
  }
}

/* Whether @pid is a leftover: its FUNKHAUS_HOST is dead, it belongs to a
 * stale session, or it runs in a stale private PipeWire dir. */
static gboolean
process_is_leftover (Sweep *sweep, pid_t pid)
{
  g_autofree char *host = fh_process_get_env (pid, "FUNKHAUS_HOST");
  g_autofree char *session = NULL, *runtime = NULL;

  if (host)
    return !fh_process_host_marker_alive (host);
  session = fh_process_get_env (pid, "FUNKHAUS_SESSION");
  if (session && g_hash_table_contains (sweep->session_ids, session))
    return TRUE;
  runtime = fh_process_get_env (pid, "XDG_RUNTIME_DIR");
  for (guint i = 0; runtime && i < sweep->audio_dirs->len; i++) {
    if (g_str_equal (runtime, sweep->audio_dirs->pdata[i]))
      return TRUE;
  }
  return FALSE;
}

static gboolean
alive (pid_t pid)
{
  g_autofree char *path = g_strdup_printf ("/proc/%d/stat", (int) pid);
  g_autofree char *text = NULL;
  const char *p;

  if (!g_file_get_contents (path, &text, NULL, NULL) || !(p = strrchr (text, ')')))
    return FALSE;
  return p[2] != 'Z' && p[2] != 'X';
}

/* SIGKILLs every leftover process and whatever descends from one; waits
 * for them to go. Returns how many. */
static guint
kill_processes (Sweep *sweep)
{
  g_autoptr (GArray) killed = g_array_new (FALSE, FALSE, sizeof (pid_t));
  g_autoptr (GArray) pids = g_array_new (FALSE, FALSE, sizeof (pid_t));
  g_autoptr (GDir) dir = g_dir_open ("/proc", 0, NULL);
  const char *name;
  gint64 deadline;

  while (dir && (name = g_dir_read_name (dir))) {
    pid_t pid = (pid_t) atoi (name);
    if (pid > 1 && pid != getpid ())
      g_array_append_val (pids, pid);
  }
  for (guint i = 0; i < pids->len; i++) {
    pid_t pid = g_array_index (pids, pid_t, i);
    if (alive (pid) && process_is_leftover (sweep, pid))
      g_array_append_val (killed, pid);
  }
  /* Their children, whatever their environment says. */
  for (guint i = 0; i < pids->len && killed->len > 0; i++) {
    pid_t pid = g_array_index (pids, pid_t, i);
    gboolean known = FALSE;
    for (guint k = 0; k < killed->len && !known; k++)
      known = g_array_index (killed, pid_t, k) == pid;
    if (!known && alive (pid) &&
        fh_process_descends_from (pid, (const pid_t *) killed->data, killed->len))
      g_array_append_val (killed, pid);
  }
  for (guint k = 0; k < killed->len; k++)
    kill (g_array_index (killed, pid_t, k), SIGKILL);
  deadline = g_get_monotonic_time () + GONE_TIMEOUT_US;
  for (guint k = 0; k < killed->len; k++) {
    while (alive (g_array_index (killed, pid_t, k)) && g_get_monotonic_time () < deadline)
      g_usleep (10000);
  }
  return killed->len;
}

static gboolean
cgroup_empty (const char *dir)
{
  g_autofree char *path = g_build_filename (dir, "cgroup.procs", NULL);
  g_autofree char *procs = NULL;

  return g_file_get_contents (path, &procs, NULL, NULL) && !*g_strstrip (procs);
}

/* A session's cgroup is left over when its session is (its runtime dir
 * names a dead host). An empty cgroup with no runtime dir in sight is not
 * enough: a live host of another account keeps the runtime dir where we do
 * not look, and its cgroup is empty until its processes start. */
static gboolean
cgroup_is_leftover (Sweep *sweep, const char *id)
{
  return g_hash_table_contains (sweep->session_ids, id);
}

/* Whether a process in the cgroup at @dir names a live host: then it is
 * not ours to end, whatever its name says. */
static gboolean
cgroup_has_live_host (const char *dir)
{
  g_autofree char *path = g_build_filename (dir, "cgroup.procs", NULL);
  g_autofree char *procs = NULL;
  g_auto (GStrv) pids = NULL;

  if (!g_file_get_contents (path, &procs, NULL, NULL))
    return FALSE;
  pids = g_strsplit (procs, "\n", -1);
  for (char **p = pids; *p; p++) {
    g_autofree char *host = **p ? fh_process_get_env (atoi (*p), "FUNKHAUS_HOST") : NULL;
    if (host && fh_process_host_marker_alive (host))
      return TRUE;
  }
  return FALSE;
}

static guint
remove_cgroups (Sweep *sweep, const char *dir, guint depth)
{
  g_autoptr (GDir) d = depth < CGROUP_MAX_DEPTH ? g_dir_open (dir, 0, NULL) : NULL;
  const char *name;
  guint removed = 0;

  while (d && (name = g_dir_read_name (d))) {
    g_autofree char *path = g_build_filename (dir, name, NULL);

    if (!g_file_test (path, G_FILE_TEST_IS_DIR) || g_file_test (path, G_FILE_TEST_IS_SYMLINK))
      continue;
    if (g_str_has_prefix (name, "funkhaus-session-") &&
        cgroup_is_leftover (sweep, name + strlen ("funkhaus-session-"))) {
      /* Anything still in it (it dropped its FUNKHAUS_SESSION) goes too. */
      g_autofree char *kill_file = g_build_filename (path, "cgroup.kill", NULL);
      gint64 deadline = g_get_monotonic_time () + GONE_TIMEOUT_US;
      if (cgroup_has_live_host (path))
        continue;
      if (!cgroup_empty (path))
        g_file_set_contents (kill_file, "1", 1, NULL);
      while (g_rmdir (path) < 0 && errno == EBUSY && g_get_monotonic_time () < deadline)
        g_usleep (10000);
      if (!g_file_test (path, G_FILE_TEST_EXISTS))
        removed++;
      continue;
    }
    removed += remove_cgroups (sweep, path, depth + 1);
  }
  return removed;
}

static guint
remove_all (GPtrArray *dirs)
{
  guint removed = 0;

  for (guint i = 0; i < dirs->len; i++)
    removed += fh_remove_tree (dirs->pdata[i]) ? 1 : 0;
  return removed;
}

static guint
empty_dir (const char *path)
{
  g_autoptr (GDir) dir = path ? g_dir_open (path, 0, NULL) : NULL;
  const char *name;
  guint removed = 0;

  while (dir && (name = g_dir_read_name (dir))) {
    g_autofree char *child = g_build_filename (path, name, NULL);
    removed += fh_remove_tree (child) ? 1 : 0;
  }
  return removed;
}

void
fh_leftovers_sweep (const char *host_sessions_dir, FhLeftovers *found)
{
  Sweep sweep = {
    .bases = g_ptr_array_new_with_free_func (g_free),
    .session_ids = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL),
    .session_dirs = g_ptr_array_new_with_free_func (g_free),
    .audio_dirs = g_ptr_array_new_with_free_func (g_free),
  };

  *found = (FhLeftovers) { 0 };
  find_bases (&sweep);
  find_dirs (&sweep);
  /* Processes first: they hold the dirs and the cgroups. */
  found->processes = kill_processes (&sweep);
  found->cgroups = remove_cgroups (&sweep, CGROUP_ROOT, 0);
  found->session_dirs = remove_all (sweep.session_dirs);
  found->audio_dirs = remove_all (sweep.audio_dirs);
  found->host_session_dirs = empty_dir (host_sessions_dir);
  g_ptr_array_unref (sweep.bases);
  g_hash_table_unref (sweep.session_ids);
  g_ptr_array_unref (sweep.session_dirs);
  g_ptr_array_unref (sweep.audio_dirs);
}

char *
fh_leftovers_describe (const FhLeftovers *found)
{
  g_autoptr (GString) text = g_string_new (NULL);
  const struct {
    guint n;
    const char *one, *many;
  } parts[] = {
    { found->processes, "process", "processes" },
    { found->session_dirs, "session runtime dir", "session runtime dirs" },
    { found->audio_dirs, "private PipeWire dir", "private PipeWire dirs" },
    { found->cgroups, "session cgroup", "session cgroups" },
    { found->host_session_dirs, "entry of the sessions dir", "entries of the sessions dir" },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (parts); i++) {
    if (parts[i].n)
      g_string_append_printf (text, "%s%u %s", text->len ? ", " : "", parts[i].n,
                              parts[i].n == 1 ? parts[i].one : parts[i].many);
  }
  return text->len ? g_string_free (g_steal_pointer (&text), FALSE) : NULL;
}
