/* libei sender, lazily connected, with a queue for what comes first. */
#include "media/ei-injector.h"

#include <glib-unix.h>
#include <libei.h>
#include <unistd.h>

#define RETRY_MS 100

struct _FhEiInjector {
  char *relay_path; /* or NULL: made for one fd */
  char *runtime_dir;
  char *name; /* for logs */
  int fd; /* the connection to open, until it is; -1 after */
  gboolean gone; /* a one-fd injector whose server went away */
  guint width, height;
  guint region_width, region_height; /* the region to prefer, or 0 */

  struct ei *ei;
  guint watch;
  guint retry;
  struct ei_device *keyboard; /* resumed and emulating, or NULL */
  struct ei_device *pointer; /* absolute pointer with buttons (and scroll) */
  struct ei_device *scroll; /* the device that scrolls (often the pointer) */
  struct ei_device *relative; /* the device that moves relatively, if the server has one */
  guint32 sequence;
  gboolean warned;

  GQueue queue; /* FhInputEvent *, oldest first */
};

static void disconnect (FhEiInjector *self);
static void flush (FhEiInjector *self);
static gboolean try_connect (FhEiInjector *self);

FhEiInjector *
fh_ei_injector_new (const char *relay_path, const char *runtime_dir, guint width, guint height)
{
  FhEiInjector *self = g_new0 (FhEiInjector, 1);

  self->relay_path = g_strdup (relay_path);
  self->runtime_dir = g_strdup (runtime_dir);
  self->name = g_strdup (relay_path);
  self->fd = -1;
  self->width = width;
  self->height = height;
  g_queue_init (&self->queue);
  return self;
}

FhEiInjector *
fh_ei_injector_new_for_fd (int fd, const char *name, guint width, guint height)
{
  FhEiInjector *self = fh_ei_injector_new (NULL, NULL, width, height);

  g_free (self->name);
  self->name = g_strdup (name);
  self->fd = fd;
  /* Now: the devices are ready by the first event. */
  try_connect (self);
  return self;
}

void
fh_ei_injector_prefer_region_size (FhEiInjector *self, guint width, guint height)
{
  self->region_width = width;
  self->region_height = height;
}

/* The region absolute motion lands in, or NULL: the output itself. */
static struct ei_region *
pick_region (FhEiInjector *self, struct ei_device *device)
{
  struct ei_region *region, *chosen = ei_device_get_region (device, 0);

  for (size_t i = 0; self->region_width && (region = ei_device_get_region (device, i)); i++) {
    if (ei_region_get_width (region) == self->region_width &&
        ei_region_get_height (region) == self->region_height)
      chosen = region;
  }
  return chosen;
}

void
fh_ei_injector_free (FhEiInjector *self)
{
  if (!self)
    return;
  g_clear_handle_id (&self->retry, g_source_remove);
  disconnect (self);
  if (self->fd >= 0)
    close (self->fd);
  g_queue_clear_full (&self->queue, g_free);
  g_free (self->relay_path);
  g_free (self->runtime_dir);
  g_free (self->name);
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
  drop_device (&self->relative, NULL);
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
  if (ei_device_has_capability (device, EI_DEVICE_CAP_POINTER) && !self->relative) {
    self->relative = ei_device_ref (device);
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
  drop_device (&self->relative, device);
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
      g_message ("input: connected to the EIS server of %s", self->name);
      break;
    case EI_EVENT_DISCONNECT:
      lost = TRUE;
      break;
    case EI_EVENT_SEAT_ADDED:
      ei_seat_bind_capabilities (ei_event_get_seat (event), EI_DEVICE_CAP_POINTER_ABSOLUTE,
                                 EI_DEVICE_CAP_POINTER, EI_DEVICE_CAP_KEYBOARD, EI_DEVICE_CAP_BUTTON,
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
    if (self->relay_path) {
      g_message ("input: the EIS server of %s went away; reconnecting on the next event",
                 self->name);
    } else {
      g_message ("input: the EIS server of %s went away", self->name);
      self->gone = TRUE;
      g_queue_clear_full (&self->queue, g_free);
    }
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
  g_autofree char *path = NULL;
  int res;

  if (!self->relay_path) {
    if (self->fd < 0)
      return FALSE;
    self->ei = ei_new_sender (self);
    ei_configure_name (self->ei, "funkhaus");
    res = ei_setup_backend_fd (self->ei, self->fd);
    self->fd = -1; /* libei's now, whatever the result */
    if (res < 0) {
      g_warning ("input: cannot use the EIS connection of %s: %s", self->name, g_strerror (-res));
      g_clear_pointer (&self->ei, ei_unref);
      self->gone = TRUE;
      return FALSE;
    }
    self->watch = g_unix_fd_add (ei_get_fd (self->ei), G_IO_IN | G_IO_ERR | G_IO_HUP,
                                 on_readable, self);
    return TRUE;
  }
  path = read_socket_path (self);
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
  case FH_INPUT_POINTER_MOTION: {
    struct ei_region *region;
    double x = MIN (event->motion.x, self->width - 1);
    double y = MIN (event->motion.y, self->height - 1);

    if (!(device = self->pointer))
      return FALSE;
    /* The server's region for this output (Mutter's: the view's monitor,
     * somewhere in its layout; KWin's: one per output), or the output
     * itself. */
    if ((region = pick_region (self, device))) {
      x = ei_region_get_x (region) + x * ei_region_get_width (region) / self->width;
      y = ei_region_get_y (region) + y * ei_region_get_height (region) / self->height;
    }
    ei_device_pointer_motion_absolute (device, x, y);
    break;
  }
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
  case FH_INPUT_POINTER_RELATIVE:
    if (!(device = self->relative)) {
      /* Devices are up but none moves relatively: dropped, not queued
       * (a queued event would hold back every later one). */
      if (self->pointer || self->keyboard) {
        g_debug ("input: %s offers no relative pointer; motion dropped", self->name);
        return TRUE;
      }
      return FALSE;
    }
    ei_device_pointer_motion (device, event->relative.dx, event->relative.dy);
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
  if (self->gone)
    return;
  g_queue_push_tail (&self->queue, g_memdup2 (event, sizeof *event));
  if (!self->ei && !try_connect (self) && !self->gone && !self->retry)
    self->retry = g_timeout_add (RETRY_MS, on_retry, self);
}
