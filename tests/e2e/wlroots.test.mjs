// End to end with real desktops: `funkhaus serve --backend wlroots` gives
// every client its own headless sway (in its sandbox, run as the account of
// the client's device, fh-<device id>: lib/sandbox.mjs), with
// tests/apps/fh-input-recorder as the session's app. The recorder paints its
// window in a colour of its own and writes every input event it gets to
// RECORD_DIR/<session id>.log, so the tests can check what each session
// showed and received.
//
// The tests run in order: two clients (picture, input isolation), a crashed
// compositor, SIGINT with live sessions, then 50 short sessions on a second
// host (`--grace 0`) that must leave nothing behind.
//
// Needs: root (the host runs compositors as device accounts), sway, Xwayland,
// Chromium, and build/tests/fh-input-recorder (FUNKHAUS_RECORDER). The
// recorder runs from a copy in RECORD_DIR, a sandbox-binds= folder: the
// sandbox shows the build tree to no app. The devices' homes are in a
// temporary homes-dir; the accounts the hosts made are removed at the end.

import { before, after } from 'node:test';
import { reportingTest } from './lib/report.mjs';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { execFile } from 'node:child_process';
import { mkdtemp, chmod, readFile, readdir, readlink, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startHost, poll, repoRoot } from './lib/host.mjs';
import { launchBrowser, openClient, connectClient, colorClose, colorDistance } from './lib/client.mjs';
import { copyIntoBind, makeHomesDir, removeDeviceAccounts, sandboxConfig, sessionProcesses, sessionRuntimeDirs } from './lib/sandbox.mjs';

const TOLERANCE = 24;
const RECORDER = process.env.FUNKHAUS_RECORDER || join(repoRoot, 'build', 'tests', 'fh-input-recorder');
const A_MODE = { width: 800, height: 600, refresh: 30 };
const B_MODE = { width: 640, height: 480, refresh: 30 };
const LEAK_CYCLES = 50;
const EVDEV = { a: 30, b: 48, h: 35, l: 38, o: 24, p: 25, r: 19, v: 47 };

let recordDir = null;
let homesParent = null; // homes-dir's parent (0755)
let recorderCopy = null; // RECORDER, copied into recordDir
let host = null;       // the host of tests 1–4
let leakHost = null;   // the --grace 0 host of the last test
let browser = null;
let A = null;
let B = null;
const extraClients = [];
const sessions = {};   // name → session id, for failure reports

function funkhausUid() {
  const line = readFileSync('/etc/passwd', 'utf8').split('\n').find((l) => l.startsWith('funkhaus:'));
  return line ? Number(line.split(':')[2]) : null;
}
const FH_UID = funkhausUid();

const skip = process.getuid?.() !== 0 ? 'the wlroots backend needs root (it runs compositors as funkhaus)'
  : FH_UID === null ? 'no funkhaus account'
  : !existsSync(RECORDER) ? `no recorder at ${RECORDER} (build it, or set FUNKHAUS_RECORDER)`
  : !existsSync('/usr/bin/sway') ? 'no sway' : false;
// In CI the setup script provides all of this: a missing piece there is a
// failure, never a skip counted as a pass.
if (skip && process.env.CI)
  throw new Error(`wlroots tests cannot run in CI: ${skip}`);

async function recordOf(session) {
  try {
    return await readFile(join(recordDir, `${session}.log`), 'utf8');
  } catch (e) {
    if (e.code === 'ENOENT')
      return '';
    throw e;
  }
}

/** Wraps a test so a failure carries every host log, browser log and record. */
function e2e(name, fn, { timeout = 60000 } = {}) {
  reportingTest(name, { timeout, skip }, async () => [
    host && `--- host log ---\n${host.logs()}`,
    leakHost && `--- host log (--grace 0 host) ---\n${leakHost.logs()}`,
    ...[A, B, ...extraClients].map((c) => c?.report()),
    ...await Promise.all(Object.entries(sessions).map(async ([n, s]) =>
      `--- record of ${n} (${s}) ---\n${await recordOf(s).catch((x) => x.message)}`)),
  ], fn);
}

