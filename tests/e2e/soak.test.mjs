// The host over a long run, shortened (bench/soak.sh is the long one):
// 5000 HTTPS requests of every kind (a page, /api/host, a pairing with a
// wrong PIN, a WebSocket upgraded and closed), 4 at a time, and 200
// sessions made and ended one after another, in turns, against one host.
// Its descriptors, threads and resident memory a tenth into the run and at
// the end stay within the bounds below, no socket of its port is left in
// CLOSE-WAIT, and it still answers. About 3 minutes on 2 cores.
//
// The sessions are wlroots ones (a headless sway and the recorder app in a
// sandbox, as wlroots.test.mjs's leak test makes them: root, sway, the
// funkhaus account, FUNKHAUS_RECORDER); without those, outside CI,
// synthetic ones, and the test says so.
//
// FUNKHAUS_SOAK_REQUESTS, FUNKHAUS_SOAK_CYCLES and FUNKHAUS_SOAK_WORKERS
// change the counts; FUNKHAUS_SOAK_REPORT names a file for the figures as
// JSON (bench/soak.sh uses both).

import { before, after } from 'node:test';
import assert from 'node:assert/strict';
import https from 'node:https';
import { existsSync, readFileSync } from 'node:fs';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { reportingTest } from './lib/report.mjs';
import { startHost, poll, repoRoot } from './lib/host.mjs';
import { rawWebSocket } from './lib/rawws.mjs';
import { hostFigures, rssKiB } from './lib/proc.mjs';
import { execFile } from 'node:child_process';
import { copyIntoBind, makeHomesDir, removeDeviceAccounts, sandboxConfig, sessionProcesses } from './lib/sandbox.mjs';

const REQUESTS = Number(process.env.FUNKHAUS_SOAK_REQUESTS || 5000);
const CYCLES = Number(process.env.FUNKHAUS_SOAK_CYCLES || 200);
const WORKERS = Number(process.env.FUNKHAUS_SOAK_WORKERS || 4);
const WARMUP_REQUESTS = 200;
// The bounds, end against warm-up. Descriptors: the same slack as
// connections.test.mjs (a connection or two still closing, a session's
// last pipe). Threads: GLib's worker pools (GTask, the resolver, TLS
// handshakes) grow on demand and let idle threads go only after a while.
// Resident memory: malloc keeps what the host freed in its arenas (the
// sessions' encoders and TLS on several threads), 20 MiB and more after
// 100 sessions and 2500 requests; malloc_trim() gives back all of it but
// the top of each thread arena, which the host bounds to a few arenas
// (src/app/main.c: with glibc's 8 arenas a core, the arenas its threads
// touched one after the other grew the trimmed RSS by 5-6 MiB over 200
// sessions, once in CI past this bound). So the RSS compared is the one
// after the host (through gdb) called malloc_trim(0), a tenth into the
// run and at the end, and the bound is tight: a leak of 1.3 KiB a request
// or 34 KiB a session (over the 4500 requests and 180 sessions after
// that) exceeds it. The raw RSS is reported beside it.
const FD_SLACK = 8;
const THREAD_SLACK = 8;
const RSS_SLACK_KIB = 6 * 1024;
const RECORDER = process.env.FUNKHAUS_RECORDER || join(repoRoot, 'build', 'tests', 'fh-input-recorder');

function funkhausAccount() {
  return readFileSync('/etc/passwd', 'utf8').split('\n').some((l) => l.startsWith('funkhaus:'));
}
const noGdb = !existsSync('/usr/bin/gdb') ? 'no gdb (install it: scripts/setup.sh test)' : false;
if (noGdb && process.env.CI)
  throw new Error(`the soak test needs gdb in CI: ${noGdb}`);
const noWlroots = process.getuid?.() !== 0 ? 'not root'
  : !funkhausAccount() ? 'no funkhaus account'
  : !existsSync(RECORDER) ? `no recorder at ${RECORDER}`
  : !existsSync('/usr/bin/sway') ? 'no sway' : false;
if (noWlroots && process.env.CI)
  throw new Error(`the soak test needs wlroots sessions in CI: ${noWlroots}`);

let host = null;
let recordDir = null;
let homesParent = null;

