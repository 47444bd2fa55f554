/* A session's sandbox: the identity an independent session's processes run
 * under and the walls around them. Every process of the session (its
 * compositor, its apps, its own PipeWire) is started through it:
 *
 * - identity: a host started as root runs them as an OS account of the
 *   session's device (fh-<device id>, made on the device's first session
 *   and kept, with its home in homes-dir); a host started as a normal user
 *   runs them as itself, with a home per device in homes-dir;
 * - walls (bubblewrap): a mount namespace that shows /usr, /etc and the
 *   like read-only, the device's home and the session's runtime dir, and
 *   nothing else of the host: a /tmp, /dev/shm and /dev of its own; a PID
 *   and IPC namespace of its own; and a network namespace of its own with
 *   the internet through slirp4netns, so X11's abstract sockets are its own too;
 * - resources: a cgroup of its own where the box offers one
 *   (backends/cgroup.h: a CPU weight against the other sessions, a memory
 *   limit), and everywhere a lower CPU priority than the host's capture
 *   and encode threads.
 *
 * Blocking calls: use them on a worker thread, never on the main loop. */
#pragma once

#include <gio/gio.h>

#include "backends/cgroup.h"
#include "backends/pads.h"
#include "base/account.h"

typedef struct _FhSandbox FhSandbox;

/* The file in a session's runtime dir that names its host
 * (fh_process_host_marker), for backends/leftovers.c. */
#define FH_SANDBOX_HOST_MARKER "funkhaus-host"

typedef struct {
  /* Where the devices' homes are (made 0755 when missing): <homes_dir>/<device>. */
  const char *homes_dir;
  /* The account a session without a device runs as when the host is root
   * (tests, benchmarks). */
  const char *run_as;
  /* FALSE: no walls, only the identity (for a host where bubblewrap
   * cannot run; the host says so at start). */
  gboolean isolate;
  /* Niceness of the session's processes (0–19): the host's own threads
   * stay at 0. */
  int nice;
  /* A cgroup per session, where the box offers them. */
  FhCgroupConfig cgroup;
  /* More folders every session sees, read-write, at the same path (a
   * shared games library, a test's records), or NULL. */
  const char *const *binds;
  /* The session's gamepads (backends/pads.h): how they are made (OFF:
   * none), how many at most (0: none), and for user-space pads the shim
   * on the host (libfunkhaus-pad.so) that the session's apps preload.
   * Pads need the walls: the seat's folder is the session's /dev/input. */
  FhPadMethod pads;
  guint max_pads;
  const char *pad_shim;
} FhSandboxConfig;

/* Resolves (and as root makes) the account of @device, makes its home and
 * the session's runtime dir (0700, the account's). @device NULL: the
 * run_as account and a home of the session's own. */
FhSandbox *fh_sandbox_new (const FhSandboxConfig *config, const char *device,
                           const char *session_id, GError **error);
/* Stops every process of the session (SIGTERM, then SIGKILL after 2 s),
 * removes the runtime dir, frees. The home stays. */
void fh_sandbox_free (FhSandbox *sandbox);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (FhSandbox, fh_sandbox_free)

FhAccount *fh_sandbox_get_account (FhSandbox *sandbox);
const char *fh_sandbox_get_home (FhSandbox *sandbox);
/* The session's XDG_RUNTIME_DIR, inside and outside the sandbox alike. */
const char *fh_sandbox_get_runtime_dir (FhSandbox *sandbox);
gboolean fh_sandbox_is_isolated (FhSandbox *sandbox);
/* The session's cgroup, or NULL where there is none. */
FhCgroup *fh_sandbox_get_cgroup (FhSandbox *sandbox);

/* The folder for the session's pads (<runtime dir>/input, made 0755, the
 * account's), shown as /dev/input inside the sandbox; NULL when the
 * session has no pads (no walls, pads off, none allowed, no shim). */
const char *fh_sandbox_get_pad_dir (FhSandbox *sandbox);
/* What the session's apps (not its compositor or audio daemons) need in
 * their environment for the pads, KEY=VALUE, NULL-terminated: the shim
 * preloaded (user-space pads), SDL told not to wait for udev, which the
 * sandbox has not. Empty when there are no pads. */
const char *const *fh_sandbox_get_pad_env (FhSandbox *sandbox);
/* The session's seat of pads in its pad folder (*@seat NULL and TRUE
 * when it has none); FALSE with @error when it cannot be made. */
gboolean fh_sandbox_make_pads (FhSandbox *sandbox, FhPadSeat **seat, GError **error);

/* Starts @argv inside the sandbox as the session's account, its stdout and
 * stderr appended to @log_path, with a clean environment (HOME, USER,
 * PATH, LANG, XDG_RUNTIME_DIR, FUNKHAUS_SESSION) plus @env (KEY=VALUE, may
 * be NULL). With @network it gets a network namespace with the internet
 * (slirp4netns, up before @argv runs); without, only a loopback of its own. The process is the
 * sandbox's outermost one: signalling its process group reaches all. */
GSubprocess *fh_sandbox_spawn (FhSandbox *sandbox, const char *log_path,
                               const char *const *env, gboolean network,
                               const char *const *argv, GError **error);

/* What the sandbox can do on this host, for the start banner: "bubblewrap,
 * network through slirp4netns, an account per device" and the like, or why not. */
char *fh_sandbox_describe (const FhSandboxConfig *config);

/* The account name of @device when the host is root. */
char *fh_sandbox_account_name (const char *device);
