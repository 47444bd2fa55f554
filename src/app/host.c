/* The context: owns the config, the registry of sessions and clients, the
 * HTTPS server and the control socket. */
#include "app/host.h"

#include <errno.h>
#include <glib/gstdio.h>
#include <ifaddrs.h>
#include <arpa/inet.h>
#include <net/if.h>
#include <stdio.h>

#include "fh-config.h"
#include "media/mic.h"
#include "media/speaker.h"
#include "backends/shared-desktop.h"
#include "planes/gamestream/mdns.h"
#include "planes/gamestream/nvhttp.h"
#include "base/account.h"
#include "app/control-socket.h"
#include "base/process.h"
#include "planes/web/cert.h"
#include "planes/web/client.h"
#include "planes/web/server.h"

#define JOIN_TIMEOUT_S 60

typedef struct {
  FhContext *context;
  char *id;
  FhClient *client; /* not owned: forgotten when it closes */
  char *device, *layout;
  FhSessionRequest request; /* its strings point into the fields above */
  gboolean mic;
  guint timeout;
} FhJoinRequest;

static void
join_request_free (FhJoinRequest *r)
{
  g_clear_handle_id (&r->timeout, g_source_remove);
  g_free (r->id);
  g_free (r->device);
  g_free (r->layout);
  g_free (r);
}

struct _FhContext {
  FhConfig *config;
  GMainContext *main_context;
  const FhDisplayBackend *backend;
  FhPairing *pairing;
  GTlsCertificate *certificate;
  char *fingerprint;
  char *sessions_dir;
  char *control_path;
  GHashTable *sessions; /* id → FhSession, owned */
  GPtrArray *clients; /* FhClient, owned */
  GPtrArray *dying; /* FhDeferredStop: removed, not yet stopped */
  guint next_serial;
  guint holds;
  FhServer *server;
  FhControl *control;
  FhGsIdentity *gs_identity;
  FhGsHttp *gs_http; /* NULL: GameStream off or its ports taken */
  FhGsStreamer *gs_streamer; /* with gs_http */
  FhGsMdns *gs_mdns;         /* with gs_http: _nvstream._tcp through Avahi */
  FhPipeWire *pipewire;
  FhSharedDesktop *shared;
  FhSpeaker *shared_speaker;
  FhMic *shared_mic;
  GPtrArray *join_requests; /* FhJoinRequest */
  gboolean started;
};

FhContext *
fh_context_new (FhConfig *config, GError **error)
{
  g_autoptr (FhContext) self = g_new0 (FhContext, 1);
  gboolean created = FALSE;

  self->config = config;
  self->main_context = g_main_context_ref_thread_default ();
  self->sessions = g_hash_table_new_full (g_str_hash, g_str_equal, NULL,
                                          (GDestroyNotify) fh_session_free);
  self->clients = g_ptr_array_new_with_free_func ((GDestroyNotify) fh_client_free);
  self->dying = g_ptr_array_new ();
  self->join_requests = g_ptr_array_new_with_free_func ((GDestroyNotify) join_request_free);

  if (!(self->backend = fh_display_backend_lookup (config->backend, error)))
    return NULL;
  if (!(self->pairing = fh_pairing_new (config->config_dir, error)))
    return NULL;
  self->certificate = fh_cert_load_or_create (config->config_dir, &self->fingerprint, &created,
                                              error);
  if (!self->certificate)
    return NULL;
  if (created)
    g_message ("made a new host certificate in %s", config->config_dir);
  self->sessions_dir = g_build_filename (config->runtime_dir, "sessions", NULL);
  self->control_path = g_build_filename (config->runtime_dir, "control.sock", NULL);
  return g_steal_pointer (&self);
}

