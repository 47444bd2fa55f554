/* GameStream control messages and NV input packets: parse, translate to
 * the host's input events, build. Sources and layouts: control.h and
 * docs/gamestream.md, "Control stream". */
#include "planes/gamestream/protocol/control-stream.h"

#include <linux/input-event-codes.h>
#include <string.h>

#include "planes/gamestream/protocol/wire.h"

G_DEFINE_QUARK (fh-gs-control-error-quark, fh_gs_control_error)

#define NV_INPUT_HEADER_SIZE 8 /* BE32 size, LE32 magic */

/* Moonlight's "netfloat": an IEEE-754 float in little-endian byte order. */
static float
rd_lefloat (const guint8 *p)
{
  guint32 bits = fh_gs_get_le32 (p);
  float f;

  memcpy (&f, &bits, sizeof f);
  return f;
}

static gboolean
too_short (GError **error, const char *what, gsize len, gsize need)
{
  g_set_error (error, FH_GS_CONTROL_ERROR, FH_GS_CONTROL_ERROR_MALFORMED,
               "%s: %" G_GSIZE_FORMAT " bytes, need at least %" G_GSIZE_FORMAT, what, len, need);
  return FALSE;
}

const char *
fh_gs_input_kind_to_string (FhGsInputKind kind)
{
  switch (kind) {
  case FH_GS_INPUT_UNKNOWN:
    return "unknown";
  case FH_GS_INPUT_KEY:
    return "key";
  case FH_GS_INPUT_MOUSE_RELATIVE:
    return "mouse-relative";
  case FH_GS_INPUT_MOUSE_ABSOLUTE:
    return "mouse-absolute";
  case FH_GS_INPUT_MOUSE_BUTTON:
    return "mouse-button";
  case FH_GS_INPUT_SCROLL:
    return "scroll";
  case FH_GS_INPUT_HSCROLL:
    return "hscroll";
  case FH_GS_INPUT_TEXT:
    return "text";
  case FH_GS_INPUT_MULTI_CONTROLLER:
    return "multi-controller";
  case FH_GS_INPUT_ENABLE_HAPTICS:
    return "enable-haptics";
  case FH_GS_INPUT_TOUCH:
    return "touch";
  case FH_GS_INPUT_PEN:
    return "pen";
  case FH_GS_INPUT_CONTROLLER_ARRIVAL:
    return "controller-arrival";
  case FH_GS_INPUT_CONTROLLER_TOUCH:
    return "controller-touch";
  case FH_GS_INPUT_CONTROLLER_MOTION:
    return "controller-motion";
  case FH_GS_INPUT_CONTROLLER_BATTERY:
    return "controller-battery";
  }
  return "invalid";
}

const char *
fh_gs_control_message_kind_to_string (FhGsControlMessageKind kind)
{
  switch (kind) {
  case FH_GS_CONTROL_MSG_UNKNOWN:
    return "unknown";
  case FH_GS_CONTROL_MSG_PERIODIC_PING:
    return "periodic-ping";
  case FH_GS_CONTROL_MSG_LOSS_STATS:
    return "loss-stats";
  case FH_GS_CONTROL_MSG_FRAME_STATS:
    return "frame-stats";
  case FH_GS_CONTROL_MSG_INPUT:
    return "input";
  case FH_GS_CONTROL_MSG_INVALIDATE_REF_FRAMES:
    return "invalidate-ref-frames";
  case FH_GS_CONTROL_MSG_REQUEST_IDR_FRAME:
    return "request-idr-frame";
  case FH_GS_CONTROL_MSG_START_A:
    return "start-a";
  case FH_GS_CONTROL_MSG_START_B:
    return "start-b";
  case FH_GS_CONTROL_MSG_LTR_FRAME_ACK:
    return "ltr-frame-ack";
  case FH_GS_CONTROL_MSG_FRAME_FEC_STATUS:
    return "frame-fec-status";
  case FH_GS_CONTROL_MSG_TERMINATION:
    return "termination";
  case FH_GS_CONTROL_MSG_RUMBLE:
    return "rumble";
  case FH_GS_CONTROL_MSG_HDR_MODE:
    return "hdr-mode";
  case FH_GS_CONTROL_MSG_RUMBLE_TRIGGERS:
    return "rumble-triggers";
  case FH_GS_CONTROL_MSG_SET_MOTION_EVENT:
    return "set-motion-event";
  case FH_GS_CONTROL_MSG_SET_RGB_LED:
    return "set-rgb-led";
  case FH_GS_CONTROL_MSG_SET_ADAPTIVE_TRIGGERS:
    return "set-adaptive-triggers";
  }
  return "invalid";
}

/* ---- NV input packets ---- */

/* Bytes after the 8-byte header that each kind needs (Input.h structs). */
static gsize
input_body_size (FhGsInputKind kind)
{
  switch (kind) {
  case FH_GS_INPUT_KEY:
    return 6; /* flags, LE16 keyCode, modifiers, LE16 zero */
  case FH_GS_INPUT_MOUSE_RELATIVE:
    return 4; /* BE16 dx, dy */
  case FH_GS_INPUT_MOUSE_ABSOLUTE:
    return 10; /* BE16 x, y, unused, width, height */
  case FH_GS_INPUT_MOUSE_BUTTON:
    return 1;
  case FH_GS_INPUT_SCROLL:
    return 6; /* BE16 amount, BE16 amount again, zero */
  case FH_GS_INPUT_HSCROLL:
    return 2; /* BE16 */
  case FH_GS_INPUT_TEXT:
    return 1;
  case FH_GS_INPUT_MULTI_CONTROLLER:
    return 26;
  case FH_GS_INPUT_ENABLE_HAPTICS:
    return 2;
  case FH_GS_INPUT_TOUCH:
    return 28;
  case FH_GS_INPUT_PEN:
    return 28;
  case FH_GS_INPUT_CONTROLLER_ARRIVAL:
    return 8;
  case FH_GS_INPUT_CONTROLLER_TOUCH:
    return 20;
  case FH_GS_INPUT_CONTROLLER_MOTION:
    return 16;
  case FH_GS_INPUT_CONTROLLER_BATTERY:
    return 4;
  case FH_GS_INPUT_UNKNOWN:
    return 0;
  }
  return 0;
}

