/* GameStream video packetizer and its receiving side (see video-packet.h). */
#include "planes/gamestream/protocol/video-packet.h"

#include <string.h>

#include "planes/gamestream/protocol/fec.h"
#include "planes/gamestream/protocol/wire.h"

G_DEFINE_QUARK (fh-gs-video-error-quark, fh_gs_video_error)

/* Offsets inside one packet (docs/gamestream.md, "Video packets"). RTP
 * fields are big-endian, NV fields little-endian. */
enum {
  OFF_RTP_FLAGS = 0,   /* 0x90: version 2, extension bit (FLAG_EXTENSION) */
  OFF_RTP_TYPE = 1,    /* 0 for video */
  OFF_RTP_SEQ = 2,     /* BE16 */
  OFF_RTP_TS = 4,      /* BE32, 90 kHz */
  OFF_RTP_SSRC = 8,    /* BE32, 0 */
  OFF_STREAM_INDEX = 16, /* LE32: 24-bit packet counter << 8 */
  OFF_FRAME_INDEX = 20,  /* LE32 */
  OFF_FLAGS = 24,
  OFF_RESERVED = 25,
  OFF_MULTI_FEC_FLAGS = 26, /* 0x10 */
  OFF_MULTI_FEC_BLOCKS = 27, /* block << 4 | last block << 6 */
  OFF_FEC_INFO = 28,  /* LE32: index << 12 | data packets << 22 | pct << 4 */
};

#define RTP_FLAGS 0x90
#define MULTI_FEC_FLAGS 0x10

struct _FhGsVideoPacketizer {
  FhGsVideoConfig config;
  guint32 next_sequence; /* RTP sequence is its low 16 bits */
  guint8 *packets;
  gsize capacity;
  guint n_packets;
  /* The code of the last block shape, reused while frames keep it. */
  FhGsFec *fec;
};

static guint
div_up (guint a, guint b)
{
  return (a + b - 1) / b;
}

/* How Moonlight derives a block's parity count from fecInfo. */
static guint
parity_for (guint data, guint pct)
{
  return div_up (data * pct, 100);
}

/* The parity count and the percentage that tells the client about it, for
 * a block of @data packets: at least the client's minimum, never past
 * nanors' 255 shards, and always one the client derives the same way. */
static void
choose_parity (guint data, guint pct, guint min_parity, guint *parity, guint *pct_out)
{
  if (pct > 0 && parity_for (data, pct) < min_parity)
    pct = MIN (div_up (100 * min_parity, data), 255u);
  while (pct > 0 && data + parity_for (data, pct) > FH_GS_FEC_MAX_SHARDS)
    pct--;
  *parity = parity_for (data, pct);
  *pct_out = pct;
}

FhGsVideoPacketizer *
fh_gs_video_packetizer_new (const FhGsVideoConfig *config, GError **error)
{
  FhGsVideoPacketizer *p;

  /* Below 16 + 8 bytes the frame header would not fit one packet; above
   * 64 KiB lastPayloadLen (16 bits) could not describe a packet. */
  if (config->packet_size < FH_GS_VIDEO_NV_SIZE + FH_GS_VIDEO_FRAME_HEADER_SIZE ||
      config->packet_size > 65535 || config->fec_percentage > 255) {
    g_set_error (error, FH_GS_VIDEO_ERROR, FH_GS_VIDEO_ERROR_INVALID,
                 "video packet size %u or FEC percentage %u out of range (packet size 24 to 65535, "
                 "FEC 0 to 255)",
                 config->packet_size, config->fec_percentage);
    return NULL;
  }
  p = g_new0 (FhGsVideoPacketizer, 1);
  p->config = *config;
  return p;
}

void
fh_gs_video_packetizer_free (FhGsVideoPacketizer *p)
{
  if (!p)
    return;
  g_clear_pointer (&p->fec, fh_gs_fec_free);
  g_free (p->packets);
  g_free (p);
}

