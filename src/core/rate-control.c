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
 * planes/web/flow.h). Above a ceiling that is a rate which overran the
 * link, each of these rises is twice the one before (a twelfth, a sixth,
 * a third: 1.68 times the ceiling after three): going above it without
 * congestion already says that the link got faster. */
#define RISES_TO_FORGET 3

void
fh_rate_control_init (FhRateControl *rc, guint max_kbps, gint64 now_us)
{
  rc->max_kbps = MAX (max_kbps, FH_RATE_CONTROL_MIN_KBPS);
  rc->target_kbps = rc->max_kbps;
  rc->ceiling_kbps = 0;
  rc->ceiling_overran = FALSE;
  rc->link_kbps = 0;
  rc->faster = 0;
  rc->grown_kbps = 0;
  rc->calm_kbps = 0;
  rc->rises_above = 0;
  rc->last_drop_us = now_us - CONGESTION_HOLD_US;
  rc->last_rise_us = now_us;
}

/* One drop per hold: the backlog that made the first one takes a while to
 * drain, and is not news. The target goes to @own per cent of itself, or
 * to @link per cent of what the link carried (@delivered_kbps) when that is
 * lower, but never below @least per cent at once nor the minimum; the
 * link's ceiling is now @ceiling_kbps (@overran: a rate that overran the
 * link, not what it carried). */
static gboolean
drop (FhRateControl *rc, gint64 now_us, guint delivered_kbps, guint ceiling_kbps,
      gboolean overran, guint own, guint link, guint least)
{
  guint target;

  if (now_us - rc->last_drop_us < CONGESTION_HOLD_US)
    return FALSE;
  rc->last_drop_us = now_us;
  if (!rc->calm_kbps)
    rc->calm_kbps = rc->target_kbps;
  rc->ceiling_kbps = ceiling_kbps;
  rc->ceiling_overran = overran;
  rc->rises_above = 0;
  rc->faster = 0;
  rc->grown_kbps = 0;
  if (delivered_kbps > 0)
    rc->link_kbps = delivered_kbps;
  target = rc->target_kbps * own / 100;
  if (delivered_kbps > 0)
    target = MAX (MIN (target, delivered_kbps * link / 100), rc->target_kbps * least / 100);
  target = MAX (target, FH_RATE_CONTROL_MIN_KBPS);
  if (target == rc->target_kbps)
    return FALSE;
  rc->target_kbps = target;
  return TRUE;
}

gboolean
fh_rate_control_congested (FhRateControl *rc, gint64 now_us, guint delivered_kbps)
{
  /* The link's ceiling: what it carried, else the rate that overran it.
   * Never below half at once: a client that stalled for a moment carried
   * little without the link being that slow. */
  gboolean carried = delivered_kbps > 0 && delivered_kbps < rc->target_kbps;

  return drop (rc, now_us, delivered_kbps, carried ? delivered_kbps : rc->target_kbps, !carried,
               70, 85, 50);
}

gboolean
fh_rate_control_queued (FhRateControl *rc, gint64 now_us, guint delivered_kbps)
{
  /* The rate that overran the link by a little: it carries just under. */
  return drop (rc, now_us, delivered_kbps, rc->target_kbps, TRUE, 85, 95, 70);
}

gboolean
fh_rate_control_false_alarm (FhRateControl *rc, gint64 now_us)
{
  guint target = rc->calm_kbps;

  rc->calm_kbps = 0;
  rc->ceiling_kbps = rc->link_kbps = 0;
  rc->ceiling_overran = FALSE;
  rc->faster = rc->rises_above = rc->grown_kbps = 0;
  rc->last_rise_us = now_us;
  if (target <= rc->target_kbps)
    return FALSE;
  rc->target_kbps = target;
  return TRUE;
}

/* A rise on a link known by what it carried (rate-control.h). FALSE: the
 * link got faster, and only the target-only rules are left. */
