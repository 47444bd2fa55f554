/* The host's core: the session registry, the device store, the host's
 * PipeWire and shared desktop (with its speaker and microphone), the
 * prompts that cross planes, and the list of client planes. It knows the
 * planes only as FhPlane; the app (src/app/) makes them and adds them. */
#pragma once

#include <gio/gio.h>

#include "backends/backend.h"
#include "backends/shared-desktop.h"
#include "base/end-reason.h"
#include "core/device-store.h"
#include "core/metrics.h"
#include "core/plane.h"
#include "core/prompts.h"
#include "core/session.h"
#include "media/mic.h"
#include "media/pipewire.h"
#include "media/speaker.h"

/* Who may view the shared desktop. */
typedef enum {
  FH_JOIN_ALLOW, /* anyone paired, at once */
  FH_JOIN_ASK,   /* the host's user approves each (a FH_PROMPT_JOIN) */
  FH_JOIN_DENY,  /* nobody */
} FhJoinPolicy;

/* "allow", "ask", "deny"; FALSE for anything else. */
gboolean fh_join_policy_from_string (const char *text, FhJoinPolicy *policy);

/* An app a client may pick (docs/protocol.md "Apps", docs/gamestream.md):
 * a session of its own that runs one app on a display backend, or a view
 * of the shared desktop. Clients name it by its id, its place in the
 * host's list counted from 1. */
typedef struct {
  const char *name;
  const FhDisplayBackend *backend; /* NULL: a view of the shared desktop */
  /* The backend's settings with this app's command in them, or NULL. */
  const FhBackendConfig *backend_config;
  const char *icon;        /* a PNG for Moonlight's box art, or NULL */
  const char *unavailable; /* why it cannot start on this host, or NULL */
} FhCoreApp;

typedef struct {
  const char *config_dir;  /* devices.ini */
  const char *runtime_dir; /* sessions/<id>/ below it */
  const FhDisplayBackend *backend;
  const FhBackendConfig *backend_config; /* the backend's own settings, or NULL */
  /* The owner's app list; none: one "Desktop" of .backend with
   * .backend_config. The core adds "Shared desktop" where there is one. */
  const FhCoreApp *apps;
  guint n_apps;
  guint grace_seconds;
  guint bitrate_kbps; /* for a request that names none */
  /* Every session keeps the bitrate its client asked for, whatever its
   * link carries (the planes still skip frames a link cannot take). */
  gboolean fixed_bitrate;
  const char *encoder_preset;
  guint encoder_threads;
  const char *keyboard_layout; /* for a request that names none */
  /* The account apps run as when the host is root (its PipeWire). */
  const char *run_as;
  /* "auto" (the running PipeWire, else a private one), "private", "off". */
  const char *audio;
  /* The shared desktop: .which "" = none. */
  FhSharedDesktopConfig shared_desktop;
  FhJoinPolicy shared_join;
  /* The access level of a device paired from now on (core/access.h). */
  FhAccessLevel default_level;
} FhCoreConfig;

/* Copies @config (not its strings: they must outlive the core). */
FhCore *fh_core_new (const FhCoreConfig *config, GError **error);
/* Stops the core if it runs, then frees the planes and everything else. */
void fh_core_free (FhCore *core);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (FhCore, fh_core_free)

/* Makes the sessions directory, starts audio and opens the shared desktop. */
gboolean fh_core_start (FhCore *core, GError **error);
/* Takes @plane; planes start in the order they were added. */
void fh_core_add_plane (FhCore *core, FhPlane *plane);
gboolean fh_core_start_planes (FhCore *core, GError **error);
/* Every plane closes its clients, every session stops, every plane closes
 * its ports; then the shared desktop and PipeWire go. Safe to call twice. */
void fh_core_stop (FhCore *core);
/* The banner lines of the core itself: backend, shared desktop, audio. */
void fh_core_describe (FhCore *core, GString *banner);

const FhCoreConfig *fh_core_get_config (FhCore *core);
GMainContext *fh_core_get_main_context (FhCore *core);
FhDeviceStore *fh_core_get_devices (FhCore *core);
FhPrompts *fh_core_get_prompts (FhCore *core);
/* Metrics, health and capacity (core/metrics.h). */
FhCoreMetrics *fh_core_get_metrics (FhCore *core);
const char *fh_core_get_sessions_dir (FhCore *core);
/* The host's PipeWire, or NULL when audio is off or unavailable. */
FhPipeWire *fh_core_get_pipewire (FhCore *core);
/* The shared desktop, or NULL; its speaker and microphone (NULL without
 * PipeWire). */
