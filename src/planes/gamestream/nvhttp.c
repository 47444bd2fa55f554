/* The GameStream HTTP plane: one libsoup server listening twice, plain
 * HTTP and HTTPS with the host's GameStream identity; every answer is the
 * XML Moonlight reads (<root status_code="…">, fields as elements). Written
 * from reading Moonlight's NvHTTP/pairing code and Sunshine's nvhttp.cpp
 * (see docs/gamestream.md); the code is ours. */
#include "planes/gamestream/nvhttp.h"

#include <libsoup/soup.h>
#include <stdio.h>
#include <string.h>

#include "fh-config.h"

/* What we report: appversion 7.x makes Moonlight use SHA-256 in pairing
 * (FH_GS_PAIRING_HASH_SHA256); GfeVersion as Sunshine reports it. */
#define APP_VERSION "7.1.431.-1"
#define GFE_VERSION "3.23.0.74"
/* H.264 only (ServerCodecModeSupport bit 0x1): no HEVC or AV1 offered. */
#define CODEC_MODE_SUPPORT 0x1

/* A tiny 26×36 PNG: the box art of every app (made by a throw-away Python
 * zlib script: a checker pattern in two colours). */
static const guint8 box_art_png[] = {
  0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d,
  0x49, 0x48, 0x44, 0x52, 0x00, 0x00, 0x00, 0x1a, 0x00, 0x00, 0x00, 0x24,
  0x08, 0x02, 0x00, 0x00, 0x00, 0x18, 0x58, 0xbd, 0x44, 0x00, 0x00, 0x00,
  0x3c, 0x49, 0x44, 0x41, 0x54, 0x78, 0xda, 0x63, 0x50, 0x50, 0x31, 0xa0,
  0x22, 0x62, 0x18, 0x35, 0x8e, 0x0a, 0xc6, 0x7d, 0x58, 0x80, 0x40, 0xc8,
  0x2a, 0x48, 0x12, 0x1f, 0xa1, 0xc6, 0x91, 0x6d, 0x04, 0xe1, 0x98, 0x1d,
  0xf6, 0xc6, 0x8d, 0xa6, 0xbb, 0xd1, 0x74, 0x37, 0x9a, 0xee, 0x46, 0xd3,
  0xdd, 0x68, 0xba, 0x1b, 0x6c, 0x31, 0x3b, 0xda, 0x82, 0x1a, 0x00, 0xe3,
  0x00, 0x82, 0x86, 0xfe, 0x9f, 0xef, 0xf0, 0xcf, 0x7a, 0x00, 0x00, 0x00,
  0x00, 0x49, 0x45, 0x4e, 0x44, 0xae, 0x42, 0x60, 0x82,
};

/* getservercert, waiting for the host's user to type the PIN. */
typedef struct {
  SoupServerMessage *msg;
  gulong finished_id;
  guint timeout;
  char *uniqueid, *name, *salt, *cert_hex;
} FhGsWaiting;

/* Phases 2–4 of an attempt whose PIN was entered. */
typedef struct {
  FhGsPairing *pairing;
  char *uniqueid, *name;
} FhGsAttempt;

struct _FhGsHttp {
  SoupServer *soup;
  const FhGsIdentity *identity;
  FhDeviceStore *devices;
  char *hostname;
  char *uniqueid;
  guint want_http_port, want_https_port, pin_timeout_s;
  guint http_port, https_port;
  FhGsWaiting *waiting;
  FhGsAttempt *attempt;
  FhGsLaunches *launches; /* borrowed: the plane's */
  void (*announce) (const char *line, gpointer data);
  gpointer announce_data;
  void (*pair_event) (FhGsPairEvent event, const char *client, const char *detail,
                      gpointer data);
  gpointer pair_event_data;
  guint64 next_launch;
  guint rtsp_port;
  GArray *apps; /* FhGsApp, its strings owned */
};

static void app_clear (FhGsApp *app);

static void
attempt_free (FhGsAttempt *a)
{
  if (!a)
    return;
  fh_gs_pairing_free (a->pairing);
  g_free (a->uniqueid);
  g_free (a->name);
  g_free (a);
}

/* Forgets the waiting request without answering it. */
static SoupServerMessage *
waiting_take (FhGsHttp *self)
{
  FhGsWaiting *w = self->waiting;
  SoupServerMessage *msg;

  if (!w)
    return NULL;
  self->waiting = NULL;
  g_clear_handle_id (&w->timeout, g_source_remove);
  g_signal_handler_disconnect (w->msg, w->finished_id);
  msg = w->msg;
  g_free (w->uniqueid);
  g_free (w->name);
  g_free (w->salt);
  g_free (w->cert_hex);
  g_free (w);
  return msg; /* the caller's reference */
}

/* ---- answers ---- */

static void
reply_xml (SoupServerMessage *msg, guint http_status, guint status, const char *message,
           const char *fields)
{
  g_autofree char *escaped = message ? g_markup_escape_text (message, -1) : NULL;
  char *body = g_strdup_printf ("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n"
                                "<root status_code=\"%u\"%s%s%s>%s</root>\n",
                                status, escaped ? " status_message=\"" : "",
                                escaped ? escaped : "", escaped ? "\"" : "",
                                fields ? fields : "");

  soup_server_message_set_status (msg, http_status, NULL);
  soup_server_message_set_response (msg, "application/xml", SOUP_MEMORY_TAKE, body,
                                    strlen (body));
}

