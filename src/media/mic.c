/* The virtual microphone: a pw_stream exported as an Audio/Source node.
 * Every callback runs on the main thread. */
#include "media/mic.h"

#include <gio/gio.h>
#include <opus/opus.h>
#include <pipewire/pipewire.h>
#include <spa/param/audio/format-utils.h>

#include "media/speaker.h" /* FH_AUDIO_RATE */

#define MAX_DECODED (FH_AUDIO_RATE * 120 / 1000) /* Opus' longest packet */
/* Each feeder buffers at most this much: older audio is dropped rather
 * than played late. It starts playing once it holds PRIME_MS. */
#define MAX_BUFFERED_MS 80
#define PRIME_MS 20
#define MS_TO_FRAMES(ms) (FH_AUDIO_RATE * (ms) / 1000)

struct _FhMicFeeder {
  FhMic *mic;
  OpusDecoder *decoder;
  float *ring; /* MS_TO_FRAMES (MAX_BUFFERED_MS) mono samples */
  guint ring_size;
  guint read, count;
  gboolean primed;
  guint64 dropped; /* samples dropped to keep latency bounded */
};

struct _FhMic {
  FhPipeWire *pw;
  char *name;
  struct pw_stream *stream;
  struct spa_hook listener;
  GPtrArray *feeders; /* FhMicFeeder, owned */
  float decoded[MAX_DECODED];
};

static void
feeder_free (FhMicFeeder *feeder)
{
  g_clear_pointer (&feeder->decoder, opus_decoder_destroy);
  g_free (feeder->ring);
  g_free (feeder);
}

static void
on_process (void *data)
{
  FhMic *self = data;
  struct pw_buffer *buffer = pw_stream_dequeue_buffer (self->stream);
  struct spa_data *d;
  float *out;
  guint n_frames;

  if (!buffer)
    return;
  d = &buffer->buffer->datas[0];
  if (!(out = d->data)) {
    pw_stream_queue_buffer (self->stream, buffer);
    return;
  }
  n_frames = d->maxsize / sizeof (float);
  if (buffer->requested)
    n_frames = MIN (n_frames, (guint) buffer->requested);
  memset (out, 0, n_frames * sizeof (float));
  for (guint f = 0; f < self->feeders->len; f++) {
    FhMicFeeder *feeder = self->feeders->pdata[f];
    guint take;

    if (!feeder->primed)
      continue;
    take = MIN (n_frames, feeder->count);
    for (guint i = 0; i < take; i++)
      out[i] += feeder->ring[(feeder->read + i) % feeder->ring_size];
    feeder->read = (feeder->read + take) % feeder->ring_size;
    feeder->count -= take;
    if (feeder->count == 0)
      feeder->primed = FALSE; /* ran dry: buffer a little again */
  }
  for (guint i = 0; i < n_frames; i++)
    out[i] = CLAMP (out[i], -1.0f, 1.0f);
  d->chunk->offset = 0;
  d->chunk->stride = sizeof (float);
  d->chunk->size = n_frames * sizeof (float);
  pw_stream_queue_buffer (self->stream, buffer);
}

static void
on_state (void *data, enum pw_stream_state old, enum pw_stream_state state, const char *error)
{
  FhMic *self = data;

  g_debug ("audio: %s: %s → %s", self->name, pw_stream_state_as_string (old),
           pw_stream_state_as_string (state));
  if (state == PW_STREAM_STATE_ERROR)
    g_warning ("audio: microphone %s failed: %s", self->name, error ? error : "unknown error");
}

static const struct pw_stream_events stream_events = {
  PW_VERSION_STREAM_EVENTS,
  .state_changed = on_state,
  .process = on_process,
};

