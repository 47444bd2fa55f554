/* The GameStream media sender (see media-sender.h). Both sockets only
 * read pings; a frame is cut into packets and sent on the main thread
 * where the session hands it over. */
#include "planes/gamestream/media-sender.h"

#include <string.h>
#include <sys/socket.h>

#include "planes/gamestream/launch.h"

#define SOCKET_BUFFER (4 * 1024 * 1024)
/* Pacing: a frame's packets go out in bursts of this many, one burst a
 * millisecond, so a keyframe does not arrive as one spike that a Wi-Fi
 * link or a small receive buffer drops. */
#define PACE_BURST 32

struct _FhGsMediaSender {
  FhGsLaunches *launches;
  GSocket *video_socket, *audio_socket;
  GSource *video_source, *audio_source;
  guint video_port, audio_port;
};

/* ---- one launch's streams ---- */

static void
random_token (char out[FH_GS_PING_PAYLOAD_SIZE + 1])
{
  static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

  for (guint i = 0; i < FH_GS_PING_PAYLOAD_SIZE; i++)
    out[i] = alphabet[g_random_int_range (0, sizeof alphabet - 1)];
  out[FH_GS_PING_PAYLOAD_SIZE] = '\0';
}

static void
stop_pacing (FhGsMediaStream *stream)
{
  g_clear_handle_id (&stream->pace_source, g_source_remove);
  g_queue_clear_full (&stream->paced, (GDestroyNotify) g_bytes_unref);
}

void
fh_gs_media_stream_stop (FhGsMediaStream *stream)
{
  g_clear_object (&stream->video_to);
  g_clear_object (&stream->audio_to);
  stop_pacing (stream);
}

void
fh_gs_media_stream_reset (FhGsMediaStream *stream)
{
  g_clear_object (&stream->video_to);
  g_clear_object (&stream->audio_to);
  g_clear_pointer (&stream->video, fh_gs_video_packetizer_free);
  g_clear_pointer (&stream->audio, fh_gs_audio_packetizer_free);
  stop_pacing (stream);
  stream->frame_index = 0; /* each RTSP session counts from 1 (Sunshine too) */
  random_token (stream->video_ping);
  random_token (stream->audio_ping);
}

gboolean
fh_gs_media_stream_prepare (FhGsMediaStream *stream, FhGsMediaSender *sender,
                            const FhGsStreamSettings *st, const guint8 key[16], guint32 rikeyid,
                            GError **error)
{
  FhGsVideoConfig video = {
    .packet_size = st->packet_size,
    .fec_percentage = st->fec_repair_percent ? st->fec_repair_percent : 20,
    .min_parity_packets = st->min_fec_packets,
  };
  FhGsAudioConfig audio = {
    .encrypt = (st->encryption_enabled & FH_GS_ENC_AUDIO) != 0,
    .rikeyid = rikeyid,
    .packet_duration_ms = st->audio_packet_ms ? st->audio_packet_ms : 5,
  };

  memcpy (audio.key, key, sizeof audio.key);
  stream->sender = sender;
  g_clear_pointer (&stream->video, fh_gs_video_packetizer_free);
  g_clear_pointer (&stream->audio, fh_gs_audio_packetizer_free);
  return (stream->video = fh_gs_video_packetizer_new (&video, error)) &&
         (stream->audio = fh_gs_audio_packetizer_new (&audio, error));
}

static void
send_packet (FhGsMediaStream *stream, const guint8 *data, gsize len)
{
  g_autoptr (GError) error = NULL;

  if (g_socket_send_to (stream->sender->video_socket, stream->video_to, (const char *) data, len,
                        NULL, &error) < 0)
    stream->video_dropped++;
  else
    stream->video_packets++;
}

static void
flush_paced (FhGsMediaStream *stream)
{
  GBytes *bytes;

  while ((bytes = g_queue_pop_head (&stream->paced))) {
    send_packet (stream, g_bytes_get_data (bytes, NULL), g_bytes_get_size (bytes));
    g_bytes_unref (bytes);
  }
  g_clear_handle_id (&stream->pace_source, g_source_remove);
}

static gboolean
send_paced (gpointer data)
{
  FhGsMediaStream *stream = data;
  GBytes *bytes;

  for (guint i = 0; i < PACE_BURST && (bytes = g_queue_pop_head (&stream->paced)); i++) {
    send_packet (stream, g_bytes_get_data (bytes, NULL), g_bytes_get_size (bytes));
    g_bytes_unref (bytes);
  }
  if (g_queue_is_empty (&stream->paced)) {
    stream->pace_source = 0;
    return G_SOURCE_REMOVE;
  }
  return G_SOURCE_CONTINUE;
}

