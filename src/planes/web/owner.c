/* The owner's page on a console: the live sessions, the paired devices and
 * the waiting requests, and the owner's requests carried out by the core. */
#include "planes/web/owner.h"

#include "core/core.h"

static gboolean
is_owner (FhWebPlane *plane, FhClient *client)
{
  const char *device = fh_client_get_device (client);

  return fh_client_is_console (client) && device &&
         fh_device_store_get_owner (fh_core_get_devices (fh_web_plane_get_core (plane)), device);
}

void
fh_web_owner_greet (FhWebPlane *plane, FhClient *client)
{
  g_autofree char *text = NULL;

  if (!is_owner (plane, client))
    return;
  g_message ("client %s: device %s holds the owner right", fh_client_get_peer (client),
             fh_client_get_device (client));
  text = fh_proto_build_owner (TRUE);
  fh_client_send_text (client, text);
}

static FhDevice *
find_device (GPtrArray *devices, const char *id)
{
  for (guint i = 0; i < devices->len; i++) {
    FhDevice *d = devices->pdata[i];
    if (g_str_equal (d->id, id))
      return d;
  }
  return NULL;
}

static char *
build_state (FhCore *core)
{
  g_autoptr (GPtrArray) devices = fh_device_store_list (fh_core_get_devices (core));
  g_autoptr (GPtrArray) sessions = fh_core_list_sessions (core);
  g_autoptr (GPtrArray) prompts = fh_prompts_list_waiting (fh_core_get_prompts (core));
  g_autoptr (GPtrArray) untils = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (GPtrArray) guest_lists = g_ptr_array_new_with_free_func ((GDestroyNotify) g_strfreev);
  g_autofree FhProtoOwnerSession *s = g_new0 (FhProtoOwnerSession, sessions->len + 1);
  g_autofree FhProtoOwnerDevice *d = g_new0 (FhProtoOwnerDevice, devices->len + 1);
  g_autofree FhProtoOwnerRequest *r = g_new0 (FhProtoOwnerRequest, prompts->len + 1);
  gint64 now = g_get_real_time () / G_USEC_PER_SEC;

  for (guint i = 0; i < sessions->len; i++) {
    FhSession *session = sessions->pdata[i];
    const FhSessionCounters *counters = fh_session_get_counters (session);
    FhDevice *device = find_device (devices, fh_session_get_device (session));
    g_autoptr (GArray) guests = fh_session_list_guests (session);
    GStrvBuilder *names = g_strv_builder_new ();
    char **guest_names;

    /* Its guests by their devices' names (ids where a name is missing). */
    for (guint k = 0; k < guests->len; k++) {
      const FhSessionGuest *g = &g_array_index (guests, FhSessionGuest, k);
      FhDevice *of = find_device (devices, g->device);
      g_strv_builder_add (names, of && of->name ? of->name : g->device);
    }
    guest_names = g_strv_builder_end (names);
    g_strv_builder_unref (names);
    g_ptr_array_add (guest_lists, guest_names);
    s[i] = (FhProtoOwnerSession) {
      .id = fh_session_get_id (session),
      .device = fh_session_get_device (session),
      .device_name = device ? device->name : NULL,
      .mode = *fh_session_get_mode (session),
      .fps = counters->fps,
      .kbps = counters->bitrate_bps / 1000.0,
      .backend = fh_session_get_backend_name (session),
      .plane = fh_session_get_plane (session),
      .state = fh_session_state_to_string (fh_session_get_state (session)),
      .guests = (const char *const *) guest_names,
    };
  }
  for (guint i = 0; i < devices->len; i++) {
    FhDevice *device = devices->pdata[i];
    FhAccessLevel level = fh_access_effective (&device->access, now);
    char *until = NULL;
    /* An expired level reads as what it is now (view), without a time. */
    if (device->access.until && level == device->access.level && level != FH_ACCESS_VIEW)
      g_ptr_array_add (untils, until = fh_access_format_time (device->access.until));
    d[i] = (FhProtoOwnerDevice) {
      .id = device->id,
      .name = device->name,
      .kind = device->kind,
      .level = fh_access_level_to_string (level),
      .until = until,
      .owner = device->owner,
    };
  }
  for (guint i = 0; i < prompts->len; i++) {
    FhPrompt *prompt = prompts->pdata[i];
    r[i] = (FhProtoOwnerRequest) {
      .id = fh_prompt_get_id (prompt),
      .kind = fh_prompt_kind_to_string (fh_prompt_get_kind (prompt)),
      .who = fh_prompt_get_who (prompt),
      .from = fh_prompt_get_from (prompt),
      .timeout_s = fh_prompt_get_timeout (prompt),
    };
  }
  return fh_proto_build_owner_state (s, sessions->len, d, devices->len, r, prompts->len);
}

