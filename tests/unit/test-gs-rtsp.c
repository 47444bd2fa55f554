/* Unit tests of GameStream RTSP parsing and the SDP we answer and read
 * (src/planes/gamestream/protocol/rtsp.c, sdp.c). The requests are written the way
 * moonlight-common-c's RtspConnection.c and SdpGenerator.c build them. */
#include <string.h>

#include "planes/gamestream/protocol/rtsp.h"
#include "planes/gamestream/protocol/sdp.h"

static const char options_req[] = "OPTIONS rtsp://192.168.1.10:48010 RTSP/1.0\r\n"
                                  "CSeq: 1\r\n"
                                  "X-GS-ClientVersion: 14\r\n"
                                  "Host: 192.168.1.10\r\n"
                                  "\r\n";

/* Moonlight ends every attribute value with a space. */
static const char announce_sdp[] =
  "v=0\r\n"
  "o=android 0 14 IN IPv4 192.168.1.10\r\n"
  "s=NVIDIA Streaming Client\r\n"
  "a=x-nv-general.serverAddress:rtsp://192.168.1.10:48010 \r\n"
  "a=x-nv-video[0].clientViewportWd:1920 \r\n"
  "a=x-nv-video[0].clientViewportHt:1080 \r\n"
  "a=x-nv-video[0].maxFPS:60 \r\n"
  "a=x-nv-video[0].packetSize:1392 \r\n"
  "a=x-nv-video[0].rateControlMode:4 \r\n"
  "a=x-nv-video[0].timeoutLengthMs:7000 \r\n"
  "a=x-nv-video[0].framesWithInvalidRefThreshold:0 \r\n"
  "a=x-nv-vqos[0].bw.maximumBitrateKbps:20000 \r\n"
  "a=x-ml-video.configuredBitrateKbps:20000 \r\n"
  "a=x-nv-vqos[0].fec.minRequiredFecPackets:2 \r\n"
  "a=x-nv-vqos[0].bitStreamFormat:1 \r\n"
  "a=x-nv-video[0].dynamicRangeMode:0 \r\n"
  "a=x-nv-video[0].maxNumReferenceFrames:1 \r\n"
  "a=x-nv-video[0].clientRefreshRateX100:5994 \r\n"
  "a=x-nv-audio.surround.numChannels:6 \r\n"
  "a=x-nv-audio.surround.channelMask:63 \r\n"
  "a=x-nv-audio.surround.enable:1 \r\n"
  "a=x-nv-audio.surround.AudioQuality:1 \r\n"
  "a=x-nv-aqos.packetDuration:5 \r\n"
  "a=x-nv-general.useReliableUdp:13 \r\n"
  "a=x-nv-general.featureFlags:167 \r\n"
  "a=x-ml-general.featureFlags:3 \r\n"
  "a=x-ss-general.encryptionEnabled:1 \r\n"
  "a=x-ss-video[0].chromaSamplingType:0 \r\n"
  "t=0 0\r\n"
  "m=video 47998  \r\n";

static char *
announce_request (void)
{
  return g_strdup_printf ("ANNOUNCE streamid=control/13/0 RTSP/1.0\r\n"
                          "CSeq: 6\r\n"
                          "X-GS-ClientVersion: 14\r\n"
                          "Host: 192.168.1.10\r\n"
                          "Session: DEADBEEFCAFE\r\n"
                          "Content-type: application/sdp\r\n"
                          "Content-length: %" G_GSIZE_FORMAT "\r\n"
                          "\r\n%s",
                          strlen (announce_sdp), announce_sdp);
}

static void
test_parse_options (void)
{
  g_autoptr (FhGsRtspRequest) req = NULL;
  g_autoptr (GError) error = NULL;
  gsize consumed = 0;

  g_assert_cmpint (fh_gs_rtsp_parse_request ((const guint8 *) options_req, strlen (options_req), &req,
                                             &consumed, &error),
                   ==, FH_GS_RTSP_PARSE_OK);
  g_assert_no_error (error);
  g_assert_cmpuint (consumed, ==, strlen (options_req));
  g_assert_cmpstr (req->method, ==, "OPTIONS");
  g_assert_cmpstr (req->target, ==, "rtsp://192.168.1.10:48010");
  g_assert_cmpuint (req->cseq, ==, 1);
  g_assert_cmpuint (req->n_headers, ==, 3);
  g_assert_cmpstr (fh_gs_rtsp_request_get_header (req, "x-gs-clientversion"), ==, "14");
  g_assert_null (fh_gs_rtsp_request_get_header (req, "Session"));
  g_assert_cmpuint (req->body_len, ==, 0);
}

