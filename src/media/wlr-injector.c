/* Virtual keyboard and pointer on a wlroots compositor. */
#include "media/wlr-injector.h"

#include <errno.h>
#include <glib-unix.h>
#include <linux/input-event-codes.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <wayland-client.h>
#include <xkbcommon/xkbcommon.h>

#include "virtual-keyboard-unstable-v1-client-protocol.h"
#include "wlr-virtual-pointer-unstable-v1-client-protocol.h"

struct _FhWlrInjector {
  char *socket_path;
  guint width, height;
  char *layout;
  gboolean shared; /* the pointer belongs to no output */

  struct wl_display *display;
  struct wl_registry *registry;
  struct wl_seat *seat;
  struct wl_output *output;
  struct zwp_virtual_keyboard_manager_v1 *keyboard_manager;
  struct zwlr_virtual_pointer_manager_v1 *pointer_manager;
  guint pointer_manager_version;
  struct zwp_virtual_keyboard_v1 *keyboard;
  struct zwlr_virtual_pointer_v1 *pointer;
  guint watch;

  struct xkb_context *xkb;
  struct xkb_keymap *keymap;
  struct xkb_state *state;
};

static void
registry_global (void *data, struct wl_registry *registry, guint32 name, const char *interface,
                 guint32 version)
{
  FhWlrInjector *self = data;

  if (g_str_equal (interface, wl_seat_interface.name) && !self->seat) {
    self->seat = wl_registry_bind (registry, name, &wl_seat_interface, 1);
  } else if (g_str_equal (interface, wl_output_interface.name) && !self->output) {
    self->output = wl_registry_bind (registry, name, &wl_output_interface, 1);
  } else if (g_str_equal (interface, zwp_virtual_keyboard_manager_v1_interface.name)) {
    self->keyboard_manager =
      wl_registry_bind (registry, name, &zwp_virtual_keyboard_manager_v1_interface, 1);
  } else if (g_str_equal (interface, zwlr_virtual_pointer_manager_v1_interface.name)) {
    self->pointer_manager_version = MIN (version, 2u);
    self->pointer_manager = wl_registry_bind (
      registry, name, &zwlr_virtual_pointer_manager_v1_interface, self->pointer_manager_version);
  }
}

static void
registry_global_remove (void *data, struct wl_registry *registry, guint32 name)
{
}

static const struct wl_registry_listener registry_listener = {
  .global = registry_global,
  .global_remove = registry_global_remove,
};

FhWlrInjector *
fh_wlr_injector_new (const char *socket_path, guint width, guint height, const char *layout)
{
  FhWlrInjector *self = g_new0 (FhWlrInjector, 1);

  self->socket_path = g_strdup (socket_path);
  self->width = width;
  self->height = height;
  self->layout = g_strdup (layout && *layout ? layout : "us");
  return self;
}

static void
disconnect (FhWlrInjector *self)
{
  g_clear_handle_id (&self->watch, g_source_remove);
  g_clear_pointer (&self->keyboard, zwp_virtual_keyboard_v1_destroy);
  g_clear_pointer (&self->pointer, zwlr_virtual_pointer_v1_destroy);
  g_clear_pointer (&self->keyboard_manager, zwp_virtual_keyboard_manager_v1_destroy);
  if (self->pointer_manager) {
    zwlr_virtual_pointer_manager_v1_destroy (self->pointer_manager);
    self->pointer_manager = NULL;
  }
  g_clear_pointer (&self->seat, wl_seat_destroy);
  g_clear_pointer (&self->output, wl_output_destroy);
  g_clear_pointer (&self->registry, wl_registry_destroy);
  g_clear_pointer (&self->display, wl_display_disconnect);
}

void
fh_wlr_injector_free (FhWlrInjector *self)
{
  if (!self)
    return;
  disconnect (self);
  g_clear_pointer (&self->state, xkb_state_unref);
  g_clear_pointer (&self->keymap, xkb_keymap_unref);
  g_clear_pointer (&self->xkb, xkb_context_unref);
  g_free (self->socket_path);
  g_free (self->layout);
  g_free (self);
}

/* Events the compositor sends us (errors, pings of globals) are read on
 * the main loop so the socket never fills up. */
static gboolean
on_readable (int fd, GIOCondition condition, gpointer user_data)
{
  FhWlrInjector *self = user_data;

  if ((condition & (G_IO_ERR | G_IO_HUP)) || wl_display_dispatch (self->display) < 0) {
    g_message ("input: the compositor closed the injector connection");
    self->watch = 0;
    disconnect (self);
    return G_SOURCE_REMOVE;
  }
  return G_SOURCE_CONTINUE;
}

