// An input flood against the host (`funkhaus serve --backend synthetic`):
// client A sends 10 000 pointer events a second for 3 s; the host cuts it
// off for flooding (rate-limited, 4006) each time it comes back, and
// client B keeps its frame rate. Its figures are timings (how fast the
// host reads A's messages decides when the limit trips, B's frames are a
// frame rate), so scripts/test.sh runs it in the plain build
// (tests/meson.build: browser-e2e-timing). It was part of
// security.test.mjs.

import { before, after } from 'node:test';
import assert from 'node:assert/strict';
import { reportingTest } from './lib/report.mjs';
import { startHost } from './lib/host.mjs';
import { launchBrowser, connectClient } from './lib/client.mjs';

const MODE = { width: 320, height: 240, refresh: 30 };

let host = null;
let browser = null;
let A = null; // floods
let B = null; // the bystander whose stream must not suffer

function e2e(name, fn, { timeout = 60000 } = {}) {
  reportingTest(name, { timeout }, () => [
    host && `--- host log ---\n${host.logs()}`,
    ...[A, B].map((c) => c?.report()),
  ], fn);
}

before(async () => {
  host = await startHost({ grace: 30 });
  browser = await launchBrowser();
});

after(async () => {
  for (const c of [A, B])
    await c?.close();
  await browser?.close();
  await host?.cleanup();
});

/** Frames `c` decodes in `ms`. */
async function framesIn(c, ms) {
  const before = (await c.hooks()).framesDecoded;
  await new Promise((r) => setTimeout(r, ms));
  return (await c.hooks()).framesDecoded - before;
}

e2e('an input flood of 10 000 events a second is cut off; another client keeps its frame rate', async () => {
  A = await connectClient(browser, host, 'A', { pin: host.pin, ...MODE });
  B = await connectClient(browser, host, 'B', { pin: await host.pair(), ...MODE });
  await B.waitFrames((await B.hooks()).framesDecoded + 30);
  const normal = await framesIn(B, 3000);
  const before = await A.hooks();
  const bCloses = (await B.hooks()).closes.length;
  // 100 motion events every 10 ms (10 000 a second) for 3 s, on whatever
  // socket A has: cut off, it comes back and floods again.
  const flood = A.page.evaluate(() => new Promise((resolve) => {
    let sent = 0;
    const t0 = performance.now();
    const timer = setInterval(() => {
      const s = window.funkhaus.socket;
      if (performance.now() - t0 > 3000) {
        clearInterval(timer);
        resolve(sent);
        return;
      }
      if (s?.readyState !== WebSocket.OPEN || !window.funkhaus.welcome)
        return;
      for (let i = 0; i < 100; i++, sent++)
        s.send(new Uint8Array([0x11, 0, sent & 0xff, 0, 10, 0]));
    }, 10);
  }));
  const during = await framesIn(B, 3000);
  const sent = await flood;
  console.log(`# flood: A sent ${sent} events; B decoded ${normal} frames in 3 s before, ${during} during`);
  assert.ok(sent >= 1000, `the flood got going (${sent} events)`);
  const closes = (await A.hooks()).closes.slice(before.closes.length);
  assert.ok(closes.length >= 1 && closes.every((c) => c.code === 4006 && c.error === 'rate-limited'),
    `A was cut off for flooding, each time: ${JSON.stringify(closes)}`);
  // 0.7: on a 2-core machine the flooding browser itself takes CPU from
  // B's decoder; a host that let the flood through would stall B outright.
  // Under ASan (scripts/test.sh sets ASAN_OPTIONS for that run) the host is
  // several times slower and A's reconnects (TLS, hello, a keyframe each)
  // cost more: on this 2-core machine B kept 0.33–0.68 of its frames there,
  // with the last host CI passed on (f31aa1e) as with this one; 0.25 still
  // tells a held stream from a stalled one.
  const bound = process.env.ASAN_OPTIONS !== undefined ? 0.25 : 0.7;
  assert.ok(during >= bound * normal,
    `B's frame rate held: ${during} frames during vs ${normal} before (bound ${bound})`);
  assert.equal((await B.hooks()).closes.length, bCloses, 'B was not closed');
});
