// A host killed with SIGKILL while it has live wlroots sessions (sandboxed,
// each with its own PipeWire) and a private PipeWire stack: the next host,
// started on the same runtime dir without systemd, removes everything the
// dead one left (backends/leftovers.c) and says so in one line. Bare
// WebSocket clients; the recorder (tests/apps) is the sessions' app.
//
// Needs what tests/e2e/wlroots.test.mjs needs: root, the funkhaus account,
// sway, build/tests/fh-input-recorder.

import { before, after } from 'node:test';
import assert from 'node:assert/strict';
import https from 'node:https';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, chmod, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startHost, poll, repoRoot } from './lib/host.mjs';
import { rawWebSocket } from './lib/rawws.mjs';
import { reportingTest } from './lib/report.mjs';
import { copyIntoBind, makeHomesDir, removeDeviceAccounts, sandboxConfig, sessionProcesses, sessionRuntimeDirs } from './lib/sandbox.mjs';

const RECORDER = process.env.FUNKHAUS_RECORDER || join(repoRoot, 'build', 'tests', 'fh-input-recorder');
const hasFunkhaus = readFileSync('/etc/passwd', 'utf8').split('\n').some((l) => l.startsWith('funkhaus:'));
const skip = process.getuid?.() !== 0 ? 'the wlroots backend needs root (it runs compositors as device accounts)'
  : !hasFunkhaus ? 'no funkhaus account'
  : !existsSync(RECORDER) ? `no recorder at ${RECORDER} (build it, or set FUNKHAUS_RECORDER)`
  : !existsSync('/usr/bin/sway') ? 'no sway' : false;
if (skip && process.env.CI)
  throw new Error(`the crash test cannot run in CI: ${skip}`);

let recordDir = null;
let homesParent = null;
let crashed = null; // the host killed with SIGKILL
let next = null;    // the host started after it
const clients = [];

function e2e(name, fn, { timeout = 120000 } = {}) {
  reportingTest(name, { timeout, skip }, async () => [
    crashed && `--- host log (killed) ---\n${crashed.logs()}`,
    next && `--- host log (next) ---\n${next.logs()}`,
  ], fn);
}

async function streamingSession(h, name) {
  const credential = await h.pairDevice(name);
  const ws = await rawWebSocket(h.port, '/ws', { lifetimeMs: 120000 });
  clients.push(ws);
  ws.send(1, JSON.stringify({ type: 'hello', protocol: 1, credential,
    mode: { width: 320, height: 240, refresh: 30 }, codecs: ['h264'] }));
  const welcome = await poll(() => ws.messages.find((m) => m.type === 'welcome') || (ws.close && Promise.reject(new Error(`${name} closed: ${JSON.stringify(ws.close)} ${JSON.stringify(ws.messages)}`))),
    { timeout: 45000, what: `${name}'s welcome` });
  await poll(() => ws.binary >= 3, { timeout: 20000, what: `${name}'s first frames` });
  return welcome.session;
}

/** The body of GET `path` from `h` (localhost: metrics=localhost lets it in). */
function get(h, path) {
  return new Promise((resolve, reject) => {
    https.get({ host: 'localhost', port: h.port, path, rejectUnauthorized: false }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d) => { text += d; });
      res.on('end', () => (res.statusCode === 200 ? resolve(text) : reject(new Error(`${path}: ${res.statusCode} ${text}`))));
    }).on('error', reject);
  });
}

/** Pids whose environment has `KEY=value` with value passing `test`. */
async function processesWithEnv(key, test) {
  const found = [];
  for (const name of await readdir('/proc')) {
    if (!/^\d+$/.test(name))
      continue;
    try {
      const environ = (await readFile(`/proc/${name}/environ`, 'latin1')).split('\0');
      const stat = await readFile(`/proc/${name}/stat`, 'utf8');
      if (stat.slice(stat.lastIndexOf(')') + 2)[0] === 'Z')
        continue;
      const entry = environ.find((e) => e.startsWith(`${key}=`));
      if (entry && test(entry.slice(key.length + 1)))
        found.push(`${name} ${stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'))}`);
    } catch { /* gone */ }
  }
  return found;
}

/** Cgroup folders called funkhaus-session-<id> under /sys/fs/cgroup. */
async function sessionCgroups(ids, dir = '/sys/fs/cgroup', depth = 0) {
  const found = [];
  if (depth > 8)
    return found;
  let entries = [];
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch {
    return found;
  }
  for (const e of entries) {
    if (!e.isDirectory())
      continue;
    const path = join(dir, e.name);
    if (ids.some((id) => e.name === `funkhaus-session-${id}`))
      found.push(path);
    else
      found.push(...await sessionCgroups(ids, path, depth + 1));
  }
  return found;
}

before(async () => {
  if (skip)
    return;
  recordDir = await mkdtemp(join(tmpdir(), 'fh-rec-'));
  await chmod(recordDir, 0o1777);
  const recorderCopy = await copyIntoBind(RECORDER, recordDir);
  homesParent = await mkdtemp(join(tmpdir(), 'fh-homes-'));
  const homesDir = await makeHomesDir(homesParent);
  crashed = await startHost({
    backend: 'wlroots',
    grace: 30,
    config: `[host]\naudio=private\napp=${recorderCopy} ${recordDir}/%s.log\n` +
      sandboxConfig({ homesDir, binds: [recordDir] }),
  });
});

