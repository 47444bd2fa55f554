/* User-space pads (backends/pads.h) end to end: a seat in a folder of the
 * test's own, the GLib main loop driving it, and
 *   - a raw evdev client through the shim (backends/pad-shim/): open, EVIOCGNAME,
 *     EVIOCGBIT, events read, and ENODEV once the pad is unplugged;
 *   - the wire itself from this process: the hello, effects uploaded,
 *     played, erased, and a connection that sends garbage is dropped
 *     while the pad goes on;
 *   - a real SDL2 app (tests/apps/fh-pad-logger) in bubblewrap with the
 *     seat's folder as its /dev/input and the shim preloaded: a pad
 *     plugged in after it started arrives as a controller with SDL's Xbox
 *     360 mapping, A and the left stick arrive with their values, its
 *     rumble (on Y) reaches the rumble callback, a second pad is a second
 *     controller, unplugging the first removes that one only, freeing the
 *     seat removes the rest;
 *   - the same app in a real session sandbox (backends/sandbox.h, as the
 *     account funkhaus): the sandbox's pad folder, its shim bind and the
 *     app's environment are what SDL needs.
 *
 * Root and bubblewrap: without them it skips (exit 77). The shim and the
 * logger come from $FH_PAD_SHIM and $FH_PAD_LOGGER (meson sets them).
 *
 *   test-pads                 the test
 *   test-pads --raw PATH      the raw client (run by the test, shim preloaded) */
#include <errno.h>
#include <fcntl.h>
#include <gio/gio.h>
#include <gio/gunixinputstream.h>
#include <glib-unix.h>
#include <glib/gstdio.h>
#include <linux/input.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "backends/pad-wire.h"
#include "backends/pads.h"
#include "backends/sandbox.h"

#define WAIT_S 10

static struct {
  char *tmp;
  char *seat_dir;
  char *self;
  FhPadRumble rumbles[16];
  guint n_rumbles;
} T;

/* ---- the raw client, in its own process with the shim preloaded ---- */

static int
raw_client (const char *path)
{
  struct input_event events[32];
  unsigned long keybits[KEY_CNT / (8 * sizeof (long))] = { 0 };
  struct input_absinfo abs;
  struct stat st;
  char name[128] = "";
  int fd;

  setvbuf (stdout, NULL, _IOLBF, 0);
  if (stat (path, &st) < 0 || !S_ISCHR (st.st_mode)) {
    printf ("stat-failed\n");
    return 1;
  }
  fd = open (path, O_RDWR | O_CLOEXEC);
  if (fd < 0) {
    printf ("open-failed %s\n", strerror (errno));
    return 1;
  }
  if (ioctl (fd, EVIOCGNAME (sizeof name), name) < 0 ||
      ioctl (fd, EVIOCGBIT (EV_KEY, sizeof keybits), keybits) < 0 ||
      ioctl (fd, EVIOCGABS (ABS_X), &abs) < 0) {
    printf ("ioctl-failed %s\n", strerror (errno));
    return 1;
  }
  printf ("opened %s|%d|%d|%d|%d\n", name, (int) ((keybits[BTN_A / (8 * sizeof (long))] >> (BTN_A % (8 * sizeof (long)))) & 1),
          abs.minimum, abs.maximum, ioctl (fd, EVIOCGUNIQ (8), name) < 0 && errno == ENOENT);
  for (;;) {
    ssize_t len = read (fd, events, sizeof events);
    if (len < 0) {
      printf ("read-failed %s\n", errno == ENODEV ? "ENODEV" : strerror (errno));
      return 0;
    }
    for (size_t i = 0; i < (size_t) len / sizeof *events; i++)
      printf ("event %u %u %d\n", events[i].type, events[i].code, events[i].value);
  }
}

/* ---- waiting for lines, with the main loop turning ---- */

typedef struct {
  int fd;
  GString *buf;
  gsize seen; /* the lines before this have been matched past */
} Lines;

static void
lines_fill (Lines *lines)
{
  char chunk[4096];
  ssize_t n;
  while ((n = read (lines->fd, chunk, sizeof chunk)) > 0)
    g_string_append_len (lines->buf, chunk, n);
}

