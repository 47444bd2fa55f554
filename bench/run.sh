#!/usr/bin/env bash
# The host's overhead over its own encoder: runs the bare encoder on the
# synthetic picture (fh-bench-encoder), then one synthetic session through
# `funkhaus serve` (fh-bench-client), at the same mode and settings, one
# after the other so they never share the CPU, for a few alternating rounds,
# and prints both side by side. Writes the table into docs/performance.md
# (its "## Results" section).
#
# Usage: bench/run.sh [--no-docs]
# Environment: BENCH_ROUNDS (default 3), BENCH_SECONDS (measured per run,
#              default 5), BENCH_WARMUP (1), BENCH_MODE (1920x1080@60),
#              BENCH_BITRATE (8000), BENCH_PRESET (ultrafast), BUILD_DIR (build).
# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh" "$@"

rounds=${BENCH_ROUNDS:-3}
seconds=${BENCH_SECONDS:-5}
warmup=${BENCH_WARMUP:-1}
mode=${BENCH_MODE:-1920x1080@60}
bitrate=${BENCH_BITRATE:-8000}
preset=${BENCH_PRESET:-ultrafast}
build=${BUILD_DIR:-build}
if [[ ! $mode =~ ^([0-9]+)x([0-9]+)@([0-9]+)$ ]]; then
  echo "bench/run.sh: BENCH_MODE must look like 1920x1080@60" >&2
  exit 2
fi
width=${BASH_REMATCH[1]} height=${BASH_REMATCH[2]} fps=${BASH_REMATCH[3]}

tmp=$(mktemp -d -t funkhaus-bench.XXXXXX)
host_pid=
cleanup() {
  [[ -z $host_pid ]] || stop_pid "$host_pid" INT 50
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

echo "== build" >&2
if [[ ! -f $build/build.ninja ]]; then
  meson setup "$build" >&2
fi
ninja -C "$build" bench/fh-bench-encoder bench/fh-bench-client src/funkhaus >&2

# key value lines of round $2 → associative array $1, keys suffixed ".$2"
declare -A enc host
parse() { # $1 = array name, $2 = round, $3 = file
  local -n into=$1
  local k v
  while read -r k v; do
    [[ $k =~ ^[a-z0-9_]+$ && $v =~ ^-?[0-9.]+$ ]] && into[$k.$2]=$v
  done < "$3"
}

stop_host() {
  kill -INT "$host_pid"
  wait "$host_pid" 2>/dev/null || true
  host_pid=
}

run_encoder() { # $1 = round
  echo "== round $1/$rounds: encoder alone (${warmup} s warm-up + ${seconds} s)" >&2
  "$build/bench/fh-bench-encoder" --width "$width" --height "$height" --fps "$fps" \
    --bitrate "$bitrate" --encoder-preset "$preset" --seconds "$seconds" --warmup "$warmup" \
    > "$tmp/encoder.$1.out" 2> "$tmp/encoder.$1.err" || {
    cat "$tmp/encoder.$1.out" "$tmp/encoder.$1.err" >&2; exit 1; }
  cat "$tmp/encoder.$1.out" >&2
  parse enc "$1" "$tmp/encoder.$1.out"
}

run_host() { # $1 = round; a fresh host with its own directories each time
  local dir=$tmp/host.$1 port= pin=
  echo "== round $1/$rounds: funkhaus serve --backend synthetic + fh-bench-client" >&2
  mkdir -m 0700 "$dir" "$dir/home" "$dir/config" "$dir/runtime" "$dir/state"
  HOME=$dir/home XDG_CONFIG_HOME=$dir/config XDG_RUNTIME_DIR=$dir/runtime \
    XDG_STATE_HOME=$dir/state \
    "$build/src/funkhaus" serve --port 0 --backend synthetic --bitrate "$bitrate" \
    --encoder-preset "$preset" > "$dir/host.out" 2> "$dir/host.err" &
  host_pid=$!
  for _ in $(seq 100); do
    port=$(sed -n 's|^funkhaus .*: serving https://[^:]*:\([0-9]*\)/.*|\1|p' "$dir/host.out")
    pin=$(sed -n 's/.*pairing PIN: \([0-9]\{6\}\).*/\1/p' "$dir/host.out")
    [[ -n $port && -n $pin ]] && break
    kill -0 "$host_pid" 2>/dev/null || break
    sleep 0.1
  done
  if [[ -z $port || -z $pin ]]; then
    echo "bench/run.sh: the host did not come up; its output:" >&2
    cat "$dir/host.out" "$dir/host.err" >&2
    exit 1
  fi
  "$build/bench/fh-bench-client" --port "$port" --pin "$pin" --host-pid "$host_pid" \
    --width "$width" --height "$height" --fps "$fps" --seconds "$seconds" --warmup "$warmup" \
    > "$tmp/client.$1.out" 2> "$tmp/client.$1.err" || {
    cat "$tmp/client.$1.out" "$tmp/client.$1.err" "$dir/host.err" >&2; exit 1; }
  cat "$tmp/client.$1.out" >&2
  parse host "$1" "$tmp/client.$1.out"
  stop_host
}

# Alternate, so that a machine that slows down or speeds up for a while
# (a shared VM does) moves both sides of a round alike.
for r in $(seq "$rounds"); do
  run_encoder "$r"
  run_host "$r"
done

# median over rounds of array $1's key $2 (optionally of $1/$3 for ratios)
median() { sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) { print "–"; exit }
  if (NR % 2) m = v[(NR + 1) / 2]; else m = (v[NR / 2] + v[NR / 2 + 1]) / 2
  s = sprintf ("%.3f", m); sub (/\.?0+$/, "", s); print s }'; }
