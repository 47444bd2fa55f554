/* Integration test of the GameStream control stream server
 * (src/planes/gamestream/control-server.c): the server on a free loopback UDP port
 * and real libenet clients in the same process, connecting with ENet
 * connect data as Moonlight does, sending encrypted messages built with
 * control.c. The GLib loop and the clients are pumped until each expected
 * thing happens (or 5 s pass). */
#include <enet/enet.h>
#include <string.h>

#include "planes/gamestream/control-server.h"
#include "planes/gamestream/protocol/control-stream.h"
#include "planes/gamestream/protocol/stream-crypto.h"

#define WAIT_US (5 * G_USEC_PER_SEC)

typedef struct {
  int connected;
  int disconnected;
  int keyframes;
  GArray *inputs; /* FhGsInput */
  char *reason;
} Recorder;

typedef struct {
  ENetHost *host;
  ENetPeer *peer;
  guint8 key[16];
  guint32 sequence;
  gboolean connected;
  gboolean disconnected;
  GPtrArray *received; /* GBytes, raw packets from the server */
} Client;

typedef struct {
  FhGsControlServer *server;
  GPtrArray *clients;
} Fixture;

static const guint8 key_a[16] = { 0xa0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15 };
static const guint8 key_b[16] = { 0xb0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15 };

static void
on_connected (gpointer data)
{
  ((Recorder *) data)->connected++;
}

static void
on_input (const FhGsInput *input, gpointer data)
{
  g_array_append_val (((Recorder *) data)->inputs, *input);
}

static void
on_keyframe (gpointer data)
{
  ((Recorder *) data)->keyframes++;
}

static void
on_disconnected (const char *reason, gpointer data)
{
  Recorder *r = data;

  r->disconnected++;
  g_free (r->reason);
  r->reason = g_strdup (reason);
}

static const FhGsControlHandlers handlers = {
  .connected = on_connected,
  .input = on_input,
  .keyframe = on_keyframe,
  .disconnected = on_disconnected,
};

static void
recorder_init (Recorder *r)
{
  memset (r, 0, sizeof *r);
  r->inputs = g_array_new (FALSE, TRUE, sizeof (FhGsInput));
}

static void
recorder_clear (Recorder *r)
{
  g_array_unref (r->inputs);
  g_free (r->reason);
}

static void
client_free (gpointer p)
{
  Client *c = p;

  if (c->peer != NULL && !c->disconnected)
    enet_peer_reset (c->peer);
  enet_host_destroy (c->host);
  g_ptr_array_unref (c->received);
  g_free (c);
}

static void
fixture_setup (Fixture *f, gconstpointer user_data)
{
  g_autoptr (GError) error = NULL;

  f->server = fh_gs_control_server_new ("127.0.0.1", 0, &error);
  g_assert_no_error (error);
  g_assert_nonnull (f->server);
  g_assert_cmpuint (fh_gs_control_server_get_port (f->server), >, 0);
  f->clients = g_ptr_array_new_with_free_func (client_free);
}

static void
fixture_teardown (Fixture *f, gconstpointer user_data)
{
  fh_gs_control_server_free (f->server);
  /* Drain what the server's teardown put in flight to our clients. */
  while (g_main_context_iteration (NULL, FALSE))
    ;
  g_ptr_array_unref (f->clients);
}

static void
pump_once (Fixture *f)
{
  gboolean any = FALSE;

  while (g_main_context_iteration (NULL, FALSE))
    any = TRUE;
  for (guint i = 0; i < f->clients->len; i++) {
    Client *c = g_ptr_array_index (f->clients, i);
    ENetEvent ev;

    while (enet_host_service (c->host, &ev, 0) > 0) {
      any = TRUE;
      switch (ev.type) {
      case ENET_EVENT_TYPE_CONNECT:
        c->connected = TRUE;
        break;
      case ENET_EVENT_TYPE_DISCONNECT:
        c->disconnected = TRUE;
        break;
      case ENET_EVENT_TYPE_RECEIVE:
        g_ptr_array_add (c->received, g_bytes_new (ev.packet->data, ev.packet->dataLength));
        enet_packet_destroy (ev.packet);
        break;
      case ENET_EVENT_TYPE_NONE:
        break;
      }
    }
  }
  if (!any)
    g_usleep (1000);
}

