/* Names and one-line descriptions of input events. */
#include "media/event.h"

#include "media/keymap.h"

const char *
fh_input_event_type_to_string (FhInputEventType type)
{
  switch (type) {
  case FH_INPUT_KEY:
    return "key";
  case FH_INPUT_POINTER_MOTION:
    return "motion";
  case FH_INPUT_POINTER_BUTTON:
    return "button";
  case FH_INPUT_SCROLL:
    return "scroll";
  case FH_INPUT_POINTER_RELATIVE:
    return "relative";
  }
  return "unknown";
}

char *
fh_input_event_to_string (const FhInputEvent *event)
{
  const char *name;

  switch (event->type) {
  case FH_INPUT_KEY:
    name = fh_keymap_evdev_name (event->key.code);
    return g_strdup_printf ("key %u %s %s", event->key.code, name ? name : "KEY_UNKNOWN",
                            event->key.pressed ? "down" : "up");
  case FH_INPUT_POINTER_MOTION:
    return g_strdup_printf ("motion %u %u", event->motion.x, event->motion.y);
  case FH_INPUT_POINTER_BUTTON:
    name = fh_keymap_evdev_name (event->button.button);
    return g_strdup_printf ("button %u %s %s", event->button.button, name ? name : "BTN_UNKNOWN",
                            event->button.pressed ? "down" : "up");
  case FH_INPUT_SCROLL:
    return g_strdup_printf ("scroll %d %d", event->scroll.dx, event->scroll.dy);
  case FH_INPUT_POINTER_RELATIVE:
    return g_strdup_printf ("relative %d %d", event->relative.dx, event->relative.dy);
  }
  return g_strdup ("unknown");
}
