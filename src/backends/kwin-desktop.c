/* The shared desktop on KDE's KWin and the kwin backend that makes its
 * views.
 *
 * Each view is a virtual output of exactly the client's size, made with
 * zkde_screencast_unstable_v1.stream_virtual_output on a Wayland
 * connection of the view's own; KWin announces the output's PipeWire node
 * (`created`), which is captured like any other. The output goes when the
 * view closes its stream. Input goes through KWin's EIS
 * (org.kde.KWin /org/kde/KWin/EIS/RemoteDesktop connectToEIS, KWin 6.1 and
 * newer), driven by libei; the absolute pointer lands in the region of the
 * view's size.
 *
 * KWin offers zkde_screencast_unstable_v1 only to a program whose desktop
 * file lists it in X-KDE-Wayland-Interfaces, with an Exec= of the
 * program's own path: data/funkhaus.desktop.in, installed into
 * share/applications. And it screencasts only with OpenGL compositing on
 * a DRM render node: without a GPU it says so in `failed`, and the client
 * gets that reason. */
#include "backends/shared-desktop.h"

#include <errno.h>
#include <gio/gunixfdlist.h>
#include <glib-unix.h>
#include <poll.h>
#include <unistd.h>
#include <wayland-client.h>

#include "media/pipewire-video.h"
#include "base/process.h"
#include "media/ei-injector.h"
#include "zkde-screencast-unstable-v1-client-protocol.h"

#define KWIN_NAME "org.kde.KWin"
#define EIS_PATH "/org/kde/KWin/EIS/RemoteDesktop"
#define EIS_IFACE "org.kde.KWin.EIS.RemoteDesktop"
#define EIS_KEYBOARD 1
#define EIS_POINTER 2
#define CALL_TIMEOUT_MS 10000
#define CREATE_TIMEOUT_MS 10000
#define SCREENCAST_VERSION 2 /* stream_virtual_output */
#define NO_NODE G_MAXUINT32

typedef struct {
  FhSharedDesktop base;
  GDBusConnection *bus;
  char *wayland_socket;
  FhPipeWire *pipewire; /* the desktop's own */
} FhKwinDesktop;

/* ---- a Wayland connection with KWin's screencast ------------------------ */

typedef struct {
  struct wl_display *display;
  struct wl_registry *registry;
  struct zkde_screencast_unstable_v1 *screencast;
  guint32 version;
} FhKwinConnection;

static void
registry_global (void *data, struct wl_registry *registry, uint32_t name, const char *interface,
                 uint32_t version)
{
  FhKwinConnection *self = data;

  if (g_str_equal (interface, zkde_screencast_unstable_v1_interface.name) && !self->screencast) {
    self->version = MIN (version, (guint32) SCREENCAST_VERSION);
    self->screencast = wl_registry_bind (registry, name, &zkde_screencast_unstable_v1_interface,
                                         self->version);
  }
}

static void
registry_global_remove (void *data, struct wl_registry *registry, uint32_t name)
{
}

static const struct wl_registry_listener registry_listener = {
  .global = registry_global,
  .global_remove = registry_global_remove,
};

static void
connection_close (FhKwinConnection *self)
{
  if (self->screencast)
    zkde_screencast_unstable_v1_destroy (self->screencast);
  if (self->registry)
    wl_registry_destroy (self->registry);
  if (self->display)
    wl_display_disconnect (self->display);
  *self = (FhKwinConnection) { 0 };
}

