/* Parsing and building of web-plane messages (docs/protocol.md). Every
 * function here is pure: the unit tests and the fuzzer call them directly. */
#include "planes/web/protocol.h"

#include <json-glib/json-glib.h>
#include <math.h>
#include <string.h>

#include <linux/input-event-codes.h>

#include "media/keymap.h"

G_DEFINE_QUARK (fh-proto-error-quark, fh_proto_error)

static const struct {
  const char *name;
  guint16 close_code;
} error_table[] = {
  [FH_PROTO_ERROR_BAD_MESSAGE] = { "bad-message", 4000 },
  [FH_PROTO_ERROR_UNAUTHORIZED] = { "unauthorized", 4001 },
  [FH_PROTO_ERROR_UNEXPECTED_MESSAGE] = { "unexpected-message", 4002 },
  [FH_PROTO_ERROR_UNSUPPORTED] = { "unsupported", 4003 },
  [FH_PROTO_ERROR_SESSION_FAILED] = { "session-failed", 4004 },
  [FH_PROTO_ERROR_MESSAGE_TOO_LARGE] = { "message-too-large", 4005 },
  [FH_PROTO_ERROR_HELLO_TIMEOUT] = { "hello-timeout", 4008 },
  [FH_PROTO_ERROR_REPLACED] = { "replaced", 4009 },
  [FH_PROTO_ERROR_RATE_LIMITED] = { "rate-limited", 4006 },
  [FH_PROTO_ERROR_HOST_SHUTDOWN] = { "host-shutdown", 1001 },
  [FH_PROTO_ERROR_TOO_SLOW] = { "too-slow", 4010 },
  [FH_PROTO_ERROR_REFUSED] = { "refused", 4011 },
  [FH_PROTO_ERROR_ENDED] = { "ended", 4012 },
};

static const char *const owner_ops[] = {
  [FH_OWNER_OP_STATE] = "state",
  [FH_OWNER_OP_END_SESSION] = "end-session",
  [FH_OWNER_OP_REVOKE] = "revoke",
  [FH_OWNER_OP_LEVEL] = "level",
  [FH_OWNER_OP_OWNER] = "owner",
  [FH_OWNER_OP_NEW_PIN] = "new-pin",
  [FH_OWNER_OP_APPROVE] = "approve",
  [FH_OWNER_OP_DENY] = "deny",
};

const char *
fh_owner_op_to_string (FhOwnerOp op)
{
  if ((guint) op >= G_N_ELEMENTS (owner_ops))
    return "unknown";
  return owner_ops[op];
}

const char *
fh_proto_error_to_string (FhProtoError code)
{
  if ((guint) code >= G_N_ELEMENTS (error_table))
    return "bad-message";
  return error_table[code].name;
}

guint16
fh_proto_error_close_code (FhProtoError code)
{
  if ((guint) code >= G_N_ELEMENTS (error_table))
    return 4000;
  return error_table[code].close_code;
}

void
fh_client_message_clear (FhClientMessage *msg)
{
  g_free (msg->device);
  g_free (msg->token);
  g_free (msg->resume);
  g_free (msg->layout);
  g_free (msg->pin);
  g_free (msg->text);
  g_free (msg->join);
  g_free (msg->request);
  g_free (msg->level);
  g_free (msg->owner_session);
  g_free (msg->owner_device);
  g_free (msg->owner_request);
  g_free (msg->owner_value);
  g_free (msg->owner_level);
  g_free (msg->owner_until);
  g_free (msg->owner_for);
  memset (msg, 0, sizeof *msg);
}

#define bad(error, ...) g_set_error (error, FH_PROTO_ERROR, FH_PROTO_ERROR_BAD_MESSAGE, __VA_ARGS__)

/* A JSON member that must be an integer (not a float, not a string). */
static gboolean
get_uint_member (JsonObject *obj, const char *name, gboolean required, guint max, guint *out,
                 GError **error)
{
  JsonNode *node = json_object_get_member (obj, name);
  gint64 v;

  if (!node || JSON_NODE_HOLDS_NULL (node)) {
    if (required) {
      bad (error, "'%s' is missing", name);
      return FALSE;
    }
    *out = 0;
    return TRUE;
  }
  if (!JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_INT64) {
    bad (error, "'%s' must be an integer", name);
    return FALSE;
  }
  v = json_node_get_int (node);
  if (v < 0 || v > (gint64) max) {
    bad (error, "'%s' is out of range (0–%u)", name, max);
    return FALSE;
  }
  *out = (guint) v;
  return TRUE;
}

static gboolean
get_string_member (JsonObject *obj, const char *name, gboolean required, gsize max, char **out,
                   GError **error)
{
  JsonNode *node = json_object_get_member (obj, name);
  const char *s;

  *out = NULL;
  if (!node || JSON_NODE_HOLDS_NULL (node)) {
    if (required)
      bad (error, "'%s' is missing", name);
    return !required;
  }
  if (!JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_STRING) {
    bad (error, "'%s' must be a string", name);
    return FALSE;
  }
  s = json_node_get_string (node);
  if (strlen (s) > max) {
    bad (error, "'%s' is longer than %zu bytes", name, max);
    return FALSE;
  }
  *out = g_strdup (s);
  return TRUE;
}

/* An optional boolean member: left as it is when missing. */
static gboolean
get_bool_member (JsonObject *obj, const char *name, gboolean *out, GError **error)
{
  JsonNode *node = json_object_get_member (obj, name);

  if (!node)
    return TRUE;
  if (!JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_BOOLEAN) {
    bad (error, "'%s' must be true or false", name);
    return FALSE;
  }
  *out = json_node_get_boolean (node);
  return TRUE;
}

static JsonObject *
get_object_member (JsonObject *obj, const char *name, GError **error)
{
  JsonNode *node = json_object_get_member (obj, name);

  if (!node || !JSON_NODE_HOLDS_OBJECT (node)) {
    bad (error, "'%s' must be an object", name);
    return NULL;
  }
  return json_node_get_object (node);
}

