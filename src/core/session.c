/* Session lifecycle: NEW → STARTING → STREAMING ⇄ DISCONNECTED → STOPPED,
 * and FAILED when the desktop or encoder dies. */
#include "core/session.h"

#include <gio/gio.h>
#include <errno.h>
#include <glib/gstdio.h>
#include <string.h>

#include "backends/pads.h"
#include "backends/shared-desktop.h"
#include "base/process.h"
#include "base/random.h"
#include "base/stats.h"
#include "core/rate-control.h"
#include "core/core.h"
#include "media/clipboard.h"
#include "media/mic.h"
#include "media/speaker.h"
#include "media/video-stream.h"

#define STATS_WINDOW_US G_USEC_PER_SEC
/* evdev codes of keys and buttons (KEY_MAX + 1). */
#define HELD_CODES 0x300

/* What one peer's input holds in the session: its gamepads in the
 * session's seat, by the client's number for each (the ones the seat had
 * no room for: said once), and the keys and pointer buttons it holds down
 * now (evdev codes), let go when its level stops allowing them, so nothing
 * stays pressed (or repeats) in an app after a grant ended. */
typedef struct {
  FhPad *pads[FH_PAD_LIMIT];
  guint32 pads_refused;
  guint8 held_keys[HELD_CODES / 8];
  guint8 held_buttons[HELD_CODES / 8];
} FhPeerInput;

/* A device that joined the session (fh_session_add_guest). */
typedef struct {
  guint id;
  char *device;
  const FhSessionPeerOps *ops;
  gpointer peer;
  FhAccess device_access; /* its device's own, as stored */
  FhAccessLevel granted;  /* what the session's owner grants */
  FhAccessLevel judged;   /* what its input was last judged by */
  guint refusals_said;
  gboolean await_keyframe;
  FhPeerInput input;
} FhGuest;

struct _FhSession {
  FhCore *core;
  char *id;
  guint serial;
  char *device;
  FhMode mode;
  FhCodec codec;
  guint bitrate_kbps; /* what the client asked for (or the host's default) */
  guint target_kbps; /* what the encoder aims at: its peer's rate control */
  guint audio_frame_ms;
  gboolean audio_constant_bitrate;
  gboolean audio_gapless;
  char *dir;
  FhSessionState state;

  FhVirtualOutput *output;
  FhVideoStream *stream;
  guint encoder_threads; /* what its encoder has (or has from its next frame) */
  const FhDisplayBackend *backend;
  const FhBackendConfig *backend_config; /* its app's settings */
  gboolean shared; /* a view of the shared desktop: holds a view there */
  FhSpeaker *speaker; /* NULL without PipeWire; the shared one for a view */
  FhMic *mic;
  /* The session's own PipeWire stack (its output's pipewire_remote), where
   * its speaker and microphone are; NULL: they are in the host's. */
  FhPipeWire *pipewire;
  guint speaker_listener;
  FhMicFeeder *mic_feeder; /* the bound client's, when it sends its microphone */
  gboolean mic_wanted; /* … asked for before the session's own microphone exists */
  const FhSessionPeerOps *peer_ops; /* the bound peer, or NULL */
  gpointer peer;
  gboolean peer_resumed; /* the bound peer came back (for its welcome) */
  gboolean await_keyframe; /* the bound peer has had no keyframe yet */
  struct _FhCreateJob *creating; /* the output is being made on a worker */
  guint grace_source;
  guint stats_source;

  /* Last second, for the stats message. */
  GArray *encode_us;
  GArray *send_us;
  guint64 window_bytes;
  guint64 frames_sent;
  guint64 dropped_reported;

  FhSessionCounters counters;
  const char *plane; /* of the last bound peer */

  /* While the bound peer takes frames on the stream's thread
   * (update_direct): its ops and itself, set only while the stream's
   * direct function is off. */
  const FhSessionPeerOps *direct_ops;
  gpointer direct_peer;
  /* What went out that way, for the main thread to count (drain_direct). */
  GMutex direct_lock;
  GArray *direct_sent; /* FhSentFrame */
  guint64 direct_skipped;

  /* The bound peer's pads, keys and buttons; the guests' are their own. */
  FhPeerInput input;
  GPtrArray *guests; /* FhGuest, oldest first */
  guint next_guest;
  char *join_code; /* NULL for a shared view */

  /* The session's clipboard, while the bound peer shares it. */
  gboolean clipboard_wanted;
  FhClipboard *clipboard;
  /* Its device's access (core/access.h), the level input was last judged
   * by, the refusals said in the log so far (a bit per level and kind of
   * input: each is said once), and the timer that tells of its expiry. */
  FhAccess access;
  FhAccessLevel judged;
  guint refusals_said;
  guint expiry_source;
};

G_DEFINE_QUARK (fh-session-error-quark, fh_session_error)

static gboolean desktop_up (FhSession *self);
static void guest_free (FhGuest *g);
static void update_direct (FhSession *self);
static void drain_direct (FhSession *self);
static void drop_guest (FhSession *self, FhGuest *g, gboolean close, FhEndReason reason,
                        const char *message);

const char *
fh_session_state_to_string (FhSessionState state)
{
  switch (state) {
  case FH_SESSION_STATE_NEW:
    return "new";
  case FH_SESSION_STATE_STARTING:
    return "starting";
  case FH_SESSION_STATE_STREAMING:
    return "streaming";
  case FH_SESSION_STATE_DISCONNECTED:
    return "disconnected";
  case FH_SESSION_STATE_FAILED:
    return "failed";
  case FH_SESSION_STATE_STOPPED:
    return "stopped";
  }
  return "unknown";
}

static void
set_state (FhSession *self, FhSessionState state, const char *why)
{
  if (self->state == state)
    return;
  g_message ("session %.8s: %s → %s%s%s", self->id, fh_session_state_to_string (self->state),
             fh_session_state_to_string (state), why ? ": " : "", why ? why : "");
  self->state = state;
  update_direct (self);
}

static void
tell_stats (FhSession *self)
{
  guint64 dropped = fh_video_stream_get_dropped (self->stream);
  FhStreamStats stats = {
    .fps = self->send_us->len,
    .kbps = self->window_bytes * 8.0 / 1000.0,
    .frames = self->frames_sent,
    .dropped = dropped,
    .encode_ms_p50 = fh_percentile_ms (self->encode_us, 0.50),
    .encode_ms_p99 = fh_percentile_ms (self->encode_us, 0.99),
    .capture_to_send_ms_p50 = fh_percentile_ms (self->send_us, 0.50),
    .capture_to_send_ms_p99 = fh_percentile_ms (self->send_us, 0.99),
    .target_kbps = self->target_kbps,
  };

  if (dropped > self->dropped_reported)
    g_debug ("session %.8s: %" G_GUINT64_FORMAT " frames dropped so far", self->id, dropped);
  self->dropped_reported = dropped;
  self->counters.bitrate_bps = self->window_bytes * 8.0;
  self->counters.fps = stats.fps;
  g_array_set_size (self->encode_us, 0);
  g_array_set_size (self->send_us, 0);
  self->window_bytes = 0;
  if (self->peer_ops && self->peer_ops->stats)
    self->peer_ops->stats (self->peer, &stats);
  for (guint i = self->guests->len; i-- > 0;) {
    FhGuest *g = i < self->guests->len ? self->guests->pdata[i] : NULL;
    if (g && g->ops->stats)
      g->ops->stats (g->peer, &stats);
  }
}

static gboolean
on_stats_tick (gpointer user_data)
{
  FhSession *self = user_data;

  drain_direct (self);
  tell_stats (self);
  return G_SOURCE_CONTINUE;
}

typedef struct {
  gsize size;
  gint64 encode_us; /* capture → encoded */
  gint64 send_us;   /* capture → handed to the peer */
} FhSentFrame;

static void
count_sent (FhSession *self, const FhSentFrame *f)
{
  self->counters.frames_sent++;
  self->counters.bytes_sent += f->size;
  fh_histogram_observe (&self->counters.encode_seconds, f->encode_us / 1e6);
  fh_histogram_observe (&self->counters.capture_to_send_seconds, f->send_us / 1e6);
  g_array_append_val (self->encode_us, f->encode_us);
  g_array_append_val (self->send_us, f->send_us);
  self->window_bytes += f->size;
  self->frames_sent++;
}

