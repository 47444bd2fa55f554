#!/bin/sh
# By hand, as root, on a machine without systemd as PID 1: runs
# tests/service/notify.test.mjs with the host's stderr on a journald of the
# check's own (in a mount namespace of its own: its sockets and its
# volatile journal are nobody else's), then asks that journal for every
# session's lines by FUNKHAUS_SESSION and fails if any session line lacks
# the field. Not part of the suite: it starts a systemd-journald.
#   sh tests/service/journal-check.sh [path of the funkhaus binary]
set -eu
here=$(cd "$(dirname "$0")/../.." && pwd)
bin=${1:-$here/build/src/funkhaus}
[ "$(id -u)" -eq 0 ] || { echo "needs root"; exit 77; }
[ -x /lib/systemd/systemd-journald ] || { echo "no systemd-journald"; exit 77; }
[ -d /run/systemd/system ] && { echo "systemd runs here: use journalctl -u funkhaus instead"; exit 77; }

exec unshare --mount --propagation private -- sh -euc '
  here=$1 bin=$2
  mkdir -p /run/systemd /run/log
  mount -t tmpfs tmpfs /run/systemd
  mount -t tmpfs tmpfs /run/log
  mkdir /run/systemd/journal /run/log/funkhaus-check
  /lib/systemd/systemd-journald >/run/log/journald.log 2>&1 &
  journald=$!
  trap "kill \$journald" EXIT
  for _ in $(seq 50); do [ -S /run/systemd/journal/stdout ] && break; sleep 0.1; done
  # What systemd does for a service: stderr on a journal stream, and
  # JOURNAL_STREAM naming it (g_log_writer_is_journald checks it).
  cat >/run/log/stream.py <<"PY"
import os, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.connect("/run/systemd/journal/stdout")
s.sendall(b"funkhaus\n\n6\n0\n0\n0\n0\n")
st = os.fstat(s.fileno())
os.dup2(s.fileno(), 2)
os.environ["JOURNAL_STREAM"] = f"{st.st_dev}:{st.st_ino}"
os.execvp(sys.argv[1], sys.argv[1:])
PY
  FUNKHAUS_TEST_DIR=/run/log/funkhaus-check FUNKHAUS_BIN="$bin" \
    FUNKHAUS_TEST_WRAP="python3 /run/log/stream.py" node --test "$here/tests/service/notify.test.mjs"
  journalctl --sync 2>/dev/null || sleep 1
  j="journalctl -D /run/log/journal --no-pager"
  sessions=$($j -F FUNKHAUS_SESSION)
  [ -n "$sessions" ] || { echo "FAIL: no journal entry has FUNKHAUS_SESSION"; exit 1; }
  for s in $sessions; do
    echo "# journalctl FUNKHAUS_SESSION=$s"
    $j -o cat FUNKHAUS_SESSION="$s" | grep -v "^\[libx264"
  done
  $j -o json SYSLOG_IDENTIFIER=funkhaus | python3 -c "
import json, re, sys
bad = [e[\"MESSAGE\"] for e in map(json.loads, sys.stdin)
       if isinstance(e.get(\"MESSAGE\"), str) and re.match(r\"session [0-9a-fA-F]{8}([: ]|$)\", e[\"MESSAGE\"])
       and e.get(\"FUNKHAUS_SESSION\") != e[\"MESSAGE\"][8:16]]
print(\"\\n\".join(\"FAIL: no FUNKHAUS_SESSION on: \" + m for m in bad) or \"ok: every session line carries its FUNKHAUS_SESSION\")
sys.exit(1 if bad else 0)"
' journal-check "$here" "$bin"
