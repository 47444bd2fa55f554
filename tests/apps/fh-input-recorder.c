/* A tiny Wayland app for tests and benchmarks: one window filled with a
 * colour (optionally animated), and a record of every key and pointer
 * event it receives, one line each, in the file named on the command line.
 *
 *   fh-input-recorder RECORD_FILE [RRGGBB] [--animate]
 *
 * "%s" in RECORD_FILE stands for $FUNKHAUS_SESSION (the session's id).
 *
 * Without RRGGBB the colour comes from $FUNKHAUS_SESSION_SERIAL, so two
 * sessions look different. Lines: "ready <w> <h> <RRGGBB>" once the first frame is
 * shown, then "key <evdev> down|up", "motion <x> <y>", "button <code>
 * down|up", "axis <0|1> <value>". */
#include <errno.h>
#include <linux/input-event-codes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <wayland-client.h>

#include "xdg-shell-client-protocol.h"

struct app {
  struct wl_display *display;
  struct wl_compositor *compositor;
  struct wl_shm *shm;
  struct wl_seat *seat;
  struct xdg_wm_base *wm_base;
  struct wl_surface *surface;
  struct xdg_surface *xdg_surface;
  struct xdg_toplevel *toplevel;
  struct wl_keyboard *keyboard;
  struct wl_pointer *pointer;
  FILE *record;
  uint32_t color;
  bool animate;
  int width, height;
  bool configured, announced, running;
  uint32_t frame;
};

static void
log_line (struct app *app, const char *fmt, ...)
{
  va_list ap;

  va_start (ap, fmt);
  vfprintf (app->record, fmt, ap);
  va_end (ap);
  fputc ('\n', app->record);
  fflush (app->record);
}

/* The window's buffers, kept and reused: a new memfd, its page faults and
 * a fill of every pixel each frame made this app, not the compositor or
 * the host, the limit of a benchmark at 1280x720 (about 25 frames a
 * second). A reused buffer has only the bar moved (where it was goes back
 * to the background); the whole surface is still damaged every frame. */
#define MAX_BUFFERS 4

struct buffer {
  struct wl_buffer *wl;
  uint32_t *pixels;
  int width, height;
  bool busy;
  int bar_x; /* where its bar is drawn; -1: none */
};
static struct buffer buffers[MAX_BUFFERS];

static void
buffer_release (void *data, struct wl_buffer *wl)
{
  struct buffer *b = data;

  b->busy = false;
}
static const struct wl_buffer_listener buffer_listener = { .release = buffer_release };

static void
buffer_drop (struct buffer *b)
{
  if (b->wl)
    wl_buffer_destroy (b->wl);
  if (b->pixels)
    munmap (b->pixels, (size_t) b->width * b->height * 4);
  *b = (struct buffer) { 0 };
}

