# Shared by the bench/*.sh scripts (sourced, not run).

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
