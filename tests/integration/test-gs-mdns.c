/* Integration test of the mDNS advertisement (src/planes/gamestream/mdns.c)
 * against a real avahi-daemon: a private D-Bus system bus and an
 * avahi-daemon of the test's own (loopback only, so nothing reaches the
 * network), checked with avahi-browse. Skips, saying why, where that
 * cannot run (not root, a system avahi-daemon already running, programs
 * missing). */
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <gio/gio.h>
#include <glib/gstdio.h>

#include "planes/gamestream/mdns.h"

#define PORT 47989

typedef struct {
  char *dir;
  char *bus_path;
  GSubprocess *dbus;
  GSubprocess *avahi;
  guint avahi_runs;
} Env;

static Env env;
static guint mdns_warnings;

/* g_test_init makes warnings fatal, and g_test_expect_message does not see
 * structured logging: count mdns.c's one expected warning here. */
static GLogWriterOutput
writer (GLogLevelFlags level, const GLogField *fields, gsize n_fields, gpointer data)
{
  if (level & G_LOG_LEVEL_WARNING)
    for (gsize i = 0; i < n_fields; i++)
      if (strcmp (fields[i].key, "MESSAGE") == 0 && g_str_has_prefix (fields[i].value, "mdns:")) {
        g_test_message ("expected warning: %s", (const char *) fields[i].value);
        mdns_warnings++;
        return G_LOG_WRITER_HANDLED;
      }
  return g_log_writer_default (level, fields, n_fields, data);
}

static void
die_with_parent (gpointer data)
{
  /* A failed assertion must not leave daemons behind. */
  prctl (PR_SET_PDEATHSIG, SIGTERM);
}

static GSubprocess *
spawn (const char *log_name, GError **error, const char *const *argv)
{
  g_autoptr (GSubprocessLauncher) launcher =
    g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDERR_MERGE);
  g_autofree char *log = g_build_filename (env.dir, log_name, NULL);

  g_subprocess_launcher_set_child_setup (launcher, die_with_parent, NULL, NULL);
  g_subprocess_launcher_set_stdout_file_path (launcher, log);
  return g_subprocess_launcher_spawnv (launcher, argv, error);
}

static void
print_logs (void)
{
  g_autoptr (GDir) dir = env.dir ? g_dir_open (env.dir, 0, NULL) : NULL;
  const char *name;

  while (dir && (name = g_dir_read_name (dir)))
    if (g_str_has_suffix (name, ".log")) {
      g_autofree char *path = g_build_filename (env.dir, name, NULL);
      g_autofree char *text = NULL;

      if (g_file_get_contents (path, &text, NULL, NULL))
        g_printerr ("----- %s -----\n%s\n", name, text);
    }
}

/* Runs the main context until @done says so or @timeout_ms passes. */
static gboolean
wake (gpointer data)
{
  return G_SOURCE_CONTINUE;
}

static gboolean
iterate_until (gboolean (*done) (gpointer), gpointer data, guint timeout_ms)
{
  gint64 deadline = g_get_monotonic_time () + (gint64) timeout_ms * 1000;
  guint tick = g_timeout_add (20, wake, NULL);
  gboolean ok;

  while (!(ok = done (data)) && g_get_monotonic_time () < deadline)
    g_main_context_iteration (NULL, TRUE);
  g_source_remove (tick);
  return ok;
}

static gboolean
socket_exists (gpointer data)
{
  return g_file_test (env.bus_path, G_FILE_TEST_EXISTS);
}

typedef struct {
  FhGsMdns *mdns;
  FhGsMdnsState state;
} StateWait;

static gboolean
state_reached (gpointer data)
{
  StateWait *w = data;

  return fh_gs_mdns_get_state (w->mdns) == w->state;
}

static gboolean
wait_state (FhGsMdns *mdns, FhGsMdnsState state)
{
  StateWait w = { mdns, state };

  return iterate_until (state_reached, &w, 20000);
}

static gboolean
avahi_exited (gpointer data)
{
  return env.avahi == NULL || g_subprocess_get_if_exited (env.avahi) ||
         g_subprocess_get_if_signaled (env.avahi);
}

