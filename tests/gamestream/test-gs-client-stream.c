/* fh-gs-client's streaming steps against a stand-in host made here from
 * the protocol core (rtsp.c, sdp.c, stream-crypto.c, video-packet.c,
 * audio-packet.c, control.c): RTSP plain and rtspenc, video with FEC while
 * the client drops packets, an encrypted Opus tone, and the control
 * stream's startup messages, pings and input. It checks the client and
 * what the client sends; the real host is held to the same client by
 * tests/e2e/gamestream-stream.test.mjs. */
#include <arpa/inet.h>
#include <enet/enet.h>
#include <gio/gio.h>
#include <math.h>
#include <netinet/in.h>
#include <opus.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "gamestream/audio-packet.h"
#include "gamestream/control.h"
#include "gamestream/rtsp.h"
#include "gamestream/sdp.h"
#include "gamestream/stream-crypto.h"
#include "gamestream/video-packet.h"

#define CONNECT_DATA 0x1234abcd
#define PING_PAYLOAD_VIDEO "VVVVVVVVVVVVVVV1"
#define PING_PAYLOAD_AUDIO "AAAAAAAAAAAAAAA1"
#define AUDIO_FRAMES 200 /* 1 s of 5 ms: 440 whole cycles of 440 Hz, loops cleanly */

static const guint8 KEY[16] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16 };
static const guint32 RIKEYID = 0xfedcba98;

typedef struct {
  gboolean encrypted;
  int rtsp_fd, video_fd, audio_fd;
  guint rtsp_port, video_port, audio_port;
  ENetHost *enet;
  guint control_port;
  GThread *thread;
  gint stop;

  /* What the host saw. */
  GString *rtsp_log; /* "METHOD target;" */
  FhGsStreamSettings settings;
  gboolean playing, announce_ok;
  struct sockaddr_in video_peer, audio_peer;
  gboolean have_video_peer, have_audio_peer;
  guint video_frames, audio_packets;
  gboolean enet_connected, enet_disconnected;
  guint32 connect_data;
  GString *control_log; /* types and input */
  guint pings;
  GPtrArray *audio_opus;
} FakeHost;

static int
bind_socket (int type, guint *port)
{
  struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl (INADDR_LOOPBACK) };
  socklen_t len = sizeof a;
  int fd = socket (AF_INET, type | SOCK_CLOEXEC, 0);

  g_assert_cmpint (fd, >=, 0);
  g_assert_cmpint (bind (fd, (struct sockaddr *) &a, sizeof a), ==, 0);
  g_assert_cmpint (getsockname (fd, (struct sockaddr *) &a, &len), ==, 0);
  *port = ntohs (a.sin_port);
  return fd;
}

static void
rtsp_answer (FakeHost *h, int fd, FhGsRtspRequest *req, guint32 enc_seq)
{
  g_autofree char *body = NULL, *resp = NULL, *aport = NULL, *vport = NULL, *cport = NULL;
  g_autofree char *cd = NULL;
  g_autoptr (GError) error = NULL;
  const char *session = fh_gs_rtsp_request_get_header (req, "Session");
  const char *none[] = { NULL };

  g_string_append_printf (h->rtsp_log, "%s %s%s;", req->method, req->target,
                          session ? " +session" : "");
  aport = g_strdup_printf ("server_port=%u", h->audio_port);
  vport = g_strdup_printf ("server_port=%u", h->video_port);
  cport = g_strdup_printf ("server_port=%u", h->control_port);
  cd = g_strdup_printf ("%u", CONNECT_DATA);
  if (g_str_equal (req->method, "DESCRIBE")) {
    FhGsSdpAnswer a = { .encryption_supported = FH_GS_ENC_CONTROL_V2 | FH_GS_ENC_AUDIO };
    body = fh_gs_sdp_build_answer (&a);
    resp = fh_gs_rtsp_build_response (200, req->cseq, none, body);
  } else if (g_str_equal (req->method, "SETUP") && strstr (req->target, "audio")) {
    const char *hd[] = { "Session", "DEADBEEFCAFE;timeout = 90", "Transport", aport,
                         "X-SS-Ping-Payload", PING_PAYLOAD_AUDIO, NULL };
    resp = fh_gs_rtsp_build_response (200, req->cseq, hd, NULL);
  } else if (g_str_equal (req->method, "SETUP") && strstr (req->target, "video")) {
    const char *hd[] = { "Session", "DEADBEEFCAFE;timeout = 90", "Transport", vport,
                         "X-SS-Ping-Payload", PING_PAYLOAD_VIDEO, NULL };
    resp = fh_gs_rtsp_build_response (200, req->cseq, hd, NULL);
  } else if (g_str_equal (req->method, "SETUP") && strstr (req->target, "control/13/0")) {
    const char *hd[] = { "Session", "DEADBEEFCAFE;timeout = 90", "Transport", cport,
                         "X-SS-Connect-Data", cd, NULL };
    resp = fh_gs_rtsp_build_response (200, req->cseq, hd, NULL);
  } else if (g_str_equal (req->method, "ANNOUNCE")) {
    h->announce_ok = fh_gs_sdp_parse_announce ((const char *) req->body, req->body_len,
                                               &h->settings, &error);
    if (error)
      g_test_message ("ANNOUNCE: %s", error->message);
    resp = fh_gs_rtsp_build_response (h->announce_ok ? 200 : 400, req->cseq, none, NULL);
  } else if (g_str_equal (req->method, "PLAY")) {
    h->playing = TRUE;
    resp = fh_gs_rtsp_build_response (200, req->cseq, none, NULL);
  } else {
    resp = fh_gs_rtsp_build_response (200, req->cseq, none, NULL);
  }
  if (h->encrypted) {
    g_autoptr (GBytes) sealed = fh_gs_rtsp_seal (KEY, enc_seq, FH_GS_CONTROL_FROM_HOST,
                                                 (const guint8 *) resp, strlen (resp), NULL);
    g_assert_cmpint (write (fd, g_bytes_get_data (sealed, NULL), g_bytes_get_size (sealed)), >, 0);
  } else {
    g_assert_cmpint (write (fd, resp, strlen (resp)), >, 0);
  }
}

