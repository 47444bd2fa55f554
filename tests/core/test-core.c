/* The core in one process, PipeWire's test/test-context.c way: a display
 * backend, a peer and a plane of the test's own record what they are
 * called with, and a call the test did not expect fails it. The encoder
 * is the real libx264, at 64×64 so that it stays cheap. */
#include <gio/gio.h>
#include <glib/gstdio.h>
#include <string.h>

#include "core/core.h"

#define MODE_WIDTH 64
#define MODE_HEIGHT 64
#define MODE_REFRESH 30

/* Generous: the first access unit waits for x264 to open, and the suite
 * also runs under ASan on two cores. */
#define STREAM_TIMEOUT_MS 10000

typedef struct _Fixture Fixture;

/* The backend's own settings, weston's way: how create_output, which has
 * no data pointer of its own, finds the test. */
typedef struct {
  FhBackendConfig base;
  Fixture *fx;
} FakeBackendConfig;

/* ---- expected warnings ---- */

/* g_test_init makes warnings fatal, and g_test_expect_message does not see
 * structured logging: a warning a test expects (a session that fails says
 * so) is taken here; any other stays fatal. The writer may run on any
 * thread. */
typedef struct {
  GMutex lock;
  GPtrArray *expected; /* substrings, in the order they must come */
} WarningFilter;

static WarningFilter warnings;

static GLogWriterOutput
writer (GLogLevelFlags level, const GLogField *fields, gsize n_fields, gpointer data)
{
  WarningFilter *filter = data;
  gboolean taken = FALSE;

  if (!(level & G_LOG_LEVEL_WARNING))
    return g_log_writer_default (level, fields, n_fields, NULL);
  g_mutex_lock (&filter->lock);
  for (gsize i = 0; i < n_fields && filter->expected->len > 0; i++) {
    if (strcmp (fields[i].key, "MESSAGE") == 0 &&
        strstr (fields[i].value, filter->expected->pdata[0])) {
      g_test_message ("expected warning: %s", (const char *) fields[i].value);
      g_ptr_array_remove_index (filter->expected, 0);
      taken = TRUE;
    }
  }
  g_mutex_unlock (&filter->lock);
  return taken ? G_LOG_WRITER_HANDLED : g_log_writer_default (level, fields, n_fields, NULL);
}

static void
expect_warning (const char *substring)
{
  g_mutex_lock (&warnings.lock);
  g_ptr_array_add (warnings.expected, g_strdup (substring));
  g_mutex_unlock (&warnings.lock);
}

static guint
warnings_pending (void)
{
  guint pending;

  g_mutex_lock (&warnings.lock);
  pending = warnings.expected->len;
  g_mutex_unlock (&warnings.lock);
  return pending;
}

/* ---- waiting on the main loop, never a bare sleep ---- */

static gboolean
set_flag (gpointer data)
{
  *(gboolean *) data = TRUE;
  return G_SOURCE_REMOVE;
}

/* Turns the main loop until @cond holds; fails the test after @ms. */
#define WAIT_UNTIL(cond, ms)                                                                    \
  G_STMT_START {                                                                                \
    gboolean expired_ = FALSE;                                                                  \
    guint timer_ = g_timeout_add ((ms), set_flag, &expired_);                                   \
    while (!(cond) && !expired_)                                                                \
      g_main_context_iteration (NULL, TRUE);                                                    \
    if (!expired_)                                                                              \
      g_source_remove (timer_);                                                                 \
    if (!(cond))                                                                                \
      g_error ("timed out after %u ms waiting for %s", (guint) (ms), #cond);                   \
  } G_STMT_END

/* Turns the main loop for @ms: whatever arrives meanwhile must be expected. */
static void
run_for (guint ms)
{
  gboolean expired = FALSE;

  g_timeout_add (ms, set_flag, &expired);
  while (!expired)
    g_main_context_iteration (NULL, TRUE);
}

/* ---- the call log ---- */

struct _Fixture {
  char *config_dir;
  char *runtime_dir;
  GThread *main_thread;
  FhCoreConfig config;
  FakeBackendConfig backend_config;
  FhCore *core;
  struct _FakePlane *planes[2]; /* owned by the core */
  guint planes_freed;
  GPtrArray *peers; /* FakePeer, owned */
  GPtrArray *log;   /* "who: what" of every call of a fake on the main thread, in order */

  /* The backend: create_output runs on a worker thread. */
  GMutex create_lock;
  GCond create_cond;
  gboolean create_fails;  /* under create_lock */
  gboolean create_held;   /* under create_lock: creation waits until it is released */
  gint outputs_made;      /* atomic */
  gint outputs_live;      /* atomic */
};

static void log_call (Fixture *fx, const char *format, ...) G_GNUC_PRINTF (2, 3);

static void
log_call (Fixture *fx, const char *format, ...)
{
  va_list args;

  if (g_thread_self () != fx->main_thread)
    g_error ("a fake was called on a thread other than the main one");
  va_start (args, format);
  g_ptr_array_add (fx->log, g_strdup_vprintf (format, args));
  va_end (args);
}

/* The calls since the last time, one a line; the log starts again. */
static char *
take_log (Fixture *fx)
{
  GString *out = g_string_new (NULL);

  for (guint i = 0; i < fx->log->len; i++)
    g_string_append_printf (out, "%s%s", i ? "\n" : "", (const char *) fx->log->pdata[i]);
  g_ptr_array_set_size (fx->log, 0);
  return g_string_free (out, FALSE);
}

#define ASSERT_LOG(fx, expected)                                                                \
  G_STMT_START {                                                                                \
    g_autofree char *log_ = take_log (fx);                                                      \
    g_assert_cmpstr (log_, ==, (expected));                                                     \
  } G_STMT_END

/* ---- the display backend ---- */

typedef struct {
  FhVirtualOutput base;
  Fixture *fx;
  guint serial;
  GMutex lock;
  GCond cond;
  guint64 captures;      /* under lock */
  gboolean fail_capture; /* under lock */
} FakeOutput;

static gboolean
fake_capture (FhVirtualOutput *output, FhFrame *frame, guint64 frame_number, gint64 deadline_us,
              gint64 *timestamp_us, GError **error)
{
  FakeOutput *self = (FakeOutput *) output;
  /* A flat picture whose shade follows the frame: every capture is a new
   * picture, so it never waits for @deadline_us; the stream paces. */
  guint8 shade = (guint8) (16 + frame_number % 200);
  gboolean fail;

  g_assert_true (g_thread_self () != self->fx->main_thread);
  g_assert_cmpuint (frame->width, ==, output->mode.width);
  g_assert_cmpuint (frame->height, ==, output->mode.height);
  g_mutex_lock (&self->lock);
  self->captures++;
  fail = self->fail_capture;
  g_cond_broadcast (&self->cond);
  g_mutex_unlock (&self->lock);
  if (fail) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_BROKEN_PIPE, "fake capture: the screen is gone");
    return FALSE;
  }
  *timestamp_us = g_get_monotonic_time ();
  for (guint row = 0; row < frame->height; row++)
    memset (frame->data[0] + (gsize) row * frame->stride[0], shade, frame->width);
  for (guint row = 0; row < frame->height / 2; row++) {
    memset (frame->data[1] + (gsize) row * frame->stride[1], 128, frame->width / 2);
    memset (frame->data[2] + (gsize) row * frame->stride[2], 128, frame->width / 2);
  }
  return TRUE;
}

static void
fake_start (FhVirtualOutput *output)
{
  FakeOutput *self = (FakeOutput *) output;

  log_call (self->fx, "output %u: start", self->serial);
}

static void
fake_inject (FhVirtualOutput *output, const FhInputEvent *event)
{
  FakeOutput *self = (FakeOutput *) output;
  g_autofree char *text = fh_input_event_to_string (event);

  log_call (self->fx, "output %u: %s", self->serial, text);
}

static void
fake_destroy (FhVirtualOutput *output)
{
  FakeOutput *self = (FakeOutput *) output;

  log_call (self->fx, "output %u: destroy", self->serial);
  g_atomic_int_dec_and_test (&self->fx->outputs_live);
  g_mutex_clear (&self->lock);
  g_cond_clear (&self->cond);
  fh_virtual_output_finish (output);
  g_free (self);
}

static const FhVirtualOutputOps fake_output_ops = {
  .start = fake_start,
  .capture = fake_capture,
  .inject = fake_inject,
  .destroy = fake_destroy,
};

static FhVirtualOutput *
fake_create_output (const FhOutputRequest *request, GError **error)
{
  const FakeBackendConfig *config = (const FakeBackendConfig *) request->config;
  Fixture *fx;
  FakeOutput *self;
  gboolean fails, held;

  g_assert_nonnull (config);
  g_assert_cmpstr (config->base.backend, ==, "fake");
  fx = config->fx;
  /* Never on the main loop: a real backend starts a compositor here. */
  g_assert_true (g_thread_self () != fx->main_thread);
  g_assert_cmpuint (request->mode.width, ==, MODE_WIDTH);
  g_assert_cmpuint (request->mode.height, ==, MODE_HEIGHT);
  g_assert_cmpuint (request->mode.refresh, ==, MODE_REFRESH);
  g_assert_cmpuint (request->serial, >, 0);
  g_assert_nonnull (request->session_id);
  g_assert_nonnull (request->session_dir);
  g_assert_null (request->pipewire);
  g_assert_null (request->shared_desktop);
  g_assert_nonnull (request->on_failed);

  g_mutex_lock (&fx->create_lock);
  held = fx->create_held;
  while (fx->create_held)
    g_cond_wait (&fx->create_cond, &fx->create_lock);
  fails = fx->create_fails;
  g_mutex_unlock (&fx->create_lock);
  /* Made before the worker runs (unless the session may have stopped
   * meanwhile). */
  if (!held)
    g_assert_true (g_file_test (request->session_dir, G_FILE_TEST_IS_DIR));
  if (fails) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "fake backend: no desktop today");
    return NULL;
  }

  self = g_new0 (FakeOutput, 1);
  fh_virtual_output_init (&self->base, &fake_output_ops, request);
  self->fx = fx;
  self->serial = request->serial;
  g_mutex_init (&self->lock);
  g_cond_init (&self->cond);
  g_atomic_int_inc (&fx->outputs_made);
  g_atomic_int_inc (&fx->outputs_live);
  return &self->base;
}

static const FhDisplayBackend fake_backend = {
  .name = "fake",
  .description = "the core test's own",
  .create_output = fake_create_output,
};

static FakeOutput *
output_of (FhSession *session)
{
  FhVirtualOutput *output = fh_session_get_output (session);

  g_assert_nonnull (output);
  g_assert_true (output->ops == &fake_output_ops);
  return (FakeOutput *) output;
}

/* The output dies under its session, as a crashed compositor's would. */
static void
fail_output (FakeOutput *output, const char *reason)
{
  g_assert_true (g_thread_self () == output->fx->main_thread);
  output->base.on_failed (&output->base, reason, output->base.user_data);
}

static guint64
captures_of (FakeOutput *output)
{
  guint64 n;

  g_mutex_lock (&output->lock);
  n = output->captures;
  g_mutex_unlock (&output->lock);
  return n;
}

/* Waits (without turning the main loop) until the encode thread captured
 * @more more frames, at most @ms; FALSE when it did not. */
static gboolean
wait_for_captures (FakeOutput *output, guint64 more, guint ms)
{
  gint64 deadline = g_get_monotonic_time () + ms * G_TIME_SPAN_MILLISECOND;
  gboolean done = TRUE;
  guint64 want;

  g_mutex_lock (&output->lock);
  want = output->captures + more;
  while (done && output->captures < want)
    done = g_cond_wait_until (&output->cond, &output->lock, deadline) || output->captures >= want;
  g_mutex_unlock (&output->lock);
  return done;
}

/* Two more captures mean the frame before the last one was encoded and
 * handed to the main loop, which has not taken it: a packet in flight. */
static void
wait_for_packet_in_flight (FakeOutput *output)
{
  if (!wait_for_captures (output, 2, STREAM_TIMEOUT_MS))
    g_error ("timed out waiting for the encode thread");
}

static void
hold_creation (Fixture *fx, gboolean held)
{
  g_mutex_lock (&fx->create_lock);
  fx->create_held = held;
  g_cond_broadcast (&fx->create_cond);
  g_mutex_unlock (&fx->create_lock);
}

