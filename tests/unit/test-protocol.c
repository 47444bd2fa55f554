/* Unit tests of the web protocol's parsers and builders. */
#include <json-glib/json-glib.h>
#include <linux/input-event-codes.h>
#include <string.h>

#include "planes/web/protocol.h"

#define HELLO(extra)                                                                             \
  "{\"type\":\"hello\",\"protocol\":1,\"credential\":{\"device\":\"d1\",\"token\":\"t1\"},"      \
  "\"mode\":{\"width\":1280,\"height\":720,\"refresh\":60},\"codecs\":[\"vp9\",\"h264\"]" extra "}"

static void
expect_text_error (const char *text, gssize len, FhProtoError code)
{
  FhClientMessage msg;
  g_autoptr (GError) error = NULL;

  if (len < 0)
    len = (gssize) strlen (text);
  g_assert_false (fh_proto_parse_text (text, (gsize) len, &msg, &error));
  g_assert_error (error, FH_PROTO_ERROR, (gint) code);
  g_assert_null (msg.device);
  g_assert_null (msg.token);
  g_assert_null (msg.resume);
  g_assert_null (msg.pin);
  g_assert_null (msg.owner_device);
  g_assert_null (msg.owner_session);
}

static void
test_hello_valid (void)
{
  FhClientMessage msg;
  g_autoptr (GError) error = NULL;
  const char *text =
    HELLO (",\"bitrate_kbps\":6000,\"resume\":\"abc\",\"layout\":\"fr(bepo)\",\"app\":3,"
           "\"future\":[1,2]");

  g_assert_true (fh_proto_parse_text (text, strlen (text), &msg, &error));
  g_assert_no_error (error);
  g_assert_cmpint (msg.type, ==, FH_CLIENT_MESSAGE_HELLO);
  g_assert_cmpstr (msg.device, ==, "d1");
  g_assert_cmpstr (msg.token, ==, "t1");
  g_assert_cmpuint (msg.mode.width, ==, 1280);
  g_assert_cmpuint (msg.mode.height, ==, 720);
  g_assert_cmpuint (msg.mode.refresh, ==, 60);
  g_assert_cmpuint (msg.codecs, ==, FH_CODEC_H264);
  g_assert_cmpuint (msg.bitrate_kbps, ==, 6000);
  g_assert_cmpstr (msg.resume, ==, "abc");
  g_assert_cmpstr (msg.layout, ==, "fr(bepo)");
  g_assert_cmpuint (msg.app, ==, 3);
  fh_client_message_clear (&msg);
}

static void
test_hello_not_null_terminated (void)
{
  FhClientMessage msg;
  g_autoptr (GError) error = NULL;
  const char *text = HELLO ("");
  gsize len = strlen (text);
  g_autofree char *copy = g_malloc (len); /* no NUL after the message */

  memcpy (copy, text, len);
  g_assert_true (fh_proto_parse_text (copy, len, &msg, &error));
  fh_client_message_clear (&msg);
  /* Cut one byte short: truncated JSON. */
  expect_text_error (copy, (gssize) len - 1, FH_PROTO_ERROR_BAD_MESSAGE);
}

static void
test_hello_errors (void)
{
  expect_text_error ("{\"type\":\"hello\",\"protocol\":1,\"mode\":{\"width\":64,\"height\":64,"
                     "\"refresh\":1},\"codecs\":[]}",
                     -1, FH_PROTO_ERROR_UNAUTHORIZED);
  expect_text_error (HELLO (",\"bitrate_kbps\":6000.5"), -1, FH_PROTO_ERROR_BAD_MESSAGE);
  expect_text_error (HELLO (",\"bitrate_kbps\":50"), -1, FH_PROTO_ERROR_BAD_MESSAGE);
  expect_text_error (HELLO (",\"resume\":7"), -1, FH_PROTO_ERROR_BAD_MESSAGE);
  expect_text_error (HELLO (",\"app\":\"Desktop\""), -1, FH_PROTO_ERROR_BAD_MESSAGE);
  expect_text_error (HELLO (",\"app\":-1"), -1, FH_PROTO_ERROR_BAD_MESSAGE);
  expect_text_error (HELLO (",\"app\":65536"), -1, FH_PROTO_ERROR_BAD_MESSAGE);
  expect_text_error (HELLO (",\"layout\":\"us; rm\""), -1, FH_PROTO_ERROR_BAD_MESSAGE);
  expect_text_error ("{\"type\":\"hello\",\"protocol\":2}", -1, FH_PROTO_ERROR_UNSUPPORTED);
  expect_text_error ("{\"type\":\"hello\",\"protocol\":1,\"credential\":\"x\"}", -1,
                     FH_PROTO_ERROR_BAD_MESSAGE);
  expect_text_error ("{\"type\":\"hello\",\"protocol\":1,\"credential\":{\"device\":\"d\","
                     "\"token\":\"t\"},\"mode\":{\"width\":1281,\"height\":720,\"refresh\":60},"
                     "\"codecs\":[\"h264\"]}",
                     -1, FH_PROTO_ERROR_UNSUPPORTED);
  expect_text_error ("{\"type\":\"hello\",\"protocol\":1,\"credential\":{\"device\":\"d\","
                     "\"token\":\"t\"},\"mode\":{\"width\":1280,\"height\":720,\"refresh\":0},"
                     "\"codecs\":[\"h264\"]}",
                     -1, FH_PROTO_ERROR_UNSUPPORTED);
  expect_text_error ("{\"type\":\"hello\",\"protocol\":1,\"credential\":{\"device\":\"d\","
                     "\"token\":\"t\"},\"mode\":{\"width\":99999,\"height\":720,\"refresh\":60},"
                     "\"codecs\":[\"h264\"]}",
                     -1, FH_PROTO_ERROR_BAD_MESSAGE);
  expect_text_error ("{\"type\":\"hello\",\"protocol\":1,\"credential\":{\"device\":\"d\","
                     "\"token\":\"t\"},\"mode\":{\"width\":1280,\"height\":720,\"refresh\":60},"
                     "\"codecs\":\"h264\"}",
                     -1, FH_PROTO_ERROR_BAD_MESSAGE);
  expect_text_error ("{\"type\":\"hello\",\"protocol\":1,\"credential\":{\"device\":\"d\","
                     "\"token\":\"t\"},\"mode\":{\"width\":1280,\"height\":720,\"refresh\":60},"
                     "\"codecs\":[1]}",
                     -1, FH_PROTO_ERROR_BAD_MESSAGE);
  expect_text_error ("{\"type\":\"hello\",\"protocol\":1,\"credential\":{\"device\":\"d\","
                     "\"token\":\"t\"},\"mode\":{\"width\":-2,\"height\":720,\"refresh\":60},"
                     "\"codecs\":[\"h264\"]}",
                     -1, FH_PROTO_ERROR_BAD_MESSAGE);
}

static void
test_hello_credential_too_long (void)
{
  g_autofree char *token = g_strnfill (FH_PROTO_MAX_CREDENTIAL + 1, 'a');
  g_autofree char *text = g_strdup_printf (
    "{\"type\":\"hello\",\"protocol\":1,\"credential\":{\"device\":\"d\",\"token\":\"%s\"},"
    "\"mode\":{\"width\":1280,\"height\":720,\"refresh\":60},\"codecs\":[\"h264\"]}",
    token);

  expect_text_error (text, -1, FH_PROTO_ERROR_BAD_MESSAGE);
}

