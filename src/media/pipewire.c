/* The host's PipeWire connection, the private stack, the blackhole nodes
 * and routing enforcement; and the host's connections to sessions' own
 * stacks, which only set the defaults. */
#include "media/pipewire.h"

#include "base/process.h"

#include <errno.h>
#include <glib/gstdio.h>
#include <pipewire/pipewire.h>
#include <pipewire/extensions/metadata.h>
#include <signal.h>
#include <spa/param/audio/format-utils.h>
#include <unistd.h>

#define BLACKHOLE_SINK "funkhaus-blackhole-sink"
#define BLACKHOLE_SOURCE "funkhaus-blackhole-source"
#define START_TIMEOUT_MS 8000

typedef struct {
  GSource base;
  struct pw_loop *loop;
} FhPwSource;

typedef struct {
  FhPipeWire *pw;
  guint32 id;
  guint32 client; /* its client's id, or SPA_ID_INVALID */
  FhAudioStreamKind kind;
  struct pw_proxy *proxy;
  struct spa_hook listener;
  char *target; /* where the router sent it, or NULL */
  gboolean routed; /* the router has been asked */
  gboolean seen_info;
} FhPwStreamNode;

/* A PipeWire client, bound for its info: a pulse client's client object
 * names the process behind it, which the registry global does not. */
typedef struct {
  FhPipeWire *pw;
  guint32 id;
  int sec_pid; /* from the socket */
  int route_pid; /* the process its streams belong to; 0 until known */
  struct pw_proxy *proxy;
  struct spa_hook listener;
} FhPwClient;

typedef struct {
  guint id;
  guint32 node;
  FhPipeWireInputsFunc func;
  gpointer user_data;
} FhPwInputWatch;

typedef struct {
  FhPipeWire *pw;
  struct pw_stream *stream;
  struct spa_hook listener;
  int sync_seq; /* the core sync that must come back first, or -1 */
  guint timeout;
  guint idle; /* destroy from an idle callback, never inside its own */
} FhPwDyingStream;

struct _FhPipeWire {
  struct pw_loop *loop;
  GSource *source;
  struct pw_context *context;
  struct pw_core *core;
  struct spa_hook core_listener;
  struct pw_registry *registry;
  struct spa_hook registry_listener;
  struct pw_metadata *metadata; /* "default", WirePlumber's */
  struct spa_hook metadata_listener;
  guint32 metadata_id;
  GHashTable *streams; /* id → FhPwStreamNode */
  GHashTable *clients; /* id → FhPwClient */
  GHashTable *video_sources; /* Video/Source node id → its client id */
  GHashTable *session_nodes; /* a session's (or the shared) speaker or mic: id → node.name */
  GPtrArray *dying; /* FhPwDyingStream: given up, still connecting */
  GHashTable *links; /* every link's id → the id of the node it leads into */
  GArray *input_watches; /* FhPwInputWatch */
  guint next_input_watch;
  struct pw_proxy *blackhole_sink;
  struct pw_proxy *blackhole_source;
  gboolean core_error;
  char *remote; /* the socket connected to, or NULL: the default */

  /* A session's own stack (fh_pipewire_connect_session): the nodes made its
   * defaults whenever WirePlumber's metadata appears. Nothing else of its
   * registry is watched: no routing, no link guard there. */
  gboolean session_stack;
  char *default_sink;
  char *default_source;

  /* The private stack, when the host started one. */
  char *private_dir;
  GPtrArray *daemons; /* GSubprocess */
  GStrv app_env;

  FhAudioRouteFunc router;
  gpointer router_data;
};

static gboolean
pw_source_dispatch (GSource *source, GSourceFunc callback, gpointer user_data)
{
  FhPwSource *self = (FhPwSource *) source;

  if (pw_loop_iterate (self->loop, 0) < 0 && errno != EINTR)
    g_warning ("audio: PipeWire loop: %s", g_strerror (errno));
  return G_SOURCE_CONTINUE;
}

static GSourceFuncs pw_source_funcs = {
  .dispatch = pw_source_dispatch,
};

static GSource *
pw_source_new (struct pw_loop *loop)
{
  FhPwSource *source = (FhPwSource *) g_source_new (&pw_source_funcs, sizeof (FhPwSource));

  source->loop = loop;
  g_source_set_name (&source->base, "PipeWire");
  g_source_add_unix_fd (&source->base, pw_loop_get_fd (loop), G_IO_IN | G_IO_ERR);
  g_source_attach (&source->base, NULL);
  return &source->base;
}

/* ---- routing ---------------------------------------------------------- */

static void
set_target (FhPipeWire *self, FhPwStreamNode *node)
{
  if (!self->metadata || !node->target)
    return;
  pw_metadata_set_property (self->metadata, node->id, "target.object", NULL, node->target);
}

static const char *
kind_name (FhAudioStreamKind kind)
{
  return kind == FH_AUDIO_STREAM_PLAYBACK ? "playback" : "recording";
}

