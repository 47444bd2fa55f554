/* A browser client's video in flight (see flow.h). */
#include "planes/web/flow.h"

#include <string.h>

#include "planes/web/protocol.h"

#define DELIVERY_WINDOW_US (G_USEC_PER_SEC / 2)
/* More unacknowledged frames than this and the client is not acking:
 * something is wrong with it, not with the link. */
#define MAX_IN_FLIGHT 1024

typedef struct {
  guint32 frame;
  guint32 size;
  gint64 sent_us;
} FhWebFlowFrame;

/* A ring of @n smallest values (note_smallest) that holds only @value,
 * in span @at's (-1: none). */
static void
reset_ring (gint64 *ring, guint n, gint64 at, gint64 value)
{
  for (guint i = 0; i < n; i++)
    ring[i] = -1;
  ring[at % n] = value;
}

void
fh_web_flow_init (FhWebFlow *self, gboolean acks, guint max_kbps, gint64 now_us)
{
  memset (self, 0, sizeof *self);
  self->acks = acks;
  self->in_flight = g_array_new (FALSE, FALSE, sizeof (FhWebFlowFrame));
  self->window_start_us = now_us;
  self->started_us = now_us;
  self->delay.window = now_us / FH_WEB_FLOW_WINDOW_US;
  self->delay.now_us = self->delay.last_us = -1;
  self->delay.second = now_us / G_USEC_PER_SEC;
  reset_ring (self->delay.floor_us, FH_WEB_FLOW_FLOOR_S, self->delay.second, -1);
  self->delay.block = self->delay.second / FH_WEB_FLOW_FLOOR_S;
  reset_ring (self->delay.base_us, FH_WEB_FLOW_BASE_BLOCKS, self->delay.block, -1);
  fh_rate_control_init (&self->rate, max_kbps, now_us);
}

void
fh_web_flow_clear (FhWebFlow *self)
{
  g_clear_pointer (&self->in_flight, g_array_unref);
}

gint64
fh_web_flow_backlog_us (FhWebFlow *self, gint64 now_us, gssize queued_bytes)
{
  if (self->acks) {
    if (!self->in_flight->len)
      return 0;
    return now_us - g_array_index (self->in_flight, FhWebFlowFrame, 0).sent_us;
  }
  if (queued_bytes <= 0)
    return 0;
  /* The queue drains at about the rate the encoder fills it. */
  return (gint64) queued_bytes * 8 * 1000 / MAX (self->rate.target_kbps, 1u);
}

/* Keeps @value in a ring of @n smallest values, one for each span (a
 * second, a block of them): in span @at's, after clearing those of the
 * spans between the newest so far (*@newest) and it. */
static void
note_smallest (gint64 *ring, guint n, gint64 *newest, gint64 at, gint64 value)
{
  gint64 *slot;

  for (gint64 i = *newest + 1; i <= at && i <= *newest + n; i++)
    ring[i % n] = -1;
  *newest = MAX (*newest, at);
  slot = &ring[at % n];
  if (*slot < 0 || value < *slot)
    *slot = value;
}

/* Keeps the smallest delays: of this window and the last, of each of the
 * last seconds, and of each of the last blocks of them. */
static void
note_delay (FhWebFlowMins *m, gint64 now_us, gint64 delay)
{
  gint64 window = now_us / FH_WEB_FLOW_WINDOW_US;
  gint64 second = now_us / G_USEC_PER_SEC;

  if (window != m->window) {
    /* A window without a delay in between says nothing. */
    m->last_us = window == m->window + 1 ? m->now_us : -1;
    m->now_us = -1;
    m->window = window;
  }
  if (m->now_us < 0 || delay < m->now_us)
    m->now_us = delay;
  note_smallest (m->floor_us, FH_WEB_FLOW_FLOOR_S, &m->second, second, delay);
  note_smallest (m->base_us, FH_WEB_FLOW_BASE_BLOCKS, &m->block, second / FH_WEB_FLOW_FLOOR_S,
                 delay);
}

static gint64
smallest (const gint64 *mins, guint n)
{
  gint64 least = -1;

  for (guint i = 0; i < n; i++) {
    if (mins[i] >= 0 && (least < 0 || mins[i] < least))
      least = mins[i];
  }
  return MAX (least, 0);
}

/* The smallest delay of the last FH_WEB_FLOW_FLOOR_S seconds; 0 if none. */
static gint64
floor_us (const FhWebFlowMins *m)
{
  return smallest (m->floor_us, FH_WEB_FLOW_FLOOR_S);
}

/* The smallest delay of the last FH_WEB_FLOW_BASE_S seconds; 0 if none. */
static gint64
base_us (const FhWebFlowMins *m)
{
  return smallest (m->base_us, FH_WEB_FLOW_BASE_BLOCKS);
}

/* A creep that did not drain: the round trip grew, and @floor is it. */
static void
rebase (FhWebFlowMins *m, gint64 floor)
{
  reset_ring (m->base_us, FH_WEB_FLOW_BASE_BLOCKS, m->block, floor);
}

