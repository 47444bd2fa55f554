/* Host settings: embedded defaults, then config.ini, then the command line. */
#pragma once

#include <glib.h>

#define FH_DEFAULT_PORT 47900
/* The runtime directory of a host running as root without
 * $XDG_RUNTIME_DIR: the system service's (RuntimeDirectory=funkhaus). */
#define FH_ROOT_RUNTIME_DIR "/run/funkhaus"

/* An entry of the owner's app list ([app NAME] in config.ini). */
typedef struct {
  char *name;
  char *command; /* NULL: the host's app=, else the backend's default */
  char *backend; /* NULL: the host's backend= */
  char *icon;    /* a PNG for Moonlight, or NULL */
} FhConfigApp;

void fh_config_app_free (FhConfigApp *app);

typedef struct {
  guint port;
  /* The web port's limits (planes/web/server.c): how long a connection
   * may take to deliver its request (TLS handshake, headers and body),
   * and how many connections one address may hold open at once. */
  guint http_request_timeout_seconds;
  guint http_max_connections_per_address;
  char *backend;
  guint grace_seconds;
  guint bitrate_kbps;
  char *bitrate_adaptation; /* "on" | "off" */
  char *encoder_preset;
  guint encoder_threads;
  char *app; /* the default app's command; NULL = the backend's default */
  /* The owner's app list, in the file's order (FhConfigApp); empty: the
   * default list (host.c). */
  GPtrArray *apps;
  char *run_as; /* account for compositors and apps when run as root */
  /* Independent sessions' sandboxes (backends/sandbox.h): whether they have
   * walls ("on", "off"), where the devices' homes are ("" = the default:
   * /var/lib/funkhaus-homes as root, $XDG_DATA_HOME/funkhaus/homes
   * otherwise), and the apps' niceness. */
  char *sandbox;
  char *homes_dir;
  guint app_nice;
  /* A cgroup per session (backends/cgroup.h): "on", "off"; its CPU weight
   * (1–10000) and memory limit in MiB (0: three quarters of the machine's). */
  char *session_cgroups;
  guint session_cpu_weight;
  guint session_memory_mib;
  GStrv sandbox_binds; /* more folders every sandbox sees (read-write) */
  /* Gamepads per session (backends/pads.h): how they are made ("auto":
   * kernel pads through /dev/uinput where it opens, else user-space pads;
   * "uinput", "user", "off") and how many a session takes at most (0:
   * none, at most FH_PAD_LIMIT). */
  char *pads;
  guint session_pads;
  char *gamescope; /* the gamescope command of the gamescope backend */
  /* The shared desktop: which ("auto": sway at $SWAYSOCK, else GNOME
   * Mutter or KDE KWin on the session bus; "sway", "mutter", "kwin", the
   * path of sway's IPC socket, or "" = none), sway's or KWin's Wayland
   * socket ("" =
   * $XDG_RUNTIME_DIR/$WAYLAND_DISPLAY), the desktop's session bus ("" =
   * $DBUS_SESSION_BUS_ADDRESS) and PipeWire ("" = the default), who may
   * join ("allow", "ask": approved on the host, "deny"), and how many views
   * at once. */
  char *shared_desktop;
  char *shared_wayland;
  char *shared_dbus;
  char *shared_pipewire;
  char *shared_join;
  guint shared_max_views;
  char *keyboard_layout; /* xkb layout for injected keys */
  /* "auto" (the running PipeWire, else a private one), "private" (always
   * a private PipeWire stack) or "off" (no speaker, no microphone). */
  char *audio;
  /* Who may read /metrics and /healthz on the web port: "localhost",
   * "owners" (the credential of a device with the owner right; "devices"
   * is its older name) or "off". */
  char *metrics;
  /* The GameStream plane for Moonlight clients: "auto" (on, but a port
   * in use only warns), "on" (a port in use stops the host) or "off"; its
   * HTTP and HTTPS ports and its streaming ports: RTSP (TCP), video,
   * control and audio (UDP); 0 = any free port. */
  char *gamestream;
  guint gamestream_http_port;
  guint gamestream_https_port;
  guint gamestream_rtsp_port;
  guint gamestream_video_port;
  guint gamestream_control_port;
  guint gamestream_audio_port;
  /* The access level of a newly paired device: "full", "controller"
   * (gamepads only) or "view" (no input). */
  char *default_level;
  /* Where things live (filled by fh_config_resolve_dirs). */
  char *config_dir; /* cert, key, devices.ini, config.ini */
  char *runtime_dir; /* control socket, session dirs */
  char *web_dir;
} FhConfig;

FhConfig *fh_config_new (void);
void fh_config_free (FhConfig *config);

/* Finds (and creates, 0700) the config and runtime directories. */
gboolean fh_config_resolve_dirs (FhConfig *config, GError **error);

/* Reads [host] and the [app NAME] groups of @path (or config.ini in the config dir when @path is
 * NULL; a missing default file is fine). */
gboolean fh_config_load (FhConfig *config, const char *path, GError **error);

/* Checks values that have a fixed set of choices; @path names the source. */
gboolean fh_config_check (const FhConfig *config, const char *path, GError **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (FhConfig, fh_config_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (FhConfigApp, fh_config_app_free)
