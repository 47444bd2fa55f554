/* The device store: the paired devices (devices.ini) and how a device
 * gets in. A one-time PIN shown on the host turns into a device credential
 * that the browser keeps (stored as a SHA-256 hash); a client that pairs
 * with a certificate of its own (Moonlight) is stored by that certificate. */
#pragma once

#include <glib.h>

#include "base/random.h"
#include "core/access.h"

typedef struct _FhDeviceStore FhDeviceStore;

#define FH_DEVICE_STORE_ERROR (fh_device_store_error_quark ())
GQuark fh_device_store_error_quark (void);

typedef enum {
  FH_DEVICE_STORE_ERROR_WRONG_PIN,
  FH_DEVICE_STORE_ERROR_NO_PIN, /* none made, used up, expired or withdrawn */
  FH_DEVICE_STORE_ERROR_LOCKED, /* too many wrong PINs from there: wait */
  FH_DEVICE_STORE_ERROR_UNKNOWN_DEVICE,
} FhDeviceStoreError;

/* A PIN is valid this long after it was made. */
#define FH_DEVICE_STORE_PIN_LIFETIME_S 600
/* Wrong PINs from one address before it has to wait: 1 s, then twice as
 * long after each further wrong PIN, at most FH_DEVICE_STORE_MAX_BACKOFF_S. */
#define FH_DEVICE_STORE_FREE_ATTEMPTS 3
#define FH_DEVICE_STORE_MAX_BACKOFF_S 300
/* Wrong PINs from anywhere after which the PIN is withdrawn. */
#define FH_DEVICE_STORE_MAX_WRONG 20

typedef struct {
  char *id;
  char *name;
  char *paired; /* ISO 8601, UTC */
  char *kind;   /* "browser" or "moonlight" */
  FhAccess access; /* as stored, expiry not applied */
  gboolean owner;  /* holds the owner right (owner=true) */
} FhDevice;

void fh_device_free (FhDevice *device);

FhDeviceStore *fh_device_store_new (const char *config_dir, GError **error);
void fh_device_store_free (FhDeviceStore *pairing);

/* Makes a fresh PIN (replacing any unused one) and returns it. */
const char *fh_device_store_new_pin (FhDeviceStore *pairing);

/* Uses up the PIN: stores a new device called @name and returns its id and
 * secret token. @peer (the address the request came from) is what wrong
 * PINs are counted against; on FH_DEVICE_STORE_ERROR_LOCKED, @retry_after_s (if
 * not NULL) says when to try again. */
gboolean fh_device_store_pair (FhDeviceStore *pairing, const char *pin, const char *name, const char *peer,
                          char **device, char **token, guint *retry_after_s, GError **error);

/* PIN pairings tried through fh_device_store_pair since the host started,
 * and how many of them were refused (wrong, expired or locked out). */
void fh_device_store_get_pair_counts (FhDeviceStore *pairing, guint64 *attempts, guint64 *refusals);

/* The paired devices (FhDevice), oldest first. */
GPtrArray *fh_device_store_list (FhDeviceStore *pairing);
/* Forgets device @id: its credential stops working at once. */
gboolean fh_device_store_revoke (FhDeviceStore *pairing, const char *id, GError **error);

/* Access levels (core/access.h), kept with each device as level= and
 * level-until= (ISO 8601, UTC). A device paired before levels existed has
 * none stored and keeps the full access it had; a value that does not
 * parse is read as view. */

/* The level a device paired from now on gets (the host's default-level). */
void fh_device_store_set_default_level (FhDeviceStore *pairing, FhAccessLevel level);
/* The stored access of device @id; FALSE (and view) for a device the
 * store does not know. */
gboolean fh_device_store_get_access (FhDeviceStore *pairing, const char *id, FhAccess *access);
/* Stores @access for device @id. */
gboolean fh_device_store_set_access (FhDeviceStore *pairing, const char *id, const FhAccess *access,
                                     GError **error);

/* The owner right (owner=true): a device that holds it may see and run
 * the host from its console (docs/security.md). Only the host's user gives
 * it ('funkhaus devices owner ID'), or a device that holds it already. */
gboolean fh_device_store_get_owner (FhDeviceStore *pairing, const char *id);
gboolean fh_device_store_set_owner (FhDeviceStore *pairing, const char *id, gboolean owner,
                                    GError **error);

/* TRUE when @token is the credential of paired device @device. */
gboolean fh_device_store_check (FhDeviceStore *pairing, const char *device, const char *token);

/* Moonlight (GameStream) clients: paired by their certificate, stored in
 * the same file as browser devices ("device ID" groups with kind=moonlight),
 * listed and revoked the same way. */

/* SHA-256 of a certificate's DER bytes, lowercase hex: how a Moonlight
 * client's TLS certificate is looked up. */
char *fh_device_store_cert_sha256 (const guint8 *der, gsize len);
/* Stores a paired Moonlight client (replacing an entry with the same
 * certificate) and returns its id. */
gboolean fh_device_store_add_certificate (FhDeviceStore *pairing, const char *name, const char *uniqueid,
                                   const char *cert_pem, char **id, GError **error);
/* The id of the paired Moonlight client whose certificate has DER SHA-256
 * @cert_sha256, or NULL. */
char *fh_device_store_find_certificate (FhDeviceStore *pairing, const char *cert_sha256);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (FhDeviceStore, fh_device_store_free)
