/* The shared desktop on GNOME Mutter, through its own D-Bus API (no portal
 * dialog), and the mutter backend that makes its views.
 *
 * Each view is one org.gnome.Mutter.RemoteDesktop session with a linked
 * org.gnome.Mutter.ScreenCast session that records one virtual monitor
 * (RecordVirtual). Mutter sizes a virtual monitor after what its PipeWire
 * consumer asks for, and the capture asks for exactly the client's mode.
 * A view is a session of its own because Mutter starts only the streams a
 * session has when it starts, and removes a virtual monitor only with its
 * session: a client that leaves takes exactly its own monitor away.
 * Input goes through the view's ConnectToEIS (libei, sender): the same
 * seat for every view, and the absolute pointer's region is the view's own
 * monitor. The D-Bus connection lives as long as the host: Mutter ends
 * every session of a caller that leaves the bus. */
#include "backends/shared-desktop.h"

#include <gio/gunixfdlist.h>
#include <unistd.h>

#include "media/pipewire-video.h"
#include "base/process.h"
#include "media/ei-injector.h"

#define RD_NAME "org.gnome.Mutter.RemoteDesktop"
#define RD_PATH "/org/gnome/Mutter/RemoteDesktop"
#define RD_SESSION_IFACE "org.gnome.Mutter.RemoteDesktop.Session"
#define SC_NAME "org.gnome.Mutter.ScreenCast"
#define SC_PATH "/org/gnome/Mutter/ScreenCast"
#define SC_SESSION_IFACE "org.gnome.Mutter.ScreenCast.Session"
#define SC_STREAM_IFACE "org.gnome.Mutter.ScreenCast.Stream"
#define CALL_TIMEOUT_MS 10000
#define NODE_TIMEOUT_US (10 * G_USEC_PER_SEC)
#define CURSOR_MODE_EMBEDDED 1
#define NO_NODE G_MAXUINT32

typedef struct {
  FhSharedDesktop base;
  GDBusConnection *bus;
  FhPipeWire *pipewire; /* the desktop's own */
} FhMutterDesktop;

static void
mutter_free (FhSharedDesktop *desktop)
{
  FhMutterDesktop *self = (FhMutterDesktop *) desktop;

  g_clear_pointer (&self->pipewire, fh_pipewire_free);
  g_clear_object (&self->bus);
  g_free (self);
}

/* The desktop's apps descend from Mutter (gnome-shell, in a full GNOME). */
static gboolean
mutter_owns_process (FhSharedDesktop *desktop, int pid)
{
  return desktop->pid > 0 && fh_process_descends_from (pid, &desktop->pid, 1);
}

static const FhSharedDesktopOps mutter_ops = {
  .kind = "mutter",
  .free = mutter_free,
  .owns_process = mutter_owns_process,
};

FhSharedDesktop *
fh_shared_desktop_new_mutter (GDBusConnection *bus, const char *pipewire_remote,
                              guint max_views, GError **error)
{
  FhMutterDesktop *self = g_new0 (FhMutterDesktop, 1);
  g_autoptr (FhSharedDesktop) desktop = &self->base;
  g_autoptr (GVariant) pid = NULL;
  g_autoptr (GVariant) version = NULL;
  gint32 api = 0;

  self->base.ops = &mutter_ops;
  self->base.backend = &fh_display_backend_mutter;
  self->base.max_views = max_views;
  self->bus = g_object_ref (bus);

  pid = g_dbus_connection_call_sync (bus, "org.freedesktop.DBus", "/org/freedesktop/DBus",
                                     "org.freedesktop.DBus", "GetConnectionUnixProcessID",
                                     g_variant_new ("(s)", RD_NAME), G_VARIANT_TYPE ("(u)"),
                                     G_DBUS_CALL_FLAGS_NONE, CALL_TIMEOUT_MS, NULL, NULL);
  if (pid) {
    guint32 value;
    g_variant_get (pid, "(u)", &value);
    self->base.pid = (int) value;
  }
  version = g_dbus_connection_call_sync (
    bus, RD_NAME, RD_PATH, "org.freedesktop.DBus.Properties", "Get",
    g_variant_new ("(ss)", RD_NAME, "Version"), G_VARIANT_TYPE ("(v)"),
    G_DBUS_CALL_FLAGS_NONE, CALL_TIMEOUT_MS, NULL, error);
  if (!version) {
    g_prefix_error (error, "GNOME Mutter's RemoteDesktop does not answer: ");
    return NULL;
  }
  {
    g_autoptr (GVariant) inner = NULL;
    g_variant_get (version, "(v)", &inner);
    if (g_variant_is_of_type (inner, G_VARIANT_TYPE_INT32))
      api = g_variant_get_int32 (inner);
  }
  if (!(self->pipewire = fh_pipewire_connect (pipewire_remote, error))) {
    g_prefix_error (error, "the desktop's PipeWire: ");
    return NULL;
  }
  g_message ("shared desktop: GNOME Mutter %d (RemoteDesktop API %d), up to %u views",
             self->base.pid, api, max_views);
  return g_steal_pointer (&desktop);
}

