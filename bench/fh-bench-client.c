/* A benchmark client for `funkhaus serve`: pairs with a PIN, opens one
 * session over the WebSocket like a browser would, receives video for a
 * bounded time and reports the host's CPU time per frame and its latency.
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
#include "net/protocol.h"

typedef struct {
  GMainLoop *loop;
  SoupWebsocketConnection *ws;
  int exit_code;
  pid_t host_pid;
  double warmup_s;
  double seconds;
  gboolean verbose;

  gint64 welcome_us;
  gint64 measure_us; /* start of the measured window */
  gint64 end_us;
  gboolean measuring;
  gboolean done;
  gint64 host_cpu0, host_cpu1; /* µs */
  gint64 self_cpu0, self_cpu1;
  gint64 wall0, wall1;

  guint64 frames_total;
  guint64 frames; /* in the window */
  guint64 bytes;
  guint64 keyframes;
  guint64 frame_gaps; /* frame numbers skipped between received frames */
  gint64 last_frame;
  GArray *receive_us; /* capture → received, per frame */
  GArray *encoded_us; /* capture → encoded (header), per frame */
  GArray *interarrival_us;
  gint64 last_arrival_us;

  /* From the host's stats messages received in the window. */
  GArray *stats_p50; /* capture_to_send_ms_p50, double */
  GArray *stats_p99;
  gint64 dropped_seen; /* the last cumulative "dropped" received */
  gint64 dropped_before; /* … before the first stats message of the window */
  gint64 dropped_last; /* … in the last stats message of the window */
  guint stats_in_window;
  guint timeout_source;
} FhBenchClient;

/* utime + stime of @pid, µs; -1 when it cannot be read. */
static gint64
process_cpu_us (pid_t pid)
{
  g_autofree char *path = g_strdup_printf ("/proc/%d/stat", (int) pid);
  g_autofree char *text = NULL;
  const char *p;
  unsigned long long utime, stime;
  long ticks = sysconf (_SC_CLK_TCK);

  if (!g_file_get_contents (path, &text, NULL, NULL))
    return -1;
  /* The command name may hold spaces and parentheses: fields start after
   * the last ')'. utime and stime are fields 14 and 15. */
  if (!(p = strrchr (text, ')')))
    return -1;
  if (sscanf (p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &utime, &stime) != 2)
    return -1;
  return (gint64) ((utime + stime) * (unsigned long long) G_USEC_PER_SEC / (unsigned long long) ticks);
}

static gboolean
accept_any_certificate (SoupMessage *msg, GTlsCertificate *cert, GTlsCertificateFlags errors,
                        gpointer user_data)
{
  return TRUE; /* the host's self-signed certificate, on localhost */
}

static void
finish (FhBenchClient *self, int code)
{
  if (self->done)
    return;
  self->done = TRUE;
  self->exit_code = code;
  if (self->ws && soup_websocket_connection_get_state (self->ws) == SOUP_WEBSOCKET_STATE_OPEN)
    soup_websocket_connection_close (self->ws, SOUP_WEBSOCKET_CLOSE_NORMAL, "bench done");
  g_main_loop_quit (self->loop);
}

static void
start_window (FhBenchClient *self, gint64 now)
{
  self->measuring = TRUE;
  self->wall0 = now;
  self->host_cpu0 = process_cpu_us (self->host_pid);
  self->self_cpu0 = fh_bench_self_cpu_us ();
}

static void
end_window (FhBenchClient *self, gint64 now)
{
  self->wall1 = now;
  self->host_cpu1 = process_cpu_us (self->host_pid);
  self->self_cpu1 = fh_bench_self_cpu_us ();
  self->measuring = FALSE;
}

/* A stats message covers the second before it arrived; the host's seconds
 * are not aligned with our window, so one counts when most of its second
 * lies inside: it arrived between 0.5 s after the window's start and 0.5 s
 * after its end. */
#define STATS_SLACK_US (G_USEC_PER_SEC / 2)

/* The window is checked on every message and by a timer, so it closes on
 * time even if the stream stalls. */
static void
check_window (FhBenchClient *self, gint64 now)
{
  if (!self->welcome_us || self->done)
    return;
  if (!self->measuring && !self->wall0 && now >= self->measure_us)
    start_window (self, now);
  if (self->measuring && now >= self->end_us)
    end_window (self, now);
  if (self->wall1 && now >= self->end_us + STATS_SLACK_US + G_USEC_PER_SEC / 10)
    finish (self, 0);
}

static gboolean
on_tick (gpointer user_data)
{
  FhBenchClient *self = user_data;

  check_window (self, g_get_monotonic_time ());
  return G_SOURCE_CONTINUE;
}