/* Main thread: counts what the stream's thread sent or skipped itself. */
static void
drain_direct (FhSession *self)
{
  g_mutex_lock (&self->direct_lock);
  for (guint i = 0; i < self->direct_sent->len; i++)
    count_sent (self, &g_array_index (self->direct_sent, FhSentFrame, i));
  g_array_set_size (self->direct_sent, 0);
  self->counters.frames_skipped += self->direct_skipped;
  self->direct_skipped = 0;
  g_mutex_unlock (&self->direct_lock);
}

/* The stream's thread: the bound peer sends @packet from here if it can. */
static gboolean
on_direct (const FhVideoPacket *packet, gpointer user_data)
{
  FhSession *self = user_data;
  FhPeerVideo done = self->direct_ops->video_direct (self->direct_peer, packet);
  FhSentFrame f = {
    .size = packet->size,
    .encode_us = packet->encoded_us - packet->capture_us,
    .send_us = g_get_monotonic_time () - packet->capture_us,
  };

  if (done == FH_PEER_VIDEO_LATER)
    return FALSE;
  g_mutex_lock (&self->direct_lock);
  if (done == FH_PEER_VIDEO_SENT)
    g_array_append_val (self->direct_sent, f);
  else
    self->direct_skipped++;
  g_mutex_unlock (&self->direct_lock);
  return TRUE;
}

/* Frames go to the bound peer on the stream's thread while it alone
 * watches, streams, has had its keyframe and can take them there;
 * otherwise through on_packet. Called wherever one of those changes: when
 * it returns, a peer that no longer qualifies is not called from the
 * stream's thread again. */
static void
update_direct (FhSession *self)
{
  gboolean on = self->stream && self->state == FH_SESSION_STATE_STREAMING &&
                !self->await_keyframe && !self->guests->len && self->peer_ops &&
                self->peer_ops->video_direct;

  if (on ? self->direct_peer == self->peer && self->direct_ops == self->peer_ops
         : !self->direct_peer)
    return;
  if (self->direct_peer)
    fh_video_stream_set_direct (self->stream, NULL, NULL);
  self->direct_ops = on ? self->peer_ops : NULL;
  self->direct_peer = on ? self->peer : NULL;
  if (on)
    fh_video_stream_set_direct (self->stream, on_direct, self);
}

/* Every guest gets the frame (from its first keyframe on). Backwards: a
 * guest that is closed from inside its video op leaves the list, and the
 * ones before it stay where they are. */
static void
send_to_guests (FhSession *self, const FhVideoPacket *packet)
{
  for (guint i = self->guests->len; i-- > 0;) {
    FhGuest *g = i < self->guests->len ? self->guests->pdata[i] : NULL;
    if (!g || (g->await_keyframe && !packet->keyframe))
      continue;
    g->await_keyframe = FALSE;
    g->ops->video (g->peer, packet);
  }
}

static void
on_packet (FhVideoStream *stream, const FhVideoPacket *packet, gpointer user_data)
{
  FhSession *self = user_data;
  FhSentFrame f;

  if (self->guests->len && desktop_up (self))
    send_to_guests (self, packet);
  if (!self->peer_ops || self->state != FH_SESSION_STATE_STREAMING)
    return;
  /* Encoded before this peer was bound (a takeover): it could not decode
   * it, and its keyframe is on the way. */
  if (self->await_keyframe && !packet->keyframe)
    return;
  self->await_keyframe = FALSE;
  if (!self->peer_ops->video (self->peer, packet)) {
    self->counters.frames_skipped++;
  } else {
    f.size = packet->size;
    f.encode_us = packet->encoded_us - packet->capture_us;
    f.send_us = g_get_monotonic_time () - packet->capture_us;
    count_sent (self, &f);
  }
  /* The next frames may go on the stream's thread (its video op may also
   * have closed the peer: then they do not). */
  update_direct (self);
}

static void
on_audio_packet (const FhAudioPacket *packet, gpointer user_data)
{
  FhSession *self = user_data;

  if (self->guests->len && desktop_up (self)) {
    for (guint i = self->guests->len; i-- > 0;) {
      FhGuest *g = i < self->guests->len ? self->guests->pdata[i] : NULL;
      if (g)
        g->ops->audio (g->peer, packet);
    }
  }
  if (!self->peer_ops || self->state != FH_SESSION_STATE_STREAMING)
    return;
  self->counters.audio_packets++;
  self->peer_ops->audio (self->peer, packet);
}

/* Takes the speaker's packets in the format the client asked for. */
static void
listen_to_speaker (FhSession *self)
{
  g_autoptr (GError) error = NULL;
  FhAudioFormat format = {
    .frame_ms = self->audio_frame_ms ? self->audio_frame_ms : FH_AUDIO_FRAME_MS,
    .constant_bitrate = self->audio_constant_bitrate,
    .gapless = self->audio_gapless,
  };

  self->speaker_listener =
    fh_speaker_add_listener_with_format (self->speaker, &format, on_audio_packet, self, &error);
  if (!self->speaker_listener) {
    g_warning ("session %.8s: %s; sending %u ms packets", self->id, error->message,
               FH_AUDIO_FRAME_MS);
    format.frame_ms = FH_AUDIO_FRAME_MS;
    self->speaker_listener =
      fh_speaker_add_listener_with_format (self->speaker, &format, on_audio_packet, self, NULL);
  }
}

static char *
speaker_name (FhSession *self)
{
  return g_strdup_printf ("funkhaus-speaker-%s", self->id);
}

static char *
mic_name (FhSession *self)
{
  return g_strdup_printf ("funkhaus-mic-%s", self->id);
}

/* The session's speaker and microphone, before its apps start (they are
 * told where to find them). Without them the session still streams video.
 * An output that brings a PipeWire of its own gets them anew there
 * (start_own_audio); this is what every other output keeps. */
static void
start_audio (FhSession *self)
{
  FhPipeWire *pw = fh_core_get_pipewire (self->core);
  g_autofree char *sink = NULL, *source = NULL;
  g_autoptr (GError) error = NULL;

  if (!pw)
    return;
  if (self->shared) {
    /* The desktop's own speaker and microphone, shared by all its views. */
    self->speaker = fh_core_get_shared_speaker (self->core);
    self->mic = fh_core_get_shared_mic (self->core);
    if (self->speaker)
      listen_to_speaker (self);
    return;
  }
  sink = speaker_name (self);
  source = mic_name (self);
  if (!(self->speaker = fh_speaker_new (pw, sink, &error)) ||
      !(self->mic = fh_mic_new (pw, source, &error))) {
    g_warning ("session %.8s: no audio: %s", self->id, error->message);
    g_clear_pointer (&self->speaker, fh_speaker_free);
    return;
  }
  listen_to_speaker (self);
}

/* The output runs the session's apps with a PipeWire stack of their own
 * (at @remote), which is all they reach: the speaker and microphone are
 * made there, and that stack's defaults are them; a client already feeding
 * the microphone (it attached while the desktop was made) feeds it from
 * now on. Main loop: nothing here waits for the stack. */
static void
start_own_audio (FhSession *self, const char *remote)
{
  g_autofree char *sink = speaker_name (self), *source = mic_name (self);
  gboolean feeding = self->mic_feeder != NULL || self->mic_wanted;
  g_autoptr (GError) error = NULL;

  if (self->mic_feeder)
    fh_mic_remove_feeder (self->mic, g_steal_pointer (&self->mic_feeder));
  g_clear_pointer (&self->mic, fh_mic_free);
  g_clear_pointer (&self->speaker, fh_speaker_free); /* its listener with it */
  self->speaker_listener = 0;

  if (!(self->pipewire = fh_pipewire_connect_session (remote, sink, source, &error)) ||
      !(self->speaker = fh_speaker_new (self->pipewire, sink, &error)) ||
      !(self->mic = fh_mic_new (self->pipewire, source, &error))) {
    g_warning ("session %.8s: no audio: %s", self->id, error->message);
    g_clear_pointer (&self->speaker, fh_speaker_free);
    g_clear_pointer (&self->pipewire, fh_pipewire_free);
    return;
  }
  g_message ("session %.8s: speaker and microphone in its own PipeWire at %s", self->id, remote);
  listen_to_speaker (self);
  self->mic_wanted = FALSE;
  if (feeding && self->peer_ops && !(self->mic_feeder = fh_mic_add_feeder (self->mic, &error)))
    g_warning ("session %.8s: no microphone: %s", self->id, error->message);
}

