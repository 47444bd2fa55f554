/* mDNS advertisement of the GameStream host: `_nvstream._tcp` on the HTTP
 * port, which Moonlight browses to list hosts, published through the
 * system's avahi-daemon on the GLib main loop. Survives a missing or
 * restarting daemon and name collisions. See docs/gamestream.md, "mDNS". */
#pragma once

#include <glib.h>

#define FH_GS_MDNS_SERVICE_TYPE "_nvstream._tcp"
/* While there is no D-Bus system bus, how often to look for one again. */
#define FH_GS_MDNS_RETRY_S 5

typedef enum {
  FH_GS_MDNS_ERROR_INVALID,
} FhGsMdnsError;

#define FH_GS_MDNS_ERROR (fh_gs_mdns_error_quark ())
GQuark fh_gs_mdns_error_quark (void);

typedef enum {
  FH_GS_MDNS_STATE_STARTING,    /* until avahi-client first reports */
  FH_GS_MDNS_STATE_NO_DAEMON,   /* no D-Bus system bus or no avahi-daemon: waiting for it */
  FH_GS_MDNS_STATE_REGISTERING, /* the daemon is there; the service is being announced */
  FH_GS_MDNS_STATE_PUBLISHED,   /* the daemon reports the service established */
  FH_GS_MDNS_STATE_FAILED,      /* the daemon refused the service (see the log); retried */
} FhGsMdnsState;

const char *fh_gs_mdns_state_to_string (FhGsMdnsState state);

typedef struct _FhGsMdns FhGsMdns;

/* Publishes @name (the host name Moonlight shows; at most 63 bytes of
 * UTF-8) as an `_nvstream._tcp` service on @http_port, from the thread's
 * default main context. Fails only for an unusable name or port: a missing
 * avahi-daemon is one warning, and the service appears when the daemon
 * does. */
FhGsMdns *fh_gs_mdns_new (const char *name, guint http_port, GError **error);
/* Withdraws the service and disconnects. */
void fh_gs_mdns_free (FhGsMdns *mdns);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (FhGsMdns, fh_gs_mdns_free)

FhGsMdnsState fh_gs_mdns_get_state (const FhGsMdns *mdns);
/* The name in use: @name, or the alternative chosen after a collision
 * ("name #2"). */
const char *fh_gs_mdns_get_name (const FhGsMdns *mdns);
