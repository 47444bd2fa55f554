/* The client half of the GameStream HTTP plane, as Moonlight plays it:
 * its own key and certificate, GET over HTTP or HTTPS (with that
 * certificate) via libsoup, the XML answer's fields, and the four /pair
 * phases plus pairchallenge. Shared by tests/integration/test-gs-http.c
 * and tests/gamestream/fh-gs-client. */
#pragma once

#include <libsoup/soup.h>
#include <openssl/evp.h>

#include "planes/gamestream/protocol/pairing.h"

/* A Moonlight client: its own key, certificate and HTTP session. */
typedef struct {
  char *name; /* devicename in /pair */
  FhGsIdentity *identity;
  EVP_PKEY *key;
  GTlsCertificate *tls;
  SoupSession *session;
} GsClient;

/* @cert_pem and @key_pem NULL: a new RSA-2048 identity. */
gboolean gs_client_init (GsClient *c, const char *name, const char *cert_pem, const char *key_pem,
                         GError **error);
void gs_client_clear (GsClient *c);

typedef struct {
  guint http_status; /* 0: the request failed, see error */
  char *body;        /* NUL-terminated; len excludes the NUL */
  gsize len;
  gboolean done;
  char *server_cert_pem; /* what the host showed in the TLS handshake */
  char *error;
} GsReply;

void gs_reply_clear (GsReply *r);

/* Starts @method @url on @c's session (with its certificate when @url is
 * https), or on @plain when @c is NULL. Any server certificate is
 * accepted (GameStream hosts are self-signed) and kept in the reply. */
void gs_request_start (GsClient *c, SoupSession *plain, const char *method, const char *url,
                       GsReply *r);
/* Iterates the default main context until the reply is done; FALSE after
 * @timeout_s. */
gboolean gs_request_wait (GsReply *r, guint timeout_s);
/* Start and wait; FALSE with @error for a failed or timed-out request or
 * an HTTP status other than 200 or an XML status_code other than 200. */
gboolean gs_request_get_ok (GsClient *c, const char *url, guint timeout_s, GsReply *r,
                            GError **error);

/* The text of <@name>…</name> in @xml, or NULL. */
char *gs_xml_field (const char *xml, const char *name);
/* <root status_code="N">: N, or 0 without one. */
guint gs_xml_status (const char *xml);

/* One pairing attempt: begin sends getservercert (which the host holds
 * until its user types the PIN), finish runs the rest. */
typedef struct {
  GsClient *client;
  char *uniqueid;
  char *http_base; /* "http://ADDR:PORT" */
  char *pin;
  guint8 salt[16], challenge[16], secret[16], aes[16];
  GsReply cert_reply; /* getservercert, in flight after begin */
  /* Results of finish: */
  char *server_cert_pem;    /* plaincert */
  gboolean host_proved_pin; /* its challenge answer matches: it knew the PIN */
  gboolean paired;          /* the host's last word, clientpairingsecret */
  char *tls_cert_pem;       /* the host's certificate in pairchallenge's handshake */
} GsPairing;

void gs_pairing_begin (GsPairing *p, GsClient *c, const char *uniqueid, const char *http_base,
                       const char *pin);
/* Waits up to @pin_timeout_s for getservercert, then runs phases 2–4 over
 * HTTP (even when the host did not prove the PIN, so a test sees the host
 * refuse) and, when paired, pairchallenge over @https_base. FALSE with
 * @error when a step fails outright; a refused PIN is TRUE with
 * p->paired FALSE. */
gboolean gs_pairing_finish (GsPairing *p, const char *https_base, guint pin_timeout_s,
                            GError **error);
void gs_pairing_clear (GsPairing *p);
