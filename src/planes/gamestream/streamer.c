/* The GameStream streaming plane (see streamer.h). Everything runs on the
 * main thread: RTSP connections are short (Moonlight opens one per
 * request), the UDP sockets only read pings, and a frame is cut into
 * packets and sent where the session hands it over. */
#include "planes/gamestream/streamer.h"

#include <string.h>
#include <sys/socket.h>

#include "planes/gamestream/protocol/audio-packet.h"
#include "planes/gamestream/control-server.h"
#include "planes/gamestream/protocol/control-stream.h"
#include "planes/gamestream/protocol/rtsp.h"
#include "planes/gamestream/protocol/sdp.h"
#include "planes/gamestream/protocol/stream-crypto.h"
#include "planes/gamestream/protocol/video-packet.h"
#include "core/session.h"

#define RTSP_TIMEOUT_S 10
/* Moonlight holds one RTSP connection at a time; more at once than this is
 * someone else, and waits its turn by being closed. */
#define RTSP_MAX_CONNECTIONS 32
#define PING_PAYLOAD_SIZE 16
#define SOCKET_BUFFER (4 * 1024 * 1024)
/* Pacing: a frame's packets go out in bursts of this many, one burst a
 * millisecond, so a keyframe does not arrive as one spike that a Wi-Fi
 * link or a small receive buffer drops. */
#define PACE_BURST 32
/* A text message of 32 characters, each Shift + key down, up, Shift up. */
#define MAX_EVENTS_PER_INPUT (4 * FH_GS_INPUT_TEXT_MAX)

typedef struct _FhGsLaunch FhGsLaunch;

struct _FhGsStreamer {
  FhCore *core;
  FhGsStreamerConfig config;
  GSocketService *rtsp;
  guint rtsp_port;
  GSocket *video_socket, *audio_socket;
  GSource *video_source, *audio_source;
  guint video_port, audio_port;
  FhGsControlServer *control;
  GHashTable *launches; /* device → FhGsLaunch */
  GList *connections;   /* FhGsRtspConnection */
  guint64 next_order;
};

struct _FhGsLaunch {
  FhGsStreamer *streamer;
  char *device;
  guint8 key[16];
  guint32 rikeyid;
  guint width, height, fps;
  GInetAddress *address;
  gboolean encrypted_rtsp;
  gboolean shared;
  guint64 order; /* launches from one address are served oldest first */

  /* RTSP */
  char *rtsp_session;
  guint32 rtsp_sequence; /* of our sealed answers */
  char video_ping[PING_PAYLOAD_SIZE + 1], audio_ping[PING_PAYLOAD_SIZE + 1];
  guint32 connect_data;
  gboolean control_expected;
  gboolean announced;
  FhGsStreamSettings settings;

  /* Streaming */
  char *session_id; /* looked up each time: the core owns sessions */
  /* The session we are the peer of. Valid while set: a session tells its
   * peer (gs_closed) before it goes, even one already on its way out. */
  FhSession *bound;
  GSocketAddress *video_to, *audio_to;
  FhGsVideoPacketizer *video;
  guint32 frame_index;
  FhGsAudioPacketizer *audio;
  GQueue paced;      /* GBytes of the current frame not sent yet */
  guint pace_source;
  guint64 video_packets, video_dropped;
};

typedef struct {
  FhGsStreamer *streamer;
  GSocketConnection *connection;
  GInetAddress *peer;
  GByteArray *in;
  guint8 chunk[4096];
  GCancellable *cancellable;
  guint timeout;
} FhGsRtspConnection;


/* ---- launches ---- */

static char *
address_string (GInetAddress *address)
{
  g_autofree char *text = g_inet_address_to_string (address);

  /* A dual-stack socket shows IPv4 peers as ::ffff:a.b.c.d. */
  if (g_str_has_prefix (text, "::ffff:") && strchr (text + 7, '.'))
    return g_strdup (text + 7);
  return g_steal_pointer (&text);
}

static gboolean
same_address (GInetAddress *a, GInetAddress *b)
{
  g_autofree char *x = address_string (a), *y = address_string (b);

  return g_str_equal (x, y);
}

static void
random_token (char out[PING_PAYLOAD_SIZE + 1])
{
  static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

  for (guint i = 0; i < PING_PAYLOAD_SIZE; i++)
    out[i] = alphabet[g_random_int_range (0, sizeof alphabet - 1)];
  out[PING_PAYLOAD_SIZE] = '\0';
}

static void
stop_pacing (FhGsLaunch *l)
{
  g_clear_handle_id (&l->pace_source, g_source_remove);
  g_queue_clear_full (&l->paced, (GDestroyNotify) g_bytes_unref);
}

