/* A session: one client's desktop (a virtual output), its encode thread,
 * its speaker and microphone, and the peer bound to it (a browser's
 * WebSocket, a Moonlight client: whatever a plane binds through
 * FhSessionPeerOps), with an explicit state machine. */
#pragma once

#include <glib.h>

#include "backends/backend.h"
#include "base/end-reason.h"
#include "base/mode.h"
#include "base/process.h"
#include "base/stats.h"
#include "core/access.h"
#include "media/event.h"
#include "media/pad.h"
#include "media/speaker.h"
#include "media/video-stream.h"

typedef struct _FhCore FhCore;
typedef struct _FhSession FhSession;

#define FH_SESSION_ERROR (fh_session_error_quark ())
GQuark fh_session_error_quark (void);

typedef enum {
  FH_SESSION_ERROR_UNAVAILABLE, /* what it asks for is not here (no shared desktop, no view free) */
  FH_SESSION_ERROR_FAILED,      /* its desktop or encoder would not start */
  FH_SESSION_ERROR_NOT_ASKED,   /* microphone audio from a peer that did not ask to send it */
  FH_SESSION_ERROR_BAD_DATA,    /* microphone audio that does not decode */
} FhSessionError;

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
  guint bitrate_kbps; /* 0 = the host's default */
  const char *keyboard_layout; /* NULL = the host's default */
  gboolean shared; /* a view of the shared desktop, not a desktop of its own */
  /* The app it runs: an id of fh_core_get_apps (a shared-desktop entry is
   * as .shared); 0 = the first, the host's default. */
  guint app;
  guint audio_frame_ms; /* Opus packet length: 0 = FH_AUDIO_FRAME_MS */
  gboolean audio_constant_bitrate; /* every Opus packet one size (Moonlight) */
  gboolean audio_gapless; /* packets while nothing plays too (Moonlight) */
} FhSessionRequest;

/* What became of a frame handed to a peer's video_direct. */
typedef enum {
  FH_PEER_VIDEO_LATER, /* not now: it goes to the peer's video op as usual */
  FH_PEER_VIDEO_SENT,
  FH_PEER_VIDEO_SKIPPED, /* its link is behind */
} FhPeerVideo;

/* Who watches a session: a connection of one of the planes (a browser's
 * WebSocket, a Moonlight client). Every function but video_direct runs on
 * the main thread;
 * @peer is the pointer given to fh_session_attach_peer. */
typedef struct {
  /* The plane the peer belongs to ("web", "gamestream"): a label for
   * metrics, never branched on. */
  const char *plane;
  const char *(*describe) (gpointer peer); /* for logs: its address */
  /* The desktop is up and streams to @peer (at once on attach when it
   * already is). */
  void (*welcome) (gpointer peer, FhSession *session, gboolean resumed);
  /* One encoded frame, borrowed; the peer may write its own framing into
   * the FH_VIDEO_HEADROOM bytes before packet->data. Returns FALSE when
   * the peer skipped it (its link is behind): the stats count only what
   * went out. */
  gboolean (*video) (gpointer peer, const FhVideoPacket *packet);
  /* May be NULL; the one op called off the main thread. @packet as for
   * video, on the session's stream thread that encoded it, while @peer
   * alone watches the session and has had its keyframe: a peer that can
   * send from there does so at once, rather than the frame waking the main
   * thread. Runs at the same time as the main thread's ops on @peer (what
   * they share is the peer's to lock), never after @peer was detached or
   * closed, and must not wait for the main thread. */
  FhPeerVideo (*video_direct) (gpointer peer, const FhVideoPacket *packet);
  void (*audio) (gpointer peer, const FhAudioPacket *packet);
  void (*stats) (gpointer peer, const FhStreamStats *stats); /* once a second; may be NULL */
  void (*failed) (gpointer peer, const char *reason); /* before the session goes; may be NULL */
  /* An app of the session set the rumble of @peer's pad @index (the
   * client's number for it); may be NULL. */
  void (*rumble) (gpointer peer, guint index, const FhPadRumble *rumble);
  /* An app of the session copied @text (UTF-8, no NUL) while @peer shares
   * the clipboard (fh_session_enable_clipboard); may be NULL. */
  void (*clipboard) (gpointer peer, const char *text, gsize len);
  /* The session's access level changed (the host's owner set it, or its
   * expiry passed): @access->level is what it is now, @access->until when
   * it falls back to view (0: never); may be NULL. The host judges every
   * event itself: this is only for the peer to show. */
  void (*access) (gpointer peer, const FhAccess *access);
  /* The session's guests changed (one joined, left, or its level
   * changed): for the bound peer to show (fh_session_list_guests); may be
   * NULL. Never called on a guest. */
  void (*guests) (gpointer peer, FhSession *session);
  /* The session ended or gave @peer up (fh_session_stop), or the session's
   * owner removed @peer as a guest: @peer is no longer bound and must not
   * call the session again. */
  void (*closed) (gpointer peer, FhEndReason reason, const char *message);
} FhSessionPeerOps;

