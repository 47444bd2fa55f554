/* libei sender, lazily connected, with a queue for what comes first. */
#include "input/ei-injector.h"

#include <glib-unix.h>
#include <libei.h>

#define RETRY_MS 100

struct _FhEiInjector {
  char *relay_path;
  char *runtime_dir;
  guint width, height;

  struct ei *ei;
  guint watch;
  guint retry;
  struct ei_device *keyboard; /* resumed and emulating, or NULL */
  struct ei_device *pointer; /* absolute pointer with buttons (and scroll) */
  struct ei_device *scroll; /* the device that scrolls (often the pointer) */
  guint32 sequence;
  gboolean warned;

  GQueue queue; /* FhInputEvent *, oldest first */
};

static void disconnect (FhEiInjector *self);
static void flush (FhEiInjector *self);

FhEiInjector *
fh_ei_injector_new (const char *relay_path, const char *runtime_dir, guint width, guint height)
{
  FhEiInjector *self = g_new0 (FhEiInjector, 1);

  self->relay_path = g_strdup (relay_path);
  self->runtime_dir = g_strdup (runtime_dir);
  self->width = width;
  self->height = height;
  g_queue_init (&self->queue);
  return self;
}

void
fh_ei_injector_free (FhEiInjector *self)
{
  if (!self)
    return;
  g_clear_handle_id (&self->retry, g_source_remove);
  disconnect (self);
  g_queue_clear_full (&self->queue, g_free);
  g_free (self->relay_path);
  g_free (self->runtime_dir);
  g_free (self);
}

gboolean
fh_ei_injector_is_ready (FhEiInjector *self)
{
  return self->keyboard || self->pointer;
}

static void
drop_device (struct ei_device **slot, struct ei_device *device)
{
  if (*slot && (!device || *slot == device))
    g_clear_pointer (slot, ei_device_unref);
}

static void
disconnect (FhEiInjector *self)
{
  g_clear_handle_id (&self->watch, g_source_remove);
  drop_device (&self->keyboard, NULL);
  drop_device (&self->pointer, NULL);
  drop_device (&self->scroll, NULL);
  g_clear_pointer (&self->ei, ei_unref);
}

static void
on_device_resumed (FhEiInjector *self, struct ei_device *device)
{
  gboolean used = FALSE;

  if (ei_device_has_capability (device, EI_DEVICE_CAP_KEYBOARD) && !self->keyboard) {
    self->keyboard = ei_device_ref (device);
    used = TRUE;
  }
  if (ei_device_has_capability (device, EI_DEVICE_CAP_POINTER_ABSOLUTE) && !self->pointer) {
    self->pointer = ei_device_ref (device);
    used = TRUE;
  }
  if (ei_device_has_capability (device, EI_DEVICE_CAP_SCROLL) && !self->scroll) {
    self->scroll = ei_device_ref (device);
    used = TRUE;
  }
  if (used) {
    ei_device_start_emulating (device, ++self->sequence);
    g_message ("input: EIS device \"%s\" ready", ei_device_get_name (device));
  }
}

static void
on_device_gone (FhEiInjector *self, struct ei_device *device)
{
  drop_device (&self->keyboard, device);
  drop_device (&self->pointer, device);
  drop_device (&self->scroll, device);
}

static gboolean
on_readable (int fd, GIOCondition condition, gpointer data)
{
  FhEiInjector *self = data;
  struct ei_event *event;
  gboolean lost = (condition & (G_IO_ERR | G_IO_HUP)) != 0;

  ei_dispatch (self->ei);
  while ((event = ei_get_event (self->ei))) {
    switch (ei_event_get_type (event)) {
    case EI_EVENT_CONNECT:
      g_message ("input: connected to the EIS server of %s", self->relay_path);
      break;
    case EI_EVENT_DISCONNECT:
      lost = TRUE;
      break;
    case EI_EVENT_SEAT_ADDED:
      ei_seat_bind_capabilities (ei_event_get_seat (event), EI_DEVICE_CAP_POINTER_ABSOLUTE,
                                 EI_DEVICE_CAP_KEYBOARD, EI_DEVICE_CAP_BUTTON,
                                 EI_DEVICE_CAP_SCROLL, NULL);
      break;
    case EI_EVENT_DEVICE_RESUMED:
      on_device_resumed (self, ei_event_get_device (event));
      break;
    case EI_EVENT_DEVICE_PAUSED:
    case EI_EVENT_DEVICE_REMOVED:
      on_device_gone (self, ei_event_get_device (event));
      break;
    default:
      break;
    }
    ei_event_unref (event);
  }
  if (lost) {
    g_message ("input: the EIS server of %s went away; reconnecting on the next event",
               self->relay_path);
    self->watch = 0;
    disconnect (self);
    return G_SOURCE_REMOVE;
  }
  flush (self);
  return G_SOURCE_CONTINUE;
}