static GStrv
audio_env (FhSession *self)
{
  g_autoptr (GStrvBuilder) env = g_strv_builder_new ();
  g_autofree char *sink = NULL, *source = NULL;
  FhPipeWire *pw = fh_core_get_pipewire (self->core);

  if (!self->speaker || self->shared || self->backend->own_audio)
    return g_strv_builder_end (env);
  g_strv_builder_addv (env, (const char **) fh_pipewire_get_app_env (pw));
  sink = g_strdup_printf ("PULSE_SINK=%s", fh_speaker_get_sink_name (self->speaker));
  source = g_strdup_printf ("PULSE_SOURCE=%s", fh_mic_get_source_name (self->mic));
  g_strv_builder_add (env, sink);
  g_strv_builder_add (env, source);
  return g_strv_builder_end (env);
}

/* Unplugs a peer's pad @index: the session's apps see it go. */
static void
unplug_pad (FhSession *self, FhPeerInput *input, guint index)
{
  if (!input->pads[index])
    return;
  g_message ("session %.8s: pad %u of %s left (event%u)", self->id, index,
             input == &self->input ? "its client" : "a guest",
             fh_pad_get_index (input->pads[index]));
  g_clear_pointer (&input->pads[index], fh_pad_remove);
}

static void
remove_pads (FhSession *self, FhPeerInput *input)
{
  for (guint i = 0; i < FH_PAD_LIMIT; i++)
    unplug_pad (self, input, i);
  input->pads_refused = 0;
}

static FhGuest *
find_guest (FhSession *self, gpointer peer)
{
  for (guint i = 0; self->guests && i < self->guests->len; i++) {
    FhGuest *g = self->guests->pdata[i];
    if (g->peer == peer)
      return g;
  }
  return NULL;
}

/* ---- access levels ---- */

static gint64
now_unix (void)
{
  return g_get_real_time () / G_USEC_PER_SEC;
}

/* Tells the bound peer the level that judges its input now. */
static void
tell_access (FhSession *self)
{
  FhAccess now = {
    .level = self->judged,
    .until = self->judged == FH_ACCESS_VIEW ? 0 : self->access.until,
  };

  if (self->peer_ops && self->peer_ops->access)
    self->peer_ops->access (self->peer, &now);
}

static void
note_held (guint8 *held, guint32 code, gboolean pressed)
{
  if (code >= HELD_CODES)
    return;
  if (pressed)
    held[code / 8] |= 1u << (code % 8);
  else
    held[code / 8] &= ~(1u << (code % 8));
}

/* Lets go of every key and button a peer's input holds down. */
static void
release_held (FhSession *self, FhPeerInput *input)
{
  guint released = 0;

  for (guint code = 0; code < HELD_CODES; code++) {
    gboolean key = input->held_keys[code / 8] & (1u << (code % 8));
    gboolean button = input->held_buttons[code / 8] & (1u << (code % 8));
    FhInputEvent up = { .type = FH_INPUT_KEY, .key = { code, FALSE } };
    if (key && desktop_up (self)) {
      self->output->ops->inject (self->output, &up);
      released++;
    }
    up = (FhInputEvent) { .type = FH_INPUT_POINTER_BUTTON, .button = { code, FALSE } };
    if (button && desktop_up (self)) {
      self->output->ops->inject (self->output, &up);
      released++;
    }
  }
  memset (input->held_keys, 0, sizeof input->held_keys);
  memset (input->held_buttons, 0, sizeof input->held_buttons);
  if (released)
    g_message ("session %.8s: let go of %u held key(s) and button(s)", self->id, released);
}

/* The level now, against the one input was judged by so far: a change is
 * said once, takes the pads away when they are no longer allowed, and is
 * told to the peer (as is any change when @tell). */
static void
apply_access (FhSession *self, const char *why, gboolean tell)
{
  FhAccessLevel level = fh_access_effective (&self->access, now_unix ());

  if (level != self->judged) {
    g_message ("session %.8s: access %s → %s (%s)", self->id,
               fh_access_level_to_string (self->judged), fh_access_level_to_string (level), why);
    self->judged = level;
    if (!fh_access_level_allows (level, FH_ACCESS_INPUT_KEYBOARD_MOUSE))
      release_held (self, &self->input);
    if (!fh_access_level_allows (level, FH_ACCESS_INPUT_PAD))
      remove_pads (self, &self->input);
    tell = TRUE;
  }
  if (tell)
    tell_access (self);
}

static void schedule_expiry (FhSession *self);

static gboolean
on_access_expired (gpointer user_data)
{
  FhSession *self = user_data;

  self->expiry_source = 0;
  apply_access (self, "its grant expired", FALSE);
  /* A timer runs on the monotonic clock and at most ~24 days at once: one
   * that fired before the wall clock reached the expiry waits again. */
  if (self->judged != FH_ACCESS_VIEW)
    schedule_expiry (self);
  return G_SOURCE_REMOVE;
}

/* A timer for the expiry, so that the peer hears of it when it passes
 * (the events themselves are judged by the clock whatever the timer). */
static void
schedule_expiry (FhSession *self)
{
  gint64 left_ms;

  g_clear_handle_id (&self->expiry_source, g_source_remove);
  if (self->access.until == 0 || self->access.level == FH_ACCESS_VIEW)
    return;
  left_ms = (self->access.until * G_USEC_PER_SEC - g_get_real_time ()) / 1000 + 1;
  if (left_ms <= 0)
    return;
  self->expiry_source = g_timeout_add ((guint) MIN (left_ms, (gint64) G_MAXINT32),
                                       on_access_expired, self);
}

/* Whether the session's level lets @input through now; a refusal is
 * counted, and said once per level and kind of input. */
static gboolean
judge_input (FhSession *self, FhAccessInput input)
{
  FhAccessLevel level = fh_access_effective (&self->access, now_unix ());
  guint reason;

  if (level != self->judged)
    apply_access (self, "its grant expired", FALSE);
  if (fh_access_level_allows (level, input))
    return TRUE;
  self->counters.input_refused++;
  reason = 1u << (level * 4 + input);
  if (!(self->refusals_said & reason)) {
    self->refusals_said |= reason;
    g_message ("session %.8s: %s input refused: device %s has access level %s%s (said once; "
               "funkhaus_session_input_refused_total counts them)",
               self->id,
               input == FH_ACCESS_INPUT_PAD          ? "gamepad"
               : input == FH_ACCESS_INPUT_MICROPHONE ? "microphone"
               : input == FH_ACCESS_INPUT_CLIPBOARD  ? "clipboard"
                                                     : "keyboard and mouse",
               self->device, fh_access_level_to_string (level),
               level != self->access.level ? ", its grant expired" : "");
  }
  return FALSE;
}

/* ---- guests ---- */

/* The desktop is up and streams: to its client, or to its guests while
 * its client is away. */
static gboolean
desktop_up (FhSession *self)
{
  return self->output && self->stream &&
         (self->state == FH_SESSION_STATE_STREAMING ||
          self->state == FH_SESSION_STATE_DISCONNECTED);
}

/* A guest's level now: the stricter of what the session's owner grants
 * and what its own device may do. */
static FhAccessLevel
guest_level (FhGuest *g)
{
  return MAX (fh_access_effective (&g->device_access, now_unix ()), g->granted);
}

static void
tell_guest_access (FhGuest *g)
{
  FhAccess now = {
    .level = g->judged,
    .until = g->judged == FH_ACCESS_VIEW ? 0 : g->device_access.until,
  };

  if (g->ops->access)
    g->ops->access (g->peer, &now);
}

/* The bound peer hears of its guests. */
static void
tell_guests (FhSession *self)
{
  if (self->peer_ops && self->peer_ops->guests)
    self->peer_ops->guests (self->peer, self);
}

/* As apply_access, for a guest: its owner hears of a change too. */
static void
apply_guest_access (FhSession *self, FhGuest *g, const char *why, gboolean tell)
{
  FhAccessLevel level = guest_level (g);

  if (level != g->judged) {
    g_message ("session %.8s: guest %u (device %s) access %s → %s (%s)", self->id, g->id,
               g->device, fh_access_level_to_string (g->judged), fh_access_level_to_string (level),
               why);
    g->judged = level;
    if (!fh_access_level_allows (level, FH_ACCESS_INPUT_KEYBOARD_MOUSE))
      release_held (self, &g->input);
    if (!fh_access_level_allows (level, FH_ACCESS_INPUT_PAD))
      remove_pads (self, &g->input);
    tell = TRUE;
    tell_guests (self);
  }
  if (tell)
    tell_guest_access (g);
}

