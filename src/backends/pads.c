/* A session's gamepads (pads.h): user-space pads (a unix socket per pad
 * that the preloaded shim turns into an evdev device, wire in
 * pad-wire.h), or kernel pads through /dev/uinput.
 *
 * Both look like the kernel's xpad driver with an Xbox 360 pad, so that
 * SDL's and Steam's mappings for 030000005e0400008e02000010010000 apply. */
#include "backends/pads.h"

#include <errno.h>
#include <fcntl.h>
#include <glib-unix.h>
#include <glib/gstdio.h>
#include <linux/uinput.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <unistd.h>

#include "backends/pad-wire.h"

#define FH_PAD_NAME "Microsoft X-Box 360 pad"

typedef struct {
  FhPad *pad;
  int fd;
  GSource *source;
  /* Its uploaded effects (user pads: per connection, as the kernel keeps
   * them per open file). */
  struct {
    gboolean used;
    FhPadRumble rumble;
    guint length_ms;
  } effects[FH_PAD_WIRE_EFFECTS];
} FhPadHandle;

struct _FhPad {
  FhPadSeat *seat;
  guint index;
  FhPadKind kind;
  FhPadRumbleFunc rumble;
  gpointer user_data;
  FhPadState state;
  char *path; /* eventN in the seat's folder */

  /* user */
  int listen_fd;
  GSource *listen_source;
  GPtrArray *handles; /* FhPadHandle */

  /* uinput (never run: no /dev/uinput where this was written) */
  int uinput_fd;
  GSource *uinput_source;
  struct {
    gboolean used;
    FhPadRumble rumble;
  } effects[FH_PAD_WIRE_EFFECTS];

  /* What plays now, who played it (NULL handle: uinput), the gain. */
  FhPadHandle *playing_handle;
  int playing_id; /* -1: nothing */
  guint16 gain;
  guint stop_timer;
};

struct _FhPadSeat {
  FhPadMethod method;
  char *dir;
  uid_t uid;
  gid_t gid;
  guint max;
  FhPad *pads[FH_PAD_LIMIT];
};

static const struct {
  FhPadButton button;
  guint16 key;
} button_keys[] = {
  { FH_PAD_BUTTON_A, BTN_A },
  { FH_PAD_BUTTON_B, BTN_B },
  { FH_PAD_BUTTON_X, BTN_X },
  { FH_PAD_BUTTON_Y, BTN_Y },
  { FH_PAD_BUTTON_LEFT_SHOULDER, BTN_TL },
  { FH_PAD_BUTTON_RIGHT_SHOULDER, BTN_TR },
  { FH_PAD_BUTTON_BACK, BTN_SELECT },
  { FH_PAD_BUTTON_START, BTN_START },
  { FH_PAD_BUTTON_GUIDE, BTN_MODE },
  { FH_PAD_BUTTON_LEFT_STICK, BTN_THUMBL },
  { FH_PAD_BUTTON_RIGHT_STICK, BTN_THUMBR },
};

/* xpad_set_up_abs() for an Xbox 360 pad. */
static const struct {
  guint16 code;
  gint32 min, max, fuzz, flat;
} pad_axes[] = {
  { ABS_X, -32768, 32767, 16, 128 },
  { ABS_Y, -32768, 32767, 16, 128 },
  { ABS_Z, 0, 255, 0, 0 },
  { ABS_RX, -32768, 32767, 16, 128 },
  { ABS_RY, -32768, 32767, 16, 128 },
  { ABS_RZ, 0, 255, 0, 0 },
  { ABS_HAT0X, -1, 1, 0, 0 },
  { ABS_HAT0Y, -1, 1, 0, 0 },
};

const char *
fh_pad_method_to_string (FhPadMethod method)
{
  switch (method) {
  case FH_PAD_METHOD_OFF:
    return "off";
  case FH_PAD_METHOD_UINPUT:
    return "uinput";
  case FH_PAD_METHOD_USER:
    return "user";
  }
  return "unknown";
}

