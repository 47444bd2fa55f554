/* The web plane as the core sees it (FhPlane): its server, its clients,
 * the consoles, and the requests to join the shared desktop. */
#include "planes/web/plane.h"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <net/if.h>

#include "planes/web/cert.h"
#include "planes/web/client.h"
#include "planes/web/server.h"

#define JOIN_TIMEOUT_S 60
/* How long a stopping host waits for its close frames to leave. */
#define CLOSE_WAIT_US (G_USEC_PER_SEC / 2)

struct _FhWebPlane {
  FhPlane base;
  FhWebPlaneConfig config;
  char *web_dir;
  GTlsCertificate *certificate;
  char *fingerprint;
  FhServer *server;
  guint port;
  GPtrArray *clients;       /* FhClient, owned */
  GPtrArray *join_requests; /* FhJoinRequest */
  guint prompt_observer;
};

typedef struct {
  FhWebPlane *plane;
  FhPrompt *prompt;
  FhClient *client; /* not owned: forgotten when it closes */
  char *device, *layout;
  FhSessionRequest request; /* its strings point into the fields above */
  gboolean mic;
  guint timeout;
  char *session_id; /* a guest's: the session it asks to join; NULL: the shared desktop */
} FhJoinRequest;

FhProtoError
fh_web_error_for_end (FhEndReason reason)
{
  switch (reason) {
  case FH_END_REASON_FAILED:
    return FH_PROTO_ERROR_SESSION_FAILED;
  case FH_END_REASON_REVOKED:
    return FH_PROTO_ERROR_UNAUTHORIZED;
  case FH_END_REASON_REMOVED:
    return FH_PROTO_ERROR_REFUSED;
  case FH_END_REASON_ENDED:
    return FH_PROTO_ERROR_ENDED;
  case FH_END_REASON_HOST_STOPPING:
  case FH_END_REASON_GRACE_OVER:
  case FH_END_REASON_CANCELLED:
    break;
  }
  return FH_PROTO_ERROR_HOST_SHUTDOWN;
}

FhProtoError
fh_web_error_for (const GError *error)
{
  if (error->domain == FH_PROTO_ERROR)
    return (FhProtoError) error->code;
  if (error->domain == FH_SESSION_ERROR) {
    switch ((FhSessionError) error->code) {
    case FH_SESSION_ERROR_UNAVAILABLE:
      return FH_PROTO_ERROR_UNSUPPORTED;
    case FH_SESSION_ERROR_NOT_ASKED:
      return FH_PROTO_ERROR_UNEXPECTED_MESSAGE;
    case FH_SESSION_ERROR_BAD_DATA:
      return FH_PROTO_ERROR_BAD_MESSAGE;
    case FH_SESSION_ERROR_FAILED:
      break;
    }
  }
  return FH_PROTO_ERROR_SESSION_FAILED;
}

static void
join_request_free (FhJoinRequest *r)
{
  g_clear_handle_id (&r->timeout, g_source_remove);
  g_free (r->device);
  g_free (r->layout);
  g_free (r->session_id);
  g_free (r);
}

/* Ends @r's prompt as @state and forgets @r. */
static void
join_request_end (FhJoinRequest *r, FhPromptState state)
{
  g_ptr_array_remove (r->plane->join_requests, r);
  fh_prompt_end (r->prompt, state, r->device);
  join_request_free (r);
}

static gboolean
on_join_answer (FhPrompt *prompt, gboolean approve, const char *value, gpointer data,
                GError **error)
{
  FhJoinRequest *r = data;
  FhCore *core = r->plane->base.core;
  g_autoptr (GError) local = NULL;
  FhSession *session;

  /* Out of the list first: closing its client must not end it again. */
  g_ptr_array_remove (r->plane->join_requests, r);
  g_message ("shared desktop: request %s from device %s %s", fh_prompt_get_id (prompt),
             r->device, approve ? "approved" : "denied");
  if (!approve) {
    fh_client_close_with_error (r->client, FH_PROTO_ERROR_UNAUTHORIZED,
                                "the host did not let this device join its shared desktop");
    join_request_end (r, FH_PROMPT_REFUSED);
    return TRUE;
  }
  if (!(session = fh_core_create_session (core, &r->request, &local)))
    fh_client_close_with_error (r->client, fh_web_error_for (local), local->message);
  else
    fh_client_bind (r->client, session, r->mic);
  join_request_end (r, session ? FH_PROMPT_DONE : FH_PROMPT_FAILED);
  return TRUE;
}

