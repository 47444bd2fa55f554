// The console of a paired browser (docs/protocol.md, "Console"): a second
// WebSocket that asks for no session and hears whether a Moonlight client
// waits for its PIN; the user types that PIN here. The host says nothing on
// it before the device credential checks out. A device with the owner right
// also gets the owner's page (owner.js) on it.

import { PROTOCOL_VERSION, CLOSE_UNAUTHORIZED } from './protocol.js';
import { OwnerPage } from './owner.js';

const RETRY_MS = 3000;
const PIN_RE = /^\d{4}$/;
// Closes after which trying again would fail the same way: a wrong
// credential, or a host from before the console (bad-message, unsupported).
const CLOSE_BAD_MESSAGE = 4000;
const CLOSE_UNSUPPORTED = 4003;

const $ = (id) => document.getElementById(id);

export class HostConsole {
  /** `credential()` returns {device, token} or null; `hooks.moonlight` is
   *  kept up to date for tests; `onApps(apps)`, when set, hears the host's
   *  app list. */
  constructor(credential, hooks) {
    this.credential = credential;
    this.hooks = hooks;
    this.ws = null;
    this.retry = 0;
    this.ui = {
      section: $('moonlight'), status: $('moonlight-status'), form: $('moonlight-form'),
      client: $('moonlight-client'), pin: $('moonlight-pin'), result: $('moonlight-result'),
    };
    hooks.moonlight = { state: null, client: null, message: null, device: null, error: null };
    // The owner's page, when the host says this device holds the right.
    this.owner = new OwnerPage((msg) => this.sendOwner(msg), hooks);
    this.ui.form.addEventListener('submit', (e) => {
      e.preventDefault();
      this.submitPin(this.ui.pin.value.trim());
    });
  }

  url() {
    return `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws`;
  }

  /** Opens the console if this browser is paired and none is open. */
  start() {
    clearTimeout(this.retry);
    this.retry = 0;
    const cred = this.credential();
    if (!cred || this.ws)
      return;
    const ws = new WebSocket(this.url());
    this.ws = ws;
    ws.onopen = () => ws.send(JSON.stringify({
      type: 'console', protocol: PROTOCOL_VERSION,
      credential: { device: cred.device, token: cred.token },
    }));
    ws.onmessage = (ev) => {
      if (typeof ev.data === 'string')
        this.onText(ev.data);
    };
    ws.onclose = (ev) => {
      if (this.ws !== ws)
        return;
      this.ws = null;
      this.ui.section.hidden = true;
      this.hooks.moonlight.state = null;
      this.owner.hide();
      if (ev.code === CLOSE_UNAUTHORIZED || ev.code === CLOSE_BAD_MESSAGE ||
          ev.code === CLOSE_UNSUPPORTED || ev.code === 1000)
        return;
      this.retry = setTimeout(() => this.start(), RETRY_MS);
    };
  }

  stop() {
    clearTimeout(this.retry);
    this.retry = 0;
    const ws = this.ws;
    this.ws = null;
    this.ui.section.hidden = true;
    this.owner.hide();
    if (ws)
      try { ws.close(1000, 'bye'); } catch { /* already closing */ }
  }

  submitPin(pin) {
    if (!PIN_RE.test(pin)) {
      this.showResult('error', 'The PIN Moonlight shows is 4 digits.');
      return false;
    }
    return this.sendPin(pin);
  }

  /** Sends @pin as it is (tests use it to reach the host's own checks). */
  sendPin(pin) {
    if (!this.ws || this.ws.readyState !== WebSocket.OPEN)
      return false;
    this.hooks.moonlight.error = null;
    this.showResult(null, '');
    this.ws.send(JSON.stringify({ type: 'moonlight-pin', pin }));
    return true;
  }

  /** An owner message (owner.js); false when the console is not open. */
  sendOwner(msg) {
    if (!this.ws || this.ws.readyState !== WebSocket.OPEN)
      return false;
    this.ws.send(JSON.stringify(msg));
    return true;
  }

  showResult(kind, text) {
    this.ui.section.dataset.result = kind ?? '';
    this.ui.result.textContent = text;
  }

  onText(text) {
    let msg;
    try {
      msg = JSON.parse(text);
    } catch {
      return;
    }
    if (msg.type === 'moonlight')
      this.onState(msg);
    else if (msg.type === 'moonlight-pin-error')
      this.onPinError(msg);
    else if (msg.type === 'apps' && Array.isArray(msg.apps))
      this.onApps?.(msg.apps);
    else
      this.owner.onMessage(msg);
    // Anything else is for a later client.
  }

  onState(msg) {
    const m = this.hooks.moonlight;
    Object.assign(m, { state: msg.state, client: msg.client ?? null,
      message: msg.message ?? null, device: msg.device ?? null });
    const name = msg.client ? `‘${msg.client}’` : 'The Moonlight client';
    const ui = this.ui;
    ui.section.hidden = msg.state === 'off';
    ui.form.hidden = msg.state !== 'waiting';
    ui.client.textContent = msg.client ?? '';
    switch (msg.state) {
    case 'idle':
      ui.status.textContent = 'No Moonlight client is waiting to pair. Add this host in '
        + 'Moonlight; its PIN can then be entered here.';
      break;
    case 'waiting':
      ui.status.textContent = `Moonlight client ${name} wants to pair.`;
      ui.pin.value = '';
      this.showResult(null, '');
      break;
    case 'checking':
      ui.status.textContent = `PIN entered for ${name}; waiting for it to finish pairing…`;
      break;
    case 'paired':
      ui.status.textContent = '';
      this.showResult('paired', `${name} is paired (device ${msg.device}).`);
      break;
    case 'failed':
      ui.status.textContent = '';
      this.showResult('error', `Pairing ${name} failed: ${msg.message ?? 'no reason given'}. `
        + 'A wrong PIN ends the attempt: start pairing in Moonlight again.');
      break;
    case 'timed-out':
      ui.status.textContent = '';
      this.showResult('error', `${name} waited too long for its PIN: start pairing in Moonlight again.`);
      break;
    case 'gone':
      ui.status.textContent = '';
      this.showResult('error', `${name} stopped waiting for its PIN.`);
      break;
    default:
      ui.status.textContent = '';
    }
  }

  onPinError(msg) {
    this.hooks.moonlight.error = { code: msg.code ?? null, message: msg.message ?? '' };
    const text = {
      'bad-pin': 'The PIN Moonlight shows is 4 digits.',
      'no-client': 'No Moonlight client is waiting for a PIN: start pairing in Moonlight first.',
      off: 'This host does not serve Moonlight clients (gamestream is off).',
    }[msg.code] ?? msg.message ?? 'the host did not take the PIN';
    this.showResult('error', text);
  }
}
