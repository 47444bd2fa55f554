/* Metrics, health and capacity: collected from the core's sessions and
 * rendered as Prometheus text or /healthz JSON. */
#include "core/metrics.h"

#include <json-glib/json-glib.h>
#include <stdio.h>
#include <unistd.h>

#include "base/process.h"
#include "base/prom-text.h"
#include "core/core.h"

struct _FhCoreMetrics {
  FhCore *core;
  guint sample_source;
  /* The walk of /proc for a timed sample runs on a thread of its own: on
   * a box with a thousand processes it takes tens of milliseconds, which
   * on the main loop would hold every session's frames back. */
  GMainContext *context;
  GThread *scan_thread; /* walking, or done and not joined yet */
  GMutex scan_lock;
  FhProcessTable *scanned; /* under scan_lock: the walk's table */
  GSource *scanned_source; /* under scan_lock: brings it to the main loop */
  /* The last sample's walk, which /metrics reads too: a scrape walks
   * nothing. NULL: there were no sessions. */
  FhProcessTable *table;
  gint64 sampled_us; /* 0: never */
  /* /proc/stat's "cpu" line and the host's own CPU time at the last sample. */
  guint64 stat_total, stat_idle;
  double host_cpu;
  GHashTable *session_cpu; /* id → double*: its processes' CPU at the last sample */
  /* Measured: cores per million pixels a second (width × height × Hz), and
   * how many sessions that came from; kept after they end. */
  double cores_per_mpixel_s;
  guint measured_sessions;
  double idle_cores; /* over the last sample's window; -1: not known yet */
  guint desktops_started, desktops_failed, failures_in_a_row;
  /* Moonlight clients' PIN pairings: the PIN entered, and refused. */
  guint64 pin_attempts, pin_refusals;
};

/* A pairing by the PIN a client shows (Moonlight) moved on: a PIN entered
 * is an attempt, one that did not work a refusal. The prompts go before
 * the metrics (fh_core_free), which never remove this observer. */
static void
on_prompt (FhPrompt *prompt, FhPromptState state, const char *detail, gpointer data)
{
  FhCoreMetrics *self = data;

  if (fh_prompt_get_kind (prompt) != FH_PROMPT_PIN)
    return;
  if (state == FH_PROMPT_ANSWERED)
    self->pin_attempts++;
  else if (state == FH_PROMPT_FAILED)
    self->pin_refusals++;
}

FhCoreMetrics *
fh_core_metrics_new (FhCore *core)
{
  FhCoreMetrics *self = g_new0 (FhCoreMetrics, 1);

  self->core = core;
  self->session_cpu = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  self->idle_cores = -1;
  g_mutex_init (&self->scan_lock);
  fh_prompts_add_observer (fh_core_get_prompts (core), on_prompt, self);
  return self;
}

void
fh_core_metrics_free (FhCoreMetrics *self)
{
  if (!self)
    return;
  fh_core_metrics_stop (self);
  g_clear_pointer (&self->table, fh_process_table_free);
  g_hash_table_unref (self->session_cpu);
  g_clear_pointer (&self->context, g_main_context_unref);
  g_mutex_clear (&self->scan_lock);
  g_free (self);
}

static gboolean
read_proc_stat (guint64 *total, guint64 *idle)
{
  g_autofree char *text = NULL;
  guint64 v[8] = { 0 };

  if (!g_file_get_contents ("/proc/stat", &text, NULL, NULL))
    return FALSE;
  if (sscanf (text, "cpu %" G_GUINT64_FORMAT " %" G_GUINT64_FORMAT " %" G_GUINT64_FORMAT
                    " %" G_GUINT64_FORMAT " %" G_GUINT64_FORMAT " %" G_GUINT64_FORMAT
                    " %" G_GUINT64_FORMAT " %" G_GUINT64_FORMAT,
              &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7]) < 5)
    return FALSE;
  *idle = v[3] + v[4]; /* idle + iowait */
  *total = 0;
  for (guint i = 0; i < G_N_ELEMENTS (v); i++)
    *total += v[i];
  return TRUE;
}

