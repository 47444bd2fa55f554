/* The wlroots backend: one headless sway per session (pixman renderer, CPU
 * only), its own runtime dir and sockets, one output at exactly the
 * client's mode, Xwayland, and the session's app inside it. Capture is
 * wlr-screencopy from in-process; input goes through virtual keyboard and
 * pointer on that compositor only. */
#include "backends/wlroots.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <gio/gio.h>
#include <glib/gstdio.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "media/screencopy.h"
#include "backends/launch.h"
#include "base/account.h"
#include "base/process.h"
#include "media/wlr-injector.h"

#define START_TIMEOUT_US (15 * G_USEC_PER_SEC)
#define DEFAULT_APP "foot"

typedef struct {
  FhVirtualOutput base;
  FhAccount *account;
  char *session_dir;
  char *runtime_dir; /* XDG_RUNTIME_DIR of the compositor and its apps */
  char *socket_path;
  char *log_path;
  char *app_log_path;
  char *layout;
  GSubprocess *compositor;
  GSubprocess *app;
  pid_t compositor_pid;
  int x_display; /* Xwayland's :N, or -1 */
  GCancellable *cancellable;
  FhScreencopy *capture; /* encode thread */
  FhWlrInjector *injector; /* main thread, made on first input */
  gboolean input_failed;
  gboolean stopping;
} FhWlrootsOutput;

static gboolean
write_owned_file (FhAccount *account, const char *path, const char *contents, GError **error)
{
  if (!g_file_set_contents_full (path, contents, -1, G_FILE_SET_CONTENTS_NONE, 0600, error))
    return FALSE;
  if (account->switch_user && chown (path, account->uid, account->gid) < 0) {
    int saved = errno;
    g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved), "cannot hand %s to %s: %s",
                 path, account->name, g_strerror (saved));
    return FALSE;
  }
  return TRUE;
}

/* Xwayland of every user shares /tmp/.X11-unix; made by the first
 * compositor it would be 0755 and the others' X servers would fail. */
static void
ensure_x11_unix_dir (void)
{
  if (getuid () != 0)
    return;
  if (g_mkdir ("/tmp/.X11-unix", 01777) == 0 || errno == EEXIST)
    chmod ("/tmp/.X11-unix", 01777);
}

/* wlroots writes its own pid into /tmp/.X<N>-lock for the display it took. */
static int
find_x_display (pid_t pid)
{
  for (int n = 0; n < 256; n++) {
    g_autofree char *path = g_strdup_printf ("/tmp/.X%d-lock", n);
    g_autofree char *contents = NULL;

    if (g_file_get_contents (path, &contents, NULL, NULL) &&
        g_ascii_strtoll (g_strstrip (contents), NULL, 10) == pid)
      return n;
  }
  return -1;
}

static void
wlroots_destroy (FhVirtualOutput *output)
{
  FhWlrootsOutput *self = (FhWlrootsOutput *) output;

  self->stopping = TRUE;
  if (self->cancellable)
    g_cancellable_cancel (self->cancellable);
  g_clear_pointer (&self->injector, fh_wlr_injector_free);
  g_clear_pointer (&self->capture, fh_screencopy_free);

  /* Apps first, then the compositor: each in its own process group. */
  if (self->app && g_subprocess_get_identifier (self->app))
    kill (-(pid_t) g_ascii_strtoll (g_subprocess_get_identifier (self->app), NULL, 10), SIGTERM);
  if (self->compositor_pid > 0)
    kill (-self->compositor_pid, SIGTERM);
  if (self->account)
    fh_launch_stop_session (output->session_id, self->account);
  /* Reap our direct children now, so nothing is left behind as a zombie. */
  if (self->app)
    g_subprocess_wait (self->app, NULL, NULL);
  if (self->compositor)
    g_subprocess_wait (self->compositor, NULL, NULL);

  /* Xwayland's sockets, should the compositor not have had the chance. */
  if (self->x_display >= 0 && self->compositor_pid > 0 &&
      find_x_display (self->compositor_pid) == self->x_display) {
    g_autofree char *lock = g_strdup_printf ("/tmp/.X%d-lock", self->x_display);
    g_autofree char *sock = g_strdup_printf ("/tmp/.X11-unix/X%d", self->x_display);
    g_unlink (sock);
    g_unlink (lock);
  }
  if (self->runtime_dir)
    fh_remove_tree (self->runtime_dir);
  if (self->log_path)
    g_unlink (self->log_path);
  if (self->app_log_path)
    g_unlink (self->app_log_path);

  g_clear_object (&self->app);
  g_clear_object (&self->compositor);
  g_clear_object (&self->cancellable);
  g_clear_pointer (&self->account, fh_account_free);
  g_free (self->session_dir);
  g_free (self->runtime_dir);
  g_free (self->socket_path);
  g_free (self->log_path);
  g_free (self->app_log_path);
  g_free (self->layout);
  fh_virtual_output_finish (output);
  g_free (self);
}

