/* GameStream control stream messages ("encrypted control v2", control
 * protocol 13, the one Moonlight speaks to hosts reporting appversion
 * 7.1.431 and later): the plaintext message types, their parser, the NV
 * input packets inside the input message, their translation into
 * FhInputEvents, and builders for both directions. Pure code: no socket.
 *
 * Read from moonlight-common-c 874ac9548f1b (src/ControlStream.c
 * packetTypesGen7Enc and the receive thread, src/Input.h, src/InputStream.c,
 * src/Video.h, src/Limelight.h) and Sunshine 7a59212a7591 (src/stream.cpp
 * packetTypes and the control_*_t structs, src/input.cpp). Layouts are in
 * docs/gamestream.md, "Control stream". */
#pragma once

#include <glib.h>

#include "planes/gamestream/protocol/stream-crypto.h"
#include "media/event.h"
#include "media/pad.h"

/* Message types (the LE16 type inside the encrypted envelope). */

/* Client → host. */
#define FH_GS_CONTROL_TYPE_PERIODIC_PING 0x0200  /* every 100 ms (ControlStream.c lossStatsThreadFunc) */
#define FH_GS_CONTROL_TYPE_LOSS_STATS 0x0201     /* clients before 7.1.415 only */
#define FH_GS_CONTROL_TYPE_FRAME_STATS 0x0204    /* listed, never sent */
#define FH_GS_CONTROL_TYPE_INPUT 0x0206          /* one NV input packet (below) */
#define FH_GS_CONTROL_TYPE_INVALIDATE_REF_FRAMES 0x0301 /* RFI: first..last frame lost */
/* "Request IDR frame"; the encrypted protocol also sends it as Start A, once
 * after connecting (packetTypesGen7Enc[IDX_START_A]). */
#define FH_GS_CONTROL_TYPE_REQUEST_IDR_FRAME 0x0302
#define FH_GS_CONTROL_TYPE_START_A 0x0305        /* unencrypted Gen 7 only (Sunshine still maps it) */
#define FH_GS_CONTROL_TYPE_START_B 0x0307        /* once after Start A, payload { 0 } */
#define FH_GS_CONTROL_TYPE_LTR_FRAME_ACK 0x0350  /* Sunshine extension (Video.h SS_LTR_FRAME_ACK) */
#define FH_GS_CONTROL_TYPE_FRAME_FEC_STATUS 0x5502 /* Sunshine extension (Video.h SS_FRAME_FEC_STATUS); same number as SET_RGB_LED the other way */

/* Host → client. */
#define FH_GS_CONTROL_TYPE_TERMINATION_SHORT 0x0100 /* unencrypted Gen 7: LE16 reason */
#define FH_GS_CONTROL_TYPE_TERMINATION 0x0109    /* extended: BE32 HRESULT */
#define FH_GS_CONTROL_TYPE_RUMBLE 0x010b
#define FH_GS_CONTROL_TYPE_HDR_MODE 0x010e
#define FH_GS_CONTROL_TYPE_RUMBLE_TRIGGERS 0x5500 /* Sunshine extensions from here */
#define FH_GS_CONTROL_TYPE_SET_MOTION_EVENT 0x5501
#define FH_GS_CONTROL_TYPE_SET_RGB_LED 0x5502
#define FH_GS_CONTROL_TYPE_SET_ADAPTIVE_TRIGGERS 0x5503

/* Termination codes Moonlight recognises (ControlStream.c); graceful is what
 * Sunshine sends when the app ends (NVST_DISCONN_SERVER_TERMINATED_CLOSED). */
#define FH_GS_TERMINATION_GRACEFUL 0x80030023u
#define FH_GS_TERMINATION_PROTECTED_CONTENT 0x800e9302u
#define FH_GS_TERMINATION_FRAME_CONVERSION 0x800e9403u

/* ENet channels of the control connection (Limelight-internal.h); a client
 * asks for FH_GS_CONTROL_CHANNEL_COUNT. */
