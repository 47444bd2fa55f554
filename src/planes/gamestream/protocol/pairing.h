/* GameStream PIN pairing, the host's side: the four phases Moonlight runs
 * over /pair (getservercert, clientchallenge, serverchallengeresp,
 * clientpairingsecret), as one state machine per pairing attempt, plus the
 * host's RSA identity. No HTTP here: each phase takes the request's hex
 * argument and returns the hex value for the XML answer. Protocol and
 * sources: docs/gamestream.md, "Pairing". */
#pragma once

#include <glib.h>

typedef enum {
  FH_GS_PAIRING_ERROR_BAD_INPUT,    /* a malformed argument */
  FH_GS_PAIRING_ERROR_OUT_OF_ORDER, /* a phase out of turn, or after a failure */
  FH_GS_PAIRING_ERROR_WRONG_PIN,    /* the client's hash does not match: wrong PIN, or a MITM */
  FH_GS_PAIRING_ERROR_BAD_SIGNATURE,
  FH_GS_PAIRING_ERROR_CRYPTO, /* libcrypto failed */
} FhGsPairingError;

#define FH_GS_PAIRING_ERROR (fh_gs_pairing_error_quark ())
GQuark fh_gs_pairing_error_quark (void);

/* The hash of the challenge steps: SHA-256 when the host reports
 * appversion 7 or later (what we do), SHA-1 for older ones. */
typedef enum {
  FH_GS_PAIRING_HASH_SHA256,
  FH_GS_PAIRING_HASH_SHA1,
} FhGsPairingHash;

#define FH_GS_PAIRING_MAX_HASH 32
#define FH_GS_PAIRING_KEY_SIZE 16

/* The host's GameStream identity: an RSA-2048 key and a self-signed
 * certificate whose signature takes part in pairing. */
typedef struct _FhGsIdentity FhGsIdentity;

FhGsIdentity *fh_gs_identity_new (GError **error);
FhGsIdentity *fh_gs_identity_new_from_pem (const char *cert_pem, const char *key_pem, GError **error);
void fh_gs_identity_free (FhGsIdentity *identity);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (FhGsIdentity, fh_gs_identity_free)
const char *fh_gs_identity_cert_pem (const FhGsIdentity *identity);
/* PKCS#8 PEM; the caller keeps it private (0600). */
char *fh_gs_identity_key_pem (const FhGsIdentity *identity);

typedef enum {
  FH_GS_PAIRING_STATE_WAITING,          /* for getservercert */
  FH_GS_PAIRING_STATE_SERVER_CERT_SENT, /* for clientchallenge */
  FH_GS_PAIRING_STATE_CHALLENGE_SENT,   /* for serverchallengeresp */
  FH_GS_PAIRING_STATE_SECRET_SENT,      /* for clientpairingsecret */
  FH_GS_PAIRING_STATE_PAIRED,
  FH_GS_PAIRING_STATE_FAILED,
} FhGsPairingState;

const char *fh_gs_pairing_state_to_string (FhGsPairingState state);

typedef struct _FhGsPairing FhGsPairing;

/* One attempt by one client; @identity must outlive it. @label names the
 * client in logs (its uniqueid). */
FhGsPairing *fh_gs_pairing_new (const FhGsIdentity *identity, FhGsPairingHash hash, const char *label);
void fh_gs_pairing_free (FhGsPairing *pairing);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (FhGsPairing, fh_gs_pairing_free)

FhGsPairingState fh_gs_pairing_get_state (const FhGsPairing *pairing);

/* Tests only: the server secret and challenge that would be random. */
void fh_gs_pairing_set_fixed_random (FhGsPairing *pairing, const guint8 server_secret[16],
                                     const guint8 server_challenge[16]);

/* Phase 1, getservercert: @salt_hex (16 bytes) and @client_cert_hex (hex
 * of the client's PEM certificate) from the request, @pin as the user
 * typed it on the host. Returns the hex of our PEM certificate (plaincert). */
char *fh_gs_pairing_get_server_cert (FhGsPairing *pairing, const char *salt_hex, const char *pin,
                                     const char *client_cert_hex, GError **error);
/* Phase 2, clientchallenge: returns challengeresponse. */
char *fh_gs_pairing_client_challenge (FhGsPairing *pairing, const char *challenge_hex, GError **error);
/* Phase 3, serverchallengeresp: returns pairingsecret. */
char *fh_gs_pairing_server_challenge_resp (FhGsPairing *pairing, const char *response_hex,
                                           GError **error);
/* Phase 4, clientpairingsecret: TRUE when the client proved the PIN and
 * its key; the state is then PAIRED and the client certificate (PEM) may
 * be stored as paired. */
gboolean fh_gs_pairing_client_pairing_secret (FhGsPairing *pairing, const char *secret_hex,
                                              GError **error);
const char *fh_gs_pairing_client_cert_pem (const FhGsPairing *pairing);

/* The pure steps, for fixed-vector tests and the test client. */
void fh_gs_pairing_derive_key (FhGsPairingHash hash, const guint8 salt[16], const char *pin,
                               guint8 key[FH_GS_PAIRING_KEY_SIZE]);
/* Digest of @data; returns its length (32 or 20). */
gsize fh_gs_pairing_digest (FhGsPairingHash hash, const guint8 *data, gsize len,
                            guint8 out[FH_GS_PAIRING_MAX_HASH]);
/* AES-128-ECB without padding; @len a multiple of 16. */
gboolean fh_gs_pairing_aes_ecb (gboolean encrypt, const guint8 key[FH_GS_PAIRING_KEY_SIZE],
                                const guint8 *in, gsize len, guint8 *out);
/* The raw signature bytes of a PEM certificate (X509_get0_signature). */
GBytes *fh_gs_pairing_cert_signature (const char *cert_pem, GError **error);

/* Hex helpers: decode (either case) into a new GBytes, or NULL on bad hex;
 * encode in upper case as GameStream hosts do. */
GBytes *fh_gs_hex_decode (const char *hex);
char *fh_gs_hex_encode (const guint8 *data, gsize len);
