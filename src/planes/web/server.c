/* HTTPS and WebSocket on libsoup-3.0 (TLS through glib-networking). The
 * port is ours, not libsoup's: each accepted connection is counted against
 * its address and must deliver its request in time before libsoup gets it. */
#include "planes/web/server.h"

#include <json-glib/json-glib.h>
#include <libsoup/soup.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>

#include "fh-config.h"
#include "planes/web/client.h"
#include "planes/web/operations.h"
#include "planes/web/plane.h"
#include "planes/web/protocol.h"
#include "planes/web/wire.h"

/* How often at most the log hears of refused or timed-out connections:
 * a flood of them must not become a flood of log lines. */
#define LOG_EVERY_US (60 * G_USEC_PER_SEC)

typedef struct {
  guint count;     /* since the last line */
  gint64 last_us;  /* when the last line went out; 0 = never */
} FhLogLimit;

struct _FhServer {
  FhWebPlane *plane;
  SoupServer *soup;
  GSocketService *service;
  GTlsCertificate *certificate;
  guint request_timeout_s, max_per_address;
  guint port;
  GHashTable *connections;  /* GSocketAddress (remote) → FhHttpConnection, owned */
  GHashTable *per_address;  /* remote IP → open connections (GUINT_TO_POINTER) */
  FhLogLimit refused, timed_out;
  /* A TLS stream may be finalized on another thread (glib-networking's
   * handshake thread holds a reference while it runs): its connection is
   * handed to the main context, which alone touches the tables. */
  GMainContext *main_context;
  GMutex lock;
  GPtrArray *gone;  /* FhHttpConnection whose stream went, under lock */
  GSource *gone_source; /* under lock */
};

/* One accepted connection, from accept until its TLS stream is finalized
 * (libsoup closed it, or the WebSocket that took it over went). */
typedef struct {
  FhServer *server;
  GObject *stream;        /* the GTlsServerConnection, not owned: weakly watched */
  GSocketAddress *remote; /* the key in server->connections */
  GSocket *socket;
  char *address;
  guint timeout;
} FhHttpConnection;

/* Logs @what now and then: the first time, then at most once a minute with
 * how many happened in between. */
static void
log_limited (FhLogLimit *limit, const char *address, const char *what)
{
  gint64 now = g_get_monotonic_time ();

  limit->count++;
  if (limit->last_us && now - limit->last_us < LOG_EVERY_US)
    return;
  g_message ("%s (%u since the last such line, the latest from %s)", what, limit->count, address);
  limit->count = 0;
  limit->last_us = now;
}

static void
connection_free (FhHttpConnection *c)
{
  g_clear_handle_id (&c->timeout, g_source_remove);
  g_object_unref (c->remote);
  g_object_unref (c->socket);
  g_free (c->address);
  g_free (c);
}

/* Main context: @c's stream is gone; it no longer counts. Frees @c. */
static void
connection_gone (FhServer *self, FhHttpConnection *c)
{
  guint open = GPOINTER_TO_UINT (g_hash_table_lookup (self->per_address, c->address));

  if (open > 1)
    g_hash_table_insert (self->per_address, g_strdup (c->address), GUINT_TO_POINTER (open - 1));
  else
    g_hash_table_remove (self->per_address, c->address);
  g_hash_table_remove (self->connections, c->remote);
}

static gboolean
on_gone (gpointer data)
{
  FhServer *self = data;
  g_autoptr (GPtrArray) gone = NULL;

  g_mutex_lock (&self->lock);
  gone = g_steal_pointer (&self->gone);
  self->gone = g_ptr_array_new ();
  g_clear_pointer (&self->gone_source, g_source_unref);
  g_mutex_unlock (&self->lock);
  for (guint i = 0; i < gone->len; i++)
    connection_gone (self, gone->pdata[i]);
  return G_SOURCE_REMOVE;
}