static double
host_cpu_seconds (void)
{
  double cpu = 0;
  guint64 rss;

  fh_process_read_usage ("/proc/self/stat", &cpu, &rss);
  return cpu;
}

static double
mpixels_per_s (const FhMode *mode)
{
  return (double) mode->width * mode->height * mode->refresh / 1e6;
}

static gboolean
is_streaming (FhSession *session)
{
  return fh_session_get_state (session) == FH_SESSION_STATE_STREAMING;
}

/* A sample with @table, a walk of /proc (NULL when there are no
 * sessions), which it keeps. */
static void
sample_with (FhCoreMetrics *self, GPtrArray *sessions, FhProcessTable *table)
{
  g_autoptr (GHashTable) now_cpu = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  gint64 now = g_get_monotonic_time ();
  double dt = self->sampled_us ? (now - self->sampled_us) / 1e6 : 0;
  double host = host_cpu_seconds (), session_rates = 0, mpixels = 0;
  guint64 total = 0, idle = 0;
  guint measured = 0;

  if (read_proc_stat (&total, &idle)) {
    if (self->sampled_us && total > self->stat_total)
      self->idle_cores = (double) g_get_num_processors () * (double) (idle - self->stat_idle) /
                         (double) (total - self->stat_total);
    self->stat_total = total;
    self->stat_idle = idle;
  }
  for (guint i = 0; i < sessions->len; i++) {
    FhSession *session = sessions->pdata[i];
    FhSessionUsage usage;
    double *before;

    if (!is_streaming (session))
      continue;
    fh_session_read_usage (session, table, &usage);
    g_hash_table_insert (now_cpu, g_strdup (fh_session_get_id (session)),
                         g_memdup2 (&usage.cpu_seconds, sizeof (double)));
    /* A session counts once it was seen streaming at both ends of a window. */
    before = g_hash_table_lookup (self->session_cpu, fh_session_get_id (session));
    if (!before || dt <= 0)
      continue;
    session_rates += MAX (usage.cpu_seconds - *before, 0) / dt;
    mpixels += mpixels_per_s (fh_session_get_mode (session));
    measured++;
  }
  /* The host's own CPU (encode threads, the encoder's workers, sending) is
   * shared among the sessions it served in the window. */
  if (measured > 0 && mpixels > 0) {
    double cost = (session_rates + MAX (host - self->host_cpu, 0) / dt) / mpixels;
    self->cores_per_mpixel_s = self->measured_sessions ? (self->cores_per_mpixel_s + cost) / 2 : cost;
    self->measured_sessions = measured;
  }
  g_hash_table_unref (self->session_cpu);
  self->session_cpu = g_steal_pointer (&now_cpu);
  self->host_cpu = host;
  self->sampled_us = now;
  g_clear_pointer (&self->table, fh_process_table_free);
  self->table = table;
}

void
fh_core_metrics_sample (FhCoreMetrics *self)
{
  g_autoptr (GPtrArray) sessions = fh_core_list_sessions (self->core);

  sample_with (self, sessions, sessions->len ? fh_process_table_new () : NULL);
}

static gboolean
on_scanned (gpointer data)
{
  FhCoreMetrics *self = data;
  g_autoptr (GPtrArray) sessions = fh_core_list_sessions (self->core);
  FhProcessTable *table;

  g_clear_pointer (&self->scan_thread, g_thread_join);
  g_mutex_lock (&self->scan_lock);
  table = g_steal_pointer (&self->scanned);
  g_clear_pointer (&self->scanned_source, g_source_unref);
  g_mutex_unlock (&self->scan_lock);
  sample_with (self, sessions, table);
  return G_SOURCE_REMOVE;
}

static gpointer
scan_thread (gpointer data)
{
  FhCoreMetrics *self = data;
  FhProcessTable *table = fh_process_table_new ();
  GSource *source = g_idle_source_new ();

  g_source_set_callback (source, on_scanned, self, NULL);
  g_source_set_static_name (source, "fh-metrics-scanned");
  g_mutex_lock (&self->scan_lock);
  self->scanned = table;
  self->scanned_source = source;
  g_source_attach (source, self->context);
  g_mutex_unlock (&self->scan_lock);
  return NULL;
}

