// Our headless Moonlight-like client, tests/gamestream/fh-gs-client, as a
// child process: its JSON events (one a line on stdout), its stderr and
// its exit; and pairing it with a host (the PIN typed with `funkhaus pair
// --moonlight`, as the host's user would).

import assert from 'node:assert/strict';
import { spawn, execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { hostBinary, poll, repoRoot } from './host.mjs';

const run = promisify(execFile);
export const GS_CLIENT = process.env.FUNKHAUS_GS_CLIENT || join(repoRoot, 'build', 'tests', 'fh-gs-client');

/** A running fh-gs-client: its JSON events, stderr, and exit. */
export class GsClient {
  constructor(name, args) {
    this.name = name;
    this.events = [];
    this.stdout = '';
    this.stderr = '';
    this.exit = null;
    this.proc = spawn(GS_CLIENT, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let rest = '';
    this.proc.stdout.setEncoding('utf8');
    this.proc.stdout.on('data', (chunk) => {
      this.stdout += chunk;
      rest += chunk;
      const lines = rest.split('\n');
      rest = lines.pop();
      for (const l of lines) {
        try {
          this.events.push(JSON.parse(l));
        } catch {
          this.events.push({ event: 'unparsed', line: l });
        }
      }
    });
    this.proc.stderr.setEncoding('utf8');
    this.proc.stderr.on('data', (chunk) => { this.stderr += chunk; });
    this.proc.on('exit', (code, signal) => { this.exit = { code, signal }; });
    this.proc.on('error', (e) => { this.exit = { code: null, signal: null, error: e.message }; });
  }

  event(name) {
    return this.events.find((e) => e.event === name);
  }

  /** Waits for event `name`; fails at once, with the client's words, if it
   *  reports an error or exits first. */
  async waitFor(name, timeout = 90000) {
    return poll(() => {
      const e = this.event(name);
      if (e)
        return e;
      const err = this.event('error');
      if (err)
        throw new Error(`client ${this.name} failed before "${name}": ${err.message}`);
      if (this.exit)
        throw new Error(`client ${this.name} exited (${JSON.stringify(this.exit)}) before "${name}"`);
      return null;
    }, { timeout, interval: 50, what: `client ${this.name}'s "${name}" event` });
  }

  report() {
    return `--- client ${this.name} (exit ${JSON.stringify(this.exit)}) stdout ---\n${this.stdout}`
      + `\n--- client ${this.name} stderr ---\n${this.stderr}`;
  }

  async stop() {
    if (this.exit)
      return this.exit;
    this.proc.stdin.end('\n');
    try {
      await poll(() => this.exit, { timeout: 15000, what: `client ${this.name} to quit` });
    } catch (e) {
      this.proc.kill('SIGKILL');
      throw e;
    }
    return this.exit;
  }
}

/** Starts fh-gs-client against @host's GameStream plane (127.0.0.1) and,
 *  when it asks for a PIN, types it on the host. Resolves once paired. */
export async function startGsClient(host, { name, stateDir, pin, args = [] }) {
  const c = new GsClient(name, ['--host', '127.0.0.1', '--http-port', String(host.gamestream.httpPort),
    '--state-dir', stateDir, '--name', `gs-${name}`, '--pin', pin, ...args]);
  const first = await poll(() => {
    if (c.exit || c.event('error'))
      throw new Error(`client ${name} failed before pairing: ${c.event('error')?.message ?? JSON.stringify(c.exit)}\n${c.stderr}`);
    return c.event('pin') || c.event('paired');
  }, { timeout: 20000, what: `client ${name} to ask for a PIN` });
  if (first.event === 'pin') {
    assert.equal(first.pin, pin);
    await poll(() => new RegExp(`Moonlight client 'gs-${name}' wants to pair`).test(host.stdoutText()),
      { timeout: 10000, what: `the host to announce client gs-${name}` });
    const { stdout } = await run(hostBinary, ['pair', '--moonlight', pin], { env: host.env });
    assert.match(stdout, new RegExp(`PIN entered for Moonlight client 'gs-${name}'`));
  }
  await c.waitFor('paired', 30000);
  return c;
}