static void
test_parse_announce_and_pipelining (void)
{
  g_autofree char *announce = announce_request ();
  g_autofree char *both = g_strconcat (announce, options_req, NULL);
  gsize len = strlen (both), consumed = 0;
  g_autoptr (FhGsRtspRequest) req = NULL, next = NULL;
  g_autoptr (GError) error = NULL;

  /* Every prefix short of the whole ANNOUNCE is incomplete, not wrong. */
  for (gsize n = 0; n < strlen (announce); n++) {
    FhGsRtspRequest *partial = NULL;

    g_assert_cmpint (fh_gs_rtsp_parse_request ((const guint8 *) both, n, &partial, &consumed, &error), ==,
                     FH_GS_RTSP_PARSE_INCOMPLETE);
    g_assert_no_error (error);
    g_assert_null (partial);
  }
  g_assert_cmpint (fh_gs_rtsp_parse_request ((const guint8 *) both, len, &req, &consumed, &error), ==,
                   FH_GS_RTSP_PARSE_OK);
  g_assert_cmpstr (req->method, ==, "ANNOUNCE");
  g_assert_cmpstr (req->target, ==, "streamid=control/13/0");
  g_assert_cmpuint (req->cseq, ==, 6);
  g_assert_cmpstr ((const char *) req->body, ==, announce_sdp);
  g_assert_cmpuint (consumed, ==, strlen (announce));
  g_assert_cmpint (fh_gs_rtsp_parse_request ((const guint8 *) both + consumed, len - consumed, &next,
                                             &consumed, &error),
                   ==, FH_GS_RTSP_PARSE_OK);
  g_assert_cmpstr (next->method, ==, "OPTIONS");
}

static void
expect_error (const char *text, gint code)
{
  g_autoptr (FhGsRtspRequest) req = NULL;
  g_autoptr (GError) error = NULL;
  gsize consumed;

  g_assert_cmpint (fh_gs_rtsp_parse_request ((const guint8 *) text, strlen (text), &req, &consumed, &error),
                   ==, FH_GS_RTSP_PARSE_ERROR);
  g_assert_error (error, FH_GS_RTSP_ERROR, code);
  g_assert_null (req);
}

static void
test_parse_rejects (void)
{
  g_autoptr (GString) big = g_string_new ("OPTIONS x RTSP/1.0\r\nCSeq: 1\r\n");
  g_autoptr (GString) many = g_string_new ("OPTIONS x RTSP/1.0\r\nCSeq: 1\r\n");
  g_autoptr (GString) endless = g_string_new ("OPTIONS x RTSP/1.0\r\n");
  const char nul[] = "OPTIONS x RTSP/1.0\r\nCSeq: 1\r\nX-A: a\0b\r\n\r\n";
  g_autoptr (FhGsRtspRequest) req = NULL;
  g_autoptr (GError) error = NULL;
  gsize consumed;

  expect_error ("OPTIONS x RTSP/1.0\r\n\r\n", FH_GS_RTSP_ERROR_MALFORMED);          /* no CSeq */
  expect_error ("OPTIONS x RTSP/1.0\r\nCSeq: one\r\n\r\n", FH_GS_RTSP_ERROR_MALFORMED);
  expect_error ("OPTIONS x RTSP/1.0\r\nCSeq: 99999999999\r\n\r\n", FH_GS_RTSP_ERROR_MALFORMED);
  expect_error ("OPTIONS x HTTP/1.1\r\nCSeq: 1\r\n\r\n", FH_GS_RTSP_ERROR_UNSUPPORTED);
  expect_error ("OPTIONS  RTSP/1.0\r\nCSeq: 1\r\n\r\n", FH_GS_RTSP_ERROR_MALFORMED);
  expect_error ("OPTIONS\r\nCSeq: 1\r\n\r\n", FH_GS_RTSP_ERROR_MALFORMED);
  expect_error ("OPTIONS x RTSP/1.0\r\nCSeq 1\r\n\r\n", FH_GS_RTSP_ERROR_MALFORMED);
  expect_error ("OPTIONS x RTSP/1.0\r\nCSeq: 1\r\nContent-Length: -1\r\n\r\n", FH_GS_RTSP_ERROR_MALFORMED);
  expect_error ("OPTIONS x RTSP/1.0\r\nCSeq: 1\r\nContent-Length: 20000\r\n\r\n", FH_GS_RTSP_ERROR_TOO_LARGE);
  expect_error ("OPTIONS x RTSP/1.0\r\nCSeq: 1\r\nContent-Length: 999999999\r\n\r\n", FH_GS_RTSP_ERROR_TOO_LARGE);
  expect_error ("OPTIONS x RTSP/1.0\r\nCSeq: 1\r\nContent-Length: 16380\r\n\r\n", FH_GS_RTSP_ERROR_TOO_LARGE);

  g_assert_cmpint (fh_gs_rtsp_parse_request ((const guint8 *) nul, sizeof nul - 1, &req, &consumed, &error), ==,
                   FH_GS_RTSP_PARSE_ERROR);
  g_clear_error (&error);

  g_string_append (big, "X-Long: ");
  for (guint i = 0; i < 1100; i++)
    g_string_append_c (big, 'a');
  g_string_append (big, "\r\n\r\n");
  expect_error (big->str, FH_GS_RTSP_ERROR_TOO_LARGE);

  for (guint i = 0; i < 40; i++)
    g_string_append_printf (many, "X-H%u: v\r\n", i);
  g_string_append (many, "\r\n");
  expect_error (many->str, FH_GS_RTSP_ERROR_TOO_LARGE);

  /* Headers that never end: incomplete until 16 KiB, then too large. */
  while (endless->len < FH_GS_RTSP_MAX_MESSAGE + 100) {
    g_string_append (endless, "X-More: ");
    for (guint i = 0; i < 1000; i++)
      g_string_append_c (endless, 'v');
    g_string_append (endless, "\r\n");
  }
  g_assert_cmpint (fh_gs_rtsp_parse_request ((const guint8 *) endless->str, 4000, &req, &consumed, &error), ==,
                   FH_GS_RTSP_PARSE_INCOMPLETE);
  expect_error (endless->str, FH_GS_RTSP_ERROR_TOO_LARGE);
}

