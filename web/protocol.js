// The binary half of the funkhaus web protocol (docs/protocol.md): the video
// header the host sends and the input messages the client sends. Pure
// functions only, so they are easy to reason about and to test.

export const PROTOCOL_VERSION = 1;

export const KIND_VIDEO = 0x01;
export const KIND_AUDIO = 0x02;
export const KIND_MIC = 0x20;
export const KIND_KEY = 0x10;
export const KIND_MOTION = 0x11;
export const KIND_BUTTON = 0x12;
export const KIND_SCROLL = 0x13;
export const KIND_PAD_STATE = 0x14;
export const KIND_PAD_CONNECT = 0x15;
export const KIND_PAD_DISCONNECT = 0x16;
export const KIND_ACK = 0x30;
export const MAX_PADS = 4;

export const VIDEO_HEADER_SIZE = 20;
export const AUDIO_HEADER_SIZE = 16;
export const MIC_HEADER_SIZE = 8;
export const MAX_MIC_PAYLOAD = 1275;
const VIDEO_FLAG_KEYFRAME = 0x01;

// Close codes the client must not answer by reconnecting: the same hello
// would fail the same way (or, for 4009, fight another tab for the session;
// for 4012, bring back a session the host's owner ended).
export const CLOSE_UNAUTHORIZED = 4001;
export const CLOSE_UNSUPPORTED = 4003;
export const CLOSE_SESSION_FAILED = 4004;
export const CLOSE_REPLACED = 4009;
export const CLOSE_REFUSED = 4011; // a guest: not let in, removed, or no such code
export const CLOSE_ENDED = 4012; // the host's owner ended the session
export const FINAL_CLOSE_CODES = new Set([
  CLOSE_UNAUTHORIZED, CLOSE_UNSUPPORTED, CLOSE_SESSION_FAILED, CLOSE_REPLACED, CLOSE_REFUSED,
  CLOSE_ENDED,
]);

/** Parses a kind 0x01 message; returns null when it is not a valid one. */
export function parseVideo(buffer) {
  if (!(buffer instanceof ArrayBuffer) || buffer.byteLength <= VIDEO_HEADER_SIZE)
    return null;
  const view = new DataView(buffer);
  if (view.getUint8(0) !== KIND_VIDEO)
    return null;
  return {
    keyframe: (view.getUint8(1) & VIDEO_FLAG_KEYFRAME) !== 0,
    frame: view.getUint32(4, true),
    // µs of host monotonic time: far below 2^53, so a Number is exact.
    captureUs: Number(view.getBigUint64(8, true)),
    encodeUs: view.getUint32(16, true),
    data: new Uint8Array(buffer, VIDEO_HEADER_SIZE),
  };
}

/** Returns the first NAL unit of type `type` in an Annex B buffer (from its
 *  header byte on, up to the next start code), or null. */
export function findNal(data, type) {
  const n = data.length;
  let i = 0;
  while (i + 3 <= n) {
    // A start code is 00 00 01 (a 4-byte 00 00 00 01 ends the same way).
    if (data[i] === 0 && data[i + 1] === 0 && data[i + 2] === 1) {
      const start = i + 3;
      if (start < n && (data[start] & 0x1f) === type) {
        let end = start + 1;
        while (end + 3 <= n && !(data[end] === 0 && data[end + 1] === 0 &&
                                 (data[end + 2] === 1 || data[end + 2] === 0)))
          end++;
        return data.subarray(start, end + 3 <= n ? end : n);
      }
      i = start;
    } else {
      i++;
    }
  }
  return null;
}

const hex2 = (v) => v.toString(16).padStart(2, '0');

/** `avc1.PPCCLL` from the SPS of an access unit, or null without one. */
export function h264CodecString(accessUnit) {
  const sps = findNal(accessUnit, 7);
  if (!sps || sps.length < 4)
    return null;
  // sps[0] is the NAL header; profile_idc, constraint flags and level_idc
  // follow (never 00 00 0x, so no emulation prevention byte can hide here).
  return `avc1.${hex2(sps[1])}${hex2(sps[2])}${hex2(sps[3])}`;
}

const KEY_CODE_RE = /^[A-Za-z0-9]{1,32}$/;

/** Key message, or null for a code the protocol cannot carry. */
export function encodeKey(code, down) {
  if (typeof code !== 'string' || !KEY_CODE_RE.test(code))
    return null;
  const msg = new Uint8Array(3 + code.length);
  msg[0] = KIND_KEY;
  msg[1] = down ? 1 : 0;
  msg[2] = code.length;
  for (let i = 0; i < code.length; i++)
    msg[3 + i] = code.charCodeAt(i);
  return msg;
}

const clampU16 = (v) => Math.max(0, Math.min(0xffff, Math.round(v)));
const clampI16 = (v) => Math.max(-0x8000, Math.min(0x7fff, Math.round(v)));

export function encodeMotion(x, y) {
  const msg = new Uint8Array(6);
  const view = new DataView(msg.buffer);
  msg[0] = KIND_MOTION;
  view.setUint16(2, clampU16(x), true);
  view.setUint16(4, clampU16(y), true);
  return msg;
}

