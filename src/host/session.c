/* Session lifecycle: NEW → STARTING → STREAMING ⇄ DISCONNECTED → STOPPED,
 * and FAILED when the desktop or encoder dies. */
#include "host/session.h"

#include <gio/gio.h>
#include <errno.h>
#include <glib/gstdio.h>

#include "encode/video-stream.h"
#include "host/context.h"
#include "host/pairing.h"
#include "net/client.h"

#define STATS_WINDOW_US G_USEC_PER_SEC

struct _FhSession {
  FhContext *context;
  char *id;
  guint serial;
  char *device;
  FhMode mode;
  FhCodec codec;
  guint bitrate_kbps;
  char *dir;
  FhSessionState state;

  FhVirtualOutput *output;
  FhVideoStream *stream;
  FhClient *client;
  guint grace_source;
  guint stats_source;

  /* Last second, for the stats message. */
  GArray *encode_us;
  GArray *send_us;
  guint64 window_bytes;
  guint64 frames_sent;
  guint64 dropped_reported;
};

const char *
fh_session_state_to_string (FhSessionState state)
{
  switch (state) {
  case FH_SESSION_STATE_NEW:
    return "new";
  case FH_SESSION_STATE_STARTING:
    return "starting";
  case FH_SESSION_STATE_STREAMING:
    return "streaming";
  case FH_SESSION_STATE_DISCONNECTED:
    return "disconnected";
  case FH_SESSION_STATE_FAILED:
    return "failed";
  case FH_SESSION_STATE_STOPPED:
    return "stopped";
  }
  return "unknown";
}

static void
set_state (FhSession *self, FhSessionState state, const char *why)
{
  if (self->state == state)
    return;
  g_message ("session %.8s: %s → %s%s%s", self->id, fh_session_state_to_string (self->state),
             fh_session_state_to_string (state), why ? ": " : "", why ? why : "");
  self->state = state;
}

static int
compare_gint64 (gconstpointer a, gconstpointer b)
{
  gint64 x = *(const gint64 *) a, y = *(const gint64 *) b;
  return (x > y) - (x < y);
}

static double
percentile_ms (GArray *samples, double p)
{
  gsize i;

  if (samples->len == 0)
    return 0.0;
  g_array_sort (samples, compare_gint64);
  i = (gsize) (p * (samples->len - 1) + 0.5);
  return g_array_index (samples, gint64, i) / 1000.0;
}

static gboolean
on_stats_tick (gpointer user_data)
{
  FhSession *self = user_data;
  g_autofree char *text = NULL;
  guint64 dropped = fh_video_stream_get_dropped (self->stream);
  FhStatsMessage stats = {
    .fps = self->send_us->len,
    .kbps = self->window_bytes * 8.0 / 1000.0,
    .frames = self->frames_sent,
    .dropped = dropped,
    .encode_ms_p50 = percentile_ms (self->encode_us, 0.50),
    .encode_ms_p99 = percentile_ms (self->encode_us, 0.99),
    .capture_to_send_ms_p50 = percentile_ms (self->send_us, 0.50),
    .capture_to_send_ms_p99 = percentile_ms (self->send_us, 0.99),
  };

  if (dropped > self->dropped_reported)
    g_debug ("session %.8s: %" G_GUINT64_FORMAT " frames dropped so far", self->id, dropped);
  self->dropped_reported = dropped;
  g_array_set_size (self->encode_us, 0);
  g_array_set_size (self->send_us, 0);
  self->window_bytes = 0;
  if (self->client) {
    text = fh_proto_build_stats (&stats);
    fh_client_send_text (self->client, text);
  }
  return G_SOURCE_CONTINUE;
}

static void
on_packet (FhVideoStream *stream, const FhVideoPacket *packet, gpointer user_data)
{
  FhSession *self = user_data;
  gint64 encode_us, send_us;

  if (!self->client)
    return;
  fh_client_send_binary (self->client, packet->message);
  send_us = g_get_monotonic_time () - packet->capture_us;
  encode_us = packet->encoded_us - packet->capture_us;
  g_array_append_val (self->encode_us, encode_us);
  g_array_append_val (self->send_us, send_us);
  self->window_bytes += g_bytes_get_size (packet->message);
  self->frames_sent++;
}

