/* Local control socket: one line in, one line out. Only the host's own
 * user reaches it (the runtime dir is 0700, the socket 0600). */
#include "app/control-socket.h"

#include <errno.h>
#include <gio/gunixsocketaddress.h>
#include <glib/gstdio.h>
#include <string.h>

#include "app/host.h"

#define MAX_LINE 256

struct _FhControl {
  FhHost *host;
  char *path;
  GSocketService *service;
};

typedef struct {
  FhControl *control;
  GSocketConnection *connection;
  GDataInputStream *input;
} FhControlRequest;

static void
request_free (FhControlRequest *r)
{
  g_io_stream_close (G_IO_STREAM (r->connection), NULL, NULL);
  g_object_unref (r->input);
  g_object_unref (r->connection);
  g_free (r);
}

/* "level ID LEVEL [UNTIL]": UNTIL in Unix seconds (the command line
 * turned --until or --for into it). */
static char *
set_level (FhCore *core, const char *args)
{
  g_auto (GStrv) words = g_strsplit (args, " ", -1);
  guint n = g_strv_length (words);
  g_autoptr (GError) error = NULL;
  FhAccess access = { 0 };
  char *end = NULL;
  int applied;

  if (n < 2 || n > 3 || !fh_access_level_from_string (words[1], &access.level))
    return g_strdup ("error say 'level ID full|controller|view [UNTIL]'");
  if (n == 3) {
    access.until = g_ascii_strtoll (words[2], &end, 10);
    if (!end || *end || access.until <= 0)
      return g_strdup ("error UNTIL is a time in Unix seconds");
  }
  applied = fh_core_set_device_access (core, words[0], &access, &error);
  return applied < 0 ? g_strdup_printf ("error %s", error->message)
                     : g_strdup_printf ("level-set %d", applied);
}

/* "sessions-list": one "key=value …" group per live session, "; "
 * between them (no value holds a space). */
static char *
list_sessions (FhCore *core)
{
  g_autoptr (GPtrArray) sessions = fh_core_list_sessions (core);
  GString *out = g_string_new ("sessions-list ");

  for (guint i = 0; i < sessions->len; i++) {
    FhSession *s = sessions->pdata[i];
    const FhMode *mode = fh_session_get_mode (s);
    const FhSessionCounters *counters = fh_session_get_counters (s);
    const char *plane = fh_session_get_plane (s);
    g_string_append_printf (out,
                            "%sid=%s device=%s mode=%ux%u@%u fps=%.0f kbps=%.0f backend=%s "
                            "plane=%s state=%s guests=%u",
                            i ? "; " : "", fh_session_get_id (s), fh_session_get_device (s),
                            mode->width, mode->height, mode->refresh, counters->fps,
                            counters->bitrate_bps / 1000.0, fh_session_get_backend_name (s),
                            plane && *plane ? plane : "-",
                            fh_session_state_to_string (fh_session_get_state (s)),
                            fh_session_count_guests (s));
  }
  return g_string_free (out, FALSE);
}

/* "owner ID on|off". */
static char *
set_owner (FhCore *core, const char *args)
{
  g_auto (GStrv) words = g_strsplit (args, " ", -1);
  g_autoptr (GError) error = NULL;

  if (g_strv_length (words) != 2 ||
      (!g_str_equal (words[1], "on") && !g_str_equal (words[1], "off")))
    return g_strdup ("error say 'owner ID on|off'");
  if (!fh_core_set_device_owner (core, words[0], g_str_equal (words[1], "on"), &error))
    return g_strdup_printf ("error %s", error->message);
  return g_strdup_printf ("owner-set %s %s", words[0], words[1]);
}

static char *
handle_command (FhControl *self, const char *line)
{
  FhCore *core = fh_host_get_core (self->host);

  if (g_str_equal (line, "pair"))
    return g_strdup_printf ("pin %s", fh_host_new_pin (self->host));
  if (g_str_has_prefix (line, "moonlight-pin ")) {
    g_autoptr (GError) error = NULL;
    g_autofree char *client = NULL;
    return fh_prompts_answer_waiting (fh_core_get_prompts (core), FH_PROMPT_PIN, TRUE,
                                      line + strlen ("moonlight-pin "), &client, &error)
             ? g_strdup_printf ("pin-entered %s", client)
             : g_strdup_printf ("error %s", error->message);
  }
  /* "sessions" stays a count: the host's own probe of a running host and
   * older scripts ask it. */
  if (g_str_equal (line, "sessions"))
    return g_strdup_printf ("sessions %u", fh_core_count_sessions (core));
  if (g_str_equal (line, "sessions-list"))
    return list_sessions (core);
  if (g_str_has_prefix (line, "end ")) {
    g_autoptr (GError) error = NULL;
    const char *id = line + strlen ("end ");
    return fh_core_end_session (core, id, &error) ? g_strdup_printf ("ended %s", id)
                                                  : g_strdup_printf ("error %s", error->message);
  }
  if (g_str_has_prefix (line, "owner "))
    return set_owner (core, line + strlen ("owner "));
  if (g_str_has_prefix (line, "revoke ")) {
    g_autoptr (GError) error = NULL;
    int ended = fh_core_revoke_device (core, line + strlen ("revoke "), &error);
    return ended < 0 ? g_strdup_printf ("error %s", error->message)
                     : g_strdup_printf ("revoked %d", ended);
  }
  if (g_str_has_prefix (line, "level "))
    return set_level (core, line + strlen ("level "));
  if (g_str_equal (line, "requests")) {
    g_autofree char *joins = fh_prompts_list (fh_core_get_prompts (core), FH_PROMPT_JOIN);
    g_autofree char *guests = fh_prompts_list (fh_core_get_prompts (core), FH_PROMPT_GUEST);
    return g_strdup_printf ("requests %s%s%s", joins, *joins && *guests ? "; " : "", guests);
  }
  if (g_str_has_prefix (line, "approve ") || g_str_has_prefix (line, "deny ")) {
    g_autoptr (GError) error = NULL;
    gboolean approve = g_str_has_prefix (line, "approve ");
    g_auto (GStrv) words = g_strsplit (strchr (line, ' ') + 1, " ", 2);
    const char *id = words[0];
    const char *level = words[1]; /* a guest's, or NULL */
    FhPrompt *prompt = fh_prompts_lookup (fh_core_get_prompts (core), id);
    if (!prompt || fh_prompt_get_kind (prompt) == FH_PROMPT_PIN) {
      return g_strdup_printf ("error no request %s to join the shared desktop or a session "
                              "('funkhaus approve' lists them)", id);
    }
    return fh_prompt_answer (prompt, approve, level, &error)
             ? g_strdup_printf ("%s %s", approve ? "approved" : "denied", id)
             : g_strdup_printf ("error %s", error->message);
  }
  return g_strdup_printf (
    "error unknown command (known: pair, moonlight-pin PIN, sessions, sessions-list, end ID, "
    "revoke ID, level ID LEVEL [UNTIL], owner ID on|off, requests, approve ID, deny ID)");
}

