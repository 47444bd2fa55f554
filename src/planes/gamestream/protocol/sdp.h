/* GameStream SDP: the attributes our DESCRIBE answer carries (what
 * moonlight-common-c's RtspConnection.c looks for) and the client's
 * ANNOUNCE (SdpGenerator.c) read into stream settings. Pure functions.
 * Attribute list and sources: docs/gamestream.md, "RTSP and SDP". */
#pragma once

#include <glib.h>

#define FH_GS_SDP_MAX_LINES 512

typedef enum {
  FH_GS_SDP_ERROR_MALFORMED,
  FH_GS_SDP_ERROR_MISSING,   /* a required attribute is absent */
  FH_GS_SDP_ERROR_OUT_OF_RANGE,
} FhGsSdpError;

#define FH_GS_SDP_ERROR (fh_gs_sdp_error_quark ())
GQuark fh_gs_sdp_error_quark (void);

/* Encryption feature bits (SS_ENC_* in moonlight-common-c). */
#define FH_GS_ENC_CONTROL_V2 0x01
#define FH_GS_ENC_VIDEO 0x02
#define FH_GS_ENC_AUDIO 0x04

typedef struct {
  guint32 feature_flags;        /* a=x-ss-general.featureFlags */
  guint32 encryption_supported; /* FH_GS_ENC_* */
  guint32 encryption_requested;
  gboolean hevc; /* "sprop-parameter-sets=AAAAAU": the client may pick HEVC */
  gboolean av1;  /* "a=rtpmap:98 AV1/90000" */
  gboolean ref_invalidation; /* a=x-nv-video[0].refPicInvalidation:1 */
} FhGsSdpAnswer;

/* The DESCRIBE body, with the Opus surround-params of every layout we
 * encode (stereo, 5.1, 7.1; normal and high quality). */
char *fh_gs_sdp_build_answer (const FhGsSdpAnswer *answer);

typedef enum {
  FH_GS_VIDEO_FORMAT_H264 = 0,
  FH_GS_VIDEO_FORMAT_HEVC = 1,
  FH_GS_VIDEO_FORMAT_AV1 = 2,
} FhGsVideoFormat;

/* What the client asks for in its ANNOUNCE. Attributes Moonlight may
 * leave out get Sunshine's defaults. */
typedef struct {
  guint width, height, fps;        /* x-nv-video[0].clientViewportWd/Ht, maxFPS */
  guint refresh_rate_x100;         /* x-nv-video[0].clientRefreshRateX100, 0 unknown */
  guint packet_size;               /* x-nv-video[0].packetSize */
  guint max_bitrate_kbps;          /* x-nv-vqos[0].bw.maximumBitrateKbps */
  guint configured_bitrate_kbps;   /* x-ml-video.configuredBitrateKbps, 0 unknown */
  guint slices_per_frame;          /* x-nv-video[0].videoEncoderSlicesPerFrame */
  guint max_ref_frames;            /* x-nv-video[0].maxNumReferenceFrames, 0 any */
  guint csc_mode;                  /* x-nv-video[0].encoderCscMode */
  FhGsVideoFormat video_format;    /* x-nv-vqos[0].bitStreamFormat */
  guint dynamic_range;             /* x-nv-video[0].dynamicRangeMode: 0 SDR, 1 HDR */
  guint chroma_sampling;           /* x-ss-video[0].chromaSamplingType: 0 4:2:0, 1 4:4:4 */
  gboolean intra_refresh;          /* x-ss-video[0].intraRefresh */
  guint fec_repair_percent;        /* x-nv-vqos[0].fec.repairPercent, 0 if absent */
  guint min_fec_packets;           /* x-nv-vqos[0].fec.minRequiredFecPackets */
  guint video_qos_type, audio_qos_type; /* x-nv-vqos[0].qosTrafficType, x-nv-aqos.qosTrafficType */
  guint audio_channels;            /* x-nv-audio.surround.numChannels */
  guint audio_channel_mask;        /* x-nv-audio.surround.channelMask */
  gboolean audio_high_quality;     /* x-nv-audio.surround.AudioQuality */
  guint audio_packet_ms;           /* x-nv-aqos.packetDuration */
  guint control_protocol;          /* x-nv-general.useReliableUdp: 13 for encrypted control v2 */
  guint32 nv_feature_flags;        /* x-nv-general.featureFlags */
  guint32 ml_feature_flags;        /* x-ml-general.featureFlags */
  guint32 encryption_enabled;      /* x-ss-general.encryptionEnabled: FH_GS_ENC_* */
} FhGsStreamSettings;

/* Reads an ANNOUNCE body; every number is checked against its range. */
gboolean fh_gs_sdp_parse_announce (const char *sdp, gsize len, FhGsStreamSettings *settings,
                                   GError **error);
