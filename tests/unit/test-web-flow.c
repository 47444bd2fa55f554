/* A browser client's video in flight (planes/web/flow.c): frames go out
 * while the client keeps up; behind, they are skipped and the bitrate
 * drops; caught up, the client resumes at a keyframe it asked for (and asks
 * again while none comes); a client that takes nothing is cut off; without
 * acks the kernel's queue is the measure. On a simulated 5 Mbit/s link the
 * wait stays bounded and the bitrate comes back once it is lifted; on one a
 * little slower than the stream the queue that creeps stays bounded. */
#include <glib.h>

#include "planes/web/flow.h"
#include "planes/web/protocol.h"

#define MS 1000
#define PERIOD (16 * MS)

typedef struct {
  FhWebFlow flow;
  gint64 now;
  guint32 frame;
  gboolean ask;
  guint kbps;
} Fixture;

static FhWebFlowVerdict
next (Fixture *f, gboolean keyframe, gssize queued)
{
  f->now += PERIOD;
  return fh_web_flow_frame (&f->flow, f->now, f->frame++, 10000, keyframe, queued, &f->ask,
                            &f->kbps);
}

static void
test_keeps_up (void)
{
  Fixture f = { .now = 1000 * MS };

  fh_web_flow_init (&f.flow, TRUE, 8000, f.now);
  for (int i = 0; i < 100; i++) {
    g_assert_cmpint (next (&f, i == 0, -1), ==, FH_WEB_FLOW_SEND);
    /* Acked a frame later. */
    fh_web_flow_ack (&f.flow, f.now + PERIOD / 2, f.frame - 1);
    g_assert_false (f.ask);
    g_assert_cmpuint (f.kbps, ==, 0);
  }
  g_assert_cmpuint (f.flow.skipped, ==, 0);
  g_assert_cmpuint (f.flow.rate.target_kbps, ==, 8000);
  fh_web_flow_clear (&f.flow);
}

/* Frames acked @delay after they went: the acks of the frames sent up to
 * @delay before the next frame goes. A keyframe asked for is the next
 * frame. */
static FhWebFlowVerdict
next_acked (Fixture *f, gint64 *sent, gint64 delay)
{
  gint64 at = f->now + PERIOD;
  FhWebFlowVerdict v;
  gint64 newest = -1;

  for (guint32 i = 0; i < f->frame; i++) {
    if (sent[i] && sent[i] <= at - delay)
      newest = i;
  }
  if (newest >= 0)
    fh_web_flow_ack (&f->flow, at, (guint32) newest);
  v = next (f, f->frame == 0 || f->ask, -1);
  if (v == FH_WEB_FLOW_SEND)
    sent[f->frame - 1] = f->now;
  return v;
}

/* A link overrun by a little: its round trip is 5 ms while nothing waits,
 * then a queue builds (each frame acked 5 ms later than the one before)
 * up to 80 ms, a wait over the low mark and under the high one that does
 * not go away. The bitrate goes down within FH_WEB_FLOW_STANDING_US (and
 * once a hold after that), and nothing is skipped. */
static void
test_standing_queue (void)
{
  Fixture f = { .now = 1000 * MS };
  g_autofree gint64 *sent = g_new0 (gint64, 4096);
  gint64 queued_at, dropped_at = 0;

  fh_web_flow_init (&f.flow, TRUE, 8000, f.now);
  for (int i = 0; i < 1000 / 16; i++)
    g_assert_cmpint (next_acked (&f, sent, 5 * MS), ==, FH_WEB_FLOW_SEND);
  g_assert_cmpuint (f.flow.rate.target_kbps, ==, 8000);
  g_assert_cmpint (fh_web_flow_round_trip_us (&f.flow), <=, 5 * MS + PERIOD);
  queued_at = f.now;
  for (int i = 0; i < 60; i++) {
    g_assert_cmpint (next_acked (&f, sent, MIN (10 + 5 * i, 80) * MS), ==, FH_WEB_FLOW_SEND);
    if (f.kbps && !dropped_at)
      dropped_at = f.now;
  }
  g_assert_cmpuint (f.flow.skipped, ==, 0);
  g_assert_cmpint (dropped_at, >, 0);
  g_assert_cmpint (dropped_at - queued_at, <=, FH_WEB_FLOW_STANDING_US + 200 * MS);
  g_assert_cmpuint (f.flow.rate.target_kbps, <, 8000);
  fh_web_flow_clear (&f.flow);
}

