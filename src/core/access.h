/* Access levels: what a paired device may do in its sessions (full input,
 * gamepads only, or only watch), each with an optional expiry after which
 * the device may only watch. Pure: names, durations and times parsed here,
 * judged by the session (core/session.c) on every input event. */
#pragma once

#include <glib.h>

typedef enum {
  FH_ACCESS_FULL,       /* keyboard, mouse, gamepads and microphone */
  FH_ACCESS_CONTROLLER, /* gamepads (and the microphone): no keyboard or mouse */
  FH_ACCESS_VIEW,       /* no input at all: the picture and sound only */
} FhAccessLevel;

/* What an input event is, for the level that judges it. */
typedef enum {
  FH_ACCESS_INPUT_KEYBOARD_MOUSE, /* keys, pointer, buttons, scroll */
  FH_ACCESS_INPUT_PAD,            /* a gamepad plugged in or moved */
  FH_ACCESS_INPUT_MICROPHONE,     /* the client's microphone into the session's */
  FH_ACCESS_INPUT_CLIPBOARD,      /* clipboard text, either way: full access only */
} FhAccessInput;

typedef struct {
  FhAccessLevel level;
  gint64 until; /* Unix seconds after which the level is FH_ACCESS_VIEW; 0 = never */
} FhAccess;

const char *fh_access_level_to_string (FhAccessLevel level);
/* "full", "controller", "view"; FALSE for anything else. */
gboolean fh_access_level_from_string (const char *text, FhAccessLevel *level);

/* The level @access gives at @now (Unix seconds): an expired grant ends
 * input, not the picture, so it is FH_ACCESS_VIEW. */
FhAccessLevel fh_access_effective (const FhAccess *access, gint64 now);
/* Whether @level lets @input through. */
gboolean fh_access_level_allows (FhAccessLevel level, FhAccessInput input);

/* A duration: a number with a unit (s, m, h, d), several of them in a row
 * ("2h", "90m", "1h30m", "45s"); a bare number is seconds. At most a
 * year; more than 0. */
gboolean fh_access_parse_duration (const char *text, gint64 *seconds, GError **error);
/* An ISO 8601 time ("2026-12-24T18:00:00Z", "2026-12-24T18:00+01:00"; one
 * without a zone is local time) as Unix seconds. */
gboolean fh_access_parse_time (const char *text, gint64 *unix_s, GError **error);
/* @unix_s as ISO 8601 in UTC ("2026-12-24T17:00:00Z"). */
char *fh_access_format_time (gint64 unix_s);
