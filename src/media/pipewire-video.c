/* A PipeWire video consumer with a triple buffer between the main thread
 * (PipeWire's callbacks) and the encode thread. */
#include "media/pipewire-video.h"

#include <libavutil/pixfmt.h>
#include <pipewire/pipewire.h>
#include <spa/param/video/format-utils.h>
#include <spa/param/video/type-info.h>

#include "media/convert.h"

/* A producer that paints only on damage (Mutter) sends one picture when
 * the stream starts; if that one was lost (no buffer was ready on either
 * side yet, on a busy machine), nothing more comes until something on its
 * monitor changes. So the stream is connected again, which makes the
 * producer start over and paint, until a picture has come: every
 * FIRST_FRAME_MS, at most FIRST_FRAME_TRIES times. */
#define FIRST_FRAME_MS 1000
#define FIRST_FRAME_TRIES 5

typedef struct {
  guint8 *data;
  int stride;
  gint64 timestamp_us;
} FhPwVideoSlot;

struct _FhPwVideo {
  FhPipeWire *pw;
  guint width, height;
  struct pw_stream *stream;
  struct spa_hook listener;
  int av_format; /* of the negotiated format; AV_PIX_FMT_NONE before */

  /* slots[write] belongs to the main thread, slots[read] to the encode
   * thread, slots[ready] to whoever holds the lock. */
  GMutex lock;
  GCond cond;
  FhPwVideoSlot slots[3];
  guint write, ready, read;
  gboolean has_new;
  char *failure; /* set once the stream failed */

  guint32 node_id;
  gboolean got_frame; /* main thread */
  gboolean reconnecting; /* main thread: a disconnect of ours, not an end */
  guint first_frame_timer;
  guint first_frame_tries;

  FhConverter *converter; /* encode thread */
};

static int
av_format_for (enum spa_video_format format)
{
  /* SPA names bytes in memory order. */
  switch (format) {
  case SPA_VIDEO_FORMAT_BGRx:
    return AV_PIX_FMT_BGR0;
  case SPA_VIDEO_FORMAT_BGRA:
    return AV_PIX_FMT_BGRA;
  case SPA_VIDEO_FORMAT_RGBx:
    return AV_PIX_FMT_RGB0;
  case SPA_VIDEO_FORMAT_RGBA:
    return AV_PIX_FMT_RGBA;
  default:
    return AV_PIX_FMT_NONE;
  }
}

static void
fail (FhPwVideo *self, const char *why)
{
  g_mutex_lock (&self->lock);
  if (!self->failure)
    self->failure = g_strdup (why);
  g_cond_broadcast (&self->cond);
  g_mutex_unlock (&self->lock);
}

static void
on_process (void *data)
{
  FhPwVideo *self = data;
  struct pw_buffer *buffer = NULL, *next;
  struct spa_data *d;
  FhPwVideoSlot *slot = &self->slots[self->write];
  const guint8 *src;
  gsize row = (gsize) self->width * 4;

  /* Only the newest frame matters. */
  while ((next = pw_stream_dequeue_buffer (self->stream))) {
    if (buffer)
      pw_stream_queue_buffer (self->stream, buffer);
    buffer = next;
  }
  if (!buffer)
    return;
  d = &buffer->buffer->datas[0];
  if (!d->data || self->av_format == AV_PIX_FMT_NONE || !d->chunk ||
      (d->chunk->flags & SPA_CHUNK_FLAG_CORRUPTED) || d->chunk->size == 0) {
    pw_stream_queue_buffer (self->stream, buffer);
    return;
  }
  src = SPA_PTROFF (d->data, d->chunk->offset, const guint8);
  {
    int stride = d->chunk->stride ? d->chunk->stride : (int) row;
    if ((gsize) stride * (self->height - 1) + row > d->maxsize - d->chunk->offset) {
      pw_stream_queue_buffer (self->stream, buffer);
      return;
    }
    for (guint y = 0; y < self->height; y++)
      memcpy (slot->data + y * row, src + (gsize) y * stride, row);
  }
  slot->stride = (int) row;
  slot->timestamp_us = g_get_monotonic_time ();
  pw_stream_queue_buffer (self->stream, buffer);
  self->got_frame = TRUE;

  g_mutex_lock (&self->lock);
  {
    guint t = self->write;
    self->write = self->ready;
    self->ready = t;
  }
  self->has_new = TRUE;
  g_cond_signal (&self->cond);
  g_mutex_unlock (&self->lock);
}