gboolean
fh_proto_check_mode (const FhMode *mode, GError **error)
{
  if (mode->width < 64 || mode->width > 7680 || mode->height < 64 || mode->height > 4320 ||
      mode->refresh < 1 || mode->refresh > 240) {
    g_set_error (error, FH_PROTO_ERROR, FH_PROTO_ERROR_UNSUPPORTED,
                 "mode %ux%u@%u is outside 64x64–7680x4320 at 1–240 Hz", mode->width,
                 mode->height, mode->refresh);
    return FALSE;
  }
  if (mode->width % 2 || mode->height % 2) {
    g_set_error (error, FH_PROTO_ERROR, FH_PROTO_ERROR_UNSUPPORTED,
                 "mode %ux%u: width and height must be even", mode->width, mode->height);
    return FALSE;
  }
  return TRUE;
}

/* The part hello and console share: the protocol version and the device
 * credential. */
static gboolean
parse_credential (JsonObject *root, FhClientMessage *msg, GError **error)
{
  JsonObject *credential;

  if (!get_uint_member (root, "protocol", TRUE, G_MAXUINT16, &msg->protocol, error))
    return FALSE;
  if (msg->protocol != FH_PROTOCOL_VERSION) {
    g_set_error (error, FH_PROTO_ERROR, FH_PROTO_ERROR_UNSUPPORTED,
                 "protocol %u is not supported: this host speaks protocol %d", msg->protocol,
                 FH_PROTOCOL_VERSION);
    return FALSE;
  }

  /* A message without a credential is an authorization failure, not a
   * malformed message: say so. */
  if (!json_object_has_member (root, "credential")) {
    g_set_error (error, FH_PROTO_ERROR, FH_PROTO_ERROR_UNAUTHORIZED,
                 "no device credential: pair this device with the host's PIN first");
    return FALSE;
  }
  return (credential = get_object_member (root, "credential", error)) &&
         get_string_member (credential, "device", TRUE, FH_PROTO_MAX_CREDENTIAL, &msg->device,
                            error) &&
         get_string_member (credential, "token", TRUE, FH_PROTO_MAX_CREDENTIAL, &msg->token,
                            error);
}

static gboolean
parse_hello (JsonObject *root, FhClientMessage *msg, GError **error)
{
  JsonObject *mode;
  JsonNode *codecs;
  JsonArray *array;

  if (!parse_credential (root, msg, error))
    return FALSE;

  if (!(mode = get_object_member (root, "mode", error)) ||
      !get_uint_member (mode, "width", TRUE, G_MAXUINT16, &msg->mode.width, error) ||
      !get_uint_member (mode, "height", TRUE, G_MAXUINT16, &msg->mode.height, error) ||
      !get_uint_member (mode, "refresh", TRUE, G_MAXUINT16, &msg->mode.refresh, error))
    return FALSE;
  if (!fh_proto_check_mode (&msg->mode, error))
    return FALSE;

  codecs = json_object_get_member (root, "codecs");
  if (!codecs || !JSON_NODE_HOLDS_ARRAY (codecs)) {
    bad (error, "'codecs' must be an array of strings");
    return FALSE;
  }
  array = json_node_get_array (codecs);
  if (json_array_get_length (array) > FH_PROTO_MAX_CODECS) {
    bad (error, "'codecs' has more than %d entries", FH_PROTO_MAX_CODECS);
    return FALSE;
  }
  for (guint i = 0; i < json_array_get_length (array); i++) {
    JsonNode *c = json_array_get_element (array, i);
    if (!JSON_NODE_HOLDS_VALUE (c) || json_node_get_value_type (c) != G_TYPE_STRING) {
      bad (error, "'codecs' must be an array of strings");
      return FALSE;
    }
    if (g_str_equal (json_node_get_string (c), "h264"))
      msg->codecs |= FH_CODEC_H264;
  }

  if (!get_uint_member (root, "bitrate_kbps", FALSE, 200000, &msg->bitrate_kbps, error))
    return FALSE;
  if (msg->bitrate_kbps != 0 && msg->bitrate_kbps < 100) {
    bad (error, "'bitrate_kbps' must be 100–200000");
    return FALSE;
  }
  if (!get_bool_member (root, "acks", &msg->acks, error) ||
      !get_bool_member (root, "mic", &msg->mic, error) ||
      !get_bool_member (root, "clipboard", &msg->clipboard, error))
    return FALSE;
  {
    g_autofree char *desktop = NULL;
    if (!get_string_member (root, "desktop", FALSE, 16, &desktop, error))
      return FALSE;
    if (desktop && !g_str_equal (desktop, "own") && !g_str_equal (desktop, "shared")) {
      bad (error, "'desktop' must be \"own\" or \"shared\"");
      return FALSE;
    }
    msg->shared = desktop && g_str_equal (desktop, "shared");
  }
  /* Which app is the host's to check: it knows its list. */
  if (!get_uint_member (root, "app", FALSE, G_MAXUINT16, &msg->app, error))
    return FALSE;
  if (!get_string_member (root, "resume", FALSE, 64, &msg->resume, error) ||
      !get_string_member (root, "layout", FALSE, 32, &msg->layout, error) ||
      !get_string_member (root, "join", FALSE, FH_PROTO_MAX_JOIN_CODE, &msg->join, error))
    return FALSE;
  for (const char *c = msg->join; c && *c; c++) {
    if (!g_ascii_isdigit (*c)) {
      bad (error, "'join' is a code of digits");
      return FALSE;
    }
  }
  if (msg->join && !*msg->join) {
    bad (error, "'join' is empty");
    return FALSE;
  }
  /* An xkb layout name ("us", "de", "fr(bepo)"): it ends up in a keymap
   * compiler, so only the characters such names use. */
  for (const char *c = msg->layout; c && *c; c++) {
    if (!g_ascii_isalnum (*c) && !strchr ("()_-+:", *c)) {
      bad (error, "'layout' may hold only letters, digits and ()_-+:");
      return FALSE;
    }
  }
  return TRUE;
}

/* "level": one of the three names. */
static gboolean
get_level_member (JsonObject *obj, gboolean required, char **out, GError **error)
{
  if (!get_string_member (obj, "level", required, 16, out, error))
    return FALSE;
  if (*out && !g_str_equal (*out, "full") && !g_str_equal (*out, "controller") &&
      !g_str_equal (*out, "view")) {
    bad (error, "'level' must be \"full\", \"controller\" or \"view\"");
    g_clear_pointer (out, g_free);
    return FALSE;
  }
  return TRUE;
}

/* An owner request: the op, then exactly the members it needs. Whether
 * this device may ask is the host's to check, not the parser's. */
