#!/bin/sh
# The session app of the sandbox test (tests/e2e/sandbox.test.mjs). The host
# starts it in every session, inside the session's sandbox, through sway:
#
#   fh-sandbox-app.sh REPORT RECORDER PORT
#
# REPORT is a folder every sandbox sees (sandbox-binds=); the test writes
# REPORT/role-<FUNKHAUS_SESSION_SERIAL> before each session starts, and the
# app plays that role:
#
#   victim   shows a window (RECORDER), writes a secret (FHSECRET-<random>)
#            into $HOME, /tmp and /dev/shm, keeps it in its environment
#            (FH_SECRET, also the recorder's), plays REPORT/tone-440.raw into
#            its speaker, and connects to the test's TCP listener at PORT on
#            the host's address on the network (REPORT/host-address), as
#            any other machine would reach it. Writes REPORT/victim-<id>.json
#            and REPORT/net-<id>.json.
#   hostile  shows a window, waits for REPORT/victim.env (the victim's
#            paths and host pids, written by the test) and tries every
#            channel into the victim's session with standard tools, one JSON
#            line an attempt in REPORT/attempts-<id>.jsonl:
#              {"channel":…,"tool":…,"crossed":true|false,"detail":…}
#            and, for the tools' own checks on its own session,
#              {"control":…,"tool":…,"ok":true|false,"detail":…}
#            then REPORT/hostile-<id>.done.
#   revisit  (the victim's device again, later) reports what it finds in
#            its $HOME: REPORT/home-<id>.json.
#   stranger (another device) the same, and looks for the victim's file
#            in its own home and at the victim's home: REPORT/home-<id>.json.
#
# <id> is $FUNKHAUS_SESSION. Only standard tools: coreutils, findutils,
# iproute2, bash (/dev/tcp), swaymsg, grim, xdpyinfo, pactl, parecord,
# pw-cli, pw-link, pw-record.
set -u
report=$1
recorder=$2
port=$3
id=${FUNKHAUS_SESSION:-unknown}
serial=${FUNKHAUS_SESSION_SERIAL:-0}
role=$(cat "$report/role-$serial" 2>/dev/null || echo none)
secret_name=fh-victim-secret

# A JSON string's inside: no control characters, quotes and backslashes
# escaped, at most 600 bytes.
js() {
  printf '%s' "$1" | tr '\n\t' '  ' | tr -d '\000-\037' | head -c 600 | sed 's/\\/\\\\/g; s/"/\\"/g'
}

# A JSON true/false from a shell status.
tf() { if [ "$1" -eq 0 ]; then echo true; else echo false; fi; }

case $role in
victim)
  secret="FHSECRET-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')"
  export FH_SECRET="$secret"
  for f in "$HOME/$secret_name" "/tmp/$secret_name" "/dev/shm/$secret_name"; do
    printf '%s\n' "$secret" >"$f"
  done
  printf '{"home":"%s","runtime":"%s","user":"%s","uid":%s,"display":"%s","wayland":"%s","swaysock":"%s"}\n' \
    "$(js "$HOME")" "$(js "${XDG_RUNTIME_DIR:-}")" "$(js "$(id -un)")" "$(id -u)" "$(js "${DISPLAY:-}")" \
    "$(js "${WAYLAND_DISPLAY:-}")" "$(js "${SWAYSOCK:-}")" >"$report/victim-$id.json.tmp"
  mv "$report/victim-$id.json.tmp" "$report/victim-$id.json"
  # Its speaker plays 440 Hz, so that a recording that reaches it hears it.
  (
    while :; do
      pacat --playback --raw --format=s16le --rate=48000 --channels=2 --latency-msec=20 \
        "$report/tone-440.raw" 2>/dev/null || sleep 0.5
    done
  ) &
  # The host at its address on the network.
  addr=$(cat "$report/host-address")
  reply=$(timeout 10 bash -c 'exec 3<>"/dev/tcp/$1/$2" || exit 1
    printf "hello victim %s\n" "$3" >&3
    IFS= read -r line <&3 && printf "%s" "$line"' sh "$addr" "$port" "$id" 2>&1)
  rc=$?
  printf '{"address":"%s","ok":%s,"reply":"%s"}\n' "$(js "$addr")" "$(tf $rc)" "$(js "$reply")" \
    >"$report/net-$id.json.tmp"
  mv "$report/net-$id.json.tmp" "$report/net-$id.json"
  exec "$recorder" "$report/%s.log"
  ;;
revisit | stranger)
  found=false
  content=
  if [ -f "$HOME/$secret_name" ]; then
    found=true
    content=$(cat "$HOME/$secret_name")
  fi
  other=false
  if [ "$role" = stranger ] && [ -r "$report/victim.env" ]; then
    . "$report/victim.env"
    cat "$V_HOME/$secret_name" >/dev/null 2>&1 && other=true
  fi
  printf '{"role":"%s","user":"%s","home":"%s","found":%s,"content":"%s","victim_home_readable":%s,"listing":"%s"}\n' \
    "$role" "$(js "$(id -un)")" "$(js "$HOME")" "$found" "$(js "$content")" "$other" \
    "$(js "$(ls -A "$HOME" 2>&1)")" >"$report/home-$id.json.tmp"
  mv "$report/home-$id.json.tmp" "$report/home-$id.json"
  exec "$recorder" "$report/%s.log"
  ;;
