/* wlr-screencopy into wl_shm, then one conversion pass from the
 * compositor's XRGB into the encoder's I420 input: the only copy between
 * the two.
 *
 * A capture asks for a copy and waits for the compositor's next picture:
 * on a headless sway that is up to one of its frame timers, plus its
 * rendering. Where that wait and the conversion together take most of a
 * frame period (1920x1080 from 60 Hz on the 2-core test machine), a capture
 * that came late lost the next tick, so the copy is then asked for ahead:
 * right after a picture is converted, not at the next tick. The
 * compositor renders and copies while the capture thread waits for its
 * tick, and the next capture finds the picture there or close. The price
 * is age: a picture that came before the tick waits for it. */
#include "media/screencopy.h"

#include <errno.h>
#include <libavutil/pixfmt.h>
#include <poll.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <wayland-client.h>

#include "media/convert.h"
#include "wlr-screencopy-unstable-v1-client-protocol.h"

typedef enum {
  FH_COPY_IDLE,
  FH_COPY_WAIT_BUFFER, /* capture requested, learning the buffer layout */
  FH_COPY_COPYING, /* copy (with damage) requested */
  FH_COPY_READY,
  FH_COPY_FAILED,
} FhCopyState;

struct _FhScreencopy {
  struct wl_display *display;
  struct wl_registry *registry;
  struct wl_shm *shm;
  struct wl_output *output; /* the one captured */
  char *want_output; /* its name, or NULL: the first */
  GPtrArray *outputs; /* FhScreencopyOutput: every output, until one is picked */
  struct zwlr_screencopy_manager_v1 *manager;
  guint manager_version;

  struct zwlr_screencopy_frame_v1 *frame;
  FhCopyState state;
  gboolean have_shm_info;
  guint32 format, width, height, stride;
  gboolean y_invert;
  gint64 ready_us;
  gboolean copied_once; /* later copies wait for damage */
  guint failures;
  gint64 copy_asked_us; /* g_get_monotonic_time () */

  /* Whether to ask ahead, learnt from the last pictures: how long the
   * compositor took from the copy asked for to the picture, and the
   * conversion, against the period of the capture thread's ticks. */
  gint64 period_us; /* 0: never ahead */
  guint pictures;
  gint64 wait_avg_us, convert_avg_us;
  gboolean ahead;

  /* The shm buffer, reused while the layout stays the same. */
  struct wl_buffer *buffer;
  void *data;
  gsize size;
  guint32 buffer_format, buffer_width, buffer_height, buffer_stride;

  FhConverter *converter;
};

static void
frame_buffer (void *data, struct zwlr_screencopy_frame_v1 *frame, guint32 format, guint32 width,
              guint32 height, guint32 stride)
{
  FhScreencopy *self = data;

  self->format = format;
  self->width = width;
  self->height = height;
  self->stride = stride;
  self->have_shm_info = TRUE;
}

static void
frame_flags (void *data, struct zwlr_screencopy_frame_v1 *frame, guint32 flags)
{
  ((FhScreencopy *) data)->y_invert = flags & ZWLR_SCREENCOPY_FRAME_V1_FLAGS_Y_INVERT;
}

static void
frame_ready (void *data, struct zwlr_screencopy_frame_v1 *frame, guint32 sec_hi, guint32 sec_lo,
             guint32 nsec)
{
  FhScreencopy *self = data;
  gint64 sec = (gint64) sec_hi << 32 | sec_lo;

  /* The compositor stamps with CLOCK_MONOTONIC, as g_get_monotonic_time. */
  self->ready_us = sec * G_USEC_PER_SEC + nsec / 1000;
  self->state = FH_COPY_READY;
}

static void
frame_failed (void *data, struct zwlr_screencopy_frame_v1 *frame)
{
  ((FhScreencopy *) data)->state = FH_COPY_FAILED;
}

static void
frame_damage (void *data, struct zwlr_screencopy_frame_v1 *frame, guint32 x, guint32 y,
              guint32 width, guint32 height)
{
}

