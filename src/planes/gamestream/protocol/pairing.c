/* GameStream pairing, host side (see pairing.h), with libcrypto. */
#include "planes/gamestream/protocol/pairing.h"

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <string.h>

G_DEFINE_QUARK (fh-gs-pairing-error-quark, fh_gs_pairing_error)

G_DEFINE_AUTOPTR_CLEANUP_FUNC (EVP_PKEY, EVP_PKEY_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (EVP_MD_CTX, EVP_MD_CTX_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (EVP_CIPHER_CTX, EVP_CIPHER_CTX_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (X509, X509_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (BIO, BIO_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (BIGNUM, BN_free)

#define SECRET_SIZE 16 /* challenges and secrets */

struct _FhGsIdentity {
  EVP_PKEY *key;
  X509 *cert;
  char *cert_pem;
};

struct _FhGsPairing {
  FhGsPairingState state;
  FhGsPairingHash hash;
  const FhGsIdentity *identity;
  char *label;
  guint8 key[FH_GS_PAIRING_KEY_SIZE];
  X509 *client_cert;
  char *client_cert_pem;
  gboolean fixed_random;
  guint8 server_secret[SECRET_SIZE];
  guint8 server_challenge[SECRET_SIZE];
  guint8 client_hash[FH_GS_PAIRING_MAX_HASH];
};

/* ---- hex ---- */

GBytes *
fh_gs_hex_decode (const char *hex)
{
  gsize len = hex ? strlen (hex) : 0;
  g_autofree guint8 *out = NULL;

  if (!hex || len % 2 != 0)
    return NULL;
  out = g_malloc (len / 2 + 1);
  for (gsize i = 0; i < len / 2; i++) {
    int hi = g_ascii_xdigit_value (hex[2 * i]), lo = g_ascii_xdigit_value (hex[2 * i + 1]);

    if (hi < 0 || lo < 0)
      return NULL;
    out[i] = (guint8) (hi << 4 | lo);
  }
  return g_bytes_new_take (g_steal_pointer (&out), len / 2);
}

char *
fh_gs_hex_encode (const guint8 *data, gsize len)
{
  static const char digits[] = "0123456789ABCDEF";
  char *out = g_malloc (2 * len + 1);

  for (gsize i = 0; i < len; i++) {
    out[2 * i] = digits[data[i] >> 4];
    out[2 * i + 1] = digits[data[i] & 15];
  }
  out[2 * len] = '\0';
  return out;
}

static GBytes *
decode_arg (const char *hex, const char *what, gsize min, gsize max, GError **error)
{
  g_autoptr (GBytes) bytes = fh_gs_hex_decode (hex);

  if (!bytes || g_bytes_get_size (bytes) < min || g_bytes_get_size (bytes) > max) {
    g_set_error (error, FH_GS_PAIRING_ERROR, FH_GS_PAIRING_ERROR_BAD_INPUT,
                 "pairing: %s must be hex of %" G_GSIZE_FORMAT " to %" G_GSIZE_FORMAT " bytes", what,
                 min, max);
    return NULL;
  }
  return g_steal_pointer (&bytes);
}

/* ---- the pure crypto steps ---- */

static const EVP_MD *
md_for (FhGsPairingHash hash)
{
  return hash == FH_GS_PAIRING_HASH_SHA1 ? EVP_sha1 () : EVP_sha256 ();
}

gsize
fh_gs_pairing_digest (FhGsPairingHash hash, const guint8 *data, gsize len,
                      guint8 out[FH_GS_PAIRING_MAX_HASH])
{
  unsigned int out_len = 0;

  if (!EVP_Digest (data, len, out, &out_len, md_for (hash), NULL))
    g_error ("libcrypto cannot compute a digest"); /* only on allocation failure */
  return out_len;
}

void
fh_gs_pairing_derive_key (FhGsPairingHash hash, const guint8 salt[16], const char *pin,
                          guint8 key[FH_GS_PAIRING_KEY_SIZE])
{
  /* The key is the first 16 bytes of hash(salt || PIN), the PIN as text. */
  gsize pin_len = strlen (pin);
  g_autofree guint8 *buf = g_malloc (16 + pin_len);
  guint8 digest[FH_GS_PAIRING_MAX_HASH];

  memcpy (buf, salt, 16);
  memcpy (buf + 16, pin, pin_len);
  fh_gs_pairing_digest (hash, buf, 16 + pin_len, digest);
  memcpy (key, digest, FH_GS_PAIRING_KEY_SIZE);
}

gboolean
fh_gs_pairing_aes_ecb (gboolean encrypt, const guint8 key[FH_GS_PAIRING_KEY_SIZE], const guint8 *in,
                       gsize len, guint8 *out)
{
  g_autoptr (EVP_CIPHER_CTX) ctx = EVP_CIPHER_CTX_new ();
  int n = 0, tail = 0;

  if (len % 16 != 0 || len > G_MAXINT || !ctx ||
      !EVP_CipherInit_ex (ctx, EVP_aes_128_ecb (), NULL, key, NULL, encrypt ? 1 : 0) ||
      !EVP_CIPHER_CTX_set_padding (ctx, 0) || !EVP_CipherUpdate (ctx, out, &n, in, (int) len) ||
      !EVP_CipherFinal_ex (ctx, out + n, &tail))
    return FALSE;
  return (gsize) (n + tail) == len;
}

static X509 *
x509_from_pem (const char *pem, gsize len)
{
  g_autoptr (BIO) bio = BIO_new_mem_buf (pem, (int) MIN (len, (gsize) G_MAXINT));

  return bio ? PEM_read_bio_X509 (bio, NULL, NULL, NULL) : NULL;
}

static GBytes *
x509_signature (const X509 *cert)
{
  const ASN1_BIT_STRING *sig = NULL;

  X509_get0_signature (&sig, NULL, cert);
  return g_bytes_new (ASN1_STRING_get0_data (sig), (gsize) ASN1_STRING_length (sig));
}

GBytes *
fh_gs_pairing_cert_signature (const char *cert_pem, GError **error)
{
  g_autoptr (X509) cert = x509_from_pem (cert_pem, strlen (cert_pem));

  if (!cert) {
    g_set_error (error, FH_GS_PAIRING_ERROR, FH_GS_PAIRING_ERROR_BAD_INPUT,
                 "pairing: not a PEM certificate");
    return NULL;
  }
  return x509_signature (cert);
}

static GBytes *
rsa_sign (EVP_PKEY *key, const guint8 *data, gsize len)
{
  g_autoptr (EVP_MD_CTX) ctx = EVP_MD_CTX_new ();
  gsize sig_len = 0;
  g_autofree guint8 *sig = NULL;

  if (!ctx || !EVP_DigestSignInit (ctx, NULL, EVP_sha256 (), NULL, key) ||
      !EVP_DigestSign (ctx, NULL, &sig_len, data, len))
    return NULL;
  sig = g_malloc (sig_len);
  if (!EVP_DigestSign (ctx, sig, &sig_len, data, len))
    return NULL;
  return g_bytes_new_take (g_steal_pointer (&sig), sig_len);
}

static gboolean
rsa_verify (X509 *cert, const guint8 *data, gsize len, const guint8 *sig, gsize sig_len)
{
  EVP_PKEY *key = X509_get0_pubkey (cert);
  g_autoptr (EVP_MD_CTX) ctx = EVP_MD_CTX_new ();

  return key && ctx && EVP_DigestVerifyInit (ctx, NULL, EVP_sha256 (), NULL, key) == 1 &&
         EVP_DigestVerify (ctx, sig, sig_len, data, len) == 1;
}

/* ---- identity ---- */

static char *
cert_to_pem (X509 *cert)
{
  g_autoptr (BIO) bio = BIO_new (BIO_s_mem ());
  char *data = NULL;
  long len;

  if (!bio || !PEM_write_bio_X509 (bio, cert))
    return NULL;
  len = BIO_get_mem_data (bio, &data);
  return g_strndup (data, (gsize) len);
}

static FhGsIdentity *
identity_take (EVP_PKEY *key, X509 *cert, GError **error)
{
  FhGsIdentity *identity;
  char *pem = cert_to_pem (cert);

  if (!pem) {
    g_set_error (error, FH_GS_PAIRING_ERROR, FH_GS_PAIRING_ERROR_CRYPTO,
                 "GameStream identity: cannot write the certificate");
    EVP_PKEY_free (key);
    X509_free (cert);
    return NULL;
  }
  identity = g_new0 (FhGsIdentity, 1);
  identity->key = key;
  identity->cert = cert;
  identity->cert_pem = pem;
  return identity;
}

FhGsIdentity *
fh_gs_identity_new (GError **error)
{
  g_autoptr (EVP_PKEY) key = EVP_RSA_gen (2048);
  g_autoptr (X509) cert = X509_new ();
  X509_NAME *name;
  guint8 serial[8];
  g_autoptr (BIGNUM) bn = NULL;

  if (!key || !cert || RAND_bytes (serial, sizeof serial) != 1)
    goto fail;
  serial[0] &= 0x7f; /* a positive serial */
  bn = BN_bin2bn (serial, sizeof serial, NULL);
  name = X509_get_subject_name (cert);
  /* Moonlight only uses the certificate for its key and its signature;
   * 20 years, as other GameStream hosts do, so pairing never expires. */
  if (!bn || !X509_set_version (cert, 2) || !BN_to_ASN1_INTEGER (bn, X509_get_serialNumber (cert)) ||
      !X509_gmtime_adj (X509_getm_notBefore (cert), 0) ||
      !X509_gmtime_adj (X509_getm_notAfter (cert), 20L * 365 * 24 * 3600) ||
      !X509_NAME_add_entry_by_txt (name, "CN", MBSTRING_UTF8,
                                   (const unsigned char *) "funkhaus GameStream host", -1, -1, 0) ||
      !X509_set_issuer_name (cert, name) || !X509_set_pubkey (cert, key) ||
      !X509_sign (cert, key, EVP_sha256 ()))
    goto fail;
  return identity_take (g_steal_pointer (&key), g_steal_pointer (&cert), error);

fail:
  g_set_error (error, FH_GS_PAIRING_ERROR, FH_GS_PAIRING_ERROR_CRYPTO,
               "GameStream identity: libcrypto could not make an RSA-2048 key and certificate");
  return NULL;
}

FhGsIdentity *
fh_gs_identity_new_from_pem (const char *cert_pem, const char *key_pem, GError **error)
{
  g_autoptr (X509) cert = x509_from_pem (cert_pem, strlen (cert_pem));
  g_autoptr (BIO) bio = BIO_new_mem_buf (key_pem, -1);
  g_autoptr (EVP_PKEY) key = bio ? PEM_read_bio_PrivateKey (bio, NULL, NULL, NULL) : NULL;

  if (!cert || !key || EVP_PKEY_get_base_id (key) != EVP_PKEY_RSA || X509_check_private_key (cert, key) != 1) {
    g_set_error (error, FH_GS_PAIRING_ERROR, FH_GS_PAIRING_ERROR_BAD_INPUT,
                 "GameStream identity: need a PEM certificate and its RSA private key; delete both "
                 "files to make a new identity");
    return NULL;
  }
  return identity_take (g_steal_pointer (&key), g_steal_pointer (&cert), error);
}

void
fh_gs_identity_free (FhGsIdentity *identity)
{
  if (!identity)
    return;
  EVP_PKEY_free (identity->key);
  X509_free (identity->cert);
  g_free (identity->cert_pem);
  g_free (identity);
}

const char *
fh_gs_identity_cert_pem (const FhGsIdentity *identity)
{
  return identity->cert_pem;
}

char *
fh_gs_identity_key_pem (const FhGsIdentity *identity)
{
  g_autoptr (BIO) bio = BIO_new (BIO_s_mem ());
  char *data = NULL;
  long len;

  if (!bio || !PEM_write_bio_PrivateKey (bio, identity->key, NULL, NULL, 0, NULL, NULL))
    return NULL;
  len = BIO_get_mem_data (bio, &data);
  return g_strndup (data, (gsize) len);
}

/* ---- the state machine ---- */

const char *
fh_gs_pairing_state_to_string (FhGsPairingState state)
{
  switch (state) {
  case FH_GS_PAIRING_STATE_WAITING:
    return "waiting";
  case FH_GS_PAIRING_STATE_SERVER_CERT_SENT:
    return "server-cert-sent";
  case FH_GS_PAIRING_STATE_CHALLENGE_SENT:
    return "challenge-sent";
  case FH_GS_PAIRING_STATE_SECRET_SENT:
    return "secret-sent";
  case FH_GS_PAIRING_STATE_PAIRED:
    return "paired";
  case FH_GS_PAIRING_STATE_FAILED:
    return "failed";
  }
  return "unknown";
}

static void
set_state (FhGsPairing *p, FhGsPairingState state)
{
  g_debug ("gamestream pairing %s: %s → %s", p->label, fh_gs_pairing_state_to_string (p->state),
           fh_gs_pairing_state_to_string (state));
  p->state = state;
}

/* Every failure ends the attempt: the client must start again with a new
 * salt, so a wrong guess costs a whole round. */
static gboolean
fail (FhGsPairing *p, GError **error, FhGsPairingError code, const char *message)
{
  g_set_error (error, FH_GS_PAIRING_ERROR, code, "pairing: %s", message);
  set_state (p, FH_GS_PAIRING_STATE_FAILED);
  return FALSE;
}

static gboolean
expect (FhGsPairing *p, FhGsPairingState state, const char *phase, GError **error)
{
  if (p->state == state)
    return TRUE;
  g_set_error (error, FH_GS_PAIRING_ERROR, FH_GS_PAIRING_ERROR_OUT_OF_ORDER,
               "pairing: %s arrived in state %s; start pairing again", phase,
               fh_gs_pairing_state_to_string (p->state));
  if (p->state != FH_GS_PAIRING_STATE_PAIRED)
    set_state (p, FH_GS_PAIRING_STATE_FAILED);
  return FALSE;
}

FhGsPairing *
fh_gs_pairing_new (const FhGsIdentity *identity, FhGsPairingHash hash, const char *label)
{
  FhGsPairing *p = g_new0 (FhGsPairing, 1);

  p->identity = identity;
  p->hash = hash;
  p->label = g_strdup (label ? label : "?");
  p->state = FH_GS_PAIRING_STATE_WAITING;
  return p;
}

void
fh_gs_pairing_free (FhGsPairing *p)
{
  if (!p)
    return;
  X509_free (p->client_cert);
  g_free (p->client_cert_pem);
  g_free (p->label);
  /* Key material does not outlive the attempt in freed memory. */
  OPENSSL_cleanse (p, sizeof *p);
  g_free (p);
}

FhGsPairingState
fh_gs_pairing_get_state (const FhGsPairing *p)
{
  return p->state;
}

void
fh_gs_pairing_set_fixed_random (FhGsPairing *p, const guint8 server_secret[16],
                                const guint8 server_challenge[16])
{
  p->fixed_random = TRUE;
  memcpy (p->server_secret, server_secret, SECRET_SIZE);
  memcpy (p->server_challenge, server_challenge, SECRET_SIZE);
}

const char *
fh_gs_pairing_client_cert_pem (const FhGsPairing *p)
{
  return p->state == FH_GS_PAIRING_STATE_PAIRED ? p->client_cert_pem : NULL;
}

char *
fh_gs_pairing_get_server_cert (FhGsPairing *p, const char *salt_hex, const char *pin,
                               const char *client_cert_hex, GError **error)
{
  g_autoptr (GBytes) salt = NULL, cert = NULL;
  gsize cert_len;
  const char *cert_pem;

  if (!expect (p, FH_GS_PAIRING_STATE_WAITING, "getservercert", error))
    return NULL;
  if (!(salt = decode_arg (salt_hex, "salt", 16, 16, error)) ||
      !(cert = decode_arg (client_cert_hex, "clientcert", 1, 16384, error))) {
    set_state (p, FH_GS_PAIRING_STATE_FAILED);
    return NULL;
  }
  if (!pin || strlen (pin) < 4 || strlen (pin) > 16 || strspn (pin, "0123456789") != strlen (pin)) {
    fail (p, error, FH_GS_PAIRING_ERROR_BAD_INPUT, "the PIN must be 4 to 16 digits");
    return NULL;
  }
  cert_pem = g_bytes_get_data (cert, &cert_len);
  p->client_cert = x509_from_pem (cert_pem, cert_len);
  if (!p->client_cert || !X509_get0_pubkey (p->client_cert) ||
      EVP_PKEY_get_base_id (X509_get0_pubkey (p->client_cert)) != EVP_PKEY_RSA) {
    fail (p, error, FH_GS_PAIRING_ERROR_BAD_INPUT, "clientcert is not a PEM certificate with an RSA key");
    return NULL;
  }
  p->client_cert_pem = g_strndup (cert_pem, cert_len);
  fh_gs_pairing_derive_key (p->hash, g_bytes_get_data (salt, NULL), pin, p->key);
  set_state (p, FH_GS_PAIRING_STATE_SERVER_CERT_SENT);
  return fh_gs_hex_encode ((const guint8 *) p->identity->cert_pem, strlen (p->identity->cert_pem));
}

char *
fh_gs_pairing_client_challenge (FhGsPairing *p, const char *challenge_hex, GError **error)
{
  g_autoptr (GBytes) enc = NULL, sig = NULL;
  guint8 challenge[SECRET_SIZE], plain[48] = { 0 }, out[48];
  g_autoptr (GByteArray) hashed = g_byte_array_new ();
  gsize hash_len, plain_len;

  if (!expect (p, FH_GS_PAIRING_STATE_SERVER_CERT_SENT, "clientchallenge", error))
    return NULL;
  if (!(enc = decode_arg (challenge_hex, "clientchallenge", SECRET_SIZE, SECRET_SIZE, error))) {
    set_state (p, FH_GS_PAIRING_STATE_FAILED);
    return NULL;
  }
  if (!p->fixed_random && (RAND_bytes (p->server_secret, SECRET_SIZE) != 1 ||
                           RAND_bytes (p->server_challenge, SECRET_SIZE) != 1)) {
    fail (p, error, FH_GS_PAIRING_ERROR_CRYPTO, "no random bytes");
    return NULL;
  }
  if (!fh_gs_pairing_aes_ecb (FALSE, p->key, g_bytes_get_data (enc, NULL), SECRET_SIZE, challenge)) {
    fail (p, error, FH_GS_PAIRING_ERROR_CRYPTO, "AES failed");
    return NULL;
  }
  /* hash(client challenge || our certificate's signature || server secret)
   * proves we know the PIN (and ties in our certificate); the server
   * challenge follows. Padded with zeros to whole AES blocks (SHA-1). */
  sig = x509_signature (p->identity->cert);
  g_byte_array_append (hashed, challenge, SECRET_SIZE);
  g_byte_array_append (hashed, g_bytes_get_data (sig, NULL), (guint) g_bytes_get_size (sig));
  g_byte_array_append (hashed, p->server_secret, SECRET_SIZE);
  hash_len = fh_gs_pairing_digest (p->hash, hashed->data, hashed->len, plain);
  memcpy (plain + hash_len, p->server_challenge, SECRET_SIZE);
  plain_len = (hash_len + SECRET_SIZE + 15) / 16 * 16;
  if (!fh_gs_pairing_aes_ecb (TRUE, p->key, plain, plain_len, out)) {
    fail (p, error, FH_GS_PAIRING_ERROR_CRYPTO, "AES failed");
    return NULL;
  }
  set_state (p, FH_GS_PAIRING_STATE_CHALLENGE_SENT);
  return fh_gs_hex_encode (out, plain_len);
}

char *
fh_gs_pairing_server_challenge_resp (FhGsPairing *p, const char *response_hex, GError **error)
{
  g_autoptr (GBytes) enc = NULL, sig = NULL;
  g_autoptr (GByteArray) out = g_byte_array_new ();
  guint8 plain[64];
  gsize len, hash_len = p->hash == FH_GS_PAIRING_HASH_SHA1 ? 20 : 32;

  if (!expect (p, FH_GS_PAIRING_STATE_CHALLENGE_SENT, "serverchallengeresp", error))
    return NULL;
  if (!(enc = decode_arg (response_hex, "serverchallengeresp", 32, 64, error))) {
    set_state (p, FH_GS_PAIRING_STATE_FAILED);
    return NULL;
  }
  len = g_bytes_get_size (enc);
  if (len % 16 != 0 || !fh_gs_pairing_aes_ecb (FALSE, p->key, g_bytes_get_data (enc, NULL), len, plain)) {
    fail (p, error, FH_GS_PAIRING_ERROR_BAD_INPUT, "serverchallengeresp is not whole AES blocks");
    return NULL;
  }
  /* The client's hash(server challenge || its cert signature || its
   * secret): checked in phase 4, once the secret is known. */
  memcpy (p->client_hash, plain, hash_len);
  if (!(sig = rsa_sign (p->identity->key, p->server_secret, SECRET_SIZE))) {
    fail (p, error, FH_GS_PAIRING_ERROR_CRYPTO, "RSA signing failed");
    return NULL;
  }
  g_byte_array_append (out, p->server_secret, SECRET_SIZE);
  g_byte_array_append (out, g_bytes_get_data (sig, NULL), (guint) g_bytes_get_size (sig));
  set_state (p, FH_GS_PAIRING_STATE_SECRET_SENT);
  return fh_gs_hex_encode (out->data, out->len);
}

gboolean
fh_gs_pairing_client_pairing_secret (FhGsPairing *p, const char *secret_hex, GError **error)
{
  g_autoptr (GBytes) in = NULL, sig = NULL;
  g_autoptr (GByteArray) hashed = g_byte_array_new ();
  guint8 digest[FH_GS_PAIRING_MAX_HASH];
  const guint8 *data;
  gsize len, hash_len;

  if (!expect (p, FH_GS_PAIRING_STATE_SECRET_SENT, "clientpairingsecret", error))
    return FALSE;
  if (!(in = decode_arg (secret_hex, "clientpairingsecret", SECRET_SIZE + 1, SECRET_SIZE + 1024, error))) {
    set_state (p, FH_GS_PAIRING_STATE_FAILED);
    return FALSE;
  }
  data = g_bytes_get_data (in, &len);
  sig = x509_signature (p->client_cert);
  g_byte_array_append (hashed, p->server_challenge, SECRET_SIZE);
  g_byte_array_append (hashed, g_bytes_get_data (sig, NULL), (guint) g_bytes_get_size (sig));
  g_byte_array_append (hashed, data, SECRET_SIZE);
  hash_len = fh_gs_pairing_digest (p->hash, hashed->data, hashed->len, digest);
  if (CRYPTO_memcmp (digest, p->client_hash, hash_len) != 0)
    return fail (p, error, FH_GS_PAIRING_ERROR_WRONG_PIN,
                 "the client's challenge response does not match: wrong PIN (or someone in between)");
  if (!rsa_verify (p->client_cert, data, SECRET_SIZE, data + SECRET_SIZE, len - SECRET_SIZE))
    return fail (p, error, FH_GS_PAIRING_ERROR_BAD_SIGNATURE,
                 "the client's secret is not signed by the key of its certificate");
  set_state (p, FH_GS_PAIRING_STATE_PAIRED);
  return TRUE;
}
