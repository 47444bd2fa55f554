/* The GameStream control stream server: one ENet host on UDP (47999 by
 * default) for every Moonlight session, run on the GLib main loop. Peers
 * are told apart by the ENet connect data each session was given in RTSP
 * SETUP (X-SS-Connect-Data), never by address. */
#pragma once

#include <gio/gio.h> /* errors are G_IO_ERROR */

#include "planes/gamestream/protocol/control-stream.h"

#define FH_GS_DEFAULT_CONTROL_PORT 47999

typedef struct {
  void (*connected) (gpointer data);
  void (*input) (const FhGsInput *input, gpointer data);
  void (*keyframe) (gpointer data); /* IDR request or reference-frame invalidation */
  /* The client lost frames it could not repair (@frames of them: a
   * reference-frame invalidation's range, or a loss report's count): the
   * link carries less than the stream. After keyframe() for an
   * invalidation. */
  void (*loss) (guint frames, gpointer data);
  /* The peer left, timed out, sent a bad message, or was told to go; the
   * expectation stays until fh_gs_control_server_forget(). */
  void (*disconnected) (const char *reason, gpointer data);
} FhGsControlHandlers;

typedef struct _FhGsControlServer FhGsControlServer;

/* Listens on @address (an IPv4 address or name; NULL = any) and @port (0 =
 * any free port) on the thread-default main context. IPv4 only: see
 * docs/gamestream.md, "Control stream". */
FhGsControlServer *fh_gs_control_server_new (const char *address, guint port, GError **error);
guint fh_gs_control_server_get_port (FhGsControlServer *server);

/* A session's control peer will connect with @connect_data (ENet connect
 * data, the X-SS-Connect-Data we sent in RTSP SETUP); its messages are
 * decrypted with @key (the launch's rikey). Replaces an earlier expectation
 * of the same connect data (disconnecting its peer). @handlers is copied;
 * any handler may be NULL. Handlers may call _forget() and _send_*(). */
void fh_gs_control_server_expect (FhGsControlServer *server, guint32 connect_data,
                                  const guint8 key[16], const FhGsControlHandlers *handlers,
                                  gpointer data);
/* Disconnects that peer (if connected, after what was queued for it is
 * sent) and forgets it; no handler runs after this returns. */
void fh_gs_control_server_forget (FhGsControlServer *server, guint32 connect_data);

/* Sends the (extended) termination message, e.g. FH_GS_TERMINATION_GRACEFUL;
 * Moonlight then ends the stream. Fails when that peer is not connected. */
gboolean fh_gs_control_server_send_termination (FhGsControlServer *server, guint32 connect_data,
                                                guint32 code, GError **error);
gboolean fh_gs_control_server_send_rumble (FhGsControlServer *server, guint32 connect_data,
                                           guint16 controller, guint16 low_freq,
                                           guint16 high_freq, GError **error);

/* Disconnects every peer and stops listening. Not from within a handler. */
void fh_gs_control_server_free (FhGsControlServer *server);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (FhGsControlServer, fh_gs_control_server_free)
