# Shared by the bench/*.sh scripts (sourced, not run): each starts with
#   source "$(dirname "${BASH_SOURCE[0]}")/lib.sh" "$@"
# which sets bash's strict mode, $here (bench/) and $root (the tree, the
# working directory from then on), and reads the options every bench
# script takes (bench_parse_args).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(dirname "$here")
cd "$root"

# Replaces the section under heading $1 (up to the next "## " heading) in
# $3 with the contents of file $2, or appends it; keeps everything else.
# Prints the result.
replace_section() {
  awk -v heading="$1" -v new="$2" '
    function emit() { while ((getline line < new) > 0) print line; close(new); done = 1 }
    $0 == heading { if (!done) emit(); skip = 1; next }
    skip && /^## / { skip = 0; print "" }
    !skip { print; last = $0 }
    END { if (!done) { if (last != "") print ""; emit() } }' "$3"
}

# Writes $2 as the section under heading $1 of docs/performance.md (made
# when missing): replaces that section, or appends it.
bench_write_section() { # $1 = heading, $2 = the section's text
  local doc=docs/performance.md dir
  dir=$(mktemp -d)
  mkdir -p docs
  [[ -f $doc ]] || printf '# Performance\n' > "$doc"
  printf '%s\n' "$2" > "$dir/section"
  replace_section "$1" "$dir/section" "$doc" > "$dir/doc"
  cp "$dir/doc" "$doc"
  rm -rf "$dir"
  echo "== wrote $doc" >&2
}

# The options every bench script takes: --no-docs (sets write_docs=0) and
# --help (prints the script's leading comment).
bench_parse_args() {
  write_docs=1
  local arg
  for arg in "$@"; do
    case $arg in
      --no-docs) write_docs=0 ;;
      -h|--help)
        awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"
        exit 0 ;;
      *) echo "bench/$(basename "$0"): unknown argument $arg (try --help)" >&2; exit 2 ;;
    esac
  done
}

# ---- a quiet machine -----------------------------------------------------

# Cores the whole machine kept busy over the last second.
busy_cores() {
  local a b
  a=$(awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 + $9; exit }' /proc/stat)
  sleep 1
  b=$(awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 + $9; exit }' /proc/stat)
  awk -v a="$a" -v b="$b" -v hz="$(getconf CLK_TCK)" 'BEGIN { printf "%.2f", (b - a) / hz }'
}
# Waits until nothing else keeps the machine busy (a shared machine: a
# build or a browser test would take the CPU the sessions need), at most
# what is left of BENCH_QUIET_WAIT ($quiet_wait s in all; quiet means at
# most $quiet cores busy, BENCH_QUIET); the last figure goes into
# $last_busy. A measurement it could not wait for marks the run as taken
# under load ($bench_loaded, the busiest figure in $bench_busiest), whose
# figures bench_may_publish keeps out of docs/performance.md.
quiet=${quiet:-${BENCH_QUIET:-0.15}}
quiet_wait=${quiet_wait:-${BENCH_QUIET_WAIT:-60}}
quiet_waited=0
last_busy=
bench_loaded=0
bench_busiest=0
wait_quiet() {
  while :; do
    last_busy=$(busy_cores)
    awk -v b="$last_busy" -v q="$quiet" 'BEGIN { exit !(b <= q) }' && return 0
    if (( quiet_waited >= quiet_wait )); then
      echo "   the machine is still busy ($last_busy cores besides us); measuring anyway," \
        "these figures will not be published" >&2
      bench_loaded=1
      bench_busiest=$(awk -v a="$bench_busiest" -v b="$last_busy" 'BEGIN { print (b > a) ? b : a }')
      return 0
    fi
    (( quiet_waited == 0 )) && echo "   waiting for the machine to go quiet ($last_busy cores busy)" >&2
    sleep 1
    quiet_waited=$(( quiet_waited + 2 ))
  done
}