void
fh_context_free (FhContext *self)
{
  if (!self)
    return;
  fh_context_stop (self);
  /* A start that failed after audio came up. */
  g_clear_pointer (&self->shared_mic, fh_mic_free);
  g_clear_pointer (&self->shared_speaker, fh_speaker_free);
  g_clear_pointer (&self->shared, fh_shared_desktop_free);
  g_clear_pointer (&self->pipewire, fh_pipewire_free);
  g_clear_pointer (&self->sessions, g_hash_table_unref);
  g_clear_pointer (&self->clients, g_ptr_array_unref);
  g_clear_pointer (&self->dying, g_ptr_array_unref);
  g_clear_pointer (&self->join_requests, g_ptr_array_unref);
  g_clear_pointer (&self->gs_mdns, fh_gs_mdns_free);
  g_clear_pointer (&self->gs_streamer, fh_gs_streamer_free);
  g_clear_pointer (&self->gs_http, fh_gs_http_free);
  g_clear_pointer (&self->gs_identity, fh_gs_identity_free);
  g_clear_object (&self->certificate);
  g_clear_pointer (&self->pairing, fh_pairing_free);
  g_clear_pointer (&self->main_context, g_main_context_unref);
  g_free (self->fingerprint);
  g_free (self->sessions_dir);
  g_free (self->control_path);
  fh_config_free (self->config);
  g_free (self);
}

static void
print_lan_urls (guint port)
{
  struct ifaddrs *list = NULL;

  if (getifaddrs (&list) < 0)
    return;
  for (struct ifaddrs *i = list; i; i = i->ifa_next) {
    char addr[INET_ADDRSTRLEN];
    if (!i->ifa_addr || i->ifa_addr->sa_family != AF_INET || (i->ifa_flags & IFF_LOOPBACK))
      continue;
    inet_ntop (AF_INET, &((struct sockaddr_in *) i->ifa_addr)->sin_addr, addr, sizeof addr);
    printf ("  on the network: https://%s:%u/\n", addr, port);
  }
  freeifaddrs (list);
}

/* Whose is the playback or recording stream of process @pid? Ancestry
 * first (it descends from a session's compositor or app), then the
 * FUNKHAUS_SESSION marker of a process that left its parent. */
static const char *
route_audio_stream (FhAudioStreamKind kind, int pid, gpointer user_data)
{
  FhContext *self = user_data;
  gboolean playback = kind == FH_AUDIO_STREAM_PLAYBACK;
  g_autofree char *marker = NULL;
  GHashTableIter iter;
  gpointer value;
  FhSession *session;

  g_hash_table_iter_init (&iter, self->sessions);
  while (g_hash_table_iter_next (&iter, NULL, &value)) {
    if (fh_session_owns_process (value, pid))
      return fh_session_get_audio_target (value, playback);
  }
  marker = fh_process_find_session_marker (pid);
  session = marker ? g_hash_table_lookup (self->sessions, marker) : NULL;
  if (session)
    return fh_session_get_audio_target (session, playback);
  /* The shared desktop's apps: its speaker and microphone. Checked last: a
   * host started from that desktop has its own sessions below it too. */
  if (self->shared && self->shared_speaker && fh_shared_desktop_owns_process (self->shared, pid))
    return playback ? fh_speaker_get_sink_name (self->shared_speaker)
                    : fh_mic_get_source_name (self->shared_mic);
  return NULL;
}

/* The shared desktop: the configured one, or the one the host finds. */
static gboolean
start_shared_desktop (FhContext *self, GError **error)
{
  const FhConfig *config = self->config;
  FhSharedDesktopConfig desktop = {
    .which = config->shared_desktop,
    .wayland_socket = config->shared_wayland,
    .dbus_address = config->shared_dbus,
    .pipewire_remote = *config->shared_pipewire ? config->shared_pipewire : NULL,
    .keyboard_layout = config->keyboard_layout,
    .max_views = config->shared_max_views,
  };
  gboolean configured = !g_str_equal (config->shared_desktop, "auto");
  g_autofree char *why = NULL;
  g_autoptr (GError) local = NULL;

  if (!*config->shared_desktop)
    return TRUE;
  self->shared = fh_shared_desktop_open (&desktop, &why, &local);
  if (why)
    g_message ("shared desktop: %s", why);
  if (!self->shared) {
    if (!local)
      return TRUE; /* auto, and none found */
    if (configured) {
      g_propagate_prefixed_error (error, g_steal_pointer (&local), "shared desktop: ");
      return FALSE;
    }
    g_warning ("shared desktop: off: %s", local->message);
    return TRUE;
  }
  if (self->pipewire &&
      (!(self->shared_speaker = fh_speaker_new (self->pipewire, "funkhaus-shared-speaker",
                                                &local)) ||
       !(self->shared_mic = fh_mic_new (self->pipewire, "funkhaus-shared-mic", &local)))) {
    g_warning ("shared desktop: no audio: %s", local->message);
    g_clear_pointer (&self->shared_speaker, fh_speaker_free);
  }
  return TRUE;
}