/* The first line after the last match that contains @needle; the test
 * fails after WAIT_S. */
static char *
lines_wait (Lines *lines, const char *needle)
{
  gint64 end = g_get_monotonic_time () + WAIT_S * G_USEC_PER_SEC;

  for (;;) {
    lines_fill (lines);
    while (lines->seen < lines->buf->len) {
      const char *start = lines->buf->str + lines->seen;
      const char *nl = strchr (start, '\n');
      if (nl == NULL)
        break;
      lines->seen = nl + 1 - lines->buf->str;
      g_autofree char *line = g_strndup (start, nl - start);
      if (strstr (line, needle) != NULL)
        return g_steal_pointer (&line);
    }
    if (g_get_monotonic_time () > end) {
      g_printerr ("# waited %d s for \"%s\"; what came:\n%s\n", WAIT_S, needle, lines->buf->str);
      g_assert_not_reached ();
    }
    while (g_main_context_iteration (NULL, FALSE))
      ;
    g_usleep (2000);
  }
}

/* Whether a line after the last match contains @needle (no waiting). */
static gboolean
lines_have (Lines *lines, const char *needle)
{
  lines_fill (lines);
  return strstr (lines->buf->str + lines->seen, needle) != NULL;
}

static void
pump_ms (guint ms)
{
  gint64 end = g_get_monotonic_time () + ms * 1000;
  while (g_get_monotonic_time () < end) {
    while (g_main_context_iteration (NULL, FALSE))
      ;
    g_usleep (2000);
  }
}

static void
on_rumble (FhPad *pad, const FhPadRumble *rumble, gpointer user_data)
{
  g_test_message ("rumble event%u: %u %u", fh_pad_get_index (pad), rumble->strong, rumble->weak);
  if (T.n_rumbles < G_N_ELEMENTS (T.rumbles))
    T.rumbles[T.n_rumbles++] = *rumble;
}

static GSubprocess *
spawn (const char *const *argv, const char *const *env, int *out_fd)
{
  g_autoptr (GSubprocessLauncher) launcher =
    g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_MERGE);
  g_autoptr (GError) error = NULL;
  GSubprocess *child;

  for (guint i = 0; env != NULL && env[i] != NULL; i += 2)
    g_subprocess_launcher_setenv (launcher, env[i], env[i + 1], TRUE);
  child = g_subprocess_launcher_spawnv (launcher, argv, &error);
  g_assert_no_error (error);
  *out_fd = g_unix_input_stream_get_fd (G_UNIX_INPUT_STREAM (g_subprocess_get_stdout_pipe (child)));
  g_unix_set_fd_nonblocking (*out_fd, TRUE, NULL);
  return child;
}