static void
reply_ok (SoupServerMessage *msg, const char *fields)
{
  reply_xml (msg, SOUP_STATUS_OK, 200, NULL, fields);
}

/* A refused request: the XML carries @status and why; HTTP says 200 as
 * GameStream hosts do, except where noted, so Moonlight shows the reason. */
static void
reply_error (SoupServerMessage *msg, guint status, const char *fields, const char *format, ...)
  G_GNUC_PRINTF (4, 5);

static void
reply_error (SoupServerMessage *msg, guint status, const char *fields, const char *format, ...)
{
  g_autofree char *message = NULL;
  va_list args;

  va_start (args, format);
  message = g_strdup_vprintf (format, args);
  va_end (args);
  g_debug ("gamestream: %s: %u %s", g_uri_get_path (soup_server_message_get_uri (msg)), status,
           message);
  reply_xml (msg, SOUP_STATUS_OK, status, message, fields);
}

static void
announce (FhGsHttp *self, const char *format, ...) G_GNUC_PRINTF (2, 3);

static void
announce (FhGsHttp *self, const char *format, ...)
{
  g_autofree char *line = NULL;
  va_list args;

  va_start (args, format);
  line = g_strdup_vprintf (format, args);
  va_end (args);
  if (self->announce)
    self->announce (line, self->announce_data);
  else
    g_message ("%s", line);
}

/* The pairing's progress for the browser console (app/host.c): only
 * reported here, every decision stays in the /pair code. */
static void
pair_event (FhGsHttp *self, FhGsPairEvent event, const char *client, const char *detail)
{
  if (self->pair_event)
    self->pair_event (event, client, detail, self->pair_event_data);
}

const char *
fh_gs_pair_event_to_string (FhGsPairEvent event)
{
  switch (event) {
  case FH_GS_PAIR_EVENT_WAITING:
    return "waiting";
  case FH_GS_PAIR_EVENT_GONE:
    return "gone";
  case FH_GS_PAIR_EVENT_TIMED_OUT:
    return "timed-out";
  case FH_GS_PAIR_EVENT_FAILED:
    return "failed";
  case FH_GS_PAIR_EVENT_PAIRED:
    return "paired";
  }
  return "unknown";
}

/* ---- who asks ---- */

static gboolean
is_https (SoupServerMessage *msg)
{
  return g_strcmp0 (g_uri_get_scheme (soup_server_message_get_uri (msg)), "https") == 0;
}

/* The paired device id of the client certificate of an HTTPS request, or
 * NULL (plain HTTP, no certificate, or one not paired). */
static char *
paired_device (FhGsHttp *self, SoupServerMessage *msg)
{
  GTlsCertificate *peer;
  GByteArray *der = NULL;
  g_autofree char *hash = NULL;

  if (!is_https (msg) || !(peer = soup_server_message_get_tls_peer_certificate (msg)))
    return NULL;
  g_object_get (peer, "certificate", &der, NULL);
  if (!der)
    return NULL;
  hash = fh_device_store_cert_sha256 (der->data, der->len);
  g_byte_array_unref (der);
  return fh_device_store_find_certificate (self->devices, hash);
}

/* The paired client of @msg, or NULL after answering 401. */
static char *
require_paired (FhGsHttp *self, SoupServerMessage *msg)
{
  char *device = paired_device (self, msg);

  if (!device)
    reply_error (msg, 401, NULL,
                 is_https (msg) ? "this client's certificate is not paired with this host: pair "
                                  "it first (the PIN goes in 'funkhaus pair --moonlight PIN')"
                                : "this needs HTTPS with a paired client certificate");
  return device;
}

static const char *
arg (GHashTable *query, const char *name)
{
  const char *v = query ? g_hash_table_lookup (query, name) : NULL;

  return v && *v ? v : NULL;
}

/* "rtsp://ADDRESS:48010" with the address the client reached us at. */
/* The host's address as this client reached it (IPv4 as a.b.c.d, also
 * from a dual-stack socket). */
static char *
local_address (SoupServerMessage *msg)
{
  GSocketAddress *local = soup_server_message_get_local_address (msg);
  g_autofree char *addr = NULL;

  if (G_IS_INET_SOCKET_ADDRESS (local))
    addr = g_inet_address_to_string (
      g_inet_socket_address_get_address (G_INET_SOCKET_ADDRESS (local)));
  if (!addr)
    return g_strdup ("127.0.0.1");
  if (g_str_has_prefix (addr, "::ffff:") && strchr (addr + 7, '.'))
    return g_strdup (addr + 7);
  return g_steal_pointer (&addr);
}

/* Where Moonlight opens RTSP: rtspenc:// to a client that speaks it. */
static char *
session_url (FhGsHttp *self, SoupServerMessage *msg, gboolean encrypted)
{
  const char *scheme = encrypted ? "rtspenc" : "rtsp";
  g_autofree char *addr = local_address (msg);

  if (strchr (addr, ':'))
    return g_strdup_printf ("%s://[%s]:%u", scheme, addr, self->rtsp_port);
  return g_strdup_printf ("%s://%s:%u", scheme, addr, self->rtsp_port);
}

