/* GameStream control and audio encryption (see stream-crypto.h). */
#include "planes/gamestream/protocol/stream-crypto.h"

#include <openssl/evp.h>
#include <string.h>

#include "planes/gamestream/protocol/wire.h"

G_DEFINE_QUARK (fh-gs-crypto-error-quark, fh_gs_crypto_error)

G_DEFINE_AUTOPTR_CLEANUP_FUNC (EVP_CIPHER_CTX, EVP_CIPHER_CTX_free)

/* GameStream's GCM IVs: the sequence little-endian, zeros, who sent it,
 * and which stream ('C' control, 'R' RTSP). */
static void
gcm_iv (guint32 sequence, FhGsControlOrigin origin, char stream, guint8 iv[12])
{
  memset (iv, 0, 12);
  iv[0] = (guint8) sequence;
  iv[1] = (guint8) (sequence >> 8);
  iv[2] = (guint8) (sequence >> 16);
  iv[3] = (guint8) (sequence >> 24);
  iv[10] = (guint8) origin;
  iv[11] = (guint8) stream;
}

/* AES-128-GCM of @len bytes, no associated data; @tag is written when
 * encrypting and checked when decrypting. */
static gboolean
gcm (gboolean encrypt, const guint8 key[FH_GS_KEY_SIZE], const guint8 iv[12], const guint8 *in,
     gsize len, guint8 *out, guint8 tag[FH_GS_CONTROL_TAG_SIZE])
{
  g_autoptr (EVP_CIPHER_CTX) ctx = EVP_CIPHER_CTX_new ();
  int n = 0, tail = 0;

  if (!ctx || len > G_MAXINT)
    return FALSE;
  if (encrypt)
    return EVP_EncryptInit_ex (ctx, EVP_aes_128_gcm (), NULL, key, iv) &&
           EVP_EncryptUpdate (ctx, out, &n, in, (int) len) &&
           EVP_EncryptFinal_ex (ctx, out + n, &tail) &&
           EVP_CIPHER_CTX_ctrl (ctx, EVP_CTRL_GCM_GET_TAG, FH_GS_CONTROL_TAG_SIZE, tag);
  return EVP_DecryptInit_ex (ctx, EVP_aes_128_gcm (), NULL, key, iv) &&
         EVP_DecryptUpdate (ctx, out, &n, in, (int) len) &&
         EVP_CIPHER_CTX_ctrl (ctx, EVP_CTRL_GCM_SET_TAG, FH_GS_CONTROL_TAG_SIZE, tag) &&
         EVP_DecryptFinal_ex (ctx, out + n, &tail) > 0;
}

void
fh_gs_control_iv (guint32 sequence, FhGsControlOrigin origin, guint8 iv[12])
{
  gcm_iv (sequence, origin, 'C', iv);
}

GBytes *
fh_gs_control_encrypt (const guint8 key[FH_GS_KEY_SIZE], guint32 sequence, FhGsControlOrigin origin,
                       guint16 type, const guint8 *payload, gsize payload_len, GError **error)
{
  gsize plain_len = FH_GS_CONTROL_V2_HEADER + payload_len;
  gsize total = FH_GS_CONTROL_ENCRYPTED_HEADER + FH_GS_CONTROL_TAG_SIZE + plain_len;
  g_autofree guint8 *plain = NULL, *out = NULL;
  guint8 iv[12];

  if (payload_len > FH_GS_CONTROL_MAX_PAYLOAD) {
    g_set_error (error, FH_GS_CRYPTO_ERROR, FH_GS_CRYPTO_ERROR_MALFORMED,
                 "control message payload of %" G_GSIZE_FORMAT " bytes is over %d", payload_len,
                 FH_GS_CONTROL_MAX_PAYLOAD);
    return NULL;
  }
  plain = g_malloc (plain_len);
  fh_gs_put_le16 (plain, type);
  fh_gs_put_le16 (plain + 2, (guint16) payload_len);
  if (payload_len)
    memcpy (plain + FH_GS_CONTROL_V2_HEADER, payload, payload_len);

  out = g_malloc (total);
  fh_gs_put_le16 (out, FH_GS_CONTROL_ENCRYPTED_TYPE);
  /* The length counts what follows it: sequence, tag, ciphertext. */
  fh_gs_put_le16 (out + 2, (guint16) (total - 4));
  out[4] = (guint8) sequence;
  out[5] = (guint8) (sequence >> 8);
  out[6] = (guint8) (sequence >> 16);
  out[7] = (guint8) (sequence >> 24);
  fh_gs_control_iv (sequence, origin, iv);
  if (!gcm (TRUE, key, iv, plain, plain_len,
            out + FH_GS_CONTROL_ENCRYPTED_HEADER + FH_GS_CONTROL_TAG_SIZE,
            out + FH_GS_CONTROL_ENCRYPTED_HEADER)) {
    g_set_error (error, FH_GS_CRYPTO_ERROR, FH_GS_CRYPTO_ERROR_CRYPTO, "AES-GCM encryption failed");
    return NULL;
  }
  return g_bytes_new_take (g_steal_pointer (&out), total);
}

