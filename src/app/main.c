/* funkhaus: the command line (serve, pair). */
#include <glib-unix.h>
#include <gio/gio.h>
#include <locale.h>
#include <malloc.h>
#include <signal.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>

#include "fh-config.h"
#include "app/config.h"
#include "app/host.h"
#include "backends/sandbox.h"
#include "app/control-socket.h"
#include "app/log-writer.h"
#include "app/notify.h"
#include "media/video-encoder.h"
#include "planes/gamestream/nvhttp.h"

static const char usage[] =
  "Usage: funkhaus COMMAND [OPTION…]\n"
  "\n"
  "Streams desktops to browsers; every client gets its own session.\n"
  "\n"
  "Commands:\n"
  "  serve     run the host (HTTPS + WebSocket, default port " G_STRINGIFY (FH_DEFAULT_PORT) ";\n"
  "            GameStream for Moonlight: HTTP " G_STRINGIFY (FH_GS_DEFAULT_HTTP_PORT) ", HTTPS " G_STRINGIFY (FH_GS_DEFAULT_HTTPS_PORT) ",\n"
  "            RTSP " G_STRINGIFY (FH_GS_DEFAULT_RTSP_PORT) ", UDP 47998-48000; a session per client)\n"
  "  pair      make a new one-time pairing PIN on the running host; with\n"
  "            --moonlight PIN, enter the PIN a Moonlight client shows\n"
  "  devices   list paired devices (browsers and Moonlight clients) with their\n"
  "            access levels, revoke one, or set one's level (list | revoke ID |\n"
  "            level ID full|controller|view [--until TIME | --for DURATION] |\n"
  "            owner ID [--off]: give a device the owner's page, or take it)\n"
  "  sessions  list the live sessions of the running host, or end one (end ID)\n"
  "  approve   list requests to view the shared desktop or to join a session as a\n"
  "            guest, or let one in (approve ID [LEVEL]: a guest's level, controller\n"
  "            if none is said)\n"
  "  deny      turn such a request away (deny ID)\n"
  "\n"
  "Run 'funkhaus COMMAND --help' for a command's options.\n"
  "  -h, --help       show this help\n"
  "  -V, --version    show the version\n";

typedef struct {
  GMainLoop *loop;
  FhNotifier *notifier;
} Serving;

static gboolean
on_signal (gpointer user_data)
{
  Serving *serving = user_data;

  g_message ("stopping (signal)");
  fh_notifier_stopping (serving->notifier);
  g_main_loop_quit (serving->loop);
  return G_SOURCE_CONTINUE;
}

/* How many malloc arenas the host's threads share. glibc gives threads up
 * to 8 arenas a core, and malloc_trim() never gives back the top of an arena
 * other than the main one: each arena a session's threads (capture,
 * encoder, x264's, TLS) once touched keeps up to a MiB resident for the
 * rest of the host's life, so a long-running host grew by 5-6 MiB over
 * its first 200 sessions on 2 cores (more on more cores). The host's
 * threads allocate little per frame, so a few arenas are enough. */
#define HOST_MALLOC_ARENAS 4

static void
bound_malloc_arenas (void)
{
  const char *tunables = g_getenv ("GLIBC_TUNABLES");

  /* Whoever set glibc's own knob knows better. */
  if (g_getenv ("MALLOC_ARENA_MAX") || (tunables && strstr (tunables, "malloc.arena_max")))
    return;
  /* An allocator that is not glibc's (ASan's, one preloaded) refuses: it
   * has arenas of its own, or none. */
  if (!mallopt (M_ARENA_MAX, HOST_MALLOC_ARENAS))
    g_debug ("malloc is not glibc's: no bound on its arenas");
}