static FhGsInputKind
input_kind_for_magic (guint32 magic)
{
  switch (magic) {
  case FH_GS_INPUT_MAGIC_KEY_DOWN:
  case FH_GS_INPUT_MAGIC_KEY_UP:
    return FH_GS_INPUT_KEY;
  case FH_GS_INPUT_MAGIC_MOUSE_ABSOLUTE:
    return FH_GS_INPUT_MOUSE_ABSOLUTE;
  case FH_GS_INPUT_MAGIC_MOUSE_RELATIVE:
    return FH_GS_INPUT_MOUSE_RELATIVE;
  case FH_GS_INPUT_MAGIC_MOUSE_BUTTON_DOWN:
  case FH_GS_INPUT_MAGIC_MOUSE_BUTTON_UP:
    return FH_GS_INPUT_MOUSE_BUTTON;
  case FH_GS_INPUT_MAGIC_SCROLL:
    return FH_GS_INPUT_SCROLL;
  case FH_GS_INPUT_MAGIC_MULTI_CONTROLLER:
    return FH_GS_INPUT_MULTI_CONTROLLER;
  case FH_GS_INPUT_MAGIC_ENABLE_HAPTICS:
    return FH_GS_INPUT_ENABLE_HAPTICS;
  case FH_GS_INPUT_MAGIC_UTF8_TEXT:
    return FH_GS_INPUT_TEXT;
  case FH_GS_INPUT_MAGIC_HSCROLL:
    return FH_GS_INPUT_HSCROLL;
  case FH_GS_INPUT_MAGIC_TOUCH:
    return FH_GS_INPUT_TOUCH;
  case FH_GS_INPUT_MAGIC_PEN:
    return FH_GS_INPUT_PEN;
  case FH_GS_INPUT_MAGIC_CONTROLLER_ARRIVAL:
    return FH_GS_INPUT_CONTROLLER_ARRIVAL;
  case FH_GS_INPUT_MAGIC_CONTROLLER_TOUCH:
    return FH_GS_INPUT_CONTROLLER_TOUCH;
  case FH_GS_INPUT_MAGIC_CONTROLLER_MOTION:
    return FH_GS_INPUT_CONTROLLER_MOTION;
  case FH_GS_INPUT_MAGIC_CONTROLLER_BATTERY:
    return FH_GS_INPUT_CONTROLLER_BATTERY;
  default:
    return FH_GS_INPUT_UNKNOWN;
  }
}

gboolean
fh_gs_input_parse (const guint8 *data, gsize len, FhGsInput *out, GError **error)
{
  guint32 size, magic;
  gsize body_len, need;
  const guint8 *b;

  memset (out, 0, sizeof *out);
  if (len < NV_INPUT_HEADER_SIZE)
    return too_short (error, "input packet", len, NV_INPUT_HEADER_SIZE);

  /* The size field counts the magic and the body, not itself; it bounds
   * the packet (the text length is read from it, as Sunshine does). */
  size = fh_gs_get_be32 (data);
  if (size < 4 || size > len - 4) {
    g_set_error (error, FH_GS_CONTROL_ERROR, FH_GS_CONTROL_ERROR_MALFORMED,
                 "input packet: size field %u does not fit the %" G_GSIZE_FORMAT " bytes received",
                 size, len);
    return FALSE;
  }
  magic = fh_gs_get_le32 (data + 4);
  body_len = size - 4;
  b = data + NV_INPUT_HEADER_SIZE;

  out->magic = magic;
  out->kind = input_kind_for_magic (magic);
  need = input_body_size (out->kind);
  if (body_len < need) {
    FhGsInputKind kind = out->kind;

    out->kind = FH_GS_INPUT_UNKNOWN;
    return too_short (error, fh_gs_input_kind_to_string (kind), body_len, need);
  }

  switch (out->kind) {
  case FH_GS_INPUT_UNKNOWN:
    break;
  case FH_GS_INPUT_KEY:
    out->key.pressed = magic == FH_GS_INPUT_MAGIC_KEY_DOWN;
    out->key.flags = b[0];
    out->key.key_code = fh_gs_get_le16 (b + 1);
    out->key.modifiers = b[3];
    break;
  case FH_GS_INPUT_MOUSE_RELATIVE:
    out->relative.dx = (gint16) fh_gs_get_be16 (b);
    out->relative.dy = (gint16) fh_gs_get_be16 (b + 2);
    break;
  case FH_GS_INPUT_MOUSE_ABSOLUTE:
    out->absolute.x = (gint16) fh_gs_get_be16 (b);
    out->absolute.y = (gint16) fh_gs_get_be16 (b + 2);
    out->absolute.width = (gint16) fh_gs_get_be16 (b + 6);
    out->absolute.height = (gint16) fh_gs_get_be16 (b + 8);
    break;
  case FH_GS_INPUT_MOUSE_BUTTON:
    out->button.pressed = magic == FH_GS_INPUT_MAGIC_MOUSE_BUTTON_DOWN;
    out->button.button = b[0];
    break;
  case FH_GS_INPUT_SCROLL:
    out->scroll.amount = (gint16) fh_gs_get_be16 (b);
    break;
  case FH_GS_INPUT_HSCROLL:
    out->scroll.amount = (gint16) fh_gs_get_be16 (b);
    break;
  case FH_GS_INPUT_TEXT:
    if (body_len > FH_GS_INPUT_TEXT_MAX) {
      out->kind = FH_GS_INPUT_UNKNOWN;
      g_set_error (error, FH_GS_CONTROL_ERROR, FH_GS_CONTROL_ERROR_MALFORMED,
                   "text input: %" G_GSIZE_FORMAT " bytes, at most %d", body_len,
                   FH_GS_INPUT_TEXT_MAX);
      return FALSE;
    }
    if (!g_utf8_validate_len ((const char *) b, body_len, NULL) || memchr (b, 0, body_len)) {
      out->kind = FH_GS_INPUT_UNKNOWN;
      g_set_error_literal (error, FH_GS_CONTROL_ERROR, FH_GS_CONTROL_ERROR_MALFORMED,
                           "text input: not UTF-8 text");
      return FALSE;
    }
    memcpy (out->text.text, b, body_len);
    out->text.text[body_len] = '\0';
    out->text.len = (guint) body_len;
    break;
  case FH_GS_INPUT_MULTI_CONTROLLER:
    /* LE16 headerB, controllerNumber, activeGamepadMask, midB, buttonFlags;
     * triggers; LE16 sticks ×4; LE16 tailA, buttonFlags2, tailB. */
    out->controller.controller_number = (gint16) fh_gs_get_le16 (b + 2);
    out->controller.active_gamepad_mask = fh_gs_get_le16 (b + 4);
    out->controller.button_flags = fh_gs_get_le16 (b + 8) | ((guint32) fh_gs_get_le16 (b + 22) << 16);
    out->controller.left_trigger = b[10];
    out->controller.right_trigger = b[11];
    out->controller.left_stick_x = (gint16) fh_gs_get_le16 (b + 12);
    out->controller.left_stick_y = (gint16) fh_gs_get_le16 (b + 14);
    out->controller.right_stick_x = (gint16) fh_gs_get_le16 (b + 16);
    out->controller.right_stick_y = (gint16) fh_gs_get_le16 (b + 18);
    break;
  case FH_GS_INPUT_ENABLE_HAPTICS:
    out->haptics.enable = fh_gs_get_le16 (b) != 0;
    break;
  case FH_GS_INPUT_TOUCH:
    out->touch.event_type = b[0];
    out->touch.rotation = fh_gs_get_le16 (b + 2);
    out->touch.pointer_id = fh_gs_get_le32 (b + 4);
    out->touch.x = rd_lefloat (b + 8);
    out->touch.y = rd_lefloat (b + 12);
    out->touch.pressure_or_distance = rd_lefloat (b + 16);
    out->touch.contact_major = rd_lefloat (b + 20);
    out->touch.contact_minor = rd_lefloat (b + 24);
    break;
  case FH_GS_INPUT_PEN:
    out->pen.event_type = b[0];
    out->pen.tool_type = b[1];
    out->pen.buttons = b[2];
    out->pen.x = rd_lefloat (b + 4);
    out->pen.y = rd_lefloat (b + 8);
    out->pen.pressure_or_distance = rd_lefloat (b + 12);
    out->pen.rotation = fh_gs_get_le16 (b + 16);
    out->pen.tilt = b[18];
    out->pen.contact_major = rd_lefloat (b + 20);
    out->pen.contact_minor = rd_lefloat (b + 24);
    break;
  case FH_GS_INPUT_CONTROLLER_ARRIVAL:
    out->arrival.controller_number = b[0];
    out->arrival.type = b[1];
    out->arrival.capabilities = fh_gs_get_le16 (b + 2);
    out->arrival.supported_button_flags = fh_gs_get_le32 (b + 4);
    break;
  case FH_GS_INPUT_CONTROLLER_TOUCH:
    out->controller_touch.controller_number = b[0];
    out->controller_touch.event_type = b[1];
    out->controller_touch.touchpad_index = b[3];
    out->controller_touch.pointer_id = fh_gs_get_le32 (b + 4);
    out->controller_touch.x = rd_lefloat (b + 8);
    out->controller_touch.y = rd_lefloat (b + 12);
    out->controller_touch.pressure = rd_lefloat (b + 16);
    break;
  case FH_GS_INPUT_CONTROLLER_MOTION:
    out->motion.controller_number = b[0];
    out->motion.motion_type = b[1];
    out->motion.x = rd_lefloat (b + 4);
    out->motion.y = rd_lefloat (b + 8);
    out->motion.z = rd_lefloat (b + 12);
    break;
  case FH_GS_INPUT_CONTROLLER_BATTERY:
    out->battery.controller_number = b[0];
    out->battery.state = b[1];
    out->battery.percentage = b[2];
    break;
  }
  return TRUE;
}

