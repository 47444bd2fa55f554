/* fh-gs-client: a headless GameStream client for the test suite. It does
 * what Moonlight (moonlight-common-c) does on the wire against a Sunshine
 * host: pairs with a PIN, lists apps, launches, runs the RTSP handshake,
 * receives video (FEC-recovered, depacketized, checked as H.264) and audio
 * (FEC, decrypted, Opus-decoded), sends input over the encrypted control
 * stream, and quits. Each step prints one JSON line on stdout; progress
 * and errors go to stderr. See docs/gamestream.md, "Test client". */
#include <errno.h>
#include <fcntl.h>
#include <gio/gio.h>
#include <glib/gstdio.h>
#include <gnutls/gnutls.h>
#include <linux/input-event-codes.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "gs-audio-receiver.h"
#include "gs-control-client.h"
#include "gs-keys.h"
#include "gs-pair-client.h"
#include "gs-rtsp-client.h"
#include "gs-video-receiver.h"

#define UDP_PING_INTERVAL_US (500 * 1000)
#define VIDEO_PACKET_SIZE 1392

typedef struct {
  /* Options */
  char *host;
  int http_port;
  char *state_dir;
  char *pin;
  char *name;
  char *mode;
  int frames;
  int audio_ms;
  char *keys;
  int drop_video;
  int lose_at; /* report frames lost once this many arrived (0: never) */
  gboolean plain_rtsp;
  int timeout_s;
  int bitrate;
  int audio_packet_ms;
  int fec_percent;
  int appid;
  gboolean click;
  char *text;
  gboolean input_when_told;
  gboolean hold;
  char *gamepad;
  int gamepad_number;

  guint width, height, fps;
  gint64 deadline;
  gint64 first_audio_us; /* when the first audio datagram came */
  GsClient client;
  char *uniqueid;
  char *http_base, *https_base;
  GsAppVersion app_version;
  guint8 rikey[16];
  gint32 rikeyid;
  gboolean launched;
  char *session_url;
  GsRtspResult rtsp;
  int video_fd, audio_fd;
  GsVideoReceiver *video;
  GsAudioReceiver *audio;
  GsControl *control;
  GArray *keycodes; /* GsKey */
  GArray *pad_states; /* FhGsInput, multi-controller; active mask 0 = the pad leaves */
} App;

static void
emit (const char *fmt, ...) G_GNUC_PRINTF (1, 2);

static void
emit (const char *fmt, ...)
{
  va_list ap;

  va_start (ap, fmt);
  vprintf (fmt, ap);
  va_end (ap);
  putchar ('\n');
  fflush (stdout);
}

/* A JSON string literal. */
static char *
jstr (const char *s)
{
  GString *out = g_string_new ("\"");

  for (const char *p = s ? s : ""; *p; p++) {
    guchar ch = (guchar) *p;
    if (ch == '"' || ch == '\\')
      g_string_append_printf (out, "\\%c", ch);
    else if (ch < 0x20)
      g_string_append_printf (out, "\\u%04x", ch);
    else
      g_string_append_c (out, (char) ch);
  }
  g_string_append_c (out, '"');
  return g_string_free (out, FALSE);
}

static guint
remaining_s (App *app)
{
  gint64 left = app->deadline - g_get_monotonic_time ();

  return left > 0 ? (guint) ((left + G_USEC_PER_SEC - 1) / G_USEC_PER_SEC) : 0;
}

/* The client's identity and uniqueid, made on the first run. */
static gboolean
load_state (App *app, GError **error)
{
  g_autofree char *cert_path = g_build_filename (app->state_dir, "client-cert.pem", NULL);
  g_autofree char *key_path = g_build_filename (app->state_dir, "client-key.pem", NULL);
  g_autofree char *id_path = g_build_filename (app->state_dir, "uniqueid", NULL);
  g_autofree char *cert = NULL, *key = NULL;

  if (g_mkdir_with_parents (app->state_dir, 0700) != 0) {
    g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errno), "cannot create %s: %s",
                 app->state_dir, g_strerror (errno));
    return FALSE;
  }
  if (g_file_get_contents (cert_path, &cert, NULL, NULL) &&
      g_file_get_contents (key_path, &key, NULL, NULL)) {
    if (!gs_client_init (&app->client, app->name, cert, key, error)) {
      g_prefix_error (error, "%s: ", app->state_dir);
      return FALSE;
    }
  } else {
    g_autofree char *new_key = NULL;
    g_printerr ("fh-gs-client: making a key and certificate in %s\n", app->state_dir);
    if (!gs_client_init (&app->client, app->name, NULL, NULL, error))
      return FALSE;
    new_key = fh_gs_identity_key_pem (app->client.identity);
    if (!g_file_set_contents_full (key_path, new_key, -1, G_FILE_SET_CONTENTS_CONSISTENT, 0600,
                                   error) ||
        !g_file_set_contents_full (cert_path, fh_gs_identity_cert_pem (app->client.identity), -1,
                                   G_FILE_SET_CONTENTS_CONSISTENT, 0600, error))
      return FALSE;
  }
  if (!g_file_get_contents (id_path, &app->uniqueid, NULL, NULL)) {
    /* What every Moonlight sends: the host must tell clients apart by
     * certificate, and this keeps it honest. */
    app->uniqueid = g_strdup ("0123456789ABCDEF");
    if (!g_file_set_contents (id_path, app->uniqueid, -1, error))
      return FALSE;
  }
  g_strstrip (app->uniqueid);
  return TRUE;
}

