/* A benchmark client for `funkhaus serve`: pairs with a PIN, opens one or
 * several sessions over WebSockets like browsers would (acking frames as
 * they arrive, in pairs, as the web client does), receives video for
 * a bounded time and reports the host's CPU time per frame and its latency;
 * with a wlroots backend also each session's frame rate, latency, time from
 * hello to its first frame, drops, and the CPU and memory of its processes.
 * Host and client run on one machine, so the header's capture time (the
 * host's CLOCK_MONOTONIC) and ours are the same clock. */
#include <gio/gio.h>
#include <json-glib/json-glib.h>
#include <libsoup/soup.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "fh-bench-common.h"
#include "planes/web/protocol.h"

typedef struct _FhBenchClient FhBenchClient;

/* One WebSocket, one session on the host. */
typedef struct {
  FhBenchClient *client;
  guint index; /* 1, 2, … in the order they were opened */
  SoupWebsocketConnection *ws;
  char *hello;
  char *session_id;
  gint64 hello_us; /* when its hello went out */
  gint64 welcome_us;
  gint64 first_frame_us; /* its first video frame, in the window or not */

  guint64 frames; /* in the window */
  guint64 bytes;
  guint64 keyframes;
  guint64 frame_gaps; /* frame numbers skipped between received frames */
  GArray *receive_us; /* capture → received, per frame of this session */
  gint64 last_frame;
  gint64 last_arrival_us;

  /* The ack that waits (see ack_frame()). */
  guint ack_waiting;
  guint32 ack_frame;
  gint64 ack_last_us;
  guint ack_source;

  /* From the host's stats messages received in the window. */
  gint64 dropped_seen; /* the last cumulative "dropped" received */
  gint64 dropped_before; /* … before the first stats message of the window */
  gint64 dropped_last; /* … in the last stats message of the window */
  guint stats_in_window;

  /* The session's own processes (sway, Xwayland, the app): pid → CPU µs
   * at the window's start; then their CPU over the window and their memory
   * at its end. */
  GHashTable *process_cpu0;
  gint64 process_cpu_us;
  guint processes;
  guint64 rss_kib, pss_kib;
  /* The host's capture and encode threads of this session. */
  gint64 thread_cpu0, thread_cpu_us;
} FhBenchSession;

struct _FhBenchClient {
  GMainLoop *loop;
  int exit_code;
  pid_t host_pid;
  double warmup_s;
  double seconds;
  gboolean verbose;
  GPtrArray *sessions; /* FhBenchSession */
  guint welcomed;
  SoupSession *http;
  char *ws_url;
  gboolean one_by_one; /* each hello after the previous session's welcome */
  gboolean no_acks; /* no acks: the host measures the backlog in the kernel */

  /* --pad-log: session 1's pad presses A, then lets go, once a tick in the
   * window; when each state went out (CLOCK_REALTIME µs, the clock of
   * tests/apps/fh-pad-logger's record) is written to pad_log. */
  char *pad_log;
  GArray *pad_sent_us;
  gboolean pad_down;

  gint64 measure_us; /* start of the measured window, once all are welcome */
  gint64 end_us;
  gboolean measuring;
  gboolean done;
  gint64 host_cpu0, host_cpu1; /* µs, utime + stime */
  gint64 host_runtime0, host_runtime1; /* µs, the scheduler's count */
  gint64 host_main0, host_main1; /* the same, of its main thread */
  gint64 self_cpu0, self_cpu1;
  gint64 machine_busy0, machine_busy1; /* every process on the machine, µs */
  gint64 wall0, wall1;
  guint64 host_idle_rss_kib, host_idle_pss_kib; /* before the first session */
  guint64 host_rss_kib, host_pss_kib; /* at the window's end */
  GHashTable *comm_cpu_us; /* command name → CPU µs of the sessions' processes */
  GHashTable *comm_pss_kib; /* command name → their PSS at the window's end */

  guint64 frames_total;
  GArray *receive_us; /* capture → received, per frame, all sessions */
  GArray *encoded_us; /* capture → encoded (header), per frame */
  GArray *interarrival_us;
  GArray *stats_p50; /* capture_to_send_ms_p50 of each stats message, double */
  GArray *stats_p99;
  guint timeout_source;
};

static void
bench_session_free (gpointer data)
{
  FhBenchSession *s = data;

  g_clear_handle_id (&s->ack_source, g_source_remove);
  g_clear_object (&s->ws);
  g_free (s->hello);
  g_free (s->session_id);
  g_clear_pointer (&s->receive_us, g_array_unref);
  g_clear_pointer (&s->process_cpu0, g_hash_table_unref);
  g_free (s);
}

static FhBenchSession *
find_session (FhBenchClient *self, const char *id)
{
  for (guint i = 0; id && i < self->sessions->len; i++) {
    FhBenchSession *s = g_ptr_array_index (self->sessions, i);
    if (s->session_id && g_str_equal (s->session_id, id))
      return s;
  }
  return NULL;
}

/* Every process of one of our sessions, found by FUNKHAUS_SESSION: at the
 * window's start (@end FALSE) remembers its CPU time; at the end adds up
 * what it used since, by session and by command name, and reads its
 * memory. A process that started inside the window counts with its whole
 * CPU time; one that ended inside it is missed (neither happens in a
 * steady state). */