static gboolean
release_creation (gpointer data)
{
  hold_creation (data, FALSE);
  return G_SOURCE_REMOVE;
}

/* ---- the peer ---- */

typedef enum {
  PEER_WELCOME = 1 << 0,
  PEER_VIDEO = 1 << 1,
  PEER_STATS = 1 << 2,
  PEER_FAILED = 1 << 3,
  PEER_CLOSED = 1 << 4,
  PEER_ACCESS = 1 << 5,
  PEER_GUESTS = 1 << 6,
  PEER_STREAM = PEER_WELCOME | PEER_VIDEO | PEER_STATS,
} PeerCall;

#define MAX_STATS 8

typedef struct {
  Fixture *fx;
  char *name;
  guint allowed; /* PeerCall: what the test expects now; anything else fails it */
  gboolean detach_in_welcome;
  FhSession *session; /* from its welcome */
  guint welcomes;
  gint64 welcomed_us;
  guint packets;
  guint keyframes;
  gboolean first_was_keyframe;
  guint32 last_frame;
  guint stats;
  gint64 stats_us[MAX_STATS];
  FhStreamStats stats_seen[MAX_STATS];
  guint packets_at_stats[MAX_STATS];
  char *failed;
  gboolean closed;
  FhEndReason end_reason;
  guint accesses; /* access calls */
  gboolean guest; /* bound as a guest */
  guint guests_told; /* guests calls */
  const FhSessionPeerOps *ops; /* NULL: peer_ops */
  gint direct_allowed; /* atomic: video_direct may come */
  gint direct_packets; /* atomic: what came there */
} FakePeer;

static void
check_call (FakePeer *peer, PeerCall call, const char *what)
{
  if (g_thread_self () != peer->fx->main_thread)
    g_error ("peer %s: %s on a thread other than the main one", peer->name, what);
  if (!(peer->allowed & call))
    g_error ("peer %s: %s, which the test did not expect", peer->name, what);
}

static const char *
peer_describe (gpointer data)
{
  FakePeer *peer = data;

  return peer->name;
}

static const FhSessionPeerOps peer_ops;

static void
peer_welcome (gpointer data, FhSession *session, gboolean resumed)
{
  FakePeer *peer = data;

  check_call (peer, PEER_WELCOME, "welcome");
  log_call (peer->fx, "%s: welcome resumed=%d", peer->name, resumed);
  g_assert_true (peer->guest ? fh_session_is_guest (session, peer)
                             : fh_session_get_peer (session, peer->ops ? peer->ops : &peer_ops) == peer);
  peer->session = session;
  peer->welcomes++;
  peer->welcomed_us = g_get_monotonic_time ();
  if (peer->detach_in_welcome) {
    /* Its connection dropped just as the desktop came up. */
    peer->allowed = 0;
    fh_session_detach_peer (session, peer);
  }
}

/* An Annex B start code. */
static gboolean
starts_annex_b (const guint8 *d, gsize size)
{
  return (size > 3 && d[0] == 0 && d[1] == 0 && d[2] == 1) ||
         (size > 4 && d[0] == 0 && d[1] == 0 && d[2] == 0 && d[3] == 1);
}

static gboolean
peer_video (gpointer data, const FhVideoPacket *packet)
{
  FakePeer *peer = data;
  gsize buffer_size;
  const guint8 *buffer = g_bytes_get_data (packet->buffer, &buffer_size);

  check_call (peer, PEER_VIDEO, "video");
  g_assert_cmpuint (peer->welcomes, >, 0); /* no video before the welcome */
  /* FH_VIDEO_HEADROOM bytes of the buffer in front of the access unit, and
   * the peer may write them (ASan checks the bounds). */
  g_assert_true (packet->data == buffer + FH_VIDEO_HEADROOM);
  g_assert_cmpuint (buffer_size, ==, FH_VIDEO_HEADROOM + packet->size);
  memset (packet->data - FH_VIDEO_HEADROOM, 0xa5, FH_VIDEO_HEADROOM);
  g_assert_true (starts_annex_b (packet->data, packet->size));
  g_assert_cmpint (packet->encoded_us, >=, packet->capture_us);
  if (peer->packets == 0)
    peer->first_was_keyframe = packet->keyframe;
  else
    g_assert_cmpuint (packet->frame, >, peer->last_frame);
  peer->last_frame = packet->frame;
  peer->keyframes += packet->keyframe;
  peer->packets++;
  return TRUE;
}

/* The stream's thread: as peer_video, off the main thread, and only while
 * the test allows it. Never at the same time as peer_video (frames leave
 * in order, one way at a time). */
static FhPeerVideo
peer_video_direct (gpointer data, const FhVideoPacket *packet)
{
  FakePeer *peer = data;
  gsize buffer_size;
  const guint8 *buffer = g_bytes_get_data (packet->buffer, &buffer_size);

  if (g_thread_self () == peer->fx->main_thread)
    g_error ("peer %s: video_direct on the main thread", peer->name);
  if (!g_atomic_int_get (&peer->direct_allowed))
    g_error ("peer %s: video_direct, which the test did not expect", peer->name);
  g_assert_true (packet->data == buffer + FH_VIDEO_HEADROOM);
  memset (packet->data - FH_VIDEO_HEADROOM, 0xa5, FH_VIDEO_HEADROOM);
  g_assert_true (starts_annex_b (packet->data, packet->size));
  /* Its keyframe came first, through the main loop. */
  g_assert_cmpuint (peer->packets, >, 0);
  g_assert_cmpuint (packet->frame, >, peer->last_frame);
  peer->last_frame = packet->frame;
  peer->keyframes += packet->keyframe;
  g_atomic_int_inc ((gint *) &peer->packets);
  g_atomic_int_inc (&peer->direct_packets);
  return FH_PEER_VIDEO_SENT;
}

static void
peer_audio (gpointer data, const FhAudioPacket *packet)
{
  FakePeer *peer = data;

  g_error ("peer %s: audio, on a host with audio=off", peer->name);
}

static void
peer_stats (gpointer data, const FhStreamStats *stats)
{
  FakePeer *peer = data;

  check_call (peer, PEER_STATS, "stats");
  if (peer->stats < MAX_STATS) {
    peer->stats_us[peer->stats] = g_get_monotonic_time ();
    peer->stats_seen[peer->stats] = *stats;
    peer->packets_at_stats[peer->stats] = peer->packets;
  }
  peer->stats++;
}

static void
peer_failed (gpointer data, const char *reason)
{
  FakePeer *peer = data;

  check_call (peer, PEER_FAILED, "failed");
  log_call (peer->fx, "%s: failed: %s", peer->name, reason);
  /* The session goes: from now on only its closed. */
  peer->allowed &= PEER_CLOSED;
  peer->failed = g_strdup (reason);
}

static void
peer_closed (gpointer data, FhEndReason reason, const char *message)
{
  FakePeer *peer = data;

  check_call (peer, PEER_CLOSED, "closed");
  log_call (peer->fx, "%s: closed %s: %s", peer->name, fh_end_reason_to_string (reason), message);
  peer->allowed = 0; /* unbound: nothing more, ever */
  peer->closed = TRUE;
  peer->end_reason = reason;
}

static void
peer_access (gpointer data, const FhAccess *access)
{
  FakePeer *peer = data;

  check_call (peer, PEER_ACCESS, "access");
  log_call (peer->fx, "%s: access %s%s", peer->name, fh_access_level_to_string (access->level),
            access->until ? " until" : "");
  peer->accesses++;
}

static void
peer_guests (gpointer data, FhSession *session)
{
  FakePeer *peer = data;
  g_autoptr (GArray) guests = fh_session_list_guests (session);
  GString *line = g_string_new (NULL);

  check_call (peer, PEER_GUESTS, "guests");
  g_assert_false (peer->guest);
  for (guint i = 0; i < guests->len; i++) {
    FhSessionGuest *g = &g_array_index (guests, FhSessionGuest, i);
    g_string_append_printf (line, " %u:%s:%s", g->id, g->device,
                            fh_access_level_to_string (g->level));
  }
  log_call (peer->fx, "%s: guests%s", peer->name, line->len ? line->str : " none");
  g_string_free (line, TRUE);
  peer->guests_told++;
}

static const FhSessionPeerOps peer_ops = {
  .access = peer_access,
  .guests = peer_guests,
  .describe = peer_describe,
  .welcome = peer_welcome,
  .video = peer_video,
  .audio = peer_audio,
  .stats = peer_stats,
  .failed = peer_failed,
  .closed = peer_closed,
};

static void
fake_peer_free (FakePeer *peer)
{
  g_free (peer->name);
  g_free (peer->failed);
  g_free (peer);
}

static FakePeer *
fake_peer_new (Fixture *fx, const char *name)
{
  FakePeer *peer = g_new0 (FakePeer, 1);

  peer->fx = fx;
  peer->name = g_strdup (name);
  g_ptr_array_add (fx->peers, peer);
  return peer;
}

static void
attach (FhSession *session, FakePeer *peer, gboolean resumed)
{
  peer->allowed = PEER_STREAM;
  fh_session_attach_peer (session, peer->ops ? peer->ops : &peer_ops, peer, resumed);
}

static void
detach (FhSession *session, FakePeer *peer)
{
  peer->allowed = 0; /* not a word more to it */
  fh_session_detach_peer (session, peer);
}

/* ---- the plane ---- */

typedef enum {
  PLANE_START = 1 << 0,
  PLANE_CLOSE_CLIENTS = 1 << 1,
  PLANE_STOP = 1 << 2,
  PLANE_DEVICE_REVOKED = 1 << 3,
  PLANE_DEVICE_OWNER = 1 << 4,
} PlaneCall;

typedef struct _FakePlane {
  FhPlane base;
  Fixture *fx;
  const char *name;
  guint allowed; /* PlaneCall */
  /* close_clients takes its time (300 ms) without turning the main loop,
   * as the web plane's does between its turns, while this output's
   * session streams. */
  FakeOutput *close_waits_for;
} FakePlane;

static void
check_plane_call (FakePlane *self, PlaneCall call, const char *what)
{
  if (g_thread_self () != self->fx->main_thread)
    g_error ("plane %s: %s on a thread other than the main one", self->name, what);
  if (!(self->allowed & call))
    g_error ("plane %s: %s, which the test did not expect", self->name, what);
}

static gboolean
plane_start (FhPlane *plane, GError **error)
{
  FakePlane *self = (FakePlane *) plane;

  check_plane_call (self, PLANE_START, "start");
  log_call (self->fx, "%s: start", self->name);
  return TRUE;
}

static void
plane_close_clients (FhPlane *plane)
{
  FakePlane *self = (FakePlane *) plane;

  check_plane_call (self, PLANE_CLOSE_CLIENTS, "close-clients");
  log_call (self->fx, "%s: close-clients", self->name);
  if (self->close_waits_for)
    wait_for_captures (self->close_waits_for, 10, 300);
}

static void
plane_stop (FhPlane *plane)
{
  FakePlane *self = (FakePlane *) plane;

  check_plane_call (self, PLANE_STOP, "stop");
  log_call (self->fx, "%s: stop", self->name);
}

static void
plane_device_revoked (FhPlane *plane, const char *id)
{
  FakePlane *self = (FakePlane *) plane;

  check_plane_call (self, PLANE_DEVICE_REVOKED, "device-revoked");
  log_call (self->fx, "%s: device-revoked %s", self->name, id);
}

static void
plane_device_owner_changed (FhPlane *plane, const char *id, gboolean owner)
{
  FakePlane *self = (FakePlane *) plane;

  check_plane_call (self, PLANE_DEVICE_OWNER, "device-owner");
  log_call (self->fx, "%s: device-owner %s %s", self->name, id, owner ? "on" : "off");
}

static void
plane_free (FhPlane *plane)
{
  FakePlane *self = (FakePlane *) plane;

  self->fx->planes_freed++;
  g_free (self);
}

static const FhPlaneOps plane_ops = {
  .name = "fake",
  .start = plane_start,
  .close_clients = plane_close_clients,
  .stop = plane_stop,
  .device_revoked = plane_device_revoked,
  .free = plane_free,
  .device_owner_changed = plane_device_owner_changed,
};

/* ---- the fixture ---- */

