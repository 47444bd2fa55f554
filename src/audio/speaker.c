/* A null sink, the capture of its monitor, and the Opus encoder. Every
 * callback runs on the main thread (the PipeWire loop is a GSource there). */
#include "audio/speaker.h"

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
} FhSpeakerListener;

struct _FhSpeaker {
  FhPipeWire *pw;
  char *name;
  struct pw_proxy *sink;
  struct spa_hook sink_listener;
  struct pw_stream *capture;
  struct spa_hook capture_listener;
  gboolean capturing;
  guint reconnect_source;
  guint reconnects;

  OpusEncoder *encoder;
  guint frame_samples; /* per channel: FH_AUDIO_FRAME_MS unless set */
  float pending[MAX_FRAME_SAMPLES * CHANNELS];
  guint n_pending; /* frames (per channel) in pending */
  guint32 sequence;
  guint8 packet[MAX_PACKET];

  GArray *listeners; /* FhSpeakerListener */
  guint next_listener;
};

static void connect_capture (FhSpeaker *self);

static void
emit_packet (FhSpeaker *self, gint64 capture_us)
{
  opus_int32 size = opus_encode_float (self->encoder, self->pending, self->frame_samples, self->packet,
                                       sizeof self->packet);
  FhAudioPacket packet = {
    .sequence = self->sequence++,
    .capture_us = capture_us,
    .data = self->packet,
    .size = size > 0 ? (gsize) size : 0,
  };

  if (size < 0) {
    g_warning ("audio: %s: Opus encoding failed: %s", self->name, opus_strerror (size));
    return;
  }
  for (guint i = 0; i < self->listeners->len; i++) {
    FhSpeakerListener *listener = &g_array_index (self->listeners, FhSpeakerListener, i);
    listener->func (&packet, listener->user_data);
  }
}

static void
on_capture_process (void *data)
{
  FhSpeaker *self = data;
  struct pw_buffer *buffer = pw_stream_dequeue_buffer (self->capture);
  struct spa_data *d;
  const float *samples;
  guint n_frames, used = 0;
  gint64 now = g_get_monotonic_time ();

  if (!buffer)
    return;
  d = &buffer->buffer->datas[0];
  samples = d->data ? SPA_PTROFF (d->data, d->chunk->offset, const float) : NULL;
  n_frames = samples ? d->chunk->size / (sizeof (float) * CHANNELS) : 0;
  while (used < n_frames) {
    guint take = MIN (n_frames - used, self->frame_samples - self->n_pending);
    memcpy (self->pending + self->n_pending * CHANNELS, samples + used * CHANNELS,
            take * CHANNELS * sizeof (float));
    self->n_pending += take;
    used += take;
    if (self->n_pending == self->frame_samples) {
      /* The buffer's last sample entered the sink about now; the packet's
       * first one frame + (what is left of the buffer) earlier. */
      gint64 age_us =
        (gint64) (self->frame_samples + n_frames - used) * G_USEC_PER_SEC / FH_AUDIO_RATE;
      emit_packet (self, now - age_us);
      self->n_pending = 0;
    }
  }
  pw_stream_queue_buffer (self->capture, buffer);
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
    if (!self->capturing && state == PW_STREAM_STATE_STREAMING)
      g_message ("audio: capturing %s", self->name);
    self->capturing = state == PW_STREAM_STATE_STREAMING || self->capturing;
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
                             "true", PW_KEY_NODE_LATENCY, "240/48000", NULL);
  self->capture = pw_stream_new (fh_pipewire_get_core (self->pw), capture_name, props);
  pw_stream_add_listener (self->capture, &self->capture_listener, &capture_events, self);
  params[0] = fh_pipewire_build_audio_format (&builder, CHANNELS);
  pw_stream_connect (self->capture, PW_DIRECTION_INPUT, PW_ID_ANY,
                     PW_STREAM_FLAG_AUTOCONNECT | PW_STREAM_FLAG_MAP_BUFFERS, params, 1);
}

static void
on_sink_info (void *data, const struct pw_node_info *info)
{
  FhSpeaker *self = data;

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
  int err;

  self->pw = pw;
  self->name = g_strdup (name);
  self->listeners = g_array_new (FALSE, FALSE, sizeof (FhSpeakerListener));
  self->frame_samples = FH_AUDIO_RATE * FH_AUDIO_FRAME_MS / 1000;
  self->encoder = opus_encoder_create (FH_AUDIO_RATE, CHANNELS,
                                       OPUS_APPLICATION_RESTRICTED_LOWDELAY, &err);
  if (!self->encoder) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "cannot make an Opus encoder: %s",
                 opus_strerror (err));
    return NULL;
  }
  opus_encoder_ctl (self->encoder, OPUS_SET_BITRATE (128000));

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

gboolean
fh_speaker_set_frame_ms (FhSpeaker *self, guint frame_ms)
{
  if (frame_ms != 5 && frame_ms != 10 && frame_ms != 20)
    return FALSE;
  self->frame_samples = FH_AUDIO_RATE * frame_ms / 1000;
  self->n_pending = 0;
  return TRUE;
}

void
fh_speaker_set_constant_bitrate (FhSpeaker *self, gboolean constant)
{
  opus_encoder_ctl (self->encoder, OPUS_SET_VBR (constant ? 0 : 1));
}

void
fh_speaker_free (FhSpeaker *self)
{
  if (!self)
    return;
  g_clear_handle_id (&self->reconnect_source, g_source_remove);
  if (self->capture) {
    spa_hook_remove (&self->capture_listener);
    fh_pipewire_destroy_stream (self->pw, g_steal_pointer (&self->capture));
  }
  if (self->sink) {
    spa_hook_remove (&self->sink_listener);
    g_clear_pointer (&self->sink, pw_proxy_destroy);
  }
  g_clear_pointer (&self->encoder, opus_encoder_destroy);
  g_clear_pointer (&self->listeners, g_array_unref);
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
fh_speaker_add_listener (FhSpeaker *self, FhAudioPacketFunc func, gpointer user_data)
{
  FhSpeakerListener listener = { ++self->next_listener, func, user_data };

  g_array_append_val (self->listeners, listener);
  return listener.id;
}

void
fh_speaker_remove_listener (FhSpeaker *self, guint id)
{
  for (guint i = 0; i < self->listeners->len; i++) {
    if (g_array_index (self->listeners, FhSpeakerListener, i).id == id) {
      g_array_remove_index (self->listeners, i);
      return;
    }
  }
}
