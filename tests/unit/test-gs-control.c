/* Unit tests of the GameStream control messages and NV input packets
 * (src/planes/gamestream/protocol/control-stream.c). The byte vectors are written by hand from the
 * structs in moonlight-common-c (Input.h, Video.h, ControlStream.c) and
 * Sunshine (stream.cpp), not produced by our builders: header sizes are
 * big-endian, magics little-endian, mouse fields big-endian, key codes and
 * controller fields little-endian. */
#include <linux/input-event-codes.h>
#include <string.h>

#include "planes/gamestream/protocol/control-stream.h"
#include "planes/gamestream/protocol/stream-crypto.h"

static void
parse_input_ok (const guint8 *data, gsize len, FhGsInput *in)
{
  g_autoptr (GError) error = NULL;

  g_assert_true (fh_gs_input_parse (data, len, in, &error));
  g_assert_no_error (error);
}

static void
assert_bytes (GBytes *bytes, const guint8 *want, gsize len)
{
  g_assert_cmpmem (g_bytes_get_data (bytes, NULL), g_bytes_get_size (bytes), want, len);
}

/* Key down 'A' (VK 0x41), modifiers shift: size 10 (BE), magic 3 (LE),
 * flags 0, keyCode LE 0x0041, modifiers 1, zero2. */
static const guint8 key_down_a[] = { 0, 0, 0, 10, 3, 0, 0, 0, 0, 0x41, 0x00, 0x01, 0, 0 };
/* Key up right shift (VK 0xA1). */
static const guint8 key_up_rshift[] = { 0, 0, 0, 10, 4, 0, 0, 0, 0, 0xa1, 0x00, 0x00, 0, 0 };
/* Relative move dx = -2 (0xfffe BE), dy = 300 (0x012c BE), magic 7. */
static const guint8 rel_move[] = { 0, 0, 0, 8, 7, 0, 0, 0, 0xff, 0xfe, 0x01, 0x2c };
/* Absolute move x = 959, y = 539 of a 1920x1080 client (width 1919,
 * height 1079 sent), magic 5. */
static const guint8 abs_move[] = { 0, 0, 0, 14, 5,    0,    0, 0, 0x03, 0xbf, 0x02,
                                   0x1b, 0, 0, 0x07, 0x7f, 0x04, 0x37 };
/* Right button down (magic 8, button 3); X2 up (magic 9, button 5). */
static const guint8 button_down_right[] = { 0, 0, 0, 5, 8, 0, 0, 0, 3 };
static const guint8 button_up_x2[] = { 0, 0, 0, 5, 9, 0, 0, 0, 5 };
/* Vertical scroll +120 twice (BE) and a zero, magic 0x0a. */
static const guint8 scroll_up[] = { 0, 0, 0, 10, 0x0a, 0, 0, 0, 0x00, 0x78, 0x00, 0x78, 0, 0 };
/* Sunshine horizontal scroll -60 (0xffc4 BE), magic 0x55000001. */
static const guint8 hscroll_left[] = { 0, 0, 0, 6, 0x01, 0, 0, 0x55, 0xff, 0xc4 };
/* UTF-8 "é" (c3 a9): size 4 + 2, magic 0x17. */
static const guint8 text_e_acute[] = { 0, 0, 0, 6, 0x17, 0, 0, 0, 0xc3, 0xa9 };
/* Multi-controller (magic 0x0c): headerB 0x001a, controller 1, mask 0x0003,
 * midB 0x0014, buttons 0x1000 (A), LT 0x80, RT 0xff, LS (-32768, 32767),
 * RS (1, -1), tailA 0x009c, buttonFlags2 0x0001, tailB 0x0055; all LE. */
static const guint8 multi_controller[] = {
  0,    0,    0,    30,   0x0c, 0,    0,    0,    0x1a, 0x00, 0x01, 0x00, 0x03, 0x00, 0x14, 0x00, 0x00,
  0x10, 0x80, 0xff, 0x00, 0x80, 0xff, 0x7f, 0x01, 0x00, 0xff, 0xff, 0x9c, 0x00, 0x01, 0x00, 0x55, 0x00,
};
/* Enable haptics: magic 0x0d, LE16 1. */
static const guint8 enable_haptics[] = { 0, 0, 0, 6, 0x0d, 0, 0, 0, 1, 0 };
/* Controller arrival (0x55000004): controller 2, type 2 (PS), caps 0x00ff
 * LE, supported buttons 0x000fffff LE. */
static const guint8 controller_arrival[] = { 0, 0, 0, 12, 0x04, 0, 0, 0x55, 2, 2, 0xff, 0x00, 0xff, 0xff, 0x0f, 0x00 };
/* Battery (0x55000007): controller 0, state 3 (charging), 80 %. */
static const guint8 controller_battery[] = { 0, 0, 0, 8, 0x07, 0, 0, 0x55, 0, 3, 80, 0 };
/* Touch (0x55000002): down (1), rotation 90 LE, pointer 7 LE, x 0.5f
 * (0x3f000000 LE), y 0.25f (0x3e800000), pressure 1.0f (0x3f800000),
 * major 0, minor 0. */
static const guint8 touch_down[] = { 0,    0, 0, 32,   0x02, 0, 0, 0x55, 1, 0, 90, 0, 7, 0, 0, 0, 0, 0,
                                     0,    0x3f, 0, 0, 0x80, 0x3e, 0, 0, 0x80, 0x3f, 0, 0, 0, 0,
                                     0,    0, 0, 0 };
/* A magic nobody knows (0x12345678) with 2 body bytes. */
static const guint8 unknown_magic[] = { 0, 0, 0, 6, 0x78, 0x56, 0x34, 0x12, 0xaa, 0xbb };