/* Asks the router where the stream of process pid belongs and points it
 * there. Done as early as the process is known (at the node's registry
 * global when its client's info came first), so the target is in the
 * metadata before WirePlumber, which needs the node's info and ports
 * first, links the stream anywhere. */
static void
route_node (FhPipeWire *self, FhPwStreamNode *node, int pid)
{
  const char *target;

  node->routed = TRUE;
  if (!self->router || pid <= 1 || pid == getpid ())
    return;
  target = self->router (node->kind, pid, self->router_data);
  if (!target)
    return;
  node->target = g_strdup (target);
  g_message ("audio: %s stream %u of process %d → %s", kind_name (node->kind), node->id, pid,
             target);
  set_target (self, node);
}

static void
stream_node_info (void *data, const struct pw_node_info *info)
{
  FhPwStreamNode *node = data;
  FhPipeWire *self = node->pw;
  const char *refuses, *asked;

  if (node->seen_info || !info->props)
    return;
  node->seen_info = TRUE;
  if (!node->routed) {
    /* Its client's info has not come: the node's own properties tell,
     * by the same rule as client_info(). */
    const char *api = spa_dict_lookup (info->props, PW_KEY_CLIENT_API);
    const char *pid_text = spa_dict_lookup (info->props, PW_KEY_APP_PROCESS_ID);
    FhPwClient *client = g_hash_table_lookup (self->clients, GUINT_TO_POINTER (node->client));
    int pid = client ? client->sec_pid : 0;

    if (pid_text && (g_strcmp0 (api, "pipewire-pulse") == 0 || pid <= 0))
      pid = atoi (pid_text);
    route_node (self, node, pid);
  }
  if (!node->target)
    return;
  refuses = spa_dict_lookup (info->props, PW_KEY_NODE_DONT_RECONNECT);
  asked = spa_dict_lookup (info->props, PW_KEY_TARGET_OBJECT);
  if (refuses && g_str_equal (refuses, "true") && (!asked || !g_str_equal (asked, node->target))) {
    /* WirePlumber never moves such a stream once linked: it would stay
     * wherever it asked to go. */
    g_message ("audio: %s stream %u refuses to move to %s: destroying it",
               kind_name (node->kind), node->id, node->target);
    pw_registry_destroy (self->registry, node->id);
  }
}

static const struct pw_node_events stream_node_events = {
  PW_VERSION_NODE_EVENTS,
  .info = stream_node_info,
};

/* ---- clients ------------------------------------------------------------ */

static void
client_info (void *data, const struct pw_client_info *info)
{
  FhPwClient *client = data;
  FhPipeWire *self = client->pw;
  const char *api, *pid_text;
  GHashTableIter iter;
  gpointer value;

  if (client->route_pid != 0 || !info->props)
    return;
  /* A native client is the process on the socket. A pulse client shares
   * pipewire-pulse's socket; the server names the process it serves. */
  api = spa_dict_lookup (info->props, PW_KEY_CLIENT_API);
  pid_text = spa_dict_lookup (info->props, PW_KEY_APP_PROCESS_ID);
  if (g_strcmp0 (api, "pipewire-pulse") == 0) {
    if (!pid_text)
      return; /* not said yet: a later info, or the stream's own, will */
    client->route_pid = atoi (pid_text);
  } else {
    client->route_pid = client->sec_pid > 0 ? client->sec_pid : -1;
  }

  g_hash_table_iter_init (&iter, self->streams);
  while (g_hash_table_iter_next (&iter, NULL, &value)) {
    FhPwStreamNode *node = value;
    if (node->client == client->id && !node->routed)
      route_node (self, node, client->route_pid);
  }
}

static const struct pw_client_events client_events = {
  PW_VERSION_CLIENT_EVENTS,
  .info = client_info,
};

static void
client_free (FhPwClient *client)
{
  spa_hook_remove (&client->listener);
  pw_proxy_destroy (client->proxy);
  g_free (client);
}

static void
stream_node_free (FhPwStreamNode *node)
{
  spa_hook_remove (&node->listener);
  pw_proxy_destroy (node->proxy);
  g_free (node->target);
  g_free (node);
}

static int
metadata_property (void *data, uint32_t subject, const char *key, const char *type,
                   const char *value)
{
  FhPipeWire *self = data;
  FhPwStreamNode *node;

  if (!key || !g_str_equal (key, "target.object"))
    return 0;
  node = g_hash_table_lookup (self->streams, GUINT_TO_POINTER (subject));
  if (node && node->target && g_strcmp0 (value, node->target) != 0) {
    g_message ("audio: stream %u was moved to %s; moving it back to %s", subject,
               value ? value : "(the default)", node->target);
    set_target (self, node);
  }
  return 0;
}

static const struct pw_metadata_events metadata_events = {
  PW_VERSION_METADATA_EVENTS,
  .property = metadata_property,
};

