// The pure half of the web client (web/protocol.js), without a browser.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';

// web/ is plain ES modules for the browser, with no package.json to tell
// Node 18 so: load the file as a module by its text (it imports nothing).
const source = readFileSync(new URL('../../web/protocol.js', import.meta.url), 'utf8');
const {
  parseVideo, findNal, h264CodecString, encodeKey, encodeMotion, encodeButton,
  encodeScroll, wheelToUnits, encodePadConnect, encodePadDisconnect, encodePadState, encodeAck,
  ackAtOnce, ACK_DELAY_MS, AckPacer,
} = await import(`data:text/javascript;base64,${Buffer.from(source).toString('base64')}`);

// x264 Annex B: AUD, SPS (High, level 3.2), PPS, then a slice.
const AU = new Uint8Array([
  0, 0, 0, 1, 0x09, 0xf0,
  0, 0, 0, 1, 0x67, 0x64, 0x00, 0x20, 0xac, 0xd9,
  0, 0, 1, 0x68, 0xeb, 0xe3,
  0, 0, 1, 0x65, 0x88, 0x84,
]);

test('codec string from the SPS', () => {
  assert.equal(h264CodecString(AU), 'avc1.640020');
  assert.deepEqual([...findNal(AU, 7)], [0x67, 0x64, 0x00, 0x20, 0xac, 0xd9]);
  assert.deepEqual([...findNal(AU, 5)], [0x65, 0x88, 0x84]);
  assert.equal(h264CodecString(new Uint8Array([0, 0, 1, 0x41, 1, 2, 3])), null);
  assert.equal(h264CodecString(new Uint8Array([0, 0, 1, 0x67, 0x42])), null);
  assert.equal(h264CodecString(new Uint8Array([0, 0, 1, 0x67, 0x42, 0xc0, 0x1f])), 'avc1.42c01f');
});

test('video header', () => {
  const buf = new ArrayBuffer(20 + AU.length);
  const v = new DataView(buf);
  v.setUint8(0, 0x01);
  v.setUint8(1, 0x01);
  v.setUint32(4, 7, true);
  v.setBigUint64(8, 123456789012n, true);
  v.setUint32(16, 1500, true);
  new Uint8Array(buf, 20).set(AU);
  const p = parseVideo(buf);
  assert.equal(p.keyframe, true);
  assert.equal(p.frame, 7);
  assert.equal(p.captureUs, 123456789012);
  assert.equal(p.encodeUs, 1500);
  assert.equal(p.data.length, AU.length);
  assert.equal(parseVideo(new ArrayBuffer(20)), null, 'a header alone is no access unit');
  v.setUint8(0, 0x02);
  assert.equal(parseVideo(buf), null, 'another kind');
});

test('input messages', () => {
  assert.deepEqual([...encodeKey('KeyA', true)], [0x10, 1, 4, 0x4b, 0x65, 0x79, 0x41]);
  assert.deepEqual([...encodeKey('Digit1', false)].slice(0, 3), [0x10, 0, 6]);
  assert.equal(encodeKey('', true), null);
  assert.equal(encodeKey('Key-A', true), null, 'only ASCII letters and digits');
  assert.equal(encodeKey('Ä', true), null);
  assert.equal(encodeKey('A'.repeat(33), true), null, 'at most 32 bytes');
  assert.equal(encodeKey('A'.repeat(32), true).length, 35);
  assert.deepEqual([...encodeMotion(400, 300)], [0x11, 0, 0x90, 0x01, 0x2c, 0x01]);
  assert.deepEqual([...encodeMotion(-5, 70000)], [0x11, 0, 0, 0, 0xff, 0xff], 'clamped to u16');
  assert.deepEqual([...encodeButton(2, true)], [0x12, 1, 2]);
  assert.equal(encodeButton(5, true), null);
  assert.deepEqual([...encodeScroll(-120, 240)], [0x13, 0, 0x88, 0xff, 0xf0, 0x00]);
  assert.deepEqual([...encodeScroll(0, 1e6)].slice(4), [0xff, 0x7f], 'clamped to i16');
});