static gboolean
on_join_timeout (gpointer data)
{
  FhJoinRequest *r = data;

  r->timeout = 0;
  g_ptr_array_remove (r->plane->join_requests, r);
  if (r->session_id) {
    g_message ("session %.8s: guest request %s was not answered in %d s: refused",
               r->session_id, fh_prompt_get_id (r->prompt), JOIN_TIMEOUT_S);
    fh_client_close_with_error (r->client, FH_PROTO_ERROR_REFUSED,
                                "nobody let this device into the session in time");
    join_request_end (r, FH_PROMPT_TIMED_OUT);
    return G_SOURCE_REMOVE;
  }
  g_message ("shared desktop: request %s was not answered in %d s: denied",
             fh_prompt_get_id (r->prompt), JOIN_TIMEOUT_S);
  fh_client_close_with_error (r->client, FH_PROTO_ERROR_UNAUTHORIZED,
                              "the host did not let this device join its shared desktop");
  join_request_end (r, FH_PROMPT_TIMED_OUT);
  return G_SOURCE_REMOVE;
}

void
fh_web_plane_ask_to_join (FhWebPlane *self, FhClient *client, const FhSessionRequest *request,
                          gboolean mic)
{
  FhJoinRequest *r = g_new0 (FhJoinRequest, 1);

  r->plane = self;
  r->client = client;
  r->device = g_strdup (request->device);
  r->layout = g_strdup (request->keyboard_layout);
  r->request = *request;
  r->request.device = r->device;
  r->request.keyboard_layout = r->layout;
  r->mic = mic;
  r->timeout = g_timeout_add_seconds (JOIN_TIMEOUT_S, on_join_timeout, r);
  g_ptr_array_add (self->join_requests, r);
  r->prompt = fh_prompts_post (fh_core_get_prompts (self->base.core), FH_PROMPT_JOIN, r->device,
                               fh_client_get_peer (client), JOIN_TIMEOUT_S, on_join_answer, r);
}

/* A guest's request answered by the session's client or the host's
 * owner: @value is the level granted (controller when none is said). */
static gboolean
on_guest_answer (FhPrompt *prompt, gboolean approve, const char *value, gpointer data,
                 GError **error)
{
  FhJoinRequest *r = data;
  FhSession *session = fh_core_lookup_session (r->plane->base.core, r->session_id);
  FhAccessLevel level = FH_ACCESS_CONTROLLER;

  if (approve && value && !fh_access_level_from_string (value, &level)) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                 "'%s' is not a level: say full, controller or view", value);
    return FALSE;
  }
  /* Out of the list first: closing its client must not end it again. */
  g_ptr_array_remove (r->plane->join_requests, r);
  g_message ("session %.8s: guest request %s from device %s %s%s%s", r->session_id,
             fh_prompt_get_id (prompt), r->device, approve ? "approved at " : "refused",
             approve ? fh_access_level_to_string (level) : "", session ? "" : " (the session ended)");
  if (!approve || !session) {
    fh_client_close_with_error (r->client, FH_PROTO_ERROR_REFUSED,
                                !approve ? "the session's owner did not let this device join"
                                         : "the session ended");
    join_request_end (r, !approve ? FH_PROMPT_REFUSED : FH_PROMPT_FAILED);
    return TRUE;
  }
  fh_client_bind_guest (r->client, session, level);
  join_request_end (r, fh_session_is_guest (session, r->client) ? FH_PROMPT_DONE
                                                                 : FH_PROMPT_FAILED);
  return TRUE;
}

