/* What the host tells its service manager (systemd, Type=notify) over
 * $NOTIFY_SOCKET: READY=1 once it serves, STATUS= with the session count
 * whenever that changes, STOPPING=1 when a stop begins, and WATCHDOG=1 at
 * half the interval of $WATCHDOG_USEC, from the main loop (a main loop
 * that hangs stops the pings, and systemd restarts the host). Without
 * $NOTIFY_SOCKET, or in a build without libsystemd, it does nothing. */
#pragma once

#include <glib.h>

#include "core/core.h"

typedef struct _FhNotifier FhNotifier;

/* Takes the watchdog's settings out of the environment, so that nothing
 * the host starts inherits them: call before the host starts threads. */
FhNotifier *fh_notifier_new (void);
/* Stops listening to the core; sends nothing. */
void fh_notifier_free (FhNotifier *notifier);

/* The host serves on @port: READY=1 and the first STATUS=; from now on a
 * STATUS= for every change of @core's session count, and the watchdog's
 * pings. @core must outlive the notifier. */
void fh_notifier_ready (FhNotifier *notifier, FhCore *core, guint port);
/* STOPPING=1, once however often it is called. */
void fh_notifier_stopping (FhNotifier *notifier);
/* The host could not start: STATUS= with why (systemctl status shows it). */
void fh_notifier_failed (FhNotifier *notifier, const char *message);

/* "serving on port 47900, 2 sessions": the STATUS= text. */
char *fh_notifier_status_text (guint port, guint sessions);

/* Whether this build talks to a service manager at all (libsystemd). */
gboolean fh_notifier_supported (void);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (FhNotifier, fh_notifier_free)
