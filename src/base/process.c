/* Process ancestry and environment, read from /proc. */
#include "base/process.h"

#include <dirent.h>
#include <errno.h>
#include <glib/gstdio.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_DEPTH 64 /* more than any real process tree; ends loops */

/* /proc/PID/stat: the parent, CPU time and memory in one read (see
 * fh_process_read_usage()). */
static gboolean
read_stat (const char *stat_path, pid_t *ppid, double *cpu_seconds, guint64 *rss_bytes)
{
  g_autofree char *text = NULL;
  const char *p;
  unsigned long utime = 0, stime = 0;
  long rss = 0;
  int parent = 0;
  long ticks = sysconf (_SC_CLK_TCK);

  if (!g_file_get_contents (stat_path, &text, NULL, NULL))
    return FALSE;
  /* pid (comm) state …: comm may hold spaces and parentheses. */
  if (!(p = strrchr (text, ')')))
    return FALSE;
  /* Fields 3 (state) … 24 (rss), counted from 1; ppid is 4, utime 14,
   * stime 15. */
  if (sscanf (p + 2, "%*c %d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu %*d %*d %*d %*d %*d %*d "
                     "%*u %*u %ld",
              &parent, &utime, &stime, &rss) != 4)
    return FALSE;
  *ppid = (pid_t) parent;
  *cpu_seconds = (double) (utime + stime) / (double) (ticks > 0 ? ticks : 100);
  *rss_bytes = (guint64) MAX (rss, 0) * (guint64) sysconf (_SC_PAGESIZE);
  return TRUE;
}

pid_t
fh_process_get_parent (pid_t pid)
{
  g_autofree char *path = g_strdup_printf ("/proc/%d/stat", (int) pid);
  pid_t ppid;
  double cpu;
  guint64 rss;

  return read_stat (path, &ppid, &cpu, &rss) ? ppid : -1;
}

char *
fh_process_get_env (pid_t pid, const char *key)
{
  g_autofree char *path = g_strdup_printf ("/proc/%d/environ", (int) pid);
  g_autofree char *text = NULL;
  gsize len, key_len = strlen (key);

  if (!g_file_get_contents (path, &text, &len, NULL))
    return NULL;
  for (gsize i = 0; i < len; i += strlen (text + i) + 1) {
    if (strncmp (text + i, key, key_len) == 0 && text[i + key_len] == '=')
      return g_strdup (text + i + key_len + 1);
  }
  return NULL;
}

gboolean
fh_process_descends_from (pid_t pid, const pid_t *roots, guint n_roots)
{
  for (guint depth = 0; pid > 1 && depth < MAX_DEPTH; depth++) {
    for (guint i = 0; i < n_roots; i++) {
      if (roots[i] > 0 && roots[i] == pid)
        return TRUE;
    }
    pid = fh_process_get_parent (pid);
  }
  return FALSE;
}

char *
fh_process_find_env (pid_t pid, const char *key)
{
  for (guint depth = 0; pid > 1 && depth < MAX_DEPTH; depth++) {
    char *marker = fh_process_get_env (pid, key);
    if (marker)
      return marker;
    pid = fh_process_get_parent (pid);
  }
  return NULL;
}

guint
fh_process_signal_session (const char *session_id, uid_t uid, int sig)
{
  g_autofree char *marker = g_strdup_printf ("FUNKHAUS_SESSION=%s", session_id);
  gsize marker_len = strlen (marker) + 1;
  DIR *proc = opendir ("/proc");
  struct dirent *entry;
  guint found = 0;

  if (!proc)
    return 0;
  while ((entry = readdir (proc))) {
    g_autofree char *path = NULL;
    g_autofree char *environ = NULL;
    gsize len;
    struct stat st;
    pid_t pid = (pid_t) g_ascii_strtoll (entry->d_name, NULL, 10);

    if (pid <= 0 || pid == getpid ())
      continue;
    path = g_strdup_printf ("/proc/%d/environ", pid);
    if (stat (path, &st) < 0 || st.st_uid != uid)
      continue;
    if (!g_file_get_contents (path, &environ, &len, NULL))
      continue;
    for (gsize i = 0; i + marker_len <= len + 1; i += strlen (environ + i) + 1) {
      if (memcmp (environ + i, marker, MIN (marker_len, len - i)) == 0 &&
          strlen (environ + i) == marker_len - 1) {
        g_autofree char *stat_path = g_strdup_printf ("/proc/%d/stat", pid);
        g_autofree char *stat_text = NULL;
        /* A zombie has nothing left to stop. */
        if (g_file_get_contents (stat_path, &stat_text, NULL, NULL)) {
          char *close_paren = strrchr (stat_text, ')');
          if (close_paren && close_paren[1] == ' ' && close_paren[2] == 'Z')
            break;
        }
        kill (pid, sig);
        found++;
        break;
      }
      if (i >= len)
        break;
    }
  }
  closedir (proc);
  return found;
}

gboolean
fh_process_reap (GSubprocess *process, guint timeout_ms)
{
  gint64 deadline = g_get_monotonic_time () + (gint64) timeout_ms * 1000;
  const char *id;
  pid_t pid;

  /* GLib's worker reaps the child and then forgets its identifier. */
  while ((id = g_subprocess_get_identifier (process)) && g_get_monotonic_time () < deadline)
    g_usleep (10000);
  if (!(id = g_subprocess_get_identifier (process))) {
    g_subprocess_wait (process, NULL, NULL);
    return TRUE;
  }
  pid = (pid_t) g_ascii_strtoll (id, NULL, 10);
  if (pid > 0) {
    kill (-pid, SIGKILL);
    kill (pid, SIGKILL);
  }
  g_subprocess_wait (process, NULL, NULL);
  return FALSE;
}