static gboolean
parse_owner (JsonObject *root, FhClientMessage *msg, GError **error)
{
  g_autofree char *op = NULL;
  guint i;

  if (!get_string_member (root, "op", TRUE, 32, &op, error))
    return FALSE;
  for (i = 0; i < G_N_ELEMENTS (owner_ops); i++) {
    if (g_str_equal (op, owner_ops[i]))
      break;
  }
  if (i == G_N_ELEMENTS (owner_ops)) {
    bad (error, "unknown owner op '%s'", op);
    return FALSE;
  }
  msg->owner_op = (FhOwnerOp) i;
  switch (msg->owner_op) {
  case FH_OWNER_OP_STATE:
  case FH_OWNER_OP_NEW_PIN:
    return TRUE;
  case FH_OWNER_OP_END_SESSION:
    return get_string_member (root, "session", TRUE, FH_PROTO_MAX_ID, &msg->owner_session, error);
  case FH_OWNER_OP_REVOKE:
    return get_string_member (root, "device", TRUE, FH_PROTO_MAX_CREDENTIAL, &msg->owner_device,
                              error);
  case FH_OWNER_OP_OWNER: {
    JsonNode *node = json_object_get_member (root, "owner");
    if (!node) {
      bad (error, "'owner' is missing");
      return FALSE;
    }
    return get_string_member (root, "device", TRUE, FH_PROTO_MAX_CREDENTIAL, &msg->owner_device,
                              error) &&
           get_bool_member (root, "owner", &msg->owner_right, error);
  }
  case FH_OWNER_OP_LEVEL:
    if (!get_string_member (root, "device", TRUE, FH_PROTO_MAX_CREDENTIAL, &msg->owner_device,
                            error) ||
        !get_level_member (root, TRUE, &msg->owner_level, error) ||
        !get_string_member (root, "until", FALSE, FH_PROTO_MAX_TIME, &msg->owner_until, error) ||
        !get_string_member (root, "for", FALSE, FH_PROTO_MAX_DURATION, &msg->owner_for, error))
      return FALSE;
    if (msg->owner_until && msg->owner_for) {
      bad (error, "say 'until' or 'for', not both");
      return FALSE;
    }
    return TRUE;
  case FH_OWNER_OP_APPROVE:
    if (!get_string_member (root, "value", FALSE, FH_PROTO_MAX_MOONLIGHT_PIN, &msg->owner_value,
                            error))
      return FALSE;
    G_GNUC_FALLTHROUGH;
  case FH_OWNER_OP_DENY:
    return get_string_member (root, "request", TRUE, FH_PROTO_MAX_ID, &msg->owner_request, error);
  }
  g_assert_not_reached ();
}

static gboolean
parse_text (const char *data, gsize len, FhClientMessage *msg, GError **error)
{
  g_autoptr (JsonParser) parser = NULL;
  g_autoptr (GError) json_error = NULL;
  g_autofree char *type = NULL;
  JsonNode *root_node;
  JsonObject *root;

  /* Only a clipboard message may be longer (up to what the WebSocket
   * takes): it is told by its type, so the limit is checked once that is
   * known. */
  if (len > FH_PROTO_MAX_INCOMING) {
    g_set_error (error, FH_PROTO_ERROR, FH_PROTO_ERROR_MESSAGE_TOO_LARGE,
                 "text message of %zu bytes is over the limit of %d", len, FH_PROTO_MAX_INCOMING);
    return FALSE;
  }
  if (!g_utf8_validate_len (data, len, NULL)) {
    bad (error, "text message is not valid UTF-8");
    return FALSE;
  }
  if (memchr (data, '\0', len)) {
    bad (error, "text message contains a NUL byte");
    return FALSE;
  }

  parser = json_parser_new_immutable ();
  if (!json_parser_load_from_data (parser, data, (gssize) len, &json_error)) {
    bad (error, "invalid JSON: %s", json_error->message);
    return FALSE;
  }
  root_node = json_parser_get_root (parser);
  if (!root_node || !JSON_NODE_HOLDS_OBJECT (root_node)) {
    bad (error, "a text message must be a JSON object");
    return FALSE;
  }
  root = json_node_get_object (root_node);
  if (!get_string_member (root, "type", TRUE, 32, &type, error))
    return FALSE;
  if (len > FH_PROTO_MAX_TEXT && !g_str_equal (type, "clipboard")) {
    g_set_error (error, FH_PROTO_ERROR, FH_PROTO_ERROR_MESSAGE_TOO_LARGE,
                 "text message of %zu bytes is over the limit of %d", len, FH_PROTO_MAX_TEXT);
    return FALSE;
  }

  if (g_str_equal (type, "hello")) {
    msg->type = FH_CLIENT_MESSAGE_HELLO;
    return parse_hello (root, msg, error);
  } else if (g_str_equal (type, "keyframe")) {
    msg->type = FH_CLIENT_MESSAGE_KEYFRAME;
    return TRUE;
  } else if (g_str_equal (type, "ping")) {
    JsonNode *t = json_object_get_member (root, "t");
    msg->type = FH_CLIENT_MESSAGE_PING;
    if (!t || !JSON_NODE_HOLDS_VALUE (t) ||
        (json_node_get_value_type (t) != G_TYPE_DOUBLE &&
         json_node_get_value_type (t) != G_TYPE_INT64)) {
      bad (error, "'t' must be a number");
      return FALSE;
    }
    msg->ping_t = json_node_get_double (t);
    if (!isfinite (msg->ping_t)) {
      bad (error, "'t' must be finite");
      return FALSE;
    }
    return TRUE;
  } else if (g_str_equal (type, "ack")) {
    msg->type = FH_CLIENT_MESSAGE_ACK;
    return get_uint_member (root, "frame", TRUE, G_MAXUINT32, &msg->ack_frame, error);
  } else if (g_str_equal (type, "console")) {
    msg->type = FH_CLIENT_MESSAGE_CONSOLE;
    return parse_credential (root, msg, error);
  } else if (g_str_equal (type, "clipboard")) {
    msg->type = FH_CLIENT_MESSAGE_CLIPBOARD;
    if (!get_string_member (root, "text", TRUE, FH_PROTO_MAX_CLIPBOARD, &msg->text, error))
      return FALSE;
    /* (A \u0000 ends the text there: it comes out as a C string.) */
    if (!g_utf8_validate (msg->text, -1, NULL)) {
      bad (error, "'text' is not UTF-8");
      return FALSE;
    }
    return TRUE;
  } else if (g_str_equal (type, "moonlight-pin")) {
    msg->type = FH_CLIENT_MESSAGE_MOONLIGHT_PIN;
    return get_string_member (root, "pin", TRUE, FH_PROTO_MAX_MOONLIGHT_PIN, &msg->pin, error);
  } else if (g_str_equal (type, "guest-answer")) {
    msg->type = FH_CLIENT_MESSAGE_GUEST_ANSWER;
    if (!get_string_member (root, "request", TRUE, FH_PROTO_MAX_REQUEST_ID, &msg->request,
                            error) ||
        !get_bool_member (root, "approve", &msg->approve, error) ||
        !get_level_member (root, msg->approve, &msg->level, error))
      return FALSE;
    return TRUE;
  } else if (g_str_equal (type, "guest")) {
    msg->type = FH_CLIENT_MESSAGE_GUEST;
    if (!get_uint_member (root, "guest", TRUE, G_MAXUINT16, &msg->guest, error) ||
        !get_bool_member (root, "remove", &msg->remove, error) ||
        !get_level_member (root, !msg->remove, &msg->level, error))
      return FALSE;
    if (msg->guest == 0) {
      bad (error, "'guest' starts at 1");
      return FALSE;
    }
    return TRUE;
  } else if (g_str_equal (type, "owner")) {
    msg->type = FH_CLIENT_MESSAGE_OWNER;
    return parse_owner (root, msg, error);
  }
  bad (error, "unknown message type '%s'", type);
  return FALSE;
}

