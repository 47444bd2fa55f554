/* The gamescope backend: one gamescope per session, headless, at exactly
 * the client's mode, with the session's app inside. Each instance has its
 * own EIS socket; a relay started by gamescope as its child writes that
 * socket's name ($LIBEI_SOCKET) into a file of its own under the session's
 * runtime dir, and the session's injector (libei) reads it from there,
 * lazily on the first input event. Video comes from the PipeWire node the
 * instance exports, which gamescope names in its log. Needs a GPU; the
 * tests run it against tests/doubles/gamescope-standin.
 *
 * Like a wlroots session, an instance is a sandbox (backends/sandbox.h):
 * gamescope and its app run as the session's device account, behind the
 * same walls (with the GPU's render node), beside a PipeWire of the
 * session's own (backends/audio-stack.h) that carries its speaker and
 * microphone and the video node gamescope exports. The host captures that
 * node from there: no other session's app can see it. */
#include "backends/gamescope.h"

#include <errno.h>
#include <fcntl.h>
#include <gio/gio.h>
#include <glib/gstdio.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <spa/utils/defs.h>
#include <unistd.h>

#include "media/pipewire-video.h"
#include "backends/audio-stack.h"
#include "backends/launch.h"
#include "backends/sandbox.h"
#include "base/account.h"
#include "base/process.h"
#include "media/ei-injector.h"

#define START_TIMEOUT_US (20 * G_USEC_PER_SEC)
/* How long a stopping gamescope may take before it is killed. */
#define REAP_TIMEOUT_MS 3000
/* How long to wait for gamescope's log line naming its video node before
 * looking for the node in PipeWire's registry instead. */
#define NODE_LOG_TIMEOUT_US (5 * G_USEC_PER_SEC)
#define NODE_SEARCH_MS 100
#define DEFAULT_APP "foot"
#define MIN_MAJOR 3
#define MIN_MINOR 16
#define MIN_MICRO 22
#define NODE_LINE "stream available on node ID: "
/* The relay: gamescope's child; writes LIBEI_SOCKET into the file named
 * first (atomically: never a half-written name), then becomes the app. */
#define RELAY_SCRIPT                                                                             \
  "printf '%s' \"$LIBEI_SOCKET\" > \"$1.new\" && mv \"$1.new\" \"$1\"; shift; exec \"$@\""

typedef struct {
  FhVirtualOutput base;
  FhSandbox *sandbox;
  FhAccount *account; /* the sandbox's */
  /* The host's connection to the session's own PipeWire, for the video. */
  FhPipeWire *pipewire;
  const char *runtime_dir; /* the sandbox's: XDG_RUNTIME_DIR of gamescope and its apps */
  char *relay_path; /* holds the instance's $LIBEI_SOCKET */
  char *log_path;
  GSubprocess *gamescope;
  pid_t pid;
  guint32 node_id; /* SPA_ID_INVALID until known */
  GCancellable *cancellable;
  FhPwVideo *video; /* made on the main thread; read atomically by capture */
  guint node_search;
  gint64 node_search_end_us;
  FhEiInjector *injector; /* main thread; connects on the first event */
  gboolean stopping;
} FhGamescopeOutput;

static void
gamescope_destroy (FhVirtualOutput *output)
{
  FhGamescopeOutput *self = (FhGamescopeOutput *) output;

  self->stopping = TRUE;
  if (self->cancellable)
    g_cancellable_cancel (self->cancellable);
  g_clear_handle_id (&self->node_search, g_source_remove);
  g_clear_pointer (&self->injector, fh_ei_injector_free);
  g_clear_pointer (&self->video, fh_pw_video_free); /* the encode thread is gone */
  g_clear_pointer (&self->pipewire, fh_pipewire_free);
  /* The pads before the sandbox: the apps see them go while they run. */
  g_clear_pointer (&output->pads, fh_pad_seat_free);
  /* gamescope's sandbox leads its own process group; the sandbox stops
   * the rest (its PipeWire with it) and removes the runtime dir, the
   * relay file with it. */
  if (self->pid > 0)
    kill (-self->pid, SIGTERM);
  g_clear_pointer (&self->sandbox, fh_sandbox_free);
  if (self->gamescope && !fh_process_reap (self->gamescope, REAP_TIMEOUT_MS))
    g_warning ("session %.8s: gamescope did not stop within %d ms: killed", output->session_id,
               REAP_TIMEOUT_MS);
  if (self->log_path)
    g_unlink (self->log_path);
  g_clear_object (&self->gamescope);
  g_clear_object (&self->cancellable);
  g_free (self->relay_path);
  g_free (self->log_path);
  fh_virtual_output_finish (output);
  g_free (self);
}