med() { # $1 = array name, $2 = key
  local -n from=$1
  for r in $(seq "$rounds"); do echo "${from[$2.$r]}"; done | median
}
# host / encoder per round (each host run paired with the encoder run just
# before it), then the median of those ratios
ratio() { # $1 = host key, $2 = encoder key
  for r in $(seq "$rounds"); do
    awk -v a="${host[$1.$r]}" -v b="${enc[$2.$r]}" 'BEGIN { if (b > 0) printf "%.4f\n", a / b }'
  done | sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) { print "–"; exit }
    m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2; printf "%.2f", m }'
}
ratios() { # $1 = host key, $2 = encoder key: the per-round ratios, for the notes
  for r in $(seq "$rounds"); do
    awk -v a="${host[$1.$r]}" -v b="${enc[$2.$r]}" 'BEGIN { if (b > 0) printf "%.2f ", a / b }'
  done | sed 's/ $//'
}
row() { # label host-key encoder-key [no ratio]
  printf '| %s | %s | %s | %s |\n' "$1" "$(med host "$2")" "$(med enc "$3")" \
    "$([[ -n ${4:-} ]] && echo – || ratio "$2" "$3")"
}
sum() { # $1 = array name, $2 = key
  local -n from=$1
  for r in $(seq "$rounds"); do echo "${from[$2.$r]}"; done | awk '{ s += $1 } END { print s }'
}

table=$(
  echo "| per frame, ${width}×${height}@${fps}, median of $rounds rounds | host | encoder alone | host / encoder |"
  echo "|---|---:|---:|---:|"
  row "CPU time per frame, ms" cpu_ms_per_frame cpu_ms_per_frame
  row "CPU cores busy" cpu_cores cpu_cores
  row "frames per second" fps fps
  row "capture → encoded p50, ms" capture_to_encoded_ms_p50 capture_to_encoded_ms_p50
  row "capture → encoded p99, ms" capture_to_encoded_ms_p99 capture_to_encoded_ms_p99
  row "capture → send p50, ms (host stats)" capture_to_send_ms_p50 capture_to_encoded_ms_p50
  row "capture → send p99, ms (host stats)" capture_to_send_ms_p99 capture_to_encoded_ms_p99
  row "capture → received p50, ms (client)" capture_to_receive_ms_p50 capture_to_encoded_ms_p50
  row "capture → received p99, ms (client)" capture_to_receive_ms_p99 capture_to_encoded_ms_p99
  row "frames dropped / skipped (sum)" dropped skipped none | sed "s/| [^|]* | [^|]* | – |\$/| $(sum host dropped) | $(sum enc skipped) | – |/"
  row "stream, kb/s" kbps kbps none
)

