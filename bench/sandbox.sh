#!/usr/bin/env bash
# What the wlroots sessions' sandboxes protect and what they cost (issue
# 16). 1. Noisy neighbour: `funkhaus serve --backend wlroots` with two
# sessions at once (fh-bench-client --sessions 2 --one-by-one, so the host
# numbers them as the client does); session 1 runs the animated app of
# bench/wlroots.sh (fh-input-recorder --animate), session 2 sleeps or burns
# all the CPU it gets with BENCH_BUSY_LOOPS busy loops, as the device's
# account inside its sandbox (bench/fh-bench-sandbox-app.sh picks by
# FUNKHAUS_SESSION_SERIAL). Three runs, a fresh host each: (a) session 2
# idle, (b) burning, protected (app-nice=10, session-cgroups=on: the
# defaults), (c) burning, unprotected (app-nice=0, session-cgroups=off);
# session 1's frame rate (and its share of (a)'s) and capture → received
# latency. 2. Cost: one session with sandbox=on and with sandbox=off,
# alternating, BENCH_REPEATS times each, a fresh host each time: hello →
# first video frame, PSS of the session's processes and the host's RSS
# growth; medians. Before each run it waits (a while) for the rest of the
# machine to go quiet. Every run is the same paired device, whose account
# (fh-<device id>) is made on its first session and removed at the end.
# Prints its figures last and writes them into docs/performance.md (its
# "## Sandboxes (issue 16)" section). About 4 minutes.
#
# Usage: bench/sandbox.sh [--no-docs]    (as root: an account per device)
# Environment: BENCH_SECONDS (measured per noisy-neighbour run, 8),
#              BENCH_WARMUP (3), BENCH_BUSY_LOOPS (4), BENCH_REPEATS (cost
#              runs per setting, 5), BENCH_COST_SECONDS (measured per cost
#              run, 2), BENCH_COST_WARMUP (1), BENCH_MODE (1280x720@30),
#              BENCH_BITRATE (8000), BENCH_PRESET (ultrafast),
#              BENCH_TIME_LIMIT (300 s from the start: cost repeats that
#              would end later are left out), BENCH_QUIET (cores
#              busy that count as quiet, 0.15), BENCH_QUIET_WAIT (most
#              seconds to wait for quiet in all, 60), BENCH_RUN_AS
#              (funkhaus), BUILD_DIR (build).
# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh" "$@"

seconds=${BENCH_SECONDS:-8}
warmup=${BENCH_WARMUP:-3}
busy_loops=${BENCH_BUSY_LOOPS:-4}
repeats=${BENCH_REPEATS:-5}
cost_seconds=${BENCH_COST_SECONDS:-2}
cost_warmup=${BENCH_COST_WARMUP:-1}
mode=${BENCH_MODE:-1280x720@30}
bitrate=${BENCH_BITRATE:-8000}
preset=${BENCH_PRESET:-ultrafast}
time_limit=${BENCH_TIME_LIMIT:-300}
run_as=${BENCH_RUN_AS:-funkhaus}
build=${BUILD_DIR:-build}
if [[ ! $mode =~ ^([0-9]+)x([0-9]+)@([0-9]+)$ ]]; then
  echo "bench/sandbox.sh: BENCH_MODE must look like 1280x720@30" >&2
  exit 2
fi
width=${BASH_REMATCH[1]} height=${BASH_REMATCH[2]} fps=${BASH_REMATCH[3]}
for v in seconds busy_loops repeats cost_seconds bitrate time_limit quiet_wait; do
  if [[ ! ${!v} =~ ^[1-9][0-9]*$ ]]; then
    echo "bench/sandbox.sh: $v must be a whole number above 0" >&2
    exit 2
  fi
done
for v in warmup cost_warmup; do
  if [[ ! ${!v} =~ ^[0-9]+$ ]]; then
    echo "bench/sandbox.sh: $v must be a whole number" >&2
    exit 2
  fi
done
if (( $(id -u) != 0 )); then
  echo "bench/sandbox.sh: run it as root: only root gives each device an account of its own" >&2
  exit 2
fi
for p in sway bwrap slirp4netns useradd userdel; do
  if ! command -v "$p" > /dev/null; then
    echo "bench/sandbox.sh: $p not found: run scripts/setup.sh serve (sway, bubblewrap, slirp4netns)" >&2
    exit 1
  fi