/* One request per connection: read it whole, answer, close. */
static void
rtsp_serve (FakeHost *h)
{
  g_autoptr (GByteArray) in = g_byte_array_new ();
  int fd = accept4 (h->rtsp_fd, NULL, NULL, SOCK_CLOEXEC);

  if (fd < 0)
    return;
  for (;;) {
    struct pollfd p = { .fd = fd, .events = POLLIN };
    guint8 buf[4096];
    ssize_t n;
    g_autoptr (FhGsRtspRequest) req = NULL;
    g_autoptr (GBytes) plain = NULL;
    g_autoptr (GError) error = NULL;
    const guint8 *d = in->data;
    gsize len = in->len, consumed, total = 0;
    guint32 seq = 0;

    if (poll (&p, 1, 5000) <= 0 || (n = read (fd, buf, sizeof buf)) <= 0)
      break;
    g_byte_array_append (in, buf, (guint) n);
    d = in->data;
    len = in->len;
    if (h->encrypted) {
      g_assert_true (fh_gs_rtsp_sealed_size (in->data, in->len, &total, &error));
      if (total == 0 || in->len < total)
        continue;
      plain = fh_gs_rtsp_unseal (KEY, FH_GS_CONTROL_FROM_CLIENT, in->data, total, &seq, &error);
      g_assert_no_error (error);
      d = g_bytes_get_data (plain, &len);
    }
    switch (fh_gs_rtsp_parse_request (d, len, &req, &consumed, &error)) {
    case FH_GS_RTSP_PARSE_INCOMPLETE:
      g_assert_false (h->encrypted);
      continue;
    case FH_GS_RTSP_PARSE_ERROR:
      g_error ("the client's RTSP request does not parse: %s", error->message);
      break;
    case FH_GS_RTSP_PARSE_OK:
      g_assert_cmpuint (consumed, ==, len);
      g_assert_cmpstr (fh_gs_rtsp_request_get_header (req, "X-GS-ClientVersion"), ==, "14");
      rtsp_answer (h, fd, req, seq);
      break;
    }
    break;
  }
  close (fd);
}

static void
on_ping (FakeHost *h, int fd, const char *payload, struct sockaddr_in *peer, gboolean *have)
{
  guint8 buf[64];
  struct sockaddr_in from;
  socklen_t len = sizeof from;
  ssize_t n;

  while ((n = recvfrom (fd, buf, sizeof buf, MSG_DONTWAIT, (struct sockaddr *) &from, &len)) > 0) {
    g_assert_cmpint (n, ==, 20);
    g_assert_cmpmem (buf, 16, payload, 16);
    *peer = from;
    *have = TRUE;
  }
}

