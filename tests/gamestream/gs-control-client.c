/* The control stream, the client's side: see gs-control-client.h. */
#include "gs-control-client.h"

#include <enet/enet.h>
#include <gio/gio.h>
#include <string.h>

#include "planes/gamestream/protocol/stream-crypto.h"

#define PING_INTERVAL_US (100 * 1000)

struct _GsControl {
  ENetHost *host;
  ENetPeer *peer;
  guint8 key[16];
  guint32 sequence;
  gint64 next_ping;
  gboolean terminated;
  guint32 termination_reason;
  guint received;
  GsRumbleFunc rumble;
  gpointer rumble_data;
};

static gboolean enet_ready;

GsControl *
gs_control_connect (const char *addr, guint port, guint32 connect_data, const guint8 key[16],
                    guint timeout_ms, GError **error)
{
  static const guint8 start_b[] = { 0 };
  g_autoptr (GBytes) start_a = fh_gs_control_build_request_idr ();
  GsControl *c;
  ENetAddress address = { 0 };
  ENetEvent event;
  int r;

  if (!enet_ready) {
    if (enet_initialize () != 0) {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "enet_initialize failed");
      return NULL;
    }
    enet_ready = TRUE;
  }
  if (enet_address_set_host_ip (&address, addr) != 0) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT, "control: bad address %s", addr);
    return NULL;
  }
  address.port = (enet_uint16) port;
  c = g_new0 (GsControl, 1);
  memcpy (c->key, key, 16);
  c->host = enet_host_create (NULL, 1, FH_GS_CONTROL_CHANNEL_COUNT, 0, 0);
  if (!c->host) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "enet_host_create failed");
    g_free (c);
    return NULL;
  }
  c->peer = enet_host_connect (c->host, &address, FH_GS_CONTROL_CHANNEL_COUNT, connect_data);
  r = c->peer ? enet_host_service (c->host, &event, timeout_ms) : -1;
  if (r <= 0 || event.type != ENET_EVENT_TYPE_CONNECT) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT,
                 "control: no ENet connection to %s:%u within %u ms (connect data %u)", addr, port,
                 timeout_ms, connect_data);
    if (c->peer)
      enet_peer_reset (c->peer);
    enet_host_destroy (c->host);
    g_free (c);
    return NULL;
  }
  enet_host_flush (c->host);
  enet_peer_timeout (c->peer, 2, 10000, 10000);
  g_printerr ("fh-gs-client: control stream connected to %s:%u\n", addr, port);
  /* The startup messages of an encrypted control stream: Start A is the
   * IDR request, then Start B (ControlStream.c startControlStream). */
  if (!gs_control_send_bytes (c, FH_GS_CONTROL_TYPE_REQUEST_IDR_FRAME, start_a,
                              FH_GS_CONTROL_CHANNEL_GENERIC, TRUE, error) ||
      !gs_control_send (c, FH_GS_CONTROL_TYPE_START_B, start_b, sizeof start_b, FH_GS_CONTROL_CHANNEL_GENERIC,
                        TRUE, error)) {
    gs_control_disconnect (c);
    return NULL;
  }
  c->next_ping = g_get_monotonic_time ();
  return c;
}

gboolean
gs_control_send (GsControl *c, guint16 type, const guint8 *payload, gsize len, guint8 channel,
                 gboolean reliable, GError **error)
{
  g_autoptr (GBytes) sealed = fh_gs_control_encrypt (c->key, c->sequence++, FH_GS_CONTROL_FROM_CLIENT,
                                                     type, payload, len, error);
  ENetPacket *packet;
  const guint8 *data;
  gsize n;

  if (!sealed)
    return FALSE;
  data = g_bytes_get_data (sealed, &n);
  packet = enet_packet_create (data, n, reliable ? ENET_PACKET_FLAG_RELIABLE
                                                 : ENET_PACKET_FLAG_UNSEQUENCED);
  if (!packet || enet_peer_send (c->peer, channel, packet) != 0) {
    if (packet)
      enet_packet_destroy (packet);
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "control: cannot send message 0x%04x",
                 type);
    return FALSE;
  }
  enet_host_flush (c->host);
  return TRUE;
}