static gboolean
on_sample (gpointer data)
{
  FhCoreMetrics *self = data;
  g_autoptr (GPtrArray) sessions = NULL;

  if (self->scan_thread)
    return G_SOURCE_CONTINUE; /* the last walk is not back yet */
  sessions = fh_core_list_sessions (self->core);
  if (!sessions->len)
    sample_with (self, sessions, NULL);
  else if (!(self->scan_thread = g_thread_try_new ("fh-metrics", scan_thread, self, NULL)))
    sample_with (self, sessions, fh_process_table_new ()); /* no thread to be had: here */
  return G_SOURCE_CONTINUE;
}

void
fh_core_metrics_start (FhCoreMetrics *self)
{
  if (self->sample_source)
    return;
  if (!self->context)
    self->context = g_main_context_ref_thread_default ();
  fh_core_metrics_sample (self);
  self->sample_source = g_timeout_add_seconds (FH_METRICS_SAMPLE_S, on_sample, self);
}

void
fh_core_metrics_stop (FhCoreMetrics *self)
{
  g_clear_handle_id (&self->sample_source, g_source_remove);
  /* A walk under way is waited for and its result dropped. */
  g_clear_pointer (&self->scan_thread, g_thread_join);
  if (self->scanned_source)
    g_source_destroy (self->scanned_source);
  g_clear_pointer (&self->scanned_source, g_source_unref);
  g_clear_pointer (&self->scanned, fh_process_table_free);
}

void
fh_core_metrics_note_desktop (FhCoreMetrics *self, gboolean ok)
{
  if (ok) {
    self->desktops_started++;
    self->failures_in_a_row = 0;
  } else {
    self->desktops_failed++;
    self->failures_in_a_row++;
  }
}

int
fh_core_capacity (FhCore *core, const FhMode *mode)
{
  FhCoreMetrics *self = fh_core_get_metrics (core);
  double per_session = self->cores_per_mpixel_s * mpixels_per_s (mode);

  if (self->measured_sessions == 0 || self->idle_cores < 0 || per_session <= 0)
    return -1;
  return (int) (self->idle_cores / per_session);
}

gboolean
fh_mode_parse (const char *text, FhMode *mode)
{
  guint w, h, hz;
  char end;

  if (!text || sscanf (text, "%ux%u@%u%c", &w, &h, &hz, &end) != 3 || w == 0 || h == 0 ||
      hz == 0 || w > 16384 || h > 16384 || hz > 1000)
    return FALSE;
  *mode = (FhMode) { .width = w, .height = h, .refresh = hz };
  return TRUE;
}

/* ---- Prometheus text ---------------------------------------------------- */

static void
render_sessions (GString *out, GPtrArray *sessions)
{
  g_autoptr (GHashTable) counts = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  g_autoptr (GHashTable) clients = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  GHashTableIter iter;
  gpointer key, value;

  for (guint i = 0; i < sessions->len; i++) {
    FhSession *s = sessions->pdata[i];
    char *k = g_strjoin ("\n", fh_session_state_to_string (fh_session_get_state (s)),
                         fh_session_get_backend_name (s), fh_session_get_plane (s), NULL);
    g_hash_table_insert (counts, k, GUINT_TO_POINTER (GPOINTER_TO_UINT (g_hash_table_lookup (counts, k)) + 1));
    if (fh_session_has_peer (s)) {
      const char *plane = fh_session_get_plane (s);
      g_hash_table_insert (clients, g_strdup (plane),
                           GUINT_TO_POINTER (GPOINTER_TO_UINT (g_hash_table_lookup (clients, plane)) + 1));
    }
  }
  fh_prom_family (out, "funkhaus_sessions", "gauge",
                  "Sessions now, by state, backend and the plane of their client.");
  g_hash_table_iter_init (&iter, counts);
  while (g_hash_table_iter_next (&iter, &key, &value)) {
    g_auto (GStrv) parts = g_strsplit (key, "\n", 3);
    const char *labels[] = { "state", parts[0], "backend", parts[1], "plane", parts[2], NULL };
    fh_prom_sample (out, "funkhaus_sessions", labels, GPOINTER_TO_UINT (value));
  }
  fh_prom_family (out, "funkhaus_clients", "gauge", "Clients bound to a session now, by plane.");
  g_hash_table_iter_init (&iter, clients);
  while (g_hash_table_iter_next (&iter, &key, &value)) {
    const char *labels[] = { "plane", key, NULL };
    fh_prom_sample (out, "funkhaus_clients", labels, GPOINTER_TO_UINT (value));
  }
}