# This machine's speed now (bench/fh-bench-speed: ms for one conversion of
# a 1920x1080 picture), or – where it cannot tell: a virtual machine's
# speed moves while it is idle, which wait_quiet cannot see. Needs
# $build/bench/fh-bench-speed built.
bench_machine_speed() {
  local out
  out=$("$build/bench/fh-bench-speed" 2>/dev/null) || true
  awk '$1 == "convert_1080p_ms" { print $2; found = 1 } END { if (!found) print "–" }' <<< "$out"
}

# The commit measured, for a section's notes: "abc1234", with " + uncommitted
# changes in src/ bench/" where what is measured (src/, bench/, tests/)
# differs from it; the docs a bench just wrote are not such a change.
bench_commit() {
  local commit changed
  commit=$(git rev-parse --short HEAD 2>/dev/null || echo "?")
  changed=$(for d in src bench tests; do
    [[ -z $(git status --porcelain -- "$d" 2>/dev/null) ]] || printf '%s/ ' "$d"; done)
  [[ -z $changed ]] || commit="$commit + uncommitted changes in ${changed% }"
  echo "$commit"
}

# Whether this run's figures may go into docs/performance.md: not with
# --no-docs, and not when a measurement was taken on a busy machine (it
# says so: a figure taken under load is not a figure).
bench_may_publish() {
  (( write_docs )) || return 1
  if (( bench_loaded )); then
    echo "bench/$(basename "$0"): NOT writing docs/performance.md: a measurement ran while" \
      "the machine was busy (up to $bench_busiest cores besides this benchmark, more than" \
      "BENCH_QUIET=$quiet); stop what else runs and try again" >&2
    return 1
  fi
  return 0
}

# ---- the host and its sessions -------------------------------------------
# For scripts that start `funkhaus serve` (pid in $host_pid) and keep their
# programs' output in $tmp/*.out.