gboolean
fh_pads_choose (const char *wanted, FhPadMethod *method, char **why, GError **error)
{
  g_autofree char *uinput_why = NULL;
  gboolean uinput = FALSE;
  int fd;

  if (wanted == NULL || g_str_equal (wanted, ""))
    wanted = "auto";
  if (g_str_equal (wanted, "off")) {
    *method = FH_PAD_METHOD_OFF;
    *why = g_strdup ("off (config pads=off)");
    return TRUE;
  }
  if (g_str_equal (wanted, "user")) {
    *method = FH_PAD_METHOD_USER;
    *why = g_strdup ("user-space (config pads=user): sockets and the preloaded shim");
    return TRUE;
  }
  if (!g_str_equal (wanted, "auto") && !g_str_equal (wanted, "uinput")) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                 "pads=%s: choose auto, uinput, user or off", wanted);
    return FALSE;
  }

  fd = open ("/dev/uinput", O_WRONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd >= 0) {
    uinput = TRUE;
    close (fd);
  } else {
    uinput_why = g_strdup_printf ("no kernel pads: /dev/uinput: %s", g_strerror (errno));
  }

  if (g_str_equal (wanted, "uinput")) {
    if (!uinput) {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
                   "pads=uinput, but %s: load the uinput module (modprobe uinput) or choose "
                   "pads=user", uinput_why);
      return FALSE;
    }
    *method = FH_PAD_METHOD_UINPUT;
    *why = g_strdup ("kernel pads through /dev/uinput (config pads=uinput)");
    return TRUE;
  }
  if (uinput) {
    *method = FH_PAD_METHOD_UINPUT;
    *why = g_strdup ("kernel pads through /dev/uinput");
  } else {
    *method = FH_PAD_METHOD_USER;
    *why = g_strdup_printf ("user-space (%s), through the preloaded shim", uinput_why);
  }
  return TRUE;
}

/* ---- the state as evdev ---- */

static int
pad_abs_value (const FhPadState *state, guint16 code)
{
  switch (code) {
  case ABS_X:
    return state->left_x;
  case ABS_Y:
    return state->left_y;
  case ABS_Z:
    return state->left_trigger;
  case ABS_RX:
    return state->right_x;
  case ABS_RY:
    return state->right_y;
  case ABS_RZ:
    return state->right_trigger;
  case ABS_HAT0X:
    return !!(state->buttons & FH_PAD_BUTTON_DPAD_RIGHT) - !!(state->buttons & FH_PAD_BUTTON_DPAD_LEFT);
  case ABS_HAT0Y:
    return !!(state->buttons & FH_PAD_BUTTON_DPAD_DOWN) - !!(state->buttons & FH_PAD_BUTTON_DPAD_UP);
  }
  return 0;
}

/* The events that take @old to @new, SYN_REPORT last; 0 when none. */
static guint
pad_frame (const FhPadState *old, const FhPadState *new, struct input_event *events)
{
  struct timespec now;
  guint n = 0;

  clock_gettime (CLOCK_REALTIME, &now);
  for (guint i = 0; i < G_N_ELEMENTS (button_keys); i++) {
    gboolean was = !!(old->buttons & button_keys[i].button);
    gboolean is = !!(new->buttons & button_keys[i].button);
    if (was != is)
      events[n++] = (struct input_event) { .type = EV_KEY, .code = button_keys[i].key, .value = is };
  }
  for (guint i = 0; i < G_N_ELEMENTS (pad_axes); i++) {
    int was = pad_abs_value (old, pad_axes[i].code);
    int is = pad_abs_value (new, pad_axes[i].code);
    if (was != is)
      events[n++] = (struct input_event) { .type = EV_ABS, .code = pad_axes[i].code, .value = is };
  }
  if (n == 0)
    return 0;
  events[n++] = (struct input_event) { .type = EV_SYN, .code = SYN_REPORT };
  for (guint i = 0; i < n; i++) {
    events[i].input_event_sec = now.tv_sec;
    events[i].input_event_usec = now.tv_nsec / 1000;
  }
  return n;
}

