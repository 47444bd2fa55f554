/* The launches (see launch.h): the registry, a launch's session and the
 * FhSessionPeerOps it is bound with, and its control stream's handlers. */
#include "planes/gamestream/launch.h"

#include "core/session.h"

/* A text message of 32 characters, each Shift + key down, up, Shift up. */
#define MAX_EVENTS_PER_INPUT (4 * FH_GS_INPUT_TEXT_MAX)

struct _FhGsLaunches {
  FhCore *core;
  GHashTable *table; /* device → FhGsLaunch */
  guint64 next_order;
};

/* ---- a launch ---- */

FhSession *
fh_gs_launch_get_session (FhGsLaunch *l)
{
  FhSession *session;

  if (!l->session_id)
    return NULL;
  session = fh_core_lookup_session (l->launches->core, l->session_id);
  if (!session || fh_session_get_state (session) == FH_SESSION_STATE_STOPPED ||
      fh_session_get_state (session) == FH_SESSION_STATE_FAILED)
    return NULL;
  return session;
}

static void
unbind (FhGsLaunch *l)
{
  if (l->bound)
    fh_session_detach_peer (g_steal_pointer (&l->bound), l);
}

/* Forgets everything RTSP set up: a resume starts it again. */
static void
reset_stream_state (FhGsLaunch *l)
{
  if (l->control_expected)
    fh_gs_control_server_forget (l->control, l->connect_data);
  l->control_expected = FALSE;
  g_clear_pointer (&l->rtsp_session, g_free);
  l->announced = FALSE;
  fh_gs_media_stream_reset (&l->media);
  do
    l->connect_data = g_random_int ();
  while (l->connect_data == 0);
}

static void
launch_free (FhGsLaunch *l)
{
  FhSession *session;

  /* The client quit (/cancel) while its control stream is up: it is told
   * the app ended, not that the connection broke. */
  if (l->bound && l->control_expected)
    fh_gs_control_server_send_termination (l->control, l->connect_data,
                                           FH_GS_TERMINATION_GRACEFUL, NULL);
  if ((session = fh_gs_launch_get_session (l))) {
    /* It goes now: no grace period to wait out first. */
    if (l->bound)
      fh_session_forget_peer (g_steal_pointer (&l->bound), l);
    fh_core_remove_session (l->launches->core, session, FH_END_REASON_CANCELLED,
                            "the Moonlight client quit");
  }
  unbind (l);
  reset_stream_state (l);
  g_clear_object (&l->address);
  g_free (l->session_id);
  g_free (l->device);
  g_free (l);
}

void
fh_gs_launch_reset (FhGsLaunch *l)
{
  unbind (l);
  reset_stream_state (l);
  l->order = ++l->launches->next_order;
  l->rtsp_sequence = 0;
}

/* ---- the registry ---- */

FhGsLaunches *
fh_gs_launches_new (FhCore *core)
{
  FhGsLaunches *self = g_new0 (FhGsLaunches, 1);

  self->core = core;
  self->table = g_hash_table_new (g_str_hash, g_str_equal);
  return self;
}

FhGsLaunch *
fh_gs_launches_add (FhGsLaunches *self, const char *device)
{
  FhGsLaunch *l;

  g_return_val_if_fail (!g_hash_table_contains (self->table, device), NULL);
  l = g_new0 (FhGsLaunch, 1);
  l->launches = self;
  l->device = g_strdup (device);
  g_hash_table_insert (self->table, l->device, l);
  return l;
}

FhGsLaunch *
fh_gs_launches_lookup (FhGsLaunches *self, const char *device)
{
  return g_hash_table_lookup (self->table, device);
}

guint
fh_gs_launches_count (FhGsLaunches *self)
{
  return g_hash_table_size (self->table);
}

void
fh_gs_launches_iter_init (FhGsLaunches *self, GHashTableIter *iter)
{
  g_hash_table_iter_init (iter, self->table);
}

gboolean
fh_gs_launches_forget (FhGsLaunches *self, const char *device)
{
  FhGsLaunch *l;

  /* Out of the table before it ends: its session, closing, finds nothing
   * left to forget. */
  if (!g_hash_table_steal_extended (self->table, device, NULL, (gpointer *) &l))
    return FALSE;
  launch_free (l);
  return TRUE;
}

void
fh_gs_launches_end_all (FhGsLaunches *self)
{
  GList *all = g_hash_table_get_values (self->table);

  g_hash_table_steal_all (self->table);
  g_list_free_full (all, (GDestroyNotify) launch_free);
}

void
fh_gs_launches_free (FhGsLaunches *self)
{
  if (!self)
    return;
  fh_gs_launches_end_all (self);
  g_hash_table_unref (self->table);
  g_free (self);
}