static gboolean
start_avahi (GError **error)
{
  g_autofree char *conf = g_build_filename (env.dir, "avahi-daemon.conf", NULL);
  g_autofree char *log = g_strdup_printf ("avahi-daemon-%u.log", ++env.avahi_runs);
  const char *argv[] = { "avahi-daemon", "--no-drop-root", "--no-chroot", "--no-rlimits",
                         "--no-proc-title", "-f", conf, NULL };

  env.avahi = spawn (log, error, argv);
  return env.avahi != NULL;
}

static void
stop_avahi (void)
{
  if (!env.avahi)
    return;
  g_subprocess_send_signal (env.avahi, SIGTERM);
  g_subprocess_wait (env.avahi, NULL, NULL);
  g_clear_object (&env.avahi);
}

/* avahi-browse's \DDD escapes, undone. */
static char *
unescape (const char *s)
{
  GString *out = g_string_new (NULL);

  for (; *s; s++) {
    if (s[0] == '\\' && g_ascii_isdigit (s[1]) && g_ascii_isdigit (s[2]) &&
        g_ascii_isdigit (s[3])) {
      g_string_append_c (out, (char) ((s[1] - '0') * 100 + (s[2] - '0') * 10 + (s[3] - '0')));
      s += 3;
    } else if (s[0] == '\\' && s[1]) {
      g_string_append_c (out, s[1]);
      s++;
    } else {
      g_string_append_c (out, *s);
    }
  }
  return g_string_free (out, FALSE);
}

/* The port avahi-browse resolves for service @name, or 0 if it does not
 * list it. */
static guint
browse (const char *name)
{
  const char *argv[] = { "avahi-browse", "-rpt", FH_GS_MDNS_SERVICE_TYPE, NULL };
  g_autofree char *out = NULL, *err = NULL;
  g_auto (GStrv) lines = NULL;
  g_autoptr (GError) error = NULL;
  int status = 0;

  if (!g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, &out, &err,
                     &status, &error)) {
    g_test_message ("avahi-browse: %s", error->message);
    return 0;
  }
  g_test_message ("avahi-browse (status %d):\n%s%s", status, out, err);
  lines = g_strsplit (out, "\n", -1);
  for (guint i = 0; lines[i]; i++) {
    g_auto (GStrv) f = g_strsplit (lines[i], ";", -1);
    g_autofree char *service = NULL;

    /* =;iface;proto;name;type;domain;host;address;port;txt */
    if (g_strv_length (f) < 9 || strcmp (f[0], "=") != 0)
      continue;
    service = unescape (f[3]);
    if (strcmp (service, name) == 0 && strcmp (f[4], FH_GS_MDNS_SERVICE_TYPE) == 0)
      return (guint) g_ascii_strtoull (f[8], NULL, 10);
  }
  return 0;
}

/* The daemon may need a moment to see a service come or go. */
static guint
browse_until (const char *name, gboolean present)
{
  guint port = 0;

  for (guint i = 0; i < 20; i++) {
    port = browse (name);
    if ((port != 0) == present)
      break;
    g_usleep (250 * 1000); /* between polls of another process */
  }
  return port;
}

static const char *
skip_reason (void)
{
  const char *programs[] = { "dbus-daemon", "avahi-daemon", "avahi-browse" };
  const char *check[] = { "avahi-daemon", "--check", NULL };
  int status = 1;

  if (getuid () != 0)
    return "avahi-daemon runs only as root (it refuses other users), and this test is not root";
  for (guint i = 0; i < G_N_ELEMENTS (programs); i++) {
    g_autofree char *path = g_find_program_in_path (programs[i]);

    if (!path)
      return "dbus-daemon, avahi-daemon or avahi-browse is missing: `scripts/setup.sh test` "
             "installs them";
  }
  /* One avahi-daemon per machine (its pid file and socket are fixed paths
   * under /run/avahi-daemon/): a running one leaves no room for ours. */
  if (g_spawn_sync (NULL, (char **) check, NULL, G_SPAWN_SEARCH_PATH | G_SPAWN_STDOUT_TO_DEV_NULL |
                    G_SPAWN_STDERR_TO_DEV_NULL, NULL, NULL, NULL, NULL, &status, NULL) &&
      g_spawn_check_wait_status (status, NULL))
    return "an avahi-daemon already runs on this machine; this test needs one of its own";
  return NULL;
}

