/* A picture in memory: I420 planes that a capture writes and the encoder
 * reads, so a captured frame lands in the encoder's input without a copy
 * in between. */
#pragma once

#include <glib.h>

typedef struct {
  guint8 *data[3];
  int stride[3];
  guint width;
  guint height;
} FhFrame;
