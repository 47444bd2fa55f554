// A decoded picture on a 2D canvas: how the draw worker (draw-worker.js)
// and the page, where no worker can have the canvas (decoder.js), both
// paint and read it.

/** The canvas's 2D context. willReadFrequently keeps the canvas in CPU
 *  memory: cheap pixel reads (pixel) and no GPU round trip with
 *  --disable-gpu anyway. */
export function context2d(canvas) {
  return canvas.getContext('2d', { alpha: false, willReadFrequently: true });
}

/** Draws @frame (a VideoFrame) at the picture's size, resizing the canvas
 *  to it, and closes it whatever happens. */
export function paint(ctx, frame) {
  try {
    // The picture is displayWidth × displayHeight; codedHeight carries the
    // encoder's padding (738 for 720p).
    const w = frame.displayWidth, h = frame.displayHeight;
    const canvas = ctx.canvas;
    if (canvas.width !== w || canvas.height !== h) {
      canvas.width = w;
      canvas.height = h;
    }
    ctx.drawImage(frame, 0, 0, w, h);
  } finally {
    frame.close();
  }
}

/** The colour at (x, y): [r, g, b]. */
export function pixel(ctx, x, y) {
  const px = ctx.getImageData(Math.floor(x), Math.floor(y), 1, 1).data;
  return [px[0], px[1], px[2]];
}