hostile) ;;
*)
  echo "fh-sandbox-app: no role for serial $serial in $report" >&2
  exec "$recorder" "$report/%s.log"
  ;;
esac

# ---- hostile -----------------------------------------------------------------

out="$report/attempts-$id.jsonl"
: >"$out"
"$recorder" "$report/%s.log" &
for _ in $(seq 1 150); do
  [ -r "$report/victim.env" ] && break
  sleep 0.2
done
if ! [ -r "$report/victim.env" ]; then
  echo '{"error":"no victim.env"}' >>"$out"
  touch "$report/hostile-$id.done"
  wait
  exit 0
fi
# V_HOME V_RUNTIME V_ACCOUNT V_UID V_SESSION V_SWAY_PID V_PIDS V_SWAYSOCK
# V_WAYLAND V_DISPLAYS
. "$report/victim.env"
work=$(mktemp -d)
marker="FHSEC""RET-" # split, so that this script's own text never matches

attempt() { # channel tool crossed detail
  printf '{"channel":"%s","tool":"%s","crossed":%s,"detail":"%s"}\n' \
    "$(js "$1")" "$(js "$2")" "$3" "$(js "$4")" >>"$out"
}
control() { # what tool ok detail
  printf '{"control":"%s","tool":"%s","ok":%s,"detail":"%s"}\n' \
    "$(js "$1")" "$(js "$2")" "$3" "$(js "$4")" >>"$out"
}
# Runs a command (5 s at most); sets $rc and $res (stdout and stderr).
try() {
  res=$(timeout 5 "$@" 2>&1)
  rc=$?
}
has() { case $1 in *"$2"*) return 0 ;; esac; return 1; }
yes_if() { if "$@"; then echo true; else echo false; fi; }
# A process of our own session (ours: in our PID namespace anyway).
own_pid() { tr '\0' '\n' <"/proc/$1/environ" 2>/dev/null | grep -qx "FUNKHAUS_SESSION=$id"; }

# -- files: the victim's home, its runtime dir, where homes and runtime dirs are
try ls -A "$V_HOME"
attempt home-list "ls -A $V_HOME" "$(yes_if [ $rc -eq 0 -a -n "$res" ])" "rc $rc: $res"
try cat "$V_HOME/$secret_name"
attempt home-read "cat $V_HOME/$secret_name" "$(yes_if has "$res" "$marker")" "rc $rc: $res"
try sh -c 'echo hostile >"$1"' sh "$V_HOME/fh-hostile-was-here"
attempt home-write "echo >$V_HOME/fh-hostile-was-here" "$(tf $rc)" "rc $rc: $res"
try ls -A "$V_RUNTIME"
attempt runtime-list "ls -A $V_RUNTIME" "$(yes_if [ $rc -eq 0 -a -n "$res" ])" "rc $rc: $res"
try cat "$V_RUNTIME/sway.conf"
attempt runtime-read "cat $V_RUNTIME/sway.conf" "$(yes_if has "$res" "funkhaus session")" "rc $rc: $res"
try touch "$V_RUNTIME/fh-hostile-was-here"
attempt runtime-write "touch $V_RUNTIME/fh-hostile-was-here" "$(tf $rc)" "rc $rc: $res"
homes=$(dirname "$HOME")
try ls -A "$homes"
attempt homes-list "ls -A $homes" "$(yes_if has "$res" "$(basename "$V_HOME")")" "rc $rc: $res"
try ls -A /var/lib/funkhaus-homes
attempt homes-list "ls -A /var/lib/funkhaus-homes" "$(yes_if has "$res" "$(basename "$V_HOME")")" "rc $rc: $res"
for base in "$(dirname "$V_RUNTIME")" "$(dirname "${XDG_RUNTIME_DIR:-/nonexistent/x}")"; do
  try ls -A "$base"
  attempt runtime-base-list "ls -A $base" "$(yes_if has "$res" "$V_SESSION")" "rc $rc: $res"
