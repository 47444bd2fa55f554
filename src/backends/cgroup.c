/* A cgroup per independent session (see cgroup.h): finding where the host
 * may make them, making, joining, emptying and removing them. */
#include "backends/cgroup.h"

#include <errno.h>
#include <fcntl.h>
#include <gio/gio.h>
#include <glib/gstdio.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define EMPTY_TIMEOUT_US G_USEC_PER_SEC
#define HOST_WEIGHT_FACTOR 10

typedef enum {
  CGROUP_NONE,
  CGROUP_V1,
  CGROUP_V2,
} CgroupKind;

/* What the box offers the host, found once. */
typedef struct {
  CgroupKind kind;
  char *why; /* CGROUP_NONE: why, for the banner */
  /* Where the sessions' cgroups go: v2 [0] only; v1 [0] the cpu
   * hierarchy's, [1] the memory hierarchy's (or NULL). */
  char *parent[2];
  gboolean memory;
} CgroupHost;

struct _FhCgroup {
  char *dir[2];
  int procs_fd[2];
  guint n;
  gboolean v2;
};

static gboolean
write_file (const char *dir, const char *name, const char *value, GError **error)
{
  g_autofree char *path = g_build_filename (dir, name, NULL);
  int fd = open (path, O_WRONLY | O_CLOEXEC);
  gssize len = (gssize) strlen (value);
  gboolean ok;
  int saved;

  if (fd < 0) {
    saved = errno;
    g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved), "cannot open %s: %s", path,
                 g_strerror (saved));
    return FALSE;
  }
  ok = write (fd, value, (size_t) len) == len;
  saved = errno;
  close (fd);
  if (!ok)
    g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved), "cannot write '%s' to %s: %s",
                 value, path, g_strerror (saved));
  return ok;
}

static char *
read_file (const char *dir, const char *name)
{
  g_autofree char *path = g_build_filename (dir, name, NULL);
  char *contents = NULL;

  g_file_get_contents (path, &contents, NULL, NULL);
  return contents;
}

static gboolean
word_in (const char *list, const char *word, const char *separators)
{
  g_auto (GStrv) words = g_strsplit_set (list ? list : "", separators, -1);

  return g_strv_contains ((const char *const *) words, word);
}

/* Where the hierarchy with @controller (NULL: the v2 one) is mounted, and
 * the root of that mount ("/" outside containers). */
static gboolean
find_mount (const char *controller, char **mount_point, char **mount_root)
{
  g_autofree char *info = NULL;
  g_auto (GStrv) lines = NULL;

  if (!g_file_get_contents ("/proc/self/mountinfo", &info, NULL, NULL))
    return FALSE;
  lines = g_strsplit (info, "\n", -1);
  for (char **l = lines; *l; l++) {
    g_auto (GStrv) halves = g_strsplit (*l, " - ", 2);
    g_auto (GStrv) before = NULL, after = NULL;
    if (!halves[0] || !halves[1])
      continue;
    before = g_strsplit (halves[0], " ", -1);
    after = g_strsplit (halves[1], " ", -1);
    if (g_strv_length (before) < 5 || g_strv_length (after) < 3)
      continue;
    if (controller ? !g_str_equal (after[0], "cgroup") || !word_in (after[2], controller, ",")
                   : !g_str_equal (after[0], "cgroup2"))
      continue;
    *mount_root = g_strcompress (before[3]);
    *mount_point = g_strcompress (before[4]);
    return TRUE;
  }
  return FALSE;
}

/* The host's own cgroup in the hierarchy with @controller (NULL: v2's),
 * as a folder. */
static char *
own_dir (const char *controller)
{
  g_autofree char *mount_point = NULL, *mount_root = NULL, *self = NULL;
  g_auto (GStrv) lines = NULL;

  if (!find_mount (controller, &mount_point, &mount_root) ||
      !g_file_get_contents ("/proc/self/cgroup", &self, NULL, NULL))
    return NULL;
  lines = g_strsplit (self, "\n", -1);
  for (char **l = lines; *l; l++) {
    g_auto (GStrv) parts = g_strsplit (*l, ":", 3);
    const char *path;
    if (g_strv_length (parts) < 3)
      continue;
    if (controller ? !word_in (parts[1], controller, ",")
                   : !g_str_equal (parts[0], "0") || *parts[1])
      continue;
    path = parts[2];
    /* Inside a container the mount's root is the container's cgroup. */
    if (!g_str_equal (mount_root, "/") && g_str_has_prefix (path, mount_root))
      path += strlen (mount_root);
    return g_build_filename (mount_point, path, NULL);
  }
  return NULL;
}

static gboolean
writable_dir (const char *dir)
{
  return dir && g_file_test (dir, G_FILE_TEST_IS_DIR) && access (dir, W_OK) == 0;
}

/* Moves every process of @from into @to. */
static gboolean
move_processes (const char *from, const char *to, GError **error)
{
  g_autofree char *procs = read_file (from, "cgroup.procs");
  g_auto (GStrv) pids = g_strsplit (procs ? procs : "", "\n", -1);

  for (char **p = pids; *p; p++) {
    if (**p && !write_file (to, "cgroup.procs", *p, error))
      return FALSE;
  }
  return TRUE;
}

