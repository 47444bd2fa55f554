/* The parts of fh-gs-client that need no host: RTSP framing and response
 * parsing, its ANNOUNCE read back by the host's own SDP parser, video
 * reception with deliberate loss, audio reception of an encrypted Opus
 * tone, and the key table. */
#include <gio/gio.h>
#include <math.h>
#include <opus.h>
#include <string.h>

#include "planes/gamestream/protocol/audio-packet.h"
#include "planes/gamestream/protocol/sdp.h"
#include "planes/gamestream/protocol/stream-crypto.h"
#include "planes/gamestream/protocol/video-packet.h"
#include "gs-audio-receiver.h"
#include "gs-keys.h"
#include "gs-rtsp-client.h"
#include "gs-video-receiver.h"

static const guint8 KEY[16] = { 0x10, 0x21, 0x32, 0x43, 0x54, 0x65, 0x76, 0x87,
                                0x98, 0xa9, 0xba, 0xcb, 0xdc, 0xed, 0xfe, 0x0f };

static void
test_rtsp_seal (void)
{
  const char *msg = "OPTIONS rtspenc://127.0.0.1:48010 RTSP/1.0\r\nCSeq: 1\r\n\r\n";
  g_autoptr (GBytes) ours = gs_rtsp_seal (KEY, 1, 'C', (const guint8 *) msg, strlen (msg));
  g_autoptr (GBytes) host = NULL, plain = NULL, from_host = NULL, back = NULL;
  g_autoptr (GError) error = NULL;
  guint32 seq = 0;
  const guint8 *d;
  gsize n;

  /* Same bytes as the host's implementation (stream-crypto.c), both read
   * from RtspConnection.c independently. */
  host = fh_gs_rtsp_seal (KEY, 1, FH_GS_CONTROL_FROM_CLIENT, (const guint8 *) msg, strlen (msg),
                          &error);
  g_assert_no_error (error);
  g_assert_true (g_bytes_equal (ours, host));
  d = g_bytes_get_data (ours, &n);
  g_assert_cmpuint (n, ==, strlen (msg) + 24);
  g_assert_cmpuint (d[0], ==, 0x80);
  g_assert_cmpuint (d[7], ==, 1);
  plain = fh_gs_rtsp_unseal (KEY, FH_GS_CONTROL_FROM_CLIENT, d, n, &seq, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (seq, ==, 1);

  /* What the host sends, we open; a wrong origin does not authenticate. */
  from_host = fh_gs_rtsp_seal (KEY, 7, FH_GS_CONTROL_FROM_HOST, (const guint8 *) msg, strlen (msg),
                               &error);
  d = g_bytes_get_data (from_host, &n);
  back = gs_rtsp_unseal (KEY, 'H', d, n, &error);
  g_assert_no_error (error);
  g_assert_cmpmem (g_bytes_get_data (back, NULL), g_bytes_get_size (back), msg, strlen (msg));
  g_assert_null (gs_rtsp_unseal (KEY, 'C', d, n, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA);
  g_clear_error (&error);
  /* Partial and plain answers are refused, as Moonlight does. */
  g_assert_null (gs_rtsp_unseal (KEY, 'H', d, n - 1, &error));
  g_clear_error (&error);
  g_assert_null (gs_rtsp_unseal (KEY, 'H', (const guint8 *) msg, strlen (msg), &error));
  g_assert_nonnull (strstr (error->message, "not encrypted"));
}

static void
test_rtsp_response (void)
{
  const char *text = "RTSP/1.0 200 OK\r\nCSeq: 3\r\nSession: DEADBEEFCAFE;timeout = 90\r\n"
                     "Transport: server_port=48000\r\nx-ss-ping-payload: 0123456789ABCDEF\r\n"
                     "\r\nv=0\r\n";
  g_autoptr (GError) error = NULL;
  g_autoptr (GsRtspResponse) r = gs_rtsp_parse_response (text, strlen (text), &error);

  g_assert_no_error (error);
  g_assert_cmpuint (r->status, ==, 200);
  g_assert_cmpstr (gs_rtsp_response_header (r, "session"), ==, "DEADBEEFCAFE;timeout = 90");
  g_assert_cmpstr (gs_rtsp_response_header (r, "X-SS-Ping-Payload"), ==, "0123456789ABCDEF");
  g_assert_null (gs_rtsp_response_header (r, "Content-Length"));
  g_assert_cmpstr (r->body, ==, "v=0\r\n");
  g_assert_cmpuint (gs_rtsp_server_port (gs_rtsp_response_header (r, "Transport")), ==, 48000);
  g_assert_cmpuint (gs_rtsp_server_port ("unicast;server_port=47998-47999;source=x"), ==, 47998);
  g_assert_cmpuint (gs_rtsp_server_port ("unicast"), ==, 0);
  g_assert_null (gs_rtsp_parse_response ("HTTP/1.1 200 OK\r\n\r\n", 19, &error));
  g_clear_error (&error);
  g_assert_null (gs_rtsp_parse_response ("RTSP/1.0 200 OK\r\nCSeq: 1\r\n", 26, &error));
  g_clear_error (&error);
}

static void
test_announce (void)
{
  GsAnnounceConfig c = {
    .local_addr = "127.0.0.1",
    .width = 640,
    .height = 480,
    .fps = 30,
    .bitrate_kbps = 20000,
    .packet_size = 1392,
    .fec_percent = 20,
    .audio_packet_ms = 5,
    .encryption_enabled = FH_GS_ENC_CONTROL_V2 | FH_GS_ENC_AUDIO,
    .video_port = 47998,
  };
  g_autofree char *sdp = NULL;
  g_autoptr (GError) error = NULL;
  FhGsStreamSettings s;

  g_assert_true (gs_app_version_parse ("7.1.431.-1", &c.app_version));
  g_assert_cmpint (c.app_version.v[3], ==, -1);
  g_assert_true (gs_app_version_at_least (&c.app_version, 7, 1, 431));
  g_assert_false (gs_app_version_at_least (&c.app_version, 7, 1, 446));
  sdp = gs_sdp_build_announce (&c);
  g_assert_true (g_str_has_prefix (sdp, "v=0\r\no=android 0 14 IN IPv4 127.0.0.1\r\n"));
  g_assert_true (g_str_has_suffix (sdp, "t=0 0\r\nm=video 47998  \r\n"));
  /* The host's own parser reads what this client sends. */
  g_assert_true (fh_gs_sdp_parse_announce (sdp, strlen (sdp), &s, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (s.width, ==, 640);
  g_assert_cmpuint (s.height, ==, 480);
  g_assert_cmpuint (s.fps, ==, 30);
  g_assert_cmpuint (s.refresh_rate_x100, ==, 3000);
  g_assert_cmpuint (s.packet_size, ==, 1392);
  g_assert_cmpuint (s.max_bitrate_kbps, ==, 16000);
  g_assert_cmpuint (s.configured_bitrate_kbps, ==, 20000);
  g_assert_cmpuint (s.video_format, ==, FH_GS_VIDEO_FORMAT_H264);
  g_assert_cmpuint (s.fec_repair_percent, ==, 20);
  g_assert_cmpuint (s.min_fec_packets, ==, 2);
  g_assert_cmpuint (s.audio_channels, ==, 2);
  g_assert_cmpuint (s.audio_channel_mask, ==, 3);
  g_assert_cmpuint (s.audio_packet_ms, ==, 5);
  g_assert_cmpuint (s.control_protocol, ==, 13);
  g_assert_cmpuint (s.encryption_enabled, ==, FH_GS_ENC_CONTROL_V2 | FH_GS_ENC_AUDIO);
  g_assert_cmpuint (s.nv_feature_flags, ==, 0xa7);
  g_assert_cmpuint (s.ml_feature_flags, ==, 3);
}

/* An Annex B access unit: IDR with SPS and PPS, or one P slice. */
static GByteArray *
make_frame (guint index, gboolean idr, gsize size)
{
  static const guint8 sps[] = { 0, 0, 0, 1, 0x67, 0x42, 0xc0, 0x1e };
  static const guint8 pps[] = { 0, 0, 0, 1, 0x68, 0xce, 0x3c, 0x80 };
  GByteArray *f = g_byte_array_new ();
  guint8 slice[] = { 0, 0, 1, idr ? 0x65 : 0x41 };

  if (idr) {
    g_byte_array_append (f, sps, sizeof sps);
    g_byte_array_append (f, pps, sizeof pps);
  }
  g_byte_array_append (f, slice, sizeof slice);
  while (f->len < size) {
    guint8 b = (guint8) (g_random_int () | 0x80); /* no start codes inside */
    g_byte_array_append (f, &b, 1);
  }
  return f;
}

static void
feed_video (GsVideoReceiver *v, guint n_frames, gboolean first_idr, gboolean annexb,
            GError **error)
{
  FhGsVideoConfig config = { .packet_size = 1392, .fec_percentage = 20, .min_parity_packets = 2 };
  g_autoptr (FhGsVideoPacketizer) p = fh_gs_video_packetizer_new (&config, NULL);

  for (guint i = 0; i < n_frames; i++) {
    gboolean idr = first_idr && (i % 60 == 0);
    g_autoptr (GByteArray) f = make_frame (i, idr, idr ? 30000 : 200 + (i * 731) % 6000);
    FhGsVideoFrameInfo info = { .frame_index = i + 1, .rtp_timestamp = i * 3000,
                                .type = idr ? FH_GS_VIDEO_FRAME_IDR : FH_GS_VIDEO_FRAME_P };
    const guint8 *pk;
    gsize len;

    if (!annexb)
      f->data[2] = 0x07; /* no start code */
    g_assert_true (fh_gs_video_packetizer_packetize (p, f->data, f->len, &info, NULL));
    pk = fh_gs_video_packetizer_packets (p);
    len = fh_gs_video_packetizer_packet_len (p);
    for (guint k = 0; k < fh_gs_video_packetizer_n_packets (p); k++)
      if (!gs_video_receiver_push (v, pk + k * len, len, error))
        return;
  }
}

static void
test_video (void)
{
  g_autoptr (GError) error = NULL;
  const GsVideoStats *s;

  {
    g_autoptr (GsVideoReceiver) v = gs_video_receiver_new (1408, 0);
    feed_video (v, 130, TRUE, TRUE, &error);
    g_assert_no_error (error);
    s = gs_video_receiver_stats (v);
    g_assert_cmpuint (s->frames, ==, 130);
    g_assert_cmpuint (s->keyframes, ==, 3);
    g_assert_cmpuint (s->recovered_packets, ==, 0);
    g_assert_cmpuint (s->lost_frames, ==, 0);
    g_assert_cmpuint (s->dropped, ==, 0);
  }
  {
    /* Every 7th packet dropped: at most ⌈n/7⌉ of a block, within 20 %
     * parity (at least 2). */
    g_autoptr (GsVideoReceiver) v = gs_video_receiver_new (1408, 7);
    feed_video (v, 130, TRUE, TRUE, &error);
    g_assert_no_error (error);
    s = gs_video_receiver_stats (v);
    g_test_message ("dropped %u, recovered %u, lost frames %u", s->dropped, s->recovered_packets,
                    s->lost_frames);
    g_assert_cmpuint (s->dropped, >, 0);
    g_assert_cmpuint (s->recovered_packets, >, 0);
    g_assert_cmpuint (s->frames + s->lost_frames, >=, 129);
    g_assert_cmpuint (s->frames, >=, 120);
  }
  {
    /* Too much lost: frames are given up, not mistaken. */
    g_autoptr (GsVideoReceiver) v = gs_video_receiver_new (1408, 2);
    feed_video (v, 20, TRUE, TRUE, &error);
    g_assert_no_error (error);
    s = gs_video_receiver_stats (v);
    g_assert_cmpuint (s->lost_frames, >, 0);
  }
  {
    g_autoptr (GsVideoReceiver) v = gs_video_receiver_new (1408, 0);
    feed_video (v, 3, FALSE, TRUE, &error);
    g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA);
    g_assert_nonnull (strstr (error->message, "not an IDR"));
    g_clear_error (&error);
  }
  {
    g_autoptr (GsVideoReceiver) v = gs_video_receiver_new (1408, 0);
    feed_video (v, 3, TRUE, FALSE, &error);
    g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA);
    g_assert_nonnull (strstr (error->message, "Annex B"));
    g_clear_error (&error);
  }
  {
    g_autoptr (GsVideoReceiver) v = gs_video_receiver_new (1408, 0);
    guint8 small[100] = { 0 };
    g_assert_false (gs_video_receiver_push (v, small, sizeof small, &error));
    g_assert_nonnull (strstr (error->message, "packetSize + 16"));
  }
}

static void
test_audio (void)
{
  FhGsAudioConfig config = { .encrypt = TRUE, .rikeyid = 0x12345678, .packet_duration_ms = 5 };
  g_autoptr (FhGsAudioPacketizer) p = NULL;
  g_autoptr (GsAudioReceiver) a = NULL;
  g_autoptr (GError) error = NULL;
  OpusEncoder *enc;
  int err = 0;
  guint sent = 0;
  double share = 0, hz;

  memcpy (config.key, KEY, 16);
  p = fh_gs_audio_packetizer_new (&config, &error);
  g_assert_no_error (error);
  a = gs_audio_receiver_new (KEY, config.rikeyid, TRUE, 5, &error);
  g_assert_no_error (error);
  enc = opus_encoder_create (48000, 2, OPUS_APPLICATION_RESTRICTED_LOWDELAY, &err);
  g_assert_nonnull (enc);
  opus_encoder_ctl (enc, OPUS_SET_BITRATE (96000));
  opus_encoder_ctl (enc, OPUS_SET_VBR (0));
  /* 1.5 s of 440 Hz in 5 ms packets; the first data packet of every
   * fourth block is lost on the way and rebuilt from parity. */
  for (guint i = 0; i < 300; i++) {
    float pcm[240 * 2];
    guint8 opus[1400];
    const FhGsAudioPacket *pk;
    guint n;
    int len;

    for (guint s = 0; s < 240; s++)
      pcm[2 * s] = pcm[2 * s + 1] = 0.5f * (float) sin (2 * G_PI * 440 * (i * 240 + s) / 48000.0);
    len = opus_encode_float (enc, pcm, 240, opus, sizeof opus);
    g_assert_cmpint (len, >, 0);
    g_assert_true (fh_gs_audio_packetizer_push (p, opus, (gsize) len, &error));
    pk = fh_gs_audio_packetizer_packets (p, &n);
    for (guint k = 0; k < n; k++) {
      if (k == 0 && i % 16 == 0)
        continue;
      g_assert_true (gs_audio_receiver_push (a, pk[k].data, pk[k].len, &error));
      g_assert_no_error (error);
      sent++;
    }
  }
  opus_encoder_destroy (enc);
  hz = gs_audio_receiver_dominant_hz (a, &share);
  g_test_message ("%u packets, %u frames, %u recovered, %u lost, %u ms, %.0f Hz (%.2f)", sent,
                  gs_audio_receiver_stats (a)->frames, gs_audio_receiver_stats (a)->recovered,
                  gs_audio_receiver_stats (a)->lost, gs_audio_receiver_stats (a)->ms, hz, share);
  g_assert_cmpuint (gs_audio_receiver_stats (a)->packets, ==, sent);
  g_assert_cmpuint (gs_audio_receiver_stats (a)->ms, >=, 1400);
  g_assert_cmpuint (gs_audio_receiver_stats (a)->recovered, >, 0);
  g_assert_cmpfloat (fabs (hz - 440), <=, 10);
  g_assert_cmpfloat (share, >, 0.5);
}

static void
test_goertzel (void)
{
  g_autofree float *x = g_new (float, 48000);
  double p1000, p1500;

  for (guint i = 0; i < 48000; i++)
    x[i] = (float) sin (2 * G_PI * 1000 * i / 48000.0);
  p1000 = gs_goertzel_power (x, 48000, 48000, 1000);
  p1500 = gs_goertzel_power (x, 48000, 48000, 1500);
  g_assert_cmpfloat (p1000, >, 1000 * p1500);
}

static void
test_keys (void)
{
  GsKey k;

  g_assert_true (gs_key_lookup ("KEY_A", &k));
  g_assert_cmpuint (k.evdev, ==, 30);
  g_assert_cmpuint (k.vk, ==, 0x41);
  g_assert_true (gs_key_lookup ("KEY_0", &k));
  g_assert_cmpuint (k.vk, ==, 0x30);
  g_assert_true (gs_key_lookup ("KEY_SPACE", &k));
  g_assert_cmpuint (k.vk, ==, 0x20);
  g_assert_false (gs_key_lookup ("KEY_NOPE", &k));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/gs-client/rtsp-seal", test_rtsp_seal);
  g_test_add_func ("/gs-client/rtsp-response", test_rtsp_response);
  g_test_add_func ("/gs-client/announce", test_announce);
  g_test_add_func ("/gs-client/video", test_video);
  g_test_add_func ("/gs-client/audio", test_audio);
  g_test_add_func ("/gs-client/goertzel", test_goertzel);
  g_test_add_func ("/gs-client/keys", test_keys);
  return g_test_run ();
}
