/* Unit tests of GameStream control and audio encryption
 * (src/planes/gamestream/protocol/stream-crypto.c) against known answers computed outside
 * funkhaus: AES-GCM messages with Python's `cryptography` package, AES-CBC
 * with `openssl enc -aes-128-cbc`. Both built the bytes from the layout in
 * docs/gamestream.md, not from our code. */
#include <string.h>

#include "planes/gamestream/protocol/pairing.h" /* fh_gs_hex_decode/encode */
#include "planes/gamestream/protocol/stream-crypto.h"

static const guint8 key[16] = { 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15 };

static void
assert_bytes_hex (GBytes *bytes, const char *hex)
{
  g_autofree char *got = fh_gs_hex_encode (g_bytes_get_data (bytes, NULL), g_bytes_get_size (bytes));

  g_assert_cmpint (g_ascii_strcasecmp (got, hex), ==, 0);
}

/* Python: AESGCM(key).encrypt(seq LE32 + 6 zeros + origin + 'C',
 * type LE16 + len LE16 + payload, None), packed as 0x0001 LE16, length
 * LE16, seq LE32, tag, ciphertext. */
static const char host_vector[] = "01001e000500000084dba9bca91afcc5969dc6f0119581623787790bb923b5a38dc9";
static const char client_vector[] = "0100180004030201665e51dbe28f1847d125bca33012619512df681b";

static void
test_control_iv (void)
{
  guint8 iv[12];
  static const guint8 want[12] = { 0x04, 0x03, 0x02, 0x01, 0, 0, 0, 0, 0, 0, 'H', 'C' };

  fh_gs_control_iv (0x01020304, FH_GS_CONTROL_FROM_HOST, iv);
  g_assert_cmpmem (iv, 12, want, 12);
}

static void
test_control_encrypt (void)
{
  static const guint8 payload[] = { 1, 2, 3, 4, 5, 6 };
  g_autoptr (GError) error = NULL;
  g_autoptr (GBytes) host = fh_gs_control_encrypt (key, 5, FH_GS_CONTROL_FROM_HOST, 0x010b, payload,
                                                   sizeof payload, &error);
  g_autoptr (GBytes) client = fh_gs_control_encrypt (key, 0x01020304, FH_GS_CONTROL_FROM_CLIENT, 0x0302,
                                                     NULL, 0, &error);

  g_assert_no_error (error);
  assert_bytes_hex (host, host_vector);
  assert_bytes_hex (client, client_vector);
}