static void
snapshot_session_processes (FhBenchClient *self, gboolean end)
{
  g_autoptr (GDir) proc = g_dir_open ("/proc", 0, NULL);
  const char *name;

  while (proc && (name = g_dir_read_name (proc))) {
    pid_t pid = (pid_t) g_ascii_strtoll (name, NULL, 10);
    g_autofree char *id = NULL;
    FhBenchSession *s;
    gint64 cpu;

    if (pid <= 0 || pid == self->host_pid || pid == getpid ())
      continue;
    id = fh_bench_process_session (pid);
    if (!(s = find_session (self, id)) || (cpu = fh_bench_process_runtime_us (pid)) < 0)
      continue;
    if (!end) {
      g_hash_table_insert (s->process_cpu0, GINT_TO_POINTER (pid), g_memdup2 (&cpu, sizeof cpu));
    } else {
      const gint64 *cpu0 = g_hash_table_lookup (s->process_cpu0, GINT_TO_POINTER (pid));
      g_autofree char *dir = g_strdup_printf ("/proc/%d", (int) pid);
      g_autofree char *comm = fh_bench_comm (dir);
      gint64 used = cpu - (cpu0 ? *cpu0 : 0);
      gint64 *by_comm = g_hash_table_lookup (self->comm_cpu_us, comm);
      guint64 *pss_by_comm = g_hash_table_lookup (self->comm_pss_kib, comm);
      guint64 rss = 0, pss = 0;

      s->process_cpu_us += used;
      s->processes++;
      if (!by_comm) {
        by_comm = g_new0 (gint64, 1);
        g_hash_table_insert (self->comm_cpu_us, g_strdup (comm), by_comm);
      }
      *by_comm += used;
      if (!pss_by_comm) {
        pss_by_comm = g_new0 (guint64, 1);
        g_hash_table_insert (self->comm_pss_kib, g_strdup (comm), pss_by_comm);
      }
      if (fh_bench_process_memory (pid, &rss, &pss)) {
        s->rss_kib += rss;
        s->pss_kib += pss;
        *pss_by_comm += pss;
      }
    }
  }
}

/* CPU time of the host's video threads, two per session: its capture
 * thread (capture and conversion), "fh-cap-", and its encode thread
 * (libx264's share that runs on the calling thread), "fh-enc-", each
 * followed by the first 8 characters of its session's id. */
static void
snapshot_encode_threads (FhBenchClient *self, gboolean end)
{
  g_autofree char *task = g_strdup_printf ("/proc/%d/task", (int) self->host_pid);
  g_autoptr (GDir) dir = g_dir_open (task, 0, NULL);
  g_autofree gint64 *sums = g_new0 (gint64, self->sessions->len);
  const char *name;

  while (dir && (name = g_dir_read_name (dir))) {
    g_autofree char *path = g_build_filename (task, name, NULL);
    g_autofree char *comm = fh_bench_comm (path);
    gint64 cpu;

    if ((!g_str_has_prefix (comm, "fh-enc-") && !g_str_has_prefix (comm, "fh-cap-")) ||
        strlen (comm) < strlen ("fh-enc-") + 8 || (cpu = fh_bench_thread_runtime_us (path)) < 0)
      continue;
    for (guint i = 0; i < self->sessions->len; i++) {
      FhBenchSession *s = g_ptr_array_index (self->sessions, i);

      if (s->session_id && g_str_has_prefix (s->session_id, comm + strlen ("fh-enc-")))
        sums[i] += cpu;
    }
  }
  for (guint i = 0; i < self->sessions->len; i++) {
    FhBenchSession *s = g_ptr_array_index (self->sessions, i);

    if (end)
      s->thread_cpu_us = sums[i] - s->thread_cpu0;
    else
      s->thread_cpu0 = sums[i];
  }
}

/* The host's main thread (its main loop: every client's messages, each
 * frame's hand-over from the capture or encode thread and its send). */
static gint64
main_thread_runtime_us (FhBenchClient *self)
{
  g_autofree char *path = g_strdup_printf ("/proc/%d/task/%d", (int) self->host_pid,
                                           (int) self->host_pid);

  return fh_bench_thread_runtime_us (path);
}

static gboolean
accept_any_certificate (SoupMessage *msg, GTlsCertificate *cert, GTlsCertificateFlags errors,
                        gpointer user_data)
{
  return TRUE; /* the host's self-signed certificate, on localhost */
}

static void open_session (FhBenchSession *s);

static void
finish (FhBenchClient *self, int code)
{
  if (self->done)
    return;
  self->done = TRUE;
  self->exit_code = code;
  for (guint i = 0; i < self->sessions->len; i++) {
    FhBenchSession *s = g_ptr_array_index (self->sessions, i);
    if (s->ws && soup_websocket_connection_get_state (s->ws) == SOUP_WEBSOCKET_STATE_OPEN)
      soup_websocket_connection_close (s->ws, SOUP_WEBSOCKET_CLOSE_NORMAL, "bench done");
  }
  g_main_loop_quit (self->loop);
}

static void
start_window (FhBenchClient *self, gint64 now)
{
  self->measuring = TRUE;
  self->wall0 = now;
  self->host_cpu0 = fh_bench_process_cpu_us (self->host_pid);
  self->host_runtime0 = fh_bench_process_runtime_us (self->host_pid);
  self->host_main0 = main_thread_runtime_us (self);
  self->self_cpu0 = fh_bench_self_cpu_us ();
  self->machine_busy0 = fh_bench_machine_busy_us ();
  snapshot_encode_threads (self, FALSE);
  snapshot_session_processes (self, FALSE);
}