/* A free buffer of the window's size, new ones filled with the colour. */
static struct buffer *
get_buffer (struct app *app)
{
  int stride = app->width * 4, size = stride * app->height;
  struct buffer *b = NULL;
  struct wl_shm_pool *pool;
  int fd;

  for (int i = 0; i < MAX_BUFFERS; i++) {
    if (buffers[i].wl && (buffers[i].width != app->width || buffers[i].height != app->height) &&
        !buffers[i].busy)
      buffer_drop (&buffers[i]);
    if (buffers[i].wl && !buffers[i].busy && buffers[i].width == app->width &&
        buffers[i].height == app->height)
      return &buffers[i];
    if (!buffers[i].wl && !b)
      b = &buffers[i];
  }
  if (!b)
    exit (1); /* the compositor holds every buffer: it should release them */
  fd = memfd_create ("fh-recorder", MFD_CLOEXEC);
  if (fd < 0 || ftruncate (fd, size) < 0)
    exit (1);
  b->pixels = mmap (NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (b->pixels == MAP_FAILED)
    exit (1);
  b->width = app->width;
  b->height = app->height;
  for (int i = 0; i < app->width * app->height; i++)
    b->pixels[i] = 0xff000000 | app->color;
  b->bar_x = -1;
  pool = wl_shm_create_pool (app->shm, fd, size);
  b->wl = wl_shm_pool_create_buffer (pool, 0, app->width, app->height, stride,
                                     WL_SHM_FORMAT_XRGB8888);
  wl_buffer_add_listener (b->wl, &buffer_listener, b);
  wl_shm_pool_destroy (pool);
  close (fd);
  return b;
}

static void
fill_bar (struct buffer *b, int x0, int bar, uint32_t pixel)
{
  for (int y = 0; y < b->height; y++)
    for (int x = x0; x < x0 + bar && x < b->width; x++)
      b->pixels[y * b->width + x] = pixel;
}

static void draw (struct app *app);

static void
frame_done (void *data, struct wl_callback *cb, uint32_t time)
{
  struct app *app = data;

  wl_callback_destroy (cb);
  draw (app);
}
static const struct wl_callback_listener frame_listener = { .done = frame_done };

static void
draw (struct app *app)
{
  struct buffer *b = get_buffer (app);

  if (app->animate) {
    /* A white bar sweeping across the window: full damage every frame. */
    int bar = app->width / 16, x0 = (int) (app->frame * 8 % (uint32_t) (app->width - bar));
    if (b->bar_x >= 0)
      fill_bar (b, b->bar_x, bar, 0xff000000 | app->color);
    fill_bar (b, x0, bar, 0xffffffff);
    b->bar_x = x0;
  }
  b->busy = true;
  wl_surface_attach (app->surface, b->wl, 0, 0);
  wl_surface_damage_buffer (app->surface, 0, 0, app->width, app->height);
  if (app->animate)
    wl_callback_add_listener (wl_surface_frame (app->surface), &frame_listener, app);
  wl_surface_commit (app->surface);
  app->frame++;
  if (!app->announced) {
    log_line (app, "ready %d %d %06x", app->width, app->height, app->color);
    app->announced = true;
  }
}

static void
xdg_surface_configure (void *data, struct xdg_surface *s, uint32_t serial)
{
  struct app *app = data;

  xdg_surface_ack_configure (s, serial);
  if (!app->configured || !app->animate)
    draw (app);
  app->configured = true;
}
static const struct xdg_surface_listener xdg_surface_listener = { .configure = xdg_surface_configure };

static void
toplevel_configure (void *data, struct xdg_toplevel *t, int32_t w, int32_t h,
                    struct wl_array *states)
{
  struct app *app = data;

  if (w > 0 && h > 0)
    app->width = w, app->height = h;
}
static void
toplevel_close (void *data, struct xdg_toplevel *t)
{
  ((struct app *) data)->running = false;
}
static const struct xdg_toplevel_listener toplevel_listener = {
  .configure = toplevel_configure,
  .close = toplevel_close,
};

static void
wm_ping (void *data, struct xdg_wm_base *wm, uint32_t serial)
{
  xdg_wm_base_pong (wm, serial);
}
static const struct xdg_wm_base_listener wm_listener = { .ping = wm_ping };

static void kb_keymap (void *d, struct wl_keyboard *k, uint32_t f, int32_t fd, uint32_t s) { close (fd); }
static void kb_enter (void *d, struct wl_keyboard *k, uint32_t s, struct wl_surface *su, struct wl_array *keys) {}
static void kb_leave (void *d, struct wl_keyboard *k, uint32_t s, struct wl_surface *su) {}
static void
kb_key (void *data, struct wl_keyboard *k, uint32_t serial, uint32_t time, uint32_t key,
        uint32_t state)
{
  log_line (data, "key %u %s", key, state == WL_KEYBOARD_KEY_STATE_PRESSED ? "down" : "up");
}
static void kb_modifiers (void *d, struct wl_keyboard *k, uint32_t s, uint32_t a, uint32_t b, uint32_t c, uint32_t g) {}
static void kb_repeat (void *d, struct wl_keyboard *k, int32_t r, int32_t dl) {}
static const struct wl_keyboard_listener keyboard_listener = {
  kb_keymap, kb_enter, kb_leave, kb_key, kb_modifiers, kb_repeat,
};

static void
ptr_enter (void *data, struct wl_pointer *p, uint32_t serial, struct wl_surface *s, wl_fixed_t x,
           wl_fixed_t y)
{
  log_line (data, "motion %d %d", wl_fixed_to_int (x), wl_fixed_to_int (y));
}
static void ptr_leave (void *d, struct wl_pointer *p, uint32_t s, struct wl_surface *su) {}
static void
ptr_motion (void *data, struct wl_pointer *p, uint32_t time, wl_fixed_t x, wl_fixed_t y)
{
  log_line (data, "motion %d %d", wl_fixed_to_int (x), wl_fixed_to_int (y));
}
static void
ptr_button (void *data, struct wl_pointer *p, uint32_t serial, uint32_t time, uint32_t button,
            uint32_t state)
{
  log_line (data, "button %u %s", button, state == WL_POINTER_BUTTON_STATE_PRESSED ? "down" : "up");
}
static void
ptr_axis (void *data, struct wl_pointer *p, uint32_t time, uint32_t axis, wl_fixed_t value)
{
  log_line (data, "axis %u %d", axis, wl_fixed_to_int (value));
}
static void ptr_frame (void *d, struct wl_pointer *p) {}
static void ptr_axis_source (void *d, struct wl_pointer *p, uint32_t s) {}
static void ptr_axis_stop (void *d, struct wl_pointer *p, uint32_t t, uint32_t a) {}
static void ptr_axis_discrete (void *d, struct wl_pointer *p, uint32_t a, int32_t v) {}
static const struct wl_pointer_listener pointer_listener = {
  ptr_enter, ptr_leave, ptr_motion, ptr_button, ptr_axis,
  ptr_frame, ptr_axis_source, ptr_axis_stop, ptr_axis_discrete,
};

static void
seat_caps (void *data, struct wl_seat *seat, uint32_t caps)
{
  struct app *app = data;

  if ((caps & WL_SEAT_CAPABILITY_KEYBOARD) && !app->keyboard) {
    app->keyboard = wl_seat_get_keyboard (seat);
    wl_keyboard_add_listener (app->keyboard, &keyboard_listener, app);
  }
  if ((caps & WL_SEAT_CAPABILITY_POINTER) && !app->pointer) {
    app->pointer = wl_seat_get_pointer (seat);
    wl_pointer_add_listener (app->pointer, &pointer_listener, app);
  }
}
static void seat_name (void *d, struct wl_seat *s, const char *n) {}
static const struct wl_seat_listener seat_listener = { seat_caps, seat_name };

static void
global (void *data, struct wl_registry *reg, uint32_t name, const char *iface, uint32_t version)
{
  struct app *app = data;

  if (!strcmp (iface, wl_compositor_interface.name))
    app->compositor = wl_registry_bind (reg, name, &wl_compositor_interface, 4);
  else if (!strcmp (iface, wl_shm_interface.name))
    app->shm = wl_registry_bind (reg, name, &wl_shm_interface, 1);
  else if (!strcmp (iface, xdg_wm_base_interface.name)) {
    app->wm_base = wl_registry_bind (reg, name, &xdg_wm_base_interface, 1);
    xdg_wm_base_add_listener (app->wm_base, &wm_listener, app);
  } else if (!strcmp (iface, wl_seat_interface.name) && !app->seat) {
    app->seat = wl_registry_bind (reg, name, &wl_seat_interface, version < 5 ? version : 5);
    wl_seat_add_listener (app->seat, &seat_listener, app);
  }
}
static void global_remove (void *d, struct wl_registry *r, uint32_t n) {}
static const struct wl_registry_listener registry_listener = { global, global_remove };

int
main (int argc, char **argv)
{
  struct app app = { .width = 640, .height = 480, .running = true };
  const char *serial = getenv ("FUNKHAUS_SESSION_SERIAL");

  /* Golden-angle hues by session serial: sessions made one after the other
   * differ by about 137 degrees. */
  {
    double h = fmod ((serial ? atof (serial) : 0) * 137.508 + 200.0, 360.0) / 60.0;
    double c = 0.6, x = c * (1.0 - fabs (fmod (h, 2.0) - 1.0)), m = 0.2;
    double rgb[6][3] = { { c, x, 0 }, { x, c, 0 }, { 0, c, x }, { 0, x, c }, { x, 0, c }, { c, 0, x } };
    double *p = rgb[(int) h % 6];
    app.color = (uint32_t) ((p[0] + m) * 255) << 16 | (uint32_t) ((p[1] + m) * 255) << 8 |
                (uint32_t) ((p[2] + m) * 255);
  }

  if (argc < 2) {
    fprintf (stderr, "usage: %s RECORD_FILE [RRGGBB] [--animate]\n", argv[0]);
    return 2;
  }
  for (int i = 2; i < argc; i++) {
    if (!strcmp (argv[i], "--animate"))
      app.animate = true;
    else
      app.color = (uint32_t) strtoul (argv[i], NULL, 16) & 0xffffff;
  }
  if (strstr (argv[1], "%s")) {
    static char path[4096];
    const char *session = getenv ("FUNKHAUS_SESSION");
    char *at = strstr (argv[1], "%s");
    snprintf (path, sizeof path, "%.*s%s%s", (int) (at - argv[1]), argv[1],
              session ? session : "unknown", at + 2);
    argv[1] = path;
  }
  app.record = fopen (argv[1], "a");
  if (!app.record) {
    fprintf (stderr, "cannot open %s: %s\n", argv[1], strerror (errno));
    return 1;
  }
  app.display = wl_display_connect (NULL);
  if (!app.display) {
    fprintf (stderr, "cannot connect to the Wayland display\n");
    return 1;
  }
  wl_registry_add_listener (wl_display_get_registry (app.display), &registry_listener, &app);
  wl_display_roundtrip (app.display);
  if (!app.compositor || !app.shm || !app.wm_base) {
    fprintf (stderr, "the compositor lacks wl_compositor, wl_shm or xdg_wm_base\n");
    return 1;
  }
  app.surface = wl_compositor_create_surface (app.compositor);
  app.xdg_surface = xdg_wm_base_get_xdg_surface (app.wm_base, app.surface);
  xdg_surface_add_listener (app.xdg_surface, &xdg_surface_listener, &app);
  app.toplevel = xdg_surface_get_toplevel (app.xdg_surface);
  xdg_toplevel_add_listener (app.toplevel, &toplevel_listener, &app);
  xdg_toplevel_set_title (app.toplevel, "fh-input-recorder");
  wl_surface_commit (app.surface);

  while (app.running && wl_display_dispatch (app.display) != -1)
    ;
  return 0;
}
