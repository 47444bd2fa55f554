// Draws decoded pictures on the page's canvas, off the page's main thread.
//
// A 2D canvas converts each picture from the decoder's YUV to RGB in
// software; at 1280x720 that took 13-16 ms of the main thread a frame in
// headless Chromium, and every message from the host (the next frame
// included) waited behind it. Here (a module worker, painting with
// paint.js as the page does where no worker can have the canvas) the canvas
// is an OffscreenCanvas that decoder.js handed over; the page sends one
// VideoFrame at a time and the next once this worker says "drawn".
//
// To the page first: {ready: true} (the page hands the canvas over only
// then, and draws itself where this worker cannot run).
// From the page: {canvas} once; {frame}; {sample: [x, y], id}.
// To the page: {drawn: count}; {sampled: id, rgb: [r, g, b] | null};
// {error: message}.

import { context2d, paint, pixel } from './paint.js';

let ctx = null;
let drawn = 0;

self.onmessage = (ev) => {
  const m = ev.data;
  if (m.canvas) {
    ctx = context2d(m.canvas);
  } else if (m.frame) {
    // "drawn" whatever happened: the page sends the next frame only then.
    try {
      if (ctx) {
        paint(ctx, m.frame);
        drawn++;
      } else {
        m.frame.close();
      }
    } catch (e) {
      self.postMessage({ error: `cannot draw a frame: ${e.message}` });
    }
    self.postMessage({ drawn });
  } else if (m.sample) {
    const rgb = ctx && drawn > 0 ? pixel(ctx, m.sample[0], m.sample[1]) : null;
    self.postMessage({ sampled: m.id, rgb });
  }
};

self.postMessage({ ready: true });