/* Windows virtual-key codes (winuser.h VK_*) to evdev; OEM keys as on a US
 * layout. Moonlight sends VK_LSHIFT..VK_RMENU for the modifiers; the
 * side-less VK_SHIFT/CONTROL/MENU map to the left key. */
static const guint16 vk_to_evdev[256] = {
  [0x08] = KEY_BACKSPACE,
  [0x09] = KEY_TAB,
  [0x0c] = KEY_KP5, /* VK_CLEAR: numpad 5 without NumLock */
  [0x0d] = KEY_ENTER,
  [0x10] = KEY_LEFTSHIFT,
  [0x11] = KEY_LEFTCTRL,
  [0x12] = KEY_LEFTALT,
  [0x13] = KEY_PAUSE,
  [0x14] = KEY_CAPSLOCK,
  [0x15] = KEY_HANGEUL, /* VK_KANA / VK_HANGUL */
  [0x19] = KEY_HANJA,   /* VK_HANJA / VK_KANJI */
  [0x1b] = KEY_ESC,
  [0x1c] = KEY_HENKAN,   /* VK_CONVERT */
  [0x1d] = KEY_MUHENKAN, /* VK_NONCONVERT */
  [0x20] = KEY_SPACE,
  [0x21] = KEY_PAGEUP,
  [0x22] = KEY_PAGEDOWN,
  [0x23] = KEY_END,
  [0x24] = KEY_HOME,
  [0x25] = KEY_LEFT,
  [0x26] = KEY_UP,
  [0x27] = KEY_RIGHT,
  [0x28] = KEY_DOWN,
  [0x29] = KEY_SELECT,
  [0x2a] = KEY_PRINT,
  [0x2c] = KEY_SYSRQ, /* VK_SNAPSHOT: Print Screen */
  [0x2d] = KEY_INSERT,
  [0x2e] = KEY_DELETE,
  [0x2f] = KEY_HELP,
  [0x30] = KEY_0,
  [0x31] = KEY_1,
  [0x32] = KEY_2,
  [0x33] = KEY_3,
  [0x34] = KEY_4,
  [0x35] = KEY_5,
  [0x36] = KEY_6,
  [0x37] = KEY_7,
  [0x38] = KEY_8,
  [0x39] = KEY_9,
  [0x41] = KEY_A,
  [0x42] = KEY_B,
  [0x43] = KEY_C,
  [0x44] = KEY_D,
  [0x45] = KEY_E,
  [0x46] = KEY_F,
  [0x47] = KEY_G,
  [0x48] = KEY_H,
  [0x49] = KEY_I,
  [0x4a] = KEY_J,
  [0x4b] = KEY_K,
  [0x4c] = KEY_L,
  [0x4d] = KEY_M,
  [0x4e] = KEY_N,
  [0x4f] = KEY_O,
  [0x50] = KEY_P,
  [0x51] = KEY_Q,
  [0x52] = KEY_R,
  [0x53] = KEY_S,
  [0x54] = KEY_T,
  [0x55] = KEY_U,
  [0x56] = KEY_V,
  [0x57] = KEY_W,
  [0x58] = KEY_X,
  [0x59] = KEY_Y,
  [0x5a] = KEY_Z,
  [0x5b] = KEY_LEFTMETA,
  [0x5c] = KEY_RIGHTMETA,
  [0x5d] = KEY_COMPOSE, /* VK_APPS: the menu key */
  [0x5f] = KEY_SLEEP,
  [0x60] = KEY_KP0,
  [0x61] = KEY_KP1,
  [0x62] = KEY_KP2,
  [0x63] = KEY_KP3,
  [0x64] = KEY_KP4,
  [0x65] = KEY_KP5,
  [0x66] = KEY_KP6,
  [0x67] = KEY_KP7,
  [0x68] = KEY_KP8,
  [0x69] = KEY_KP9,
  [0x6a] = KEY_KPASTERISK,
  [0x6b] = KEY_KPPLUS,
  [0x6c] = KEY_KPCOMMA, /* VK_SEPARATOR */
  [0x6d] = KEY_KPMINUS,
  [0x6e] = KEY_KPDOT,
  [0x6f] = KEY_KPSLASH,
  [0x70] = KEY_F1,
  [0x71] = KEY_F2,
  [0x72] = KEY_F3,
  [0x73] = KEY_F4,
  [0x74] = KEY_F5,
  [0x75] = KEY_F6,
  [0x76] = KEY_F7,
  [0x77] = KEY_F8,
  [0x78] = KEY_F9,
  [0x79] = KEY_F10,
  [0x7a] = KEY_F11,
  [0x7b] = KEY_F12,
  [0x7c] = KEY_F13,
  [0x7d] = KEY_F14,
  [0x7e] = KEY_F15,
  [0x7f] = KEY_F16,
  [0x80] = KEY_F17,
  [0x81] = KEY_F18,
  [0x82] = KEY_F19,
  [0x83] = KEY_F20,
  [0x84] = KEY_F21,
  [0x85] = KEY_F22,
  [0x86] = KEY_F23,
  [0x87] = KEY_F24,
  [0x90] = KEY_NUMLOCK,
  [0x91] = KEY_SCROLLLOCK,
  [0xa0] = KEY_LEFTSHIFT,
  [0xa1] = KEY_RIGHTSHIFT,
  [0xa2] = KEY_LEFTCTRL,
  [0xa3] = KEY_RIGHTCTRL,
  [0xa4] = KEY_LEFTALT,
  [0xa5] = KEY_RIGHTALT,
  [0xa6] = KEY_BACK,
  [0xa7] = KEY_FORWARD,
  [0xa8] = KEY_REFRESH,
  [0xa9] = KEY_STOP,
  [0xaa] = KEY_SEARCH,
  [0xab] = KEY_BOOKMARKS,
  [0xac] = KEY_HOMEPAGE,
  [0xad] = KEY_MUTE,
  [0xae] = KEY_VOLUMEDOWN,
  [0xaf] = KEY_VOLUMEUP,
  [0xb0] = KEY_NEXTSONG,
  [0xb1] = KEY_PREVIOUSSONG,
  [0xb2] = KEY_STOPCD,
  [0xb3] = KEY_PLAYPAUSE,
  [0xb4] = KEY_MAIL,
  [0xba] = KEY_SEMICOLON,  /* VK_OEM_1 ;: */
  [0xbb] = KEY_EQUAL,      /* VK_OEM_PLUS =+ */
  [0xbc] = KEY_COMMA,      /* VK_OEM_COMMA */
  [0xbd] = KEY_MINUS,      /* VK_OEM_MINUS */
  [0xbe] = KEY_DOT,        /* VK_OEM_PERIOD */
  [0xbf] = KEY_SLASH,      /* VK_OEM_2 /? */
  [0xc0] = KEY_GRAVE,      /* VK_OEM_3 `~ */
  [0xdb] = KEY_LEFTBRACE,  /* VK_OEM_4 [{ */
  [0xdc] = KEY_BACKSLASH,  /* VK_OEM_5 \| */
  [0xdd] = KEY_RIGHTBRACE, /* VK_OEM_6 ]} */
  [0xde] = KEY_APOSTROPHE, /* VK_OEM_7 '" */
  [0xe2] = KEY_102ND,      /* VK_OEM_102: <> next to left shift on ISO boards */
};

