/* A browser client's WebSocket: hello → welcome, then media down and input
 * up; or console → the Moonlight pairing state, and PINs up. A bad message
 * closes this client only. */
#include "planes/web/client.h"

#include <string.h>
#include <sys/ioctl.h>
#include <linux/sockios.h>

#include "core/core.h"
#include "planes/web/flow.h"
#include "planes/web/owner.h"
#include "planes/web/plane.h"
#include "planes/web/wire.h"

#define HELLO_TIMEOUT_S 10
/* What libsoup buffers of one incoming message at most (see fh_client_new). */
#define LIBSOUP_MAX_INCOMING (2 * FH_PROTO_MAX_INCOMING)

struct _FhClient {
  FhWebPlane *plane;
  SoupWebsocketConnection *connection;
  FhWebWire *wire; /* under the connection: video goes straight to it */
  GSocket *socket; /* under the TLS: how much the kernel still holds */
  GMainContext *context;
  char *peer;
  FhSession *session; /* bound after hello; not owned */
  char *device; /* the paired device it proved to be (hello or console) */
  gboolean console; /* asked for the console: no session, Moonlight PINs */
  guint hello_timeout;
  guint remove_source;
  gboolean closing;
  gboolean awaiting_approval; /* asked to join the shared desktop, or as a guest */
  gboolean guest; /* bound to another device's session as its guest */
  gboolean acks; /* it acknowledges frames (hello) */
  gboolean clipboard; /* it shares its clipboard with its session (hello) */
  /* Its video in flight, set up when bound to a session: under flow_lock,
   * as the session's stream thread sends frames too (peer_video_direct).
   * So are the flow's verdicts for the main thread: a new bitrate, a
   * keyframe, the cut-off, carried out by on_flow_effects. */
  GMutex flow_lock;
  FhWebFlow flow;
  gboolean flow_ready;
  GSource *effects_source;
  guint effect_kbps;
  gboolean effect_keyframe;
  gboolean cut_off;
  /* Token bucket for binary messages (input, microphone). */
  double tokens;
  gint64 refilled_us;
};

const char *
fh_client_get_peer (FhClient *self)
{
  return self->peer;
}

const char *
fh_client_get_device (FhClient *self)
{
  return self->device;
}

gboolean
fh_client_is_console (FhClient *self)
{
  return self->console && !self->closing;
}

void
fh_client_send_text (FhClient *self, const char *text)
{
  if (self->closing ||
      soup_websocket_connection_get_state (self->connection) != SOUP_WEBSOCKET_STATE_OPEN)
    return;
  soup_websocket_connection_send_text (self->connection, text);
}

void
fh_client_send_binary (FhClient *self, GBytes *message)
{
  if (self->closing ||
      soup_websocket_connection_get_state (self->connection) != SOUP_WEBSOCKET_STATE_OPEN)
    return;
  soup_websocket_connection_send_message (self->connection, SOUP_WEBSOCKET_DATA_BINARY, message);
}

static void
unbind (FhClient *self)
{
  self->session = NULL;
}

void
fh_client_close_with_error (FhClient *self, FhProtoError code, const char *message)
{
  g_autofree char *text = NULL;
  g_autofree char *reason = NULL;
  FhSession *session = g_steal_pointer (&self->session);

  if (self->closing)
    return;
  if (code != FH_PROTO_ERROR_HOST_SHUTDOWN || session)
    g_message ("client %s: closing: %s: %s", self->peer, fh_proto_error_to_string (code), message);
  text = fh_proto_build_error (code, message);
  fh_client_send_text (self, text);
  self->closing = TRUE;
  if (session)
    fh_session_detach_peer (session, self);
  /* A close reason is at most 123 bytes; cut at a character boundary. */
  reason = g_utf8_make_valid (message, -1);
  if (strlen (reason) > 120)
    *g_utf8_find_prev_char (reason, reason + 120) = '\0';
  if (soup_websocket_connection_get_state (self->connection) == SOUP_WEBSOCKET_STATE_OPEN)
    soup_websocket_connection_close (self->connection, fh_proto_error_close_code (code), reason);
}

static void
close_with_gerror (FhClient *self, const GError *error)
{
  fh_client_close_with_error (self, fh_web_error_for (error), error->message);
}