static void
on_line (GObject *source, GAsyncResult *result, gpointer user_data)
{
  FhControlRequest *r = user_data;
  g_autoptr (GError) error = NULL;
  gsize len = 0;
  g_autofree char *line = g_data_input_stream_read_line_finish (r->input, result, &len, &error);
  g_autofree char *answer = NULL;
  g_autofree char *reply = NULL;

  if (!line) {
    if (error && !g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
      g_debug ("control: %s", error->message);
    request_free (r);
    return;
  }
  answer = len > MAX_LINE ? g_strdup ("error line too long")
                          : handle_command (r->control, g_strstrip (line));
  reply = g_strconcat (answer, "\n", NULL);
  g_output_stream_write_all (g_io_stream_get_output_stream (G_IO_STREAM (r->connection)), reply,
                             strlen (reply), NULL, NULL, NULL);
  request_free (r);
}

static gboolean
on_incoming (GSocketService *service, GSocketConnection *connection, GObject *source,
             gpointer user_data)
{
  FhControlRequest *r = g_new0 (FhControlRequest, 1);

  r->control = user_data;
  r->connection = g_object_ref (connection);
  r->input = g_data_input_stream_new (g_io_stream_get_input_stream (G_IO_STREAM (connection)));
  g_data_input_stream_read_line_async (r->input, G_PRIORITY_DEFAULT, NULL, on_line, r);
  return TRUE;
}

FhControl *
fh_control_new (FhHost *host, const char *path, GError **error)
{
  g_autoptr (FhControl) self = g_new0 (FhControl, 1);
  g_autoptr (GSocketAddress) address = g_unix_socket_address_new (path);
  g_autoptr (GError) probe_error = NULL;
  g_autofree char *answer = NULL;

  self->host = host;

  /* A socket that answers belongs to a host that is running; one that does
   * not is left over from a crash and may go. */
  if (g_file_test (path, G_FILE_TEST_EXISTS)) {
    answer = fh_control_request (path, "sessions", &probe_error);
    if (answer) {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_ADDRESS_IN_USE,
                   "another funkhaus is already running for this user (%s answers): stop it "
                   "first",
                   path);
      return NULL;
    }
    g_unlink (path);
  }

  self->service = g_socket_service_new ();
  if (!g_socket_listener_add_address (G_SOCKET_LISTENER (self->service), address,
                                      G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_DEFAULT, NULL, NULL,
                                      error)) {
    g_prefix_error (error, "cannot listen on %s: ", path);
    return NULL;
  }
  self->path = g_strdup (path);
  g_chmod (path, 0600);
  g_signal_connect (self->service, "incoming", G_CALLBACK (on_incoming), self);
  g_socket_service_start (self->service);
  return g_steal_pointer (&self);
}

void
fh_control_free (FhControl *self)
{
  if (!self)
    return;
  if (self->service) {
    g_socket_service_stop (self->service);
    g_socket_listener_close (G_SOCKET_LISTENER (self->service));
    g_object_unref (self->service);
  }
  if (self->path && g_unlink (self->path) < 0 && errno != ENOENT)
    g_warning ("cannot remove %s: %s", self->path, g_strerror (errno));
  g_free (self->path);
  g_free (self);
}

char *
fh_control_request (const char *path, const char *command, GError **error)
{
  g_autoptr (GSocketClient) client = g_socket_client_new ();
  g_autoptr (GSocketAddress) address = g_unix_socket_address_new (path);
  g_autoptr (GSocketConnection) connection = NULL;
  g_autoptr (GDataInputStream) input = NULL;
  g_autofree char *line = g_strconcat (command, "\n", NULL);
  char *answer;

  connection = g_socket_client_connect (client, G_SOCKET_CONNECTABLE (address), NULL, error);
  if (!connection)
    return NULL;
  if (!g_output_stream_write_all (g_io_stream_get_output_stream (G_IO_STREAM (connection)), line,
                                  strlen (line), NULL, NULL, error))
    return NULL;
  input = g_data_input_stream_new (g_io_stream_get_input_stream (G_IO_STREAM (connection)));
  answer = g_data_input_stream_read_line (input, NULL, NULL, error);
  if (!answer && error && !*error)
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_CLOSED, "the host closed the control socket");
  return answer;
}
