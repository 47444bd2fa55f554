/* Reed–Solomon erasure code over GF(2^8) with the exact encoding matrix of
 * Moonlight's decoder (nanors, used by moonlight-common-c's RtpVideoQueue.c
 * and RtpAudioQueue.c), so the parity we send recovers packets in a real
 * client. See docs/gamestream.md, "Video FEC". */
#pragma once

#include <glib.h>

/* nanors' DATA_SHARDS_MAX: data plus parity shards in one block. */
#define FH_GS_FEC_MAX_SHARDS 255

typedef enum {
  FH_GS_FEC_ERROR_INVALID,   /* shard counts out of range */
  FH_GS_FEC_ERROR_TOO_MANY_LOST, /* more shards missing than there is parity */
} FhGsFecError;

#define FH_GS_FEC_ERROR (fh_gs_fec_error_quark ())
GQuark fh_gs_fec_error_quark (void);

typedef struct _FhGsFec FhGsFec;

/* A code with @data_shards data and @parity_shards parity shards (each at
 * least 1, together at most FH_GS_FEC_MAX_SHARDS). Cheap: it holds the
 * parity_shards × data_shards matrix, nothing else. */
FhGsFec *fh_gs_fec_new (guint data_shards, guint parity_shards, GError **error);
void fh_gs_fec_free (FhGsFec *fec);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (FhGsFec, fh_gs_fec_free)

guint fh_gs_fec_data_shards (const FhGsFec *fec);
guint fh_gs_fec_parity_shards (const FhGsFec *fec);

/* The matrix entry that multiplies data shard @data into parity shard
 * @parity: 1 / ((parity_shards + data) XOR parity) in GF(2^8), a Cauchy
 * matrix (nanors' reed_solomon_new). */
guint8 fh_gs_fec_coefficient (const FhGsFec *fec, guint parity, guint data);

/* Fills parity[0 .. parity_shards) from data[0 .. data_shards), every shard
 * @shard_size bytes. Data and parity buffers must not overlap. */
void fh_gs_fec_encode (const FhGsFec *fec, const guint8 *const *data, guint8 *const *parity,
                       gsize shard_size);

/* @shards holds data_shards + parity_shards buffers of @shard_size bytes,
 * data first; @present says which arrived. Fills in every missing shard,
 * data and parity, or fails with FH_GS_FEC_ERROR_TOO_MANY_LOST when fewer
 * than data_shards arrived (then nothing is written). */
gboolean fh_gs_fec_reconstruct (const FhGsFec *fec, guint8 *const *shards, const gboolean *present,
                                gsize shard_size, GError **error);

/* How a code multiplies a shard by a coefficient: a 256-byte table row per
 * byte (portable), or 16-entry nibble tables with SSSE3/AVX2 shuffles on
 * x86-64. All give the same bytes; new codes take the best the CPU has. */
typedef enum {
  FH_GS_FEC_KERNEL_TABLE,
  FH_GS_FEC_KERNEL_SSSE3,
  FH_GS_FEC_KERNEL_AVX2,
} FhGsFecKernel;

FhGsFecKernel fh_gs_fec_kernel_best (void);
const char *fh_gs_fec_kernel_to_string (FhGsFecKernel kernel);
/* For tests and the bench; the kernel must be one the CPU runs. */
void fh_gs_fec_set_kernel (FhGsFec *fec, FhGsFecKernel kernel);

/* dst ^= c · src over @n bytes with the best kernel. */
void fh_gs_fec_mul_add (guint8 *dst, const guint8 *src, guint8 c, gsize n);
