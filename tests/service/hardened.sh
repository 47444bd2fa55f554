#!/bin/sh
# Runs a command (the host) inside walls like those funkhaus.service puts
# up, as far as they can be had without systemd, to try the unit's
# hardening with real sandboxed sessions (docs/service.md):
#   mkdir -p /run/fh-test && FUNKHAUS_TEST_DIR=/run/fh-test \
#   FUNKHAUS_TEST_WRAP=tests/service/hardened.sh FUNKHAUS_TEST_BACKEND=wlroots \
#     node --test tests/service/notify.test.mjs
# (FUNKHAUS_TEST_DIR: NOTIFY_SOCKET outside the host's private /tmp.)
#
# What the unit uses: PrivateTmp= (a tmpfs on /tmp and /var/tmp),
# ProtectSystem=yes (/usr, /boot, /efi read-only), ProtectKernelModules=
# (the module folders inaccessible; its seccomp filter is not emulated, nor
# RestrictSUIDSGID='s). Also in the unit, added with FUNKHAUS_HARDEN_ALSO
# (space-separated) to try them here:
#   no-new-privileges        NoNewPrivileges=yes
#   protect-proc             ProtectProc=invisible (hidepid)
# Not in the unit, to see why:
#   protect-kernel-logs      /proc/kmsg covered: bwrap "Can't mount proc"
#   protect-kernel-tunables  /proc/sys read-only: the same
# Root only; the command keeps this shell's pid (exec), as under systemd.
set -eu
exec unshare --mount --propagation private -- sh -euc '
  also=" ${FUNKHAUS_HARDEN_ALSO:-} "
  mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs /tmp
  mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs /var/tmp
  for d in /usr /boot /efi; do
    [ -d "$d" ] || continue
    mount --bind "$d" "$d"
    mount -o remount,bind,ro "$d"
  done
  # systemd covers what it makes inaccessible with an empty 0000 node.
  mkdir -m 0000 /tmp/.inaccessible-dir
  touch /tmp/.inaccessible-file && chmod 0000 /tmp/.inaccessible-file
  for d in /usr/lib/modules /lib/modules; do
    [ -d "$d" ] && mount --bind /tmp/.inaccessible-dir "$d"
  done
  case $also in *" protect-kernel-logs "*) mount --bind /tmp/.inaccessible-file /proc/kmsg ;; esac
  case $also in *" protect-kernel-tunables "*)
    mount --bind /proc/sys /proc/sys && mount -o remount,bind,ro /proc/sys ;; esac
  case $also in *" protect-proc "*) mount -t proc -o hidepid=invisible proc /proc ;; esac
  case $also in *" no-new-privileges "*) exec setpriv --no-new-privs -- "$@" ;; esac
  exec "$@"
' hardened "$@"
