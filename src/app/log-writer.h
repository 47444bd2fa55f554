/* The host's GLib log writer. Under systemd (stderr is the journal) every
 * session line ("session 1a2b3c4d: …") also carries the session's id
 * prefix as the journal field FUNKHAUS_SESSION, so that
 * `journalctl FUNKHAUS_SESSION=1a2b3c4d` shows one session's lines;
 * anywhere else it writes exactly as GLib's default writer does. */
#pragma once

#include <glib.h>

#define FH_LOG_SESSION_FIELD "FUNKHAUS_SESSION"

/* Whether @message is a session line: "session " and 8 hex digits, then
 * the end, a space or a colon. Copies the 8 digits and a NUL into @id. */
gboolean fh_log_session_of (const char *message, char id[9]);

/* Hands @fields to @sink, with FUNKHAUS_SESSION=<id> added when the
 * MESSAGE field is a session line. */
GLogWriterOutput fh_log_write_with_session (GLogLevelFlags level, const GLogField *fields,
                                            gsize n_fields, GLogWriterFunc sink,
                                            gpointer sink_data);

/* Makes fh_log_write_with_session, into GLib's default writer, the
 * process's writer when stderr is the journal. Call before anything logs. */
void fh_log_writer_install (void);
