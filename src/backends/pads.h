/* A session's gamepads: virtual pads that exist for the session's apps
 * only. Two ways to make them:
 *
 * - uinput: where the kernel has /dev/uinput, a kernel input device per
 *   pad; its node is shown in the session's own /dev/input (the sandbox
 *   binds the seat's folder there) and closed to every other account;
 * - user: without kernel support, a unix socket per pad in the seat's
 *   folder, named like an evdev node (event0…), that the session's apps
 *   open through a preloaded shim (src/backends/pad-shim/) which answers evdev's
 *   ioctls; SDL finds, opens and loses them like kernel pads (inotify on
 *   /dev/input).
 *
 * Both need the session's sandbox: the seat's folder is the session's
 * /dev/input. Main thread only. */
#pragma once

#include <gio/gio.h>
#include <sys/types.h>

#include "media/pad.h"

typedef enum {
  FH_PAD_METHOD_OFF,
  FH_PAD_METHOD_UINPUT,
  FH_PAD_METHOD_USER,
} FhPadMethod;

const char *fh_pad_method_to_string (FhPadMethod method);

/* The method a host that asks for @wanted ("auto", "uinput", "user",
 * "off") gets on this box, with @why for the start banner ("no
 * /dev/uinput: user-space pads through the preloaded shim", say). FALSE
 * with @error when @wanted cannot be had (uinput asked for, none here). */
gboolean fh_pads_choose (const char *wanted, FhPadMethod *method, char **why, GError **error);

typedef struct _FhPadSeat FhPadSeat;
typedef struct _FhPad FhPad;

/* Called on the main thread when an app of the session sets its pad's
 * rumble. */
typedef void (*FhPadRumbleFunc) (FhPad *pad, const FhPadRumble *rumble, gpointer user_data);

/* A session's pads, at most @max at a time, their nodes in @dir (made,
 * owned by @uid:@gid, mode 0755: the session's /dev/input). */
FhPadSeat *fh_pad_seat_new (FhPadMethod method, const char *dir, uid_t uid, gid_t gid,
                            guint max, GError **error);
/* Removes every pad (the session's apps see them go) and the folder. */
void fh_pad_seat_free (FhPadSeat *seat);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (FhPadSeat, fh_pad_seat_free)

guint fh_pad_seat_get_max (FhPadSeat *seat);
guint fh_pad_seat_count (FhPadSeat *seat);

/* Plugs a new pad in: the session's apps see it arrive. NULL with
 * G_IO_ERROR_NO_SPACE when @max pads are in already. */
FhPad *fh_pad_seat_add (FhPadSeat *seat, FhPadKind kind, FhPadRumbleFunc rumble,
                        gpointer user_data, GError **error);
/* The pad's new state: what changed goes to the apps as one report. */
void fh_pad_update (FhPad *pad, const FhPadState *state);
/* Unplugs it: the apps see it go, also those that keep it open (their
 * reads fail with ENODEV as on a kernel pad that was pulled). */
void fh_pad_remove (FhPad *pad);
/* Its number in the seat (eventN), for logs. */
guint fh_pad_get_index (FhPad *pad);
