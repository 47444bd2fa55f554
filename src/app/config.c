/* Settings and the directories the host keeps its things in. */
#include "app/config.h"

#include <errno.h>
#include <string.h>
#include <gio/gio.h>
#include <glib/gstdio.h>
#include <unistd.h>

#include "fh-config.h"
#include "core/access.h"
#include "media/pad.h"
#include "planes/gamestream/nvhttp.h"
#include "planes/web/plane.h"

void
fh_config_app_free (FhConfigApp *app)
{
  if (!app)
    return;
  g_free (app->name);
  g_free (app->command);
  g_free (app->backend);
  g_free (app->icon);
  g_free (app);
}

FhConfig *
fh_config_new (void)
{
  FhConfig *config = g_new0 (FhConfig, 1);

  config->apps = g_ptr_array_new_with_free_func ((GDestroyNotify) fh_config_app_free);

  config->port = FH_DEFAULT_PORT;
  config->http_request_timeout_seconds = 10;
  config->http_max_connections_per_address = 32;
  config->backend = g_strdup ("wlroots");
  config->grace_seconds = 30;
  config->bitrate_kbps = 8000;
  config->bitrate_adaptation = g_strdup ("on");
  config->encoder_preset = g_strdup ("ultrafast");
  config->encoder_threads = 0;
  config->run_as = g_strdup ("funkhaus");
  config->sandbox = g_strdup ("on");
  config->homes_dir = g_strdup ("");
  config->app_nice = 10;
  config->session_cgroups = g_strdup ("on");
  config->session_cpu_weight = 100;
  config->pads = g_strdup ("auto");
  config->session_pads = FH_PAD_DEFAULT_MAX;
  config->gamescope = g_strdup ("gamescope");
  config->shared_desktop = g_strdup ("auto");
  config->shared_wayland = g_strdup ("");
  config->shared_dbus = g_strdup ("");
  config->shared_pipewire = g_strdup ("");
  config->shared_join = g_strdup ("ask");
  config->shared_max_views = 4;
  config->keyboard_layout = g_strdup ("us");
  config->audio = g_strdup ("auto");
  config->metrics = g_strdup ("localhost");
  config->gamestream = g_strdup ("auto");
  config->gamestream_http_port = FH_GS_DEFAULT_HTTP_PORT;
  config->gamestream_https_port = FH_GS_DEFAULT_HTTPS_PORT;
  config->gamestream_rtsp_port = FH_GS_DEFAULT_RTSP_PORT;
  config->gamestream_video_port = FH_GS_DEFAULT_VIDEO_PORT;
  config->gamestream_control_port = FH_GS_DEFAULT_CONTROL_PORT;
  config->gamestream_audio_port = FH_GS_DEFAULT_AUDIO_PORT;
  config->default_level = g_strdup ("full");
  return config;
}

void
fh_config_free (FhConfig *config)
{
  if (!config)
    return;
  g_free (config->backend);
  g_free (config->encoder_preset);
  g_free (config->bitrate_adaptation);
  g_free (config->app);
  g_clear_pointer (&config->apps, g_ptr_array_unref);
  g_free (config->run_as);
  g_free (config->sandbox);
  g_free (config->homes_dir);
  g_free (config->session_cgroups);
  g_strfreev (config->sandbox_binds);
  g_free (config->gamescope);
  g_free (config->pads);
  g_free (config->shared_desktop);
  g_free (config->shared_wayland);
  g_free (config->shared_dbus);
  g_free (config->shared_pipewire);
  g_free (config->shared_join);
  g_free (config->keyboard_layout);
  g_free (config->audio);
  g_free (config->metrics);
  g_free (config->gamestream);
  g_free (config->default_level);
  g_free (config->config_dir);
  g_free (config->runtime_dir);
  g_free (config->web_dir);
  g_free (config);
}

static gboolean
make_private_dir (const char *path, GError **error)
{
  GStatBuf st;

  if (g_mkdir_with_parents (path, 0700) < 0) {
    int saved = errno;
    g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved), "cannot create %s: %s",
                 path, g_strerror (saved));
    return FALSE;
  }
  if (g_stat (path, &st) == 0 && st.st_uid == getuid () && (st.st_mode & 0077))
    g_chmod (path, 0700);
  return TRUE;
}

