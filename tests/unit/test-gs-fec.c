/* Unit tests of the GameStream Reed–Solomon code (src/planes/gamestream/protocol/fec.c). */
#include <string.h>

#include "planes/gamestream/protocol/fec.h"
#include "planes/gamestream/protocol/gf256-bitwise.h"

/* The reference multiply, bit by bit (not fec.c's tables or kernels). */
static guint8
ref_mul (guint8 a, guint8 b)
{
  return (guint8) fh_gs_gf_mul_bitwise (a, b);
}

static void
test_coefficients (void)
{
  g_autoptr (FhGsFec) fec = fh_gs_fec_new (4, 2, NULL);
  /* 1/2, 1/3, 1/4, 1/5 in GF(2^8)/0x11d, computed by a separate Python
   * script (brute-force inverse with a bitwise multiply); the same numbers
   * stand at those places in nanors' GF2_8_INV table. Row 1 swaps pairs
   * because the denominators are (2 + i) XOR 1. */
  static const guint8 row0[] = { 142, 244, 71, 167 };
  static const guint8 row1[] = { 244, 142, 167, 71 };

  g_assert_nonnull (fec);
  for (guint i = 0; i < 4; i++) {
    g_assert_cmpuint (fh_gs_fec_coefficient (fec, 0, i), ==, row0[i]);
    g_assert_cmpuint (fh_gs_fec_coefficient (fec, 1, i), ==, row1[i]);
  }
  /* Every entry is 1/((m + i) ^ j): check it as a product equal to one. */
  {
    g_autoptr (FhGsFec) big = fh_gs_fec_new (200, 55, NULL);

    for (guint j = 0; j < 55; j++)
      for (guint i = 0; i < 200; i++)
        g_assert_cmpuint (ref_mul (fh_gs_fec_coefficient (big, j, i), (guint8) ((55 + i) ^ j)), ==, 1);
  }
}

static void
fill_fixed (guint8 data[4][8])
{
  for (guint i = 0; i < 4; i++)
    for (guint b = 0; b < 8; b++)
      data[i][b] = (guint8) (i * 37 + b * 11 + 5);
}

static void
test_fixed_vector (void)
{
  g_autoptr (FhGsFec) fec = fh_gs_fec_new (4, 2, NULL);
  guint8 data[4][8], parity[2][8];
  const guint8 *d[4] = { data[0], data[1], data[2], data[3] };
  guint8 *p[2] = { parity[0], parity[1] };
  /* Computed by the same independent Python script from
   * data[i][b] = (37 i + 11 b + 5) mod 256. */
  static const guint8 expect[2][8] = {
    { 0x54, 0xc9, 0x6d, 0xec, 0x53, 0xe0, 0x9d, 0x4f },
    { 0xba, 0xab, 0x6f, 0x69, 0x0b, 0xc5, 0xd4, 0x2b },
  };

  fill_fixed (data);
  fh_gs_fec_encode (fec, d, p, 8);
  g_assert_cmpmem (parity[0], 8, expect[0], 8);
  g_assert_cmpmem (parity[1], 8, expect[1], 8);
}

static void
test_matches_reference (void)
{
  const guint k = 20, m = 4;
  const gsize size = 1408;
  g_autoptr (FhGsFec) fec = fh_gs_fec_new (k, m, NULL);
  g_autoptr (GRand) rand = g_rand_new_with_seed (9);
  g_autofree guint8 *buf = g_malloc ((k + m) * size);
  g_autofree guint8 *ref = g_malloc0 (m * size);
  const guint8 *d[20];
  guint8 *p[4];

  for (gsize i = 0; i < k * size; i++)
    buf[i] = (guint8) g_rand_int (rand);
  for (guint i = 0; i < k; i++)
    d[i] = &buf[i * size];
  for (guint j = 0; j < m; j++)
    p[j] = &buf[(k + j) * size];
  fh_gs_fec_encode (fec, d, p, size);
  for (guint j = 0; j < m; j++)
    for (guint i = 0; i < k; i++)
      for (gsize b = 0; b < size; b++)
        ref[j * size + b] ^= ref_mul (fh_gs_fec_coefficient (fec, j, i), d[i][b]);
  g_assert_cmpmem (&buf[k * size], m * size, ref, m * size);
}