static void
on_text (FhBenchClient *self, const char *text, gsize len, gint64 now)
{
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
    self->welcome_us = now;
    self->measure_us = now + (gint64) (self->warmup_s * G_USEC_PER_SEC);
    self->end_us = self->measure_us + (gint64) (self->seconds * G_USEC_PER_SEC);
    printf ("welcome: session %s\n", json_object_get_string_member_with_default (obj, "session", "?"));
    fflush (stdout);
  } else if (g_str_equal (type, "stats")) {
    gint64 dropped = json_object_get_int_member_with_default (obj, "dropped", 0);

    if (self->verbose)
      fprintf (stderr, "%+8.3f s from the window's start: %.*s\n",
               (now - self->measure_us) / 1e6, (int) len, text);
    if (self->welcome_us && now >= self->measure_us + STATS_SLACK_US &&
        now < self->end_us + STATS_SLACK_US) {
      double v;

      if (self->stats_in_window++ == 0)
        self->dropped_before = self->dropped_seen;
      self->dropped_last = dropped;

      v = json_object_get_double_member_with_default (obj, "capture_to_send_ms_p50", 0);
      g_array_append_val (self->stats_p50, v);
      v = json_object_get_double_member_with_default (obj, "capture_to_send_ms_p99", 0);
      g_array_append_val (self->stats_p99, v);
    }
    self->dropped_seen = dropped;
  } else if (g_str_equal (type, "error") || g_str_equal (type, "state")) {
    fprintf (stderr, "fh-bench-client: host says: %s\n", text);
    if (g_str_equal (type, "error"))
      finish (self, 1);
  }
}

static void
on_binary (FhBenchClient *self, const guint8 *data, gsize len, gint64 now)
{
  FhVideoHeader header;
  g_autoptr (GError) error = NULL;

  if (!fh_proto_parse_video_header (data, len, &header, &error)) {
    fprintf (stderr, "fh-bench-client: %s\n", error->message);
    return;
  }
  self->frames_total++;
  if (self->measuring) {
    gint64 rx = now - (gint64) header.capture_us, enc = header.encode_us;

    g_array_append_val (self->receive_us, rx);
    g_array_append_val (self->encoded_us, enc);
    if (self->last_arrival_us) {
      gint64 gap = now - self->last_arrival_us;
      g_array_append_val (self->interarrival_us, gap);
    }
    if (self->last_frame >= 0 && header.frame > self->last_frame + 1)
      self->frame_gaps += header.frame - (guint64) self->last_frame - 1;
    self->frames++;
    self->bytes += len;
    self->keyframes += header.keyframe;
  }
  self->last_frame = header.frame;
  self->last_arrival_us = now;
}

static void
on_message (SoupWebsocketConnection *ws, gint type, GBytes *message, gpointer user_data)
{
  FhBenchClient *self = user_data;
  gint64 now = g_get_monotonic_time ();
  gsize len;
  const guint8 *data = g_bytes_get_data (message, &len);

  if (self->done)
    return;
  if (type == SOUP_WEBSOCKET_DATA_TEXT)
    on_text (self, (const char *) data, len, now);
  else
    on_binary (self, data, len, now);
  check_window (self, now);
}

static void
on_closed (SoupWebsocketConnection *ws, gpointer user_data)
{
  FhBenchClient *self = user_data;

  if (!self->done) {
    fprintf (stderr, "fh-bench-client: the host closed the WebSocket (%u: %s)\n",
             soup_websocket_connection_get_close_code (ws),
             soup_websocket_connection_get_close_data (ws) ? soup_websocket_connection_get_close_data (ws) : "");
    finish (self, 1);
  }
}

typedef struct {
  FhBenchClient *self;
  char *hello;
} FhConnectData;

static void
on_connected (GObject *source, GAsyncResult *result, gpointer user_data)
{
  FhConnectData *cd = user_data;
  FhBenchClient *self = cd->self;
  g_autoptr (GError) error = NULL;

  self->ws = soup_session_websocket_connect_finish (SOUP_SESSION (source), result, &error);
  if (!self->ws) {
    fprintf (stderr, "fh-bench-client: WebSocket: %s\n", error->message);
    finish (self, 1);
  } else {
    /* Video messages exceed libsoup's default 128 KiB limit at an IDR. */
    soup_websocket_connection_set_max_incoming_payload_size (self->ws, 0);
    g_signal_connect (self->ws, "message", G_CALLBACK (on_message), self);
    g_signal_connect (self->ws, "closed", G_CALLBACK (on_closed), self);
    soup_websocket_connection_send_text (self->ws, cd->hello);
  }
  g_free (cd->hello);
  g_free (cd);
}

