#!/usr/bin/env bash
# The host over a long run (issue 20): tests/e2e/soak.test.mjs with the
# long counts, BENCH_REQUESTS HTTPS requests of every kind (a page,
# /api/host, a pairing with a wrong PIN, a WebSocket upgraded and closed;
# BENCH_WORKERS at a time) and BENCH_CYCLES wlroots sessions made and ended
# one after another, in turns, against one `funkhaus serve --backend
# wlroots --grace 0`. The host's descriptors, threads and resident memory
# (raw, and after malloc_trim(0), called in it through gdb) after a warm-up,
# every tenth of the run and at the end (the bounds hold the end to the
# first tenth); sockets of its port left in
# CLOSE-WAIT; whether it still answers. The test's bounds apply: the run
# fails where the host did not stay flat. Prints its figures last and
# writes them into docs/performance.md (its "## Long run (issue 20)"
# section). About 10 minutes on 2 cores with the defaults.
#
# Usage: bench/soak.sh [--no-docs]    (as root: an account per device;
#        needs node, sway, gdb and a build with tests/fh-input-recorder)
# Environment: BENCH_REQUESTS (50000), BENCH_CYCLES (1000), BENCH_WORKERS
#              (4), BENCH_TIME_LIMIT (the test's limit, 3600 s), BUILD_DIR
#              (build).
# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh" "$@"

requests=${BENCH_REQUESTS:-50000}
cycles=${BENCH_CYCLES:-1000}
workers=${BENCH_WORKERS:-4}
time_limit=${BENCH_TIME_LIMIT:-3600}
build=${BUILD_DIR:-build}
for f in "$build/src/funkhaus" "$build/tests/fh-input-recorder"; do
  [[ -x $f ]] || { echo "bench/soak.sh: no $f: build first (ninja -C $build)" >&2; exit 1; }