nproc_=$(nproc)
cpu_model=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)
mem=$(awk '/^MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)
kernel=$(uname -r)
avcodec=$(pkg-config --modversion libavcodec 2>/dev/null || echo "?")
commit=$(git rev-parse --short HEAD 2>/dev/null || echo "?")
if [[ -n $(git status --porcelain -- src 2>/dev/null) ]]; then commit="$commit + uncommitted changes in src/"; fi
when=$(date -u '+%Y-%m-%d %H:%M UTC')
command="bench/run.sh"
settings="BENCH_ROUNDS=$rounds BENCH_SECONDS=$seconds BENCH_WARMUP=$warmup BENCH_MODE=$mode BENCH_BITRATE=$bitrate BENCH_PRESET=$preset"

results=$(cat <<EOF
## Results

$table

- machine: $nproc_ CPUs ($cpu_model), $mem memory, Linux $kernel
- libavcodec $avcodec (libx264), preset \`$preset\`, $bitrate kb/s, encoder threads: both
  as the host gives a lone session (\`encoder-threads=0\`, \`src/core/encoder-threads.h\`),
  $(sed -n 's/^encoder alone: .*threads \([0-9]*\),.*/\1/p' "$tmp/encoder.1.out" | head -n 1) here
- $rounds rounds, each the encoder alone then a fresh host, ${seconds} s measured after ${warmup} s
  of warm-up per run; frames measured: host $(sum host frames), encoder alone $(sum enc frames)
- CPU time per frame, host / encoder alone, per round: $(ratios cpu_ms_per_frame cpu_ms_per_frame);
  capture → received p50 over capture → encoded p50, per round:
  $(ratios capture_to_receive_ms_p50 capture_to_encoded_ms_p50)
- host, medians over rounds: capture → send p99 of the worst second
  $(med host capture_to_send_ms_p99_worst_second) ms, capture → received max $(med host capture_to_receive_ms_max) ms, arrival
  interval p50/p99/max $(med host interarrival_ms_p50)/$(med host interarrival_ms_p99)/$(med host interarrival_ms_max) ms;
  frame-number gaps seen by the client: $(sum host frame_number_gaps); the client's own CPU:
  $(med host client_cpu_cores) cores
- encoder alone, medians over rounds: render (the synthetic picture into the encoder's input)
  p50/p99 $(med enc render_ms_p50)/$(med enc render_ms_p99) ms, libx264 p50/p99
  $(med enc encode_ms_p50)/$(med enc encode_ms_p99) ms
- $when, commit $commit, \`$command\` ($settings)
EOF
)

if (( write_docs )); then
  doc=docs/performance.md
  mkdir -p docs
  # A new doc starts with the intro; after that people edit it, and each
  # bench script replaces only its own section ("## Results" here).
  if [[ ! -f $doc ]]; then
    cat > "$doc" <<'EOF'
# Performance

`bench/run.sh` measures what the host costs on top of its own encoder. It
runs two programs, one after the other, on the same synthetic picture
(`--backend synthetic`: a background, a moving square and a frame counter)
at 1920×1080@60 with the host's encoder settings (libx264 `ultrafast`,
`zerolatency`, 8000 kb/s, no B-frames):

- **encoder alone** (`bench/fh-bench-encoder`): the host's encode loop with
  nothing around it. Paced at 60 fps, it renders each picture straight into
  the encoder's input, as the host does (no extra copy), encodes it and
  moves on: no session, no main loop, no TLS, no socket. CPU time is
  `getrusage` of the process over the measured window divided by the
  frames; latency is capture start → access unit out, per frame.
- **host** (`bench/fh-bench-client` against `funkhaus serve`): a client
  that pairs with the PIN, says `hello` at 1920×1080@60 and receives
  video, acking frames in pairs as the web client does. CPU time is the host
  process's utime + stime from `/proc/PID/stat` over the window divided by
  the frames received in it. Capture → encoded
  is the video header's field, per frame. Capture → send comes from the
  host's `stats` messages (p50 and p99 over each second, about 60
  frames): the table gives the median of the per-second p50s and of the
  per-second p99s (the notes give the worst second).
  Capture → received is exact per frame: the client's `CLOCK_MONOTONIC`
  on arrival minus the header's capture time (same machine, same clock),
  so it includes TLS and the client's own main loop.

Each of the two runs is repeated in alternating rounds (the encoder alone,
then a fresh host), because on a shared virtual machine the same run can
vary by 20 % or more from one half-minute to the next. A figure in the
table is the median over rounds; a ratio is the median of the per-round
ratios, each host run paired with the encoder run just before it.

The ratio host / encoder alone is the host's overhead. The latency rows
compare each host figure with the encoder alone's capture → encoded time.
The synthetic picture is easy to encode (most macroblocks are skipped and
the stream stays near 400 kb/s whatever the bitrate), so the encoder's share
is small and the host's fixed costs weigh more than they would on a real
desktop. Even with rounds, ratios move by several per cent from one
`bench/run.sh` to the next (the notes list the per-round ratios), so a
ratio between about 0.95 and 1.10 means "no overhead that this machine can
measure". `BENCH_PRESET=veryfast` (or `medium`) gives the encoder more work
to compare against. Both programs run on the machine the table names;
figures from different machines do not compare.

EOF
  fi
  printf '%s\n' "$results" > "$tmp/section"
  replace_section "## Results" "$tmp/section" "$doc" > "$tmp/doc"
  cp "$tmp/doc" "$doc"
  echo "== wrote $doc" >&2
fi

echo
printf '%s\n' "$results"
