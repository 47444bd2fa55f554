/* libFuzzer target: a GameStream RTSP request (fh_gs_rtsp_parse_request)
 * and, when one parses, its body as an ANNOUNCE (fh_gs_sdp_parse_announce). */
#include <stddef.h>
#include <stdint.h>

#include "planes/gamestream/protocol/rtsp.h"
#include "planes/gamestream/protocol/sdp.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  FhGsRtspRequest *request = NULL;
  FhGsStreamSettings settings;
  gsize consumed = 0;

  if (fh_gs_rtsp_parse_request (data, size, &request, &consumed, NULL) == FH_GS_RTSP_PARSE_OK) {
    g_assert (consumed <= size);
    fh_gs_sdp_parse_announce ((const char *) request->body, request->body_len, &settings, NULL);
    fh_gs_rtsp_request_free (request);
  }
  fh_gs_sdp_parse_announce ((const char *) data, size, &settings, NULL);
  return 0;
}