before(async () => {
  if (noWlroots) {
    host = await startHost({ grace: 0 });
    return;
  }
  recordDir = await mkdtemp(join(tmpdir(), 'fh-soak-rec-'));
  await chmod(recordDir, 0o1777);
  const recorder = await copyIntoBind(RECORDER, recordDir);
  homesParent = await mkdtemp(join(tmpdir(), 'fh-soak-homes-'));
  host = await startHost({
    backend: 'wlroots',
    grace: 0,
    config: `[host]\napp=${recorder} ${recordDir}/%s.log\n` +
      sandboxConfig({ homesDir: await makeHomesDir(homesParent), binds: [recordDir] }),
  });
});

after(async () => {
  let problems = [];
  if (host && !host.exit)
    await host.stop().catch(() => {});
  if (!noWlroots)
    problems = await removeDeviceAccounts(host);
  await host?.cleanup();
  for (const dir of [recordDir, homesParent])
    if (dir && !process.env.FUNKHAUS_KEEP_TMP)
      await rm(dir, { recursive: true, force: true });
  if (problems.length)
    throw new Error(`device accounts left behind: ${problems.join('; ')}`);
});

function e2e(name, fn, { timeout }) {
  // The tail of the log: a long run's whole log would bury the failure.
  reportingTest(name, { timeout }, () => [host && `--- host log (tail) ---\n${host.logs().split('\n').slice(-300).join('\n')}`], fn);
}

/** One request on a connection of its own; resolves to {status, body}. */
function request(path, { method = 'GET', body = null } = {}) {
  return new Promise((resolve, reject) => {
    const headers = body ? { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) } : {};
    const req = https.request({ host: '127.0.0.1', port: host.port, path, method, headers, agent: false,
      rejectUnauthorized: false, timeout: 20000 }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, body: Buffer.concat(chunks).toString() }));
    });
    req.on('timeout', () => req.destroy(new Error(`${method} ${path}: no answer in 20 s`)));
    req.on('error', reject);
    if (body)
      req.write(body);
    req.end();
  });
}

const WRONG_PIN = JSON.stringify({ pin: '000000', name: 'soak' });

const KINDS = ['page', '/api/host', 'a wrong PIN', 'a WebSocket'];

/** Request number `i`: the four kinds in turn. */
async function requestOfKind(i) {
  try {
    await requestOfKindUnnamed(i);
  } catch (e) {
    e.message = `request ${i} (${KINDS[i % 4]}): ${e.message}`;
    throw e;
  }
}

async function requestOfKindUnnamed(i) {
  switch (i % 4) {
  case 0:
    assert.equal((await request('/')).status, 200, 'the page');
    break;
  case 1:
    assert.equal((await request('/api/host')).status, 200, '/api/host');
    break;
  case 2: {
    // The PIN was used up by the test's own pairing: every attempt is
    // wrong, and after three the address waits (429) — both are refusals.
    const r = await request('/api/pair', { method: 'POST', body: WRONG_PIN });
    assert.ok(r.status === 403 || r.status === 429, `a wrong PIN: ${r.status} ${r.body}`);
    break;
  }
  default: {
    const ws = await rawWebSocket(host.port, '/ws', { host: '127.0.0.1', lifetimeMs: 20000 });
    ws.send(0x8, Buffer.from([0x03, 0xe8])); // close, 1000
    await ws.closed;
  }
  }
}

/** Requests `from`..`to`-1, WORKERS at a time. */
async function requests(from, to) {
  let next = from;
  const worker = async () => {
    while (next < to)
      await requestOfKind(next++);
  };
  await Promise.all(Array.from({ length: WORKERS }, worker));
}

/** One session: hello, welcome, close. Resolves to the session id. */
async function sessionCycle(hello) {
  const ws = await rawWebSocket(host.port, '/ws', { host: '127.0.0.1', lifetimeMs: 60000 });
  try {
    ws.send(0x1, Buffer.from(JSON.stringify(hello)));
    const welcome = await poll(() => {
      const m = ws.messages.find((x) => x.type === 'welcome' || x.type === 'error');
      if (m?.type === 'error')
        throw new Error(`error instead of welcome: ${JSON.stringify(m)}`);
      return m;
    }, { timeout: 20000, interval: 20, what: 'a welcome' });
    return welcome.session;
  } finally {
    ws.send(0x8, Buffer.from([0x03, 0xe8]));
    await ws.closed;
  }
}