after(async () => {
  for (const ws of clients)
    ws.sock.destroy();
  const problems = [];
  if (next && !next.exit)
    await next.stop().catch(() => {});
  if (crashed && !crashed.exit)
    crashed.proc.kill('SIGKILL');
  // Both hosts share one config home (the devices): remove the accounts
  // once, then the later host's folders, then the first one's.
  problems.push(...await removeDeviceAccounts(crashed));
  await next?.cleanup();
  await crashed?.cleanup();
  if (recordDir && !process.env.FUNKHAUS_KEEP_TMP)
    await rm(recordDir, { recursive: true, force: true });
  if (homesParent && !process.env.FUNKHAUS_KEEP_TMP)
    await rm(homesParent, { recursive: true, force: true });
  if (problems.length)
    throw new Error(`device accounts left behind: ${problems.join('; ')}`);
});

e2e('after kill -9 with live sessions, the next host removes everything the dead one left', async () => {
  const ids = [await streamingSession(crashed, 'A'), await streamingSession(crashed, 'B')];
  const oldPid = crashed.proc.pid;
  const audioDir = /started a private PipeWire stack in (\S+)/.exec(crashed.logs())?.[1];
  assert.ok(audioDir && existsSync(audioDir), `the private PipeWire's dir: ${audioDir}`);
  const runtimeDirs = ids.flatMap((id) => sessionRuntimeDirs(id)).filter((d) => existsSync(d));
  assert.equal(runtimeDirs.length, 2, `each session has a runtime dir: ${runtimeDirs}`);
  const sessionDirs = ids.map((id) => join(crashed.sessionsDir, id));
  const cgroups = await sessionCgroups(ids);
  const ofHost = () => processesWithEnv('FUNKHAUS_HOST', (v) => v.startsWith(`${oldPid}:`));
  const inAudio = () => processesWithEnv('XDG_RUNTIME_DIR', (v) => v === audioDir);
  const before = { host: await ofHost(), audio: await inAudio(), sessions: await sessionProcesses(ids) };
  console.log(`# before: ${before.host.length} processes with FUNKHAUS_HOST, ${before.audio.length} ` +
    `in the private PipeWire, ${before.sessions.length} of the sessions; cgroups: ${cgroups.join(' ') || 'none'}`);
  assert.ok(before.audio.length > 0, 'the private PipeWire runs');
  assert.ok(before.sessions.length > 0, 'the sessions have processes');
  // While they live, /metrics knows their processes' CPU time and memory,
  // from the host's sample every 5 s (a scrape walks no /proc itself).
  const usage = (metrics, id) => [
    new RegExp(`^funkhaus_session_cpu_seconds_total\\{session="${id}"[^}]*\\} (\\S+)$`, 'm').exec(metrics)?.[1],
    new RegExp(`^funkhaus_session_resident_memory_bytes\\{session="${id}"[^}]*\\} (\\S+)$`, 'm').exec(metrics)?.[1],
  ].map(Number);
  const metrics = await poll(async () => {
    const text = await get(crashed, '/metrics');
    return ids.every((id) => usage(text, id).every((v) => v > 0)) && text;
  }, { timeout: 12000, interval: 500, what: "the sessions' CPU and memory in /metrics" }).catch(async (e) => {
    e.message += `\n${await get(crashed, '/metrics')}`;
    throw e;
  });
  for (const id of ids) {
    const [cpu, rss] = usage(metrics, id);
    console.log(`# session ${id.slice(0, 8)}: ${cpu} CPU seconds, ${rss} bytes resident`);
    assert.ok(cpu > 0 && rss > 1e6, `CPU and memory of session ${id} in /metrics`);
  }

  crashed.proc.kill('SIGKILL');
  await poll(() => crashed.exit, { timeout: 5000, what: 'the host to die' });
  for (const ws of clients)
    ws.sock.destroy();
  // What the kill left (its children are not killed with it).
  const left = [...await ofHost(), ...await inAudio()];
  // (A host of a test running beside this one may sweep them first: the
  // checks below hold whoever removed them.)
  console.log(`# after kill -9: ${left.length} processes left: ${left.join(', ')}; ` +
    `${audioDir} ${existsSync(audioDir) ? 'still there' : 'already gone'}`);

  next = await startHost({
    backend: 'wlroots',
    grace: 30,
    configHome: crashed.env.XDG_CONFIG_HOME,
    runtimeDir: crashed.env.XDG_RUNTIME_DIR,
  });
  const line = /removed what a crashed host left: .*/.exec(next.logs())?.[0];
  assert.ok(line, 'one line says what was removed');
  // Only a host on this runtime dir empties its sessions dir.
  assert.match(line, /2 entries of the sessions dir/);
  console.log(`# ${line}`);

  assert.deepEqual(await ofHost(), [], 'no process of the dead host');
  assert.deepEqual(await inAudio(), [], 'no daemon of its private PipeWire');
  assert.deepEqual((await sessionProcesses(ids)).map(String), [], 'no process of its sessions');
  assert.equal(existsSync(audioDir), false, `${audioDir} is gone`);
  for (const d of [...runtimeDirs, ...sessionDirs])
    assert.equal(existsSync(d), false, `${d} is gone`);
  assert.deepEqual(await sessionCgroups(ids), [], 'no cgroup of its sessions');
  // The new host works: it pairs and streams.
  await streamingSession(next, 'C');
}, { timeout: 180000 });
