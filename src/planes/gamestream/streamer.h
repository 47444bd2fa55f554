/* The GameStream streaming plane (issue 9): what a Moonlight client talks
 * to after /launch. RTSP on TCP 48010 (plain and rtspenc://), video RTP on
 * UDP 47998, audio RTP on UDP 48000, the ENet control stream on UDP 47999.
 * Every launched client gets a session of its own (core/session.c, the
 * same sessions the web plane makes), bound to it as a peer.
 *
 * Telling clients apart (two may share one address):
 * - rtspenc: a request opens only with its own launch's key;
 * - plain RTSP: the Session header after SETUP; before it, the oldest
 *   launch from that address that has not set up yet;
 * - video and audio: the 16-byte ping payload we gave each in SETUP;
 * - control: the ENet connect data we gave it in SETUP.
 * docs/gamestream.md, "Streaming". */
#pragma once

#include <gio/gio.h>

#include "core/core.h"

#define FH_GS_DEFAULT_RTSP_PORT 48010
#define FH_GS_DEFAULT_VIDEO_PORT 47998
#define FH_GS_DEFAULT_CONTROL_PORT 47999
#define FH_GS_DEFAULT_AUDIO_PORT 48000

typedef struct _FhGsStreamer FhGsStreamer;

/* What /launch (or /resume) told us. */
typedef struct {
  const char *device; /* the paired client's id in devices.ini */
  guint8 key[16];     /* rikey */
  guint32 rikeyid;
  guint width, height, fps; /* from mode=; the ANNOUNCE has the last word */
  GInetAddress *address;    /* where the request came from */
  gboolean encrypted_rtsp;  /* corever >= 1: it speaks rtspenc:// */
  gboolean shared;          /* a view of the shared desktop (app 2) */
} FhGsLaunchInfo;

typedef struct {
  guint rtsp_port, video_port, audio_port, control_port; /* 0 = any free one */
  /* A launch's session ended on its own (failed, grace period over): the
   * HTTP plane forgets the launch. */
  void (*ended) (const char *device, gpointer data);
  gpointer data;
} FhGsStreamerConfig;

/* Binds all four ports. */
FhGsStreamer *fh_gs_streamer_new (FhCore *core, const FhGsStreamerConfig *config,
                                  GError **error);
void fh_gs_streamer_free (FhGsStreamer *streamer);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (FhGsStreamer, fh_gs_streamer_free)

guint fh_gs_streamer_get_rtsp_port (FhGsStreamer *streamer);
void fh_gs_streamer_get_ports (FhGsStreamer *streamer, guint *rtsp, guint *video, guint *control,
                               guint *audio);

/* A launch, or a resume with fresh keys (its session, if alive, is kept
 * and bound again at PLAY). */
void fh_gs_streamer_launch (FhGsStreamer *streamer, const FhGsLaunchInfo *info);
/* The client quit (/cancel) or was revoked: its session stops. */
void fh_gs_streamer_cancel (FhGsStreamer *streamer, const char *device);