static void
pad_fill_hello (FhPad *pad, struct fh_pad_wire_hello *hello)
{
  memset (hello, 0, sizeof *hello);
  hello->magic = FH_PAD_WIRE_MAGIC;
  hello->version = FH_PAD_WIRE_VERSION;
  hello->id = (struct input_id) { .bustype = BUS_USB, .vendor = 0x045e, .product = 0x028e,
                                  .version = 0x0110 };
  g_strlcpy (hello->name, FH_PAD_NAME, sizeof hello->name);
  for (guint i = 0; i < G_N_ELEMENTS (button_keys); i++) {
    fh_pad_wire_set_bit (hello->key_bits, button_keys[i].key, 1);
    fh_pad_wire_set_bit (hello->key_state, button_keys[i].key,
                         !!(pad->state.buttons & button_keys[i].button));
  }
  for (guint i = 0; i < G_N_ELEMENTS (pad_axes); i++) {
    guint16 code = pad_axes[i].code;
    fh_pad_wire_set_bit (hello->abs_bits, code, 1);
    hello->abs[code] = (struct input_absinfo) {
      .value = pad_abs_value (&pad->state, code),
      .minimum = pad_axes[i].min, .maximum = pad_axes[i].max,
      .fuzz = pad_axes[i].fuzz, .flat = pad_axes[i].flat,
    };
  }
  /* xpad: FF_RUMBLE; ff-memless adds FF_GAIN. */
  fh_pad_wire_set_bit (hello->ff_bits, FF_RUMBLE, 1);
  fh_pad_wire_set_bit (hello->ff_bits, FF_GAIN, 1);
}

/* ---- rumble ---- */

static void
pad_rumble (FhPad *pad, guint16 strong, guint16 weak)
{
  FhPadRumble rumble = {
    .strong = (guint16) ((guint32) strong * pad->gain / 0xffff),
    .weak = (guint16) ((guint32) weak * pad->gain / 0xffff),
  };
  if (pad->rumble != NULL)
    pad->rumble (pad, &rumble, pad->user_data);
}

static void
pad_rumble_stop (FhPad *pad)
{
  g_clear_handle_id (&pad->stop_timer, g_source_remove);
  if (pad->playing_id < 0)
    return;
  pad->playing_id = -1;
  pad->playing_handle = NULL;
  pad_rumble (pad, 0, 0);
}

static gboolean
on_rumble_over (gpointer data)
{
  FhPad *pad = data;
  pad->stop_timer = 0;
  pad_rumble_stop (pad);
  return G_SOURCE_REMOVE;
}

static void
pad_rumble_play (FhPad *pad, FhPadHandle *handle, int id, const FhPadRumble *rumble,
                 guint length_ms)
{
  g_clear_handle_id (&pad->stop_timer, g_source_remove);
  pad->playing_handle = handle;
  pad->playing_id = id;
  pad_rumble (pad, rumble->strong, rumble->weak);
  if (length_ms > 0)
    pad->stop_timer = g_timeout_add (length_ms, on_rumble_over, pad);
}

/* ---- user: a socket per pad ---- */

static void
handle_free (FhPadHandle *handle)
{
  FhPad *pad = handle->pad;
  if (pad->playing_handle == handle)
    pad_rumble_stop (pad);
  if (handle->source != NULL) {
    g_source_destroy (handle->source);
    g_source_unref (handle->source);
  }
  close (handle->fd);
  g_free (handle);
}

static void
handle_drop (FhPadHandle *handle, const char *why)
{
  FhPad *pad = handle->pad;
  if (why != NULL)
    g_message ("pad event%u: an app's connection dropped: %s", pad->index, why);
  else
    g_debug ("pad event%u: an app closed it", pad->index);
  g_ptr_array_remove (pad->handles, handle); /* frees */
}