static void
on_gamescope_exited (GObject *source, GAsyncResult *result, gpointer user_data)
{
  FhGamescopeOutput *self = user_data;

  if (!g_subprocess_wait_finish (G_SUBPROCESS (source), result, NULL) || self->stopping)
    return;
  fh_virtual_output_fail_exited (&self->base, G_SUBPROCESS (source), self->log_path, "gamescope",
                                 " (its app ended, or it failed)");
}

static void
capture_node (FhGamescopeOutput *self)
{
  fh_virtual_output_capture_node (&self->base, self->pipewire, self->node_id, &self->video,
                                  "gamescope");
}

/* gamescope named no node in its log: find the Video/Source its process
 * exports in PipeWire's registry. */
static gboolean
on_node_search (gpointer data)
{
  FhGamescopeOutput *self = data;
  FhVirtualOutput *output = &self->base;

  /* The session's own PipeWire holds no other session's nodes. */
  self->node_id = fh_pipewire_find_video_source (self->pipewire, NULL, 0);
  if (self->node_id != SPA_ID_INVALID) {
    g_message ("session %.8s: found gamescope's video node %u in PipeWire's registry",
               output->session_id, self->node_id);
    self->node_search = 0;
    capture_node (self);
    return G_SOURCE_REMOVE;
  }
  if (g_get_monotonic_time () < self->node_search_end_us)
    return G_SOURCE_CONTINUE;
  self->node_search = 0;
  if (output->on_failed)
    output->on_failed (output, "gamescope exports no PipeWire video node (none named in its log, "
                               "none of its process in the registry)",
                       output->user_data);
  return G_SOURCE_REMOVE;
}

static void
gamescope_start (FhVirtualOutput *output)
{
  FhGamescopeOutput *self = (FhGamescopeOutput *) output;

  g_subprocess_wait_async (self->gamescope, self->cancellable, on_gamescope_exited, self);
  if (self->node_id != SPA_ID_INVALID) {
    capture_node (self);
    return;
  }
  self->node_search_end_us = g_get_monotonic_time () + START_TIMEOUT_US;
  self->node_search = g_timeout_add (NODE_SEARCH_MS, on_node_search, self);
}

static gboolean
gamescope_capture (FhVirtualOutput *output, FhFrame *frame, guint64 frame_number,
                   gint64 deadline_us, gint64 *timestamp_us, GError **error)
{
  FhGamescopeOutput *self = (FhGamescopeOutput *) output;

  /* NULL while its node is still being looked for: nothing new yet. */
  return fh_pw_video_capture_pending (&self->video, frame, deadline_us, timestamp_us, error);
}

static void
gamescope_inject (FhVirtualOutput *output, const FhInputEvent *event)
{
  FhGamescopeOutput *self = (FhGamescopeOutput *) output;

  fh_ei_injector_inject (self->injector, event);
}

static const FhVirtualOutputOps gamescope_ops = {
  .start = gamescope_start,
  .capture = gamescope_capture,
  .inject = gamescope_inject,
  .destroy = gamescope_destroy,
};

/* "3.16.22" or better, from `gamescope --version`, run as the account. */
static gboolean
check_version (FhGamescopeOutput *self, char **argv, GError **error)
{
  g_autoptr (GSubprocessLauncher) launcher = fh_account_new_launcher (
    self->account, G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_MERGE);
  g_autoptr (GStrvBuilder) builder = g_strv_builder_new ();
  g_auto (GStrv) version_argv = NULL;
  g_autoptr (GSubprocess) process = NULL;
  g_autofree char *out = NULL;
  g_autoptr (GRegex) regex = g_regex_new ("(\\d+)\\.(\\d+)\\.(\\d+)", 0, 0, NULL);
  g_autoptr (GMatchInfo) match = NULL;
  guint v[3];

  g_strv_builder_addv (builder, (const char **) argv);
  g_strv_builder_add (builder, "--version");
  version_argv = g_strv_builder_end (builder);
  g_subprocess_launcher_setenv (launcher, "XDG_RUNTIME_DIR", self->runtime_dir, TRUE);
  if (!(process = g_subprocess_launcher_spawnv (launcher, (const char *const *) version_argv,
                                               error))) {
    g_prefix_error (error, "gamescope not found (install gamescope 3.16.22 or newer, from "
                           "trixie-backports, or set gamescope= in config.ini): ");
    return FALSE;
  }
  if (!g_subprocess_communicate_utf8 (process, NULL, NULL, &out, NULL, error))
    return FALSE;
  if (!g_regex_match (regex, out ? out : "", 0, &match)) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
                 "cannot tell gamescope's version from '%s --version': %.200s", argv[0],
                 out ? out : "");
    return FALSE;
  }
  for (int i = 0; i < 3; i++) {
    g_autofree char *part = g_match_info_fetch (match, i + 1);
    v[i] = (guint) g_ascii_strtoull (part, NULL, 10);
  }
  if (v[0] < MIN_MAJOR || (v[0] == MIN_MAJOR && (v[1] < MIN_MINOR ||
                                                  (v[1] == MIN_MINOR && v[2] < MIN_MICRO)))) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
                 "gamescope %u.%u.%u is too old: the gamescope backend needs 3.16.22 or newer "
                 "(headless backend and EIS; Debian 13 trixie-backports has it)",
                 v[0], v[1], v[2]);
    return FALSE;
  }
  return TRUE;
}