/* One family over every session: what @get returns for each. */
typedef double (*SessionValue) (FhSession *s, const FhSessionUsage *usage);

static double v_frames (FhSession *s, const FhSessionUsage *u) { return fh_session_get_counters (s)->frames_sent; }
static double v_skipped (FhSession *s, const FhSessionUsage *u) { return fh_session_get_counters (s)->frames_skipped; }
static double v_dropped (FhSession *s, const FhSessionUsage *u) { return fh_session_get_frames_dropped (s); }
static double v_bytes (FhSession *s, const FhSessionUsage *u) { return fh_session_get_counters (s)->bytes_sent; }
static double v_bitrate (FhSession *s, const FhSessionUsage *u) { return fh_session_get_counters (s)->bitrate_bps; }
static double v_target (FhSession *s, const FhSessionUsage *u) { return fh_session_get_target_bitrate (s) * 1000.0; }
static double v_audio (FhSession *s, const FhSessionUsage *u) { return fh_session_get_counters (s)->audio_packets; }
static double v_input (FhSession *s, const FhSessionUsage *u) { return fh_session_get_counters (s)->input_events; }
static double v_refused (FhSession *s, const FhSessionUsage *u) { return fh_session_get_counters (s)->input_refused; }
static double v_cpu (FhSession *s, const FhSessionUsage *u) { return u->cpu_seconds; }
static double v_memory (FhSession *s, const FhSessionUsage *u) { return (double) u->memory_bytes; }
static double v_encode_cpu (FhSession *s, const FhSessionUsage *u) { return u->encode_cpu_seconds; }

static const struct {
  const char *name, *type, *help;
  SessionValue get;
  gboolean needs_usage; /* only where its processes could be read */
} session_families[] = {
  { "funkhaus_session_frames_sent_total", "counter", "Video frames sent to the session's client.", v_frames },
  { "funkhaus_session_frames_skipped_total", "counter", "Frames its client's link could not take.", v_skipped },
  { "funkhaus_session_frames_dropped_total", "counter", "Frames the capture thread dropped (it fell behind or too many were in flight).", v_dropped },
  { "funkhaus_session_sent_bytes_total", "counter", "Encoded video bytes sent.", v_bytes },
  { "funkhaus_session_bitrate_bits_per_second", "gauge", "Video sent over the last second.", v_bitrate },
  { "funkhaus_session_target_bitrate_bits_per_second", "gauge", "What the encoder aims at now.", v_target },
  { "funkhaus_session_audio_packets_total", "counter", "Opus packets sent to the session's client.", v_audio },
  { "funkhaus_session_input_events_total", "counter", "Input events injected into the session's desktop.", v_input },
  { "funkhaus_session_input_refused_total", "counter", "Input events dropped: its device's access level does not allow them.", v_refused },
  { "funkhaus_session_encode_thread_cpu_seconds_total", "counter", "CPU time of the session's capture and encode threads in the host.", v_encode_cpu },
  { "funkhaus_session_cpu_seconds_total", "counter", "CPU time of the session's live processes (desktop, apps, its PipeWire).", v_cpu, TRUE },
  { "funkhaus_session_resident_memory_bytes", "gauge", "Resident memory of the session's live processes.", v_memory, TRUE },
};

/* The processes' CPU and memory are those of the last sample's walk
 * (@table, at most FH_METRICS_SAMPLE_S old): on a box with a thousand
 * processes a walk takes tens of milliseconds, which a scrape on the main
 * loop would take from every session's frames. */
