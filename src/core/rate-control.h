/* How fast a session's video may go on its client's link: one rule for
 * every plane. A plane tells it when its client's link is congested (a
 * backlog of frames it has not acknowledged, or losses it reports) and
 * when it is clear; it answers with the bitrate the session's encoder
 * should aim at. Additive-increase, multiplicative-decrease, like TCP:
 *
 * - congested: at most every CONGESTION_HOLD_US, the target drops to 70 %
 *   of itself, or to 85 % of what the link was seen to carry when that is
 *   lower (but at most to half at once), never below the minimum; a queue
 *   that stands (a link overrun by a little) drops it less (see
 *   fh_rate_control_queued);
 * - clear for CLEAR_HOLD_US after the last drop and the last rise: it
 *   rises, never above what the client asked for. By a quarter (at least
 *   100 kb/s) up to 85 % of the rate the link carried when it was last
 *   congested (its ceiling), then by a twelfth: near the ceiling it probes
 *   gently, so a link that holds at its rate is not overrun by a quarter
 *   every few seconds (each overrun a burst of latency). Three rises above
 *   the ceiling without congestion, to at least 7/5 of it: the link got
 *   faster, the ceiling is forgotten and it rises by a third. From the
 *   rate of a link that was just lifted (a quarter of the asked rate)
 *   back to all of it: about 9 s. A ceiling that is a rate which overran
 *   the link (a queue that stood, or congestion with nothing known of
 *   what it carried) says more: from 95 % of it each rise without
 *   congestion is twice the one before (a twelfth, a sixth, a third), and
 *   after three the ceiling is forgotten; back to 90 % of the asked rate
 *   in about 8 s.
 *
 * A plane that knows what its client's link carries (the web's acks, see
 * planes/web/flow.h) says so: the rate it was seen to carry when it was
 * last congested is the link's, in the bytes that reached the client,
 * which the rules above cannot know (an encoder makes less than it aims
 * at, by a fifth or more on simple pictures, so a target says little of
 * what goes on the link). While the link carries less than 90 % of that,
 * each rise is a quarter, but never to more than would carry 95 % of it
 * (the target scaled by what it carries now); from 90 % a rise is a
 * twelfth, twice, then a sixth while none overran it (a link that holds
 * at its rate is overrun by a few per cent by the second, which the flow
 * sees within a tenth of a second); at 110 % on two rises in a row, or
 * 125 % once, the link got faster: what was known of it is forgotten and
 * the target rises by a third; until the next drop, a rise comes after
 * half of CLEAR_HOLD_US while what the link carries grows with the
 * target (a tenth more than at the last rise: a link read low when it
 * was congested only looked faster, and carries no more). Without that
 * knowledge (a plane that tells only of losses, or before the first
 * congestion) the target-only rules above apply.
 *
 * Pure: no clock of its own, no I/O (tests/unit/test-rate-control.c). */
#pragma once

#include <glib.h>

#define FH_RATE_CONTROL_MIN_KBPS 300

typedef struct {
  guint max_kbps;
  guint target_kbps;
  guint ceiling_kbps; /* what the link carried when last congested; 0: none known */
  guint link_kbps; /* the same in what reached the client, as the plane measured it; 0: not known */
  guint faster; /* rises in a row at which the link carried 110 % of link_kbps */
  /* Since what the link carried showed that it got faster (and no drop
   * since): the most it carried at a rise; 0: not so. */
  guint grown_kbps;
  guint calm_kbps; /* the target before the drops since the last rise; 0: none since */
  gboolean ceiling_overran; /* the ceiling is a rate that overran the link */
  /* Rises from the ceiling or above (from 90 % of link_kbps, where that is
   * known) since the last congestion. */
  guint rises_above;
  gint64 last_drop_us;
  gint64 last_rise_us;
} FhRateControl;

/* Starts at @max_kbps (what the client asked for, or the host's default). */
void fh_rate_control_init (FhRateControl *rc, guint max_kbps, gint64 now_us);

/* The link is congested at @now_us; it was seen to carry @delivered_kbps
 * lately (0: not known). Returns TRUE when the target changed. */
gboolean fh_rate_control_congested (FhRateControl *rc, gint64 now_us, guint delivered_kbps);

/* A queue stands on the link at @now_us (it is overrun by a little): like
 * fh_rate_control_congested, but the target drops only to 85 % of itself
 * or 95 % of what the link carried, whichever is lower, and never below
 * 70 % at once; the ceiling is the target that overran the link. Returns
 * TRUE when the target changed. */
gboolean fh_rate_control_queued (FhRateControl *rc, gint64 now_us, guint delivered_kbps);

/* What lowered the target since the last rise was no congestion (a plane
 * that learnt that its client's round trip grew): the target goes back to
 * what it was before those drops, what was learnt of the link is
 * forgotten, and the next rise waits a hold. Returns TRUE when the target
 * changed. */
gboolean fh_rate_control_false_alarm (FhRateControl *rc, gint64 now_us);

/* The link keeps up at @now_us, carrying @delivered_kbps of what reached
 * the client lately (0: not known). Returns TRUE when the target changed. */
gboolean fh_rate_control_clear (FhRateControl *rc, gint64 now_us, guint delivered_kbps);