gboolean
fh_gs_media_stream_send_video (FhGsMediaStream *stream, const FhVideoPacket *packet,
                               GError **error)
{
  gint64 now = g_get_monotonic_time ();
  FhGsVideoFrameInfo info = {
    .frame_index = stream->frame_index + 1,
    .rtp_timestamp = (guint32) (packet->capture_us * 9 / 100),
    .type = packet->keyframe ? FH_GS_VIDEO_FRAME_IDR : FH_GS_VIDEO_FRAME_P,
    .latency = (guint16) MIN ((now - packet->capture_us) / 100, G_MAXUINT16),
  };
  const guint8 *packets;
  gsize len;
  guint n;

  /* Frame numbers count what the client is sent: a gap is a loss to it. */
  if (!stream->video || !stream->video_to || packet->size == 0)
    return TRUE;
  stream->frame_index++;
  if (!fh_gs_video_packetizer_packetize (stream->video, packet->data, packet->size, &info, error))
    return FALSE;
  /* What is left of the last frame goes first, at once. */
  flush_paced (stream);
  packets = fh_gs_video_packetizer_packets (stream->video);
  n = fh_gs_video_packetizer_n_packets (stream->video);
  len = fh_gs_video_packetizer_packet_len (stream->video);
  for (guint i = 0; i < n; i++) {
    if (i < PACE_BURST)
      send_packet (stream, packets + i * len, len);
    else /* the packetizer reuses its buffer: the rest is copied once */
      g_queue_push_tail (&stream->paced, g_bytes_new (packets + i * len, len));
  }
  if (!g_queue_is_empty (&stream->paced))
    stream->pace_source = g_timeout_add_full (G_PRIORITY_HIGH, 1, send_paced, stream, NULL);
  return TRUE;
}

gboolean
fh_gs_media_stream_send_audio (FhGsMediaStream *stream, const FhAudioPacket *packet,
                               GError **error)
{
  const FhGsAudioPacket *packets;
  guint n = 0;

  if (!stream->audio || !stream->audio_to)
    return TRUE;
  if (!fh_gs_audio_packetizer_push (stream->audio, packet->data, packet->size, error))
    return FALSE;
  packets = fh_gs_audio_packetizer_packets (stream->audio, &n);
  for (guint i = 0; i < n; i++)
    g_socket_send_to (stream->sender->audio_socket, stream->audio_to,
                      (const char *) packets[i].data, packets[i].len, NULL, NULL);
  return TRUE;
}

/* ---- the sockets: pings tell where each launch's video and audio go ---- */

static void
on_ping (FhGsMediaSender *self, gboolean video, const guint8 *data, gsize len,
         GSocketAddress *from)
{
  FhGsLaunch *l;
  GHashTableIter iter;

  if (len < FH_GS_PING_PAYLOAD_SIZE)
    return;
  fh_gs_launches_iter_init (self->launches, &iter);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &l)) {
    const char *payload = video ? l->media.video_ping : l->media.audio_ping;
    GSocketAddress **to = video ? &l->media.video_to : &l->media.audio_to;

    if (memcmp (payload, data, FH_GS_PING_PAYLOAD_SIZE) != 0)
      continue;
    if (!*to) {
      g_autofree char *where = g_socket_connectable_to_string (G_SOCKET_CONNECTABLE (from));
      FhSession *session = video ? fh_gs_launch_get_session (l) : NULL;

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
  FhGsMediaSender *self = data;
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
udp_socket (guint port, guint *bound, GSource **source, FhGsMediaSender *self, GError **error)
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

FhGsMediaSender *
fh_gs_media_sender_new (FhGsLaunches *launches, guint video_port, guint audio_port,
                        GError **error)
{
  g_autoptr (FhGsMediaSender) self = g_new0 (FhGsMediaSender, 1);

  self->launches = launches;
  if (!(self->video_socket = udp_socket (video_port, &self->video_port, &self->video_source, self,
                                         error))) {
    g_prefix_error (error, "video port %u: ", video_port);
    return NULL;
  }
  if (!(self->audio_socket = udp_socket (audio_port, &self->audio_port, &self->audio_source, self,
                                         error))) {
    g_prefix_error (error, "audio port %u: ", audio_port);
    return NULL;
  }
  return g_steal_pointer (&self);
}

guint
fh_gs_media_sender_get_video_port (FhGsMediaSender *self)
{
  return self->video_port;
}

guint
fh_gs_media_sender_get_audio_port (FhGsMediaSender *self)
{
  return self->audio_port;
}

void
fh_gs_media_sender_free (FhGsMediaSender *self)
{
  if (!self)
    return;
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