static void
test_input_parse (void)
{
  FhGsInput in;

  parse_input_ok (key_down_a, sizeof key_down_a, &in);
  g_assert_cmpint (in.kind, ==, FH_GS_INPUT_KEY);
  g_assert_true (in.key.pressed);
  g_assert_cmphex (in.key.key_code, ==, 0x41);
  g_assert_cmphex (in.key.modifiers, ==, FH_GS_MODIFIER_SHIFT);

  parse_input_ok (key_up_rshift, sizeof key_up_rshift, &in);
  g_assert_false (in.key.pressed);
  g_assert_cmphex (in.key.key_code, ==, 0xa1);

  parse_input_ok (rel_move, sizeof rel_move, &in);
  g_assert_cmpint (in.kind, ==, FH_GS_INPUT_MOUSE_RELATIVE);
  g_assert_cmpint (in.relative.dx, ==, -2);
  g_assert_cmpint (in.relative.dy, ==, 300);

  parse_input_ok (abs_move, sizeof abs_move, &in);
  g_assert_cmpint (in.kind, ==, FH_GS_INPUT_MOUSE_ABSOLUTE);
  g_assert_cmpint (in.absolute.x, ==, 959);
  g_assert_cmpint (in.absolute.y, ==, 539);
  g_assert_cmpint (in.absolute.width, ==, 1919);
  g_assert_cmpint (in.absolute.height, ==, 1079);

  parse_input_ok (button_down_right, sizeof button_down_right, &in);
  g_assert_cmpint (in.kind, ==, FH_GS_INPUT_MOUSE_BUTTON);
  g_assert_true (in.button.pressed);
  g_assert_cmpint (in.button.button, ==, FH_GS_MOUSE_BUTTON_RIGHT);
  parse_input_ok (button_up_x2, sizeof button_up_x2, &in);
  g_assert_false (in.button.pressed);
  g_assert_cmpint (in.button.button, ==, FH_GS_MOUSE_BUTTON_X2);

  parse_input_ok (scroll_up, sizeof scroll_up, &in);
  g_assert_cmpint (in.kind, ==, FH_GS_INPUT_SCROLL);
  g_assert_cmpint (in.scroll.amount, ==, 120);

  parse_input_ok (hscroll_left, sizeof hscroll_left, &in);
  g_assert_cmpint (in.kind, ==, FH_GS_INPUT_HSCROLL);
  g_assert_cmpint (in.scroll.amount, ==, -60);

  parse_input_ok (text_e_acute, sizeof text_e_acute, &in);
  g_assert_cmpint (in.kind, ==, FH_GS_INPUT_TEXT);
  g_assert_cmpstr (in.text.text, ==, "é");
  g_assert_cmpuint (in.text.len, ==, 2);

  parse_input_ok (multi_controller, sizeof multi_controller, &in);
  g_assert_cmpint (in.kind, ==, FH_GS_INPUT_MULTI_CONTROLLER);
  g_assert_cmpint (in.controller.controller_number, ==, 1);
  g_assert_cmphex (in.controller.active_gamepad_mask, ==, 3);
  g_assert_cmphex (in.controller.button_flags, ==, 0x00011000);
  g_assert_cmpuint (in.controller.left_trigger, ==, 0x80);
  g_assert_cmpuint (in.controller.right_trigger, ==, 0xff);
  g_assert_cmpint (in.controller.left_stick_x, ==, -32768);
  g_assert_cmpint (in.controller.left_stick_y, ==, 32767);
  g_assert_cmpint (in.controller.right_stick_x, ==, 1);
  g_assert_cmpint (in.controller.right_stick_y, ==, -1);
  {
    FhPadState pad;

    /* Paddle 1 (buttonFlags2 0x0001) has no place on the pad; Y flips. */
    fh_gs_input_to_pad (&in, &pad);
    g_assert_cmphex (pad.buttons, ==, FH_PAD_BUTTON_A);
    g_assert_cmpuint (pad.left_trigger, ==, 0x80);
    g_assert_cmpuint (pad.right_trigger, ==, 0xff);
    g_assert_cmpint (pad.left_x, ==, -32768);
    g_assert_cmpint (pad.left_y, ==, -32767);
    g_assert_cmpint (pad.right_x, ==, 1);
    g_assert_cmpint (pad.right_y, ==, 1);
    in.controller.left_stick_y = -32768;
    in.controller.button_flags = 0xffff;
    fh_gs_input_to_pad (&in, &pad);
    g_assert_cmpint (pad.left_y, ==, 32767);
    g_assert_cmphex (pad.buttons, ==, FH_PAD_BUTTONS_ALL);
  }
  {
    g_autoptr (GBytes) built = NULL;

    parse_input_ok (multi_controller, sizeof multi_controller, &in);
    built = fh_gs_input_build_multi_controller (&in);
    g_assert_cmpmem (g_bytes_get_data (built, NULL), g_bytes_get_size (built), multi_controller,
                     sizeof multi_controller);
    g_clear_pointer (&built, g_bytes_unref);
    built = fh_gs_input_build_controller_arrival (2, 2, 0xff, 0xfffff);
    g_assert_cmpmem (g_bytes_get_data (built, NULL), g_bytes_get_size (built), controller_arrival,
                     sizeof controller_arrival);
  }

  parse_input_ok (enable_haptics, sizeof enable_haptics, &in);
  g_assert_cmpint (in.kind, ==, FH_GS_INPUT_ENABLE_HAPTICS);
  g_assert_true (in.haptics.enable);

  parse_input_ok (controller_arrival, sizeof controller_arrival, &in);
  g_assert_cmpint (in.kind, ==, FH_GS_INPUT_CONTROLLER_ARRIVAL);
  g_assert_cmpuint (in.arrival.controller_number, ==, 2);
  g_assert_cmpuint (in.arrival.type, ==, 2);
  g_assert_cmphex (in.arrival.capabilities, ==, 0xff);
  g_assert_cmphex (in.arrival.supported_button_flags, ==, 0xfffff);

  parse_input_ok (controller_battery, sizeof controller_battery, &in);
  g_assert_cmpint (in.kind, ==, FH_GS_INPUT_CONTROLLER_BATTERY);
  g_assert_cmpuint (in.battery.state, ==, 3);
  g_assert_cmpuint (in.battery.percentage, ==, 80);

  parse_input_ok (touch_down, sizeof touch_down, &in);
  g_assert_cmpint (in.kind, ==, FH_GS_INPUT_TOUCH);
  g_assert_cmpuint (in.touch.event_type, ==, 1);
  g_assert_cmpuint (in.touch.rotation, ==, 90);
  g_assert_cmpuint (in.touch.pointer_id, ==, 7);
  g_assert_cmpfloat (in.touch.x, ==, 0.5f);
  g_assert_cmpfloat (in.touch.y, ==, 0.25f);
  g_assert_cmpfloat (in.touch.pressure_or_distance, ==, 1.0f);

  parse_input_ok (unknown_magic, sizeof unknown_magic, &in);
  g_assert_cmpint (in.kind, ==, FH_GS_INPUT_UNKNOWN);
  g_assert_cmphex (in.magic, ==, 0x12345678);
}

