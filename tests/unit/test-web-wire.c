/* The web client's wire (planes/web/wire.c) over a real socket pair: a
 * stream thread's binary frames and the main thread's (libsoup's) frames
 * arrive whole and each in its order however the two interleave; a write
 * never waits for a peer that does not read, and what waited arrives in
 * order once it reads again; nothing goes out after a close frame or a
 * close. Input, read by libsoup's own SoupWebsocketConnection: every
 * message arrives, one sent before libsoup came included, and waiting for
 * the next wakes the main context for nothing but the socket; once the
 * peer has gone, the socket no longer wakes it. */
#include <gio/gio.h>
#include <libsoup/soup.h>
#include <string.h>
#include <sys/socket.h>

#include "planes/web/wire.h"

#define HEADROOM FH_WEB_WIRE_HEADER_MAX

typedef struct {
  FhWebWire *wire;
  GSocket *far; /* the peer's end, read by a thread of the test */
  int near_fd; /* the wire's end */
  /* What the peer read, frame by frame. */
  GMutex lock;
  GPtrArray *frames; /* GBytes: the first byte, then the payload */
  gboolean eof;
} Fixture;

static void
fixture_set_up (Fixture *f, gconstpointer data)
{
  int fds[2];
  g_autoptr (GSocket) near = NULL;
  g_autoptr (GSocketConnection) connection = NULL;
  int small = 16 * 1024;

  g_assert_no_errno (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds));
  /* Small buffers: a peer that does not read fills them at once. */
  g_assert_no_errno (setsockopt (fds[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof small));
  g_assert_no_errno (setsockopt (fds[1], SOL_SOCKET, SO_RCVBUF, &small, sizeof small));
  near = g_socket_new_from_fd (fds[0], NULL);
  f->near_fd = fds[0];
  f->far = g_socket_new_from_fd (fds[1], NULL);
  g_assert_nonnull (near);
  g_assert_nonnull (f->far);
  connection = g_socket_connection_factory_create_connection (near);
  f->wire = fh_web_wire_new (G_IO_STREAM (connection), near, g_main_context_default ());
  g_mutex_init (&f->lock);
  f->frames = g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref);
}

static void
fixture_tear_down (Fixture *f, gconstpointer data)
{
  g_clear_object (&f->wire);
  g_object_unref (f->far);
  g_ptr_array_unref (f->frames);
  g_mutex_clear (&f->lock);
}

static gboolean
read_exactly (GSocket *socket, guint8 *buf, gsize len)
{
  while (len) {
    gssize n = g_socket_receive (socket, (gchar *) buf, len, NULL, NULL);
    if (n <= 0)
      return FALSE;
    buf += n;
    len -= n;
  }
  return TRUE;
}

/* The peer: reads WebSocket frames (unmasked, as a server sends them)
 * until the end of the stream. */
static gpointer
reader (gpointer data)
{
  Fixture *f = data;
  guint8 head[10];

  while (read_exactly (f->far, head, 2)) {
    guint64 len = head[1] & 0x7f;
    guint8 *frame;

    g_assert_cmpint (head[1] & 0x80, ==, 0);
    if (len == 126) {
      g_assert_true (read_exactly (f->far, head + 2, 2));
      len = (guint64) head[2] << 8 | head[3];
    } else if (len == 127) {
      g_assert_true (read_exactly (f->far, head + 2, 8));
      len = 0;
      for (int i = 0; i < 8; i++)
        len = len << 8 | head[2 + i];
    }
    frame = g_malloc (len + 1);
    frame[0] = head[0];
    g_assert_true (read_exactly (f->far, frame + 1, len));
    g_mutex_lock (&f->lock);
    g_ptr_array_add (f->frames, g_bytes_new_take (frame, len + 1));
    g_mutex_unlock (&f->lock);
  }
  g_mutex_lock (&f->lock);
  f->eof = TRUE;
  g_mutex_unlock (&f->lock);
  return NULL;
}

/* Binary frame @i: @i as its first four bytes, then bytes from @i. Sizes
 * go through all three length forms. */
static gsize
binary_size (guint i)
{
  static const gsize sizes[] = { 4, 125, 126, 1000, 65535, 65536, 200000 };

  return sizes[i % G_N_ELEMENTS (sizes)];
}

static gboolean
send_binary (FhWebWire *wire, guint i)
{
  gsize size = binary_size (i);
  g_autofree guint8 *buf = g_malloc (HEADROOM + size);

  for (gsize k = 0; k < size; k++)
    buf[HEADROOM + k] = (guint8) (i + k);
  memcpy (buf + HEADROOM, &i, sizeof i);
  return fh_web_wire_send_binary (wire, buf + HEADROOM, size);
}

