#!/usr/bin/env bash
# How many wlroots sessions this machine sustains (issue 3). First times
# capture alone (fh-bench-capture: one headless sway made by the wlroots
# backend, a full-damage and a no-damage frame), then starts
# `funkhaus serve --backend wlroots` whose sessions each run an animated
# app (fh-input-recorder --animate: full damage every frame) and opens 1, 2,
# 3, … sessions at once (fh-bench-client --sessions N; a fresh host for each
# N), measuring each session's frame rate and drops and the CPU and memory
# of the host and of every session's processes. Stops at the first N that
# is not sustained (tried twice). Before each measurement it waits (a
# while) for the rest of the machine to go quiet. Prints its figures last
# and writes them into docs/performance.md (its "## wlroots sessions
# (issue 3)" section).
#
# Usage: bench/wlroots.sh [--no-docs]
# Environment: BENCH_MAX_SESSIONS (8), BENCH_SECONDS (measured per N, 5),
#              BENCH_WARMUP (3), BENCH_MODE (1280x720@30), BENCH_BITRATE (8000),
#              BENCH_PRESET (ultrafast), BENCH_CAPTURE_SECONDS (4),
#              BENCH_CAPTURE_ROUNDS (2), BENCH_TIME_LIMIT (300 s, besides waiting),
#              BENCH_QUIET (cores busy that count as quiet, 0.15),
#              BENCH_QUIET_WAIT (most seconds to wait for quiet in all, 60),
#              BENCH_RUN_AS (funkhaus), BUILD_DIR (build).
# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh" "$@"

max_sessions=${BENCH_MAX_SESSIONS:-8}
seconds=${BENCH_SECONDS:-5}
warmup=${BENCH_WARMUP:-3}
mode=${BENCH_MODE:-1280x720@30}
bitrate=${BENCH_BITRATE:-8000}
preset=${BENCH_PRESET:-ultrafast}
capture_seconds=${BENCH_CAPTURE_SECONDS:-4}
capture_rounds=${BENCH_CAPTURE_ROUNDS:-2}
time_limit=${BENCH_TIME_LIMIT:-300}
run_as=${BENCH_RUN_AS:-funkhaus}
build=${BUILD_DIR:-build}
if [[ ! $mode =~ ^([0-9]+)x([0-9]+)@([0-9]+)$ ]]; then
  echo "bench/wlroots.sh: BENCH_MODE must look like 1280x720@30" >&2
  exit 2
fi
width=${BASH_REMATCH[1]} height=${BASH_REMATCH[2]} fps=${BASH_REMATCH[3]}
for v in max_sessions seconds warmup bitrate capture_seconds capture_rounds time_limit quiet_wait; do
  if [[ ! ${!v} =~ ^[1-9][0-9]*$ ]]; then
    echo "bench/wlroots.sh: $v must be a whole number above 0" >&2
    exit 2
  fi
done
if ! command -v sway > /dev/null; then
  echo "bench/wlroots.sh: sway not found: install sway (apt-get install sway)" >&2
  exit 1
fi
# Sustained: every session gets at least this share of the mode's rate, and
# the host drops nothing.
min_fps=$(awk -v f="$fps" 'BEGIN { printf "%.2f", f * 0.95 }')
started=$SECONDS

tmp=$(mktemp -d -t funkhaus-bench-wlroots.XXXXXX)
host_pid=
child_pid=
bench_clean_up_at_exit "$tmp/host.*/config/funkhaus/devices.ini"

# Runs a program in the background and waits, so a signal to this script
# is handled at once (cleanup stops the program).
run() { # $1 = stdout file, $2 = stderr file, then the command
  local out=$1 err=$2 rc=0
  shift 2
  "$@" > "$out" 2> "$err" &
  child_pid=$!
  wait "$child_pid" || rc=$?
  child_pid=
  return $rc
}

echo "== build" >&2
if [[ ! -f $build/build.ninja ]]; then
  meson setup "$build" >&2
fi
ninja -C "$build" bench/fh-bench-client bench/fh-bench-capture src/funkhaus \
  tests/fh-input-recorder >&2
recorder=$(realpath "$build/tests/fh-input-recorder")
animated_app="$recorder /dev/null --animate"
static_app="$recorder /dev/null"
# The host's sessions are sandboxed (fh-bench-capture's output is not).
bench_sandbox_setup "$tmp" "$build"
session_app="$bench_recorder /dev/null --animate"

