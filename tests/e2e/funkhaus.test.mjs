// End to end: two headless Chromium clients against `funkhaus serve --backend
// synthetic`, through the real web client (web/). One host and one browser
// for the whole file; the tests run in order and the last one stops the host.
//
// Run: node --test tests/e2e/   (FUNKHAUS_BIN picks the binary; see README)

import { before, after } from 'node:test';
import { reportingTest } from './lib/report.mjs';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { startHost, poll } from './lib/host.mjs';
import { launchBrowser, openClient, connectClient, colorClose, colorDistance } from './lib/client.mjs';

const TOLERANCE = 24;          // per channel: YUV 4:2:0 + x264 rounding
const GRACE_S = 30;
const A_MODE = { width: 1280, height: 720, refresh: 60 };
const B_MODE = { width: 800, height: 600, refresh: 30 };

// evdev codes of the letters typed below (linux/input-event-codes.h).
const EVDEV = { a: 30, b: 48, h: 35, l: 38, o: 24, p: 25, r: 19, v: 47, x: 45 };

let host = null;
let browser = null;
let A = null;
let B = null;
const extraClients = [];

/** Wraps a test so a failure carries every host and browser log. */
function e2e(name, fn, { timeout = 90000 } = {}) {
  reportingTest(name, { timeout }, () => [
    `--- host log ---\n${host ? host.logs() : '(no host)'}`,
    ...[A, B, ...extraClients].map((c) => c?.report()),
  ], fn);
}

before(async () => {
  host = await startHost({ grace: GRACE_S });
  browser = await launchBrowser();
});

after(async () => {
  for (const c of [A, B, ...extraClients])
    await c?.close();
  await browser?.close();
  await host?.cleanup();
});

/** Pure background: the bottom quarter of the synthetic picture. */
function backgroundPoints(mode) {
  const y = Math.floor(mode.height * 0.875);
  return [[Math.floor(mode.width / 4), y], [Math.floor((3 * mode.width) / 4), y]];
}

function keyLines(log) {
  return log.split('\n').filter((l) => l.startsWith('key '));
}

function expectedKeys(word) {
  const lines = [];
  for (const ch of word) {
    const name = `KEY_${ch.toUpperCase()}`;
    lines.push(`key ${EVDEV[ch]} ${name} down`, `key ${EVDEV[ch]} ${name} up`);
  }
  return lines;
}

e2e('two clients stream at once, each at its own mode with its own picture', async () => {
  // The host holds one current PIN: `funkhaus pair` replaces it, so A pairs
  // with the PIN from the start before B's is made.
  const pinA = host.pin;
  A = await connectClient(browser, host, 'A', { pin: pinA, ...A_MODE });
  const pinB = await host.pair();
  assert.notEqual(pinA, pinB, 'funkhaus pair must make a new PIN');
  B = await connectClient(browser, host, 'B', { pin: pinB, ...B_MODE });

  const [wa, wb] = [await A.get(() => window.funkhaus.welcome), await B.get(() => window.funkhaus.welcome)];
  assert.match(wa.session, /^[0-9a-f]{32}$/);
  assert.notEqual(wa.session, wb.session, 'each client has its own session');
  assert.equal(wa.resumed, false);
  assert.deepEqual(wa.mode, A_MODE);
  assert.deepEqual(wb.mode, B_MODE);
  assert.equal(wa.codec, 'h264');

  // Generous: decoders warm up slowly on two busy cores, and both run at once.
  await Promise.all([A.waitFrames(60, { timeout: 60000 }), B.waitFrames(60, { timeout: 60000 })]);
  // Frames are acked in pairs (web/protocol.js, ackAtOnce): never more
  // acks than frames, and no more than one frame waits for its ack. How
  // close A's count comes to half depends on the rate the box delivers.
  for (const c of [A, B]) {
    const { framesReceived, acksSent } = await c.hooks();
    console.log(`# ${c.name}: ${acksSent} acks for ${framesReceived} frames`);
    assert.ok(acksSent <= framesReceived && acksSent >= (framesReceived - 1) / 2,
      `${c.name}: ${acksSent} acks for ${framesReceived} frames`);
  }

  for (const [c, mode, w] of [[A, A_MODE, wa], [B, B_MODE, wb]]) {
    const size = await c.get(() => window.funkhaus.lastFrameSize);
    assert.deepEqual(size, { width: mode.width, height: mode.height }, `${c.name}: decoded picture size`);
    const canvas = await c.get(() => [document.getElementById('screen').width, document.getElementById('screen').height]);
    assert.deepEqual(canvas, [mode.width, mode.height], `${c.name}: canvas size`);
    // Chromium can hand the canvas to a worker: the page's main thread does
    // not draw (decoder.js).
    const drawn = await c.get(() => [window.funkhaus.drawnBy, window.funkhaus.framesDrawn]);
    assert.equal(drawn[0], 'worker', `${c.name}: who draws`);
    assert.ok(drawn[1] > 0, `${c.name}: frames drawn: ${drawn[1]}`);
    const bg = w.display.background;
    assert.equal(bg.length, 3);
    for (const [x, y] of backgroundPoints(mode)) {
      const rgb = await c.sampleColor(x, y);
      assert.ok(colorClose(rgb, bg, TOLERANCE),
        `${c.name}: colour at (${x}, ${y}) is ${rgb}, its background is ${bg}`);
    }
  }
  assert.ok(colorDistance(wa.display.background, wb.display.background) > 3 * TOLERANCE,
    `the two sessions' backgrounds must differ: ${wa.display.background} vs ${wb.display.background}`);
  const rgbA = await A.sampleColor(...backgroundPoints(A_MODE)[0]);
  assert.ok(!colorClose(rgbA, wb.display.background, TOLERANCE), "A does not show B's picture");
  const rgbB = await B.sampleColor(...backgroundPoints(B_MODE)[0]);
  assert.ok(!colorClose(rgbB, wa.display.background, TOLERANCE), "B does not show A's picture");

  // The host reports stats once a second.
  await A.waitFor((f) => f.hostStats && typeof f.hostStats.fps === 'number', { what: 'a stats message', timeout: 5000 });
});