static void
check_binary (GBytes *frame, guint i)
{
  gsize len;
  const guint8 *data = g_bytes_get_data (frame, &len);
  guint got;

  g_assert_cmphex (data[0], ==, 0x82);
  g_assert_cmpuint (len - 1, ==, binary_size (i));
  memcpy (&got, data + 1, sizeof got);
  g_assert_cmpuint (got, ==, i);
  for (gsize k = sizeof got; k < len - 1; k++)
    g_assert_cmpuint (data[1 + k], ==, (guint8) (i + k));
}

/* As libsoup writes a text frame: the whole frame in one call. */
static void
send_text (FhWebWire *wire, guint i)
{
  g_autofree char *text = g_strdup_printf ("text %u", i);
  gsize len = strlen (text);
  g_autofree guint8 *frame = g_malloc (2 + len);
  GOutputStream *out = g_io_stream_get_output_stream (G_IO_STREAM (wire));
  g_autoptr (GError) error = NULL;

  frame[0] = 0x81;
  frame[1] = len;
  memcpy (frame + 2, text, len);
  g_assert_cmpint (g_pollable_output_stream_write_nonblocking (G_POLLABLE_OUTPUT_STREAM (out),
                                                               frame, 2 + len, NULL, &error),
                   ==, (gssize) (2 + len));
  g_assert_no_error (error);
}

static void
check_text (GBytes *frame, guint i)
{
  gsize len;
  const guint8 *data = g_bytes_get_data (frame, &len);
  g_autofree char *want = g_strdup_printf ("text %u", i);

  g_assert_cmphex (data[0], ==, 0x81);
  g_assert_cmpmem (data + 1, len - 1, want, strlen (want));
}

/* Runs the main context until the peer has @n frames (or its stream
 * ended, @eof). */
static void
wait_for (Fixture *f, guint n, gboolean eof)
{
  gint64 deadline = g_get_monotonic_time () + 20 * G_USEC_PER_SEC;

  for (;;) {
    gboolean done;

    g_mutex_lock (&f->lock);
    done = eof ? f->eof : f->frames->len >= n;
    g_mutex_unlock (&f->lock);
    if (done)
      return;
    g_assert_cmpint (g_get_monotonic_time (), <, deadline);
    g_main_context_iteration (NULL, FALSE);
    g_usleep (1000);
  }
}

#define THREAD_FRAMES 300
#define MAIN_FRAMES 300

static gpointer
binary_writer (gpointer data)
{
  Fixture *f = data;

  for (guint i = 0; i < THREAD_FRAMES; i++)
    g_assert_true (send_binary (f->wire, i));
  return NULL;
}

static void
test_two_threads (Fixture *f, gconstpointer data)
{
  GThread *read_thread = g_thread_new ("reader", reader, f);
  GThread *write_thread = g_thread_new ("writer", binary_writer, f);
  guint next_binary = 0, next_text = 0;

  for (guint i = 0; i < MAIN_FRAMES; i++) {
    send_text (f->wire, i);
    g_main_context_iteration (NULL, FALSE);
  }
  g_thread_join (write_thread);
  wait_for (f, THREAD_FRAMES + MAIN_FRAMES, FALSE);
  g_assert_cmpuint (fh_web_wire_get_waiting (f->wire), ==, 0);
  g_assert_true (g_io_stream_close (G_IO_STREAM (f->wire), NULL, NULL));
  g_thread_join (read_thread);

  /* Whole, and each thread's in its own order. */
  g_assert_cmpuint (f->frames->len, ==, THREAD_FRAMES + MAIN_FRAMES);
  for (guint i = 0; i < f->frames->len; i++) {
    GBytes *frame = f->frames->pdata[i];

    if (((const guint8 *) g_bytes_get_data (frame, NULL))[0] == 0x82)
      check_binary (frame, next_binary++);
    else
      check_text (frame, next_text++);
  }
  g_assert_cmpuint (next_binary, ==, THREAD_FRAMES);
  g_assert_cmpuint (next_text, ==, MAIN_FRAMES);
}