/* ---- /serverinfo ---- */

static void
handle_serverinfo (FhGsHttp *self, SoupServerMessage *msg)
{
  g_autofree char *device = paired_device (self, msg);
  g_autofree char *name = g_markup_escape_text (self->hostname, -1);
  g_autofree char *local = local_address (msg);
  FhGsLaunch *launch = device ? fh_gs_launches_lookup (self->launches, device) : NULL;
  g_autofree char *fields = NULL;

  /* Each client has its own session: currentgame and state are this
   * client's, never another's. */
  fields = g_strdup_printf (
    "<hostname>%s</hostname><appversion>" APP_VERSION "</appversion>"
    "<GfeVersion>" GFE_VERSION "</GfeVersion><uniqueid>%s</uniqueid>"
    "<HttpsPort>%u</HttpsPort><ExternalPort>%u</ExternalPort>"
    "<MaxLumaPixelsHEVC>0</MaxLumaPixelsHEVC><mac>00:00:00:00:00:00</mac>"
    "<LocalIP>%s</LocalIP><gputype>software (x264)</gputype>"
    "<ServerCodecModeSupport>%u</ServerCodecModeSupport>"
    "<PairStatus>%d</PairStatus><currentgame>%u</currentgame><currentgameuuid></currentgameuuid>"
    "<state>%s</state>",
    name, self->uniqueid, self->https_port, self->http_port, local, CODEC_MODE_SUPPORT,
    device ? 1 : 0, launch ? launch->appid : 0,
    launch ? "SUNSHINE_SERVER_BUSY" : "SUNSHINE_SERVER_FREE");
  reply_ok (msg, fields);
}

/* ---- /pair ---- */

static gboolean
on_pin_timeout (gpointer data)
{
  FhGsHttp *self = data;
  g_autoptr (SoupServerMessage) msg = NULL;
  g_autofree char *name = NULL;

  self->waiting->timeout = 0;
  g_message ("gamestream: no PIN was entered for Moonlight client '%s' in %u s",
             self->waiting->name, self->pin_timeout_s);
  name = g_strdup (self->waiting->name);
  msg = waiting_take (self);
  reply_error (msg, 408, "<paired>0</paired>",
               "no PIN was entered on the host in %u s ('funkhaus pair --moonlight PIN')",
               self->pin_timeout_s);
  soup_server_message_unpause (msg);
  pair_event (self, FH_GS_PAIR_EVENT_TIMED_OUT, name, NULL);
  return G_SOURCE_REMOVE;
}

static void
on_waiting_finished (SoupServerMessage *msg, gpointer data)
{
  FhGsHttp *self = data;
  g_autoptr (SoupServerMessage) taken = NULL;

  /* The client went away while waiting for the PIN. */
  if (self->waiting && self->waiting->msg == msg) {
    g_autofree char *name = g_strdup (self->waiting->name);
    g_message ("gamestream: Moonlight client '%s' stopped waiting for its PIN", name);
    taken = waiting_take (self);
    pair_event (self, FH_GS_PAIR_EVENT_GONE, name, NULL);
  }
}

static void
pair_get_server_cert (FhGsHttp *self, SoupServerMessage *msg, GHashTable *query,
                      const char *uniqueid)
{
  const char *salt = arg (query, "salt"), *cert_hex = arg (query, "clientcert");
  const char *name = arg (query, "devicename");
  g_autoptr (GBytes) salt_bytes = NULL, cert_bytes = NULL;
  g_autoptr (GTlsCertificate) cert = NULL;
  g_autofree char *pem = NULL;
  FhGsWaiting *w;

  if (!salt || !cert_hex) {
    reply_error (msg, 400, "<paired>0</paired>", "getservercert needs salt and clientcert");
    return;
  }
  salt_bytes = fh_gs_hex_decode (salt);
  if (!salt_bytes || g_bytes_get_size (salt_bytes) != 16) {
    reply_error (msg, 400, "<paired>0</paired>", "salt must be 16 bytes of hex");
    return;
  }
  cert_bytes = fh_gs_hex_decode (cert_hex);
  if (cert_bytes)
    pem = g_strndup (g_bytes_get_data (cert_bytes, NULL), g_bytes_get_size (cert_bytes));
  if (!pem || !(cert = g_tls_certificate_new_from_pem (pem, -1, NULL))) {
    reply_error (msg, 400, "<paired>0</paired>", "clientcert must be the hex of a PEM certificate");
    return;
  }
  if (self->waiting) {
    /* The same client asking again (it gave up and retried) takes the
     * place of its old request; another client waits its turn. */
    if (g_str_equal (self->waiting->uniqueid, uniqueid) &&
        g_str_equal (self->waiting->cert_hex, cert_hex)) {
      g_autoptr (SoupServerMessage) old = waiting_take (self);
      reply_error (old, 409, "<paired>0</paired>", "replaced by a newer request of this client");
      soup_server_message_unpause (old);
    } else {
      reply_error (msg, 503, "<paired>0</paired>",
                   "another Moonlight client ('%s') is waiting for its PIN: try again later",
                   self->waiting->name);
      return;
    }
  }
  g_clear_pointer (&self->attempt, attempt_free);

  w = g_new0 (FhGsWaiting, 1);
  w->msg = g_object_ref (msg);
  w->uniqueid = g_strdup (uniqueid);
  w->name = g_strdup (name ? name : uniqueid);
  w->salt = g_strdup (salt);
  w->cert_hex = g_strdup (cert_hex);
  w->timeout = g_timeout_add_seconds (self->pin_timeout_s, on_pin_timeout, self);
  w->finished_id = g_signal_connect (msg, "finished", G_CALLBACK (on_waiting_finished), self);
  self->waiting = w;
  soup_server_message_pause (msg);
  announce (self,
            "Moonlight client '%s' wants to pair: enter the PIN it shows in a paired browser's "
            "page or with 'funkhaus pair --moonlight PIN' (%u s)",
            w->name, self->pin_timeout_s);
  pair_event (self, FH_GS_PAIR_EVENT_WAITING, w->name, NULL);
}