static gboolean
connection_open (FhKwinConnection *self, const char *socket, GError **error)
{
  if (!(self->display = wl_display_connect (socket))) {
    int saved = errno;
    g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved),
                 "cannot connect to KWin's Wayland socket %s: %s", socket, g_strerror (saved));
    return FALSE;
  }
  self->registry = wl_display_get_registry (self->display);
  wl_registry_add_listener (self->registry, &registry_listener, self);
  if (wl_display_roundtrip (self->display) < 0) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "KWin's Wayland connection failed");
    connection_close (self);
    return FALSE;
  }
  if (!self->screencast) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
                 "KWin does not offer zkde_screencast_unstable_v1 to funkhaus: it offers it only "
                 "to programs whose desktop file lists it (install funkhaus, or put "
                 "data/funkhaus.desktop.in with Exec= this program's path into "
                 "share/applications)");
    connection_close (self);
    return FALSE;
  }
  if (self->version < SCREENCAST_VERSION) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
                 "KWin's zkde_screencast_unstable_v1 is version %u; virtual outputs need %u",
                 self->version, (guint) SCREENCAST_VERSION);
    connection_close (self);
    return FALSE;
  }
  return TRUE;
}

/* ---- the desktop ---------------------------------------------------------- */

static void
kwin_free (FhSharedDesktop *desktop)
{
  FhKwinDesktop *self = (FhKwinDesktop *) desktop;

  g_clear_pointer (&self->pipewire, fh_pipewire_free);
  g_clear_object (&self->bus);
  g_free (self->wayland_socket);
  g_free (self);
}

static gboolean
kwin_owns_process (FhSharedDesktop *desktop, int pid)
{
  return desktop->pid > 0 && fh_process_descends_from (pid, &desktop->pid, 1);
}

static const FhSharedDesktopOps kwin_ops = {
  .kind = "kwin",
  .free = kwin_free,
  .owns_process = kwin_owns_process,
};

FhSharedDesktop *
fh_shared_desktop_new_kwin (GDBusConnection *bus, const char *wayland_socket,
                            const char *pipewire_remote, guint max_views, GError **error)
{
  FhKwinDesktop *self = g_new0 (FhKwinDesktop, 1);
  g_autoptr (FhSharedDesktop) desktop = &self->base;
  g_autoptr (GVariant) pid = NULL;
  FhKwinConnection probe = { 0 };

  self->base.ops = &kwin_ops;
  self->base.backend = &fh_display_backend_kwin;
  self->base.max_views = max_views;
  self->bus = g_object_ref (bus);
  self->wayland_socket = g_strdup (wayland_socket);

  pid = g_dbus_connection_call_sync (bus, "org.freedesktop.DBus", "/org/freedesktop/DBus",
                                     "org.freedesktop.DBus", "GetConnectionUnixProcessID",
                                     g_variant_new ("(s)", KWIN_NAME), G_VARIANT_TYPE ("(u)"),
                                     G_DBUS_CALL_FLAGS_NONE, CALL_TIMEOUT_MS, NULL, NULL);
  if (pid) {
    guint32 value;
    g_variant_get (pid, "(u)", &value);
    self->base.pid = (int) value;
  }
  /* Checked now, so a missing desktop file is said at start, not per view. */
  if (!connection_open (&probe, wayland_socket, error))
    return NULL;
  connection_close (&probe);
  if (!(self->pipewire = fh_pipewire_connect (pipewire_remote, error))) {
    g_prefix_error (error, "the desktop's PipeWire: ");
    return NULL;
  }
  g_message ("shared desktop: KDE KWin %d at %s, up to %u views", self->base.pid, wayland_socket,
             max_views);
  return g_steal_pointer (&desktop);
}

/* ---- the kwin backend: one view ------------------------------------------ */

typedef struct {
  FhVirtualOutput base;
  FhKwinDesktop *desktop;
  FhKwinConnection wayland;
  struct zkde_screencast_stream_unstable_v1 *stream;
  guint32 node_id;
  char *failure; /* KWin's `failed` */
  gboolean closed;
  guint watch; /* the Wayland fd on the main loop, after start */
  int eis_fd; /* until start() hands it to the injector */
  gint32 eis_cookie;
  gboolean has_cookie;
  FhPwVideo *video;
  FhEiInjector *injector; /* main thread */
} FhKwinOutput;

static void
stream_closed (void *data, struct zkde_screencast_stream_unstable_v1 *stream)
{
  FhKwinOutput *self = data;

  self->closed = TRUE;
}

