/* mDNS advertisement through avahi-daemon (see mdns.h). One AvahiClient
 * with AVAHI_CLIENT_NO_FAIL waits for the daemon; when the daemon or the
 * system bus goes away the client is useless, so it is replaced by a new
 * one, which waits again. */
#include "planes/gamestream/mdns.h"

#include <avahi-client/client.h>
#include <avahi-client/publish.h>
#include <avahi-common/alternative.h>
#include <avahi-common/error.h>
#include <avahi-common/malloc.h>
#include <avahi-glib/glib-watch.h>
#include <string.h>

G_DEFINE_QUARK (fh-gs-mdns-error-quark, fh_gs_mdns_error)

struct _FhGsMdns {
  char *name;
  guint port;
  FhGsMdnsState state;
  GMainContext *context;
  AvahiGLibPoll *poll;
  AvahiClient *client;
  AvahiEntryGroup *group; /* owned by client: freed with it */
  GSource *reconnect;     /* an idle or a timeout that makes a new client */
  gboolean warned;        /* the "no avahi-daemon" warning, once */
};

static void connect_client (FhGsMdns *self);

const char *
fh_gs_mdns_state_to_string (FhGsMdnsState state)
{
  switch (state) {
  case FH_GS_MDNS_STATE_STARTING:
    return "starting";
  case FH_GS_MDNS_STATE_NO_DAEMON:
    return "no-daemon";
  case FH_GS_MDNS_STATE_REGISTERING:
    return "registering";
  case FH_GS_MDNS_STATE_PUBLISHED:
    return "published";
  case FH_GS_MDNS_STATE_FAILED:
    return "failed";
  }
  return "unknown";
}

static void
set_state (FhGsMdns *self, FhGsMdnsState state, const char *why)
{
  if (self->state == state)
    return;
  g_message ("mdns '%s': %s → %s%s%s", self->name, fh_gs_mdns_state_to_string (self->state),
             fh_gs_mdns_state_to_string (state), why ? ": " : "", why ? why : "");
  self->state = state;
}

static gboolean
reconnect_cb (gpointer data)
{
  FhGsMdns *self = data;

  g_clear_pointer (&self->reconnect, g_source_unref);
  connect_client (self);
  return G_SOURCE_REMOVE;
}

/* A new client later: never from inside the old client's callback, which
 * runs in its D-Bus dispatch. */
static void
schedule_reconnect (FhGsMdns *self, guint delay_s)
{
  if (self->reconnect)
    return;
  self->reconnect = delay_s ? g_timeout_source_new_seconds (delay_s) : g_idle_source_new ();
  g_source_set_callback (self->reconnect, reconnect_cb, self, NULL);
  g_source_attach (self->reconnect, self->context);
}

static void
no_daemon (FhGsMdns *self, const char *why)
{
  if (!self->warned) {
    g_warning ("mdns: cannot publish '%s' (%s): Moonlight will not list this host by itself "
               "until avahi-daemon runs (start it, e.g. `systemctl start avahi-daemon`), but "
               "can still add it by address; publishing as soon as the daemon appears",
               self->name, why);
    self->warned = TRUE;
  }
  set_state (self, FH_GS_MDNS_STATE_NO_DAEMON, why);
}

static void add_service (FhGsMdns *self, AvahiClient *client);

static void
rename_after_collision (FhGsMdns *self)
{
  char *alt = avahi_alternative_service_name (self->name);

  g_message ("mdns: the name '%s' is taken, publishing as '%s'", self->name, alt);
  g_free (self->name);
  self->name = g_strdup (alt);
  avahi_free (alt);
}

static void
group_cb (AvahiEntryGroup *group, AvahiEntryGroupState state, void *data)
{
  FhGsMdns *self = data;
  AvahiClient *client = avahi_entry_group_get_client (group);

  switch (state) {
  case AVAHI_ENTRY_GROUP_ESTABLISHED:
    set_state (self, FH_GS_MDNS_STATE_PUBLISHED, NULL);
    break;
  case AVAHI_ENTRY_GROUP_COLLISION:
    rename_after_collision (self);
    avahi_entry_group_reset (group);
    add_service (self, client);
    break;
  case AVAHI_ENTRY_GROUP_FAILURE:
    set_state (self, FH_GS_MDNS_STATE_FAILED, avahi_strerror (avahi_client_errno (client)));
    schedule_reconnect (self, FH_GS_MDNS_RETRY_S);
    break;
  case AVAHI_ENTRY_GROUP_UNCOMMITED:
  case AVAHI_ENTRY_GROUP_REGISTERING:
    break;
  }
}

/* @client, not self->client: the first callbacks come from inside
 * avahi_client_new, before it returns. */