/* Any thread: the stream was finalized. */
static void
on_stream_gone (gpointer data, GObject *where_the_object_was)
{
  FhHttpConnection *c = data;
  FhServer *self = c->server;

  g_mutex_lock (&self->lock);
  c->stream = NULL;
  if (g_main_context_is_owner (self->main_context)) {
    g_mutex_unlock (&self->lock);
    connection_gone (self, c);
    return;
  }
  g_ptr_array_add (self->gone, c);
  if (!self->gone_source) {
    self->gone_source = g_idle_source_new ();
    g_source_set_priority (self->gone_source, G_PRIORITY_DEFAULT);
    g_source_set_callback (self->gone_source, on_gone, self, NULL);
    g_source_attach (self->gone_source, self->main_context);
  }
  g_mutex_unlock (&self->lock);
}

/* No whole request in time (a slowloris, or a client that went quiet):
 * shutting the socket down makes libsoup's pending read fail, and libsoup
 * then drops the connection as it does any broken one. */
static gboolean
on_request_timeout (gpointer data)
{
  FhHttpConnection *c = data;
  g_autofree char *what = g_strdup_printf (
    "closed connections that sent no whole request within %u s (http-request-timeout-seconds)",
    c->server->request_timeout_s);

  c->timeout = 0;
  log_limited (&c->server->timed_out, c->address, what);
  g_socket_shutdown (c->socket, TRUE, TRUE, NULL);
  return G_SOURCE_REMOVE;
}

static FhHttpConnection *
connection_of (FhServer *self, SoupServerMessage *msg)
{
  GSocketAddress *remote = soup_server_message_get_remote_address (msg);

  return remote ? g_hash_table_lookup (self->connections, remote) : NULL;
}

/* The request is in (headers and body): from here its handler answers,
 * and a WebSocket has its own hello timeout and keepalive. */
static void
on_request_read (SoupServer *soup, SoupServerMessage *msg, gpointer user_data)
{
  FhHttpConnection *c = connection_of (user_data, msg);

  if (c)
    g_clear_handle_id (&c->timeout, g_source_remove);
}

static gboolean
on_incoming (GSocketService *service, GSocketConnection *connection, GObject *source,
             gpointer user_data)
{
  FhServer *self = user_data;
  g_autoptr (GSocketAddress) remote = g_socket_connection_get_remote_address (connection, NULL);
  g_autoptr (GSocketAddress) local = g_socket_connection_get_local_address (connection, NULL);
  g_autoptr (GIOStream) tls = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *address = NULL;
  FhHttpConnection *c;
  guint open;

  if (!G_IS_INET_SOCKET_ADDRESS (remote) || !local) {
    g_io_stream_close (G_IO_STREAM (connection), NULL, NULL);
    return TRUE; /* gone already */
  }
  address = g_inet_address_to_string (
    g_inet_socket_address_get_address (G_INET_SOCKET_ADDRESS (remote)));
  open = GPOINTER_TO_UINT (g_hash_table_lookup (self->per_address, address));
  if (open >= self->max_per_address) {
    g_autofree char *what = g_strdup_printf (
      "refused connections from an address that holds %u open already "
      "(http-max-connections-per-address)", self->max_per_address);
    log_limited (&self->refused, address, what);
    g_io_stream_close (G_IO_STREAM (connection), NULL, NULL);
    return TRUE;
  }
  /* libsoup wraps only the connections it accepts itself in TLS. No
   * database: the host asks no client for a certificate, and with the
   * default one glib-networking 2.74 parsed the system's CA certificates
   * for every connection (9 ms of the main loop and megabytes each). */
  tls = g_initable_new (g_tls_backend_get_server_connection_type (g_tls_backend_get_default ()),
                        NULL, &error, "base-io-stream", connection, "certificate",
                        self->certificate, "database", NULL, NULL);
  if (!tls) {
    g_warning ("no TLS for a connection from %s: %s", address, error->message);
    g_io_stream_close (G_IO_STREAM (connection), NULL, NULL);
    return TRUE;
  }
  g_object_set (tls, "require-close-notify", FALSE, NULL);
  g_socket_set_option (g_socket_connection_get_socket (connection), IPPROTO_TCP, TCP_NODELAY, TRUE,
                       NULL);

  c = g_new0 (FhHttpConnection, 1);
  c->server = self;
  c->stream = G_OBJECT (tls);
  c->remote = g_object_ref (remote);
  c->socket = g_object_ref (g_socket_connection_get_socket (connection));
  c->address = g_steal_pointer (&address);
  c->timeout = g_timeout_add_seconds (self->request_timeout_s, on_request_timeout, c);
  g_hash_table_insert (self->connections, c->remote, c);
  g_hash_table_insert (self->per_address, g_strdup (c->address), GUINT_TO_POINTER (open + 1));
  g_object_weak_ref (c->stream, on_stream_gone, c);
  soup_server_accept_iostream (self->soup, tls, local, remote, NULL);
  return TRUE;
}

