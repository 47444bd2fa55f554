/* The receiving end of GameStream video in the test client: packets
 * grouped by frame and FEC block (as RtpVideoQueue.c groups them), lost
 * data packets recovered with the block's parity, each frame depacketized
 * and checked to be an H.264 Annex B access unit. */
#pragma once

#include <glib.h>

typedef struct {
  guint packets;           /* received, after any deliberate drops */
  guint dropped;           /* dropped on purpose (drop_every) */
  guint frames;            /* complete, checked frames */
  guint keyframes;         /* IDR frames with SPS, PPS and an IDR slice */
  guint recovered_packets; /* data packets rebuilt from parity */
  guint lost_frames;       /* given up: more lost than the parity covers */
  guint skipped_frames;    /* complete, but after a lost keyframe: not decodable */
  guint64 bytes;           /* Annex B bytes of the complete frames */
  /* The first frame's number: Moonlight expects 1 and counts any below it
   * as lost (VideoDepacketizer.c). */
  guint32 first_frame;
} GsVideoStats;

typedef struct _GsVideoReceiver GsVideoReceiver;

/* @packet_len: packetSize + 16 as every video packet on the wire is.
 * @drop_every: drop every Nth packet before FEC (0: none). */
GsVideoReceiver *gs_video_receiver_new (gsize packet_len, guint drop_every);
void gs_video_receiver_free (GsVideoReceiver *v);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (GsVideoReceiver, gs_video_receiver_free)

/* One datagram from the video port. FALSE with @error when the stream
 * breaks the protocol (a packet that does not parse, a frame that is not
 * Annex B, a first frame that is not a keyframe). */
gboolean gs_video_receiver_push (GsVideoReceiver *v, const guint8 *packet, gsize len,
                                 GError **error);
const GsVideoStats *gs_video_receiver_stats (const GsVideoReceiver *v);
