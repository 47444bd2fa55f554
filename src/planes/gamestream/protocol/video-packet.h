/* GameStream video packets: one encoded frame split into RTP packets with
 * the NV video header, grouped into Reed–Solomon FEC blocks, the way
 * Moonlight's RtpVideoQueue.c and VideoDepacketizer.c read them; and the
 * receiving side (recovery, depacketizing) for tests and a test client.
 * Layout and sources: docs/gamestream.md, "Video packets". */
#pragma once

#include <glib.h>

/* RTP fixed header (12) plus the 4-byte extension word Moonlight expects
 * (moonlight-common-c MAX_RTP_HEADER_SIZE). */
#define FH_GS_VIDEO_RTP_SIZE 16
/* NV_VIDEO_PACKET: streamPacketIndex, frameIndex, flags, reserved,
 * multiFecFlags, multiFecBlocks, fecInfo. */
#define FH_GS_VIDEO_NV_SIZE 16
#define FH_GS_VIDEO_HEADERS_SIZE (FH_GS_VIDEO_RTP_SIZE + FH_GS_VIDEO_NV_SIZE)
/* The "short" frame header in front of the first payload byte. */
#define FH_GS_VIDEO_FRAME_HEADER_SIZE 8
/* Two bits of multiFecBlocks count blocks; ten bits of fecInfo count data
 * shards. */
#define FH_GS_VIDEO_MAX_FEC_BLOCKS 4
#define FH_GS_VIDEO_MAX_BLOCK_PACKETS 1023

/* NV video flags. */
#define FH_GS_VIDEO_FLAG_PIC_DATA 0x01
#define FH_GS_VIDEO_FLAG_EOF 0x02
#define FH_GS_VIDEO_FLAG_SOF 0x04

typedef enum {
  FH_GS_VIDEO_ERROR_INVALID,   /* configuration or frame out of range */
  FH_GS_VIDEO_ERROR_MALFORMED, /* a received packet that does not parse */
  FH_GS_VIDEO_ERROR_UNRECOVERABLE,
} FhGsVideoError;

#define FH_GS_VIDEO_ERROR (fh_gs_video_error_quark ())
GQuark fh_gs_video_error_quark (void);

/* frameType in the short frame header (Sunshine's values). */
typedef enum {
  FH_GS_VIDEO_FRAME_P = 1,
  FH_GS_VIDEO_FRAME_IDR = 2,
  FH_GS_VIDEO_FRAME_INTRA_REFRESH = 4,
  FH_GS_VIDEO_FRAME_AFTER_RFI = 5,
} FhGsVideoFrameType;

typedef struct {
  /* x-nv-video[0].packetSize from the client's ANNOUNCE: NV header plus
   * payload; every packet on the wire is packet_size + 16 bytes. */
  guint packet_size;
  guint fec_percentage;     /* 0 .. 255; 0 turns FEC off */
  guint min_parity_packets; /* x-nv-vqos[0].fec.minRequiredFecPackets */
} FhGsVideoConfig;

typedef struct {
  guint32 frame_index;   /* starts at 1, one per frame */
  guint32 rtp_timestamp; /* 90 kHz */
  FhGsVideoFrameType type;
  guint16 latency; /* host processing latency in 1/10 ms, 0 if unknown */
} FhGsVideoFrameInfo;

typedef struct _FhGsVideoPacketizer FhGsVideoPacketizer;

FhGsVideoPacketizer *fh_gs_video_packetizer_new (const FhGsVideoConfig *config, GError **error);
void fh_gs_video_packetizer_free (FhGsVideoPacketizer *packetizer);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (FhGsVideoPacketizer, fh_gs_video_packetizer_free)

/* Splits @frame into packets. They stay valid until the next call: packet
 * i is packet_len bytes at packets + i · packet_len, data and parity in
 * send order. RTP sequence numbers continue across calls. */
gboolean fh_gs_video_packetizer_packetize (FhGsVideoPacketizer *packetizer, const guint8 *frame,
                                           gsize size, const FhGsVideoFrameInfo *info,
                                           GError **error);
const guint8 *fh_gs_video_packetizer_packets (const FhGsVideoPacketizer *packetizer);
guint fh_gs_video_packetizer_n_packets (const FhGsVideoPacketizer *packetizer);
gsize fh_gs_video_packetizer_packet_len (const FhGsVideoPacketizer *packetizer);

/* What one video packet's headers say. */
typedef struct {
  guint16 sequence;
  guint32 timestamp;
  guint32 stream_packet_index; /* 24 bits */
  guint32 frame_index;
  guint8 flags;
  guint block_index; /* multiFecBlocks bits 4–5 */
  guint last_block;  /* multiFecBlocks bits 6–7 */
  guint fec_index;   /* fecInfo bits 12–21: position in the block */
  guint data_packets;  /* fecInfo bits 22–31 */
  guint fec_percentage; /* fecInfo bits 4–11 */
  guint parity_packets; /* derived as Moonlight does: ceil(data · pct / 100) */
  const guint8 *payload;
  gsize payload_len;
} FhGsVideoPacketInfo;

/* Pure; checks every size before use. */
gboolean fh_gs_video_packet_parse (const guint8 *packet, gsize len, FhGsVideoPacketInfo *info,
                                   GError **error);

/* Receiver side of one FEC block, as RtpVideoQueue.c does it: @packets
 * holds data then parity packets, each packet_len bytes, @present says
 * which arrived. Recovers the missing data packets and rewrites the header
 * fields FEC cannot carry (RTP header, sequence, frame index, block bits,
 * fecInfo) from the packets that did arrive. */
gboolean fh_gs_video_block_recover (guint8 *const *packets, const gboolean *present, guint n_packets,
                                    gsize packet_len, GError **error);

/* Appends the frame carried by @data_packets (every data packet of every
 * block, in order) to @out: payloads without the frame header, the last
 * one cut to the length the frame header gives. */
gboolean fh_gs_video_depacketize (const guint8 *const *data_packets, guint n, gsize packet_len,
                                  GByteArray *out, GError **error);
