// Flow control on the browser's WebSocket (docs/protocol.md, "Flow
// control"; src/planes/web/flow.c): a client that stops reading is skipped
// and then cut off (too-slow) while another client's stream goes on, and
// Ctrl-C ends the host within 2 s whatever its clients do. The stuck
// clients are bare WebSockets (tests/e2e/lib/rawws.mjs) that say hello with
// "acks": true like the browser client, then stop reading; the other client
// is the real one in headless Chromium. Then, as root, a client behind a
// shaped link (a network namespace, a veth pair and tbf; its client is
// tests/e2e/lib/flow-client.mjs): the host lowers the bitrate, frames keep
// coming, and the bitrate climbs back once the shaping is gone; a host
// started with --bitrate-adaptation off keeps the bitrate asked for behind
// the same link and only skips frames. A client whose acks come 150 ms late
// (far away, to the host) keeps the bitrate it asked for; ones whose acks
// come 100 or 300 ms later from their fourth second on (a round trip that
// grew for good) keep their frames coming and get their bitrate back.

import { before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startHost, poll } from './lib/host.mjs';
import { launchBrowser, connectClient } from './lib/client.mjs';
import { rawWebSocket } from './lib/rawws.mjs';
import { makeLinkedNamespace } from './lib/netns.mjs';
import { reportingTest } from './lib/report.mjs';

const MODE = { width: 320, height: 240, refresh: 30 };
const FLOW_CLIENT = join(dirname(fileURLToPath(import.meta.url)), 'lib', 'flow-client.mjs');
const onPath = (t) => ['/usr/sbin', '/sbin', '/usr/bin', '/bin'].some((d) => existsSync(join(d, t)));
const shapeSkip = process.getuid?.() !== 0 ? 'shaping a link needs root (a network namespace and tc)'
  : !onPath('tc') || !onPath('ip') ? 'shaping a link needs ip and tc (iproute2)'
  : false;
if (shapeSkip && process.env.CI)
  throw new Error(`the shaped-link test cannot run in CI: ${shapeSkip}`);
let host = null;
let shaped = null;
let shapedLines = [];
let browser = null;
let B = null;
const stuck = [];

function e2e(name, fn, { timeout = 60000, skip = false } = {}) {
  reportingTest(name, { timeout, skip }, async () => [
    host && `--- host log ---\n${host.logs()}`,
    shaped && `--- host log (shaped link) ---\n${shaped.logs()}`,
    shapedLines.length && `--- the shaped client ---\n${shapedLines.join('\n')}`,
    B?.report(),
    ...stuck.map((s, i) => `--- stuck client ${i}: ${s.ws.binary} binary messages read, messages ${JSON.stringify(s.ws.messages)}, close ${JSON.stringify(s.ws.close)}`),
  ], fn);
}

/** A client that says hello (with acks), gets its welcome and a few frames,
 *  then never reads again. */
async function stuckClient(h, name) {
  const credential = await h.pairDevice(name);
  const ws = await rawWebSocket(h.port, '/ws', { lifetimeMs: 60000 });
  const s = { ws, name };
  stuck.push(s);
  ws.send(1, JSON.stringify({ type: 'hello', protocol: 1, credential, mode: { width: 640, height: 480, refresh: 60 },
    codecs: ['h264'], acks: true }));
  const welcome = await poll(() => ws.messages.find((m) => m.type === 'welcome'), { timeout: 15000, what: `${name}'s welcome` });
  await poll(() => ws.binary >= 3, { timeout: 10000, what: `${name}'s first frames` });
  ws.sock.pause();
  s.session = welcome.session;
  return s;
}

/** Frames B decoded in each of `n` windows of `ms`. */
async function framesPerWindow(c, n, ms) {
  const counts = [];
  let last = (await c.hooks()).framesDecoded;
  for (let i = 0; i < n; i++) {
    await new Promise((r) => setTimeout(r, ms));
    const now = (await c.hooks()).framesDecoded;
    counts.push(now - last);
    last = now;
  }
  return counts;
}