gboolean
fh_gs_http_submit_pin (FhGsHttp *self, const char *pin, GError **error)
{
  g_autoptr (FhGsPairing) pairing = NULL;
  g_autoptr (SoupServerMessage) msg = NULL;
  g_autoptr (GError) local = NULL;
  g_autofree char *plaincert = NULL, *fields = NULL;
  FhGsAttempt *a;

  if (!self->waiting) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND,
                 "no Moonlight client is waiting for a PIN: start pairing in Moonlight first");
    return FALSE;
  }
  if (!pin || strlen (pin) != 4 || strspn (pin, "0123456789") != 4) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                 "the PIN Moonlight shows is 4 digits");
    return FALSE;
  }
  pairing = fh_gs_pairing_new (self->identity, FH_GS_PAIRING_HASH_SHA256, self->waiting->uniqueid);
  plaincert = fh_gs_pairing_get_server_cert (pairing, self->waiting->salt, pin,
                                             self->waiting->cert_hex, &local);
  a = g_new0 (FhGsAttempt, 1);
  a->uniqueid = g_strdup (self->waiting->uniqueid);
  a->name = g_strdup (self->waiting->name);
  msg = waiting_take (self);
  if (!plaincert) {
    reply_error (msg, 400, "<paired>0</paired>", "%s", local->message);
    soup_server_message_unpause (msg);
    pair_event (self, FH_GS_PAIR_EVENT_FAILED, a->name, local->message);
    attempt_free (a);
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "pairing failed: %s", local->message);
    return FALSE;
  }
  a->pairing = g_steal_pointer (&pairing);
  g_clear_pointer (&self->attempt, attempt_free);
  self->attempt = a;
  fields = g_strdup_printf ("<paired>1</paired><plaincert>%s</plaincert>", plaincert);
  reply_ok (msg, fields);
  soup_server_message_unpause (msg);
  return TRUE;
}

const char *
fh_gs_http_get_waiting_client (FhGsHttp *self)
{
  return self->waiting ? self->waiting->name : NULL;
}

/* Phases 2–4: the attempt of @uniqueid, or NULL after answering. */
static FhGsAttempt *
current_attempt (FhGsHttp *self, SoupServerMessage *msg, const char *uniqueid)
{
  if (!self->attempt || !g_str_equal (self->attempt->uniqueid, uniqueid)) {
    reply_error (msg, 400, "<paired>0</paired>",
                 "no pairing of client %s is in progress (start with getservercert)", uniqueid);
    return NULL;
  }
  return self->attempt;
}

/* A failed phase: wrong PIN and bad signatures answer paired=0 as hosts
 * do; either way the attempt is over. */
static void
pair_failed (FhGsHttp *self, SoupServerMessage *msg, GError *error)
{
  gboolean refused = g_error_matches (error, FH_GS_PAIRING_ERROR, FH_GS_PAIRING_ERROR_WRONG_PIN) ||
                     g_error_matches (error, FH_GS_PAIRING_ERROR,
                                      FH_GS_PAIRING_ERROR_BAD_SIGNATURE);

  g_message ("gamestream: pairing of '%s' failed: %s", self->attempt->name, error->message);
  if (fh_gs_pairing_get_state (self->attempt->pairing) == FH_GS_PAIRING_STATE_FAILED) {
    pair_event (self, FH_GS_PAIR_EVENT_FAILED, self->attempt->name, error->message);
    g_clear_pointer (&self->attempt, attempt_free);
  }
  reply_error (msg, refused ? 200 : 400, "<paired>0</paired>", "%s", error->message);
}

