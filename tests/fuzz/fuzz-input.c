/* libFuzzer target: a binary input message (key, motion, button, scroll)
 * as the host parses it (fh_proto_parse_input). What parses must serialize
 * back to the same bytes. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "planes/web/protocol.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  FhInputEvent event;
  guint8 back[64];

  if (fh_proto_parse_input (data, size, &event, NULL) && event.type != FH_INPUT_KEY) {
    gsize len = fh_proto_write_input (&event, NULL, back);
    if (len != size || memcmp (back, data, len) != 0)
      __builtin_trap ();
  }
  return 0;
}
