/* A TEST DOUBLE for gamescope, not gamescope. Real gamescope needs a GPU
 * (3.16 fails on lavapipe: see PLATFORM-NOTES.md, "gamescope needs a GPU"),
 * so on CPU-only machines the tests run the host's gamescope backend against
 * this stand-in. Like `gamescope --backend headless -W W -H H -r R -- COMMAND`
 * it exports a PipeWire Video/Source node "gamescope" (a solid picture whose
 * colour depends on the session), serves input over a libeis socket, starts
 * COMMAND with LIBEI_SOCKET naming that socket, and writes what it receives
 * to a record file for the tests to read.
 *
 *   gamescope-standin [--version] [--record FILE] [--ei-delay-ms N] [--no-node-log]
 *                     [--backend headless] [-W N] [-H N] [-w N] [-h N] [-r N]
 *                     [--xwayland-count N] -- COMMAND [ARGS...]
 *
 * "%s" in FILE stands for $FUNKHAUS_SESSION. Record lines: "ready W H RRGGBB",
 * "ei-client NAME", "key CODE down|up", "motion X Y", "button CODE down|up",
 * "scroll DX DY" (discrete, in v120 units), "scroll-delta DX DY" (rounded). */
#include <errno.h>
#include <gio/gio.h>
#include <glib-unix.h>
#include <libeis.h>
#include <math.h>
#include <pipewire/pipewire.h>
#include <signal.h>
#include <spa/param/video/format-utils.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#define VERSION_LINE \
  "gamescope version 3.16.22 (funkhaus test double: tests/doubles/gamescope-standin)"
#define STOP_TIMEOUT_MS 2000

typedef struct eis_event EisEvent;
typedef struct eis_seat EisSeat;
typedef struct eis_region EisRegion;
G_DEFINE_AUTOPTR_CLEANUP_FUNC (EisEvent, eis_event_unref)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (EisSeat, eis_seat_unref)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (EisRegion, eis_region_unref)

typedef struct {
  struct eis_client *client;
  struct eis_device *keyboard;
  struct eis_device *pointer; /* absolute, buttons, scroll */
} StandinClient;

typedef struct {
  /* The command line. */
  int width, height, refresh;
  int ei_delay_ms;
  gboolean no_node_log; /* keep quiet about the node id (the host's fallback) */
  const char *record_path;
  char **command;

  guint32 color;
  FILE *record;
  GMainLoop *main_loop;
  int exit_status;
  gboolean stopping;
  guint signal_sources[2];
  guint start_timeout, kill_timeout;

  /* EIS: the socket COMMAND's LIBEI_SOCKET names. */
  struct eis *eis;
  char *socket_name, *socket_path;
  gboolean socket_made;
  guint eis_watch;
  GPtrArray *clients; /* StandinClient */

  /* PipeWire: the "gamescope" Video/Source node. */
  struct pw_loop *pw_loop;
  guint pw_watch;
  struct pw_context *context;
  struct pw_core *core;
  struct spa_hook core_listener;
  struct pw_stream *stream;
  struct spa_hook stream_listener;
  struct spa_source *frame_timer;
  guint32 node_id;
  guint32 frame_seq;
  gboolean ready;

  GSubprocess *child;
  pid_t child_pid;
  gboolean child_running;
} Standin;

static void G_GNUC_PRINTF (2, 3)
record_line (Standin *self, const char *format, ...)
{
  va_list args;

  if (!self->record)
    return;
  va_start (args, format);
  vfprintf (self->record, format, args);
  va_end (args);
  fputc ('\n', self->record);
  fflush (self->record);
}

/* Exactly the formula of tests/apps/fh-input-recorder.c, so that a session
 * looks the same whichever backend draws it. */
