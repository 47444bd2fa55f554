/* A WebSocket's way out for two threads, and its way in: see wire.h. */
#include "planes/web/wire.h"

#include <string.h>

/* The opcode of a close frame, in the low bits of a frame's first byte
 * (RFC 6455, 5.2). */
#define OPCODE_MASK 0x0f
#define OPCODE_CLOSE 0x8
/* FIN, binary. */
#define FIRST_BYTE_BINARY 0x82

#define FH_TYPE_WIRE_OUTPUT (fh_wire_output_get_type ())
G_DECLARE_FINAL_TYPE (FhWireOutput, fh_wire_output, FH, WIRE_OUTPUT, GOutputStream)

struct _FhWireOutput {
  GOutputStream parent;
  GPollableOutputStream *base;
  GMainContext *context;
  GMutex lock;
  /* Under lock: written to the wire, not yet taken by the socket, from
   * @sent on. */
  GByteArray *waiting;
  gsize sent;
  GSource *flush_source; /* under lock: while something waits */
  gboolean close_written; /* under lock: libsoup wrote its close frame */
  gboolean done; /* under lock: closed, or the socket failed */
};

static void fh_wire_output_pollable_init (GPollableOutputStreamInterface *iface);

G_DEFINE_TYPE_WITH_CODE (FhWireOutput, fh_wire_output, G_TYPE_OUTPUT_STREAM,
                         G_IMPLEMENT_INTERFACE (G_TYPE_POLLABLE_OUTPUT_STREAM,
                                                fh_wire_output_pollable_init))

/* The input side: the stolen stream's, read by libsoup on the main
 * thread, with a cheaper way to wait for it (see wire.h). */
#define FH_TYPE_WIRE_INPUT (fh_wire_input_get_type ())
G_DECLARE_FINAL_TYPE (FhWireInput, fh_wire_input, FH, WIRE_INPUT, GInputStream)

/* Holds the socket's descriptor in the main context for as long as the
 * wire reads; never dispatched. */
typedef struct {
  GSource source;
  GPollFD fd;
  FhWireInput *input; /* cleared when the input stops */
} FhWireWatch;

/* What libsoup waits on: ready when the last poll found the socket
 * readable (or hung up), or when a read may find data already taken off
 * it. No descriptor of its own. */
typedef struct {
  GSource source;
  FhWireInput *input; /* a reference */
} FhWireInputSource;

struct _FhWireInput {
  GInputStream parent;
  GPollableInputStream *base;
  GSocket *socket;
  FhWireWatch *watch; /* while it reads */
  gboolean polling; /* the watch's descriptor is in the main context */
  /* Main thread: a read may find data without the socket being readable
   * (what the TLS layer or libsoup's HTTP side took off it already): until
   * a read would block. */
  gboolean pending;
  GSource *waiting; /* the source libsoup waits on now (not a reference) */
};

static void fh_wire_input_pollable_init (GPollableInputStreamInterface *iface);

G_DEFINE_TYPE_WITH_CODE (FhWireInput, fh_wire_input, G_TYPE_INPUT_STREAM,
                         G_IMPLEMENT_INTERFACE (G_TYPE_POLLABLE_INPUT_STREAM,
                                                fh_wire_input_pollable_init))

struct _FhWebWire {
  GIOStream parent;
  GIOStream *base;
  FhWireInput *input; /* NULL: the stolen stream's own (no socket known) */
  FhWireOutput *output;
};

G_DEFINE_TYPE (FhWebWire, fh_web_wire, G_TYPE_IO_STREAM)

static gsize
waiting_len (FhWireOutput *self)
{
  return self->waiting->len - self->sent;
}

/* Under lock: as much of @size bytes as the socket takes now (0: none),
 * or -1 when it failed (the wire is then done). */
static gssize
write_some_locked (FhWireOutput *self, const guint8 *data, gsize size, GError **error)
{
  g_autoptr (GError) local = NULL;
  gssize n = g_pollable_output_stream_write_nonblocking (self->base, data, size, NULL, &local);

  if (n >= 0)
    return n;
  if (g_error_matches (local, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK))
    return 0;
  self->done = TRUE;
  g_propagate_error (error, g_steal_pointer (&local));
  return -1;
}

/* Under lock: as much of what waits as the socket takes now. FALSE when
 * the socket failed (the wire is done). */