guint32
fh_gs_vk_to_evdev (guint16 vk)
{
  return vk_to_evdev[vk & 0xff];
}

static guint32
scale_axis (gint16 value, gint16 reference, guint out)
{
  /* The client sends positions in 0..reference, where reference is its
   * width (height) minus one; map that range onto 0..out-1. */
  gint64 v = CLAMP (value, 0, reference);

  return (guint32) ((v * (gint64) (out - 1) + reference / 2) / reference);
}

/* A character as key taps on a US layout: its key and whether Shift is
 * held; FALSE for what that layout cannot type (non-ASCII). */
static gboolean
us_key_for (char c, guint32 *code, gboolean *shift)
{
  static const char rows[][11] = { "qwertyuiop", "asdfghjkl", "zxcvbnm" };
  static const guint32 row_start[] = { KEY_Q, KEY_A, KEY_Z };
  static const struct {
    char plain, shifted;
    guint32 code;
  } others[] = {
    { '1', '!', KEY_1 },     { '2', '@', KEY_2 },         { '3', '#', KEY_3 },
    { '4', '$', KEY_4 },     { '5', '%', KEY_5 },         { '6', '^', KEY_6 },
    { '7', '&', KEY_7 },     { '8', '*', KEY_8 },         { '9', '(', KEY_9 },
    { '0', ')', KEY_0 },     { '-', '_', KEY_MINUS },     { '=', '+', KEY_EQUAL },
    { '[', '{', KEY_LEFTBRACE }, { ']', '}', KEY_RIGHTBRACE }, { '\\', '|', KEY_BACKSLASH },
    { ';', ':', KEY_SEMICOLON }, { '\'', '"', KEY_APOSTROPHE }, { ',', '<', KEY_COMMA },
    { '.', '>', KEY_DOT },   { '/', '?', KEY_SLASH },     { '`', '~', KEY_GRAVE },
    { ' ', 0, KEY_SPACE },   { '\n', 0, KEY_ENTER },      { '\t', 0, KEY_TAB },
  };
  char lower = g_ascii_tolower (c);

  for (guint r = 0; r < G_N_ELEMENTS (rows); r++) {
    const char *at = strchr (rows[r], lower);
    if (lower != '\0' && at) {
      /* Each row's keys have consecutive codes (KEY_Q..KEY_P and so on). */
      *code = row_start[r] + (guint32) (at - rows[r]);
      *shift = g_ascii_isupper (c);
      return TRUE;
    }
  }
  for (guint k = 0; k < G_N_ELEMENTS (others); k++) {
    if (c == others[k].plain || (others[k].shifted && c == others[k].shifted)) {
      *code = others[k].code;
      *shift = c == others[k].shifted;
      return TRUE;
    }
  }
  return FALSE;
}

