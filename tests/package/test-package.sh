#!/usr/bin/env bash
# The Debian package, end to end, as the README says to make and install it:
# a clean `git clone` of this tree's committed HEAD, `bash scripts/package.sh`
# in it, `apt install ./…deb`, then checks: funkhaus --version, the man page,
# the unit (systemd-analyze verify), the account, that nothing was enabled or
# started, that the installed host serves its installed browser client, and
# lintian (no tag that debian/funkhaus.lintian-overrides does not explain).
# Then `apt-get purge`. Needs root (apt) and a machine without funkhaus
# installed; exits 77 (skipped) otherwise. Bounded: the build gets
# FUNKHAUS_PACKAGE_TIMEOUT seconds (default 420).
set -euo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
say() { printf '# %s\n' "$*"; }
fail() { printf 'FAIL: %s\n' "$*"; exit 1; }
# In CI a skip would hide a package nobody built: a failure there.
skip() {
  [ -z "${CI:-}" ] || fail "cannot run in CI: $*"
  printf 'SKIP: %s\n' "$*"
  exit 77
}

[ "$(id -u)" -eq 0 ] || skip "needs root: it installs the package with apt"
if dpkg-query -W -f='${Status}' funkhaus 2>/dev/null | grep -q 'install ok installed'; then
  skip "a funkhaus package is installed on this machine already: not touching it"
fi
git -C "$here" rev-parse --git-dir >/dev/null 2>&1 || skip "$here is not a git checkout"
if [ -n "$(git -C "$here" status --porcelain --untracked-files=no)" ]; then
  say "note: this tree has uncommitted changes; the package is built from its committed HEAD"
fi

tmp=$(mktemp -d /tmp/funkhaus-package-XXXXXX)
installed=0
host_pid=
cleanup() {
  [ -n "$host_pid" ] && kill "$host_pid" 2>/dev/null && wait "$host_pid" 2>/dev/null
  if [ $installed -eq 1 ]; then
    DEBIAN_FRONTEND=noninteractive apt-get purge -y -q funkhaus >"$tmp/purge.log" 2>&1 ||
      { echo "apt-get purge funkhaus failed:"; cat "$tmp/purge.log"; }
  fi
  [ -n "${FUNKHAUS_KEEP_TMP:-}" ] || rm -rf "$tmp"
}
trap cleanup EXIT

say "git clone of $(git -C "$here" rev-parse --short HEAD) into $tmp/funkhaus"
git clone -q "$here" "$tmp/funkhaus"

say "bash scripts/package.sh (the README's command)"
start=$SECONDS
if ! timeout "${FUNKHAUS_PACKAGE_TIMEOUT:-420}" bash "$tmp/funkhaus/scripts/package.sh" \
  >"$tmp/package.out" 2>"$tmp/package.log"; then
  tail -40 "$tmp/package.log"
  fail "scripts/package.sh failed or ran out of time"
fi
deb=$(tail -1 "$tmp/package.out")
say "built $deb in $((SECONDS - start)) s"
[[ $deb == "$tmp/funkhaus/build-deb/"*.deb && -f $deb ]] || fail "package.sh printed no .deb path: '$deb'"
version=$(cd "$tmp/funkhaus" && dpkg-parsechangelog -S Version)

say "apt install ./${deb#"$tmp/funkhaus/"}"
installed=1
if ! (cd "$tmp/funkhaus" && DEBIAN_FRONTEND=noninteractive apt install -y -q "./${deb#"$tmp/funkhaus/"}") \
  >"$tmp/install.log" 2>&1; then
  cat "$tmp/install.log"
  fail "apt install of the package failed"
fi

say "funkhaus --version"
[ "$(command -v funkhaus)" = /usr/bin/funkhaus ] || fail "funkhaus is not /usr/bin/funkhaus but '$(command -v funkhaus)'"
out=$(funkhaus --version)
[ "$out" = "funkhaus $version" ] || fail "funkhaus --version says '$out', not 'funkhaus $version'"

say "man funkhaus"
page=$(man -w funkhaus) || fail "man -w funkhaus finds no page"
[ "$page" = /usr/share/man/man1/funkhaus.1.gz ] || fail "the man page is $page"
text=$(MANWIDTH=80 man funkhaus 2>"$tmp/man.err" | col -b)
[ ! -s "$tmp/man.err" ] || { cat "$tmp/man.err"; fail "man funkhaus warned"; }
for want in 'funkhaus - streams desktops' 'serve' 'pair' '--version' '--port=PORT' 'SERVE OPTIONS' "funkhaus $version"; do
  grep -qF -- "$want" <<<"$text" || { head -30 <<<"$text"; fail "man funkhaus lacks '$want'"; }
done
# The same text as --help: every command line of the usage is in the page.
while IFS= read -r line; do
  case $line in "  serve "* | "  pair "* | "  devices "* | "  approve "* | "  deny "*)
    word=$(awk '{print $1}' <<<"$line")
    grep -qE "^ +$word( |$)" <<<"$text" || fail "man funkhaus lacks the command '$word' of --help" ;;
  esac
