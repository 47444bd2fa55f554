/* GameStream RTSP request parser and response builder (see rtsp.h). */
#include "planes/gamestream/protocol/rtsp.h"

#include <string.h>

G_DEFINE_QUARK (fh-gs-rtsp-error-quark, fh_gs_rtsp_error)

void
fh_gs_rtsp_request_free (FhGsRtspRequest *r)
{
  if (!r)
    return;
  g_free (r->method);
  g_free (r->target);
  for (guint i = 0; i < r->n_headers; i++) {
    g_free (r->headers[i].name);
    g_free (r->headers[i].value);
  }
  g_free (r->body);
  g_free (r);
}

const char *
fh_gs_rtsp_request_get_header (const FhGsRtspRequest *r, const char *name)
{
  for (guint i = 0; i < r->n_headers; i++)
    if (g_ascii_strcasecmp (r->headers[i].name, name) == 0)
      return r->headers[i].value;
  return NULL;
}

static FhGsRtspParseResult
parse_error (GError **error, FhGsRtspError code, const char *message)
{
  g_set_error (error, FH_GS_RTSP_ERROR, code, "RTSP request: %s", message);
  return FH_GS_RTSP_PARSE_ERROR;
}

/* A decimal number of at most 9 digits (fits a guint32 with room). */
static gboolean
parse_uint (const char *s, guint32 max, guint32 *out)
{
  guint64 v = 0;
  gsize n = 0;

  for (; s[n] >= '0' && s[n] <= '9'; n++) {
    v = v * 10 + (guint64) (s[n] - '0');
    if (n >= 9)
      return FALSE;
  }
  if (n == 0 || s[n] != '\0' || v > max)
    return FALSE;
  *out = (guint32) v;
  return TRUE;
}

static gboolean
is_token (const char *s, gsize len)
{
  /* Header names and methods: visible ASCII, no separators we rely on. */
  if (len == 0)
    return FALSE;
  for (gsize i = 0; i < len; i++)
    if (s[i] <= ' ' || s[i] >= 0x7f || s[i] == ':')
      return FALSE;
  return TRUE;
}

static gboolean
is_visible (const char *s, gsize len)
{
  if (len == 0 || len > 256)
    return FALSE;
  for (gsize i = 0; i < len; i++)
    if (s[i] <= ' ' || s[i] >= 0x7f)
      return FALSE;
  return TRUE;
}

static gboolean
is_text (const char *s, gsize len)
{
  for (gsize i = 0; i < len; i++)
    if ((guchar) s[i] < ' ' && s[i] != '\t')
      return FALSE;
  return TRUE;
}

/* The next line in [p, end): its length without CR LF (or LF), and where
 * the one after starts; FALSE when no line end is in the buffer yet. */
static gboolean
next_line (const char *p, const char *end, gsize *line_len, const char **next)
{
  const char *nl = memchr (p, '\n', (gsize) (end - p));

  if (!nl)
    return FALSE;
  *line_len = (gsize) (nl - p);
  if (*line_len > 0 && p[*line_len - 1] == '\r')
    (*line_len)--;
  *next = nl + 1;
  return TRUE;
}