static void
test_raw (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (FhPadSeat) seat = NULL;
  g_autoptr (GSubprocess) child = NULL;
  g_autofree char *path = NULL;
  g_autofree char *line = NULL;
  Lines out = { .buf = g_string_new (NULL) };
  FhPadState state = { 0 };
  FhPad *pad;

  seat = fh_pad_seat_new (FH_PAD_METHOD_USER, T.seat_dir, getuid (), getgid (), 2, &error);
  g_assert_no_error (error);
  pad = fh_pad_seat_add (seat, FH_PAD_KIND_XBOX360, on_rumble, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (fh_pad_get_index (pad), ==, 0);
  path = g_strdup_printf ("%s/event0", T.seat_dir);

  /* The shim only answers for /dev/input/event*: the client runs in a
   * mount namespace where the seat is /dev/input. */
  const char *argv[] = { "bwrap", "--die-with-parent", "--dev-bind", "/", "/", "--dev", "/dev",
                         "--bind", T.seat_dir, "/dev/input", "--", T.self, "--raw",
                         "/dev/input/event0", NULL };
  /* Under ASan the client (this binary) would refuse a preload ahead of
   * its runtime. */
  const char *env[] = { "LD_PRELOAD", g_getenv ("FH_PAD_SHIM"), "ASAN_OPTIONS",
                        "verify_asan_link_order=0:detect_leaks=0", NULL };
  child = spawn (argv, env, &out.fd);

  line = lines_wait (&out, "opened");
  g_assert_cmpstr (line, ==, "opened Microsoft X-Box 360 pad|1|-32768|32767|1");
  state.buttons = FH_PAD_BUTTON_A;
  state.left_x = -1000;
  fh_pad_update (pad, &state);
  g_free (lines_wait (&out, "event 1 304 1"));
  g_free (lines_wait (&out, "event 3 0 -1000"));
  g_free (lines_wait (&out, "event 0 0 0"));
  fh_pad_update (pad, &state); /* nothing changed: nothing sent */
  state.buttons = FH_PAD_BUTTON_DPAD_UP;
  fh_pad_update (pad, &state);
  g_free (lines_wait (&out, "event 1 304 0"));
  g_free (lines_wait (&out, "event 3 17 -1")); /* ABS_HAT0Y */

  fh_pad_remove (pad);
  g_assert_false (g_file_test (path, G_FILE_TEST_EXISTS));
  g_free (lines_wait (&out, "read-failed ENODEV"));
  g_subprocess_wait_check (child, NULL, &error);
  g_assert_no_error (error);
  g_string_free (out.buf, TRUE);
}

static int
wire_connect (const char *path, struct fh_pad_wire_hello *hello)
{
  struct sockaddr_un addr = { .sun_family = AF_UNIX };
  int fd = socket (AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  gint64 end = g_get_monotonic_time () + WAIT_S * G_USEC_PER_SEC;
  ssize_t len;

  g_strlcpy (addr.sun_path, path, sizeof addr.sun_path);
  g_assert_cmpint (connect (fd, (struct sockaddr *) &addr, sizeof addr), ==, 0);
  while ((len = recv (fd, hello, sizeof *hello, 0)) < 0 && errno == EAGAIN &&
         g_get_monotonic_time () < end)
    pump_ms (2);
  g_assert_cmpint (len, ==, sizeof *hello);
  return fd;
}

static void
wire_send (int fd, const void *data, gsize size)
{
  g_assert_cmpint (send (fd, data, size, MSG_NOSIGNAL), ==, (gssize) size);
  pump_ms (20);
}

static void
test_wire (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (FhPadSeat) seat = NULL;
  g_autofree char *path = NULL;
  struct fh_pad_wire_hello hello;
  struct fh_pad_wire_effect upload = {
    .magic = FH_PAD_WIRE_MAGIC, .op = FH_PAD_WIRE_EFFECT_UPLOAD, .id = 3,
    .strong = 1000, .weak = 2000,
  };
  struct fh_pad_wire_effect erase = { .magic = FH_PAD_WIRE_MAGIC, .op = FH_PAD_WIRE_EFFECT_ERASE,
                                      .id = 3 };
  struct input_event play = { .type = EV_FF, .code = 3, .value = 1 };
  struct input_event gain = { .type = EV_FF, .code = FF_GAIN, .value = 0x8000 };
  FhPadState state = { .buttons = FH_PAD_BUTTON_START, .left_y = 123 };
  char garbage[7] = "garbage";
  struct input_event events[8];
  FhPad *pad;
  int fd, bad;

  seat = fh_pad_seat_new (FH_PAD_METHOD_USER, T.seat_dir, getuid (), getgid (), 1, &error);
  g_assert_no_error (error);
  pad = fh_pad_seat_add (seat, FH_PAD_KIND_XBOX360, on_rumble, NULL, &error);
  g_assert_no_error (error);
  path = g_strdup_printf ("%s/event0", T.seat_dir);
  fh_pad_update (pad, &state); /* before anyone connects: in the hello */

  fd = wire_connect (path, &hello);
  g_assert_cmphex (hello.magic, ==, FH_PAD_WIRE_MAGIC);
  g_assert_cmphex (hello.id.vendor, ==, 0x045e);
  g_assert_cmphex (hello.id.product, ==, 0x028e);
  g_assert_cmpstr (hello.name, ==, "Microsoft X-Box 360 pad");
  g_assert_true (fh_pad_wire_test_bit (hello.key_state, BTN_START));
  g_assert_false (fh_pad_wire_test_bit (hello.key_state, BTN_A));
  g_assert_cmpint (hello.abs[ABS_Y].value, ==, 123);
  g_assert_cmpint (hello.abs[ABS_Z].maximum, ==, 255);
  g_assert_true (fh_pad_wire_test_bit (hello.ff_bits, FF_RUMBLE));

  T.n_rumbles = 0;
  wire_send (fd, &upload, sizeof upload);
  g_assert_cmpuint (T.n_rumbles, ==, 0);
  wire_send (fd, &play, sizeof play);
  g_assert_cmpuint (T.n_rumbles, ==, 1);
  g_assert_cmpuint (T.rumbles[0].strong, ==, 1000);
  g_assert_cmpuint (T.rumbles[0].weak, ==, 2000);
  wire_send (fd, &gain, sizeof gain);
  wire_send (fd, &play, sizeof play);
  g_assert_cmpuint (T.n_rumbles, ==, 2);
  g_assert_cmpuint (T.rumbles[1].strong, ==, 500);
  wire_send (fd, &erase, sizeof erase);
  g_assert_cmpuint (T.n_rumbles, ==, 3);
  g_assert_cmpuint (T.rumbles[2].strong, ==, 0);
  g_assert_cmpuint (T.rumbles[2].weak, ==, 0);

  /* Garbage: that connection goes (its recv sees the end), the pad and
   * the other connection stay. */
  bad = wire_connect (path, &hello);
  wire_send (bad, garbage, sizeof garbage);
  g_assert_cmpint (recv (bad, events, sizeof events, 0), ==, 0);
  close (bad);
  state.buttons = 0;
  fh_pad_update (pad, &state);
  pump_ms (20);
  g_assert_cmpint (recv (fd, events, sizeof events, 0), ==, 2 * sizeof *events);
  g_assert_cmpuint (events[0].code, ==, BTN_START);
  g_assert_cmpint (events[0].value, ==, 0);
  g_assert_cmpuint (events[1].type, ==, EV_SYN);

  fh_pad_remove (pad);
  g_assert_cmpint (recv (fd, events, sizeof events, 0), ==, 0);
  close (fd);
}

static void
test_sdl (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (FhPadSeat) seat = NULL;
  g_autoptr (GSubprocess) child = NULL;
  g_autofree char *line = NULL;
  g_autofree char *log_path = g_build_filename (T.tmp, "logger.log", NULL);
  Lines out = { .buf = g_string_new (NULL) };
  FhPadState state = { 0 };
  FhPad *first, *second;

  T.n_rumbles = 0;
  seat = fh_pad_seat_new (FH_PAD_METHOD_USER, T.seat_dir, getuid (), getgid (), 2, &error);
  g_assert_no_error (error);

  /* --die-with-parent: the SIGTERM below ends bwrap, and with it the app
   * (bwrap does not pass signals on). */
  const char *argv[] = { "bwrap", "--die-with-parent", "--dev-bind", "/", "/", "--dev", "/dev",
                         "--bind", T.seat_dir, "/dev/input", "--setenv", "LD_PRELOAD",
                         g_getenv ("FH_PAD_SHIM"),
                         "--setenv", "SDL_JOYSTICK_DISABLE_UDEV", "1",
                         "--", g_getenv ("FH_PAD_LOGGER"), log_path, NULL };
  child = spawn (argv, NULL, &out.fd);
  g_free (lines_wait (&out, "ready"));
  pump_ms (200); /* SDL's inotify watch is set up in SDL_Init: this is margin */

  first = fh_pad_seat_add (seat, FH_PAD_KIND_XBOX360, on_rumble, NULL, &error);
  g_assert_no_error (error);
  /* The name of SDL's Linux mapping for 030000005e0400008e02000010010000:
   * the mapping applies. */
  line = lines_wait (&out, " added ");
  g_assert_nonnull (strstr (line, " added 0 X360 Controller"));
  g_free (lines_wait (&out, "count 1"));

  state.buttons = FH_PAD_BUTTON_A;
  state.left_x = 20000;
  state.right_trigger = 255;
  gint64 sent_us = g_get_real_time ();
  fh_pad_update (first, &state);
  g_clear_pointer (&line, g_free);
  line = lines_wait (&out, "button 0 a down");
  /* From the update to SDL's event in the app (the logger's stamp), for
   * the log; the waiting here adds nothing to it. */
  g_test_message ("latency: %" G_GINT64_FORMAT " us", g_ascii_strtoll (line, NULL, 10) - sent_us);
  /* SDL maps -32768…32767 onto itself, 0…255 onto 0…32767 (after the
   * neutral values it reports first). */
  g_free (lines_wait (&out, "axis 0 leftx 20000"));
  g_free (lines_wait (&out, "axis 0 righttrigger 32767"));

  state.buttons = FH_PAD_BUTTON_Y;
  fh_pad_update (first, &state);
  g_free (lines_wait (&out, "button 0 a up"));
  g_free (lines_wait (&out, "button 0 y down"));
  g_free (lines_wait (&out, "rumble 0 16384 32768"));
  for (gint64 end = g_get_monotonic_time () + WAIT_S * G_USEC_PER_SEC;
       T.n_rumbles == 0 && g_get_monotonic_time () < end;)
    pump_ms (5);
  g_assert_cmpuint (T.n_rumbles, >=, 1);
  g_assert_cmpuint (T.rumbles[0].strong, ==, 0x4000);
  g_assert_cmpuint (T.rumbles[0].weak, ==, 0x8000);

  second = fh_pad_seat_add (seat, FH_PAD_KIND_XBOX360, on_rumble, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (fh_pad_get_index (second), ==, 1);
  g_free (lines_wait (&out, "added 1 X360 Controller"));
  g_free (lines_wait (&out, "count 2"));
  /* A third: the seat is full. */
  g_assert_null (fh_pad_seat_add (seat, FH_PAD_KIND_XBOX360, NULL, NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NO_SPACE);
  g_clear_error (&error);

  fh_pad_remove (first);
  g_free (lines_wait (&out, "removed 0"));
  g_free (lines_wait (&out, "count 1"));
  g_assert_false (lines_have (&out, "removed 1"));
  state = (FhPadState) { .buttons = FH_PAD_BUTTON_B };
  fh_pad_update (second, &state);
  g_free (lines_wait (&out, "button 1 b down"));
  g_assert_cmpuint (fh_pad_seat_count (seat), ==, 1);

  g_clear_pointer (&seat, fh_pad_seat_free);
  g_assert_false (g_file_test (T.seat_dir, G_FILE_TEST_EXISTS));
  g_free (lines_wait (&out, "removed 1"));
  g_free (lines_wait (&out, "count 0"));

  g_subprocess_send_signal (child, SIGTERM);
  g_subprocess_wait (child, NULL, NULL);
  g_string_free (out.buf, TRUE);
}

/* The log file a sandboxed process appends to, read as it grows. */
static int
open_log (const char *path)
{
  int fd = open (path, O_RDONLY | O_CREAT | O_CLOEXEC | O_NONBLOCK, 0644);
  g_assert_cmpint (fd, >=, 0);
  return fd;
}

static void
test_sandbox (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (FhSandbox) sandbox = NULL;
  g_autoptr (FhPadSeat) seat = NULL;
  g_autoptr (GSubprocess) child = NULL;
  g_autofree char *log_path = g_build_filename (T.tmp, "sandbox-logger.log", NULL);
  g_autofree char *session = g_strdup_printf ("padtest%u", (guint) getpid ());
  g_autofree char *logger_dir = g_path_get_dirname (g_getenv ("FH_PAD_LOGGER"));
  const char *binds[] = { logger_dir, NULL };
  FhSandboxConfig config = {
    .run_as = "funkhaus",
    .isolate = TRUE,
    .binds = binds,
    .pads = FH_PAD_METHOD_USER,
    .max_pads = 2,
    .pad_shim = g_getenv ("FH_PAD_SHIM"),
  };
  Lines out = { .buf = g_string_new (NULL) };
  FhPadState state = { .buttons = FH_PAD_BUTTON_A };
  FhAccount *account;
  FhPad *pad;

  sandbox = fh_sandbox_new (&config, NULL, session, &error);
  if (sandbox == NULL) {
    g_test_skip_printf ("no session sandbox here: %s", error->message);
    return;
  }
  if (!fh_sandbox_is_isolated (sandbox)) {
    g_test_skip ("bubblewrap cannot run here");
    return;
  }
  account = fh_sandbox_get_account (sandbox);
  g_assert_nonnull (fh_sandbox_get_pad_dir (sandbox));
  g_assert_cmpstr (fh_sandbox_get_pad_env (sandbox)[0], ==, "LD_PRELOAD=/run/funkhaus/pad-shim.so");
  seat = fh_pad_seat_new (FH_PAD_METHOD_USER, fh_sandbox_get_pad_dir (sandbox), account->uid,
                          account->gid, 2, &error);
  g_assert_no_error (error);

  const char *argv[] = { g_getenv ("FH_PAD_LOGGER"), NULL };
  child = fh_sandbox_spawn (sandbox, log_path, fh_sandbox_get_pad_env (sandbox), FALSE, argv,
                            &error);
  g_assert_no_error (error);
  out.fd = open_log (log_path);
  g_free (lines_wait (&out, "ready"));
  pump_ms (200);

  pad = fh_pad_seat_add (seat, FH_PAD_KIND_XBOX360, on_rumble, NULL, &error);
  g_assert_no_error (error);
  g_free (lines_wait (&out, "added 0 X360 Controller"));
  fh_pad_update (pad, &state);
  g_free (lines_wait (&out, "button 0 a down"));
  g_clear_pointer (&seat, fh_pad_seat_free);
  g_free (lines_wait (&out, "removed 0"));
  g_free (lines_wait (&out, "count 0"));

  close (out.fd);
  g_string_free (out.buf, TRUE);
  g_clear_pointer (&sandbox, fh_sandbox_free); /* stops the app */
  g_subprocess_wait (child, NULL, NULL);
  g_unlink (log_path);
}

int
main (int argc, char **argv)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *bwrap = g_find_program_in_path ("bwrap");
  const char *shim = g_getenv ("FH_PAD_SHIM");
  const char *logger = g_getenv ("FH_PAD_LOGGER");
  int r;

  if (argc == 3 && g_str_equal (argv[1], "--raw"))
    return raw_client (argv[2]);

  if (geteuid () != 0) {
    g_print ("skipped: not root (the test binds a folder on /dev/input in a mount namespace)\n");
    return 77;
  }
  if (bwrap == NULL) {
    g_print ("skipped: bwrap not found (install bubblewrap)\n");
    return 77;
  }
  if (shim == NULL || !g_file_test (shim, G_FILE_TEST_EXISTS)) {
    g_print ("skipped: FH_PAD_SHIM does not name the shim\n");
    return 77;
  }

  g_test_init (&argc, &argv, NULL);
  T.self = g_file_read_link ("/proc/self/exe", NULL);
  T.tmp = g_dir_make_tmp ("fh-test-pads-XXXXXX", &error);
  g_assert_no_error (error);
  T.seat_dir = g_build_filename (T.tmp, "input", NULL);
  g_test_add_func ("/pads/raw", test_raw);
  g_test_add_func ("/pads/wire", test_wire);
  if (logger != NULL && g_file_test (logger, G_FILE_TEST_IS_EXECUTABLE)) {
    g_test_add_func ("/pads/sdl", test_sdl);
    g_test_add_func ("/pads/sandbox", test_sandbox);
  } else {
    g_print ("# no FH_PAD_LOGGER (SDL2 missing at build time?): the SDL tests do not run\n");
  }
  r = g_test_run ();
  g_autofree char *log_path = g_build_filename (T.tmp, "logger.log", NULL);
  g_unlink (log_path);
  g_rmdir (T.tmp);
  return r;
}
