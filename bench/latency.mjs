// The latency a browser sees (issue 17), in headless Chromium with the
// real web client (web/), against `funkhaus serve --backend synthetic`:
//
//   glass   on loopback: capture → the frame out of the browser's
//           VideoDecoder, at MODE (1280x720@60), p50/p99 over SECONDS;
//   link    the same client behind a shaped link: Chromium runs in a
//           network namespace whose veth the host reaches through tbf;
//           the client asks for BITRATE (20 Mbit/s), the link carries
//           LIMIT (5 Mbit/s) from LIMIT_AT s to LIFT_AT s; per second:
//           frames decoded, capture → decoded p50/p99, what arrived, the
//           bitrate the host aims at; twice: with the host's bitrate
//           adaptation, and against a second host without it
//           (--bitrate-adaptation off: only the skipping of frames).
//
// Capture times are the host's CLOCK_MONOTONIC (the video header's
// capture_us, the decoder's chunk timestamp); the page records when each
// frame left the decoder on the wall clock (window.funkhaus.decodedAt);
// this process measures the offset between the two clocks (both machines
// are this one). Prints one JSON object. Needs root (a namespace, tc) for
// the link part; without it, only glass.
//
//   node bench/latency.mjs [--glass-seconds S] [--link-seconds S]

import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { startHost } from '../tests/e2e/lib/host.mjs';
import { launchBrowser, openClient, CHROMIUM } from '../tests/e2e/lib/client.mjs';
import { makeLinkedNamespace } from '../tests/e2e/lib/netns.mjs';

const arg = (name, def) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : def;
};
const MODE = { width: 1280, height: 720, refresh: 60 };
const GLASS_SECONDS = arg('glass-seconds', 10);
const LINK_SECONDS = arg('link-seconds', 40);
const LIMIT_AT = 5;
const LIFT_AT = 25;
const BITRATE = 20000;
const LIMIT = '5mbit';
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** µs to add to CLOCK_MONOTONIC µs for the wall clock, the median of many
 *  readings of both. */
function monotonicToWall() {
  const d = [];
  for (let i = 0; i < 101; i++) {
    const mono = Number(process.hrtime.bigint() / 1000n);
    const wall = (performance.timeOrigin + performance.now()) * 1000;
    d.push(wall - mono);
  }
  d.sort((a, b) => a - b);
  return d[50];
}

function percentile(values, q) {
  if (!values.length)
    return null;
  const v = [...values].sort((a, b) => a - b);
  return v[Math.min(v.length - 1, Math.floor(q * v.length))];
}
const round1 = (x) => (x === null ? null : Math.round(x * 10) / 10);

/** Frames decoded since `since` (wall ms): their capture → decoded ms. */
async function latencies(client, offsetUs, since) {
  const at = await client.get(() => window.funkhaus.decodedAt);
  return at.filter(([, wall]) => wall > since).map(([capUs, wall]) => ({
    wall, ms: wall - (capUs + offsetUs) / 1000,
  }));
}

async function glass(host, browser, offsetUs) {
  const c = await openClient(browser, host, 'glass', {
    pin: await host.pair(), name: 'glass', ...MODE, bitrate: BITRATE, autoconnect: 1,
  }, { viewport: { width: MODE.width, height: MODE.height } });
  await c.waitFor((f) => f.state === 'streaming' && f.framesDecoded > 60, { what: 'streaming', timeout: 30000 });
  await sleep(2000);
  const from = performance.timeOrigin + performance.now();
  await sleep(GLASS_SECONDS * 1000);
  const l = (await latencies(c, offsetUs, from)).map((x) => x.ms);
  const h = await c.hooks();
  await c.close();
  return {
    frames: l.length,
    fps: round1(l.length / GLASS_SECONDS),
    p50_ms: round1(percentile(l, 0.5)),
    p99_ms: round1(percentile(l, 0.99)),
    max_ms: round1(percentile(l, 1)),
    decode_ms: round1(h.clientStats?.decodeMs ?? null),
    drawn_by: h.drawnBy ?? null,
    frame_interval_ms: round1(1000 / MODE.refresh),
  };
}

