/* Unit tests of PIN pairing and the device store. */
#include <glib/gstdio.h>
#include <sys/stat.h>

#include "core/device-store.h"

static void
test_pair_and_check (void)
{
  g_autofree char *dir = g_dir_make_tmp ("fh-pairing-XXXXXX", NULL);
  g_autofree char *path = g_build_filename (dir, "devices.ini", NULL);
  g_autofree char *device = NULL, *token = NULL, *pin = NULL;
  g_autoptr (FhDeviceStore) pairing = fh_device_store_new (dir, NULL);
  g_autoptr (FhDeviceStore) reloaded = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *contents = NULL;
  char wrong[7];
  GStatBuf st;

  g_assert_nonnull (pairing);
  /* No PIN yet. */
  g_assert_false (fh_device_store_pair (pairing, "000000", "x", "a", &device, &token, NULL, &error));
  g_assert_error (error, FH_DEVICE_STORE_ERROR, FH_DEVICE_STORE_ERROR_NO_PIN);
  g_clear_error (&error);

  pin = g_strdup (fh_device_store_new_pin (pairing));
  g_assert_cmpuint (strlen (pin), ==, 6);
  g_snprintf (wrong, sizeof wrong, "%06d", (atoi (pin) + 1) % 1000000);
  g_assert_false (fh_device_store_pair (pairing, wrong, "x", "b", &device, &token, NULL, &error));
  g_assert_error (error, FH_DEVICE_STORE_ERROR, FH_DEVICE_STORE_ERROR_WRONG_PIN);
  g_clear_error (&error);
  g_assert_false (fh_device_store_pair (pairing, "12345", "x", "c", &device, &token, NULL, &error));
  g_clear_error (&error);

  g_assert_true (fh_device_store_pair (pairing, pin, "laptop", "a", &device, &token, NULL, &error));
  g_assert_no_error (error);
  g_assert_true (fh_device_store_check (pairing, device, token));
  g_assert_false (fh_device_store_check (pairing, device, "nope"));
  g_assert_false (fh_device_store_check (pairing, "other", token));

  /* The PIN is used up. */
  g_assert_false (fh_device_store_pair (pairing, pin, "again", "d", &(char *){ NULL },
                                   &(char *){ NULL }, NULL, &error));
  g_assert_error (error, FH_DEVICE_STORE_ERROR, FH_DEVICE_STORE_ERROR_NO_PIN);

  /* Stored 0600, hashed, and read back by a new instance. */
  g_assert_cmpint (g_stat (path, &st), ==, 0);
  g_assert_cmpint (st.st_mode & 0777, ==, 0600);
  g_assert_true (g_file_get_contents (path, &contents, NULL, NULL));
  g_assert_null (strstr (contents, token));
  reloaded = fh_device_store_new (dir, NULL);
  g_assert_true (fh_device_store_check (reloaded, device, token));

  g_unlink (path);
  g_rmdir (dir);
}

