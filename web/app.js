// The funkhaus browser client: pairing, one WebSocket to one session, video
// on a canvas, input back, reconnect with resume; and, once paired, the
// console (console.js: a Moonlight client's PIN). The protocol is
// docs/protocol.md; window.funkhaus exposes the client's state to tests.

import {
  PROTOCOL_VERSION, KIND_VIDEO, FINAL_CLOSE_CODES, CLOSE_UNAUTHORIZED,
  CLOSE_SESSION_FAILED, KIND_AUDIO, parseVideo, parseAudio, encodeAck,
  AckPacer,
} from './protocol.js';
import { SpeakerPlayer, MicSender } from './audio.js';
import { VideoPipeline } from './decoder.js';
import { InputCapture } from './input.js';
import { GamepadSender } from './gamepad.js';
import { ClipboardSync } from './clipboard.js';
import { HostConsole } from './console.js';
import { GuestPanel } from './guests.js';

const CREDENTIAL_KEY = 'funkhaus.credential';
const SETTINGS_KEY = 'funkhaus.settings';
const PING_INTERVAL_MS = 2000;
const SILENCE_LIMIT_MS = 6000;   // no message for this long: the link is dead
const OPEN_TIMEOUT_MS = 10000;   // open + welcome
const JOIN_TIMEOUT_MS = 70000;   // … when the host's user approves a shared view
const BACKOFF_MIN_MS = 500;
const BACKOFF_MAX_MS = 5000;

const $ = (id) => document.getElementById(id);
const ui = {
  banner: $('banner'), bannerText: $('banner-text'), bannerClose: $('banner-close'),
  pairPanel: $('pair-panel'), pairForm: $('pair-form'), pin: $('pin'), name: $('device-name'),
  connectPanel: $('connect-panel'), connectForm: $('connect-form'),
  width: $('mode-width'), height: $('mode-height'), refresh: $('mode-refresh'),
  bitrate: $('bitrate'), join: $('join'), mic: $('use-mic'), clipboard: $('share-clipboard'), app: $('app'), desktop: $('desktop'), windowSize: $('use-window-size'), forget: $('forget-device'),
  deviceLabel: $('device-label'),
  stage: $('stage'), canvas: $('screen'),
  toolbar: $('toolbar'), status: $('status'),
  statsButton: $('toggle-stats'), lockButton: $('pointer-lock'),
  fullscreenButton: $('fullscreen'), disconnectButton: $('disconnect'),
  stats: $('stats'),
  access: $('access'),
};

// ---- test and automation hooks -------------------------------------------

const hooks = {
  state: 'idle',
  session: null,
  welcome: null,
  framesDecoded: 0,
  lastFrameSize: null,
  lastError: null,
  errors: [],        // every error, oldest first (lastError is the newest)
  closes: [],        // every WebSocket close: {code, reason, error}
  hostStats: null,
  clientStats: null,
  rttMs: null,
  framesReceived: 0, // video frames, before decoding
  keyframesReceived: 0,
  acksSent: 0,       // each acks every frame received before it (docs/protocol.md)
  keyframeRequests: 0,
  rumbles: [],       // every rumble message: {pad, strong, weak, played}
  clipboard: [],     // clipboard text that went either way: {dir: 'sent'|'received', text}
  access: null,      // the host's word on this device's input: {level, until}
  joinCode: null,    // the code a guest joins this session with (guests.js)
  guests: [],        // this session's guests, as the host lists them
  guestRequests: [], // devices waiting to be let in
  apps: null,        // the host's app list, once the console heard it
  // The last decoded frames: [capture µs on the host's monotonic clock,
  // the wall-clock ms it left the decoder] (bench/latency.mjs).
  decodedAt: [],
  // framesDrawn, drawnBy: below, once the video pipeline is there.
  socket: null,
  /** Drops the decoder as after a decode error: asks for a keyframe. */
  resetDecoder() {
    video.reset('reset from window.funkhaus');
  },
  async sampleColor(x, y) {
    const deadline = performance.now() + 5000;
    for (;;) {
      const rgb = await video.sample(x, y);
      if (rgb)
        return rgb;
      if (performance.now() > deadline)
        throw new Error('no frame drawn yet');
      await new Promise((r) => setTimeout(r, 50));
    }
  },
};
window.funkhaus = hooks;

