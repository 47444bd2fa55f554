// Hostile clients against `funkhaus serve --backend synthetic` (with its
// speaker and microphone: a private PipeWire when run as root): wrong PINs
// until the address is locked out, then let in after the backoff;
// oversized, truncated and undecodable binary messages, a burst of acks
// (not input: nobody is closed), invalid UTF-8 and an ack before hello
// (from a bare WebSocket client, tests/e2e/lib/rawws.mjs), a
// microphone packet nobody asked for; a forged session id; a revoked
// device. Each case gets a clear error and closes only its sender: the
// other client streams on. (An input flood is flood.test.mjs: its figures
// are timings.)
// (funkhaus.test.mjs covers missing and wrong credentials, malformed JSON
// and a session id of another device.)

import { before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { reportingTest } from './lib/report.mjs';
import { startHost, hostBinary } from './lib/host.mjs';
import { launchBrowser, openClient, connectClient } from './lib/client.mjs';
import { rawWebSocket } from './lib/rawws.mjs';

const run = promisify(execFile);
const MODE = { width: 320, height: 240, refresh: 30 };

let host = null;
let browser = null;
let A = null; // sends its microphone; the client the attacks come from
let B = null; // the bystander whose stream must not suffer
const extra = [];

function e2e(name, fn, { timeout = 60000 } = {}) {
  reportingTest(name, { timeout }, () => [
    host && `--- host log ---\n${host.logs()}`,
    ...[A, B, ...extra].map((c) => c?.report()),
  ], fn);
}

before(async () => {
  host = await startHost({ grace: 30 });
  browser = await launchBrowser();
});

after(async () => {
  for (const c of [A, B, ...extra])
    await c?.close();
  await browser?.close();
  await host?.cleanup();
});

/** POST /api/pair from `page`: {status, retryAfter, body}. */
function pairFrom(page, pin) {
  return page.evaluate(async (pin) => {
    const r = await fetch('/api/pair', { method: 'POST', body: JSON.stringify({ pin, name: 'guess' }) });
    return { status: r.status, retryAfter: r.headers.get('Retry-After'), body: await r.json() };
  }, pin);
}

e2e('wrong PINs lock the address out; after the backoff the right PIN works', async () => {
  const page = await openClient(browser, host, 'guesser', {}, { viewport: MODE });
  extra.push(page);
  const pin = host.pin;
  const wrong = pin === '000000' ? '000001' : '000000';
  for (let i = 0; i < 3; i++) {
    const r = await pairFrom(page.page, wrong);
    assert.equal(r.status, 403, `wrong PIN #${i + 1}: ${JSON.stringify(r)}`);
    assert.equal(r.body.error, 'wrong-pin');
  }
  // Locked out: not even the right PIN is looked at.
  const locked = await pairFrom(page.page, pin);
  assert.equal(locked.status, 429, JSON.stringify(locked));
  assert.equal(locked.body.error, 'too-many-attempts');
  assert.match(locked.body.message, /try again in \d+ s/);
  assert.equal(locked.retryAfter, '1');
  await new Promise((r) => setTimeout(r, 1200));
  const ok = await pairFrom(page.page, pin);
  assert.equal(ok.status, 200, JSON.stringify(ok));
  assert.ok(ok.body.device && ok.body.token);
});

e2e('hostile binary messages and invalid UTF-8 close only their sender', async () => {
  A = await connectClient(browser, host, 'A', { pin: await host.pair(), ...MODE, mic: true });
  B = await connectClient(browser, host, 'B', { pin: await host.pair(), ...MODE });
  assert.equal((await A.get(() => window.funkhaus.welcome)).audio?.mic, true, 'A sends its microphone');
  const sa = await A.get(() => window.funkhaus.session);

  const header = [0x20, 0, 0, 0, 1, 0, 0, 0];
  const cases = [
    ['a binary message over 64 KiB', A, { bytes: 70000 }, 4005, 'message-too-large'],
    ['a microphone packet without its Opus packet', A, { bytes: header }, 4000, 'bad-message'],
    ['a microphone packet over 1275 bytes', A, { bytes: [...header, ...new Array(1276).fill(1)] }, 4005, 'message-too-large'],
    ['a microphone packet that is not Opus', A, { bytes: [...header, 0x03, 0x00] }, 4000, 'bad-message'],
    ['reserved bytes set in a microphone packet', A, { bytes: [0x20, 1, 0, 0, 1, 0, 0, 0, 0xf8] }, 4000, 'bad-message'],
    ["a microphone packet from a client that did not ask", B, { bytes: [...header, 0xf8, 0xff, 0xfe] }, 4002, 'unexpected-message'],
    ['an ack one byte short', A, { bytes: [0x30, 1, 0, 0] }, 4000, 'bad-message'],
  ];
  for (const [what, sender, msg, closeCode, errorCode] of cases) {
    const other = sender === A ? B : A;
    const before = await sender.hooks();
    const otherBefore = await other.hooks();
    await sender.page.evaluate((m) => {
      const s = window.funkhaus.socket;
      s.send(typeof m.bytes === 'number' ? new Uint8Array(m.bytes).fill(0x11) : new Uint8Array(m.bytes));
    }, msg);
    await sender.waitFor((f, n) => f.closes.length > n, { arg: before.closes.length, what: `${what}: closed`, timeout: 10000 });
    const h = await sender.hooks();
    const closed = h.closes[before.closes.length];
    assert.equal(closed.code, closeCode, `${what}: close code (${JSON.stringify(h.closes)})`);
    if (errorCode)
      assert.equal(closed.error, errorCode, `${what}: error (${JSON.stringify(h.closes)})`);
    // The sender comes back to its session; the other client never noticed.
    await sender.waitFor((f) => f.state === 'streaming' && f.welcome?.resumed === true,
      { what: `${what}: the sender resumed`, timeout: 15000 });
    await other.waitFrames(otherBefore.framesDecoded + 10, { timeout: 10000 });
    assert.equal((await other.hooks()).closes.length, otherBefore.closes.length, `${what}: the other client stayed`);
  }
  assert.equal(await A.get(() => window.funkhaus.session), sa, 'A is still in its own session');

  // Acks are not input: 3000 at once (past the input limit's burst of
  // 1000) close nobody.
  const bBefore = await B.hooks();
  await B.page.evaluate(() => {
    for (let i = 0; i < 3000; i++)
      window.funkhaus.socket.send(new Uint8Array([0x30, 0, 0, 0, 0]));
  });
  await B.waitFrames(bBefore.framesDecoded + 15, { timeout: 10000 });
  assert.equal((await B.hooks()).closes.length, bBefore.closes.length, 'a burst of acks closed nobody');

  // A text frame that is not UTF-8 (no browser sends one): from a bare
  // client, closed with its own error; A and B stream on.
  const aBefore = await A.hooks();
  const ws = await rawWebSocket(host.port);
  ws.send(0x1, Buffer.from([0x7b, 0x22, 0x74, 0xff, 0xfe, 0x22, 0x7d]));
  const closed = await ws.closed;
  console.log(`# invalid UTF-8: closed ${closed.code} ${closed.reason}; messages ${JSON.stringify(ws.messages)}`);
  assert.ok([1007, 4000].includes(closed.code), `invalid UTF-8 closes with 1007 or 4000: ${JSON.stringify(closed)}`);
  await A.waitFrames(aBefore.framesDecoded + 10, { timeout: 10000 });
  assert.equal((await A.hooks()).closes.length, aBefore.closes.length);

  // An ack before hello, from a bare client: unexpected.
  const early = await rawWebSocket(host.port);
  early.send(0x2, Buffer.from([0x30, 0, 0, 0, 0]));
  const earlyClosed = await early.closed;
  assert.equal(earlyClosed.code, 4002, `an ack before hello: ${JSON.stringify(earlyClosed)}`);
});

e2e('a forged session id resumes nothing', async () => {
  const cred = await B.get(() => JSON.parse(localStorage.getItem('funkhaus.credential')));
  const forged = 'ab'.repeat(16);
  const w = await B.page.evaluate((hello) => new Promise((resolve, reject) => {
    const ws = new WebSocket(`wss://${location.host}/ws`);
    ws.onopen = () => ws.send(JSON.stringify(hello));
    ws.onmessage = (e) => {
      const m = JSON.parse(e.data);
      if (m.type === 'welcome') {
        ws.close();
        resolve(m);
      }
    };
    ws.onclose = (e) => reject(new Error(`closed ${e.code}`));
    setTimeout(() => reject(new Error('no welcome')), 10000);
  }), { type: 'hello', protocol: 1, credential: cred, mode: { width: 64, height: 64, refresh: 1 }, codecs: ['h264'], resume: forged });
  assert.equal(w.resumed, false);
  assert.notEqual(w.session, forged);
  assert.match(w.session, /^[0-9a-f]{32}$/, 'session ids are 128 random bits');
});

e2e('revoking a device ends its live session at once', async () => {
  const cred = await A.get(() => JSON.parse(localStorage.getItem('funkhaus.credential')));
  await A.waitFor((f) => f.state === 'streaming', { what: 'A streaming', timeout: 15000 });
  const before = await A.hooks();
  const { stdout: list } = await run(hostBinary, ['devices', 'list'], { env: host.env });
  assert.match(list, new RegExp(`^${cred.device}\\s+A\\b`, 'm'), `A is listed:\n${list}`);
  const { stdout } = await run(hostBinary, ['devices', 'revoke', cred.device], { env: host.env });
  assert.match(stdout, /revoked .*; 1 of its sessions ended/);
  await A.waitFor((f, n) => f.closes.length > n, { arg: before.closes.length, what: 'A closed', timeout: 10000 });
  const h = await A.hooks();
  assert.equal(h.closes[before.closes.length].code, 4001);
  await A.waitFor((f) => f.state === 'failed', { what: 'A gives up (its credential is gone)', timeout: 10000 });
  const { stdout: after } = await run(hostBinary, ['devices', 'list'], { env: host.env });
  assert.doesNotMatch(after, new RegExp(cred.device));
  const bBefore = (await B.hooks()).framesDecoded;
  await B.waitFrames(bBefore + 10);
});
