/* PINs and device credentials (devices.ini in the config dir, 0600). */
#include "core/device-store.h"

#include <gio/gio.h>
#include <openssl/crypto.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <string.h>

#include "base/random.h"

G_DEFINE_QUARK (fh-pairing-error-quark, fh_device_store_error)

typedef struct {
  guint failures;
  gint64 locked_until_us;
} FhPairingPeer;

struct _FhDeviceStore {
  char *path;
  GKeyFile *devices;
  char pin[7]; /* "" = none active */
  gint64 pin_expires_us;
  guint wrong; /* wrong PINs against the current PIN, from anywhere */
  GHashTable *peers; /* address → FhPairingPeer */
  guint64 pair_attempts, pair_refusals; /* for metrics */
  FhAccessLevel default_level; /* of a device paired from now on */
};

void
fh_device_free (FhDevice *device)
{
  if (!device)
    return;
  g_free (device->id);
  g_free (device->name);
  g_free (device->paired);
  g_free (device->kind);
  g_free (device);
}

static char *
hash_token (const char *token)
{
  return g_compute_checksum_for_string (G_CHECKSUM_SHA256, token, -1);
}

FhDeviceStore *
fh_device_store_new (const char *config_dir, GError **error)
{
  g_autoptr (FhDeviceStore) self = g_new0 (FhDeviceStore, 1);
  g_autoptr (GError) local_error = NULL;

  self->path = g_build_filename (config_dir, "devices.ini", NULL);
  self->peers = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  self->devices = g_key_file_new ();
  if (!g_key_file_load_from_file (self->devices, self->path, G_KEY_FILE_NONE, &local_error) &&
      !g_error_matches (local_error, G_FILE_ERROR, G_FILE_ERROR_NOENT)) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED,
                 "cannot read paired devices from %s: %s (fix or remove the file)", self->path,
                 local_error->message);
    return NULL;
  }
  return g_steal_pointer (&self);
}

void
fh_device_store_free (FhDeviceStore *self)
{
  if (!self)
    return;
  g_key_file_free (self->devices);
  g_clear_pointer (&self->peers, g_hash_table_unref);
  g_free (self->path);
  OPENSSL_cleanse (self->pin, sizeof self->pin);
  g_free (self);
}

const char *
fh_device_store_new_pin (FhDeviceStore *self)
{
  guint32 r;

  do {
    RAND_bytes ((guint8 *) &r, sizeof r);
  } while (r >= 4294000000u); /* no modulo bias */
  g_snprintf (self->pin, sizeof self->pin, "%06u", r % 1000000);
  self->pin_expires_us = g_get_monotonic_time () + FH_DEVICE_STORE_PIN_LIFETIME_S * G_USEC_PER_SEC;
  self->wrong = 0;
  return self->pin;
}

static gboolean
save (FhDeviceStore *self, GError **error)
{
  gsize len;
  g_autofree char *data = g_key_file_to_data (self->devices, &len, NULL);

  return g_file_set_contents_full (self->path, data, (gssize) len,
                                   G_FILE_SET_CONTENTS_CONSISTENT, 0600, error);
}

/* A wrong PIN from @peer: it waits 1 s after FH_DEVICE_STORE_FREE_ATTEMPTS of
 * them, twice as long after each further one. */
static void
count_wrong (FhDeviceStore *self, FhPairingPeer *p, gint64 now)
{
  p->failures++;
  if (p->failures >= FH_DEVICE_STORE_FREE_ATTEMPTS) {
    guint shift = MIN (p->failures - FH_DEVICE_STORE_FREE_ATTEMPTS, 16u);
    gint64 wait_s = MIN ((gint64) 1 << shift, (gint64) FH_DEVICE_STORE_MAX_BACKOFF_S);
    p->locked_until_us = now + wait_s * G_USEC_PER_SEC;
  }
  if (++self->wrong >= FH_DEVICE_STORE_MAX_WRONG && self->pin[0]) {
    g_message ("pairing: %u wrong PINs: the PIN is withdrawn", self->wrong);
    memset (self->pin, 0, sizeof self->pin);
  }
}