/* A link that carries all it is given, far away: every frame acked @data
 * ms after it went, for 30 s. What is unacknowledged is the round trip,
 * not a queue: nothing is skipped once the first ack has come (before it,
 * nothing tells a far client from one that stopped reading: past
 * FH_WEB_FLOW_HIGH_US + FH_WEB_FLOW_PERSIST_US the frames until it are
 * skipped, and the bitrate goes down once), and the bitrate stays, or
 * comes back to, what was asked. */
static void
test_long_round_trip (gconstpointer data)
{
  const gint64 delay = GPOINTER_TO_INT (data) * MS;
  Fixture f = { .now = 1000 * MS };
  g_autofree gint64 *sent = g_new0 (gint64, 4096);
  guint64 skipped_at_first = 0;
  gint64 start = f.now, lowered_at = 0;

  fh_web_flow_init (&f.flow, TRUE, 8000, f.now);
  for (int i = 0; i < 30 * 1000 / 16; i++) {
    guint before = f.flow.rate.target_kbps;

    next_acked (&f, sent, delay);
    /* The first ack, the keyframe it lets the skipping client ask for. */
    if (f.now - start <= delay + 3 * PERIOD)
      skipped_at_first = f.flow.skipped;
    if (f.kbps && f.kbps < before)
      lowered_at = f.now;
  }
  g_test_message ("acks %" G_GINT64_FORMAT " ms late: %" G_GUINT64_FORMAT " skipped (%" G_GUINT64_FORMAT
                  " before the first ack), round trip %" G_GINT64_FORMAT " ms, lowered last at %.1f s, "
                  "%u kb/s at the end",
                  delay / MS, f.flow.skipped, skipped_at_first, fh_web_flow_round_trip_us (&f.flow) / MS,
                  lowered_at ? (lowered_at - start) / 1e6 : 0.0, f.flow.rate.target_kbps);
  g_assert_cmpuint (f.flow.skipped, ==, skipped_at_first);
  g_assert_cmpint (fh_web_flow_round_trip_us (&f.flow), >=, delay);
  g_assert_cmpint (fh_web_flow_round_trip_us (&f.flow), <=, delay + PERIOD);
  g_assert_cmpint (lowered_at - start, <, 2 * G_USEC_PER_SEC);
  g_assert_cmpuint (f.flow.rate.target_kbps, ==, 8000);
  fh_web_flow_clear (&f.flow);
}

/* A link probed a little past its rate: the acks take 10 ms while nothing
 * waits, then 1 ms more with every frame (a queue growing by 60 ms a
 * second). The bitrate rises while nothing waits, stops rising once the
 * queue stands (a window after it passed FH_WEB_FLOW_GROWING_US), and drops while the queue is still short: well before the
 * old rule (over 50 ms for half a second) would see it. */