/* Forgets everything RTSP set up: a resume starts it again. */
static void
reset_stream_state (FhGsLaunch *l)
{
  FhGsStreamer *s = l->streamer;

  if (l->control_expected)
    fh_gs_control_server_forget (s->control, l->connect_data);
  l->control_expected = FALSE;
  g_clear_pointer (&l->rtsp_session, g_free);
  l->announced = FALSE;
  g_clear_object (&l->video_to);
  g_clear_object (&l->audio_to);
  g_clear_pointer (&l->video, fh_gs_video_packetizer_free);
  g_clear_pointer (&l->audio, fh_gs_audio_packetizer_free);
  stop_pacing (l);
  l->frame_index = 0; /* each RTSP session counts from 1 (Sunshine too) */
  random_token (l->video_ping);
  random_token (l->audio_ping);
  do
    l->connect_data = g_random_int ();
  while (l->connect_data == 0);
}

/* The launch's session, while it lives (a grace period may have ended
 * it while no client was bound). */
static FhSession *
launch_session (FhGsLaunch *l)
{
  FhSession *session;

  if (!l->session_id)
    return NULL;
  session = fh_core_lookup_session (l->streamer->core, l->session_id);
  if (!session || fh_session_get_state (session) == FH_SESSION_STATE_STOPPED ||
      fh_session_get_state (session) == FH_SESSION_STATE_FAILED)
    return NULL;
  return session;
}

static void
unbind (FhGsLaunch *l)
{
  if (l->bound)
    fh_session_detach_peer (g_steal_pointer (&l->bound), l);
}

static void
launch_free (FhGsLaunch *l)
{
  FhSession *session;

  /* The client quit (/cancel) while its control stream is up: it is told
   * the app ended, not that the connection broke. */
  if (l->bound && l->control_expected)
    fh_gs_control_server_send_termination (l->streamer->control, l->connect_data,
                                           FH_GS_TERMINATION_GRACEFUL, NULL);
  if ((session = launch_session (l))) {
    /* It goes now: no grace period to wait out first. */
    if (l->bound)
      fh_session_forget_peer (g_steal_pointer (&l->bound), l);
    fh_core_remove_session (l->streamer->core, session, FH_END_REASON_CANCELLED,
                               "the Moonlight client quit");
  }
  unbind (l);
  reset_stream_state (l);
  g_clear_object (&l->address);
  g_free (l->session_id);
  g_free (l->device);
  g_free (l);
}

void
fh_gs_streamer_launch (FhGsStreamer *self, const FhGsLaunchInfo *info)
{
  FhGsLaunch *l = g_hash_table_lookup (self->launches, info->device);

  if (!l) {
    l = g_new0 (FhGsLaunch, 1);
    l->streamer = self;
    l->device = g_strdup (info->device);
    g_queue_init (&l->paced);
    g_hash_table_insert (self->launches, l->device, l);
  } else {
    unbind (l);
  }
  reset_stream_state (l);
  memcpy (l->key, info->key, sizeof l->key);
  l->rikeyid = info->rikeyid;
  l->width = info->width, l->height = info->height, l->fps = info->fps;
  g_set_object (&l->address, info->address);
  l->encrypted_rtsp = info->encrypted_rtsp;
  l->shared = info->shared;
  l->order = ++self->next_order;
  l->rtsp_sequence = 0;
}

void
fh_gs_streamer_cancel (FhGsStreamer *self, const char *device)
{
  g_hash_table_remove (self->launches, device);
}

/* ---- the session's peer ---- */

static const char *
gs_describe (gpointer peer)
{
  FhGsLaunch *l = peer;

  return l->device;
}

static void
gs_welcome (gpointer peer, FhSession *session, gboolean resumed)
{
  FhGsLaunch *l = peer;

  g_message ("gamestream: device %s streams session %.8s%s", l->device,
             fh_session_get_id (session), resumed ? " again" : "");
  fh_session_request_keyframe (session);
}

static gboolean send_paced (gpointer data);

static void
send_packet (FhGsLaunch *l, const guint8 *data, gsize len)
{
  g_autoptr (GError) error = NULL;

  if (g_socket_send_to (l->streamer->video_socket, l->video_to, (const char *) data, len, NULL,
                        &error) < 0)
    l->video_dropped++;
  else
    l->video_packets++;
}

static void
flush_paced (FhGsLaunch *l)
{
  GBytes *bytes;

  while ((bytes = g_queue_pop_head (&l->paced))) {
    send_packet (l, g_bytes_get_data (bytes, NULL), g_bytes_get_size (bytes));
    g_bytes_unref (bytes);
  }
  g_clear_handle_id (&l->pace_source, g_source_remove);
}