/* As judge_input, for a guest's input. */
static gboolean
judge_guest (FhSession *self, FhGuest *g, FhAccessInput input)
{
  FhAccessLevel level = guest_level (g);
  guint reason;

  if (level != g->judged)
    apply_guest_access (self, g, "its device's grant expired", FALSE);
  if (fh_access_level_allows (level, input))
    return TRUE;
  self->counters.input_refused++;
  reason = 1u << (level * 4 + input);
  if (!(g->refusals_said & reason)) {
    g->refusals_said |= reason;
    g_message ("session %.8s: %s input of guest %u (device %s) refused: its level is %s (said "
               "once)",
               self->id, input == FH_ACCESS_INPUT_PAD ? "gamepad" : "keyboard and mouse", g->id,
               g->device, fh_access_level_to_string (level));
  }
  return FALSE;
}

/* The input of @peer, the bound one or a guest; NULL for anyone else. */
static FhPeerInput *
input_of (FhSession *self, gpointer peer, FhGuest **guest)
{
  FhGuest *g = NULL;

  if (guest)
    *guest = NULL;
  if (self->peer_ops && self->peer == peer)
    return &self->input;
  if (!(g = find_guest (self, peer)))
    return NULL;
  if (guest)
    *guest = g;
  return &g->input;
}

/* Judges @input of @peer by its level: its input state when it may, NULL
 * when not (counted) or when @peer is a stranger. */
static FhPeerInput *
judge_peer (FhSession *self, gpointer peer, FhAccessInput input)
{
  FhGuest *g;
  FhPeerInput *mine = input_of (self, peer, &g);

  if (!mine)
    return NULL;
  if (g ? !judge_guest (self, g, input) : !judge_input (self, input))
    return NULL;
  return mine;
}

void
fh_session_set_access (FhSession *self, const FhAccess *access)
{
  g_autofree char *until = access->until ? fh_access_format_time (access->until) : NULL;

  self->access = *access;
  if (self->state == FH_SESSION_STATE_STOPPED)
    return;
  g_message ("session %.8s: access level set to %s%s%s", self->id,
             fh_access_level_to_string (access->level), until ? " until " : "",
             until ? until : "");
  schedule_expiry (self);
  apply_access (self, "set on the host", TRUE);
}

const FhAccess *
fh_session_get_access (FhSession *self)
{
  return &self->access;
}

FhAccessLevel
fh_session_get_access_level (FhSession *self)
{
  return fh_access_effective (&self->access, now_unix ());
}

static void
fail (FhSession *self, const char *reason)
{
  if (self->state == FH_SESSION_STATE_STOPPED || self->state == FH_SESSION_STATE_FAILED)
    return;
  g_warning ("session %.8s failed: %s", self->id, reason);
  set_state (self, FH_SESSION_STATE_FAILED, reason);
  /* Nothing more for the peer but its closed. */
  g_clear_handle_id (&self->stats_source, g_source_remove);
  if (self->peer_ops && self->peer_ops->failed)
    self->peer_ops->failed (self->peer, reason);
  /* The core stops and frees it from an idle callback: we may be deep
   * inside the stream's or the output's own callback here. */
  fh_core_remove_session (self->core, self, FH_END_REASON_FAILED, reason);
}

static void
on_stream_failed (FhVideoStream *stream, const GError *error, gpointer user_data)
{
  FhSession *self = user_data;
  g_autofree char *reason = g_strdup_printf ("video pipeline failed: %s", error->message);

  fail (self, reason);
}

static void
on_output_failed (FhVirtualOutput *output, const char *reason, gpointer user_data)
{
  fail (user_data, reason);
}

/* The output is made on a worker thread (a compositor takes a while to
 * start); the job outlives the session if the session stops first. */
typedef struct _FhCreateJob {
  FhSession *session; /* NULL once the session stopped */
  FhCore *core;
  const FhDisplayBackend *backend;
  FhOutputRequest request;
  char *session_id;
  char *device;
  char *session_dir;
  char *layout;
  GStrv app_env;
  char *speaker_name;
  char *mic_name;
} FhCreateJob;

static void
create_job_free (FhCreateJob *job)
{
  g_free (job->session_id);
  g_free (job->device);
  g_free (job->session_dir);
  g_free (job->layout);
  g_strfreev (job->app_env);
  g_free (job->speaker_name);
  g_free (job->mic_name);
  g_free (job);
}

static void
create_in_thread (GTask *task, gpointer source, gpointer data, GCancellable *cancellable)
{
  FhCreateJob *job = data;
  GError *error = NULL;
  FhVirtualOutput *output = job->backend->create_output (&job->request, &error);

  if (output)
    g_task_return_pointer (task, output, (GDestroyNotify) fh_virtual_output_destroy);
  else
    g_task_return_error (task, error);
}

static void on_stats_tick_start (FhSession *self);
static gboolean on_grace_expired (gpointer user_data);

static void
on_clipboard_changed (const char *text, gsize len, gpointer user_data)
{
  FhSession *self = user_data;

  /* The session's clipboard goes out to a client with full access only. */
  if (self->peer_ops && self->clipboard_wanted && self->peer_ops->clipboard &&
      fh_access_level_allows (fh_access_effective (&self->access, now_unix ()),
                              FH_ACCESS_INPUT_CLIPBOARD))
    self->peer_ops->clipboard (self->peer, text, len);
}

/* The clipboard of a session whose peer shares it, once its desktop is up. */
static void
start_clipboard (FhSession *self)
{
  g_autoptr (GError) error = NULL;

  if (!self->clipboard_wanted || self->clipboard || !self->output ||
      !self->output->clipboard_socket)
    return;
  self->clipboard = fh_clipboard_new (self->output->clipboard_socket, on_clipboard_changed, self,
                                      &error);
  if (!self->clipboard)
    g_message ("session %.8s: no clipboard: %s", self->id, error->message);
  else
    g_message ("session %.8s: its client shares the session's clipboard", self->id);
}

static void
enter_streaming_or_wait (FhSession *self)
{
  if (self->peer_ops) {
    start_clipboard (self);
    self->await_keyframe = TRUE;
    set_state (self, FH_SESSION_STATE_STREAMING, self->peer_ops->describe (self->peer));
    on_stats_tick_start (self);
    fh_video_stream_request_keyframe (self->stream);
    fh_video_stream_set_paused (self->stream, FALSE);
    /* Last: the peer may detach (or be closed) from inside its welcome. */
    self->peer_ops->welcome (self->peer, self, self->peer_resumed);
    if (self->guests->len)
      tell_guests (self);
  } else {
    guint grace = fh_core_get_config (self->core)->grace_seconds;
    set_state (self, FH_SESSION_STATE_DISCONNECTED, "its client left while it started");
    self->grace_source = g_timeout_add_seconds (grace, on_grace_expired, self);
  }
}

/* The encode thread captures through the output's own capture op. */
static gboolean
capture_output (gpointer source, FhFrame *frame, guint64 frame_number, gint64 deadline_us,
                gint64 *timestamp_us, GError **error)
{
  FhVirtualOutput *output = source;

  return output->ops->capture (output, frame, frame_number, deadline_us, timestamp_us, error);
}