/* One datagram from the shim; FALSE with @why when it makes no sense. */
static gboolean
handle_parse (FhPadHandle *handle, const guint8 *buf, gssize len, const char **why)
{
  FhPad *pad = handle->pad;

  if (len == sizeof (struct input_event)) {
    struct input_event event;
    memcpy (&event, buf, sizeof event);
    if (event.type != EV_FF) {
      *why = "a written event that is not EV_FF";
      return FALSE;
    }
    if (event.code == FF_GAIN) {
      pad->gain = (guint16) CLAMP (event.value, 0, 0xffff);
      return TRUE;
    }
    if (event.code >= FH_PAD_WIRE_EFFECTS || !handle->effects[event.code].used)
      return TRUE; /* the kernel ignores an unknown effect's play too */
    if (event.value > 0)
      pad_rumble_play (pad, handle, event.code, &handle->effects[event.code].rumble,
                       handle->effects[event.code].length_ms);
    else if (pad->playing_handle == handle && pad->playing_id == event.code)
      pad_rumble_stop (pad);
    return TRUE;
  }
  if (len == sizeof (struct fh_pad_wire_effect)) {
    struct fh_pad_wire_effect effect;
    memcpy (&effect, buf, sizeof effect);
    if (effect.magic != FH_PAD_WIRE_MAGIC || effect.id < 0 || effect.id >= FH_PAD_WIRE_EFFECTS) {
      *why = "a bad effect record";
      return FALSE;
    }
    if (effect.op == FH_PAD_WIRE_EFFECT_UPLOAD) {
      handle->effects[effect.id].used = TRUE;
      handle->effects[effect.id].rumble = (FhPadRumble) { effect.strong, effect.weak };
      handle->effects[effect.id].length_ms = effect.length_ms;
      /* An effect that plays changes at once, as in ff-memless. */
      if (pad->playing_handle == handle && pad->playing_id == effect.id)
        pad_rumble_play (pad, handle, effect.id, &handle->effects[effect.id].rumble,
                         effect.length_ms);
      return TRUE;
    }
    if (effect.op == FH_PAD_WIRE_EFFECT_ERASE) {
      handle->effects[effect.id].used = FALSE;
      if (pad->playing_handle == handle && pad->playing_id == effect.id)
        pad_rumble_stop (pad);
      return TRUE;
    }
    *why = "an effect record of an unknown kind";
    return FALSE;
  }
  *why = "a datagram of an unknown size";
  return FALSE;
}