static gboolean
send_paced (gpointer data)
{
  FhGsLaunch *l = data;
  GBytes *bytes;

  for (guint i = 0; i < PACE_BURST && (bytes = g_queue_pop_head (&l->paced)); i++) {
    send_packet (l, g_bytes_get_data (bytes, NULL), g_bytes_get_size (bytes));
    g_bytes_unref (bytes);
  }
  if (g_queue_is_empty (&l->paced)) {
    l->pace_source = 0;
    return G_SOURCE_REMOVE;
  }
  return G_SOURCE_CONTINUE;
}

static void
gs_video (gpointer peer, const FhVideoPacket *packet)
{
  FhGsLaunch *l = peer;
  g_autoptr (GError) error = NULL;
  gint64 now = g_get_monotonic_time ();
  FhGsVideoFrameInfo info = {
    .frame_index = l->frame_index + 1,
    .rtp_timestamp = (guint32) (packet->capture_us * 9 / 100),
    .type = packet->keyframe ? FH_GS_VIDEO_FRAME_IDR : FH_GS_VIDEO_FRAME_P,
    .latency = (guint16) MIN ((now - packet->capture_us) / 100, G_MAXUINT16),
  };
  const guint8 *packets;
  gsize len;
  guint n;

  /* Frame numbers count what the client is sent: a gap is a loss to it. */
  if (!l->video || !l->video_to || packet->size == 0)
    return;
  l->frame_index++;
  if (!fh_gs_video_packetizer_packetize (l->video, packet->data, packet->size, &info,
                                         &error)) {
    g_warning ("gamestream: device %s: frame %u not sent: %s", l->device, info.frame_index,
               error->message);
    return;
  }
  /* What is left of the last frame goes first, at once. */
  flush_paced (l);
  packets = fh_gs_video_packetizer_packets (l->video);
  n = fh_gs_video_packetizer_n_packets (l->video);
  len = fh_gs_video_packetizer_packet_len (l->video);
  for (guint i = 0; i < n; i++) {
    if (i < PACE_BURST)
      send_packet (l, packets + i * len, len);
    else /* the packetizer reuses its buffer: the rest is copied once */
      g_queue_push_tail (&l->paced, g_bytes_new (packets + i * len, len));
  }
  if (!g_queue_is_empty (&l->paced))
    l->pace_source = g_timeout_add_full (G_PRIORITY_HIGH, 1, send_paced, l, NULL);
}

static void
gs_audio (gpointer peer, const FhAudioPacket *packet)
{
  FhGsLaunch *l = peer;
  g_autoptr (GError) error = NULL;
  const FhGsAudioPacket *packets;
  guint n = 0;

  if (!l->audio || !l->audio_to)
    return;
  if (!fh_gs_audio_packetizer_push (l->audio, packet->data, packet->size, &error)) {
    g_warning ("gamestream: device %s: audio packet not sent: %s", l->device, error->message);
    return;
  }
  packets = fh_gs_audio_packetizer_packets (l->audio, &n);
  for (guint i = 0; i < n; i++)
    g_socket_send_to (l->streamer->audio_socket, l->audio_to, (const char *) packets[i].data,
                      packets[i].len, NULL, NULL);
}

static void
gs_failed (gpointer peer, const char *reason)
{
  FhGsLaunch *l = peer;

  g_message ("gamestream: device %s: its session failed: %s", l->device, reason);
}

static void
gs_closed (gpointer peer, FhEndReason reason, const char *message)
{
  FhGsLaunch *l = peer;
  FhGsStreamer *s = l->streamer;
  g_autofree char *device = g_strdup (l->device);

  l->bound = NULL;
  g_clear_pointer (&l->session_id, g_free);
  if (l->control_expected) {
    g_autoptr (GError) error = NULL;
    /* Moonlight shows the graceful one as "the app ended" and anything
     * else as an error with its code: E_FAIL for a session that failed. */
    guint32 termination = reason == FH_END_REASON_FAILED || reason == FH_END_REASON_REVOKED
                            ? 0x80004005u
                            : FH_GS_TERMINATION_GRACEFUL;
    if (!fh_gs_control_server_send_termination (s->control, l->connect_data, termination, &error))
      g_debug ("gamestream: device %s: no termination sent: %s", device, error->message);
  }
  g_message ("gamestream: device %s: session over: %s", device, message);
  /* The launch goes too, unless this is its own teardown. */
  if (s->config.ended)
    s->config.ended (device, s->config.data);
}

static const FhSessionPeerOps gs_peer_ops = {
  .describe = gs_describe,
  .welcome = gs_welcome,
  .video = gs_video,
  .audio = gs_audio,
  .failed = gs_failed,
  .closed = gs_closed,
};

/* ---- control stream ---- */

static void
on_control_connected (gpointer data)
{
  FhGsLaunch *l = data;

  g_message ("gamestream: device %s: control stream connected", l->device);
}

