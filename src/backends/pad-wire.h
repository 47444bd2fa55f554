/* The wire between the host's user-space pads (backends/pads.c) and the
 * preloaded shim of a session's apps (backends/pad-shim/pad-shim.c): datagrams on
 * a unix SOCK_SEQPACKET socket. No GLib here: the shim includes it too.
 *
 * Host → shim: first one struct fh_pad_wire_hello per connection, then
 * input frames, each datagram N struct input_event that end with
 * EV_SYN/SYN_REPORT (at most FH_PAD_WIRE_FRAME_MAX events).
 * Shim → host: a struct input_event the app wrote (EV_FF: play/stop of an
 * effect id, FF_GAIN), or a struct fh_pad_wire_effect (EVIOCSFF, EVIOCRMFF);
 * the size of the datagram tells which.
 *
 * Bit arrays are bytes, bit n in byte n / 8: the same memory as the
 * kernel's arrays of unsigned long on a little-endian machine, which is
 * every machine this runs on (the shim copies them out as they are). */
#pragma once

#include <linux/input.h>
#include <stdint.h>

#define FH_PAD_WIRE_MAGIC 0x44504846u /* "FHPD" */
#define FH_PAD_WIRE_VERSION 1u
/* Effects one connection can hold, as the kernel's ff-memless. */
#define FH_PAD_WIRE_EFFECTS 16
#define FH_PAD_WIRE_FRAME_MAX 32

struct fh_pad_wire_hello {
  uint32_t magic;
  uint32_t version;
  struct input_id id;
  char name[80];
  uint8_t key_bits[KEY_CNT / 8];
  uint8_t abs_bits[ABS_CNT / 8];
  uint8_t ff_bits[FF_CNT / 8];
  /* Every axis, its current value in .value. */
  struct input_absinfo abs[ABS_CNT];
  /* The keys down now. */
  uint8_t key_state[KEY_CNT / 8];
};

enum {
  FH_PAD_WIRE_EFFECT_UPLOAD = 1,
  FH_PAD_WIRE_EFFECT_ERASE = 2,
};

struct fh_pad_wire_effect {
  uint32_t magic;
  uint16_t op; /* FH_PAD_WIRE_EFFECT_* */
  int16_t id;  /* 0 … FH_PAD_WIRE_EFFECTS - 1 */
  uint16_t strong, weak; /* 0 … 65535, both motors (a periodic effect: its magnitude on both) */
  uint16_t length_ms;    /* 0: until stopped */
  uint16_t reserved;
};

static inline int
fh_pad_wire_test_bit (const uint8_t *bits, unsigned bit)
{
  return (bits[bit / 8] >> (bit % 8)) & 1;
}

static inline void
fh_pad_wire_set_bit (uint8_t *bits, unsigned bit, int on)
{
  if (on)
    bits[bit / 8] |= (uint8_t) (1u << (bit % 8));
  else
    bits[bit / 8] &= (uint8_t) ~(1u << (bit % 8));
}
