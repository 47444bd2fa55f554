/* GameStream FEC and packetizer cost (issue 9), each beside a
 * straightforward reference implementation of the same code, in the same
 * run, on one core:
 *
 *   fec:        Reed–Solomon parity for a 1080p60 P-frame block (13 data +
 *               3 parity packets of 1408 bytes) and a keyframe block
 *               (110 + 22): src/planes/gamestream/protocol/fec.c with each kernel the CPU
 *               runs, against a bit-by-bit GF(2^8) multiply with the same
 *               matrix. Throughput is data bytes protected per second.
 *   packetizer: one frame into packets with 20 % FEC, 1392-byte packets:
 *               an average 8 Mbit/s 60 fps frame (16,667 bytes) and a
 *               150 KB keyframe; src/planes/gamestream/protocol/video-packet.c against a
 *               reference that allocates every packet on its own and
 *               computes parity bit by bit.
 *
 *   fh-bench-fec [--seconds S]   (per measurement, default 1)
 * Prints "key value" lines. */
#include <stdio.h>
#include <string.h>

#include "planes/gamestream/protocol/fec.h"
#include "planes/gamestream/protocol/gf256-bitwise.h"
#include "planes/gamestream/protocol/video-packet.h"

#define SHARD 1408 /* Moonlight's default packetSize 1392 + 16 */

static double seconds = 1.0;

/* The reference multiply, bit by bit (not fec.c's tables or kernels). */
static guint8
ref_mul (guint8 a, guint8 b)
{
  return (guint8) fh_gs_gf_mul_bitwise (a, b);
}

static void
ref_encode (const FhGsFec *fec, const guint8 *const *data, guint8 *const *parity, gsize size)
{
  guint k = fh_gs_fec_data_shards (fec), m = fh_gs_fec_parity_shards (fec);

  for (guint j = 0; j < m; j++) {
    memset (parity[j], 0, size);
    for (guint i = 0; i < k; i++) {
      guint8 c = fh_gs_fec_coefficient (fec, j, i);

      for (gsize b = 0; b < size; b++)
        parity[j][b] ^= ref_mul (c, data[i][b]);
    }
  }
}

typedef void (*RunFunc) (gpointer data);

/* Runs @fn on this one thread until @seconds of wall time have passed;
 * returns seconds per run. */
static double
time_per_run (RunFunc fn, gpointer data)
{
  gint64 start = g_get_monotonic_time (), now;
  guint64 runs = 0;

  fn (data); /* warm-up */
  do {
    fn (data);
    runs++;
    now = g_get_monotonic_time ();
  } while (now - start < seconds * G_USEC_PER_SEC);
  return (now - start) / 1e6 / (double) runs;
}

typedef struct {
  FhGsFec *fec;
  const guint8 **data;
  guint8 **parity;
  gboolean reference;
} FecRun;

static void
run_fec (gpointer p)
{
  FecRun *r = p;

  if (r->reference)
    ref_encode (r->fec, r->data, r->parity, SHARD);
  else
    fh_gs_fec_encode (r->fec, r->data, r->parity, SHARD);
}

static void
bench_fec (const char *name, guint k, guint m)
{
  g_autofree guint8 *buf = g_malloc ((gsize) (k + m) * SHARD);
  g_autofree const guint8 **data = g_new (const guint8 *, k);
  g_autofree guint8 **parity = g_new (guint8 *, m);
  g_autoptr (FhGsFec) fec = fh_gs_fec_new (k, m, NULL);
  g_autofree guint8 *check = g_malloc ((gsize) m * SHARD);
  FecRun r = { fec, data, parity, FALSE };
  double per;

  for (gsize i = 0; i < (gsize) k * SHARD; i++)
    buf[i] = (guint8) g_random_int ();
  for (guint i = 0; i < k; i++)
    data[i] = &buf[i * SHARD];
  for (guint j = 0; j < m; j++)
    parity[j] = &buf[(k + j) * SHARD];

  for (FhGsFecKernel kernel = FH_GS_FEC_KERNEL_TABLE; kernel <= fh_gs_fec_kernel_best (); kernel++) {
    fh_gs_fec_set_kernel (fec, kernel);
    per = time_per_run (run_fec, &r);
    printf ("fec_%s_%s_bytes_per_s %.0f\n", name, fh_gs_fec_kernel_to_string (kernel), k * SHARD / per);
    printf ("fec_%s_%s_us_per_block %.2f\n", name, fh_gs_fec_kernel_to_string (kernel), per * 1e6);
  }
  memcpy (check, parity[0], (gsize) m * SHARD);
  r.reference = TRUE;
  per = time_per_run (run_fec, &r);
  printf ("fec_%s_reference_bytes_per_s %.0f\n", name, k * SHARD / per);
  printf ("fec_%s_reference_us_per_block %.2f\n", name, per * 1e6);
  if (memcmp (check, parity[0], (gsize) m * SHARD) != 0)
    g_error ("reference and fec.c parity differ");
}

