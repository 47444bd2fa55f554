/* Two threads per session: one paces and captures into one of the
 * encoder's input pictures while the other encodes the picture captured
 * before, so a frame's capture and conversion overlap the last one's
 * encoding. A frame that fits in half a period is encoded on the capture
 * thread without a hand-over. */
#include "media/video-stream.h"

#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "base/process.h"

/* Frames handed to the main loop and not yet sent: past this the thread
 * skips frames rather than queueing latency. */
#define MAX_IN_FLIGHT 2

/* An unchanged desktop is still sent this often, so a client can tell a
 * still picture from a dead stream. */
#define KEEPALIVE_US (G_USEC_PER_SEC / 2)

/* Shared between the stream and the packets in flight to the main loop, so
 * a packet that arrives after stop() finds no stream and is dropped. */
typedef struct {
  FhVideoStream *stream; /* main thread only; NULL once stopped */
  gint in_flight;
} FhStreamLink;

/* The packets on their way to the main loop: one source for the stream,
 * made ready by the first that waits, rather than one made, attached and
 * destroyed for each packet. */
typedef struct {
  GSource source;
  GMutex lock;
  GQueue waiting; /* FhPacketDelivery, under lock */
} FhPacketSource;

struct _FhVideoStream {
  FhFrameSource source;
  FhVideoEncoder *encoder;
  GMainContext *main_context;
  FhVideoPacketFunc on_packet;
  FhVideoFailedFunc on_failed;
  gpointer user_data;
  FhStreamLink *link;
  FhPacketSource *packets;
  gint64 period_us;

  GThread *thread; /* paces, captures */
  GThread *encode_thread;
  GMutex lock;
  /* Each thread waits on a condition of its own, so neither wakes the
   * other for nothing: the capture thread sleeps to its next tick while
   * the encode thread takes and finishes pictures. */
  GCond capture_cond;
  GCond encode_cond;
  gboolean capture_waits; /* under lock: for a free input picture */
  gboolean stopping; /* under lock */
  gboolean paused; /* under lock */
  gboolean failed; /* under lock: one thread failed and reported it */
  /* The hand-off between the two, under lock: the input picture captured
   * and waiting for the encoder (-1: none), and the one it encodes now. */
  gint ready_input;
  gint encoding_input;
  guint32 ready_frame;
  gint64 ready_capture_us;
  gboolean ready_keyframe;
  gint64 last_sent_us; /* under lock: when the last frame was handed over */
  /* Under lock: how long a capture and an encoding take, averaged over the
   * last few frames (µs), for the choice of thread (capture_thread()). */
  gint64 capture_avg_us;
  gint64 encode_avg_us;
  gint keyframe_requested; /* atomic */
  guint bitrate_kbps; /* atomic: what the encoder should aim at */
  guint encoder_kbps; /* the thread that encodes: what it aims at */
  guint threads; /* atomic: the encoder's threads from the next frame on */
  guint encoder_threads; /* the thread that encodes: the last it asked for */
  guint64 dropped; /* under lock */
  gint thread_ids[2]; /* atomic: both threads' tids, for their CPU time */
  /* Held while the function runs (fh_video_stream_set_direct). */
  GMutex direct_lock;
  FhVideoDirectFunc direct; /* under direct_lock */
  gpointer direct_data;
};

typedef struct {
  FhStreamLink *link;
  FhVideoPacket packet;
} FhPacketDelivery;

typedef struct {
  FhStreamLink *link;
  GError *error;
} FhFailureDelivery;

static void
link_unref (FhStreamLink *link)
{
  g_rc_box_release (link);
}

static void
delivery_free (gpointer data)
{
  FhPacketDelivery *d = data;

  g_bytes_unref (d->packet.buffer);
  g_atomic_int_dec_and_test (&d->link->in_flight);
  link_unref (d->link);
  g_free (d);
}

static void
deliver_packet (FhPacketDelivery *d)
{
  FhVideoStream *self = d->link->stream;

  if (self && self->on_packet)
    self->on_packet (self, &d->packet, self->user_data);
}

static gboolean
packet_source_dispatch (GSource *source, GSourceFunc callback, gpointer user_data)
{
  FhPacketSource *ps = (FhPacketSource *) source;
  GQueue batch;

  /* Not ready again until a packet comes to an empty queue. */
  g_source_set_ready_time (source, -1);
  g_mutex_lock (&ps->lock);
  batch = ps->waiting;
  g_queue_init (&ps->waiting);
  g_mutex_unlock (&ps->lock);
  for (FhPacketDelivery *d; (d = g_queue_pop_head (&batch));) {
    deliver_packet (d);
    delivery_free (d);
  }
  return G_SOURCE_CONTINUE;
}

