/* Unit tests of the GameStream audio packets (src/planes/gamestream/protocol/audio-packet.c):
 * RTP and audio FEC header layout, the audio parity matrix, recovery from
 * every loss pattern, and malformed input. */
#include <string.h>

#include "planes/gamestream/protocol/audio-packet.h"

static const FhGsAudioConfig plain = { .packet_duration_ms = 5 };

static FhGsAudioConfig
encrypted_config (void)
{
  FhGsAudioConfig config = { .encrypt = TRUE, .rikeyid = 0x7fffffff, .packet_duration_ms = 10 };

  for (guint i = 0; i < FH_GS_KEY_SIZE; i++)
    config.key[i] = (guint8) (0xa0 + i);
  return config;
}

/* Four tiny frames, then the two parity packets, byte by byte against
 * moonlight-common-c's RTP_PACKET and AUDIO_FEC_HEADER (RtpAudioQueue.h)
 * and Sunshine's audioBroadcastThread. Written out by hand from those
 * structs; the parity bytes from the OpenFEC matrix by a separate script
 * (GF(2^8), polynomial 0x11d). */
static void
test_header_layout (void)
{
  g_autoptr (FhGsAudioPacketizer) p = fh_gs_audio_packetizer_new (&plain, NULL);
  static const guint8 second[] = {
    0x80, 0x61, 0x00, 0x01, /* RTP v2, type 97, sequence 1 (BE) */
    0x00, 0x00, 0x00, 0x05, /* timestamp 5 ms (BE) */
    0x00, 0x00, 0x00, 0x00, /* SSRC 0 */
    0xfc, 0x11, 0x12, 0x13, /* the Opus frame, as is */
  };
  static const guint8 fec0[] = {
    0x80, 0x7f, 0x00, 0x04, /* type 127, sequence: last data + 1 */
    0x00, 0x00, 0x00, 0x00, /* timestamp 0 */
    0x00, 0x00, 0x00, 0x00, /* SSRC 0 */
    0x00, 0x61, 0x00, 0x00, /* fecShardIndex 0, payloadType 97, baseSequenceNumber 0 (BE) */
    0x00, 0x00, 0x00, 0x00, /* baseTimestamp 0 (BE) */
    0x00, 0x00, 0x00, 0x00, /* ssrc 0 */
    0xfc, 0x1b, 0x18, 0x19, /* parity row 0: 77 40 38 0e */
  };
  static const guint8 fec1[] = {
    0x80, 0x7f, 0x00, 0x05, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x01, 0x61, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0xfc, 0x91, 0x92, 0x93, /* parity row 1: c7 a7 0d 6c */
  };
  static const guint8 second_block_fec0[] = {
    0x80, 0x7f, 0x00, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x61, 0x00, 0x04, /* baseSequenceNumber 4 */
    0x00, 0x00, 0x00, 0x14, /* baseTimestamp 20 ms */
    0x00, 0x00, 0x00, 0x00,
  };
  const FhGsAudioPacket *out;
  guint n;

  g_assert_nonnull (p);
  for (guint i = 0; i < 8; i++) {
    guint8 opus[4] = { 0xfc, (guint8) (0x01 + 16 * (i % 4)), (guint8) (0x02 + 16 * (i % 4)),
                       (guint8) (0x03 + 16 * (i % 4)) };

    g_assert_true (fh_gs_audio_packetizer_push (p, opus, sizeof opus, NULL));
    out = fh_gs_audio_packetizer_packets (p, &n);
    g_assert_cmpuint (n, ==, i % 4 == 3 ? 3 : 1);
    g_assert_cmpuint (out[0].len, ==, 16);
    g_assert_cmpuint (out[0].data[3], ==, i);
    g_assert_cmpuint (out[0].data[7], ==, 5 * i);
    if (i == 1)
      g_assert_cmpmem (out[0].data, out[0].len, second, sizeof second);
    if (i == 3) {
      g_assert_cmpmem (out[1].data, out[1].len, fec0, sizeof fec0);
      g_assert_cmpmem (out[2].data, out[2].len, fec1, sizeof fec1);
    }
    if (i == 7)
      g_assert_cmpmem (out[1].data, 24, second_block_fec0, sizeof second_block_fec0);
  }
}