static void
test_growing_queue (void)
{
  Fixture f = { .now = 1000 * MS };
  g_autofree gint64 *sent = g_new0 (gint64, 4096);
  guint risen_to = 0, dropped_at_delay = 0;
  gint64 delay = 10 * MS;

  fh_web_flow_init (&f.flow, TRUE, 8000, f.now);
  g_assert_true (fh_rate_control_congested (&f.flow.rate, f.now, 0));
  g_assert_cmpuint (f.flow.rate.target_kbps, ==, 5600);
  /* Nothing waits for three seconds: it rises. */
  for (int i = 0; i < 3000 / 16; i++) {
    g_assert_cmpint (next_acked (&f, sent, delay), ==, FH_WEB_FLOW_SEND);
    if (f.kbps)
      risen_to = f.kbps;
  }
  g_assert_cmpuint (risen_to, >, 5600);
  g_assert_cmpuint (f.flow.rate.target_kbps, ==, risen_to);
  /* The queue grows. */
  for (int i = 0; i < 2000 / 16 && !dropped_at_delay; i++) {
    delay += MS;
    g_assert_cmpint (next_acked (&f, sent, delay), ==, FH_WEB_FLOW_SEND);
    if (f.kbps > risen_to) {
      /* Up only before the queue stood: in the first window of it. */
      g_assert_cmpint (delay, <, 10 * MS + FH_WEB_FLOW_GROWING_US + 16 * MS);
      risen_to = f.kbps;
    } else if (f.kbps) {
      dropped_at_delay = (guint) (delay / MS);
    }
  }
  g_test_message ("dropped with acks %u ms late", dropped_at_delay);
  g_assert_cmpuint (dropped_at_delay, >, 0);
  g_assert_cmpuint (dropped_at_delay, <, 60);
  g_assert_cmpuint (f.flow.skipped, ==, 0);
  fh_web_flow_clear (&f.flow);
}

static void
test_falls_behind_and_resumes_at_a_keyframe (void)
{
  Fixture f = { .now = 1000 * MS };
  guint32 last_sent = 0;
  int sent = 0;

  fh_web_flow_init (&f.flow, TRUE, 8000, f.now);
  /* No acks for a while: frames pile up, then are skipped. */
  for (int i = 0; i < 20; i++) {
    if (next (&f, i == 0, -1) == FH_WEB_FLOW_SEND) {
      sent++;
      last_sent = f.frame - 1;
    }
  }
  /* Past 150 ms of backlog (frame 10, at 16 ms a frame) for 100 ms more:
   * frames 0–16 went out. */
  g_assert_cmpint (sent, ==, 17);
  g_assert_true (f.flow.skipping);
  g_assert_cmpuint (f.flow.rate.target_kbps, ==, 5600);
  /* The client catches up: the next frame is skipped, but asks for a
   * keyframe, once. */
  fh_web_flow_ack (&f.flow, f.now, last_sent);
  g_assert_cmpint (next (&f, FALSE, -1), ==, FH_WEB_FLOW_SKIP);
  g_assert_true (f.ask);
  g_assert_cmpint (next (&f, FALSE, -1), ==, FH_WEB_FLOW_SKIP);
  g_assert_false (f.ask);
  g_assert_cmpint (next (&f, TRUE, -1), ==, FH_WEB_FLOW_SEND);
  g_assert_false (f.flow.skipping);
  fh_web_flow_clear (&f.flow);
}

/* The keyframe asked for never comes (a request lost on a loaded host):
 * it is asked for again every FH_WEB_FLOW_REASK_US, not skipped forever. */
static void
test_asks_again_for_a_lost_keyframe (void)
{
  Fixture f = { .now = 1000 * MS };
  guint32 last_sent = 0;
  gint64 asked_at = 0;
  int asks = 0;

  fh_web_flow_init (&f.flow, TRUE, 8000, f.now);
  for (int i = 0; i < 20; i++) {
    if (next (&f, i == 0, -1) == FH_WEB_FLOW_SEND)
      last_sent = f.frame - 1;
  }
  g_assert_true (f.flow.skipping);
  fh_web_flow_ack (&f.flow, f.now, last_sent);
  /* Two seconds of frames that are not keyframes. */
  for (int i = 0; i < 2000 / 16; i++) {
    g_assert_cmpint (next (&f, FALSE, -1), ==, FH_WEB_FLOW_SKIP);
    if (!f.ask)
      continue;
    if (asks++)
      g_assert_cmpint (f.now - asked_at, >=, FH_WEB_FLOW_REASK_US);
    asked_at = f.now;
  }
  g_assert_cmpint (asks, >=, 2000 * MS / FH_WEB_FLOW_REASK_US);
  g_assert_cmpint (asks, <=, 2000 * MS / FH_WEB_FLOW_REASK_US + 1);
  g_assert_cmpint (next (&f, TRUE, -1), ==, FH_WEB_FLOW_SEND);
  g_assert_false (f.flow.skipping);
  fh_web_flow_clear (&f.flow);
}

