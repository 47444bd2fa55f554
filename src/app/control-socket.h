/* The host's local control socket ($XDG_RUNTIME_DIR/funkhaus/control.sock,
 * 0600): how `funkhaus pair` asks the running host for a new PIN (or,
 * with --moonlight, hands it the PIN a Moonlight client shows). */
#pragma once

#include <gio/gio.h>

typedef struct _FhHost FhHost;
typedef struct _FhControl FhControl;

FhControl *fh_control_new (FhHost *host, const char *path, GError **error);
/* Stops listening and removes the socket file. */
void fh_control_free (FhControl *control);

/* The client side: sends @command and returns the host's one-line answer. */
char *fh_control_request (const char *path, const char *command, GError **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (FhControl, fh_control_free)