static void
assert_input_rejected (const guint8 *data, gsize len)
{
  g_autoptr (GError) error = NULL;
  FhGsInput in;

  g_assert_false (fh_gs_input_parse (data, len, &in, &error));
  g_assert_error (error, FH_GS_CONTROL_ERROR, FH_GS_CONTROL_ERROR_MALFORMED);
}

static void
test_input_malformed (void)
{
  guint8 buf[64];

  /* Shorter than the header, at every length. */
  for (gsize n = 0; n < 8; n++)
    assert_input_rejected (key_down_a, n);
  /* Every known kind cut by one byte (the size field then overruns). */
  assert_input_rejected (key_down_a, sizeof key_down_a - 1);
  assert_input_rejected (abs_move, sizeof abs_move - 1);
  assert_input_rejected (rel_move, sizeof rel_move - 1);
  assert_input_rejected (multi_controller, sizeof multi_controller - 1);
  assert_input_rejected (touch_down, sizeof touch_down - 1);
  /* A size field that is consistent but too small for the kind. */
  memcpy (buf, key_down_a, sizeof key_down_a);
  buf[3] = 9;
  assert_input_rejected (buf, sizeof key_down_a);
  memcpy (buf, abs_move, sizeof abs_move);
  buf[3] = 8;
  assert_input_rejected (buf, sizeof abs_move);
  /* A size field below the magic's 4 bytes, and a huge one. */
  memcpy (buf, key_down_a, sizeof key_down_a);
  buf[3] = 3;
  assert_input_rejected (buf, sizeof key_down_a);
  buf[0] = 0xff;
  buf[3] = 10;
  assert_input_rejected (buf, sizeof key_down_a);
  /* Text: invalid UTF-8, an embedded NUL, and 33 bytes. */
  memcpy (buf, text_e_acute, sizeof text_e_acute);
  buf[9] = 0x28;
  assert_input_rejected (buf, sizeof text_e_acute);
  buf[8] = 'a';
  buf[9] = 0;
  assert_input_rejected (buf, sizeof text_e_acute);
  memset (buf, 'a', sizeof buf);
  memcpy (buf, (const guint8[]){ 0, 0, 0, 37, 0x17, 0, 0, 0 }, 8);
  assert_input_rejected (buf, 8 + 33);
  /* Trailing bytes after what the size field covers are ignored. */
  {
    FhGsInput in;

    memcpy (buf, rel_move, sizeof rel_move);
    buf[sizeof rel_move] = 0xee;
    parse_input_ok (buf, sizeof rel_move + 1, &in);
    g_assert_cmpint (in.relative.dy, ==, 300);
  }
}

