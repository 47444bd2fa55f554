/* Unit tests of the GameStream video packetizer (src/planes/gamestream/protocol/video-packet.c):
 * header layout, FEC blocks, and recovery from every loss pattern. */
#include <string.h>

#include "planes/gamestream/protocol/video-packet.h"

static guint8 *
make_frame (gsize size, guint seed)
{
  g_autoptr (GRand) rand = g_rand_new_with_seed (seed);
  guint8 *frame = g_malloc (size + 1);

  for (gsize i = 0; i < size; i++)
    frame[i] = (guint8) g_rand_int (rand);
  return frame;
}

/* The first packet of a small frame, byte by byte, against the layout of
 * moonlight-common-c's Video.h (RTP_PACKET + 4 bytes, NV_VIDEO_PACKET) and
 * Sunshine's short frame header. Written out by hand from those structs. */
static void
test_header_layout (void)
{
  FhGsVideoConfig config = { .packet_size = 64, .fec_percentage = 50 };
  FhGsVideoFrameInfo info = { .frame_index = 7, .rtp_timestamp = 0x01020304,
                              .type = FH_GS_VIDEO_FRAME_IDR, .latency = 0x0155 };
  g_autoptr (FhGsVideoPacketizer) p = fh_gs_video_packetizer_new (&config, NULL);
  g_autofree guint8 *frame = make_frame (100, 1);
  const guint8 *pkt;
  /* 100 + 8 bytes in 48-byte payloads: 3 data packets, the last holding
   * 12; 50 % of 3 is 2 parity packets. */
  static const guint8 first[] = {
    0x90, 0x00, 0x00, 0x00,             /* RTP v2 + X, type 0, seq 0 (BE) */
    0x01, 0x02, 0x03, 0x04,             /* timestamp (BE) */
    0x00, 0x00, 0x00, 0x00,             /* SSRC */
    0x00, 0x00, 0x00, 0x00,             /* extension word */
    0x00, 0x00, 0x00, 0x00,             /* streamPacketIndex 0 << 8 (LE) */
    0x07, 0x00, 0x00, 0x00,             /* frameIndex (LE) */
    0x05, 0x00, 0x10, 0x00,             /* flags SOF|PIC, reserved, multiFecFlags, blocks */
    0x20, 0x03, 0xc0, 0x00,             /* fecInfo 0 << 12 | 3 << 22 | 50 << 4 (LE) */
    0x01, 0x55, 0x01, 0x02, 0x0c, 0x00, 0x00, 0x00, /* frame header: lastPayloadLen 12 */
  };

  g_assert_nonnull (p);
  g_assert_true (fh_gs_video_packetizer_packetize (p, frame, 100, &info, NULL));
  g_assert_cmpuint (fh_gs_video_packetizer_n_packets (p), ==, 5);
  g_assert_cmpuint (fh_gs_video_packetizer_packet_len (p), ==, 80);
  pkt = fh_gs_video_packetizer_packets (p);
  g_assert_cmpmem (pkt, sizeof first, first, sizeof first);
  g_assert_cmpmem (pkt + 40, 40, frame, 40);
  /* The third (last data) packet: EOF, index 2, 4 frame bytes then zeros. */
  pkt += 2 * 80;
  g_assert_cmpuint (pkt[3], ==, 2);
  g_assert_cmpuint (pkt[17], ==, 2); /* streamPacketIndex 2 << 8 */
  g_assert_cmpuint (pkt[24], ==, 0x03);
  g_assert_cmpuint (pkt[29], ==, 0x23); /* fec index 2 << 12 */
  g_assert_cmpmem (pkt + 32, 12, frame + 88, 12);
  for (guint i = 44; i < 80; i++)
    g_assert_cmpuint (pkt[i], ==, 0);
  /* Parity packets: sequence 3 and 4, fec index 3 and 4, same frame. */
  pkt += 80;
  g_assert_cmpuint (pkt[0], ==, 0x90);
  g_assert_cmpuint (pkt[3], ==, 3);
  g_assert_cmpuint (pkt[20], ==, 7);
  g_assert_cmpuint (pkt[29], ==, 0x33);

  /* The next frame continues the sequence. */
  info.frame_index = 8;
  g_assert_true (fh_gs_video_packetizer_packetize (p, frame, 10, &info, NULL));
  pkt = fh_gs_video_packetizer_packets (p);
  g_assert_cmpuint (pkt[3], ==, 5);
  g_assert_cmpuint (pkt[17], ==, 5);
}

