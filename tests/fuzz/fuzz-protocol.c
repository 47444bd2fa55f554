/* libFuzzer target for every parser that reads network bytes: the first
 * byte picks the parser (mod 4: text, input, pair request, microphone
 * packet), the rest is the message. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "net/protocol.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  if (size < 1)
    return 0;

  switch (data[0] % 4) {
  case 0: {
    FhClientMessage msg;
    if (fh_proto_parse_text ((const char *) data + 1, size - 1, &msg, NULL))
      fh_client_message_clear (&msg);
    break;
  }
  case 1: {
    FhInputEvent event;
    guint8 back[64];
    if (fh_proto_parse_input (data + 1, size - 1, &event, NULL) && event.type != FH_INPUT_KEY) {
      /* What parses must serialize back to the same bytes. */
      gsize len = fh_proto_write_input (&event, NULL, back);
      if (len != size - 1 || memcmp (back, data + 1, len) != 0)
        __builtin_trap ();
    }
    break;
  }
  case 2: {
    char *pin = NULL, *name = NULL;
    fh_proto_parse_pair_request ((const char *) data + 1, size - 1, &pin, &name, NULL);
    g_free (pin);
    g_free (name);
    break;
  }
  case 3: {
    FhMicPacket packet;
    if (fh_proto_parse_mic (data + 1, size - 1, &packet, NULL)) {
      /* What parses must serialize back to the same bytes. */
      GBytes *back = fh_proto_build_mic (&packet);
      if (g_bytes_get_size (back) != size - 1 ||
          memcmp (g_bytes_get_data (back, NULL), data + 1, size - 1) != 0)
        __builtin_trap ();
      g_bytes_unref (back);
    }
    break;
  }
  }
  return 0;
}