/* ---- the mutter backend: one view ---------------------------------------- */

typedef struct {
  FhVirtualOutput base;
  FhMutterDesktop *desktop;
  char *rd_session; /* object paths */
  char *sc_stream;
  guint32 node_id;
  int eis_fd; /* until start() hands it to the injector */
  guint closed_signal;
  FhPwVideo *video; /* made on the main thread, read by the encode thread */
  FhEiInjector *injector; /* main thread */
} FhMutterOutput;

static GVariant *
call (FhMutterOutput *self, const char *name, const char *path, const char *iface,
      const char *method, GVariant *args, const GVariantType *reply, GError **error)
{
  GVariant *result = g_dbus_connection_call_sync (self->desktop->bus, name, path, iface, method,
                                                  args, reply, G_DBUS_CALL_FLAGS_NONE,
                                                  CALL_TIMEOUT_MS, NULL, error);

  if (!result)
    g_prefix_error (error, "Mutter's %s.%s: ", iface, method);
  return result;
}

static void
on_stream_added (GDBusConnection *bus, const char *sender, const char *path, const char *iface,
                 const char *signal, GVariant *parameters, gpointer data)
{
  FhMutterOutput *self = data;

  if (g_variant_is_of_type (parameters, G_VARIANT_TYPE ("(u)")))
    g_variant_get (parameters, "(u)", &self->node_id);
}

/* Worker thread: the sessions, the virtual monitor's PipeWire node and the
 * EIS connection. */
static gboolean
open_view (FhMutterOutput *self, GError **error)
{
  g_autoptr (GMainContext) context = g_main_context_new ();
  g_autoptr (GVariant) rd = NULL, id = NULL, sc = NULL, stream = NULL, started = NULL;
  g_autoptr (GVariant) eis = NULL;
  g_autoptr (GUnixFDList) fds = NULL;
  g_autofree char *session_id = NULL, *sc_session = NULL;
  GVariantBuilder props;
  guint subscription;
  gint64 end;
  gint32 handle;

  if (!(rd = call (self, RD_NAME, RD_PATH, RD_NAME, "CreateSession", NULL,
                   G_VARIANT_TYPE ("(o)"), error)))
    return FALSE;
  g_variant_get (rd, "(o)", &self->rd_session);
  if (!(id = call (self, RD_NAME, self->rd_session, "org.freedesktop.DBus.Properties", "Get",
                   g_variant_new ("(ss)", RD_SESSION_IFACE, "SessionId"),
                   G_VARIANT_TYPE ("(v)"), error)))
    return FALSE;
  {
    g_autoptr (GVariant) inner = NULL;
    g_variant_get (id, "(v)", &inner);
    session_id = g_variant_dup_string (inner, NULL);
  }

  g_variant_builder_init (&props, G_VARIANT_TYPE_VARDICT);
  g_variant_builder_add (&props, "{sv}", "remote-desktop-session-id",
                         g_variant_new_string (session_id));
  if (!(sc = call (self, SC_NAME, SC_PATH, SC_NAME, "CreateSession",
                   g_variant_new ("(a{sv})", &props), G_VARIANT_TYPE ("(o)"), error)))
    return FALSE;
  g_variant_get (sc, "(o)", &sc_session);

  g_variant_builder_init (&props, G_VARIANT_TYPE_VARDICT);
  g_variant_builder_add (&props, "{sv}", "cursor-mode",
                         g_variant_new_uint32 (CURSOR_MODE_EMBEDDED));
  if (!(stream = call (self, SC_NAME, sc_session, SC_SESSION_IFACE, "RecordVirtual",
                       g_variant_new ("(a{sv})", &props), G_VARIANT_TYPE ("(o)"), error)))
    return FALSE;
  g_variant_get (stream, "(o)", &self->sc_stream);

  /* The node is announced by a signal once the session starts: listen on a
   * context of this thread's own. */
  g_main_context_push_thread_default (context);
  self->node_id = NO_NODE;
  subscription = g_dbus_connection_signal_subscribe (
    self->desktop->bus, RD_NAME, SC_STREAM_IFACE, "PipeWireStreamAdded", self->sc_stream, NULL,
    G_DBUS_SIGNAL_FLAGS_NONE, on_stream_added, self, NULL);
  started = call (self, RD_NAME, self->rd_session, RD_SESSION_IFACE, "Start", NULL, NULL, error);
  end = g_get_monotonic_time () + NODE_TIMEOUT_US;
  while (started && self->node_id == NO_NODE && g_get_monotonic_time () < end) {
    if (!g_main_context_iteration (context, FALSE))
      g_usleep (10000);
  }
  g_dbus_connection_signal_unsubscribe (self->desktop->bus, subscription);
  g_main_context_pop_thread_default (context);
  if (!started)
    return FALSE;
  if (self->node_id == NO_NODE) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT,
                 "Mutter announced no PipeWire node for the virtual monitor in %d s",
                 (int) (NODE_TIMEOUT_US / G_USEC_PER_SEC));
    return FALSE;
  }

  g_variant_builder_init (&props, G_VARIANT_TYPE_VARDICT);
  eis = g_dbus_connection_call_with_unix_fd_list_sync (
    self->desktop->bus, RD_NAME, self->rd_session, RD_SESSION_IFACE, "ConnectToEIS",
    g_variant_new ("(a{sv})", &props), G_VARIANT_TYPE ("(h)"), G_DBUS_CALL_FLAGS_NONE,
    CALL_TIMEOUT_MS, NULL, &fds, NULL, error);
  if (!eis) {
    g_prefix_error (error, "Mutter's ConnectToEIS: ");
    return FALSE;
  }
  g_variant_get (eis, "(h)", &handle);
  if ((self->eis_fd = g_unix_fd_list_get (fds, handle, error)) < 0)
    return FALSE;
  return TRUE;
}

