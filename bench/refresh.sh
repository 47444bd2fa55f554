#!/usr/bin/env bash
# Refresh rates of wlroots sessions (issue 17): for each mode in
# BENCH_MODES and each rate in BENCH_RATES, a fresh `funkhaus serve
# --backend wlroots` whose sessions run an animated app (fh-input-recorder
# --animate: full damage every frame) and fh-bench-client asking for that
# W×H@Hz, first one session alone, then 1 + BENCH_OTHERS sessions at once
# (the same mode). Measures the frames each session delivered a second
# (the slowest session's, and the mean) against the rate asked for, and
# how busy the whole machine was: a rate that is missed while the CPU is
# saturated (BENCH_SATURATED of its cores busy) is the machine's limit, not
# the host's, and how fast the machine was right before (bench/fh-bench-
# speed: a virtual machine's speed moves while it is idle, by a third on
# the test machine). Waits for a quiet machine before each measurement and
# publishes nothing taken under load. Prints its figures last and writes
# them into docs/performance.md (its "## Refresh rates (issue 17)"
# section). About 5 minutes on 2 cores with the defaults.
#
# Usage: bench/refresh.sh [--no-docs]    (as root: sessions run as device
#        accounts; needs sway and a build with tests/fh-input-recorder)
# Environment: BENCH_MODES ("1280x720 1920x1080"), BENCH_RATES
#              ("30 60 75 120 144"), BENCH_OTHERS (3), BENCH_SECONDS (5),
#              BENCH_WARMUP (3), BENCH_PRESET (ultrafast), BENCH_BITRATE
#              (8000), BENCH_SATURATED (0.9: share of the cores),
#              BENCH_QUIET (0.15), BENCH_QUIET_WAIT (60), BENCH_RUN_AS
#              (funkhaus), BUILD_DIR (build).
# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh" "$@"

modes=${BENCH_MODES:-1280x720 1920x1080}
rates=${BENCH_RATES:-30 60 75 120 144}
others=${BENCH_OTHERS:-3}
seconds=${BENCH_SECONDS:-5}
warmup=${BENCH_WARMUP:-3}
preset=${BENCH_PRESET:-ultrafast}
bitrate=${BENCH_BITRATE:-8000}
saturated=${BENCH_SATURATED:-0.9}
run_as=${BENCH_RUN_AS:-funkhaus}
build=${BUILD_DIR:-build}
for m in $modes; do
  [[ $m =~ ^[0-9]+x[0-9]+$ ]] || { echo "bench/refresh.sh: BENCH_MODES holds WxH words" >&2; exit 2; }
done
for v in $rates $others $seconds $warmup $bitrate; do
  [[ $v =~ ^[0-9]+$ && $v -gt 0 ]] || {
    echo "bench/refresh.sh: BENCH_RATES, BENCH_OTHERS, BENCH_SECONDS, BENCH_WARMUP and" \
      "BENCH_BITRATE are whole numbers above 0" >&2; exit 2; }
done
command -v sway > /dev/null || { echo "bench/refresh.sh: sway not found: apt-get install sway" >&2; exit 1; }
(( $(id -u) == 0 )) || { echo "bench/refresh.sh: run it as root (sessions run as device accounts)" >&2; exit 1; }

tmp=$(mktemp -d -t funkhaus-bench-refresh.XXXXXX)
host_pid=
child_pid=
bench_clean_up_at_exit "$tmp/host.*/config/funkhaus/devices.ini"

echo "== build" >&2
[[ -f $build/build.ninja ]] || meson setup "$build" >&2
ninja -C "$build" bench/fh-bench-client bench/fh-bench-speed src/funkhaus tests/fh-input-recorder >&2
bench_sandbox_setup "$tmp" "$build"
config=$(printf '[host]\napp=%s /dev/null --animate\nrun-as=%s\n%s' "$bench_recorder" "$run_as" \
  "$bench_sandbox_config")

declare -A res
runs=0
# One measurement: $1 = WxH, $2 = Hz, $3 = sessions at once. Its figures go
# into res[<key>.$1@$2.$3]; a client that failed leaves res[failed.…].
measure() {
  local mode=$1 hz=$2 n=$3 key=$1@$2.$3 rc=0 k v
  runs=$(( runs + 1 ))
  echo "== ${mode}@${hz}, $n session(s) (${warmup} s warm-up + ${seconds} s)" >&2
  wait_quiet
  res[busy_before.$key]=$last_busy
  res[speed.$key]=$(bench_machine_speed)
  bench_start_host "$tmp/host.$runs" "$config" --backend wlroots --bitrate "$bitrate" \
    --encoder-preset "$preset" --grace 1
  "$build/bench/fh-bench-client" --port "$host_port" --pin "$host_pin" --host-pid "$host_pid" \
    --width "${mode%x*}" --height "${mode#*x}" --fps "$hz" --sessions "$n" \
    --seconds "$seconds" --warmup "$warmup" > "$tmp/client.$runs.out" 2> "$tmp/client.$runs.err" &
  child_pid=$!
  wait "$child_pid" || rc=$?
  child_pid=
  stop_host
  if (( rc != 0 )); then
    echo "bench/refresh.sh: the client failed ($rc):" >&2
    tail -n 5 "$tmp/client.$runs.err" >&2
    res[failed.$key]=1
    return 0
  fi
  while read -r k v; do
    [[ $k =~ ^(fps|fps_min|machine_busy_cores|total_cpu_cores|dropped|host_runtime_cores|session_processes_cpu_cores_sway)$ ]] &&
      res[$k.$key]=$v
  done < "$tmp/client.$runs.out"
  echo "   fps min ${res[fps_min.$key]:-–}, mean ${res[fps.$key]:-–}; machine ${res[machine_busy_cores.$key]:-–} cores busy;" \
    "a 1080p conversion took ${res[speed.$key]} ms before" >&2
}

