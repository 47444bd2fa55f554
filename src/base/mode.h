/* What a client asks to see: a video mode (W×H@Hz) and the codecs. The
 * vocabulary every layer and plane shares; limits are each plane's own. */
#pragma once

#include <glib.h>

typedef struct {
  guint width;
  guint height;
  guint refresh;
} FhMode;

typedef enum {
  FH_CODEC_H264 = 1 << 0,
} FhCodec;

/* "h264", as the web protocol names it. */
const char *fh_codec_to_string (FhCodec codec);