static void
send_welcome (FhClient *self, FhSession *session, gboolean resumed)
{
  FhVirtualOutput *output = fh_session_get_output (session);
  gint64 until = 0;
  FhAccessLevel level = fh_session_get_peer_level (session, self, &until);
  g_autofree char *text = NULL;
  g_autofree char *until_text = until ? fh_access_format_time (until) : NULL;
  FhWelcome welcome = {
    .session = fh_session_get_id (session),
    .resumed = resumed,
    .mode = *fh_session_get_mode (session),
    .codec = fh_session_get_codec (session),
    .bitrate_kbps = fh_session_get_bitrate (session),
    .grace_seconds = fh_core_get_config (fh_web_plane_get_core (self->plane))->grace_seconds,
    .backend = fh_session_get_backend_name (session),
    .background = output->has_background ? output->background : NULL,
    .audio = fh_session_has_speaker (session),
    .mic = !self->guest && fh_session_takes_mic (session),
    .clipboard = !self->guest && self->clipboard && fh_session_has_clipboard (session),
    .access_level = fh_access_level_to_string (level),
    .access_until = until_text,
    .join_code = self->guest ? NULL : fh_session_get_join_code (session),
    .guest = self->guest,
  };

  text = fh_proto_build_welcome (&welcome);
  fh_client_send_text (self, text);
}

/* A browser as a session's peer. */
static const char *
peer_describe (gpointer peer)
{
  return fh_client_get_peer (peer);
}

static void
peer_welcome (gpointer peer, FhSession *session, gboolean resumed)
{
  send_welcome (peer, session, resumed);
}

/* The web's video header goes into the headroom in front of the access
 * unit: header and frame leave as one message, with no copy of the frame. */
G_STATIC_ASSERT (FH_WEB_WIRE_HEADER_MAX + FH_PROTO_VIDEO_HEADER_SIZE <= FH_VIDEO_HEADROOM);

/* Bytes of this client's video not yet sent (or not yet acknowledged):
 * in the kernel and in the wire. -1 when the kernel does not say. */
static gssize
queued_bytes (FhClient *self)
{
  int queued = 0;

  if (!self->socket || ioctl (g_socket_get_fd (self->socket), SIOCOUTQ, &queued) < 0)
    return -1;
  return queued + fh_web_wire_get_waiting (self->wire);
}

/* Main thread: what the flow asks of the session. The session's own
 * client sets its bitrate; a guest's link only skips frames. */
static void
carry_out_flow (FhClient *self, guint kbps, gboolean keyframe, gboolean cut_off)
{
  if (kbps && self->session && !self->guest)
    fh_session_set_target_bitrate (self->session, kbps);
  if (keyframe && self->session)
    fh_session_request_keyframe (self->session);
  if (cut_off)
    fh_client_close_with_error (self, FH_PROTO_ERROR_TOO_SLOW,
                                "took no video for " G_STRINGIFY (FH_PROTO_TOO_SLOW_S)
                                " s: the link or the client is too slow");
}

/* Main thread: what the flow decided on the stream's thread. */
static gboolean
on_flow_effects (gpointer user_data)
{
  FhClient *self = user_data;
  guint kbps;
  gboolean keyframe, cut_off;

  g_mutex_lock (&self->flow_lock);
  g_clear_pointer (&self->effects_source, g_source_unref);
  kbps = self->effect_kbps;
  keyframe = self->effect_keyframe;
  cut_off = self->cut_off;
  self->effect_kbps = 0;
  self->effect_keyframe = FALSE;
  g_mutex_unlock (&self->flow_lock);
  carry_out_flow (self, kbps, keyframe, cut_off);
  return G_SOURCE_REMOVE;
}

/* Under flow_lock: the flow's verdict on @packet. From the stream's
 * thread (@later), what it asks of the session waits for the main thread;
 * on the main thread it is in @kbps and @ask_keyframe. */
static FhWebFlowVerdict
flow_frame_locked (FhClient *self, const FhVideoPacket *packet, gboolean later,
                   gboolean *ask_keyframe, guint *kbps)
{
  FhWebFlowVerdict verdict =
    fh_web_flow_frame (&self->flow, g_get_monotonic_time (), packet->frame, packet->size,
                       packet->keyframe, self->flow.acks ? -1 : queued_bytes (self),
                       ask_keyframe, kbps);

  if (verdict == FH_WEB_FLOW_CUT_OFF)
    self->cut_off = TRUE;
  if (!later || !(*kbps || *ask_keyframe || verdict == FH_WEB_FLOW_CUT_OFF))
    return verdict;
  if (*kbps)
    self->effect_kbps = *kbps;
  self->effect_keyframe |= *ask_keyframe;
  if (!self->effects_source) {
    self->effects_source = g_idle_source_new ();
    g_source_set_priority (self->effects_source, G_PRIORITY_DEFAULT);
    g_source_set_callback (self->effects_source, on_flow_effects, self, NULL);
    g_source_set_static_name (self->effects_source, "fh-web-flow");
    g_source_attach (self->effects_source, self->context);
  }
  return verdict;
}

/* The video header and the WebSocket's frame header go into the headroom
 * in front of the access unit: all of it leaves in one write. */