static char *
peer_of (SoupServerMessage *msg)
{
  GSocketAddress *address = soup_server_message_get_remote_address (msg);

  if (G_IS_INET_SOCKET_ADDRESS (address)) {
    g_autofree char *host = g_inet_address_to_string (
      g_inet_socket_address_get_address (G_INET_SOCKET_ADDRESS (address)));
    return g_strdup_printf ("%s:%u", host,
                            g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (address)));
  }
  return g_strdup ("unknown");
}

static void
set_common_headers (SoupServerMessage *msg)
{
  SoupMessageHeaders *h = soup_server_message_get_response_headers (msg);

  soup_message_headers_replace (h, "Cache-Control", "no-cache");
  soup_message_headers_replace (h, "X-Content-Type-Options", "nosniff");
  soup_message_headers_replace (h, "Referrer-Policy", "no-referrer");
}

static void
respond_json (SoupServerMessage *msg, guint status, const char *json)
{
  set_common_headers (msg);
  soup_server_message_set_status (msg, status, NULL);
  soup_server_message_set_response (msg, "application/json", SOUP_MEMORY_COPY, json,
                                    strlen (json));
}

static void
respond_error (SoupServerMessage *msg, guint status, const char *code, const char *message)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();
  g_autoptr (JsonNode) root = NULL;
  g_autofree char *json = NULL;

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "error");
  json_builder_add_string_value (b, code);
  json_builder_set_member_name (b, "message");
  json_builder_add_string_value (b, message);
  json_builder_end_object (b);
  root = json_builder_get_root (b);
  json = json_to_string (root, FALSE);
  respond_json (msg, status, json);
}

static const char *
content_type_for (const char *path)
{
  static const struct {
    const char *suffix, *type;
  } types[] = {
    { ".html", "text/html; charset=utf-8" }, { ".js", "text/javascript; charset=utf-8" },
    { ".mjs", "text/javascript; charset=utf-8" }, { ".css", "text/css; charset=utf-8" },
    { ".json", "application/json" }, { ".svg", "image/svg+xml" }, { ".png", "image/png" },
    { ".ico", "image/x-icon" }, { ".js.map", "application/json" },
  };
  for (gsize i = 0; i < G_N_ELEMENTS (types); i++) {
    if (g_str_has_suffix (path, types[i].suffix))
      return types[i].type;
  }
  return "application/octet-stream";
}

