/* The client half of the GameStream HTTP plane: see gs-pair-client.h.
 * Pairing as moonlight-common-c's clients run it (docs/gamestream.md,
 * "Pairing"), with the pure steps of src/planes/gamestream/protocol/pairing.c and OpenSSL
 * for the client's own signature. */
#include "gs-pair-client.h"

#include <openssl/pem.h>
#include <string.h>

G_DEFINE_AUTOPTR_CLEANUP_FUNC (EVP_PKEY, EVP_PKEY_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (EVP_MD_CTX, EVP_MD_CTX_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (BIO, BIO_free)

gboolean
gs_client_init (GsClient *c, const char *name, const char *cert_pem, const char *key_pem,
                GError **error)
{
  g_autofree char *own_key = NULL, *both = NULL;
  g_autoptr (BIO) bio = NULL;

  memset (c, 0, sizeof *c);
  c->name = g_strdup (name);
  c->identity = cert_pem ? fh_gs_identity_new_from_pem (cert_pem, key_pem, error)
                         : fh_gs_identity_new (error);
  if (!c->identity)
    return FALSE;
  own_key = fh_gs_identity_key_pem (c->identity);
  bio = BIO_new_mem_buf (own_key, -1);
  c->key = PEM_read_bio_PrivateKey (bio, NULL, NULL, NULL);
  if (!c->key) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "cannot read the client's own key");
    return FALSE;
  }
  both = g_strconcat (fh_gs_identity_cert_pem (c->identity), "\n", own_key, NULL);
  c->tls = g_tls_certificate_new_from_pem (both, -1, error);
  if (!c->tls)
    return FALSE;
  c->session = soup_session_new ();
  return TRUE;
}

void
gs_client_clear (GsClient *c)
{
  g_clear_object (&c->session);
  g_clear_object (&c->tls);
  g_clear_pointer (&c->key, EVP_PKEY_free);
  g_clear_pointer (&c->identity, fh_gs_identity_free);
  g_clear_pointer (&c->name, g_free);
}

void
gs_reply_clear (GsReply *r)
{
  g_free (r->body);
  g_free (r->server_cert_pem);
  g_free (r->error);
  memset (r, 0, sizeof *r);
}

static gboolean
on_server_cert (SoupMessage *msg, GTlsCertificate *cert, GTlsCertificateFlags errors,
                gpointer user_data)
{
  GsReply *r = user_data;

  g_free (r->server_cert_pem);
  g_object_get (cert, "certificate-pem", &r->server_cert_pem, NULL);
  return TRUE; /* self-signed, as every GameStream host's */
}

static void
on_sent (GObject *source, GAsyncResult *result, gpointer user_data)
{
  GsReply *r = user_data;
  g_autoptr (GError) error = NULL;
  SoupMessage *msg = soup_session_get_async_result_message (SOUP_SESSION (source), result);
  g_autoptr (GBytes) body = soup_session_send_and_read_finish (SOUP_SESSION (source), result,
                                                               &error);

  r->done = TRUE;
  if (!body) {
    r->error = g_strdup (error->message);
    r->http_status = 0;
    return;
  }
  r->http_status = soup_message_get_status (msg);
  /* Bytes as they came (a PNG holds NULs), NUL-terminated for the XML. */
  r->body = g_malloc0 (g_bytes_get_size (body) + 1);
  memcpy (r->body, g_bytes_get_data (body, &r->len), g_bytes_get_size (body));
}

void
gs_request_start (GsClient *c, SoupSession *plain, const char *method, const char *url,
                  GsReply *r)
{
  g_autoptr (SoupMessage) msg = soup_message_new (method, url);

  g_assert (msg);
  memset (r, 0, sizeof *r);
  g_signal_connect (msg, "accept-certificate", G_CALLBACK (on_server_cert), r);
  if (c && g_str_has_prefix (url, "https:"))
    soup_message_set_tls_client_certificate (msg, c->tls);
  soup_session_send_and_read_async (c ? c->session : plain, msg, G_PRIORITY_DEFAULT, NULL,
                                    on_sent, r);
}

