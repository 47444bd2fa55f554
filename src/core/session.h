/* A session: one client's desktop (a virtual output), its encode thread,
 * and the WebSocket bound to it, with an explicit state machine. */
#pragma once

#include <glib.h>

#include "media/speaker.h"
#include "backends/backend.h"
#include "media/video-stream.h"
#include "planes/web/protocol.h"

typedef struct _FhContext FhContext;
typedef struct _FhClient FhClient;
typedef struct _FhSession FhSession;

typedef enum {
  FH_SESSION_STATE_NEW,
  FH_SESSION_STATE_STARTING, /* the desktop is being made */
  FH_SESSION_STATE_STREAMING, /* a client is bound */
  FH_SESSION_STATE_DISCONNECTED, /* its client dropped; grace period runs */
  FH_SESSION_STATE_FAILED, /* the output or encoder died */
  FH_SESSION_STATE_STOPPED, /* everything torn down */
} FhSessionState;

const char *fh_session_state_to_string (FhSessionState state);

typedef struct {
  const char *device;
  FhMode mode;
  FhCodec codec;
  guint bitrate_kbps;
  const char *keyboard_layout; /* NULL = the host's default */
  gboolean shared; /* a view of the shared desktop, not a desktop of its own */
  guint audio_frame_ms; /* Opus packet length: 0 = FH_AUDIO_FRAME_MS */
  gboolean audio_constant_bitrate; /* every Opus packet one size (Moonlight) */
} FhSessionRequest;

/* Who watches a session: a browser's WebSocket (planes/web/client.c) or a
 * Moonlight client (planes/gamestream/streamer.c). Every function runs on the main
 * thread; @peer is the pointer given to fh_session_attach_peer. */
typedef struct {
  const char *(*describe) (gpointer peer); /* for logs: its address */
  /* The desktop is up and streams to @peer (at once on attach when it
   * already is). */
  void (*welcome) (gpointer peer, FhSession *session, gboolean resumed);
  /* One encoded frame; the access unit starts FH_PROTO_VIDEO_HEADER_SIZE
   * bytes into packet->message. Borrowed. */
  void (*video) (gpointer peer, const FhVideoPacket *packet);
  void (*audio) (gpointer peer, const FhAudioPacket *packet);
  void (*stats) (gpointer peer, const FhStatsMessage *stats); /* once a second; may be NULL */
  void (*failed) (gpointer peer, const char *reason); /* before the session goes; may be NULL */
  /* The session ended or gave @peer up (fh_session_stop): @peer is no
   * longer bound and must not call the session again. */
  void (*closed) (gpointer peer, FhProtoError code, const char *reason);
} FhSessionPeerOps;

FhSession *fh_session_new (FhContext *context, const FhSessionRequest *request, GError **error);
void fh_session_free (FhSession *session);

const char *fh_session_get_id (FhSession *session);
const char *fh_session_get_device (FhSession *session);
FhSessionState fh_session_get_state (FhSession *session);
const FhMode *fh_session_get_mode (FhSession *session);
guint fh_session_get_bitrate (FhSession *session);
FhCodec fh_session_get_codec (FhSession *session);
FhVirtualOutput *fh_session_get_output (FhSession *session);
const char *fh_session_get_backend_name (FhSession *session);

/* Binds @client, which gets its welcome once the desktop is up (at once
 * for a DISCONNECTED session, which goes back to STREAMING). With @mic the
 * client's microphone packets feed the session's microphone. */
void fh_session_attach (FhSession *session, FhClient *client, gboolean resumed, gboolean mic);
/* @client went away: STREAMING → DISCONNECTED, grace period starts. A
 * client that is no longer the bound one changes nothing. */
void fh_session_detach (FhSession *session, FhClient *client);
FhClient *fh_session_get_client (FhSession *session);
/* The same for any kind of peer (fh_session_attach binds a browser). */
void fh_session_attach_peer (FhSession *session, const FhSessionPeerOps *ops, gpointer peer,
                             gboolean resumed);
void fh_session_detach_peer (FhSession *session, gpointer peer);
/* Unbinds @peer and nothing else: for a session that is being removed
 * anyway (no DISCONNECTED, no grace period). */
void fh_session_forget_peer (FhSession *session, gpointer peer);

void fh_session_request_keyframe (FhSession *session);

/* Audio: a speaker (and a microphone) exist when the host has PipeWire. */
gboolean fh_session_has_speaker (FhSession *session);
gboolean fh_session_takes_mic (FhSession *session);
/* The node a playback (or recording) stream of this session must use. */
const char *fh_session_get_audio_target (FhSession *session, gboolean playback);
/* TRUE when @pid is one of the session's processes (by ancestry). */
gboolean fh_session_owns_process (FhSession *session, int pid);
/* One Opus packet from @client's microphone. Fails (FH_PROTO_ERROR) when
 * @client did not ask for the microphone or the packet does not decode. */
gboolean fh_session_feed_mic (FhSession *session, FhClient *client, const FhMicPacket *packet,
                              GError **error);
void fh_session_inject (FhSession *session, const FhInputEvent *event);

/* Tears everything down (→ STOPPED); safe to call twice. The bound client,
 * if any, is closed with @code and @reason. */
void fh_session_stop (FhSession *session, FhProtoError code, const char *reason);