static void
handle_pair (FhGsHttp *self, SoupServerMessage *msg, GHashTable *query)
{
  const char *uniqueid = arg (query, "uniqueid"), *phrase = arg (query, "phrase");
  const char *v;
  g_autoptr (GError) error = NULL;
  g_autofree char *out = NULL, *fields = NULL;
  FhGsAttempt *a;

  if (!uniqueid) {
    reply_error (msg, 400, "<paired>0</paired>", "missing uniqueid");
    return;
  }
  if (g_strcmp0 (phrase, "getservercert") == 0) {
    pair_get_server_cert (self, msg, query, uniqueid);
  } else if (g_strcmp0 (phrase, "pairchallenge") == 0) {
    /* Over HTTPS with the new certificate: proves it was stored. */
    g_autofree char *device = require_paired (self, msg);
    if (device)
      reply_ok (msg, "<paired>1</paired>");
  } else if ((v = arg (query, "clientchallenge"))) {
    if (!(a = current_attempt (self, msg, uniqueid)))
      return;
    if (!(out = fh_gs_pairing_client_challenge (a->pairing, v, &error)))
      return pair_failed (self, msg, error);
    fields = g_strdup_printf ("<paired>1</paired><challengeresponse>%s</challengeresponse>", out);
    reply_ok (msg, fields);
  } else if ((v = arg (query, "serverchallengeresp"))) {
    if (!(a = current_attempt (self, msg, uniqueid)))
      return;
    if (!(out = fh_gs_pairing_server_challenge_resp (a->pairing, v, &error)))
      return pair_failed (self, msg, error);
    fields = g_strdup_printf ("<paired>1</paired><pairingsecret>%s</pairingsecret>", out);
    reply_ok (msg, fields);
  } else if ((v = arg (query, "clientpairingsecret"))) {
    g_autofree char *id = NULL;
    if (!(a = current_attempt (self, msg, uniqueid)))
      return;
    if (!fh_gs_pairing_client_pairing_secret (a->pairing, v, &error))
      return pair_failed (self, msg, error);
    if (!fh_device_store_add_certificate (self->devices, a->name, a->uniqueid,
                                   fh_gs_pairing_client_cert_pem (a->pairing), &id, &error)) {
      pair_event (self, FH_GS_PAIR_EVENT_FAILED, a->name, error->message);
      g_clear_pointer (&self->attempt, attempt_free);
      reply_error (msg, 500, "<paired>0</paired>", "cannot store the pairing: %s",
                   error->message);
      return;
    }
    announce (self, "Moonlight client '%s' paired as device %s", a->name, id);
    pair_event (self, FH_GS_PAIR_EVENT_PAIRED, a->name, id);
    g_clear_pointer (&self->attempt, attempt_free);
    reply_ok (msg, "<paired>1</paired>");
  } else {
    reply_error (msg, 400, "<paired>0</paired>",
                 "unknown pairing phase (phrase=getservercert or pairchallenge, "
                 "clientchallenge, serverchallengeresp or clientpairingsecret)");
  }
}

/* ---- /unpair ---- */

static void
handle_unpair (FhGsHttp *self, SoupServerMessage *msg)
{
  g_autofree char *device = paired_device (self, msg);
  g_autoptr (GError) error = NULL;

  /* Only a client that proves itself with its certificate unpairs itself;
   * a plain-HTTP request names nobody and changes nothing. */
  if (!device) {
    reply_error (msg, 200, NULL,
                 "nothing unpaired: over HTTP a client cannot prove who it is; revoke it on "
                 "the host with 'funkhaus devices revoke ID'");
    return;
  }
  if (!fh_device_store_revoke (self->devices, device, &error)) {
    reply_error (msg, 500, NULL, "%s", error->message);
    return;
  }
  fh_gs_launches_forget (self->launches, device);
  g_message ("gamestream: device %s unpaired itself", device);
  reply_ok (msg, NULL);
}

/* ---- /applist, /appasset ---- */

static void
handle_applist (FhGsHttp *self, SoupServerMessage *msg)
{
  g_autofree char *device = require_paired (self, msg);
  g_autoptr (GString) fields = g_string_new (NULL);

  if (!device)
    return;
  for (guint i = 0; i < self->apps->len; i++) {
    const FhGsApp *app = &g_array_index (self->apps, FhGsApp, i);
    g_autofree char *title = g_markup_escape_text (app->title, -1);
    g_string_append_printf (fields,
                            "<App><IsHdrSupported>0</IsHdrSupported><AppTitle>%s</AppTitle>"
                            "<ID>%u</ID></App>",
                            title, app->id);
  }
  reply_ok (msg, fields->str);
}

static gboolean
parse_uint (const char *s, guint64 max, guint64 *out)
{
  return s && g_ascii_string_to_unsigned (s, 10, 0, max, out, NULL);
}

static const FhGsApp *
find_app (FhGsHttp *self, guint64 appid)
{
  for (guint i = 0; i < self->apps->len; i++) {
    const FhGsApp *app = &g_array_index (self->apps, FhGsApp, i);
    if (app->id == appid)
      return app;
  }
  return NULL;
}

static void
handle_appasset (FhGsHttp *self, SoupServerMessage *msg, GHashTable *query)
{
  g_autofree char *device = require_paired (self, msg);
  g_autoptr (GError) error = NULL;
  const FhGsApp *app;
  char *icon = NULL;
  gsize size;
  guint64 appid;

  if (!device)
    return;
  if (!parse_uint (arg (query, "appid"), G_MAXUINT32, &appid) || !(app = find_app (self, appid))) {
    reply_xml (msg, SOUP_STATUS_NOT_FOUND, 404, "no such app", NULL);
    return;
  }
  soup_server_message_set_status (msg, SOUP_STATUS_OK, NULL);
  /* The owner's picture, read each time (it may change); one that is gone
   * gives way to the built-in one. */
  if (app->icon && !g_file_get_contents (app->icon, &icon, &size, &error))
    g_warning ("gamestream: app '%s': cannot read its icon: %s", app->title, error->message);
  if (icon)
    soup_server_message_set_response (msg, "image/png", SOUP_MEMORY_TAKE, icon, size);
  else
    soup_server_message_set_response (msg, "image/png", SOUP_MEMORY_STATIC,
                                      (const char *) box_art_png, sizeof box_art_png);
}