static void
test_cut_off (void)
{
  Fixture f = { .now = 1000 * MS };
  FhWebFlowVerdict v = FH_WEB_FLOW_SEND;
  gint64 start = f.now;

  fh_web_flow_init (&f.flow, TRUE, 8000, f.now);
  while ((v = next (&f, f.frame == 0, -1)) != FH_WEB_FLOW_CUT_OFF && f.now - start < 60 * G_USEC_PER_SEC)
    ;
  g_assert_cmpint (v, ==, FH_WEB_FLOW_CUT_OFF);
  /* Behind from 150 ms on, cut off 10 s later. */
  g_assert_cmpint ((f.now - start) / G_USEC_PER_SEC, ==, FH_PROTO_TOO_SLOW_S);
  g_assert_cmpuint (f.flow.rate.target_kbps, ==, FH_RATE_CONTROL_MIN_KBPS);
  fh_web_flow_clear (&f.flow);
}

static void
test_kernel_queue_without_acks (void)
{
  Fixture f = { .now = 1000 * MS };

  fh_web_flow_init (&f.flow, FALSE, 8000, f.now);
  /* 8000 kb/s = 1000 bytes a ms: 50 KB queued is 50 ms, fine. */
  g_assert_cmpint (next (&f, TRUE, 50000), ==, FH_WEB_FLOW_SEND);
  g_assert_cmpint (fh_web_flow_backlog_us (&f.flow, f.now, 50000), ==, 50 * MS);
  /* 200 KB is 200 ms: one such frame is a moment, not a slow link… */
  g_assert_cmpint (next (&f, FALSE, 200000), ==, FH_WEB_FLOW_SEND);
  /* … 100 ms of them are: skip. */
  for (int i = 0; i < 6; i++) /* up to 96 ms later */
    g_assert_cmpint (next (&f, FALSE, 200000), ==, FH_WEB_FLOW_SEND);
  g_assert_cmpint (next (&f, FALSE, 200000), ==, FH_WEB_FLOW_SKIP);
  g_assert_cmpuint (f.kbps, ==, 5600);
  /* Drained: ask for the keyframe, send it. */
  g_assert_cmpint (next (&f, FALSE, 0), ==, FH_WEB_FLOW_SKIP);
  g_assert_true (f.ask);
  g_assert_cmpint (next (&f, TRUE, 0), ==, FH_WEB_FLOW_SEND);
  g_assert_cmpuint (f.flow.in_flight->len, ==, 0); /* nothing to ack */
  fh_web_flow_clear (&f.flow);
}

static void
test_rate_climbs_back (void)
{
  Fixture f = { .now = 1000 * MS };

  fh_web_flow_init (&f.flow, FALSE, 20000, f.now);
  while (next (&f, TRUE, 10 * 1000 * 1000) != FH_WEB_FLOW_SKIP)
    ;
  g_assert_cmpuint (f.flow.rate.target_kbps, ==, 14000);
  /* The link recovers: within 10 s the rate is back to 20000. */
  for (int i = 0; i < 10 * 1000 / 16; i++)
    next (&f, TRUE, 0);
  g_assert_cmpuint (f.flow.rate.target_kbps, ==, 20000);
  fh_web_flow_clear (&f.flow);
}

/* The round trip itself grows for good (a phone that changed its
 * network), on a link that carries all it is given: from @from to @to ms.
 * By less than FH_WEB_FLOW_HIGH_US, it is taken for a queue that stands,
 * and the bitrate goes down; when what stands neither drains nor grows
 * in FH_WEB_FLOW_PROBE_US, it is the round trip, and the bitrate goes
 * back to where it was: nothing skipped, back within 5 s (it took 27 s
 * before, the 8 s memory of the round trip, then a climb from the least).
 * By more, frames are skipped until what was in flight is through; the
 * keyframe that resumes goes alone, and its ack, later than its bytes
 * explain, is the new round trip: about one round trip of frames
 * skipped, and the bitrate back to where it was within 5 s (it stayed at
 * the least for good before). */