done

# -- the victim's /tmp and /dev/shm, and whatever it can find
try cat "/tmp/$secret_name"
attempt tmp-read "cat /tmp/$secret_name" "$(yes_if has "$res" "$marker")" "rc $rc: $res"
try cat "/dev/shm/$secret_name"
attempt shm-read "cat /dev/shm/$secret_name" "$(yes_if has "$res" "$marker")" "rc $rc: $res"
roots="/tmp /run /dev/shm /var/lib/funkhaus-homes $homes $(dirname "$V_HOME") $(dirname "$V_RUNTIME")"
# shellcheck disable=SC2086
res=$(timeout 20 find $roots -path "$report" -prune -o \( -name "$secret_name" -o -name "*$V_SESSION*" \) -print 2>/dev/null | sort -u)
attempt search-names "find $roots -name $secret_name -o -name *<victim session>*" "$(yes_if [ -n "$res" ])" "$res"
# shellcheck disable=SC2086
res=$(timeout 30 find $roots -path "$report" -prune -o -type f -size -1024k -exec grep -lE "$marker[0-9a-f]{24}" {} + 2>/dev/null | sort -u)
attempt search-contents "grep -lE FHSECRET-<24 hex digits> (every file under 1 MiB under $roots)" "$(yes_if [ -n "$res" ])" "$res"

# -- gamepads: the victim has one plugged in; this session has none, so any
# pad it sees (in its /dev/input, or as a pad socket anywhere) is another's
try ls -A /dev/input
attempt pad-list "ls -A /dev/input" "$(yes_if [ -n "$res" ] && [ $rc -eq 0 ])" "rc $rc: $res"
# shellcheck disable=SC2086
res=$(timeout 20 find /dev $roots -path "$report" -prune -o \( -name 'event*' \( -type s -o -type c \) \) -print 2>/dev/null | sort -u)
attempt pad-search "find /dev $roots -name event* -type s or c" "$(yes_if [ -n "$res" ])" "$res"
try ls -A "$V_RUNTIME/input"
attempt pad-list "ls -A $V_RUNTIME/input (the victim's pads)" "$(yes_if [ $rc -eq 0 ])" "rc $rc: $res"

# -- processes: the victim's as the host sees them, and every one it can see
for pid in $V_PIDS; do
  env=$(timeout 5 cat "/proc/$pid/environ" 2>&1 | tr '\0' '\n')
  crossed=false
  has "$env" "FUNKHAUS_SESSION=$V_SESSION" && crossed=true
  has "$env" "$marker" && crossed=true
  attempt proc-environ "cat /proc/$pid/environ" "$crossed" "$(printf '%s' "$env" | head -c 300)"
  if kill -0 "$pid" 2>/dev/null; then
    if own_pid "$pid"; then
      attempt proc-signal "kill -0 $pid" false "pid $pid exists in its own PID namespace: its own $(cat "/proc/$pid/comm" 2>/dev/null)"
    else
      attempt proc-signal "kill -0 $pid" true "signalled pid $pid ($(cat "/proc/$pid/comm" 2>/dev/null)), not a process of its own session"
    fi
  else
    attempt proc-signal "kill -0 $pid" false "$(kill -0 "$pid" 2>&1)"
  fi