#define FH_GS_CONTROL_CHANNEL_GENERIC 0x00
#define FH_GS_CONTROL_CHANNEL_URGENT 0x01 /* IDR, RFI, LTR ACK */
#define FH_GS_CONTROL_CHANNEL_KEYBOARD 0x02
#define FH_GS_CONTROL_CHANNEL_MOUSE 0x03
#define FH_GS_CONTROL_CHANNEL_PEN 0x04
#define FH_GS_CONTROL_CHANNEL_TOUCH 0x05
#define FH_GS_CONTROL_CHANNEL_UTF8 0x06
#define FH_GS_CONTROL_CHANNEL_GAMEPAD_BASE 0x10 /* + controller number */
#define FH_GS_CONTROL_CHANNEL_SENSOR_BASE 0x20  /* + controller number */
#define FH_GS_CONTROL_CHANNEL_COUNT 0x30

typedef enum {
  FH_GS_CONTROL_ERROR_MALFORMED, /* too short, a bad length field, bad UTF-8 */
} FhGsControlError;

#define FH_GS_CONTROL_ERROR (fh_gs_control_error_quark ())
GQuark fh_gs_control_error_quark (void);

/* ---- NV input packets (the payload of FH_GS_CONTROL_TYPE_INPUT) ----
 * Header: BE32 size (the bytes after this field), LE32 magic. Magics are
 * those of Gen 5 and later hosts, which is what a client talking to an
 * encrypted-control host uses. */
#define FH_GS_INPUT_MAGIC_KEY_DOWN 0x00000003
#define FH_GS_INPUT_MAGIC_KEY_UP 0x00000004
#define FH_GS_INPUT_MAGIC_MOUSE_ABSOLUTE 0x00000005
#define FH_GS_INPUT_MAGIC_MOUSE_RELATIVE 0x00000007 /* MOUSE_MOVE_REL_MAGIC_GEN5 */
#define FH_GS_INPUT_MAGIC_MOUSE_BUTTON_DOWN 0x00000008
#define FH_GS_INPUT_MAGIC_MOUSE_BUTTON_UP 0x00000009
#define FH_GS_INPUT_MAGIC_SCROLL 0x0000000a /* SCROLL_MAGIC_GEN5 */
#define FH_GS_INPUT_MAGIC_MULTI_CONTROLLER 0x0000000c /* MULTI_CONTROLLER_MAGIC_GEN5 */
#define FH_GS_INPUT_MAGIC_ENABLE_HAPTICS 0x0000000d
#define FH_GS_INPUT_MAGIC_UTF8_TEXT 0x00000017
#define FH_GS_INPUT_MAGIC_HSCROLL 0x55000001 /* Sunshine extensions from here */
#define FH_GS_INPUT_MAGIC_TOUCH 0x55000002
#define FH_GS_INPUT_MAGIC_PEN 0x55000003
#define FH_GS_INPUT_MAGIC_CONTROLLER_ARRIVAL 0x55000004
#define FH_GS_INPUT_MAGIC_CONTROLLER_TOUCH 0x55000005
#define FH_GS_INPUT_MAGIC_CONTROLLER_MOTION 0x55000006
#define FH_GS_INPUT_MAGIC_CONTROLLER_BATTERY 0x55000007

#define FH_GS_INPUT_TEXT_MAX 32 /* UTF8_TEXT_EVENT_MAX_COUNT */

/* Mouse buttons as Moonlight numbers them (Limelight.h BUTTON_*). */
#define FH_GS_MOUSE_BUTTON_LEFT 1
#define FH_GS_MOUSE_BUTTON_MIDDLE 2
#define FH_GS_MOUSE_BUTTON_RIGHT 3
#define FH_GS_MOUSE_BUTTON_X1 4
#define FH_GS_MOUSE_BUTTON_X2 5

/* Keyboard modifier bits (Limelight.h MODIFIER_*): informational; Moonlight
 * also sends the modifier keys themselves. */