e2e('input reaches only the session of the client that sent it', async () => {
  assert.ok(A && B, 'needs the clients of the first test');
  const sa = await A.get(() => window.funkhaus.session);
  const sb = await B.get(() => window.funkhaus.session);

  // The canvas is shown 1:1 in A's viewport; map through its box anyway.
  const box = await A.page.locator('#screen').boundingBox();
  const toSession = (p) => ({
    x: Math.floor((p.x - box.x) * A_MODE.width / box.width),
    y: Math.floor((p.y - box.y) * A_MODE.height / box.height),
  });
  const click = { x: 400, y: 300 };
  const rightClick = { x: 600, y: 400 };
  const expected = toSession(click);
  const expectedRight = toSession(rightClick);

  await Promise.all([
    (async () => {
      await A.page.keyboard.type('alpha', { delay: 20 });
      await A.page.mouse.click(click.x, click.y);
      // One wheel notch down: Chromium reports 100 px, the protocol 120.
      await A.page.mouse.wheel(0, 100);
      await A.page.mouse.click(rightClick.x, rightClick.y, { button: 'right' });
    })(),
    B.page.keyboard.type('bravo', { delay: 20 }),
  ]);

  const logA = await poll(async () => {
    const l = await host.inputLog(sa);
    return keyLines(l).length >= 10 && l.includes('button 273 BTN_RIGHT up') ? l : null;
  }, { timeout: 10000, what: "A's input in its input.log" }).catch(async (e) => {
    e.message += `\nA's input.log:\n${await host.inputLog(sa)}`;
    throw e;
  });
  const logB = await poll(async () => {
    const l = await host.inputLog(sb);
    return keyLines(l).length >= 10 ? l : null;
  }, { timeout: 10000, what: "B's input in its input.log" }).catch(async (e) => {
    e.message += `\nB's input.log:\n${await host.inputLog(sb)}`;
    throw e;
  });
  // Anything sent too many would have arrived by now.
  await new Promise((r) => setTimeout(r, 300));
  const finalA = await host.inputLog(sa);
  const finalB = await host.inputLog(sb);
  assert.equal(finalA, logA, "A's input.log grew after its input was complete");
  assert.equal(finalB, logB, "B's input.log grew after its input was complete");

  assert.deepEqual(keyLines(logA), expectedKeys('alpha'), `A's keys; A's log:\n${logA}`);
  assert.deepEqual(keyLines(logB), expectedKeys('bravo'), `B's keys; B's log:\n${logB}`);

  const linesA = logA.split('\n');
  const down = linesA.indexOf('button 272 BTN_LEFT down');
  const up = linesA.indexOf('button 272 BTN_LEFT up');
  assert.ok(down >= 0 && up > down, `A's click: down then up; A's log:\n${logA}`);
  const motion = linesA.slice(0, down).filter((l) => l.startsWith('motion ')).pop();
  assert.equal(motion, `motion ${expected.x} ${expected.y}`, `A's pointer before the click; A's log:\n${logA}`);
  const pointer = linesA.slice(down).filter((l) => !l.startsWith('key '));
  assert.deepEqual(pointer, [
    'button 272 BTN_LEFT down', 'button 272 BTN_LEFT up',
    'scroll 0 120',
    `motion ${expectedRight.x} ${expectedRight.y}`,
    'button 273 BTN_RIGHT down', 'button 273 BTN_RIGHT up', '',
  ], `A's pointer input after the first click; A's log:\n${logA}`);
  assert.ok(!/^(button|motion|scroll) /m.test(logB), `B got pointer input it never sent:\n${logB}`);
});

