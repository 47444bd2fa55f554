/* A session's text clipboard through wlr-data-control (see clipboard.h).
 * Reads of the selection and writes of ours go through pipes the session's
 * apps hold the other end of, so both are non-blocking on the main loop,
 * bounded in size (FH_CLIPBOARD_MAX_TEXT) and in time (IO_TIMEOUT_S), and
 * at most MAX_WRITERS writes are open at once. */
#include "media/clipboard.h"

#include <errno.h>
#include <fcntl.h>
#include <glib-unix.h>
#include <string.h>
#include <unistd.h>
#include <wayland-client.h>

#include "wlr-data-control-unstable-v1-client-protocol.h"

#define IO_TIMEOUT_S 5
#define MAX_WRITERS 8

/* The text types, best first; text/plain need not be UTF-8, so what comes
 * is checked whatever its type. */
static const char *const text_mimes[] = {
  "text/plain;charset=utf-8", "UTF8_STRING", "text/plain", "TEXT", "STRING",
};
#define NO_TEXT G_N_ELEMENTS (text_mimes)

typedef struct {
  guint best; /* index into text_mimes, NO_TEXT: no text */
} Offer;

typedef struct {
  FhClipboard *clipboard;
  int fd;
  GBytes *text;
  gsize done;
  guint watch;
  guint timeout;
} Writer;

struct _FhClipboard {
  struct wl_display *display;
  struct wl_registry *registry;
  struct wl_seat *seat;
  struct zwlr_data_control_manager_v1 *manager;
  struct zwlr_data_control_device_v1 *device;
  GList *sources; /* ours not yet cancelled, the selection's first */
  struct zwlr_data_control_offer_v1 *offer;   /* the selection */
  guint watch;

  /* The selection's text being read. */
  int read_fd;
  GByteArray *read_buf;
  guint read_watch;
  guint read_timeout;

  GBytes *own;  /* what we set last */
  GBytes *last; /* what went either way last: not reported again */
  GList *writers;

  FhClipboardFunc changed;
  gpointer user_data;
};

/* ---- writing our text to an app that asked for it ---- */

static void
writer_free (Writer *w)
{
  FhClipboard *self = w->clipboard;

  self->writers = g_list_remove (self->writers, w);
  g_clear_handle_id (&w->watch, g_source_remove);
  g_clear_handle_id (&w->timeout, g_source_remove);
  close (w->fd);
  g_bytes_unref (w->text);
  g_free (w);
}

/* Writes what the pipe takes; TRUE when done (or failed: the app went). */
static gboolean
writer_write (Writer *w)
{
  gsize size;
  const guint8 *data = g_bytes_get_data (w->text, &size);

  while (w->done < size) {
    ssize_t n = write (w->fd, data + w->done, size - w->done);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0 && errno == EAGAIN)
      return FALSE;
    if (n <= 0)
      return TRUE;
    w->done += (gsize) n;
  }
  return TRUE;
}

static gboolean
on_writer_ready (int fd, GIOCondition condition, gpointer user_data)
{
  Writer *w = user_data;

  if (!(condition & G_IO_OUT) || writer_write (w)) {
    w->watch = 0;
    writer_free (w);
    return G_SOURCE_REMOVE;
  }
  return G_SOURCE_CONTINUE;
}

static gboolean
on_writer_timeout (gpointer user_data)
{
  Writer *w = user_data;

  g_message ("clipboard: an app of the session took more than %d s to read the clipboard; "
             "given up",
             IO_TIMEOUT_S);
  w->timeout = 0;
  writer_free (w);
  return G_SOURCE_REMOVE;
}

static void
on_source_send (void *data, struct zwlr_data_control_source_v1 *source, const char *mime_type,
                int fd)
{
  FhClipboard *self = data;
  Writer *w;

  if (!self->own || g_list_length (self->writers) >= MAX_WRITERS) {
    close (fd);
    return;
  }
  w = g_new0 (Writer, 1);
  w->clipboard = self;
  w->fd = fd;
  w->text = g_bytes_ref (self->own);
  self->writers = g_list_prepend (self->writers, w);
  if (fcntl (fd, F_SETFL, fcntl (fd, F_GETFL) | O_NONBLOCK) < 0 || writer_write (w)) {
    writer_free (w);
    return;
  }
  w->watch = g_unix_fd_add (fd, G_IO_OUT | G_IO_ERR | G_IO_HUP, on_writer_ready, w);
  w->timeout = g_timeout_add_seconds (IO_TIMEOUT_S, on_writer_timeout, w);
}

static void
on_source_cancelled (void *data, struct zwlr_data_control_source_v1 *source)
{
  FhClipboard *self = data;

  self->sources = g_list_remove (self->sources, source);
  zwlr_data_control_source_v1_destroy (source);
}

static const struct zwlr_data_control_source_v1_listener source_listener = {
  .send = on_source_send,
  .cancelled = on_source_cancelled,
};

/* ---- reading the selection an app set ---- */