static void
send_video_frame (FakeHost *h, FhGsVideoPacketizer *p)
{
  static const guint8 sps[] = { 0, 0, 0, 1, 0x67, 0x42, 0xc0, 0x1e, 0xd9 };
  static const guint8 pps[] = { 0, 0, 0, 1, 0x68, 0xce, 0x3c, 0x80 };
  g_autoptr (GByteArray) f = g_byte_array_new ();
  gboolean idr = h->video_frames % 30 == 0;
  guint8 slice[] = { 0, 0, 1, idr ? 0x65 : 0x41 };
  FhGsVideoFrameInfo info = { .frame_index = h->video_frames + 1,
                              .rtp_timestamp = h->video_frames * 1500,
                              .type = idr ? FH_GS_VIDEO_FRAME_IDR : FH_GS_VIDEO_FRAME_P };
  gsize size = idr ? 20000 : 300 + g_random_int_range (0, 3000);
  const guint8 *pk;
  gsize len;

  if (idr) {
    g_byte_array_append (f, sps, sizeof sps);
    g_byte_array_append (f, pps, sizeof pps);
  }
  g_byte_array_append (f, slice, sizeof slice);
  while (f->len < size) {
    guint8 b = (guint8) (g_random_int () | 0x80);
    g_byte_array_append (f, &b, 1);
  }
  g_assert_true (fh_gs_video_packetizer_packetize (p, f->data, f->len, &info, NULL));
  pk = fh_gs_video_packetizer_packets (p);
  len = fh_gs_video_packetizer_packet_len (p);
  for (guint i = 0; i < fh_gs_video_packetizer_n_packets (p); i++)
    sendto (h->video_fd, pk + i * len, len, 0, (struct sockaddr *) &h->video_peer,
            sizeof h->video_peer);
  h->video_frames++;
}

static void
on_control (FakeHost *h, ENetEvent *ev)
{
  g_autoptr (GBytes) payload = NULL;
  g_autoptr (GError) error = NULL;
  FhGsControlMessage msg;
  guint32 seq;
  guint16 type;

  g_assert_true (fh_gs_control_decrypt (KEY, FH_GS_CONTROL_FROM_CLIENT, ev->packet->data,
                                        ev->packet->dataLength, &seq, &type, &payload, &error));
  g_assert_no_error (error);
  g_assert_true (fh_gs_control_parse (FH_GS_CONTROL_FROM_CLIENT, type,
                                      g_bytes_get_data (payload, NULL), g_bytes_get_size (payload),
                                      &msg, &error));
  if (msg.kind == FH_GS_CONTROL_MSG_PERIODIC_PING) {
    h->pings++;
    return;
  }
  g_string_append_printf (h->control_log, "%s@%u", fh_gs_control_message_kind_to_string (msg.kind),
                          ev->channelID);
  if (msg.kind == FH_GS_CONTROL_MSG_INPUT && msg.input.kind == FH_GS_INPUT_KEY)
    g_string_append_printf (h->control_log, " key 0x%x %s", msg.input.key.key_code,
                            msg.input.key.pressed ? "down" : "up");
  else if (msg.kind == FH_GS_CONTROL_MSG_INPUT && msg.input.kind == FH_GS_INPUT_MOUSE_ABSOLUTE)
    g_string_append_printf (h->control_log, " abs %d %d", msg.input.absolute.x,
                            msg.input.absolute.y);
  g_string_append (h->control_log, ";");
}

