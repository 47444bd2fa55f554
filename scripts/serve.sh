#!/usr/bin/env bash
# The README's first command: install what is missing, build, and run the
# host on its embedded defaults. Arguments go to 'funkhaus serve'.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
bash "$here/scripts/setup.sh" serve
bash "$here/scripts/build.sh"
# The user-space pads' shim of this build, not an installed one.
export FUNKHAUS_PAD_SHIM="${FUNKHAUS_PAD_SHIM:-$here/build/src/backends/pad-shim/libfunkhaus-pad.so}"
echo "funkhaus: starting the host (Ctrl-C stops it)" >&2
exec "$here/build/src/funkhaus" serve "$@"