static int
cmd_serve (int argc, char **argv)
{
  g_autoptr (GOptionContext) options = g_option_context_new ("- run the funkhaus host");
  g_autoptr (FhConfig) config = fh_config_new ();
  g_autoptr (FhHost) host = NULL;
  g_autoptr (GMainLoop) loop = NULL;
  g_autoptr (FhNotifier) notifier = NULL;
  g_autoptr (GError) error = NULL;
  Serving serving;
  g_autofree char *config_file = NULL, *backend = NULL, *preset = NULL, *audio = NULL;
  g_autofree char *gamestream = NULL, *pads = NULL, *default_level = NULL, *adaptation = NULL;
  gint port = -1, grace = -1, bitrate = -1, gs_http_port = -1, gs_https_port = -1;
  gint gs_rtsp_port = -1, gs_video_port = -1, gs_control_port = -1, gs_audio_port = -1;
  GOptionEntry entries[] = {
    { "port", 'p', 0, G_OPTION_ARG_INT, &port,
      "HTTPS port (default " G_STRINGIFY (FH_DEFAULT_PORT) "; 0 picks a free one)", "PORT" },
    { "backend", 'b', 0, G_OPTION_ARG_STRING, &backend,
      "display backend of the default app and of [app] entries that name none: wlroots "
      "(default), gamescope or synthetic",
      "NAME" },
    { "grace", 'g', 0, G_OPTION_ARG_INT, &grace,
      "seconds a dropped client has to come back to its session (default 30)", "SECONDS" },
    { "bitrate", 0, 0, G_OPTION_ARG_INT, &bitrate,
      "video bitrate when the client names none (default 8000)", "KBPS" },
    { "encoder-preset", 0, 0, G_OPTION_ARG_STRING, &preset,
      "x264 preset (default ultrafast)", "PRESET" },
    { "bitrate-adaptation", 0, 0, G_OPTION_ARG_STRING, &adaptation,
      "on (default): each session's bitrate follows what its client's link carries; off: it "
      "stays at what the client asked for (frames a link cannot take are still skipped)",
      "on|off" },
    { "audio", 0, 0, G_OPTION_ARG_STRING, &audio,
      "speaker and microphone per session: auto (the running PipeWire, else a private one; "
      "default), private (always a private PipeWire) or off", "MODE" },
    { "pads", 0, 0, G_OPTION_ARG_STRING, &pads,
      "gamepads per session: auto (kernel pads through /dev/uinput where it opens, else "
      "user-space pads; default), uinput, user or off", "MODE" },
    { "default-level", 0, 0, G_OPTION_ARG_STRING, &default_level,
      "access level of a newly paired device: full (default), controller (gamepads only) or "
      "view (no input); 'funkhaus devices level' changes one's", "LEVEL" },
    { "gamestream", 0, 0, G_OPTION_ARG_STRING, &gamestream,
      "GameStream plane for Moonlight: auto (default; a port in use only warns), on or off",
      "MODE" },
    { "gamestream-http-port", 0, 0, G_OPTION_ARG_INT, &gs_http_port,
      "GameStream HTTP port (default " G_STRINGIFY (FH_GS_DEFAULT_HTTP_PORT) "; 0 picks a free one)", "PORT" },
    { "gamestream-https-port", 0, 0, G_OPTION_ARG_INT, &gs_https_port,
      "GameStream HTTPS port (default " G_STRINGIFY (FH_GS_DEFAULT_HTTPS_PORT) "; 0 picks a free one)", "PORT" },
    { "gamestream-rtsp-port", 0, 0, G_OPTION_ARG_INT, &gs_rtsp_port,
      "GameStream RTSP port, TCP (default " G_STRINGIFY (FH_GS_DEFAULT_RTSP_PORT) "; 0 picks a free one)", "PORT" },
    { "gamestream-video-port", 0, 0, G_OPTION_ARG_INT, &gs_video_port,
      "GameStream video port, UDP (default " G_STRINGIFY (FH_GS_DEFAULT_VIDEO_PORT) "; 0 picks a free one)", "PORT" },
    { "gamestream-control-port", 0, 0, G_OPTION_ARG_INT, &gs_control_port,
      "GameStream control port, UDP (default " G_STRINGIFY (FH_GS_DEFAULT_CONTROL_PORT) "; 0 picks a free one)", "PORT" },
    { "gamestream-audio-port", 0, 0, G_OPTION_ARG_INT, &gs_audio_port,
      "GameStream audio port, UDP (default " G_STRINGIFY (FH_GS_DEFAULT_AUDIO_PORT) "; 0 picks a free one)", "PORT" },
    { "config", 'c', 0, G_OPTION_ARG_FILENAME, &config_file,
      "settings file (default $XDG_CONFIG_HOME/funkhaus/config.ini)", "FILE" },
    { NULL },
  };

  bound_malloc_arenas ();
  g_option_context_add_main_entries (options, entries, NULL);
  g_option_context_set_description (
    options, "Files: config.ini, cert.pem, key.pem, gamestream-cert.pem, gamestream-key.pem,\n"
             "devices.ini in $XDG_CONFIG_HOME/funkhaus;\n"
             "control.sock and sessions/ in $XDG_RUNTIME_DIR/funkhaus.\n");
  if (!g_option_context_parse (options, &argc, &argv, &error))
    goto fail;
  if (!fh_config_resolve_dirs (config, &error) || !fh_config_load (config, config_file, &error))
    goto fail;

  if (port >= 0)
    config->port = (guint) port;
  if (backend)
    g_free (config->backend), config->backend = g_steal_pointer (&backend);
  if (grace >= 0)
    config->grace_seconds = (guint) grace;
  if (bitrate > 0)
    config->bitrate_kbps = (guint) bitrate;
  if (preset)
    g_free (config->encoder_preset), config->encoder_preset = g_steal_pointer (&preset);
  if (adaptation)
    g_free (config->bitrate_adaptation),
      config->bitrate_adaptation = g_steal_pointer (&adaptation);
  if (audio)
    g_free (config->audio), config->audio = g_steal_pointer (&audio);
  if (gamestream)
    g_free (config->gamestream), config->gamestream = g_steal_pointer (&gamestream);
  if (pads)
    g_free (config->pads), config->pads = g_steal_pointer (&pads);
  if (default_level)
    g_free (config->default_level), config->default_level = g_steal_pointer (&default_level);
  if (gs_http_port >= 0)
    config->gamestream_http_port = (guint) gs_http_port;
  if (gs_https_port >= 0)
    config->gamestream_https_port = (guint) gs_https_port;
  if (gs_rtsp_port >= 0)
    config->gamestream_rtsp_port = (guint) gs_rtsp_port;
  if (gs_video_port >= 0)
    config->gamestream_video_port = (guint) gs_video_port;
  if (gs_control_port >= 0)
    config->gamestream_control_port = (guint) gs_control_port;
  if (gs_audio_port >= 0)
    config->gamestream_audio_port = (guint) gs_audio_port;
  if (!fh_config_check (config, "the command line", &error))
    goto fail;
  if (config->port > 65535) {
    g_set_error (&error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE, "port %u is not 0–65535",
                 config->port);
    goto fail;
  }

  /* Before the host starts any thread: it takes the watchdog's settings
   * out of the environment. */
  notifier = fh_notifier_new ();
  if (!(host = fh_host_new (g_steal_pointer (&config), &error)) ||
      !fh_host_start (host, &error))
    goto fail;

  /* The banner is out and every port listens. */
  fh_notifier_ready (notifier, fh_host_get_core (host), fh_host_get_port (host));
  loop = g_main_loop_new (NULL, FALSE);
  serving = (Serving) { loop, notifier };
  g_unix_signal_add (SIGINT, on_signal, &serving);
  g_unix_signal_add (SIGTERM, on_signal, &serving);
  g_main_loop_run (loop);
  fh_host_stop (host);
  return 0;

fail:
  if (notifier)
    fh_notifier_failed (notifier, error->message);
  fprintf (stderr, "funkhaus serve: %s\n", error->message);
  return 1;
}