static void
frame_linux_dmabuf (void *data, struct zwlr_screencopy_frame_v1 *frame, guint32 format,
                    guint32 width, guint32 height)
{
}

static void
frame_buffer_done (void *data, struct zwlr_screencopy_frame_v1 *frame)
{
}

static const struct zwlr_screencopy_frame_v1_listener frame_listener = {
  .buffer = frame_buffer,
  .flags = frame_flags,
  .ready = frame_ready,
  .failed = frame_failed,
  .damage = frame_damage,
  .linux_dmabuf = frame_linux_dmabuf,
  .buffer_done = frame_buffer_done,
};

typedef struct {
  struct wl_output *output;
  char *name;
} FhScreencopyOutput;

static void
screencopy_output_free (FhScreencopyOutput *o)
{
  g_clear_pointer (&o->output, wl_output_destroy);
  g_free (o->name);
  g_free (o);
}

static void out_geometry (void *d, struct wl_output *o, int32_t x, int32_t y, int32_t pw, int32_t ph, int32_t sp, const char *mk, const char *md, int32_t t) {}
static void out_mode (void *d, struct wl_output *o, uint32_t f, int32_t w, int32_t h, int32_t r) {}
static void out_done (void *d, struct wl_output *o) {}
static void out_scale (void *d, struct wl_output *o, int32_t f) {}
static void
out_name (void *data, struct wl_output *output, const char *name)
{
  FhScreencopyOutput *o = data;

  g_free (o->name);
  o->name = g_strdup (name);
}
static void out_description (void *d, struct wl_output *o, const char *desc) {}

static const struct wl_output_listener output_listener = {
  .geometry = out_geometry,
  .mode = out_mode,
  .done = out_done,
  .scale = out_scale,
  .name = out_name,
  .description = out_description,
};

static void
registry_global (void *data, struct wl_registry *registry, guint32 name, const char *interface,
                 guint32 version)
{
  FhScreencopy *self = data;

  if (g_str_equal (interface, wl_shm_interface.name) && !self->shm) {
    self->shm = wl_registry_bind (registry, name, &wl_shm_interface, 1);
  } else if (g_str_equal (interface, wl_output_interface.name) && !self->output) {
    /* Version 4 tells the output's name (HEADLESS-2, say). */
    FhScreencopyOutput *o = g_new0 (FhScreencopyOutput, 1);
    o->output = wl_registry_bind (registry, name, &wl_output_interface, MIN (version, 4u));
    wl_output_add_listener (o->output, &output_listener, o);
    g_ptr_array_add (self->outputs, o);
  } else if (g_str_equal (interface, zwlr_screencopy_manager_v1_interface.name)) {
    self->manager_version = MIN (version, 3u);
    self->manager = wl_registry_bind (registry, name, &zwlr_screencopy_manager_v1_interface,
                                      self->manager_version);
  }
}

static void
registry_global_remove (void *data, struct wl_registry *registry, guint32 name)
{
}

static const struct wl_registry_listener registry_listener = {
  .global = registry_global,
  .global_remove = registry_global_remove,
};

static gboolean
connection_error (FhScreencopy *self, GError **error)
{
  int err = wl_display_get_error (self->display);

  g_set_error (error, G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED,
               "lost the capture connection to the compositor: %s",
               err ? g_strerror (err) : "closed");
  return FALSE;
}

/* Keeps the output called want_output (or the first) and lets go of the
 * others. */
static gboolean
pick_output (FhScreencopy *self, GError **error)
{
  for (guint i = 0; i < self->outputs->len; i++) {
    FhScreencopyOutput *o = self->outputs->pdata[i];
    if (!self->want_output || g_strcmp0 (o->name, self->want_output) == 0) {
      wl_output_set_user_data (o->output, NULL);
      self->output = g_steal_pointer (&o->output);
      break;
    }
  }
  g_ptr_array_set_size (self->outputs, 0);
  if (!self->output) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND,
                 "the compositor has no output %s to capture",
                 self->want_output ? self->want_output : "at all");
    return FALSE;
  }
  return TRUE;
}

