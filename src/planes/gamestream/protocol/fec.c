/* Reed–Solomon over GF(2^8), Moonlight-compatible (see fec.h): a Cauchy
 * parity matrix, table-driven multiply, Gauss–Jordan on the lost columns. */
#include "planes/gamestream/protocol/fec.h"

#include <string.h>

#include "planes/gamestream/protocol/gf256-tables.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#define FH_GS_FEC_X86 1
#endif

G_DEFINE_QUARK (fh-gs-fec-error-quark, fh_gs_fec_error)

struct _FhGsFec {
  FhGsFecKernel kernel;
  guint data_shards;
  guint parity_shards;
  guint8 matrix[]; /* parity_shards rows of data_shards entries */
};

FhGsFec *
fh_gs_fec_new (guint data_shards, guint parity_shards, GError **error)
{
  FhGsFec *fec;

  if (data_shards == 0 || parity_shards == 0 || data_shards + parity_shards > FH_GS_FEC_MAX_SHARDS) {
    g_set_error (error, FH_GS_FEC_ERROR, FH_GS_FEC_ERROR_INVALID,
                 "FEC block of %u data and %u parity shards: need at least one of each and at most %u "
                 "in all",
                 data_shards, parity_shards, FH_GS_FEC_MAX_SHARDS);
    return NULL;
  }
  fec = g_malloc (sizeof *fec + (gsize) data_shards * parity_shards);
  fec->kernel = fh_gs_fec_kernel_best ();
  fec->data_shards = data_shards;
  fec->parity_shards = parity_shards;
  /* Row j, column i: 1 / (x_j + y_i) with x_j = j and y_i = parity_shards + i;
   * addition in GF(2^8) is XOR. The x and y sets never meet (j < parity_shards
   * ≤ y_i, and both stay below 256), so every square submatrix is invertible:
   * any data_shards of the shards recover the rest. This is the matrix
   * nanors' reed_solomon_new_static builds; it must stay exactly this. */
  for (guint j = 0; j < parity_shards; j++)
    for (guint i = 0; i < data_shards; i++)
      fec->matrix[j * data_shards + i] = fh_gs_gf_inv[(parity_shards + i) ^ j];
  return fec;
}

void
fh_gs_fec_set_kernel (FhGsFec *fec, FhGsFecKernel kernel)
{
  fec->kernel = kernel;
#ifndef FH_GS_FEC_X86
  fec->kernel = FH_GS_FEC_KERNEL_TABLE;
#endif
}

void
fh_gs_fec_free (FhGsFec *fec)
{
  g_free (fec);
}

guint
fh_gs_fec_data_shards (const FhGsFec *fec)
{
  return fec->data_shards;
}

guint
fh_gs_fec_parity_shards (const FhGsFec *fec)
{
  return fec->parity_shards;
}

guint8
fh_gs_fec_coefficient (const FhGsFec *fec, guint parity, guint data)
{
  g_return_val_if_fail (parity < fec->parity_shards && data < fec->data_shards, 0);
  return fec->matrix[parity * fec->data_shards + data];
}

static void
mul_add_table (guint8 *dst, const guint8 *src, guint8 c, gsize n)
{
  const guint8 *row = fh_gs_gf_mul[c];

  for (gsize i = 0; i < n; i++)
    dst[i] ^= row[src[i]];
}

#ifdef FH_GS_FEC_X86
/* c · x = c · (x & 15) ^ c · (x >> 4 << 4): two 16-entry tables, looked up
 * 32 bytes at a time with vpshufb (the split-table method nanors and ISA-L
 * also use). */
static void
nibble_tables (guint8 c, guint8 lo[16], guint8 hi[16])
{
  for (guint x = 0; x < 16; x++) {
    lo[x] = fh_gs_gf_mul[c][x];
    hi[x] = fh_gs_gf_mul[c][x << 4];
  }
}

__attribute__ ((target ("avx2"))) static void
mul_add_avx2 (guint8 *dst, const guint8 *src, guint8 c, gsize n)
{
  guint8 lo[16], hi[16];
  __m256i tlo, thi, mask = _mm256_set1_epi8 (0x0f);
  gsize i = 0;

  nibble_tables (c, lo, hi);
  tlo = _mm256_broadcastsi128_si256 (_mm_loadu_si128 ((const __m128i *) lo));
  thi = _mm256_broadcastsi128_si256 (_mm_loadu_si128 ((const __m128i *) hi));
  for (; i + 32 <= n; i += 32) {
    __m256i x = _mm256_loadu_si256 ((const __m256i *) (src + i));
    __m256i l = _mm256_shuffle_epi8 (tlo, _mm256_and_si256 (x, mask));
    __m256i h = _mm256_shuffle_epi8 (thi, _mm256_and_si256 (_mm256_srli_epi64 (x, 4), mask));
    __m256i d = _mm256_loadu_si256 ((const __m256i *) (dst + i));

    _mm256_storeu_si256 ((__m256i *) (dst + i), _mm256_xor_si256 (d, _mm256_xor_si256 (l, h)));
  }
  mul_add_table (dst + i, src + i, c, n - i);
}