static void
on_control_input (const FhGsInput *input, gpointer data)
{
  FhGsLaunch *l = data;
  FhSession *session = launch_session (l);
  FhInputEvent events[MAX_EVENTS_PER_INPUT];
  const FhMode *mode;
  guint n;

  if (!session || session != l->bound)
    return;
  mode = fh_session_get_mode (session);
  n = fh_gs_input_to_events (input, mode->width, mode->height, events, G_N_ELEMENTS (events));
  for (guint i = 0; i < n; i++)
    fh_session_inject (session, &events[i]);
}

static void
on_control_keyframe (gpointer data)
{
  FhGsLaunch *l = data;
  FhSession *session = launch_session (l);

  if (session)
    fh_session_request_keyframe (session);
}

static void
on_control_disconnected (const char *reason, gpointer data)
{
  FhGsLaunch *l = data;

  g_message ("gamestream: device %s: control stream gone (%s); its session waits for a resume",
             l->device, reason);
  l->control_expected = FALSE; /* the server forgot it */
  unbind (l);
  g_clear_object (&l->video_to);
  g_clear_object (&l->audio_to);
  stop_pacing (l);
}

static const FhGsControlHandlers control_handlers = {
  .connected = on_control_connected,
  .input = on_control_input,
  .keyframe = on_control_keyframe,
  .disconnected = on_control_disconnected,
};

/* ---- RTSP ---- */

static void
connection_free (FhGsRtspConnection *c)
{
  g_clear_handle_id (&c->timeout, g_source_remove);
  g_cancellable_cancel (c->cancellable);
  g_clear_object (&c->cancellable);
  g_clear_object (&c->connection);
  g_clear_object (&c->peer);
  g_byte_array_unref (c->in);
  g_free (c);
}

static void
connection_close (FhGsRtspConnection *c)
{
  c->streamer->connections = g_list_remove (c->streamer->connections, c);
  g_io_stream_close (G_IO_STREAM (c->connection), NULL, NULL);
  connection_free (c);
}

typedef struct {
  FhGsRtspConnection *connection; /* gone when the write was cancelled */
  GBytes *answer;                 /* what is being written */
} FhGsRtspWrite;

static void
on_written (GObject *source, GAsyncResult *result, gpointer data)
{
  g_autoptr (GError) error = NULL;
  FhGsRtspWrite *w = data;
  gboolean cancelled =
    !g_output_stream_write_all_finish (G_OUTPUT_STREAM (source), result, NULL, &error) &&
    g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);

  /* Moonlight reads an answer until the host closes. */
  if (!cancelled)
    connection_close (w->connection);
  g_bytes_unref (w->answer);
  g_free (w);
}

static void
reply (FhGsRtspConnection *c, FhGsLaunch *sealed_for, const char *text)
{
  GOutputStream *out = g_io_stream_get_output_stream (G_IO_STREAM (c->connection));
  g_autoptr (GBytes) bytes = NULL;
  g_autoptr (GError) error = NULL;

  if (sealed_for &&
      !(bytes = fh_gs_rtsp_seal (sealed_for->key, ++sealed_for->rtsp_sequence,
                                 FH_GS_CONTROL_FROM_HOST, (const guint8 *) text, strlen (text),
                                 &error))) {
    g_warning ("gamestream: RTSP answer not sealed: %s", error->message);
    connection_close (c);
    return;
  }
  FhGsRtspWrite *w;

  if (!bytes)
    bytes = g_bytes_new (text, strlen (text));
  g_clear_handle_id (&c->timeout, g_source_remove);
  w = g_new0 (FhGsRtspWrite, 1);
  w->connection = c;
  w->answer = g_steal_pointer (&bytes);
  g_output_stream_write_all_async (out, g_bytes_get_data (w->answer, NULL),
                                   g_bytes_get_size (w->answer), G_PRIORITY_DEFAULT,
                                   c->cancellable, on_written, w);
}

static void
reply_error (FhGsRtspConnection *c, FhGsLaunch *sealed_for, guint32 cseq, guint status,
             const char *why)
{
  g_autofree char *peer = address_string (c->peer);
  g_autofree char *text = fh_gs_rtsp_build_response (status, cseq, NULL, NULL);

  g_message ("gamestream: RTSP from %s: %u %s: %s", peer, status, fh_gs_rtsp_reason (status), why);
  reply (c, sealed_for, text);
}

/* A plain request without a Session: the oldest launch from this address
 * that speaks plain RTSP and has not set up yet. */