static gboolean
set_level (FhCore *core, const FhClientMessage *msg, GError **error)
{
  FhAccess access = { 0 };
  gint64 now = g_get_real_time () / G_USEC_PER_SEC, seconds;

  /* The parser let only the three words through. */
  if (!fh_access_level_from_string (msg->owner_level, &access.level))
    g_return_val_if_reached (FALSE);
  if (msg->owner_until && !fh_access_parse_time (msg->owner_until, &access.until, error))
    return FALSE;
  if (msg->owner_for) {
    if (!fh_access_parse_duration (msg->owner_for, &seconds, error))
      return FALSE;
    access.until = now + seconds;
  }
  if (access.until && access.until <= now) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT, "%s is already past",
                 msg->owner_until);
    return FALSE;
  }
  return fh_core_set_device_access (core, msg->owner_device, &access, error) >= 0;
}

static gboolean
answer_request (FhCore *core, const FhClientMessage *msg, GError **error)
{
  FhPrompt *prompt = fh_prompts_lookup (fh_core_get_prompts (core), msg->owner_request);

  if (!prompt || fh_prompt_get_state (prompt) != FH_PROMPT_WAITING) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND, "no request %s waits for an answer",
                 msg->owner_request);
    return FALSE;
  }
  return fh_prompt_answer (prompt, msg->owner_op == FH_OWNER_OP_APPROVE, msg->owner_value, error);
}

void
fh_web_owner_handle (FhWebPlane *plane, FhClient *client, const FhClientMessage *msg)
{
  FhCore *core = fh_web_plane_get_core (plane);
  const char *op = fh_owner_op_to_string (msg->owner_op);
  g_autoptr (GError) error = NULL;
  g_autofree char *answer = NULL;
  gboolean ok = TRUE;

  /* Asked again on every request: a right taken away holds at once. */
  if (!is_owner (plane, client)) {
    g_message ("client %s: owner request '%s' from %s%s without the owner right: refused",
               fh_client_get_peer (client), op,
               fh_client_get_device (client) ? "device " : "a connection that proved no device",
               fh_client_get_device (client) ? fh_client_get_device (client) : "");
    fh_client_close_with_error (client, FH_PROTO_ERROR_UNAUTHORIZED,
                                "only the console of a device with the owner right may ask "
                                "that ('funkhaus devices owner ID' gives it)");
    return;
  }
  if (msg->owner_op != FH_OWNER_OP_STATE)
    g_message ("client %s: owner device %s asks: %s %s", fh_client_get_peer (client),
               fh_client_get_device (client), op,
               msg->owner_session   ? msg->owner_session
               : msg->owner_device  ? msg->owner_device
               : msg->owner_request ? msg->owner_request
                                    : "");
  switch (msg->owner_op) {
  case FH_OWNER_OP_STATE:
    answer = build_state (core);
    break;
  case FH_OWNER_OP_NEW_PIN:
    /* The same PIN 'funkhaus pair' makes: one at a time, replacing any. */
    answer = fh_proto_build_owner_pin (fh_device_store_new_pin (fh_core_get_devices (core)));
    break;
  case FH_OWNER_OP_END_SESSION:
    ok = fh_core_end_session (core, msg->owner_session, &error);
    break;
  case FH_OWNER_OP_REVOKE:
    ok = fh_core_revoke_device (core, msg->owner_device, &error) >= 0;
    break;
  case FH_OWNER_OP_LEVEL:
    ok = set_level (core, msg, &error);
    break;
  case FH_OWNER_OP_OWNER:
    ok = fh_core_set_device_owner (core, msg->owner_device, msg->owner_right, &error);
    break;
  case FH_OWNER_OP_APPROVE:
  case FH_OWNER_OP_DENY:
    ok = answer_request (core, msg, &error);
    break;
  }
  if (!ok) {
    g_message ("client %s: owner request %s failed: %s", fh_client_get_peer (client), op,
               error->message);
    answer = fh_proto_build_owner_error (msg->owner_op, error->message);
  } else if (!answer) {
    answer = fh_proto_build_owner_done (msg->owner_op);
  }
  /* (Revoking its own device closed @client: the send is then a no-op.) */
  fh_client_send_text (client, answer);
}