/* The running host's control socket. In a root shell $XDG_RUNTIME_DIR is
 * often set (/run/user/0), the system service's is not: where no host
 * listens under the first, the service's is the one to reach. */
static char *
control_socket_path (const FhConfig *config)
{
  g_autofree char *path = g_build_filename (config->runtime_dir, "control.sock", NULL);
  g_autofree char *service = g_build_filename (FH_ROOT_RUNTIME_DIR, "control.sock", NULL);

  if (getuid () == 0 && !g_file_test (path, G_FILE_TEST_EXISTS) &&
      g_file_test (service, G_FILE_TEST_EXISTS))
    return g_steal_pointer (&service);
  return g_steal_pointer (&path);
}

/* Sends @command to the running host over its control socket and returns
 * its answer, or NULL with @error: the host cannot be reached, it answered
 * "error …" (@error holds the rest), or the answer does not start with
 * @expected (NULL: any answer but an error). */
static char *
ask_host (const FhConfig *config, const char *command, const char *expected, GError **error)
{
  g_autofree char *path = control_socket_path (config);
  g_autofree char *answer = fh_control_request (path, command, error);

  if (!answer) {
    g_prefix_error (error, "cannot reach the host at %s (is 'funkhaus serve' running as this "
                           "user?): ", path);
    return NULL;
  }
  if (g_str_has_prefix (answer, "error ") || (expected && !g_str_has_prefix (answer, expected))) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "%s",
                 g_str_has_prefix (answer, "error ") ? answer + 6 : answer);
    return NULL;
  }
  return g_steal_pointer (&answer);
}