static void
packet_source_finalize (GSource *source)
{
  FhPacketSource *ps = (FhPacketSource *) source;

  g_queue_clear_full (&ps->waiting, delivery_free);
  g_mutex_clear (&ps->lock);
}

static GSourceFuncs packet_source_funcs = {
  .dispatch = packet_source_dispatch,
  .finalize = packet_source_finalize,
};

/* Encode thread: @d to the main loop. */
static void
post_packet (FhVideoStream *self, FhPacketDelivery *d)
{
  FhPacketSource *ps = self->packets;
  gboolean first;

  g_mutex_lock (&ps->lock);
  first = g_queue_is_empty (&ps->waiting);
  g_queue_push_tail (&ps->waiting, d);
  g_mutex_unlock (&ps->lock);
  if (first)
    g_source_set_ready_time (&ps->source, 0);
}

static void
failure_free (gpointer data)
{
  FhFailureDelivery *d = data;

  g_clear_error (&d->error);
  link_unref (d->link);
  g_free (d);
}

static gboolean
deliver_failure (gpointer data)
{
  FhFailureDelivery *d = data;
  FhVideoStream *self = d->link->stream;

  if (self && self->on_failed)
    self->on_failed (self, d->error, self->user_data);
  return G_SOURCE_REMOVE;
}

typedef struct {
  FhVideoStream *self;
  guint32 frame;
  gint64 capture_us;
} FhEncodeJob;

/* Always through a source of the main context, never called at once:
 * g_main_context_invoke_full() would run @func on this thread whenever
 * nobody owns the main context (the host stopping after its loop ended). */
static void
post_to_main (FhVideoStream *self, GSourceFunc func, gpointer data, GDestroyNotify destroy)
{
  GSource *source = g_idle_source_new ();

  g_source_set_priority (source, G_PRIORITY_DEFAULT);
  g_source_set_callback (source, func, data, destroy);
  g_source_set_static_name (source, "fh-video-stream");
  g_source_attach (source, self->main_context);
  g_source_unref (source);
}

static void
on_encoded (const guint8 *data, gsize size, gboolean keyframe, gpointer user_data)
{
  FhEncodeJob *job = user_data;
  FhVideoStream *self = job->self;
  FhPacketDelivery *d;
  /* The one copy on the way out: the encoder reuses its packet, and the
   * message must outlive this call (wayvnc does the same). */
  guint8 *buf = g_malloc (FH_VIDEO_HEADROOM + size);
  FhVideoPacket packet = {
    .buffer = g_bytes_new_take (buf, FH_VIDEO_HEADROOM + size),
    .data = buf + FH_VIDEO_HEADROOM,
    .size = size,
    .keyframe = keyframe,
    .frame = job->frame,
    .capture_us = job->capture_us,
    .encoded_us = g_get_monotonic_time (),
  };
  gboolean taken;

  memcpy (packet.data, data, size);
  g_mutex_lock (&self->direct_lock);
  /* Only with none on its way to the main loop: frames leave in order. */
  taken = self->direct && !g_atomic_int_get (&self->link->in_flight) &&
          self->direct (&packet, self->direct_data);
  g_mutex_unlock (&self->direct_lock);
  if (taken) {
    g_bytes_unref (packet.buffer);
    return;
  }
  d = g_new0 (FhPacketDelivery, 1);
  d->link = g_rc_box_acquire (self->link);
  d->packet = packet;
  g_atomic_int_inc (&self->link->in_flight);
  post_packet (self, d);
}

/* Under lock. */
static void
wake_both (FhVideoStream *self)
{
  g_cond_broadcast (&self->capture_cond);
  g_cond_broadcast (&self->encode_cond);
}

/* Either thread: the first failure is reported and ends both threads. */
static void
report_failure (FhVideoStream *self, GError *error)
{
  FhFailureDelivery *d;
  gboolean first;

  g_mutex_lock (&self->lock);
  first = !self->failed;
  self->failed = TRUE;
  wake_both (self);
  g_mutex_unlock (&self->lock);
  if (!first) {
    g_error_free (error);
    return;
  }
  d = g_new0 (FhFailureDelivery, 1);
  d->link = g_rc_box_acquire (self->link);
  d->error = error;
  post_to_main (self, deliver_failure, d, failure_free);
}