#define PUMP_UNTIL(f, cond)                                                                        \
  G_STMT_START                                                                                     \
  {                                                                                                \
    gint64 deadline_ = g_get_monotonic_time () + WAIT_US;                                          \
    while (!(cond) && g_get_monotonic_time () < deadline_)                                         \
      pump_once (f);                                                                               \
    if (!(cond))                                                                                   \
      g_error ("timed out waiting for: %s", #cond);                                                \
  }                                                                                                \
  G_STMT_END

/* Pumps for @ms and checks that nothing more happened meanwhile. */
static void
pump_for (Fixture *f, guint ms)
{
  gint64 end = g_get_monotonic_time () + ms * 1000;

  while (g_get_monotonic_time () < end)
    pump_once (f);
}

static Client *
client_connect (Fixture *f, guint32 connect_data, const guint8 key[16])
{
  Client *c = g_new0 (Client, 1);
  ENetAddress address = { 0 };

  c->host = enet_host_create (NULL, 1, FH_GS_CONTROL_CHANNEL_COUNT, 0, 0);
  g_assert_nonnull (c->host);
  g_assert_cmpint (enet_address_set_host (&address, "127.0.0.1"), ==, 0);
  address.port = (enet_uint16) fh_gs_control_server_get_port (f->server);
  c->peer = enet_host_connect (c->host, &address, FH_GS_CONTROL_CHANNEL_COUNT, connect_data);
  g_assert_nonnull (c->peer);
  memcpy (c->key, key, 16);
  c->received = g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref);
  g_ptr_array_add (f->clients, c);
  return c;
}

static void
client_send_raw (Client *c, guint8 channel, const void *data, gsize len)
{
  ENetPacket *packet = enet_packet_create (data, len, ENET_PACKET_FLAG_RELIABLE);

  g_assert_cmpint (enet_peer_send (c->peer, channel, packet), ==, 0);
  enet_host_flush (c->host);
}

static void
client_send (Client *c, guint8 channel, guint16 type, GBytes *payload)
{
  g_autoptr (GError) error = NULL;
  gsize len;
  const guint8 *p = g_bytes_get_data (payload, &len);
  g_autoptr (GBytes) packet = fh_gs_control_encrypt (c->key, c->sequence++, FH_GS_CONTROL_FROM_CLIENT,
                                                     type, p, len, &error);

  g_assert_no_error (error);
  p = g_bytes_get_data (packet, &len);
  client_send_raw (c, channel, p, len);
}

/* Sends one input packet (stolen) and waits for @r to have @want inputs. */
static void
send_input (Fixture *f, Client *c, Recorder *r, guint8 channel, GBytes *input)
{
  guint want = r->inputs->len + 1;

  client_send (c, channel, FH_GS_CONTROL_TYPE_INPUT, input);
  g_bytes_unref (input);
  PUMP_UNTIL (f, r->inputs->len >= want);
  g_assert_cmpuint (r->inputs->len, ==, want);
}

static FhGsInput *
last_input (Recorder *r)
{
  return &g_array_index (r->inputs, FhGsInput, r->inputs->len - 1);
}