/* Moonlight's UTF-8 text (its on-screen keyboards) as key taps: whole
 * characters only, as many as fit in @max. */
static guint
text_to_events (const char *text, FhInputEvent *events, guint max)
{
  guint n = 0;

  for (const char *p = text; *p; p++) {
    guint32 code;
    gboolean shift;
    guint need;

    if (!us_key_for (*p, &code, &shift)) {
      g_debug ("gamestream: text 0x%02x has no key on a US layout; dropped", (guint8) *p);
      continue;
    }
    need = shift ? 4 : 2;
    if (n + need > max)
      break;
    if (shift)
      events[n++] = (FhInputEvent) { .type = FH_INPUT_KEY, .key = { KEY_LEFTSHIFT, TRUE } };
    events[n++] = (FhInputEvent) { .type = FH_INPUT_KEY, .key = { code, TRUE } };
    events[n++] = (FhInputEvent) { .type = FH_INPUT_KEY, .key = { code, FALSE } };
    if (shift)
      events[n++] = (FhInputEvent) { .type = FH_INPUT_KEY, .key = { KEY_LEFTSHIFT, FALSE } };
  }
  return n;
}

static gint16
negate_axis (gint16 v)
{
  return (gint16) MIN (-(gint32) v, G_MAXINT16);
}

void
fh_gs_input_to_pad (const FhGsInput *in, FhPadState *state)
{
  static const struct {
    guint32 moonlight;
    FhPadButton button;
  } buttons[] = {
    { FH_GS_PAD_A, FH_PAD_BUTTON_A },
    { FH_GS_PAD_B, FH_PAD_BUTTON_B },
    { FH_GS_PAD_X, FH_PAD_BUTTON_X },
    { FH_GS_PAD_Y, FH_PAD_BUTTON_Y },
    { FH_GS_PAD_LB, FH_PAD_BUTTON_LEFT_SHOULDER },
    { FH_GS_PAD_RB, FH_PAD_BUTTON_RIGHT_SHOULDER },
    { FH_GS_PAD_BACK, FH_PAD_BUTTON_BACK },
    { FH_GS_PAD_PLAY, FH_PAD_BUTTON_START },
    { FH_GS_PAD_SPECIAL, FH_PAD_BUTTON_GUIDE },
    { FH_GS_PAD_LS_CLK, FH_PAD_BUTTON_LEFT_STICK },
    { FH_GS_PAD_RS_CLK, FH_PAD_BUTTON_RIGHT_STICK },
    { FH_GS_PAD_UP, FH_PAD_BUTTON_DPAD_UP },
    { FH_GS_PAD_DOWN, FH_PAD_BUTTON_DPAD_DOWN },
    { FH_GS_PAD_LEFT, FH_PAD_BUTTON_DPAD_LEFT },
    { FH_GS_PAD_RIGHT, FH_PAD_BUTTON_DPAD_RIGHT },
  };
  const guint32 flags = in->controller.button_flags;

  memset (state, 0, sizeof *state);
  for (guint i = 0; i < G_N_ELEMENTS (buttons); i++) {
    if (flags & buttons[i].moonlight)
      state->buttons |= buttons[i].button;
  }
  state->left_trigger = in->controller.left_trigger;
  state->right_trigger = in->controller.right_trigger;
  state->left_x = in->controller.left_stick_x;
  state->left_y = negate_axis (in->controller.left_stick_y);
  state->right_x = in->controller.right_stick_x;
  state->right_y = negate_axis (in->controller.right_stick_y);
}

guint
fh_gs_input_to_events (const FhGsInput *in, guint out_width, guint out_height,
                       FhInputEvent *events, guint max)
{
  FhInputEvent ev = { 0 };

  if (max == 0)
    return 0;

  switch (in->kind) {
  case FH_GS_INPUT_KEY: {
    guint32 code = fh_gs_vk_to_evdev (in->key.key_code);

    if (code == 0)
      return 0;
    ev.type = FH_INPUT_KEY;
    ev.key.code = code;
    ev.key.pressed = in->key.pressed;
    break;
  }
  case FH_GS_INPUT_MOUSE_RELATIVE:
    if (in->relative.dx == 0 && in->relative.dy == 0)
      return 0;
    ev.type = FH_INPUT_POINTER_RELATIVE;
    ev.relative.dx = in->relative.dx;
    ev.relative.dy = in->relative.dy;
    break;
  case FH_GS_INPUT_MOUSE_ABSOLUTE:
    /* Sunshine ignores a zero reference size; so do we. */
    if (in->absolute.width <= 0 || in->absolute.height <= 0 || out_width == 0 || out_height == 0)
      return 0;
    ev.type = FH_INPUT_POINTER_MOTION;
    ev.motion.x = scale_axis (in->absolute.x, in->absolute.width, out_width);
    ev.motion.y = scale_axis (in->absolute.y, in->absolute.height, out_height);
    break;
  case FH_GS_INPUT_MOUSE_BUTTON: {
    static const guint32 buttons[] = {
      [FH_GS_MOUSE_BUTTON_LEFT] = BTN_LEFT,   [FH_GS_MOUSE_BUTTON_MIDDLE] = BTN_MIDDLE,
      [FH_GS_MOUSE_BUTTON_RIGHT] = BTN_RIGHT, [FH_GS_MOUSE_BUTTON_X1] = BTN_SIDE,
      [FH_GS_MOUSE_BUTTON_X2] = BTN_EXTRA,
    };

    if (in->button.button >= G_N_ELEMENTS (buttons) || buttons[in->button.button] == 0)
      return 0;
    ev.type = FH_INPUT_POINTER_BUTTON;
    ev.button.button = buttons[in->button.button];
    ev.button.pressed = in->button.pressed;
    break;
  }
  case FH_GS_INPUT_SCROLL:
    /* Windows wheel: positive = away from the user, i.e. up; ours: down. */
    if (in->scroll.amount == 0)
      return 0;
    ev.type = FH_INPUT_SCROLL;
    ev.scroll.dy = -(gint32) in->scroll.amount;
    break;
  case FH_GS_INPUT_HSCROLL:
    if (in->scroll.amount == 0)
      return 0;
    ev.type = FH_INPUT_SCROLL;
    ev.scroll.dx = in->scroll.amount;
    break;
  case FH_GS_INPUT_TEXT:
    return text_to_events (in->text.text, events, max);
  case FH_GS_INPUT_UNKNOWN:
  case FH_GS_INPUT_MULTI_CONTROLLER:
  case FH_GS_INPUT_ENABLE_HAPTICS:
  case FH_GS_INPUT_TOUCH:
  case FH_GS_INPUT_PEN:
  case FH_GS_INPUT_CONTROLLER_ARRIVAL:
  case FH_GS_INPUT_CONTROLLER_TOUCH:
  case FH_GS_INPUT_CONTROLLER_MOTION:
  case FH_GS_INPUT_CONTROLLER_BATTERY:
    return 0; /* no injector for these yet */
  }
  events[0] = ev;
  return 1;
}