static guint32
session_color (void)
{
  const char *serial = g_getenv ("FUNKHAUS_SESSION_SERIAL");
  guint32 color;

  /* Golden-angle hues by session serial: sessions made one after the other
   * differ by about 137 degrees. */
  {
    double h = fmod ((serial ? atof (serial) : 0) * 137.508 + 200.0, 360.0) / 60.0;
    double c = 0.6, x = c * (1.0 - fabs (fmod (h, 2.0) - 1.0)), m = 0.2;
    double rgb[6][3] = { { c, x, 0 }, { x, c, 0 }, { 0, c, x }, { 0, x, c }, { x, 0, c }, { c, 0, x } };
    double *p = rgb[(int) h % 6];
    color = (uint32_t) ((p[0] + m) * 255) << 16 | (uint32_t) ((p[1] + m) * 255) << 8 |
            (uint32_t) ((p[2] + m) * 255);
  }
  return color;
}

/* ---- the command line ---------------------------------------------------- */

typedef struct {
  const char *name;
  int min, max;
  int *value;
} NumberOption;

/* Returns the exit status when the stand-in should stop here, or -1. */
static int
parse_args (Standin *self, int argc, char **argv)
{
  int ignored;
  const NumberOption numbers[] = {
    { "--ei-delay-ms", 0, 600000, &self->ei_delay_ms },
    { "-W", 1, 16384, &self->width },
    { "-H", 1, 16384, &self->height },
    { "-r", 1, 1000, &self->refresh },
    /* Accepted and ignored: no test looks at the nested size or Xwayland. */
    { "-w", 1, 16384, &ignored },
    { "-h", 1, 16384, &ignored },
    { "--xwayland-count", 0, 16, &ignored },
  };

  for (int i = 1; i < argc; i++) {
    g_autofree char *name = NULL;
    const char *arg = argv[i], *value;
    const NumberOption *number = NULL;
    gint64 n;

    if (g_str_equal (arg, "--")) {
      self->command = argv + i + 1;
      break;
    }
    if (g_str_equal (arg, "--no-node-log")) {
      self->no_node_log = TRUE;
      continue;
    }
    if (g_str_equal (arg, "--version")) {
      printf ("%s\n", VERSION_LINE);
      return 0;
    }
    /* Every other option takes a value: "--name value", "--name=value",
     * "-W value" or "-Wvalue", as gamescope's getopt_long accepts. */
    if (g_str_has_prefix (arg, "--") && strchr (arg, '=')) {
      name = g_strndup (arg, (gsize) (strchr (arg, '=') - arg));
      value = strchr (arg, '=') + 1;
    } else if (arg[0] == '-' && arg[1] && arg[1] != '-' && arg[2]) {
      name = g_strndup (arg, 2);
      value = arg + 2;
    } else {
      name = g_strdup (arg);
      value = i + 1 < argc ? argv[++i] : NULL;
    }

    for (gsize k = 0; k < G_N_ELEMENTS (numbers); k++)
      if (g_str_equal (name, numbers[k].name))
        number = &numbers[k];
    if (number) {
      if (!value || !g_ascii_string_to_signed (value, 10, number->min, number->max, &n, NULL)) {
        g_printerr ("gamescope-standin: %s takes a number from %d to %d, not \"%s\"\n", name,
                    number->min, number->max, value ? value : "");
        return 2;
      }
      *number->value = (int) n;
    } else if (g_str_equal (name, "--record") && value && *value) {
      self->record_path = value;
    } else if (g_str_equal (name, "--backend")) {
      if (g_strcmp0 (value, "headless") != 0) {
        g_printerr ("gamescope-standin: --backend %s: only \"headless\" is supported (a test "
                    "double for gamescope's headless backend)\n", value ? value : "");
        return 2;
      }
    } else {
      g_printerr ("gamescope-standin: unknown option %s (this test double takes --version, "
                  "--record, --ei-delay-ms, --no-node-log, --backend, -W, -H, -w, -h, -r, "
                  "--xwayland-count)\n",
                  arg);
      return 2;
    }
  }
  if (!self->command || !self->command[0]) {
    g_printerr ("usage: gamescope-standin [--record FILE] [--ei-delay-ms N] [gamescope options] "
                "-- COMMAND [ARGS...]\n");
    return 2;
  }
  return -1;
}