static void
end_window (FhBenchClient *self, gint64 now)
{
  self->wall1 = now;
  self->host_cpu1 = fh_bench_process_cpu_us (self->host_pid);
  self->host_runtime1 = fh_bench_process_runtime_us (self->host_pid);
  self->host_main1 = main_thread_runtime_us (self);
  self->self_cpu1 = fh_bench_self_cpu_us ();
  self->machine_busy1 = fh_bench_machine_busy_us ();
  self->measuring = FALSE;
  snapshot_encode_threads (self, TRUE);
  snapshot_session_processes (self, TRUE);
  fh_bench_process_memory (self->host_pid, &self->host_rss_kib, &self->host_pss_kib);
}

/* A stats message covers the second before it arrived; the host's seconds
 * are not aligned with our window, so one counts when most of its second
 * lies inside: it arrived between 0.5 s after the window's start and 0.5 s
 * after its end. */
#define STATS_SLACK_US (G_USEC_PER_SEC / 2)

/* The window opens once every session is welcome and warm; it is checked
 * on every message and by a timer, so it closes on time even if the
 * streams stall. */
static void
check_window (FhBenchClient *self, gint64 now)
{
  if (!self->measure_us || self->done)
    return;
  if (!self->measuring && !self->wall0 && now >= self->measure_us)
    start_window (self, now);
  if (self->measuring && now >= self->end_us)
    end_window (self, now);
  if (self->wall1 && now >= self->end_us + STATS_SLACK_US + G_USEC_PER_SEC / 10)
    finish (self, 0);
}

/* One pad state of session 1: A down or up, in turn (its pad connects
 * with the first). */
static void
send_pad (FhBenchClient *self)
{
  FhBenchSession *s = g_ptr_array_index (self->sessions, 0);
  FhPadMessage msg = { .type = FH_PAD_MESSAGE_STATE };
  guint8 buf[FH_PROTO_PAD_STATE_SIZE];
  gint64 now;
  gsize len;

  if (!s->ws || soup_websocket_connection_get_state (s->ws) != SOUP_WEBSOCKET_STATE_OPEN)
    return;
  self->pad_down = !self->pad_down;
  msg.state.buttons = self->pad_down ? FH_PAD_BUTTON_A : 0;
  len = fh_proto_write_pad (&msg, buf);
  now = g_get_real_time ();
  soup_websocket_connection_send_binary (s->ws, buf, len);
  g_array_append_val (self->pad_sent_us, now);
}

static gboolean
on_tick (gpointer user_data)
{
  FhBenchClient *self = user_data;

  check_window (self, g_get_monotonic_time ());
  if (self->pad_log && self->measuring)
    send_pad (self);
  return G_SOURCE_CONTINUE;
}

static void
write_pad_log (FhBenchClient *self)
{
  g_autoptr (GString) text = g_string_new (NULL);
  g_autoptr (GError) error = NULL;

  for (guint i = 0; i < self->pad_sent_us->len; i++)
    g_string_append_printf (text, "%" G_GINT64_FORMAT " %s\n",
                            g_array_index (self->pad_sent_us, gint64, i), i % 2 ? "up" : "down");
  if (!g_file_set_contents (self->pad_log, text->str, (gssize) text->len, &error))
    fprintf (stderr, "fh-bench-client: %s\n", error->message);
}

static void
on_text (FhBenchSession *s, const char *text, gsize len, gint64 now)
{
  FhBenchClient *self = s->client;
  g_autoptr (JsonParser) parser = json_parser_new ();
  JsonObject *obj;
  const char *type;

  if (!json_parser_load_from_data (parser, text, (gssize) len, NULL) ||
      !JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser))) {
    fprintf (stderr, "fh-bench-client: unparsable text message\n");
    return;
  }
  obj = json_node_get_object (json_parser_get_root (parser));
  type = json_object_get_string_member_with_default (obj, "type", "");
  if (g_str_equal (type, "welcome")) {
    if (s->welcome_us)
      return;
    s->welcome_us = now;
    s->session_id = g_strdup (json_object_get_string_member_with_default (obj, "session", "?"));
    if (++self->welcomed == self->sessions->len) {
      self->measure_us = now + (gint64) (self->warmup_s * G_USEC_PER_SEC);
      self->end_us = self->measure_us + (gint64) (self->seconds * G_USEC_PER_SEC);
    }
    printf ("welcome: session %s\n", s->session_id);
    fflush (stdout);
    /* The host numbers sessions in the order their hellos arrive
     * (FUNKHAUS_SESSION_SERIAL): one by one, that is ours. */
    if (self->one_by_one && s->index < self->sessions->len)
      open_session (g_ptr_array_index (self->sessions, s->index));
  } else if (g_str_equal (type, "stats")) {
    gint64 dropped = json_object_get_int_member_with_default (obj, "dropped", 0);

    if (self->verbose)
      fprintf (stderr, "%+8.3f s from the window's start, session %u: %.*s\n",
               self->measure_us ? (now - self->measure_us) / 1e6 : 0.0, s->index, (int) len, text);
    if (self->measure_us && now >= self->measure_us + STATS_SLACK_US &&
        now < self->end_us + STATS_SLACK_US) {
      double v;

      if (s->stats_in_window++ == 0)
        s->dropped_before = s->dropped_seen;
      s->dropped_last = dropped;

      v = json_object_get_double_member_with_default (obj, "capture_to_send_ms_p50", 0);
      g_array_append_val (self->stats_p50, v);
      v = json_object_get_double_member_with_default (obj, "capture_to_send_ms_p99", 0);
      g_array_append_val (self->stats_p99, v);
    }
    s->dropped_seen = dropped;
  } else if (g_str_equal (type, "error") || g_str_equal (type, "state")) {
    fprintf (stderr, "fh-bench-client: host says to session %u: %s\n", s->index, text);
    if (g_str_equal (type, "error"))
      finish (self, 1);
  }
}