/* Moonlight adds uniqueid and a fresh uuid to every request. */
static char *
url (App *app, gboolean https, const char *path, const char *query)
{
  g_autofree char *uuid = g_uuid_string_random ();

  return g_strdup_printf ("%s%s?uniqueid=%s&uuid=%s%s%s", https ? app->https_base : app->http_base,
                          path, app->uniqueid, uuid, query ? "&" : "", query ? query : "");
}

static gboolean
server_info (App *app, GError **error)
{
  g_autofree char *u = url (app, FALSE, "/serverinfo", NULL);
  g_autofree char *https_port = NULL, *version = NULL, *paired = NULL;
  GsReply r;

  if (!gs_request_get_ok (&app->client, u, MAX (remaining_s (app), 1), &r, error))
    goto fail;
  https_port = gs_xml_field (r.body, "HttpsPort");
  version = gs_xml_field (r.body, "appversion");
  if (!https_port || !gs_app_version_parse (version, &app->app_version)) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                 "/serverinfo lacks HttpsPort or a 4-part appversion: %s", r.body);
    goto fail;
  }
  if (app->app_version.v[3] >= 0)
    g_printerr ("fh-gs-client: appversion %s is not Sunshine's (4th part < 0); speaking "
                "Sunshine anyway\n",
                version);
  app->https_base = g_strdup_printf ("https://%s:%s", app->host, https_port);
  gs_reply_clear (&r);
  return TRUE;
fail:
  gs_reply_clear (&r);
  return FALSE;
}

static gboolean
ensure_paired (App *app, GError **error)
{
  g_autofree char *u = url (app, TRUE, "/serverinfo", NULL);
  g_autofree char *status = NULL;
  GsPairing p;
  GsReply r;
  gboolean ok;

  if (!gs_request_get_ok (&app->client, u, MAX (remaining_s (app), 1), &r, error)) {
    gs_reply_clear (&r);
    return FALSE;
  }
  status = gs_xml_field (r.body, "PairStatus");
  gs_reply_clear (&r);
  if (g_strcmp0 (status, "1") == 0) {
    emit ("{\"event\":\"paired\",\"new\":false}");
    return TRUE;
  }
  if (!app->pin)
    app->pin = g_strdup_printf ("%04u", g_random_int_range (0, 10000));
  emit ("{\"event\":\"pin\",\"pin\":\"%s\"}", app->pin);
  g_printerr ("fh-gs-client: not paired; enter PIN %s on the host "
              "(funkhaus pair --moonlight %s)\n",
              app->pin, app->pin);
  gs_pairing_begin (&p, &app->client, app->uniqueid, app->http_base, app->pin);
  ok = gs_pairing_finish (&p, app->https_base, MAX (remaining_s (app), 1), error);
  if (ok && !p.host_proved_pin) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED,
                 "pairing: the host's challenge answer does not match PIN %s (wrong PIN "
                 "entered, or not the host we think)",
                 app->pin);
    ok = FALSE;
  } else if (ok && !p.paired) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED,
                 "pairing: the host refused (paired 0 after clientpairingsecret)");
    ok = FALSE;
  }
  gs_pairing_clear (&p);
  if (ok)
    emit ("{\"event\":\"paired\",\"new\":true}");
  return ok;
}

static gboolean
list_apps (App *app, GError **error)
{
  g_autofree char *u = url (app, TRUE, "/applist", NULL);
  g_autoptr (GString) json = g_string_new (NULL);
  g_autofree char *want = g_strdup_printf ("%d", app->appid);
  gboolean have = FALSE;
  const char *p;
  GsReply r;

  if (!gs_request_get_ok (&app->client, u, MAX (remaining_s (app), 1), &r, error)) {
    gs_reply_clear (&r);
    return FALSE;
  }
  for (p = strstr (r.body, "<App>"); p; p = strstr (p + 1, "<App>")) {
    const char *end = strstr (p, "</App>");
    g_autofree char *one = end ? g_strndup (p, (gsize) (end - p)) : g_strdup (p);
    g_autofree char *title = gs_xml_field (one, "AppTitle"), *id = gs_xml_field (one, "ID");
    g_autofree char *jt = jstr (title);
    g_string_append_printf (json, "%s{\"id\":%d,\"title\":%s}", json->len ? "," : "",
                            id ? atoi (id) : -1, jt);
    have = have || g_strcmp0 (id, want) == 0;
  }
  emit ("{\"event\":\"apps\",\"apps\":[%s]}", json->str);
  if (!have) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND, "/applist has no app with ID %d: %s",
                 app->appid, r.body);
    gs_reply_clear (&r);
    return FALSE;
  }
  gs_reply_clear (&r);
  return TRUE;
}