typedef struct {
  guint first; /* index of the block's first packet */
  guint data, parity;
} Block;

static guint
find_blocks (const guint8 *packets, guint n, gsize len, Block *blocks)
{
  guint n_blocks = 0;

  for (guint i = 0; i < n;) {
    FhGsVideoPacketInfo info;
    g_autoptr (GError) error = NULL;

    g_assert_true (fh_gs_video_packet_parse (packets + i * len, len, &info, &error));
    g_assert_no_error (error);
    g_assert_cmpuint (info.fec_index, ==, 0);
    g_assert_cmpuint (info.block_index, ==, n_blocks);
    blocks[n_blocks] = (Block) { i, info.data_packets, info.parity_packets };
    i += info.data_packets + info.parity_packets;
    n_blocks++;
    g_assert_cmpuint (i, <=, n);
  }
  return n_blocks;
}

/* Loses the packets of @mask (bit i: packet i of the block) or of @lost,
 * recovers, and checks that every data packet is byte for byte what was
 * sent, headers included. */
static void
lose_and_recover (const guint8 *orig, const Block *b, gsize len, guint64 mask, const guint *lost,
                  guint n_lost)
{
  guint n = b->data + b->parity;
  g_autofree guint8 *work = g_memdup2 (orig + b->first * len, n * len);
  g_autofree guint8 **pkts = g_new (guint8 *, n);
  g_autofree gboolean *present = g_new (gboolean, n);
  g_autoptr (GError) error = NULL;

  for (guint i = 0; i < n; i++) {
    pkts[i] = work + i * len;
    present[i] = lost || i >= 64 ? TRUE : !(mask & (G_GUINT64_CONSTANT (1) << i));
  }
  for (guint l = 0; lost && l < n_lost; l++)
    present[lost[l]] = FALSE;
  for (guint i = 0; i < n; i++)
    if (!present[i])
      memset (pkts[i], 0xee, len);
  if (!fh_gs_video_block_recover (pkts, present, n, len, &error))
    g_error ("block at %u (%u+%u): recovery failed: %s", b->first, b->data, b->parity, error->message);
  /* Data packets matter; parity is rebuilt only when data was lost. */
  if (memcmp (work, orig + b->first * len, b->data * len) != 0)
    g_error ("block at %u (%u+%u): recovered packets differ from those sent", b->first, b->data,
             b->parity);
}