static gboolean
send_ack (gpointer user_data)
{
  FhBenchSession *s = user_data;
  guint8 ack[FH_PROTO_ACK_SIZE];

  s->ack_source = 0;
  if (!s->ack_waiting || soup_websocket_connection_get_state (s->ws) != SOUP_WEBSOCKET_STATE_OPEN)
    return G_SOURCE_REMOVE;
  s->ack_waiting = 0;
  s->ack_last_us = g_get_monotonic_time ();
  fh_proto_write_ack (s->ack_frame, ack);
  soup_websocket_connection_send_binary (s->ws, ack, sizeof ack);
  return G_SOURCE_REMOVE;
}

/* As the web client (fh_proto_ack_at_once). */
static void
ack_frame (FhBenchSession *s, guint32 frame, gint64 now)
{
  s->ack_frame = frame;
  s->ack_waiting++;
  if (fh_proto_ack_at_once (s->ack_waiting, s->ack_last_us ? now - s->ack_last_us : G_MAXINT64)) {
    g_clear_handle_id (&s->ack_source, g_source_remove);
    send_ack (s);
  } else if (!s->ack_source) {
    s->ack_source = g_timeout_add (FH_PROTO_ACK_DELAY_MS, send_ack, s);
  }
}

static void
on_binary (FhBenchSession *s, const guint8 *data, gsize len, gint64 now)
{
  FhBenchClient *self = s->client;
  FhVideoHeader header;
  g_autoptr (GError) error = NULL;

  if (len > 0 && data[0] == FH_PROTO_KIND_AUDIO)
    return; /* the session's speaker: not measured here */
  if (!fh_proto_parse_video_header (data, len, &header, &error)) {
    fprintf (stderr, "fh-bench-client: %s\n", error->message);
    return;
  }
  self->frames_total++;
  /* As the web client: on arrival, before anything else is done with it. */
  if (!self->no_acks)
    ack_frame (s, header.frame, now);
  if (!s->first_frame_us)
    s->first_frame_us = now;
  if (self->measuring) {
    gint64 rx = now - (gint64) header.capture_us, enc = header.encode_us;

    g_array_append_val (self->receive_us, rx);
    g_array_append_val (s->receive_us, rx);
    g_array_append_val (self->encoded_us, enc);
    if (s->last_arrival_us) {
      gint64 gap = now - s->last_arrival_us;
      g_array_append_val (self->interarrival_us, gap);
    }
    if (s->last_frame >= 0 && header.frame > s->last_frame + 1)
      s->frame_gaps += header.frame - (guint64) s->last_frame - 1;
    s->frames++;
    s->bytes += len;
    s->keyframes += header.keyframe;
  }
  s->last_frame = header.frame;
  s->last_arrival_us = now;
}

static void
on_message (SoupWebsocketConnection *ws, gint type, GBytes *message, gpointer user_data)
{
  FhBenchSession *s = user_data;
  gint64 now = g_get_monotonic_time ();
  gsize len;
  const guint8 *data = g_bytes_get_data (message, &len);

  if (s->client->done)
    return;
  if (type == SOUP_WEBSOCKET_DATA_TEXT)
    on_text (s, (const char *) data, len, now);
  else
    on_binary (s, data, len, now);
  check_window (s->client, now);
}

static void
on_closed (SoupWebsocketConnection *ws, gpointer user_data)
{
  FhBenchSession *s = user_data;

  if (!s->client->done) {
    fprintf (stderr, "fh-bench-client: the host closed the WebSocket of session %u (%u: %s)\n",
             s->index, soup_websocket_connection_get_close_code (ws),
             soup_websocket_connection_get_close_data (ws) ? soup_websocket_connection_get_close_data (ws) : "");
    finish (s->client, 1);
  }
}

static void
on_connected (GObject *source, GAsyncResult *result, gpointer user_data)
{
  FhBenchSession *s = user_data;
  g_autoptr (GError) error = NULL;

  s->ws = soup_session_websocket_connect_finish (SOUP_SESSION (source), result, &error);
  if (!s->ws) {
    fprintf (stderr, "fh-bench-client: WebSocket of session %u: %s\n", s->index, error->message);
    finish (s->client, 1);
  } else {
    /* Video messages exceed libsoup's default 128 KiB limit at an IDR. */
    soup_websocket_connection_set_max_incoming_payload_size (s->ws, 0);
    g_signal_connect (s->ws, "message", G_CALLBACK (on_message), s);
    g_signal_connect (s->ws, "closed", G_CALLBACK (on_closed), s);
    s->hello_us = g_get_monotonic_time ();
    soup_websocket_connection_send_text (s->ws, s->hello);
  }
}

/* Its WebSocket; the hello goes out once it is open. */
static void
open_session (FhBenchSession *s)
{
  g_autoptr (SoupMessage) msg = soup_message_new ("GET", s->client->ws_url);

  g_signal_connect (msg, "accept-certificate", G_CALLBACK (accept_any_certificate), NULL);
  soup_session_websocket_connect_async (s->client->http, msg, NULL, NULL, G_PRIORITY_DEFAULT,
                                        NULL, on_connected, s);
}

static gboolean
on_deadline (gpointer user_data)
{
  FhBenchClient *self = user_data;

  fprintf (stderr, "fh-bench-client: gave up: %s in time\n",
           self->measure_us ? "no end of the window"
                            : self->welcomed ? "not every session was welcome" : "no welcome");
  finish (self, 1);
  return G_SOURCE_REMOVE;
}

