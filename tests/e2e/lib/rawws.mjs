// A bare WebSocket client over TLS, for what a browser will not send (text
// frames that are not UTF-8, say). Enough of RFC 6455 for the tests: the
// handshake, masked frames out, unfragmented frames in, the close code.

import tls from 'node:tls';
import crypto from 'node:crypto';

/** Connects to wss://`host`:`port``path`; resolves once upgraded. The
 *  socket is `ws.sock` (pause it to stop reading); it is destroyed after
 *  `lifetimeMs`. Binary messages count in `ws.binary`, and go to
 *  `ws.onBinary` when set. `extensions` is offered in a
 *  Sec-WebSocket-Extensions header; the answer's header lines are
 *  `ws.headers` (lower-case names). */
export function rawWebSocket(port, path = '/ws', { lifetimeMs = 15000, host = 'localhost', extensions = null } = {}) {
  return new Promise((resolve, reject) => {
    const key = crypto.randomBytes(16).toString('base64');
    const sock = tls.connect({ host, port, rejectUnauthorized: false });
    let buf = Buffer.alloc(0);
    let upgraded = false;
    const ws = { messages: [], close: null, binary: 0, sock, headers: {} };
    ws.closed = new Promise((res) => { ws.onClose = res; });
    ws.send = (opcode, payload) => {
      const data = Buffer.from(payload);
      const mask = crypto.randomBytes(4);
      const len = data.length;
      let head;
      if (len < 126) {
        head = Buffer.from([0x80 | opcode, 0x80 | len]);
      } else if (len < 65536) {
        head = Buffer.from([0x80 | opcode, 0x80 | 126, len >> 8, len & 0xff]);
      } else {
        head = Buffer.alloc(10);
        head[0] = 0x80 | opcode;
        head[1] = 0x80 | 127;
        head.writeBigUInt64BE(BigInt(len), 2);
      }
      const masked = Buffer.from(data.map((b, i) => b ^ mask[i % 4]));
      sock.write(Buffer.concat([head, mask, masked]));
    };
    sock.on('secureConnect', () => {
      sock.write(`GET ${path} HTTP/1.1\r\nHost: ${host}:${port}\r\nUpgrade: websocket\r\n` +
        `Connection: Upgrade\r\nSec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n` +
        (extensions ? `Sec-WebSocket-Extensions: ${extensions}\r\n` : '') + '\r\n');
    });
    sock.on('data', (chunk) => {
      buf = Buffer.concat([buf, chunk]);
      if (!upgraded) {
        const end = buf.indexOf('\r\n\r\n');
        if (end < 0)
          return;
        const [status, ...lines] = buf.subarray(0, end).toString().split('\r\n');
        if (!/ 101 /.test(status)) {
          reject(new Error(`no upgrade: ${status}`));
          sock.destroy();
          return;
        }
        upgraded = true;
        for (const line of lines) {
          const colon = line.indexOf(':');
          if (colon > 0)
            ws.headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
        }
        buf = buf.subarray(end + 4);
        resolve(ws);
      }
      while (buf.length >= 2) {
        let len = buf[1] & 0x7f;
        let off = 2;
        if (len === 126) {
          if (buf.length < 4)
            return;
          len = buf.readUInt16BE(2);
          off = 4;
        } else if (len === 127) {
          if (buf.length < 10)
            return;
          len = Number(buf.readBigUInt64BE(2));
          off = 10;
        }
        if (buf.length < off + len)
          return;
        const opcode = buf[0] & 0x0f;
        const payload = buf.subarray(off, off + len);
        buf = buf.subarray(off + len);
        if (opcode === 1)
          ws.messages.push(JSON.parse(payload.toString()));
        else if (opcode === 2) {
          ws.binary++;
          ws.onBinary?.(payload);
        }
        else if (opcode === 8 && !ws.close)
          ws.close = { code: payload.length >= 2 ? payload.readUInt16BE(0) : 1005, reason: payload.subarray(2).toString() };
      }
    });
    sock.on('close', () => ws.onClose(ws.close ?? { code: 1006, reason: 'no close frame' }));
    sock.on('error', (e) => (upgraded ? null : reject(e)));
    setTimeout(() => sock.destroy(), lifetimeMs).unref();
  });
}
