/* Key names for --keys: see gs-keys.h. */
#include "gs-keys.h"

#include <linux/input-event-codes.h>

#include "planes/gamestream/protocol/control-stream.h"

#define K(code) { #code, code }

static const struct {
  const char *name;
  guint evdev;
} keys[] = {
  K (KEY_A), K (KEY_B), K (KEY_C), K (KEY_D), K (KEY_E), K (KEY_F), K (KEY_G), K (KEY_H),
  K (KEY_I), K (KEY_J), K (KEY_K), K (KEY_L), K (KEY_M), K (KEY_N), K (KEY_O), K (KEY_P),
  K (KEY_Q), K (KEY_R), K (KEY_S), K (KEY_T), K (KEY_U), K (KEY_V), K (KEY_W), K (KEY_X),
  K (KEY_Y), K (KEY_Z), K (KEY_0), K (KEY_1), K (KEY_2), K (KEY_3), K (KEY_4), K (KEY_5),
  K (KEY_6), K (KEY_7), K (KEY_8), K (KEY_9), K (KEY_SPACE), K (KEY_ENTER), K (KEY_TAB),
  K (KEY_ESC), K (KEY_BACKSPACE), K (KEY_LEFTSHIFT), K (KEY_LEFTCTRL), K (KEY_LEFTALT),
  K (KEY_LEFT), K (KEY_RIGHT), K (KEY_UP), K (KEY_DOWN), K (KEY_F1), K (KEY_F2), K (KEY_F12),
};

gboolean
gs_key_lookup (const char *name, GsKey *key)
{
  for (guint i = 0; i < G_N_ELEMENTS (keys); i++) {
    if (g_strcmp0 (keys[i].name, name) != 0)
      continue;
    /* The lowest VK the host maps to this key (e.g. VK_LSHIFT, not
     * VK_SHIFT, would be a choice; the table decides). */
    for (guint vk = 1; vk < 256; vk++) {
      if (fh_gs_vk_to_evdev ((guint16) vk) == keys[i].evdev) {
        key->name = keys[i].name;
        key->evdev = keys[i].evdev;
        key->vk = vk;
        return TRUE;
      }
    }
    return FALSE;
  }
  return FALSE;
}