static gboolean
on_deadline (gpointer user_data)
{
  FhBenchClient *self = user_data;

  fprintf (stderr, "fh-bench-client: gave up: no %s in time\n",
           self->welcome_us ? "end of the window" : "welcome");
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

int
main (int argc, char **argv)
{
  gint port = 0, width = 1920, height = 1080, fps = 60, bitrate = 0, host_pid = 0;
  double seconds = 10.0, warmup = 2.0;
  gboolean verbose = FALSE;
  g_autofree char *pin = NULL, *host = NULL;
  GOptionEntry entries[] = {
    { "port", 'p', 0, G_OPTION_ARG_INT, &port, "the host's HTTPS port", "PORT" },
    { "host", 0, 0, G_OPTION_ARG_STRING, &host, "host name (default localhost)", "NAME" },
    { "pin", 0, 0, G_OPTION_ARG_STRING, &pin, "the pairing PIN the host printed", "PIN" },
    { "host-pid", 0, 0, G_OPTION_ARG_INT, &host_pid, "pid of funkhaus serve (for its CPU time)",
      "PID" },
    { "width", 'W', 0, G_OPTION_ARG_INT, &width, "mode width (default 1920)", "PX" },
    { "height", 'H', 0, G_OPTION_ARG_INT, &height, "mode height (default 1080)", "PX" },
    { "fps", 'r', 0, G_OPTION_ARG_INT, &fps, "mode refresh (default 60)", "HZ" },
    { "bitrate", 'b', 0, G_OPTION_ARG_INT, &bitrate, "kb/s (default: the host's)", "KBPS" },
    { "seconds", 's', 0, G_OPTION_ARG_DOUBLE, &seconds, "measured time (default 10)", "S" },
    { "warmup", 'w', 0, G_OPTION_ARG_DOUBLE, &warmup, "unmeasured time after welcome (default 2)",
      "S" },
    { "verbose", 'v', 0, G_OPTION_ARG_NONE, &verbose,
      "print every stats message on stderr, with its time from the window's start", NULL },
    { NULL },
  };
  g_autoptr (GOptionContext) options =
    g_option_context_new ("- one benchmark session against funkhaus serve");
  g_autoptr (GError) error = NULL;
  g_autoptr (SoupSession) session = NULL;
  g_autoptr (SoupMessage) ws_msg = NULL;
  g_autofree char *base = NULL, *ws_url = NULL, *device = NULL, *token = NULL;
  g_autofree char *bitrate_field = NULL;
  FhBenchClient self = { .exit_code = 1, .last_frame = -1 };
  FhConnectData *cd;
  guint deadline;

  g_option_context_add_main_entries (options, entries, NULL);
  if (!g_option_context_parse (options, &argc, &argv, &error)) {
    fprintf (stderr, "fh-bench-client: %s\n", error->message);
    return 2;
  }
  if (port <= 0 || port > 65535 || !pin || host_pid <= 0 || seconds <= 0 || warmup < 0) {
    fprintf (stderr, "fh-bench-client: --port, --pin and --host-pid are needed\n");
    return 2;
  }
  if (process_cpu_us (host_pid) < 0) {
    fprintf (stderr, "fh-bench-client: cannot read /proc/%d/stat\n", host_pid);
    return 2;
  }
  self.host_pid = host_pid;
  self.seconds = seconds;
  self.warmup_s = warmup;
  self.verbose = verbose;
  self.loop = g_main_loop_new (NULL, FALSE);
  self.receive_us = g_array_new (FALSE, FALSE, sizeof (gint64));
  self.encoded_us = g_array_new (FALSE, FALSE, sizeof (gint64));
  self.interarrival_us = g_array_new (FALSE, FALSE, sizeof (gint64));
  self.stats_p50 = g_array_new (FALSE, FALSE, sizeof (double));
  self.stats_p99 = g_array_new (FALSE, FALSE, sizeof (double));

  base = g_strdup_printf ("https://%s:%d", host ? host : "localhost", port);
  ws_url = g_strdup_printf ("wss://%s:%d/ws", host ? host : "localhost", port);
  session = soup_session_new ();
  if (!pair (session, base, pin, &device, &token, &error)) {
    fprintf (stderr, "fh-bench-client: %s\n", error->message);
    return 1;
  }

  if (bitrate > 0)
    bitrate_field = g_strdup_printf (", \"bitrate_kbps\": %d", bitrate);
  cd = g_new0 (FhConnectData, 1);
  cd->self = &self;
  cd->hello = g_strdup_printf (
    "{\"type\": \"hello\", \"protocol\": 1, \"credential\": {\"device\": \"%s\", \"token\": \"%s\"},"
    " \"mode\": {\"width\": %d, \"height\": %d, \"refresh\": %d}, \"codecs\": [\"h264\"]%s}",
    device, token, width, height, fps, bitrate_field ? bitrate_field : "");
  ws_msg = soup_message_new ("GET", ws_url);
  g_signal_connect (ws_msg, "accept-certificate", G_CALLBACK (accept_any_certificate), NULL);
  soup_session_websocket_connect_async (session, ws_msg, NULL, NULL, G_PRIORITY_DEFAULT, NULL,
                                        on_connected, cd);

  printf ("client: %dx%d@%d against %s, host pid %d, %.0f s warm-up + %.0f s measured\n", width,
          height, fps, base, host_pid, warmup, seconds);
  fflush (stdout);
  self.timeout_source = g_timeout_add (50, on_tick, &self);
  /* Bounded no matter what: 10 s to get a welcome, then the window. */
  deadline = g_timeout_add_seconds ((guint) (10 + warmup + seconds + 5), on_deadline, &self);
  g_main_loop_run (self.loop);
  g_source_remove (self.timeout_source);
  g_source_remove (deadline);
  /* Let the close frame go out. */
  for (int i = 0; i < 20 && self.ws &&
                  soup_websocket_connection_get_state (self.ws) != SOUP_WEBSOCKET_STATE_CLOSED;
       i++)
    g_main_context_iteration (NULL, FALSE), g_usleep (5000);

  if (self.exit_code == 0 && self.frames > 0) {
    double window_s = (self.wall1 - self.wall0) / (double) G_USEC_PER_SEC;
    double host_cpu_ms = (self.host_cpu1 - self.host_cpu0) / 1000.0;
    double self_cpu_ms = (self.self_cpu1 - self.self_cpu0) / 1000.0;
    gint64 dropped = self.dropped_last - self.dropped_before;

    g_array_sort (self.stats_p50, fh_bench_compare_double);
    g_array_sort (self.stats_p99, fh_bench_compare_double);
    printf ("\n");
    printf ("frames             %" G_GUINT64_FORMAT "\n", self.frames);
    printf ("fps                %.2f\n", self.frames / window_s);
    printf ("kbps               %.0f\n", self.bytes * 8.0 / 1000.0 / window_s);
    printf ("keyframes          %" G_GUINT64_FORMAT "\n", self.keyframes);
    printf ("dropped            %" G_GINT64_FORMAT "\n", dropped);
    printf ("frame_number_gaps  %" G_GUINT64_FORMAT "\n", self.frame_gaps);
    printf ("stats_seconds      %u\n", self.stats_p50->len);
    printf ("cpu_ms_per_frame   %.3f\n", host_cpu_ms / self.frames);
    printf ("cpu_cores          %.3f\n", host_cpu_ms / 1000.0 / window_s);
    printf ("client_cpu_cores   %.3f\n", self_cpu_ms / 1000.0 / window_s);
    printf ("capture_to_encoded_ms_p50 %.3f\n", fh_percentile_ms (self.encoded_us, 0.50));
    printf ("capture_to_encoded_ms_p99 %.3f\n", fh_percentile_ms (self.encoded_us, 0.99));
    /* The host reports p50/p99 per second (about 60 frames each); these
     * are the medians of its per-second figures, and the worst second. */
    printf ("capture_to_send_ms_p50 %.3f\n", fh_bench_percentile_double (self.stats_p50, 0.50));
    printf ("capture_to_send_ms_p99 %.3f\n", fh_bench_percentile_double (self.stats_p99, 0.50));
    printf ("capture_to_send_ms_p99_worst_second %.3f\n",
            fh_bench_percentile_double (self.stats_p99, 1.0));
    printf ("capture_to_receive_ms_p50 %.3f\n", fh_percentile_ms (self.receive_us, 0.50));
    printf ("capture_to_receive_ms_p99 %.3f\n", fh_percentile_ms (self.receive_us, 0.99));
    printf ("capture_to_receive_ms_max %.3f\n", fh_percentile_ms (self.receive_us, 1.0));
    printf ("interarrival_ms_p50 %.3f\n", fh_percentile_ms (self.interarrival_us, 0.50));
    printf ("interarrival_ms_p99 %.3f\n", fh_percentile_ms (self.interarrival_us, 0.99));
    printf ("interarrival_ms_max %.3f\n", fh_percentile_ms (self.interarrival_us, 1.0));
  } else if (self.exit_code == 0) {
    fprintf (stderr, "fh-bench-client: no video frame arrived in the measured window\n");
    self.exit_code = 1;
  }

  g_clear_object (&self.ws);
  g_main_loop_unref (self.loop);
  g_array_unref (self.receive_us);
  g_array_unref (self.encoded_us);
  g_array_unref (self.interarrival_us);
  g_array_unref (self.stats_p50);
  g_array_unref (self.stats_p99);
  return self.exit_code;
}
