/* The GameStream RTSP server (see rtsp-server.h). Moonlight opens one
 * connection per request and reads the answer until the host closes it;
 * everything runs on the main thread. */
#include "planes/gamestream/rtsp-server.h"

#include <string.h>

#include "planes/gamestream/protocol/rtsp.h"
#include "planes/gamestream/protocol/sdp.h"
#include "planes/gamestream/protocol/stream-crypto.h"

#define RTSP_TIMEOUT_S 10
/* Moonlight holds one RTSP connection at a time; more at once than this is
 * someone else, and waits its turn by being closed. */
#define RTSP_MAX_CONNECTIONS 32

struct _FhGsRtspServer {
  FhGsLaunches *launches;
  FhGsMediaSender *media;
  FhGsControlServer *control;
  GSocketService *service;
  guint port;
  GList *connections; /* FhGsRtspConnection */
};

typedef struct {
  FhGsRtspServer *server;
  GSocketConnection *connection;
  GInetAddress *peer;
  GByteArray *in;
  guint8 chunk[4096];
  GCancellable *cancellable;
  guint timeout;
} FhGsRtspConnection;

/* ---- the client's address ---- */

static char *
address_string (GInetAddress *address)
{
  g_autofree char *text = g_inet_address_to_string (address);

  /* A dual-stack socket shows IPv4 peers as ::ffff:a.b.c.d. */
  if (g_str_has_prefix (text, "::ffff:") && strchr (text + 7, '.'))
    return g_strdup (text + 7);
  return g_steal_pointer (&text);
}

static gboolean
same_address (GInetAddress *a, GInetAddress *b)
{
  g_autofree char *x = address_string (a), *y = address_string (b);

  return g_str_equal (x, y);
}

/* ---- connections and answers ---- */

static void
connection_free (FhGsRtspConnection *c)
{
  g_clear_handle_id (&c->timeout, g_source_remove);
  g_cancellable_cancel (c->cancellable);
  g_clear_object (&c->cancellable);
  g_clear_object (&c->connection);
  g_clear_object (&c->peer);
  g_byte_array_unref (c->in);
  g_free (c);
}

static void
connection_close (FhGsRtspConnection *c)
{
  c->server->connections = g_list_remove (c->server->connections, c);
  g_io_stream_close (G_IO_STREAM (c->connection), NULL, NULL);
  connection_free (c);
}

typedef struct {
  FhGsRtspConnection *connection; /* gone when the write was cancelled */
  GBytes *answer;                 /* what is being written */
} FhGsRtspWrite;

static void
on_written (GObject *source, GAsyncResult *result, gpointer data)
{
  g_autoptr (GError) error = NULL;
  FhGsRtspWrite *w = data;
  gboolean cancelled =
    !g_output_stream_write_all_finish (G_OUTPUT_STREAM (source), result, NULL, &error) &&
    g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);

  /* Moonlight reads an answer until the host closes. */
  if (!cancelled)
    connection_close (w->connection);
  g_bytes_unref (w->answer);
  g_free (w);
}

static void
reply (FhGsRtspConnection *c, FhGsLaunch *sealed_for, const char *text)
{
  GOutputStream *out = g_io_stream_get_output_stream (G_IO_STREAM (c->connection));
  g_autoptr (GBytes) bytes = NULL;
  g_autoptr (GError) error = NULL;
  FhGsRtspWrite *w;

  if (sealed_for &&
      !(bytes = fh_gs_rtsp_seal (sealed_for->key, ++sealed_for->rtsp_sequence,
                                 FH_GS_CONTROL_FROM_HOST, (const guint8 *) text, strlen (text),
                                 &error))) {
    g_warning ("gamestream: RTSP answer not sealed: %s", error->message);
    connection_close (c);
    return;
  }
  if (!bytes)
    bytes = g_bytes_new (text, strlen (text));
  g_clear_handle_id (&c->timeout, g_source_remove);
  w = g_new0 (FhGsRtspWrite, 1);
  w->connection = c;
  w->answer = g_steal_pointer (&bytes);
  g_output_stream_write_all_async (out, g_bytes_get_data (w->answer, NULL),
                                   g_bytes_get_size (w->answer), G_PRIORITY_DEFAULT,
                                   c->cancellable, on_written, w);
}

