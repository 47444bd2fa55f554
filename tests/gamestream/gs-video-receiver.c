/* GameStream video, received: see gs-video-receiver.h. Frames are taken
 * in order; a frame still incomplete when a later one completes is lost,
 * and late packets of finished frames are ignored (RtpVideoQueue.c keeps
 * one frame in flight the same way). */
#include "gs-video-receiver.h"

#include <gio/gio.h>
#include <string.h>

#include "planes/gamestream/protocol/video-packet.h"

typedef struct {
  guint n;        /* data + parity, 0 until a packet of the block arrived */
  guint data;
  guint received; /* distinct shards */
  guint8 **pkts;
  gboolean *present;
} Block;

typedef struct {
  guint32 index;
  guint n_blocks;
  Block blocks[FH_GS_VIDEO_MAX_FEC_BLOCKS];
} Frame;

struct _GsVideoReceiver {
  gsize packet_len;
  guint drop_every;
  guint64 seen;
  GsVideoStats stats;
  GHashTable *frames; /* index → Frame */
  gboolean any_done;
  guint32 done_upto; /* the newest finished or lost frame */
};

static void
frame_free (gpointer p)
{
  Frame *f = p;

  for (guint b = 0; b < FH_GS_VIDEO_MAX_FEC_BLOCKS; b++) {
    for (guint i = 0; i < f->blocks[b].n; i++)
      g_free (f->blocks[b].pkts[i]);
    g_free (f->blocks[b].pkts);
    g_free (f->blocks[b].present);
  }
  g_free (f);
}

GsVideoReceiver *
gs_video_receiver_new (gsize packet_len, guint drop_every)
{
  GsVideoReceiver *v = g_new0 (GsVideoReceiver, 1);

  v->packet_len = packet_len;
  v->drop_every = drop_every;
  v->frames = g_hash_table_new_full (NULL, NULL, NULL, frame_free);
  return v;
}

void
gs_video_receiver_free (GsVideoReceiver *v)
{
  if (!v)
    return;
  g_hash_table_destroy (v->frames);
  g_free (v);
}

const GsVideoStats *
gs_video_receiver_stats (const GsVideoReceiver *v)
{
  return &v->stats;
}

/* Frame index a is newer than b (32-bit wrap as the sender counts). */
static gboolean
newer (guint32 a, guint32 b)
{
  return (gint32) (a - b) > 0;
}

static gboolean
block_complete (const Block *b)
{
  return b->n > 0 && b->received >= b->data;
}

/* NAL unit types in an Annex B stream; FALSE if it does not start with a
 * start code. */
static gboolean
annexb_nal_types (const guint8 *d, gsize n, guint32 *types_seen)
{
  *types_seen = 0;
  if (!(n >= 4 && d[0] == 0 && d[1] == 0 && (d[2] == 1 || (d[2] == 0 && d[3] == 1))))
    return FALSE;
  for (gsize i = 0; i + 3 < n; i++) {
    if (d[i] == 0 && d[i + 1] == 0 && d[i + 2] == 1) {
      *types_seen |= 1u << (d[i + 3] & 0x1f);
      i += 2;
    }
  }
  return TRUE;
}

static gboolean
finish_frame (GsVideoReceiver *v, Frame *f, GError **error)
{
  g_autoptr (GPtrArray) data = g_ptr_array_new ();
  g_autoptr (GByteArray) au = g_byte_array_new ();
  const guint8 *header;
  guint32 nals;
  guint type;

  for (guint b = 0; b < f->n_blocks; b++) {
    Block *blk = &f->blocks[b];
    guint missing = 0;

    for (guint i = 0; i < blk->data; i++)
      missing += !blk->present[i];
    if (!fh_gs_video_block_recover (blk->pkts, blk->present, blk->n, v->packet_len, error)) {
      g_prefix_error (error, "frame %u block %u: ", f->index, b);
      return FALSE;
    }
    v->stats.recovered_packets += missing;
    for (guint i = 0; i < blk->data; i++)
      g_ptr_array_add (data, blk->pkts[i]);
  }
  header = ((const guint8 *) data->pdata[0]) + FH_GS_VIDEO_HEADERS_SIZE;
  type = header[3];
  if (!fh_gs_video_depacketize ((const guint8 *const *) data->pdata, data->len, v->packet_len, au,
                                error)) {
    g_prefix_error (error, "frame %u: ", f->index);
    return FALSE;
  }
  if (!annexb_nal_types (au->data, au->len, &nals)) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                 "frame %u (%u bytes) is not H.264 Annex B: it starts %02x %02x %02x %02x",
                 f->index, au->len, au->len > 0 ? au->data[0] : 0, au->len > 1 ? au->data[1] : 0,
                 au->len > 2 ? au->data[2] : 0, au->len > 3 ? au->data[3] : 0);
    return FALSE;
  }
  if (type == FH_GS_VIDEO_FRAME_IDR) {
    if ((nals & (1u << 7 | 1u << 8 | 1u << 5)) != (1u << 7 | 1u << 8 | 1u << 5)) {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                   "frame %u says IDR but lacks %s%s%s (NAL types seen 0x%08x)", f->index,
                   nals & 1u << 7 ? "" : "SPS ", nals & 1u << 8 ? "" : "PPS ",
                   nals & 1u << 5 ? "" : "an IDR slice", nals);
      return FALSE;
    }
    v->stats.keyframes++;
  } else if (v->stats.keyframes == 0 && v->stats.lost_frames > 0) {
    /* The keyframe was lost: a decoder waits for the next one. */
    v->stats.skipped_frames++;
    return TRUE;
  } else if (v->stats.keyframes == 0) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                 "the first frame (%u) is of type %u, not an IDR frame (2): a decoder cannot "
                 "start there",
                 f->index, type);
    return FALSE;
  }
  v->stats.frames++;
  v->stats.bytes += au->len;
  return TRUE;
}

