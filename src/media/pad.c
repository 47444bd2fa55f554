#include "media/pad.h"

const char *
fh_pad_kind_to_string (FhPadKind kind)
{
  switch (kind) {
  case FH_PAD_KIND_XBOX360:
    return "xbox360";
  }
  return "unknown";
}