static gboolean
start_audio (FhContext *self, GError **error)
{
  g_autoptr (FhAccount) account = NULL;
  g_autofree char *base = NULL;
  g_autoptr (GError) local = NULL;
  gboolean must = g_str_equal (self->config->audio, "private");

  if (g_str_equal (self->config->audio, "off"))
    return TRUE;
  if (!(account = fh_account_resolve (self->config->run_as, &local)) ||
      !(base = fh_account_runtime_base (account, &local)) ||
      !(self->pipewire = fh_pipewire_new (account, base, must, &local))) {
    if (must) {
      g_propagate_prefixed_error (error, g_steal_pointer (&local), "audio: ");
      return FALSE;
    }
    g_warning ("audio: off, sessions get no speaker or microphone: %s (audio=off in "
               "config.ini silences this)", local->message);
    return TRUE;
  }
  fh_pipewire_set_router (self->pipewire, route_audio_stream, self);
  return TRUE;
}

static void
print_line (const char *line, gpointer data)
{
  printf ("%s\n", line);
  fflush (stdout);
}

static void
on_gs_launched (const FhGsLaunchInfo *info, gpointer data)
{
  FhContext *self = data;

  if (self->gs_streamer)
    fh_gs_streamer_launch (self->gs_streamer, info);
}

static void
on_gs_cancelled (const char *device, gpointer data)
{
  FhContext *self = data;

  if (self->gs_streamer)
    fh_gs_streamer_cancel (self->gs_streamer, device);
}

static void
on_gs_ended (const char *device, gpointer data)
{
  FhContext *self = data;

  if (self->gs_http)
    fh_gs_http_forget_device (self->gs_http, device);
}

/* Sends @text to every console: WebSockets of paired browsers that asked
 * for the host's console (planes/web/client.c), never to session-only ones. */
static void
tell_consoles (FhContext *self, const char *text)
{
  for (guint i = 0; i < self->clients->len; i++) {
    FhClient *client = self->clients->pdata[i];
    if (fh_client_is_console (client))
      fh_client_send_text (client, text);
  }
}

static void
on_gs_pair_event (FhGsPairEvent event, const char *client, const char *detail, gpointer data)
{
  FhContext *self = data;
  g_autofree char *text = NULL;

  text = fh_proto_build_moonlight (fh_gs_pair_event_to_string (event), client,
                                   event == FH_GS_PAIR_EVENT_FAILED ? detail : NULL,
                                   event == FH_GS_PAIR_EVENT_PAIRED ? detail : NULL);
  tell_consoles (self, text);
}

/* The GameStream plane: its identity (made once), its HTTP and HTTPS
 * ports, and the streaming ports. With gamestream=auto a port in use only
 * warns; with "on" it stops the host. */