FhScreencopy *
fh_screencopy_new (const char *socket_path, const char *output_name, guint refresh_hz,
                   GError **error)
{
  g_autoptr (FhScreencopy) self = g_new0 (FhScreencopy, 1);

  self->period_us = refresh_hz ? G_USEC_PER_SEC / refresh_hz : 0;
  self->converter = fh_converter_new ();
  self->want_output = g_strdup (output_name);
  self->outputs = g_ptr_array_new_with_free_func ((GDestroyNotify) screencopy_output_free);
  self->display = wl_display_connect (socket_path);
  if (!self->display) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "cannot connect to the compositor at %s",
                 socket_path);
    return NULL;
  }
  self->registry = wl_display_get_registry (self->display);
  wl_registry_add_listener (self->registry, &registry_listener, self);
  if (wl_display_roundtrip (self->display) < 0) {
    connection_error (self, error);
    return NULL;
  }
  /* A second round trip brings the outputs' names. */
  if (wl_display_roundtrip (self->display) < 0) {
    connection_error (self, error);
    return NULL;
  }
  if (!self->manager || !self->shm) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
                 "the compositor offers no %s: it cannot be captured",
                 !self->manager ? "zwlr_screencopy_manager_v1" : "wl_shm");
    return NULL;
  }
  if (!pick_output (self, error))
    return NULL;
  return g_steal_pointer (&self);
}

static void
release_buffer (FhScreencopy *self)
{
  g_clear_pointer (&self->buffer, wl_buffer_destroy);
  if (self->data)
    munmap (self->data, self->size);
  self->data = NULL;
  self->size = 0;
}

void
fh_screencopy_free (FhScreencopy *self)
{
  if (!self)
    return;
  g_clear_pointer (&self->frame, zwlr_screencopy_frame_v1_destroy);
  release_buffer (self);
  g_clear_pointer (&self->manager, zwlr_screencopy_manager_v1_destroy);
  g_clear_pointer (&self->output, wl_output_destroy);
  g_clear_pointer (&self->outputs, g_ptr_array_unref);
  g_clear_pointer (&self->shm, wl_shm_destroy);
  g_clear_pointer (&self->registry, wl_registry_destroy);
  g_clear_pointer (&self->display, wl_display_disconnect);
  fh_converter_free (self->converter);
  g_free (self->want_output);
  g_free (self);
}

static gboolean
ensure_buffer (FhScreencopy *self, GError **error)
{
  struct wl_shm_pool *pool;
  gsize size = (gsize) self->stride * self->height;
  int fd;

  if (self->buffer && self->buffer_format == self->format && self->buffer_width == self->width &&
      self->buffer_height == self->height && self->buffer_stride == self->stride)
    return TRUE;
  release_buffer (self);

  fd = memfd_create ("funkhaus-screencopy", MFD_CLOEXEC);
  if (fd < 0 || ftruncate (fd, (off_t) size) < 0) {
    int saved = errno;
    if (fd >= 0)
      close (fd);
    g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved),
                 "cannot make a %zu-byte capture buffer: %s", size, g_strerror (saved));
    return FALSE;
  }
  self->data = mmap (NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (self->data == MAP_FAILED) {
    int saved = errno;
    close (fd);
    self->data = NULL;
    g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved), "cannot map the capture "
                 "buffer: %s", g_strerror (saved));
    return FALSE;
  }
  self->size = size;
  pool = wl_shm_create_pool (self->shm, fd, (int32_t) size);
  self->buffer = wl_shm_pool_create_buffer (pool, 0, (int32_t) self->width,
                                            (int32_t) self->height, (int32_t) self->stride,
                                            self->format);
  wl_shm_pool_destroy (pool);
  close (fd);
  self->buffer_format = self->format;
  self->buffer_width = self->width;
  self->buffer_height = self->height;
  self->buffer_stride = self->stride;
  return TRUE;
}

