/* The host: makes the core from the config, makes the planes and adds them
 * to it, runs the control socket, prints the banner and the prompts the
 * host's user answers on the command line. */
#include "app/host.h"

#include <glib/gstdio.h>
#include <stdio.h>

#include "fh-config.h"
#include "app/control-socket.h"
#include "backends/gamescope.h"
#include "backends/leftovers.h"
#include "backends/wlroots.h"
#include "planes/gamestream/plane.h"
#include "planes/web/plane.h"

/* One backend's settings, in its own struct. */
typedef union {
  FhBackendConfig base;
  FhWlrootsConfig wlroots;
  FhGamescopeConfig gamescope;
} HostBackendConfig;

struct _FhHost {
  FhConfig *config;
  FhCore *core;
  FhWebPlane *web;  /* owned by the core */
  FhGsPlane *gs;    /* owned by the core; NULL: gamestream=off */
  /* The apps (FhCoreApp), the settings of each app's backend with its
   * command in them (HostBackendConfig), and why an app cannot start
   * here (strings): all outlive the core. */
  GArray *apps;
  GPtrArray *backend_configs;
  GPtrArray *reasons;
  char *control_path;
  FhControl *control;
  guint prompt_observer;
  gboolean started;
  /* The sessions' pads: how they are made, why (for the banner), the
   * shim on this host. */
  FhPadMethod pads;
  char *pads_why;
  char *pad_shim;
};

static void
print_line (const char *line, gpointer data)
{
  printf ("%s\n", line);
  fflush (stdout);
}

/* A device asks to view the shared desktop: the host's user answers here. */
static void
on_prompt (FhPrompt *prompt, FhPromptState state, const char *detail, gpointer data)
{
  const char *id = fh_prompt_get_id (prompt);

  if (state != FH_PROMPT_WAITING)
    return;
  if (fh_prompt_get_kind (prompt) == FH_PROMPT_JOIN)
    printf ("device %s at %s asks to view the shared desktop: 'funkhaus approve %s' lets it in, "
            "'funkhaus deny %s' does not (%u s)\n",
            fh_prompt_get_who (prompt), fh_prompt_get_from (prompt), id, id,
            fh_prompt_get_timeout (prompt));
  else if (fh_prompt_get_kind (prompt) == FH_PROMPT_GUEST)
    printf ("device %s at %s asks to join session %.8s as a guest: its client is asked; "
            "'funkhaus approve %s [full|controller|view]' lets it in, 'funkhaus deny %s' does "
            "not (%u s)\n",
            fh_prompt_get_who (prompt), fh_prompt_get_from (prompt),
            fh_prompt_get_about (prompt), id, id, fh_prompt_get_timeout (prompt));
  else
    return;
  fflush (stdout);
}

/* The settings of the backend the config chose, in its own struct. */
/* Which pads the sessions get on this host, and why, before the backend
 * config takes them: a user-space pad needs the sandbox and the shim; a
 * missing one turns pads off with a reason, it is no failure. */
static gboolean
choose_pads (FhHost *self, GError **error)
{
  const FhConfig *config = self->config;
  const char *shim = g_getenv ("FUNKHAUS_PAD_SHIM");
  g_autofree char *why = NULL;
  g_autofree char *bwrap = g_find_program_in_path ("bwrap");

  self->pad_shim = g_strdup (shim != NULL && *shim != '\0' ? shim : FH_PAD_SHIM);
  if (!fh_pads_choose (config->pads, &self->pads, &why, error))
    return FALSE;
  if (self->pads != FH_PAD_METHOD_OFF && config->session_pads == 0) {
    self->pads = FH_PAD_METHOD_OFF;
    self->pads_why = g_strdup ("off (session-pads=0)");
  } else if (self->pads != FH_PAD_METHOD_OFF &&
             (!g_str_equal (config->sandbox, "on") || bwrap == NULL)) {
    self->pads = FH_PAD_METHOD_OFF;
    self->pads_why = g_strdup_printf ("off: a session's pads live in its sandbox, and %s",
                                      bwrap == NULL ? "bwrap is not installed"
                                                    : "sandbox=off");
  } else if (self->pads == FH_PAD_METHOD_USER &&
             !g_file_test (self->pad_shim, G_FILE_TEST_IS_REGULAR)) {
    self->pads = FH_PAD_METHOD_OFF;
    self->pads_why = g_strdup_printf ("off: %s; the shim %s is missing (install it, or set "
                                      "FUNKHAUS_PAD_SHIM)", why, self->pad_shim);
  } else if (self->pads != FH_PAD_METHOD_OFF) {
    self->pads_why = g_strdup_printf ("%s, %u per session", why, config->session_pads);
  } else {
    self->pads_why = g_steal_pointer (&why);
  }
  return TRUE;
}