/* ---- /launch, /resume, /cancel ---- */

/* rikey (16 bytes hex), rikeyid (32-bit, Moonlight sends it signed). */
static gboolean
parse_rikey (SoupServerMessage *msg, GHashTable *query, const char *what, guint8 rikey_out[16],
             guint32 *rikeyid)
{
  const char *rikey = arg (query, "rikey"), *id = arg (query, "rikeyid");
  g_autoptr (GBytes) key = rikey ? fh_gs_hex_decode (rikey) : NULL;
  gint64 v;

  if (!key || g_bytes_get_size (key) != 16) {
    reply_error (msg, 400, what, "rikey must be 16 bytes of hex");
    return FALSE;
  }
  if (!id || !g_ascii_string_to_signed (id, 10, G_MININT32, G_MAXUINT32, &v, NULL)) {
    reply_error (msg, 400, what, "rikeyid must be a 32-bit number");
    return FALSE;
  }
  memcpy (rikey_out, g_bytes_get_data (key, NULL), 16);
  *rikeyid = (guint32) v;
  return TRUE;
}

/* corever=1 and up: the client speaks rtspenc:// (Sunshine's reading). */
static gboolean
speaks_rtspenc (GHashTable *query)
{
  guint64 corever;

  return parse_uint (arg (query, "corever"), G_MAXUINT32, &corever) && corever >= 1;
}

/* A launch or resume with its fresh keys: RTSP is set up anew (the
 * session, if alive, is kept); returns the sessionUrl0 to answer with. */
static char *
start_stream (FhGsHttp *self, SoupServerMessage *msg, GHashTable *query, FhGsLaunch *l,
              const guint8 key[16], guint32 rikeyid)
{
  gboolean encrypted = speaks_rtspenc (query);
  GSocketAddress *remote = soup_server_message_get_remote_address (msg);
  GInetAddress *address = G_IS_INET_SOCKET_ADDRESS (remote)
                            ? g_inet_socket_address_get_address (G_INET_SOCKET_ADDRESS (remote))
                            : NULL;

  fh_gs_launch_reset (l);
  memcpy (l->key, key, sizeof l->key);
  l->rikeyid = rikeyid;
  g_set_object (&l->address, address);
  l->encrypted_rtsp = encrypted;
  l->shared = find_app (self, l->appid) && find_app (self, l->appid)->shared;
  return session_url (self, msg, encrypted);
}

static void
handle_launch (FhGsHttp *self, SoupServerMessage *msg, GHashTable *query)
{
  g_autofree char *device = require_paired (self, msg);
  g_autofree char *url = NULL, *fields = NULL;
  const char *mode = arg (query, "mode");
  guint w = 0, h = 0, fps = 0;
  guint64 appid;
  guint8 key[16];
  guint32 rikeyid;
  FhGsLaunch *l;
  char tail;

  if (!device)
    return;
  if (!parse_uint (arg (query, "appid"), G_MAXUINT32, &appid)) {
    reply_error (msg, 400, "<gamesession>0</gamesession>", "appid is missing or not a number");
    return;
  }
  if (!find_app (self, appid)) {
    reply_error (msg, 404, "<gamesession>0</gamesession>", "no app %" G_GUINT64_FORMAT, appid);
    return;
  }
  if (!parse_rikey (msg, query, "<gamesession>0</gamesession>", key, &rikeyid))
    return;
  if (mode && (sscanf (mode, "%ux%ux%u%c", &w, &h, &fps, &tail) != 3 || w > 16384 ||
               h > 16384 || fps > 1000)) {
    reply_error (msg, 400, "<gamesession>0</gamesession>", "mode must be WIDTHxHEIGHTxFPS");
    return;
  }
  /* This client's own session: another client's is never touched. */
  if (fh_gs_launches_lookup (self->launches, device)) {
    reply_error (msg, 400, "<gamesession>0</gamesession>",
                 "this client already has a session: resume it or quit it first");
    return;
  }
  l = fh_gs_launches_add (self->launches, device);
  l->appid = (guint) appid;
  l->number = ++self->next_launch;
  l->width = w, l->height = h, l->fps = fps;
  g_message ("gamestream: device %s launched app %u (%ux%u@%u), launch %" G_GUINT64_FORMAT,
             device, l->appid, w, h, fps, l->number);
  url = start_stream (self, msg, query, l, key, rikeyid);
  fields = g_strdup_printf ("<sessionUrl0>%s</sessionUrl0><gamesession>%" G_GUINT64_FORMAT
                            "</gamesession>",
                            url, l->number);
  reply_ok (msg, fields);
}