static gboolean
flush_locked (FhWireOutput *self)
{
  while (waiting_len (self)) {
    g_autoptr (GError) error = NULL;
    gssize n = write_some_locked (self, self->waiting->data + self->sent, waiting_len (self),
                                  &error);

    if (n < 0) {
      g_debug ("web wire: %s", error->message);
      return FALSE;
    }
    if (!n)
      return TRUE;
    self->sent += n;
  }
  g_byte_array_set_size (self->waiting, 0);
  self->sent = 0;
  return TRUE;
}

static void
stop_flushing_locked (FhWireOutput *self)
{
  if (self->flush_source) {
    g_source_destroy (self->flush_source);
    g_clear_pointer (&self->flush_source, g_source_unref);
  }
}

/* Main context: the socket takes more. */
static gboolean
on_writable (GObject *stream, gpointer user_data)
{
  FhWireOutput *self = user_data;
  gboolean more;

  g_mutex_lock (&self->lock);
  more = !self->done && flush_locked (self) && waiting_len (self);
  if (!more)
    g_clear_pointer (&self->flush_source, g_source_unref);
  g_mutex_unlock (&self->lock);
  return more ? G_SOURCE_CONTINUE : G_SOURCE_REMOVE;
}

/* Under lock: @size bytes out, whole: what the socket does not take now
 * waits. */
static gboolean
write_locked (FhWireOutput *self, const guint8 *data, gsize size, GError **error)
{
  if (self->done) {
    g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_CLOSED, "the WebSocket is closed");
    return FALSE;
  }
  if (!waiting_len (self)) {
    gssize n = write_some_locked (self, data, size, error);

    if (n < 0)
      return FALSE;
    data += n;
    size -= n;
  }
  if (!size)
    return TRUE;
  g_byte_array_append (self->waiting, data, size);
  if (!self->flush_source) {
    self->flush_source = g_pollable_output_stream_create_source (self->base, NULL);
    g_source_set_callback (self->flush_source, G_SOURCE_FUNC (on_writable), g_object_ref (self),
                           g_object_unref);
    g_source_set_static_name (self->flush_source, "fh-web-wire");
    g_source_attach (self->flush_source, self->context);
  }
  return TRUE;
}

/* libsoup's writes (main thread): taken whole, so each of its frames is
 * one call from its first byte. */
static gssize
output_write_nonblocking (GPollableOutputStream *stream, const void *buffer, gsize count,
                          GError **error)
{
  FhWireOutput *self = FH_WIRE_OUTPUT (stream);
  const guint8 *data = buffer;
  gboolean ok;

  g_mutex_lock (&self->lock);
  ok = write_locked (self, data, count, error);
  if (ok && count && (data[0] & OPCODE_MASK) == OPCODE_CLOSE)
    self->close_written = TRUE;
  g_mutex_unlock (&self->lock);
  return ok ? (gssize) count : -1;
}

static gssize
output_write (GOutputStream *stream, const void *buffer, gsize count, GCancellable *cancellable,
              GError **error)
{
  return output_write_nonblocking (G_POLLABLE_OUTPUT_STREAM (stream), buffer, count, error);
}

static gboolean
output_close (GOutputStream *stream, GCancellable *cancellable, GError **error)
{
  FhWireOutput *self = FH_WIRE_OUTPUT (stream);

  g_mutex_lock (&self->lock);
  /* What the socket takes now still goes (libsoup's close frame among
   * it); a client that reads nothing holds nobody up. */
  if (!self->done)
    flush_locked (self);
  self->done = TRUE;
  stop_flushing_locked (self);
  g_mutex_unlock (&self->lock);
  return TRUE;
}

static gboolean
output_is_writable (GPollableOutputStream *stream)
{
  return TRUE;
}

static GSource *
output_create_source (GPollableOutputStream *stream, GCancellable *cancellable)
{
  /* Never needed (a write never would block), but it must be a source. */
  GSource *ready = g_timeout_source_new (0);
  GSource *source = g_pollable_source_new_full (stream, ready, cancellable);

  g_source_unref (ready);
  return source;
}

static void
fh_wire_output_pollable_init (GPollableOutputStreamInterface *iface)
{
  iface->is_writable = output_is_writable;
  iface->create_source = output_create_source;
  iface->write_nonblocking = output_write_nonblocking;
}