static void
remove_dir (const char *path)
{
  g_autoptr (GDir) dir = g_dir_open (path, 0, NULL);
  const char *name;

  while (dir && (name = g_dir_read_name (dir))) {
    g_autofree char *file = g_build_filename (path, name, NULL);
    g_assert_cmpint (g_unlink (file), ==, 0);
  }
  g_assert_cmpint (g_rmdir (path), ==, 0);
}

static void
fixture_set_up (Fixture *fx, gconstpointer data)
{
  g_autoptr (GError) error = NULL;

  fx->main_thread = g_thread_self ();
  /* The main thread owns the main context throughout, as it does inside
   * g_main_loop_run () in main.c: work another thread hands to the main
   * loop must wait for it. */
  g_assert_true (g_main_context_acquire (NULL));
  fx->config_dir = g_dir_make_tmp ("fh-core-config-XXXXXX", &error);
  g_assert_no_error (error);
  fx->runtime_dir = g_dir_make_tmp ("fh-core-run-XXXXXX", &error);
  g_assert_no_error (error);
  fx->log = g_ptr_array_new_with_free_func (g_free);
  fx->peers = g_ptr_array_new_with_free_func ((GDestroyNotify) fake_peer_free);
  g_mutex_init (&fx->create_lock);
  g_cond_init (&fx->create_cond);
  fx->backend_config.base.backend = "fake";
  fx->backend_config.fx = fx;
  fx->config = (FhCoreConfig) {
    .config_dir = fx->config_dir,
    .runtime_dir = fx->runtime_dir,
    .backend = &fake_backend,
    .backend_config = &fx->backend_config.base,
    .grace_seconds = GPOINTER_TO_UINT (data),
    .bitrate_kbps = 500,
    .encoder_preset = "ultrafast",
    .encoder_threads = 1,
    .audio = "off",
    .shared_desktop = { .which = "" },
    .shared_join = FH_JOIN_DENY,
  };
  fx->core = fh_core_new (&fx->config, &error);
  g_assert_no_error (error);
  g_assert_true (fh_core_start (fx->core, &error));
  g_assert_no_error (error);

  for (guint i = 0; i < G_N_ELEMENTS (fx->planes); i++) {
    FakePlane *plane = g_new0 (FakePlane, 1);
    plane->base.ops = &plane_ops;
    plane->fx = fx;
    plane->name = i == 0 ? "P1" : "P2";
    plane->allowed = PLANE_START;
    fx->planes[i] = plane;
    fh_core_add_plane (fx->core, &plane->base);
    g_assert_true (plane->base.core == fx->core);
  }
  g_assert_true (fh_core_start_planes (fx->core, &error));
  g_assert_no_error (error);
  ASSERT_LOG (fx, "P1: start\nP2: start");
  for (guint i = 0; i < G_N_ELEMENTS (fx->planes); i++)
    fx->planes[i]->allowed = 0;
}

static void
fixture_tear_down (Fixture *fx, gconstpointer data)
{
  /* What a test leaves running goes with the host: the planes stop, and
   * a peer still bound hears why. */
  for (guint i = 0; i < G_N_ELEMENTS (fx->planes); i++)
    fx->planes[i]->allowed |= PLANE_CLOSE_CLIENTS | PLANE_STOP;
  for (guint i = 0; i < fx->peers->len; i++) {
    FakePeer *peer = fx->peers->pdata[i];
    if (peer->allowed)
      peer->allowed |= PEER_CLOSED;
  }
  g_clear_pointer (&fx->core, fh_core_free);
  g_assert_cmpuint (fx->planes_freed, ==, G_N_ELEMENTS (fx->planes));
  for (guint i = 0; i < fx->peers->len; i++) {
    FakePeer *peer = fx->peers->pdata[i];
    if (peer->allowed)
      g_error ("peer %s was bound when the host stopped but never closed", peer->name);
  }
  g_assert_cmpint (g_atomic_int_get (&fx->outputs_live), ==, 0);
  g_assert_cmpuint (warnings_pending (), ==, 0);
  /* The core removed every session's directory and its sessions dir. */
  g_assert_cmpint (g_rmdir (fx->runtime_dir), ==, 0);
  remove_dir (fx->config_dir);
  g_free (fx->runtime_dir);
  g_free (fx->config_dir);
  g_ptr_array_unref (fx->peers);
  g_ptr_array_unref (fx->log);
  g_mutex_clear (&fx->create_lock);
  g_cond_clear (&fx->create_cond);
  if (g_main_context_is_owner (NULL))
    g_main_context_release (NULL);
}

static FhSession *
create_session (Fixture *fx, const char *device)
{
  FhSessionRequest request = {
    .device = device,
    .mode = { MODE_WIDTH, MODE_HEIGHT, MODE_REFRESH },
    .codec = FH_CODEC_H264,
  };
  g_autoptr (GError) error = NULL;
  FhSession *session = fh_core_create_session (fx->core, &request, &error);

  g_assert_no_error (error);
  g_assert_nonnull (session);
  g_assert_cmpint (fh_session_get_state (session), ==, FH_SESSION_STATE_STARTING);
  g_assert_true (fh_core_lookup_session (fx->core, fh_session_get_id (session)) == session);
  return session;
}

/* A session with @peer bound and video flowing to it. */
static FhSession *
streaming_session (Fixture *fx, FakePeer *peer, const char *device)
{
  FhSession *session = create_session (fx, device);

  attach (session, peer, FALSE);
  WAIT_UNTIL (peer->packets >= 3, STREAM_TIMEOUT_MS);
  g_assert_cmpint (fh_session_get_state (session), ==, FH_SESSION_STATE_STREAMING);
  return session;
}

/* ---- 1: a session comes up and streams ---- */

static void
test_stream (Fixture *fx, gconstpointer data)
{
  FakePeer *a = fake_peer_new (fx, "A");
  FhSession *session = create_session (fx, "laptop");
  g_autoptr (GString) banner = g_string_new (NULL);
  g_autofree char *expected = NULL;

  g_assert_cmpuint (fh_core_count_sessions (fx->core), ==, 1);
  g_assert_cmpstr (fh_session_get_device (session), ==, "laptop");
  g_assert_cmpuint (fh_session_get_bitrate (session), ==, 500); /* the host's default */
  g_assert_cmpstr (fh_session_get_backend_name (session), ==, "fake");
  g_assert_false (fh_session_has_speaker (session)); /* audio=off */
  g_assert_null (fh_session_get_output (session));

  attach (session, a, FALSE);
  /* STARTING: the welcome waits for the desktop. */
  g_assert_cmpuint (a->welcomes, ==, 0);
  g_assert_true (fh_session_get_peer (session, &peer_ops) == a);
  WAIT_UNTIL (a->welcomes > 0, STREAM_TIMEOUT_MS);
  g_assert_cmpint (fh_session_get_state (session), ==, FH_SESSION_STATE_STREAMING);
  ASSERT_LOG (fx, "output 1: start\nA: welcome resumed=0");
  g_assert_true (a->session == session);
  g_assert_cmpint (g_atomic_int_get (&fx->outputs_made), ==, 1);
  g_assert_cmpuint (output_of (session)->serial, ==, 1);

  WAIT_UNTIL (a->packets >= 10, STREAM_TIMEOUT_MS);
  g_assert_true (a->first_was_keyframe);
  g_assert_cmpuint (a->keyframes, ==, 1); /* none asked for since */
  fh_session_request_keyframe (session);
  {
    guint keyframes = a->keyframes;
    WAIT_UNTIL (a->keyframes > keyframes, STREAM_TIMEOUT_MS);
  }

  /* Stats about once a second, each counting the frames sent so far. */
  WAIT_UNTIL (a->stats >= 3, 3 * STREAM_TIMEOUT_MS / 2);
  g_assert_cmpint (a->stats_us[0] - a->welcomed_us, >=, 700 * G_TIME_SPAN_MILLISECOND);
  g_assert_cmpint (a->stats_us[0] - a->welcomed_us, <=, 1700 * G_TIME_SPAN_MILLISECOND);
  for (guint i = 0; i < 3; i++) {
    const FhStreamStats *s = &a->stats_seen[i];
    if (i > 0) {
      gint64 gap = a->stats_us[i] - a->stats_us[i - 1];
      g_assert_cmpint (gap, >=, 700 * G_TIME_SPAN_MILLISECOND);
      g_assert_cmpint (gap, <=, 1700 * G_TIME_SPAN_MILLISECOND);
      g_assert_cmpuint (s->frames - a->stats_seen[i - 1].frames, ==, (guint64) s->fps);
    } else {
      g_assert_cmpuint (s->frames, ==, (guint64) s->fps); /* the first second */
    }
    g_assert_cmpuint (s->frames, ==, a->packets_at_stats[i]);
    g_assert_cmpfloat (s->fps, >, 0);
    g_assert_cmpfloat (s->fps, <=, MODE_REFRESH + 2);
    g_assert_cmpfloat (s->kbps, >, 0);
  }

  fh_core_describe (fx->core, banner);
  expected = g_strdup_printf ("  backend: fake (%s)\n  audio: off\n", fake_backend.description);
  g_assert_cmpstr (banner->str, ==, expected);
  ASSERT_LOG (fx, "");
}

/* ---- 2: the client drops and comes back ---- */

static void
test_resume (Fixture *fx, gconstpointer data)
{
  FakePeer *a = fake_peer_new (fx, "A"), *b = fake_peer_new (fx, "B");
  FhSession *session = streaming_session (fx, a, "laptop");
  FakeOutput *output = output_of (session);
  guint a_packets, a_stats;
  guint64 captures;

  ASSERT_LOG (fx, "output 1: start\nA: welcome resumed=0");
  detach (session, a);
  g_assert_cmpint (fh_session_get_state (session), ==, FH_SESSION_STATE_DISCONNECTED);
  g_assert_null (fh_session_get_peer (session, &peer_ops));
  g_assert_true (fh_core_lookup_session (fx->core, fh_session_get_id (session)) == session);
  /* Packets already in flight and the stats tick: none reaches A. */
  a_packets = a->packets;
  a_stats = a->stats;
  run_for (300);
  /* Nobody watches: the encode thread rests. */
  captures = captures_of (output);
  run_for (300);
  g_assert_cmpuint (captures_of (output), ==, captures);
  g_assert_cmpuint (a->packets, ==, a_packets);
  g_assert_cmpuint (a->stats, ==, a_stats);
  g_assert_cmpint (fh_session_get_state (session), ==, FH_SESSION_STATE_DISCONNECTED);

  attach (session, b, TRUE);
  /* A DISCONNECTED session welcomes at once. */
  ASSERT_LOG (fx, "B: welcome resumed=1");
  g_assert_cmpint (fh_session_get_state (session), ==, FH_SESSION_STATE_STREAMING);
  g_assert_true (fh_session_get_peer (session, &peer_ops) == b);
  WAIT_UNTIL (b->packets >= 5, STREAM_TIMEOUT_MS);
  g_assert_true (b->first_was_keyframe);
  WAIT_UNTIL (b->stats >= 1, STREAM_TIMEOUT_MS);

  /* The old peer going away now changes nothing. */
  fh_session_detach_peer (session, a);
  g_assert_cmpint (fh_session_get_state (session), ==, FH_SESSION_STATE_STREAMING);
  g_assert_true (fh_session_get_peer (session, &peer_ops) == b);
  g_assert_cmpuint (a->packets, ==, a_packets);
  g_assert_cmpint (g_atomic_int_get (&fx->outputs_made), ==, 1);
  ASSERT_LOG (fx, "");
}

/* A newer connection takes over from one that has not noticed its drop
 * (the web plane does this): detach and attach in one go, with the encode
 * thread's last packet still on its way. The new peer's first frame must
 * be one it can decode. */
static void
test_takeover_starts_with_keyframe (Fixture *fx, gconstpointer data)
{
  FakePeer *a = fake_peer_new (fx, "A"), *b = fake_peer_new (fx, "B");
  FhSession *session = streaming_session (fx, a, "laptop");

  WAIT_UNTIL (a->packets >= 10, STREAM_TIMEOUT_MS);
  wait_for_packet_in_flight (output_of (session)); /* a delta frame */
  detach (session, a);
  attach (session, b, TRUE);
  g_assert_cmpint (fh_session_get_state (session), ==, FH_SESSION_STATE_STREAMING);
  WAIT_UNTIL (b->packets >= 3, STREAM_TIMEOUT_MS);
  g_assert_true (b->first_was_keyframe);
  ASSERT_LOG (fx, "output 1: start\nA: welcome resumed=0\nB: welcome resumed=1");
}

