#!/usr/bin/env bash
# A Debian 13 (trixie) root with GNOME Mutter, KDE KWin, PipeWire and
# WirePlumber, for the shared-desktop tests of those two: Debian 12's Mutter
# (43) is too old for headless virtual monitors driven over D-Bus, and its
# KWin (5.27) has no EIS. Made once with debootstrap (2 to 3 minutes,
# 1.3 GB) and kept: a later run reuses it while its stamp matches this
# script's package list. Prints the root's path.
#
# Usage: scripts/trixie-root.sh [DIR]   (default: $FUNKHAUS_TRIXIE_ROOT, or
#                                        /var/cache/funkhaus/trixie-desktops)
# Needs root (debootstrap). Nothing runs inside the root here: the test
# starts its desktop itself (tests/e2e/mutter.test.mjs, kwin.test.mjs).
set -euo pipefail

root=${1:-${FUNKHAUS_TRIXIE_ROOT:-/var/cache/funkhaus/trixie-desktops}}
mirror=${FUNKHAUS_DEBIAN_MIRROR:-http://deb.debian.org/debian}
# dbus-x11 gives the session bus that wireplumber and dconf need without
# systemd; libpam-elogind the logind that KWin's polkit-qt wants;
# kwin-common KWin's plugins (screencast, EIS), which kwin-wayland does not
# pull in; libgl1-mesa-dri is llvmpipe, Mutter's renderer without a GPU.
packages=mutter,kwin-wayland,kwin-common,libpam-elogind,pipewire,wireplumber,dbus,dbus-x11
packages+=,libgl1-mesa-dri,libspa-0.2-modules
stamp="trixie $packages v2"

say() { printf 'funkhaus trixie root: %s\n' "$*" >&2; }

if [ "$(id -u)" -ne 0 ]; then
  say "needs root (debootstrap, chroot)"
  exit 1
fi
if [ -f "$root/.funkhaus-stamp" ] && [ "$(cat "$root/.funkhaus-stamp")" = "$stamp" ]; then
  echo "$root"
  exit 0
fi
if ! command -v debootstrap >/dev/null; then
  say "installing debootstrap"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q debootstrap >&2
fi
# A half-made root (an interrupted run) is made again from scratch; never
# remove one that still has something mounted inside.
for m in proc sys dev; do
  if mountpoint -q "$root/$m" 2>/dev/null; then
    umount "$root/$m"
  fi
done
rm -rf --one-file-system "$root"
mkdir -p "$(dirname "$root")"
say "making a Debian 13 root with Mutter and KWin in $root (debootstrap, 2 to 3 minutes)"
log=$(mktemp)
if ! debootstrap --variant=minbase --include="$packages" trixie "$root" "$mirror" >"$log" 2>&1; then
  tail -n 30 "$log" >&2
  say "debootstrap failed (full log: $log)"
  exit 1
fi
rm -f "$log"
# debootstrap can end well with packages left unconfigured (a missing
# dependency): such a root is no use.
if [ -n "$(chroot "$root" dpkg --audit)" ]; then
  chroot "$root" dpkg --audit | head -n 20 >&2
  say "debootstrap left packages unconfigured"
  exit 1
fi
chroot "$root" apt-get clean
# The test's host runs as root outside the root and talks to the desktop's
# session bus, which by default lets in only the desktop's own user.
cat >"$root/etc/dbus-1/session-local.conf" <<'EOF'
<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <policy context="default">
    <allow user="root"/>
  </policy>
</busconfig>
EOF
# KDE's service cache (which KWin asks for a program's desktop file) finds
# applications through the XDG menu, which a full Plasma ships.
mkdir -p "$root/etc/xdg/menus"
cat >"$root/etc/xdg/menus/applications.menu" <<'MENU'
<!DOCTYPE Menu PUBLIC "-//freedesktop//DTD Menu 1.0//EN"
 "http://www.freedesktop.org/standards/menu-spec/1.0/menu.dtd">
<Menu>
  <Name>Applications</Name>
  <DefaultAppDirs/>
  <DefaultDirectoryDirs/>
  <Include><All/></Include>
</Menu>
MENU
chroot "$root" useradd --create-home --uid 1500 --user-group fhdesktop
echo "$stamp" >"$root/.funkhaus-stamp"
say "ready"
echo "$root"
