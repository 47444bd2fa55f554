/* Starting a session's own PipeWire stack in its sandbox: its config, the
 * three daemons, and the wait until they answer. */
#include "backends/audio-stack.h"

#include <errno.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "backends/launch.h"

#define START_TIMEOUT_US (8 * G_USEC_PER_SEC)

/* pipewire starts the session manager and the pulse server itself, so
 * that the three share one PID namespace in the sandbox: PipeWire's access
 * module takes a client whose process it cannot see (every sandbox has a
 * PID namespace of its own) for a flatpak app, which waits for the session
 * manager to grant it rights; the session manager itself must not wait. */
static const char pipewire_snippet[] =
  "# funkhaus: a session's own stack.\n"
  "context.exec = [\n"
  "    { path = \"wireplumber\" }\n"
  "    { path = \"pipewire-pulse\" }\n"
  "]\n";

/* WirePlumber 0.4 quits without a session bus unless told not to use one
 * (the name sorts after 50-*-config.lua, which it overrides, and before
 * 90-enable-all.lua, which reads it). The session's stack has no hardware:
 * its only sink and source are the host's nodes, and the sandbox shows no
 * device anyway. A monitor a distribution does not ship is left alone.
 * Every client of the stack is the session's own or the host; those from
 * another PID namespace (the host, the session's apps) look like flatpak
 * apps to PipeWire and get all rights, as on a desktop's own PipeWire. */
static const char main_snippet[] =
  "-- funkhaus: a session's own stack: no D-Bus, no hardware, all its\n"
  "-- clients trusted alike.\n"
  "alsa_monitor.properties[\"alsa.reserve\"] = false\n"
  "alsa_monitor.enabled = false\n"
  "if v4l2_monitor then v4l2_monitor.enabled = false end\n"
  "if libcamera_monitor then libcamera_monitor.enabled = false end\n"
  "default_access.properties[\"enable-flatpak-portal\"] = false\n"
  "default_access.rules = {\n"
  "  { matches = { { { \"pipewire.access\", \"=\", \"flatpak\" } },\n"
  "                { { \"pipewire.access\", \"=\", \"restricted\" } } },\n"
  "    default_permissions = \"all\" },\n"
  "}\n";
static const char bluetooth_snippet[] =
  "-- funkhaus: a session's own stack: no Bluetooth.\n"
  "if bluez_monitor then bluez_monitor.enabled = false end\n";

/* <config>/pipewire/pipewire.conf.d/60-funkhaus-session.conf and
 * <config>/wireplumber/{main,bluetooth}.lua.d/60-funkhaus-session.lua */
static gboolean
write_config (FhAccount *account, const char *config, GError **error)
{
  g_autofree char *pipewire = g_build_filename (config, "pipewire", NULL);
  g_autofree char *pw_dir = g_build_filename (pipewire, "pipewire.conf.d", NULL);
  g_autofree char *pw_file = g_build_filename (pw_dir, "60-funkhaus-session.conf", NULL);
  g_autofree char *wireplumber = g_build_filename (config, "wireplumber", NULL);
  g_autofree char *main_dir = g_build_filename (wireplumber, "main.lua.d", NULL);
  g_autofree char *bt_dir = g_build_filename (wireplumber, "bluetooth.lua.d", NULL);
  g_autofree char *main_file = g_build_filename (main_dir, "60-funkhaus-session.lua", NULL);
  g_autofree char *bt_file = g_build_filename (bt_dir, "60-funkhaus-session.lua", NULL);

  return fh_account_make_dir (account, config, error) &&
         fh_account_make_dir (account, pipewire, error) &&
         fh_account_make_dir (account, pw_dir, error) &&
         fh_account_write_file (account, pw_file, pipewire_snippet, 0644, error) &&
         fh_account_make_dir (account, wireplumber, error) &&
         fh_account_make_dir (account, main_dir, error) &&
         fh_account_make_dir (account, bt_dir, error) &&
         fh_account_write_file (account, main_file, main_snippet, 0644, error) &&
         fh_account_write_file (account, bt_file, bluetooth_snippet, 0644, error);
}

/* TRUE once something listens on the Unix socket @path (the file alone
 * may be there a moment before its daemon listens). */
static gboolean
socket_answers (const char *path)
{
  struct sockaddr_un addr = { .sun_family = AF_UNIX };
  gboolean answers;
  int fd;

  if (strlen (path) >= sizeof addr.sun_path)
    return FALSE;
  strcpy (addr.sun_path, path);
  fd = socket (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return FALSE;
  answers = connect (fd, (struct sockaddr *) &addr, sizeof addr) == 0;
  close (fd);
  return answers;
}

static char *
log_path_of (const char *log_dir, const char *program)
{
  g_autofree char *name = g_strdup_printf ("%s.log", program);

  return g_build_filename (log_dir, name, NULL);
}

static gboolean
check_running (GSubprocess *pipewire, const char *log_path, GError **error)
{
  g_autofree char *tail = NULL;

  /* GLib's worker reaps the child; its identifier goes NULL then. */
  if (g_subprocess_get_identifier (pipewire))
    return TRUE;
  tail = g_strchomp (fh_launch_log_tail (log_path));
  g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED,
               "the session's audio: pipewire exited while starting (see %s): %s", log_path,
               tail);
  return FALSE;
}

