#!/bin/sh
# The one app= of bench/sandbox.sh's hosts, picked per session by the number
# the host gives it (FUNKHAUS_SESSION_SERIAL, 1, 2, … in the order of the
# hellos): session 1 runs the animated app (fh-input-recorder --animate,
# copied beside this script), any other session burns CPU with busy loops
# (burn) or sleeps (idle). bench/sandbox.sh copies it into a sandbox-binds
# folder; sway starts it inside the session's sandbox, as the device's
# account.
#
# Usage: fh-bench-sandbox-app.sh burn|idle [BUSY_LOOPS (4)]
here=$(dirname "$0")
case ${FUNKHAUS_SESSION_SERIAL:-} in
  1) exec "$here/fh-input-recorder" /dev/null --animate ;;
  '')
    echo "fh-bench-sandbox-app.sh: no FUNKHAUS_SESSION_SERIAL: not started by funkhaus?" >&2
    exit 1 ;;
esac
[ "$1" = burn ] || exec sleep infinity
# A neighbour that hogs the CPU, not the machine: never as root.
if [ "$(id -u)" -eq 0 ]; then
  echo "fh-bench-sandbox-app.sh: refusing to burn CPU as root" >&2
  exit 1
fi
i=0
while [ "$i" -lt "${2:-4}" ]; do
  (while :; do :; done) &
  i=$((i + 1))
done
wait