static int
av_format_for (guint32 shm_format)
{
  /* wl_shm formats name the bits of a little-endian word. */
  switch (shm_format) {
  case WL_SHM_FORMAT_XRGB8888:
    return AV_PIX_FMT_BGR0;
  case WL_SHM_FORMAT_ARGB8888:
    return AV_PIX_FMT_BGRA;
  case WL_SHM_FORMAT_XBGR8888:
    return AV_PIX_FMT_RGB0;
  case WL_SHM_FORMAT_ABGR8888:
    return AV_PIX_FMT_RGBA;
  default:
    return AV_PIX_FMT_NONE;
  }
}

/* @y_invert: of this picture (the next one's request resets the flag). */
static gboolean
convert (FhScreencopy *self, gboolean y_invert, FhFrame *frame, GError **error)
{
  int format = av_format_for (self->format);
  const guint8 *data = self->data;
  int stride = (int) self->stride;

  if (format == AV_PIX_FMT_NONE) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
                 "the compositor offers pixel format 0x%08x, which funkhaus cannot convert",
                 self->format);
    return FALSE;
  }
  if (y_invert) {
    data += (gsize) self->stride * (self->height - 1);
    stride = -stride;
  }
  return fh_converter_run (self->converter, format, data, stride, self->width, self->height,
                           frame, error);
}

/* Reads and dispatches events until @deadline_us; returns FALSE when the
 * connection broke. */
static gboolean
dispatch_until (FhScreencopy *self, gint64 deadline_us)
{
  struct pollfd pfd = { .fd = wl_display_get_fd (self->display), .events = POLLIN };
  gint64 now = g_get_monotonic_time ();
  int timeout = deadline_us > now ? (int) ((deadline_us - now + 999) / 1000) : 0;
  int ret;

  while (wl_display_prepare_read (self->display) != 0) {
    if (wl_display_dispatch_pending (self->display) < 0)
      return FALSE;
  }
  if (wl_display_flush (self->display) < 0 && errno != EAGAIN) {
    wl_display_cancel_read (self->display);
    return FALSE;
  }
  ret = poll (&pfd, 1, timeout);
  if (ret > 0) {
    if (wl_display_read_events (self->display) < 0)
      return FALSE;
  } else {
    wl_display_cancel_read (self->display);
  }
  return wl_display_dispatch_pending (self->display) >= 0;
}

/* Asks for the next picture: the compositor answers with its layout. */
static void
request_frame (FhScreencopy *self)
{
  self->have_shm_info = FALSE;
  self->y_invert = FALSE;
  self->frame = zwlr_screencopy_manager_v1_capture_output (self->manager, 1, self->output);
  zwlr_screencopy_frame_v1_add_listener (self->frame, &frame_listener, self);
  self->state = FH_COPY_WAIT_BUFFER;
}

/* Once the layout is known: the copy, into the buffer. */
static gboolean
start_copy (FhScreencopy *self, GError **error)
{
  if (!ensure_buffer (self, error))
    return FALSE;
  if (self->copied_once && self->manager_version >= 2)
    zwlr_screencopy_frame_v1_copy_with_damage (self->frame, self->buffer);
  else
    zwlr_screencopy_frame_v1_copy (self->frame, self->buffer);
  self->copy_asked_us = g_get_monotonic_time ();
  self->state = FH_COPY_COPYING;
  return TRUE;
}

gboolean
fh_screencopy_decide_ahead (gboolean ahead, gint64 wait_avg_us, gint64 convert_avg_us,
                            gint64 period_us)
{
  gint64 both = wait_avg_us + convert_avg_us;

  if (period_us <= 0)
    return FALSE;
  return ahead ? both * 100 >= period_us * 40 : both * 100 > period_us * 70;
}

/* Learns from a picture whose conversion took @convert_us, once the
 * first LEARN_AFTER pictures (a cold start) are past. A wait counts for at
 * most a period: an unchanged desktop waits for good. */
