/* Pairing: a one-time PIN shown on the host turns into a device credential
 * that the browser keeps. Credentials are stored as SHA-256 hashes. */
#pragma once

#include <glib.h>

typedef struct _FhPairing FhPairing;

#define FH_PAIRING_ERROR (fh_pairing_error_quark ())
GQuark fh_pairing_error_quark (void);

typedef enum {
  FH_PAIRING_ERROR_WRONG_PIN,
  FH_PAIRING_ERROR_NO_PIN, /* none made, used up, expired or withdrawn */
  FH_PAIRING_ERROR_LOCKED, /* too many wrong PINs from there: wait */
  FH_PAIRING_ERROR_UNKNOWN_DEVICE,
} FhPairingError;

/* A PIN is valid this long after it was made. */
#define FH_PAIRING_PIN_LIFETIME_S 600
/* Wrong PINs from one address before it has to wait: 1 s, then twice as
 * long after each further wrong PIN, at most FH_PAIRING_MAX_BACKOFF_S. */
#define FH_PAIRING_FREE_ATTEMPTS 3
#define FH_PAIRING_MAX_BACKOFF_S 300
/* Wrong PINs from anywhere after which the PIN is withdrawn. */
#define FH_PAIRING_MAX_WRONG 20

typedef struct {
  char *id;
  char *name;
  char *paired; /* ISO 8601, UTC */
  char *kind;   /* "browser" or "moonlight" */
} FhDevice;

void fh_device_free (FhDevice *device);

FhPairing *fh_pairing_new (const char *config_dir, GError **error);
void fh_pairing_free (FhPairing *pairing);

/* Makes a fresh PIN (replacing any unused one) and returns it. */
const char *fh_pairing_new_pin (FhPairing *pairing);

/* Uses up the PIN: stores a new device called @name and returns its id and
 * secret token. @peer (the address the request came from) is what wrong
 * PINs are counted against; on FH_PAIRING_ERROR_LOCKED, @retry_after_s (if
 * not NULL) says when to try again. */
gboolean fh_pairing_pair (FhPairing *pairing, const char *pin, const char *name, const char *peer,
                          char **device, char **token, guint *retry_after_s, GError **error);

/* The paired devices (FhDevice), oldest first. */
GPtrArray *fh_pairing_list (FhPairing *pairing);
/* Forgets device @id: its credential stops working at once. */
gboolean fh_pairing_revoke (FhPairing *pairing, const char *id, GError **error);

/* TRUE when @token is the credential of paired device @device. */
gboolean fh_pairing_check (FhPairing *pairing, const char *device, const char *token);

/* Moonlight (GameStream) clients: paired by their certificate, stored in
 * the same file as browser devices ("device ID" groups with kind=moonlight),
 * listed and revoked the same way. */

/* SHA-256 of a certificate's DER bytes, lowercase hex: how a Moonlight
 * client's TLS certificate is looked up. */
char *fh_pairing_cert_sha256 (const guint8 *der, gsize len);
/* Stores a paired Moonlight client (replacing an entry with the same
 * certificate) and returns its id. */
gboolean fh_pairing_add_moonlight (FhPairing *pairing, const char *name, const char *uniqueid,
                                   const char *cert_pem, char **id, GError **error);
/* The id of the paired Moonlight client whose certificate has DER SHA-256
 * @cert_sha256, or NULL. */
char *fh_pairing_find_moonlight (FhPairing *pairing, const char *cert_sha256);

/* Random bytes as lowercase hex, from OpenSSL's CSPRNG. */
char *fh_random_hex (gsize bytes);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (FhPairing, fh_pairing_free)
