/* A session's clipboard, text only, through wlr-data-control on the
 * session's own compositor (sway): what an app of the session copies comes
 * out through @changed, what a client sends becomes the session's
 * selection (sway hands it on to Xwayland's apps). Main thread; it never
 * blocks on the session's apps (their pipes are read and written on the
 * main loop, bounded in size and time). */
#pragma once

#include <gio/gio.h>

/* The most text it takes or gives, in bytes. */
#define FH_CLIPBOARD_MAX_TEXT 32768

typedef struct _FhClipboard FhClipboard;

/* An app of the session set the clipboard to @text (valid UTF-8, no NUL,
 * at most FH_CLIPBOARD_MAX_TEXT bytes; text this clipboard set itself is
 * not reported back). */
typedef void (*FhClipboardFunc) (const char *text, gsize len, gpointer user_data);

/* Connects to the compositor at @socket_path; fails when it cannot, or
 * when it has no wlr-data-control. */
FhClipboard *fh_clipboard_new (const char *socket_path, FhClipboardFunc changed,
                               gpointer user_data, GError **error);
void fh_clipboard_free (FhClipboard *clipboard);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (FhClipboard, fh_clipboard_free)

/* Makes @text (valid UTF-8, at most FH_CLIPBOARD_MAX_TEXT bytes) the
 * session's selection. */
void fh_clipboard_set_text (FhClipboard *clipboard, const char *text, gsize len);