// The sessions the host said stopped, read from its log lines once each:
// joining the whole log on every poll (host.logs()) grew with the run, and
// near the end of the long run (bench/soak.sh: 50,000 requests, about a
// million lines) one poll took longer than the 20 s the test waits.
const stoppedIds = new Set();
let scanned = 0;
function stopped(id) {
  for (; scanned < host.lines.length; scanned++) {
    const m = /session ([0-9a-f]{8}): .*→ stopped/.exec(host.lines[scanned][2]);
    if (m)
      stoppedIds.add(m[1]);
  }
  return stoppedIds.has(id.slice(0, 8));
}

async function settled(ids) {
  await poll(() => ids.every(stopped), { timeout: 20000, what: 'every session to stop' });
  if (!noWlroots)
    await poll(async () => (await sessionProcesses(ids)).length === 0, { timeout: 10000, what: 'no process of the sessions' });
}

/** The host's RSS in KiB after it gave back what malloc kept (gdb calls
 *  malloc_trim(0) in it; the host is idle then). */
function trimmedRssKiB(pid) {
  return new Promise((resolve, reject) => {
    execFile('/usr/bin/gdb', ['-p', String(pid), '-batch', '-ex', 'call (int) malloc_trim(0)'],
      { timeout: 60000 }, (err, out, errOut) => {
        if (err)
          reject(new Error(`gdb could not call malloc_trim in the host: ${err.message}\n${errOut}`));
        else
          rssKiB(pid).then(resolve, reject);
      });
  });
}

/** hostFigures(), and the trimmed RSS where gdb is. */
async function figures(pid) {
  const f = await hostFigures(pid, host.port);
  if (!noGdb)
    f.trimmedRssKiB = await trimmedRssKiB(pid);
  return f;
}

const fmt = (f) => `fds ${f.fds}, threads ${f.threads}, RSS ${(f.rssKiB / 1024).toFixed(1)} MiB` +
  (f.trimmedRssKiB ? ` (${(f.trimmedRssKiB / 1024).toFixed(1)} MiB trimmed)` : '') + `, CLOSE-WAIT ${f.closeWait}`;

