/* A gamepad's state as it travels from a client to a session's pad: the
 * planes translate their wire formats into this, the pads backend
 * (backends/pads.h) into evdev events. One layout for every pad: an
 * Xbox-style pad (the buttons of a standard-mapping browser pad and of
 * Moonlight's controller messages). */
#pragma once

#include <glib.h>

/* Pads a session takes by default (config session-pads). */
#define FH_PAD_DEFAULT_MAX 4
/* The most a session can be configured for, and the most pads a client may
 * announce: Moonlight numbers 16, a browser 4. */
#define FH_PAD_LIMIT 16

typedef enum {
  FH_PAD_KIND_XBOX360, /* evdev like the kernel's xpad driver: SDL's and Steam's mappings know it */
} FhPadKind;

typedef enum {
  FH_PAD_BUTTON_A = 1u << 0, /* south */
  FH_PAD_BUTTON_B = 1u << 1, /* east */
  FH_PAD_BUTTON_X = 1u << 2, /* west */
  FH_PAD_BUTTON_Y = 1u << 3, /* north */
  FH_PAD_BUTTON_LEFT_SHOULDER = 1u << 4,
  FH_PAD_BUTTON_RIGHT_SHOULDER = 1u << 5,
  FH_PAD_BUTTON_BACK = 1u << 6,
  FH_PAD_BUTTON_START = 1u << 7,
  FH_PAD_BUTTON_GUIDE = 1u << 8,
  FH_PAD_BUTTON_LEFT_STICK = 1u << 9,
  FH_PAD_BUTTON_RIGHT_STICK = 1u << 10,
  FH_PAD_BUTTON_DPAD_UP = 1u << 11,
  FH_PAD_BUTTON_DPAD_DOWN = 1u << 12,
  FH_PAD_BUTTON_DPAD_LEFT = 1u << 13,
  FH_PAD_BUTTON_DPAD_RIGHT = 1u << 14,
} FhPadButton;

#define FH_PAD_BUTTONS_ALL ((1u << 15) - 1)

typedef struct {
  guint32 buttons; /* FhPadButton bits */
  guint8 left_trigger, right_trigger; /* 0 = released, 255 = pulled */
  /* -32768…32767; positive = right and down (evdev's and SDL's sign: a
   * Moonlight or XInput Y is negated on the way in) */
  gint16 left_x, left_y, right_x, right_y;
} FhPadState;

/* Rumble, both motors 0…65535 (0, 0 = stop): what an app asked its pad
 * for, going back to the client. */
typedef struct {
  guint16 strong; /* the low-frequency, heavy motor (left) */
  guint16 weak;   /* the high-frequency, light motor (right) */
} FhPadRumble;

const char *fh_pad_kind_to_string (FhPadKind kind);