void
fh_web_plane_ask_to_be_guest (FhWebPlane *self, FhClient *client, FhSession *session)
{
  FhJoinRequest *r = g_new0 (FhJoinRequest, 1);

  r->plane = self;
  r->client = client;
  r->device = g_strdup (fh_client_get_device (client));
  r->session_id = g_strdup (fh_session_get_id (session));
  r->timeout = g_timeout_add_seconds (JOIN_TIMEOUT_S, on_join_timeout, r);
  g_ptr_array_add (self->join_requests, r);
  r->prompt = fh_prompts_post_about (fh_core_get_prompts (self->base.core), FH_PROMPT_GUEST,
                                     r->device, fh_client_get_peer (client), r->session_id,
                                     JOIN_TIMEOUT_S, on_guest_answer, r);
}

char *
fh_web_plane_device_name (FhWebPlane *self, const char *id)
{
  g_autoptr (GPtrArray) devices = fh_device_store_list (fh_core_get_devices (self->base.core));

  for (guint i = 0; i < devices->len; i++) {
    FhDevice *d = devices->pdata[i];
    if (g_str_equal (d->id, id))
      return g_strdup (d->name);
  }
  return NULL;
}

void
fh_web_plane_forget_requests_of (FhWebPlane *self, FhClient *client)
{
  for (guint i = self->join_requests->len; i-- > 0;) {
    FhJoinRequest *r = self->join_requests->pdata[i];
    if (r->client == client)
      join_request_end (r, FH_PROMPT_GONE);
  }
}

/* The console's word for how a Moonlight pairing moved on. */
static const char *
moonlight_state (FhPromptState state)
{
  switch (state) {
  case FH_PROMPT_WAITING:
    return "waiting";
  case FH_PROMPT_ANSWERED:
    return "checking";
  case FH_PROMPT_DONE:
    return "paired";
  case FH_PROMPT_FAILED:
  case FH_PROMPT_REFUSED:
    return "failed";
  case FH_PROMPT_GONE:
    return "gone";
  case FH_PROMPT_TIMED_OUT:
    return "timed-out";
  }
  return "failed";
}

/* A PIN prompt moved on: every console hears it (WebSockets of paired
 * browsers that asked for the host's console, never session-only ones). */
/* A guest's request moved on: the session's own client hears it, if it
 * is a browser (a Moonlight client's is answered by the host's owner). */
static void
tell_guest_request (FhWebPlane *self, FhPrompt *prompt, FhPromptState state)
{
  FhSession *session = fh_core_lookup_session (self->base.core, fh_prompt_get_about (prompt));
  FhClient *owner = session ? fh_session_get_peer (session, &fh_web_peer_ops) : NULL;
  g_autofree char *name = NULL, *text = NULL;

  if (!owner)
    return;
  name = fh_web_plane_device_name (self, fh_prompt_get_who (prompt));
  text = fh_proto_build_guest_request (fh_prompt_get_id (prompt), fh_prompt_get_who (prompt),
                                       name, fh_prompt_state_to_string (state));
  fh_client_send_text (owner, text);
}

static void
on_prompt (FhPrompt *prompt, FhPromptState state, const char *detail, gpointer data)
{
  FhWebPlane *self = data;
  g_autofree char *text = NULL;

  if (fh_prompt_get_kind (prompt) == FH_PROMPT_GUEST)
    tell_guest_request (self, prompt, state);
  if (fh_prompt_get_kind (prompt) != FH_PROMPT_PIN)
    return;
  text = fh_proto_build_moonlight (moonlight_state (state), fh_prompt_get_who (prompt),
                                   state == FH_PROMPT_FAILED ? detail : NULL,
                                   state == FH_PROMPT_DONE ? detail : NULL);
  for (guint i = 0; i < self->clients->len; i++) {
    FhClient *client = self->clients->pdata[i];
    if (fh_client_is_console (client))
      fh_client_send_text (client, text);
  }
}