/* Polls until @program (pipewire or one it started) listens on @socket;
 * fails at once when pipewire exits. */
static gboolean
wait_for_socket (GSubprocess *pipewire, const char *program, const char *socket,
                 const char *log_path, GError **error)
{
  gint64 deadline = g_get_monotonic_time () + START_TIMEOUT_US;

  for (;;) {
    if (socket_answers (socket))
      return TRUE;
    if (!check_running (pipewire, log_path, error))
      return FALSE;
    if (g_get_monotonic_time () > deadline) {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT,
                   "the session's audio: %s did not open %s within %d s: see %s", program, socket,
                   (int) (START_TIMEOUT_US / G_USEC_PER_SEC), log_path);
      return FALSE;
    }
    g_usleep (10 * 1000);
  }
}

gboolean
fh_audio_stack_start_with (FhAccount *account, const char *runtime_dir, const char *log_dir,
                           FhAudioStackSpawnFunc spawn, gpointer spawn_data, char **remote,
                           GError **error)
{
  g_autofree char *config = g_build_filename (runtime_dir, "pipewire-config", NULL);
  g_autofree char *state = g_build_filename (runtime_dir, "pipewire-state", NULL);
  g_autofree char *config_env = g_strdup_printf ("XDG_CONFIG_HOME=%s", config);
  /* WirePlumber keeps default nodes and stream routes there: the session's
   * own. */
  g_autofree char *state_env = g_strdup_printf ("XDG_STATE_HOME=%s", state);
  const char *const env[] = { config_env, state_env, NULL };
  g_autofree char *socket = g_build_filename (runtime_dir, "pipewire-0", NULL);
  g_autofree char *pulse_socket = g_build_filename (runtime_dir, "pulse", "native", NULL);
  g_autofree char *log_path = log_path_of (log_dir, "pipewire");
  const char *argv[] = { "pipewire", NULL };
  g_autoptr (GSubprocess) pipewire = NULL;
  gint64 start = g_get_monotonic_time ();

  if (!write_config (account, config, error) || !fh_account_make_dir (account, state, error))
    return FALSE;
  /* One process: pipewire starts wireplumber and pipewire-pulse (their
   * output goes to its log too). The GSubprocess may go when this returns:
   * GLib keeps watching the child until it exits, and reaps it. */
  if (!(pipewire = spawn (log_path, env, argv, spawn_data, error))) {
    g_prefix_error (error, "the session's audio: cannot start pipewire (install pipewire, "
                           "wireplumber and pipewire-pulse): ");
    return FALSE;
  }
  if (!wait_for_socket (pipewire, "pipewire", socket, log_path, error) ||
      !wait_for_socket (pipewire, "pipewire-pulse", pulse_socket, log_path, error))
    return FALSE;
  g_message ("audio: the session's own PipeWire is up in %s (%" G_GINT64_FORMAT " ms)",
             runtime_dir, (g_get_monotonic_time () - start) / 1000);
  *remote = g_steal_pointer (&socket);
  return TRUE;
}

static GSubprocess *
spawn_in_sandbox (const char *log_path, const char *const *env, const char *const *argv,
                  gpointer user_data, GError **error)
{
  /* No network: the stack's sockets are files in the runtime dir. */
  return fh_sandbox_spawn (user_data, log_path, env, FALSE, argv, error);
}

gboolean
fh_audio_stack_start (FhSandbox *sandbox, const char *log_dir, char **remote, GError **error)
{
  return fh_audio_stack_start_with (fh_sandbox_get_account (sandbox),
                                    fh_sandbox_get_runtime_dir (sandbox), log_dir,
                                    spawn_in_sandbox, sandbox, remote, error);
}

GStrv
fh_audio_stack_add_app_env (GStrv env, const char *runtime_dir, const char *speaker_name,
                            const char *mic_name)
{
  g_autofree char *remote = g_build_filename (runtime_dir, "pipewire-0", NULL);
  g_autofree char *pulse = g_strdup_printf ("unix:%s/pulse/native", runtime_dir);

  env = g_environ_setenv (env, "PIPEWIRE_REMOTE", remote, TRUE);
  env = g_environ_setenv (env, "PULSE_SERVER", pulse, TRUE);
  if (speaker_name)
    env = g_environ_setenv (env, "PULSE_SINK", speaker_name, TRUE);
  if (mic_name)
    env = g_environ_setenv (env, "PULSE_SOURCE", mic_name, TRUE);
  return env;
}