static void
fh_wire_output_finalize (GObject *object)
{
  FhWireOutput *self = FH_WIRE_OUTPUT (object);

  g_assert (!self->flush_source);
  g_byte_array_unref (self->waiting);
  g_object_unref (self->base);
  g_main_context_unref (self->context);
  g_mutex_clear (&self->lock);
  G_OBJECT_CLASS (fh_wire_output_parent_class)->finalize (object);
}

static void
fh_wire_output_init (FhWireOutput *self)
{
  g_mutex_init (&self->lock);
  self->waiting = g_byte_array_new ();
}

static void
fh_wire_output_class_init (FhWireOutputClass *klass)
{
  GOutputStreamClass *output_class = G_OUTPUT_STREAM_CLASS (klass);

  G_OBJECT_CLASS (klass)->finalize = fh_wire_output_finalize;
  output_class->write_fn = output_write;
  output_class->close_fn = output_close;
}

/* --- the input side --- */

static void
watch_set_polling (FhWireWatch *watch, gboolean polling)
{
  FhWireInput *input = watch->input;

  if (input->polling == polling)
    return;
  input->polling = polling;
  if (polling)
    g_source_add_poll (&watch->source, &watch->fd);
  else
    g_source_remove_poll (&watch->source, &watch->fd);
  watch->fd.revents = 0;
}

static gboolean
watch_prepare (GSource *source, int *timeout)
{
  *timeout = -1;
  return FALSE;
}

/* The descriptor stays in the poll while libsoup waits to read. Once it
 * waits no more (its connection closes) a readable socket would wake the
 * main context at once, again and again: the descriptor leaves the poll
 * until libsoup waits again. */
static gboolean
watch_check (GSource *source)
{
  FhWireWatch *watch = (FhWireWatch *) source;
  FhWireInput *input = watch->input;

  if (input && watch->fd.revents &&
      (!input->waiting || g_source_is_destroyed (input->waiting) ||
       (watch->fd.revents & G_IO_NVAL)))
    watch_set_polling (watch, FALSE);
  return FALSE;
}

static gboolean
watch_dispatch (GSource *source, GSourceFunc callback, gpointer user_data)
{
  return G_SOURCE_CONTINUE;
}

static GSourceFuncs watch_funcs = {
  .prepare = watch_prepare,
  .check = watch_check,
  .dispatch = watch_dispatch,
};

static void
input_stop (FhWireInput *self)
{
  if (!self->watch)
    return;
  self->watch->input = NULL;
  g_source_destroy (&self->watch->source);
  g_source_unref (&self->watch->source);
  self->watch = NULL;
  self->polling = FALSE;
}

static gboolean
input_source_ready (FhWireInputSource *source)
{
  FhWireInput *input = source->input;

  return input->pending || (input->polling && input->watch->fd.revents);
}

static gboolean
input_source_prepare (GSource *source, int *timeout)
{
  *timeout = -1;
  return input_source_ready ((FhWireInputSource *) source);
}

static gboolean
input_source_check (GSource *source)
{
  return input_source_ready ((FhWireInputSource *) source);
}

static gboolean
input_source_dispatch (GSource *source, GSourceFunc callback, gpointer user_data)
{
  FhWireInputSource *self = (FhWireInputSource *) source;

  return callback ? ((GPollableSourceFunc) (void (*) (void)) callback) (G_OBJECT (self->input),
                                                                      user_data)
                  : G_SOURCE_REMOVE;
}

static void
input_source_finalize (GSource *source)
{
  FhWireInputSource *self = (FhWireInputSource *) source;

  if (self->input->waiting == source)
    self->input->waiting = NULL;
  g_object_unref (self->input);
}

static GSourceFuncs input_source_funcs = {
  .prepare = input_source_prepare,
  .check = input_source_check,
  .dispatch = input_source_dispatch,
  .finalize = input_source_finalize,
};