static void
test_backoff (void)
{
  g_autofree char *dir = g_dir_make_tmp ("fh-pairing-XXXXXX", NULL);
  g_autofree char *path = g_build_filename (dir, "devices.ini", NULL);
  g_autoptr (FhDeviceStore) pairing = fh_device_store_new (dir, NULL);
  g_autofree char *pin = g_strdup (fh_device_store_new_pin (pairing));
  g_autofree char *device = NULL, *token = NULL;
  g_autoptr (GError) error = NULL;
  char wrong[7];
  guint retry = 0;

  g_snprintf (wrong, sizeof wrong, "%06d", (atoi (pin) + 1) % 1000000);
  /* The free attempts, then a lock: even the right PIN is refused. */
  for (int i = 0; i < FH_DEVICE_STORE_FREE_ATTEMPTS; i++) {
    g_assert_false (fh_device_store_pair (pairing, wrong, "x", "attacker", &device, &token, NULL,
                                     &error));
    g_assert_error (error, FH_DEVICE_STORE_ERROR, FH_DEVICE_STORE_ERROR_WRONG_PIN);
    g_clear_error (&error);
  }
  g_assert_false (fh_device_store_pair (pairing, pin, "x", "attacker", &device, &token, &retry,
                                   &error));
  g_assert_error (error, FH_DEVICE_STORE_ERROR, FH_DEVICE_STORE_ERROR_LOCKED);
  g_assert_cmpuint (retry, ==, 1);
  g_clear_error (&error);
  /* Another address is not held up. */
  g_assert_false (fh_device_store_pair (pairing, wrong, "x", "someone", &device, &token, NULL,
                                   &error));
  g_assert_error (error, FH_DEVICE_STORE_ERROR, FH_DEVICE_STORE_ERROR_WRONG_PIN);
  g_clear_error (&error);
  /* After the wait, the right PIN works. */
  g_usleep (1100 * 1000);
  g_assert_true (fh_device_store_pair (pairing, pin, "x", "attacker", &device, &token, NULL, &error));
  g_assert_no_error (error);

  /* Twenty wrong PINs from anywhere withdraw the PIN. */
  g_clear_pointer (&pin, g_free);
  pin = g_strdup (fh_device_store_new_pin (pairing));
  g_snprintf (wrong, sizeof wrong, "%06d", (atoi (pin) + 1) % 1000000);
  for (int i = 0; i < FH_DEVICE_STORE_MAX_WRONG; i++) {
    g_autofree char *peer = g_strdup_printf ("bot%d", i);
    g_assert_false (fh_device_store_pair (pairing, wrong, "x", peer, &(char *){ NULL },
                                     &(char *){ NULL }, NULL, NULL));
  }
  g_assert_false (fh_device_store_pair (pairing, pin, "x", "owner", &(char *){ NULL },
                                   &(char *){ NULL }, NULL, &error));
  g_assert_error (error, FH_DEVICE_STORE_ERROR, FH_DEVICE_STORE_ERROR_NO_PIN);

  g_unlink (path);
  g_rmdir (dir);
}

static void
test_list_and_revoke (void)
{
  g_autofree char *dir = g_dir_make_tmp ("fh-pairing-XXXXXX", NULL);
  g_autofree char *path = g_build_filename (dir, "devices.ini", NULL);
  g_autoptr (FhDeviceStore) pairing = fh_device_store_new (dir, NULL);
  g_autoptr (FhDeviceStore) reloaded = NULL;
  g_autofree char *d1 = NULL, *t1 = NULL, *d2 = NULL, *t2 = NULL;
  g_autoptr (GPtrArray) list = NULL;
  g_autoptr (GError) error = NULL;

  g_assert_true (fh_device_store_pair (pairing, fh_device_store_new_pin (pairing), "tv", "a", &d1, &t1,
                                  NULL, NULL));
  g_assert_true (fh_device_store_pair (pairing, fh_device_store_new_pin (pairing), "laptop", "a", &d2,
                                  &t2, NULL, NULL));
  list = fh_device_store_list (pairing);
  g_assert_cmpuint (list->len, ==, 2);
  g_assert_cmpstr (((FhDevice *) list->pdata[0])->name, ==, "tv");
  g_assert_cmpstr (((FhDevice *) list->pdata[1])->id, ==, d2);

  g_assert_true (fh_device_store_revoke (pairing, d1, &error));
  g_assert_no_error (error);
  g_assert_false (fh_device_store_check (pairing, d1, t1));
  g_assert_true (fh_device_store_check (pairing, d2, t2));
  g_assert_false (fh_device_store_revoke (pairing, d1, &error));
  g_assert_error (error, FH_DEVICE_STORE_ERROR, FH_DEVICE_STORE_ERROR_UNKNOWN_DEVICE);
  /* Gone from the file too. */
  reloaded = fh_device_store_new (dir, NULL);
  g_assert_false (fh_device_store_check (reloaded, d1, t1));
  g_assert_true (fh_device_store_check (reloaded, d2, t2));

  g_unlink (path);
  g_rmdir (dir);
}

static void
test_random_hex (void)
{
  g_autofree char *a = fh_random_hex (16);
  g_autofree char *b = fh_random_hex (16);

  g_assert_cmpuint (strlen (a), ==, 32);
  g_assert_cmpstr (a, !=, b);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/pairing/pair-and-check", test_pair_and_check);
  g_test_add_func ("/pairing/backoff", test_backoff);
  g_test_add_func ("/pairing/list-and-revoke", test_list_and_revoke);
  g_test_add_func ("/pairing/random-hex", test_random_hex);
  return g_test_run ();
}
