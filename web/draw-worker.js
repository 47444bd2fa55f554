// Draws decoded pictures on the page's canvas, off the page's main thread.
//
// A 2D canvas converts each picture from the decoder's YUV to RGB in
// software; at 1280x720 that took 13-16 ms of the main thread a frame in
// headless Chromium, and every message from the host (the next frame
// included) waited behind it. Here the canvas is an OffscreenCanvas that
// decoder.js handed over; the page sends one VideoFrame at a time and the
// next once this worker says "drawn".
//
// From the page: {canvas} once; {frame}; {sample: [x, y], id}.
// To the page: {drawn: count}; {sampled: id, rgb: [r, g, b] | null};
// {error: message}.

let ctx = null;
let drawn = 0;

function draw(frame) {
  try {
    if (!ctx)
      return;
    // The picture is displayWidth × displayHeight; codedHeight carries the
    // encoder's padding (738 for 720p).
    const w = frame.displayWidth, h = frame.displayHeight;
    const canvas = ctx.canvas;
    if (canvas.width !== w || canvas.height !== h) {
      canvas.width = w;
      canvas.height = h;
    }
    ctx.drawImage(frame, 0, 0, w, h);
    drawn++;
  } finally {
    frame.close();
  }
}

self.onmessage = (ev) => {
  const m = ev.data;
  if (m.canvas) {
    // willReadFrequently keeps the canvas in CPU memory: cheap pixel reads
    // (sample) and no GPU round trip with --disable-gpu anyway.
    ctx = m.canvas.getContext('2d', { alpha: false, willReadFrequently: true });
  } else if (m.frame) {
    // "drawn" whatever happened: the page sends the next frame only then.
    try {
      draw(m.frame);
    } catch (e) {
      self.postMessage({ error: `cannot draw a frame: ${e.message}` });
    }
    self.postMessage({ drawn });
  } else if (m.sample) {
    let rgb = null;
    if (ctx && drawn > 0) {
      const px = ctx.getImageData(Math.floor(m.sample[0]), Math.floor(m.sample[1]), 1, 1).data;
      rgb = [px[0], px[1], px[2]];
    }
    self.postMessage({ sampled: m.id, rgb });
  }
};