static void
handle_resume (FhGsHttp *self, SoupServerMessage *msg, GHashTable *query)
{
  g_autofree char *device = require_paired (self, msg);
  g_autofree char *url = NULL, *fields = NULL;
  FhGsLaunch *l;
  guint8 key[16];
  guint32 rikeyid;

  if (!device)
    return;
  if (!(l = fh_gs_launches_lookup (self->launches, device))) {
    reply_error (msg, 503, "<resume>0</resume>", "this client has no session to resume");
    return;
  }
  if (!parse_rikey (msg, query, "<resume>0</resume>", key, &rikeyid))
    return;
  url = start_stream (self, msg, query, l, key, rikeyid);
  fields = g_strdup_printf ("<sessionUrl0>%s</sessionUrl0><resume>1</resume>", url);
  reply_ok (msg, fields);
}

static void
handle_cancel (FhGsHttp *self, SoupServerMessage *msg)
{
  g_autofree char *device = require_paired (self, msg);

  if (!device)
    return;
  if (fh_gs_launches_lookup (self->launches, device))
    g_message ("gamestream: device %s quit its session", device);
  fh_gs_launches_forget (self->launches, device);
  reply_ok (msg, "<cancel>1</cancel>");
}

/* ---- the server ---- */

static void
handle_request (SoupServer *server, SoupServerMessage *msg, const char *path, GHashTable *query,
                gpointer user_data)
{
  FhGsHttp *self = user_data;
  const char *method = soup_server_message_get_method (msg);

  /* One request per connection (as Sunshine does): libsoup 3.2 tells the
   * client's certificate only to the first request of a TLS connection. */
  soup_message_headers_replace (soup_server_message_get_response_headers (msg), "Connection",
                                "close");
  if (method != SOUP_METHOD_GET && method != SOUP_METHOD_HEAD) {
    reply_xml (msg, SOUP_STATUS_METHOD_NOT_ALLOWED, 405, "GameStream requests are GET", NULL);
    return;
  }
  if (g_str_equal (path, "/serverinfo"))
    handle_serverinfo (self, msg);
  else if (g_str_equal (path, "/pair"))
    handle_pair (self, msg, query);
  else if (g_str_equal (path, "/unpair"))
    handle_unpair (self, msg);
  else if (g_str_equal (path, "/applist"))
    handle_applist (self, msg);
  else if (g_str_equal (path, "/appasset"))
    handle_appasset (self, msg, query);
  else if (g_str_equal (path, "/launch"))
    handle_launch (self, msg, query);
  else if (g_str_equal (path, "/resume"))
    handle_resume (self, msg, query);
  else if (g_str_equal (path, "/cancel"))
    handle_cancel (self, msg);
  else
    reply_xml (msg, SOUP_STATUS_NOT_FOUND, 404, "no such GameStream endpoint", NULL);
}

/* Moonlight's certificates are self-signed: every one passes the TLS
 * handshake, and each HTTPS endpoint then checks it against the paired
 * clients (paired_device). */
static gboolean
on_accept_certificate (SoupServerMessage *msg, GTlsCertificate *cert, GTlsCertificateFlags errors,
                       gpointer user_data)
{
  return TRUE;
}

static void
on_request_started (SoupServer *server, SoupServerMessage *msg, gpointer user_data)
{
  g_signal_connect (msg, "accept-certificate", G_CALLBACK (on_accept_certificate), NULL);
}

FhGsIdentity *
fh_gs_identity_load_or_create (const char *config_dir, gboolean *created, GError **error)
{
  g_autofree char *cert_path = g_build_filename (config_dir, "gamestream-cert.pem", NULL);
  g_autofree char *key_path = g_build_filename (config_dir, "gamestream-key.pem", NULL);
  g_autofree char *cert = NULL, *key = NULL;
  g_autoptr (FhGsIdentity) identity = NULL;

  *created = FALSE;
  if (g_file_test (cert_path, G_FILE_TEST_EXISTS) || g_file_test (key_path, G_FILE_TEST_EXISTS)) {
    if (!g_file_get_contents (cert_path, &cert, NULL, error) ||
        !g_file_get_contents (key_path, &key, NULL, error))
      return NULL;
    if (!(identity = fh_gs_identity_new_from_pem (cert, key, error)))
      g_prefix_error (error, "%s and %s: ", cert_path, key_path);
    return g_steal_pointer (&identity);
  }
  if (!(identity = fh_gs_identity_new (error)))
    return NULL;
  key = fh_gs_identity_key_pem (identity);
  if (!g_file_set_contents_full (key_path, key, -1, G_FILE_SET_CONTENTS_CONSISTENT, 0600, error) ||
      !g_file_set_contents_full (cert_path, fh_gs_identity_cert_pem (identity), -1,
                                 G_FILE_SET_CONTENTS_CONSISTENT, 0600, error))
    return NULL;
  *created = TRUE;
  return g_steal_pointer (&identity);
}

