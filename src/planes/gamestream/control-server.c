/* The GameStream control stream server: ENet on the GLib main loop, one
 * host for every session, peers matched to sessions by connect data.
 *
 * ENet compatibility. Moonlight clients (moonlight-common-c 874ac9548f1b)
 * use cgutman/enet, pinned at aca8784; that commit is not in the mirror we
 * read, so we compared its branch head 44c85e1 (Oct 2024; the later bumps
 * in moonlight-common-c's log are FreeBSD, Haiku and Xbox platform work)
 * with upstream lsalzman/enet v1.3.17, which is what Debian's libenet7
 * 1.3.17+ds-2 is (its only patch fixes the build on Hurd):
 *   - include/enet/protocol.h: identical (header peer ID with the
 *     compressed/sent-time flags and session bits, the 12 commands, the
 *     CONNECT command with its 32-bit `data` field, the limits) except
 *     ENET_PROTOCOL_MAXIMUM_MTU lowered to 1400 on Wii U and 3DS only;
 *   - checksums: both optional, off unless the host sets host->checksum,
 *     same CRC32 in callbacks.c; neither Moonlight nor we set one;
 *   - connect data: enet_host_connect(…, data) → CONNECT.data (network
 *     order) → ENET_EVENT_TYPE_CONNECT event.data on the server, same code;
 *   - MTU: the fork's default is 900 (upstream 1400); the server answers
 *     VERIFY_CONNECT with the client's MTU clamped to 576..4096 and both
 *     sides take the smaller, so a 900-byte client just gets 900;
 *   - protocol.c otherwise differs only in sending order (a separate queue
 *     for reliable sends, backported from upstream 1.3.18), retransmission
 *     timing (RTO formula), an earlier wake-up for pings, QoS marking and
 *     not dropping packets whose source address changed (roaming): none
 *     changes what goes on the wire;
 *   - IPv6: the fork's ENetAddress is a sockaddr_storage and the client
 *     may be IPv6; Debian's 1.3.17 is IPv4 only. Not a wire difference,
 *     but this server cannot accept a client that reached the host over
 *     IPv6 (docs/gamestream.md, "Control stream").
 * So nothing is reimplemented here; the plain library is used as is. */
#include "planes/gamestream/control-server.h"

#include <enet/enet.h>
#include <gio/gio.h>
#include <errno.h>
#include <glib-unix.h>
#include <string.h>

#include "planes/gamestream/protocol/stream-crypto.h"

/* Moonlight's ENet client sets this on its side (ControlStream.c
 * enet_peer_timeout (peer, 2, 10000, 10000)); we give up on a silent
 * client after the same time. It pings every 100 ms. */
#define PEER_TIMEOUT_MS 10000
/* How often ENet gets to retransmit and check timeouts while any peer
 * exists; incoming datagrams wake us at once through the socket. */
#define SERVICE_INTERVAL_MS 10
#define MAX_PEERS 64

typedef struct {
  FhGsControlServer *server;
  guint32 connect_data;
  guint8 key[FH_GS_KEY_SIZE];
  FhGsControlHandlers handlers;
  gpointer data;
  ENetPeer *peer; /* NULL until connected */
  char *peer_name;
  guint32 next_sequence; /* of host → client messages */
} Expectation;

struct _FhGsControlServer {
  ENetHost *host;
  guint port;
  GMainContext *context;
  GSource *socket_source;
  GSource *timer_source;
  GHashTable *expected; /* connect data → Expectation */
};

static void
expectation_free (gpointer p)
{
  Expectation *exp = p;

  if (exp->peer != NULL) {
    g_message ("GameStream control: disconnecting %s (connect data 0x%08x): session ended",
               exp->peer_name, exp->connect_data);
    /* Let what was queued (a termination) go out first. */
    exp->peer->data = NULL;
    enet_peer_disconnect_later (exp->peer, 0);
    enet_host_flush (exp->server->host);
  }
  g_free (exp->peer_name);
  g_free (exp);
}

static char *
peer_to_string (const ENetPeer *peer)
{
  char ip[64];

  if (enet_address_get_host_ip (&peer->address, ip, sizeof ip) < 0)
    g_strlcpy (ip, "?", sizeof ip);
  return g_strdup_printf ("%s:%u", ip, peer->address.port);
}

static gboolean on_timer (gpointer user_data);

