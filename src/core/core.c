/* The core: sessions (made, looked up, removed, stopped), the device store,
 * audio and the shared desktop, prompts, and the planes as FhPlane. */
#include "core/core.h"

#include <errno.h>
#include <glib/gstdio.h>
#include <stdio.h>

#include "base/account.h"
#include "base/process.h"
#include "core/encoder-threads.h"
#include "core/metrics.h"

struct _FhCore {
  FhCoreConfig config;
  GMainContext *main_context;
  FhDeviceStore *devices;
  FhPrompts *prompts;
  char *sessions_dir;
  GHashTable *sessions; /* id → FhSession, owned */
  GPtrArray *dying;     /* FhDeferredStop: removed, not yet stopped */
  GPtrArray *planes;    /* FhPlane, owned */
  GArray *sessions_observers; /* SessionsObserver */
  guint next_observer;
  guint next_serial;
  guint holds;
  FhPipeWire *pipewire;
  FhSharedDesktop *shared;
  FhSpeaker *shared_speaker;
  FhMic *shared_mic;
  FhCoreMetrics *metrics;
  GArray *apps; /* FhCoreApp: the config's, then the shared desktop */
  guint encoders; /* sessions' encoders, paused ones too (core/encoder-threads.h) */
  guint repick_source; /* the encoders' threads, once their count settles */
  gboolean started;
};

typedef struct {
  guint id;
  FhCoreSessionsFunc func;
  gpointer data;
} SessionsObserver;

gboolean
fh_join_policy_from_string (const char *text, FhJoinPolicy *policy)
{
  if (g_strcmp0 (text, "allow") == 0)
    *policy = FH_JOIN_ALLOW;
  else if (g_strcmp0 (text, "ask") == 0)
    *policy = FH_JOIN_ASK;
  else if (g_strcmp0 (text, "deny") == 0)
    *policy = FH_JOIN_DENY;
  else
    return FALSE;
  return TRUE;
}

void
fh_plane_free (FhPlane *plane)
{
  if (plane)
    plane->ops->free (plane);
}

FhCore *
fh_core_new (const FhCoreConfig *config, GError **error)
{
  g_autoptr (FhCore) self = g_new0 (FhCore, 1);

  self->config = *config;
  self->main_context = g_main_context_ref_thread_default ();
  self->sessions = g_hash_table_new_full (g_str_hash, g_str_equal, NULL,
                                          (GDestroyNotify) fh_session_free);
  self->dying = g_ptr_array_new ();
  self->planes = g_ptr_array_new_with_free_func ((GDestroyNotify) fh_plane_free);
  self->sessions_observers = g_array_new (FALSE, FALSE, sizeof (SessionsObserver));
  self->prompts = fh_prompts_new ();
  self->sessions_dir = g_build_filename (config->runtime_dir, "sessions", NULL);
  self->metrics = fh_core_metrics_new (self);
  self->apps = g_array_new (FALSE, FALSE, sizeof (FhCoreApp));
  if (config->n_apps)
    g_array_append_vals (self->apps, config->apps, config->n_apps);
  else
    g_array_append_val (self->apps, ((FhCoreApp) { .name = "Desktop",
                                                    .backend = config->backend,
                                                    .backend_config = config->backend_config }));
  self->config.apps = NULL;
  self->config.n_apps = 0;
  if (!(self->devices = fh_device_store_new (config->config_dir, error)))
    return NULL;
  fh_device_store_set_default_level (self->devices, config->default_level);
  return g_steal_pointer (&self);
}