static void
set_default (FhPipeWire *self, const char *key, const char *name)
{
  g_autoptr (GString) value = g_string_new ("{ \"name\": \"");

  /* JSON: the name quoted. */
  for (const char *c = name; *c; c++) {
    if (*c == '"' || *c == '\\')
      g_string_append_c (value, '\\');
    g_string_append_c (value, *c);
  }
  g_string_append (value, "\" }");
  pw_metadata_set_property (self->metadata, PW_ID_CORE, key, "Spa:String:JSON", value->str);
}

/* A session's stack: its default sink and source are its speaker and
 * microphone, which exist there or soon will (WirePlumber picks a
 * configured default as soon as the node appears). Set each time the
 * metadata appears: a restarted WirePlumber makes it anew. */
static void
set_session_defaults (FhPipeWire *self)
{
  if (self->default_sink)
    set_default (self, "default.configured.audio.sink", self->default_sink);
  if (self->default_source)
    set_default (self, "default.configured.audio.source", self->default_source);
  g_debug ("audio: %s: defaults set to %s and %s", self->remote,
           self->default_sink ? self->default_sink : "(none)",
           self->default_source ? self->default_source : "(none)");
}

/* A link between a routed stream and a session's speaker or mic other
 * than the one it was routed to: WirePlumber linked it before it read our
 * target (the stream named another session's node). Undone at once, while
 * the link is still negotiating, so not even a few milliseconds of another
 * session's microphone (or of this stream into another's speaker) pass;
 * WirePlumber then links it to the target. */
static void
guard_link (FhPipeWire *self, guint32 id, const struct spa_dict *props)
{
  const char *out = spa_dict_lookup (props, PW_KEY_LINK_OUTPUT_NODE);
  const char *in = spa_dict_lookup (props, PW_KEY_LINK_INPUT_NODE);
  guint32 out_id, in_id;
  FhPwStreamNode *stream;
  const char *node;

  if (!out || !in)
    return;
  out_id = (guint32) atoi (out);
  in_id = (guint32) atoi (in);
  if ((node = g_hash_table_lookup (self->session_nodes, GUINT_TO_POINTER (out_id))))
    stream = g_hash_table_lookup (self->streams, GUINT_TO_POINTER (in_id)); /* a mic */
  else if ((node = g_hash_table_lookup (self->session_nodes, GUINT_TO_POINTER (in_id))))
    stream = g_hash_table_lookup (self->streams, GUINT_TO_POINTER (out_id)); /* a speaker */
  else
    return;
  if (!stream || !stream->target || g_str_equal (stream->target, node))
    return;
  g_message ("audio: link %u of %s stream %u to %s undone: it belongs to %s", id,
             kind_name (stream->kind), stream->id, node, stream->target);
  pw_registry_destroy (self->registry, id);
}

/* ---- links into a node -------------------------------------------------- */

static guint
count_inputs (FhPipeWire *self, guint32 node)
{
  GHashTableIter iter;
  gpointer value;
  guint n = 0;

  g_hash_table_iter_init (&iter, self->links);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    n += GPOINTER_TO_UINT (value) == node;
  return n;
}

/* Counted only for a node somebody watches: links come and go all over
 * the graph, most of them nobody's concern. */
static void
tell_inputs (FhPipeWire *self, guint32 node)
{
  gint n = -1;

  for (guint i = 0; i < self->input_watches->len; i++) {
    FhPwInputWatch *w = &g_array_index (self->input_watches, FhPwInputWatch, i);
    if (w->node != node)
      continue;
    if (n < 0)
      n = (gint) count_inputs (self, node);
    w->func ((guint) n, w->user_data);
  }
}

guint
fh_pipewire_watch_inputs (FhPipeWire *self, guint32 node_id, FhPipeWireInputsFunc func,
                          gpointer user_data)
{
  FhPwInputWatch w = { ++self->next_input_watch, node_id, func, user_data };

  g_array_append_val (self->input_watches, w);
  func (count_inputs (self, node_id), user_data);
  return w.id;
}

void
fh_pipewire_unwatch_inputs (FhPipeWire *self, guint watch)
{
  for (guint i = 0; i < self->input_watches->len; i++) {
    if (g_array_index (self->input_watches, FhPwInputWatch, i).id == watch) {
      g_array_remove_index (self->input_watches, i);
      return;
    }
  }
}