static int
cmd_pair (int argc, char **argv)
{
  g_autoptr (GOptionContext) options =
    g_option_context_new ("- make a new one-time pairing PIN on the running host");
  g_autoptr (FhConfig) config = fh_config_new ();
  g_autoptr (GError) error = NULL;
  g_autofree char *answer = NULL, *moonlight = NULL, *command = NULL;
  GOptionEntry entries[] = {
    { "moonlight", 'm', 0, G_OPTION_ARG_STRING, &moonlight,
      "instead, enter the 4-digit PIN a Moonlight client shows while it pairs", "PIN" },
    { NULL },
  };

  g_option_context_add_main_entries (options, entries, NULL);
  if (!g_option_context_parse (options, &argc, &argv, &error) ||
      !fh_config_resolve_dirs (config, &error))
    goto fail;
  if (moonlight && strchr (moonlight, '\n')) {
    g_set_error (&error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE, "the PIN is 4 digits");
    goto fail;
  }
  command = moonlight ? g_strdup_printf ("moonlight-pin %s", moonlight) : g_strdup ("pair");
  if (!(answer = ask_host (config, command, moonlight ? "pin-entered " : "pin ", &error)))
    goto fail;
  if (moonlight) {
    printf ("PIN entered for Moonlight client '%s': it finishes pairing now (a wrong PIN fails "
            "there)\n",
            answer + strlen ("pin-entered "));
    return 0;
  }
  printf ("pairing PIN: %s (pairs one device)\n", answer + 4);
  return 0;

fail:
  fprintf (stderr, "funkhaus pair: %s\n", error->message);
  return 1;
}

/* Under which account and in which home a device's sessions run. */
static const char *
describe_identity (const FhConfig *config, const char *device)
{
  static char text[512];
  g_autofree char *account = fh_sandbox_account_name (device);
  g_autofree char *home = g_build_filename (config->homes_dir, device, NULL);

  if (getuid () == 0)
    g_snprintf (text, sizeof text, "account %s%s, home %s", account,
                getpwnam (account) ? "" : " (made on its first session)", home);
  else
    g_snprintf (text, sizeof text, "home %s", home);
  return text;
}