void
fh_core_free (FhCore *self)
{
  if (!self)
    return;
  fh_core_stop (self);
  g_clear_handle_id (&self->repick_source, g_source_remove);
  /* A start that failed after audio came up. */
  g_clear_pointer (&self->shared_mic, fh_mic_free);
  g_clear_pointer (&self->shared_speaker, fh_speaker_free);
  g_clear_pointer (&self->shared, fh_shared_desktop_free);
  g_clear_pointer (&self->pipewire, fh_pipewire_free);
  /* Planes before what they may still point at. */
  g_clear_pointer (&self->planes, g_ptr_array_unref);
  g_clear_pointer (&self->sessions, g_hash_table_unref);
  g_clear_pointer (&self->dying, g_ptr_array_unref);
  g_clear_pointer (&self->sessions_observers, g_array_unref);
  g_clear_pointer (&self->prompts, fh_prompts_free);
  g_clear_pointer (&self->metrics, fh_core_metrics_free);
  g_clear_pointer (&self->devices, fh_device_store_free);
  g_clear_pointer (&self->main_context, g_main_context_unref);
  g_clear_pointer (&self->apps, g_array_unref);
  g_free (self->sessions_dir);
  g_free (self);
}

/* Whose is the playback or recording stream of process @pid? Ancestry
 * first (it descends from a session's compositor or app), then the
 * FUNKHAUS_SESSION marker of a process that left its parent. */
static const char *
route_audio_stream (FhAudioStreamKind kind, int pid, gpointer user_data)
{
  FhCore *self = user_data;
  gboolean playback = kind == FH_AUDIO_STREAM_PLAYBACK;
  g_autofree char *marker = NULL;
  GHashTableIter iter;
  gpointer value;
  FhSession *session;

  g_hash_table_iter_init (&iter, self->sessions);
  while (g_hash_table_iter_next (&iter, NULL, &value)) {
    if (fh_session_owns_process (value, pid))
      return fh_session_get_audio_target (value, playback);
  }
  marker = fh_process_find_session_marker (pid);
  session = marker ? g_hash_table_lookup (self->sessions, marker) : NULL;
  if (session)
    return fh_session_get_audio_target (session, playback);
  /* The shared desktop's apps: its speaker and microphone. Checked last: a
   * host started from that desktop has its own sessions below it too. */
  if (self->shared && self->shared_speaker && fh_shared_desktop_owns_process (self->shared, pid))
    return playback ? fh_speaker_get_sink_name (self->shared_speaker)
                    : fh_mic_get_source_name (self->shared_mic);
  return NULL;
}

/* The shared desktop: the configured one, or the one the host finds. */
static gboolean
start_shared_desktop (FhCore *self, GError **error)
{
  const FhSharedDesktopConfig *desktop = &self->config.shared_desktop;
  gboolean configured = !g_str_equal (desktop->which, "auto");
  g_autofree char *why = NULL;
  g_autoptr (GError) local = NULL;

  if (!*desktop->which)
    return TRUE;
  self->shared = fh_shared_desktop_open (desktop, &why, &local);
  if (why)
    g_message ("shared desktop: %s", why);
  if (!self->shared) {
    if (!local)
      return TRUE; /* auto, and none found */
    if (configured) {
      g_propagate_prefixed_error (error, g_steal_pointer (&local), "shared desktop: ");
      return FALSE;
    }
    g_warning ("shared desktop: off: %s", local->message);
    return TRUE;
  }
  if (self->pipewire &&
      (!(self->shared_speaker = fh_speaker_new (self->pipewire, "funkhaus-shared-speaker",
                                                &local)) ||
       !(self->shared_mic = fh_mic_new (self->pipewire, "funkhaus-shared-mic", &local)))) {
    g_warning ("shared desktop: no audio: %s", local->message);
    g_clear_pointer (&self->shared_speaker, fh_speaker_free);
  }
  return TRUE;
}

