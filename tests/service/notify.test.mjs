// The host under systemd's notify protocol, without systemd: the test binds
// NOTIFY_SOCKET itself (notify-listener.py) and runs the real host
// (synthetic backend) with it. READY=1 must come only once the HTTPS port
// listens: the moment READY=1 arrives the host is frozen (SIGSTOP), and a
// TCP connection must still be accepted, which only a socket that already
// listens does. Then STATUS= follows the session count as a client comes
// and goes, WATCHDOG=1 comes at half of WATCHDOG_USEC, and SIGTERM brings
// STOPPING=1 before the host exits. Every datagram must come from the
// host's own pid (the unit says NotifyAccess=main).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, mkdir, rm } from 'node:fs/promises';
import https from 'node:https';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Host, freePort, poll, hostBinary, webDir } from '../e2e/lib/host.mjs';
import { rawWebSocket } from '../e2e/lib/rawws.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const PYTHON = process.env.FUNKHAUS_PYTHON || 'python3';
const WATCHDOG_USEC = 2000000; // pings every second
// By hand: another backend (wlroots: a real sandboxed session) and a
// wrapper command around the host (hardened.sh: the unit's walls; see
// docs/service.md).
const BACKEND = process.env.FUNKHAUS_TEST_BACKEND || 'synthetic';
const WRAP = (process.env.FUNKHAUS_TEST_WRAP || '').split(' ').filter(Boolean);
const AUDIO = BACKEND === 'synthetic' ? ['--audio', 'off'] : [];
// Where the test's folders and NOTIFY_SOCKET go: outside /tmp when the
// wrapper gives the host a /tmp of its own (as systemd's is /run/systemd).
const BASE = process.env.FUNKHAUS_TEST_DIR || tmpdir();
// Built without libsystemd, the host tells nobody anything (meson passes 0).
const unsupported = process.env.FUNKHAUS_NOTIFY === '0'
  ? 'this funkhaus was built without libsystemd: it does not notify' : false;
// scripts/setup.sh installs libsystemd-dev: in CI a host that cannot
// notify is a failure, not a skip.
if (unsupported && process.env.CI)
  throw new Error(`the notify test cannot run in CI: ${unsupported}`);

/** Starts notify-listener.py on `path`; resolves once it is bound. */
async function listen(path) {
  const listener = { notes: [], proc: spawn(PYTHON, [join(here, 'notify-listener.py'), path], { stdio: ['ignore', 'pipe', 'pipe'] }), bound: false, errors: '' };
  let rest = '';
  listener.proc.stdout.setEncoding('utf8');
  listener.proc.stdout.on('data', (chunk) => {
    rest += chunk;
    const lines = rest.split('\n');
    rest = lines.pop();
    for (const line of lines) {
      const note = JSON.parse(line);
      if (note.bound) {
        listener.bound = true;
        continue;
      }
      note.ms = Date.now();
      listener.notes.push(note);
      listener.onNote?.(note);
    }
  });
  listener.proc.stderr.on('data', (d) => { listener.errors += d; });
  await poll(() => {
    if (listener.proc.exitCode !== null)
      throw new Error(`notify-listener.py exited: ${listener.errors}`);
    return listener.bound;
  }, { timeout: 10000, what: 'notify-listener.py to bind' });
  return listener;
}

/** Whether a plain TCP connection to `port` is accepted (by the kernel: the
 *  host may be stopped). */
function tcpAccepted(port) {
  return new Promise((resolve) => {
    const sock = net.connect({ host: '127.0.0.1', port });
    const done = (ok, why) => { sock.destroy(); resolve({ ok, why }); };
    sock.on('connect', () => done(true, 'connected'));
    sock.on('error', (e) => done(false, e.code || e.message));
    setTimeout(() => done(false, 'no answer in 3 s'), 3000).unref();
  });
}

function httpsRequest(port, path, { method = 'GET', body = null } = {}) {
  return new Promise((resolve, reject) => {
    const req = https.request({ host: 'localhost', port, path, method, rejectUnauthorized: false,
      headers: body ? { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) } : {} }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d) => { text += d; });
      res.on('end', () => resolve({ status: res.statusCode, text }));
    });
    req.on('error', reject);
    req.setTimeout(10000, () => req.destroy(new Error(`${method} ${path}: no answer in 10 s`)));
    req.end(body ?? undefined);
  });
}