/* A revoked device's account and home stay: its saves are not ours to
 * throw away; the host's owner removes them. */
static void
print_identity_kept (const FhConfig *config, const char *device)
{
  g_autofree char *account = fh_sandbox_account_name (device);
  g_autofree char *home = g_build_filename (config->homes_dir, device, NULL);

  if (getuid () == 0 && getpwnam (account))
    printf ("its account %s and its home %s are kept (its saves and settings); "
            "'userdel --remove %s' deletes both\n",
            account, home, account);
  else if (g_file_test (home, G_FILE_TEST_IS_DIR))
    printf ("its home %s is kept; 'rm -r %s' deletes it\n", home, home);
}

/* A device's level for the list: "full", "controller until TIME",
 * "view (controller expired TIME)". */
static char *
describe_access (const FhAccess *access)
{
  g_autofree char *until = access->until ? fh_access_format_time (access->until) : NULL;
  const char *level = fh_access_level_to_string (access->level);

  if (!until)
    return g_strdup (level);
  if (fh_access_effective (access, g_get_real_time () / G_USEC_PER_SEC) != access->level)
    return g_strdup_printf ("view (%s expired %s)", level, until);
  return g_strdup_printf ("%s until %s", level, until);
}

/* devices level ID LEVEL [--until TIME | --for DURATION]: on the running
 * host, which applies it to the device's live sessions at once; without
 * one, in devices.ini. */
static int
set_level (const FhConfig *config, const char *id, const char *word, const char *until_text,
           const char *for_text)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (FhDeviceStore) store = NULL;
  g_autofree char *path = NULL, *answer = NULL, *command = NULL, *shown = NULL;
  FhAccess access = { 0 };
  gint64 seconds;

  if (!fh_access_level_from_string (word, &access.level)) {
    g_set_error (&error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                 "'%s' is not a level: say full, controller (gamepads only) or view (no input)",
                 word);
    goto fail;
  }
  if (until_text && for_text) {
    g_set_error (&error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                 "say --until or --for, not both");
    goto fail;
  }
  if (until_text && !fh_access_parse_time (until_text, &access.until, &error))
    goto fail;
  if (for_text) {
    if (!fh_access_parse_duration (for_text, &seconds, &error))
      goto fail;
    access.until = g_get_real_time () / G_USEC_PER_SEC + seconds;
  }
  if (access.until && access.until <= g_get_real_time () / G_USEC_PER_SEC) {
    g_set_error (&error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                 "%s is already past", until_text);
    goto fail;
  }
  shown = describe_access (&access);
  path = control_socket_path (config);
  command = access.until ? g_strdup_printf ("level %s %s %" G_GINT64_FORMAT, id, word, access.until)
                         : g_strdup_printf ("level %s %s", id, word);
  if (strchr (id, ' ') || strchr (id, '\n')) {
    g_set_error (&error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE, "no paired device %s", id);
    goto fail;
  }
  if ((answer = fh_control_request (path, command, NULL))) {
    if (!g_str_has_prefix (answer, "level-set ")) {
      g_set_error (&error, G_IO_ERROR, G_IO_ERROR_FAILED, "%s",
                   g_str_has_prefix (answer, "error ") ? answer + 6 : answer);
      goto fail;
    }
    printf ("device %s: %s; %s of its sessions follow it now\n", id, shown,
            answer + strlen ("level-set "));
    return 0;
  }
  if (!(store = fh_device_store_new (config->config_dir, &error)) ||
      !fh_device_store_set_access (store, id, &access, &error))
    goto fail;
  printf ("device %s: %s (no host was running)\n", id, shown);
  return 0;

fail:
  fprintf (stderr, "funkhaus devices: %s\n", error->message);
  return 1;
}

/* devices owner ID [--off]: on the running host, whose consoles of that
 * device show or hide the owner's page at once; without one, in
 * devices.ini. */