static void
test_build_response (void)
{
  const char *headers[] = { "Session", "DEADBEEFCAFE;timeout = 90", "Transport", "server_port=47998", NULL };
  g_autofree char *setup = fh_gs_rtsp_build_response (200, 3, headers, NULL);
  g_autofree char *describe = fh_gs_rtsp_build_response (200, 2, NULL, "a=x:1\r\n");
  g_autofree char *missing = fh_gs_rtsp_build_response (404, 9, NULL, NULL);

  g_assert_cmpstr (setup, ==,
                   "RTSP/1.0 200 OK\r\nCSeq: 3\r\nSession: DEADBEEFCAFE;timeout = 90\r\n"
                   "Transport: server_port=47998\r\n\r\n");
  g_assert_cmpstr (describe, ==, "RTSP/1.0 200 OK\r\nCSeq: 2\r\nContent-Length: 7\r\n\r\na=x:1\r\n");
  g_assert_cmpstr (missing, ==, "RTSP/1.0 404 Not Found\r\nCSeq: 9\r\n\r\n");
}

/* What Moonlight does with a normal-quality surround-params value: the
 * last mapping entry moves to index 3 (RtspConnection.c). */
static void
client_mapping (const char *answer, guint channels, guint8 *mapping)
{
  g_autofree char *prefix = g_strdup_printf ("a=fmtp:97 surround-params=%u", channels);
  const char *p = strstr (answer, prefix);
  guint8 orig[8];

  g_assert_nonnull (p);
  p += strlen (prefix) + 2; /* streams and coupled streams */
  for (guint i = 0; i < channels; i++)
    orig[i] = (guint8) (p[i] - '0');
  memcpy (mapping, orig, channels);
  mapping[3] = orig[channels - 1];
  memcpy (&mapping[4], &orig[3], channels - 4);
}

static void
test_sdp_answer (void)
{
  FhGsSdpAnswer a = { .feature_flags = 3,
                      .encryption_supported = FH_GS_ENC_CONTROL_V2 | FH_GS_ENC_AUDIO | FH_GS_ENC_VIDEO,
                      .encryption_requested = FH_GS_ENC_CONTROL_V2,
                      .hevc = TRUE };
  g_autofree char *text = fh_gs_sdp_build_answer (&a);
  static const guint8 identity[8] = { 0, 1, 2, 3, 4, 5, 6, 7 };
  guint8 mapping[8];

  g_assert_cmpstr (text, ==,
                   "a=x-ss-general.featureFlags:3\r\n"
                   "a=x-ss-general.encryptionSupported:7\r\n"
                   "a=x-ss-general.encryptionRequested:1\r\n"
                   "sprop-parameter-sets=AAAAAU\r\n"
                   "a=fmtp:97 surround-params=21101\r\n"
                   "a=fmtp:97 surround-params=21101\r\n"
                   "a=fmtp:97 surround-params=642012453\r\n"
                   "a=fmtp:97 surround-params=660012345\r\n"
                   "a=fmtp:97 surround-params=85301245673\r\n"
                   "a=fmtp:97 surround-params=88001234567\r\n");
  g_assert_null (strstr (text, "AV1/90000"));
  g_assert_null (strstr (text, "refPicInvalidation"));
  client_mapping (text, 6, mapping);
  g_assert_cmpmem (mapping, 6, identity, 6);
  client_mapping (text, 8, mapping);
  g_assert_cmpmem (mapping, 8, identity, 8);
}