static gboolean
upload_keymap (FhWlrInjector *self, GError **error)
{
  struct xkb_rule_names names = { .layout = self->layout };
  g_autofree char *text = NULL;
  gsize size;
  void *map;
  int fd;

  if (!self->xkb)
    self->xkb = xkb_context_new (XKB_CONTEXT_NO_FLAGS);
  if (!self->keymap) {
    self->keymap = xkb_keymap_new_from_names (self->xkb, &names, XKB_KEYMAP_COMPILE_NO_FLAGS);
    if (!self->keymap) {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   "cannot build an xkb keymap for layout '%s' (is xkb-data installed?)",
                   self->layout);
      return FALSE;
    }
    self->state = xkb_state_new (self->keymap);
  }
  text = xkb_keymap_get_as_string (self->keymap, XKB_KEYMAP_FORMAT_TEXT_V1);
  size = strlen (text) + 1;
  fd = memfd_create ("funkhaus-keymap", MFD_CLOEXEC);
  if (fd < 0 || ftruncate (fd, (off_t) size) < 0 ||
      (map = mmap (NULL, size, PROT_WRITE, MAP_SHARED, fd, 0)) == MAP_FAILED) {
    int saved = errno;
    if (fd >= 0)
      close (fd);
    g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved), "cannot share the keymap: %s",
                 g_strerror (saved));
    return FALSE;
  }
  memcpy (map, text, size);
  munmap (map, size);
  zwp_virtual_keyboard_v1_keymap (self->keyboard, XKB_KEYMAP_FORMAT_TEXT_V1, fd, (guint32) size);
  close (fd);
  return TRUE;
}

static gboolean
ensure_connected (FhWlrInjector *self, GError **error)
{
  if (self->display)
    return TRUE;

  self->display = wl_display_connect (self->socket_path);
  if (!self->display) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED,
                 "cannot connect the injector to the compositor at %s", self->socket_path);
    return FALSE;
  }
  self->registry = wl_display_get_registry (self->display);
  wl_registry_add_listener (self->registry, &registry_listener, self);
  if (wl_display_roundtrip (self->display) < 0)
    goto lost;
  if (!self->seat || !self->keyboard_manager || !self->pointer_manager) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
                 "the compositor offers no %s: input cannot be injected",
                 !self->seat               ? "seat"
                 : !self->keyboard_manager ? "zwp_virtual_keyboard_manager_v1"
                                           : "zwlr_virtual_pointer_manager_v1");
    disconnect (self);
    return FALSE;
  }

  self->keyboard =
    zwp_virtual_keyboard_manager_v1_create_virtual_keyboard (self->keyboard_manager, self->seat);
  if (!upload_keymap (self, error)) {
    disconnect (self);
    return FALSE;
  }
  if (self->pointer_manager_version >= 2 && self->output && !self->shared)
    self->pointer = zwlr_virtual_pointer_manager_v1_create_virtual_pointer_with_output (
      self->pointer_manager, self->seat, self->output);
  else
    self->pointer =
      zwlr_virtual_pointer_manager_v1_create_virtual_pointer (self->pointer_manager, self->seat);
  /* The keymap must be in place before the first key, or the compositor
   * drops that key: wait for it to have processed everything. */
  if (wl_display_roundtrip (self->display) < 0)
    goto lost;
  self->watch = g_unix_fd_add (wl_display_get_fd (self->display),
                               G_IO_IN | G_IO_ERR | G_IO_HUP, on_readable, self);
  return TRUE;

lost:
  g_set_error (error, G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED,
               "the compositor closed the injector connection");
  disconnect (self);
  return FALSE;
}

static guint32
now_ms (void)
{
  return (guint32) (g_get_monotonic_time () / 1000);
}

static void
send_key (FhWlrInjector *self, guint32 code, gboolean pressed)
{
  enum xkb_state_component changed;

  zwp_virtual_keyboard_v1_key (self->keyboard, now_ms (), code,
                               pressed ? WL_KEYBOARD_KEY_STATE_PRESSED
                                       : WL_KEYBOARD_KEY_STATE_RELEASED);
  changed = xkb_state_update_key (self->state, code + 8, pressed ? XKB_KEY_DOWN : XKB_KEY_UP);
  if (changed)
    zwp_virtual_keyboard_v1_modifiers (
      self->keyboard, xkb_state_serialize_mods (self->state, XKB_STATE_MODS_DEPRESSED),
      xkb_state_serialize_mods (self->state, XKB_STATE_MODS_LATCHED),
      xkb_state_serialize_mods (self->state, XKB_STATE_MODS_LOCKED),
      xkb_state_serialize_layout (self->state, XKB_STATE_LAYOUT_EFFECTIVE));
}

