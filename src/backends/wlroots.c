/* The wlroots backend: one headless sway per session (pixman renderer, CPU
 * only) in the session's sandbox (backends/sandbox.h), its own runtime dir
 * and sockets, one output at exactly the client's mode, Xwayland, and the
 * session's app, which sway starts inside the same sandbox. Capture is
 * wlr-screencopy from in-process; input goes through virtual keyboard and
 * pointer on that compositor only. */
#include "backends/wlroots.h"

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <fcntl.h>
#include <gio/gio.h>
#include <glib/gstdio.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "media/screencopy.h"
#include "backends/audio-stack.h"
#include "backends/launch.h"
#include "backends/sandbox.h"
#include "base/account.h"
#include "base/process.h"
#include "media/wlr-injector.h"

#define START_TIMEOUT_US (15 * G_USEC_PER_SEC)
/* How long a stopping compositor may take before it is killed. */
#define REAP_TIMEOUT_MS 3000
#define DEFAULT_APP "foot"

typedef struct {
  FhVirtualOutput base;
  FhSandbox *sandbox;
  FhAccount *account; /* the sandbox's */
  char *session_dir;
  const char *runtime_dir; /* the sandbox's: XDG_RUNTIME_DIR of the compositor and its apps */
  char *socket_path;
  char *log_path;
  char *app_log_path;
  char *layout;
  GSubprocess *compositor; /* the sandbox's outermost process */
  pid_t compositor_pid;
  int x_display; /* Xwayland's :N, or -1 */
  GCancellable *cancellable;
  FhScreencopy *capture; /* encode thread */
  FhWlrInjector *injector; /* main thread, made on first input */
  gboolean input_failed;
  gboolean stopping;
} FhWlrootsOutput;

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
  /* The pads before the sandbox: the apps see them go while they run. */
  g_clear_pointer (&output->pads, fh_pad_seat_free);

  /* The compositor and its apps (the app is sway's child), then every
   * process of the session the sandbox knows of. */
  if (self->compositor_pid > 0)
    kill (-self->compositor_pid, SIGTERM);
  if (self->account)
    fh_launch_stop_session (output->session_id, self->account);
  /* Reap our direct child now, so nothing is left behind as a zombie. */
  if (self->compositor && !fh_process_reap (self->compositor, REAP_TIMEOUT_MS))
    g_warning ("session %.8s: the compositor did not stop within %d ms: killed",
               output->session_id, REAP_TIMEOUT_MS);

  /* Xwayland's sockets, should the compositor not have had the chance. */
  if (self->x_display >= 0 && self->compositor_pid > 0 &&
      find_x_display (self->compositor_pid) == self->x_display) {
    g_autofree char *lock = g_strdup_printf ("/tmp/.X%d-lock", self->x_display);
    g_autofree char *sock = g_strdup_printf ("/tmp/.X11-unix/X%d", self->x_display);
    g_unlink (sock);
    g_unlink (lock);
  }
  if (self->log_path)
    g_unlink (self->log_path);
  if (self->session_dir) {
    g_autofree char *audio_log = g_build_filename (self->session_dir, "pipewire.log", NULL);
    g_unlink (audio_log);
  }
  /* Stops what is left and removes the runtime dir (and the app's log). */
  g_clear_pointer (&self->sandbox, fh_sandbox_free);

  g_clear_object (&self->compositor);
  g_clear_object (&self->cancellable);
  g_free (self->session_dir);
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
wlroots_start (FhVirtualOutput *output)
{
  FhWlrootsOutput *self = (FhWlrootsOutput *) output;

  g_subprocess_wait_async (self->compositor, self->cancellable, on_compositor_exited, self);
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

/* The refresh to ask sway for, in mHz, so that animated content reaches
 * @hz. This wlroots's headless backend waits 1000000 / mHz ms, rounded
 * down, between a frame and the next frame event, and only after sway has
 * rendered: at 75 Hz a frame came every 13 ms + render time (about 70
 * fps). Asking for a timer RENDER_BUDGET_MS shorter than the period lets
 * sway render at a little above @hz; the host's capture thread still
 * captures at exactly @hz, taking sway's next picture each time. */
#define RENDER_BUDGET_MS 2
guint
fh_wlroots_compositor_refresh_mhz (guint hz)
{
  double period_ms = 1000.0 / MAX (hz, 1u);
  guint timer_ms = (guint) MAX (1.0, floor (period_ms - RENDER_BUDGET_MS));

  /* The lowest mHz whose rounded-down delay is timer_ms. */
  return 1000000 / timer_ms;
}

/* The panel's lines of sway.conf (FhWlrootsConfig.panel): swaybar with a
 * clock, a terminal and the first launcher this machine has. */
static char *
panel_config (void)
{
  static const char *const launchers[][2] = {
    { "wmenu-run", "wmenu-run" },
    { "bemenu-run", "bemenu-run" },
    { "fuzzel", "fuzzel" },
    { "wofi", "wofi --show drun" },
    { "dmenu_run", "dmenu_run" },
  };
  g_autoptr (GString) text = g_string_new ("bar {\n"
                                           "  position top\n"
                                           "  status_command while date +'%a %H:%M'; do sleep 20; "
                                           "done\n"
                                           "}\n"
                                           "bindsym Mod4+Return exec " DEFAULT_APP "\n");

  for (gsize i = 0; i < G_N_ELEMENTS (launchers); i++) {
    g_autofree char *path = g_find_program_in_path (launchers[i][0]);
    if (path) {
      g_string_append_printf (text, "bindsym Mod4+d exec %s\n", launchers[i][1]);
      break;
    }
  }
  return g_string_free (g_steal_pointer (&text), FALSE);
}

/* sway starts the app (app.sh), so that it lives in the sway's sandbox
 * and gets its WAYLAND_DISPLAY and DISPLAY. */
static char *
sway_config (const FhOutputRequest *request, const char *app_script, gboolean panel)
{
  guint mhz = fh_wlroots_compositor_refresh_mhz (request->mode.refresh);
  g_autofree char *panel_lines = panel ? panel_config () : NULL;

  return g_strdup_printf ("# funkhaus session %s: made by the host, removed with the session\n"
                          "# asked for %u Hz: sway's timer runs a little faster, the host\n"
                          "# captures at %u Hz\n"
                          "output HEADLESS-1 mode --custom %ux%u@%u.%03uHz position 0 0\n"
                          "default_border none\n"
                          "default_floating_border none\n"
                          "focus_follows_mouse no\n"
                          "xwayland enable\n"
                          "%s"
                          "exec /bin/sh %s\n",
                          request->session_id, request->mode.refresh, request->mode.refresh,
                          request->mode.width, request->mode.height, mhz / 1000, mhz % 1000,
                          panel_lines ? panel_lines : "", app_script);
}

/* app.sh: the session's app, its output in app.log beside it. */
static gboolean
write_app_script (FhWlrootsOutput *self, const char *app, const char *mic, const char *path,
                  GError **error)
{
  g_auto (GStrv) argv = NULL;
  g_autoptr (GString) script = g_string_new ("#!/bin/sh\n# the session's app, started by sway\n");

  /* The host makes the session's speaker and microphone in its own
   * PipeWire once the desktop is up, a moment after sway: an app that
   * recorded before its microphone existed would get the stack's fallback
   * (the speaker's monitor). Wait for it, briefly. */
  if (mic) {
    g_autofree char *quoted = g_shell_quote (mic);
    g_string_append_printf (script,
                            "i=0\n"
                            "while [ $i -lt 100 ] && ! timeout -s KILL 1 pw-cli ls Node 2>/dev/null "
                            "| grep -qF %s; do sleep 0.05; i=$((i+1)); done\n",
                            quoted);
  }
  /* The pads' environment is the app's, not sway's. */
  for (const char *const *e = fh_sandbox_get_pad_env (self->sandbox); *e; e++) {
    g_autofree char *quoted = g_shell_quote (*e);
    g_string_append_printf (script, "export %s\n", quoted);
  }
  g_string_append (script, "exec");
  if (!g_shell_parse_argv (app, NULL, &argv, error)) {
    g_prefix_error (error, "cannot read the app command '%s': ", app);
    return FALSE;
  }
  for (char **a = argv; *a; a++) {
    g_autofree char *quoted = g_shell_quote (*a);
    g_string_append_printf (script, " %s", quoted);
  }
  {
    g_autofree char *log = g_shell_quote (self->app_log_path);
    g_string_append_printf (script, " >>%s 2>&1\n", log);
  }
  return fh_account_write_file (self->account, path, script->str, 0600, error);
}

static gboolean
start_compositor (FhWlrootsOutput *self, const FhOutputRequest *request,
                  const FhWlrootsConfig *config, GError **error)
{
  g_autofree char *sway = g_find_program_in_path ("sway");
  g_autofree char *app_script = g_build_filename (self->runtime_dir, "app.sh", NULL);
  g_autofree char *sway_conf = sway_config (request, app_script, config->panel);
  g_autofree char *config_path = g_build_filename (self->runtime_dir, "sway.conf", NULL);
  g_autofree char *serial = g_strdup_printf ("FUNKHAUS_SESSION_SERIAL=%u", request->serial);
  const char *app = config->app && *config->app ? config->app : DEFAULT_APP;
  g_autoptr (GStrvBuilder) env = g_strv_builder_new ();
  g_auto (GStrv) envv = NULL;
  const char *argv[] = { "sway", "-c", config_path, NULL };
  gint64 deadline;

  if (!sway) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND,
                 "sway not found: install sway (apt-get install sway) or choose another backend");
    return FALSE;
  }
  if (!fh_account_write_file (self->account, config_path, sway_conf, 0600, error) ||
      !write_app_script (self, app, request->mic_name, app_script, error))
    return FALSE;

  /* sway passes its environment on to the app: the session's own. */
  g_strv_builder_add_many (env, "WLR_BACKENDS=headless", "WLR_RENDERER=pixman",
                           "WLR_LIBINPUT_NO_DEVICES=1", serial, NULL);
  g_strv_builder_addv (env, (const char **) self->base.app_env);
  envv = g_strv_builder_end (env);
  self->compositor = fh_sandbox_spawn (self->sandbox, self->log_path,
                                       (const char *const *) envv, TRUE, argv, error);
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
        (self->capture = fh_screencopy_new (self->socket_path, NULL, request->mode.refresh,
                                            &connect_error)))
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

  /* Xwayland's display is taken as the compositor starts; in a sandbox it
   * is in the sandbox's own /tmp, which the host does not see. */
  if (fh_sandbox_is_isolated (self->sandbox))
    return TRUE;
  deadline = g_get_monotonic_time () + G_USEC_PER_SEC;
  while ((self->x_display = find_x_display (self->compositor_pid)) < 0 &&
         g_get_monotonic_time () < deadline)
    g_usleep (10000);
  if (self->x_display < 0)
    g_message ("session %.8s: no Xwayland display found; X11 apps will not start",
               request->session_id);
  return TRUE;
}

