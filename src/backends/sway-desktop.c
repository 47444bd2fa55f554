/* The shared desktop on sway (through swaymsg) and the wlroots-shared
 * backend: one headless output per view, captured with wlr-screencopy.
 *
 * sway 1.7 cannot remove an output and wlroots 0.15 cannot disable a
 * headless one: an output a client leaves is parked (PARKED_SIZE square,
 * 1 Hz) and reused for the next client (sway 1.8 and newer can remove it:
 * `output NAME unplug`). */
#include "backends/shared-desktop.h"

#include <gio/gunixsocketaddress.h>
#include <json-glib/json-glib.h>
#include <string.h>

#include "media/screencopy.h"
#include "base/process.h"
#include "media/wlr-injector.h"

#define PARKED_SIZE 64

typedef struct {
  FhSharedDesktop base;
  char *ipc_socket;
  char *wayland_socket;

  GMutex lock; /* everything below: outputs change from worker threads */
  GPtrArray *spare; /* names of disabled outputs made by us, to reuse */
  FhLayoutRect layout; /* the box of all active outputs */

  FhWlrInjector *injector; /* main thread */
} FhSwayDesktop;

/* Runs swaymsg against the desktop and returns its JSON answer. */
static JsonNode *
swaymsg (FhSwayDesktop *self, GError **error, ...)
{
  g_autoptr (GPtrArray) argv = g_ptr_array_new ();
  g_autoptr (GSubprocess) process = NULL;
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_autofree char *out = NULL;
  const char *arg;
  va_list ap;

  g_ptr_array_add (argv, (gpointer) "swaymsg");
  g_ptr_array_add (argv, (gpointer) "-r");
  g_ptr_array_add (argv, (gpointer) "-s");
  g_ptr_array_add (argv, self->ipc_socket);
  va_start (ap, error);
  while ((arg = va_arg (ap, const char *)))
    g_ptr_array_add (argv, (gpointer) arg);
  va_end (ap);
  g_ptr_array_add (argv, NULL);

  process = g_subprocess_newv ((const char *const *) argv->pdata,
                               G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_MERGE,
                               error);
  if (!process) {
    g_prefix_error (error, "cannot run swaymsg (install sway): ");
    return NULL;
  }
  if (!g_subprocess_communicate_utf8 (process, NULL, NULL, &out, NULL, error))
    return NULL;
  if (!json_parser_load_from_data (parser, out ? out : "", -1, NULL)) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "the shared desktop's sway answered: %s",
                 out ? g_strstrip (out) : "nothing");
    return NULL;
  }
  return json_node_copy (json_parser_get_root (parser));
}

/* A command's answer: [{"success": true}, …], or the first error. */
static gboolean
command_ok (JsonNode *answer, GError **error)
{
  JsonArray *results;

  if (!answer || !JSON_NODE_HOLDS_ARRAY (answer))
    goto bad;
  results = json_node_get_array (answer);
  for (guint i = 0; i < json_array_get_length (results); i++) {
    JsonObject *r = json_array_get_object_element (results, i);
    if (!r || !json_object_get_boolean_member_with_default (r, "success", FALSE)) {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "sway refused: %s",
                   r ? json_object_get_string_member_with_default (r, "error", "no reason")
                     : "no reason");
      return FALSE;
    }
  }
  return TRUE;

bad:
  g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "sway gave no answer");
  return FALSE;
}

static gboolean
run_command (FhSwayDesktop *self, const char *command, GError **error)
{
  g_autoptr (JsonNode) answer = swaymsg (self, error, "--", command, NULL);

  return answer && command_ok (answer, error);
}

/* Output names, and the layout box of the active ones other than
 * @exclude. */
static GPtrArray *
list_outputs (FhSwayDesktop *self, const char *exclude, FhLayoutRect *layout, GError **error)
{
  g_autoptr (JsonNode) answer = swaymsg (self, error, "-t", "get_outputs", NULL);
  GPtrArray *names;
  JsonArray *outputs;
  int x0 = G_MAXINT, y0 = G_MAXINT, x1 = G_MININT, y1 = G_MININT;

  if (!answer)
    return NULL;
  if (!JSON_NODE_HOLDS_ARRAY (answer)) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "sway's get_outputs is not a list");
    return NULL;
  }
  names = g_ptr_array_new_with_free_func (g_free);
  outputs = json_node_get_array (answer);
  for (guint i = 0; i < json_array_get_length (outputs); i++) {
    JsonObject *o = json_array_get_object_element (outputs, i);
    JsonObject *rect = o ? json_object_get_object_member (o, "rect") : NULL;
    if (!o)
      continue;
    g_ptr_array_add (names, g_strdup (json_object_get_string_member_with_default (o, "name", "")));
    if (!rect || !json_object_get_boolean_member_with_default (o, "active", FALSE) ||
        g_strcmp0 (exclude, json_object_get_string_member_with_default (o, "name", "")) == 0)
      continue;
    x0 = MIN (x0, (int) json_object_get_int_member (rect, "x"));
    y0 = MIN (y0, (int) json_object_get_int_member (rect, "y"));
    x1 = MAX (x1, (int) (json_object_get_int_member (rect, "x") +
                         json_object_get_int_member (rect, "width")));
    y1 = MAX (y1, (int) (json_object_get_int_member (rect, "y") +
                         json_object_get_int_member (rect, "height")));
  }
  if (layout && x1 > x0)
    *layout = (FhLayoutRect) { x0, y0, (guint) (x1 - x0), (guint) (y1 - y0) };
  return names;
}