gboolean
fh_remove_tree (const char *path)
{
  g_autoptr (GDir) dir = g_dir_open (path, 0, NULL);
  const char *name;

  if (dir) {
    while ((name = g_dir_read_name (dir))) {
      g_autofree char *child = g_build_filename (path, name, NULL);
      if (g_file_test (child, G_FILE_TEST_IS_DIR) && !g_file_test (child, G_FILE_TEST_IS_SYMLINK))
        fh_remove_tree (child);
      else
        g_unlink (child);
    }
  }
  return g_rmdir (path) == 0 || errno == ENOENT;
}


gboolean
fh_process_read_usage (const char *stat_path, double *cpu_seconds, guint64 *rss_bytes)
{
  pid_t ppid;

  return read_stat (stat_path, &ppid, cpu_seconds, rss_bytes);
}

typedef struct {
  pid_t ppid;
  double cpu;
  guint64 rss;
  char *session; /* FUNKHAUS_SESSION, or NULL */
} FhProcessEntry;

struct _FhProcessTable {
  GHashTable *entries; /* pid → FhProcessEntry */
};

static void
entry_free (gpointer data)
{
  FhProcessEntry *e = data;

  g_free (e->session);
  g_free (e);
}

FhProcessTable *
fh_process_table_new (void)
{
  FhProcessTable *self = g_new0 (FhProcessTable, 1);
  g_autoptr (GDir) dir = g_dir_open ("/proc", 0, NULL);
  const char *name;

  self->entries = g_hash_table_new_full (NULL, NULL, NULL, entry_free);
  while (dir && (name = g_dir_read_name (dir))) {
    pid_t pid = (pid_t) atoi (name);
    g_autofree char *stat_path = NULL;
    FhProcessEntry e = { 0 };

    if (pid <= 0 || pid == getpid ())
      continue;
    stat_path = g_strdup_printf ("/proc/%d/stat", (int) pid);
    /* One read for the parent, CPU and memory; kernel threads (kthreadd,
     * 2, and its children) belong to no session and have no environment
     * to read. */
    if (!read_stat (stat_path, &e.ppid, &e.cpu, &e.rss) || pid == 2 || e.ppid == 2)
      continue;
    e.session = fh_process_get_env (pid, "FUNKHAUS_SESSION");
    g_hash_table_insert (self->entries, GINT_TO_POINTER (pid), g_memdup2 (&e, sizeof e));
  }
  return self;
}

void
fh_process_table_free (FhProcessTable *self)
{
  if (!self)
    return;
  g_hash_table_unref (self->entries);
  g_free (self);
}

static gboolean
table_descends_from (FhProcessTable *self, pid_t pid, const pid_t *roots, guint n_roots)
{
  for (guint depth = 0; pid > 1 && depth < MAX_DEPTH; depth++) {
    FhProcessEntry *e;
    for (guint i = 0; i < n_roots; i++) {
      if (roots[i] > 0 && roots[i] == pid)
        return TRUE;
    }
    if (!(e = g_hash_table_lookup (self->entries, GINT_TO_POINTER (pid))))
      return FALSE;
    pid = e->ppid;
  }
  return FALSE;
}

void
fh_process_table_usage (FhProcessTable *self, const pid_t *roots, guint n_roots,
                        const char *session_id, double *cpu_seconds, guint64 *rss_bytes)
{
  GHashTableIter iter;
  gpointer key, value;

  *cpu_seconds = 0;
  *rss_bytes = 0;
  g_hash_table_iter_init (&iter, self->entries);
  while (g_hash_table_iter_next (&iter, &key, &value)) {
    FhProcessEntry *e = value;
    if ((session_id && *session_id && g_strcmp0 (e->session, session_id) == 0) ||
        table_descends_from (self, GPOINTER_TO_INT (key), roots, n_roots)) {
      *cpu_seconds += e->cpu;
      *rss_bytes += e->rss;
    }
  }
}

/* Field 22 of /proc/@pid/stat, or 0 when it is gone. */
static guint64
start_time (pid_t pid)
{
  g_autofree char *path = g_strdup_printf ("/proc/%d/stat", (int) pid);
  g_autofree char *text = NULL;
  unsigned long long start = 0;
  const char *p;

  if (!g_file_get_contents (path, &text, NULL, NULL) || !(p = strrchr (text, ')')))
    return 0;
  if (sscanf (p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u %*d %*d %*d %*d %*d "
                     "%*d %llu",
              &start) != 1)
    return 0;
  return start;
}

char *
fh_process_host_marker (void)
{
  return g_strdup_printf ("%d:%" G_GUINT64_FORMAT, (int) getpid (), start_time (getpid ()));
}

gboolean
fh_process_host_marker_alive (const char *marker)
{
  int pid;
  guint64 start;

  if (!marker || sscanf (marker, "%d:%" G_GUINT64_FORMAT, &pid, &start) != 2 || pid <= 0)
    return TRUE;
  return start_time (pid) == start;
}
