/* libFuzzer target: a binary ack as the host parses it
 * (fh_proto_parse_ack). What parses must serialize back to the same
 * bytes. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "planes/web/protocol.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  guint32 frame;
  guint8 back[FH_PROTO_ACK_SIZE];

  if (fh_proto_parse_ack (data, size, &frame, NULL)) {
    fh_proto_write_ack (frame, back);
    if (size != FH_PROTO_ACK_SIZE || memcmp (back, data, size) != 0)
      __builtin_trap ();
  }
  return 0;
}