/* ---- Control messages ---- */

gboolean
fh_gs_control_parse (FhGsControlOrigin origin, guint16 type, const guint8 *payload, gsize len,
                     FhGsControlMessage *out, GError **error)
{
  const gboolean from_client = origin == FH_GS_CONTROL_FROM_CLIENT;
  const guint8 *p = payload;

  memset (out, 0, sizeof *out);
  out->type = type;
  out->kind = FH_GS_CONTROL_MSG_UNKNOWN;
  if (len > 0 && payload == NULL)
    return too_short (error, "control message", 0, len);

  if (from_client) {
    switch (type) {
    case FH_GS_CONTROL_TYPE_PERIODIC_PING:
      /* Moonlight: LE16 4, LE32 0; nobody reads it (Sunshine ignores it). */
      out->kind = FH_GS_CONTROL_MSG_PERIODIC_PING;
      return TRUE;
    case FH_GS_CONTROL_TYPE_LOSS_STATS:
      /* LE32 loss count, LE32 interval ms, LE32 1000, LE64 last good frame, … */
      if (len < 20)
        return too_short (error, "loss stats", len, 20);
      out->kind = FH_GS_CONTROL_MSG_LOSS_STATS;
      out->loss_stats.loss_count = fh_gs_get_le32 (p);
      out->loss_stats.interval_ms = fh_gs_get_le32 (p + 4);
      out->loss_stats.last_good_frame = fh_gs_get_le64 (p + 12);
      return TRUE;
    case FH_GS_CONTROL_TYPE_FRAME_STATS:
      out->kind = FH_GS_CONTROL_MSG_FRAME_STATS;
      return TRUE;
    case FH_GS_CONTROL_TYPE_INPUT:
      if (!fh_gs_input_parse (p, len, &out->input, error))
        return FALSE;
      out->kind = FH_GS_CONTROL_MSG_INPUT;
      return TRUE;
    case FH_GS_CONTROL_TYPE_INVALIDATE_REF_FRAMES:
      /* SS_RFI_REQUEST: LE32 first, 0, LE32 last, 0…; Sunshine reads two
       * LE64, which is the same for these zeros. */
      if (len < 16)
        return too_short (error, "reference frame invalidation", len, 16);
      out->kind = FH_GS_CONTROL_MSG_INVALIDATE_REF_FRAMES;
      out->rfi.first_frame = fh_gs_get_le64 (p);
      out->rfi.last_frame = fh_gs_get_le64 (p + 8);
      return TRUE;
    case FH_GS_CONTROL_TYPE_REQUEST_IDR_FRAME:
      out->kind = FH_GS_CONTROL_MSG_REQUEST_IDR_FRAME;
      return TRUE;
    case FH_GS_CONTROL_TYPE_START_A:
      out->kind = FH_GS_CONTROL_MSG_START_A;
      return TRUE;
    case FH_GS_CONTROL_TYPE_START_B:
      out->kind = FH_GS_CONTROL_MSG_START_B;
      return TRUE;
    case FH_GS_CONTROL_TYPE_LTR_FRAME_ACK:
      if (len < 4)
        return too_short (error, "LTR frame ack", len, 4);
      out->kind = FH_GS_CONTROL_MSG_LTR_FRAME_ACK;
      out->ltr_ack.frame_index = fh_gs_get_le32 (p);
      return TRUE;
    case FH_GS_CONTROL_TYPE_FRAME_FEC_STATUS:
      /* SS_FRAME_FEC_STATUS, packed, big-endian (Video.h). */
      if (len < 21)
        return too_short (error, "frame FEC status", len, 21);
      out->kind = FH_GS_CONTROL_MSG_FRAME_FEC_STATUS;
      out->fec_status.frame_index = fh_gs_get_be32 (p);
      out->fec_status.highest_received_sequence = fh_gs_get_be16 (p + 4);
      out->fec_status.next_contiguous_sequence = fh_gs_get_be16 (p + 6);
      out->fec_status.missing_before_highest = fh_gs_get_be16 (p + 8);
      out->fec_status.total_data = fh_gs_get_be16 (p + 10);
      out->fec_status.total_parity = fh_gs_get_be16 (p + 12);
      out->fec_status.received_data = fh_gs_get_be16 (p + 14);
      out->fec_status.received_parity = fh_gs_get_be16 (p + 16);
      out->fec_status.fec_percentage = p[18];
      out->fec_status.block_index = p[19];
      out->fec_status.block_count = p[20];
      return TRUE;
    default:
      return TRUE;
    }
  }

  switch (type) {
  case FH_GS_CONTROL_TYPE_TERMINATION:
  case FH_GS_CONTROL_TYPE_TERMINATION_SHORT:
    /* Moonlight reads 4 bytes or more as a BE32 HRESULT, else LE16. */
    if (len >= 4) {
      out->termination.code = fh_gs_get_be32 (p);
      out->termination.extended = TRUE;
    } else if (len >= 2) {
      out->termination.code = fh_gs_get_le16 (p);
    } else {
      return too_short (error, "termination", len, 2);
    }
    out->kind = FH_GS_CONTROL_MSG_TERMINATION;
    return TRUE;
  case FH_GS_CONTROL_TYPE_RUMBLE:
    /* LE32 filler (Sunshine 0xC0FFEE), LE16 controller, low, high. */
    if (len < 10)
      return too_short (error, "rumble", len, 10);
    out->kind = FH_GS_CONTROL_MSG_RUMBLE;
    out->rumble.controller = fh_gs_get_le16 (p + 4);
    out->rumble.low_freq = fh_gs_get_le16 (p + 6);
    out->rumble.high_freq = fh_gs_get_le16 (p + 8);
    return TRUE;
  case FH_GS_CONTROL_TYPE_HDR_MODE:
    if (len < 1)
      return too_short (error, "HDR mode", len, 1);
    out->kind = FH_GS_CONTROL_MSG_HDR_MODE;
    out->hdr.enabled = p[0] != 0;
    /* Sunshine appends SS_HDR_METADATA: 13 × LE16 (Limelight.h). */
    if (len >= 1 + 26) {
      const guint8 *m = p + 1;

      out->hdr.has_metadata = TRUE;
      for (int i = 0; i < 3; i++) {
        out->hdr.primaries[i][0] = fh_gs_get_le16 (m + 4 * i);
        out->hdr.primaries[i][1] = fh_gs_get_le16 (m + 4 * i + 2);
      }
      out->hdr.white_point[0] = fh_gs_get_le16 (m + 12);
      out->hdr.white_point[1] = fh_gs_get_le16 (m + 14);
      out->hdr.max_display_luminance = fh_gs_get_le16 (m + 16);
      out->hdr.min_display_luminance = fh_gs_get_le16 (m + 18);
      out->hdr.max_content_light_level = fh_gs_get_le16 (m + 20);
      out->hdr.max_frame_average_light_level = fh_gs_get_le16 (m + 22);
      out->hdr.max_full_frame_luminance = fh_gs_get_le16 (m + 24);
    }
    return TRUE;
  case FH_GS_CONTROL_TYPE_RUMBLE_TRIGGERS:
    if (len < 6)
      return too_short (error, "rumble triggers", len, 6);
    out->kind = FH_GS_CONTROL_MSG_RUMBLE_TRIGGERS;
    out->rumble_triggers.controller = fh_gs_get_le16 (p);
    out->rumble_triggers.left = fh_gs_get_le16 (p + 2);
    out->rumble_triggers.right = fh_gs_get_le16 (p + 4);
    return TRUE;
  case FH_GS_CONTROL_TYPE_SET_MOTION_EVENT:
    if (len < 5)
      return too_short (error, "set motion event", len, 5);
    out->kind = FH_GS_CONTROL_MSG_SET_MOTION_EVENT;
    out->motion_event.controller = fh_gs_get_le16 (p);
    out->motion_event.report_rate_hz = fh_gs_get_le16 (p + 2);
    out->motion_event.motion_type = p[4];
    return TRUE;
  case FH_GS_CONTROL_TYPE_SET_RGB_LED:
    if (len < 5)
      return too_short (error, "set RGB LED", len, 5);
    out->kind = FH_GS_CONTROL_MSG_SET_RGB_LED;
    out->rgb_led.controller = fh_gs_get_le16 (p);
    out->rgb_led.r = p[2];
    out->rgb_led.g = p[3];
    out->rgb_led.b = p[4];
    return TRUE;
  case FH_GS_CONTROL_TYPE_SET_ADAPTIVE_TRIGGERS: {
    const gsize need = 5 + 2 * FH_GS_DS_EFFECT_PAYLOAD_SIZE;

    if (len < need)
      return too_short (error, "set adaptive triggers", len, need);
    out->kind = FH_GS_CONTROL_MSG_SET_ADAPTIVE_TRIGGERS;
    out->adaptive_triggers.controller = fh_gs_get_le16 (p);
    out->adaptive_triggers.event_flags = p[2];
    out->adaptive_triggers.type_left = p[3];
    out->adaptive_triggers.type_right = p[4];
    memcpy (out->adaptive_triggers.left, p + 5, FH_GS_DS_EFFECT_PAYLOAD_SIZE);
    memcpy (out->adaptive_triggers.right, p + 5 + FH_GS_DS_EFFECT_PAYLOAD_SIZE,
            FH_GS_DS_EFFECT_PAYLOAD_SIZE);
    return TRUE;
  }
  default:
    return TRUE;
  }
}

