/* Why a session ended. */
#include "base/end-reason.h"

const char *
fh_end_reason_to_string (FhEndReason reason)
{
  switch (reason) {
  case FH_END_REASON_HOST_STOPPING:
    return "host-stopping";
  case FH_END_REASON_GRACE_OVER:
    return "grace-over";
  case FH_END_REASON_CANCELLED:
    return "cancelled";
  case FH_END_REASON_FAILED:
    return "failed";
  case FH_END_REASON_REVOKED:
    return "revoked";
  case FH_END_REASON_REMOVED:
    return "removed";
  case FH_END_REASON_ENDED:
    return "ended";
  }
  return "unknown";
}