static gboolean
on_handle_readable (int fd, GIOCondition condition, gpointer data)
{
  FhPadHandle *handle = data;

  for (;;) {
    guint8 buf[256];
    const char *why = NULL;
    gssize len = recv (fd, buf, sizeof buf, MSG_DONTWAIT | MSG_TRUNC);

    if (len < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
      return G_SOURCE_CONTINUE;
    if (len < 0 && errno == EINTR)
      continue;
    if (len < 0) {
      handle_drop (handle, g_strerror (errno));
      return G_SOURCE_REMOVE;
    }
    if (len == 0) {
      handle_drop (handle, NULL);
      return G_SOURCE_REMOVE;
    }
    if (len > (gssize) sizeof buf || !handle_parse (handle, buf, len, &why)) {
      handle_drop (handle, why != NULL ? why : "a datagram too large");
      return G_SOURCE_REMOVE;
    }
  }
}

static gboolean
on_listen_readable (int fd, GIOCondition condition, gpointer data)
{
  FhPad *pad = data;
  struct fh_pad_wire_hello hello;
  FhPadHandle *handle;
  int conn = accept4 (fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);

  if (conn < 0) {
    if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
      g_warning ("pad event%u: accept: %s", pad->index, g_strerror (errno));
    return G_SOURCE_CONTINUE;
  }
  pad_fill_hello (pad, &hello);
  if (send (conn, &hello, sizeof hello, MSG_NOSIGNAL) != sizeof hello) {
    g_message ("pad event%u: an app went before its hello: %s", pad->index, g_strerror (errno));
    close (conn);
    return G_SOURCE_CONTINUE;
  }
  handle = g_new0 (FhPadHandle, 1);
  handle->pad = pad;
  handle->fd = conn;
  handle->source = g_unix_fd_source_new (conn, G_IO_IN | G_IO_HUP | G_IO_ERR);
  g_source_set_callback (handle->source, G_SOURCE_FUNC (on_handle_readable), handle, NULL);
  g_source_attach (handle->source, g_main_context_get_thread_default ());
  g_ptr_array_add (pad->handles, handle);
  g_debug ("pad event%u: an app opened it (%u open)", pad->index, pad->handles->len);
  return G_SOURCE_CONTINUE;
}

static gboolean
pad_user_start (FhPad *pad, GError **error)
{
  FhPadSeat *seat = pad->seat;
  struct sockaddr_un addr = { .sun_family = AF_UNIX };
  g_autofree char *tmp = g_strdup_printf ("%s/.event%u.tmp", seat->dir, pad->index);

  if (strlen (tmp) >= sizeof addr.sun_path) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_FILENAME_TOO_LONG,
                 "%s: the path is too long for a unix socket: choose a shorter runtime dir",
                 tmp);
    return FALSE;
  }
  strcpy (addr.sun_path, tmp);
  unlink (tmp);
  pad->listen_fd = socket (AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (pad->listen_fd < 0 || bind (pad->listen_fd, (struct sockaddr *) &addr, sizeof addr) < 0 ||
      listen (pad->listen_fd, 8) < 0 || chown (tmp, seat->uid, seat->gid) < 0 ||
      chmod (tmp, 0600) < 0) {
    int errsv = errno;
    g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errsv), "pad socket %s: %s", tmp,
                 g_strerror (errsv));
    unlink (tmp);
    return FALSE;
  }
  /* Ready before its name appears: SDL sees IN_MOVED_TO and opens at once. */
  if (rename (tmp, pad->path) < 0) {
    int errsv = errno;
    g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errsv), "pad socket %s: %s",
                 pad->path, g_strerror (errsv));
    unlink (tmp);
    return FALSE;
  }
  pad->handles = g_ptr_array_new_with_free_func ((GDestroyNotify) handle_free);
  pad->listen_source = g_unix_fd_source_new (pad->listen_fd, G_IO_IN);
  g_source_set_callback (pad->listen_source, G_SOURCE_FUNC (on_listen_readable), pad, NULL);
  g_source_attach (pad->listen_source, g_main_context_get_thread_default ());
  return TRUE;
}

static void
pad_user_send (FhPad *pad, const struct input_event *events, guint n)
{
  for (guint i = 0; i < pad->handles->len;) {
    FhPadHandle *handle = pad->handles->pdata[i];
    if (send (handle->fd, events, n * sizeof *events, MSG_NOSIGNAL | MSG_DONTWAIT) < 0 &&
        errno != EAGAIN && errno != EWOULDBLOCK) {
      /* EAGAIN: an app that does not read loses frames, as on a kernel
       * pad whose buffer overflows; anything else: it is gone. */
      handle_drop (handle, g_strerror (errno));
      continue;
    }
    i++;
  }
}

static void
pad_user_stop (FhPad *pad)
{
  if (pad->listen_source != NULL) {
    g_source_destroy (pad->listen_source);
    g_clear_pointer (&pad->listen_source, g_source_unref);
  }
  if (pad->listen_fd >= 0) {
    unlink (pad->path);
    close (pad->listen_fd);
    pad->listen_fd = -1;
  }
  /* Closing tells every app: its read returns 0, the shim ENODEV. */
  g_clear_pointer (&pad->handles, g_ptr_array_unref);
}

/* ---- uinput: a kernel pad per pad ----
 *
 * NEVER RUN: the box this was written on has no /dev/uinput. Written from
 * linux/uinput.h and the kernel's documentation, kept small on purpose. */