static void
test_to_events (void)
{
  FhInputEvent ev[4];
  FhGsInput in;

  parse_input_ok (key_down_a, sizeof key_down_a, &in);
  g_assert_cmpuint (fh_gs_input_to_events (&in, 1280, 720, ev, 4), ==, 1);
  g_assert_cmpint (ev[0].type, ==, FH_INPUT_KEY);
  g_assert_cmpuint (ev[0].key.code, ==, KEY_A);
  g_assert_true (ev[0].key.pressed);
  g_assert_cmpuint (fh_gs_input_to_events (&in, 1280, 720, ev, 0), ==, 0);

  parse_input_ok (key_up_rshift, sizeof key_up_rshift, &in);
  g_assert_cmpuint (fh_gs_input_to_events (&in, 1280, 720, ev, 4), ==, 1);
  g_assert_cmpuint (ev[0].key.code, ==, KEY_RIGHTSHIFT);
  g_assert_false (ev[0].key.pressed);

  /* Client center of 1920x1080 → center of a 1280x720 output. */
  parse_input_ok (abs_move, sizeof abs_move, &in);
  g_assert_cmpuint (fh_gs_input_to_events (&in, 1280, 720, ev, 4), ==, 1);
  g_assert_cmpint (ev[0].type, ==, FH_INPUT_POINTER_MOTION);
  g_assert_cmpuint (ev[0].motion.x, ==, 639);
  g_assert_cmpuint (ev[0].motion.y, ==, 359);
  /* Corners map to corners; out-of-range positions clamp. */
  in.absolute.x = 1919;
  in.absolute.y = 1079;
  fh_gs_input_to_events (&in, 1280, 720, ev, 4);
  g_assert_cmpuint (ev[0].motion.x, ==, 1279);
  g_assert_cmpuint (ev[0].motion.y, ==, 719);
  in.absolute.x = -5;
  in.absolute.y = 30000;
  fh_gs_input_to_events (&in, 1280, 720, ev, 4);
  g_assert_cmpuint (ev[0].motion.x, ==, 0);
  g_assert_cmpuint (ev[0].motion.y, ==, 719);
  in.absolute.width = 0;
  g_assert_cmpuint (fh_gs_input_to_events (&in, 1280, 720, ev, 4), ==, 0);

  parse_input_ok (rel_move, sizeof rel_move, &in);
  g_assert_cmpuint (fh_gs_input_to_events (&in, 1280, 720, ev, 4), ==, 1);
  g_assert_cmpint (ev[0].type, ==, FH_INPUT_POINTER_RELATIVE);
  g_assert_cmpint (ev[0].relative.dx, ==, -2);
  g_assert_cmpint (ev[0].relative.dy, ==, 300);

  parse_input_ok (button_down_right, sizeof button_down_right, &in);
  g_assert_cmpuint (fh_gs_input_to_events (&in, 1280, 720, ev, 4), ==, 1);
  g_assert_cmpint (ev[0].type, ==, FH_INPUT_POINTER_BUTTON);
  g_assert_cmpuint (ev[0].button.button, ==, BTN_RIGHT);
  g_assert_true (ev[0].button.pressed);
  parse_input_ok (button_up_x2, sizeof button_up_x2, &in);
  fh_gs_input_to_events (&in, 1280, 720, ev, 4);
  g_assert_cmpuint (ev[0].button.button, ==, BTN_EXTRA);
  g_assert_false (ev[0].button.pressed);
  in.button.button = 9;
  g_assert_cmpuint (fh_gs_input_to_events (&in, 1280, 720, ev, 4), ==, 0);

  /* Wheel up (Windows +120) is our -120 (positive = down). */
  parse_input_ok (scroll_up, sizeof scroll_up, &in);
  g_assert_cmpuint (fh_gs_input_to_events (&in, 1280, 720, ev, 4), ==, 1);
  g_assert_cmpint (ev[0].type, ==, FH_INPUT_SCROLL);
  g_assert_cmpint (ev[0].scroll.dx, ==, 0);
  g_assert_cmpint (ev[0].scroll.dy, ==, -120);
  parse_input_ok (hscroll_left, sizeof hscroll_left, &in);
  g_assert_cmpuint (fh_gs_input_to_events (&in, 1280, 720, ev, 4), ==, 1);
  g_assert_cmpint (ev[0].scroll.dx, ==, -60);
  g_assert_cmpint (ev[0].scroll.dy, ==, 0);

  /* Text: key taps on a US layout; what it cannot type is dropped. */
  parse_input_ok (text_e_acute, sizeof text_e_acute, &in);
  g_assert_cmpuint (fh_gs_input_to_events (&in, 1280, 720, ev, 4), ==, 0);
  {
    /* BE32 size 7, LE32 magic 0x17, "aB!" */
    static const guint8 text_ab[] = { 0, 0, 0, 7, 0x17, 0, 0, 0, 'a', 'B', '!' };
    static const struct {
      guint32 code;
      gboolean pressed;
    } want[] = {
      { KEY_A, TRUE },         { KEY_A, FALSE },        { KEY_LEFTSHIFT, TRUE },
      { KEY_B, TRUE },         { KEY_B, FALSE },        { KEY_LEFTSHIFT, FALSE },
      { KEY_LEFTSHIFT, TRUE }, { KEY_1, TRUE },         { KEY_1, FALSE },
      { KEY_LEFTSHIFT, FALSE },
    };
    FhInputEvent many[16];

    parse_input_ok (text_ab, sizeof text_ab, &in);
    g_assert_cmpuint (fh_gs_input_to_events (&in, 1280, 720, many, G_N_ELEMENTS (many)), ==,
                      G_N_ELEMENTS (want));
    for (guint i = 0; i < G_N_ELEMENTS (want); i++) {
      g_assert_cmpint (many[i].type, ==, FH_INPUT_KEY);
      g_assert_cmpuint (many[i].key.code, ==, want[i].code);
      g_assert_cmpint (many[i].key.pressed, ==, want[i].pressed);
    }
    /* Only whole characters: room for 'a' and not for 'B'. */
    g_assert_cmpuint (fh_gs_input_to_events (&in, 1280, 720, many, 5), ==, 2);
  }
  /* No injector for these. */
  parse_input_ok (multi_controller, sizeof multi_controller, &in);
  g_assert_cmpuint (fh_gs_input_to_events (&in, 1280, 720, ev, 4), ==, 0);
  parse_input_ok (unknown_magic, sizeof unknown_magic, &in);
  g_assert_cmpuint (fh_gs_input_to_events (&in, 1280, 720, ev, 4), ==, 0);
}