/* ---- the session's peer ---- */

static const char *
gs_describe (gpointer peer)
{
  FhGsLaunch *l = peer;

  return l->device;
}

static void
gs_welcome (gpointer peer, FhSession *session, gboolean resumed)
{
  FhGsLaunch *l = peer;

  g_message ("gamestream: device %s streams session %.8s%s", l->device,
             fh_session_get_id (session), resumed ? " again" : "");
  fh_session_request_keyframe (session);
}

static gboolean
gs_video (gpointer peer, const FhVideoPacket *packet)
{
  FhGsLaunch *l = peer;
  g_autoptr (GError) error = NULL;

  if (!fh_gs_media_stream_send_video (&l->media, packet, &error)) {
    g_warning ("gamestream: device %s: frame %u not sent: %s", l->device, l->media.frame_index,
               error->message);
    return FALSE;
  }
  /* No loss reported lately: the rate may climb back. */
  if (l->bound && fh_rate_control_clear (&l->rate, g_get_monotonic_time (), 0))
    fh_session_set_target_bitrate (l->bound, l->rate.target_kbps);
  return TRUE;
}

static void
gs_audio (gpointer peer, const FhAudioPacket *packet)
{
  FhGsLaunch *l = peer;
  g_autoptr (GError) error = NULL;

  if (!fh_gs_media_stream_send_audio (&l->media, packet, &error))
    g_warning ("gamestream: device %s: audio packet not sent: %s", l->device, error->message);
}

static void
gs_failed (gpointer peer, const char *reason)
{
  FhGsLaunch *l = peer;

  g_message ("gamestream: device %s: its session failed: %s", l->device, reason);
}

static void
gs_closed (gpointer peer, FhEndReason reason, const char *message)
{
  FhGsLaunch *l = peer;
  g_autofree char *device = g_strdup (l->device);

  l->bound = NULL;
  g_clear_pointer (&l->session_id, g_free);
  if (l->control_expected) {
    g_autoptr (GError) error = NULL;
    /* Moonlight shows the graceful one as "the app ended" and anything
     * else as an error with its code: E_FAIL for a session that failed. */
    guint32 termination = reason == FH_END_REASON_FAILED || reason == FH_END_REASON_REVOKED
                            ? 0x80004005u
                            : FH_GS_TERMINATION_GRACEFUL;
    if (!fh_gs_control_server_send_termination (l->control, l->connect_data, termination,
                                                &error))
      g_debug ("gamestream: device %s: no termination sent: %s", device, error->message);
  }
  g_message ("gamestream: device %s: session over: %s", device, message);
  /* The launch goes too (this frees @l), unless it is already on its way
   * out. */
  fh_gs_launches_forget (l->launches, device);
}

/* An app set a pad's rumble: Moonlight's rumble message, low frequency
 * (the heavy motor) first. */
static void
gs_rumble (gpointer peer, guint index, const FhPadRumble *rumble)
{
  FhGsLaunch *l = peer;
  g_autoptr (GError) error = NULL;

  if (l->control_expected &&
      !fh_gs_control_server_send_rumble (l->control, l->connect_data, (guint16) index,
                                         rumble->strong, rumble->weak, &error))
    g_debug ("gamestream: device %s: rumble not sent: %s", l->device, error->message);
}

static const FhSessionPeerOps gs_peer_ops = {
  .plane = "gamestream",
  .describe = gs_describe,
  .welcome = gs_welcome,
  .video = gs_video,
  .audio = gs_audio,
  .failed = gs_failed,
  .rumble = gs_rumble,
  .closed = gs_closed,
};

gboolean
fh_gs_launch_play (FhGsLaunch *l, FhGsMediaSender *media, GError **error)
{
  const FhGsStreamSettings *st = &l->settings;
  FhSession *session;

  if (!fh_gs_media_stream_prepare (&l->media, media, st, l->key, l->rikeyid, error))
    return FALSE;
  if ((session = fh_gs_launch_get_session (l))) {
    const FhMode *mode = fh_session_get_mode (session);
    if (mode->width != st->width || mode->height != st->height)
      g_message ("gamestream: device %s resumes at %ux%u; its session stays at %ux%u",
                 l->device, st->width, st->height, mode->width, mode->height);
  } else {
    FhSessionRequest request = {
      .device = l->device,
      .mode = { .width = st->width, .height = st->height, .refresh = MAX (st->fps, 1) },
      .codec = FH_CODEC_H264,
      .bitrate_kbps = st->configured_bitrate_kbps ? st->configured_bitrate_kbps
                                                  : st->max_bitrate_kbps,
      .audio_frame_ms = st->audio_packet_ms ? st->audio_packet_ms : 5,
      /* Moonlight's audio FEC needs every packet of a block one size. */
      .audio_constant_bitrate = TRUE,
      .audio_gapless = TRUE,
      .shared = l->shared,
      .app = l->appid,
    };
    if (!(session = fh_core_create_session (l->launches->core, &request, error)))
      return FALSE;
    g_free (l->session_id);
    l->session_id = g_strdup (fh_session_get_id (session));
  }
  if (!l->bound) {
    l->bound = session;
    fh_session_attach_peer (session, &gs_peer_ops, l, FALSE);
    fh_rate_control_init (&l->rate, fh_session_get_bitrate (session), g_get_monotonic_time ());
  }
  return TRUE;
}

