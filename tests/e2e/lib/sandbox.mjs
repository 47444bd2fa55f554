// What the tests of the wlroots backend need from its sandbox
// (src/backends/sandbox.c): as root, every independent session runs as an
// account of its client's device, fh-<device id>, made on the device's
// first session and kept, with its home in homes-dir; only that home, the
// session's runtime dir and the folders in sandbox-binds= are visible
// inside. So a test
//   - keeps the homes in a folder of its own (homesDir: not /var/lib),
//   - binds the folders its apps write to (records) or run from (the
//     recorder, copied there: the build tree is not visible inside), open
//     to every device account (0777/1777),
//   - looks for leftovers under every account's runtime base, not only
//     funkhaus's,
//   - removes the accounts its hosts made at its end.

import { execFile } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { chmod, copyFile, mkdir, readdir, readFile, rm } from 'node:fs/promises';
import { join, basename } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** [{name, uid, gid, home}] of /etc/passwd's accounts whose name matches `re`. */
export function accounts(re) {
  return readFileSync('/etc/passwd', 'utf8').split('\n').filter(Boolean).map((l) => l.split(':'))
    .filter((f) => re.test(f[0]))
    .map((f) => ({ name: f[0], uid: Number(f[2]), gid: Number(f[3]), home: f[5] }));
}

/** The device accounts (fh-*) that exist now. */
export function deviceAccounts() {
  return accounts(/^fh-/);
}

/** Where an account's session runtime dirs are (account.c:
 *  fh_account_runtime_base): /run/user/<uid> or /tmp/funkhaus-<uid>. */
export function runtimeBasesOf(uid) {
  return [`/run/user/${uid}`, `/tmp/funkhaus-${uid}`];
}

/** Runtime bases of funkhaus (sessions without a device) and of every
 *  device account now. */
export function sessionRuntimeBases() {
  return [...accounts(/^funkhaus$/), ...deviceAccounts()].flatMap((a) => runtimeBasesOf(a.uid));
}

/** Every place the runtime dir of `session` can be. */
export function sessionRuntimeDirs(session) {
  return sessionRuntimeBases().map((b) => join(b, `funkhaus-session-${session}`));
}

/** Makes `<parent>/homes` (0755: every device account must reach its own
 *  home inside) and returns it. */
export async function makeHomesDir(parent) {
  const dir = join(parent, 'homes');
  await mkdir(dir, { recursive: true });
  await chmod(parent, 0o755);
  await chmod(dir, 0o755);
  return dir;
}

/** Copies `binary` into `dir` (a sandbox-binds folder), 0755; returns
 *  the copy's path. */
export async function copyIntoBind(binary, dir) {
  const to = join(dir, basename(binary));
  await copyFile(binary, to);
  await chmod(to, 0o755);
  return to;
}

/** config.ini lines of the sandbox: homes-dir= and sandbox-binds=. */
export function sandboxConfig({ homesDir, binds = [] }) {
  return `homes-dir=${homesDir}\n` + (binds.length ? `sandbox-binds=${binds.join(';')}\n` : '');
}

/** The device ids a host has paired (its devices.ini, groups
 *  `[device ID]`). */
export async function pairedDevices(configHome) {
  let text = '';
  try {
    text = await readFile(join(configHome, 'funkhaus', 'devices.ini'), 'utf8');
  } catch (e) {
    if (e.code !== 'ENOENT')
      throw e;
  }
  return [...text.matchAll(/^\[device ([^\]]+)\]$/gm)].map((m) => m[1]);
}

/** Removes the accounts of the devices paired on `host` (and their
 *  runtime bases first, while the uid is still theirs). Call it after the
 *  host stopped and before its cleanup (which removes devices.ini).
 *  Returns what could not be removed, for the caller to report. */
