// The session sandbox (src/backends/sandbox.c) against a hostile app: two
// browser clients of two paired devices get two wlroots sessions, each in
// its sandbox as its device's account (fh-<device id>, home in homes-dir)
// when the host runs as root (tests/e2e/sandbox.test.mjs), or as the
// host's own user with a home per device when it runs as a normal user
// (tests/e2e/sandbox-user.test.mjs: namespaces only).
// Every session runs tests/apps/fh-sandbox-app.sh, whose role the test picks
// by the session's serial (REPORT/role-<serial>):
//
//   1 victim   a window, a secret (FHSECRET-…) in $HOME, /tmp, /dev/shm and
//              its environment, a 440 Hz tone on its speaker, a TCP
//              connection to the test's listener at the host's address on the
//              network (never at its loopback: the hostile tries that);
//   2 hostile  given the victim's paths and host pids (REPORT/victim.env),
//              tries every channel into session 1 with standard tools (ls,
//              cat, touch, find, kill -0, swaymsg, grim, xdpyinfo, pactl,
//              pw-cli, pw-link, pw-record, parecord) and writes one JSON
//              line an attempt, plus controls: the same tools on its own
//              session, so that "did not cross" means something.
//
// The test fails naming every attempt that crossed, checks from the host
// that nothing was written into the victim's home or runtime dir, and that
// the victim still works (its window in client A, its connection reached
// the listener, A hears its tone). Then the victim's device comes back, in
// a new session and after a host restart (same XDG_CONFIG_HOME and
// homes-dir), and finds the file it wrote in its home; other devices'
// sessions do not.
//
// Needs root (also for the normal-user run: it makes that user's folders
// and looks into every session), bubblewrap, slirp4netns (with /dev/net/tun open to every
// account), sway, Xwayland, iproute2, grim, x11-utils, pulseaudio-utils,
// pipewire-bin, Chromium and the recorder (FUNKHAUS_RECORDER). In CI a
// missing piece is a failure, not a skip.

