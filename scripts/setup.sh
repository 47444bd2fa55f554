#!/usr/bin/env bash
# Installs what funkhaus needs on Debian 12, only what is missing.
#   scripts/setup.sh serve   build and runtime dependencies
#   scripts/setup.sh test    … plus what the test suite needs (Chromium,
#                            Node.js, clang for the fuzzers, playwright-core)
set -euo pipefail

what=${1:-serve}
here=$(cd "$(dirname "$0")/.." && pwd)

say() { printf 'funkhaus setup: %s\n' "$*" >&2; }

if [ "$(id -u)" -eq 0 ]; then
  sudo=()
elif command -v sudo >/dev/null; then
  sudo=(sudo)
else
  say "not root and no sudo: run this as root, or install sudo"
  exit 1
fi

packages=(
  build-essential meson ninja-build pkg-config
  libglib2.0-dev libsoup-3.0-dev libjson-glib-dev libssl-dev glib-networking
  libavcodec-dev libavutil-dev libswscale-dev
  libwayland-dev wayland-protocols libxkbcommon-dev xkb-data
  libpipewire-0.3-dev libopus-dev
  libenet-dev libavahi-client-dev libavahi-glib-dev avahi-daemon
  libsystemd-dev help2man
  libsdl2-dev
  sway xwayland foot
  bubblewrap slirp4netns
  pipewire pipewire-bin wireplumber pipewire-pulse
  ca-certificates
)
if [ "$what" = test ]; then
  packages+=(chromium nodejs npm clang libclang-rt-14-dev fonts-dejavu-core pulseaudio-utils avahi-utils)
  # the tools of the sandbox test's hostile app (tests/e2e/sandbox.test.mjs):
  # ip, grim, xdpyinfo (swaymsg comes with sway, pw-cli/pw-link/pw-record
  # with pipewire-bin)
  packages+=(iproute2 grim x11-utils)
  # the clipboard test copies and pastes inside sessions (tests/e2e/clipboard.test.mjs)
  packages+=(wl-clipboard)
  # the Mutter test: a Debian 13 root (scripts/trixie-root.sh), gdbus
  packages+=(debootstrap libglib2.0-bin)
  # the package test (tests/package/; scripts/package.sh installs the
  # build tools itself)
  packages+=(lintian)
  # the soak test (tests/e2e/soak.test.mjs) has the host return the memory
  # malloc keeps before it reads its RSS: gdb calls malloc_trim()
  packages+=(gdb)
fi

missing=()
for p in "${packages[@]}"; do
  # nodejs/npm may come from elsewhere (a newer Node is fine).
  case $p in
    nodejs) command -v node >/dev/null && continue ;;
    npm) command -v npm >/dev/null && continue ;;
  esac
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done

if [ ${#missing[@]} -gt 0 ]; then
  say "installing ${#missing[@]} Debian packages: ${missing[*]}"
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q >&2
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
    "${missing[@]}" >&2
else
  say "Debian packages: all present"
fi

# libei is not in Debian 12. Debian 13 (trixie) has it, and libei1/libeis1
# depend only on libc6: take them from trixie with an apt pin of priority
# 100, so that only what is asked for by name ever comes from there.
ei_packages=(libei-dev)
[ "$what" = test ] && ei_packages+=(libeis-dev) # the tests' gamescope stand-in
ei_missing=()
for p in "${ei_packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || ei_missing+=("$p/trixie")
done
if [ ${#ei_missing[@]} -gt 0 ]; then
  if [ ! -f /etc/apt/sources.list.d/funkhaus-trixie.sources ]; then
    say "adding Debian 13 (trixie) as an apt source pinned to 100, for libei"
    printf '%s\n' 'Types: deb' 'URIs: http://deb.debian.org/debian' 'Suites: trixie' \
      'Components: main' 'Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg' |
      "${sudo[@]}" tee /etc/apt/sources.list.d/funkhaus-trixie.sources >/dev/null
    printf '%s\n' 'Package: *' 'Pin: release n=trixie' 'Pin-Priority: 100' |
      "${sudo[@]}" tee /etc/apt/preferences.d/funkhaus-trixie >/dev/null
  fi
  say "installing from trixie: ${ei_missing[*]}"
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q >&2
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
    "${ei_missing[@]}" >&2
fi

# Compositors and apps never run as root: a host started as root runs them
# as this account (config.ini: run-as). Its shell is what a terminal starts.
account=${FUNKHAUS_ACCOUNT:-funkhaus}
if [ "$(id -u)" -eq 0 ] && ! id "$account" >/dev/null 2>&1; then
  say "creating the unprivileged account '$account' for compositors and apps"
  useradd --system --create-home --home-dir "/var/lib/$account" --shell /bin/bash "$account"
elif [ "$(id -u)" -eq 0 ]; then
  case $(getent passwd "$account" | cut -d: -f7) in
    */nologin | */false) usermod --shell /bin/bash "$account" ;;
  esac
fi

# slirp4netns (the sessions' network namespaces) opens /dev/net/tun as the
# session's account: Debian's udev rules make it 0666; a container or a
# system without those rules may have it 0600 (root only).
if [ -c /dev/net/tun ]; then
  if [ "$(stat -c %a /dev/net/tun)" != 666 ]; then
    say "making /dev/net/tun usable by every account (chmod 0666, as Debian's udev rules have it): slirp4netns needs it"
    "${sudo[@]}" chmod 0666 /dev/net/tun
  fi
else
  say "no /dev/net/tun: sessions get no network of their own (slirp4netns needs the tun device)"
fi

if [ "$what" = test ]; then
  e2e=$here/tests/e2e
  if [ ! -d "$e2e/node_modules/playwright-core" ]; then
    say "installing playwright-core for the browser tests (npm)"
    (cd "$e2e" && npm ci --no-audit --no-fund --loglevel=error >&2)
  fi
fi