static void
on_session_closed (GDBusConnection *bus, const char *sender, const char *path,
                   const char *iface, const char *signal, GVariant *parameters, gpointer data)
{
  FhMutterOutput *self = data;

  g_clear_pointer (&self->rd_session, g_free); /* nothing left to stop */
  if (self->base.on_failed)
    self->base.on_failed (&self->base, "GNOME Mutter closed the view's session",
                          self->base.user_data);
}

static void
mutter_start (FhVirtualOutput *output)
{
  FhMutterOutput *self = (FhMutterOutput *) output;

  self->closed_signal = g_dbus_connection_signal_subscribe (
    self->desktop->bus, RD_NAME, RD_SESSION_IFACE, "Closed", self->rd_session, NULL,
    G_DBUS_SIGNAL_FLAGS_NONE, on_session_closed, self, NULL);
  self->injector = fh_ei_injector_new_for_fd (self->eis_fd, "GNOME Mutter", output->mode.width,
                                              output->mode.height);
  self->eis_fd = -1;
  fh_virtual_output_capture_node (output, self->desktop->pipewire, self->node_id, &self->video,
                                  "the virtual monitor");
}

static gboolean
mutter_capture (FhVirtualOutput *output, FhFrame *frame, guint64 frame_number,
                gint64 deadline_us, gint64 *timestamp_us, GError **error)
{
  FhMutterOutput *self = (FhMutterOutput *) output;

  /* NULL while its node is still being looked for: nothing new yet. */
  return fh_pw_video_capture_pending (&self->video, frame, deadline_us, timestamp_us, error);
}

static void
mutter_inject (FhVirtualOutput *output, const FhInputEvent *event)
{
  FhMutterOutput *self = (FhMutterOutput *) output;

  if (self->injector)
    fh_ei_injector_inject (self->injector, event);
}

static void
mutter_destroy (FhVirtualOutput *output)
{
  FhMutterOutput *self = (FhMutterOutput *) output;

  if (self->closed_signal)
    g_dbus_connection_signal_unsubscribe (self->desktop->bus, self->closed_signal);
  g_clear_pointer (&self->injector, fh_ei_injector_free);
  g_clear_pointer (&self->video, fh_pw_video_free);
  if (self->eis_fd >= 0)
    close (self->eis_fd);
  if (self->rd_session) {
    g_autoptr (GError) error = NULL;
    g_autoptr (GVariant) stopped = call (self, RD_NAME, self->rd_session, RD_SESSION_IFACE,
                                         "Stop", NULL, NULL, &error);
    if (!stopped)
      g_warning ("shared desktop: %s", error->message);
    else
      g_message ("shared desktop: view %.8s gone, its virtual monitor with it",
                 output->session_id);
  }
  g_free (self->rd_session);
  g_free (self->sc_stream);
  fh_virtual_output_finish (output);
  g_free (self);
}

static const FhVirtualOutputOps mutter_output_ops = {
  .start = mutter_start,
  .capture = mutter_capture,
  .inject = mutter_inject,
  .destroy = mutter_destroy,
};

static FhVirtualOutput *
mutter_create_output (const FhOutputRequest *request, GError **error)
{
  FhMutterOutput *self = g_new0 (FhMutterOutput, 1);
  FhVirtualOutput *output = &self->base;

  fh_virtual_output_init (output, &mutter_output_ops, request);
  self->eis_fd = -1;
  self->desktop = (FhMutterDesktop *) request->shared_desktop;
  if (!self->desktop || request->shared_desktop->ops != &mutter_ops) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
                 "this host has no GNOME Mutter desktop");
    self->desktop = NULL;
    goto fail;
  }
  if (!open_view (self, error))
    goto fail;
  g_message ("shared desktop: view %.8s is Mutter's virtual monitor at %ux%u (node %u)",
             request->session_id, request->mode.width, request->mode.height, self->node_id);
  return output;

fail:
  if (!self->desktop) {
    fh_virtual_output_finish (output);
    g_free (self);
    return NULL;
  }
  mutter_destroy (output);
  return NULL;
}

const FhDisplayBackend fh_display_backend_mutter = {
  .name = "mutter",
  .description = "a view of the shared desktop on GNOME Mutter: one virtual monitor per client",
  .create_output = mutter_create_output,
};