static void
uinput_ff (FhPad *pad, const struct input_event *event)
{
  int fd = pad->uinput_fd;

  if (event->type == EV_UINPUT && event->code == UI_FF_UPLOAD) {
    struct uinput_ff_upload upload = { .request_id = event->value };
    if (ioctl (fd, UI_BEGIN_FF_UPLOAD, &upload) < 0)
      return;
    int id = upload.effect.id;
    if (id >= 0 && id < FH_PAD_WIRE_EFFECTS &&
        (upload.effect.type == FF_RUMBLE || upload.effect.type == FF_PERIODIC)) {
      FhPadRumble rumble;
      if (upload.effect.type == FF_RUMBLE) {
        rumble = (FhPadRumble) { upload.effect.u.rumble.strong_magnitude,
                                 upload.effect.u.rumble.weak_magnitude };
      } else {
        guint16 m = (guint16) MIN (ABS ((int) upload.effect.u.periodic.magnitude) * 2, 0xffff);
        rumble = (FhPadRumble) { m, m };
      }
      pad->effects[id].used = TRUE;
      pad->effects[id].rumble = rumble;
      upload.retval = 0;
    } else {
      upload.retval = -EINVAL;
    }
    ioctl (fd, UI_END_FF_UPLOAD, &upload);
  } else if (event->type == EV_UINPUT && event->code == UI_FF_ERASE) {
    struct uinput_ff_erase erase = { .request_id = event->value };
    if (ioctl (fd, UI_BEGIN_FF_ERASE, &erase) < 0)
      return;
    if (erase.effect_id < FH_PAD_WIRE_EFFECTS) {
      pad->effects[erase.effect_id].used = FALSE;
      if (pad->playing_id == (int) erase.effect_id)
        pad_rumble_stop (pad);
    }
    erase.retval = 0;
    ioctl (fd, UI_END_FF_ERASE, &erase);
  } else if (event->type == EV_FF && event->code == FF_GAIN) {
    pad->gain = (guint16) CLAMP (event->value, 0, 0xffff);
  } else if (event->type == EV_FF && event->code < FH_PAD_WIRE_EFFECTS &&
             pad->effects[event->code].used) {
    if (event->value > 0)
      pad_rumble_play (pad, NULL, event->code, &pad->effects[event->code].rumble, 0);
    else if (pad->playing_id == event->code)
      pad_rumble_stop (pad);
  }
}

static gboolean
on_uinput_readable (int fd, GIOCondition condition, gpointer data)
{
  FhPad *pad = data;
  struct input_event event;

  while (read (fd, &event, sizeof event) == sizeof event)
    uinput_ff (pad, &event);
  return G_SOURCE_CONTINUE;
}

/* The eventM node the kernel made for the device @sysname ("inputN"):
 * its dev_t from sysfs, its name in the host's /dev/input. */
static gboolean
uinput_find_node (const char *sysname, dev_t *dev, char **host_node, GError **error)
{
  g_autofree char *sysdir = g_strdup_printf ("/sys/class/input/%s", sysname);
  g_autoptr (GDir) d = NULL;
  const char *name;

  /* udev may not be there; the kernel makes the sysfs entry before
   * UI_DEV_CREATE returns. */
  d = g_dir_open (sysdir, 0, error);
  if (d == NULL)
    return FALSE;
  while ((name = g_dir_read_name (d)) != NULL) {
    g_autofree char *devfile = NULL;
    g_autofree char *text = NULL;
    guint major_n, minor_n;

    if (!g_str_has_prefix (name, "event"))
      continue;
    devfile = g_strdup_printf ("%s/%s/dev", sysdir, name);
    if (!g_file_get_contents (devfile, &text, NULL, error))
      return FALSE;
    if (sscanf (text, "%u:%u", &major_n, &minor_n) != 2)
      break;
    *dev = makedev (major_n, minor_n);
    *host_node = g_strdup_printf ("/dev/input/%s", name);
    return TRUE;
  }
  g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND, "%s: no event node", sysdir);
  return FALSE;
}