static gboolean
send_video (FhClient *self, const FhVideoPacket *packet)
{
  FhVideoHeader header = {
    .keyframe = packet->keyframe,
    .frame = packet->frame,
    .capture_us = (guint64) packet->capture_us,
    .encode_us = (guint32) MIN (packet->encoded_us - packet->capture_us, G_MAXUINT32),
  };
  guint8 *payload = packet->data - FH_PROTO_VIDEO_HEADER_SIZE;

  fh_proto_write_video_header (&header, payload);
  return fh_web_wire_send_binary (self->wire, payload, FH_PROTO_VIDEO_HEADER_SIZE + packet->size);
}

static gboolean
peer_video (gpointer peer, const FhVideoPacket *packet)
{
  FhClient *self = peer;
  gboolean ask_keyframe = FALSE;
  guint kbps = 0;
  FhWebFlowVerdict verdict = FH_WEB_FLOW_SEND;

  /* A client that acks tells its backlog itself: no system call for it. */
  g_mutex_lock (&self->flow_lock);
  if (self->flow_ready)
    verdict = flow_frame_locked (self, packet, FALSE, &ask_keyframe, &kbps);
  g_mutex_unlock (&self->flow_lock);
  carry_out_flow (self, kbps, ask_keyframe, verdict == FH_WEB_FLOW_CUT_OFF);
  if (verdict != FH_WEB_FLOW_SEND || self->closing)
    return FALSE;
  send_video (self, packet);
  return TRUE;
}

/* The session's stream thread: the frame goes out from there, as the flow
 * decides, without waking the main thread. */
static FhPeerVideo
peer_video_direct (gpointer peer, const FhVideoPacket *packet)
{
  FhClient *self = peer;
  gboolean ask_keyframe = FALSE;
  guint kbps = 0;
  FhWebFlowVerdict verdict;

  g_mutex_lock (&self->flow_lock);
  if (!self->flow_ready) {
    g_mutex_unlock (&self->flow_lock);
    return FH_PEER_VIDEO_LATER;
  }
  verdict = self->cut_off ? FH_WEB_FLOW_SKIP
                          : flow_frame_locked (self, packet, TRUE, &ask_keyframe, &kbps);
  g_mutex_unlock (&self->flow_lock);
  if (verdict != FH_WEB_FLOW_SEND || !send_video (self, packet))
    return FH_PEER_VIDEO_SKIPPED;
  return FH_PEER_VIDEO_SENT;
}

static void
peer_audio (gpointer peer, const FhAudioPacket *packet)
{
  g_autoptr (GBytes) message = fh_proto_build_audio (packet->sequence, (guint64) packet->capture_us,
                                                     packet->data, packet->size);
  fh_client_send_binary (peer, message);
}

static void
peer_stats (gpointer peer, const FhStreamStats *stats)
{
  FhClient *self = peer;
  FhStreamStats mine = *stats;
  g_autofree char *text = NULL;

  g_mutex_lock (&self->flow_lock);
  mine.skipped = self->flow_ready ? self->flow.skipped : 0;
  mine.round_trip_ms = self->flow_ready ? fh_web_flow_round_trip_us (&self->flow) / 1000.0 : 0;
  g_mutex_unlock (&self->flow_lock);
  text = fh_proto_build_stats (&mine);
  fh_client_send_text (peer, text);
}

static void
peer_failed (gpointer peer, const char *reason)
{
  g_autofree char *text = fh_proto_build_state ("failed", reason);
  fh_client_send_text (peer, text);
}

static void
peer_rumble (gpointer peer, guint index, const FhPadRumble *rumble)
{
  g_autofree char *text = fh_proto_build_rumble (index, rumble);
  fh_client_send_text (peer, text);
}

static void
peer_clipboard (gpointer peer, const char *text, gsize len)
{
  g_autofree char *msg = fh_proto_build_clipboard (text, len);
  fh_client_send_text (peer, msg);
}

static void
peer_access (gpointer peer, const FhAccess *access)
{
  g_autofree char *until = access->until ? fh_access_format_time (access->until) : NULL;
  g_autofree char *text = fh_proto_build_access (fh_access_level_to_string (access->level), until);

  fh_client_send_text (peer, text);
}