/* What a session has done since it was made, for metrics (main thread). */
typedef struct {
  guint64 frames_sent;
  guint64 frames_skipped; /* its peer's link could not take them */
  guint64 bytes_sent;
  guint64 audio_packets; /* Opus packets to its peer */
  guint64 input_events; /* injected into its desktop */
  guint64 input_refused; /* dropped: its device's access level does not allow them */
  double bitrate_bps; /* video sent over the last second */
  double fps; /* frames sent over the last second */
  FhHistogram encode_seconds; /* capture → encoded */
  FhHistogram capture_to_send_seconds; /* capture → handed to the peer */
} FhSessionCounters;

/* What a session costs now, from /proc. */
typedef struct {
  double cpu_seconds; /* its live processes (desktop, apps, own PipeWire) */
  guint64 memory_bytes; /* their resident memory */
  double encode_cpu_seconds; /* its encode thread in the host */
  gboolean known; /* FALSE: no desktop yet, or nothing of it to read */
} FhSessionUsage;

FhSession *fh_session_new (FhCore *core, const FhSessionRequest *request, GError **error);
void fh_session_free (FhSession *session);

const char *fh_session_get_id (FhSession *session);
const char *fh_session_get_device (FhSession *session);
FhSessionState fh_session_get_state (FhSession *session);
const FhMode *fh_session_get_mode (FhSession *session);
/* What the client asked for (or the host's default): the most it gets. */
guint fh_session_get_bitrate (FhSession *session);
/* What the encoder aims at now; a plane's rate control
 * (core/rate-control.h) moves it between FH_RATE_CONTROL_MIN_KBPS and
 * fh_session_get_bitrate. Attaching a peer resets it to the most. */
guint fh_session_get_target_bitrate (FhSession *session);
void fh_session_set_target_bitrate (FhSession *session, guint kbps);
FhCodec fh_session_get_codec (FhSession *session);
FhVirtualOutput *fh_session_get_output (FhSession *session);
const char *fh_session_get_backend_name (FhSession *session);
/* The plane of the peer bound last ("" before any). */
const char *fh_session_get_plane (FhSession *session);
gboolean fh_session_has_peer (FhSession *session);
const FhSessionCounters *fh_session_get_counters (FhSession *session);
guint64 fh_session_get_frames_dropped (FhSession *session);
/* From @table, a snapshot of /proc (base/process.h) shared by every
 * session read at one time; NULL: none (usage->known stays FALSE). */
void fh_session_read_usage (FhSession *session, FhProcessTable *table, FhSessionUsage *usage);

/* Binds @peer, which gets its welcome once the desktop is up (at once for
 * a DISCONNECTED session, which goes back to STREAMING). */
void fh_session_attach_peer (FhSession *session, const FhSessionPeerOps *ops, gpointer peer,
                             gboolean resumed);