gboolean
fh_gs_control_decrypt (const guint8 key[FH_GS_KEY_SIZE], FhGsControlOrigin origin, const guint8 *packet,
                       gsize len, guint32 *sequence, guint16 *type, GBytes **payload, GError **error)
{
  g_autofree guint8 *plain = NULL;
  gsize declared, plain_len, inner_len;
  guint32 seq;
  guint8 iv[12], tag[FH_GS_CONTROL_TAG_SIZE];

  if (len < FH_GS_CONTROL_ENCRYPTED_HEADER + FH_GS_CONTROL_TAG_SIZE + FH_GS_CONTROL_V2_HEADER ||
      fh_gs_get_le16 (packet) != FH_GS_CONTROL_ENCRYPTED_TYPE) {
    g_set_error (error, FH_GS_CRYPTO_ERROR, FH_GS_CRYPTO_ERROR_MALFORMED,
                 "not an encrypted control message (%" G_GSIZE_FORMAT " bytes, type 0x%04x)", len,
                 len >= 2 ? fh_gs_get_le16 (packet) : 0);
    return FALSE;
  }
  declared = fh_gs_get_le16 (packet + 2);
  if (declared + 4 != len) {
    g_set_error (error, FH_GS_CRYPTO_ERROR, FH_GS_CRYPTO_ERROR_MALFORMED,
                 "encrypted control message says %" G_GSIZE_FORMAT " bytes follow, %" G_GSIZE_FORMAT
                 " do",
                 declared, len - 4);
    return FALSE;
  }
  seq = (guint32) packet[4] | (guint32) packet[5] << 8 | (guint32) packet[6] << 16 |
        (guint32) packet[7] << 24;
  plain_len = len - FH_GS_CONTROL_ENCRYPTED_HEADER - FH_GS_CONTROL_TAG_SIZE;
  plain = g_malloc (plain_len);
  memcpy (tag, packet + FH_GS_CONTROL_ENCRYPTED_HEADER, sizeof tag);
  fh_gs_control_iv (seq, origin, iv);
  if (!gcm (FALSE, key, iv, packet + FH_GS_CONTROL_ENCRYPTED_HEADER + FH_GS_CONTROL_TAG_SIZE,
            plain_len, plain, tag)) {
    g_set_error (error, FH_GS_CRYPTO_ERROR, FH_GS_CRYPTO_ERROR_AUTHENTICATION,
                 "control message %u does not authenticate: wrong key, or altered on the way", seq);
    return FALSE;
  }
  inner_len = fh_gs_get_le16 (plain + 2);
  if (inner_len != plain_len - FH_GS_CONTROL_V2_HEADER) {
    g_set_error (error, FH_GS_CRYPTO_ERROR, FH_GS_CRYPTO_ERROR_MALFORMED,
                 "control message %u says its payload has %" G_GSIZE_FORMAT " bytes, it has %" G_GSIZE_FORMAT,
                 seq, inner_len, plain_len - FH_GS_CONTROL_V2_HEADER);
    return FALSE;
  }
  *sequence = seq;
  *type = fh_gs_get_le16 (plain);
  *payload = g_bytes_new (plain + FH_GS_CONTROL_V2_HEADER, inner_len);
  return TRUE;
}

void
fh_gs_audio_iv (guint32 rikeyid, guint16 sequence, guint8 iv[16])
{
  guint32 v = rikeyid + sequence; /* wraps, as in the client */

  memset (iv, 0, 16);
  iv[0] = (guint8) (v >> 24);
  iv[1] = (guint8) (v >> 16);
  iv[2] = (guint8) (v >> 8);
  iv[3] = (guint8) v;
}

static GBytes *
audio_cbc (gboolean encrypt, const guint8 key[FH_GS_KEY_SIZE], guint32 rikeyid, guint16 sequence,
           const guint8 *in, gsize len, GError **error)
{
  g_autoptr (EVP_CIPHER_CTX) ctx = EVP_CIPHER_CTX_new ();
  g_autofree guint8 *out = NULL;
  guint8 iv[16];
  int n = 0, tail = 0;

  /* An Opus packet is at most 1275 bytes; bound it well above. */
  if (len > 65536 || (!encrypt && (len == 0 || len % 16 != 0))) {
    g_set_error (error, FH_GS_CRYPTO_ERROR, FH_GS_CRYPTO_ERROR_MALFORMED,
                 "audio payload of %" G_GSIZE_FORMAT " bytes cannot be %s", len,
                 encrypt ? "encrypted" : "AES-CBC ciphertext");
    return NULL;
  }
  out = g_malloc (len + 16);
  fh_gs_audio_iv (rikeyid, sequence, iv);
  if (!ctx || !EVP_CipherInit_ex (ctx, EVP_aes_128_cbc (), NULL, key, iv, encrypt ? 1 : 0) ||
      !EVP_CipherUpdate (ctx, out, &n, in, (int) len) || !EVP_CipherFinal_ex (ctx, out + n, &tail)) {
    g_set_error (error, FH_GS_CRYPTO_ERROR,
                 encrypt ? FH_GS_CRYPTO_ERROR_CRYPTO : FH_GS_CRYPTO_ERROR_AUTHENTICATION,
                 "audio packet %u: AES-CBC %s failed", sequence, encrypt ? "encryption" : "decryption");
    return NULL;
  }
  return g_bytes_new (out, (gsize) (n + tail));
}