#define FH_GS_MODIFIER_SHIFT 0x01
#define FH_GS_MODIFIER_CTRL 0x02
#define FH_GS_MODIFIER_ALT 0x04
#define FH_GS_MODIFIER_META 0x08

typedef enum {
  FH_GS_INPUT_UNKNOWN, /* a magic this parser does not know: not an error */
  FH_GS_INPUT_KEY,
  FH_GS_INPUT_MOUSE_RELATIVE,
  FH_GS_INPUT_MOUSE_ABSOLUTE,
  FH_GS_INPUT_MOUSE_BUTTON,
  FH_GS_INPUT_SCROLL,  /* vertical, Windows sign: positive = away from the user (up) */
  FH_GS_INPUT_HSCROLL, /* positive = right */
  FH_GS_INPUT_TEXT,
  FH_GS_INPUT_MULTI_CONTROLLER,
  FH_GS_INPUT_ENABLE_HAPTICS,
  FH_GS_INPUT_TOUCH,
  FH_GS_INPUT_PEN,
  FH_GS_INPUT_CONTROLLER_ARRIVAL,
  FH_GS_INPUT_CONTROLLER_TOUCH,
  FH_GS_INPUT_CONTROLLER_MOTION,
  FH_GS_INPUT_CONTROLLER_BATTERY,
} FhGsInputKind;

const char *fh_gs_input_kind_to_string (FhGsInputKind kind);

typedef struct {
  FhGsInputKind kind;
  guint32 magic;
  union {
    struct {
      gboolean pressed;
      guint16 key_code; /* Windows virtual-key code in the low byte */
      guint8 modifiers; /* FH_GS_MODIFIER_* */
      guint8 flags;     /* Sunshine: SS_KBE_FLAG_NON_NORMALIZED 0x01 */
    } key;
    struct {
      gint16 dx, dy;
    } relative;
    struct {
      gint16 x, y;
      /* As sent: the client's reference size minus one (InputStream.c). */
      gint16 width, height;
    } absolute;
    struct {
      gboolean pressed;
      guint8 button; /* FH_GS_MOUSE_BUTTON_* */
    } button;
    struct {
      gint16 amount; /* 120 = one notch */
    } scroll;
    struct {
      char text[FH_GS_INPUT_TEXT_MAX + 1]; /* NUL-terminated, valid UTF-8 */
      guint len;
    } text;
    struct {
      gint16 controller_number;
      guint16 active_gamepad_mask;
      guint32 button_flags; /* buttonFlags | buttonFlags2 << 16 */
      guint8 left_trigger, right_trigger;
      gint16 left_stick_x, left_stick_y, right_stick_x, right_stick_y;
    } controller;
    struct {
      gboolean enable;
    } haptics;
    struct {
      guint8 event_type;
      guint16 rotation;
      guint32 pointer_id;
      float x, y, pressure_or_distance, contact_major, contact_minor; /* 0..1 */
    } touch;
    struct {
      guint8 event_type, tool_type, buttons, tilt;
      guint16 rotation;
      float x, y, pressure_or_distance, contact_major, contact_minor;
    } pen;
    struct {
      guint8 controller_number, type;
      guint16 capabilities;
      guint32 supported_button_flags;
    } arrival;
    struct {
      guint8 controller_number, event_type, touchpad_index;
      guint32 pointer_id;
      float x, y, pressure;
    } controller_touch;
    struct {
      guint8 controller_number, motion_type;
      float x, y, z;
    } motion;
    struct {
      guint8 controller_number, state, percentage;
    } battery;
  };
} FhGsInput;

/* Parses one NV input packet. An unknown magic gives FH_GS_INPUT_UNKNOWN
 * and TRUE; a packet shorter than its header or its kind, or a size field
 * that overruns @len, gives FALSE and FH_GS_CONTROL_ERROR_MALFORMED. */
gboolean fh_gs_input_parse (const guint8 *data, gsize len, FhGsInput *out, GError **error);