static gboolean
start_audio (FhCore *self, GError **error)
{
  g_autoptr (FhAccount) account = NULL;
  g_autofree char *base = NULL;
  g_autoptr (GError) local = NULL;
  gboolean must = g_str_equal (self->config.audio, "private");

  if (g_str_equal (self->config.audio, "off"))
    return TRUE;
  if (!(account = fh_account_resolve (self->config.run_as, &local)) ||
      !(base = fh_account_runtime_base (account, &local)) ||
      !(self->pipewire = fh_pipewire_new (account, base, must, &local))) {
    if (must) {
      g_propagate_prefixed_error (error, g_steal_pointer (&local), "audio: ");
      return FALSE;
    }
    g_warning ("audio: off, sessions get no speaker or microphone: %s (audio=off in "
               "config.ini silences this)", local->message);
    return TRUE;
  }
  fh_pipewire_set_router (self->pipewire, route_audio_stream, self);
  return TRUE;
}

gboolean
fh_core_start (FhCore *self, GError **error)
{
  if (g_mkdir_with_parents (self->sessions_dir, 0700) < 0) {
    int saved = errno;
    g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved), "cannot create %s: %s",
                 self->sessions_dir, g_strerror (saved));
    return FALSE;
  }
  self->started = TRUE;
  fh_core_metrics_start (self->metrics);
  if (!start_audio (self, error) || !start_shared_desktop (self, error))
    return FALSE;
  if (self->shared)
    g_array_append_val (self->apps, ((FhCoreApp) { .name = "Shared desktop" }));
  return TRUE;
}

const FhCoreApp *
fh_core_get_apps (FhCore *self, guint *n_apps)
{
  *n_apps = self->apps->len;
  return (const FhCoreApp *) (gpointer) self->apps->data;
}

const FhCoreApp *
fh_core_lookup_app (FhCore *self, guint id)
{
  if (id < 1 || id > self->apps->len)
    return NULL;
  return &g_array_index (self->apps, FhCoreApp, id - 1);
}

void
fh_core_add_plane (FhCore *self, FhPlane *plane)
{
  plane->core = self;
  g_ptr_array_add (self->planes, plane);
}

gboolean
fh_core_start_planes (FhCore *self, GError **error)
{
  for (guint i = 0; i < self->planes->len; i++) {
    FhPlane *plane = self->planes->pdata[i];
    if (!plane->ops->start (plane, error))
      return FALSE;
  }
  return TRUE;
}

void
fh_core_describe (FhCore *self, GString *banner)
{
  const FhDisplayBackend *backend = self->config.backend;

  g_string_append_printf (banner, "  backend: %s (%s)\n", backend->name, backend->description);
  if (self->shared) {
    static const char *const join[] = { "allow", "ask", "deny" };
    g_string_append_printf (banner, "  shared desktop: %s %d, joining: %s\n",
                            fh_shared_desktop_get_kind (self->shared),
                            fh_shared_desktop_get_pid (self->shared),
                            join[self->config.shared_join]);
  }
  g_string_append_printf (banner, "  audio: %s\n",
                          !self->pipewire                         ? "off"
                          : fh_pipewire_is_private (self->pipewire) ? "private PipeWire"
                                                                     : "the running PipeWire");
}

/* Tells every observer the session count. An observer may remove itself
 * or another when told: the ids are taken first, and each is looked up
 * again before it is called. */
static void
notify_sessions (FhCore *self)
{
  guint count = g_hash_table_size (self->sessions);
  guint n = self->sessions_observers->len;
  g_autofree guint *ids = g_new (guint, MAX (n, 1));

  for (guint i = 0; i < n; i++)
    ids[i] = g_array_index (self->sessions_observers, SessionsObserver, i).id;
  for (guint i = 0; i < n; i++) {
    for (guint j = 0; j < self->sessions_observers->len; j++) {
      SessionsObserver o = g_array_index (self->sessions_observers, SessionsObserver, j);
      if (o.id == ids[i]) {
        o.func (self, count, o.data);
        break;
      }
    }
  }
}

typedef struct {
  FhCore *core;
  FhSession *session;
  FhEndReason reason;
  char *message;
  guint source;
} FhDeferredStop;

static void
stop_deferred (FhDeferredStop *d)
{
  g_ptr_array_remove_fast (d->core->dying, d);
  g_clear_handle_id (&d->source, g_source_remove);
  fh_session_stop (d->session, d->reason, d->message);
  fh_session_free (d->session);
  g_free (d->message);
  g_free (d);
}

