#!/usr/bin/env bash
# funkhaus side by side with the pipelines people would use instead (issue
# 8), on the same frames, in the same run: for each input (the synthetic
# picture at 1280x720@60 and 1920x1080@60, a wlroots desktop with an
# animated app) it runs, in alternating rounds,
#   funkhaus   `funkhaus serve` + fh-bench-client (one session)
#   wolf       fh-bench-pipeline -p wolf: GStreamer x264enc set as Wolf sets it
#   sunshine   fh-bench-pipeline -p sunshine: libx264 as Sunshine opens it
#   encoder    fh-bench-pipeline -p encoder: the host's encoder alone (the floor)
# all at the same preset, bitrate and thread/slice count; then, on the
# synthetic inputs, funkhaus and the encoder alone at the same time, round
# by round (the ratio of their CPU per frame, taken under the same machine,
# holds from one run to the next where the alternating rounds move by a
# tenth); then finds how many synthetic sessions of each the machine
# sustains (every one at >= 95 % of its frame rate, nothing dropped; a
# failing count is tried once more at the pipeline's next turn) and what a
# frame costs at that count (funkhaus and the encoder alone in alternating
# rounds at the count both sustain); then the same two
# once more with the encoder threads funkhaus picks itself when its config
# leaves them to it (its default, core/encoder-threads.h: a fair share of
# the cores), the encoder alone given the same thread count for each
# instance (funkhaus-own, encoder-own). Prints its figures last and
# writes a table into docs/performance.md (its "## Side by side with other
# hosts (issue 8)" section) and a plot into docs/img/side-by-side.png.
#
# Usage: bench/compare.sh [--no-docs]
# Environment: BENCH_ROUNDS (3), BENCH_SECONDS (measured per run, 4),
#              BENCH_WARMUP (1), BENCH_PRESET (superfast, as Wolf and Sunshine),
#              BENCH_THREADS (encoder threads = slices, 2), BENCH_BITRATE (8000),
#              BENCH_WLROOTS_MODE (1280x720@30), BENCH_MAX_SESSIONS (16),
#              BENCH_SESSION_SECONDS (3), BENCH_RUN_AS (funkhaus), BUILD_DIR (build),
#              BENCH_COMMAND (how the run was started, for the docs).
# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh" "$@"

rounds=${BENCH_ROUNDS:-3}
seconds=${BENCH_SECONDS:-4}
warmup=${BENCH_WARMUP:-1}
preset=${BENCH_PRESET:-superfast}
threads=${BENCH_THREADS:-2}
bitrate=${BENCH_BITRATE:-8000}
wl_mode=${BENCH_WLROOTS_MODE:-1280x720@30}
max_sessions=${BENCH_MAX_SESSIONS:-16}
session_seconds=${BENCH_SESSION_SECONDS:-3}
run_as=${BENCH_RUN_AS:-funkhaus}
build=${BUILD_DIR:-build}
command_line=${BENCH_COMMAND:-bench/compare.sh}
for v in rounds seconds warmup threads bitrate max_sessions session_seconds; do
  if [[ ! ${!v} =~ ^[1-9][0-9]*$ ]]; then
    echo "bench/compare.sh: $v must be a whole number above 0" >&2
    exit 2
  fi
done
if [[ ! $wl_mode =~ ^[0-9]+x[0-9]+@[0-9]+$ ]]; then
  echo "bench/compare.sh: BENCH_WLROOTS_MODE must look like 1280x720@30" >&2
  exit 2
fi
if [[ ! -x $build/bench/fh-bench-pipeline ]] && ! ninja -C "$build" bench/fh-bench-pipeline >&2; then
  echo "bench/compare.sh: $build/bench/fh-bench-pipeline is not built: it needs GStreamer's" \
    "headers (apt-get install libgstreamer1.0-dev libgstreamer-plugins-base1.0-dev," \
    "then meson setup --reconfigure $build); bench/all.sh does all of it" >&2
  exit 1
fi
started=$SECONDS

tmp=$(mktemp -d -t funkhaus-bench-compare.XXXXXX)
host_pid=
declare -a child_pids=()

