/* The GameStream HTTP plane (issue 9): what Moonlight asks over HTTP (port
 * 47989) and HTTPS (47984) before it streams: /serverinfo, /pair (the PIN
 * exchange of planes/gamestream/protocol/pairing.c, the PIN entered on the host), /unpair,
 * /applist, /appasset, /launch, /resume, /cancel. HTTPS endpoints other
 * than /serverinfo and /pair answer only clients whose TLS certificate was
 * paired (stored in the host's devices.ini, core/device-store.c).
 *
 * /launch and /resume record a launch per paired client in the plane's
 * registry (planes/gamestream/launch.c), where the streaming servers find
 * it, and answer with the RTSP address (rtspenc:// to a client that sends
 * corever=1). See docs/gamestream.md.
 * Built into the host library (it needs libsoup). */
#pragma once

#include <gio/gio.h>

#include "core/device-store.h"
#include "planes/gamestream/launch.h"
#include "planes/gamestream/protocol/pairing.h"
#include "planes/gamestream/rtsp-server.h"

#define FH_GS_DEFAULT_HTTP_PORT 47989
#define FH_GS_DEFAULT_HTTPS_PORT 47984
/* How long a /pair getservercert request waits for the PIN on the host. */
#define FH_GS_PIN_TIMEOUT_S 120

/* An app Moonlight may launch (/applist, /appasset, /launch): the host's
 * app of that id (core/core.h FhCoreApp). */
typedef struct {
  guint id;
  const char *title;
  const char *icon;  /* a PNG file for /appasset, or NULL: the built-in one */
  gboolean shared;   /* a view of the shared desktop */
} FhGsApp;

typedef struct _FhGsHttp FhGsHttp;

/* How a Moonlight pairing moved on, for whoever shows it (the browser
 * console page): a client waits for its PIN, or its attempt ended. */
typedef enum {
  FH_GS_PAIR_EVENT_WAITING,   /* a getservercert waits for the PIN */
  FH_GS_PAIR_EVENT_GONE,      /* the waiting client gave up, or was replaced */
  FH_GS_PAIR_EVENT_TIMED_OUT, /* no PIN within pin_timeout_s */
  FH_GS_PAIR_EVENT_FAILED,    /* wrong PIN, bad signature, or not stored */
  FH_GS_PAIR_EVENT_PAIRED,    /* stored in devices.ini */
} FhGsPairEvent;

const char *fh_gs_pair_event_to_string (FhGsPairEvent event);

typedef struct {
  const char *hostname;  /* what Moonlight shows; NULL = the machine's name */
  guint http_port;       /* 0 = any free port */
  guint https_port;      /* 0 = any free port */
  guint pin_timeout_s;   /* 0 = FH_GS_PIN_TIMEOUT_S */
  /* What the host's user must see (a client waits for its PIN, a client
   * paired): one line each; NULL = g_message. */
  void (*announce) (const char *line, gpointer data);
  gpointer announce_data;
  /* Called on every FhGsPairEvent with the client's name and, for FAILED,
   * why; NULL = nobody listens. */
  void (*pair_event) (FhGsPairEvent event, const char *client, const char *detail,
                      gpointer data);
  gpointer pair_event_data;
} FhGsHttpConfig;

/* Loads the host's GameStream identity from gamestream-cert.pem and
 * gamestream-key.pem in @config_dir, making both (0600) the first time. */
FhGsIdentity *fh_gs_identity_load_or_create (const char *config_dir, gboolean *created,
                                             GError **error);

/* @identity, @devices and @launches are borrowed and must outlive the
 * server. */
FhGsHttp *fh_gs_http_new (const FhGsHttpConfig *config, const FhGsIdentity *identity,
                          FhDeviceStore *devices, FhGsLaunches *launches, GError **error);
void fh_gs_http_free (FhGsHttp *http);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (FhGsHttp, fh_gs_http_free)

/* Listens on every address at both ports. */
gboolean fh_gs_http_listen (FhGsHttp *http, GError **error);
guint fh_gs_http_get_http_port (FhGsHttp *http);
guint fh_gs_http_get_https_port (FhGsHttp *http);
/* The name Moonlight shows (also the mDNS instance name). */
const char *fh_gs_http_get_hostname (FhGsHttp *http);
/* The host's uniqueid as /serverinfo reports it. */
const char *fh_gs_http_get_uniqueid (FhGsHttp *http);

/* The name of the Moonlight client whose /pair waits for a PIN, or NULL. */
const char *fh_gs_http_get_waiting_client (FhGsHttp *http);
/* The PIN the waiting Moonlight client shows, typed on the host: answers
 * its getservercert. FALSE with @error when no client waits or the PIN is
 * not 4 digits. Whether the PIN was right shows in the later phases. */
gboolean fh_gs_http_submit_pin (FhGsHttp *http, const char *pin, GError **error);

/* The RTSP port sessionUrl0 names (FH_GS_DEFAULT_RTSP_PORT until set). */
void fh_gs_http_set_rtsp_port (FhGsHttp *http, guint rtsp_port);
/* The apps /applist lists and /launch starts (copied); until set, one:
 * "Desktop", id 1. */
void fh_gs_http_set_apps (FhGsHttp *http, const FhGsApp *apps, guint n_apps);