/* Waits for gamescope to name its PipeWire node in its log. Without the
 * line in time the node stays unknown: start() looks for it in PipeWire's
 * registry. */
static gboolean
wait_for_node (FhGamescopeOutput *self, GError **error)
{
  gint64 deadline = g_get_monotonic_time () + NODE_LOG_TIMEOUT_US;

  for (;;) {
    g_autofree char *log = NULL;
    const char *line;

    if (g_file_get_contents (self->log_path, &log, NULL, NULL) &&
        (line = strstr (log, NODE_LINE))) {
      self->node_id = (guint32) g_ascii_strtoull (line + strlen (NODE_LINE), NULL, 10);
      return TRUE;
    }
    if (!g_subprocess_get_identifier (self->gamescope)) {
      g_autofree char *tail = fh_launch_log_tail (self->log_path);
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "gamescope exited while starting: %s",
                   tail);
      return FALSE;
    }
    if (g_get_monotonic_time () > deadline) {
      g_message ("session %.8s: gamescope named no video node in its log within %d s; looking "
                 "for it in PipeWire's registry",
                 self->base.session_id, (int) (NODE_LOG_TIMEOUT_US / G_USEC_PER_SEC));
      self->node_id = SPA_ID_INVALID;
      return TRUE;
    }
    g_usleep (10000);
  }
}

static gboolean
start_gamescope (FhGamescopeOutput *self, const FhOutputRequest *request,
                 const FhGamescopeConfig *config, GError **error)
{
  g_auto (GStrv) command = NULL, app = NULL;
  g_autoptr (GStrvBuilder) builder = g_strv_builder_new ();
  g_autoptr (GStrvBuilder) env = g_strv_builder_new ();
  g_auto (GStrv) argv = NULL, envv = NULL;
  g_autofree char *w = g_strdup_printf ("%u", request->mode.width);
  g_autofree char *h = g_strdup_printf ("%u", request->mode.height);
  g_autofree char *r = g_strdup_printf ("%u", request->mode.refresh);
  g_autofree char *serial = g_strdup_printf ("FUNKHAUS_SESSION_SERIAL=%u", request->serial);

  if (!g_shell_parse_argv (config->command && *config->command ? config->command : "gamescope",
                           NULL, &command, error) ||
      !g_shell_parse_argv (config->app && *config->app ? config->app : DEFAULT_APP, NULL, &app,
                           error)) {
    g_prefix_error (error, "cannot read the gamescope or app command: ");
    return FALSE;
  }
  if (!check_version (self, command, error))
    return FALSE;

  g_strv_builder_addv (builder, (const char **) command);
  g_strv_builder_add_many (builder, "--backend", "headless", "-W", w, "-H", h, "-w", w, "-h", h,
                           "-r", r, "--xwayland-count", "1", "--", "/bin/sh", "-c", RELAY_SCRIPT,
                           "funkhaus-ei-relay", self->relay_path, NULL);
  /* The pads' environment is the app's, not gamescope's. */
  if (*fh_sandbox_get_pad_env (self->sandbox) != NULL) {
    g_strv_builder_add (builder, "env");
    g_strv_builder_addv (builder, (const char **) fh_sandbox_get_pad_env (self->sandbox));
  }
  g_strv_builder_addv (builder, (const char **) app);
  argv = g_strv_builder_end (builder);

  /* The session's speaker, microphone and PipeWire; never the host's
   * DISPLAY or WAYLAND_DISPLAY (the sandbox's environment starts empty). */
  g_strv_builder_add (env, serial);
  g_strv_builder_addv (env, (const char **) self->base.app_env);
  envv = g_strv_builder_end (env);
  if (!(self->gamescope = fh_sandbox_spawn (self->sandbox, self->log_path,
                                            (const char *const *) envv, TRUE,
                                            (const char *const *) argv, error)))
    return FALSE;
  self->pid = (pid_t) g_ascii_strtoll (g_subprocess_get_identifier (self->gamescope), NULL, 10);
  return wait_for_node (self, error);
}