cleanup() {
  local p
  for p in "${child_pids[@]}"; do stop_pid "$p" TERM 100; done
  stop_host
  kill_sessions
  bench_remove_accounts "$tmp"/*/host.*/config/funkhaus/devices.ini
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

ninja -C "$build" bench/fh-bench-client bench/fh-bench-pipeline bench/fh-bench-speed src/funkhaus \
  tests/fh-input-recorder >&2
# How fast the machine was before each measurement (bench/fh-bench-speed).
speeds=()
recorder=$(realpath "$build/tests/fh-input-recorder")
# wlroots sessions are sandboxed: the app from a folder they see.
bench_sandbox_setup "$tmp" "$build"
app="$bench_recorder /dev/null --animate"

# key value lines → associative array $1, keys prefixed with $2
declare -A res
parse() { # $1 = array name, $2 = prefix, $3 = file
  local -n into=$1
  local k v
  while read -r k v; do
    [[ $k =~ ^[a-z0-9_]+$ && $v =~ ^-?[0-9.]+$ ]] && into[$2$k]=$v
  done < "$3"
}

# Starts `funkhaus serve` with $2 = backend in a new folder below $1 (a
# count tried again gets a host of its own) and encoder-threads=$3 ($threads
# when not given; 0 leaves them to the host); sets host_pid, port, pin.
host_runs=0
start_host() {
  host_runs=$(( host_runs + 1 ))
  bench_start_host "$1/host.$host_runs" "$(printf '[host]\napp=%s\nrun-as=%s\nencoder-threads=%s\n%s' \
    "$app" "$run_as" "${3:-$threads}" "$bench_sandbox_config")" --backend "$2" --bitrate "$bitrate" \
    --encoder-preset "$preset" --grace 1
  port=$host_port pin=$host_pin
}

# One run of pipeline $2 on input $1 ("synthetic:WxH@F" or "wlroots:WxH@F")
# with $3 instances at once (sessions for funkhaus); output files
# $4.out / $4.<i>.out. Returns non-zero when a program failed.
run_one() {
  local input=$1 p=$2 n=$3 base=$4 src=${1%%:*} mode=${1#*:} w h f rc=0 i
  local dir=$base.d
  [[ $mode =~ ^([0-9]+)x([0-9]+)@([0-9]+)$ ]]
  w=${BASH_REMATCH[1]} h=${BASH_REMATCH[2]} f=${BASH_REMATCH[3]}
  local secs=$seconds wu=$warmup
  (( n > 1 )) && secs=$session_seconds
  # Sessions started together: the host's encoders take their share of
  # the cores again FH_ENCODER_REPICK_MS (2 s) after the last one started,
  # a new keyframe each; the window begins after that, for every pipeline.
  (( n > 1 && wu < 3 )) && wu=3
  mkdir -p "$dir"
  wait_quiet
  speeds+=("$(bench_machine_speed)")
  if [[ $p == funkhaus || $p == funkhaus-own ]]; then
    local backend=synthetic own=
    [[ $src == wlroots ]] && backend=wlroots
    [[ $p == funkhaus-own ]] && own=0
    start_host "$dir" "$backend" $own
    timeout -k 5 $(( wu + secs + 3 * n + 40 )) \
      "$build/bench/fh-bench-client" --port "$port" --pin "$pin" --host-pid "$host_pid" \
      --width "$w" --height "$h" --fps "$f" --sessions "$n" --seconds "$secs" \
      --warmup "$wu" > "$base.out" 2> "$base.err" || rc=$?
    stop_host
  else
    local extra=()
    [[ $src == wlroots ]] && extra=(--source wlroots --app "$app" --run-as "$run_as")
    child_pids=()
    for i in $(seq "$n"); do
      # encoder-own: --threads 0 takes what the host's sessions settle on
      # with n at once (fh_encoder_threads(), src/core/encoder-threads.h).
      local prog=$p t=$threads
      [[ $p == encoder-own ]] && prog=encoder t=0
      timeout -k 5 $(( wu + secs + 40 )) \
        "$build/bench/fh-bench-pipeline" -p "$prog" "${extra[@]}" -W "$w" -H "$h" -r "$f" \
        --bitrate "$bitrate" --encoder-preset "$preset" --threads "$t" --instances "$n" \
        --serial "$i" --seconds "$secs" --warmup "$wu" > "$base.$i.out" 2> "$base.$i.err" &
      child_pids+=($!)
    done
    for i in "${!child_pids[@]}"; do wait "${child_pids[$i]}" || rc=$?; done
    child_pids=()
    kill_sessions
    (( n > 1 )) || cp "$base.1.out" "$base.out"
  fi
  if (( rc != 0 )); then
    echo "bench/compare.sh: $p on $input ($n at once) failed (status $rc):" >&2
    grep -hv '^\[libx264\|^x264 \[' "$base"*.err 2>/dev/null | tail -n 15 >&2 || true
  fi
  return $rc
}

# funkhaus (one session) and the encoder alone (one process) at the same
# time on synthetic input $1; outputs $2.funkhaus.out, $2.encoder.out. The
# encoder's window begins a second later than its start, about when the
# client has paired and warmed up. Returns non-zero when one failed.
run_pair() {
  local input=$1 base=$2 mode=${1#*:} w h f rc=0 enc_pid
  [[ $mode =~ ^([0-9]+)x([0-9]+)@([0-9]+)$ ]]
  w=${BASH_REMATCH[1]} h=${BASH_REMATCH[2]} f=${BASH_REMATCH[3]}
  mkdir -p "$base.d"
  wait_quiet
  speeds+=("$(bench_machine_speed)")
  start_host "$base.d" synthetic
  timeout -k 5 $(( warmup + seconds + 40 )) \
    "$build/bench/fh-bench-pipeline" -p encoder -W "$w" -H "$h" -r "$f" --bitrate "$bitrate" \
    --encoder-preset "$preset" --threads "$threads" --serial 1 --seconds "$seconds" \
    --warmup $(( warmup + 1 )) > "$base.encoder.out" 2> "$base.encoder.err" &
  enc_pid=$!
  child_pids=("$enc_pid")
  timeout -k 5 $(( warmup + seconds + 40 )) \
    "$build/bench/fh-bench-client" --port "$port" --pin "$pin" --host-pid "$host_pid" \
    --width "$w" --height "$h" --fps "$f" --sessions 1 --seconds "$seconds" \
    --warmup "$warmup" > "$base.funkhaus.out" 2> "$base.funkhaus.err" || rc=$?
  wait "$enc_pid" || rc=$?
  child_pids=()
  stop_host
  if (( rc != 0 )); then
    echo "bench/compare.sh: funkhaus and the encoder alone at once on $input failed (status $rc):" >&2
    grep -hv '^\[libx264\|^x264 \[' "$base".*.err 2>/dev/null | tail -n 15 >&2 || true
  fi
  return $rc
}

inputs=("synthetic:1280x720@60" "synthetic:1920x1080@60" "wlroots:$wl_mode")
pipelines=(funkhaus wolf sunshine encoder)
runs=$(( ${#inputs[@]} * rounds * ${#pipelines[@]} ))
echo "== side by side: ${#inputs[@]} inputs × $rounds rounds × ${#pipelines[@]} pipelines" \
  "($runs runs of ${warmup} s + ${seconds} s, about $(( runs * (warmup + seconds + 2) + 40 )) s)" >&2
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
k=0
for input in "${inputs[@]}"; do
  for r in $(seq "$rounds"); do
    # Alternate, and rotate who goes first, so that a machine that slows
    # down for a while (a shared one does) moves every pipeline alike.
    for j in $(seq 0 $(( ${#pipelines[@]} - 1 ))); do
      p=${pipelines[$(( (j + r - 1) % ${#pipelines[@]} ))]}
      k=$(( k + 1 ))
      base=$tmp/$k
      echo "   [$k/$runs] $input round $r: $p" >&2
      if run_one "$input" "$p" 1 "$base"; then
        parse res "$input.$p.$r." "$base.out"
      fi
    done
  done
done

# --- funkhaus and the encoder alone at the same time ---
pair_inputs=("synthetic:1280x720@60" "synthetic:1920x1080@60")
echo "== funkhaus and the encoder alone at the same time: ${#pair_inputs[@]} inputs × $rounds rounds" >&2
for input in "${pair_inputs[@]}"; do
  for r in $(seq "$rounds"); do
    echo "   $input round $r" >&2
    if run_pair "$input" "$tmp/pair.${input//[:@]/_}.$r"; then
      parse res "pair.$input.funkhaus.$r." "$tmp/pair.${input//[:@]/_}.$r.funkhaus.out"
      parse res "pair.$input.encoder.$r." "$tmp/pair.${input//[:@]/_}.$r.encoder.out"
    fi
  done
done

# --- sessions sustained: synthetic sessions, 1 … at once ---
# A funkhaus run's cores figure $2 (total_cpu_cores, …) as ms a frame.
cores_ms() { # $1 = prefix "input.funkhaus.round.", $2 = key
  awk -v c="${res[$1$2]:-}" -v w="${res[${1}window_s]:-}" -v n="${res[${1}frames]:-}" \
    'BEGIN { if (c != "" && n > 0) printf "%.3f\n", c * w * 1000 / n }'
}
# CPU a frame takes, all of it, ms (funkhaus: the host's on-CPU time).
cpu_ms() { # $1 = prefix "input.pipeline.round."
  local pre=$1
  if [[ $pre == *.funkhaus.* ]]; then
    cores_ms "$pre" total_cpu_cores
  else
    echo "${res[${pre}total_cpu_ms_per_frame]:-}"
  fi
}
median() { sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) { print "–"; exit }
  m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
  s = sprintf ("%.3f", m); sub (/\.?0+$/, "", s); print s }'; }

# CPU per frame of run $2 of pipeline $1 with several instances at once,
# all of them together (funkhaus: the host's on-CPU time over every
# session's frames; the others: the mean of their processes' own figure).
busy_cpu_of() {
  if [[ $1 == funkhaus* ]]; then
    awk '$1 == "total_cpu_cores" { c = $2 } $1 == "window_s" { w = $2 } $1 == "frames" { f = $2 }
      END { if (c != "" && f > 0) printf "%.3f\n", c * w * 1000 / f }' "$2.out"
  else
    awk '$1 == "total_cpu_ms_per_frame" { s += $2; k++ } END { if (k) printf "%.3f\n", s / k }' \
      "$2".*.out
  fi
}

sustained_try() { # $1 = input, $2 = pipeline, $3 = n; 0 when sustained
  local input=$1 p=$2 n=$3 f=${1##*@} base=$tmp/s.$2.${1//[:@]/_}.$3 ok=0
  echo "   $p: $n at once on $input" >&2
  run_one "$input" "$p" "$n" "$base" || return 1
  awk -v min="$(awk -v f="$f" 'BEGIN { print f * 0.95 }')" -v p="$p" '
    p ~ /^funkhaus/ && $1 == "fps_min" && $2 + 0 < min + 0 { bad = 1 }
    p !~ /^funkhaus/ && $1 == "fps" && $2 + 0 < min + 0 { bad = 1 }
    $1 == "dropped" && $2 + 0 > 0 { bad = 1 }
    $1 == "frames" { seen++ }
    END { exit (bad || !seen) ? 1 : 0 }' "$base"*.out 2>/dev/null || ok=1
  if [[ $p != funkhaus* ]] && (( $(cat "$base".*.out 2>/dev/null | grep -c '^frames ') < n )); then
    ok=1
  fi
  (( ok )) || busy_cpu[$input.$p.$n]=$(busy_cpu_of "$p" "$base")
  return $ok
}

declare -A sustained busy_cpu
session_inputs=("synthetic:1280x720@60" "synthetic:1920x1080@60")
# Finds sustained[$input.$p] for pipelines $@ on every session input.
find_sustained() {
  local input f p per c left
  local -a ps=("$@")
  for input in "${session_inputs[@]}"; do
  f=${input##*@}
  # Each pipeline starts near what one instance's CPU predicts for the busy
  # cores (funkhaus-own and encoder-own: at what funkhaus and the encoder
  # sustained), then steps up until a count fails, or down until one
  # holds. The pipelines take turns, one try each, so that a busy spell of
  # the machine falls on all of them rather than on one; a count that fails
  # is tried once more at the pipeline's next turn, after the others' (a
  # retry at once fell in the same slow spell of this virtual machine, whose
  # speed moves by a third while idle).
  local -A n=() best=() worst=() dir=() done_=() retry=()
  for p in "${ps[@]}"; do
    if [[ $p == *-own ]]; then
      c=${sustained[$input.${p%-own}]:-1}
      n[$p]=$(( c < 1 ? 1 : c > max_sessions ? max_sessions : c ))
    else
      per=$(for r in $(seq "$rounds"); do cpu_ms "$input.$p.$r."; done | grep . | median)
      n[$p]=$(awk -v c="$per" -v f="$f" -v n="$(nproc)" -v m="$max_sessions" 'BEGIN {
        if (c == "–" || c <= 0) { print 1; exit }
        g = int (n * 0.85 * 1000 / (c * f)); if (g < 1) g = 1; if (g > m) g = m; print g }')
    fi
    best[$p]=0 worst[$p]= dir[$p]= done_[$p]= retry[$p]=
  done
  while :; do
    left=0
    for p in "${ps[@]}"; do
      [[ -z ${done_[$p]} ]] || continue
      left=1
      c=${n[$p]}
      if sustained_try "$input" "$p" "$c"; then
        retry[$p]=
        best[$p]=$c
        if [[ ${dir[$p]} == down ]] || (( c >= max_sessions )); then done_[$p]=1
        else dir[$p]=up n[$p]=$(( c + 1 )); fi
      elif [[ -z ${retry[$p]} ]]; then
        retry[$p]=1
        echo "   $p: $c not sustained; once more at its next turn" >&2
      else
        retry[$p]=
        worst[$p]=$c
        if [[ ${dir[$p]} == up ]] || (( c <= 1 )); then done_[$p]=1
        else dir[$p]=down n[$p]=$(( c - 1 )); fi
      fi
      [[ -z ${done_[$p]} ]] || echo "   $p on $input: ${best[$p]} sustained" >&2
    done
    (( left )) || break
  done
  for p in "${ps[@]}"; do
    sustained[$input.$p]=${best[$p]}
    sustained[$input.$p.failed]=${worst[$p]:-"> $max_sessions"}
  done
  done
}
echo "== sessions sustained (each try $(( warmup < 3 ? 3 : warmup )) s + ${session_seconds} s)" >&2
find_sustained "${pipelines[@]}"

# --- funkhaus and the encoder alone busy: rounds at the count both sustain ---
# One try each at that count moved by a tenth from one run to the next;
# the ratio is the median of alternating rounds, as above.
busy_count() { # $1 = input, $2 = "-own" or "": the larger count both sustained
  local a=${sustained[$1.funkhaus${2:-}]:-0} b=${sustained[$1.encoder${2:-}]:-0}
  echo $(( a < b ? a : b ))
}
declare -A busy_round
busy_rounds() { # $1 = "-own" or ""
  local input c r p base
  local -a order
  for input in "${session_inputs[@]}"; do
    c=$(busy_count "$input" "$1")
    (( c > 0 )) || continue
    for r in $(seq "$rounds"); do
      order=(funkhaus$1 encoder$1)
      (( r % 2 )) || order=(encoder$1 funkhaus$1)
      for p in "${order[@]}"; do
        base=$tmp/b.$p.${input//[:@]/_}.$r
        echo "   $input round $r: $p, $c at once" >&2
        if run_one "$input" "$p" "$c" "$base"; then
          busy_round[$input.$p.$r]=$(busy_cpu_of "$p" "$base")
        fi
      done
    done
  done
}
echo "== funkhaus and the encoder alone at the count both sustain: $rounds rounds" >&2
busy_rounds ""

# --- the same with the encoder threads funkhaus picks itself ---
echo "== with funkhaus's own choice of encoder threads (encoder-threads=0), the encoder" \
  "alone given the same for each instance: sessions sustained, then $rounds rounds" >&2
find_sustained funkhaus-own encoder-own
busy_rounds -own
load_after=$(cut -d' ' -f1-3 /proc/loadavg)
elapsed=$(( SECONDS - started ))
# "0.74-0.81 ms, median 0.76 (62 measurements)": the pipelines take turns,
# so a slower spell of the machine falls on all of them.
speed_range=$(printf '%s\n' "${speeds[@]}" | awk '/^[0-9.]+$/' | sort -g | awk '
  { v[NR] = $1 } END { if (!NR) { print "not measured"; exit }
  m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
  printf "%s-%s ms, median %.2f (%d measurements)", v[1], v[NR], m, NR }')

# --- figures ---
# value of $3 for input $1, pipeline $2: the median over rounds
med() {
  local r
  for r in $(seq "$rounds"); do echo "${res[$1.$2.$r.$3]:-}"; done | grep . | median
}
med_cpu() {
  local r
  for r in $(seq "$rounds"); do cpu_ms "$1.$2.$r."; done | grep . | median
}
# Latency: funkhaus's capture → send (its stats), the others' capture →
# access unit out; $3 = 50 or 99.
lat_key() { [[ $1 == funkhaus ]] && echo "capture_to_send_ms_p$2" || echo "capture_to_encoded_ms_p$2"; }
rss_key() { [[ $1 == funkhaus ]] && echo host_rss_kib || echo rss_kib; }
value() { # $1 = input, $2 = pipeline, $3 = figure, $4 = round
  local pre=$1.$2.$4.
  case $3 in
    cpu) cpu_ms "$pre" ;;
    p50) echo "${res[$pre$(lat_key "$2" 50)]:-}" ;;
    p99) echo "${res[$pre$(lat_key "$2" 99)]:-}" ;;
    dropped) echo "${res[${pre}dropped]:-}" ;;
    rss) awk -v k="${res[$pre$(rss_key "$2")]:-}" 'BEGIN { if (k != "") printf "%.1f\n", k / 1024 }' ;;
    # funkhaus only: the host before its client came, and what the
    # session added to it.
    idle_rss) awk -v k="${res[${pre}host_idle_rss_kib]:-}" 'BEGIN { if (k != "") printf "%.1f\n", k / 1024 }' ;;
    rss_growth) awk -v a="${res[${pre}host_rss_kib]:-}" -v b="${res[${pre}host_idle_rss_kib]:-}" \
      'BEGIN { if (a != "" && b != "") printf "%.1f\n", (a - b) / 1024 }' ;;
  esac
}
fig() { # median over rounds
  local r
  for r in $(seq "$rounds"); do value "$1" "$2" "$3" "$r"; done | grep . | median
}
dropped_sum() {
  local r
  for r in $(seq "$rounds"); do value "$1" "$2" dropped "$r"; done | awk '{ s += $1 } END { print s + 0 }'
}
# funkhaus / $2 for figure $3 on input $1: the median of per-round ratios
ratio() {
  local r
  for r in $(seq "$rounds"); do
    awk -v a="$(value "$1" funkhaus "$3" "$r")" -v b="$(value "$1" "$2" "$3" "$r")" \
      'BEGIN { if (a != "" && b != "" && b > 0) printf "%.4f\n", a / b }'
  done | sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) { print "–"; exit }
    m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2; printf "%.2f", m }'
}
# CPU per frame at busy_count: funkhaus and the encoder alone the median
# of their rounds there, Wolf and Sunshine their one sustained try (or –).
busy_fig() { # $1 = input, $2 = pipeline
  local v r
  if [[ $2 == funkhaus* || $2 == encoder* ]]; then
    for r in $(seq "$rounds"); do echo "${busy_round[$1.$2.$r]:-}"; done | grep . | median
    return
  fi
  v=${busy_cpu[$1.$2.$(busy_count "$1")]:-}
  [[ -n $v ]] && echo "$v" || echo "–"
}
# funkhaus and the encoder alone at the same time on input $1: the
# per-round ratios of their CPU per frame, then the median.
pair_ratios() {
  local r
  for r in $(seq "$rounds"); do
    awk -v a="$(cpu_ms "pair.$1.funkhaus.$r.")" -v b="$(cpu_ms "pair.$1.encoder.$r.")" \
      'BEGIN { if (a != "" && b != "" && b > 0) printf "%.2f\n", a / b }'
  done
}
# funkhaus's main thread in those rounds, CPU per frame (ms), and funkhaus
# without it against the encoder alone, per round.
pair_main() {
  local r
  for r in $(seq "$rounds"); do cores_ms "pair.$1.funkhaus.$r." host_main_thread_cores; done
}
pair_rest_ratios() {
  local r
  for r in $(seq "$rounds"); do
    awk -v a="$(cpu_ms "pair.$1.funkhaus.$r.")" \
      -v m="$(cores_ms "pair.$1.funkhaus.$r." host_main_thread_cores)" \
      -v b="$(cpu_ms "pair.$1.encoder.$r.")" \
      'BEGIN { if (a != "" && m != "" && b != "" && b > 0) printf "%.2f\n", (a - m) / b }'
  done
}
pair_fig() { # $1 = input, $2 = pipeline: median CPU per frame over rounds
  local r
  for r in $(seq "$rounds"); do cpu_ms "pair.$1.$2.$r."; done | grep . | median
}
# funkhaus and the encoder alone at busy_count on input $1: the per-round
# ratios of their CPU per frame.
busy_ratios() { # $1 = input, $2 = "-own" or ""
  local r
  for r in $(seq "$rounds"); do
    awk -v a="${busy_round[$1.funkhaus${2:-}.$r]:-}" -v b="${busy_round[$1.encoder${2:-}.$r]:-}" \
      'BEGIN { if (a != "" && b != "" && b > 0) printf "%.4f\n", a / b }'
  done
}
busy_ratio() { # $1 = input, $2 = pipeline; against the encoder alone the median of the per-round ratios
  if [[ $2 == encoder ]]; then
    busy_ratios "$1" | median | awk '{ if ($1 == "–") print; else printf "%.2f", $1 }'
    return
  fi
  awk -v a="$(busy_fig "$1" funkhaus)" -v b="$(busy_fig "$1" "$2")" \
    'BEGIN { if (a != "–" && b != "–" && b > 0) printf "%.2f", a / b; else print "–" }'
}
sratio() { # sessions: funkhaus / $2 on input $1 (funkhaus-own / encoder-own: $2 = encoder-own)
  local f=funkhaus
  [[ $2 == *-own ]] && f=funkhaus-own
  awk -v a="${sustained[$1.$f]:-0}" -v b="${sustained[$1.$2]:-0}" \
    'BEGIN { if (b > 0) printf "%.2f", a / b; else print "–" }'
}
label() {
  case $1 in
    synthetic:*) echo "synthetic ${1#*:}" ;;
    wlroots:*) echo "wlroots desktop ${1#*:}" ;;
  esac
}

table=$(
  echo "| input | figure | funkhaus | Wolf (GStreamer) | Sunshine (libavcodec) | encoder alone | funkhaus / Wolf | funkhaus / Sunshine | funkhaus / encoder |"
  echo "|---|---|---:|---:|---:|---:|---:|---:|---:|"
  for input in "${inputs[@]}"; do
    l=$(label "$input")
    printf '| %s | CPU time per frame, ms | %s | %s | %s | %s | %s | %s | %s |\n' "$l" \
      "$(fig "$input" funkhaus cpu)" "$(fig "$input" wolf cpu)" "$(fig "$input" sunshine cpu)" \
      "$(fig "$input" encoder cpu)" "$(ratio "$input" wolf cpu)" "$(ratio "$input" sunshine cpu)" \
      "$(ratio "$input" encoder cpu)"
    for q in 50 99; do
      printf '| %s | capture → send p%s, ms | %s | %s | %s | %s | %s | %s | %s |\n' "$l" "$q" \
        "$(fig "$input" funkhaus "p$q")" "$(fig "$input" wolf "p$q")" \
        "$(fig "$input" sunshine "p$q")" "$(fig "$input" encoder "p$q")" \
        "$(ratio "$input" wolf "p$q")" "$(ratio "$input" sunshine "p$q")" \
        "$(ratio "$input" encoder "p$q")"
    done
    printf '| %s | frames dropped (all rounds) | %s | %s | %s | %s | – | – | – |\n' "$l" \
      "$(dropped_sum "$input" funkhaus)" "$(dropped_sum "$input" wolf)" \
      "$(dropped_sum "$input" sunshine)" "$(dropped_sum "$input" encoder)"
    printf '| %s | resident memory, MiB | %s | %s | %s | %s | %s | %s | %s |\n' "$l" \
      "$(fig "$input" funkhaus rss)" "$(fig "$input" wolf rss)" "$(fig "$input" sunshine rss)" \
      "$(fig "$input" encoder rss)" "$(ratio "$input" wolf rss)" "$(ratio "$input" sunshine rss)" \
      "$(ratio "$input" encoder rss)"
    printf '| %s | … funkhaus: the host before its client came / what the session added, MiB | %s / %s | – | – | – | – | – | – |\n' \
      "$l" "$(fig "$input" funkhaus idle_rss)" "$(fig "$input" funkhaus rss_growth)"
  done
  for input in "${pair_inputs[@]}"; do
    printf '| %s | CPU time per frame, funkhaus and the encoder alone at the same time, ms | %s | – | – | %s | – | – | %s |\n' \
      "$(label "$input")" "$(pair_fig "$input" funkhaus)" "$(pair_fig "$input" encoder)" \
      "$(pair_ratios "$input" | median | awk '{ if ($1 == "–") print; else printf "%.2f", $1 }')"
  done
  for input in "${session_inputs[@]}"; do
    printf '| %s | sessions sustained | %s | %s | %s | %s | %s | %s | %s |\n' "$(label "$input")" \
      "${sustained[$input.funkhaus]}" "${sustained[$input.wolf]}" "${sustained[$input.sunshine]}" \
      "${sustained[$input.encoder]}" "$(sratio "$input" wolf)" "$(sratio "$input" sunshine)" \
      "$(sratio "$input" encoder)"
    printf '| %s | CPU time per frame with %s at once, ms | %s | %s | %s | %s | %s | %s | %s |\n' \
      "$(label "$input")" "$(busy_count "$input")" "$(busy_fig "$input" funkhaus)" \
      "$(busy_fig "$input" wolf)" "$(busy_fig "$input" sunshine)" "$(busy_fig "$input" encoder)" \
      "$(busy_ratio "$input" wolf)" "$(busy_ratio "$input" sunshine)" "$(busy_ratio "$input" encoder)"
  done
  for input in "${session_inputs[@]}"; do
    printf '| %s | sessions sustained, encoder threads as funkhaus picks them (the encoder alone: the same for each instance) | %s | – | – | %s | – | – | %s |\n' \
      "$(label "$input")" "${sustained[$input.funkhaus-own]}" "${sustained[$input.encoder-own]}" \
      "$(sratio "$input" encoder-own)"
    printf '| %s | CPU time per frame with %s at once, the same, ms | %s | – | – | %s | – | – | %s |\n' \
      "$(label "$input")" "$(busy_count "$input" -own)" "$(busy_fig "$input" funkhaus-own)" \
      "$(busy_fig "$input" encoder-own)" \
      "$(busy_ratios "$input" -own | median | awk '{ if ($1 == "–") print; else printf "%.2f", $1 }')"
  done
)

first_failed=$(for input in "${session_inputs[@]}"; do
  printf '%s: ' "$(label "$input")"
  for p in "${pipelines[@]}" funkhaus-own encoder-own; do
    printf '%s %s, ' "$p" "${sustained[$input.$p.failed]}"
  done
  echo; done | sed 's/, $//' | paste -sd ';' | sed 's/;/; /g')
# "1280x720@60: 2 1 1 …": the threads encoder-own's instances 1, 2, … took
# in the first busy round (their settings lines).
own_thread_counts=$(for input in "${session_inputs[@]}"; do
  printf '%s: ' "${input#*:}"
  for i in $(seq "$(busy_count "$input" -own)"); do
    sed -n 's/^settings: .* threads=\([0-9]*\).*/\1/p' \
      "$tmp/b.encoder-own.${input//[:@]/_}.1.$i.out" 2>/dev/null | head -n 1 | grep . || echo "?"
  done | paste -sd ' '
done | paste -sd ';' | sed 's/;/; /g')
settings_line() { # the exact settings a pipeline printed
  sed -n 's/^settings: //p' "$tmp"/*.out 2>/dev/null |
    awk -v pat="$1" 'index($0, pat) && !found { print; found = 1 } END { if (!found) print "?" }'
}
# The mode-dependent numbers as what they stand for: W×H@F is the input's mode.
wolf_settings=$(settings_line 'GStreamer' |
  sed 's/width=[0-9]*, height=[0-9]*, framerate=[0-9]*/width=W, height=H, framerate=F/')
sunshine_settings=$(settings_line 'libavcodec libx264: preset' |
  sed 's|bufsize=[0-9]* bits|bufsize=bitrate × 1.5 / F (1.5 frames; one frame with one slice)|')
encoder_settings=$(settings_line 'FhVideoEncoder' | sed 's/g=[0-9]*/g=60 × F/')
client_cpu=$(for input in "${inputs[@]}"; do med "$input" funkhaus client_cpu_cores; done | paste -sd/)
receive=$(for input in "${inputs[@]}"; do
  printf '%s %s / %s ms' "$(label "$input")" "$(med "$input" funkhaus capture_to_receive_ms_p50)" \
    "$(med "$input" funkhaus capture_to_receive_ms_p99)"; echo; done | paste -sd ';' | sed 's/;/; /g')
wl_sessions=$(for p in "${pipelines[@]}"; do
  printf '%s %s' "$p" "$(med "wlroots:$wl_mode" "$p" session_processes_cpu_cores)"; echo; done |
  paste -sd ',' | sed 's/,/, /g')

nproc_=$(nproc)
cpu_model=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)
mem=$(awk '/^MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)
kernel=$(uname -r)
os=$(. /etc/os-release 2>/dev/null && echo "$PRETTY_NAME" || echo "?")
gst_version=$(gst-inspect-1.0 --version 2>/dev/null | sed -n 's/^GStreamer //p' | head -n 1)
x264_version=$(dpkg-query -W -f '${Version}' 'libx264-[0-9]*' 2>/dev/null | head -c 40 || echo "?")
avcodec=$(pkg-config --modversion libavcodec 2>/dev/null || echo "?")
commit=$(bench_commit)
when=$(date -u '+%Y-%m-%d %H:%M UTC')
settings="BENCH_ROUNDS=$rounds BENCH_SECONDS=$seconds BENCH_WARMUP=$warmup BENCH_PRESET=$preset BENCH_THREADS=$threads BENCH_BITRATE=$bitrate BENCH_WLROOTS_MODE=$wl_mode BENCH_MAX_SESSIONS=$max_sessions BENCH_SESSION_SECONDS=$session_seconds"

results=$(cat <<EOF
## Side by side with other hosts (issue 8)

![CPU time per frame, capture → send p50 and sessions sustained, funkhaus and the reference pipelines](img/side-by-side.png)

\`bench/compare.sh\` (run by \`bench/all.sh\`) puts funkhaus next to the
pipelines people use today, in the same run, on the same frames, with the
same encoder settings where the other host lets them be the same:

- **funkhaus**: \`funkhaus serve\` with one session, received by
  \`bench/fh-bench-client\` over its TLS WebSocket, as a browser would
  (acking frames as they arrive, in pairs, as the web client does: at 60 Hz
  the host's main loop reads one ack for two frames besides sending them).
- **Wolf**: GStreamer with \`x264enc\` set exactly as Wolf's default config
  sets its software H.264 encoder, and Wolf's software video params in front
  of it (\`videoconvertscale ! videorate ! caps\`), fed by an \`appsrc\` that
  keeps one frame and drops the older, as Wolf's \`interpipesrc\` does.
- **Sunshine**: libavcodec's libx264 opened with the options Sunshine's
  "software" encoder uses (Sunshine encodes through libavcodec, not
  GStreamer).
- **encoder alone**: the host's own encoder (\`FhVideoEncoder\`, libavcodec →
  libx264) and nothing else: the floor.

The last three run in \`bench/fh-bench-pipeline\`. **Identical input**: on the
synthetic inputs every pipeline gets its frames from the same drawing code
as the host's synthetic backend (\`src/display/synthetic.c\`, first
session's background), rendered straight into that pipeline's own input
buffer (an \`AVFrame\`, or a \`GstBuffer\` from a pool) and paced at the
mode's rate the way the host's capture thread paces — the same pictures bit
for bit, no copy and no pipe in between. On the wlroots input every run
starts its own headless sway through the host's \`wlroots\` backend with the
same animated app (\`fh-input-recorder --animate\`, full damage every
frame) and captures it with the host's own wlr-screencopy + conversion path
into the pipeline's input: the same app and the same capture code, but not
bit-identical frames, since each sway renders its own. Rounds alternate
the four pipelines and rotate who goes first, so a machine that slows down
for a while moves all of them alike; a ratio is the median of the
per-round ratios.

What is measured: **CPU time per frame** is on-CPU time over the measured
window divided by the frames that came out — for funkhaus the host process
(all its threads, \`/proc/PID/task/*/schedstat\`), for the others the
process that renders or captures and encodes (\`getrusage\`, GStreamer's
threads included); on the wlroots input plus the session's sway and app.
**Capture → send** is for funkhaus the time from capture to handing the
message to the WebSocket (the host's \`stats\`, p50 and p99 of each second;
the median over seconds), for the others from capture to the encoded access
unit leaving the encoder (per frame; for Wolf at the \`fakesink\`, the
capture time riding along as a reference-timestamp meta). **Frames
dropped** are frames captured or due but never encoded or sent. **Resident
memory** is the RSS of that one process at the window's end (the sway and
app of a wlroots session not included). For funkhaus the row below it
splits that RSS into the host before its client came (its libraries —
TLS, HTTP, PipeWire, libei, mDNS — and its own state, which every session
shares) and what the session added (its capture, encoder and buffers): a
second session adds about as much again (a little less, the encoder's
library being loaded already), not the whole RSS.
**Sessions sustained** is the
largest number of instances at once of which every one keeps at least 95 %
of its frame rate with nothing dropped: one host with N sessions and one
client for funkhaus, N processes for the others, found by starting near
what one instance's CPU predicts and stepping by one (a count that
fails gets a second try, at that pipeline's next turn), the four pipelines
taking turns try by try.
**CPU time per frame with N at once** is the CPU per frame, all
instances together, at N = the smaller of funkhaus's and the encoder
alone's counts: the cost per frame when the machine is busy. For funkhaus
and the encoder alone it is the median of \`$rounds\` alternating rounds at
N after the search (one try each moved by a tenth from one run to the
next), their ratio the median of the per-round ratios; for Wolf and
Sunshine it is their one sustained try at N (– where they did not sustain
N).
**… encoder threads as funkhaus picks them**: everything above gives every
pipeline the same $threads encoder threads. These two rows give funkhaus
its default instead (\`encoder-threads=0\`: a fair share of the cores
among the sessions' encoders, \`src/core/encoder-threads.h\`; on a busy
machine sliced threads only take turns, and each frame's hand-over to them
costs CPU), and the encoder alone, in the same search and the same
alternating rounds, the thread count each of funkhaus's N sessions
settles on with N at once (a session's encoder takes its share again
2 s after the number of encoders last changed; the window of a try with
more than one instance begins 3 s after the start, for every pipeline):
the ratio stays the host's own cost at equal encoders, while the counts
show what the default gains.
**CPU time per frame, funkhaus and the encoder alone at the same time**:
the alternating rounds above put one contender on the machine at a time,
and on this virtual machine the same run costs up to a fifth more or less
from one half-minute to the next, so their funkhaus / encoder ratio moves
by a tenth from one \`bench/compare.sh\` to the next. Here funkhaus (one
session and its client) and the encoder alone (one process) run at the
same time, on the same synthetic input, each in $rounds rounds of its own
host and process: together they keep well under the machine's
$(nproc) cores busy, and whatever the machine does falls on both; the
ratio is the median of the per-round ratios (the notes give them all,
and split funkhaus's figure: its main thread, which reads the client's
acks and does the rest of the host's work, and the rest, against the
encoder alone; each frame goes out over TLS from the thread that encoded
it).

Where the comparison leans, and which way:

- The references stop at the encoder's output: no packetizing, FEC,
  encryption or network send (Wolf's \`rtpmoonlightpay_video\` + UDP,
  Sunshine's RTP/FEC/AES), while funkhaus's figures include its TLS
  WebSocket send and the reading of an ack for two frames, and its
  sessions-sustained runs share the 2 cores with the client that decrypts
  every stream. Both make funkhaus look worse than
  it is, never better.
- Sunshine's own capture and its colour conversion (BGR0 → YUV420P with
  swscale Lanczos + accurate rounding) do not run: it gets I420 like
  everyone else, which makes Sunshine's figures lower than Sunshine's.
- Wolf's \`videorate\` releases a frame only when the next one arrives, so
  Wolf's capture → send carries one frame period (16.7 ms at 60 Hz, 33 ms at
  30 Hz). That is Wolf's configured pipeline, not a measuring artefact.
- Rate control differs by design, as each host sets it: Wolf CRF 21
  (\`pass=qual\`) capped by an 8000 kb/s VBV of 600 ms; Sunshine CBR with a
  VBV of 1.5 frames; funkhaus ABR with a VBV of one frame. The synthetic
  picture is easy (a few hundred kb/s at most), so this changes little here.
- Threads and slices are 2 for everyone (this machine's cores; Sunshine's
  default \`min_threads\`); Wolf takes its slice count from the Moonlight
  client, Sunshine the larger of the client's and \`min_threads\`.
- No GPU here: NVENC/VAAPI/QSV pipelines of Wolf and Sunshine are not
  compared; neither is gamescope.

Settings read from (reference only, no code copied):
Wolf — \`src/moonlight-server/state/configTOML.cpp\` (default
\`h264_encoders\`, the \`x264\` entry) and
\`src/moonlight-server/state/default/config.v4.toml\` (the x264 entry with its
\`video_params\`) in games-on-whales/wolf; GStreamer's
\`ext/x264/gstx264enc.c\` for what \`pass=qual\` means (CRF = \`quantizer\`,
default 21; VBV max = \`bitrate\`, buffer = \`vbv-buf-capacity\`, default 600
ms). Sunshine — \`src/video.cpp\` (\`encoder_t software\`,
\`make_avcodec_encode_session\`) and \`src/config.cpp\` (\`sw_preset\`
superfast, \`sw_tune\` zerolatency, \`min_threads\` 2) in LizardByte/Sunshine.

$table

- machine: $nproc_ CPUs ($cpu_model), $mem memory, Linux $kernel, $os; no GPU used
- software: GStreamer ${gst_version:-?} (x264enc from gstreamer1.0-plugins-ugly), libavcodec
  $avcodec, libx264 $x264_version
- when and how: $when, commit $commit, \`$command_line\` ($settings); the
  side-by-side part took ${elapsed} s; load average before $load_before, after $load_after;
  the machine's speed before each measurement, one conversion of a 1920x1080 picture
  (\`bench/fh-bench-speed\`): $speed_range
- all pipelines: preset \`$preset\`, tune \`zerolatency\`, no B-frames, $bitrate kb/s,
  $threads encoder threads with one slice each (sliced threads), I420 BT.709 limited range in
- **funkhaus**: \`funkhaus serve --encoder-preset $preset --bitrate $bitrate\`, config
  \`encoder-threads=$threads\`; its encoder: $encoder_settings
- **Wolf**: $wolf_settings
- **Sunshine**: $sunshine_settings
- **encoder alone**: $encoder_settings
- funkhaus's capture → received at the client (exact per frame, includes TLS and the
  client's loop), p50 / p99: $receive; the bench client's own CPU, cores:
  $client_cpu (not counted in funkhaus's CPU)
- wlroots input: CPU of the session's sway and app, cores (counted in every pipeline's
  CPU per frame): $wl_sessions
- funkhaus and the encoder alone at the same time, CPU per frame funkhaus / encoder per
  round: $(for input in "${pair_inputs[@]}"; do printf '%s %s' "$(label "$input")" "$(pair_ratios "$input" | paste -sd ' ')"; echo; done | paste -sd ';' | sed 's/;/; /g')
- in those rounds, funkhaus's main thread (its main loop: the client's acks, the stats, which the
  encoder alone does not do; each frame's TLS WebSocket send is on the thread that encoded it), CPU per
  frame, ms: $(for input in "${pair_inputs[@]}"; do printf '%s %s' "$(label "$input")" "$(pair_main "$input" | paste -sd ' ')"; echo; done | paste -sd ';' | sed 's/;/; /g');
  funkhaus without it / encoder per round: $(for input in "${pair_inputs[@]}"; do printf '%s %s' "$(label "$input")" "$(pair_rest_ratios "$input" | paste -sd ' ')"; echo; done | paste -sd ';' | sed 's/;/; /g')
- sessions sustained: the first count that failed — $first_failed
- funkhaus and the encoder alone at the count both sustain, CPU per frame funkhaus / encoder
  per round: $(for input in "${session_inputs[@]}"; do printf '%s, %s at once: %s' "$(label "$input")" "$(busy_count "$input")" "$(busy_ratios "$input" | awk '{ printf "%.2f\n", $1 }' | paste -sd ' ')"; echo; done | paste -sd ';' | sed 's/;/; /g')
- encoder threads as funkhaus picks them (\`encoder-threads=0\`, its default;
  \`src/core/encoder-threads.c\`): a fair share of the $nproc_ cores among the
  sessions' encoders, taken again 2 s after their number changes; the encoder alone runs
  each of N instances with what funkhaus's N sessions settle on
  (\`fh-bench-pipeline --threads 0 --instances N\`), here for instances 1, 2, …:
  $own_thread_counts
  (funkhaus-own and encoder-own in the notes); the same at the count both sustain, CPU per
  frame funkhaus / encoder per round: $(for input in "${session_inputs[@]}"; do printf '%s, %s at once: %s' "$(label "$input")" "$(busy_count "$input" -own)" "$(busy_ratios "$input" -own | awk '{ printf "%.2f\n", $1 }' | paste -sd ' ')"; echo; done | paste -sd ';' | sed 's/;/; /g')
EOF
)

# --- the plot ---
plot_data=$tmp/plot.dat
short() { # synthetic:1280x720@60 → synthetic-720p60
  local src=${1%%:*} mode=${1#*:}
  echo "$src-$(echo "${mode#*x}" | sed 's/@/p/')"
}
{
  for input in "${inputs[@]}"; do
    printf '%s' "$(short "$input")"
    for p in "${pipelines[@]}"; do printf ' %s' "$(fig "$input" "$p" cpu | sed 's/–/0/')"; done
    echo
  done
} > "$plot_data"
{
  for input in "${inputs[@]}"; do
    printf '%s' "$(short "$input")"
    for p in "${pipelines[@]}"; do printf ' %s' "$(fig "$input" "$p" p50 | sed 's/–/0/')"; done
    echo
  done
} > "$tmp/lat.dat"
{
  for input in "${session_inputs[@]}"; do
    printf '%s' "$(short "$input")"
    for p in "${pipelines[@]}"; do printf ' %s' "${sustained[$input.$p]}"; done
    echo
  done
} > "$tmp/sessions.dat"

if bench_may_publish; then
  doc=docs/performance.md
  mkdir -p docs/img
  if command -v gnuplot > /dev/null; then
    gnuplot <<EOF
set terminal pngcairo size 1500,520 font "DejaVu Sans,10"
set output "docs/img/side-by-side.png"
set multiplot layout 1,3 title "funkhaus side by side ($nproc_ CPUs, $cpu_model; preset $preset, $bitrate kb/s; $when)"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set key outside bottom center horizontal
set grid ytics
set offsets 0, 0, graph 0.05, 0
set xtics nomirror font ",9"
set yrange [0:*]
set title "CPU time per frame, ms (lower is better)"
plot "$plot_data" using 2:xtic(1) title "funkhaus" lc rgb "#1b9e77", '' using 3 title "Wolf (GStreamer)" lc rgb "#d95f02", '' using 4 title "Sunshine (libavcodec)" lc rgb "#7570b3", '' using 5 title "encoder alone" lc rgb "#999999"
set title "capture → send p50, ms (lower is better)"
plot "$tmp/lat.dat" using 2:xtic(1) title "funkhaus" lc rgb "#1b9e77", '' using 3 title "Wolf (GStreamer)" lc rgb "#d95f02", '' using 4 title "Sunshine (libavcodec)" lc rgb "#7570b3", '' using 5 title "encoder alone" lc rgb "#999999"
set title "sessions sustained at >= 95 % fps (higher is better)"
plot "$tmp/sessions.dat" using 2:xtic(1) title "funkhaus" lc rgb "#1b9e77", '' using 3 title "Wolf (GStreamer)" lc rgb "#d95f02", '' using 4 title "Sunshine (libavcodec)" lc rgb "#7570b3", '' using 5 title "encoder alone" lc rgb "#999999"
unset multiplot
EOF
    echo "== wrote docs/img/side-by-side.png" >&2
  else
    echo "bench/compare.sh: gnuplot not found (apt-get install gnuplot-nox): no plot" >&2
  fi
  [[ -f $doc ]] || printf '# Performance\n' > "$doc"
  printf '%s\n' "$results" > "$tmp/section"
  replace_section "## Side by side with other hosts (issue 8)" "$tmp/section" "$doc" > "$tmp/doc"
  cp "$tmp/doc" "$doc"
  echo "== wrote $doc" >&2
fi

echo
printf '%s\n' "$results"