e2e('a decoder reset asks for a keyframe and gets one', async () => {
  assert.ok(A, 'needs the clients of the first test');
  const before = await A.hooks();
  await A.page.evaluate(() => window.funkhaus.resetDecoder());
  await A.waitFor((f, n) => f.keyframesReceived > n, { arg: before.keyframesReceived, what: 'a keyframe', timeout: 5000 });
  const mid = await A.hooks();
  await A.waitFrames(mid.framesDecoded + 30, { timeout: 15000 });
  const after = await A.hooks();
  assert.equal(after.closes.length, before.closes.length, 'the socket stayed open');
  assert.ok(after.keyframeRequests > before.keyframeRequests);
});

/** Opens a WebSocket from `client`'s page, sends `hello` (an object as JSON,
 *  an array as binary) and reports what came back until the close. */
async function rawSocket(client, hello) {
  return client.page.evaluate((hello) => new Promise((resolve) => {
    const ws = new WebSocket(`wss://${location.host}/ws`);
    ws.binaryType = 'arraybuffer';
    const msgs = [];
    ws.onopen = () => ws.send(Array.isArray(hello) ? new Uint8Array(hello) : JSON.stringify(hello));
    ws.onmessage = (e) => msgs.push(typeof e.data === 'string' ? JSON.parse(e.data) : { binary: e.data.byteLength });
    ws.onclose = (e) => resolve({ code: e.code, msgs });
    setTimeout(() => { ws.close(); resolve({ code: 'timeout', msgs }); }, 12000);
  }), hello);
}