typedef struct {
  int from_ms, to_ms;
} RoundTripStep;

static void
test_round_trip_grows (gconstpointer data)
{
  const RoundTripStep *c = data;
  Fixture f = { .now = 1000 * MS };
  g_autofree gint64 *sent = g_new0 (gint64, 8192);
  gint64 step = 0, back = 0, last_sent = 0, gap = 0;
  gboolean small = (c->to_ms - c->from_ms) * MS < FH_WEB_FLOW_HIGH_US;

  fh_web_flow_init (&f.flow, TRUE, 8000, f.now);
  for (int i = 0; i < 10 * 1000 / 16; i++)
    g_assert_cmpint (next_acked (&f, sent, c->from_ms * MS), ==, FH_WEB_FLOW_SEND);
  step = last_sent = f.now;
  for (int i = 0; i < 60 * 1000 / 16; i++) {
    FhWebFlowVerdict v = next_acked (&f, sent, c->to_ms * MS);

    g_assert_cmpint (v, !=, FH_WEB_FLOW_CUT_OFF);
    if (v == FH_WEB_FLOW_SEND) {
      gap = MAX (gap, f.now - last_sent);
      last_sent = f.now;
    }
    if (!back && f.flow.rate.target_kbps == 8000 && f.now - step > 2 * G_USEC_PER_SEC)
      back = f.now;
    else if (f.flow.rate.target_kbps < 8000)
      back = 0;
  }
  g_test_message ("%d to %d ms: back at 8000 kb/s %.1f s after the step, %" G_GUINT64_FORMAT
                  " skipped, longest gap %" G_GINT64_FORMAT " ms, round trip %" G_GINT64_FORMAT " ms",
                  c->from_ms, c->to_ms, back ? (back - step) / 1e6 : -1.0, f.flow.skipped, gap / MS,
                  fh_web_flow_round_trip_us (&f.flow) / MS);
  g_assert_cmpint (back, >, 0);
  g_assert_cmpint (fh_web_flow_round_trip_us (&f.flow), >=, c->to_ms * MS);
  if (small) {
    g_assert_cmpint (back - step, <, 5 * G_USEC_PER_SEC);
    g_assert_cmpuint (f.flow.skipped, ==, 0);
  } else {
    g_assert_cmpint (back - step, <, 5 * G_USEC_PER_SEC);
    g_assert_cmpint (gap, <, (c->to_ms + 100) * MS);
    g_assert_cmpuint (f.flow.skipped, <, 2 * c->to_ms * MS / PERIOD);
  }
  fh_web_flow_clear (&f.flow);
}

/* A simulated 5 Mbit/s link in front of a client that asks for 20 Mbit/s
 * (what bench/latency.sh measures in Chromium, without the machine's
 * noise). The link is a queue that drains at its rate; each frame is
 * acknowledged once its last byte is through, plus the client's decode
 * and a little jitter (now and then 30 ms of it): by a client that acks
 * each frame, or by one that acks as the web client does (the second frame
 * that waits, or one that comes FH_PROTO_ACK_DELAY_MS or more after the last
 * ack went; else FH_PROTO_ACK_DELAY_MS after it came). The encoder makes
 * @made of what it aims at and follows a new bitrate in @follow_s; its
 * frames vary in size, keyframes are six times the rest. Free for 5 s,
 * limited for 20 s, free again for 15 s, at 60 frames a second. */
typedef struct {
  double made;
  double follow_s;
  guint32 seed;
  gboolean paired;
  double far_s; /* the round trip's part beyond the link's rate (a far client) */
} LinkCase;

typedef struct {
  guint32 frame;
  double at_s;
} LinkAck;

#define LINK_FPS 60
#define LINK_KBPS 5000.0

/* The paired client's ack: how many frames wait for it, the newest, since
 * when; when the last one went. */
typedef struct {
  guint waiting;
  guint32 frame;
  double since_s, last_s;
} LinkPending;