const guint8 *
fh_gs_video_packetizer_packets (const FhGsVideoPacketizer *p)
{
  return p->packets;
}

guint
fh_gs_video_packetizer_n_packets (const FhGsVideoPacketizer *p)
{
  return p->n_packets;
}

gsize
fh_gs_video_packetizer_packet_len (const FhGsVideoPacketizer *p)
{
  return (gsize) p->config.packet_size + FH_GS_VIDEO_RTP_SIZE;
}

static const FhGsFec *
fec_for (FhGsVideoPacketizer *p, guint data, guint parity)
{
  if (!p->fec || fh_gs_fec_data_shards (p->fec) != data || fh_gs_fec_parity_shards (p->fec) != parity) {
    g_clear_pointer (&p->fec, fh_gs_fec_free);
    p->fec = fh_gs_fec_new (data, parity, NULL); /* choose_parity keeps it in range */
  }
  return p->fec;
}

/* The fields a parity packet must carry for the client to place it, and
 * that a recovered data packet gets back from its block (RTP header, frame
 * index, block bits, fecInfo). Everything else in a parity packet is
 * parity, so flags and streamPacketIndex of a lost packet come back too. */
static void
write_block_fields (guint8 *pkt, guint16 sequence, guint32 timestamp, guint32 frame_index,
                    guint8 fec_blocks, guint fec_index, guint data, guint pct)
{
  pkt[OFF_RTP_FLAGS] = RTP_FLAGS;
  pkt[OFF_RTP_TYPE] = 0;
  fh_gs_put_be16 (&pkt[OFF_RTP_SEQ], sequence);
  fh_gs_put_be32 (&pkt[OFF_RTP_TS], timestamp);
  memset (&pkt[OFF_RTP_SSRC], 0, FH_GS_VIDEO_RTP_SIZE - OFF_RTP_SSRC);
  fh_gs_put_le32 (&pkt[OFF_FRAME_INDEX], frame_index);
  pkt[OFF_MULTI_FEC_FLAGS] = MULTI_FEC_FLAGS;
  pkt[OFF_MULTI_FEC_BLOCKS] = fec_blocks;
  fh_gs_put_le32 (&pkt[OFF_FEC_INFO], (guint32) fec_index << 12 | (guint32) data << 22 | (guint32) pct << 4);
}

