/* Reed–Solomon over GF(2^8), Moonlight-compatible (see fec.h): a Cauchy
 * parity matrix, table-driven multiply, Gauss–Jordan on the lost columns. */
#include "gamestream/fec.h"

#include <string.h>

#include "gamestream/gf256-tables.h"

G_DEFINE_QUARK (fh-gs-fec-error-quark, fh_gs_fec_error)

struct _FhGsFec {
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

void
fh_gs_fec_mul_add (guint8 *dst, const guint8 *src, guint8 c, gsize n)
{
  const guint8 *row = fh_gs_gf_mul[c];

  if (c == 0)
    return;
  if (c == 1) {
    for (gsize i = 0; i < n; i++)
      dst[i] ^= src[i];
    return;
  }
  for (gsize i = 0; i < n; i++)
    dst[i] ^= row[src[i]];
}

static void
mul_set (guint8 *dst, const guint8 *src, guint8 c, gsize n)
{
  const guint8 *row = fh_gs_gf_mul[c];

  if (c == 1) {
    memcpy (dst, src, n);
    return;
  }
  for (gsize i = 0; i < n; i++)
    dst[i] = row[src[i]];
}

/* dst = Σ matrix[row][i] · sources[i], over every data shard. */
static void
encode_row (const FhGsFec *fec, guint row, const guint8 *const *sources, guint8 *dst, gsize size)
{
  const guint8 *coef = &fec->matrix[row * fec->data_shards];

  mul_set (dst, sources[0], coef[0], size);
  for (guint i = 1; i < fec->data_shards; i++)
    fh_gs_fec_mul_add (dst, sources[i], coef[i], size);
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
          fh_gs_fec_mul_add (s, shards[i], coef[i], shard_size);
      for (guint b = 0; b < n_lost; b++)
        sub[a * n_lost + b] = coef[lost[b]];
    }
    if (!invert (sub, n_lost)) {
      g_set_error (error, FH_GS_FEC_ERROR, FH_GS_FEC_ERROR_INVALID, "FEC matrix is singular");
      return FALSE;
    }
    for (guint b = 0; b < n_lost; b++) {
      guint8 *dst = shards[lost[b]];

      mul_set (dst, syndromes, sub[b * n_lost], shard_size);
      for (guint a = 1; a < n_lost; a++)
        fh_gs_fec_mul_add (dst, &syndromes[a * shard_size], sub[b * n_lost + a], shard_size);
    }
  }

  /* Lost parity comes back from the (now complete) data. */
  for (guint j = 0; j < m; j++)
    if (!present[k + j])
      encode_row (fec, j, (const guint8 *const *) shards, shards[k + j], shard_size);
  return TRUE;
}