/* The host's events for @in on an output of @out_width × @out_height
 * pixels: at most @max written to @events; returns how many. Keys, mouse
 * motion (absolute scaled from the client's reference size), buttons and
 * both scroll axes translate; text becomes key taps as on a US layout
 * (ASCII only: the session's keyboard layout must be "us" for it to come
 * out right; up to 4 events a character); controllers, haptics, touch and
 * pen return 0: this host has no injector for them. */
guint fh_gs_input_to_events (const FhGsInput *in, guint out_width, guint out_height,
                             FhInputEvent *events, guint max);

/* Moonlight's controller buttons (Limelight.h *_FLAG; the second word,
 * Sunshine's buttonFlags2, shifted up by 16). */
#define FH_GS_PAD_UP 0x0001
#define FH_GS_PAD_DOWN 0x0002
#define FH_GS_PAD_LEFT 0x0004
#define FH_GS_PAD_RIGHT 0x0008
#define FH_GS_PAD_PLAY 0x0010
#define FH_GS_PAD_BACK 0x0020
#define FH_GS_PAD_LS_CLK 0x0040
#define FH_GS_PAD_RS_CLK 0x0080
#define FH_GS_PAD_LB 0x0100
#define FH_GS_PAD_RB 0x0200
#define FH_GS_PAD_SPECIAL 0x0400
#define FH_GS_PAD_A 0x1000
#define FH_GS_PAD_B 0x2000
#define FH_GS_PAD_X 0x4000
#define FH_GS_PAD_Y 0x8000

/* The pad state a multi-controller message carries, as an Xbox-style
 * pad: sticks' Y negated to evdev's sign (Moonlight's, like XInput's, is
 * positive up); paddles, touchpad and misc buttons dropped (the pad has
 * none). */
void fh_gs_input_to_pad (const FhGsInput *in, FhPadState *state);

/* Windows virtual-key code → evdev KEY_* (US layout for the OEM keys), 0
 * when the table has none. Only the low byte counts, as in Sunshine. */
guint32 fh_gs_vk_to_evdev (guint16 vk);

/* ---- Control messages ---- */

typedef enum {
  FH_GS_CONTROL_MSG_UNKNOWN, /* a type this parser does not know: not an error */
  FH_GS_CONTROL_MSG_PERIODIC_PING,
  FH_GS_CONTROL_MSG_LOSS_STATS,
  FH_GS_CONTROL_MSG_FRAME_STATS,
  FH_GS_CONTROL_MSG_INPUT,
  FH_GS_CONTROL_MSG_INVALIDATE_REF_FRAMES,
  FH_GS_CONTROL_MSG_REQUEST_IDR_FRAME,
  FH_GS_CONTROL_MSG_START_A,
  FH_GS_CONTROL_MSG_START_B,
  FH_GS_CONTROL_MSG_LTR_FRAME_ACK,
  FH_GS_CONTROL_MSG_FRAME_FEC_STATUS,
  FH_GS_CONTROL_MSG_TERMINATION,
  FH_GS_CONTROL_MSG_RUMBLE,
  FH_GS_CONTROL_MSG_HDR_MODE,
  FH_GS_CONTROL_MSG_RUMBLE_TRIGGERS,
  FH_GS_CONTROL_MSG_SET_MOTION_EVENT,
  FH_GS_CONTROL_MSG_SET_RGB_LED,
  FH_GS_CONTROL_MSG_SET_ADAPTIVE_TRIGGERS,
} FhGsControlMessageKind;

const char *fh_gs_control_message_kind_to_string (FhGsControlMessageKind kind);

#define FH_GS_DS_EFFECT_PAYLOAD_SIZE 10