static void
test_vk_table (void)
{
  static const struct {
    guint16 vk;
    guint32 evdev;
  } cases[] = {
    { 0x41, KEY_A },          { 0x4d, KEY_M },          { 0x5a, KEY_Z },
    { 0x30, KEY_0 },          { 0x31, KEY_1 },          { 0x39, KEY_9 },
    { 0x70, KEY_F1 },         { 0x79, KEY_F10 },        { 0x7a, KEY_F11 },
    { 0x7b, KEY_F12 },        { 0x7c, KEY_F13 },        { 0x87, KEY_F24 },
    { 0xa0, KEY_LEFTSHIFT },  { 0xa1, KEY_RIGHTSHIFT }, { 0xa2, KEY_LEFTCTRL },
    { 0xa3, KEY_RIGHTCTRL },  { 0xa4, KEY_LEFTALT },    { 0xa5, KEY_RIGHTALT },
    { 0x5b, KEY_LEFTMETA },   { 0x5c, KEY_RIGHTMETA },  { 0x10, KEY_LEFTSHIFT },
    { 0x25, KEY_LEFT },       { 0x26, KEY_UP },         { 0x27, KEY_RIGHT },
    { 0x28, KEY_DOWN },       { 0x24, KEY_HOME },       { 0x23, KEY_END },
    { 0x21, KEY_PAGEUP },     { 0x22, KEY_PAGEDOWN },   { 0x2d, KEY_INSERT },
    { 0x2e, KEY_DELETE },     { 0x08, KEY_BACKSPACE },  { 0x09, KEY_TAB },
    { 0x0d, KEY_ENTER },      { 0x1b, KEY_ESC },        { 0x20, KEY_SPACE },
    { 0x14, KEY_CAPSLOCK },   { 0x2c, KEY_SYSRQ },      { 0x90, KEY_NUMLOCK },
    { 0x60, KEY_KP0 },        { 0x69, KEY_KP9 },        { 0x6a, KEY_KPASTERISK },
    { 0x6b, KEY_KPPLUS },     { 0x6d, KEY_KPMINUS },    { 0x6e, KEY_KPDOT },
    { 0x6f, KEY_KPSLASH },    { 0xba, KEY_SEMICOLON },  { 0xbb, KEY_EQUAL },
    { 0xbc, KEY_COMMA },      { 0xbd, KEY_MINUS },      { 0xbe, KEY_DOT },
    { 0xbf, KEY_SLASH },      { 0xc0, KEY_GRAVE },      { 0xdb, KEY_LEFTBRACE },
    { 0xdc, KEY_BACKSLASH },  { 0xdd, KEY_RIGHTBRACE }, { 0xde, KEY_APOSTROPHE },
    { 0xe2, KEY_102ND },      { 0xad, KEY_MUTE },
    /* Only the low byte counts (Sunshine masks keyCode & 0xff). */
    { 0x8041, KEY_A },
    /* No key. */
    { 0x00, 0 },              { 0x07, 0 },              { 0xff, 0 },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++) {
    g_test_message ("VK 0x%02x", cases[i].vk);
    g_assert_cmpuint (fh_gs_vk_to_evdev (cases[i].vk), ==, cases[i].evdev);
  }
  /* Letters and digits are complete and distinct. */
  for (guint vk = 0x30; vk <= 0x5a; vk++) {
    if (vk > 0x39 && vk < 0x41)
      continue;
    g_assert_cmpuint (fh_gs_vk_to_evdev (vk), !=, 0);
  }
}

static void
parse_ok (FhGsControlOrigin origin, guint16 type, const guint8 *p, gsize len, FhGsControlMessage *m)
{
  g_autoptr (GError) error = NULL;

  g_assert_true (fh_gs_control_parse (origin, type, p, len, m, &error));
  g_assert_no_error (error);
}