async function link(host, name) {
  const dir = await mkdtemp(join(tmpdir(), 'fh-latency-'));
  let browser = null;
  let net = null;
  const seconds = [];
  try {
    net = makeLinkedNamespace(name, name === 'lat' ? 198 : 197);
    // Chromium in the namespace: Playwright talks to it over a pipe, which
    // the exec keeps.
    const wrapper = join(dir, 'chromium-in-ns');
    await writeFile(wrapper, `#!/bin/sh\nexec ip netns exec ${net.ns} ${CHROMIUM} "$@"\n`);
    await chmod(wrapper, 0o755);
    // The new namespace's addresses settle for a moment (IPv6 on the
    // veth): a Chromium started at once sees the network change under its
    // first page load (ERR_NETWORK_CHANGED) and the page never runs.
    await sleep(3000);
    browser = await launchBrowser([], { executablePath: wrapper });
    const remote = { url: `https://${net.hostIp}:${host.port}/` };
    const c = await openClient(browser, remote, name, {
      pin: await host.pair(), name, ...MODE, bitrate: BITRATE, autoconnect: 1,
    }, { viewport: { width: MODE.width, height: MODE.height } });
    await c.waitFor((f) => f.state === 'streaming' && f.framesDecoded > 30, { what: 'streaming', timeout: 30000 });
    const offsetUs = monotonicToWall();
    let last = performance.timeOrigin + performance.now();
    for (let t = 1; t <= LINK_SECONDS; t++) {
      if (t === LIMIT_AT + 1)
        net.shape(LIMIT, '32kb', '400ms');
      if (t === LIFT_AT + 1)
        net.unshape();
      await sleep(1000);
      const l = await latencies(c, offsetUs, last);
      const h = await c.hooks();
      last = l.length ? l.at(-1).wall : last;
      const ms = l.map((x) => x.ms);
      seconds.push({
        t,
        limited: t > LIMIT_AT && t <= LIFT_AT,
        frames: ms.length,
        p50_ms: round1(percentile(ms, 0.5)),
        p99_ms: round1(percentile(ms, 0.99)),
        received_kbps: Math.round(h.clientStats?.kbps ?? 0),
        target_kbps: h.hostStats?.target_kbps ?? null,
        state: h.state,
      });
    }
    await c.close();
  } finally {
    await browser?.close().catch(() => {});
    net?.remove();
    await rm(dir, { recursive: true, force: true });
  }
  // The figures the issue asks for, from the per-second rows.
  const limited = seconds.filter((s) => s.limited);
  const settled = limited.filter((s) => s.t > LIMIT_AT + 5);
  const after = seconds.filter((s) => s.t > LIFT_AT);
  const backUp = after.find((s) => s.target_kbps !== null && s.target_kbps >= 0.9 * BITRATE);
  return {
    limit: LIMIT, asked_kbps: BITRATE, limit_at: LIMIT_AT, lift_at: LIFT_AT,
    worst_p99_after_5s_ms: settled.length ? Math.max(...settled.map((s) => s.p99_ms ?? Infinity)) : null,
    seconds_without_frames: seconds.filter((s) => s.frames === 0).length,
    back_up_after_s: backUp ? backUp.t - LIFT_AT : null,
    seconds,
  };
}

// A picture that takes every bit it is given (synthetic.c): a link
// slower than the stream has to show.
process.env.FUNKHAUS_SYNTHETIC_NOISE = '1';
const host = await startHost({ backend: 'synthetic', grace: 5, bitrate: BITRATE });
const out = { mode: `${MODE.width}x${MODE.height}@${MODE.refresh}` };
try {
  const browser = await launchBrowser();
  try {
    out.glass = await glass(host, browser, monotonicToWall());
  } finally {
    await browser.close();
  }
  out.link = process.getuid?.() === 0 ? await link(host, 'lat') : { skipped: 'needs root (a network namespace and tc)' };
} finally {
  await host.cleanup();
}
if (!out.link.skipped) {
  const fixed = await startHost({ backend: 'synthetic', grace: 5, bitrate: BITRATE,
    args: ['--bitrate-adaptation', 'off'] });
  try {
    out.fixed = await link(fixed, 'latfix');
  } finally {
    await fixed.cleanup();
  }
}
console.log(JSON.stringify(out));