// The console of this paired browser: a Moonlight client's PIN.
const hostConsole = new HostConsole(() => loadCredential(), hooks);
/** Sends a moonlight-pin as it is, past the form's own check (tests). */
hooks.sendMoonlightPin = (pin) => hostConsole.sendPin(pin);
hostConsole.onApps = fillApps;

function setState(state) {
  if (hooks.state === state)
    return;
  console.info(`funkhaus: ${hooks.state} → ${state}`);
  hooks.state = state;
  document.body.dataset.state = state;
  ui.status.textContent = state;
  const streaming = state === 'streaming' || state === 'reconnecting';
  ui.stage.hidden = !streaming && state !== 'connecting';
  ui.toolbar.hidden = !(streaming || state === 'connecting');
}

// What this device may do, as the host says (welcome, access): the host
// drops what its level does not allow, this only tells the user why.
function showAccess(access) {
  hooks.access = access ?? null;
  const level = access?.level ?? 'full';
  const until = access?.until ? ` until ${new Date(access.until).toLocaleString()}` : '';
  ui.access.hidden = level === 'full' && !until;
  ui.access.dataset.level = level;
  ui.access.textContent = level === 'view' ? 'view only: no keyboard, mouse or gamepad'
    : level === 'controller' ? `gamepads only: no keyboard or mouse${until}`
    : `full access${until}`;
}

function showPanel(which) {
  ui.pairPanel.hidden = which !== 'pair';
  ui.connectPanel.hidden = which !== 'connect';
  if (which === 'connect') {
    const cred = loadCredential();
    // The name typed when pairing, the id only for a credential kept
    // from before names were stored.
    ui.deviceLabel.textContent = !cred ? ''
      : typeof cred.name === 'string' && cred.name ? cred.name : cred.device;
    ui.deviceLabel.title = cred ? `device ${cred.device}` : '';
  }
}

function reportError(code, message, extra = {}) {
  const err = { code: code ?? null, message: message ?? '', closeCode: null, ...extra };
  hooks.lastError = err;
  hooks.errors.push(err);
  showBanner(message ? `${message}${code ? ` (${code})` : ''}` : String(code));
  return err;
}

function showBanner(text) {
  ui.bannerText.textContent = text;
  ui.banner.hidden = false;
}

function hideBanner() {
  ui.banner.hidden = true;
}

// ---- storage ----------------------------------------------------------------

function loadCredential() {
  try {
    const c = JSON.parse(localStorage.getItem(CREDENTIAL_KEY));
    if (c && typeof c.device === 'string' && typeof c.token === 'string')
      return c;
  } catch { /* unreadable: pair again */ }
  return null;
}

function loadSettings() {
  try {
    return JSON.parse(localStorage.getItem(SETTINGS_KEY)) || {};
  } catch {
    return {};
  }
}

// ---- pairing ----------------------------------------------------------------

async function pair(pin, name) {
  let res, body = null;
  try {
    res = await fetch('/api/pair', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ pin, name: name || 'browser' }),
    });
    body = await res.json().catch(() => null);
  } catch (e) {
    reportError('network', `cannot reach the host: ${e.message}`);
    return false;
  }
  if (!res.ok || !body || !body.device || !body.token) {
    reportError(body?.error ?? `http-${res.status}`,
      body?.message ?? `pairing failed (HTTP ${res.status})`, { status: res.status });
    return false;
  }
  // The name is for this page to show ("Paired as …"); the host knows it too.
  localStorage.setItem(CREDENTIAL_KEY, JSON.stringify({
    device: body.device, token: body.token, name: name || 'browser',
  }));
  hideBanner();
  hostConsole.start();
  return true;
}