static void
on_compositor_exited (GObject *source, GAsyncResult *result, gpointer user_data)
{
  FhWlrootsOutput *self = user_data;

  /* Cancelled, or stopping: we are stopping it ourselves. */
  if (!g_subprocess_wait_finish (G_SUBPROCESS (source), result, NULL) || self->stopping)
    return;
  fh_virtual_output_fail_exited (&self->base, G_SUBPROCESS (source), self->log_path,
                                 "compositor (sway)", NULL);
}

static void
on_app_exited (GObject *source, GAsyncResult *result, gpointer user_data)
{
  FhWlrootsOutput *self = user_data;

  if (!g_subprocess_wait_finish (G_SUBPROCESS (source), result, NULL) || self->stopping)
    return;
  g_message ("session %.8s: its app exited (status %d); the desktop stays", self->base.session_id,
             g_subprocess_get_if_exited (G_SUBPROCESS (source))
               ? g_subprocess_get_exit_status (G_SUBPROCESS (source))
               : -1);
}

static void
wlroots_start (FhVirtualOutput *output)
{
  FhWlrootsOutput *self = (FhWlrootsOutput *) output;

  g_subprocess_wait_async (self->compositor, self->cancellable, on_compositor_exited, self);
  if (self->app)
    g_subprocess_wait_async (self->app, self->cancellable, on_app_exited, self);
}

static gboolean
wlroots_capture (FhVirtualOutput *output, FhFrame *frame, guint64 frame_number,
                 gint64 deadline_us, gint64 *timestamp_us, GError **error)
{
  FhWlrootsOutput *self = (FhWlrootsOutput *) output;

  return fh_screencopy_capture (self->capture, frame, deadline_us, timestamp_us, error);
}

static void
wlroots_inject (FhVirtualOutput *output, const FhInputEvent *event)
{
  FhWlrootsOutput *self = (FhWlrootsOutput *) output;
  g_autoptr (GError) error = NULL;

  /* The injector exists from creation on; it reconnects by itself. */
  if (!fh_wlr_injector_inject (self->injector, event, &error)) {
    if (!self->input_failed)
      g_warning ("session %.8s: input: %s", output->session_id, error->message);
    self->input_failed = TRUE;
  } else {
    self->input_failed = FALSE;
  }
}

static const FhVirtualOutputOps wlroots_ops = {
  .start = wlroots_start,
  .capture = wlroots_capture,
  .inject = wlroots_inject,
  .destroy = wlroots_destroy,
};

static char *
sway_config (const FhOutputRequest *request)
{
  return g_strdup_printf ("# funkhaus session %s: made by the host, removed with the session\n"
                          "output HEADLESS-1 mode --custom %ux%u@%uHz position 0 0\n"
                          "default_border none\n"
                          "default_floating_border none\n"
                          "focus_follows_mouse no\n"
                          "xwayland enable\n",
                          request->session_id, request->mode.width, request->mode.height,
                          request->mode.refresh);
}