static void
test_control_decrypt (void)
{
  g_autoptr (GBytes) packet = fh_gs_hex_decode (client_vector);
  g_autoptr (GBytes) payload = NULL;
  g_autoptr (GError) error = NULL;
  guint32 seq = 0;
  guint16 type = 0;
  gsize len;
  g_autofree guint8 *bad = g_memdup2 (g_bytes_get_data (packet, &len), g_bytes_get_size (packet));

  g_assert_true (fh_gs_control_decrypt (key, FH_GS_CONTROL_FROM_CLIENT, g_bytes_get_data (packet, NULL),
                                        len, &seq, &type, &payload, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (seq, ==, 0x01020304);
  g_assert_cmpuint (type, ==, 0x0302);
  g_assert_cmpuint (g_bytes_get_size (payload), ==, 0);

  /* Host and client use different IVs: the client's message, taken as
   * the host's, must fail. */
  g_assert_false (fh_gs_control_decrypt (key, FH_GS_CONTROL_FROM_HOST, bad, len, &seq, &type, &payload,
                                         &error));
  g_assert_error (error, FH_GS_CRYPTO_ERROR, FH_GS_CRYPTO_ERROR_AUTHENTICATION);
  g_clear_error (&error);

  /* Every single flipped bit after the length is caught. */
  for (gsize i = 4; i < len; i++) {
    for (guint bit = 0; bit < 8; bit++) {
      g_autoptr (GBytes) p = NULL;

      bad[i] ^= (guint8) (1 << bit);
      g_assert_false (fh_gs_control_decrypt (key, FH_GS_CONTROL_FROM_CLIENT, bad, len, &seq, &type, &p,
                                             NULL));
      bad[i] ^= (guint8) (1 << bit);
    }
  }
}

static void
test_control_round_trip (void)
{
  guint8 payload[300];
  g_autoptr (GError) error = NULL;

  for (guint i = 0; i < sizeof payload; i++)
    payload[i] = (guint8) (i * 7);
  for (gsize n = 0; n <= sizeof payload; n += 37) {
    g_autoptr (GBytes) packet = fh_gs_control_encrypt (key, (guint32) n, FH_GS_CONTROL_FROM_HOST, 0x0206,
                                                       payload, n, &error);
    g_autoptr (GBytes) out = NULL;
    guint32 seq;
    guint16 type;

    g_assert_no_error (error);
    g_assert_true (fh_gs_control_decrypt (key, FH_GS_CONTROL_FROM_HOST, g_bytes_get_data (packet, NULL),
                                          g_bytes_get_size (packet), &seq, &type, &out, &error));
    g_assert_cmpuint (seq, ==, n);
    g_assert_cmpuint (type, ==, 0x0206);
    g_assert_cmpmem (g_bytes_get_data (out, NULL), g_bytes_get_size (out), payload, n);
  }
}

static void
test_control_malformed (void)
{
  g_autoptr (GBytes) packet = fh_gs_hex_decode (host_vector);
  gsize len;
  g_autofree guint8 *buf = g_memdup2 (g_bytes_get_data (packet, &len), g_bytes_get_size (packet));
  g_autoptr (GBytes) payload = NULL;
  g_autoptr (GError) error = NULL;
  guint32 seq;
  guint16 type;

  /* Every truncation is refused before any decryption. */
  for (gsize n = 0; n < len; n++) {
    g_assert_false (fh_gs_control_decrypt (key, FH_GS_CONTROL_FROM_HOST, buf, n, &seq, &type, &payload, &error));
    g_assert_error (error, FH_GS_CRYPTO_ERROR, FH_GS_CRYPTO_ERROR_MALFORMED);
    g_clear_error (&error);
  }
  buf[0] = 0x02; /* not the encrypted type */
  g_assert_false (fh_gs_control_decrypt (key, FH_GS_CONTROL_FROM_HOST, buf, len, &seq, &type, &payload, &error));
  g_assert_error (error, FH_GS_CRYPTO_ERROR, FH_GS_CRYPTO_ERROR_MALFORMED);
}

static void
test_audio (void)
{
  static const char opus[] = "OpusPacketData-17";
  g_autoptr (GError) error = NULL;
  g_autoptr (GBytes) enc = NULL, dec = NULL, empty = NULL;
  guint8 iv[16];
  static const guint8 want_iv[16] = { 0x00, 0x01, 0xe5, 0x55 };

  /* rikeyid 123456 + sequence 789 = 0x0001e555, big-endian. */
  fh_gs_audio_iv (123456, 789, iv);
  g_assert_cmpmem (iv, 16, want_iv, 16);
  /* openssl enc -aes-128-cbc -K 000102…0f -iv 0001e555000…0 (PKCS#7). */
  enc = fh_gs_audio_encrypt (key, 123456, 789, (const guint8 *) opus, strlen (opus), &error);
  g_assert_no_error (error);
  assert_bytes_hex (enc, "2dd67384f397183d90ea1f108bd280edd259fe6fc0d78d43c3498d0d34b6348a");
  dec = fh_gs_audio_decrypt (key, 123456, 789, g_bytes_get_data (enc, NULL), g_bytes_get_size (enc), &error);
  g_assert_no_error (error);
  g_assert_cmpmem (g_bytes_get_data (dec, NULL), g_bytes_get_size (dec), opus, strlen (opus));

  /* The sum wraps: 0xfffffff0 + 0x20 = 0x10 (openssl, empty input). */
  empty = fh_gs_audio_encrypt (key, 0xfffffff0, 0x20, NULL, 0, &error);
  assert_bytes_hex (empty, "bbc7244334698cce1cf6ddc18b164e37");

  g_assert_null (fh_gs_audio_decrypt (key, 123456, 789, g_bytes_get_data (enc, NULL), 31, &error));
  g_assert_error (error, FH_GS_CRYPTO_ERROR, FH_GS_CRYPTO_ERROR_MALFORMED);
}

/* rtspenc: the vector was computed with Python's cryptography (AESGCM),
 * independently of this code: key 00..0f, sequence 1, from the client
 * (IV: seq LE32, 6 zeros, 'C', 'R'). */
static const char sealed_options_hex[] =
  "8000004a00000001aa8ca94de4896649f650ff18f46880e99fe452003a42126629e9a38daca4f663a0b4c5ec51"
  "aa0265930c8c3181ede1fa583ffad30508461aebf911908cd92b11a0a3b8f2713d639beabb9acf618e39892ab1"
  "3bdfb2487bc30b57";
static const char options_text[] =
  "OPTIONS rtsp://0.0.0.0:48010 RTSP/1.0\r\nCSeq: 1\r\nX-GS-ClientVersion: 14\r\n\r\n";

static void
test_rtsp_seal (void)
{
  g_autoptr (GBytes) want = NULL, sealed = NULL, opened = NULL, wrong = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree guint8 *tampered = NULL;
  gsize total = 0, len;
  guint32 seq = 0;

  want = fh_gs_hex_decode (sealed_options_hex);
  g_assert_nonnull (want);
  sealed = fh_gs_rtsp_seal (key, 1, FH_GS_CONTROL_FROM_CLIENT, (const guint8 *) options_text,
                            strlen (options_text), &error);
  g_assert_no_error (error);
  g_assert_true (g_bytes_equal (sealed, want));

  g_assert_true (fh_gs_rtsp_sealed_size (g_bytes_get_data (want, NULL), 3, &total, &error));
  g_assert_cmpuint (total, ==, 0);
  g_assert_true (fh_gs_rtsp_sealed_size (g_bytes_get_data (want, &len), len, &total, &error));
  g_assert_cmpuint (total, ==, len);
  g_assert_false (fh_gs_rtsp_sealed_size ((const guint8 *) "OPTIONS", 7, &total, &error));
  g_assert_error (error, FH_GS_CRYPTO_ERROR, FH_GS_CRYPTO_ERROR_MALFORMED);
  g_clear_error (&error);

  opened = fh_gs_rtsp_unseal (key, FH_GS_CONTROL_FROM_CLIENT, g_bytes_get_data (want, NULL), len,
                              &seq, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (seq, ==, 1);
  g_assert_cmpmem (g_bytes_get_data (opened, NULL), g_bytes_get_size (opened), options_text,
                   strlen (options_text));
  /* The host's direction has another IV: the same bytes do not open. */
  wrong = fh_gs_rtsp_unseal (key, FH_GS_CONTROL_FROM_HOST, g_bytes_get_data (want, NULL), len,
                             NULL, &error);
  g_assert_null (wrong);
  g_assert_error (error, FH_GS_CRYPTO_ERROR, FH_GS_CRYPTO_ERROR_AUTHENTICATION);
  g_clear_error (&error);
  tampered = g_memdup2 (g_bytes_get_data (want, NULL), len);
  tampered[len - 1] ^= 1;
  g_assert_null (fh_gs_rtsp_unseal (key, FH_GS_CONTROL_FROM_CLIENT, tampered, len, NULL, &error));
  g_assert_error (error, FH_GS_CRYPTO_ERROR, FH_GS_CRYPTO_ERROR_AUTHENTICATION);
  g_clear_error (&error);
  g_assert_null (fh_gs_rtsp_unseal (key, FH_GS_CONTROL_FROM_CLIENT, tampered, len - 1, NULL, &error));
  g_assert_error (error, FH_GS_CRYPTO_ERROR, FH_GS_CRYPTO_ERROR_MALFORMED);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/gs-crypto/control-iv", test_control_iv);
  g_test_add_func ("/gs-crypto/control-encrypt", test_control_encrypt);
  g_test_add_func ("/gs-crypto/control-decrypt", test_control_decrypt);
  g_test_add_func ("/gs-crypto/control-round-trip", test_control_round_trip);
  g_test_add_func ("/gs-crypto/control-malformed", test_control_malformed);
  g_test_add_func ("/gs-crypto/audio", test_audio);
  g_test_add_func ("/gs-crypto/rtsp-seal", test_rtsp_seal);
  return g_test_run ();
}
