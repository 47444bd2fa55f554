/* The GameStream plane as the core sees it (FhPlane): the launches, the
 * HTTP plane, the streaming servers (RTSP, video and audio, control) and
 * the mDNS announcement, and the PIN prompt. */
#include "planes/gamestream/plane.h"

#include "planes/gamestream/control-server.h"
#include "planes/gamestream/launch.h"
#include "planes/gamestream/mdns.h"
#include "planes/gamestream/media-sender.h"
#include "planes/gamestream/nvhttp.h"
#include "planes/gamestream/rtsp-server.h"

struct _FhGsPlane {
  FhPlane base;
  FhGsPlaneConfig config;
  char *config_dir;
  FhGsIdentity *identity;
  FhGsLaunches *launches;     /* with http: what the HTTP plane and the servers share */
  FhGsHttp *http;             /* NULL: off, or its ports taken */
  FhGsRtspServer *rtsp;       /* with http, and the two below */
  FhGsMediaSender *media;
  FhGsControlServer *control;
  FhGsMdns *mdns;             /* with http: _nvstream._tcp through Avahi */
  FhPrompt *prompt;           /* the pairing the host's user is asked about */
};

/* The host's user typed the PIN the waiting client shows. */
static gboolean
on_pin (FhPrompt *prompt, gboolean approve, const char *pin, gpointer data, GError **error)
{
  FhGsPlane *self = data;

  if (!approve || !self->http) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                 "a Moonlight client pairs only with the PIN it shows");
    return FALSE;
  }
  if (!fh_gs_http_submit_pin (self->http, pin, error))
    return FALSE;
  g_message ("gamestream: PIN entered for Moonlight client '%s'", fh_prompt_get_who (prompt));
  /* Whether it was the right PIN shows when the client's later phases
   * arrive (on_pair_event). */
  return TRUE;
}

static void
end_prompt (FhGsPlane *self, FhPromptState state, const char *detail)
{
  FhPrompt *prompt = g_steal_pointer (&self->prompt);

  if (prompt)
    fh_prompt_end (prompt, state, detail);
}

static void
on_pair_event (FhGsPairEvent event, const char *client, const char *detail, gpointer data)
{
  FhGsPlane *self = data;
  FhPrompts *prompts = fh_core_get_prompts (self->base.core);

  switch (event) {
  case FH_GS_PAIR_EVENT_WAITING:
    /* A client that asks anew replaces the attempt it gave up on. */
    end_prompt (self, FH_PROMPT_GONE, NULL);
    self->prompt = fh_prompts_post (prompts, FH_PROMPT_PIN, client, NULL, FH_GS_PIN_TIMEOUT_S,
                                    on_pin, self);
    return;
  case FH_GS_PAIR_EVENT_GONE:
    end_prompt (self, FH_PROMPT_GONE, detail);
    return;
  case FH_GS_PAIR_EVENT_TIMED_OUT:
    end_prompt (self, FH_PROMPT_TIMED_OUT, detail);
    return;
  case FH_GS_PAIR_EVENT_FAILED:
    end_prompt (self, FH_PROMPT_FAILED, detail);
    return;
  case FH_GS_PAIR_EVENT_PAIRED:
    end_prompt (self, FH_PROMPT_DONE, detail);
    return;
  }
}

static void
stop_servers (FhGsPlane *self)
{
  g_clear_pointer (&self->mdns, fh_gs_mdns_free);
  /* Launches first: their sessions stop, their control peers are told. */
  if (self->launches)
    fh_gs_launches_end_all (self->launches);
  g_clear_pointer (&self->rtsp, fh_gs_rtsp_server_free);
  g_clear_pointer (&self->control, fh_gs_control_server_free);
  g_clear_pointer (&self->media, fh_gs_media_sender_free);
  g_clear_pointer (&self->http, fh_gs_http_free);
  g_clear_pointer (&self->launches, fh_gs_launches_free);
}

/* RTSP, video and audio, control: the ports a launch streams through. */
static gboolean
start_streaming (FhGsPlane *self, GError **error)
{
  if (!(self->rtsp = fh_gs_rtsp_server_new (self->launches, self->config.rtsp_port, error)) ||
      !(self->media = fh_gs_media_sender_new (self->launches, self->config.video_port,
                                              self->config.audio_port, error)))
    return FALSE;
  if (!(self->control = fh_gs_control_server_new (NULL, self->config.control_port, error))) {
    g_prefix_error (error, "control port %u: ", self->config.control_port);
    return FALSE;
  }
  fh_gs_rtsp_server_start (self->rtsp, self->media, self->control);
  return TRUE;
}

/* The host's apps that Moonlight can launch: one that cannot start here
 * is left out (Moonlight has no way to show why), and so is the shared
 * desktop unless views are let in at once: a Moonlight client cannot wait
 * for a shared-join=ask answer. The ids stay the host's. */
static void
offer_apps (FhGsHttp *http, FhCore *core)
{
  g_autoptr (GArray) offer = g_array_new (FALSE, FALSE, sizeof (FhGsApp));
  guint n_apps;
  const FhCoreApp *apps = fh_core_get_apps (core, &n_apps);

  for (guint i = 0; i < n_apps; i++) {
    FhGsApp app = { .id = i + 1, .title = apps[i].name, .icon = apps[i].icon,
                    .shared = apps[i].backend == NULL };
    if (apps[i].unavailable || (app.shared && !fh_core_shared_desktop_open_to_all (core)))
      continue;
    g_array_append_val (offer, app);
  }
  fh_gs_http_set_apps (http, (const FhGsApp *) (gpointer) offer->data, offer->len);
}

