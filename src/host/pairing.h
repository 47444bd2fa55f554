/* Pairing: a one-time PIN shown on the host turns into a device credential
 * that the browser keeps. Credentials are stored as SHA-256 hashes. */
#pragma once

#include <glib.h>

typedef struct _FhPairing FhPairing;

#define FH_PAIRING_ERROR (fh_pairing_error_quark ())
GQuark fh_pairing_error_quark (void);

typedef enum {
  FH_PAIRING_ERROR_WRONG_PIN,
  FH_PAIRING_ERROR_NO_PIN,
} FhPairingError;

FhPairing *fh_pairing_new (const char *config_dir, GError **error);
void fh_pairing_free (FhPairing *pairing);

/* Makes a fresh PIN (replacing any unused one) and returns it. */
const char *fh_pairing_new_pin (FhPairing *pairing);

/* Uses up the PIN: stores a new device called @name and returns its id and
 * secret token. */
gboolean fh_pairing_pair (FhPairing *pairing, const char *pin, const char *name, char **device,
                          char **token, GError **error);

/* TRUE when @token is the credential of paired device @device. */
gboolean fh_pairing_check (FhPairing *pairing, const char *device, const char *token);

/* Random bytes as lowercase hex, from OpenSSL's CSPRNG. */
char *fh_random_hex (gsize bytes);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (FhPairing, fh_pairing_free)
