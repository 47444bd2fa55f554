/* /metrics and /healthz: who may read them, then the core's figures. */
#include "planes/web/operations.h"

#include <string.h>

#include "base/prom-text.h"
#include "core/metrics.h"

static gboolean
is_loopback (GInetAddress *address)
{
  g_autofree char *text = NULL;

  if (g_inet_address_get_is_loopback (address))
    return TRUE;
  /* An IPv4 peer on the dual-stack socket: ::ffff:127.x.y.z. */
  text = g_inet_address_to_string (address);
  return g_str_has_prefix (text, "::ffff:127.");
}

static void
refuse (SoupServerMessage *msg, guint status, const char *why)
{
  SoupMessageHeaders *h = soup_server_message_get_response_headers (msg);

  if (status == SOUP_STATUS_UNAUTHORIZED)
    soup_message_headers_replace (h, "WWW-Authenticate", "Bearer realm=\"funkhaus\"");
  soup_message_headers_replace (h, "Cache-Control", "no-store");
  soup_server_message_set_status (msg, status, NULL);
  soup_server_message_set_response (msg, "text/plain; charset=utf-8", SOUP_MEMORY_COPY, why,
                                    strlen (why));
}

/* Whether the metrics= rule lets @msg in; answers it when not. */
static gboolean
allowed (FhWebPlane *plane, SoupServerMessage *msg)
{
  GSocketAddress *remote = soup_server_message_get_remote_address (msg);
  FhDeviceStore *devices = fh_core_get_devices (fh_web_plane_get_core (plane));
  const char *auth;
  g_auto (GStrv) credential = NULL;

  switch (fh_web_plane_get_metrics_access (plane)) {
  case FH_WEB_METRICS_OFF:
    refuse (msg, SOUP_STATUS_NOT_FOUND, "metrics are off (metrics= in config.ini)\n");
    return FALSE;
  case FH_WEB_METRICS_LOCALHOST:
    if (G_IS_INET_SOCKET_ADDRESS (remote) &&
        is_loopback (g_inet_socket_address_get_address (G_INET_SOCKET_ADDRESS (remote))))
      return TRUE;
    refuse (msg, SOUP_STATUS_FORBIDDEN, "only from this machine (metrics=localhost)\n");
    return FALSE;
  case FH_WEB_METRICS_OWNERS:
    break;
  }
  auth = soup_message_headers_get_one (soup_server_message_get_request_headers (msg),
                                       "Authorization");
  if (auth && g_ascii_strncasecmp (auth, "Bearer ", 7) == 0)
    credential = g_strsplit (auth + 7, ":", 2);
  if (credential && credential[0] && credential[1] && fh_device_store_check (devices, credential[0],
                                                                               credential[1])) {
    /* Read on every request: taking the right away holds at once. */
    if (fh_device_store_get_owner (devices, credential[0]))
      return TRUE;
    refuse (msg, SOUP_STATUS_FORBIDDEN,
            "only a device with the owner right ('funkhaus devices owner ID') (metrics=owners)\n");
    return FALSE;
  }
  refuse (msg, SOUP_STATUS_UNAUTHORIZED,
          "the credential of a device with the owner right is needed: Authorization: Bearer "
          "DEVICE:TOKEN\n");
  return FALSE;
}

static gboolean
is_get (SoupServerMessage *msg)
{
  const char *method = soup_server_message_get_method (msg);

  if (method == SOUP_METHOD_GET || method == SOUP_METHOD_HEAD)
    return TRUE;
  refuse (msg, SOUP_STATUS_METHOD_NOT_ALLOWED, "only GET here\n");
  return FALSE;
}

static void
handle_metrics (SoupServer *soup, SoupServerMessage *msg, const char *path, GHashTable *query,
                gpointer user_data)
{
  FhWebPlane *plane = user_data;
  char *text;

  if (!is_get (msg) || !allowed (plane, msg))
    return;
  text = fh_core_render_metrics (fh_web_plane_get_core (plane));
  soup_message_headers_replace (soup_server_message_get_response_headers (msg), "Cache-Control",
                                "no-store");
  soup_server_message_set_status (msg, SOUP_STATUS_OK, NULL);
  soup_server_message_set_response (msg, FH_PROM_CONTENT_TYPE, SOUP_MEMORY_TAKE, text,
                                    strlen (text));
}

static void
handle_healthz (SoupServer *soup, SoupServerMessage *msg, const char *path, GHashTable *query,
                gpointer user_data)
{
  FhWebPlane *plane = user_data;
  const char *asked = query ? g_hash_table_lookup (query, "mode") : NULL;
  gboolean healthy = FALSE;
  FhMode mode;
  char *json;

  if (!is_get (msg) || !allowed (plane, msg))
    return;
  if (asked && !fh_mode_parse (asked, &mode)) {
    refuse (msg, SOUP_STATUS_BAD_REQUEST, "mode must be WIDTHxHEIGHT@HZ, e.g. 1920x1080@60\n");
    return;
  }
  json = fh_core_render_health (fh_web_plane_get_core (plane), asked ? &mode : NULL, &healthy);
  soup_message_headers_replace (soup_server_message_get_response_headers (msg), "Cache-Control",
                                "no-store");
  soup_server_message_set_status (msg, healthy ? SOUP_STATUS_OK : SOUP_STATUS_SERVICE_UNAVAILABLE,
                                  NULL);
  soup_server_message_set_response (msg, "application/json", SOUP_MEMORY_TAKE, json,
                                    strlen (json));
}

void
fh_web_operations_add_handlers (SoupServer *soup, FhWebPlane *plane)
{
  soup_server_add_handler (soup, "/metrics", handle_metrics, plane, NULL);
  soup_server_add_handler (soup, "/healthz", handle_healthz, plane, NULL);
}