/* The session's guests, with their devices' names, for its own client. */
static void
peer_guests (gpointer peer, FhSession *session)
{
  FhClient *self = peer;
  g_autoptr (GArray) guests = fh_session_list_guests (session);
  g_autoptr (GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (GArray) out = g_array_new (FALSE, FALSE, sizeof (FhProtoGuest));
  g_autofree char *text = NULL;

  for (guint i = 0; i < guests->len; i++) {
    FhSessionGuest *g = &g_array_index (guests, FhSessionGuest, i);
    char *name = fh_web_plane_device_name (self->plane, g->device);
    FhProtoGuest p = {
      .id = g->id,
      .device = g->device,
      .name = name,
      .level = fh_access_level_to_string (g->level),
      .granted = fh_access_level_to_string (g->granted),
    };
    g_ptr_array_add (names, name);
    g_array_append_val (out, p);
  }
  text = fh_proto_build_guests ((const FhProtoGuest *) (gpointer) out->data, out->len);
  fh_client_send_text (self, text);
}

static void
peer_closed (gpointer peer, FhEndReason reason, const char *message)
{
  unbind (peer);
  fh_client_close_with_error (peer, fh_web_error_for_end (reason), message);
}

const FhSessionPeerOps fh_web_peer_ops = {
  .plane = "web",
  .describe = peer_describe,
  .welcome = peer_welcome,
  .video = peer_video,
  .video_direct = peer_video_direct,
  .audio = peer_audio,
  .stats = peer_stats,
  .failed = peer_failed,
  .rumble = peer_rumble,
  .clipboard = peer_clipboard,
  .access = peer_access,
  .guests = peer_guests,
  .closed = peer_closed,
};

/* Binds @self to @session; with @mic its microphone feeds the session's. */
static void
attach (FhClient *self, FhSession *session, gboolean resumed, gboolean mic)
{
  g_autoptr (GError) error = NULL;

  self->session = session;
  fh_session_attach_peer (session, &fh_web_peer_ops, self, resumed);
  /* Its link starts at what it asked for (attaching reset the session's
   * bitrate to that). */
  g_mutex_lock (&self->flow_lock);
  if (self->flow_ready)
    fh_web_flow_clear (&self->flow);
  fh_web_flow_init (&self->flow, self->acks, fh_session_get_bitrate (session),
                    g_get_monotonic_time ());
  self->flow_ready = TRUE;
  g_mutex_unlock (&self->flow_lock);
  if (self->clipboard)
    fh_session_enable_clipboard (session, self);
  if (mic && !fh_session_enable_mic (session, self, &error) &&
      !g_error_matches (error, FH_SESSION_ERROR, FH_SESSION_ERROR_UNAVAILABLE))
    g_warning ("session %.8s: no microphone: %s", fh_session_get_id (session), error->message);
}

/* The device credential of hello or console: remembers the device, or
 * closes. */
static gboolean
check_credential (FhClient *self, const FhClientMessage *msg)
{
  if (!fh_device_store_check (fh_core_get_devices (fh_web_plane_get_core (self->plane)), msg->device,
                              msg->token)) {
    fh_client_close_with_error (self, FH_PROTO_ERROR_UNAUTHORIZED,
                                "unknown device or wrong token: pair this browser again with "
                                "the PIN the host shows");
    return FALSE;
  }
  self->device = g_strdup (msg->device);
  return TRUE;
}

/* The host's apps, for the connect panel's choice; the shared desktop
 * where this browser could view it. */
static void
send_apps (FhClient *self)
{
  FhCore *core = fh_web_plane_get_core (self->plane);
  g_autoptr (GArray) list = g_array_new (FALSE, FALSE, sizeof (FhProtoApp));
  g_autofree char *text = NULL;
  guint n_apps;
  const FhCoreApp *apps = fh_core_get_apps (core, &n_apps);

  for (guint i = 0; i < n_apps; i++) {
    FhProtoApp app = { .id = i + 1, .name = apps[i].name, .shared = apps[i].backend == NULL,
                       .unavailable = apps[i].unavailable };
    if (app.shared && fh_core_get_config (core)->shared_join == FH_JOIN_DENY)
      app.unavailable = "this host lets no one join its shared desktop";
    g_array_append_val (list, app);
  }
  text = fh_proto_build_apps ((const FhProtoApp *) (gpointer) list->data, list->len);
  fh_client_send_text (self, text);
}

/* A paired browser's console page: no session; it hears about Moonlight
 * clients waiting for their PIN and may enter one. Only a credential that
 * passes here gets either, so an unpaired browser never learns that a
 * client waits. */
static void
handle_console (FhClient *self, const FhClientMessage *msg)
{
  g_autofree char *state = NULL;

  if (self->device || self->awaiting_approval) {
    fh_client_close_with_error (self, FH_PROTO_ERROR_UNEXPECTED_MESSAGE,
                                "this connection already said hello or console");
    return;
  }
  g_clear_handle_id (&self->hello_timeout, g_source_remove);
  if (!check_credential (self, msg))
    return;
  self->console = TRUE;
  g_message ("client %s: console of device %s", self->peer, self->device);
  state = fh_web_plane_describe_moonlight (self->plane);
  fh_client_send_text (self, state);
  send_apps (self);
  fh_web_owner_greet (self->plane, self);
}

static void
handle_moonlight_pin (FhClient *self, const FhClientMessage *msg)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *client = NULL, *text = NULL;
  const char *code = "failed";

  if (fh_prompts_answer_waiting (fh_core_get_prompts (fh_web_plane_get_core (self->plane)),
                                 FH_PROMPT_PIN, TRUE, msg->pin, &client, &error)) {
    g_message ("client %s: device %s entered the PIN of Moonlight client '%s'", self->peer,
               self->device, client);
    return; /* the consoles hear "checking", then how it ended */
  }
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT))
    code = "bad-pin";
  else if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND))
    code = "no-client";
  else if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED))
    code = "off";
  g_message ("client %s: Moonlight PIN not taken: %s", self->peer, error->message);
  text = fh_proto_build_moonlight_pin_error (code, error->message);
  fh_client_send_text (self, text);
}