static GSource *
input_create_source (GPollableInputStream *stream, GCancellable *cancellable)
{
  FhWireInput *self = FH_WIRE_INPUT (stream);
  FhWireInputSource *source =
    (FhWireInputSource *) g_source_new (&input_source_funcs, sizeof (FhWireInputSource));

  g_source_set_static_name (&source->source, "fh-web-wire-input");
  if (cancellable) {
    /* libsoup passes none; as g_pollable_source_new_full() does. */
    GSource *cancelled = g_cancellable_source_new (cancellable);

    g_source_set_dummy_callback (cancelled);
    g_source_add_child_source (&source->source, cancelled);
    g_source_unref (cancelled);
  }
  source->input = g_object_ref (self);
  self->waiting = &source->source;
  if (self->watch)
    watch_set_polling (self->watch, TRUE);
  return &source->source;
}

static gboolean
input_is_readable (GPollableInputStream *stream)
{
  return g_pollable_input_stream_is_readable (FH_WIRE_INPUT (stream)->base);
}

static gssize
input_read_nonblocking (GPollableInputStream *stream, void *buffer, gsize count, GError **error)
{
  FhWireInput *self = FH_WIRE_INPUT (stream);
  g_autoptr (GError) local = NULL;
  gssize n = g_pollable_input_stream_read_nonblocking (self->base, buffer, count, NULL, &local);

  if (n < 0 && g_error_matches (local, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK)) {
    /* All that was there is read: the socket says when there is more. */
    self->pending = FALSE;
    if (self->watch)
      self->watch->fd.revents = 0;
  } else {
    self->pending = TRUE;
  }
  if (n < 0)
    g_propagate_error (error, g_steal_pointer (&local));
  return n;
}

static gssize
input_read (GInputStream *stream, void *buffer, gsize count, GCancellable *cancellable,
            GError **error)
{
  return g_input_stream_read (G_INPUT_STREAM (FH_WIRE_INPUT (stream)->base), buffer, count,
                              cancellable, error);
}

static gboolean
input_close (GInputStream *stream, GCancellable *cancellable, GError **error)
{
  input_stop (FH_WIRE_INPUT (stream));
  return TRUE;
}

static void
fh_wire_input_pollable_init (GPollableInputStreamInterface *iface)
{
  iface->is_readable = input_is_readable;
  iface->create_source = input_create_source;
  iface->read_nonblocking = input_read_nonblocking;
}

static void
fh_wire_input_finalize (GObject *object)
{
  FhWireInput *self = FH_WIRE_INPUT (object);

  input_stop (self);
  g_object_unref (self->base);
  g_object_unref (self->socket);
  G_OBJECT_CLASS (fh_wire_input_parent_class)->finalize (object);
}

static void
fh_wire_input_init (FhWireInput *self)
{
  self->pending = TRUE;
}

static void
fh_wire_input_class_init (FhWireInputClass *klass)
{
  GInputStreamClass *input_class = G_INPUT_STREAM_CLASS (klass);

  G_OBJECT_CLASS (klass)->finalize = fh_wire_input_finalize;
  input_class->read_fn = input_read;
  input_class->close_fn = input_close;
}

static FhWireInput *
input_new (GIOStream *base, GSocket *socket, GMainContext *context)
{
  GInputStream *in = g_io_stream_get_input_stream (base);
  FhWireInput *self;

  if (!socket || !G_IS_POLLABLE_INPUT_STREAM (in) ||
      !g_pollable_input_stream_can_poll (G_POLLABLE_INPUT_STREAM (in)))
    return NULL;
  self = g_object_new (FH_TYPE_WIRE_INPUT, NULL);
  self->base = G_POLLABLE_INPUT_STREAM (g_object_ref (in));
  self->socket = g_object_ref (socket);
  self->watch = (FhWireWatch *) g_source_new (&watch_funcs, sizeof (FhWireWatch));
  self->watch->input = self;
  self->watch->fd.fd = g_socket_get_fd (socket);
  self->watch->fd.events = G_IO_IN | G_IO_HUP | G_IO_ERR;
  g_source_set_static_name (&self->watch->source, "fh-web-wire-watch");
  g_source_attach (&self->watch->source, context);
  return self;
}

static GInputStream *
wire_get_input_stream (GIOStream *stream)
{
  FhWebWire *self = FH_WEB_WIRE (stream);

  return self->input ? G_INPUT_STREAM (self->input) : g_io_stream_get_input_stream (self->base);
}

static GOutputStream *
wire_get_output_stream (GIOStream *stream)
{
  return G_OUTPUT_STREAM (FH_WEB_WIRE (stream)->output);
}