static FILE *
open_record (const char *pattern)
{
  const char *session = g_getenv ("FUNKHAUS_SESSION");
  const char *at = strstr (pattern, "%s");
  g_autofree char *path = NULL;
  FILE *file;

  path = at ? g_strdup_printf ("%.*s%s%s", (int) (at - pattern), pattern,
                               session ? session : "unknown", at + 2)
            : g_strdup (pattern);
  file = fopen (path, "a");
  if (!file)
    g_printerr ("gamescope-standin: cannot open the record file %s: %s\n", path,
                g_strerror (errno));
  return file;
}

/* ---- EIS: input from the host ------------------------------------------- */

static void
standin_client_free (gpointer data)
{
  StandinClient *c = data;

  eis_client_set_user_data (c->client, NULL);
  g_clear_pointer (&c->keyboard, eis_device_unref);
  g_clear_pointer (&c->pointer, eis_device_unref);
  eis_client_unref (c->client);
  g_free (c);
}

static struct eis_device *
add_device (Standin *self, struct eis_seat *seat, gboolean keyboard)
{
  struct eis_device *device = eis_seat_new_device (seat);

  /* No keymap: real gamescope sends none either, and making a compiled one
   * would need xkbcommon. Keys are evdev codes either way. */
  if (keyboard) {
    eis_device_configure_name (device, "gamescope-standin keyboard");
    eis_device_configure_capability (device, EIS_DEVICE_CAP_KEYBOARD);
  } else {
    g_autoptr (EisRegion) region = NULL;

    eis_device_configure_name (device, "gamescope-standin pointer");
    eis_device_configure_capability (device, EIS_DEVICE_CAP_POINTER_ABSOLUTE);
    eis_device_configure_capability (device, EIS_DEVICE_CAP_BUTTON);
    eis_device_configure_capability (device, EIS_DEVICE_CAP_SCROLL);
    region = eis_device_new_region (device);
    eis_region_set_offset (region, 0, 0);
    eis_region_set_size (region, (uint32_t) self->width, (uint32_t) self->height);
    eis_region_set_physical_scale (region, 1.0);
    eis_region_add (region);
  }
  eis_device_add (device);
  eis_device_resume (device);
  return device;
}

static void
sync_device (Standin *self, struct eis_seat *seat, struct eis_device **device, gboolean wanted,
             gboolean keyboard)
{
  if (wanted && !*device) {
    *device = add_device (self, seat, keyboard);
  } else if (!wanted && *device) {
    eis_device_remove (*device);
    g_clear_pointer (device, eis_device_unref);
  }
}

