// The GameStream plane of `funkhaus serve` as a process: /serverinfo over
// HTTP on the ports the host printed, and `funkhaus pair --moonlight PIN`
// reaching a /pair getservercert that waits for it (through the control
// socket). The whole PIN exchange, HTTPS with client certificates, launch
// and revocation are tested in-process by tests/integration/test-gs-http.c.
// No streaming: the host has no RTSP/ENet/RTP server yet.

import { before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
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