/* The reference packetizer: the same wire format as video-packet.c,
 * written the obvious way. Every packet is its own allocation, headers are
 * built field by field, the payload stream is copied byte by byte, and
 * parity uses ref_encode. */
typedef struct {
  guint packet_size, pct;
  guint32 seq;
  GPtrArray *packets;
} RefPacketizer;

static guint8 *
ref_packet (RefPacketizer *p, guint16 seq, guint32 frame, guint8 flags, guint32 fec_info,
            guint8 blocks)
{
  guint8 *pkt = g_malloc0 (p->packet_size + 16);

  pkt[0] = 0x90;
  pkt[2] = seq >> 8;
  pkt[3] = seq & 0xff;
  for (int i = 0; i < 4; i++) {
    pkt[16 + i] = (guint8) (((guint32) seq << 8) >> (8 * i));
    pkt[20 + i] = (guint8) (frame >> (8 * i));
    pkt[28 + i] = (guint8) (fec_info >> (8 * i));
  }
  pkt[24] = flags;
  pkt[26] = 0x10;
  pkt[27] = blocks;
  g_ptr_array_add (p->packets, pkt);
  return pkt;
}

static void
ref_packetize (RefPacketizer *p, const guint8 *frame, gsize size, guint32 frame_index)
{
  gsize chunk = p->packet_size - 16, stream = size + 8, pos = 0;
  guint total = (guint) ((stream + chunk - 1) / chunk);
  guint max = 255 * 100 / (100 + p->pct);
  guint blocks = (total + max - 1) / max, per = (total + blocks - 1) / blocks;
  guint8 header[8] = { 0x01, 0, 0, 1, (guint8) (stream % chunk), (guint8) ((stream % chunk) >> 8) };

  g_ptr_array_set_size (p->packets, 0);
  for (guint b = 0; b * per < total; b++) {
    guint k = MIN (per, total - b * per), m = (k * p->pct + 99) / 100;
    guint first = p->packets->len;
    g_autoptr (FhGsFec) fec = fh_gs_fec_new (k, m, NULL);
    const guint8 **data = g_new (const guint8 *, k);
    guint8 **parity = g_new (guint8 *, m);

    for (guint x = 0; x < k; x++) {
      guint8 flags = 0x01 | (x == 0 ? 0x04 : 0) | (x == k - 1 ? 0x02 : 0);
      guint8 *pkt = ref_packet (p, (guint16) (p->seq + x), frame_index, flags,
                                x << 12 | k << 22 | p->pct << 4, (guint8) (b << 4 | (blocks - 1) << 6));

      for (gsize i = 0; i < chunk && pos < stream; i++, pos++)
        pkt[32 + i] = pos < 8 ? header[pos] : frame[pos - 8];
      data[x] = pkt;
    }
    for (guint j = 0; j < m; j++)
      parity[j] = g_malloc (p->packet_size + 16);
    ref_encode (fec, data, parity, p->packet_size + 16);
    for (guint j = 0; j < m; j++) {
      guint8 *pkt = ref_packet (p, (guint16) (p->seq + k + j), frame_index, 0,
                                (k + j) << 12 | k << 22 | p->pct << 4, (guint8) (b << 4 | (blocks - 1) << 6));

      /* Parity everywhere but the fields the client reads from it. */
      for (gsize i = 0; i < p->packet_size + 16; i++)
        if (!(i < 16 || (i >= 20 && i < 24) || i >= 26) || i >= 32)
          pkt[i] = parity[j][i];
      g_free (parity[j]);
    }
    g_free (parity);
    g_free (data);
    p->seq += p->packets->len - first;
  }
}