/* The round trip itself grew to @delay (a queue that stood and neither
 * drained nor grew, or the keyframe that went alone came back later than
 * its bytes explain): it is the floor and the base from now on (the
 * delays that follow take them lower again at once if it was a moment's
 * stall). */
static void
restart_round_trip (FhWebFlowMins *m, gint64 delay)
{
  reset_ring (m->floor_us, FH_WEB_FLOW_FLOOR_S, m->second, delay);
  rebase (m, delay);
}

/* A queue that creeps (flow.h): the floor well above the base lowers the
 * bitrate, and what drains after it tells a queue from a longer round
 * trip. */
static void
watch_creep (FhWebFlow *self, gint64 now_us, gint64 floor, guint *new_kbps)
{
  gint64 base = base_us (&self->delay), crept = floor - base;

  if (self->probe_until_us) {
    if (self->delay.last_us - base <= self->probe_crept_us / 2) {
      self->probe_until_us = 0;
    } else if (now_us >= self->probe_until_us) {
      rebase (&self->delay, floor);
      self->probe_until_us = 0;
    }
  } else if (crept > FH_WEB_FLOW_CREEP_US) {
    /* The test runs whether the bitrate went down now or not (at the
     * least bitrate, or a drop held after another): else, at the least
     * bitrate, a round trip that grew would hold it there for good. */
    if (fh_rate_control_queued (&self->rate, now_us, self->delivered_kbps))
      *new_kbps = self->rate.target_kbps;
    self->probe_until_us = now_us + FH_WEB_FLOW_PROBE_US;
    self->probe_crept_us = crept;
  }
}

/* A queue that stands (flow.h), which lowers the bitrate while it does:
 * one that in FH_WEB_FLOW_PROBE_US neither drains by half nor grows by
 * half is the round trip itself, grown, and the bitrate goes back to
 * where it was. */
static void
watch_standing (FhWebFlow *self, gint64 now_us, gint64 standing, guint *new_kbps)
{
  gint64 last = self->delay.last_us;

  if (!self->stood_until_us) {
    if (standing > FH_WEB_FLOW_QUEUE_US) {
      self->stood_until_us = now_us + FH_WEB_FLOW_PROBE_US;
      self->stood_us = standing;
      self->stood_delay_us = last;
    }
  } else if (standing <= self->stood_us / 2 || last > self->stood_delay_us + self->stood_us / 2) {
    self->stood_until_us = 0;
  } else if (now_us >= self->stood_until_us) {
    restart_round_trip (&self->delay, last);
    self->stood_until_us = 0;
    if (fh_rate_control_false_alarm (&self->rate, now_us))
      *new_kbps = self->rate.target_kbps;
  }
}

gint64
fh_web_flow_round_trip_us (FhWebFlow *self)
{
  return self->acks ? floor_us (&self->delay) : 0;
}

