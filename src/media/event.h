/* One input event as it travels from a client to a session's injector. */
#pragma once

#include <glib.h>

typedef enum {
  FH_INPUT_KEY,
  FH_INPUT_POINTER_MOTION,
  FH_INPUT_POINTER_BUTTON,
  FH_INPUT_SCROLL,
  FH_INPUT_POINTER_RELATIVE, /* Moonlight's relative mouse (games that grab the pointer) */
} FhInputEventType;

typedef struct {
  FhInputEventType type;
  union {
    struct {
      guint32 code; /* evdev KEY_*; 0 = a key this host does not know */
      gboolean pressed;
    } key;
    struct {
      guint32 x, y; /* absolute, in the session's output pixels */
    } motion;
    struct {
      guint32 button; /* evdev BTN_* */
      gboolean pressed;
    } button;
    struct {
      gint32 dx, dy; /* 120 = one wheel notch; positive = right, down */
    } scroll;
    struct {
      gint32 dx, dy; /* pixels; positive = right, down */
    } relative;
  };
} FhInputEvent;

const char *fh_input_event_type_to_string (FhInputEventType type);

/* One line of text describing @event ("key 30 KEY_A down"), for logs and
 * the synthetic backend's record. */
char *fh_input_event_to_string (const FhInputEvent *event);