/* hello with a join code: ask the session's own client (or the host's
 * owner) to let this device in as a guest. */
static void
ask_to_be_guest (FhClient *self, const FhClientMessage *msg)
{
  FhCore *core = fh_web_plane_get_core (self->plane);
  FhSession *session = fh_core_lookup_session_by_join_code (core, msg->join);

  if (!session) {
    g_autofree char *why = g_strdup_printf ("no session has the join code %s: ask its owner for "
                                            "the code their screen shows", msg->join);
    fh_client_close_with_error (self, FH_PROTO_ERROR_REFUSED, why);
    return;
  }
  if (g_str_equal (fh_session_get_device (session), self->device)) {
    fh_client_close_with_error (self, FH_PROTO_ERROR_REFUSED,
                                "that is this device's own session: connect to it, not as a "
                                "guest");
    return;
  }
  g_message ("client %s: device %s asks to join session %.8s as a guest", self->peer,
             self->device, fh_session_get_id (session));
  self->awaiting_approval = TRUE;
  fh_web_plane_ask_to_be_guest (self->plane, self, session);
}

static void
handle_hello (FhClient *self, const FhClientMessage *msg)
{
  FhCore *core = fh_web_plane_get_core (self->plane);
  g_autoptr (GError) error = NULL;
  FhSession *session = NULL;
  gboolean resumed = FALSE;

  if (self->device) {
    fh_client_close_with_error (self, FH_PROTO_ERROR_UNEXPECTED_MESSAGE,
                                self->console ? "this connection is a console: it has no session"
                                              : "hello was already sent on this connection");
    return;
  }
  g_clear_handle_id (&self->hello_timeout, g_source_remove);
  if (!check_credential (self, msg))
    return;
  self->acks = msg->acks;
  self->clipboard = msg->clipboard;
  if (!(msg->codecs & FH_CODEC_H264)) {
    fh_client_close_with_error (self, FH_PROTO_ERROR_UNSUPPORTED,
                                "no codec in common: this host sends h264");
    return;
  }
  if (msg->join) {
    ask_to_be_guest (self, msg);
    return;
  }

  if (msg->resume)
    session = fh_core_lookup_session (core, msg->resume);
  /* Only the device that owns a session may come back to it; for anyone
   * else the id names nothing. */
  if (session && g_str_equal (fh_session_get_device (session), msg->device)) {
    FhSessionState state = fh_session_get_state (session);
    FhClient *old = fh_session_get_peer (session, &fh_web_peer_ops);
    if (old) {
      /* The old WebSocket has not noticed its drop yet: this one wins. */
      fh_client_close_with_error (old, FH_PROTO_ERROR_REPLACED,
                                  "a newer connection of this device took over the session");
    }
    resumed = state == FH_SESSION_STATE_DISCONNECTED || state == FH_SESSION_STATE_STREAMING ||
              state == FH_SESSION_STATE_STARTING;
  }
  /* A session runs the app it was made with: a resume that names another
   * gets it as it is. */
  if (!resumed) {
    const FhCoreApp *app = msg->app ? fh_core_lookup_app (core, msg->app) : NULL;
    gboolean shared = msg->shared || (app && !app->backend);
    FhSessionRequest request = {
      .device = msg->device,
      .mode = msg->mode,
      .codec = FH_CODEC_H264,
      .bitrate_kbps = msg->bitrate_kbps, /* 0: the host's */
      .keyboard_layout = msg->layout,
      .shared = shared,
      .app = msg->app,
    };
    FhJoinPolicy join = fh_core_get_config (core)->shared_join;
    if (msg->app && !app) {
      g_autofree char *why = g_strdup_printf ("this host has no app %u: pick one of its list",
                                              msg->app);
      fh_client_close_with_error (self, FH_PROTO_ERROR_UNSUPPORTED, why);
      return;
    }
    if (shared && join == FH_JOIN_DENY) {
      fh_client_close_with_error (self, FH_PROTO_ERROR_UNAUTHORIZED,
                                  "this host lets no one join its shared desktop");
      return;
    }
    if (shared && join == FH_JOIN_ASK && fh_core_get_shared_desktop (core)) {
      /* The welcome comes once the host's user says yes. */
      self->awaiting_approval = TRUE;
      fh_web_plane_ask_to_join (self->plane, self, &request, msg->mic);
      return;
    }
    session = fh_core_create_session (core, &request, &error);
    if (!session) {
      g_prefix_error (&error, "cannot start a session: ");
      close_with_gerror (self, error);
      return;
    }
  }
  attach (self, session, resumed, msg->mic);
}