static void
on_output_created (GObject *source, GAsyncResult *result, gpointer data)
{
  FhCreateJob *job = data;
  FhSession *self = job->session;
  g_autoptr (GError) error = NULL;
  FhVirtualOutput *output = g_task_propagate_pointer (G_TASK (result), &error);
  const FhCoreConfig *config = fh_core_get_config (job->core);

  fh_core_release (job->core);
  if (!self) {
    /* The session stopped meanwhile: undo what the worker made. */
    fh_virtual_output_destroy (output);
    g_rmdir (job->session_dir);
    create_job_free (job);
    return;
  }
  self->creating = NULL;
  create_job_free (job);

  fh_core_metrics_note_desktop (fh_core_get_metrics (self->core), output != NULL);
  if (!output) {
    g_autofree char *reason = g_strdup_printf ("cannot start the desktop: %s", error->message);
    fail (self, reason);
    return;
  }
  self->output = output;
  if (output->ops->start)
    output->ops->start (output);
  /* Before the welcome, which tells the client whether there is audio. */
  if (output->pipewire_remote)
    start_own_audio (self, output->pipewire_remote);

  {
    g_autofree char *name = g_strdup_printf ("session %.8s", self->id);
    FhVideoEncoderConfig encoder = {
      .width = self->mode.width,
      .height = self->mode.height,
      .fps = self->mode.refresh,
      .bitrate_kbps = self->bitrate_kbps,
      .preset = config->encoder_preset,
      .threads = fh_core_encoder_started (self->core, self->mode.width, self->mode.height,
                                          self->mode.refresh),
      .name = name,
    };
    self->encoder_threads = encoder.threads;
    g_message ("session %.8s: encoder %ux%u@%u, %u thread(s)%s", self->id, encoder.width,
               encoder.height, encoder.fps, encoder.threads,
               config->encoder_threads ? " (encoder-threads)" : "");
    FhFrameSource frames = {
      .capture = capture_output,
      .source = self->output,
      .name = self->id,
    };
    self->stream = fh_video_stream_new (&frames, &encoder, fh_core_get_main_context (self->core),
                                        on_packet, on_stream_failed, self, &error);
  }
  if (!self->stream) {
    g_autofree char *reason = g_strdup_printf ("cannot start the encoder: %s", error->message);
    fh_core_encoder_stopped (self->core);
    fail (self, reason);
    return;
  }
  enter_streaming_or_wait (self);
}

void
fh_session_repick_encoder_threads (FhSession *self)
{
  guint encoders = MAX (fh_core_count_encoders (self->core), 1u);
  guint threads;

  if (!self->stream)
    return;
  threads = fh_core_encoder_threads (self->core, encoders - 1, self->mode.width,
                                     self->mode.height, self->mode.refresh);
  if (threads == self->encoder_threads)
    return;
  g_message ("session %.8s: encoder now %u thread(s), with %u encoder(s) on %u core(s)", self->id,
             threads, encoders, g_get_num_processors ());
  self->encoder_threads = threads;
  fh_video_stream_set_threads (self->stream, threads);
}

FhSession *
fh_session_new (FhCore *core, const FhSessionRequest *request, GError **error)
{
  const FhCoreConfig *config = fh_core_get_config (core);
  const FhCoreApp *app;
  g_autoptr (GTask) task = NULL;
  FhSession *self;
  FhCreateJob *job;

  app = fh_core_lookup_app (core, request->app ? request->app : 1);
  if (!app) {
    g_set_error (error, FH_SESSION_ERROR, FH_SESSION_ERROR_UNAVAILABLE,
                 "this host has no app %u: pick one of its list", request->app);
    return NULL;
  }
  if (app->unavailable && !request->shared) {
    g_set_error (error, FH_SESSION_ERROR, FH_SESSION_ERROR_UNAVAILABLE,
                 "the app '%s' cannot start on this host: %s", app->name, app->unavailable);
    return NULL;
  }
  self = g_new0 (FhSession, 1);
  self->core = core;
  self->id = fh_random_hex (16);
  self->serial = fh_core_next_serial (core);
  self->device = g_strdup (request->device);
  self->mode = request->mode;
  self->codec = request->codec;
  self->bitrate_kbps = request->bitrate_kbps ? request->bitrate_kbps : config->bitrate_kbps;
  self->target_kbps = self->bitrate_kbps;
  self->audio_frame_ms = request->audio_frame_ms;
  self->audio_constant_bitrate = request->audio_constant_bitrate;
  self->audio_gapless = request->audio_gapless;
  self->encode_us = g_array_new (FALSE, FALSE, sizeof (gint64));
  g_mutex_init (&self->direct_lock);
  self->direct_sent = g_array_new (FALSE, FALSE, sizeof (FhSentFrame));
  self->send_us = g_array_new (FALSE, FALSE, sizeof (gint64));
  self->guests = g_ptr_array_new ();
  self->backend = app->backend;
  self->backend_config = app->backend_config;
  if (request->shared || !app->backend) {
    FhSharedDesktop *desktop = fh_core_get_shared_desktop (core);
    if (!desktop) {
      g_set_error (error, FH_SESSION_ERROR, FH_SESSION_ERROR_UNAVAILABLE,
                   "this host has no shared desktop (shared-desktop in its config.ini)");
      fh_session_free (self);
      return NULL;
    }
    if (!fh_shared_desktop_reserve_view (desktop)) {
      g_set_error (error, FH_SESSION_ERROR, FH_SESSION_ERROR_UNAVAILABLE,
                   "the shared desktop has all the views it allows (shared-max-views)");
      fh_session_free (self);
      return NULL;
    }
    self->shared = TRUE;
    self->backend = fh_shared_desktop_get_backend (desktop);
  }
  if (!self->shared)
    fh_session_new_join_code (self);
  fh_device_store_get_access (fh_core_get_devices (core), self->device, &self->access);
  self->judged = fh_access_effective (&self->access, now_unix ());
  schedule_expiry (self);
  g_message ("session %.8s: new for device %s at %ux%u@%u, %u kb/s, app '%s', access level %s",
             self->id, self->device, self->mode.width, self->mode.height, self->mode.refresh,
             self->bitrate_kbps, self->shared ? "Shared desktop" : app->name,
             fh_access_level_to_string (self->judged));

  self->dir = g_build_filename (fh_core_get_sessions_dir (core), self->id, NULL);
  if (g_mkdir (self->dir, 0700) < 0) {
    int saved = errno;
    g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved), "cannot create %s: %s",
                 self->dir, g_strerror (saved));
    g_clear_pointer (&self->dir, g_free);
    fh_session_free (self);
    return NULL;
  }

  /* A backend that brings the session's own PipeWire gets the speaker and
   * microphone there once its output is up (start_own_audio). */
  if (self->shared || !self->backend->own_audio)
    start_audio (self);
  job = g_new0 (FhCreateJob, 1);
  job->session = self;
  job->core = core;
  job->backend = self->backend;
  job->session_id = g_strdup (self->id);
  job->device = g_strdup (self->device);
  job->session_dir = g_strdup (self->dir);
  job->layout = g_strdup (request->keyboard_layout ? request->keyboard_layout
                                                   : config->keyboard_layout);
  job->app_env = audio_env (self);
  /* A backend that gives the session's apps a PipeWire of their own makes
   * these its defaults (and then the output says where it is). */
  if (!self->shared && self->backend->own_audio && fh_core_get_pipewire (core)) {
    job->speaker_name = speaker_name (self);
    job->mic_name = mic_name (self);
  }
  job->request = (FhOutputRequest) {
    .mode = self->mode,
    .session_id = job->session_id,
    .device = job->device,
    .serial = self->serial,
    .session_dir = job->session_dir,
    .keyboard_layout = job->layout,
    .app_env = (const char *const *) job->app_env,
    .speaker_name = job->speaker_name,
    .mic_name = job->mic_name,
    .config = self->shared ? NULL : self->backend_config,
    .pipewire = fh_core_get_pipewire (core),
    .shared_desktop = fh_core_get_shared_desktop (core),
    .on_failed = on_output_failed,
    .user_data = self,
  };
  self->creating = job;
  set_state (self, FH_SESSION_STATE_STARTING, job->backend->name);
  fh_core_hold (core);
  task = g_task_new (NULL, NULL, on_output_created, job);
  g_task_set_task_data (task, job, NULL);
  g_task_run_in_thread (task, create_in_thread);
  return self;
}