gboolean
fh_proto_parse_text (const char *data, gsize len, FhClientMessage *msg, GError **error)
{
  memset (msg, 0, sizeof *msg);
  if (!parse_text (data, len, msg, error)) {
    fh_client_message_clear (msg);
    return FALSE;
  }
  return TRUE;
}

static guint16
read_u16 (const guint8 *p)
{
  return (guint16) (p[0] | p[1] << 8);
}

static void
write_u16 (guint8 *p, guint16 v)
{
  p[0] = v & 0xff;
  p[1] = v >> 8;
}

static void
write_u32 (guint8 *p, guint32 v)
{
  for (int i = 0; i < 4; i++)
    p[i] = (v >> (8 * i)) & 0xff;
}

static guint32
read_u32 (const guint8 *p)
{
  return (guint32) p[0] | (guint32) p[1] << 8 | (guint32) p[2] << 16 | (guint32) p[3] << 24;
}

static gboolean
check_size (const guint8 *data, gsize len, gsize want, const char *what, GError **error)
{
  if (len != want) {
    bad (error, "%s message must be %zu bytes, got %zu", what, want, len);
    return FALSE;
  }
  return TRUE;
}

static gboolean
check_state (guint8 state, GError **error)
{
  if (state > 1) {
    bad (error, "state must be 0 (up) or 1 (down), got %u", state);
    return FALSE;
  }
  return TRUE;
}

static gboolean
check_reserved (guint8 byte, GError **error)
{
  if (byte != 0) {
    bad (error, "reserved byte must be 0");
    return FALSE;
  }
  return TRUE;
}

static const guint32 button_codes[] = { BTN_LEFT, BTN_MIDDLE, BTN_RIGHT, BTN_SIDE, BTN_EXTRA };

gboolean
fh_proto_parse_input (const guint8 *data, gsize len, FhInputEvent *event, GError **error)
{
  memset (event, 0, sizeof *event);
  if (len < 1) {
    bad (error, "empty binary message");
    return FALSE;
  }

  switch (data[0]) {
  case FH_PROTO_KIND_KEY: {
    guint8 n;
    if (len < 3) {
      bad (error, "key message is truncated (%zu bytes)", len);
      return FALSE;
    }
    n = data[2];
    if (n < 1 || n > FH_PROTO_MAX_KEY_CODE) {
      bad (error, "key code length %u is not 1–%d", n, FH_PROTO_MAX_KEY_CODE);
      return FALSE;
    }
    if (!check_size (data, len, 3 + (gsize) n, "key", error) || !check_state (data[1], error))
      return FALSE;
    for (guint i = 0; i < n; i++) {
      if (!g_ascii_isalnum (data[3 + i])) {
        bad (error, "key code may hold only ASCII letters and digits");
        return FALSE;
      }
    }
    event->type = FH_INPUT_KEY;
    event->key.pressed = data[1];
    event->key.code = fh_keymap_from_dom_code ((const char *) data + 3, n);
    return TRUE;
  }
  case FH_PROTO_KIND_POINTER_MOTION:
    if (!check_size (data, len, 6, "pointer motion", error) || !check_reserved (data[1], error))
      return FALSE;
    event->type = FH_INPUT_POINTER_MOTION;
    event->motion.x = read_u16 (data + 2);
    event->motion.y = read_u16 (data + 4);
    return TRUE;
  case FH_PROTO_KIND_POINTER_BUTTON:
    if (!check_size (data, len, 3, "pointer button", error) || !check_state (data[1], error))
      return FALSE;
    if (data[2] >= G_N_ELEMENTS (button_codes)) {
      bad (error, "pointer button %u is not 0–4", data[2]);
      return FALSE;
    }
    event->type = FH_INPUT_POINTER_BUTTON;
    event->button.pressed = data[1];
    event->button.button = button_codes[data[2]];
    return TRUE;
  case FH_PROTO_KIND_SCROLL:
    if (!check_size (data, len, 6, "scroll", error) || !check_reserved (data[1], error))
      return FALSE;
    event->type = FH_INPUT_SCROLL;
    event->scroll.dx = (gint16) read_u16 (data + 2);
    event->scroll.dy = (gint16) read_u16 (data + 4);
    return TRUE;
  default:
    bad (error, "unknown binary message kind 0x%02x", data[0]);
    return FALSE;
  }
}

