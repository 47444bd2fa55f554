/* GameStream SDP answer and ANNOUNCE reader (see sdp.h). */
#include "planes/gamestream/protocol/sdp.h"

#include <string.h>

G_DEFINE_QUARK (fh-gs-sdp-error-quark, fh_gs_sdp_error)

typedef struct {
  guint channels, streams, coupled;
  const char *mapping; /* one digit per channel */
} OpusLayout;

/* The Opus multistream layouts we encode. Moonlight moves the last
 * mapping entry of a normal-quality 5.1/7.1 layout to index 3 (GFE listed
 * LFE last, RtspConnection.c parseOpusConfigurations), so we list those
 * with LFE (3) last; after the move the client's mapping is 0, 1, 2, … in
 * the channel order FL FR C LFE RL RR SL SR, which our encoder uses. High
 * quality layouts are not moved. Stream counts as GFE and Sunshine use. */
static const OpusLayout layouts[] = {
  { 2, 1, 1, "01" },       /* stereo */
  { 2, 1, 1, "01" },       /* stereo, high quality */
  { 6, 4, 2, "012453" },   /* 5.1 */
  { 6, 6, 0, "012345" },   /* 5.1, high quality */
  { 8, 5, 3, "01245673" }, /* 7.1 */
  { 8, 8, 0, "01234567" }, /* 7.1, high quality */
};

char *
fh_gs_sdp_build_answer (const FhGsSdpAnswer *a)
{
  GString *s = g_string_new (NULL);

  /* One attribute a line; Moonlight finds them with strstr, so order and
   * line ends barely matter, but the values must be plain decimals. */
  g_string_append_printf (s, "a=x-ss-general.featureFlags:%u\r\n", a->feature_flags);
  g_string_append_printf (s, "a=x-ss-general.encryptionSupported:%u\r\n", a->encryption_supported);
  g_string_append_printf (s, "a=x-ss-general.encryptionRequested:%u\r\n", a->encryption_requested);
  if (a->ref_invalidation)
    g_string_append (s, "a=x-nv-video[0].refPicInvalidation:1\r\n");
  if (a->hevc)
    g_string_append (s, "sprop-parameter-sets=AAAAAU\r\n");
  if (a->av1)
    g_string_append (s, "a=rtpmap:98 AV1/90000\r\n");
  for (guint i = 0; i < G_N_ELEMENTS (layouts); i++)
    g_string_append_printf (s, "a=fmtp:97 surround-params=%u%u%u%s\r\n", layouts[i].channels,
                            layouts[i].streams, layouts[i].coupled, layouts[i].mapping);
  return g_string_free (s, FALSE);
}

typedef enum { REQUIRED, OPTIONAL } Need;

typedef struct {
  const char *name;
  Need need;
  guint32 min, max, fallback;
  gsize offset; /* into FhGsStreamSettings; a guint32-sized field */
} Attribute;

#define FIELD(f) G_STRUCT_OFFSET (FhGsStreamSettings, f)

/* Ranges are generous bounds of what a client can mean, so nothing later
 * multiplies a hostile number; defaults are Sunshine's (rtsp.cpp). */
static const Attribute attributes[] = {
  { "x-nv-video[0].clientViewportWd", REQUIRED, 1, 16384, 0, FIELD (width) },
  { "x-nv-video[0].clientViewportHt", REQUIRED, 1, 16384, 0, FIELD (height) },
  { "x-nv-video[0].maxFPS", REQUIRED, 1, 1000, 0, FIELD (fps) },
  { "x-nv-video[0].clientRefreshRateX100", OPTIONAL, 0, 100000, 0, FIELD (refresh_rate_x100) },
  { "x-nv-video[0].packetSize", REQUIRED, 64, 65000, 0, FIELD (packet_size) },
  { "x-nv-vqos[0].bw.maximumBitrateKbps", REQUIRED, 1, 10000000, 0, FIELD (max_bitrate_kbps) },
  { "x-ml-video.configuredBitrateKbps", OPTIONAL, 0, 10000000, 0, FIELD (configured_bitrate_kbps) },
  { "x-nv-video[0].videoEncoderSlicesPerFrame", OPTIONAL, 0, 64, 1, FIELD (slices_per_frame) },
  { "x-nv-video[0].maxNumReferenceFrames", OPTIONAL, 0, 16, 0, FIELD (max_ref_frames) },
  { "x-nv-video[0].encoderCscMode", OPTIONAL, 0, 255, 0, FIELD (csc_mode) },
  { "x-nv-vqos[0].bitStreamFormat", OPTIONAL, 0, 2, 0, FIELD (video_format) },
  { "x-nv-video[0].dynamicRangeMode", OPTIONAL, 0, 1, 0, FIELD (dynamic_range) },
  { "x-ss-video[0].chromaSamplingType", OPTIONAL, 0, 1, 0, FIELD (chroma_sampling) },
  { "x-ss-video[0].intraRefresh", OPTIONAL, 0, 1, 0, FIELD (intra_refresh) },
  { "x-nv-vqos[0].fec.repairPercent", OPTIONAL, 0, 255, 0, FIELD (fec_repair_percent) },
  { "x-nv-vqos[0].fec.minRequiredFecPackets", OPTIONAL, 0, 64, 0, FIELD (min_fec_packets) },
  { "x-nv-vqos[0].qosTrafficType", OPTIONAL, 0, 255, 5, FIELD (video_qos_type) },
  { "x-nv-aqos.qosTrafficType", OPTIONAL, 0, 255, 4, FIELD (audio_qos_type) },
  { "x-nv-audio.surround.numChannels", REQUIRED, 1, 8, 0, FIELD (audio_channels) },
  { "x-nv-audio.surround.channelMask", REQUIRED, 0, 0xffff, 0, FIELD (audio_channel_mask) },
  { "x-nv-audio.surround.AudioQuality", OPTIONAL, 0, 1, 0, FIELD (audio_high_quality) },
  { "x-nv-aqos.packetDuration", OPTIONAL, 1, 100, 5, FIELD (audio_packet_ms) },
  { "x-nv-general.useReliableUdp", OPTIONAL, 0, 255, 1, FIELD (control_protocol) },
  { "x-nv-general.featureFlags", OPTIONAL, 0, G_MAXUINT32, 135, FIELD (nv_feature_flags) },
  { "x-ml-general.featureFlags", OPTIONAL, 0, G_MAXUINT32, 0, FIELD (ml_feature_flags) },
  { "x-ss-general.encryptionEnabled", OPTIONAL, 0, G_MAXUINT32, 0, FIELD (encryption_enabled) },
};