void
fh_session_stop (FhSession *self, FhEndReason reason, const char *message)
{
  const FhSessionPeerOps *peer_ops = g_steal_pointer (&self->peer_ops);
  gpointer peer = g_steal_pointer (&self->peer);

  if (self->state == FH_SESSION_STATE_STOPPED)
    return;
  update_direct (self); /* before its peer hears of the end */
  if (self->creating) {
    self->creating->session = NULL; /* its callback cleans up */
    self->creating = NULL;
  }
  g_clear_handle_id (&self->grace_source, g_source_remove);
  g_clear_handle_id (&self->stats_source, g_source_remove);
  g_clear_handle_id (&self->expiry_source, g_source_remove);
  if (peer_ops)
    peer_ops->closed (peer, reason, message ? message : "the session ended");
  remove_pads (self, &self->input);
  while (self->guests->len) {
    FhGuest *g = g_ptr_array_steal_index (self->guests, self->guests->len - 1);
    remove_pads (self, &g->input);
    g->ops->closed (g->peer, reason, message ? message : "the session ended");
    guest_free (g);
  }
  g_clear_pointer (&self->clipboard, fh_clipboard_free);
  /* Reverse order of setup: the thread that reads the output goes first. */
  if (self->stream) {
    fh_video_stream_stop (self->stream);
    fh_core_encoder_stopped (self->core);
  }
  g_clear_pointer (&self->stream, fh_video_stream_free);
  g_clear_pointer (&self->output, fh_virtual_output_destroy);
  /* Its apps are gone: now their speaker and microphone. */
  if (self->mic_feeder)
    fh_mic_remove_feeder (self->mic, g_steal_pointer (&self->mic_feeder));
  if (self->shared) {
    if (self->speaker_listener)
      fh_speaker_remove_listener (self->speaker, self->speaker_listener);
    self->speaker = NULL;
    self->mic = NULL;
    fh_shared_desktop_release_view (fh_core_get_shared_desktop (self->core));
    self->shared = FALSE;
  }
  g_clear_pointer (&self->mic, fh_mic_free);
  g_clear_pointer (&self->speaker, fh_speaker_free);
  g_clear_pointer (&self->pipewire, fh_pipewire_free);
  if (self->dir) {
    if (g_rmdir (self->dir) < 0 && errno != ENOENT && errno != ENOTEMPTY)
      g_warning ("session %.8s: cannot remove %s: %s", self->id, self->dir, g_strerror (errno));
  }
  set_state (self, FH_SESSION_STATE_STOPPED, message);
}

void
fh_session_free (FhSession *self)
{
  if (!self)
    return;
  fh_session_stop (self, FH_END_REASON_HOST_STOPPING, NULL);
  g_array_unref (self->encode_us);
  g_array_unref (self->send_us);
  g_array_unref (self->direct_sent);
  g_mutex_clear (&self->direct_lock);
  g_ptr_array_unref (self->guests);
  g_free (self->join_code);
  g_free (self->dir);
  g_free (self->device);
  g_free (self->id);
  g_free (self);
}

const char *
fh_session_get_id (FhSession *self)
{
  return self->id;
}

const char *
fh_session_get_device (FhSession *self)
{
  return self->device;
}

FhSessionState
fh_session_get_state (FhSession *self)
{
  return self->state;
}

const FhMode *
fh_session_get_mode (FhSession *self)
{
  return &self->mode;
}

guint
fh_session_get_bitrate (FhSession *self)
{
  return self->bitrate_kbps;
}

guint
fh_session_get_target_bitrate (FhSession *self)
{
  return self->target_kbps;
}

void
fh_session_set_target_bitrate (FhSession *self, guint kbps)
{
  kbps = CLAMP (kbps, MIN (FH_RATE_CONTROL_MIN_KBPS, self->bitrate_kbps), self->bitrate_kbps);
  if (fh_core_get_config (self->core)->fixed_bitrate)
    kbps = self->bitrate_kbps;
  if (kbps == self->target_kbps)
    return;
  g_message ("session %.8s: bitrate %u → %u kb/s (its client's link)", self->id,
             self->target_kbps, kbps);
  self->target_kbps = kbps;
  if (self->stream)
    fh_video_stream_set_bitrate (self->stream, kbps);
}

FhCodec
fh_session_get_codec (FhSession *self)
{
  return self->codec;
}

FhVirtualOutput *
fh_session_get_output (FhSession *self)
{
  return self->output;
}

static gboolean
on_grace_expired (gpointer user_data)
{
  FhSession *self = user_data;

  self->grace_source = 0;
  g_message ("session %.8s: grace period over, no client came back", self->id);
  fh_core_remove_session (self->core, self, FH_END_REASON_GRACE_OVER, "grace period over");
  return G_SOURCE_REMOVE;
}

static void
on_stats_tick_start (FhSession *self)
{
  if (!self->stats_source)
    self->stats_source = g_timeout_add (STATS_WINDOW_US / 1000, on_stats_tick, self);
}

void
fh_session_attach_peer (FhSession *self, const FhSessionPeerOps *ops, gpointer peer,
                        gboolean resumed)
{
  g_return_if_fail (self->peer_ops == NULL);
  g_clear_handle_id (&self->grace_source, g_source_remove);
  self->peer_ops = ops;
  self->peer = peer;
  self->plane = ops->plane;
  update_direct (self);
  self->peer_resumed = resumed;
  self->mic_wanted = FALSE;
  /* A new peer's link starts from what was asked for. */
  fh_session_set_target_bitrate (self, self->bitrate_kbps);
  if (self->mic_feeder)
    fh_mic_remove_feeder (self->mic, g_steal_pointer (&self->mic_feeder));
  if (self->state == FH_SESSION_STATE_DISCONNECTED)
    enter_streaming_or_wait (self);
  /* STARTING: the welcome goes out once the desktop is up. */
}

gpointer
fh_session_get_peer (FhSession *self, const FhSessionPeerOps *ops)
{
  return self->peer_ops == ops ? self->peer : NULL;
}

gboolean
fh_session_enable_mic (FhSession *self, gpointer peer, GError **error)
{
  if (!self->peer_ops || self->peer != peer) {
    g_set_error (error, FH_SESSION_ERROR, FH_SESSION_ERROR_NOT_ASKED,
                 "only the session's own client may feed its microphone");
    return FALSE;
  }
  /* Its own microphone is made once its desktop is up: feed it then. */
  if (!self->mic && self->state == FH_SESSION_STATE_STARTING && !self->shared &&
      self->backend->own_audio && fh_core_get_pipewire (self->core)) {
    self->mic_wanted = TRUE;
    return TRUE;
  }
  if (!self->mic) {
    g_set_error (error, FH_SESSION_ERROR, FH_SESSION_ERROR_UNAVAILABLE,
                 "the session has no microphone (the host has no audio)");
    return FALSE;
  }
  if (self->mic_feeder)
    return TRUE;
  if (!(self->mic_feeder = fh_mic_add_feeder (self->mic, error)))
    return FALSE;
  g_message ("session %.8s: the client's microphone feeds %s", self->id,
             fh_mic_get_source_name (self->mic));
  return TRUE;
}

void
fh_session_forget_peer (FhSession *self, gpointer peer)
{
  FhGuest *g = find_guest (self, peer);

  if (g) {
    drop_guest (self, g, FALSE, FH_END_REASON_CANCELLED, NULL);
    return;
  }
  if (!self->peer_ops || self->peer != peer)
    return;
  /* Its pads leave with it: nothing of a client stays plugged in. */
  remove_pads (self, &self->input);
  self->clipboard_wanted = FALSE;
  g_clear_pointer (&self->clipboard, fh_clipboard_free);
  self->mic_wanted = FALSE;
  if (self->mic_feeder)
    fh_mic_remove_feeder (self->mic, g_steal_pointer (&self->mic_feeder));
  self->peer_ops = NULL;
  self->peer = NULL;
  update_direct (self);
}

void
fh_session_detach_peer (FhSession *self, gpointer peer)
{
  guint grace = fh_core_get_config (self->core)->grace_seconds;

  if (find_guest (self, peer)) {
    fh_session_forget_peer (self, peer);
    return;
  }
  if (!self->peer_ops || self->peer != peer)
    return;
  /* Whatever the state, the peer is never called again. STARTING: the
   * session waits in its grace period once it is up. */
  fh_session_forget_peer (self, peer);
  if (self->state != FH_SESSION_STATE_STREAMING)
    return;
  /* Its guests watch on while it is away. */
  if (!self->guests->len) {
    g_clear_handle_id (&self->stats_source, g_source_remove);
    fh_video_stream_set_paused (self->stream, TRUE);
  }
  set_state (self, FH_SESSION_STATE_DISCONNECTED, NULL);
  g_message ("session %.8s: waiting %u s for its client to come back", self->id, grace);
  self->grace_source = g_timeout_add_seconds (grace, on_grace_expired, self);
}

void
fh_session_request_keyframe (FhSession *self)
{
  if (self->stream)
    fh_video_stream_request_keyframe (self->stream);
}

static void inject (FhSession *self, FhPeerInput *input, const FhInputEvent *event);

void
fh_session_inject (FhSession *self, const FhInputEvent *event)
{
  if (self->state != FH_SESSION_STATE_STREAMING || !self->output)
    return;
  if (event->type == FH_INPUT_KEY && event->key.code == 0) {
    g_debug ("session %.8s: ignoring a key this host does not know", self->id);
    return;
  }
  if (!judge_input (self, FH_ACCESS_INPUT_KEYBOARD_MOUSE))
    return;
  inject (self, &self->input, event);
}