# key value lines → associative array $1, keys suffixed ".$2"
declare -A cap res
parse() { # $1 = array name, $2 = suffix, $3 = file
  local -n into=$1
  local k v
  while read -r k v; do
    [[ $k =~ ^[a-z0-9_]+$ && $v =~ ^-?[0-9.]+$ ]] && into[$k${2:+.$2}]=$v
  done < "$3"
}

load_before=$(cut -d' ' -f1-3 /proc/loadavg)

# 1. Capture alone.
capture_time=$(( 2 + capture_rounds * 2 * capture_seconds ))
echo "== capture alone, full damage then no damage (about $(( 2 * (capture_time + 3) )) s)" >&2
wait_quiet
capture_busy_before=$last_busy
run "$tmp/capture.out" "$tmp/capture.err" timeout -k 10 $(( 2 * capture_time + 60 )) \
  "$build/bench/fh-bench-capture" --width "$width" --height "$height" --fps "$fps" \
  --animated-app "$animated_app" --static-app "$static_app" --run-as "$run_as" \
  --seconds "$capture_seconds" --rounds "$capture_rounds" --warmup 2 || {
  cat "$tmp/capture.out" >&2; grep -v '^\[libx264' "$tmp/capture.err" >&2; exit 1; }
kill_sessions # nothing should be left; make sure
cat "$tmp/capture.out" >&2
parse cap "" "$tmp/capture.out"

# 2. Sessions, 1 … max, a fresh host for each count.
run_count() { # $1 = sessions, $2 = try; returns 1 when not sustained
  local n=$1 t=$2 dir=$tmp/host.$1.$2 rc=0
  echo "== $n session(s) at ${width}x${height}@${fps}, try $t (${warmup} s warm-up + ${seconds} s)" >&2
  wait_quiet
  res[busy_before.$n.$t]=$last_busy
  bench_start_host "$dir" "$(printf '[host]\napp=%s\nrun-as=%s\n%s' "$session_app" "$run_as" \
    "$bench_sandbox_config")" --backend wlroots --bitrate "$bitrate" --encoder-preset "$preset" \
    --grace 1
  run "$tmp/client.$n.$t.out" "$tmp/client.$n.$t.err" \
    timeout -k 5 $(( warmup + seconds + 3 * n + 30 )) \
    "$build/bench/fh-bench-client" --port "$host_port" --pin "$host_pin" --host-pid "$host_pid" \
    --width "$width" --height "$height" --fps "$fps" --sessions "$n" \
    --seconds "$seconds" --warmup "$warmup" || rc=$?
  stop_host
  if (( rc != 0 )); then
    # The host could not keep up at all (a session failed to start, say):
    # that count is not sustained; say why.
    echo "bench/wlroots.sh: the client failed with $n session(s) (status $rc):" >&2
    cat "$tmp/client.$n.$t.err" >&2
    grep -v '^\[libx264' "$dir/host.err" | tail -n 20 >&2
    res[failed.$n.$t]=1
    res[pass.$n.$t]=0
    return 1
  fi
  grep -v '^s[0-9]*_' "$tmp/client.$n.$t.out" >&2
  parse res "$n.$t" "$tmp/client.$n.$t.out"
  if awk -v min="$min_fps" '
      $1 ~ /^s[0-9]+_fps$/ && $2 + 0 < min + 0 { bad = 1 }
      $1 == "dropped" && $2 + 0 > 0 { bad = 1 }
      END { exit bad ? 1 : 0 }' "$tmp/client.$n.$t.out"; then
    res[pass.$n.$t]=1
    return 0
  fi
  return 1
}

# seconds one count takes at most, roughly: host, sessions, warm-up, window, stop
count_time() { echo $(( 4 + 2 * $1 + warmup + seconds + 3 )); }

sustained=0
first_failed=
stopped_early=
declare -a tried=() # "n.t" in order
for n in $(seq "$max_sessions"); do
  passed=0
  for t in 1 2; do
    if (( SECONDS - started + $(count_time "$n") > time_limit )); then
      stopped_early="the time limit (BENCH_TIME_LIMIT=$time_limit s) left no room for $n sessions"
      break 2
    fi
    tried+=("$n.$t")
    if run_count "$n" "$t"; then passed=1; break; fi
    echo "== $n session(s): not sustained on try $t" >&2
  done
  if (( passed )); then sustained=$n; else first_failed=$n; break; fi
done
if [[ -z $first_failed && -z $stopped_early ]]; then
  stopped_early="BENCH_MAX_SESSIONS=$max_sessions reached, every count sustained"
fi
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