gboolean
gs_request_wait (GsReply *r, guint timeout_s)
{
  gint64 deadline = g_get_monotonic_time () + (gint64) timeout_s * G_USEC_PER_SEC;

  while (!r->done && g_get_monotonic_time () < deadline)
    g_main_context_iteration (NULL, TRUE);
  return r->done;
}

static gboolean
reply_ok (GsReply *r, const char *what, GError **error)
{
  if (!r->done) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT, "%s: no answer in time", what);
    return FALSE;
  }
  if (r->http_status == 0) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "%s: %s", what, r->error);
    return FALSE;
  }
  if (r->http_status != 200 || gs_xml_status (r->body) != 200) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "%s: HTTP %u, answer: %s", what,
                 r->http_status, r->body ? r->body : "(none)");
    return FALSE;
  }
  return TRUE;
}

gboolean
gs_request_get_ok (GsClient *c, const char *url, guint timeout_s, GsReply *r, GError **error)
{
  g_autofree char *what = g_strdup (url);
  char *q = strchr (what, '?');

  if (q)
    *q = '\0'; /* the query may hold keys: not in messages */
  gs_request_start (c, NULL, "GET", url, r);
  gs_request_wait (r, timeout_s);
  return reply_ok (r, what, error);
}

char *
gs_xml_field (const char *xml, const char *name)
{
  g_autofree char *open = g_strdup_printf ("<%s>", name), *close = g_strdup_printf ("</%s>", name);
  const char *a = xml ? strstr (xml, open) : NULL, *b;

  if (!a)
    return NULL;
  a += strlen (open);
  if (!(b = strstr (a, close)))
    return NULL;
  return g_strndup (a, (gsize) (b - a));
}

guint
gs_xml_status (const char *xml)
{
  const char *a = xml ? strstr (xml, "<root status_code=\"") : NULL;

  return a ? (guint) g_ascii_strtoull (a + strlen ("<root status_code=\""), NULL, 10) : 0;
}

static GBytes *
sign (EVP_PKEY *key, const guint8 *data, gsize len)
{
  g_autoptr (EVP_MD_CTX) ctx = EVP_MD_CTX_new ();
  gsize n = 0;
  guint8 *sig;

  if (EVP_DigestSignInit (ctx, NULL, EVP_sha256 (), NULL, key) != 1 ||
      EVP_DigestSign (ctx, NULL, &n, data, len) != 1)
    return NULL;
  sig = g_malloc (n);
  if (EVP_DigestSign (ctx, sig, &n, data, len) != 1) {
    g_free (sig);
    return NULL;
  }
  return g_bytes_new_take (sig, n);
}

static void
random_bytes (guint8 *out, gsize n)
{
  for (gsize i = 0; i < n; i++)
    out[i] = (guint8) g_random_int ();
}

void
gs_pairing_begin (GsPairing *p, GsClient *c, const char *uniqueid, const char *http_base,
                  const char *pin)
{
  const char *cert_pem = fh_gs_identity_cert_pem (c->identity);
  g_autofree char *salt_hex = NULL, *cert_hex = NULL, *url = NULL;

  memset (p, 0, sizeof *p);
  p->client = c;
  p->uniqueid = g_strdup (uniqueid);
  p->http_base = g_strdup (http_base);
  p->pin = g_strdup (pin);
  random_bytes (p->salt, 16);
  random_bytes (p->challenge, 16);
  random_bytes (p->secret, 16);
  fh_gs_pairing_derive_key (FH_GS_PAIRING_HASH_SHA256, p->salt, pin, p->aes);
  salt_hex = fh_gs_hex_encode (p->salt, 16);
  cert_hex = fh_gs_hex_encode ((const guint8 *) cert_pem, strlen (cert_pem));
  url = g_strdup_printf ("%s/pair?uniqueid=%s&devicename=%s&updateState=1"
                         "&phrase=getservercert&salt=%s&clientcert=%s",
                         http_base, uniqueid, c->name, salt_hex, cert_hex);
  gs_request_start (c, NULL, "GET", url, &p->cert_reply);
}

