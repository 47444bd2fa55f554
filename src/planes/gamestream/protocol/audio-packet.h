/* GameStream audio packets: Opus frames as RTP packets (payload optionally
 * AES-CBC encrypted), with 2 Reed–Solomon parity packets after every 4, the
 * way Sunshine sends them and moonlight-common-c's AudioStream.c and
 * RtpAudioQueue.c read them; and the receiving side for tests and a test
 * client. Layout and sources: docs/gamestream.md, "Audio packets". */
#pragma once

#include <glib.h>

#include "planes/gamestream/protocol/stream-crypto.h"

#define FH_GS_AUDIO_RTP_SIZE 12
/* AUDIO_FEC_HEADER: fecShardIndex, payloadType, BE16 baseSequenceNumber,
 * BE32 baseTimestamp, BE32 ssrc. */
#define FH_GS_AUDIO_FEC_HEADER_SIZE 12
#define FH_GS_AUDIO_PAYLOAD_TYPE 97
#define FH_GS_AUDIO_FEC_PAYLOAD_TYPE 127
/* RTPA_DATA_SHARDS and RTPA_FEC_SHARDS: fixed by the protocol. */
#define FH_GS_AUDIO_DATA_SHARDS 4
#define FH_GS_AUDIO_PARITY_SHARDS 2
#define FH_GS_AUDIO_TOTAL_SHARDS (FH_GS_AUDIO_DATA_SHARDS + FH_GS_AUDIO_PARITY_SHARDS)
/* Moonlight receives audio datagrams into 1400-byte buffers (AudioStream.c
 * MAX_PACKET_SIZE). A parity packet carries a whole shard behind 24 bytes of
 * headers, so no payload may be longer than 1400 − 24. */
#define FH_GS_AUDIO_MAX_PACKET_SIZE 1400
#define FH_GS_AUDIO_MAX_PAYLOAD \
  (FH_GS_AUDIO_MAX_PACKET_SIZE - FH_GS_AUDIO_RTP_SIZE - FH_GS_AUDIO_FEC_HEADER_SIZE)

typedef enum {
  FH_GS_AUDIO_ERROR_INVALID,       /* configuration or Opus packet out of range */
  FH_GS_AUDIO_ERROR_MALFORMED,     /* a received packet that does not parse */
  FH_GS_AUDIO_ERROR_UNRECOVERABLE, /* more of a block lost than parity can restore */
} FhGsAudioError;

#define FH_GS_AUDIO_ERROR (fh_gs_audio_error_quark ())
GQuark fh_gs_audio_error_quark (void);

typedef struct {
  gboolean encrypt; /* SS_ENC_AUDIO negotiated: AES-128-CBC payloads */
  guint8 key[FH_GS_KEY_SIZE];
  guint32 rikeyid; /* the launch request's rikeyid, as a number */
  guint packet_duration_ms; /* 5 or 10 (x-nv-aqos.packetDuration); 1 .. 120 */
} FhGsAudioConfig;

/* One packet ready to send: @len bytes at @data. */
typedef struct {
  const guint8 *data;
  gsize len;
} FhGsAudioPacket;

typedef struct _FhGsAudioPacketizer FhGsAudioPacketizer;

FhGsAudioPacketizer *fh_gs_audio_packetizer_new (const FhGsAudioConfig *config, GError **error);
void fh_gs_audio_packetizer_free (FhGsAudioPacketizer *packetizer);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (FhGsAudioPacketizer, fh_gs_audio_packetizer_free)

/* Makes the RTP packet for one Opus frame and, when it completes a block of
 * 4, the block's 2 parity packets. Sequence and timestamp (milliseconds,
 * packet_duration_ms a packet) start at 0, as Sunshine's. The parity is
 * computed over the payloads zero-padded to the block's longest; Moonlight
 * uses it only when all 6 packets of a block are the same size, which a
 * constant-bitrate Opus encoder gives (see docs/gamestream.md). */
gboolean fh_gs_audio_packetizer_push (FhGsAudioPacketizer *packetizer, const guint8 *opus,
                                      gsize len, GError **error);
/* The packets of the last push in send order (1 or 3), valid until the
 * next push. */
const FhGsAudioPacket *fh_gs_audio_packetizer_packets (const FhGsAudioPacketizer *packetizer,
                                                       guint *n_packets);

/* The fixed parity matrix of GameStream audio (OpenFEC's, which Moonlight
 * and Sunshine load over nanors' own): row @parity, column @data. */
guint8 fh_gs_audio_fec_coefficient (guint parity, guint data);
/* parity[j] = Σᵢ coefficient (j, i) · data[i], every shard @shard_size bytes. */
void fh_gs_audio_fec_encode (const guint8 *const data[FH_GS_AUDIO_DATA_SHARDS],
                             guint8 *const parity[FH_GS_AUDIO_PARITY_SHARDS], gsize shard_size);