/* The devices' homes, kept across sessions and restarts. */
static void
default_homes_dir (FhConfig *config)
{
  if (config->homes_dir && *config->homes_dir)
    return;
  g_free (config->homes_dir);
  config->homes_dir = getuid () == 0
                        ? g_strdup ("/var/lib/funkhaus-homes")
                        : g_build_filename (g_get_user_data_dir (), "funkhaus", "homes", NULL);
}

gboolean
fh_config_resolve_dirs (FhConfig *config, GError **error)
{
  const char *runtime = g_getenv ("XDG_RUNTIME_DIR");
  const char *web = g_getenv ("FUNKHAUS_WEB_DIR");

  g_free (config->config_dir);
  config->config_dir = g_build_filename (g_get_user_config_dir (), "funkhaus", NULL);
  if (!make_private_dir (config->config_dir, error))
    return FALSE;

  g_free (config->runtime_dir);
  if (runtime && *runtime)
    config->runtime_dir = g_build_filename (runtime, "funkhaus", NULL);
  else if (getuid () == 0)
    config->runtime_dir = g_strdup (FH_ROOT_RUNTIME_DIR);
  else
    config->runtime_dir = g_strdup_printf ("%s/funkhaus-%u", g_get_tmp_dir (), getuid ());
  if (!make_private_dir (config->runtime_dir, error))
    return FALSE;

  default_homes_dir (config);

  /* The installed client, else the source tree's (running from a build). */
  g_free (config->web_dir);
  if (web && *web)
    config->web_dir = g_strdup (web);
  else if (g_file_test (FH_WEB_DIR "/index.html", G_FILE_TEST_EXISTS))
    config->web_dir = g_strdup (FH_WEB_DIR);
  else
    config->web_dir = g_strdup (FH_SOURCE_WEB_DIR);
  return TRUE;
}

/* The [app NAME] groups: the owner's list replaces the default one. A
 * group written twice is one group (GKeyFile merges them). */
static gboolean
load_apps (FhConfig *config, GKeyFile *file, const char *path, GError **error)
{
  g_auto (GStrv) groups = g_key_file_get_groups (file, NULL);

  g_ptr_array_set_size (config->apps, 0);

  for (char **group = groups; *group; group++) {
    g_autoptr (FhConfigApp) app = NULL;
    const char *name;

    if (!g_str_equal (*group, "app") && !g_str_has_prefix (*group, "app "))
      continue;
    name = *group + strlen ("app");
    while (*name == ' ')
      name++;
    if (!*name || strlen (name) > 64) {
      g_set_error (error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_INVALID_VALUE,
                   "%s: [%s] needs a name of 1–64 characters, as in [app Desktop]", path,
                   *group);
      return FALSE;
    }
    app = g_new0 (FhConfigApp, 1);
    app->name = g_strdup (name);
    app->command = g_key_file_get_string (file, *group, "command", NULL);
    app->backend = g_key_file_get_string (file, *group, "backend", NULL);
    app->icon = g_key_file_get_string (file, *group, "icon", NULL);
    if (app->command && !*g_strstrip (app->command))
      g_clear_pointer (&app->command, g_free);
    if (app->backend && !g_strv_contains ((const char *const[]) { "wlroots", "gamescope",
                                                                  "synthetic", NULL },
                                          app->backend)) {
      g_set_error (error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_INVALID_VALUE,
                   "%s: [%s] backend must be wlroots or gamescope, not '%s'", path, *group,
                   app->backend);
      return FALSE;
    }
    g_ptr_array_add (config->apps, g_steal_pointer (&app));
  }
  return TRUE;
}