static gboolean
launch (App *app, GError **error)
{
  g_autofree char *rikey = NULL, *q = NULL, *u = NULL, *session_url = NULL, *game = NULL;
  g_autofree char *js = NULL, *ju = NULL;
  GsReply r;

  for (guint i = 0; i < 16; i++)
    app->rikey[i] = (guint8) g_random_int ();
  app->rikeyid = (gint32) g_random_int ();
  rikey = fh_gs_hex_encode (app->rikey, 16);
  q = g_strdup_printf ("appid=%d&mode=%ux%ux%u&additionalStates=1&sops=0&rikey=%s&rikeyid=%d"
                       "&localAudioPlayMode=0&surroundAudioInfo=196610"
                       "&remoteControllersBitmap=0&gcmap=0%s",
                       app->appid, app->width, app->height, app->fps, rikey, app->rikeyid,
                       app->plain_rtsp ? "" : "&corever=1");
  u = url (app, TRUE, "/launch", q);
  if (!gs_request_get_ok (&app->client, u, MAX (remaining_s (app), 1), &r, error)) {
    gs_reply_clear (&r);
    return FALSE;
  }
  app->launched = TRUE;
  session_url = gs_xml_field (r.body, "sessionUrl0");
  game = gs_xml_field (r.body, "gamesession");
  gs_reply_clear (&r);
  if (!session_url) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "/launch: no sessionUrl0");
    return FALSE;
  }
  if (g_str_has_prefix (session_url, app->plain_rtsp ? "rtspenc://" : "rtsp://")) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                 "/launch %s corever=1 answered %s; want %s", app->plain_rtsp ? "without" : "with",
                 session_url, app->plain_rtsp ? "rtsp://" : "rtspenc://");
    return FALSE;
  }
  js = jstr (game);
  ju = jstr (session_url);
  emit ("{\"event\":\"launched\",\"session\":%s,\"url\":%s}", js, ju);
  app->session_url = g_steal_pointer (&session_url);
  return TRUE;
}

static gboolean
rtsp (App *app, GError **error)
{
  {
    GsRtspConfig config = {
      .session_url = app->session_url,
      .app_version = app->app_version,
      .width = app->width,
      .height = app->height,
      .fps = app->fps,
      .bitrate_kbps = (guint) app->bitrate,
      .audio_packet_ms = (guint) app->audio_packet_ms,
      .fec_percent = (guint) app->fec_percent,
      .timeout_ms = MIN (MAX (remaining_s (app), 1u), 10u) * 1000,
    };
    memcpy (config.key, app->rikey, 16);
    if (!gs_rtsp_handshake (&config, &app->rtsp, error))
      return FALSE;
  }
  emit ("{\"event\":\"rtsp\",\"video_port\":%u,\"audio_port\":%u,\"control_port\":%u,"
        "\"encryption\":%u,\"video_ping\":%s,\"audio_ping\":%s}",
        app->rtsp.video_port, app->rtsp.audio_port, app->rtsp.control_port,
        app->rtsp.encryption_enabled, app->rtsp.video_ping[0] ? "true" : "false",
        app->rtsp.audio_ping[0] ? "true" : "false");
  return TRUE;
}

static int
udp_socket (GError **error)
{
  int fd = socket (AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  int size = 4 * 1024 * 1024;

  if (fd < 0) {
    g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errno), "socket: %s",
                 g_strerror (errno));
    return -1;
  }
  /* Loopback bursts of a keyframe outrun the default buffer. */
  setsockopt (fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
  return fd;
}

/* Sunshine's ping: the 16-byte X-SS-Ping-Payload then BE32 count;
 * Moonlight sends "PING" when the host gave no payload. */
static void
send_ping (App *app, int fd, guint port, const char *payload, guint32 count)
{
  struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons ((guint16) port) };
  guint8 buf[20];
  gsize n;

  inet_pton (AF_INET, app->host, &to.sin_addr);
  if (payload[0]) {
    memcpy (buf, payload, 16);
    buf[16] = (guint8) (count >> 24);
    buf[17] = (guint8) (count >> 16);
    buf[18] = (guint8) (count >> 8);
    buf[19] = (guint8) count;
    n = 20;
  } else {
    memcpy (buf, "PING", 4);
    n = 4;
  }
  sendto (fd, buf, n, 0, (struct sockaddr *) &to, sizeof to);
}

static void
on_rumble (guint16 controller, guint16 low_freq, guint16 high_freq, gpointer user_data)
{
  emit ("{\"event\":\"rumble\",\"controller\":%u,\"low\":%u,\"high\":%u}", controller,
        low_freq, high_freq);
}

/* --gamepad: states separated by ';', each "key=value" pairs separated by
 * ','. Keys: buttons (names joined by '+'), lt, rt (0–255), lx, ly, rx, ry
 * (Moonlight's sign: Y positive is up); the state "leave" unplugs the pad. */