static void
test_text_errors (void)
{
  g_autofree char *big = NULL;

  expect_text_error ("", 0, FH_PROTO_ERROR_BAD_MESSAGE);
  expect_text_error ("{", -1, FH_PROTO_ERROR_BAD_MESSAGE);
  expect_text_error ("[1,2]", -1, FH_PROTO_ERROR_BAD_MESSAGE);
  expect_text_error ("\"hello\"", -1, FH_PROTO_ERROR_BAD_MESSAGE);
  expect_text_error ("{\"type\":\"nonsense\"}", -1, FH_PROTO_ERROR_BAD_MESSAGE);
  expect_text_error ("{\"type\":7}", -1, FH_PROTO_ERROR_BAD_MESSAGE);
  expect_text_error ("{\"no\":\"type\"}", -1, FH_PROTO_ERROR_BAD_MESSAGE);
  expect_text_error ("{\"type\":\"ping\"}", -1, FH_PROTO_ERROR_BAD_MESSAGE);
  expect_text_error ("{\"type\":\"ping\",\"t\":\"x\"}", -1, FH_PROTO_ERROR_BAD_MESSAGE);
  /* Invalid UTF-8, and a NUL inside. */
  expect_text_error ("{\"type\":\"p\xc3\x28ng\"}", -1, FH_PROTO_ERROR_BAD_MESSAGE);
  expect_text_error ("{\"type\":\"ping\",\0\"t\":1}", 20, FH_PROTO_ERROR_BAD_MESSAGE);

  /* Over 4096 bytes: only a clipboard message may be; over what the
   * WebSocket takes, nothing. */
  {
    g_autofree char *pad = g_strnfill (FH_PROTO_MAX_TEXT, 'x');
    g_autofree char *ping = g_strdup_printf ("{\"type\":\"ping\",\"t\":1,\"x\":\"%s\"}", pad);
    expect_text_error (ping, -1, FH_PROTO_ERROR_MESSAGE_TOO_LARGE);
  }
  big = g_strnfill (FH_PROTO_MAX_INCOMING + 1, ' ');
  expect_text_error (big, -1, FH_PROTO_ERROR_MESSAGE_TOO_LARGE);
}

static void
test_small_messages (void)
{
  FhClientMessage msg;
  g_autoptr (GError) error = NULL;

  g_assert_true (fh_proto_parse_text ("{\"type\":\"keyframe\"}", 19, &msg, &error));
  g_assert_cmpint (msg.type, ==, FH_CLIENT_MESSAGE_KEYFRAME);
  g_assert_true (fh_proto_parse_text ("{\"type\":\"ping\",\"t\":12.5}", 24, &msg, &error));
  g_assert_cmpint (msg.type, ==, FH_CLIENT_MESSAGE_PING);
  g_assert_cmpfloat (msg.ping_t, ==, 12.5);
  g_assert_true (fh_proto_parse_text ("{\"type\":\"ping\",\"t\":3}", 21, &msg, &error));
  g_assert_cmpfloat (msg.ping_t, ==, 3.0);
  g_assert_true (fh_proto_parse_text ("{\"type\":\"ack\",\"frame\":4294967295}", 33, &msg,
                                      &error));
  g_assert_cmpint (msg.type, ==, FH_CLIENT_MESSAGE_ACK);
  g_assert_cmpuint (msg.ack_frame, ==, 4294967295u);
  expect_text_error ("{\"type\":\"ack\"}", -1, FH_PROTO_ERROR_BAD_MESSAGE);
  expect_text_error ("{\"type\":\"ack\",\"frame\":-1}", -1, FH_PROTO_ERROR_BAD_MESSAGE);
  expect_text_error ("{\"type\":\"ack\",\"frame\":4294967296}", -1, FH_PROTO_ERROR_BAD_MESSAGE);
  expect_text_error ("{\"type\":\"ack\",\"frame\":1.5}", -1, FH_PROTO_ERROR_BAD_MESSAGE);
}

static void
expect_input_error (const guint8 *data, gsize len)
{
  FhInputEvent event;
  g_autoptr (GError) error = NULL;

  g_assert_false (fh_proto_parse_input (data, len, &event, &error));
  g_assert_error (error, FH_PROTO_ERROR, FH_PROTO_ERROR_BAD_MESSAGE);
}

static void
test_input_key (void)
{
  const guint8 key[] = { 0x10, 1, 4, 'K', 'e', 'y', 'A' };
  const guint8 unknown[] = { 0x10, 0, 5, 'K', 'e', 'y', 'Z', 'Z' };
  FhInputEvent event;
  g_autoptr (GError) error = NULL;

  g_assert_true (fh_proto_parse_input (key, sizeof key, &event, &error));
  g_assert_cmpint (event.type, ==, FH_INPUT_KEY);
  g_assert_cmpuint (event.key.code, ==, KEY_A);
  g_assert_true (event.key.pressed);

  g_assert_true (fh_proto_parse_input (unknown, sizeof unknown, &event, &error));
  g_assert_cmpuint (event.key.code, ==, 0);
  g_assert_false (event.key.pressed);
}

static void
expect_pad_error (const guint8 *data, gsize len)
{
  FhPadMessage msg;
  g_autoptr (GError) error = NULL;

  g_assert_false (fh_proto_parse_pad (data, len, &msg, &error));
  g_assert_error (error, FH_PROTO_ERROR, FH_PROTO_ERROR_BAD_MESSAGE);
}

static void
test_pad (void)
{
  const guint8 connect[] = { 0x15, 2, 0 };
  const guint8 disconnect[] = { 0x16, 3 };
  const guint8 state[] = { 0x14, 1, 0x01, 0x40, 0, 0, 0x00, 0xff,
                           0xff, 0x7f, 0x00, 0x80, 0x34, 0x12, 0xff, 0xff };
  FhPadMessage msg;
  guint8 back[FH_PROTO_PAD_STATE_SIZE];
  g_autoptr (GError) error = NULL;

  g_assert_true (fh_proto_is_pad (state, sizeof state));
  g_assert_true (fh_proto_parse_pad (connect, sizeof connect, &msg, &error));
  g_assert_cmpint (msg.type, ==, FH_PAD_MESSAGE_CONNECT);
  g_assert_cmpuint (msg.index, ==, 2);
  g_assert_cmpint (msg.kind, ==, FH_PAD_KIND_XBOX360);
  g_assert_true (fh_proto_parse_pad (disconnect, sizeof disconnect, &msg, &error));
  g_assert_cmpint (msg.type, ==, FH_PAD_MESSAGE_DISCONNECT);
  g_assert_cmpuint (msg.index, ==, 3);

  g_assert_true (fh_proto_parse_pad (state, sizeof state, &msg, &error));
  g_assert_cmpint (msg.type, ==, FH_PAD_MESSAGE_STATE);
  g_assert_cmpuint (msg.index, ==, 1);
  g_assert_cmphex (msg.state.buttons, ==, FH_PAD_BUTTON_A | FH_PAD_BUTTON_DPAD_RIGHT);
  g_assert_cmpuint (msg.state.left_trigger, ==, 0);
  g_assert_cmpuint (msg.state.right_trigger, ==, 255);
  g_assert_cmpint (msg.state.left_x, ==, 32767);
  g_assert_cmpint (msg.state.left_y, ==, -32768);
  g_assert_cmpint (msg.state.right_x, ==, 0x1234);
  g_assert_cmpint (msg.state.right_y, ==, -1);
  g_assert_cmpuint (fh_proto_write_pad (&msg, back), ==, sizeof state);
  g_assert_cmpmem (back, sizeof state, state, sizeof state);
}

static void
test_pad_errors (void)
{
  const guint8 short_state[] = { 0x14, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0 };
  const guint8 long_state[] = { 0x14, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0 };
  const guint8 unknown_button[] = { 0x14, 0, 0, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0 };
  const guint8 high_button[] = { 0x14, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0 };
  const guint8 fifth_pad[] = { 0x15, 4, 0 };
  const guint8 bad_type[] = { 0x15, 0, 1 };
  const guint8 long_disconnect[] = { 0x16, 0, 0 };
  const guint8 kind_only[] = { 0x16 };

  expect_pad_error (short_state, sizeof short_state);
  expect_pad_error (long_state, sizeof long_state);
  expect_pad_error (unknown_button, sizeof unknown_button);
  expect_pad_error (high_button, sizeof high_button);
  expect_pad_error (fifth_pad, sizeof fifth_pad);
  expect_pad_error (bad_type, sizeof bad_type);
  expect_pad_error (long_disconnect, sizeof long_disconnect);
  expect_pad_error (kind_only, sizeof kind_only);
}