static void
reply_error (FhGsRtspConnection *c, FhGsLaunch *sealed_for, guint32 cseq, guint status,
             const char *why)
{
  g_autofree char *peer = address_string (c->peer);
  g_autofree char *text = fh_gs_rtsp_build_response (status, cseq, NULL, NULL);

  g_message ("gamestream: RTSP from %s: %u %s: %s", peer, status, fh_gs_rtsp_reason (status), why);
  reply (c, sealed_for, text);
}

/* ---- which launch a request is ---- */

/* A plain request without a Session: the oldest launch from this address
 * that speaks plain RTSP and has not set up yet. */
static FhGsLaunch *
find_plain_launch (FhGsRtspServer *self, FhGsRtspConnection *c, const FhGsRtspRequest *request)
{
  const char *session = fh_gs_rtsp_request_get_header (request, "Session");
  FhGsLaunch *best = NULL, *l;
  GHashTableIter iter;

  fh_gs_launches_iter_init (self->launches, &iter);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &l)) {
    if (l->encrypted_rtsp)
      continue; /* it said it speaks rtspenc: a plain request is not it */
    if (session) {
      /* "Session: <id>" possibly followed by ";…" */
      gsize n = strcspn (session, ";");
      if (l->rtsp_session && strlen (l->rtsp_session) == n &&
          strncmp (l->rtsp_session, session, n) == 0)
        return l;
      continue;
    }
    if (l->rtsp_session || !l->address || !same_address (l->address, c->peer))
      continue;
    if (!best || l->order < best->order)
      best = l;
  }
  return best;
}

static FhGsLaunch *
find_sealed_launch (FhGsRtspServer *self, const guint8 *data, gsize len, GBytes **plain)
{
  FhGsLaunch *l;
  GHashTableIter iter;

  fh_gs_launches_iter_init (self->launches, &iter);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &l)) {
    if (!l->encrypted_rtsp)
      continue;
    if ((*plain = fh_gs_rtsp_unseal (l->key, FH_GS_CONTROL_FROM_CLIENT, data, len, NULL, NULL)))
      return l;
  }
  return NULL;
}

/* ---- requests ---- */

static char *
describe_answer (void)
{
  FhGsSdpAnswer answer = {
    .encryption_supported = FH_GS_ENC_CONTROL_V2 | FH_GS_ENC_AUDIO,
    .encryption_requested = FH_GS_ENC_CONTROL_V2 | FH_GS_ENC_AUDIO,
  };

  return fh_gs_sdp_build_answer (&answer);
}