/** "pid comm FUNKHAUS_SESSION" of every process whose session is in `ids`
 *  (full ids, or 8-digit prefixes as the host logs them). */
/** The 8-digit session prefixes a host has logged. */
function loggedSessions(h) {
  return [...new Set([...h.logs().matchAll(/session ([0-9a-f]{8})\b/g)].map((m) => m[1]))];
}

/** Where the session's runtime dir can be: under funkhaus's runtime base
 *  or any device account's (fh-*), as they are when this is called. */
function compositorDirs(session) {
  return sessionRuntimeDirs(session);
}

/** X server sockets and lock files: /tmp/.X11-unix/X<n>, /tmp/.X<n>-lock. */
async function x11Sockets() {
  let socks = [];
  try {
    socks = (await readdir('/tmp/.X11-unix')).filter((n) => /^X\d+$/.test(n));
  } catch { /* none yet */ }
  const locks = (await readdir('/tmp')).filter((n) => /^\.X\d+-lock$/.test(n));
  return [...socks, ...locks];
}

async function fdCount(pid) {
  return (await readdir(`/proc/${pid}/fd`)).length;
}

async function fdList(pid) {
  const fds = await readdir(`/proc/${pid}/fd`);
  const links = await Promise.all(fds.map((fd) => readlink(`/proc/${pid}/fd/${fd}`).catch(() => '?')));
  return fds.map((fd, i) => `${fd} → ${links[i]}`).join('\n');
}

/** The recorder's `ready` line: {width, height, rgb}. */
async function readyOf(session) {
  const log = await poll(async () => {
    const l = await recordOf(session);
    return /^ready /m.test(l) ? l : null;
  }, { timeout: 15000, what: `the recorder of ${session} to be ready` });
  const [, w, h, hex] = /^ready (\d+) (\d+) ([0-9a-f]{6})$/m.exec(log);
  return { width: Number(w), height: Number(h), rgb: [0, 2, 4].map((i) => parseInt(hex.slice(i, i + 2), 16)) };
}

/** SIGINT and the exit within 5 s; if the host hangs instead, the error
 *  carries its threads' stacks (gdb, where installed) and what still runs. */
