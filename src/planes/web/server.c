/* HTTPS and WebSocket on libsoup-3.0 (TLS through glib-networking). */
#include "planes/web/server.h"

#include <json-glib/json-glib.h>
#include <libsoup/soup.h>
#include <string.h>

#include "fh-config.h"
#include "planes/web/client.h"
#include "planes/web/operations.h"
#include "planes/web/plane.h"
#include "planes/web/protocol.h"

struct _FhServer {
  FhWebPlane *plane;
  SoupServer *soup;
  guint port;
};

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
 * more TLS handshakes; the stream itself is one WebSocket. */
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

static void
handle_websocket (SoupServer *soup, SoupServerMessage *msg, const char *path,
                  SoupWebsocketConnection *connection, gpointer user_data)
{
  FhServer *self = user_data;
  g_autofree char *peer = peer_of (msg);

  fh_web_plane_add_client (self->plane, fh_client_new (self->plane, connection,
                                                      soup_server_message_get_socket (msg), peer));
}

FhServer *
fh_server_new (FhWebPlane *plane, GTlsCertificate *certificate, GError **error)
{
  g_autoptr (FhServer) self = g_new0 (FhServer, 1);

  if (!g_tls_backend_supports_tls (g_tls_backend_get_default ())) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
                 "GLib has no TLS backend: install glib-networking");
    return NULL;
  }
  self->plane = plane;
  self->soup = soup_server_new ("server-header", "funkhaus/" FH_VERSION, "tls-certificate",
                                certificate, NULL);
  g_signal_connect (self->soup, "request-started", G_CALLBACK (on_new_request), self);
  soup_server_add_handler (self->soup, "/api/host", handle_host, self, NULL);
  soup_server_add_handler (self->soup, "/api/pair", handle_pair, self, NULL);
  fh_web_operations_add_handlers (self->soup, self->plane);
  soup_server_add_websocket_handler (self->soup, "/ws", NULL, NULL, handle_websocket, self, NULL);
  soup_server_add_handler (self->soup, NULL, handle_static, self, NULL);
  return g_steal_pointer (&self);
}

gboolean
fh_server_listen (FhServer *self, guint port, GError **error)
{
  GSList *uris;

  if (!soup_server_listen_all (self->soup, port, SOUP_SERVER_LISTEN_HTTPS, error)) {
    g_prefix_error (error, "cannot listen on port %u (is another program using it? choose "
                           "another with --port): ", port);
    return FALSE;
  }
  uris = soup_server_get_uris (self->soup);
  self->port = uris ? (guint) g_uri_get_port (uris->data) : port;
  g_slist_free_full (uris, (GDestroyNotify) g_uri_unref);
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
  if (!self)
    return;
  if (self->soup) {
    soup_server_disconnect (self->soup);
    g_object_unref (self->soup);
  }
  g_free (self);
}
