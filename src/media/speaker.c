/* A null sink, the capture of its monitor, and an Opus encoder per packet
 * format its listeners ask for (a browser: 10 ms, variable bitrate; a
 * Moonlight client: 5 ms, constant bitrate), all fed the same samples.
 * The capture is active only while something plays into the sink (or a
 * listener wants packets without gaps): a null sink's monitor with nothing
 * linked gives silence, and capturing it woke the host and PipeWire about
 * 600 times a second per session for nothing. Every callback runs on the
 * main thread (the PipeWire loop is a GSource there). */
#include "media/speaker.h"

#include <gio/gio.h>
#include <opus/opus.h>
#include <pipewire/pipewire.h>
#include <spa/param/audio/format-utils.h>

#define CHANNELS 2
#define MAX_FRAME_SAMPLES (FH_AUDIO_RATE * 20 / 1000) /* per channel */
#define MAX_PACKET 1500
#define MAX_RECONNECTS 10

typedef struct {
  guint id;
  FhAudioPacketFunc func;
  gpointer user_data;
  gboolean gapless;
} FhSpeakerListener;

/* One packet format and the listeners that take it. */
typedef struct {
  FhAudioFormat format;
  OpusEncoder *encoder;
  guint frame_samples; /* per channel */
  float pending[MAX_FRAME_SAMPLES * CHANNELS];
  guint n_pending; /* frames (per channel) in pending */
  guint32 sequence;
  guint8 packet[MAX_PACKET];
  GArray *listeners; /* FhSpeakerListener */
} FhSpeakerEncoding;

struct _FhSpeaker {
  FhPipeWire *pw;
  char *name;
  struct pw_proxy *sink;
  struct spa_hook sink_listener;
  struct pw_stream *capture;
  struct spa_hook capture_listener;
  gboolean capturing;
  gboolean active; /* the capture runs (or will, once connected) */
  guint inputs_watch; /* links into the sink, once its id is known */
  guint n_inputs;
  guint reconnect_source;
  guint reconnects;

  GPtrArray *encodings; /* FhSpeakerEncoding, one per format in use */
  guint cycle_ms; /* the PipeWire cycle the capture asks for */
  guint next_listener;
  gboolean processing; /* inside on_capture_process: encodings stay put */
};

static void connect_capture (FhSpeaker *self);

/* The capture's PipeWire cycle: as long as the shortest packet a listener
 * takes (5 ms for Moonlight, 10 for a browser), no longer than
 * FH_AUDIO_FRAME_MS. PipeWire rounds it down to a power of two: 128
 * samples (2.7 ms) for 5 ms, 256 (5.3 ms) for 10. A packet leaves with
 * the cycle its last sample came in, half a cycle later on average: a
 * browser's session wakes the host half as often as at Moonlight's cycle,
 * for 1.3 ms more on its packets. */
static guint
wanted_cycle_ms (FhSpeaker *self)
{
  guint ms = FH_AUDIO_FRAME_MS;

  for (guint i = 0; i < self->encodings->len; i++) {
    FhSpeakerEncoding *e = g_ptr_array_index (self->encodings, i);
    if (e->listeners->len > 0)
      ms = MIN (ms, e->format.frame_ms);
  }
  return ms;
}

static void
latency_property (guint ms, char *buffer, gsize size)
{
  g_snprintf (buffer, size, "%u/%u", FH_AUDIO_RATE * ms / 1000, FH_AUDIO_RATE);
}

/* After the listeners changed: a capture already running is told. */
static void
update_cycle (FhSpeaker *self)
{
  guint ms = wanted_cycle_ms (self);
  char latency[32];
  struct spa_dict_item item;

  /* Without a capture yet, connect_capture() asks for it. */
  if (!self->capture || ms == self->cycle_ms)
    return;
  self->cycle_ms = ms;
  latency_property (ms, latency, sizeof latency);
  item = SPA_DICT_ITEM_INIT (PW_KEY_NODE_LATENCY, latency);
  pw_stream_update_properties (self->capture, &SPA_DICT_INIT (&item, 1));
}

/* Whether the capture should run: someone listens, and something plays or
 * a listener wants packets all the same. */
static gboolean
wanted_active (FhSpeaker *self)
{
  gboolean listened = FALSE;

  for (guint i = 0; i < self->encodings->len; i++) {
    FhSpeakerEncoding *e = g_ptr_array_index (self->encodings, i);
    for (guint j = 0; j < e->listeners->len; j++) {
      if (g_array_index (e->listeners, FhSpeakerListener, j).gapless)
        return TRUE;
      listened = TRUE;
    }
  }
  return listened && self->n_inputs > 0;
}

static void
encoding_free (FhSpeakerEncoding *e)
{
  g_clear_pointer (&e->encoder, opus_encoder_destroy);
  g_array_unref (e->listeners);
  g_free (e);
}