/* The timer runs only while some peer is not fully disconnected. */
static void
update_timer (FhGsControlServer *server)
{
  gboolean busy = FALSE;

  for (size_t i = 0; i < server->host->peerCount; i++) {
    if (server->host->peers[i].state != ENET_PEER_STATE_DISCONNECTED) {
      busy = TRUE;
      break;
    }
  }
  if (busy && server->timer_source == NULL) {
    server->timer_source = g_timeout_source_new (SERVICE_INTERVAL_MS);
    g_source_set_callback (server->timer_source, on_timer, server, NULL);
    g_source_set_name (server->timer_source, "[funkhaus] GameStream control ENet timer");
    g_source_attach (server->timer_source, server->context);
  } else if (!busy && server->timer_source != NULL) {
    g_source_destroy (server->timer_source);
    g_clear_pointer (&server->timer_source, g_source_unref);
  }
}

/* Closes @exp's peer for a reason of its own making and tells the owner. */
static void
close_peer (Expectation *exp, const char *reason)
{
  ENetPeer *peer = exp->peer;

  g_message ("GameStream control: closing %s (connect data 0x%08x): %s", exp->peer_name,
             exp->connect_data, reason);
  exp->peer = NULL;
  peer->data = NULL;
  enet_peer_disconnect (peer, 0);
  enet_host_flush (exp->server->host);
  if (exp->handlers.disconnected != NULL)
    exp->handlers.disconnected (reason, exp->data);
}

static void
on_connect (FhGsControlServer *server, ENetPeer *peer, guint32 connect_data)
{
  g_autofree char *name = peer_to_string (peer);
  Expectation *exp = g_hash_table_lookup (server->expected, GUINT_TO_POINTER (connect_data));

  if (exp == NULL || exp->peer != NULL) {
    g_message ("GameStream control: refused %s: connect data 0x%08x %s", name, connect_data,
               exp == NULL ? "belongs to no launched session" : "already has a peer");
    peer->data = NULL;
    enet_peer_disconnect_now (peer, 0);
    return;
  }
  exp->peer = peer;
  peer->data = exp;
  g_free (exp->peer_name);
  exp->peer_name = g_steal_pointer (&name);
  enet_peer_timeout (peer, 0, PEER_TIMEOUT_MS, PEER_TIMEOUT_MS);
  g_message ("GameStream control: %s connected (connect data 0x%08x)", exp->peer_name, connect_data);
  if (exp->handlers.connected != NULL)
    exp->handlers.connected (exp->data);
}

/* One message from a connected peer. The handlers may forget @exp. */
static void
on_message (Expectation *exp, const guint8 *data, gsize len)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GBytes) payload = NULL;
  g_autofree char *reason = NULL;
  FhGsControlMessage message;
  guint32 sequence;
  guint16 type;
  const guint8 *p;
  gsize plen;

  if (!fh_gs_control_decrypt (exp->key, FH_GS_CONTROL_FROM_CLIENT, data, len, &sequence, &type,
                              &payload, &error)) {
    reason = g_strdup_printf ("a message that does not decrypt with the session key: %s",
                              error->message);
    close_peer (exp, reason);
    return;
  }
  p = g_bytes_get_data (payload, &plen);
  if (!fh_gs_control_parse (FH_GS_CONTROL_FROM_CLIENT, type, p, plen, &message, &error)) {
    reason = g_strdup_printf ("a malformed message of type 0x%04x: %s", type, error->message);
    close_peer (exp, reason);
    return;
  }

  switch (message.kind) {
  case FH_GS_CONTROL_MSG_INPUT:
    if (message.input.kind == FH_GS_INPUT_UNKNOWN)
      g_debug ("GameStream control: %s: input magic 0x%08x unknown, ignored", exp->peer_name,
               message.input.magic);
    else if (exp->handlers.input != NULL)
      exp->handlers.input (&message.input, exp->data);
    break;
  case FH_GS_CONTROL_MSG_REQUEST_IDR_FRAME:
  case FH_GS_CONTROL_MSG_INVALIDATE_REF_FRAMES:
    /* No RFI in our encoder: an invalidated range needs a keyframe. */
    if (exp->handlers.keyframe != NULL)
      exp->handlers.keyframe (exp->data);
    if (message.kind == FH_GS_CONTROL_MSG_INVALIDATE_REF_FRAMES && exp->handlers.loss != NULL)
      exp->handlers.loss ((guint) MIN (message.rfi.last_frame - message.rfi.first_frame + 1,
                                       G_MAXUINT),
                          exp->data);
    break;
  case FH_GS_CONTROL_MSG_LOSS_STATS:
    if (message.loss_stats.loss_count > 0 && exp->handlers.loss != NULL)
      exp->handlers.loss (message.loss_stats.loss_count, exp->data);
    break;
  case FH_GS_CONTROL_MSG_PERIODIC_PING:
    /* Nothing to answer: it is sent reliably so that ENet's own
     * acknowledgement refreshes the client's RTT (ControlStream.c), and
     * Sunshine ignores it too. */
    break;
  default:
    g_debug ("GameStream control: %s: %s (type 0x%04x) ignored", exp->peer_name,
             fh_gs_control_message_kind_to_string (message.kind), type);
    break;
  }
}

