/* The GameStream RTSP server (TCP 48010): what a launched Moonlight client
 * asks before it streams (OPTIONS, DESCRIBE, SETUP, ANNOUNCE, PLAY), plain
 * or sealed (rtspenc://), one short connection per request.
 *
 * Which launch a request is (two clients may share one address):
 * - rtspenc: a request opens only with its own launch's key;
 * - plain RTSP: the Session header after SETUP; before it, the oldest
 *   launch from that address that has not set up yet.
 * docs/gamestream.md, "Streaming". */
#pragma once

#include <gio/gio.h>

#include "planes/gamestream/launch.h"

#define FH_GS_DEFAULT_RTSP_PORT 48010

typedef struct _FhGsRtspServer FhGsRtspServer;

/* Binds @port (0 = any free one); @launches must outlive the server. */
FhGsRtspServer *fh_gs_rtsp_server_new (FhGsLaunches *launches, guint port, GError **error);
/* Answers requests from now on: SETUP hands out the ports of @media and
 * @control (borrowed; they outlive the server), PLAY streams through them. */
void fh_gs_rtsp_server_start (FhGsRtspServer *server, FhGsMediaSender *media,
                              FhGsControlServer *control);
guint fh_gs_rtsp_server_get_port (FhGsRtspServer *server);
/* Closes every connection and stops listening. */
void fh_gs_rtsp_server_free (FhGsRtspServer *server);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (FhGsRtspServer, fh_gs_rtsp_server_free)
