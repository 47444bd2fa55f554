/* The host's log writer (src/app/log-writer.c): which lines are session
 * lines, and the FUNKHAUS_SESSION field they get on the way to the
 * journal. */
#include <string.h>

#include "app/log-writer.h"

static void
test_session_of (void)
{
  static const struct {
    const char *message;
    const char *id; /* NULL: not a session line */
  } cases[] = {
    { "session 1a2b3c4d: starting → streaming", "1a2b3c4d" },
    { "session 0215D8CE: new for device x at 64x64@30, 500 kb/s", "0215D8CE" },
    /* session.c's "session %.8s failed: …" */
    { "session deadbeef failed: the compositor went away", "deadbeef" },
    { "session 12345678", "12345678" },
    /* Not 8 hex digits, or more than 8, or not at the start. */
    { "session 1a2b3c4: short", NULL },
    { "session 1a2b3c4g: not hex", NULL },
    { "session 1a2b3c4d5: nine digits", NULL },
    { "session 1a2b3c4d-x", NULL },
    { "  session 1a2b3c4d: indented", NULL },
    { "Session 1a2b3c4d: capital", NULL },
    { "device 1a2b3c4d revoked; 1 session(s) ended", NULL },
    { "session", NULL },
    { "", NULL },
    { NULL, NULL },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++) {
    char id[9] = "unset";
    gboolean found = fh_log_session_of (cases[i].message, id);

    g_test_message ("'%s'", cases[i].message ? cases[i].message : "(null)");
    g_assert_cmpint (found, ==, cases[i].id != NULL);
    if (cases[i].id)
      g_assert_cmpstr (id, ==, cases[i].id);
    else
      g_assert_cmpstr (id, ==, "unset");
  }
}

/* What reached the sink, as KEY=value lines. */
typedef struct {
  GString *text;
  guint calls;
  GLogLevelFlags level;
} Sink;

static GLogWriterOutput
sink (GLogLevelFlags level, const GLogField *fields, gsize n_fields, gpointer data)
{
  Sink *s = data;

  s->calls++;
  s->level = level;
  for (gsize i = 0; i < n_fields; i++) {
    int length = fields[i].length < 0 ? (int) strlen (fields[i].value) : (int) fields[i].length;
    g_string_append_printf (s->text, "%s=%.*s\n", fields[i].key, length,
                            (const char *) fields[i].value);
  }
  return G_LOG_WRITER_HANDLED;
}

/* Writes @fields through the writer into a fresh sink: what arrived. */
static char *
write_through (GLogLevelFlags level, const GLogField *fields, gsize n_fields)
{
  Sink s = { g_string_new (NULL) };

  g_assert_cmpint (fh_log_write_with_session (level, fields, n_fields, sink, &s), ==,
                   G_LOG_WRITER_HANDLED);
  g_assert_cmpuint (s.calls, ==, 1);
  g_assert_cmpint (s.level, ==, level);
  return g_string_free (s.text, FALSE);
}

static void
test_field_added (void)
{
  const GLogField fields[] = {
    { "PRIORITY", "5", -1 },
    { "CODE_FILE", "../src/core/session.c", -1 },
    { "MESSAGE", "session 0215d8ce: starting → streaming", -1 },
  };
  g_autofree char *out = write_through (G_LOG_LEVEL_MESSAGE, fields, G_N_ELEMENTS (fields));

  /* Every field as it came, then the session's. */
  g_assert_cmpstr (out, ==,
                   "PRIORITY=5\n"
                   "CODE_FILE=../src/core/session.c\n"
                   "MESSAGE=session 0215d8ce: starting → streaming\n"
                   "FUNKHAUS_SESSION=0215d8ce\n");
}

static void
test_other_lines_untouched (void)
{
  const GLogField other[] = {
    { "MESSAGE", "stopping (signal)", -1 },
    { "PRIORITY", "4", -1 },
  };
  const GLogField no_message[] = {
    { "PRIORITY", "4", -1 },
  };
  /* A MESSAGE with a length need not end in a NUL: left alone. */
  const GLogField sized[] = {
    { "MESSAGE", "session 0215d8ce: x and more", 19 },
  };
  GLogField many[40];
  g_autofree char *out_other = NULL, *out_none = NULL, *out_sized = NULL, *out_many = NULL;

  out_other = write_through (G_LOG_LEVEL_WARNING, other, G_N_ELEMENTS (other));
  g_assert_cmpstr (out_other, ==, "MESSAGE=stopping (signal)\nPRIORITY=4\n");
  out_none = write_through (G_LOG_LEVEL_WARNING, no_message, G_N_ELEMENTS (no_message));
  g_assert_cmpstr (out_none, ==, "PRIORITY=4\n");
  out_sized = write_through (G_LOG_LEVEL_MESSAGE, sized, G_N_ELEMENTS (sized));
  g_assert_cmpstr (out_sized, ==, "MESSAGE=session 0215d8ce: x\n");

  /* More fields than the writer has room to add to: passed on as they are. */
  for (guint i = 0; i < G_N_ELEMENTS (many); i++)
    many[i] = (GLogField) { "X", "1", -1 };
  many[0] = (GLogField) { "MESSAGE", "session 0215d8ce: x", -1 };
  out_many = write_through (G_LOG_LEVEL_MESSAGE, many, G_N_ELEMENTS (many));
  g_assert_null (strstr (out_many, "FUNKHAUS_SESSION"));
  g_assert_true (g_str_has_prefix (out_many, "MESSAGE=session 0215d8ce: x\nX=1\n"));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/log-writer/session-of", test_session_of);
  g_test_add_func ("/log-writer/field-added", test_field_added);
  g_test_add_func ("/log-writer/other-lines-untouched", test_other_lines_untouched);
  return g_test_run ();
}
