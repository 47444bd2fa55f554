// End to end with a shared KDE desktop: KWin 6.3 from the Debian 13 root
// (scripts/trixie-root.sh), run headless (--virtual) inside it as an
// unprivileged user with its own session bus, PipeWire and WirePlumber.
// `funkhaus serve` runs outside as that same user, as it would in a KDE
// session, with shared-desktop=auto.
//
// KWin offers zkde_screencast_unstable_v1 only to a program whose desktop
// file names it: the test installs data/funkhaus.desktop.in into the root,
// with Exec= the host binary (copied to the same path inside the root,
// since KWin compares the binary it sees there with the running one).
//
// KWin makes virtual outputs and screencasts them only on its DRM backend
// with OpenGL compositing, so on a DRM render node. On a machine without
// one (CPU only) it runs on its virtual backend with QPainter and refuses
// every virtual output (KWin 6.3: "Could not find output"); there the test
// checks that the client is told KWin's reason and that the host keeps
// serving, and the tests that need a picture skip with that reason. Where
// a render node exists they run.

import { before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, realpathSync } from 'node:fs';
import { chmod, copyFile, mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { startHost, poll, hostBinary, repoRoot } from './lib/host.mjs';
import { launchBrowser, openClient, connectClient } from './lib/client.mjs';
import { reportingTest } from './lib/report.mjs';
import { DESKTOP_UID, ROOT, TrixieDesktop, trixieSkip } from './lib/trixie.mjs';

const A_MODE = { width: 480, height: 320, refresh: 30 };
const B_MODE = { width: 400, height: 300, refresh: 30 };
const hasRenderNode = existsSync('/dev/dri') && readdirSync('/dev/dri').some((n) => n.startsWith('renderD'));
const NO_GPU = 'no GPU: KWin makes and screencasts virtual outputs only on a DRM render node ' +
  'with OpenGL compositing';

const skip = trixieSkip() || (!existsSync(hostBinary) ? `no host binary at ${hostBinary}` : false);
if (skip && process.env.CI)
  throw new Error(`KWin tests cannot run in CI: ${skip}`);

const desktop = new TrixieDesktop('fh-kwin');
const desktopFile = ROOT ? join(ROOT, 'usr', 'share', 'applications', 'funkhaus-e2e.desktop') : null;
const { outside } = desktop;
let host = null;
let browser = null;
let A = null;
let B = null;
const extra = [];
let copiedBin = null;

const HAS_GPU = 'a GPU is here: KWin makes virtual outputs, which the tests that need a GPU check';

/** `gpu`: true, the test needs a render node; false, it needs none. */
function e2e(title, fn, { timeout = 90000, gpu = null } = {}) {
  const why = skip || (gpu === true && !hasRenderNode ? NO_GPU : gpu === false && hasRenderNode ? HAS_GPU : false);
  reportingTest(title, { timeout, skip: why }, async () => [
    host && `--- host log ---\n${host.logs()}`,
    `--- desktop (KWin, PipeWire, WirePlumber, dbus) ---\n${desktop.logs.join('')}`,
    ...[A, B, ...extra].map((c) => c?.report()),
  ], fn);
}

before(async () => {
  if (skip)
    return;
  try {
    await startDesktop();
  } catch (e) {
    e.message += `\n--- desktop ---\n${desktop.logs.join('')}` + (host ? `\n--- host log ---\n${host.logs()}` : '');
    throw e;
  }
});

async function startDesktop() {
  await desktop.prepare();
  // The host binary where KWin looks for it, and our desktop file for it.
  const bin = realpathSync(hostBinary);
  await mkdir(join(ROOT, dirname(bin)), { recursive: true });
  copiedBin = join(ROOT, bin);
  await copyFile(bin, copiedBin);
  await chmod(copiedBin, 0o755);
  const template = readFileSync(join(repoRoot, 'data', 'funkhaus.desktop.in'), 'utf8');
  await writeFile(desktopFile, template.replaceAll('@BINDIR@', dirname(bin)));
  // KDE's service cache of an earlier run may hold another Exec= for it.
  const cache = join(ROOT, 'home', 'fhdesktop', '.cache');
  for (const f of await readdir(cache).catch(() => []))
    if (f.startsWith('ksycoca'))
      await rm(join(cache, f), { force: true });
  await desktop.start('kwin_wayland --virtual --no-lockscreen --width 640 --height 360 --socket wayland-0');
  await desktop.waitForBusName('org.kde.KWin', 'KWin on its session bus');
  await poll(async () => existsSync(join(outside, 'wayland-0')), { what: "KWin's Wayland socket" });
  host = await startHost({
    backend: 'synthetic',
    grace: 0,
    user: { uid: DESKTOP_UID, gid: DESKTOP_UID },
    config: `[host]\nshared-desktop=auto\nshared-dbus=unix:path=${outside}/bus\n` +
      `shared-wayland=${outside}/wayland-0\nshared-pipewire=${outside}/pipewire-0\n` +
      'shared-join=allow\naudio=off\n',
  });
  browser = await launchBrowser();
}

after(async () => {
  for (const c of [A, B, ...extra])
    await c?.close();
  await browser?.close();
  await host?.cleanup();
  if (!skip) {
    await desktop.stop();
    await rm(desktopFile, { force: true });
    if (copiedBin)
      await rm(copiedBin, { force: true });
  }
});

e2e('the host finds KWin and is let in to its virtual outputs by its desktop file', async () => {
  const log = host.logs();
  assert.match(log, /shared desktop: found KDE KWin: org\.kde\.KWin is on the session bus/);
  // Made only once zkde_screencast_unstable_v1 was bound.
  assert.match(log, /shared desktop: KDE KWin \d+ at .*wayland-0, up to 4 views/);
  assert.match(host.stdoutText(), /shared desktop: kwin \d+/);
});

e2e('without a GPU, a client asking for a view is told KWin\'s reason and the host keeps serving', async () => {
  const c = await openClient(browser, host, 'C', { pin: host.pin, name: 'C', ...A_MODE, desktop: 'shared', autoconnect: 1 },
    { viewport: { width: A_MODE.width, height: A_MODE.height } });
  extra.push(c);
  await c.waitFor((f) => f.closes.length > 0, { what: 'C closed', timeout: 20000 });
  const { lastError, closes } = await c.hooks();
  // KWin's own words follow (its `failed` event).
  assert.match(lastError?.message ?? '', /^cannot start the desktop: KWin refused the virtual output: \S/,
    JSON.stringify({ lastError, closes }));
  assert.equal(host.exit, null, 'the host keeps running');
  // An independent session of the same host is unaffected.
  const d = await connectClient(browser, host, 'D', { pin: await host.pair(), ...B_MODE });
  extra.push(d);
  await d.waitFrames((await d.hooks()).framesDecoded + 5);
}, { gpu: false });

e2e('two clients on the KDE desktop get virtual outputs of exactly their sizes', async () => {
  A = await connectClient(browser, host, 'A', { pin: host.pin, ...A_MODE, desktop: 'shared' });
  B = await connectClient(browser, host, 'B', { pin: await host.pair(), ...B_MODE, desktop: 'shared' });
  for (const [c, mode] of [[A, A_MODE], [B, B_MODE]]) {
    assert.equal((await c.get(() => window.funkhaus.welcome)).display.backend, 'kwin');
    await c.waitFrames((await c.hooks()).framesDecoded + 5, { timeout: 20000 });
    assert.deepEqual(await c.get(() => window.funkhaus.lastFrameSize), { width: mode.width, height: mode.height });
  }
}, { gpu: true });
