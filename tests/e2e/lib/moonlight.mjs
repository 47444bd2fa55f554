// A Moonlight-like pairing client for the tests: its own RSA-2048 key and
// self-signed certificate (openssl), a PIN of its own as Moonlight shows
// one, and the four /pair phases over plain HTTP as docs/gamestream.md
// ("Pairing") describes them, with SHA-256 (the host reports appversion 7).
// tests/integration/test-gs-http.c does the same in C.

import { execFile } from 'node:child_process';
import { createCipheriv, createDecipheriv, createHash, randomBytes, randomInt, sign } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
export const UNIQUEID = '0123456789ABCDEF';

export function xmlField(xml, name) {
  const m = new RegExp(`<${name}>([^<]*)</${name}>`).exec(xml);
  return m ? m[1] : null;
}

const sha256 = (...parts) => createHash('sha256').update(Buffer.concat(parts)).digest();

function aesEcb(encrypt, key, data) {
  const c = encrypt ? createCipheriv('aes-128-ecb', key, null) : createDecipheriv('aes-128-ecb', key, null);
  c.setAutoPadding(false);
  return Buffer.concat([c.update(data), c.final()]);
}

/** One DER TLV at `at`: {tag, start (of the content), end}. */
function derTlv(der, at) {
  const tag = der[at];
  let len = der[at + 1];
  let start = at + 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    len = 0;
    for (let i = 0; i < n; i++)
      len = len * 256 + der[start + i];
    start += n;
  }
  return { tag, start, end: start + len };
}

/** The raw signature bytes of a PEM certificate (X509_get0_signature):
 *  Certificate ::= SEQUENCE { tbsCertificate, signatureAlgorithm,
 *  signatureValue BIT STRING }. */
export function certSignature(pem) {
  const b64 = pem.replace(/-----[^-]+-----/g, '').replace(/\s+/g, '');
  const der = Buffer.from(b64, 'base64');
  const cert = derTlv(der, 0);
  const tbs = derTlv(der, cert.start);
  const alg = derTlv(der, tbs.end);
  const sig = derTlv(der, alg.end);
  if (cert.tag !== 0x30 || sig.tag !== 0x03 || der[sig.start] !== 0)
    throw new Error('not a certificate with a signature');
  return der.subarray(sig.start + 1, sig.end);
}

export class MoonlightClient {
  /** Makes its key and certificate in directory `dir`. */
  static async create(dir, name) {
    const key = join(dir, `${name}-key.pem`);
    const cert = join(dir, `${name}-cert.pem`);
    await run('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key,
      '-out', cert, '-days', '1', '-subj', '/CN=NVIDIA GameStream Client']);
    const c = new MoonlightClient();
    c.name = name;
    c.keyPem = await readFile(key, 'utf8');
    c.certPem = await readFile(cert, 'utf8');
    return c;
  }

  /** Starts pairing with the host at `httpPort`: {pin, result}. `pin` is
   *  what this client "shows"; `result` resolves once the host answered
   *  all phases: {paired: true} or {paired: false, phase, xml}. */
  pair(httpPort) {
    const pin = String(randomInt(0, 10000)).padStart(4, '0');
    return { pin, result: this.#run(httpPort, pin) };
  }

  async #get(httpPort, query) {
    const base = `http://127.0.0.1:${httpPort}/pair?uniqueid=${UNIQUEID}`
      + `&devicename=${encodeURIComponent(this.name)}&updateState=1`;
    const r = await fetch(`${base}&${query}`);
    return r.text();
  }

  async #run(httpPort, pin) {
    const salt = randomBytes(16);
    const key = sha256(salt, Buffer.from(pin)).subarray(0, 16);
    const hex = (b) => b.toString('hex').toUpperCase();

    // 1: getservercert, answered once the PIN is entered on the host.
    let xml = await this.#get(httpPort, `phrase=getservercert&salt=${hex(salt)}`
      + `&clientcert=${hex(Buffer.from(this.certPem))}`);
    if (xmlField(xml, 'paired') !== '1')
      return { paired: false, phase: 'getservercert', xml };
    const serverPem = Buffer.from(xmlField(xml, 'plaincert'), 'hex').toString();

    // 2: clientchallenge
    const challenge = randomBytes(16);
    xml = await this.#get(httpPort, `clientchallenge=${hex(aesEcb(true, key, challenge))}`);
    if (xmlField(xml, 'paired') !== '1')
      return { paired: false, phase: 'clientchallenge', xml };
    const resp = aesEcb(false, key, Buffer.from(xmlField(xml, 'challengeresponse'), 'hex'));
    const serverResponse = resp.subarray(0, 32);
    const serverChallenge = resp.subarray(32, 48);

    // 3: serverchallengeresp = AES(H(server challenge ‖ our cert's signature ‖ our secret))
    const secret = randomBytes(16);
    const hashed = sha256(serverChallenge, certSignature(this.certPem), secret);
    xml = await this.#get(httpPort, `serverchallengeresp=${hex(aesEcb(true, key, hashed))}`);
    if (xmlField(xml, 'paired') !== '1')
      return { paired: false, phase: 'serverchallengeresp', xml };
    const pairingSecret = Buffer.from(xmlField(xml, 'pairingsecret'), 'hex');
    // The host knew our PIN only if its phase-2 hash checks out.
    const hostKnewPin = sha256(challenge, certSignature(serverPem), pairingSecret.subarray(0, 16))
      .equals(serverResponse);

    // 4: clientpairingsecret = our secret ‖ its signature
    const signature = sign('sha256', secret, this.keyPem);
    xml = await this.#get(httpPort, `clientpairingsecret=${hex(Buffer.concat([secret, signature]))}`);
    if (xmlField(xml, 'paired') !== '1')
      return { paired: false, phase: 'clientpairingsecret', xml, hostKnewPin };
    return { paired: true, hostKnewPin };
  }
}
