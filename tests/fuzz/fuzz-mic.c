/* libFuzzer target: a microphone packet (fh_proto_parse_mic), and the Opus
 * packet in it through the decoder the host's microphone uses. What parses
 * must serialize back to the same bytes. */
#include <opus.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "planes/web/protocol.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  static OpusDecoder *decoder;
  static float pcm[5760];
  FhMicPacket packet;
  GBytes *back;
  int err;

  if (!fh_proto_parse_mic (data, size, &packet, NULL))
    return 0;
  back = fh_proto_build_mic (&packet);
  if (g_bytes_get_size (back) != size || memcmp (g_bytes_get_data (back, NULL), data, size) != 0)
    __builtin_trap ();
  g_bytes_unref (back);
  if (!decoder)
    decoder = opus_decoder_create (48000, 1, &err);
  opus_decode_float (decoder, packet.data, (opus_int32) packet.size, pcm, 5760, 0);
  return 0;
}