static void
test_input (Fixture *f, gconstpointer user_data)
{
  Recorder r;
  Client *c;
  FhGsInput *in;

  recorder_init (&r);
  fh_gs_control_server_expect (f->server, 0x1234abcd, key_a, &handlers, &r);
  c = client_connect (f, 0x1234abcd, key_a);
  PUMP_UNTIL (f, c->connected && r.connected == 1);

  /* Moonlight's opening: Start A (= IDR request) and Start B. */
  {
    g_autoptr (GBytes) idr = fh_gs_control_build_request_idr ();
    g_autoptr (GBytes) start_b = g_bytes_new_static ((const guint8[]){ 0 }, 1);

    client_send (c, FH_GS_CONTROL_CHANNEL_GENERIC, FH_GS_CONTROL_TYPE_REQUEST_IDR_FRAME, idr);
    client_send (c, FH_GS_CONTROL_CHANNEL_GENERIC, FH_GS_CONTROL_TYPE_START_B, start_b);
    PUMP_UNTIL (f, r.keyframes == 1);
  }

  send_input (f, c, &r, FH_GS_CONTROL_CHANNEL_KEYBOARD, fh_gs_input_build_key (0x41, TRUE, 0));
  in = last_input (&r);
  g_assert_cmpint (in->kind, ==, FH_GS_INPUT_KEY);
  g_assert_cmphex (in->key.key_code, ==, 0x41);
  g_assert_true (in->key.pressed);

  send_input (f, c, &r, FH_GS_CONTROL_CHANNEL_KEYBOARD, fh_gs_input_build_key (0x41, FALSE, 0));
  g_assert_false (last_input (&r)->key.pressed);

  send_input (f, c, &r, FH_GS_CONTROL_CHANNEL_MOUSE,
              fh_gs_input_build_mouse_absolute (100, 200, 1280, 720));
  in = last_input (&r);
  g_assert_cmpint (in->kind, ==, FH_GS_INPUT_MOUSE_ABSOLUTE);
  g_assert_cmpint (in->absolute.x, ==, 100);
  g_assert_cmpint (in->absolute.y, ==, 200);
  g_assert_cmpint (in->absolute.width, ==, 1279);
  g_assert_cmpint (in->absolute.height, ==, 719);

  send_input (f, c, &r, FH_GS_CONTROL_CHANNEL_MOUSE, fh_gs_input_build_mouse_relative (-5, 7));
  in = last_input (&r);
  g_assert_cmpint (in->kind, ==, FH_GS_INPUT_MOUSE_RELATIVE);
  g_assert_cmpint (in->relative.dx, ==, -5);
  g_assert_cmpint (in->relative.dy, ==, 7);

  send_input (f, c, &r, FH_GS_CONTROL_CHANNEL_MOUSE,
              fh_gs_input_build_mouse_button (FH_GS_MOUSE_BUTTON_LEFT, TRUE));
  in = last_input (&r);
  g_assert_cmpint (in->kind, ==, FH_GS_INPUT_MOUSE_BUTTON);
  g_assert_cmpint (in->button.button, ==, FH_GS_MOUSE_BUTTON_LEFT);
  g_assert_true (in->button.pressed);

  send_input (f, c, &r, FH_GS_CONTROL_CHANNEL_MOUSE, fh_gs_input_build_scroll (-120));
  in = last_input (&r);
  g_assert_cmpint (in->kind, ==, FH_GS_INPUT_SCROLL);
  g_assert_cmpint (in->scroll.amount, ==, -120);

  send_input (f, c, &r, FH_GS_CONTROL_CHANNEL_MOUSE, fh_gs_input_build_hscroll (60));
  in = last_input (&r);
  g_assert_cmpint (in->kind, ==, FH_GS_INPUT_HSCROLL);
  g_assert_cmpint (in->scroll.amount, ==, 60);

  /* RFI is a keyframe request; a ping and an unknown type are nothing. */
  {
    g_autoptr (GBytes) rfi = fh_gs_control_build_invalidate_ref_frames (10, 12);
    g_autoptr (GBytes) ping = fh_gs_control_build_periodic_ping ();
    g_autoptr (GBytes) odd = g_bytes_new_static ("xyz", 3);

    client_send (c, FH_GS_CONTROL_CHANNEL_URGENT, FH_GS_CONTROL_TYPE_INVALIDATE_REF_FRAMES, rfi);
    PUMP_UNTIL (f, r.keyframes == 2);
    client_send (c, FH_GS_CONTROL_CHANNEL_GENERIC, FH_GS_CONTROL_TYPE_PERIODIC_PING, ping);
    client_send (c, FH_GS_CONTROL_CHANNEL_GENERIC, 0x7777, odd);
    pump_for (f, 100);
  }
  g_assert_cmpuint (r.inputs->len, ==, 7);
  g_assert_cmpint (r.keyframes, ==, 2);
  g_assert_cmpint (r.disconnected, ==, 0);
  g_assert_false (c->disconnected);

  /* The client leaves. */
  enet_peer_disconnect (c->peer, 0);
  PUMP_UNTIL (f, r.disconnected == 1 && c->disconnected);
  g_assert_nonnull (r.reason);

  fh_gs_control_server_forget (f->server, 0x1234abcd);
  recorder_clear (&r);
}

