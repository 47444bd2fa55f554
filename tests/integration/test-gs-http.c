/* The GameStream HTTP plane (src/planes/gamestream/nvhttp.c) in-process, on free
 * loopback ports, against clients played here with our own code
 * (tests/gamestream/gs-pair-client.c): libsoup with a client certificate,
 * and the pairing steps of src/planes/gamestream/protocol/pairing.c plus OpenSSL for the
 * client's own signatures. */
#include <glib/gstdio.h>
#include <gnutls/gnutls.h>
#include <string.h>
#include <sys/stat.h>

#include "gs-pair-client.h"
#include "planes/gamestream/nvhttp.h"

#define UNIQUEID "0123456789ABCDEF" /* what every Moonlight sends */

typedef struct {
  char *dir;
  FhGsIdentity *identity;
  FhDeviceStore *devices;
  FhGsLaunches *launches; /* no core: nothing plays here */
  FhGsHttp *http;
  GString *events; /* "event client;" per FhGsPairEvent */
} Host;

static void
record_pair_event (FhGsPairEvent event, const char *client, const char *detail, gpointer data)
{
  Host *h = data;

  g_string_append_printf (h->events, "%s %s;", fh_gs_pair_event_to_string (event), client);
}

static void
host_start (Host *h, guint pin_timeout_s)
{
  g_autoptr (GError) error = NULL;
  FhGsHttpConfig config = { .hostname = "test-host",
                            .pin_timeout_s = pin_timeout_s,
                            .pair_event = record_pair_event,
                            .pair_event_data = h };
  gboolean created;

  h->events = g_string_new (NULL);
  h->dir = g_dir_make_tmp ("fh-gs-http-XXXXXX", &error);
  g_assert_no_error (error);
  h->identity = fh_gs_identity_load_or_create (h->dir, &created, &error);
  g_assert_no_error (error);
  g_assert_true (created);
  h->devices = fh_device_store_new (h->dir, &error);
  g_assert_no_error (error);
  h->launches = fh_gs_launches_new (NULL);
  h->http = fh_gs_http_new (&config, h->identity, h->devices, h->launches, &error);
  g_assert_no_error (error);
  g_assert_true (fh_gs_http_listen (h->http, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (fh_gs_http_get_http_port (h->http), >, 0);
  g_assert_cmpuint (fh_gs_http_get_https_port (h->http), >, 0);
  g_assert_cmpuint (fh_gs_http_get_http_port (h->http), !=, fh_gs_http_get_https_port (h->http));
}

static void
host_stop (Host *h)
{
  const char *files[] = { "gamestream-cert.pem", "gamestream-key.pem", "devices.ini" };

  g_clear_pointer (&h->http, fh_gs_http_free);
  g_clear_pointer (&h->launches, fh_gs_launches_free);
  g_clear_pointer (&h->devices, fh_device_store_free);
  g_clear_pointer (&h->identity, fh_gs_identity_free);
  g_string_free (h->events, TRUE);
  for (guint i = 0; i < G_N_ELEMENTS (files); i++) {
    g_autofree char *p = g_build_filename (h->dir, files[i], NULL);
    g_unlink (p);
  }
  g_rmdir (h->dir);
  g_free (h->dir);
}

static void
client_init (GsClient *c, const char *name)
{
  g_autoptr (GError) error = NULL;

  g_assert_true (gs_client_init (c, name, NULL, NULL, &error));
  g_assert_no_error (error);
}

static char *
base_url (Host *h, gboolean https)
{
  return g_strdup_printf ("%s://127.0.0.1:%u", https ? "https" : "http",
                          https ? fh_gs_http_get_https_port (h->http)
                                : fh_gs_http_get_http_port (h->http));
}

/* Starts GET @path_query over HTTP, or over HTTPS with @c's certificate
 * (@c NULL: @plain, a session without one). */
static void
request_start (Host *h, GsClient *c, SoupSession *plain, gboolean https, const char *method,
               const char *path_query, GsReply *r)
{
  g_autofree char *base = base_url (h, https);
  g_autofree char *url = g_strconcat (base, path_query, NULL);

  gs_request_start (c, plain, method, url, r);
}

static void
request_wait (GsReply *r)
{
  g_assert_true (gs_request_wait (r, 20));
  if (r->error)
    g_test_message ("request failed: %s", r->error);
}

static void
get (Host *h, GsClient *c, SoupSession *plain, gboolean https, const char *path_query, GsReply *r)
{
  request_start (h, c, plain, https, "GET", path_query, r);
  request_wait (r);
}

static void
assert_field (const char *xml, const char *name, const char *want)
{
  g_autofree char *v = gs_xml_field (xml, name);

  if (g_strcmp0 (v, want) != 0)
    g_error ("<%s> is '%s', want '%s' in:\n%s", name, v ? v : "(none)", want, xml);
}

static void
assert_status (GsReply *r, guint http, guint xml)
{
  if (r->http_status != http || gs_xml_status (r->body) != xml)
    g_error ("want HTTP %u, XML %u; got HTTP %u:\n%s", http, xml, r->http_status,
             r->body ? r->body : "(no body)");
}

/* Pairs @c as Moonlight does (gs-pair-client.c): getservercert over HTTP
 * waits while the host's user types @host_pin, the challenges over HTTP,
 * then pairchallenge over HTTPS. @client_pin is what the client derives
 * its key from. Returns whether the host said paired at the end. */
static gboolean
pair (Host *h, GsClient *c, const char *client_pin, const char *host_pin)
{
  g_autofree char *http = base_url (h, FALSE), *https = base_url (h, TRUE);
  g_autoptr (GError) error = NULL;
  GsPairing p;
  gboolean paired;
  gint64 deadline;

  gs_pairing_begin (&p, c, UNIQUEID, http, client_pin);
  deadline = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;
  while (!fh_gs_http_get_waiting_client (h->http) && g_get_monotonic_time () < deadline)
    g_main_context_iteration (NULL, TRUE);
  g_assert_cmpstr (fh_gs_http_get_waiting_client (h->http), ==, c->name);
  g_assert_false (p.cert_reply.done);
  /* A PIN that is no Moonlight PIN is refused; the client keeps waiting. */
  g_assert_false (fh_gs_http_submit_pin (h->http, "12a4", &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  g_assert_cmpstr (fh_gs_http_get_waiting_client (h->http), ==, c->name);
  g_assert_true (fh_gs_http_submit_pin (h->http, host_pin, &error));
  g_assert_no_error (error);
  g_assert_null (fh_gs_http_get_waiting_client (h->http));

  g_assert_true (gs_pairing_finish (&p, https, 20, &error));
  g_assert_no_error (error);
  g_assert_cmpstr (p.server_cert_pem, ==, fh_gs_identity_cert_pem (h->identity));
  g_assert_cmpint (p.host_proved_pin, ==, g_str_equal (client_pin, host_pin));
  if (p.paired)
    g_assert_cmpstr (p.tls_cert_pem, ==, fh_gs_identity_cert_pem (h->identity));
  paired = p.paired;
  gs_pairing_clear (&p);
  return paired;
}

static char *
device_of (Host *h, GsClient *c)
{
  g_autoptr (GPtrArray) list = fh_device_store_list (h->devices);

  for (guint i = 0; i < list->len; i++) {
    FhDevice *d = list->pdata[i];
    if (g_str_equal (d->name, c->name)) {
      g_assert_cmpstr (d->kind, ==, "moonlight");
      return g_strdup (d->id);
    }
  }
  return NULL;
}

static char *
launch_query (const char *path, guint appid)
{
  guint8 key[16];

  for (guint i = 0; i < 16; i++)
    key[i] = (guint8) g_random_int ();
  g_autofree char *hex = fh_gs_hex_encode (key, 16);
  return g_strdup_printf ("%s?uniqueid=" UNIQUEID "&appid=%u&mode=1920x1080x60"
                          "&additionalStates=1&sops=0&rikey=%s&rikeyid=-12345"
                          "&localAudioPlayMode=0&surroundAudioInfo=196610",
                          path, appid, hex);
}

static void
test_identity_file (void)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *dir = g_dir_make_tmp ("fh-gs-id-XXXXXX", &error);
  g_autofree char *cert = g_build_filename (dir, "gamestream-cert.pem", NULL);
  g_autofree char *key = g_build_filename (dir, "gamestream-key.pem", NULL);
  g_autoptr (FhGsIdentity) a = NULL, b = NULL;
  gboolean created;
  GStatBuf st;

  a = fh_gs_identity_load_or_create (dir, &created, &error);
  g_assert_no_error (error);
  g_assert_true (created);
  g_assert_cmpint (g_stat (key, &st), ==, 0);
  g_assert_cmpint (st.st_mode & 0777, ==, 0600);
  g_assert_cmpint (g_stat (cert, &st), ==, 0);
  g_assert_cmpint (st.st_mode & 0777, ==, 0600);
  /* Made once: the second start reads the same identity. */
  b = fh_gs_identity_load_or_create (dir, &created, &error);
  g_assert_no_error (error);
  g_assert_false (created);
  g_assert_cmpstr (fh_gs_identity_cert_pem (a), ==, fh_gs_identity_cert_pem (b));
  g_unlink (cert);
  g_unlink (key);
  g_rmdir (dir);
}

static void
test_plane (void)
{
  Host h = { 0 };
  GsClient a = { 0 }, b = { 0 }, stranger = { 0 };
  g_autoptr (SoupSession) plain = soup_session_new ();
  g_autofree char *qa = NULL, *qb = NULL, *qbad = NULL, *dev_a = NULL, *dev_b = NULL;
  g_autofree char *url_a = NULL, *sess_a = NULL, *sess_b = NULL, *huid = NULL;
  g_autoptr (GError) error = NULL;
  GsReply r;

  host_start (&h, 30);
  client_init (&a, "A");
  client_init (&b, "B");
  client_init (&stranger, "S");

  /* serverinfo, unpaired, over HTTP */
  get (&h, NULL, plain, FALSE, "/serverinfo?uniqueid=" UNIQUEID, &r);
  assert_status (&r, 200, 200);
  assert_field (r.body, "hostname", "test-host");
  assert_field (r.body, "PairStatus", "0");
  assert_field (r.body, "state", "SUNSHINE_SERVER_FREE");
  assert_field (r.body, "currentgame", "0");
  huid = gs_xml_field (r.body, "uniqueid");
  g_assert_cmpstr (huid, ==, fh_gs_http_get_uniqueid (h.http));
  {
    g_autofree char *v = gs_xml_field (r.body, "appversion"), *port = gs_xml_field (r.body, "HttpsPort");
    g_autofree char *ext = gs_xml_field (r.body, "ExternalPort");
    g_assert_true (g_str_has_prefix (v, "7."));
    g_assert_cmpuint (g_ascii_strtoull (port, NULL, 10), ==, fh_gs_http_get_https_port (h.http));
    g_assert_cmpuint (g_ascii_strtoull (ext, NULL, 10), ==, fh_gs_http_get_http_port (h.http));
  }
  gs_reply_clear (&r);

  /* Paired-only endpoints refuse before pairing, over HTTP and HTTPS. */
  get (&h, &a, NULL, TRUE, "/applist?uniqueid=" UNIQUEID, &r);
  assert_status (&r, 200, 401);
  gs_reply_clear (&r);
  get (&h, NULL, plain, FALSE, "/applist?uniqueid=" UNIQUEID, &r);
  assert_status (&r, 200, 401);
  gs_reply_clear (&r);

  /* No one waits for a PIN yet. */
  g_assert_false (fh_gs_http_submit_pin (h.http, "1234", &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND);
  g_clear_error (&error);

  /* A wrong PIN on the host: the host says not paired, stores nothing. */
  g_assert_false (pair (&h, &a, "4821", "4822"));
  g_assert_null (device_of (&h, &a));
  get (&h, &a, NULL, TRUE, "/applist?uniqueid=" UNIQUEID, &r);
  assert_status (&r, 200, 401);
  gs_reply_clear (&r);

  /* The right PIN pairs A, then B. */
  g_assert_true (pair (&h, &a, "4821", "4821"));
  g_assert_true (pair (&h, &b, "0007", "0007"));
  dev_a = device_of (&h, &a);
  dev_b = device_of (&h, &b);
  g_assert_nonnull (dev_a);
  g_assert_nonnull (dev_b);
  g_assert_cmpstr (dev_a, !=, dev_b);

  /* serverinfo over HTTPS: paired for A, not for a stranger's cert. */
  get (&h, &a, NULL, TRUE, "/serverinfo?uniqueid=" UNIQUEID, &r);
  assert_status (&r, 200, 200);
  assert_field (r.body, "PairStatus", "1");
  gs_reply_clear (&r);
  get (&h, &stranger, NULL, TRUE, "/serverinfo?uniqueid=" UNIQUEID, &r);
  assert_status (&r, 200, 200);
  assert_field (r.body, "PairStatus", "0");
  gs_reply_clear (&r);
  get (&h, NULL, plain, FALSE, "/serverinfo", &r);
  assert_field (r.body, "PairStatus", "0");
  gs_reply_clear (&r);

  /* applist and appasset */
  get (&h, &a, NULL, TRUE, "/applist?uniqueid=" UNIQUEID, &r);
  assert_status (&r, 200, 200);
  assert_field (r.body, "AppTitle", "Desktop");
  assert_field (r.body, "ID", "1");
  gs_reply_clear (&r);
  get (&h, &a, NULL, TRUE, "/appasset?uniqueid=" UNIQUEID "&appid=1&AssetType=2&AssetIdx=0", &r);
  g_assert_cmpuint (r.http_status, ==, 200);
  g_assert_cmpuint (r.len, >, 33);
  g_assert_cmpmem (r.body, 8, "\x89PNG\r\n\x1a\n", 8);
  g_assert_cmpmem (r.body + 12, 4, "IHDR", 4);
  gs_reply_clear (&r);
  get (&h, &a, NULL, TRUE, "/appasset?appid=7", &r);
  assert_status (&r, 404, 404);
  gs_reply_clear (&r);
  /* The host's list: every app by its id, its own icon where it has one. */
  {
    g_autofree char *icon_dir = g_dir_make_tmp ("fh-gs-icon-XXXXXX", NULL);
    g_autofree char *icon = g_build_filename (icon_dir, "icon.png", NULL);
    const FhGsApp apps[] = {
      { .id = 1, .title = "Desktop" },
      { .id = 3, .title = "Games & more", .icon = icon },
    };

    g_assert_true (g_file_set_contents (icon, "\x89PNG\r\n\x1a\nmine", 12, NULL));
    fh_gs_http_set_apps (h.http, apps, G_N_ELEMENTS (apps));
    get (&h, &a, NULL, TRUE, "/applist?uniqueid=" UNIQUEID, &r);
    assert_status (&r, 200, 200);
    g_assert_nonnull (strstr (r.body, "<AppTitle>Desktop</AppTitle><ID>1</ID>"));
    g_assert_nonnull (strstr (r.body, "<AppTitle>Games &amp; more</AppTitle><ID>3</ID>"));
    gs_reply_clear (&r);
    get (&h, &a, NULL, TRUE, "/appasset?appid=3&AssetType=2&AssetIdx=0", &r);
    g_assert_cmpuint (r.http_status, ==, 200);
    g_assert_cmpmem (r.body, r.len, "\x89PNG\r\n\x1a\nmine", 12);
    gs_reply_clear (&r);
    get (&h, &a, NULL, TRUE, "/appasset?appid=2", &r);
    assert_status (&r, 404, 404);
    gs_reply_clear (&r);
    g_unlink (icon);
    g_rmdir (icon_dir);
    fh_gs_http_set_apps (h.http, apps, 1);
  }

  /* The stranger's certificate is refused where pairing is needed. */
  qbad = launch_query ("/launch", 1);
  get (&h, &stranger, NULL, TRUE, qbad, &r);
  assert_status (&r, 200, 401);
  gs_reply_clear (&r);
  g_assert_cmpuint (fh_gs_launches_count (h.launches), ==, 0);

  /* Two clients launch: two sessions, neither takes the other's. */
  qa = launch_query ("/launch", 1);
  get (&h, &a, NULL, TRUE, qa, &r);
  assert_status (&r, 200, 200);
  url_a = gs_xml_field (r.body, "sessionUrl0");
  g_assert_cmpstr (url_a, ==, "rtsp://127.0.0.1:48010");
  sess_a = gs_xml_field (r.body, "gamesession");
  gs_reply_clear (&r);
  qb = launch_query ("/launch", 1);
  get (&h, &b, NULL, TRUE, qb, &r);
  assert_status (&r, 200, 200);
  sess_b = gs_xml_field (r.body, "gamesession");
  gs_reply_clear (&r);
  g_assert_nonnull (sess_a);
  g_assert_nonnull (sess_b);
  g_assert_cmpstr (sess_a, !=, "0");
  g_assert_cmpstr (sess_b, !=, "0");
  g_assert_cmpstr (sess_a, !=, sess_b);
  g_assert_cmpuint (fh_gs_launches_count (h.launches), ==, 2);
  /* A second launch of A is refused and changes nothing. */
  get (&h, &a, NULL, TRUE, qa, &r);
  assert_status (&r, 200, 400);
  gs_reply_clear (&r);
  g_assert_cmpuint (fh_gs_launches_count (h.launches), ==, 2);
  get (&h, &a, NULL, TRUE, "/serverinfo", &r);
  assert_field (r.body, "state", "SUNSHINE_SERVER_BUSY");
  assert_field (r.body, "currentgame", "1");
  gs_reply_clear (&r);

  /* B quits its own session; A's stays. */
  get (&h, &b, NULL, TRUE, "/cancel?uniqueid=" UNIQUEID, &r);
  assert_status (&r, 200, 200);
  assert_field (r.body, "cancel", "1");
  gs_reply_clear (&r);
  g_assert_cmpuint (fh_gs_launches_count (h.launches), ==, 1);
  get (&h, &b, NULL, TRUE, "/serverinfo", &r);
  assert_field (r.body, "state", "SUNSHINE_SERVER_FREE");
  gs_reply_clear (&r);
  get (&h, &a, NULL, TRUE, "/serverinfo", &r);
  assert_field (r.body, "state", "SUNSHINE_SERVER_BUSY");
  gs_reply_clear (&r);
  /* Resume: A has a session, B has none now. */
  g_free (qa);
  qa = launch_query ("/resume", 1);
  get (&h, &a, NULL, TRUE, qa, &r);
  assert_status (&r, 200, 200);
  assert_field (r.body, "resume", "1");
  assert_field (r.body, "sessionUrl0", "rtsp://127.0.0.1:48010");
  gs_reply_clear (&r);
  get (&h, &b, NULL, TRUE, qa, &r);
  assert_status (&r, 200, 503);
  gs_reply_clear (&r);

  /* Malformed requests: each gets its error, the server keeps serving. */
  {
    static const struct {
      gboolean https;
      const char *method, *q;
      guint http, xml;
    } bad[] = {
      { FALSE, "GET", "/pair?phrase=getservercert", 200, 400 },
      { FALSE, "GET", "/pair?uniqueid=X&phrase=getservercert&salt=zz&clientcert=00", 200, 400 },
      { FALSE, "GET", "/pair?uniqueid=X&phrase=getservercert&salt=00112233445566778899aabbccddeeff&clientcert=4142", 200, 400 },
      { FALSE, "GET", "/pair?uniqueid=X&clientchallenge=00", 200, 400 },
      { FALSE, "GET", "/pair?uniqueid=X&phrase=nonsense", 200, 400 },
      { FALSE, "GET", "/pair?uniqueid=X&phrase=pairchallenge", 200, 401 },
      { TRUE, "GET", "/launch?appid=1", 200, 400 },
      { TRUE, "GET", "/launch?appid=one&rikey=00&rikeyid=1", 200, 400 },
      { TRUE, "GET", "/launch?appid=99&rikey=00112233445566778899aabbccddeeff&rikeyid=1", 200, 404 },
      { TRUE, "GET", "/launch?appid=1&rikey=0011&rikeyid=1", 200, 400 },
      { TRUE, "GET", "/launch?appid=1&rikey=00112233445566778899aabbccddeeff&rikeyid=x", 200, 400 },
      { TRUE, "GET", "/launch?appid=1&rikey=00112233445566778899aabbccddeeff&rikeyid=1&mode=big", 200, 400 },
      { TRUE, "GET", "/nothing-here", 404, 404 },
      { FALSE, "POST", "/serverinfo", 405, 405 },
    };
    for (guint i = 0; i < G_N_ELEMENTS (bad); i++) {
      g_test_message ("bad request %u: %s %s", i, bad[i].method, bad[i].q);
      request_start (&h, bad[i].https ? &b : NULL, plain, bad[i].https, bad[i].method, bad[i].q,
                     &r);
      request_wait (&r);
      assert_status (&r, bad[i].http, bad[i].xml);
      gs_reply_clear (&r);
    }
  }
  g_assert_cmpuint (fh_gs_launches_count (h.launches), ==, 1);
  get (&h, NULL, plain, FALSE, "/serverinfo", &r);
  assert_status (&r, 200, 200);
  gs_reply_clear (&r);

  /* Unpair over plain HTTP changes nothing. */
  get (&h, NULL, plain, FALSE, "/unpair?uniqueid=" UNIQUEID, &r);
  assert_status (&r, 200, 200);
  gs_reply_clear (&r);
  {
    g_autofree char *still = device_of (&h, &a);
    g_assert_cmpstr (still, ==, dev_a);
  }

  /* Revoked on the host: A is refused again, and its session is gone. */
  g_assert_true (fh_device_store_revoke (h.devices, dev_a, &error));
  g_assert_no_error (error);
  fh_gs_launches_forget (h.launches, dev_a);
  g_assert_cmpuint (fh_gs_launches_count (h.launches), ==, 0);
  get (&h, &a, NULL, TRUE, "/applist", &r);
  assert_status (&r, 200, 401);
  gs_reply_clear (&r);
  get (&h, &a, NULL, TRUE, "/serverinfo", &r);
  assert_field (r.body, "PairStatus", "0");
  gs_reply_clear (&r);
  /* B is unaffected, and unpairs itself over HTTPS. */
  get (&h, &b, NULL, TRUE, "/applist", &r);
  assert_status (&r, 200, 200);
  gs_reply_clear (&r);
  get (&h, &b, NULL, TRUE, "/unpair?uniqueid=" UNIQUEID, &r);
  assert_status (&r, 200, 200);
  gs_reply_clear (&r);
  g_assert_null (device_of (&h, &b));
  get (&h, &b, NULL, TRUE, "/applist", &r);
  assert_status (&r, 200, 401);
  gs_reply_clear (&r);

  gs_client_clear (&a);
  gs_client_clear (&b);
  gs_client_clear (&stranger);
  host_stop (&h);
}

/* One pairing at a time; an unanswered one times out; a client that
 * asks again replaces its own request. */
static void
test_pin_wait (void)
{
  Host h = { 0 };
  GsClient a = { 0 }, b = { 0 };
  g_autofree char *cert_a = NULL, *cert_b = NULL, *qa = NULL, *qb = NULL;
  GsReply ra, ra2, rb;
  gint64 t0;

  host_start (&h, 2);
  client_init (&a, "A");
  client_init (&b, "B");
  cert_a = fh_gs_hex_encode ((const guint8 *) fh_gs_identity_cert_pem (a.identity),
                   strlen (fh_gs_identity_cert_pem (a.identity)));
  cert_b = fh_gs_hex_encode ((const guint8 *) fh_gs_identity_cert_pem (b.identity),
                   strlen (fh_gs_identity_cert_pem (b.identity)));
  qa = g_strdup_printf ("/pair?uniqueid=" UNIQUEID "&devicename=A&phrase=getservercert"
                        "&salt=00112233445566778899aabbccddeeff&clientcert=%s",
                        cert_a);
  qb = g_strdup_printf ("/pair?uniqueid=" UNIQUEID "&devicename=B&phrase=getservercert"
                        "&salt=00112233445566778899aabbccddeeff&clientcert=%s",
                        cert_b);

  request_start (&h, &a, NULL, FALSE, "GET", qa, &ra);
  while (!fh_gs_http_get_waiting_client (h.http))
    g_main_context_iteration (NULL, TRUE);
  /* B must wait its turn. */
  get (&h, &b, NULL, FALSE, qb, &rb);
  assert_status (&rb, 200, 503);
  gs_reply_clear (&rb);
  g_assert_cmpstr (fh_gs_http_get_waiting_client (h.http), ==, "A");
  /* A asks again (on a second connection): the new request waits. */
  {
    g_autoptr (SoupSession) second = soup_session_new ();
    SoupSession *keep = a.session;
    a.session = second;
    request_start (&h, &a, NULL, FALSE, "GET", qa, &ra2);
    a.session = keep;
    request_wait (&ra);
    assert_status (&ra, 200, 409);
    gs_reply_clear (&ra);
    g_assert_cmpstr (fh_gs_http_get_waiting_client (h.http), ==, "A");
    /* Nobody types the PIN: after 2 s the client hears why. */
    t0 = g_get_monotonic_time ();
    request_wait (&ra2);
    assert_status (&ra2, 200, 408);
    assert_field (ra2.body, "paired", "0");
    g_assert_cmpint (g_get_monotonic_time () - t0, >=, G_USEC_PER_SEC);
    gs_reply_clear (&ra2);
  }
  g_assert_null (fh_gs_http_get_waiting_client (h.http));
  /* What a browser console hears: B's refusal changed nothing, A's retry
   * waits again, then the timeout. */
  g_assert_cmpstr (h.events->str, ==, "waiting A;waiting A;timed-out A;");
  gs_client_clear (&a);
  gs_client_clear (&b);
  host_stop (&h);
}

int
main (int argc, char **argv)
{
  /* LeakSanitizer (GCC 12, glibc 2.36) crashes reading the thread-local
   * storage of libraries loaded with dlopen: GIO's TLS module pulls in
   * GnuTLS that way, its proxy module libstdc++. So GnuTLS is linked here
   * (this call keeps it from being dropped as unneeded), and GIO uses its
   * built-in proxy resolver and settings backend, which load nothing. */
  g_setenv ("GIO_USE_PROXY_RESOLVER", "dummy", TRUE);
  g_setenv ("GSETTINGS_BACKEND", "memory", TRUE);
  /* Not G_TEST_OPTION_ISOLATE_DIRS: GLib 2.74 leaks the directories it
   * sets per test; every file this test writes is in its own temp dir. */
  g_test_init (&argc, &argv, NULL);
  g_test_message ("GnuTLS %s", gnutls_check_version (NULL));
  g_test_add_func ("/gs-http/identity-file", test_identity_file);
  g_test_add_func ("/gs-http/plane", test_plane);
  g_test_add_func ("/gs-http/pin-wait", test_pin_wait);
  return g_test_run ();
}