done
seen=
foreign=
for d in /proc/[0-9]*; do
  p=${d#/proc/}
  env=$(tr '\0' '\n' <"$d/environ" 2>/dev/null) || continue
  seen="$seen $p:$(cat "$d/comm" 2>/dev/null)"
  if has "$env" "FUNKHAUS_SESSION=$V_SESSION" || has "$env" "$marker"; then
    foreign="$foreign $p:$(cat "$d/comm" 2>/dev/null)"
  fi
done
attempt proc-enumerate "cat /proc/*/environ" "$(yes_if [ -n "$foreign" ])" "victim's: [$foreign ] seen: [$seen ]"
foreign=
for d in /proc/[0-9]*; do
  own_pid "${d#/proc/}" || [ ! -r "$d/environ" ] || foreign="$foreign ${d#/proc/}:$(cat "$d/comm" 2>/dev/null)"
done
attempt proc-foreign "processes of another session in /proc" "$(yes_if [ -n "$foreign" ])" "[$foreign ]"

# -- the victim's compositor: sway IPC and Wayland
try swaymsg -t get_version
control swaymsg "swaymsg -t get_version (own SWAYSOCK=${SWAYSOCK:-})" "$(tf $rc)" "$res"
rm -f "$report/swaymsg-crossed"
try swaymsg -s "$V_SWAYSOCK" exec "touch $report/swaymsg-crossed"
sleep 1
attempt sway-ipc "swaymsg -s $V_SWAYSOCK exec touch $report/swaymsg-crossed" \
  "$(yes_if [ $rc -eq 0 -o -e "$report/swaymsg-crossed" ])" "rc $rc: $res"
try grim "$work/own.png"
control grim "grim (own WAYLAND_DISPLAY=${WAYLAND_DISPLAY:-})" "$(yes_if [ $rc -eq 0 -a -s "$work/own.png" ])" "rc $rc: $res"
try env WAYLAND_DISPLAY="$V_WAYLAND" grim "$work/victim.png"
attempt wayland "WAYLAND_DISPLAY=$V_WAYLAND grim" "$(yes_if [ $rc -eq 0 -a -s "$work/victim.png" ])" "rc $rc: $res"
# Every compositor socket it can find that is not its own.
# shellcheck disable=SC2086
socks=$(timeout 20 find $roots -path "$report" -prune -o -type s \( -name 'wayland-*' -o -name 'sway-ipc.*' \) -print 2>/dev/null | sort -u)
ownway=${WAYLAND_DISPLAY:-}
case $ownway in /*) ;; *) ownway="${XDG_RUNTIME_DIR:-}/$ownway" ;; esac
tried=
for s in $socks; do
  [ "$s" = "$ownway" ] || [ "$s" = "${SWAYSOCK:-}" ] && continue
  case $s in
  *sway-ipc*) try swaymsg -s "$s" -t get_version ;;
  *) try env WAYLAND_DISPLAY="$s" grim "$work/found.png" ;;
  esac
  tried="$tried $s"
  attempt compositor-socket "$(basename "$s") at $s" "$(tf $rc)" "rc $rc: $res"
done
attempt compositor-socket-search "find $roots -type s -name wayland-* -o -name sway-ipc.*" \
  "$(yes_if [ -n "$tried" ])" "all: [$socks] foreign: [$tried ]"

# -- X11: every display but its own, its /tmp/.X11-unix, abstract sockets
try xdpyinfo
control xdpyinfo "xdpyinfo (own DISPLAY=${DISPLAY:-})" "$(tf $rc)" "rc $rc: $(printf '%s' "$res" | head -c 120)"
own_n=${DISPLAY#*:}
own_n=${own_n%%.*}
answered=
for n in $(seq 0 31); do
  [ "$n" = "$own_n" ] && continue
  if timeout 5 xdpyinfo -display ":$n" >/dev/null 2>&1; then
    answered="$answered :$n"
  fi
done
attempt x11 "xdpyinfo -display :N for N in 0..31 but :$own_n" "$(yes_if [ -n "$answered" ])" "answered: [$answered ]"
for d in $V_DISPLAYS; do
  [ "${d#:}" = "$own_n" ] && continue
  try xdpyinfo -display "$d"
  attempt x11 "xdpyinfo -display $d (the victim's)" "$(tf $rc)" "rc $rc: $(printf '%s' "$res" | head -c 200)"
done
res=$(ls -A /tmp/.X11-unix 2>&1)
attempt x11-sockets "ls /tmp/.X11-unix" "$(yes_if [ -n "$(printf '%s\n' "$res" | grep -E '^X[0-9]+$' | grep -vx "X$own_n")" ])" "$res"
unix=$(cat /proc/net/unix 2>&1)
abstract=$(printf '%s\n' "$unix" | awk 'NR > 1 && $8 ~ /^@/ { print $8 }' | sort -u | tr '\n' ' ')
foreign_x=$(printf '%s\n' "$unix" | awk 'NR > 1 { print $8 }' | grep -E '^@?/tmp/\.X11-unix/X[0-9]+$' |
  grep -vE "/X$own_n\$" | sort -u | tr '\n' ' ')
crossed=false
[ -n "$foreign_x" ] && crossed=true
has "$unix" "$V_RUNTIME" && crossed=true
attempt abstract-sockets "cat /proc/net/unix" "$crossed" \
  "X sockets of other displays: [$foreign_x] abstract: [$abstract]"

# -- the host's loopback: services that trust 127.0.0.1 (the test's
# listener answers there too) are not for sessions
gw=$(ip route show default 2>/dev/null | awk '{ print $3; exit }')
res=$(timeout 5 bash -c 'exec 3<>"/dev/tcp/$1/$2" && echo connected' sh "${gw:-10.0.2.2}" "$port" 2>&1)
rc=$?
attempt host-loopback "bash /dev/tcp to ${gw:-10.0.2.2}:$port (the host's 127.0.0.1)" \
  "$(yes_if has "$res" connected)" "rc $rc: $res"

# -- audio: the victim's speaker and microphone
try pactl list short sinks
control pactl "pactl list short sinks (own funkhaus-speaker-$id)" "$(yes_if has "$res" "funkhaus-speaker-$id")" "rc $rc: $res"
attempt audio-list "pactl list short sinks" "$(yes_if has "$res" "$V_SESSION")" "rc $rc: $res"
try pactl list short sources
attempt audio-list "pactl list short sources" "$(yes_if has "$res" "$V_SESSION")" "rc $rc: $res"
try pw-cli ls Node
control pw-cli "pw-cli ls Node (own funkhaus-speaker-$id)" "$(yes_if has "$res" "funkhaus-speaker-$id")" "rc $rc: $(printf '%s' "$res" | grep -E 'node.name' | tr -s ' ')"
attempt audio-list "pw-cli ls Node" "$(yes_if has "$res" "$V_SESSION")" "rc $rc: $(printf '%s' "$res" | grep -E 'node.name' | tr -s ' ')"
try pw-link -o
attempt audio-list "pw-link -o" "$(yes_if has "$res" "$V_SESSION")" "rc $rc: $res"

# The loudest sample of s16 audio ($2: bytes of header to skip).
peak() {
  tail -c +"$(($2 + 1))" "$1" 2>/dev/null | od -An -v -td2 -w2 |
    awk '{ v = $1 < 0 ? -$1 : $1; if (v > m) m = v } END { print m + 0 }'
}
# A recording that is not silent heard someone: nothing in this session
# plays, and its own microphone gets nothing from its client.
record() { # channel tool file header -- command…
  channel=$1 tool=$2 file=$3 header=$4
  shift 5
  timeout -s INT 3 "$@" >"$work/rec.log" 2>&1
  rc=$?
  p=$(peak "$file" "$header")
  attempt "$channel" "$tool" "$(yes_if [ "${p:-0}" -gt 500 ])" \
    "rc $rc, peak $p of 32767, $(stat -c %s "$file" 2>/dev/null || echo 0) bytes: $(head -c 300 "$work/rec.log")"
}
record audio-record "pw-record --target funkhaus-speaker-$V_SESSION (stream.capture.sink)" \
  "$report/rec-$id-pw-speaker.wav" 4096 -- \
  pw-record --target "funkhaus-speaker-$V_SESSION" -P '{ stream.capture.sink = true }' \
  --rate 48000 --channels 1 --format s16 "$report/rec-$id-pw-speaker.wav"
record audio-record "pw-record --target funkhaus-mic-$V_SESSION" \
  "$report/rec-$id-pw-mic.wav" 4096 -- \
  pw-record --target "funkhaus-mic-$V_SESSION" --rate 48000 --channels 1 --format s16 \
  "$report/rec-$id-pw-mic.wav"
record audio-record "parecord -d funkhaus-speaker-$V_SESSION.monitor" \
  "$report/rec-$id-pa-speaker.raw" 0 -- \
  parecord -d "funkhaus-speaker-$V_SESSION.monitor" --raw --format=s16le --rate=48000 \
  --channels=1 --latency-msec=20 "$report/rec-$id-pa-speaker.raw"
record audio-record "parecord -d funkhaus-mic-$V_SESSION" \
  "$report/rec-$id-pa-mic.raw" 0 -- \
  parecord -d "funkhaus-mic-$V_SESSION" --raw --format=s16le --rate=48000 \
  --channels=1 --latency-msec=20 "$report/rec-$id-pa-mic.raw"

rm -rf "$work"
touch "$report/hostile-$id.done"
wait