static FhSpeakerEncoding *
encoding_new (const FhAudioFormat *format, GError **error)
{
  FhSpeakerEncoding *e = g_new0 (FhSpeakerEncoding, 1);
  int err;

  e->format = *format;
  e->frame_samples = FH_AUDIO_RATE * format->frame_ms / 1000;
  e->listeners = g_array_new (FALSE, FALSE, sizeof (FhSpeakerListener));
  e->encoder = opus_encoder_create (FH_AUDIO_RATE, CHANNELS, OPUS_APPLICATION_RESTRICTED_LOWDELAY,
                                    &err);
  if (!e->encoder) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "cannot make an Opus encoder: %s",
                 opus_strerror (err));
    encoding_free (e);
    return NULL;
  }
  opus_encoder_ctl (e->encoder, OPUS_SET_BITRATE (128000));
  /* Constant bitrate: every packet one size (Moonlight's audio FEC). */
  opus_encoder_ctl (e->encoder, OPUS_SET_VBR (format->constant_bitrate ? 0 : 1));
  return e;
}

static void
emit_packet (FhSpeaker *self, FhSpeakerEncoding *e, gint64 capture_us)
{
  opus_int32 size =
    opus_encode_float (e->encoder, e->pending, e->frame_samples, e->packet, sizeof e->packet);
  FhAudioPacket packet = {
    .sequence = e->sequence++,
    .capture_us = capture_us,
    .data = e->packet,
    .size = size > 0 ? (gsize) size : 0,
  };

  if (size < 0) {
    g_warning ("audio: %s: Opus encoding failed: %s", self->name, opus_strerror (size));
    return;
  }
  for (guint i = 0; i < e->listeners->len; i++) {
    FhSpeakerListener *listener = &g_array_index (e->listeners, FhSpeakerListener, i);
    listener->func (&packet, listener->user_data);
  }
}

static void
encode (FhSpeaker *self, FhSpeakerEncoding *e, const float *samples, guint n_frames, gint64 now)
{
  guint used = 0;

  while (used < n_frames) {
    guint take = MIN (n_frames - used, e->frame_samples - e->n_pending);
    memcpy (e->pending + e->n_pending * CHANNELS, samples + used * CHANNELS,
            take * CHANNELS * sizeof (float));
    e->n_pending += take;
    used += take;
    if (e->n_pending == e->frame_samples) {
      /* The buffer's last sample entered the sink about now; the packet's
       * first one frame + (what is left of the buffer) earlier. */
      gint64 age_us = (gint64) (e->frame_samples + n_frames - used) * G_USEC_PER_SEC / FH_AUDIO_RATE;
      e->n_pending = 0;
      emit_packet (self, e, now - age_us);
    }
  }
}

static void update_active (FhSpeaker *self);

/* After listeners went (at once, or inside a packet's callback, where
 * their encodings stay put until the packets are out): the encodings left
 * without one go, and the cycle and the capture follow. */
static void
settle (FhSpeaker *self)
{
  guint n_encodings = self->encodings->len;

  for (guint i = self->encodings->len; i > 0; i--) {
    FhSpeakerEncoding *e = g_ptr_array_index (self->encodings, i - 1);
    if (e->listeners->len == 0)
      g_ptr_array_remove_index (self->encodings, i - 1);
  }
  if (self->encodings->len != n_encodings)
    update_cycle (self);
  update_active (self);
}

/* The capture stops: what is pending leaves now, padded with silence
 * (the end of a sound, not to be kept for the next one). */
static void
flush (FhSpeaker *self)
{
  gint64 now = g_get_monotonic_time ();

  self->processing = TRUE;
  for (guint i = 0; i < self->encodings->len; i++) {
    FhSpeakerEncoding *e = g_ptr_array_index (self->encodings, i);
    guint pending = e->n_pending;

    if (!pending)
      continue;
    memset (e->pending + pending * CHANNELS, 0,
            (e->frame_samples - pending) * CHANNELS * sizeof (float));
    e->n_pending = 0;
    if (e->listeners->len > 0)
      emit_packet (self, e, now - (gint64) pending * G_USEC_PER_SEC / FH_AUDIO_RATE);
  }
  self->processing = FALSE;
}

/* After the listeners or the links into the sink changed. Not while
 * packets go out (on_capture_process looks again after them). */
static void
update_active (FhSpeaker *self)
{
  gboolean active = wanted_active (self);

  if (active == self->active || self->processing)
    return;
  self->active = active;
  if (!self->capture)
    return; /* connect_capture() connects it so */
  g_debug ("audio: %s capture %s", self->name, active ? "runs" : "rests: nothing plays");
  pw_stream_set_active (self->capture, active);
  if (!active) {
    flush (self);
    settle (self);
  }
}

