/* Browser KeyboardEvent.code values to evdev key codes: the one table. */
#pragma once

#include <glib.h>

/* The evdev KEY_* code for @code (length @len, not NUL-terminated), or 0
 * when the table does not have it. */
guint32 fh_keymap_from_dom_code (const char *code, gsize len);

/* "KEY_A" for KEY_A; "BTN_LEFT" for BTN_LEFT; NULL when unknown. */
const char *fh_keymap_evdev_name (guint32 evdev);
