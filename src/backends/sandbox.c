/* A session's sandbox: its account and home, its runtime dir, the
 * bubblewrap command line every process of it starts under, and the
 * slirp4netns that gives a process with a network its internet. */
#include "backends/sandbox.h"

#include <errno.h>
#include <fcntl.h>
#include <glib-unix.h>
#include <glib/gstdio.h>
#include <linux/nsfs.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <grp.h>
#include <pwd.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "backends/launch.h"
#include "base/process.h"

/* The fds bubblewrap tells its child's pid on and waits on before it runs
 * the command (a process with a network). */
#define INFO_FD 3
#define BLOCK_FD 4
/* Where the pads' shim is inside the sandbox (under its own /run). */
#define PAD_SHIM_PATH "/run/funkhaus/pad-shim.so"

struct _FhSandbox {
  FhSandboxConfig config;
  char *session_id;
  FhAccount *account;
  char *home;
  char *runtime_dir;
  gboolean isolate;
  gboolean slirp; /* slirp4netns can give it a network */
  FhCgroup *cgroup; /* or NULL */
  GStrv binds;
  char *pad_dir;   /* or NULL: no pads */
  char *pad_shim;  /* the shim on the host, for user-space pads */
  GStrv pad_env;
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
slirp_usable (void)
{
  g_autofree char *slirp = g_find_program_in_path ("slirp4netns");
  struct stat st;

  /* slirp4netns opens the tun device inside the session's namespaces, as
   * the session's account: it must be open to everyone (as Debian's udev
   * rules make it). */
  return slirp && stat ("/dev/net/tun", &st) == 0 && (st.st_mode & 0006) == 0006;
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
    slirp_usable () ? "a network of its own through slirp4netns"
                    : "the host's network (slirp4netns missing or /dev/net/tun closed: X11 "
                      "abstract sockets are shared)",
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
  self->config.pad_shim = NULL;
  self->session_id = g_strdup (session_id);
  self->isolate = config->isolate && bwrap_usable ();
  self->slirp = self->isolate && slirp_usable ();

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
  /* Whose session it is, for a host started after this one crashed
   * (backends/leftovers.c); before the cgroup, which it also sweeps. */
  {
    g_autofree char *marker = g_build_filename (self->runtime_dir, FH_SANDBOX_HOST_MARKER, NULL);
    g_autofree char *host = fh_process_host_marker ();
    if (!g_file_set_contents (marker, host, -1, error))
      return NULL;
  }
  /* The pads' folder, made here so that it is there before the first
   * process starts (the backend's seat fills it). */
  if (self->isolate && config->pads != FH_PAD_METHOD_OFF && config->max_pads > 0 &&
      (config->pads == FH_PAD_METHOD_UINPUT ||
       (config->pad_shim != NULL && g_file_test (config->pad_shim, G_FILE_TEST_EXISTS)))) {
    g_autoptr (GStrvBuilder) env = g_strv_builder_new ();
    self->pad_dir = g_build_filename (self->runtime_dir, "input", NULL);
    if (g_mkdir (self->pad_dir, 0755) < 0 || chmod (self->pad_dir, 0755) < 0 ||
        chown (self->pad_dir, self->account->uid, self->account->gid) < 0) {
      int errsv = errno;
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errsv), "%s: %s", self->pad_dir,
                   g_strerror (errsv));
      return NULL;
    }
    if (config->pads == FH_PAD_METHOD_USER) {
      self->pad_shim = g_strdup (config->pad_shim);
      g_strv_builder_add (env, "LD_PRELOAD=" PAD_SHIM_PATH);
    }
    g_strv_builder_add (env, "SDL_JOYSTICK_DISABLE_UDEV=1");
    self->pad_env = g_strv_builder_end (env);
  } else {
    self->pad_env = g_new0 (char *, 1);
  }
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
  g_free (self->pad_dir);
  g_free (self->pad_shim);
  g_strfreev (self->pad_env);
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

const char *
fh_sandbox_get_pad_dir (FhSandbox *self)
{
  return self->pad_dir;
}

const char *const *
fh_sandbox_get_pad_env (FhSandbox *self)
{
  return (const char *const *) self->pad_env;
}