static void
handle_eis_event (Standin *self, struct eis_event *event)
{
  struct eis_client *client = eis_event_get_client (event);
  StandinClient *c = client ? eis_client_get_user_data (client) : NULL;

  switch (eis_event_get_type (event)) {
  case EIS_EVENT_CLIENT_CONNECT: {
    const char *name = eis_client_get_name (client);
    g_autoptr (EisSeat) seat = NULL;

    c = g_new0 (StandinClient, 1);
    c->client = eis_client_ref (client);
    eis_client_set_user_data (client, c);
    g_ptr_array_add (self->clients, c);
    eis_client_connect (client);
    g_printerr ("gamescope-standin: ei client \"%s\" connected\n", name ? name : "");
    record_line (self, "ei-client %s", name && *name ? name : "unknown");
    seat = eis_client_new_seat (client, "default");
    eis_seat_configure_capability (seat, EIS_DEVICE_CAP_POINTER_ABSOLUTE);
    eis_seat_configure_capability (seat, EIS_DEVICE_CAP_KEYBOARD);
    eis_seat_configure_capability (seat, EIS_DEVICE_CAP_BUTTON);
    eis_seat_configure_capability (seat, EIS_DEVICE_CAP_SCROLL);
    eis_seat_add (seat);
    break;
  }
  case EIS_EVENT_CLIENT_DISCONNECT:
    g_printerr ("gamescope-standin: ei client \"%s\" disconnected\n",
                eis_client_get_name (client) ? eis_client_get_name (client) : "");
    eis_client_disconnect (client);
    if (c)
      g_ptr_array_remove (self->clients, c); /* frees it */
    break;
  case EIS_EVENT_SEAT_BIND: {
    struct eis_seat *seat = eis_event_get_seat (event);
    gboolean pointer = eis_event_seat_has_capability (event, EIS_DEVICE_CAP_POINTER_ABSOLUTE) ||
                       eis_event_seat_has_capability (event, EIS_DEVICE_CAP_BUTTON) ||
                       eis_event_seat_has_capability (event, EIS_DEVICE_CAP_SCROLL);

    if (!c)
      break;
    sync_device (self, seat, &c->keyboard,
                 eis_event_seat_has_capability (event, EIS_DEVICE_CAP_KEYBOARD), TRUE);
    sync_device (self, seat, &c->pointer, pointer, FALSE);
    break;
  }
  case EIS_EVENT_DEVICE_CLOSED: {
    struct eis_device *device = eis_event_get_device (event);

    eis_device_remove (device);
    if (c && c->keyboard == device)
      g_clear_pointer (&c->keyboard, eis_device_unref);
    if (c && c->pointer == device)
      g_clear_pointer (&c->pointer, eis_device_unref);
    break;
  }
  case EIS_EVENT_KEYBOARD_KEY:
    record_line (self, "key %u %s", eis_event_keyboard_get_key (event),
                 eis_event_keyboard_get_key_is_press (event) ? "down" : "up");
    break;
  case EIS_EVENT_POINTER_MOTION_ABSOLUTE:
    record_line (self, "motion %ld %ld", lround (eis_event_pointer_get_absolute_x (event)),
                 lround (eis_event_pointer_get_absolute_y (event)));
    break;
  case EIS_EVENT_BUTTON_BUTTON:
    record_line (self, "button %u %s", eis_event_button_get_button (event),
                 eis_event_button_get_is_press (event) ? "down" : "up");
    break;
  case EIS_EVENT_SCROLL_DISCRETE:
    record_line (self, "scroll %d %d", eis_event_scroll_get_discrete_dx (event),
                 eis_event_scroll_get_discrete_dy (event));
    break;
  case EIS_EVENT_SCROLL_DELTA:
    record_line (self, "scroll-delta %ld %ld", lround (eis_event_scroll_get_dx (event)),
                 lround (eis_event_scroll_get_dy (event)));
    break;
  default:
    /* Frames, start/stop emulating, scroll stop, pings: nothing to record. */
    break;
  }
}

static gboolean
on_eis_readable (int fd, GIOCondition condition, gpointer data)
{
  Standin *self = data;
  struct eis_event *event;

  eis_dispatch (self->eis);
  while ((event = eis_get_event (self->eis))) {
    g_autoptr (EisEvent) owned = event;
    handle_eis_event (self, owned);
  }
  return G_SOURCE_CONTINUE;
}

static gboolean
start_eis (Standin *self, GError **error)
{
  int rc;

  /* Named relative to XDG_RUNTIME_DIR in LIBEI_SOCKET, as real gamescope does. */
  self->socket_name = g_strdup_printf ("gamescope-standin-%d-ei", (int) getpid ());
  self->socket_path = g_build_filename (g_getenv ("XDG_RUNTIME_DIR"), self->socket_name, NULL);
  self->eis = eis_new (self);
  eis_log_set_priority (self->eis, EIS_LOG_PRIORITY_WARNING);
  rc = eis_setup_backend_socket (self->eis, self->socket_path);
  if (rc < 0) {
    g_set_error (error, G_IO_ERROR, g_io_error_from_errno (-rc),
                 "cannot create the EIS socket %s: %s (is XDG_RUNTIME_DIR writable?)",
                 self->socket_path, g_strerror (-rc));
    return FALSE;
  }
  self->socket_made = TRUE;
  self->eis_watch = g_unix_fd_add (eis_get_fd (self->eis), G_IO_IN, on_eis_readable, self);
  return TRUE;
}