static gpointer
host_thread (gpointer data)
{
  FakeHost *h = data;
  g_autoptr (FhGsVideoPacketizer) vp = NULL;
  g_autoptr (FhGsAudioPacketizer) ap = NULL;
  gint64 next_frame = 0, next_audio = 0;

  while (!g_atomic_int_get (&h->stop)) {
    struct pollfd fds[3] = { { .fd = h->rtsp_fd, .events = POLLIN },
                             { .fd = h->video_fd, .events = POLLIN },
                             { .fd = h->audio_fd, .events = POLLIN } };
    ENetEvent ev;
    gint64 now;

    poll (fds, 3, 1);
    if (fds[0].revents & POLLIN)
      rtsp_serve (h);
    on_ping (h, h->video_fd, PING_PAYLOAD_VIDEO, &h->video_peer, &h->have_video_peer);
    on_ping (h, h->audio_fd, PING_PAYLOAD_AUDIO, &h->audio_peer, &h->have_audio_peer);
    while (enet_host_service (h->enet, &ev, 0) > 0) {
      if (ev.type == ENET_EVENT_TYPE_CONNECT) {
        h->enet_connected = TRUE;
        h->connect_data = ev.data;
      } else if (ev.type == ENET_EVENT_TYPE_RECEIVE) {
        on_control (h, &ev);
        enet_packet_destroy (ev.packet);
      } else if (ev.type == ENET_EVENT_TYPE_DISCONNECT) {
        h->enet_disconnected = TRUE;
      }
    }
    if (!h->playing)
      continue;
    now = g_get_monotonic_time ();
    if (h->have_video_peer && now >= next_frame) {
      if (!vp) {
        FhGsVideoConfig c = { .packet_size = h->settings.packet_size,
                              .fec_percentage = h->settings.fec_repair_percent,
                              .min_parity_packets = h->settings.min_fec_packets };
        vp = fh_gs_video_packetizer_new (&c, NULL);
        g_assert_nonnull (vp);
      }
      next_frame = now + G_USEC_PER_SEC / h->settings.fps;
      send_video_frame (h, vp);
    }
    if (h->have_audio_peer && now >= next_audio) {
      const FhGsAudioPacket *pk;
      GBytes *opus = h->audio_opus->pdata[h->audio_packets % AUDIO_FRAMES];
      guint n;

      if (!ap) {
        FhGsAudioConfig c = { .encrypt = TRUE, .rikeyid = RIKEYID,
                              .packet_duration_ms = h->settings.audio_packet_ms };
        memcpy (c.key, KEY, 16);
        ap = fh_gs_audio_packetizer_new (&c, NULL);
        next_audio = now;
      }
      next_audio += h->settings.audio_packet_ms * 1000;
      g_assert_true (fh_gs_audio_packetizer_push (ap, g_bytes_get_data (opus, NULL),
                                                  g_bytes_get_size (opus), NULL));
      pk = fh_gs_audio_packetizer_packets (ap, &n);
      for (guint i = 0; i < n; i++)
        sendto (h->audio_fd, pk[i].data, pk[i].len, 0, (struct sockaddr *) &h->audio_peer,
                sizeof h->audio_peer);
      h->audio_packets++;
    }
  }
  return NULL;
}

static void
host_start (FakeHost *h, gboolean encrypted)
{
  ENetAddress a = { .port = 0 };
  OpusEncoder *enc;
  int err;

  memset (h, 0, sizeof *h);
  h->encrypted = encrypted;
  h->rtsp_log = g_string_new (NULL);
  h->control_log = g_string_new (NULL);
  h->rtsp_fd = bind_socket (SOCK_STREAM, &h->rtsp_port);
  g_assert_cmpint (listen (h->rtsp_fd, 8), ==, 0);
  h->video_fd = bind_socket (SOCK_DGRAM, &h->video_port);
  h->audio_fd = bind_socket (SOCK_DGRAM, &h->audio_port);
  g_assert_cmpint (enet_initialize (), ==, 0);
  enet_address_set_host_ip (&a, "127.0.0.1");
  h->enet = enet_host_create (&a, 4, FH_GS_CONTROL_CHANNEL_COUNT, 0, 0);
  g_assert_nonnull (h->enet);
  h->control_port = h->enet->address.port;
  /* 1 s of a 440 Hz tone, 5 ms packets, constant bitrate (as Sunshine). */
  h->audio_opus = g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref);
  enc = opus_encoder_create (48000, 2, OPUS_APPLICATION_RESTRICTED_LOWDELAY, &err);
  opus_encoder_ctl (enc, OPUS_SET_BITRATE (96000));
  opus_encoder_ctl (enc, OPUS_SET_VBR (0));
  for (guint i = 0; i < AUDIO_FRAMES; i++) {
    float pcm[240 * 2];
    guint8 out[1000];
    int n;
    for (guint s = 0; s < 240; s++)
      pcm[2 * s] = pcm[2 * s + 1] = 0.4f * (float) sin (2 * G_PI * 440 * (i * 240 + s) / 48000.0);
    n = opus_encode_float (enc, pcm, 240, out, sizeof out);
    g_assert_cmpint (n, >, 0);
    g_ptr_array_add (h->audio_opus, g_bytes_new (out, (gsize) n));
  }
  opus_encoder_destroy (enc);
  h->thread = g_thread_new ("fake-host", host_thread, h);
}

static void
host_stop (FakeHost *h)
{
  g_atomic_int_set (&h->stop, 1);
  g_thread_join (h->thread);
  enet_host_destroy (h->enet);
  enet_deinitialize ();
  close (h->rtsp_fd);
  close (h->video_fd);
  close (h->audio_fd);
  g_ptr_array_unref (h->audio_opus);
}

static void
host_free_logs (FakeHost *h)
{
  g_string_free (h->rtsp_log, TRUE);
  g_string_free (h->control_log, TRUE);
}

