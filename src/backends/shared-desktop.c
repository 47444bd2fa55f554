/* The shared desktop: what every kind has, and which kind runs here. */
#include "backends/shared-desktop.h"

#define MUTTER_BUS_NAME "org.gnome.Mutter.RemoteDesktop"
#define KWIN_BUS_NAME "org.kde.KWin"

void
fh_shared_desktop_free (FhSharedDesktop *self)
{
  if (self)
    self->ops->free (self);
}

const char *
fh_shared_desktop_get_kind (FhSharedDesktop *self)
{
  return self->ops->kind;
}

const FhDisplayBackend *
fh_shared_desktop_get_backend (FhSharedDesktop *self)
{
  return self->backend;
}

int
fh_shared_desktop_get_pid (FhSharedDesktop *self)
{
  return self->pid;
}

gboolean
fh_shared_desktop_owns_process (FhSharedDesktop *self, int pid)
{
  return self->ops->owns_process (self, pid);
}

gboolean
fh_shared_desktop_reserve_view (FhSharedDesktop *self)
{
  if (self->views >= self->max_views)
    return FALSE;
  self->views++;
  return TRUE;
}

void
fh_shared_desktop_release_view (FhSharedDesktop *self)
{
  g_return_if_fail (self->views > 0);
  self->views--;
}

/* ---- which desktop -------------------------------------------------------- */

static GDBusConnection *
open_bus (const FhSharedDesktopConfig *config, GError **error)
{
  const char *address = config->dbus_address && *config->dbus_address
                          ? config->dbus_address
                          : g_getenv ("DBUS_SESSION_BUS_ADDRESS");

  if (!address || !*address) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND,
                 "no session bus (set shared-dbus in config.ini, or run the host inside the "
                 "desktop's session)");
    return NULL;
  }
  return g_dbus_connection_new_for_address_sync (
    address, G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT |
               G_DBUS_CONNECTION_FLAGS_MESSAGE_BUS_CONNECTION,
    NULL, NULL, error);
}

static gboolean
has_owner (GDBusConnection *bus, const char *name)
{
  g_autoptr (GVariant) reply = g_dbus_connection_call_sync (
    bus, "org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus",
    "NameHasOwner", g_variant_new ("(s)", name), G_VARIANT_TYPE ("(b)"),
    G_DBUS_CALL_FLAGS_NONE, 2000, NULL, NULL);
  gboolean owned = FALSE;

  if (reply)
    g_variant_get (reply, "(b)", &owned);
  return owned;
}

static char *
wayland_socket (const FhSharedDesktopConfig *config)
{
  if (config->wayland_socket && *config->wayland_socket)
    return g_strdup (config->wayland_socket);
  if (g_getenv ("WAYLAND_DISPLAY") && g_getenv ("XDG_RUNTIME_DIR"))
    return g_build_filename (g_getenv ("XDG_RUNTIME_DIR"), g_getenv ("WAYLAND_DISPLAY"), NULL);
  return NULL;
}

static FhSharedDesktop *
open_sway (const FhSharedDesktopConfig *config, const char *ipc, GError **error)
{
  g_autofree char *wayland = wayland_socket (config);

  if (!wayland) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND,
                 "no Wayland socket for sway: set shared-wayland in config.ini");
    return NULL;
  }
  return fh_shared_desktop_new_sway (ipc, wayland, config->keyboard_layout, config->max_views,
                                     error);
}

static FhSharedDesktop *
open_mutter (const FhSharedDesktopConfig *config, GDBusConnection *bus, GError **error)
{
  g_autoptr (GDBusConnection) own = NULL;

  if (!bus && !(bus = own = open_bus (config, error)))
    return NULL;
  if (!has_owner (bus, MUTTER_BUS_NAME)) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND,
                 "no GNOME Mutter on the session bus (%s has no owner)", MUTTER_BUS_NAME);
    return NULL;
  }
  return fh_shared_desktop_new_mutter (bus, config->pipewire_remote, config->max_views, error);
}

static FhSharedDesktop *
open_kwin (const FhSharedDesktopConfig *config, GDBusConnection *bus, GError **error)
{
  g_autoptr (GDBusConnection) own = NULL;
  g_autofree char *wayland = wayland_socket (config);

  if (!bus && !(bus = own = open_bus (config, error)))
    return NULL;
  if (!has_owner (bus, KWIN_BUS_NAME)) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND,
                 "no KDE KWin on the session bus (%s has no owner)", KWIN_BUS_NAME);
    return NULL;
  }
  if (!wayland) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND,
                 "no Wayland socket for KWin: set shared-wayland in config.ini");
    return NULL;
  }
  return fh_shared_desktop_new_kwin (bus, wayland, config->pipewire_remote, config->max_views,
                                     error);
}

FhSharedDesktop *
fh_shared_desktop_open (const FhSharedDesktopConfig *config, char **why, GError **error)
{
  const char *which = config->which;
  const char *swaysock = g_getenv ("SWAYSOCK");
  g_autoptr (GDBusConnection) bus = NULL;
  g_autoptr (GError) bus_error = NULL;

  *why = NULL;
  if (g_str_equal (which, "sway")) {
    if (!swaysock || !*swaysock) {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND,
                   "shared-desktop=sway, but $SWAYSOCK is not set (or give its path)");
      return NULL;
    }
    *why = g_strdup ("configured: sway at $SWAYSOCK");
    return open_sway (config, swaysock, error);
  }
  if (g_path_is_absolute (which)) {
    *why = g_strdup_printf ("configured: sway at %s", which);
    return open_sway (config, which, error);
  }
  if (g_str_equal (which, "mutter")) {
    *why = g_strdup ("configured: GNOME Mutter");
    return open_mutter (config, NULL, error);
  }
  if (g_str_equal (which, "kwin")) {
    *why = g_strdup ("configured: KDE KWin");
    return open_kwin (config, NULL, error);
  }
  if (!g_str_equal (which, "auto")) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                 "shared-desktop must be auto, sway, mutter, kwin, the path of sway's IPC "
                 "socket, or empty (off), not '%s'",
                 which);
    return NULL;
  }

  /* auto: sway says where it is; GNOME and KDE answer on the session bus. */
  if (swaysock && *swaysock) {
    *why = g_strdup_printf ("found sway: $SWAYSOCK is %s", swaysock);
    return open_sway (config, swaysock, error);
  }
  if (!(bus = open_bus (config, &bus_error))) {
    *why = g_strdup_printf ("none found: no $SWAYSOCK, and %s", bus_error->message);
    return NULL;
  }
  if (has_owner (bus, MUTTER_BUS_NAME)) {
    *why = g_strdup ("found GNOME Mutter: " MUTTER_BUS_NAME " is on the session bus");
    return open_mutter (config, bus, error);
  }
  if (has_owner (bus, KWIN_BUS_NAME)) {
    *why = g_strdup ("found KDE KWin: " KWIN_BUS_NAME " is on the session bus");
    return open_kwin (config, bus, error);
  }
  *why = g_strdup ("none found: no $SWAYSOCK, and neither GNOME Mutter nor KDE KWin on the "
                   "session bus");
  return NULL;
}