static void
test_sdp_announce (void)
{
  FhGsStreamSettings s;
  g_autoptr (GError) error = NULL;

  g_assert_true (fh_gs_sdp_parse_announce (announce_sdp, strlen (announce_sdp), &s, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (s.width, ==, 1920);
  g_assert_cmpuint (s.height, ==, 1080);
  g_assert_cmpuint (s.fps, ==, 60);
  g_assert_cmpuint (s.refresh_rate_x100, ==, 5994);
  g_assert_cmpuint (s.packet_size, ==, 1392);
  g_assert_cmpuint (s.max_bitrate_kbps, ==, 20000);
  g_assert_cmpuint (s.configured_bitrate_kbps, ==, 20000);
  g_assert_cmpuint (s.min_fec_packets, ==, 2);
  g_assert_cmpuint (s.fec_repair_percent, ==, 0);
  g_assert_cmpint (s.video_format, ==, FH_GS_VIDEO_FORMAT_HEVC);
  g_assert_cmpuint (s.max_ref_frames, ==, 1);
  g_assert_cmpuint (s.audio_channels, ==, 6);
  g_assert_cmpuint (s.audio_channel_mask, ==, 63);
  g_assert_true (s.audio_high_quality);
  g_assert_cmpuint (s.audio_packet_ms, ==, 5);
  g_assert_cmpuint (s.control_protocol, ==, 13);
  g_assert_cmpuint (s.nv_feature_flags, ==, 167);
  g_assert_cmpuint (s.ml_feature_flags, ==, 3);
  g_assert_cmpuint (s.encryption_enabled, ==, FH_GS_ENC_CONTROL_V2);
  /* Absent: Sunshine's defaults. */
  g_assert_cmpuint (s.slices_per_frame, ==, 1);
  g_assert_cmpuint (s.video_qos_type, ==, 5);
  g_assert_cmpuint (s.audio_qos_type, ==, 4);
  g_assert_false (s.intra_refresh);
}

static void
expect_announce_error (const char *from, const char *to, gint code, const char *mentions)
{
  g_autoptr (GString) text = g_string_new (announce_sdp);
  g_autoptr (GError) error = NULL;
  FhGsStreamSettings s;

  g_assert_cmpint (g_string_replace (text, from, to, 1), ==, 1);
  g_assert_false (fh_gs_sdp_parse_announce (text->str, text->len, &s, &error));
  g_assert_error (error, FH_GS_SDP_ERROR, code);
  g_assert_nonnull (strstr (error->message, mentions));
}

static void
test_sdp_announce_rejects (void)
{
  expect_announce_error ("a=x-nv-video[0].maxFPS:60 \r\n", "", FH_GS_SDP_ERROR_MISSING, "maxFPS");
  expect_announce_error ("clientViewportWd:1920", "clientViewportWd:0", FH_GS_SDP_ERROR_OUT_OF_RANGE,
                         "clientViewportWd");
  expect_announce_error ("packetSize:1392", "packetSize:999999", FH_GS_SDP_ERROR_OUT_OF_RANGE, "packetSize");
  expect_announce_error ("maxFPS:60", "maxFPS:6O", FH_GS_SDP_ERROR_MALFORMED, "maxFPS");
  expect_announce_error ("maxFPS:60", "maxFPS:-60", FH_GS_SDP_ERROR_MALFORMED, "maxFPS");
  expect_announce_error ("maxFPS:60", "maxFPS:99999999999999999999", FH_GS_SDP_ERROR_MALFORMED, "maxFPS");
  expect_announce_error ("numChannels:6", "numChannels:9", FH_GS_SDP_ERROR_OUT_OF_RANGE, "numChannels");
  expect_announce_error ("maxFPS:60 ", "maxFPS:", FH_GS_SDP_ERROR_MALFORMED, "maxFPS");
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/gs-rtsp/parse-options", test_parse_options);
  g_test_add_func ("/gs-rtsp/parse-announce-and-pipelining", test_parse_announce_and_pipelining);
  g_test_add_func ("/gs-rtsp/parse-rejects", test_parse_rejects);
  g_test_add_func ("/gs-rtsp/build-response", test_build_response);
  g_test_add_func ("/gs-rtsp/sdp-answer", test_sdp_answer);
  g_test_add_func ("/gs-rtsp/sdp-announce", test_sdp_announce);
  g_test_add_func ("/gs-rtsp/sdp-announce-rejects", test_sdp_announce_rejects);
  return g_test_run ();
}