static void
test_input_key_errors (void)
{
  const guint8 truncated[] = { 0x10, 1, 4, 'K', 'e', 'y' };
  const guint8 too_long[] = { 0x10, 1, 4, 'K', 'e', 'y', 'A', 'A' };
  const guint8 header_only[] = { 0x10, 1 };
  const guint8 zero[] = { 0x10, 1, 0 };
  const guint8 bad_state[] = { 0x10, 2, 4, 'K', 'e', 'y', 'A' };
  const guint8 bad_char[] = { 0x10, 1, 4, 'K', 'e', '/', 'A' };
  guint8 over[3 + 33] = { 0x10, 1, 33 };

  memset (over + 3, 'A', 33);
  expect_input_error (truncated, sizeof truncated);
  expect_input_error (too_long, sizeof too_long);
  expect_input_error (header_only, sizeof header_only);
  expect_input_error (zero, sizeof zero);
  expect_input_error (bad_state, sizeof bad_state);
  expect_input_error (bad_char, sizeof bad_char);
  expect_input_error (over, sizeof over);
}

static void
test_input_pointer (void)
{
  const guint8 motion[] = { 0x11, 0, 0x34, 0x12, 0x02, 0x01 };
  const guint8 button[] = { 0x12, 1, 2 };
  const guint8 scroll[] = { 0x13, 0, 0x88, 0xff, 120, 0 };
  FhInputEvent event;
  g_autoptr (GError) error = NULL;

  g_assert_true (fh_proto_parse_input (motion, sizeof motion, &event, &error));
  g_assert_cmpint (event.type, ==, FH_INPUT_POINTER_MOTION);
  g_assert_cmpuint (event.motion.x, ==, 0x1234);
  g_assert_cmpuint (event.motion.y, ==, 0x0102);

  g_assert_true (fh_proto_parse_input (button, sizeof button, &event, &error));
  g_assert_cmpint (event.type, ==, FH_INPUT_POINTER_BUTTON);
  g_assert_cmpuint (event.button.button, ==, BTN_RIGHT);
  g_assert_true (event.button.pressed);

  g_assert_true (fh_proto_parse_input (scroll, sizeof scroll, &event, &error));
  g_assert_cmpint (event.type, ==, FH_INPUT_SCROLL);
  g_assert_cmpint (event.scroll.dx, ==, -120);
  g_assert_cmpint (event.scroll.dy, ==, 120);
}

static void
test_input_errors (void)
{
  const guint8 motion_short[] = { 0x11, 0, 1, 2, 3 };
  const guint8 motion_long[] = { 0x11, 0, 1, 2, 3, 4, 5 };
  const guint8 button_bad[] = { 0x12, 1, 5 };
  const guint8 button_state[] = { 0x12, 7, 0 };
  const guint8 scroll_short[] = { 0x13, 0, 1 };
  const guint8 unknown[] = { 0x7f, 0, 0, 0 };
  const guint8 video[] = { 0x01, 0, 0, 0 };
  const guint8 motion_reserved[] = { 0x11, 1, 1, 2, 3, 4 };

  expect_input_error (NULL, 0);
  expect_input_error (motion_short, sizeof motion_short);
  expect_input_error (motion_long, sizeof motion_long);
  expect_input_error (button_bad, sizeof button_bad);
  expect_input_error (button_state, sizeof button_state);
  expect_input_error (scroll_short, sizeof scroll_short);
  expect_input_error (unknown, sizeof unknown);
  expect_input_error (video, sizeof video); /* host → client only */
  expect_input_error (motion_reserved, sizeof motion_reserved);
}

static void
test_input_round_trip (void)
{
  const FhInputEvent events[] = {
    { .type = FH_INPUT_KEY, .key = { KEY_B, TRUE } },
    { .type = FH_INPUT_POINTER_MOTION, .motion = { 640, 360 } },
    { .type = FH_INPUT_POINTER_BUTTON, .button = { BTN_MIDDLE, FALSE } },
    { .type = FH_INPUT_SCROLL, .scroll = { -240, 360 } },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (events); i++) {
    guint8 buf[64];
    FhInputEvent back;
    g_autoptr (GError) error = NULL;
    gsize len = fh_proto_write_input (&events[i], "KeyB", buf);

    g_assert_true (fh_proto_parse_input (buf, len, &back, &error));
    g_assert_cmpmem (&back, sizeof back, &events[i], sizeof events[i]);
  }
}

static void
test_hello_mic (void)
{
  FhClientMessage msg;
  g_autoptr (GError) error = NULL;
  const char *on = HELLO (",\"mic\":true"), *off = HELLO (""), *bad = HELLO (",\"mic\":1");

  g_assert_true (fh_proto_parse_text (on, strlen (on), &msg, &error));
  g_assert_true (msg.mic);
  fh_client_message_clear (&msg);
  g_assert_true (fh_proto_parse_text (off, strlen (off), &msg, &error));
  g_assert_false (msg.mic);
  fh_client_message_clear (&msg);
  g_assert_false (fh_proto_parse_text (bad, strlen (bad), &msg, &error));
  g_assert_error (error, FH_PROTO_ERROR, FH_PROTO_ERROR_BAD_MESSAGE);
}

static void
test_hello_desktop (void)
{
  FhClientMessage msg;
  g_autoptr (GError) error = NULL;
  const char *shared = HELLO (",\"desktop\":\"shared\""), *own = HELLO (",\"desktop\":\"own\"");
  const char *bad = HELLO (",\"desktop\":\"theirs\"");

  g_assert_true (fh_proto_parse_text (shared, strlen (shared), &msg, &error));
  g_assert_true (msg.shared);
  fh_client_message_clear (&msg);
  g_assert_true (fh_proto_parse_text (own, strlen (own), &msg, &error));
  g_assert_false (msg.shared);
  fh_client_message_clear (&msg);
  g_assert_false (fh_proto_parse_text (bad, strlen (bad), &msg, &error));
  g_assert_error (error, FH_PROTO_ERROR, FH_PROTO_ERROR_BAD_MESSAGE);
}