e2e('bad credentials, a wrong PIN and malformed messages are refused, and only hurt their sender', async () => {
  assert.ok(A && B, 'needs the clients of the first test');
  const stranger = await openClient(browser, host, 'C (unpaired)', {}, { viewport: { width: 800, height: 600 } });
  extraClients.push(stranger);
  await stranger.waitFor((f) => f.state === 'pairing', { what: 'the pairing form', timeout: 10000 });
  assert.ok(await stranger.page.locator('#pair-panel').isVisible(), 'an unpaired browser sees the pairing form');

  // Raw hellos without a valid credential.
  const credA = await A.get(() => JSON.parse(localStorage.getItem('funkhaus.credential')));
  const base = { type: 'hello', protocol: 1, mode: { width: 640, height: 480, refresh: 30 }, codecs: ['h264'] };
  const cases = {
    'no credential': [base, 4001, 'unauthorized'],
    'unknown device': [{ ...base, credential: { device: 'f'.repeat(32), token: 'x'.repeat(43) } }, 4001, 'unauthorized'],
    "A's device, wrong token": [{ ...base, credential: { device: credA.device, token: 'x'.repeat(43) } }, 4001, 'unauthorized'],
    'a ping before hello': [{ type: 'ping', t: 1 }, 4002, 'unexpected-message'],
    'an odd width': [{ ...base, credential: credA, mode: { width: 641, height: 480, refresh: 30 } }, 4003, 'unsupported'],
    'no common codec': [{ ...base, credential: credA, codecs: ['vp8'] }, 4003, 'unsupported'],
    'a hello over 4096 bytes': [{ ...base, pad: 'x'.repeat(5000) }, 4005, 'message-too-large'],
    'input before hello': [[0x11, 0, 10, 0, 10, 0], 4002, 'unexpected-message'],
    'protocol 2': [{ ...base, credential: credA, protocol: 2 }, 4003, 'unsupported'],
    'a bitrate out of range': [{ ...base, credential: credA, bitrate_kbps: 50 }, 4000, 'bad-message'],
  };
  for (const [what, [hello, closeCode, errorCode]] of Object.entries(cases)) {
    const r = await rawSocket(stranger, hello);
    assert.equal(r.code, closeCode, `${what}: close code (got ${JSON.stringify(r)})`);
    assert.ok(!r.msgs.some((m) => m.binary || m.type === 'welcome'), `${what}: nothing but the error: ${JSON.stringify(r.msgs)}`);
    const err = r.msgs.find((m) => m.type === 'error');
    assert.equal(err?.code, errorCode, `${what}: error message (got ${JSON.stringify(r.msgs)})`);
  }

  // A session id is no key: B's device cannot resume A's session.
  const sa = await A.get(() => window.funkhaus.session);
  const credB = await B.get(() => JSON.parse(localStorage.getItem('funkhaus.credential')));
  const w = await B.page.evaluate(([hello]) => new Promise((resolve, reject) => {
    const ws = new WebSocket(`wss://${location.host}/ws`);
    ws.onopen = () => ws.send(JSON.stringify(hello));
    ws.onmessage = (e) => {
      if (typeof e.data === 'string' && JSON.parse(e.data).type === 'welcome') {
        ws.close();
        resolve(JSON.parse(e.data));
      }
    };
    ws.onclose = (e) => reject(new Error(`closed ${e.code} ${e.reason}`));
    setTimeout(() => reject(new Error('no welcome')), 10000);
  }), [{ ...base, credential: credB, mode: { width: 64, height: 64, refresh: 1 }, resume: sa }]);
  assert.equal(w.resumed, false, "B's device resumed A's session");
  assert.notEqual(w.session, sa);
  assert.equal((await A.hooks()).closes.length, 0, 'A was not disturbed');

  // The app with a credential the host does not know: shown, no reconnect loop.
  await stranger.page.evaluate(() => localStorage.setItem('funkhaus.credential',
    JSON.stringify({ device: 'f'.repeat(32), token: 'not-a-token' })));
  await stranger.page.goto(`${host.url}?autoconnect=1&width=640&height=480`);
  await stranger.waitFor((f) => f.lastError && f.lastError.closeCode === 4001, { what: 'close 4001', timeout: 15000 });
  let h = await stranger.hooks();
  assert.equal(h.lastError.code, 'unauthorized');
  assert.equal(h.state, 'failed');
  assert.ok(await stranger.page.locator('#banner').isVisible(), 'the error is shown');
  assert.match(await stranger.page.locator('#banner').innerText(), /unauthorized/);
  await new Promise((r) => setTimeout(r, 1500));
  assert.equal((await stranger.hooks()).closes.length, 1, 'no reconnect after 4001');

  // A wrong PIN: 403 wrong-pin, the server's message on the page.
  const wrongPin = host.pins.includes('000000') ? '000001' : '000000';
  const guesser = await openClient(browser, host, 'D (wrong PIN)', { pin: wrongPin, name: 'guesser', autoconnect: 1 },
    { viewport: { width: 800, height: 600 } });
  extraClients.push(guesser);
  await guesser.waitFor((f) => f.lastError, { what: 'the pairing error', timeout: 10000 });
  h = await guesser.hooks();
  assert.equal(h.lastError.code, 'wrong-pin');
  assert.equal(h.lastError.status, 403);
  assert.ok(h.lastError.message.length > 0, 'the server says why');
  assert.equal(h.state, 'pairing');
  assert.ok((await guesser.page.locator('#banner').innerText()).includes(h.lastError.message),
    'the server message is on the page');
  assert.equal(await guesser.get(() => localStorage.getItem('funkhaus.credential')), null);
  await guesser.close();
  await stranger.close();

  // Malformed messages from B: B is closed with bad-message/4000 each time
  // (and resumes its session), A streams on untouched.
  const sb = await B.get(() => window.funkhaus.session);
  const malformed = {
    'invalid JSON': { text: '{"type": "ping", "t": ' },
    'unknown type': { text: '{"type": "bogus"}' },
    'unknown binary kind': { bytes: [0x7f, 0, 0] },
    'truncated motion': { bytes: [0x11, 0, 1] },
    'key shorter than its length byte': { bytes: [0x10, 1, 5, 0x4b, 0x65] },
  };
  for (const [what, msg] of Object.entries(malformed)) {
    const aBefore = await A.hooks();
    const bBefore = await B.hooks();
    await B.page.evaluate((m) => {
      const s = window.funkhaus.socket;
      s.send(m.text !== undefined ? m.text : new Uint8Array(m.bytes));
    }, msg);
    await B.waitFor((f, n) => f.closes.length > n, { arg: bBefore.closes.length, what: `${what}: B closed`, timeout: 10000 });
    h = await B.hooks();
    const closed = h.closes[bBefore.closes.length];
    assert.deepEqual({ code: closed.code, error: closed.error }, { code: 4000, error: 'bad-message' },
      `${what}: B's close (closes: ${JSON.stringify(h.closes)})`);
    assert.equal(h.lastError.code, 'bad-message');
    assert.equal(h.lastError.closeCode, 4000);

    // B comes back to its session; A never noticed.
    await B.waitFor((f, s) => f.state === 'streaming' && f.welcome.resumed === true && f.session === s,
      { arg: sb, what: `${what}: B resumed its session`, timeout: 15000 });
    await A.waitFor((f, n) => f.framesDecoded >= n, { arg: aBefore.framesDecoded + 20, what: `${what}: A keeps decoding`, timeout: 15000 });
    const aAfter = await A.hooks();
    assert.equal(aAfter.state, 'streaming');
    assert.equal(aAfter.closes.length, aBefore.closes.length, `${what}: A's socket stayed open`);
  }
});