void
fh_session_inject_from (FhSession *self, gpointer peer, const FhInputEvent *event)
{
  FhGuest *g;
  FhPeerInput *input = input_of (self, peer, &g);

  if (!g) {
    if (input)
      fh_session_inject (self, event);
    return;
  }
  if (!desktop_up (self) || (event->type == FH_INPUT_KEY && event->key.code == 0))
    return;
  if (judge_guest (self, g, FH_ACCESS_INPUT_KEYBOARD_MOUSE))
    inject (self, input, event);
}

/* Injects @event of a peer whose level allows it. */
static void
inject (FhSession *self, FhPeerInput *input, const FhInputEvent *event)
{
  if (event->type == FH_INPUT_KEY)
    note_held (input->held_keys, event->key.code, event->key.pressed);
  else if (event->type == FH_INPUT_POINTER_BUTTON)
    note_held (input->held_buttons, event->button.button, event->button.pressed);
  if (event->type == FH_INPUT_POINTER_MOTION) {
    FhInputEvent clamped = *event;
    clamped.motion.x = MIN (event->motion.x, self->mode.width - 1);
    clamped.motion.y = MIN (event->motion.y, self->mode.height - 1);
    self->counters.input_events++;
    self->output->ops->inject (self->output, &clamped);
    return;
  }
  self->counters.input_events++;
  self->output->ops->inject (self->output, event);
}

gboolean
fh_session_enable_clipboard (FhSession *self, gpointer peer)
{
  if (!self->peer_ops || self->peer != peer)
    return FALSE;
  self->clipboard_wanted = TRUE;
  if (self->state == FH_SESSION_STATE_STREAMING)
    start_clipboard (self);
  return TRUE;
}

gboolean
fh_session_has_clipboard (FhSession *self)
{
  return self->clipboard != NULL;
}

gboolean
fh_session_set_clipboard (FhSession *self, gpointer peer, const char *text, gsize len,
                          GError **error)
{
  if (!self->peer_ops || self->peer != peer || !self->clipboard_wanted) {
    g_set_error (error, FH_SESSION_ERROR, FH_SESSION_ERROR_NOT_ASKED,
                 "clipboard text from a client that did not ask to share the clipboard");
    return FALSE;
  }
  if (len > FH_CLIPBOARD_MAX_TEXT || !g_utf8_validate (text, (gssize) len, NULL) ||
      memchr (text, 0, len)) {
    g_set_error (error, FH_SESSION_ERROR, FH_SESSION_ERROR_BAD_DATA,
                 "clipboard text must be UTF-8 without NUL, at most %d bytes",
                 FH_CLIPBOARD_MAX_TEXT);
    return FALSE;
  }
  /* No clipboard (its compositor has none), or a level that does not
   * allow it: nothing to do, not an error. */
  if (self->clipboard && judge_input (self, FH_ACCESS_INPUT_CLIPBOARD))
    fh_clipboard_set_text (self->clipboard, text, len);
  return TRUE;
}

static void
on_pad_rumble (FhPad *pad, const FhPadRumble *rumble, gpointer user_data)
{
  FhSession *self = user_data;

  for (guint i = 0; i < FH_PAD_LIMIT; i++) {
    if (self->input.pads[i] != pad)
      continue;
    g_debug ("session %.8s: rumble %u/%u on pad %u", self->id, rumble->strong, rumble->weak, i);
    if (self->peer_ops && self->peer_ops->rumble)
      self->peer_ops->rumble (self->peer, i, rumble);
    return;
  }
  for (guint k = 0; k < self->guests->len; k++) {
    FhGuest *g = self->guests->pdata[k];
    for (guint i = 0; i < FH_PAD_LIMIT; i++) {
      if (g->input.pads[i] != pad)
        continue;
      g_debug ("session %.8s: rumble %u/%u on pad %u of guest %u", self->id, rumble->strong,
               rumble->weak, i, g->id);
      if (g->ops->rumble)
        g->ops->rumble (g->peer, i, rumble);
      return;
    }
  }
}

/* The pad @index of @peer (the bound peer or a guest), plugged in when it
 * is new. NULL (said once per pad) when the session takes no pads or has
 * no room. */
static FhPad *
get_pad (FhSession *self, gpointer peer, guint index, FhPadKind kind)
{
  FhPadSeat *seat;
  FhPeerInput *input;
  g_autoptr (GError) error = NULL;

  if (index >= FH_PAD_LIMIT || !desktop_up (self) || !input_of (self, peer, NULL))
    return NULL;
  if (!(input = judge_peer (self, peer, FH_ACCESS_INPUT_PAD)))
    return NULL;
  if (input->pads[index])
    return input->pads[index];
  if (input->pads_refused & (1u << index))
    return NULL;
  seat = self->output->pads;
  if (!seat)
    g_set_error (&error, FH_SESSION_ERROR, FH_SESSION_ERROR_UNAVAILABLE,
                 "the session takes no gamepads (pads are off, or it has no sandbox)");
  else
    input->pads[index] = fh_pad_seat_add (seat, kind, on_pad_rumble, self, &error);
  if (!input->pads[index]) {
    g_message ("session %.8s: pad %u of %s not plugged in: %s", self->id, index,
               input == &self->input ? "its client" : "a guest", error->message);
    input->pads_refused |= 1u << index;
    return NULL;
  }
  g_message ("session %.8s: pad %u of %s arrived (%s, event%u)", self->id, index,
             input == &self->input ? "its client" : "a guest", fh_pad_kind_to_string (kind),
             fh_pad_get_index (input->pads[index]));
  return input->pads[index];
}

gboolean
fh_session_pad_connect (FhSession *self, gpointer peer, guint index, FhPadKind kind)
{
  return get_pad (self, peer, index, kind) != NULL;
}

void
fh_session_pad_update (FhSession *self, gpointer peer, guint index, const FhPadState *state)
{
  FhPad *pad = get_pad (self, peer, index, FH_PAD_KIND_XBOX360);

  if (!pad)
    return;
  self->counters.input_events++;
  fh_pad_update (pad, state);
}

void
fh_session_pad_disconnect (FhSession *self, gpointer peer, guint index)
{
  FhPeerInput *input = input_of (self, peer, NULL);

  if (!input || index >= FH_PAD_LIMIT)
    return;
  input->pads_refused &= ~(1u << index);
  unplug_pad (self, input, index);
}

guint
fh_session_count_pads (FhSession *self)
{
  guint n = 0;

  for (guint i = 0; i < FH_PAD_LIMIT; i++)
    n += self->input.pads[i] != NULL;
  for (guint k = 0; k < self->guests->len; k++) {
    FhGuest *g = self->guests->pdata[k];
    for (guint i = 0; i < FH_PAD_LIMIT; i++)
      n += g->input.pads[i] != NULL;
  }
  return n;
}

gboolean
fh_session_has_speaker (FhSession *self)
{
  return self->speaker != NULL;
}

gboolean
fh_session_takes_mic (FhSession *self)
{
  return self->mic_feeder != NULL;
}

const char *
fh_session_get_audio_target (FhSession *self, gboolean playback)
{
  /* Nodes of a stack of the session's own are not in the host's PipeWire:
   * nothing there can be routed to them. */
  if (!self->speaker || self->pipewire)
    return NULL;
  return playback ? fh_speaker_get_sink_name (self->speaker) : fh_mic_get_source_name (self->mic);
}

gboolean
fh_session_owns_process (FhSession *self, int pid)
{
  if (!self->output)
    return FALSE;
  return fh_process_descends_from (pid, self->output->root_pids,
                                   G_N_ELEMENTS (self->output->root_pids));
}

gboolean
fh_session_feed_mic (FhSession *self, gpointer peer, const guint8 *data, gsize size,
                     GError **error)
{
  g_autoptr (GError) local = NULL;

  if (!self->peer_ops || self->peer != peer || !self->mic_feeder) {
    g_set_error (error, FH_SESSION_ERROR, FH_SESSION_ERROR_NOT_ASKED,
                 self->mic ? "a microphone packet, but hello did not ask for the microphone"
                           : "a microphone packet, but this host has no audio");
    return FALSE;
  }
  /* Dropped, not refused: the client did nothing wrong. */
  if (!judge_input (self, FH_ACCESS_INPUT_MICROPHONE))
    return TRUE;
  if (!fh_mic_feeder_push (self->mic_feeder, data, size, &local)) {
    g_set_error_literal (error, FH_SESSION_ERROR, FH_SESSION_ERROR_BAD_DATA, local->message);
    return FALSE;
  }
  return TRUE;
}