before(async () => {
  host = await startHost({ backend: 'synthetic', grace: 0 });
  browser = await launchBrowser();
});

after(async () => {
  for (const s of stuck)
    s.ws.sock.destroy();
  await B?.close();
  await browser?.close();
  await host?.cleanup();
  await shaped?.cleanup();
});

e2e('a client that stops reading is skipped and cut off, and another client streams on', async () => {
  B = await connectClient(browser, host, 'B', { pin: host.pin, ...MODE });
  await B.waitFrames(10);
  const s = await stuckClient(host, 'S');
  // While S takes nothing, B's stream goes on: no 2-second window without
  // frames (30 fps asked; a loaded CI box may deliver fewer, never none).
  const counts = await framesPerWindow(B, 6, 2000);
  console.log(`# B's frames per 2 s while S is stuck: ${counts.join(', ')}`);
  assert.ok(counts.every((n) => n >= 10), `B kept streaming: ${counts.join(', ')}`);
  // The host skipped S's frames (its bitrate went down) and then cut it off.
  await poll(() => new RegExp(`session ${s.session.slice(0, 8)}: bitrate \\d+ → \\d+ kb/s`).test(host.logs()),
    { timeout: 5000, what: "S's bitrate to go down" });
  await poll(() => /closing: too-slow: took no video for 10 s/.test(host.logs()),
    { timeout: 15000, what: 'the host to cut S off (too-slow)' });
  const after = await framesPerWindow(B, 2, 1000);
  assert.ok(after.every((n) => n >= 5), `B still streams after S is gone: ${after.join(', ')}`);
  assert.equal((await B.hooks()).closes.length, 0, "B's WebSocket stayed open");
}, { timeout: 90000 });

/** The flow client in @link's namespace (null: on this machine's
 *  loopback) against @h for @seconds, asking for @asked kb/s, holding each
 *  ack back @ackDelayMs; its lines (one JSON object a second) go into
 *  shapedLines. Returns the process and a reader of the parsed lines. */
