/* A session's sandbox: its account and home, its runtime dir, and the
 * bubblewrap (and pasta) command line every process of it starts under. */
#include "backends/sandbox.h"

#include <errno.h>
#include <glib/gstdio.h>
#include <grp.h>
#include <pwd.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "backends/launch.h"
#include "base/process.h"

struct _FhSandbox {
  FhSandboxConfig config;
  char *session_id;
  FhAccount *account;
  char *home;
  char *runtime_dir;
  gboolean isolate;
  gboolean pasta; /* pasta can give it a network */
  FhCgroup *cgroup; /* or NULL */
  GStrv binds;
};

/* useradd and the look-up before it must not race between two sessions of
 * one device starting at once: a process-wide lock, held only there. */
static GMutex account_lock;

char *
fh_sandbox_account_name (const char *device)
{
  return g_strdup_printf ("fh-%s", device);
}

/* Device ids are ours (hex), but they come from a file: check before they
 * name an account or a folder. */
static gboolean
device_id_ok (const char *device)
{
  gsize len = strlen (device);

  if (len == 0 || len > 28)
    return FALSE;
  for (gsize i = 0; i < len; i++) {
    if (!g_ascii_isdigit (device[i]) && !(device[i] >= 'a' && device[i] <= 'z'))
      return FALSE;
  }
  return TRUE;
}

static gboolean
run_command (const char *const *argv, GError **error)
{
  g_autoptr (GSubprocess) process = g_subprocess_newv (
    argv, G_SUBPROCESS_FLAGS_STDOUT_SILENCE | G_SUBPROCESS_FLAGS_STDERR_PIPE, error);
  g_autofree char *err = NULL;

  if (!process || !g_subprocess_communicate_utf8 (process, NULL, NULL, NULL, &err, error))
    return FALSE;
  if (!g_subprocess_get_successful (process)) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "%s failed: %s", argv[0],
                 err ? g_strstrip (err) : "");
    return FALSE;
  }
  return TRUE;
}

/* The device's own account (root only): made on its first session. */
static FhAccount *
device_account (const char *device, const char *home, GError **error)
{
  g_autofree char *name = fh_sandbox_account_name (device);
  g_autoptr (GMutexLocker) locker = g_mutex_locker_new (&account_lock);

  if (!getpwnam (name)) {
    g_autoptr (GStrvBuilder) argv = g_strv_builder_new ();
    g_auto (GStrv) args = NULL;
    g_autofree char *useradd = g_find_program_in_path ("useradd");
    if (!useradd)
      useradd = g_strdup ("/usr/sbin/useradd");
    g_strv_builder_add_many (argv, useradd, "--system", "--user-group", "--no-create-home",
                             "--home-dir", home, "--shell", "/usr/sbin/nologin", "--comment",
                             "funkhaus device", NULL);
    /* A GPU's render node, where the box has one (gamescope, games). */
    {
      g_autoptr (GString) groups = g_string_new (NULL);
      for (const char *const *g = (const char *const[]) { "video", "render", NULL }; *g; g++) {
        if (getgrnam (*g))
          g_string_append_printf (groups, "%s%s", groups->len ? "," : "", *g);
      }
      if (groups->len)
        g_strv_builder_add_many (argv, "--groups", groups->str, NULL);
    }
    g_strv_builder_add (argv, name);
    args = g_strv_builder_end (argv);
    if (!run_command ((const char *const *) args, error)) {
      g_prefix_error (error, "cannot make the account %s of device %s: ", name, device);
      return NULL;
    }
    g_message ("sandbox: made the account %s for device %s (home %s)", name, device, home);
  }
  return fh_account_resolve (name, error);
}

/* Makes @path (and its parents) a folder others may pass through, owned by
 * root (or by the host's user): where the homes are. */
static gboolean
make_homes_dir (const char *path, GError **error)
{
  struct stat st;

  if (g_mkdir_with_parents (path, 0755) < 0) {
    int saved = errno;
    g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved), "cannot create %s: %s", path,
                 g_strerror (saved));
    return FALSE;
  }
  if (stat (path, &st) < 0 || !S_ISDIR (st.st_mode)) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_DIRECTORY, "%s is not a folder", path);
    return FALSE;
  }
  /* As root, every device's account must reach its own home inside. */
  if (getuid () == 0) {
    g_autofree char *dir = g_strdup (path);
    while (dir && strlen (dir) > 1) {
      char *parent;
      if (stat (dir, &st) == 0 && !(st.st_mode & S_IXOTH)) {
        g_set_error (error, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED,
                     "device accounts cannot reach their homes in %s: %s is not open to "
                     "others (chmod o+x it, or set homes-dir in config.ini)",
                     path, dir);
        return FALSE;
      }
      parent = g_path_get_dirname (dir);
      g_free (dir);
      dir = parent;
    }
  }
  return TRUE;
}