static char *
run_client (FakeHost *h, const char *extra, int *status)
{
  const char *exe = g_getenv ("FH_GS_CLIENT");
  g_autofree char *key = NULL, *cmd = NULL, *out = NULL, *err = NULL;
  g_auto (GStrv) argv = NULL;
  g_autoptr (GError) error = NULL;
  GString *hex = g_string_new (NULL);

  g_assert_nonnull (exe);
  for (guint i = 0; i < 16; i++)
    g_string_append_printf (hex, "%02x", KEY[i]);
  key = g_string_free (hex, FALSE);
  cmd = g_strdup_printf ("%s --host 127.0.0.1 --session-url %s://127.0.0.1:%u --rikey %s "
                         "--rikeyid %d --mode 640x480x60 --frames 120 --audio-ms 1000 "
                         "--timeout 20 %s",
                         exe, h->encrypted ? "rtspenc" : "rtsp", h->rtsp_port, key,
                         (gint32) RIKEYID, extra);
  g_assert_true (g_shell_parse_argv (cmd, NULL, &argv, &error));
  /* stdin at EOF: a --hold ends as soon as the client is done. */
  g_assert_true (g_spawn_sync (NULL, argv, NULL, G_SPAWN_STDIN_FROM_DEV_NULL, NULL, NULL, &out,
                               &err, status, &error));
  g_assert_no_error (error);
  g_test_message ("%s\n--- stdout ---\n%s--- stderr ---\n%s", cmd, out, err);
  return g_steal_pointer (&out);
}

static void
check_stream (gboolean encrypted)
{
  FakeHost h;
  g_autofree char *out = NULL;
  g_autoptr (GError) error = NULL;
  int status;

  host_start (&h, encrypted);
  out = run_client (&h, encrypted ? "--keys KEY_A,KEY_Z --drop-video 9"
                                   : "--keys KEY_A,KEY_Z --drop-video 9 --hold",
                    &status);
  host_stop (&h);

  g_assert_true (g_spawn_check_wait_status (status, &error));
  {
    g_autofree char *want = g_strdup_printf (
      "OPTIONS %s://127.0.0.1:%u;DESCRIBE %s://127.0.0.1:%u;SETUP streamid=audio/0/0;"
      "SETUP streamid=video/0/0 +session;SETUP streamid=control/13/0 +session;"
      "ANNOUNCE streamid=control/13/0 +session;PLAY / +session;",
      encrypted ? "rtspenc" : "rtsp", h.rtsp_port, encrypted ? "rtspenc" : "rtsp", h.rtsp_port);
    g_assert_cmpstr (h.rtsp_log->str, ==, want);
  }
  g_assert_true (h.announce_ok);
  g_assert_cmpuint (h.settings.width, ==, 640);
  g_assert_cmpuint (h.settings.fps, ==, 60);
  g_assert_cmpuint (h.settings.encryption_enabled, ==, FH_GS_ENC_CONTROL_V2 | FH_GS_ENC_AUDIO);
  g_assert_true (h.enet_connected);
  g_assert_cmpuint (h.connect_data, ==, CONNECT_DATA);
  g_assert_true (h.enet_disconnected);
  g_assert_cmpuint (h.pings, >, 5);
  /* Start A (the IDR request) and Start B, an IDR request on the urgent
   * channel, then the keys (VK with 0x8000, as moonlight-qt) and the mouse. */
  g_assert_cmpstr (h.control_log->str, ==,
                   "request-idr-frame@0;start-b@0;request-idr-frame@1;"
                   "input@2 key 0x8041 down;input@2 key 0x8041 up;"
                   "input@2 key 0x805a down;input@2 key 0x805a up;input@3 abs 160 160;");
  g_assert_nonnull (strstr (out, "{\"event\":\"rtsp\","));
  g_assert_nonnull (strstr (out, "\"keys\":[{\"name\":\"KEY_A\",\"evdev\":30,\"vk\":65}"));
  g_assert_nonnull (strstr (out, "\"dominant_hz\":440"));
  g_assert_nonnull (strstr (out, "{\"event\":\"quit\"}"));
  if (!encrypted)
    g_assert_nonnull (strstr (out, "{\"event\":\"holding\"}\n{\"event\":\"quit\"}"));
  g_assert_null (strstr (out, "\"recovered_packets\":0,"));
  host_free_logs (&h);
}

static void
test_plain (void)
{
  check_stream (FALSE);
}

static void
test_encrypted (void)
{
  check_stream (TRUE);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/gs-client-stream/rtsp", test_plain);
  g_test_add_func ("/gs-client-stream/rtspenc", test_encrypted);
  return g_test_run ();
}
