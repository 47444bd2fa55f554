/* How much of a browser client's video is in flight, and what to do with
 * the next frame: send it, skip it (the link is behind), or give up on the
 * client (it took nothing for FH_PROTO_TOO_SLOW_S). The backlog is the
 * age of the oldest frame the client has not acknowledged as received (a
 * client that sends acks, docs/protocol.md), or else what the kernel still
 * holds for its socket at the session's bitrate. What waits is the backlog
 * less the link's round trip (with acks: the shortest an ack took in the
 * last FH_WEB_FLOW_FLOOR_S seconds; a client 100 ms away always has 100 ms
 * of frames unacknowledged, and that is no queue; before the first ack and
 * without acks it is not known, and nothing is taken off). A wait over
 * FH_WEB_FLOW_HIGH_US for FH_WEB_FLOW_PERSIST_US (one late ack is not a
 * slow link) makes the client skip frames until the wait is under
 * FH_WEB_FLOW_LOW_US again, then resume at a keyframe it asks for (again
 * every FH_WEB_FLOW_REASK_US while none comes: a request can be lost on a
 * loaded host, and nothing but a keyframe ends the skipping); each
 * congestion lowers the session's bitrate, and a link that keeps up raises
 * it again (core/rate-control.h).
 *
 * A queue that stands is congestion too, before it reaches
 * FH_WEB_FLOW_HIGH_US (a link overrun by a little fills its queue slowly):
 * the shortest delay of the last FH_WEB_FLOW_WINDOW_US, less the shortest
 * of the last FH_WEB_FLOW_FLOOR_S seconds (what the link's round trip
 * takes when nothing waits), is the queue that does not drain; the delay
 * is how long each ack took from the sending of the newest frame it acks
 * (without acks: the backlog at each frame). Over FH_WEB_FLOW_QUEUE_US
 * (from the flow's second second on) the bitrate goes down a little
 * (fh_rate_control_queued); a wait over FH_WEB_FLOW_LOW_US for
 * FH_WEB_FLOW_STANDING_US is congestion as above; nothing is skipped.
 * Over FH_WEB_FLOW_GROWING_US it does not go up: the link is full. With
 * acks, a queue that stands and in FH_WEB_FLOW_PROBE_US neither drains
 * by half (as a queue does while the bitrate goes down) nor grows by
 * half is the round trip itself, grown (a client that changed its
 * network): its delay is the floor and the base from then on, and the
 * bitrate goes back to what it was before (fh_rate_control_false_alarm).
 *
 * A queue that creeps, growing by less than FH_WEB_FLOW_QUEUE_US in
 * FH_WEB_FLOW_FLOOR_S seconds, moves that floor with it, and neither
 * measure above sees it: the round trip is also kept for
 * FH_WEB_FLOW_BASE_S seconds (its base), and a floor more than
 * FH_WEB_FLOW_CREEP_US above the base lowers the bitrate a little (as a
 * queue that stands does) to see whether it drains. It is a queue if half
 * of what crept drains within FH_WEB_FLOW_PROBE_US; else the round trip
 * itself grew (a client that changed its network), and the floor becomes
 * the base. Only with acks: without, the backlog is the kernel's queue,
 * which has no round trip in it.
 *
 * A round trip that grows by more than FH_WEB_FLOW_HIGH_US makes the
 * client skip; what was in flight then drains, and the keyframe that
 * resumes goes alone. Its ack, more than FH_WEB_FLOW_QUEUE_US later than
 * the floor plus what its bytes take at the rate the link was seen to
 * carry, says that nothing of ours waited before it: the round trip
 * grew, that delay is the floor and the base from then on, and the
 * bitrate goes back to what it was before it went down for it
 * (fh_rate_control_false_alarm).
 *
 * No I/O and no clock of its own (tests/unit/test-web-flow.c). */
#pragma once

#include <glib.h>

#include "core/rate-control.h"

#define FH_WEB_FLOW_HIGH_US (150 * 1000)
#define FH_WEB_FLOW_LOW_US (50 * 1000)
#define FH_WEB_FLOW_PERSIST_US (100 * 1000)
#define FH_WEB_FLOW_STANDING_US (500 * 1000)
#define FH_WEB_FLOW_WINDOW_US (100 * 1000)
#define FH_WEB_FLOW_FLOOR_S 8
#define FH_WEB_FLOW_QUEUE_US (30 * 1000)
#define FH_WEB_FLOW_GROWING_US (15 * 1000)
#define FH_WEB_FLOW_REASK_US (500 * 1000)
#define FH_WEB_FLOW_BASE_S 64 /* a multiple of FH_WEB_FLOW_FLOOR_S */
#define FH_WEB_FLOW_CREEP_US (40 * 1000)
#define FH_WEB_FLOW_PROBE_US (2 * G_USEC_PER_SEC)
#define FH_WEB_FLOW_BASE_BLOCKS (FH_WEB_FLOW_BASE_S / FH_WEB_FLOW_FLOOR_S)