static gboolean
parse_gamepad (App *app, GError **error)
{
  static const struct {
    const char *name;
    guint32 flag;
  } buttons[] = {
    { "a", FH_GS_PAD_A },         { "b", FH_GS_PAD_B },         { "x", FH_GS_PAD_X },
    { "y", FH_GS_PAD_Y },         { "lb", FH_GS_PAD_LB },       { "rb", FH_GS_PAD_RB },
    { "back", FH_GS_PAD_BACK },   { "start", FH_GS_PAD_PLAY },  { "guide", FH_GS_PAD_SPECIAL },
    { "ls", FH_GS_PAD_LS_CLK },   { "rs", FH_GS_PAD_RS_CLK },   { "up", FH_GS_PAD_UP },
    { "down", FH_GS_PAD_DOWN },   { "left", FH_GS_PAD_LEFT },   { "right", FH_GS_PAD_RIGHT },
  };
  g_auto (GStrv) states = g_strsplit (app->gamepad, ";", -1);

  if (app->gamepad_number < 0 || app->gamepad_number > 15) {
    g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE, "--gamepad-number: 0–15");
    return FALSE;
  }
  for (guint i = 0; states[i]; i++) {
    g_auto (GStrv) fields = g_strsplit (g_strstrip (states[i]), ",", -1);
    FhGsInput in = { .kind = FH_GS_INPUT_MULTI_CONTROLLER };

    in.controller.controller_number = (gint16) app->gamepad_number;
    if (!g_str_equal (states[i], "leave"))
      in.controller.active_gamepad_mask = (guint16) (1u << app->gamepad_number);
    for (guint f = 0; fields[f] && *fields[f] && in.controller.active_gamepad_mask; f++) {
      g_auto (GStrv) kv = g_strsplit (fields[f], "=", 2);
      gint64 v = 0;

      if (!kv[1]) {
        g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                     "--gamepad: '%s' is not key=value", fields[f]);
        return FALSE;
      }
      if (g_str_equal (kv[0], "buttons")) {
        g_auto (GStrv) names = g_strsplit (kv[1], "+", -1);
        for (guint n = 0; names[n]; n++) {
          guint b;
          for (b = 0; b < G_N_ELEMENTS (buttons); b++) {
            if (g_str_equal (names[n], buttons[b].name))
              break;
          }
          if (b == G_N_ELEMENTS (buttons)) {
            g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                         "--gamepad: unknown button '%s'", names[n]);
            return FALSE;
          }
          in.controller.button_flags |= buttons[b].flag;
        }
        continue;
      }
      if (!g_ascii_string_to_signed (kv[1], 10, -32768, 32767, &v, error))
        return FALSE;
      if (g_str_equal (kv[0], "lt") || g_str_equal (kv[0], "rt")) {
        if (v < 0 || v > 255) {
          g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                       "--gamepad: a trigger is 0–255");
          return FALSE;
        }
        *(kv[0][0] == 'l' ? &in.controller.left_trigger : &in.controller.right_trigger) = (guint8) v;
      } else if (g_str_equal (kv[0], "lx")) {
        in.controller.left_stick_x = (gint16) v;
      } else if (g_str_equal (kv[0], "ly")) {
        in.controller.left_stick_y = (gint16) v;
      } else if (g_str_equal (kv[0], "rx")) {
        in.controller.right_stick_x = (gint16) v;
      } else if (g_str_equal (kv[0], "ry")) {
        in.controller.right_stick_y = (gint16) v;
      } else {
        g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                     "--gamepad: unknown key '%s'", kv[0]);
        return FALSE;
      }
    }
    g_array_append_val (app->pad_states, in);
  }
  return TRUE;
}

/* The pad's arrival (type 1: Xbox), then, half a second later (apps open
 * a new pad in their own time, and take its state then as where it
 * starts), each state, 30 ms apart. */
static gboolean
send_gamepad (App *app, GError **error)
{
  g_autoptr (GBytes) arrival = NULL;
  guint8 channel = (guint8) (FH_GS_CONTROL_CHANNEL_GAMEPAD_BASE + app->gamepad_number);

  if (!app->pad_states->len)
    return TRUE;
  arrival = fh_gs_input_build_controller_arrival ((guint8) app->gamepad_number, 1, 0, 0xffff);
  if (!gs_control_send_bytes (app->control, FH_GS_CONTROL_TYPE_INPUT, arrival, channel, TRUE,
                              error))
    return FALSE;
  for (int i = 0; i < 10; i++)
    if (!gs_control_service (app->control, 50, error))
      return FALSE;
  for (guint i = 0; i < app->pad_states->len; i++) {
    g_autoptr (GBytes) pkt =
      fh_gs_input_build_multi_controller (&g_array_index (app->pad_states, FhGsInput, i));
    if (!gs_control_send_bytes (app->control, FH_GS_CONTROL_TYPE_INPUT, pkt, channel, TRUE,
                                error) ||
        !gs_control_service (app->control, 30, error))
      return FALSE;
  }
  emit ("{\"event\":\"gamepad_sent\",\"controller\":%d,\"states\":%u}", app->gamepad_number,
        app->pad_states->len);
  return TRUE;
}

