// Audio: the session's speaker (Opus → AudioDecoder → a jitter-buffer
// worklet) and, when the user turns it on, the microphone (getUserMedia →
// AudioEncoder → Opus packets up the WebSocket). See docs/protocol.md.

import { encodeMic, MAX_MIC_PAYLOAD } from './protocol.js';

const RATE = 48000;
const TARGET_MS = 40;   // playout starts with this much buffered
const LIMIT_MS = 120;   // more than this buffered is a backlog: trimmed to TARGET_MS
const KEEP_SECONDS = 3; // decoded audio kept for inspection (window.funkhaus)

export class SpeakerPlayer {
  constructor(hooks) {
    this.hooks = hooks;
    this.context = null;
    this.node = null;
    this.decoder = null;
    this.recent = [new Float32Array(RATE * KEEP_SECONDS), new Float32Array(RATE * KEEP_SECONDS)];
    this.recentWrite = 0;
    this.recentCount = 0;
    this.lastSequence = null;
    hooks.audio = {
      packets: 0, lost: 0, decodedFrames: 0, playout: null, state: 'off', error: null,
      /** The last `seconds` of decoded audio of channel `c` (0 left, 1 right). */
      recent: (seconds, c = 0) => this.recentSamples(seconds, c),
    };
  }

  static supported() {
    return typeof AudioDecoder === 'function' && typeof AudioWorkletNode === 'function';
  }

  async start() {
    if (this.decoder)
      return;
    const a = this.hooks.audio;
    try {
      this.decoder = new AudioDecoder({
        output: (data) => this.onDecoded(data),
        error: (e) => { a.error = `audio decoder: ${e.message}`; this.decoder = null; },
      });
      this.decoder.configure({ codec: 'opus', sampleRate: RATE, numberOfChannels: 2 });
      this.context = new AudioContext({ sampleRate: RATE, latencyHint: 'interactive' });
      await this.context.audioWorklet.addModule(new URL('./audio-worklet.js', import.meta.url));
      this.node = new AudioWorkletNode(this.context, 'funkhaus-player', {
        numberOfInputs: 0,
        outputChannelCount: [2],
        processorOptions: {
          targetFrames: Math.round((RATE * TARGET_MS) / 1000),
          limitFrames: Math.round((RATE * LIMIT_MS) / 1000),
        },
      });
      this.node.port.onmessage = (ev) => { a.playout = ev.data; };
      this.node.connect(this.context.destination);
      a.state = this.context.state;
      this.context.onstatechange = () => { a.state = this.context?.state ?? 'off'; };
    } catch (e) {
      a.error = `audio: ${e.message}`;
      console.warn('funkhaus:', a.error);
    }
  }

  /** Browsers start audio only after a user gesture: call from one. */
  resume() {
    if (this.context && this.context.state === 'suspended')
      this.context.resume().catch(() => {});
  }

  stop() {
    try { this.decoder?.close(); } catch { /* closed already */ }
    this.decoder = null;
    this.node?.disconnect();
    this.node = null;
    this.context?.close().catch(() => {});
    this.context = null;
    this.lastSequence = null;
    this.hooks.audio.state = 'off';
  }

  /** One parsed audio message (protocol.parseAudio). */
  push(packet) {
    const a = this.hooks.audio;
    a.packets++;
    if (this.lastSequence !== null && packet.sequence > this.lastSequence + 1)
      a.lost += packet.sequence - this.lastSequence - 1;
    this.lastSequence = packet.sequence;
    if (!this.decoder || this.decoder.state !== 'configured')
      return;
    this.decoder.decode(new EncodedAudioChunk({
      type: 'key', timestamp: packet.sequence * 10000, data: packet.data,
    }));
  }

  onDecoded(data) {
    const n = data.numberOfFrames;
    const planes = [];
    for (let c = 0; c < 2; c++) {
      const plane = new Float32Array(n);
      data.copyTo(plane, { planeIndex: Math.min(c, data.numberOfChannels - 1), format: 'f32-planar' });
      planes.push(plane);
    }
    data.close();
    this.hooks.audio.decodedFrames += n;
    this.keep(planes);
    this.node?.port.postMessage(planes);
  }

