/* A browser client's WebSocket: hello → welcome, then media down and input
 * up; or console → the Moonlight pairing state, and PINs up. A bad message
 * closes this client only. */
#include "planes/web/client.h"

#include <string.h>

#include "app/host.h"
#include "core/session.h"

#define HELLO_TIMEOUT_S 10

struct _FhClient {
  FhContext *context;
  SoupWebsocketConnection *connection;
  char *peer;
  FhSession *session; /* bound after hello; not owned */
  char *device; /* the paired device it proved to be (hello or console) */
  gboolean console; /* asked for the console: no session, Moonlight PINs */
  guint hello_timeout;
  guint remove_source;
  gboolean closing;
  gboolean awaiting_approval; /* asked to join the shared desktop */
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

void
fh_client_unbind (FhClient *self)
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
    fh_session_detach (session, self);
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
  FhProtoError code = error->domain == FH_PROTO_ERROR ? (FhProtoError) error->code
                                                      : FH_PROTO_ERROR_SESSION_FAILED;
  fh_client_close_with_error (self, code, error->message);
}

void
fh_client_send_welcome (FhClient *self, FhSession *session, gboolean resumed)
{
  FhVirtualOutput *output = fh_session_get_output (session);
  g_autofree char *text = NULL;
  FhWelcome welcome = {
    .session = fh_session_get_id (session),
    .resumed = resumed,
    .mode = *fh_session_get_mode (session),
    .codec = fh_session_get_codec (session),
    .bitrate_kbps = fh_session_get_bitrate (session),
    .grace_seconds = fh_context_get_config (self->context)->grace_seconds,
    .backend = fh_session_get_backend_name (session),
    .background = output->has_background ? output->background : NULL,
    .audio = fh_session_has_speaker (session),
    .mic = fh_session_takes_mic (session),
  };

  text = fh_proto_build_welcome (&welcome);
  fh_client_send_text (self, text);
}

/* The device credential of hello or console: remembers the device, or
 * closes. */
static gboolean
check_credential (FhClient *self, const FhClientMessage *msg)
{
  if (!fh_pairing_check (fh_context_get_pairing (self->context), msg->device, msg->token)) {
    fh_client_close_with_error (self, FH_PROTO_ERROR_UNAUTHORIZED,
                                "unknown device or wrong token: pair this browser again with "
                                "the PIN the host shows");
    return FALSE;
  }
  self->device = g_strdup (msg->device);
  return TRUE;
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
  state = fh_context_describe_moonlight (self->context);
  fh_client_send_text (self, state);
}

