/* Preloaded into a session's apps (LD_PRELOAD): makes the host's
 * user-space pads, unix sockets named /dev/input/eventN
 * (backends/pads.c), look like evdev devices, as SDL and the like open,
 * stat, ioctl and read them. Every other file goes straight to libc.
 *
 * Plain C, no GLib, nothing exported but the interposed functions. */
#undef _FILE_OFFSET_BITS /* our open/stat must be the symbols named so, not redirected to *64 */
#undef _FORTIFY_SOURCE
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#define _LARGEFILE64_SOURCE

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "backends/pad-wire.h"

#define EXPORT __attribute__ ((visibility ("default")))
#define PAD_PREFIX "/dev/input/event"
/* fds at or above this are never pads (an open that gets one fails with
 * EMFILE): the table stays a flat array, one load per call. */
#define PAD_FD_MAX 4096
/* What stat shows: char devices of a major no evdev node uses (13 is
 * input; 64… is evdev's own range, so take it from 64 + 256 up). */
#define PAD_MAJOR 13
#define PAD_MINOR_BASE 320

struct pad {
  pthread_mutex_t lock;
  struct fh_pad_wire_hello hello; /* kept current from the events read */
  struct stat st;
  uint16_t effects; /* the ids in use */
  clockid_t clock;
};

static struct pad *_Atomic pads[PAD_FD_MAX];

/* libc's own functions. */
static int (*real_open) (const char *, int, ...);
static int (*real_open64) (const char *, int, ...);
static int (*real_openat) (int, const char *, int, ...);
static int (*real_openat64) (int, const char *, int, ...);
static int (*real___open_2) (const char *, int);
static int (*real___open64_2) (const char *, int);
static int (*real_stat) (const char *, struct stat *);
static int (*real_stat64) (const char *, struct stat64 *);
static int (*real_lstat) (const char *, struct stat *);
static int (*real_lstat64) (const char *, struct stat64 *);
static int (*real_fstat) (int, struct stat *);
static int (*real_fstat64) (int, struct stat64 *);
static int (*real_ioctl) (int, unsigned long, ...);
static ssize_t (*real_read) (int, void *, size_t);
static ssize_t (*real___read_chk) (int, void *, size_t, size_t);
static int (*real_close) (int);
static int (*real_dup2) (int, int);
static int (*real_dup3) (int, int, int);

static void *
next (const char *name)
{
  return dlsym (RTLD_NEXT, name);
}

static pthread_once_t init_once = PTHREAD_ONCE_INIT;

static void
shim_init_once (void)
{
  real_open = next ("open");
  real_open64 = next ("open64");
  real_openat = next ("openat");
  real_openat64 = next ("openat64");
  real___open_2 = next ("__open_2");
  real___open64_2 = next ("__open64_2");
  real_stat = next ("stat");
  real_stat64 = next ("stat64");
  real_lstat = next ("lstat");
  real_lstat64 = next ("lstat64");
  real_fstat = next ("fstat");
  real_fstat64 = next ("fstat64");
  real_ioctl = next ("ioctl");
  real_read = next ("read");
  real___read_chk = next ("__read_chk");
  real_close = next ("close");
  real_dup2 = next ("dup2");
  real_dup3 = next ("dup3");
}

/* Another library's constructor may call in before ours ran. */
#define INIT() pthread_once (&init_once, shim_init_once)

__attribute__ ((constructor)) static void
shim_init (void)
{
  INIT ();
}

static struct pad *
pad_get (int fd)
{
  if (fd < 0 || fd >= PAD_FD_MAX)
    return NULL;
  return atomic_load_explicit (&pads[fd], memory_order_acquire);
}

static int
is_pad_path (const char *path)
{
  return path != NULL && strncmp (path, PAD_PREFIX, sizeof PAD_PREFIX - 1) == 0;
}