#define LEARN_AFTER 16
static void
learn (FhScreencopy *self, gint64 convert_us)
{
  gint64 wait_us = CLAMP (self->ready_us - self->copy_asked_us, 0, self->period_us);
  gboolean ahead;

  if (!self->period_us || ++self->pictures < LEARN_AFTER)
    return;
  if (self->pictures == LEARN_AFTER) {
    self->wait_avg_us = wait_us;
    self->convert_avg_us = convert_us;
  }
  self->wait_avg_us += (wait_us - self->wait_avg_us) / 16;
  self->convert_avg_us += (convert_us - self->convert_avg_us) / 16;
  ahead = fh_screencopy_decide_ahead (self->ahead, self->wait_avg_us, self->convert_avg_us,
                                      self->period_us);
  if (ahead == self->ahead)
    return;
  self->ahead = ahead;
  g_debug ("screencopy: the compositor's wait (%" G_GINT64_FORMAT " µs) and the conversion "
           "(%" G_GINT64_FORMAT " µs) take %" G_GINT64_FORMAT " %% of the period: copies "
           "are %s",
           self->wait_avg_us, self->convert_avg_us,
           (self->wait_avg_us + self->convert_avg_us) * 100 / self->period_us,
           self->ahead ? "asked for ahead" : "asked for at each tick");
}

/* The picture came: converts it into @frame, asking for the next one
 * first when ahead, and its copy right after. */
static gboolean
take_picture (FhScreencopy *self, FhFrame *frame, gint64 *timestamp_us, GError **error)
{
  gboolean y_invert = self->y_invert;
  gint64 started_us;
  gboolean ok;

  g_clear_pointer (&self->frame, zwlr_screencopy_frame_v1_destroy);
  self->state = FH_COPY_IDLE;
  self->copied_once = TRUE;
  self->failures = 0;
  *timestamp_us = self->ready_us;
  if (self->ahead) {
    request_frame (self);
    wl_display_flush (self->display);
  }
  started_us = g_get_monotonic_time ();
  ok = convert (self, y_invert, frame, error);
  learn (self, g_get_monotonic_time () - started_us);
  if (!ok || self->state != FH_COPY_WAIT_BUFFER)
    return ok;
  /* The layout came during the conversion, most likely. A broken
   * connection shows at the next capture. */
  if (dispatch_until (self, 0) && self->have_shm_info) {
    if (!start_copy (self, error))
      return FALSE;
    wl_display_flush (self->display);
  }
  return TRUE;
}

gboolean
fh_screencopy_capture (FhScreencopy *self, FhFrame *frame, gint64 deadline_us,
                       gint64 *timestamp_us, GError **error)
{
  for (;;) {
    switch (self->state) {
    case FH_COPY_IDLE:
      request_frame (self);
      break;
    case FH_COPY_WAIT_BUFFER:
      if (!self->have_shm_info)
        break;
      if (!start_copy (self, error))
        return FALSE;
      break;
    case FH_COPY_COPYING:
      break;
    case FH_COPY_READY:
      return take_picture (self, frame, timestamp_us, error);
    case FH_COPY_FAILED:
      g_clear_pointer (&self->frame, zwlr_screencopy_frame_v1_destroy);
      self->state = FH_COPY_IDLE;
      self->copied_once = FALSE;
      if (++self->failures >= 3) {
        g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED,
                     "the compositor failed to copy the output three times in a row");
        return FALSE;
      }
      continue;
    }
    if (self->state == FH_COPY_WAIT_BUFFER && self->have_shm_info)
      continue;
    if (g_get_monotonic_time () >= deadline_us) {
      /* Flush what we asked for, so the compositor works on it meanwhile. */
      if (wl_display_flush (self->display) < 0 && errno != EAGAIN)
        return connection_error (self, error);
      return FALSE;
    }
    if (!dispatch_until (self, deadline_us))
      return connection_error (self, error);
  }
}