static gboolean
start_gamestream (FhContext *self, GError **error)
{
  const FhConfig *config = self->config;
  FhGsHttpConfig gs = {
    .http_port = config->gamestream_http_port,
    .https_port = config->gamestream_https_port,
    .announce = print_line,
    .pair_event = on_gs_pair_event,
    .pair_event_data = self,
  };
  FhGsStreamerConfig streaming = {
    .rtsp_port = config->gamestream_rtsp_port,
    .video_port = config->gamestream_video_port,
    .control_port = config->gamestream_control_port,
    .audio_port = config->gamestream_audio_port,
    .ended = on_gs_ended,
    .data = self,
  };
  g_autoptr (GError) local = NULL;
  gboolean created = FALSE;

  if (g_str_equal (config->gamestream, "off"))
    return TRUE;
  if (!self->gs_identity &&
      !(self->gs_identity = fh_gs_identity_load_or_create (config->config_dir, &created, error))) {
    g_prefix_error (error, "GameStream identity: ");
    return FALSE;
  }
  if (created)
    g_message ("made a new GameStream identity in %s", config->config_dir);
  if (!(self->gs_http = fh_gs_http_new (&gs, self->gs_identity, self->pairing, error)))
    return FALSE;
  if (!fh_gs_http_listen (self->gs_http, &local) ||
      !(self->gs_streamer = fh_gs_streamer_new (self, &streaming, &local))) {
    g_clear_pointer (&self->gs_http, fh_gs_http_free);
    if (g_str_equal (config->gamestream, "on")) {
      g_propagate_prefixed_error (error, g_steal_pointer (&local),
                                  "cannot serve Moonlight clients (gamestream=off in config.ini "
                                  "or --gamestream off turns this off): ");
      return FALSE;
    }
    g_warning ("GameStream (Moonlight) off: %s (another GameStream host running? "
               "gamestream=off in config.ini silences this)",
               local->message);
    return TRUE;
  }
  fh_gs_http_set_streaming (self->gs_http, fh_gs_streamer_get_rtsp_port (self->gs_streamer),
                            on_gs_launched, on_gs_cancelled, self);
  /* A Moonlight client cannot wait for a shared-join=ask answer, so it is
   * offered the shared desktop only where views are let in at once. */
  fh_gs_http_offer_shared_desktop (self->gs_http,
                                   self->shared && g_str_equal (config->shared_join, "allow"));
  /* Moonlight finds the host by itself on the LAN; without Avahi it warns
   * once and the host is added by address. */
  if (!(self->gs_mdns = fh_gs_mdns_new (fh_gs_http_get_hostname (self->gs_http),
                                        fh_gs_http_get_http_port (self->gs_http), &local)))
    g_warning ("GameStream: not announced on the LAN (mDNS): %s", local->message);
  return TRUE;
}

gboolean
fh_context_start (FhContext *self, GError **error)
{
  guint port;

  if (g_mkdir_with_parents (self->sessions_dir, 0700) < 0) {
    int saved = errno;
    g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved), "cannot create %s: %s",
                 self->sessions_dir, g_strerror (saved));
    return FALSE;
  }
  if (!start_audio (self, error) || !start_shared_desktop (self, error))
    return FALSE;
  if (!(self->control = fh_control_new (self, self->control_path, error)))
    return FALSE;
  if (!(self->server = fh_server_new (self, self->certificate, error)) ||
      !fh_server_listen (self->server, self->config->port, error))
    return FALSE;
  if (!start_gamestream (self, error))
    return FALSE;
  self->started = TRUE;

  port = fh_server_get_port (self->server);
  printf ("funkhaus %s: serving https://localhost:%u/\n", FH_VERSION, port);
  print_lan_urls (port);
  printf ("  certificate SHA-256 fingerprint: %s\n", self->fingerprint);
  printf ("  backend: %s (%s)\n", self->backend->name, self->backend->description);
  if (self->shared)
    printf ("  shared desktop: %s %d, joining: %s\n", fh_shared_desktop_get_kind (self->shared),
            fh_shared_desktop_get_pid (self->shared), self->config->shared_join);
  printf ("  audio: %s\n", !self->pipewire                         ? "off"
                           : fh_pipewire_is_private (self->pipewire) ? "private PipeWire"
                                                                      : "the running PipeWire");
  if (self->gs_http) {
    guint rtsp, video, control, audio;
    fh_gs_streamer_get_ports (self->gs_streamer, &rtsp, &video, &control, &audio);
    printf ("  gamestream (Moonlight): http port %u, https port %u, rtsp port %u (tcp); "
            "video %u, control %u, audio %u (udp)\n",
            fh_gs_http_get_http_port (self->gs_http), fh_gs_http_get_https_port (self->gs_http),
            rtsp, video, control, audio);
  } else
    printf ("  gamestream (Moonlight): off\n");
  fflush (stdout);
  fh_context_new_pin (self);
  return TRUE;
}

