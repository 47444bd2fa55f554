/* The shared desktop: the user's own running desktop, which several
 * clients view at once, each through a virtual monitor of its own at
 * exactly its mode, and all drive together. Host-lifetime; opened by the
 * core when one is configured or found. One kind per file:
 *
 *   sway    (sway-desktop.c)   swaymsg-made headless outputs, wlr-screencopy,
 *                              one shared virtual keyboard and pointer;
 *   mutter  (mutter-desktop.c) Mutter's RemoteDesktop and ScreenCast D-Bus
 *                              API: RecordVirtual per view, PipeWire, EIS;
 *   kwin    (kwin-desktop.c)   zkde_screencast_unstable_v1 virtual outputs,
 *                              PipeWire, KWin's EIS.
 *
 * Each kind names the display backend that makes its views; the session
 * asks for a view through that backend like for any other output. */
#pragma once

#include <gio/gio.h>

#include "backends/backend.h"

typedef struct _FhSharedDesktop FhSharedDesktop;

typedef struct {
  const char *kind; /* "sway", "mutter", "kwin" */
  void (*free) (FhSharedDesktop *desktop);
  /* Is process @pid one of the desktop's apps (for its speaker and mic)? */
  gboolean (*owns_process) (FhSharedDesktop *desktop, int pid);
} FhSharedDesktopOps;

struct _FhSharedDesktop {
  const FhSharedDesktopOps *ops;
  const FhDisplayBackend *backend; /* makes its views */
  int pid; /* the compositor, or 0 when unknown */
  guint max_views;
  guint views; /* main thread */
};

typedef struct {
  /* "auto", "sway", "mutter", "kwin", or the path of sway's IPC socket. */
  const char *which;
  /* sway's or KWin's, or NULL: $XDG_RUNTIME_DIR/$WAYLAND_DISPLAY */
  const char *wayland_socket;
  const char *dbus_address; /* the desktop's session bus, or NULL: the host's */
  const char *pipewire_remote; /* the desktop's PipeWire, or NULL: the default */
  const char *keyboard_layout;
  guint max_views;
} FhSharedDesktopConfig;

/* Opens the configured desktop, or with "auto" the one it finds (and says
 * which and why). NULL without an error: auto found none (*why says). */
FhSharedDesktop *fh_shared_desktop_open (const FhSharedDesktopConfig *config, char **why,
                                         GError **error);

/* One kind each. */
FhSharedDesktop *fh_shared_desktop_new_sway (const char *ipc_socket, const char *wayland_socket,
                                             const char *keyboard_layout, guint max_views,
                                             GError **error);
FhSharedDesktop *fh_shared_desktop_new_mutter (GDBusConnection *bus, const char *pipewire_remote,
                                               guint max_views, GError **error);
FhSharedDesktop *fh_shared_desktop_new_kwin (GDBusConnection *bus, const char *wayland_socket,
                                             const char *pipewire_remote, guint max_views,
                                             GError **error);

void fh_shared_desktop_free (FhSharedDesktop *desktop);

const char *fh_shared_desktop_get_kind (FhSharedDesktop *desktop);
const FhDisplayBackend *fh_shared_desktop_get_backend (FhSharedDesktop *desktop);
int fh_shared_desktop_get_pid (FhSharedDesktop *desktop);
gboolean fh_shared_desktop_owns_process (FhSharedDesktop *desktop, int pid);

/* Main thread: a place for one more view, or FALSE when max_views are
 * taken. Every TRUE is paired with a release. */
gboolean fh_shared_desktop_reserve_view (FhSharedDesktop *desktop);
void fh_shared_desktop_release_view (FhSharedDesktop *desktop);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (FhSharedDesktop, fh_shared_desktop_free)
