/* The web plane's endpoints for operators: /metrics (Prometheus text) and
 * /healthz (health and capacity as JSON), under the metrics= rule. */
#pragma once

#include <libsoup/soup.h>

#include "planes/web/plane.h"

void fh_web_operations_add_handlers (SoupServer *soup, FhWebPlane *plane);