gboolean
fh_context_submit_moonlight_pin (FhContext *self, const char *pin, char **client, GError **error)
{
  g_autofree char *name = NULL, *text = NULL;

  if (!self->gs_http) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
                 "the GameStream plane is off on this host (gamestream in config.ini)");
    return FALSE;
  }
  name = g_strdup (fh_gs_http_get_waiting_client (self->gs_http));
  if (!fh_gs_http_submit_pin (self->gs_http, pin, error))
    return FALSE;
  g_message ("gamestream: PIN entered for Moonlight client '%s'", name);
  /* Whether it was the right PIN shows when the client's later phases
   * arrive (on_gs_pair_event). */
  text = fh_proto_build_moonlight ("checking", name, NULL, NULL);
  tell_consoles (self, text);
  *client = g_steal_pointer (&name);
  return TRUE;
}

char *
fh_context_describe_moonlight (FhContext *self)
{
  const char *waiting;

  if (!self->gs_http)
    return fh_proto_build_moonlight ("off", NULL, NULL, NULL);
  waiting = fh_gs_http_get_waiting_client (self->gs_http);
  return fh_proto_build_moonlight (waiting ? "waiting" : "idle", waiting, NULL, NULL);
}

const char *
fh_context_new_pin (FhContext *self)
{
  const char *pin = fh_pairing_new_pin (self->pairing);

  printf ("  pairing PIN: %s (pairs one device; run 'funkhaus pair' for another)\n", pin);
  fflush (stdout);
  return pin;
}

typedef struct {
  FhContext *context;
  FhSession *session;
  FhProtoError code;
  char *reason;
  guint source;
} FhDeferredStop;

static void
stop_deferred (FhDeferredStop *d)
{
  g_ptr_array_remove_fast (d->context->dying, d);
  g_clear_handle_id (&d->source, g_source_remove);
  fh_session_stop (d->session, d->code, d->reason);
  fh_session_free (d->session);
  g_free (d->reason);
  g_free (d);
}

static gboolean
on_stop_idle (gpointer data)
{
  FhDeferredStop *d = data;

  d->source = 0;
  stop_deferred (d);
  return G_SOURCE_REMOVE;
}

void
fh_context_stop (FhContext *self)
{
  GHashTableIter iter;
  gpointer value;
  gint64 deadline;

  if (!self->started)
    return;
  self->started = FALSE;

  /* Clients first, so each hears why, then give the close frames a moment
   * to leave before the sockets go. */
  for (guint i = 0; i < self->clients->len; i++)
    fh_client_close_with_error (g_ptr_array_index (self->clients, i),
                                FH_PROTO_ERROR_HOST_SHUTDOWN, "the host is stopping");
  deadline = g_get_monotonic_time () + G_USEC_PER_SEC;
  while (self->clients->len > 0 && g_get_monotonic_time () < deadline) {
    if (!g_main_context_iteration (self->main_context, FALSE))
      g_usleep (5000);
  }

  g_hash_table_iter_init (&iter, self->sessions);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    fh_session_stop (value, FH_PROTO_ERROR_HOST_SHUTDOWN, "the host is stopping");
  g_hash_table_remove_all (self->sessions);
  g_ptr_array_set_size (self->clients, 0);
  /* Sessions already on their way out must not wait for a loop that is
   * about to stop turning. */
  while (self->dying->len > 0)
    stop_deferred (g_ptr_array_index (self->dying, 0));
  /* Desktops still being made: let each finish and be torn down. */
  if (self->holds > 0)
    g_message ("waiting for %u desktop(s) still starting", self->holds);
  while (self->holds > 0)
    g_main_context_iteration (self->main_context, TRUE);

  g_clear_pointer (&self->server, fh_server_free);
  g_clear_pointer (&self->gs_mdns, fh_gs_mdns_free);
  g_clear_pointer (&self->gs_streamer, fh_gs_streamer_free);
  g_clear_pointer (&self->gs_http, fh_gs_http_free);
  g_clear_pointer (&self->control, fh_control_free);
  g_clear_pointer (&self->shared_mic, fh_mic_free);
  g_clear_pointer (&self->shared_speaker, fh_speaker_free);
  g_clear_pointer (&self->shared, fh_shared_desktop_free);
  g_clear_pointer (&self->pipewire, fh_pipewire_free);
  if (g_rmdir (self->sessions_dir) < 0 && errno != ENOENT)
    g_warning ("cannot remove %s: %s", self->sessions_dir, g_strerror (errno));
  g_message ("stopped");
}

