/* The GameStream media sender: the video (UDP 47998) and audio (UDP 48000)
 * sockets, the pings that tell where each launch's streams go, and each
 * launch's video and audio RTP with the video's pacing. */
#pragma once

#include <gio/gio.h>

#include "media/speaker.h"
#include "media/video-stream.h"
#include "planes/gamestream/protocol/audio-packet.h"
#include "planes/gamestream/protocol/sdp.h"
#include "planes/gamestream/protocol/video-packet.h"

#define FH_GS_DEFAULT_VIDEO_PORT 47998
#define FH_GS_DEFAULT_AUDIO_PORT 48000
/* The ping payload SETUP hands out per stream (X-SS-Ping-Payload). */
#define FH_GS_PING_PAYLOAD_SIZE 16

typedef struct _FhGsLaunches FhGsLaunches;
typedef struct _FhGsMediaSender FhGsMediaSender;

/* One launch's video and audio: the ping payloads SETUP handed out (the
 * client's pings name its launch by them, never by address), where those
 * pings came from, the packetizers PLAY made, and what is left of the
 * current frame. */
typedef struct {
  char video_ping[FH_GS_PING_PAYLOAD_SIZE + 1], audio_ping[FH_GS_PING_PAYLOAD_SIZE + 1];
  GSocketAddress *video_to, *audio_to;
  FhGsMediaSender *sender; /* from PLAY on */
  FhGsVideoPacketizer *video;
  guint32 frame_index;
  FhGsAudioPacketizer *audio;
  GQueue paced; /* GBytes of the current frame not sent yet */
  guint pace_source;
  guint64 video_packets, video_dropped;
} FhGsMediaStream;

/* Binds both ports (0 = any free one); a ping is matched against the
 * streams of @launches, which must outlive the sender. */
FhGsMediaSender *fh_gs_media_sender_new (FhGsLaunches *launches, guint video_port,
                                         guint audio_port, GError **error);
void fh_gs_media_sender_free (FhGsMediaSender *sender);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (FhGsMediaSender, fh_gs_media_sender_free)

guint fh_gs_media_sender_get_video_port (FhGsMediaSender *sender);
guint fh_gs_media_sender_get_audio_port (FhGsMediaSender *sender);

/* Everything from the start (a launch, a resume): new ping payloads, no
 * address, no packetizers, nothing paced. Also what frees the stream's
 * parts. */
void fh_gs_media_stream_reset (FhGsMediaStream *stream);
/* PLAY: packetizers for what the ANNOUNCE asked (@key and @rikeyid
 * encrypt the audio), sent from @sender's sockets. */
gboolean fh_gs_media_stream_prepare (FhGsMediaStream *stream, FhGsMediaSender *sender,
                                     const FhGsStreamSettings *settings, const guint8 key[16],
                                     guint32 rikeyid, GError **error);
/* The client stopped streaming: nothing is sent until it pings again. */
void fh_gs_media_stream_stop (FhGsMediaStream *stream);
/* One access unit or Opus packet of the session, to where the pings came
 * from; nothing before PLAY and the first ping. FALSE with @error when it
 * could not be packetized. */
gboolean fh_gs_media_stream_send_video (FhGsMediaStream *stream, const FhVideoPacket *packet,
                                        GError **error);
gboolean fh_gs_media_stream_send_audio (FhGsMediaStream *stream, const FhAudioPacket *packet,
                                        GError **error);
