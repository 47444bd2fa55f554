/* Access levels (core/access.c): their names, what each lets through, the
 * durations and times of an expiry, and that an expired level is view;
 * and how the device store keeps them (core/device-store.c). */
#include <gio/gio.h>
#include <glib/gstdio.h>

#include "core/access.h"
#include "core/device-store.h"

/* g_test_expect_message does not see structured logging: warnings are
 * kept here (and are not fatal) for the test to check. */
static GString *warnings;

static GLogWriterOutput
keep_warnings (GLogLevelFlags level, const GLogField *fields, gsize n, gpointer data)
{
  if (!(level & G_LOG_LEVEL_WARNING))
    return g_log_writer_default (level, fields, n, data);
  for (gsize i = 0; i < n; i++) {
    if (g_str_equal (fields[i].key, "MESSAGE"))
      g_string_append_printf (warnings, "%s\n", (const char *) fields[i].value);
  }
  return G_LOG_WRITER_HANDLED;
}

static void
test_names (void)
{
  FhAccessLevel level = FH_ACCESS_VIEW;

  for (FhAccessLevel l = FH_ACCESS_FULL; l <= FH_ACCESS_VIEW; l++) {
    g_assert_true (fh_access_level_from_string (fh_access_level_to_string (l), &level));
    g_assert_cmpint (level, ==, l);
  }
  g_assert_cmpstr (fh_access_level_to_string (FH_ACCESS_CONTROLLER), ==, "controller");
  for (const char *const *bad = (const char *const[]) { "", "Full", "full ", "admin", "views", NULL };
       *bad; bad++)
    g_assert_false (fh_access_level_from_string (*bad, &level));
  g_assert_false (fh_access_level_from_string (NULL, &level));
}

static void
test_allows (void)
{
  g_assert_true (fh_access_level_allows (FH_ACCESS_FULL, FH_ACCESS_INPUT_KEYBOARD_MOUSE));
  g_assert_true (fh_access_level_allows (FH_ACCESS_FULL, FH_ACCESS_INPUT_PAD));
  g_assert_false (fh_access_level_allows (FH_ACCESS_CONTROLLER, FH_ACCESS_INPUT_KEYBOARD_MOUSE));
  g_assert_true (fh_access_level_allows (FH_ACCESS_CONTROLLER, FH_ACCESS_INPUT_PAD));
  g_assert_false (fh_access_level_allows (FH_ACCESS_VIEW, FH_ACCESS_INPUT_KEYBOARD_MOUSE));
  g_assert_false (fh_access_level_allows (FH_ACCESS_VIEW, FH_ACCESS_INPUT_PAD));
  g_assert_true (fh_access_level_allows (FH_ACCESS_FULL, FH_ACCESS_INPUT_MICROPHONE));
  g_assert_true (fh_access_level_allows (FH_ACCESS_CONTROLLER, FH_ACCESS_INPUT_MICROPHONE));
  g_assert_false (fh_access_level_allows (FH_ACCESS_VIEW, FH_ACCESS_INPUT_MICROPHONE));
  /* The clipboard is the desktop's, as the keyboard is: full access only. */
  g_assert_true (fh_access_level_allows (FH_ACCESS_FULL, FH_ACCESS_INPUT_CLIPBOARD));
  g_assert_false (fh_access_level_allows (FH_ACCESS_CONTROLLER, FH_ACCESS_INPUT_CLIPBOARD));
  g_assert_false (fh_access_level_allows (FH_ACCESS_VIEW, FH_ACCESS_INPUT_CLIPBOARD));
}

static void
test_expiry (void)
{
  FhAccess forever = { FH_ACCESS_FULL, 0 };
  FhAccess until = { FH_ACCESS_CONTROLLER, 1000 };

  g_assert_cmpint (fh_access_effective (&forever, G_MAXINT64), ==, FH_ACCESS_FULL);
  g_assert_cmpint (fh_access_effective (&until, 999), ==, FH_ACCESS_CONTROLLER);
  /* At the second it names, it is over. */
  g_assert_cmpint (fh_access_effective (&until, 1000), ==, FH_ACCESS_VIEW);
  g_assert_cmpint (fh_access_effective (&until, 5000), ==, FH_ACCESS_VIEW);
}

static void
test_durations (void)
{
  static const struct {
    const char *text;
    gint64 seconds;
  } good[] = {
    { "45", 45 }, { "45s", 45 }, { "30m", 1800 }, { "2h", 7200 }, { "1d", 86400 },
    { "1h30m", 5400 }, { "1d2h3m4s", 93784 }, { "366d", 366 * 86400 }, { "0h5m", 300 },
  };
  static const char *const bad[] = {
    "", "0", "0s", "h", "2x", "2 h", "-5m", "1h30", "2.5h", "367d", "99999999999999999999",
    "1h-", "s5",
  };
  gint64 seconds = -1;

  for (guint i = 0; i < G_N_ELEMENTS (good); i++) {
    g_autoptr (GError) error = NULL;
    g_assert_true (fh_access_parse_duration (good[i].text, &seconds, &error));
    g_assert_no_error (error);
    g_assert_cmpint (seconds, ==, good[i].seconds);
  }
  for (guint i = 0; i < G_N_ELEMENTS (bad); i++) {
    g_autoptr (GError) error = NULL;
    g_assert_false (fh_access_parse_duration (bad[i], &seconds, &error));
    g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
    g_assert_nonnull (strstr (error->message, "2h"));
  }
}