const FhConfig *
fh_context_get_config (FhContext *self)
{
  return self->config;
}

GMainContext *
fh_context_get_main_context (FhContext *self)
{
  return self->main_context;
}

const FhDisplayBackend *
fh_context_get_backend (FhContext *self)
{
  return self->backend;
}

FhPairing *
fh_context_get_pairing (FhContext *self)
{
  return self->pairing;
}

const char *
fh_context_get_fingerprint (FhContext *self)
{
  return self->fingerprint;
}

const char *
fh_context_get_sessions_dir (FhContext *self)
{
  return self->sessions_dir;
}

FhPipeWire *
fh_context_get_pipewire (FhContext *self)
{
  return self->pipewire;
}

guint
fh_context_next_serial (FhContext *self)
{
  return ++self->next_serial;
}

FhSession *
fh_context_create_session (FhContext *self, const FhSessionRequest *request, GError **error)
{
  FhSession *session = fh_session_new (self, request, error);

  if (!session)
    return NULL;
  g_hash_table_insert (self->sessions, (gpointer) fh_session_get_id (session), session);
  return session;
}

FhSession *
fh_context_lookup_session (FhContext *self, const char *id)
{
  return g_hash_table_lookup (self->sessions, id);
}

guint
fh_context_count_sessions (FhContext *self)
{
  return g_hash_table_size (self->sessions);
}

void
fh_context_remove_session (FhContext *self, FhSession *session, FhProtoError code,
                           const char *reason)
{
  FhDeferredStop *d;

  if (!g_hash_table_steal (self->sessions, fh_session_get_id (session)))
    return; /* already on its way out */
  d = g_new0 (FhDeferredStop, 1);
  d->context = self;
  d->session = session;
  d->code = code;
  d->reason = g_strdup (reason);
  d->source = g_idle_add (on_stop_idle, d);
  g_ptr_array_add (self->dying, d);
}

void
fh_context_hold (FhContext *self)
{
  self->holds++;
}

void
fh_context_release (FhContext *self)
{
  g_return_if_fail (self->holds > 0);
  self->holds--;
}

void
fh_context_add_client (FhContext *self, FhClient *client)
{
  g_ptr_array_add (self->clients, client);
}

void
fh_context_remove_client (FhContext *self, FhClient *client)
{
  fh_context_forget_requests_of (self, client);
  g_ptr_array_remove_fast (self->clients, client);
}

int
fh_context_revoke_device (FhContext *self, const char *id, GError **error)
{
  g_autoptr (GPtrArray) doomed = g_ptr_array_new ();
  GHashTableIter iter;
  gpointer value;

  if (!fh_pairing_revoke (self->pairing, id, error))
    return -1;
  if (self->gs_http)
    fh_gs_http_forget_device (self->gs_http, id);
  g_hash_table_iter_init (&iter, self->sessions);
  while (g_hash_table_iter_next (&iter, NULL, &value)) {
    if (g_str_equal (fh_session_get_device (value), id))
      g_ptr_array_add (doomed, value);
  }
  for (guint i = 0; i < doomed->len; i++)
    fh_context_remove_session (self, doomed->pdata[i], FH_PROTO_ERROR_UNAUTHORIZED,
                               "this device was revoked on the host");
  /* Every other WebSocket of it goes too (consoles, one waiting to join
   * the shared desktop): a revoked device may not enter Moonlight PINs. */
  for (guint i = 0; i < self->clients->len; i++) {
    FhClient *client = self->clients->pdata[i];
    if (g_strcmp0 (fh_client_get_device (client), id) == 0)
      fh_client_close_with_error (client, FH_PROTO_ERROR_UNAUTHORIZED,
                                  "this device was revoked on the host");
  }
  g_message ("device %s revoked; %u session(s) ended", id, doomed->len);
  return (int) doomed->len;
}