static void
fail (FhSession *self, const char *reason)
{
  if (self->state == FH_SESSION_STATE_STOPPED || self->state == FH_SESSION_STATE_FAILED)
    return;
  g_warning ("session %.8s failed: %s", self->id, reason);
  set_state (self, FH_SESSION_STATE_FAILED, reason);
  if (self->client) {
    g_autofree char *text = fh_proto_build_state ("failed", reason);
    fh_client_send_text (self->client, text);
  }
  /* The context stops and frees it from an idle callback: we may be deep
   * inside the stream's or the output's own callback here. */
  fh_context_remove_session (self->context, self, FH_PROTO_ERROR_SESSION_FAILED, reason);
}

static void
on_stream_failed (FhVideoStream *stream, const GError *error, gpointer user_data)
{
  FhSession *self = user_data;
  g_autofree char *reason = g_strdup_printf ("video pipeline failed: %s", error->message);

  fail (self, reason);
}

static void
on_output_failed (FhVirtualOutput *output, const char *reason, gpointer user_data)
{
  fail (user_data, reason);
}

FhSession *
fh_session_new (FhContext *context, const FhSessionRequest *request, GError **error)
{
  g_autoptr (GError) local_error = NULL;
  FhSession *self = g_new0 (FhSession, 1);
  const FhConfig *config = fh_context_get_config (context);
  FhVideoEncoderConfig encoder = {
    .width = request->mode.width,
    .height = request->mode.height,
    .fps = request->mode.refresh,
    .bitrate_kbps = request->bitrate_kbps,
    .preset = config->encoder_preset,
    .threads = config->encoder_threads,
  };
  FhOutputRequest output = { 0 };

  self->context = context;
  self->id = fh_random_hex (16);
  self->serial = fh_context_next_serial (context);
  self->device = g_strdup (request->device);
  self->mode = request->mode;
  self->codec = request->codec;
  self->bitrate_kbps = request->bitrate_kbps;
  self->encode_us = g_array_new (FALSE, FALSE, sizeof (gint64));
  self->send_us = g_array_new (FALSE, FALSE, sizeof (gint64));
  g_message ("session %.8s: new for device %s at %ux%u@%u, %u kb/s", self->id, self->device,
             self->mode.width, self->mode.height, self->mode.refresh, self->bitrate_kbps);

  self->dir = g_build_filename (fh_context_get_sessions_dir (context), self->id, NULL);
  if (g_mkdir (self->dir, 0700) < 0) {
    int saved = errno;
    g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved), "cannot create %s: %s",
                 self->dir, g_strerror (saved));
    goto fail;
  }

  output.mode = self->mode;
  output.session_id = self->id;
  output.serial = self->serial;
  output.session_dir = self->dir;
  output.on_failed = on_output_failed;
  output.user_data = self;
  self->output = fh_context_get_backend (context)->create_output (&output, error);
  if (!self->output)
    goto fail;

  self->stream = fh_video_stream_new (self->output, &encoder, fh_context_get_main_context (context),
                                      on_packet, on_stream_failed, self, error);
  if (!self->stream)
    goto fail;
  set_state (self, FH_SESSION_STATE_STARTING, NULL);
  return self;

fail:
  fh_session_stop (self, FH_PROTO_ERROR_SESSION_FAILED, NULL);
  fh_session_free (self);
  return NULL;
}

void
fh_session_stop (FhSession *self, FhProtoError code, const char *reason)
{
  FhClient *client = g_steal_pointer (&self->client);

  if (self->state == FH_SESSION_STATE_STOPPED)
    return;
  g_clear_handle_id (&self->grace_source, g_source_remove);
  g_clear_handle_id (&self->stats_source, g_source_remove);
  if (client) {
    fh_client_unbind (client);
    fh_client_close_with_error (client, code, reason ? reason : "the session ended");
  }
  /* Reverse order of setup: the thread that reads the output goes first. */
  if (self->stream)
    fh_video_stream_stop (self->stream);
  g_clear_pointer (&self->stream, fh_video_stream_free);
  g_clear_pointer (&self->output, fh_virtual_output_destroy);
  if (self->dir) {
    if (g_rmdir (self->dir) < 0 && errno != ENOENT)
      g_warning ("session %.8s: cannot remove %s: %s", self->id, self->dir, g_strerror (errno));
  }
  set_state (self, FH_SESSION_STATE_STOPPED, reason);
}