// ---- the connection -----------------------------------------------------------

let conn = null;           // {ws, error, welcomed, timer, ack…}
let target = null;         // {mode, bitrate}: what the user asked for
let sessionMode = null;    // the mode the session runs at (from welcome)
let resumeId = null;
let backoffMs = BACKOFF_MIN_MS;
let reconnectTimer = 0;
let pingTimer = 0;
let lastRx = 0;

const rx = { frames: 0, bytes: 0, decodeMs: 0, decoded: 0, since: performance.now() };

const video = new VideoPipeline(ui.canvas, {
  onFrame(info) {
    hooks.framesDecoded++;
    hooks.lastFrameSize = { width: info.width, height: info.height };
    hooks.decodedAt.push([info.timestamp, performance.timeOrigin + performance.now()]);
    if (hooks.decodedAt.length > 1200)
      hooks.decodedAt.splice(0, 600);
    rx.decoded++;
    if (info.decodeMs !== null)
      rx.decodeMs += info.decodeMs;
  },
  onNeedKeyframe(reason) {
    console.warn(`funkhaus: asking for a keyframe: ${reason}`);
    hooks.keyframeRequests++;
    sendJson({ type: 'keyframe' });
  },
  onError(message) {
    console.warn(`funkhaus: ${message}`);
  },
});
// Pictures drawn on the canvas so far, and by whom: 'worker' (decoder.js
// hands the canvas to draw-worker.js where the browser can) or 'page'.
Object.defineProperties(hooks, {
  framesDrawn: { get: () => video.framesDrawn, enumerable: true },
  drawnBy: { get: () => (video.worker ? 'worker' : 'page'), enumerable: true },
});

const input = new InputCapture(ui.canvas, {
  send: (msg) => {
    if (conn && conn.welcomed && conn.ws.readyState === WebSocket.OPEN)
      conn.ws.send(msg);
  },
  mode: () => sessionMode,
  active: () => hooks.state === 'streaming',
  onHotkey: (e) => {
    if (e.ctrlKey && e.altKey && e.code === 'KeyS') {
      toggleStats();
      return true;
    }
    return false;
  },
});

const pads = new GamepadSender({
  send: (msg) => {
    if (conn && conn.welcomed && conn.ws.readyState === WebSocket.OPEN)
      conn.ws.send(msg);
  },
  active: () => hooks.state === 'streaming',
  frameRate: () => sessionMode?.refresh,
  onRumble: (r) => hooks.rumbles.push(r),
});

const clipboard = new ClipboardSync({
  send: (text) => sendJson({ type: 'clipboard', text }),
  onEvent: (e) => hooks.clipboard.push(e),
});

const guests = new GuestPanel((msg) => sendJson(msg), hooks);

const speaker = new SpeakerPlayer(hooks);
const mic = new MicSender(hooks, (bytes) => {
  if (conn && conn.welcomed && conn.ws.readyState === WebSocket.OPEN)
    conn.ws.send(bytes);
});

function sendJson(msg) {
  if (conn && conn.ws.readyState === WebSocket.OPEN)
    conn.ws.send(JSON.stringify(msg));
}

function wsUrl() {
  return `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws`;
}

function connect(settings) {
  const cred = loadCredential();
  if (!cred) {
    setState('pairing');
    showPanel('pair');
    return;
  }
  if (!VideoPipeline.supported()) {
    reportError('unsupported-browser',
      'this browser has no WebCodecs VideoDecoder (it needs HTTPS or localhost)');
    setState('failed');
    return;
  }
  target = settings;
  hideBanner();
  showPanel(null);
  openSocket('connecting');
}