static void
test_times (void)
{
  gint64 t = 0;
  g_autofree char *text = NULL;
  g_autoptr (GError) error = NULL;

  g_assert_true (fh_access_parse_time ("2026-12-24T18:00:00Z", &t, NULL));
  g_assert_cmpint (t, ==, 1798135200);
  g_assert_true (fh_access_parse_time ("2026-12-24T19:00:00+01:00", &t, NULL));
  g_assert_cmpint (t, ==, 1798135200);
  text = fh_access_format_time (t);
  g_assert_cmpstr (text, ==, "2026-12-24T18:00:00Z");
  g_assert_false (fh_access_parse_time ("tomorrow", &t, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
  g_assert_false (fh_access_parse_time ("2026-13-01T00:00:00Z", &t, NULL));
  g_assert_false (fh_access_parse_time ("", &t, NULL));
  g_assert_false (fh_access_parse_time (NULL, &t, NULL));
}

/* A level set is stored; a device from before levels is full; what does
 * not parse is view (or expired); a new device gets the default. */
static void
test_store (void)
{
  g_autofree char *dir = g_dir_make_tmp ("fh-access-XXXXXX", NULL);
  g_autofree char *path = g_build_filename (dir, "devices.ini", NULL);
  g_autoptr (FhDeviceStore) store = NULL, again = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *id = NULL, *token = NULL;
  FhAccess access, set = { FH_ACCESS_CONTROLLER, 1798135200 };
  const char *file = "[device 00000001]\nname=old\ntoken-sha256=x\n\n"
                     "[device 00000002]\nname=bad\nlevel=admin\nlevel-until=soon\n";

  g_assert_true (g_file_set_contents (path, file, -1, NULL));
  store = fh_device_store_new (dir, &error);
  g_assert_no_error (error);
  g_assert_true (fh_device_store_get_access (store, "00000001", &access));
  g_assert_cmpint (access.level, ==, FH_ACCESS_FULL);
  g_assert_cmpint (access.until, ==, 0);
  g_string_truncate (warnings, 0);
  g_assert_true (fh_device_store_get_access (store, "00000002", &access));
  g_assert_nonnull (strstr (warnings->str, "level=admin is not full, controller or view: read as view"));
  g_assert_nonnull (strstr (warnings->str, "level-until=soon is not an ISO 8601 time: read as expired"));
  g_assert_cmpint (fh_access_effective (&access, 2), ==, FH_ACCESS_VIEW);
  g_assert_false (fh_device_store_get_access (store, "nobody", &access));
  g_assert_cmpint (access.level, ==, FH_ACCESS_VIEW);

  g_assert_true (fh_device_store_set_access (store, "00000001", &set, &error));
  g_assert_no_error (error);
  g_assert_false (fh_device_store_set_access (store, "nobody", &set, &error));
  g_assert_error (error, FH_DEVICE_STORE_ERROR, FH_DEVICE_STORE_ERROR_UNKNOWN_DEVICE);
  g_clear_error (&error);

  fh_device_store_set_default_level (store, FH_ACCESS_VIEW);
  g_assert_true (fh_device_store_pair (store, fh_device_store_new_pin (store), "new", "192.0.2.1",
                                       &id, &token, NULL, &error));
  g_assert_no_error (error);

  /* What another store reads from the file. */
  again = fh_device_store_new (dir, &error);
  g_assert_no_error (error);
  g_assert_true (fh_device_store_get_access (again, "00000001", &access));
  g_assert_cmpint (access.level, ==, FH_ACCESS_CONTROLLER);
  g_assert_cmpint (access.until, ==, 1798135200);
  g_assert_true (fh_device_store_get_access (again, id, &access));
  g_assert_cmpint (access.level, ==, FH_ACCESS_VIEW);
  /* Forever again: the expiry goes from the file. */
  set = (FhAccess) { FH_ACCESS_FULL, 0 };
  g_assert_true (fh_device_store_set_access (again, "00000001", &set, NULL));
  g_clear_pointer (&store, fh_device_store_free);
  store = fh_device_store_new (dir, NULL);
  g_assert_true (fh_device_store_get_access (store, "00000001", &access));
  g_assert_cmpint (access.level, ==, FH_ACCESS_FULL);
  g_assert_cmpint (access.until, ==, 0);

  g_unlink (path);
  g_rmdir (dir);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  warnings = g_string_new (NULL);
  g_log_set_writer_func (keep_warnings, NULL, NULL);
  g_test_add_func ("/access/names", test_names);
  g_test_add_func ("/access/allows", test_allows);
  g_test_add_func ("/access/expiry", test_expiry);
  g_test_add_func ("/access/durations", test_durations);
  g_test_add_func ("/access/times", test_times);
  g_test_add_func ("/access/store", test_store);
  return g_test_run ();
}