static void
send_scroll (FhWlrInjector *self, guint32 axis, gint32 v120)
{
  /* One notch (120) is 15 units of wl_pointer axis motion, as libinput
   * reports a wheel click. */
  if (v120 == 0)
    return;
  zwlr_virtual_pointer_v1_axis_source (self->pointer, WL_POINTER_AXIS_SOURCE_WHEEL);
  zwlr_virtual_pointer_v1_axis_discrete (self->pointer, now_ms (), axis,
                                         wl_fixed_from_double (v120 * 15.0 / 120.0),
                                         v120 / 120 ? v120 / 120 : (v120 > 0 ? 1 : -1));
}

/* Sends what was queued; a broken connection is dropped (the next event
 * makes a new one). */
static gboolean
flush (FhWlrInjector *self, GError **error)
{
  if (wl_display_flush (self->display) < 0 && errno != EAGAIN) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED,
                 "the compositor closed the injector connection");
    disconnect (self);
    return FALSE;
  }
  return TRUE;
}

FhWlrInjector *
fh_wlr_injector_new_shared (const char *socket_path, const char *layout_name)
{
  FhWlrInjector *self = fh_wlr_injector_new (socket_path, 1, 1, layout_name);

  self->shared = TRUE;
  return self;
}

gboolean
fh_wlr_injector_inject_in_view (FhWlrInjector *self, const FhInputEvent *event,
                                const FhLayoutRect *view, const FhLayoutRect *layout,
                                GError **error)
{
  if (event->type == FH_INPUT_POINTER_MOTION) {
    guint x = (guint) (view->x - layout->x) + MIN (event->motion.x, view->width - 1);
    guint y = (guint) (view->y - layout->y) + MIN (event->motion.y, view->height - 1);

    if (!ensure_connected (self, error))
      return FALSE;
    zwlr_virtual_pointer_v1_motion_absolute (self->pointer, now_ms (), x, y, layout->width,
                                             layout->height);
    zwlr_virtual_pointer_v1_frame (self->pointer);
    return flush (self, error);
  }
  return fh_wlr_injector_inject (self, event, error);
}

gboolean
fh_wlr_injector_connect (FhWlrInjector *self, GError **error)
{
  return ensure_connected (self, error);
}

gboolean
fh_wlr_injector_inject (FhWlrInjector *self, const FhInputEvent *event, GError **error)
{
  if (!ensure_connected (self, error))
    return FALSE;

  switch (event->type) {
  case FH_INPUT_KEY:
    send_key (self, event->key.code, event->key.pressed);
    break;
  case FH_INPUT_POINTER_MOTION:
    zwlr_virtual_pointer_v1_motion_absolute (self->pointer, now_ms (),
                                             MIN (event->motion.x, self->width - 1),
                                             MIN (event->motion.y, self->height - 1),
                                             self->width, self->height);
    zwlr_virtual_pointer_v1_frame (self->pointer);
    break;
  case FH_INPUT_POINTER_BUTTON:
    zwlr_virtual_pointer_v1_button (self->pointer, now_ms (), event->button.button,
                                    event->button.pressed ? WL_POINTER_BUTTON_STATE_PRESSED
                                                          : WL_POINTER_BUTTON_STATE_RELEASED);
    zwlr_virtual_pointer_v1_frame (self->pointer);
    break;
  case FH_INPUT_SCROLL:
    send_scroll (self, WL_POINTER_AXIS_VERTICAL_SCROLL, event->scroll.dy);
    send_scroll (self, WL_POINTER_AXIS_HORIZONTAL_SCROLL, event->scroll.dx);
    zwlr_virtual_pointer_v1_frame (self->pointer);
    break;
  case FH_INPUT_POINTER_RELATIVE:
    zwlr_virtual_pointer_v1_motion (self->pointer, now_ms (),
                                    wl_fixed_from_int (event->relative.dx),
                                    wl_fixed_from_int (event->relative.dy));
    zwlr_virtual_pointer_v1_frame (self->pointer);
    break;
  }
  return flush (self, error);
}
