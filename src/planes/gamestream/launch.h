/* A Moonlight client's launch, from /launch to its end: what /launch (or
 * /resume) said, what RTSP set up, where its video and audio go, and the
 * session of its own it is bound to as a peer; and the registry of the
 * launches, one per paired device, that the HTTP plane and the streaming
 * servers share. docs/gamestream.md, "Streaming". */
#pragma once

#include "core/rate-control.h"
#include <gio/gio.h>

#include "core/core.h"
#include "planes/gamestream/control-server.h"
#include "planes/gamestream/media-sender.h"
#include "planes/gamestream/protocol/sdp.h"

typedef struct _FhGsLaunches FhGsLaunches; /* also in media-sender.h */
typedef struct _FhGsLaunch FhGsLaunch;

struct _FhGsLaunch {
  FhGsLaunches *launches;
  char *device; /* the paired client's id in devices.ini */

  /* What /launch and /resume said (nvhttp.c). */
  guint appid;
  guint64 number; /* the gamesession /launch answered */
  guint8 key[16]; /* rikey */
  guint32 rikeyid;
  guint width, height, fps; /* from mode=; the ANNOUNCE has the last word */
  GInetAddress *address;    /* where the request came from */
  gboolean encrypted_rtsp;  /* corever >= 1: it speaks rtspenc:// */
  gboolean shared;          /* a view of the shared desktop (its app) */
  guint64 order;            /* launches from one address are served oldest first */

  /* What RTSP set up (rtsp-server.c); a resume starts it again. */
  char *rtsp_session;
  guint32 rtsp_sequence; /* of our sealed answers */
  gboolean announced;
  FhGsStreamSettings settings;
  guint32 connect_data;         /* the control stream's X-SS-Connect-Data */
  FhGsControlServer *control;   /* where its control peer is expected */
  gboolean control_expected;

  FhGsMediaStream media;

  char *session_id; /* looked up each time: the core owns sessions */
  /* The session we are the peer of. Valid while set: a session tells its
   * peer (closed) before it goes, even one already on its way out. */
  FhSession *bound;
  /* The link's rate (core/rate-control.h): frames the client could not
   * repair lower it; a stream without losses raises it again. */
  FhRateControl rate;
};

/* @core makes the launches' sessions; NULL only where no launch ever
 * plays (the HTTP plane tested alone). */
FhGsLaunches *fh_gs_launches_new (FhCore *core);
/* Ends what is left (fh_gs_launches_end_all) and frees the registry. */
void fh_gs_launches_free (FhGsLaunches *launches);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (FhGsLaunches, fh_gs_launches_free)

/* A new launch of @device, which has none (/launch); the caller fills in
 * what the request said after fh_gs_launch_reset(). */
FhGsLaunch *fh_gs_launches_add (FhGsLaunches *launches, const char *device);
FhGsLaunch *fh_gs_launches_lookup (FhGsLaunches *launches, const char *device);
guint fh_gs_launches_count (FhGsLaunches *launches);
/* Every launch, in no order, for g_hash_table_iter_next(): values are
 * FhGsLaunch. Not to be changed while iterating. */
void fh_gs_launches_iter_init (FhGsLaunches *launches, GHashTableIter *iter);
/* @device quit (/cancel, /unpair) or was revoked, or its session ended on
 * its own: its launch goes, and with it a session still alive. FALSE when
 * it had none. */
gboolean fh_gs_launches_forget (FhGsLaunches *launches, const char *device);
/* Every launch goes as fh_gs_launches_forget() has it: the host stops. */
void fh_gs_launches_end_all (FhGsLaunches *launches);

/* A launch, or a resume with fresh keys: forgets what RTSP set up and
 * unbinds its session, which (if alive) is kept and bound again at PLAY. */
void fh_gs_launch_reset (FhGsLaunch *launch);
/* SETUP of the control stream: @control expects this launch's peer. */
void fh_gs_launch_expect_control (FhGsLaunch *launch, FhGsControlServer *control);
/* PLAY: packetizers for what the ANNOUNCE asked, then the launch's
 * session (made now, or the living one after a resume) with the launch
 * bound as its peer. */
gboolean fh_gs_launch_play (FhGsLaunch *launch, FhGsMediaSender *media, GError **error);
/* The launch's session while it lives (a grace period may have ended it
 * while no client was bound), else NULL. */
FhSession *fh_gs_launch_get_session (FhGsLaunch *launch);
