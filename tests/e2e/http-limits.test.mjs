// The web port's limits (src/planes/web/server.c): a connection that does
// not deliver its request within http-request-timeout-seconds is cut off
// (nothing sent, no TLS handshake, half a request line), an upgraded
// WebSocket is not, and one address holds at most
// http-max-connections-per-address connections while others still get in.
// Both hosts run with small limits so the tests are quick.

import { before, after } from 'node:test';
import assert from 'node:assert/strict';
import https from 'node:https';
import net from 'node:net';
import tls from 'node:tls';
import { networkInterfaces } from 'node:os';
import { reportingTest } from './lib/report.mjs';
import { startHost } from './lib/host.mjs';
import { rawWebSocket } from './lib/rawws.mjs';

const TIMEOUT_S = 2;
const MAX_PER_ADDRESS = 4;

let slowHost = null;  // http-request-timeout-seconds=2
let busyHost = null;  // http-max-connections-per-address=4, a long timeout

before(async () => {
  slowHost = await startHost({ config: `[host]\nhttp-request-timeout-seconds=${TIMEOUT_S}\n` });
  busyHost = await startHost({ config: `[host]\nhttp-request-timeout-seconds=60\n` +
    `http-max-connections-per-address=${MAX_PER_ADDRESS}\n` });
});

after(async () => {
  await slowHost?.cleanup();
  await busyHost?.cleanup();
});

function e2e(name, fn, { timeout = 60000 } = {}) {
  reportingTest(name, { timeout }, () => [
    slowHost && `--- host log (timeout ${TIMEOUT_S} s) ---\n${slowHost.logs()}`,
    busyHost && `--- host log (at most ${MAX_PER_ADDRESS} per address) ---\n${busyHost.logs()}`,
  ], fn);
}

/** GET `path` at `address`; resolves to the status. */
function get(port, path, address = '127.0.0.1') {
  return new Promise((resolve, reject) => {
    const req = https.get({ host: address, port, path, rejectUnauthorized: false, agent: false,
      timeout: 10000 }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode));
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${path} at ${address}: no answer in 10 s`)));
    req.on('error', reject);
  });
}

/** Resolves with how many ms after `since` `sock` closed, and what it received. */
function closedAfter(sock, since) {
  return new Promise((resolve) => {
    let received = '';
    sock.on('data', (d) => { received += d.toString(); });
    sock.on('error', () => {});
    sock.on('close', () => resolve({ ms: Date.now() - since, received }));
  });
}

/** A TLS connection to `address`; resolves once the handshake is done. */
function tlsConnect(port, address = '127.0.0.1') {
  return new Promise((resolve, reject) => {
    const sock = tls.connect({ host: address, port, rejectUnauthorized: false, servername: 'localhost' });
    sock.once('secureConnect', () => resolve(sock));
    sock.once('error', reject);
    sock.once('close', () => reject(new Error('closed before the TLS handshake')));
  });
}

/** Another address of this machine that reaches the host: ::1, else a
 *  LAN IPv4. */
async function otherAddress(port) {
  const candidates = ['::1', ...Object.values(networkInterfaces()).flat()
    .filter((i) => i.family === 'IPv4' && !i.internal).map((i) => i.address)];
  for (const address of candidates) {
    try {
      await get(port, '/api/host', address);
      return address;
    } catch {
      // not this one
    }
  }
  return null;
}

e2e('connections that send no whole request in time are cut off; others are answered', async () => {
  const port = slowHost.port;
  const t0 = Date.now();
  // Nothing at all (not even a TLS handshake).
  const silent = net.connect({ host: '127.0.0.1', port });
  const silentClosed = closedAfter(silent, t0);
  // A TLS handshake, then nothing.
  const quiet = await tlsConnect(port);
  const quietClosed = closedAfter(quiet, t0);
  // Half a request line, then nothing (a slowloris).
  const half = await tlsConnect(port);
  const halfClosed = closedAfter(half, t0);
  half.write('GET /api/ho');
  // A WebSocket, upgraded: its own hello timeout (10 s) governs it, not
  // the request timeout.
  const ws = await rawWebSocket(port, '/ws', { host: '127.0.0.1', lifetimeMs: 30000 });
  let wsClosedAt = null;
  ws.closed.then(() => { wsClosedAt = Date.now(); });

  // Meanwhile the host answers everyone else.
  assert.equal(await get(port, '/api/host'), 200);

  for (const [what, closed] of [['silent', silentClosed], ['quiet', quietClosed], ['half', halfClosed]]) {
    const { ms, received } = await closed;
    assert.ok(ms >= TIMEOUT_S * 1000 - 200 && ms < TIMEOUT_S * 1000 + 3000,
      `the ${what} connection closed after ${ms} ms, the timeout is ${TIMEOUT_S} s`);
    assert.ok(!received.includes('HTTP/1.1'), `the ${what} connection got an answer: ${received}`);
  }
  await new Promise((r) => setTimeout(r, 1000));
  assert.equal(wsClosedAt, null, 'the upgraded WebSocket was cut off by the request timeout');
  ws.send(0x8, Buffer.from([0x03, 0xe8]));
  await ws.closed;
  assert.equal(await get(port, '/api/host'), 200, 'the host still answers');
  assert.match(slowHost.logs(), /closed connections that sent no whole request within 2 s/);
});

e2e('one address holds at most http-max-connections-per-address connections; others get in', async () => {
  const port = busyHost.port;
  const held = [];
  for (let i = 0; i < MAX_PER_ADDRESS; i++)
    held.push(await tlsConnect(port));

  // The next ones from the same address are closed at once, before TLS.
  for (let i = 0; i < 3; i++) {
    const t0 = Date.now();
    await assert.rejects(tlsConnect(port), undefined, `connection ${MAX_PER_ADDRESS + 1 + i} was let in`);
    assert.ok(Date.now() - t0 < 3000, `refusing took ${Date.now() - t0} ms`);
  }
  await assert.rejects(get(port, '/api/host'), undefined, 'a request over the limit was answered');

  // Another address of this machine still gets through.
  const other = await otherAddress(port);
  if (other === null)
    console.log('# no second address (::1 or a LAN IPv4) reaches the host: not checked');
  else
    assert.equal(await get(port, '/api/host', other), 200, `a request from ${other}`);

  // Once they close, the address may connect again.
  for (const sock of held)
    sock.destroy();
  const deadline = Date.now() + 5000;
  let status = null;
  while (status !== 200 && Date.now() < deadline) {
    status = await get(port, '/api/host').catch(() => null);
    if (status !== 200)
      await new Promise((r) => setTimeout(r, 100));
  }
  assert.equal(status, 200, 'no request from 127.0.0.1 after its connections closed');
  assert.match(busyHost.logs(), /refused connections from an address that holds 4 open already/);
  // Logged once a while, not once per connection.
  assert.equal(busyHost.logs().match(/refused connections from/g).length, 1);
});