static void
stop_read (FhClipboard *self)
{
  g_clear_handle_id (&self->read_watch, g_source_remove);
  g_clear_handle_id (&self->read_timeout, g_source_remove);
  if (self->read_fd >= 0)
    close (self->read_fd);
  self->read_fd = -1;
  g_clear_pointer (&self->read_buf, g_byte_array_unref);
}

static void
read_done (FhClipboard *self)
{
  g_autoptr (GBytes) text = g_byte_array_free_to_bytes (g_steal_pointer (&self->read_buf));
  gsize len;
  const char *data = g_bytes_get_data (text, &len);

  stop_read (self);
  if (len == 0 || (self->last && g_bytes_equal (text, self->last)))
    return;
  if (!g_utf8_validate (data, (gssize) len, NULL) || memchr (data, 0, len)) {
    g_message ("clipboard: an app of the session copied text that is not UTF-8; not passed on");
    return;
  }
  g_clear_pointer (&self->last, g_bytes_unref);
  self->last = g_bytes_ref (text);
  self->changed (data, len, self->user_data);
}

static gboolean
on_read_ready (int fd, GIOCondition condition, gpointer user_data)
{
  FhClipboard *self = user_data;
  guint8 chunk[4096];

  for (;;) {
    ssize_t n = read (fd, chunk, sizeof chunk);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0 && errno == EAGAIN)
      return G_SOURCE_CONTINUE;
    if (n <= 0)
      break;
    g_byte_array_append (self->read_buf, chunk, (guint) n);
    if (self->read_buf->len > FH_CLIPBOARD_MAX_TEXT) {
      g_message ("clipboard: an app of the session copied more than %d bytes; not passed on",
                 FH_CLIPBOARD_MAX_TEXT);
      self->read_watch = 0;
      stop_read (self);
      return G_SOURCE_REMOVE;
    }
  }
  self->read_watch = 0;
  read_done (self);
  return G_SOURCE_REMOVE;
}

static gboolean
on_read_timeout (gpointer user_data)
{
  FhClipboard *self = user_data;

  g_message ("clipboard: an app of the session took more than %d s to hand over its "
             "clipboard; given up",
             IO_TIMEOUT_S);
  self->read_timeout = 0;
  stop_read (self);
  return G_SOURCE_REMOVE;
}

static void
on_offer_mime (void *data, struct zwlr_data_control_offer_v1 *proxy, const char *mime_type)
{
  Offer *offer = data;

  for (guint i = 0; i < offer->best; i++) {
    if (g_str_equal (mime_type, text_mimes[i])) {
      offer->best = i;
      return;
    }
  }
}

static const struct zwlr_data_control_offer_v1_listener offer_listener = {
  .offer = on_offer_mime,
};

static void
destroy_offer (struct zwlr_data_control_offer_v1 *proxy)
{
  g_free (zwlr_data_control_offer_v1_get_user_data (proxy));
  zwlr_data_control_offer_v1_destroy (proxy);
}

static void
on_data_offer (void *data, struct zwlr_data_control_device_v1 *device,
               struct zwlr_data_control_offer_v1 *proxy)
{
  Offer *offer = g_new0 (Offer, 1);

  offer->best = NO_TEXT;
  zwlr_data_control_offer_v1_add_listener (proxy, &offer_listener, offer);
}

static void
on_selection (void *data, struct zwlr_data_control_device_v1 *device,
              struct zwlr_data_control_offer_v1 *proxy)
{
  FhClipboard *self = data;
  Offer *offer;
  int fds[2];

  stop_read (self);
  g_clear_pointer (&self->offer, destroy_offer);
  if (!proxy)
    return;
  self->offer = proxy;
  offer = zwlr_data_control_offer_v1_get_user_data (proxy);
  if (offer->best == NO_TEXT || pipe2 (fds, O_CLOEXEC) < 0)
    return;
  zwlr_data_control_offer_v1_receive (proxy, text_mimes[offer->best], fds[1]);
  close (fds[1]);
  wl_display_flush (self->display);
  if (fcntl (fds[0], F_SETFL, fcntl (fds[0], F_GETFL) | O_NONBLOCK) < 0) {
    close (fds[0]);
    return;
  }
  self->read_fd = fds[0];
  self->read_buf = g_byte_array_new ();
  self->read_watch = g_unix_fd_add (fds[0], G_IO_IN | G_IO_ERR | G_IO_HUP, on_read_ready, self);
  self->read_timeout = g_timeout_add_seconds (IO_TIMEOUT_S, on_read_timeout, self);
}

static void
on_finished (void *data, struct zwlr_data_control_device_v1 *device)
{
  FhClipboard *self = data;

  g_message ("clipboard: the compositor ended the session's clipboard");
  stop_read (self);
  g_clear_pointer (&self->offer, destroy_offer);
  g_clear_pointer (&self->device, zwlr_data_control_device_v1_destroy);
}

static void
on_primary_selection (void *data, struct zwlr_data_control_device_v1 *device,
                      struct zwlr_data_control_offer_v1 *proxy)
{
  if (proxy)
    destroy_offer (proxy);
}