static gboolean
start_compositor (FhWlrootsOutput *self, const FhOutputRequest *request, GError **error)
{
  g_autofree char *sway = g_find_program_in_path ("sway");
  g_autofree char *config = sway_config (request);
  g_autofree char *config_path = g_build_filename (self->runtime_dir, "sway.conf", NULL);
  g_autoptr (GSubprocessLauncher) launcher = NULL;
  gint64 deadline;

  if (!sway) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND,
                 "sway not found: install sway (apt-get install sway) or choose another backend");
    return FALSE;
  }
  if (!write_owned_file (self->account, config_path, config, error))
    return FALSE;

  if (!(launcher = fh_launch_session_launcher (self->account, self->log_path, self->runtime_dir,
                                                   self->base.session_id, error)))
    return FALSE;
  g_subprocess_launcher_setenv (launcher, "WLR_BACKENDS", "headless", TRUE);
  g_subprocess_launcher_setenv (launcher, "WLR_RENDERER", "pixman", TRUE);
  g_subprocess_launcher_setenv (launcher, "WLR_LIBINPUT_NO_DEVICES", "1", TRUE);
  self->compositor = g_subprocess_launcher_spawn (launcher, error, sway, "-c", config_path, NULL);
  if (!self->compositor) {
    g_prefix_error (error, "cannot start sway: ");
    return FALSE;
  }
  self->compositor_pid = (pid_t) g_ascii_strtoll (g_subprocess_get_identifier (self->compositor),
                                                  NULL, 10);

  /* Poll for its Wayland socket; the compositor may also die trying. */
  deadline = g_get_monotonic_time () + START_TIMEOUT_US;
  for (;;) {
    g_autoptr (GError) connect_error = NULL;

    if (!g_subprocess_get_identifier (self->compositor)) {
      g_autofree char *tail = fh_launch_log_tail (self->log_path);
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "sway exited while starting: %s", tail);
      return FALSE;
    }
    if (g_file_test (self->socket_path, G_FILE_TEST_EXISTS) &&
        (self->capture = fh_screencopy_new (self->socket_path, NULL, &connect_error)))
      break;
    if (g_get_monotonic_time () > deadline) {
      g_autofree char *tail = fh_launch_log_tail (self->log_path);
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT,
                   "sway did not come up within %d s%s%s; its log: %s",
                   (int) (START_TIMEOUT_US / G_USEC_PER_SEC), connect_error ? ": " : "",
                   connect_error ? connect_error->message : "", tail);
      return FALSE;
    }
    g_usleep (10000);
  }

  /* Xwayland's display is taken as the compositor starts. */
  deadline = g_get_monotonic_time () + G_USEC_PER_SEC;
  while ((self->x_display = find_x_display (self->compositor_pid)) < 0 &&
         g_get_monotonic_time () < deadline)
    g_usleep (10000);
  if (self->x_display < 0)
    g_message ("session %.8s: no Xwayland display found; X11 apps will not start",
               request->session_id);
  return TRUE;
}