__attribute__ ((target ("ssse3"))) static void
mul_add_ssse3 (guint8 *dst, const guint8 *src, guint8 c, gsize n)
{
  guint8 lo[16], hi[16];
  __m128i tlo, thi, mask = _mm_set1_epi8 (0x0f);
  gsize i = 0;

  nibble_tables (c, lo, hi);
  tlo = _mm_loadu_si128 ((const __m128i *) lo);
  thi = _mm_loadu_si128 ((const __m128i *) hi);
  for (; i + 16 <= n; i += 16) {
    __m128i x = _mm_loadu_si128 ((const __m128i *) (src + i));
    __m128i l = _mm_shuffle_epi8 (tlo, _mm_and_si128 (x, mask));
    __m128i h = _mm_shuffle_epi8 (thi, _mm_and_si128 (_mm_srli_epi64 (x, 4), mask));
    __m128i d = _mm_loadu_si128 ((const __m128i *) (dst + i));

    _mm_storeu_si128 ((__m128i *) (dst + i), _mm_xor_si128 (d, _mm_xor_si128 (l, h)));
  }
  mul_add_table (dst + i, src + i, c, n - i);
}
#endif

FhGsFecKernel
fh_gs_fec_kernel_best (void)
{
#ifdef FH_GS_FEC_X86
  if (__builtin_cpu_supports ("avx2"))
    return FH_GS_FEC_KERNEL_AVX2;
  if (__builtin_cpu_supports ("ssse3"))
    return FH_GS_FEC_KERNEL_SSSE3;
#endif
  return FH_GS_FEC_KERNEL_TABLE;
}

const char *
fh_gs_fec_kernel_to_string (FhGsFecKernel kernel)
{
  switch (kernel) {
  case FH_GS_FEC_KERNEL_TABLE:
    return "table";
  case FH_GS_FEC_KERNEL_SSSE3:
    return "ssse3";
  case FH_GS_FEC_KERNEL_AVX2:
    return "avx2";
  }
  return "unknown";
}

static void
kernel_mul_add (FhGsFecKernel kernel, guint8 *dst, const guint8 *src, guint8 c, gsize n)
{
  if (c == 0)
    return;
  if (c == 1) {
    for (gsize i = 0; i < n; i++)
      dst[i] ^= src[i];
    return;
  }
  switch (kernel) {
#ifdef FH_GS_FEC_X86
  case FH_GS_FEC_KERNEL_AVX2:
    mul_add_avx2 (dst, src, c, n);
    return;
  case FH_GS_FEC_KERNEL_SSSE3:
    mul_add_ssse3 (dst, src, c, n);
    return;
#endif
  default:
    mul_add_table (dst, src, c, n);
  }
}

void
fh_gs_fec_mul_add (guint8 *dst, const guint8 *src, guint8 c, gsize n)
{
  kernel_mul_add (fh_gs_fec_kernel_best (), dst, src, c, n);
}

/* dst = c · src. */
static void
mul_set (FhGsFecKernel kernel, guint8 *dst, const guint8 *src, guint8 c, gsize n)
{
  if (c == 1) {
    memcpy (dst, src, n);
    return;
  }
  memset (dst, 0, n);
  kernel_mul_add (kernel, dst, src, c, n);
}

/* dst = Σ matrix[row][i] · sources[i], over every data shard. */
static void
encode_row (const FhGsFec *fec, guint row, const guint8 *const *sources, guint8 *dst, gsize size)
{
  const guint8 *coef = &fec->matrix[row * fec->data_shards];

  mul_set (fec->kernel, dst, sources[0], coef[0], size);
  for (guint i = 1; i < fec->data_shards; i++)
    kernel_mul_add (fec->kernel, dst, sources[i], coef[i], size);
}

void
fh_gs_fec_encode (const FhGsFec *fec, const guint8 *const *data, guint8 *const *parity,
                  gsize shard_size)
{
  for (guint j = 0; j < fec->parity_shards; j++)
    encode_row (fec, j, data, parity[j], shard_size);
}

