// The GameStream plane of `funkhaus serve` as a process: /serverinfo over
// HTTP on the ports the host printed, and `funkhaus pair --moonlight PIN`
// reaching a /pair getservercert that waits for it (through the control
// socket). The whole PIN exchange, HTTPS with client certificates, launch
// and revocation are tested in-process by tests/integration/test-gs-http.c;
// streaming by gamestream-stream.test.mjs. Here: what a stranger's RTSP
// gets, and that it touches nothing else.

import { before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { connect } from 'node:net';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { reportingTest } from './lib/report.mjs';
import { startHost, hostBinary } from './lib/host.mjs';

const run = promisify(execFile);
let host = null;
let tmp = null;

function e2e(name, fn, { timeout = 60000 } = {}) {
  reportingTest(name, { timeout }, () => [host && `--- host log ---\n${host.logs()}`], fn);
}

/** `funkhaus ARGS` against the host: {code, stdout, stderr}. */
async function funkhaus(...args) {
  try {
    const { stdout, stderr } = await run(hostBinary, args, { env: host.env });
    return { code: 0, stdout, stderr };
  } catch (e) {
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

function xmlField(xml, name) {
  const m = new RegExp(`<${name}>([^<]*)</${name}>`).exec(xml);
  return m ? m[1] : null;
}

before(async () => {
  host = await startHost({ gamestream: true });
  tmp = await mkdtemp(join(tmpdir(), 'funkhaus-gs-'));
});

after(async () => {
  await host?.cleanup();
  if (tmp)
    await rm(tmp, { recursive: true, force: true });
});

e2e('serverinfo answers on the GameStream HTTP port the host printed', async () => {
  assert.ok(host.gamestream, 'the host prints its GameStream ports');
  const r = await fetch(`http://127.0.0.1:${host.gamestream.httpPort}/serverinfo?uniqueid=0123456789ABCDEF`);
  assert.equal(r.status, 200);
  const xml = await r.text();
  assert.match(xml, /<root status_code="200">/);
  assert.equal(xmlField(xml, 'PairStatus'), '0');
  assert.equal(xmlField(xml, 'HttpsPort'), String(host.gamestream.httpsPort));
  assert.equal(xmlField(xml, 'LocalIP'), '127.0.0.1', 'the address the client reached');
  assert.equal(xmlField(xml, 'state'), 'SUNSHINE_SERVER_FREE');
  assert.match(xmlField(xml, 'appversion'), /^7\./);
});

e2e('funkhaus pair --moonlight without a waiting client says so', async () => {
  const r = await funkhaus('pair', '--moonlight', '1234');
  assert.equal(r.code, 1);
  assert.match(r.stderr, /no Moonlight client is waiting for a PIN/);
});

e2e('funkhaus pair --moonlight answers a waiting getservercert', async () => {
  const key = join(tmp, 'key.pem');
  const cert = join(tmp, 'cert.pem');
  await run('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert,
    '-days', '1', '-subj', '/CN=NVIDIA GameStream Client']);
  const certHex = Buffer.from(await readFile(cert)).toString('hex').toUpperCase();
  const url = `http://127.0.0.1:${host.gamestream.httpPort}/pair?uniqueid=0123456789ABCDEF`
    + `&devicename=e2e&updateState=1&phrase=getservercert&salt=00112233445566778899AABBCCDDEEFF&clientcert=${certHex}`;
  const waiting = fetch(url).then((r) => r.text());
  let r;
  for (let i = 0; i < 100; i++) {
    if (/Moonlight client 'e2e' wants to pair/.test(host.stdoutText()))
      break;
    await new Promise((res) => setTimeout(res, 50));
  }
  r = await funkhaus('pair', '--moonlight', '12x4');
  assert.equal(r.code, 1, 'a PIN that is not 4 digits is refused');
  assert.match(r.stderr, /4 digits/);
  r = await funkhaus('pair', '--moonlight', '4821');
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /PIN entered for Moonlight client 'e2e'/);
  const xml = await waiting;
  assert.match(xml, /<root status_code="200">/);
  assert.equal(xmlField(xml, 'paired'), '1');
  const plain = Buffer.from(xmlField(xml, 'plaincert'), 'hex').toString();
  assert.match(plain, /^-----BEGIN CERTIFICATE-----/);
});

/** Sends @bytes to the RTSP port; resolves with all the host answered
 *  before it closed the connection. */
function rtsp(bytes) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    const sock = connect(host.gamestream.rtspPort, '127.0.0.1', () => sock.write(bytes));
    sock.on('data', (d) => chunks.push(d));
    sock.on('end', () => resolve(Buffer.concat(chunks)));
    sock.on('error', reject);
    sock.setTimeout(15000, () => { sock.destroy(); reject(new Error('the host kept the RTSP connection open')); });
  });
}

e2e("RTSP from a stranger gets an error and changes nothing", async () => {
  assert.ok(host.gamestream.rtspPort > 0, 'the host prints its RTSP port');
  // Garbage, a request line without RTSP/1.0, a request without a launch.
  assert.match((await rtsp('GARBAGE\r\n\r\n')).toString(), /^RTSP\/1\.0 400 /);
  assert.match((await rtsp('OPTIONS rtsp://x HTTP/1.1\r\nCSeq: 1\r\n\r\n')).toString(), /^RTSP\/1\.0 400 /);
  const options = (await rtsp('OPTIONS rtsp://127.0.0.1:48010 RTSP/1.0\r\nCSeq: 7\r\n\r\n')).toString();
  assert.match(options, /^RTSP\/1\.0 454 /, 'no launched client: 454');
  assert.match(options, /CSeq: 7/);
  // A sealed (rtspenc) request that no launch's key opens: closed unanswered.
  const sealed = Buffer.alloc(24 + 32, 7);
  sealed.writeUInt32BE(0x80000000 + 32, 0);
  assert.equal((await rtsp(sealed)).length, 0);
  // A sealed header claiming more than the host takes: refused at once.
  const huge = Buffer.alloc(8);
  huge.writeUInt32BE(0xffffffff, 0);
  assert.match((await rtsp(huge)).toString(), /^RTSP\/1\.0 400 /);
  assert.match(host.logs(), /RTSP from 127\.0\.0\.1: 454/);
  // The host goes on serving.
  const r = await fetch(`http://127.0.0.1:${host.gamestream.httpPort}/serverinfo?uniqueid=0123456789ABCDEF`);
  assert.equal(r.status, 200);
  assert.equal(host.exit, null, 'the host still runs');
});