function openSocket(state) {
  clearTimeout(reconnectTimer);
  reconnectTimer = 0;
  setState(state);
  const cred = loadCredential();
  const ws = new WebSocket(wsUrl());
  ws.binaryType = 'arraybuffer';
  const c = {
    ws, error: null, welcomed: false, timer: 0, dead: false,
  };
  c.acks = new AckPacer((frame) => sendAck(c, frame));
  conn = c;
  hooks.socket = ws;
  // Joining the shared desktop may wait for the host's user to approve it.
  c.timer = setTimeout(() => dropConnection(c, 'no welcome from the host'),
    target.desktop === 'shared' || target.appShared || target.join ? JOIN_TIMEOUT_MS
      : OPEN_TIMEOUT_MS);

  ws.onopen = () => {
    if (c.dead)
      return;
    const hello = {
      type: 'hello',
      protocol: PROTOCOL_VERSION,
      credential: { device: cred.device, token: cred.token },
      mode: target.mode,
      codecs: ['h264'],
      acks: true,
    };
    if (target.bitrate)
      hello.bitrate_kbps = target.bitrate;
    if (target.mic && MicSender.supported())
      hello.mic = true;
    if (target.clipboard && ClipboardSync.supported())
      hello.clipboard = true;
    if (target.desktop === 'shared')
      hello.desktop = 'shared';
    if (target.app)
      hello.app = target.app;
    // A guest asks again with the code (its owner lets it in again); it
    // has no session of its own to resume.
    if (target.join)
      hello.join = target.join;
    else if (resumeId)
      hello.resume = resumeId;
    // The keyboard layout of the session's virtual keyboard (?layout=de);
    // without it the host's default applies.
    const layout = new URLSearchParams(location.search).get('layout');
    if (layout && /^[A-Za-z0-9()_+:-]{1,32}$/.test(layout))
      hello.layout = layout;
    ws.send(JSON.stringify(hello));
  };
  ws.onmessage = (ev) => {
    if (c.dead)
      return;
    lastRx = performance.now();
    if (typeof ev.data === 'string')
      onText(c, ev.data);
    else
      onBinary(ev.data);
  };
  ws.onclose = (ev) => {
    if (c.dead)
      return;
    onClosed(c, ev.code, ev.reason);
  };
}

function onText(c, text) {
  let msg;
  try {
    msg = JSON.parse(text);
  } catch {
    console.warn('funkhaus: host sent invalid JSON', text);
    return;
  }
  switch (msg.type) {
  case 'welcome':
    clearTimeout(c.timer);
    c.welcomed = true;
    hooks.welcome = msg;
    hooks.session = msg.session;
    resumeId = msg.guest ? null : msg.session;
    sessionMode = msg.mode;
    showAccess(msg.access);
    guests.start(msg.join_code);
    backoffMs = BACKOFF_MIN_MS;
    video.restart();
    input.forget();
    pads.forget();
    pads.start();
    if (msg.clipboard)
      clipboard.start();
    if (msg.audio && SpeakerPlayer.supported())
      speaker.start();
    if (msg.audio?.mic)
      mic.start();
    hideBanner();
    setState('streaming');
    startPing();
    break;
  case 'access':
    showAccess(msg);
    break;
  case 'guests':
    guests.guests(msg);
    break;
  case 'guest-request':
    guests.request(msg);
    break;
  case 'stats':
    hooks.hostStats = msg;
    renderStats();
    break;
  case 'state':
    hooks.sessionState = msg;
    if (msg.state === 'failed')
      showBanner(`the session failed: ${msg.reason ?? 'no reason given'}`);
    break;
  case 'error':
    c.error = msg;
    reportError(msg.code, msg.message);
    break;
  case 'rumble':
    pads.rumble(msg);
    break;
  case 'clipboard':
    clipboard.received(msg.text);
    break;
  case 'pong':
    if (typeof msg.t === 'number')
      hooks.rttMs = performance.now() - msg.t;
    break;
  default:
    console.warn(`funkhaus: unknown message type ${msg.type}`);
  }
}