static gboolean
start_app (FhWlrootsOutput *self, const FhOutputRequest *request,
           const FhWlrootsConfig *config, GError **error)
{
  g_autoptr (GSubprocessLauncher) launcher = NULL;
  g_auto (GStrv) argv = NULL;
  const char *app = config->app && *config->app ? config->app : DEFAULT_APP;

  if (!(launcher = fh_launch_session_launcher (self->account, self->app_log_path, self->runtime_dir,
                                                   self->base.session_id, error)))
    return FALSE;
  if (!g_shell_parse_argv (app, NULL, &argv, error)) {
    g_prefix_error (error, "cannot read the app command '%s': ", app);
    return FALSE;
  }
  g_subprocess_launcher_setenv (launcher, "WAYLAND_DISPLAY", "wayland-1", TRUE);
  {
    g_autofree char *serial = g_strdup_printf ("%u", request->serial);
    g_subprocess_launcher_setenv (launcher, "FUNKHAUS_SESSION_SERIAL", serial, TRUE);
  }
  if (self->x_display >= 0) {
    g_autofree char *display = g_strdup_printf (":%d", self->x_display);
    g_subprocess_launcher_setenv (launcher, "DISPLAY", display, TRUE);
  }
  for (char **kv = self->base.app_env; kv && *kv; kv++) {
    g_auto (GStrv) pair = g_strsplit (*kv, "=", 2);
    if (pair[0] && pair[1])
      g_subprocess_launcher_setenv (launcher, pair[0], pair[1], TRUE);
  }
  g_subprocess_launcher_set_cwd (launcher, self->account->home);
  self->app = g_subprocess_launcher_spawnv (launcher, (const char *const *) argv, error);
  if (!self->app) {
    g_prefix_error (error, "cannot start the session's app '%s' (install it or set app in "
                           "config.ini): ",
                    app);
    return FALSE;
  }
  return TRUE;
}

static FhVirtualOutput *
wlroots_create_output (const FhOutputRequest *request, GError **error)
{
  static const FhWlrootsConfig defaults = { { "wlroots" }, NULL, NULL };
  const FhWlrootsConfig *config = (const FhWlrootsConfig *) fh_backend_config_for (
    request->config, &fh_display_backend_wlroots);
  FhWlrootsOutput *self = g_new0 (FhWlrootsOutput, 1);
  FhVirtualOutput *output = &self->base;

  fh_virtual_output_init (output, &wlroots_ops, request);
  self->x_display = -1;
  self->cancellable = g_cancellable_new ();
  self->session_dir = g_strdup (request->session_dir);
  self->layout = g_strdup (request->keyboard_layout);
  self->log_path = g_build_filename (request->session_dir, "compositor.log", NULL);
  self->app_log_path = g_build_filename (request->session_dir, "app.log", NULL);

  if (!config)
    config = &defaults;
  if (!(self->account = fh_account_resolve (config->run_as ? config->run_as : "funkhaus",
                                            error)))
    goto fail;
  /* The compositor's runtime dir must belong to the account it runs as;
   * the host's own (root's, say) is not reachable for it. */
  {
    g_autofree char *base = fh_account_runtime_base (self->account, error);
    g_autofree char *name = g_strdup_printf ("funkhaus-session-%s", request->session_id);
    if (!base)
      goto fail;
    self->runtime_dir = g_build_filename (base, name, NULL);
  }
  self->socket_path = g_build_filename (self->runtime_dir, "wayland-1", NULL);
  ensure_x11_unix_dir ();
  if (!fh_account_make_dir (self->account, self->runtime_dir, error) ||
      !start_compositor (self, request, error))
    goto fail;
  self->injector = fh_wlr_injector_new (self->socket_path, request->mode.width,
                                        request->mode.height, self->layout);
  if (!fh_wlr_injector_connect (self->injector, error) || !start_app (self, request, config, error))
    goto fail;
  output->root_pids[0] = self->compositor_pid;
  output->root_pids[1] = (int) g_ascii_strtoll (g_subprocess_get_identifier (self->app), NULL, 10);
  g_message ("session %.8s: sway %d up at %ux%u@%u, Xwayland :%d, as %s", request->session_id,
             self->compositor_pid, request->mode.width, request->mode.height,
             request->mode.refresh, self->x_display, self->account->name);
  return output;

fail:
  wlroots_destroy (output);
  return NULL;
}

const FhDisplayBackend fh_display_backend_wlroots = {
  .name = "wlroots",
  .description = "one headless sway per session (CPU only), with its own input and app",
  .create_output = wlroots_create_output,
};