static void
handle_request (FhGsRtspConnection *c, FhGsLaunch *l, gboolean sealed,
                const FhGsRtspRequest *request)
{
  FhGsRtspServer *self = c->server;
  FhGsLaunch *sealed_for = sealed ? l : NULL;
  g_autofree char *text = NULL, *body = NULL, *session = NULL, *transport = NULL;
  g_autofree char *connect = NULL;
  g_autoptr (GError) error = NULL;
  const char *method = request->method;

  if (g_str_equal (method, "OPTIONS")) {
    text = fh_gs_rtsp_build_response (200, request->cseq, NULL, NULL);
  } else if (g_str_equal (method, "DESCRIBE")) {
    body = describe_answer ();
    text = fh_gs_rtsp_build_response (
      200, request->cseq, (const char *const[]) { "Content-Type", "application/sdp", NULL }, body);
  } else if (g_str_equal (method, "SETUP")) {
    const char *target = request->target;
    if (!l->rtsp_session)
      l->rtsp_session = g_strdup_printf ("%08X%08X", g_random_int (), g_random_int ());
    session = g_strdup_printf ("%s;timeout = 90", l->rtsp_session);
    if (strstr (target, "streamid=audio")) {
      transport =
        g_strdup_printf ("server_port=%u", fh_gs_media_sender_get_audio_port (self->media));
      text = fh_gs_rtsp_build_response (
        200, request->cseq,
        (const char *const[]) { "Session", session, "Transport", transport, "X-SS-Ping-Payload",
                                l->media.audio_ping, NULL },
        NULL);
    } else if (strstr (target, "streamid=video")) {
      transport =
        g_strdup_printf ("server_port=%u", fh_gs_media_sender_get_video_port (self->media));
      text = fh_gs_rtsp_build_response (
        200, request->cseq,
        (const char *const[]) { "Session", session, "Transport", transport, "X-SS-Ping-Payload",
                                l->media.video_ping, NULL },
        NULL);
    } else if (strstr (target, "streamid=control")) {
      transport = g_strdup_printf ("server_port=%u", fh_gs_control_server_get_port (self->control));
      connect = g_strdup_printf ("%u", l->connect_data);
      fh_gs_launch_expect_control (l, self->control);
      text = fh_gs_rtsp_build_response (
        200, request->cseq,
        (const char *const[]) { "Session", session, "Transport", transport, "X-SS-Connect-Data",
                                connect, NULL },
        NULL);
    } else {
      reply_error (c, sealed_for, request->cseq, 404, "SETUP of an unknown stream");
      return;
    }
  } else if (g_str_equal (method, "ANNOUNCE")) {
    if (!fh_gs_sdp_parse_announce ((const char *) request->body, request->body_len, &l->settings,
                                   &error)) {
      reply_error (c, sealed_for, request->cseq, 400, error->message);
      return;
    }
    if (l->settings.video_format != FH_GS_VIDEO_FORMAT_H264) {
      reply_error (c, sealed_for, request->cseq, 400, "this host sends H.264 only");
      return;
    }
    l->announced = TRUE;
    text = fh_gs_rtsp_build_response (200, request->cseq, NULL, NULL);
  } else if (g_str_equal (method, "PLAY")) {
    if (!l->announced || !l->control_expected) {
      reply_error (c, sealed_for, request->cseq, 455, "PLAY before SETUP and ANNOUNCE");
      return;
    }
    if (!fh_gs_launch_play (l, self->media, &error)) {
      reply_error (c, sealed_for, request->cseq, 503, error->message);
      return;
    }
    text = fh_gs_rtsp_build_response (200, request->cseq, NULL, NULL);
  } else {
    reply_error (c, sealed_for, request->cseq, 501, "unknown method");
    return;
  }
  g_debug ("gamestream: RTSP %s %s for device %s", method, request->target, l->device);
  reply (c, sealed_for, text);
}

static void read_more (FhGsRtspConnection *c);

/* TRUE when the connection was answered (or closed). */
static gboolean
try_request (FhGsRtspConnection *c)
{
  FhGsRtspServer *self = c->server;
  g_autoptr (FhGsRtspRequest) request = NULL;
  g_autoptr (GBytes) plain = NULL;
  g_autoptr (GError) error = NULL;
  FhGsLaunch *l = NULL;
  const guint8 *data = c->in->data;
  gsize len = c->in->len, consumed = 0;
  gboolean sealed = len > 0 && (data[0] & 0x80);

  if (len == 0)
    return FALSE;
  if (sealed) {
    gsize total;
    if (!fh_gs_rtsp_sealed_size (data, len, &total, &error)) {
      reply_error (c, NULL, 0, 400, error->message);
      return TRUE;
    }
    if (total == 0 || len < total)
      return FALSE;
    if (len > total) {
      reply_error (c, NULL, 0, 400, "bytes after a sealed RTSP message");
      return TRUE;
    }
    if (!(l = find_sealed_launch (self, data, len, &plain))) {
      /* Unanswerable: we cannot seal a reply without knowing the key. */
      g_autofree char *peer = address_string (c->peer);
      g_message ("gamestream: RTSP from %s: a sealed request no launched client's key opens",
                 peer);
      connection_close (c);
      return TRUE;
    }
    data = g_bytes_get_data (plain, &len);
  }
  switch (fh_gs_rtsp_parse_request (data, len, &request, &consumed, &error)) {
  case FH_GS_RTSP_PARSE_INCOMPLETE:
    if (sealed) {
      reply_error (c, l, 0, 400, "a sealed request that is not a whole RTSP request");
      return TRUE;
    }
    return FALSE;
  case FH_GS_RTSP_PARSE_ERROR:
    reply_error (c, l, 0, 400, error->message);
    return TRUE;
  case FH_GS_RTSP_PARSE_OK:
    break;
  }
  if (!l && !(l = find_plain_launch (self, c, request))) {
    reply_error (c, NULL, request->cseq, 454,
                 "no launched Moonlight client matches (launch first, over HTTPS)");
    return TRUE;
  }
  handle_request (c, l, sealed, request);
  return TRUE;
}