FhSharedDesktop *fh_core_get_shared_desktop (FhCore *core);
FhSpeaker *fh_core_get_shared_speaker (FhCore *core);
FhMic *fh_core_get_shared_mic (FhCore *core);
/* Whether a client of any plane may view the shared desktop at once
 * without asking: there is one and shared-join=allow. */
gboolean fh_core_shared_desktop_open_to_all (FhCore *core);

/* The apps clients may pick, ids 1…@n_apps (complete once started). */
const FhCoreApp *fh_core_get_apps (FhCore *core, guint *n_apps);
/* App @id, or NULL when there is none of that id. */
const FhCoreApp *fh_core_lookup_app (FhCore *core, guint id);

/* Makes a session and registers it. */
FhSession *fh_core_create_session (FhCore *core, const FhSessionRequest *request,
                                   GError **error);
FhSession *fh_core_lookup_session (FhCore *core, const char *id);
/* The live session whose join code (fh_session_get_join_code) is @code. */
FhSession *fh_core_lookup_session_by_join_code (FhCore *core, const char *code);
/* Unregisters @session now and stops and frees it from an idle callback. */
void fh_core_remove_session (FhCore *core, FhSession *session, FhEndReason reason,
                             const char *message);
guint fh_core_count_sessions (FhCore *core);
/* Main thread: the threads a session's new encoder of @width x @height at
 * @fps gets (core/encoder-threads.h); it counts as running until
 * fh_core_encoder_stopped(). */
guint fh_core_encoder_started (FhCore *core, guint width, guint height, guint fps);
/* Main thread: the encoder counts no more; like a start, the others take
 * their new share of the cores a little later
 * (fh_session_repick_encoder_threads). */
void fh_core_encoder_stopped (FhCore *core);
/* The threads an encoder of @width x @height at @fps gets while @others
 * encode (the config's encoder-threads, or core/encoder-threads.h). */
guint fh_core_encoder_threads (FhCore *core, guint others, guint width, guint height, guint fps);
/* Sessions' encoders now (a paused one, in its grace period, too). */
guint fh_core_count_encoders (FhCore *core);
/* Told on the main loop whenever the number of registered sessions
 * changes: one is made, one is removed, or the host stops; @count is the
 * number now. The app reports it to the service manager; the core never
 * knows who listens. */
typedef void (*FhCoreSessionsFunc) (FhCore *core, guint count, gpointer data);
guint fh_core_add_sessions_observer (FhCore *core, FhCoreSessionsFunc func, gpointer data);
void fh_core_remove_sessions_observer (FhCore *core, guint id);
/* The registered sessions, in no order (container only). */
GPtrArray *fh_core_list_sessions (FhCore *core);

/* Work in flight on other threads (a desktop being made) that stop()
 * must wait for, so nothing it starts outlives the host. */
void fh_core_hold (FhCore *core);
void fh_core_release (FhCore *core);
guint fh_core_next_serial (FhCore *core);

/* Forgets paired device @id, ends its sessions and tells every plane.
 * Returns how many sessions ended, or -1 with @error. */
int fh_core_revoke_device (FhCore *core, const char *id, GError **error);

/* Ends session @id at once, for the host's owner (its command line or an
 * owner's page): its client hears FH_END_REASON_ENDED. FALSE with
 * G_IO_ERROR_NOT_FOUND when no session has that id. */
gboolean fh_core_end_session (FhCore *core, const char *id, GError **error);

/* Gives paired device @id the owner right, or takes it (stored in
 * devices.ini); every plane hears it at once (a console shows or hides
 * the owner's page). Whoever acts as the owner is checked against the
 * store on every request, so taking the right applies to the next one. */
gboolean fh_core_set_device_owner (FhCore *core, const char *id, gboolean owner, GError **error);

/* Sets the access level of paired device @id (stored in devices.ini) and
 * applies it to its live sessions at once: their next input event is
 * judged by it, and their peers are told. Whoever changes a level calls
 * this (the control socket, an owner's page). Returns how many sessions
 * it applied to, or -1 with @error. */
int fh_core_set_device_access (FhCore *core, const char *id, const FhAccess *access,
                               GError **error);
