/* libFuzzer target: a received GameStream video packet
 * (fh_gs_video_packet_parse) and an encrypted control message
 * (fh_gs_control_decrypt), the two other parsers of network bytes in
 * src/gamestream/. */
#include <stddef.h>
#include <stdint.h>

#include "planes/gamestream/protocol/stream-crypto.h"
#include "planes/gamestream/protocol/video-packet.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  static const guint8 key[FH_GS_KEY_SIZE] = { 0 };
  FhGsVideoPacketInfo info;
  GBytes *payload = NULL;
  guint32 seq;
  guint16 type;

  if (fh_gs_video_packet_parse (data, size, &info, NULL))
    g_assert (info.payload + info.payload_len == data + size);
  if (fh_gs_control_decrypt (key, FH_GS_CONTROL_FROM_CLIENT, data, size, &seq, &type, &payload, NULL))
    g_bytes_unref (payload);
  return 0;
}