static void
on_disconnect (ENetPeer *peer)
{
  Expectation *exp = peer->data;

  if (exp == NULL)
    return; /* refused, closed or forgotten before */
  peer->data = NULL;
  exp->peer = NULL;
  g_message ("GameStream control: %s (connect data 0x%08x) disconnected", exp->peer_name,
             exp->connect_data);
  if (exp->handlers.disconnected != NULL)
    exp->handlers.disconnected ("the client disconnected or timed out", exp->data);
}

static void
service (FhGsControlServer *server)
{
  ENetEvent event;
  int r;

  while ((r = enet_host_service (server->host, &event, 0)) > 0) {
    switch (event.type) {
    case ENET_EVENT_TYPE_CONNECT:
      on_connect (server, event.peer, event.data);
      break;
    case ENET_EVENT_TYPE_RECEIVE:
      if (event.peer->data != NULL)
        on_message (event.peer->data, event.packet->data, event.packet->dataLength);
      enet_packet_destroy (event.packet);
      break;
    case ENET_EVENT_TYPE_DISCONNECT:
      on_disconnect (event.peer);
      break;
    case ENET_EVENT_TYPE_NONE:
      break;
    }
  }
  if (r < 0)
    g_warning ("GameStream control: ENet could not service its socket: %s", g_strerror (errno));
  update_timer (server);
}

static gboolean
on_socket (gint fd, GIOCondition condition, gpointer user_data)
{
  service (user_data);
  return G_SOURCE_CONTINUE;
}

static gboolean
on_timer (gpointer user_data)
{
  service (user_data);
  return G_SOURCE_CONTINUE;
}

FhGsControlServer *
fh_gs_control_server_new (const char *address, guint port, GError **error)
{
  g_autoptr (FhGsControlServer) server = NULL;
  ENetAddress bind_address = { .host = ENET_HOST_ANY, .port = (enet_uint16) port };
  ENetAddress bound;

  g_return_val_if_fail (port <= G_MAXUINT16, NULL);
  if (enet_initialize () != 0) { /* nothing to do on Unix; kept for form */
    g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_FAILED, "ENet could not initialise");
    return NULL;
  }
  if (address != NULL && enet_address_set_host (&bind_address, address) != 0) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                 "GameStream control stream: cannot listen on '%s': not an IPv4 address or "
                 "known host name",
                 address);
    return NULL;
  }

  server = g_new0 (FhGsControlServer, 1);
  server->context = g_main_context_ref_thread_default ();
  server->expected = g_hash_table_new_full (g_direct_hash, g_direct_equal, NULL, expectation_free);
  server->host = enet_host_create (&bind_address, MAX_PEERS, FH_GS_CONTROL_CHANNEL_COUNT, 0, 0);
  if (server->host == NULL) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_ADDRESS_IN_USE,
                 "GameStream control stream: cannot listen on UDP %s:%u: the port is probably in "
                 "use; stop the other GameStream host or choose another port",
                 address != NULL ? address : "*", port);
    return NULL;
  }
  if (enet_socket_get_address (server->host->socket, &bound) != 0) {
    g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errno),
                 "GameStream control stream: cannot read the bound port: %s", g_strerror (errno));
    return NULL;
  }
  server->port = bound.port;

  server->socket_source = g_unix_fd_source_new (server->host->socket, G_IO_IN);
  g_source_set_callback (server->socket_source, G_SOURCE_FUNC (on_socket), server, NULL);
  g_source_set_name (server->socket_source, "[funkhaus] GameStream control ENet socket");
  g_source_attach (server->socket_source, server->context);

  g_message ("GameStream control: listening on UDP %s:%u", address != NULL ? address : "*",
             server->port);
  return g_steal_pointer (&server);
}