static gboolean
setup_env (GError **error)
{
  g_autofree char *bus_conf = NULL, *avahi_conf = NULL, *bus_text = NULL, *address = NULL;
  const char *subdirs[] = { "home", "runtime", "state" };
  const char *vars[] = { "HOME", "XDG_RUNTIME_DIR", "XDG_STATE_HOME" };

  env.dir = g_dir_make_tmp ("fh-test-gs-mdns-XXXXXX", error);
  if (!env.dir)
    return FALSE;
  for (guint i = 0; i < G_N_ELEMENTS (subdirs); i++) {
    g_autofree char *path = g_build_filename (env.dir, subdirs[i], NULL);

    g_mkdir (path, 0700);
    g_setenv (vars[i], path, TRUE);
  }
  env.bus_path = g_build_filename (env.dir, "system_bus_socket", NULL);
  bus_conf = g_build_filename (env.dir, "bus.conf", NULL);
  /* A system bus of our own, open to everyone in it (only this test). */
  bus_text = g_strdup_printf (
    "<!DOCTYPE busconfig PUBLIC \"-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN\"\n"
    " \"http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd\">\n"
    "<busconfig>\n"
    "  <listen>unix:path=%s</listen>\n"
    "  <auth>EXTERNAL</auth>\n"
    "  <policy context=\"default\">\n"
    "    <allow user=\"*\"/><allow own=\"*\"/>\n"
    "    <allow send_destination=\"*\"/><allow receive_sender=\"*\"/>\n"
    "  </policy>\n"
    "</busconfig>\n",
    env.bus_path);
  avahi_conf = g_build_filename (env.dir, "avahi-daemon.conf", NULL);
  /* libdbus (in avahi-client, avahi-daemon, avahi-browse) takes the system
   * bus from here; set before any thread runs. */
  address = g_strconcat ("unix:path=", env.bus_path, NULL);
  g_setenv ("DBUS_SYSTEM_BUS_ADDRESS", address, TRUE);
  if (!g_file_set_contents (bus_conf, bus_text, -1, error) ||
      !g_file_set_contents (avahi_conf,
                            "[server]\nuse-ipv4=yes\nuse-ipv6=no\nallow-interfaces=lo\n"
                            "enable-dbus=yes\n[wide-area]\nenable-wide-area=no\n"
                            "[publish]\npublish-hinfo=no\npublish-workstation=no\n",
                            -1, error))
    return FALSE;
  return TRUE;
}

static gboolean
start_dbus (GError **error)
{
  g_autofree char *conf = g_build_filename (env.dir, "bus.conf", NULL);
  g_autofree char *arg = g_strconcat ("--config-file=", conf, NULL);
  const char *argv[] = { "dbus-daemon", "--nofork", arg, NULL };

  env.dbus = spawn ("dbus-daemon.log", error, argv);
  if (!env.dbus)
    return FALSE;
  if (!iterate_until (socket_exists, NULL, 10000)) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT, "dbus-daemon made no socket");
    return FALSE;
  }
  return TRUE;
}

static void
teardown_env (void)
{
  stop_avahi ();
  if (env.dbus) {
    g_subprocess_send_signal (env.dbus, SIGTERM);
    g_subprocess_wait (env.dbus, NULL, NULL);
    g_clear_object (&env.dbus);
  }
  if (env.dir) {
    const char *argv[] = { "rm", "-rf", env.dir, NULL };

    g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, NULL, NULL, NULL,
                  NULL);
  }
  g_clear_pointer (&env.dir, g_free);
  g_clear_pointer (&env.bus_path, g_free);
}

