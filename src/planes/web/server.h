/* The HTTPS + WebSocket server (libsoup-3.0): the browser client's files,
 * the pairing API and the one WebSocket endpoint. */
#pragma once

#include <gio/gio.h>

typedef struct _FhWebPlane FhWebPlane;
typedef struct _FhServer FhServer;

/* A connection must deliver its request (TLS handshake, headers, body)
 * within @request_timeout_s, and one address may hold at most
 * @max_per_address connections open (more are closed at once). */
FhServer *fh_server_new (FhWebPlane *plane, GTlsCertificate *certificate,
                         guint request_timeout_s, guint max_per_address, GError **error);
/* Listens on every address at @port (0 = any free port). */
gboolean fh_server_listen (FhServer *server, guint port, GError **error);
guint fh_server_get_port (FhServer *server);
void fh_server_free (FhServer *server);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (FhServer, fh_server_free)
