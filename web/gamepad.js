// Gamepads (the Gamepad API's standard mapping) → pad messages for the
// session on screen, and the session's rumble back to the pad. While a pad
// is connected (from the browser's gamepadconnected on), pads are polled
// at the session's frame rate, and a pad's state is sent only when it
// changed: at most one message a frame per pad. Without a pad nothing is
// polled.

import { MAX_PADS, encodePadConnect, encodePadDisconnect, encodePadState } from './protocol.js';

// Standard mapping button index → protocol bit (docs/protocol.md).
const BUTTON_BITS = [
  [0, 1 << 0],   // A (bottom)
  [1, 1 << 1],   // B (right)
  [2, 1 << 2],   // X (left)
  [3, 1 << 3],   // Y (top)
  [4, 1 << 4],   // left shoulder
  [5, 1 << 5],   // right shoulder
  [8, 1 << 6],   // back / select
  [9, 1 << 7],   // start
  [16, 1 << 8],  // guide
  [10, 1 << 9],  // left stick
  [11, 1 << 10], // right stick
  [12, 1 << 11], // d-pad up
  [13, 1 << 12], // d-pad down
  [14, 1 << 13], // d-pad left
  [15, 1 << 14], // d-pad right
];

// Browsers cap one effect at 5 s; a longer rumble is played again.
const RUMBLE_EFFECT_MS = 5000;
const RUMBLE_RENEW_MS = 4000;

const axis = (v) => Math.round(Math.max(-1, Math.min(1, v || 0)) * 32767);
const trigger = (b) => Math.round(Math.max(0, Math.min(1, b ? b.value : 0)) * 255);

function readState(gp) {
  let buttons = 0;
  for (const [i, bit] of BUTTON_BITS) {
    if (gp.buttons[i] && gp.buttons[i].pressed)
      buttons |= bit;
  }
  return {
    buttons,
    lt: trigger(gp.buttons[6]),
    rt: trigger(gp.buttons[7]),
    lx: axis(gp.axes[0]),
    ly: axis(gp.axes[1]),
    rx: axis(gp.axes[2]),
    ry: axis(gp.axes[3]),
  };
}

const sameState = (a, b) => a.buttons === b.buttons && a.lt === b.lt && a.rt === b.rt &&
  a.lx === b.lx && a.ly === b.ly && a.rx === b.rx && a.ry === b.ry;

export class GamepadSender {
  /**
   * @param {object} opts  send(Uint8Array), active() → bool, frameRate() → Hz,
   *                       onRumble({pad, strong, weak, played}) for the hooks
   */
  constructor(opts) {
    this.opts = opts;
    this.sent = new Map();     // pad index → last state sent
    this.rumbles = new Map();  // pad index → renew timer
    this.timer = 0;
    this.running = false;
    this.warned = new Set();
    this.onConnected = () => this.poll();
  }

  static supported() {
    return typeof navigator !== 'undefined' && typeof navigator.getGamepads === 'function';
  }

  start() {
    this.stop();
    if (!GamepadSender.supported())
      return;
    this.running = true;
    window.addEventListener('gamepadconnected', this.onConnected);
    this.poll(); // pads connected before this page listened
  }

  stop() {
    this.running = false;
    window.removeEventListener('gamepadconnected', this.onConnected);
    clearTimeout(this.timer);
    this.timer = 0;
  }

  /** The session's pads are gone with the connection: connect them anew. */
  forget() {
    this.sent.clear();
    for (const t of this.rumbles.values())
      clearTimeout(t);
    this.rumbles.clear();
  }

  /** Sends what changed; polls again a frame later while a pad is there. */
  poll() {
    clearTimeout(this.timer);
    this.timer = 0;
    if (!this.running)
      return;
    const pads = navigator.getGamepads() || [];
    if (pads.some((gp) => gp && gp.connected) || this.sent.size) {
      const hz = Math.max(1, Math.min(240, this.opts.frameRate() || 60));
      this.timer = setTimeout(() => this.poll(), 1000 / hz);
    }
    if (!this.opts.active())
      return;
    for (let i = 0; i < MAX_PADS; i++) {
      const gp = pads[i];
      const usable = gp && gp.connected && gp.mapping === 'standard';
      if (gp && gp.connected && !usable && !this.warned.has(gp.id)) {
        this.warned.add(gp.id);
        console.warn(`funkhaus: gamepad "${gp.id}" has no standard mapping; it is not sent`);
      }
      const last = this.sent.get(i);
      if (!usable) {
        if (last) {
          this.sent.delete(i);
          this.opts.send(encodePadDisconnect(i));
        }
        continue;
      }
      const state = readState(gp);
      if (!last)
        this.opts.send(encodePadConnect(i));
      if (!last || !sameState(last, state)) {
        this.sent.set(i, state);
        this.opts.send(encodePadState(i, state));
      }
    }
  }

  /** The host's rumble message: {pad, strong, weak}, motors 0–65535. */
  rumble(msg) {
    const i = msg.pad;
    clearTimeout(this.rumbles.get(i));
    this.rumbles.delete(i);
    const gp = GamepadSender.supported() ? (navigator.getGamepads() || [])[i] : null;
    const actuator = gp && gp.vibrationActuator;
    const strong = Math.max(0, Math.min(1, msg.strong / 65535));
    const weak = Math.max(0, Math.min(1, msg.weak / 65535));
    let played = false;
    if (actuator && typeof actuator.playEffect === 'function') {
      played = true;
      if (strong === 0 && weak === 0) {
        if (typeof actuator.reset === 'function')
          actuator.reset().catch(() => {});
      } else {
        const play = () => {
          actuator.playEffect('dual-rumble', {
            duration: RUMBLE_EFFECT_MS, strongMagnitude: strong, weakMagnitude: weak,
          }).catch(() => {});
          this.rumbles.set(i, setTimeout(play, RUMBLE_RENEW_MS));
        };
        play();
      }
    }
    this.opts.onRumble({ pad: i, strong: msg.strong, weak: msg.weak, played });
  }
}