/* Its HTTP and HTTPS ports, and the streaming ports. With gamestream=auto
 * a port in use only warns; with "on" it stops the host. */
static gboolean
plane_start (FhPlane *plane, GError **error)
{
  FhGsPlane *self = (FhGsPlane *) plane;
  FhGsHttpConfig http = {
    .http_port = self->config.http_port,
    .https_port = self->config.https_port,
    .announce = self->config.announce,
    .announce_data = self->config.announce_data,
    .pair_event = on_pair_event,
    .pair_event_data = self,
  };
  g_autoptr (GError) local = NULL;

  self->launches = fh_gs_launches_new (plane->core);
  if (!(self->http = fh_gs_http_new (&http, self->identity, fh_core_get_devices (plane->core),
                                     self->launches, error))) {
    g_clear_pointer (&self->launches, fh_gs_launches_free);
    return FALSE;
  }
  if (!fh_gs_http_listen (self->http, &local) || !start_streaming (self, &local)) {
    stop_servers (self);
    if (self->config.required) {
      g_propagate_prefixed_error (error, g_steal_pointer (&local),
                                  "cannot serve Moonlight clients (gamestream=off in config.ini "
                                  "or --gamestream off turns this off): ");
      return FALSE;
    }
    g_warning ("GameStream (Moonlight) off: %s (another GameStream host running? "
               "gamestream=off in config.ini silences this)",
               local->message);
    return TRUE;
  }
  fh_gs_http_set_rtsp_port (self->http, fh_gs_rtsp_server_get_port (self->rtsp));
  offer_apps (self->http, plane->core);
  fh_prompts_add_poster (fh_core_get_prompts (plane->core), FH_PROMPT_PIN,
                         "no Moonlight client is waiting for a PIN: start pairing in Moonlight "
                         "first");
  /* Moonlight finds the host by itself on the LAN; without Avahi it warns
   * once and the host is added by address. */
  if (!(self->mdns = fh_gs_mdns_new (fh_gs_http_get_hostname (self->http),
                                     fh_gs_http_get_http_port (self->http), &local)))
    g_warning ("GameStream: not announced on the LAN (mDNS): %s", local->message);
  return TRUE;
}

static void
plane_stop (FhPlane *plane)
{
  FhGsPlane *self = (FhGsPlane *) plane;

  if (self->http)
    fh_prompts_remove_poster (fh_core_get_prompts (plane->core), FH_PROMPT_PIN);
  stop_servers (self);
  end_prompt (self, FH_PROMPT_GONE, NULL);
}

static void
plane_device_revoked (FhPlane *plane, const char *id)
{
  FhGsPlane *self = (FhGsPlane *) plane;

  if (self->launches)
    fh_gs_launches_forget (self->launches, id);
}

static void
plane_describe (FhPlane *plane, GString *banner)
{
  FhGsPlane *self = (FhGsPlane *) plane;

  if (!self->http) {
    g_string_append (banner, "  gamestream (Moonlight): off\n");
    return;
  }
  g_string_append_printf (banner,
                          "  gamestream (Moonlight): http port %u, https port %u, rtsp port %u "
                          "(tcp); video %u, control %u, audio %u (udp)\n",
                          fh_gs_http_get_http_port (self->http),
                          fh_gs_http_get_https_port (self->http),
                          fh_gs_rtsp_server_get_port (self->rtsp),
                          fh_gs_media_sender_get_video_port (self->media),
                          fh_gs_control_server_get_port (self->control),
                          fh_gs_media_sender_get_audio_port (self->media));
}

static void
plane_free (FhPlane *plane)
{
  FhGsPlane *self = (FhGsPlane *) plane;

  stop_servers (self);
  end_prompt (self, FH_PROMPT_GONE, NULL);
  g_clear_pointer (&self->identity, fh_gs_identity_free);
  g_free (self->config_dir);
  g_free (self);
}

static const FhPlaneOps gs_plane_ops = {
  .name = "gamestream",
  .start = plane_start,
  .stop = plane_stop,
  .device_revoked = plane_device_revoked,
  .describe = plane_describe,
  .free = plane_free,
};

FhGsPlane *
fh_gs_plane_new (FhCore *core, const FhGsPlaneConfig *config, GError **error)
{
  FhGsPlane *self = g_new0 (FhGsPlane, 1);
  gboolean created = FALSE;

  self->base.ops = &gs_plane_ops;
  self->base.core = core;
  self->config = *config;
  self->config_dir = g_strdup (config->config_dir);
  self->config.config_dir = self->config_dir;
  if (!(self->identity = fh_gs_identity_load_or_create (config->config_dir, &created, error))) {
    g_prefix_error (error, "GameStream identity: ");
    plane_free (&self->base);
    return NULL;
  }
  if (created)
    g_message ("made a new GameStream identity in %s", config->config_dir);
  return self;
}

FhPlane *
fh_gs_plane_get_plane (FhGsPlane *self)
{
  return &self->base;
}