gsize
fh_proto_write_input (const FhInputEvent *event, const char *dom_code, guint8 *out)
{
  gsize n;

  switch (event->type) {
  case FH_INPUT_KEY:
    n = MIN (strlen (dom_code), FH_PROTO_MAX_KEY_CODE);
    out[0] = FH_PROTO_KIND_KEY;
    out[1] = event->key.pressed ? 1 : 0;
    out[2] = (guint8) n;
    memcpy (out + 3, dom_code, n);
    return 3 + n;
  case FH_INPUT_POINTER_MOTION:
    out[0] = FH_PROTO_KIND_POINTER_MOTION;
    out[1] = 0;
    write_u16 (out + 2, (guint16) MIN (event->motion.x, G_MAXUINT16));
    write_u16 (out + 4, (guint16) MIN (event->motion.y, G_MAXUINT16));
    return 6;
  case FH_INPUT_POINTER_BUTTON:
    out[0] = FH_PROTO_KIND_POINTER_BUTTON;
    out[1] = event->button.pressed ? 1 : 0;
    out[2] = 0;
    for (guint i = 0; i < G_N_ELEMENTS (button_codes); i++) {
      if (button_codes[i] == event->button.button)
        out[2] = (guint8) i;
    }
    return 3;
  case FH_INPUT_SCROLL:
    out[0] = FH_PROTO_KIND_SCROLL;
    out[1] = 0;
    write_u16 (out + 2, (guint16) (gint16) CLAMP (event->scroll.dx, G_MININT16, G_MAXINT16));
    write_u16 (out + 4, (guint16) (gint16) CLAMP (event->scroll.dy, G_MININT16, G_MAXINT16));
    return 6;
  case FH_INPUT_POINTER_RELATIVE: /* only Moonlight sends it; the web protocol has none */
    return 0;
  }
  return 0;
}

gboolean
fh_proto_is_pad (const guint8 *data, gsize len)
{
  return len > 0 && (data[0] == FH_PROTO_KIND_PAD_STATE || data[0] == FH_PROTO_KIND_PAD_CONNECT ||
                     data[0] == FH_PROTO_KIND_PAD_DISCONNECT);
}

gboolean
fh_proto_parse_pad (const guint8 *data, gsize len, FhPadMessage *msg, GError **error)
{
  guint32 buttons;

  memset (msg, 0, sizeof *msg);
  if (!fh_proto_is_pad (data, len)) {
    bad (error, "not a gamepad message");
    return FALSE;
  }
  if (len < 2) {
    bad (error, "gamepad message is truncated (%zu bytes)", len);
    return FALSE;
  }
  msg->index = data[1];
  if (msg->index >= FH_PROTO_MAX_PADS) {
    bad (error, "gamepad %u is not 0–%d", msg->index, FH_PROTO_MAX_PADS - 1);
    return FALSE;
  }
  switch (data[0]) {
  case FH_PROTO_KIND_PAD_CONNECT:
    if (!check_size (data, len, 3, "gamepad connect", error))
      return FALSE;
    if (data[2] != 0) {
      bad (error, "gamepad kind %u is not 0 (standard)", data[2]);
      return FALSE;
    }
    msg->type = FH_PAD_MESSAGE_CONNECT;
    msg->kind = FH_PAD_KIND_XBOX360;
    return TRUE;
  case FH_PROTO_KIND_PAD_DISCONNECT:
    if (!check_size (data, len, 2, "gamepad disconnect", error))
      return FALSE;
    msg->type = FH_PAD_MESSAGE_DISCONNECT;
    return TRUE;
  default: /* FH_PROTO_KIND_PAD_STATE */
    if (!check_size (data, len, FH_PROTO_PAD_STATE_SIZE, "gamepad state", error))
      return FALSE;
    buttons = read_u16 (data + 2) | (guint32) read_u16 (data + 4) << 16;
    if (buttons & ~FH_PAD_BUTTONS_ALL) {
      bad (error, "gamepad buttons 0x%08x name buttons the protocol has not", buttons);
      return FALSE;
    }
    msg->type = FH_PAD_MESSAGE_STATE;
    msg->state.buttons = buttons;
    msg->state.left_trigger = data[6];
    msg->state.right_trigger = data[7];
    msg->state.left_x = (gint16) read_u16 (data + 8);
    msg->state.left_y = (gint16) read_u16 (data + 10);
    msg->state.right_x = (gint16) read_u16 (data + 12);
    msg->state.right_y = (gint16) read_u16 (data + 14);
    return TRUE;
  }
}

gsize
fh_proto_write_pad (const FhPadMessage *msg, guint8 *out)
{
  out[1] = (guint8) msg->index;
  switch (msg->type) {
  case FH_PAD_MESSAGE_CONNECT:
    out[0] = FH_PROTO_KIND_PAD_CONNECT;
    out[2] = 0;
    return 3;
  case FH_PAD_MESSAGE_DISCONNECT:
    out[0] = FH_PROTO_KIND_PAD_DISCONNECT;
    return 2;
  case FH_PAD_MESSAGE_STATE:
    out[0] = FH_PROTO_KIND_PAD_STATE;
    write_u16 (out + 2, (guint16) (msg->state.buttons & 0xffff));
    write_u16 (out + 4, (guint16) (msg->state.buttons >> 16));
    out[6] = msg->state.left_trigger;
    out[7] = msg->state.right_trigger;
    write_u16 (out + 8, (guint16) msg->state.left_x);
    write_u16 (out + 10, (guint16) msg->state.left_y);
    write_u16 (out + 12, (guint16) msg->state.right_x);
    write_u16 (out + 14, (guint16) msg->state.right_y);
    return FH_PROTO_PAD_STATE_SIZE;
  }
  return 0;
}

gboolean
fh_proto_parse_pair_request (const char *data, gsize len, char **pin, char **name, GError **error)
{
  g_autoptr (JsonParser) parser = NULL;
  g_autoptr (GError) json_error = NULL;
  g_autofree char *p = NULL, *n = NULL;
  JsonNode *root;

  *pin = *name = NULL;
  if (len > FH_PROTO_MAX_TEXT) {
    g_set_error (error, FH_PROTO_ERROR, FH_PROTO_ERROR_MESSAGE_TOO_LARGE,
                 "pairing request over %d bytes", FH_PROTO_MAX_TEXT);
    return FALSE;
  }
  if (!g_utf8_validate_len (data, len, NULL) || memchr (data, '\0', len)) {
    bad (error, "pairing request is not valid UTF-8 text");
    return FALSE;
  }
  parser = json_parser_new_immutable ();
  if (!json_parser_load_from_data (parser, data, (gssize) len, &json_error)) {
    bad (error, "invalid JSON: %s", json_error->message);
    return FALSE;
  }
  root = json_parser_get_root (parser);
  if (!root || !JSON_NODE_HOLDS_OBJECT (root)) {
    bad (error, "pairing request must be a JSON object");
    return FALSE;
  }
  if (!get_string_member (json_node_get_object (root), "pin", TRUE, 16, &p, error) ||
      !get_string_member (json_node_get_object (root), "name", FALSE, FH_PROTO_MAX_NAME, &n,
                          error))
    return FALSE;
  *pin = g_steal_pointer (&p);
  *name = n ? g_steal_pointer (&n) : g_strdup ("browser");
  return TRUE;
}

