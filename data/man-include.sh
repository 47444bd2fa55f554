#!/bin/sh
# help2man's include for funkhaus(1): the sections of funkhaus.h2m, then
# what 'funkhaus serve --help' prints, as a section of its own, so that the
# man page and --help say the same.
set -eu
funkhaus=$1 static=$2 out=$3
{
  cat "$static"
  printf '[SERVE OPTIONS]\n.nf\n'
  # Backslashes, and lines that start with a dot or a quote, are roff.
  LC_ALL=C.UTF-8 "$funkhaus" serve --help | sed -e 's/\\/\\e/g' -e "s/^[.']/\\\\\\&&/"
  printf '.fi\n'
} >"$out.tmp"
mv "$out.tmp" "$out"