function onBinary(buffer) {
  rx.bytes += buffer.byteLength;
  const kind = new Uint8Array(buffer, 0, Math.min(1, buffer.byteLength))[0];
  if (kind === KIND_AUDIO) {
    const a = parseAudio(buffer);
    if (a)
      speaker.push(a);
    return;
  }
  if (kind !== KIND_VIDEO)
    return; // a later kind this client does not know
  const v = parseVideo(buffer);
  if (!v)
    return;
  rx.frames++;
  hooks.framesReceived++;
  if (v.keyframe)
    hooks.keyframesReceived++;
  // Received: the host bounds what is in flight on the link by these
  // (docs/protocol.md, "Flow control"); the decoder's own queue is ours.
  if (conn && conn.welcomed)
    conn.acks.frame(v.frame);
  video.push(v);
}

function sendAck(c, frame) {
  if (c.dead || c.ws.readyState !== WebSocket.OPEN)
    return;
  c.ws.send(encodeAck(frame));
  hooks.acksSent++;
}

function startPing() {
  clearInterval(pingTimer);
  lastRx = performance.now();
  pingTimer = setInterval(() => {
    if (!conn || !conn.welcomed)
      return;
    if (performance.now() - lastRx > SILENCE_LIMIT_MS) {
      dropConnection(conn, 'the host went silent');
      return;
    }
    sendJson({ type: 'ping', t: performance.now() });
  }, PING_INTERVAL_MS);
}

/** Gives up on a connection that is not closing by itself (dead network). */
function dropConnection(c, reason) {
  if (c.dead)
    return;
  try { c.ws.close(); } catch { /* already closing */ }
  onClosed(c, 1006, reason);
}

function onClosed(c, code, reason) {
  c.dead = true;
  clearTimeout(c.timer);
  c.acks.stop();
  clearInterval(pingTimer);
  if (conn === c)
    conn = null;
  input.forget();
  pads.stop();
  pads.forget();
  clipboard.stop();
  guests.reset();
  video.restart();
  mic.stop();
  const err = c.error;
  hooks.closes.push({ code, reason, error: err ? err.code : null });

  if (err || code >= 4000 || code === 1001) {
    // The error message (if any) came first: complete it with the close code.
    if (err && hooks.lastError && hooks.lastError.code === err.code && hooks.lastError.closeCode === null)
      hooks.lastError.closeCode = code;
    else
      reportError(err?.code ?? null, err?.message ?? (reason || `connection closed (${code})`),
        { closeCode: code });
  }

  if (c.userClosed || FINAL_CLOSE_CODES.has(code))
    speaker.stop();
  if (c.userClosed) {
    setState('closed');
    showPanel('connect');
    return;
  }
  if (FINAL_CLOSE_CODES.has(code)) {
    setState('failed');
    if (code === CLOSE_SESSION_FAILED)
      resumeId = null; // that session is gone; a new connect starts afresh
    if (code === CLOSE_UNAUTHORIZED)
      showPanel('pair');
    else
      showPanel('connect');
    return;
  }
  // A drop: come back to the same session while the host keeps it.
  setState('reconnecting');
  const delay = backoffMs;
  backoffMs = Math.min(backoffMs * 2, BACKOFF_MAX_MS);
  reconnectTimer = setTimeout(() => openSocket('reconnecting'), delay);
}

function disconnect() {
  clearTimeout(reconnectTimer);
  reconnectTimer = 0;
  if (conn) {
    const c = conn;
    input.releaseAll();
    c.userClosed = true;
    try { c.ws.close(1000, 'bye'); } catch { /* already closing */ }
    onClosed(c, 1000, 'closed by the user');
  } else {
    setState('closed');
    showPanel('connect');
  }
}

// ---- stats overlay ------------------------------------------------------------

function toggleStats() {
  ui.stats.hidden = !ui.stats.hidden;
  renderStats();
}

