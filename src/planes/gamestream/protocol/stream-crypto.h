/* GameStream stream encryption with the session key (rikey) from the
 * launch request: the encrypted control-stream message (AES-128-GCM,
 * "encrypted control v2", moonlight-common-c ControlStream.c) and audio
 * payload encryption (AES-128-CBC, AudioStream.c). Formats and sources:
 * docs/gamestream.md, "Stream encryption". */
#pragma once

#include <glib.h>

#define FH_GS_KEY_SIZE 16
#define FH_GS_CONTROL_ENCRYPTED_TYPE 0x0001
#define FH_GS_CONTROL_TAG_SIZE 16
/* LE16 0x0001, LE16 length, LE32 sequence; then the tag. */
#define FH_GS_CONTROL_ENCRYPTED_HEADER 8
/* The encrypted part starts with the V2 header: LE16 type, LE16 length. */
#define FH_GS_CONTROL_V2_HEADER 4
/* An ENet packet is far smaller; this bounds what we allocate for one. */
#define FH_GS_CONTROL_MAX_PAYLOAD 4096

typedef enum {
  FH_GS_CRYPTO_ERROR_MALFORMED,
  FH_GS_CRYPTO_ERROR_AUTHENTICATION, /* tag mismatch, wrong key or IV, or tampering */
  FH_GS_CRYPTO_ERROR_CRYPTO,
} FhGsCryptoError;

#define FH_GS_CRYPTO_ERROR (fh_gs_crypto_error_quark ())
GQuark fh_gs_crypto_error_quark (void);

/* Who sent a control message: the IV's byte 10 ('H' or 'C'), so host and
 * client never use the same IV with the key. */
typedef enum {
  FH_GS_CONTROL_FROM_HOST = 'H',
  FH_GS_CONTROL_FROM_CLIENT = 'C',
} FhGsControlOrigin;

/* The 12-byte GCM IV: sequence LE32, six zero bytes, origin, 'C' (control). */
void fh_gs_control_iv (guint32 sequence, FhGsControlOrigin origin, guint8 iv[12]);

/* A whole encrypted control message for @type and @payload. */
GBytes *fh_gs_control_encrypt (const guint8 key[FH_GS_KEY_SIZE], guint32 sequence,
                               FhGsControlOrigin origin, guint16 type, const guint8 *payload,
                               gsize payload_len, GError **error);

/* Parses and decrypts one encrypted control message (pure; sizes are
 * checked before use). On success *payload holds the message's payload. */
gboolean fh_gs_control_decrypt (const guint8 key[FH_GS_KEY_SIZE], FhGsControlOrigin origin,
                                const guint8 *packet, gsize len, guint32 *sequence, guint16 *type,
                                GBytes **payload, GError **error);

/* Audio: IV = BE32(rikeyid + RTP sequence) then 12 zero bytes. */
void fh_gs_audio_iv (guint32 rikeyid, guint16 sequence, guint8 iv[16]);
/* AES-128-CBC with PKCS#7 padding: the payload after the RTP header. */
GBytes *fh_gs_audio_encrypt (const guint8 key[FH_GS_KEY_SIZE], guint32 rikeyid, guint16 sequence,
                             const guint8 *opus, gsize len, GError **error);
GBytes *fh_gs_audio_decrypt (const guint8 key[FH_GS_KEY_SIZE], guint32 rikeyid, guint16 sequence,
                             const guint8 *data, gsize len, GError **error);

/* RTSP over rtspenc:// (moonlight-common-c RtspConnection.c
 * sealRtspMessage): BE32 (0x80000000 | length), BE32 sequence, the 16-byte
 * GCM tag, then the RTSP text encrypted with the launch's key; IV as for
 * control messages with 'R' in byte 11. */
#define FH_GS_RTSP_SEALED_BIT 0x80000000u
#define FH_GS_RTSP_SEALED_HEADER 24
#define FH_GS_RTSP_MAX_SEALED 65536
GBytes *fh_gs_rtsp_seal (const guint8 key[FH_GS_KEY_SIZE], guint32 sequence,
                         FhGsControlOrigin origin, const guint8 *message, gsize len,
                         GError **error);
/* How many bytes the sealed message starting at @data has in all (0 while
 * fewer than 4 bytes are there); FALSE when @data is not one. Pure. */
gboolean fh_gs_rtsp_sealed_size (const guint8 *data, gsize len, gsize *total, GError **error);
/* Checks and decrypts one whole sealed message sent by @origin. */
GBytes *fh_gs_rtsp_unseal (const guint8 key[FH_GS_KEY_SIZE], FhGsControlOrigin origin,
                           const guint8 *data, gsize len, guint32 *sequence, GError **error);
