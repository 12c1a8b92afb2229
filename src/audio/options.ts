// What the audio pipeline can be told. index.ts fills these from config (names in the comments); tests pass
// their own. Everything else about the output (44.1 kHz, MP3, gapless header) is the contract, not an option.

export interface AudioOptions {
  /** TARGET_LUFS: integrated loudness of the delivered MP3. */
  targetLufs: number;
  /** TRUE_PEAK_DB: ceiling for the true peak of the delivered MP3 (dBTP). */
  truePeakDb: number;
  /** LOUDNESS_TOLERANCE_LU: how far the delivered loudness may miss the target before we encode again. */
  loudnessToleranceLu: number;
  /** MP3_BITRATE_KBPS: constant bitrate of the MP3. */
  mp3BitrateKbps: number;
  /** MP3_QUALITY: LAME's algorithm quality, 0 (best, slowest) to 9 (fastest). Not the bitrate. */
  mp3Quality: number;
  /** LOOP_MIN_SECONDS / LOOP_MAX_SECONDS: accepted duration. */
  minSeconds: number;
  maxSeconds: number;
  /** Accepted input sample rates (Hz); the MP3 is always 44.1 kHz. */
  minSampleRate: number;
  maxSampleRate: number;
  /** Accepted input channel count: 1 stays mono, 2 stays stereo, 3..maxChannels are downmixed to stereo. */
  maxChannels: number;
  /** SILENCE_LUFS: an input whose integrated loudness is at or below this is refused as silent. */
  silenceLufs: number;
  /** WAVEFORM_PEAKS: number of waveform peaks. */
  waveformPeaks: number;
  /**
   * Room left under the true-peak ceiling before encoding, for the peaks MP3 encoding adds. Only costs loudness
   * when the limiter is needed anyway; the delivered file is measured and re-encoded if it still exceeds.
   */
  encodeHeadroomDb: number;
  /**
   * Loudness the MP3 encoder is expected to take away, added to the pre-encode aim. LAME's quantiser rounds
   * magnitudes down (0.4–0.5 LU at 128 kbps on any material, measured on this build) and drops noise-like content
   * in the top bands (more on bright material). The delivered file is measured and re-encoded if it still misses.
   */
  encodeLossLu: number;
  /**
   * Loudness the Vorbis encoder is expected to take away. It keeps loudness within 0.1 LU on any material
   * (measured on this build), so the Ogg is encoded from the MP3's pre-encode signal with a trim of
   * `oggEncodeLossLu − encodeLossLu` dB. The delivered Ogg is measured and re-encoded if it still misses.
   */
  oggEncodeLossLu: number;
  /** Upper bound on MP3 encodes per file (the first one, plus corrections after measuring the result). */
  maxEncodes: number;
  /**
   * Measure mono as dual mono (EBU Tech 3341: +3 dB, as it sounds on two speakers). Off by default so a mono
   * loop measures TARGET_LUFS with a plain `ebur128` meter, which is how the contract checks it.
   */
  monoAsDualMono: boolean;
}

export const DEFAULT_AUDIO_OPTIONS: Readonly<AudioOptions> = Object.freeze({
  targetLufs: -14,
  truePeakDb: -1,
  loudnessToleranceLu: 0.5,
  mp3BitrateKbps: 128,
  mp3Quality: 5,
  minSeconds: 0.5,
  maxSeconds: 120,
  minSampleRate: 8000,
  maxSampleRate: 192000,
  maxChannels: 8,
  silenceLufs: -70,
  waveformPeaks: 800,
  encodeHeadroomDb: 1,
  encodeLossLu: 0.5,
  oggEncodeLossLu: 0,
  maxEncodes: 3,
  monoAsDualMono: false,
});

// LAME's constant bitrates for 44.1 kHz (MPEG-1 Layer III).
const MP3_BITRATES = [32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320];

/** Defaults filled in and every value checked; a nonsense value is a programming or config error (throws). */
export function resolveAudioOptions(partial: Partial<AudioOptions> = {}): AudioOptions {
  const o: AudioOptions = { ...DEFAULT_AUDIO_OPTIONS, ...stripUndefined(partial) };
  const bad = (name: keyof AudioOptions, why: string) => {
    throw new RangeError(`audio option ${name}=${JSON.stringify(o[name])}: ${why}`);
  };
  if (!(o.targetLufs >= -40 && o.targetLufs <= -5)) bad("targetLufs", "expected -40..-5 LUFS");
  if (!(o.truePeakDb >= -9 && o.truePeakDb <= 0)) bad("truePeakDb", "expected -9..0 dBTP");
  if (!(o.loudnessToleranceLu >= 0.1 && o.loudnessToleranceLu <= 3)) bad("loudnessToleranceLu", "expected 0.1..3 LU");
  if (!MP3_BITRATES.includes(o.mp3BitrateKbps)) bad("mp3BitrateKbps", `expected one of ${MP3_BITRATES.join(", ")}`);
  if (!(Number.isInteger(o.mp3Quality) && o.mp3Quality >= 0 && o.mp3Quality <= 9)) bad("mp3Quality", "expected an integer 0..9");
  if (!(o.minSeconds > 0 && o.maxSeconds > o.minSeconds && o.maxSeconds <= 3600)) {
    bad("maxSeconds", "expected 0 < min < max <= 3600");
  }
  if (!(o.minSampleRate >= 1000 && o.maxSampleRate >= o.minSampleRate && o.maxSampleRate <= 768000)) {
    bad("maxSampleRate", "expected 1000 <= min <= max <= 768000");
  }
  if (!(Number.isInteger(o.maxChannels) && o.maxChannels >= 1 && o.maxChannels <= 32)) bad("maxChannels", "expected an integer 1..32");
  if (!(o.silenceLufs >= -120 && o.silenceLufs < o.targetLufs)) bad("silenceLufs", "expected -120 LUFS up to the target");
  if (!(Number.isInteger(o.waveformPeaks) && o.waveformPeaks >= 16 && o.waveformPeaks <= 10000)) bad("waveformPeaks", "expected an integer 16..10000");
  if (!(o.encodeHeadroomDb >= 0 && o.encodeHeadroomDb <= 6)) bad("encodeHeadroomDb", "expected 0..6 dB");
  if (!(o.encodeLossLu >= 0 && o.encodeLossLu <= 3)) bad("encodeLossLu", "expected 0..3 LU");
  if (!(o.oggEncodeLossLu >= 0 && o.oggEncodeLossLu <= 3)) bad("oggEncodeLossLu", "expected 0..3 LU");
  if (!(Number.isInteger(o.maxEncodes) && o.maxEncodes >= 1 && o.maxEncodes <= 5)) bad("maxEncodes", "expected an integer 1..5");
  return o;
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