gboolean
fh_gs_video_packetizer_packetize (FhGsVideoPacketizer *p, const guint8 *frame, gsize size,
                                  const FhGsVideoFrameInfo *info, GError **error)
{
  const gsize len = fh_gs_video_packetizer_packet_len (p);
  const gsize chunk = p->config.packet_size - FH_GS_VIDEO_NV_SIZE;
  guint8 frame_header[FH_GS_VIDEO_FRAME_HEADER_SIZE] = { 0 };
  guint pct = p->config.fec_percentage;
  guint total, blocks, per_block, n_packets = 0;
  guint block_data[FH_GS_VIDEO_MAX_FEC_BLOCKS], block_parity[FH_GS_VIDEO_MAX_FEC_BLOCKS];
  guint block_pct[FH_GS_VIDEO_MAX_FEC_BLOCKS];
  gsize stream_len, consumed = 0, last_len;
  guint8 *pkt;

  /* Bound the size before any arithmetic on it: 4 blocks of 1023 packets. */
  if (size > (gsize) FH_GS_VIDEO_MAX_FEC_BLOCKS * FH_GS_VIDEO_MAX_BLOCK_PACKETS * chunk) {
    g_set_error (error, FH_GS_VIDEO_ERROR, FH_GS_VIDEO_ERROR_INVALID,
                 "video frame of %" G_GSIZE_FORMAT " bytes is too large for GameStream packets: "
                 "lower the bitrate or raise the packet size",
                 size);
    return FALSE;
  }
  stream_len = size + FH_GS_VIDEO_FRAME_HEADER_SIZE;
  total = (guint) ((stream_len + chunk - 1) / chunk);

  /* Blocks of at most D data packets with D + D·pct/100 ≤ 255 (nanors'
   * limit), at most four of them; past that the frame goes without FEC,
   * as Sunshine does. */
  blocks = div_up (total, (FH_GS_FEC_MAX_SHARDS * 100) / (100 + pct));
  if (blocks > FH_GS_VIDEO_MAX_FEC_BLOCKS) {
    pct = 0;
    blocks = FH_GS_VIDEO_MAX_FEC_BLOCKS;
  }
  per_block = div_up (total, blocks);
  blocks = div_up (total, per_block);
  if (per_block > FH_GS_VIDEO_MAX_BLOCK_PACKETS) {
    g_set_error (error, FH_GS_VIDEO_ERROR, FH_GS_VIDEO_ERROR_INVALID,
                 "video frame of %" G_GSIZE_FORMAT " bytes needs %u packets, more than GameStream "
                 "can number: lower the bitrate or raise the packet size",
                 size, total);
    return FALSE;
  }
  for (guint b = 0; b < blocks; b++) {
    block_data[b] = MIN (per_block, total - b * per_block);
    choose_parity (block_data[b], pct, p->config.min_parity_packets, &block_parity[b], &block_pct[b]);
    n_packets += block_data[b] + block_parity[b];
  }
  if ((gsize) n_packets * len > p->capacity) {
    p->capacity = (gsize) n_packets * len;
    p->packets = g_realloc (p->packets, p->capacity);
  }
  p->n_packets = n_packets;

  /* Short frame header: type 0x01, latency, frame type, and the length of
   * the last packet's payload (codecs other than H.264/HEVC need it). */
  last_len = stream_len % chunk;
  frame_header[0] = 0x01;
  frame_header[1] = (guint8) info->latency;
  frame_header[2] = (guint8) (info->latency >> 8);
  frame_header[3] = (guint8) info->type;
  frame_header[4] = (guint8) (last_len ? last_len : chunk);
  frame_header[5] = (guint8) ((last_len ? last_len : chunk) >> 8);

  pkt = p->packets;
  for (guint b = 0; b < blocks; b++) {
    const guint k = block_data[b], m = block_parity[b];
    const guint8 fec_blocks = (guint8) (b << 4 | (blocks - 1) << 6);
    const guint32 low = p->next_sequence;
    const guint8 *data[FH_GS_FEC_MAX_SHARDS];
    guint8 *parity[FH_GS_FEC_MAX_SHARDS];

    for (guint x = 0; x < k; x++, pkt += len) {
      guint8 *payload = pkt + FH_GS_VIDEO_HEADERS_SIZE;
      gsize n = 0;

      /* The payload stream is the frame header followed by the frame. */
      if (consumed < FH_GS_VIDEO_FRAME_HEADER_SIZE) {
        n = FH_GS_VIDEO_FRAME_HEADER_SIZE - consumed;
        memcpy (payload, frame_header + consumed, n);
        consumed += n;
      }
      if (n < chunk && consumed < stream_len) {
        gsize take = MIN (chunk - n, stream_len - consumed);

        memcpy (payload + n, frame + (consumed - FH_GS_VIDEO_FRAME_HEADER_SIZE), take);
        consumed += take;
        n += take;
      }
      memset (payload + n, 0, chunk - n);

      write_block_fields (pkt, (guint16) (low + x), info->rtp_timestamp, info->frame_index, fec_blocks,
                          x, k, block_pct[b]);
      fh_gs_put_le32 (&pkt[OFF_STREAM_INDEX], (low + x) << 8);
      pkt[OFF_FLAGS] = FH_GS_VIDEO_FLAG_PIC_DATA | (x == 0 ? FH_GS_VIDEO_FLAG_SOF : 0) |
                       (x == k - 1 ? FH_GS_VIDEO_FLAG_EOF : 0);
      pkt[OFF_RESERVED] = 0;
      data[x] = pkt;
    }
    if (m > 0) {
      for (guint j = 0; j < m; j++)
        parity[j] = pkt + (gsize) j * len;
      fh_gs_fec_encode (fec_for (p, k, m), data, parity, len);
      for (guint j = 0; j < m; j++, pkt += len)
        write_block_fields (pkt, (guint16) (low + k + j), info->rtp_timestamp, info->frame_index,
                            fec_blocks, k + j, k, block_pct[b]);
    }
    p->next_sequence += k + m;
  }
  return TRUE;
}

