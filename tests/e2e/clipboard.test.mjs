// The session's clipboard, text, both ways, opt-in: `funkhaus serve
// --backend wlroots` (as root: each device's sessions run as its own
// account) and browser clients that tick "Share the clipboard"
// (?clipboard=1). Text copied in a client's browser arrives in its
// session's Wayland clipboard (wl-paste, run in the session as its
// account), text copied in the session (wl-copy) arrives in the browser;
// nothing arrives in the other session, and nothing moves for a client
// that did not opt in, or whose device is at the `view` level. Each sharing client has a Chromium of its own: one
// browser has one clipboard, which two machines would not share.

import { before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFile } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { chmod, mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { reportingTest } from './lib/report.mjs';
import { startHost, poll, repoRoot, hostBinary } from './lib/host.mjs';
import { launchBrowser, connectClient } from './lib/client.mjs';
import {
  accounts, copyIntoBind, finishSandboxedHost, makeHomesDir, sandboxConfig, sessionRuntimeDirs,
} from './lib/sandbox.mjs';

const run = promisify(execFile);
const RECORDER = process.env.FUNKHAUS_RECORDER || join(repoRoot, 'build', 'tests', 'fh-input-recorder');
const MODE = { width: 320, height: 240, refresh: 30 };
const PERMISSIONS = ['clipboard-read', 'clipboard-write'];

const hasAccount = readFileSync('/etc/passwd', 'utf8').split('\n').some((l) => l.startsWith('funkhaus:'));
const skip = process.getuid?.() !== 0 ? 'the wlroots backend needs root (it runs compositors as funkhaus)'
  : !hasAccount ? 'no funkhaus account'
  : !existsSync(RECORDER) ? `no recorder at ${RECORDER}`
  : !existsSync('/usr/bin/sway') ? 'no sway'
  : !existsSync('/usr/bin/wl-paste') ? 'no wl-clipboard (scripts/setup.sh test installs it)'
  : false;
if (skip && process.env.CI)
  throw new Error(`clipboard tests cannot run in CI: ${skip}`);

let dir = null;
let homesParent = null;
let host = null;
const browsers = [];
const clients = {};
const sessions = {};
const copiers = [];

/** The runtime dir and account of `session`, to run tools in it. */
function sessionPlace(session) {
  const runtime = sessionRuntimeDirs(session).find((d) => existsSync(join(d, 'wayland-1')));
  assert.ok(runtime, `the Wayland socket of session ${session}`);
  const uid = statSync(runtime).uid;
  const account = accounts(/./).find((a) => a.uid === uid);
  assert.ok(account, `the account of uid ${uid}`);
  return { runtime, account: account.name };
}

function sessionEnv(place) {
  return ['env', `XDG_RUNTIME_DIR=${place.runtime}`, 'WAYLAND_DISPLAY=wayland-1'];
}

/** What `wl-paste` gives in `session` ('' when nothing is copied). */
async function pasteIn(session) {
  const place = sessionPlace(session);
  const r = await run('runuser', ['-u', place.account, '--', ...sessionEnv(place), 'timeout', '5',
    'wl-paste', '--no-newline', '--type', 'text/plain;charset=utf-8'])
    .catch((e) => ({ stdout: '', stderr: e.stderr }));
  return r.stdout;
}

/** Copies `text` in `session` (wl-copy serves it until the test ends). */
function copyIn(session, text) {
  const place = sessionPlace(session);
  const p = spawn('runuser', ['-u', place.account, '--', ...sessionEnv(place), 'timeout', '60',
    'wl-copy', '--foreground', text], { stdio: ['ignore', 'ignore', 'pipe'] });
  p.stderrText = '';
  p.stderr.setEncoding('utf8');
  p.stderr.on('data', (d) => { p.stderrText += d; });
  p.exitCode_ = null;
  p.on('exit', (code) => { p.exitCode_ = code; });
  copiers.push(p);
  return p;
}

function e2e(name, fn, { timeout = 120000 } = {}) {
  reportingTest(name, { timeout, skip }, () => [
    host && `--- host log ---\n${host.logs()}`,
    ...Object.values(clients).map((c) => c?.report()),
  ], fn);
}

before(async () => {
  if (skip)
    return;
  dir = await mkdtemp(join(tmpdir(), 'fh-clipboard-'));
  await chmod(dir, 0o1777);
  const recorder = await copyIntoBind(RECORDER, dir);
  homesParent = await mkdtemp(join(tmpdir(), 'fh-homes-'));
  host = await startHost({
    backend: 'wlroots',
    grace: 0,
    config: `[host]\napp=${recorder} ${dir}/%s.log\n` +
      sandboxConfig({ homesDir: await makeHomesDir(homesParent), binds: [dir] }),
  });
});

after(async () => {
  for (const p of copiers)
    p.kill('SIGKILL');
  for (const c of Object.values(clients))
    await c?.close();
  for (const b of browsers)
    await b.close();
  await finishSandboxedHost(host, [dir, homesParent]);
});

async function open(name, pin, { clipboard }) {
  const browser = await launchBrowser();
  browsers.push(browser);
  const c = await connectClient(browser, host, name, { pin, ...MODE, clipboard },
    { permissions: PERMISSIONS });
  clients[name] = c;
  const welcome = await c.get(() => window.funkhaus.welcome);
  sessions[name] = welcome.session;
  return { c, welcome };
}

e2e("text copied in a browser arrives in its own session's clipboard only", async () => {
  const a = await open('A', host.pin, { clipboard: true });
  const b = await open('B', await host.pair(), { clipboard: true });
  assert.equal(a.welcome.clipboard, true, 'the host shares the clipboard with A');
  assert.equal(b.welcome.clipboard, true, 'the host shares the clipboard with B');

  const text = 'from browser A: grüße ✓';
  await a.c.page.bringToFront();
  await a.c.page.evaluate((t) => navigator.clipboard.writeText(t), text);
  await poll(async () => (await pasteIn(sessions.A)) === text,
    { timeout: 10000, what: "A's text in session A's clipboard" });
  await a.c.waitFor((f, t) => f.clipboard.some((e) => e.dir === 'sent' && e.text === t), { arg: text, what: 'A sent it' });
  // Session B's clipboard has none of it.
  await new Promise((r) => setTimeout(r, 1500));
  assert.notEqual(await pasteIn(sessions.B), text, "A's text reached session B");
  assert.ok(!(await b.c.get(() => window.funkhaus.clipboard)).some((e) => e.text === text), "B's browser got A's text");
});

e2e("text copied in a session arrives in its own browser only", async () => {
  assert.ok(sessions.A && sessions.B, 'needs the clients of the last test');
  const text = 'from session A: ☕ 42';
  copyIn(sessions.A, text);
  await clients.A.waitFor((f, t) => f.clipboard.some((e) => e.dir === 'received' && e.text === t),
    { arg: text, what: "session A's text at A", timeout: 10000 });
  await clients.A.page.bringToFront();
  await poll(async () => (await clients.A.page.evaluate(() => navigator.clipboard.readText())) === text,
    { timeout: 5000, what: "session A's text on A's clipboard" });
  await new Promise((r) => setTimeout(r, 1500));
  assert.ok(!(await clients.B.get(() => window.funkhaus.clipboard)).some((e) => e.text === text),
    "B's browser got session A's text");
  assert.notEqual(await pasteIn(sessions.B), text, "session A's text reached session B");
});

e2e('nothing moves for a client that does not share the clipboard', async () => {
  const c = await open('C', await host.pair(), { clipboard: false });
  assert.equal(c.welcome.clipboard, false);
  const text = 'from browser C, not shared';
  await c.c.page.bringToFront();
  await c.c.page.evaluate((t) => navigator.clipboard.writeText(t), text);
  const copier = copyIn(sessions.C, 'from session C, not shared');
  await new Promise((r) => setTimeout(r, 2500));
  assert.equal(copier.exitCode_, null, `wl-copy in session C: ${copier.stderrText}`);
  assert.deepEqual(await c.c.get(() => window.funkhaus.clipboard), [], 'no clipboard traffic at C');
  assert.equal(await c.c.page.evaluate(() => navigator.clipboard.readText()), text, "C's own clipboard stays its own");
  assert.equal(await pasteIn(sessions.C), 'from session C, not shared', "C's session keeps its own");
  // A raw clipboard message from C is refused: it did not ask to share.
  const closed = await c.c.page.evaluate(() => new Promise((resolve) => {
    const ws = window.funkhaus.socket;
    ws.addEventListener('close', (e) => resolve(e.code));
    ws.send(JSON.stringify({ type: 'clipboard', text: 'sneaked' }));
  }));
  assert.equal(closed, 4002, 'a clipboard message without sharing is an unexpected message');
});

e2e('nothing moves for a device at the view level, though it asked to share', async () => {
  const d = await open('D', await host.pair(), { clipboard: true });
  assert.equal(d.welcome.clipboard, true);
  const { device } = await d.c.get(() => JSON.parse(localStorage.getItem('funkhaus.credential')));
  const { stdout } = await run(hostBinary, ['devices', 'level', device, 'view'], { env: host.env, timeout: 10000 });
  assert.match(stdout, /view/);
  await d.c.waitFor((f) => f.access?.level === 'view', { what: 'the view level at D', timeout: 10000 });

  const text = 'from browser D at view';
  await d.c.page.bringToFront();
  await d.c.page.evaluate((t) => navigator.clipboard.writeText(t), text);
  await d.c.waitFor((f, t) => f.clipboard.some((e) => e.dir === 'sent' && e.text === t),
    { arg: text, what: 'D sent it (the host judges it)', timeout: 10000 });
  await new Promise((r) => setTimeout(r, 1500));
  assert.notEqual(await pasteIn(sessions.D), text, "D's text reached its session at view");
  copyIn(sessions.D, 'from session D at view');
  await new Promise((r) => setTimeout(r, 2500));
  assert.equal(await pasteIn(sessions.D), 'from session D at view');
  assert.ok(!(await d.c.get(() => window.funkhaus.clipboard)).some((e) => e.dir === 'received'),
    "session D's text did not reach D");
  assert.match(host.logs(), /clipboard input refused: device [0-9a-f]+ has access level view/);
});