  keep(planes) {
    const size = this.recent[0].length;
    for (let i = 0; i < planes[0].length; i++) {
      this.recent[0][this.recentWrite] = planes[0][i];
      this.recent[1][this.recentWrite] = planes[1][i];
      this.recentWrite = (this.recentWrite + 1) % size;
    }
    this.recentCount = Math.min(size, this.recentCount + planes[0].length);
  }

  recentSamples(seconds, c) {
    const size = this.recent[0].length;
    const n = Math.min(this.recentCount, Math.round(seconds * RATE));
    const out = new Array(n);
    for (let i = 0; i < n; i++)
      out[i] = this.recent[c][(this.recentWrite - n + i + size) % size];
    return out;
  }
}

export class MicSender {
  constructor(hooks, send) {
    this.hooks = hooks;
    this.send = send;       // (Uint8Array) → void
    this.stream = null;
    this.encoder = null;
    this.reader = null;
    this.sequence = 0;
    hooks.mic = { state: 'off', packets: 0, error: null, sampleRate: null };
  }

  static supported() {
    return typeof AudioEncoder === 'function' && typeof MediaStreamTrackProcessor === 'function' &&
      !!navigator.mediaDevices?.getUserMedia;
  }

  async start() {
    const m = this.hooks.mic;
    if (this.stream)
      return;
    if (!MicSender.supported()) {
      m.error = 'this browser cannot send a microphone (it needs AudioEncoder and MediaStreamTrackProcessor)';
      m.state = 'failed';
      return;
    }
    try {
      this.stream = await navigator.mediaDevices.getUserMedia({ audio: { channelCount: 1 } });
      const track = this.stream.getAudioTracks()[0];
      // The encoder takes the track's own rate (the host decodes at 48 kHz
      // whatever the sender's rate was).
      const rate = track.getSettings().sampleRate ?? RATE;
      m.sampleRate = rate;
      this.encoder = new AudioEncoder({
        output: (chunk) => this.onEncoded(chunk),
        error: (e) => { m.error = `microphone encoder: ${e.message}`; m.state = 'failed'; },
      });
      this.encoder.configure({ codec: 'opus', sampleRate: rate, numberOfChannels: 1, bitrate: 64000 });
      this.reader = new MediaStreamTrackProcessor({ track }).readable.getReader();
      m.state = 'on';
      this.pump();
    } catch (e) {
      m.error = `microphone: ${e.message}`;
      m.state = 'failed';
      console.warn('funkhaus:', m.error);
      this.stop();
    }
  }

  async pump() {
    const reader = this.reader;
    for (;;) {
      let result;
      try {
        result = await reader.read();
      } catch {
        return;
      }
      if (result.done || reader !== this.reader)
        return;
      const data = result.value;
      if (this.encoder?.state === 'configured') {
        // One channel: a stereo track is reduced to its first channel.
        if (data.numberOfChannels === 1) {
          this.encoder.encode(data);
        } else {
          const plane = new Float32Array(data.numberOfFrames);
          data.copyTo(plane, { planeIndex: 0, format: 'f32-planar' });
          const mono = new AudioData({
            format: 'f32-planar', sampleRate: data.sampleRate, numberOfFrames: data.numberOfFrames,
            numberOfChannels: 1, timestamp: data.timestamp, data: plane,
          });
          this.encoder.encode(mono);
          mono.close();
        }
      }
      data.close();
    }
  }

  onEncoded(chunk) {
    if (chunk.byteLength > MAX_MIC_PAYLOAD)
      return;
    const opus = new Uint8Array(chunk.byteLength);
    chunk.copyTo(opus);
    this.send(encodeMic(this.sequence++, opus));
    this.hooks.mic.packets++;
  }

  stop() {
    this.reader?.cancel().catch(() => {});
    this.reader = null;
    try { this.encoder?.close(); } catch { /* closed already */ }
    this.encoder = null;
    this.stream?.getTracks().forEach((t) => t.stop());
    this.stream = null;
    if (this.hooks.mic.state === 'on')
      this.hooks.mic.state = 'off';
  }
}
