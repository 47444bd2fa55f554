/* Access levels: their names, and the durations and times of their expiry. */
#include "core/access.h"

#include <gio/gio.h>

#define MAX_DURATION_S (366 * 24 * 3600)

const char *
fh_access_level_to_string (FhAccessLevel level)
{
  switch (level) {
  case FH_ACCESS_FULL:
    return "full";
  case FH_ACCESS_CONTROLLER:
    return "controller";
  case FH_ACCESS_VIEW:
    return "view";
  }
  return "unknown";
}

gboolean
fh_access_level_from_string (const char *text, FhAccessLevel *level)
{
  if (g_strcmp0 (text, "full") == 0)
    *level = FH_ACCESS_FULL;
  else if (g_strcmp0 (text, "controller") == 0)
    *level = FH_ACCESS_CONTROLLER;
  else if (g_strcmp0 (text, "view") == 0)
    *level = FH_ACCESS_VIEW;
  else
    return FALSE;
  return TRUE;
}

FhAccessLevel
fh_access_effective (const FhAccess *access, gint64 now)
{
  if (access->until != 0 && now >= access->until)
    return FH_ACCESS_VIEW;
  return access->level;
}

gboolean
fh_access_level_allows (FhAccessLevel level, FhAccessInput input)
{
  switch (level) {
  case FH_ACCESS_FULL:
    return TRUE;
  case FH_ACCESS_CONTROLLER:
    /* A player's voice goes with its pad (a game's voice chat); the
     * clipboard is the desktop's, as the keyboard is. */
    return input == FH_ACCESS_INPUT_PAD || input == FH_ACCESS_INPUT_MICROPHONE;
  case FH_ACCESS_VIEW:
    return FALSE;
  }
  return FALSE;
}

gboolean
fh_access_parse_duration (const char *text, gint64 *seconds, GError **error)
{
  const char *p = text;
  gint64 total = 0;

  if (!text || !*text)
    goto bad;
  while (*p) {
    gint64 n = 0, unit;
    const char *start = p;
    while (g_ascii_isdigit (*p)) {
      n = n * 10 + (*p++ - '0');
      if (n > MAX_DURATION_S)
        goto bad;
    }
    if (p == start)
      goto bad;
    switch (*p) {
    case '\0':
      /* A bare number is seconds, but only alone: "1h30" is a mistake. */
      if (start != text)
        goto bad;
      unit = 1;
      break;
    case 's':
      unit = 1;
      break;
    case 'm':
      unit = 60;
      break;
    case 'h':
      unit = 3600;
      break;
    case 'd':
      unit = 24 * 3600;
      break;
    default:
      goto bad;
    }
    if (*p)
      p++;
    total += n * unit;
    if (total > MAX_DURATION_S)
      goto bad;
  }
  if (total <= 0)
    goto bad;
  *seconds = total;
  return TRUE;

bad:
  g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
               "'%s' is not a duration: say e.g. 45s, 30m, 2h, 1d or 1h30m (more than 0, at most "
               "366 days)",
               text ? text : "");
  return FALSE;
}

gboolean
fh_access_parse_time (const char *text, gint64 *unix_s, GError **error)
{
  g_autoptr (GTimeZone) local = g_time_zone_new_local ();
  g_autoptr (GDateTime) dt = text ? g_date_time_new_from_iso8601 (text, local) : NULL;

  if (!dt) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                 "'%s' is not an ISO 8601 time: say e.g. 2026-12-24T18:00:00Z or "
                 "2026-12-24T18:00+01:00",
                 text ? text : "");
    return FALSE;
  }
  *unix_s = g_date_time_to_unix (dt);
  return TRUE;
}

char *
fh_access_format_time (gint64 unix_s)
{
  g_autoptr (GDateTime) dt = g_date_time_new_from_unix_utc (unix_s);

  return dt ? g_date_time_format (dt, "%Y-%m-%dT%H:%M:%SZ") : g_strdup ("?");
}