/* Inverts the n × n matrix @m in place (Gauss–Jordan). FALSE if singular,
 * which a Cauchy submatrix never is. */
static gboolean
invert (guint8 *m, guint n)
{
  g_autofree guint8 *inv = g_malloc0 ((gsize) n * n);

  for (guint i = 0; i < n; i++)
    inv[i * n + i] = 1;
  for (guint col = 0; col < n; col++) {
    guint pivot = col;
    guint8 scale;

    while (pivot < n && m[pivot * n + col] == 0)
      pivot++;
    if (pivot == n)
      return FALSE;
    if (pivot != col) {
      for (guint k = 0; k < n; k++) {
        guint8 t = m[col * n + k];
        m[col * n + k] = m[pivot * n + k];
        m[pivot * n + k] = t;
        t = inv[col * n + k];
        inv[col * n + k] = inv[pivot * n + k];
        inv[pivot * n + k] = t;
      }
    }
    scale = fh_gs_gf_inv[m[col * n + col]];
    for (guint k = 0; k < n; k++) {
      m[col * n + k] = fh_gs_gf_mul[scale][m[col * n + k]];
      inv[col * n + k] = fh_gs_gf_mul[scale][inv[col * n + k]];
    }
    for (guint r = 0; r < n; r++) {
      guint8 f = m[r * n + col];

      if (r == col || f == 0)
        continue;
      for (guint k = 0; k < n; k++) {
        m[r * n + k] ^= fh_gs_gf_mul[f][m[col * n + k]];
        inv[r * n + k] ^= fh_gs_gf_mul[f][inv[col * n + k]];
      }
    }
  }
  memcpy (m, inv, (gsize) n * n);
  return TRUE;
}

gboolean
fh_gs_fec_reconstruct (const FhGsFec *fec, guint8 *const *shards, const gboolean *present,
                       gsize shard_size, GError **error)
{
  guint k = fec->data_shards, m = fec->parity_shards;
  guint lost[FH_GS_FEC_MAX_SHARDS], rows[FH_GS_FEC_MAX_SHARDS];
  guint n_lost = 0, n_rows = 0;
  g_autofree guint8 *sub = NULL, *syndromes = NULL;

  for (guint i = 0; i < k; i++)
    if (!present[i])
      lost[n_lost++] = i;
  for (guint j = 0; j < m && n_rows < n_lost; j++)
    if (present[k + j])
      rows[n_rows++] = j;
  if (n_rows < n_lost) {
    guint arrived = 0;

    for (guint i = 0; i < k + m; i++)
      arrived += present[i] ? 1 : 0;
    g_set_error (error, FH_GS_FEC_ERROR, FH_GS_FEC_ERROR_TOO_MANY_LOST,
                 "FEC block unrecoverable: %u of %u shards arrived, %u needed", arrived, k + m, k);
    return FALSE;
  }

  if (n_lost > 0) {
    /* Parity row r minus the contribution of the data we have leaves
     * Σ_b coef(r, lost_b) · d_lost_b: n_lost equations in n_lost unknowns. */
    sub = g_malloc ((gsize) n_lost * n_lost);
    syndromes = g_malloc ((gsize) n_lost * shard_size);
    for (guint a = 0; a < n_lost; a++) {
      guint8 *s = &syndromes[a * shard_size];
      const guint8 *coef = &fec->matrix[rows[a] * k];

      memcpy (s, shards[k + rows[a]], shard_size);
      for (guint i = 0; i < k; i++)
        if (present[i])
          kernel_mul_add (fec->kernel, s, shards[i], coef[i], shard_size);
      for (guint b = 0; b < n_lost; b++)
        sub[a * n_lost + b] = coef[lost[b]];
    }
    if (!invert (sub, n_lost)) {
      g_set_error (error, FH_GS_FEC_ERROR, FH_GS_FEC_ERROR_INVALID, "FEC matrix is singular");
      return FALSE;
    }
    for (guint b = 0; b < n_lost; b++) {
      guint8 *dst = shards[lost[b]];

      mul_set (fec->kernel, dst, syndromes, sub[b * n_lost], shard_size);
      for (guint a = 1; a < n_lost; a++)
        kernel_mul_add (fec->kernel, dst, &syndromes[a * shard_size], sub[b * n_lost + a],
                        shard_size);
    }
  }

  /* Lost parity comes back from the (now complete) data. */
  for (guint j = 0; j < m; j++)
    if (!present[k + j])
      encode_row (fec, j, (const guint8 *const *) shards, shards[k + j], shard_size);
  return TRUE;
}