static FhGsLaunch *
find_plain_launch (FhGsStreamer *self, FhGsRtspConnection *c, const FhGsRtspRequest *request)
{
  const char *session = fh_gs_rtsp_request_get_header (request, "Session");
  FhGsLaunch *best = NULL, *l;
  GHashTableIter iter;

  g_hash_table_iter_init (&iter, self->launches);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &l)) {
    if (l->encrypted_rtsp)
      continue; /* it said it speaks rtspenc: a plain request is not it */
    if (session) {
      /* "Session: <id>" possibly followed by ";…" */
      gsize n = strcspn (session, ";");
      if (l->rtsp_session && strlen (l->rtsp_session) == n &&
          strncmp (l->rtsp_session, session, n) == 0)
        return l;
      continue;
    }
    if (l->rtsp_session || !l->address || !same_address (l->address, c->peer))
      continue;
    if (!best || l->order < best->order)
      best = l;
  }
  return best;
}

static FhGsLaunch *
find_sealed_launch (FhGsStreamer *self, const guint8 *data, gsize len, GBytes **plain)
{
  FhGsLaunch *l;
  GHashTableIter iter;

  g_hash_table_iter_init (&iter, self->launches);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &l)) {
    if (!l->encrypted_rtsp)
      continue;
    if ((*plain = fh_gs_rtsp_unseal (l->key, FH_GS_CONTROL_FROM_CLIENT, data, len, NULL, NULL)))
      return l;
  }
  return NULL;
}

static char *
describe_answer (void)
{
  FhGsSdpAnswer answer = {
    .encryption_supported = FH_GS_ENC_CONTROL_V2 | FH_GS_ENC_AUDIO,
    .encryption_requested = FH_GS_ENC_CONTROL_V2 | FH_GS_ENC_AUDIO,
  };

  return fh_gs_sdp_build_answer (&answer);
}

static gboolean
start_streaming (FhGsStreamer *self, FhGsLaunch *l, GError **error)
{
  const FhGsStreamSettings *st = &l->settings;
  FhGsVideoConfig video = {
    .packet_size = st->packet_size,
    .fec_percentage = st->fec_repair_percent ? st->fec_repair_percent : 20,
    .min_parity_packets = st->min_fec_packets,
  };
  FhGsAudioConfig audio = {
    .encrypt = (st->encryption_enabled & FH_GS_ENC_AUDIO) != 0,
    .rikeyid = l->rikeyid,
    .packet_duration_ms = st->audio_packet_ms ? st->audio_packet_ms : 5,
  };
  FhSession *session;

  memcpy (audio.key, l->key, sizeof audio.key);
  g_clear_pointer (&l->video, fh_gs_video_packetizer_free);
  g_clear_pointer (&l->audio, fh_gs_audio_packetizer_free);
  if (!(l->video = fh_gs_video_packetizer_new (&video, error)) ||
      !(l->audio = fh_gs_audio_packetizer_new (&audio, error)))
    return FALSE;

  if ((session = launch_session (l))) {
    const FhMode *mode = fh_session_get_mode (session);
    if (mode->width != st->width || mode->height != st->height)
      g_message ("gamestream: device %s resumes at %ux%u; its session stays at %ux%u",
                 l->device, st->width, st->height, mode->width, mode->height);
  } else {
    FhSessionRequest request = {
      .device = l->device,
      .mode = { .width = st->width, .height = st->height, .refresh = MAX (st->fps, 1) },
      .codec = FH_CODEC_H264,
      .bitrate_kbps = st->configured_bitrate_kbps ? st->configured_bitrate_kbps
                                                  : st->max_bitrate_kbps,
      .audio_frame_ms = st->audio_packet_ms ? st->audio_packet_ms : 5,
      /* Moonlight's audio FEC needs every packet of a block one size. */
      .audio_constant_bitrate = TRUE,
      .shared = l->shared,
    };
    if (!(session = fh_core_create_session (self->core, &request, error)))
      return FALSE;
    g_free (l->session_id);
    l->session_id = g_strdup (fh_session_get_id (session));
  }
  if (!l->bound) {
    l->bound = session;
    fh_session_attach_peer (session, &gs_peer_ops, l, FALSE);
  }
  return TRUE;
}

