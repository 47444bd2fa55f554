// Guests end to end: `funkhaus serve --backend wlroots` as root (its
// private PipeWire), every session running tests/apps/fh-audio-app.sh: a
// tone (the first session 440 Hz) and the input recorder (every key its
// window gets, in DIR/<session>.log). Browser A has a session of its own;
// browser G, another paired device, asks to join it with the guest code
// A's toolbar shows. A lets it in at "gamepads only" on its page; G gets
// A's picture and A's sound; G's key is refused at that level and reaches
// A's app once A raises G to full on its page; A removes G, which is
// closed (refused, 4011) while A streams on. A code no session has is
// refused, and a guest cannot answer requests for A's session; the
// host's owner lets it in again with `funkhaus approve ID view`.

import { before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { chmod, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { reportingTest } from './lib/report.mjs';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { startHost, poll, repoRoot, hostBinary } from './lib/host.mjs';
import { launchBrowser, connectClient, openClient } from './lib/client.mjs';
import { rawTone, toneLevel } from './lib/audio.mjs';
import {
  copyIntoBind, finishSandboxedHost, makeHomesDir, recordLines, sandboxConfig,
} from './lib/sandbox.mjs';

const run = promisify(execFile);
const RECORDER = process.env.FUNKHAUS_RECORDER || join(repoRoot, 'build', 'tests', 'fh-input-recorder');
const APP = join(repoRoot, 'tests', 'apps', 'fh-audio-app.sh');
const MODE = { width: 320, height: 240, refresh: 30 };
const KEY_A = 30, KEY_G = 34, KEY_H = 35;

const hasAccount = readFileSync('/etc/passwd', 'utf8').split('\n').some((l) => l.startsWith('funkhaus:'));
const skip = process.getuid?.() !== 0 ? 'the wlroots backend needs root (it runs compositors as device accounts)'
  : !hasAccount ? 'no funkhaus account'
  : !existsSync(RECORDER) ? `no recorder at ${RECORDER}`
  : !existsSync('/usr/bin/sway') ? 'no sway'
  : !existsSync('/usr/bin/bwrap') ? 'no bubblewrap'
  : !existsSync('/usr/bin/pipewire') || !existsSync('/usr/bin/pacat') ? 'no PipeWire or pulseaudio-utils'
  : false;
if (skip && process.env.CI)
  throw new Error(`the guest tests cannot run in CI: ${skip}`);

let dir = null;
let homesParent = null;
let host = null;
let browser = null;
let A = null;
let G = null;
const a = {}; // A's session and code

const inputRecord = (session) => recordLines(dir, session);
const keyLines = (rec, code) => rec.filter((l) => l.startsWith(`key ${code} `));

/** `funkhaus ARGS…` against the running host; its stdout. */
async function funkhaus(...args) {
  const { stdout } = await run(hostBinary, args, { env: host.env, timeout: 10000 });
  host.lines.push([Date.now() - host.started, 'cli', `${args.join(' ')}: ${stdout.trim()}`]);
  return stdout;
}

function e2e(name, fn, { timeout = 60000 } = {}) {
  reportingTest(name, { timeout, skip }, async () => [
    host && `--- host log ---\n${host.logs()}`,
    A?.report(),
    G?.report(),
    ...(a.session ? [`--- record of ${a.session} ---\n${(await inputRecord(a.session)).join('\n')}`] : []),
  ], fn);
}

before(async () => {
  if (skip)
    return;
  dir = await mkdtemp(join(tmpdir(), 'fh-guests-'));
  await chmod(dir, 0o1777);
  await writeFile(join(dir, 'tone-440.raw'), rawTone(440, 20));
  await writeFile(join(dir, 'tone-880.raw'), rawTone(880, 20));
  const app = await copyIntoBind(APP, dir);
  const recorder = await copyIntoBind(RECORDER, dir);
  homesParent = await mkdtemp(join(tmpdir(), 'fh-homes-'));
  host = await startHost({
    backend: 'wlroots',
    grace: 0,
    config: `[host]\napp=sh ${app} ${dir} ${recorder}\n` +
      sandboxConfig({ homesDir: await makeHomesDir(homesParent), binds: [dir] }),
  });
  browser = await launchBrowser(['--autoplay-policy=no-user-gesture-required']);
});

after(async () => {
  await A?.close();
  await G?.close();
  await browser?.close();
  await finishSandboxedHost(host, [dir, homesParent]);
});

e2e("a guest joins A's session with A's approval: A's picture and A's sound", async () => {
  A = await connectClient(browser, host, 'A', { pin: host.pin, ...MODE });
  const welcome = await A.get(() => window.funkhaus.welcome);
  a.session = welcome.session;
  a.code = welcome.join_code;
  assert.match(a.code ?? '', /^\d{6}$/, 'the welcome has a six-digit guest code');
  assert.equal(welcome.guest, false);
  assert.match(await A.page.locator('#join-code-label').textContent(), new RegExp(a.code));

  const pinG = await host.pair();
  G = await openClient(browser, host, 'G', { pin: pinG, name: 'Guest laptop', ...MODE, join: a.code, autoconnect: 1 });
  // A is asked, with G's name; nothing streams to G before A says yes.
  await A.waitFor((f) => f.guestRequests.length === 1, { what: "G's request on A's page", timeout: 15000 });
  const request = (await A.hooks()).guestRequests[0];
  assert.equal(request.name, 'Guest laptop');
  assert.equal((await G.hooks()).framesDecoded, 0, 'no picture before A lets G in');
  const row = A.page.locator(`#guest-requests li[data-request="${request.request}"]`);
  assert.equal(await row.locator('select').inputValue(), 'controller', 'gamepads only unless A says otherwise');
  await row.getByRole('button', { name: 'Let in' }).click();

  await G.waitFor((f) => f.state === 'streaming' && f.welcome, { what: "G's welcome", timeout: 15000 });
  const gw = await G.get(() => window.funkhaus.welcome);
  assert.equal(gw.session, a.session, "G is in A's session");
  assert.equal(gw.guest, true);
  assert.equal(gw.join_code, undefined, 'a guest gets no code to give away');
  assert.deepEqual(gw.access, { level: 'controller', until: null });
  assert.equal(gw.audio?.mic, false, 'no microphone for a guest');
  await A.waitFor((f) => f.guests.length === 1 && f.guestRequests.length === 0, { what: "G in A's guest list" });
  const listed = (await A.hooks()).guests[0];
  assert.equal(listed.name, 'Guest laptop');
  assert.equal(listed.granted, 'controller');
  // The host's owner sees it too.
  const line = (await funkhaus('sessions')).split('\n').find((l) => l.startsWith(a.session));
  assert.match(line ?? '', /streaming\s+1$/, 'one guest in `funkhaus sessions`');

  // A's picture: frames decode at A's mode. A's sound: its 440 Hz tone.
  await G.waitFrames(10, { timeout: 15000 });
  assert.deepEqual((await G.hooks()).lastFrameSize, { width: MODE.width, height: MODE.height });
  await G.waitFor((f) => f.audio && f.audio.decodedFrames >= 2 * 48000, { what: '2 s of decoded audio', timeout: 20000 });
  const samples = await G.get(() => window.funkhaus.audio.recent(1, 0));
  const level = toneLevel(samples, 440);
  console.log(`# G hears 440 Hz at ${level.toFixed(3)}`);
  assert.ok(level > 0.15, `G hears A's 440 Hz tone (level ${level})`);
});

e2e("the guest's key reaches A's app only at a level that allows it", async () => {
  assert.ok(a.session, 'needs the session of the last test');
  await poll(async () => (await inputRecord(a.session)).some((l) => l.startsWith('ready')),
    { timeout: 30000, what: "A's recorder to show its window" });
  // A's own first key makes the session's keyboard (tests/e2e/wlroots.test.mjs).
  await A.page.keyboard.type('a', { delay: 30 });
  await poll(async () => keyLines(await inputRecord(a.session), KEY_A).length > 0, { timeout: 10000, what: "A's key in its app" });

  await G.page.keyboard.type('g', { delay: 30 });
  await poll(() => /keyboard and mouse input of guest 1 \(device [0-9a-f]+\) refused: its level is controller/.test(host.logs()),
    { timeout: 10000, what: "the host to refuse G's key" });
  await new Promise((r) => setTimeout(r, 300));
  assert.deepEqual(keyLines(await inputRecord(a.session), KEY_G), [], "G's key did not reach A's app");

  await A.page.locator('#guest-list li[data-guest="1"] select').selectOption('full');
  await G.waitFor((f) => f.access?.level === 'full', { what: 'the access message', timeout: 10000 });
  await G.page.keyboard.type('h', { delay: 30 });
  await poll(async () => keyLines(await inputRecord(a.session), KEY_H).length === 2, { timeout: 10000, what: "G's h (down and up) in A's app" });
  assert.deepEqual(keyLines(await inputRecord(a.session), KEY_G), [], 'the g refused before never came');
  assert.deepEqual((await G.hooks()).closes, [], 'G never reconnected');
});

e2e('a guest cannot answer for the session, and a code no session has is refused', async () => {
  assert.ok(a.session, 'needs the session of the last test');
  // Made up by G's page on a socket of its own, with its own credential.
  const wrong = a.code === '000000' ? '000001' : '000000';
  const res = await G.page.evaluate(async (code) => {
    const cred = JSON.parse(localStorage.getItem('funkhaus.credential'));
    const ws = new WebSocket(`wss://${location.host}/ws`);
    const msgs = [];
    const closed = new Promise((r) => { ws.onclose = (e) => r(e.code); });
    ws.onmessage = (e) => msgs.push(JSON.parse(e.data));
    await new Promise((r) => { ws.onopen = r; });
    ws.send(JSON.stringify({ type: 'hello', protocol: 1, credential: { device: cred.device, token: cred.token },
      mode: { width: 320, height: 240, refresh: 30 }, codecs: ['h264'], join: code }));
    return { code: await closed, msgs };
  }, wrong);
  assert.equal(res.code, 4011);
  assert.equal(res.msgs[0]?.code, 'refused');
  assert.match(res.msgs[0]?.message, /no session has the join code/);

  // G sends a guest-answer on its guest socket: closed, A untouched.
  const framesA = (await A.hooks()).framesDecoded;
  await G.page.evaluate(() => window.funkhaus.socket.send(JSON.stringify({ type: 'guest-answer', request: 'abcdef', approve: true, level: 'full' })));
  await G.waitFor((f) => f.closes.length > 0, { what: 'G closed', timeout: 10000 });
  assert.equal((await G.hooks()).closes[0].error, 'unexpected-message');
  await A.waitFrames(framesA + 10, { timeout: 15000 });
  // G comes back with the code (it has no session of its own to resume):
  // A is asked again. This time the host's owner lets it in, from the
  // command line, at view.
  await A.waitFor((f) => f.guestRequests.length === 1, { what: "G's second request", timeout: 15000 });
  const request = (await A.hooks()).guestRequests[0].request;
  const list = await funkhaus('approve');
  assert.match(list, new RegExp(`${request} device [0-9a-f]+ at .* for session ${a.session.slice(0, 8)}`));
  assert.match(await funkhaus('approve', request, 'view'), new RegExp(`approved ${request}`));
  await G.waitFor((f) => f.state === 'streaming' && f.welcome?.guest, { what: "G's second welcome", timeout: 15000 });
  assert.deepEqual((await G.hooks()).welcome.access, { level: 'view', until: null });
  await A.waitFor((f) => f.guestRequests.length === 0 && f.guests[0]?.granted === 'view', { what: "the request gone from A's page" });
});

e2e('A removes the guest: G is closed, A streams on', async () => {
  assert.ok(a.session, 'needs the session of the last test');
  await A.waitFor((f) => f.guests.length === 1, { what: 'one guest' });
  const id = (await A.hooks()).guests[0].id;
  const closes = (await G.hooks()).closes.length;
  await A.page.locator(`#guest-list li[data-guest="${id}"]`).getByRole('button', { name: 'Remove' }).click();
  await G.waitFor((f, n) => f.closes.length > n, { arg: closes, what: 'G closed', timeout: 10000 });
  const g = await G.hooks();
  assert.equal(g.closes.at(-1).code, 4011);
  assert.equal(g.closes.at(-1).error, 'refused');
  assert.match(g.lastError.message, /removed this guest/);
  assert.equal(g.state, 'failed', 'a removed guest does not come back by itself');
  await A.waitFor((f) => f.guests.length === 0, { what: "A's guest list empty" });
  const framesA = (await A.hooks()).framesDecoded;
  await A.waitFrames(framesA + 10, { timeout: 15000 });
  assert.deepEqual((await A.hooks()).closes, [], 'A never reconnected');
  assert.match(host.logs(), /guest \d+ \(device [0-9a-f]+\) removed: the session's owner removed this guest/);
});