e2e(`${REQUESTS} HTTPS requests and ${CYCLES} sessions leave the host as they found it`, async () => {
  const pid = host.proc.pid;
  const paired = await request('/api/pair', { method: 'POST', body: JSON.stringify({ pin: host.pin, name: 'soak' }) });
  assert.equal(paired.status, 200, `pairing: ${paired.body}`);
  const hello = { type: 'hello', protocol: 1, credential: JSON.parse(paired.body),
    mode: { width: 320, height: 240, refresh: 30 }, codecs: ['h264'] };

  // Warm-up: what the first requests and the first session allocate once
  // (the TLS backend, the device's account and home, the encoder).
  const t0 = Date.now();
  const first = await sessionCycle(hello);
  await requests(0, WARMUP_REQUESTS);
  await settled([first]);
  await new Promise((r) => setTimeout(r, 500));
  const warm = await figures(pid);
  console.log(`# soak: after the warm-up: ${fmt(warm)}`);
  // The bounds start from the first tenth of the run: the first sessions
  // still grow what the host keeps (TLS and encoder state, malloc's
  // arenas: 2-4 MiB after the first 20 sessions, then flat within a MiB
  // or two up to 200 sessions and 5000 requests).
  let start = warm;

  // Then the rest in turns: a session, then its share of the requests
  // (WORKERS at a time). Sessions and requests at once would measure the
  // machine's two cores more than the host.
  const t1 = Date.now();
  const ids = [first];
  const samples = [];
  let cyclesMs = 0;
  let requestsMs = 0;
  let done = WARMUP_REQUESTS;
  for (let i = 1; i < CYCLES || done < REQUESTS; i++) {
    if (i < CYCLES) {
      const c0 = Date.now();
      ids.push(await sessionCycle(hello));
      cyclesMs += Date.now() - c0;
    }
    const share = i < CYCLES ? Math.ceil((REQUESTS - WARMUP_REQUESTS) / Math.max(CYCLES - 1, 1)) : REQUESTS;
    const to = Math.min(REQUESTS, done + share);
    const r0 = Date.now();
    await requests(done, to);
    requestsMs += Date.now() - r0;
    done = to;
    if (i % Math.max(1, Math.floor(CYCLES / 10)) === 0) {
      // Once that session stopped: malloc_trim() on an idle host.
      await settled([ids.at(-1)]);
      const f = await figures(pid);
      samples.push({ cycles: ids.length, requests: done, ...f });
      if (samples.length === 1)
        start = f;
      if (process.env.FUNKHAUS_SOAK_PROGRESS)
        console.log(`# soak: ${ids.length} sessions, ${done} requests: ${fmt(f)}`);
    }
  }
  assert.equal(new Set(ids).size, CYCLES, 'every cycle had a session of its own');
  await settled(ids);

  // The host closes its side once it sees ours close, and GLib's idle
  // workers go after a while: give both a moment.
  let end = null;
  await poll(async () => {
    end = await hostFigures(pid, host.port);
    return end.fds <= start.fds + FD_SLACK && end.threads <= start.threads + THREAD_SLACK &&
      end.closeWait === 0;
  }, { timeout: 20000, interval: 500, what: 'the host to settle' }).catch(() => {});
  if (!noGdb)
    end.trimmedRssKiB = await trimmedRssKiB(pid);
  const answered = (await request('/api/host')).status;
  const report = {
    requests: REQUESTS, cycles: CYCLES, workers: WORKERS, backend: noWlroots ? 'synthetic' : 'wlroots',
    warmupMs: t1 - t0, totalMs: Date.now() - t1, requestsMs, cyclesMs, warm, start, end, samples,
    bounds: { fds: FD_SLACK, threads: THREAD_SLACK, trimmedRssKiB: RSS_SLACK_KIB },
  };
  console.log(`# soak: ${REQUESTS} requests in ${requestsMs} ms, ${CYCLES} ${report.backend} sessions in ` +
    `${cyclesMs} ms (${(cyclesMs / Math.max(CYCLES - 1, 1)).toFixed(0)} ms each)` +
    (noWlroots ? ` (no wlroots: ${noWlroots})` : ''));
  console.log(`# soak: after a tenth of the run (the bounds' start): ${fmt(start)}`);
  console.log(`# soak: at the end: ${fmt(end)}`);
  if (process.env.FUNKHAUS_SOAK_REPORT)
    await writeFile(process.env.FUNKHAUS_SOAK_REPORT, JSON.stringify(report, null, 2) + '\n');

  assert.equal(end.closeWait, 0, `${end.closeWait} sockets of the host's port in CLOSE-WAIT`);
  assert.ok(end.fds <= start.fds + FD_SLACK, `descriptors: ${start.fds} → ${end.fds}`);
  assert.ok(end.threads <= start.threads + THREAD_SLACK, `threads: ${start.threads} → ${end.threads}`);
  if (noGdb)
    console.log(`# soak: resident memory not checked: ${noGdb}`);
  else if (process.env.FUNKHAUS_SOAK_NO_RSS)
    // Under ASan freed memory waits in its quarantine and malloc_trim is
    // not ASan's: resident memory says nothing there (scripts/test.sh sets
    // this for the ASan run; the bound is checked in build/).
    console.log(`# soak: resident memory not checked: ${process.env.FUNKHAUS_SOAK_NO_RSS}`);
  else
    assert.ok(end.trimmedRssKiB <= start.trimmedRssKiB + RSS_SLACK_KIB,
      `RSS after malloc_trim: ${start.trimmedRssKiB} → ${end.trimmedRssKiB} KiB (on the way: ` +
      `${samples.map((f) => `${f.cycles} sessions ${f.trimmedRssKiB}`).join(', ')} KiB)`);
  assert.equal(answered, 200, 'the host still answers');
}, { timeout: Number(process.env.FUNKHAUS_SOAK_TIMEOUT_MS || 300000) });
