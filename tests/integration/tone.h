/* Measuring a tone in decoded samples: what the audio integration tests
 * (test-audio, test-audio-stack) check a speaker's packets and their
 * recordings with. */
#pragma once

#include <glib.h>

/* Amplitude of the @freq component of @n samples (48 kHz) taken every
 * @stride (Goertzel). */
double fh_test_tone_amplitude (const float *samples, gsize n, guint stride, double freq);
/* The mean amplitude of @freq over 50 ms windows: a gap or a jump in
 * phase (a late packet) costs one window, not the whole measurement. */
double fh_test_tone_level (const float *samples, gsize n, guint stride, double freq);
double fh_test_rms (const float *samples, gsize n, guint stride);
/* The samples of a raw float32 recording (parecord --format=float32le). */
GArray *fh_test_read_floats (const char *path);