G_STATIC_ASSERT (sizeof (guint) == sizeof (guint32) && sizeof (gboolean) == sizeof (guint32) &&
                 sizeof (FhGsVideoFormat) == sizeof (guint32));

static gboolean
parse_number (const char *s, gsize len, guint64 *out)
{
  guint64 v = 0;

  if (len == 0 || len > 10)
    return FALSE;
  for (gsize i = 0; i < len; i++) {
    if (s[i] < '0' || s[i] > '9')
      return FALSE;
    v = v * 10 + (guint64) (s[i] - '0');
  }
  *out = v;
  return TRUE;
}

gboolean
fh_gs_sdp_parse_announce (const char *sdp, gsize len, FhGsStreamSettings *settings, GError **error)
{
  gboolean seen[G_N_ELEMENTS (attributes)] = { FALSE };
  const char *p = sdp, *end = sdp + len;
  guint lines = 0;

  memset (settings, 0, sizeof *settings);
  while (p < end) {
    const char *nl = memchr (p, '\n', (gsize) (end - p));
    const char *line_end = nl ? nl : end, *colon, *v, *ve;

    if (++lines > FH_GS_SDP_MAX_LINES) {
      g_set_error (error, FH_GS_SDP_ERROR, FH_GS_SDP_ERROR_MALFORMED,
                   "ANNOUNCE: more than %d SDP lines", FH_GS_SDP_MAX_LINES);
      return FALSE;
    }
    /* Only "a=name:value" lines carry settings; Moonlight ends each value
     * with a space before CR LF. */
    if (line_end - p > 2 && p[0] == 'a' && p[1] == '=' &&
        (colon = memchr (p + 2, ':', (gsize) (line_end - p - 2)))) {
      gsize name_len = (gsize) (colon - p - 2);

      v = colon + 1;
      ve = line_end;
      while (ve > v && (ve[-1] == '\r' || ve[-1] == ' ' || ve[-1] == '\t'))
        ve--;
      for (guint i = 0; i < G_N_ELEMENTS (attributes); i++) {
        const Attribute *a = &attributes[i];
        guint64 value;

        if (strlen (a->name) != name_len || memcmp (a->name, p + 2, name_len) != 0)
          continue;
        if (!parse_number (v, (gsize) (ve - v), &value)) {
          g_set_error (error, FH_GS_SDP_ERROR, FH_GS_SDP_ERROR_MALFORMED,
                       "ANNOUNCE: %s is not a decimal number", a->name);
          return FALSE;
        }
        if (value < a->min || value > a->max) {
          g_set_error (error, FH_GS_SDP_ERROR, FH_GS_SDP_ERROR_OUT_OF_RANGE,
                       "ANNOUNCE: %s = %" G_GUINT64_FORMAT " is outside %u to %u", a->name, value,
                       a->min, a->max);
          return FALSE;
        }
        *(guint32 *) ((guint8 *) settings + a->offset) = (guint32) value;
        seen[i] = TRUE;
        break;
      }
    }
    p = nl ? nl + 1 : end;
  }
  for (guint i = 0; i < G_N_ELEMENTS (attributes); i++) {
    if (seen[i])
      continue;
    if (attributes[i].need == REQUIRED) {
      g_set_error (error, FH_GS_SDP_ERROR, FH_GS_SDP_ERROR_MISSING, "ANNOUNCE: %s is missing",
                   attributes[i].name);
      return FALSE;
    }
    *(guint32 *) ((guint8 *) settings + attributes[i].offset) = attributes[i].fallback;
  }
  return TRUE;
}
