/* Video modes and codecs. */
#include "base/mode.h"

const char *
fh_codec_to_string (FhCodec codec)
{
  switch (codec) {
  case FH_CODEC_H264:
    return "h264";
  }
  return "unknown";
}
