// Audio helpers of the end-to-end tests: tones to play, and a frequency
// check (Goertzel) for what was heard.

export const RATE = 48000;

/** Amplitude of `freq` in `samples`, averaged over 50 ms windows (a late
 *  packet breaks the phase of one window, not of the whole second). */
export function toneLevel(samples, freq) {
  const window = 2400;
  const coeff = 2 * Math.cos((2 * Math.PI * freq) / RATE);
  let sum = 0;
  let count = 0;
  for (let start = 0; start + window <= samples.length; start += window, count++) {
    let s1 = 0;
    let s2 = 0;
    for (let i = start; i < start + window; i++) {
      const s0 = samples[i] + coeff * s1 - s2;
      s2 = s1;
      s1 = s0;
    }
    sum += (2 * Math.sqrt(Math.max(0, s1 * s1 + s2 * s2 - coeff * s1 * s2))) / window;
  }
  return count ? sum / count : 0;
}

export function rms(samples) {
  let sum = 0;
  for (const s of samples)
    sum += s * s;
  return samples.length ? Math.sqrt(sum / samples.length) : 0;
}

/** s16le stereo at 48 kHz, amplitude 0.3. */
export function rawTone(freq, seconds) {
  const frames = Math.round(seconds * RATE);
  const buf = Buffer.alloc(frames * 4);
  for (let i = 0; i < frames; i++) {
    const v = Math.round(0.3 * 32767 * Math.sin((2 * Math.PI * freq * i) / RATE));
    buf.writeInt16LE(v, i * 4);
    buf.writeInt16LE(v, i * 4 + 2);
  }
  return buf;
}

/** A mono 16-bit WAV file at 48 kHz, amplitude 0.5 (Chromium loops it). */
export function wavTone(freq, seconds) {
  const frames = Math.round(seconds * RATE);
  const buf = Buffer.alloc(44 + frames * 2);
  buf.write('RIFF', 0);
  buf.writeUInt32LE(36 + frames * 2, 4);
  buf.write('WAVEfmt ', 8);
  buf.writeUInt32LE(16, 16);
  buf.writeUInt16LE(1, 20);
  buf.writeUInt16LE(1, 22);
  buf.writeUInt32LE(RATE, 24);
  buf.writeUInt32LE(RATE * 2, 28);
  buf.writeUInt16LE(2, 32);
  buf.writeUInt16LE(16, 34);
  buf.write('data', 36);
  buf.writeUInt32LE(frames * 2, 40);
  for (let i = 0; i < frames; i++)
    buf.writeInt16LE(Math.round(0.5 * 32767 * Math.sin((2 * Math.PI * freq * i) / RATE)), 44 + i * 2);
  return buf;
}