static gboolean
pair (SoupSession *session, const char *base, const char *pin, char **device, char **token,
      GError **error)
{
  g_autofree char *url = g_strconcat (base, "/api/pair", NULL);
  g_autofree char *body = g_strdup_printf ("{\"pin\": \"%s\", \"name\": \"fh-bench-client\"}", pin);
  g_autoptr (SoupMessage) msg = soup_message_new ("POST", url);
  g_autoptr (GBytes) request = g_bytes_new (body, strlen (body));
  g_autoptr (GBytes) reply = NULL;
  g_autoptr (JsonParser) parser = json_parser_new ();
  JsonObject *obj;
  gsize len;
  const char *text;

  if (!msg) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT, "bad URL %s", url);
    return FALSE;
  }
  g_signal_connect (msg, "accept-certificate", G_CALLBACK (accept_any_certificate), NULL);
  soup_message_set_request_body_from_bytes (msg, "application/json", request);
  if (!(reply = soup_session_send_and_read (session, msg, NULL, error)))
    return FALSE;
  text = g_bytes_get_data (reply, &len);
  if (soup_message_get_status (msg) != SOUP_STATUS_OK) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "pairing failed (%u): %.*s",
                 soup_message_get_status (msg), (int) len, text);
    return FALSE;
  }
  if (!json_parser_load_from_data (parser, text, (gssize) len, error))
    return FALSE;
  obj = json_node_get_object (json_parser_get_root (parser));
  *device = g_strdup (json_object_get_string_member_with_default (obj, "device", ""));
  *token = g_strdup (json_object_get_string_member_with_default (obj, "token", ""));
  return TRUE;
}

/* A device paired before, kept in @path by an earlier run (against a host
 * with the same config dir): no PIN needed. FALSE when there is none. */
static gboolean
load_credential (const char *path, char **device, char **token)
{
  g_autoptr (GKeyFile) file = g_key_file_new ();

  if (!g_key_file_load_from_file (file, path, G_KEY_FILE_NONE, NULL))
    return FALSE;
  *device = g_key_file_get_string (file, "credential", "device", NULL);
  *token = g_key_file_get_string (file, "credential", "token", NULL);
  if (*device && *token && **device && **token)
    return TRUE;
  g_clear_pointer (device, g_free);
  g_clear_pointer (token, g_free);
  return FALSE;
}

static gboolean
save_credential (const char *path, const char *device, const char *token, GError **error)
{
  g_autoptr (GKeyFile) file = g_key_file_new ();
  g_autofree char *text = NULL;

  g_key_file_set_string (file, "credential", "device", device);
  g_key_file_set_string (file, "credential", "token", token);
  text = g_key_file_to_data (file, NULL, NULL);
  return g_file_set_contents_full (path, text, -1, G_FILE_SET_CONTENTS_CONSISTENT, 0600, error);
}

/* A command name as a key: lower case, anything but letters and digits
 * as '_'. */
static char *
key_for (const char *comm)
{
  char *key = g_ascii_strdown (comm, -1);

  for (char *p = key; *p; p++)
    if (!g_ascii_isalnum (*p))
      *p = '_';
  return key;
}