static void
registry_global (void *data, uint32_t id, uint32_t permissions, const char *type,
                 uint32_t version, const struct spa_dict *props)
{
  FhPipeWire *self = data;
  const char *media_class, *name;

  if (!props)
    return;
  if (g_str_equal (type, PW_TYPE_INTERFACE_Metadata)) {
    name = spa_dict_lookup (props, PW_KEY_METADATA_NAME);
    if (self->metadata || g_strcmp0 (name, "default") != 0)
      return;
    self->metadata = pw_registry_bind (self->registry, id, type, PW_VERSION_METADATA, 0);
    self->metadata_id = id;
    pw_metadata_add_listener (self->metadata, &self->metadata_listener, &metadata_events, self);
    if (self->session_stack)
      set_session_defaults (self);
    return;
  }
  if (g_str_equal (type, PW_TYPE_INTERFACE_Link)) {
    const char *in = spa_dict_lookup (props, PW_KEY_LINK_INPUT_NODE);

    if (in) {
      g_hash_table_replace (self->links, GUINT_TO_POINTER (id),
                            GUINT_TO_POINTER ((guint32) atoi (in)));
      tell_inputs (self, (guint32) atoi (in));
    }
    if (!self->session_stack)
      guard_link (self, id, props);
    return;
  }
  if (self->session_stack)
    return;
  if (g_str_equal (type, PW_TYPE_INTERFACE_Client)) {
    FhPwClient *client = g_new0 (FhPwClient, 1);
    const char *pid = spa_dict_lookup (props, PW_KEY_SEC_PID);

    client->pw = self;
    client->id = id;
    client->sec_pid = pid ? atoi (pid) : 0;
    client->proxy = pw_registry_bind (self->registry, id, type, PW_VERSION_CLIENT, 0);
    pw_client_add_listener ((struct pw_client *) client->proxy, &client->listener,
                            &client_events, client);
    g_hash_table_replace (self->clients, GUINT_TO_POINTER (id), client);
    return;
  }
  if (!g_str_equal (type, PW_TYPE_INTERFACE_Node))
    return;
  media_class = spa_dict_lookup (props, PW_KEY_MEDIA_CLASS);
  name = spa_dict_lookup (props, PW_KEY_NODE_NAME);
  if (name && (g_str_has_prefix (name, "funkhaus-speaker-") ||
               g_str_has_prefix (name, "funkhaus-mic-") ||
               g_str_has_prefix (name, "funkhaus-shared-")) &&
      (g_strcmp0 (media_class, "Audio/Sink") == 0 || g_strcmp0 (media_class, "Audio/Source") == 0)) {
    g_hash_table_replace (self->session_nodes, GUINT_TO_POINTER (id), g_strdup (name));
    return;
  }
  if (g_strcmp0 (media_class, "Video/Source") == 0) {
    const char *client = spa_dict_lookup (props, PW_KEY_CLIENT_ID);
    if (client)
      g_hash_table_replace (self->video_sources, GUINT_TO_POINTER (id),
                            GUINT_TO_POINTER ((guint) atoi (client)));
    return;
  }
  if (g_strcmp0 (media_class, "Stream/Output/Audio") == 0 ||
      g_strcmp0 (media_class, "Stream/Input/Audio") == 0) {
    FhPwStreamNode *node = g_new0 (FhPwStreamNode, 1);
    const char *client_id = spa_dict_lookup (props, PW_KEY_CLIENT_ID);
    FhPwClient *client;

    node->pw = self;
    node->id = id;
    node->client = client_id ? (guint32) atoi (client_id) : SPA_ID_INVALID;
    node->kind = media_class[7] == 'O' ? FH_AUDIO_STREAM_PLAYBACK : FH_AUDIO_STREAM_RECORDING;
    node->proxy = pw_registry_bind (self->registry, id, type, PW_VERSION_NODE, 0);
    pw_node_add_listener ((struct pw_node *) node->proxy, &node->listener, &stream_node_events,
                          node);
    g_hash_table_replace (self->streams, GUINT_TO_POINTER (id), node);
    client = g_hash_table_lookup (self->clients, GUINT_TO_POINTER (node->client));
    if (client && client->route_pid != 0)
      route_node (self, node, client->route_pid);
  }
}

static void
registry_global_remove (void *data, uint32_t id)
{
  FhPipeWire *self = data;
  gpointer node;

  if (g_hash_table_steal_extended (self->links, GUINT_TO_POINTER (id), NULL, &node))
    tell_inputs (self, GPOINTER_TO_UINT (node));
  g_hash_table_remove (self->streams, GUINT_TO_POINTER (id));
  g_hash_table_remove (self->clients, GUINT_TO_POINTER (id));
  g_hash_table_remove (self->video_sources, GUINT_TO_POINTER (id));
  g_hash_table_remove (self->session_nodes, GUINT_TO_POINTER (id));
  if (self->metadata && id == self->metadata_id) {
    spa_hook_remove (&self->metadata_listener);
    pw_proxy_destroy ((struct pw_proxy *) self->metadata);
    self->metadata = NULL;
  }
}

static const struct pw_registry_events registry_events = {
  PW_VERSION_REGISTRY_EVENTS,
  .global = registry_global,
  .global_remove = registry_global_remove,
};

static void
core_error (void *data, uint32_t id, int seq, int res, const char *message)
{
  FhPipeWire *self = data;

  if (id == PW_ID_CORE && res == -EPIPE) {
    g_warning ("audio: lost the connection to PipeWire%s%s: %s", self->remote ? " at " : "",
               self->remote ? self->remote : "", message);
    self->core_error = TRUE;
  } else {
    /* A request that crossed an object's removal ("unknown resource"),
     * say: nothing is lost. */
    g_debug ("audio: PipeWire object %u: %s (%s)", id, message, g_strerror (-res));
  }
}