FhGsHttp *
fh_gs_http_new (const FhGsHttpConfig *config, const FhGsIdentity *identity, FhDeviceStore *devices,
                FhGsLaunches *launches, GError **error)
{
  g_autoptr (FhGsHttp) self = g_new0 (FhGsHttp, 1);
  g_autofree char *key = fh_gs_identity_key_pem (identity);
  g_autofree char *pem = g_strconcat (fh_gs_identity_cert_pem (identity), "\n", key, NULL);
  g_autoptr (GTlsCertificate) cert = NULL;
  g_autofree char *digest = NULL;

  if (!g_tls_backend_supports_tls (g_tls_backend_get_default ())) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
                 "GLib has no TLS backend: install glib-networking");
    return NULL;
  }
  if (!(cert = g_tls_certificate_new_from_pem (pem, -1, error))) {
    g_prefix_error (error, "the GameStream identity: ");
    return NULL;
  }
  self->identity = identity;
  self->devices = devices;
  self->launches = launches;
  self->hostname = g_strdup (config->hostname ? config->hostname : g_get_host_name ());
  self->want_http_port = config->http_port;
  self->want_https_port = config->https_port;
  self->pin_timeout_s = config->pin_timeout_s ? config->pin_timeout_s : FH_GS_PIN_TIMEOUT_S;
  self->announce = config->announce;
  self->announce_data = config->announce_data;
  self->rtsp_port = FH_GS_DEFAULT_RTSP_PORT;
  self->apps = g_array_new (FALSE, FALSE, sizeof (FhGsApp));
  g_array_set_clear_func (self->apps, (GDestroyNotify) app_clear);
  fh_gs_http_set_apps (self, &(FhGsApp) { .id = 1, .title = "Desktop" }, 1);
  self->pair_event = config->pair_event;
  self->pair_event_data = config->pair_event_data;
  /* A stable id: from the identity certificate, made once and kept. */
  digest = g_compute_checksum_for_string (G_CHECKSUM_SHA256, fh_gs_identity_cert_pem (identity),
                                          -1);
  self->uniqueid = g_ascii_strup (digest, 16);

  self->soup = soup_server_new ("server-header", "funkhaus/" FH_VERSION, "tls-certificate", cert,
                                NULL);
  soup_server_set_tls_auth_mode (self->soup, G_TLS_AUTHENTICATION_REQUESTED);
  g_signal_connect (self->soup, "request-started", G_CALLBACK (on_request_started), self);
  soup_server_add_handler (self->soup, NULL, handle_request, self, NULL);
  return g_steal_pointer (&self);
}

static guint
listened_port (SoupServer *soup, const char *scheme)
{
  GSList *uris = soup_server_get_uris (soup);
  guint port = 0;

  for (GSList *u = uris; u && !port; u = u->next) {
    if (g_str_equal (g_uri_get_scheme (u->data), scheme))
      port = (guint) g_uri_get_port (u->data);
  }
  g_slist_free_full (uris, (GDestroyNotify) g_uri_unref);
  return port;
}

gboolean
fh_gs_http_listen (FhGsHttp *self, GError **error)
{
  if (!soup_server_listen_all (self->soup, self->want_http_port, 0, error)) {
    g_prefix_error (error, "GameStream HTTP port %u: ", self->want_http_port);
    return FALSE;
  }
  self->http_port = listened_port (self->soup, "http");
  if (!soup_server_listen_all (self->soup, self->want_https_port, SOUP_SERVER_LISTEN_HTTPS,
                               error)) {
    g_prefix_error (error, "GameStream HTTPS port %u: ", self->want_https_port);
    soup_server_disconnect (self->soup);
    return FALSE;
  }
  self->https_port = listened_port (self->soup, "https");
  return TRUE;
}

guint
fh_gs_http_get_http_port (FhGsHttp *self)
{
  return self->http_port;
}

guint
fh_gs_http_get_https_port (FhGsHttp *self)
{
  return self->https_port;
}

const char *
fh_gs_http_get_uniqueid (FhGsHttp *self)
{
  return self->uniqueid;
}

const char *
fh_gs_http_get_hostname (FhGsHttp *self)
{
  return self->hostname;
}

static void
app_clear (FhGsApp *app)
{
  g_free ((char *) app->title);
  g_free ((char *) app->icon);
}

void
fh_gs_http_set_apps (FhGsHttp *self, const FhGsApp *apps, guint n_apps)
{
  g_array_set_size (self->apps, 0);
  for (guint i = 0; i < n_apps; i++) {
    FhGsApp copy = apps[i];
    copy.title = g_strdup (apps[i].title);
    copy.icon = g_strdup (apps[i].icon);
    g_array_append_val (self->apps, copy);
  }
}

void
fh_gs_http_set_rtsp_port (FhGsHttp *self, guint rtsp_port)
{
  self->rtsp_port = rtsp_port;
}

void
fh_gs_http_free (FhGsHttp *self)
{
  g_autoptr (SoupServerMessage) waiting = NULL;

  if (!self)
    return;
  waiting = waiting_take (self);
  if (waiting) {
    reply_error (waiting, 503, "<paired>0</paired>", "the host is stopping");
    soup_server_message_unpause (waiting);
  }
  g_clear_pointer (&self->attempt, attempt_free);
  if (self->soup) {
    soup_server_disconnect (self->soup);
    g_object_unref (self->soup);
  }
  g_clear_pointer (&self->apps, g_array_unref);
  g_free (self->hostname);
  g_free (self->uniqueid);
  g_free (self);
}