const sessionsIn = (note) => {
  const m = /^STATUS=.* (\d+) sessions?$/m.exec(note.text);
  return m ? Number(m[1]) : null;
};

test('the host tells NOTIFY_SOCKET: READY=1 once it listens, STATUS= per session, WATCHDOG=1, STOPPING=1', { timeout: 90000, skip: unsupported }, async () => {
  const tmp = await mkdtemp(join(BASE, 'funkhaus-notify-'));
  const host = new Host();
  let listener = null;
  const readyCheck = {};
  try {
    const dirs = {};
    for (const d of ['home', 'config', 'runtime', 'state']) {
      dirs[d] = join(tmp, d);
      await mkdir(dirs[d], { mode: 0o700 });
    }
    listener = await listen(join(tmp, 'notify.sock'));
    host.port = await freePort();
    // The moment READY=1 arrives: freeze its sender, and see whether the
    // port already accepts.
    listener.onNote = (note) => {
      if (!/^READY=1$/m.test(note.text) || readyCheck.started)
        return;
      readyCheck.started = true;
      try {
        process.kill(note.pid, 'SIGSTOP');
      } catch (e) {
        readyCheck.result = { ok: false, why: `cannot stop pid ${note.pid}: ${e.message}` };
        return;
      }
      tcpAccepted(host.port).then((r) => {
        readyCheck.result = r;
        process.kill(note.pid, 'SIGCONT');
      });
    };

    host.env = {
      ...process.env,
      HOME: dirs.home,
      XDG_CONFIG_HOME: dirs.config,
      XDG_RUNTIME_DIR: dirs.runtime,
      XDG_STATE_HOME: dirs.state,
      FUNKHAUS_WEB_DIR: webDir,
      NOTIFY_SOCKET: join(tmp, 'notify.sock'),
      WATCHDOG_USEC: String(WATCHDOG_USEC),
    };
    delete host.env.WATCHDOG_PID;
    const argv = [...WRAP, hostBinary, 'serve', '--port', String(host.port), '--backend', BACKEND,
      '--grace', '1', '--gamestream', 'off', ...AUDIO];
    host.lines.push([0, 'cmd', argv.join(' ')]);
    host.proc = spawn(argv[0], argv.slice(1), { env: host.env, stdio: ['ignore', 'pipe', 'pipe'] });
    host.collect(host.proc.stdout, 'out');
    host.collect(host.proc.stderr, 'err');
    host.proc.on('exit', (code, signal) => {
      host.exit = { code, signal };
      host.lines.push([Date.now() - host.started, 'exit', `code ${code} signal ${signal}`]);
    });
    const pid = host.proc.pid;
    const notes = listener.notes;

    // READY=1, with the port already listening at that moment.
    await poll(() => {
      if (host.exit)
        throw new Error(`the host exited (${JSON.stringify(host.exit)})`);
      return readyCheck.result;
    }, { timeout: 30000, what: 'READY=1 and the check of the port' });
    assert.deepEqual(readyCheck.result, { ok: true, why: 'connected' },
      'the HTTPS port accepts connections when READY=1 arrives');
    const readyAt = notes.findIndex((n) => /^READY=1$/m.test(n.text));
    assert.equal(notes.filter((n) => /^READY=1$/m.test(n.text)).length, 1, 'one READY=1');
    assert.equal(notes.slice(0, readyAt).length, 0, 'nothing before READY=1');
    assert.equal(sessionsIn(notes[readyAt]), 0, 'READY=1 comes with STATUS=…, 0 sessions');
    assert.match(notes[readyAt].text, new RegExp(`^STATUS=serving on port ${host.port}, 0 sessions$`, 'm'));
    // …and it answers HTTPS, and the banner with the PIN is out.
    const info = await httpsRequest(host.port, '/api/host');
    assert.equal(info.status, 200, `GET /api/host: ${info.text}`);
    await poll(() => /pairing PIN: (\d{6})/.exec(host.stdoutText()), { timeout: 10000, what: 'the PIN' });

    // A client pairs and opens a session: STATUS= says 1 session.
    const pin = /pairing PIN: (\d{6})/.exec(host.stdoutText())[1];
    const paired = await httpsRequest(host.port, '/api/pair', { method: 'POST', body: JSON.stringify({ pin, name: 'notify-test' }) });
    assert.equal(paired.status, 200, `POST /api/pair: ${paired.text}`);
    const { device, token } = JSON.parse(paired.text);
    const ws = await rawWebSocket(host.port);
    ws.send(0x1, JSON.stringify({ type: 'hello', protocol: 1, credential: { device, token },
      mode: { width: 320, height: 240, refresh: 30 }, codecs: ['h264'] }));
    await poll(() => ws.messages.find((m) => m.type === 'welcome' || m.type === 'error'),
      { timeout: BACKEND === 'synthetic' ? 20000 : 60000, what: 'welcome' });
    const welcome = ws.messages.find((m) => m.type === 'welcome');
    assert.ok(welcome, `welcome, not ${JSON.stringify(ws.messages)}`);
    await poll(() => notes.some((n) => sessionsIn(n) === 1), { timeout: 10000, what: 'STATUS=… 1 session' });

    // It leaves; after its grace period (1 s) the session ends: 0 sessions.
    const beforeLeaving = notes.length;
    ws.send(0x8, Buffer.from([0x03, 0xe8]));
    await ws.closed;
    await poll(() => notes.slice(beforeLeaving).some((n) => sessionsIn(n) === 0),
      { timeout: 15000, what: 'STATUS=… 0 sessions after the client left' });
    const counts = notes.map(sessionsIn).filter((c) => c !== null);
    assert.deepEqual(counts, [0, 1, 0], 'STATUS= session counts, in order');

    // The watchdog: pings since READY=1, every second (half of
    // WATCHDOG_USEC), so that a ping is never a whole interval late.
    await poll(() => notes.filter((n) => n.text === 'WATCHDOG=1').length >= 3,
      { timeout: 10000, what: '3 WATCHDOG=1' });
    const pings = notes.filter((n) => n.text === 'WATCHDOG=1').map((n) => n.ms);
    const gaps = pings.slice(1).map((t, i) => t - pings[i]);
    assert.ok(gaps.every((g) => g > WATCHDOG_USEC / 4000 && g < WATCHDOG_USEC / 1000),
      `gaps between WATCHDOG=1: ${gaps.join(', ')} ms (about ${WATCHDOG_USEC / 2000} expected)`);

    // SIGTERM: STOPPING=1, then the host exits cleanly.
    host.proc.kill('SIGTERM');
    await poll(() => host.exit, { timeout: 20000, what: 'the host to exit after SIGTERM' });
    assert.deepEqual(host.exit, { code: 0, signal: null });
    await poll(() => notes.some((n) => /^STOPPING=1$/m.test(n.text)), { timeout: 5000, what: 'STOPPING=1' });
    const stoppingAt = notes.findIndex((n) => /^STOPPING=1$/m.test(n.text));
    assert.equal(notes.filter((n) => /^STOPPING=1$/m.test(n.text)).length, 1, 'one STOPPING=1');
    assert.ok(notes.slice(stoppingAt + 1).every((n) => n.text === 'WATCHDOG=1'),
      'after STOPPING=1 no more STATUS= or READY=1');

    // Every datagram came from the host itself, none from anything it started.
    assert.deepEqual([...new Set(notes.map((n) => n.pid))], [pid], 'every datagram from the host\'s pid');
    if (process.env.FUNKHAUS_TEST_VERBOSE)
      console.log(`--- host log ---\n${host.logs()}`);
  } catch (e) {
    e.message += `\n\n--- notifications ---\n${(listener?.notes ?? []).map((n) => `${n.pid}: ${JSON.stringify(n.text)}`).join('\n')}` +
      `\n\n--- host log ---\n${host.logs()}`;
    throw e;
  } finally {
    if (host.proc && !host.exit) {
      host.proc.kill('SIGCONT');
      host.proc.kill('SIGKILL');
    }
    listener?.proc.kill();
    if (!process.env.FUNKHAUS_KEEP_TMP)
      await rm(tmp, { recursive: true, force: true });
  }
});