import { before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { chmod, chown, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { networkInterfaces, tmpdir } from 'node:os';
import { join, delimiter } from 'node:path';
import { reportingTest } from './report.mjs';
import { RATE, rawTone, rms, toneLevel, wavTone } from './audio.mjs';
import { startHost, poll, repoRoot } from './host.mjs';
import { startGsClient } from './gs-client.mjs';
import { scriptedGamepads } from './gamepads.mjs';
import { Client, launchBrowser, connectClient, colorClose } from './client.mjs';
import {
  accounts, copyIntoBind, makeHomesDir, removeDeviceAccounts, sandboxConfig, sessionProcesses,
  sessionRuntimeDirs,
} from './sandbox.mjs';

const RECORDER = process.env.FUNKHAUS_RECORDER || join(repoRoot, 'build', 'tests', 'fh-input-recorder');
const APP = join(repoRoot, 'tests', 'apps', 'fh-sandbox-app.sh');
const MODE = { width: 320, height: 240, refresh: 30 };
const TOLERANCE = 24;
const SECRET_FILE = 'fh-victim-secret';
const TOOLS = ['bwrap', 'slirp4netns', 'sway', 'Xwayland', 'ip', 'swaymsg', 'grim', 'xdpyinfo', 'pactl', 'pacat',
  'parecord', 'pw-cli', 'pw-link', 'pw-record', 'useradd', 'userdel', 'bash'];
// What the hostile app must have tried: the test fails when one is missing.
const CHANNELS = ['home-list', 'home-read', 'home-write', 'runtime-list', 'runtime-read', 'runtime-write',
  'homes-list', 'runtime-base-list', 'tmp-read', 'shm-read', 'search-names', 'search-contents',
  'proc-environ', 'proc-signal', 'proc-enumerate', 'proc-foreign', 'sway-ipc', 'wayland',
  'compositor-socket-search', 'x11', 'x11-sockets', 'abstract-sockets', 'host-loopback',
  'pad-list', 'pad-search'];
const AUDIO_CHANNELS = ['audio-list', 'audio-record'];

/** Whether `user` may make user namespaces (bubblewrap, not setuid). */
function userNamespacesFor(user) {
  try {
    execFileSync('runuser', ['-u', user, '--', 'bwrap', '--unshare-user', '--ro-bind', '/', '/', 'true'],
      { stdio: 'ignore', timeout: 10000 });
    return true;
  } catch {
    return false;
  }
}

/** Registers the sandbox tests. `asUser` (an account name): the host runs
 *  as that normal user (namespaces only, a home per device, no accounts
 *  made); otherwise it runs as root (an account per device). */
export function sandboxSuite({ asUser = null } = {}) {
  const onPath = (t) => (process.env.PATH ?? '/usr/bin:/bin').split(delimiter)
    .concat(['/usr/sbin', '/sbin']).some((d) => existsSync(join(d, t)));
  const missing = TOOLS.filter((t) => !onPath(t));
  const tunOpen = (() => {
    try {
      return (statSync('/dev/net/tun').mode & 0o006) === 0o006;
    } catch {
      return false;
    }
  })();
  const root = process.getuid?.() === 0;
  // The normal user the host runs as (asUser), and whether it may make
  // user namespaces here (bubblewrap without setuid needs them).
  const hostUser = asUser && root ? accounts(new RegExp(`^${asUser}$`))[0] ?? null : null;
  const setupSkip = !root ? 'the sandbox test needs root (to make device accounts, or the normal user\'s folders, and to look into every session)'
    : missing.length ? `missing ${missing.join(', ')} (scripts/setup.sh test installs them)`
    : !tunOpen ? '/dev/net/tun is not open to every account: slirp4netns cannot give sessions a network (scripts/setup.sh test makes it 0666)'
    : !existsSync(RECORDER) ? `no recorder at ${RECORDER} (build it, or set FUNKHAUS_RECORDER)`
    : asUser && !hostUser ? `no account ${asUser} to run the host as`
    : false;
  if (setupSkip && process.env.CI)
    throw new Error(`sandbox tests cannot run in CI: ${setupSkip}`);
  // Not a setup problem: a machine that forbids unprivileged user
  // namespaces cannot sandbox for a normal user, in CI or not.
  const skip = setupSkip || (hostUser && !userNamespacesFor(hostUser.name)
    ? `this machine does not let the normal user ${asUser} make user namespaces (bwrap --unshare-user fails as it): a host run as a normal user cannot sandbox sessions here`
    : false);
  /** The account a device's sessions run as. */
  const accountOf = (device) => hostUser ?? accounts(/^fh-/).find((a) => a.name === `fh-${device}`);
  /** Every place the runtime dir of `session` can be: a host run as a
   *  normal user keeps them in its own XDG_RUNTIME_DIR. */
  const runtimeDirsOf = (session) => [...sessionRuntimeDirs(session),
    ...[host, host2].filter(Boolean).map((h) => join(h.env.XDG_RUNTIME_DIR, `funkhaus-session-${session}`))];

  let report = null;      // the app's folder (sandbox-binds=, 1777)
  let moonlight = null;   // the Moonlight client (fh-gs-client) of the last test
  let homesParent = null;
  let homesDir = null;
  let listener = null;    // {server, port, lines}
  let host = null;
  let host2 = null;       // the restarted host
  let browser = null;
  let A = null;           // the victim's device
  let B = null;           // the hostile's device
  let C = null;           // a third device
  const extra = [];
  const sessions = {};    // role → session id
  const devices = {};     // client name → {device, token}
  let victim = null;      // what session 1 is: {session, device, home, runtime, secret, swayPid, …}

  /** "pid comm" of every process whose FUNKHAUS_SESSION is `id`. */
  async function text(path) {
    try {
      return await readFile(path, 'utf8');
    } catch (e) {
      if (e.code === 'ENOENT')
        return null;
      throw e;
    }
  }

  async function waitJson(name, what, timeout = 20000) {
    const t = await poll(() => text(join(report, name)), { timeout, what });
    return JSON.parse(t);
  }

  async function setRole(serial, role) {
    await writeFile(join(report, `role-${serial}`), `${role}\n`);
  }

  async function attemptsOf(session) {
    const t = await text(join(report, `attempts-${session}.jsonl`));
    return (t ?? '').split('\n').filter(Boolean).map((l) => {
      try {
        return JSON.parse(l);
      } catch {
        return { channel: 'unreadable', tool: 'the report line', crossed: true, detail: l };
      }
    });
  }

  const describe = (a) => `${a.channel}: ${a.tool}: ${a.detail}`;

  /** The recorder's `ready` line of `session`: its colour. */
  async function colourOf(session) {
    const log = await poll(async () => {
      const l = await text(join(report, `${session}.log`));
      return l && /^ready /m.test(l) ? l : null;
    }, { timeout: 15000, what: `the recorder of ${session} to be ready` });
    const hex = /^ready \d+ \d+ ([0-9a-f]{6})$/m.exec(log)[1];
    return [0, 2, 4].map((i) => parseInt(hex.slice(i, i + 2), 16));
  }

  /** Points of the picture in `c` that show `rgb` (of five spread out). */
  async function pointsShowing(c, rgb) {
    const points = [[0.2, 0.2], [0.8, 0.2], [0.5, 0.5], [0.2, 0.8], [0.8, 0.8]]
      .map(([x, y]) => [Math.floor(x * MODE.width), Math.floor(y * MODE.height)]);
    const seen = [];
    for (const [x, y] of points)
      seen.push([x, y, await c.sampleColor(x, y)]);
    return { good: seen.filter(([, , s]) => colorClose(s, rgb, TOLERANCE)).length, seen };
  }

  async function credentialOf(c) {
    return JSON.parse(await c.page.evaluate(() => localStorage.getItem('funkhaus.credential')));
  }

  /** A client with a stored credential (no pairing) on `h`; resolves once
   *  it streams. */
  async function openWithCredential(name, h, cred, { mic = false } = {}) {
    const context = await browser.newContext({ ignoreHTTPSErrors: true, viewport: { width: MODE.width, height: MODE.height } });
    await context.addInitScript((c) => localStorage.setItem('funkhaus.credential', c), JSON.stringify(cred));
    const page = await context.newPage();
    const client = new Client(name, context, page);
    extra.push(client);
    const params = new URLSearchParams({ ...MODE, autoconnect: 1, ...(mic ? { mic: 1 } : {}) });
    await page.goto(`${h.url}?${params}`);
    await client.waitFor((f) => f.state === 'streaming' && f.welcome, { what: 'streaming', timeout: 20000 });
    return client;
  }

  /** Ends the session of `c` (grace 0: its socket closing ends it) and waits
   *  until none of its processes and no runtime dir of it is left. */
  async function endSession(c, session) {
    await c.page.goto('about:blank');
    await poll(async () => (await sessionProcesses(session)).length === 0,
      { timeout: 10000, what: `the processes of session ${session} to be gone` });
    await poll(() => runtimeDirsOf(session).every((d) => !existsSync(d)),
      { timeout: 5000, what: `the runtime dir of session ${session} to be gone` });
    await poll(() => cgroupDirs(session).length === 0,
      { timeout: 5000, what: `the cgroups of session ${session} to be gone` });
  }

  /** The cgroup folders of `session` that exist (backends/cgroup.c makes
   *  <the host's cgroup>/funkhaus-session-<id> in each hierarchy it uses). */
  function cgroupDirs(session) {
    const found = [];
    const walk = (dir, depth) => {
      let entries = [];
      try {
        entries = readdirSync(dir, { withFileTypes: true });
      } catch { return; }
      for (const e of entries.filter((x) => x.isDirectory())) {
        if (e.name === `funkhaus-session-${session}`)
          found.push(join(dir, e.name));
        else if (depth < 4)
          walk(join(dir, e.name), depth + 1);
      }
    };
    walk('/sys/fs/cgroup', 0);
    return found;
  }

  function shellQuote(s) {
    return `'${String(s).replace(/'/g, "'\\''")}'`;
  }

  async function startListener() {
    const lines = [];
    const server = createServer((sock) => {
      let buf = '';
      sock.setEncoding('utf8');
      sock.on('data', (d) => {
        buf += d;
        const i = buf.indexOf('\n');
        if (i >= 0) {
          lines.push({ line: buf.slice(0, i), from: sock.remoteAddress });
          sock.end('welcome\n');
        }
      });
      sock.on('error', () => {});
    });
    // On every address: sessions reach the host at its address on the
    // network, never at its loopback (the hostile tries that).
    await new Promise((res, rej) => server.listen(0, '0.0.0.0', res).on('error', rej));
    return { server, port: server.address().port, lines };
  }

  function e2e(name, fn, { timeout = 90000 } = {}) {
    reportingTest(name, { timeout, skip }, async () => {
      const parts = [host && `--- host log ---\n${host.logs()}`, host2 && `--- host log (restarted) ---\n${host2.logs()}`];
      parts.push(...[A, B, C, ...extra].map((c) => c?.report()));
      parts.push(moonlight?.report());
      if (report) {
        parts.push(`--- report folder ---\n${(await readdir(report).catch(() => [])).join(' ')}`);
        for (const [role, s] of Object.entries(sessions)) {
          for (const f of [`attempts-${s}.jsonl`, `victim-${s}.json`, `net-${s}.json`, `home-${s}.json`, `${s}.log`]) {
            const t = await text(join(report, f)).catch(() => null);
            if (t !== null)
              parts.push(`--- ${role}: ${f} ---\n${t}`);
          }
        }
      }
      if (victim?.runtime)
        parts.push(`--- victim's app.log ---\n${await text(join(victim.runtime, 'app.log')).catch((e) => e.message)}`);
      if (listener)
        parts.push(`--- listener ---\n${JSON.stringify(listener.lines)}`);
      return parts;
    }, fn);
  }

  before(async () => {
    if (skip)
      return;
    report = await mkdtemp(join(tmpdir(), 'fh-sbx-report-'));
    await chmod(report, 0o1777);
    await writeFile(join(report, 'tone-440.raw'), rawTone(440, 20));
    await writeFile(join(report, 'mic-660.wav'), wavTone(660, 5));
    const app = await copyIntoBind(APP, report);
    const recorder = await copyIntoBind(RECORDER, report);
    homesParent = await mkdtemp(join(tmpdir(), 'fh-sbx-homes-'));
    homesDir = await makeHomesDir(homesParent);
    if (hostUser)
      await chown(homesDir, hostUser.uid, hostUser.gid);
    listener = await startListener();
    const address = Object.values(networkInterfaces()).flat()
      .find((a) => a.family === 'IPv4' && !a.internal)?.address;
    assert.ok(address, 'the machine has an IPv4 address besides its loopback (sessions reach the host there)');
    await writeFile(join(report, 'host-address'), `${address}\n`);
    host = await startHost({
      backend: 'wlroots',
      grace: 0,
      user: hostUser,
      config: `[host]\napp=sh ${app} ${report} ${recorder} ${listener.port}\n` +
        sandboxConfig({ homesDir, binds: [report] }),
    });
    browser = await launchBrowser(['--autoplay-policy=no-user-gesture-required',
      '--use-fake-ui-for-media-stream', '--use-fake-device-for-media-stream',
      `--use-file-for-fake-audio-capture=${join(report, 'mic-660.wav')}`]);
  });

  after(async () => {
    for (const c of [A, B, C, ...extra])
      await c?.close();
    await browser?.close();
    if (moonlight && !moonlight.exit)
      moonlight.proc.kill('SIGKILL');
    for (const h of [host2, host]) {
      if (h && !h.exit)
        await h.stop().catch(() => {});
    }
    // Both hosts share one devices.ini: the accounts of its devices go.
    const problems = await removeDeviceAccounts(host);
    await host2?.cleanup();
    await host?.cleanup();
    listener?.server.close();
    if (!process.env.FUNKHAUS_KEEP_TMP) {
      if (report)
        await rm(report, { recursive: true, force: true });
      if (homesParent)
        await rm(homesParent, { recursive: true, force: true });
    }
    if (problems.length)
      throw new Error(`device accounts left behind: ${problems.join('; ')}`);
  });

  e2e("session 1 (the victim) runs in its sandbox with its device's home, shows its window and reaches the host", async () => {
    const banner = /^ {2}sandbox: (.*)$/m.exec(host.stdoutText())?.[1] ?? '';
    assert.match(banner, /^bubblewrap/, `the host sandboxes sessions: "${banner}"`);
    assert.match(banner, /a network of its own through slirp4netns/, `sessions get a network of their own: "${banner}"`);
    if (hostUser)
      assert.match(banner, /the host's account with a home per device/, `sessions run as the host's user: "${banner}"`);
    else
      assert.match(banner, /an account per device/, `sessions run as device accounts: "${banner}"`);

    await setRole(1, 'victim');
    A = await connectClient(browser, host, 'A', { pin: host.pin, ...MODE, mic: true }, { initScript: scriptedGamepads });
    const session = (await A.get(() => window.funkhaus.welcome)).session;
    sessions.victim = session;
    // A pad of the victim's, for the hostile app to look for.
    await A.page.evaluate(() => window.__fhPads.set(0, {}));
    devices.A = await credentialOf(A);
    const info = await waitJson(`victim-${session}.json`, "the victim's report");
    const account = accountOf(devices.A.device);
    assert.ok(account, `the account fh-${devices.A.device} exists`);
    assert.equal(info.user, account.name, hostUser ? "the app runs as the host's user" : 'the app runs as its device account');
    assert.equal(info.uid, account.uid);
    assert.equal(info.home, join(homesDir, devices.A.device), 'its home is in homes-dir');
    if (hostUser)
      assert.ok(!accounts(/^fh-/).some((a) => a.name === `fh-${devices.A.device}`), 'a normal user makes no accounts');
    else
      assert.equal(account.home, info.home, "the account's home in /etc/passwd");
    assert.ok(runtimeDirsOf(session).includes(info.runtime), `its runtime dir ${info.runtime} is its account's`);

    const procs = await poll(async () => {
      const p = await sessionProcesses(session);
      return p.some((x) => x.comm === 'sway') && p.some((x) => x.comm.startsWith('fh-input-recor')) ? p : null;
    }, { timeout: 10000, what: "the victim's sway and recorder" });
    const sway = procs.find((x) => x.comm === 'sway');
    const app = procs.find((x) => x.comm.startsWith('fh-input-recor'));
    for (const p of [sway, app]) {
      const status = await readFile(`/proc/${p.pid}/status`, 'utf8');
      assert.match(status, new RegExp(`^Uid:\\s+${account.uid}\\s`, 'm'), `${p.comm} runs as ${account.name}`);
    }
    // Resources: where the host says it makes a cgroup per session, the
    // session's processes are in it (and in no other session's).
    const cgroup = /resources: cgroup (v1|v2) per session/.exec(banner);
    for (const p of [sway, app]) {
      const lines = (await readFile(`/proc/${p.pid}/cgroup`, 'utf8')).split('\n');
      const inOwn = lines.filter((l) => l.endsWith(`/funkhaus-session-${session}`));
      if (cgroup)
        assert.ok(cgroup[1] === 'v2' ? inOwn.length === 1 : inOwn.some((l) => /[:,]cpu[,:]/.test(l)),
          `${p.comm} is in its session's cgroup: ${lines.join(' | ')}`);
      else
        assert.equal(inOwn.length, 0, 'no cgroup where the host says it makes none');
    }
    sessions.victimCgroups = cgroup ? cgroupDirs(session) : [];
    assert.ok(!cgroup || sessions.victimCgroups.length > 0, `the victim's cgroup folders exist: ${cgroupDirs(session)}`);
    // The secret, where the app put it: its home (from the host), its own
    // /tmp and /dev/shm (through its root, as the host sees it), its
    // environment.
    const secret = (await readFile(join(info.home, SECRET_FILE), 'utf8')).trim();
    assert.match(secret, /^FHSECRET-[0-9a-f]{24}$/);
    assert.equal((await text(`/proc/${app.pid}/root/tmp/${SECRET_FILE}`))?.trim(), secret, "the secret in the victim's /tmp");
    assert.equal((await text(`/proc/${app.pid}/root/dev/shm/${SECRET_FILE}`))?.trim(), secret, "the secret in the victim's /dev/shm");
    assert.ok(!existsSync(`/tmp/${SECRET_FILE}`) && !existsSync(`/dev/shm/${SECRET_FILE}`),
      "the victim's /tmp and /dev/shm are its own, not the host's");
    assert.ok((await readFile(`/proc/${app.pid}/environ`, 'latin1')).split('\0').includes(`FH_SECRET=${secret}`),
      "the secret in the victim app's environment");

    const xdirs = await readdir(`/proc/${sway.pid}/root/tmp/.X11-unix`).catch(() => []);
    const swaysock = info.swaysock || (await readdir(info.runtime)).filter((n) => /^sway-ipc\..*\.sock$/.test(n))
      .map((n) => join(info.runtime, n))[0];
    victim = {
      session, device: devices.A.device, account, home: info.home, runtime: info.runtime, secret,
      swayPid: sway.pid, pids: procs.map((p) => p.pid), swaysock,
      wayland: info.wayland.startsWith('/') ? info.wayland : join(info.runtime, info.wayland || 'wayland-1'),
      displays: xdirs.filter((n) => /^X\d+$/.test(n)).map((n) => `:${n.slice(1)}`),
    };
    assert.ok(swaysock && existsSync(swaysock), `the victim's sway IPC socket: ${swaysock}`);
    assert.ok(existsSync(victim.wayland), `the victim's Wayland socket: ${victim.wayland}`);
    // Its pad is there, in its own /dev/input (the host's view of it).
    await poll(() => existsSync(join(info.runtime, 'input', 'event0')), { timeout: 10000, what: "the victim's pad" });

    // Its window, in client A.
    const rgb = await colourOf(session);
    await A.waitFrames(10);
    const shown = await poll(async () => {
      const r = await pointsShowing(A, rgb);
      return r.good === 5 ? r : null;
    }, { timeout: 10000, what: `A to show the victim's window (${rgb})` })
      .catch(async (e) => {
        e.message += `: ${JSON.stringify((await pointsShowing(A, rgb)).seen)}`;
        throw e;
      });
    assert.equal(shown.good, 5);

    // Its network: the host at its address on the network.
    const net = await waitJson(`net-${session}.json`, "the victim's network report");
    assert.ok(net.ok && net.reply === 'welcome', `the victim reached the listener at ${net.address}: ${JSON.stringify(net)}`);
    assert.ok(listener.lines.some((l) => l.line === `hello victim ${session}`),
      `the listener heard the victim: ${JSON.stringify(listener.lines)}`);
    console.log(`# victim: session ${session}, ${account.name} (uid ${account.uid}), home ${info.home}, ` +
      `runtime ${info.runtime}, sway pid ${sway.pid}, displays ${victim.displays.join(' ') || 'none'}, host at ${net.address}`);
  });

  e2e('session 2 (hostile) reaches nothing of session 1: files, processes, compositor, X11', async () => {
    assert.ok(victim, 'needs the victim of the first test');
    await writeFile(join(report, 'victim.env'), Object.entries({
      V_HOME: victim.home, V_RUNTIME: victim.runtime, V_ACCOUNT: victim.account.name, V_UID: victim.account.uid,
      V_SESSION: victim.session, V_SWAY_PID: victim.swayPid, V_PIDS: victim.pids.join(' '),
      V_SWAYSOCK: victim.swaysock, V_WAYLAND: victim.wayland, V_DISPLAYS: victim.displays.join(' '),
    }).map(([k, v]) => `${k}=${shellQuote(v)}\n`).join(''));
    await setRole(2, 'hostile');
    B = await connectClient(browser, host, 'B', { pin: await host.pair(), ...MODE });
    const session = (await B.get(() => window.funkhaus.welcome)).session;
    sessions.hostile = session;
    devices.B = await credentialOf(B);
    assert.notEqual(devices.B.device, devices.A.device, 'two devices');
    await poll(() => existsSync(join(report, `hostile-${session}.done`)),
      { timeout: 120000, interval: 250, what: 'the hostile app to finish its attempts' });

    const lines = await attemptsOf(session);
    for (const a of lines)
      console.log(a.control ? `# control ${a.ok ? 'ok    ' : 'FAILED'} ${a.control}: ${a.tool}`
        : `# ${a.crossed ? 'CROSSED' : 'held   '} ${a.channel}: ${a.tool}`);
    assert.ok(!lines.some((a) => a.error), `the hostile app: ${JSON.stringify(lines.filter((a) => a.error))}`);
    const attempts = lines.filter((a) => a.channel);
    const tried = new Set(attempts.map((a) => a.channel));
    assert.deepEqual(CHANNELS.filter((c) => !tried.has(c)), [], 'channels the hostile app did not try');
    // The tools work, on the hostile's own session: "did not cross" is the
    // sandbox's doing, not a broken tool.
    const controls = lines.filter((a) => a.control);
    for (const name of ['swaymsg', 'grim', 'xdpyinfo']) {
      const c = controls.find((x) => x.control === name);
      assert.ok(c?.ok, `${name} works on the hostile's own session: ${JSON.stringify(c)}`);
    }

    // From the host: nothing written into the victim's home or runtime dir,
    // no command run by the victim's sway, the secret as it was.
    const written = [join(victim.home, 'fh-hostile-was-here'), join(victim.runtime, 'fh-hostile-was-here'),
      join(report, 'swaymsg-crossed')].filter((p) => existsSync(p));
    const crossed = attempts.filter((a) => a.crossed === true && !AUDIO_CHANNELS.includes(a.channel));
    const lost = (await readFile(join(victim.home, SECRET_FILE), 'utf8')).trim() !== victim.secret;
    assert.ok(crossed.length === 0 && written.length === 0 && !lost,
      `the hostile session crossed into the victim's:\n${crossed.map((a) => `  - ${describe(a)}`).join('\n')}` +
      `${written.length ? `\n  - written from the hostile session: ${written.join(', ')}` : ''}` +
      `${lost ? "\n  - the victim's secret file changed" : ''}`);
    // Nothing the hostile found holds the secret.
    const leaked = attempts.filter((a) => String(a.detail).includes(victim.secret));
    assert.deepEqual(leaked.map(describe), [], "attempts that saw the victim's secret");
  }, { timeout: 180000 });

  e2e('no audio channel crosses: the hostile neither lists nor records the victim\'s speaker and microphone', async () => {
    assert.ok(sessions.hostile, 'needs the hostile session of the second test');
    // The victim's speaker plays (A hears 440 Hz) and A's microphone sends:
    // there is something to overhear.
    await A.waitFor((f, n) => f.audio && f.audio.decodedFrames >= n, { arg: 2 * RATE, what: '2 s of decoded audio at A', timeout: 20000 });
    const heard = await A.get(() => window.funkhaus.audio.recent(1, 0));
    console.log(`# A: 440 Hz ${toneLevel(heard, 440).toFixed(3)}, rms ${rms(heard).toFixed(3)}`);
    assert.ok(toneLevel(heard, 440) > 0.05, `A hears the victim app's 440 Hz (level ${toneLevel(heard, 440)})`);
    await A.waitFor((f) => f.mic && f.mic.packets >= 100, { what: "A's microphone", timeout: 20000 });

    const lines = await attemptsOf(sessions.hostile);
    const controls = lines.filter((a) => a.control);
    for (const name of ['pactl', 'pw-cli']) {
      const c = controls.find((x) => x.control === name);
      assert.ok(c?.ok, `${name} sees the hostile session's own speaker (its own PipeWire): ${JSON.stringify(c)}`);
    }
    const attempts = lines.filter((a) => AUDIO_CHANNELS.includes(a.channel));
    assert.deepEqual(AUDIO_CHANNELS.filter((c) => !attempts.some((a) => a.channel === c)), [],
      'audio channels the hostile app did not try');
    const crossed = attempts.filter((a) => a.crossed === true);
    // The recordings themselves, by frequency: the victim's 440 Hz, A's 660 Hz.
    const tones = [];
    for (const f of (await readdir(report)).filter((n) => n.startsWith(`rec-${sessions.hostile}-`))) {
      const data = await readFile(join(report, f));
      const skipBytes = f.endsWith('.wav') ? 4096 : 0;
      const n = Math.max(0, Math.floor((data.length - skipBytes) / 2));
      const samples = new Float32Array(n);
      for (let i = 0; i < n; i++)
        samples[i] = data.readInt16LE(skipBytes + 2 * i) / 32768;
      const l440 = toneLevel(samples, 440);
      const l660 = toneLevel(samples, 660);
      console.log(`# ${f}: ${n} samples, 440 Hz ${l440.toFixed(4)}, 660 Hz ${l660.toFixed(4)}, rms ${rms(samples).toFixed(4)}`);
      if (l440 > 0.01 || l660 > 0.01)
        tones.push(`${f}: 440 Hz ${l440}, 660 Hz ${l660}`);
    }
    assert.ok(crossed.length === 0 && tones.length === 0,
      `the hostile session reached the victim's audio:\n${crossed.map((a) => `  - ${describe(a)}`).join('\n')}` +
      `${tones.length ? `\n  - recordings that hear the victim: ${tones.join('; ')}` : ''}`);
  }, { timeout: 60000 });

  e2e('the victim still works after the attacks', async () => {
    assert.ok(victim, 'needs the victim of the first test');
    const procs = await sessionProcesses(victim.session);
    assert.ok(procs.some((p) => p.comm === 'sway') && procs.some((p) => p.comm.startsWith('fh-input-recor')),
      `the victim's sway and app run: ${JSON.stringify(procs)}`);
    const h = await A.hooks();
    assert.equal(h.state, 'streaming');
    assert.equal(h.closes.length, 0, "A's socket stayed open");
    await A.waitFrames(h.framesDecoded + 10, { timeout: 10000 });
    const shown = await pointsShowing(A, await colourOf(victim.session));
    assert.equal(shown.good, 5, `A still shows the victim's window: ${JSON.stringify(shown.seen)}`);
    assert.equal((await readFile(join(victim.home, SECRET_FILE), 'utf8')).trim(), victim.secret);
  });

  /** What the app of `session` found in its home (roles revisit, stranger). */
  async function homeReport(session) {
    return waitJson(`home-${session}.json`, `the home report of ${session}`);
  }

  e2e("the victim's device finds its file again in a new session; another device's session does not", async () => {
    assert.ok(victim, 'needs the victim of the first test');
    await endSession(A, victim.session);
    assert.equal((await readFile(join(victim.home, SECRET_FILE), 'utf8')).trim(), victim.secret,
      'the home and its file outlive the session');

    await setRole(3, 'revisit');
    await A.page.goto(`${host.url}?${new URLSearchParams({ ...MODE, autoconnect: 1 })}`);
    await A.waitFor((f) => f.state === 'streaming' && f.welcome, { what: 'A streams again', timeout: 20000 });
    const again = (await A.get(() => window.funkhaus.welcome)).session;
    sessions.revisit = again;
    assert.notEqual(again, victim.session, 'a new session');
    const mine = await homeReport(again);
    assert.deepEqual({ user: mine.user, home: mine.home, found: mine.found, content: mine.content },
      { user: victim.account.name, home: victim.home, found: true, content: victim.secret },
      `the victim's device, again: ${JSON.stringify(mine)}`);

    await setRole(4, 'stranger');
    C = await connectClient(browser, host, 'C', { pin: await host.pair(), ...MODE });
    const other = (await C.get(() => window.funkhaus.welcome)).session;
    sessions.stranger = other;
    devices.C = await credentialOf(C);
    const theirs = await homeReport(other);
    assert.equal(theirs.user, accountOf(devices.C.device)?.name ?? `fh-${devices.C.device}`,
      hostUser ? "another device, the host's user" : 'another device, another account');
    assert.equal(theirs.home, join(homesDir, devices.C.device), 'another device, another home');
    assert.equal(theirs.found, false, `another device's home has no such file: ${JSON.stringify(theirs)}`);
    assert.equal(theirs.victim_home_readable, false, `another device cannot read the victim's file: ${JSON.stringify(theirs)}`);
    assert.ok(!existsSync(join(theirs.home, SECRET_FILE)));
  }, { timeout: 90000 });

  e2e('after a host restart (same config and homes-dir) the same device finds its file; another does not', async () => {
    assert.ok(victim && devices.B, 'needs the sessions of the earlier tests');
    for (const c of [A, B, C])
      await c?.page.goto('about:blank').catch(() => {});
    const res = await host.stop();
    assert.equal(res.code, 0, `the first host's exit: ${JSON.stringify(res)}`);
    assert.equal((await readFile(join(victim.home, SECRET_FILE), 'utf8')).trim(), victim.secret,
      'the home and its file outlive the host');

    // With GameStream on: the last test brings a Moonlight client.
    host2 = await startHost({ backend: 'wlroots', grace: 0, configHome: host.env.XDG_CONFIG_HOME, user: hostUser,
      gamestream: true });
    await setRole(1, 'revisit');
    await setRole(2, 'stranger');
    const a = await openWithCredential('A (restarted host)', host2, devices.A);
    const sa = (await a.get(() => window.funkhaus.welcome)).session;
    sessions['revisit after restart'] = sa;
    const mine = await homeReport(sa);
    assert.deepEqual({ user: mine.user, home: mine.home, found: mine.found, content: mine.content },
      { user: victim.account.name, home: victim.home, found: true, content: victim.secret },
      `the victim's device after the restart: ${JSON.stringify(mine)}`);

    const b = await openWithCredential('B (restarted host)', host2, devices.B);
    const sb = (await b.get(() => window.funkhaus.welcome)).session;
    sessions['stranger after restart'] = sb;
    const theirs = await homeReport(sb);
    assert.equal(theirs.user, accountOf(devices.B.device)?.name ?? `fh-${devices.B.device}`,
      hostUser ? "the host's user" : "the hostile device's own account, kept");
    assert.equal(theirs.home, join(homesDir, devices.B.device));
    assert.equal(theirs.found, false, `another device's home has no such file: ${JSON.stringify(theirs)}`);
    assert.equal(theirs.victim_home_readable, false, `another device cannot read the victim's file: ${JSON.stringify(theirs)}`);
  }, { timeout: 90000 });

  e2e("a Moonlight client's session is a sandbox of its device's own too", async () => {
    assert.ok(host2?.gamestream && victim, 'needs the restarted host of the last test');
    // Its session is the restarted host's third: a stranger to the victim.
    await setRole(3, 'stranger');
    moonlight = await startGsClient(host2, {
      name: 'M', stateDir: join(report, 'gs-client-M'), pin: '4821',
      args: ['--mode', `${MODE.width}x${MODE.height}x${MODE.refresh}`, '--frames', '30', '--audio-ms', '0',
        '--timeout', '60', '--hold'],
    });
    await moonlight.waitFor('holding', 60000);
    const m = await poll(() => /gamestream: device ([0-9a-f]+) streams session ([0-9a-f]{8})/.exec(host2.logs()),
      { timeout: 10000, what: "the host to say which session the Moonlight device streams" });
    const [device, prefix] = [m[1], m[2]];
    assert.ok(![devices.A, devices.B, devices.C].some((d) => d?.device === device), 'a device of its own');
    const file = await poll(async () => (await readdir(report)).find((f) => f.startsWith(`home-${prefix}`) && f.endsWith('.json')),
      { timeout: 20000, what: "the Moonlight session's home report" });
    const session = file.slice('home-'.length, -'.json'.length);
    sessions.moonlight = session;
    const theirs = await homeReport(session);
    const account = accountOf(device);
    assert.ok(account, hostUser ? "the host's user" : `the account fh-${device} exists`);
    assert.equal(theirs.user, account.name, hostUser ? "the host's user" : "the Moonlight device's own account");
    assert.equal(theirs.home, join(homesDir, device), 'its home is in homes-dir');
    assert.equal(theirs.found, false, `a new device's home has no such file: ${JSON.stringify(theirs)}`);
    assert.equal(theirs.victim_home_readable, false, `it cannot read the victim's file: ${JSON.stringify(theirs)}`);
    // Every process of it runs as that account, its compositor and its own
    // PipeWire among them.
    const procs = await sessionProcesses(session);
    assert.ok(procs.some((p) => p.comm === 'sway') && procs.some((p) => p.comm === 'pipewire'),
      `its sway and its own PipeWire run: ${procs.join('; ')}`);
    assert.deepEqual(procs.filter((p) => p.uid !== account.uid).map(String), [],
      `processes of the Moonlight session not running as ${account.name}`);
    const video = moonlight.event('video');
    assert.ok(video?.frames >= 30, `the Moonlight client got its picture: ${JSON.stringify(video)}`);
    await moonlight.stop();
  }, { timeout: 120000 });
}