static void
stop_eis (Standin *self)
{
  g_clear_handle_id (&self->eis_watch, g_source_remove);
  if (self->clients) {
    for (guint i = 0; i < self->clients->len; i++)
      eis_client_disconnect (((StandinClient *) self->clients->pdata[i])->client);
    g_clear_pointer (&self->clients, g_ptr_array_unref);
  }
  g_clear_pointer (&self->eis, eis_unref);
  /* libeis removes its socket when the context goes; make sure of it, and
   * of its lock file, so no test finds a stale one. */
  if (self->socket_made) {
    g_autofree char *lock = g_strdup_printf ("%s.lock", self->socket_path);
    unlink (self->socket_path);
    unlink (lock);
    self->socket_made = FALSE;
  }
}

/* ---- PipeWire: the picture ---------------------------------------------- */

static gboolean
on_pw_readable (int fd, GIOCondition condition, gpointer data)
{
  Standin *self = data;

  if (pw_loop_iterate (self->pw_loop, 0) < 0 && errno != EINTR)
    g_printerr ("gamescope-standin: PipeWire loop: %s\n", g_strerror (errno));
  return G_SOURCE_CONTINUE;
}

static void
on_frame_timer (void *data, uint64_t expirations)
{
  Standin *self = data;

  /* We drive the graph: one cycle per frame, and process() fills it. */
  pw_stream_trigger_process (self->stream);
}

static void
on_stream_process (void *data)
{
  Standin *self = data;
  struct pw_buffer *b = pw_stream_dequeue_buffer (self->stream);
  struct spa_data *d;
  struct spa_meta_header *header;
  uint32_t stride = (uint32_t) self->width * 4, size = stride * (uint32_t) self->height;

  if (!b)
    return;
  d = &b->buffer->datas[0];
  if (!d->data || d->maxsize < size) {
    d->chunk->size = 0;
    pw_stream_queue_buffer (self->stream, b);
    return;
  }
  /* The picture never changes: paint each buffer once, when first seen. */
  if (b->user_data != self) {
    for (int y = 0; y < self->height; y++) {
      uint32_t *row = (uint32_t *) ((uint8_t *) d->data + (size_t) y * stride);
      for (int x = 0; x < self->width; x++)
        row[x] = 0xff000000 | self->color; /* BGRx in memory */
    }
    b->user_data = self;
  }
  if ((header = spa_buffer_find_meta_data (b->buffer, SPA_META_Header, sizeof *header))) {
    header->pts = g_get_monotonic_time () * 1000;
    header->flags = 0;
    header->seq = self->frame_seq++;
    header->dts_offset = 0;
  }
  d->chunk->offset = 0;
  d->chunk->size = size;
  d->chunk->stride = (int32_t) stride;
  d->chunk->flags = 0;
  pw_stream_queue_buffer (self->stream, b);
}

static void
on_stream_state (void *data, enum pw_stream_state old, enum pw_stream_state state,
                 const char *error)
{
  Standin *self = data;

  g_printerr ("gamescope-standin: stream %s -> %s%s%s\n", pw_stream_state_as_string (old),
              pw_stream_state_as_string (state), error ? ": " : "", error ? error : "");
  switch (state) {
  case PW_STREAM_STATE_PAUSED:
    /* PAUSED is when PipeWire has bound the node: its id is known now. */
    if (self->node_id == SPA_ID_INVALID) {
      self->node_id = pw_stream_get_node_id (self->stream);
      if (!self->no_node_log) {
        fprintf (stderr, "[gamescope] [Info]  pipewire: stream available on node ID: %u\n",
                 self->node_id);
        fflush (stderr);
      }
    }
    pw_loop_update_timer (self->pw_loop, self->frame_timer, NULL, NULL, false);
    break;
  case PW_STREAM_STATE_STREAMING: {
    gint64 ns = G_GINT64_CONSTANT (1000000000) / self->refresh;
    struct timespec first = { 0, 1 }, every = { ns / 1000000000, ns % 1000000000 };

    pw_loop_update_timer (self->pw_loop, self->frame_timer, &first, &every, false);
    /* "ready" means frames flow: written once, when a consumer has linked
     * and the stream first streams, not when the node merely exists. */
    if (!self->ready) {
      record_line (self, "ready %d %d %06x", self->width, self->height, self->color);
      self->ready = TRUE;
    }
    break;
  }
  default:
    break;
  }
}