void
fh_proto_write_video_header (const FhVideoHeader *header, guint8 out[FH_PROTO_VIDEO_HEADER_SIZE])
{
  out[0] = FH_PROTO_KIND_VIDEO;
  out[1] = header->keyframe ? 1 : 0;
  out[2] = out[3] = 0;
  write_u32 (out + 4, header->frame);
  write_u32 (out + 8, (guint32) (header->capture_us & 0xffffffff));
  write_u32 (out + 12, (guint32) (header->capture_us >> 32));
  write_u32 (out + 16, header->encode_us);
}

gboolean
fh_proto_parse_ack (const guint8 *data, gsize len, guint32 *frame, GError **error)
{
  *frame = 0;
  if (len < 1 || data[0] != FH_PROTO_KIND_ACK) {
    bad (error, "not an ack");
    return FALSE;
  }
  if (!check_size (data, len, FH_PROTO_ACK_SIZE, "ack", error))
    return FALSE;
  *frame = read_u32 (data + 1);
  return TRUE;
}

void
fh_proto_write_ack (guint32 frame, guint8 out[FH_PROTO_ACK_SIZE])
{
  out[0] = FH_PROTO_KIND_ACK;
  write_u32 (out + 1, frame);
}

gboolean
fh_proto_ack_at_once (guint waiting, gint64 since_last_ack_us)
{
  return waiting >= 2 || since_last_ack_us >= FH_PROTO_ACK_DELAY_MS * 1000;
}

gboolean
fh_proto_parse_mic (const guint8 *data, gsize len, FhMicPacket *packet, GError **error)
{
  memset (packet, 0, sizeof *packet);
  if (len < 1 || data[0] != FH_PROTO_KIND_MIC) {
    bad (error, "not a microphone message");
    return FALSE;
  }
  if (len <= FH_PROTO_MIC_HEADER_SIZE) {
    bad (error, "microphone message is truncated (%zu bytes)", len);
    return FALSE;
  }
  if (len > FH_PROTO_MIC_HEADER_SIZE + FH_PROTO_MAX_MIC_PAYLOAD) {
    g_set_error (error, FH_PROTO_ERROR, FH_PROTO_ERROR_MESSAGE_TOO_LARGE,
                 "microphone packet of %zu bytes: an Opus packet is at most %d", len,
                 FH_PROTO_MAX_MIC_PAYLOAD);
    return FALSE;
  }
  if (data[1] != 0 || data[2] != 0 || data[3] != 0) {
    bad (error, "microphone message: reserved bytes must be 0");
    return FALSE;
  }
  packet->sequence = read_u32 (data + 4);
  packet->data = data + FH_PROTO_MIC_HEADER_SIZE;
  packet->size = len - FH_PROTO_MIC_HEADER_SIZE;
  return TRUE;
}

GBytes *
fh_proto_build_mic (const FhMicPacket *packet)
{
  guint8 *out = g_malloc (FH_PROTO_MIC_HEADER_SIZE + packet->size);

  out[0] = FH_PROTO_KIND_MIC;
  out[1] = out[2] = out[3] = 0;
  write_u32 (out + 4, packet->sequence);
  memcpy (out + FH_PROTO_MIC_HEADER_SIZE, packet->data, packet->size);
  return g_bytes_new_take (out, FH_PROTO_MIC_HEADER_SIZE + packet->size);
}

GBytes *
fh_proto_build_audio (guint32 sequence, guint64 capture_us, const guint8 *data, gsize size)
{
  guint8 *out = g_malloc (FH_PROTO_AUDIO_HEADER_SIZE + size);

  out[0] = FH_PROTO_KIND_AUDIO;
  out[1] = out[2] = out[3] = 0;
  write_u32 (out + 4, sequence);
  write_u32 (out + 8, (guint32) (capture_us & 0xffffffff));
  write_u32 (out + 12, (guint32) (capture_us >> 32));
  memcpy (out + FH_PROTO_AUDIO_HEADER_SIZE, data, size);
  return g_bytes_new_take (out, FH_PROTO_AUDIO_HEADER_SIZE + size);
}

gboolean
fh_proto_parse_video_header (const guint8 *data, gsize len, FhVideoHeader *header,
                             GError **error)
{
  if (len < FH_PROTO_VIDEO_HEADER_SIZE || data[0] != FH_PROTO_KIND_VIDEO) {
    bad (error, "not a video message");
    return FALSE;
  }
  header->keyframe = data[1] & 1;
  header->frame = read_u32 (data + 4);
  header->capture_us = read_u32 (data + 8) | (guint64) read_u32 (data + 12) << 32;
  header->encode_us = read_u32 (data + 16);
  return TRUE;
}

static char *
builder_to_string (JsonBuilder *builder)
{
  g_autoptr (JsonNode) root = json_builder_get_root (builder);
  return json_to_string (root, FALSE);
}

char *
fh_proto_build_error (FhProtoError code, const char *message)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "type");
  json_builder_add_string_value (b, "error");
  json_builder_set_member_name (b, "code");
  json_builder_add_string_value (b, fh_proto_error_to_string (code));
  json_builder_set_member_name (b, "message");
  json_builder_add_string_value (b, message);
  json_builder_end_object (b);
  return builder_to_string (b);
}

char *
fh_proto_build_state (const char *state, const char *reason)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "type");
  json_builder_add_string_value (b, "state");
  json_builder_set_member_name (b, "state");
  json_builder_add_string_value (b, state);
  json_builder_set_member_name (b, "reason");
  json_builder_add_string_value (b, reason ? reason : "");
  json_builder_end_object (b);
  return builder_to_string (b);
}