export async function removeDeviceAccounts(host) {
  if (!host?.env?.XDG_CONFIG_HOME)
    return [];
  const problems = [];
  const ids = await pairedDevices(host.env.XDG_CONFIG_HOME);
  for (const id of ids) {
    const name = `fh-${id}`;
    const acct = deviceAccounts().find((a) => a.name === name);
    if (!acct)
      continue;
    for (const base of runtimeBasesOf(acct.uid)) {
      if (base.startsWith('/tmp/') && existsSync(base))
        await rm(base, { recursive: true, force: true });
    }
    // The account's last processes may still be on their way out.
    let last = null;
    for (let i = 0; i < 20; i++) {
      try {
        await run('userdel', [name]);
        last = null;
        break;
      } catch (e) {
        last = `${e.message}`.trim();
        await new Promise((r) => setTimeout(r, 250));
      }
    }
    if (last)
      problems.push(`userdel ${name}: ${last}`);
  }
  return problems;
}

/** The PipeWire stack of `session`'s own (an independent session whose apps
 *  run in a sandbox has one in its runtime dir: src/backends/audio-stack.c),
 *  or null: {account, remote (PIPEWIRE_REMOTE), pulse (PULSE_SERVER)}. The
 *  stack belongs to the session's account: reach it as that account
 *  (runuser -u account). */
export function sessionAudio(session) {
  for (const dir of sessionRuntimeDirs(session)) {
    const pulse = join(dir, 'pulse', 'native');
    let st = null;
    try {
      st = statSync(pulse);
    } catch {
      continue;
    }
    const account = accounts(/./).find((a) => a.uid === st.uid);
    if (account)
      return { account: account.name, remote: join(dir, 'pipewire-0'), pulse: `unix:${pulse}` };
  }
  return null;
}

/** The processes of the sessions whose ids start with `ids` (one id or a
 *  list; 8-digit prefixes do), found by FUNKHAUS_SESSION in their
 *  environment, as root sees them from outside their sandboxes:
 *  [{pid, comm, state, session, uid}], each printing as
 *  "pid comm state session". */
export async function sessionProcesses(ids) {
  const wanted = [ids].flat();
  const found = [];
  for (const name of await readdir('/proc')) {
    if (!/^\d+$/.test(name))
      continue;
    try {
      const environ = await readFile(`/proc/${name}/environ`, 'latin1');
      const m = /(?:^|\0)FUNKHAUS_SESSION=([0-9a-f]+)\0/.exec(environ);
      if (!m || !wanted.some((id) => m[1].startsWith(id)))
        continue;
      const comm = (await readFile(`/proc/${name}/comm`, 'utf8')).trim();
      const state = (await readFile(`/proc/${name}/stat`, 'utf8')).split(') ')[1]?.[0];
      const uid = Number(/^Uid:\s+(\d+)/m.exec(await readFile(`/proc/${name}/status`, 'utf8'))[1]);
      found.push({
        pid: Number(name), comm, state, session: m[1], uid,
        toString() { return `${this.pid} ${this.comm} ${this.state} ${this.session}`; },
      });
    } catch { /* gone meanwhile */ }
  }
  return found;
}

/** The end of a test whose host runs sessions as device accounts: stops
 *  the host if it still runs, removes the accounts it made and its
 *  folders, and `dirs` (unless FUNKHAUS_KEEP_TMP); throws, naming them,
 *  when accounts could not be removed. */
export async function finishSandboxedHost(host, dirs = []) {
  if (host && !host.exit)
    await host.stop().catch(() => {});
  const problems = await removeDeviceAccounts(host);
  await host?.cleanup();
  for (const d of dirs) {
    if (d && !process.env.FUNKHAUS_KEEP_TMP)
      await rm(d, { recursive: true, force: true });
  }
  if (problems.length)
    throw new Error(`device accounts left behind: ${problems.join('; ')}`);
}

/** The lines of the record the input recorder of `session` writes in
 *  `dir` (`<session>.log`: key, motion, button, axis, ready); none before
 *  it wrote any. */
export async function recordLines(dir, session) {
  try {
    return (await readFile(join(dir, `${session}.log`), 'utf8')).split('\n').filter(Boolean);
  } catch (e) {
    if (e.code === 'ENOENT')
      return [];
    throw e;
  }
}
