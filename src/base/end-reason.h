/* Why a session ended, or why it let its client go: the core's words for
 * it. Each plane says it in its own (the web protocol's error codes,
 * GameStream's termination codes). */
#pragma once

#include <glib.h>

typedef enum {
  FH_END_REASON_HOST_STOPPING, /* the host stops */
  FH_END_REASON_GRACE_OVER,    /* its client did not come back in time */
  FH_END_REASON_CANCELLED,     /* its client quit it */
  FH_END_REASON_FAILED,        /* its desktop or encoder died */
  FH_END_REASON_REVOKED,       /* its device was revoked on the host */
  FH_END_REASON_REMOVED,       /* a guest: the session's owner removed it */
  FH_END_REASON_ENDED,         /* the host's owner ended it */
} FhEndReason;

const char *fh_end_reason_to_string (FhEndReason reason);