static void
handle_request (FhGsRtspConnection *c, FhGsLaunch *l, gboolean sealed,
                const FhGsRtspRequest *request)
{
  FhGsStreamer *self = c->streamer;
  FhGsLaunch *sealed_for = sealed ? l : NULL;
  g_autofree char *text = NULL, *body = NULL, *session = NULL, *transport = NULL;
  g_autofree char *connect = NULL;
  g_autoptr (GError) error = NULL;
  const char *method = request->method;

  if (g_str_equal (method, "OPTIONS")) {
    text = fh_gs_rtsp_build_response (200, request->cseq, NULL, NULL);
  } else if (g_str_equal (method, "DESCRIBE")) {
    body = describe_answer ();
    text = fh_gs_rtsp_build_response (
      200, request->cseq, (const char *const[]) { "Content-Type", "application/sdp", NULL }, body);
  } else if (g_str_equal (method, "SETUP")) {
    const char *target = request->target;
    if (!l->rtsp_session)
      l->rtsp_session = g_strdup_printf ("%08X%08X", g_random_int (), g_random_int ());
    session = g_strdup_printf ("%s;timeout = 90", l->rtsp_session);
    if (strstr (target, "streamid=audio")) {
      transport = g_strdup_printf ("server_port=%u", self->audio_port);
      text = fh_gs_rtsp_build_response (
        200, request->cseq,
        (const char *const[]) { "Session", session, "Transport", transport, "X-SS-Ping-Payload",
                                l->audio_ping, NULL },
        NULL);
    } else if (strstr (target, "streamid=video")) {
      transport = g_strdup_printf ("server_port=%u", self->video_port);
      text = fh_gs_rtsp_build_response (
        200, request->cseq,
        (const char *const[]) { "Session", session, "Transport", transport, "X-SS-Ping-Payload",
                                l->video_ping, NULL },
        NULL);
    } else if (strstr (target, "streamid=control")) {
      transport = g_strdup_printf ("server_port=%u", fh_gs_control_server_get_port (self->control));
      connect = g_strdup_printf ("%u", l->connect_data);
      if (!l->control_expected) {
        fh_gs_control_server_expect (self->control, l->connect_data, l->key, &control_handlers, l);
        l->control_expected = TRUE;
      }
      text = fh_gs_rtsp_build_response (
        200, request->cseq,
        (const char *const[]) { "Session", session, "Transport", transport, "X-SS-Connect-Data",
                                connect, NULL },
        NULL);
    } else {
      reply_error (c, sealed_for, request->cseq, 404, "SETUP of an unknown stream");
      return;
    }
  } else if (g_str_equal (method, "ANNOUNCE")) {
    if (!fh_gs_sdp_parse_announce ((const char *) request->body, request->body_len, &l->settings,
                                   &error)) {
      reply_error (c, sealed_for, request->cseq, 400, error->message);
      return;
    }
    if (l->settings.video_format != FH_GS_VIDEO_FORMAT_H264) {
      reply_error (c, sealed_for, request->cseq, 400, "this host sends H.264 only");
      return;
    }
    l->announced = TRUE;
    text = fh_gs_rtsp_build_response (200, request->cseq, NULL, NULL);
  } else if (g_str_equal (method, "PLAY")) {
    if (!l->announced || !l->control_expected) {
      reply_error (c, sealed_for, request->cseq, 455, "PLAY before SETUP and ANNOUNCE");
      return;
    }
    if (!start_streaming (self, l, &error)) {
      reply_error (c, sealed_for, request->cseq, 503, error->message);
      return;
    }
    text = fh_gs_rtsp_build_response (200, request->cseq, NULL, NULL);
  } else {
    reply_error (c, sealed_for, request->cseq, 501, "unknown method");
    return;
  }
  g_debug ("gamestream: RTSP %s %s for device %s", method, request->target, l->device);
  reply (c, sealed_for, text);
}

static void read_more (FhGsRtspConnection *c);

/* TRUE when the connection was answered (or closed). */
static gboolean
try_request (FhGsRtspConnection *c)
{
  FhGsStreamer *self = c->streamer;
  g_autoptr (FhGsRtspRequest) request = NULL;
  g_autoptr (GBytes) plain = NULL;
  g_autoptr (GError) error = NULL;
  FhGsLaunch *l = NULL;
  const guint8 *data = c->in->data;
  gsize len = c->in->len, consumed = 0;
  gboolean sealed = len > 0 && (data[0] & 0x80);

  if (len == 0)
    return FALSE;
  if (sealed) {
    gsize total;
    if (!fh_gs_rtsp_sealed_size (data, len, &total, &error)) {
      reply_error (c, NULL, 0, 400, error->message);
      return TRUE;
    }
    if (total == 0 || len < total)
      return FALSE;
    if (len > total) {
      reply_error (c, NULL, 0, 400, "bytes after a sealed RTSP message");
      return TRUE;
    }
    if (!(l = find_sealed_launch (self, data, len, &plain))) {
      /* Unanswerable: we cannot seal a reply without knowing the key. */
      g_autofree char *peer = address_string (c->peer);
      g_message ("gamestream: RTSP from %s: a sealed request no launched client's key opens",
                 peer);
      connection_close (c);
      return TRUE;
    }
    data = g_bytes_get_data (plain, &len);
  }
  switch (fh_gs_rtsp_parse_request (data, len, &request, &consumed, &error)) {
  case FH_GS_RTSP_PARSE_INCOMPLETE:
    if (sealed) {
      reply_error (c, l, 0, 400, "a sealed request that is not a whole RTSP request");
      return TRUE;
    }
    return FALSE;
  case FH_GS_RTSP_PARSE_ERROR:
    reply_error (c, l, 0, 400, error->message);
    return TRUE;
  case FH_GS_RTSP_PARSE_OK:
    break;
  }
  if (!l && !(l = find_plain_launch (self, c, request))) {
    reply_error (c, NULL, request->cseq, 454,
                 "no launched Moonlight client matches (launch first, over HTTPS)");
    return TRUE;
  }
  handle_request (c, l, sealed, request);
  return TRUE;
}

