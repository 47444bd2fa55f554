/* A client plane: one way clients reach the host (the browser's HTTPS and
 * WebSocket, GameStream for Moonlight). The core keeps a list of them and
 * knows each only through these operations; each plane binds its own
 * connections to sessions as peers (FhSessionPeerOps, core/session.h). */
#pragma once

#include <glib.h>

typedef struct _FhCore FhCore;
typedef struct _FhPlane FhPlane;

typedef struct {
  const char *name; /* for logs: "web", "gamestream" */
  /* Listens. FALSE with @error stops the host; a plane that may be
   * missing says so in the log and returns TRUE. */
  gboolean (*start) (FhPlane *plane, GError **error);
  /* The host is stopping: tell every client why and close it, before the
   * sessions go. May be NULL. */
  void (*close_clients) (FhPlane *plane);
  /* The sessions are gone: close the ports. Safe to call twice. */
  void (*stop) (FhPlane *plane);
  /* Paired device @id was revoked: drop whatever of it the plane holds
   * (its sessions are ended by the core). May be NULL. */
  void (*device_revoked) (FhPlane *plane, const char *id);
  /* Appends what the start banner says of this plane, one "  …\n" line
   * each. May be NULL. */
  void (*describe) (FhPlane *plane, GString *banner);
  void (*free) (FhPlane *plane);
  /* Paired device @id was given the owner right, or lost it
   * (fh_core_set_device_owner). May be NULL. */
  void (*device_owner_changed) (FhPlane *plane, const char *id, gboolean owner);
} FhPlaneOps;

/* The base of every plane's struct. */
struct _FhPlane {
  const FhPlaneOps *ops;
  FhCore *core;
};

void fh_plane_free (FhPlane *plane);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (FhPlane, fh_plane_free)
