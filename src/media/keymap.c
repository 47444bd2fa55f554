/* KeyboardEvent.code → evdev. Codes follow the UI Events KeyboardEvent code
 * spec (https://www.w3.org/TR/uievents-code/); one row per physical key. */
#include "media/keymap.h"

#include <linux/input-event-codes.h>
#include <string.h>

typedef struct {
  const char *dom;
  guint32 evdev;
  const char *name;
} FhKeyRow;

#define K(dom, ev) { dom, ev, #ev }

static const FhKeyRow key_rows[] = {
  K ("Escape", KEY_ESC), K ("Digit1", KEY_1), K ("Digit2", KEY_2), K ("Digit3", KEY_3),
  K ("Digit4", KEY_4), K ("Digit5", KEY_5), K ("Digit6", KEY_6), K ("Digit7", KEY_7),
  K ("Digit8", KEY_8), K ("Digit9", KEY_9), K ("Digit0", KEY_0), K ("Minus", KEY_MINUS),
  K ("Equal", KEY_EQUAL), K ("Backspace", KEY_BACKSPACE), K ("Tab", KEY_TAB),
  K ("KeyQ", KEY_Q), K ("KeyW", KEY_W), K ("KeyE", KEY_E), K ("KeyR", KEY_R),
  K ("KeyT", KEY_T), K ("KeyY", KEY_Y), K ("KeyU", KEY_U), K ("KeyI", KEY_I),
  K ("KeyO", KEY_O), K ("KeyP", KEY_P), K ("BracketLeft", KEY_LEFTBRACE),
  K ("BracketRight", KEY_RIGHTBRACE), K ("Enter", KEY_ENTER), K ("ControlLeft", KEY_LEFTCTRL),
  K ("KeyA", KEY_A), K ("KeyS", KEY_S), K ("KeyD", KEY_D), K ("KeyF", KEY_F),
  K ("KeyG", KEY_G), K ("KeyH", KEY_H), K ("KeyJ", KEY_J), K ("KeyK", KEY_K),
  K ("KeyL", KEY_L), K ("Semicolon", KEY_SEMICOLON), K ("Quote", KEY_APOSTROPHE),
  K ("Backquote", KEY_GRAVE), K ("ShiftLeft", KEY_LEFTSHIFT), K ("Backslash", KEY_BACKSLASH),
  K ("KeyZ", KEY_Z), K ("KeyX", KEY_X), K ("KeyC", KEY_C), K ("KeyV", KEY_V),
  K ("KeyB", KEY_B), K ("KeyN", KEY_N), K ("KeyM", KEY_M), K ("Comma", KEY_COMMA),
  K ("Period", KEY_DOT), K ("Slash", KEY_SLASH), K ("ShiftRight", KEY_RIGHTSHIFT),
  K ("NumpadMultiply", KEY_KPASTERISK), K ("AltLeft", KEY_LEFTALT), K ("Space", KEY_SPACE),
  K ("CapsLock", KEY_CAPSLOCK), K ("F1", KEY_F1), K ("F2", KEY_F2), K ("F3", KEY_F3),
  K ("F4", KEY_F4), K ("F5", KEY_F5), K ("F6", KEY_F6), K ("F7", KEY_F7), K ("F8", KEY_F8),
  K ("F9", KEY_F9), K ("F10", KEY_F10), K ("NumLock", KEY_NUMLOCK),
  K ("ScrollLock", KEY_SCROLLLOCK), K ("Numpad7", KEY_KP7), K ("Numpad8", KEY_KP8),
  K ("Numpad9", KEY_KP9), K ("NumpadSubtract", KEY_KPMINUS), K ("Numpad4", KEY_KP4),
  K ("Numpad5", KEY_KP5), K ("Numpad6", KEY_KP6), K ("NumpadAdd", KEY_KPPLUS),
  K ("Numpad1", KEY_KP1), K ("Numpad2", KEY_KP2), K ("Numpad3", KEY_KP3),
  K ("Numpad0", KEY_KP0), K ("NumpadDecimal", KEY_KPDOT), K ("IntlBackslash", KEY_102ND),
  K ("F11", KEY_F11), K ("F12", KEY_F12), K ("IntlRo", KEY_RO), K ("Convert", KEY_HENKAN),
  K ("KanaMode", KEY_KATAKANAHIRAGANA), K ("NonConvert", KEY_MUHENKAN),
  K ("NumpadEnter", KEY_KPENTER), K ("ControlRight", KEY_RIGHTCTRL),
  K ("NumpadDivide", KEY_KPSLASH), K ("PrintScreen", KEY_SYSRQ), K ("AltRight", KEY_RIGHTALT),
  K ("Home", KEY_HOME), K ("ArrowUp", KEY_UP), K ("PageUp", KEY_PAGEUP),
  K ("ArrowLeft", KEY_LEFT), K ("ArrowRight", KEY_RIGHT), K ("End", KEY_END),
  K ("ArrowDown", KEY_DOWN), K ("PageDown", KEY_PAGEDOWN), K ("Insert", KEY_INSERT),
  K ("Delete", KEY_DELETE), K ("AudioVolumeMute", KEY_MUTE),
  K ("AudioVolumeDown", KEY_VOLUMEDOWN), K ("AudioVolumeUp", KEY_VOLUMEUP),
  K ("NumpadEqual", KEY_KPEQUAL), K ("Pause", KEY_PAUSE), K ("NumpadComma", KEY_KPCOMMA),
  K ("Lang1", KEY_HANGEUL), K ("Lang2", KEY_HANJA), K ("IntlYen", KEY_YEN),
  K ("MetaLeft", KEY_LEFTMETA), K ("MetaRight", KEY_RIGHTMETA), K ("ContextMenu", KEY_COMPOSE),
  K ("F13", KEY_F13), K ("F14", KEY_F14), K ("F15", KEY_F15), K ("F16", KEY_F16),
  K ("F17", KEY_F17), K ("F18", KEY_F18), K ("F19", KEY_F19), K ("F20", KEY_F20),
  K ("F21", KEY_F21), K ("F22", KEY_F22), K ("F23", KEY_F23), K ("F24", KEY_F24),
  K ("MediaPlayPause", KEY_PLAYPAUSE), K ("MediaStop", KEY_STOPCD),
  K ("MediaTrackNext", KEY_NEXTSONG), K ("MediaTrackPrevious", KEY_PREVIOUSSONG),
};

/* Buttons have no DOM code; they are here so logs can name them. */
static const FhKeyRow button_rows[] = {
  K (NULL, BTN_LEFT), K (NULL, BTN_RIGHT), K (NULL, BTN_MIDDLE),
  K (NULL, BTN_SIDE), K (NULL, BTN_EXTRA),
};

#undef K

guint32
fh_keymap_from_dom_code (const char *code, gsize len)
{
  for (gsize i = 0; i < G_N_ELEMENTS (key_rows); i++) {
    if (strlen (key_rows[i].dom) == len && memcmp (key_rows[i].dom, code, len) == 0)
      return key_rows[i].evdev;
  }
  return 0;
}

const char *
fh_keymap_evdev_name (guint32 evdev)
{
  for (gsize i = 0; i < G_N_ELEMENTS (key_rows); i++) {
    if (key_rows[i].evdev == evdev)
      return key_rows[i].name;
  }
  for (gsize i = 0; i < G_N_ELEMENTS (button_rows); i++) {
    if (button_rows[i].evdev == evdev)
      return button_rows[i].name;
  }
  return NULL;
}