static void
on_read (GObject *source, GAsyncResult *result, gpointer data)
{
  g_autoptr (GError) error = NULL;
  gssize n = g_input_stream_read_finish (G_INPUT_STREAM (source), result, &error);
  FhGsRtspConnection *c;

  if (n < 0 && g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return;
  c = data;
  if (n <= 0) {
    connection_close (c);
    return;
  }
  if (c->in->len + (gsize) n > FH_GS_RTSP_MAX_MESSAGE + FH_GS_RTSP_SEALED_HEADER) {
    reply_error (c, NULL, 0, 413, "request too large");
    return;
  }
  g_byte_array_append (c->in, c->chunk, (guint) n);
  if (!try_request (c))
    read_more (c);
}

static void
read_more (FhGsRtspConnection *c)
{
  GInputStream *in = g_io_stream_get_input_stream (G_IO_STREAM (c->connection));

  g_input_stream_read_async (in, c->chunk, sizeof c->chunk, G_PRIORITY_DEFAULT, c->cancellable,
                             on_read, c);
}

static gboolean
on_rtsp_timeout (gpointer data)
{
  FhGsRtspConnection *c = data;
  g_autofree char *peer = address_string (c->peer);

  c->timeout = 0;
  g_message ("gamestream: RTSP from %s: no whole request in %d s", peer, RTSP_TIMEOUT_S);
  connection_close (c);
  return G_SOURCE_REMOVE;
}

static gboolean
on_incoming (GSocketService *service, GSocketConnection *connection, GObject *source,
             gpointer data)
{
  FhGsStreamer *self = data;
  FhGsRtspConnection *c;
  g_autoptr (GSocketAddress) remote = g_socket_connection_get_remote_address (connection, NULL);

  if (g_list_length (self->connections) >= RTSP_MAX_CONNECTIONS) {
    g_message ("gamestream: RTSP: %d connections open already; one more closed at once",
               RTSP_MAX_CONNECTIONS);
    g_io_stream_close (G_IO_STREAM (connection), NULL, NULL);
    return TRUE;
  }
  c = g_new0 (FhGsRtspConnection, 1);
  c->streamer = self;
  c->connection = g_object_ref (connection);
  c->peer = remote ? g_object_ref (g_inet_socket_address_get_address (G_INET_SOCKET_ADDRESS (remote)))
                   : g_inet_address_new_any (G_SOCKET_FAMILY_IPV4);
  c->in = g_byte_array_new ();
  c->cancellable = g_cancellable_new ();
  c->timeout = g_timeout_add_seconds (RTSP_TIMEOUT_S, on_rtsp_timeout, c);
  self->connections = g_list_prepend (self->connections, c);
  read_more (c);
  return TRUE;
}

/* ---- UDP: pings tell us where each client's video and audio go ---- */

static void
on_ping (FhGsStreamer *self, gboolean video, const guint8 *data, gsize len, GSocketAddress *from)
{
  FhGsLaunch *l;
  GHashTableIter iter;

  if (len < PING_PAYLOAD_SIZE)
    return;
  g_hash_table_iter_init (&iter, self->launches);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &l)) {
    const char *payload = video ? l->video_ping : l->audio_ping;
    GSocketAddress **to = video ? &l->video_to : &l->audio_to;

    if (memcmp (payload, data, PING_PAYLOAD_SIZE) != 0)
      continue;
    if (!*to) {
      g_autofree char *where = g_socket_connectable_to_string (G_SOCKET_CONNECTABLE (from));
      FhSession *session = video ? launch_session (l) : NULL;

      g_message ("gamestream: device %s: %s goes to %s", l->device, video ? "video" : "audio",
                 where);
      if (session)
        fh_session_request_keyframe (session);
    }
    g_set_object (to, from); /* also when it moved (NAT rebinding) */
    return;
  }
}

static gboolean
on_udp_readable (GSocket *socket, GIOCondition condition, gpointer data)
{
  FhGsStreamer *self = data;
  gboolean video = socket == self->video_socket;
  guint8 buf[256];

  for (;;) {
    g_autoptr (GSocketAddress) from = NULL;
    gssize n = g_socket_receive_from (socket, &from, (char *) buf, sizeof buf, NULL, NULL);
    if (n < 0)
      break;
    on_ping (self, video, buf, (gsize) n, from);
  }
  return G_SOURCE_CONTINUE;
}