static void
test_never_waits (Fixture *f, gconstpointer data)
{
  GThread *read_thread;
  gint64 start = g_get_monotonic_time ();

  /* Nobody reads: far more than the socket holds still goes in at once. */
  for (guint i = 0; i < 60; i++) {
    g_assert_true (send_binary (f->wire, i));
    send_text (f->wire, i);
  }
  g_assert_cmpint (g_get_monotonic_time () - start, <, 5 * G_USEC_PER_SEC);
  g_assert_cmpuint (fh_web_wire_get_waiting (f->wire), >, 1000000);

  /* The peer reads again: all of it arrives, in order, from the main
   * context. */
  read_thread = g_thread_new ("reader", reader, f);
  wait_for (f, 120, FALSE);
  g_assert_cmpuint (fh_web_wire_get_waiting (f->wire), ==, 0);
  g_assert_true (g_io_stream_close (G_IO_STREAM (f->wire), NULL, NULL));
  g_thread_join (read_thread);
  for (guint i = 0; i < 60; i++) {
    check_binary (f->frames->pdata[2 * i], i);
    check_text (f->frames->pdata[2 * i + 1], i);
  }
}

static void
test_close_frame_ends_it (Fixture *f, gconstpointer data)
{
  static const guint8 close_frame[] = { 0x88, 0x02, 0x03, 0xe8 };
  GOutputStream *out = g_io_stream_get_output_stream (G_IO_STREAM (f->wire));
  GThread *read_thread = g_thread_new ("reader", reader, f);

  g_assert_true (send_binary (f->wire, 0));
  g_assert_cmpint (g_pollable_output_stream_write_nonblocking (G_POLLABLE_OUTPUT_STREAM (out),
                                                               close_frame, sizeof close_frame,
                                                               NULL, NULL),
                   ==, sizeof close_frame);
  /* No data frame may follow a close frame (RFC 6455, 5.5.1). */
  g_assert_false (send_binary (f->wire, 1));
  g_assert_true (g_io_stream_close (G_IO_STREAM (f->wire), NULL, NULL));
  g_assert_false (send_binary (f->wire, 2));
  wait_for (f, 0, TRUE);
  g_thread_join (read_thread);
  g_assert_cmpuint (f->frames->len, ==, 2);
  check_binary (f->frames->pdata[0], 0);
  g_assert_cmphex (((const guint8 *) g_bytes_get_data (f->frames->pdata[1], NULL))[0], ==, 0x88);
}

static void
test_closed_while_waiting (Fixture *f, gconstpointer data)
{
  /* A peer that never reads: closing does not wait for it, and the wire
   * takes nothing more. */
  for (guint i = 0; i < 30; i++)
    g_assert_true (send_binary (f->wire, i));
  g_assert_cmpuint (fh_web_wire_get_waiting (f->wire), >, 0);
  g_assert_true (g_io_stream_close (G_IO_STREAM (f->wire), NULL, NULL));
  g_assert_false (send_binary (f->wire, 30));
  /* Its flush source went with it: the main context has nothing of it. */
  while (g_main_context_iteration (NULL, FALSE))
    ;
}

/* --- input, read by libsoup --- */

/* Polls of the default main context: all of them, and those that
 * returned with something ready but not the near end's socket (the main
 * context's own wakeup). */
static int polled_fd = -1;
static guint polls, polls_ready, polls_without_socket;

static gint
counting_poll (GPollFD *fds, guint n, gint timeout)
{
  gint ready = g_poll (fds, n, timeout);
  gboolean socket = FALSE;

  for (guint i = 0; i < n; i++)
    socket |= fds[i].fd == polled_fd && fds[i].revents;
  polls++;
  if (ready > 0)
    polls_ready++;
  if (ready > 0 && !socket)
    polls_without_socket++;
  return ready;
}

/* A client's text frame: masked (RFC 6455, 5.3). */
static void
peer_send_text (Fixture *f, const char *text)
{
  static const guint8 mask[4] = { 0x37, 0xfa, 0x21, 0x3d };
  gsize len = strlen (text);
  guint8 frame[6 + 125];

  g_assert_cmpuint (len, <, 126);
  frame[0] = 0x81;
  frame[1] = 0x80 | len;
  memcpy (frame + 2, mask, 4);
  for (gsize i = 0; i < len; i++)
    frame[6 + i] = text[i] ^ mask[i % 4];
  g_assert_cmpint (g_socket_send (f->far, (const char *) frame, 6 + len, NULL, NULL), ==,
                   (gssize) (6 + len));
}

static void
on_message (SoupWebsocketConnection *ws, int type, GBytes *message, gpointer data)
{
  GPtrArray *got = data;

  g_assert_cmpint (type, ==, SOUP_WEBSOCKET_DATA_TEXT);
  g_ptr_array_add (got, g_strndup (g_bytes_get_data (message, NULL), g_bytes_get_size (message)));
}

static gboolean
on_deadline (gpointer data)
{
  g_error ("no message from the peer in 10 s");
  return G_SOURCE_REMOVE;
}