static void
on_stream_param_changed (void *data, uint32_t id, const struct spa_pod *param)
{
  Standin *self = data;
  uint8_t buffer[1024];
  struct spa_pod_builder b = SPA_POD_BUILDER_INIT (buffer, sizeof buffer);
  const struct spa_pod *params[2];
  int stride = self->width * 4;

  if (!param || id != SPA_PARAM_Format)
    return;
  params[0] = spa_pod_builder_add_object (
    &b, SPA_TYPE_OBJECT_ParamBuffers, SPA_PARAM_Buffers, SPA_PARAM_BUFFERS_buffers,
    SPA_POD_CHOICE_RANGE_Int (4, 2, 16), SPA_PARAM_BUFFERS_blocks, SPA_POD_Int (1),
    SPA_PARAM_BUFFERS_size, SPA_POD_Int (stride * self->height), SPA_PARAM_BUFFERS_stride,
    SPA_POD_Int (stride), SPA_PARAM_BUFFERS_dataType,
    SPA_POD_CHOICE_FLAGS_Int ((1 << SPA_DATA_MemFd) | (1 << SPA_DATA_MemPtr)));
  params[1] = spa_pod_builder_add_object (
    &b, SPA_TYPE_OBJECT_ParamMeta, SPA_PARAM_Meta, SPA_PARAM_META_type,
    SPA_POD_Id (SPA_META_Header), SPA_PARAM_META_size,
    SPA_POD_Int (sizeof (struct spa_meta_header)));
  pw_stream_update_params (self->stream, params, 2);
}

static const struct pw_stream_events stream_events = {
  PW_VERSION_STREAM_EVENTS,
  .state_changed = on_stream_state,
  .param_changed = on_stream_param_changed,
  .process = on_stream_process,
};

static void
on_core_error (void *data, uint32_t id, int seq, int res, const char *message)
{
  if (id == PW_ID_CORE)
    g_printerr ("gamescope-standin: PipeWire: %s (%s)\n", message, g_strerror (-res));
}

static const struct pw_core_events core_events = {
  PW_VERSION_CORE_EVENTS,
  .error = on_core_error,
};

static gboolean
start_pipewire (Standin *self, GError **error)
{
  uint8_t buffer[1024];
  struct spa_pod_builder b = SPA_POD_BUILDER_INIT (buffer, sizeof buffer);
  const struct spa_pod *params[1];
  const char *remote = g_getenv ("PIPEWIRE_REMOTE");
  int rc;

  pw_init (NULL, NULL);
  self->pw_loop = pw_loop_new (NULL);
  pw_loop_enter (self->pw_loop);
  self->context = pw_context_new (self->pw_loop, NULL, 0);
  /* The default remote: libpipewire reads PIPEWIRE_REMOTE itself. */
  if (self->context)
    self->core = pw_context_connect (self->context, NULL, 0);
  if (!self->core) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED,
                 "cannot connect to PipeWire at %s: %s (start PipeWire, or set PIPEWIRE_REMOTE)",
                 remote ? remote : "the default remote", g_strerror (errno));
    return FALSE;
  }
  pw_core_add_listener (self->core, &self->core_listener, &core_events, self);

  self->stream = pw_stream_new (self->core, "gamescope",
                                pw_properties_new (PW_KEY_MEDIA_CLASS, "Video/Source",
                                                   PW_KEY_NODE_NAME, "gamescope",
                                                   PW_KEY_MEDIA_TYPE, "Video", NULL));
  if (!self->stream) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "cannot make a PipeWire stream: %s",
                 g_strerror (errno));
    return FALSE;
  }
  pw_stream_add_listener (self->stream, &self->stream_listener, &stream_events, self);
  self->frame_timer = pw_loop_add_timer (self->pw_loop, on_frame_timer, self);

  params[0] = spa_pod_builder_add_object (
    &b, SPA_TYPE_OBJECT_Format, SPA_PARAM_EnumFormat, SPA_FORMAT_mediaType,
    SPA_POD_Id (SPA_MEDIA_TYPE_video), SPA_FORMAT_mediaSubtype, SPA_POD_Id (SPA_MEDIA_SUBTYPE_raw),
    SPA_FORMAT_VIDEO_format, SPA_POD_Id (SPA_VIDEO_FORMAT_BGRx), SPA_FORMAT_VIDEO_size,
    SPA_POD_Rectangle (&SPA_RECTANGLE ((uint32_t) self->width, (uint32_t) self->height)),
    SPA_FORMAT_VIDEO_framerate, SPA_POD_Fraction (&SPA_FRACTION ((uint32_t) self->refresh, 1)));
  rc = pw_stream_connect (self->stream, PW_DIRECTION_OUTPUT, PW_ID_ANY,
                          PW_STREAM_FLAG_DRIVER | PW_STREAM_FLAG_MAP_BUFFERS, params, 1);
  if (rc < 0) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "cannot connect the PipeWire stream: %s",
                 g_strerror (-rc));
    return FALSE;
  }

  /* PipeWire's loop runs on our GLib main loop, as in src/media/pipewire.c. */
  self->pw_watch = g_unix_fd_add (pw_loop_get_fd (self->pw_loop), G_IO_IN | G_IO_ERR,
                                  on_pw_readable, self);
  return TRUE;
}