/* A data and a parity packet written by hand, as the parser reads them. */
static void
test_parse_vectors (void)
{
  static const guint8 data[] = {
    0x80, 0x61, 0xff, 0xfe, 0x12, 0x34, 0x56, 0x78, 0xde, 0xad, 0xbe, 0xef, 0x01, 0x02,
  };
  static const guint8 fec[] = {
    0x80, 0x7f, 0x00, 0x09, 0, 0, 0, 0, 0, 0, 0, 0,
    0x01, 0x61, 0xff, 0xfc, 0x00, 0x00, 0x01, 0x00, 0x11, 0x22, 0x33, 0x44, 0xaa,
  };
  FhGsAudioPacketInfo info;
  GError *error = NULL;

  g_assert_true (fh_gs_audio_packet_parse (data, sizeof data, &info, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (info.payload_type, ==, 97);
  g_assert_cmpuint (info.sequence, ==, 0xfffe);
  g_assert_cmpuint (info.timestamp, ==, 0x12345678);
  g_assert_cmpuint (info.ssrc, ==, 0xdeadbeef);
  g_assert_cmpuint (info.base_sequence, ==, 0xfffc);
  g_assert_cmpmem (info.payload, info.payload_len, data + 12, 2);

  g_assert_true (fh_gs_audio_packet_parse (fec, sizeof fec, &info, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (info.payload_type, ==, 127);
  g_assert_cmpuint (info.sequence, ==, 9);
  g_assert_cmpuint (info.fec_shard_index, ==, 1);
  g_assert_cmpuint (info.fec_payload_type, ==, 97);
  g_assert_cmpuint (info.base_sequence, ==, 0xfffc);
  g_assert_cmpuint (info.base_timestamp, ==, 256);
  g_assert_cmpuint (info.fec_ssrc, ==, 0x11223344);
  g_assert_cmpmem (info.payload, info.payload_len, fec + 24, 1);
}

/* The matrix is Moonlight's audio one, not fec.c's Cauchy matrix (which
 * for 4 + 2 would be 8e f4 47 a7 / f4 8e a7 47); and the pure recovery
 * restores every pattern of up to 2 lost shards. */
static void
test_fec_matrix_and_recover (void)
{
  static const guint8 expect[2][4] = { { 0x77, 0x40, 0x38, 0x0e }, { 0xc7, 0xa7, 0x0d, 0x6c } };
  g_autoptr (GRand) rand = g_rand_new_with_seed (9);
  const gsize size = 333;
  guint8 orig[FH_GS_AUDIO_TOTAL_SHARDS][333], work[FH_GS_AUDIO_TOTAL_SHARDS][333];
  guint patterns = 0;

  for (guint j = 0; j < 2; j++)
    for (guint i = 0; i < 4; i++)
      g_assert_cmphex (fh_gs_audio_fec_coefficient (j, i), ==, expect[j][i]);

  for (guint i = 0; i < FH_GS_AUDIO_DATA_SHARDS; i++)
    for (gsize k = 0; k < size; k++)
      orig[i][k] = (guint8) g_rand_int (rand);
  fh_gs_audio_fec_encode ((const guint8 *const[]) { orig[0], orig[1], orig[2], orig[3] },
                          (guint8 *const[]) { orig[4], orig[5] }, size);

  for (guint mask = 0; mask < (1u << FH_GS_AUDIO_TOTAL_SHARDS); mask++) {
    gboolean present[FH_GS_AUDIO_TOTAL_SHARDS];
    guint8 *shards[FH_GS_AUDIO_TOTAL_SHARDS];
    guint n_lost = (guint) __builtin_popcount (mask);
    g_autoptr (GError) error = NULL;

    memcpy (work, orig, sizeof work);
    for (guint i = 0; i < FH_GS_AUDIO_TOTAL_SHARDS; i++) {
      present[i] = !(mask & (1u << i));
      shards[i] = work[i];
      if (!present[i])
        memset (work[i], 0x5a, size);
    }
    if (n_lost <= 2) {
      g_assert_true (fh_gs_audio_fec_recover (shards, present, size, &error));
      g_assert_no_error (error);
      for (guint i = 0; i < FH_GS_AUDIO_DATA_SHARDS; i++)
        g_assert_cmpmem (work[i], size, orig[i], size);
      patterns++;
    } else {
      g_assert_false (fh_gs_audio_fec_recover (shards, present, size, &error));
      g_assert_error (error, FH_GS_AUDIO_ERROR, FH_GS_AUDIO_ERROR_UNRECOVERABLE);
    }
  }
  g_assert_cmpuint (patterns, ==, 1 + 6 + 15);
}

static guint8 *
make_opus (GRand *rand, gsize len)
{
  guint8 *opus = g_malloc (len);

  opus[0] = 0xfc; /* a TOC byte: CELT FB 20 ms, one frame */
  for (gsize i = 1; i < len; i++)
    opus[i] = (guint8) g_rand_int (rand);
  return opus;
}

/* Sends blocks of 4 constant-size frames (CBR Opus) through packetizer and
 * depacketizer, dropping the packets @masks[b] names from block b (bit i:
 * data i, bits 4–5: parity), delivered in a shuffled order. Returns how
 * many frames were lost (queued as lost, or of a block that vanished). */
static guint
roundtrip (const FhGsAudioConfig *config, const guint *masks, guint n_blocks, gsize opus_len,
           guint skip_frames)
{
  g_autoptr (FhGsAudioPacketizer) p = fh_gs_audio_packetizer_new (config, NULL);
  g_autoptr (FhGsAudioDepacketizer) d = fh_gs_audio_depacketizer_new (config, NULL);
  g_autoptr (GRand) rand = g_rand_new_with_seed (n_blocks * 31 + (guint) opus_len);
  g_autoptr (GPtrArray) sent = g_ptr_array_new_with_free_func (g_free);
  FhGsAudioFrame frame;
  guint lost = 0, vanished = 0;
  GError *error = NULL;

  g_assert_nonnull (p);
  g_assert_nonnull (d);
  /* Start some way into the sequence space (a wrap, for example). */
  for (guint i = 0; i < skip_frames; i++) {
    guint8 opus[1] = { 0xf8 };

    g_assert_true (fh_gs_audio_packetizer_push (p, opus, 1, NULL));
  }
  for (guint b = 0; b < n_blocks; b++) {
    g_autoptr (GPtrArray) block = g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref);

    for (guint i = 0; i < FH_GS_AUDIO_DATA_SHARDS; i++) {
      guint8 *opus = make_opus (rand, opus_len);
      const FhGsAudioPacket *out;
      guint n;

      g_assert_true (fh_gs_audio_packetizer_push (p, opus, opus_len, &error));
      g_assert_no_error (error);
      g_ptr_array_add (sent, opus);
      out = fh_gs_audio_packetizer_packets (p, &n);
      for (guint k = 0; k < n; k++)
        g_ptr_array_add (block, g_bytes_new (out[k].data, out[k].len));
    }
    g_assert_cmpuint (block->len, ==, FH_GS_AUDIO_TOTAL_SHARDS);
    /* Fisher–Yates: out-of-order arrival within the block. */
    for (guint i = block->len - 1; i > 0; i--) {
      guint j = (guint) g_rand_int_range (rand, 0, (gint32) i + 1);
      gpointer t = block->pdata[i];

      block->pdata[i] = block->pdata[j];
      block->pdata[j] = t;
    }
    for (guint i = 0; i < block->len; i++) {
      gsize len;
      const guint8 *pkt = g_bytes_get_data (block->pdata[i], &len);
      FhGsAudioPacketInfo info;
      guint slot;

      g_assert_true (fh_gs_audio_packet_parse (pkt, len, &info, NULL));
      slot = info.payload_type == FH_GS_AUDIO_PAYLOAD_TYPE
               ? (guint) (guint16) (info.sequence - info.base_sequence)
               : FH_GS_AUDIO_DATA_SHARDS + info.fec_shard_index;
      if (masks[b] & (1u << slot))
        continue;
      g_assert_true (fh_gs_audio_depacketizer_push (d, pkt, len, &error));
      g_assert_no_error (error);
    }
  }
  if (!fh_gs_audio_depacketizer_flush (d, &error)) {
    g_assert_error (error, FH_GS_AUDIO_ERROR, FH_GS_AUDIO_ERROR_UNRECOVERABLE);
    g_clear_error (&error);
  }

  for (guint i = 0; i < sent->len; i++) {
    guint16 seq = (guint16) (skip_frames + i);

    if (masks[i / 4] == 0x3f) {
      /* Nothing of the block arrived: the receiver never knew of it. */
      vanished++;
      continue;
    }
    g_assert_true (fh_gs_audio_depacketizer_pop (d, &frame));
    g_assert_cmpuint (frame.sequence, ==, seq);
    g_assert_cmpuint (frame.timestamp, ==, (skip_frames + i) * config->packet_duration_ms);
    if (frame.opus) {
      g_assert_cmpmem (g_bytes_get_data (frame.opus, NULL), g_bytes_get_size (frame.opus),
                       sent->pdata[i], opus_len);
      g_assert_cmpint (frame.recovered, ==, (masks[i / 4] >> (i % 4)) & 1);
    } else {
      g_assert_true ((masks[i / 4] >> (i % 4)) & 1);
      lost++;
    }
    fh_gs_audio_frame_clear (&frame);
  }
  g_assert_false (fh_gs_audio_depacketizer_pop (d, &frame));
  g_assert_cmpuint (fh_gs_audio_depacketizer_stats (d)->lost, ==, lost);
  g_assert_cmpuint (fh_gs_audio_depacketizer_stats (d)->undecryptable, ==, 0);
  return lost + vanished;
}

/* Every loss pattern of at most 2 of a block's 6 packets (C(6,0) + C(6,1)
 * + C(6,2) = 22), one block each, encrypted and not: the Opus comes back
 * identical. */
static void
test_every_recoverable_pattern (void)
{
  FhGsAudioConfig enc = encrypted_config ();
  guint masks[64], n = 0;

  for (guint mask = 0; mask < 64; mask++)
    if (__builtin_popcount (mask) <= 2)
      masks[n++] = mask;
  g_assert_cmpuint (n, ==, 22);
  g_assert_cmpuint (roundtrip (&plain, masks, n, 120, 0), ==, 0);
  g_assert_cmpuint (roundtrip (&enc, masks, n, 157, 0), ==, 0);
  /* Across the 16-bit sequence wrap (65532 is a block start). */
  g_assert_cmpuint (roundtrip (&enc, masks, n, 60, 65532 - 40), ==, 0);
  /* The largest frames a packet can carry. */
  g_assert_cmpuint (roundtrip (&plain, masks, n, FH_GS_AUDIO_MAX_PAYLOAD, 0), ==, 0);
  g_assert_cmpuint (roundtrip (&enc, masks, n, FH_GS_AUDIO_MAX_PAYLOAD - 1, 0), ==, 0);
}

/* Three or more lost: every such pattern (C(6,3) + … = 42) loses data,
 * which the block reports as unrecoverable; the frames that did arrive
 * still come out. */
static void
test_unrecoverable (void)
{
  FhGsAudioConfig enc = encrypted_config ();
  guint masks[64], n = 0, expect_lost = 0;
  g_autoptr (FhGsAudioPacketizer) p = fh_gs_audio_packetizer_new (&enc, NULL);
  g_autoptr (FhGsAudioDepacketizer) d = fh_gs_audio_depacketizer_new (&enc, NULL);
  g_autoptr (GError) error = NULL;
  guint8 opus[40] = { 0xfc };
  FhGsAudioFrame frame;
  guint got = 0;

  for (guint mask = 0; mask < 64; mask++)
    if (__builtin_popcount (mask) > 2) {
      masks[n++] = mask;
      expect_lost += (guint) __builtin_popcount (mask & 0xf);
    }
  g_assert_cmpuint (n, ==, 42);
  g_assert_cmpuint (roundtrip (&enc, masks, n, 80, 0), ==, expect_lost);

  /* One block, data 0, 1 and 2 lost: flush says why. */
  for (guint i = 0; i < 4; i++) {
    const FhGsAudioPacket *out;
    guint n_out;

    g_assert_true (fh_gs_audio_packetizer_push (p, opus, sizeof opus, NULL));
    out = fh_gs_audio_packetizer_packets (p, &n_out);
    for (guint k = 0; k < n_out; k++)
      if (i == 3)
        g_assert_true (fh_gs_audio_depacketizer_push (d, out[k].data, out[k].len, NULL));
  }
  g_assert_false (fh_gs_audio_depacketizer_flush (d, &error));
  g_assert_error (error, FH_GS_AUDIO_ERROR, FH_GS_AUDIO_ERROR_UNRECOVERABLE);
  g_assert_cmpuint (fh_gs_audio_depacketizer_stats (d)->unrecoverable_blocks, ==, 1);
  while (fh_gs_audio_depacketizer_pop (d, &frame)) {
    got += frame.opus ? 1 : 0;
    fh_gs_audio_frame_clear (&frame);
  }
  g_assert_cmpuint (got, ==, 1);
}

/* Frames of varying size (VBR Opus) arrive whole, but a block whose
 * packets differ in size cannot be repaired, as in Moonlight. */
static void
test_mixed_sizes (void)
{
  g_autoptr (FhGsAudioPacketizer) p = fh_gs_audio_packetizer_new (&plain, NULL);
  g_autoptr (FhGsAudioDepacketizer) d = fh_gs_audio_depacketizer_new (&plain, NULL);
  g_autoptr (GError) error = NULL;
  guint8 opus[64];
  FhGsAudioFrame frame;

  memset (opus, 0xfc, sizeof opus);
  for (guint i = 0; i < 8; i++) {
    const FhGsAudioPacket *out;
    guint n;

    g_assert_true (fh_gs_audio_packetizer_push (p, opus, 10 + i, NULL));
    out = fh_gs_audio_packetizer_packets (p, &n);
    if (i % 4 == 3) {
      g_assert_cmpuint (out[1].len, ==, 24 + 10 + i); /* padded to the longest */
      g_assert_cmpuint (out[2].len, ==, 24 + 10 + i);
    }
    for (guint k = 0; k < n; k++)
      if (i != 5) /* the second block loses a data packet */
        g_assert_true (fh_gs_audio_depacketizer_push (d, out[k].data, out[k].len, NULL));
  }
  g_assert_false (fh_gs_audio_depacketizer_flush (d, &error));
  g_assert_error (error, FH_GS_AUDIO_ERROR, FH_GS_AUDIO_ERROR_UNRECOVERABLE);
  for (guint i = 0; i < 8; i++) {
    g_assert_true (fh_gs_audio_depacketizer_pop (d, &frame));
    if (i == 5) {
      g_assert_null (frame.opus);
    } else {
      g_assert_nonnull (frame.opus);
      g_assert_cmpuint (g_bytes_get_size (frame.opus), ==, 10 + i);
    }
    fh_gs_audio_frame_clear (&frame);
  }
}

/* An empty payload first in the block still counts as a size. */
static void
test_empty_payload_mismatch (void)
{
  g_autoptr (FhGsAudioDepacketizer) d = fh_gs_audio_depacketizer_new (&plain, NULL);
  g_autoptr (GError) error = NULL;
  guint8 pkt[24 + 5] = { 0x80, 0x61 };
  FhGsAudioFrame frame;

  g_assert_true (fh_gs_audio_depacketizer_push (d, pkt, 12, NULL)); /* sequence 0, empty */
  for (guint seq = 1; seq < 3; seq++) {
    pkt[3] = (guint8) seq;
    g_assert_true (fh_gs_audio_depacketizer_push (d, pkt, 12 + 5, NULL));
  }
  memset (pkt, 0, sizeof pkt);
  pkt[0] = 0x80;
  pkt[1] = 0x7f;
  pkt[13] = 0x61;
  g_assert_true (fh_gs_audio_depacketizer_push (d, pkt, sizeof pkt, NULL));
  g_assert_false (fh_gs_audio_depacketizer_flush (d, &error));
  g_assert_error (error, FH_GS_AUDIO_ERROR, FH_GS_AUDIO_ERROR_UNRECOVERABLE);
  for (guint i = 0; i < 4; i++) {
    g_assert_true (fh_gs_audio_depacketizer_pop (d, &frame));
    g_assert_true ((frame.opus == NULL) == (i == 3));
    if (frame.opus)
      g_assert_cmpuint (g_bytes_get_size (frame.opus), ==, i == 0 ? 0 : 5);
    fh_gs_audio_frame_clear (&frame);
  }
}

/* Late, duplicate and undecryptable packets are counted, not fatal. */
static void
test_late_duplicate_wrong_key (void)
{
  FhGsAudioConfig enc = encrypted_config (), wrong = enc;
  g_autoptr (FhGsAudioPacketizer) p = fh_gs_audio_packetizer_new (&enc, NULL);
  g_autoptr (FhGsAudioDepacketizer) d = fh_gs_audio_depacketizer_new (&enc, NULL);
  g_autoptr (FhGsAudioDepacketizer) w = NULL;
  g_autoptr (GByteArray) first = g_byte_array_new ();
  guint8 opus[33] = { 0xfc, 1, 2, 3 };
  FhGsAudioFrame frame;
  guint frames = 0;

  wrong.key[0] ^= 1;
  w = fh_gs_audio_depacketizer_new (&wrong, NULL);
  for (guint i = 0; i < 8; i++) {
    const FhGsAudioPacket *out;
    guint n;

    g_assert_true (fh_gs_audio_packetizer_push (p, opus, sizeof opus, NULL));
    out = fh_gs_audio_packetizer_packets (p, &n);
    if (i == 0)
      g_byte_array_append (first, out[0].data, (guint) out[0].len);
    for (guint k = 0; k < n; k++) {
      g_assert_true (fh_gs_audio_depacketizer_push (d, out[k].data, out[k].len, NULL));
      g_assert_true (fh_gs_audio_depacketizer_push (d, out[k].data, out[k].len, NULL));
      g_assert_true (fh_gs_audio_depacketizer_push (w, out[k].data, out[k].len, NULL));
    }
  }
  /* Block 0 closed when block 1 began: its packet now is late. */
  g_assert_true (fh_gs_audio_depacketizer_push (d, first->data, first->len, NULL));
  g_assert_true (fh_gs_audio_depacketizer_flush (d, NULL));
  g_assert_cmpuint (fh_gs_audio_depacketizer_stats (d)->dropped, ==, 12 + 1);
  while (fh_gs_audio_depacketizer_pop (d, &frame)) {
    g_assert_nonnull (frame.opus);
    g_assert_cmpmem (g_bytes_get_data (frame.opus, NULL), g_bytes_get_size (frame.opus), opus,
                     sizeof opus);
    fh_gs_audio_frame_clear (&frame);
    frames++;
  }
  g_assert_cmpuint (frames, ==, 8);

  /* PKCS#7 padding checks catch most wrong keys; whatever decrypts is not
   * the frame. */
  g_assert_true (fh_gs_audio_depacketizer_flush (w, NULL));
  while (fh_gs_audio_depacketizer_pop (w, &frame)) {
    if (frame.opus)
      g_assert_false (g_bytes_get_size (frame.opus) == sizeof opus &&
                      memcmp (g_bytes_get_data (frame.opus, NULL), opus, sizeof opus) == 0);
    fh_gs_audio_frame_clear (&frame);
  }
  g_assert_cmpuint (fh_gs_audio_depacketizer_stats (w)->undecryptable, >, 0);
}

static void
expect_malformed (const guint8 *pkt, gsize len)
{
  g_autoptr (FhGsAudioDepacketizer) d = fh_gs_audio_depacketizer_new (&plain, NULL);
  g_autoptr (GError) error = NULL;
  FhGsAudioPacketInfo info;
  FhGsAudioFrame frame;

  g_assert_false (fh_gs_audio_packet_parse (pkt, len, &info, &error));
  g_assert_error (error, FH_GS_AUDIO_ERROR, FH_GS_AUDIO_ERROR_MALFORMED);
  g_clear_error (&error);
  g_assert_false (fh_gs_audio_depacketizer_push (d, pkt, len, &error));
  g_assert_error (error, FH_GS_AUDIO_ERROR, FH_GS_AUDIO_ERROR_MALFORMED);
  g_assert_true (fh_gs_audio_depacketizer_flush (d, NULL));
  g_assert_false (fh_gs_audio_depacketizer_pop (d, &frame));
}

static void
test_parse_rejects (void)
{
  guint8 pkt[FH_GS_AUDIO_MAX_PACKET_SIZE + 1] = { 0 };
  static const guint8 fec[24] = { 0x80, 0x7f, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
                                  0x00, 0x61, 0x00, 0x04 };
  guint8 bad[24];
  FhGsAudioPacketInfo info;

  pkt[0] = 0x80;
  pkt[1] = 0x61;
  for (gsize len = 0; len < 12; len++)
    expect_malformed (pkt, len); /* short */
  expect_malformed (pkt, sizeof pkt); /* over 1400 */
  g_assert_true (fh_gs_audio_packet_parse (pkt, sizeof pkt - 1, &info, NULL));
  g_assert_true (fh_gs_audio_packet_parse (pkt, 12, &info, NULL));

  for (guint b0 = 0; b0 < 256; b0++)
    if (b0 != 0x80) {
      pkt[0] = (guint8) b0; /* version, padding, extension, CSRCs */
      expect_malformed (pkt, 20);
    }
  pkt[0] = 0x80;
  for (guint pt = 0; pt < 256; pt++)
    if (pt != 97 && pt != 127) {
      pkt[1] = (guint8) pt; /* the marker bit included */
      expect_malformed (pkt, 20);
    }

  g_assert_true (fh_gs_audio_packet_parse (fec, sizeof fec, &info, NULL));
  for (gsize len = 12; len < 24; len++)
    expect_malformed (fec, len); /* FEC header cut */
  memcpy (bad, fec, sizeof bad);
  bad[12] = 2; /* shard index */
  expect_malformed (bad, sizeof bad);
  memcpy (bad, fec, sizeof bad);
  bad[13] = 96; /* protected payload type */
  expect_malformed (bad, sizeof bad);
  memcpy (bad, fec, sizeof bad);
  bad[15] = 5; /* base not on a block boundary */
  expect_malformed (bad, sizeof bad);
}

static void
test_packetizer_limits (void)
{
  FhGsAudioConfig enc = encrypted_config (), bad = plain;
  g_autoptr (FhGsAudioPacketizer) p = fh_gs_audio_packetizer_new (&plain, NULL);
  g_autoptr (FhGsAudioPacketizer) e = fh_gs_audio_packetizer_new (&enc, NULL);
  g_autofree guint8 *opus = g_malloc0 (2000);
  const FhGsAudioPacket *out;
  GError *error = NULL;
  guint n;

  bad.packet_duration_ms = 0;
  g_assert_null (fh_gs_audio_packetizer_new (&bad, &error));
  g_assert_error (error, FH_GS_AUDIO_ERROR, FH_GS_AUDIO_ERROR_INVALID);
  g_clear_error (&error);
  g_assert_null (fh_gs_audio_depacketizer_new (&bad, &error));
  g_assert_error (error, FH_GS_AUDIO_ERROR, FH_GS_AUDIO_ERROR_INVALID);
  g_clear_error (&error);

  g_assert_false (fh_gs_audio_packetizer_push (p, opus, 0, &error));
  g_assert_error (error, FH_GS_AUDIO_ERROR, FH_GS_AUDIO_ERROR_INVALID);
  g_clear_error (&error);
  g_assert_false (fh_gs_audio_packetizer_push (p, opus, FH_GS_AUDIO_MAX_PAYLOAD + 1, &error));
  g_assert_error (error, FH_GS_AUDIO_ERROR, FH_GS_AUDIO_ERROR_INVALID);
  g_clear_error (&error);
  /* 1376 = 86 · 16: encrypted, PKCS#7 adds a whole block. */
  g_assert_false (fh_gs_audio_packetizer_push (e, opus, FH_GS_AUDIO_MAX_PAYLOAD, &error));
  g_assert_error (error, FH_GS_AUDIO_ERROR, FH_GS_AUDIO_ERROR_INVALID);
  g_clear_error (&error);

  /* A refused frame takes no sequence number. */
  g_assert_true (fh_gs_audio_packetizer_push (e, opus, FH_GS_AUDIO_MAX_PAYLOAD - 1, NULL));
  out = fh_gs_audio_packetizer_packets (e, &n);
  g_assert_cmpuint (n, ==, 1);
  g_assert_cmpuint (out[0].len, ==, 12 + FH_GS_AUDIO_MAX_PAYLOAD);
  g_assert_cmpuint (out[0].data[3], ==, 0);
  g_assert_true (fh_gs_audio_packetizer_push (p, opus, FH_GS_AUDIO_MAX_PAYLOAD, NULL));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/gs-audio/header-layout", test_header_layout);
  g_test_add_func ("/gs-audio/parse-vectors", test_parse_vectors);
  g_test_add_func ("/gs-audio/fec-matrix-and-recover", test_fec_matrix_and_recover);
  g_test_add_func ("/gs-audio/every-recoverable-pattern", test_every_recoverable_pattern);
  g_test_add_func ("/gs-audio/unrecoverable", test_unrecoverable);
  g_test_add_func ("/gs-audio/mixed-sizes", test_mixed_sizes);
  g_test_add_func ("/gs-audio/empty-payload-mismatch", test_empty_payload_mismatch);
  g_test_add_func ("/gs-audio/late-duplicate-wrong-key", test_late_duplicate_wrong_key);
  g_test_add_func ("/gs-audio/parse-rejects", test_parse_rejects);
  g_test_add_func ("/gs-audio/packetizer-limits", test_packetizer_limits);
  return g_test_run ();
}
