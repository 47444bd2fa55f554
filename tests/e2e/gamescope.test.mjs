// End to end with the gamescope backend. gamescope needs a GPU
// (PLATFORM-NOTES), so these tests run it against its TEST DOUBLE,
// tests/doubles/gamescope-standin (FUNKHAUS_GAMESCOPE_STANDIN): it takes
// gamescope's command line, runs a real libeis server whose socket it hands
// its child as LIBEI_SOCKET, exports a real PipeWire Video/Source of one
// colour per instance, and records every input event its EIS server gets.
// Everything on the host's side is real: the backend, the relay file, the
// libei injector, the PipeWire video capture, the encoder, Chromium.
//
// Checked: two sessions at once, each client decodes its own instance's
// colour at its own size and its input reaches only its own instance; two
// instances started at the same moment have relay files of their own; an
// input event sent before the instance's EIS socket exists arrives once it
// does; when a session ends its gamescope and relay file are gone; an
// instance that does not log its video node is found in PipeWire's registry.
// Each instance is a sandbox like a wlroots session's: it runs as its
// client's device account, and its video node lives in the session's own
// PipeWire, where no other session's app can see it.
//
// Needs: root, PipeWire, Chromium, the stand-in (built when libeis-dev is
// installed: `scripts/setup.sh test`).

