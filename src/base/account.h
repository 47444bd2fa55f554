/* The account compositors and apps run as: never root. A host started as
 * root runs them as a configured unprivileged account; a host started as a
 * normal user runs them as itself. */
#pragma once

#include <gio/gio.h>
#include <sys/types.h>

typedef struct {
  char *name;
  char *home;
  char *shell;
  uid_t uid;
  gid_t gid;
  gid_t *groups;
  int n_groups;
  gboolean switch_user; /* the host is root: drop to this account */
} FhAccount;

/* @run_as is used only when the host runs as root. */
FhAccount *fh_account_resolve (const char *run_as, GError **error);
void fh_account_free (FhAccount *account);

/* A launcher whose children run as @account in a session (and process
 * group) of their own, with an environment holding only what is given
 * here: HOME, USER, LOGNAME, SHELL, PATH, LANG. */
GSubprocessLauncher *fh_account_new_launcher (FhAccount *account, GSubprocessFlags flags);

#define FH_ACCOUNT_MAX_JOIN 2
/* The same, and each child first writes "0" into each of @join_fds (at
 * most FH_ACCOUNT_MAX_JOIN open cgroup.procs files, duplicated here), so
 * that it and all it starts live in those cgroups, before it drops to
 * @account. */
GSubprocessLauncher *fh_account_new_launcher_joining (FhAccount *account, GSubprocessFlags flags,
                                                      const int *join_fds, guint n_join);

/* A directory owned by @account (0700) under which its compositors keep
 * their runtime dirs: $XDG_RUNTIME_DIR when the host runs as that account,
 * else /run/user/<uid> when it exists, else <tmp>/funkhaus-<uid> (made, or
 * checked to be the account's own). */
char *fh_account_runtime_base (FhAccount *account, GError **error);

/* Writes @contents into @path (mode @mode), owned by @account. */
gboolean fh_account_write_file (FhAccount *account, const char *path, const char *contents,
                                int mode, GError **error);

/* Makes @path a directory owned by @account, mode 0700. */
gboolean fh_account_make_dir (FhAccount *account, const char *path, GError **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (FhAccount, fh_account_free)
