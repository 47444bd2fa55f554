#!/usr/bin/env bash
# The host's audio cost per session: bench/fh-bench-audio against a private
# PipeWire stack (started by the host's own code, as the account apps run
# as), with 1 and then BENCH_AUDIO_SESSIONS sessions at once. Speaker: an
# app in each session plays a tone, the host captures and encodes Opus;
# microphone: each session's microphone is fed Opus packets and an app
# records it. Writes the "## Audio (issue 4)" section of docs/performance.md.
#
# Usage: bench/audio.sh [--no-docs]      (as root: apps run as `funkhaus`)
# Environment: BENCH_SECONDS (measured per part, default 5),
#              BENCH_AUDIO_SESSIONS (default 4), BUILD_DIR (build).
# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh" "$@"
seconds=${BENCH_SECONDS:-5}
many=${BENCH_AUDIO_SESSIONS:-4}
build=${BUILD_DIR:-build}
tmp=$(mktemp -d -t funkhaus-bench-audio.XXXXXX)
trap 'rm -rf "$tmp"' EXIT

echo "== build" >&2
[[ -f $build/build.ninja ]] || meson setup "$build" >&2
ninja -C "$build" bench/fh-bench-audio >&2

for n in 1 "$many"; do
  echo "== $n session(s), ${seconds} s per part" >&2
  timeout 120 "$build/bench/fh-bench-audio" --sessions "$n" --seconds "$seconds" > "$tmp/$n.out" \
    2> "$tmp/$n.err" || { cat "$tmp/$n.err" >&2; exit 1; }
done

v() { awk -v k="$1" '$1 == k { print $2 }' "$tmp/$2.out"; }
row() { # label key
  printf '| %s | %s | %s |\n' "$1" "$(v "$2" 1)" "$(v "$2" "$many")"
}

cpu=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
cat > "$tmp/section" <<EOF
## Audio (issue 4)

\`bench/audio.sh\` runs \`bench/fh-bench-audio\`: the host's own audio code
(\`src/audio/\`) against a private PipeWire stack, with real pulse clients
as the sessions' apps. **Speaker:** each session's app (\`pacat\`) plays a
tone into the session's sink; the host captures the sink's monitor and
encodes Opus (10 ms packets). The latency is from the moment a packet's
first sample entered the sink (its capture time) to the moment the packet
reaches the session's listener, which is where the host hands it to the
WebSocket, so it includes the 10 ms the packet spans. **Microphone:** each
session's microphone is fed 50 Opus packets a second (20 ms, 660 Hz,
encoded before the window) and an app (\`parecord\`) records it. CPU is
the host process (capture, Opus, the PipeWire client; with the
benchmark's own 5 ms feeding timer in the microphone part) and the private
stack's daemons (\`pipewire\`, \`pipewire-pulse\`, \`wireplumber\`) over
${seconds} s, divided by the sessions; the apps' own CPU is not counted.
With one session the fixed cost of the PipeWire connection weighs on the
one session.

| per session | 1 session | ${many} sessions |
|---|---:|---:|
$(row "speaker: sink → packet sent, p50, ms" speaker_latency_ms_p50)
$(row "speaker: sink → packet sent, p99, ms" speaker_latency_ms_p99)
$(row "speaker: sink → packet sent, max, ms" speaker_latency_ms_max)
$(row "speaker: packets per second" speaker_packets_per_second_per_session)
$(row "speaker: host CPU, cores" speaker_host_cores_per_session)
$(row "speaker: PipeWire daemons' CPU, cores" speaker_pipewire_cores_per_session)
$(row "microphone: host CPU, cores" mic_host_cores_per_session)
$(row "microphone: PipeWire daemons' CPU, cores" mic_pipewire_cores_per_session)

- machine: $(nproc) CPUs ($cpu), PipeWire $(pkg-config --modversion libpipewire-0.3 2>/dev/null || echo '?'), libopus $(pkg-config --modversion opus 2>/dev/null || echo '?')
- $(date -u '+%Y-%m-%d %H:%M UTC'), commit $(bench_commit), \`bench/audio.sh\` (BENCH_SECONDS=$seconds BENCH_AUDIO_SESSIONS=$many)
EOF


if (( write_docs )); then
  doc=docs/performance.md
  replace_section "## Audio (issue 4)" "$tmp/section" "$doc" > "$tmp/doc"
  cp "$tmp/doc" "$doc"
  echo "== wrote $doc" >&2
fi
echo
cat "$tmp/section"