static gboolean
pad_uinput_start (FhPad *pad, GError **error)
{
  FhPadSeat *seat = pad->seat;
  struct uinput_setup setup = {
    .id = { .bustype = BUS_USB, .vendor = 0x045e, .product = 0x028e, .version = 0x0110 },
    .ff_effects_max = FH_PAD_WIRE_EFFECTS,
  };
  char sysname[64] = "";
  g_autofree char *host_node = NULL;
  dev_t dev;
  int fd;

  g_strlcpy (setup.name, FH_PAD_NAME, sizeof setup.name);
  fd = open ("/dev/uinput", O_RDWR | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) {
    int errsv = errno;
    g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errsv), "/dev/uinput: %s",
                 g_strerror (errsv));
    return FALSE;
  }
  pad->uinput_fd = fd;
  gboolean ok = ioctl (fd, UI_SET_EVBIT, EV_KEY) == 0 && ioctl (fd, UI_SET_EVBIT, EV_ABS) == 0 &&
                ioctl (fd, UI_SET_EVBIT, EV_FF) == 0 && ioctl (fd, UI_SET_FFBIT, FF_RUMBLE) == 0 &&
                ioctl (fd, UI_SET_FFBIT, FF_GAIN) == 0;
  for (guint i = 0; ok && i < G_N_ELEMENTS (button_keys); i++)
    ok = ioctl (fd, UI_SET_KEYBIT, button_keys[i].key) == 0;
  for (guint i = 0; ok && i < G_N_ELEMENTS (pad_axes); i++) {
    struct uinput_abs_setup abs = {
      .code = pad_axes[i].code,
      .absinfo = { .minimum = pad_axes[i].min, .maximum = pad_axes[i].max,
                   .fuzz = pad_axes[i].fuzz, .flat = pad_axes[i].flat },
    };
    ok = ioctl (fd, UI_SET_ABSBIT, pad_axes[i].code) == 0 && ioctl (fd, UI_ABS_SETUP, &abs) == 0;
  }
  ok = ok && ioctl (fd, UI_DEV_SETUP, &setup) == 0 && ioctl (fd, UI_DEV_CREATE) == 0 &&
       ioctl (fd, UI_GET_SYSNAME (sizeof sysname), sysname) >= 0;
  if (!ok) {
    int errsv = errno;
    g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errsv), "uinput pad: %s",
                 g_strerror (errsv));
    return FALSE;
  }
  if (!uinput_find_node (sysname, &dev, &host_node, error))
    return FALSE;
  /* The host's own node: root's alone, so no other account (another
   * session) opens this session's pad. udev rules may change it back;
   * the seat's node is the one the session uses. */
  if (chown (host_node, 0, 0) < 0 || chmod (host_node, 0600) < 0)
    g_message ("pad event%u: %s: %s", pad->index, host_node, g_strerror (errno));
  if (mknod (pad->path, S_IFCHR | 0600, dev) < 0 || chown (pad->path, seat->uid, seat->gid) < 0) {
    int errsv = errno;
    g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errsv), "%s: %s", pad->path,
                 g_strerror (errsv));
    unlink (pad->path);
    return FALSE;
  }
  pad->uinput_source = g_unix_fd_source_new (fd, G_IO_IN);
  g_source_set_callback (pad->uinput_source, G_SOURCE_FUNC (on_uinput_readable), pad, NULL);
  g_source_attach (pad->uinput_source, g_main_context_get_thread_default ());
  return TRUE;
}

static void
pad_uinput_stop (FhPad *pad)
{
  if (pad->uinput_source != NULL) {
    g_source_destroy (pad->uinput_source);
    g_clear_pointer (&pad->uinput_source, g_source_unref);
  }
  if (pad->uinput_fd >= 0) {
    unlink (pad->path);
    ioctl (pad->uinput_fd, UI_DEV_DESTROY);
    close (pad->uinput_fd);
    pad->uinput_fd = -1;
  }
}

/* ---- the seat ---- */

FhPadSeat *
fh_pad_seat_new (FhPadMethod method, const char *dir, uid_t uid, gid_t gid, guint max,
                 GError **error)
{
  g_autoptr (FhPadSeat) seat = NULL;

  g_return_val_if_fail (method != FH_PAD_METHOD_OFF, NULL);
  seat = g_new0 (FhPadSeat, 1);
  seat->method = method;
  seat->uid = uid;
  seat->gid = gid;
  seat->max = MIN (max, FH_PAD_LIMIT);
  if (g_mkdir (dir, 0755) < 0 && errno != EEXIST) {
    int errsv = errno;
    g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errsv), "%s: %s", dir,
                 g_strerror (errsv));
    return NULL;
  }
  seat->dir = g_strdup (dir);
  if (chmod (dir, 0755) < 0 || chown (dir, uid, gid) < 0) {
    int errsv = errno;
    g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errsv), "%s: %s", dir,
                 g_strerror (errsv));
    return NULL;
  }
  return g_steal_pointer (&seat);
}