const char *
fh_session_get_backend_name (FhSession *self)
{
  return self->backend->name;
}

const char *
fh_session_get_plane (FhSession *self)
{
  return self->plane ? self->plane : "";
}

gboolean
fh_session_has_peer (FhSession *self)
{
  return self->peer_ops != NULL;
}

const FhSessionCounters *
fh_session_get_counters (FhSession *self)
{
  drain_direct (self);
  return &self->counters;
}

guint64
fh_session_get_frames_dropped (FhSession *self)
{
  return self->stream ? fh_video_stream_get_dropped (self->stream) : self->dropped_reported;
}

void
fh_session_read_usage (FhSession *self, FhProcessTable *table, FhSessionUsage *usage)
{
  *usage = (FhSessionUsage) { 0 };
  if (self->stream)
    usage->encode_cpu_seconds = fh_video_stream_get_thread_cpu (self->stream);
  /* A view of the shared desktop has no processes of its own. */
  if (!self->output || self->shared || !table)
    return;
  fh_process_table_usage (table, self->output->root_pids, G_N_ELEMENTS (self->output->root_pids),
                          self->id, &usage->cpu_seconds, &usage->memory_bytes);
  usage->known = TRUE;
}

/* ---- guests ---- */

static void
guest_free (FhGuest *g)
{
  g_free (g->device);
  g_free (g);
}

/* @g leaves: its pads and held keys go, its peer is closed when @close
 * (else it left by itself), and the session's client hears of it. A
 * session whose client is away and that has no guest left pauses. */
static void
drop_guest (FhSession *self, FhGuest *g, gboolean close, FhEndReason reason,
            const char *message)
{
  g_ptr_array_remove (self->guests, g);
  update_direct (self);
  g_message ("session %.8s: guest %u (device %s) %s%s%s", self->id, g->id, g->device,
             close ? "removed" : "left", message ? ": " : "", message ? message : "");
  release_held (self, &g->input);
  remove_pads (self, &g->input);
  if (close)
    g->ops->closed (g->peer, reason, message ? message : "removed from the session");
  guest_free (g);
  if (!self->guests->len && self->state == FH_SESSION_STATE_DISCONNECTED && self->stream) {
    g_clear_handle_id (&self->stats_source, g_source_remove);
    fh_video_stream_set_paused (self->stream, TRUE);
  }
  tell_guests (self);
}

const char *
fh_session_get_join_code (FhSession *self)
{
  return self->join_code;
}

void
fh_session_new_join_code (FhSession *self)
{
  g_autofree char *hex = fh_random_hex (4);

  g_free (self->join_code);
  self->join_code =
    g_strdup_printf ("%06u", (guint) (g_ascii_strtoull (hex, NULL, 16) % 1000000u));
}

static FhGuest *
lookup_guest (FhSession *self, guint id)
{
  for (guint i = 0; i < self->guests->len; i++) {
    FhGuest *g = self->guests->pdata[i];
    if (g->id == id)
      return g;
  }
  return NULL;
}

guint
fh_session_add_guest (FhSession *self, const FhSessionPeerOps *ops, gpointer peer,
                      const char *device, FhAccessLevel granted, GError **error)
{
  FhGuest *g;
  guint id;

  if (self->shared || !self->join_code) {
    g_set_error (error, FH_SESSION_ERROR, FH_SESSION_ERROR_UNAVAILABLE,
                 "a view of the shared desktop takes no guests");
    return 0;
  }
  if (!desktop_up (self)) {
    g_set_error (error, FH_SESSION_ERROR, FH_SESSION_ERROR_UNAVAILABLE,
                 self->state == FH_SESSION_STATE_STOPPED || self->state == FH_SESSION_STATE_FAILED
                   ? "the session ended"
                   : "the session's desktop is not up yet: ask again in a moment");
    return 0;
  }
  if (g_str_equal (device, self->device)) {
    g_set_error (error, FH_SESSION_ERROR, FH_SESSION_ERROR_UNAVAILABLE,
                 "this device's own session: connect to it, not as a guest");
    return 0;
  }
  if (self->guests->len >= FH_SESSION_MAX_GUESTS) {
    g_set_error (error, FH_SESSION_ERROR, FH_SESSION_ERROR_UNAVAILABLE,
                 "the session has all the guests it takes (%d)", FH_SESSION_MAX_GUESTS);
    return 0;
  }
  g = g_new0 (FhGuest, 1);
  g->id = id = ++self->next_guest;
  g->device = g_strdup (device);
  g->ops = ops;
  g->peer = peer;
  g->granted = granted;
  g->await_keyframe = TRUE;
  fh_device_store_get_access (fh_core_get_devices (self->core), device, &g->device_access);
  g->judged = guest_level (g);
  g_ptr_array_add (self->guests, g);
  update_direct (self); /* guests get their frames through on_packet */
  g_message ("session %.8s: guest %u (device %s, %s) joined at level %s (granted %s)", self->id,
             g->id, device, ops->describe (peer), fh_access_level_to_string (g->judged),
             fh_access_level_to_string (granted));
  /* A session whose client is away streams again for its guest. */
  fh_video_stream_set_paused (self->stream, FALSE);
  on_stats_tick_start (self);
  fh_video_stream_request_keyframe (self->stream);
  g->ops->welcome (g->peer, self, FALSE);
  /* The welcome may have closed it (and freed @g). */
  if (!lookup_guest (self, id))
    return 0;
  tell_guests (self);
  return id;
}

gboolean
fh_session_set_guest_level (FhSession *self, guint id, FhAccessLevel granted)
{
  FhGuest *g = lookup_guest (self, id);

  if (!g)
    return FALSE;
  g->granted = granted;
  g_message ("session %.8s: its owner grants guest %u %s", self->id, id,
             fh_access_level_to_string (granted));
  apply_guest_access (self, g, "its owner changed it", TRUE);
  return TRUE;
}

gboolean
fh_session_remove_guest (FhSession *self, guint id, const char *message)
{
  FhGuest *g = lookup_guest (self, id);

  if (!g)
    return FALSE;
  drop_guest (self, g, TRUE, FH_END_REASON_REMOVED, message);
  return TRUE;
}

void
fh_session_remove_guests_of (FhSession *self, const char *device, FhEndReason reason,
                             const char *message)
{
  for (guint i = self->guests->len; i-- > 0;) {
    FhGuest *g = i < self->guests->len ? self->guests->pdata[i] : NULL;
    if (g && g_str_equal (g->device, device))
      drop_guest (self, g, TRUE, reason, message);
  }
}

void
fh_session_set_guest_device_access (FhSession *self, const char *device, const FhAccess *access)
{
  for (guint i = 0; i < self->guests->len; i++) {
    FhGuest *g = self->guests->pdata[i];
    if (!g_str_equal (g->device, device))
      continue;
    g->device_access = *access;
    apply_guest_access (self, g, "its device's level changed", TRUE);
  }
}

GArray *
fh_session_list_guests (FhSession *self)
{
  GArray *list = g_array_new (FALSE, FALSE, sizeof (FhSessionGuest));

  for (guint i = 0; i < self->guests->len; i++) {
    FhGuest *g = self->guests->pdata[i];
    FhSessionGuest info = {
      .id = g->id,
      .device = g->device,
      .plane = g->ops->plane,
      .granted = g->granted,
      .level = guest_level (g),
    };
    g_array_append_val (list, info);
  }
  return list;
}

guint
fh_session_count_guests (FhSession *self)
{
  return self->guests->len;
}

gboolean
fh_session_is_guest (FhSession *self, gpointer peer)
{
  return find_guest (self, peer) != NULL;
}

FhAccessLevel
fh_session_get_peer_level (FhSession *self, gpointer peer, gint64 *until)
{
  FhGuest *g = find_guest (self, peer);
  FhAccessLevel level = FH_ACCESS_VIEW;
  gint64 ends = 0;

  if (g) {
    level = guest_level (g);
    ends = g->device_access.until;
  } else if (self->peer_ops && self->peer == peer) {
    level = fh_session_get_access_level (self);
    ends = self->access.until;
  }
  if (until)
    *until = level == FH_ACCESS_VIEW ? 0 : ends;
  return level;
}