static const struct zwlr_data_control_device_v1_listener device_listener = {
  .data_offer = on_data_offer,
  .selection = on_selection,
  .finished = on_finished,
  .primary_selection = on_primary_selection,
};

/* ---- the connection ---- */

static void
on_global (void *data, struct wl_registry *registry, uint32_t name, const char *interface,
           uint32_t version)
{
  FhClipboard *self = data;

  if (g_str_equal (interface, wl_seat_interface.name) && !self->seat)
    self->seat = wl_registry_bind (registry, name, &wl_seat_interface, 1);
  else if (g_str_equal (interface, zwlr_data_control_manager_v1_interface.name))
    self->manager = wl_registry_bind (registry, name, &zwlr_data_control_manager_v1_interface, 1);
}

static void
on_global_remove (void *data, struct wl_registry *registry, uint32_t name)
{
}

static const struct wl_registry_listener registry_listener = {
  .global = on_global,
  .global_remove = on_global_remove,
};

static void
disconnect (FhClipboard *self)
{
  stop_read (self);
  while (self->writers)
    writer_free (self->writers->data);
  g_clear_handle_id (&self->watch, g_source_remove);
  g_clear_pointer (&self->offer, destroy_offer);
  g_list_free_full (g_steal_pointer (&self->sources),
                    (GDestroyNotify) zwlr_data_control_source_v1_destroy);
  g_clear_pointer (&self->device, zwlr_data_control_device_v1_destroy);
  g_clear_pointer (&self->manager, zwlr_data_control_manager_v1_destroy);
  g_clear_pointer (&self->seat, wl_seat_destroy);
  g_clear_pointer (&self->registry, wl_registry_destroy);
  g_clear_pointer (&self->display, wl_display_disconnect);
}

static gboolean
on_display (int fd, GIOCondition condition, gpointer user_data)
{
  FhClipboard *self = user_data;

  if ((condition & (G_IO_ERR | G_IO_HUP)) || wl_display_dispatch (self->display) < 0) {
    g_message ("clipboard: the compositor closed the clipboard's connection");
    self->watch = 0;
    disconnect (self);
    return G_SOURCE_REMOVE;
  }
  return G_SOURCE_CONTINUE;
}

FhClipboard *
fh_clipboard_new (const char *socket_path, FhClipboardFunc changed, gpointer user_data,
                  GError **error)
{
  g_autoptr (FhClipboard) self = g_new0 (FhClipboard, 1);

  self->read_fd = -1;
  self->changed = changed;
  self->user_data = user_data;
  self->display = wl_display_connect (socket_path);
  if (!self->display) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED,
                 "cannot connect the clipboard to the compositor at %s", socket_path);
    return NULL;
  }
  self->registry = wl_display_get_registry (self->display);
  wl_registry_add_listener (self->registry, &registry_listener, self);
  if (wl_display_roundtrip (self->display) < 0) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED,
                 "the compositor at %s closed the clipboard's connection", socket_path);
    return NULL;
  }
  if (!self->seat || !self->manager) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
                 "the compositor offers no %s: no clipboard",
                 !self->seat ? "seat" : "zwlr_data_control_manager_v1");
    return NULL;
  }
  self->device = zwlr_data_control_manager_v1_get_data_device (self->manager, self->seat);
  zwlr_data_control_device_v1_add_listener (self->device, &device_listener, self);
  wl_display_flush (self->display);
  self->watch = g_unix_fd_add (wl_display_get_fd (self->display), G_IO_IN | G_IO_ERR | G_IO_HUP,
                               on_display, self);
  return g_steal_pointer (&self);
}

void
fh_clipboard_free (FhClipboard *self)
{
  if (!self)
    return;
  disconnect (self);
  g_clear_pointer (&self->own, g_bytes_unref);
  g_clear_pointer (&self->last, g_bytes_unref);
  g_free (self);
}

void
fh_clipboard_set_text (FhClipboard *self, const char *text, gsize len)
{
  struct zwlr_data_control_source_v1 *source;

  g_return_if_fail (len <= FH_CLIPBOARD_MAX_TEXT);
  if (!self->device)
    return;
  g_clear_pointer (&self->own, g_bytes_unref);
  g_clear_pointer (&self->last, g_bytes_unref);
  self->own = g_bytes_new (text, len);
  self->last = g_bytes_ref (self->own);
  /* The previous source, if still the selection, is cancelled by this one. */
  source = zwlr_data_control_manager_v1_create_data_source (self->manager);
  self->sources = g_list_prepend (self->sources, source);
  zwlr_data_control_source_v1_add_listener (source, &source_listener, self);
  for (guint i = 0; i < G_N_ELEMENTS (text_mimes); i++)
    zwlr_data_control_source_v1_offer (source, text_mimes[i]);
  zwlr_data_control_device_v1_set_selection (self->device, source);
  wl_display_flush (self->display);
}
