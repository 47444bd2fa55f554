// Access levels end to end: `funkhaus serve --backend wlroots` as root with
// GameStream on and default-level=view, every session running both the
// input recorder (every key and pointer event its window gets) and the
// SDL2 pad logger (tests/apps/fh-levels-app.sh). One browser device goes
// view → controller → full → full for 3 s on one live session, its level
// set with `funkhaus devices level` against the running host, and raised to
// full on the owner's page of another browser (given the owner right with
// `funkhaus devices owner`); a Moonlight
// client (fh-gs-client) stays at view. Checked from the apps' records: what
// the level does not allow never reaches the app (while the picture
// streams on), what it allows does, a change applies to the next event
// without a reconnect, and an expired level is view. The host says why it
// refused (once per kind) and counts it in /metrics.

import { before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { chmod, mkdtemp, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { reportingTest } from './lib/report.mjs';
import { startHost, poll, repoRoot, hostBinary } from './lib/host.mjs';
import { launchBrowser, connectClient, openClient } from './lib/client.mjs';
import { startGsClient, GS_CLIENT } from './lib/gs-client.mjs';
import { scriptedGamepads, padRecord } from './lib/gamepads.mjs';
import {
  copyIntoBind, finishSandboxedHost, makeHomesDir, recordLines, sandboxConfig,
} from './lib/sandbox.mjs';

const run = promisify(execFile);
const RECORDER = process.env.FUNKHAUS_RECORDER || join(repoRoot, 'build', 'tests', 'fh-input-recorder');
const LOGGER = process.env.FUNKHAUS_PAD_LOGGER || join(repoRoot, 'build', 'tests', 'fh-pad-logger');
const SHIM = process.env.FUNKHAUS_PAD_SHIM || join(dirname(hostBinary), 'backends', 'pad-shim', 'libfunkhaus-pad.so');
const APP = join(repoRoot, 'tests', 'apps', 'fh-levels-app.sh');
const MODE = { width: 320, height: 240, refresh: 30 };

const hasAccount = readFileSync('/etc/passwd', 'utf8').split('\n').some((l) => l.startsWith('funkhaus:'));
const skip = process.getuid?.() !== 0 ? 'the wlroots backend needs root (it runs compositors as device accounts)'
  : !hasAccount ? 'no funkhaus account'
  : !existsSync(RECORDER) ? `no recorder at ${RECORDER} (build it, or set FUNKHAUS_RECORDER)`
  : !existsSync(LOGGER) ? `no SDL2 pad logger at ${LOGGER} (build it: it needs libsdl2-dev)`
  : !existsSync(SHIM) ? `no pad shim at ${SHIM}`
  : !existsSync(GS_CLIENT) ? `no fh-gs-client at ${GS_CLIENT}`
  : !existsSync('/usr/bin/sway') ? 'no sway'
  : !existsSync('/usr/bin/bwrap') ? 'no bubblewrap'
  : false;
if (skip && process.env.CI)
  throw new Error(`the access-level tests cannot run in CI: ${skip}`);

let dir = null;
let homesParent = null;
let host = null;
let browser = null;
let V = null;       // the browser device, one session throughout
let M = null;       // the Moonlight client
let O = null;       // the host owner's browser (its owner's page)
const v = {};       // V's session and device

const inputRecord = (session) => recordLines(dir, session);
const padsOf = (session) => padRecord(join(dir, `pads-${session}.log`));
// Keys, buttons and scrolling; the pointer's moves are checked apart: the
// recorder logs the pointer's entering its window as a motion, and sway
// has its cursor over the window from the start, input or none.
const inputLines = (rec) => rec.filter((l) => /^(key|button|axis) /.test(l));
const motionLines = (rec) => rec.filter((l) => l.startsWith('motion '));
const keyLines = (rec, code) => rec.filter((l) => l.startsWith(`key ${code} `));
const padEvents = (rec) => rec.filter((e) => ['added', 'button', 'axis', 'removed'].includes(e.kind));

async function bothReady(session) {
  await poll(async () => (await inputRecord(session)).some((l) => l.startsWith('ready')),
    { timeout: 30000, what: `the recorder of ${session} to show its window` });
  await poll(async () => (await padsOf(session)).some((e) => e.kind === 'ready'),
    { timeout: 30000, what: `the pad logger of ${session} to start` });
}

/** `funkhaus devices ARGS…` as the host's user; its stdout. */
async function devices(...args) {
  const { stdout } = await run(hostBinary, ['devices', ...args], { env: host.env, timeout: 10000 });
  host.lines.push([Date.now() - host.started, 'devices', `${args.join(' ')}: ${stdout.trim()}`]);
  return stdout;
}

/** funkhaus_session_input_refused_total of the session whose id starts with `prefix`. */
async function refused(prefix) {
  const m = new RegExp(`^funkhaus_session_input_refused_total\\{session="${prefix}[0-9a-f]*"[^}]*\\} (\\S+)$`, 'm').exec(await host.metrics());
  return m ? Number(m[1]) : NaN;
}

/** Waits until the host has refused more than `count` events of `prefix`'s session. */
async function refusedBeyond(prefix, count, what) {
  let now = NaN;
  await poll(async () => (now = await refused(prefix)) > count, { timeout: 10000, what: `${what} (refused: ${now})` });
  return now;
}

/** The host's log lines about session `prefix` that say `text`. */
const said = (prefix, text) => host.logs().split('\n').filter((l) => l.includes(`session ${prefix.slice(0, 8)}: `) && l.includes(text));

function e2e(name, fn, { timeout = 60000 } = {}) {
  reportingTest(name, { timeout, skip }, async () => [
    host && `--- host log ---\n${host.logs()}`,
    V?.report(),
    M?.report(),
    O?.report(),
    ...(v.session ? [`--- records of ${v.session} ---\n${(await inputRecord(v.session)).join('\n')}\n` +
      (await padsOf(v.session)).map((e) => e.line).join('\n')] : []),
  ], fn);
}

before(async () => {
  if (skip)
    return;
  dir = await mkdtemp(join(tmpdir(), 'fh-levels-'));
  await chmod(dir, 0o1777);
  const app = await copyIntoBind(APP, dir);
  const recorder = await copyIntoBind(RECORDER, dir);
  const logger = await copyIntoBind(LOGGER, dir);
  homesParent = await mkdtemp(join(tmpdir(), 'fh-homes-'));
  host = await startHost({
    backend: 'wlroots',
    grace: 0,
    gamestream: true,
    config: `[host]\ndefault-level=view\naudio=off\napp=sh ${app} ${dir} ${recorder} ${logger}\n` +
      sandboxConfig({ homesDir: await makeHomesDir(homesParent), binds: [dir] }),
  });
  browser = await launchBrowser();
});

after(async () => {
  if (M && !M.exit)
    M.proc.kill('SIGKILL');
  await V?.close();
  await O?.close();
  await browser?.close();
  await finishSandboxedHost(host, [dir, homesParent]);
});

e2e("a view device's keys, clicks and pad never reach its app, and its picture streams", async () => {
  V = await connectClient(browser, host, 'V', { pin: host.pin, ...MODE }, { initScript: scriptedGamepads });
  const welcome = await V.get(() => window.funkhaus.welcome);
  v.session = welcome.session;
  v.device = new RegExp(`session ${v.session.slice(0, 8)}: new for device ([0-9a-f]+)`).exec(host.logs())?.[1];
  assert.ok(v.device, 'the host names the device of the session');
  // default-level=view: a newly paired device may only view, and is told so.
  assert.deepEqual(welcome.access, { level: 'view', until: null });
  assert.match(await V.page.locator('#access').textContent(), /view only/);
  assert.ok(await V.page.locator('#access').isVisible(), 'the note is shown');
  assert.match(await devices('list'), new RegExp(`${v.device} .* level view  browser`));
  await bothReady(v.session);

  const frames = (await V.hooks()).framesDecoded;
  const box = await V.page.locator('#screen').boundingBox();
  await V.page.keyboard.type('ab', { delay: 30 });
  await V.page.mouse.click(Math.round(box.x + box.width / 2), Math.round(box.y + box.height / 2));
  await V.page.evaluate(() => window.__fhPads.set(0, {}));
  await new Promise((r) => setTimeout(r, 200));
  await V.page.evaluate(() => window.__fhPads.set(0, { buttons: [0], axes: [0.5, 0, 0, 0] }));
  // The host got them all and refused them: 4 key events, the pointer's
  // motion and button down and up, the pad's.
  await refusedBeyond(v.session, 7, 'the host to refuse the keys, the click and the pad');
  // Its picture streams on meanwhile.
  await V.waitFrames(frames + 15, { timeout: 15000 });
  await new Promise((r) => setTimeout(r, 500));
  const rec = await inputRecord(v.session);
  assert.deepEqual(inputLines(rec), [], 'no key, click or scroll reached the app');
  assert.ok(motionLines(rec).length <= 1 && !rec.includes('motion 160 120'),
    `the pointer did not move to the click (160 120): ${motionLines(rec)}`);
  assert.deepEqual(padEvents(await padsOf(v.session)), [], 'no pad reached the app');
  // Said once per kind, however many.
  assert.equal(said(v.session, 'keyboard and mouse input refused: device').length, 1, 'said once: keyboard and mouse');
  assert.equal(said(v.session, 'gamepad input refused: device').length, 1, 'said once: gamepad');
});

e2e('a controller device: its pad arrives, its keys do not', async () => {
  assert.ok(v.session, 'needs the session of the last test');
  assert.match(await devices('level', v.device, 'controller'), /controller; 1 of its sessions follow it now/);
  // The host tells the client at once; the page says it.
  await V.waitFor((f) => f.access?.level === 'controller', { what: 'the access message', timeout: 10000 });
  assert.match(await V.page.locator('#access').textContent(), /gamepads only/);

  await V.page.evaluate(() => window.__fhPads.set(0, {}));
  await poll(async () => (await padsOf(v.session)).some((e) => e.kind === 'added'), { timeout: 15000, what: 'the pad in the app' });
  await V.page.evaluate(() => window.__fhPads.set(0, { buttons: [1] }));
  await poll(async () => (await padsOf(v.session)).some((e) => e.kind === 'button' && e.args[1] === 'b' && e.args[2] === 'down'),
    { timeout: 15000, what: "the pad's B in the app" });

  const before = await refused(v.session);
  await V.page.keyboard.type('c', { delay: 30 });
  await refusedBeyond(v.session, before + 1, "the host to refuse the key's down and up");
  await new Promise((r) => setTimeout(r, 300));
  assert.deepEqual(keyLines(await inputRecord(v.session), 46), [], 'no key reached the app');
});

e2e("raising the level to full on the owner's page lets its next key through without reconnecting", async () => {
  assert.ok(v.session, 'needs the session of the last test');
  // The host's owner: another browser, given the right on the command line.
  O = await openClient(browser, host, 'O', { pin: await host.pair(), name: 'O' });
  // Paired once the page stored its credential (slow under ASan).
  await O.page.waitForFunction(() => localStorage.getItem('funkhaus.credential') !== null, null,
    { timeout: 20000, polling: 100 });
  const owner = await O.get(() => JSON.parse(localStorage.getItem('funkhaus.credential')).device);
  await devices('owner', owner);
  await O.waitFor((f) => f.owner.shown, { what: "O's owner page", timeout: 10000 });
  const row = `#owner-devices tr[data-device="${v.device}"]`;
  await O.waitFor((f, id) => f.owner.state?.devices.some((d) => d.id === id && d.level === 'controller'),
    { arg: v.device, what: "V at controller on O's page" });
  await O.page.selectOption(`${row} select.level`, 'full');
  await O.page.click(`${row} button.set-level`);
  await V.waitFor((f) => f.access?.level === 'full', { what: 'the access message', timeout: 10000 });
  assert.equal(await V.page.locator('#access').isVisible(), false, 'no note at full');
  await V.page.keyboard.type('d', { delay: 30 });
  // The session's first key makes its keyboard: the app may see only the
  // key's up (tests/e2e/wlroots.test.mjs).
  await poll(async () => keyLines(await inputRecord(v.session), 32).length > 0, { timeout: 10000, what: 'd in the app' });
  const h = await V.hooks();
  assert.deepEqual(h.closes, [], 'the client never reconnected');
  assert.equal(h.welcome.session, v.session);
  assert.deepEqual(keyLines(await inputRecord(v.session), 46), [], 'the c refused before never came');
});

e2e('an expired level is enforced on the live session', async () => {
  assert.ok(v.session, 'needs the session of the last test');
  assert.match(await devices('level', v.device, 'full', '--for', '3s'), /full until \S+Z; 1 of its sessions/);
  await V.waitFor((f) => f.access?.level === 'full' && f.access?.until, { what: 'the access message with its expiry', timeout: 5000 });
  await V.page.keyboard.type('e', { delay: 30 });
  await poll(async () => keyLines(await inputRecord(v.session), 18).length === 2, { timeout: 2500, what: 'e (down and up) in the app' });
  // Past the expiry: the host tells the client, and judges by view.
  await V.waitFor((f) => f.access?.level === 'view', { what: 'the expiry', timeout: 10000 });
  assert.equal(said(v.session, 'access full → view (its grant expired)').length, 1);
  const before = await refused(v.session);
  await V.page.keyboard.type('f', { delay: 30 });
  await refusedBeyond(v.session, before + 1, 'the host to refuse f');
  await new Promise((r) => setTimeout(r, 300));
  assert.deepEqual(keyLines(await inputRecord(v.session), 33), [], 'f never reached the app');
  assert.match(await devices('list'), new RegExp(`${v.device} .* level view \\(full expired \\S+\\)  browser`));
  await V.close();
  V = null;
});

e2e('a Moonlight client at view: its input is dropped, its picture streams', async () => {
  M = await startGsClient(host, {
    name: 'M', stateDir: join(dir, 'gs-client-M'), pin: '4321',
    args: ['--mode', `${MODE.width}x${MODE.height}x${MODE.refresh}`, '--frames', '10', '--audio-ms', '0',
      '--timeout', '60', '--hold', '--input-when-told', '--keys', 'KEY_A,KEY_B', '--click',
      '--gamepad', 'buttons=a,lx=16000;buttons='],
  });
  const first = await M.waitFor('holding', 60000) && M.events.filter((e) => e.event === 'video').at(-1);
  const [, device, prefix] = /gamestream: device ([0-9a-f]+) streams session ([0-9a-f]{8})/.exec(host.logs()) ?? [];
  assert.ok(prefix, 'the host says which session the client streams');
  const session = (await readdir(dir)).find((f) => f.startsWith(prefix) && f.endsWith('.log'))?.slice(0, -'.log'.length);
  assert.ok(session, `the recorder of session ${prefix}`);
  assert.match(await devices('list'), new RegExp(`${device} .* level view  moonlight`));
  await bothReady(session);

  M.proc.stdin.write('input\n');
  await M.waitFor('input_sent', 20000);
  await M.waitFor('gamepad_sent', 20000);
  // Key down and up twice, the pointer's move and click, the pad's arrival and states.
  await refusedBeyond(prefix, 7, "the host to refuse the client's keys, click and pad");
  M.proc.stdin.write('report\n');
  await poll(() => M.events.filter((e) => e.event === 'video').length >= 2, { timeout: 10000, what: 'the video report' });
  const later = M.events.filter((e) => e.event === 'video').at(-1);
  assert.ok(later.frames > first.frames + 10, `the picture streams on: ${first.frames} → ${later.frames} frames`);
  await new Promise((r) => setTimeout(r, 300));
  const rec = await inputRecord(session);
  const { x, y } = M.event('input_sent').mouse;
  assert.deepEqual(inputLines(rec), [], 'no key or click reached the app');
  assert.ok(motionLines(rec).length <= 1 && !rec.includes(`motion ${x} ${y}`),
    `the pointer did not move to the click (${x} ${y}): ${motionLines(rec)}`);
  assert.deepEqual(padEvents(await padsOf(session)), [], 'no pad reached the app');
  assert.equal(said(prefix, 'keyboard and mouse input refused: device').length, 1);
  await M.stop();
}, { timeout: 90000 });