static void sway_free (FhSharedDesktop *desktop);
static gboolean sway_owns_process (FhSharedDesktop *desktop, int pid);

static const FhSharedDesktopOps sway_ops = {
  .kind = "sway",
  .free = sway_free,
  .owns_process = sway_owns_process,
};

FhSharedDesktop *
fh_shared_desktop_new_sway (const char *ipc_socket, const char *wayland_socket,
                            const char *keyboard_layout, guint max_views, GError **error)
{
  FhSwayDesktop *self = g_new0 (FhSwayDesktop, 1);
  g_autoptr (FhSharedDesktop) desktop = &self->base;
  g_autoptr (GSocketAddress) address = g_unix_socket_address_new (ipc_socket);
  g_autoptr (GSocket) socket = NULL;
  g_autoptr (GCredentials) credentials = NULL;
  g_autoptr (GPtrArray) names = NULL;

  self->base.ops = &sway_ops;
  self->base.backend = &fh_display_backend_wlroots_shared;
  self->base.max_views = max_views;
  g_mutex_init (&self->lock);
  self->ipc_socket = g_strdup (ipc_socket);
  self->wayland_socket = g_strdup (wayland_socket);
  self->spare = g_ptr_array_new_with_free_func (g_free);

  /* Who is at the other end: the compositor whose apps share its audio. */
  socket = g_socket_new (G_SOCKET_FAMILY_UNIX, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_DEFAULT,
                         error);
  if (!socket || !g_socket_connect (socket, address, NULL, error)) {
    g_prefix_error (error, "cannot reach the shared desktop's sway at %s: ", ipc_socket);
    return NULL;
  }
  if ((credentials = g_socket_get_credentials (socket, NULL)))
    self->base.pid = (int) g_credentials_get_unix_pid (credentials, NULL);
  g_socket_close (socket, NULL);

  if (!(names = list_outputs (self, NULL, &self->layout, error)))
    return NULL;
  if (!g_file_test (wayland_socket, G_FILE_TEST_EXISTS)) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND,
                 "the shared desktop's Wayland socket %s does not exist", wayland_socket);
    return NULL;
  }
  /* Connected now, long before the first key: a virtual keyboard made
   * right before its first key loses that key. */
  self->injector = fh_wlr_injector_new_shared (wayland_socket, keyboard_layout);
  if (!fh_wlr_injector_connect (self->injector, error)) {
    g_prefix_error (error, "cannot inject into the shared desktop: ");
    return NULL;
  }
  g_message ("shared desktop: sway %d at %s, %u output(s), up to %u views", self->base.pid,
             ipc_socket, names->len, max_views);
  return g_steal_pointer (&desktop);
}

static void
sway_free (FhSharedDesktop *desktop)
{
  FhSwayDesktop *self = (FhSwayDesktop *) desktop;

  g_clear_pointer (&self->injector, fh_wlr_injector_free);
  g_clear_pointer (&self->spare, g_ptr_array_unref);
  g_mutex_clear (&self->lock);
  g_free (self->ipc_socket);
  g_free (self->wayland_socket);
  g_free (self);
}

/* sway starts apps double-forked (their parent is gone), but they carry
 * its SWAYSOCK. */
static gboolean
sway_owns_process (FhSharedDesktop *desktop, int pid)
{
  FhSwayDesktop *self = (FhSwayDesktop *) desktop;
  g_autofree char *swaysock = fh_process_find_env (pid, "SWAYSOCK");

  return (desktop->pid > 0 && fh_process_descends_from (pid, &desktop->pid, 1)) ||
         g_strcmp0 (swaysock, self->ipc_socket) == 0;
}

static gboolean
str_in (GPtrArray *names, const char *name)
{
  for (guint i = 0; i < names->len; i++) {
    if (g_str_equal (names->pdata[i], name))
      return TRUE;
  }
  return FALSE;
}