gboolean
fh_gs_video_packet_parse (const guint8 *packet, gsize len, FhGsVideoPacketInfo *info, GError **error)
{
  guint32 fec_info;

  if (len < FH_GS_VIDEO_HEADERS_SIZE) {
    g_set_error (error, FH_GS_VIDEO_ERROR, FH_GS_VIDEO_ERROR_MALFORMED,
                 "video packet of %" G_GSIZE_FORMAT " bytes is shorter than its %d bytes of headers",
                 len, FH_GS_VIDEO_HEADERS_SIZE);
    return FALSE;
  }
  if (packet[OFF_RTP_FLAGS] != RTP_FLAGS) {
    g_set_error (error, FH_GS_VIDEO_ERROR, FH_GS_VIDEO_ERROR_MALFORMED,
                 "video packet RTP flags are 0x%02x, expected 0x%02x (RTP v2 with extension)",
                 packet[OFF_RTP_FLAGS], RTP_FLAGS);
    return FALSE;
  }
  fec_info = fh_gs_get_le32 (&packet[OFF_FEC_INFO]);
  info->sequence = (guint16) (packet[OFF_RTP_SEQ] << 8 | packet[OFF_RTP_SEQ + 1]);
  info->timestamp = (guint32) packet[OFF_RTP_TS] << 24 | (guint32) packet[OFF_RTP_TS + 1] << 16 |
                    (guint32) packet[OFF_RTP_TS + 2] << 8 | packet[OFF_RTP_TS + 3];
  info->stream_packet_index = (fh_gs_get_le32 (&packet[OFF_STREAM_INDEX]) >> 8) & 0xffffff;
  info->frame_index = fh_gs_get_le32 (&packet[OFF_FRAME_INDEX]);
  info->flags = packet[OFF_FLAGS];
  info->block_index = (packet[OFF_MULTI_FEC_BLOCKS] >> 4) & 0x3;
  info->last_block = (packet[OFF_MULTI_FEC_BLOCKS] >> 6) & 0x3;
  info->fec_index = (fec_info >> 12) & 0x3ff;
  info->data_packets = (fec_info >> 22) & 0x3ff;
  info->fec_percentage = (fec_info >> 4) & 0xff;
  info->parity_packets = parity_for (info->data_packets, info->fec_percentage);
  info->payload = packet + FH_GS_VIDEO_HEADERS_SIZE;
  info->payload_len = len - FH_GS_VIDEO_HEADERS_SIZE;
  if (info->data_packets == 0 || info->fec_index >= info->data_packets + info->parity_packets ||
      info->block_index > info->last_block) {
    g_set_error (error, FH_GS_VIDEO_ERROR, FH_GS_VIDEO_ERROR_MALFORMED,
                 "video packet FEC fields are inconsistent: index %u of %u data + %u parity, block "
                 "%u of %u",
                 info->fec_index, info->data_packets, info->parity_packets, info->block_index,
                 info->last_block + 1);
    return FALSE;
  }
  return TRUE;
}