setInterval(() => {
  const now = performance.now();
  const secs = (now - rx.since) / 1000;
  hooks.clientStats = {
    fps: rx.decoded / secs,
    kbps: (rx.bytes * 8) / 1000 / secs,
    decodeMs: rx.decoded ? rx.decodeMs / rx.decoded : null,
    received: rx.frames / secs,
  };
  rx.frames = rx.bytes = rx.decoded = rx.decodeMs = 0;
  rx.since = now;
  renderStats();
}, 1000);

function fmt(v, digits = 1) {
  return typeof v === 'number' && Number.isFinite(v) ? v.toFixed(digits) : '–';
}

function renderStats() {
  if (ui.stats.hidden)
    return;
  const c = hooks.clientStats ?? {};
  const h = hooks.hostStats ?? {};
  const m = sessionMode;
  ui.stats.textContent = [
    `session   ${hooks.session ?? '–'}`,
    `mode      ${m ? `${m.width}×${m.height}@${m.refresh}` : '–'}`,
    `picture   ${hooks.lastFrameSize ? `${hooks.lastFrameSize.width}×${hooks.lastFrameSize.height}` : '–'}`,
    `fps       ${fmt(c.fps)} decoded, ${fmt(c.received)} received`,
    `bitrate   ${fmt(c.kbps, 0)} kbit/s`,
    `decode    ${fmt(c.decodeMs)} ms`,
    `rtt       ${fmt(hooks.rttMs)} ms by ping, ${fmt(h.round_trip_ms)} ms as the host sees it`,
    `host fps  ${fmt(h.fps)}, ${fmt(h.kbps, 0)} kbit/s, dropped ${h.dropped ?? '–'}`,
    `link      aiming at ${h.target_kbps ?? '–'} kbit/s, ${h.skipped ?? '–'} frames skipped`,
    `encode    p50 ${fmt(h.encode_ms_p50)} / p99 ${fmt(h.encode_ms_p99)} ms`,
    `to send   p50 ${fmt(h.capture_to_send_ms_p50)} / p99 ${fmt(h.capture_to_send_ms_p99)} ms`,
  ].join('\n');
}

// ---- forms and buttons --------------------------------------------------------

const even = (v) => Math.floor(v / 2) * 2;
const clamp = (v, lo, hi) => Math.max(lo, Math.min(hi, v));

function windowMode() {
  return {
    width: clamp(even(window.innerWidth), 64, 7680),
    height: clamp(even(window.innerHeight), 64, 4320),
  };
}

function fillConnectForm(params) {
  const saved = loadSettings();
  const win = windowMode();
  ui.width.value = params.get('width') ?? win.width;
  ui.height.value = params.get('height') ?? win.height;
  ui.refresh.value = params.get('refresh') ?? 60;
  ui.bitrate.value = params.get('bitrate') ?? saved.bitrate ?? '';
  ui.mic.checked = (params.get('mic') ?? (saved.mic ? '1' : '0')) === '1';
  ui.join.value = /^\d{6}$/.test(params.get('join') ?? '') ? params.get('join') : '';
  ui.desktop.value = params.get('desktop') === 'shared' ? 'shared' : 'own';
  // The host's list comes later (the console): what to pick once it does.
  ui.app.dataset.want = params.get('app') ?? saved.app ?? '';
  ui.mic.disabled = !MicSender.supported();
  ui.clipboard.checked = (params.get('clipboard') ?? (saved.clipboard ? '1' : '0')) === '1';
  ui.clipboard.disabled = !ClipboardSync.supported();
}

function readConnectForm() {
  const mode = {
    width: even(parseInt(ui.width.value, 10)),
    height: even(parseInt(ui.height.value, 10)),
    refresh: parseInt(ui.refresh.value, 10),
  };
  const bitrate = parseInt(ui.bitrate.value, 10);
  const app = parseInt(ui.app.value || ui.app.dataset.want, 10);
  const picked = ui.app.selectedOptions[0];
  const join = ui.join.value.trim();
  return { mode, bitrate: Number.isFinite(bitrate) ? bitrate : null, mic: ui.mic.checked,
    join: /^\d{6}$/.test(join) ? join : null,
    clipboard: ui.clipboard.checked, desktop: ui.desktop.value, app: app > 0 ? app : null,
    appShared: picked?.dataset.shared === '1' };
}

