/* Unit tests of the KeyboardEvent.code → evdev table. */
#include <linux/input-event-codes.h>
#include <string.h>

#include "media/event.h"
#include "media/keymap.h"

#define CODE(s) fh_keymap_from_dom_code (s, strlen (s))

static void
test_known_codes (void)
{
  g_assert_cmpuint (CODE ("KeyA"), ==, KEY_A);
  g_assert_cmpuint (CODE ("KeyZ"), ==, KEY_Z);
  g_assert_cmpuint (CODE ("Digit0"), ==, KEY_0);
  g_assert_cmpuint (CODE ("Enter"), ==, KEY_ENTER);
  g_assert_cmpuint (CODE ("ShiftLeft"), ==, KEY_LEFTSHIFT);
  g_assert_cmpuint (CODE ("ArrowUp"), ==, KEY_UP);
  g_assert_cmpuint (CODE ("MetaLeft"), ==, KEY_LEFTMETA);
  g_assert_cmpuint (CODE ("Numpad5"), ==, KEY_KP5);
  g_assert_cmpuint (CODE ("F12"), ==, KEY_F12);
  g_assert_cmpuint (CODE ("Backquote"), ==, KEY_GRAVE);
  g_assert_cmpuint (CODE ("IntlBackslash"), ==, KEY_102ND);
}

static void
test_unknown_codes (void)
{
  g_assert_cmpuint (CODE (""), ==, 0);
  g_assert_cmpuint (CODE ("keya"), ==, 0); /* codes are case-sensitive */
  g_assert_cmpuint (CODE ("KeyAA"), ==, 0);
  g_assert_cmpuint (fh_keymap_from_dom_code ("KeyAB", 4), ==, KEY_A); /* length counts */
  g_assert_cmpuint (CODE ("Key"), ==, 0);
}

/* Every letter and digit, and every code maps to a distinct evdev code
 * that has a name. */
static void
test_table_complete (void)
{
  g_autoptr (GHashTable) seen = g_hash_table_new (NULL, NULL);
  char code[16];

  for (char c = 'A'; c <= 'Z'; c++) {
    guint32 ev;
    g_snprintf (code, sizeof code, "Key%c", c);
    ev = CODE (code);
    g_assert_cmpuint (ev, !=, 0);
    g_assert_false (g_hash_table_contains (seen, GUINT_TO_POINTER (ev)));
    g_hash_table_add (seen, GUINT_TO_POINTER (ev));
    g_assert_nonnull (fh_keymap_evdev_name (ev));
  }
  for (char c = '0'; c <= '9'; c++) {
    guint32 ev;
    g_snprintf (code, sizeof code, "Digit%c", c);
    ev = CODE (code);
    g_assert_cmpuint (ev, !=, 0);
    g_assert_false (g_hash_table_contains (seen, GUINT_TO_POINTER (ev)));
    g_hash_table_add (seen, GUINT_TO_POINTER (ev));
  }
  g_assert_cmpstr (fh_keymap_evdev_name (KEY_A), ==, "KEY_A");
  g_assert_cmpstr (fh_keymap_evdev_name (BTN_LEFT), ==, "BTN_LEFT");
  g_assert_null (fh_keymap_evdev_name (0xffff));
}

static void
test_event_strings (void)
{
  FhInputEvent key = { .type = FH_INPUT_KEY, .key = { KEY_H, TRUE } };
  FhInputEvent button = { .type = FH_INPUT_POINTER_BUTTON, .button = { BTN_LEFT, FALSE } };
  FhInputEvent motion = { .type = FH_INPUT_POINTER_MOTION, .motion = { 10, 20 } };
  FhInputEvent scroll = { .type = FH_INPUT_SCROLL, .scroll = { 0, -120 } };
  g_autofree char *k = fh_input_event_to_string (&key);
  g_autofree char *b = fh_input_event_to_string (&button);
  g_autofree char *m = fh_input_event_to_string (&motion);
  g_autofree char *s = fh_input_event_to_string (&scroll);

  g_assert_cmpstr (k, ==, "key 35 KEY_H down");
  g_assert_cmpstr (b, ==, "button 272 BTN_LEFT up");
  g_assert_cmpstr (m, ==, "motion 10 20");
  g_assert_cmpstr (s, ==, "scroll 0 -120");
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/keymap/known", test_known_codes);
  g_test_add_func ("/keymap/unknown", test_unknown_codes);
  g_test_add_func ("/keymap/table-complete", test_table_complete);
  g_test_add_func ("/keymap/event-strings", test_event_strings);
  return g_test_run ();
}