static void
on_param_changed (void *data, uint32_t id, const struct spa_pod *param)
{
  FhPwVideo *self = data;
  struct spa_video_info_raw info = { 0 };
  guint8 pod_buffer[1024];
  struct spa_pod_builder b = SPA_POD_BUILDER_INIT (pod_buffer, sizeof pod_buffer);
  const struct spa_pod *params[1];

  if (!param || id != SPA_PARAM_Format)
    return;
  if (spa_format_video_raw_parse (param, &info) < 0 ||
      (self->av_format = av_format_for (info.format)) == AV_PIX_FMT_NONE ||
      info.size.width != self->width || info.size.height != self->height) {
    g_autofree char *why = g_strdup_printf (
      "the desktop offers video the session cannot take (format %u, %ux%u; the session is %ux%u)",
      info.format, info.size.width, info.size.height, self->width, self->height);
    self->av_format = AV_PIX_FMT_NONE;
    fail (self, why);
    return;
  }
  params[0] = spa_pod_builder_add_object (
    &b, SPA_TYPE_OBJECT_ParamBuffers, SPA_PARAM_Buffers, SPA_PARAM_BUFFERS_buffers,
    SPA_POD_CHOICE_RANGE_Int (4, 2, 8), SPA_PARAM_BUFFERS_blocks, SPA_POD_Int (1),
    SPA_PARAM_BUFFERS_size, SPA_POD_Int ((int) (self->width * self->height * 4)),
    SPA_PARAM_BUFFERS_stride, SPA_POD_Int ((int) self->width * 4), SPA_PARAM_BUFFERS_dataType,
    SPA_POD_CHOICE_FLAGS_Int ((1 << SPA_DATA_MemPtr) | (1 << SPA_DATA_MemFd)));
  pw_stream_update_params (self->stream, params, 1);
}

static int
connect_stream (FhPwVideo *self)
{
  guint8 pod_buffer[1024];
  struct spa_pod_builder b = SPA_POD_BUILDER_INIT (pod_buffer, sizeof pod_buffer);
  const struct spa_pod *params[1];

  /* Exactly the session's size: a producer that can (Mutter, gamescope)
   * makes its picture that size; one that cannot fails to link. */
  params[0] = spa_pod_builder_add_object (
    &b, SPA_TYPE_OBJECT_Format, SPA_PARAM_EnumFormat, SPA_FORMAT_mediaType,
    SPA_POD_Id (SPA_MEDIA_TYPE_video), SPA_FORMAT_mediaSubtype, SPA_POD_Id (SPA_MEDIA_SUBTYPE_raw),
    SPA_FORMAT_VIDEO_format,
    SPA_POD_CHOICE_ENUM_Id (5, SPA_VIDEO_FORMAT_BGRx, SPA_VIDEO_FORMAT_BGRx, SPA_VIDEO_FORMAT_BGRA,
                            SPA_VIDEO_FORMAT_RGBx, SPA_VIDEO_FORMAT_RGBA),
    SPA_FORMAT_VIDEO_size, SPA_POD_Rectangle (&SPA_RECTANGLE (self->width, self->height)),
    SPA_FORMAT_VIDEO_framerate,
    SPA_POD_CHOICE_RANGE_Fraction (&SPA_FRACTION (60, 1), &SPA_FRACTION (0, 1),
                                   &SPA_FRACTION (1000, 1)));
  return pw_stream_connect (self->stream, PW_DIRECTION_INPUT, self->node_id,
                           PW_STREAM_FLAG_AUTOCONNECT | PW_STREAM_FLAG_MAP_BUFFERS, params, 1);
}

static gboolean
on_first_frame_timeout (gpointer data)
{
  FhPwVideo *self = data;
  int res;

  if (self->got_frame || ++self->first_frame_tries > FIRST_FRAME_TRIES) {
    self->first_frame_timer = 0;
    return G_SOURCE_REMOVE;
  }
  g_message ("video: no picture from node %u yet; connecting again (%u of %u)", self->node_id,
             self->first_frame_tries, FIRST_FRAME_TRIES);
  self->reconnecting = TRUE;
  pw_stream_disconnect (self->stream);
  res = connect_stream (self);
  self->reconnecting = FALSE;
  if (res < 0) {
    fail (self, "cannot connect to the desktop's video node again");
    self->first_frame_timer = 0;
    return G_SOURCE_REMOVE;
  }
  return G_SOURCE_CONTINUE;
}