/* Encodes random data, then for every set of at most m lost shards wipes
 * them, reconstructs, and compares with the original. */
static void
check_every_pattern (guint k, guint m, gsize size)
{
  g_autoptr (FhGsFec) fec = fh_gs_fec_new (k, m, NULL);
  g_autoptr (GRand) rand = g_rand_new_with_seed (k * 1000 + m);
  guint n = k + m;
  g_autofree guint8 *orig = g_malloc (n * size);
  g_autofree guint8 *work = g_malloc (n * size);
  g_autofree guint8 **shards = g_new (guint8 *, n);
  g_autofree const guint8 **d = g_new (const guint8 *, k);
  g_autofree guint8 **p = g_new (guint8 *, m);
  g_autofree gboolean *present = g_new (gboolean, n);
  guint patterns = 0;

  g_assert_nonnull (fec);
  for (gsize i = 0; i < k * size; i++)
    orig[i] = (guint8) g_rand_int (rand);
  for (guint i = 0; i < k; i++)
    d[i] = &orig[i * size];
  for (guint j = 0; j < m; j++)
    p[j] = &orig[(k + j) * size];
  fh_gs_fec_encode (fec, d, p, size);
  for (guint i = 0; i < n; i++)
    shards[i] = &work[i * size];

  /* Every subset of {0..n-1} of size ≤ m, by bitmask over n ≤ 16 shards. */
  g_assert_cmpuint (n, <=, 16);
  for (guint mask = 0; mask < (1u << n); mask++) {
    g_autoptr (GError) error = NULL;

    if ((guint) __builtin_popcount (mask) > m)
      continue;
    memcpy (work, orig, n * size);
    for (guint i = 0; i < n; i++) {
      present[i] = !(mask & (1u << i));
      if (!present[i])
        memset (shards[i], 0xa5, size);
    }
    g_assert_true (fh_gs_fec_reconstruct (fec, shards, present, size, &error));
    g_assert_no_error (error);
    if (memcmp (work, orig, n * size) != 0)
      g_error ("k=%u m=%u: loss pattern 0x%x not recovered", k, m, mask);
    patterns++;
  }
  g_test_message ("k=%u m=%u: %u loss patterns recovered", k, m, patterns);
}

static void
test_every_loss_pattern (void)
{
  check_every_pattern (1, 1, 16);
  check_every_pattern (4, 2, 64);  /* the audio block: RS 4+2 */
  check_every_pattern (10, 3, 33);
  check_every_pattern (5, 5, 17);
  check_every_pattern (12, 4, 8);
}

/* Large blocks: random patterns of exactly m losses (all subsets are too
 * many), plus the worst case of losing the first m data shards. */
static void
test_large_blocks (void)
{
  const guint k = 200, m = 55;
  const gsize size = 64;
  guint n = k + m;
  g_autoptr (FhGsFec) fec = fh_gs_fec_new (k, m, NULL);
  g_autoptr (GRand) rand = g_rand_new_with_seed (255);
  g_autofree guint8 *orig = g_malloc (n * size), *work = g_malloc (n * size);
  g_autofree guint8 **shards = g_new (guint8 *, n);
  g_autofree gboolean *present = g_new (gboolean, n);

  for (gsize i = 0; i < n * size; i++)
    orig[i] = (guint8) g_rand_int (rand);
  for (guint i = 0; i < n; i++)
    shards[i] = &orig[i * size];
  fh_gs_fec_encode (fec, (const guint8 *const *) shards, &shards[k], size);
  for (guint i = 0; i < n; i++)
    shards[i] = &work[i * size];

  for (guint round = 0; round < 20; round++) {
    memcpy (work, orig, n * size);
    for (guint i = 0; i < n; i++)
      present[i] = TRUE;
    for (guint lost = 0; lost < m;) {
      guint i = round == 0 ? lost : (guint) g_rand_int_range (rand, 0, (gint32) n);

      if (present[i]) {
        present[i] = FALSE;
        memset (shards[i], 0, size);
        lost++;
      }
    }
    g_assert_true (fh_gs_fec_reconstruct (fec, shards, present, size, NULL));
    g_assert_cmpmem (work, n * size, orig, n * size);
  }
}