# Every process of a session carries FUNKHAUS_SESSION=<id>, children of the
# app and Xwayland included.
session_pids() { # $1 = session id
  grep -lsxz "FUNKHAUS_SESSION=$1" /proc/[0-9]*/environ 2>/dev/null | cut -d/ -f3 || true
}
# The ids of the host's sessions now, into $tmp/ids.out.
remember_sessions() {
  local c
  [[ -n $host_pid ]] || return 0
  for c in $(pgrep -P "$host_pid" || true); do
    tr '\0' '\n' 2>/dev/null < "/proc/$c/environ" | sed -n 's/^FUNKHAUS_SESSION=/session /p' \
      >> "$tmp/ids.out" || true
  done
}
# Whatever is left of the sessions our programs printed or we remembered.
kill_sessions() {
  local id pids
  for id in $(cat "$tmp"/*.out 2>/dev/null | sed -n 's/.*session \([0-9a-f]\{32\}\).*/\1/p' | sort -u); do
    pids=$(session_pids "$id")
    [[ -n $pids ]] || continue
    echo "bench/$(basename "$0"): stopping what is left of session ${id:0:8}: $(echo $pids)" >&2
    kill -TERM $pids 2>/dev/null || true
    for _ in $(seq 30); do [[ -z $(session_pids "$id") ]] && break; sleep 0.1; done
    pids=$(session_pids "$id")
    [[ -z $pids ]] || kill -KILL $pids 2>/dev/null || true
  done
}
stop_pid() { # $1 = pid, $2 = signal; SIGKILL after $3 tenths of a second
  kill -0 "$1" 2>/dev/null || { wait "$1" 2>/dev/null || true; return 0; }
  kill "-$2" "$1" 2>/dev/null || true
  for _ in $(seq "$3"); do kill -0 "$1" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
}
# Starts `funkhaus serve --port 0` (the build in $build) with its own home,
# config, runtime and state dirs in the new folder $1 and config.ini lines
# $2, and the further serve options given; sets $host_pid, $host_port and
# $host_pin, or prints the host's output and exits.
bench_start_host() { # $1 = folder, $2 = config.ini lines, then options
  local dir=$1 config=$2
  shift 2
  mkdir -m 0700 "$dir" "$dir/home" "$dir/config" "$dir/runtime" "$dir/state"
  printf '%s\n' "$config" > "$dir/config.ini"
  HOME=$dir/home XDG_CONFIG_HOME=$dir/config XDG_RUNTIME_DIR=$dir/runtime \
    XDG_STATE_HOME=$dir/state \
    "$build/src/funkhaus" serve --port 0 --config "$dir/config.ini" "$@" \
    > "$dir/host.out" 2> "$dir/host.err" &
  host_pid=$!
  host_port= host_pin=
  for _ in $(seq 100); do
    host_port=$(sed -n 's|^funkhaus .*: serving https://[^:]*:\([0-9]*\)/.*|\1|p' "$dir/host.out")
    host_pin=$(sed -n 's/.*pairing PIN: \([0-9]\{6\}\).*/\1/p' "$dir/host.out")
    [[ -n $host_port && -n $host_pin ]] && return 0
    kill -0 "$host_pid" 2>/dev/null || break
    sleep 0.1
  done
  echo "bench/$(basename "$0"): the host did not come up; its output:" >&2
  cat "$dir/host.out" "$dir/host.err" >&2
  exit 1
}

# For a script that starts hosts ($host_pid) and a program in the
# background ($child_pid), its files in $tmp: on exit (and on Ctrl-C) it
# stops them and what is left of their sessions, removes the device
# accounts of the devices.ini files matching the patterns given (quoted:
# matched at exit, when the hosts made them) and $tmp.
bench_clean_up_at_exit() { # devices.ini patterns
  bench_devices_ini=("$@")
  trap bench_clean_up EXIT
  trap 'exit 130' INT TERM
}
bench_clean_up() {
  # SIGTERM: a background job of a script ignores SIGINT, and timeout
  # passes it on to the program.
  [[ -z ${child_pid:-} ]] || stop_pid "$child_pid" TERM 150
  stop_host
  kill_sessions
  # shellcheck disable=SC2068 # the patterns are matched here
  bench_remove_accounts ${bench_devices_ini[@]}
  rm -rf "$tmp"
}

stop_host() {
  [[ -n $host_pid ]] || return 0
  remember_sessions
  stop_pid "$host_pid" INT 150 # the host stops its sessions itself
  host_pid=
  kill_sessions
}

# Sessions run in sandboxes that see /usr, /etc, the device's home and the
# folders in sandbox-binds=, not the build tree: copies the recorder into
# $1/apps (0755, the tree opened to the device accounts) and makes $1/homes;
# sets $bench_recorder to the copy and $bench_sandbox_config to the
# config.ini lines that go with it.
bench_sandbox_setup() { # $1 = the bench's temp folder, $2 = the build dir
  chmod 0755 "$1"
  mkdir -p -m 0755 "$1/apps" "$1/homes"
  install -m 0755 "$2/tests/fh-input-recorder" "$1/apps/fh-input-recorder"
  bench_recorder=$1/apps/fh-input-recorder
  bench_sandbox_config=$(printf 'homes-dir=%s\nsandbox-binds=%s\n' "$1/homes" "$1/apps")
}

# Removes the device accounts (fh-<id>) the hosts of a bench made, one for
# each device in the devices.ini files given, with their runtime bases
# first, while the uid is still theirs.
bench_remove_accounts() { # devices.ini files
  local id name uid base
  for id in $(sed -n 's/^\[device \([0-9a-z]*\)\]$/\1/p' "$@" 2>/dev/null | sort -u); do
    name=fh-$id
    uid=$(id -u "$name" 2>/dev/null) || continue
    for base in "/tmp/funkhaus-$uid" "/run/user/$uid"; do
      [[ -d $base && $(stat -c %U "$base") == "$name" ]] && rm -rf "$base"
    done
    for _ in $(seq 20); do
      userdel "$name" 2>/dev/null && break
      sleep 0.25 # its last processes may still be on their way out
    done
    id -u "$name" > /dev/null 2>&1 && echo "bench: could not remove the account $name" >&2
  done
  return 0
}

bench_parse_args "$@"