static gboolean
send_input (App *app, GError **error)
{
  g_autoptr (GString) keys = g_string_new (NULL);
  guint x = app->width / 4, y = app->height / 3;

  if (app->click) {
    /* Move and click first (focus on a shared desktop follows the click),
     * and let it arrive before the keys: ENet orders each channel alone. */
    g_autoptr (GBytes) move = fh_gs_input_build_mouse_absolute ((gint16) x, (gint16) y,
                                                                (guint16) app->width,
                                                                (guint16) app->height);
    g_autoptr (GBytes) down = fh_gs_input_build_mouse_button (FH_GS_MOUSE_BUTTON_LEFT, TRUE);
    g_autoptr (GBytes) up = fh_gs_input_build_mouse_button (FH_GS_MOUSE_BUTTON_LEFT, FALSE);
    if (!gs_control_send_bytes (app->control, FH_GS_CONTROL_TYPE_INPUT, move,
                                FH_GS_CONTROL_CHANNEL_MOUSE, TRUE, error) ||
        !gs_control_send_bytes (app->control, FH_GS_CONTROL_TYPE_INPUT, down,
                                FH_GS_CONTROL_CHANNEL_MOUSE, TRUE, error) ||
        !gs_control_send_bytes (app->control, FH_GS_CONTROL_TYPE_INPUT, up,
                                FH_GS_CONTROL_CHANNEL_MOUSE, TRUE, error))
      return FALSE;
    for (int i = 0; i < 4; i++)
      if (!gs_control_service (app->control, 50, error))
        return FALSE;
  }
  for (guint i = 0; i < app->keycodes->len; i++) {
    const GsKey *k = &g_array_index (app->keycodes, GsKey, i);
    for (int down = 1; down >= 0; down--) {
      /* moonlight-qt sends 0x8000 | VK; the host reads the low byte. */
      g_autoptr (GBytes) pkt = fh_gs_input_build_key ((guint16) (0x8000 | k->vk), down, 0);
      if (!gs_control_send_bytes (app->control, FH_GS_CONTROL_TYPE_INPUT, pkt,
                                  FH_GS_CONTROL_CHANNEL_KEYBOARD, TRUE, error))
        return FALSE;
    }
    g_string_append_printf (keys, "%s{\"name\":\"%s\",\"evdev\":%u,\"vk\":%u}",
                            keys->len ? "," : "", k->name, k->evdev, k->vk);
  }
  for (const char *c = app->text; c && *c; c = g_utf8_next_char (c)) {
    gsize len = (gsize) (g_utf8_next_char (c) - c);
    g_autoptr (GBytes) pkt = fh_gs_input_build_text (c, len);
    if (!gs_control_send_bytes (app->control, FH_GS_CONTROL_TYPE_INPUT, pkt,
                                FH_GS_CONTROL_CHANNEL_UTF8, TRUE, error))
      return FALSE;
  }
  {
    g_autoptr (GBytes) pkt = fh_gs_input_build_mouse_absolute ((gint16) x, (gint16) y,
                                                               (guint16) app->width,
                                                               (guint16) app->height);
    if (!gs_control_send_bytes (app->control, FH_GS_CONTROL_TYPE_INPUT, pkt,
                                FH_GS_CONTROL_CHANNEL_MOUSE, TRUE, error))
      return FALSE;
  }
  if (!send_gamepad (app, error))
    return FALSE;
  emit ("{\"event\":\"input_sent\",\"keys\":[%s],\"mouse\":{\"x\":%u,\"y\":%u,\"width\":%u,"
        "\"height\":%u}}",
        keys->str, x, y, app->width, app->height);
  return TRUE;
}

/* Reads every datagram waiting on @fd into @push. */
static gboolean
drain (App *app, int fd, gboolean video, GError **error)
{
  static guint8 buf[65536];

  for (;;) {
    ssize_t n = recv (fd, buf, sizeof buf, 0);
    if (n < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK)
        return TRUE;
      if (errno == ECONNREFUSED || errno == EINTR)
        continue; /* an ICMP for a ping sent before the host listened */
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errno), "recv: %s",
                   g_strerror (errno));
      return FALSE;
    }
    if (video) {
      if (!gs_video_receiver_push (app->video, buf, (gsize) n, error)) {
        g_prefix_error (error, "video: ");
        return FALSE;
      }
    } else {
      if (!app->first_audio_us)
        app->first_audio_us = g_get_monotonic_time ();
      if (!gs_audio_receiver_push (app->audio, buf, (gsize) n, error)) {
        g_prefix_error (error, "audio: ");
        return FALSE;
      }
    }
  }
}

static void
emit_media (App *app)
{
  const GsVideoStats *v = gs_video_receiver_stats (app->video);
  const GsAudioStats *a = gs_audio_receiver_stats (app->audio);
  double share = 0, hz = gs_audio_receiver_dominant_hz (app->audio, &share);

  emit ("{\"event\":\"video\",\"frames\":%u,\"keyframes\":%u,\"recovered_packets\":%u,"
        "\"lost_frames\":%u,\"skipped_frames\":%u,\"packets\":%u,\"dropped\":%u,"
        "\"first_frame\":%u,"
        "\"bytes\":%" G_GUINT64_FORMAT "}",
        v->frames, v->keyframes, v->recovered_packets, v->lost_frames, v->skipped_frames,
        v->packets, v->dropped, v->first_frame,
        v->bytes);
  /* Audio comes in real time: more ms than have passed since the first
   * packet means the host sent faster than its speaker plays. */
  guint elapsed_ms =
    app->first_audio_us ? (guint) ((g_get_monotonic_time () - app->first_audio_us) / 1000) : 0;

  emit ("{\"event\":\"audio\",\"packets\":%u,\"frames\":%u,\"recovered\":%u,\"lost\":%u,"
        "\"ms\":%u,\"elapsed_ms\":%u,\"dominant_hz\":%.0f,\"tone_share\":%.2f}",
        a->packets, a->frames, a->recovered, a->lost, a->ms, elapsed_ms, hz, share);
}