/* Every kernel this CPU runs gives the same parity and recovers the same. */
static void
test_kernels_agree (void)
{
  const guint k = 30, m = 6;
  const gsize size = 1408 + 7; /* a tail past the vector width */
  g_autoptr (GRand) rand = g_rand_new_with_seed (30);
  g_autofree guint8 *data = g_malloc (k * size);
  g_autofree guint8 *want = g_malloc ((k + m) * size), *got = g_malloc ((k + m) * size);
  const guint8 *d[30];
  guint8 *p[6], *shards[36];
  gboolean present[36];

  for (gsize i = 0; i < k * size; i++)
    data[i] = (guint8) g_rand_int (rand);
  for (guint i = 0; i < k; i++)
    d[i] = &data[i * size];
  for (FhGsFecKernel kernel = FH_GS_FEC_KERNEL_TABLE; kernel <= fh_gs_fec_kernel_best (); kernel++) {
    g_autoptr (FhGsFec) fec = fh_gs_fec_new (k, m, NULL);
    guint8 *out = kernel == FH_GS_FEC_KERNEL_TABLE ? want : got;

    fh_gs_fec_set_kernel (fec, kernel);
    memcpy (out, data, k * size);
    for (guint j = 0; j < m; j++)
      p[j] = &out[(k + j) * size];
    fh_gs_fec_encode (fec, d, p, size);
    g_assert_cmpmem (out, (k + m) * size, want, (k + m) * size);
    /* Lose data 0, 7, 29 and parity 1, then recover. */
    for (guint i = 0; i < k + m; i++) {
      shards[i] = &out[i * size];
      present[i] = i != 0 && i != 7 && i != 29 && i != k + 1;
      if (!present[i])
        memset (shards[i], 0, size);
    }
    g_assert_true (fh_gs_fec_reconstruct (fec, shards, present, size, NULL));
    g_assert_cmpmem (out, (k + m) * size, want, (k + m) * size);
    g_test_message ("kernel %s agrees", fh_gs_fec_kernel_to_string (kernel));
  }
}

static void
test_too_many_lost (void)
{
  g_autoptr (FhGsFec) fec = fh_gs_fec_new (4, 2, NULL);
  g_autoptr (GError) error = NULL;
  guint8 buf[6][8], before[6][8];
  guint8 *shards[6];
  gboolean present[6] = { FALSE, TRUE, FALSE, TRUE, FALSE, TRUE };

  for (guint i = 0; i < 6; i++) {
    memset (buf[i], (int) i, 8);
    shards[i] = buf[i];
  }
  memcpy (before, buf, sizeof buf);
  g_assert_false (fh_gs_fec_reconstruct (fec, shards, present, 8, &error));
  g_assert_error (error, FH_GS_FEC_ERROR, FH_GS_FEC_ERROR_TOO_MANY_LOST);
  g_assert_cmpmem (buf, sizeof buf, before, sizeof before);
}

static void
test_invalid (void)
{
  g_autoptr (GError) error = NULL;

  g_assert_null (fh_gs_fec_new (0, 1, &error));
  g_assert_error (error, FH_GS_FEC_ERROR, FH_GS_FEC_ERROR_INVALID);
  g_clear_error (&error);
  g_assert_null (fh_gs_fec_new (1, 0, &error));
  g_clear_error (&error);
  g_assert_null (fh_gs_fec_new (200, 56, &error));
  g_clear_error (&error);
  {
    g_autoptr (FhGsFec) fec = fh_gs_fec_new (200, 55, &error);

    g_assert_nonnull (fec);
  }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/gs-fec/coefficients", test_coefficients);
  g_test_add_func ("/gs-fec/fixed-vector", test_fixed_vector);
  g_test_add_func ("/gs-fec/matches-reference", test_matches_reference);
  g_test_add_func ("/gs-fec/every-loss-pattern", test_every_loss_pattern);
  g_test_add_func ("/gs-fec/large-blocks", test_large_blocks);
  g_test_add_func ("/gs-fec/kernels-agree", test_kernels_agree);
  g_test_add_func ("/gs-fec/too-many-lost", test_too_many_lost);
  g_test_add_func ("/gs-fec/invalid", test_invalid);
  return g_test_run ();
}
