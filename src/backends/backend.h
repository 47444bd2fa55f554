/* Display backends: where a session's desktop comes from. A backend turns
 * "a client wants W×H@Hz" into a virtual output that carries everything
 * the session needs: how to capture it, how to inject into it, the
 * environment for its apps, and what keeps it alive. One backend = one file
 * that fills FhDisplayBackend; session code never branches on names. */
#pragma once

#include <glib.h>

#include "media/pipewire.h"
#include "media/frame.h"
#include "media/event.h"
#include "base/mode.h"

typedef struct _FhVirtualOutput FhVirtualOutput;

/* Called on the main thread when the output dies under the session (its
 * compositor crashed, say): @reason is for the user. */
typedef void (*FhOutputFailedFunc) (FhVirtualOutput *output, const char *reason,
                                    gpointer user_data);

/* What a backend is made with, weston's way: each backend that has
 * settings has a struct of its own that starts with this base
 * (backends/wlroots.h, backends/gamescope.h); the app fills the one of the
 * backend it chose, and the backend checks that it got its own. */
typedef struct {
  const char *backend; /* the name of the backend the struct is for */
} FhBackendConfig;

typedef struct {
  FhMode mode;
  const char *session_id;
  /* The paired device the session is for: an independent session's
   * processes run under that device's identity (its account and home). */
  const char *device;
  guint serial; /* 1, 2, 3… in the order sessions were made */
  const char *session_dir; /* private runtime dir of the session, 0700 */
  const char *keyboard_layout; /* xkb layout, or NULL: "us" */
  /* More environment for the session's apps (KEY=VALUE), or NULL. */
  const char *const *app_env;
  /* Audio of its own: a backend that runs the session's apps in a sandbox
   * starts a PipeWire stack of the session's own in its runtime dir,
   * whose default sink and source are these two nodes (the host makes
   * them there once the output is up: FhVirtualOutput.pipewire_remote).
   * NULL: no audio, or the backend's apps use the host's PipeWire. */
  const char *speaker_name;
  const char *mic_name;
  /* The backend's own settings (its FhBackendConfig), or NULL: defaults. */
  const FhBackendConfig *config;
  /* The host's PipeWire (video of backends that export it), or NULL. */
  FhPipeWire *pipewire;
  /* The shared desktop (the wlroots-shared, mutter and kwin backends), or NULL. */
  struct _FhSharedDesktop *shared_desktop;
  FhOutputFailedFunc on_failed;
  gpointer user_data;
} FhOutputRequest;

typedef struct {
  /* Main thread, once, after creation: start watching what keeps the
   * output alive (its compositor, say). May be NULL. */
  void (*start) (FhVirtualOutput *output);
  /* Encode thread: write the current picture into @frame (the output's
   * mode), waiting at most until @deadline_us for one that differs from
   * the last. Returns FALSE when nothing changed by then (the caller may
   * skip the frame: @frame still holds the last picture); sets @error when
   * capture failed. @timestamp_us: when the picture was made
   * (g_get_monotonic_time). */
  gboolean (*capture) (FhVirtualOutput *output, FhFrame *frame, guint64 frame_number,
                       gint64 deadline_us, gint64 *timestamp_us, GError **error);
  /* Main thread: deliver one input event to this output only. */
  void (*inject) (FhVirtualOutput *output, const FhInputEvent *event);
  /* Main thread: tear everything down; safe on a half-made output. */
  void (*destroy) (FhVirtualOutput *output);
} FhVirtualOutputOps;

