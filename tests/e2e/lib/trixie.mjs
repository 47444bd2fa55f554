// A desktop run inside the Debian 13 root of scripts/trixie-root.sh (GNOME
// Mutter and KDE KWin are too old in Debian 12), as its unprivileged user
// fhdesktop, with its own session bus, PipeWire and WirePlumber. The host
// runs outside and reaches the desktop's sockets through the root's /run.

import { existsSync, readlinkSync, realpathSync } from 'node:fs';
import { spawn, execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { chmod, chown, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { poll } from './host.mjs';

const run = promisify(execFile);

export const DESKTOP_UID = 1500; // fhdesktop, made by scripts/trixie-root.sh
export const ROOT = process.env.FUNKHAUS_TRIXIE_ROOT && existsSync(process.env.FUNKHAUS_TRIXIE_ROOT)
  ? realpathSync(process.env.FUNKHAUS_TRIXIE_ROOT) : process.env.FUNKHAUS_TRIXIE_ROOT;

/** Why a test of such a desktop cannot run here, or false. */
export function trixieSkip() {
  return process.getuid?.() !== 0 ? 'needs root (chroot into the Debian 13 root)'
    : !ROOT ? 'no Debian 13 root (FUNKHAUS_TRIXIE_ROOT; scripts/trixie-root.sh makes one)'
    : !existsSync(join(ROOT, '.funkhaus-stamp')) ? `${ROOT} is not a finished Debian 13 root`
    : false;
}

export class TrixieDesktop {
  constructor(name) {
    this.inside = `/run/${name}-${process.pid}`; // its XDG_RUNTIME_DIR, as it sees it
    this.outside = ROOT ? join(ROOT, this.inside) : null; // and as the host does
    this.logs = [];
    this.procs = [];
    this.mounted = [];
  }

  /** Mounts /proc, /sys and /dev into the root and makes the runtime dir. */
  async prepare() {
    for (const m of ['proc', 'sys', 'dev']) {
      const target = join(ROOT, m);
      const already = await run('mountpoint', ['-q', target]).then(() => true, () => false);
      if (!already) {
        await run('mount', ['--bind', `/${m}`, target]);
        this.mounted.push(target);
      }
    }
    await mkdir(this.outside, { mode: 0o700 });
    await chown(this.outside, DESKTOP_UID, DESKTOP_UID);
  }

  /** Starts `argv` inside the root as the desktop's user, in its session. */
  spawn(argv, label) {
    const p = spawn('chroot', [`--userspec=${DESKTOP_UID}:${DESKTOP_UID}`, ROOT, 'env', '-i',
      'HOME=/home/fhdesktop', 'PATH=/usr/bin:/bin', 'LANG=C.UTF-8', `XDG_RUNTIME_DIR=${this.inside}`,
      `DBUS_SESSION_BUS_ADDRESS=unix:path=${this.inside}/bus`, ...argv],
    { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    p.stdout.on('data', (d) => this.logs.push(`[${label}] ${d}`));
    p.stderr.on('data', (d) => this.logs.push(`[${label}] ${d}`));
    this.procs.push(p);
    return p;
  }

  /** Session bus, PipeWire, WirePlumber, then `compositor` (exec'd). */
  async start(compositor) {
    const script = join(this.outside, 'desktop.sh');
    await writeFile(script, [
      `dbus-daemon --session --address=unix:path=${this.inside}/bus --nofork &`,
      'while [ ! -S "$XDG_RUNTIME_DIR/bus" ]; do sleep 0.05; done',
      'pipewire &',
      'while [ ! -S "$XDG_RUNTIME_DIR/pipewire-0" ]; do sleep 0.05; done',
      'wireplumber &',
      `exec ${compositor}`,
    ].join('\n') + '\n');
    await chmod(script, 0o755);
    this.spawn(['sh', `${this.inside}/desktop.sh`], 'desktop');
  }

  bus() {
    return `unix:path=${this.outside}/bus`;
  }

  async hasBusName(name) {
    return run('gdbus', ['call', '--address', this.bus(), '--dest', 'org.freedesktop.DBus',
      '--object-path', '/org/freedesktop/DBus', '--method', 'org.freedesktop.DBus.NameHasOwner', name])
      .then((r) => r.stdout.includes('true'), () => false);
  }

  async waitForBusName(name, what) {
    await poll(async () => this.hasBusName(name), { timeout: 30000, interval: 200, what });
  }

  async read(file) {
    return readFile(join(this.outside, file), 'utf8').catch(() => '');
  }

  /** Processes of the desktop's user whose root is the Debian 13 root. */
  async pids() {
    const { stdout } = await run('pgrep', ['-U', String(DESKTOP_UID)]).catch(() => ({ stdout: '' }));
    return stdout.split('\n').filter(Boolean).map(Number).filter((pid) => {
      try {
        return readlinkSync(`/proc/${pid}/root`) === ROOT;
      } catch {
        return false;
      }
    });
  }

  /** Stops everything the desktop started and undoes the mounts. */
  async stop() {
    for (const p of this.procs) {
      try {
        process.kill(-p.pid, 'SIGTERM');
      } catch {}
    }
    await new Promise((r) => setTimeout(r, 500));
    for (const pid of await this.pids()) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {}
    }
    await poll(async () => (await this.pids()).length === 0,
      { timeout: 5000, what: "the desktop's processes to end" })
      .catch((e) => console.error(e.message));
    for (const target of this.mounted.reverse())
      await run('umount', [target]).catch((e) => console.error(`umount ${target}: ${e.message}`));
    this.mounted = [];
    await rm(this.outside, { recursive: true, force: true });
  }
}