static gboolean
pair_with_pin (FhDeviceStore *self, const char *pin, const char *name, const char *peer,
                 char **device, char **token, guint *retry_after_s, GError **error)
{
  g_autofree char *id = NULL, *secret = NULL, *hash = NULL, *group = NULL, *now = NULL;
  g_autoptr (GDateTime) dt = g_date_time_new_now_utc ();
  gint64 mono = g_get_monotonic_time ();
  FhPairingPeer *p = g_hash_table_lookup (self->peers, peer ? peer : "");

  if (!p) {
    p = g_new0 (FhPairingPeer, 1);
    g_hash_table_insert (self->peers, g_strdup (peer ? peer : ""), p);
  }
  /* Locked out: the PIN is not even looked at. */
  if (p->locked_until_us > mono) {
    guint wait_s = (guint) ((p->locked_until_us - mono + G_USEC_PER_SEC - 1) / G_USEC_PER_SEC);
    if (retry_after_s)
      *retry_after_s = wait_s;
    g_set_error (error, FH_DEVICE_STORE_ERROR, FH_DEVICE_STORE_ERROR_LOCKED,
                 "too many wrong PINs from here: try again in %u s", wait_s);
    return FALSE;
  }
  if (self->pin[0] && mono > self->pin_expires_us) {
    memset (self->pin, 0, sizeof self->pin);
    g_set_error (error, FH_DEVICE_STORE_ERROR, FH_DEVICE_STORE_ERROR_NO_PIN,
                 "the PIN expired (a PIN lasts %d minutes): run 'funkhaus pair' on the host for "
                 "a new one",
                 FH_DEVICE_STORE_PIN_LIFETIME_S / 60);
    return FALSE;
  }
  if (!self->pin[0]) {
    count_wrong (self, p, mono);
    g_set_error (error, FH_DEVICE_STORE_ERROR, FH_DEVICE_STORE_ERROR_NO_PIN,
                 "no PIN is active: run 'funkhaus pair' on the host for a new one");
    return FALSE;
  }
  if (strlen (pin) != 6 || CRYPTO_memcmp (pin, self->pin, 6) != 0) {
    count_wrong (self, p, mono);
    g_set_error (error, FH_DEVICE_STORE_ERROR, FH_DEVICE_STORE_ERROR_WRONG_PIN,
                 "wrong PIN: use the PIN the host shows (run 'funkhaus pair' for a new one)");
    return FALSE;
  }
  g_hash_table_remove (self->peers, peer ? peer : "");

  id = fh_random_hex (8);
  secret = fh_random_hex (32);
  hash = hash_token (secret);
  group = g_strdup_printf ("device %s", id);
  now = g_date_time_format_iso8601 (dt);
  g_key_file_set_string (self->devices, group, "name", name);
  g_key_file_set_string (self->devices, group, "token-sha256", hash);
  g_key_file_set_string (self->devices, group, "paired", now);
  g_key_file_set_string (self->devices, group, "level",
                         fh_access_level_to_string (self->default_level));
  if (!save (self, error)) {
    g_key_file_remove_group (self->devices, group, NULL);
    return FALSE;
  }
  memset (self->pin, 0, sizeof self->pin); /* used up */
  *device = g_steal_pointer (&id);
  *token = g_steal_pointer (&secret);
  return TRUE;
}

gboolean
fh_device_store_pair (FhDeviceStore *self, const char *pin, const char *name, const char *peer,
                      char **device, char **token, guint *retry_after_s, GError **error)
{
  self->pair_attempts++;
  if (pair_with_pin (self, pin, name, peer, device, token, retry_after_s, error))
    return TRUE;
  self->pair_refusals++;
  return FALSE;
}

void
fh_device_store_get_pair_counts (FhDeviceStore *self, guint64 *attempts, guint64 *refusals)
{
  *attempts = self->pair_attempts;
  *refusals = self->pair_refusals;
}

gboolean
fh_device_store_check (FhDeviceStore *self, const char *device, const char *token)
{
  g_autofree char *group = g_strdup_printf ("device %s", device);
  g_autofree char *stored = g_key_file_get_string (self->devices, group, "token-sha256", NULL);
  g_autofree char *hash = NULL;

  if (!stored || strlen (stored) != 64)
    return FALSE;
  hash = hash_token (token);
  return CRYPTO_memcmp (hash, stored, 64) == 0;
}

/* The access stored in @group: none stored is full (paired before levels
 * existed), anything that does not parse is view. */