static void
on_state_changed (void *data, enum pw_stream_state old, enum pw_stream_state state,
                  const char *error)
{
  FhPwVideo *self = data;

  g_debug ("video: PipeWire stream %s → %s", pw_stream_state_as_string (old),
           pw_stream_state_as_string (state));
  if (state == PW_STREAM_STATE_STREAMING && !self->got_frame && !self->first_frame_timer)
    self->first_frame_timer = g_timeout_add (FIRST_FRAME_MS, on_first_frame_timeout, self);
  if (state == PW_STREAM_STATE_ERROR ||
      (state == PW_STREAM_STATE_UNCONNECTED && old != PW_STREAM_STATE_CONNECTING &&
       !self->reconnecting)) {
    g_autofree char *why = g_strdup_printf ("the desktop's video stream ended%s%s",
                                            error ? ": " : "", error ? error : "");
    fail (self, why);
  }
}

static const struct pw_stream_events stream_events = {
  PW_VERSION_STREAM_EVENTS,
  .state_changed = on_state_changed,
  .param_changed = on_param_changed,
  .process = on_process,
};

FhPwVideo *
fh_pw_video_new (FhPipeWire *pw, guint32 node_id, guint width, guint height, GError **error)
{
  g_autoptr (FhPwVideo) self = g_new0 (FhPwVideo, 1);
  struct pw_properties *props;
  int res;

  self->pw = pw;
  self->width = width;
  self->height = height;
  self->av_format = AV_PIX_FMT_NONE;
  g_mutex_init (&self->lock);
  g_cond_init (&self->cond);
  self->write = 0;
  self->ready = 1;
  self->read = 2;
  for (guint i = 0; i < 3; i++)
    self->slots[i].data = g_malloc ((gsize) width * height * 4);
  self->converter = fh_converter_new ();

  props = pw_properties_new (PW_KEY_MEDIA_TYPE, "Video", PW_KEY_MEDIA_CATEGORY, "Capture",
                             PW_KEY_MEDIA_ROLE, "Screen", PW_KEY_NODE_DONT_RECONNECT, "true",
                             NULL);
  self->stream = pw_stream_new (fh_pipewire_get_core (pw), "funkhaus-video", props);
  if (!self->stream) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "cannot make a PipeWire video stream");
    return NULL;
  }
  pw_stream_add_listener (self->stream, &self->listener, &stream_events, self);
  self->node_id = node_id;
  res = connect_stream (self);
  if (res < 0) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "cannot connect to video node %u: %s",
                 node_id, g_strerror (-res));
    return NULL;
  }
  return g_steal_pointer (&self);
}

void
fh_pw_video_free (FhPwVideo *self)
{
  if (!self)
    return;
  g_clear_handle_id (&self->first_frame_timer, g_source_remove);
  if (self->stream) {
    spa_hook_remove (&self->listener);
    fh_pipewire_destroy_stream (self->pw, g_steal_pointer (&self->stream));
  }
  fh_converter_free (self->converter);
  for (guint i = 0; i < 3; i++)
    g_free (self->slots[i].data);
  g_free (self->failure);
  g_mutex_clear (&self->lock);
  g_cond_clear (&self->cond);
  g_free (self);
}

gboolean
fh_pw_video_capture (FhPwVideo *self, FhFrame *frame, gint64 deadline_us, gint64 *timestamp_us,
                     GError **error)
{
  FhPwVideoSlot *slot;
  int format;

  g_mutex_lock (&self->lock);
  while (!self->has_new && !self->failure) {
    if (!g_cond_wait_until (&self->cond, &self->lock, deadline_us))
      break;
  }
  if (self->failure) {
    g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_BROKEN_PIPE, self->failure);
    g_mutex_unlock (&self->lock);
    return FALSE;
  }
  if (!self->has_new) {
    g_mutex_unlock (&self->lock);
    return FALSE;
  }
  {
    guint t = self->read;
    self->read = self->ready;
    self->ready = t;
  }
  self->has_new = FALSE;
  format = self->av_format;
  g_mutex_unlock (&self->lock);

  slot = &self->slots[self->read];
  *timestamp_us = slot->timestamp_us;
  return fh_converter_run (self->converter, format, slot->data, slot->stride, self->width,
                           self->height, frame, error);
}

gboolean
fh_pw_video_capture_pending (FhPwVideo **video, FhFrame *frame, gint64 deadline_us,
                             gint64 *timestamp_us, GError **error)
{
  FhPwVideo *self = g_atomic_pointer_get (video);

  if (!self) {
    gint64 wait = deadline_us - g_get_monotonic_time ();
    if (wait > 0)
      g_usleep ((gulong) wait);
    return FALSE;
  }
  return fh_pw_video_capture (self, frame, deadline_us, timestamp_us, error);
}
