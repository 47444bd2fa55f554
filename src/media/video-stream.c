/* One encode thread per session. */
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

struct _FhVideoStream {
  FhFrameSource source;
  FhVideoEncoder *encoder;
  GMainContext *main_context;
  FhVideoPacketFunc on_packet;
  FhVideoFailedFunc on_failed;
  gpointer user_data;
  FhStreamLink *link;
  gint64 period_us;

  GThread *thread;
  GMutex lock;
  GCond cond;
  gboolean stopping; /* under lock */
  gboolean paused; /* under lock */
  gint keyframe_requested; /* atomic */
  guint bitrate_kbps; /* atomic: what the encoder should aim at */
  guint encoder_kbps; /* encode thread: what it aims at */
  guint64 dropped; /* under lock */
  gint thread_id; /* atomic: the encode thread's tid, for its CPU time */
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

static gboolean
deliver_packet (gpointer data)
{
  FhPacketDelivery *d = data;
  FhVideoStream *self = d->link->stream;

  if (self && self->on_packet)
    self->on_packet (self, &d->packet, self->user_data);
  return G_SOURCE_REMOVE;
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
  FhPacketDelivery *d = g_new0 (FhPacketDelivery, 1);
  gint64 now = g_get_monotonic_time ();
  /* The one copy on the way out: the encoder reuses its packet, and the
   * message must outlive this call (wayvnc does the same). */
  guint8 *buf = g_malloc (FH_VIDEO_HEADROOM + size);

  memcpy (buf + FH_VIDEO_HEADROOM, data, size);
  d->link = g_rc_box_acquire (self->link);
  d->packet.buffer = g_bytes_new_take (buf, FH_VIDEO_HEADROOM + size);
  d->packet.data = buf + FH_VIDEO_HEADROOM;
  d->packet.size = size;
  d->packet.keyframe = keyframe;
  d->packet.frame = job->frame;
  d->packet.capture_us = job->capture_us;
  d->packet.encoded_us = now;
  g_atomic_int_inc (&self->link->in_flight);
  post_to_main (self, deliver_packet, d, delivery_free);
}

static void
report_failure (FhVideoStream *self, GError *error)
{
  FhFailureDelivery *d = g_new0 (FhFailureDelivery, 1);

  d->link = g_rc_box_acquire (self->link);
  d->error = error;
  post_to_main (self, deliver_failure, d, failure_free);
}

static gpointer
encode_thread (gpointer data)
{
  FhVideoStream *self = data;
  gint64 next = g_get_monotonic_time ();
  guint32 frame = 0;
  gboolean was_paused = FALSE;
  gint64 last_sent_us = 0;

  g_atomic_int_set (&self->thread_id, (gint) syscall (SYS_gettid));
  for (;;) {
    g_autoptr (GError) error = NULL;
    FhFrame input;
    FhEncodeJob job = { .self = self };
    gboolean keyframe, changed;
    gint64 now;

    g_mutex_lock (&self->lock);
    while (!self->stopping && (self->paused || g_get_monotonic_time () < next)) {
      if (self->paused) {
        was_paused = TRUE;
        g_cond_wait (&self->cond, &self->lock);
      } else {
        g_cond_wait_until (&self->cond, &self->lock, next);
      }
    }
    if (self->stopping) {
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
    g_mutex_unlock (&self->lock);

    job.frame = frame;
    if (!fh_video_encoder_get_input (self->encoder, &input, &error)) {
      report_failure (self, g_steal_pointer (&error));
      break;
    }
    changed = self->source.capture (self->source.source, &input, frame, next, &job.capture_us,
                                    &error);
    if (error) {
      report_failure (self, g_steal_pointer (&error));
      break;
    }
    keyframe = g_atomic_int_get (&self->keyframe_requested) || frame == 0;
    if (!changed) {
      /* Nothing new on the desktop: send nothing, but for a keyframe that
       * was asked for and a keep-alive now and then. The encoder's input
       * still holds the last picture. */
      now = g_get_monotonic_time ();
      if (frame == 0 || (!keyframe && now - last_sent_us < KEEPALIVE_US))
        continue;
      job.capture_us = now;
    }
    g_atomic_int_set (&self->keyframe_requested, 0);
    {
      guint kbps = (guint) g_atomic_int_get (&self->bitrate_kbps);
      if (kbps != self->encoder_kbps) {
        fh_video_encoder_set_bitrate (self->encoder, kbps);
        self->encoder_kbps = kbps;
      }
    }
    if (!fh_video_encoder_encode (self->encoder, frame, keyframe, on_encoded, &job, &error)) {
      report_failure (self, g_steal_pointer (&error));
      break;
    }
    last_sent_us = g_get_monotonic_time ();
    frame++;
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
  g_cond_init (&self->cond);
  self->source = *source;
  self->source.name = NULL; /* borrowed: used below only */
  self->main_context = g_main_context_ref (main_context);
  self->on_packet = on_packet;
  self->on_failed = on_failed;
  self->user_data = user_data;
  self->period_us = G_USEC_PER_SEC / MAX (config->fps, 1u);
  self->bitrate_kbps = self->encoder_kbps = config->bitrate_kbps;
  self->link = g_rc_box_new0 (FhStreamLink);
  self->link->stream = self;
  self->paused = TRUE; /* until a client is attached */

  /* Opened here, not on the thread, so a bad setting fails the session's
   * creation with a readable error. */
  if (!(self->encoder = fh_video_encoder_new (config, error)))
    return NULL;

  name = g_strdup_printf ("fh-enc-%.8s", source->name ? source->name : "");
  self->thread = g_thread_try_new (name, encode_thread, self, error);
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
  g_cond_signal (&self->cond);
  g_mutex_unlock (&self->lock);
}

void
fh_video_stream_set_bitrate (FhVideoStream *self, guint kbps)
{
  g_atomic_int_set (&self->bitrate_kbps, (gint) kbps);
}

double
fh_video_stream_get_thread_cpu (FhVideoStream *self)
{
  gint tid = g_atomic_int_get (&self->thread_id);
  g_autofree char *path = NULL;
  double cpu = 0;
  guint64 rss;

  if (tid <= 0)
    return 0;
  path = g_strdup_printf ("/proc/self/task/%d/stat", tid);
  return fh_process_read_usage (path, &cpu, &rss) ? cpu : 0;
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
  if (!self->thread)
    return;
  g_mutex_lock (&self->lock);
  self->stopping = TRUE;
  g_cond_signal (&self->cond);
  g_mutex_unlock (&self->lock);
  g_clear_pointer (&self->thread, g_thread_join);
  g_atomic_int_set (&self->thread_id, 0);
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
  fh_video_encoder_free (self->encoder);
  g_clear_pointer (&self->main_context, g_main_context_unref);
  g_mutex_clear (&self->lock);
  g_cond_clear (&self->cond);
  g_free (self);
}