/* The client left while its desktop was still being made: the session
 * waits for it once it is up, and the client can come back. */
static void
test_detach_while_starting (Fixture *fx, gconstpointer data)
{
  FakePeer *a = fake_peer_new (fx, "A"), *b = fake_peer_new (fx, "B");
  FhSession *session = create_session (fx, "laptop");

  attach (session, a, FALSE);
  detach (session, a);
  g_assert_cmpint (fh_session_get_state (session), ==, FH_SESSION_STATE_STARTING);
  WAIT_UNTIL (fh_session_get_state (session) != FH_SESSION_STATE_STARTING, STREAM_TIMEOUT_MS);
  g_assert_cmpint (fh_session_get_state (session), ==, FH_SESSION_STATE_DISCONNECTED);
  ASSERT_LOG (fx, "output 1: start");
  attach (session, b, TRUE);
  ASSERT_LOG (fx, "B: welcome resumed=1");
  WAIT_UNTIL (b->packets >= 3, STREAM_TIMEOUT_MS);
  g_assert_true (b->first_was_keyframe);
  g_assert_cmpuint (a->welcomes, ==, 0);
}

/* A peer whose connection drops inside its own welcome (a send that
 * fails at once, say): it is simply gone, and the session waits for it. */
static void
test_detach_in_welcome (Fixture *fx, gconstpointer data)
{
  FakePeer *a = fake_peer_new (fx, "A");
  FhSession *session = create_session (fx, "laptop");

  a->detach_in_welcome = TRUE;
  attach (session, a, FALSE);
  WAIT_UNTIL (a->welcomes > 0, STREAM_TIMEOUT_MS);
  g_assert_null (fh_session_get_peer (session, &peer_ops));
  g_assert_cmpint (fh_session_get_state (session), ==, FH_SESSION_STATE_DISCONNECTED);
  run_for (300); /* no video, no stats to A */
  ASSERT_LOG (fx, "output 1: start\nA: welcome resumed=0");
}

/* ---- 3: the client does not come back in time ---- */

static void
test_grace_over (Fixture *fx, gconstpointer data)
{
  FakePeer *a = fake_peer_new (fx, "A");
  FhSession *session = streaming_session (fx, a, "laptop");
  g_autofree char *id = g_strdup (fh_session_get_id (session));
  g_autoptr (GPtrArray) list = NULL;
  gint64 detached_us;

  ASSERT_LOG (fx, "output 1: start\nA: welcome resumed=0");
  g_assert_cmpuint (fh_core_count_sessions (fx->core), ==, 1);
  detach (session, a);
  detached_us = g_get_monotonic_time ();
  WAIT_UNTIL (fh_core_lookup_session (fx->core, id) == NULL, 5000);
  /* grace_seconds = 1 (GLib rounds whole-second timers to ±¼ s). */
  g_assert_cmpint (g_get_monotonic_time () - detached_us, >=, 700 * G_TIME_SPAN_MILLISECOND);
  g_assert_cmpuint (fh_core_count_sessions (fx->core), ==, 0);
  WAIT_UNTIL (g_atomic_int_get (&fx->outputs_live) == 0, 5000);
  ASSERT_LOG (fx, "output 1: destroy");
  g_assert_false (a->closed); /* it had left */
  list = fh_core_list_sessions (fx->core);
  g_assert_cmpuint (list->len, ==, 0);
}

/* ---- 4: the desktop dies under its session ---- */

static void
test_output_failed (Fixture *fx, gconstpointer data)
{
  FakePeer *a = fake_peer_new (fx, "A");
  FhSession *session = streaming_session (fx, a, "laptop");
  g_autofree char *id = g_strdup (fh_session_get_id (session));
  FakeOutput *output = output_of (session);
  FhInputEvent key = { .type = FH_INPUT_KEY, .key = { 30, TRUE } };

  ASSERT_LOG (fx, "output 1: start\nA: welcome resumed=0");
  WAIT_UNTIL (a->packets >= 10, STREAM_TIMEOUT_MS);
  /* A packet on its way to the main loop when the desktop dies: it must
   * not reach a peer that heard the session failed. */
  wait_for_packet_in_flight (output);
  a->allowed = PEER_FAILED | PEER_CLOSED;
  expect_warning ("failed: fake: the compositor went away");
  fail_output (output, "fake: the compositor went away");
  g_assert_cmpstr (a->failed, ==, "fake: the compositor went away");
  g_assert_cmpint (fh_session_get_state (session), ==, FH_SESSION_STATE_FAILED);
  g_assert_null (fh_core_lookup_session (fx->core, id));
  g_assert_cmpuint (fh_core_count_sessions (fx->core), ==, 0);
  /* A FAILED session takes no input. */
  fh_session_inject (session, &key);
  ASSERT_LOG (fx, "A: failed: fake: the compositor went away");

  WAIT_UNTIL (a->closed, 5000);
  g_assert_cmpint (a->end_reason, ==, FH_END_REASON_FAILED);
  ASSERT_LOG (fx, "A: closed failed: fake: the compositor went away\noutput 1: destroy");
  g_assert_cmpint (g_atomic_int_get (&fx->outputs_live), ==, 0);
}

/* The encode thread's capture fails: the same way out. */
static void
test_capture_failed (Fixture *fx, gconstpointer data)
{
  FakePeer *a = fake_peer_new (fx, "A");
  FhSession *session = streaming_session (fx, a, "laptop");
  FakeOutput *output = output_of (session);

  ASSERT_LOG (fx, "output 1: start\nA: welcome resumed=0");
  /* Packets still in flight and a stats tick may come before the failure. */
  a->allowed = PEER_VIDEO | PEER_STATS | PEER_FAILED | PEER_CLOSED;
  expect_warning ("video pipeline failed: fake capture: the screen is gone");
  g_mutex_lock (&output->lock);
  output->fail_capture = TRUE;
  g_mutex_unlock (&output->lock);
  WAIT_UNTIL (a->closed, STREAM_TIMEOUT_MS);
  g_assert_cmpstr (a->failed, ==, "video pipeline failed: fake capture: the screen is gone");
  g_assert_cmpint (a->end_reason, ==, FH_END_REASON_FAILED);
  ASSERT_LOG (fx, "A: failed: video pipeline failed: fake capture: the screen is gone\n"
                  "A: closed failed: video pipeline failed: fake capture: the screen is gone\n"
                  "output 1: destroy");
  g_assert_cmpuint (fh_core_count_sessions (fx->core), ==, 0);
}

/* ---- 5: the desktop cannot be made ---- */

static void
test_create_failed (Fixture *fx, gconstpointer data)
{
  FakePeer *a = fake_peer_new (fx, "A");
  FhSession *session;
  g_autofree char *id = NULL;

  fx->create_fails = TRUE; /* no worker runs yet */
  session = create_session (fx, "laptop");
  id = g_strdup (fh_session_get_id (session));
  attach (session, a, FALSE);
  a->allowed = PEER_FAILED | PEER_CLOSED;
  expect_warning ("cannot start the desktop: fake backend: no desktop today");
  WAIT_UNTIL (a->closed, STREAM_TIMEOUT_MS);
  g_assert_cmpint (a->end_reason, ==, FH_END_REASON_FAILED);
  ASSERT_LOG (fx, "A: failed: cannot start the desktop: fake backend: no desktop today\n"
                  "A: closed failed: cannot start the desktop: fake backend: no desktop today");
  g_assert_null (fh_core_lookup_session (fx->core, id));
  g_assert_cmpuint (fh_core_count_sessions (fx->core), ==, 0);
  g_assert_cmpint (g_atomic_int_get (&fx->outputs_made), ==, 0);
  g_assert_cmpint (g_atomic_int_get (&fx->outputs_live), ==, 0);
}

/* Desktops that fail in a row make the host unhealthy (/healthz); one that
 * comes up makes it healthy again. The metrics count both. */
static void
test_health (Fixture *fx, gconstpointer data)
{
  g_autofree char *json = NULL, *text = NULL;
  gboolean healthy = FALSE;
  FakePeer *b = fake_peer_new (fx, "B");

  json = fh_core_render_health (fx->core, NULL, &healthy);
  g_assert_true (healthy);
  g_assert_nonnull (strstr (json, "\"status\":\"ok\""));
  g_assert_nonnull (strstr (json, "\"sessions\":null"));
  g_clear_pointer (&json, g_free);

  fx->create_fails = TRUE;
  for (guint i = 0; i < FH_METRICS_MAX_DESKTOP_FAILURES; i++) {
    g_autofree char *name = g_strdup_printf ("A%u", i);
    FakePeer *a = fake_peer_new (fx, name);
    FhSession *session = create_session (fx, "laptop");
    attach (session, a, FALSE);
    a->allowed = PEER_FAILED | PEER_CLOSED;
    expect_warning ("cannot start the desktop: fake backend: no desktop today");
    WAIT_UNTIL (a->closed, STREAM_TIMEOUT_MS);
    g_ptr_array_set_size (fx->log, 0);
  }
  json = fh_core_render_health (fx->core, NULL, &healthy);
  g_assert_false (healthy);
  g_assert_nonnull (strstr (json, "\"status\":\"unhealthy\""));
  g_assert_nonnull (strstr (json, "the last 3 session desktops (fake) failed to start"));
  g_clear_pointer (&json, g_free);
  text = fh_core_render_metrics (fx->core);
  g_assert_nonnull (strstr (text, "funkhaus_desktop_starts_total{result=\"failed\"} 3\n"));
  g_clear_pointer (&text, g_free);

  fx->create_fails = FALSE;
  streaming_session (fx, b, "laptop");
  json = fh_core_render_health (fx->core, NULL, &healthy);
  g_assert_true (healthy);
  text = fh_core_render_metrics (fx->core);
  g_assert_nonnull (strstr (text, "funkhaus_sessions{state=\"streaming\",backend=\"fake\",plane=\"\"} 1\n"));
  g_assert_nonnull (strstr (text, "funkhaus_clients{plane=\"\"} 1\n"));
}

/* ---- 6: the host stops ---- */

static void
test_stop (Fixture *fx, gconstpointer data)
{
  FakePeer *a = fake_peer_new (fx, "A");
  FhSession *session = streaming_session (fx, a, "laptop");
  g_autofree char *id = g_strdup (fh_session_get_id (session));

  ASSERT_LOG (fx, "output 1: start\nA: welcome resumed=0");
  for (guint i = 0; i < G_N_ELEMENTS (fx->planes); i++)
    fx->planes[i]->allowed = PLANE_CLOSE_CLIENTS | PLANE_STOP;
  a->allowed = PEER_CLOSED;
  fh_core_stop (fx->core);
  /* Clients first (each plane in turn), then the sessions, then the ports
   * in reverse order. */
  ASSERT_LOG (fx, "P1: close-clients\n"
                  "P2: close-clients\n"
                  "A: closed host-stopping: the host is stopping\n"
                  "output 1: destroy\n"
                  "P2: stop\n"
                  "P1: stop");
  g_assert_cmpint (a->end_reason, ==, FH_END_REASON_HOST_STOPPING);
  g_assert_null (fh_core_lookup_session (fx->core, id));
  g_assert_cmpuint (fh_core_count_sessions (fx->core), ==, 0);
  g_assert_cmpint (g_atomic_int_get (&fx->outputs_live), ==, 0);

  /* Twice is harmless: nobody is called again. */
  for (guint i = 0; i < G_N_ELEMENTS (fx->planes); i++)
    fx->planes[i]->allowed = 0;
  fh_core_stop (fx->core);
  run_for (100);
  ASSERT_LOG (fx, "");
}

/* The host stops while a desktop is still being made: stop waits for the
 * worker, and what it made is torn down. */
