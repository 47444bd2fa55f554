/* libFuzzer target: a WebSocket text message (hello, keyframe, ping,
 * console, moonlight-pin) as the host parses it (fh_proto_parse_text). */
#include <stddef.h>
#include <stdint.h>

#include "planes/web/protocol.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  FhClientMessage msg;

  if (fh_proto_parse_text ((const char *) data, size, &msg, NULL))
    fh_client_message_clear (&msg);
  return 0;
}