static void
on_capture_process (void *data)
{
  FhSpeaker *self = data;
  struct pw_buffer *buffer = pw_stream_dequeue_buffer (self->capture);
  struct spa_data *d;
  const float *samples;
  guint n_frames;
  gint64 now = g_get_monotonic_time ();

  if (!buffer)
    return;
  d = &buffer->buffer->datas[0];
  samples = d->data ? SPA_PTROFF (d->data, d->chunk->offset, const float) : NULL;
  n_frames = samples ? d->chunk->size / (sizeof (float) * CHANNELS) : 0;
  /* A listener that goes inside emit_packet leaves its encoding empty
   * until the loop is over. */
  self->processing = TRUE;
  for (guint i = 0; i < self->encodings->len; i++)
    encode (self, g_ptr_array_index (self->encodings, i), samples, n_frames, now);
  self->processing = FALSE;
  pw_stream_queue_buffer (self->capture, buffer);
  settle (self);
}

static gboolean
on_reconnect (gpointer data)
{
  FhSpeaker *self = data;

  self->reconnect_source = 0;
  connect_capture (self);
  return G_SOURCE_REMOVE;
}

static void
on_capture_state (void *data, enum pw_stream_state old, enum pw_stream_state state,
                  const char *error)
{
  FhSpeaker *self = data;

  g_debug ("audio: %s capture: %s → %s", self->name, pw_stream_state_as_string (old),
           pw_stream_state_as_string (state));
  if (state == PW_STREAM_STATE_STREAMING || state == PW_STREAM_STATE_PAUSED) {
    /* Paused: linked, and resting while nothing plays. */
    if (!self->capturing)
      g_message ("audio: capturing %s", self->name);
    self->capturing = TRUE;
    return;
  }
  if (state != PW_STREAM_STATE_ERROR && !(state == PW_STREAM_STATE_UNCONNECTED &&
                                          old != PW_STREAM_STATE_CONNECTING))
    return;
  /* The session manager gave up on the target (it was not set up yet, or
   * it restarted): try again a little later, never elsewhere. */
  self->capturing = FALSE;
  if (self->reconnect_source || self->reconnects >= MAX_RECONNECTS) {
    if (self->reconnects >= MAX_RECONNECTS)
      g_warning ("audio: %s: cannot capture the sink's monitor: %s", self->name,
                 error ? error : "unlinked");
    return;
  }
  self->reconnects++;
  self->reconnect_source = g_timeout_add (200, on_reconnect, self);
}

static const struct pw_stream_events capture_events = {
  PW_VERSION_STREAM_EVENTS,
  .state_changed = on_capture_state,
  .process = on_capture_process,
};

static void
connect_capture (FhSpeaker *self)
{
  g_autofree char *capture_name = g_strdup_printf ("%s-capture", self->name);
  guint8 pod_buffer[1024];
  struct spa_pod_builder builder = SPA_POD_BUILDER_INIT (pod_buffer, sizeof pod_buffer);
  const struct spa_pod *params[1];
  struct pw_properties *props;
  char latency[32];

  if (self->capture) {
    spa_hook_remove (&self->capture_listener);
    g_clear_pointer (&self->capture, pw_stream_destroy);
  }
  /* Both target.object and stream.capture.sink, or WirePlumber picks the
   * default source; dont-reconnect, or it falls back to the default sink
   * when ours is gone. */
  props = pw_properties_new (PW_KEY_MEDIA_TYPE, "Audio", PW_KEY_MEDIA_CATEGORY, "Capture",
                             PW_KEY_NODE_NAME, capture_name, PW_KEY_TARGET_OBJECT, self->name,
                             PW_KEY_STREAM_CAPTURE_SINK, "true", PW_KEY_NODE_DONT_RECONNECT,
                             "true", NULL);
  self->cycle_ms = wanted_cycle_ms (self);
  self->active = wanted_active (self);
  latency_property (self->cycle_ms, latency, sizeof latency);
  pw_properties_set (props, PW_KEY_NODE_LATENCY, latency);
  self->capture = pw_stream_new (fh_pipewire_get_core (self->pw), capture_name, props);
  pw_stream_add_listener (self->capture, &self->capture_listener, &capture_events, self);
  params[0] = fh_pipewire_build_audio_format (&builder, CHANNELS);
  pw_stream_connect (self->capture, PW_DIRECTION_INPUT, PW_ID_ANY,
                     PW_STREAM_FLAG_AUTOCONNECT | PW_STREAM_FLAG_MAP_BUFFERS |
                       (self->active ? 0 : PW_STREAM_FLAG_INACTIVE),
                     params, 1);
}

static void
on_sink_inputs (guint n_links, gpointer user_data)
{
  FhSpeaker *self = user_data;

  self->n_inputs = n_links;
  update_active (self);
}

