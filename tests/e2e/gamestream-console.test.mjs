// A Moonlight client's PIN entered in the browser console page: a
// Moonlight-like client (lib/moonlight.mjs) waits in /pair getservercert;
// a paired browser's console shows its name, the user types the PIN it
// shows, and the four pairing phases complete (`funkhaus devices list`
// then lists it). A wrong PIN ends as "failed", a PIN of the wrong form
// and a PIN with no client waiting get their answer. An unpaired browser,
// or a WebSocket with a wrong credential, learns nothing and enters
// nothing; a revoked browser's console is closed.

import { before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { reportingTest } from './lib/report.mjs';
import { startHost, hostBinary, poll } from './lib/host.mjs';
import { launchBrowser, openClient } from './lib/client.mjs';
import { rawWebSocket } from './lib/rawws.mjs';
import { MoonlightClient } from './lib/moonlight.mjs';

const run = promisify(execFile);
let host = null;
let browser = null;
let tmp = null;
let paired = null;   // the paired browser, with its console
let stranger = null; // a browser that never paired

function e2e(name, fn, { timeout = 60000 } = {}) {
  reportingTest(name, { timeout }, () => [
    host && `--- host log ---\n${host.logs()}`,
    paired?.report(), stranger?.report(),
  ], fn);
}

async function funkhaus(...args) {
  try {
    const { stdout, stderr } = await run(hostBinary, args, { env: host.env });
    return { code: 0, stdout, stderr };
  } catch (e) {
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

/** Waits until the host's log shows that Moonlight client `name` waits. */
async function hostSeesWaiting(name) {
  await poll(() => host.stdoutText().includes(`Moonlight client '${name}' wants to pair`),
    { what: `'${name}' waiting on the host` });
}

before(async () => {
  host = await startHost({ gamestream: true });
  browser = await launchBrowser();
  tmp = await mkdtemp(join(tmpdir(), 'funkhaus-gs-console-'));
});

after(async () => {
  await paired?.close();
  await stranger?.close();
  await browser?.close();
  await host?.cleanup();
  if (tmp)
    await rm(tmp, { recursive: true, force: true });
});

e2e('a paired browser opens its console: no Moonlight client waits, and it says so', async () => {
  paired = await openClient(browser, host, 'console', { pin: host.pin, name: 'console' });
  await paired.waitFor((f) => f.moonlight?.state === 'idle', { what: 'the console to say idle' });
  assert.ok(await paired.page.isVisible('#moonlight'));
  assert.match(await paired.page.textContent('#moonlight-status'), /No Moonlight client is waiting/);
  assert.ok(!(await paired.page.isVisible('#moonlight-form')), 'no PIN field without a client');

  // A PIN with nobody waiting: an answer, and the console stays open.
  await paired.page.evaluate(() => window.funkhaus.sendMoonlightPin('1234'));
  await paired.waitFor((f) => f.moonlight.error?.code === 'no-client', { what: 'no-client' });
  assert.match(await paired.page.textContent('#moonlight-result'), /No Moonlight client is waiting/);
  assert.equal((await paired.hooks()).moonlight.state, 'idle');
});

e2e('the paired browser sees the waiting client, types its PIN, and it is paired', async () => {
  const deck = await MoonlightClient.create(tmp, 'Steam Deck');
  const attempt = deck.pair(host.gamestream.httpPort);
  await paired.waitFor((f) => f.moonlight.state === 'waiting', { what: 'the waiting client' });
  assert.equal((await paired.hooks()).moonlight.client, 'Steam Deck');
  assert.ok(await paired.page.isVisible('#moonlight-form'));
  assert.match(await paired.page.textContent('#moonlight'), /Steam Deck/);

  // The host checks the PIN's form too, and the client keeps waiting.
  await paired.page.evaluate(() => window.funkhaus.sendMoonlightPin('12a4'));
  await paired.waitFor((f) => f.moonlight.error?.code === 'bad-pin', { what: 'bad-pin' });
  assert.match((await paired.hooks()).moonlight.error.message, /4 digits/);
  assert.equal((await paired.hooks()).moonlight.state, 'waiting');

  await paired.page.fill('#moonlight-pin', attempt.pin);
  await paired.page.click('#moonlight-form button[type=submit]');
  const result = await attempt.result;
  assert.deepEqual(result, { paired: true, hostKnewPin: true });
  await paired.waitFor((f) => f.moonlight.state === 'paired', { what: 'paired' });
  const h = (await paired.hooks()).moonlight;
  assert.equal(h.client, 'Steam Deck');
  assert.match(await paired.page.textContent('#moonlight-result'), /‘Steam Deck’ is paired/);

  const list = await funkhaus('devices', 'list');
  assert.equal(list.code, 0, list.stderr);
  const line = list.stdout.split('\n').find((l) => l.includes('Steam Deck'));
  assert.ok(line, `Steam Deck in:\n${list.stdout}`);
  assert.match(line, /moonlight$/);
  assert.ok(line.startsWith(h.device), 'the id the console showed is the stored one');
});

e2e('a wrong PIN typed in the browser ends the attempt as failed', async () => {
  const laptop = await MoonlightClient.create(tmp, 'laptop');
  const attempt = laptop.pair(host.gamestream.httpPort);
  await paired.waitFor((f) => f.moonlight.state === 'waiting' && f.moonlight.client === 'laptop',
    { what: 'laptop waiting' });
  const wrong = attempt.pin === '0000' ? '1111' : '0000';
  await paired.page.fill('#moonlight-pin', wrong);
  await paired.page.click('#moonlight-form button[type=submit]');
  const result = await attempt.result;
  assert.equal(result.paired, false);
  assert.equal(result.hostKnewPin, false);
  await paired.waitFor((f) => f.moonlight.state === 'failed', { what: 'failed' });
  assert.match(await paired.page.textContent('#moonlight-result'), /Pairing ‘laptop’ failed/);
  const list = await funkhaus('devices', 'list');
  assert.ok(!list.stdout.includes('laptop'), list.stdout);
  // /metrics counts Moonlight pairings apart from the browsers' PINs: the
  // right PIN of the test before and this wrong one, which was refused.
  const text = await host.metrics();
  const sample = (name) => Number(new RegExp(`^${name}\\{kind="moonlight"\\} (\\d+)$`, 'm').exec(text)?.[1]);
  assert.equal(sample('funkhaus_pairing_attempts_total'), 2, text);
  assert.equal(sample('funkhaus_pairing_refusals_total'), 1, text);
});

e2e('an unpaired browser neither sees a waiting client nor enters its PIN', async () => {
  const phone = await MoonlightClient.create(tmp, 'Pixel-7q');
  const attempt = phone.pair(host.gamestream.httpPort);
  await hostSeesWaiting('Pixel-7q');

  stranger = await openClient(browser, host, 'stranger');
  await stranger.waitFor((f) => f.state === 'pairing', { what: 'the pairing panel' });
  // No console without a credential: nothing opens, nothing shows.
  await new Promise((r) => setTimeout(r, 500));
  assert.equal((await stranger.hooks()).moonlight.state, null);
  assert.ok(!(await stranger.page.isVisible('#moonlight')));
  assert.ok(!(await stranger.page.content()).includes('Pixel-7q'));

  // A WebSocket with a made-up credential: closed, told nothing.
  const forged = await rawWebSocket(host.port);
  forged.send(1, JSON.stringify({ type: 'console', protocol: 1, credential: { device: 'x', token: 'y' } }));
  const closed = await forged.closed;
  assert.equal(closed.code, 4001);
  assert.deepEqual(forged.messages.map((m) => m.type), ['error']);
  assert.ok(!JSON.stringify(forged.messages).includes('Pixel-7q'));

  // A PIN from a WebSocket that never proved a device: refused, not used.
  const bare = await rawWebSocket(host.port);
  bare.send(1, JSON.stringify({ type: 'moonlight-pin', pin: attempt.pin }));
  assert.equal((await bare.closed).code, 4002);
  assert.deepEqual(bare.messages.map((m) => m.code), ['unexpected-message']);

  // The client still waits: the paired console shows it, and its PIN
  // still works from there.
  await paired.waitFor((f) => f.moonlight.state === 'waiting' && f.moonlight.client === 'Pixel-7q',
    { what: 'Pixel-7q still waiting' });
  await paired.page.fill('#moonlight-pin', attempt.pin);
  await paired.page.click('#moonlight-form button[type=submit]');
  assert.equal((await attempt.result).paired, true);
});

e2e('revoking the browser closes its console', async () => {
  const cred = await paired.page.evaluate(() => JSON.parse(localStorage.getItem('funkhaus.credential')));
  const r = await funkhaus('devices', 'revoke', cred.device);
  assert.equal(r.code, 0, r.stderr);
  await paired.waitFor((f) => f.moonlight.state === null, { what: 'the console to close' });
  assert.ok(!(await paired.page.isVisible('#moonlight')));
  // And it does not come back: its credential is no longer good.
  await new Promise((r) => setTimeout(r, 3500));
  assert.equal((await paired.hooks()).moonlight.state, null);
});