static void
test_control_parse (void)
{
  FhGsControlMessage m;
  /* RFI 5..9: SS_RFI_REQUEST, LE32 first, reserved, LE32 last, 3 reserved. */
  static const guint8 rfi[24] = { 5, 0, 0, 0, 0, 0, 0, 0, 9, 0, 0, 0 };
  /* Moonlight's periodic ping: LE16 4, LE32 0, two more bytes. */
  static const guint8 ping[8] = { 4, 0, 0, 0, 0, 0, 0, 0 };
  /* Loss stats: count 2, interval 50, 1000, last good frame 0x1234 LE64,
   * 0, 0, 0x14. */
  static const guint8 loss[32] = { 2, 0, 0, 0, 50, 0, 0, 0, 0xe8, 0x03, 0, 0, 0x34, 0x12, 0, 0,
                                   0, 0, 0, 0, 0, 0, 0, 0,   0,    0,    0, 0, 0x14, 0, 0, 0 };
  /* LTR ack of frame 0x01020304 LE, reserved. */
  static const guint8 ltr[8] = { 4, 3, 2, 1, 0, 0, 0, 0 };
  /* FEC status, big-endian: frame 0x00000102, highest 0x0010, next 0x000c,
   * missing 3, data 20, parity 4, got data 18, got parity 3, 20 %, block 1
   * of 2 (count field). */
  static const guint8 fec[21] = { 0, 0, 1, 2, 0, 0x10, 0, 0x0c, 0, 3, 0, 20, 0, 4, 0, 18, 0, 3, 20, 1, 2 };
  /* Extended termination 0x80030023 (BE32); short termination 0x0100 (LE16). */
  static const guint8 term[4] = { 0x80, 0x03, 0x00, 0x23 };
  static const guint8 term_short[2] = { 0x00, 0x01 };
  /* Rumble: LE32 filler 0xC0FFEE, controller 1, low 0x1234, high 0xabcd. */
  static const guint8 rumble[10] = { 0xee, 0xff, 0xc0, 0x00, 1, 0, 0x34, 0x12, 0xcd, 0xab };
  /* Rumble triggers: controller 2, left 0x0100, right 0x0200. */
  static const guint8 rumble_trig[6] = { 2, 0, 0, 1, 0, 2 };
  /* Motion event: controller 0, 200 Hz, gyro (2); RGB LED: controller 3, red. */
  static const guint8 motion[5] = { 0, 0, 200, 0, 2 };
  static const guint8 led[5] = { 3, 0, 0xff, 0, 0 };
  /* HDR on, with metadata: primaries (1,2)(3,4)(5,6), white (7,8), 1000
   * nits, 50, 800, 400, 1000 (all LE16). */
  static const guint8 hdr[27] = { 1, 1, 0, 2, 0, 3, 0, 4, 0, 5, 0, 6, 0, 7, 0, 8, 0,
                                  0xe8, 0x03, 50, 0, 0x20, 0x03, 0x90, 0x01, 0xe8, 0x03 };

  parse_ok (FH_GS_CONTROL_FROM_CLIENT, 0x0302, (const guint8[]){ 0, 0 }, 2, &m);
  g_assert_cmpint (m.kind, ==, FH_GS_CONTROL_MSG_REQUEST_IDR_FRAME);
  parse_ok (FH_GS_CONTROL_FROM_CLIENT, 0x0307, (const guint8[]){ 0 }, 1, &m);
  g_assert_cmpint (m.kind, ==, FH_GS_CONTROL_MSG_START_B);
  parse_ok (FH_GS_CONTROL_FROM_CLIENT, 0x0301, rfi, sizeof rfi, &m);
  g_assert_cmpint (m.kind, ==, FH_GS_CONTROL_MSG_INVALIDATE_REF_FRAMES);
  g_assert_cmpuint (m.rfi.first_frame, ==, 5);
  g_assert_cmpuint (m.rfi.last_frame, ==, 9);
  parse_ok (FH_GS_CONTROL_FROM_CLIENT, 0x0200, ping, sizeof ping, &m);
  g_assert_cmpint (m.kind, ==, FH_GS_CONTROL_MSG_PERIODIC_PING);
  parse_ok (FH_GS_CONTROL_FROM_CLIENT, 0x0201, loss, sizeof loss, &m);
  g_assert_cmpint (m.kind, ==, FH_GS_CONTROL_MSG_LOSS_STATS);
  g_assert_cmpuint (m.loss_stats.loss_count, ==, 2);
  g_assert_cmpuint (m.loss_stats.interval_ms, ==, 50);
  g_assert_cmpuint (m.loss_stats.last_good_frame, ==, 0x1234);
  parse_ok (FH_GS_CONTROL_FROM_CLIENT, 0x0350, ltr, sizeof ltr, &m);
  g_assert_cmpint (m.kind, ==, FH_GS_CONTROL_MSG_LTR_FRAME_ACK);
  g_assert_cmphex (m.ltr_ack.frame_index, ==, 0x01020304);
  parse_ok (FH_GS_CONTROL_FROM_CLIENT, 0x5502, fec, sizeof fec, &m);
  g_assert_cmpint (m.kind, ==, FH_GS_CONTROL_MSG_FRAME_FEC_STATUS);
  g_assert_cmpuint (m.fec_status.frame_index, ==, 0x102);
  g_assert_cmpuint (m.fec_status.highest_received_sequence, ==, 0x10);
  g_assert_cmpuint (m.fec_status.next_contiguous_sequence, ==, 0x0c);
  g_assert_cmpuint (m.fec_status.missing_before_highest, ==, 3);
  g_assert_cmpuint (m.fec_status.total_data, ==, 20);
  g_assert_cmpuint (m.fec_status.total_parity, ==, 4);
  g_assert_cmpuint (m.fec_status.received_data, ==, 18);
  g_assert_cmpuint (m.fec_status.received_parity, ==, 3);
  g_assert_cmpuint (m.fec_status.fec_percentage, ==, 20);
  g_assert_cmpuint (m.fec_status.block_index, ==, 1);
  g_assert_cmpuint (m.fec_status.block_count, ==, 2);
  parse_ok (FH_GS_CONTROL_FROM_CLIENT, 0x0206, key_down_a, sizeof key_down_a, &m);
  g_assert_cmpint (m.kind, ==, FH_GS_CONTROL_MSG_INPUT);
  g_assert_cmpint (m.input.kind, ==, FH_GS_INPUT_KEY);
  g_assert_cmphex (m.input.key.key_code, ==, 0x41);
  parse_ok (FH_GS_CONTROL_FROM_CLIENT, 0x1234, NULL, 0, &m);
  g_assert_cmpint (m.kind, ==, FH_GS_CONTROL_MSG_UNKNOWN);
  g_assert_cmphex (m.type, ==, 0x1234);
  /* A host message type from a client is not understood. */
  parse_ok (FH_GS_CONTROL_FROM_CLIENT, 0x0109, term, sizeof term, &m);
  g_assert_cmpint (m.kind, ==, FH_GS_CONTROL_MSG_UNKNOWN);

  parse_ok (FH_GS_CONTROL_FROM_HOST, 0x0109, term, sizeof term, &m);
  g_assert_cmpint (m.kind, ==, FH_GS_CONTROL_MSG_TERMINATION);
  g_assert_cmphex (m.termination.code, ==, FH_GS_TERMINATION_GRACEFUL);
  g_assert_true (m.termination.extended);
  parse_ok (FH_GS_CONTROL_FROM_HOST, 0x0100, term_short, sizeof term_short, &m);
  g_assert_cmphex (m.termination.code, ==, 0x0100);
  g_assert_false (m.termination.extended);
  parse_ok (FH_GS_CONTROL_FROM_HOST, 0x010b, rumble, sizeof rumble, &m);
  g_assert_cmpint (m.kind, ==, FH_GS_CONTROL_MSG_RUMBLE);
  g_assert_cmpuint (m.rumble.controller, ==, 1);
  g_assert_cmphex (m.rumble.low_freq, ==, 0x1234);
  g_assert_cmphex (m.rumble.high_freq, ==, 0xabcd);
  parse_ok (FH_GS_CONTROL_FROM_HOST, 0x5500, rumble_trig, sizeof rumble_trig, &m);
  g_assert_cmpint (m.kind, ==, FH_GS_CONTROL_MSG_RUMBLE_TRIGGERS);
  g_assert_cmpuint (m.rumble_triggers.controller, ==, 2);
  g_assert_cmphex (m.rumble_triggers.left, ==, 0x100);
  g_assert_cmphex (m.rumble_triggers.right, ==, 0x200);
  parse_ok (FH_GS_CONTROL_FROM_HOST, 0x5501, motion, sizeof motion, &m);
  g_assert_cmpint (m.kind, ==, FH_GS_CONTROL_MSG_SET_MOTION_EVENT);
  g_assert_cmpuint (m.motion_event.report_rate_hz, ==, 200);
  g_assert_cmpuint (m.motion_event.motion_type, ==, 2);
  parse_ok (FH_GS_CONTROL_FROM_HOST, 0x5502, led, sizeof led, &m);
  g_assert_cmpint (m.kind, ==, FH_GS_CONTROL_MSG_SET_RGB_LED);
  g_assert_cmpuint (m.rgb_led.controller, ==, 3);
  g_assert_cmpuint (m.rgb_led.r, ==, 0xff);
  parse_ok (FH_GS_CONTROL_FROM_HOST, 0x010e, hdr, sizeof hdr, &m);
  g_assert_cmpint (m.kind, ==, FH_GS_CONTROL_MSG_HDR_MODE);
  g_assert_true (m.hdr.enabled);
  g_assert_true (m.hdr.has_metadata);
  g_assert_cmpuint (m.hdr.primaries[2][1], ==, 6);
  g_assert_cmpuint (m.hdr.white_point[0], ==, 7);
  g_assert_cmpuint (m.hdr.max_display_luminance, ==, 1000);
  g_assert_cmpuint (m.hdr.min_display_luminance, ==, 50);
  g_assert_cmpuint (m.hdr.max_content_light_level, ==, 800);
  g_assert_cmpuint (m.hdr.max_frame_average_light_level, ==, 400);
  g_assert_cmpuint (m.hdr.max_full_frame_luminance, ==, 1000);
  parse_ok (FH_GS_CONTROL_FROM_HOST, 0x010e, (const guint8[]){ 0 }, 1, &m);
  g_assert_false (m.hdr.enabled);
  g_assert_false (m.hdr.has_metadata);
  {
    guint8 trig[25] = { 1, 0, 0x04, 0x21, 0x22 };

    for (int i = 0; i < 20; i++)
      trig[5 + i] = (guint8) i;
    parse_ok (FH_GS_CONTROL_FROM_HOST, 0x5503, trig, sizeof trig, &m);
    g_assert_cmpint (m.kind, ==, FH_GS_CONTROL_MSG_SET_ADAPTIVE_TRIGGERS);
    g_assert_cmpuint (m.adaptive_triggers.event_flags, ==, 4);
    g_assert_cmpuint (m.adaptive_triggers.type_left, ==, 0x21);
    g_assert_cmpuint (m.adaptive_triggers.type_right, ==, 0x22);
    g_assert_cmpuint (m.adaptive_triggers.left[9], ==, 9);
    g_assert_cmpuint (m.adaptive_triggers.right[0], ==, 10);
  }
}

