/* Unit tests of config.ini: the owner's app list ([app NAME] groups), and
 * bitrate-adaptation. */
#include <string.h>

#include <glib/gstdio.h>

#include "app/config.h"

/* Loads @text as a config.ini into a fresh config; NULL with @error. */
static FhConfig *
load (const char *text, GError **error)
{
  g_autofree char *dir = g_dir_make_tmp ("fh-config-XXXXXX", NULL);
  g_autofree char *path = g_build_filename (dir, "config.ini", NULL);
  g_autoptr (FhConfig) config = fh_config_new ();
  gboolean ok;

  g_assert_true (g_file_set_contents (path, text, -1, NULL));
  ok = fh_config_load (config, path, error);
  g_unlink (path);
  g_rmdir (dir);
  return ok ? g_steal_pointer (&config) : NULL;
}

static void
test_no_apps (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (FhConfig) config = load ("[host]\napp=xterm\n", &error);

  g_assert_no_error (error);
  g_assert_cmpuint (config->apps->len, ==, 0); /* the default list */
  g_assert_cmpstr (config->app, ==, "xterm");
}

static void
test_apps_in_order (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (FhConfig) config =
    load ("[host]\nbackend=wlroots\n"
          "[app Desktop]\n"
          "[app Steam Big Picture]\ncommand=steam -gamepadui\nbackend=gamescope\n"
          "icon=/usr/share/icons/steam.png\n"
          "[app  Editor ]\ncommand=  \n",
          &error);
  const FhConfigApp *app;

  g_assert_no_error (error);
  g_assert_cmpuint (config->apps->len, ==, 3);
  app = config->apps->pdata[0];
  g_assert_cmpstr (app->name, ==, "Desktop");
  g_assert_null (app->command);
  g_assert_null (app->backend);
  g_assert_null (app->icon);
  app = config->apps->pdata[1];
  g_assert_cmpstr (app->name, ==, "Steam Big Picture");
  g_assert_cmpstr (app->command, ==, "steam -gamepadui");
  g_assert_cmpstr (app->backend, ==, "gamescope");
  g_assert_cmpstr (app->icon, ==, "/usr/share/icons/steam.png");
  app = config->apps->pdata[2];
  g_assert_cmpstr (app->name, ==, "Editor ");
  g_assert_null (app->command); /* blank: the default app */
}

static void
test_bad_apps (void)
{
  static const char *const bad[] = {
    "[app ]\ncommand=foot\n",
    "[app]\ncommand=foot\n",
    "[app Desktop]\nbackend=x11\n",
  };

  for (gsize i = 0; i < G_N_ELEMENTS (bad); i++) {
    g_autoptr (GError) error = NULL;
    g_autoptr (FhConfig) config = load (bad[i], &error);
    g_assert_null (config);
    g_assert_error (error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_INVALID_VALUE);
  }
}

static void
test_bitrate_adaptation (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (FhConfig) defaults = load ("[host]\n", &error);
  g_autoptr (FhConfig) off = NULL, bad = NULL;

  g_assert_no_error (error);
  g_assert_cmpstr (defaults->bitrate_adaptation, ==, "on");
  off = load ("[host]\nbitrate-adaptation=off\n", &error);
  g_assert_no_error (error);
  g_assert_cmpstr (off->bitrate_adaptation, ==, "off");
  bad = load ("[host]\nbitrate-adaptation=sometimes\n", &error);
  g_assert_null (bad);
  g_assert_error (error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_INVALID_VALUE);
  g_assert_nonnull (strstr (error->message, "bitrate-adaptation must be on or off"));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/config/no-apps", test_no_apps);
  g_test_add_func ("/config/apps-in-order", test_apps_in_order);
  g_test_add_func ("/config/bad-apps", test_bad_apps);
  g_test_add_func ("/config/bitrate-adaptation", test_bitrate_adaptation);
  return g_test_run ();
}
