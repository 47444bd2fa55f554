// Video: H.264 access units → WebCodecs VideoDecoder → the newest frame on a
// canvas. Superseded frames are closed at once so the decoder never runs out
// of output buffers.
//
// The canvas is drawn by a worker (draw-worker.js) where the browser can
// hand it over: a 2D canvas converts each picture to RGB in software, 13-16
// ms a frame at 1280x720 in headless Chromium, and on the page's main thread
// the next frame's message waited behind it. The worker gets one frame at a
// time; the newest decoded one waits here until it has drawn. The canvas is
// handed over only once the worker says it runs: a browser that cannot run
// it (no module workers, the script refused or not loaded) gets the page's
// drawing instead of a canvas nobody draws on. There, and where the browser
// cannot hand a canvas over at all, the page draws the newest frame once per
// animation frame.

import { h264CodecString } from './protocol.js';
import { context2d, paint, pixel } from './paint.js';

// More chunks than this waiting in the decoder means we are behind: drop to
// the next keyframe rather than show ever older pictures.
const MAX_DECODE_QUEUE = 24;
const KEYFRAME_RETRY_MS = 1000;
const SAMPLE_TIMEOUT_MS = 1000;
// A draw worker that has not said it runs by then is given up.
const WORKER_START_MS = 3000;

export class VideoPipeline {
  /**
   * @param {HTMLCanvasElement} canvas
   * @param {object} cb  onFrame(frame info), onNeedKeyframe(reason), onError(message)
   */
  constructor(canvas, cb) {
    this.canvas = canvas;
    this.cb = cb;
    this.worker = this.startWorker();
    this.workerReady = false;  // it runs and has the canvas
    this.workerBusy = false;   // a frame is with the worker
    this.samples = new Map();  // sample id → resolve
    this.sampleId = 0;
    this.ctx = this.worker ? null : context2d(canvas);
    this.decoder = null;
    this.codec = null;
    this.waitingForKey = true;
    this.pending = null;       // newest decoded, not yet drawn VideoFrame
    this.rafId = 0;
    this.submitted = new Map(); // chunk timestamp → performance.now() at decode()
    this.framesDrawn = 0;
    this.generation = 0;       // bumps on reset, so stale outputs are dropped
    this.keyRequestedAt = null;
  }

  /** The draw worker, starting (it gets the canvas once it says it runs);
   *  null where the browser cannot hand a canvas over (the page draws). */
  startWorker() {
    if (typeof this.canvas.transferControlToOffscreen !== 'function' ||
        typeof Worker !== 'function')
      return null;
    let worker;
    try {
      worker = new Worker(new URL('./draw-worker.js', import.meta.url), { type: 'module' });
    } catch (e) {
      console.warn(`funkhaus: no draw worker, drawing on the page: ${e.message}`);
      return null;
    }
    worker.onmessage = (ev) => this.onWorker(ev.data);
    worker.onerror = (ev) => {
      if (this.workerReady)
        console.warn(`funkhaus: draw worker: ${ev.message}`);
      else
        this.drawOnPage(`the draw worker did not start: ${ev.message || 'an error'}`);
    };
    this.workerTimer = setTimeout(() => {
      if (!this.workerReady)
        this.drawOnPage(`the draw worker did not start within ${WORKER_START_MS} ms`);
    }, WORKER_START_MS);
    return worker;
  }

  /** Gives up a draw worker that did not start: the page draws. The canvas
   *  was not handed over, so the page can still draw on it. */
  drawOnPage(reason) {
    if (!this.worker || this.workerReady)
      return;
    console.warn(`funkhaus: ${reason}; drawing on the page`);
    clearTimeout(this.workerTimer);
    this.worker.terminate();
    this.worker = null;
    this.ctx = context2d(this.canvas);
    if (this.pending && !this.rafId)
      this.rafId = requestAnimationFrame(() => this.draw());
  }

  static supported() {
    return typeof VideoDecoder === 'function' && typeof EncodedVideoChunk === 'function';
  }

  /** Feeds one parsed video message (protocol.parseVideo). */
  push(video) {
    if (this.waitingForKey && !video.keyframe) {
      // Ask again now and then, in case a request went unanswered.
      const now = performance.now();
      if (this.keyRequestedAt !== null && now - this.keyRequestedAt > KEYFRAME_RETRY_MS)
        this.requestKeyframe('still waiting for a keyframe');
      return;
    }
    if (video.keyframe)
      this.keyRequestedAt = null;
    if (video.keyframe) {
      const codec = h264CodecString(video.data);
      if (!codec) {
        this.cb.onError?.('keyframe without an SPS');
        this.reset('keyframe without SPS');
        return;
      }
      if (!this.decoder || this.decoder.state === 'closed' || codec !== this.codec)
        this.configure(codec);
      this.waitingForKey = false;
    }
    if (!this.decoder || this.decoder.state !== 'configured')
      return;
    if (this.decoder.decodeQueueSize > MAX_DECODE_QUEUE) {
      this.reset('decoder queue overflow');
      return;
    }
    const chunk = new EncodedVideoChunk({
      type: video.keyframe ? 'key' : 'delta',
      timestamp: video.captureUs,
      data: video.data,
    });
    this.submitted.set(video.captureUs, performance.now());
    if (this.submitted.size > 256)
      this.submitted.clear();
    try {
      this.decoder.decode(chunk);
    } catch (e) {
      this.reset(`decode() threw: ${e.message}`);
    }
  }