char *
fh_web_plane_describe_moonlight (FhWebPlane *self)
{
  FhPrompts *prompts = fh_core_get_prompts (self->base.core);
  FhPrompt *waiting;

  if (!fh_prompts_has_poster (prompts, FH_PROMPT_PIN))
    return fh_proto_build_moonlight ("off", NULL, NULL, NULL);
  waiting = fh_prompts_find_waiting (prompts, FH_PROMPT_PIN);
  return fh_proto_build_moonlight (waiting ? "waiting" : "idle",
                                   waiting ? fh_prompt_get_who (waiting) : NULL, NULL, NULL);
}

static gboolean
plane_start (FhPlane *plane, GError **error)
{
  FhWebPlane *self = (FhWebPlane *) plane;

  if (!(self->server = fh_server_new (self, self->certificate, self->config.request_timeout_s,
                                      self->config.max_per_address, error)) ||
      !fh_server_listen (self->server, self->config.port, error))
    return FALSE;
  self->port = fh_server_get_port (self->server);
  self->prompt_observer = fh_prompts_add_observer (fh_core_get_prompts (plane->core), on_prompt,
                                                   self);
  return TRUE;
}

static void
plane_close_clients (FhPlane *plane)
{
  FhWebPlane *self = (FhWebPlane *) plane;
  GMainContext *main_context = fh_core_get_main_context (plane->core);
  gint64 deadline;

  /* Each hears why, then the close frames get a moment to leave before
   * the sockets go. */
  for (guint i = 0; i < self->clients->len; i++)
    fh_client_close_with_error (g_ptr_array_index (self->clients, i),
                                FH_PROTO_ERROR_HOST_SHUTDOWN, "the host is stopping");
  deadline = g_get_monotonic_time () + CLOSE_WAIT_US;
  while (self->clients->len > 0 && g_get_monotonic_time () < deadline) {
    if (!g_main_context_iteration (main_context, FALSE))
      g_usleep (5000);
  }
}

static void
plane_stop (FhPlane *plane)
{
  FhWebPlane *self = (FhWebPlane *) plane;

  if (self->prompt_observer) {
    fh_prompts_remove_observer (fh_core_get_prompts (plane->core), self->prompt_observer);
    self->prompt_observer = 0;
  }
  while (self->join_requests->len > 0)
    join_request_end (self->join_requests->pdata[0], FH_PROMPT_GONE);
  g_ptr_array_set_size (self->clients, 0);
  g_clear_pointer (&self->server, fh_server_free);
}

static void
plane_device_revoked (FhPlane *plane, const char *id)
{
  FhWebPlane *self = (FhWebPlane *) plane;

  /* Every WebSocket of it goes (consoles, one waiting to join the shared
   * desktop): a revoked device may not enter Moonlight PINs. */
  for (guint i = 0; i < self->clients->len; i++) {
    FhClient *client = self->clients->pdata[i];
    if (g_strcmp0 (fh_client_get_device (client), id) == 0)
      fh_client_close_with_error (client, FH_PROTO_ERROR_UNAUTHORIZED,
                                  "this device was revoked on the host");
  }
}

/* Its consoles show the owner's page, or hide it. */
static void
plane_device_owner_changed (FhPlane *plane, const char *id, gboolean owner)
{
  FhWebPlane *self = (FhWebPlane *) plane;
  g_autofree char *text = fh_proto_build_owner (owner);

  for (guint i = 0; i < self->clients->len; i++) {
    FhClient *client = self->clients->pdata[i];
    if (fh_client_is_console (client) && g_strcmp0 (fh_client_get_device (client), id) == 0)
      fh_client_send_text (client, text);
  }
}

