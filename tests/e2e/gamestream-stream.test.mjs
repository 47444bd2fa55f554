// Two Moonlight clients stream from one host at once (issue 9): the real
// `funkhaus serve --backend synthetic --gamestream on` and two runs of our
// headless client tests/gamestream/fh-gs-client, which behaves on the wire
// as moonlight-common-c does against Sunshine. Each pairs with its own PIN
// (typed with `funkhaus pair --moonlight`), lists apps, launches, completes
// RTSP (A over rtspenc://, B with --plain-rtsp over rtsp://), receives and
// FEC-decodes 120 video frames (A drops every 10th packet on purpose, so
// recovery is proven) and 1 s of audio, and sends its own keys and a mouse
// move. The synthetic backend records the input each session gets
// (input.log): A's keys must land in A's session only, B's in B's. The
// clients hold their streams (--hold) until the logs are checked, so both
// sessions are live at the same time; then they quit.

import { before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { reportingTest } from './lib/report.mjs';
import { rawTone } from './lib/audio.mjs';
import { startHost, poll } from './lib/host.mjs';
import { GS_CLIENT as CLIENT, startGsClient } from './lib/gs-client.mjs';

const MODE = '640x480x30';
const FRAMES = 120;
const AUDIO_MS = 1000;
const CLIENT_TIMEOUT_S = 90;

let host = null;
let tmp = null;
const clients = [];

function e2e(name, fn, { timeout = 240000 } = {}) {
  reportingTest(name, { timeout }, async () => {
    const parts = clients.map((c) => c.report());
    parts.push(await inputLogs().then((logs) => Object.entries(logs)
      .map(([s, l]) => `--- ${s}/input.log ---\n${l}`).join('\n')).catch(() => ''));
    parts.push(host && `--- host log ---\n${host.logs()}`);
    return parts;
  }, fn);
}

/** input.log of every session the synthetic backend has now. */
async function inputLogs() {
  const out = {};
  let sessions = [];
  try {
    sessions = await readdir(host.sessionsDir);
  } catch (e) {
    if (e.code !== 'ENOENT')
      throw e;
  }
  for (const s of sessions)
    out[s] = await host.inputLog(s);
  return out;
}

function keyLines(log) {
  return log.split('\n').filter((l) => l.startsWith('key '));
}

function expectedKeys(keys) {
  return keys.flatMap((k) => [`key ${k.evdev} ${k.name} down`, `key ${k.evdev} ${k.name} up`]);
}

/** Starts a client and, if it asks, types its PIN on the host. */
async function startPaired(name, extra) {
  const c = await startGsClient(host, {
    name, stateDir: join(tmp, name), pin: name === 'A' ? '4821' : '7305',
    args: ['--mode', MODE, '--frames', String(FRAMES), '--audio-ms', String(AUDIO_MS),
      '--timeout', String(CLIENT_TIMEOUT_S), '--hold', ...extra],
  });
  clients.push(c);
  return c;
}

before(async () => {
  assert.ok(existsSync(CLIENT), `no test client at ${CLIENT}: build it (meson compile -C build) or set FUNKHAUS_GS_CLIENT`);
  host = await startHost({ gamestream: true });
  tmp = await mkdtemp(join(tmpdir(), 'funkhaus-gs-stream-'));
  await chmod(tmp, 0o755); // the tone players run as the stack's user
  for (const hz of [440, 880])
    await writeFile(join(tmp, `tone-${hz}.raw`), rawTone(hz, 20));
});

after(async () => {
  for (const c of clients) {
    if (!c.exit)
      c.proc.kill('SIGKILL');
  }
  await host?.cleanup();
  if (tmp)
    await rm(tmp, { recursive: true, force: true });
});

e2e('a Moonlight client that loses frames gets a lower bitrate, and it climbs back', async () => {
  // After 30 frames the client reports 3 frames lost (a reference-frame
  // invalidation, which Moonlight sends when FEC could not repair them):
  // the host sends a keyframe and lowers the session's bitrate; with no
  // more losses it rises again (core/rate-control.c).
  const c = await startGsClient(host, {
    name: 'L', stateDir: join(tmp, 'L'), pin: '2468',
    args: ['--mode', MODE, '--frames', '150', '--audio-ms', '0', '--lose-at', '30',
      '--timeout', String(CLIENT_TIMEOUT_S), '--bitrate', '4000'],
  });
  clients.push(c);
  const lost = await c.waitFor('loss_reported');
  assert.equal(lost.frames, 3);
  const launched = await c.waitFor('launched');
  const v = await c.waitFor('video');
  assert.ok(v.frames >= 150 && v.keyframes >= 2, `the client streamed on, with a keyframe after the loss: ${JSON.stringify(v)}`);
  const log = host.logs();
  const down = /session ([0-9a-f]{8}): bitrate 4000 → (\d+) kb\/s \(its client's link\)/.exec(log);
  assert.ok(down && Number(down[2]) < 4000, `the host lowered the bitrate after the loss (launch ${JSON.stringify(launched)})`);
  // Rises are the same session's changes to a higher rate than before.
  const rose = () => [...host.logs().matchAll(new RegExp(`session ${down[1]}: bitrate (\\d+) → (\\d+) kb/s`, 'g'))]
    .some((m) => Number(m[2]) > Number(m[1]));
  await poll(rose, { timeout: 10000, what: 'the bitrate to climb back' });
  await c.stop();
}, { timeout: 120000 });

e2e('two Moonlight clients stream at once, each with its own session and input', async () => {
  assert.ok(host.gamestream, 'the host prints its GameStream ports');

  // Pairing is one client at a time (the host holds one PIN wait); the
  // streams then overlap: both hold until the end of the test.
  const a = await startPaired('A', ['--keys', 'KEY_A,KEY_B', '--drop-video', '10', '--text', 'hi!']);
  const b = await startPaired('B', ['--keys', 'KEY_C,KEY_D', '--plain-rtsp']);

  for (const c of [a, b]) {
    const apps = await c.waitFor('apps');
    assert.ok(apps.apps.some((x) => x.id === 1), `client ${c.name}: app 1 in ${JSON.stringify(apps.apps)}`);
  }
  const la = await a.waitFor('launched');
  const lb = await b.waitFor('launched');
  assert.match(la.url, /^rtspenc:\/\//, 'a launch with corever=1 answers rtspenc://');
  assert.match(lb.url, /^rtsp:\/\//, 'a launch without corever answers rtsp://');
  assert.notEqual(la.session, lb.session, 'two launches, two sessions');
  for (const c of [a, b]) {
    const r = await c.waitFor('rtsp');
    assert.ok(r.video_port && r.audio_port && r.control_port, `client ${c.name}: ports ${JSON.stringify(r)}`);
  }

  const ia = await a.waitFor('input_sent');
  const ib = await b.waitFor('input_sent');
  await a.waitFor('holding');
  await b.waitFor('holding');

  // Both are streaming now. Each one's keys are in exactly one session's
  // input.log, and that session has none of the other's.
  const wantA = expectedKeys(ia.keys);
  const wantB = expectedKeys(ib.keys);
  const logs = await poll(async () => {
    const l = await inputLogs();
    const all = Object.values(l).flatMap(keyLines);
    return wantA.every((k) => all.includes(k)) && wantB.every((k) => all.includes(k)) ? l : null;
  }, { timeout: 10000, what: "both clients' keys in the sessions' input.log" });
  const sessionOf = (want) => Object.keys(logs).filter((s) => want.some((k) => keyLines(logs[s]).includes(k)));
  const sa = sessionOf(wantA);
  const sb = sessionOf(wantB);
  assert.equal(sa.length, 1, `A's keys are in exactly one session: ${sa}`);
  assert.equal(sb.length, 1, `B's keys are in exactly one session: ${sb}`);
  assert.notEqual(sa[0], sb[0], "A's and B's keys landed in the same session");
  // A's text ("hi!", one character a message, as Moonlight's on-screen
  // keyboard sends it) comes as key taps on a US layout.
  const text = ['key 35 KEY_H down', 'key 35 KEY_H up', 'key 23 KEY_I down', 'key 23 KEY_I up',
    'key 42 KEY_LEFTSHIFT down', 'key 2 KEY_1 down', 'key 2 KEY_1 up', 'key 42 KEY_LEFTSHIFT up'];
  const textLog = await poll(async () => {
    const l = keyLines(await host.inputLog(sa[0]));
    return text.every((k) => l.includes(k)) ? l : null;
  }, { timeout: 10000, what: "A's text in A's session" });
  // Keys and text travel on two ENet channels: each in order, not the two.
  assert.deepEqual(textLog.filter((k) => text.includes(k)), text, "A's text, in order");
  assert.deepEqual(textLog.filter((k) => !text.includes(k)), wantA, `A's session has A's keys only, in order`);
  assert.ok(!keyLines(logs[sb[0]]).some((k) => text.includes(k)) &&
    !keyLines(await host.inputLog(sb[0])).some((k) => text.includes(k)), "A's text is not in B's session");
  assert.deepEqual(keyLines(logs[sb[0]]), wantB, `B's session has B's keys only, in order`);
  for (const [c, s, i] of [[a, sa[0], ia], [b, sb[0], ib]]) {
    // The absolute move, scaled from the client's reference size to the
    // session's mode (the same here).
    const w = Number(MODE.split('x')[0]);
    const h = Number(MODE.split('x')[1]);
    const x = Math.floor(i.mouse.x * w / i.mouse.width);
    const y = Math.floor(i.mouse.y * h / i.mouse.height);
    const motion = logs[s].split('\n').filter((l) => l.startsWith('motion ')).pop();
    assert.ok(motion, `client ${c.name}'s mouse move reached its session (want motion ${x} ${y})`);
    const [mx, my] = motion.split(' ').slice(1).map(Number);
    assert.ok(Math.abs(mx - x) <= 1 && Math.abs(my - y) <= 1,
      `client ${c.name}: ${motion}, want motion ${x} ${y} (±1)`);
  }

  for (const c of [a, b]) {
    const v = c.event('video');
    const au = c.event('audio');
    assert.ok(v && v.frames >= FRAMES, `client ${c.name}: ${JSON.stringify(v)}`);
    assert.ok(v.keyframes >= 1, `client ${c.name}: a keyframe`);
    // Frame numbers count what was sent, from 1: Moonlight takes a gap
    // before the first as a loss and asks for a new keyframe.
    assert.equal(v.first_frame, 1, `client ${c.name}: the first frame is number 1: ${JSON.stringify(v)}`);
    assert.ok(au && au.ms >= AUDIO_MS, `client ${c.name}: ${JSON.stringify(au)}`);
  }
  assert.ok(a.event('video').recovered_packets > 0, 'A dropped every 10th video packet; FEC recovered some');

  // Each session's own speaker: 440 Hz into A's, 880 Hz into B's (apps
  // of the session would find it through PULSE_SINK). Each client must
  // decode its own tone from the RTP audio (AES, FEC, Opus).
  const stack = /started a private PipeWire stack in (\S+)/.exec(host.logs())?.[1];
  assert.ok(stack, 'the host runs a private PipeWire stack');
  const players = [[sa[0], 440], [sb[0], 880]].map(([sid, hz]) => spawn('runuser', ['-u', 'funkhaus', '--',
    'env', `PULSE_SERVER=unix:${stack}/pulse/native`, `PULSE_SINK=funkhaus-speaker-${sid}`, 'pacat',
    // 200 ms of buffer: under ASan on 2 cores a 20 ms player ran dry now
    // and then, and its gaps smeared the tone the clients measure.
    '--playback', '--raw', '--format=s16le', '--rate=48000', '--channels=2', '--latency-msec=200',
    join(tmp, `tone-${hz}.raw`)], { stdio: 'ignore' }));
  const heard = {};
  try {
    await new Promise((r) => setTimeout(r, 2500));
    // What each heard in the last second, while both sessions stream (a
    // session's teardown reshapes the PipeWire graph, which can glitch the
    // other's audio for a moment).
    const before = Object.fromEntries([a, b].map((c) => [c.name, c.events.filter((e) => e.event === 'audio').length]));
    for (const c of [a, b])
      c.proc.stdin.write('report\n');
    await poll(() => [a, b].every((c) => c.events.filter((e) => e.event === 'audio').length > before[c.name]),
      { timeout: 10000, what: 'both clients to report' });
    for (const c of [a, b])
      heard[c.name] = c.events.filter((e) => e.event === 'audio')[before[c.name]];
    // Quit: the control stream disconnects and /cancel ends each session.
    for (const c of [a, b]) {
      const exit = await c.stop();
      assert.deepEqual(exit, { code: 0, signal: null }, `client ${c.name} exits 0`);
      assert.ok(c.event('quit'), `client ${c.name} quit`);
    }
  } finally {
    for (const p of players)
      p.kill('SIGTERM');
  }
  for (const [c, hz] of [[a, 440], [b, 880]]) {
    const au = heard[c.name];
    console.log(`# client ${c.name}: ${JSON.stringify(au)}`);
    assert.ok(Math.abs(au.dominant_hz - hz) <= 10 && au.tone_share > 0.3,
      `client ${c.name} hears its own session's ${hz} Hz: ${JSON.stringify(au)}`);
    assert.ok(au.ms <= au.elapsed_ms + 1000, `client ${c.name}: audio came no faster than it plays: ${JSON.stringify(au)}`);
  }
});