static void core_done (void *data, uint32_t id, int seq);

static const struct pw_core_events core_events = {
  PW_VERSION_CORE_EVENTS,
  .done = core_done,
  .error = core_error,
};

/* ---- streams given up while connecting ------------------------------------ */

static void
dying_free (FhPwDyingStream *d)
{
  g_clear_handle_id (&d->idle, g_source_remove);
  g_clear_handle_id (&d->timeout, g_source_remove);
  spa_hook_remove (&d->listener);
  pw_stream_destroy (d->stream);
  g_free (d);
}

static gboolean
dying_destroy_now (gpointer data)
{
  FhPwDyingStream *d = data;

  /* Called from either source: the other one is cleared in dying_free. */
  if (d->idle && g_main_current_source () && g_source_get_id (g_main_current_source ()) == d->idle)
    d->idle = 0;
  else
    d->timeout = 0;
  g_ptr_array_remove (d->pw->dying, d); /* frees it */
  return G_SOURCE_REMOVE;
}

static void
dying_settle (FhPwDyingStream *d)
{
  /* Settled (no longer connecting): one more round trip, so every message
   * the server had queued for this node (fds included) has arrived and
   * been taken by the node before it goes. */
  if (d->sync_seq < 0 && pw_stream_get_state (d->stream, NULL) != PW_STREAM_STATE_CONNECTING)
    d->sync_seq = pw_core_sync (d->pw->core, PW_ID_CORE, 0);
}

static void
dying_state (void *data, enum pw_stream_state old, enum pw_stream_state state, const char *error)
{
  dying_settle (data);
}

static const struct pw_stream_events dying_events = {
  PW_VERSION_STREAM_EVENTS,
  .state_changed = dying_state,
};

static void
core_done (void *data, uint32_t id, int seq)
{
  FhPipeWire *self = data;

  if (id != PW_ID_CORE)
    return;
  for (guint i = 0; i < self->dying->len; i++) {
    FhPwDyingStream *d = self->dying->pdata[i];
    if (d->sync_seq >= 0 && seq >= d->sync_seq && !d->idle)
      d->idle = g_idle_add (dying_destroy_now, d);
  }
}

void
fh_pipewire_destroy_stream (FhPipeWire *self, struct pw_stream *stream)
{
  FhPwDyingStream *d = g_new0 (FhPwDyingStream, 1);

  /* PipeWire 0.3.65 leaks the fds of messages that arrive for a node the
   * client has already destroyed (its transport while connecting, a
   * peer's activation while linking): let the stream settle and the
   * server catch up first. Nothing reaches its owner meanwhile: the owner
   * has removed its listeners. */
  d->pw = self;
  d->stream = stream;
  d->sync_seq = -1;
  pw_stream_add_listener (stream, &d->listener, &dying_events, d);
  g_ptr_array_add (self->dying, d);
  dying_settle (d);
  /* A stream that never settles goes anyway, after a while. */
  d->timeout = g_timeout_add (2000, dying_destroy_now, d);
}

/* ---- the private stack -------------------------------------------------- */

static gboolean
write_file (const char *path, const char *text, GError **error)
{
  return g_file_set_contents_full (path, text, -1, G_FILE_SET_CONTENTS_NONE, 0644, error);
}

static gboolean
socket_exists (gpointer path)
{
  return g_file_test (path, G_FILE_TEST_EXISTS);
}

static gboolean
wait_for (gboolean (*done) (gpointer), gpointer data, guint timeout_ms)
{
  gint64 end = g_get_monotonic_time () + timeout_ms * 1000;

  while (!done (data)) {
    if (g_get_monotonic_time () > end)
      return FALSE;
    g_usleep (20 * 1000);
  }
  return TRUE;
}

static GSubprocess *
start_daemon (FhPipeWire *self, FhAccount *account, const char *program, GError **error)
{
  g_autoptr (GSubprocessLauncher) launcher = fh_account_new_launcher (account, 0);
  g_autofree char *log = g_strdup_printf ("%s/%s.log", self->private_dir, program);
  g_autofree char *state = g_build_filename (self->private_dir, "state", NULL);
  g_autofree char *config = g_build_filename (self->private_dir, "config", NULL);
  g_autofree char *host = fh_process_host_marker (); /* whose daemon: backends/leftovers.c */
  GSubprocess *process;

  g_subprocess_launcher_setenv (launcher, "XDG_RUNTIME_DIR", self->private_dir, TRUE);
  g_subprocess_launcher_setenv (launcher, "XDG_STATE_HOME", state, TRUE);
  g_subprocess_launcher_setenv (launcher, "XDG_CONFIG_HOME", config, TRUE);
  g_subprocess_launcher_setenv (launcher, "FUNKHAUS_HOST", host, TRUE);
  g_subprocess_launcher_set_stdout_file_path (launcher, log);
  g_subprocess_launcher_set_stderr_file_path (launcher, log);
  process = g_subprocess_launcher_spawn (launcher, error, program, NULL);
  if (!process) {
    g_prefix_error (error, "cannot start %s (install pipewire, wireplumber and pipewire-pulse): ",
                    program);
    return NULL;
  }
  g_ptr_array_add (self->daemons, process);
  return process;
}

