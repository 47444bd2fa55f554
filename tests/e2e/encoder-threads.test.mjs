// Encoder threads follow the number of sessions (src/core/encoder-threads.h):
// a lone session's encoder has every core; when a second session comes, the
// first gives up its share (a new libx264 context, so one keyframe nobody
// asked for), and takes it back when the second ends. Two bare WebSocket
// clients against `funkhaus serve --backend synthetic`, no browser.

import { before, after } from 'node:test';
import assert from 'node:assert/strict';
import os from 'node:os';
import { reportingTest } from './lib/report.mjs';
import { startHost, poll } from './lib/host.mjs';
import { rawWebSocket } from './lib/rawws.mjs';

const MODE = { width: 320, height: 240, refresh: 30 };
// FH_ENCODER_REPICK_MS, and room for a loaded machine.
const REPICK_WAIT_MS = 2000 + 8000;

let host = null;
const clients = [];

function e2e(name, fn, { timeout = 90000 } = {}) {
  reportingTest(name, { timeout }, () => [
    host && `--- host log ---\n${host.logs()}`,
    ...clients.map((c) => `--- client ${c.name}: ${c.frames} frames, keyframes at ${JSON.stringify(c.keyframes)}, close ${JSON.stringify(c.ws.close)}`),
  ], fn);
}

before(async () => {
  host = await startHost({ backend: 'synthetic', grace: 0 });
});

after(async () => {
  for (const c of clients)
    c.ws.sock.destroy();
  await host?.cleanup();
});

/** The threads the host gives an encoder of MODE while `others` encode,
 *  as fh_encoder_threads() counts them (src/core/encoder-threads.c). */
function expectedThreads(others) {
  const cores = Math.max(os.availableParallelism(), 1);
  const pixels = MODE.width * MODE.height * MODE.refresh;
  const needed = Math.ceil(pixels / (1920 * 1080 * 60 * 1.5));
  return Math.min(Math.max(Math.max(1, Math.floor(cores / (others + 1))), needed, 1), cores);
}

/** A client that says hello at MODE and reads every frame, noting which
 *  frame numbers are keyframes. */
async function streamingClient(name) {
  const credential = await host.pairDevice(name);
  const ws = await rawWebSocket(host.port, '/ws', { lifetimeMs: 120000 });
  const c = { name, ws, frames: 0, keyframes: [] };
  clients.push(c);
  ws.onBinary = (payload) => {
    if (payload[0] !== 0x01 || payload.length < 20)
      return;
    c.frames++;
    if (payload[1] & 1)
      c.keyframes.push(payload.readUInt32LE(4));
  };
  ws.send(1, JSON.stringify({ type: 'hello', protocol: 1, credential, mode: MODE, codecs: ['h264'] }));
  const welcome = await poll(() => ws.messages.find((m) => m.type === 'welcome'),
    { timeout: 15000, what: `${name}'s welcome` });
  c.session = welcome.session.slice(0, 8);
  await poll(() => c.frames >= 3, { timeout: 10000, what: `${name}'s first frames` });
  return c;
}

function threadLines(c) {
  return host.logs().split('\n').filter((l) => l.includes(`session ${c.session}: encoder`));
}

e2e('a lone session gives up its share of the cores to a second one and takes it back', async () => {
  const alone = expectedThreads(0);
  const shared = expectedThreads(1);
  console.log(`# ${os.availableParallelism()} core(s): ${alone} thread(s) alone, ${shared} with two sessions`);

  const A = await streamingClient('A');
  assert.ok(threadLines(A).some((l) => l.includes(`encoder ${MODE.width}x${MODE.height}@${MODE.refresh}, ${alone} thread(s)`)),
    `A starts with ${alone} thread(s): ${threadLines(A).join(' | ')}`);

  const B = await streamingClient('B');
  assert.ok(threadLines(B).some((l) => l.includes(`, ${shared} thread(s)`)),
    `B starts with ${shared} thread(s): ${threadLines(B).join(' | ')}`);
  if (alone === shared) {
    // One core: nothing to share, and nothing changes.
    await new Promise((r) => setTimeout(r, REPICK_WAIT_MS / 2));
    assert.ok(!threadLines(A).some((l) => l.includes('encoder now')), threadLines(A).join(' | '));
    return;
  }
  await poll(() => threadLines(A).some((l) => l.includes(`encoder now ${shared} thread(s), with 2 encoder(s)`)),
    { timeout: REPICK_WAIT_MS, what: `A's encoder to go to ${shared} thread(s)` });
  // Its new context starts with a keyframe, and frames go on after it.
  const framesAtChange = A.frames;
  await poll(() => A.keyframes.length >= 2 && A.frames >= framesAtChange + 10,
    { timeout: 10000, what: "A's keyframe from its new encoder context, and frames after it" });
  assert.ok(!threadLines(B).some((l) => l.includes('encoder now')), `B keeps its share: ${threadLines(B).join(' | ')}`);

  const keyframes = A.keyframes.length;
  B.ws.sock.destroy();
  await poll(() => threadLines(A).some((l) => l.includes(`encoder now ${alone} thread(s), with 1 encoder(s)`)),
    { timeout: REPICK_WAIT_MS, what: `A's encoder to take back ${alone} thread(s)` });
  const frames = A.frames;
  await poll(() => A.keyframes.length > keyframes && A.frames >= frames + 10,
    { timeout: 10000, what: "A's frames after its encoder took back its threads" });
  assert.equal(A.ws.close, null, "A's WebSocket stayed open");
});
