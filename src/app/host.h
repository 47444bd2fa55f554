/* The host: the app's wiring of the core and the client planes from the
 * config (which backend, which planes, on which ports), the control
 * socket, and the start banner. The only place that knows every plane. */
#pragma once

#include <gio/gio.h>

#include "app/config.h"
#include "core/core.h"

typedef struct _FhHost FhHost;

/* Takes @config. */
FhHost *fh_host_new (FhConfig *config, GError **error);
void fh_host_free (FhHost *host);

/* Starts the core and every plane, listens on the control socket and
 * prints where to point a browser. */
gboolean fh_host_start (FhHost *host, GError **error);
/* Closes every client, stops every session, removes every socket and
 * directory the host made. Safe to call twice. */
void fh_host_stop (FhHost *host);

FhCore *fh_host_get_core (FhHost *host);
/* The HTTPS port the web plane listens on (once started). */
guint fh_host_get_port (FhHost *host);
/* A new pairing PIN, printed on the host's stdout too. */
const char *fh_host_new_pin (FhHost *host);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (FhHost, fh_host_free)
