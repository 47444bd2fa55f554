/* A virtual microphone: a PipeWire Audio/Source node that apps record
 * from, fed by Opus packets from clients. Each client that sends is a
 * feeder with its own decoder and small buffer; the source plays the sum of
 * all feeders (one for an independent session, several on a shared
 * desktop). Silence when nobody sends. */
#pragma once

#include <glib.h>

#include "media/pipewire.h"

#define FH_MIC_MAX_PACKET 1275 /* the largest Opus packet */

typedef struct _FhMic FhMic;
typedef struct _FhMicFeeder FhMicFeeder;

FhMic *fh_mic_new (FhPipeWire *pw, const char *name, GError **error);
void fh_mic_free (FhMic *mic);
const char *fh_mic_get_source_name (FhMic *mic);

FhMicFeeder *fh_mic_add_feeder (FhMic *mic, GError **error);
void fh_mic_remove_feeder (FhMic *mic, FhMicFeeder *feeder);
/* Decodes one Opus packet into the feeder's buffer. A packet that does not
 * decode is an error (the caller decides what to do with its sender). */
gboolean fh_mic_feeder_push (FhMicFeeder *feeder, const guint8 *data, gsize size,
                             GError **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (FhMic, fh_mic_free)