static gboolean
pasta_usable (void)
{
  g_autofree char *pasta = g_find_program_in_path ("pasta");
  struct stat st;

  /* pasta opens the tun device inside the session's namespaces, as the
   * session's account: it must be open to everyone (as Debian's udev
   * rules make it). */
  return pasta && stat ("/dev/net/tun", &st) == 0 && (st.st_mode & 0006) == 0006;
}

static gboolean
bwrap_usable (void)
{
  g_autofree char *bwrap = g_find_program_in_path ("bwrap");
  return bwrap != NULL;
}

char *
fh_sandbox_describe (const FhSandboxConfig *config)
{
  g_autofree char *cgroup = fh_cgroup_describe (&config->cgroup);

  if (!config->isolate)
    return g_strdup ("off (isolate=false): sessions' apps see each other's files, processes "
                     "and X displays");
  if (!bwrap_usable ())
    return g_strdup ("off: bubblewrap is missing (apt-get install bubblewrap): sessions' apps "
                     "see each other's files, processes and X displays");
  return g_strdup_printf (
    "bubblewrap (own /tmp, /dev/shm, processes, files: the device's home and the session's "
    "runtime dir), %s, %s; resources: %s, apps at nice %d",
    pasta_usable () ? "a network of its own through pasta"
                    : "the host's network (pasta missing or /dev/net/tun closed: X11 abstract "
                      "sockets are shared)",
    getuid () == 0 ? "an account per device" : "the host's account with a home per device",
    cgroup, config->nice);
}

FhSandbox *
fh_sandbox_new (const FhSandboxConfig *config, const char *device, const char *session_id,
                GError **error)
{
  g_autoptr (FhSandbox) self = g_new0 (FhSandbox, 1);
  gboolean root = getuid () == 0;

  self->config = *config;
  self->config.homes_dir = NULL;
  self->config.run_as = NULL;
  self->binds = g_strdupv ((char **) config->binds);
  self->config.binds = NULL;
  self->session_id = g_strdup (session_id);
  self->isolate = config->isolate && bwrap_usable ();
  self->pasta = self->isolate && pasta_usable ();

  if (device && !device_id_ok (device)) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                 "device id '%s' cannot name an account", device);
    return NULL;
  }
  if (device && config->homes_dir && *config->homes_dir) {
    if (!make_homes_dir (config->homes_dir, error))
      return NULL;
    self->home = g_build_filename (config->homes_dir, device, NULL);
    self->account = root ? device_account (device, self->home, error)
                         : fh_account_resolve (NULL, error);
    if (!self->account || !fh_account_make_dir (self->account, self->home, error))
      return NULL;
  } else {
    if (!(self->account = fh_account_resolve (config->run_as ? config->run_as : "funkhaus",
                                              error)))
      return NULL;
    self->home = g_strdup (self->account->home);
  }

  /* The runtime dir must belong to the account it runs as; the host's
   * own (root's, say) is not reachable for it. */
  {
    g_autofree char *base = fh_account_runtime_base (self->account, error);
    g_autofree char *name = g_strdup_printf ("funkhaus-session-%s", session_id);
    if (!base)
      return NULL;
    self->runtime_dir = g_build_filename (base, name, NULL);
  }
  if (!fh_account_make_dir (self->account, self->runtime_dir, error))
    return NULL;
  /* Resources: with or without walls, where the box offers it. A session
   * without its cgroup still runs, at its niceness. */
  {
    g_autoptr (GError) local_error = NULL;
    self->cgroup = fh_cgroup_new (&config->cgroup, session_id, &local_error);
    if (local_error)
      g_warning ("session %.8s: no cgroup of its own, only its niceness: %s", session_id,
                 local_error->message);
  }
  return g_steal_pointer (&self);
}

void
fh_sandbox_free (FhSandbox *self)
{
  if (!self)
    return;
  if (self->account)
    fh_launch_stop_session (self->session_id, self->account);
  /* Whatever escaped the stop above (a process that dropped its
   * FUNKHAUS_SESSION) still is in the cgroup. */
  g_clear_pointer (&self->cgroup, fh_cgroup_free);
  if (self->runtime_dir && self->account)
    fh_remove_tree (self->runtime_dir);
  g_clear_pointer (&self->account, fh_account_free);
  g_free (self->home);
  g_free (self->runtime_dir);
  g_free (self->session_id);
  g_strfreev (self->binds);
  g_free (self);
}

