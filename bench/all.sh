#!/usr/bin/env bash
# Every benchmark, from scratch, with one command: installs what is missing
# on Debian 12 (the host's build and runtime dependencies through
# scripts/setup.sh; GStreamer with x264enc and its headers for the reference
# pipelines; gnuplot for the plot; pulseaudio-utils for the audio apps),
# builds, then runs
#   bench/run.sh      the host against its own encoder (## Results)
#   bench/audio.sh    speaker and microphone per session (## Audio (issue 4))
#   bench/wlroots.sh  wlroots sessions sustained (## wlroots sessions (issue 3))
#   bench/refresh.sh  wlroots sessions at 30 to 144 Hz, alone and beside
#                     others (## Refresh rates (issue 17))
#   bench/latency.sh  capture to decoded in Chromium, on loopback and behind
#                     a 5 Mbit/s link (## Latency in the browser (issue 17))
#   bench/sandbox.sh  the sessions' sandboxes: a noisy neighbour and their
#                     cost (## Sandboxes (issue 16))
#   bench/pads.sh     a pad's press from the client to the app's SDL event
#                     (## Gamepads (issue 18))
#   bench/soak.sh     the host over a long run: 50,000 requests and 1,000
#                     sessions, its descriptors, threads and memory
#                     (## Long run (issue 20)); only with --only soak, as
#                     it takes longer than all the others together
#   bench/compare.sh  side by side with Wolf's and Sunshine's pipelines and
#                     the encoder alone (## Side by side with other hosts
#                     (issue 8), docs/img/side-by-side.png)
# each of which writes its own section of docs/performance.md and stops by
# itself in bounded time. The side-by-side figures print last. About 20
# minutes on 2 cores.
#
# Usage: bench/all.sh [--no-docs] [--only compare|run|audio|wlroots|refresh|latency|sandbox|pads|soak]...
#        (as root, or with sudo: it installs packages; apps and compositors
#        run as `funkhaus`)
# Environment: BUILD_DIR (build); each script's own BENCH_* settings (see
#              their --help) pass through, so set them only for one at a time.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(dirname "$here")
cd "$root"

invocation="bench/all.sh${*:+ $*}"
docs=()
only=()
while (( $# )); do
  case $1 in
    --no-docs) docs=(--no-docs) ;;
    --only)
      [[ ${2:-} =~ ^(compare|run|audio|wlroots|refresh|latency|sandbox|pads|soak)$ ]] || {
        echo "bench/all.sh: --only takes compare, run, audio, wlroots, refresh, latency, sandbox, pads or soak" >&2; exit 2; }
      only+=("$2"); shift ;;
    -h|--help)
      awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"
      exit 0 ;;
    *) echo "bench/all.sh: unknown argument $1 (try --help)" >&2; exit 2 ;;
  esac
  shift
done
(( ${#only[@]} )) || only=(run audio wlroots refresh latency sandbox pads compare)
build=${BUILD_DIR:-build}
say() { printf '== bench/all.sh: %s\n' "$*" >&2; }
started=$SECONDS

# 1. Packages. The host's own through its setup script; then what only the
# benchmarks need. Nothing from gstreamer1.0-plugins-good is used: x264enc
# is in -ugly, appsrc, videoconvertscale and videorate in -base.
say "installing what is missing"
bash scripts/setup.sh serve
if [ "$(id -u)" -eq 0 ]; then sudo=(); else sudo=(sudo); fi
bench_packages=(gstreamer1.0-tools gstreamer1.0-plugins-base gstreamer1.0-plugins-ugly
  libgstreamer1.0-dev libgstreamer-plugins-base1.0-dev gnuplot-nox fonts-dejavu-core
  pulseaudio-utils)
missing=()
for p in "${bench_packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if (( ${#missing[@]} )); then
  say "installing ${#missing[@]} Debian packages for the benchmarks: ${missing[*]}"
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q >&2
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
    "${missing[@]}" >&2
fi
gst-inspect-1.0 x264enc > /dev/null 2>&1 || {
  echo "bench/all.sh: GStreamer has no x264enc: install gstreamer1.0-plugins-ugly" >&2; exit 1; }

# 2. Build. A build directory made before GStreamer's headers were there
# does not know the reference pipeline's program yet: configure it again.
say "building into $build/"
if [[ ! -f $build/build.ninja ]]; then
  meson setup "$build" --werror >&2
elif ! grep -q 'fh-bench-pipeline' "$build/build.ninja"; then
  meson setup --reconfigure "$build" >&2
fi
ninja -C "$build" >&2

# 3. The benchmarks; the side by side last, so that its figures end the
# output.
status=0
for b in run audio wlroots refresh latency sandbox pads soak compare; do
  [[ " ${only[*]} " == *" $b "* ]] || continue
  say "bench/$b.sh (started after $(( SECONDS - started )) s)"
  if ! BUILD_DIR=$build BENCH_COMMAND="$invocation" \
      bash "bench/$b.sh" "${docs[@]}" > "$build/bench-$b.txt"; then
    echo "bench/all.sh: bench/$b.sh failed" >&2
    status=1
    continue
  fi
  [[ $b == compare ]] || say "bench/$b.sh done; its figures are in $build/bench-$b.txt"
done
say "all done in $(( SECONDS - started )) s"
[[ ! -f $build/bench-compare.txt ]] || cat "$build/bench-compare.txt"
exit $status