static int
set_owner (const FhConfig *config, const char *id, gboolean owner)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (FhDeviceStore) store = NULL;
  g_autofree char *path = NULL, *answer = NULL, *command = NULL;
  const char *what = owner ? "holds the owner right" : "no longer holds the owner right";

  if (strchr (id, ' ') || strchr (id, '\n')) {
    g_set_error (&error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE, "no paired device %s", id);
    goto fail;
  }
  path = control_socket_path (config);
  command = g_strdup_printf ("owner %s %s", id, owner ? "on" : "off");
  if ((answer = fh_control_request (path, command, NULL))) {
    if (!g_str_has_prefix (answer, "owner-set ")) {
      g_set_error (&error, G_IO_ERROR, G_IO_ERROR_FAILED, "%s",
                   g_str_has_prefix (answer, "error ") ? answer + 6 : answer);
      goto fail;
    }
    printf ("device %s %s\n", id, what);
    return 0;
  }
  if (!(store = fh_device_store_new (config->config_dir, &error)) ||
      !fh_device_store_set_owner (store, id, owner, &error))
    goto fail;
  printf ("device %s %s (no host was running)\n", id, what);
  return 0;

fail:
  fprintf (stderr, "funkhaus devices: %s\n", error->message);
  return 1;
}

static int
cmd_devices (int argc, char **argv)
{
  g_autoptr (GOptionContext) options = g_option_context_new (
    "list | revoke ID | level ID full|controller|view | owner ID [--off] - the paired devices; "
    "revoking one ends its sessions on the running host, a level applies to them at once");
  g_autoptr (FhConfig) config = fh_config_new ();
  g_autoptr (GError) error = NULL;
  g_autoptr (FhDeviceStore) pairing = NULL;
  g_autofree char *path = NULL, *answer = NULL, *command = NULL;
  g_autofree char *until = NULL, *duration = NULL;
  gboolean off = FALSE;
  GOptionEntry entries[] = {
    { "until", 0, 0, G_OPTION_ARG_STRING, &until,
      "with level: the level lasts until TIME (ISO 8601, e.g. 2026-12-24T18:00:00Z), then the "
      "device may only view", "TIME" },
    { "for", 0, 0, G_OPTION_ARG_STRING, &duration,
      "with level: the level lasts this long (e.g. 45s, 30m, 2h, 1d), then the device may only "
      "view", "DURATION" },
    { "off", 0, 0, G_OPTION_ARG_NONE, &off,
      "with owner: take the owner right away instead of giving it", NULL },
    { NULL },
  };

  g_option_context_add_main_entries (options, entries, NULL);
  g_option_context_set_description (
    options, "Levels: full (keyboard, mouse, gamepads, microphone), controller (gamepads and\n"
             "microphone: no keyboard or mouse), view (no input: the picture and sound only).\n"
             "A level that expires falls back to view.\n"
             "A device paired from now on gets default-level= of config.ini (full).\n"
             "The owner right (owner ID; --off takes it away): that browser's page shows the\n"
             "live sessions, the paired devices and the waiting requests, and may end a\n"
             "session, revoke a device, set a level, make a PIN and answer requests.\n");
  if (!g_option_context_parse (options, &argc, &argv, &error) ||
      !fh_config_resolve_dirs (config, &error) || !fh_config_load (config, NULL, &error))
    goto fail;
  if (argc == 4 && g_str_equal (argv[1], "level"))
    return set_level (config, argv[2], argv[3], until, duration);
  if (argc == 3 && g_str_equal (argv[1], "owner"))
    return set_owner (config, argv[2], !off);
  if (off) {
    g_set_error (&error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE, "--off goes with 'owner ID'");
    goto fail;
  }
  if (until || duration) {
    g_set_error (&error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                 "--until and --for go with 'level ID LEVEL'");
    goto fail;
  }
  if (argc == 2 && g_str_equal (argv[1], "list")) {
    g_autoptr (GPtrArray) list = NULL;
    if (!(pairing = fh_device_store_new (config->config_dir, &error)))
      goto fail;
    list = fh_device_store_list (pairing);
    if (list->len == 0)
      printf ("no paired devices\n");
    for (guint i = 0; i < list->len; i++) {
      FhDevice *d = list->pdata[i];
      g_autofree char *access = describe_access (&d->access);
      /* The kind last, as before: scripts read it there. */
      printf ("%s  %-24s  paired %s  %s  level %s%s  %s\n", d->id, d->name ? d->name : "",
              d->paired ? d->paired : "?", describe_identity (config, d->id), access,
              d->owner ? "  owner" : "", d->kind);
    }
    return 0;
  }
  if (argc != 3 || !g_str_equal (argv[1], "revoke")) {
    g_set_error (&error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                 "say 'list', 'revoke ID', 'level ID LEVEL' or 'owner ID' (see 'funkhaus devices "
                 "--help')");
    goto fail;
  }
  /* The running host forgets the device and ends its sessions at once;
   * without one, the file is edited here. */
  path = control_socket_path (config);
  command = g_strdup_printf ("revoke %s", argv[2]);
  if ((answer = fh_control_request (path, command, NULL))) {
    if (!g_str_has_prefix (answer, "revoked ")) {
      g_set_error (&error, G_IO_ERROR, G_IO_ERROR_FAILED, "%s",
                   g_str_has_prefix (answer, "error ") ? answer + 6 : answer);
      goto fail;
    }
    printf ("revoked %s; %s of its sessions ended\n", argv[2], answer + 8);
    print_identity_kept (config, argv[2]);
    return 0;
  }
  if (!(pairing = fh_device_store_new (config->config_dir, &error)) ||
      !fh_device_store_revoke (pairing, argv[2], &error))
    goto fail;
  printf ("revoked %s (no host was running)\n", argv[2]);
  print_identity_kept (config, argv[2]);
  return 0;

fail:
  fprintf (stderr, "funkhaus devices: %s\n", error->message);
  return 1;
}

