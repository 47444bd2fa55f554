/* libFuzzer target: the body of POST /api/pair (fh_proto_parse_pair_request). */
#include <stddef.h>
#include <stdint.h>

#include "planes/web/protocol.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  char *pin = NULL, *name = NULL;

  fh_proto_parse_pair_request ((const char *) data, size, &pin, &name, NULL);
  g_free (pin);
  g_free (name);
  return 0;
}