static void
test_stop_while_starting (Fixture *fx, gconstpointer data)
{
  FakePeer *a = fake_peer_new (fx, "A");
  FhSession *session;

  hold_creation (fx, TRUE);
  session = create_session (fx, "laptop");
  attach (session, a, FALSE);
  a->allowed = PEER_CLOSED;
  for (guint i = 0; i < G_N_ELEMENTS (fx->planes); i++)
    fx->planes[i]->allowed = PLANE_CLOSE_CLIENTS | PLANE_STOP;
  /* Released from the main loop that stop() turns while it waits. */
  g_timeout_add (100, release_creation, fx);
  fh_core_stop (fx->core);
  g_assert_cmpint (g_atomic_int_get (&fx->outputs_made), ==, 1);
  g_assert_cmpint (g_atomic_int_get (&fx->outputs_live), ==, 0);
  ASSERT_LOG (fx, "P1: close-clients\n"
                  "P2: close-clients\n"
                  "A: closed host-stopping: the host is stopping\n"
                  "output 1: destroy\n"
                  "P2: stop\n"
                  "P1: stop");
  g_assert_cmpuint (fh_core_count_sessions (fx->core), ==, 0);
}

/* main.c stops the host after g_main_loop_run () returned, so nobody owns
 * the main context while the planes close their clients (the web plane
 * gives its close frames a moment there) and the sessions still stream.
 * A peer is still called on the main thread only. */
static void
test_stop_after_the_loop (Fixture *fx, gconstpointer data)
{
  FakePeer *a = fake_peer_new (fx, "A");
  FhSession *session = streaming_session (fx, a, "laptop");

  ASSERT_LOG (fx, "output 1: start\nA: welcome resumed=0");
  fx->planes[0]->close_waits_for = output_of (session);
  for (guint i = 0; i < G_N_ELEMENTS (fx->planes); i++)
    fx->planes[i]->allowed = PLANE_CLOSE_CLIENTS | PLANE_STOP;
  a->allowed = PEER_VIDEO | PEER_STATS | PEER_CLOSED;
  g_main_context_release (NULL);
  fh_core_stop (fx->core);
  g_assert_true (g_main_context_acquire (NULL));
  ASSERT_LOG (fx, "P1: close-clients\n"
                  "P2: close-clients\n"
                  "A: closed host-stopping: the host is stopping\n"
                  "output 1: destroy\n"
                  "P2: stop\n"
                  "P1: stop");
}

/* ---- 7: a device is revoked ---- */

static void
pair (Fixture *fx, const char *name, const char *address, char **id, char **token)
{
  FhDeviceStore *devices = fh_core_get_devices (fx->core);
  g_autofree char *pin = g_strdup (fh_device_store_new_pin (devices));
  g_autoptr (GError) error = NULL;

  g_assert_true (fh_device_store_pair (devices, pin, name, address, id, token, NULL, &error));
  g_assert_no_error (error);
}

static void
test_revoke (Fixture *fx, gconstpointer data)
{
  FhDeviceStore *devices = fh_core_get_devices (fx->core);
  g_autofree char *id_a = NULL, *token_a = NULL, *id_b = NULL, *token_b = NULL;
  g_autofree char *session_a = NULL, *expected = NULL;
  FakePeer *a = fake_peer_new (fx, "A"), *b = fake_peer_new (fx, "B");
  g_autoptr (GError) error = NULL;
  FhSession *sb;
  guint b_packets;

  pair (fx, "laptop", "192.0.2.1", &id_a, &token_a);
  pair (fx, "phone", "192.0.2.2", &id_b, &token_b);
  g_assert_cmpstr (id_a, !=, id_b);
  session_a = g_strdup (fh_session_get_id (streaming_session (fx, a, id_a)));
  sb = streaming_session (fx, b, id_b);
  g_assert_cmpuint (fh_core_count_sessions (fx->core), ==, 2);
  g_ptr_array_set_size (fx->log, 0);

  for (guint i = 0; i < G_N_ELEMENTS (fx->planes); i++)
    fx->planes[i]->allowed = PLANE_DEVICE_REVOKED;
  a->allowed |= PEER_CLOSED; /* its video may still come until it is closed */
  g_assert_cmpint (fh_core_revoke_device (fx->core, id_a, &error), ==, 1);
  g_assert_no_error (error);
  /* Every plane hears of it before the call returns; the session is out of
   * the registry at once. */
  expected = g_strdup_printf ("P1: device-revoked %s\nP2: device-revoked %s", id_a, id_a);
  ASSERT_LOG (fx, expected);
  g_assert_null (fh_core_lookup_session (fx->core, session_a));
  g_assert_true (fh_core_lookup_session (fx->core, fh_session_get_id (sb)) == sb);
  g_assert_cmpuint (fh_core_count_sessions (fx->core), ==, 1);
  g_assert_false (fh_device_store_check (devices, id_a, token_a));
  g_assert_true (fh_device_store_check (devices, id_b, token_b));

  WAIT_UNTIL (a->closed, 5000);
  g_assert_cmpint (a->end_reason, ==, FH_END_REASON_REVOKED);
  ASSERT_LOG (fx, "A: closed revoked: this device was revoked on the host\noutput 1: destroy");

  /* The other device streams on. */
  b_packets = b->packets;
  WAIT_UNTIL (b->packets >= b_packets + 10, STREAM_TIMEOUT_MS);
  g_assert_cmpint (fh_session_get_state (sb), ==, FH_SESSION_STATE_STREAMING);
  g_assert_false (b->closed);

  /* Gone is gone: a second revoke is an error and nobody is told. */
  for (guint i = 0; i < G_N_ELEMENTS (fx->planes); i++)
    fx->planes[i]->allowed = 0;
  g_assert_cmpint (fh_core_revoke_device (fx->core, id_a, &error), ==, -1);
  g_assert_error (error, FH_DEVICE_STORE_ERROR, FH_DEVICE_STORE_ERROR_UNKNOWN_DEVICE);
  ASSERT_LOG (fx, "");
  g_assert_cmpuint (fh_core_count_sessions (fx->core), ==, 1);
}

/* The host's owner ends one session: its peer hears why, the other
 * streams on, the device stays paired; an id that names nothing is an
 * error and changes nothing. */