gboolean
gs_control_send_bytes (GsControl *c, guint16 type, GBytes *payload, guint8 channel,
                       gboolean reliable, GError **error)
{
  gsize n;
  const guint8 *d = g_bytes_get_data (payload, &n);

  return gs_control_send (c, type, d, n, channel, reliable, error);
}

static gboolean
on_receive (GsControl *c, const ENetPacket *packet, GError **error)
{
  g_autoptr (GBytes) payload = NULL;
  FhGsControlMessage msg;
  guint32 sequence;
  guint16 type;

  if (!fh_gs_control_decrypt (c->key, FH_GS_CONTROL_FROM_HOST, packet->data, packet->dataLength,
                              &sequence, &type, &payload, error)) {
    g_prefix_error (error, "control: a host message of %zu bytes: ", packet->dataLength);
    return FALSE;
  }
  c->received++;
  if (!fh_gs_control_parse (FH_GS_CONTROL_FROM_HOST, type, g_bytes_get_data (payload, NULL),
                            g_bytes_get_size (payload), &msg, error)) {
    g_prefix_error (error, "control: host message 0x%04x: ", type);
    return FALSE;
  }
  if (msg.kind == FH_GS_CONTROL_MSG_TERMINATION) {
    c->terminated = TRUE;
    c->termination_reason = msg.termination.code;
    g_printerr ("fh-gs-client: the host ended the stream (reason 0x%08x)\n",
                c->termination_reason);
  } else if (msg.kind == FH_GS_CONTROL_MSG_RUMBLE && c->rumble) {
    c->rumble (msg.rumble.controller, msg.rumble.low_freq, msg.rumble.high_freq, c->rumble_data);
  } else {
    g_printerr ("fh-gs-client: control message 0x%04x (%s) from the host\n", type,
                fh_gs_control_message_kind_to_string (msg.kind));
  }
  return TRUE;
}

gboolean
gs_control_service (GsControl *c, guint wait_ms, GError **error)
{
  ENetEvent event;
  int r;

  if (g_get_monotonic_time () >= c->next_ping) {
    g_autoptr (GBytes) ping = fh_gs_control_build_periodic_ping ();
    c->next_ping = g_get_monotonic_time () + PING_INTERVAL_US;
    if (!gs_control_send_bytes (c, FH_GS_CONTROL_TYPE_PERIODIC_PING, ping,
                                FH_GS_CONTROL_CHANNEL_GENERIC, TRUE, error))
      return FALSE;
  }
  while ((r = enet_host_service (c->host, &event, wait_ms)) > 0) {
    wait_ms = 0;
    if (event.type == ENET_EVENT_TYPE_RECEIVE) {
      gboolean ok = on_receive (c, event.packet, error);
      enet_packet_destroy (event.packet);
      if (!ok)
        return FALSE;
    } else if (event.type == ENET_EVENT_TYPE_DISCONNECT) {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED,
                   "control: the host disconnected (data %u)", event.data);
      c->peer = NULL;
      return FALSE;
    }
  }
  if (r < 0) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "control: enet_host_service failed");
    return FALSE;
  }
  return TRUE;
}

void
gs_control_set_rumble_func (GsControl *c, GsRumbleFunc func, gpointer user_data)
{
  c->rumble = func;
  c->rumble_data = user_data;
}

gboolean
gs_control_terminated (const GsControl *c, guint32 *reason)
{
  if (reason)
    *reason = c->termination_reason;
  return c->terminated;
}

guint
gs_control_messages_received (const GsControl *c)
{
  return c->received;
}

void
gs_control_disconnect (GsControl *c)
{
  ENetEvent event;
  gint64 deadline = g_get_monotonic_time () + G_USEC_PER_SEC;

  if (!c)
    return;
  if (c->peer) {
    enet_peer_disconnect (c->peer, 0);
    while (g_get_monotonic_time () < deadline && enet_host_service (c->host, &event, 50) >= 0) {
      if (event.type == ENET_EVENT_TYPE_RECEIVE)
        enet_packet_destroy (event.packet);
      else if (event.type == ENET_EVENT_TYPE_DISCONNECT)
        break;
    }
    if (g_get_monotonic_time () >= deadline) {
      g_printerr ("fh-gs-client: the host did not acknowledge the disconnect in 1 s\n");
      enet_peer_reset (c->peer);
    }
  }
  enet_host_destroy (c->host);
  g_free (c);
}