e2e('a dropped client comes back to the same session', async () => {
  assert.ok(A && B, 'needs the clients of the first test');
  const before = await A.hooks();
  const session = before.session;

  // The socket goes away under the app (as on a network change).
  await A.page.evaluate(() => window.funkhaus.socket.close());
  await A.waitFor((f, n) => f.closes.length > n, { arg: before.closes.length, what: 'the drop', timeout: 5000 });
  await A.waitFor((f, s) => f.state === 'streaming' && f.welcome.resumed === true && f.session === s,
    { arg: session, what: 'A resumed its session', timeout: 15000 });
  const resumedAt = (await A.hooks()).framesDecoded;
  await A.waitFor((f, n) => f.framesDecoded >= n, { arg: resumedAt + 30, what: 'frames after the resume', timeout: 20000 });
  const after = await A.hooks();
  assert.deepEqual(after.welcome.mode, A_MODE, 'the session keeps its mode');
  assert.deepEqual(after.lastFrameSize, { width: A_MODE.width, height: A_MODE.height });
  const bg = after.welcome.display.background;
  const rgb = await A.sampleColor(...backgroundPoints(A_MODE)[1]);
  assert.ok(colorClose(rgb, bg, TOLERANCE), `after the resume A shows its own picture: ${rgb} vs ${bg}`);

  // Input after the resume lands in the same session.
  await A.page.keyboard.press('x');
  await poll(async () => (await host.inputLog(session)).includes(`key ${EVDEV.x} KEY_X up`),
    { timeout: 10000, what: 'KEY_X in the resumed session' });

  // Network loss: the browser goes offline, then back.
  const bBefore = await B.hooks();
  await B.context.setOffline(true);
  await B.waitFor((f, n) => f.closes.length > n, { arg: bBefore.closes.length, what: 'B notices the loss', timeout: 15000 });
  await new Promise((r) => setTimeout(r, 1000));
  await B.context.setOffline(false);
  await B.waitFor((f, s) => f.state === 'streaming' && f.welcome.resumed === true && f.session === s,
    { arg: bBefore.session, what: 'B resumed its session after the network came back', timeout: 20000 });
  const bResumed = (await B.hooks()).framesDecoded;
  await B.waitFrames(bResumed + 15, { timeout: 20000 });
});