static void
check_frame (const FhGsVideoConfig *config, gsize size, guint expect_blocks)
{
  FhGsVideoFrameInfo info = { .frame_index = 1, .rtp_timestamp = 1500, .type = FH_GS_VIDEO_FRAME_P };
  g_autoptr (FhGsVideoPacketizer) p = fh_gs_video_packetizer_new (config, NULL);
  g_autofree guint8 *frame = make_frame (size, (guint) size);
  g_autoptr (GRand) rand = g_rand_new_with_seed ((guint32) size);
  g_autoptr (GByteArray) out = g_byte_array_new ();
  g_autoptr (GError) error = NULL;
  g_autofree const guint8 **data = NULL;
  Block blocks[FH_GS_VIDEO_MAX_FEC_BLOCKS + 1];
  const guint8 *packets;
  guint n, n_blocks, n_data = 0, patterns = 0;
  gsize len;

  g_assert_true (fh_gs_video_packetizer_packetize (p, frame, size, &info, &error));
  g_assert_no_error (error);
  packets = fh_gs_video_packetizer_packets (p);
  n = fh_gs_video_packetizer_n_packets (p);
  len = fh_gs_video_packetizer_packet_len (p);
  n_blocks = find_blocks (packets, n, len, blocks);
  g_assert_cmpuint (n_blocks, ==, expect_blocks);

  for (guint bi = 0; bi < n_blocks; bi++) {
    const Block *b = &blocks[bi];
    guint total = b->data + b->parity;

    if (b->parity == 0) {
      lose_and_recover (packets, b, len, 0, NULL, 0);
      patterns++;
    } else if (total <= 16) {
      /* Every loss pattern of up to parity_packets packets. */
      for (guint64 mask = 0; mask < (G_GUINT64_CONSTANT (1) << total); mask++) {
        if ((guint) __builtin_popcountll (mask) > b->parity)
          continue;
        lose_and_recover (packets, b, len, mask, NULL, 0);
        patterns++;
      }
    } else {
      /* Too many subsets: every single loss, the first `parity` data
       * packets, the last `parity` packets, and random full-parity losses. */
      guint lost[255];

      for (guint i = 0; i < total; i++, patterns++)
        lose_and_recover (packets, b, len, 0, &i, 1);
      for (guint i = 0; i < b->parity; i++)
        lost[i] = i;
      lose_and_recover (packets, b, len, 0, lost, b->parity);
      for (guint i = 0; i < b->parity; i++)
        lost[i] = total - 1 - i;
      lose_and_recover (packets, b, len, 0, lost, b->parity);
      patterns += 2;
      for (guint round = 0; round < 30; round++, patterns++) {
        guint n_lost = 0;
        gboolean *taken = g_new0 (gboolean, total);

        while (n_lost < b->parity) {
          guint i = (guint) g_rand_int_range (rand, 0, (gint32) total);

          if (!taken[i]) {
            taken[i] = TRUE;
            lost[n_lost++] = i;
          }
        }
        g_free (taken);
        lose_and_recover (packets, b, len, 0, lost, n_lost);
      }
    }
  }
  g_test_message ("%" G_GSIZE_FORMAT " bytes: %u packets in %u blocks, %u loss patterns recovered",
                  size, n, n_blocks, patterns);

  data = g_new (const guint8 *, n);
  for (guint bi = 0; bi < n_blocks; bi++)
    for (guint i = 0; i < blocks[bi].data; i++)
      data[n_data++] = packets + (blocks[bi].first + i) * len;
  g_assert_true (fh_gs_video_depacketize (data, n_data, len, out, &error));
  g_assert_no_error (error);
  g_assert_cmpmem (out->data, out->len, frame, size);
}

static void
test_every_loss_pattern (void)
{
  FhGsVideoConfig small = { .packet_size = 16 + 48, .fec_percentage = 50 };
  FhGsVideoConfig twenty = { .packet_size = 16 + 48, .fec_percentage = 20 };

  check_frame (&small, 0, 1);   /* only the frame header: 1 + 1 */
  check_frame (&small, 40, 1);  /* exactly one full packet */
  check_frame (&small, 300, 1); /* 7 data + 4 parity */
  check_frame (&small, 460, 1); /* 10 data + 5 parity */
  check_frame (&twenty, 600, 1); /* 13 data + 3 parity */
}

static void
test_realistic_frames (void)
{
  /* Moonlight's default packet size; 20 % FEC as Sunshine's default. */
  FhGsVideoConfig config = { .packet_size = 1392, .fec_percentage = 20 };

  check_frame (&config, 16667, 1);  /* 8 Mbit/s at 60 fps: 13 + 3 */
  check_frame (&config, 150000, 1); /* a keyframe: 110 + 22 */
  check_frame (&config, 400000, 2); /* past 212 data packets: two blocks */
  check_frame (&config, 1100000, 4);
}

static void
test_min_parity (void)
{
  FhGsVideoConfig config = { .packet_size = 1392, .fec_percentage = 20, .min_parity_packets = 2 };
  FhGsVideoFrameInfo info = { .frame_index = 1 };
  g_autoptr (FhGsVideoPacketizer) p = fh_gs_video_packetizer_new (&config, NULL);
  g_autofree guint8 *frame = make_frame (1000, 3);
  FhGsVideoPacketInfo parsed;

  /* One data packet: 20 % would give 1 parity, the client wants 2. */
  g_assert_true (fh_gs_video_packetizer_packetize (p, frame, 1000, &info, NULL));
  g_assert_cmpuint (fh_gs_video_packetizer_n_packets (p), ==, 3);
  g_assert_true (fh_gs_video_packet_parse (fh_gs_video_packetizer_packets (p), 1408, &parsed, NULL));
  g_assert_cmpuint (parsed.fec_percentage, ==, 200);
  g_assert_cmpuint (parsed.parity_packets, ==, 2);
  check_frame (&config, 1000, 1);
  check_frame (&config, 30000, 1);
}