static void
on_read (GObject *source, GAsyncResult *result, gpointer data)
{
  g_autoptr (GError) error = NULL;
  gssize n = g_input_stream_read_finish (G_INPUT_STREAM (source), result, &error);
  FhGsRtspConnection *c;

  if (n < 0 && g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return;
  c = data;
  if (n <= 0) {
    connection_close (c);
    return;
  }
  if (c->in->len + (gsize) n > FH_GS_RTSP_MAX_MESSAGE + FH_GS_RTSP_SEALED_HEADER) {
    reply_error (c, NULL, 0, 413, "request too large");
    return;
  }
  g_byte_array_append (c->in, c->chunk, (guint) n);
  if (!try_request (c))
    read_more (c);
}

static void
read_more (FhGsRtspConnection *c)
{
  GInputStream *in = g_io_stream_get_input_stream (G_IO_STREAM (c->connection));

  g_input_stream_read_async (in, c->chunk, sizeof c->chunk, G_PRIORITY_DEFAULT, c->cancellable,
                             on_read, c);
}

static gboolean
on_rtsp_timeout (gpointer data)
{
  FhGsRtspConnection *c = data;
  g_autofree char *peer = address_string (c->peer);

  c->timeout = 0;
  g_message ("gamestream: RTSP from %s: no whole request in %d s", peer, RTSP_TIMEOUT_S);
  connection_close (c);
  return G_SOURCE_REMOVE;
}

static gboolean
on_incoming (GSocketService *service, GSocketConnection *connection, GObject *source,
             gpointer data)
{
  FhGsRtspServer *self = data;
  FhGsRtspConnection *c;
  g_autoptr (GSocketAddress) remote = g_socket_connection_get_remote_address (connection, NULL);

  if (g_list_length (self->connections) >= RTSP_MAX_CONNECTIONS) {
    g_message ("gamestream: RTSP: %d connections open already; one more closed at once",
               RTSP_MAX_CONNECTIONS);
    g_io_stream_close (G_IO_STREAM (connection), NULL, NULL);
    return TRUE;
  }
  c = g_new0 (FhGsRtspConnection, 1);
  c->server = self;
  c->connection = g_object_ref (connection);
  c->peer = remote ? g_object_ref (g_inet_socket_address_get_address (G_INET_SOCKET_ADDRESS (remote)))
                   : g_inet_address_new_any (G_SOCKET_FAMILY_IPV4);
  c->in = g_byte_array_new ();
  c->cancellable = g_cancellable_new ();
  c->timeout = g_timeout_add_seconds (RTSP_TIMEOUT_S, on_rtsp_timeout, c);
  self->connections = g_list_prepend (self->connections, c);
  read_more (c);
  return TRUE;
}

/* ---- the server ---- */

FhGsRtspServer *
fh_gs_rtsp_server_new (FhGsLaunches *launches, guint port, GError **error)
{
  g_autoptr (FhGsRtspServer) self = g_new0 (FhGsRtspServer, 1);

  self->launches = launches;
  self->service = g_socket_service_new ();
  if (port) {
    if (!g_socket_listener_add_inet_port (G_SOCKET_LISTENER (self->service), (guint16) port, NULL,
                                          error)) {
      g_prefix_error (error, "RTSP port %u: ", port);
      return NULL;
    }
    self->port = port;
  } else if (!(self->port = g_socket_listener_add_any_inet_port (G_SOCKET_LISTENER (self->service),
                                                                 NULL, error))) {
    return NULL;
  }
  g_signal_connect (self->service, "incoming", G_CALLBACK (on_incoming), self);
  return g_steal_pointer (&self);
}

void
fh_gs_rtsp_server_start (FhGsRtspServer *self, FhGsMediaSender *media, FhGsControlServer *control)
{
  self->media = media;
  self->control = control;
  g_socket_service_start (self->service);
}

guint
fh_gs_rtsp_server_get_port (FhGsRtspServer *self)
{
  return self->port;
}

void
fh_gs_rtsp_server_free (FhGsRtspServer *self)
{
  if (!self)
    return;
  while (self->connections)
    connection_close (self->connections->data);
  if (self->service) {
    g_socket_service_stop (self->service);
    g_socket_listener_close (G_SOCKET_LISTENER (self->service));
    g_clear_object (&self->service);
  }
  g_free (self);
}
