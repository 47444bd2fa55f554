// /metrics and /healthz (docs/operations.md): a two-session run scraped
// from localhost, a peer that is not allowed, and metrics=owners with a
// wrong credential, a non-owner's and an owner's. Synthetic sessions, bare
// WebSocket clients.

import { before, after } from 'node:test';
import assert from 'node:assert/strict';
import https from 'node:https';
import { networkInterfaces } from 'node:os';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { startHost, poll, hostBinary } from './lib/host.mjs';
import { rawWebSocket } from './lib/rawws.mjs';
import { reportingTest } from './lib/report.mjs';

const run = promisify(execFile);

let host = null;
let devicesHost = null;
const clients = [];

function e2e(name, fn, { timeout = 60000 } = {}) {
  reportingTest(name, { timeout }, async () => [
    host && `--- host log ---\n${host.logs()}`,
    devicesHost && `--- host log (metrics=owners) ---\n${devicesHost.logs()}`,
  ], fn);
}

/** GET `path` from `h` at `address`; resolves {status, text, type}. */
function get(h, path, { address = 'localhost', headers = {} } = {}) {
  return new Promise((resolve, reject) => {
    const req = https.request({ host: address, port: h.port, path, method: 'GET', headers,
      rejectUnauthorized: false, servername: 'localhost' }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d) => { text += d; });
      res.on('end', () => resolve({ status: res.statusCode, text, type: res.headers['content-type'] }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** A streaming client: hello, welcome, a few frames. */
async function streamingClient(h, name) {
  const credential = await h.pairDevice(name);
  const ws = await rawWebSocket(h.port, '/ws', { lifetimeMs: 120000 });
  clients.push(ws);
  ws.send(1, JSON.stringify({ type: 'hello', protocol: 1, credential,
    mode: { width: 320, height: 240, refresh: 30 }, codecs: ['h264'] }));
  const welcome = await poll(() => ws.messages.find((m) => m.type === 'welcome'), { timeout: 15000, what: `${name}'s welcome` });
  await poll(() => ws.binary >= 3, { timeout: 10000, what: `${name}'s first frames` });
  return { ws, session: welcome.session, credential };
}

/** Prometheus text → [{name, labels, value}]. */
function parse(text) {
  const samples = [];
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#'))
      continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    assert.ok(m, `a sample line: ${line}`);
    const labels = {};
    for (const [, k, v] of (m[2] ?? '').matchAll(/([a-zA-Z_]\w*)="((?:[^"\\]|\\.)*)"/g))
      labels[k] = v;
    samples.push({ name: m[1], labels, value: Number(m[3]) });
  }
  return samples;
}

const find = (samples, name, labels = {}) => samples.filter((s) => s.name === name &&
  Object.entries(labels).every(([k, v]) => s.labels[k] === v));
const value = (samples, name, labels) => find(samples, name, labels).reduce((a, s) => a + s.value, 0);

async function scrape(h) {
  const r = await get(h, '/metrics');
  assert.equal(r.status, 200, r.text);
  assert.match(r.type, /^text\/plain; version=0\.0\.4/);
  return parse(r.text);
}

before(async () => {
  host = await startHost({ backend: 'synthetic', grace: 0 });
});

after(async () => {
  for (const ws of clients)
    ws.sock.destroy();
  await host?.cleanup();
  await devicesHost?.cleanup();
});

e2e('a two-session run: sessions counted, frames grow, an ended session is gone', async () => {
  const a = await streamingClient(host, 'A');
  const b = await streamingClient(host, 'B');
  const first = await scrape(host);
  assert.equal(value(first, 'funkhaus_sessions', { state: 'streaming', backend: 'synthetic', plane: 'web' }), 2);
  assert.equal(value(first, 'funkhaus_clients', { plane: 'web' }), 2);
  for (const s of [a, b]) {
    assert.equal(find(first, 'funkhaus_session_frames_sent_total', { session: s.session }).length, 1);
    assert.equal(find(first, 'funkhaus_session_encode_seconds_count', { session: s.session }).length, 1);
    assert.equal(find(first, 'funkhaus_session_capture_to_send_seconds_bucket', { session: s.session, le: '+Inf' }).length, 1);
  }
  assert.equal(find(first, 'process_cpu_seconds_total').length, 1);
  assert.ok(value(first, 'process_resident_memory_bytes') > 0);
  assert.ok(value(first, 'funkhaus_pairing_attempts_total') >= 2);

  // Frame counters, encode-time histograms and bytes grow.
  const grown = await poll(async () => {
    const now = await scrape(host);
    return [a, b].every((s) => value(now, 'funkhaus_session_frames_sent_total', { session: s.session }) >
      value(first, 'funkhaus_session_frames_sent_total', { session: s.session }) + 5) && now;
  }, { timeout: 10000, what: 'frame counters to grow' });
  for (const s of [a, b]) {
    assert.equal(value(grown, 'funkhaus_session_encode_seconds_count', { session: s.session }),
      value(grown, 'funkhaus_session_capture_to_send_seconds_count', { session: s.session }));
    assert.ok(value(grown, 'funkhaus_session_sent_bytes_total', { session: s.session }) > 0);
  }

  // A ends (grace 0: its session goes at once); B stays.
  a.ws.sock.destroy();
  const after = await poll(async () => {
    const now = await scrape(host);
    return find(now, 'funkhaus_session_frames_sent_total', { session: a.session }).length === 0 && now;
  }, { timeout: 10000, what: "A's session to leave the metrics" });
  assert.equal(value(after, 'funkhaus_sessions'), 1);
  assert.equal(find(after, 'funkhaus_session_frames_sent_total', { session: b.session }).length, 1);

  // /healthz: serving, one session; the capacity once a sample window has
  // seen B stream (every 5 s).
  const health = await poll(async () => {
    const r = await get(host, '/healthz?mode=320x240@30');
    assert.equal(r.status, 200, r.text);
    const j = JSON.parse(r.text);
    return j.capacity.sessions !== null && j;
  }, { timeout: 20000, what: 'a capacity from measured cost' });
  console.log(`# healthz: ${JSON.stringify(health)}`);
  assert.equal(health.status, 'ok');
  assert.equal(health.sessions, 1);
  assert.equal(health.capacity.mode, '320x240@30');
  assert.ok(health.capacity.cores_per_session > 0);
  assert.equal((await get(host, '/healthz?mode=huge')).status, 400);
}, { timeout: 90000 });

e2e('metrics=localhost refuses a peer from another address', async (t) => {
  const address = Object.values(networkInterfaces()).flat()
    .find((i) => i && !i.internal && i.family === 'IPv4')?.address;
  if (!address) {
    console.log('# no non-loopback IPv4 address here: only the loopback half runs');
    assert.equal((await get(host, '/metrics')).status, 200);
    return;
  }
  assert.equal((await get(host, '/metrics', { address })).status, 403);
  assert.equal((await get(host, '/healthz', { address })).status, 403);
});

e2e("metrics=owners wants an owner's device: none or a wrong token is 401, a non-owner's 403", async () => {
  devicesHost = await startHost({ backend: 'synthetic', grace: 0, config: '[host]\nmetrics=owners\n' });
  const credential = await devicesHost.pairDevice('scraper');
  assert.equal((await get(devicesHost, '/metrics')).status, 401);
  assert.equal((await get(devicesHost, '/metrics', {
    headers: { Authorization: `Bearer ${credential.device}:${'0'.repeat(credential.token.length)}` } })).status, 401);
  assert.equal((await get(devicesHost, '/metrics', {
    headers: { Authorization: `Bearer nosuchdevice:${credential.token}` } })).status, 401);
  const scrape = () => get(devicesHost, '/metrics', {
    headers: { Authorization: `Bearer ${credential.device}:${credential.token}` } });
  const refused = await scrape();
  assert.equal(refused.status, 403, refused.text);
  assert.match(refused.text, /owner right/);
  await owner(credential.device, []);
  const ok = await scrape();
  assert.equal(ok.status, 200, ok.text);
  assert.equal(value(parse(ok.text), 'funkhaus_pairing_attempts_total', { kind: 'browser' }), 1);
  await owner(credential.device, ['--off']);
  assert.equal((await scrape()).status, 403, 'the right taken away holds at once');
});

/** `funkhaus devices owner ID [--off]` against the metrics=owners host. */
async function owner(id, extra) {
  await run(hostBinary, ['devices', 'owner', id, ...extra], { env: devicesHost.env, timeout: 10000 });
}