/* Runs the main context, blocking, until @got holds @n messages. */
static void
receive (GPtrArray *got, guint n)
{
  guint deadline = g_timeout_add_seconds (10, on_deadline, NULL);

  while (got->len < n)
    g_main_context_iteration (NULL, TRUE);
  g_source_remove (deadline);
}

static SoupWebsocketConnection *
libsoup_over (Fixture *f, GPtrArray *got)
{
  g_autoptr (GUri) uri = g_uri_parse ("https://localhost/ws", G_URI_FLAGS_NONE, NULL);
  SoupWebsocketConnection *ws = soup_websocket_connection_new (
    G_IO_STREAM (f->wire), uri, SOUP_WEBSOCKET_CONNECTION_SERVER, NULL, NULL, NULL);

  g_signal_connect (ws, "message", G_CALLBACK (on_message), got);
  return ws;
}

#define INPUT_MESSAGES 50

static void
test_input (Fixture *f, gconstpointer data)
{
  g_autoptr (GPtrArray) got = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (SoupWebsocketConnection) ws = NULL;

  /* A message that was there before libsoup. */
  peer_send_text (f, "early");
  ws = libsoup_over (f, got);
  receive (got, 1);
  g_assert_cmpstr (got->pdata[0], ==, "early");

  polled_fd = f->near_fd;
  polls = polls_ready = polls_without_socket = 0;
  g_main_context_set_poll_func (NULL, counting_poll);
  for (guint i = 0; i < INPUT_MESSAGES; i++) {
    g_autofree char *text = g_strdup_printf ("in %u", i);

    peer_send_text (f, text);
    receive (got, i + 2);
    g_assert_cmpstr (got->pdata[i + 1], ==, text);
    /* Back to the poll before the next, as a host's main loop goes. */
    g_main_context_iteration (NULL, FALSE);
  }
  g_main_context_set_poll_func (NULL, g_poll);
  /* Each message woke the main context through the socket; none woke it
   * again for nothing (as a source libsoup made anew for every read did:
   * GLib wakes its context whenever a descriptor comes or goes). */
  g_assert_cmpuint (polls, >=, INPUT_MESSAGES);
  g_assert_cmpuint (polls_without_socket, ==, 0);
  soup_websocket_connection_close (ws, SOUP_WEBSOCKET_CLOSE_NORMAL, NULL);
}

static void
on_closed (SoupWebsocketConnection *ws, gpointer data)
{
  *(gboolean *) data = TRUE;
}

static void
test_input_peer_gone (Fixture *f, gconstpointer data)
{
  g_autoptr (GPtrArray) got = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (SoupWebsocketConnection) ws = libsoup_over (f, got);
  gboolean closed = FALSE;
  guint deadline;

  g_signal_connect (ws, "closed", G_CALLBACK (on_closed), &closed);
  peer_send_text (f, "bye");
  receive (got, 1);
  /* The peer goes without a close frame. */
  g_assert_true (g_socket_close (f->far, NULL));
  deadline = g_timeout_add_seconds (10, on_deadline, NULL);
  while (!closed)
    g_main_context_iteration (NULL, TRUE);
  g_source_remove (deadline);
  /* A hung-up socket is ready at every poll: it no longer is in any. */
  polls = polls_ready = polls_without_socket = 0;
  g_main_context_set_poll_func (NULL, counting_poll);
  for (guint i = 0; i < 50; i++) {
    g_main_context_iteration (NULL, FALSE);
    g_usleep (1000);
  }
  g_main_context_set_poll_func (NULL, g_poll);
  g_assert_cmpuint (polls, >=, 50);
  g_assert_cmpuint (polls_ready, <, 5);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add ("/web-wire/two-threads", Fixture, NULL, fixture_set_up, test_two_threads,
              fixture_tear_down);
  g_test_add ("/web-wire/never-waits", Fixture, NULL, fixture_set_up, test_never_waits,
              fixture_tear_down);
  g_test_add ("/web-wire/close-frame-ends-it", Fixture, NULL, fixture_set_up,
              test_close_frame_ends_it, fixture_tear_down);
  g_test_add ("/web-wire/closed-while-waiting", Fixture, NULL, fixture_set_up,
              test_closed_while_waiting, fixture_tear_down);
  g_test_add ("/web-wire/input", Fixture, NULL, fixture_set_up, test_input, fixture_tear_down);
  g_test_add ("/web-wire/input-peer-gone", Fixture, NULL, fixture_set_up,
              test_input_peer_gone, fixture_tear_down);
  return g_test_run ();
}