/* GET http_base/pair?uniqueid=…&devicename=…&updateState=1&@arg */
static gboolean
pair_step (GsPairing *p, const char *arg, GsReply *r, GError **error)
{
  g_autofree char *url = g_strdup_printf ("%s/pair?uniqueid=%s&devicename=%s&updateState=1&%s",
                                          p->http_base, p->uniqueid, p->client->name, arg);
  g_autofree char *what = g_strdup_printf ("/pair %.*s", (int) strcspn (arg, "="), arg);

  gs_request_start (p->client, NULL, "GET", url, r);
  gs_request_wait (r, 20);
  return reply_ok (r, what, error);
}

gboolean
gs_pairing_finish (GsPairing *p, const char *https_base, guint pin_timeout_s, GError **error)
{
  GsClient *c = p->client;
  const char *cert_pem = fh_gs_identity_cert_pem (c->identity);
  guint8 buf[64], digest[FH_GS_PAIRING_MAX_HASH], server_response[32], server_challenge[16];
  g_autofree char *plaincert = NULL, *resp_hex = NULL, *paired = NULL, *hex = NULL, *arg = NULL;
  g_autoptr (GBytes) pc = NULL, resp = NULL, server_sig = NULL, client_sig = NULL, sig = NULL;
  g_autoptr (GByteArray) hashed = g_byte_array_new (), final = g_byte_array_new ();
  const guint8 *data;
  gsize n;
  GsReply r = { 0 };
  gboolean ok = FALSE;

  /* 1: getservercert, answered once the host's user typed the PIN. */
  gs_request_wait (&p->cert_reply, pin_timeout_s);
  if (!reply_ok (&p->cert_reply, "/pair getservercert", error))
    return FALSE;
  paired = gs_xml_field (p->cert_reply.body, "paired");
  plaincert = gs_xml_field (p->cert_reply.body, "plaincert");
  if (g_strcmp0 (paired, "1") != 0 || !(pc = fh_gs_hex_decode (plaincert ? plaincert : ""))) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "getservercert: not paired: %s",
                 p->cert_reply.body);
    return FALSE;
  }
  p->server_cert_pem = g_strndup (g_bytes_get_data (pc, NULL), g_bytes_get_size (pc));

  /* 2: clientchallenge; the answer is AES(H(c ‖ sig(host cert) ‖ host
   * secret) ‖ host challenge). */
  fh_gs_pairing_aes_ecb (TRUE, p->aes, p->challenge, 16, buf);
  hex = fh_gs_hex_encode (buf, 16);
  arg = g_strdup_printf ("clientchallenge=%s", hex);
  if (!pair_step (p, arg, &r, error))
    goto out;
  resp_hex = gs_xml_field (r.body, "challengeresponse");
  resp = fh_gs_hex_decode (resp_hex ? resp_hex : "");
  if (!resp || g_bytes_get_size (resp) != 48) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "clientchallenge: bad answer: %s", r.body);
    goto out;
  }
  fh_gs_pairing_aes_ecb (FALSE, p->aes, g_bytes_get_data (resp, NULL), 48, buf);
  memcpy (server_response, buf, 32);
  memcpy (server_challenge, buf + 32, 16);
  gs_reply_clear (&r);

  /* 3: serverchallengeresp = AES(H(host challenge ‖ sig(our cert) ‖ our
   * secret)) */
  client_sig = fh_gs_pairing_cert_signature (cert_pem, error);
  if (!client_sig)
    goto out;
  g_byte_array_append (hashed, server_challenge, 16);
  g_byte_array_append (hashed, g_bytes_get_data (client_sig, NULL),
                       (guint) g_bytes_get_size (client_sig));
  g_byte_array_append (hashed, p->secret, 16);
  fh_gs_pairing_digest (FH_GS_PAIRING_HASH_SHA256, hashed->data, hashed->len, buf);
  fh_gs_pairing_aes_ecb (TRUE, p->aes, buf, 32, buf + 32);
  g_free (hex);
  hex = fh_gs_hex_encode (buf + 32, 32);
  g_free (arg);
  arg = g_strdup_printf ("serverchallengeresp=%s", hex);
  if (!pair_step (p, arg, &r, error))
    goto out;
  g_free (resp_hex);
  resp_hex = gs_xml_field (r.body, "pairingsecret");
  g_bytes_unref (resp);
  resp = fh_gs_hex_decode (resp_hex ? resp_hex : "");
  data = resp ? g_bytes_get_data (resp, &n) : NULL;
  if (!resp || n != 16 + 256) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "serverchallengeresp: bad answer: %s",
                 r.body);
    goto out;
  }
  /* The host knew the PIN only if H(our challenge ‖ its cert's signature
   * ‖ its secret) is what it sent in phase 2. */
  server_sig = fh_gs_pairing_cert_signature (p->server_cert_pem, error);
  if (!server_sig)
    goto out;
  g_byte_array_set_size (hashed, 0);
  g_byte_array_append (hashed, p->challenge, 16);
  g_byte_array_append (hashed, g_bytes_get_data (server_sig, NULL),
                       (guint) g_bytes_get_size (server_sig));
  g_byte_array_append (hashed, data, 16);
  fh_gs_pairing_digest (FH_GS_PAIRING_HASH_SHA256, hashed->data, hashed->len, digest);
  p->host_proved_pin = memcmp (digest, server_response, 32) == 0;
  gs_reply_clear (&r);

  /* 4: clientpairingsecret = our secret ‖ its signature */
  sig = sign (c->key, p->secret, 16);
  if (!sig) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "cannot sign the pairing secret");
    goto out;
  }
  g_byte_array_append (final, p->secret, 16);
  g_byte_array_append (final, g_bytes_get_data (sig, NULL), (guint) g_bytes_get_size (sig));
  g_free (hex);
  hex = fh_gs_hex_encode (final->data, final->len);
  g_free (arg);
  arg = g_strdup_printf ("clientpairingsecret=%s", hex);
  if (!pair_step (p, arg, &r, error))
    goto out;
  g_free (paired);
  paired = gs_xml_field (r.body, "paired");
  p->paired = g_strcmp0 (paired, "1") == 0;
  gs_reply_clear (&r);
  if (!p->paired) {
    ok = TRUE;
    goto out;
  }

  /* 5: pairchallenge over HTTPS with the now paired certificate. */
  g_free (arg);
  arg = g_strdup_printf ("%s/pair?uniqueid=%s&devicename=roth&updateState=1&phrase=pairchallenge",
                         https_base, p->uniqueid);
  if (!gs_request_get_ok (c, arg, 20, &r, error))
    goto out;
  g_free (paired);
  paired = gs_xml_field (r.body, "paired");
  if (g_strcmp0 (paired, "1") != 0) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "pairchallenge: not paired: %s", r.body);
    goto out;
  }
  p->tls_cert_pem = g_steal_pointer (&r.server_cert_pem);
  ok = TRUE;
out:
  gs_reply_clear (&r);
  return ok;
}

void
gs_pairing_clear (GsPairing *p)
{
  gs_reply_clear (&p->cert_reply);
  g_free (p->uniqueid);
  g_free (p->http_base);
  g_free (p->pin);
  g_free (p->server_cert_pem);
  g_free (p->tls_cert_pem);
  memset (p, 0, sizeof *p);
}