static void
stop_pipewire (Standin *self)
{
  g_clear_handle_id (&self->pw_watch, g_source_remove);
  if (self->frame_timer)
    pw_loop_destroy_source (self->pw_loop, self->frame_timer);
  self->frame_timer = NULL;
  if (self->stream) {
    spa_hook_remove (&self->stream_listener);
    g_clear_pointer (&self->stream, pw_stream_destroy);
  }
  if (self->core) {
    spa_hook_remove (&self->core_listener);
    g_clear_pointer (&self->core, pw_core_disconnect);
  }
  g_clear_pointer (&self->context, pw_context_destroy);
  if (self->pw_loop) {
    pw_loop_leave (self->pw_loop);
    g_clear_pointer (&self->pw_loop, pw_loop_destroy);
  }
}

/* ---- COMMAND and the stand-in's lifetime -------------------------------- */

/* COMMAND leads its own process group: signal the group, so that what it
 * started hears it too; the process alone should the group be gone. */
static void
signal_command (Standin *self, int signo)
{
  if (kill (-self->child_pid, signo) < 0 && self->child_running)
    kill (self->child_pid, signo);
}

/* Runs in the forked child: only async-signal-safe calls. */
static void
child_setup (gpointer data)
{
  /* Its own process group, so stopping reaches what COMMAND started too;
   * and it goes if the stand-in dies hard, as under gamescope's reaper. */
  setpgid (0, 0);
  prctl (PR_SET_PDEATHSIG, SIGTERM);
}

static void
on_child_exit (GObject *source, GAsyncResult *result, gpointer data)
{
  Standin *self = data;
  GSubprocess *child = G_SUBPROCESS (source);

  g_subprocess_wait_finish (child, result, NULL);
  self->child_running = FALSE;
  if (!self->stopping) {
    if (g_subprocess_get_if_exited (child))
      self->exit_status = g_subprocess_get_exit_status (child);
    else if (g_subprocess_get_if_signaled (child))
      self->exit_status = 128 + g_subprocess_get_term_sig (child);
    g_printerr ("gamescope-standin: %s exited (status %d)\n", self->command[0],
                self->exit_status);
  }
  /* Whatever COMMAND left behind in its group goes with it. */
  signal_command (self, SIGTERM);
  g_main_loop_quit (self->main_loop);
}