/* sessions [end ID]: the running host's live sessions. */
static int
cmd_sessions (int argc, char **argv)
{
  g_autoptr (GOptionContext) options = g_option_context_new (
    "[end ID] - list the running host's live sessions, or end one (its client is told that "
    "the host's owner ended it)");
  g_autoptr (FhConfig) config = fh_config_new ();
  g_autoptr (GError) error = NULL;
  g_autofree char *answer = NULL, *command = NULL;
  g_auto (GStrv) sessions = NULL;

  if (!g_option_context_parse (options, &argc, &argv, &error) ||
      !fh_config_resolve_dirs (config, &error))
    goto fail;
  if (!(argc == 1 || (argc == 3 && g_str_equal (argv[1], "end"))) ||
      (argc == 3 && (strchr (argv[2], ' ') || strchr (argv[2], '\n')))) {
    g_set_error (&error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                 "say 'funkhaus sessions' or 'funkhaus sessions end ID'");
    goto fail;
  }
  command = argc == 3 ? g_strdup_printf ("end %s", argv[2]) : g_strdup ("sessions-list");
  if (!(answer = ask_host (config, command, argc == 3 ? "ended " : "sessions-list", &error)))
    goto fail;
  if (argc == 3) {
    printf ("session %s ended\n", argv[2]);
    return 0;
  }
  sessions = g_strsplit (answer + strlen ("sessions-list"), ";", -1);
  if (!sessions[0] || !*g_strstrip (sessions[0])) {
    printf ("no live sessions\n");
    return 0;
  }
  printf ("%-32s  %-16s  %-14s  %5s  %6s  %-10s  %-10s  %-12s  %s\n", "ID", "DEVICE", "MODE",
          "FPS", "KBPS", "BACKEND", "PLANE", "STATE", "GUESTS");
  for (char **s = sessions; *s; s++) {
    g_auto (GStrv) fields = g_strsplit (g_strstrip (*s), " ", -1);
    const char *v[9] = { "?", "?", "?", "?", "?", "?", "?", "?", "?" };
    static const char *const keys[9] = { "id", "device", "mode", "fps", "kbps", "backend",
                                         "plane", "state", "guests" };
    for (char **f = fields; *f; f++) {
      for (guint k = 0; k < G_N_ELEMENTS (keys); k++) {
        gsize n = strlen (keys[k]);
        if (strncmp (*f, keys[k], n) == 0 && (*f)[n] == '=')
          v[k] = *f + n + 1;
      }
    }
    printf ("%-32s  %-16s  %-14s  %5s  %6s  %-10s  %-10s  %-12s  %s\n", v[0], v[1], v[2], v[3],
            v[4], v[5], v[6], v[7], v[8]);
  }
  return 0;

fail:
  fprintf (stderr, "funkhaus sessions: %s\n", error->message);
  return 1;
}

