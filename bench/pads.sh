#!/usr/bin/env bash
# Gamepad latency (issue 18): from a client's pad message leaving the
# client to the SDL event in the session's app. `funkhaus serve --backend
# wlroots` runs tests/apps/fh-pad-logger (a real SDL2 program) in its
# session; fh-bench-client's pad presses A and lets go in turn every 50 ms
# (--pad-log) through the web protocol. Client and app run on one machine
# and stamp with one clock (CLOCK_REALTIME), so each press's latency is the
# app's stamp minus the client's. The first half second of presses is left
# out (the pad arrives with the first and the app opens it then). Pads are
# the host's own choice (user-space here: no /dev/uinput). Prints p50, p99
# and the most, and writes the "## Gamepads (issue 18)" section of
# docs/performance.md.
#
# Usage: bench/pads.sh [--no-docs]     (as root: an account per device)
# Environment: BENCH_SECONDS (measured, 30), BENCH_MODE (640x360@60),
#              BENCH_QUIET (cores busy that count as quiet, 0.15),
#              BENCH_QUIET_WAIT (most seconds to wait for quiet, 60),
#              BUILD_DIR (build).
# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh" "$@"

seconds=${BENCH_SECONDS:-30}
mode=${BENCH_MODE:-640x360@60}
build=${BUILD_DIR:-build}
if [[ ! $mode =~ ^([0-9]+)x([0-9]+)@([0-9]+)$ ]]; then
  echo "bench/pads.sh: BENCH_MODE must look like 640x360@60" >&2
  exit 2
fi
width=${BASH_REMATCH[1]} height=${BASH_REMATCH[2]} fps=${BASH_REMATCH[3]}
if [[ ! $seconds =~ ^[1-9][0-9]*$ ]]; then
  echo "bench/pads.sh: BENCH_SECONDS must be a whole number above 0" >&2
  exit 2
fi
if (( $(id -u) != 0 )); then
  echo "bench/pads.sh: run it as root: the host gives each device an account of its own" >&2
  exit 2
fi
for p in sway bwrap; do
  if ! command -v "$p" > /dev/null; then
    echo "bench/pads.sh: $p not found: run scripts/setup.sh serve" >&2
    exit 1
  fi
done

# The tree is open to the device's account: its home and the apps' folder
# are in it; the logger writes its record into records/ (1777).
tmp=$(mktemp -d -t funkhaus-bench-pads.XXXXXX)
chmod 0755 "$tmp"
mkdir -m 0755 "$tmp/apps" "$tmp/homes"
mkdir -m 1777 "$tmp/records"
mkdir -m 0700 "$tmp/config" "$tmp/home" "$tmp/runtime" "$tmp/state"
host_pid=
child_pid=
bench_clean_up_at_exit "$tmp/config/funkhaus/devices.ini"

echo "== build" >&2
[[ -f $build/build.ninja ]] || meson setup "$build" >&2
ninja -C "$build" bench/fh-bench-client src/funkhaus tests/fh-pad-logger \
  src/backends/pad-shim/libfunkhaus-pad.so >&2
install -m 0755 "$build/tests/fh-pad-logger" tests/apps/fh-pad-app.sh "$tmp/apps/"

printf '[host]\napp=sh %s %s %s\nhomes-dir=%s\nsandbox-binds=%s;%s\n' \
  "$tmp/apps/fh-pad-app.sh" "$tmp/records" "$tmp/apps/fh-pad-logger" "$tmp/homes" \
  "$tmp/apps" "$tmp/records" > "$tmp/config.ini"
HOME=$tmp/home XDG_CONFIG_HOME=$tmp/config XDG_RUNTIME_DIR=$tmp/runtime XDG_STATE_HOME=$tmp/state \
  FUNKHAUS_PAD_SHIM=$root/$build/src/backends/pad-shim/libfunkhaus-pad.so \
  "$build/src/funkhaus" serve --port 0 --backend wlroots --config "$tmp/config.ini" --grace 1 \
  --gamestream off > "$tmp/host.out" 2> "$tmp/host.err" &
host_pid=$!
port='' pin=''
for _ in $(seq 100); do
  port=$(sed -n 's|^funkhaus .*: serving https://[^:]*:\([0-9]*\)/.*|\1|p' "$tmp/host.out")
  pin=$(sed -n 's/.*pairing PIN: \([0-9]\{6\}\).*/\1/p' "$tmp/host.out")
  [[ -n $port && -n $pin ]] && break
  kill -0 "$host_pid" 2>/dev/null || break
  sleep 0.1