char *
fh_proto_build_clipboard (const char *text, gsize len)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();
  g_autofree char *copy = g_strndup (text, len);

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "type");
  json_builder_add_string_value (b, "clipboard");
  json_builder_set_member_name (b, "text");
  json_builder_add_string_value (b, copy);
  json_builder_end_object (b);
  return builder_to_string (b);
}

char *
fh_proto_build_rumble (guint index, const FhPadRumble *rumble)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "type");
  json_builder_add_string_value (b, "rumble");
  json_builder_set_member_name (b, "pad");
  json_builder_add_int_value (b, index);
  json_builder_set_member_name (b, "strong");
  json_builder_add_int_value (b, rumble->strong);
  json_builder_set_member_name (b, "weak");
  json_builder_add_int_value (b, rumble->weak);
  json_builder_end_object (b);
  return builder_to_string (b);
}

char *
fh_proto_build_pong (double t)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "type");
  json_builder_add_string_value (b, "pong");
  json_builder_set_member_name (b, "t");
  json_builder_add_double_value (b, t);
  json_builder_end_object (b);
  return builder_to_string (b);
}

static void
add_string (JsonBuilder *b, const char *name, const char *value)
{
  if (!value)
    return;
  json_builder_set_member_name (b, name);
  json_builder_add_string_value (b, value);
}

char *
fh_proto_build_moonlight (const char *state, const char *client, const char *message,
                          const char *device)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();

  json_builder_begin_object (b);
  add_string (b, "type", "moonlight");
  add_string (b, "state", state);
  add_string (b, "client", client);
  add_string (b, "message", message);
  add_string (b, "device", device);
  json_builder_end_object (b);
  return builder_to_string (b);
}

char *
fh_proto_build_moonlight_pin_error (const char *code, const char *message)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();

  json_builder_begin_object (b);
  add_string (b, "type", "moonlight-pin-error");
  add_string (b, "code", code);
  add_string (b, "message", message);
  json_builder_end_object (b);
  return builder_to_string (b);
}

char *
fh_proto_build_apps (const FhProtoApp *apps, guint n_apps)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();

  json_builder_begin_object (b);
  add_string (b, "type", "apps");
  json_builder_set_member_name (b, "apps");
  json_builder_begin_array (b);
  for (guint i = 0; i < n_apps; i++) {
    json_builder_begin_object (b);
    json_builder_set_member_name (b, "id");
    json_builder_add_int_value (b, apps[i].id);
    add_string (b, "name", apps[i].name);
    if (apps[i].shared) {
      json_builder_set_member_name (b, "shared");
      json_builder_add_boolean_value (b, TRUE);
    }
    if (apps[i].unavailable)
      add_string (b, "unavailable", apps[i].unavailable);
    json_builder_end_object (b);
  }
  json_builder_end_array (b);
  json_builder_end_object (b);
  return builder_to_string (b);
}

static void
add_mode (JsonBuilder *b, const FhMode *mode)
{
  json_builder_set_member_name (b, "mode");
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "width");
  json_builder_add_int_value (b, mode->width);
  json_builder_set_member_name (b, "height");
  json_builder_add_int_value (b, mode->height);
  json_builder_set_member_name (b, "refresh");
  json_builder_add_int_value (b, mode->refresh);
  json_builder_end_object (b);
}

/* "level":…, "until":…|null, into the object being built. */
static void
add_access_members (JsonBuilder *b, const char *level, const char *until)
{
  json_builder_set_member_name (b, "level");
  json_builder_add_string_value (b, level);
  json_builder_set_member_name (b, "until");
  if (until)
    json_builder_add_string_value (b, until);
  else
    json_builder_add_null_value (b);
}

char *
fh_proto_build_welcome (const FhWelcome *w)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "type");
  json_builder_add_string_value (b, "welcome");
  json_builder_set_member_name (b, "session");
  json_builder_add_string_value (b, w->session);
  json_builder_set_member_name (b, "resumed");
  json_builder_add_boolean_value (b, w->resumed);
  add_mode (b, &w->mode);
  json_builder_set_member_name (b, "codec");
  json_builder_add_string_value (b, fh_codec_to_string (w->codec));
  json_builder_set_member_name (b, "bitrate_kbps");
  json_builder_add_int_value (b, w->bitrate_kbps);
  json_builder_set_member_name (b, "grace_seconds");
  json_builder_add_int_value (b, w->grace_seconds);
  json_builder_set_member_name (b, "display");
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "backend");
  json_builder_add_string_value (b, w->backend);
  if (w->background) {
    json_builder_set_member_name (b, "background");
    json_builder_begin_array (b);
    for (int i = 0; i < 3; i++)
      json_builder_add_int_value (b, w->background[i]);
    json_builder_end_array (b);
  }
  json_builder_end_object (b);
  if (w->audio) {
    json_builder_set_member_name (b, "audio");
    json_builder_begin_object (b);
    json_builder_set_member_name (b, "codec");
    json_builder_add_string_value (b, "opus");
    json_builder_set_member_name (b, "sample_rate");
    json_builder_add_int_value (b, 48000);
    json_builder_set_member_name (b, "channels");
    json_builder_add_int_value (b, 2);
    json_builder_set_member_name (b, "frame_ms");
    json_builder_add_int_value (b, 10);
    json_builder_set_member_name (b, "mic");
    json_builder_add_boolean_value (b, w->mic);
    json_builder_end_object (b);
  }
  json_builder_set_member_name (b, "clipboard");
  json_builder_add_boolean_value (b, w->clipboard);
  if (w->access_level) {
    json_builder_set_member_name (b, "access");
    json_builder_begin_object (b);
    add_access_members (b, w->access_level, w->access_until);
    json_builder_end_object (b);
  }
  if (w->join_code) {
    json_builder_set_member_name (b, "join_code");
    json_builder_add_string_value (b, w->join_code);
  }
  json_builder_set_member_name (b, "guest");
  json_builder_add_boolean_value (b, w->guest);
  json_builder_end_object (b);
  return builder_to_string (b);
}

/* A string member, or null for NULL. */
static void
add_string_or_null (JsonBuilder *b, const char *name, const char *value)
{
  json_builder_set_member_name (b, name);
  if (value)
    json_builder_add_string_value (b, value);
  else
    json_builder_add_null_value (b);
}