static void
test_end_session (Fixture *fx, gconstpointer data)
{
  g_autofree char *id_a = NULL, *token_a = NULL, *id_b = NULL, *token_b = NULL;
  g_autofree char *session_a = NULL;
  FakePeer *a = fake_peer_new (fx, "A"), *b = fake_peer_new (fx, "B");
  g_autoptr (GError) error = NULL;
  FhSession *sb;
  guint b_packets;

  pair (fx, "laptop", "192.0.2.1", &id_a, &token_a);
  pair (fx, "phone", "192.0.2.2", &id_b, &token_b);
  session_a = g_strdup (fh_session_get_id (streaming_session (fx, a, id_a)));
  sb = streaming_session (fx, b, id_b);
  g_ptr_array_set_size (fx->log, 0);
  g_assert_cmpuint (fh_core_count_encoders (fx->core), ==, 2);

  a->allowed |= PEER_CLOSED;
  g_assert_true (fh_core_end_session (fx->core, session_a, &error));
  g_assert_no_error (error);
  g_assert_null (fh_core_lookup_session (fx->core, session_a));
  g_assert_cmpuint (fh_core_count_sessions (fx->core), ==, 1);
  WAIT_UNTIL (a->closed, 5000);
  g_assert_cmpint (a->end_reason, ==, FH_END_REASON_ENDED);
  ASSERT_LOG (fx, "A: closed ended: ended by the host's owner\noutput 1: destroy");
  /* Its encoder no longer counts in the next one's share of the cores. */
  g_assert_cmpuint (fh_core_count_encoders (fx->core), ==, 1);
  g_assert_true (fh_device_store_check (fh_core_get_devices (fx->core), id_a, token_a));

  b_packets = b->packets;
  WAIT_UNTIL (b->packets >= b_packets + 10, STREAM_TIMEOUT_MS);
  g_assert_cmpint (fh_session_get_state (sb), ==, FH_SESSION_STATE_STREAMING);

  g_assert_false (fh_core_end_session (fx->core, session_a, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND);
  g_assert_cmpuint (fh_core_count_sessions (fx->core), ==, 1);
}

/* The owner right is stored with the device, read back on every look-up
 * (a fresh store of the same file too), and every plane hears a change. */
static void
test_owner (Fixture *fx, gconstpointer data)
{
  FhDeviceStore *devices = fh_core_get_devices (fx->core);
  g_autofree char *id = NULL, *token = NULL, *expected = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (FhDeviceStore) reread = NULL;
  g_autoptr (GPtrArray) list = NULL;

  pair (fx, "laptop", "192.0.2.1", &id, &token);
  g_assert_false (fh_device_store_get_owner (devices, id));
  g_assert_false (fh_device_store_get_owner (devices, "nobody"));

  for (guint i = 0; i < G_N_ELEMENTS (fx->planes); i++)
    fx->planes[i]->allowed = PLANE_DEVICE_OWNER;
  g_assert_true (fh_core_set_device_owner (fx->core, id, TRUE, &error));
  g_assert_no_error (error);
  expected = g_strdup_printf ("P1: device-owner %s on\nP2: device-owner %s on", id, id);
  ASSERT_LOG (fx, expected);
  g_assert_true (fh_device_store_get_owner (devices, id));
  list = fh_device_store_list (devices);
  g_assert_cmpuint (list->len, ==, 1);
  g_assert_true (((FhDevice *) list->pdata[0])->owner);
  reread = fh_device_store_new (fx->config_dir, &error);
  g_assert_no_error (error);
  g_assert_true (fh_device_store_get_owner (reread, id));

  g_assert_true (fh_core_set_device_owner (fx->core, id, FALSE, &error));
  g_clear_pointer (&expected, g_free);
  expected = g_strdup_printf ("P1: device-owner %s off\nP2: device-owner %s off", id, id);
  ASSERT_LOG (fx, expected);
  g_assert_false (fh_device_store_get_owner (devices, id));

  /* Nobody to give it to: an error, and no plane hears anything. */
  for (guint i = 0; i < G_N_ELEMENTS (fx->planes); i++)
    fx->planes[i]->allowed = 0;
  g_assert_false (fh_core_set_device_owner (fx->core, "nobody", TRUE, &error));
  g_assert_error (error, FH_DEVICE_STORE_ERROR, FH_DEVICE_STORE_ERROR_UNKNOWN_DEVICE);
  ASSERT_LOG (fx, "");
}

/* ---- 8: input ---- */

static void
test_input (Fixture *fx, gconstpointer data)
{
  FakePeer *a = fake_peer_new (fx, "A"), *b = fake_peer_new (fx, "B");
  g_autofree char *id = NULL, *token = NULL;
  FhSession *session;
  FhInputEvent key = { .type = FH_INPUT_KEY, .key = { 30, TRUE } };
  FhInputEvent unknown_key = { .type = FH_INPUT_KEY, .key = { 0, TRUE } };
  FhInputEvent inside = { .type = FH_INPUT_POINTER_MOTION, .motion = { 10, 20 } };
  FhInputEvent beyond = { .type = FH_INPUT_POINTER_MOTION, .motion = { 1000, 64 } };
  FhInputEvent button = { .type = FH_INPUT_POINTER_BUTTON, .button = { 0x110, FALSE } };
  FhInputEvent scroll = { .type = FH_INPUT_SCROLL, .scroll = { 0, -120 } };
  FhInputEvent relative = { .type = FH_INPUT_POINTER_RELATIVE, .relative = { -500, 700 } };

  /* A paired device (full, the default level). */
  pair (fx, "laptop", "192.0.2.1", &id, &token);
  session = create_session (fx, id);
  /* STARTING: nowhere to go yet. */
  fh_session_inject (session, &key);
  attach (session, a, FALSE);
  WAIT_UNTIL (a->welcomes > 0, STREAM_TIMEOUT_MS);
  ASSERT_LOG (fx, "output 1: start\nA: welcome resumed=0");

  fh_session_inject (session, &key);
  fh_session_inject (session, &unknown_key); /* dropped: this host does not know it */
  fh_session_inject (session, &inside);
  fh_session_inject (session, &beyond);
  fh_session_inject (session, &button);
  fh_session_inject (session, &scroll);
  fh_session_inject (session, &relative); /* relative: not clamped */
  ASSERT_LOG (fx, "output 1: key 30 KEY_A down\n"
                  "output 1: motion 10 20\n"
                  "output 1: motion 63 63\n"
                  "output 1: button 272 BTN_LEFT up\n"
                  "output 1: scroll 0 -120\n"
                  "output 1: relative -500 700");
  /* The caller's event is not changed by the clamp. */
  g_assert_cmpuint (beyond.motion.x, ==, 1000);

  /* DISCONNECTED: dropped; back to STREAMING: delivered again. */
  detach (session, a);
  fh_session_inject (session, &key);
  fh_session_inject (session, &beyond);
  ASSERT_LOG (fx, "");
  attach (session, b, TRUE);
  fh_session_inject (session, &beyond);
  ASSERT_LOG (fx, "B: welcome resumed=1\noutput 1: motion 63 63");
}

/* ---- 8b: access levels ---- */

static void
test_access (Fixture *fx, gconstpointer data)
{
  FakePeer *a = fake_peer_new (fx, "A"), *u = fake_peer_new (fx, "U");
  g_autofree char *id = NULL, *token = NULL;
  FhInputEvent key = { .type = FH_INPUT_KEY, .key = { 30, TRUE } };
  FhInputEvent scroll = { .type = FH_INPUT_SCROLL, .scroll = { 0, -120 } };
  FhPadState pad = { 0 };
  FhAccess access = { FH_ACCESS_CONTROLLER, 0 };
  const FhSessionCounters *counters;
  FhSession *session, *unknown;
  g_autoptr (GError) error = NULL;

  pair (fx, "laptop", "192.0.2.1", &id, &token);
  session = streaming_session (fx, a, id);
  counters = fh_session_get_counters (session);
  g_assert_cmpint (fh_session_get_access_level (session), ==, FH_ACCESS_FULL);
  g_ptr_array_set_size (fx->log, 0);
  fh_session_inject (session, &key);
  ASSERT_LOG (fx, "output 1: key 30 KEY_A down");

  /* Controller: keys and the mouse stop at once, pads get past the level
   * (this session has no seat for them, which is another refusal). */
  a->allowed |= PEER_ACCESS;
  g_assert_cmpint (fh_core_set_device_access (fx->core, id, &access, &error), ==, 1);
  g_assert_no_error (error);
  /* The key A holds down is let go first: nothing stays pressed. */
  ASSERT_LOG (fx, "output 1: key 30 KEY_A up\nA: access controller");
  fh_session_inject (session, &key);
  fh_session_inject (session, &scroll);
  ASSERT_LOG (fx, "");
  g_assert_cmpuint (counters->input_refused, ==, 2);
  g_assert_false (fh_session_pad_connect (session, a, 0, FH_PAD_KIND_XBOX360));
  g_assert_cmpuint (counters->input_refused, ==, 2);

  /* View: pads too. */
  access.level = FH_ACCESS_VIEW;
  g_assert_cmpint (fh_core_set_device_access (fx->core, id, &access, &error), ==, 1);
  ASSERT_LOG (fx, "A: access view");
  fh_session_pad_update (session, a, 1, &pad);
  fh_session_inject (session, &key);
  g_assert_cmpuint (counters->input_refused, ==, 4);
  ASSERT_LOG (fx, "");

  /* Full for a second or two: input again at once, then the expiry ends it
   * (the peer hears of it), and the next key is refused. */
  access = (FhAccess) { FH_ACCESS_FULL, g_get_real_time () / G_USEC_PER_SEC + 2 };
  g_assert_cmpint (fh_core_set_device_access (fx->core, id, &access, &error), ==, 1);
  ASSERT_LOG (fx, "A: access full until");
  fh_session_inject (session, &key);
  ASSERT_LOG (fx, "output 1: key 30 KEY_A down");
  WAIT_UNTIL (a->accesses == 4, 4000);
  ASSERT_LOG (fx, "output 1: key 30 KEY_A up\nA: access view");
  g_assert_cmpint (fh_session_get_access_level (session), ==, FH_ACCESS_VIEW);
  fh_session_inject (session, &key);
  ASSERT_LOG (fx, "");
  g_assert_cmpuint (counters->input_refused, ==, 5);
  g_assert_cmpuint (counters->input_events, ==, 2); /* the two keys at full */

  /* Stored with the device. */
  g_assert_true (fh_device_store_get_access (fh_core_get_devices (fx->core), id, &access));
  g_assert_cmpint (access.level, ==, FH_ACCESS_FULL);
  g_assert_cmpint (access.until, >, 0);
  /* An unknown device is refused a level, and one the store does not know
   * may only view. */
  g_assert_cmpint (fh_core_set_device_access (fx->core, "nobody", &access, &error), ==, -1);
  g_assert_error (error, FH_DEVICE_STORE_ERROR, FH_DEVICE_STORE_ERROR_UNKNOWN_DEVICE);
  unknown = streaming_session (fx, u, "stranger");
  g_assert_cmpint (fh_session_get_access_level (unknown), ==, FH_ACCESS_VIEW);
  g_ptr_array_set_size (fx->log, 0);
  fh_session_inject (unknown, &key);
  ASSERT_LOG (fx, "");
  g_assert_cmpuint (fh_session_get_counters (unknown)->input_refused, ==, 1);
}

/* ---- 8d: frames on the stream's thread ---- */

static gboolean
tick (gpointer data)
{
  return G_SOURCE_CONTINUE;
}

/* A peer that can send from the stream's thread gets its keyframe through
 * the main loop, then its frames there, in order, counted by the session
 * as any other; a guest takes the frames back to the main loop for both;
 * and none comes to the peer there once it left. */
static void
test_direct (Fixture *fx, gconstpointer data)
{
  FakePeer *a = fake_peer_new (fx, "A"), *g = fake_peer_new (fx, "G");
  g_autofree char *id_a = NULL, *token_a = NULL, *id_g = NULL, *token_g = NULL;
  /* Frames that go on the stream's thread wake the main loop no more. */
  guint ticker = g_timeout_add (10, tick, NULL);
  FhSession *session;
  guint main_packets, guest;
  gint direct;
  guint64 sent;
  g_autoptr (GError) error = NULL;

  /* peer_ops, and it can send from the stream's thread, as the web
   * plane's peer. */
  static FhSessionPeerOps direct_peer_ops;

  direct_peer_ops = peer_ops;
  direct_peer_ops.video_direct = peer_video_direct;
  pair (fx, "laptop", "192.0.2.1", &id_a, &token_a);
  pair (fx, "guest", "192.0.2.2", &id_g, &token_g);
  a->ops = &direct_peer_ops;
  g_atomic_int_set (&a->direct_allowed, TRUE);
  session = streaming_session (fx, a, id_a);
  WAIT_UNTIL (g_atomic_int_get (&a->direct_packets) >= 20, STREAM_TIMEOUT_MS);
  g_assert_true (a->first_was_keyframe);
  g_assert_cmpuint (a->packets - g_atomic_int_get (&a->direct_packets), >=, 1);

  /* Counted as sent, and in its stats, as frames through the main loop
   * are: at most the one on its way between the two. */
  direct = g_atomic_int_get ((gint *) &a->packets);
  sent = fh_session_get_counters (session)->frames_sent;
  g_assert_cmpuint (sent, <=, (guint) g_atomic_int_get ((gint *) &a->packets));
  g_assert_cmpuint (sent + 1, >=, (guint) direct);
  WAIT_UNTIL (a->stats >= 2, 3 * STREAM_TIMEOUT_MS / 2);
  g_assert_cmpfloat (a->stats_seen[1].fps, >, MODE_REFRESH / 2);

  /* A guest joins: from then on every frame goes through the main loop,
   * to both. */
  g->guest = TRUE;
  g->allowed = PEER_STREAM;
  a->allowed |= PEER_GUESTS | PEER_ACCESS;
  guest = fh_session_add_guest (session, &peer_ops, g, id_g, FH_ACCESS_VIEW, &error);
  g_assert_no_error (error);
  g_atomic_int_set (&a->direct_allowed, FALSE);
  main_packets = a->packets;
  WAIT_UNTIL (g->packets >= 5 && a->packets >= main_packets + 5, STREAM_TIMEOUT_MS);

  /* It leaves: A's frames go on its thread again. */
  g_atomic_int_set (&a->direct_allowed, TRUE);
  direct = g_atomic_int_get (&a->direct_packets);
  g->allowed |= PEER_CLOSED;
  g_assert_true (fh_session_remove_guest (session, guest, "bye"));
  WAIT_UNTIL (g_atomic_int_get (&a->direct_packets) >= direct + 5, STREAM_TIMEOUT_MS);

  /* A leaves: not one frame more, on either way. */
  detach (session, a);
  g_atomic_int_set (&a->direct_allowed, FALSE);
  run_for (300);
  g_source_remove (ticker);
}

/* ---- 8c: guests ---- */

static void
test_guests (Fixture *fx, gconstpointer data)
{
  FakePeer *a = fake_peer_new (fx, "A"), *g = fake_peer_new (fx, "G"), *h = fake_peer_new (fx, "H");
  g_autofree char *id_a = NULL, *token_a = NULL, *id_g = NULL, *token_g = NULL;
  g_autofree char *id_h = NULL, *token_h = NULL;
  FhInputEvent key = { .type = FH_INPUT_KEY, .key = { 30, TRUE } };
  FhAccess view = { FH_ACCESS_VIEW, 0 };
  FhSession *session;
  const char *code;
  guint guest, packets, other;
  g_autoptr (GError) error = NULL;

  pair (fx, "laptop", "192.0.2.1", &id_a, &token_a);
  pair (fx, "guest", "192.0.2.2", &id_g, &token_g);
  pair (fx, "third", "192.0.2.3", &id_h, &token_h);
  session = streaming_session (fx, a, id_a);
  code = fh_session_get_join_code (session);
  g_assert_nonnull (code);
  g_assert_cmpuint (strlen (code), ==, 6);
  g_assert_true (fh_core_lookup_session_by_join_code (fx->core, code) == session);
  g_assert_null (fh_core_lookup_session_by_join_code (fx->core, "x"));

  /* The session's own device is no guest of it. */
  g_assert_cmpuint (fh_session_add_guest (session, &peer_ops, g, id_a, FH_ACCESS_FULL, &error), ==, 0);
  g_assert_error (error, FH_SESSION_ERROR, FH_SESSION_ERROR_UNAVAILABLE);
  g_clear_error (&error);

  /* G joins at controller: its welcome, then frames from a keyframe on;
   * A hears of it. */
  g_ptr_array_set_size (fx->log, 0);
  g->guest = TRUE;
  g->allowed = PEER_STREAM;
  a->allowed |= PEER_GUESTS | PEER_ACCESS;
  guest = fh_session_add_guest (session, &peer_ops, g, id_g, FH_ACCESS_CONTROLLER, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (guest, ==, 1);
  g_assert_true (fh_session_is_guest (session, g));
  g_assert_false (fh_session_is_guest (session, a));
  g_autofree char *want = g_strdup_printf ("G: welcome resumed=0\nA: guests 1:%s:controller", id_g);
  ASSERT_LOG (fx, want);
  WAIT_UNTIL (g->packets >= 3, STREAM_TIMEOUT_MS);
  g_assert_true (g->first_was_keyframe);

  /* Its keys are judged by its level; A's are not. */
  fh_session_inject_from (session, g, &key);
  g_assert_cmpuint (fh_session_get_counters (session)->input_refused, ==, 1);
  ASSERT_LOG (fx, "");
  fh_session_inject_from (session, h, &key); /* a stranger: dropped, not counted */
  g_assert_cmpuint (fh_session_get_counters (session)->input_refused, ==, 1);
  ASSERT_LOG (fx, "");
  g->allowed |= PEER_ACCESS;
  g_assert_true (fh_session_set_guest_level (session, guest, FH_ACCESS_FULL));
  g_free (want);
  want = g_strdup_printf ("A: guests 1:%s:full\nG: access full", id_g);
  ASSERT_LOG (fx, want);
  fh_session_inject_from (session, g, &key);
  ASSERT_LOG (fx, "output 1: key 30 KEY_A down");
  g_assert_cmpint (fh_session_get_peer_level (session, g, NULL), ==, FH_ACCESS_FULL);

  /* Its own device's level caps what it is granted, at once: the key it
   * holds is let go. */
  g_assert_cmpint (fh_core_set_device_access (fx->core, id_g, &view, &error), ==, 0);
  g_assert_no_error (error);
  g_free (want);
  want = g_strdup_printf ("output 1: key 30 KEY_A up\nA: guests 1:%s:view\nG: access view", id_g);
  ASSERT_LOG (fx, want);
  fh_session_inject_from (session, g, &key);
  ASSERT_LOG (fx, "");

  /* A leaves: the session waits for it and streams on for its guest. */
  detach (session, a);
  g_assert_cmpint (fh_session_get_state (session), ==, FH_SESSION_STATE_DISCONNECTED);
  packets = g->packets;
  WAIT_UNTIL (g->packets >= packets + 3, STREAM_TIMEOUT_MS);
  /* Back: it hears of its guest after its welcome. */
  a->allowed = PEER_STREAM | PEER_GUESTS;
  fh_session_attach_peer (session, &peer_ops, a, TRUE);
  WAIT_UNTIL (a->welcomes == 2, STREAM_TIMEOUT_MS);
  g_free (want);
  want = g_strdup_printf ("A: welcome resumed=1\nA: guests 1:%s:view", id_g);
  ASSERT_LOG (fx, want);

  /* A second guest; A removes the first, which is closed as removed; the
   * second leaves by itself (no closed for it). */
  h->guest = TRUE;
  h->allowed = PEER_STREAM;
  other = fh_session_add_guest (session, &peer_ops, h, id_h, FH_ACCESS_VIEW, &error);
  g_assert_cmpuint (other, ==, 2);
  g->allowed |= PEER_CLOSED;
  g_assert_true (fh_session_remove_guest (session, guest, "bye"));
  g_assert_true (g->closed);
  g_assert_cmpint (g->end_reason, ==, FH_END_REASON_REMOVED);
  g_assert_false (fh_session_remove_guest (session, guest, "again"));
  g_assert_cmpuint (fh_session_count_guests (session), ==, 1);
  h->allowed = 0;
  fh_session_detach_peer (session, h);
  g_assert_cmpuint (fh_session_count_guests (session), ==, 0);
  g_assert_cmpint (fh_session_get_state (session), ==, FH_SESSION_STATE_STREAMING);

  /* Revoking a guest's device takes its seat; ending the session closes
   * the guests with it. */
  g->closed = FALSE;
  g->allowed = PEER_STREAM | PEER_CLOSED;
  g->welcomes = g->packets = 0;
  g_assert_cmpuint (fh_session_add_guest (session, &peer_ops, g, id_g, FH_ACCESS_FULL, &error), ==, 3);
  h->closed = FALSE;
  h->allowed = PEER_STREAM | PEER_CLOSED;
  h->welcomes = h->packets = 0;
  g_assert_cmpuint (fh_session_add_guest (session, &peer_ops, h, id_h, FH_ACCESS_FULL, &error), ==, 4);
  for (guint i = 0; i < G_N_ELEMENTS (fx->planes); i++)
    fx->planes[i]->allowed |= PLANE_DEVICE_REVOKED;
  g_assert_cmpint (fh_core_revoke_device (fx->core, id_g, &error), ==, 0);
  g_assert_true (g->closed);
  g_assert_cmpint (g->end_reason, ==, FH_END_REASON_REVOKED);
  g_assert_false (h->closed);
  a->allowed |= PEER_CLOSED;
  fh_session_stop (session, FH_END_REASON_CANCELLED, "done");
  g_assert_true (h->closed);
  g_assert_cmpint (h->end_reason, ==, FH_END_REASON_CANCELLED);
  g_assert_true (a->closed);
}

/* ---- 9: what a session refuses ---- */

static void
test_refusals (Fixture *fx, gconstpointer data)
{
  FakePeer *a = fake_peer_new (fx, "A"), *stranger = fake_peer_new (fx, "S");
  FhSession *session = streaming_session (fx, a, "laptop");
  static const guint8 opus[] = { 0xf8, 0xff, 0xfe }; /* a silent Opus frame */
  FhSessionRequest shared = {
    .device = "laptop",
    .mode = { MODE_WIDTH, MODE_HEIGHT, MODE_REFRESH },
    .codec = FH_CODEC_H264,
    .shared = TRUE,
  };
  g_autoptr (GError) error = NULL;

  /* Microphone audio from a peer that did not ask to send it. */
  g_assert_false (fh_session_feed_mic (session, a, opus, sizeof opus, &error));
  g_assert_error (error, FH_SESSION_ERROR, FH_SESSION_ERROR_NOT_ASKED);
  g_clear_error (&error);
  g_assert_false (fh_session_feed_mic (session, stranger, opus, sizeof opus, &error));
  g_assert_error (error, FH_SESSION_ERROR, FH_SESSION_ERROR_NOT_ASKED);
  g_clear_error (&error);
  /* … and it cannot ask: audio=off, no microphone; nor can a stranger. */
  g_assert_false (fh_session_enable_mic (session, a, &error));
  g_assert_error (error, FH_SESSION_ERROR, FH_SESSION_ERROR_UNAVAILABLE);
  g_clear_error (&error);
  g_assert_false (fh_session_enable_mic (session, stranger, &error));
  g_assert_error (error, FH_SESSION_ERROR, FH_SESSION_ERROR_NOT_ASKED);
  g_clear_error (&error);
  g_assert_false (fh_session_takes_mic (session));
  g_assert_null (fh_session_get_audio_target (session, TRUE));

  /* A view of the shared desktop on a host without one. */
  g_assert_null (fh_core_create_session (fx->core, &shared, &error));
  g_assert_error (error, FH_SESSION_ERROR, FH_SESSION_ERROR_UNAVAILABLE);
  g_assert_null (fh_core_get_shared_desktop (fx->core));
  g_assert_false (fh_core_shared_desktop_open_to_all (fx->core));
  g_assert_cmpuint (fh_core_count_sessions (fx->core), ==, 1);
  run_for (100);
  g_assert_cmpint (g_atomic_int_get (&fx->outputs_made), ==, 1);
  g_assert_cmpint (fh_session_get_state (session), ==, FH_SESSION_STATE_STREAMING);
  ASSERT_LOG (fx, "output 1: start\nA: welcome resumed=0");
}

/* ---- 10: prompts ---- */

static void
on_prompt (FhPrompt *prompt, FhPromptState state, const char *detail, gpointer data)
{
  Fixture *fx = data;

  log_call (fx, "observer: %s %s %s%s%s", fh_prompt_get_kind (prompt) == FH_PROMPT_PIN ? "pin" : "join",
            fh_prompt_get_who (prompt), fh_prompt_state_to_string (state), detail ? ": " : "",
            detail ? detail : "");
}

typedef struct {
  Fixture *fx;
  gboolean fail; /* refuse to carry the answer out */
  gboolean end;  /* end the prompt from inside the answer (a join) */
} Answerer;

static gboolean
answer (FhPrompt *prompt, gboolean approve, const char *value, gpointer data, GError **error)
{
  Answerer *answerer = data;

  log_call (answerer->fx, "answer: %s %s %s", fh_prompt_get_who (prompt),
            approve ? "approve" : "deny", value ? value : "-");
  if (answerer->fail) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "that PIN has five digits");
    return FALSE;
  }
  if (answerer->end)
    fh_prompt_end (prompt, approve ? FH_PROMPT_DONE : FH_PROMPT_REFUSED,
                   approve ? "let in" : NULL);
  return TRUE;
}