# --- figures ---
r() { # $1 = key, $2 = n.t: the value or –
  local v=${res[$1.$2]:-}
  [[ -n $v ]] && echo "$v" || echo "–"
}
calc() { # awk expression over the named values; – when one is missing
  local expr=$1; shift
  local args=() a
  for a in "$@"; do
    [[ $a == *=–* || $a == *= ]] && { echo "–"; return; }
    args+=(-v "$a")
  done
  awk "${args[@]}" "BEGIN { $expr }"
}
mib() { calc 'printf "%.0f", k / 1024' "k=$1"; }

ramp=$(
  echo "| sessions (try) | fps per session, min / mean | dropped | host CPU, cores | sessions' processes CPU, cores | total CPU, cores | CPU per session, cores | client CPU, cores | anything else, cores | host RSS, MiB | sessions' processes PSS / RSS per session, MiB | sustained |"
  echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"
  for nt in "${tried[@]}"; do
    n=${nt%.*} t=${nt#*.}
    if [[ -n ${res[failed.$nt]:-} ]]; then
      echo "| $n ($t) | client failed | – | – | – | – | – | – | – | – | – | no |"
      continue
    fi
    ok=no
    [[ ${res[pass.$nt]:-0} == 1 ]] && ok=yes
    printf '| %s (%s) | %s / %s | %s | %s | %s | %s | %s | %s | %s | %s | %s / %s | %s |\n' \
      "$n" "$t" "$(r fps_min "$nt")" "$(r fps "$nt")" "$(r dropped "$nt")" \
      "$(r host_runtime_cores "$nt")" "$(r session_processes_cpu_cores "$nt")" \
      "$(r total_cpu_cores "$nt")" \
      "$(calc 'printf "%.3f", c / n' "c=$(r total_cpu_cores "$nt")" "n=$n")" \
      "$(r client_cpu_cores "$nt")" \
      "$(calc 'printf "%.3f", m - t - c' "m=$(r machine_busy_cores "$nt")" "t=$(r total_cpu_cores "$nt")" "c=$(r client_cpu_cores "$nt")")" \
      "$(mib "$(r host_rss_kib "$nt")")" \
      "$(calc 'printf "%.1f", k / n / 1024' "k=$(r session_processes_pss_kib "$nt")" "n=$n")" \
      "$(calc 'printf "%.1f", k / n / 1024' "k=$(r session_processes_rss_kib "$nt")" "n=$n")" \
      "$ok"
  done
)

# Per session at the largest sustained count (its passing try); one
# session's first measured try, for the notes.
best= one=
for nt in "${tried[@]}"; do
  [[ ${nt%.*} == "$sustained" && ${res[pass.$nt]:-0} == 1 ]] && best=$nt
  [[ ${nt%.*} == 1 && -z $one && -z ${res[failed.$nt]:-} ]] && one=$nt
done
if [[ -n $best ]]; then
  bn=$sustained
  per_session=$(
    echo "| per session, at $bn sustained session(s) | value |"
    echo "|---|---:|"
    echo "| CPU, all of it (host share + its processes), cores | $(calc 'printf "%.3f", c / n' "c=$(r total_cpu_cores "$best")" "n=$bn") |"
    echo "| … host (\`funkhaus serve\`), cores | $(calc 'printf "%.3f", c / n' "c=$(r host_runtime_cores "$best")" "n=$bn") |"
    echo "| … of which its capture and encode threads (capture, conversion, x264's calling thread), cores | $(calc 'printf "%.3f", c / n' "c=$(awk '$1 ~ /^s[0-9]+_encode_thread_cpu_cores$/ { s += $2 } END { print s + 0 }' "$tmp/client.$best.out")" "n=$bn") |"
    for k in $(printf '%s\n' "${!res[@]}" | sed -n "s/^session_processes_cpu_cores_\([a-z0-9_]*\)\.$bn\.[12]\$/\1/p" | sort -u); do
      v=${res[session_processes_cpu_cores_$k.$best]:-}
      [[ -n $v ]] && echo "| … \`$(echo "$k" | tr _ -)\`, cores | $(calc 'printf "%.3f", c / n' "c=$v" "n=$bn") |"
    done
    echo "| processes (sway, the app, Xwayland when started) | $(calc 'printf "%.1f", p / n' "p=$(r session_processes "$best")" "n=$bn") |"
    echo "| memory of its processes, PSS, MiB | $(calc 'printf "%.1f", k / n / 1024' "k=$(r session_processes_pss_kib "$best")" "n=$bn") |"
    echo "| memory of its processes, RSS (shared libraries counted in each), MiB | $(calc 'printf "%.1f", k / n / 1024' "k=$(r session_processes_rss_kib "$best")" "n=$bn") |"
    echo "| host's RSS growth, MiB | $(calc 'printf "%.1f", (k - i) / n / 1024' "k=$(r host_rss_kib "$best")" "i=$(r host_idle_rss_kib "$best")" "n=$bn") |"
    echo "| memory, PSS of its processes + host's growth, MiB | $(calc 'printf "%.1f", (p + k - i) / n / 1024' "p=$(r session_processes_pss_kib "$best")" "k=$(r host_rss_kib "$best")" "i=$(r host_idle_rss_kib "$best")" "n=$bn") |"
    echo "| capture → received p50 / p99, ms | $(r capture_to_receive_ms_p50 "$best") / $(r capture_to_receive_ms_p99 "$best") |"
    echo "| stream, kb/s | $(calc 'printf "%.0f", k / n' "k=$(r kbps "$best")" "n=$bn") |"
  )
else
  per_session="No session count was sustained, so there is no per-session table."
fi

c() { local v=${cap[$1]:-}; [[ -n $v ]] && echo "$v" || echo "–"; }
capture_table=$(
  echo "| capture alone, one ${width}×${height}@${fps} session | full damage (animated app) | no damage (static app) |"
  echo "|---|---:|---:|"
  echo "| pictures captured per second | $(c full_fps) | $(c none_fps) |"
  echo "| host: CPU per capture call that returned a picture, p50 / p99, ms | $(c full_frame_cpu_ms_p50) / $(c full_frame_cpu_ms_p99) | – |"
  echo "| host: CPU per capture call that found nothing new, p50 / p99, ms | – | $(c none_unchanged_cpu_ms_p50) / $(c none_unchanged_cpu_ms_p99) |"
  echo "| compositor: CPU added by capturing, per call, ms | $(c full_compositor_extra_ms_per_call) | $(c none_compositor_extra_ms_per_call) |"
  echo "| compositor's picture ready → picture in the encoder's input, p50 / p99, ms | $(c full_ready_to_converted_ms_p50) / $(c full_ready_to_converted_ms_p99) | – |"
  echo "| compositor (sway) CPU, capturing / not capturing, cores | $(c full_compositor_cores_capturing) / $(c full_compositor_cores_not_capturing) | $(c none_compositor_cores_capturing) / $(c none_compositor_cores_not_capturing) |"
  echo "| app CPU, capturing / not capturing, cores | $(c full_app_cores_capturing) / $(c full_app_cores_not_capturing) | $(c none_app_cores_capturing) / $(c none_app_cores_not_capturing) |"
)

nproc_=$(nproc)
cpu_model=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)
mem=$(awk '/^MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)
kernel=$(uname -r)
sway_version=$(sway --version 2>/dev/null | sed 's/^sway version //' || echo "?")
wlroots_version=$(dpkg-query -W -f '${Version}' 'libwlroots*' 2>/dev/null | head -c 40 || echo "?")
avcodec=$(pkg-config --modversion libavcodec 2>/dev/null || echo "?")
commit=$(bench_commit)
when=$(date -u '+%Y-%m-%d %H:%M UTC')
settings="BENCH_MAX_SESSIONS=$max_sessions BENCH_SECONDS=$seconds BENCH_WARMUP=$warmup BENCH_MODE=$mode BENCH_BITRATE=$bitrate BENCH_PRESET=$preset BENCH_CAPTURE_SECONDS=$capture_seconds BENCH_CAPTURE_ROUNDS=$capture_rounds BENCH_TIME_LIMIT=$time_limit BENCH_QUIET=$quiet BENCH_QUIET_WAIT=$quiet_wait"
if [[ -n $first_failed ]]; then
  verdict="**$sustained** sessions sustained; $first_failed did not (on either try)."
else
  verdict="**$sustained** sessions sustained; the ramp stopped because $stopped_early."
fi

results=$(cat <<EOF
## wlroots sessions (issue 3)

\`bench/wlroots.sh\` asks how many ${width}×${height}@${fps} sessions of the
\`wlroots\` backend this machine sustains, each a headless sway (pixman,
CPU only) with one animated app: \`tests/apps/fh-input-recorder --animate\`
fills its full-screen window and moves a bar every frame, so every frame is
fully damaged and has to be captured, converted and encoded. For N = 1, 2,
3, … it starts a fresh \`funkhaus serve --backend wlroots\` (preset
\`$preset\`, $bitrate kb/s) and \`bench/fh-bench-client --sessions N\` opens N
sessions at once (one pairing, one WebSocket each), waits until all are
welcome, lets them run ${warmup} s and measures ${seconds} s. **Sustained** means every
session received at least 95 % of ${fps} fps (≥ $min_fps) and the host's
\`stats\` messages report no dropped frame. A count that fails is tried
once more with a fresh host; the ramp stops at the first count that fails
both times, or at BENCH_MAX_SESSIONS.

CPU is on-CPU time as the scheduler counts it
(\`/proc/PID/task/*/schedstat\`, nanoseconds) over the window, for the host
process and for every process of the sessions, found by the
\`FUNKHAUS_SESSION\` variable in their environment: sway and the app
(Xwayland starts only when an X11 client connects, which this app does
not). The client's own CPU (TLS, parsing) runs on the same 2 cores and is
listed beside it, as is everything else the machine ran meanwhile
(\`/proc/stat\` minus the rest, in 10 ms ticks, so it can come out a
little below zero): before each count the script waits until
the machine is quiet (at most ${quiet} cores busy, waiting at most
${quiet_wait} s in all). Memory is read at the window's end from
\`/proc/PID/smaps_rollup\`: PSS for the sessions' processes (a shared page
is split among the processes that map it, so PSS adds up), RSS for the
host (one process), whose growth over the idle host is its share per
session.

$verdict Capturing alone costs
the host $(c full_frame_cpu_ms_p50) ms of CPU (p50) and the compositor about
$(c full_compositor_extra_ms_per_call) ms more per full-damage frame, and the host $(c none_unchanged_cpu_ms_p50) ms per frame
period when nothing changed (last table).

$ramp

$per_session

**Capture alone** (\`bench/fh-bench-capture\`): one sway made by the
wlroots backend exactly as for a session, captured through the backend's
capture op (wlr-screencopy \`copy_with_damage\` into shm, then one
XRGB → I420 conversion pass into an encoder's input buffer) at ${fps} Hz, paced as the
host's capture thread paces it, with no encoding and no network. "Host CPU"
is the capturing thread's CPU time per call (\`CLOCK_THREAD_CPUTIME_ID\`:
Wayland dispatch and the conversion; waiting costs nothing). The
compositor's share of a capture (its copy into our buffer) cannot be timed
from outside, so it is the difference in sway's CPU between ${capture_rounds} × ${capture_seconds} s
capturing and ${capture_rounds} × ${capture_seconds} s not capturing, the app animating all along,
divided by the capture calls; differences of a few hundredths of a
millisecond are noise. "Ready → in the encoder's input" runs from the
timestamp of the compositor's \`ready\` event (its CLOCK_MONOTONIC at the
output's commit, before it copies) to the converted picture. With no
damage a call waits out its frame period (p50 $(c none_unchanged_wall_ms_p50) ms) and returns
"unchanged"; the host then encodes and sends only a keep-alive frame twice
a second (not counted here).

$capture_table

- machine: $nproc_ CPUs ($cpu_model), $mem memory, Linux $kernel;
  sway $sway_version, wlroots $wlroots_version, libavcodec $avcodec (libx264)
- load average (1, 5, 15 min) before: $load_before, after: $load_after;
  cores busy besides us just before each measurement: capture $capture_busy_before,
  $(for nt in "${tried[@]}"; do printf '%s (%s): %s, ' "${nt%.*}" "${nt#*.}" "${res[busy_before.$nt]:-–}"; done | sed 's/, $//');
  waited for quiet: ${quiet_waited} s
- the compositor's rate: this wlroots's headless backend re-arms a timer
  of 1000 / Hz ms, rounded down, only after sway has rendered, so the host
  asks sway for a refresh whose timer is 2 ms shorter than the mode's
  period (\`fh_wlroots_compositor_refresh_mhz\`) and captures at exactly
  ${fps} Hz (arrival interval p50 $(r interarrival_ms_p50 "$one") ms with one
  session); an app slower than the period, or anything that delays sway
  (other sessions, the encoders), lowers the rate
- sessions run in their sandboxes (the default): the app is a copy of the
  recorder in a \`sandbox-binds\` folder, and the device account the
  benchmark's pairing made is removed at the end
- $when, commit $commit, \`bench/wlroots.sh\` ($settings), as $(id -un) (sessions run as the benchmark device's account)
EOF
)


if bench_may_publish; then
  bench_write_section "## wlroots sessions (issue 3)" "$results"
fi

echo
printf '%s\n' "$results"