static GSocket *
udp_socket (guint port, guint *bound, GSource **source, FhGsStreamer *self, GError **error)
{
  g_autoptr (GSocket) socket = g_socket_new (G_SOCKET_FAMILY_IPV6, G_SOCKET_TYPE_DATAGRAM,
                                             G_SOCKET_PROTOCOL_UDP, NULL);
  g_autoptr (GInetAddress) any = NULL;
  g_autoptr (GSocketAddress) address = NULL, local = NULL;

  if (socket) {
    any = g_inet_address_new_any (G_SOCKET_FAMILY_IPV6);
  } else {
    /* No IPv6 on this machine. */
    if (!(socket = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_DATAGRAM,
                                 G_SOCKET_PROTOCOL_UDP, error)))
      return NULL;
    any = g_inet_address_new_any (G_SOCKET_FAMILY_IPV4);
  }
  address = g_inet_socket_address_new (any, (guint16) port);
  if (!g_socket_bind (socket, address, TRUE, error))
    return NULL;
  g_socket_set_blocking (socket, FALSE);
  g_socket_set_option (socket, SOL_SOCKET, SO_SNDBUF, SOCKET_BUFFER, NULL);
  if (!(local = g_socket_get_local_address (socket, error)))
    return NULL;
  *bound = g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (local));
  *source = g_socket_create_source (socket, G_IO_IN, NULL);
  g_source_set_callback (*source, G_SOURCE_FUNC (on_udp_readable), self, NULL);
  g_source_attach (*source, NULL);
  return g_steal_pointer (&socket);
}

FhGsStreamer *
fh_gs_streamer_new (FhCore *core, const FhGsStreamerConfig *config, GError **error)
{
  g_autoptr (FhGsStreamer) self = g_new0 (FhGsStreamer, 1);

  self->core = core;
  self->config = *config;
  self->launches = g_hash_table_new_full (g_str_hash, g_str_equal, NULL,
                                          (GDestroyNotify) launch_free);
  self->rtsp = g_socket_service_new ();
  if (config->rtsp_port) {
    if (!g_socket_listener_add_inet_port (G_SOCKET_LISTENER (self->rtsp),
                                          (guint16) config->rtsp_port, NULL, error)) {
      g_prefix_error (error, "RTSP port %u: ", config->rtsp_port);
      return NULL;
    }
    self->rtsp_port = config->rtsp_port;
  } else if (!(self->rtsp_port = g_socket_listener_add_any_inet_port (
                 G_SOCKET_LISTENER (self->rtsp), NULL, error))) {
    return NULL;
  }
  g_signal_connect (self->rtsp, "incoming", G_CALLBACK (on_incoming), self);
  if (!(self->video_socket = udp_socket (config->video_port, &self->video_port,
                                         &self->video_source, self, error))) {
    g_prefix_error (error, "video port %u: ", config->video_port);
    return NULL;
  }
  if (!(self->audio_socket = udp_socket (config->audio_port, &self->audio_port,
                                         &self->audio_source, self, error))) {
    g_prefix_error (error, "audio port %u: ", config->audio_port);
    return NULL;
  }
  if (!(self->control = fh_gs_control_server_new (NULL, config->control_port, error))) {
    g_prefix_error (error, "control port %u: ", config->control_port);
    return NULL;
  }
  g_socket_service_start (self->rtsp);
  return g_steal_pointer (&self);
}

guint
fh_gs_streamer_get_rtsp_port (FhGsStreamer *self)
{
  return self->rtsp_port;
}

void
fh_gs_streamer_get_ports (FhGsStreamer *self, guint *rtsp, guint *video, guint *control,
                          guint *audio)
{
  *rtsp = self->rtsp_port;
  *video = self->video_port;
  *control = fh_gs_control_server_get_port (self->control);
  *audio = self->audio_port;
}

void
fh_gs_streamer_free (FhGsStreamer *self)
{
  if (!self)
    return;
  /* Launches first: their sessions stop, the control peers are told. */
  self->config.ended = NULL;
  g_clear_pointer (&self->launches, g_hash_table_unref);
  while (self->connections)
    connection_close (self->connections->data);
  if (self->rtsp) {
    g_socket_service_stop (self->rtsp);
    g_socket_listener_close (G_SOCKET_LISTENER (self->rtsp));
    g_clear_object (&self->rtsp);
  }
  g_clear_pointer (&self->control, fh_gs_control_server_free);
  if (self->video_source)
    g_source_destroy (self->video_source);
  g_clear_pointer (&self->video_source, g_source_unref);
  if (self->audio_source)
    g_source_destroy (self->audio_source);
  g_clear_pointer (&self->audio_source, g_source_unref);
  g_clear_object (&self->video_socket);
  g_clear_object (&self->audio_socket);
  g_free (self);
}
