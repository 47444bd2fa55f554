#!/bin/sh
# The access-level test's app (tests/e2e/levels.test.mjs): the input
# recorder (keys and pointer, a window) and the SDL2 pad logger side by
# side in one session, each with its record in DIR named by the session.
# The recorder's window changes every frame, so that video flows on.
#   fh-levels-app.sh DIR RECORDER LOGGER
"$3" "$1/pads-$FUNKHAUS_SESSION.log" &
exec "$2" "$1/%s.log" --animate
