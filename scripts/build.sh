#!/usr/bin/env bash
# Configures (once) and builds funkhaus into build/.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"
if [ ! -f build/build.ninja ]; then
  echo "funkhaus: configuring build/" >&2
  meson setup build --werror >&2
fi
echo "funkhaus: building" >&2
ninja -C build >&2