static void
on_sink_info (void *data, const struct pw_node_info *info)
{
  FhSpeaker *self = data;

  if (!self->inputs_watch)
    self->inputs_watch = fh_pipewire_watch_inputs (self->pw, info->id, on_sink_inputs, self);
  /* Its monitor ports exist once the session manager has set it up:
   * linking before that would find no target. */
  if (!self->capture && info->n_output_ports >= CHANNELS)
    connect_capture (self);
}

static const struct pw_node_events sink_events = {
  PW_VERSION_NODE_EVENTS,
  .info = on_sink_info,
};

FhSpeaker *
fh_speaker_new (FhPipeWire *pw, const char *name, GError **error)
{
  g_autoptr (FhSpeaker) self = g_new0 (FhSpeaker, 1);
  g_autofree char *description = g_strdup_printf ("funkhaus speaker %s", name);
  struct pw_properties *props;

  self->pw = pw;
  self->name = g_strdup (name);
  self->encodings = g_ptr_array_new_with_free_func ((GDestroyNotify) encoding_free);

  /* Low session priority: a session's sink never becomes the default. */
  props = pw_properties_new ("factory.name", "support.null-audio-sink", PW_KEY_NODE_NAME, name,
                             PW_KEY_NODE_DESCRIPTION, description, PW_KEY_MEDIA_CLASS,
                             "Audio/Sink", "audio.position", "[ FL FR ]", "audio.rate", "48000",
                             PW_KEY_PRIORITY_SESSION, "1", "monitor.channel-volumes", "true",
                             NULL);
  self->sink = pw_core_create_object (fh_pipewire_get_core (pw), "adapter",
                                      PW_TYPE_INTERFACE_Node, PW_VERSION_NODE, &props->dict, 0);
  pw_properties_free (props);
  if (!self->sink) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "cannot make the sink %s", name);
    return NULL;
  }
  pw_proxy_add_object_listener (self->sink, &self->sink_listener, &sink_events, self);
  return g_steal_pointer (&self);
}

void
fh_speaker_free (FhSpeaker *self)
{
  if (!self)
    return;
  g_clear_handle_id (&self->reconnect_source, g_source_remove);
  if (self->inputs_watch)
    fh_pipewire_unwatch_inputs (self->pw, self->inputs_watch);
  if (self->capture) {
    spa_hook_remove (&self->capture_listener);
    fh_pipewire_destroy_stream (self->pw, g_steal_pointer (&self->capture));
  }
  if (self->sink) {
    spa_hook_remove (&self->sink_listener);
    g_clear_pointer (&self->sink, pw_proxy_destroy);
  }
  g_clear_pointer (&self->encodings, g_ptr_array_unref);
  g_free (self->name);
  g_free (self);
}

const char *
fh_speaker_get_sink_name (FhSpeaker *self)
{
  return self->name;
}

gboolean
fh_speaker_is_capturing (FhSpeaker *self)
{
  return self->capturing;
}

guint
fh_speaker_add_listener_with_format (FhSpeaker *self, const FhAudioFormat *format,
                                     FhAudioPacketFunc func, gpointer user_data, GError **error)
{
  FhSpeakerListener listener = { 0, func, user_data, format->gapless };
  FhSpeakerEncoding *e = NULL;

  if (format->frame_ms != 5 && format->frame_ms != 10 && format->frame_ms != 20) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                 "no Opus packets of %u ms here (5, 10 or 20)", format->frame_ms);
    return 0;
  }
  for (guint i = 0; i < self->encodings->len && !e; i++) {
    FhSpeakerEncoding *candidate = g_ptr_array_index (self->encodings, i);
    if (candidate->format.frame_ms == format->frame_ms &&
        !candidate->format.constant_bitrate == !format->constant_bitrate)
      e = candidate;
  }
  if (!e) {
    if (!(e = encoding_new (format, error)))
      return 0;
    g_ptr_array_add (self->encodings, e);
  }
  listener.id = ++self->next_listener;
  g_array_append_val (e->listeners, listener);
  update_cycle (self);
  update_active (self);
  return listener.id;
}

guint
fh_speaker_add_listener (FhSpeaker *self, FhAudioPacketFunc func, gpointer user_data)
{
  const FhAudioFormat format = { .frame_ms = FH_AUDIO_FRAME_MS };

  return fh_speaker_add_listener_with_format (self, &format, func, user_data, NULL);
}

void
fh_speaker_remove_listener (FhSpeaker *self, guint id)
{
  for (guint i = 0; i < self->encodings->len; i++) {
    FhSpeakerEncoding *e = g_ptr_array_index (self->encodings, i);
    for (guint j = 0; j < e->listeners->len; j++) {
      if (g_array_index (e->listeners, FhSpeakerListener, j).id == id) {
        g_array_remove_index (e->listeners, j);
        if (!self->processing)
          settle (self);
        return;
      }
    }
  }
}