gboolean
fh_sandbox_make_pads (FhSandbox *self, FhPadSeat **seat, GError **error)
{
  *seat = NULL;
  if (self->pad_dir == NULL)
    return TRUE;
  *seat = fh_pad_seat_new (self->config.pads, self->pad_dir, self->account->uid,
                           self->account->gid, self->config.max_pads, error);
  return *seat != NULL;
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
  /* Its pads: the seat's folder is its /dev/input. bwrap's --bind is
   * nodev, which the uinput seat's char nodes cannot have; user-space
   * pads are sockets. (The uinput nodes also need a runtime dir on a
   * filesystem without nodev; never tried, see backends/pads.c.) */
  if (self->pad_dir != NULL)
    g_strv_builder_add_many (argv,
                             self->config.pads == FH_PAD_METHOD_UINPUT ? "--dev-bind" : "--bind",
                             self->pad_dir, "/dev/input", NULL);
  if (self->pad_shim != NULL)
    g_strv_builder_add_many (argv, "--ro-bind", self->pad_shim, PAD_SHIM_PATH, NULL);
  for (char **b = self->binds; b && *b; b++)
    g_strv_builder_add_many (argv, "--bind", *b, *b, NULL);
  /* Without a network: a loopback of its own. With one: a namespace that
   * slirp4netns connects before the command runs (start_network), or,
   * without slirp4netns, the host's network. */
  if (!network || self->slirp)
    g_strv_builder_add (argv, "--unshare-net");
  if (network && self->slirp)
    g_strv_builder_add_many (argv, "--info-fd", G_STRINGIFY (INFO_FD), "--block-fd",
                             G_STRINGIFY (BLOCK_FD), NULL);
  g_strv_builder_add (argv, "--");
}

/* Reads from @fd until @buf holds a JSON object's end, or @timeout_ms. */
static gboolean
read_info (int fd, GString *buf, int timeout_ms, GError **error)
{
  gint64 deadline = g_get_monotonic_time () + (gint64) timeout_ms * 1000;

  while (!strchr (buf->str, '}')) {
    struct pollfd p = { fd, POLLIN, 0 };
    char chunk[256];
    gssize n;
    int left = (int) ((deadline - g_get_monotonic_time ()) / 1000);

    if (left <= 0 || poll (&p, 1, left) <= 0 || (n = read (fd, chunk, sizeof chunk)) <= 0) {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED,
                   "bubblewrap said nothing about its sandbox (%s)",
                   left <= 0 ? "timed out" : "it ended");
      return FALSE;
    }
    g_string_append_len (buf, chunk, n);
  }
  return TRUE;
}

/* bubblewrap's child sets up the sandbox's loopback and then waits on its
 * block fd; slirp4netns brings the namespace's loopback up too, and when it
 * does so first, bubblewrap fails ("loopback: Failed RTM_NEWADDR"). Waits
 * (at most 2 s) until the child sleeps in a pipe read: its setup is done. */
static void
wait_until_blocked (gint64 pid)
{
  g_autofree char *path = g_strdup_printf ("/proc/%" G_GINT64_FORMAT "/wchan", pid);
  gint64 deadline = g_get_monotonic_time () + 2 * G_USEC_PER_SEC;

  while (g_get_monotonic_time () < deadline) {
    g_autofree char *wchan = NULL;
    if (!g_file_get_contents (path, &wchan, NULL, NULL) || strstr (wchan, "pipe_read"))
      return;
    g_usleep (1000);
  }
  g_message ("sandbox: bubblewrap's child %" G_GINT64_FORMAT " never showed it waits; going on",
             pid);
}

/* The sandbox whose bubblewrap wrote its child's pid to @info_fd waits on
 * its block fd: slirp4netns, run as the session's account, joins its
 * network namespace (through the user namespace that owns it, which
 * bubblewrap leaves behind a nested one) and gives it a tap device with
 * the internet behind it, but not the host's loopback: services that
 * trust 127.0.0.1 on the host are not the session's. Returns once the
 * network is up. */