static void
test_control_malformed (void)
{
  static const guint8 zeros[32] = { 0 };
  static const struct {
    FhGsControlOrigin origin;
    guint16 type;
    gsize need;
  } cases[] = {
    { FH_GS_CONTROL_FROM_CLIENT, 0x0301, 16 }, { FH_GS_CONTROL_FROM_CLIENT, 0x0201, 20 },
    { FH_GS_CONTROL_FROM_CLIENT, 0x0350, 4 },  { FH_GS_CONTROL_FROM_CLIENT, 0x5502, 21 },
    { FH_GS_CONTROL_FROM_CLIENT, 0x0206, 8 },  { FH_GS_CONTROL_FROM_HOST, 0x0109, 2 },
    { FH_GS_CONTROL_FROM_HOST, 0x010b, 10 },   { FH_GS_CONTROL_FROM_HOST, 0x010e, 1 },
    { FH_GS_CONTROL_FROM_HOST, 0x5500, 6 },    { FH_GS_CONTROL_FROM_HOST, 0x5501, 5 },
    { FH_GS_CONTROL_FROM_HOST, 0x5502, 5 },    { FH_GS_CONTROL_FROM_HOST, 0x5503, 25 },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++) {
    for (gsize n = 0; n < cases[i].need; n++) {
      g_autoptr (GError) error = NULL;
      FhGsControlMessage m;

      g_test_message ("type 0x%04x, %" G_GSIZE_FORMAT " bytes", cases[i].type, n);
      g_assert_false (fh_gs_control_parse (cases[i].origin, cases[i].type, zeros, n, &m, &error));
      g_assert_error (error, FH_GS_CONTROL_ERROR, FH_GS_CONTROL_ERROR_MALFORMED);
    }
  }
  /* An input message whose packet is bad fails the whole message. */
  {
    g_autoptr (GError) error = NULL;
    FhGsControlMessage m;

    g_assert_false (fh_gs_control_parse (FH_GS_CONTROL_FROM_CLIENT, 0x0206, key_down_a,
                                         sizeof key_down_a - 1, &m, &error));
    g_assert_error (error, FH_GS_CONTROL_ERROR, FH_GS_CONTROL_ERROR_MALFORMED);
  }
}

static void
test_builders (void)
{
  g_autoptr (GBytes) key = fh_gs_input_build_key (0x41, TRUE, FH_GS_MODIFIER_SHIFT);
  g_autoptr (GBytes) key_up = fh_gs_input_build_key (0xa1, FALSE, 0);
  g_autoptr (GBytes) absm = fh_gs_input_build_mouse_absolute (959, 539, 1920, 1080);
  g_autoptr (GBytes) rel = fh_gs_input_build_mouse_relative (-2, 300);
  g_autoptr (GBytes) btn = fh_gs_input_build_mouse_button (FH_GS_MOUSE_BUTTON_RIGHT, TRUE);
  g_autoptr (GBytes) btn_up = fh_gs_input_build_mouse_button (FH_GS_MOUSE_BUTTON_X2, FALSE);
  g_autoptr (GBytes) scroll = fh_gs_input_build_scroll (120);
  g_autoptr (GBytes) hscroll = fh_gs_input_build_hscroll (-60);
  g_autoptr (GBytes) text = fh_gs_input_build_text ("é", 2);
  g_autoptr (GBytes) idr = fh_gs_control_build_request_idr ();
  g_autoptr (GBytes) rfi = fh_gs_control_build_invalidate_ref_frames (5, 9);
  g_autoptr (GBytes) ping = fh_gs_control_build_periodic_ping ();
  g_autoptr (GBytes) term = fh_gs_control_build_termination (FH_GS_TERMINATION_GRACEFUL);
  g_autoptr (GBytes) rumble = fh_gs_control_build_rumble (1, 0x1234, 0xabcd);
  static const guint8 want_rfi[24] = { 5, 0, 0, 0, 0, 0, 0, 0, 9 };

  /* The builders produce exactly the hand-written vectors above. */
  assert_bytes (key, key_down_a, sizeof key_down_a);
  assert_bytes (key_up, key_up_rshift, sizeof key_up_rshift);
  assert_bytes (absm, abs_move, sizeof abs_move);
  assert_bytes (rel, rel_move, sizeof rel_move);
  assert_bytes (btn, button_down_right, sizeof button_down_right);
  assert_bytes (btn_up, button_up_x2, sizeof button_up_x2);
  assert_bytes (scroll, scroll_up, sizeof scroll_up);
  assert_bytes (hscroll, hscroll_left, sizeof hscroll_left);
  assert_bytes (text, text_e_acute, sizeof text_e_acute);
  assert_bytes (idr, (const guint8[]){ 0, 0 }, 2);
  assert_bytes (rfi, want_rfi, sizeof want_rfi);
  assert_bytes (ping, (const guint8[]){ 4, 0, 0, 0, 0, 0, 0, 0 }, 8);
  assert_bytes (term, (const guint8[]){ 0x80, 0x03, 0x00, 0x23 }, 4);
  assert_bytes (rumble, (const guint8[]){ 0xee, 0xff, 0xc0, 0x00, 1, 0, 0x34, 0x12, 0xcd, 0xab }, 10);
}