/* @backend's settings with @app (a command, or NULL: its default) in
 * them (and a panel, where the backend has one), or NULL for a backend
 * that has none. */
static const FhBackendConfig *
backend_config (FhHost *self, const FhDisplayBackend *backend, const char *app, gboolean panel)
{
  const FhConfig *config = self->config;
  HostBackendConfig *made;

  FhSandboxConfig sandbox = {
    .homes_dir = config->homes_dir,
    .run_as = config->run_as,
    .isolate = g_str_equal (config->sandbox, "on"),
    .nice = (int) config->app_nice,
    .cgroup = {
      .enabled = g_str_equal (config->session_cgroups, "on"),
      .cpu_weight = config->session_cpu_weight,
      .memory_max_mib = config->session_memory_mib,
    },
    .binds = (const char *const *) config->sandbox_binds,
    .pads = self->pads,
    .max_pads = config->session_pads,
    .pad_shim = self->pad_shim,
  };

  if (backend != &fh_display_backend_wlroots && backend != &fh_display_backend_gamescope)
    return NULL;
  made = g_new0 (HostBackendConfig, 1);
  if (backend == &fh_display_backend_wlroots) {
    made->wlroots = (FhWlrootsConfig) {
      .base = { backend->name },
      .app = app,
      .panel = panel,
      .sandbox = sandbox,
    };
  } else {
    made->gamescope = (FhGamescopeConfig) {
      .base = { backend->name },
      .command = config->gamescope,
      .app = app,
      .sandbox = sandbox,
    };
  }
  g_ptr_array_add (self->backend_configs, made);
  return &made->base;
}

/* Adds app @name: @command on @backend; one that cannot start here stays
 * in the list, with the reason, for the clients to show. */
static void
add_app (FhHost *self, const char *name, const FhDisplayBackend *backend, const char *command,
         const char *icon, gboolean panel)
{
  g_autoptr (GError) error = NULL;
  FhCoreApp app = {
    .name = name,
    .backend = backend,
    .backend_config = backend_config (self, backend, command, panel),
    .icon = icon && *icon ? icon : NULL,
  };

  if (!fh_display_backend_check (backend, app.backend_config, &error)) {
    app.unavailable = error->message;
    g_ptr_array_add (self->reasons, g_steal_pointer (&error->message));
    g_message ("app '%s' cannot start here: %s", name, app.unavailable);
  }
  g_array_append_val (self->apps, app);
}

/* The owner's list, else the default one: the desktop of today (the
 * host's backend with app=), and Steam's Big Picture in gamescope where
 * Steam is installed. The core adds the shared desktop where there is one. */
static gboolean
make_apps (FhHost *self, const FhDisplayBackend *host_backend, GError **error)
{
  const FhConfig *config = self->config;
  g_autofree char *steam = NULL;

  if (config->apps->len == 0) {
    /* On a bare box (no app=) the desktop gets a panel around its terminal. */
    add_app (self, "Desktop", host_backend, config->app, NULL, config->app == NULL);
    if ((steam = g_find_program_in_path ("steam")))
      add_app (self, "Steam Big Picture", &fh_display_backend_gamescope, "steam -gamepadui",
               NULL, FALSE);
    return TRUE;
  }
  for (guint i = 0; i < config->apps->len; i++) {
    const FhConfigApp *entry = config->apps->pdata[i];
    const FhDisplayBackend *backend =
      fh_display_backend_lookup (entry->backend ? entry->backend : config->backend, error);
    if (!backend) {
      g_prefix_error (error, "app '%s': ", entry->name);
      return FALSE;
    }
    add_app (self, entry->name, backend, entry->command ? entry->command : config->app,
             entry->icon, FALSE);
  }
  return TRUE;
}