/* @shards: 4 data then 2 parity shards of @shard_size bytes, @present which
 * arrived. Fills in the missing data shards (parity is left alone), or fails
 * with FH_GS_AUDIO_ERROR_UNRECOVERABLE when fewer than 4 arrived. */
gboolean fh_gs_audio_fec_recover (guint8 *const shards[FH_GS_AUDIO_TOTAL_SHARDS],
                                  const gboolean present[FH_GS_AUDIO_TOTAL_SHARDS],
                                  gsize shard_size, GError **error);

/* What one audio packet's headers say. */
typedef struct {
  guint8 payload_type; /* FH_GS_AUDIO_PAYLOAD_TYPE or FH_GS_AUDIO_FEC_PAYLOAD_TYPE */
  guint16 sequence;
  guint32 timestamp;
  guint32 ssrc;
  /* Parity packets only (the AUDIO_FEC_HEADER); for data packets
   * fec_shard_index is 0 and base_sequence the block's first sequence. */
  guint fec_shard_index;
  guint8 fec_payload_type;
  guint16 base_sequence;
  guint32 base_timestamp;
  guint32 fec_ssrc;
  const guint8 *payload; /* the (encrypted) Opus frame, or a parity shard */
  gsize payload_len;
} FhGsAudioPacketInfo;

/* Pure; checks every size before use. Accepts RTP version 2 without CSRCs
 * or extension, payload type 97 or 127, at most FH_GS_AUDIO_MAX_PACKET_SIZE
 * bytes; a parity packet needs its FEC header, a shard index below 2, a
 * block base that is a multiple of 4 and payload type 97 inside. */
gboolean fh_gs_audio_packet_parse (const guint8 *packet, gsize len, FhGsAudioPacketInfo *info,
                                   GError **error);

/* One frame out of the depacketizer, in sequence order. */
typedef struct {
  guint16 sequence;
  guint32 timestamp;
  GBytes *opus;      /* NULL: lost and not recoverable (conceal it) */
  gboolean recovered; /* restored from parity */
} FhGsAudioFrame;

void fh_gs_audio_frame_clear (FhGsAudioFrame *frame);

typedef struct {
  guint64 data_packets;
  guint64 parity_packets;
  guint64 recovered;   /* data packets restored from parity */
  guint64 lost;        /* data packets neither received nor restored */
  guint64 unrecoverable_blocks;
  guint64 undecryptable; /* received or restored, but failed to decrypt */
  guint64 dropped;     /* late (an older block), duplicate or wrong size */
  /* Packets whose payload size differs from the first of their block's:
   * Moonlight (RtpAudioQueue.c) turns audio FEC off for the session at
   * the first one ("Audio block size mismatch"), so a host must never
   * send them (constant-bitrate Opus). */
  guint64 size_mismatches;
} FhGsAudioStats;

typedef struct _FhGsAudioDepacketizer FhGsAudioDepacketizer;

/* The receiving end, as RtpAudioQueue.c and AudioStream.c: one FEC block
 * open at a time. */
FhGsAudioDepacketizer *fh_gs_audio_depacketizer_new (const FhGsAudioConfig *config,
                                                     GError **error);
void fh_gs_audio_depacketizer_free (FhGsAudioDepacketizer *depacketizer);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (FhGsAudioDepacketizer, fh_gs_audio_depacketizer_free)

/* Parses @packet and files it in its block. A packet of a later block first
 * closes the open one (see _flush); one of an earlier block is dropped. A
 * packet that does not parse fails with FH_GS_AUDIO_ERROR_MALFORMED and
 * changes nothing. */
gboolean fh_gs_audio_depacketizer_push (FhGsAudioDepacketizer *depacketizer, const guint8 *packet,
                                        gsize len, GError **error);
/* Closes the open block: restores missing data packets from parity,
 * decrypts, and queues its 4 frames (lost ones with opus NULL). Fails with
 * FH_GS_AUDIO_ERROR_UNRECOVERABLE when data was lost beyond repair (the
 * frames are queued all the same). No open block: TRUE. */
gboolean fh_gs_audio_depacketizer_flush (FhGsAudioDepacketizer *depacketizer, GError **error);
/* Takes the next queued frame; FALSE when none is queued. */
gboolean fh_gs_audio_depacketizer_pop (FhGsAudioDepacketizer *depacketizer, FhGsAudioFrame *frame);
const FhGsAudioStats *fh_gs_audio_depacketizer_stats (const FhGsAudioDepacketizer *depacketizer);