e2e('a newer socket of the same device takes the session over (4009)', async () => {
  assert.ok(A, 'needs the clients of the first test');
  const before = await A.hooks();
  const cred = await A.get(() => JSON.parse(localStorage.getItem('funkhaus.credential')));
  const hello = { type: 'hello', protocol: 1, credential: cred, mode: A_MODE, codecs: ['h264'], resume: before.session };
  const w = await A.page.evaluate((hello) => new Promise((resolve, reject) => {
    const ws = new WebSocket(`wss://${location.host}/ws`);
    window.takeover = ws;
    ws.onopen = () => ws.send(JSON.stringify(hello));
    ws.onmessage = (e) => {
      if (typeof e.data === 'string' && JSON.parse(e.data).type === 'welcome')
        resolve(JSON.parse(e.data));
    };
    ws.onclose = (e) => reject(new Error(`closed ${e.code} ${e.reason}`));
    setTimeout(() => reject(new Error('no welcome')), 10000);
  }), hello);
  assert.equal(w.resumed, true);
  assert.equal(w.session, before.session);
  await A.waitFor((f) => f.lastError && f.lastError.closeCode === 4009, { what: 'close 4009 at the old socket', timeout: 5000 });
  const h = await A.hooks();
  assert.equal(h.lastError.code, 'replaced');
  assert.equal(h.state, 'failed');
  // Back on the connect panel, which names the device as it was paired.
  assert.equal(await A.get(() => document.getElementById('device-label').textContent), 'A');
  // The old page does not fight back for the session.
  await new Promise((r) => setTimeout(r, 1500));
  assert.equal((await A.hooks()).closes.length, before.closes.length + 1, 'no reconnect after 4009');
  await A.page.evaluate(() => window.takeover.close());
});

e2e('a browser whose draw worker cannot start still shows the picture: the page draws it', async () => {
  // Every worker this page makes runs a script that throws at once, as
  // where a browser cannot run the module or its script is refused: the
  // canvas must not have been handed to it.
  const initScript = () => {
    const Real = window.Worker;
    const broken = URL.createObjectURL(new Blob(['throw new Error("no workers here");'], { type: 'text/javascript' }));
    window.Worker = class extends Real {
      constructor(url, opts) { super(broken, opts); }
    };
  };
  const mode = { width: 640, height: 480, refresh: 30 };
  const C = await connectClient(browser, host, 'C', { pin: await host.pair(), ...mode }, { initScript });
  extraClients.push(C);
  const w = await C.get(() => window.funkhaus.welcome);
  await C.waitFrames(30, { timeout: 60000 });
  await C.waitFor((f) => f.drawnBy === 'page' && f.framesDrawn > 0,
    { what: 'the page drawing after the worker failed', timeout: 10000 });
  const bg = w.display.background;
  for (const [x, y] of backgroundPoints(mode)) {
    const rgb = await C.sampleColor(x, y);
    assert.ok(colorClose(rgb, bg, TOLERANCE), `C: colour at (${x}, ${y}) is ${rgb}, its background is ${bg}`);
  }
  const canvas = await C.get(() => [document.getElementById('screen').width, document.getElementById('screen').height]);
  assert.deepEqual(canvas, [mode.width, mode.height], 'C: canvas size');
});

e2e('SIGINT stops the host cleanly', async () => {
  const children = await host.descendants();
  const res = await host.stop({ timeout: 5000 });
  assert.equal(res.signal, null, `exited by signal ${res.signal}`);
  assert.equal(res.code, 0, 'exit code');
  assert.ok(res.ms < 5000, `took ${res.ms} ms`);
  assert.ok(!existsSync(host.controlSocket), `${host.controlSocket} is left behind`);
  assert.ok(!existsSync(host.sessionsDir), `${host.sessionsDir} is left behind`);
  await poll(() => children.every((pid) => !existsSync(`/proc/${pid}`)),
    { timeout: 2000, what: `the host's children ${children.join(', ')} to be gone` });
  assert.deepEqual(await host.processesOfThisRun(), [], 'processes started by the host are left running');

  // Connected clients were told the host is going away.
  if (B) {
    await B.waitFor((f) => f.closes.some((c) => c.code === 1001), { what: 'close 1001 at B', timeout: 5000 });
    assert.equal((await B.hooks()).lastError.code, 'host-shutdown');
  }
}, { timeout: 30000 });