char *
fh_proto_build_guests (const FhProtoGuest *guests, guint n_guests)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "type");
  json_builder_add_string_value (b, "guests");
  json_builder_set_member_name (b, "guests");
  json_builder_begin_array (b);
  for (guint i = 0; i < n_guests; i++) {
    json_builder_begin_object (b);
    json_builder_set_member_name (b, "id");
    json_builder_add_int_value (b, guests[i].id);
    add_string_or_null (b, "device", guests[i].device);
    add_string_or_null (b, "name", guests[i].name);
    add_string_or_null (b, "level", guests[i].level);
    add_string_or_null (b, "granted", guests[i].granted);
    json_builder_end_object (b);
  }
  json_builder_end_array (b);
  json_builder_end_object (b);
  return builder_to_string (b);
}

char *
fh_proto_build_guest_request (const char *request, const char *device, const char *name,
                              const char *state)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "type");
  json_builder_add_string_value (b, "guest-request");
  add_string_or_null (b, "request", request);
  add_string_or_null (b, "device", device);
  add_string_or_null (b, "name", name);
  add_string_or_null (b, "state", state);
  json_builder_end_object (b);
  return builder_to_string (b);
}

char *
fh_proto_build_access (const char *level, const char *until)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "type");
  json_builder_add_string_value (b, "access");
  add_access_members (b, level, until);
  json_builder_end_object (b);
  return builder_to_string (b);
}

char *
fh_proto_build_stats (const FhStreamStats *s)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();

#define NUM(name, value)                                                                         \
  do {                                                                                           \
    json_builder_set_member_name (b, name);                                                      \
    json_builder_add_double_value (b, round ((value) * 100.0) / 100.0);                          \
  } while (0)

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "type");
  json_builder_add_string_value (b, "stats");
  NUM ("fps", s->fps);
  NUM ("kbps", s->kbps);
  json_builder_set_member_name (b, "frames");
  json_builder_add_int_value (b, (gint64) s->frames);
  json_builder_set_member_name (b, "dropped");
  json_builder_add_int_value (b, (gint64) s->dropped);
  NUM ("encode_ms_p50", s->encode_ms_p50);
  NUM ("encode_ms_p99", s->encode_ms_p99);
  NUM ("capture_to_send_ms_p50", s->capture_to_send_ms_p50);
  NUM ("capture_to_send_ms_p99", s->capture_to_send_ms_p99);
  json_builder_set_member_name (b, "target_kbps");
  json_builder_add_int_value (b, s->target_kbps);
  json_builder_set_member_name (b, "skipped");
  json_builder_add_int_value (b, (gint64) s->skipped);
  NUM ("round_trip_ms", s->round_trip_ms);
  json_builder_end_object (b);
#undef NUM
  return builder_to_string (b);
}

char *
fh_proto_build_owner (gboolean owner)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();

  json_builder_begin_object (b);
  add_string (b, "type", "owner");
  json_builder_set_member_name (b, "owner");
  json_builder_add_boolean_value (b, owner);
  json_builder_end_object (b);
  return builder_to_string (b);
}

static void
add_number (JsonBuilder *b, const char *name, double value)
{
  json_builder_set_member_name (b, name);
  json_builder_add_double_value (b, round (value * 100.0) / 100.0);
}

char *
fh_proto_build_owner_state (const FhProtoOwnerSession *sessions, guint n_sessions,
                            const FhProtoOwnerDevice *devices, guint n_devices,
                            const FhProtoOwnerRequest *requests, guint n_requests)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();

  json_builder_begin_object (b);
  add_string (b, "type", "owner-state");
  json_builder_set_member_name (b, "sessions");
  json_builder_begin_array (b);
  for (guint i = 0; i < n_sessions; i++) {
    const FhProtoOwnerSession *s = &sessions[i];
    json_builder_begin_object (b);
    add_string (b, "id", s->id);
    add_string (b, "device", s->device);
    add_string_or_null (b, "device_name", s->device_name);
    add_mode (b, &s->mode);
    add_number (b, "fps", s->fps);
    add_number (b, "kbps", s->kbps);
    add_string (b, "backend", s->backend);
    add_string (b, "plane", s->plane);
    add_string (b, "state", s->state);
    json_builder_set_member_name (b, "guests");
    json_builder_begin_array (b);
    for (const char *const *g = s->guests; g && *g; g++)
      json_builder_add_string_value (b, *g);
    json_builder_end_array (b);
    json_builder_end_object (b);
  }
  json_builder_end_array (b);
  json_builder_set_member_name (b, "devices");
  json_builder_begin_array (b);
  for (guint i = 0; i < n_devices; i++) {
    const FhProtoOwnerDevice *d = &devices[i];
    json_builder_begin_object (b);
    add_string (b, "id", d->id);
    add_string_or_null (b, "name", d->name);
    add_string (b, "kind", d->kind);
    add_access_members (b, d->level, d->until);
    json_builder_set_member_name (b, "owner");
    json_builder_add_boolean_value (b, d->owner);
    json_builder_end_object (b);
  }
  json_builder_end_array (b);
  json_builder_set_member_name (b, "requests");
  json_builder_begin_array (b);
  for (guint i = 0; i < n_requests; i++) {
    const FhProtoOwnerRequest *r = &requests[i];
    json_builder_begin_object (b);
    add_string (b, "id", r->id);
    add_string (b, "kind", r->kind);
    add_string (b, "who", r->who);
    add_string_or_null (b, "from", r->from);
    json_builder_set_member_name (b, "timeout_s");
    json_builder_add_int_value (b, r->timeout_s);
    json_builder_end_object (b);
  }
  json_builder_end_array (b);
  json_builder_end_object (b);
  return builder_to_string (b);
}

char *
fh_proto_build_owner_done (FhOwnerOp op)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();

  json_builder_begin_object (b);
  add_string (b, "type", "owner-done");
  add_string (b, "op", fh_owner_op_to_string (op));
  json_builder_end_object (b);
  return builder_to_string (b);
}

char *
fh_proto_build_owner_error (FhOwnerOp op, const char *message)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();

  json_builder_begin_object (b);
  add_string (b, "type", "owner-error");
  add_string (b, "op", fh_owner_op_to_string (op));
  add_string (b, "message", message);
  json_builder_end_object (b);
  return builder_to_string (b);
}

char *
fh_proto_build_owner_pin (const char *pin)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();

  json_builder_begin_object (b);
  add_string (b, "type", "owner-pin");
  add_string (b, "pin", pin);
  json_builder_end_object (b);
  return builder_to_string (b);
}
