// End to end with a shared desktop: a headless sway plays "the user's
// desktop" (started here as the account funkhaus, with an app that records
// its input), and `funkhaus serve` is told about it (shared-desktop=). Two
// Chromium clients join it at different modes: sway gets one new output per
// client at exactly that mode, each client decodes its own output, input
// from either reaches the desktop's apps, both hear the same tone played on
// the desktop; a client that leaves takes only its own output away (parked:
// sway 1.7 cannot remove one) and the next view reuses it. A third
// client with a desktop of its own runs beside them: neither its input nor
// its audio reaches the shared desktop, nor the other way round.

import { before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { spawn, execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdtemp, chmod, chown, readFile, rm, writeFile, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startHost, poll } from './lib/host.mjs';
import { launchBrowser, openClient, connectClient, colorClose } from './lib/client.mjs';
import { reportingTest } from './lib/report.mjs';
import { startGsClient } from './lib/gs-client.mjs';
import { RATE, toneLevel, rawTone, wavTone, rms } from './lib/audio.mjs';
import { copyIntoBind, makeHomesDir, removeDeviceAccounts, sandboxConfig, sessionAudio } from './lib/sandbox.mjs';

const run = promisify(execFile);
const RECORDER = process.env.FUNKHAUS_RECORDER;
const A_MODE = { width: 480, height: 320, refresh: 30 };
const B_MODE = { width: 400, height: 300, refresh: 30 };
const C_MODE = { width: 320, height: 240, refresh: 30 };
const EVDEV = { a: 30, b: 48, h: 35, l: 38, o: 24, p: 25, r: 19, v: 47, x: 45, i: 23, n: 49, d: 32, e: 18 };

const account = readFileSync('/etc/passwd', 'utf8').split('\n').find((l) => l.startsWith('funkhaus:'));
const FH_UID = account ? Number(account.split(':')[2]) : null;
const FH_GID = account ? Number(account.split(':')[3]) : null;
const skip = process.getuid?.() !== 0 ? 'needs root (the desktop runs as funkhaus)'
  : FH_UID === null ? 'no funkhaus account'
  : !RECORDER || !existsSync(RECORDER) ? 'no recorder (FUNKHAUS_RECORDER)'
  : !existsSync('/usr/bin/sway') ? 'no sway'
  : !existsSync('/usr/bin/pipewire') || !existsSync('/usr/bin/pacat') ? 'no PipeWire or pulseaudio-utils'
  : false;
if (skip && process.env.CI)
  throw new Error(`shared-desktop tests cannot run in CI: ${skip}`);

let dir = null;       // records and tones (1777), a sandbox-binds= folder
let homesParent = null; // the devices' homes (homes-dir) are in here
let runtime = null;   // the desktop's XDG_RUNTIME_DIR (funkhaus, 0700)
let sway = null;
let ipc = null;
let host = null;
let askHost = null;
let browser = null;
let A = null;
let B = null;
let C = null;
const extra = [];
const desktopLogs = [];

async function openClientFor(name, params) {
  return openClient(browser, askHost, name, params, { viewport: { width: C_MODE.width, height: C_MODE.height } });
}

const keyLines = (log) => log.split('\n').filter((l) => l.startsWith('key '));
const expectedKeys = (word) => [...word].flatMap((ch) => [`key ${EVDEV[ch]} down`, `key ${EVDEV[ch]} up`]);
const record = async (name) => readFile(join(dir, name), 'utf8').catch(() => '');

async function swaymsg(...args) {
  const { stdout } = await run('swaymsg', ['-s', ipc, '-r', ...args]);
  return JSON.parse(stdout);
}

async function outputs() {
  return (await swaymsg('-t', 'get_outputs')).map((o) => ({
    name: o.name, active: o.active, mode: o.current_mode, rect: o.rect,
  }));
}

/** The active output at `mode`, not the desktop's own HEADLESS-1. */
async function viewOutput(mode) {
  return (await outputs()).find((o) => o.active && o.name !== 'HEADLESS-1' && o.mode &&
    o.mode.width === mode.width && o.mode.height === mode.height);
}

function e2e(name, fn, { timeout = 60000 } = {}) {
  reportingTest(name, { timeout, skip }, async () => [
    host && `--- host log ---\n${host.logs()}`,
    askHost && `--- host log (shared-join=ask) ---\n${askHost.logs()}`,
    `--- desktop sway ---\n${desktopLogs.join('')}`,
    ...[A, B, C, ...extra].map((c) => c?.report()),
  ], fn);
}

before(async () => {
  if (skip)
    return;
  dir = await mkdtemp(join(tmpdir(), 'fh-shared-'));
  await chmod(dir, 0o1777);
  runtime = await mkdtemp(join(tmpdir(), 'fh-desktop-'));
  await chown(runtime, FH_UID, FH_GID);
  await chmod(runtime, 0o700);
  await writeFile(join(dir, 'tone-440.raw'), rawTone(440, 20));
  await writeFile(join(dir, 'tone-880.raw'), rawTone(880, 20));
  await writeFile(join(dir, 'mic-660.wav'), wavTone(660, 5));
  const conf = join(dir, 'desktop.conf');
  await writeFile(conf, [
    'output HEADLESS-1 mode --custom 640x360@30Hz position 0 0',
    'xwayland disable',
    'default_border none',
    'focus_follows_mouse no',
    `exec ${RECORDER} ${dir}/desktop.log 336699`,
  ].join('\n') + '\n');
  await chmod(conf, 0o644);
  sway = spawn('runuser', ['-u', 'funkhaus', '--', 'env', `XDG_RUNTIME_DIR=${runtime}`,
    'WLR_BACKENDS=headless', 'WLR_RENDERER=pixman', 'WLR_LIBINPUT_NO_DEVICES=1',
    'sway', '-c', conf], { stdio: ['ignore', 'pipe', 'pipe'] });
  sway.stdout.on('data', (d) => desktopLogs.push(d.toString()));
  sway.stderr.on('data', (d) => desktopLogs.push(d.toString()));
  ipc = await poll(async () => {
    const sock = (await readdir(runtime)).find((n) => /^sway-ipc\..*\.sock$/.test(n));
    return sock && existsSync(join(runtime, 'wayland-1')) ? join(runtime, sock) : null;
  }, { timeout: 15000, what: "the desktop's sway" });
  await poll(async () => /^ready /m.test(await record('desktop.log')), { timeout: 10000, what: "the desktop's app" });
  // A desktop of its own (C's) runs in its sandbox as C's device account:
  // its app is a copy of the recorder in `dir`, bound into every sandbox.
  homesParent = await mkdtemp(join(tmpdir(), 'fh-homes-'));
  const sandbox = sandboxConfig({ homesDir: await makeHomesDir(homesParent), binds: [dir] });
  host = await startHost({
    backend: 'wlroots',
    grace: 0,
    config: `[host]\nshared-desktop=${ipc}\nshared-wayland=${join(runtime, 'wayland-1')}\n` +
      `shared-join=allow\napp=${await copyIntoBind(RECORDER, dir)} ${dir}/%s.log\n${sandbox}`,
    gamestream: true,
  });
  browser = await launchBrowser(['--autoplay-policy=no-user-gesture-required',
    '--use-fake-ui-for-media-stream', '--use-fake-device-for-media-stream',
    `--use-file-for-fake-audio-capture=${join(dir, 'mic-660.wav')}`]);
});

after(async () => {
  for (const c of [A, B, C, ...extra])
    await c?.close();
  await browser?.close();
  const problems = [];
  for (const h of [host, askHost]) {
    if (h && !h.exit)
      await h.stop().catch(() => {});
    problems.push(...await removeDeviceAccounts(h));
  }
  await host?.cleanup();
  await askHost?.cleanup();
  sway?.kill('SIGTERM');
  await run('pkill', ['-TERM', '-f', `${dir}/`]).catch(() => {});
  if (dir && !process.env.FUNKHAUS_KEEP_TMP) {
    await rm(dir, { recursive: true, force: true });
    await rm(runtime, { recursive: true, force: true });
    if (homesParent)
      await rm(homesParent, { recursive: true, force: true });
  }
  if (problems.length)
    throw new Error(`device accounts left behind: ${problems.join('; ')}`);
});

e2e('two clients join the shared desktop, each with an output of its own at its mode', async () => {
  A = await connectClient(browser, host, 'A', { pin: host.pin, ...A_MODE, desktop: 'shared', mic: true });
  B = await connectClient(browser, host, 'B', { pin: await host.pair(), ...B_MODE, desktop: 'shared' });
  for (const c of [A, B])
    assert.equal((await c.get(() => window.funkhaus.welcome)).display.backend, 'wlroots-shared');
  const oa = await viewOutput(A_MODE);
  const ob = await viewOutput(B_MODE);
  assert.ok(oa && ob && oa.name !== ob.name, `two new outputs: ${JSON.stringify(await outputs())}`);
  assert.equal(oa.mode.refresh, 30000);
  assert.equal(ob.mode.refresh, 30000);

  // A window of its own colour on each view's output.
  for (const [o, color] of [[oa, 'cc2222'], [ob, '22cc22']]) {
    await swaymsg('--', `focus output ${o.name}; exec ${RECORDER} ${dir}/view-${o.name}.log ${color}`);
    await poll(async () => /^ready /m.test(await record(`view-${o.name}.log`)), { timeout: 10000, what: `a window on ${o.name}` });
  }
  for (const [c, mode, want] of [[A, A_MODE, [0xcc, 0x22, 0x22]], [B, B_MODE, [0x22, 0xcc, 0x22]]]) {
    await c.waitFrames((await c.hooks()).framesDecoded + 10);
    assert.deepEqual(await c.get(() => window.funkhaus.lastFrameSize), { width: mode.width, height: mode.height });
    // Off the middle: focusing an output warps the pointer to its middle.
    await poll(async () => colorClose(await c.sampleColor(mode.width / 4, mode.height / 4), want, 24),
      { timeout: 10000, what: `${c.name} to show its own output's window` })
      .catch(async (e) => {
        const tree = await swaymsg('-t', 'get_tree');
        const where = (n, out) => (n.type === 'output' ? n.name : out);
        const lines = [];
        const walk = (n, out) => {
          out = where(n, out);
          if (n.type === 'con' || n.type === 'floating_con' || n.type === 'workspace')
            lines.push(`${out} ${n.type} ${n.name} ${JSON.stringify(n.rect)}`);
          for (const k of [...(n.nodes ?? []), ...(n.floating_nodes ?? [])])
            walk(k, out);
        };
        walk(tree, null);
        e.message += `\nseen ${JSON.stringify(await c.sampleColor(mode.width / 4, mode.height / 4))}\ntree:\n${lines.join('\n')}`;
        throw e;
      });
  }
});

e2e('input from either client reaches the desktop, each in its own place', async () => {
  const oa = await viewOutput(A_MODE);
  const ob = await viewOutput(B_MODE);
  for (const [c, o, word] of [[A, oa, 'alpha'], [B, ob, 'bravo']]) {
    const box = await c.page.locator('#screen').boundingBox();
    await c.page.mouse.click(box.x + box.width / 2, box.y + box.height / 2);
    await c.page.keyboard.type(word, { delay: 30 });
    const log = await poll(async () => {
      const l = await record(`view-${o.name}.log`);
      return keyLines(l).length >= 2 * word.length ? l : null;
    }, { timeout: 10000, what: `${c.name}'s input on ${o.name}` });
    assert.deepEqual(keyLines(log), expectedKeys(word), `${c.name}'s keys on its window:\n${log}`);
    assert.match(log, /^button 272 down$/m, `${c.name}'s click landed on the window of its own output:\n${log}`);
  }
});

e2e('both clients hear the tone played on the desktop', async () => {
  const stack = /started a private PipeWire stack in (\S+)/.exec(host.logs())[1];
  await swaymsg('--', `exec env PULSE_SERVER=unix:${stack}/pulse/native pacat --playback --raw ` +
    `--format=s16le --rate=48000 --channels=2 --latency-msec=20 ${dir}/tone-440.raw`);
  await new Promise((r) => setTimeout(r, 2500));
  for (const c of [A, B]) {
    const samples = await c.get(() => window.funkhaus.audio.recent(1, 0));
    const level = toneLevel(samples, 440);
    console.log(`# ${c.name}: 440 Hz ${level.toFixed(3)}`);
    assert.ok(level > 0.15, `${c.name} hears the desktop's 440 Hz (level ${level})`);
  }
});

e2e("a viewer's microphone reaches the desktop's apps through the shared microphone", async () => {
  assert.equal((await A.get(() => window.funkhaus.welcome)).audio?.mic, true, 'A sends its microphone');
  await A.waitFor((f) => f.mic && f.mic.packets >= 50, { what: 'A sends its microphone', timeout: 20000 });
  const stack = /started a private PipeWire stack in (\S+)/.exec(host.logs())[1];
  const file = join(dir, 'desktop-mic.raw');
  await swaymsg('--', `exec env PULSE_SERVER=unix:${stack}/pulse/native parecord --raw ` +
    `--format=float32le --rate=48000 --channels=1 --latency-msec=20 ${file}`);
  const heard = await poll(async () => {
    const data = await readFile(file).catch(() => null);
    return data && data.length >= 4 * RATE * 1.5 ? data : null;
  }, { timeout: 15000, what: "1.5 s of the desktop's recording" });
  const samples = new Float32Array(heard.buffer, heard.byteOffset, Math.floor(heard.length / 4));
  const tail = samples.subarray(samples.length - RATE);
  const level = toneLevel(tail, 660);
  console.log(`# desktop recorder: 660 Hz ${level.toFixed(3)}, rms ${rms(tail).toFixed(3)}`);
  // A pure tone has level √2·rms; 660 Hz must carry at least half of
  // that (a starved machine's dropouts smear the rest; another tone or
  // silence gives nearly 0).
  assert.ok(level > 0.01 && level > 0.5 * Math.SQRT2 * rms(tail),
    `the desktop's recorder hears A's 660 Hz (level ${level}, rms ${rms(tail)})`);
  await run('pkill', ['-INT', '-f', `parecord .*${file}`]).catch(() => {});
});

e2e('a desktop of its own beside the shared one: neither input nor audio crosses', async () => {
  C = await connectClient(browser, host, 'C', { pin: await host.pair(), ...C_MODE });
  const sc = (await C.get(() => window.funkhaus.welcome)).session;
  assert.equal((await C.get(() => window.funkhaus.welcome)).display.backend, 'wlroots');
  // C's own app plays 880 Hz in C's session: in the PipeWire of C's own
  // when its sandbox has one (as C's account), else in the host's private
  // stack, which routes it by FUNKHAUS_SESSION.
  const stack = /started a private PipeWire stack in (\S+)/.exec(host.logs())[1];
  const own = sessionAudio(sc);
  const player = spawn('runuser', ['-u', own ? own.account : 'funkhaus', '--', 'env',
    ...(own ? [`PULSE_SERVER=${own.pulse}`] : [`PULSE_SERVER=unix:${stack}/pulse/native`, `FUNKHAUS_SESSION=${sc}`]),
    'pacat', '--playback', '--raw', '--format=s16le', '--rate=48000',
    '--channels=2', '--latency-msec=20', `${dir}/tone-880.raw`], { stdio: 'ignore' });
  try {
    await poll(async () => (await C.hooks()).audio?.decodedFrames > RATE * 2, { timeout: 15000, what: 'C hears' });
    await new Promise((r) => setTimeout(r, 1500));
    const c = await C.get(() => window.funkhaus.audio.recent(1, 0));
    const a = await A.get(() => window.funkhaus.audio.recent(1, 0));
    console.log(`# C: 880 Hz ${toneLevel(c, 880).toFixed(3)}, 440 Hz ${toneLevel(c, 440).toFixed(4)}; ` +
      `A: 880 Hz ${toneLevel(a, 880).toFixed(4)}, 440 Hz ${toneLevel(a, 440).toFixed(3)}`);
    // A pure tone decodes near 0.3; a starved 2-core machine's dropouts
    // have shown 0.11. What matters is which tone, checked below.
    assert.ok(toneLevel(c, 880) > 0.05, `C hears its own 880 Hz (${toneLevel(c, 880)})`);
    assert.ok(toneLevel(c, 440) < 0.01, 'C hears nothing of the shared desktop');
    assert.ok(toneLevel(a, 880) < 0.01, 'the shared desktop hears nothing of C');
  } finally {
    player.kill('SIGTERM');
  }
  // C types: only C's app gets it; the desktop's windows do not.
  const before = await Promise.all([record('desktop.log'), ...(await outputs()).map((o) => record(`view-${o.name}.log`))]);
  await C.page.keyboard.type('x', { delay: 30 });
  await poll(async () => keyLines(await readFile(join(dir, `${sc}.log`), 'utf8').catch(() => '')).length >= 2,
    { timeout: 10000, what: "C's key in C's app" });
  const after = await Promise.all([record('desktop.log'), ...(await outputs()).map((o) => record(`view-${o.name}.log`))]);
  assert.deepEqual(after, before, "C's key reached the shared desktop");

  // And the other way round: B types on the shared desktop, C's app gets nothing.
  const ob = await viewOutput(B_MODE);
  const cBefore = await readFile(join(dir, `${sc}.log`), 'utf8');
  const bKeys = keyLines(await record(`view-${ob.name}.log`)).length;
  await B.page.keyboard.type('d', { delay: 30 });
  await poll(async () => keyLines(await record(`view-${ob.name}.log`)).length >= bKeys + 2,
    { timeout: 10000, what: "B's key on the shared desktop" });
  assert.equal(await readFile(join(dir, `${sc}.log`), 'utf8'), cBefore, "B's key reached C's desktop");
});

e2e('a client that leaves takes only its own output away', async () => {
  // sway 1.7 cannot remove an output, nor wlroots 0.15 disable a headless
  // one: the host parks it at 64x64@1Hz for the next view.
  const oa = await viewOutput(A_MODE);
  await A.close();
  A = null;
  await poll(async () => {
    const o = (await outputs()).find((x) => x.name === oa.name);
    return o && o.mode.width === 64 && o.mode.height === 64 && o.mode.refresh === 1000;
  }, { timeout: 10000, what: `${oa.name} to be parked` });
  assert.ok(await viewOutput(B_MODE), "B's output stays");
  const n = (await B.hooks()).framesDecoded;
  await B.waitFrames(n + 10);
});

e2e('the next view reuses the parked output', async () => {
  const parked = (await outputs()).filter((o) => o.mode?.width === 64 && o.mode?.height === 64).map((o) => o.name);
  assert.equal(parked.length, 1, `one parked output: ${JSON.stringify(await outputs())}`);
  A = await connectClient(browser, host, 'A2', { pin: await host.pair(), ...A_MODE, desktop: 'shared' });
  const o = await viewOutput(A_MODE);
  assert.equal(o?.name, parked[0], 'the parked output came back at the new view\'s mode');
  await A.waitFrames(10);
});

e2e('a Moonlight client views the shared desktop at its own mode (app 2), types there and hears it', async () => {
  const mode = { width: 352, height: 288, refresh: 30 };
  const gs = await startGsClient(host, {
    name: 'M', stateDir: join(dir, 'gs-M'), pin: '2468',
    // A still desktop sends few frames: 10 are enough here.
    args: ['--app', '2', '--mode', `${mode.width}x${mode.height}x${mode.refresh}`, '--frames', '10',
      '--audio-ms', '500', '--keys', 'KEY_M,KEY_L', '--click', '--timeout', '60', '--hold',
      '--input-when-told'],
  });
  extra.push({ report: () => gs.report(), close: async () => { if (!gs.exit) gs.proc.kill('SIGKILL'); } });
  const apps = (await gs.waitFor('apps')).apps;
  assert.ok(apps.some((a) => a.id === 2 && a.title === 'Shared desktop'), `app 2 offered: ${JSON.stringify(apps)}`);
  await gs.waitFor('holding');
  const o = await viewOutput(mode);
  assert.ok(o, `an output of its own at 352x288: ${JSON.stringify(await outputs())}`);
  await swaymsg('--', `focus output ${o.name}; exec ${RECORDER} ${dir}/view-${o.name}.log 2222cc`);
  await poll(async () => /^ready /m.test(await record(`view-${o.name}.log`)), { timeout: 10000, what: `a window on ${o.name}` });
  // Away from it first: the Moonlight client's own click must bring focus back.
  await swaymsg('--', 'focus output HEADLESS-1');
  gs.proc.stdin.write('input\n');
  await gs.waitFor('input_sent');
  // Its click focused the window on its own output; its keys went there.
  const want = ['key 50 down', 'key 50 up', 'key 38 down', 'key 38 up'];
  const log = await poll(async () => {
    const l = await record(`view-${o.name}.log`);
    return keyLines(l).length >= want.length ? l : null;
  }, { timeout: 10000, what: `the Moonlight client's keys on ${o.name}` });
  assert.deepEqual(keyLines(log), want, `its keys on the window of its own output:\n${log}`);
  // The desktop's speaker, in Moonlight's packets (5 ms, constant bitrate);
  // the earlier test's 440 Hz is stopped first.
  await run('pkill', ['-TERM', '-f', `pacat .*${dir}/tone-440`]).catch(() => {});
  const stack = /started a private PipeWire stack in (\S+)/.exec(host.logs())[1];
  await swaymsg('--', `exec env PULSE_SERVER=unix:${stack}/pulse/native pacat --playback --raw ` +
    `--format=s16le --rate=48000 --channels=2 --latency-msec=20 ${dir}/tone-880.raw`);
  await new Promise((r) => setTimeout(r, 2500));
  assert.deepEqual(await gs.stop(), { code: 0, signal: null }, 'the Moonlight client quits cleanly');
  const au = gs.events.filter((e) => e.event === 'audio').pop();
  console.log(`# Moonlight view: ${JSON.stringify(au)}`);
  assert.ok(Math.abs(au.dominant_hz - 880) <= 10, `it hears the desktop's 880 Hz: ${JSON.stringify(au)}`);
  // In real time: no more audio than time went by (+ the jitter of 1 s).
  assert.ok(au.ms <= au.elapsed_ms + 1000, `audio came no faster than it plays: ${JSON.stringify(au)}`);
  // Its quit (/cancel) parks its output like a browser's leaving.
  await poll(async () => {
    const x = (await outputs()).find((y) => y.name === o.name);
    return x && x.mode.width === 64 && x.mode.height === 64;
  }, { timeout: 10000, what: `${o.name} to be parked` });
});

e2e("with shared-join=ask the host's user lets a view in or turns it away; views are limited", async () => {
  askHost = await startHost({
    backend: 'wlroots',
    grace: 0,
    args: ['--audio', 'off'],
    config: `[host]\nshared-desktop=${ipc}\nshared-wayland=${join(runtime, 'wayland-1')}\n` +
      `shared-join=ask\nshared-max-views=1\n` +
      sandboxConfig({ homesDir: join(homesParent, 'homes'), binds: [dir] }),
  });
  const approve = (verb, id) => run(process.env.FUNKHAUS_BIN, [verb, id], { env: askHost.env });
  const requestOf = (name) => poll(() => {
    const m = [...askHost.stdoutText().matchAll(/asks to view the shared desktop: 'funkhaus approve (\w+)'/g)];
    return m.length >= name ? m[name - 1][1] : null;
  }, { timeout: 10000, what: `request #${name} on the host's stdout` });
  const open = async (name, pin) => {
    const c = await openClientFor(name, { pin, ...C_MODE, desktop: 'shared', autoconnect: 1 });
    extra.push(c);
    return c;
  };

  // Approved: it streams.
  const d = await open('D', askHost.pin);
  const idD = await requestOf(1);
  const { stdout: pending } = await run(process.env.FUNKHAUS_BIN, ['approve'], { env: askHost.env });
  assert.match(pending, new RegExp(`^${idD} device`), `the request is listed: ${pending}`);
  await approve('approve', idD);
  await d.waitFor((f) => f.state === 'streaming' && f.welcome?.display.backend === 'wlroots-shared',
    { what: 'D streams once approved', timeout: 20000 });

  // Approved, but the one view allowed is taken: turned away, D unharmed.
  const e = await open('E', await askHost.pair());
  await approve('approve', await requestOf(2));
  await e.waitFor((f) => f.closes.length > 0, { what: 'E closed', timeout: 10000 });
  assert.deepEqual((await e.hooks()).closes[0].error, 'unsupported');

  // Denied: 4001, and D still streams.
  const f = await open('F', await askHost.pair());
  await approve('deny', await requestOf(3));
  await f.waitFor((h) => h.closes.length > 0, { what: 'F closed', timeout: 10000 });
  const closeF = (await f.hooks()).closes[0];
  assert.deepEqual({ code: closeF.code, error: closeF.error }, { code: 4001, error: 'unauthorized' });
  const n = (await d.hooks()).framesDecoded;
  await d.waitFrames(n + 10);
}, { timeout: 90000 });
