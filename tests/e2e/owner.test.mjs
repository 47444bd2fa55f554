// The owner's page (issue 19): three browsers pair with a synthetic host;
// device O gets the owner right with `funkhaus devices owner ID` while its
// console is open, and its page (real Chromium) shows the live sessions of
// A and B. O ends A's session (A is closed with "ended" and does not come
// back, B streams on) and revokes A (its next hello is refused). A
// non-owner N's console socket sending the same requests is closed as
// unauthorized and touches nothing; so is an owner message on a socket that
// proved no device, or on a session's (hello) socket of the owner's own
// device. `funkhaus sessions` lists the live sessions and
// `funkhaus sessions end ID` ends one through the same core call; taking
// the right away (--off) hides O's page and refuses its next request. A
// Moonlight client waiting for its PIN shows as a request that O answers
// on the page.

import { before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { reportingTest } from './lib/report.mjs';
import { startHost, hostBinary, poll } from './lib/host.mjs';
import { launchBrowser, openClient, connectClient } from './lib/client.mjs';
import { rawWebSocket } from './lib/rawws.mjs';
import { MoonlightClient } from './lib/moonlight.mjs';

const run = promisify(execFile);
const MODE = { width: 320, height: 240, refresh: 30 };

let host = null;
let browser = null;
let A = null; // streams; ended, then revoked, by the owner
let B = null; // streams throughout (until the command line ends it)
let O = null; // the owner's page
const ids = {}; // device and session ids
let N = null; // a paired non-owner's credential
let tmp = null; // the Moonlight client's key and certificate

function e2e(name, fn, { timeout = 60000 } = {}) {
  reportingTest(name, { timeout }, () => [
    host && `--- host log ---\n${host.logs()}`,
    A?.report(), B?.report(), O?.report(),
  ], fn);
}

async function funkhaus(...args) {
  try {
    const { stdout, stderr } = await run(hostBinary, args, { env: host.env, timeout: 10000 });
    return { code: 0, stdout, stderr };
  } catch (e) {
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

const credentialOf = (client) =>
  client.page.evaluate(() => JSON.parse(localStorage.getItem('funkhaus.credential')));

/** Waits until B has decoded `more` frames beyond what it has now. */
async function bStreamsOn(more = 10) {
  const now = (await B.hooks()).framesDecoded;
  await B.waitFrames(now + more, { timeout: 15000 });
}

/** A console socket of `credential`, once the host has answered it. */
async function openConsole(credential) {
  const ws = await rawWebSocket(host.port, '/ws', { lifetimeMs: 30000 });
  ws.send(1, JSON.stringify({ type: 'console', protocol: 1, credential }));
  await poll(() => ws.messages.some((m) => m.type === 'apps'), { what: 'the console to answer' });
  return ws;
}

before(async () => {
  host = await startHost({ grace: 30, gamestream: true });
  browser = await launchBrowser();
  tmp = await mkdtemp(join(tmpdir(), 'funkhaus-owner-'));
});

after(async () => {
  for (const c of [A, B, O])
    await c?.close();
  await browser?.close();
  await host?.cleanup();
  if (tmp)
    await rm(tmp, { recursive: true, force: true });
});

e2e('three devices pair; `funkhaus devices owner` makes O the owner and its page shows', async () => {
  A = await connectClient(browser, host, 'A', { pin: await host.pair(), ...MODE });
  B = await connectClient(browser, host, 'B', { pin: await host.pair(), ...MODE });
  O = await openClient(browser, host, 'O', { pin: await host.pair(), name: 'O' });
  N = await host.pairDevice('N');
  ids.a = (await credentialOf(A)).device;
  ids.b = (await credentialOf(B)).device;
  ids.o = (await credentialOf(O)).device;
  ids.aSession = (await A.hooks()).session;
  ids.bSession = (await B.hooks()).session;

  // O's console is open; until the right is given it hears nothing of it.
  await O.waitFor((f) => f.moonlight?.state === 'idle', { what: "O's console" });
  assert.equal((await O.hooks()).owner.shown, false);
  assert.ok(!(await O.page.isVisible('#owner')));

  const r = await funkhaus('devices', 'owner', ids.o);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /holds the owner right/);
  await O.waitFor((f) => f.owner.shown, { what: "O's owner page" });
  assert.ok(await O.page.isVisible('#owner'));

  const list = await funkhaus('devices', 'list');
  const line = list.stdout.split('\n').find((l) => l.startsWith(ids.o));
  assert.match(line, /  owner  browser$/);
  assert.ok(!list.stdout.split('\n').find((l) => l.startsWith(ids.a)).includes('owner'));
});

e2e("O's page shows the live sessions of A and B, the devices and their levels", async () => {
  await O.waitFor((f, s) => s.every((id) => f.owner.state?.sessions.some((x) => x.id === id && x.fps > 0)),
    { arg: [ids.aSession, ids.bSession], what: 'both sessions, streaming, on the page' });
  const state = (await O.hooks()).owner.state;
  assert.equal(state.sessions.length, 2);
  const a = state.sessions.find((s) => s.id === ids.aSession);
  assert.equal(a.device, ids.a);
  assert.equal(a.device_name, 'A');
  assert.deepEqual(a.mode, MODE);
  assert.equal(a.backend, 'synthetic');
  assert.equal(a.plane, 'web');
  assert.equal(a.state, 'streaming');
  assert.ok(a.kbps > 0);
  assert.deepEqual(a.guests, []);
  assert.equal(state.devices.length, 4);
  const o = state.devices.find((d) => d.id === ids.o);
  assert.deepEqual([o.name, o.kind, o.level, o.until, o.owner], ['O', 'browser', 'full', null, true]);
  assert.equal(state.devices.find((d) => d.id === N.device).owner, false);
  assert.deepEqual(state.requests, []);

  // The page renders them: a row per session with its End button.
  for (const id of [ids.aSession, ids.bSession])
    assert.ok(await O.page.isVisible(`#owner-sessions tr[data-session="${id}"] button.end`));
  assert.match(await O.page.textContent(`#owner-sessions tr[data-session="${ids.aSession}"]`), /320×240@30/);
  assert.ok(await O.page.isVisible(`#owner-devices tr[data-device="${ids.a}"] button.revoke`));

  // A level set on the page: stored and shown with its expiry.
  await O.page.selectOption(`#owner-devices tr[data-device="${N.device}"] select.level`, 'controller');
  await O.page.fill(`#owner-devices tr[data-device="${N.device}"] input.for`, '2h');
  await O.page.click(`#owner-devices tr[data-device="${N.device}"] button.set-level`);
  await O.waitFor((f, id) => f.owner.state.devices.some((d) => d.id === id && d.level === 'controller' && d.until),
    { arg: N.device, what: "N's level on the page" });
  assert.match(await O.page.textContent(`#owner-devices tr[data-device="${N.device}"]`), /controller until/);

  // A new PIN from the page: the host's own, it pairs.
  await O.page.click('#owner-new-pin');
  await O.waitFor((f) => f.owner.pin, { what: 'a PIN on the page' });
  assert.match((await O.hooks()).owner.pin, /^\d{6}$/);
  assert.equal(await O.page.textContent('#owner-pin'), (await O.hooks()).owner.pin);
});

e2e("O ends A's session on the page: A is closed as ended and stays so, B streams on", async () => {
  await O.page.click(`#owner-sessions tr[data-session="${ids.aSession}"] button.end`);
  await A.waitFor((f) => f.state === 'failed', { what: 'A closed' });
  const h = await A.hooks();
  assert.equal(h.lastError.code, 'ended');
  assert.match(h.lastError.message, /ended by the host's owner/);
  assert.ok(h.closes.some((c) => c.code === 4012));
  await O.waitFor((f, id) => f.owner.done.includes('end-session') &&
    !f.owner.state.sessions.some((s) => s.id === id), { arg: ids.aSession, what: "A's session gone from the page" });
  await bStreamsOn();
  // A does not come back on its own (4012 is final for the client).
  await new Promise((r) => setTimeout(r, 1500));
  assert.equal((await A.hooks()).state, 'failed');
  assert.deepEqual((await O.hooks()).owner.state.sessions.map((s) => s.id), [ids.bSession]);

  // A session id that names nothing: an answer, and the page stays open.
  await O.page.evaluate(() => window.funkhaus.sendOwner({ op: 'end-session', session: 'nosuchsession' }));
  await O.waitFor((f) => f.owner.errors.some((e) => e.op === 'end-session'), { what: 'owner-error' });
  assert.match((await O.hooks()).owner.errors.at(-1).message, /no live session nosuchsession/);
  assert.match(await O.page.textContent('#owner-result'), /no live session/);
  assert.ok((await O.hooks()).owner.shown);
});

e2e('O revokes A on the page (two clicks): A\'s next hello is refused', async () => {
  const credential = await credentialOf(A);
  const revoke = `#owner-devices tr[data-device="${ids.a}"] button.revoke`;
  await O.page.click(revoke);
  assert.equal(await O.page.textContent(revoke), 'Sure?');
  await O.page.click(revoke);
  await O.waitFor((f, id) => !f.owner.state.devices.some((d) => d.id === id),
    { arg: ids.a, what: 'A gone from the devices' });
  assert.ok((await O.hooks()).owner.done.includes('revoke'));

  const ws = await rawWebSocket(host.port);
  ws.send(1, JSON.stringify({ type: 'hello', protocol: 1, credential, mode: MODE, codecs: ['h264'] }));
  assert.equal((await ws.closed).code, 4001);
  assert.deepEqual(ws.messages.map((m) => m.code), ['unauthorized']);
  await bStreamsOn();
});

e2e("a Moonlight client waiting for its PIN is a request on O's page; O pairs it there", async () => {
  const deck = await MoonlightClient.create(tmp, 'Deck');
  const attempt = deck.pair(host.gamestream.httpPort);
  await O.waitFor((f) => f.owner.state.requests.some((r) => r.kind === 'pin' && r.who === 'Deck'),
    { what: 'the pin request on the page' });
  const request = (await O.hooks()).owner.state.requests.find((r) => r.who === 'Deck');
  const row = `#owner-requests tr[data-request="${request.id}"]`;
  assert.match(await O.page.textContent(row), /Moonlight client ‘Deck’ wants to pair/);
  assert.equal(await O.page.isVisible(`${row} button.deny`), false, 'a PIN request has no Deny');
  // A request id that names nothing: an answer, the page stays.
  await O.page.evaluate(() => window.funkhaus.sendOwner({ op: 'deny', request: 'nosuch' }));
  await O.waitFor((f) => f.owner.errors.some((e) => e.op === 'deny'), { what: 'deny error' });

  await O.page.fill(`${row} input.value`, attempt.pin);
  await O.page.click(`${row} button.approve`);
  assert.deepEqual(await attempt.result, { paired: true, hostKnewPin: true });
  await O.waitFor((f) => f.owner.state.requests.length === 0 &&
    f.owner.state.devices.some((d) => d.kind === 'moonlight' && d.name === 'Deck'),
  { what: 'Deck paired, no request left' });
  await bStreamsOn();
});

e2e('a non-owner sending the same requests is closed as unauthorized; B streams on', async () => {
  const ws = await openConsole({ device: N.device, token: N.token });
  assert.ok(!ws.messages.some((m) => m.type === 'owner'), 'a non-owner hears nothing of the page');
  ws.send(1, JSON.stringify({ type: 'owner', op: 'end-session', session: ids.bSession }));
  const closed = await ws.closed;
  assert.equal(closed.code, 4001);
  assert.equal(ws.messages.at(-1).code, 'unauthorized');
  assert.ok(!ws.messages.some((m) => m.type?.startsWith('owner')));

  // Nor on a socket that proved no device.
  const bare = await rawWebSocket(host.port);
  bare.send(1, JSON.stringify({ type: 'owner', op: 'revoke', device: ids.b }));
  assert.equal((await bare.closed).code, 4001);
  assert.ok(host.stdoutText().includes(`owner request 'end-session' from device ${N.device} without the owner right: refused`) ||
    host.logs().includes(`owner request 'end-session' from device ${N.device} without the owner right: refused`));

  await bStreamsOn();
  const h = await B.hooks();
  assert.equal(h.state, 'streaming');
  assert.equal(h.session, ids.bSession);
  // The host still answers, and B's device is still paired.
  const list = await funkhaus('devices', 'list');
  assert.ok(list.stdout.includes(ids.b));
  const sessions = await funkhaus('sessions');
  assert.equal(sessions.code, 0, sessions.stderr);
  assert.ok(sessions.stdout.includes(ids.bSession));
  // The owner's page still works.
  const before = (await O.hooks()).owner.state;
  assert.deepEqual(before.sessions.map((s) => s.id), [ids.bSession]);
});

e2e('`funkhaus sessions` lists the live sessions and `funkhaus sessions end ID` ends one', async () => {
  const list = await funkhaus('sessions');
  assert.equal(list.code, 0, list.stderr);
  const line = list.stdout.split('\n').find((l) => l.startsWith(ids.bSession));
  assert.ok(line, list.stdout);
  assert.match(line, new RegExp(`${ids.b}\\s+320x240@30\\s+\\d+\\s+\\d+\\s+synthetic\\s+web\\s+streaming`));

  const missing = await funkhaus('sessions', 'end', 'nosuchsession');
  assert.notEqual(missing.code, 0);
  assert.match(missing.stderr, /no live session nosuchsession/);

  const ended = await funkhaus('sessions', 'end', ids.bSession);
  assert.equal(ended.code, 0, ended.stderr);
  await B.waitFor((f) => f.state === 'failed' && f.lastError?.code === 'ended', { what: 'B ended' });
  const after = await funkhaus('sessions');
  assert.match(after.stdout, /no live sessions/);
  await O.waitFor((f) => f.owner.state.sessions.length === 0, { what: 'no sessions on the page' });
});

e2e("an owner's session socket (hello) is no console: its owner request is refused", async () => {
  const credential = await credentialOf(O);
  const ws = await rawWebSocket(host.port);
  ws.send(1, JSON.stringify({ type: 'hello', protocol: 1, credential, mode: MODE, codecs: ['h264'] }));
  await poll(() => ws.messages.some((m) => m.type === 'welcome'), { what: "O's session" });
  ws.send(1, JSON.stringify({ type: 'owner', op: 'state' }));
  assert.equal((await ws.closed).code, 4001);
  assert.ok(!ws.messages.some((m) => m.type === 'owner-state'));
  // Its page goes on as before, and shows that session in its grace period.
  assert.ok((await O.hooks()).owner.shown);
  const session = ws.messages.find((m) => m.type === 'welcome').session;
  await O.waitFor((f, id) => f.owner.state.sessions.some((x) => x.id === id && x.state === 'disconnected'),
    { arg: session, what: "O's own session, disconnected, on the page" });
});

e2e('taking the right away (--off) hides the page and refuses the next request', async () => {
  const credential = await credentialOf(O);
  const r = await funkhaus('devices', 'owner', ids.o, '--off');
  assert.equal(r.code, 0, r.stderr);
  await O.waitFor((f) => !f.owner.shown, { what: "O's page to hide" });
  assert.ok(!(await O.page.isVisible('#owner')));

  const ws = await openConsole(credential);
  ws.send(1, JSON.stringify({ type: 'owner', op: 'state' }));
  assert.equal((await ws.closed).code, 4001);
  assert.ok(!ws.messages.some((m) => m.type === 'owner-state'));
});