static void
pad_free (FhPad *pad)
{
  /* Whoever unplugs it knows its rumble ends: no call back into them
   * while they remove it (or free the seat under it). */
  pad->rumble = NULL;
  pad_rumble_stop (pad);
  if (pad->seat->method == FH_PAD_METHOD_UINPUT)
    pad_uinput_stop (pad);
  else
    pad_user_stop (pad);
  pad->seat->pads[pad->index] = NULL;
  g_free (pad->path);
  g_free (pad);
}

void
fh_pad_seat_free (FhPadSeat *seat)
{
  if (seat == NULL)
    return;
  for (guint i = 0; i < G_N_ELEMENTS (seat->pads); i++)
    if (seat->pads[i] != NULL)
      pad_free (seat->pads[i]);
  if (seat->dir != NULL && g_rmdir (seat->dir) < 0 && errno != ENOENT)
    g_message ("pads: %s: %s", seat->dir, g_strerror (errno));
  g_free (seat->dir);
  g_free (seat);
}

guint
fh_pad_seat_get_max (FhPadSeat *seat)
{
  return seat->max;
}

guint
fh_pad_seat_count (FhPadSeat *seat)
{
  guint n = 0;
  for (guint i = 0; i < G_N_ELEMENTS (seat->pads); i++)
    n += seat->pads[i] != NULL;
  return n;
}

FhPad *
fh_pad_seat_add (FhPadSeat *seat, FhPadKind kind, FhPadRumbleFunc rumble, gpointer user_data,
                 GError **error)
{
  FhPad *pad;
  gboolean ok;
  guint index;

  if (fh_pad_seat_count (seat) >= seat->max) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_NO_SPACE,
                 "the session has its %u pads already (config session-pads)", seat->max);
    return NULL;
  }
  for (index = 0; seat->pads[index] != NULL; index++)
    ;
  pad = g_new0 (FhPad, 1);
  pad->seat = seat;
  pad->index = index;
  pad->kind = kind;
  pad->rumble = rumble;
  pad->user_data = user_data;
  pad->path = g_strdup_printf ("%s/event%u", seat->dir, index);
  pad->listen_fd = -1;
  pad->uinput_fd = -1;
  pad->playing_id = -1;
  pad->gain = 0xffff;
  seat->pads[index] = pad;

  ok = seat->method == FH_PAD_METHOD_UINPUT ? pad_uinput_start (pad, error)
                                            : pad_user_start (pad, error);
  if (!ok) {
    pad_free (pad);
    return NULL;
  }
  g_debug ("pad event%u: plugged in (%s, %s)", index, fh_pad_kind_to_string (kind),
           fh_pad_method_to_string (seat->method));
  return pad;
}

void
fh_pad_update (FhPad *pad, const FhPadState *state)
{
  struct input_event events[FH_PAD_WIRE_FRAME_MAX];
  guint n = pad_frame (&pad->state, state, events);

  pad->state = *state;
  if (n == 0)
    return;
  if (pad->seat->method == FH_PAD_METHOD_UINPUT) {
    if (write (pad->uinput_fd, events, n * sizeof *events) < 0)
      g_debug ("pad event%u: uinput write: %s", pad->index, g_strerror (errno));
  } else {
    pad_user_send (pad, events, n);
  }
}

void
fh_pad_remove (FhPad *pad)
{
  if (pad == NULL)
    return;
  g_debug ("pad event%u: unplugged", pad->index);
  pad_free (pad);
}

guint
fh_pad_get_index (FhPad *pad)
{
  return pad->index;
}
