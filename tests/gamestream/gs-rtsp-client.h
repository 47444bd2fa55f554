/* The client side of GameStream RTSP as moonlight-common-c's
 * RtspConnection.c speaks it to a modern Sunshine (AppVersion 7.1.431+,
 * X-GS-ClientVersion 14): one TCP connection per request, the response
 * read until the host closes, optionally sealed (rtspenc://, AES-128-GCM
 * with the launch's rikey); and the ANNOUNCE SDP of SdpGenerator.c. */
#pragma once

#include <glib.h>

#define GS_RTSP_CLIENT_VERSION 14
#define GS_RTSP_ENC_HEADER 24 /* BE32 type|length, BE32 sequence, 16-byte tag */
#define GS_RTSP_ENC_BIT 0x80000000u

/* AES-128-GCM framing of one RTSP message; @origin 'C' (client) or 'H'
 * (host) goes into byte 10 of the IV. Pure. */
GBytes *gs_rtsp_seal (const guint8 key[16], guint32 sequence, char origin, const guint8 *msg,
                      gsize len);
GBytes *gs_rtsp_unseal (const guint8 key[16], char origin, const guint8 *data, gsize len,
                        GError **error);

typedef struct {
  guint status;
  char **names, **values; /* NULL-terminated, same length */
  char *body;             /* NUL-terminated, may be empty */
} GsRtspResponse;

void gs_rtsp_response_free (GsRtspResponse *r);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (GsRtspResponse, gs_rtsp_response_free)
/* Case-insensitive; NULL when absent. */
const char *gs_rtsp_response_header (const GsRtspResponse *r, const char *name);
/* Parses a whole response ("RTSP/1.0 200 OK", headers, body). Pure. */
GsRtspResponse *gs_rtsp_parse_response (const char *data, gsize len, GError **error);
/* The N of "server_port=N" (or "N-M") in a Transport header; 0 if none. */
guint gs_rtsp_server_port (const char *transport);

/* Version quad of /serverinfo's appversion ("7.1.431.-1"). */
typedef struct {
  int v[4];
} GsAppVersion;

gboolean gs_app_version_parse (const char *s, GsAppVersion *out);
gboolean gs_app_version_at_least (const GsAppVersion *v, int a, int b, int c);

typedef struct {
  const char *local_addr; /* for the o= line */
  GsAppVersion app_version;
  guint width, height, fps;
  guint bitrate_kbps;
  guint packet_size;     /* 1392 */
  guint fec_percent;     /* written as fec.repairPercent (see the .c) */
  guint audio_packet_ms; /* 5 or 10 */
  guint32 encryption_enabled;
  guint video_port;
} GsAnnounceConfig;

/* The ANNOUNCE body, SdpGenerator.c's attributes for an H.264 SDR stereo
 * local stream from a Sunshine host. */
char *gs_sdp_build_announce (const GsAnnounceConfig *config);

typedef struct {
  char *session_url; /* rtsp://ADDR:PORT or rtspenc://ADDR:PORT, from /launch */
  guint8 key[16];    /* rikey */
  GsAppVersion app_version;
  guint width, height, fps, bitrate_kbps, audio_packet_ms, fec_percent;
  guint timeout_ms; /* per request */
} GsRtspConfig;

typedef struct {
  guint video_port, audio_port, control_port;
  guint32 connect_data;
  char video_ping[17], audio_ping[17]; /* X-SS-Ping-Payload, "" if none */
  guint32 encryption_supported, encryption_requested, encryption_enabled;
  char *session_id;
} GsRtspResult;

void gs_rtsp_result_clear (GsRtspResult *r);

/* OPTIONS, DESCRIBE, SETUP audio, video, control, ANNOUNCE, PLAY. */
gboolean gs_rtsp_handshake (const GsRtspConfig *config, GsRtspResult *result, GError **error);