typedef struct {
  FhGsControlMessageKind kind;
  guint16 type;
  union {
    FhGsInput input;
    struct {
      guint64 first_frame, last_frame;
    } rfi;
    struct {
      guint32 loss_count, interval_ms;
      guint64 last_good_frame;
    } loss_stats;
    struct {
      guint32 frame_index;
    } ltr_ack;
    struct {
      guint32 frame_index;
      guint16 highest_received_sequence, next_contiguous_sequence, missing_before_highest;
      guint16 total_data, total_parity, received_data, received_parity;
      guint8 fec_percentage, block_index, block_count;
    } fec_status;
    struct {
      guint32 code;      /* the HRESULT, or the short reason */
      gboolean extended; /* 4-byte big-endian form */
    } termination;
    struct {
      guint16 controller, low_freq, high_freq;
    } rumble;
    struct {
      guint16 controller, left, right;
    } rumble_triggers;
    struct {
      guint16 controller, report_rate_hz;
      guint8 motion_type;
    } motion_event;
    struct {
      guint16 controller;
      guint8 r, g, b;
    } rgb_led;
    struct {
      guint16 controller;
      guint8 event_flags, type_left, type_right;
      guint8 left[FH_GS_DS_EFFECT_PAYLOAD_SIZE], right[FH_GS_DS_EFFECT_PAYLOAD_SIZE];
    } adaptive_triggers;
    struct {
      gboolean enabled;
      gboolean has_metadata; /* Sunshine appends SS_HDR_METADATA */
      guint16 primaries[3][2], white_point[2];
      guint16 max_display_luminance, min_display_luminance;
      guint16 max_content_light_level, max_frame_average_light_level, max_full_frame_luminance;
    } hdr;
  };
} FhGsControlMessage;

/* Parses the plaintext of one control message (as fh_gs_control_decrypt
 * returns it). @origin says who sent it: the two directions share a type
 * number (0x5502). Unknown types give FH_GS_CONTROL_MSG_UNKNOWN and TRUE;
 * a payload too short for its type (or a malformed input packet) gives
 * FALSE. Extra trailing bytes are tolerated, as Moonlight and Sunshine do. */
gboolean fh_gs_control_parse (FhGsControlOrigin origin, guint16 type, const guint8 *payload,
                              gsize len, FhGsControlMessage *out, GError **error);

/* ---- Builders: plaintext payloads; encrypt with fh_gs_control_encrypt ---- */

/* Client → host: payloads of FH_GS_CONTROL_TYPE_INPUT, as InputStream.c
 * writes them. @ref_width/@ref_height are the client's reference size
 * (written minus one, as Moonlight does). */
GBytes *fh_gs_input_build_key (guint16 vk, gboolean pressed, guint8 modifiers);
GBytes *fh_gs_input_build_mouse_absolute (gint16 x, gint16 y, guint16 ref_width, guint16 ref_height);
GBytes *fh_gs_input_build_mouse_relative (gint16 dx, gint16 dy);
GBytes *fh_gs_input_build_mouse_button (guint8 button, gboolean pressed);
GBytes *fh_gs_input_build_scroll (gint16 amount);
GBytes *fh_gs_input_build_hscroll (gint16 amount);
GBytes *fh_gs_input_build_text (const char *utf8, gsize len); /* len ≤ FH_GS_INPUT_TEXT_MAX */
/* @in's controller fields (and its kind's magic) as Moonlight sends them. */
GBytes *fh_gs_input_build_multi_controller (const FhGsInput *in);
GBytes *fh_gs_input_build_controller_arrival (guint8 controller, guint8 type, guint16 capabilities,
                                              guint32 supported_buttons);

/* Client → host: FH_GS_CONTROL_TYPE_REQUEST_IDR_FRAME, _INVALIDATE_REF_FRAMES,
 * _PERIODIC_PING. */
GBytes *fh_gs_control_build_request_idr (void);
GBytes *fh_gs_control_build_invalidate_ref_frames (guint32 first_frame, guint32 last_frame);
GBytes *fh_gs_control_build_periodic_ping (void);

/* Host → client: FH_GS_CONTROL_TYPE_TERMINATION and _RUMBLE. */
GBytes *fh_gs_control_build_termination (guint32 code);
GBytes *fh_gs_control_build_rumble (guint16 controller, guint16 low_freq, guint16 high_freq);