test('ack: kind 0x30, the frame little-endian', () => {
  assert.deepEqual([...encodeAck(0xdeadbeef)], [0x30, 0xef, 0xbe, 0xad, 0xde]);
  assert.deepEqual([...encodeAck(7)], [0x30, 7, 0, 0, 0]);
});

test('acks go in pairs, and at once after a quiet spell', () => {
  assert.equal(ACK_DELAY_MS, 20);
  // The second frame that waits is acked at once, however soon.
  assert.equal(ackAtOnce(2, 0), true);
  // A lone frame soon after the last ack waits (for its pair or the timer).
  assert.equal(ackAtOnce(1, 16.7), false);
  assert.equal(ackAtOnce(1, 19.9), false);
  // … but not after a quiet spell (30 Hz, a slow link, the first frame).
  assert.equal(ackAtOnce(1, 20), true);
  assert.equal(ackAtOnce(1, 33.3), true);
  assert.equal(ackAtOnce(1, Infinity), true);
});

// AckPacer on a clock of the test's: frames at @hz for a second; returns
// each ack as [frame, when it went, when that frame came].
function paced(hz) {
  let now = 0;
  const timers = [];
  const came = [];
  const acks = [];
  const pacer = new AckPacer((frame) => acks.push([frame, now, came[frame]]), {
    now: () => now,
    setTimer: (fn, ms) => { const t = { at: now + ms, fn }; timers.push(t); return t; },
    clearTimer: (t) => { const i = timers.indexOf(t); if (i >= 0) timers.splice(i, 1); },
  });
  const until = (t) => {
    for (let due; (due = timers.filter((x) => x.at <= t).sort((a, b) => a.at - b.at)[0]);) {
      timers.splice(timers.indexOf(due), 1);
      now = due.at;
      due.fn();
    }
    now = t;
  };
  for (let i = 0; i < hz; i++) {
    until(i * 1000 / hz);
    came[i] = now;
    pacer.frame(i);
  }
  until(1000 + ACK_DELAY_MS);
  return acks;
}

test('the ack pacer: one ack for two frames at 60 Hz, each frame at 30 Hz, none late', () => {
  for (const [hz, most] of [[60, 31], [30, 30], [144, 73]]) {
    const acks = paced(hz);
    assert.ok(acks.length <= most && acks.length >= hz / 2, `${hz} Hz: ${acks.length} acks`);
    // Cumulative, in order, the last frame acked, none held past ACK_DELAY_MS.
    assert.deepEqual(acks.map(([f]) => f), [...acks.map(([f]) => f)].sort((a, b) => a - b));
    assert.equal(acks.at(-1)[0], hz - 1);
    for (const [frame, at, came] of acks)
      assert.ok(at - came <= ACK_DELAY_MS, `${hz} Hz: frame ${frame} acked ${at - came} ms after it came`);
  }
  // stop() drops the ack that waits.
  const sent = [];
  const pacer = new AckPacer((f) => sent.push(f), { now: () => 0, setTimer: () => 1, clearTimer: () => {} });
  pacer.frame(0); // the first: at once
  pacer.frame(1); // waits for its pair
  pacer.stop();
  pacer.frame(2); // waits again, alone: frame 1's ack was dropped
  assert.deepEqual(sent, [0]);
});

test('wheel deltas: one notch is 120', () => {
  assert.equal(wheelToUnits(100, 0), 120);  // Chromium pixels
  assert.equal(wheelToUnits(3, 1), 120);    // lines
  assert.equal(wheelToUnits(-1, 2), -120);  // pages
});

test('gamepad messages', () => {
  assert.deepEqual([...encodePadConnect(2)], [0x15, 2, 0]);
  assert.deepEqual([...encodePadDisconnect(3)], [0x16, 3]);
  const m = encodePadState(1, { buttons: 0x4001, lt: 0, rt: 255, lx: 40000, ly: -40000, rx: 0x1234, ry: -1 });
  // Same bytes as tests/unit/test-protocol.c's: clamped sticks, LE.
  assert.deepEqual([...m], [0x14, 1, 0x01, 0x40, 0, 0, 0x00, 0xff, 0xff, 0x7f, 0x00, 0x80, 0x34, 0x12, 0xff, 0xff]);
});
