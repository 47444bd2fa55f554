/* libFuzzer target: received GameStream audio packets
 * (fh_gs_audio_packet_parse) and the depacketizer that recovers and
 * decrypts them. The input is a flag byte (bit 0: encryption), then
 * packets, each behind a little-endian 16-bit length. */
#include <stddef.h>
#include <stdint.h>

#include "planes/gamestream/protocol/audio-packet.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  FhGsAudioConfig config = { .packet_duration_ms = 5, .rikeyid = 0x01020304 };
  g_autoptr (FhGsAudioDepacketizer) d = NULL;
  FhGsAudioPacketInfo info;
  FhGsAudioFrame frame;

  /* The whole input as one packet, too. */
  if (fh_gs_audio_packet_parse (data, size, &info, NULL))
    g_assert (info.payload + info.payload_len == data + size);

  if (size < 1)
    return 0;
  config.encrypt = data[0] & 1;
  d = fh_gs_audio_depacketizer_new (&config, NULL);
  data++;
  size--;
  while (size >= 2) {
    size_t len = (size_t) data[0] | (size_t) data[1] << 8;

    data += 2;
    size -= 2;
    if (len > size)
      len = size;
    fh_gs_audio_depacketizer_push (d, data, len, NULL);
    data += len;
    size -= len;
  }
  fh_gs_audio_depacketizer_flush (d, NULL);
  while (fh_gs_audio_depacketizer_pop (d, &frame))
    fh_gs_audio_frame_clear (&frame);
  return 0;
}
