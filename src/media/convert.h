/* Packed RGB (one of the 32-bit layouts compositors hand out) into the
 * encoder's input (I420, BT.709 limited range, what the encoder signals),
 * never scaled: at even sizes in one vectorised pass of our own (Y from
 * each pixel, U and V from each 2x2 block), otherwise in one libswscale
 * pass in slices on up to four threads (one per core). One converter per
 * capture: it keeps its libswscale context (and its threads) between
 * frames. */
#pragma once

#include <gio/gio.h>

#include "media/frame.h"

typedef struct _FhConverter FhConverter;

FhConverter *fh_converter_new (void);
void fh_converter_free (FhConverter *converter);

/* @av_format: an AVPixelFormat (AV_PIX_FMT_BGR0 and friends). @stride may
 * be negative with @data at the last row (a bottom-up picture). Fails when
 * the picture is not exactly @frame's size. */
gboolean fh_converter_run (FhConverter *converter, int av_format, const guint8 *data, int stride,
                           guint width, guint height, FhFrame *frame, GError **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (FhConverter, fh_converter_free)