gboolean
fh_config_load (FhConfig *config, const char *path, GError **error)
{
  g_autoptr (GKeyFile) file = g_key_file_new ();
  g_autofree char *default_path = NULL;
  g_autoptr (GError) local_error = NULL;

  if (!path) {
    default_path = g_build_filename (config->config_dir, "config.ini", NULL);
    if (!g_file_test (default_path, G_FILE_TEST_EXISTS))
      return TRUE;
    path = default_path;
  }
  if (!g_key_file_load_from_file (file, path, G_KEY_FILE_NONE, error)) {
    g_prefix_error (error, "cannot read %s: ", path);
    return FALSE;
  }

#define GET_UINT(key, field)                                                                    \
  if (g_key_file_has_key (file, "host", key, NULL)) {                                          \
    gint v = g_key_file_get_integer (file, "host", key, &local_error);                         \
    if (local_error || v < 0) {                                                                \
      g_set_error (error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_INVALID_VALUE,                    \
                   "%s: [host] %s must be a non-negative integer", path, key);                 \
      return FALSE;                                                                            \
    }                                                                                          \
    config->field = (guint) v;                                                                 \
  }
#define GET_STRING(key, field)                                                                  \
  if (g_key_file_has_key (file, "host", key, NULL)) {                                          \
    g_free (config->field);                                                                    \
    config->field = g_key_file_get_string (file, "host", key, NULL);                           \
  }

  GET_UINT ("port", port);
  GET_UINT ("http-request-timeout-seconds", http_request_timeout_seconds);
  GET_UINT ("http-max-connections-per-address", http_max_connections_per_address);
  GET_STRING ("backend", backend);
  GET_UINT ("grace-seconds", grace_seconds);
  GET_UINT ("bitrate-kbps", bitrate_kbps);
  GET_STRING ("bitrate-adaptation", bitrate_adaptation);
  GET_STRING ("encoder-preset", encoder_preset);
  GET_UINT ("encoder-threads", encoder_threads);
  GET_STRING ("app", app);
  GET_STRING ("run-as", run_as);
  GET_STRING ("sandbox", sandbox);
  GET_STRING ("homes-dir", homes_dir);
  GET_UINT ("app-nice", app_nice);
  GET_STRING ("session-cgroups", session_cgroups);
  GET_UINT ("session-cpu-weight", session_cpu_weight);
  GET_UINT ("session-memory-mib", session_memory_mib);
  if (g_key_file_has_key (file, "host", "sandbox-binds", NULL)) {
    g_strfreev (config->sandbox_binds);
    config->sandbox_binds = g_key_file_get_string_list (file, "host", "sandbox-binds", NULL, NULL);
  }
  GET_STRING ("pads", pads);
  GET_UINT ("session-pads", session_pads);
  GET_STRING ("gamescope", gamescope);
  GET_STRING ("shared-desktop", shared_desktop);
  GET_STRING ("shared-wayland", shared_wayland);
  GET_STRING ("shared-dbus", shared_dbus);
  GET_STRING ("shared-pipewire", shared_pipewire);
  GET_STRING ("shared-join", shared_join);
  GET_UINT ("shared-max-views", shared_max_views);
  GET_STRING ("keyboard-layout", keyboard_layout);
  GET_STRING ("audio", audio);
  GET_STRING ("metrics", metrics);
  GET_STRING ("gamestream", gamestream);
  GET_UINT ("gamestream-http-port", gamestream_http_port);
  GET_UINT ("gamestream-https-port", gamestream_https_port);
  GET_UINT ("gamestream-rtsp-port", gamestream_rtsp_port);
  GET_UINT ("gamestream-video-port", gamestream_video_port);
  GET_UINT ("gamestream-control-port", gamestream_control_port);
  GET_UINT ("gamestream-audio-port", gamestream_audio_port);
  GET_STRING ("default-level", default_level);
#undef GET_UINT
#undef GET_STRING
  if (!load_apps (config, file, path, error))
    return FALSE;
  default_homes_dir (config);
  return fh_config_check (config, path, error);
}

/* @value (the setting @key) is one of @choices; else @error says which it
 * must be ("KEY must be a, b or c, not 'VALUE'"). */
static gboolean
check_choice (const char *path, const char *key, const char *value,
              const char *const *choices, GError **error)
{
  g_autoptr (GString) list = NULL;

  if (value && g_strv_contains (choices, value))
    return TRUE;
  list = g_string_new (choices[0]);
  for (guint i = 1; choices[i]; i++)
    g_string_append_printf (list, "%s%s", choices[i + 1] ? ", " : " or ", choices[i]);
  g_set_error (error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_INVALID_VALUE,
               "%s: %s must be %s, not '%s'", path ? path : "settings", key, list->str,
               value ? value : "");
  return FALSE;
}