/* cgroup v2: the host's own cgroup may hold processes or children with
 * controllers, not both (except the root): it moves itself into a child
 * of its own first. */
static gboolean
setup_v2 (CgroupHost *host, const FhCgroupConfig *config, const char *own, GError **error)
{
  g_autofree char *controllers = read_file (own, "cgroup.controllers");
  g_autofree char *subtree = read_file (own, "cgroup.subtree_control");
  gboolean root = g_str_equal (own, "/sys/fs/cgroup");
  g_autofree char *host_dir = g_build_filename (own, "funkhaus-host", NULL);
  g_autoptr (GString) enable = g_string_new (NULL);

  host->memory = word_in (controllers, "memory", " \n");
  if (!word_in (subtree, "cpu", " \n"))
    g_string_append (enable, "+cpu");
  if (host->memory && !word_in (subtree, "memory", " \n"))
    g_string_append (enable, enable->len ? " +memory" : "+memory");
  if (!enable->len)
    goto done;
  if (!root) {
    g_autofree char *weight = g_strdup_printf (
      "%u", MIN (config->cpu_weight * HOST_WEIGHT_FACTOR, 10000));
    if ((g_mkdir (host_dir, 0755) < 0 && errno != EEXIST)) {
      int saved = errno;
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved), "cannot make %s: %s",
                   host_dir, g_strerror (saved));
      return FALSE;
    }
    if (!move_processes (own, host_dir, error))
      return FALSE;
    if (!write_file (own, "cgroup.subtree_control", enable->str, error))
      return FALSE;
    /* Its capture and encode threads come before any one session. */
    write_file (host_dir, "cpu.weight", weight, NULL);
    goto done;
  }
  if (!write_file (own, "cgroup.subtree_control", enable->str, error))
    return FALSE;
done:
  host->kind = CGROUP_V2;
  host->parent[0] = g_strdup (own);
  return TRUE;
}

static CgroupHost *
detect (const FhCgroupConfig *config)
{
  CgroupHost *host = g_new0 (CgroupHost, 1);
  g_autofree char *own2 = own_dir (NULL);
  g_autofree char *controllers = own2 ? read_file (own2, "cgroup.controllers") : NULL;
  g_autoptr (GError) error = NULL;

  /* v2 with the cpu controller available here: a pure v2 box, or one
   * where it was delegated to the host. */
  if (own2 && word_in (controllers, "cpu", " \n")) {
    if (!writable_dir (own2)) {
      host->why = g_strdup_printf ("cgroup v2 is not delegated to the host (%s is not "
                                   "writable: run it as a service with Delegate=yes)",
                                   own2);
      return host;
    }
    if (!setup_v2 (host, config, own2, &error))
      host->why = g_strdup_printf ("cgroup v2: %s", error->message);
    return host;
  }
  /* v1: the cpu hierarchy (and memory's, where mounted) writable. */
  {
    g_autofree char *cpu = own_dir ("cpu");
    g_autofree char *memory = own_dir ("memory");
    if (!cpu) {
      host->why = g_strdup ("no cgroup with the cpu controller is mounted");
      return host;
    }
    if (!writable_dir (cpu)) {
      host->why = g_strdup_printf ("the host may not make cgroups (%s is not writable: run it "
                                   "as root, or as a service with Delegate=yes on cgroup v2)",
                                   cpu);
      return host;
    }
    host->kind = CGROUP_V1;
    host->parent[0] = g_steal_pointer (&cpu);
    if (writable_dir (memory)) {
      host->parent[1] = g_steal_pointer (&memory);
      host->memory = TRUE;
    }
  }
  return host;
}

/* Found once; the first config decides how the host's own cgroup is set
 * up (the host has one). */
static CgroupHost *
find_host (const FhCgroupConfig *config)
{
  static GMutex lock;
  static CgroupHost *host;
  g_autoptr (GMutexLocker) locker = g_mutex_locker_new (&lock);

  if (!host)
    host = detect (config);
  return host;
}

static guint64
memory_max_bytes (const FhCgroupConfig *config)
{
  long pages = sysconf (_SC_PHYS_PAGES);
  long page_size = sysconf (_SC_PAGESIZE);

  if (config->memory_max_mib)
    return config->memory_max_mib * 1024 * 1024;
  return pages > 0 && page_size > 0 ? (guint64) pages * (guint64) page_size / 4 * 3 : 0;
}

char *
fh_cgroup_describe (const FhCgroupConfig *config)
{
  CgroupHost *host;
  guint64 memory;

  if (!config->enabled)
    return g_strdup ("off (session-cgroups=off)");
  host = find_host (config);
  if (host->kind == CGROUP_NONE)
    return g_strdup_printf ("none: %s", host->why);
  memory = memory_max_bytes (config);
  if (!host->memory)
    return g_strdup_printf ("cgroup %s per session (CPU weight %u; no memory limit: the memory "
                            "controller is not available)",
                            host->kind == CGROUP_V2 ? "v2" : "v1", config->cpu_weight);
  return g_strdup_printf ("cgroup %s per session (CPU weight %u, memory at most %" G_GUINT64_FORMAT
                          " MiB)",
                          host->kind == CGROUP_V2 ? "v2" : "v1", config->cpu_weight,
                          memory / (1024 * 1024));
}