void
fh_client_bind (FhClient *self, FhSession *session, gboolean mic)
{
  self->awaiting_approval = FALSE;
  attach (self, session, FALSE, mic);
}

void
fh_client_bind_guest (FhClient *self, FhSession *session, FhAccessLevel level)
{
  g_autoptr (GError) error = NULL;

  self->awaiting_approval = FALSE;
  if (self->closing)
    return;
  /* Its welcome may come at once: the flow is ready before. */
  self->session = session;
  self->guest = TRUE;
  g_mutex_lock (&self->flow_lock);
  fh_web_flow_init (&self->flow, self->acks, fh_session_get_bitrate (session),
                    g_get_monotonic_time ());
  self->flow_ready = TRUE;
  g_mutex_unlock (&self->flow_lock);
  if (!fh_session_add_guest (session, &fh_web_peer_ops, self, self->device, level, &error) &&
      error) {
    self->session = NULL;
    g_prefix_error (&error, "cannot join the session: ");
    fh_client_close_with_error (self, FH_PROTO_ERROR_REFUSED, error->message);
  }
}

/* The session's own client answers a guest's request. */
static void
handle_guest_answer (FhClient *self, const FhClientMessage *msg)
{
  FhPrompt *prompt = fh_prompts_lookup (fh_core_get_prompts (fh_web_plane_get_core (self->plane)),
                                        msg->request);
  const char *about = prompt ? fh_prompt_get_about (prompt) : NULL;
  g_autoptr (GError) error = NULL;

  if (self->guest) {
    fh_client_close_with_error (self, FH_PROTO_ERROR_UNEXPECTED_MESSAGE,
                                "a guest does not let others in");
    return;
  }
  if (!prompt) {
    g_message ("client %s: answer to guest request %s, which is no longer waiting", self->peer,
               msg->request);
    return;
  }
  if (fh_prompt_get_kind (prompt) != FH_PROMPT_GUEST || !about ||
      !g_str_equal (about, fh_session_get_id (self->session))) {
    fh_client_close_with_error (self, FH_PROTO_ERROR_UNAUTHORIZED,
                                "that request is not one to join this client's session");
    return;
  }
  if (fh_prompt_get_state (prompt) == FH_PROMPT_WAITING &&
      !fh_prompt_answer (prompt, msg->approve, msg->level, &error))
    g_message ("client %s: guest request %s: %s", self->peer, msg->request, error->message);
}

/* The session's own client changes a guest's level, or removes it. */
static void
handle_guest (FhClient *self, const FhClientMessage *msg)
{
  FhAccessLevel level = FH_ACCESS_VIEW;
  gboolean known;

  if (self->guest) {
    fh_client_close_with_error (self, FH_PROTO_ERROR_UNEXPECTED_MESSAGE,
                                "a guest does not manage others");
    return;
  }
  if (msg->remove)
    known = fh_session_remove_guest (self->session, msg->guest,
                                     "the session's owner removed this guest");
  else
    known = fh_access_level_from_string (msg->level, &level) &&
            fh_session_set_guest_level (self->session, msg->guest, level);
  if (!known)
    g_message ("client %s: no guest %u in its session (it left?)", self->peer, msg->guest);
}

/* One binary message's worth of the client's budget; FALSE when it is
 * flooding. */
static gboolean
take_token (FhClient *self)
{
  gint64 now = g_get_monotonic_time ();

  self->tokens = MIN ((double) FH_PROTO_MAX_INPUT_BURST,
                      self->tokens + (double) (now - self->refilled_us) * FH_PROTO_MAX_INPUT_RATE /
                                       G_USEC_PER_SEC);
  self->refilled_us = now;
  if (self->tokens < 1.0)
    return FALSE;
  self->tokens -= 1.0;
  return TRUE;
}

/* A gamepad of the client arrived, changed or left. A session without
 * pads (or without room) ignores it: the client is not closed for that. */
static void
handle_pad (FhClient *self, const FhPadMessage *msg)
{
  switch (msg->type) {
  case FH_PAD_MESSAGE_CONNECT:
    fh_session_pad_connect (self->session, self, msg->index, msg->kind);
    break;
  case FH_PAD_MESSAGE_STATE:
    fh_session_pad_update (self->session, self, msg->index, &msg->state);
    break;
  case FH_PAD_MESSAGE_DISCONNECT:
    fh_session_pad_disconnect (self->session, self, msg->index);
    break;
  }
}

static void
take_ack (FhClient *self, guint32 frame)
{
  g_mutex_lock (&self->flow_lock);
  if (self->flow_ready)
    fh_web_flow_ack (&self->flow, g_get_monotonic_time (), frame);
  g_mutex_unlock (&self->flow_lock);
}

