/* wlr-screencopy client: captures one output of a wlroots compositor into
 * shared memory, damage-driven, and converts it into the encoder's input.
 * Used by one thread only (the session's capture thread). */
#pragma once

#include <gio/gio.h>

#include "media/frame.h"

typedef struct _FhScreencopy FhScreencopy;

/* Connects to the compositor at @socket_path (absolute) and captures its
 * output called @output_name (HEADLESS-2, say), or its first one when NULL.
 * @refresh_hz: the rate of the captures, by which it decides whether to
 * ask for each copy ahead (see screencopy.c); 0: never. */
FhScreencopy *fh_screencopy_new (const char *socket_path, const char *output_name,
                                 guint refresh_hz, GError **error);
void fh_screencopy_free (FhScreencopy *screencopy);

/* Waits until @deadline_us (g_get_monotonic_time) for a picture that
 * differs from the last one and writes it into @frame. Returns FALSE
 * without an error when nothing changed by then; the request stays
 * pending, so an unchanged desktop costs nothing. @timestamp_us: when the
 * compositor finished the picture. */
gboolean fh_screencopy_capture (FhScreencopy *screencopy, FhFrame *frame, gint64 deadline_us,
                                gint64 *timestamp_us, GError **error);

/* Whether to ask for each copy ahead (right after the last picture was
 * converted) rather than at the capture's tick, given @ahead (what it does
 * now) and its averages: the compositor's wait from a copy asked for to
 * the picture, and the conversion. Ahead once the two take more than 70 %
 * of the period; back once they take less than 40 %, since a copy asked
 * for ahead waits less than one asked for at the tick. Never without a
 * period. */
gboolean fh_screencopy_decide_ahead (gboolean ahead, gint64 wait_avg_us, gint64 convert_avg_us,
                                     gint64 period_us);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (FhScreencopy, fh_screencopy_free)