async function stopOrExplain(h, ids) {
  const t0 = Date.now();
  h.proc.kill('SIGINT');
  try {
    await poll(() => h.exit, { timeout: 5000, what: 'the host to exit after SIGINT' });
    return { ...h.exit, ms: Date.now() - t0 };
  } catch (e) {
    let stacks = '(no gdb)';
    if (existsSync('/usr/bin/gdb')) {
      stacks = await new Promise((res) => execFile('/usr/bin/gdb',
        ['-p', String(h.proc.pid), '-batch', '-ex', 'thread apply all bt'], { timeout: 30000 },
        (err, out, errOut) => res(`${out}${errOut}`.split('\n').filter((l) => /^(#|Thread )/.test(l)).join('\n'))));
    }
    e.message += `\nsession processes: ${(await sessionProcesses(ids)).join('; ')}\n--- host threads ---\n${stacks}`;
    h.proc.kill('SIGKILL');
    await poll(() => h.exit, { timeout: 5000, what: 'the host to die after SIGKILL' }).catch(() => {});
    // What a killed host leaves behind is not for the next test to find.
    for (const p of await sessionProcesses(ids))
      try { process.kill(p.pid, 'SIGKILL'); } catch { /* gone */ }
    throw e;
  }
}

function keyLines(log) {
  return log.split('\n').filter((l) => l.startsWith('key '));
}

function expectedKeys(word) {
  return [...word].flatMap((ch) => [`key ${EVDEV[ch]} down`, `key ${EVDEV[ch]} up`]);
}

before(async () => {
  if (skip)
    return;
  recordDir = await mkdtemp(join(tmpdir(), 'fh-rec-'));
  await chmod(recordDir, 0o1777);
  recorderCopy = await copyIntoBind(RECORDER, recordDir);
  homesParent = await mkdtemp(join(tmpdir(), 'fh-homes-'));
  const homesDir = await makeHomesDir(homesParent);
  host = await startHost({
    backend: 'wlroots',
    grace: 30,
    config: `[host]\napp=${recorderCopy} ${recordDir}/%s.log --animate\n` +
      sandboxConfig({ homesDir, binds: [recordDir] }),
  });
  browser = await launchBrowser();
});

after(async () => {
  for (const c of [A, B, ...extraClients])
    await c?.close();
  await browser?.close();
  // The device accounts the hosts made: once the hosts are gone, before
  // their devices.ini is.
  const problems = [];
  for (const h of [host, leakHost]) {
    if (h && !h.exit)
      await h.stop().catch(() => {});
    problems.push(...await removeDeviceAccounts(h));
  }
  await host?.cleanup();
  await leakHost?.cleanup();
  if (recordDir && !process.env.FUNKHAUS_KEEP_TMP)
    await rm(recordDir, { recursive: true, force: true });
  if (homesParent && !process.env.FUNKHAUS_KEEP_TMP)
    await rm(homesParent, { recursive: true, force: true });
  if (problems.length)
    throw new Error(`device accounts left behind: ${problems.join('; ')}`);
});

e2e('two wlroots sessions stream at once, each at its own mode with its own app', async () => {
  const pinA = host.pin;
  A = await connectClient(browser, host, 'A', { pin: pinA, ...A_MODE });
  const pinB = await host.pair();
  B = await connectClient(browser, host, 'B', { pin: pinB, ...B_MODE });

  const wa = await A.get(() => window.funkhaus.welcome);
  const wb = await B.get(() => window.funkhaus.welcome);
  sessions.A = wa.session;
  sessions.B = wb.session;
  assert.notEqual(wa.session, wb.session, 'each client has its own session');
  assert.equal(wa.display?.backend, 'wlroots');
  assert.equal(wb.display?.backend, 'wlroots');
  assert.deepEqual(wa.mode, A_MODE);
  assert.deepEqual(wb.mode, B_MODE);

  // The `ready` line comes with the recorder's first buffer, drawn before
  // sway tiles the window (its size may not be the output's yet); the
  // picture below shows that the window fills the output.
  const [readyA, readyB] = [await readyOf(wa.session), await readyOf(wb.session)];
  assert.ok(colorDistance(readyA.rgb, readyB.rgb) > 3 * TOLERANCE,
    `the two recorders' colours must differ: ${readyA.rgb} vs ${readyB.rgb}`);

  await Promise.all([A.waitFrames(45, { timeout: 30000 }), B.waitFrames(45, { timeout: 30000 })]);

  for (const [c, mode, ready, other] of [[A, A_MODE, readyA, readyB], [B, B_MODE, readyB, readyA]]) {
    const size = await c.get(() => window.funkhaus.lastFrameSize);
    assert.deepEqual(size, { width: mode.width, height: mode.height }, `${c.name}: decoded picture size`);
    // The white bar sweeps across 1/16 of the width: of 6 points along a
    // row at most one may be under it. Rows near the top and the bottom
    // edge: the window covers the whole output.
    const samples = [];
    for (const y of [8, Math.floor(mode.height * 0.6), mode.height - 8]) {
      const row = [];
      for (let i = 0; i < 6; i++) {
        const x = i === 5 ? mode.width - 8 : Math.floor(((i + 0.5) * mode.width) / 6);
        row.push([x, y, await c.sampleColor(x, y)]);
      }
      const own = row.filter(([, , rgb]) => colorClose(rgb, ready.rgb, TOLERANCE));
      assert.ok(own.length >= 5, `${c.name}: colours ${JSON.stringify(row)}, its recorder's is ${ready.rgb}`);
      samples.push(...row);
    }
    assert.ok(!samples.some(([, , rgb]) => colorClose(rgb, other.rgb, TOLERANCE)),
      `${c.name} shows the other session's colour: ${JSON.stringify(samples)} vs ${other.rgb}`);
  }
});

e2e('input reaches only the app of the session whose client sent it', async () => {
  assert.ok(A && B, 'needs the clients of the first test');
  const [sa, sb] = [sessions.A, sessions.B];

  const box = await A.page.locator('#screen').boundingBox();
  const click = { x: Math.round(box.x + 0.61 * box.width), y: Math.round(box.y + 0.37 * box.height) };
  const expected = {
    x: Math.floor((click.x - box.x) * A_MODE.width / box.width),
    y: Math.floor((click.y - box.y) * A_MODE.height / box.height),
  };

  await Promise.all([
    (async () => {
      await A.page.keyboard.type('alpha', { delay: 30 });
      await A.page.mouse.click(click.x, click.y);
    })(),
    B.page.keyboard.type('bravo', { delay: 30 }),
  ]);

  // Wait for everything to arrive; on a timeout the comparisons below say
  // what is missing.
  const settle = (session, done) => poll(async () => (done(await recordOf(session)) ? true : null),
    { timeout: 5000 }).catch(() => {});
  await settle(sa, (l) => keyLines(l).length >= 10 && l.includes('button 272 up'));
  await settle(sb, (l) => keyLines(l).length >= 10);
  const logA = await recordOf(sa);
  const logB = await recordOf(sb);
  await new Promise((r) => setTimeout(r, 500));
  assert.equal(await recordOf(sa), logA, "A's record grew after its input was complete");
  assert.equal(await recordOf(sb), logB, "B's record grew after its input was complete");

  // A first key that arrives only as "up" was pressed before the app had a
  // wl_keyboard: the seat got its (virtual) keyboard only with that key.
  const hint = (log) => (/ up$/.test(keyLines(log)[0] ?? '')
    ? '\n(the first key press is missing: did it reach the seat before the app had bound a wl_keyboard?)' : '');
  assert.deepEqual(keyLines(logA), expectedKeys('alpha'), `A's keys; A's record:\n${logA}${hint(logA)}`);
  assert.deepEqual(keyLines(logB), expectedKeys('bravo'), `B's keys; B's record:\n${logB}${hint(logB)}`);

  const linesA = logA.split('\n');
  const down = linesA.indexOf('button 272 down');
  const up = linesA.indexOf('button 272 up');
  assert.ok(down >= 0 && up > down, `A's click: down then up; A's record:\n${logA}`);
  const motion = linesA.slice(0, down).filter((l) => l.startsWith('motion ')).pop();
  assert.equal(motion, `motion ${expected.x} ${expected.y}`, `A's pointer before the click; A's record:\n${logA}`);
  assert.equal(linesA.filter((l) => l.startsWith('button ')).length, 2, `one click in A; A's record:\n${logA}`);
  assert.ok(!/^(button|axis) /m.test(logB), `B got pointer input it never sent:\n${logB}`);
});

e2e('a crashed compositor fails only its own session and leaves nothing behind', async () => {
  assert.ok(A && B, 'needs the clients of the first test');
  const sa = sessions.A;
  const procsA = await sessionProcesses([sa]);
  const sway = procsA.filter((p) => p.comm === 'sway');
  assert.equal(sway.length, 1, `one sway for A's session; A's processes: ${procsA.join('; ')}`);
  const dirsA = compositorDirs(sa);
  assert.ok(dirsA.some((d) => existsSync(d)), `A's compositor runtime dir is one of ${dirsA.join(', ')}`);

  const bBefore = (await B.hooks()).framesDecoded;
  process.kill(sway[0].pid, 'SIGKILL');

  await A.waitFor((f) => f.lastError && f.lastError.closeCode === 4004, { what: 'close 4004 at A', timeout: 10000 });
  const h = await A.hooks();
  assert.equal(h.lastError.code, 'session-failed');
  assert.equal(h.state, 'failed');
  assert.equal(h.sessionState?.state, 'failed', `A got a failed state message: ${JSON.stringify(h.sessionState)}`);
  assert.equal(h.closes.at(-1).code, 4004);

  // B streams on: its frame count keeps climbing, second after second.
  let last = bBefore;
  for (let i = 0; i < 3; i++) {
    await new Promise((r) => setTimeout(r, 1000));
    const hb = await B.hooks();
    assert.ok(hb.framesDecoded >= last + 10,
      `B decoded ${hb.framesDecoded - last} frames in second ${i + 1} after A's crash (state ${hb.state})`);
    assert.equal(hb.state, 'streaming');
    last = hb.framesDecoded;
  }
  assert.equal((await B.hooks()).closes.length, 0, "B's socket stayed open");

  await poll(async () => (await sessionProcesses([sa])).length === 0, { timeout: 5000, what: "A's processes to be gone" })
    .catch(async (e) => {
      e.message += `\nleft: ${(await sessionProcesses([sa])).join('; ')}`;
      throw e;
    });
  await poll(() => dirsA.every((d) => !existsSync(d)), { timeout: 5000, what: `A's compositor dir (${dirsA.join(', ')}) to be gone` });
  assert.ok((await sessionProcesses([sessions.B])).some((p) => p.comm === 'sway'), "B's sway still runs");
});

e2e('SIGINT with live wlroots sessions stops the host and every compositor', async () => {
  assert.ok(B, 'needs the clients of the first test');
  const ids = [...new Set([...Object.values(sessions), ...loggedSessions(host)])];
  const live = await sessionProcesses(ids);
  assert.ok(live.some((p) => p.comm === 'sway'), `a live sway before SIGINT: ${live.join('; ')}`);
  const res = await stopOrExplain(host, ids);
  assert.equal(res.signal, null, `exited by signal ${res.signal}`);
  assert.equal(res.code, 0, 'exit code');
  assert.ok(res.ms < 5000, `took ${res.ms} ms`);
  const left = await sessionProcesses(ids);
  assert.deepEqual(left, [], `processes of this host's sessions left after it exited (before SIGINT: ${live.join('; ')})`);
  for (const s of Object.values(sessions))
    for (const d of compositorDirs(s))
      assert.ok(!existsSync(d), `${d} is left behind`);
  assert.ok(!existsSync(host.sessionsDir), `${host.sessionsDir} is left behind`);
  await B.waitFor((f) => f.closes.some((c) => c.code === 1001), { what: 'close 1001 at B', timeout: 5000 });
}, { timeout: 30000 });

e2e(`${LEAK_CYCLES} short wlroots sessions leave no process, directory, socket or fd behind`, async () => {
  const x11Before = await x11Sockets();
  leakHost = await startHost({
    backend: 'wlroots',
    grace: 0,
    config: `[host]\napp=${recorderCopy} ${recordDir}/%s.log\n` +
      sandboxConfig({ homesDir: join(homesParent, 'homes'), binds: [recordDir] }),
  });
  const page = await openClient(browser, leakHost, 'L (leak)', {}, { viewport: { width: 640, height: 480 } });
  extraClients.push(page);
  const cred = await page.page.evaluate(async (pin) => {
    const r = await fetch('/api/pair', { method: 'POST', body: JSON.stringify({ pin, name: 'leak' }) });
    return r.json();
  }, leakHost.pin);
  assert.ok(cred.device && cred.token, `paired: ${JSON.stringify(cred)}`);
  const hello = { type: 'hello', protocol: 1, credential: cred, mode: { width: 320, height: 240, refresh: 30 }, codecs: ['h264'] };

  const cycle = () => page.page.evaluate((hello) => new Promise((resolve, reject) => {
    const ws = new WebSocket(`wss://${location.host}/ws`);
    let welcome = null;
    const timer = setTimeout(() => { ws.close(); reject(new Error('no welcome in 15 s')); }, 15000);
    ws.onopen = () => ws.send(JSON.stringify(hello));
    ws.onmessage = (e) => {
      if (typeof e.data !== 'string')
        return;
      const m = JSON.parse(e.data);
      if (m.type === 'welcome') {
        welcome = m;
        clearTimeout(timer);
        ws.close();
      } else if (m.type === 'error') {
        reject(new Error(`error ${JSON.stringify(m)}`));
      }
    };
    ws.onclose = (e) => (welcome ? resolve(welcome) : reject(new Error(`closed ${e.code} ${e.reason} before welcome`)));
  }), hello);

  const stopped = (id) => new RegExp(`session ${id.slice(0, 8)}: .*→ stopped`).test(leakHost.logs());
  const ids = [];
  const t0 = Date.now();
  let baseline = null;
  let baselineFds = "";
  for (let i = 0; i < LEAK_CYCLES; i++) {
    const w = await cycle();
    assert.equal(w.display?.backend, 'wlroots', `cycle ${i}: ${JSON.stringify(w)}`);
    ids.push(w.session);
    if (i === 0) {
      sessions['leak #0'] = w.session;
      await poll(() => stopped(w.session), { timeout: 10000, what: 'the first session to stop' });
      await poll(async () => (await sessionProcesses([w.session])).length === 0,
        { timeout: 5000, what: "the first session's processes to be gone" });
      await new Promise((r) => setTimeout(r, 300));
      baseline = await fdCount(leakHost.proc.pid);
      baselineFds = await fdList(leakHost.proc.pid);
    }
  }
  const loopMs = Date.now() - t0;
  assert.equal(new Set(ids).size, LEAK_CYCLES, 'every cycle had a new session');
  await poll(() => stopped(ids.at(-1)), { timeout: 10000, what: 'the last session to stop' });
  assert.ok(ids.every(stopped), `every session stopped: not ${ids.filter((s) => !stopped(s)).join(', ')}`);

  // The recorder ran in (at least most of) them: the app is part of a session.
  let ready = 0;
  for (const s of ids)
    if (/^ready /m.test(await recordOf(s)))
      ready++;

  await poll(async () => (await sessionProcesses(ids)).length === 0, { timeout: 5000, what: 'no process of these sessions' })
    .catch(async (e) => {
      e.message += `\nleft: ${(await sessionProcesses(ids)).join('; ')}`;
      throw e;
    });
  const leftDirs = ids.flatMap(compositorDirs).filter((d) => existsSync(d));
  assert.deepEqual(leftDirs, [], 'compositor runtime dirs left');
  const sessionDirs = existsSync(leakHost.sessionsDir) ? await readdir(leakHost.sessionsDir) : [];
  assert.deepEqual(sessionDirs, [], `${leakHost.sessionsDir} is not empty`);
  const x11After = await x11Sockets();
  assert.ok(x11After.length <= x11Before.length, `X11 sockets and locks: before ${x11Before.join(' ')}, after ${x11After.join(' ')}`);
  let fds = null;
  await poll(async () => (fds = await fdCount(leakHost.proc.pid)) <= baseline, { timeout: 3000, what: 'the fd count to settle' })
    .catch(async (e) => {
      e.message += `\nhost fds: ${fds} after ${LEAK_CYCLES} sessions, baseline ${baseline} after the first` +
        `\nbaseline fds:\n${baselineFds}\nnow:\n${await fdList(leakHost.proc.pid)}`;
      throw e;
    });
  console.log(`# leak: ${LEAK_CYCLES} sessions in ${loopMs} ms (${(loopMs / LEAK_CYCLES).toFixed(0)} ms each), ` +
    `${ready} recorders ready, fds ${fds} (baseline ${baseline}), X11 sockets+locks ${x11Before.length} → ${x11After.length}`);
  assert.ok(ready >= 1, 'no recorder ever started in these sessions');

  const res = await stopOrExplain(leakHost, ids);
  assert.equal(res.code, 0, `the --grace 0 host exit: ${JSON.stringify(res)}`);
  // Under ASan a session takes about 1.6 s to come and go (0.5 s in the
  // plain build): 50 of them and the host's stop take over 90 s there.
}, { timeout: 180000 });