typedef struct {
  FhGsVideoPacketizer *fast;
  RefPacketizer *ref;
  const guint8 *frame;
  gsize size;
  guint32 frame_index;
} PacketRun;

static void
run_fast_packetizer (gpointer data)
{
  PacketRun *r = data;
  FhGsVideoFrameInfo info = { .frame_index = ++r->frame_index, .type = FH_GS_VIDEO_FRAME_P };

  if (!fh_gs_video_packetizer_packetize (r->fast, r->frame, r->size, &info, NULL))
    g_error ("packetize failed");
}

static void
run_ref_packetizer (gpointer data)
{
  PacketRun *r = data;

  ref_packetize (r->ref, r->frame, r->size, ++r->frame_index);
}

static void
bench_packetizer (const char *name, gsize size)
{
  FhGsVideoConfig config = { .packet_size = 1392, .fec_percentage = 20 };
  g_autoptr (FhGsVideoPacketizer) fast = fh_gs_video_packetizer_new (&config, NULL);
  RefPacketizer ref = { 1392, 20, 0, g_ptr_array_new_with_free_func (g_free) };
  g_autofree guint8 *frame = g_malloc (size);
  PacketRun r = { fast, &ref, frame, size, 0 };
  double fast_s, ref_s;
  gsize len;

  for (gsize i = 0; i < size; i++)
    frame[i] = (guint8) g_random_int ();
  fast_s = time_per_run (run_fast_packetizer, &r);
  ref_s = time_per_run (run_ref_packetizer, &r);
  /* Same frame index and sequence: both must send the same bytes. */
  r.frame_index = 99;
  ref.seq = 0;
  {
    g_autoptr (FhGsVideoPacketizer) again = fh_gs_video_packetizer_new (&config, NULL);

    r.fast = again;
    run_fast_packetizer (&r);
    r.frame_index = 99;
    run_ref_packetizer (&r);
    len = fh_gs_video_packetizer_packet_len (again);
    if (ref.packets->len != fh_gs_video_packetizer_n_packets (again))
      g_error ("reference packetizer made %u packets, video-packet.c %u", ref.packets->len,
               fh_gs_video_packetizer_n_packets (again));
    for (guint i = 0; i < ref.packets->len; i++)
      if (memcmp (ref.packets->pdata[i], fh_gs_video_packetizer_packets (again) + i * len, len) != 0)
        g_error ("reference packetizer and video-packet.c differ in packet %u", i);
    printf ("packetizer_%s_packets %u\n", name, ref.packets->len);
  }
  printf ("packetizer_%s_frame_bytes %" G_GSIZE_FORMAT "\n", name, size);
  printf ("packetizer_%s_us_per_frame %.2f\n", name, fast_s * 1e6);
  printf ("packetizer_%s_reference_us_per_frame %.2f\n", name, ref_s * 1e6);
  g_ptr_array_unref (ref.packets);
}

int
main (int argc, char **argv)
{
  GOptionEntry entries[] = {
    { "seconds", 0, 0, G_OPTION_ARG_DOUBLE, &seconds, "Time per measurement (default 1)", "S" },
    { NULL },
  };
  g_autoptr (GOptionContext) context = g_option_context_new ("- GameStream FEC and packetizer cost");
  g_autoptr (GError) error = NULL;

  g_option_context_add_main_entries (context, entries, NULL);
  if (!g_option_context_parse (context, &argc, &argv, &error)) {
    g_printerr ("fh-bench-fec: %s\n", error->message);
    return 2;
  }
  printf ("fec_best_kernel %s\n", fh_gs_fec_kernel_to_string (fh_gs_fec_kernel_best ()));
  bench_fec ("pframe_13_3", 13, 3);
  bench_fec ("keyframe_110_22", 110, 22);
  bench_packetizer ("pframe", 16667);
  bench_packetizer ("keyframe", 150000);
  return 0;
}
