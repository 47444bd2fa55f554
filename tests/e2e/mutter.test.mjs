// End to end with a shared GNOME desktop: Mutter 48 from a Debian 13 root
// (scripts/trixie-root.sh; Debian 12's Mutter is too old), run headless
// with llvmpipe inside that root as an unprivileged user, with its own
// session bus, PipeWire and WirePlumber, and an app that records its input.
// `funkhaus serve` runs outside, told about the desktop's bus and PipeWire
// (shared-desktop=mutter). Two Chromium clients join at different modes:
// each gets a virtual monitor of exactly its size (Mutter's DisplayConfig
// says so); keys from either reach the app through Mutter's EIS; a window
// opened where a client's pointer is shows in that client's picture only;
// a client that leaves takes its own monitor away.

import { before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { chmod, copyFile } from 'node:fs/promises';
import { join } from 'node:path';
import { startHost, poll } from './lib/host.mjs';
import { launchBrowser, connectClient, colorClose } from './lib/client.mjs';
import { reportingTest } from './lib/report.mjs';
import { ROOT, TrixieDesktop, trixieSkip } from './lib/trixie.mjs';

const run = promisify(execFile);
const RECORDER = process.env.FUNKHAUS_RECORDER;
const A_MODE = { width: 480, height: 320, refresh: 30 };
const B_MODE = { width: 400, height: 300, refresh: 30 };
const EVDEV = { a: 30, b: 48, h: 35, l: 38, o: 24, p: 25, r: 19, v: 47 };

const skip = trixieSkip() || (!RECORDER || !existsSync(RECORDER) ? 'no recorder (FUNKHAUS_RECORDER)' : false);
if (skip && process.env.CI)
  throw new Error(`Mutter tests cannot run in CI: ${skip}`);

const desktop = new TrixieDesktop('fh-mutter');
const { inside, outside } = desktop;
let host = null;
let browser = null;
let A = null;
let B = null;

const keyLines = (log) => log.split('\n').filter((l) => l.startsWith('key '));
const expectedKeys = (word) => [...word].flatMap((ch) => [`key ${EVDEV[ch]} down`, `key ${EVDEV[ch]} up`]);
const appLog = async (file = 'app.log') => desktop.read(file);

/** The size of every monitor Mutter has now, from its DisplayConfig. */
async function monitorSizes() {
  const { stdout } = await run('gdbus', ['call', '--address', `unix:path=${outside}/bus`,
    '--dest', 'org.gnome.Mutter.DisplayConfig', '--object-path', '/org/gnome/Mutter/DisplayConfig',
    '--method', 'org.gnome.Mutter.DisplayConfig.GetCurrentState']);
  // Each logical monitor: (x, y, scale, transform, primary, [(connector, vendor, product, serial)], props)
  const logical = [...stdout.matchAll(/\((-?\d+), (-?\d+), (?:@d )?[\d.]+, (?:@u )?\d+, (?:true|false), \[\('([^']+)'/g)];
  // Current modes: ('WxH@R', W, H, R, scale, [scales], {'is-current': <true>, …})
  const current = [...stdout.matchAll(/\('[^']+', (\d+), (\d+), [\d.]+, [\d.]+, \[[^\]]*\], \{[^}]*'is-current': <true>/g)];
  return { logical: logical.length, sizes: current.map((m) => `${m[1]}x${m[2]}`).sort() };
}

function e2e(title, fn, { timeout = 90000 } = {}) {
  reportingTest(title, { timeout, skip }, async () => [
    host && `--- host log ---\n${host.logs()}`,
    `--- desktop (Mutter, PipeWire, WirePlumber, dbus) ---\n${desktop.logs.join('')}`,
    `--- app ---\n${await appLog()}`,
    ...[A, B].map((c) => c?.report()),
  ], fn);
}

before(async () => {
  if (skip)
    return;
  try {
    await startDesktop();
  } catch (e) {
    e.message += `\n--- desktop ---\n${desktop.logs.join('')}\n--- app ---\n${await appLog()}` +
      (host ? `\n--- host log ---\n${host.logs()}` : '');
    throw e;
  }
});

async function startDesktop() {
  await desktop.prepare();
  await copyFile(RECORDER, join(ROOT, 'usr', 'local', 'bin', 'fh-input-recorder'));
  await chmod(join(ROOT, 'usr', 'local', 'bin', 'fh-input-recorder'), 0o755);
  await desktop.start('mutter --headless --wayland --no-x11 --virtual-monitor 640x360');
  await poll(async () => existsSync(join(outside, 'wayland-0')) &&
    desktop.hasBusName('org.gnome.Mutter.RemoteDesktop'),
  { timeout: 30000, interval: 200, what: 'Mutter on its session bus' });
  desktop.spawn(['WAYLAND_DISPLAY=wayland-0', '/usr/local/bin/fh-input-recorder', `${inside}/app.log`, '336699'], 'app');
  await poll(async () => /^ready /m.test(await appLog()), { timeout: 15000, what: "the desktop's app" });
  host = await startHost({
    backend: 'synthetic',
    grace: 0,
    config: `[host]\nshared-desktop=mutter\nshared-dbus=unix:path=${outside}/bus\n` +
      `shared-pipewire=${outside}/pipewire-0\nshared-join=allow\n`,
  });
  browser = await launchBrowser();
}

after(async () => {
  for (const c of [A, B])
    await c?.close();
  await browser?.close();
  await host?.cleanup();
  if (!skip)
    await desktop.stop();
});

e2e('two clients on the GNOME desktop get virtual monitors of exactly their sizes', async () => {
  const before = await monitorSizes();
  assert.deepEqual(before.sizes, ['640x360'], `only the desktop's own monitor at first: ${JSON.stringify(before)}`);
  A = await connectClient(browser, host, 'A', { pin: host.pin, ...A_MODE, desktop: 'shared' });
  B = await connectClient(browser, host, 'B', { pin: await host.pair(), ...B_MODE, desktop: 'shared' });
  for (const c of [A, B])
    assert.equal((await c.get(() => window.funkhaus.welcome)).display.backend, 'mutter');
  const now = await poll(async () => {
    const m = await monitorSizes();
    return m.sizes.length === 3 ? m : null;
  }, { timeout: 10000, what: 'two more monitors' });
  assert.deepEqual(now.sizes, ['400x300', '480x320', '640x360'].sort(), JSON.stringify(now));
  for (const [c, mode] of [[A, A_MODE], [B, B_MODE]]) {
    await c.waitFrames((await c.hooks()).framesDecoded + 5, { timeout: 20000 });
    assert.deepEqual(await c.get(() => window.funkhaus.lastFrameSize), { width: mode.width, height: mode.height });
  }
});

e2e('keys from either client reach the desktop\'s app through EIS', async () => {
  for (const [c, word] of [[A, 'alpha'], [B, 'bravo']]) {
    const before = keyLines(await appLog()).length;
    await c.page.locator('#screen').focus().catch(() => {});
    await c.page.keyboard.type(word, { delay: 30 });
    const lines = await poll(async () => {
      const l = keyLines(await appLog());
      return l.length >= before + 2 * word.length ? l.slice(before) : null;
    }, { timeout: 10000, what: `${c.name}'s keys at the app` });
    assert.deepEqual(lines, expectedKeys(word), `${c.name}'s keys`);
  }
});

e2e('each client sees its own monitor: a window opened where its pointer is shows in its picture only', async () => {
  const views = [[A, A_MODE, 'cc2222', [0xcc, 0x22, 0x22]], [B, B_MODE, '22cc22', [0x22, 0xcc, 0x22]]];
  for (const [c, mode, hex, want] of views) {
    // Mutter opens a window on the monitor the pointer is on.
    const box = await c.page.locator('#screen').boundingBox();
    for (const f of [0.4, 0.5])
      await c.page.mouse.move(box.x + box.width * f, box.y + box.height * f);
    await new Promise((r) => setTimeout(r, 300));
    desktop.spawn(['WAYLAND_DISPLAY=wayland-0', '/usr/local/bin/fh-input-recorder', `${inside}/view-${c.name}.log`, hex], `view ${c.name}`);
    await poll(async () => /^ready /m.test(await appLog(`view-${c.name}.log`)), { timeout: 15000, what: `a window for ${c.name}` });
    await poll(async () => colorClose(await c.sampleColor(mode.width / 2, mode.height / 2), want, 24),
      { timeout: 10000, what: `${c.name} to show the window opened on its monitor` })
      .catch(async (e) => {
        e.message += ` (seen ${JSON.stringify(await c.sampleColor(mode.width / 2, mode.height / 2))})`;
        throw e;
      });
  }
  // And neither window shows in the other client's picture.
  assert.ok(!colorClose(await A.sampleColor(A_MODE.width / 2, A_MODE.height / 2), views[1][3], 24), 'B\'s window is not in A\'s picture');
  assert.ok(!colorClose(await B.sampleColor(B_MODE.width / 2, B_MODE.height / 2), views[0][3], 24), 'A\'s window is not in B\'s picture');
});

e2e('a client that leaves takes only its own monitor away', async () => {
  await A.close();
  A = null;
  const now = await poll(async () => {
    const m = await monitorSizes();
    return m.sizes.length === 2 ? m : null;
  }, { timeout: 10000, what: "A's monitor to go" });
  assert.deepEqual(now.sizes, ['400x300', '640x360']);
  await B.waitFrames((await B.hooks()).framesDecoded + 5, { timeout: 20000 });
  assert.equal(host.exit, null, 'the host keeps running');
});
