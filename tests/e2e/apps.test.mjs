// End to end with an app list (issue 19): `funkhaus serve --backend
// wlroots` (as root) with two apps in config.ini, each a small sh script
// that writes its own marker (<session>.first, <session>.second) into a
// sandbox-binds folder and keeps running. A browser sees both in its
// connect panel, picks the second and gets a session running it; a browser
// that names an app the host does not have is closed with a clear error; a
// third app whose backend cannot run here (gamescope, its program missing)
// is listed with the reason, disabled, and refused; a Moonlight client
// (tests/gamestream/fh-gs-client) sees the two that can start in /applist
// and launches the second.
//
// Needs: root, sway, Xwayland, Chromium. The apps run in the sessions'
// sandboxes as their devices' accounts (lib/sandbox.mjs); the accounts the
// host made are removed at the end.

import { before, after } from 'node:test';
import { reportingTest } from './lib/report.mjs';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, chmod, readdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startHost, poll } from './lib/host.mjs';
import { launchBrowser, connectClient, openClient } from './lib/client.mjs';
import { GS_CLIENT, startGsClient } from './lib/gs-client.mjs';
import { finishSandboxedHost, makeHomesDir, sandboxConfig } from './lib/sandbox.mjs';

const MODE = { width: 320, height: 240, refresh: 30 };

const hasAccount = readFileSync('/etc/passwd', 'utf8').split('\n').some((l) => l.startsWith('funkhaus:'));
const skip = process.getuid?.() !== 0 ? 'the wlroots backend needs root (it runs compositors as funkhaus)'
  : !hasAccount ? 'no funkhaus account'
  : !existsSync('/usr/bin/sway') ? 'no sway'
  : !existsSync(GS_CLIENT) ? `no fh-gs-client at ${GS_CLIENT}`
  : false;
if (skip && process.env.CI)
  throw new Error(`app-list tests cannot run in CI: ${skip}`);

let dir = null;
let homesParent = null;
let host = null;
let browser = null;
const clients = [];
const moonlight = [];

/** An app that marks its session with @tag, then stays (a session runs
 *  while its app does). */
function appScript(tag) {
  return `#!/bin/sh\necho ${tag} > "$1/$FUNKHAUS_SESSION.${tag}"\nexec sleep 100000\n`;
}

function e2e(name, fn, { timeout = 90000 } = {}) {
  reportingTest(name, { timeout, skip }, () => [
    host && `--- host log ---\n${host.logs()}`,
    ...clients.map((c) => c.report()),
    ...moonlight.map((m) => m.report()),
  ], fn);
}

before(async () => {
  if (skip)
    return;
  dir = await mkdtemp(join(tmpdir(), 'fh-apps-'));
  await chmod(dir, 0o1777);
  for (const tag of ['first', 'second']) {
    await writeFile(join(dir, `${tag}.sh`), appScript(tag));
    await chmod(join(dir, `${tag}.sh`), 0o755);
  }
  homesParent = await mkdtemp(join(tmpdir(), 'fh-homes-'));
  host = await startHost({
    backend: 'wlroots',
    grace: 0,
    gamestream: true,
    // A third app whose backend cannot run here: listed with the reason.
    config: '[host]\ngamescope=/nonexistent/gamescope\n' +
      sandboxConfig({ homesDir: await makeHomesDir(homesParent), binds: [dir] }) +
      `[app First]\ncommand=sh ${dir}/first.sh ${dir}\n` +
      `[app Second]\ncommand=sh ${dir}/second.sh ${dir}\nbackend=wlroots\n` +
      '[app Games]\ncommand=true\nbackend=gamescope\n',
  });
  browser = await launchBrowser();
});

after(async () => {
  for (const m of moonlight)
    await m.stop().catch(() => {});
  for (const c of clients)
    await c.close().catch(() => {});
  await browser?.close();
  await finishSandboxedHost(host, [dir, homesParent]);
});

/** The markers in the bind folder: [session id or prefix, tag]. */
async function markers() {
  return (await readdir(dir)).map((f) => /^([0-9a-f]{8,})\.(first|second)$/.exec(f))
    .filter(Boolean).map((m) => [m[1], m[2]]);
}

