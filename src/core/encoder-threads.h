/* How many threads a session's new encoder gets when the host's config
 * leaves it to the host (encoder-threads=0): a fair share of the cores
 * among the sessions' encoders, so that sessions do not each split their
 * frames into slices for threads that only wait for the same cores.
 *
 * Sliced threads cost CPU: each frame is handed to the threads and joined.
 * Measured on a 2-core virtual machine (libx264 superfast, one encoder
 * alone, CPU per frame): 1280x720 2.3 ms with one thread against 3.1 ms
 * with two; 1920x1080 5.5 against 8.0 ms. With the cores to spare the
 * slices run at once and a frame is out sooner; with as many encoders as
 * cores they only take turns. So a lone session gets every core, two
 * share them, and from as many sessions as cores on each has one thread;
 * but never fewer than one thread for each 1.5 × 1920x1080@60 of pixels
 * a second it must encode (a 1920x1080@144 session gets two), so that a
 * fast mode still keeps its rate where the machine could. An encoder
 * counts from its session's start to its end, a session waiting out its
 * grace period included. A new encoder takes its share among those
 * running; once their number has stood for FH_ENCODER_REPICK_MS after a
 * change, every running one takes its share again (a new libx264 context:
 * one keyframe for each encoder whose share changed), so a lone session
 * that had both cores gives one up when a second comes, and takes it back
 * when that one ends.
 *
 * No state of its own (tests/unit/test-encoder-threads.c). */
#pragma once

#include <glib.h>

/* How long the number of encoders stands before the running ones take
 * their new share (core.c). */
#define FH_ENCODER_REPICK_MS 2000

/* Pixels a second one thread of the encoder is counted on for. */
#define FH_ENCODER_PIXELS_PER_THREAD (1920ull * 1080 * 60 * 3 / 2)

/* Threads for a new encoder of @width x @height at @fps while @running
 * others encode, on @cores cores; @configured (encoder-threads) when it
 * is not 0. */
guint fh_encoder_threads (guint configured, guint cores, guint running, guint width, guint height,
                          guint fps);
