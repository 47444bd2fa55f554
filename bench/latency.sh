#!/usr/bin/env bash
# The latency a browser sees (issue 17), with bench/latency.mjs: headless
# Chromium running the real web client against `funkhaus serve --backend
# synthetic` at 1280x720@60,
#   - glass to glass on loopback: capture → the frame out of the browser's
#     VideoDecoder, p50/p99, against one frame interval plus decode time;
#   - behind a shaped link (as root: Chromium in a network namespace, tbf
#     on the host's end of its veth): the client asks for 20 Mbit/s, the
#     link carries 5 Mbit/s from 5 s to 25 s; capture → decoded p50/p99,
#     what arrived and the bitrate the host aimed at, each second; with the
#     host's bitrate adaptation and, against a second host, without it.
# Waits for a quiet machine first and publishes nothing taken under load.
# Prints its figures last and writes them into docs/performance.md (its
# "## Latency in the browser (issue 17)" section). About 2.5 minutes.
#
# Usage: bench/latency.sh [--no-docs]
# Environment: BENCH_GLASS_SECONDS (10), BENCH_LINK_SECONDS (40),
#              BENCH_QUIET (0.15), BENCH_QUIET_WAIT (60), BUILD_DIR (build).
# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh" "$@"

glass_seconds=${BENCH_GLASS_SECONDS:-10}
link_seconds=${BENCH_LINK_SECONDS:-40}
build=${BUILD_DIR:-build}
for v in "$glass_seconds" "$link_seconds"; do
  [[ $v =~ ^[1-9][0-9]*$ ]] || { echo "bench/latency.sh: seconds are whole numbers above 0" >&2; exit 2; }
done
(( link_seconds >= 36 )) || { echo "bench/latency.sh: BENCH_LINK_SECONDS is at least 36 (the limit is lifted at 25 s)" >&2; exit 2; }
command -v node > /dev/null || { echo "bench/latency.sh: node is missing: apt install nodejs" >&2; exit 1; }
[[ -d tests/e2e/node_modules/playwright-core ]] || (cd tests/e2e && npm ci --no-audit --no-fund >&2)
echo "== build" >&2
[[ -f $build/build.ninja ]] || meson setup "$build" >&2
ninja -C "$build" src/funkhaus >&2

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
echo "== waiting for a quiet machine" >&2
wait_quiet
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
started=$SECONDS
FUNKHAUS_BIN="$root/$build/src/funkhaus" FUNKHAUS_WEB_DIR="$root/web" \
  node bench/latency.mjs --glass-seconds "$glass_seconds" --link-seconds "$link_seconds" \
  > "$tmp/latency.json"
elapsed=$(( SECONDS - started ))
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

table=$(node -e '
  const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
  const g = r.glass;
  const f = (x) => (x === null || x === undefined ? "–" : String(x));
  console.log("| glass to glass, loopback | frames | fps | p50, ms | p99, ms | most, ms | decode, ms (mean) | one frame interval, ms |");
  console.log("|---|---:|---:|---:|---:|---:|---:|---:|");
  console.log(`| ${r.mode} | ${g.frames} | ${f(g.fps)} | ${f(g.p50_ms)} | ${f(g.p99_ms)} | ${f(g.max_ms)} | ${f(g.decode_ms)} | ${f(g.frame_interval_ms)} |`);
  console.log("");
  console.log(`The pictures were drawn by the ${g.drawn_by === "worker" ? "draw worker" : g.drawn_by === "page" ? "page itself (no draw worker)" : "client (it did not say who)"}.`);
  console.log("");
  const l = r.link, x = r.fixed;
  const summary = (k, back) => `worst p99 from 5 s into the limit on ${f(k.worst_p99_after_5s_ms)} ms, ` +
    `${k.seconds_without_frames} seconds without a frame` + (!back ? "" :
    `, the host aims at 90 % of the asked rate again ${k.back_up_after_s === null ? "not within the run" : k.back_up_after_s + " s"} after the limit is lifted`);
  if (l.skipped) {
    console.log(`The shaped link was not measured: ${l.skipped}.`);
  } else {
    console.log(`Behind a ${l.limit} link from ${l.limit_at} s to ${l.lift_at} s, the client asking for ${l.asked_kbps} kb/s:`);
    console.log(`- with bitrate adaptation: ${summary(l, true)};`);
    console.log(`- without it (\`--bitrate-adaptation off\`, a host of its own; frames are still skipped): ${summary(x, false)}.`);
    console.log("");
    console.log("| s | link | with: frames | p50, ms | p99, ms | arrived, kb/s | host aims at, kb/s | without: frames | p50, ms | p99, ms | arrived, kb/s |");
    console.log("|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    l.seconds.forEach((s, i) => {
      const o = x.seconds[i] ?? {};
      console.log(`| ${s.t} | ${s.limited ? l.limit : "free"} | ${s.frames} | ${f(s.p50_ms)} | ${f(s.p99_ms)} | ${s.received_kbps} | ${f(s.target_kbps)} | ` +
        `${f(o.frames)} | ${f(o.p50_ms)} | ${f(o.p99_ms)} | ${f(o.received_kbps)} |`);
    });
  }' "$tmp/latency.json")

when=$(date -u '+%Y-%m-%d %H:%M UTC')
commit=$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)
results=$(cat <<EOF
## Latency in the browser (issue 17)

Headless Chromium with the web client (\`web/\`) against \`funkhaus serve
--backend synthetic\`: from the frame's capture on the host (the video
header's \`capture_us\`, the host's monotonic clock) to the frame leaving
the browser's \`VideoDecoder\` (\`window.funkhaus.decodedAt\`, the wall
clock; \`bench/latency.mjs\` measures the offset between the two clocks on
this one machine). The drawing is not in it: the client hands each
decoded frame to a worker that draws it on the canvas
(\`web/draw-worker.js\`), so the page's main thread, which receives the
frames, does not convert pictures to RGB. The shaped link: Chromium runs in a network namespace; \`tbf\`
on the host's end of its veth carries the limit, which is lifted by raising the tbf's
rate to 10 Gbit/s (what it holds drains, as on a link that gets faster); the host's flow control
(acknowledged frames) and rate control do the rest. Without adaptation, a second host started with
\`--bitrate-adaptation off\` keeps 20 Mbit/s and only skips frames.

$table

- machine: $(nproc) cores; load average before ${load_before}, after
  ${load_after}; ${elapsed} s; waited for a quiet machine first
- ${when}, commit ${commit}, \`bench/latency.sh\`
EOF
)

if bench_may_publish; then
  bench_write_section "## Latency in the browser (issue 17)" "$results"
fi
echo
printf '%s\n' "$results"
