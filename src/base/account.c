/* Dropping to the session account in a forked child. */
#include "base/account.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <grp.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

FhAccount *
fh_account_resolve (const char *run_as, GError **error)
{
  g_autoptr (FhAccount) self = g_new0 (FhAccount, 1);
  struct passwd *pw;
  int n = 64;

  self->switch_user = getuid () == 0;
  pw = self->switch_user ? getpwnam (run_as) : getpwuid (getuid ());
  if (!pw) {
    if (self->switch_user)
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND,
                   "account '%s' not found: compositors never run as root; create it (useradd "
                   "--system --create-home %s) or set run-as in config.ini",
                   run_as, run_as);
    else
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND,
                   "uid %u has no passwd entry: Xwayland needs one", getuid ());
    return NULL;
  }
  if (pw->pw_uid == 0) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED,
                 "account '%s' is root: compositors and apps never run as root; name an "
                 "unprivileged account in run-as",
                 pw->pw_name);
    return NULL;
  }
  self->name = g_strdup (pw->pw_name);
  self->home = g_strdup (pw->pw_dir);
  self->shell = g_strdup (pw->pw_shell);
  self->uid = pw->pw_uid;
  self->gid = pw->pw_gid;
  self->groups = g_new (gid_t, n);
  if (getgrouplist (self->name, self->gid, self->groups, &n) < 0) {
    self->groups = g_renew (gid_t, self->groups, n);
    getgrouplist (self->name, self->gid, self->groups, &n);
  }
  self->n_groups = n;
  return g_steal_pointer (&self);
}

void
fh_account_free (FhAccount *self)
{
  if (!self)
    return;
  g_free (self->name);
  g_free (self->home);
  g_free (self->shell);
  g_free (self->groups);
  g_free (self);
}

typedef struct {
  FhAccount *account; /* the launcher's caller keeps it */
  int join_fds[FH_ACCOUNT_MAX_JOIN];
  guint n_join;
} ChildSetup;

static void
child_setup_free (gpointer data)
{
  ChildSetup *setup = data;

  for (guint i = 0; i < setup->n_join; i++)
    close (setup->join_fds[i]);
  g_free (setup);
}

/* Runs in the forked child: only async-signal-safe calls. */
static void
child_setup (gpointer user_data)
{
  ChildSetup *setup = user_data;
  FhAccount *self = setup->account;

  setsid ();
  /* Into the session's cgroups while it still may. */
  for (guint i = 0; i < setup->n_join; i++) {
    if (write (setup->join_fds[i], "0", 1) != 1)
      _exit (125);
  }
  if (self->switch_user) {
    if (setgroups ((size_t) self->n_groups, self->groups) < 0 || setgid (self->gid) < 0 ||
        setuid (self->uid) < 0)
      _exit (126);
  }
}

GSubprocessLauncher *
fh_account_new_launcher (FhAccount *self, GSubprocessFlags flags)
{
  return fh_account_new_launcher_joining (self, flags, NULL, 0);
}

GSubprocessLauncher *
fh_account_new_launcher_joining (FhAccount *self, GSubprocessFlags flags, const int *join_fds,
                                 guint n_join)
{
  GSubprocessLauncher *launcher = g_subprocess_launcher_new (flags);
  const char *lang = g_getenv ("LANG");
  const char *env[] = { NULL };
  ChildSetup *setup = g_new0 (ChildSetup, 1);

  g_return_val_if_fail (n_join <= FH_ACCOUNT_MAX_JOIN, NULL);
  setup->account = self;
  for (guint i = 0; i < n_join; i++)
    setup->join_fds[setup->n_join++] = fcntl (join_fds[i], F_DUPFD_CLOEXEC, 3);
  g_subprocess_launcher_set_environ (launcher, (char **) env);
  g_subprocess_launcher_setenv (launcher, "HOME", self->home, TRUE);
  g_subprocess_launcher_setenv (launcher, "USER", self->name, TRUE);
  g_subprocess_launcher_setenv (launcher, "LOGNAME", self->name, TRUE);
  g_subprocess_launcher_setenv (launcher, "SHELL", self->shell, TRUE);
  g_subprocess_launcher_setenv (launcher, "PATH", "/usr/local/bin:/usr/bin:/bin", TRUE);
  g_subprocess_launcher_setenv (launcher, "LANG", lang ? lang : "C.UTF-8", TRUE);
  g_subprocess_launcher_set_child_setup (launcher, child_setup, setup, child_setup_free);
  return launcher;
}

/* @path belongs to the account (a host running as root made it). */
static gboolean
hand_to (FhAccount *self, const char *path, GError **error)
{
  if (self->switch_user && chown (path, self->uid, self->gid) < 0) {
    int saved = errno;
    g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved), "cannot hand %s to %s: %s",
                 path, self->name, g_strerror (saved));
    return FALSE;
  }
  return TRUE;
}

gboolean
fh_account_write_file (FhAccount *self, const char *path, const char *contents, int mode,
                       GError **error)
{
  if (!g_file_set_contents_full (path, contents, -1, G_FILE_SET_CONTENTS_NONE, mode, error))
    return FALSE;
  return hand_to (self, path, error);
}

gboolean
fh_account_make_dir (FhAccount *self, const char *path, GError **error)
{
  if (g_mkdir (path, 0700) < 0 && errno != EEXIST) {
    int saved = errno;
    g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved), "cannot create %s: %s", path,
                 g_strerror (saved));
    return FALSE;
  }
  return hand_to (self, path, error);
}

char *
fh_account_runtime_base (FhAccount *self, GError **error)
{
  g_autofree char *run_user = g_strdup_printf ("/run/user/%u", self->uid);
  g_autofree char *tmp = NULL;
  const char *own = g_getenv ("XDG_RUNTIME_DIR");
  struct stat st;

  if (!self->switch_user && own && *own)
    return g_strdup (own);
  if (stat (run_user, &st) == 0 && S_ISDIR (st.st_mode) && st.st_uid == self->uid)
    return g_steal_pointer (&run_user);

  tmp = g_strdup_printf ("%s/funkhaus-%u", g_get_tmp_dir (), self->uid);
  if (!fh_account_make_dir (self, tmp, error))
    return NULL;
  /* It may have been there before us: it must be the account's alone. */
  if (lstat (tmp, &st) < 0 || !S_ISDIR (st.st_mode) || st.st_uid != self->uid ||
      (st.st_mode & 0077)) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED,
                 "%s is not a private directory of %s: remove it and start again", tmp,
                 self->name);
    return NULL;
  }
  return g_steal_pointer (&tmp);
}
