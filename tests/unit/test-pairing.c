/* Unit tests of PIN pairing and the device store. */
#include <glib/gstdio.h>
#include <sys/stat.h>

#include "host/pairing.h"

static void
test_pair_and_check (void)
{
  g_autofree char *dir = g_dir_make_tmp ("fh-pairing-XXXXXX", NULL);
  g_autofree char *path = g_build_filename (dir, "devices.ini", NULL);
  g_autofree char *device = NULL, *token = NULL, *pin = NULL;
  g_autoptr (FhPairing) pairing = fh_pairing_new (dir, NULL);
  g_autoptr (FhPairing) reloaded = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *contents = NULL;
  char wrong[7];
  GStatBuf st;

  g_assert_nonnull (pairing);
  /* No PIN yet. */
  g_assert_false (fh_pairing_pair (pairing, "000000", "x", &device, &token, &error));
  g_assert_error (error, FH_PAIRING_ERROR, FH_PAIRING_ERROR_NO_PIN);
  g_clear_error (&error);

  pin = g_strdup (fh_pairing_new_pin (pairing));
  g_assert_cmpuint (strlen (pin), ==, 6);
  g_snprintf (wrong, sizeof wrong, "%06d", (atoi (pin) + 1) % 1000000);
  g_assert_false (fh_pairing_pair (pairing, wrong, "x", &device, &token, &error));
  g_assert_error (error, FH_PAIRING_ERROR, FH_PAIRING_ERROR_WRONG_PIN);
  g_clear_error (&error);
  g_assert_false (fh_pairing_pair (pairing, "12345", "x", &device, &token, &error));
  g_clear_error (&error);

  g_assert_true (fh_pairing_pair (pairing, pin, "laptop", &device, &token, &error));
  g_assert_no_error (error);
  g_assert_true (fh_pairing_check (pairing, device, token));
  g_assert_false (fh_pairing_check (pairing, device, "nope"));
  g_assert_false (fh_pairing_check (pairing, "other", token));

  /* The PIN is used up. */
  g_assert_false (fh_pairing_pair (pairing, pin, "again", &(char *){ NULL }, &(char *){ NULL },
                                   &error));
  g_assert_error (error, FH_PAIRING_ERROR, FH_PAIRING_ERROR_NO_PIN);

  /* Stored 0600, hashed, and read back by a new instance. */
  g_assert_cmpint (g_stat (path, &st), ==, 0);
  g_assert_cmpint (st.st_mode & 0777, ==, 0600);
  g_assert_true (g_file_get_contents (path, &contents, NULL, NULL));
  g_assert_null (strstr (contents, token));
  reloaded = fh_pairing_new (dir, NULL);
  g_assert_true (fh_pairing_check (reloaded, device, token));

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
  g_test_add_func ("/pairing/random-hex", test_random_hex);
  return g_test_run ();
}
