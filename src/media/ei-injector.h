/* A per-session injector through libei (sender) into one EIS server: a
 * gamescope instance's, say. The socket appears only once the instance is
 * up, so the injector opens lazily: on the first input event it reads the
 * socket's name from the instance's relay file, connects, binds keyboard,
 * absolute pointer, button and scroll, and sends what arrived meanwhile in
 * order (queued, not lost: at most FH_EI_QUEUE_MAX events). If the
 * instance goes away it reconnects on the next event. Runs on the main
 * context (the libei fd is a GSource). */
#pragma once

#include <gio/gio.h>

#include "media/event.h"

#define FH_EI_QUEUE_MAX 512

typedef struct _FhEiInjector FhEiInjector;

/* @relay_path: the file that holds $LIBEI_SOCKET of the instance (a path,
 * or a name relative to @runtime_dir). @width × @height: the output. */
FhEiInjector *fh_ei_injector_new (const char *relay_path, const char *runtime_dir, guint width,
                                  guint height);
/* An injector on an EIS connection that is already open (@fd, from
 * Mutter's ConnectToEIS, say; the injector owns it). It cannot reconnect:
 * when the server goes away, later events are dropped. @name is for logs.
 * Absolute motion lands in the pointer's first region when the server
 * gives it one (Mutter: the view's own monitor), scaled from @width ×
 * @height. */
FhEiInjector *fh_ei_injector_new_for_fd (int fd, const char *name, guint width, guint height);
void fh_ei_injector_free (FhEiInjector *injector);

/* Where absolute motion lands when the server's pointer has several
 * regions (KWin: one per output): the region of exactly @width × @height
 * (the last such one: the newest output), instead of the first. */
void fh_ei_injector_prefer_region_size (FhEiInjector *injector, guint width, guint height);

void fh_ei_injector_inject (FhEiInjector *injector, const FhInputEvent *event);

/* TRUE while connected with resumed devices (tests, logs). */
gboolean fh_ei_injector_is_ready (FhEiInjector *injector);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (FhEiInjector, fh_ei_injector_free)