static void
print_results (FhBenchClient *self)
{
  double window_s = (self->wall1 - self->wall0) / (double) G_USEC_PER_SEC;
  double host_cpu_ms = (self->host_cpu1 - self->host_cpu0) / 1000.0;
  double self_cpu_ms = (self->self_cpu1 - self->self_cpu0) / 1000.0;
  gint64 host_runtime_us = self->host_runtime1 - self->host_runtime0;
  guint n = self->sessions->len;
  guint64 frames = 0, bytes = 0, keyframes = 0, gaps = 0, rss = 0, pss = 0;
  gint64 dropped = 0, process_cpu_us = 0;
  guint stats_seconds = G_MAXUINT, processes = 0;
  double fps_min = G_MAXDOUBLE, fps_max = 0;
  g_autoptr (GList) comms = NULL;

  for (guint i = 0; i < n; i++) {
    FhBenchSession *s = g_ptr_array_index (self->sessions, i);
    double fps = s->frames / window_s;

    frames += s->frames;
    bytes += s->bytes;
    keyframes += s->keyframes;
    gaps += s->frame_gaps;
    dropped += s->dropped_last - s->dropped_before;
    stats_seconds = MIN (stats_seconds, s->stats_in_window);
    fps_min = MIN (fps_min, fps);
    fps_max = MAX (fps_max, fps);
    process_cpu_us += s->process_cpu_us;
    processes += s->processes;
    rss += s->rss_kib;
    pss += s->pss_kib;
  }

  g_array_sort (self->stats_p50, fh_bench_compare_double);
  g_array_sort (self->stats_p99, fh_bench_compare_double);
  printf ("\n");
  /* Over all sessions together: fps is the mean per session. */
  printf ("sessions           %u\n", n);
  printf ("frames             %" G_GUINT64_FORMAT "\n", frames);
  printf ("fps                %.2f\n", frames / window_s / n);
  printf ("fps_min            %.2f\n", fps_min);
  printf ("fps_max            %.2f\n", fps_max);
  printf ("kbps               %.0f\n", bytes * 8.0 / 1000.0 / window_s);
  printf ("keyframes          %" G_GUINT64_FORMAT "\n", keyframes);
  printf ("dropped            %" G_GINT64_FORMAT "\n", dropped);
  printf ("frame_number_gaps  %" G_GUINT64_FORMAT "\n", gaps);
  printf ("stats_seconds      %u\n", stats_seconds);
  printf ("window_s           %.3f\n", window_s);
  printf ("cpu_ms_per_frame   %.3f\n", frames ? host_cpu_ms / frames : 0.0);
  printf ("cpu_cores          %.3f\n", host_cpu_ms / 1000.0 / window_s);
  printf ("client_cpu_cores   %.3f\n", self_cpu_ms / 1000.0 / window_s);
  printf ("capture_to_encoded_ms_p50 %.3f\n", fh_percentile_ms (self->encoded_us, 0.50));
  printf ("capture_to_encoded_ms_p99 %.3f\n", fh_percentile_ms (self->encoded_us, 0.99));
  /* The host reports p50/p99 per second (about one second of frames
   * each); these are the medians of its per-second figures, and the worst
   * second. */
  printf ("capture_to_send_ms_p50 %.3f\n", fh_bench_percentile_double (self->stats_p50, 0.50));
  printf ("capture_to_send_ms_p99 %.3f\n", fh_bench_percentile_double (self->stats_p99, 0.50));
  printf ("capture_to_send_ms_p99_worst_second %.3f\n",
          fh_bench_percentile_double (self->stats_p99, 1.0));
  printf ("capture_to_receive_ms_p50 %.3f\n", fh_percentile_ms (self->receive_us, 0.50));
  printf ("capture_to_receive_ms_p99 %.3f\n", fh_percentile_ms (self->receive_us, 0.99));
  printf ("capture_to_receive_ms_max %.3f\n", fh_percentile_ms (self->receive_us, 1.0));
  printf ("interarrival_ms_p50 %.3f\n", fh_percentile_ms (self->interarrival_us, 0.50));
  printf ("interarrival_ms_p99 %.3f\n", fh_percentile_ms (self->interarrival_us, 0.99));
  printf ("interarrival_ms_max %.3f\n", fh_percentile_ms (self->interarrival_us, 1.0));

  /* The host process, and every process of the sessions (none with the
   * synthetic backend). Memory at the window's end, KiB. */
  printf ("host_rss_kib       %" G_GUINT64_FORMAT "\n", self->host_rss_kib);
  printf ("host_pss_kib       %" G_GUINT64_FORMAT "\n", self->host_pss_kib);
  printf ("host_idle_rss_kib  %" G_GUINT64_FORMAT "\n", self->host_idle_rss_kib);
  printf ("host_idle_pss_kib  %" G_GUINT64_FORMAT "\n", self->host_idle_pss_kib);
  printf ("session_processes  %u\n", processes);
  printf ("session_processes_cpu_cores %.3f\n", process_cpu_us / 1e6 / window_s);
  printf ("session_processes_rss_kib %" G_GUINT64_FORMAT "\n", rss);
  printf ("session_processes_pss_kib %" G_GUINT64_FORMAT "\n", pss);
  /* On-CPU time as the scheduler counts it (ns), as for the sessions'
   * processes; cpu_cores above is utime + stime, in 10 ms ticks. */
  printf ("host_runtime_cores %.3f\n", host_runtime_us / 1e6 / window_s);
  printf ("host_main_thread_cores %.3f\n", (self->host_main1 - self->host_main0) / 1e6 / window_s);
  printf ("total_cpu_cores    %.3f\n", (host_runtime_us + process_cpu_us) / 1e6 / window_s);
  /* Everything that ran on the machine meanwhile, this client and anything
   * else included: what the figures above compete with. */
  printf ("machine_busy_cores %.3f\n",
          (self->machine_busy1 - self->machine_busy0) / 1e6 / window_s);
  comms = g_list_sort (g_hash_table_get_keys (self->comm_cpu_us), (GCompareFunc) g_strcmp0);
  for (GList *l = comms; l; l = l->next) {
    g_autofree char *key = key_for (l->data);
    const gint64 *us = g_hash_table_lookup (self->comm_cpu_us, l->data);
    printf ("session_processes_cpu_cores_%s %.3f\n", key, *us / 1e6 / window_s);
  }
  for (GList *l = comms; l; l = l->next) {
    g_autofree char *key = key_for (l->data);
    const guint64 *kib = g_hash_table_lookup (self->comm_pss_kib, l->data);
    printf ("session_processes_pss_kib_%s %" G_GUINT64_FORMAT "\n", key, kib ? *kib : 0);
  }

  for (guint i = 0; i < n; i++) {
    FhBenchSession *s = g_ptr_array_index (self->sessions, i);

    printf ("s%u_fps %.2f\n", s->index, s->frames / window_s);
    printf ("s%u_frames %" G_GUINT64_FORMAT "\n", s->index, s->frames);
    printf ("s%u_dropped %" G_GINT64_FORMAT "\n", s->index, s->dropped_last - s->dropped_before);
    printf ("s%u_stats_seconds %u\n", s->index, s->stats_in_window);
    printf ("s%u_encode_thread_cpu_cores %.3f\n", s->index, s->thread_cpu_us / 1e6 / window_s);
    printf ("s%u_processes %u\n", s->index, s->processes);
    printf ("s%u_processes_cpu_cores %.3f\n", s->index, s->process_cpu_us / 1e6 / window_s);
    printf ("s%u_processes_rss_kib %" G_GUINT64_FORMAT "\n", s->index, s->rss_kib);
    printf ("s%u_processes_pss_kib %" G_GUINT64_FORMAT "\n", s->index, s->pss_kib);
    printf ("s%u_capture_to_receive_ms_p50 %.3f\n", s->index,
            fh_percentile_ms (s->receive_us, 0.50));
    printf ("s%u_capture_to_receive_ms_p99 %.3f\n", s->index,
            fh_percentile_ms (s->receive_us, 0.99));
    /* From our hello going out: the host welcomes us once the session's
     * desktop is up; then its first picture is captured, encoded, sent. */
    printf ("s%u_hello_to_welcome_ms %.1f\n", s->index, (s->welcome_us - s->hello_us) / 1000.0);
    printf ("s%u_hello_to_first_frame_ms %.1f\n", s->index,
            (s->first_frame_us - s->hello_us) / 1000.0);
  }
}

