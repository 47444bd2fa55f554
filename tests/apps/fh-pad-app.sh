#!/bin/sh
# The gamepad test's app (tests/e2e/gamepad.test.mjs): the SDL2 logger,
# its record in DIR named by the session.
#   fh-pad-app.sh DIR LOGGER
exec "$2" "$1/pads-$FUNKHAUS_SESSION.log"
