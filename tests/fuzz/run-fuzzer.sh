#!/bin/sh
# Runs a libFuzzer target for a bounded time on a scratch copy of the seed
# corpus (new inputs it finds are not written into the source tree).
set -eu
fuzzer=$1 seeds=$2 seconds=$3
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp -r "$seeds"/. "$work"/
cd "$work"
# -error_exitcode: libFuzzer's default, 77, is what meson reads as "skipped":
# a crash must fail.
exec "$fuzzer" -max_total_time="$seconds" -print_final_stats=1 -max_len=8192 -error_exitcode=1 \
  -artifact_prefix="$work/" "$work"