/* @peer went away: STREAMING → DISCONNECTED, grace period starts. A peer
 * that is no longer the bound one changes nothing. */
void fh_session_detach_peer (FhSession *session, gpointer peer);
/* The bound peer if it was bound with @ops, else NULL. */
gpointer fh_session_get_peer (FhSession *session, const FhSessionPeerOps *ops);
/* The bound peer's microphone feeds the session's microphone from now on
 * (until it is unbound). FALSE with @error when the session has none. */
gboolean fh_session_enable_mic (FhSession *session, gpointer peer, GError **error);
/* Unbinds @peer and nothing else: for a session that is being removed
 * anyway (no DISCONNECTED, no grace period). */
void fh_session_forget_peer (FhSession *session, gpointer peer);

void fh_session_request_keyframe (FhSession *session);
/* The core's, once the number of encoders changed and stood: the
 * session's encoder takes its share of the cores among them now
 * (core/encoder-threads.h); a change costs it a new keyframe. */
void fh_session_repick_encoder_threads (FhSession *session);

/* Audio: a speaker (and a microphone) exist when the host has PipeWire. */
gboolean fh_session_has_speaker (FhSession *session);
gboolean fh_session_takes_mic (FhSession *session);
/* The node a playback (or recording) stream of this session must use in
 * the host's PipeWire; NULL for a session whose audio is in a stack of its
 * own (nothing of it is in the host's). */
const char *fh_session_get_audio_target (FhSession *session, gboolean playback);
/* TRUE when @pid is one of the session's processes (by ancestry). */
gboolean fh_session_owns_process (FhSession *session, int pid);
/* One Opus packet from @peer's microphone. Fails (FH_SESSION_ERROR) when
 * @peer did not ask for the microphone or the packet does not decode; at
 * view level it is dropped (and counted), which is no failure. */
gboolean fh_session_feed_mic (FhSession *session, gpointer peer, const guint8 *data, gsize size,
                              GError **error);
/* Keyboard and mouse input of the bound peer: injected when the
 * session's access level allows it (full), else dropped and counted. */
void fh_session_inject (FhSession *session, const FhInputEvent *event);
/* … of @peer, the bound one or a guest (judged by the guest's level);
 * from anyone else it is dropped. */
void fh_session_inject_from (FhSession *session, gpointer peer, const FhInputEvent *event);

/* The access of the session's device (core/access.h): read from the
 * device store when the session is made, set anew by the core when the
 * host's owner changes it (fh_core_set_device_access). Every input event
 * is judged by it at the time it arrives; an expired level is view. A
 * change (and an expiry) tells the bound peer; one that takes gamepads
 * away unplugs the session's pads. */
void fh_session_set_access (FhSession *session, const FhAccess *access);
/* As set, the expiry not applied. */
const FhAccess *fh_session_get_access (FhSession *session);
/* The level that judges input now: view once the expiry passed. */
FhAccessLevel fh_session_get_access_level (FhSession *session);

/* Gamepads of the bound @peer (refused, and counted, at view level), by
 * the client's number for each (<
 * FH_PAD_LIMIT): each becomes a pad of the session's own (backends/pads.h)
 * that only the session's apps see. A pad is plugged in when it connects
 * or on its first state; it leaves when the client says so or the peer
 * goes. A session with no pads, or no room left, refuses it (logged once,
 * FALSE from connect); a client is not closed for that. */
gboolean fh_session_pad_connect (FhSession *session, gpointer peer, guint index, FhPadKind kind);
void fh_session_pad_update (FhSession *session, gpointer peer, guint index,
                            const FhPadState *state);
void fh_session_pad_disconnect (FhSession *session, gpointer peer, guint index);
guint fh_session_count_pads (FhSession *session);

/* The bound @peer shares the session's clipboard (text, both ways) from
 * now on, until it is unbound; FALSE when it is not the bound peer. The
 * clipboard exists once the desktop is up, where its compositor has one
 * (fh_session_has_clipboard: for the welcome). */