done
started=$SECONDS

# The tree must be open to the device accounts: their homes (homes-dir)
# and the folder of the apps (sandbox-binds) are in it. The hosts' own
# folders stay 0700.
tmp=$(mktemp -d -t funkhaus-bench-sandbox.XXXXXX)
chmod 0755 "$tmp"
mkdir -m 0755 "$tmp/apps" "$tmp/homes"
mkdir -m 0700 "$tmp/config" # shared by every host: the paired device
host_pid=
child_pid=

remove_accounts() { bench_remove_accounts "$tmp/config/funkhaus/devices.ini"; }
cleanup() {
  # SIGTERM: a background job of a script ignores SIGINT, and timeout
  # passes it on to the program.
  [[ -z $child_pid ]] || stop_pid "$child_pid" TERM 150
  stop_host
  kill_sessions
  remove_accounts
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

echo "== build" >&2
if [[ ! -f $build/build.ninja ]]; then
  meson setup "$build" >&2
fi
ninja -C "$build" bench/fh-bench-client src/funkhaus tests/fh-input-recorder >&2
# The build tree is not visible in a sandbox: the apps run from a copy.
install -m 0755 "$build/tests/fh-input-recorder" "$here/fh-bench-sandbox-app.sh" "$tmp/apps/"
app=$tmp/apps/fh-bench-sandbox-app.sh

# key value lines → associative array $1, keys suffixed ".$2"
declare -A res
parse() { # $1 = array name, $2 = suffix, $3 = file
  local -n into=$1
  local k v
  while read -r k v; do
    [[ $k =~ ^[a-z0-9_]+$ && $v =~ ^-?[0-9.]+$ ]] && into[$k${2:+.$2}]=$v
  done < "$3"
}

load_before=$(cut -d' ' -f1-3 /proc/loadavg)

# A fresh host with [host] lines $2… (after the common ones), for run $1.
start_host() {
  local name=$1 dir=$tmp/host.$1 port='' pin=''
  shift
  mkdir -m 0700 "$dir" "$dir/home" "$dir/runtime" "$dir/state"
  {
    printf '[host]\nrun-as=%s\nhomes-dir=%s\nsandbox-binds=%s\n' "$run_as" "$tmp/homes" \
      "$tmp/apps"
    printf '%s\n' "$@"
  } > "$dir/config.ini"
  HOME=$dir/home XDG_CONFIG_HOME=$tmp/config XDG_RUNTIME_DIR=$dir/runtime \
    XDG_STATE_HOME=$dir/state \
    "$build/src/funkhaus" serve --port 0 --backend wlroots --config "$dir/config.ini" \
    --bitrate "$bitrate" --encoder-preset "$preset" --grace 1 \
    > "$dir/host.out" 2> "$dir/host.err" &
  host_pid=$!
  for _ in $(seq 100); do
    port=$(sed -n 's|^funkhaus .*: serving https://[^:]*:\([0-9]*\)/.*|\1|p' "$dir/host.out")
    pin=$(sed -n 's/.*pairing PIN: \([0-9]\{6\}\).*/\1/p' "$dir/host.out")
    [[ -n $port && -n $pin ]] && break
    kill -0 "$host_pid" 2>/dev/null || break
    sleep 0.1
  done
  if [[ -z $port || -z $pin ]]; then
    echo "bench/sandbox.sh: the host did not come up; its output:" >&2
    cat "$dir/host.out" "$dir/host.err" >&2
    exit 1
  fi
  host_port=$port host_pin=$pin
}

# The cpu cgroup of a process: v1's cpu controller, else v2's one tree.
cpu_cgroup_of() { # $1 = pid
  local cgroup
  cgroup=$(sed -n 's/^[0-9]*:\([^:]*,\)\{0,1\}cpu\(,[^:]*\)\{0,1\}:\(.*\)/\3/p' \
             "/proc/$1/cgroup" 2>/dev/null | head -n 1)
  [[ -n $cgroup ]] || cgroup=$(sed -n 's/^0:://p' "/proc/$1/cgroup" 2>/dev/null)
  echo "${cgroup:-–}"
}
# How a session's app runs, once it runs: the nice, cpu cgroup and
# autogroup of the first of its processes that is the app itself.
describe_app() { # $1 = session id; prints "comm|nice|cgroup|autogroup" or nothing
  local pid comm
  for pid in $(session_pids "$1"); do
    comm=$(cat "/proc/$pid/comm" 2>/dev/null) || continue
    [[ $comm == fh-input-record || $comm == fh-bench-sandbo || $comm == sleep ]] || continue
    printf '%s|%s|%s|%s\n' "$comm" \
      "$(awk '{ sub(/^.*\) /, ""); print $17 }' "/proc/$pid/stat" 2>/dev/null)" \
      "$(cpu_cgroup_of "$pid")" \
      "$(sed 's/ nice .*//' "/proc/$pid/autogroup" 2>/dev/null || echo –)"
    return 0
  done
}

# Runs fh-bench-client for run $1 with $2 sessions, $3 s warm-up, $4 s
# measured, in the background so that a signal to this script is handled
# at once (cleanup stops it); meanwhile notes how each session's app runs
# (into $tmp/apps.$1). Returns the client's status.
run_client() {
  local name=$1 n=$2 w=$3 s=$4 out=$tmp/client.$1.out rc=0 polls=0 i
  local -a ids
  : > "$tmp/apps.$name"
  timeout -k 5 $(( w + s + 3 * n + 30 )) \
    "$build/bench/fh-bench-client" --port "$host_port" --pin "$host_pin" \
    --credential "$tmp/credential" --host-pid "$host_pid" --width "$width" --height "$height" \
    --fps "$fps" --sessions "$n" --one-by-one --seconds "$s" --warmup "$w" \
    > "$out" 2> "$tmp/client.$name.err" &
  child_pid=$!
  while kill -0 "$child_pid" 2>/dev/null && (( polls < 50 )); do
    mapfile -t ids < <(sed -n 's/^welcome: session \([0-9a-f]\{32\}\)$/\1/p' "$out")
    if (( ${#ids[@]} == n )); then
      : > "$tmp/apps.$name"
      for (( i = 1; i <= n; i++ )); do
        printf 's%s|%s\n' "$i" "$(describe_app "${ids[i - 1]}")" >> "$tmp/apps.$name"
      done
      grep -q '|$' "$tmp/apps.$name" || break
    fi
    polls=$(( polls + 1 ))
    sleep 0.2
  done
  wait "$child_pid" || rc=$?
  child_pid=
  return $rc
}

# One run: quiet, a fresh host, the client, the host stopped. $1 = name,
# $2 = sessions, $3 = warm-up, $4 = seconds, then the host's [host] lines.
measure() {
  local name=$1 n=$2 w=$3 s=$4 rc=0
  shift 4
  wait_quiet
  res[busy_before.$name]=$last_busy
  start_host "$name" "$@"
  run_client "$name" "$n" "$w" "$s" || rc=$?
  stop_host
  if (( rc != 0 )); then
    echo "bench/sandbox.sh: the client failed in run $name (status $rc):" >&2
    cat "$tmp/client.$name.err" >&2
    grep -v '^\[libx264' "$tmp/host.$name/host.err" | tail -n 20 >&2
    exit 1
  fi
  parse res "$name" "$tmp/client.$name.out"
}

# --- 1. noisy neighbour ---
cost_time=$(( 6 + cost_warmup + cost_seconds ))
declare -A noisy_label=(
  [a]="(a) neighbour idle"
  [b]="(b) neighbour burning, protected"
  [c]="(c) neighbour burning, unprotected"
)
declare -A noisy_config=(
  [a]="app=$app idle|sandbox=on|app-nice=10|session-cgroups=on"
  [b]="app=$app burn $busy_loops|sandbox=on|app-nice=10|session-cgroups=on"
  [c]="app=$app burn $busy_loops|sandbox=on|app-nice=0|session-cgroups=off"
)
for r in a b c; do
  echo "== noisy neighbour ${noisy_label[$r]}: 2 sessions at ${width}x${height}@${fps} (${warmup} s warm-up + ${seconds} s)" >&2
  IFS='|' read -r -a lines <<< "${noisy_config[$r]}"
  measure "$r" 2 "$warmup" "$seconds" "${lines[@]}"
  grep -E '^s[12]_(fps|dropped|capture_to_receive_ms_p(50|99)|processes_cpu_cores) ' \
    "$tmp/client.$r.out" | tr '\n' ' ' | sed 's/ $/\n/' >&2
  # Each session ran the app meant for it (FUNKHAUS_SESSION_SERIAL).
  [[ $r == a ]] && want='sleep' || want='fh-bench-sandbo'
  if ! grep -qx "s1|fh-input-record|.*" "$tmp/apps.$r" || ! grep -qx "s2|$want|.*" "$tmp/apps.$r"; then
    echo "bench/sandbox.sh: in run $r the sessions' apps were not fh-input-record and $want:" >&2
    cat "$tmp/apps.$r" >&2
    exit 1
  fi
done

# --- 2. cost: sandbox on and off, alternating ---
declare -a cost_runs=()
stopped_early=
for (( i = 1; i <= repeats; i++ )); do
  for sb in on off; do
    if (( SECONDS - started + cost_time > time_limit )) && (( i > 1 )); then
      stopped_early="the time limit (BENCH_TIME_LIMIT=$time_limit s) left room for $(( i - 1 )) of $repeats repeats"
      break 2
    fi
    echo "== cost: one session, sandbox=$sb, repeat $i of $repeats (${cost_warmup} s warm-up + ${cost_seconds} s)" >&2
    measure "$sb$i" 1 "$cost_warmup" "$cost_seconds" "app=$app idle" "sandbox=$sb"
    cost_runs+=("$sb$i")
    printf '   hello → first frame %s ms, %s processes, PSS %s KiB, host RSS %s → %s KiB\n' \
      "${res[s1_hello_to_first_frame_ms.$sb$i]:-–}" "${res[s1_processes.$sb$i]:-–}" \
      "${res[s1_processes_pss_kib.$sb$i]:-–}" "${res[host_idle_rss_kib.$sb$i]:-–}" \
      "${res[host_rss_kib.$sb$i]:-–}" >&2
  done
done
done_repeats=$(( ${#cost_runs[@]} / 2 ))
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

# --- figures ---
r() { # $1 = key, $2 = run: the value or –
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
# The median over the cost runs of setting $2 (on/off) of the awk
# expression $1 over the keys $3… (as k1, k2, …; a missing key is 0 when
# $zero_missing is set, else the run is left out).
zero_missing=
median() {
  local expr=$1 sb=$2 run vals=() k j args v
  shift 2
  for run in "${cost_runs[@]}"; do
    [[ $run == "$sb"[0-9]* ]] || continue
    args=() j=0
    for k in "$@"; do
      j=$(( j + 1 ))
      v=${res[$k.$run]:-}
      [[ -z $v && -n $zero_missing ]] && v=0
      [[ -n $v ]] || continue 2
      args+=(-v "k$j=$v")
    done
    vals+=("$(awk "${args[@]}" "BEGIN { print $expr }")")
  done
  (( ${#vals[@]} )) || { echo "–"; return; }
  printf '%s\n' "${vals[@]}" | sort -g | awk '{ v[NR] = $1 } END {
    m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2; print m }'
}
fmt() { # $1 = printf format, $2 = number or –
  [[ $2 == – ]] && echo "–" || awk -v v="$2" -v f="$1" 'BEGIN { printf f, v }'
}
app_of() { # $1 = run, $2 = s1/s2, $3 = field (2 comm, 3 nice, 4 cgroup, 5 autogroup)
  local v
  v=$(awk -F'|' -v s="$2" -v f="$3" '$1 == s { print $f }' "$tmp/apps.$1" 2>/dev/null)
  echo "${v:-–}"
}
met() { # $1 = a figure, $2 = the most it may be: met, not met or –
  [[ $1 == – ]] && { echo "–"; return; }
  awk -v d="$1" -v m="$2" 'BEGIN { print (d <= m) ? "met" : "not met" }'
}

# Noisy neighbour.
share() { calc 'printf "%.1f %%", 100 * f / a' "f=$(r s1_fps "$1")" "a=$(r s1_fps a)"; }
noisy_table=$(
  echo "| session 1 (animated app), ${width}×${height}@${fps} | ${noisy_label[a]} | ${noisy_label[b]} | ${noisy_label[c]} |"
  echo "|---|---:|---:|---:|"
  row() { # label, then a command that prints the cell of run $1
    local label=$1 cells=() x
    shift
    for x in a b c; do cells+=("$("$@" "$x")"); done
    printf '| %s | %s | %s | %s |\n' "$label" "${cells[@]}"
  }
  fps_of() { r s1_fps "$1"; }
  lat_of() { echo "$(r s1_capture_to_receive_ms_p50 "$1") / $(r s1_capture_to_receive_ms_p99 "$1")"; }
  drop_of() { r s1_dropped "$1"; }
  s1cpu_of() { r s1_processes_cpu_cores "$1"; }
  s2cpu_of() { r s2_processes_cpu_cores "$1"; }
  host_of() { r host_runtime_cores "$1"; }
  else_of() {
    calc 'printf "%.2f", m - t - c' "m=$(r machine_busy_cores "$1")" "t=$(r total_cpu_cores "$1")" \
      "c=$(r client_cpu_cores "$1")"
  }
  nice_of() { echo "$(app_of "$1" s1 3) / $(app_of "$1" s2 3)"; }
  cg_of() { echo "\`$(app_of "$1" s1 4)\` / \`$(app_of "$1" s2 4)\`"; }
  ag_of() { echo "\`$(app_of "$1" s1 5)\` / \`$(app_of "$1" s2 5)\`"; }
  row "frames per second" fps_of
  row "… share of (a)" share
  row "capture → received p50 / p99, ms" lat_of
  row "frames the host dropped" drop_of
  row "session 1's processes' CPU, cores" s1cpu_of
  row "session 2's processes' CPU (the neighbour), cores" s2cpu_of
  row "host (\`funkhaus serve\`) CPU, cores" host_of
  row "anything else on the machine, cores" else_of
  row "the apps' nice, session 1 / 2" nice_of
  row "the apps' cpu cgroup, session 1 / 2" cg_of
  row "the apps' autogroup, session 1 / 2" ag_of
)
protected=$(calc 'printf "%.1f", 100 * f / a' "f=$(r s1_fps b)" "a=$(r s1_fps a)")
unprotected=$(calc 'printf "%.1f", 100 * f / a' "f=$(r s1_fps c)" "a=$(r s1_fps a)")
kept=$(met "$(calc 'printf "%.1f", -p' "p=$protected")" -95)
noisy_verdict="With the protection on, session 1 kept **$protected %** of its frame
rate (target ≥ 95 %: $kept); without it, $unprotected %."

# Whether the settings took effect, as the neighbour's app ran.
own_cgroup=$(cpu_cgroup_of "$BASHPID") # the host's too: it is our child
settings_note="the neighbour's app ran at nice $(app_of b s2 3) in (b) and $(app_of c s2 3) in (c)
  (app-nice=10 and 0), in cpu cgroup \`$(app_of b s2 4)\` in (b) and \`$(app_of c s2 4)\` in (c),
  the host's being \`$own_cgroup\`"
if [[ $(app_of b s2 4) == "$own_cgroup" ]]; then
  settings_note="$settings_note: **session-cgroups=on put no session in a cgroup of its own**"
fi

# Cost.
mib() { fmt '%.1f' "$(calc 'printf "%.3f", k / 1024' "k=$1")"; }
on_ff=$(median 'k1' on s1_hello_to_first_frame_ms)
off_ff=$(median 'k1' off s1_hello_to_first_frame_ms)
on_mem=$(median 'k1 + k2 - k3' on s1_processes_pss_kib host_rss_kib host_idle_rss_kib)
off_mem=$(median 'k1 + k2 - k3' off s1_processes_pss_kib host_rss_kib host_idle_rss_kib)
d_ff=$(calc 'printf "%+.0f", a - b' "a=$on_ff" "b=$off_ff")
d_mem=$(calc 'printf "%+.1f", (a - b) / 1024' "a=$on_mem" "b=$off_mem")
cost_row() { # label, awk expression, printf format, keys…
  local label=$1 expr=$2 f=$3 on off
  shift 3
  on=$(median "$expr" on "$@")
  off=$(median "$expr" off "$@")
  printf '| %s | %s | %s | %s |\n' "$label" "$(fmt "$f" "$on")" "$(fmt "$f" "$off")" \
    "$(calc "printf \"%+${f#%}\", a - b" "a=$on" "b=$off")"
}
comms=$(for run in "${cost_runs[@]}"; do
  printf '%s\n' "${!res[@]}" | sed -n "s/^session_processes_pss_kib_\([a-z0-9_]*\)\.$run\$/\1/p"
done | sort -u)
cost_table=$(
  echo "| one session, median of $done_repeats fresh hosts each | sandbox=on | sandbox=off | on − off |"
  echo "|---|---:|---:|---:|"
  cost_row "hello → first video frame, ms (target: on − off ≤ +300)" 'k1' '%.0f' s1_hello_to_first_frame_ms
  cost_row "… hello → welcome (the session's processes up), ms" 'k1' '%.0f' s1_hello_to_welcome_ms
  cost_row "its processes" 'k1' '%.0f' s1_processes
  cost_row "memory, PSS of its processes + host's RSS growth, MiB (target: on − off ≤ +15)" \
    'k1 / 1024 + (k2 - k3) / 1024' '%.1f' s1_processes_pss_kib host_rss_kib host_idle_rss_kib
  cost_row "… PSS of its processes, MiB" 'k1 / 1024' '%.1f' s1_processes_pss_kib
  zero_missing=1
  for c in $comms; do
    cost_row "… … \`$(echo "$c" | tr _ -)\`, MiB" 'k1 / 1024' '%.1f' "session_processes_pss_kib_$c"
  done
  zero_missing=
  cost_row "… host's RSS growth, MiB" '(k1 - k2) / 1024' '%.1f' host_rss_kib host_idle_rss_kib
  cost_row "its processes' CPU, cores" 'k1' '%.3f' s1_processes_cpu_cores
)
cost_verdict="The sandbox adds **$d_ff ms** from hello to the first frame (target
≤ +300 ms: $(met "$d_ff" 300)) and **$d_mem MiB** per session (target ≤ +15 MiB:
$(met "$d_mem" 15))."

# --- the machine ---
nproc_=$(nproc)
cpu_model=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)
mem=$(awk '/^MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)
kernel=$(uname -r)
if [[ -f /sys/fs/cgroup/cgroup.controllers ]]; then cgroups="v2"; else cgroups="v1"; fi
autogroup=$(cat /proc/sys/kernel/sched_autogroup_enabled 2>/dev/null || echo "?")
[[ $autogroup == 1 ]] && autogroup="on" || { [[ $autogroup == 0 ]] && autogroup="off"; }
sway_version=$(sway --version 2>/dev/null | sed 's/^sway version //' || echo "?")
bwrap_version=$(bwrap --version 2>/dev/null | sed 's/^bubblewrap //' || echo "?")
slirp_version=$(slirp4netns --version 2>/dev/null | sed -n "s/^slirp4netns version //p" || echo "?")
pipewire_version=$(pipewire --version 2>/dev/null | sed -n 's/.*libpipewire \([0-9.]*\).*/\1/p' | head -n 1)
commit=$(bench_commit)
when=$(date -u '+%Y-%m-%d %H:%M UTC')
settings="BENCH_SECONDS=$seconds BENCH_WARMUP=$warmup BENCH_BUSY_LOOPS=$busy_loops BENCH_REPEATS=$repeats BENCH_COST_SECONDS=$cost_seconds BENCH_COST_WARMUP=$cost_warmup BENCH_MODE=$mode BENCH_BITRATE=$bitrate BENCH_PRESET=$preset BENCH_TIME_LIMIT=$time_limit BENCH_QUIET=$quiet BENCH_QUIET_WAIT=$quiet_wait"
busy_list=$(for run in a b c "${cost_runs[@]}"; do printf '%s: %s, ' "$run" "${res[busy_before.$run]:-–}"; done | sed 's/, $//')
repeats_note="$done_repeats of $repeats repeats"
[[ -z $stopped_early ]] || repeats_note="$repeats_note ($stopped_early)"

results=$(cat <<EOF
## Sandboxes (issue 16)

\`bench/sandbox.sh\` asks what the wlroots sessions' sandboxes (an account
per device, bubblewrap, slirp4netns, a cgroup, the apps below the host's priority) protect
and what they cost. Every run starts a fresh \`funkhaus serve --backend
wlroots\` (preset \`$preset\`, $bitrate kb/s, ${width}×${height}@${fps}) whose \`app=\` is
\`bench/fh-bench-sandbox-app.sh\`, copied with \`fh-input-recorder\` into a
\`sandbox-binds\` folder. It picks by \`FUNKHAUS_SESSION_SERIAL\`: the host
numbers its sessions 1, 2, … in the order of their hellos, and
\`bench/fh-bench-client --one-by-one\` sends each hello after the previous
welcome, so the client's session 1 is the host's (the script checks which
app each session ran). Session 1 runs the animated app of
[wlroots sessions](#wlroots-sessions-issue-3)
(\`tests/apps/fh-input-recorder --animate\`: every frame fully damaged);
session 2 either sleeps or runs $busy_loops shell busy loops, as the device's
account inside its sandbox. All runs are one paired device
(\`fh-bench-client --credential\`; the hosts share their config dir), so its
account (\`fh-<device id>\`) is made once, on the very first session, and
removed at the end. Before each run the script waits until the machine is
quiet (at most $quiet cores busy, waiting at most $quiet_wait s in all).

**Noisy neighbour.** Two sessions at once, $warmup s of warm-up and $seconds s
measured, in three runs: (a) session 2 sleeps; (b) it burns with the
protection on (\`app-nice=10\` and \`session-cgroups=on\`, the defaults);
(c) it burns with the protection off (\`app-nice=0\`,
\`session-cgroups=off\`). The table gives session 1's frames per second as
the client received them and their share of run (a)'s, its capture →
received latency per frame (the host's capture time in the video header
against the client's clock, the same \`CLOCK_MONOTONIC\`), the frames the
host's \`stats\` report dropped, and the CPU (on-CPU time as the scheduler
counts it, \`/proc/PID/task/*/schedstat\`) of each session's processes,
found by \`FUNKHAUS_SESSION\` in their environment (read as root from
outside the sandbox's PID namespace). While a run warms up, the script
notes how each session's app actually runs: its nice, cpu cgroup and
autogroup (\`/proc/PID/stat\`, \`cgroup\`, \`autogroup\`), so that a
setting that did not take effect shows. Where the kernel's autogroups are
on, every \`setsid()\` starts a group, the CPU is shared between groups
first, and a nice value ranks a process only within its group; a process
in a cpu cgroup other than the root one is in no autogroup.

$noisy_verdict

$noisy_table

**Cost of the sandbox.** One session with \`sandbox=on\` and with
\`sandbox=off\` (everything else as by default), alternating, a fresh host
each time, ${cost_warmup} s of warm-up and ${cost_seconds} s measured. Hello → first frame runs
from the moment the client sent its hello to its first video frame: the
host makes the session's runtime dir and its PipeWire, starts sway (and
in it the app), welcomes the client, and encodes and sends the first
picture. Memory is read at the window's end from
\`/proc/PID/smaps_rollup\`: the PSS of every process of the session (a
shared page split among the processes that map it): sway, the shell that
starts the app, the app, and the session's own PipeWire, WirePlumber and
pipewire-pulse, which the wlroots backend starts with or without the
sandbox; with it also bubblewrap's processes and slirp4netns (the session's
network). To that it adds the growth of the host's RSS over the idle host
(the host's share: its encoder, its connection to the session's
PipeWire). A figure is the median over the repeats, "on − off" the
difference of the medians. Processes are named as the kernel keeps their
names (15 characters, punctuation shown as \`-\`).

$cost_verdict

$cost_table

- machine: $nproc_ CPUs ($cpu_model), $mem memory, Linux $kernel,
  cgroups $cgroups, scheduler autogroups $autogroup; sway $sway_version,
  bubblewrap $bwrap_version, slirp4netns $slirp_version, PipeWire ${pipewire_version:-?}
- settings as they took effect: $settings_note
- the device's first session (its account made then): hello → first frame
  $(r s1_hello_to_first_frame_ms a) ms, in run (a)
- load average (1, 5, 15 min) before: $load_before, after: $load_after;
  cores busy besides us just before each run: $busy_list;
  waited for quiet: ${quiet_waited} s
- cost: $repeats_note
- $when, commit $commit, \`bench/sandbox.sh\` ($settings), as $(id -un)
EOF
)

if bench_may_publish; then
  bench_write_section "## Sandboxes (issue 16)" "$results"
fi

echo
printf '%s\n' "$results"