done
command -v node > /dev/null || { echo "bench/soak.sh: node is missing: apt install nodejs" >&2; exit 1; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
started=$SECONDS
echo "== bench/soak.sh: $requests requests and $cycles sessions ($workers requests at a time)" >&2
# The test's own output (its progress lines among it) goes to stderr.
status=0
FUNKHAUS_BIN="$root/$build/src/funkhaus" FUNKHAUS_WEB_DIR="$root/web" \
  FUNKHAUS_RECORDER="$root/$build/tests/fh-input-recorder" \
  FUNKHAUS_SOAK_REQUESTS=$requests FUNKHAUS_SOAK_CYCLES=$cycles FUNKHAUS_SOAK_WORKERS=$workers \
  FUNKHAUS_SOAK_TIMEOUT_MS=$(( time_limit * 1000 )) FUNKHAUS_SOAK_PROGRESS=1 \
  FUNKHAUS_SOAK_REPORT="$tmp/soak.json" \
  node --test tests/e2e/soak.test.mjs >&2 || status=$?
elapsed=$(( SECONDS - started ))
load_after=$(cut -d' ' -f1-3 /proc/loadavg)
if [[ ! -s $tmp/soak.json ]]; then
  echo "bench/soak.sh: the soak test wrote no figures (exit $status): see its output above" >&2
  exit 1
fi
verdict=$([[ $status -eq 0 ]] && echo "within the test's bounds" || echo "**outside the test's bounds (it failed)**")

nproc_=$(nproc)
cpu_model=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)
mem=$(awk '/^MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)
commit=$(bench_commit)
when=$(date -u '+%Y-%m-%d %H:%M UTC')
settings="BENCH_REQUESTS=$requests BENCH_CYCLES=$cycles BENCH_WORKERS=$workers BENCH_TIME_LIMIT=$time_limit"

# The tables from the test's JSON.
tables=$(node - "$tmp/soak.json" <<'JS'
const f = JSON.parse(require('node:fs').readFileSync(process.argv[2], 'utf8'));
const mib = (k) => (k === undefined ? '–' : (k / 1024).toFixed(1));
const d = (a, b, fmt = (x) => x) => (a === undefined || b === undefined ? '–' : `${b - a >= 0 ? '+' : ''}${fmt(b - a)}`);
const rows = [
  ['open descriptors', 'fds', (x) => x, `+${f.bounds.fds}`],
  ['threads', 'threads', (x) => x, `+${f.bounds.threads}`],
  ['RSS, MiB', 'rssKiB', mib, 'reported only'],
  ['RSS after malloc_trim(0), MiB', 'trimmedRssKiB', mib, `+${mib(f.bounds.trimmedRssKiB)}`],
  ['sockets of its port in CLOSE-WAIT', 'closeWait', (x) => x, '0'],
];
console.log('| | after the warm-up | a tenth into the run | at the end | change since the tenth | bound |\n|---|---:|---:|---:|---:|---:|');
for (const [name, key, fmt, bound] of rows) {
  const v = (x) => (x?.[key] === undefined ? '–' : fmt(x[key]));
  console.log(`| ${name} | ${v(f.warm)} | ${v(f.start)} | ${v(f.end)} | ${d(f.start[key], f.end[key], fmt)} | ${bound} |`);
}
console.log('');
console.log(`Requests: ${f.requests} in ${(f.requestsMs / 1000).toFixed(1)} s of their own ` +
  `(${(f.requestsMs / Math.max(f.requests - 200, 1)).toFixed(1)} ms each, ${f.workers} at a time); ` +
  `sessions: ${f.cycles} (${f.backend}) in ${(f.cyclesMs / 1000).toFixed(1)} s ` +
  `(${(f.cyclesMs / Math.max(f.cycles - 1, 1)).toFixed(0)} ms each, hello → welcome → close); ` +
  `the whole run ${(f.totalMs / 1000).toFixed(0)} s after a warm-up of ${(f.warmupMs / 1000).toFixed(1)} s.`);
if (f.samples?.length) {
  console.log('\nOn the way (each once that tenth\'s last session had stopped):\n');
  console.log('| sessions | requests | descriptors | threads | RSS, MiB | after malloc_trim(0), MiB |\n|---:|---:|---:|---:|---:|---:|');
  for (const s of f.samples)
    console.log(`| ${s.cycles} | ${s.requests} | ${s.fds} | ${s.threads} | ${mib(s.rssKiB)} | ${mib(s.trimmedRssKiB)} |`);
}
JS
)

results=$(cat <<EOF
## Long run (issue 20)

\`bench/soak.sh\` runs \`tests/e2e/soak.test.mjs\` (the suite runs it with
5000 requests and 200 sessions) with long counts against one \`funkhaus
serve --backend wlroots --grace 0\`: HTTPS requests of every kind (the
page, \`/api/host\`, a pairing with a wrong PIN — 403, or 429 once the
address waits —, a WebSocket upgraded and closed), each on a connection of
its own, and sessions (a paired device's hello, the welcome, close; each a
headless sway with the recorder app in its sandbox) in turns. The host's
figures come from \`/proc\` after a warm-up (one session, 200 requests),
every tenth of the run and at the end; the bounds hold the end to the
first tenth (the first sessions still grow what the host keeps). malloc
keeps what the host freed on its threads (encoders, TLS) in its arenas, so
the raw RSS grows over a run although nothing leaks; the bound is on the
RSS after the host gave that back (gdb calls \`malloc_trim(0)\` in it).
What malloc_trim cannot give back, the top of each thread arena, stays
small because the host keeps to 4 arenas. The raw RSS is read just before
each trim, and each trim lowers the raw figures after it.

Result: $verdict; the host still answered.

$tables

- machine: $nproc_ CPUs ($cpu_model), $mem memory, Linux $(uname -r)
- load average (1, 5, 15 min) before: $load_before, after: $load_after
- $when, commit $commit, \`bench/soak.sh\` ($settings), as $(id -un), $elapsed s in all
EOF
)

if bench_may_publish; then
  bench_write_section "## Long run (issue 20)" "$results"
fi

echo
printf '%s\n' "$results"
exit $status
