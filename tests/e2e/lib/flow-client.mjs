// A client for the shaped-link test (tests/e2e/flow.test.mjs), run inside
// a network namespace behind a tbf qdisc (`ip netns exec NS node
// flow-client.mjs …`): says hello with acks like the browser, acknowledges
// video frames as they arrive, in pairs as the browser does (web/protocol.js,
// AckPacer), and prints one JSON line a second:
//   {"t": <s since welcome>, "frames": <video frames that second>,
//    "kbps": <what arrived that second>, "stats": <the host's last stats>}
//
//   node flow-client.mjs HOST PORT CREDENTIAL_JSON SECONDS BITRATE_KBPS [ACK_DELAY_MS]
//
// ACK_DELAY_MS holds each ack back that long: to the host, a client that
// far away (its acks come as late as over a long round trip). As
// "D0,D1@S": D0 ms until S seconds after the welcome, D1 ms from then on
// (a round trip that grows for good: a phone that changed its network).

import { readFileSync } from 'node:fs';
import { rawWebSocket } from './rawws.mjs';

// web/protocol.js is a browser module with no package.json: loaded by its
// text, as tests/e2e/web-protocol.test.mjs does.
const source = readFileSync(new URL('../../../web/protocol.js', import.meta.url), 'utf8');
const { AckPacer, encodeAck } =
  await import(`data:text/javascript;base64,${Buffer.from(source).toString('base64')}`);

const [host, port, credentialJson, seconds, bitrate, ackDelay] = process.argv.slice(2);
const delays = /^(\d+)(?:,(\d+)@(\d+))?$/.exec(ackDelay ?? '0');
if (!delays) {
  console.log(JSON.stringify({ error: `ACK_DELAY_MS is D or D0,D1@S, not ${ackDelay}` }));
  process.exit(2);
}
let welcomedAt = null;
const ackDelayMs = () => (delays[2] !== undefined && welcomedAt !== null &&
  Date.now() - welcomedAt >= Number(delays[3]) * 1000 ? Number(delays[2]) : Number(delays[1]));
const ws = await rawWebSocket(Number(port), '/ws', { host, lifetimeMs: (Number(seconds) + 30) * 1000 });
let frames = 0;
let bytes = 0;
const acks = new AckPacer((frame) => {
  const msg = encodeAck(frame);
  const delay = ackDelayMs();
  if (delay > 0)
    setTimeout(() => ws.send(2, msg), delay);
  else
    ws.send(2, msg);
});
ws.onBinary = (payload) => {
  if (payload[0] !== 0x01 || payload.length < 8)
    return;
  frames++;
  bytes += payload.length;
  acks.frame(payload.readUInt32LE(4));
};
ws.send(1, JSON.stringify({
  type: 'hello', protocol: 1, credential: JSON.parse(credentialJson),
  mode: { width: 1280, height: 720, refresh: 60 }, codecs: ['h264'], acks: true,
  bitrate_kbps: Number(bitrate),
}));
const start = Date.now();
while (!ws.messages.some((m) => m.type === 'welcome')) {
  if (ws.close || Date.now() - start > 20000) {
    console.log(JSON.stringify({ error: `no welcome: ${JSON.stringify(ws.close ?? ws.messages)}` }));
    process.exit(1);
  }
  await new Promise((r) => setTimeout(r, 50));
}
welcomedAt = Date.now();
for (let t = 1; t <= Number(seconds); t++) {
  await new Promise((r) => setTimeout(r, 1000));
  const stats = [...ws.messages].reverse().find((m) => m.type === 'stats') ?? null;
  console.log(JSON.stringify({ t, frames, kbps: Math.round(bytes * 8 / 1000), stats, close: ws.close }));
  frames = 0;
  bytes = 0;
}
ws.sock.destroy();
process.exit(0);