static void
handle_static (SoupServer *soup, SoupServerMessage *msg, const char *path, GHashTable *query,
               gpointer user_data)
{
  FhServer *self = user_data;
  const char *root = fh_web_plane_get_web_dir (self->plane);
  g_autofree char *relative = NULL, *file = NULL, *prefix = NULL;
  g_autoptr (GError) error = NULL;
  char *data;
  gsize len;

  if (soup_server_message_get_method (msg) != SOUP_METHOD_GET &&
      soup_server_message_get_method (msg) != SOUP_METHOD_HEAD) {
    respond_error (msg, SOUP_STATUS_METHOD_NOT_ALLOWED, "bad-request", "only GET here");
    return;
  }
  relative = g_str_equal (path, "/") ? g_strdup ("index.html") : g_strdup (path + 1);
  file = g_canonicalize_filename (relative, root);
  prefix = g_strconcat (root, G_DIR_SEPARATOR_S, NULL);
  if (!g_str_has_prefix (file, prefix) || !g_file_get_contents (file, &data, &len, &error)) {
    respond_error (msg, SOUP_STATUS_NOT_FOUND, "not-found", "no such file");
    return;
  }
  set_common_headers (msg);
  soup_server_message_set_status (msg, SOUP_STATUS_OK, NULL);
  soup_server_message_set_response (msg, content_type_for (file), SOUP_MEMORY_TAKE, data, len);
}

static void
handle_host (SoupServer *soup, SoupServerMessage *msg, const char *path, GHashTable *query,
             gpointer user_data)
{
  FhServer *self = user_data;
  g_autofree char *json = g_strdup_printf (
    "{\"name\":\"funkhaus\",\"version\":\"%s\",\"protocol\":%d,\"fingerprint\":\"%s\"}",
    FH_VERSION, FH_PROTOCOL_VERSION, fh_web_plane_get_fingerprint (self->plane));

  respond_json (msg, SOUP_STATUS_OK, json);
}

static void
handle_pair (SoupServer *soup, SoupServerMessage *msg, const char *path, GHashTable *query,
             gpointer user_data)
{
  FhServer *self = user_data;
  SoupMessageBody *body = soup_server_message_get_request_body (msg);
  g_autoptr (GBytes) bytes = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *pin = NULL, *name = NULL, *device = NULL, *token = NULL, *json = NULL;
  g_autofree char *peer = peer_of (msg);
  g_autoptr (JsonBuilder) b = NULL;
  g_autoptr (JsonNode) root = NULL;
  gsize len;
  const char *data;
  guint retry_after = 0;

  if (soup_server_message_get_method (msg) != SOUP_METHOD_POST) {
    respond_error (msg, SOUP_STATUS_METHOD_NOT_ALLOWED, "bad-request", "pair with POST");
    return;
  }
  bytes = soup_message_body_flatten (body);
  data = g_bytes_get_data (bytes, &len);
  if (!fh_proto_parse_pair_request (data, len, &pin, &name, &error)) {
    respond_error (msg, SOUP_STATUS_BAD_REQUEST, "bad-request", error->message);
    return;
  }
  /* Wrong PINs count against the address, whatever port it comes from. */
  if (!fh_device_store_pair (fh_core_get_devices (fh_web_plane_get_core (self->plane)), pin, name,
                        soup_server_message_get_remote_host (msg), &device, &token, &retry_after,
                        &error)) {
    g_message ("pairing from %s refused: %s", peer, error->message);
    if (g_error_matches (error, FH_DEVICE_STORE_ERROR, FH_DEVICE_STORE_ERROR_LOCKED)) {
      g_autofree char *seconds = g_strdup_printf ("%u", retry_after);
      soup_message_headers_replace (soup_server_message_get_response_headers (msg),
                                    "Retry-After", seconds);
      respond_error (msg, 429 /* Too Many Requests */, "too-many-attempts", error->message);
    } else if (error->domain == FH_DEVICE_STORE_ERROR) {
      respond_error (msg, SOUP_STATUS_FORBIDDEN, "wrong-pin", error->message);
    } else {
      respond_error (msg, SOUP_STATUS_INTERNAL_SERVER_ERROR, "internal", error->message);
    }
    return;
  }
  g_message ("paired device %s (\"%s\") from %s", device, name, peer);

  b = json_builder_new ();
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "device");
  json_builder_add_string_value (b, device);
  json_builder_set_member_name (b, "token");
  json_builder_add_string_value (b, token);
  json_builder_end_object (b);
  root = json_builder_get_root (b);
  json = json_to_string (root, FALSE);
  respond_json (msg, SOUP_STATUS_OK, json);
}