gboolean
fh_config_check (const FhConfig *config, const char *path, GError **error)
{
  FhWebMetricsAccess metrics;
  FhAccessLevel level;

  if (!fh_web_metrics_access_from_string (config->metrics, &metrics)) {
    g_set_error (error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_INVALID_VALUE,
                 "%s: metrics must be localhost, owners or off, not '%s'",
                 path ? path : "settings", config->metrics ? config->metrics : "");
    return FALSE;
  }
  if (!check_choice (path, "audio", config->audio,
                     (const char *const[]) { "auto", "private", "off", NULL }, error))
    return FALSE;
  if (!check_choice (path, "shared-join", config->shared_join,
                     (const char *const[]) { "allow", "ask", "deny", NULL }, error))
    return FALSE;
  if (!fh_access_level_from_string (config->default_level, &level)) {
    g_set_error (error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_INVALID_VALUE,
                 "%s: default-level must be full, controller or view, not '%s'",
                 path ? path : "settings", config->default_level ? config->default_level : "");
    return FALSE;
  }
  if (!check_choice (path, "bitrate-adaptation", config->bitrate_adaptation,
                     (const char *const[]) { "on", "off", NULL }, error))
    return FALSE;
  if (!check_choice (path, "sandbox", config->sandbox,
                     (const char *const[]) { "on", "off", NULL }, error))
    return FALSE;
  if (config->http_request_timeout_seconds < 1 || config->http_request_timeout_seconds > 3600) {
    g_set_error (error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_INVALID_VALUE,
                 "%s: http-request-timeout-seconds must be 1–3600, not %u",
                 path ? path : "settings", config->http_request_timeout_seconds);
    return FALSE;
  }
  if (config->http_max_connections_per_address < 1 ||
      config->http_max_connections_per_address > 65535) {
    g_set_error (error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_INVALID_VALUE,
                 "%s: http-max-connections-per-address must be 1–65535, not %u",
                 path ? path : "settings", config->http_max_connections_per_address);
    return FALSE;
  }
  if (config->app_nice > 19) {
    g_set_error (error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_INVALID_VALUE,
                 "%s: app-nice must be 0–19, not %u", path ? path : "settings", config->app_nice);
    return FALSE;
  }
  if (!check_choice (path, "session-cgroups", config->session_cgroups,
                     (const char *const[]) { "on", "off", NULL }, error))
    return FALSE;
  if (config->session_cpu_weight < 1 || config->session_cpu_weight > 10000) {
    g_set_error (error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_INVALID_VALUE,
                 "%s: session-cpu-weight must be 1–10000, not %u", path ? path : "settings",
                 config->session_cpu_weight);
    return FALSE;
  }
  if (!check_choice (path, "pads", config->pads,
                     (const char *const[]) { "auto", "uinput", "user", "off", NULL }, error))
    return FALSE;
  if (config->session_pads > FH_PAD_LIMIT) {
    g_set_error (error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_INVALID_VALUE,
                 "%s: session-pads must be 0–%u, not %u", path ? path : "settings", FH_PAD_LIMIT,
                 config->session_pads);
    return FALSE;
  }
  if (!check_choice (path, "gamestream", config->gamestream,
                     (const char *const[]) { "auto", "on", "off", NULL }, error))
    return FALSE;
  if (config->gamestream_http_port > 65535 || config->gamestream_https_port > 65535 ||
      (config->gamestream_http_port && config->gamestream_http_port == config->gamestream_https_port)) {
    g_set_error (error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_INVALID_VALUE,
                 "%s: gamestream-http-port and gamestream-https-port must be two different "
                 "ports 1–65535 (or 0 = any free port)",
                 path ? path : "settings");
    return FALSE;
  }
  if (config->gamestream_rtsp_port > 65535 || config->gamestream_video_port > 65535 ||
      config->gamestream_control_port > 65535 || config->gamestream_audio_port > 65535) {
    g_set_error (error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_INVALID_VALUE,
                 "%s: gamestream-rtsp-port, -video-port, -control-port and -audio-port must be "
                 "1–65535 (or 0 = any free port)",
                 path ? path : "settings");
    return FALSE;
  }
  return TRUE;
}