static FhVirtualOutput *
gamescope_create_output (const FhOutputRequest *request, GError **error)
{
  static const FhGamescopeConfig defaults = { { "gamescope" }, NULL, NULL,
                                              { .run_as = "funkhaus" } };
  const FhGamescopeConfig *config = (const FhGamescopeConfig *) fh_backend_config_for (
    request->config, &fh_display_backend_gamescope);
  FhGamescopeOutput *self = g_new0 (FhGamescopeOutput, 1);
  FhVirtualOutput *output = &self->base;
  g_autofree char *remote = NULL;

  fh_virtual_output_init (output, &gamescope_ops, request);
  self->cancellable = g_cancellable_new ();
  self->node_id = SPA_ID_INVALID;
  self->log_path = g_build_filename (request->session_dir, "gamescope.log", NULL);
  if (!config)
    config = &defaults;
  if (!(self->sandbox = fh_sandbox_new (&config->sandbox, request->device, request->session_id,
                                        error)))
    goto fail;
  self->account = fh_sandbox_get_account (self->sandbox);
  self->runtime_dir = fh_sandbox_get_runtime_dir (self->sandbox);
  /* One relay file per instance, in a directory no other instance uses. */
  self->relay_path = g_build_filename (self->runtime_dir, "libei-socket", NULL);
  if (!fh_sandbox_make_pads (self->sandbox, &output->pads, error))
    goto fail;
  /* A PipeWire of its own, before gamescope starts: gamescope exports its
   * picture there, the app plays and records there. With audio off it
   * still carries the picture (and no speaker or microphone). */
  if (!fh_audio_stack_start (self->sandbox, request->session_dir, &remote, error))
    goto fail;
  output->app_env = fh_audio_stack_add_app_env (output->app_env, self->runtime_dir,
                                                request->speaker_name, request->mic_name);
  if (request->speaker_name)
    output->pipewire_remote = g_strdup (remote);
  if (!(self->pipewire = fh_pipewire_connect (remote, error))) {
    g_prefix_error (error, "the gamescope backend takes its video from the session's PipeWire: ");
    goto fail;
  }
  if (!start_gamescope (self, request, config, error))
    goto fail;
  self->injector = fh_ei_injector_new (self->relay_path, self->runtime_dir, request->mode.width,
                                       request->mode.height);
  output->root_pids[0] = self->pid;
  g_message ("session %.8s: gamescope %d up at %ux%u@%u, %s, as %s, home %s, video node %u, "
             "relay file %s",
             request->session_id, self->pid, request->mode.width, request->mode.height,
             request->mode.refresh,
             fh_sandbox_is_isolated (self->sandbox) ? "in its sandbox" : "not sandboxed",
             self->account->name, fh_sandbox_get_home (self->sandbox), self->node_id,
             self->relay_path);
  return output;

fail:
  gamescope_destroy (output);
  return NULL;
}

/* gamescope renders with a GPU: without its program or a render node a
 * session could only fail. A gamescope= command that is not gamescope
 * itself (a wrapper, the tests' stand-in) is taken at its word: only that
 * it exists is checked. */
static gboolean
gamescope_check (const FhBackendConfig *base, GError **error)
{
  const FhGamescopeConfig *config = (const FhGamescopeConfig *) base;
  g_auto (GStrv) command = NULL;
  g_autofree char *program = NULL, *base_name = NULL;
  g_autoptr (GDir) dri = NULL;
  const char *name;
  gboolean render = FALSE;

  if (!g_shell_parse_argv (config && config->command && *config->command ? config->command
                                                                         : "gamescope",
                           NULL, &command, error)) {
    g_prefix_error (error, "cannot read the gamescope command: ");
    return FALSE;
  }
  if (!(program = g_find_program_in_path (command[0]))) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND,
                 "%s is not installed: install gamescope (or set gamescope= in config.ini)",
                 command[0]);
    return FALSE;
  }
  base_name = g_path_get_basename (command[0]);
  if (!g_str_equal (base_name, "gamescope"))
    return TRUE;
  if ((dri = g_dir_open ("/dev/dri", 0, NULL))) {
    while (!render && (name = g_dir_read_name (dri)))
      render = g_str_has_prefix (name, "renderD");
  }
  if (!render) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
                 "gamescope needs a GPU, and this machine has no render node in /dev/dri");
    return FALSE;
  }
  return TRUE;
}

const FhDisplayBackend fh_display_backend_gamescope = {
  .name = "gamescope",
  .description = "one headless gamescope per session (needs a GPU), input through its own EIS "
                 "socket",
  .own_audio = TRUE,
  .create_output = gamescope_create_output,
  .check = gamescope_check,
};