/* ---- its control stream ---- */

static void
on_control_connected (gpointer data)
{
  FhGsLaunch *l = data;

  g_message ("gamestream: device %s: control stream connected", l->device);
}

/* Moonlight's controller messages drive the session's pads: a pad is
 * plugged in on its arrival (Sunshine's extension) or its first state, and
 * leaves when its bit goes from the active mask. Motion, touchpad and
 * battery have nothing to go to on an Xbox-style pad. TRUE when @input was
 * a controller's. */
static gboolean
handle_pad (FhGsLaunch *l, FhSession *session, const FhGsInput *input)
{
  FhPadState state;

  switch (input->kind) {
  case FH_GS_INPUT_CONTROLLER_ARRIVAL:
    if (input->arrival.controller_number < FH_PAD_LIMIT)
      fh_session_pad_connect (session, l, input->arrival.controller_number, FH_PAD_KIND_XBOX360);
    return TRUE;
  case FH_GS_INPUT_MULTI_CONTROLLER:
    for (guint i = 0; i < FH_PAD_LIMIT; i++) {
      if (!(input->controller.active_gamepad_mask & (1u << i)))
        fh_session_pad_disconnect (session, l, i);
    }
    if (input->controller.controller_number < 0 ||
        input->controller.controller_number >= FH_PAD_LIMIT ||
        !(input->controller.active_gamepad_mask & (1u << input->controller.controller_number)))
      return TRUE;
    fh_gs_input_to_pad (input, &state);
    fh_session_pad_update (session, l, input->controller.controller_number, &state);
    return TRUE;
  case FH_GS_INPUT_CONTROLLER_MOTION:
  case FH_GS_INPUT_CONTROLLER_TOUCH:
  case FH_GS_INPUT_CONTROLLER_BATTERY:
    return TRUE;
  default:
    return FALSE;
  }
}

static void
on_control_input (const FhGsInput *input, gpointer data)
{
  FhGsLaunch *l = data;
  FhSession *session = fh_gs_launch_get_session (l);
  FhInputEvent events[MAX_EVENTS_PER_INPUT];
  const FhMode *mode;
  guint n;

  if (!session || session != l->bound)
    return;
  if (handle_pad (l, session, input))
    return;
  mode = fh_session_get_mode (session);
  n = fh_gs_input_to_events (input, mode->width, mode->height, events, G_N_ELEMENTS (events));
  for (guint i = 0; i < n; i++)
    fh_session_inject (session, &events[i]);
}

static void
on_control_keyframe (gpointer data)
{
  FhGsLaunch *l = data;
  FhSession *session = fh_gs_launch_get_session (l);

  if (session)
    fh_session_request_keyframe (session);
}

/* Frames lost beyond what FEC repaired: the link carries less than the
 * stream (Moonlight's loss reports and reference-frame invalidations; its
 * first IDR request only starts its decoder). */
static void
on_control_loss (guint frames, gpointer data)
{
  FhGsLaunch *l = data;

  g_debug ("gamestream: device %s: lost %u frame(s)", l->device, frames);
  if (l->bound && fh_rate_control_congested (&l->rate, g_get_monotonic_time (), 0))
    fh_session_set_target_bitrate (l->bound, l->rate.target_kbps);
}

static void
on_control_disconnected (const char *reason, gpointer data)
{
  FhGsLaunch *l = data;

  g_message ("gamestream: device %s: control stream gone (%s); its session waits for a resume",
             l->device, reason);
  l->control_expected = FALSE; /* the server forgot it */
  unbind (l);
  fh_gs_media_stream_stop (&l->media);
}

static const FhGsControlHandlers control_handlers = {
  .connected = on_control_connected,
  .input = on_control_input,
  .keyframe = on_control_keyframe,
  .loss = on_control_loss,
  .disconnected = on_control_disconnected,
};

void
fh_gs_launch_expect_control (FhGsLaunch *l, FhGsControlServer *control)
{
  if (l->control_expected)
    return;
  l->control = control;
  fh_gs_control_server_expect (control, l->connect_data, l->key, &control_handlers, l);
  l->control_expected = TRUE;
}
