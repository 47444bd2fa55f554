/* The host's side of systemd's notify protocol (see notify.h), through
 * libsystemd's sd_notify(). */
#include "app/notify.h"

#include "fh-config.h"

#if FH_HAVE_LIBSYSTEMD
#include <systemd/sd-daemon.h>
#endif

struct _FhNotifier {
  FhCore *core;
  guint port;
  guint observer;
  guint64 watchdog_us; /* 0: no watchdog */
  guint watchdog_source;
  gboolean stopping;
  gboolean warned;
};

gboolean
fh_notifier_supported (void)
{
  return FH_HAVE_LIBSYSTEMD;
}

static void
send_state (FhNotifier *self, const char *state)
{
#if FH_HAVE_LIBSYSTEMD
  int r = sd_notify (0, state);

  /* One warning: a manager that went away would otherwise fill the log. */
  if (r < 0 && !self->warned) {
    self->warned = TRUE;
    g_warning ("cannot tell the service manager '%s' at $NOTIFY_SOCKET: %s", state,
               g_strerror (-r));
  }
#endif
}

char *
fh_notifier_status_text (guint port, guint sessions)
{
  return g_strdup_printf ("serving on port %u, %u session%s", port, sessions,
                          sessions == 1 ? "" : "s");
}

FhNotifier *
fh_notifier_new (void)
{
  FhNotifier *self = g_new0 (FhNotifier, 1);

#if FH_HAVE_LIBSYSTEMD
  {
    uint64_t usec = 0;
    /* 1: unset $WATCHDOG_USEC and $WATCHDOG_PID, which belong to the host
     * alone. $NOTIFY_SOCKET stays (sd_notify reads it each time); what the
     * host starts for a session gets an environment of its own. */
    if (sd_watchdog_enabled (1, &usec) > 0)
      self->watchdog_us = usec;
  }
#endif
  return self;
}

void
fh_notifier_free (FhNotifier *self)
{
  if (!self)
    return;
  if (self->observer)
    fh_core_remove_sessions_observer (self->core, self->observer);
  g_clear_handle_id (&self->watchdog_source, g_source_remove);
  g_free (self);
}

static void
send_status (FhNotifier *self, guint sessions)
{
  g_autofree char *text = fh_notifier_status_text (self->port, sessions);
  g_autofree char *state = g_strdup_printf ("STATUS=%s", text);

  send_state (self, state);
}

static void
on_sessions (FhCore *core, guint count, gpointer data)
{
  FhNotifier *self = data;

  if (!self->stopping)
    send_status (self, count);
}

static gboolean
on_watchdog (gpointer data)
{
  send_state (data, "WATCHDOG=1");
  return G_SOURCE_CONTINUE;
}

void
fh_notifier_ready (FhNotifier *self, FhCore *core, guint port)
{
  g_autofree char *text = NULL, *state = NULL;

  g_return_if_fail (self->core == NULL);
  self->core = core;
  self->port = port;
  text = fh_notifier_status_text (port, fh_core_count_sessions (core));
  state = g_strdup_printf ("READY=1\nSTATUS=%s", text);
  send_state (self, state);
  self->observer = fh_core_add_sessions_observer (core, on_sessions, self);
  if (self->watchdog_us) {
    guint ms = (guint) MAX (self->watchdog_us / 2 / 1000, 1);
    self->watchdog_source = g_timeout_add (ms, on_watchdog, self);
    g_message ("systemd watchdog: a ping every %u ms", ms);
  }
}

void
fh_notifier_stopping (FhNotifier *self)
{
  if (self->stopping)
    return;
  self->stopping = TRUE;
  send_state (self, "STOPPING=1\nSTATUS=stopping: closing every client and session");
}

void
fh_notifier_failed (FhNotifier *self, const char *message)
{
  g_autofree char *state = g_strdup_printf ("STATUS=cannot start: %s", message);

  send_state (self, state);
}
