/* The GameStream plane: Moonlight clients (launch.c, nvhttp.c,
 * rtsp-server.c, media-sender.c, control-server.c, mdns.c, on the pure
 * protocol library in protocol/), as an FhPlane of the core. It posts the
 * PIN a pairing Moonlight client shows as a prompt (FH_PROMPT_PIN) for a
 * browser console or the control socket to answer. */
#pragma once

#include "core/core.h"

typedef struct _FhGsPlane FhGsPlane;

typedef struct {
  /* "auto": a port in use only warns and the plane stays off; "on": it
   * stops the host. */
  gboolean required;
  const char *config_dir; /* gamestream-cert.pem, gamestream-key.pem */
  guint http_port, https_port, rtsp_port, video_port, control_port, audio_port;
  /* What the host's user must see (a client waits for its PIN, a client
   * paired): one line each; NULL = g_message. */
  void (*announce) (const char *line, gpointer data);
  gpointer announce_data;
} FhGsPlaneConfig;

/* Loads (or makes) the host's GameStream identity. */
FhGsPlane *fh_gs_plane_new (FhCore *core, const FhGsPlaneConfig *config, GError **error);
FhPlane *fh_gs_plane_get_plane (FhGsPlane *plane);