FhAccount *
fh_sandbox_get_account (FhSandbox *self)
{
  return self->account;
}

const char *
fh_sandbox_get_home (FhSandbox *self)
{
  return self->home;
}

const char *
fh_sandbox_get_runtime_dir (FhSandbox *self)
{
  return self->runtime_dir;
}

gboolean
fh_sandbox_is_isolated (FhSandbox *self)
{
  return self->isolate;
}

FhCgroup *
fh_sandbox_get_cgroup (FhSandbox *self)
{
  return self->cgroup;
}

/* bwrap's part of the command line: what the session sees of the host. */
static void
add_bwrap (FhSandbox *self, GStrvBuilder *argv, gboolean network)
{
  g_autofree char *uid = g_strdup_printf ("%u", self->account->uid);
  g_autofree char *gid = g_strdup_printf ("%u", self->account->gid);

  g_strv_builder_add_many (
    /* No --die-with-parent: its death signal follows the thread that
     * forked, and sessions are started from a worker thread that ends;
     * the host stops every process of the session itself. */
    argv, "bwrap", "--unshare-user", "--uid", uid, "--gid", gid,
    "--unshare-pid", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try", "--hostname",
    "funkhaus-session",
    /* The system, read-only. */
    "--ro-bind", "/usr", "/usr", "--symlink", "usr/lib", "/lib", "--symlink", "usr/lib64",
    "/lib64", "--symlink", "usr/bin", "/bin", "--symlink", "usr/sbin", "/sbin", "--ro-bind",
    "/etc", "/etc", "--ro-bind-try", "/var/cache/fontconfig", "/var/cache/fontconfig",
    "--ro-bind-try", "/sys", "/sys",
    /* Its own /proc (its processes only), /dev, /dev/shm and /tmp. */
    "--proc", "/proc", "--dev", "/dev", "--dev-bind-try", "/dev/dri", "/dev/dri", "--tmpfs",
    "/tmp", "--dir", "/tmp/.X11-unix", "--tmpfs", "/run",
    /* Its home and its runtime dir, at the paths the host knows them by. */
    "--bind", self->home, self->home, "--bind", self->runtime_dir, self->runtime_dir, "--chdir",
    self->home, NULL);
  for (char **b = self->binds; b && *b; b++)
    g_strv_builder_add_many (argv, "--bind", *b, *b, NULL);
  /* Without a network: a loopback of its own. With one: pasta's namespace,
   * or, without pasta, the host's network. */
  if (!network)
    g_strv_builder_add (argv, "--unshare-net");
  g_strv_builder_add (argv, "--");
}

GSubprocess *
fh_sandbox_spawn (FhSandbox *self, const char *log_path, const char *const *env,
                  gboolean network, const char *const *argv, GError **error)
{
  int join_fds[2];
  guint n_join = self->cgroup ? fh_cgroup_get_join_fds (self->cgroup, join_fds) : 0;
  g_autoptr (GSubprocessLauncher) launcher = fh_launch_session_launcher (
    self->account, log_path, self->runtime_dir, self->session_id, join_fds, n_join, error);
  g_autoptr (GStrvBuilder) builder = g_strv_builder_new ();
  g_autofree char *nice = g_strdup_printf ("%d", CLAMP (self->config.nice, 0, 19));
  g_auto (GStrv) full = NULL;
  GSubprocess *process;

  if (!launcher)
    return NULL;
  g_subprocess_launcher_setenv (launcher, "HOME", self->home, TRUE);
  for (const char *const *kv = env; kv && *kv; kv++) {
    g_auto (GStrv) pair = g_strsplit (*kv, "=", 2);
    if (pair[0] && pair[1])
      g_subprocess_launcher_setenv (launcher, pair[0], pair[1], TRUE);
  }
  g_subprocess_launcher_set_cwd (launcher, self->home);
  /* Below the host's capture and encode threads, whatever it runs. */
  if (self->config.nice > 0)
    g_strv_builder_add_many (builder, "nice", "-n", nice, NULL);
  if (self->isolate) {
    if (network && self->pasta)
      g_strv_builder_add_many (builder, "pasta", "--config-net", "--quiet", "-T", "none", "-U",
                               "none", "--", NULL);
    add_bwrap (self, builder, network);
  }
  g_strv_builder_addv (builder, (const char **) argv);
  full = g_strv_builder_end (builder);
  process = g_subprocess_launcher_spawnv (launcher, (const char *const *) full, error);
  if (!process)
    g_prefix_error (error, "cannot start %s%s: ", argv[0],
                    self->isolate ? " in its sandbox (is bubblewrap installed?)" : "");
  return process;
}