static gboolean
on_start (gpointer data)
{
  Standin *self = data;
  g_autoptr (GSubprocessLauncher) launcher = NULL;
  g_autoptr (GError) error = NULL;

  self->start_timeout = 0;
  if (!start_eis (self, &error)) {
    g_printerr ("gamescope-standin: %s\n", error->message);
    self->exit_status = 1;
    g_main_loop_quit (self->main_loop);
    return G_SOURCE_REMOVE;
  }
  launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_NONE);
  g_subprocess_launcher_setenv (launcher, "LIBEI_SOCKET", self->socket_name, TRUE);
  g_subprocess_launcher_set_child_setup (launcher, child_setup, NULL, NULL);
  self->child = g_subprocess_launcher_spawnv (launcher, (const char *const *) self->command,
                                              &error);
  if (!self->child) {
    g_printerr ("gamescope-standin: cannot start %s: %s\n", self->command[0], error->message);
    self->exit_status = 127;
    g_main_loop_quit (self->main_loop);
    return G_SOURCE_REMOVE;
  }
  self->child_pid = (pid_t) atoi (g_subprocess_get_identifier (self->child));
  self->child_running = TRUE;
  g_subprocess_wait_async (self->child, NULL, on_child_exit, self);
  return G_SOURCE_REMOVE;
}

static gboolean
on_kill_timeout (gpointer data)
{
  Standin *self = data;

  self->kill_timeout = 0;
  g_printerr ("gamescope-standin: %s ignored SIGTERM for %d ms: killing it\n", self->command[0],
              STOP_TIMEOUT_MS);
  signal_command (self, SIGKILL);
  return G_SOURCE_REMOVE;
}

static gboolean
on_signal (gpointer data)
{
  Standin *self = data;

  if (self->stopping)
    return G_SOURCE_CONTINUE;
  self->stopping = TRUE;
  self->exit_status = 0;
  if (!self->child_running) {
    g_main_loop_quit (self->main_loop);
    return G_SOURCE_CONTINUE;
  }
  /* on_child_exit quits once COMMAND is reaped. */
  signal_command (self, SIGTERM);
  self->kill_timeout = g_timeout_add (STOP_TIMEOUT_MS, on_kill_timeout, self);
  return G_SOURCE_CONTINUE;
}

static void
standin_stop (Standin *self)
{
  for (guint i = 0; i < G_N_ELEMENTS (self->signal_sources); i++)
    g_clear_handle_id (&self->signal_sources[i], g_source_remove);
  g_clear_handle_id (&self->start_timeout, g_source_remove);
  g_clear_handle_id (&self->kill_timeout, g_source_remove);
  g_clear_object (&self->child);
  stop_eis (self);
  stop_pipewire (self);
  g_clear_pointer (&self->socket_name, g_free);
  g_clear_pointer (&self->socket_path, g_free);
  g_clear_pointer (&self->main_loop, g_main_loop_unref);
  g_clear_pointer (&self->record, fclose);
}

int
main (int argc, char **argv)
{
  Standin self = { .width = 1280, .height = 720, .refresh = 60, .node_id = SPA_ID_INVALID };
  g_autoptr (GError) error = NULL;
  int status = parse_args (&self, argc, argv);

  if (status >= 0)
    return status;
  if (!g_getenv ("XDG_RUNTIME_DIR") || !*g_getenv ("XDG_RUNTIME_DIR")) {
    g_printerr ("gamescope-standin: XDG_RUNTIME_DIR is not set: the EIS socket is made there\n");
    return 1;
  }
  if (self.record_path && !(self.record = open_record (self.record_path)))
    return 1;
  self.color = session_color ();
  self.main_loop = g_main_loop_new (NULL, FALSE);
  self.clients = g_ptr_array_new_with_free_func (standin_client_free);

  if (!start_pipewire (&self, &error)) {
    g_printerr ("gamescope-standin: %s\n", error->message);
    standin_stop (&self);
    return 1;
  }
  self.signal_sources[0] = g_unix_signal_add (SIGTERM, on_signal, &self);
  self.signal_sources[1] = g_unix_signal_add (SIGINT, on_signal, &self);
  /* The EIS socket, then COMMAND: after --ei-delay-ms, from the loop. */
  self.start_timeout = g_timeout_add ((guint) self.ei_delay_ms, on_start, &self);
  g_main_loop_run (self.main_loop);

  status = self.exit_status;
  standin_stop (&self);
  return status;
}