/** Acks go in pairs (docs/protocol.md, "ack"): a frame is acked at once
 *  when it is the second that waits for an ack (`waiting`, itself
 *  counted), or when the last ack went ACK_DELAY_MS or more ago; else
 *  ACK_DELAY_MS after it came. At 60 Hz the host's main loop then wakes
 *  once for two frames, not for each. */
export const ACK_DELAY_MS = 20;
export function ackAtOnce(waiting, msSinceLastAck) {
  return waiting >= 2 || msSinceLastAck >= ACK_DELAY_MS;
}

/** Acks frames by ackAtOnce: `frame(n)` for each video frame as it comes;
 *  `send(n)` is called with the newest frame to ack, at once or
 *  ACK_DELAY_MS later (unless its pair comes first). `stop()` drops an ack
 *  that waits. `now` and the timer functions are the page's unless given
 *  (a test's clock). */
export class AckPacer {
  // The page's timers through arrows: called as a method, setTimeout
  // throws in a browser ("Illegal invocation").
  constructor(send, { now = () => performance.now(), setTimer = (fn, ms) => setTimeout(fn, ms),
    clearTimer = (t) => clearTimeout(t) } = {}) {
    Object.assign(this, { send, now, setTimer, clearTimer });
    this.waiting = 0;
    this.newest = 0;
    this.lastMs = -Infinity;
    this.timer = null;
  }

  frame(n) {
    this.newest = n;
    this.waiting++;
    if (ackAtOnce(this.waiting, this.now() - this.lastMs))
      this.flush();
    else
      this.timer ??= this.setTimer(() => this.flush(), ACK_DELAY_MS);
  }

  flush() {
    this.stop();
    this.lastMs = this.now();
    this.send(this.newest);
  }

  stop() {
    this.clearTimer(this.timer);
    this.timer = null;
    this.waiting = 0;
  }
}

/** Every video frame up to `frame` (its header's number) has arrived:
 *  five bytes rather than a JSON text the host must parse each frame. */
export function encodeAck(frame) {
  const msg = new Uint8Array(5);
  msg[0] = KIND_ACK;
  new DataView(msg.buffer).setUint32(1, frame >>> 0, true);
  return msg;
}

/** button: 0 left, 1 middle, 2 right, 3 back, 4 forward (as MouseEvent.button). */
export function encodeButton(button, down) {
  if (!Number.isInteger(button) || button < 0 || button > 4)
    return null;
  return new Uint8Array([KIND_BUTTON, down ? 1 : 0, button]);
}

/** dx, dy: 120 = one wheel notch, positive = right/down. */
export function encodeScroll(dx, dy) {
  const msg = new Uint8Array(6);
  const view = new DataView(msg.buffer);
  msg[0] = KIND_SCROLL;
  view.setInt16(2, clampI16(dx), true);
  view.setInt16(4, clampI16(dy), true);
  return msg;
}

/** A gamepad arrived (kind 0: standard mapping, an Xbox-style pad). */
export function encodePadConnect(index) {
  return new Uint8Array([KIND_PAD_CONNECT, index, 0]);
}

export function encodePadDisconnect(index) {
  return new Uint8Array([KIND_PAD_DISCONNECT, index]);
}

/** state: {buttons (PAD_* bits), lt, rt (0–255), lx, ly, rx, ry (−32768…32767,
 *  positive right and down)}. */
export function encodePadState(index, state) {
  const msg = new Uint8Array(16);
  const view = new DataView(msg.buffer);
  msg[0] = KIND_PAD_STATE;
  msg[1] = index;
  view.setUint32(2, state.buttons >>> 0, true);
  msg[6] = state.lt;
  msg[7] = state.rt;
  view.setInt16(8, clampI16(state.lx), true);
  view.setInt16(10, clampI16(state.ly), true);
  view.setInt16(12, clampI16(state.rx), true);
  view.setInt16(14, clampI16(state.ry), true);
  return msg;
}

/** WheelEvent deltas → protocol units (120 a notch). Chromium reports 100 px
 *  for a notch in pixel mode; in line mode a notch is 3 lines. */
export function wheelToUnits(delta, deltaMode) {
  switch (deltaMode) {
  case 1: return delta * 40;    // DOM_DELTA_LINE
  case 2: return delta * 120;   // DOM_DELTA_PAGE: call a page one notch
  default: return delta * 1.2;  // DOM_DELTA_PIXEL
  }
}

/** Parses a kind 0x02 message (one Opus packet of the session's speaker);
 *  null when it is not a valid one. */
export function parseAudio(buffer) {
  if (!(buffer instanceof ArrayBuffer) || buffer.byteLength <= AUDIO_HEADER_SIZE)
    return null;
  const view = new DataView(buffer);
  if (view.getUint8(0) !== KIND_AUDIO)
    return null;
  return {
    sequence: view.getUint32(4, true),
    captureUs: Number(view.getBigUint64(8, true)),
    data: new Uint8Array(buffer, AUDIO_HEADER_SIZE),
  };
}

/** A kind 0x20 message: one Opus packet of this client's microphone. */
export function encodeMic(sequence, opus) {
  const out = new Uint8Array(MIC_HEADER_SIZE + opus.length);
  const view = new DataView(out.buffer);
  out[0] = KIND_MIC;
  view.setUint32(4, sequence >>> 0, true);
  out.set(opus, MIC_HEADER_SIZE);
  return out;
}