static void
link_ack (GArray *acks, LinkPending *p, double at_s)
{
  g_array_append_val (acks, ((LinkAck) { p->frame, at_s }));
  p->waiting = 0;
  p->last_s = at_s;
}

static void
test_simulated_link (gconstpointer data)
{
  const LinkCase *c = data;
  g_autoptr (GRand) rand = g_rand_new_with_seed (c->seed);
  g_autoptr (GArray) acks = g_array_new (FALSE, FALSE, sizeof (LinkAck));
  FhWebFlow flow;
  const gint64 t0 = 1000 * MS;
  double making = 20000 * c->made, link_free_at = 0, worst = 0, last_frame = 0;
  double carried_kbits = 0, back_at = -1, longest_gap = 0;
  guint32 frame = 0;
  guint next_ack = 0;
  gboolean keyframe = TRUE;
  LinkPending pending = { .last_s = -1 };
  const double delay_s = FH_PROTO_ACK_DELAY_MS / 1000.0;

  fh_web_flow_init (&flow, TRUE, 20000, t0);
  for (int i = 0; i < 40 * LINK_FPS; i++) {
    double t = (double) i / LINK_FPS, size, done, acked;
    gint64 since_last_us;
    gboolean limited = t >= 5 && t < 25, ask = FALSE;
    guint kbps = 0;
    FhWebFlowVerdict verdict;

    if (pending.waiting && pending.since_s + delay_s <= t)
      link_ack (acks, &pending, pending.since_s + delay_s);
    for (; next_ack < acks->len; next_ack++) {
      const LinkAck *a = &g_array_index (acks, LinkAck, next_ack);

      if (a->at_s > t)
        break;
      fh_web_flow_ack (&flow, t0 + (gint64) (a->at_s * 1e6), a->frame);
    }
    making += (flow.rate.target_kbps * c->made - making) / (LINK_FPS * c->follow_s);
    size = making * 1000 / 8 / LINK_FPS * g_rand_double_range (rand, 0.75, 1.35);
    if (keyframe)
      size *= 6;
    verdict = fh_web_flow_frame (&flow, t0 + (gint64) (t * 1e6), frame, (gsize) size, keyframe, -1,
                                 &ask, &kbps);
    g_assert_cmpint (verdict, !=, FH_WEB_FLOW_CUT_OFF);
    keyframe = keyframe || ask;
    if (verdict == FH_WEB_FLOW_SEND) {
      keyframe = FALSE;
      done = MAX (t, link_free_at) + size * 8 / (limited ? LINK_KBPS * 1000 : 1e9);
      link_free_at = done;
      acked = done + c->far_s + 0.008 + g_rand_double_range (rand, 0, 0.004) +
              (g_rand_int_range (rand, 0, 100) == 0 ? 0.03 : 0);
      /* Acks come in order. */
      if (acks->len)
        acked = MAX (acked, g_array_index (acks, LinkAck, acks->len - 1).at_s);
      if (pending.waiting && pending.since_s + delay_s < acked)
        link_ack (acks, &pending, pending.since_s + delay_s);
      if (!pending.waiting)
        pending.since_s = acked;
      pending.frame = frame;
      pending.waiting++;
      since_last_us = pending.last_s < 0 ? G_MAXINT64 : (gint64) ((acked - pending.last_s) * 1e6);
      if (!c->paired || fh_proto_ack_at_once (pending.waiting, since_last_us))
        link_ack (acks, &pending, acked);
      if (t >= 10 && t < 25) {
        worst = MAX (worst, acked - c->far_s - t);
        carried_kbits += size * 8 / 1000;
      }
      if (t >= 5)
        longest_gap = MAX (longest_gap, t - last_frame);
      last_frame = t;
    }
    frame++;
    if (t >= 25 && back_at < 0 && flow.rate.target_kbps >= 18000)
      back_at = t;
  }
  g_test_message ("%s, %.0f ms away, made %.2f, followed in %.1f s, seed %u: worst wait from 5 s into the limit "
                  "%.0f ms, %.0f kb/s carried, back at 90 %% %.1f s after, longest gap %.0f ms, %u acks",
                  c->paired ? "acks in pairs" : "acks each frame", c->far_s * 1000, c->made,
                  c->follow_s, c->seed,
                  worst * 1000, carried_kbits / 15,
                  back_at - 25, longest_gap * 1000, acks->len);
  /* A far client's acks tell the host of the limit later: what waits
   * grows for as long again before it knows, and a 4× overrun takes four
   * times that to drain before frames go again. */
  g_assert_cmpfloat (worst, <, 0.150 + c->far_s);
  g_assert_cmpfloat (longest_gap, <, 1.0 + 4 * c->far_s);
  g_assert_cmpfloat (carried_kbits / 15, >=, LINK_KBPS * 0.7);
  g_assert_cmpfloat (back_at, >=, 25);
  g_assert_cmpfloat (back_at - 25, <=, 10);
  fh_web_flow_clear (&flow);
}

