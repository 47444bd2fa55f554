/* The field of Moonlight's Reed–Solomon code (nanors, see
 * docs/gamestream.md): GF(2^8) with polynomial x^8 + x^4 + x^3 + x^2 + 1
 * (0x11d), generator 2. A multiply bit by bit, shift and add: what
 * gen-gf256.c makes fec.c's tables from, and the plain reference the FEC
 * tests and benchmark hold the table and SIMD kernels against. Plain C
 * (the generator is built for the build machine, without GLib). */
#pragma once

#define FH_GS_GF_POLY 0x11d

static inline unsigned
fh_gs_gf_mul_bitwise (unsigned a, unsigned b)
{
  unsigned r = 0;

  for (; b; b >>= 1) {
    if (b & 1)
      r ^= a;
    a <<= 1;
    if (a & 0x100)
      a ^= FH_GS_GF_POLY;
  }
  return r;
}