static void
plane_describe (FhPlane *plane, GString *banner)
{
  FhWebPlane *self = (FhWebPlane *) plane;
  struct ifaddrs *list = NULL;

  if (getifaddrs (&list) == 0) {
    for (struct ifaddrs *i = list; i; i = i->ifa_next) {
      char addr[INET_ADDRSTRLEN];
      if (!i->ifa_addr || i->ifa_addr->sa_family != AF_INET || (i->ifa_flags & IFF_LOOPBACK))
        continue;
      inet_ntop (AF_INET, &((struct sockaddr_in *) i->ifa_addr)->sin_addr, addr, sizeof addr);
      g_string_append_printf (banner, "  on the network: https://%s:%u/\n", addr, self->port);
    }
    freeifaddrs (list);
  }
  g_string_append_printf (banner, "  certificate SHA-256 fingerprint: %s\n", self->fingerprint);
}

static void
plane_free (FhPlane *plane)
{
  FhWebPlane *self = (FhWebPlane *) plane;

  plane_stop (plane);
  g_ptr_array_unref (self->clients);
  g_ptr_array_unref (self->join_requests);
  g_clear_object (&self->certificate);
  g_free (self->fingerprint);
  g_free (self->web_dir);
  g_free (self);
}

static const FhPlaneOps web_plane_ops = {
  .name = "web",
  .start = plane_start,
  .close_clients = plane_close_clients,
  .stop = plane_stop,
  .device_revoked = plane_device_revoked,
  .describe = plane_describe,
  .free = plane_free,
  .device_owner_changed = plane_device_owner_changed,
};

gboolean
fh_web_metrics_access_from_string (const char *text, FhWebMetricsAccess *access)
{
  if (g_strcmp0 (text, "localhost") == 0)
    *access = FH_WEB_METRICS_LOCALHOST;
  else if (g_strcmp0 (text, "owners") == 0 || g_strcmp0 (text, "devices") == 0)
    *access = FH_WEB_METRICS_OWNERS;
  else if (g_strcmp0 (text, "off") == 0)
    *access = FH_WEB_METRICS_OFF;
  else
    return FALSE;
  return TRUE;
}

FhWebMetricsAccess
fh_web_plane_get_metrics_access (FhWebPlane *self)
{
  return self->config.metrics;
}

FhWebPlane *
fh_web_plane_new (FhCore *core, const FhWebPlaneConfig *config, GError **error)
{
  FhWebPlane *self = g_new0 (FhWebPlane, 1);
  gboolean created = FALSE;

  self->base.ops = &web_plane_ops;
  self->base.core = core;
  self->config = *config;
  self->web_dir = g_strdup (config->web_dir);
  self->config.web_dir = self->web_dir;
  self->config.config_dir = NULL; /* used here only */
  self->clients = g_ptr_array_new_with_free_func ((GDestroyNotify) fh_client_free);
  self->join_requests = g_ptr_array_new ();
  self->certificate = fh_cert_load_or_create (config->config_dir, &self->fingerprint, &created,
                                              error);
  if (!self->certificate) {
    plane_free (&self->base);
    return NULL;
  }
  if (created)
    g_message ("made a new host certificate in %s", config->config_dir);
  return self;
}

FhPlane *
fh_web_plane_get_plane (FhWebPlane *self)
{
  return &self->base;
}

guint
fh_web_plane_get_port (FhWebPlane *self)
{
  return self->port;
}

FhCore *
fh_web_plane_get_core (FhWebPlane *self)
{
  return self->base.core;
}

const char *
fh_web_plane_get_web_dir (FhWebPlane *self)
{
  return self->web_dir;
}

const char *
fh_web_plane_get_fingerprint (FhWebPlane *self)
{
  return self->fingerprint;
}

void
fh_web_plane_add_client (FhWebPlane *self, FhClient *client)
{
  g_ptr_array_add (self->clients, client);
}

void
fh_web_plane_remove_client (FhWebPlane *self, FhClient *client)
{
  fh_web_plane_forget_requests_of (self, client);
  g_ptr_array_remove_fast (self->clients, client);
}