/* A link that carries a little less than the encoder makes at the asked
 * rate (@data: 99.9, 99.7 or 99.6 %), 8 ms away (or 100 ms more), for two
 * minutes: its queue grows by 1 to 4 ms a second, too slowly for the
 * standing-queue measure (what stood for the last FH_WEB_FLOW_WINDOW_US
 * against the shortest of the last FH_WEB_FLOW_FLOOR_S seconds: under
 * FH_WEB_FLOW_QUEUE_US). Before the longer memory of the round trip
 * (FH_WEB_FLOW_BASE_S), it grew for good at 99.9 and 99.7 % (137 and
 * 378 ms after two minutes; 99.6 % the standing-queue measure caught).
 * Now it stays under 100 ms, nothing is skipped, and the link stays about
 * full. */
typedef struct {
  double carries;
  double far_s;
} CreepCase;

static void
test_creeping_queue (gconstpointer data)
{
  const CreepCase *c = data;
  FhWebFlow flow;
  const gint64 t0 = 1000 * MS;
  const double link_kbps = 20000 * c->carries;
  g_autoptr (GArray) acks = g_array_new (FALSE, FALSE, sizeof (LinkAck));
  double making = 20000, link_free_at = 0, worst = 0, carried_kbits = 0;
  guint next_ack = 0, drops = 0;

  fh_web_flow_init (&flow, TRUE, 20000, t0);
  for (int i = 0; i < 120 * 60; i++) {
    double t = i / 60.0, size, done;
    gboolean ask = FALSE;
    guint kbps = 0;

    for (; next_ack < acks->len; next_ack++) {
      const LinkAck *a = &g_array_index (acks, LinkAck, next_ack);

      if (a->at_s > t)
        break;
      fh_web_flow_ack (&flow, t0 + (gint64) (a->at_s * 1e6), a->frame);
    }
    making += (flow.rate.target_kbps - making) / 6;
    size = making * 1000 / 8 / 60;
    g_assert_cmpint (fh_web_flow_frame (&flow, t0 + (gint64) (t * 1e6), (guint32) i, (gsize) size,
                                        i == 0 || ask, -1, &ask, &kbps), ==, FH_WEB_FLOW_SEND);
    drops += kbps && kbps < making;
    done = MAX (t, link_free_at) + size * 8 / (link_kbps * 1000);
    link_free_at = done;
    g_array_append_val (acks, ((LinkAck) { (guint32) i, done + 0.008 + c->far_s }));
    worst = MAX (worst, done - t);
    if (t >= 30)
      carried_kbits += size * 8 / 1000;
  }
  g_test_message ("link at %.1f %%, %.0f ms away: worst queue %.0f ms, %u drops, %.0f kb/s "
                  "carried from 30 s on, %u kb/s at the end",
                  c->carries * 100, c->far_s * 1000, worst * 1000, drops, carried_kbits / 90,
                  flow.rate.target_kbps);
  g_assert_cmpfloat (worst, <, 0.100);
  g_assert_cmpuint (flow.skipped, ==, 0);
  g_assert_cmpfloat (carried_kbits / 90, >=, link_kbps * 0.85);
  fh_web_flow_clear (&flow);
}

