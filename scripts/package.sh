#!/usr/bin/env bash
# Builds funkhaus's Debian package with Debian's own tools (dpkg-buildpackage,
# debhelper, meson; debian/ in this tree): installs what the build needs (the
# Build-Depends of debian/control, with apt-get build-dep), builds from a copy
# of this tree's files (tracked and untracked, not ignored) in build-deb/, and
# prints the path of the .deb as its last line. Install it with
#   sudo apt install ./build-deb/funkhaus_<version>_<arch>.deb
# Runs as root or as a user with sudo (for apt only). About 2-4 minutes on 2
# cores; DEB_BUILD_OPTIONS (parallel=N, nocheck…) is passed on.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"

say() { printf 'funkhaus package: %s\n' "$*" >&2; }

if [ "$(id -u)" -eq 0 ]; then
  sudo=()
elif command -v sudo >/dev/null; then
  sudo=(sudo)
else
  say "not root and no sudo: run this as root, or install sudo"
  exit 1
fi
apt_get() { "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get -q "$@" >&2; }

# dpkg-buildpackage and dpkg-checkbuilddeps come with dpkg-dev; the rest of
# what the build needs is in debian/control.
if ! command -v dpkg-checkbuilddeps >/dev/null || ! command -v dpkg-buildpackage >/dev/null ||
   ! dpkg-query -W -f='${Status}' build-essential 2>/dev/null | grep -q 'install ok installed'; then
  say "installing dpkg-dev and build-essential"
  apt_get update
  apt_get install -y --no-install-recommends dpkg-dev build-essential
fi
if ! unmet=$(dpkg-checkbuilddeps 2>&1); then
  say "installing the build dependencies (${unmet##*dependencies: })"
  apt_get update
  apt_get build-dep -y --no-install-recommends ./
fi

version=$(dpkg-parsechangelog -S Version)
arch=$(dpkg --print-architecture)
out=$here/build-deb
src=$out/src/funkhaus-$version
rm -rf "$out"
mkdir -p "$src"

# The tree as git sees it (what a commit would hold, uncommitted changes
# included), never build folders or node_modules; a tree without git is
# copied without those.
if git -C "$here" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  git -C "$here" ls-files -z --cached --others --exclude-standard |
    while IFS= read -r -d '' f; do [ -e "$f" ] && printf '%s\0' "$f"; done |
    tar --null -T - -cf - | tar -xf - -C "$src"
else
  tar --exclude='./build*' --exclude=node_modules --exclude=./bench/out -cf - . |
    tar -xf - -C "$src"
fi

# -b: the binary package only (native, no source tarball needed); -us -uc:
# unsigned.
jobs=$(nproc)
say "building funkhaus $version ($arch) in ${src#"$here"/}"
(cd "$src" &&
  DEB_BUILD_OPTIONS="${DEB_BUILD_OPTIONS:-parallel=$jobs}" dpkg-buildpackage -us -uc -b >&2)

mv "$out"/src/*.deb "$out"/src/*.changes "$out"/src/*.buildinfo "$out"/
rm -rf "$out/src"
deb=$out/funkhaus_${version}_$arch.deb
[ -f "$deb" ] || { say "no $deb after the build"; exit 1; }
say "built; install it with: sudo apt install ./${deb#"$here"/}"
echo "$deb"