static void
stop_daemons (FhPipeWire *self)
{
  gint64 end;

  if (!self->daemons)
    return;
  /* Reverse order: pipewire-pulse and wireplumber before pipewire. */
  for (guint i = self->daemons->len; i-- > 0;)
    g_subprocess_send_signal (self->daemons->pdata[i], SIGTERM);
  end = g_get_monotonic_time () + 2 * G_USEC_PER_SEC;
  for (guint i = 0; i < self->daemons->len; i++) {
    GSubprocess *process = self->daemons->pdata[i];
    /* GLib's worker reaps the child; its identifier goes NULL then. */
    while (g_subprocess_get_identifier (process) && g_get_monotonic_time () < end)
      g_usleep (10 * 1000);
    if (g_subprocess_get_identifier (process))
      g_subprocess_force_exit (process);
  }
  g_clear_pointer (&self->daemons, g_ptr_array_unref);
}

static gboolean
start_private_stack (FhPipeWire *self, FhAccount *account, const char *runtime_base,
                     GError **error)
{
  g_autofree char *state = NULL, *config = NULL, *wp_dir = NULL, *snippet = NULL;
  g_autofree char *socket = NULL;

  self->private_dir = g_strdup_printf ("%s/funkhaus-audio-%d", runtime_base, (int) getpid ());
  fh_remove_tree (self->private_dir);
  state = g_build_filename (self->private_dir, "state", NULL);
  config = g_build_filename (self->private_dir, "config", NULL);
  wp_dir = g_build_filename (config, "wireplumber", "main.lua.d", NULL);
  if (!fh_account_make_dir (account, self->private_dir, error) ||
      !fh_account_make_dir (account, state, error) || g_mkdir_with_parents (wp_dir, 0755) < 0)
    return FALSE;
  /* Which host it is, for a host started after this one crashed. */
  {
    g_autofree char *marker = g_build_filename (self->private_dir, "funkhaus-host", NULL);
    g_autofree char *host = fh_process_host_marker ();
    if (!write_file (marker, host, error))
      return FALSE;
  }
  /* WirePlumber 0.4 quits without a session bus unless told not to use one;
   * the name sorts before 90-enable-all.lua. */
  snippet = g_build_filename (wp_dir, "60-funkhaus-nodbus.lua", NULL);
  if (!write_file (snippet,
                   "alsa_monitor.properties[\"alsa.reserve\"] = false\n"
                   "default_access.properties[\"enable-flatpak-portal\"] = false\n",
                   error))
    return FALSE;

  self->daemons = g_ptr_array_new_with_free_func (g_object_unref);
  socket = g_build_filename (self->private_dir, "pipewire-0", NULL);
  if (!start_daemon (self, account, "pipewire", error))
    return FALSE;
  if (!wait_for (socket_exists, socket, START_TIMEOUT_MS)) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT,
                 "the private PipeWire did not come up: see %s/pipewire.log", self->private_dir);
    return FALSE;
  }
  if (!start_daemon (self, account, "wireplumber", error) ||
      !start_daemon (self, account, "pipewire-pulse", error))
    return FALSE;
  g_message ("audio: started a private PipeWire stack in %s as %s", self->private_dir,
             account->name);
  return TRUE;
}

/* ---- nodes the host owns ------------------------------------------------ */

static struct pw_proxy *
create_null_node (FhPipeWire *self, const char *name, const char *media_class,
                  const char *description)
{
  struct pw_properties *props = pw_properties_new (
    "factory.name", "support.null-audio-sink", PW_KEY_NODE_NAME, name, PW_KEY_NODE_DESCRIPTION,
    description, PW_KEY_MEDIA_CLASS, media_class, "audio.position", "[ FL FR ]", "audio.rate",
    "48000", PW_KEY_PRIORITY_SESSION, "3000", "monitor.channel-volumes", "true", NULL);
  struct pw_proxy *proxy = pw_core_create_object (self->core, "adapter", PW_TYPE_INTERFACE_Node,
                                                  PW_VERSION_NODE, &props->dict, 0);
  pw_properties_free (props);
  return proxy;
}

static gboolean
has_metadata (gpointer data)
{
  FhPipeWire *self = data;
  return self->metadata != NULL || self->core_error;
}

gboolean
fh_pipewire_run_until (FhPipeWire *self, gboolean (*done) (gpointer), gpointer data,
                       guint timeout_ms)
{
  gint64 end = g_get_monotonic_time () + timeout_ms * 1000;

  while (!done (data)) {
    gint64 left = end - g_get_monotonic_time ();
    if (left <= 0)
      return FALSE;
    pw_loop_iterate (self->loop, (int) MAX (1, MIN (left / 1000, 50)));
  }
  return TRUE;
}

