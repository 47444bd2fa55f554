// Starts `funkhaus serve --backend synthetic` for a test: its own HOME and XDG
// directories, a free port, stdout parsed for the URL and PIN, every log line
// kept so a failing test can print them, and a stop that checks the exit.

import { spawn, execFile } from 'node:child_process';
import { chown, mkdtemp, mkdir, rm, readFile, readdir, readlink, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import https from 'node:https';

const here = dirname(fileURLToPath(import.meta.url));
export const repoRoot = resolve(here, '..', '..', '..');
export const hostBinary = process.env.FUNKHAUS_BIN || join(repoRoot, 'build', 'src', 'funkhaus');
export const webDir = process.env.FUNKHAUS_WEB_DIR || join(repoRoot, 'web');

const PIN_RE = /pairing PIN: (\d{6})/;
const SERVING_RE = /serving (https:\/\/\S+)/;
const GAMESTREAM_RE = /gamestream \(Moonlight\): http port (\d+), https port (\d+), rtsp port (\d+)/;

export async function freePort() {
  return new Promise((resolvePort, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolvePort(port));
    });
  });
}

/** Polls `fn` until it returns a truthy value; throws `what` on timeout. */
export async function poll(fn, { timeout = 10000, interval = 50, what = 'condition' } = {}) {
  const deadline = Date.now() + timeout;
  let last;
  for (;;) {
    last = await fn();
    if (last)
      return last;
    if (Date.now() > deadline)
      throw new Error(`timed out after ${timeout} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, interval));
  }
}

export class Host {
  constructor() {
    this.lines = [];     // [ms since start, 'out'|'err', text]
    this.started = Date.now();
    this.exit = null;    // {code, signal} once exited
    this.pins = [];
  }

  /** Every host log line so far, for a failure report. */
  logs() {
    return this.lines.map(([t, s, l]) => `[${(t / 1000).toFixed(3)} ${s}] ${l}`).join('\n');
  }

  stdoutText() {
    return this.lines.filter(([, s]) => s === 'out').map(([, , l]) => l).join('\n');
  }

  collect(stream, name) {
    let rest = '';
    stream.setEncoding('utf8');
    stream.on('data', (chunk) => {
      rest += chunk;
      const parts = rest.split('\n');
      rest = parts.pop();
      for (const l of parts)
        this.lines.push([Date.now() - this.started, name, l]);
    });
    stream.on('end', () => {
      if (rest)
        this.lines.push([Date.now() - this.started, name, rest]);
    });
  }

  get runtimeDir() { return join(this.env.XDG_RUNTIME_DIR, 'funkhaus'); }
  get controlSocket() { return join(this.runtimeDir, 'control.sock'); }
  get sessionsDir() { return join(this.runtimeDir, 'sessions'); }
  inputLogPath(session) { return join(this.sessionsDir, session, 'input.log'); }

  async inputLog(session) {
    try {
      return await readFile(this.inputLogPath(session), 'utf8');
    } catch (e) {
      if (e.code === 'ENOENT')
        return '';
      throw e;
    }
  }

  /** A new one-time PIN from `funkhaus pair` (over the control socket). */
  /** A device credential {device, token} (POST /api/pair with a fresh
   *  PIN from `funkhaus pair`), as a browser pairs. */
  /** The host's /metrics, from this machine (metrics=localhost). */
  metrics() {
    return new Promise((resolve, reject) => {
      https.get({ host: 'localhost', port: this.port, path: '/metrics', rejectUnauthorized: false }, (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (d) => { text += d; });
        res.on('end', () => (res.statusCode === 200 ? resolve(text) : reject(new Error(`/metrics: ${res.statusCode}`))));
      }).on('error', reject);
    });
  }

  async pairDevice(name) {
    const pin = await this.pair();
    const body = JSON.stringify({ pin, name });
    return new Promise((resolve, reject) => {
      const req = https.request({ host: 'localhost', port: this.port, path: '/api/pair', method: 'POST',
        rejectUnauthorized: false, headers: { 'Content-Length': Buffer.byteLength(body) } }, (res) => {
        let text = '';
        res.on('data', (d) => { text += d; });
        res.on('end', () => (res.statusCode === 200 ? resolve(JSON.parse(text)) : reject(new Error(`pair: ${res.statusCode} ${text}`))));
      });
      req.on('error', reject);
      req.end(body);
    });
  }

  async pair() {
    const { stdout, stderr } = await new Promise((res, rej) => {
      execFile(hostBinary, ['pair'], { env: this.env, timeout: 10000, ...this.user }, (err, out, errOut) => {
        this.lines.push([Date.now() - this.started, 'pair', `${out}${errOut}`.trim()]);
        if (err)
          rej(new Error(`funkhaus pair failed: ${err.message}\n${out}${errOut}`));
        else
          res({ stdout: out, stderr: errOut });
      });
    });
    const m = PIN_RE.exec(stdout) || PIN_RE.exec(stderr);
    if (!m)
      throw new Error(`no PIN in the output of funkhaus pair:\n${stdout}${stderr}`);
    this.pins.push(m[1]);
    return m[1];
  }

  /** Pids of the host's descendants, now (from /proc). */
  async descendants() {
    const children = new Map();
    for (const name of await readdir('/proc')) {
      if (!/^\d+$/.test(name))
        continue;
      try {
        const stat = await readFile(`/proc/${name}/stat`, 'utf8');
        // pid (comm) state ppid …: comm may hold spaces and parentheses.
        const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
        if (!children.has(ppid))
          children.set(ppid, []);
        children.get(ppid).push(Number(name));
      } catch { /* gone meanwhile */ }
    }
    const out = [];
    const todo = [this.proc.pid];
    while (todo.length) {
      for (const c of children.get(todo.pop()) ?? []) {
        out.push(c);
        todo.push(c);
      }
    }
    return out;
  }

  /** Processes (other than the host) that carry this run's runtime dir in
   *  their environment: whatever the host started, however reparented. */
  async processesOfThisRun() {
    const marker = `XDG_RUNTIME_DIR=${this.env.XDG_RUNTIME_DIR}\0`;
    const found = [];
    for (const name of await readdir('/proc')) {
      if (!/^\d+$/.test(name) || Number(name) === this.proc.pid || Number(name) === process.pid)
        continue;
      try {
        const environ = await readFile(`/proc/${name}/environ`, 'latin1');
        if (environ.includes(marker)) {
          let exe = '?';
          try { exe = await readlink(`/proc/${name}/exe`); } catch { /* zombie */ }
          found.push(`${name} ${exe}`);
        }
      } catch { /* gone, or not ours to read */ }
    }
    return found;
  }

  /** SIGINT, then waits for the exit; returns {code, signal, ms}. */
  async stop({ timeout = 5000 } = {}) {
    if (this.exit)
      return { ...this.exit, ms: 0 };
    const t0 = Date.now();
    this.proc.kill('SIGINT');
    try {
      await poll(() => this.exit, { timeout, what: 'the host to exit after SIGINT' });
    } catch (e) {
      this.proc.kill('SIGKILL');
      await poll(() => this.exit, { timeout: 5000, what: 'the host to die after SIGKILL' });
      throw e;
    }
    return { ...this.exit, ms: Date.now() - t0 };
  }

  async cleanup() {
    if (!this.exit && this.proc) {
      try { await this.stop(); } catch { /* killed */ }
    }
    if (this.tmp && !process.env.FUNKHAUS_KEEP_TMP)
      await rm(this.tmp, { recursive: true, force: true });
  }
}

/** Starts a host; resolves once it serves and has printed its PIN.
 *  `backend` picks --backend; `config`, if given, is written to
 *  $XDG_CONFIG_HOME/funkhaus/config.ini before the host starts; `user`
 *  ({uid, gid}), if given, runs the host as that user instead of ours.
 *  The GameStream plane is off unless `gamestream` is true: then all six
 *  of its ports are free ones (host.gamestream = {httpPort, httpsPort,
 *  rtspPort}; the others reach clients through RTSP), so hosts of parallel
 *  tests never fight over 47989 and the rest. `configHome`, if given, is
 *  the XDG_CONFIG_HOME to use instead of a new one (a host restarted with
 *  the config, certificate and paired devices of an earlier one); that
 *  host's cleanup must come last, as it removes the folder. `runtimeDir`,
 *  likewise, is the XDG_RUNTIME_DIR of an earlier host (one that crashed). */
export async function startHost({ grace = 30, bitrate = null, args = [], backend = 'synthetic', config = null, user = null, gamestream = false, configHome = null, runtimeDir = null } = {}) {
  if (!existsSync(hostBinary))
    throw new Error(`no host binary at ${hostBinary}: build it (meson compile -C build) or set FUNKHAUS_BIN`);
  const host = new Host();
  host.tmp = await mkdtemp(join(tmpdir(), 'funkhaus-e2e-'));
  const dirs = {};
  for (const d of ['home', 'config', 'runtime', 'state']) {
    dirs[d] = join(host.tmp, d);
    await mkdir(dirs[d], { mode: 0o700 });
  }
  if (configHome)
    dirs.config = configHome;
  if (runtimeDir)
    dirs.runtime = runtimeDir;
  if (config !== null) {
    await mkdir(join(dirs.config, 'funkhaus'), { mode: 0o700, recursive: true });
    await writeFile(join(dirs.config, 'funkhaus', 'config.ini'), config);
  }
  if (user) {
    host.user = { uid: user.uid, gid: user.gid };
    for (const p of [host.tmp, ...Object.values(dirs), join(dirs.config, 'funkhaus'), join(dirs.config, 'funkhaus', 'config.ini')])
      await chown(p, user.uid, user.gid).catch(() => {});
  }
  host.port = await freePort();
  host.env = {
    ...process.env,
    HOME: dirs.home,
    XDG_CONFIG_HOME: dirs.config,
    XDG_RUNTIME_DIR: dirs.runtime,
    XDG_STATE_HOME: dirs.state,
    FUNKHAUS_WEB_DIR: webDir,
    // the user-space pads' shim of the build the host comes from
    FUNKHAUS_PAD_SHIM: process.env.FUNKHAUS_PAD_SHIM || join(dirname(hostBinary), 'backends', 'pad-shim', 'libfunkhaus-pad.so'),
    G_MESSAGES_DEBUG: process.env.G_MESSAGES_DEBUG ?? '',
  };
  const argv = ['serve', '--port', String(host.port), '--backend', backend,
    '--grace', String(grace), ...(bitrate ? ['--bitrate', String(bitrate)] : []),
    ...(gamestream ? ['--gamestream', 'on', '--gamestream-http-port', '0', '--gamestream-https-port', '0',
      '--gamestream-rtsp-port', '0', '--gamestream-video-port', '0', '--gamestream-control-port', '0',
      '--gamestream-audio-port', '0']
      : ['--gamestream', 'off']),
    ...args];
  host.lines.push([0, 'cmd', `${hostBinary} ${argv.join(' ')}`]);
  host.proc = spawn(hostBinary, argv, { env: host.env, stdio: ['ignore', 'pipe', 'pipe'], ...host.user });
  host.collect(host.proc.stdout, 'out');
  host.collect(host.proc.stderr, 'err');
  host.proc.on('exit', (code, signal) => {
    host.exit = { code, signal };
    host.lines.push([Date.now() - host.started, 'exit', `code ${code} signal ${signal}`]);
  });
  host.proc.on('error', (e) => {
    host.exit = { code: null, signal: null, error: e.message };
  });

  try {
    await poll(() => {
      if (host.exit)
        throw new Error(`the host exited at start (${JSON.stringify(host.exit)})`);
      const out = host.stdoutText();
      return SERVING_RE.test(out) && PIN_RE.test(out);
    }, { timeout: 20000, what: 'the "serving" and "pairing PIN" lines' });
  } catch (e) {
    e.message += `\n--- host log ---\n${host.logs()}`;
    await host.cleanup();
    throw e;
  }
  const out = host.stdoutText();
  host.url = `https://localhost:${host.port}/`;
  host.announcedUrl = SERVING_RE.exec(out)[1];
  host.pins.push(PIN_RE.exec(out)[1]);
  host.pin = host.pins[0];
  const gs = GAMESTREAM_RE.exec(out);
  host.gamestream = gs ? { httpPort: Number(gs[1]), httpsPort: Number(gs[2]), rtspPort: Number(gs[3]) } : null;
  return host;
}