static void
stream_created (void *data, struct zkde_screencast_stream_unstable_v1 *stream, uint32_t node)
{
  FhKwinOutput *self = data;

  self->node_id = node;
}

static void
stream_failed (void *data, struct zkde_screencast_stream_unstable_v1 *stream, const char *error)
{
  FhKwinOutput *self = data;

  g_free (self->failure);
  self->failure = g_strdup (error && *error ? error : "no reason given");
}

static const struct zkde_screencast_stream_unstable_v1_listener stream_listener = {
  .closed = stream_closed,
  .created = stream_created,
  .failed = stream_failed,
};

/* Worker thread: the virtual output, its node and the EIS connection. */
static gboolean
open_view (FhKwinOutput *self, const FhOutputRequest *request, GError **error)
{
  g_autofree char *name = g_strdup_printf ("funkhaus-%.8s", request->session_id);
  g_autoptr (GVariant) eis = NULL;
  g_autoptr (GUnixFDList) fds = NULL;
  gint64 end = g_get_monotonic_time () + CREATE_TIMEOUT_MS * 1000;
  gint32 handle;

  if (!connection_open (&self->wayland, self->desktop->wayland_socket, error))
    return FALSE;
  self->node_id = NO_NODE;
  self->stream = zkde_screencast_unstable_v1_stream_virtual_output (
    self->wayland.screencast, name, (int32_t) request->mode.width,
    (int32_t) request->mode.height, wl_fixed_from_int (1),
    ZKDE_SCREENCAST_UNSTABLE_V1_POINTER_EMBEDDED);
  zkde_screencast_stream_unstable_v1_add_listener (self->stream, &stream_listener, self);
  while (self->node_id == NO_NODE && !self->failure && !self->closed) {
    struct pollfd fd = { wl_display_get_fd (self->wayland.display), POLLIN, 0 };
    gint64 left = end - g_get_monotonic_time ();

    if (left <= 0)
      break;
    while (wl_display_prepare_read (self->wayland.display) != 0)
      wl_display_dispatch_pending (self->wayland.display);
    wl_display_flush (self->wayland.display);
    if (poll (&fd, 1, (int) MAX (1, left / 1000)) > 0) {
      if (wl_display_read_events (self->wayland.display) < 0)
        break;
    } else {
      wl_display_cancel_read (self->wayland.display);
    }
    if (wl_display_dispatch_pending (self->wayland.display) < 0)
      break;
  }
  if (self->failure) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "KWin refused the virtual output: %s",
                 self->failure);
    return FALSE;
  }
  if (self->node_id == NO_NODE) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT,
                 self->closed ? "KWin closed the virtual output at once"
                              : "KWin announced no PipeWire node for the virtual output in %d s",
                 CREATE_TIMEOUT_MS / 1000);
    return FALSE;
  }

  eis = g_dbus_connection_call_with_unix_fd_list_sync (
    self->desktop->bus, KWIN_NAME, EIS_PATH, EIS_IFACE, "connectToEIS",
    g_variant_new ("(i)", EIS_KEYBOARD | EIS_POINTER), G_VARIANT_TYPE ("(hi)"),
    G_DBUS_CALL_FLAGS_NONE, CALL_TIMEOUT_MS, NULL, &fds, NULL, error);
  if (!eis) {
    g_prefix_error (error, "KWin's EIS (connectToEIS, KWin 6.1 or newer): ");
    return FALSE;
  }
  g_variant_get (eis, "(hi)", &handle, &self->eis_cookie);
  self->has_cookie = TRUE;
  if ((self->eis_fd = g_unix_fd_list_get (fds, handle, error)) < 0)
    return FALSE;
  return TRUE;
}

static gboolean
on_wayland (int fd, GIOCondition condition, gpointer data)
{
  FhKwinOutput *self = data;
  gboolean lost = (condition & (G_IO_ERR | G_IO_HUP)) != 0;

  if (!lost && wl_display_dispatch (self->wayland.display) < 0)
    lost = TRUE;
  if (!lost && !self->closed)
    return G_SOURCE_CONTINUE;
  self->watch = 0;
  if (self->base.on_failed)
    self->base.on_failed (&self->base,
                          lost ? "lost the connection to KWin" : "KWin closed the virtual output",
                          self->base.user_data);
  return G_SOURCE_REMOVE;
}

