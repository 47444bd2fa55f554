/* One browser client: a WebSocket, bound to exactly one session after its
 * hello. All network bytes go through planes/web/protocol.c first. */
#pragma once

#include <libsoup/soup.h>

#include "core/session.h"
#include "planes/web/protocol.h"
#include "planes/web/wire.h"

typedef struct _FhWebPlane FhWebPlane;
typedef struct _FhClient FhClient;
typedef struct _FhSession FhSession;

/* @wire: the stream under @connection, which video is written to
 * directly (wire.h). @socket: the connection's socket under its TLS (how
 * much of its video the kernel still holds), or NULL. */
FhClient *fh_client_new (FhWebPlane *plane, SoupWebsocketConnection *connection,
                         FhWebWire *wire, GSocket *socket, const char *peer);
void fh_client_free (FhClient *client);

const char *fh_client_get_peer (FhClient *client);
/* The paired device this WebSocket proved to be (hello or console), or
 * NULL before that. */
const char *fh_client_get_device (FhClient *client);
/* A console: a paired browser's page that streams nothing but may see a
 * waiting Moonlight client and enter its PIN. */
gboolean fh_client_is_console (FhClient *client);

void fh_client_send_text (FhClient *client, const char *text);
void fh_client_send_binary (FhClient *client, GBytes *message);

/* Sends an error message and closes with the matching close code; the
 * session, if any, is detached (and keeps its grace period). */
void fh_client_close_with_error (FhClient *client, FhProtoError code, const char *message);

/* A browser as a session's peer. */
extern const FhSessionPeerOps fh_web_peer_ops;

/* Binds @client to @session (approved to join the shared desktop). */
void fh_client_bind (FhClient *client, FhSession *session, gboolean mic);
/* … as a guest of @session at @level (the session's client let it in);
 * closed with the reason when the session takes it not. */
void fh_client_bind_guest (FhClient *client, FhSession *session, FhAccessLevel level);