import { before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, chmod, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { startHost, poll } from './lib/host.mjs';
import { launchBrowser, openClient, connectClient, colorClose } from './lib/client.mjs';
import { reportingTest } from './lib/report.mjs';
import {
  accounts, copyIntoBind, makeHomesDir, removeDeviceAccounts, sandboxConfig, sessionAudio,
  sessionProcesses, sessionRuntimeDirs,
} from './lib/sandbox.mjs';

const STANDIN = process.env.FUNKHAUS_GAMESCOPE_STANDIN;
const A_MODE = { width: 320, height: 240, refresh: 30 };
const B_MODE = { width: 400, height: 224, refresh: 30 };
const EVDEV = { a: 30, b: 48, h: 35, l: 38, o: 24, p: 25, r: 19, v: 47, x: 45 };
const TOLERANCE = 24;

const skip = process.getuid?.() !== 0 ? 'the gamescope backend runs each instance as its device\'s account: needs root'
  : accounts(/^funkhaus$/).length === 0 ? 'no funkhaus account'
  : !STANDIN || !existsSync(STANDIN) ? 'no gamescope stand-in (FUNKHAUS_GAMESCOPE_STANDIN; needs libeis-dev)'
  : !existsSync('/usr/bin/pipewire') ? 'no PipeWire'
  : false;
if (skip && process.env.CI)
  throw new Error(`gamescope tests cannot run in CI: ${skip}`);

let dir = null;
let standin = null;
let homesDir = null;
let host = null;
let lateHost = null;
let quietHost = null;
let D = null;
let browser = null;
let A = null;
let B = null;
let C = null;
const sessions = {};

async function recordOf(session) {
  try {
    return await readFile(join(dir, `${session}.log`), 'utf8');
  } catch (e) {
    if (e.code === 'ENOENT')
      return '';
    throw e;
  }
}

const keyLines = (log) => log.split('\n').filter((l) => l.startsWith('key '));
const expectedKeys = (word) => [...word].flatMap((ch) => [`key ${EVDEV[ch]} down`, `key ${EVDEV[ch]} up`]);

/** The relay file of a session: its runtime dir holds it. */
function relayFiles(session) {
  return sessionRuntimeDirs(session).map((d) => join(d, 'libei-socket'));
}

/** config.ini of a host whose stand-in runs with `args`: the stand-in and
 *  its records are in a folder every sandbox sees. */
function standinConfig(args) {
  return `[host]\ngamescope=${standin} ${args} --record ${dir}/%s.log\napp=sleep infinity\n` +
    sandboxConfig({ homesDir, binds: [dir] });
}

/** gamescope's pid for a session, from the host's log. */
function gamescopePid(h, session) {
  const m = new RegExp(`session ${session.slice(0, 8)}: gamescope (\\d+) up`).exec(h.logs());
  return m ? Number(m[1]) : null;
}

function e2e(name, fn, { timeout = 60000 } = {}) {
  reportingTest(name, { timeout, skip }, async () => [
    host && `--- host log ---\n${host.logs()}`,
    lateHost && `--- host log (late EIS host) ---\n${lateHost.logs()}`,
    quietHost && `--- host log (quiet host) ---\n${quietHost.logs()}`,
    ...[A, B, C, D].map((c) => c?.report()),
    ...await Promise.all(Object.entries(sessions).map(async ([n, s]) =>
      `--- record of ${n} (${s}) ---\n${await recordOf(s)}`)),
  ], fn);
}

before(async () => {
  if (skip)
    return;
  dir = await mkdtemp(join(tmpdir(), 'fh-gamescope-'));
  await chmod(dir, 0o1777);
  homesDir = await makeHomesDir(await mkdtemp(join(tmpdir(), 'fh-gamescope-homes-')));
  // The build tree is not visible inside a sandbox.
  standin = await copyIntoBind(STANDIN, dir);
  host = await startHost({ backend: 'gamescope', grace: 0, config: standinConfig('') });
  browser = await launchBrowser();
});

after(async () => {
  for (const c of [A, B, C, D])
    await c?.close();
  await browser?.close();
  const problems = [];
  for (const h of [host, lateHost, quietHost]) {
    if (h && !h.exit)
      await h.stop().catch(() => {});
    problems.push(...await removeDeviceAccounts(h));
    await h?.cleanup();
  }
  if (dir && !process.env.FUNKHAUS_KEEP_TMP) {
    await rm(dir, { recursive: true, force: true });
    await rm(dirname(homesDir), { recursive: true, force: true });
  }
  assert.deepEqual(problems, [], 'the device accounts of the test are removed');
});

/** A page paired with `pin`, not connected yet. */
async function pairedClient(h, name, pin, mode) {
  const c = await openClient(browser, h, name, { pin, name, ...mode },
    { viewport: { width: mode.width, height: mode.height } });
  await c.waitFor((f) => f.state === 'idle', { what: 'paired', timeout: 10000 });
  return c;
}

e2e('two gamescope sessions started at once: own picture, own size, own relay file', async () => {
  A = await pairedClient(host, 'A', host.pin, A_MODE);
  B = await pairedClient(host, 'B', await host.pair(), B_MODE);
  // Both at the same moment: their instances start side by side.
  await Promise.all([A, B].map((c) => c.page.click('#connect-form button[type=submit]')));
  await Promise.all([A, B].map((c) => c.waitFor((f) => f.state === 'streaming' && f.welcome,
    { what: 'streaming', timeout: 30000 })));
  sessions.A = (await A.get(() => window.funkhaus.welcome)).session;
  sessions.B = (await B.get(() => window.funkhaus.welcome)).session;
  assert.notEqual(sessions.A, sessions.B);

  for (const [c, mode] of [[A, A_MODE], [B, B_MODE]]) {
    const s = sessions[c.name];
    const ready = await poll(async () => /^ready (\d+) (\d+) ([0-9a-f]{6})$/m.exec(await recordOf(s)),
      { timeout: 10000, what: `the stand-in of ${c.name} to be ready` });
    assert.deepEqual([Number(ready[1]), Number(ready[2])], [mode.width, mode.height],
      `${c.name}'s instance runs at the client's mode`);
    await c.waitFrames(10);
    const size = await c.get(() => window.funkhaus.lastFrameSize);
    assert.deepEqual(size, { width: mode.width, height: mode.height }, `${c.name} decodes at its mode`);
    const want = [0, 2, 4].map((i) => parseInt(ready[3].slice(i, i + 2), 16));
    const got = await c.sampleColor(mode.width / 2, mode.height / 2);
    assert.ok(colorClose(got, want, TOLERANCE),
      `${c.name} shows its own instance's colour: got ${got}, want ${want}`);
  }
  const [ca, cb] = [sessions.A, sessions.B].map((s) => /^ready \d+ \d+ (\w+)$/m.exec(readFileSync(join(dir, `${s}.log`), 'utf8'))[1]);
  assert.notEqual(ca, cb, 'the two instances show different colours');

  // Relay files: one each, in a runtime dir of its own, each naming its own
  // instance's socket there.
  const uids = {};
  for (const s of [sessions.A, sessions.B]) {
    const file = relayFiles(s).find((f) => existsSync(f));
    assert.ok(file, `a relay file for ${s}: one of ${relayFiles(s).join(', ')}`);
    const name = readFileSync(file, 'utf8').trim();
    assert.match(name, /^gamescope-standin-\d+-ei$/, `${s}'s relay file names a stand-in's socket`);
    assert.ok(existsSync(join(dirname(file), name)), `${s}'s relay file names the socket of its own instance, beside it`);
    // A sandbox: the stand-in and its app run as the device's own
    // account, and its PipeWire is the session's own.
    const procs = await sessionProcesses(s);
    const own = procs.find((p) => p.comm.startsWith('gamescope-stand'));
    assert.ok(own, `${s}'s stand-in runs: ${procs.join('; ')}`);
    const account = accounts(/^fh-/).find((a) => a.uid === own.uid);
    assert.ok(account, `${s}'s stand-in runs as a device account, not uid ${own.uid}`);
    assert.ok(procs.some((p) => p.comm === 'pipewire' && p.uid === own.uid), `${s} has a PipeWire of its own: ${procs.join('; ')}`);
    assert.equal(sessionAudio(s)?.account, account.name, `${s}'s PipeWire is in its runtime dir`);
    uids[s] = own.uid;
  }
  assert.notEqual(uids[sessions.A], uids[sessions.B], 'two devices, two accounts');
});

e2e('input reaches only the gamescope instance of the session whose client sent it', async () => {
  assert.ok(A && B, 'needs the clients of the first test');
  const box = await A.page.locator('#screen').boundingBox();
  const click = { x: Math.round(box.x + 0.5 * box.width), y: Math.round(box.y + 0.5 * box.height) };
  const expected = {
    x: Math.floor((click.x - box.x) * A_MODE.width / box.width),
    y: Math.floor((click.y - box.y) * A_MODE.height / box.height),
  };
  await Promise.all([
    (async () => {
      await A.page.keyboard.type('alpha', { delay: 30 });
      await A.page.mouse.click(click.x, click.y);
    })(),
    B.page.keyboard.type('bravo', { delay: 30 }),
  ]);
  await poll(async () => keyLines(await recordOf(sessions.A)).length >= 10 &&
    (await recordOf(sessions.A)).includes('button 272 up'), { timeout: 10000, what: "A's input" }).catch(() => {});
  await poll(async () => keyLines(await recordOf(sessions.B)).length >= 10,
    { timeout: 10000, what: "B's input" }).catch(() => {});
  const logA = await recordOf(sessions.A);
  const logB = await recordOf(sessions.B);
  assert.deepEqual(keyLines(logA), expectedKeys('alpha'), `A's keys; A's record:\n${logA}`);
  assert.deepEqual(keyLines(logB), expectedKeys('bravo'), `B's keys; B's record:\n${logB}`);
  const linesA = logA.split('\n');
  const down = linesA.indexOf('button 272 down');
  assert.ok(down >= 0 && linesA.indexOf('button 272 up') > down, `A's click; A's record:\n${logA}`);
  const motion = linesA.slice(0, down).filter((l) => l.startsWith('motion ')).pop();
  assert.equal(motion, `motion ${expected.x} ${expected.y}`, `A's pointer before its click:\n${logA}`);
  assert.ok(!/^(button|motion) /m.test(logB), `B got pointer input it never sent:\n${logB}`);
});

e2e('an input event sent before the EIS socket exists is delivered once it appears', async () => {
  // A host whose instances open their EIS socket (and start their app) only
  // 3 s after their video is up.
  lateHost = await startHost({
    backend: 'gamescope',
    grace: 0,
    config: standinConfig('--ei-delay-ms 3000'),
  });
  C = await connectClient(browser, lateHost, 'C', { pin: lateHost.pin, ...A_MODE });
  sessions.C = (await C.get(() => window.funkhaus.welcome)).session;
  const relay = relayFiles(sessions.C);
  assert.ok(!relay.some((f) => existsSync(f)), 'no relay file yet: the socket does not exist');
  await C.page.keyboard.press('x');
  const sentAt = Date.now();
  const log = await poll(async () => {
    const l = await recordOf(sessions.C);
    return keyLines(l).length >= 2 ? l : null;
  }, { timeout: 15000, what: "C's early key at its instance" });
  assert.deepEqual(keyLines(log), expectedKeys('x'), `the early key, once; C's record:\n${log}`);
  assert.ok(relay.some((f) => existsSync(f)), 'the relay file exists now');
  console.log(`# the early key arrived ${Date.now() - sentAt} ms after it was sent`);
});

e2e('a session that ends takes its gamescope and relay file with it', async () => {
  const s = sessions.A;
  const pid = gamescopePid(host, s);
  const file = relayFiles(s).find((f) => existsSync(f));
  assert.ok(pid && file, 'A is running');
  await A.close();
  A = null;
  await poll(() => !existsSync(`/proc/${pid}`) || /^State:\s+Z/m.test(readFileSync(`/proc/${pid}/status`, 'utf8')),
    { timeout: 5000, what: "A's gamescope to exit" });
  await poll(() => !existsSync(file), { timeout: 5000, what: "A's relay file to go" });
  await poll(async () => (await sessionProcesses(s)).length === 0,
    { timeout: 5000, what: "every process of A's sandbox (its PipeWire too) to go" });
  // B is untouched.
  const before = (await B.hooks()).framesDecoded;
  await B.waitFrames(before + 5);
});

e2e('an instance that never names its video node is found in the PipeWire registry', async () => {
  // The stand-in keeps quiet about its node id: the host waits for the log
  // line, then finds the Video/Source whose client is that instance.
  quietHost = await startHost({
    backend: 'gamescope',
    grace: 0,
    config: standinConfig('--no-node-log'),
  });
  D = await connectClient(browser, quietHost, 'D', { pin: quietHost.pin, ...A_MODE });
  sessions.D = (await D.get(() => window.funkhaus.welcome)).session;
  await poll(() => /found gamescope's video node \d+ in PipeWire's registry/.test(quietHost.logs()),
    { timeout: 15000, what: 'the registry search to find the node' });
  const ready = await poll(async () => /^ready \d+ \d+ ([0-9a-f]{6})$/m.exec(await recordOf(sessions.D)),
    { timeout: 10000, what: "D's stand-in to stream" });
  await D.waitFrames(10);
  const want = [0, 2, 4].map((i) => parseInt(ready[1].slice(i, i + 2), 16));
  const got = await D.sampleColor(A_MODE.width / 2, A_MODE.height / 2);
  assert.ok(colorClose(got, want, TOLERANCE), `D shows its instance's colour: got ${got}, want ${want}`);
}, { timeout: 60000 });