static void
kwin_start (FhVirtualOutput *output)
{
  FhKwinOutput *self = (FhKwinOutput *) output;

  self->watch = g_unix_fd_add (wl_display_get_fd (self->wayland.display),
                               G_IO_IN | G_IO_ERR | G_IO_HUP, on_wayland, self);
  self->injector = fh_ei_injector_new_for_fd (self->eis_fd, "KDE KWin", output->mode.width,
                                              output->mode.height);
  fh_ei_injector_prefer_region_size (self->injector, output->mode.width, output->mode.height);
  self->eis_fd = -1;
  fh_virtual_output_capture_node (output, self->desktop->pipewire, self->node_id, &self->video,
                                  "the virtual output");
}

static gboolean
kwin_capture (FhVirtualOutput *output, FhFrame *frame, guint64 frame_number, gint64 deadline_us,
              gint64 *timestamp_us, GError **error)
{
  FhKwinOutput *self = (FhKwinOutput *) output;

  /* NULL while its node is still being looked for: nothing new yet. */
  return fh_pw_video_capture_pending (&self->video, frame, deadline_us, timestamp_us, error);
}

static void
kwin_inject (FhVirtualOutput *output, const FhInputEvent *event)
{
  FhKwinOutput *self = (FhKwinOutput *) output;

  if (self->injector)
    fh_ei_injector_inject (self->injector, event);
}

static void
kwin_destroy (FhVirtualOutput *output)
{
  FhKwinOutput *self = (FhKwinOutput *) output;

  g_clear_handle_id (&self->watch, g_source_remove);
  g_clear_pointer (&self->injector, fh_ei_injector_free);
  g_clear_pointer (&self->video, fh_pw_video_free);
  if (self->eis_fd >= 0)
    close (self->eis_fd);
  if (self->has_cookie && self->desktop) {
    g_autoptr (GVariant) done = g_dbus_connection_call_sync (
      self->desktop->bus, KWIN_NAME, EIS_PATH, EIS_IFACE, "disconnect",
      g_variant_new ("(i)", self->eis_cookie), NULL, G_DBUS_CALL_FLAGS_NONE, CALL_TIMEOUT_MS,
      NULL, NULL);
  }
  if (self->stream) {
    /* Closing the stream takes KWin's virtual output away. */
    zkde_screencast_stream_unstable_v1_close (self->stream);
    wl_display_flush (self->wayland.display);
  }
  connection_close (&self->wayland);
  g_free (self->failure);
  fh_virtual_output_finish (output);
  g_free (self);
}

static const FhVirtualOutputOps kwin_output_ops = {
  .start = kwin_start,
  .capture = kwin_capture,
  .inject = kwin_inject,
  .destroy = kwin_destroy,
};

static FhVirtualOutput *
kwin_create_output (const FhOutputRequest *request, GError **error)
{
  FhKwinOutput *self = g_new0 (FhKwinOutput, 1);
  FhVirtualOutput *output = &self->base;

  fh_virtual_output_init (output, &kwin_output_ops, request);
  self->eis_fd = -1;
  if (!request->shared_desktop || request->shared_desktop->ops != &kwin_ops) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED, "this host has no KWin desktop");
    kwin_destroy (output);
    return NULL;
  }
  self->desktop = (FhKwinDesktop *) request->shared_desktop;
  if (!open_view (self, request, error)) {
    kwin_destroy (output);
    return NULL;
  }
  g_message ("shared desktop: view %.8s is KWin's virtual output at %ux%u (node %u)",
             request->session_id, request->mode.width, request->mode.height, self->node_id);
  return output;
}

const FhDisplayBackend fh_display_backend_kwin = {
  .name = "kwin",
  .description = "a view of the shared desktop on KDE KWin: one virtual output per client",
  .create_output = kwin_create_output,
};