static gboolean
on_stop_idle (gpointer data)
{
  FhDeferredStop *d = data;

  d->source = 0;
  stop_deferred (d);
  return G_SOURCE_REMOVE;
}

void
fh_core_stop (FhCore *self)
{
  GHashTableIter iter;
  gpointer value;

  if (!self->started)
    return;
  self->started = FALSE;
  fh_core_metrics_stop (self->metrics);

  /* Clients first, so each hears why. */
  for (guint i = 0; i < self->planes->len; i++) {
    FhPlane *plane = self->planes->pdata[i];
    if (plane->ops->close_clients)
      plane->ops->close_clients (plane);
  }

  g_hash_table_iter_init (&iter, self->sessions);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    fh_session_stop (value, FH_END_REASON_HOST_STOPPING, "the host is stopping");
  if (g_hash_table_size (self->sessions) > 0) {
    g_hash_table_remove_all (self->sessions);
    notify_sessions (self);
  }
  /* Sessions already on their way out must not wait for a loop that is
   * about to stop turning. */
  while (self->dying->len > 0)
    stop_deferred (g_ptr_array_index (self->dying, 0));
  /* Desktops still being made: let each finish and be torn down. */
  if (self->holds > 0)
    g_message ("waiting for %u desktop(s) still starting", self->holds);
  while (self->holds > 0)
    g_main_context_iteration (self->main_context, TRUE);

  for (guint i = self->planes->len; i-- > 0;) {
    FhPlane *plane = self->planes->pdata[i];
    plane->ops->stop (plane);
  }
  g_clear_pointer (&self->shared_mic, fh_mic_free);
  g_clear_pointer (&self->shared_speaker, fh_speaker_free);
  g_clear_pointer (&self->shared, fh_shared_desktop_free);
  g_clear_pointer (&self->pipewire, fh_pipewire_free);
  if (g_rmdir (self->sessions_dir) < 0 && errno != ENOENT)
    g_warning ("cannot remove %s: %s", self->sessions_dir, g_strerror (errno));
}

const FhCoreConfig *
fh_core_get_config (FhCore *self)
{
  return &self->config;
}

GMainContext *
fh_core_get_main_context (FhCore *self)
{
  return self->main_context;
}

FhDeviceStore *
fh_core_get_devices (FhCore *self)
{
  return self->devices;
}

FhCoreMetrics *
fh_core_get_metrics (FhCore *self)
{
  return self->metrics;
}

FhPrompts *
fh_core_get_prompts (FhCore *self)
{
  return self->prompts;
}

const char *
fh_core_get_sessions_dir (FhCore *self)
{
  return self->sessions_dir;
}

FhPipeWire *
fh_core_get_pipewire (FhCore *self)
{
  return self->pipewire;
}

FhSharedDesktop *
fh_core_get_shared_desktop (FhCore *self)
{
  return self->shared;
}

FhSpeaker *
fh_core_get_shared_speaker (FhCore *self)
{
  return self->shared_speaker;
}

FhMic *
fh_core_get_shared_mic (FhCore *self)
{
  return self->shared_mic;
}

gboolean
fh_core_shared_desktop_open_to_all (FhCore *self)
{
  return self->shared && self->config.shared_join == FH_JOIN_ALLOW;
}

guint
fh_core_next_serial (FhCore *self)
{
  return ++self->next_serial;
}

FhSession *
fh_core_create_session (FhCore *self, const FhSessionRequest *request, GError **error)
{
  FhSession *session = fh_session_new (self, request, error);

  if (!session)
    return NULL;
  /* Each live session's join code names it alone. */
  while (fh_session_get_join_code (session) &&
         fh_core_lookup_session_by_join_code (self, fh_session_get_join_code (session)))
    fh_session_new_join_code (session);
  g_hash_table_insert (self->sessions, (gpointer) fh_session_get_id (session), session);
  notify_sessions (self);
  return session;
}

