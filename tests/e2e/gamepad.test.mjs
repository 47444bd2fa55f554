// Gamepads end to end: `funkhaus serve --backend wlroots` with GameStream
// on runs tests/apps/fh-pad-logger in every session (through
// tests/apps/fh-pad-app.sh), a real SDL2 program that logs every
// GameController event it sees (added, removed, button, axis) and rumbles
// its pad when Y goes down. On this machine there is no /dev/uinput: the
// pads are the user-space ones (backends/pads.h), which the app reaches
// through the preloaded shim as SDL does any evdev pad.
//
// Browser clients drive the real web client (web/gamepad.js) with a
// scripted navigator.getGamepads() (lib/gamepads.mjs); Moonlight clients
// are our headless fh-gs-client sending controller packets. Checked from
// the apps' records: each app sees exactly its own client's input and
// exactly one pad; the rumble an app asks for reaches its own client only;
// a pad that leaves is removed from its session only. The uinput path is
// tested where /dev/uinput exists (skipped here, saying so).

import { before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { chmod, mkdtemp, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { reportingTest } from './lib/report.mjs';
import { startHost, poll, repoRoot, hostBinary } from './lib/host.mjs';
import { launchBrowser, connectClient } from './lib/client.mjs';
import { startGsClient } from './lib/gs-client.mjs';
import { scriptedGamepads, padRecord } from './lib/gamepads.mjs';
import {
  copyIntoBind, finishSandboxedHost, makeHomesDir, removeDeviceAccounts, sandboxConfig,
} from './lib/sandbox.mjs';

const LOGGER = process.env.FUNKHAUS_PAD_LOGGER || join(repoRoot, 'build', 'tests', 'fh-pad-logger');
const SHIM = process.env.FUNKHAUS_PAD_SHIM || join(dirname(hostBinary), 'backends', 'pad-shim', 'libfunkhaus-pad.so');
const APP = join(repoRoot, 'tests', 'apps', 'fh-pad-app.sh');
const MODE = { width: 320, height: 240, refresh: 30 };

const hasAccount = readFileSync('/etc/passwd', 'utf8').split('\n').some((l) => l.startsWith('funkhaus:'));
const skip = process.getuid?.() !== 0 ? 'the wlroots backend needs root (it runs compositors as funkhaus)'
  : !hasAccount ? 'no funkhaus account'
  : !existsSync(LOGGER) ? `no SDL2 pad logger at ${LOGGER} (build it: it needs libsdl2-dev)`
  : !existsSync(SHIM) ? `no pad shim at ${SHIM}`
  : !existsSync('/usr/bin/sway') ? 'no sway'
  : !existsSync('/usr/bin/bwrap') ? 'no bubblewrap'
  : false;
if (skip && process.env.CI)
  throw new Error(`gamepad tests cannot run in CI: ${skip}`);

let dir = null;
let homesParent = null;
let host = null;
let browser = null;
let A = null;
let B = null;
const moonlight = [];
const sessions = {};

const record = (session) => padRecord(join(dir, `pads-${session}.log`));
const kinds = (rec, kind) => rec.filter((e) => e.kind === kind);
const lastCount = (rec) => Number(kinds(rec, 'count').at(-1)?.args[0] ?? NaN);
const show = (rec) => rec.map((e) => e.line).join('\n');

/** Polls the record of `session` until `pred(record)` holds. */
async function waitRecord(session, pred, what, timeout = 15000) {
  let rec = [];
  try {
    await poll(async () => pred(rec = await record(session)), { timeout, what });
  } catch (e) {
    e.message += `\n--- record of ${session} ---\n${show(rec)}`;
    throw e;
  }
  return rec;
}

const buttons = (rec, name) => kinds(rec, 'button').filter((e) => e.args[1] === name);
const axes = (rec, name) => kinds(rec, 'axis').filter((e) => e.args[1] === name).map((e) => Number(e.args[2]));

function e2e(name, fn, { timeout = 90000 } = {}) {
  reportingTest(name, { timeout, skip }, () => [
    host && `--- host log ---\n${host.logs()}`,
    ...[A, B].map((c) => c?.report()),
    ...moonlight.map((m) => m.report()),
  ], fn);
}

before(async () => {
  if (skip)
    return;
  dir = await mkdtemp(join(tmpdir(), 'fh-pads-'));
  await chmod(dir, 0o1777);
  const app = await copyIntoBind(APP, dir);
  const logger = await copyIntoBind(LOGGER, dir);
  homesParent = await mkdtemp(join(tmpdir(), 'fh-homes-'));
  host = await startHost({
    backend: 'wlroots',
    grace: 0,
    gamestream: true,
    config: `[host]\napp=sh ${app} ${dir} ${logger}\n` +
      sandboxConfig({ homesDir: await makeHomesDir(homesParent), binds: [dir] }),
  });
  browser = await launchBrowser();
});

after(async () => {
  for (const m of moonlight) {
    if (!m.exit)
      m.proc.kill('SIGKILL');
  }
  await A?.close();
  await B?.close();
  await browser?.close();
  await finishSandboxedHost(host, [dir, homesParent]);
});

e2e('the host says which pads it makes, and why', async () => {
  if (existsSync('/dev/uinput'))
    assert.match(host.stdoutText(), /pads: kernel pads through \/dev\/uinput, 4 per session/);
  else
    assert.match(host.stdoutText(), /pads: user-space \(no kernel pads: \/dev\/uinput: [^)]+\), through the preloaded shim, 4 per session/,
      'the banner names the user-space pads and the reason');
});

e2e("each browser's pad reaches only its own session's app", async () => {
  A = await connectClient(browser, host, 'A', { pin: host.pin, ...MODE }, { initScript: scriptedGamepads });
  B = await connectClient(browser, host, 'B', { pin: await host.pair(), ...MODE }, { initScript: scriptedGamepads });
  sessions.A = (await A.get(() => window.funkhaus.welcome)).session;
  sessions.B = (await B.get(() => window.funkhaus.welcome)).session;
  for (const s of [sessions.A, sessions.B])
    await waitRecord(s, (r) => r.some((e) => e.kind === 'ready'), `the logger of ${s} to start`, 20000);

  // Each pad arrives at rest, as a pad does when it is plugged in (SDL
  // takes a pad's state at its arrival as where it starts, not as events).
  await A.page.evaluate(() => window.__fhPads.set(0, {}));
  await B.page.evaluate(() => window.__fhPads.set(0, {}));
  for (const s of [sessions.A, sessions.B])
    await waitRecord(s, (r) => r.some((e) => e.kind === 'added'), `a pad in the app of ${s}`);
  // A presses A and moves the left stick; B presses B and pulls the right trigger.
  await A.page.evaluate(() => window.__fhPads.set(0, { buttons: [0], axes: [0.5, -0.25, 0, 0] }));
  await B.page.evaluate(() => window.__fhPads.set(0, { buttons: [1], rt: 0.8 }));

  const ra = await waitRecord(sessions.A, (r) => buttons(r, 'a').length && axes(r, 'leftx').length && axes(r, 'lefty').length,
    "A's button and stick in A's app");
  const rb = await waitRecord(sessions.B, (r) => buttons(r, 'b').length && axes(r, 'righttrigger').length,
    "B's button and trigger in B's app");

  assert.equal(kinds(ra, 'added').length, 1, `A's app sees exactly one pad:\n${show(ra)}`);
  assert.equal(kinds(rb, 'added').length, 1, `B's app sees exactly one pad:\n${show(rb)}`);
  assert.equal(lastCount(ra), 1);
  assert.equal(lastCount(rb), 1);
  assert.equal(buttons(ra, 'a')[0].args[2], 'down');
  assert.ok(Math.abs(axes(ra, 'leftx').at(-1) - 16384) < 400, `A's left stick x: ${axes(ra, 'leftx')}`);
  assert.ok(Math.abs(axes(ra, 'lefty').at(-1) + 8192) < 400, `A's left stick y (up is negative): ${axes(ra, 'lefty')}`);
  const rt = axes(rb, 'righttrigger').at(-1);
  assert.ok(rt > 0.75 * 32767 && rt < 0.85 * 32767, `B's right trigger at 80 %: ${axes(rb, 'righttrigger')}`);
  // Nothing of the other client's.
  assert.deepEqual([...buttons(ra, 'b'), ...kinds(ra, 'axis').filter((e) => /^right/.test(e.args[1]) && Number(e.args[2]) !== 0)], [],
    `A's app saw B's input:\n${show(ra)}`);
  assert.deepEqual([...buttons(rb, 'a'), ...kinds(rb, 'axis').filter((e) => /^left/.test(e.args[1]) && Number(e.args[2]) !== 0)], [],
    `B's app saw A's input:\n${show(rb)}`);
});

e2e('the rumble an app asks for reaches its own browser only', async () => {
  assert.ok(sessions.A, 'needs the sessions of the last test');
  // Y down: A's app rumbles its pad (strong 0x4000, weak 0x8000).
  await A.page.evaluate(() => window.__fhPads.set(0, { buttons: [3] }));
  await waitRecord(sessions.A, (r) => kinds(r, 'rumble').length, "A's app to rumble");
  await A.waitFor((f) => f.rumbles.some((r) => r.pad === 0 && r.strong === 16384 && r.weak === 32768),
    { what: "the rumble of A's app at A", timeout: 10000 });
  const effects = await A.page.evaluate(() => window.__fhPads.effects);
  assert.ok(effects.some((e) => e.type === 'dual-rumble' && Math.abs(e.strongMagnitude - 0.25) < 0.01 && Math.abs(e.weakMagnitude - 0.5) < 0.01),
    `A's pad played the rumble: ${JSON.stringify(effects)}`);
  // SDL stops it after its 1 s: the stop follows.
  await A.waitFor((f) => f.rumbles.some((r) => r.strong === 0 && r.weak === 0), { what: 'the rumble to stop', timeout: 10000 });
  assert.deepEqual(await B.get(() => window.funkhaus.rumbles), [], 'B got no rumble');
  assert.deepEqual(await B.page.evaluate(() => window.__fhPads.effects), [], "B's pad played nothing");
});

e2e('a pad that leaves is removed from its own session only', async () => {
  assert.ok(sessions.A, 'needs the sessions of the last test');
  await A.page.evaluate(() => window.__fhPads.unplug(0));
  const ra = await waitRecord(sessions.A, (r) => kinds(r, 'removed').length && lastCount(r) === 0, "A's pad to leave A's app");
  assert.equal(kinds(ra, 'removed').length, 1, show(ra));
  // B's pad stays, and still works.
  await B.page.evaluate(() => window.__fhPads.set(0, { buttons: [0] }));
  const rb = await waitRecord(sessions.B, (r) => buttons(r, 'a').length, "B's next button in B's app");
  assert.equal(kinds(rb, 'removed').length, 0, `B's app lost no pad:\n${show(rb)}`);
  assert.equal(lastCount(rb), 1);
  await A.close();
  await B.close();
  A = B = null;
});

e2e("each Moonlight client's pad reaches only its own session's app, and rumble comes back to it", async () => {
  const states = {
    M1: 'buttons=a,lx=16000,ly=8000;buttons=y;buttons=',
    M2: 'buttons=b,rt=200',
  };
  for (const [name, pin] of [['M1', '3141'], ['M2', '2718']]) {
    moonlight.push(await startGsClient(host, {
      name, stateDir: join(dir, `gs-client-${name}`), pin,
      args: ['--mode', `${MODE.width}x${MODE.height}x${MODE.refresh}`, '--frames', '10', '--audio-ms', '0',
        '--timeout', '60', '--hold', '--input-when-told', '--gamepad', states[name]],
    }));
  }
  const [m1, m2] = moonlight;
  for (const m of moonlight)
    await m.waitFor('holding', 60000);
  // Which session each streams: the host says it per device, and each
  // session's logger names its file by the session.
  const streams = [...host.logs().matchAll(/gamestream: device ([0-9a-f]+) streams session ([0-9a-f]{8})/g)].map((m) => m[2]);
  const files = await readdir(dir);
  const sessionOf = (prefix) => files.find((f) => f.startsWith(`pads-${prefix}`))?.slice('pads-'.length, -'.log'.length);
  const [s1, s2] = streams.slice(-2).map(sessionOf);
  assert.ok(s1 && s2 && s1 !== s2, `two Moonlight sessions with loggers: ${streams} ${files}`);
  for (const s of [s1, s2])
    await waitRecord(s, (r) => r.some((e) => e.kind === 'ready'), `the logger of ${s} to start`, 20000);

  m1.proc.stdin.write('input\n');
  m2.proc.stdin.write('input\n');
  await m1.waitFor('gamepad_sent', 20000);
  await m2.waitFor('gamepad_sent', 20000);
  const r1 = await waitRecord(s1, (r) => buttons(r, 'y').length && kinds(r, 'rumble').length, "M1's pad in M1's app");
  const r2 = await waitRecord(s2, (r) => buttons(r, 'b').length && axes(r, 'righttrigger').length, "M2's pad in M2's app");
  assert.equal(kinds(r1, 'added').length, 1, show(r1));
  assert.equal(kinds(r2, 'added').length, 1, show(r2));
  assert.equal(buttons(r1, 'a')[0]?.args[2], 'down', show(r1));
  // Each state is the whole pad: the stick goes back to rest with the next.
  assert.ok(axes(r1, 'leftx').some((v) => Math.abs(v - 16000) < 400), `M1's left x: ${axes(r1, 'leftx')}`);
  assert.ok(axes(r1, 'lefty').some((v) => Math.abs(v + 8000) < 400), `M1's left y, Moonlight's up is SDL's negative: ${axes(r1, 'lefty')}`);
  const rt = axes(r2, 'righttrigger').at(-1);
  assert.ok(Math.abs(rt - 200 / 255 * 32767) < 600, `M2's right trigger: ${axes(r2, 'righttrigger')}`);
  assert.deepEqual([...buttons(r1, 'b'), ...axes(r1, 'righttrigger').filter((v) => v !== 0)], [], `M1's app saw M2's input:\n${show(r1)}`);
  assert.deepEqual([...buttons(r2, 'a'), ...buttons(r2, 'y')], [], `M2's app saw M1's input:\n${show(r2)}`);

  await poll(() => m1.events.some((e) => e.event === 'rumble' && e.controller === 0 && e.low === 16384 && e.high === 32768),
    { timeout: 10000, what: "the rumble of M1's app at M1" });
  assert.deepEqual(m2.events.filter((e) => e.event === 'rumble'), [], 'M2 got no rumble');
  for (const m of moonlight)
    await m.stop();
}, { timeout: 150000 });

// The kernel's pads: where /dev/uinput exists, a host told to use it makes
// them and a browser's pad reaches the app through them. Never run on the
// machines this was written on (no CONFIG_INPUT_UINPUT there).
const noUinput = existsSync('/dev/uinput') ? false
  : 'no /dev/uinput on this machine (its kernel has no uinput): kernel pads cannot be made here; the tests above use the user-space ones';
reportingTest('with /dev/uinput: a browser\'s pad reaches its app through a kernel pad', { skip: skip || noUinput, timeout: 90000 },
  () => [host && `--- host log ---\n${host.logs()}`], async () => {
    const h = await startHost({
      backend: 'wlroots', grace: 0, args: ['--pads', 'uinput'],
      config: `[host]\napp=sh ${join(dir, 'fh-pad-app.sh')} ${dir} ${join(dir, 'fh-pad-logger')}\n` +
        sandboxConfig({ homesDir: await makeHomesDir(homesParent), binds: [dir] }),
    });
    let c = null;
    try {
      assert.match(h.stdoutText(), /pads: kernel pads through \/dev\/uinput \(config pads=uinput\)/);
      c = await connectClient(browser, h, 'U', { pin: h.pin, ...MODE }, { initScript: scriptedGamepads });
      const s = (await c.get(() => window.funkhaus.welcome)).session;
      await waitRecord(s, (r) => r.some((e) => e.kind === 'ready'), 'the logger to start', 20000);
      await c.page.evaluate(() => window.__fhPads.set(0, {}));
      await waitRecord(s, (r) => kinds(r, 'added').length === 1, 'the kernel pad in the app');
      await c.page.evaluate(() => window.__fhPads.set(0, { buttons: [0] }));
      await waitRecord(s, (r) => buttons(r, 'a').length, 'A through the kernel pad');
      await c.page.evaluate(() => window.__fhPads.unplug(0));
      await waitRecord(s, (r) => kinds(r, 'removed').length === 1 && lastCount(r) === 0, 'the kernel pad to go');
    } finally {
      await c?.close();
      await h.stop().catch(() => {});
      await removeDeviceAccounts(h);
      await h.cleanup();
    }
  });