static void
test_round_trip (void)
{
  for (gint16 x = -3; x < 4; x++) {
    g_autoptr (GBytes) b = fh_gs_input_build_mouse_relative (x * 1000, -x * 77);
    FhGsInput in;

    parse_input_ok (g_bytes_get_data (b, NULL), g_bytes_get_size (b), &in);
    g_assert_cmpint (in.relative.dx, ==, x * 1000);
    g_assert_cmpint (in.relative.dy, ==, -x * 77);
  }
  for (guint vk = 0; vk < 256; vk++) {
    g_autoptr (GBytes) b = fh_gs_input_build_key ((guint16) vk, vk & 1, (guint8) (vk & 0x0f));
    FhGsControlMessage m;

    parse_ok (FH_GS_CONTROL_FROM_CLIENT, FH_GS_CONTROL_TYPE_INPUT, g_bytes_get_data (b, NULL),
              g_bytes_get_size (b), &m);
    g_assert_cmpint (m.input.kind, ==, FH_GS_INPUT_KEY);
    g_assert_cmpuint (m.input.key.key_code, ==, vk);
    g_assert_cmpint (m.input.key.pressed, ==, vk & 1);
    g_assert_cmpuint (m.input.key.modifiers, ==, vk & 0x0f);
  }
  {
    g_autoptr (GBytes) b = fh_gs_control_build_rumble (7, 1, 65535);
    FhGsControlMessage m;

    parse_ok (FH_GS_CONTROL_FROM_HOST, FH_GS_CONTROL_TYPE_RUMBLE, g_bytes_get_data (b, NULL),
              g_bytes_get_size (b), &m);
    g_assert_cmpuint (m.rumble.controller, ==, 7);
    g_assert_cmpuint (m.rumble.low_freq, ==, 1);
    g_assert_cmpuint (m.rumble.high_freq, ==, 65535);
  }
  {
    g_autoptr (GBytes) b = fh_gs_control_build_invalidate_ref_frames (100, 0xfffffff0);
    FhGsControlMessage m;

    parse_ok (FH_GS_CONTROL_FROM_CLIENT, FH_GS_CONTROL_TYPE_INVALIDATE_REF_FRAMES,
              g_bytes_get_data (b, NULL), g_bytes_get_size (b), &m);
    g_assert_cmpuint (m.rfi.first_frame, ==, 100);
    g_assert_cmpuint (m.rfi.last_frame, ==, 0xfffffff0);
  }
}

/* A client input message through the whole envelope: build, encrypt as the
 * client, decrypt as the host, parse, translate. */
static void
test_encrypted_round_trip (void)
{
  static const guint8 key[16] = { 0xde, 0xad, 0xbe, 0xef, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12 };
  g_autoptr (GBytes) input = fh_gs_input_build_scroll (-240);
  g_autoptr (GError) error = NULL;
  g_autoptr (GBytes) packet = NULL;
  g_autoptr (GBytes) plain = NULL;
  FhGsControlMessage m;
  FhInputEvent ev;
  guint32 seq = 0;
  guint16 type = 0;

  packet = fh_gs_control_encrypt (key, 42, FH_GS_CONTROL_FROM_CLIENT, FH_GS_CONTROL_TYPE_INPUT,
                                  g_bytes_get_data (input, NULL), g_bytes_get_size (input), &error);
  g_assert_no_error (error);
  g_assert_true (fh_gs_control_decrypt (key, FH_GS_CONTROL_FROM_CLIENT, g_bytes_get_data (packet, NULL),
                                        g_bytes_get_size (packet), &seq, &type, &plain, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (seq, ==, 42);
  g_assert_cmphex (type, ==, FH_GS_CONTROL_TYPE_INPUT);
  parse_ok (FH_GS_CONTROL_FROM_CLIENT, type, g_bytes_get_data (plain, NULL), g_bytes_get_size (plain), &m);
  g_assert_cmpint (m.input.kind, ==, FH_GS_INPUT_SCROLL);
  g_assert_cmpuint (fh_gs_input_to_events (&m.input, 800, 600, &ev, 1), ==, 1);
  g_assert_cmpint (ev.type, ==, FH_INPUT_SCROLL);
  g_assert_cmpint (ev.scroll.dy, ==, 240);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/gs-control/input-parse", test_input_parse);
  g_test_add_func ("/gs-control/input-malformed", test_input_malformed);
  g_test_add_func ("/gs-control/to-events", test_to_events);
  g_test_add_func ("/gs-control/vk-table", test_vk_table);
  g_test_add_func ("/gs-control/parse", test_control_parse);
  g_test_add_func ("/gs-control/malformed", test_control_malformed);
  g_test_add_func ("/gs-control/builders", test_builders);
  g_test_add_func ("/gs-control/round-trip", test_round_trip);
  g_test_add_func ("/gs-control/encrypted-round-trip", test_encrypted_round_trip);
  return g_test_run ();
}