gboolean fh_session_enable_clipboard (FhSession *session, gpointer peer);
gboolean fh_session_has_clipboard (FhSession *session);
/* Text from @peer's clipboard becomes the session's (its apps paste it).
 * FALSE with FH_SESSION_ERROR_NOT_ASKED from a peer that does not share
 * the clipboard, FH_SESSION_ERROR_BAD_DATA for text that is not UTF-8, has
 * a NUL or is longer than FH_CLIPBOARD_MAX_TEXT. */
gboolean fh_session_set_clipboard (FhSession *session, gpointer peer, const char *text, gsize len,
                                   GError **error);

/* ---- Guests (docs/protocol.md "Guests") ----
 * A device may join another device's independent session as a guest: it
 * gets the session's picture and sound, and its input (keyboard and mouse,
 * gamepads: extra players in the session's seat) is judged by the level
 * the session's owner grants it, never more than its own device's level
 * allows. No microphone and no clipboard for a guest. A guest is bound as
 * a peer too (its ops get welcome, video, audio, stats, rumble, access and
 * closed); fh_session_detach_peer and fh_session_forget_peer unbind one
 * that leaves. While guests watch, the session streams on even when its
 * own client is gone (its grace period runs as before). */
#define FH_SESSION_MAX_GUESTS 8

typedef struct {
  guint id;              /* the session's number for it, from 1 */
  const char *device;    /* its paired device */
  const char *plane;
  FhAccessLevel granted; /* what the session's owner grants */
  FhAccessLevel level;   /* what judges its input now */
} FhSessionGuest;

/* The code a device names to ask to join (six digits; unique among live
 * sessions, the core sees to it), or NULL for a view of the shared
 * desktop, which takes no guests. */
const char *fh_session_get_join_code (FhSession *session);
/* Draws another code (the core, when one is taken). */
void fh_session_new_join_code (FhSession *session);
/* Binds @peer of @device as a guest at @granted: its welcome comes at
 * once. Returns the guest's id, or 0 with FH_SESSION_ERROR_UNAVAILABLE (a
 * shared view, a session whose desktop is not up or that ended, no room,
 * the session's own device), or 0 without an error when its welcome
 * closed it. */
guint fh_session_add_guest (FhSession *session, const FhSessionPeerOps *ops, gpointer peer,
                            const char *device, FhAccessLevel granted, GError **error);
/* The session's owner changes what guest @id may do; FALSE: no such guest. */
gboolean fh_session_set_guest_level (FhSession *session, guint id, FhAccessLevel granted);
/* The session's owner removes guest @id: its peer is closed with
 * FH_END_REASON_REMOVED. FALSE: no such guest. */
gboolean fh_session_remove_guest (FhSession *session, guint id, const char *message);
/* Every guest seat of @device goes (closed with @reason): it was revoked. */
void fh_session_remove_guests_of (FhSession *session, const char *device, FhEndReason reason,
                                  const char *message);
/* The stored access of @device changed: its guest seats follow at once. */
void fh_session_set_guest_device_access (FhSession *session, const char *device,
                                         const FhAccess *access);
/* The guests now, oldest first (FhSessionGuest; strings borrowed). */
GArray *fh_session_list_guests (FhSession *session);
guint fh_session_count_guests (FhSession *session);
gboolean fh_session_is_guest (FhSession *session, gpointer peer);
/* The level that judges @peer's input now (the bound peer's, or a
 * guest's), and when it falls back to view (0: never); view for a stranger. */
FhAccessLevel fh_session_get_peer_level (FhSession *session, gpointer peer, gint64 *until);

/* Tears everything down (→ STOPPED); safe to call twice. The bound peer,
 * if any, is closed with @reason and @message. */
void fh_session_stop (FhSession *session, FhEndReason reason, const char *message);
