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