/* The socket the relay file names, or NULL while there is none yet. */
static char *
read_socket_path (FhEiInjector *self)
{
  g_autofree char *name = NULL;

  if (!g_file_get_contents (self->relay_path, &name, NULL, NULL))
    return NULL;
  g_strstrip (name);
  if (!*name)
    return NULL;
  return g_path_is_absolute (name) ? g_steal_pointer (&name)
                                   : g_build_filename (self->runtime_dir, name, NULL);
}

static gboolean
try_connect (FhEiInjector *self)
{
  g_autofree char *path = read_socket_path (self);
  int res;

  if (!path || !g_file_test (path, G_FILE_TEST_EXISTS))
    return FALSE;
  self->ei = ei_new_sender (self);
  ei_configure_name (self->ei, "funkhaus");
  if ((res = ei_setup_backend_socket (self->ei, path)) < 0) {
    if (!self->warned)
      g_message ("input: cannot connect to %s yet: %s", path, g_strerror (-res));
    self->warned = TRUE;
    g_clear_pointer (&self->ei, ei_unref);
    return FALSE;
  }
  self->warned = FALSE;
  self->watch = g_unix_fd_add (ei_get_fd (self->ei), G_IO_IN | G_IO_ERR | G_IO_HUP, on_readable,
                               self);
  return TRUE;
}

static gboolean
on_retry (gpointer data)
{
  FhEiInjector *self = data;

  if (self->ei || try_connect (self)) {
    self->retry = 0;
    return G_SOURCE_REMOVE;
  }
  return G_SOURCE_CONTINUE;
}

/* Sends @event if its device is ready; FALSE when it must wait. */
static gboolean
send_event (FhEiInjector *self, const FhInputEvent *event)
{
  struct ei_device *device = NULL;

  switch (event->type) {
  case FH_INPUT_KEY:
    if (!(device = self->keyboard))
      return FALSE;
    ei_device_keyboard_key (device, event->key.code, event->key.pressed);
    break;
  case FH_INPUT_POINTER_MOTION:
    if (!(device = self->pointer))
      return FALSE;
    ei_device_pointer_motion_absolute (device, MIN (event->motion.x, self->width - 1),
                                       MIN (event->motion.y, self->height - 1));
    break;
  case FH_INPUT_POINTER_BUTTON:
    if (!(device = self->pointer) || !ei_device_has_capability (device, EI_DEVICE_CAP_BUTTON))
      return FALSE;
    ei_device_button_button (device, event->button.button, event->button.pressed);
    break;
  case FH_INPUT_SCROLL:
    if (!(device = self->scroll))
      return FALSE;
    ei_device_scroll_discrete (device, event->scroll.dx, event->scroll.dy);
    break;
  }
  ei_device_frame (device, ei_now (self->ei));
  return TRUE;
}

static void
flush (FhEiInjector *self)
{
  FhInputEvent *event;

  while ((event = g_queue_peek_head (&self->queue))) {
    if (!self->ei || !send_event (self, event))
      return;
    g_free (g_queue_pop_head (&self->queue));
  }
}

void
fh_ei_injector_inject (FhEiInjector *self, const FhInputEvent *event)
{
  if (g_queue_is_empty (&self->queue) && self->ei && send_event (self, event))
    return;
  /* Not connected yet (or its device not resumed): keep it, in order. */
  if (g_queue_get_length (&self->queue) >= FH_EI_QUEUE_MAX) {
    g_free (g_queue_pop_head (&self->queue));
    g_debug ("input: the EIS queue is full; dropped the oldest event");
  }
  g_queue_push_tail (&self->queue, g_memdup2 (event, sizeof *event));
  if (!self->ei && !try_connect (self) && !self->retry)
    self->retry = g_timeout_add (RETRY_MS, on_retry, self);
}