FhGsRtspParseResult
fh_gs_rtsp_parse_request (const guint8 *data, gsize len, FhGsRtspRequest **request, gsize *consumed,
                          GError **error)
{
  const char *p = (const char *) data, *end = p + MIN (len, (gsize) FH_GS_RTSP_MAX_MESSAGE), *next;
  const char *sp1, *sp2, *cseq, *clen;
  g_autoptr (FhGsRtspRequest) r = NULL;
  gsize line_len, header_bytes;
  guint32 body_len = 0;

  /* Control bytes (NUL included) are refused in every line below; the
   * body is bytes, its reader checks it. */
  *request = NULL;

  /* Request line: METHOD SP target SP RTSP/1.0 */
  if (!next_line (p, end, &line_len, &next))
    goto incomplete;
  if (line_len > FH_GS_RTSP_MAX_LINE)
    return parse_error (error, FH_GS_RTSP_ERROR_TOO_LARGE, "request line too long");
  sp1 = memchr (p, ' ', line_len);
  sp2 = sp1 ? memchr (sp1 + 1, ' ', (gsize) (p + line_len - sp1 - 1)) : NULL;
  if (!sp1 || !sp2 || !is_token (p, (gsize) (sp1 - p)) || (gsize) (sp1 - p) > 32 ||
      !is_visible (sp1 + 1, (gsize) (sp2 - sp1 - 1)))
    return parse_error (error, FH_GS_RTSP_ERROR_MALFORMED, "bad request line");
  if ((gsize) (p + line_len - sp2 - 1) != 8 || memcmp (sp2 + 1, "RTSP/1.0", 8) != 0)
    return parse_error (error, FH_GS_RTSP_ERROR_UNSUPPORTED, "only RTSP/1.0 is spoken here");
  r = g_new0 (FhGsRtspRequest, 1);
  r->method = g_strndup (p, (gsize) (sp1 - p));
  r->target = g_strndup (sp1 + 1, (gsize) (sp2 - sp1 - 1));
  p = next;

  /* Headers up to the blank line. */
  for (;;) {
    const char *colon, *value;

    if (!next_line (p, end, &line_len, &next))
      goto incomplete;
    if (line_len == 0) {
      p = next;
      break;
    }
    if (line_len > FH_GS_RTSP_MAX_LINE)
      return parse_error (error, FH_GS_RTSP_ERROR_TOO_LARGE, "header line too long");
    if (r->n_headers == FH_GS_RTSP_MAX_HEADERS)
      return parse_error (error, FH_GS_RTSP_ERROR_TOO_LARGE, "too many headers");
    colon = memchr (p, ':', line_len);
    if (!colon || !is_token (p, (gsize) (colon - p)) || !is_text (colon + 1, (gsize) (p + line_len - colon - 1)))
      return parse_error (error, FH_GS_RTSP_ERROR_MALFORMED, "bad header line");
    value = colon + 1;
    while (value < p + line_len && (*value == ' ' || *value == '\t'))
      value++;
    r->headers[r->n_headers].name = g_strndup (p, (gsize) (colon - p));
    r->headers[r->n_headers].value = g_strchomp (g_strndup (value, (gsize) (p + line_len - value)));
    r->n_headers++;
    p = next;
  }
  header_bytes = (gsize) (p - (const char *) data);

  if (!(cseq = fh_gs_rtsp_request_get_header (r, "CSeq")) || !parse_uint (cseq, G_MAXINT32, &r->cseq))
    return parse_error (error, FH_GS_RTSP_ERROR_MALFORMED, "missing or bad CSeq");
  if ((clen = fh_gs_rtsp_request_get_header (r, "Content-Length")) &&
      !parse_uint (clen, G_MAXINT32, &body_len))
    return parse_error (error, FH_GS_RTSP_ERROR_MALFORMED, "bad Content-Length");
  if (header_bytes + body_len > FH_GS_RTSP_MAX_MESSAGE)
    return parse_error (error, FH_GS_RTSP_ERROR_TOO_LARGE, "message over 16 KiB");
  if (len < header_bytes + body_len)
    return FH_GS_RTSP_PARSE_INCOMPLETE;
  r->body = g_malloc (body_len + 1);
  memcpy (r->body, data + header_bytes, body_len);
  r->body[body_len] = '\0';
  r->body_len = body_len;
  *consumed = header_bytes + body_len;
  *request = g_steal_pointer (&r);
  return FH_GS_RTSP_PARSE_OK;

incomplete:
  if (len >= FH_GS_RTSP_MAX_MESSAGE)
    return parse_error (error, FH_GS_RTSP_ERROR_TOO_LARGE, "no end of headers in 16 KiB");
  return FH_GS_RTSP_PARSE_INCOMPLETE;
}

const char *
fh_gs_rtsp_reason (guint status)
{
  switch (status) {
  case 200:
    return "OK";
  case 400:
    return "Bad Request";
  case 404:
    return "Not Found";
  case 405:
    return "Method Not Allowed";
  case 454:
    return "Session Not Found";
  case 500:
    return "Internal Server Error";
  case 503:
    return "Service Unavailable";
  }
  return "Error";
}

char *
fh_gs_rtsp_build_response (guint status, guint32 cseq, const char *const *headers, const char *body)
{
  GString *s = g_string_new (NULL);

  g_string_append_printf (s, "RTSP/1.0 %u %s\r\nCSeq: %u\r\n", status, fh_gs_rtsp_reason (status), cseq);
  for (guint i = 0; headers && headers[i] && headers[i + 1]; i += 2)
    g_string_append_printf (s, "%s: %s\r\n", headers[i], headers[i + 1]);
  if (body)
    g_string_append_printf (s, "Content-Length: %" G_GSIZE_FORMAT "\r\n", strlen (body));
  g_string_append (s, "\r\n");
  if (body)
    g_string_append (s, body);
  return g_string_free (s, FALSE);
}
