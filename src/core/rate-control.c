/* Additive-increase, multiplicative-decrease of a session's bitrate (see
 * rate-control.h). */
#include "core/rate-control.h"

#define CONGESTION_HOLD_US (G_USEC_PER_SEC / 2)
#define CLEAR_HOLD_US G_USEC_PER_SEC
#define RISE_MIN_KBPS 100
/* Rises above the ceiling without congestion, the last at least 7/5 of it,
 * after which it is forgotten: what a link was seen to carry while it was
 * congested reads low, so only a clear excess shows that the link got
 * faster (a rise needs a link without a growing queue, see
 * planes/web/flow.h). */
#define RISES_TO_FORGET 3

void
fh_rate_control_init (FhRateControl *rc, guint max_kbps, gint64 now_us)
{
  rc->max_kbps = MAX (max_kbps, FH_RATE_CONTROL_MIN_KBPS);
  rc->target_kbps = rc->max_kbps;
  rc->ceiling_kbps = 0;
  rc->rises_above = 0;
  rc->last_drop_us = now_us - CONGESTION_HOLD_US;
  rc->last_rise_us = now_us;
}

gboolean
fh_rate_control_congested (FhRateControl *rc, gint64 now_us, guint delivered_kbps)
{
  guint target;

  /* One drop per hold: the backlog that made the first one takes a while
   * to drain, and is not news. */
  if (now_us - rc->last_drop_us < CONGESTION_HOLD_US)
    return FALSE;
  rc->last_drop_us = now_us;
  /* The link's ceiling: what it carried, else the rate that overran it. */
  rc->ceiling_kbps = delivered_kbps > 0 ? MIN (delivered_kbps, rc->target_kbps) : rc->target_kbps;
  rc->rises_above = 0;
  target = rc->target_kbps * 7 / 10;
  /* What the link carried, when that is lower; never below half at once:
   * a client that stalled for a moment carried little without the link
   * being that slow. */
  if (delivered_kbps > 0)
    target = MAX (MIN (target, delivered_kbps * 85 / 100), rc->target_kbps / 2);
  target = MAX (target, FH_RATE_CONTROL_MIN_KBPS);
  if (target == rc->target_kbps)
    return FALSE;
  rc->target_kbps = target;
  return TRUE;
}

gboolean
fh_rate_control_queued (FhRateControl *rc, gint64 now_us, guint delivered_kbps)
{
  guint target;

  if (now_us - rc->last_drop_us < CONGESTION_HOLD_US)
    return FALSE;
  rc->last_drop_us = now_us;
  /* The rate that overran the link by a little: it carries just under. */
  rc->ceiling_kbps = rc->target_kbps;
  rc->rises_above = 0;
  target = rc->target_kbps * 85 / 100;
  if (delivered_kbps > 0)
    target = MAX (MIN (target, delivered_kbps * 95 / 100), rc->target_kbps * 7 / 10);
  target = MAX (target, FH_RATE_CONTROL_MIN_KBPS);
  if (target == rc->target_kbps)
    return FALSE;
  rc->target_kbps = target;
  return TRUE;
}

gboolean
fh_rate_control_clear (FhRateControl *rc, gint64 now_us)
{
  guint target;

  if (rc->target_kbps >= rc->max_kbps || now_us - rc->last_drop_us < CLEAR_HOLD_US ||
      now_us - rc->last_rise_us < CLEAR_HOLD_US)
    return FALSE;
  rc->last_rise_us = now_us;
  if (rc->ceiling_kbps && rc->target_kbps > rc->ceiling_kbps &&
      ++rc->rises_above >= RISES_TO_FORGET && rc->target_kbps >= rc->ceiling_kbps * 7 / 5)
    rc->ceiling_kbps = 0; /* the link got faster */
  if (!rc->ceiling_kbps)
    target = rc->target_kbps + MAX (rc->target_kbps / 3, RISE_MIN_KBPS);
  else if (rc->target_kbps < rc->ceiling_kbps * 85 / 100)
    target = MIN (rc->target_kbps + MAX (rc->target_kbps / 4, RISE_MIN_KBPS),
                  rc->ceiling_kbps * 85 / 100);
  else
    target = rc->target_kbps + MAX (rc->target_kbps / 12, RISE_MIN_KBPS);
  rc->target_kbps = MIN (target, rc->max_kbps);
  return TRUE;
}