done < <(funkhaus --help)

say "the unit"
unit=$(dpkg -L funkhaus | grep -E '/systemd/system/funkhaus\.service$') || fail "no funkhaus.service in the package"
for want in 'Type=notify' 'NotifyAccess=main' 'Restart=on-failure' 'KillMode=control-group' \
  'Delegate=yes' 'ExecStart=/usr/bin/funkhaus serve'; do
  grep -qxF "$want" "$unit" || fail "$unit lacks $want"
done
if command -v systemd-analyze >/dev/null; then
  systemd-analyze verify "$unit" >"$tmp/verify.log" 2>&1 || { cat "$tmp/verify.log"; fail "systemd-analyze verify $unit"; }
  [ ! -s "$tmp/verify.log" ] || { cat "$tmp/verify.log"; fail "systemd-analyze verify $unit warned"; }
else
  say "no systemd-analyze here: the unit is not verified"
fi

say "nothing enabled, nothing started"
links=$(find /etc/systemd/system -name funkhaus.service 2>/dev/null || true)
[ -z "$links" ] || fail "the unit was enabled: $links"
if [ -d /run/systemd/system ]; then
  state=$(systemctl is-enabled funkhaus.service 2>/dev/null || true)
  [ "$state" = disabled ] || fail "systemctl is-enabled funkhaus: '$state', not 'disabled'"
  systemctl is-active --quiet funkhaus.service && fail "the service runs after the install"
fi
for exe in /proc/[0-9]*/exe; do
  [ "$(readlink "$exe" 2>/dev/null)" = /usr/bin/funkhaus ] && fail "a /usr/bin/funkhaus runs after the install (${exe%/exe})"
done
# The maintainer scripts never start or enable it: an upgrade may only
# try-restart it (where it runs) and re-enable it where the admin had
# (debhelper's --no-enable snippet: only a unit that was debian-installed).
# debhelper's default snippets (start, restart, enable on a first install)
# all fail this.
maint_script_starts_nothing() {
  if grep -E 'deb-systemd-invoke' "$1" | grep -vqE 'deb-systemd-invoke +try-restart '; then
    grep -n 'deb-systemd-invoke' "$1"; return 1
  fi
  if grep -q 'deb-systemd-helper enable' "$1" && ! grep -q 'deb-systemd-helper debian-installed' "$1"; then
    grep -n 'deb-systemd-helper' "$1"; return 1
  fi
  if grep -nE 'systemctl .*(start|enable)' "$1"; then return 1; fi
}
for script in /var/lib/dpkg/info/funkhaus.{preinst,postinst}; do
  [ -f "$script" ] || continue
  maint_script_starts_nothing "$script" || fail "$script may start or enable the service"
done

say "the account for sessions without a device"
getent passwd funkhaus >/dev/null || fail "no account 'funkhaus' after the install"

say "the installed host serves its installed browser client"
mkdir -m 0700 "$tmp/home" "$tmp/config" "$tmp/runtime"
env -u FUNKHAUS_WEB_DIR HOME="$tmp/home" XDG_CONFIG_HOME="$tmp/config" XDG_RUNTIME_DIR="$tmp/runtime" \
  funkhaus serve --backend synthetic --port 0 --gamestream off --audio off >"$tmp/host.out" 2>"$tmp/host.err" &
host_pid=$!
port=
for _ in $(seq 100); do
  port=$(sed -n 's|.*serving https://localhost:\([0-9]*\)/.*|\1|p' "$tmp/host.out")
  [ -n "$port" ] && break
  kill -0 "$host_pid" 2>/dev/null || break
  sleep 0.1
done
[ -n "$port" ] || { cat "$tmp/host.out" "$tmp/host.err"; fail "the installed host did not serve"; }
page=$(curl -sk --max-time 10 "https://localhost:$port/") || fail "GET / on the installed host"
[ "$page" = "$(cat /usr/share/funkhaus/web/index.html)" ] || fail "GET / is not /usr/share/funkhaus/web/index.html"
kill "$host_pid"
wait "$host_pid" || fail "the installed host exited with $? on SIGTERM"
host_pid=

if command -v lintian >/dev/null; then
  say "lintian"
  changes=${deb%.deb}.changes
  lintian --pedantic -I "$changes" >"$tmp/lintian.log" 2>&1 || true
  if grep -E '^[EWIP]: ' "$tmp/lintian.log"; then
    fail "lintian has tags that debian/funkhaus.lintian-overrides does not explain"
  fi
else
  say "no lintian here: not run"
fi

say "apt-get purge funkhaus"
DEBIAN_FRONTEND=noninteractive apt-get purge -y -q funkhaus >"$tmp/purge.log" 2>&1 || { cat "$tmp/purge.log"; fail "purge"; }
installed=0
[ ! -e /usr/bin/funkhaus ] || fail "/usr/bin/funkhaus is still there after the purge"
echo "ok: the package builds from a clean clone, installs, works and goes"