static void
on_message (SoupWebsocketConnection *connection, gint type, GBytes *message, gpointer user_data)
{
  FhClient *self = user_data;
  g_autoptr (GError) error = NULL;
  gsize len;
  const guint8 *data = g_bytes_get_data (message, &len);

  if (self->closing)
    return;
  /* libsoup takes up to LIBSOUP_MAX_INCOMING: the protocol's limit is here. */
  if (len > FH_PROTO_MAX_INCOMING) {
    fh_client_close_with_error (self, FH_PROTO_ERROR_MESSAGE_TOO_LARGE,
                                "a message over " G_STRINGIFY (FH_PROTO_MAX_INCOMING) " bytes");
    return;
  }

  if (type == SOUP_WEBSOCKET_DATA_TEXT) {
    FhClientMessage msg;
    g_autofree char *pong = NULL;

    if (!fh_proto_parse_text ((const char *) data, len, &msg, &error)) {
      close_with_gerror (self, error);
      return;
    }
    if (msg.type == FH_CLIENT_MESSAGE_HELLO) {
      handle_hello (self, &msg);
    } else if (msg.type == FH_CLIENT_MESSAGE_CONSOLE) {
      handle_console (self, &msg);
    } else if (msg.type == FH_CLIENT_MESSAGE_MOONLIGHT_PIN && self->device) {
      /* Any WebSocket that proved a paired device: a console, or a
       * session's own. */
      handle_moonlight_pin (self, &msg);
    } else if (msg.type == FH_CLIENT_MESSAGE_OWNER) {
      /* Checked there: a console of a device with the owner right, or
       * closed. */
      fh_web_owner_handle (self->plane, self, &msg);
    } else if (!self->session) {
      fh_client_close_with_error (self, FH_PROTO_ERROR_UNEXPECTED_MESSAGE,
                                  "the first message must be hello");
    } else if (msg.type == FH_CLIENT_MESSAGE_KEYFRAME) {
      fh_session_request_keyframe (self->session);
    } else if (msg.type == FH_CLIENT_MESSAGE_PING) {
      pong = fh_proto_build_pong (msg.ping_t);
      fh_client_send_text (self, pong);
    } else if (msg.type == FH_CLIENT_MESSAGE_ACK) {
      take_ack (self, msg.ack_frame);
    } else if (msg.type == FH_CLIENT_MESSAGE_GUEST_ANSWER) {
      handle_guest_answer (self, &msg);
    } else if (msg.type == FH_CLIENT_MESSAGE_GUEST) {
      handle_guest (self, &msg);
    } else if (msg.type == FH_CLIENT_MESSAGE_CLIPBOARD &&
               !fh_session_set_clipboard (self->session, self, msg.text, strlen (msg.text),
                                          &error)) {
      fh_client_message_clear (&msg);
      close_with_gerror (self, error);
      return;
    }
    fh_client_message_clear (&msg);
  } else {
    /* An ack is not input: one a frame, outside the input rate limit (at
     * 144 Hz with a 1000 Hz mouse the two together would come near it).
     * Parsed before its order is checked: a malformed message is a
     * bad-message wherever it comes. */
    gboolean ack = len > 0 && data[0] == FH_PROTO_KIND_ACK;
    gboolean mic = len > 0 && data[0] == FH_PROTO_KIND_MIC;
    gboolean pad = fh_proto_is_pad (data, len);
    guint32 ack_frame;
    FhMicPacket packet;
    FhInputEvent event;
    FhPadMessage pad_msg;

    if (!ack && !take_token (self)) {
      fh_client_close_with_error (self, FH_PROTO_ERROR_RATE_LIMITED,
                                  "more than " G_STRINGIFY (FH_PROTO_MAX_INPUT_RATE)
                                  " input messages a second");
    } else if (ack   ? !fh_proto_parse_ack (data, len, &ack_frame, &error)
               : mic ? !fh_proto_parse_mic (data, len, &packet, &error)
               : pad ? !fh_proto_parse_pad (data, len, &pad_msg, &error)
                     : !fh_proto_parse_input (data, len, &event, &error)) {
      close_with_gerror (self, error);
    } else if (!self->session) {
      fh_client_close_with_error (self, FH_PROTO_ERROR_UNEXPECTED_MESSAGE,
                                  "the first message must be hello");
    } else if (ack) {
      take_ack (self, ack_frame);
    } else if (pad) {
      handle_pad (self, &pad_msg);
    } else if (!mic) {
      fh_session_inject_from (self->session, self, &event);
    } else if (!fh_session_feed_mic (self->session, self, packet.data, packet.size, &error)) {
      if (g_error_matches (error, FH_SESSION_ERROR, FH_SESSION_ERROR_BAD_DATA))
        g_prefix_error (&error, "microphone packet %u: ", packet.sequence);
      close_with_gerror (self, error);
    }
  }
}

static gboolean
remove_later (gpointer user_data)
{
  FhClient *self = user_data;

  self->remove_source = 0;
  fh_web_plane_remove_client (self->plane, self); /* frees self */
  return G_SOURCE_REMOVE;
}

