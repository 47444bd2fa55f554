/* The shared desktop: a running sway (the user's own) that several clients
 * view at once, each through a headless output of its own at exactly its
 * mode, and drive through one shared injector. Host-lifetime; made by the
 * context when a shared desktop is configured (or found: SWAYSOCK).
 *
 * sway 1.7 cannot remove an output and wlroots 0.15 cannot disable a
 * headless one: an output a client leaves is parked (FH_SHARED_PARKED_SIZE
 * square, 1 Hz) and reused for the next client (sway 1.8 and newer can
 * remove it: `output NAME unplug`). */
#pragma once

#include <gio/gio.h>

#include "input/event.h"
#include "input/wlr-injector.h"
#include "net/protocol.h"

typedef struct _FhSharedDesktop FhSharedDesktop;

#define FH_SHARED_PARKED_SIZE 64

/* @ipc_socket: sway's IPC socket ($SWAYSOCK); @wayland_socket: its Wayland
 * socket (absolute). Fails when sway does not answer. */
FhSharedDesktop *fh_shared_desktop_new (const char *ipc_socket, const char *wayland_socket,
                                        const char *keyboard_layout, guint max_views,
                                        GError **error);
void fh_shared_desktop_free (FhSharedDesktop *desktop);

const char *fh_shared_desktop_get_wayland_socket (FhSharedDesktop *desktop);
const char *fh_shared_desktop_get_ipc_socket (FhSharedDesktop *desktop);
/* The compositor's process (from the IPC socket's credentials). */
int fh_shared_desktop_get_pid (FhSharedDesktop *desktop);

/* Main thread: a place for one more view, or FALSE when max_views are
 * taken. Every TRUE is paired with a release. */
gboolean fh_shared_desktop_reserve_view (FhSharedDesktop *desktop);
void fh_shared_desktop_release_view (FhSharedDesktop *desktop);

/* Any thread: an enabled headless output at exactly @mode, placed right of
 * the others; returns its name and writes its place into @rect. */
char *fh_shared_desktop_add_output (FhSharedDesktop *desktop, const FhMode *mode,
                                    FhLayoutRect *rect, GError **error);
/* Any thread: parks output @name and keeps it for the next view. */
void fh_shared_desktop_remove_output (FhSharedDesktop *desktop, const char *name);

/* Main thread: @event from the view at @view, through the shared injector. */
void fh_shared_desktop_inject (FhSharedDesktop *desktop, const FhLayoutRect *view,
                               const FhInputEvent *event);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (FhSharedDesktop, fh_shared_desktop_free)
