/* A WebSocket's way out for two threads: see wire.h. */
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

struct _FhWebWire {
  GIOStream parent;
  GIOStream *base;
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

static GInputStream *
wire_get_input_stream (GIOStream *stream)
{
  return g_io_stream_get_input_stream (FH_WEB_WIRE (stream)->base);
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
fh_web_wire_new (GIOStream *base, GMainContext *context)
{
  FhWebWire *self = g_object_new (FH_TYPE_WEB_WIRE, NULL);
  GOutputStream *out = g_io_stream_get_output_stream (base);

  g_return_val_if_fail (G_IS_POLLABLE_OUTPUT_STREAM (out), NULL);
  self->base = g_object_ref (base);
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