static gboolean
stream (App *app, GError **error)
{
  gint64 next_ping = 0;
  guint32 pings = 0;
  gboolean input_sent = app->keycodes->len == 0 && app->pad_states->len == 0, done = FALSE,
           holding = FALSE;
  guint lost_reported = 0;
  g_autofree char *addr = NULL;

  app->video_fd = udp_socket (error);
  app->audio_fd = app->video_fd < 0 ? -1 : udp_socket (error);
  if (app->audio_fd < 0)
    return FALSE;
  app->video = gs_video_receiver_new (VIDEO_PACKET_SIZE + 16, (guint) app->drop_video);
  app->audio = gs_audio_receiver_new (app->rikey, (guint32) app->rikeyid, TRUE,
                                      (guint) app->audio_packet_ms, error);
  if (!app->audio)
    return FALSE;
  /* Moonlight's order: control stream, then video and audio pings. */
  app->control = gs_control_connect (app->host, app->rtsp.control_port, app->rtsp.connect_data,
                                     app->rikey, MIN (remaining_s (app), 10u) * 1000, error);
  if (!app->control)
    return FALSE;
  gs_control_set_rumble_func (app->control, on_rumble, app);
  /* The IDR request Moonlight sends when its decoder starts. */
  {
    g_autoptr (GBytes) idr = fh_gs_control_build_request_idr ();
    if (!gs_control_send_bytes (app->control, FH_GS_CONTROL_TYPE_REQUEST_IDR_FRAME, idr,
                                FH_GS_CONTROL_CHANNEL_URGENT, TRUE, error))
      return FALSE;
  }

  for (;;) {
    const GsVideoStats *v = gs_video_receiver_stats (app->video);
    const GsAudioStats *a = gs_audio_receiver_stats (app->audio);
    struct pollfd fds[3] = {
      { .fd = app->video_fd, .events = POLLIN },
      { .fd = app->audio_fd, .events = POLLIN },
      { .fd = holding ? 0 : -1, .events = POLLIN },
    };

    if (g_get_monotonic_time () >= next_ping) {
      next_ping = g_get_monotonic_time () + UDP_PING_INTERVAL_US;
      pings++;
      send_ping (app, app->video_fd, app->rtsp.video_port, app->rtsp.video_ping, pings);
      send_ping (app, app->audio_fd, app->rtsp.audio_port, app->rtsp.audio_ping, pings);
    }
    if (poll (fds, 3, 5) < 0 && errno != EINTR) {
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errno), "poll: %s",
                   g_strerror (errno));
      return FALSE;
    }
    if (!drain (app, app->video_fd, TRUE, error) || !drain (app, app->audio_fd, FALSE, error))
      return FALSE;
    if (!gs_control_service (app->control, 0, error))
      return FALSE;
    /* Frames FEC could not repair: as Moonlight does, ask for them to be
     * invalidated (the host answers with a keyframe, and slows down). */
    if (v->lost_frames > lost_reported ||
        (app->lose_at > 0 && v->frames >= (guint) app->lose_at)) {
      guint32 last = v->first_frame + v->frames + v->lost_frames + v->skipped_frames;
      guint lost = v->lost_frames > lost_reported ? v->lost_frames - lost_reported : 3;
      g_autoptr (GBytes) rfi = fh_gs_control_build_invalidate_ref_frames (last - lost, last - 1);
      if (!gs_control_send_bytes (app->control, FH_GS_CONTROL_TYPE_INVALIDATE_REF_FRAMES, rfi,
                                  FH_GS_CONTROL_CHANNEL_URGENT, TRUE, error))
        return FALSE;
      if (app->lose_at > 0 && v->frames >= (guint) app->lose_at) {
        emit ("{\"event\":\"loss_reported\",\"frames\":%u,\"first\":%u,\"last\":%u}", lost,
              last - lost, last - 1);
        app->lose_at = 0;
      }
      lost_reported = v->lost_frames;
    }
    if (gs_control_terminated (app->control, NULL)) {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED,
                   "the host ended the stream (termination message) before we were done");
      return FALSE;
    }
    /* Input once the picture runs: the session surely exists then. */
    if (!input_sent && !app->input_when_told && v->keyframes > 0) {
      if (!send_input (app, error))
        return FALSE;
      input_sent = TRUE;
    }
    if (!done && (input_sent || app->input_when_told) && v->frames >= (guint) app->frames &&
        a->ms >= (guint) app->audio_ms) {
      done = TRUE;
      emit_media (app);
      if (app->drop_video && v->recovered_packets == 0) {
        g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED,
                     "--drop-video %d dropped %u packets but FEC recovered none", app->drop_video,
                     v->dropped);
        return FALSE;
      }
      if (!app->hold)
        return TRUE;
      emit ("{\"event\":\"holding\"}");
      g_printerr ("fh-gs-client: streaming on until a line (or EOF) on stdin, at most %d s\n",
                  app->timeout_s);
      holding = TRUE;
      app->deadline = g_get_monotonic_time () + (gint64) app->timeout_s * G_USEC_PER_SEC;
      continue;
    }
    if (holding && (fds[2].revents & (POLLIN | POLLHUP | POLLERR))) {
      char line[64];
      ssize_t n = read (0, line, sizeof line - 1);
      line[MAX (n, 0)] = '\0';
      if (n > 0 && !input_sent && app->input_when_told && g_str_has_prefix (line, "input")) {
        if (!send_input (app, error))
          return FALSE;
        input_sent = TRUE;
        continue;
      }
      if (n > 0 && g_str_has_prefix (line, "report")) {
        emit_media (app); /* what arrived so far; streaming goes on */
        continue;
      }
      /* Again, for what arrived while holding (a test plays a tone now). */
      emit_media (app);
      return TRUE;
    }
    if (holding && g_get_monotonic_time () >= app->deadline) {
      g_printerr ("fh-gs-client: held for %d s with nothing on stdin; quitting\n", app->timeout_s);
      return TRUE;
    }
    if (g_get_monotonic_time () >= app->deadline) {
      emit_media (app);
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT,
                   "timed out after %d s: video %u/%d frames (%u keyframes, %u packets, %u lost "
                   "frames), audio %u/%d ms (%u packets)%s%s",
                   app->timeout_s, v->frames, app->frames, v->keyframes, v->packets,
                   v->lost_frames, a->ms, app->audio_ms, a->packets,
                   input_sent ? "" : ", input not sent (no keyframe yet)",
                   v->packets == 0 ? "; no video packet arrived: is the host streaming to the "
                                     "address that pinged its video port?"
                                   : "");
      return FALSE;
    }
  }
}