/* Refuses a request body over the limit before libsoup reads it: a status
 * set in got-headers makes libsoup answer without reading the body.
 *
 * Every answer but a WebSocket upgrade also closes its connection: libsoup
 * 3.2 (Debian 12) never notices that the client closed an idle keep-alive
 * connection (fixed upstream in 3.3.0, "server: do not leak idle
 * connections closed by the client"), so each one stayed in CLOSE-WAIT and
 * held a descriptor until the host had none left. A page load costs a few
 * more TLS handshakes; the stream itself is one WebSocket. (libsoup also
 * closes each connection handed to it by soup_server_accept_iostream()
 * after one request, as it keeps alive only while it has listeners of its
 * own; the header says so to the client.) */
static void
on_got_headers (SoupServerMessage *msg, gpointer user_data)
{
  SoupMessageHeaders *h = soup_server_message_get_request_headers (msg);
  goffset length = soup_message_headers_get_content_length (h);

  if (!soup_message_headers_header_contains (h, "Upgrade", "websocket"))
    soup_message_headers_replace (soup_server_message_get_response_headers (msg), "Connection",
                                  "close");

  if (length > FH_PROTO_MAX_TEXT ||
      soup_message_headers_get_encoding (h) == SOUP_ENCODING_CHUNKED) {
    respond_error (msg, SOUP_STATUS_REQUEST_ENTITY_TOO_LARGE, "message-too-large",
                   "request bodies are limited to " G_STRINGIFY (FH_PROTO_MAX_TEXT) " bytes");
  }
}

static void
on_new_request (SoupServer *soup, SoupServerMessage *msg, gpointer user_data)
{
  g_signal_connect (msg, "got-headers", G_CALLBACK (on_got_headers), user_data);
}

/* The upgrade is done (the 101 went out): the connection leaves libsoup's
 * HTTP side for a WebSocket over a wire that a session's stream thread
 * can write to as well (wire.h). The same steps as libsoup's own WebSocket
 * handler, with the wire put in between. */
static void
on_upgraded (SoupServerMessage *msg, gpointer user_data)
{
  FhServer *self = user_data;
  g_autofree char *peer = peer_of (msg);
  FhHttpConnection *c = connection_of (self, msg);
  SoupMessageHeaders *request = soup_server_message_get_request_headers (msg);
  g_autoptr (GIOStream) stream = NULL;
  g_autoptr (FhWebWire) wire = NULL;
  g_autoptr (SoupWebsocketConnection) connection = NULL;

  g_object_ref (msg);
  stream = soup_server_message_steal_connection (msg);
  wire = fh_web_wire_new (stream, c ? c->socket : NULL, self->main_context);
  connection = soup_websocket_connection_new (
    G_IO_STREAM (wire), soup_server_message_get_uri (msg), SOUP_WEBSOCKET_CONNECTION_SERVER,
    soup_message_headers_get_one (request, "Origin"), NULL, NULL);
  fh_web_plane_add_client (self->plane, fh_client_new (self->plane, connection, wire,
                                                       c ? c->socket : NULL, peer));
  g_object_unref (msg);
}

/* No extensions: permessage-deflate, which every browser offers, is not
 * granted. H.264 does not compress, and zlib ran on the main thread for
 * every frame out (about 0.09 ms a frame at 1280x720@60, a fifth of that
 * thread's samples) and every ack and input event in, with a
 * compressor's state kept per client. */
static void
handle_websocket (SoupServer *soup, SoupServerMessage *msg, const char *path, GHashTable *query,
                  gpointer user_data)
{
  if (soup_websocket_server_process_handshake (msg, NULL, NULL, NULL, NULL))
    g_signal_connect (msg, "wrote-informational", G_CALLBACK (on_upgraded), user_data);
}