static void
read_access (FhDeviceStore *self, const char *group, FhAccess *access)
{
  g_autofree char *level = g_key_file_get_string (self->devices, group, "level", NULL);
  g_autofree char *until = g_key_file_get_string (self->devices, group, "level-until", NULL);

  *access = (FhAccess) { FH_ACCESS_FULL, 0 };
  if (level && !fh_access_level_from_string (level, &access->level)) {
    g_warning ("%s: [%s] level=%s is not full, controller or view: read as view", self->path,
               group, level);
    access->level = FH_ACCESS_VIEW;
  }
  if (until && *until && !fh_access_parse_time (until, &access->until, NULL)) {
    g_warning ("%s: [%s] level-until=%s is not an ISO 8601 time: read as expired", self->path,
               group, until);
    access->until = 1;
  }
}

void
fh_device_store_set_default_level (FhDeviceStore *self, FhAccessLevel level)
{
  self->default_level = level;
}

gboolean
fh_device_store_get_access (FhDeviceStore *self, const char *id, FhAccess *access)
{
  g_autofree char *group = g_strdup_printf ("device %s", id);

  if (!g_key_file_has_group (self->devices, group)) {
    *access = (FhAccess) { FH_ACCESS_VIEW, 0 };
    return FALSE;
  }
  read_access (self, group, access);
  return TRUE;
}

gboolean
fh_device_store_set_access (FhDeviceStore *self, const char *id, const FhAccess *access,
                            GError **error)
{
  g_autofree char *group = g_strdup_printf ("device %s", id);
  g_autofree char *old_level = NULL, *old_until = NULL;

  if (!g_key_file_has_group (self->devices, group)) {
    g_set_error (error, FH_DEVICE_STORE_ERROR, FH_DEVICE_STORE_ERROR_UNKNOWN_DEVICE,
                 "no paired device %s ('funkhaus devices list' shows them)", id);
    return FALSE;
  }
  old_level = g_key_file_get_string (self->devices, group, "level", NULL);
  old_until = g_key_file_get_string (self->devices, group, "level-until", NULL);
  g_key_file_set_string (self->devices, group, "level", fh_access_level_to_string (access->level));
  if (access->until) {
    g_autofree char *until = fh_access_format_time (access->until);
    g_key_file_set_string (self->devices, group, "level-until", until);
  } else {
    g_key_file_remove_key (self->devices, group, "level-until", NULL);
  }
  if (save (self, error))
    return TRUE;
  /* Not stored: memory stays what the file says. */
  if (old_level)
    g_key_file_set_string (self->devices, group, "level", old_level);
  else
    g_key_file_remove_key (self->devices, group, "level", NULL);
  if (old_until)
    g_key_file_set_string (self->devices, group, "level-until", old_until);
  else
    g_key_file_remove_key (self->devices, group, "level-until", NULL);
  return FALSE;
}

gboolean
fh_device_store_get_owner (FhDeviceStore *self, const char *id)
{
  g_autofree char *group = g_strdup_printf ("device %s", id);

  /* Anything but a stored true (none, a typo) is no right. */
  return g_key_file_has_group (self->devices, group) &&
         g_key_file_get_boolean (self->devices, group, "owner", NULL);
}

gboolean
fh_device_store_set_owner (FhDeviceStore *self, const char *id, gboolean owner, GError **error)
{
  g_autofree char *group = g_strdup_printf ("device %s", id);
  gboolean was;

  if (!g_key_file_has_group (self->devices, group)) {
    g_set_error (error, FH_DEVICE_STORE_ERROR, FH_DEVICE_STORE_ERROR_UNKNOWN_DEVICE,
                 "no paired device %s ('funkhaus devices list' shows them)", id);
    return FALSE;
  }
  was = g_key_file_get_boolean (self->devices, group, "owner", NULL);
  if (owner)
    g_key_file_set_boolean (self->devices, group, "owner", TRUE);
  else
    g_key_file_remove_key (self->devices, group, "owner", NULL);
  if (save (self, error))
    return TRUE;
  /* Not stored: memory stays what the file says. */
  if (was)
    g_key_file_set_boolean (self->devices, group, "owner", TRUE);
  else
    g_key_file_remove_key (self->devices, group, "owner", NULL);
  return FALSE;
}