done
if [[ -z $port || -z $pin ]]; then
  echo "bench/pads.sh: the host did not come up; its output:" >&2
  cat "$tmp/host.out" "$tmp/host.err" >&2
  exit 1
fi
pads_line=$(sed -n 's/^  pads: //p' "$tmp/host.out")

load_before=$(cut -d' ' -f1-3 /proc/loadavg)
echo "== waiting for a quiet machine" >&2
wait_quiet
busy_before=$last_busy
echo "== one session at ${width}×${height}@${fps}, its pad pressed every 50 ms for ${seconds} s" >&2
timeout -k 5 $(( seconds + 40 )) "$build/bench/fh-bench-client" --port "$port" --pin "$pin" \
  --host-pid "$host_pid" --width "$width" --height "$height" --fps "$fps" --sessions 1 \
  --seconds "$seconds" --warmup 3 --pad-log "$tmp/sent.log" > "$tmp/client.out" \
  2> "$tmp/client.err" &
child_pid=$!
wait "$child_pid" || { cat "$tmp/client.err" >&2; child_pid=; exit 1; }
child_pid=
load_after=$(cut -d' ' -f1-3 /proc/loadavg)
stop_host

record=$(ls "$tmp"/records/pads-*.log 2>/dev/null | head -n 1)
if [[ -z $record ]]; then
  echo "bench/pads.sh: the session's app left no record; the host said:" >&2
  cat "$tmp/host.err" >&2
  exit 1
fi

# Each of the app's "button … a down|up" to the last press of that
# direction sent before it (presses are 50 ms apart; none is that slow).
latencies=$(awk '
  FNR == NR { if (!first) first = $1; if ($1 >= first + 500000) { n[$2]++; t[$2, n[$2]] = $1 } next }
  $2 == "button" && $4 == "a" {
    d = $5; while (i[d] < n[d] && t[d, i[d] + 1] <= $1) i[d]++
    if (i[d] > 0 && !used[d, i[d]]) { used[d, i[d]] = 1; printf "%.3f\n", ($1 - t[d, i[d]]) / 1000 }
  }' "$tmp/sent.log" "$record" | sort -g)
sent=$(awk -v s="$(head -n 1 "$tmp/sent.log" | cut -d' ' -f1)" '$1 >= s + 500000' "$tmp/sent.log" | wc -l)
count=$(printf '%s\n' "$latencies" | grep -c . || true)
if (( count == 0 )); then
  echo "bench/pads.sh: no press reached the app; its record:" >&2
  cat "$record" >&2
  exit 1
fi
pct() { printf '%s\n' "$latencies" | awk -v p="$1" '{ v[NR] = $1 } END {
  i = int(p * NR + 0.999999); if (i < 1) i = 1; if (i > NR) i = NR; printf "%.2f", v[i] }'; }
p50=$(pct 0.5) p99=$(pct 0.99) most=$(pct 1)

kernel=$(uname -r)
cpu_model=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
sdl_version=$(dpkg-query -W -f '${Version}' libsdl2-2.0-0 2>/dev/null || echo '?')
results=$(cat <<EOF
## Gamepads (issue 18)

From a pad message leaving the client (\`fh-bench-client --pad-log\`, the
web protocol's pad state) to the SDL event in the session's app
(\`tests/apps/fh-pad-logger\`, SDL's GameController API), one session at
${width}×${height}@${fps} streaming meanwhile, the pad pressing A and
letting go every 50 ms for ${seconds} s:

| presses | reached the app | p50 | p99 | most |
|---:|---:|---:|---:|---:|
| $sent | $count | $p50 ms | $p99 ms | $most ms |

- pads: $pads_line
- the path: WebSocket (TLS) → the host's main loop → the session's pad
  (a unix socket) → the app's SDL, which reads its pads when the app pumps
  events (the logger waits in \`SDL_WaitEvent\`, which without a window
  polls about once a millisecond: that poll is in the figure)
- machine: $(nproc) CPUs ($cpu_model), Linux $kernel, SDL $sdl_version
- load average (1, 5, 15 min) before: $load_before, after: $load_after;
  cores busy besides us just before: $busy_before
- $(date -u '+%Y-%m-%d %H:%M UTC'), commit $(git rev-parse --short HEAD), \`bench/pads.sh\`
  (BENCH_SECONDS=$seconds BENCH_MODE=$mode), as $(id -un)
EOF
)

if bench_may_publish; then
  bench_write_section "## Gamepads (issue 18)" "$results"
fi

echo
printf '%s\n' "$results"