/* approve [ID [LEVEL]] | deny ID: answers on the running host's control
 * socket. */
static int
cmd_answer (int argc, char **argv)
{
  g_autoptr (FhConfig) config = fh_config_new ();
  g_autoptr (GError) error = NULL;
  g_autofree char *answer = NULL, *command = NULL;
  gboolean approve = g_str_equal (argv[0], "approve");

  if (argc > (approve ? 3 : 2) || (!approve && argc != 2) ||
      (argc >= 2 && g_str_has_prefix (argv[1], "-"))) {
    fprintf (stderr, "usage: funkhaus approve [ID [full|controller|view]] | funkhaus deny ID\n");
    return 2;
  }
  if (!fh_config_resolve_dirs (config, &error))
    goto fail;
  command = argc == 3   ? g_strdup_printf ("%s %s %s", argv[0], argv[1], argv[2])
            : argc == 2 ? g_strdup_printf ("%s %s", argv[0], argv[1])
                        : g_strdup ("requests");
  if (!(answer = ask_host (config, command, NULL, &error)))
    goto fail;
  if (g_str_has_prefix (answer, "requests "))
    printf ("%s\n", answer[9] ? answer + 9 : "no requests to view the shared desktop or to join a session");
  else
    printf ("%s\n", answer);
  return 0;

fail:
  fprintf (stderr, "funkhaus %s: %s\n", argv[0], error->message);
  return 1;
}

int
main (int argc, char **argv)
{
  setlocale (LC_ALL, "");
  fh_log_writer_install ();
  fh_video_encoder_log_to_glib ();
  /* A client that vanishes mid-write must not kill the host. */
  signal (SIGPIPE, SIG_IGN);

  if (argc < 2 || g_str_equal (argv[1], "-h") || g_str_equal (argv[1], "--help")) {
    fputs (usage, argc < 2 ? stderr : stdout);
    return argc < 2 ? 2 : 0;
  }
  if (g_str_equal (argv[1], "-V") || g_str_equal (argv[1], "--version")) {
    printf ("funkhaus %s\n", FH_VERSION);
    return 0;
  }
  if (g_str_equal (argv[1], "serve"))
    return cmd_serve (argc - 1, argv + 1);
  if (g_str_equal (argv[1], "pair"))
    return cmd_pair (argc - 1, argv + 1);
  if (g_str_equal (argv[1], "devices"))
    return cmd_devices (argc - 1, argv + 1);
  if (g_str_equal (argv[1], "approve") || g_str_equal (argv[1], "deny"))
    return cmd_answer (argc - 1, argv + 1);
  if (g_str_equal (argv[1], "sessions"))
    return cmd_sessions (argc - 1, argv + 1);
  fprintf (stderr, "funkhaus: unknown command '%s'\n\n%s", argv[1], usage);
  return 2;
}