static gboolean
make_dir (const char *parent, const char *name, char **dir, GError **error)
{
  *dir = g_build_filename (parent, name, NULL);
  if (g_mkdir (*dir, 0755) < 0 && errno != EEXIST) {
    int saved = errno;
    g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved), "cannot make the cgroup %s: %s",
                 *dir, g_strerror (saved));
    g_clear_pointer (dir, g_free);
    return FALSE;
  }
  return TRUE;
}

static gboolean
open_procs (FhCgroup *self, guint i, GError **error)
{
  g_autofree char *path = g_build_filename (self->dir[i], "cgroup.procs", NULL);

  self->procs_fd[i] = open (path, O_WRONLY | O_CLOEXEC);
  if (self->procs_fd[i] < 0) {
    int saved = errno;
    g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved), "cannot open %s: %s", path,
                 g_strerror (saved));
    return FALSE;
  }
  return TRUE;
}

FhCgroup *
fh_cgroup_new (const FhCgroupConfig *config, const char *session_id, GError **error)
{
  CgroupHost *host;
  g_autoptr (FhCgroup) self = NULL;
  g_autofree char *name = g_strdup_printf ("funkhaus-session-%s", session_id);
  g_autofree char *memory = NULL;
  guint64 max = memory_max_bytes (config);

  if (!config->enabled || (host = find_host (config))->kind == CGROUP_NONE)
    return NULL;
  self = g_new0 (FhCgroup, 1);
  self->procs_fd[0] = self->procs_fd[1] = -1;
  self->v2 = host->kind == CGROUP_V2;
  memory = max ? g_strdup_printf ("%" G_GUINT64_FORMAT, max) : NULL;
  if (!make_dir (host->parent[0], name, &self->dir[0], error))
    return NULL;
  self->n = 1;
  if (self->v2) {
    g_autofree char *weight = g_strdup_printf ("%u", CLAMP (config->cpu_weight, 1, 10000));
    if (!write_file (self->dir[0], "cpu.weight", weight, error) ||
        (host->memory && memory && !write_file (self->dir[0], "memory.max", memory, error)))
      return NULL;
  } else {
    g_autofree char *shares = g_strdup_printf ("%u", MAX (config->cpu_weight * 1024 / 100, 2));
    if (!write_file (self->dir[0], "cpu.shares", shares, error))
      return NULL;
    if (host->parent[1]) {
      if (!make_dir (host->parent[1], name, &self->dir[1], error))
        return NULL;
      self->n = 2;
      if (memory && !write_file (self->dir[1], "memory.limit_in_bytes", memory, error))
        return NULL;
    }
  }
  for (guint i = 0; i < self->n; i++) {
    if (!open_procs (self, i, error))
      return NULL;
  }
  return g_steal_pointer (&self);
}

guint
fh_cgroup_get_join_fds (FhCgroup *self, int fds[2])
{
  for (guint i = 0; i < self->n; i++)
    fds[i] = self->procs_fd[i];
  return self->n;
}

/* Signals every process in @dir; returns how many there were. */
static guint
signal_all (const char *dir, int signal)
{
  g_autofree char *procs = read_file (dir, "cgroup.procs");
  g_auto (GStrv) pids = g_strsplit (procs ? procs : "", "\n", -1);
  guint n = 0;

  for (char **p = pids; *p; p++) {
    gint64 pid = g_ascii_strtoll (*p, NULL, 10);
    if (pid > 1) {
      if (signal)
        kill ((pid_t) pid, signal);
      n++;
    }
  }
  return n;
}

guint
fh_cgroup_count_processes (FhCgroup *self)
{
  return signal_all (self->dir[0], 0);
}

void
fh_cgroup_free (FhCgroup *self)
{
  if (!self)
    return;
  for (guint i = 0; i < self->n; i++) {
    gint64 deadline = g_get_monotonic_time () + EMPTY_TIMEOUT_US;
    if (self->procs_fd[i] >= 0)
      close (self->procs_fd[i]);
    /* Whatever outlived the session's stop. */
    while (signal_all (self->dir[i], SIGKILL) > 0 && g_get_monotonic_time () < deadline)
      g_usleep (10000);
    /* An empty cgroup can be removed only once the kernel has let go of
     * its last process; a moment after it died. */
    while (g_rmdir (self->dir[i]) < 0 && errno == EBUSY && g_get_monotonic_time () < deadline)
      g_usleep (10000);
    if (g_file_test (self->dir[i], G_FILE_TEST_IS_DIR))
      g_warning ("cannot remove the cgroup %s: %s", self->dir[i], g_strerror (errno));
    g_free (self->dir[i]);
  }
  g_free (self);
}