FhWebFlowVerdict
fh_web_flow_frame (FhWebFlow *self, gint64 now_us, guint32 frame, gsize size, gboolean keyframe,
                   gssize queued_bytes, gboolean *ask_keyframe, guint *new_kbps)
{
  gint64 backlog = fh_web_flow_backlog_us (self, now_us, queued_bytes);
  gint64 wait, floor, standing;
  gboolean resumed = FALSE;
  FhWebFlowFrame sent = { frame, (guint32) MIN (size, G_MAXUINT32), now_us };

  *ask_keyframe = FALSE;
  /* What an ack changed (a false alarm, fh_web_flow_ack) goes with the
   * next frame. */
  *new_kbps = self->kbps_changed ? self->rate.target_kbps : 0;
  self->kbps_changed = FALSE;
  if (!self->acks)
    note_delay (&self->delay, now_us, backlog);
  floor = floor_us (&self->delay);
  /* What waits: the backlog less what the link's round trip takes anyway
   * (a client 100 ms away always has 100 ms of frames unacknowledged;
   * fh_web_flow_round_trip_us). */
  wait = MAX (backlog - (self->acks ? floor : 0), 0);
  /* The queue that stands (flow.h); -1 while not known. */
  standing = self->delay.last_us < 0 ? -1 : MAX (self->delay.last_us - floor, 0);
  if (wait > FH_WEB_FLOW_HIGH_US) {
    if (!self->behind_since_us)
      self->behind_since_us = now_us;
    if (now_us - self->behind_since_us >= (gint64) FH_PROTO_TOO_SLOW_S * G_USEC_PER_SEC ||
        self->in_flight->len >= MAX_IN_FLIGHT)
      return FH_WEB_FLOW_CUT_OFF;
  }
  /* Behind for a while (not one late ack): skip, and slow down. */
  if (wait > FH_WEB_FLOW_HIGH_US &&
      (self->skipping || now_us - self->behind_since_us >= FH_WEB_FLOW_PERSIST_US)) {
    if (fh_rate_control_congested (&self->rate, now_us, self->delivered_kbps))
      *new_kbps = self->rate.target_kbps;
    self->skipping = TRUE;
    self->keyframe_asked_us = 0;
    self->skipped++;
    return FH_WEB_FLOW_SKIP;
  }
  if (wait <= FH_WEB_FLOW_HIGH_US)
    self->behind_since_us = 0;
  /* A queue that stands: the link is overrun by a little. */
  if (wait < FH_WEB_FLOW_LOW_US)
    self->queued_since_us = 0;
  else if (!self->queued_since_us)
    self->queued_since_us = now_us;
  if (self->queued_since_us && now_us - self->queued_since_us >= FH_WEB_FLOW_STANDING_US) {
    if (fh_rate_control_congested (&self->rate, now_us, self->delivered_kbps))
      *new_kbps = self->rate.target_kbps;
    self->queued_since_us = now_us;
  } else if (standing > FH_WEB_FLOW_QUEUE_US && now_us - self->started_us >= G_USEC_PER_SEC) {
    /* Not in the first second: a client that starts (its page, its
     * decoder) acks late without its link being full, and the floor is
     * not known yet. */
    if (fh_rate_control_queued (&self->rate, now_us, self->delivered_kbps))
      *new_kbps = self->rate.target_kbps;
  }
  if (self->acks && standing >= 0 && now_us - self->started_us >= G_USEC_PER_SEC) {
    watch_creep (self, now_us, floor, new_kbps);
    watch_standing (self, now_us, standing, new_kbps);
  }
  if (self->skipping) {
    /* What it missed broke the chain of frames: resume at a keyframe,
     * asked for once the wait is small, and again if none came. */
    if (!keyframe) {
      if (wait < FH_WEB_FLOW_LOW_US &&
          (!self->keyframe_asked_us || now_us - self->keyframe_asked_us >= FH_WEB_FLOW_REASK_US)) {
        *ask_keyframe = TRUE;
        self->keyframe_asked_us = now_us;
      }
      self->skipped++;
      return FH_WEB_FLOW_SKIP;
    }
    self->skipping = FALSE;
    self->keyframe_asked_us = 0;
    resumed = TRUE;
  }
  /* More only while nothing waits: a queue that grows, however slowly,
   * says the link is full. */
  if (wait < FH_WEB_FLOW_LOW_US && standing <= FH_WEB_FLOW_GROWING_US &&
      fh_rate_control_clear (&self->rate, now_us, self->delivered_kbps))
    *new_kbps = self->rate.target_kbps;
  if (self->acks) {
    /* What was skipped drained all there was: the keyframe that resumes
     * goes alone, and the link's rate is known from the drain. */
    if (resumed && !self->in_flight->len) {
      self->alone_frame = frame;
      self->alone_pending = TRUE;
    }
    g_array_append_val (self->in_flight, sent);
  }
  return FH_WEB_FLOW_SEND;
}

void
fh_web_flow_ack (FhWebFlow *self, gint64 now_us, guint32 frame)
{
  guint done = 0;
  gint64 newest_sent_us = 0;
  guint64 alone_bytes = 0; /* from the frame that went alone on, in this ack */

  while (done < self->in_flight->len) {
    FhWebFlowFrame *f = &g_array_index (self->in_flight, FhWebFlowFrame, done);
    /* Frame numbers wrap after 2^32 frames: compare by difference. */
    if ((gint32) (f->frame - frame) > 0)
      break;
    self->window_bytes += f->size;
    if (self->alone_pending && (gint32) (f->frame - self->alone_frame) >= 0)
      alone_bytes += f->size;
    newest_sent_us = f->sent_us;
    done++;
  }
  if (done) {
    /* The newest frame it acks says the most of the link: the client may
     * have held the older ones' ack back (docs/protocol.md). */
    gint64 delay = MAX (now_us - newest_sent_us, 0);
    /* The floor before this delay, only for the frame that went alone. */
    gint64 floor = alone_bytes ? floor_us (&self->delay) : 0;

    g_array_remove_range (self->in_flight, 0, done);
    note_delay (&self->delay, now_us, delay);
    if (alone_bytes) {
      /* Its bytes, and those of the frames after it that this ack
       * names, took at most this long: the link was seen to carry no
       * more than it can. */
      self->alone_pending = FALSE;
      if (self->delivered_kbps &&
          delay - (gint64) (alone_bytes * 8 * 1000 / self->delivered_kbps) >
            floor + FH_WEB_FLOW_QUEUE_US) {
        /* What went down for it was no congestion. */
        self->stood_until_us = 0;
        restart_round_trip (&self->delay, delay);
        if (fh_rate_control_false_alarm (&self->rate, now_us))
          self->kbps_changed = TRUE;
      }
    }
  }
  if (now_us - self->window_start_us >= DELIVERY_WINDOW_US) {
    self->delivered_kbps =
      (guint) (self->window_bytes * 8 * 1000 / (guint64) (now_us - self->window_start_us));
    self->window_bytes = 0;
    self->window_start_us = now_us;
  }
}
