/* The host's log writer: session lines get a FUNKHAUS_SESSION field in the
 * journal (see log-writer.h). */
#include "app/log-writer.h"

#include <stdio.h>
#include <string.h>

/* GLib sends a handful of fields (MESSAGE, PRIORITY, CODE_*, GLIB_DOMAIN);
 * a line with more than this is passed on untouched. */
#define MAX_FIELDS 32

gboolean
fh_log_session_of (const char *message, char id[9])
{
  static const char prefix[] = "session ";
  const char *digits;

  if (!message || strncmp (message, prefix, sizeof prefix - 1) != 0)
    return FALSE;
  digits = message + sizeof prefix - 1;
  for (guint i = 0; i < 8; i++) {
    if (!g_ascii_isxdigit (digits[i]))
      return FALSE;
  }
  if (digits[8] != '\0' && digits[8] != ':' && digits[8] != ' ')
    return FALSE;
  memcpy (id, digits, 8);
  id[8] = '\0';
  return TRUE;
}

GLogWriterOutput
fh_log_write_with_session (GLogLevelFlags level, const GLogField *fields, gsize n_fields,
                           GLogWriterFunc sink, gpointer sink_data)
{
  GLogField more[MAX_FIELDS + 1];
  char id[9];
  const char *message = NULL;

  for (gsize i = 0; i < n_fields; i++) {
    /* MESSAGE is always a string (length -1 or its length). */
    if (g_strcmp0 (fields[i].key, "MESSAGE") == 0 && fields[i].length < 0)
      message = fields[i].value;
  }
  if (n_fields > MAX_FIELDS || !fh_log_session_of (message, id))
    return sink (level, fields, n_fields, sink_data);
  memcpy (more, fields, n_fields * sizeof *fields);
  more[n_fields] = (GLogField) { FH_LOG_SESSION_FIELD, id, -1 };
  return sink (level, more, n_fields + 1, sink_data);
}

/* Into g_log_writer_default, not straight into g_log_writer_journald: the
 * default writer also drops debug lines unless G_MESSAGES_DEBUG asks for
 * them and aborts on fatal ones, and when stderr is the journal it sends
 * every field it is given there, ours included. */
static GLogWriterOutput
journal_writer (GLogLevelFlags level, const GLogField *fields, gsize n_fields, gpointer data)
{
  return fh_log_write_with_session (level, fields, n_fields, g_log_writer_default, NULL);
}

void
fh_log_writer_install (void)
{
  /* Elsewhere the default writer stays: a terminal, a test's pipe. */
  if (g_log_writer_is_journald (fileno (stderr)))
    g_log_set_writer_func (journal_writer, NULL, NULL);
}