function shapedClient(h, link, credential, seconds, asked, ackDelayMs = 0) {
  shapedLines = [];
  const args = [FLOW_CLIENT, link ? link.hostIp : 'localhost', String(h.port),
    JSON.stringify(credential), String(seconds), String(asked), String(ackDelayMs)];
  const client = link
    ? spawn('ip', ['netns', 'exec', link.ns, process.execPath, ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
    : spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let rest = '';
  client.stdout.setEncoding('utf8');
  client.stdout.on('data', (d) => {
    rest += d;
    const lines = rest.split('\n');
    rest = lines.pop();
    shapedLines.push(...lines);
  });
  client.stderr.on('data', (d) => shapedLines.push(`stderr: ${d}`));
  const samples = () => shapedLines.map((l) => { try { return JSON.parse(l); } catch { return {}; } });
  return { client, samples };
}

e2e('behind a shaped link the host lowers the bitrate, frames keep coming, and it climbs back', async () => {
  const ASKED = 1000;
  shaped = await startHost({ backend: 'synthetic', grace: 0 });
  const credential = await shaped.pairDevice('shaped');
  let client = null;
  let link = null;
  try {
    link = makeLinkedNamespace('flow', 199);
    // The host's direction (video) at 200 kbit/s, below what the stream
    // needs even at the lowest bitrate the host goes to.
    link.shape('200kbit', '8kb', '100ms');
    let samples;
    ({ client, samples } = shapedClient(shaped, link, credential, 40, ASKED));
    // Under the limit: the bitrate goes down, frames are skipped, and
    // frames still arrive every second.
    await poll(() => samples().length >= 12, { timeout: 30000, what: '12 s of the shaped client' });
    const under = samples().slice(0, 12);
    assert.ok(!under.some((x) => x.error), `the client streamed: ${shapedLines.join(' | ')}`);
    const lowest = Math.min(...under.map((x) => x.stats?.target_kbps ?? ASKED));
    console.log(`# under 200 kbit/s: frames a second ${under.map((x) => x.frames).join(' ')}; ` +
      `target kb/s ${under.map((x) => x.stats?.target_kbps ?? '-').join(' ')}`);
    assert.ok(lowest < ASKED / 2, `the host lowered the bitrate (lowest target ${lowest} of ${ASKED} kb/s)`);
    assert.ok(under.at(-1).stats?.skipped > 0, `frames were skipped: ${JSON.stringify(under.at(-1).stats)}`);
    assert.ok(under.slice(3).every((x) => x.frames > 0), `frames kept coming: ${under.map((x) => x.frames).join(' ')}`);
    // The limit goes: within 15 s the bitrate is back to what was asked.
    link.unshape();
    const lifted = samples().length;
    const back = await poll(() => samples().slice(lifted).find((x) => x.stats?.target_kbps === ASKED),
      { timeout: 15000, what: `the bitrate back at ${ASKED} kb/s` });
    console.log(`# back at ${ASKED} kb/s ${back.t - under.length} s after the limit went`);
  } finally {
    client?.kill('SIGKILL');
    link?.remove();
  }
}, { timeout: 90000, skip: shapeSkip });

e2e('with --bitrate-adaptation off the bitrate stays as asked behind a shaped link, and frames are skipped', async () => {
  const ASKED = 1000;
  await shaped?.cleanup();
  shaped = await startHost({ backend: 'synthetic', grace: 0, args: ['--bitrate-adaptation', 'off'] });
  const credential = await shaped.pairDevice('fixed');
  let client = null;
  let link = null;
  try {
    link = makeLinkedNamespace('flowoff', 198);
    link.shape('200kbit', '8kb', '100ms');
    let samples;
    ({ client, samples } = shapedClient(shaped, link, credential, 12, ASKED));
    await poll(() => samples().length >= 8, { timeout: 30000, what: '8 s of the shaped client' });
    const under = samples().slice(0, 8);
    console.log(`# adaptation off, under 200 kbit/s: frames a second ${under.map((x) => x.frames).join(' ')}; ` +
      `target kb/s ${under.map((x) => x.stats?.target_kbps ?? '-').join(' ')}`);
    assert.ok(!under.some((x) => x.error), `the client streamed: ${shapedLines.join(' | ')}`);
    const targets = under.map((x) => x.stats?.target_kbps).filter((t) => t !== undefined);
    assert.ok(targets.length >= 5 && targets.every((t) => t === ASKED),
      `the target stayed at ${ASKED} kb/s: ${targets.join(' ')}`);
    assert.ok(under.at(-1).stats?.skipped > 0, `frames were skipped: ${JSON.stringify(under.at(-1).stats)}`);
    assert.ok(under.slice(3).every((x) => x.frames > 0), `frames kept coming: ${under.map((x) => x.frames).join(' ')}`);
  } finally {
    client?.kill('SIGKILL');
    link?.remove();
  }
}, { timeout: 60000, skip: shapeSkip });

e2e('a client far away (its acks 150 ms late) keeps the bitrate it asked for, nothing skipped', async () => {
  // What a far client has not acknowledged yet is the round trip, not a
  // queue: the host measures the wait beyond the shortest round trip it saw.
  const ASKED = 1000;
  const credential = await host.pairDevice('far');
  const { client, samples } = shapedClient(host, null, credential, 8, ASKED, 150);
  try {
    await poll(() => samples().length >= 8, { timeout: 30000, what: '8 s of the far client' });
    const got = samples();
    console.log(`# acks 150 ms late: frames a second ${got.map((x) => x.frames).join(' ')}; ` +
      `target kb/s ${got.map((x) => x.stats?.target_kbps ?? '-').join(' ')}; ` +
      `skipped ${got.at(-1).stats?.skipped}; round trip ${got.at(-1).stats?.round_trip_ms} ms`);
    assert.ok(!got.some((x) => x.error), `the client streamed: ${shapedLines.join(' | ')}`);
    const targets = got.slice(2).map((x) => x.stats?.target_kbps);
    assert.ok(targets.every((t) => t === ASKED), `the target stayed at ${ASKED} kb/s: ${targets.join(' ')}`);
    assert.equal(got.at(-1).stats?.skipped, 0, `nothing was skipped: ${JSON.stringify(got.at(-1).stats)}`);
    assert.ok(got.slice(1).every((x) => x.frames > 0), `frames kept coming: ${got.map((x) => x.frames).join(' ')}`);
    // The round trip the host tells it: the acks' 150 ms and the way (a
    // timer may fire a little early).
    const rtt = got.at(-1).stats?.round_trip_ms;
    assert.ok(rtt >= 140 && rtt < 400, `the host sees a round trip of about 150 ms: ${rtt}`);
  } finally {
    client.kill('SIGKILL');
  }
}, { timeout: 60000 });

// A round trip that grows for good: by 100 ms the host takes it for a
// queue that stands and lowers the bitrate, then sees it neither drain
// nor grow and goes back; by 300 ms the frames in flight are skipped, and
// the keyframe that resumes goes alone: its ack, late with nothing before
// it, is the new round trip. Before, the first took 27 s to get its
// bitrate back, and the second skipped most frames for 8 s and then held
// the least bitrate for good.
for (const GROWS of [100, 300]) {
  e2e(`a client whose round trip grows by ${GROWS} ms for good gets its frames and its bitrate back`, async () => {
    const ASKED = 1000;
    const STEP = 4;
    const credential = await host.pairDevice(`step${GROWS}`);
    const { client, samples } = shapedClient(host, null, credential, STEP + 10, ASKED, `0,${GROWS}@${STEP}`);
    try {
      await poll(() => samples().length >= STEP + 10, { timeout: 40000, what: `${STEP + 10} s of the client` });
      const got = samples();
      console.log(`# acks ${GROWS} ms later from ${STEP} s on: frames a second ${got.map((x) => x.frames).join(' ')}; ` +
        `target kb/s ${got.map((x) => x.stats?.target_kbps ?? '-').join(' ')}; ` +
        `skipped ${got.at(-1).stats?.skipped}; round trip ${got.at(-1).stats?.round_trip_ms} ms`);
      assert.ok(!got.some((x) => x.error || x.close), `the client streamed: ${shapedLines.join(' | ')}`);
      // At 60 frames a second: from the second second after the step on,
      // most of them (skipping until the 8 s memory of the round trip
      // learnt it brought 20 to 35).
      const after = got.slice(STEP + 2);
      assert.ok(after.every((x) => x.frames >= 45), `frames kept coming: ${got.map((x) => x.frames).join(' ')}`);
      // A round trip's frames, or two or three where the first keyframe's
      // ack came while what the link carried was not known well enough
      // (before, 250 or more).
      assert.ok(got.at(-1).stats?.skipped < 100, `a few round trips skipped at most: ${JSON.stringify(got.at(-1).stats)}`);
      assert.equal(got.at(-1).stats?.target_kbps, ASKED, `the bitrate came back within 10 s: ` +
        `${got.map((x) => x.stats?.target_kbps ?? '-').join(' ')}`);
      const rtt = got.at(-1).stats?.round_trip_ms;
      assert.ok(rtt >= GROWS - 10, `the host took the new round trip: ${rtt} ms`);
    } finally {
      client.kill('SIGKILL');
    }
  }, { timeout: 60000 });
}

e2e('Ctrl-C with a client that does not read ends the host within 2 s', async () => {
  await stuckClient(host, 'T');
  // T's backlog grows for a moment before the signal.
  await new Promise((r) => setTimeout(r, 1500));
  const res = await host.stop({ timeout: 10000 });
  console.log(`# the host stopped in ${res.ms} ms`);
  assert.equal(res.code, 0, `the host's exit: ${JSON.stringify(res)}`);
  assert.ok(res.ms < 2000, `the host took ${res.ms} ms to stop`);
});
