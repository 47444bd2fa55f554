/* libFuzzer target: GameStream control messages. Byte 0 picks the sender
 * (even: client, odd: host), bytes 1–2 are the LE16 message type, the rest
 * the plaintext payload for fh_gs_control_parse; the same rest also goes to
 * fh_gs_input_parse and, parsed, to fh_gs_input_to_events; and the whole
 * input to fh_gs_control_decrypt, as an encrypted packet off the wire. */
#include <stddef.h>
#include <stdint.h>

#include "planes/gamestream/protocol/control-stream.h"
#include "planes/gamestream/protocol/stream-crypto.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  static const guint8 key[FH_GS_KEY_SIZE] = { 0 };
  FhGsControlMessage message;
  FhGsInput input;
  FhInputEvent events[4 * FH_GS_INPUT_TEXT_MAX];
  GBytes *payload = NULL;
  guint32 sequence;
  guint16 type;

  if (fh_gs_control_decrypt (key, FH_GS_CONTROL_FROM_CLIENT, data, size, &sequence, &type, &payload,
                             NULL)) {
    gsize len;
    const guint8 *p = g_bytes_get_data (payload, &len);

    fh_gs_control_parse (FH_GS_CONTROL_FROM_CLIENT, type, p, len, &message, NULL);
    g_bytes_unref (payload);
  }

  if (size < 3)
    return 0;
  {
    FhGsControlOrigin origin = (data[0] & 1) ? FH_GS_CONTROL_FROM_HOST : FH_GS_CONTROL_FROM_CLIENT;
    const guint8 *rest = data + 3;
    gsize rest_len = size - 3;

    type = (guint16) (data[1] | (data[2] << 8));
    if (fh_gs_control_parse (origin, type, rest, rest_len, &message, NULL) &&
        message.kind == FH_GS_CONTROL_MSG_INPUT)
      fh_gs_input_to_events (&message.input, 1920, 1080, events, G_N_ELEMENTS (events));
    if (fh_gs_input_parse (rest, rest_len, &input, NULL)) {
      /* One event, or for text up to 4 a character, never past the end. */
      guint n = fh_gs_input_to_events (&input, 1, 1, events, G_N_ELEMENTS (events));
      g_assert (n <= (input.kind == FH_GS_INPUT_TEXT ? G_N_ELEMENTS (events) : 1));
      fh_gs_input_to_events (&input, 65535, 65535, events, 1);
    }
  }
  return 0;
}