static void
test_fec_off_for_huge_frames (void)
{
  /* 5 blocks' worth at 20 %: Sunshine (and we) send it in 4 blocks
   * without parity rather than not at all. */
  FhGsVideoConfig config = { .packet_size = 16 + 100, .fec_percentage = 20 };
  FhGsVideoFrameInfo info = { .frame_index = 1 };
  g_autoptr (FhGsVideoPacketizer) p = fh_gs_video_packetizer_new (&config, NULL);
  gsize size = 212 * 100 * 4 + 5000;
  g_autofree guint8 *frame = make_frame (size, 4);
  g_autoptr (GError) error = NULL;
  FhGsVideoPacketInfo parsed;

  g_assert_true (fh_gs_video_packetizer_packetize (p, frame, size, &info, &error));
  g_assert_true (fh_gs_video_packet_parse (fh_gs_video_packetizer_packets (p), 116, &parsed, NULL));
  g_assert_cmpuint (parsed.fec_percentage, ==, 0);
  g_assert_cmpuint (parsed.last_block, ==, 3);
  g_assert_cmpuint (fh_gs_video_packetizer_n_packets (p), ==, (size + 8 + 99) / 100);
  check_frame (&config, size, 4);

  /* More than 4 × 1023 packets cannot be numbered at all. */
  g_free (g_steal_pointer (&frame));
  size = 4 * 1023 * 100 + 1;
  frame = make_frame (size, 5);
  g_assert_false (fh_gs_video_packetizer_packetize (p, frame, size, &info, &error));
  g_assert_error (error, FH_GS_VIDEO_ERROR, FH_GS_VIDEO_ERROR_INVALID);
}

static void
test_parse_rejects (void)
{
  guint8 pkt[64] = { 0x90 };
  FhGsVideoPacketInfo info;
  g_autoptr (GError) error = NULL;
  FhGsVideoConfig bad = { .packet_size = 20 };

  g_assert_false (fh_gs_video_packet_parse (pkt, 31, &info, &error));
  g_assert_error (error, FH_GS_VIDEO_ERROR, FH_GS_VIDEO_ERROR_MALFORMED);
  g_clear_error (&error);
  /* Zero data packets. */
  g_assert_false (fh_gs_video_packet_parse (pkt, sizeof pkt, &info, &error));
  g_clear_error (&error);
  /* Index 5 of 3 data + 0 parity. */
  pkt[28] = 0x00;
  pkt[29] = 0x50;
  pkt[31] = 0x00;
  pkt[30] = 0xc0;
  g_assert_false (fh_gs_video_packet_parse (pkt, sizeof pkt, &info, &error));
  g_clear_error (&error);
  pkt[29] = 0x20;
  g_assert_true (fh_gs_video_packet_parse (pkt, sizeof pkt, &info, &error));
  g_assert_cmpuint (info.data_packets, ==, 3);
  g_assert_cmpuint (info.fec_index, ==, 2);
  pkt[0] = 0x80;
  g_assert_false (fh_gs_video_packet_parse (pkt, sizeof pkt, &info, &error));
  g_clear_error (&error);

  g_assert_null (fh_gs_video_packetizer_new (&bad, &error));
  g_assert_error (error, FH_GS_VIDEO_ERROR, FH_GS_VIDEO_ERROR_INVALID);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/gs-video/header-layout", test_header_layout);
  g_test_add_func ("/gs-video/every-loss-pattern", test_every_loss_pattern);
  g_test_add_func ("/gs-video/realistic-frames", test_realistic_frames);
  g_test_add_func ("/gs-video/min-parity", test_min_parity);
  g_test_add_func ("/gs-video/fec-off-for-huge-frames", test_fec_off_for_huge_frames);
  g_test_add_func ("/gs-video/parse-rejects", test_parse_rejects);
  return g_test_run ();
}
