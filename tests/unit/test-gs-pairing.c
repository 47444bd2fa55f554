/* Unit tests of GameStream pairing (src/planes/gamestream/protocol/pairing.c): fixed
 * vectors from the openssl command line (gs-pairing-vectors.h, made by
 * gen-gs-pairing-vectors.sh), and a client played here against the host. */
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <string.h>

#include "planes/gamestream/protocol/pairing.h"
#include "gs-pairing-vectors.h"

G_DEFINE_AUTOPTR_CLEANUP_FUNC (EVP_PKEY, EVP_PKEY_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (EVP_MD_CTX, EVP_MD_CTX_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (X509, X509_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (BIO, BIO_free)

static const guint8 server_secret[16] = { 0x20, 0x21, 0x22, 0x23, 0x24, 0x25, 0x26, 0x27,
                                          0x28, 0x29, 0x2a, 0x2b, 0x2c, 0x2d, 0x2e, 0x2f };
static const guint8 server_challenge[16] = { 0x30, 0x31, 0x32, 0x33, 0x34, 0x35, 0x36, 0x37,
                                             0x38, 0x39, 0x3a, 0x3b, 0x3c, 0x3d, 0x3e, 0x3f };


static char *
hex_of (const char *text)
{
  return fh_gs_hex_encode ((const guint8 *) text, strlen (text));
}

static void
test_key_and_aes (void)
{
  g_autoptr (GBytes) salt = fh_gs_hex_decode (vec_salt_hex);
  guint8 key[16], challenge[16], enc[16], dec[16];
  g_autofree char *key_hex = NULL, *enc_hex = NULL;

  fh_gs_pairing_derive_key (FH_GS_PAIRING_HASH_SHA256, g_bytes_get_data (salt, NULL), vec_pin, key);
  key_hex = fh_gs_hex_encode (key, 16);
  g_assert_cmpint (g_ascii_strcasecmp (key_hex, vec_aes_key_hex), ==, 0);

  for (guint i = 0; i < 16; i++)
    challenge[i] = (guint8) (0x10 + i);
  g_assert_true (fh_gs_pairing_aes_ecb (TRUE, key, challenge, 16, enc));
  enc_hex = fh_gs_hex_encode (enc, 16);
  g_assert_cmpint (g_ascii_strcasecmp (enc_hex, vec_phase2_request_hex), ==, 0);
  g_assert_true (fh_gs_pairing_aes_ecb (FALSE, key, enc, 16, dec));
  g_assert_cmpmem (dec, 16, challenge, 16);
  g_assert_false (fh_gs_pairing_aes_ecb (TRUE, key, challenge, 15, enc));

  /* SHA-1 for pre-7 hosts: the first 16 bytes of `openssl dgst -sha1` over
   * the same salt and PIN. */
  fh_gs_pairing_derive_key (FH_GS_PAIRING_HASH_SHA1, g_bytes_get_data (salt, NULL), vec_pin, key);
  g_free (key_hex);
  key_hex = fh_gs_hex_encode (key, 16);
  g_assert_cmpstr (key_hex, ==, "D0C7726C5E06CC5EB04AFD01175979A2");
}

static void
test_fixed_phases (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (FhGsIdentity) host = fh_gs_identity_new_from_pem (host_cert_pem, host_key_pem, &error);
  g_autoptr (FhGsPairing) pairing = NULL;
  g_autofree char *client_cert_hex = hex_of (client_cert_pem), *plaincert = NULL;
  g_autofree char *challenge_response = NULL, *pairing_secret = NULL, *want_cert = NULL;

  g_assert_no_error (error);
  pairing = fh_gs_pairing_new (host, FH_GS_PAIRING_HASH_SHA256, "fixed");
  fh_gs_pairing_set_fixed_random (pairing, server_secret, server_challenge);

  plaincert = fh_gs_pairing_get_server_cert (pairing, vec_salt_hex, vec_pin, client_cert_hex, &error);
  g_assert_no_error (error);
  want_cert = hex_of (host_cert_pem);
  g_assert_cmpstr (plaincert, ==, want_cert);
  g_assert_cmpint (fh_gs_pairing_get_state (pairing), ==, FH_GS_PAIRING_STATE_SERVER_CERT_SENT);

  challenge_response = fh_gs_pairing_client_challenge (pairing, vec_phase2_request_hex, &error);
  g_assert_no_error (error);
  g_assert_cmpint (g_ascii_strcasecmp (challenge_response, vec_phase2_response_hex), ==, 0);

  pairing_secret = fh_gs_pairing_server_challenge_resp (pairing, vec_phase3_request_hex, &error);
  g_assert_no_error (error);
  g_assert_cmpint (g_ascii_strcasecmp (pairing_secret, vec_phase3_response_hex), ==, 0);

  g_assert_true (fh_gs_pairing_client_pairing_secret (pairing, vec_phase4_request_hex, &error));
  g_assert_no_error (error);
  g_assert_cmpint (fh_gs_pairing_get_state (pairing), ==, FH_GS_PAIRING_STATE_PAIRED);
  g_assert_cmpstr (fh_gs_pairing_client_cert_pem (pairing), ==, client_cert_pem);
}

/* ---- a client, as Moonlight's pairing manager does it ---- */

typedef struct {
  FhGsPairingHash hash;
  const char *pin;
  EVP_PKEY *key;
  const char *cert_pem;
  gboolean corrupt_signature;
  guint8 aes[16];
  guint8 challenge[16];
  guint8 secret[16];
  guint8 server_response[32];
  guint8 server_challenge[16];
  char *server_cert_pem;
} Client;

static GBytes *
sign (EVP_PKEY *key, const guint8 *data, gsize len)
{
  g_autoptr (EVP_MD_CTX) ctx = EVP_MD_CTX_new ();
  gsize n = 0;
  guint8 *sig;

  g_assert_true (EVP_DigestSignInit (ctx, NULL, EVP_sha256 (), NULL, key));
  g_assert_true (EVP_DigestSign (ctx, NULL, &n, data, len));
  sig = g_malloc (n);
  g_assert_true (EVP_DigestSign (ctx, sig, &n, data, len));
  return g_bytes_new_take (sig, n);
}

static X509 *
parse_cert (const char *pem)
{
  g_autoptr (BIO) bio = BIO_new_mem_buf (pem, -1);

  return PEM_read_bio_X509 (bio, NULL, NULL, NULL);
}

/* Runs all four phases; returns whether the host said paired, and sets
 * @client_trusts to whether the client's own checks of the host passed. */
static gboolean
run_client (Client *c, FhGsPairing *pairing, gboolean *client_trusts, GError **error)
{
  guint8 salt[16], buf[64];
  g_autofree char *salt_hex = NULL, *cert_hex = hex_of (c->cert_pem), *plaincert = NULL;
  g_autofree char *req = NULL, *resp = NULL, *secret_hex = NULL;
  g_autoptr (GBytes) pc = NULL, r = NULL, server_sig = NULL, client_sig = NULL, sig = NULL;
  g_autoptr (GByteArray) hashed = g_byte_array_new ();
  g_autoptr (GByteArray) final = g_byte_array_new ();
  g_autoptr (X509) server_cert = NULL;
  g_autoptr (EVP_MD_CTX) vctx = EVP_MD_CTX_new ();
  guint8 digest[32];
  gsize hash_len, n;
  const guint8 *p;

  *client_trusts = FALSE;
  for (guint i = 0; i < 16; i++) {
    salt[i] = (guint8) g_random_int ();
    c->challenge[i] = (guint8) g_random_int ();
    c->secret[i] = (guint8) g_random_int ();
  }
  salt_hex = fh_gs_hex_encode (salt, 16);
  fh_gs_pairing_derive_key (c->hash, salt, c->pin, c->aes);

  /* 1: getservercert */
  if (!(plaincert = fh_gs_pairing_get_server_cert (pairing, salt_hex, "4821", cert_hex, error)))
    return FALSE;
  pc = fh_gs_hex_decode (plaincert);
  c->server_cert_pem = g_strndup (g_bytes_get_data (pc, NULL), g_bytes_get_size (pc));
  server_cert = parse_cert (c->server_cert_pem);
  g_assert_nonnull (server_cert);

  /* 2: clientchallenge */
  g_assert_true (fh_gs_pairing_aes_ecb (TRUE, c->aes, c->challenge, 16, buf));
  req = fh_gs_hex_encode (buf, 16);
  if (!(resp = fh_gs_pairing_client_challenge (pairing, req, error)))
    return FALSE;
  r = fh_gs_hex_decode (resp);
  g_assert_cmpuint (g_bytes_get_size (r), ==, 48);
  g_assert_true (fh_gs_pairing_aes_ecb (FALSE, c->aes, g_bytes_get_data (r, NULL), 48, buf));
  hash_len = c->hash == FH_GS_PAIRING_HASH_SHA1 ? 20 : 32;
  memcpy (c->server_response, buf, hash_len);
  memcpy (c->server_challenge, buf + hash_len, 16);

  /* 3: serverchallengeresp = AES(hash(server challenge || our cert's
   * signature || our secret)), zero-padded to 32 bytes. */
  client_sig = fh_gs_pairing_cert_signature (c->cert_pem, NULL);
  g_byte_array_append (hashed, c->server_challenge, 16);
  g_byte_array_append (hashed, g_bytes_get_data (client_sig, NULL), (guint) g_bytes_get_size (client_sig));
  g_byte_array_append (hashed, c->secret, 16);
  memset (buf, 0, 32);
  fh_gs_pairing_digest (c->hash, hashed->data, hashed->len, buf);
  g_assert_true (fh_gs_pairing_aes_ecb (TRUE, c->aes, buf, 32, buf + 32));
  g_free (req);
  req = fh_gs_hex_encode (buf + 32, 32);
  g_free (resp);
  if (!(resp = fh_gs_pairing_server_challenge_resp (pairing, req, error)))
    return FALSE;

  /* The host's secret must be signed by its certificate's key, and
   * hash(our challenge || its cert signature || its secret) must be what
   * it sent in phase 2: only then did the host know the PIN. */
  g_bytes_unref (r);
  r = fh_gs_hex_decode (resp);
  p = g_bytes_get_data (r, &n);
  g_assert_cmpuint (n, ==, 16 + 256);
  server_sig = fh_gs_pairing_cert_signature (c->server_cert_pem, NULL);
  g_byte_array_set_size (hashed, 0);
  g_byte_array_append (hashed, c->challenge, 16);
  g_byte_array_append (hashed, g_bytes_get_data (server_sig, NULL), (guint) g_bytes_get_size (server_sig));
  g_byte_array_append (hashed, p, 16);
  fh_gs_pairing_digest (c->hash, hashed->data, hashed->len, digest);
  *client_trusts = memcmp (digest, c->server_response, hash_len) == 0 &&
                   EVP_DigestVerifyInit (vctx, NULL, EVP_sha256 (), NULL, X509_get0_pubkey (server_cert)) == 1 &&
                   EVP_DigestVerify (vctx, p + 16, n - 16, p, 16) == 1;

  /* 4: clientpairingsecret = our secret || its signature. */
  sig = sign (c->key, c->secret, 16);
  g_byte_array_append (final, c->secret, 16);
  g_byte_array_append (final, g_bytes_get_data (sig, NULL), (guint) g_bytes_get_size (sig));
  if (c->corrupt_signature)
    final->data[final->len - 1] ^= 1;
  secret_hex = fh_gs_hex_encode (final->data, final->len);
  return fh_gs_pairing_client_pairing_secret (pairing, secret_hex, error);
}

static EVP_PKEY *
client_key (void)
{
  g_autoptr (BIO) bio = BIO_new_mem_buf (client_key_pem, -1);

  return PEM_read_bio_PrivateKey (bio, NULL, NULL, NULL);
}

static void
test_client_end_to_end (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (FhGsIdentity) host = fh_gs_identity_new (&error);
  g_autoptr (EVP_PKEY) key = client_key ();
  const FhGsPairingHash hashes[] = { FH_GS_PAIRING_HASH_SHA256, FH_GS_PAIRING_HASH_SHA1 };

  g_assert_no_error (error);
  for (guint h = 0; h < G_N_ELEMENTS (hashes); h++) {
    g_autoptr (FhGsPairing) pairing = fh_gs_pairing_new (host, hashes[h], "client");
    Client c = { .hash = hashes[h], .pin = "4821", .key = key, .cert_pem = client_cert_pem };
    gboolean trusts;

    g_assert_true (run_client (&c, pairing, &trusts, &error));
    g_assert_no_error (error);
    g_assert_true (trusts);
    g_assert_cmpint (fh_gs_pairing_get_state (pairing), ==, FH_GS_PAIRING_STATE_PAIRED);
    g_free (c.server_cert_pem);
  }
}

static void
test_wrong_pin (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (FhGsIdentity) host = fh_gs_identity_new_from_pem (host_cert_pem, host_key_pem, NULL);
  g_autoptr (FhGsPairing) pairing = fh_gs_pairing_new (host, FH_GS_PAIRING_HASH_SHA256, "wrong");
  g_autoptr (EVP_PKEY) key = client_key ();
  Client c = { .hash = FH_GS_PAIRING_HASH_SHA256, .pin = "4812", .key = key, .cert_pem = client_cert_pem };
  gboolean trusts;

  g_assert_false (run_client (&c, pairing, &trusts, &error));
  g_assert_error (error, FH_GS_PAIRING_ERROR, FH_GS_PAIRING_ERROR_WRONG_PIN);
  g_assert_false (trusts); /* and the client does not trust the host either */
  g_assert_cmpint (fh_gs_pairing_get_state (pairing), ==, FH_GS_PAIRING_STATE_FAILED);
  g_assert_null (fh_gs_pairing_client_cert_pem (pairing));
  g_free (c.server_cert_pem);
}

static void
test_bad_signature (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (FhGsIdentity) host = fh_gs_identity_new_from_pem (host_cert_pem, host_key_pem, NULL);
  g_autoptr (FhGsPairing) pairing = fh_gs_pairing_new (host, FH_GS_PAIRING_HASH_SHA256, "sig");
  g_autoptr (EVP_PKEY) key = client_key ();
  Client c = { .hash = FH_GS_PAIRING_HASH_SHA256, .pin = "4821", .key = key, .cert_pem = client_cert_pem,
               .corrupt_signature = TRUE };
  gboolean trusts;

  g_assert_false (run_client (&c, pairing, &trusts, &error));
  g_assert_error (error, FH_GS_PAIRING_ERROR, FH_GS_PAIRING_ERROR_BAD_SIGNATURE);
  g_assert_true (trusts);
  g_free (c.server_cert_pem);
}

static void
test_out_of_order_and_bad_input (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (FhGsIdentity) host = fh_gs_identity_new_from_pem (host_cert_pem, host_key_pem, NULL);
  g_autoptr (FhGsPairing) p1 = fh_gs_pairing_new (host, FH_GS_PAIRING_HASH_SHA256, "a");
  g_autoptr (FhGsPairing) p2 = fh_gs_pairing_new (host, FH_GS_PAIRING_HASH_SHA256, "b");
  g_autoptr (FhGsPairing) p3 = fh_gs_pairing_new (host, FH_GS_PAIRING_HASH_SHA256, "c");
  g_autofree char *cert_hex = hex_of (client_cert_pem), *plain = NULL;

  g_assert_null (fh_gs_pairing_client_challenge (p1, vec_phase2_request_hex, &error));
  g_assert_error (error, FH_GS_PAIRING_ERROR, FH_GS_PAIRING_ERROR_OUT_OF_ORDER);
  g_clear_error (&error);
  /* A failed attempt stays failed. */
  g_assert_null (fh_gs_pairing_get_server_cert (p1, vec_salt_hex, "1234", cert_hex, &error));
  g_assert_error (error, FH_GS_PAIRING_ERROR, FH_GS_PAIRING_ERROR_OUT_OF_ORDER);
  g_clear_error (&error);

  g_assert_null (fh_gs_pairing_get_server_cert (p2, "00zz", "1234", cert_hex, &error));
  g_assert_error (error, FH_GS_PAIRING_ERROR, FH_GS_PAIRING_ERROR_BAD_INPUT);
  g_clear_error (&error);
  g_assert_cmpint (fh_gs_pairing_get_state (p2), ==, FH_GS_PAIRING_STATE_FAILED);

  g_assert_null (fh_gs_pairing_get_server_cert (p3, vec_salt_hex, "12a4", cert_hex, &error));
  g_assert_error (error, FH_GS_PAIRING_ERROR, FH_GS_PAIRING_ERROR_BAD_INPUT);
  g_clear_error (&error);

  {
    g_autoptr (FhGsPairing) p4 = fh_gs_pairing_new (host, FH_GS_PAIRING_HASH_SHA256, "d");
    g_autofree char *junk = hex_of ("-----BEGIN CERTIFICATE-----\nnope\n");

    g_assert_null (fh_gs_pairing_get_server_cert (p4, vec_salt_hex, "1234", junk, &error));
    g_assert_error (error, FH_GS_PAIRING_ERROR, FH_GS_PAIRING_ERROR_BAD_INPUT);
    g_clear_error (&error);
  }
  {
    g_autoptr (FhGsPairing) p5 = fh_gs_pairing_new (host, FH_GS_PAIRING_HASH_SHA256, "e");

    plain = fh_gs_pairing_get_server_cert (p5, vec_salt_hex, "1234", cert_hex, &error);
    g_assert_no_error (error);
    /* 15 bytes of challenge. */
    g_assert_null (fh_gs_pairing_client_challenge (p5, "000102030405060708090a0b0c0d0e", &error));
    g_assert_error (error, FH_GS_PAIRING_ERROR, FH_GS_PAIRING_ERROR_BAD_INPUT);
    g_clear_error (&error);
  }
}

static void
test_identity (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (FhGsIdentity) id = fh_gs_identity_new (&error);
  g_autoptr (FhGsIdentity) again = NULL, mismatched = NULL;
  g_autofree char *key_pem = NULL;
  g_autoptr (X509) cert = NULL;

  g_assert_no_error (error);
  cert = parse_cert (fh_gs_identity_cert_pem (id));
  g_assert_nonnull (cert);
  g_assert_cmpint (EVP_PKEY_get_base_id (X509_get0_pubkey (cert)), ==, EVP_PKEY_RSA);
  g_assert_cmpint (EVP_PKEY_get_bits (X509_get0_pubkey (cert)), ==, 2048);
  g_assert_cmpint (X509_verify (cert, X509_get0_pubkey (cert)), ==, 1); /* self-signed */
  g_assert_cmpint (X509_get_signature_nid (cert), ==, NID_sha256WithRSAEncryption);
  g_assert_cmpint (X509_cmp_time (X509_get0_notAfter (cert), NULL), >, 0);

  key_pem = fh_gs_identity_key_pem (id);
  again = fh_gs_identity_new_from_pem (fh_gs_identity_cert_pem (id), key_pem, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (fh_gs_identity_cert_pem (again), ==, fh_gs_identity_cert_pem (id));

  mismatched = fh_gs_identity_new_from_pem (host_cert_pem, key_pem, &error);
  g_assert_null (mismatched);
  g_assert_error (error, FH_GS_PAIRING_ERROR, FH_GS_PAIRING_ERROR_BAD_INPUT);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/gs-pairing/key-and-aes", test_key_and_aes);
  g_test_add_func ("/gs-pairing/fixed-phases", test_fixed_phases);
  g_test_add_func ("/gs-pairing/client-end-to-end", test_client_end_to_end);
  g_test_add_func ("/gs-pairing/wrong-pin", test_wrong_pin);
  g_test_add_func ("/gs-pairing/bad-signature", test_bad_signature);
  g_test_add_func ("/gs-pairing/out-of-order-and-bad-input", test_out_of_order_and_bad_input);
  g_test_add_func ("/gs-pairing/identity", test_identity);
  return g_test_run ();
}