static void
render_session_families (GString *out, GPtrArray *sessions, FhProcessTable *table)
{
  g_autofree FhSessionUsage *usage = g_new0 (FhSessionUsage, MAX (sessions->len, 1));

  for (guint i = 0; i < sessions->len; i++)
    fh_session_read_usage (sessions->pdata[i], table, &usage[i]);
  for (gsize f = 0; f < G_N_ELEMENTS (session_families); f++) {
    fh_prom_family (out, session_families[f].name, session_families[f].type,
                    session_families[f].help);
    for (guint i = 0; i < sessions->len; i++) {
      FhSession *s = sessions->pdata[i];
      const char *labels[] = { "session", fh_session_get_id (s), "backend",
                               fh_session_get_backend_name (s), "plane", fh_session_get_plane (s),
                               NULL };
      if (session_families[f].needs_usage && !usage[i].known)
        continue;
      fh_prom_sample (out, session_families[f].name, labels, session_families[f].get (s, &usage[i]));
    }
  }
  fh_prom_family (out, "funkhaus_session_encode_seconds", "histogram",
                  "From capture to encoded, per sent frame.");
  for (guint i = 0; i < sessions->len; i++) {
    FhSession *s = sessions->pdata[i];
    const char *labels[] = { "session", fh_session_get_id (s), "backend",
                             fh_session_get_backend_name (s), "plane", fh_session_get_plane (s), NULL };
    fh_prom_histogram (out, "funkhaus_session_encode_seconds", labels,
                       &fh_session_get_counters (s)->encode_seconds);
  }
  fh_prom_family (out, "funkhaus_session_capture_to_send_seconds", "histogram",
                  "From capture to handed to the client's connection, per sent frame.");
  for (guint i = 0; i < sessions->len; i++) {
    FhSession *s = sessions->pdata[i];
    const char *labels[] = { "session", fh_session_get_id (s), "backend",
                             fh_session_get_backend_name (s), "plane", fh_session_get_plane (s), NULL };
    fh_prom_histogram (out, "funkhaus_session_capture_to_send_seconds", labels,
                       &fh_session_get_counters (s)->capture_to_send_seconds);
  }
}

char *
fh_core_render_metrics (FhCore *core)
{
  FhCoreMetrics *self = fh_core_get_metrics (core);
  g_autoptr (GPtrArray) sessions = fh_core_list_sessions (core);
  GString *out = g_string_new (NULL);
  guint64 attempts, refusals, rss = 0;
  double cpu = 0;
  FhMode mode = { 1920, 1080, 60 };
  int capacity = fh_core_capacity (core, &mode);

  render_sessions (out, sessions);
  render_session_families (out, sessions, self->table);

  fh_device_store_get_pair_counts (fh_core_get_devices (core), &attempts, &refusals);
  fh_prom_family (out, "funkhaus_pairing_attempts_total", "counter",
                  "Pairings tried since the host started, by the kind of client.");
  fh_prom_sample (out, "funkhaus_pairing_attempts_total", (const char *[]) { "kind", "browser", NULL },
                  attempts);
  fh_prom_sample (out, "funkhaus_pairing_attempts_total",
                  (const char *[]) { "kind", "moonlight", NULL }, self->pin_attempts);
  fh_prom_family (out, "funkhaus_pairing_refusals_total", "counter",
                  "Pairings refused (a wrong, expired or missing PIN, a locked-out address).");
  fh_prom_sample (out, "funkhaus_pairing_refusals_total", (const char *[]) { "kind", "browser", NULL },
                  refusals);
  fh_prom_sample (out, "funkhaus_pairing_refusals_total",
                  (const char *[]) { "kind", "moonlight", NULL }, self->pin_refusals);
  fh_prom_family (out, "funkhaus_desktop_starts_total", "counter",
                  "Session desktops made, by result.");
  fh_prom_sample (out, "funkhaus_desktop_starts_total", (const char *[]) { "result", "ok", NULL },
                  self->desktops_started);
  fh_prom_sample (out, "funkhaus_desktop_starts_total",
                  (const char *[]) { "result", "failed", NULL }, self->desktops_failed);
  fh_prom_family (out, "funkhaus_session_cost_cores_per_megapixel_second", "gauge",
                  "Measured CPU cores a session uses per million pixels a second (0: not measured yet).");
  fh_prom_sample (out, "funkhaus_session_cost_cores_per_megapixel_second", NULL,
                  self->cores_per_mpixel_s);
  if (capacity >= 0) {
    fh_prom_family (out, "funkhaus_capacity_sessions", "gauge",
                    "More sessions of the mode the host can take now, from their measured cost.");
    fh_prom_sample (out, "funkhaus_capacity_sessions",
                    (const char *[]) { "mode", "1920x1080@60", NULL }, capacity);
  }

  fh_process_read_usage ("/proc/self/stat", &cpu, &rss);
  fh_prom_family (out, "process_cpu_seconds_total", "counter",
                  "CPU time of the host process (all its threads).");
  fh_prom_sample (out, "process_cpu_seconds_total", NULL, cpu);
  fh_prom_family (out, "process_resident_memory_bytes", "gauge",
                  "Resident memory of the host process.");
  fh_prom_sample (out, "process_resident_memory_bytes", NULL, (double) rss);
  return g_string_free (out, FALSE);
}

