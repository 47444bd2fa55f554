/* The table of display backends and the base of every virtual output. */
#include "backends/backend.h"

#include <gio/gio.h>

#include "media/pipewire-video.h"
#include "backends/launch.h"

static const FhDisplayBackend *const backends[] = {
  &fh_display_backend_synthetic,
  &fh_display_backend_wlroots,
  &fh_display_backend_gamescope,
};

const FhDisplayBackend *
fh_display_backend_lookup (const char *name, GError **error)
{
  g_autoptr (GString) known = g_string_new (NULL);

  for (gsize i = 0; i < G_N_ELEMENTS (backends); i++) {
    if (g_str_equal (backends[i]->name, name))
      return backends[i];
    g_string_append_printf (known, "%s%s", i ? ", " : "", backends[i]->name);
  }
  g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
               "unknown backend '%s': choose one of %s", name, known->str);
  return NULL;
}

gboolean
fh_display_backend_check (const FhDisplayBackend *backend, const FhBackendConfig *config,
                          GError **error)
{
  return !backend->check || backend->check (config, error);
}

const FhBackendConfig *
fh_backend_config_for (const FhBackendConfig *config, const FhDisplayBackend *backend)
{
  if (!config)
    return NULL;
  if (g_strcmp0 (config->backend, backend->name) != 0) {
    g_warning ("backend %s: given the settings of backend %s: using its defaults", backend->name,
               config->backend);
    return NULL;
  }
  return config;
}

void
fh_virtual_output_init (FhVirtualOutput *output, const FhVirtualOutputOps *ops,
                        const FhOutputRequest *request)
{
  output->ops = ops;
  output->mode = request->mode;
  output->session_id = g_strdup (request->session_id);
  output->on_failed = request->on_failed;
  output->user_data = request->user_data;
  output->app_env = g_strdupv ((GStrv) request->app_env);
}

void
fh_virtual_output_finish (FhVirtualOutput *output)
{
  g_clear_pointer (&output->session_id, g_free);
  g_clear_pointer (&output->app_env, g_strfreev);
  g_clear_pointer (&output->pipewire_remote, g_free);
  g_clear_pointer (&output->clipboard_socket, g_free);
}

void
fh_virtual_output_capture_node (FhVirtualOutput *output, FhPipeWire *pw, guint32 node_id,
                                FhPwVideo **video, const char *what)
{
  g_autoptr (GError) error = NULL;
  FhPwVideo *made = fh_pw_video_new (pw, node_id, output->mode.width, output->mode.height,
                                     &error);

  if (!made) {
    g_autofree char *reason = g_strdup_printf ("cannot capture %s: %s", what, error->message);
    if (output->on_failed)
      output->on_failed (output, reason, output->user_data);
    return;
  }
  g_atomic_pointer_set (video, made);
}

void
fh_virtual_output_fail_exited (FhVirtualOutput *output, GSubprocess *process,
                               const char *log_path, const char *what, const char *exit_hint)
{
  g_autofree char *tail = fh_launch_log_tail (log_path);
  g_autofree char *reason = fh_launch_exit_reason (process, what, exit_hint);

  g_warning ("session %.8s: %s exited; its last words:\n%s", output->session_id, what, tail);
  if (output->on_failed)
    output->on_failed (output, reason, output->user_data);
}