FhSharedDesktop *
fh_context_get_shared_desktop (FhContext *self)
{
  return self->shared;
}

FhSpeaker *
fh_context_get_shared_speaker (FhContext *self)
{
  return self->shared_speaker;
}

FhMic *
fh_context_get_shared_mic (FhContext *self)
{
  return self->shared_mic;
}

static gboolean
on_join_timeout (gpointer data)
{
  FhJoinRequest *r = data;

  r->timeout = 0;
  g_message ("shared desktop: request %s was not answered in %d s: denied", r->id,
             JOIN_TIMEOUT_S);
  fh_context_answer_join (r->context, r->id, FALSE, NULL);
  return G_SOURCE_REMOVE;
}

void
fh_context_ask_to_join (FhContext *self, FhClient *client, const FhSessionRequest *request,
                        gboolean mic)
{
  FhJoinRequest *r = g_new0 (FhJoinRequest, 1);

  r->context = self;
  r->id = fh_random_hex (3);
  r->client = client;
  r->device = g_strdup (request->device);
  r->layout = g_strdup (request->keyboard_layout);
  r->request = *request;
  r->request.device = r->device;
  r->request.keyboard_layout = r->layout;
  r->mic = mic;
  r->timeout = g_timeout_add_seconds (JOIN_TIMEOUT_S, on_join_timeout, r);
  g_ptr_array_add (self->join_requests, r);
  printf ("device %s at %s asks to view the shared desktop: 'funkhaus approve %s' lets it in, "
          "'funkhaus deny %s' does not (%d s)\n",
          r->device, fh_client_get_peer (client), r->id, r->id, JOIN_TIMEOUT_S);
  fflush (stdout);
}

void
fh_context_forget_requests_of (FhContext *self, FhClient *client)
{
  for (guint i = self->join_requests->len; i-- > 0;) {
    FhJoinRequest *r = self->join_requests->pdata[i];
    if (r->client == client)
      g_ptr_array_remove_index (self->join_requests, i);
  }
}

gboolean
fh_context_answer_join (FhContext *self, const char *id, gboolean approve, GError **error)
{
  g_autoptr (GError) local = NULL;
  FhJoinRequest *r = NULL;
  FhSession *session;
  guint i;

  for (i = 0; i < self->join_requests->len && !r; i++) {
    if (g_str_equal (((FhJoinRequest *) self->join_requests->pdata[i])->id, id))
      r = self->join_requests->pdata[i];
  }
  if (!r) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND,
                 "no request %s to join the shared desktop ('funkhaus approve' lists them)", id);
    return FALSE;
  }
  g_ptr_array_steal_index (self->join_requests, i - 1);
  g_message ("shared desktop: request %s from device %s %s", r->id, r->device,
             approve ? "approved" : "denied");
  if (!approve) {
    fh_client_close_with_error (r->client, FH_PROTO_ERROR_UNAUTHORIZED,
                                "the host did not let this device join its shared desktop");
  } else if (!(session = fh_context_create_session (self, &r->request, &local))) {
    fh_client_close_with_error (r->client,
                                local->domain == FH_PROTO_ERROR ? (FhProtoError) local->code
                                                                : FH_PROTO_ERROR_SESSION_FAILED,
                                local->message);
  } else {
    fh_client_bind (r->client, session, r->mic);
  }
  join_request_free (r);
  return TRUE;
}

char *
fh_context_list_join_requests (FhContext *self)
{
  GString *out = g_string_new (NULL);

  for (guint i = 0; i < self->join_requests->len; i++) {
    FhJoinRequest *r = self->join_requests->pdata[i];
    g_string_append_printf (out, "%s%s device %s at %s", i ? "; " : "", r->id, r->device,
                            fh_client_get_peer (r->client));
  }
  return g_string_free (out, FALSE);
}