static void
quit (App *app)
{
  g_autoptr (GError) error = NULL;

  g_clear_pointer (&app->control, gs_control_disconnect);
  if (app->launched) {
    g_autofree char *u = url (app, TRUE, "/cancel", NULL);
    GsReply r;
    if (!gs_request_get_ok (&app->client, u, 10, &r, &error))
      g_printerr ("fh-gs-client: /cancel: %s\n", error->message);
    gs_reply_clear (&r);
  }
}

static gboolean
parse_mode (App *app, GError **error)
{
  if (sscanf (app->mode, "%ux%ux%u", &app->width, &app->height, &app->fps) != 3 ||
      app->width == 0 || app->height == 0 || app->fps == 0 || app->width > 8192 ||
      app->height > 8192 || app->fps > 240) {
    g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                 "--mode '%s': want WIDTHxHEIGHTxFPS, e.g. 640x480x30", app->mode);
    return FALSE;
  }
  return TRUE;
}

int
main (int argc, char **argv)
{
  App app = { .http_port = 47989, .mode = NULL, .frames = 120, .audio_ms = 1000,
              .timeout_s = 60, .bitrate = 20000, .audio_packet_ms = 5, .fec_percent = 20, .appid = 1,
              .video_fd = -1, .audio_fd = -1 };
  g_autoptr (GError) error = NULL;
  g_autoptr (GOptionContext) ctx = g_option_context_new ("- headless GameStream test client");
  GOptionEntry entries[] = {
    { "host", 0, 0, G_OPTION_ARG_STRING, &app.host, "Host address (IPv4)", "ADDR" },
    { "http-port", 0, 0, G_OPTION_ARG_INT, &app.http_port, "GameStream HTTP port (47989)", "N" },
    { "state-dir", 0, 0, G_OPTION_ARG_FILENAME, &app.state_dir,
      "Where the client keeps its key, certificate and uniqueid", "DIR" },
    { "pin", 0, 0, G_OPTION_ARG_STRING, &app.pin, "PIN to pair with (random if not given)",
      "NNNN" },
    { "name", 0, 0, G_OPTION_ARG_STRING, &app.name, "devicename when pairing", "NAME" },
    { "mode", 0, 0, G_OPTION_ARG_STRING, &app.mode, "WIDTHxHEIGHTxFPS (640x480x30)", "MODE" },
    { "frames", 0, 0, G_OPTION_ARG_INT, &app.frames, "Video frames to receive (120)", "N" },
    { "lose-at", 0, 0, G_OPTION_ARG_INT, &app.lose_at,
      "After N frames, report 3 frames lost (a reference-frame invalidation), as Moonlight does "
      "when FEC could not repair them", "N" },
    { "audio-ms", 0, 0, G_OPTION_ARG_INT, &app.audio_ms, "Audio to receive, ms (1000)", "MS" },
    { "keys", 0, 0, G_OPTION_ARG_STRING, &app.keys, "evdev keys to press, KEY_A,KEY_B", "KEYS" },
    { "drop-video", 0, 0, G_OPTION_ARG_INT, &app.drop_video,
      "Drop every Nth video packet before FEC; then FEC must recover some", "N" },
    { "plain-rtsp", 0, 0, G_OPTION_ARG_NONE, &app.plain_rtsp,
      "Launch without corever=1 (plain rtsp://)", NULL },
    { "timeout", 0, 0, G_OPTION_ARG_INT, &app.timeout_s, "Give up after S seconds (60)", "S" },
    { "bitrate", 0, 0, G_OPTION_ARG_INT, &app.bitrate, "Bitrate in kbps (20000)", "KBPS" },
    { "audio-packet-ms", 0, 0, G_OPTION_ARG_INT, &app.audio_packet_ms,
      "x-nv-aqos.packetDuration, 5 or 10 (5)", "MS" },
    { "fec-percent", 0, 0, G_OPTION_ARG_INT, &app.fec_percent,
      "x-nv-vqos[0].fec.repairPercent, 0 to leave it out as Moonlight does for 7.1.431+ (20)",
      "PCT" },
    { "app", 0, 0, G_OPTION_ARG_INT, &app.appid, "App ID to launch (1)", "ID" },
    { "click", 0, 0, G_OPTION_ARG_NONE, &app.click,
      "Before the keys, move to the mouse point and click there", NULL },
    { "text", 0, 0, G_OPTION_ARG_STRING, &app.text,
      "After the keys, type this text as Moonlight's on-screen keyboard does (UTF-8, a "
      "character a message)", "TEXT" },
    { "input-when-told", 0, 0, G_OPTION_ARG_NONE, &app.input_when_told,
      "With --hold: send the input when the line 'input' comes on stdin, not at the first "
      "keyframe", NULL },
    { "gamepad", 0, 0, G_OPTION_ARG_STRING, &app.gamepad,
      "With the input: a pad's arrival, then (0.5 s later) these states, 30 ms apart: "
      "'buttons=a+y,lx=16000;"
      "buttons=,rt=200;leave' (Y positive up, as Moonlight sends it)", "STATES" },
    { "gamepad-number", 0, 0, G_OPTION_ARG_INT, &app.gamepad_number,
      "The pad's controller number (0)", "N" },
    { "hold", 0, 0, G_OPTION_ARG_NONE, &app.hold,
      "When done, keep streaming until a line or EOF on stdin, then quit (the line 'report' "
      "prints the video and audio events again and goes on)", NULL },
    { NULL },
  };
  int rc = 1;

  /* As in test-gs-http: GnuTLS linked, not dlopen'ed; no GIO modules. */
  g_setenv ("GIO_USE_PROXY_RESOLVER", "dummy", TRUE);
  g_setenv ("GSETTINGS_BACKEND", "memory", TRUE);
  g_debug ("GnuTLS %s", gnutls_check_version (NULL));
  g_option_context_add_main_entries (ctx, entries, NULL);
  if (!g_option_context_parse (ctx, &argc, &argv, &error))
    goto out;
  if (!app.host || !app.state_dir) {
    g_set_error (&error, G_OPTION_ERROR, G_OPTION_ERROR_FAILED,
                 "--host and --state-dir are required (see --help)");
    goto out;
  }
  if (!app.mode)
    app.mode = g_strdup ("640x480x30");
  if (!app.name)
    app.name = app.state_dir ? g_path_get_basename (app.state_dir) : g_strdup ("fh-gs-client");
  if (app.audio_packet_ms != 5 && app.audio_packet_ms != 10) {
    g_set_error (&error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE, "--audio-packet-ms: 5 or 10");
    goto out;
  }
  if (!parse_mode (&app, &error))
    goto out;
  if (app.pin && (strlen (app.pin) != 4 || strspn (app.pin, "0123456789") != 4)) {
    g_set_error (&error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                 "--pin '%s': a Moonlight PIN is 4 digits", app.pin);
    goto out;
  }
  if (app.frames < 0 || app.audio_ms < 0 || app.drop_video < 0 || app.timeout_s <= 0 ||
      app.bitrate <= 0 || app.fec_percent < 0 || app.fec_percent > 255) {
    g_set_error (&error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                 "--frames, --audio-ms, --drop-video, --fec-percent (0..255) must not be "
                 "negative; --timeout and --bitrate must be positive");
    goto out;
  }
  app.keycodes = g_array_new (FALSE, FALSE, sizeof (GsKey));
  if (app.keys && *app.keys) {
    g_auto (GStrv) names = g_strsplit (app.keys, ",", -1);
    for (guint i = 0; names[i]; i++) {
      GsKey k;
      if (!gs_key_lookup (g_strstrip (names[i]), &k)) {
        g_set_error (&error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                     "--keys: unknown key '%s' (KEY_A..KEY_Z, KEY_0..KEY_9, KEY_SPACE, ...)",
                     names[i]);
        goto out;
      }
      g_array_append_val (app.keycodes, k);
    }
  }
  app.pad_states = g_array_new (FALSE, FALSE, sizeof (FhGsInput));
  if (app.gamepad && !parse_gamepad (&app, &error))
    goto out;
  app.deadline = g_get_monotonic_time () + (gint64) app.timeout_s * G_USEC_PER_SEC;
  app.http_base = g_strdup_printf ("http://%s:%d", app.host, app.http_port);

  if (!load_state (&app, &error) || !server_info (&app, &error) ||
             !ensure_paired (&app, &error) || !list_apps (&app, &error) || !launch (&app, &error) ||
             !rtsp (&app, &error) || !stream (&app, &error)) {
    goto out;
  }
  rc = 0;
out:
  quit (&app);
  if (rc == 0) {
    emit ("{\"event\":\"quit\"}");
  } else {
    g_autofree char *msg = jstr (error ? error->message : "failed");
    emit ("{\"event\":\"error\",\"message\":%s}", msg);
    g_printerr ("fh-gs-client: error: %s\n", error ? error->message : "failed");
  }
  if (app.video_fd >= 0)
    close (app.video_fd);
  if (app.audio_fd >= 0)
    close (app.audio_fd);
  g_clear_pointer (&app.video, gs_video_receiver_free);
  g_clear_pointer (&app.audio, gs_audio_receiver_free);
  gs_rtsp_result_clear (&app.rtsp);
  gs_client_clear (&app.client);
  g_clear_pointer (&app.keycodes, g_array_unref);
  g_clear_pointer (&app.pad_states, g_array_unref);
  g_free (app.gamepad);
  g_free (app.uniqueid);
  g_free (app.http_base);
  g_free (app.https_base);
  g_free (app.host);
  g_free (app.state_dir);
  g_free (app.pin);
  g_free (app.name);
  g_free (app.mode);
  g_free (app.text);
  g_free (app.keys);
  g_free (app.session_url);
  return rc;
}