static void
on_closed (SoupWebsocketConnection *connection, gpointer user_data)
{
  FhClient *self = user_data;
  FhSession *session = g_steal_pointer (&self->session);

  g_message ("client %s: disconnected (close code %u)", self->peer,
             soup_websocket_connection_get_close_code (connection));
  self->closing = TRUE;
  g_clear_handle_id (&self->hello_timeout, g_source_remove);
  fh_web_plane_forget_requests_of (self->plane, self);
  if (session)
    fh_session_detach_peer (session, self);
  /* Not at idle priority: while connections keep coming, the main loop is
   * never idle, and closed clients (their WebSocket, TLS stream and
   * descriptor) piled up until the traffic stopped. */
  if (!self->remove_source)
    self->remove_source = g_idle_add_full (G_PRIORITY_DEFAULT, remove_later, self, NULL);
}

static void
on_error (SoupWebsocketConnection *connection, GError *error, gpointer user_data)
{
  FhClient *self = user_data;

  g_message ("client %s: %s", self->peer, error->message);
  /* A frame over LIBSOUP_MAX_INCOMING: libsoup drops the connection as
   * soon as this returns, with no close frame (a browser sees 1006).
   * Answer it first as any message over the limit is answered: the error
   * and the close frame are written now if the socket takes them. */
  if (g_error_matches (error, SOUP_WEBSOCKET_ERROR, SOUP_WEBSOCKET_CLOSE_TOO_BIG))
    fh_client_close_with_error (self, FH_PROTO_ERROR_MESSAGE_TOO_LARGE,
                                "a message over " G_STRINGIFY (FH_PROTO_MAX_INCOMING) " bytes");
}

static gboolean
on_hello_timeout (gpointer user_data)
{
  FhClient *self = user_data;

  self->hello_timeout = 0;
  fh_client_close_with_error (self, FH_PROTO_ERROR_HELLO_TIMEOUT,
                              "no hello within " G_STRINGIFY (HELLO_TIMEOUT_S) " s");
  return G_SOURCE_REMOVE;
}

FhClient *
fh_client_new (FhWebPlane *plane, SoupWebsocketConnection *connection, FhWebWire *wire,
               GSocket *socket, const char *peer)
{
  FhClient *self = g_new0 (FhClient, 1);

  self->plane = plane;
  self->connection = g_object_ref (connection);
  self->wire = g_object_ref (wire);
  self->context = g_main_context_ref_thread_default ();
  g_mutex_init (&self->flow_lock);
  self->socket = socket ? g_object_ref (socket) : NULL;
  self->peer = g_strdup (peer);
  self->tokens = FH_PROTO_MAX_INPUT_BURST;
  self->refilled_us = g_get_monotonic_time ();
  /* libsoup's own limit is a bound on what it buffers, set above the
   * protocol's: a message a little over FH_PROTO_MAX_INCOMING is read
   * whole and answered by on_message with a close handshake. libsoup cuts
   * off a larger frame as it reads its header, with no handshake and the
   * rest of the frame unread (on_error answers what it still can). */
  soup_websocket_connection_set_max_incoming_payload_size (connection,
                                                           LIBSOUP_MAX_INCOMING);
  soup_websocket_connection_set_keepalive_interval (connection, 5);
  g_signal_connect (connection, "message", G_CALLBACK (on_message), self);
  g_signal_connect (connection, "closed", G_CALLBACK (on_closed), self);
  g_signal_connect (connection, "error", G_CALLBACK (on_error), self);
  self->hello_timeout = g_timeout_add_seconds (HELLO_TIMEOUT_S, on_hello_timeout, self);
  g_message ("client %s: connected", peer);
  return self;
}

void
fh_client_free (FhClient *self)
{
  if (!self)
    return;
  g_clear_handle_id (&self->hello_timeout, g_source_remove);
  g_clear_handle_id (&self->remove_source, g_source_remove);
  if (self->session) {
    fh_session_detach_peer (g_steal_pointer (&self->session), self);
  }
  g_signal_handlers_disconnect_by_data (self->connection, self);
  if (soup_websocket_connection_get_state (self->connection) == SOUP_WEBSOCKET_STATE_OPEN)
    soup_websocket_connection_close (self->connection, 1001, "the host is stopping");
  g_object_unref (self->connection);
  g_object_unref (self->wire);
  g_clear_object (&self->socket);
  /* Detached above: the stream's thread calls it no more. */
  if (self->effects_source) {
    g_source_destroy (self->effects_source);
    g_source_unref (self->effects_source);
  }
  if (self->flow_ready)
    fh_web_flow_clear (&self->flow);
  g_mutex_clear (&self->flow_lock);
  g_main_context_unref (self->context);
  g_free (self->peer);
  g_free (self->device);
  g_free (self);
}
