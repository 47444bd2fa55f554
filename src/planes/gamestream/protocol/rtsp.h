/* GameStream RTSP (TCP 48010): parse one request as Moonlight sends it
 * (moonlight-common-c RtspConnection.c), build a response. Plain RTSP/1.0
 * text: request line, "Name: value" headers, a body sized by
 * Content-Length. Pure functions; a fuzzer calls the parser directly. */
#pragma once

#include <glib.h>

/* A whole request, headers and body; an ANNOUNCE with its SDP is ~3 KB. */
#define FH_GS_RTSP_MAX_MESSAGE 16384
#define FH_GS_RTSP_MAX_HEADERS 32
#define FH_GS_RTSP_MAX_LINE 1024

typedef enum {
  FH_GS_RTSP_ERROR_MALFORMED,
  FH_GS_RTSP_ERROR_TOO_LARGE,
  FH_GS_RTSP_ERROR_UNSUPPORTED, /* not RTSP/1.0 */
} FhGsRtspError;

#define FH_GS_RTSP_ERROR (fh_gs_rtsp_error_quark ())
GQuark fh_gs_rtsp_error_quark (void);

typedef struct {
  char *name;
  char *value;
} FhGsRtspHeader;

typedef struct {
  char *method; /* "OPTIONS", "DESCRIBE", "SETUP", "ANNOUNCE", "PLAY", ... */
  char *target; /* "rtsp://host:48010", "streamid=video/0/0", ... */
  guint32 cseq;
  FhGsRtspHeader headers[FH_GS_RTSP_MAX_HEADERS];
  guint n_headers;
  guint8 *body; /* NUL-terminated for convenience; body_len excludes it */
  gsize body_len;
} FhGsRtspRequest;

void fh_gs_rtsp_request_free (FhGsRtspRequest *request);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (FhGsRtspRequest, fh_gs_rtsp_request_free)

/* Case-insensitive; NULL when absent. */
const char *fh_gs_rtsp_request_get_header (const FhGsRtspRequest *request, const char *name);

typedef enum {
  FH_GS_RTSP_PARSE_OK,
  FH_GS_RTSP_PARSE_INCOMPLETE, /* valid so far: read more and call again */
  FH_GS_RTSP_PARSE_ERROR,
} FhGsRtspParseResult;

/* Parses the first request in @data. On OK, *request is set and
 * *consumed says how many bytes it took (a pipelined next request may
 * follow). INCOMPLETE never happens past FH_GS_RTSP_MAX_MESSAGE bytes:
 * that is an ERROR (FH_GS_RTSP_ERROR_TOO_LARGE). */
FhGsRtspParseResult fh_gs_rtsp_parse_request (const guint8 *data, gsize len, FhGsRtspRequest **request,
                                              gsize *consumed, GError **error);

/* "RTSP/1.0 <status> <reason>\r\nCSeq: <cseq>\r\n" + @headers (name,
 * value, …, NULL) + Content-Length when @body is not NULL + blank line +
 * body. */
char *fh_gs_rtsp_build_response (guint status, guint32 cseq, const char *const *headers,
                                 const char *body);
const char *fh_gs_rtsp_reason (guint status);