gboolean
fh_gs_video_block_recover (guint8 *const *packets, const gboolean *present, guint n_packets,
                           gsize packet_len, GError **error)
{
  FhGsVideoPacketInfo ref;
  const guint8 *first = NULL;
  g_autoptr (FhGsFec) fec = NULL;
  guint16 low;
  gboolean all_data = TRUE;

  for (guint i = 0; i < n_packets && !first; i++)
    if (present[i])
      first = packets[i];
  if (!first) {
    g_set_error (error, FH_GS_VIDEO_ERROR, FH_GS_VIDEO_ERROR_UNRECOVERABLE,
                 "no packet of the FEC block arrived");
    return FALSE;
  }
  if (!fh_gs_video_packet_parse (first, packet_len, &ref, error))
    return FALSE;
  if (ref.data_packets + ref.parity_packets != n_packets) {
    g_set_error (error, FH_GS_VIDEO_ERROR, FH_GS_VIDEO_ERROR_MALFORMED,
                 "FEC block has %u packets, its headers say %u data + %u parity", n_packets,
                 ref.data_packets, ref.parity_packets);
    return FALSE;
  }
  for (guint i = 0; i < ref.data_packets; i++)
    all_data = all_data && present[i];
  if (all_data)
    return TRUE;
  if (ref.parity_packets == 0) {
    g_set_error (error, FH_GS_VIDEO_ERROR, FH_GS_VIDEO_ERROR_UNRECOVERABLE,
                 "video packets lost from a block without FEC");
    return FALSE;
  }
  fec = fh_gs_fec_new (ref.data_packets, ref.parity_packets, error);
  if (!fec || !fh_gs_fec_reconstruct (fec, packets, present, packet_len, error))
    return FALSE;

  low = (guint16) (ref.sequence - ref.fec_index);
  for (guint i = 0; i < n_packets; i++)
    if (!present[i])
      write_block_fields (packets[i], (guint16) (low + i), ref.timestamp, ref.frame_index,
                          first[OFF_MULTI_FEC_BLOCKS], i, ref.data_packets, ref.fec_percentage);
  return TRUE;
}

gboolean
fh_gs_video_depacketize (const guint8 *const *data_packets, guint n, gsize packet_len,
                         GByteArray *out, GError **error)
{
  gsize chunk, last_len, total;
  const guint8 *header;

  if (n == 0 || packet_len < FH_GS_VIDEO_HEADERS_SIZE + FH_GS_VIDEO_FRAME_HEADER_SIZE) {
    g_set_error (error, FH_GS_VIDEO_ERROR, FH_GS_VIDEO_ERROR_MALFORMED,
                 "no video packets, or packets too short for the frame header");
    return FALSE;
  }
  chunk = packet_len - FH_GS_VIDEO_HEADERS_SIZE;
  header = data_packets[0] + FH_GS_VIDEO_HEADERS_SIZE;
  if (header[0] != 0x01) {
    g_set_error (error, FH_GS_VIDEO_ERROR, FH_GS_VIDEO_ERROR_MALFORMED,
                 "video frame header type 0x%02x, expected 0x01", header[0]);
    return FALSE;
  }
  last_len = (gsize) header[4] | (gsize) header[5] << 8;
  total = (gsize) (n - 1) * chunk + last_len;
  if (last_len == 0 || last_len > chunk || total < FH_GS_VIDEO_FRAME_HEADER_SIZE) {
    g_set_error (error, FH_GS_VIDEO_ERROR, FH_GS_VIDEO_ERROR_MALFORMED,
                 "video frame header gives a last payload of %" G_GSIZE_FORMAT " bytes, packets hold "
                 "%" G_GSIZE_FORMAT,
                 last_len, chunk);
    return FALSE;
  }
  for (guint i = 0; i < n; i++) {
    gsize from = i == 0 ? FH_GS_VIDEO_FRAME_HEADER_SIZE : 0;
    gsize to = i == n - 1 ? last_len : chunk;

    if (to > from)
      g_byte_array_append (out, data_packets[i] + FH_GS_VIDEO_HEADERS_SIZE + from, (guint) (to - from));
  }
  return TRUE;
}
