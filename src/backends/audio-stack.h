/* A session's own PipeWire stack (pipewire, wireplumber, pipewire-pulse),
 * run as the session's account in its runtime dir, inside its sandbox.
 * The host is a client of it (media/pipewire.h:
 * fh_pipewire_connect_session) and makes the session's speaker and
 * microphone there; the session's apps reach this stack only, so no other
 * session's nodes exist for them. The stack has no hardware of its own
 * (no ALSA, Bluetooth or camera monitors): its only sink and source are
 * the host's two nodes.
 *
 * The daemons need no stop of their own: the sandbox stops every process
 * of the session when it is freed; GLib reaps pipewire, and the sandbox's
 * init the two that pipewire starts. */
#pragma once

#include <gio/gio.h>

#include "backends/sandbox.h"
#include "base/account.h"

/* Starts the stack (pipewire, which starts the other two: they must share
 * its PID namespace): @argv with @env (KEY=VALUE) added to the environment
 * of the stack's runtime dir (XDG_RUNTIME_DIR), its stdout and stderr
 * appended to @log_path, without a network. */
typedef GSubprocess *(*FhAudioStackSpawnFunc) (const char *log_path, const char *const *env,
                                               const char *const *argv, gpointer user_data,
                                               GError **error);

/* Blocking (a few hundred ms; at most 8 s a socket): call it on the
 * worker thread that makes the session's output, after the sandbox exists
 * and before any app starts. Writes the stack's config under the sandbox's
 * runtime dir, starts the stack in the sandbox as the session's account
 * (its log, the three daemons': <@log_dir>/pipewire.log), waits until
 * PipeWire and its pulse server answer, and sets *@remote to the PipeWire
 * socket (<runtime dir>/pipewire-0). On error, what started stays for
 * fh_sandbox_free to stop. */
gboolean fh_audio_stack_start (FhSandbox *sandbox, const char *log_dir, char **remote,
                               GError **error);

/* The same with the pieces a sandbox would give: the stack's @runtime_dir
 * (the account's own, 0700), the @account that owns it (its config and
 * state dirs are made for it) and how a daemon is started. For tests
 * without a sandbox. */
gboolean fh_audio_stack_start_with (FhAccount *account, const char *runtime_dir,
                                    const char *log_dir, FhAudioStackSpawnFunc spawn,
                                    gpointer spawn_data, char **remote, GError **error);

/* @env (KEY=VALUE, taken; may be NULL) with what the session's apps need to
 * reach the stack in @runtime_dir, replacing what @env said for the same
 * keys: PIPEWIRE_REMOTE, PULSE_SERVER, and PULSE_SINK/PULSE_SOURCE naming
 * the session's speaker and microphone (also its defaults; the variables
 * keep apps that look at them on the same nodes). */
GStrv fh_audio_stack_add_app_env (GStrv env, const char *runtime_dir, const char *speaker_name,
                                  const char *mic_name);