static void
test_prompt_pin (Fixture *fx, gconstpointer data)
{
  FhPrompts *prompts = fh_core_get_prompts (fx->core);
  Answerer answerer = { fx };
  g_autoptr (GError) error = NULL;
  g_autofree char *who = NULL, *id = NULL;
  guint observer = fh_prompts_add_observer (prompts, on_prompt, fx);
  FhPrompt *prompt;

  /* Nothing on the host posts PINs yet. */
  g_assert_false (fh_prompts_has_poster (prompts, FH_PROMPT_PIN));
  g_assert_false (fh_prompts_answer_waiting (prompts, FH_PROMPT_PIN, TRUE, "1234", &who, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED);
  g_clear_error (&error);

  fh_prompts_add_poster (prompts, FH_PROMPT_PIN, "no Moonlight client is waiting for a PIN");
  g_assert_true (fh_prompts_has_poster (prompts, FH_PROMPT_PIN));
  g_assert_false (fh_prompts_answer_waiting (prompts, FH_PROMPT_PIN, TRUE, "1234", &who, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND);
  g_assert_cmpstr (error->message, ==, "no Moonlight client is waiting for a PIN");
  g_clear_error (&error);
  g_assert_null (who);

  prompt = fh_prompts_post (prompts, FH_PROMPT_PIN, "Deck", "192.0.2.7", 60, answer, &answerer);
  ASSERT_LOG (fx, "observer: pin Deck waiting");
  id = g_strdup (fh_prompt_get_id (prompt));
  g_assert_cmpuint (strlen (id), ==, 6);
  g_assert_cmpint (fh_prompt_get_kind (prompt), ==, FH_PROMPT_PIN);
  g_assert_cmpstr (fh_prompt_get_from (prompt), ==, "192.0.2.7");
  g_assert_cmpuint (fh_prompt_get_timeout (prompt), ==, 60);
  g_assert_cmpint (fh_prompt_get_state (prompt), ==, FH_PROMPT_WAITING);
  g_assert_true (fh_prompts_find_waiting (prompts, FH_PROMPT_PIN) == prompt);
  g_assert_null (fh_prompts_find_waiting (prompts, FH_PROMPT_JOIN));
  g_assert_true (fh_prompts_lookup (prompts, id) == prompt);

  /* An answer the poster cannot carry out: the prompt stays as it was. */
  answerer.fail = TRUE;
  g_assert_false (fh_prompts_answer_waiting (prompts, FH_PROMPT_PIN, TRUE, "12345", &who, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA);
  g_clear_error (&error);
  g_assert_null (who);
  g_assert_cmpint (fh_prompt_get_state (prompt), ==, FH_PROMPT_WAITING);
  ASSERT_LOG (fx, "answer: Deck approve 12345");

  answerer.fail = FALSE;
  g_assert_true (fh_prompts_answer_waiting (prompts, FH_PROMPT_PIN, TRUE, "1234", &who, &error));
  g_assert_no_error (error);
  g_assert_cmpstr (who, ==, "Deck");
  /* The answer is carried out, then the observers hear of it. */
  ASSERT_LOG (fx, "answer: Deck approve 1234\nobserver: pin Deck answered");
  g_assert_cmpint (fh_prompt_get_state (prompt), ==, FH_PROMPT_ANSWERED);
  /* ANSWERED is not waiting: another answer finds none. */
  g_assert_null (fh_prompts_find_waiting (prompts, FH_PROMPT_PIN));
  g_assert_false (fh_prompts_answer_waiting (prompts, FH_PROMPT_PIN, TRUE, "1234", NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND);
  g_assert_cmpstr (error->message, ==, "no Moonlight client is waiting for a PIN");
  g_clear_error (&error);
  g_assert_true (fh_prompts_lookup (prompts, id) == prompt);

  /* The poster says how it went; then it is gone. */
  fh_prompt_end (prompt, FH_PROMPT_DONE, "device 0123abcd");
  ASSERT_LOG (fx, "observer: pin Deck done: device 0123abcd");
  g_assert_null (fh_prompts_lookup (prompts, id));

  /* A removed observer hears nothing; a removed poster means unsupported. */
  fh_prompts_remove_observer (prompts, observer);
  prompt = fh_prompts_post (prompts, FH_PROMPT_PIN, "Phone", NULL, 60, answer, &answerer);
  fh_prompt_end (prompt, FH_PROMPT_TIMED_OUT, NULL);
  ASSERT_LOG (fx, "");
  fh_prompts_remove_poster (prompts, FH_PROMPT_PIN);
  g_assert_false (fh_prompts_answer_waiting (prompts, FH_PROMPT_PIN, TRUE, "1234", NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED);
}

static void
test_prompt_join (Fixture *fx, gconstpointer data)
{
  FhPrompts *prompts = fh_core_get_prompts (fx->core);
  Answerer answerer = { fx, .end = TRUE };
  g_autoptr (GError) error = NULL;
  g_autofree char *who = NULL, *id = NULL;
  guint observer = fh_prompts_add_observer (prompts, on_prompt, fx);
  FhPrompt *prompt;

  fh_prompts_add_poster (prompts, FH_PROMPT_JOIN, "nobody is asking to join");
  prompt = fh_prompts_post (prompts, FH_PROMPT_JOIN, "dev-b", "192.0.2.9", 30, answer, &answerer);
  id = g_strdup (fh_prompt_get_id (prompt));
  /* Approving ends it from inside its own answer function. */
  g_assert_true (fh_prompts_answer_waiting (prompts, FH_PROMPT_JOIN, TRUE, NULL, &who, &error));
  g_assert_no_error (error);
  g_assert_cmpstr (who, ==, "dev-b");
  ASSERT_LOG (fx, "observer: join dev-b waiting\n"
                  "answer: dev-b approve -\n"
                  "observer: join dev-b done: let in");
  g_assert_null (fh_prompts_lookup (prompts, id));
  g_assert_null (fh_prompts_find_waiting (prompts, FH_PROMPT_JOIN));

  /* Denied, answered by the prompt itself. */
  prompt = fh_prompts_post (prompts, FH_PROMPT_JOIN, "dev-c", NULL, 30, answer, &answerer);
  g_clear_pointer (&id, g_free);
  id = g_strdup (fh_prompt_get_id (prompt));
  g_assert_true (fh_prompt_answer (prompt, FALSE, NULL, &error));
  g_assert_no_error (error);
  ASSERT_LOG (fx, "observer: join dev-c waiting\n"
                  "answer: dev-c deny -\n"
                  "observer: join dev-c refused");
  g_assert_null (fh_prompts_lookup (prompts, id));
  g_assert_false (fh_prompts_answer_waiting (prompts, FH_PROMPT_JOIN, TRUE, NULL, NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND);
  g_assert_cmpstr (error->message, ==, "nobody is asking to join");
  fh_prompts_remove_observer (prompts, observer);
}

static void
test_prompt_list (Fixture *fx, gconstpointer data)
{
  FhPrompts *prompts = fh_core_get_prompts (fx->core);
  Answerer answerer = { fx };
  g_autofree char *empty = fh_prompts_list (prompts, FH_PROMPT_PIN);
  g_autofree char *both = NULL, *second = NULL, *join = NULL, *expected = NULL, *after = NULL;
  FhPrompt *deck, *laptop, *guest;

  g_assert_cmpstr (empty, ==, "");
  deck = fh_prompts_post (prompts, FH_PROMPT_PIN, "Deck", "192.0.2.7", 60, answer, &answerer);
  laptop = fh_prompts_post (prompts, FH_PROMPT_PIN, "Laptop", NULL, 60, answer, &answerer);
  guest = fh_prompts_post (prompts, FH_PROMPT_JOIN, "dev-g", "192.0.2.8", 30, answer, &answerer);

  both = fh_prompts_list (prompts, FH_PROMPT_PIN);
  expected = g_strdup_printf ("%s device Deck at 192.0.2.7; %s device Laptop at ?",
                              fh_prompt_get_id (deck), fh_prompt_get_id (laptop));
  g_assert_cmpstr (both, ==, expected);
  join = fh_prompts_list (prompts, FH_PROMPT_JOIN);
  g_clear_pointer (&expected, g_free);
  expected = g_strdup_printf ("%s device dev-g at 192.0.2.8", fh_prompt_get_id (guest));
  g_assert_cmpstr (join, ==, expected);

  /* The oldest waiting one is answered; an answered one is not listed. */
  g_assert_true (fh_prompts_answer_waiting (prompts, FH_PROMPT_PIN, TRUE, "1111", NULL, NULL));
  g_assert_cmpint (fh_prompt_get_state (deck), ==, FH_PROMPT_ANSWERED);
  second = fh_prompts_list (prompts, FH_PROMPT_PIN);
  g_clear_pointer (&expected, g_free);
  expected = g_strdup_printf ("%s device Laptop at ?", fh_prompt_get_id (laptop));
  g_assert_cmpstr (second, ==, expected);

  {
    /* Every kind, the answered one left out, oldest first. */
    g_autoptr (GPtrArray) waiting = fh_prompts_list_waiting (prompts);
    g_assert_cmpuint (waiting->len, ==, 2);
    g_assert_true (waiting->pdata[0] == laptop);
    g_assert_true (waiting->pdata[1] == guest);
    g_assert_cmpstr (fh_prompt_kind_to_string (fh_prompt_get_kind (laptop)), ==, "pin");
    g_assert_cmpstr (fh_prompt_kind_to_string (fh_prompt_get_kind (guest)), ==, "join");
  }

  fh_prompt_end (deck, FH_PROMPT_FAILED, "wrong PIN");
  fh_prompt_end (laptop, FH_PROMPT_GONE, NULL);
  fh_prompt_end (guest, FH_PROMPT_TIMED_OUT, NULL);
  after = fh_prompts_list (prompts, FH_PROMPT_PIN);
  g_assert_cmpstr (after, ==, "");
  {
    g_autoptr (GPtrArray) none = fh_prompts_list_waiting (prompts);
    g_assert_cmpuint (none->len, ==, 0);
  }
  ASSERT_LOG (fx, "answer: Deck approve 1111");
}

/* Prompts still open when the host goes end as GONE, and their observers
 * hear it. */
static void
test_prompt_free (Fixture *fx, gconstpointer data)
{
  g_autoptr (FhPrompts) prompts = fh_prompts_new ();
  Answerer answerer = { fx };

  fh_prompts_add_observer (prompts, on_prompt, fx);
  fh_prompts_post (prompts, FH_PROMPT_PIN, "Deck", NULL, 60, answer, &answerer);
  fh_prompts_post (prompts, FH_PROMPT_JOIN, "dev-g", NULL, 30, answer, &answerer);
  g_clear_pointer (&prompts, fh_prompts_free);
  ASSERT_LOG (fx, "observer: pin Deck waiting\n"
                  "observer: join dev-g waiting\n"
                  "observer: pin Deck gone: the host is stopping\n"
                  "observer: join dev-g gone: the host is stopping");
}

/* ---- who hears the session count (the app tells systemd) ---- */

static void
on_sessions (FhCore *core, guint count, gpointer data)
{
  Fixture *fx = data;

  g_assert_true (core == fx->core);
  log_call (fx, "sessions: %u", count);
}

static void
on_sessions_too (FhCore *core, guint count, gpointer data)
{
  log_call (data, "also: %u", count);
}

static void
test_sessions_observer (Fixture *fx, gconstpointer data)
{
  FakePeer *a = fake_peer_new (fx, "A"), *b = fake_peer_new (fx, "B");
  guint observer = fh_core_add_sessions_observer (fx->core, on_sessions, fx);
  guint other = fh_core_add_sessions_observer (fx->core, on_sessions_too, fx);
  FhSession *sa;

  /* Counted when a session is registered, before its desktop is up; every
   * observer in turn. */
  sa = streaming_session (fx, a, "laptop");
  ASSERT_LOG (fx, "sessions: 1\nalso: 1\noutput 1: start\nA: welcome resumed=0");
  /* A removed observer hears nothing more. */
  fh_core_remove_sessions_observer (fx->core, other);
  streaming_session (fx, b, "phone");
  ASSERT_LOG (fx, "sessions: 2\noutput 2: start\nB: welcome resumed=0");

  /* Its grace period over (1 s), a session is counted out as it leaves
   * the registry, before it is torn down. */
  detach (sa, a);
  WAIT_UNTIL (fh_core_count_sessions (fx->core) == 1, 5000);
  WAIT_UNTIL (g_atomic_int_get (&fx->outputs_live) == 1, 5000);
  ASSERT_LOG (fx, "sessions: 1\noutput 1: destroy");

  /* The host stops: once, after every session stopped. */
  for (guint i = 0; i < G_N_ELEMENTS (fx->planes); i++)
    fx->planes[i]->allowed = PLANE_CLOSE_CLIENTS | PLANE_STOP;
  b->allowed = PEER_CLOSED;
  fh_core_stop (fx->core);
  ASSERT_LOG (fx, "P1: close-clients\n"
                  "P2: close-clients\n"
                  "B: closed host-stopping: the host is stopping\n"
                  "output 2: destroy\n"
                  "sessions: 0\n"
                  "P2: stop\n"
                  "P1: stop");
  fh_core_remove_sessions_observer (fx->core, observer);
}

/* ---- the app list ---- */

/* Without a list the core offers one app, "Desktop": its backend; an id
 * beyond the list makes no session and no output. */
static void
test_apps (Fixture *fx, gconstpointer data)
{
  FhSessionRequest request = {
    .device = "laptop",
    .mode = { MODE_WIDTH, MODE_HEIGHT, MODE_REFRESH },
    .codec = FH_CODEC_H264,
    .app = 2,
  };
  g_autoptr (GError) error = NULL;
  guint n_apps;
  const FhCoreApp *apps = fh_core_get_apps (fx->core, &n_apps);
  FakePeer *a = fake_peer_new (fx, "A");
  FhSession *session;

  g_assert_cmpuint (n_apps, ==, 1);
  g_assert_cmpstr (apps[0].name, ==, "Desktop");
  g_assert_true (apps[0].backend == &fake_backend);
  g_assert_true (apps[0].backend_config == &fx->backend_config.base);
  g_assert_null (apps[0].unavailable);
  g_assert_true (fh_core_lookup_app (fx->core, 1) == &apps[0]);
  g_assert_null (fh_core_lookup_app (fx->core, 0));
  g_assert_null (fh_core_lookup_app (fx->core, 2));

  g_assert_null (fh_core_create_session (fx->core, &request, &error));
  g_assert_error (error, FH_SESSION_ERROR, FH_SESSION_ERROR_UNAVAILABLE);
  g_assert_nonnull (strstr (error->message, "no app 2"));
  g_assert_cmpuint (fh_core_count_sessions (fx->core), ==, 0);
  g_assert_cmpint (g_atomic_int_get (&fx->outputs_made), ==, 0);
  g_clear_error (&error);

  request.app = 1;
  session = fh_core_create_session (fx->core, &request, &error);
  g_assert_no_error (error);
  g_assert_nonnull (session);
  g_assert_cmpstr (fh_session_get_backend_name (session), ==, "fake");
  attach (session, a, FALSE);
  WAIT_UNTIL (a->welcomes > 0, STREAM_TIMEOUT_MS);
  ASSERT_LOG (fx, "output 1: start\nA: welcome resumed=0");
}

int
main (int argc, char **argv)
{
  g_mutex_init (&warnings.lock);
  warnings.expected = g_ptr_array_new_with_free_func (g_free);
  g_log_set_writer_func (writer, &warnings, NULL);
  g_test_init (&argc, &argv, NULL);

#define ADD(path, func, grace)                                                                  \
  g_test_add ("/core/" path, Fixture, GUINT_TO_POINTER (grace), fixture_set_up, func,           \
              fixture_tear_down)
  ADD ("stream", test_stream, 30);
  ADD ("apps", test_apps, 30);
  ADD ("resume", test_resume, 30);
  ADD ("takeover-starts-with-keyframe", test_takeover_starts_with_keyframe, 30);
  ADD ("detach-while-starting", test_detach_while_starting, 30);
  ADD ("detach-in-welcome", test_detach_in_welcome, 30);
  ADD ("grace-over", test_grace_over, 1);
  ADD ("output-failed", test_output_failed, 30);
  ADD ("capture-failed", test_capture_failed, 30);
  ADD ("create-failed", test_create_failed, 30);
  ADD ("health", test_health, 30);
  ADD ("stop", test_stop, 30);
  ADD ("stop-while-starting", test_stop_while_starting, 30);
  ADD ("stop-after-the-loop", test_stop_after_the_loop, 30);
  ADD ("revoke", test_revoke, 30);
  ADD ("end-session", test_end_session, 30);
  ADD ("owner", test_owner, 30);
  ADD ("input", test_input, 30);
  ADD ("access", test_access, 30);
  ADD ("guests", test_guests, 30);
  ADD ("direct", test_direct, 30);
  ADD ("refusals", test_refusals, 30);
  ADD ("sessions-observer", test_sessions_observer, 1);
  ADD ("prompts/pin", test_prompt_pin, 30);
  ADD ("prompts/join", test_prompt_join, 30);
  ADD ("prompts/list", test_prompt_list, 30);
  ADD ("prompts/free", test_prompt_free, 30);
#undef ADD
  return g_test_run ();
}