GPtrArray *
fh_device_store_list (FhDeviceStore *self)
{
  GPtrArray *list = g_ptr_array_new_with_free_func ((GDestroyNotify) fh_device_free);
  g_auto (GStrv) groups = g_key_file_get_groups (self->devices, NULL);

  for (char **g = groups; *g; g++) {
    FhDevice *d;
    if (!g_str_has_prefix (*g, "device "))
      continue;
    d = g_new0 (FhDevice, 1);
    d->id = g_strdup (*g + strlen ("device "));
    d->name = g_key_file_get_string (self->devices, *g, "name", NULL);
    d->paired = g_key_file_get_string (self->devices, *g, "paired", NULL);
    d->kind = g_key_file_get_string (self->devices, *g, "kind", NULL);
    if (!d->kind)
      d->kind = g_strdup ("browser");
    read_access (self, *g, &d->access);
    d->owner = g_key_file_get_boolean (self->devices, *g, "owner", NULL);
    g_ptr_array_add (list, d);
  }
  return list;
}

gboolean
fh_device_store_revoke (FhDeviceStore *self, const char *id, GError **error)
{
  g_autofree char *group = g_strdup_printf ("device %s", id);

  if (!g_key_file_has_group (self->devices, group)) {
    g_set_error (error, FH_DEVICE_STORE_ERROR, FH_DEVICE_STORE_ERROR_UNKNOWN_DEVICE,
                 "no paired device %s ('funkhaus devices list' shows them)", id);
    return FALSE;
  }
  g_key_file_remove_group (self->devices, group, NULL);
  return save (self, error);
}

char *
fh_device_store_cert_sha256 (const guint8 *der, gsize len)
{
  return g_compute_checksum_for_data (G_CHECKSUM_SHA256, der, len);
}

/* The DER SHA-256 of a PEM certificate, or NULL when it does not parse. */
static char *
pem_cert_sha256 (const char *cert_pem)
{
  BIO *bio = BIO_new_mem_buf (cert_pem, -1);
  X509 *cert = bio ? PEM_read_bio_X509 (bio, NULL, NULL, NULL) : NULL;
  unsigned char *der = NULL;
  int len = cert ? i2d_X509 (cert, &der) : -1;
  char *hash = len > 0 ? fh_device_store_cert_sha256 (der, (gsize) len) : NULL;

  OPENSSL_free (der);
  X509_free (cert);
  BIO_free (bio);
  return hash;
}

char *
fh_device_store_find_certificate (FhDeviceStore *self, const char *cert_sha256)
{
  g_auto (GStrv) groups = g_key_file_get_groups (self->devices, NULL);

  for (char **g = groups; *g; g++) {
    g_autofree char *kind = g_key_file_get_string (self->devices, *g, "kind", NULL);
    g_autofree char *hash = g_key_file_get_string (self->devices, *g, "cert-sha256", NULL);
    if (g_str_has_prefix (*g, "device ") && kind && g_str_equal (kind, "moonlight") && hash &&
        g_str_equal (hash, cert_sha256))
      return g_strdup (*g + strlen ("device "));
  }
  return NULL;
}

gboolean
fh_device_store_add_certificate (FhDeviceStore *self, const char *name, const char *uniqueid,
                          const char *cert_pem, char **id, GError **error)
{
  g_autofree char *hash = pem_cert_sha256 (cert_pem);
  g_autofree char *old = NULL, *new_id = NULL, *group = NULL, *now = NULL, *old_group = NULL;
  g_autoptr (GDateTime) dt = g_date_time_new_now_utc ();

  if (!hash) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                 "the Moonlight client's certificate does not parse");
    return FALSE;
  }
  /* The same client pairing again keeps one entry, under a new id. */
  if ((old = fh_device_store_find_certificate (self, hash))) {
    old_group = g_strdup_printf ("device %s", old);
    g_key_file_remove_group (self->devices, old_group, NULL);
  }
  new_id = fh_random_hex (8);
  group = g_strdup_printf ("device %s", new_id);
  now = g_date_time_format_iso8601 (dt);
  g_key_file_set_string (self->devices, group, "name", name);
  g_key_file_set_string (self->devices, group, "kind", "moonlight");
  g_key_file_set_string (self->devices, group, "uniqueid", uniqueid);
  g_key_file_set_string (self->devices, group, "cert-sha256", hash);
  g_key_file_set_string (self->devices, group, "cert", cert_pem);
  g_key_file_set_string (self->devices, group, "paired", now);
  g_key_file_set_string (self->devices, group, "level",
                         fh_access_level_to_string (self->default_level));
  if (!save (self, error)) {
    g_key_file_remove_group (self->devices, group, NULL);
    return FALSE;
  }
  *id = g_steal_pointer (&new_id);
  return TRUE;
}