/* Hands input picture @input to the encode thread as frame @frame. A
 * picture still waiting (the encode thread did not get the CPU for a whole
 * capture) is replaced by the newer one, and its keyframe goes with it: a
 * client that skips frames until a keyframe comes would wait for good. */
static void
hand_over (FhVideoStream *self, gint input, guint32 frame, gint64 capture_us, gboolean keyframe)
{
  g_mutex_lock (&self->lock);
  if (self->ready_input >= 0) {
    keyframe = keyframe || self->ready_keyframe;
    self->dropped++;
  }
  self->ready_input = input;
  self->ready_frame = frame;
  self->ready_capture_us = capture_us;
  self->ready_keyframe = keyframe;
  self->last_sent_us = g_get_monotonic_time ();
  g_cond_signal (&self->encode_cond);
  g_mutex_unlock (&self->lock);
}

/* Encodes input picture @input as frame @frame on whichever thread owns
 * it (encoding_input, set under lock), then gives it back. */
static gboolean
encode_one (FhVideoStream *self, gint input, guint32 frame, gint64 capture_us, gboolean keyframe,
            GError **error)
{
  FhEncodeJob job = { .self = self, .frame = frame, .capture_us = capture_us };
  guint kbps = (guint) g_atomic_int_get (&self->bitrate_kbps);
  guint threads = (guint) g_atomic_int_get (&self->threads);
  g_autoptr (GError) local_error = NULL;
  gint64 start;
  gboolean ok;

  if (threads != self->encoder_threads) {
    /* Tried once for each change: a new libx264 context, and an IDR frame
     * (fh_video_encoder_set_threads). */
    self->encoder_threads = threads;
    if (!fh_video_encoder_set_threads (self->encoder, threads, &local_error))
      g_warning ("%s", local_error->message);
  }
  if (kbps != self->encoder_kbps) {
    fh_video_encoder_set_bitrate (self->encoder, kbps);
    self->encoder_kbps = kbps;
  }
  /* The encoding alone: a new context above is no measure of the next. */
  start = g_get_monotonic_time ();
  ok = fh_video_encoder_encode (self->encoder, (guint) input, frame, keyframe, on_encoded, &job,
                                error);
  g_mutex_lock (&self->lock);
  self->encoding_input = -1;
  self->encode_avg_us = (3 * self->encode_avg_us + g_get_monotonic_time () - start) / 4;
  if (self->capture_waits)
    g_cond_signal (&self->capture_cond);
  g_mutex_unlock (&self->lock);
  return ok;
}

