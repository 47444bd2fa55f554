// The speaker's playout: a small jitter buffer on the audio thread. It
// starts playing once it holds the target, plays silence (and re-primes)
// when it runs dry, and drops the oldest audio when a backlog builds up, so
// latency never grows past the limit. Sizes arrive in the options, in
// frames at the context's rate.

class FunkhausPlayer extends AudioWorkletProcessor {
  constructor(options) {
    super();
    const o = options.processorOptions;
    this.target = o.targetFrames;
    this.limit = o.limitFrames;
    this.size = o.limitFrames * 4;
    this.channels = [new Float32Array(this.size), new Float32Array(this.size)];
    this.read = 0;
    this.count = 0;
    this.primed = false;
    this.stats = { underruns: 0, trimmedFrames: 0, bufferedMs: 0 };
    this.sinceReport = 0;
    this.port.onmessage = (ev) => this.push(ev.data);
  }

  push(planes) {
    const n = planes[0].length;
    if (n > this.size)
      return;
    if (this.count + n > this.size) {
      const drop = this.count + n - this.size;
      this.read = (this.read + drop) % this.size;
      this.count -= drop;
      this.stats.trimmedFrames += drop;
    }
    const write = (this.read + this.count) % this.size;
    for (let c = 0; c < 2; c++) {
      const src = planes[Math.min(c, planes.length - 1)];
      const first = Math.min(n, this.size - write);
      this.channels[c].set(src.subarray(0, first), write);
      if (first < n)
        this.channels[c].set(src.subarray(first), 0);
    }
    this.count += n;
    // A backlog (a burst after a stall): keep only the newest target's worth.
    if (this.count > this.limit) {
      const drop = this.count - this.target;
      this.read = (this.read + drop) % this.size;
      this.count -= drop;
      this.stats.trimmedFrames += drop;
    }
    if (!this.primed && this.count >= this.target)
      this.primed = true;
  }

  process(inputs, outputs) {
    const out = outputs[0];
    const n = out[0].length;
    if (this.primed) {
      const take = Math.min(n, this.count);
      for (let c = 0; c < out.length; c++) {
        const ring = this.channels[Math.min(c, 1)];
        for (let i = 0; i < take; i++)
          out[c][i] = ring[(this.read + i) % this.size];
        out[c].fill(0, take);
      }
      this.read = (this.read + take) % this.size;
      this.count -= take;
      if (take < n) {
        this.primed = false;
        this.stats.underruns++;
      }
    } else {
      for (const ch of out)
        ch.fill(0);
    }
    this.sinceReport += n;
    if (this.sinceReport >= sampleRate / 2) {
      this.sinceReport = 0;
      this.stats.bufferedMs = (this.count / sampleRate) * 1000;
      this.port.postMessage(this.stats);
    }
    return true;
  }
}

registerProcessor('funkhaus-player', FunkhausPlayer);
