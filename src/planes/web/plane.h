/* The web plane: browsers over HTTPS and one WebSocket each (server.c,
 * client.c, protocol.c), as an FhPlane of the core. It owns the host's TLS
 * certificate, the browser clients, the consoles that show a waiting
 * Moonlight client, and the requests to join the shared desktop. */
#pragma once

#include "core/core.h"
#include "planes/web/protocol.h"

typedef struct _FhWebPlane FhWebPlane;
typedef struct _FhClient FhClient;

/* Who may read /metrics and /healthz (docs/operations.md). */
typedef enum {
  FH_WEB_METRICS_LOCALHOST, /* requests from 127.0.0.1 or ::1 only */
  FH_WEB_METRICS_OWNERS,    /* the credential of a device with the owner right, from anywhere */
  FH_WEB_METRICS_OFF,       /* nobody: 404 */
} FhWebMetricsAccess;

/* "localhost", "owners" ("devices", its older name), "off"; FALSE for
 * anything else. */
gboolean fh_web_metrics_access_from_string (const char *text, FhWebMetricsAccess *access);

typedef struct {
  guint port;             /* 0 = any free port */
  FhWebMetricsAccess metrics;
  guint request_timeout_s; /* a connection's request must arrive within */
  guint max_per_address;   /* connections one address may hold open */
  const char *web_dir;    /* the browser client's files */
  const char *config_dir; /* cert.pem, key.pem */
} FhWebPlaneConfig;

/* Loads (or makes) the host certificate. */
FhWebPlane *fh_web_plane_new (FhCore *core, const FhWebPlaneConfig *config, GError **error);
FhPlane *fh_web_plane_get_plane (FhWebPlane *plane);
/* The port it listens on (after start). */
guint fh_web_plane_get_port (FhWebPlane *plane);

/* For its own server and clients. */
FhCore *fh_web_plane_get_core (FhWebPlane *plane);
const char *fh_web_plane_get_web_dir (FhWebPlane *plane);
const char *fh_web_plane_get_fingerprint (FhWebPlane *plane);
FhWebMetricsAccess fh_web_plane_get_metrics_access (FhWebPlane *plane);
void fh_web_plane_add_client (FhWebPlane *plane, FhClient *client);
/* Frees @client. */
void fh_web_plane_remove_client (FhWebPlane *plane, FhClient *client);
/* @client asks to view the shared desktop (shared-join=ask): a prompt
 * the host's user answers ('funkhaus approve ID') within 60 s, else it
 * is denied. Copies @request. */
void fh_web_plane_ask_to_join (FhWebPlane *plane, FhClient *client,
                               const FhSessionRequest *request, gboolean mic);
/* @client went away: its request, if any, goes too. */
/* @client asks to join @session as a guest: a prompt its own client (or
 * the host's owner, 'funkhaus approve ID') answers within 60 s, else it is
 * refused. */
void fh_web_plane_ask_to_be_guest (FhWebPlane *plane, FhClient *client, FhSession *session);
void fh_web_plane_forget_requests_of (FhWebPlane *plane, FhClient *client);
/* The name paired device @id was given, or NULL (free it). */
char *fh_web_plane_device_name (FhWebPlane *plane, const char *id);
/* The moonlight message a new console gets: whether a client waits for
 * its PIN now (and its name), or nothing here pairs by PIN. */
char *fh_web_plane_describe_moonlight (FhWebPlane *plane);

/* The web protocol's words for the core's. */
FhProtoError fh_web_error_for_end (FhEndReason reason);
FhProtoError fh_web_error_for (const GError *error);
