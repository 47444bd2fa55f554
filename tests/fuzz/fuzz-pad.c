/* libFuzzer target: a binary gamepad message (connect, state, disconnect)
 * as the host parses it (fh_proto_parse_pad). What parses must serialize
 * back to the same bytes. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "planes/web/protocol.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  FhPadMessage msg;
  guint8 back[FH_PROTO_PAD_STATE_SIZE];

  if (fh_proto_parse_pad (data, size, &msg, NULL)) {
    gsize len = fh_proto_write_pad (&msg, back);
    if (len != size || memcmp (back, data, len) != 0)
      __builtin_trap ();
  }
  return 0;
}