GBytes *
fh_gs_audio_encrypt (const guint8 key[FH_GS_KEY_SIZE], guint32 rikeyid, guint16 sequence,
                     const guint8 *opus, gsize len, GError **error)
{
  return audio_cbc (TRUE, key, rikeyid, sequence, opus, len, error);
}

GBytes *
fh_gs_audio_decrypt (const guint8 key[FH_GS_KEY_SIZE], guint32 rikeyid, guint16 sequence,
                     const guint8 *data, gsize len, GError **error)
{
  return audio_cbc (FALSE, key, rikeyid, sequence, data, len, error);
}

GBytes *
fh_gs_rtsp_seal (const guint8 key[FH_GS_KEY_SIZE], guint32 sequence, FhGsControlOrigin origin,
                 const guint8 *message, gsize len, GError **error)
{
  g_autofree guint8 *out = NULL;
  guint8 iv[12];

  if (len == 0 || len > FH_GS_RTSP_MAX_SEALED) {
    g_set_error (error, FH_GS_CRYPTO_ERROR, FH_GS_CRYPTO_ERROR_MALFORMED,
                 "an RTSP message of %" G_GSIZE_FORMAT " bytes cannot be sealed", len);
    return NULL;
  }
  out = g_malloc (FH_GS_RTSP_SEALED_HEADER + len);
  fh_gs_put_be32 (out, FH_GS_RTSP_SEALED_BIT | (guint32) len);
  fh_gs_put_be32 (out + 4, sequence);
  gcm_iv (sequence, origin, 'R', iv);
  if (!gcm (TRUE, key, iv, message, len, out + FH_GS_RTSP_SEALED_HEADER, out + 8)) {
    g_set_error (error, FH_GS_CRYPTO_ERROR, FH_GS_CRYPTO_ERROR_CRYPTO, "AES-GCM encryption failed");
    return NULL;
  }
  return g_bytes_new_take (g_steal_pointer (&out), FH_GS_RTSP_SEALED_HEADER + len);
}

gboolean
fh_gs_rtsp_sealed_size (const guint8 *data, gsize len, gsize *total, GError **error)
{
  guint32 word;

  *total = 0;
  if (len < 4)
    return TRUE;
  word = fh_gs_get_be32 (data);
  if (!(word & FH_GS_RTSP_SEALED_BIT) || (word & ~FH_GS_RTSP_SEALED_BIT) == 0 ||
      (word & ~FH_GS_RTSP_SEALED_BIT) > FH_GS_RTSP_MAX_SEALED) {
    g_set_error (error, FH_GS_CRYPTO_ERROR, FH_GS_CRYPTO_ERROR_MALFORMED,
                 "not a sealed RTSP message (first word 0x%08x)", word);
    return FALSE;
  }
  *total = FH_GS_RTSP_SEALED_HEADER + (word & ~FH_GS_RTSP_SEALED_BIT);
  return TRUE;
}

GBytes *
fh_gs_rtsp_unseal (const guint8 key[FH_GS_KEY_SIZE], FhGsControlOrigin origin,
                   const guint8 *data, gsize len, guint32 *sequence, GError **error)
{
  g_autofree guint8 *plain = NULL;
  guint8 iv[12], tag[FH_GS_CONTROL_TAG_SIZE];
  gsize total;
  guint32 seq;

  if (!fh_gs_rtsp_sealed_size (data, len, &total, error))
    return NULL;
  if (total == 0 || total != len) {
    g_set_error (error, FH_GS_CRYPTO_ERROR, FH_GS_CRYPTO_ERROR_MALFORMED,
                 "a sealed RTSP message of %" G_GSIZE_FORMAT " bytes says it has %" G_GSIZE_FORMAT,
                 len, total);
    return NULL;
  }
  seq = fh_gs_get_be32 (data + 4);
  memcpy (tag, data + 8, sizeof tag);
  gcm_iv (seq, origin, 'R', iv);
  plain = g_malloc (len - FH_GS_RTSP_SEALED_HEADER);
  if (!gcm (FALSE, key, iv, data + FH_GS_RTSP_SEALED_HEADER, len - FH_GS_RTSP_SEALED_HEADER,
            plain, tag)) {
    g_set_error (error, FH_GS_CRYPTO_ERROR, FH_GS_CRYPTO_ERROR_AUTHENTICATION,
                 "RTSP message %u does not authenticate with this key", seq);
    return NULL;
  }
  if (sequence)
    *sequence = seq;
  return g_bytes_new_take (g_steal_pointer (&plain), len - FH_GS_RTSP_SEALED_HEADER);
}