static void
test_mic_packet (void)
{
  guint8 opus[FH_PROTO_MAX_MIC_PAYLOAD + 1];
  FhMicPacket in = { 77, opus, 3 }, out;
  g_autoptr (GBytes) message = NULL;
  g_autoptr (GError) error = NULL;
  const guint8 *data;
  gsize len;

  memset (opus, 0xab, sizeof opus);
  message = fh_proto_build_mic (&in);
  data = g_bytes_get_data (message, &len);
  g_assert_cmpuint (len, ==, FH_PROTO_MIC_HEADER_SIZE + 3);
  g_assert_true (fh_proto_parse_mic (data, len, &out, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (out.sequence, ==, 77);
  g_assert_cmpuint (out.size, ==, 3);
  g_assert_cmpmem (out.data, out.size, opus, 3);

  /* Header only, truncated header, wrong kind, reserved bytes set. */
  g_assert_false (fh_proto_parse_mic (data, FH_PROTO_MIC_HEADER_SIZE, &out, &error));
  g_assert_error (error, FH_PROTO_ERROR, FH_PROTO_ERROR_BAD_MESSAGE);
  g_clear_error (&error);
  g_assert_false (fh_proto_parse_mic (data, 3, &out, NULL));
  g_assert_false (fh_proto_parse_mic ((const guint8 *) "\x10\0\0\0\0\0\0\0\1", 9, &out, NULL));
  g_assert_false (fh_proto_parse_mic ((const guint8 *) "\x20\1\0\0\0\0\0\0\1", 9, &out, NULL));
  g_assert_null (out.data);

  /* The largest Opus packet fits; one byte more is too large. */
  in.size = FH_PROTO_MAX_MIC_PAYLOAD;
  g_clear_pointer (&message, g_bytes_unref);
  message = fh_proto_build_mic (&in);
  data = g_bytes_get_data (message, &len);
  g_assert_true (fh_proto_parse_mic (data, len, &out, NULL));
  in.size = FH_PROTO_MAX_MIC_PAYLOAD + 1;
  g_clear_pointer (&message, g_bytes_unref);
  message = fh_proto_build_mic (&in);
  data = g_bytes_get_data (message, &len);
  g_assert_false (fh_proto_parse_mic (data, len, &out, &error));
  g_assert_error (error, FH_PROTO_ERROR, FH_PROTO_ERROR_MESSAGE_TOO_LARGE);
}

static void
test_ack (void)
{
  guint8 data[FH_PROTO_ACK_SIZE + 1];
  g_autoptr (GError) error = NULL;
  guint32 frame = 1;

  fh_proto_write_ack (0xdeadbeef, data);
  g_assert_cmpmem (data, FH_PROTO_ACK_SIZE, "\x30\xef\xbe\xad\xde", FH_PROTO_ACK_SIZE);
  g_assert_true (fh_proto_parse_ack (data, FH_PROTO_ACK_SIZE, &frame, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (frame, ==, 0xdeadbeef);

  /* Too short, too long, another kind. */
  g_assert_false (fh_proto_parse_ack (data, FH_PROTO_ACK_SIZE - 1, &frame, &error));
  g_assert_error (error, FH_PROTO_ERROR, FH_PROTO_ERROR_BAD_MESSAGE);
  g_assert_cmpuint (frame, ==, 0);
  g_clear_error (&error);
  data[FH_PROTO_ACK_SIZE] = 0;
  g_assert_false (fh_proto_parse_ack (data, FH_PROTO_ACK_SIZE + 1, &frame, NULL));
  data[0] = FH_PROTO_KIND_MIC;
  g_assert_false (fh_proto_parse_ack (data, FH_PROTO_ACK_SIZE, &frame, NULL));
  g_assert_false (fh_proto_parse_ack (data, 0, &frame, NULL));
}

/* The web client's rule (web/protocol.js, ackAtOnce; its test is
 * tests/e2e/web-protocol.test.mjs): the same cases. */
static void
test_ack_at_once (void)
{
  g_assert_cmpint (FH_PROTO_ACK_DELAY_MS, ==, 20);
  g_assert_true (fh_proto_ack_at_once (2, 0));
  g_assert_false (fh_proto_ack_at_once (1, 16700));
  g_assert_false (fh_proto_ack_at_once (1, 19900));
  g_assert_true (fh_proto_ack_at_once (1, 20000));
  g_assert_true (fh_proto_ack_at_once (1, 33300));
  g_assert_true (fh_proto_ack_at_once (1, G_MAXINT64));
}

static void
test_audio_packet (void)
{
  g_autoptr (GBytes) message =
    fh_proto_build_audio (5, G_GUINT64_CONSTANT (0x0102030405060708), (const guint8 *) "xyz", 3);
  gsize len;
  const guint8 *d = g_bytes_get_data (message, &len);

  g_assert_cmpuint (len, ==, FH_PROTO_AUDIO_HEADER_SIZE + 3);
  g_assert_cmpuint (d[0], ==, FH_PROTO_KIND_AUDIO);
  g_assert_cmpuint (d[4], ==, 5);
  g_assert_cmpuint (d[8], ==, 0x08);
  g_assert_cmpuint (d[15], ==, 0x01);
  g_assert_cmpmem (d + FH_PROTO_AUDIO_HEADER_SIZE, 3, "xyz", 3);
}

static void
test_video_header (void)
{
  FhVideoHeader in = { TRUE, 123456, G_GUINT64_CONSTANT (0x0123456789abcdef), 4321 }, out;
  guint8 buf[FH_PROTO_VIDEO_HEADER_SIZE];
  g_autoptr (GError) error = NULL;

  fh_proto_write_video_header (&in, buf);
  g_assert_cmpuint (buf[0], ==, FH_PROTO_KIND_VIDEO);
  g_assert_cmpuint (buf[1], ==, 1);
  g_assert_true (fh_proto_parse_video_header (buf, sizeof buf, &out, &error));
  g_assert_cmpint (out.keyframe, ==, in.keyframe);
  g_assert_cmpuint (out.frame, ==, in.frame);
  g_assert_cmphex (out.capture_us, ==, in.capture_us);
  g_assert_cmpuint (out.encode_us, ==, in.encode_us);
  g_assert_false (fh_proto_parse_video_header (buf, sizeof buf - 1, &out, NULL));
}

static void
test_pair_request (void)
{
  g_autofree char *pin = NULL, *name = NULL;
  g_autoptr (GError) error = NULL;
  const char *ok = "{\"pin\":\"123456\",\"name\":\"laptop\"}";

  g_assert_true (fh_proto_parse_pair_request (ok, strlen (ok), &pin, &name, &error));
  g_assert_cmpstr (pin, ==, "123456");
  g_assert_cmpstr (name, ==, "laptop");
  g_clear_pointer (&pin, g_free);
  g_clear_pointer (&name, g_free);

  g_assert_true (fh_proto_parse_pair_request ("{\"pin\":\"1\"}", 11, &pin, &name, &error));
  g_assert_cmpstr (name, ==, "browser");
  g_clear_pointer (&pin, g_free);
  g_clear_pointer (&name, g_free);

  g_assert_false (fh_proto_parse_pair_request ("{\"name\":\"x\"}", 12, &pin, &name, &error));
  g_assert_error (error, FH_PROTO_ERROR, FH_PROTO_ERROR_BAD_MESSAGE);
  g_assert_null (pin);
  g_clear_error (&error);
  g_assert_false (fh_proto_parse_pair_request ("nope", 4, &pin, &name, &error));
  g_assert_error (error, FH_PROTO_ERROR, FH_PROTO_ERROR_BAD_MESSAGE);
}

static JsonObject *
parse_object (JsonParser *parser, const char *text)
{
  g_assert_true (json_parser_load_from_data (parser, text, -1, NULL));
  return json_node_get_object (json_parser_get_root (parser));
}

static void
test_builders (void)
{
  g_autoptr (JsonParser) parser = json_parser_new ();
  const guint8 bg[3] = { 10, 20, 30 };
  FhWelcome w = { "abcd", TRUE, { 800, 600, 30 }, FH_CODEC_H264, 5000, 30, "synthetic", bg };
  FhStreamStats s = { .fps = 59.5, .kbps = 1234.567, .frames = 10, .round_trip_ms = 151.234 };
  g_autofree char *welcome = fh_proto_build_welcome (&w);
  g_autofree char *stats = fh_proto_build_stats (&s);
  g_autofree char *err = fh_proto_build_error (FH_PROTO_ERROR_UNAUTHORIZED, "quote \" here");
  JsonObject *o;

  o = parse_object (parser, welcome);
  g_assert_cmpstr (json_object_get_string_member (o, "type"), ==, "welcome");
  g_assert_cmpstr (json_object_get_string_member (o, "session"), ==, "abcd");
  g_assert_true (json_object_get_boolean_member (o, "resumed"));
  g_assert_cmpint (json_object_get_int_member (json_object_get_object_member (o, "mode"), "height"),
                   ==, 600);
  g_assert_cmpint (json_array_get_int_element (json_object_get_array_member (
                                                 json_object_get_object_member (o, "display"),
                                                 "background"),
                                               2),
                   ==, 30);

  o = parse_object (parser, stats);
  g_assert_cmpfloat (json_object_get_double_member (o, "kbps"), ==, 1234.57);
  g_assert_cmpfloat (json_object_get_double_member (o, "round_trip_ms"), ==, 151.23);

  o = parse_object (parser, err);
  g_assert_cmpstr (json_object_get_string_member (o, "code"), ==, "unauthorized");
  g_assert_cmpstr (json_object_get_string_member (o, "message"), ==, "quote \" here");
  g_assert_cmpuint (fh_proto_error_close_code (FH_PROTO_ERROR_UNAUTHORIZED), ==, 4001);
  g_assert_cmpuint (fh_proto_error_close_code (FH_PROTO_ERROR_BAD_MESSAGE), ==, 4000);

  {
    const FhPadRumble r = { 16384, 65535 };
    g_autofree char *rumble = fh_proto_build_rumble (2, &r);

    o = parse_object (parser, rumble);
    g_assert_cmpstr (json_object_get_string_member (o, "type"), ==, "rumble");
    g_assert_cmpint (json_object_get_int_member (o, "pad"), ==, 2);
    g_assert_cmpint (json_object_get_int_member (o, "strong"), ==, 16384);
    g_assert_cmpint (json_object_get_int_member (o, "weak"), ==, 65535);
  }
  {
    g_autofree char *access = fh_proto_build_access ("controller", "2026-12-24T18:00:00Z");
    g_autofree char *forever = fh_proto_build_access ("view", NULL);
    g_autofree char *with = NULL;
    JsonObject *a;

    o = parse_object (parser, access);
    g_assert_cmpstr (json_object_get_string_member (o, "type"), ==, "access");
    g_assert_cmpstr (json_object_get_string_member (o, "level"), ==, "controller");
    g_assert_cmpstr (json_object_get_string_member (o, "until"), ==, "2026-12-24T18:00:00Z");
    o = parse_object (parser, forever);
    g_assert_true (json_object_get_null_member (o, "until"));
    /* The welcome carries it as "access": {"level", "until"}; left out
     * when no level is given. */
    g_assert_false (json_object_has_member (parse_object (parser, welcome), "access"));
    w.access_level = "view";
    with = fh_proto_build_welcome (&w);
    a = json_object_get_object_member (parse_object (parser, with), "access");
    g_assert_cmpstr (json_object_get_string_member (a, "level"), ==, "view");
    g_assert_true (json_object_get_null_member (a, "until"));
  }
}

static void
test_clipboard (void)
{
  const char *ok = "{\"type\":\"clipboard\",\"text\":\"gr\\u00fc\\u00dfe \\u2713\"}";
  const char *hello = "{\"type\":\"hello\",\"protocol\":1,\"credential\":{\"device\":\"d\","
                      "\"token\":\"t\"},\"mode\":{\"width\":640,\"height\":480,\"refresh\":30},"
                      "\"codecs\":[\"h264\"],\"clipboard\":true}";
  g_autoptr (GString) big = g_string_new ("{\"type\":\"clipboard\",\"text\":\"");
  FhClientMessage msg;
  g_autoptr (GError) error = NULL;
  g_autofree char *built = fh_proto_build_clipboard ("a\"b\nc", 5);

  g_assert_true (fh_proto_parse_text (ok, strlen (ok), &msg, &error));
  g_assert_cmpint (msg.type, ==, FH_CLIENT_MESSAGE_CLIPBOARD);
  g_assert_cmpstr (msg.text, ==, "grüße ✓");
  fh_client_message_clear (&msg);
  g_assert_true (fh_proto_parse_text (hello, strlen (hello), &msg, &error));
  g_assert_true (msg.clipboard);
  fh_client_message_clear (&msg);

  for (guint i = 0; i <= FH_PROTO_MAX_CLIPBOARD; i++)
    g_string_append_c (big, 'x');
  g_string_append (big, "\"}");
  expect_text_error (big->str, -1, FH_PROTO_ERROR_BAD_MESSAGE);
  expect_text_error ("{\"type\":\"clipboard\"}", -1, FH_PROTO_ERROR_BAD_MESSAGE);
  expect_text_error ("{\"type\":\"clipboard\",\"text\":5}", -1, FH_PROTO_ERROR_BAD_MESSAGE);
  expect_text_error ("{\"type\":\"hello\",\"clipboard\":\"yes\"}", -1,
                     FH_PROTO_ERROR_BAD_MESSAGE);
  g_assert_cmpstr (built, ==, "{\"type\":\"clipboard\",\"text\":\"a\\\"b\\nc\"}");
}

static void
test_console (void)
{
  FhClientMessage msg;
  g_autoptr (GError) error = NULL;
  const char *text = "{\"type\":\"console\",\"protocol\":1,"
                     "\"credential\":{\"device\":\"d1\",\"token\":\"t1\"}}";

  g_assert_true (fh_proto_parse_text (text, strlen (text), &msg, &error));
  g_assert_no_error (error);
  g_assert_cmpint (msg.type, ==, FH_CLIENT_MESSAGE_CONSOLE);
  g_assert_cmpuint (msg.protocol, ==, 1);
  g_assert_cmpstr (msg.device, ==, "d1");
  g_assert_cmpstr (msg.token, ==, "t1");
  fh_client_message_clear (&msg);

  /* Without a credential: unauthorized, as for hello. */
  expect_text_error ("{\"type\":\"console\",\"protocol\":1}", -1, FH_PROTO_ERROR_UNAUTHORIZED);
  expect_text_error ("{\"type\":\"console\",\"protocol\":2,"
                     "\"credential\":{\"device\":\"d\",\"token\":\"t\"}}",
                     -1, FH_PROTO_ERROR_UNSUPPORTED);
  expect_text_error ("{\"type\":\"console\",\"credential\":{\"device\":\"d\",\"token\":\"t\"}}",
                     -1, FH_PROTO_ERROR_BAD_MESSAGE);
  expect_text_error ("{\"type\":\"console\",\"protocol\":1,\"credential\":[]}", -1,
                     FH_PROTO_ERROR_BAD_MESSAGE);
  expect_text_error ("{\"type\":\"console\",\"protocol\":1,\"credential\":{\"device\":\"d\"}}",
                     -1, FH_PROTO_ERROR_BAD_MESSAGE);
  expect_text_error ("{\"type\":\"console\",\"protocol\":1,"
                     "\"credential\":{\"device\":\"d\",\"token\":5}}",
                     -1, FH_PROTO_ERROR_BAD_MESSAGE);
}

static void
test_moonlight_pin (void)
{
  FhClientMessage msg;
  g_autoptr (GError) error = NULL;
  g_autofree char *long_pin = g_strnfill (FH_PROTO_MAX_MOONLIGHT_PIN + 1, '1');
  g_autofree char *too_long = g_strdup_printf ("{\"type\":\"moonlight-pin\",\"pin\":\"%s\"}",
                                               long_pin);
  const char *text = "{\"type\":\"moonlight-pin\",\"pin\":\"4821\"}";
  const char *odd = "{\"type\":\"moonlight-pin\",\"pin\":\"12x\"}";

  g_assert_true (fh_proto_parse_text (text, strlen (text), &msg, &error));
  g_assert_cmpint (msg.type, ==, FH_CLIENT_MESSAGE_MOONLIGHT_PIN);
  g_assert_cmpstr (msg.pin, ==, "4821");
  g_assert_null (msg.device);
  fh_client_message_clear (&msg);
  g_assert_null (msg.pin);

  /* A PIN of the wrong form still parses: the host answers it with
   * moonlight-pin-error and keeps the connection. */
  g_assert_true (fh_proto_parse_text (odd, strlen (odd), &msg, &error));
  g_assert_cmpstr (msg.pin, ==, "12x");
  fh_client_message_clear (&msg);

  expect_text_error ("{\"type\":\"moonlight-pin\"}", -1, FH_PROTO_ERROR_BAD_MESSAGE);
  expect_text_error ("{\"type\":\"moonlight-pin\",\"pin\":4821}", -1, FH_PROTO_ERROR_BAD_MESSAGE);
  expect_text_error ("{\"type\":\"moonlight-pin\",\"pin\":null}", -1, FH_PROTO_ERROR_BAD_MESSAGE);
  expect_text_error (too_long, -1, FH_PROTO_ERROR_BAD_MESSAGE);
}

/* Guests: hello's join code, the session's client's answer and its
 * management of a guest; the messages it is told. */
static void
test_guests (void)
{
  FhClientMessage msg;
  g_autoptr (GError) error = NULL;
  const char *join = HELLO (",\"join\":\"048213\"");
  const char *answer = "{\"type\":\"guest-answer\",\"request\":\"a1b2c3\",\"approve\":true,"
                       "\"level\":\"controller\"}";
  const char *no = "{\"type\":\"guest-answer\",\"request\":\"a1b2c3\",\"approve\":false}";
  const char *level = "{\"type\":\"guest\",\"guest\":2,\"level\":\"full\"}";
  const char *remove = "{\"type\":\"guest\",\"guest\":2,\"remove\":true}";
  g_autofree char *guests = NULL, *request = NULL;
  FhProtoGuest list[] = { { 1, "dev1", "Laptop", "controller", "full" }, { 2, "dev2", NULL, "view", "view" } };

  g_assert_true (fh_proto_parse_text (join, strlen (join), &msg, &error));
  g_assert_cmpstr (msg.join, ==, "048213");
  fh_client_message_clear (&msg);
  g_assert_null (msg.join);
  g_assert_true (fh_proto_parse_text (answer, strlen (answer), &msg, &error));
  g_assert_cmpint (msg.type, ==, FH_CLIENT_MESSAGE_GUEST_ANSWER);
  g_assert_cmpstr (msg.request, ==, "a1b2c3");
  g_assert_true (msg.approve);
  g_assert_cmpstr (msg.level, ==, "controller");
  fh_client_message_clear (&msg);
  g_assert_true (fh_proto_parse_text (no, strlen (no), &msg, &error));
  g_assert_false (msg.approve);
  g_assert_null (msg.level);
  fh_client_message_clear (&msg);
  g_assert_true (fh_proto_parse_text (level, strlen (level), &msg, &error));
  g_assert_cmpint (msg.type, ==, FH_CLIENT_MESSAGE_GUEST);
  g_assert_cmpuint (msg.guest, ==, 2);
  g_assert_false (msg.remove);
  g_assert_cmpstr (msg.level, ==, "full");
  fh_client_message_clear (&msg);
  g_assert_true (fh_proto_parse_text (remove, strlen (remove), &msg, &error));
  g_assert_true (msg.remove);
  fh_client_message_clear (&msg);
  g_assert_no_error (error);

  expect_text_error (HELLO (",\"join\":\"12ab56\""), -1, FH_PROTO_ERROR_BAD_MESSAGE);
  expect_text_error (HELLO (",\"join\":\"1234567\""), -1, FH_PROTO_ERROR_BAD_MESSAGE);
  expect_text_error (HELLO (",\"join\":\"\""), -1, FH_PROTO_ERROR_BAD_MESSAGE);
  expect_text_error (HELLO (",\"join\":123456"), -1, FH_PROTO_ERROR_BAD_MESSAGE);
  expect_text_error ("{\"type\":\"guest-answer\",\"approve\":true,\"level\":\"full\"}", -1,
                     FH_PROTO_ERROR_BAD_MESSAGE);
  /* Letting in needs a level; only the three names. */
  expect_text_error ("{\"type\":\"guest-answer\",\"request\":\"a\",\"approve\":true}", -1,
                     FH_PROTO_ERROR_BAD_MESSAGE);
  expect_text_error ("{\"type\":\"guest-answer\",\"request\":\"a\",\"approve\":true,"
                     "\"level\":\"owner\"}", -1, FH_PROTO_ERROR_BAD_MESSAGE);
  expect_text_error ("{\"type\":\"guest\",\"guest\":0,\"remove\":true}", -1,
                     FH_PROTO_ERROR_BAD_MESSAGE);
  expect_text_error ("{\"type\":\"guest\",\"guest\":1}", -1, FH_PROTO_ERROR_BAD_MESSAGE);
  expect_text_error ("{\"type\":\"guest\",\"guest\":\"1\",\"remove\":true}", -1,
                     FH_PROTO_ERROR_BAD_MESSAGE);

  guests = fh_proto_build_guests (list, G_N_ELEMENTS (list));
  g_assert_cmpstr (guests, ==,
                   "{\"type\":\"guests\",\"guests\":[{\"id\":1,\"device\":\"dev1\",\"name\":"
                   "\"Laptop\",\"level\":\"controller\",\"granted\":\"full\"},{\"id\":2,\"device\":"
                   "\"dev2\",\"name\":null,\"level\":\"view\",\"granted\":\"view\"}]}");
  request = fh_proto_build_guest_request ("a1b2c3", "dev1", "Laptop \"2\"", "waiting");
  g_assert_cmpstr (request, ==,
                   "{\"type\":\"guest-request\",\"request\":\"a1b2c3\",\"device\":\"dev1\","
                   "\"name\":\"Laptop \\\"2\\\"\",\"state\":\"waiting\"}");
  g_assert_cmpstr (fh_proto_error_to_string (FH_PROTO_ERROR_REFUSED), ==, "refused");
  g_assert_cmpuint (fh_proto_error_close_code (FH_PROTO_ERROR_REFUSED), ==, 4011);
}

static void
test_apps_builder (void)
{
  g_autoptr (JsonParser) parser = json_parser_new ();
  const FhProtoApp apps[] = {
    { .id = 1, .name = "Desktop" },
    { .id = 2, .name = "Steam \"BP\"", .unavailable = "no GPU" },
    { .id = 3, .name = "Shared desktop", .shared = TRUE },
  };
  g_autofree char *text = fh_proto_build_apps (apps, G_N_ELEMENTS (apps));
  JsonObject *o = parse_object (parser, text);
  JsonArray *list;
  JsonObject *a;

  g_assert_cmpstr (json_object_get_string_member (o, "type"), ==, "apps");
  list = json_object_get_array_member (o, "apps");
  g_assert_cmpuint (json_array_get_length (list), ==, 3);
  a = json_array_get_object_element (list, 0);
  g_assert_cmpint (json_object_get_int_member (a, "id"), ==, 1);
  g_assert_cmpstr (json_object_get_string_member (a, "name"), ==, "Desktop");
  g_assert_false (json_object_has_member (a, "unavailable"));
  g_assert_false (json_object_has_member (a, "shared"));
  a = json_array_get_object_element (list, 1);
  g_assert_cmpstr (json_object_get_string_member (a, "name"), ==, "Steam \"BP\"");
  g_assert_cmpstr (json_object_get_string_member (a, "unavailable"), ==, "no GPU");
  a = json_array_get_object_element (list, 2);
  g_assert_cmpint (json_object_get_int_member (a, "id"), ==, 3);
  g_assert_true (json_object_get_boolean_member (a, "shared"));
}

static void
test_moonlight_builders (void)
{
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_autofree char *waiting = fh_proto_build_moonlight ("waiting", "Deck \"2\"", NULL, NULL);
  g_autofree char *paired = fh_proto_build_moonlight ("paired", "deck", NULL, "abc");
  g_autofree char *error = fh_proto_build_moonlight_pin_error ("bad-pin", "4 digits");
  JsonObject *o;

  o = parse_object (parser, waiting);
  g_assert_cmpstr (json_object_get_string_member (o, "type"), ==, "moonlight");
  g_assert_cmpstr (json_object_get_string_member (o, "state"), ==, "waiting");
  g_assert_cmpstr (json_object_get_string_member (o, "client"), ==, "Deck \"2\"");
  g_assert_false (json_object_has_member (o, "message"));
  g_assert_false (json_object_has_member (o, "device"));

  o = parse_object (parser, paired);
  g_assert_cmpstr (json_object_get_string_member (o, "device"), ==, "abc");

  o = parse_object (parser, error);
  g_assert_cmpstr (json_object_get_string_member (o, "type"), ==, "moonlight-pin-error");
  g_assert_cmpstr (json_object_get_string_member (o, "code"), ==, "bad-pin");
  g_assert_cmpstr (json_object_get_string_member (o, "message"), ==, "4 digits");
}

static void
test_owner (void)
{
  FhClientMessage msg;
  g_autoptr (GError) error = NULL;
  g_autofree char *long_id = g_strnfill (FH_PROTO_MAX_ID + 1, 'a');
  g_autofree char *long_session =
    g_strdup_printf ("{\"type\":\"owner\",\"op\":\"end-session\",\"session\":\"%s\"}", long_id);
  g_autofree char *long_device = g_strnfill (FH_PROTO_MAX_CREDENTIAL + 1, 'd');
  g_autofree char *long_revoke =
    g_strdup_printf ("{\"type\":\"owner\",\"op\":\"revoke\",\"device\":\"%s\"}", long_device);
  struct {
    const char *text;
    FhOwnerOp op;
  } valid[] = {
    { "{\"type\":\"owner\",\"op\":\"state\"}", FH_OWNER_OP_STATE },
    { "{\"type\":\"owner\",\"op\":\"new-pin\"}", FH_OWNER_OP_NEW_PIN },
    { "{\"type\":\"owner\",\"op\":\"end-session\",\"session\":\"s1\"}", FH_OWNER_OP_END_SESSION },
    { "{\"type\":\"owner\",\"op\":\"revoke\",\"device\":\"d1\"}", FH_OWNER_OP_REVOKE },
    { "{\"type\":\"owner\",\"op\":\"owner\",\"device\":\"d1\",\"owner\":true}", FH_OWNER_OP_OWNER },
    { "{\"type\":\"owner\",\"op\":\"level\",\"device\":\"d1\",\"level\":\"view\"}",
      FH_OWNER_OP_LEVEL },
    { "{\"type\":\"owner\",\"op\":\"approve\",\"request\":\"r1\",\"value\":\"1234\"}",
      FH_OWNER_OP_APPROVE },
    { "{\"type\":\"owner\",\"op\":\"deny\",\"request\":\"r1\"}", FH_OWNER_OP_DENY },
  };
  const char *level = "{\"type\":\"owner\",\"op\":\"level\",\"device\":\"d1\",\"level\":"
                      "\"controller\",\"until\":\"2026-12-24T18:00:00Z\"}";
  const char *level_for = "{\"type\":\"owner\",\"op\":\"level\",\"device\":\"d1\",\"level\":"
                          "\"full\",\"until\":null,\"for\":\"2h\"}";

  for (guint i = 0; i < G_N_ELEMENTS (valid); i++) {
    g_assert_true (fh_proto_parse_text (valid[i].text, strlen (valid[i].text), &msg, &error));
    g_assert_no_error (error);
    g_assert_cmpint (msg.type, ==, FH_CLIENT_MESSAGE_OWNER);
    g_assert_cmpint (msg.owner_op, ==, valid[i].op);
    {
      g_autofree char *op = g_strdup_printf ("\"op\":\"%s\"", fh_owner_op_to_string (msg.owner_op));
      g_assert_nonnull (strstr (valid[i].text, op));
    }
    fh_client_message_clear (&msg);
  }

  g_assert_true (fh_proto_parse_text (valid[2].text, strlen (valid[2].text), &msg, &error));
  g_assert_cmpstr (msg.owner_session, ==, "s1");
  g_assert_null (msg.owner_device);
  fh_client_message_clear (&msg);
  g_assert_null (msg.owner_session);

  g_assert_true (fh_proto_parse_text (valid[4].text, strlen (valid[4].text), &msg, &error));
  g_assert_cmpstr (msg.owner_device, ==, "d1");
  g_assert_true (msg.owner_right);
  fh_client_message_clear (&msg);

  g_assert_true (fh_proto_parse_text (valid[6].text, strlen (valid[6].text), &msg, &error));
  g_assert_cmpstr (msg.owner_request, ==, "r1");
  g_assert_cmpstr (msg.owner_value, ==, "1234");
  fh_client_message_clear (&msg);

  g_assert_true (fh_proto_parse_text (level, strlen (level), &msg, &error));
  g_assert_cmpstr (msg.owner_level, ==, "controller");
  g_assert_cmpstr (msg.owner_until, ==, "2026-12-24T18:00:00Z");
  g_assert_null (msg.owner_for);
  fh_client_message_clear (&msg);

  g_assert_true (fh_proto_parse_text (level_for, strlen (level_for), &msg, &error));
  g_assert_cmpstr (msg.owner_level, ==, "full");
  g_assert_null (msg.owner_until);
  g_assert_cmpstr (msg.owner_for, ==, "2h");
  fh_client_message_clear (&msg);

  expect_text_error ("{\"type\":\"owner\"}", -1, FH_PROTO_ERROR_BAD_MESSAGE);
  expect_text_error ("{\"type\":\"owner\",\"op\":\"reboot\"}", -1, FH_PROTO_ERROR_BAD_MESSAGE);
  expect_text_error ("{\"type\":\"owner\",\"op\":7}", -1, FH_PROTO_ERROR_BAD_MESSAGE);
  expect_text_error ("{\"type\":\"owner\",\"op\":\"end-session\"}", -1,
                     FH_PROTO_ERROR_BAD_MESSAGE);
  expect_text_error ("{\"type\":\"owner\",\"op\":\"end-session\",\"session\":1}", -1,
                     FH_PROTO_ERROR_BAD_MESSAGE);
  expect_text_error ("{\"type\":\"owner\",\"op\":\"revoke\"}", -1, FH_PROTO_ERROR_BAD_MESSAGE);
  expect_text_error ("{\"type\":\"owner\",\"op\":\"owner\",\"device\":\"d1\"}", -1,
                     FH_PROTO_ERROR_BAD_MESSAGE);
  expect_text_error ("{\"type\":\"owner\",\"op\":\"owner\",\"device\":\"d1\",\"owner\":\"yes\"}",
                     -1, FH_PROTO_ERROR_BAD_MESSAGE);
  expect_text_error ("{\"type\":\"owner\",\"op\":\"level\",\"device\":\"d1\",\"level\":\"root\"}",
                     -1, FH_PROTO_ERROR_BAD_MESSAGE);
  expect_text_error ("{\"type\":\"owner\",\"op\":\"level\",\"device\":\"d1\",\"level\":\"view\","
                     "\"until\":\"2026-12-24T18:00:00Z\",\"for\":\"2h\"}",
                     -1, FH_PROTO_ERROR_BAD_MESSAGE);
  expect_text_error ("{\"type\":\"owner\",\"op\":\"level\",\"device\":\"d1\",\"level\":\"view\","
                     "\"for\":\"12345678901234567\"}",
                     -1, FH_PROTO_ERROR_BAD_MESSAGE);
  expect_text_error ("{\"type\":\"owner\",\"op\":\"approve\"}", -1, FH_PROTO_ERROR_BAD_MESSAGE);
  expect_text_error ("{\"type\":\"owner\",\"op\":\"approve\",\"request\":\"r1\","
                     "\"value\":\"12345678901234567\"}",
                     -1, FH_PROTO_ERROR_BAD_MESSAGE);
  expect_text_error (long_session, -1, FH_PROTO_ERROR_BAD_MESSAGE);
  expect_text_error (long_revoke, -1, FH_PROTO_ERROR_BAD_MESSAGE);
}

static void
test_owner_builders (void)
{
  g_autoptr (JsonParser) parser = json_parser_new ();
  const char *const guests[] = { "g1", NULL };
  const FhProtoOwnerSession sessions[] = {
    { .id = "s1", .device = "d1", .device_name = "Deck \"1\"", .mode = { 1280, 720, 60 },
      .fps = 59.944, .kbps = 812.5, .backend = "synthetic", .plane = "web", .state = "streaming" },
    { .id = "s2", .device = "d2", .mode = { 640, 480, 30 }, .backend = "wlroots", .plane = "",
      .state = "starting", .guests = guests },
  };
  const FhProtoOwnerDevice devices[] = {
    { .id = "d1", .name = "Deck", .kind = "browser", .level = "controller",
      .until = "2026-12-24T17:00:00Z", .owner = TRUE },
    { .id = "d2", .kind = "moonlight", .level = "full" },
  };
  const FhProtoOwnerRequest requests[] = {
    { .id = "r1", .kind = "join", .who = "d2", .from = "127.0.0.1", .timeout_s = 60 },
  };
  g_autofree char *state = fh_proto_build_owner_state (sessions, 2, devices, 2, requests, 1);
  g_autofree char *empty = fh_proto_build_owner_state (NULL, 0, NULL, 0, NULL, 0);
  g_autofree char *owner = fh_proto_build_owner (TRUE);
  g_autofree char *done = fh_proto_build_owner_done (FH_OWNER_OP_END_SESSION);
  g_autofree char *failed = fh_proto_build_owner_error (FH_OWNER_OP_REVOKE, "no paired device x");
  g_autofree char *pin = fh_proto_build_owner_pin ("012345");
  JsonObject *o, *e;
  JsonArray *list;

  o = parse_object (parser, state);
  g_assert_cmpstr (json_object_get_string_member (o, "type"), ==, "owner-state");
  list = json_object_get_array_member (o, "sessions");
  g_assert_cmpuint (json_array_get_length (list), ==, 2);
  e = json_array_get_object_element (list, 0);
  g_assert_cmpstr (json_object_get_string_member (e, "id"), ==, "s1");
  g_assert_cmpstr (json_object_get_string_member (e, "device_name"), ==, "Deck \"1\"");
  g_assert_cmpfloat (json_object_get_double_member (e, "fps"), ==, 59.94);
  g_assert_cmpfloat (json_object_get_double_member (e, "kbps"), ==, 812.5);
  g_assert_cmpint (json_object_get_int_member (json_object_get_object_member (e, "mode"), "width"),
                   ==, 1280);
  g_assert_cmpstr (json_object_get_string_member (e, "backend"), ==, "synthetic");
  g_assert_cmpstr (json_object_get_string_member (e, "plane"), ==, "web");
  g_assert_cmpstr (json_object_get_string_member (e, "state"), ==, "streaming");
  g_assert_cmpuint (json_array_get_length (json_object_get_array_member (e, "guests")), ==, 0);
  e = json_array_get_object_element (list, 1);
  g_assert_true (json_object_get_null_member (e, "device_name"));
  g_assert_cmpuint (json_array_get_length (json_object_get_array_member (e, "guests")), ==, 1);
  list = json_object_get_array_member (o, "devices");
  e = json_array_get_object_element (list, 0);
  g_assert_cmpstr (json_object_get_string_member (e, "level"), ==, "controller");
  g_assert_cmpstr (json_object_get_string_member (e, "until"), ==, "2026-12-24T17:00:00Z");
  g_assert_true (json_object_get_boolean_member (e, "owner"));
  e = json_array_get_object_element (list, 1);
  g_assert_true (json_object_get_null_member (e, "name"));
  g_assert_true (json_object_get_null_member (e, "until"));
  g_assert_false (json_object_get_boolean_member (e, "owner"));
  list = json_object_get_array_member (o, "requests");
  e = json_array_get_object_element (list, 0);
  g_assert_cmpstr (json_object_get_string_member (e, "kind"), ==, "join");
  g_assert_cmpstr (json_object_get_string_member (e, "from"), ==, "127.0.0.1");
  g_assert_cmpint (json_object_get_int_member (e, "timeout_s"), ==, 60);

  o = parse_object (parser, empty);
  g_assert_cmpuint (json_array_get_length (json_object_get_array_member (o, "sessions")), ==, 0);
  g_assert_cmpuint (json_array_get_length (json_object_get_array_member (o, "requests")), ==, 0);

  o = parse_object (parser, owner);
  g_assert_cmpstr (json_object_get_string_member (o, "type"), ==, "owner");
  g_assert_true (json_object_get_boolean_member (o, "owner"));
  o = parse_object (parser, done);
  g_assert_cmpstr (json_object_get_string_member (o, "type"), ==, "owner-done");
  g_assert_cmpstr (json_object_get_string_member (o, "op"), ==, "end-session");
  o = parse_object (parser, failed);
  g_assert_cmpstr (json_object_get_string_member (o, "type"), ==, "owner-error");
  g_assert_cmpstr (json_object_get_string_member (o, "op"), ==, "revoke");
  g_assert_cmpstr (json_object_get_string_member (o, "message"), ==, "no paired device x");
  o = parse_object (parser, pin);
  g_assert_cmpstr (json_object_get_string_member (o, "pin"), ==, "012345");
  g_assert_cmpstr (fh_proto_error_to_string (FH_PROTO_ERROR_ENDED), ==, "ended");
  g_assert_cmpuint (fh_proto_error_close_code (FH_PROTO_ERROR_ENDED), ==, 4012);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/protocol/hello/valid", test_hello_valid);
  g_test_add_func ("/protocol/hello/not-null-terminated", test_hello_not_null_terminated);
  g_test_add_func ("/protocol/hello/errors", test_hello_errors);
  g_test_add_func ("/protocol/hello/credential-too-long", test_hello_credential_too_long);
  g_test_add_func ("/protocol/text/errors", test_text_errors);
  g_test_add_func ("/protocol/text/small-messages", test_small_messages);
  g_test_add_func ("/protocol/input/key", test_input_key);
  g_test_add_func ("/protocol/input/key-errors", test_input_key_errors);
  g_test_add_func ("/protocol/input/pointer", test_input_pointer);
  g_test_add_func ("/protocol/input/errors", test_input_errors);
  g_test_add_func ("/protocol/input/round-trip", test_input_round_trip);
  g_test_add_func ("/protocol/video-header", test_video_header);
  g_test_add_func ("/protocol/hello/mic", test_hello_mic);
  g_test_add_func ("/protocol/hello/desktop", test_hello_desktop);
  g_test_add_func ("/protocol/mic-packet", test_mic_packet);
  g_test_add_func ("/protocol/audio-packet", test_audio_packet);
  g_test_add_func ("/protocol/ack", test_ack);
  g_test_add_func ("/protocol/ack-at-once", test_ack_at_once);
  g_test_add_func ("/protocol/clipboard", test_clipboard);
  g_test_add_func ("/protocol/pad", test_pad);
  g_test_add_func ("/protocol/pad-errors", test_pad_errors);
  g_test_add_func ("/protocol/pair-request", test_pair_request);
  g_test_add_func ("/protocol/builders", test_builders);
  g_test_add_func ("/protocol/console", test_console);
  g_test_add_func ("/protocol/moonlight-pin", test_moonlight_pin);
  g_test_add_func ("/protocol/moonlight-builders", test_moonlight_builders);
  g_test_add_func ("/protocol/apps-builder", test_apps_builder);
  g_test_add_func ("/protocol/guests", test_guests);
  g_test_add_func ("/protocol/owner", test_owner);
  g_test_add_func ("/protocol/owner-builders", test_owner_builders);
  return g_test_run ();
}