static void
add_service (FhGsMdns *self, AvahiClient *client)
{
  int ret;

  if (!self->group) {
    self->group = avahi_entry_group_new (client, group_cb, self);
    if (!self->group) {
      set_state (self, FH_GS_MDNS_STATE_FAILED, avahi_strerror (avahi_client_errno (client)));
      schedule_reconnect (self, FH_GS_MDNS_RETRY_S);
      return;
    }
  }
  if (!avahi_entry_group_is_empty (self->group))
    return;
  for (guint tries = 0; tries < 20; tries++) {
    ret = avahi_entry_group_add_service (self->group, AVAHI_IF_UNSPEC, AVAHI_PROTO_UNSPEC, 0,
                                         self->name, FH_GS_MDNS_SERVICE_TYPE, NULL, NULL,
                                         (guint16) self->port, NULL);
    if (ret != AVAHI_ERR_COLLISION)
      break;
    /* A service of this host already has the name. */
    rename_after_collision (self);
  }
  if (ret == AVAHI_OK)
    ret = avahi_entry_group_commit (self->group);
  if (ret != AVAHI_OK) {
    set_state (self, FH_GS_MDNS_STATE_FAILED, avahi_strerror (ret));
    schedule_reconnect (self, FH_GS_MDNS_RETRY_S);
    return;
  }
  set_state (self, FH_GS_MDNS_STATE_REGISTERING, NULL);
}

static void
client_cb (AvahiClient *client, AvahiClientState state, void *data)
{
  FhGsMdns *self = data;

  switch (state) {
  case AVAHI_CLIENT_S_RUNNING:
    add_service (self, client);
    break;
  case AVAHI_CLIENT_S_COLLISION:
  case AVAHI_CLIENT_S_REGISTERING:
    /* The daemon is (re)announcing the host's own name, after a start or
     * a host name collision: our records go, and come back in RUNNING. */
    if (self->group)
      avahi_entry_group_reset (self->group);
    set_state (self, FH_GS_MDNS_STATE_REGISTERING,
               state == AVAHI_CLIENT_S_COLLISION
                 ? "the host name collides, avahi-daemon picks another"
                 : "avahi-daemon announces the host name");
    break;
  case AVAHI_CLIENT_CONNECTING:
    no_daemon (self, "avahi-daemon is not running");
    break;
  case AVAHI_CLIENT_FAILURE:
    /* Daemon gone (restart, stop) or bus gone: this client is dead. */
    {
      g_autofree char *why = g_strdup_printf ("lost avahi-daemon (%s)",
                                              avahi_strerror (avahi_client_errno (client)));

      no_daemon (self, why);
    }
    schedule_reconnect (self, 0);
    break;
  }
}

static void
drop_client (FhGsMdns *self)
{
  self->group = NULL;
  g_clear_pointer (&self->client, avahi_client_free);
}

static void
connect_client (FhGsMdns *self)
{
  int error = 0;

  drop_client (self);
  self->client = avahi_client_new (avahi_glib_poll_get (self->poll), AVAHI_CLIENT_NO_FAIL,
                                   client_cb, self, &error);
  if (!self->client) {
    self->group = NULL; /* freed with the client, if a callback made one */
    /* No system bus at all: NO_FAIL does not cover that. Look again. */
    no_daemon (self, avahi_strerror (error));
    schedule_reconnect (self, FH_GS_MDNS_RETRY_S);
  }
}

FhGsMdns *
fh_gs_mdns_new (const char *name, guint http_port, GError **error)
{
  FhGsMdns *self;

  if (!name || !*name || strlen (name) > 63 || !g_utf8_validate (name, -1, NULL)) {
    g_set_error (error, FH_GS_MDNS_ERROR, FH_GS_MDNS_ERROR_INVALID,
                 "mDNS host name '%s' is not 1 to 63 bytes of UTF-8: choose a shorter host name",
                 name ? name : "(null)");
    return NULL;
  }
  if (http_port == 0 || http_port > G_MAXUINT16) {
    g_set_error (error, FH_GS_MDNS_ERROR, FH_GS_MDNS_ERROR_INVALID,
                 "mDNS: %u is not a TCP port to advertise", http_port);
    return NULL;
  }
  self = g_new0 (FhGsMdns, 1);
  self->name = g_strdup (name);
  self->port = http_port;
  self->state = FH_GS_MDNS_STATE_STARTING;
  self->context = g_main_context_ref_thread_default ();
  self->poll = avahi_glib_poll_new (self->context, G_PRIORITY_DEFAULT);
  connect_client (self);
  return self;
}

void
fh_gs_mdns_free (FhGsMdns *self)
{
  if (!self)
    return;
  if (self->reconnect) {
    g_source_destroy (self->reconnect);
    g_clear_pointer (&self->reconnect, g_source_unref);
  }
  /* Freeing the group (with the client) withdraws the service: the daemon
   * sends the goodbye packets. */
  drop_client (self);
  g_clear_pointer (&self->poll, avahi_glib_poll_free);
  g_clear_pointer (&self->context, g_main_context_unref);
  g_free (self->name);
  g_free (self);
}

FhGsMdnsState
fh_gs_mdns_get_state (const FhGsMdns *self)
{
  return self->state;
}

const char *
fh_gs_mdns_get_name (const FhGsMdns *self)
{
  return self->name;
}