// The host's apps (the console's "apps"): one that cannot start here is
// shown with the reason and cannot be picked.
function fillApps(apps) {
  hooks.apps = apps;
  const want = ui.app.value || ui.app.dataset.want || '';
  ui.app.replaceChildren(new Option("the host's default", ''));
  for (const a of apps) {
    if (!Number.isInteger(a.id) || typeof a.name !== 'string')
      continue;
    const o = new Option(a.unavailable ? `${a.name} (${a.unavailable})` : a.name, String(a.id));
    o.disabled = typeof a.unavailable === 'string';
    o.dataset.shared = a.shared ? '1' : '';
    ui.app.add(o);
  }
  ui.app.value = want;
  if (ui.app.value !== want || ui.app.selectedOptions[0]?.disabled)
    ui.app.value = '';
  ui.app.dataset.want = ui.app.value; // gone from the list: the default
}

ui.app.addEventListener('change', () => { ui.app.dataset.want = ''; });

ui.pairForm.addEventListener('submit', async (e) => {
  e.preventDefault();
  if (await pair(ui.pin.value.trim(), ui.name.value.trim())) {
    setState('idle');
    showPanel('connect');
  }
});

ui.connectForm.addEventListener('submit', (e) => {
  e.preventDefault();
  const settings = readConnectForm();
  localStorage.setItem(SETTINGS_KEY, JSON.stringify({
    bitrate: settings.bitrate, mic: settings.mic, clipboard: settings.clipboard, app: settings.app,
  }));
  resumeId = null;
  connect(settings);
});

ui.windowSize.addEventListener('click', () => {
  const win = windowMode();
  ui.width.value = win.width;
  ui.height.value = win.height;
});

ui.forget.addEventListener('click', () => {
  localStorage.removeItem(CREDENTIAL_KEY);
  hostConsole.stop();
  setState('pairing');
  showPanel('pair');
});

// Browsers let a page make sound only after a user gesture.
for (const type of ['pointerdown', 'keydown'])
  window.addEventListener(type, () => speaker.resume(), { capture: true });

ui.bannerClose.addEventListener('click', hideBanner);
ui.statsButton.addEventListener('click', toggleStats);
ui.disconnectButton.addEventListener('click', disconnect);
ui.lockButton.addEventListener('click', () => ui.canvas.requestPointerLock?.());
ui.fullscreenButton.addEventListener('click', () => {
  if (document.fullscreenElement)
    document.exitFullscreen();
  else
    ui.stage.requestFullscreen?.().catch(() => {});
});
// Buttons must not keep the focus: Space or Enter would press them again.
for (const b of [ui.statsButton, ui.lockButton, ui.fullscreenButton, ui.disconnectButton])
  b.addEventListener('mouseup', () => b.blur());

// ---- start ------------------------------------------------------------------------

async function start() {
  const params = new URLSearchParams(location.search);
  fillConnectForm(params);
  ui.name.value = params.get('name') ?? '';
  const pin = params.get('pin');
  if (pin) {
    // Keep the PIN out of the history and of anything copied from the bar.
    params.delete('pin');
    const rest = params.toString();
    history.replaceState(null, '', location.pathname + (rest ? `?${rest}` : ''));
  }

  if (!loadCredential()) {
    setState('pairing');
    showPanel('pair');
    if (!pin)
      return;
    ui.pin.value = pin;
    if (!(await pair(pin, params.get('name') ?? '')))
      return;
  }
  setState('idle');
  showPanel('connect');
  hostConsole.start();
  if (params.get('autoconnect') === '1')
    connect(readConnectForm());
}

start();