/* ---- Builders ---- */

static guint8 *
input_header (guint8 *buf, gsize total, guint32 magic)
{
  fh_gs_put_be32 (buf, (guint32) (total - 4));
  fh_gs_put_le32 (buf + 4, magic);
  return buf + NV_INPUT_HEADER_SIZE;
}

GBytes *
fh_gs_input_build_key (guint16 vk, gboolean pressed, guint8 modifiers)
{
  guint8 buf[NV_INPUT_HEADER_SIZE + 6] = { 0 };
  guint8 *b = input_header (buf, sizeof buf,
                            pressed ? FH_GS_INPUT_MAGIC_KEY_DOWN : FH_GS_INPUT_MAGIC_KEY_UP);

  b[0] = 0; /* flags */
  fh_gs_put_le16 (b + 1, vk);
  b[3] = modifiers;
  return g_bytes_new (buf, sizeof buf);
}

GBytes *
fh_gs_input_build_mouse_absolute (gint16 x, gint16 y, guint16 ref_width, guint16 ref_height)
{
  guint8 buf[NV_INPUT_HEADER_SIZE + 10] = { 0 };
  guint8 *b = input_header (buf, sizeof buf, FH_GS_INPUT_MAGIC_MOUSE_ABSOLUTE);

  fh_gs_put_be16 (b, (guint16) x);
  fh_gs_put_be16 (b + 2, (guint16) y);
  fh_gs_put_be16 (b + 6, (guint16) (ref_width - 1));
  fh_gs_put_be16 (b + 8, (guint16) (ref_height - 1));
  return g_bytes_new (buf, sizeof buf);
}

