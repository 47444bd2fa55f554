// The host's HTTPS port over many short connections: every kind of request
// (a page, the API, a pairing POST, a WebSocket upgrade and close), each on
// a keep-alive connection the client then closes. Afterwards the host holds
// no more file descriptors than at the start (within a small bound), no
// socket of its port sits in CLOSE-WAIT, and it still answers. libsoup 3.2
// never closed an idle keep-alive connection that its client closed, so
// before the fix each request left one descriptor behind until the host ran
// out of them. And a WebSocket upgrade that offers compression, as every
// browser's does, is answered without it.

import { before, after } from 'node:test';
import assert from 'node:assert/strict';
import https from 'node:https';
import { reportingTest } from './lib/report.mjs';
import { startHost, poll } from './lib/host.mjs';
import { rawWebSocket } from './lib/rawws.mjs';
import { openFds as procFds, closeWaitCount as procCloseWait } from './lib/proc.mjs';

const ROUNDS = 60; // × 5 requests: well past any slack in the bounds below
const FD_SLACK = 8;

let host = null;

before(async () => {
  host = await startHost();
});

after(async () => {
  await host?.cleanup();
});

function e2e(name, fn, { timeout = 120000 } = {}) {
  reportingTest(name, { timeout }, () => [host && `--- host log ---\n${host.logs()}`], fn);
}

async function openFds() {
  return procFds(host.proc.pid);
}

async function closeWaitCount() {
  return procCloseWait(host.port);
}

/** One request on a fresh keep-alive connection, closed by us afterwards. */
function request(path, { method = 'GET', body = null } = {}) {
  return new Promise((resolve, reject) => {
    const agent = new https.Agent({ keepAlive: true, maxSockets: 1 });
    const headers = body ? { 'Content-Length': Buffer.byteLength(body) } : {};
    const req = https.request({ host: 'localhost', port: host.port, path, method, agent, headers,
      rejectUnauthorized: false }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        agent.destroy();
        resolve({ status: res.statusCode, body: Buffer.concat(chunks).toString() });
      });
    });
    req.on('error', (e) => { agent.destroy(); reject(e); });
    if (body)
      req.write(body);
    req.end();
  });
}

e2e('many short HTTPS connections leave no descriptor and no CLOSE-WAIT socket behind', async () => {
  // Warm up what the first requests allocate once (TLS backend, files).
  await request('/');
  await request('/api/host');
  const fdsBefore = await openFds();

  for (let i = 0; i < ROUNDS; i++) {
    assert.equal((await request('/')).status, 200);
    assert.equal((await request('/app.js')).status, 200);
    assert.equal((await request('/api/host')).status, 200);
    // A malformed body: refused without counting as a wrong PIN, so the
    // address is never locked out.
    assert.equal((await request('/api/pair', { method: 'POST', body: '{' })).status, 400);
    const ws = await rawWebSocket(host.port);
    ws.send(0x8, Buffer.from([0x03, 0xe8])); // close, 1000
    await ws.closed;
  }

  // The host closes its side once it sees ours close: give it a moment.
  let fdsAfter = 0, closeWait = 0;
  await poll(async () => {
    fdsAfter = await openFds();
    closeWait = await closeWaitCount();
    return fdsAfter <= fdsBefore + FD_SLACK && closeWait === 0;
  }, { timeout: 10000, what: 'the host to close the connections' }).catch(() => {});
  assert.equal(closeWait, 0, `${closeWait} sockets of the host in CLOSE-WAIT after ${ROUNDS * 5} requests`);
  assert.ok(fdsAfter <= fdsBefore + FD_SLACK,
    `the host holds ${fdsAfter} descriptors after ${ROUNDS * 5} requests, ${fdsBefore} before`);
  assert.equal((await request('/api/host')).status, 200, 'the host still answers');
});

// Every browser offers permessage-deflate (Chromium's offer below); the
// host declines it, so video goes out as the encoder made it, with no
// zlib on the host's main thread for each frame, ack and input event.
e2e('a WebSocket that offers permessage-deflate gets no extension', async () => {
  const ws = await rawWebSocket(host.port, '/ws',
    { extensions: 'permessage-deflate; client_max_window_bits' });
  try {
    assert.ok(ws.headers['sec-websocket-accept'], 'the answer is an upgrade');
    assert.equal(ws.headers['sec-websocket-extensions'], undefined,
      `the host accepted an extension: ${ws.headers['sec-websocket-extensions']}`);
  } finally {
    ws.send(0x8, Buffer.from([0x03, 0xe8]));
    await ws.closed;
  }
});

// A message over the protocol's 64 KiB: one a little over is read whole and
// answered with message-too-large (4005) and a close handshake; a frame far
// over what the host buffers is cut off as its header is read. Either way
// only that connection ends: the host answers, and a new WebSocket works.
e2e('a message over 64 KiB closes only its sender: 4005 just over, cut off far over', async () => {
  const just = await rawWebSocket(host.port);
  just.send(0x2, Buffer.alloc(70000, 0x11));
  const c = await just.closed;
  assert.equal(c.code, 4005, `70000 bytes: close code ${c.code} (${c.reason})`);
  assert.ok(just.messages.some((m) => m.type === 'error' && m.code === 'message-too-large'),
    `70000 bytes: no message-too-large error among ${JSON.stringify(just.messages)}`);

  const far = await rawWebSocket(host.port);
  far.send(0x2, Buffer.alloc(300000, 0x11));
  const f = await far.closed;
  assert.ok(f.code === 4005 || f.code === 1006, `300000 bytes: close code ${f.code} (${f.reason})`);

  assert.equal((await request('/api/host')).status, 200, 'the host still answers');
  const next = await rawWebSocket(host.port);
  next.send(0x8, Buffer.from([0x03, 0xe8]));
  assert.equal((await next.closed).code, 1000, 'a new WebSocket still works');
});