static gboolean
rise_on_link (FhRateControl *rc, guint delivered_kbps)
{
  guint64 carried = (guint64) delivered_kbps * 100, link = rc->link_kbps;
  guint64 most;
  guint step;

  /* One reading of 110 % can be acks that bunched, or a link's rate
   * read low when it was congested; two in a row, or 125 %, cannot. */
  rc->faster = carried >= link * 110 ? rc->faster + 1 : 0;
  if (carried >= link * 125 || rc->faster >= 2) {
    rc->link_kbps = rc->ceiling_kbps = 0;
    rc->faster = 0;
    rc->grown_kbps = delivered_kbps;
    return FALSE;
  }
  if (carried >= link * 90) {
    /* Near the link: a twelfth, twice (a link that holds at its rate is
     * overrun by then), then a sixth. */
    step = rc->target_kbps / (rc->rises_above++ >= 2 ? 6 : 12);
    most = rc->target_kbps + MAX (step, RISE_MIN_KBPS);
  } else {
    /* What carries 95 % of the link, at the encoder's present ratio of
     * what it makes to what it aims at. */
    most = MIN ((guint64) rc->target_kbps + MAX (rc->target_kbps / 4, RISE_MIN_KBPS),
                (guint64) rc->target_kbps * link * 95 / carried);
  }
  rc->target_kbps = (guint) CLAMP (most, rc->target_kbps, rc->max_kbps);
  return TRUE;
}

/* The link got faster (rise_on_link), and what it carries still grows
 * with the target: a tenth more than at the last rise. */
static gboolean
grows (const FhRateControl *rc, guint delivered_kbps)
{
  return rc->grown_kbps && (guint64) delivered_kbps * 100 >= (guint64) rc->grown_kbps * 110;
}

gboolean
fh_rate_control_clear (FhRateControl *rc, gint64 now_us, guint delivered_kbps)
{
  guint target;

  if (rc->target_kbps >= rc->max_kbps || now_us - rc->last_drop_us < CLEAR_HOLD_US ||
      now_us - rc->last_rise_us < (grows (rc, delivered_kbps) ? CLEAR_HOLD_US / 2 : CLEAR_HOLD_US))
    return FALSE;
  rc->last_rise_us = now_us;
  rc->calm_kbps = 0;
  if (rc->grown_kbps)
    rc->grown_kbps = MAX (rc->grown_kbps, delivered_kbps);
  if (rc->link_kbps && delivered_kbps && rise_on_link (rc, delivered_kbps))
    return TRUE;
  /* At a ceiling that overran the link, from 95 % of it: what overran
   * the link by a little was detected a little late. */
  if (rc->ceiling_kbps &&
      (rc->ceiling_overran ? (guint64) rc->target_kbps * 20 >= (guint64) rc->ceiling_kbps * 19
                           : rc->target_kbps >= rc->ceiling_kbps) &&
      ++rc->rises_above >= RISES_TO_FORGET + (rc->ceiling_overran ? 1 : 0) &&
      rc->target_kbps >= rc->ceiling_kbps * 7 / 5)
    rc->ceiling_kbps = 0; /* the link got faster */
  if (!rc->ceiling_kbps)
    target = rc->target_kbps + MAX (rc->target_kbps / 3, RISE_MIN_KBPS);
  else if (rc->target_kbps < rc->ceiling_kbps * 85 / 100)
    target = MIN (rc->target_kbps + MAX (rc->target_kbps / 4, RISE_MIN_KBPS),
                  rc->ceiling_kbps * 85 / 100);
  else if (rc->ceiling_overran && rc->rises_above > 0)
    target = rc->target_kbps + MAX (rc->target_kbps / 12 << MIN (rc->rises_above - 1, 2u),
                                    RISE_MIN_KBPS);
  else
    target = rc->target_kbps + MAX (rc->target_kbps / 12, RISE_MIN_KBPS);
  rc->target_kbps = MIN (target, rc->max_kbps);
  return TRUE;
}
