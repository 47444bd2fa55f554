/* PINs and device credentials (devices.ini in the config dir, 0600). */
#include "host/pairing.h"

#include <gio/gio.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <string.h>

G_DEFINE_QUARK (fh-pairing-error-quark, fh_pairing_error)

struct _FhPairing {
  char *path;
  GKeyFile *devices;
  char pin[7]; /* "" = none active */
};

char *
fh_random_hex (gsize bytes)
{
  g_autofree guint8 *buf = g_malloc (bytes);
  GString *out = g_string_sized_new (bytes * 2);

  if (RAND_bytes (buf, (int) bytes) != 1)
    g_error ("OpenSSL's random generator failed");
  for (gsize i = 0; i < bytes; i++)
    g_string_append_printf (out, "%02x", buf[i]);
  return g_string_free (out, FALSE);
}

static char *
hash_token (const char *token)
{
  return g_compute_checksum_for_string (G_CHECKSUM_SHA256, token, -1);
}

FhPairing *
fh_pairing_new (const char *config_dir, GError **error)
{
  g_autoptr (FhPairing) self = g_new0 (FhPairing, 1);
  g_autoptr (GError) local_error = NULL;

  self->path = g_build_filename (config_dir, "devices.ini", NULL);
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
fh_pairing_free (FhPairing *self)
{
  if (!self)
    return;
  g_key_file_free (self->devices);
  g_free (self->path);
  OPENSSL_cleanse (self->pin, sizeof self->pin);
  g_free (self);
}

const char *
fh_pairing_new_pin (FhPairing *self)
{
  guint32 r;

  do {
    RAND_bytes ((guint8 *) &r, sizeof r);
  } while (r >= 4294000000u); /* no modulo bias */
  g_snprintf (self->pin, sizeof self->pin, "%06u", r % 1000000);
  return self->pin;
}

gboolean
fh_pairing_pair (FhPairing *self, const char *pin, const char *name, char **device,
                 char **token, GError **error)
{
  g_autofree char *id = NULL, *secret = NULL, *hash = NULL, *group = NULL, *now = NULL;
  g_autofree char *data = NULL;
  gsize len;
  g_autoptr (GDateTime) dt = g_date_time_new_now_utc ();

  if (!self->pin[0]) {
    g_set_error (error, FH_PAIRING_ERROR, FH_PAIRING_ERROR_NO_PIN,
                 "no PIN is active: run 'funkhaus pair' on the host for a new one");
    return FALSE;
  }
  if (strlen (pin) != 6 || CRYPTO_memcmp (pin, self->pin, 6) != 0) {
    g_set_error (error, FH_PAIRING_ERROR, FH_PAIRING_ERROR_WRONG_PIN,
                 "wrong PIN: use the PIN the host shows (run 'funkhaus pair' for a new one)");
    return FALSE;
  }

  id = fh_random_hex (8);
  secret = fh_random_hex (32);
  hash = hash_token (secret);
  group = g_strdup_printf ("device %s", id);
  now = g_date_time_format_iso8601 (dt);
  g_key_file_set_string (self->devices, group, "name", name);
  g_key_file_set_string (self->devices, group, "token-sha256", hash);
  g_key_file_set_string (self->devices, group, "paired", now);
  data = g_key_file_to_data (self->devices, &len, NULL);
  if (!g_file_set_contents_full (self->path, data, (gssize) len, G_FILE_SET_CONTENTS_CONSISTENT,
                                 0600, error)) {
    g_key_file_remove_group (self->devices, group, NULL);
    return FALSE;
  }
  memset (self->pin, 0, sizeof self->pin); /* used up */
  *device = g_steal_pointer (&id);
  *token = g_steal_pointer (&secret);
  return TRUE;
}

gboolean
fh_pairing_check (FhPairing *self, const char *device, const char *token)
{
  g_autofree char *group = g_strdup_printf ("device %s", device);
  g_autofree char *stored = g_key_file_get_string (self->devices, group, "token-sha256", NULL);
  g_autofree char *hash = NULL;

  if (!stored || strlen (stored) != 64)
    return FALSE;
  hash = hash_token (token);
  return CRYPTO_memcmp (hash, stored, 64) == 0;
}