FhMic *
fh_mic_new (FhPipeWire *pw, const char *name, GError **error)
{
  g_autoptr (FhMic) self = g_new0 (FhMic, 1);
  g_autofree char *description = g_strdup_printf ("funkhaus microphone %s", name);
  guint8 pod_buffer[1024];
  struct spa_pod_builder builder = SPA_POD_BUILDER_INIT (pod_buffer, sizeof pod_buffer);
  const struct spa_pod *params[1];
  struct pw_properties *props;
  int res;

  self->pw = pw;
  self->name = g_strdup (name);
  self->feeders = g_ptr_array_new_with_free_func ((GDestroyNotify) feeder_free);
  /* A source node of its own that apps record from (PULSE_SOURCE); nothing
   * links it anywhere by itself. Low priority: never the default. */
  props = pw_properties_new (PW_KEY_MEDIA_TYPE, "Audio", PW_KEY_MEDIA_CLASS, "Audio/Source",
                             PW_KEY_NODE_NAME, name, PW_KEY_NODE_DESCRIPTION, description,
                             PW_KEY_PRIORITY_SESSION, "1", PW_KEY_NODE_LATENCY, "480/48000",
                             NULL);
  self->stream = pw_stream_new (fh_pipewire_get_core (pw), name, props);
  if (!self->stream) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "cannot make the microphone %s", name);
    return NULL;
  }
  pw_stream_add_listener (self->stream, &self->listener, &stream_events, self);
  params[0] = fh_pipewire_build_audio_format (&builder, 1);
  res = pw_stream_connect (self->stream, PW_DIRECTION_OUTPUT, PW_ID_ANY,
                           PW_STREAM_FLAG_MAP_BUFFERS, params, 1);
  if (res < 0) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "cannot export the microphone %s: %s",
                 name, g_strerror (-res));
    return NULL;
  }
  return g_steal_pointer (&self);
}

void
fh_mic_free (FhMic *self)
{
  if (!self)
    return;
  if (self->stream) {
    spa_hook_remove (&self->listener);
    fh_pipewire_destroy_stream (self->pw, g_steal_pointer (&self->stream));
  }
  g_clear_pointer (&self->feeders, g_ptr_array_unref);
  g_free (self->name);
  g_free (self);
}

const char *
fh_mic_get_source_name (FhMic *self)
{
  return self->name;
}

FhMicFeeder *
fh_mic_add_feeder (FhMic *self, GError **error)
{
  FhMicFeeder *feeder = g_new0 (FhMicFeeder, 1);
  int err;

  feeder->mic = self;
  feeder->decoder = opus_decoder_create (FH_AUDIO_RATE, 1, &err);
  if (!feeder->decoder) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "cannot make an Opus decoder: %s",
                 opus_strerror (err));
    g_free (feeder);
    return NULL;
  }
  feeder->ring_size = MS_TO_FRAMES (MAX_BUFFERED_MS);
  feeder->ring = g_new0 (float, feeder->ring_size);
  g_ptr_array_add (self->feeders, feeder);
  return feeder;
}

void
fh_mic_remove_feeder (FhMic *self, FhMicFeeder *feeder)
{
  if (feeder)
    g_ptr_array_remove (self->feeders, feeder);
}

gboolean
fh_mic_feeder_push (FhMicFeeder *feeder, const guint8 *data, gsize size, GError **error)
{
  float *decoded = feeder->mic->decoded;
  int n = opus_decode_float (feeder->decoder, data, (opus_int32) size, decoded, MAX_DECODED, 0);
  guint write;

  if (n < 0) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "not an Opus packet: %s",
                 opus_strerror (n));
    return FALSE;
  }
  /* Keep the newest audio: drop the oldest when the buffer is full. */
  if (feeder->count + (guint) n > feeder->ring_size) {
    guint drop = MIN (feeder->count, feeder->count + (guint) n - feeder->ring_size);
    feeder->read = (feeder->read + drop) % feeder->ring_size;
    feeder->count -= drop;
    feeder->dropped += drop;
  }
  if ((guint) n > feeder->ring_size) {
    decoded += (guint) n - feeder->ring_size;
    n = (int) feeder->ring_size;
  }
  write = (feeder->read + feeder->count) % feeder->ring_size;
  for (int i = 0; i < n; i++)
    feeder->ring[(write + (guint) i) % feeder->ring_size] = decoded[i];
  feeder->count += (guint) n;
  if (feeder->count >= MS_TO_FRAMES (PRIME_MS))
    feeder->primed = TRUE;
  return TRUE;
}