struct _FhVirtualOutput {
  const FhVirtualOutputOps *ops;
  FhMode mode;
  char *session_id;
  /* Environment for apps started inside this output (KEY=VALUE). */
  GStrv app_env;
  /* The socket of the session's own PipeWire (request->speaker_name), or
   * NULL: the host connects to it and makes the speaker and microphone
   * there. */
  char *pipewire_remote;
  /* The processes every app of the session descends from (its compositor,
   * its app), for telling whose a process is; 0 = none. Set by the
   * backend once they run. */
  int root_pids[2];
  /* The session's gamepads (backends/pads.h), or NULL: this output takes
   * none (no sandbox, pads off). Set by the backend, freed with it. */
  struct _FhPadSeat *pads;
  /* The Wayland socket of the session's own compositor when it offers
   * wlr-data-control (the session's clipboard, media/clipboard.h), or
   * NULL: no clipboard (a shared desktop's is its owner's). */
  char *clipboard_socket;
  /* What the client may know of the desktop (the synthetic picture's
   * background), or has_background = FALSE. */
  gboolean has_background;
  guint8 background[3];
  FhOutputFailedFunc on_failed;
  gpointer user_data;
};

typedef struct {
  const char *name;
  const char *description;
  /* Its outputs give the session's apps a PipeWire of their own when the
   * request names a speaker and a microphone (FhVirtualOutput
   * .pipewire_remote): the host's PipeWire gets no nodes of the session. */
  gboolean own_audio;
  /* Makes the session's desktop at exactly request->mode. May block for a
   * while (starting a compositor): the session calls it on a worker
   * thread, never on the main loop. */
  FhVirtualOutput *(*create_output) (const FhOutputRequest *request, GError **error);
  /* Whether it can make outputs on this machine with @config (its own
   * settings, or NULL), cheaply and before any client asks: FALSE with
   * the reason a user reads. NULL: it always can. */
  gboolean (*check) (const FhBackendConfig *config, GError **error);
} FhDisplayBackend;

/* The backend called @name, or NULL with an error that lists the known ones. */
const FhDisplayBackend *fh_display_backend_lookup (const char *name, GError **error);
/* @backend->check, or TRUE where it has none. */
gboolean fh_display_backend_check (const FhDisplayBackend *backend, const FhBackendConfig *config,
                                   GError **error);
/* @config if it is @backend's own settings, else NULL (warns when it is
 * another backend's). */
const FhBackendConfig *fh_backend_config_for (const FhBackendConfig *config,
                                              const FhDisplayBackend *backend);

/* Base initialisation for a backend's output struct. */
void fh_virtual_output_init (FhVirtualOutput *output, const FhVirtualOutputOps *ops,
                             const FhOutputRequest *request);
/* Frees what fh_virtual_output_init set up (not @output itself). */
void fh_virtual_output_finish (FhVirtualOutput *output);

/* Main thread: starts capturing PipeWire node @node_id at the output's
 * mode and publishes the capture in *@video for the encode thread
 * (fh_pw_video_capture_pending); when it cannot, tells the output's owner
 * why, naming @what ("gamescope", say). */
struct _FhPwVideo;
struct _GSubprocess;
void fh_virtual_output_capture_node (FhVirtualOutput *output, FhPipeWire *pw, guint32 node_id,
                                     struct _FhPwVideo **video, const char *what);

/* Main thread: @process, what keeps the output alive (@what: "gamescope",
 * say), exited on its own: logs the end of its log at @log_path and tells
 * the output's owner why (fh_launch_exit_reason, with @exit_hint). */
void fh_virtual_output_fail_exited (FhVirtualOutput *output, struct _GSubprocess *process,
                                    const char *log_path, const char *what,
                                    const char *exit_hint);

static inline void
fh_virtual_output_destroy (FhVirtualOutput *output)
{
  if (output)
    output->ops->destroy (output);
}

extern const FhDisplayBackend fh_display_backend_synthetic;
extern const FhDisplayBackend fh_display_backend_wlroots;
extern const FhDisplayBackend fh_display_backend_gamescope;
/* Not chosen with --backend: a client asks for it ("desktop": "shared"). */
extern const FhDisplayBackend fh_display_backend_wlroots_shared;
extern const FhDisplayBackend fh_display_backend_mutter;
extern const FhDisplayBackend fh_display_backend_kwin;