/* ---- /healthz ----------------------------------------------------------- */

char *
fh_core_render_health (FhCore *core, const FhMode *mode, gboolean *healthy)
{
  FhCoreMetrics *self = fh_core_get_metrics (core);
  FhPipeWire *pw = fh_core_get_pipewire (core);
  const FhCoreConfig *config = fh_core_get_config (core);
  FhMode fallback = { 1920, 1080, 60 };
  g_autoptr (JsonBuilder) b = json_builder_new ();
  g_autoptr (JsonNode) root = NULL;
  g_autofree char *mode_text = NULL;
  gboolean ok = TRUE;
  int capacity;

  if (!mode)
    mode = &fallback;
  capacity = fh_core_capacity (core, mode);
  mode_text = g_strdup_printf ("%ux%u@%u", mode->width, mode->height, mode->refresh);
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "problems");
  json_builder_begin_array (b);
  /* The main loop answers this: that it answers is its check. */
  if (pw && !fh_pipewire_is_connected (pw)) {
    json_builder_add_string_value (b, "lost the connection to PipeWire");
    ok = FALSE;
  }
  if (self->failures_in_a_row >= FH_METRICS_MAX_DESKTOP_FAILURES) {
    g_autofree char *why = g_strdup_printf ("the last %u session desktops (%s) failed to start",
                                            self->failures_in_a_row, config->backend->name);
    json_builder_add_string_value (b, why);
    ok = FALSE;
  }
  json_builder_end_array (b);
  json_builder_set_member_name (b, "status");
  json_builder_add_string_value (b, ok ? "ok" : "unhealthy");
  json_builder_set_member_name (b, "sessions");
  json_builder_add_int_value (b, fh_core_count_sessions (core));
  json_builder_set_member_name (b, "backend");
  json_builder_add_string_value (b, config->backend->name);
  json_builder_set_member_name (b, "audio");
  json_builder_add_string_value (b, !pw ? "off" : fh_pipewire_is_connected (pw) ? "connected" : "lost");
  json_builder_set_member_name (b, "capacity");
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "mode");
  json_builder_add_string_value (b, mode_text);
  json_builder_set_member_name (b, "sessions");
  if (capacity >= 0)
    json_builder_add_int_value (b, capacity);
  else
    json_builder_add_null_value (b);
  json_builder_set_member_name (b, "idle_cores");
  json_builder_add_double_value (b, MAX (self->idle_cores, 0));
  json_builder_set_member_name (b, "cores_per_session");
  json_builder_add_double_value (b, self->cores_per_mpixel_s * mpixels_per_s (mode));
  json_builder_set_member_name (b, "measured_sessions");
  json_builder_add_int_value (b, self->measured_sessions);
  json_builder_end_object (b);
  json_builder_end_object (b);
  root = json_builder_get_root (b);
  *healthy = ok;
  return json_to_string (root, FALSE);
}