static gpointer
capture_thread (gpointer data)
{
  FhVideoStream *self = data;
  gint64 next = g_get_monotonic_time ();
  guint32 frame = 0;
  gboolean was_paused = FALSE;
  gint newest = -1; /* the input picture with the newest capture */

  g_atomic_int_set (&self->thread_ids[0], (gint) syscall (SYS_gettid));
  for (;;) {
    g_autoptr (GError) error = NULL;
    FhFrame input;
    gint64 capture_us = 0, now, last_sent_us, started_us, took_us;
    gint into = newest < 0 ? 0 : (newest + 1) % FH_VIDEO_ENCODER_INPUTS;
    gboolean keyframe, changed, here;

    g_mutex_lock (&self->lock);
    while (!self->stopping && !self->failed &&
           (self->paused || g_get_monotonic_time () < next)) {
      if (self->paused) {
        was_paused = TRUE;
        g_cond_wait (&self->capture_cond, &self->lock);
      } else {
        g_cond_wait_until (&self->capture_cond, &self->lock, next);
      }
    }
    /* The picture to capture into is neither waiting for the encoder nor
     * being encoded (with two, the encoder is still on the one before). */
    while (!self->stopping && !self->failed &&
           (self->ready_input == into || self->encoding_input == into)) {
      self->capture_waits = TRUE;
      g_cond_wait (&self->capture_cond, &self->lock);
    }
    self->capture_waits = FALSE;
    if (self->stopping || self->failed) {
      g_mutex_unlock (&self->lock);
      break;
    }
    now = g_get_monotonic_time ();
    if (was_paused) {
      next = now; /* a fresh start, not a backlog */
      was_paused = FALSE;
      g_atomic_int_set (&self->keyframe_requested, 1);
    } else if (now - next >= self->period_us) {
      /* Fell behind by whole frames: skip them instead of bursting. */
      self->dropped += (guint64) ((now - next) / self->period_us);
      next = now;
    }
    next += self->period_us;
    if (g_atomic_int_get (&self->link->in_flight) >= MAX_IN_FLIGHT) {
      self->dropped++;
      g_mutex_unlock (&self->lock);
      continue;
    }
    last_sent_us = self->last_sent_us;
    g_mutex_unlock (&self->lock);

    if (!fh_video_encoder_get_input (self->encoder, (guint) into, &input, &error)) {
      report_failure (self, g_steal_pointer (&error));
      break;
    }
    /* Until half a frame past the next tick rather than to it: a
     * compositor frame that comes just after the tick would otherwise cost
     * a whole frame. */
    started_us = g_get_monotonic_time ();
    changed = self->source.capture (self->source.source, &input, frame,
                                    next + self->period_us / 2, &capture_us, &error);
    if (error) {
      report_failure (self, g_steal_pointer (&error));
      break;
    }
    took_us = g_get_monotonic_time () - started_us;
    keyframe = g_atomic_int_get (&self->keyframe_requested) || frame == 0;
    if (changed) {
      newest = into;
    } else {
      /* Nothing new on the desktop: send nothing, but for a keyframe that
       * was asked for and a keep-alive now and then, of the newest
       * picture again (the encoder only reads it). */
      now = g_get_monotonic_time ();
      if (newest < 0 || (!keyframe && now - last_sent_us < KEEPALIVE_US))
        continue;
      g_mutex_lock (&self->lock);
      if (self->ready_input >= 0) { /* it is on its way already */
        g_mutex_unlock (&self->lock);
        continue;
      }
      g_mutex_unlock (&self->lock);
      capture_us = now;
    }
    /* Taken, not just cleared: a request that came meanwhile is this
     * frame's too, one that comes after is the next one's. */
    keyframe = g_atomic_int_exchange (&self->keyframe_requested, 0) || keyframe;
    /* A frame whose capture and encoding fit in half a period together
     * gains nothing from the encode thread: it is encoded here, without a
     * hand-over (a wake-up of the other thread, the picture read on
     * another core). Only a longer one goes there, to overlap the next
     * capture. */
    g_mutex_lock (&self->lock);
    self->capture_avg_us = (3 * self->capture_avg_us + took_us) / 4;
    here = self->ready_input < 0 && self->encoding_input < 0 &&
           2 * (self->capture_avg_us + self->encode_avg_us) < self->period_us;
    if (here) {
      self->encoding_input = newest;
      self->last_sent_us = g_get_monotonic_time ();
    }
    g_mutex_unlock (&self->lock);
    if (!here) {
      hand_over (self, newest, frame, capture_us, keyframe);
    } else if (!encode_one (self, newest, frame, capture_us, keyframe, &error)) {
      report_failure (self, g_steal_pointer (&error));
      break;
    }
    frame++;
  }
  return NULL;
}

static gpointer
encode_thread (gpointer data)
{
  FhVideoStream *self = data;

  g_atomic_int_set (&self->thread_ids[1], (gint) syscall (SYS_gettid));
  for (;;) {
    g_autoptr (GError) error = NULL;
    guint32 frame;
    gint64 capture_us;
    gboolean keyframe;
    gint input;

    g_mutex_lock (&self->lock);
    while (!self->stopping && !self->failed && self->ready_input < 0)
      g_cond_wait (&self->encode_cond, &self->lock);
    if (self->stopping || self->failed) {
      g_mutex_unlock (&self->lock);
      break;
    }
    input = self->encoding_input = self->ready_input;
    self->ready_input = -1;
    frame = self->ready_frame;
    capture_us = self->ready_capture_us;
    keyframe = self->ready_keyframe;
    if (self->capture_waits)
      g_cond_signal (&self->capture_cond);
    g_mutex_unlock (&self->lock);

    if (!encode_one (self, input, frame, capture_us, keyframe, &error)) {
      report_failure (self, g_steal_pointer (&error));
      break;
    }
  }
  return NULL;
}