static void
test_peers (Fixture *f, gconstpointer user_data)
{
  Recorder ra, rb;
  Client *a, *b, *stranger, *b2;

  recorder_init (&ra);
  recorder_init (&rb);
  fh_gs_control_server_expect (f->server, 0xaaaa0001, key_a, &handlers, &ra);
  fh_gs_control_server_expect (f->server, 0xbbbb0002, key_b, &handlers, &rb);

  /* Two clients from the same address (127.0.0.1), told apart by their
   * connect data, and a stranger. */
  a = client_connect (f, 0xaaaa0001, key_a);
  b = client_connect (f, 0xbbbb0002, key_b);
  stranger = client_connect (f, 0xdeadbeef, key_a);
  PUMP_UNTIL (f, ra.connected == 1 && rb.connected == 1 && stranger->disconnected);
  g_assert_true (a->connected);
  g_assert_true (b->connected);

  send_input (f, a, &ra, FH_GS_CONTROL_CHANNEL_KEYBOARD, fh_gs_input_build_key (0x42, TRUE, 0));
  send_input (f, b, &rb, FH_GS_CONTROL_CHANNEL_KEYBOARD, fh_gs_input_build_key (0x43, TRUE, 0));
  g_assert_cmphex (last_input (&ra)->key.key_code, ==, 0x42);
  g_assert_cmphex (last_input (&rb)->key.key_code, ==, 0x43);
  g_assert_cmpuint (ra.inputs->len, ==, 1);
  g_assert_cmpuint (rb.inputs->len, ==, 1);

  /* A second client with connect data already in use is refused too. */
  b2 = client_connect (f, 0xbbbb0002, key_b);
  PUMP_UNTIL (f, b2->disconnected);
  g_assert_cmpint (rb.disconnected, ==, 0);

  /* b sends garbage: b alone is dropped, a keeps going. */
  client_send_raw (b, FH_GS_CONTROL_CHANNEL_GENERIC, "\x01\x00\x10\x00garbage-garbage!", 20);
  PUMP_UNTIL (f, rb.disconnected == 1 && b->disconnected);
  g_assert_nonnull (strstr (rb.reason, "decrypt"));
  send_input (f, a, &ra, FH_GS_CONTROL_CHANNEL_MOUSE, fh_gs_input_build_mouse_relative (1, 1));
  g_assert_cmpint (ra.disconnected, ==, 0);
  g_assert_false (a->disconnected);
  g_assert_cmpuint (rb.inputs->len, ==, 1);

  recorder_clear (&ra);
  recorder_clear (&rb);
}

/* A message that decrypts but does not parse, and one sealed with another
 * key, each close their peer. */
static void
test_bad_messages (Fixture *f, gconstpointer user_data)
{
  Recorder r1, r2;
  Client *c1, *c2;

  recorder_init (&r1);
  recorder_init (&r2);
  fh_gs_control_server_expect (f->server, 1, key_a, &handlers, &r1);
  fh_gs_control_server_expect (f->server, 2, key_a, &handlers, &r2);
  c1 = client_connect (f, 1, key_a);
  c2 = client_connect (f, 2, key_b); /* the wrong key */
  PUMP_UNTIL (f, r1.connected == 1 && r2.connected == 1);

  {
    g_autoptr (GBytes) short_input = g_bytes_new_static ("\x00\x00\x00\x0a\x03\x00\x00\x00", 8);
    g_autoptr (GBytes) idr = fh_gs_control_build_request_idr ();

    client_send (c1, FH_GS_CONTROL_CHANNEL_KEYBOARD, FH_GS_CONTROL_TYPE_INPUT, short_input);
    client_send (c2, FH_GS_CONTROL_CHANNEL_URGENT, FH_GS_CONTROL_TYPE_REQUEST_IDR_FRAME, idr);
  }
  PUMP_UNTIL (f, r1.disconnected == 1 && r2.disconnected == 1 && c1->disconnected &&
                   c2->disconnected);
  g_assert_nonnull (strstr (r1.reason, "malformed"));
  g_assert_nonnull (strstr (r2.reason, "decrypt"));
  g_assert_cmpuint (r1.inputs->len, ==, 0);
  g_assert_cmpint (r2.keyframes, ==, 0);

  recorder_clear (&r1);
  recorder_clear (&r2);
}

static FhGsControlMessage
decrypt_from_host (Client *c, GBytes *packet, guint32 *sequence)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GBytes) payload = NULL;
  FhGsControlMessage m;
  guint16 type;
  gsize len;
  const guint8 *p = g_bytes_get_data (packet, &len);

  g_assert_true (fh_gs_control_decrypt (c->key, FH_GS_CONTROL_FROM_HOST, p, len, sequence, &type,
                                        &payload, &error));
  g_assert_no_error (error);
  p = g_bytes_get_data (payload, &len);
  g_assert_true (fh_gs_control_parse (FH_GS_CONTROL_FROM_HOST, type, p, len, &m, &error));
  g_assert_no_error (error);
  return m;
}

