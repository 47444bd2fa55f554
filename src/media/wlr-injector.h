/* Per-session injector for wlroots compositors: zwp_virtual_keyboard_v1
 * (with an xkb keymap) and zwlr_virtual_pointer_v1 bound to the session's
 * output. Opened lazily on the first event; main thread. */
#pragma once

#include <gio/gio.h>

#include "media/event.h"

typedef struct _FhWlrInjector FhWlrInjector;

/* Nothing is opened yet. @layout: an xkb layout name ("us") or NULL. */
FhWlrInjector *fh_wlr_injector_new (const char *socket_path, guint width, guint height,
                                    const char *layout);
void fh_wlr_injector_free (FhWlrInjector *injector);

/* Connects now: the virtual keyboard and pointer exist before the
 * session's app starts, so the app's first key is a real press (a seat
 * that gains a keyboard later hands the app its first key only inside
 * wl_keyboard.enter, which most apps ignore). May run on a worker thread. */
gboolean fh_wlr_injector_connect (FhWlrInjector *injector, GError **error);

/* Connects on first use if needed; the keymap is in place before the
 * first key. */
/* A rectangle of the compositor's output layout. */
typedef struct {
  int x, y;
  guint width, height;
} FhLayoutRect;

/* For a shared desktop: one injector for every view. Its pointer belongs
 * to no output; absolute motion of a view at @view (its output's place in
 * the layout) is mapped into @layout (the box of all outputs). */
FhWlrInjector *fh_wlr_injector_new_shared (const char *socket_path, const char *layout_name);
gboolean fh_wlr_injector_inject_in_view (FhWlrInjector *injector, const FhInputEvent *event,
                                         const FhLayoutRect *view, const FhLayoutRect *layout,
                                         GError **error);

gboolean fh_wlr_injector_inject (FhWlrInjector *injector, const FhInputEvent *event,
                                 GError **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (FhWlrInjector, fh_wlr_injector_free)