static gboolean
connect_core (FhPipeWire *self, const char *remote)
{
  struct pw_properties *props = remote ? pw_properties_new (PW_KEY_REMOTE_NAME, remote, NULL)
                                       : NULL;

  g_free (self->remote);
  self->remote = g_strdup (remote);
  self->core = pw_context_connect (self->context, props, 0);
  return self->core != NULL;
}

static FhPipeWire *
pipewire_alloc (GError **error)
{
  g_autoptr (FhPipeWire) self = g_new0 (FhPipeWire, 1);

  pw_init (NULL, NULL);
  self->streams = g_hash_table_new_full (NULL, NULL, NULL, (GDestroyNotify) stream_node_free);
  self->dying = g_ptr_array_new_with_free_func ((GDestroyNotify) dying_free);
  self->clients = g_hash_table_new_full (NULL, NULL, NULL, (GDestroyNotify) client_free);
  self->video_sources = g_hash_table_new (NULL, NULL);
  self->session_nodes = g_hash_table_new_full (NULL, NULL, NULL, g_free);
  self->links = g_hash_table_new (NULL, NULL);
  self->input_watches = g_array_new (FALSE, FALSE, sizeof (FhPwInputWatch));
  self->loop = pw_loop_new (NULL);
  pw_loop_enter (self->loop);
  self->context = pw_context_new (self->loop,
                                  pw_properties_new (PW_KEY_APP_NAME, "funkhaus", NULL), 0);
  if (!self->context) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "cannot make a PipeWire context: %s",
                 g_strerror (errno));
    return NULL;
  }
  return g_steal_pointer (&self);
}

static void
watch_registry (FhPipeWire *self)
{
  pw_core_add_listener (self->core, &self->core_listener, &core_events, self);
  self->registry = pw_core_get_registry (self->core, PW_VERSION_REGISTRY, 0);
  pw_registry_add_listener (self->registry, &self->registry_listener, &registry_events, self);
}

FhPipeWire *
fh_pipewire_connect (const char *remote, GError **error)
{
  g_autoptr (FhPipeWire) self = pipewire_alloc (error);

  if (!self)
    return NULL;
  if (!connect_core (self, remote)) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "cannot connect to PipeWire at %s: %s",
                 remote ? remote : "its default socket", g_strerror (errno));
    return NULL;
  }
  self->app_env = g_new0 (char *, 1);
  watch_registry (self);
  self->source = pw_source_new (self->loop);
  return g_steal_pointer (&self);
}

FhPipeWire *
fh_pipewire_connect_session (const char *remote, const char *sink_name, const char *source_name,
                             GError **error)
{
  g_autoptr (FhPipeWire) self = pipewire_alloc (error);

  if (!self)
    return NULL;
  /* Connecting a Unix socket does not wait for the server; everything
   * after is messages, answered on the main loop. */
  if (!connect_core (self, remote)) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED,
                 "cannot connect to the session's PipeWire at %s: %s", remote,
                 g_strerror (errno));
    return NULL;
  }
  self->session_stack = TRUE;
  self->default_sink = g_strdup (sink_name);
  self->default_source = g_strdup (source_name);
  self->app_env = g_new0 (char *, 1);
  watch_registry (self);
  self->source = pw_source_new (self->loop);
  return g_steal_pointer (&self);
}

FhPipeWire *
fh_pipewire_new (FhAccount *account, const char *runtime_base, gboolean force_private,
                 GError **error)
{
  g_autoptr (FhPipeWire) self = pipewire_alloc (error);
  g_autofree char *remote = NULL;
  GPtrArray *env;

  if (!self)
    return NULL;
  env = g_ptr_array_new ();
  /* The user's own PipeWire, where the apps can reach it too: only when the
   * host runs as the account its apps run as. */
  if (!force_private && !account->switch_user && connect_core (self, NULL)) {
    g_message ("audio: using the running PipeWire");
  } else {
    if (!start_private_stack (self, account, runtime_base, error)) {
      g_ptr_array_free (env, TRUE);
      return NULL;
    }
    remote = g_build_filename (self->private_dir, "pipewire-0", NULL);
    if (!connect_core (self, remote)) {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED,
                   "cannot connect to the private PipeWire at %s: %s", remote,
                   g_strerror (errno));
      g_ptr_array_free (env, TRUE);
      return NULL;
    }
    g_ptr_array_add (env, g_strdup_printf ("PIPEWIRE_REMOTE=%s", remote));
    g_ptr_array_add (env, g_strdup_printf ("PULSE_SERVER=unix:%s/pulse/native",
                                           self->private_dir));
  }
  g_ptr_array_add (env, NULL);
  self->app_env = (GStrv) g_ptr_array_free (env, FALSE);

  watch_registry (self);
  if (!fh_pipewire_run_until (self, has_metadata, self, START_TIMEOUT_MS) || self->core_error) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT,
                 "no session manager answers on PipeWire (WirePlumber's \"default\" metadata "
                 "never appeared)%s%s",
                 self->private_dir ? ": see " : "", self->private_dir ? self->private_dir : "");
    return NULL;
  }

  self->blackhole_sink = create_null_node (self, BLACKHOLE_SINK, "Audio/Sink",
                                           "funkhaus: nobody's speaker");
  self->blackhole_source = create_null_node (self, BLACKHOLE_SOURCE, "Audio/Source/Virtual",
                                             "funkhaus: nobody's microphone");
  if (self->private_dir) {
    /* In our own stack the blackholes are the defaults; a user's PipeWire
     * keeps the defaults its user chose. */
    pw_metadata_set_property (self->metadata, PW_ID_CORE, "default.configured.audio.sink",
                              "Spa:String:JSON", "{ \"name\": \"" BLACKHOLE_SINK "\" }");
    pw_metadata_set_property (self->metadata, PW_ID_CORE, "default.configured.audio.source",
                              "Spa:String:JSON", "{ \"name\": \"" BLACKHOLE_SOURCE "\" }");
  }
  self->source = pw_source_new (self->loop);
  return g_steal_pointer (&self);
}