FhServer *
fh_server_new (FhWebPlane *plane, GTlsCertificate *certificate, guint request_timeout_s,
               guint max_per_address, GError **error)
{
  g_autoptr (FhServer) self = g_new0 (FhServer, 1);

  if (!g_tls_backend_supports_tls (g_tls_backend_get_default ())) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
                 "GLib has no TLS backend: install glib-networking");
    return NULL;
  }
  self->plane = plane;
  self->certificate = g_object_ref (certificate);
  self->request_timeout_s = MAX (request_timeout_s, 1);
  self->max_per_address = MAX (max_per_address, 1);
  self->connections =
    g_hash_table_new_full (NULL, NULL, NULL, (GDestroyNotify) connection_free);
  self->per_address = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  self->main_context = g_main_context_ref_thread_default ();
  g_mutex_init (&self->lock);
  self->gone = g_ptr_array_new ();
  self->soup = soup_server_new ("server-header", "funkhaus/" FH_VERSION, NULL);
  g_signal_connect (self->soup, "request-started", G_CALLBACK (on_new_request), self);
  g_signal_connect (self->soup, "request-read", G_CALLBACK (on_request_read), self);
  soup_server_add_handler (self->soup, "/api/host", handle_host, self, NULL);
  soup_server_add_handler (self->soup, "/api/pair", handle_pair, self, NULL);
  fh_web_operations_add_handlers (self->soup, self->plane);
  soup_server_add_handler (self->soup, "/ws", handle_websocket, self, NULL);
  soup_server_add_handler (self->soup, NULL, handle_static, self, NULL);
  return g_steal_pointer (&self);
}

gboolean
fh_server_listen (FhServer *self, guint port, GError **error)
{
  GSocketListener *listener;
  guint bound = port;

  /* Every address, IPv4 and IPv6, as soup_server_listen_all() did. */
  self->service = g_socket_service_new ();
  listener = G_SOCKET_LISTENER (self->service);
  if (port == 0)
    bound = g_socket_listener_add_any_inet_port (listener, NULL, error);
  else if (!g_socket_listener_add_inet_port (listener, port, NULL, error))
    bound = 0;
  if (bound == 0) {
    g_prefix_error (error, "cannot listen on port %u (is another program using it? choose "
                           "another with --port): ", port);
    return FALSE;
  }
  g_signal_connect (self->service, "incoming", G_CALLBACK (on_incoming), self);
  g_socket_service_start (self->service);
  self->port = bound;
  return TRUE;
}

guint
fh_server_get_port (FhServer *self)
{
  return self->port;
}

void
fh_server_free (FhServer *self)
{
  GHashTableIter iter;
  FhHttpConnection *c;

  if (!self)
    return;
  if (self->service) {
    g_socket_service_stop (self->service);
    g_socket_listener_close (G_SOCKET_LISTENER (self->service));
    g_clear_object (&self->service);
  }
  if (self->soup) {
    soup_server_disconnect (self->soup);
    g_object_unref (self->soup);
  }
  /* What outlives the server (a WebSocket not yet finalized) is no longer
   * counted; what went on another thread meanwhile is done here. */
  g_mutex_lock (&self->lock);
  if (self->gone_source) {
    g_source_destroy (self->gone_source);
    g_clear_pointer (&self->gone_source, g_source_unref);
  }
  if (self->connections) {
    g_hash_table_iter_init (&iter, self->connections);
    while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &c)) {
      if (c->stream)
        g_object_weak_unref (c->stream, on_stream_gone, c);
    }
    g_hash_table_unref (self->connections); /* frees the gone ones too */
  }
  g_clear_pointer (&self->gone, g_ptr_array_unref);
  g_mutex_unlock (&self->lock);
  g_mutex_clear (&self->lock);
  g_clear_pointer (&self->main_context, g_main_context_unref);
  g_clear_pointer (&self->per_address, g_hash_table_unref);
  g_clear_object (&self->certificate);
  g_free (self);
}