static char *
add_output (FhSwayDesktop *self, const FhMode *mode, FhLayoutRect *rect,
                              GError **error)
{
  g_autoptr (GMutexLocker) locker = g_mutex_locker_new (&self->lock);
  g_autoptr (GPtrArray) before = NULL, after = NULL;
  g_autofree char *name = NULL, *command = NULL;
  FhLayoutRect layout = { 0 };

  if (self->spare->len > 0) {
    name = g_ptr_array_steal_index (self->spare, self->spare->len - 1);
  } else {
    if (!(before = list_outputs (self, NULL, NULL, error)) ||
        !run_command (self, "create_output", error) ||
        !(after = list_outputs (self, NULL, NULL, error)))
      return NULL;
    for (guint i = 0; i < after->len && !name; i++) {
      if (!str_in (before, after->pdata[i]))
        name = g_strdup (after->pdata[i]);
    }
    if (!name) {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "sway made no new output");
      return NULL;
    }
  }
  /* Right of every other output. */
  if (!list_outputs (self, name, &layout, error)) {
    g_ptr_array_add (self->spare, g_steal_pointer (&name));
    return NULL;
  }
  *rect = (FhLayoutRect) { layout.x + (int) layout.width, layout.y, mode->width, mode->height };
  command = g_strdup_printf ("output %s mode --custom %ux%u@%uHz position %d %d", name,
                             mode->width, mode->height, mode->refresh, rect->x, rect->y);
  if (!run_command (self, command, error)) {
    g_ptr_array_add (self->spare, g_steal_pointer (&name));
    return NULL;
  }
  list_outputs (self, NULL, &self->layout, NULL);
  g_message ("shared desktop: view on %s at %ux%u@%u, at %d,%d", name, mode->width, mode->height,
             mode->refresh, rect->x, rect->y);
  return g_steal_pointer (&name);
}

static void
remove_output (FhSwayDesktop *self, const char *name)
{
  g_autoptr (GMutexLocker) locker = g_mutex_locker_new (&self->lock);
  g_autofree char *command = NULL;
  g_autoptr (GError) error = NULL;

  /* wlroots 0.15 cannot disable a headless output ("Cannot disable a
   * headless output"; and once asked, every later commit of it fails), and
   * sway 1.7 cannot remove one (sway 1.8 has `output NAME unplug`). So it
   * is parked: shrunk to 64x64 at 1 Hz where it is, until the next view. */
  command = g_strdup_printf ("output %s mode --custom %ux%u@1Hz", name, PARKED_SIZE,
                             PARKED_SIZE);
  if (!run_command (self, command, &error))
    g_warning ("shared desktop: cannot park %s: %s", name, error->message);
  g_ptr_array_add (self->spare, g_strdup (name));
  list_outputs (self, NULL, &self->layout, NULL);
  g_message ("shared desktop: %s parked, kept for the next view", name);
}

static void
inject_in_view (FhSwayDesktop *self, const FhLayoutRect *view,
                          const FhInputEvent *event)
{
  g_autoptr (GError) error = NULL;
  FhLayoutRect layout;

  g_mutex_lock (&self->lock);
  layout = self->layout;
  g_mutex_unlock (&self->lock);
  if (!fh_wlr_injector_inject_in_view (self->injector, event, view, &layout, &error))
    g_warning ("shared desktop: input: %s", error->message);
}

/* ---- the wlroots-shared backend --------------------------------------- */

typedef struct {
  FhVirtualOutput base;
  FhSwayDesktop *desktop;
  char *name; /* of its headless output */
  FhLayoutRect rect;
  FhScreencopy *capture; /* encode thread */
} FhSharedOutput;

static gboolean
shared_capture (FhVirtualOutput *output, FhFrame *frame, guint64 frame_number,
                gint64 deadline_us, gint64 *timestamp_us, GError **error)
{
  FhSharedOutput *self = (FhSharedOutput *) output;

  return fh_screencopy_capture (self->capture, frame, deadline_us, timestamp_us, error);
}

static void
shared_inject (FhVirtualOutput *output, const FhInputEvent *event)
{
  FhSharedOutput *self = (FhSharedOutput *) output;

  inject_in_view (self->desktop, &self->rect, event);
}

static void
shared_destroy (FhVirtualOutput *output)
{
  FhSharedOutput *self = (FhSharedOutput *) output;

  g_clear_pointer (&self->capture, fh_screencopy_free);
  if (self->name)
    remove_output (self->desktop, self->name);
  g_free (self->name);
  fh_virtual_output_finish (output);
  g_free (self);
}

static const FhVirtualOutputOps shared_ops = {
  .capture = shared_capture,
  .inject = shared_inject,
  .destroy = shared_destroy,
};

static FhVirtualOutput *
shared_create_output (const FhOutputRequest *request, GError **error)
{
  FhSharedOutput *self = g_new0 (FhSharedOutput, 1);
  FhVirtualOutput *output = &self->base;

  fh_virtual_output_init (output, &shared_ops, request);
  self->desktop = (FhSwayDesktop *) request->shared_desktop;
  if (!self->desktop || request->shared_desktop->ops != &sway_ops) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED, "this host has no shared desktop");
    goto fail;
  }
  if (!(self->name = add_output (self->desktop, &request->mode, &self->rect, error)) ||
      !(self->capture = fh_screencopy_new (self->desktop->wayland_socket, self->name,
                                            request->mode.refresh, error)))
    goto fail;
  return output;

fail:
  shared_destroy (output);
  return NULL;
}

const FhDisplayBackend fh_display_backend_wlroots_shared = {
  .name = "wlroots-shared",
  .description = "a view of the shared desktop on sway: one headless output per client",
  .create_output = shared_create_output,
};