started=$SECONDS
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
for mode in $modes; do
  for hz in $rates; do
    measure "$mode" "$hz" 1
    measure "$mode" "$hz" $(( 1 + others ))
  done
done
load_after=$(cut -d' ' -f1-3 /proc/loadavg)
elapsed=$(( SECONDS - started ))

cores=$(nproc)
# "74.8 (99.7 %)", or the reason there is no figure; a miss on a saturated
# machine says so.
cell() { # $1 = key (WxH@Hz.n), $2 = Hz
  local key=$1 hz=$2
  if [[ -n ${res[failed.$key]:-} ]]; then echo "client failed"; return; fi
  awk -v f="${res[fps_min.$key]:-}" -v m="${res[fps.$key]:-}" -v hz="$hz" \
    -v busy="${res[machine_busy_cores.$key]:-0}" -v cores="$cores" -v sat="$saturated" 'BEGIN {
      if (f == "") { print "–"; exit }
      s = sprintf ("%.1f (%.1f %%)", f, 100 * f / hz)
      if (m != f) s = s sprintf (", mean %.1f", m)
      if (f < 0.98 * hz && busy >= sat * cores) s = s ", CPU saturated"
      print s }'
}
cpu_cell() { # $1 = key: "machine / host / sway"
  echo "${res[machine_busy_cores.$1]:-–} / ${res[host_runtime_cores.$1]:-–} / ${res[session_processes_cpu_cores_sway.$1]:-–}"
}
table=$(
  echo "| mode asked for | alone: delivered fps (share of the rate) | machine busy / host / sway, cores | with $others other sessions: slowest session's fps (share), mean | machine busy / host / every sway, cores | the machine's speed: a 1080p conversion, ms, alone / with others |"
  echo "|---|---|---:|---|---:|---:|"
  for mode in $modes; do
    for hz in $rates; do
      a=$mode@$hz.1 b=$mode@$hz.$(( 1 + others ))
      echo "| ${mode}@${hz} | $(cell "$a" "$hz") | $(cpu_cell "$a") | $(cell "$b" "$hz") | $(cpu_cell "$b") | ${res[speed.$a]:-–} / ${res[speed.$b]:-–} |"
    done
  done
)
when=$(date -u '+%Y-%m-%d %H:%M UTC')
commit=$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)
cpu_model=$(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -n 1)
results=$(cat <<EOF
## Refresh rates (issue 17)

wlroots sessions whose app changes every frame (\`fh-input-recorder
--animate\`), asked for each rate by \`fh-bench-client\`: the frames a
second each session delivered over ${seconds} s after ${warmup} s of
warm-up, alone and beside ${others} more sessions of the same mode. The
host asks sway for a frame timer 2 ms shorter than the
period and captures at exactly the rate asked for
(\`fh_wlroots_compositor_refresh_mhz\`), asking sway for the next copy
right after the last picture where sway's wait and the conversion take
more than 70 % of the period (\`src/media/screencopy.c\`); the target is at least 98 % of
the rate alone wherever the CPU is not saturated. "CPU saturated": the
rate was missed while at least ${saturated} of the machine's ${cores}
cores were busy. sway renders with pixman, on the CPU, in one thread: a
sway near 1.0 core is the compositor's own limit, whatever the rest of
the machine does; every frame is captured and converted on the session's
capture thread in the host and encoded with x264 ${preset} on its encode
thread, the next frame's capture overlapping the last one's encoding.
The last column is how fast the machine was right before each
measurement: one conversion of a 1920x1080 picture on one thread
(\`bench/fh-bench-speed\`, the host's own conversion), the median over
0.4 s; on this virtual machine it moves by a third while the machine is
idle, and a rate missed where it is high was missed on a slower machine.

$table

- machine: ${cores} cores (${cpu_model}); load average before
  ${load_before}, after ${load_after}; ${elapsed} s in all; every
  measurement waited for a quiet machine (at most ${quiet} cores busy)
- ${when}, commit ${commit}, \`bench/refresh.sh\` (BENCH_MODES="${modes}",
  BENCH_RATES="${rates}", ${bitrate} kb/s, ${preset})
EOF
)

if bench_may_publish; then
  bench_write_section "## Refresh rates (issue 17)" "$results"
fi
echo
printf '%s\n' "$results"