/* A pad's node number from its path (eventN → N). */
static unsigned
pad_path_index (const char *path)
{
  return (unsigned) strtoul (path + sizeof PAD_PREFIX - 1, NULL, 10);
}

static void
pad_fake_stat (const char *path, struct stat *st)
{
  st->st_mode = S_IFCHR | (st->st_mode & 07777);
  st->st_rdev = makedev (PAD_MAJOR, PAD_MINOR_BASE + pad_path_index (path));
  st->st_size = 0;
}

/* Whether @path is a pad's socket (its real stat in @st). */
static int
pad_socket_stat (const char *path, struct stat *st)
{
  if (!is_pad_path (path) || real_stat == NULL)
    return 0;
  return real_stat (path, st) == 0 && S_ISSOCK (st->st_mode);
}

static int
pad_open (const char *path, int flags, const struct stat *st)
{
  struct sockaddr_un addr = { .sun_family = AF_UNIX };
  struct timeval timeout = { .tv_sec = 2 };
  struct timeval none = { 0 };
  struct pad *pad;
  ssize_t len;
  int fd, errsv;

  if (strlen (path) >= sizeof addr.sun_path) {
    errno = ENAMETOOLONG;
    return -1;
  }
  strcpy (addr.sun_path, path);
  fd = socket (AF_UNIX, SOCK_SEQPACKET | ((flags & O_CLOEXEC) ? SOCK_CLOEXEC : 0), 0);
  if (fd < 0)
    return -1;
  if (fd >= PAD_FD_MAX) {
    real_close (fd);
    errno = EMFILE;
    return -1;
  }
  pad = calloc (1, sizeof *pad);
  if (pad == NULL) {
    real_close (fd);
    errno = ENOMEM;
    return -1;
  }
  if (connect (fd, (struct sockaddr *) &addr, sizeof addr) < 0) {
    /* A pad being unplugged: as a node that went. */
    errsv = errno == ECONNREFUSED ? ENODEV : errno;
    goto fail;
  }
  setsockopt (fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  do
    len = recv (fd, &pad->hello, sizeof pad->hello, 0);
  while (len < 0 && errno == EINTR);
  setsockopt (fd, SOL_SOCKET, SO_RCVTIMEO, &none, sizeof none);
  if (len != sizeof pad->hello || pad->hello.magic != FH_PAD_WIRE_MAGIC ||
      pad->hello.version != FH_PAD_WIRE_VERSION) {
    errsv = len < 0 ? errno : ENODEV;
    goto fail;
  }
  if ((flags & O_NONBLOCK) && fcntl (fd, F_SETFL, O_NONBLOCK) < 0) {
    errsv = errno;
    goto fail;
  }
  pad->st = *st;
  pad_fake_stat (path, &pad->st);
  pad->clock = CLOCK_REALTIME;
  pthread_mutex_init (&pad->lock, NULL);
  atomic_store_explicit (&pads[fd], pad, memory_order_release);
  return fd;

fail:
  free (pad);
  real_close (fd);
  errno = errsv;
  return -1;
}

/* ---- open ---- */

#define OPEN_MODE(flags, mode)                                                     \
  do {                                                                             \
    if ((flags) & (O_CREAT | __O_TMPFILE)) {                                       \
      va_list ap;                                                                  \
      va_start (ap, flags);                                                        \
      mode = va_arg (ap, mode_t);                                                  \
      va_end (ap);                                                                 \
    }                                                                              \
  } while (0)

#define NOT_A_PAD (-2)

/* A pad's descriptor for @path (or -1 with errno), or NOT_A_PAD: then the
 * real call opens it. */
static int
open_pad (const char *path, int flags)
{
  struct stat st;

  INIT ();
  return pad_socket_stat (path, &st) ? pad_open (path, flags, &st) : NOT_A_PAD;
}

EXPORT int
open (const char *path, int flags, ...)
{
  mode_t mode = 0;
  int fd = open_pad (path, flags);

  OPEN_MODE (flags, mode);
  return fd != NOT_A_PAD ? fd : real_open (path, flags, mode);
}

EXPORT int
open64 (const char *path, int flags, ...)
{
  mode_t mode = 0;
  int fd = open_pad (path, flags);

  OPEN_MODE (flags, mode);
  return fd != NOT_A_PAD ? fd : real_open64 (path, flags, mode);
}

EXPORT int
openat (int dirfd, const char *path, int flags, ...)
{
  mode_t mode = 0;
  int fd = open_pad (path, flags);

  OPEN_MODE (flags, mode);
  return fd != NOT_A_PAD ? fd : real_openat (dirfd, path, flags, mode);
}

EXPORT int
openat64 (int dirfd, const char *path, int flags, ...)
{
  mode_t mode = 0;
  int fd = open_pad (path, flags);

  OPEN_MODE (flags, mode);
  return fd != NOT_A_PAD ? fd : real_openat64 (dirfd, path, flags, mode);
}

EXPORT int
__open_2 (const char *path, int flags)
{
  int fd = open_pad (path, flags);

  return fd != NOT_A_PAD ? fd : real___open_2 (path, flags);
}

EXPORT int
__open64_2 (const char *path, int flags)
{
  int fd = open_pad (path, flags);

  return fd != NOT_A_PAD ? fd : real___open64_2 (path, flags);
}

/* ---- stat: a pad's socket is a char device ---- */

EXPORT int
stat (const char *path, struct stat *st)
{
  INIT ();
  int r = real_stat (path, st);
  if (r == 0 && S_ISSOCK (st->st_mode) && is_pad_path (path))
    pad_fake_stat (path, st);
  return r;
}

EXPORT int
lstat (const char *path, struct stat *st)
{
  INIT ();
  int r = real_lstat (path, st);
  if (r == 0 && S_ISSOCK (st->st_mode) && is_pad_path (path))
    pad_fake_stat (path, st);
  return r;
}

/* struct stat64 is struct stat on the 64-bit machines this is built for. */
_Static_assert (sizeof (struct stat64) == sizeof (struct stat), "stat64 is not stat");

EXPORT int
stat64 (const char *path, struct stat64 *st)
{
  INIT ();
  int r = real_stat64 (path, st);
  if (r == 0 && S_ISSOCK (st->st_mode) && is_pad_path (path))
    pad_fake_stat (path, (struct stat *) st);
  return r;
}

EXPORT int
lstat64 (const char *path, struct stat64 *st)
{
  INIT ();
  int r = real_lstat64 (path, st);
  if (r == 0 && S_ISSOCK (st->st_mode) && is_pad_path (path))
    pad_fake_stat (path, (struct stat *) st);
  return r;
}

EXPORT int
fstat (int fd, struct stat *st)
{
  INIT ();
  struct pad *pad = pad_get (fd);
  if (pad != NULL) {
    *st = pad->st;
    return 0;
  }
  return real_fstat (fd, st);
}

EXPORT int
fstat64 (int fd, struct stat64 *st)
{
  INIT ();
  struct pad *pad = pad_get (fd);
  if (pad != NULL) {
    memcpy (st, &pad->st, sizeof *st);
    return 0;
  }
  return real_fstat64 (fd, st);
}

/* ---- ioctl: evdev's answers ---- */

static int
bits_out (void *arg, unsigned size, const uint8_t *bits, unsigned max_bit)
{
  /* evdev's bits_to_user: BITS_TO_LONGS(max) longs, cut to the caller's size. */
  unsigned len = (max_bit + 8 * sizeof (long) - 1) / (8 * sizeof (long)) * sizeof (long);
  if (len > size)
    len = size;
  if (bits != NULL)
    memcpy (arg, bits, len);
  else
    memset (arg, 0, len);
  return (int) len;
}

static int
str_out (void *arg, unsigned size, const char *str)
{
  unsigned len = (unsigned) strlen (str) + 1;
  if (len > size)
    len = size;
  memcpy (arg, str, len);
  return (int) len;
}

static int
send_effect (int fd, uint16_t op, int16_t id, const struct ff_effect *effect)
{
  struct fh_pad_wire_effect record = { .magic = FH_PAD_WIRE_MAGIC, .op = op, .id = id };

  if (effect != NULL) {
    record.length_ms = effect->replay.length;
    if (effect->type == FF_RUMBLE) {
      record.strong = effect->u.rumble.strong_magnitude;
      record.weak = effect->u.rumble.weak_magnitude;
    } else {
      int m = abs ((int) effect->u.periodic.magnitude) * 2;
      record.strong = record.weak = (uint16_t) (m > 0xffff ? 0xffff : m);
    }
  }
  if (send (fd, &record, sizeof record, MSG_NOSIGNAL) != sizeof record) {
    errno = ENODEV;
    return -1;
  }
  return 0;
}

static int
pad_ioctl (int fd, struct pad *pad, unsigned long request, void *arg)
{
  unsigned type = _IOC_TYPE (request), nr = _IOC_NR (request), size = _IOC_SIZE (request);
  int r = 0;

  if (type != 'E') {
    /* The fd's own (FIONBIO, FIOCLEX…) work on the socket; nothing of
     * another driver answers on evdev. */
    if (request == FIONBIO || request == FIOCLEX || request == FIONCLEX || request == FIOASYNC)
      return real_ioctl (fd, request, arg);
    errno = ENOTTY;
    return -1;
  }

  pthread_mutex_lock (&pad->lock);
  switch (request) {
  case EVIOCGVERSION:
    *(int *) arg = EV_VERSION;
    goto out;
  case EVIOCGID:
    memcpy (arg, &pad->hello.id, sizeof pad->hello.id);
    goto out;
  case EVIOCGREP:
  case EVIOCSREP:
    r = -ENOSYS;
    goto out;
  case EVIOCGEFFECTS:
    *(int *) arg = FH_PAD_WIRE_EFFECTS;
    goto out;
  case EVIOCGRAB:
  case EVIOCSCLOCKID:
    if (request == EVIOCSCLOCKID) {
      int clock = *(int *) arg;
      if (clock != CLOCK_REALTIME && clock != CLOCK_MONOTONIC && clock != CLOCK_BOOTTIME) {
        r = -EINVAL;
        goto out;
      }
      pad->clock = clock;
    }
    goto out;
  case EVIOCREVOKE:
    r = arg != NULL ? -EINVAL : 0;
    goto out;
  case EVIOCSFF: {
    struct ff_effect *effect = arg;
    int id = effect->id;
    if (effect->type != FF_RUMBLE && effect->type != FF_PERIODIC) {
      r = -EINVAL;
      goto out;
    }
    if (id == -1) {
      for (id = 0; id < FH_PAD_WIRE_EFFECTS && (pad->effects & (1u << id)); id++)
        ;
      if (id == FH_PAD_WIRE_EFFECTS) {
        r = -ENOSPC;
        goto out;
      }
    } else if (id < 0 || id >= FH_PAD_WIRE_EFFECTS || !(pad->effects & (1u << id))) {
      r = -EINVAL;
      goto out;
    }
    if (send_effect (fd, FH_PAD_WIRE_EFFECT_UPLOAD, (int16_t) id, effect) < 0) {
      r = -errno;
      goto out;
    }
    pad->effects |= (uint16_t) (1u << id);
    effect->id = (int16_t) id;
    goto out;
  }
  case EVIOCRMFF: {
    int id = (int) (unsigned long) arg;
    if (id < 0 || id >= FH_PAD_WIRE_EFFECTS || !(pad->effects & (1u << id))) {
      r = -EINVAL;
      goto out;
    }
    pad->effects &= (uint16_t) ~(1u << id);
    if (send_effect (fd, FH_PAD_WIRE_EFFECT_ERASE, (int16_t) id, NULL) < 0)
      r = -errno;
    goto out;
  }
  }

  if (_IOC_DIR (request) == _IOC_READ) {
    if (nr >= _IOC_NR (EVIOCGABS (0)) && nr < _IOC_NR (EVIOCGABS (0)) + ABS_CNT) {
      struct input_absinfo *abs = &pad->hello.abs[nr - _IOC_NR (EVIOCGABS (0))];
      if (!fh_pad_wire_test_bit (pad->hello.abs_bits, nr - _IOC_NR (EVIOCGABS (0)))) {
        r = -EINVAL;
        goto out;
      }
      memcpy (arg, abs, size < sizeof *abs ? size : sizeof *abs);
      goto out;
    }
    if (nr >= _IOC_NR (EVIOCGBIT (0, 0)) && nr < _IOC_NR (EVIOCGBIT (0, 0)) + EV_CNT) {
      unsigned ev = nr - _IOC_NR (EVIOCGBIT (0, 0));
      uint8_t evbits[sizeof (long)] = { 0 }; /* BITS_TO_LONGS (EV_MAX) longs */
      switch (ev) {
      case 0:
        fh_pad_wire_set_bit (evbits, EV_SYN, 1);
        fh_pad_wire_set_bit (evbits, EV_KEY, 1);
        fh_pad_wire_set_bit (evbits, EV_ABS, 1);
        fh_pad_wire_set_bit (evbits, EV_FF, 1);
        r = bits_out (arg, size, evbits, EV_MAX);
        break;
      case EV_KEY:
        r = bits_out (arg, size, pad->hello.key_bits, KEY_MAX);
        break;
      case EV_ABS:
        r = bits_out (arg, size, pad->hello.abs_bits, ABS_MAX);
        break;
      case EV_FF:
        r = bits_out (arg, size, pad->hello.ff_bits, FF_MAX);
        break;
      case EV_REL:
        r = bits_out (arg, size, NULL, REL_MAX);
        break;
      case EV_MSC:
        r = bits_out (arg, size, NULL, MSC_MAX);
        break;
      case EV_LED:
        r = bits_out (arg, size, NULL, LED_MAX);
        break;
      case EV_SND:
        r = bits_out (arg, size, NULL, SND_MAX);
        break;
      case EV_SW:
        r = bits_out (arg, size, NULL, SW_MAX);
        break;
      default:
        r = -EINVAL;
      }
      goto out;
    }
    switch (nr) {
    case _IOC_NR (EVIOCGNAME (0)):
      r = str_out (arg, size, pad->hello.name);
      goto out;
    case _IOC_NR (EVIOCGPHYS (0)):
      r = str_out (arg, size, "funkhaus-pad/input0");
      goto out;
    case _IOC_NR (EVIOCGUNIQ (0)):
      r = -ENOENT;
      goto out;
    case _IOC_NR (EVIOCGPROP (0)):
      r = bits_out (arg, size, NULL, INPUT_PROP_MAX);
      goto out;
    case _IOC_NR (EVIOCGKEY (0)):
      r = bits_out (arg, size, pad->hello.key_state, KEY_MAX);
      goto out;
    case _IOC_NR (EVIOCGLED (0)):
      r = bits_out (arg, size, NULL, LED_MAX);
      goto out;
    case _IOC_NR (EVIOCGSND (0)):
      r = bits_out (arg, size, NULL, SND_MAX);
      goto out;
    case _IOC_NR (EVIOCGSW (0)):
      r = bits_out (arg, size, NULL, SW_MAX);
      goto out;
    }
  }
  if (_IOC_DIR (request) == _IOC_WRITE && nr >= _IOC_NR (EVIOCSABS (0)) &&
      nr < _IOC_NR (EVIOCSABS (0)) + ABS_CNT)
    goto out; /* taken and forgotten: the host owns the ranges */
  r = -EINVAL;

out:
  pthread_mutex_unlock (&pad->lock);
  if (r < 0) {
    errno = -r;
    return -1;
  }
  return r;
}

EXPORT int
ioctl (int fd, unsigned long request, ...)
{
  struct pad *pad;
  va_list ap;
  void *arg;

  INIT ();
  va_start (ap, request);
  arg = va_arg (ap, void *);
  va_end (ap);
  pad = pad_get (fd);
  if (pad == NULL)
    return real_ioctl (fd, request, arg);
  return pad_ioctl (fd, pad, request, arg);
}

/* ---- read: the host's frames; 0 (the host closed) is a pulled pad ---- */

static ssize_t
pad_read (int fd, struct pad *pad, void *buf, size_t count)
{
  ssize_t len = real_read (fd, buf, count);
  struct input_event *events = buf;
  size_t n;

  if (len == 0 && count > 0) {
    errno = ENODEV;
    return -1;
  }
  if (len <= 0)
    return len;

  n = (size_t) len / sizeof *events;
  pthread_mutex_lock (&pad->lock);
  for (size_t i = 0; i < n; i++) {
    if (events[i].type == EV_KEY && events[i].code < KEY_CNT)
      fh_pad_wire_set_bit (pad->hello.key_state, events[i].code, events[i].value != 0);
    else if (events[i].type == EV_ABS && events[i].code < ABS_CNT)
      pad->hello.abs[events[i].code].value = events[i].value;
  }
  if (pad->clock != CLOCK_REALTIME && n > 0) {
    /* The host stamps CLOCK_REALTIME, evdev's default; an app that asked
     * for another clock gets the stamps moved by the clocks' difference. */
    struct timespec real, other;
    clock_gettime (CLOCK_REALTIME, &real);
    clock_gettime (pad->clock, &other);
    long long shift = ((long long) other.tv_sec - real.tv_sec) * 1000000 +
                      (other.tv_nsec - real.tv_nsec) / 1000;
    for (size_t i = 0; i < n; i++) {
      long long us = (long long) events[i].input_event_sec * 1000000 +
                     events[i].input_event_usec + shift;
      events[i].input_event_sec = us / 1000000;
      events[i].input_event_usec = us % 1000000;
    }
  }
  pthread_mutex_unlock (&pad->lock);
  return len;
}

EXPORT ssize_t
read (int fd, void *buf, size_t count)
{
  INIT ();
  struct pad *pad = pad_get (fd);
  if (pad == NULL)
    return real_read (fd, buf, count);
  return pad_read (fd, pad, buf, count);
}

EXPORT ssize_t
__read_chk (int fd, void *buf, size_t count, size_t buflen)
{
  INIT ();
  struct pad *pad = pad_get (fd);
  if (pad == NULL || count > buflen)
    return real___read_chk (fd, buf, count, buflen);
  return pad_read (fd, pad, buf, count);
}

static void
pad_forget (int fd)
{
  if (fd >= 0 && fd < PAD_FD_MAX && atomic_load_explicit (&pads[fd], memory_order_relaxed)) {
    struct pad *pad = atomic_exchange (&pads[fd], NULL);
    if (pad != NULL) {
      pthread_mutex_destroy (&pad->lock);
      free (pad);
    }
  }
}

EXPORT int
close (int fd)
{
  INIT ();
  pad_forget (fd);
  return real_close (fd);
}

/* A pad's fd that another is dup'ed over is no pad any more. (A dup of a
 * pad is a plain socket: nothing this shim knows opens one.) */
EXPORT int
dup2 (int oldfd, int newfd)
{
  INIT ();
  int r = real_dup2 (oldfd, newfd);
  if (r >= 0 && oldfd != newfd)
    pad_forget (newfd);
  return r;
}

EXPORT int
dup3 (int oldfd, int newfd, int flags)
{
  INIT ();
  int r = real_dup3 (oldfd, newfd, flags);
  if (r >= 0)
    pad_forget (newfd);
  return r;
}