FhVideoStream *
fh_video_stream_new (const FhFrameSource *source, const FhVideoEncoderConfig *config,
                     GMainContext *main_context, FhVideoPacketFunc on_packet,
                     FhVideoFailedFunc on_failed, gpointer user_data, GError **error)
{
  g_autoptr (FhVideoStream) self = g_new0 (FhVideoStream, 1);
  g_autofree char *name = NULL;

  g_mutex_init (&self->lock);
  g_mutex_init (&self->direct_lock);
  g_cond_init (&self->capture_cond);
  g_cond_init (&self->encode_cond);
  self->source = *source;
  self->source.name = NULL; /* borrowed: used below only */
  self->main_context = g_main_context_ref (main_context);
  self->on_packet = on_packet;
  self->on_failed = on_failed;
  self->user_data = user_data;
  self->period_us = G_USEC_PER_SEC / MAX (config->fps, 1u);
  self->bitrate_kbps = self->encoder_kbps = config->bitrate_kbps;
  self->threads = self->encoder_threads = config->threads;
  self->link = g_rc_box_new0 (FhStreamLink);
  self->link->stream = self;
  self->packets = (FhPacketSource *) g_source_new (&packet_source_funcs, sizeof (FhPacketSource));
  g_mutex_init (&self->packets->lock);
  g_queue_init (&self->packets->waiting);
  g_source_set_static_name (&self->packets->source, "fh-video-stream");
  g_source_attach (&self->packets->source, main_context);
  self->paused = TRUE; /* until a client is attached */
  self->ready_input = self->encoding_input = -1;

  /* Opened here, not on the thread, so a bad setting fails the session's
   * creation with a readable error. */
  if (!(self->encoder = fh_video_encoder_new (config, error)))
    return NULL;

  name = g_strdup_printf ("fh-enc-%.8s", source->name ? source->name : "");
  self->encode_thread = g_thread_try_new (name, encode_thread, self, error);
  if (!self->encode_thread)
    return NULL;
  g_free (name);
  name = g_strdup_printf ("fh-cap-%.8s", source->name ? source->name : "");
  self->thread = g_thread_try_new (name, capture_thread, self, error);
  if (!self->thread)
    return NULL;
  return g_steal_pointer (&self);
}

void
fh_video_stream_request_keyframe (FhVideoStream *self)
{
  g_atomic_int_set (&self->keyframe_requested, 1);
}

void
fh_video_stream_set_paused (FhVideoStream *self, gboolean paused)
{
  g_mutex_lock (&self->lock);
  self->paused = paused;
  wake_both (self);
  g_mutex_unlock (&self->lock);
}

void
fh_video_stream_set_direct (FhVideoStream *self, FhVideoDirectFunc func, gpointer user_data)
{
  g_mutex_lock (&self->direct_lock);
  self->direct = func;
  self->direct_data = user_data;
  g_mutex_unlock (&self->direct_lock);
}

void
fh_video_stream_set_bitrate (FhVideoStream *self, guint kbps)
{
  g_atomic_int_set (&self->bitrate_kbps, (gint) kbps);
}

void
fh_video_stream_set_threads (FhVideoStream *self, guint threads)
{
  g_atomic_int_set (&self->threads, (gint) threads);
}

double
fh_video_stream_get_thread_cpu (FhVideoStream *self)
{
  double sum = 0;

  for (guint i = 0; i < G_N_ELEMENTS (self->thread_ids); i++) {
    gint tid = g_atomic_int_get (&self->thread_ids[i]);
    g_autofree char *path = NULL;
    double cpu = 0;
    guint64 rss;

    if (tid <= 0)
      continue;
    path = g_strdup_printf ("/proc/self/task/%d/stat", tid);
    if (fh_process_read_usage (path, &cpu, &rss))
      sum += cpu;
  }
  return sum;
}

guint64
fh_video_stream_get_dropped (FhVideoStream *self)
{
  guint64 dropped;

  g_mutex_lock (&self->lock);
  dropped = self->dropped;
  g_mutex_unlock (&self->lock);
  return dropped;
}

void
fh_video_stream_stop (FhVideoStream *self)
{
  if (!self->thread && !self->encode_thread)
    return;
  g_mutex_lock (&self->lock);
  self->stopping = TRUE;
  wake_both (self);
  g_mutex_unlock (&self->lock);
  g_clear_pointer (&self->thread, g_thread_join);
  g_clear_pointer (&self->encode_thread, g_thread_join);
  for (guint i = 0; i < G_N_ELEMENTS (self->thread_ids); i++)
    g_atomic_int_set (&self->thread_ids[i], 0);
  if (self->link)
    self->link->stream = NULL;
}

void
fh_video_stream_free (FhVideoStream *self)
{
  if (!self)
    return;
  fh_video_stream_stop (self);
  if (self->link) {
    self->link->stream = NULL;
    link_unref (self->link);
  }
  if (self->packets) {
    g_source_destroy (&self->packets->source);
    g_source_unref (&self->packets->source);
  }
  fh_video_encoder_free (self->encoder);
  g_clear_pointer (&self->main_context, g_main_context_unref);
  g_mutex_clear (&self->lock);
  g_mutex_clear (&self->direct_lock);
  g_cond_clear (&self->capture_cond);
  g_cond_clear (&self->encode_cond);
  g_free (self);
}