  configure(codec) {
    this.closeDecoder();
    const generation = ++this.generation;
    this.codec = codec;
    this.decoder = new VideoDecoder({
      output: (frame) => this.onOutput(frame, generation),
      error: (e) => {
        if (generation !== this.generation)
          return;
        this.cb.onError?.(`video decoder: ${e.message}`);
        this.reset(`decoder error: ${e.message}`);
      },
    });
    // No description: the stream is Annex B with SPS/PPS in band.
    this.decoder.configure({ codec, optimizeForLatency: true });
  }

  onOutput(frame, generation) {
    if (generation !== this.generation) {
      frame.close();
      return;
    }
    const t0 = this.submitted.get(frame.timestamp);
    this.submitted.delete(frame.timestamp);
    const decodeMs = t0 === undefined ? null : performance.now() - t0;
    this.cb.onFrame?.({
      width: frame.displayWidth,
      height: frame.displayHeight,
      timestamp: frame.timestamp,
      decodeMs,
    });
    if (this.pending)
      this.pending.close();
    this.pending = frame;
    if (this.worker) {
      if (this.workerReady && !this.workerBusy)
        this.toWorker();
    } else if (!this.rafId) {
      this.rafId = requestAnimationFrame(() => this.draw());
    }
  }

  toWorker() {
    const frame = this.pending;
    this.pending = null;
    this.workerBusy = true;
    this.worker.postMessage({ frame }, [frame]);
  }

  onWorker(m) {
    if (m.ready) {
      if (!this.worker || this.workerReady)
        return;
      let offscreen;
      try {
        offscreen = this.canvas.transferControlToOffscreen();
      } catch (e) {
        this.drawOnPage(`cannot hand the canvas to the draw worker: ${e.message}`);
        return;
      }
      clearTimeout(this.workerTimer);
      this.worker.postMessage({ canvas: offscreen }, [offscreen]);
      this.workerReady = true;
      if (this.pending)
        this.toWorker();
    } else if (m.drawn !== undefined) {
      this.framesDrawn = m.drawn;
      this.workerBusy = false;
      if (this.pending)
        this.toWorker();
    } else if (m.sampled !== undefined) {
      this.samples.get(m.sampled)?.(m.rgb);
      this.samples.delete(m.sampled);
    } else if (m.error) {
      this.cb.onError?.(m.error);
    }
  }

  draw() {
    this.rafId = 0;
    const frame = this.pending;
    this.pending = null;
    if (!frame)
      return;
    paint(this.ctx, frame);
    this.framesDrawn++;
  }

  /** Drops everything queued and waits for the next keyframe, asking for one. */
  reset(reason) {
    this.closeDecoder();
    this.waitingForKey = true;
    this.requestKeyframe(reason);
  }

  requestKeyframe(reason) {
    this.keyRequestedAt = performance.now();
    this.cb.onNeedKeyframe?.(reason);
  }

  closeDecoder() {
    this.generation++;
    if (this.decoder && this.decoder.state !== 'closed') {
      try { this.decoder.close(); } catch { /* already closed */ }
    }
    this.decoder = null;
    this.codec = null;
    this.submitted.clear();
  }

  /** For a new connection: the first message after welcome is a keyframe. */
  restart() {
    this.closeDecoder();
    this.waitingForKey = true;
    this.keyRequestedAt = null;
  }

  close() {
    this.closeDecoder();
    if (this.rafId)
      cancelAnimationFrame(this.rafId);
    this.rafId = 0;
    if (this.pending)
      this.pending.close();
    this.pending = null;
  }

  /** The colour drawn at (x, y): a promise of [r, g, b], or of null before
   *  the first frame is drawn. */
  sample(x, y) {
    if (this.framesDrawn === 0)
      return Promise.resolve(null);
    if (this.worker) {
      const id = ++this.sampleId;
      return new Promise((resolve) => {
        this.samples.set(id, resolve);
        this.worker.postMessage({ sample: [x, y], id });
        // A worker that died answers nothing: null, as before a frame.
        setTimeout(() => {
          if (this.samples.delete(id))
            resolve(null);
        }, SAMPLE_TIMEOUT_MS);
      });
    }
    return Promise.resolve(pixel(this.ctx, x, y));
  }
}