gboolean
gs_video_receiver_push (GsVideoReceiver *v, const guint8 *packet, gsize len, GError **error)
{
  FhGsVideoPacketInfo info;
  Frame *f;
  Block *blk;
  gboolean complete = TRUE;

  if (len != v->packet_len) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                 "a video packet of %" G_GSIZE_FORMAT " bytes; every one must be packetSize + 16 "
                 "= %" G_GSIZE_FORMAT,
                 len, v->packet_len);
    return FALSE;
  }
  if (v->drop_every && ++v->seen % v->drop_every == 0) {
    v->stats.dropped++;
    return TRUE;
  }
  v->stats.packets++;
  if (!fh_gs_video_packet_parse (packet, len, &info, error))
    return FALSE;
  if (v->any_done && !newer (info.frame_index, v->done_upto))
    return TRUE; /* parity of a frame already recovered, or a lost one */
  if (info.block_index > info.last_block || info.fec_index >= info.data_packets + info.parity_packets) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                 "frame %u: block %u of %u, shard %u of %u+%u", info.frame_index,
                 info.block_index, info.last_block + 1, info.fec_index, info.data_packets,
                 info.parity_packets);
    return FALSE;
  }

  f = g_hash_table_lookup (v->frames, GUINT_TO_POINTER (info.frame_index));
  if (!f) {
    f = g_new0 (Frame, 1);
    f->index = info.frame_index;
    f->n_blocks = info.last_block + 1;
    g_hash_table_insert (v->frames, GUINT_TO_POINTER (info.frame_index), f);
  }
  blk = &f->blocks[info.block_index];
  if (blk->n == 0) {
    blk->n = info.data_packets + info.parity_packets;
    blk->data = info.data_packets;
    blk->pkts = g_new0 (guint8 *, blk->n);
    blk->present = g_new0 (gboolean, blk->n);
  } else if (blk->n != info.data_packets + info.parity_packets) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                 "frame %u block %u: packets disagree on its size (%u, then %u+%u)", f->index,
                 info.block_index, blk->n, info.data_packets, info.parity_packets);
    return FALSE;
  }
  if (blk->present[info.fec_index])
    return TRUE; /* a duplicate */
  blk->pkts[info.fec_index] = g_memdup2 (packet, len);
  blk->present[info.fec_index] = TRUE;
  blk->received++;
  /* Allocate the missing shards now: the decoder writes into them. */
  if (block_complete (blk))
    for (guint i = 0; i < blk->n; i++)
      if (!blk->pkts[i])
        blk->pkts[i] = g_malloc0 (len);

  for (guint b = 0; b < f->n_blocks; b++)
    complete = complete && block_complete (&f->blocks[b]);
  if (!complete)
    return TRUE;

  {
    guint32 index = f->index;
    GHashTableIter it;
    gpointer key, value;
    guint older = 0;
    gboolean ok;

    /* Older frames still in flight will not complete now. */
    g_hash_table_iter_init (&it, v->frames);
    while (g_hash_table_iter_next (&it, &key, &value))
      if (newer (index, ((Frame *) value)->index))
        older++;
    if (v->any_done && newer (index, v->done_upto + 1)) {
      g_printerr ("fh-gs-client: video frames %u..%u lost (not enough packets for FEC)\n",
                  v->done_upto + 1, index - 1);
      v->stats.lost_frames += index - v->done_upto - 1;
    } else if (!v->any_done && older > 0) {
      g_printerr ("fh-gs-client: %u video frames before frame %u lost\n", older, index);
      v->stats.lost_frames += older;
    }
    if (!v->any_done)
      v->stats.first_frame = index;
    ok = finish_frame (v, f, error);
    g_hash_table_iter_init (&it, v->frames);
    while (g_hash_table_iter_next (&it, &key, &value))
      if (!newer (((Frame *) value)->index, index))
        g_hash_table_iter_remove (&it);
    v->any_done = TRUE;
    v->done_upto = index;
    return ok;
  }
}