static void
test_publish (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (FhGsMdns) mdns = NULL, twin = NULL;
  g_autofree char *name = g_strdup_printf ("funkhaus-test-%d", (int) getpid ());
  g_autofree char *twin_name = NULL;
  const char *why = skip_reason ();
  g_autofree char *skip = NULL;

  if (why) {
    g_test_skip (why);
    return;
  }
  g_assert_true (setup_env (&error));

  /* No system bus yet (as on a machine without D-Bus): one warning, the
   * object lives and looks again every FH_GS_MDNS_RETRY_S. */
  mdns = fh_gs_mdns_new (name, PORT, &error);
  g_assert_no_error (error);
  g_assert_nonnull (mdns);
  g_assert_cmpint (fh_gs_mdns_get_state (mdns), ==, FH_GS_MDNS_STATE_NO_DAEMON);
  g_assert_cmpuint (mdns_warnings, ==, 1);

  /* Bus and daemon appear: the service follows. */
  if (!start_dbus (&error)) {
    skip = g_strdup_printf ("cannot start a private D-Bus system bus: %s", error->message);
    g_test_skip (skip);
    print_logs ();
    teardown_env ();
    return;
  }
  g_assert_true (start_avahi (&error));
  if (!wait_state (mdns, FH_GS_MDNS_STATE_PUBLISHED)) {
    if (iterate_until (avahi_exited, NULL, 100)) {
      print_logs ();
      g_test_skip ("avahi-daemon exited at start (its log is above): it cannot run here");
      teardown_env ();
      return;
    }
    print_logs ();
    g_error ("the service was not published within 20 s (state %s)",
             fh_gs_mdns_state_to_string (fh_gs_mdns_get_state (mdns)));
  }
  g_assert_cmpuint (browse_until (name, TRUE), ==, PORT);

  /* A second host of the same name: it takes the alternative. */
  twin = fh_gs_mdns_new (name, PORT + 1, &error);
  g_assert_no_error (error);
  g_assert_true (wait_state (twin, FH_GS_MDNS_STATE_PUBLISHED));
  twin_name = g_strdup (fh_gs_mdns_get_name (twin));
  g_assert_cmpstr (twin_name, !=, name);
  g_assert_true (g_str_has_prefix (twin_name, name));
  g_assert_cmpuint (browse_until (twin_name, TRUE), ==, PORT + 1);
  g_assert_cmpuint (browse (name), ==, PORT);
  g_clear_pointer (&twin, fh_gs_mdns_free);
  g_assert_cmpuint (browse_until (twin_name, FALSE), ==, 0);

  /* The daemon restarts: the bus stays, so the client waits for the
   * daemon's name (AVAHI_CLIENT_NO_FAIL). Published again, without a
   * second warning. */
  stop_avahi ();
  g_assert_true (wait_state (mdns, FH_GS_MDNS_STATE_NO_DAEMON));
  g_assert_true (start_avahi (&error));
  g_assert_true (wait_state (mdns, FH_GS_MDNS_STATE_PUBLISHED));
  g_assert_cmpuint (browse_until (name, TRUE), ==, PORT);
  g_assert_cmpuint (mdns_warnings, ==, 1);

  /* Freed: withdrawn. */
  g_clear_pointer (&mdns, fh_gs_mdns_free);
  g_assert_cmpuint (browse_until (name, FALSE), ==, 0);

  if (g_test_failed ())
    print_logs ();
  teardown_env ();
}

static void
test_invalid (void)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *long_name = g_strnfill (64, 'x');

  g_assert_null (fh_gs_mdns_new ("", PORT, &error));
  g_assert_error (error, FH_GS_MDNS_ERROR, FH_GS_MDNS_ERROR_INVALID);
  g_clear_error (&error);
  g_assert_null (fh_gs_mdns_new (long_name, PORT, &error));
  g_assert_error (error, FH_GS_MDNS_ERROR, FH_GS_MDNS_ERROR_INVALID);
  g_clear_error (&error);
  g_assert_null (fh_gs_mdns_new ("\xff", PORT, &error));
  g_assert_error (error, FH_GS_MDNS_ERROR, FH_GS_MDNS_ERROR_INVALID);
  g_clear_error (&error);
  g_assert_null (fh_gs_mdns_new ("ok", 70000, &error));
  g_assert_error (error, FH_GS_MDNS_ERROR, FH_GS_MDNS_ERROR_INVALID);
  g_assert_cmpstr (fh_gs_mdns_state_to_string (FH_GS_MDNS_STATE_PUBLISHED), ==, "published");
}

int
main (int argc, char **argv)
{
  g_log_set_writer_func (writer, NULL, NULL);
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/gs-mdns/invalid", test_invalid);
  g_test_add_func ("/gs-mdns/publish", test_publish);
  return g_test_run ();
}
