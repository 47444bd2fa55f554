// A client for the shaped-link test (tests/e2e/flow.test.mjs), run inside
// a network namespace behind a tbf qdisc (`ip netns exec NS node
// flow-client.mjs …`): says hello with acks like the browser, acknowledges
// every video frame as it arrives, and prints one JSON line a second:
//   {"t": <s since welcome>, "frames": <video frames that second>,
//    "kbps": <what arrived that second>, "stats": <the host's last stats>}
//
//   node flow-client.mjs HOST PORT CREDENTIAL_JSON SECONDS BITRATE_KBPS

import { rawWebSocket } from './rawws.mjs';

const [host, port, credentialJson, seconds, bitrate] = process.argv.slice(2);
const ws = await rawWebSocket(Number(port), '/ws', { host, lifetimeMs: (Number(seconds) + 30) * 1000 });
let frames = 0;
let bytes = 0;
ws.onBinary = (payload) => {
  if (payload[0] !== 0x01 || payload.length < 8)
    return;
  frames++;
  bytes += payload.length;
  ws.send(1, `{"type":"ack","frame":${payload.readUInt32LE(4)}}`);
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
for (let t = 1; t <= Number(seconds); t++) {
  await new Promise((r) => setTimeout(r, 1000));
  const stats = [...ws.messages].reverse().find((m) => m.type === 'stats') ?? null;
  console.log(JSON.stringify({ t, frames, kbps: Math.round(bytes * 8 / 1000), stats, close: ws.close }));
  frames = 0;
  bytes = 0;
}
ws.sock.destroy();
process.exit(0);