static FhVirtualOutput *
wlroots_create_output (const FhOutputRequest *request, GError **error)
{
  static const FhWlrootsConfig defaults = { { "wlroots" }, NULL, { .run_as = "funkhaus" } };
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

  if (!config)
    config = &defaults;
  if (!(self->sandbox = fh_sandbox_new (&config->sandbox, request->device, request->session_id,
                                        error)))
    goto fail;
  self->account = fh_sandbox_get_account (self->sandbox);
  self->runtime_dir = fh_sandbox_get_runtime_dir (self->sandbox);
  self->app_log_path = g_build_filename (self->runtime_dir, "app.log", NULL);
  self->socket_path = g_build_filename (self->runtime_dir, "wayland-1", NULL);
  /* sway offers wlr-data-control: the session's clipboard. */
  output->clipboard_socket = g_strdup (self->socket_path);
  if (!fh_sandbox_is_isolated (self->sandbox))
    ensure_x11_unix_dir ();
  if (!fh_sandbox_make_pads (self->sandbox, &output->pads, error))
    goto fail;
  /* Audio of its own, before sway and the app start: they find it. */
  if (request->speaker_name) {
    g_autofree char *remote = NULL;
    if (!fh_audio_stack_start (self->sandbox, request->session_dir, &remote, error))
      goto fail;
    output->app_env = fh_audio_stack_add_app_env (output->app_env, self->runtime_dir,
                                                  request->speaker_name, request->mic_name);
    output->pipewire_remote = g_steal_pointer (&remote);
  }
  if (!start_compositor (self, request, config, error))
    goto fail;
  self->injector = fh_wlr_injector_new (self->socket_path, request->mode.width,
                                        request->mode.height, self->layout);
  if (!fh_wlr_injector_connect (self->injector, error))
    goto fail;
  /* Every process of the session descends from the sandbox's outermost. */
  output->root_pids[0] = self->compositor_pid;
  g_message ("session %.8s: sway %d up at %ux%u@%u, %s, as %s, home %s", request->session_id,
             self->compositor_pid, request->mode.width, request->mode.height,
             request->mode.refresh,
             fh_sandbox_is_isolated (self->sandbox) ? "in its sandbox" : "not sandboxed",
             self->account->name, fh_sandbox_get_home (self->sandbox));
  return output;

fail:
  wlroots_destroy (output);
  return NULL;
}

const FhDisplayBackend fh_display_backend_wlroots = {
  .name = "wlroots",
  .description = "one headless sway per session (CPU only), with its own input and app",
  .own_audio = TRUE,
  .create_output = wlroots_create_output,
};