static gboolean
wire_close (GIOStream *stream, GCancellable *cancellable, GError **error)
{
  FhWebWire *self = FH_WEB_WIRE (stream);

  if (self->input)
    input_stop (self->input);
  output_close (G_OUTPUT_STREAM (self->output), NULL, NULL);
  return g_io_stream_close (self->base, cancellable, error);
}

static void
on_base_closed (GObject *base, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (GTask) task = user_data;
  GError *error = NULL;

  if (g_io_stream_close_finish (G_IO_STREAM (base), result, &error))
    g_task_return_boolean (task, TRUE);
  else
    g_task_return_error (task, error);
}

/* As libsoup closed its stream before: the wire's side at once (after
 * which no frame goes out), the stolen stream's as it does it. */
static void
wire_close_async (GIOStream *stream, int priority, GCancellable *cancellable,
                  GAsyncReadyCallback callback, gpointer user_data)
{
  FhWebWire *self = FH_WEB_WIRE (stream);
  GTask *task = g_task_new (stream, cancellable, callback, user_data);

  g_task_set_source_tag (task, wire_close_async);
  if (self->input)
    input_stop (self->input);
  output_close (G_OUTPUT_STREAM (self->output), NULL, NULL);
  g_io_stream_close_async (self->base, priority, cancellable, on_base_closed, task);
}

static gboolean
wire_close_finish (GIOStream *stream, GAsyncResult *result, GError **error)
{
  return g_task_propagate_boolean (G_TASK (result), error);
}

static void
fh_web_wire_finalize (GObject *object)
{
  FhWebWire *self = FH_WEB_WIRE (object);

  g_clear_object (&self->input);
  g_object_unref (self->output);
  g_object_unref (self->base);
  G_OBJECT_CLASS (fh_web_wire_parent_class)->finalize (object);
}

static void
fh_web_wire_init (FhWebWire *self)
{
}

static void
fh_web_wire_class_init (FhWebWireClass *klass)
{
  GIOStreamClass *stream_class = G_IO_STREAM_CLASS (klass);

  G_OBJECT_CLASS (klass)->finalize = fh_web_wire_finalize;
  stream_class->get_input_stream = wire_get_input_stream;
  stream_class->get_output_stream = wire_get_output_stream;
  stream_class->close_fn = wire_close;
  stream_class->close_async = wire_close_async;
  stream_class->close_finish = wire_close_finish;
}

FhWebWire *
fh_web_wire_new (GIOStream *base, GSocket *socket, GMainContext *context)
{
  FhWebWire *self = g_object_new (FH_TYPE_WEB_WIRE, NULL);
  GOutputStream *out = g_io_stream_get_output_stream (base);

  g_return_val_if_fail (G_IS_POLLABLE_OUTPUT_STREAM (out), NULL);
  self->base = g_object_ref (base);
  self->input = input_new (base, socket, context);
  self->output = g_object_new (FH_TYPE_WIRE_OUTPUT, NULL);
  self->output->base = G_POLLABLE_OUTPUT_STREAM (g_object_ref (out));
  self->output->context = g_main_context_ref (context);
  return self;
}

gboolean
fh_web_wire_send_binary (FhWebWire *wire, guint8 *payload, gsize size)
{
  FhWireOutput *self = wire->output;
  guint8 *frame;
  gboolean ok;

  /* The server's frames are not masked (RFC 6455, 5.1). */
  if (size < 126) {
    frame = payload - 2;
    frame[1] = size;
  } else if (size <= G_MAXUINT16) {
    frame = payload - 4;
    frame[1] = 126;
    frame[2] = size >> 8;
    frame[3] = size & 0xff;
  } else {
    frame = payload - 10;
    frame[1] = 127;
    for (guint i = 0; i < 8; i++)
      frame[2 + i] = ((guint64) size >> (56 - 8 * i)) & 0xff;
  }
  frame[0] = FIRST_BYTE_BINARY;
  g_mutex_lock (&self->lock);
  ok = !self->close_written && write_locked (self, frame, payload + size - frame, NULL);
  g_mutex_unlock (&self->lock);
  return ok;
}

gsize
fh_web_wire_get_waiting (FhWebWire *wire)
{
  FhWireOutput *self = wire->output;
  gsize waiting;

  g_mutex_lock (&self->lock);
  waiting = waiting_len (self);
  g_mutex_unlock (&self->lock);
  return waiting;
}
