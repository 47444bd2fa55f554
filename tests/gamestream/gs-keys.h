/* Key names for the test client's --keys: evdev names (as the host's
 * input log prints them) and the Windows virtual-key code Moonlight sends
 * for each, found through the host's own VK → evdev table. */
#pragma once

#include <glib.h>

typedef struct {
  const char *name; /* "KEY_A" */
  guint evdev;      /* KEY_A = 30 */
  guint vk;         /* 'A' = 0x41 */
} GsKey;

/* FALSE when @name is not in the table or no VK maps to it. */
gboolean gs_key_lookup (const char *name, GsKey *key);
