/* Self-signed host certificate with OpenSSL 3: an ECDSA P-256 key and a
 * ten-year certificate for localhost and this host's name. */
#include "planes/web/cert.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <unistd.h>

G_DEFINE_AUTOPTR_CLEANUP_FUNC (EVP_PKEY, EVP_PKEY_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (X509, X509_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (BIO, BIO_free)

static gboolean
ssl_failed (const char *what, GError **error)
{
  char buf[256] = "unknown error";

  ERR_error_string_n (ERR_get_error (), buf, sizeof buf);
  g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "%s: %s", what, buf);
  return FALSE;
}

static gboolean
add_extension (X509 *cert, int nid, const char *value, GError **error)
{
  X509V3_CTX ctx;
  X509_EXTENSION *ext;

  X509V3_set_ctx_nodb (&ctx);
  X509V3_set_ctx (&ctx, cert, cert, NULL, NULL, 0);
  if (!(ext = X509V3_EXT_conf_nid (NULL, &ctx, nid, value)))
    return ssl_failed ("cannot build a certificate extension", error);
  X509_add_ext (cert, ext, -1);
  X509_EXTENSION_free (ext);
  return TRUE;
}

/* Writes @bio's contents to @path, created 0600 (never wider, not even for
 * a moment). */
static gboolean
write_private (const char *path, BIO *bio, GError **error)
{
  char *data;
  long len = BIO_get_mem_data (bio, &data);
  int fd = open (path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

  if (fd < 0 || write (fd, data, (size_t) len) != len || fsync (fd) < 0) {
    int saved = errno;
    if (fd >= 0)
      close (fd);
    g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved), "cannot write %s: %s", path,
                 g_strerror (saved));
    return FALSE;
  }
  close (fd);
  return TRUE;
}

static gboolean
create_cert (const char *cert_path, const char *key_path, GError **error)
{
  g_autoptr (EVP_PKEY) key = EVP_EC_gen ("P-256");
  g_autoptr (X509) cert = X509_new ();
  g_autoptr (BIO) key_bio = BIO_new (BIO_s_mem ());
  g_autoptr (BIO) cert_bio = BIO_new (BIO_s_mem ());
  g_autofree char *san = NULL;
  g_autofree char *cn = NULL;
  X509_NAME *name;
  guint8 serial[16];
  BIGNUM *bn;

  if (!key)
    return ssl_failed ("cannot make a key", error);

  X509_set_version (cert, 2);
  RAND_bytes (serial, sizeof serial);
  serial[0] &= 0x7f;
  bn = BN_bin2bn (serial, sizeof serial, NULL);
  BN_to_ASN1_INTEGER (bn, X509_get_serialNumber (cert));
  BN_free (bn);
  X509_gmtime_adj (X509_getm_notBefore (cert), -24 * 3600);
  X509_gmtime_adj (X509_getm_notAfter (cert), 10L * 365 * 24 * 3600);
  X509_set_pubkey (cert, key);

  cn = g_strdup_printf ("funkhaus on %s", g_get_host_name ());
  name = X509_get_subject_name (cert);
  X509_NAME_add_entry_by_txt (name, "CN", MBSTRING_UTF8, (const guint8 *) cn, -1, -1, 0);
  X509_NAME_add_entry_by_txt (name, "O", MBSTRING_UTF8, (const guint8 *) "funkhaus", -1, -1, 0);
  X509_set_issuer_name (cert, name);

  san = g_strdup_printf ("DNS:localhost,DNS:%s,DNS:%s.local,IP:127.0.0.1,IP:::1",
                         g_get_host_name (), g_get_host_name ());
  if (!add_extension (cert, NID_subject_alt_name, san, error) ||
      !add_extension (cert, NID_basic_constraints, "critical,CA:FALSE", error) ||
      !add_extension (cert, NID_ext_key_usage, "serverAuth", error))
    return FALSE;
  if (!X509_sign (cert, key, EVP_sha256 ()))
    return ssl_failed ("cannot sign the certificate", error);

  if (!PEM_write_bio_PrivateKey (key_bio, key, NULL, NULL, 0, NULL, NULL) ||
      !PEM_write_bio_X509 (cert_bio, cert))
    return ssl_failed ("cannot encode the certificate", error);
  return write_private (key_path, key_bio, error) && write_private (cert_path, cert_bio, error);
}

static char *
fingerprint_of (GTlsCertificate *cert)
{
  g_autoptr (GByteArray) der = NULL;
  g_autoptr (GString) out = g_string_new (NULL);
  guint8 digest[32];
  gsize len = sizeof digest;
  g_autoptr (GChecksum) sum = g_checksum_new (G_CHECKSUM_SHA256);

  g_object_get (cert, "certificate", &der, NULL);
  g_checksum_update (sum, der->data, der->len);
  g_checksum_get_digest (sum, digest, &len);
  for (gsize i = 0; i < len; i++)
    g_string_append_printf (out, "%s%02X", i ? ":" : "", digest[i]);
  return g_string_free (g_steal_pointer (&out), FALSE);
}

GTlsCertificate *
fh_cert_load_or_create (const char *config_dir, char **fingerprint, gboolean *created,
                        GError **error)
{
  g_autofree char *cert_path = g_build_filename (config_dir, "cert.pem", NULL);
  g_autofree char *key_path = g_build_filename (config_dir, "key.pem", NULL);
  GTlsCertificate *cert;

  *created = FALSE;
  if (!g_file_test (cert_path, G_FILE_TEST_EXISTS) || !g_file_test (key_path, G_FILE_TEST_EXISTS)) {
    if (!create_cert (cert_path, key_path, error))
      return NULL;
    *created = TRUE;
  }
  cert = g_tls_certificate_new_from_files (cert_path, key_path, error);
  if (!cert) {
    g_prefix_error (error, "cannot load the host certificate (%s; delete it to make a new one): ",
                    cert_path);
    return NULL;
  }
  *fingerprint = fingerprint_of (cert);
  return cert;
}