FhSession *
fh_core_lookup_session (FhCore *self, const char *id)
{
  return g_hash_table_lookup (self->sessions, id);
}

FhSession *
fh_core_lookup_session_by_join_code (FhCore *self, const char *code)
{
  GHashTableIter iter;
  gpointer value;

  g_hash_table_iter_init (&iter, self->sessions);
  while (g_hash_table_iter_next (&iter, NULL, &value)) {
    const char *mine = fh_session_get_join_code (value);
    if (mine && g_str_equal (mine, code))
      return value;
  }
  return NULL;
}

guint
fh_core_count_sessions (FhCore *self)
{
  return g_hash_table_size (self->sessions);
}

static gboolean
on_repick_threads (gpointer data)
{
  FhCore *self = data;
  GHashTableIter iter;
  gpointer value;

  self->repick_source = 0;
  g_hash_table_iter_init (&iter, self->sessions);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    fh_session_repick_encoder_threads (value);
  return G_SOURCE_REMOVE;
}

/* The number of encoders changed: each running one takes its new share
 * once the count has stood for FH_ENCODER_REPICK_MS (sessions that start
 * or end together cost each encoder one new keyframe, not one each). */
static void
encoders_changed (FhCore *self)
{
  if (self->config.encoder_threads)
    return; /* a number of the config's: nothing to share */
  g_clear_handle_id (&self->repick_source, g_source_remove);
  self->repick_source = g_timeout_add (FH_ENCODER_REPICK_MS, on_repick_threads, self);
}

guint
fh_core_encoder_threads (FhCore *self, guint others, guint width, guint height, guint fps)
{
  return fh_encoder_threads (self->config.encoder_threads, g_get_num_processors (), others, width,
                             height, fps);
}

guint
fh_core_encoder_started (FhCore *self, guint width, guint height, guint fps)
{
  guint threads = fh_core_encoder_threads (self, self->encoders, width, height, fps);

  self->encoders++;
  encoders_changed (self);
  return threads;
}

void
fh_core_encoder_stopped (FhCore *self)
{
  g_return_if_fail (self->encoders > 0);
  self->encoders--;
  encoders_changed (self);
}

guint
fh_core_count_encoders (FhCore *self)
{
  return self->encoders;
}

guint
fh_core_add_sessions_observer (FhCore *self, FhCoreSessionsFunc func, gpointer data)
{
  SessionsObserver o = { ++self->next_observer, func, data };

  g_array_append_val (self->sessions_observers, o);
  return o.id;
}

void
fh_core_remove_sessions_observer (FhCore *self, guint id)
{
  for (guint i = 0; i < self->sessions_observers->len; i++) {
    if (g_array_index (self->sessions_observers, SessionsObserver, i).id == id) {
      g_array_remove_index (self->sessions_observers, i);
      return;
    }
  }
}

GPtrArray *
fh_core_list_sessions (FhCore *self)
{
  GPtrArray *list = g_ptr_array_new ();
  GHashTableIter iter;
  gpointer value;

  g_hash_table_iter_init (&iter, self->sessions);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    g_ptr_array_add (list, value);
  return list;
}

void
fh_core_remove_session (FhCore *self, FhSession *session, FhEndReason reason,
                        const char *message)
{
  FhDeferredStop *d;

  if (!g_hash_table_steal (self->sessions, fh_session_get_id (session)))
    return; /* already on its way out */
  d = g_new0 (FhDeferredStop, 1);
  d->core = self;
  d->session = session;
  d->reason = reason;
  d->message = g_strdup (message);
  d->source = g_idle_add (on_stop_idle, d);
  g_ptr_array_add (self->dying, d);
  notify_sessions (self);
}

void
fh_core_hold (FhCore *self)
{
  self->holds++;
}