static void
handle_moonlight_pin (FhClient *self, const FhClientMessage *msg)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *client = NULL, *text = NULL;
  const char *code = "failed";

  if (fh_context_submit_moonlight_pin (self->context, msg->pin, &client, &error)) {
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

static void
handle_hello (FhClient *self, const FhClientMessage *msg)
{
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
  if (!(msg->codecs & FH_CODEC_H264)) {
    fh_client_close_with_error (self, FH_PROTO_ERROR_UNSUPPORTED,
                                "no codec in common: this host sends h264");
    return;
  }

  if (msg->resume)
    session = fh_context_lookup_session (self->context, msg->resume);
  /* Only the device that owns a session may come back to it; for anyone
   * else the id names nothing. */
  if (session && g_str_equal (fh_session_get_device (session), msg->device)) {
    FhSessionState state = fh_session_get_state (session);
    if (fh_session_get_client (session)) {
      /* The old WebSocket has not noticed its drop yet: this one wins. */
      fh_client_close_with_error (fh_session_get_client (session), FH_PROTO_ERROR_REPLACED,
                                  "a newer connection of this device took over the session");
    }
    resumed = state == FH_SESSION_STATE_DISCONNECTED || state == FH_SESSION_STATE_STREAMING ||
              state == FH_SESSION_STATE_STARTING;
  }
  if (!resumed) {
    FhSessionRequest request = {
      .device = msg->device,
      .mode = msg->mode,
      .codec = FH_CODEC_H264,
      .bitrate_kbps = msg->bitrate_kbps ? msg->bitrate_kbps
                                        : fh_context_get_config (self->context)->bitrate_kbps,
      .keyboard_layout = msg->layout,
      .shared = msg->shared,
    };
    const char *join = fh_context_get_config (self->context)->shared_join;
    if (msg->shared && g_str_equal (join, "deny")) {
      fh_client_close_with_error (self, FH_PROTO_ERROR_UNAUTHORIZED,
                                  "this host lets no one join its shared desktop");
      return;
    }
    if (msg->shared && g_str_equal (join, "ask") && fh_context_get_shared_desktop (self->context)) {
      /* The welcome comes once the host's user says yes. */
      self->awaiting_approval = TRUE;
      fh_context_ask_to_join (self->context, self, &request, msg->mic);
      return;
    }
    session = fh_context_create_session (self->context, &request, &error);
    if (!session) {
      g_prefix_error (&error, "cannot start a session: ");
      close_with_gerror (self, error);
      return;
    }
  }
  self->session = session;
  fh_session_attach (session, self, resumed, msg->mic);
}

void
fh_client_bind (FhClient *self, FhSession *session, gboolean mic)
{
  self->awaiting_approval = FALSE;
  self->session = session;
  fh_session_attach (session, self, FALSE, mic);
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

static void
on_message (SoupWebsocketConnection *connection, gint type, GBytes *message, gpointer user_data)
{
  FhClient *self = user_data;
  g_autoptr (GError) error = NULL;
  gsize len;
  const guint8 *data = g_bytes_get_data (message, &len);

  if (self->closing)
    return;
  /* libsoup's own limit does not hold for every message: check again. */
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
    } else if (!self->session) {
      fh_client_close_with_error (self, FH_PROTO_ERROR_UNEXPECTED_MESSAGE,
                                  "the first message must be hello");
    } else if (msg.type == FH_CLIENT_MESSAGE_KEYFRAME) {
      fh_session_request_keyframe (self->session);
    } else if (msg.type == FH_CLIENT_MESSAGE_PING) {
      pong = fh_proto_build_pong (msg.ping_t);
      fh_client_send_text (self, pong);
    }
    fh_client_message_clear (&msg);
  } else if (!take_token (self)) {
    fh_client_close_with_error (self, FH_PROTO_ERROR_RATE_LIMITED,
                                "more than " G_STRINGIFY (FH_PROTO_MAX_INPUT_RATE)
                                " input messages a second");
  } else {
    /* Parsed before its order is checked: a malformed message is a
     * bad-message wherever it comes. */
    gboolean mic = len > 0 && data[0] == FH_PROTO_KIND_MIC;
    FhMicPacket packet;
    FhInputEvent event;

    if (mic ? !fh_proto_parse_mic (data, len, &packet, &error)
            : !fh_proto_parse_input (data, len, &event, &error)) {
      close_with_gerror (self, error);
    } else if (!self->session) {
      fh_client_close_with_error (self, FH_PROTO_ERROR_UNEXPECTED_MESSAGE,
                                  "the first message must be hello");
    } else if (!mic) {
      fh_session_inject (self->session, &event);
    } else if (!fh_session_feed_mic (self->session, self, &packet, &error)) {
      close_with_gerror (self, error);
    }
  }
}

static gboolean
remove_later (gpointer user_data)
{
  FhClient *self = user_data;

  self->remove_source = 0;
  fh_context_remove_client (self->context, self); /* frees self */
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
  fh_context_forget_requests_of (self->context, self);
  if (session)
    fh_session_detach (session, self);
  if (!self->remove_source)
    self->remove_source = g_idle_add (remove_later, self);
}

static void
on_error (SoupWebsocketConnection *connection, GError *error, gpointer user_data)
{
  FhClient *self = user_data;

  g_message ("client %s: %s", self->peer, error->message);
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
fh_client_new (FhContext *context, SoupWebsocketConnection *connection, const char *peer)
{
  FhClient *self = g_new0 (FhClient, 1);

  self->context = context;
  self->connection = g_object_ref (connection);
  self->peer = g_strdup (peer);
  self->tokens = FH_PROTO_MAX_INPUT_BURST;
  self->refilled_us = g_get_monotonic_time ();
  soup_websocket_connection_set_max_incoming_payload_size (connection, FH_PROTO_MAX_INCOMING);
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
    fh_session_detach (g_steal_pointer (&self->session), self);
  }
  g_signal_handlers_disconnect_by_data (self->connection, self);
  if (soup_websocket_connection_get_state (self->connection) == SOUP_WEBSOCKET_STATE_OPEN)
    soup_websocket_connection_close (self->connection, 1001, "the host is stopping");
  g_object_unref (self->connection);
  g_free (self->peer);
  g_free (self->device);
  g_free (self);
}