guint
fh_gs_control_server_get_port (FhGsControlServer *server)
{
  return server->port;
}

void
fh_gs_control_server_expect (FhGsControlServer *server, guint32 connect_data, const guint8 key[16],
                             const FhGsControlHandlers *handlers, gpointer data)
{
  Expectation *exp = g_new0 (Expectation, 1);

  exp->server = server;
  exp->connect_data = connect_data;
  memcpy (exp->key, key, FH_GS_KEY_SIZE);
  if (handlers != NULL)
    exp->handlers = *handlers;
  exp->data = data;
  /* Replacing frees (and disconnects) an earlier one of the same data. */
  g_hash_table_replace (server->expected, GUINT_TO_POINTER (connect_data), exp);
  update_timer (server);
}

void
fh_gs_control_server_forget (FhGsControlServer *server, guint32 connect_data)
{
  g_hash_table_remove (server->expected, GUINT_TO_POINTER (connect_data));
  update_timer (server);
}

static gboolean
send_message (FhGsControlServer *server, guint32 connect_data, guint16 type, GBytes *payload,
              GError **error)
{
  Expectation *exp = g_hash_table_lookup (server->expected, GUINT_TO_POINTER (connect_data));
  g_autoptr (GBytes) packet = NULL;
  ENetPacket *enet_packet;
  gsize len;
  const guint8 *p = g_bytes_get_data (payload, &len);

  if (exp == NULL || exp->peer == NULL) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_CONNECTED,
                 "no control stream peer with connect data 0x%08x is connected", connect_data);
    return FALSE;
  }
  packet = fh_gs_control_encrypt (exp->key, exp->next_sequence, FH_GS_CONTROL_FROM_HOST, type, p,
                                  len, error);
  if (packet == NULL)
    return FALSE;
  exp->next_sequence++;
  p = g_bytes_get_data (packet, &len);
  enet_packet = enet_packet_create (p, len, ENET_PACKET_FLAG_RELIABLE);
  if (enet_packet == NULL || enet_peer_send (exp->peer, FH_GS_CONTROL_CHANNEL_GENERIC, enet_packet) != 0) {
    if (enet_packet != NULL)
      enet_packet_destroy (enet_packet);
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED,
                 "could not queue a control message for %s", exp->peer_name);
    return FALSE;
  }
  enet_host_flush (server->host);
  update_timer (server);
  return TRUE;
}

gboolean
fh_gs_control_server_send_termination (FhGsControlServer *server, guint32 connect_data,
                                       guint32 code, GError **error)
{
  g_autoptr (GBytes) payload = fh_gs_control_build_termination (code);

  return send_message (server, connect_data, FH_GS_CONTROL_TYPE_TERMINATION, payload, error);
}

gboolean
fh_gs_control_server_send_rumble (FhGsControlServer *server, guint32 connect_data,
                                  guint16 controller, guint16 low_freq, guint16 high_freq,
                                  GError **error)
{
  g_autoptr (GBytes) payload = fh_gs_control_build_rumble (controller, low_freq, high_freq);

  return send_message (server, connect_data, FH_GS_CONTROL_TYPE_RUMBLE, payload, error);
}

void
fh_gs_control_server_free (FhGsControlServer *server)
{
  GHashTableIter iter;
  gpointer value;

  if (server == NULL)
    return;
  /* What is queued (a termination as the host stops) goes out first. */
  if (server->host != NULL)
    enet_host_flush (server->host);
  if (server->expected != NULL) {
    /* Tell every client at once: nothing will service a graceful close. */
    g_hash_table_iter_init (&iter, server->expected);
    while (g_hash_table_iter_next (&iter, NULL, &value)) {
      Expectation *exp = value;

      if (exp->peer != NULL) {
        exp->peer->data = NULL;
        enet_peer_disconnect_now (exp->peer, 0);
        exp->peer = NULL;
      }
    }
  }
  if (server->timer_source != NULL) {
    g_source_destroy (server->timer_source);
    g_clear_pointer (&server->timer_source, g_source_unref);
  }
  if (server->socket_source != NULL) {
    g_source_destroy (server->socket_source);
    g_clear_pointer (&server->socket_source, g_source_unref);
  }
  g_clear_pointer (&server->expected, g_hash_table_unref);
  g_clear_pointer (&server->host, enet_host_destroy);
  g_clear_pointer (&server->context, g_main_context_unref);
  g_free (server);
}