static void
test_host_messages (Fixture *f, gconstpointer user_data)
{
  g_autoptr (GError) error = NULL;
  Recorder r;
  Client *c;
  FhGsControlMessage m;
  guint32 seq;

  recorder_init (&r);
  fh_gs_control_server_expect (f->server, 77, key_b, &handlers, &r);

  /* Nothing to send to before the peer connects. */
  g_assert_false (fh_gs_control_server_send_termination (f->server, 77, 0, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_CONNECTED);
  g_clear_error (&error);

  c = client_connect (f, 77, key_b);
  PUMP_UNTIL (f, r.connected == 1);

  g_assert_true (fh_gs_control_server_send_rumble (f->server, 77, 2, 0x1000, 0xffff, &error));
  g_assert_no_error (error);
  g_assert_true (fh_gs_control_server_send_termination (f->server, 77, FH_GS_TERMINATION_GRACEFUL,
                                                        &error));
  g_assert_no_error (error);
  PUMP_UNTIL (f, c->received->len == 2);

  m = decrypt_from_host (c, g_ptr_array_index (c->received, 0), &seq);
  g_assert_cmpuint (seq, ==, 0);
  g_assert_cmpint (m.kind, ==, FH_GS_CONTROL_MSG_RUMBLE);
  g_assert_cmpuint (m.rumble.controller, ==, 2);
  g_assert_cmphex (m.rumble.low_freq, ==, 0x1000);
  g_assert_cmphex (m.rumble.high_freq, ==, 0xffff);
  m = decrypt_from_host (c, g_ptr_array_index (c->received, 1), &seq);
  g_assert_cmpuint (seq, ==, 1);
  g_assert_cmpint (m.kind, ==, FH_GS_CONTROL_MSG_TERMINATION);
  g_assert_true (m.termination.extended);
  g_assert_cmphex (m.termination.code, ==, FH_GS_TERMINATION_GRACEFUL);

  /* forget() disconnects the client, and no handler runs any more. */
  fh_gs_control_server_forget (f->server, 77);
  PUMP_UNTIL (f, c->disconnected);
  pump_for (f, 50);
  g_assert_cmpint (r.disconnected, ==, 0);
  g_assert_false (fh_gs_control_server_send_rumble (f->server, 77, 0, 0, 0, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_CONNECTED);

  recorder_clear (&r);
}

/* Freeing the server with a peer connected tells that peer. */
static void
test_free_with_peer (void)
{
  g_autoptr (GError) error = NULL;
  Fixture f = { 0 };
  Recorder r;
  Client *c;

  recorder_init (&r);
  fixture_setup (&f, NULL);
  fh_gs_control_server_expect (f.server, 5, key_a, &handlers, &r);
  c = client_connect (&f, 5, key_a);
  PUMP_UNTIL (&f, r.connected == 1 && c->connected);
  g_clear_pointer (&f.server, fh_gs_control_server_free);
  {
    gint64 deadline = g_get_monotonic_time () + WAIT_US;
    ENetEvent ev;

    while (!c->disconnected && g_get_monotonic_time () < deadline) {
      if (enet_host_service (c->host, &ev, 10) > 0 && ev.type == ENET_EVENT_TYPE_DISCONNECT)
        c->disconnected = TRUE;
    }
  }
  g_assert_true (c->disconnected);
  g_assert_cmpint (r.disconnected, ==, 0);
  g_ptr_array_unref (f.clients);
  recorder_clear (&r);
}

static void
test_bad_address (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (FhGsControlServer) server = fh_gs_control_server_new ("no.such.host.invalid", 0, &error);

  g_assert_null (server);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
}

static void
test_port_in_use (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (FhGsControlServer) first = fh_gs_control_server_new ("127.0.0.1", 0, &error);
  g_autoptr (FhGsControlServer) second = NULL;

  g_assert_no_error (error);
  second = fh_gs_control_server_new ("127.0.0.1", fh_gs_control_server_get_port (first), &error);
  g_assert_null (second);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_ADDRESS_IN_USE);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add ("/gs-control-server/input", Fixture, NULL, fixture_setup, test_input, fixture_teardown);
  g_test_add ("/gs-control-server/peers", Fixture, NULL, fixture_setup, test_peers, fixture_teardown);
  g_test_add ("/gs-control-server/bad-messages", Fixture, NULL, fixture_setup, test_bad_messages,
              fixture_teardown);
  g_test_add ("/gs-control-server/host-messages", Fixture, NULL, fixture_setup, test_host_messages,
              fixture_teardown);
  g_test_add_func ("/gs-control-server/free-with-peer", test_free_with_peer);
  g_test_add_func ("/gs-control-server/bad-address", test_bad_address);
  g_test_add_func ("/gs-control-server/port-in-use", test_port_in_use);
  return g_test_run ();
}