static void
bench_client_clear (FhBenchClient *self)
{
  g_clear_pointer (&self->sessions, g_ptr_array_unref);
  g_clear_object (&self->http);
  g_clear_pointer (&self->ws_url, g_free);
  g_clear_pointer (&self->loop, g_main_loop_unref);
  g_clear_pointer (&self->comm_cpu_us, g_hash_table_unref);
  g_clear_pointer (&self->comm_pss_kib, g_hash_table_unref);
  g_clear_pointer (&self->receive_us, g_array_unref);
  g_clear_pointer (&self->encoded_us, g_array_unref);
  g_clear_pointer (&self->interarrival_us, g_array_unref);
  g_clear_pointer (&self->pad_sent_us, g_array_unref);
  g_clear_pointer (&self->stats_p50, g_array_unref);
  g_clear_pointer (&self->stats_p99, g_array_unref);
}

int
main (int argc, char **argv)
{
  gint port = 0, width = 1920, height = 1080, fps = 60, bitrate = 0, host_pid = 0;
  gint sessions = 1;
  double seconds = 10.0, warmup = 2.0;
  gboolean verbose = FALSE, one_by_one = FALSE, no_acks = FALSE;
  g_autofree char *pin = NULL, *host = NULL, *credential = NULL, *pad_log = NULL;
  GOptionEntry entries[] = {
    { "port", 'p', 0, G_OPTION_ARG_INT, &port, "the host's HTTPS port", "PORT" },
    { "host", 0, 0, G_OPTION_ARG_STRING, &host, "host name (default localhost)", "NAME" },
    { "pin", 0, 0, G_OPTION_ARG_STRING, &pin, "the pairing PIN the host printed", "PIN" },
    { "credential", 0, 0, G_OPTION_ARG_FILENAME, &credential,
      "pair only if FILE does not exist yet, and keep the device id and token there: later runs "
      "against a host with the same config dir open sessions as the same device",
      "FILE" },
    { "host-pid", 0, 0, G_OPTION_ARG_INT, &host_pid, "pid of funkhaus serve (for its CPU time)",
      "PID" },
    { "width", 'W', 0, G_OPTION_ARG_INT, &width, "mode width (default 1920)", "PX" },
    { "height", 'H', 0, G_OPTION_ARG_INT, &height, "mode height (default 1080)", "PX" },
    { "fps", 'r', 0, G_OPTION_ARG_INT, &fps, "mode refresh (default 60)", "HZ" },
    { "bitrate", 'b', 0, G_OPTION_ARG_INT, &bitrate, "kb/s (default: the host's)", "KBPS" },
    { "sessions", 'n', 0, G_OPTION_ARG_INT, &sessions,
      "sessions to open at once, one WebSocket each, one pairing (default 1)", "N" },
    { "one-by-one", 0, 0, G_OPTION_ARG_NONE, &one_by_one,
      "send each session's hello only after the previous one's welcome, so that the host "
      "numbers them (FUNKHAUS_SESSION_SERIAL) as we do; otherwise all at once",
      NULL },
    { "no-acks", 0, 0, G_OPTION_ARG_NONE, &no_acks,
      "do not ack frames (the web client acks them, in pairs): the host then judges the backlog by "
      "what its kernel still holds",
      NULL },
    { "seconds", 's', 0, G_OPTION_ARG_DOUBLE, &seconds, "measured time (default 10)", "S" },
    { "warmup", 'w', 0, G_OPTION_ARG_DOUBLE, &warmup,
      "unmeasured time after the last welcome (default 2)", "S" },
    { "pad-log", 0, 0, G_OPTION_ARG_FILENAME, &pad_log,
      "in the window, session 1's gamepad presses A and lets go in turn every 50 ms; when each "
      "went out (CLOCK_REALTIME µs, 'down' or 'up') is written to FILE",
      "FILE" },
    { "verbose", 'v', 0, G_OPTION_ARG_NONE, &verbose,
      "print every stats message on stderr, with its time from the window's start", NULL },
    { NULL },
  };
  g_autoptr (GOptionContext) options =
    g_option_context_new ("- benchmark sessions against funkhaus serve");
  g_autoptr (GError) error = NULL;
  g_autofree char *base = NULL, *device = NULL, *token = NULL;
  g_autofree char *bitrate_field = NULL;
  FhBenchClient self = { .exit_code = 1 };
  guint deadline;

  g_option_context_add_main_entries (options, entries, NULL);
  if (!g_option_context_parse (options, &argc, &argv, &error)) {
    fprintf (stderr, "fh-bench-client: %s\n", error->message);
    return 2;
  }
  if (credential)
    load_credential (credential, &device, &token);
  if (port <= 0 || port > 65535 || (!pin && !device) || host_pid <= 0 || seconds <= 0 ||
      warmup < 0) {
    fprintf (stderr, "fh-bench-client: --port, --pin (or a --credential kept before) and "
                     "--host-pid are needed\n");
    return 2;
  }
  if (sessions < 1 || sessions > 64) {
    fprintf (stderr, "fh-bench-client: --sessions must be 1 to 64\n");
    return 2;
  }
  if (fh_bench_process_cpu_us (host_pid) < 0) {
    fprintf (stderr, "fh-bench-client: cannot read /proc/%d/stat\n", host_pid);
    return 2;
  }
  self.host_pid = host_pid;
  self.seconds = seconds;
  self.warmup_s = warmup;
  self.verbose = verbose;
  self.one_by_one = one_by_one;
  self.no_acks = no_acks;
  self.pad_log = pad_log;
  self.pad_sent_us = g_array_new (FALSE, FALSE, sizeof (gint64));
  self.loop = g_main_loop_new (NULL, FALSE);
  self.sessions = g_ptr_array_new_with_free_func (bench_session_free);
  self.comm_cpu_us = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  self.comm_pss_kib = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  self.receive_us = g_array_new (FALSE, FALSE, sizeof (gint64));
  self.encoded_us = g_array_new (FALSE, FALSE, sizeof (gint64));
  self.interarrival_us = g_array_new (FALSE, FALSE, sizeof (gint64));
  self.stats_p50 = g_array_new (FALSE, FALSE, sizeof (double));
  self.stats_p99 = g_array_new (FALSE, FALSE, sizeof (double));
  fh_bench_process_memory (host_pid, &self.host_idle_rss_kib, &self.host_idle_pss_kib);

  base = g_strdup_printf ("https://%s:%d", host ? host : "localhost", port);
  self.ws_url = g_strdup_printf ("wss://%s:%d/ws", host ? host : "localhost", port);
  /* One connection per session: libsoup's default allows only 2 per host. */
  self.http = soup_session_new_with_options ("max-conns", 2 * sessions + 2, "max-conns-per-host",
                                             2 * sessions + 2, NULL);
  /* Offers permessage-deflate as every browser does: what the host agrees
   * to (nothing, docs/protocol.md) is what a browser's session costs. */
  soup_session_add_feature_by_type (self.http, SOUP_TYPE_WEBSOCKET_EXTENSION_MANAGER);
  if (!device && (!pair (self.http, base, pin, &device, &token, &error) ||
                  (credential && !save_credential (credential, device, token, &error)))) {
    fprintf (stderr, "fh-bench-client: %s\n", error->message);
    bench_client_clear (&self);
    return 1;
  }

  /* One device may hold several sessions: every hello without "resume"
   * makes a new one. */
  if (bitrate > 0)
    bitrate_field = g_strdup_printf (", \"bitrate_kbps\": %d", bitrate);
  for (gint i = 0; i < sessions; i++) {
    FhBenchSession *s = g_new0 (FhBenchSession, 1);

    s->client = &self;
    s->index = (guint) i + 1;
    s->last_frame = -1;
    s->process_cpu0 = g_hash_table_new_full (g_direct_hash, g_direct_equal, NULL, g_free);
    s->receive_us = g_array_new (FALSE, FALSE, sizeof (gint64));
    s->hello = g_strdup_printf (
      "{\"type\": \"hello\", \"protocol\": 1, \"credential\": {\"device\": \"%s\", \"token\": "
      "\"%s\"}, \"mode\": {\"width\": %d, \"height\": %d, \"refresh\": %d}, \"codecs\": "
      "[\"h264\"]%s%s}",
      device, token, width, height, fps, bitrate_field ? bitrate_field : "",
      no_acks ? "" : ", \"acks\": true");
    g_ptr_array_add (self.sessions, s);
  }
  for (guint i = 0; i < (one_by_one ? 1 : self.sessions->len); i++)
    open_session (g_ptr_array_index (self.sessions, i));

  printf ("client: %d session%s%s at %dx%d@%d against %s, host pid %d, %.0f s warm-up + %.0f s "
          "measured, %s\n",
          sessions, sessions == 1 ? "" : "s", one_by_one && sessions > 1 ? " one by one" : "",
          width, height, fps, base, host_pid, warmup, seconds,
          no_acks ? "no acks" : "acking frames in pairs");
  fflush (stdout);
  self.timeout_source = g_timeout_add (50, on_tick, &self);
  /* Bounded no matter what: 10 s (and 3 s more per further session, for
   * compositors to start) to get every welcome, then the window. */
  deadline = g_timeout_add_seconds ((guint) (10 + 3 * (sessions - 1) + warmup + seconds + 5),
                                    on_deadline, &self);
  g_main_loop_run (self.loop);
  if (self.pad_log)
    write_pad_log (&self);
  g_source_remove (self.timeout_source);
  g_source_remove (deadline);
  /* Let the close frames go out. */
  for (int i = 0; i < 20; i++) {
    gboolean open = FALSE;

    for (guint j = 0; j < self.sessions->len; j++) {
      FhBenchSession *s = g_ptr_array_index (self.sessions, j);
      open |= s->ws && soup_websocket_connection_get_state (s->ws) != SOUP_WEBSOCKET_STATE_CLOSED;
    }
    if (!open)
      break;
    g_main_context_iteration (NULL, FALSE), g_usleep (5000);
  }

  if (self.exit_code == 0) {
    for (guint i = 0; i < self.sessions->len; i++) {
      FhBenchSession *s = g_ptr_array_index (self.sessions, i);
      if (s->frames == 0) {
        fprintf (stderr, "fh-bench-client: no video frame of session %u arrived in the measured "
                         "window\n",
                 s->index);
        self.exit_code = 1;
      }
    }
  }
  if (self.exit_code == 0)
    print_results (&self);

  bench_client_clear (&self);
  return self.exit_code;
}
