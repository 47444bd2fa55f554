/* The host's context object: config, the session registry, the servers.
 * Everything shared lives here and is passed down; no globals. */
#pragma once

#include <gio/gio.h>

#include "media/pipewire.h"
#include "backends/backend.h"
#include "app/config.h"
#include "core/device-store.h"
#include "core/session.h"

typedef struct _FhContext FhContext;

/* Takes @config. */
FhContext *fh_context_new (FhConfig *config, GError **error);
void fh_context_free (FhContext *context);

/* Listens (HTTPS, control socket) and prints where to point a browser. */
gboolean fh_context_start (FhContext *context, GError **error);
/* Closes every client, stops every session, removes every socket and
 * directory the host made. Safe to call twice. */
void fh_context_stop (FhContext *context);

const FhConfig *fh_context_get_config (FhContext *context);
GMainContext *fh_context_get_main_context (FhContext *context);
const FhDisplayBackend *fh_context_get_backend (FhContext *context);
FhPairing *fh_context_get_pairing (FhContext *context);
const char *fh_context_get_fingerprint (FhContext *context);
const char *fh_context_get_sessions_dir (FhContext *context);
/* The host's PipeWire, or NULL when audio is off or unavailable. */
FhPipeWire *fh_context_get_pipewire (FhContext *context);
/* The shared desktop, or NULL; its speaker and microphone (NULL without
 * PipeWire). */
struct _FhSharedDesktop *fh_context_get_shared_desktop (FhContext *context);
struct _FhSpeaker *fh_context_get_shared_speaker (FhContext *context);
struct _FhMic *fh_context_get_shared_mic (FhContext *context);
guint fh_context_next_serial (FhContext *context);

/* Makes a session and registers it. */
FhSession *fh_context_create_session (FhContext *context, const FhSessionRequest *request,
                                      GError **error);
FhSession *fh_context_lookup_session (FhContext *context, const char *id);
/* Unregisters @session now and stops and frees it from an idle callback. */
void fh_context_remove_session (FhContext *context, FhSession *session, FhProtoError code,
                                const char *reason);
guint fh_context_count_sessions (FhContext *context);

/* Clients: the server adds them, they remove themselves when closed. */
void fh_context_add_client (FhContext *context, FhClient *client);
void fh_context_remove_client (FhContext *context, FhClient *client);

/* Work in flight on other threads (a desktop being made) that stop()
 * must wait for, so nothing it starts outlives the host. */
void fh_context_hold (FhContext *context);
void fh_context_release (FhContext *context);

/* Forgets paired device @id and ends its sessions (its clients are told
 * why). Returns how many sessions ended, or -1 with @error. */
int fh_context_revoke_device (FhContext *context, const char *id, GError **error);

/* @client asks to view the shared desktop (shared-join=ask). The host
 * prints the request; its user answers with 'funkhaus approve ID' or
 * 'funkhaus deny ID' within 60 s, else it is denied. Copies @request. */
void fh_context_ask_to_join (FhContext *context, FhClient *client,
                             const FhSessionRequest *request, gboolean mic);
/* @client went away: its request, if any, goes too. */
void fh_context_forget_requests_of (FhContext *context, FhClient *client);
/* Answers request @id; FALSE with @error when there is none. */
gboolean fh_context_answer_join (FhContext *context, const char *id, gboolean approve,
                                 GError **error);
/* "ID device peer" lines of the pending requests, or "" (for the CLI). */
char *fh_context_list_join_requests (FhContext *context);

/* The PIN a Moonlight client shows, typed on the host: goes to the
 * GameStream pairing waiting for it; sets @client to that client's name.
 * FALSE with @error when GameStream is off or no client waits. */
gboolean fh_context_submit_moonlight_pin (FhContext *context, const char *pin, char **client,
                                          GError **error);
/* The moonlight message a new console gets: whether a Moonlight client
 * waits for its PIN now (and its name), or the plane is off. */
char *fh_context_describe_moonlight (FhContext *context);

/* A new PIN, printed on the host's stdout too. */
const char *fh_context_new_pin (FhContext *context);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (FhContext, fh_context_free)