e2e('the host lists both apps; a browser that picks the second gets a session running it', async () => {
  assert.match(host.stdoutText(), /apps: 1 First, 2 Second, 3 Games \(cannot start here: /,
    'the banner lists the apps');
  const A = await connectClient(browser, host, 'A', { pin: host.pin, ...MODE, app: 2 });
  clients.push(A);
  const session = (await A.get(() => window.funkhaus.welcome)).session;
  await A.waitFor((f) => f.apps, { what: "the console's app list", timeout: 10000 });
  const apps = await A.get(() => window.funkhaus.apps);
  assert.deepEqual(apps.slice(0, 2).map((a) => [a.id, a.name, a.unavailable ?? null]),
    [[1, 'First', null], [2, 'Second', null]]);
  assert.equal(apps.length, 3);
  assert.equal(apps[2].name, 'Games');
  assert.match(apps[2].unavailable, /\/nonexistent\/gamescope is not installed/);
  const options = await A.get(() => [...document.querySelectorAll('#app option')]
    .map((o) => [o.value, o.textContent, o.disabled]));
  assert.deepEqual(options.slice(0, 3),
    [['', "the host's default", false], ['1', 'First', false], ['2', 'Second', false]]);
  assert.deepEqual([options[3][0], options[3][2]], ['3', true], 'Games is shown, disabled');
  assert.match(options[3][1], /^Games \(.*not installed/);
  await poll(async () => (await markers()).some(([s, t]) => s === session && t === 'second'),
    { timeout: 20000, what: `the second app's marker for session ${session}` });
  assert.deepEqual((await markers()).filter(([s]) => s === session), [[session, 'second']],
    'the session runs the second app only');
  assert.match(host.logs(), new RegExp(`session ${session.slice(0, 8)}: new for device \\S+ at .*app 'Second'`));
});

e2e('a browser that names an app the host does not have, or one that cannot start, is closed, and only it', async () => {
  for (const [name, app, why] of [['B', 7, /no app 7/], ['C', 3, /'Games' cannot start on this host/]]) {
    const pin = await host.pair();
    const c = await openClient(browser, host, name, { pin, name, ...MODE, autoconnect: 1, app },
      { viewport: { width: MODE.width, height: MODE.height } });
    clients.push(c);
    await c.waitFor((f) => f.lastError, { what: 'an error', timeout: 15000 });
    const err = await c.get(() => window.funkhaus.lastError);
    assert.equal(err.code, 'unsupported', JSON.stringify(err));
    assert.match(err.message, why);
  }
  assert.equal(await clients[0].get(() => window.funkhaus.state), 'streaming', 'A streams on');
});

e2e('a Moonlight client sees both apps in /applist and launches the second', async () => {
  const m = await startGsClient(host, {
    name: 'M', stateDir: join(dir, 'gs-client-M'), pin: '4242',
    args: ['--app', '2', '--mode', `${MODE.width}x${MODE.height}x${MODE.refresh}`, '--frames', '10',
      '--audio-ms', '0', '--timeout', '60', '--hold'],
  });
  moonlight.push(m);
  const apps = await m.waitFor('apps');
  // Games cannot start here: Moonlight, with no way to show why, is not offered it.
  assert.deepEqual(apps.apps, [{ id: 1, title: 'First' }, { id: 2, title: 'Second' }]);
  await m.waitFor('holding', 60000);
  const streams = [...host.logs().matchAll(/gamestream: device [0-9a-f]+ streams session ([0-9a-f]{8})/g)];
  assert.ok(streams.length, 'the host names the Moonlight session');
  const prefix = streams.at(-1)[1];
  await poll(async () => (await markers()).some(([s, t]) => s.startsWith(prefix) && t === 'second'),
    { timeout: 20000, what: `the second app's marker for Moonlight's session ${prefix}` });
  assert.deepEqual((await markers()).filter(([s]) => s.startsWith(prefix)).map(([, t]) => t), ['second']);
});