static gboolean
start_network (FhSandbox *self, const char *log_path, int info_fd, GError **error)
{
  int join_fds[2];
  guint n_join = self->cgroup ? fh_cgroup_get_join_fds (self->cgroup, join_fds) : 0;
  g_autoptr (GString) info = g_string_new (NULL);
  g_autoptr (GSubprocessLauncher) launcher = NULL;
  g_autoptr (GSubprocess) slirp = NULL;
  g_autofree char *ns_path = NULL;
  const char *pid_text;
  gint64 pid;
  int net = -1, user = -1, ready[2] = { -1, -1 };
  gboolean ok = FALSE;
  char byte;
  struct pollfd p;

  if (!read_info (info_fd, info, 5000, error))
    return FALSE;
  if (!(pid_text = strstr (info->str, "\"child-pid\":"))) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "bubblewrap named no child: %s",
                 info->str);
    return FALSE;
  }
  pid = g_ascii_strtoll (pid_text + strlen ("\"child-pid\":"), NULL, 10);
  ns_path = g_strdup_printf ("/proc/%" G_GINT64_FORMAT "/ns/net", pid);
  wait_until_blocked (pid);
  if ((net = open (ns_path, O_RDONLY | O_CLOEXEC)) < 0 ||
      (user = ioctl (net, NS_GET_USERNS)) < 0 || !g_unix_open_pipe (ready, FD_CLOEXEC, error)) {
    if (error && !*error)
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errno),
                   "cannot reach the sandbox's network namespace (%s): %s", ns_path,
                   g_strerror (errno));
    goto out;
  }
  if (!(launcher = fh_launch_session_launcher (self->account, log_path, self->runtime_dir,
                                               self->session_id, join_fds, n_join, error)))
    goto out;
  g_subprocess_launcher_take_fd (launcher, user, 3);
  g_subprocess_launcher_take_fd (launcher, net, 4);
  g_subprocess_launcher_take_fd (launcher, ready[1], 5);
  user = net = ready[1] = -1;
  if (!(slirp = g_subprocess_launcher_spawn (
          launcher, error, "slirp4netns", "--configure", "--mtu=65520", "--disable-host-loopback",
          "--userns-path=/proc/self/fd/3", "--netns-type=path", "--ready-fd=5", "/proc/self/fd/4",
          "tap0", NULL)))
    goto out;
  /* The launcher holds the child's ends: without them the ready pipe ends
   * when slirp4netns does. */
  g_clear_object (&launcher);
  p = (struct pollfd) { ready[0], POLLIN, 0 };
  if (poll (&p, 1, 5000) <= 0 || read (ready[0], &byte, 1) != 1) {
    g_autofree char *tail = fh_launch_log_tail (log_path);
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED,
                 "slirp4netns did not bring the session's network up within 5 s: %s", tail);
    g_subprocess_force_exit (slirp);
    goto out;
  }
  ok = TRUE;
out:
  if (net >= 0)
    close (net);
  if (user >= 0)
    close (user);
  if (ready[0] >= 0)
    close (ready[0]);
  if (ready[1] >= 0)
    close (ready[1]);
  return ok;
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
  GSubprocess *process = NULL;
  gboolean slirp = self->isolate && network && self->slirp;
  int info[2] = { -1, -1 }, block[2] = { -1, -1 };

  if (!launcher)
    return NULL;
  if (slirp) {
    if (!g_unix_open_pipe (info, FD_CLOEXEC, error) || !g_unix_open_pipe (block, FD_CLOEXEC, error))
      goto fail_pipes;
    g_subprocess_launcher_take_fd (launcher, info[1], INFO_FD);
    g_subprocess_launcher_take_fd (launcher, block[0], BLOCK_FD);
    info[1] = block[0] = -1;
  }
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
  if (self->isolate)
    add_bwrap (self, builder, network);
  g_strv_builder_addv (builder, (const char **) argv);
  full = g_strv_builder_end (builder);
  process = g_subprocess_launcher_spawnv (launcher, (const char *const *) full, error);
  g_clear_object (&launcher); /* and the child's ends of the pipes with it */
  if (!process) {
    g_prefix_error (error, "cannot start %s%s: ", argv[0],
                    self->isolate ? " in its sandbox (is bubblewrap installed?)" : "");
    goto fail_pipes;
  }
  if (slirp) {
    if (!start_network (self, log_path, info[0], error)) {
      g_prefix_error (error, "cannot give %s a network: ", argv[0]);
      /* It must not go on without one: end it before it reads its block
       * fd's end. */
      g_subprocess_force_exit (process);
      g_clear_object (&process);
    } else if (write (block[1], "1", 1) != 1) {
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errno),
                   "cannot start %s in its sandbox: %s", argv[0], g_strerror (errno));
      g_subprocess_force_exit (process);
      g_clear_object (&process);
    }
  }
fail_pipes:
  for (guint i = 0; i < 2; i++) {
    if (info[i] >= 0)
      close (info[i]);
    if (block[i] >= 0)
      close (block[i]);
  }
  return process;
}