void
fh_pipewire_free (FhPipeWire *self)
{
  if (!self)
    return;
  if (self->source) {
    g_source_destroy (self->source);
    g_clear_pointer (&self->source, g_source_unref);
  }
  if (self->streams)
    g_hash_table_remove_all (self->streams);
  if (self->clients)
    g_hash_table_remove_all (self->clients);
  g_clear_pointer (&self->dying, g_ptr_array_unref);
  g_clear_pointer (&self->blackhole_sink, pw_proxy_destroy);
  g_clear_pointer (&self->blackhole_source, pw_proxy_destroy);
  if (self->metadata) {
    spa_hook_remove (&self->metadata_listener);
    pw_proxy_destroy ((struct pw_proxy *) self->metadata);
    self->metadata = NULL;
  }
  if (self->registry) {
    spa_hook_remove (&self->registry_listener);
    pw_proxy_destroy ((struct pw_proxy *) self->registry);
  }
  if (self->core) {
    spa_hook_remove (&self->core_listener);
    pw_core_disconnect (self->core);
  }
  g_clear_pointer (&self->context, pw_context_destroy);
  if (self->loop)
    pw_loop_leave (self->loop);
  g_clear_pointer (&self->loop, pw_loop_destroy);
  stop_daemons (self);
  if (self->private_dir)
    fh_remove_tree (self->private_dir);
  g_clear_pointer (&self->streams, g_hash_table_unref);
  g_clear_pointer (&self->clients, g_hash_table_unref);
  g_clear_pointer (&self->video_sources, g_hash_table_unref);
  g_clear_pointer (&self->session_nodes, g_hash_table_unref);
  g_clear_pointer (&self->links, g_hash_table_unref);
  g_clear_pointer (&self->input_watches, g_array_unref);
  g_free (self->private_dir);
  g_free (self->remote);
  g_free (self->default_sink);
  g_free (self->default_source);
  g_strfreev (self->app_env);
  g_free (self);
}

struct pw_core *
fh_pipewire_get_core (FhPipeWire *self)
{
  return self->core;
}

const char *const *
fh_pipewire_get_app_env (FhPipeWire *self)
{
  return (const char *const *) self->app_env;
}

gboolean
fh_pipewire_is_connected (FhPipeWire *self)
{
  return !self->core_error;
}

gboolean
fh_pipewire_is_private (FhPipeWire *self)
{
  return self->private_dir != NULL;
}

const char *
fh_pipewire_get_private_dir (FhPipeWire *self)
{
  return self->private_dir;
}

void
fh_pipewire_set_router (FhPipeWire *self, FhAudioRouteFunc func, gpointer user_data)
{
  self->router = func;
  self->router_data = user_data;
}

const struct spa_pod *
fh_pipewire_build_audio_format (struct spa_pod_builder *builder, guint channels)
{
  struct spa_audio_info_raw info = {
    .format = SPA_AUDIO_FORMAT_F32,
    .rate = 48000,
    .channels = channels,
  };

  if (channels == 1) {
    info.position[0] = SPA_AUDIO_CHANNEL_MONO;
  } else {
    info.position[0] = SPA_AUDIO_CHANNEL_FL;
    info.position[1] = SPA_AUDIO_CHANNEL_FR;
  }
  return spa_format_audio_raw_build (builder, SPA_PARAM_EnumFormat, &info);
}

guint32
fh_pipewire_find_video_source (FhPipeWire *self, const int *roots, guint n_roots)
{
  GHashTableIter iter;
  gpointer node, client_id;

  g_hash_table_iter_init (&iter, self->video_sources);
  while (g_hash_table_iter_next (&iter, &node, &client_id)) {
    FhPwClient *client = g_hash_table_lookup (self->clients, client_id);
    if (n_roots == 0 ||
        (client && client->sec_pid > 0 &&
         fh_process_descends_from (client->sec_pid, roots, n_roots)))
      return GPOINTER_TO_UINT (node);
  }
  return SPA_ID_INVALID;
}