FhHost *
fh_host_new (FhConfig *config, GError **error)
{
  g_autoptr (FhHost) self = g_new0 (FhHost, 1);
  const FhDisplayBackend *backend;
  FhCoreConfig core = { 0 };

  self->config = config;
  self->control_path = g_build_filename (config->runtime_dir, "control.sock", NULL);
  if (!(backend = fh_display_backend_lookup (config->backend, error)))
    return NULL;
  if (!choose_pads (self, error))
    return NULL;
  self->apps = g_array_new (FALSE, FALSE, sizeof (FhCoreApp));
  self->backend_configs = g_ptr_array_new_with_free_func (g_free);
  self->reasons = g_ptr_array_new_with_free_func (g_free);
  if (!make_apps (self, backend, error))
    return NULL;
  core = (FhCoreConfig) {
    .config_dir = config->config_dir,
    .runtime_dir = config->runtime_dir,
    .backend = backend,
    .backend_config = backend_config (self, backend, config->app, config->app == NULL),
    .apps = (const FhCoreApp *) (gpointer) self->apps->data,
    .n_apps = self->apps->len,
    .grace_seconds = config->grace_seconds,
    .bitrate_kbps = config->bitrate_kbps,
    .fixed_bitrate = g_strcmp0 (config->bitrate_adaptation, "off") == 0,
    .encoder_preset = config->encoder_preset,
    .encoder_threads = config->encoder_threads,
    .keyboard_layout = config->keyboard_layout,
    .run_as = config->run_as,
    .audio = config->audio,
    .shared_desktop = {
      .which = config->shared_desktop,
      .wayland_socket = config->shared_wayland,
      .dbus_address = config->shared_dbus,
      .pipewire_remote = *config->shared_pipewire ? config->shared_pipewire : NULL,
      .keyboard_layout = config->keyboard_layout,
      .max_views = config->shared_max_views,
    },
  };
  /* fh_config_check let only known words through. */
  fh_access_level_from_string (config->default_level, &core.default_level);
  if (!fh_join_policy_from_string (config->shared_join, &core.shared_join)) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                 "shared-join must be allow, ask or deny, not '%s'", config->shared_join);
    return NULL;
  }
  if (!(self->core = fh_core_new (&core, error)))
    return NULL;

  {
    FhWebPlaneConfig web = {
      .port = config->port,
      .request_timeout_s = config->http_request_timeout_seconds,
      .max_per_address = config->http_max_connections_per_address,
      .web_dir = config->web_dir,
      .metrics = FH_WEB_METRICS_LOCALHOST,
      .config_dir = config->config_dir,
    };
    /* fh_config_check let only known words through. */
    fh_web_metrics_access_from_string (config->metrics, &web.metrics);
    if (!(self->web = fh_web_plane_new (self->core, &web, error)))
      return NULL;
    fh_core_add_plane (self->core, fh_web_plane_get_plane (self->web));
  }
  if (!g_str_equal (config->gamestream, "off")) {
    FhGsPlaneConfig gs = {
      .required = g_str_equal (config->gamestream, "on"),
      .config_dir = config->config_dir,
      .http_port = config->gamestream_http_port,
      .https_port = config->gamestream_https_port,
      .rtsp_port = config->gamestream_rtsp_port,
      .video_port = config->gamestream_video_port,
      .control_port = config->gamestream_control_port,
      .audio_port = config->gamestream_audio_port,
      .announce = print_line,
    };
    if (!(self->gs = fh_gs_plane_new (self->core, &gs, error)))
      return NULL;
    fh_core_add_plane (self->core, fh_gs_plane_get_plane (self->gs));
  }
  return g_steal_pointer (&self);
}

void
fh_host_free (FhHost *self)
{
  if (!self)
    return;
  fh_host_stop (self);
  g_clear_pointer (&self->core, fh_core_free);
  g_clear_pointer (&self->apps, g_array_unref);
  g_clear_pointer (&self->backend_configs, g_ptr_array_unref);
  g_clear_pointer (&self->reasons, g_ptr_array_unref);
  g_free (self->control_path);
  g_free (self->pads_why);
  g_free (self->pad_shim);
  fh_config_free (self->config);
  g_free (self);
}