void
fh_core_release (FhCore *self)
{
  g_return_if_fail (self->holds > 0);
  self->holds--;
}

int
fh_core_revoke_device (FhCore *self, const char *id, GError **error)
{
  g_autoptr (GPtrArray) doomed = g_ptr_array_new ();
  GHashTableIter iter;
  gpointer value;

  if (!fh_device_store_revoke (self->devices, id, error))
    return -1;
  g_hash_table_iter_init (&iter, self->sessions);
  while (g_hash_table_iter_next (&iter, NULL, &value)) {
    if (g_str_equal (fh_session_get_device (value), id))
      g_ptr_array_add (doomed, value);
  }
  for (guint i = 0; i < doomed->len; i++)
    fh_core_remove_session (self, doomed->pdata[i], FH_END_REASON_REVOKED,
                            "this device was revoked on the host");
  /* … and so does every guest seat it has in other devices' sessions. */
  g_hash_table_iter_init (&iter, self->sessions);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    fh_session_remove_guests_of (value, id, FH_END_REASON_REVOKED,
                                 "this device was revoked on the host");
  /* Whatever else of it the planes hold (a launch, a console, a
   * WebSocket waiting to join the shared desktop) goes too. */
  for (guint i = 0; i < self->planes->len; i++) {
    FhPlane *plane = self->planes->pdata[i];
    if (plane->ops->device_revoked)
      plane->ops->device_revoked (plane, id);
  }
  g_message ("device %s revoked; %u session(s) ended", id, doomed->len);
  return (int) doomed->len;
}

static guint
count_own (GPtrArray *sessions, const char *device)
{
  guint n = 0;

  for (guint i = 0; i < sessions->len; i++)
    n += g_str_equal (fh_session_get_device (sessions->pdata[i]), device);
  return n;
}

gboolean
fh_core_end_session (FhCore *self, const char *id, GError **error)
{
  FhSession *session = fh_core_lookup_session (self, id);

  if (!session) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND,
                 "no live session %s ('funkhaus sessions' lists them)", id);
    return FALSE;
  }
  g_message ("session %.8s of device %s: ended by the host's owner", id,
             fh_session_get_device (session));
  fh_core_remove_session (self, session, FH_END_REASON_ENDED, "ended by the host's owner");
  return TRUE;
}

gboolean
fh_core_set_device_owner (FhCore *self, const char *id, gboolean owner, GError **error)
{
  if (!fh_device_store_set_owner (self->devices, id, owner, error))
    return FALSE;
  g_message ("device %s: owner right %s", id, owner ? "given" : "taken away");
  for (guint i = 0; i < self->planes->len; i++) {
    FhPlane *plane = self->planes->pdata[i];
    if (plane->ops->device_owner_changed)
      plane->ops->device_owner_changed (plane, id, owner);
  }
  return TRUE;
}

int
fh_core_set_device_access (FhCore *self, const char *id, const FhAccess *access, GError **error)
{
  g_autoptr (GPtrArray) sessions = g_ptr_array_new ();
  g_autofree char *until = access->until ? fh_access_format_time (access->until) : NULL;
  GHashTableIter iter;
  gpointer value;

  if (!fh_device_store_set_access (self->devices, id, access, error))
    return -1;
  /* Taken first: a peer told of the change may end its session. */
  g_hash_table_iter_init (&iter, self->sessions);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    g_ptr_array_add (sessions, value);
  for (guint i = 0; i < sessions->len; i++) {
    FhSession *session = sessions->pdata[i];
    /* Its guest seats in other devices' sessions follow it too. */
    fh_session_set_guest_device_access (session, id, access);
    if (g_str_equal (fh_session_get_device (session), id))
      fh_session_set_access (session, access);
  }
  g_message ("device %s: access level %s%s%s; %u live session(s) follow it", id,
             fh_access_level_to_string (access->level), until ? " until " : "",
             until ? until : "", count_own (sessions, id));
  return (int) count_own (sessions, id);
}
