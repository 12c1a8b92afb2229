// Waveform peaks computed here from the float PCM ffmpeg decodes (DESIGN: no peaks package exists, and a loop
// is at most a few million samples, a few milliseconds of work). The PCM arrives as a stream on ffmpeg's stdout,
// so the accumulator takes it chunk by chunk and never holds the whole file.

export const DEFAULT_PEAK_COUNT = 800;

/**
 * Splits `expectedFrames` frames into `count` equal buckets and keeps the largest absolute sample of any
 * channel in each. Peaks are absolute (not rescaled to the loudest bucket): every loop is normalised to the same
 * loudness, so their waveforms compare. Values are clamped to 1 and rounded to 3 decimals for compact JSON.
 * Frames beyond `expectedFrames` fall in the last bucket; missing frames leave the last buckets at 0.
 */
export class PeakAccumulator {
  private readonly peaks: Float64Array;
  private carry = new Uint8Array(0);
  private frame = 0;
  private bucket = 0;
  private nextBoundary: number;

  constructor(
    private readonly expectedFrames: number,
    private readonly channels: number,
    readonly count = DEFAULT_PEAK_COUNT,
  ) {
    if (!(Number.isInteger(count) && count > 0)) throw new RangeError(`peak count must be a positive integer: ${count}`);
    if (!(channels >= 1)) throw new RangeError(`channels must be >= 1: ${channels}`);
    this.peaks = new Float64Array(count);
    this.nextBoundary = this.boundary(1);
  }

  /** Frames seen so far (the decoded sample count per channel). */
  get frames(): number {
    return this.frame;
  }

  private boundary(i: number): number {
    return Math.floor((i * Math.max(1, this.expectedFrames)) / this.count);
  }

  /** Feeds little-endian float32 interleaved PCM; chunks may split a sample or a frame anywhere. */
  push(chunk: Uint8Array): void {
    let bytes = chunk;
    if (this.carry.length) {
      bytes = new Uint8Array(this.carry.length + chunk.length);
      bytes.set(this.carry);
      bytes.set(chunk, this.carry.length);
    }
    const frameBytes = 4 * this.channels;
    const usable = bytes.length - (bytes.length % frameBytes);
    this.carry = bytes.slice(usable);
    if (usable === 0) return;
    // A Float32Array view needs 4-byte alignment; copy the rare misaligned chunk.
    const aligned = bytes.byteOffset % 4 === 0 ? bytes : bytes.slice(0, usable);
    const samples = new Float32Array(aligned.buffer, aligned.byteOffset, usable / 4);
    this.add(samples);
  }

  /** Feeds interleaved float samples directly. */
  add(samples: Float32Array): void {
    const ch = this.channels;
    const peaks = this.peaks;
    const last = this.count - 1;
    for (let i = 0; i + ch <= samples.length; i += ch) {
      while (this.frame >= this.nextBoundary && this.bucket < last) {
        this.bucket++;
        this.nextBoundary = this.boundary(this.bucket + 1);
      }
      let m = 0;
      for (let c = 0; c < ch; c++) {
        const v = Math.abs(samples[i + c]!);
        if (v > m) m = v;
      }
      if (m > peaks[this.bucket]!) peaks[this.bucket] = m;
      this.frame++;
    }
  }

  result(): number[] {
    return Array.from(this.peaks, (p) => Math.round(Math.min(1, p) * 1000) / 1000);
  }
}

/** Peaks of a whole interleaved float buffer. */
export function computePeaks(samples: Float32Array, channels: number, count = DEFAULT_PEAK_COUNT): number[] {
  const acc = new PeakAccumulator(Math.floor(samples.length / channels), channels, count);
  acc.add(samples);
  return acc.result();
}