void
fh_session_free (FhSession *self)
{
  if (!self)
    return;
  fh_session_stop (self, FH_PROTO_ERROR_HOST_SHUTDOWN, NULL);
  g_array_unref (self->encode_us);
  g_array_unref (self->send_us);
  g_free (self->dir);
  g_free (self->device);
  g_free (self->id);
  g_free (self);
}

const char *
fh_session_get_id (FhSession *self)
{
  return self->id;
}

const char *
fh_session_get_device (FhSession *self)
{
  return self->device;
}

FhSessionState
fh_session_get_state (FhSession *self)
{
  return self->state;
}

const FhMode *
fh_session_get_mode (FhSession *self)
{
  return &self->mode;
}

guint
fh_session_get_bitrate (FhSession *self)
{
  return self->bitrate_kbps;
}

FhCodec
fh_session_get_codec (FhSession *self)
{
  return self->codec;
}

FhVirtualOutput *
fh_session_get_output (FhSession *self)
{
  return self->output;
}

static gboolean
on_grace_expired (gpointer user_data)
{
  FhSession *self = user_data;

  self->grace_source = 0;
  g_message ("session %.8s: grace period over, no client came back", self->id);
  fh_context_remove_session (self->context, self, FH_PROTO_ERROR_HOST_SHUTDOWN, "grace period over");
  return G_SOURCE_REMOVE;
}

void
fh_session_attach (FhSession *self, FhClient *client)
{
  g_return_if_fail (self->state == FH_SESSION_STATE_STARTING ||
                    self->state == FH_SESSION_STATE_DISCONNECTED);
  g_clear_handle_id (&self->grace_source, g_source_remove);
  self->client = client;
  set_state (self, FH_SESSION_STATE_STREAMING, fh_client_get_peer (client));
  if (!self->stats_source)
    self->stats_source = g_timeout_add (STATS_WINDOW_US / 1000, on_stats_tick, self);
  fh_video_stream_request_keyframe (self->stream);
  fh_video_stream_set_paused (self->stream, FALSE);
}

FhClient *
fh_session_get_client (FhSession *self)
{
  return self->client;
}

void
fh_session_detach (FhSession *self, FhClient *client)
{
  guint grace = fh_context_get_config (self->context)->grace_seconds;

  if (self->state != FH_SESSION_STATE_STREAMING || self->client != client)
    return;
  self->client = NULL;
  g_clear_handle_id (&self->stats_source, g_source_remove);
  fh_video_stream_set_paused (self->stream, TRUE);
  set_state (self, FH_SESSION_STATE_DISCONNECTED, NULL);
  g_message ("session %.8s: waiting %u s for its client to come back", self->id, grace);
  self->grace_source = g_timeout_add_seconds (grace, on_grace_expired, self);
}

void
fh_session_request_keyframe (FhSession *self)
{
  if (self->stream)
    fh_video_stream_request_keyframe (self->stream);
}

void
fh_session_inject (FhSession *self, const FhInputEvent *event)
{
  if (self->state != FH_SESSION_STATE_STREAMING || !self->output)
    return;
  if (event->type == FH_INPUT_KEY && event->key.code == 0) {
    g_debug ("session %.8s: ignoring a key this host does not know", self->id);
    return;
  }
  if (event->type == FH_INPUT_POINTER_MOTION) {
    FhInputEvent clamped = *event;
    clamped.motion.x = MIN (event->motion.x, self->mode.width - 1);
    clamped.motion.y = MIN (event->motion.y, self->mode.height - 1);
    self->output->ops->inject (self->output, &clamped);
    return;
  }
  self->output->ops->inject (self->output, event);
}