GBytes *
fh_gs_input_build_mouse_relative (gint16 dx, gint16 dy)
{
  guint8 buf[NV_INPUT_HEADER_SIZE + 4] = { 0 };
  guint8 *b = input_header (buf, sizeof buf, FH_GS_INPUT_MAGIC_MOUSE_RELATIVE);

  fh_gs_put_be16 (b, (guint16) dx);
  fh_gs_put_be16 (b + 2, (guint16) dy);
  return g_bytes_new (buf, sizeof buf);
}

GBytes *
fh_gs_input_build_mouse_button (guint8 button, gboolean pressed)
{
  guint8 buf[NV_INPUT_HEADER_SIZE + 1] = { 0 };
  guint8 *b = input_header (buf, sizeof buf,
                            pressed ? FH_GS_INPUT_MAGIC_MOUSE_BUTTON_DOWN
                                    : FH_GS_INPUT_MAGIC_MOUSE_BUTTON_UP);

  b[0] = button;
  return g_bytes_new (buf, sizeof buf);
}

GBytes *
fh_gs_input_build_scroll (gint16 amount)
{
  guint8 buf[NV_INPUT_HEADER_SIZE + 6] = { 0 };
  guint8 *b = input_header (buf, sizeof buf, FH_GS_INPUT_MAGIC_SCROLL);

  fh_gs_put_be16 (b, (guint16) amount);
  fh_gs_put_be16 (b + 2, (guint16) amount);
  return g_bytes_new (buf, sizeof buf);
}

GBytes *
fh_gs_input_build_hscroll (gint16 amount)
{
  guint8 buf[NV_INPUT_HEADER_SIZE + 2] = { 0 };
  guint8 *b = input_header (buf, sizeof buf, FH_GS_INPUT_MAGIC_HSCROLL);

  fh_gs_put_be16 (b, (guint16) amount);
  return g_bytes_new (buf, sizeof buf);
}

GBytes *
fh_gs_input_build_text (const char *utf8, gsize len)
{
  guint8 buf[NV_INPUT_HEADER_SIZE + FH_GS_INPUT_TEXT_MAX];

  g_return_val_if_fail (len <= FH_GS_INPUT_TEXT_MAX, NULL);
  input_header (buf, NV_INPUT_HEADER_SIZE + len, FH_GS_INPUT_MAGIC_UTF8_TEXT);
  memcpy (buf + NV_INPUT_HEADER_SIZE, utf8, len);
  return g_bytes_new (buf, NV_INPUT_HEADER_SIZE + len);
}

GBytes *
fh_gs_input_build_multi_controller (const FhGsInput *in)
{
  guint8 buf[NV_INPUT_HEADER_SIZE + 26] = { 0 };
  guint8 *b = input_header (buf, sizeof buf, FH_GS_INPUT_MAGIC_MULTI_CONTROLLER);

  fh_gs_put_le16 (b, 0x001a);
  fh_gs_put_le16 (b + 2, (guint16) in->controller.controller_number);
  fh_gs_put_le16 (b + 4, in->controller.active_gamepad_mask);
  fh_gs_put_le16 (b + 6, 0x0014);
  fh_gs_put_le16 (b + 8, (guint16) (in->controller.button_flags & 0xffff));
  b[10] = in->controller.left_trigger;
  b[11] = in->controller.right_trigger;
  fh_gs_put_le16 (b + 12, (guint16) in->controller.left_stick_x);
  fh_gs_put_le16 (b + 14, (guint16) in->controller.left_stick_y);
  fh_gs_put_le16 (b + 16, (guint16) in->controller.right_stick_x);
  fh_gs_put_le16 (b + 18, (guint16) in->controller.right_stick_y);
  fh_gs_put_le16 (b + 20, 0x009c);
  fh_gs_put_le16 (b + 22, (guint16) (in->controller.button_flags >> 16));
  fh_gs_put_le16 (b + 24, 0x0055);
  return g_bytes_new (buf, sizeof buf);
}

GBytes *
fh_gs_input_build_controller_arrival (guint8 controller, guint8 type, guint16 capabilities,
                                      guint32 supported_buttons)
{
  guint8 buf[NV_INPUT_HEADER_SIZE + 8] = { 0 };
  guint8 *b = input_header (buf, sizeof buf, FH_GS_INPUT_MAGIC_CONTROLLER_ARRIVAL);

  b[0] = controller;
  b[1] = type;
  fh_gs_put_le16 (b + 2, capabilities);
  fh_gs_put_le32 (b + 4, supported_buttons);
  return g_bytes_new (buf, sizeof buf);
}

GBytes *
fh_gs_control_build_request_idr (void)
{
  static const guint8 payload[2] = { 0, 0 }; /* requestIdrFrameGen7Enc */

  return g_bytes_new_static (payload, sizeof payload);
}

GBytes *
fh_gs_control_build_invalidate_ref_frames (guint32 first_frame, guint32 last_frame)
{
  guint8 buf[24] = { 0 };

  fh_gs_put_le32 (buf, first_frame);
  fh_gs_put_le32 (buf + 8, last_frame);
  return g_bytes_new (buf, sizeof buf);
}

GBytes *
fh_gs_control_build_periodic_ping (void)
{
  /* Moonlight writes LE16 4, LE32 0 into an 8-byte buffer and sends all 8
   * (the last two uninitialised); nobody reads them. */
  static const guint8 payload[8] = { 4, 0, 0, 0, 0, 0, 0, 0 };

  return g_bytes_new_static (payload, sizeof payload);
}

GBytes *
fh_gs_control_build_termination (guint32 code)
{
  guint8 buf[4];

  fh_gs_put_be32 (buf, code);
  return g_bytes_new (buf, sizeof buf);
}

GBytes *
fh_gs_control_build_rumble (guint16 controller, guint16 low_freq, guint16 high_freq)
{
  guint8 buf[10] = { 0 };

  fh_gs_put_le32 (buf, 0xC0FFEE); /* Sunshine's filler; Moonlight skips it */
  fh_gs_put_le16 (buf + 4, controller);
  fh_gs_put_le16 (buf + 6, low_freq);
  fh_gs_put_le16 (buf + 8, high_freq);
  return g_bytes_new (buf, sizeof buf);
}