/* Encoders that make 75, 83 and 95 % of what they aim at, following a new
 * bitrate in 0.1 and 0.3 s, four seeds each, for a client that acks each
 * frame and for one that acks them in pairs, next door and 100 ms further
 * away (the worst wait is then what waited beyond those 100 ms). */
static void
add_simulated_links (void)
{
  static const double made[] = { 0.75, 0.83, 0.95 }, follow[] = { 0.1, 0.3 }, far[] = { 0, 0.1 };
  static LinkCase cases[G_N_ELEMENTS (far) * 2 * G_N_ELEMENTS (made) * G_N_ELEMENTS (follow) * 4];
  guint n = 0;

  for (guint d = 0; d < G_N_ELEMENTS (far); d++)
    for (guint paired = 0; paired <= 1; paired++)
      for (guint m = 0; m < G_N_ELEMENTS (made); m++)
        for (guint f = 0; f < G_N_ELEMENTS (follow); f++)
          for (guint32 seed = 1; seed <= 4; seed++, n++) {
            g_autofree char *path = g_strdup_printf (
              "/web-flow/simulated-link/%.0fms-away/%s/made-%.2f/follows-%.1fs/seed-%u", far[d] * 1000,
              paired ? "acks-in-pairs" : "acks-each-frame", made[m], follow[f], seed);

            cases[n] = (LinkCase) { made[m], follow[f], seed, paired, far[d] };
            g_test_add_data_func (path, &cases[n], test_simulated_link);
          }
}

int
main (int argc, char **argv)
{
  static const CreepCase creeps[] = {
    { 0.999, 0 }, { 0.997, 0 }, { 0.996, 0 }, { 0.999, 0.1 }, { 0.997, 0.1 }, { 0.996, 0.1 },
  };

  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/web-flow/keeps-up", test_keeps_up);
  g_test_add_func ("/web-flow/standing-queue", test_standing_queue);
  g_test_add_func ("/web-flow/growing-queue", test_growing_queue);
  for (guint i = 0; i < G_N_ELEMENTS (creeps); i++) {
    g_autofree char *path = g_strdup_printf ("/web-flow/creeping-queue/%.1f%%/%.0fms-away",
                                             creeps[i].carries * 100, creeps[i].far_s * 1000);

    g_test_add_data_func (path, &creeps[i], test_creeping_queue);
  }
  static const RoundTripStep steps[] = { { 10, 110 }, { 40, 140 }, { 40, 340 }, { 100, 400 }, { 40, 640 } };
  for (guint i = 0; i < G_N_ELEMENTS (steps); i++) {
    g_autofree char *path = g_strdup_printf ("/web-flow/round-trip-grows/%d-to-%dms", steps[i].from_ms,
                                             steps[i].to_ms);
    g_test_add_data_func (path, &steps[i], test_round_trip_grows);
  }
  g_test_add_data_func ("/web-flow/long-round-trip/60ms", GINT_TO_POINTER (60), test_long_round_trip);
  g_test_add_data_func ("/web-flow/long-round-trip/150ms", GINT_TO_POINTER (150), test_long_round_trip);
  g_test_add_data_func ("/web-flow/long-round-trip/300ms", GINT_TO_POINTER (300), test_long_round_trip);
  g_test_add_data_func ("/web-flow/long-round-trip/600ms", GINT_TO_POINTER (600), test_long_round_trip);
  g_test_add_func ("/web-flow/falls-behind-and-resumes-at-a-keyframe",
                   test_falls_behind_and_resumes_at_a_keyframe);
  g_test_add_func ("/web-flow/asks-again-for-a-lost-keyframe", test_asks_again_for_a_lost_keyframe);
  g_test_add_func ("/web-flow/cut-off", test_cut_off);
  g_test_add_func ("/web-flow/kernel-queue-without-acks", test_kernel_queue_without_acks);
  g_test_add_func ("/web-flow/rate-climbs-back", test_rate_climbs_back);
  add_simulated_links ();
  return g_test_run ();
}