typedef enum {
  FH_WEB_FLOW_SEND,
  FH_WEB_FLOW_SKIP,
  FH_WEB_FLOW_CUT_OFF, /* behind for FH_PROTO_TOO_SLOW_S seconds */
} FhWebFlowVerdict;

/* The smallest of a delay over the current FH_WEB_FLOW_WINDOW_US and the
 * one before (-1: none in it), over each of the last FH_WEB_FLOW_FLOOR_S
 * seconds (-1: none), and over each of the last FH_WEB_FLOW_BASE_BLOCKS
 * spans of FH_WEB_FLOW_FLOOR_S seconds (-1: none). */
typedef struct {
  gint64 window;
  gint64 now_us, last_us;
  gint64 second;
  gint64 floor_us[FH_WEB_FLOW_FLOOR_S];
  gint64 block;
  gint64 base_us[FH_WEB_FLOW_BASE_BLOCKS];
} FhWebFlowMins;

typedef struct {
  gboolean acks;
  FhRateControl rate;
  GArray *in_flight; /* FhWebFlowFrame: sent, not acknowledged */
  gboolean skipping;
  gint64 keyframe_asked_us; /* while skipping: when a keyframe was asked for; 0: not */
  gint64 behind_since_us; /* 0: not behind */
  gint64 queued_since_us;  /* a wait over FH_WEB_FLOW_LOW_US since; 0: not */
  /* With acks: how long each ack took, from the sending of the newest
   * frame it acks (the round trip, and what waited on the way). Without:
   * the backlog at each frame. */
  FhWebFlowMins delay;
  /* Since a creep lowered the bitrate: until when it may drain (0: no
   * such test under way), and by how much the floor had crept. */
  gint64 probe_until_us;
  gint64 probe_crept_us;
  /* Since a queue stood: until when it may drain or grow (0: no such
   * test under way), how much stood then, and the delay then. */
  gint64 stood_until_us;
  gint64 stood_us;
  gint64 stood_delay_us;
  /* The keyframe that resumed with nothing in flight, until it is acked
   * (a round trip that grows, above). */
  guint32 alone_frame;
  gboolean alone_pending;
  gboolean kbps_changed; /* by an ack: the next frame tells the session */
  gint64 started_us;
  guint64 skipped;
  /* What the link carried: acknowledged bytes over the current window. */
  gint64 window_start_us;
  guint64 window_bytes;
  guint delivered_kbps; /* 0: not known yet */
} FhWebFlow;

/* @acks: the client acknowledges frames; @max_kbps: the session's bitrate. */
void fh_web_flow_init (FhWebFlow *flow, gboolean acks, guint max_kbps, gint64 now_us);
void fh_web_flow_clear (FhWebFlow *flow);

/* What to do with frame @frame (@size bytes, @keyframe) at @now_us, with
 * @queued_bytes still in the kernel's send queue (-1: not known). Sets
 * *@ask_keyframe when the session should make a keyframe now, and
 * *@new_kbps (else 0) when its bitrate should change. */
FhWebFlowVerdict fh_web_flow_frame (FhWebFlow *flow, gint64 now_us, guint32 frame, gsize size,
                                    gboolean keyframe, gssize queued_bytes,
                                    gboolean *ask_keyframe, guint *new_kbps);

/* The client has decoded (or dropped) every frame up to @frame. */
void fh_web_flow_ack (FhWebFlow *flow, gint64 now_us, guint32 frame);

/* The backlog at @now_us, in µs (as fh_web_flow_frame sees it). */
gint64 fh_web_flow_backlog_us (FhWebFlow *flow, gint64 now_us, gssize queued_bytes);

/* The link's round trip when nothing waits, µs: the shortest an ack took
 * in the last FH_WEB_FLOW_FLOOR_S seconds (0 before the first ack, and
 * for a client without acks). */
gint64 fh_web_flow_round_trip_us (FhWebFlow *flow);