/* What a host that crashed here (or anywhere on the box) left: one line
 * when there was anything. Not while another host answers on our control
 * socket: that one owns our runtime dir, and we are about to refuse to
 * start anyway. */
static void
sweep_leftovers (FhHost *self)
{
  g_autofree char *what = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *answer = NULL;
  gboolean stale_socket = FALSE;
  FhLeftovers found;

  if (g_file_test (self->control_path, G_FILE_TEST_EXISTS)) {
    if ((answer = fh_control_request (self->control_path, "sessions", &error)))
      return;
    stale_socket = g_unlink (self->control_path) == 0;
  }
  fh_leftovers_sweep (fh_core_get_sessions_dir (self->core), &found);
  what = fh_leftovers_describe (&found);
  if (what || stale_socket)
    g_message ("removed what a crashed host left: %s%s%s", what ? what : "",
               what && stale_socket ? ", " : "", stale_socket ? "its control socket" : "");
}

gboolean
fh_host_start (FhHost *self, GError **error)
{
  g_autoptr (GString) banner = g_string_new (NULL);
  FhPlane *web = fh_web_plane_get_plane (self->web);

  self->started = TRUE;
  sweep_leftovers (self);
  if (!fh_core_start (self->core, error))
    return FALSE;
  if (!(self->control = fh_control_new (self, self->control_path, error)))
    return FALSE;
  if (!fh_core_start_planes (self->core, error))
    return FALSE;
  self->prompt_observer = fh_prompts_add_observer (fh_core_get_prompts (self->core), on_prompt,
                                                   self);

  g_string_append_printf (banner, "funkhaus %s: serving https://localhost:%u/\n", FH_VERSION,
                          fh_web_plane_get_port (self->web));
  web->ops->describe (web, banner);
  fh_core_describe (self->core, banner);
  {
    guint n_apps;
    const FhCoreApp *apps = fh_core_get_apps (self->core, &n_apps);
    g_string_append (banner, "  apps:");
    for (guint i = 0; i < n_apps; i++)
      g_string_append_printf (banner, "%s %u %s%s%s%s", i ? "," : "", i + 1, apps[i].name,
                              apps[i].unavailable ? " (cannot start here: " : "",
                              apps[i].unavailable ? apps[i].unavailable : "",
                              apps[i].unavailable ? ")" : "");
    g_string_append (banner, "\n");
  }
  {
    /* Every app's backend has the same sandbox settings: the first's. */
    const HostBackendConfig *first =
      self->backend_configs->len ? self->backend_configs->pdata[0] : NULL;
    const FhSandboxConfig *sandbox =
      !first                                                      ? NULL
      : g_str_equal (first->base.backend, fh_display_backend_wlroots.name) ? &first->wlroots.sandbox
                                                                  : &first->gamescope.sandbox;
    if (sandbox) {
      g_autofree char *text = fh_sandbox_describe (sandbox);
      g_string_append_printf (banner, "  sandbox: %s\n", text);
      g_string_append_printf (banner, "  pads: %s\n", self->pads_why);
    }
  }
  if (self->gs) {
    FhPlane *gs = fh_gs_plane_get_plane (self->gs);
    gs->ops->describe (gs, banner);
  } else {
    g_string_append (banner, "  gamestream (Moonlight): off\n");
  }
  fputs (banner->str, stdout);
  fflush (stdout);
  fh_host_new_pin (self);
  return TRUE;
}

void
fh_host_stop (FhHost *self)
{
  if (!self->started)
    return;
  self->started = FALSE;
  if (self->prompt_observer) {
    fh_prompts_remove_observer (fh_core_get_prompts (self->core), self->prompt_observer);
    self->prompt_observer = 0;
  }
  fh_core_stop (self->core);
  g_clear_pointer (&self->control, fh_control_free);
  g_message ("stopped");
}

FhCore *
fh_host_get_core (FhHost *self)
{
  return self->core;
}

guint
fh_host_get_port (FhHost *self)
{
  return fh_web_plane_get_port (self->web);
}

const char *
fh_host_new_pin (FhHost *self)
{
  const char *pin = fh_device_store_new_pin (fh_core_get_devices (self->core));

  printf ("  pairing PIN: %s (pairs one device; run 'funkhaus pair' for another)\n", pin);
  fflush (stdout);
  return pin;
}
